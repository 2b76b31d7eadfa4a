/* tests/unit/test_als_rows.c — the ALS solvers on top of their kernels (test_als_kernels.c):
 * rows solved in two calls equal the rows solved in one (explicit, implicit Cholesky and CG, no
 * per-row keys needed), stored zeros in implicit data are unobserved (the solutions and the
 * loss equal those of the data without them), k > HR_ALS_BATCH_MAX_K (the LAPACK path) and
 * k = 65 agree with the reference, and the loss the solve computes on the way equals the loss
 * functions'. */
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
#include "solvers/als_simd.h"
#include "tests/unit/alsutil.h"

typedef struct prob {
    int k;
    uint64_t nrows, ncols;
    uint64_t *rowptr;
    uint32_t *col;
    float *val, *Y, *ybias, *X;
} prob;

/* Rows of 0..2k+10 entries (row 2 is 700 long), values 1..5 (explicit) or 0..4 counts
 * (implicit, about one in five a stored 0). */
static prob make_prob(int k, uint64_t nrows, uint64_t ncols, int implicit, uint64_t what)
{
    prob p = { .k = k, .nrows = nrows, .ncols = ncols };
    hr_rng r = rng_for(what);
    p.rowptr = hr_malloc(sizeof(uint64_t) * (nrows + 1));
    p.rowptr[0] = 0;
    for (uint64_t u = 0; u < nrows; u++) p.rowptr[u + 1] = p.rowptr[u] + (u == 2 ? 700 : hr_rng_below(&r, 2 * k + 11));
    uint64_t nnz = p.rowptr[nrows];
    p.col = hr_malloc(sizeof(uint32_t) * (nnz + 1));
    p.val = hr_malloc(sizeof(float) * (nnz + 1));
    for (uint64_t e = 0; e < nnz; e++) {
        p.col[e] = (uint32_t)hr_rng_below(&r, ncols);
        p.val[e] = implicit ? (float)hr_rng_below(&r, 5) : (float)(1 + hr_rng_below(&r, 5));
    }
    p.Y = rand_mat(ncols, k, k, what + 1);
    p.X = rand_mat(nrows, k, k, what + 2);
    for (uint64_t i = 0; i < ncols * (uint64_t)k; i++) p.Y[i] *= 0.3f;
    for (uint64_t i = 0; i < nrows * (uint64_t)k; i++) p.X[i] *= 0.1f;
    p.ybias = rand_mat(1, (int)ncols, (int)ncols, what + 3);
    return p;
}

static void free_prob(prob *p)
{
    hr_free(p->rowptr);
    hr_free(p->col);
    hr_free(p->val);
    hr_free(p->Y);
    hr_free(p->X);
    hr_free(p->ybias);
}

static float *gram_of(const float *Y, uint64_t n, int k)
{
    double *Gd = hr_malloc(sizeof(double) * (size_t)k * k);
    float *G = hr_malloc(sizeof(float) * (size_t)k * k);
    hr_als_compute_gram(Y, n, k, Gd, NULL);
    for (int q = 0; q < k * k; q++) G[q] = (float)Gd[q];
    hr_free(Gd);
    return G;
}

/* solver 0: explicit with biases, 1: implicit Cholesky, 2: implicit CG (3 steps). */
static int run_solver(int solver, const hr_als_rows *R, const prob *p, const float *G, float *X, float *xb,
                      hr_als_work *w)
{
    hr_als_opts o;
    hr_als_default_opts(&o);
    o.k = p->k;
    o.alpha = 2.0f;
    o.lambda = 0.3f;
    hr_error err = { 0 };
    int rc;
    if (solver == 0) {
        rc = hr_als_solve_explicit(R, p->Y, p->ybias, 3.0f, &o, X, xb, w, NULL, &err);
    } else {
        o.solver = solver == 1 ? HR_ALS_CHOLESKY : HR_ALS_CG;
        rc = hr_als_solve_implicit(R, p->Y, G, &o, X, w, NULL, &err);
    }
    if (rc) print_error("%s\n", err.msg);
    return rc;
}

/* Rows solved in one call or split over two calls at any point: the same bits (what keeps
 * models identical on any rank count, without per-row keys), at k = 17 and 64, with a long row
 * streamed in pieces (small workspace) or resident. */
static void test_rows_independent_of_batch(void **state)
{
    (void)state;
    const int KK[] = { 17, 64 };
    for (int a = 0; a < 2; a++) {
        const int k = KK[a];
        for (int solver = 0; solver < 3; solver++) {
            prob p = make_prob(k, 90, 120, solver > 0, (uint64_t)(1000 + 10 * k + solver));
            float *G = gram_of(p.Y, p.ncols, k);
            for (uint64_t hint = 1; hint <= 700; hint += 699) {
                hr_als_work *w = hr_als_create_work(k, hint);
                size_t bytes = sizeof(float) * p.nrows * k;
                float *X1 = hr_malloc(bytes), *X2 = hr_malloc(bytes);
                float *b1 = hr_calloc(p.nrows, sizeof(float)), *b2 = hr_calloc(p.nrows, sizeof(float));
                memcpy(X1, p.X, bytes);
                hr_als_rows R = { p.nrows, p.ncols, p.rowptr, p.col, p.val, NULL };
                assert_int_equal(run_solver(solver, &R, &p, G, X1, b1, w), 0);
                for (uint64_t cut = 1; cut < p.nrows; cut += 29) {
                    memcpy(X2, p.X, bytes);
                    hr_als_rows A = R, B = R;
                    A.nrows = cut;
                    B.nrows = p.nrows - cut;
                    B.rowptr = p.rowptr + cut;
                    assert_int_equal(run_solver(solver, &B, &p, G, X2 + cut * k, b2 + cut, w), 0);
                    assert_int_equal(run_solver(solver, &A, &p, G, X2, b2, w), 0);
                    assert_memory_equal(X1, X2, bytes);
                    if (solver == 0) assert_memory_equal(b1, b2, sizeof(float) * p.nrows);
                }
                hr_free(X1);
                hr_free(X2);
                hr_free(b1);
                hr_free(b2);
                hr_als_free_work(w);
            }
            hr_free(G);
            free_prob(&p);
        }
    }
}

/* Implicit data: a stored 0 is an unobserved cell (p = 0, c = 1), so solving with the zero
 * entries gives the same result as solving without them (bits: the kernels skip them), rows with
 * only zeros get x = 0, and the loss is the same (to float tolerance: the entry terms are summed
 * in another order). */
static void test_implicit_zeros_unobserved(void **state)
{
    (void)state;
    const int k = 16;
    prob p = make_prob(k, 60, 50, 1, 4242);
    /* row 5: only zeros */
    for (uint64_t e = p.rowptr[5]; e < p.rowptr[6]; e++) p.val[e] = 0.0f;
    assert_true(p.rowptr[6] > p.rowptr[5]);
    /* the same data without its zeros */
    uint64_t nnz = p.rowptr[p.nrows], m = 0, zeros = 0;
    uint64_t *rp = hr_malloc(sizeof(uint64_t) * (p.nrows + 1));
    uint32_t *col = hr_malloc(sizeof(uint32_t) * (nnz + 1));
    float *val = hr_malloc(sizeof(float) * (nnz + 1));
    for (uint64_t u = 0; u < p.nrows; u++) {
        rp[u] = m;
        for (uint64_t e = p.rowptr[u]; e < p.rowptr[u + 1]; e++)
            if (p.val[e] != 0.0f) {
                col[m] = p.col[e];
                val[m++] = p.val[e];
            } else {
                zeros++;
            }
    }
    rp[p.nrows] = m;
    assert_true(zeros > 50);
    float *G = gram_of(p.Y, p.ncols, k);
    hr_als_work *w = hr_als_create_work(k, 700);
    const size_t bytes = sizeof(float) * p.nrows * k;
    float *X1 = hr_malloc(bytes), *X2 = hr_malloc(bytes);
    hr_als_rows with = { p.nrows, p.ncols, p.rowptr, p.col, p.val, NULL }, without = { p.nrows, p.ncols, rp, col, val, NULL };
    for (int solver = 1; solver <= 2; solver++) {
        memcpy(X1, p.X, bytes);
        memcpy(X2, p.X, bytes);
        assert_int_equal(run_solver(solver, &with, &p, G, X1, NULL, w), 0);
        assert_int_equal(run_solver(solver, &without, &p, G, X2, NULL, w), 0);
        assert_memory_equal(X1, X2, bytes);
        for (int j = 0; j < k; j++) assert_true(X1[5 * k + j] == 0.0f);
    }
    hr_als_opts o;
    hr_als_default_opts(&o);
    o.k = k;
    o.alpha = 2.0f;
    double d1, r1, d2, r2;
    assert_int_equal(hr_als_loss_implicit(&with, p.Y, G, X1, &o, &d1, &r1, NULL), 0);
    assert_int_equal(hr_als_loss_implicit(&without, p.Y, G, X1, &o, &d2, &r2, NULL), 0);
    assert_true(fabs(d1 - d2) <= 1e-9 * fabs(d2));
    assert_true(r1 == r2);
    hr_free(X1);
    hr_free(X2);
    hr_free(G);
    hr_free(rp);
    hr_free(col);
    hr_free(val);
    hr_als_free_work(w);
    free_prob(&p);
}

/* k = 65 (padded rows) and k = 300 (beyond the batched Cholesky: one LAPACK call per row) agree
 * with a double reference of the normal equations, explicit and implicit. */
static void test_odd_and_large_k(void **state)
{
    (void)state;
    const int KK[] = { 65, 300 };
    for (int a = 0; a < 2; a++) {
        const int k = KK[a];
        for (int solver = 0; solver < 2; solver++) {
            prob p = make_prob(k, 6, 400, solver, (uint64_t)(7000 + k + solver));
            float *G = gram_of(p.Y, p.ncols, k);
            hr_als_work *w = hr_als_create_work(k, 700);
            float *xb = hr_calloc(p.nrows, sizeof(float));
            hr_als_rows R = { p.nrows, p.ncols, p.rowptr, p.col, p.val, NULL };
            assert_int_equal(run_solver(solver, &R, &p, G, p.X, xb, w), 0);
            const int m = k + (solver == 0);
            double *M = hr_malloc(sizeof(double) * (size_t)m * m), *rhs = hr_malloc(sizeof(double) * m),
                   *x = hr_malloc(sizeof(double) * m);
            for (uint64_t u = 0; u < p.nrows; u++) {
                uint64_t n = 0;
                memset(M, 0, sizeof(double) * (size_t)m * m);
                memset(rhs, 0, sizeof(double) * m);
                if (solver == 1) /* G + lambda I */
                    for (uint64_t r = 0; r < p.ncols; r++)
                        for (int i = 0; i < k; i++)
                            for (int j = 0; j < k; j++) M[i * m + j] += (double)p.Y[r * k + i] * p.Y[r * k + j];
                for (uint64_t e = p.rowptr[u]; e < p.rowptr[u + 1]; e++) {
                    if (solver == 1 && p.val[e] == 0.0f) continue;
                    n++;
                    const float *y = p.Y + (size_t)p.col[e] * k;
                    double c = solver == 1 ? 1.0 + 2.0 * p.val[e] : 1.0;
                    double t = solver == 1 ? c : p.val[e] - 3.0 - p.ybias[p.col[e]];
                    for (int i = 0; i < m; i++) {
                        double yi = i < k ? y[i] : 1.0;
                        rhs[i] += t * yi;
                        for (int j = 0; j < m; j++) M[i * m + j] += (solver == 1 ? c - 1.0 : 1.0) * yi * (j < k ? y[j] : 1.0);
                    }
                }
                if (n == 0) continue;
                for (int i = 0; i < m; i++) M[i * m + i] += solver == 1 ? 0.3 : 0.3 * (double)n;
                ref_solve(M, rhs, m, x);
                for (int j = 0; j < k; j++) assert_true(fabs(p.X[u * k + j] - x[j]) <= 2e-3 * (1.0 + fabs(x[j])));
                if (solver == 0) assert_true(fabs(xb[u] - x[k]) <= 2e-3 * (1.0 + fabs(x[k])));
            }
            hr_free(M);
            hr_free(rhs);
            hr_free(x);
            hr_free(xb);
            hr_free(G);
            hr_als_free_work(w);
            free_prob(&p);
        }
    }
}

/* The loss of the rows on entry, computed by the solve from what it gathers anyway, equals the
 * loss functions' (explicit sse; implicit data part, CG and Cholesky; batched and LAPACK k). */
static void test_fused_loss(void **state)
{
    (void)state;
    const int KK[] = { 16, 65, 300 };
    for (int a = 0; a < 3; a++) {
        const int k = KK[a];
        for (int solver = 0; solver < 3; solver++) {
            prob p = make_prob(k, 40, 300, solver > 0, (uint64_t)(9000 + k + solver));
            float *G = gram_of(p.Y, p.ncols, k);
            hr_als_work *w = hr_als_create_work(k, 1);
            float *xb = hr_calloc(p.nrows, sizeof(float));
            for (uint64_t u = 0; u < p.nrows; u++) xb[u] = 0.01f * (float)u;
            hr_als_rows R = { p.nrows, p.ncols, p.rowptr, p.col, p.val, NULL };
            hr_als_opts o;
            hr_als_default_opts(&o);
            o.k = k;
            o.alpha = 2.0f;
            o.lambda = 0.3f;
            double want = 0.0, reg = 0.0, got = 0.0;
            hr_error err = { 0 };
            if (solver == 0) {
                assert_int_equal(hr_als_loss_explicit(&R, p.Y, p.ybias, 3.0f, p.X, xb, &o, &want, &reg, &err), 0);
                assert_int_equal(hr_als_solve_explicit_loss(&R, p.Y, p.ybias, 3.0f, &o, p.X, xb, w, NULL, &got, &err), 0);
            } else {
                o.solver = solver == 1 ? HR_ALS_CHOLESKY : HR_ALS_CG;
                assert_int_equal(hr_als_loss_implicit(&R, p.Y, G, p.X, &o, &want, &reg, &err), 0);
                assert_int_equal(hr_als_solve_implicit_loss(&R, p.Y, G, &o, p.X, w, NULL, &got, &err), 0);
            }
            if (!(fabs(got - want) <= 1e-5 * fabs(want)))
                print_error("k %d solver %d: fused loss %.9g, loss function %.9g\n", k, solver, got, want);
            assert_true(fabs(got - want) <= 1e-5 * fabs(want));
            hr_free(xb);
            hr_free(G);
            hr_als_free_work(w);
            free_prob(&p);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows_independent_of_batch),
        cmocka_unit_test(test_implicit_zeros_unobserved),
        cmocka_unit_test(test_odd_and_large_k),
        cmocka_unit_test(test_fused_loss),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
