/* tests/unit/alsref.h — what test_als.c (explicit ALS, the loss, the shared workspace) and
 * test_ials.c (implicit ALS) both use: a random problem with an empty, a one-entry and a long
 * row, slow references in double (the Gram, Gaussian elimination, the confidence) and a
 * tolerance check.  Header-only; include after cmocka.h. */
#ifndef HR_TESTS_ALSREF_H
#define HR_TESTS_ALSREF_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/rng.h"
#include "solvers/als.h"

/* The solvers take a float G; the Gram is accumulated in double (hr_als_compute_gram). */
static inline void gram_float(const float *Y, uint64_t n, int k, float *G, hr_als_stats *st)
{
    double *Gd = malloc(sizeof *Gd * (size_t)k * (size_t)k);
    hr_als_compute_gram(Y, n, k, Gd, st);
    for (size_t q = 0; q < (size_t)k * (size_t)k; q++) G[q] = (float)Gd[q];
    free(Gd);
}

#define SEED 20261123u
#define LONG_ROW 1100 /* > the smallest gather buffer (512 rows): exercises the chunked paths */

typedef struct prob {
    int k;
    uint64_t nrows, ncols, nnz;
    uint64_t *rowptr;
    uint32_t *col;
    float *val, *Y, *ybias, *X, *xbias;
    float mu;
    hr_als_rows rows;
} prob;

/* Row 0 is empty, row 1 has one entry, row 2 is LONG_ROW entries long (columns repeat, which the
 * math allows), the rest have 0..2k+4.  Explicit values are ratings 1..5, implicit ones counts
 * 0..9 (0 gives confidence exactly 1). */
static inline prob make_prob(int k, uint64_t nrows, uint64_t ncols, int implicit, uint64_t seed)
{
    prob p = { .k = k, .nrows = nrows, .ncols = ncols, .mu = implicit ? 0.0f : 3.0f };
    hr_rng r = hr_rng_stream(seed, 99, (uint64_t)k);
    p.rowptr = hr_malloc(sizeof(uint64_t) * (nrows + 1));
    p.rowptr[0] = 0;
    for (uint64_t u = 0; u < nrows; u++) {
        uint64_t n = u == 0 ? 0 : u == 1 ? 1 : u == 2 ? LONG_ROW : hr_rng_below(&r, (uint64_t)(2 * k + 5));
        p.rowptr[u + 1] = p.rowptr[u] + n;
    }
    p.nnz = p.rowptr[nrows];
    p.col = hr_malloc(sizeof(uint32_t) * (p.nnz + 1));
    p.val = hr_malloc(sizeof(float) * (p.nnz + 1));
    for (uint64_t e = 0; e < p.nnz; e++) {
        p.col[e] = (uint32_t)hr_rng_below(&r, ncols);
        p.val[e] = implicit ? (float)hr_rng_below(&r, 10) : (float)(1 + hr_rng_below(&r, 5));
    }
    p.Y = hr_malloc(sizeof(float) * ncols * (uint64_t)k);
    p.ybias = hr_malloc(sizeof(float) * ncols);
    for (uint64_t i = 0; i < ncols * (uint64_t)k; i++) p.Y[i] = (float)(0.3 * hr_rng_normal(&r));
    for (uint64_t i = 0; i < ncols; i++) p.ybias[i] = (float)(0.2 * hr_rng_normal(&r));
    p.X = hr_malloc(sizeof(float) * nrows * (uint64_t)k);
    p.xbias = hr_malloc(sizeof(float) * nrows);
    for (uint64_t i = 0; i < nrows * (uint64_t)k; i++) p.X[i] = (float)(0.1 * hr_rng_normal(&r));
    for (uint64_t i = 0; i < nrows; i++) p.xbias[i] = 0.5f;
    p.rows = (hr_als_rows){ nrows, ncols, p.rowptr, p.col, p.val, NULL };
    return p;
}

static inline void free_prob(prob *p)
{
    hr_free(p->rowptr);
    hr_free(p->col);
    hr_free(p->val);
    hr_free(p->Y);
    hr_free(p->ybias);
    hr_free(p->X);
    hr_free(p->xbias);
}

/* Solves the n x n system A x = b (row-major, destroyed) by Gaussian elimination with partial
 * pivoting, in double.  Returns 0, or -1 if a pivot is exactly zero. */
static inline int gauss_solve(double *A, double *b, int n)
{
    for (int c = 0; c < n; c++) {
        int piv = c;
        for (int i = c + 1; i < n; i++)
            if (fabs(A[i * n + c]) > fabs(A[piv * n + c])) piv = i;
        if (A[piv * n + c] == 0.0) return -1;
        if (piv != c) {
            for (int j = 0; j < n; j++) {
                double t = A[c * n + j];
                A[c * n + j] = A[piv * n + j];
                A[piv * n + j] = t;
            }
            double t = b[c];
            b[c] = b[piv];
            b[piv] = t;
        }
        for (int i = c + 1; i < n; i++) {
            double f = A[i * n + c] / A[c * n + c];
            for (int j = c; j < n; j++) A[i * n + j] -= f * A[c * n + j];
            b[i] -= f * b[c];
        }
    }
    for (int i = n - 1; i >= 0; i--) {
        double s = b[i];
        for (int j = i + 1; j < n; j++) s -= A[i * n + j] * b[j];
        b[i] = s / A[i * n + i];
    }
    return 0;
}

/* The confidence of value v: 1 + alpha v, or 1 + alpha log(1 + v / epsilon). */
static inline double conf(const hr_als_opts *o, float v)
{
    return 1.0 + (o->epsilon > 0.0f ? (double)o->alpha * log1p((double)v / o->epsilon) : (double)o->alpha * v);
}

static inline void ref_gram(const float *Y, uint64_t n, int k, double *G)
{
    memset(G, 0, sizeof(double) * (size_t)k * k);
    for (uint64_t r = 0; r < n; r++)
        for (int i = 0; i < k; i++)
            for (int j = 0; j < k; j++) G[i * k + j] += (double)Y[r * k + i] * Y[r * k + j];
}

/* |got - want|_inf <= rtol * max(1, |want|_inf) */
static inline void assert_close(const float *got, const double *want, int n, double rtol, const char *what, uint64_t u)
{
    double scale = 1.0, worst = 0.0;
    for (int i = 0; i < n; i++) scale = fmax(scale, fabs(want[i]));
    for (int i = 0; i < n; i++) worst = fmax(worst, fabs((double)got[i] - want[i]));
    if (!(worst <= rtol * scale)) {
        print_error("%s row %llu: max error %.3g > %.3g (scale %.3g)\n", what, (unsigned long long)u, worst,
                    rtol * scale, scale);
        fail();
    }
}

static const int KS[] = { 1, 3, 8, 17 };
#define NK ((int)(sizeof KS / sizeof KS[0]))

/* The implicit tests' options: lambda 0.5, alpha 2, the given solver. */
static inline hr_als_opts implicit_opts(int k, hr_als_solver solver)
{
    hr_als_opts o;
    hr_als_default_opts(&o);
    o.k = k;
    o.lambda = 0.5f;
    o.alpha = 2.0f;
    o.solver = solver;
    return o;
}

#endif
