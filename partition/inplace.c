#include "partition/inplace.h"

#include <string.h>

#include "core/alloc.h"
#include "partition/block.h"

/* Rows go to NB ranges (bucket = row >> shift, monotone in the row) by an American flag
 * pass: with few buckets the write positions stay in cache, so the pass streams instead of
 * chasing one cache miss per triple as a pass over every row would.  Each range (a few MB)
 * is then sorted by hr_triples_sort_scratch with a scratch array of the largest range's size. */
void hr_triples_sort_inplace(hr_triple *t, uint64_t n, const hr_part *p, int rank, int by_item)
{
    uint64_t rows = p->rows[rank];
    if (n == 0) return;
    /* ranges of 2^shift rows (a shift, not a division, per triple): about n / 2^17 of them
     * (triples of some 4 MB each), at most 256 */
    uint64_t want = n >> 17;
    if (want < 1) want = 1;
    if (want > 256) want = 256;
    unsigned shift = 0;
    while (((rows + ((uint64_t)1 << shift) - 1) >> shift) > want) shift++;
    uint64_t nb = (rows + ((uint64_t)1 << shift) - 1) >> shift;
    if (nb < 1) nb = 1;
    const uint32_t *local = p->local;
#define BUCKET(x) (local[by_item ? (x).i : (x).u] >> shift)
    uint64_t next[257] = { 0 }, end[257];
    for (uint64_t k = 0; k < n; k++) next[BUCKET(t[k]) + 1]++;
    for (uint64_t b = 0; b < nb; b++) next[b + 1] += next[b];
    uint64_t big = 0;
    for (uint64_t b = 0; b < nb; b++) {
        end[b] = next[b + 1];
        if (end[b] - next[b] > big) big = end[b] - next[b];
    }
    if (nb > 1)
        for (uint64_t b = 0; b < nb; b++)
            while (next[b] < end[b]) {
                hr_triple x = t[next[b]];
                uint32_t k = BUCKET(x);
                while (k != b) {
                    hr_triple y = t[next[k]];
                    t[next[k]++] = x;
                    x = y;
                    k = BUCKET(x);
                }
                t[next[b]++] = x;
            }
#undef BUCKET
    hr_triple *tmp = hr_malloc(big * sizeof *tmp);
    for (uint64_t b = 0, a = 0; b < nb; b++) {
        uint64_t m = end[b] - a;
        if (m > 1 && hr_triples_sort_scratch(t + a, tmp, m, p, rank, by_item) == tmp) memcpy(t + a, tmp, m * sizeof *t);
        a = end[b];
    }
    hr_free(tmp);
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
