/* solvers/als_gather.h — private to the ALS solvers: how far ahead every gather asks for rows
 * (HR_ALS_PREFETCH), and the steps of the explicit gather, which hr_als_gather_explicit
 * (solvers/als_simd.c) runs on its own and hr_als_gather_gram_explicit (solvers/als_gram.c)
 * inside the Gram's first pass.
 *
 * The gather is bound by its random rows of Y: on this machine kind a profile (perf, cpu-clock)
 * puts 40% of the fused loop's samples on a prefetch that waits for a free miss buffer.  So its
 * loop is kept to the loads, stores and FMAs the rows need: the columns are checked before the
 * loop (gather_checked), not per entry, and the callers pass k as a constant where it is one
 * (k a multiple of 16), so that the prefetches of a row unroll and its address is a shift.
 * Measured, one core, gather + Gram of k = 64 over 400-entry rows of a 51 MB Y, old and new in
 * one process, row by row in turns: 6.6-7.0% less time than the loop that tested every entry
 * and prefetched in a loop over a variable k. */
#ifndef HR_SOLVERS_ALS_GATHER_H
#define HR_SOLVERS_ALS_GATHER_H

#include <stddef.h>
#include <stdint.h>

/* How many entries ahead the gathers ask for a row of Y (here, and hr_als_prefetch in
 * solvers/als_kern.h).  32, not 8: random 256-byte rows of a 51 MB Y came 1.1-2.5 ns an entry
 * faster (one core, of 11-17), and explicit ALS at k = 64 gathered 13% faster (0.33 -> 0.29 s an
 * iteration, A/B in turns): more rows in flight, and the first rows of the next row arrive
 * during this row's Gram.  48 and 64 were 2-7% slower (gather + Gram, one core, paired). */
#define HR_ALS_PREFETCH 32

/* The first of entries 0..n-1 whose column is >= ncols, or n: 16 columns at a time, without a
 * branch among them. */
static inline uint64_t gather_checked(const uint32_t *col, uint64_t n, uint64_t ncols)
{
    if (ncols > UINT32_MAX) return n;
    const uint32_t nc = (uint32_t)ncols;
    uint64_t j = 0;
    for (; j + 16 <= n; j += 16) {
        uint32_t bad = 0;
        for (int q = 0; q < 16; q++) bad |= (uint32_t)(col[j + q] >= nc);
        if (bad) break;
    }
    for (; j < n; j++)
        if (col[j] >= nc) return j;
    return n;
}

/* The lines of the row HR_ALS_PREFETCH entries ahead of entry j, and its bias (ahead: how many
 * entries past n col holds).  A column out of range asks for row 0 instead: a prefetch is only
 * a hint, and the entry is reported when its chunk is checked. */
static inline __attribute__((always_inline)) void gather_ahead(const float *Y, int k, uint64_t ncols, const uint32_t *col,
                                                                uint64_t j, uint64_t n, uint64_t ahead, const float *ybias)
{
    if (j + HR_ALS_PREFETCH >= n + ahead) return;
    uint32_t c = col[j + HR_ALS_PREFETCH];
    c = c < ncols ? c : 0;
    const float *row = Y + (size_t)c * k;
    /* every line (fewer were slower), into L1 (locality 3: in ten runs of the measurement above,
     * the gather + Gram took 0-5% less time, 3% on average, than with locality 2) */
#pragma GCC unroll 8
    for (int q = 0; q < k; q += 16) __builtin_prefetch(row + q, 0, 3);
    if (ybias) __builtin_prefetch(ybias + c, 0, 2);
}

/* Entry j, its column checked by gather_checked: the row ahead asked for, then its target t_j
 * into wt[j].  Returns its row of Y.  always_inline, so that a caller's constant k and NULL
 * ybias fold in. */
static inline __attribute__((always_inline)) const float *gather_entry(const float *Y, int k, uint64_t ncols,
                                                                       const uint32_t *col, const float *val, uint64_t j,
                                                                       uint64_t n, uint64_t ahead, const float *ybias,
                                                                       float mu, float *wt)
{
    gather_ahead(Y, k, ncols, col, j, n, ahead, ybias);
    const uint32_t c = col[j];
    wt[j] = val[j] - mu - (ybias ? ybias[c] : 0.0f);
    return Y + (size_t)c * k;
}

#endif
