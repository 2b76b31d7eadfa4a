/* solvers/als_kern.h — private to solvers/als*.c and solvers/ials.c: the workspace layout and the
 * small vector kernels the ALS solvers share.  Not part of the public API.
 *
 * Why hand-written kernels at all: the k-length vector operations (a dot, an axpy, a scaled
 * copy) run millions of times on vectors of ~64 floats, where a BLAS call costs more than the
 * arithmetic.  They are written in 8-wide blocks with independent accumulators so that GCC's
 * default -O2 vectoriser (cost model "very cheap": only loops whose trip count is a known
 * multiple of the vector width) turns each block into SIMD code, and so the summation order is
 * fixed by the source, not by the compiler (determinism). */
#ifndef HR_SOLVERS_ALS_KERN_H
#define HR_SOLVERS_ALS_KERN_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "solvers/als.h"
#include "solvers/als_gather.h"
#include "solvers/als_simd.h"
#include "solvers/blas.h"

/* Rows per hr_als_gemm_g call where many rows' G x are needed at once (the loss). */
#define HR_ALS_BATCH 64
/* Rows a long row is streamed in when it does not fit the gather buffer (per chunk). */
#define HR_ALS_CHUNK 512

struct hr_als_work {
    int      k, kp;       /* kp = hr_als_kpad(k): stride of gathered rows and CG vectors */
    uint64_t gather_rows; /* capacity of gather / wt / tmp in rows (>= HR_ALS_CHUNK) */
    float   *gather;      /* gather_rows x kp: gathered rows of Y (columns k..kp-1 stay 0) */
    float   *wt;          /* gather_rows: per gathered entry, c - 1 (implicit CG) */
    float   *tmp, *tmp2;  /* gather_rows each: products Y_u v, weights */
    float   *chunk;       /* HR_ALS_CHUNK x kp: streaming area for rows longer than gather_rows */
    float   *chunk_wt;    /* HR_ALS_CHUNK */
    float   *chunk_tmp;   /* HR_ALS_CHUNK */
    float   *mat;         /* (kp + 2)^2: one Gram / normal matrix */
    float   *vec;         /* kp + 2 */
    float   *sy, *ty;     /* kp each: border sums of explicit rows (sum y, sum t y) */
    float   *greg;        /* kp x kp: G + lambda I (implicit), zeros in columns k..kp-1 */
    float   *gcg;         /* k x hr_als_ldg(k): the same for CG's products (hr_als_gemm_g's stride) */
    float   *batch;       /* tri(k + 2) x HR_ALS_LANES: the batched Cholesky (k <= HR_ALS_BATCH_MAX_K) */
    float   *slots;       /* HR_ALS_LANES x hr_als_slot_stride(kp): a batch's Gram matrices (idem) */
    float   *slotv;       /* 2 HR_ALS_LANES x kp: their vectors (explicit: sum y, sum t y; implicit: rhs) */
    float   *invd;        /* (k + 2) x HR_ALS_LANES */
    float   *cg_p;        /* 2 x kp: the CG row's x and direction p (zero-padded) */
    float   *cg_r, *cg_ap; /* kp each: its residual and A p */
    int      wn, wld;     /* explicit rows of at most wn ratings take the Woodbury form (als.c); wld = kpad(wn) */
    float   *wslots;      /* HR_ALS_LANES x hr_als_slot_stride(wld): their n x n systems (k <= HR_ALS_BATCH_MAX_K) */
    float   *wrhs;        /* HR_ALS_LANES x wld: their targets */
    float   *wrows;       /* HR_ALS_LANES x wn x kp: their gathered rows, kept until the batch is solved */
    float   *wtr;         /* k x wld: one row's gathered rows transposed */
    int      owned;       /* 1 when hr_als_create_work allocated it */
};

/* Floats from one batch slot to the next: kp x kp and 16 more.  kp x kp alone is a multiple of
 * 4 KiB at kp = 32, 64, ..., so the 8 slots that hr_als_pack_lanes reads side by side would
 * share one set of the L1 cache (measured at k = 64: a pack took 5.8 us, 4.2 us with the 16). */
static inline size_t hr_als_slot_stride(int kp) { return (size_t)kp * (size_t)kp + 16; }
static inline float *hr_als_slot_mat(hr_als_work *w, int b)
{
    return w->slots + (size_t)b * hr_als_slot_stride(w->kp);
}

/* sum a[j] * b[j], j < n, in a fixed order: 8 interleaved partial sums, then a fixed tree. */
static inline float hr_als_dot(const float *restrict a, const float *restrict b, int n)
{
    float acc[8] = { 0, 0, 0, 0, 0, 0, 0, 0 };
    int j = 0;
    for (; j + 8 <= n; j += 8)
        for (int q = 0; q < 8; q++) acc[q] += a[j + q] * b[j + q];
    float tail = 0.0f;
    for (; j < n; j++) tail += a[j] * b[j];
    return (((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]))) + tail;
}

/* y += a * x */
static inline void hr_als_axpy(float a, const float *restrict x, float *restrict y, int n)
{
    int j = 0;
    for (; j + 8 <= n; j += 8)
        for (int q = 0; q < 8; q++) y[j + q] += a * x[j + q];
    for (; j < n; j++) y[j] += a * x[j];
}

/* y = x + b * y   (the CG direction update p = r + beta p) */
static inline void hr_als_xpby(const float *restrict x, float b, float *restrict y, int n)
{
    int j = 0;
    for (; j + 8 <= n; j += 8)
        for (int q = 0; q < 8; q++) y[j + q] = x[j + q] + b * y[j + q];
    for (; j < n; j++) y[j] = x[j] + b * y[j];
}

/* y = a * x */
static inline void hr_als_scale_copy(float a, const float *restrict x, float *restrict y, int n)
{
    int j = 0;
    for (; j + 8 <= n; j += 8)
        for (int q = 0; q < 8; q++) y[j + q] = a * x[j + q];
    for (; j < n; j++) y[j] = a * x[j];
}

/* Random rows of Y come from DRAM once Y outgrows the cache, and a loop that loads one row per
 * entry then stalls on every load (measured: 70% of the implicit loss time sat on that load).
 * So loops over entries ask for the row HR_ALS_PREFETCH (als_gather.h) entries ahead (across row
 * boundaries, up to `end`, the last entry of the call), with its element of `side` (a per-row
 * array of Y's side read with the row, the explicit biases; may be NULL).  Out-of-range columns
 * are skipped here and reported by the caller when it reaches them.
 * always_inline: the function has no effect GCC counts (a prefetch is none), so GCC 12 marks it
 * const and deletes every call it does not inline early, prefetches and all; without the
 * attribute no caller had a single prefetch instruction. */
static inline __attribute__((always_inline)) void hr_als_prefetch(const hr_als_rows *R, const float *Y,
                                                                  const float *side, uint64_t e, uint64_t end, int k)
{
    if (e + HR_ALS_PREFETCH >= end) return;
    uint32_t col = R->col[e + HR_ALS_PREFETCH];
    if (col >= R->ncols) return;
    const float *row = Y + (size_t)col * k;
    for (int j = 0; j < k; j += 16) __builtin_prefetch(row + j, 0, 2); /* one 64-byte line each */
    if (side) __builtin_prefetch(side + col, 0, 2);
}

/* The same for Y plain (tail NULL: hr_als_prefetch) or split (hr_als_solve_implicit_split): the
 * row's ky floats at Y + col ky (ky / 16 whole lines) and the line of its tail.  Same
 * always_inline reason. */
static inline __attribute__((always_inline)) void hr_als_prefetch_split(const hr_als_rows *R, const float *Y,
                                                                        const float *tail, int ky, uint64_t e,
                                                                        uint64_t end, int k)
{
    if (!tail) {
        hr_als_prefetch(R, Y, NULL, e, end, k);
        return;
    }
    if (e + HR_ALS_PREFETCH >= end) return;
    uint32_t col = R->col[e + HR_ALS_PREFETCH];
    if (col >= R->ncols) return;
    const float *row = Y + (size_t)col * ky;
    for (int j = 0; j < ky; j += 16) __builtin_prefetch(row + j, 0, 2);
    __builtin_prefetch(tail + (size_t)col * (size_t)(k - ky), 0, 2);
}

/* Row col of Y into dst[0..k): plain (tail NULL: ld k) or split (see hr_als_solve_implicit_split). */
static inline void hr_als_yrow(float *dst, const float *Y, const float *tail, int ky, int k, uint32_t col)
{
    if (!tail) {
        memcpy(dst, Y + (size_t)col * k, sizeof(float) * (size_t)k);
        return;
    }
    memcpy(dst, Y + (size_t)col * ky, sizeof(float) * (size_t)ky);
    memcpy(dst + ky, tail + (size_t)col * (size_t)(k - ky), sizeof(float) * (size_t)(k - ky));
}

/* Solves L^T x = z in place (z becomes x) for the lower factor L of a column-major matrix with
 * leading dimension ld, order n.  Dot form: column j below the diagonal is contiguous. */
static inline void hr_als_solve_lt(const float *L, int ld, int n, float *z)
{
    for (int j = n - 1; j >= 0; j--) {
        const float *col = L + (size_t)j * ld;
        z[j] = (z[j] - hr_als_dot(col + j + 1, z + j + 1, n - 1 - j)) / col[j];
    }
}

/* Solves L z = b in place (axpy form, column-oriented for the same contiguity). */
static inline void hr_als_solve_l(const float *L, int ld, int n, float *b)
{
    for (int j = 0; j < n; j++) {
        const float *col = L + (size_t)j * ld;
        b[j] /= col[j];
        hr_als_axpy(-b[j], col + j + 1, b + j + 1, n - 1 - j);
    }
}

/* The diagonal shift of Cholesky retry `attempt` (1..HR_ALS_MAX_RETRIES): 1e-6 * 10^(attempt-1)
 * times the trace (or 1 when the trace is not positive, e.g. an all-zero matrix). */
static inline float hr_als_retry_shift(int attempt, double trace)
{
    double s = 1e-6;
    for (int a = 1; a < attempt; a++) s *= 10.0;
    return (float)(s * (trace > 0.0 ? trace : 1.0));
}

/* Factors the leading n x n block of a column-major matrix (ld) with spotrf ("L").  Returns 0 or
 * LAPACK's info (> 0: not positive definite at that order). */
static inline int hr_als_potrf(float *a, int ld, int n)
{
    hr_blas_int nn = n, lda = ld, info = 0;
    spotrf_("L", &nn, a, &lda, &info, 1);
    return info;
}

/* 1 if all n values are finite. */
static inline int hr_als_all_finite(const float *x, int n)
{
    float acc = 0.0f;
    for (int j = 0; j < n; j++) acc += x[j] * 0.0f; /* NaN/Inf propagate, finite gives 0 */
    return acc == 0.0f;
}

#endif
