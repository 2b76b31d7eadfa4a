/* solvers/drift.h — the measures of `hpcrec drift` (jobs/drift.c): distribution shift between
 * two histograms, overlap of two ranked lists, and the fixed bucketings both runs share.
 *
 * Histograms are counts over the same buckets (the bucket edges below never depend on the data,
 * so a profile written today compares with one written a year ago).  Lists are ids in rank
 * order without repeats.  Pure functions: no MPI, no files, no allocation beyond the noted. */
#ifndef HR_SOLVERS_DRIFT_H
#define HR_SOLVERS_DRIFT_H

#include <stddef.h>
#include <stdint.h>

/* Buckets of a positive count c (item popularity, user activity): floor(log2 c), c = 0 -> 0;
 * HR_DRIFT_LOG_BUCKETS of them (bucket b holds 2^b .. 2^(b+1) - 1). */
#define HR_DRIFT_LOG_BUCKETS 32
int hr_drift_log_bucket(uint64_t c);

/* Buckets of an interaction value: (-inf,0] (0,1] (1,2] (2,3] (3,4] (4,5] (5,10] (10,100]
 * (100,1000] (1000,inf) — rating scales fall one star per bucket, counts by decade. */
#define HR_DRIFT_VALUE_BUCKETS 10
int hr_drift_value_bucket(double v);
extern const double HR_DRIFT_VALUE_EDGES[HR_DRIFT_VALUE_BUCKETS - 1];   /* upper edges, inclusive */

/* Population stability index of two histograms (counts) over n buckets:
 *   PSI = sum_b (q_b - p_b) ln(q_b / p_b),  p = base / sum(base), q = new / sum(new),
 * where a share of 0 is replaced by eps (HR_DRIFT_EPS) so an emptied or new bucket counts
 * (heavily) instead of dividing by zero.  0 for identical shares; 0 when both are empty. */
#define HR_DRIFT_EPS 1e-4
double hr_drift_psi(const uint64_t *base, const uint64_t *cur, int n);
/* Jensen-Shannon divergence of the two shares in bits (log base 2): in [0, 1], 0 iff equal,
 * 1 for disjoint supports.  0 when either histogram is empty. */
double hr_drift_jsd(const uint64_t *base, const uint64_t *cur, int n);

/* |A ∩ B| / |A ∪ B| of two id lists (any order, no repeats); 1 when both are empty.
 * O(na * nb) — lists are top-N lists (N of tens to hundreds). */
double hr_drift_jaccard(const uint64_t *a, uint32_t na, const uint64_t *b, uint32_t nb);
/* Rank-biased overlap (Webber, Moffat, Zobel 2010), the extrapolated RBO_ext of eq. (32) for
 * lists of lengths s <= l (either order): 1 for identical lists, 0 for disjoint ones, top
 * ranks weighted by p^(d-1).  p in (0, 1).  1 when both are empty, 0 when one is. */
double hr_drift_rbo(const uint64_t *a, uint32_t na, const uint64_t *b, uint32_t nb, double p);

/* Share of all interactions on the head: the ceil(fraction * n) items with the most
 * interactions (at least one item).  0 when there are none.  Allocates n entries. */
double hr_drift_head_share(const uint64_t *counts, uint64_t n, double fraction);

/* A value in [0, 1] as an exact integer of HR_DRIFT_FIX_BITS fractional bits, so per-user
 * values summed over ranks in any order give the same total (integer addition is exact). */
#define HR_DRIFT_FIX_BITS 40
uint64_t hr_drift_fix(double v);
double hr_drift_unfix(uint64_t sum);

#endif
