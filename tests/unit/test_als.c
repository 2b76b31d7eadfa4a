/* tests/unit/test_als.c — explicit ALS (ALS-WR with biases) against a slow reference: every
 * row's normal equations built naively in double and solved by Gaussian elimination with partial
 * pivoting; the loss parts of both kinds (the implicit one against the dense sum over every
 * (u, i) cell), the diagonal retry on singular explicit systems, bad input, workspace sizing,
 * bit-identical reruns and thread-count invariance (both kinds).  Implicit ALS: test_ials.c. */
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
#include "tests/unit/alsref.h"

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

/* Solves p's rows (rowptr rp, columns cl, values vl; no biases, mu = 0) at lambda = 0, where
 * some systems are singular.  Float rounding amplified by 1 / shift moves such an x along the
 * null space; what must hold for each row in check: x solves the UNshifted normal equations
 * (it is a least-squares minimiser) and stays within xbound (no blow-up along the null space).
 * Returns the retries. */
static uint64_t solve_singular(prob *p, int k, uint64_t *rp, uint32_t *cl, float *vl, uint64_t nrows,
                               const uint64_t *check, int ncheck, double xbound)
{
    p->rows.rowptr = rp;
    p->rows.col = cl;
    p->rows.val = vl;
    p->rows.nrows = nrows;
    p->mu = 0.0f;
    hr_als_opts o;
    hr_als_default_opts(&o);
    o.k = k;
    o.lambda = 0.0f;
    hr_als_work *w = hr_als_create_work(k, rp[nrows]);
    hr_als_stats st = { 0 };
    hr_error err = { 0 };
    int rc = hr_als_solve_explicit(&p->rows, p->Y, NULL, 0.0f, &o, p->X, NULL, w, &st, &err);
    if (rc) print_error("%s\n", err.msg);
    assert_int_equal(rc, 0);
    prob q = *p;
    q.rowptr = rp;
    q.col = cl;
    q.val = vl;
    double *M = hr_malloc(sizeof(double) * (size_t)k * k), *b = hr_malloc(sizeof(double) * (size_t)k);
    for (int c = 0; c < ncheck; c++) {
        const uint64_t u = check[c];
        double res = 0, bmax = 0, xmax = 0;
        ref_explicit_system(&q, u, 0.0f, 0, M, b);
        const float *x = p->X + u * k;
        for (int i = 0; i < k; i++) {
            double r = -b[i];
            for (int j = 0; j < k; j++) r += M[i * k + j] * x[j];
            res = fmax(res, fabs(r));
            bmax = fmax(bmax, fabs(b[i]));
            xmax = fmax(xmax, fabs(x[i]));
        }
        assert_true(res <= 1e-3 * bmax);
        assert_true(xmax <= xbound);
    }
    hr_free(M);
    hr_free(b);
    hr_als_free_work(w);
    return st.retries;
}

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
    const uint64_t check[2] = { 0, 2 };
    /* the min-norm solutions are [1.4, 1.4, 0.7] and [1, 1, -1] / 3.  Row 0 (columns 0, 1
     * equal) is retried once; row 2 (one rating) takes the Woodbury form, whose 1 x 1 system
     * y . y is regular even at lambda = 0: its min-norm solution without a retry */
    assert_int_equal(solve_singular(&p, k, rp, cl, vl, 3, check, 2, 2.0), 1);
    for (int i = 0; i < k; i++) assert_true(p.X[k + i] == 0.0f); /* row 1 is empty */
    free_prob(&p);
}

/* A short row (the Woodbury form) whose n x n system is singular: the same item twice.  It is
 * retried with a shift like a row in the normal form. */
static void test_explicit_short_singular_retry(void **state)
{
    (void)state;
    const int k = 4; /* rows of up to (k + 1) / 2 = 2 ratings take the Woodbury form */
    prob p = make_prob(k, 2, 3, 0, SEED + 7);
    /* y_1 . y_1 = 4: row 0's second pivot, 4 - 2 * 2, is 0 exactly */
    const float Yv[3][4] = { { 1, 2, 0, 1 }, { 2, 0, 0, 0 }, { 2, 0, 1, 1 } };
    memcpy(p.Y, Yv, sizeof Yv);
    uint64_t rp[3] = { 0, 2, 4 };
    uint32_t cl[4] = { 1, 1, 0, 2 }; /* row 0: item 1 twice (singular K); row 1: two items (regular) */
    float vl[4] = { 3, 3, 4, 1 };
    const uint64_t check[2] = { 0, 1 };
    /* min-norm: row 0 is y_1 * 3 / |y_1|^2 = [1.5, 0, 0, 0]; only row 0 is retried */
    assert_int_equal(solve_singular(&p, k, rp, cl, vl, 2, check, 2, 2.0), 1);
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
        cmocka_unit_test(test_loss_vs_naive),
        cmocka_unit_test(test_explicit_singular_retry),
        cmocka_unit_test(test_explicit_short_singular_retry),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_workspace_estimate),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_thread_count_invariance),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
