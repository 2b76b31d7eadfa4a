#include "partition/inplace.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "partition/block.h"

/* (other gid, ts, value, src, line): hr_triples_sort's order inside one row */
#define TRIPLE_CMP(name, other)                                              \
    static int name(const void *pa, const void *pb)                          \
    {                                                                        \
        const hr_triple *a = pa, *b = pb;                                    \
        if (a->other != b->other) return a->other < b->other ? -1 : 1;       \
        if (a->ts != b->ts) return a->ts < b->ts ? -1 : 1;                   \
        if (a->v != b->v) return a->v < b->v ? -1 : 1;                       \
        if (a->src != b->src) return a->src < b->src ? -1 : 1;               \
        if (a->line != b->line) return a->line < b->line ? -1 : 1;           \
        return 0;                                                            \
    }
TRIPLE_CMP(cmp_by_user, i)   /* rows are users: the other side is the item */
TRIPLE_CMP(cmp_by_item, u)

void hr_triples_sort_inplace(hr_triple *t, uint64_t n, const hr_part *p, int rank, int by_item)
{
    uint64_t rows = p->rows[rank];
    uint64_t *next = hr_calloc(2 * (rows + 1), sizeof *next), *end = next + rows + 1;
    const uint32_t *local = p->local;
    for (uint64_t k = 0; k < n; k++) next[local[by_item ? t[k].i : t[k].u] + 1]++;
    for (uint64_t r = 0; r < rows; r++) next[r + 1] += next[r];
    for (uint64_t r = 0; r < rows; r++) end[r] = next[r + 1];
    /* American flag: each triple is picked up once and dropped straight into its row */
    for (uint64_t r = 0; r < rows; r++)
        while (next[r] < end[r]) {
            hr_triple x = t[next[r]];
            uint32_t k = local[by_item ? x.i : x.u];
            while (k != r) {
                hr_triple y = t[next[k]];
                t[next[k]++] = x;
                x = y;
                k = local[by_item ? x.i : x.u];
            }
            t[next[r]++] = x;
        }
    int (*cmp)(const void *, const void *) = by_item ? cmp_by_item : cmp_by_user;
    for (uint64_t r = 0, a = 0; r < rows; r++) {
        uint64_t b = end[r], len = b - a;
        if (len > 24) {
            qsort(t + a, len, sizeof *t, cmp);
        } else {
            for (uint64_t x = a + 1; x < b; x++) {
                hr_triple v = t[x];
                uint64_t y = x;
                while (y > a && cmp(&t[y - 1], &v) > 0) {
                    t[y] = t[y - 1];
                    y--;
                }
                t[y] = v;
            }
        }
        a = b;
    }
    hr_free(next);
}

int hr_part_shuffle_sort(hr_comm *c, const hr_part *p, int by_item, hr_triple **t, uint64_t *n)
{
    int P = hr_comm_size(c), me = hr_comm_rank(c);
    if (P > 2) {
        int rc = hr_part_shuffle(c, p, by_item, t, n);
        if (rc < 0) return rc;
        hr_triples_sort_move(t, *n, p, me, by_item);
        return 0;
    }
    if (P == 2) {
        /* this rank's triples to the front, the other rank's behind them (order within each
         * part does not matter: the sort below gives a total order) */
        hr_triple *a = *t;
        uint64_t lo = 0, hi = *n;
        while (lo < hi) {
            if (p->owner[by_item ? a[lo].i : a[lo].u] == (uint32_t)me) {
                lo++;
            } else {
                hr_triple x = a[--hi];
                a[hi] = a[lo];
                a[lo] = x;
            }
        }
        uint64_t cnt[2] = { 0, 0 }, got[2];
        cnt[1 - me] = *n - lo;
        cnt[me] = 0;
        int rc = hr_comm_alltoall_u64(c, cnt, got);
        if (rc < 0) return rc;
        uint64_t out = *n - lo, in = got[1 - me], most = out > in ? out : in;
        if (lo + most > *n) *t = a = hr_realloc(a, (lo + most) * sizeof *a);
        rc = hr_comm_pair_swap(c, a + lo, out * sizeof *a, in * sizeof *a);
        if (rc < 0) return rc;
        *n = lo + in;
    }
    hr_triples_sort_inplace(*t, *n, p, me, by_item);
    return 0;
}
