#include "partition/inplace.h"

#include <string.h>

#include "core/alloc.h"
#include "partition/block.h"

/* RANGE: triples per range, 1 MiB (the L2 size of the machines measured).  In a 20M-row ingest
 * on 2 ranks, 32K gave the least flag + range time of 8K, 16K and 32K (fewer ranges make the
 * flag pass cheaper, larger ones the counting passes slower); both sorts take 0.7 s against
 * 1.4 s for the former flag into at most 256 ranges + two counting passes per range. */
enum { RANGE = 32768, MAX_BUCKETS = 1 << 16, DIGIT = 11, AHEAD = 8 };

/* One range, sorted by (row, other) with stable LSD counting passes: the other gid in digits
 * of at most DIGIT bits, then the row inside the range (< 2^shift rows); then the ties by
 * hr_triples_fix_ties.  Every pass runs over the range and its scratch with counters of
 * 2^DIGIT entries, where one counting pass over the whole gid range would keep a counter per
 * gid (3 MB at 400k users) and miss the cache on every triple. */
static void radix_range(hr_triple *t, hr_triple *tmp, uint64_t m, const uint32_t *local, uint32_t row0, unsigned shift,
                        uint32_t nother, int by_item)
{
    unsigned obits = 0;
    while (obits < 32 && ((uint64_t)1 << obits) < nother) obits++;
    unsigned nd = (obits + DIGIT - 1) / DIGIT, dbits = nd ? (obits + nd - 1) / nd : 0;
    /* the row digit may exceed DIGIT bits when a range is many rows (few triples per row) */
    uint64_t *cnt = hr_malloc(((size_t)1 << (dbits > shift ? dbits : shift)) * sizeof *cnt);
    hr_triple *src = t, *dst = tmp;
    for (unsigned d = 0; d <= nd; d++) {
        int rowpass = d == nd;
        if (rowpass && shift == 0) break;   /* one row per range: the gid passes sorted it */
        unsigned bits = rowpass ? shift : dbits, sh = rowpass ? 0 : d * dbits;
        uint32_t mask = bits >= 32 ? UINT32_MAX : ((uint32_t)1 << bits) - 1;
        size_t nc = (size_t)1 << bits;
#define KEY(x) (rowpass ? local[by_item ? (x).i : (x).u] - row0 : ((by_item ? (x).u : (x).i) >> sh) & mask)
        memset(cnt, 0, nc * sizeof *cnt);
        for (uint64_t k = 0; k < m; k++) cnt[KEY(src[k])]++;
        uint64_t sum = 0;
        for (size_t c = 0; c < nc; c++) {
            uint64_t x = cnt[c];
            cnt[c] = sum;
            sum += x;
        }
        for (uint64_t k = 0; k < m; k++) dst[cnt[KEY(src[k])]++] = src[k];
#undef KEY
        hr_triple *x = src;
        src = dst;
        dst = x;
    }
    hr_free(cnt);
    if (src != t) memcpy(t, src, m * sizeof *t);
    hr_triples_fix_ties(t, m, by_item);
}

/* Rows go to NB ranges (bucket = row >> shift, monotone in the row) by an American flag
 * pass: the write positions of a few thousand buckets stay in cache, so the pass streams
 * instead of chasing one cache miss per triple as a pass over every row would.  Each range
 * (about RANGE triples) is then sorted by radix_range with a scratch array of the largest
 * range's size. */
void hr_triples_sort_inplace(hr_triple *t, uint64_t n, const hr_part *p, int rank, int by_item)
{
    uint64_t rows = p->rows[rank];
    if (n == 0) return;
    /* ranges of 2^shift rows (a shift, not a division, per triple) of about RANGE triples */
    uint64_t want = n / RANGE;
    if (want < 1) want = 1;
    if (want > MAX_BUCKETS) want = MAX_BUCKETS;
    unsigned shift = 0;
    while (((rows + ((uint64_t)1 << shift) - 1) >> shift) > want) shift++;
    uint64_t nb = (rows + ((uint64_t)1 << shift) - 1) >> shift;
    if (nb < 1) nb = 1;
    const uint32_t *local = p->local;
#define BUCKET(x) (local[by_item ? (x).i : (x).u] >> shift)
/* A bucket's head advances through memory one triple per swap, but a few hundred heads at
 * once are more streams than the hardware prefetcher follows: every second swap (64-byte
 * lines, 32-byte triples) would wait for memory.  Asking for the line AHEAD triples past the
 * head before each swap took both sorts of a 10M-triple rank from 0.55 to 0.35 s. */
#define PREFETCH_AHEAD(k) (next[k] + AHEAD < n ? __builtin_prefetch(&t[next[k] + AHEAD], 1) : (void)0)
    uint64_t *next = hr_calloc(nb + 1, sizeof *next), *end = hr_malloc((nb + 1) * sizeof *end);
    for (uint64_t k = 0; k < n; k++) next[BUCKET(t[k]) + 1]++;
    for (uint64_t b = 0; b < nb; b++) next[b + 1] += next[b];
    uint64_t big = 0;
    for (uint64_t b = 0; b < nb; b++) {
        end[b] = next[b + 1];
        if (end[b] - next[b] > big) big = end[b] - next[b];
    }
    if (nb > 1)
        for (uint64_t b = 0; b < nb; b++) {
            /* four heads of bucket b at once (as ska_sort does): their buckets and the swaps
             * into the destination heads are independent, so four cache misses overlap where
             * the one-element cycle below waits for each in turn.  Lane j's swap only touches
             * its own slot, a slot before it (next[b] <= that slot) or another bucket's head:
             * the lanes after it still hold the elements whose buckets were taken. */
            while (end[b] - next[b] >= 4) {
                uint64_t h = next[b];
                uint32_t k0 = BUCKET(t[h]), k1 = BUCKET(t[h + 1]), k2 = BUCKET(t[h + 2]), k3 = BUCKET(t[h + 3]);
                hr_triple y;
#define SWAP_TO(j, k) (PREFETCH_AHEAD(k), y = t[h + (j)], t[h + (j)] = t[next[k]], t[next[k]++] = y)
                SWAP_TO(0, k0);
                SWAP_TO(1, k1);
                SWAP_TO(2, k2);
                SWAP_TO(3, k3);
#undef SWAP_TO
            }
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
        }
#undef PREFETCH_AHEAD
#undef BUCKET
    hr_triple *tmp = hr_malloc(big * sizeof *tmp);
    uint32_t nother = 0;   /* bound on the other side's gids, for the digits */
    for (uint64_t k = 0; k < n; k++) {
        uint32_t o = by_item ? t[k].u : t[k].i;
        if (o >= nother) nother = o + 1;
    }
    for (uint64_t b = 0, a = 0; b < nb; b++) {
        uint64_t m = end[b] - a;
        if (m > 1) radix_range(t + a, tmp, m, local, (uint32_t)(b << shift), shift, nother, by_item);
        a = end[b];
    }
    hr_free(tmp);
    hr_free(next);
    hr_free(end);
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
