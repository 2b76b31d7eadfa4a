/* solvers/kmeans.h — the steps of a k-means whose result does not depend on the rank count.
 *
 * jobs/ runs the loop (jobs/index_build.c): each rank assigns its rows (hr_km_assign), adds
 * them into fixed-point sums (hr_km_accumulate), the sums and counts are all-reduced, and every
 * rank computes the same new centroids (hr_km_update).  Three details make the centroids and the
 * final assignment bit-identical on 1, 2, 3 ... ranks:
 *   - Assignment is an SGEMM of rows against centroids, and OpenBLAS may round a row's dot
 *     products differently by the row's position in the call.  So each row has a global
 *     position t (its item id, or its rank in the training sample), sits at slot t mod
 *     HR_KM_WINDOW of a zero-padded window of HR_KM_WINDOW rows aligned on t, and centroids are
 *     taken in fixed chunks of HR_KM_CHUNK: a row's distances are the same whichever rank holds
 *     it.  Ties go to the lower centroid id.
 *   - Sums are fixed-point integers (units of 2^-e, hr_km_fixed_exponent): integer addition is
 *     exact, so the all-reduced sums do not depend on the order or the split of the rows (a
 *     float or double sum would).  Every term is below 2^30 and there are fewer than 2^32 rows,
 *     so an int64 never overflows; the resolution is 2^-30 of the largest coordinate.
 *   - Seeds and the training sample come from (seed, item id) (hr_km_priority), never from a
 *     rank-local counter.
 * Empty lists are re-seeded by splitting the largest list (as Faiss's Clustering.cpp does, but
 * deterministically: the largest count, lowest id on ties).
 *
 * Layout: rows and centroids are row-major float32 with d columns.  Limits: nlist and row counts
 * below 2^32; d below 2^16.  Nothing here allocates except hr_km_work_new. */
#ifndef HR_SOLVERS_KMEANS_H
#define HR_SOLVERS_KMEANS_H

#include <stddef.h>
#include <stdint.h>

#define HR_KM_WINDOW 256   /* rows per SGEMM, aligned on the global position */
#define HR_KM_CHUNK 1024   /* centroids per SGEMM */

/* Scratch for hr_km_assign: one window and one score tile. */
typedef struct hr_km_work {
    float *win;   /* HR_KM_WINDOW x d */
    float *S;     /* HR_KM_WINDOW x HR_KM_CHUNK */
    int d;
} hr_km_work;
void hr_km_work_init(hr_km_work *w, int d);
void hr_km_work_free(hr_km_work *w);

/* hn[c] = |C_c|^2 / 2, accumulated in double. */
void hr_km_half_norms(const float *C, uint32_t nlist, int d, float *hn);
/* Nearest centroid of rows X[0..n) (row x has global position t0 + x): assign[x] =
 * argmin_c hn[c] - X_x . C_c, which is the L2-nearest centroid (|X_x|^2 is constant per row);
 * ties to the lower c.  dist (may be NULL) gets that minimum. */
void hr_km_assign(const float *X, uint64_t t0, uint64_t n, int d, const float *C, const float *hn, uint32_t nlist,
                  uint32_t *assign, float *dist, hr_km_work *w);

/* Fixed-point exponent e for coordinates of absolute value at most maxabs: terms |x| 2^e < 2^30. */
int hr_km_fixed_exponent(double maxabs);
/* sums[c * d + j] += round(X_x[j] * 2^e), counts[c] += 1 for each row x, c = assign[x]. */
void hr_km_accumulate(const float *X, uint64_t n, int d, const uint32_t *assign, int e, int64_t *sums, int64_t *counts);
/* New centroids C = sums / counts (in double, then float).  A list with count 0 takes a copy of
 * the largest list's centroid and the two are pushed apart by a relative 1/1024 (alternate
 * signs per coordinate); the counts used for later splits are halved.  Returns the number of
 * lists re-seeded.  counts is read-only. */
uint32_t hr_km_update(const int64_t *sums, const int64_t *counts, uint32_t nlist, int d, int e, float *C);

/* Pseudo-random 64-bit priority of an item for a purpose (HR_KM_SEEDS: the nlist items of lowest
 * priority seed the centroids; HR_KM_SAMPLE: items below a threshold train them). */
enum { HR_KM_SEEDS = 1, HR_KM_SAMPLE = 2 };
uint64_t hr_km_priority(uint64_t seed, int purpose, uint64_t item);

#endif
