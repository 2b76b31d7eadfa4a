/* tests/unit/test_ials.c — implicit ALS against slow references: each row's system
 * (G + lambda I + sum (c - 1) y y^T) x = sum c y built naively in double and solved by Gaussian
 * elimination (Cholesky, and CG run to convergence), CG's error falling step by step, the dense
 * path for long rows, the Gram partial, and the diagonal retry on singular systems. */
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
#include "tests/unit/alsref.h"

/* Implicit system of row u: (G + lambda I + sum (c-1) y y^T) x = sum c y, G over all of Y. */
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
    hr_als_opts o = implicit_opts(k, HR_ALS_CHOLESKY);
    o.lambda = 0.0f;
    o.alpha = 1.0f;
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

/* A split Y (hr_als_solve_implicit_split: the first ky floats of each row in one array, the rest
 * in another) gives the bits of the plain layout: CG (resident, streamed and dense rows) and
 * Cholesky, the loss the solve adds, and hr_als_loss_implicit_split; a bad ky is refused. */
static void test_implicit_split_rows(void **state)
{
    (void)state;
    const int ks[] = { 40, 65, 130 };
    for (int a = 0; a < 3; a++) {
        const int k = ks[a], ky = hr_als_split_ky(k), kt = k - ky;
        assert_true(ky > 0 && ky % 16 == 0 && kt > 0 && kt < 16);
        prob p = make_prob(k, 40, 60, 1, SEED + 30 + (uint64_t)k);
        float *G = hr_malloc(sizeof(float) * (size_t)k * k), *Ym = hr_malloc(sizeof(float) * p.ncols * ky);
        float *Yt = hr_malloc(sizeof(float) * p.ncols * kt), *X1 = hr_malloc(sizeof(float) * p.nrows * k);
        float *X2 = hr_malloc(sizeof(float) * p.nrows * k);
        for (uint64_t r = 0; r < p.ncols; r++) {
            memcpy(Ym + r * ky, p.Y + r * k, sizeof(float) * ky);
            memcpy(Yt + r * kt, p.Y + r * k + ky, sizeof(float) * kt);
        }
        gram_float(p.Y, p.ncols, k, G, NULL);
        hr_als_work *w = hr_als_create_work(k, LONG_ROW), *small = hr_als_create_work(k, 1);
        for (int solver = 0; solver < 2; solver++) {
            hr_als_opts o = implicit_opts(k, solver ? HR_ALS_CHOLESKY : HR_ALS_CG);
            for (int ws = 0; ws < 2; ws++) { /* ws 1: the long row streamed (CG) */
                hr_als_work *wk = ws ? small : w;
                double l1 = 0.0, l2 = 0.0;
                hr_error err = { 0 };
                memcpy(X1, p.X, sizeof(float) * p.nrows * k);
                memcpy(X2, p.X, sizeof(float) * p.nrows * k);
                assert_int_equal(hr_als_solve_implicit_loss(&p.rows, p.Y, G, &o, X1, wk, NULL, &l1, &err), 0);
                assert_int_equal(hr_als_solve_implicit_split(&p.rows, Ym, Yt, ky, G, &o, X2, wk, NULL, &l2, &err), 0);
                assert_memory_equal(X1, X2, sizeof(float) * p.nrows * k);
                assert_memory_equal(&l1, &l2, sizeof l1);
            }
            double d1, r1, d2, r2;
            assert_int_equal(hr_als_loss_implicit(&p.rows, p.Y, G, p.X, &o, &d1, &r1, NULL), 0);
            assert_int_equal(hr_als_loss_implicit_split(&p.rows, Ym, Yt, ky, G, p.X, &o, &d2, &r2, NULL), 0);
            assert_memory_equal(&d1, &d2, sizeof d1);
            hr_error err = { 0 };
            assert_int_equal(hr_als_solve_implicit_split(&p.rows, Ym, Yt, 20, G, &o, X2, w, NULL, NULL, &err), HR_ERR_ARG);
            assert_int_equal(hr_als_solve_implicit_split(&p.rows, Ym, Yt, k, G, &o, X2, w, NULL, NULL, &err), HR_ERR_ARG);
        }
        hr_als_free_work(w);
        hr_als_free_work(small);
        hr_free(G); hr_free(Ym); hr_free(Yt); hr_free(X1); hr_free(X2);
        free_prob(&p);
    }
    assert_int_equal(hr_als_split_ky(64), 0);
    assert_int_equal(hr_als_split_ky(24), 0);
    assert_int_equal(hr_als_split_ky(65), 64);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_implicit_cholesky_vs_reference),
        cmocka_unit_test(test_implicit_cg_converges),
        cmocka_unit_test(test_implicit_cg_steps_decrease_error),
        cmocka_unit_test(test_implicit_cg_dense_row),
        cmocka_unit_test(test_gram_vs_naive),
        cmocka_unit_test(test_implicit_singular_retry),
        cmocka_unit_test(test_implicit_split_rows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
