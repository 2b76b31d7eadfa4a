#include "partition/block.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"

void hr_block_free(hr_block *b)
{
    if (!b) return;
    hr_free(b->gid);
    hr_free(b->ptr);
    hr_free(b->idx);
    hr_free(b->val);
    hr_free(b->ts);
    memset(b, 0, sizeof *b);
}

static inline int tcmp(const hr_triple *a, const hr_triple *b, int by_item)
{
    uint32_t x = by_item ? a->u : a->i, y = by_item ? b->u : b->i;
    if (x != y) return x < y ? -1 : 1;
    if (a->ts != b->ts) return a->ts < b->ts ? -1 : 1;
    if (a->v != b->v) return a->v < b->v ? -1 : 1;
    if (a->src != b->src) return a->src < b->src ? -1 : 1;
    if (a->line != b->line) return a->line < b->line ? -1 : 1;
    return 0;
}

/* Runs of one (row, other) pair, rare outside dirty data, into (ts, value, src, line) order by
 * insertion sort. */
void hr_triples_fix_ties(hr_triple *t, uint64_t n, int by_item)
{
    for (uint64_t a = 0; a < n;) {
        uint64_t b = a + 1;
        while (b < n && t[b].u == t[a].u && t[b].i == t[a].i) b++;
        for (uint64_t x = a + 1; x < b; x++) {
            hr_triple v = t[x];
            uint64_t y = x;
            while (y > a && tcmp(&t[y - 1], &v, by_item) > 0) {
                t[y] = t[y - 1];
                y--;
            }
            t[y] = v;
        }
        a = b;
    }
}

/* Two stable counting-sort passes (by the other gid, then by local row) give (row, other)
 * order in O(n + rows + n_other) with no comparisons; only runs of the same (row, other) pair,
 * rare outside dirty data, are then put in (ts, value, src, line) order by insertion sort.
 * Sorts from t with tmp as scratch; returns the array holding the result (t or tmp). */
hr_triple *hr_triples_sort_scratch(hr_triple *t, hr_triple *tmp, uint64_t n, const hr_part *p, int rank, int by_item)
{
    uint64_t rows = p->rows[rank], nother = 0;
    for (uint64_t k = 0; k < n; k++) {
        uint32_t o = by_item ? t[k].u : t[k].i;
        if ((uint64_t)o + 1 > nother) nother = (uint64_t)o + 1;
    }
    uint64_t ncnt = (rows > nother ? rows : nother) + 1;
    uint64_t *cnt = hr_malloc(ncnt * sizeof *cnt);
    /* pass 1: by other gid, t -> tmp.  Triples that arrive in that order already (a by-item
     * shuffle of by-user blocks under a balanced partition: each source's users are one
     * ascending range) skip it: pass 2 then reads t itself and the result lands in tmp. */
    int sorted = 1;
    for (uint64_t k = 1; k < n && sorted; k++) sorted = (by_item ? t[k - 1].u <= t[k].u : t[k - 1].i <= t[k].i);
    hr_triple *src = t, *dst = tmp;
    if (!sorted) {
        memset(cnt, 0, (nother + 1) * sizeof *cnt);
        for (uint64_t k = 0; k < n; k++) cnt[(by_item ? t[k].u : t[k].i) + 1]++;
        for (uint64_t x = 0; x < nother; x++) cnt[x + 1] += cnt[x];
        for (uint64_t k = 0; k < n; k++) tmp[cnt[by_item ? t[k].u : t[k].i]++] = t[k];
        src = tmp;
        dst = t;
    }
    /* pass 2: by local row, src -> dst */
    memset(cnt, 0, (rows + 1) * sizeof *cnt);
    for (uint64_t k = 0; k < n; k++) cnt[p->local[by_item ? src[k].i : src[k].u] + 1]++;
    for (uint64_t r = 0; r < rows; r++) cnt[r + 1] += cnt[r];
    for (uint64_t k = 0; k < n; k++) dst[cnt[p->local[by_item ? src[k].i : src[k].u]]++] = src[k];
    hr_free(cnt);
    t = dst;
    hr_triples_fix_ties(t, n, by_item);
    return dst;
}

void hr_triples_sort(hr_triple *t, uint64_t n, const hr_part *p, int rank, int by_item)
{
    hr_triple *tmp = hr_malloc((n ? n : 1) * sizeof *tmp);
    if (hr_triples_sort_scratch(t, tmp, n, p, rank, by_item) == tmp && n) memcpy(t, tmp, n * sizeof *t);
    hr_free(tmp);
}

void hr_triples_sort_move(hr_triple **t, uint64_t n, const hr_part *p, int rank, int by_item)
{
    hr_triple *tmp = hr_malloc((n ? n : 1) * sizeof *tmp);
    if (hr_triples_sort_scratch(*t, tmp, n, p, rank, by_item) == tmp) {
        hr_free(*t);
        *t = tmp;
    } else {
        hr_free(tmp);
    }
}

void hr_block_from_triples(hr_block *b, const hr_triple *t, uint64_t n, const uint8_t *keep,
                           const hr_part *p, int rank, int by_item)
{
    memset(b, 0, sizeof *b);
    uint64_t rows = p->rows[rank], nnz = 0;
    for (uint64_t k = 0; k < n; k++) nnz += !keep || keep[k];
    b->nrows = rows;
    b->nnz = nnz;
    b->gid = hr_part_owned(p, rank);
    b->ptr = hr_calloc(rows + 1, sizeof *b->ptr);
    b->idx = hr_malloc((nnz ? nnz : 1) * sizeof *b->idx);
    b->val = hr_malloc((nnz ? nnz : 1) * sizeof *b->val);
    b->ts = hr_malloc((nnz ? nnz : 1) * sizeof *b->ts);
    uint64_t e = 0;
    for (uint64_t k = 0; k < n; k++) {
        if (keep && !keep[k]) continue;
        uint32_t row = p->local[by_item ? t[k].i : t[k].u];
        b->ptr[row + 1]++;
        b->idx[e] = by_item ? t[k].u : t[k].i;
        b->val[e] = t[k].v;
        b->ts[e] = t[k].ts;
        e++;
    }
    for (uint64_t r = 0; r < rows; r++) b->ptr[r + 1] += b->ptr[r];
}

void hr_block_add_rows(hr_block *b, const uint32_t *gids, uint64_t nrows)
{
    uint64_t n = b->nrows + nrows;
    b->gid = hr_realloc(b->gid, (n ? n : 1) * sizeof *b->gid);
    b->ptr = hr_realloc(b->ptr, (n + 1) * sizeof *b->ptr);
    for (uint64_t r = 0; r < nrows; r++) {
        b->gid[b->nrows + r] = gids[r];
        b->ptr[b->nrows + r + 1] = b->nnz;
    }
    b->nrows = n;
}

hr_triple *hr_block_to_triples(const hr_block *b, int by_item, uint64_t *n)
{
    hr_triple *t = hr_malloc((b->nnz ? b->nnz : 1) * sizeof *t);
    for (uint64_t r = 0; r < b->nrows; r++)
        for (uint64_t e = b->ptr[r]; e < b->ptr[r + 1]; e++) {
            hr_triple x = { 0 };
            x.u = by_item ? b->idx[e] : b->gid[r];
            x.i = by_item ? b->gid[r] : b->idx[e];
            x.v = b->val[e];
            x.ts = b->ts[e];
            t[e] = x;
        }
    *n = b->nnz;
    return t;
}

int64_t hr_block_find(const hr_block *b, uint64_t row, uint32_t other)
{
    uint64_t lo = b->ptr[row], hi = b->ptr[row + 1];
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (b->idx[mid] < other) lo = mid + 1;
        else hi = mid;
    }
    return lo < b->ptr[row + 1] && b->idx[lo] == other ? (int64_t)lo : -1;
}
