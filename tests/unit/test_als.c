/* tests/unit/test_als.c — solvers/als.h against slow references: every row's normal equations
 * built naively in double and solved by Gaussian elimination with partial pivoting (explicit
 * ALS-WR with biases, implicit Cholesky, implicit CG run to convergence), the Gram partial, the
 * loss parts (the implicit one against the dense sum over every (u, i) cell), the diagonal retry
 * on singular systems, bad input, workspace sizing and bit-identical reruns. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/rng.h"
#include "solvers/als.h"
#include "solvers/blas.h"

/* The solvers take a float G; the Gram is accumulated in double (hr_als_compute_gram). */
static void gram_float(const float *Y, uint64_t n, int k, float *G, hr_als_stats *st)
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
static prob make_prob(int k, uint64_t nrows, uint64_t ncols, int implicit, uint64_t seed)
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

static void free_prob(prob *p)
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
static int gauss_solve(double *A, double *b, int n)
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

/* Normal equations of explicit row u in double: unknowns [x, b] (m = k + with_bias). */
static void ref_explicit_system(const prob *p, uint64_t u, float lambda, int with_bias, double *M, double *rhs)
{
    const int k = p->k, m = k + with_bias;
    memset(M, 0, sizeof(double) * (size_t)m * m);
    memset(rhs, 0, sizeof(double) * (size_t)m);
    double a[64];
    for (uint64_t e = p->rowptr[u]; e < p->rowptr[u + 1]; e++) {
        const float *y = p->Y + (size_t)p->col[e] * k;
        for (int j = 0; j < k; j++) a[j] = y[j];
        if (with_bias) a[k] = 1.0;
        double t = (double)p->val[e] - p->mu - (with_bias ? p->ybias[p->col[e]] : 0.0);
        for (int i = 0; i < m; i++) {
            rhs[i] += a[i] * t;
            for (int j = 0; j < m; j++) M[i * m + j] += a[i] * a[j];
        }
    }
    double n = (double)(p->rowptr[u + 1] - p->rowptr[u]);
    for (int i = 0; i < m; i++) M[i * m + i] += (double)lambda * n;
}

/* Implicit system of row u: (G + lambda I + sum (c-1) y y^T) x = sum c y, G over all of Y. */
static double conf(const hr_als_opts *o, float v)
{
    return 1.0 + (o->epsilon > 0.0f ? (double)o->alpha * log1p((double)v / o->epsilon) : (double)o->alpha * v);
}

static void ref_gram(const float *Y, uint64_t n, int k, double *G)
{
    memset(G, 0, sizeof(double) * (size_t)k * k);
    for (uint64_t r = 0; r < n; r++)
        for (int i = 0; i < k; i++)
            for (int j = 0; j < k; j++) G[i * k + j] += (double)Y[r * k + i] * Y[r * k + j];
}

static void ref_implicit_system(const prob *p, uint64_t u, const hr_als_opts *o, const double *G, double *M,
                                double *rhs)
{
    const int k = p->k;
    memcpy(M, G, sizeof(double) * (size_t)k * k);
    for (int i = 0; i < k; i++) M[i * k + i] += o->lambda;
    memset(rhs, 0, sizeof(double) * (size_t)k);
    for (uint64_t e = p->rowptr[u]; e < p->rowptr[u + 1]; e++) {
        if (p->val[e] == 0.0f) continue; /* unobserved: p = 0, c = 1, as every cell off the data */
        const float *y = p->Y + (size_t)p->col[e] * k;
        double c = conf(o, p->val[e]);
        for (int i = 0; i < k; i++) {
            rhs[i] += c * y[i];
            for (int j = 0; j < k; j++) M[i * k + j] += (c - 1.0) * y[i] * y[j];
        }
    }
}

/* |got - want|_inf <= rtol * max(1, |want|_inf) */
static void assert_close(const float *got, const double *want, int n, double rtol, const char *what, uint64_t u)
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

static void check_explicit(int k, int with_bias, uint64_t hint)
{
    prob p = make_prob(k, 60, 40, 0, SEED);
    hr_als_opts o;
    hr_als_default_opts(&o);
    o.k = k;
    o.lambda = 0.1f;
    hr_als_work *w = hr_als_create_work(k, hint);
    assert_non_null(w);
    hr_als_stats st = { 0 };
    hr_error err = { 0 };
    int rc = hr_als_solve_explicit(&p.rows, p.Y, with_bias ? p.ybias : NULL, p.mu, &o, p.X,
                                   with_bias ? p.xbias : NULL, w, &st, &err);
    if (rc) print_error("%s\n", err.msg);
    assert_int_equal(rc, 0);
    assert_int_equal(st.retries, 0);
    assert_int_equal(st.rows, p.nrows);
    uint64_t nonempty = 0;
    for (uint64_t u = 0; u < p.nrows; u++) nonempty += p.rowptr[u + 1] > p.rowptr[u];
    /* one symmetric rank-1 update per rating (k^2) and one Cholesky per row (k^3 / 3) */
    assert_true(fabs(st.flops - ((double)p.nnz * k * k + nonempty * (double)k * k * k / 3.0)) < 1e-6 * st.flops);
    const int m = k + with_bias;
    double *M = hr_malloc(sizeof(double) * (size_t)m * m), *b = hr_malloc(sizeof(double) * (size_t)m);
    float *got = hr_malloc(sizeof(float) * (size_t)m);
    for (uint64_t u = 0; u < p.nrows; u++) {
        memcpy(got, p.X + u * (uint64_t)k, sizeof(float) * (size_t)k);
        if (with_bias) got[k] = p.xbias[u];
        if (p.rowptr[u + 1] == p.rowptr[u]) { /* no ratings: x = 0, b = 0 exactly */
            for (int i = 0; i < m; i++) assert_true(got[i] == 0.0f);
            continue;
        }
        ref_explicit_system(&p, u, o.lambda, with_bias, M, b);
        assert_int_equal(gauss_solve(M, b, m), 0);
        assert_close(got, b, m, 2e-4, "explicit", u);
    }
    hr_free(M);
    hr_free(b);
    hr_free(got);
    hr_als_free_work(w);
    free_prob(&p);
}

static void test_explicit_vs_reference(void **state)
{
    (void)state;
    for (int i = 0; i < NK; i++) {
        check_explicit(KS[i], 1, 1);        /* smallest gather buffer: the long row is chunked */
        check_explicit(KS[i], 1, LONG_ROW); /* whole rows gathered */
        check_explicit(KS[i], 0, 1);        /* plain ALS-WR, no biases */
    }
}

/* The implicit tests' options: lambda 0.5, alpha 2, the given solver. */
static hr_als_opts implicit_opts(int k, hr_als_solver solver)
{
    hr_als_opts o;
    hr_als_default_opts(&o);
    o.k = k;
    o.lambda = 0.5f;
    o.alpha = 2.0f;
    o.solver = solver;
    return o;
}

static void check_implicit(int k, hr_als_solver solver, int steps, float epsilon, uint64_t hint, double rtol)
{
    prob p = make_prob(k, 150, 50, 1, SEED + 1);
    hr_als_opts o = implicit_opts(k, solver);
    o.epsilon = epsilon;
    o.cg_steps = steps;
    float *G = hr_malloc(sizeof(float) * (size_t)k * k);
    gram_float(p.Y, p.ncols, k, G, NULL);
    hr_als_work *w = hr_als_create_work(k, hint);
    hr_als_stats st = { 0 };
    hr_error err = { 0 };
    int rc = hr_als_solve_implicit(&p.rows, p.Y, G, &o, p.X, w, &st, &err);
    if (rc) print_error("%s\n", err.msg);
    assert_int_equal(rc, 0);
    assert_int_equal(st.retries, 0);
    double *Gd = hr_malloc(sizeof(double) * (size_t)k * k), *M = hr_malloc(sizeof(double) * (size_t)k * k);
    double *b = hr_malloc(sizeof(double) * (size_t)k);
    ref_gram(p.Y, p.ncols, k, Gd);
    uint64_t nonempty = 0, nobs = 0, dense = 0, dense_nobs = 0;
    for (uint64_t u = 0; u < p.nrows; u++) {
        const float *x = p.X + u * (uint64_t)k;
        uint64_t n = 0;
        for (uint64_t e = p.rowptr[u]; e < p.rowptr[u + 1]; e++) n += p.val[e] != 0.0f;
        if (n == 0) { /* nothing observed (no entries, or only zeros): x = 0 exactly */
            for (int i = 0; i < k; i++) assert_true(x[i] == 0.0f);
            continue;
        }
        if (solver == HR_ALS_CG && p.rowptr[u + 1] - p.rowptr[u] > hr_als_cg_dense_len(k)) {
            dense++;
            dense_nobs += n;
        } else {
            nonempty++;
            nobs += n;
        }
        ref_implicit_system(&p, u, &o, Gd, M, b);
        assert_int_equal(gauss_solve(M, b, k), 0);
        assert_close(x, b, k, rtol, solver == HR_ALS_CG ? "implicit cg" : "implicit cholesky", u);
    }
    double want = solver == HR_ALS_CG ? (steps + 1.0) * (2.0 * nonempty * k * k + 4.0 * nobs * k) +
                                            (double)dense_nobs * k * k + (steps + 1.0) * 2.0 * dense * k * k
                                      : (double)nobs * k * k + nonempty * (double)k * k * k / 3.0;
    if (solver == HR_ALS_CG && k == 130) assert_int_equal(dense, 1); /* row 2: LONG_ROW > 963 */
    assert_true(fabs(st.flops - want) < 1e-6 * want);
    hr_free(Gd);
    hr_free(M);
    hr_free(b);
    hr_free(G);
    hr_als_free_work(w);
    free_prob(&p);
}

static void test_implicit_cholesky_vs_reference(void **state)
{
    (void)state;
    for (int i = 0; i < NK; i++) {
        check_implicit(KS[i], HR_ALS_CHOLESKY, 3, 0.0f, 1, 2e-4);
        check_implicit(KS[i], HR_ALS_CHOLESKY, 3, 0.5f, LONG_ROW, 2e-4); /* log confidence */
    }
}

static void test_implicit_cg_converges(void **state)
{
    (void)state;
    /* Enough steps for exact convergence (k steps in exact arithmetic; float needs a few more).
     * hint 1: the long row is streamed in chunks at every step; LONG_ROW: all rows resident. */
    for (int i = 0; i < NK; i++) {
        check_implicit(KS[i], HR_ALS_CG, 3 * KS[i] + 10, 0.0f, 1, 1e-3);
        check_implicit(KS[i], HR_ALS_CG, 3 * KS[i] + 10, 0.5f, LONG_ROW, 1e-3);
    }
    /* k = 130: LONG_ROW entries exceed hr_als_cg_dense_len (963), so row 2 forms its A.  Its
     * system is harder: float CG stalls at 2.3e-3 from the double solution (2.7e-3 without
     * forming A, measured), hence the wider tolerance. */
    check_implicit(130, HR_ALS_CG, 200, 0.0f, 1, 5e-3);
    check_implicit(130, HR_ALS_CG, 200, 0.5f, LONG_ROW, 5e-3);
}

/* The dense path runs the same CG as the others: after 1, 2, 3 steps from the warm start its
 * row matches CG in double on the reference system, and its bits do not depend on the
 * workspace (Gram in chunks of 512 or of 963 rows) nor on the rows solved with it. */
static void test_implicit_cg_dense_row(void **state)
{
    (void)state;
    const int k = 130;
    prob p = make_prob(k, 6, 70, 1, SEED + 12);
    assert_true(p.rowptr[3] - p.rowptr[2] > hr_als_cg_dense_len(k));
    hr_als_opts o = implicit_opts(k, HR_ALS_CG);
    float *G = hr_malloc(sizeof(float) * (size_t)k * k), *X1 = hr_malloc(sizeof(float) * p.nrows * k);
    float *X2 = hr_malloc(sizeof(float) * p.nrows * k);
    double *Gd = hr_malloc(sizeof(double) * (size_t)k * k), *M = hr_malloc(sizeof(double) * (size_t)k * k);
    double *b = hr_malloc(sizeof(double) * k), *x = hr_malloc(sizeof(double) * k), *r = hr_malloc(sizeof(double) * k);
    double *pv = hr_malloc(sizeof(double) * k), *ap = hr_malloc(sizeof(double) * k);
    gram_float(p.Y, p.ncols, k, G, NULL);
    ref_gram(p.Y, p.ncols, k, Gd);
    ref_implicit_system(&p, 2, &o, Gd, M, b);
    hr_als_work *small = hr_als_create_work(k, 1), *big = hr_als_create_work(k, LONG_ROW);
    for (int steps = 1; steps <= 3; steps++) {
        o.cg_steps = steps;
        memcpy(X1, p.X, sizeof(float) * p.nrows * k);
        memcpy(X2, p.X, sizeof(float) * p.nrows * k);
        assert_int_equal(hr_als_solve_implicit(&p.rows, p.Y, G, &o, X1, small, NULL, NULL), 0);
        hr_als_rows one = p.rows; /* row 2 alone */
        one.nrows = 1;
        one.rowptr = p.rowptr + 2;
        assert_int_equal(hr_als_solve_implicit(&one, p.Y, G, &o, X2 + 2 * k, big, NULL, NULL), 0);
        assert_memory_equal(X1 + 2 * k, X2 + 2 * k, sizeof(float) * k);
        /* CG in double from the same warm start */
        double rs = 0;
        for (int i = 0; i < k; i++) {
            x[i] = p.X[2 * k + i];
            double s = b[i];
            for (int j = 0; j < k; j++) s -= M[i * k + j] * p.X[2 * k + j];
            r[i] = pv[i] = s;
            rs += s * s;
        }
        for (int s = 0; s < steps; s++) {
            double pap = 0, rn = 0;
            for (int i = 0; i < k; i++) {
                ap[i] = 0;
                for (int j = 0; j < k; j++) ap[i] += M[i * k + j] * pv[j];
                pap += pv[i] * ap[i];
            }
            for (int i = 0; i < k; i++) {
                x[i] += rs / pap * pv[i];
                r[i] -= rs / pap * ap[i];
                rn += r[i] * r[i];
            }
            for (int i = 0; i < k; i++) pv[i] = r[i] + rn / rs * pv[i];
            rs = rn;
        }
        assert_close(X1 + 2 * k, x, k, 1e-3, "dense cg", 2);
    }
    hr_free(G);
    hr_free(X1);
    hr_free(X2);
    hr_free(Gd);
    hr_free(M);
    hr_free(b);
    hr_free(x);
    hr_free(r);
    hr_free(pv);
    hr_free(ap);
    hr_als_free_work(small);
    hr_als_free_work(big);
    free_prob(&p);
}

/* CG minimises the A-norm error over a growing Krylov space, so with 1, 2, 3, ... steps from the
 * same warm start the error sum_u (x_u - x*_u)^T A_u (x_u - x*_u) must fall at every step (x* and
 * A_u from the double reference). */
static void test_implicit_cg_steps_decrease_error(void **state)
{
    (void)state;
    const int k = 17;
    prob p = make_prob(k, 100, 50, 1, SEED + 2);
    hr_als_opts o = implicit_opts(k, HR_ALS_CG);
    float *G = hr_malloc(sizeof(float) * (size_t)k * k);
    float *Xs = hr_malloc(sizeof(float) * p.nrows * k);
    double *Gd = hr_malloc(sizeof(double) * (size_t)k * k);
    double *M = hr_malloc(sizeof(double) * p.nrows * k * k), *xs = hr_malloc(sizeof(double) * p.nrows * k);
    double *tmp = hr_malloc(sizeof(double) * (size_t)k * k);
    gram_float(p.Y, p.ncols, k, G, NULL);
    ref_gram(p.Y, p.ncols, k, Gd);
    for (uint64_t u = 0; u < p.nrows; u++) {
        ref_implicit_system(&p, u, &o, Gd, M + u * k * k, xs + u * k);
        memcpy(tmp, M + u * k * k, sizeof(double) * (size_t)k * k);
        assert_int_equal(gauss_solve(tmp, xs + u * k, k), 0);
    }
    hr_als_work *w = hr_als_create_work(k, 64);
    double prev = 0.0;
    for (int steps = 0; steps <= 6; steps++) {
        memcpy(Xs, p.X, sizeof(float) * p.nrows * k);
        o.cg_steps = steps ? steps : 1;
        if (steps) assert_int_equal(hr_als_solve_implicit(&p.rows, p.Y, G, &o, Xs, w, NULL, NULL), 0);
        double anorm = 0.0;
        for (uint64_t u = 0; u < p.nrows; u++) {
            if (p.rowptr[u + 1] == p.rowptr[u]) continue;
            const double *A = M + u * k * k;
            double e[17];
            for (int i = 0; i < k; i++) e[i] = Xs[u * k + i] - xs[u * k + i];
            for (int i = 0; i < k; i++)
                for (int j = 0; j < k; j++) anorm += e[i] * A[i * k + j] * e[j];
        }
        if (steps) {
            if (!(anorm < 0.8 * prev)) print_error("steps %d: A-norm error %g, before %g\n", steps, anorm, prev);
            assert_true(anorm < 0.8 * prev);
        }
        prev = anorm;
    }
    hr_free(G);
    hr_free(Xs);
    hr_free(Gd);
    hr_free(M);
    hr_free(xs);
    hr_free(tmp);
    hr_als_free_work(w);
    free_prob(&p);
}

static void test_gram_vs_naive(void **state)
{
    (void)state;
    for (int i = 0; i < NK; i++) {
        const int k = KS[i];
        prob p = make_prob(k, 3, 300, 1, SEED + 3);
        float *G = hr_malloc(sizeof(float) * (size_t)k * k);
        double *Gd = hr_malloc(sizeof(double) * (size_t)k * k);
        hr_als_stats st = { 0 };
        gram_float(p.Y, p.ncols, k, G, &st);
        ref_gram(p.Y, p.ncols, k, Gd);
        for (int a = 0; a < k; a++)
            for (int b = 0; b < k; b++) {
                assert_true(fabs(G[a * k + b] - Gd[a * k + b]) <= 1e-4 * (1.0 + fabs(Gd[a * k + b])));
                assert_true(G[a * k + b] == G[b * k + a]); /* exactly symmetric */
            }
        assert_true(st.flops == 300.0 * k * k);
        gram_float(p.Y, 0, k, G, NULL); /* an empty block gives 0 */
        for (int a = 0; a < k * k; a++) assert_true(G[a] == 0.0f);
        hr_free(G);
        hr_free(Gd);
        free_prob(&p);
    }
}

static void test_loss_vs_naive(void **state)
{
    (void)state;
    for (int i = 0; i < NK; i++) {
        const int k = KS[i];
        hr_als_opts o;
        hr_als_default_opts(&o);
        o.k = k;
        o.lambda = 0.3f;
        o.alpha = 1.5f;
        /* explicit */
        prob p = make_prob(k, 40, 30, 0, SEED + 4);
        double sse = 0, reg = 0, want_sse = 0, want_reg = 0;
        hr_error err = { 0 };
        assert_int_equal(hr_als_loss_explicit(&p.rows, p.Y, p.ybias, p.mu, p.X, p.xbias, &o, &sse, &reg, &err), 0);
        for (uint64_t u = 0; u < p.nrows; u++) {
            const float *x = p.X + u * k;
            double xx = (double)p.xbias[u] * p.xbias[u];
            for (int j = 0; j < k; j++) xx += (double)x[j] * x[j];
            want_reg += 0.3 * (double)(p.rowptr[u + 1] - p.rowptr[u]) * xx;
            for (uint64_t e = p.rowptr[u]; e < p.rowptr[u + 1]; e++) {
                double s = 0;
                for (int j = 0; j < k; j++) s += (double)x[j] * p.Y[(size_t)p.col[e] * k + j];
                double d = p.val[e] - p.mu - p.xbias[u] - p.ybias[p.col[e]] - s;
                want_sse += d * d;
            }
        }
        assert_true(fabs(sse - want_sse) <= 1e-5 * want_sse);
        assert_true(fabs(reg - want_reg) <= 1e-5 * want_reg);
        free_prob(&p);
        /* implicit, against the dense sum over every cell (duplicate entries of a cell do not
         * occur in real data, so build a problem without them: one entry per (u, i) at most) */
        for (int logc = 0; logc < 2; logc++) {
            o.epsilon = logc ? 0.7f : 0.0f;
            prob q = make_prob(k, 30, 25, 1, SEED + 5);
            uint64_t e2 = 0;
            for (uint64_t u = 0; u < q.nrows; u++) { /* keep the first entry of each column */
                uint64_t beg = q.rowptr[u], end = q.rowptr[u + 1];
                q.rowptr[u] = e2;
                for (uint64_t e = beg; e < end; e++) {
                    int dup = 0;
                    for (uint64_t f = q.rowptr[u]; f < e2; f++) dup |= q.col[f] == q.col[e];
                    if (!dup) {
                        q.col[e2] = q.col[e];
                        q.val[e2++] = q.val[e];
                    }
                }
            }
            q.rowptr[q.nrows] = e2;
            float *G = hr_malloc(sizeof(float) * (size_t)k * k);
            gram_float(q.Y, q.ncols, k, G, NULL);
            double data = 0, ireg = 0, want = 0, want_ireg = 0;
            assert_int_equal(hr_als_loss_implicit(&q.rows, q.Y, G, q.X, &o, &data, &ireg, &err), 0);
            double *cm = hr_malloc(sizeof(double) * q.ncols);
            for (uint64_t u = 0; u < q.nrows; u++) {
                const float *x = q.X + u * k;
                for (uint64_t c = 0; c < q.ncols; c++) cm[c] = -1.0; /* -1: unobserved */
                for (uint64_t e = q.rowptr[u]; e < q.rowptr[u + 1]; e++)
                    if (q.val[e] != 0.0f) cm[q.col[e]] = q.val[e]; /* a stored 0 is unobserved */
                for (uint64_t c = 0; c < q.ncols; c++) {
                    double s = 0;
                    for (int j = 0; j < k; j++) s += (double)x[j] * q.Y[c * k + j];
                    double cc = cm[c] < 0 ? 1.0 : conf(&o, (float)cm[c]), pp = cm[c] < 0 ? 0.0 : 1.0;
                    want += cc * (pp - s) * (pp - s);
                }
                for (int j = 0; j < k; j++) want_ireg += 0.3 * (double)x[j] * x[j];
            }
            assert_true(fabs(data - want) <= 1e-5 * want);
            assert_true(fabs(ireg - want_ireg) <= 1e-5 * want_ireg);
            assert_true(fabs(hr_als_reg_implicit(q.X, q.nrows, &o) - want_ireg) <= 1e-5 * want_ireg);
            hr_free(cm);
            hr_free(G);
            free_prob(&q);
        }
    }
}

/* lambda = 0 and two identical columns of Y: the normal matrix is exactly singular (integer data,
 * so the zero pivot is exact), spotrf fails, the retry adds 1e-6 * trace and succeeds. */
static void test_explicit_singular_retry(void **state)
{
    (void)state;
    const int k = 3;
    prob p = make_prob(k, 3, 4, 0, SEED + 6);
    const float Yv[4][3] = { { 1, 1, 2 }, { 1, 1, -1 }, { 1, 1, 3 }, { 1, 1, 0 } };
    memcpy(p.Y, Yv, sizeof Yv);
    uint64_t rp[4] = { 0, 4, 4, 5 };
    uint32_t cl[5] = { 0, 1, 2, 3, 1 };
    float vl[5] = { 4, 2, 5, 3, 1 };
    p.rows.rowptr = rp;
    p.rows.col = cl;
    p.rows.val = vl;
    p.rows.nrows = 3;
    p.mu = 0.0f;
    hr_als_opts o;
    hr_als_default_opts(&o);
    o.k = k;
    o.lambda = 0.0f;
    hr_als_work *w = hr_als_create_work(k, 4);
    hr_als_stats st = { 0 };
    hr_error err = { 0 };
    int rc = hr_als_solve_explicit(&p.rows, p.Y, NULL, 0.0f, &o, p.X, NULL, w, &st, &err);
    if (rc) print_error("%s\n", err.msg);
    assert_int_equal(rc, 0);
    assert_int_equal(st.retries, 2); /* row 0 (columns 0, 1 equal) and row 2 (one rating) once each */
    /* The system is singular, so float rounding amplified by 1 / shift moves x along the null
     * space (about 1e-2 here); what must hold: x solves the UNshifted normal equations (it is a
     * least-squares minimiser) and stays bounded (no blow-up along the null space). */
    prob q = p;
    q.rowptr = rp;
    q.col = cl;
    q.val = vl;
    for (uint64_t u = 0; u < 3; u += 2) {
        double M[9], b[3], res = 0, bmax = 0, xmax = 0;
        ref_explicit_system(&q, u, 0.0f, 0, M, b);
        const float *x = p.X + u * k;
        for (int i = 0; i < 3; i++) {
            double r = -b[i];
            for (int j = 0; j < 3; j++) r += M[i * 3 + j] * x[j];
            res = fmax(res, fabs(r));
            bmax = fmax(bmax, fabs(b[i]));
            xmax = fmax(xmax, fabs(x[i]));
        }
        assert_true(res <= 1e-3 * bmax);
        assert_true(xmax <= 2.0); /* the min-norm solutions are [1.4, 1.4, 0.7] and [1, 1, -1] / 3 */
    }
    for (int i = 0; i < k; i++) assert_true(p.X[k + i] == 0.0f); /* row 1 is empty */
    hr_als_free_work(w);
    free_prob(&p);
}

/* Implicit singular cases: Y == 0 with lambda = 0 (M = 0: every nonempty row retries once and
 * gets x = 0), and two equal columns with integer data (exact zero pivot). */
static void test_implicit_singular_retry(void **state)
{
    (void)state;
    const int k = 2;
    prob p = make_prob(k, 8, 4, 1, SEED + 7);
    const float Yv[4][2] = { { 1, 1 }, { 1, 1 }, { 1, 1 }, { 1, 1 } };
    memcpy(p.Y, Yv, sizeof Yv);
    uint64_t rp[2] = { 0, 1 };
    uint32_t cl[1] = { 2 };
    float vl[1] = { 12 }; /* c - 1 = 12: M = [[16,16],[16,16]] -> L11 = 4, pivot 16 - 4*4 = 0 */
    hr_als_rows rows = { 1, 4, rp, cl, vl, NULL };
    hr_als_opts o;
    hr_als_default_opts(&o);
    o.k = k;
    o.lambda = 0.0f;
    o.alpha = 1.0f;
    o.solver = HR_ALS_CHOLESKY;
    float G[4];
    gram_float(p.Y, 4, k, G, NULL);
    hr_als_work *w = hr_als_create_work(k, 1);
    hr_als_stats st = { 0 };
    hr_error err = { 0 };
    int rc = hr_als_solve_implicit(&rows, p.Y, G, &o, p.X, w, &st, &err);
    if (rc) print_error("%s\n", err.msg);
    assert_int_equal(rc, 0);
    assert_int_equal(st.retries, 1);
    /* M x = 13 [1, 1] with M = 16 [[1, 1], [1, 1]]: the determined part is x0 + x1 = 13 / 16; the
     * null direction [1, -1] only gets rounding noise amplified by 1 / shift (bounded). */
    assert_true(fabs(p.X[0] + p.X[1] - 13.0 / 16.0) < 1e-3);
    assert_true(fabs(p.X[0] - p.X[1]) < 0.2);

    memset(p.Y, 0, sizeof(float) * 4 * k);
    gram_float(p.Y, 4, k, G, NULL);
    memset(&st, 0, sizeof st);
    rc = hr_als_solve_implicit(&p.rows, p.Y, G, &o, p.X, w, &st, &err);
    assert_int_equal(rc, 0);
    uint64_t nonempty = 0;
    for (uint64_t u = 0; u < p.nrows; u++) nonempty += p.rowptr[u + 1] > p.rowptr[u];
    assert_int_equal(st.retries, nonempty);
    for (uint64_t i = 0; i < p.nrows * k; i++) assert_true(p.X[i] == 0.0f);
    hr_als_free_work(w);
    free_prob(&p);
}

/* The first row at or after `from` with an entry. */
static uint64_t nonempty_row(const prob *p, uint64_t from)
{
    while (p->rowptr[from + 1] == p->rowptr[from]) from++;
    return from;
}

static void test_bad_input(void **state)
{
    (void)state;
    const int k = 3;
    prob p = make_prob(k, 20, 6, 1, SEED + 8);
    const uint64_t r3 = nonempty_row(&p, 3), r4 = nonempty_row(&p, r3 + 1), r5 = nonempty_row(&p, r4 + 1);
    char name3[40], name4[40];
    snprintf(name3, sizeof name3, "local row %llu ", (unsigned long long)r3);
    snprintf(name4, sizeof name4, "local row %llu ", (unsigned long long)r4);
    hr_als_opts o;
    hr_als_default_opts(&o);
    o.k = k;
    float G[9];
    gram_float(p.Y, p.ncols, k, G, NULL);
    hr_als_work *w = hr_als_create_work(k, 8);
    hr_error err = { 0 };
    /* options */
    hr_als_opts bad = o;
    bad.k = 0;
    assert_int_equal(hr_als_check_opts(&bad, &err), HR_ERR_ARG);
    assert_non_null(strstr(err.msg, "k"));
    bad = o;
    bad.lambda = -1.0f;
    assert_int_equal(hr_als_check_opts(&bad, &err), HR_ERR_ARG);
    bad = o;
    bad.cg_steps = 0;
    assert_int_equal(hr_als_check_opts(&bad, &err), HR_ERR_ARG);
    bad = o;
    bad.k = 4; /* workspace made for 3 */
    assert_int_equal(hr_als_solve_implicit(&p.rows, p.Y, G, &bad, p.X, w, NULL, &err), HR_ERR_ARG);
    assert_null(hr_als_create_work(0, 1));
    assert_null(hr_als_create_work(HR_ALS_MAX_K + 1, 1));
    /* column out of range, in every entry point */
    p.col[p.rowptr[r3]] = (uint32_t)p.ncols;
    for (int s = 0; s < 2; s++) {
        o.solver = s ? HR_ALS_CG : HR_ALS_CHOLESKY;
        assert_int_equal(hr_als_solve_implicit(&p.rows, p.Y, G, &o, p.X, w, NULL, &err), HR_ERR_ARG);
        assert_non_null(strstr(err.msg, name3));
    }
    assert_int_equal(hr_als_solve_explicit(&p.rows, p.Y, p.ybias, 0, &o, p.X, p.xbias, w, NULL, &err), HR_ERR_ARG);
    assert_non_null(strstr(err.msg, name3));
    double a, b;
    assert_int_equal(hr_als_loss_explicit(&p.rows, p.Y, p.ybias, 0, p.X, p.xbias, &o, &a, &b, &err), HR_ERR_ARG);
    assert_int_equal(hr_als_loss_implicit(&p.rows, p.Y, G, p.X, &o, &a, &b, &err), HR_ERR_ARG);
    p.col[p.rowptr[r3]] = 0;
    /* negative implicit value */
    p.val[p.rowptr[r4]] = -1.0f;
    for (int s = 0; s < 2; s++) {
        o.solver = s ? HR_ALS_CG : HR_ALS_CHOLESKY;
        assert_int_equal(hr_als_solve_implicit(&p.rows, p.Y, G, &o, p.X, w, NULL, &err), HR_ERR_ARG);
        assert_non_null(strstr(err.msg, name4));
    }
    assert_int_equal(hr_als_loss_implicit(&p.rows, p.Y, G, p.X, &o, &a, &b, &err), HR_ERR_ARG);
    p.val[p.rowptr[r4]] = 1.0f;
    /* NaN in Y: a numeric failure naming a row, never a silent NaN model */
    p.Y[p.col[p.rowptr[r5]] * (uint64_t)k] = NAN;
    gram_float(p.Y, p.ncols, k, G, NULL); /* G is NaN too, as after a real reduction */
    for (int s = 0; s < 2; s++) {
        o.solver = s ? HR_ALS_CG : HR_ALS_CHOLESKY;
        assert_int_equal(hr_als_solve_implicit(&p.rows, p.Y, G, &o, p.X, w, NULL, &err), HR_ERR_NUMERIC);
        assert_non_null(strstr(err.msg, "local row"));
    }
    assert_int_equal(hr_als_solve_explicit(&p.rows, p.Y, p.ybias, 0, &o, p.X, p.xbias, w, NULL, &err),
                     HR_ERR_NUMERIC);
    hr_als_free_work(w);
    free_prob(&p);
}

/* A workspace laid out in a buffer of exactly the estimated size, misaligned on purpose, serves
 * every entry point (the ASan build turns any overrun into a failure); one byte less is refused. */
static void test_workspace_estimate(void **state)
{
    (void)state;
    for (int i = 0; i < NK; i++) {
        const int k = KS[i];
        for (uint64_t hint = 1; hint <= 4 * LONG_ROW; hint *= 7) {
            size_t n = hr_als_estimate_work(k, hint);
            assert_true(n > 0);
            char *buf = hr_malloc(n + 1);
            assert_null(hr_als_init_work(buf + 1, n - 1, k, hint));
            hr_als_work *w = hr_als_init_work(buf + 1, n, k, hint);
            assert_non_null(w);
            prob p = make_prob(k, 80, 30, 1, SEED + 9);
            hr_als_opts o;
            hr_als_default_opts(&o);
            o.k = k;
            float *G = hr_malloc(sizeof(float) * (size_t)k * k);
            gram_float(p.Y, p.ncols, k, G, NULL);
            o.solver = HR_ALS_CG;
            assert_int_equal(hr_als_solve_implicit(&p.rows, p.Y, G, &o, p.X, w, NULL, NULL), 0);
            o.solver = HR_ALS_CHOLESKY;
            assert_int_equal(hr_als_solve_implicit(&p.rows, p.Y, G, &o, p.X, w, NULL, NULL), 0);
            assert_int_equal(hr_als_solve_explicit(&p.rows, p.Y, p.ybias, 1.0f, &o, p.X, p.xbias, w, NULL, NULL), 0);
            hr_free(G);
            free_prob(&p);
            hr_free(buf);
        }
        /* bounded whatever the hint */
        assert_true(hr_als_estimate_work(k, UINT64_MAX) < (size_t)(2u << 20));
    }
    hr_als_free_work(NULL);
}

/* The same inputs give bit-identical outputs; solving the rows in two calls agrees to float
 * tolerance (batch boundaries move, nothing else). */
static void test_deterministic(void **state)
{
    (void)state;
    const int k = 17;
    prob p = make_prob(k, 200, 60, 1, SEED + 10);
    hr_als_opts o;
    hr_als_default_opts(&o);
    o.k = k;
    float *G = hr_malloc(sizeof(float) * (size_t)k * k);
    gram_float(p.Y, p.ncols, k, G, NULL);
    hr_als_work *w = hr_als_create_work(k, 40);
    size_t bytes = sizeof(float) * p.nrows * k;
    float *X0 = hr_malloc(bytes), *X1 = hr_malloc(bytes), *X2 = hr_malloc(bytes);
    for (int s = 0; s < 3; s++) {
        o.solver = s == 2 ? HR_ALS_CHOLESKY : HR_ALS_CG;
        memcpy(X1, p.X, bytes);
        memcpy(X2, p.X, bytes);
        if (s == 1) { /* explicit */
            float *b1 = hr_malloc(sizeof(float) * p.nrows), *b2 = hr_malloc(sizeof(float) * p.nrows);
            assert_int_equal(hr_als_solve_explicit(&p.rows, p.Y, p.ybias, 0.5f, &o, X1, b1, w, NULL, NULL), 0);
            assert_int_equal(hr_als_solve_explicit(&p.rows, p.Y, p.ybias, 0.5f, &o, X2, b2, w, NULL, NULL), 0);
            assert_memory_equal(b1, b2, sizeof(float) * p.nrows);
            hr_free(b1);
            hr_free(b2);
        } else {
            assert_int_equal(hr_als_solve_implicit(&p.rows, p.Y, G, &o, X1, w, NULL, NULL), 0);
            assert_int_equal(hr_als_solve_implicit(&p.rows, p.Y, G, &o, X2, w, NULL, NULL), 0);
        }
        assert_memory_equal(X1, X2, bytes);
        if (s == 0) { /* CG over two calls: rows 0..36 and 37.. */
            memcpy(X0, p.X, bytes);
            hr_als_rows a = p.rows, b = p.rows;
            a.nrows = 37;
            b.nrows = p.nrows - 37;
            b.rowptr = p.rowptr + 37;
            assert_int_equal(hr_als_solve_implicit(&a, p.Y, G, &o, X0, w, NULL, NULL), 0);
            assert_int_equal(hr_als_solve_implicit(&b, p.Y, G, &o, X0 + 37 * k, w, NULL, NULL), 0);
            for (uint64_t i = 0; i < p.nrows * k; i++)
                assert_true(fabsf(X0[i] - X1[i]) <= 1e-4f * (1.0f + fabsf(X1[i])));
        }
    }
    hr_free(X0);
    hr_free(X1);
    hr_free(X2);
    hr_free(G);
    hr_als_free_work(w);
    free_prob(&p);
}

/* Outputs must not depend on the OpenBLAS thread count (jobs/ may run ranks with more than one
 * thread).  k = 64 and rows up to 1100 entries make OpenBLAS actually split its calls. */
static void test_thread_count_invariance(void **state)
{
    (void)state;
    const int k = 64;
    prob p = make_prob(k, 120, 3000, 1, SEED + 11);
    hr_als_opts o;
    hr_als_default_opts(&o);
    o.k = k;
    hr_als_work *w = hr_als_create_work(k, LONG_ROW);
    const size_t bytes = sizeof(float) * p.nrows * k;
    float *out[2][4];
    for (int t = 0; t < 2; t++) {
        openblas_set_num_threads(t + 1);
        float *G = out[t][0] = hr_malloc(sizeof(float) * k * k);
        gram_float(p.Y, p.ncols, k, G, NULL);
        for (int s = 1; s < 4; s++) {
            out[t][s] = hr_malloc(bytes);
            memcpy(out[t][s], p.X, bytes);
        }
        o.solver = HR_ALS_CG;
        assert_int_equal(hr_als_solve_implicit(&p.rows, p.Y, G, &o, out[t][1], w, NULL, NULL), 0);
        o.solver = HR_ALS_CHOLESKY;
        assert_int_equal(hr_als_solve_implicit(&p.rows, p.Y, G, &o, out[t][2], w, NULL, NULL), 0);
        assert_int_equal(hr_als_solve_explicit(&p.rows, p.Y, p.ybias, 1.0f, &o, out[t][3], p.xbias, w, NULL, NULL), 0);
    }
    openblas_set_num_threads(1);
    assert_memory_equal(out[0][0], out[1][0], sizeof(float) * k * k);
    for (int s = 1; s < 4; s++) assert_memory_equal(out[0][s], out[1][s], bytes);
    for (int t = 0; t < 2; t++)
        for (int s = 0; s < 4; s++) hr_free(out[t][s]);
    hr_als_free_work(w);
    free_prob(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_explicit_vs_reference),
        cmocka_unit_test(test_implicit_cholesky_vs_reference),
        cmocka_unit_test(test_implicit_cg_converges),
        cmocka_unit_test(test_implicit_cg_steps_decrease_error),
        cmocka_unit_test(test_implicit_cg_dense_row),
        cmocka_unit_test(test_gram_vs_naive),
        cmocka_unit_test(test_loss_vs_naive),
        cmocka_unit_test(test_explicit_singular_retry),
        cmocka_unit_test(test_implicit_singular_retry),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_workspace_estimate),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_thread_count_invariance),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
