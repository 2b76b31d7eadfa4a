/* tests/unit/test_ridge.c — the ridge map (solvers/ridge.h) against a dense reference: F built
 * as a dense matrix, (F^T F + lambda I) W = F^T Y solved by Gaussian elimination with partial
 * pivoting in long double; accumulation split over "ranks" sums to the same.  The grid path's
 * augmented rows (solvers/ridge_grid.h): features then targets at columns nf + c, so their Gram
 * matrix holds F^T F and, below it, (F^T Y)^T; bad rows refused. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "core/rng.h"
#include "solvers/ridge.h"
#include "solvers/ridge_grid.h"

enum { N = 40, NF = 7, WIDTH = 3 };

/* A sparse F (about 3 features per item, some items without any) and targets Y. */
static void problem(uint64_t *ptr, uint32_t *col, float *val, float *Y, double *Fd)
{
    hr_rng g = hr_rng_stream(7, 1, 1);
    memset(Fd, 0, sizeof(double) * N * NF);
    ptr[0] = 0;
    for (int r = 0; r < N; r++) {
        uint64_t e = ptr[r];
        for (uint32_t f = 0; f < NF; f++)
            if (r % 9 != 4 && hr_rng_uniform(&g) < 0.4) {
                col[e] = f;
                val[e] = (float)(0.25 + hr_rng_uniform(&g));
                Fd[r * NF + f] = val[e];
                e++;
            }
        ptr[r + 1] = e;
        for (int j = 0; j < WIDTH; j++) Y[r * WIDTH + j] = (float)(hr_rng_uniform(&g) * 2 - 1);
    }
}

static void reference(const double *Fd, const float *Y, double lambda, long double *W)
{
    long double A[NF][NF + WIDTH];
    for (int a = 0; a < NF; a++) {
        for (int b = 0; b < NF; b++) {
            long double s = a == b ? lambda : 0;
            for (int r = 0; r < N; r++) s += (long double)Fd[r * NF + a] * Fd[r * NF + b];
            A[a][b] = s;
        }
        for (int j = 0; j < WIDTH; j++) {
            long double s = 0;
            for (int r = 0; r < N; r++) s += (long double)Fd[r * NF + a] * Y[r * WIDTH + j];
            A[a][NF + j] = s;
        }
    }
    for (int c = 0; c < NF; c++) {
        int p = c;
        for (int r = c + 1; r < NF; r++)
            if (fabsl(A[r][c]) > fabsl(A[p][c])) p = r;
        for (int k = 0; k < NF + WIDTH; k++) { long double t = A[c][k]; A[c][k] = A[p][k]; A[p][k] = t; }
        for (int r = 0; r < NF; r++) {
            if (r == c) continue;
            long double m = A[r][c] / A[c][c];
            for (int k = c; k < NF + WIDTH; k++) A[r][k] -= m * A[c][k];
        }
    }
    for (int a = 0; a < NF; a++)
        for (int j = 0; j < WIDTH; j++) W[a * WIDTH + j] = A[a][NF + j] / A[a][a];
}

static void test_ridge_vs_dense(void **state)
{
    (void)state;
    uint64_t ptr[N + 1];
    uint32_t col[N * NF];
    float val[N * NF], Y[N * WIDTH], W[NF * WIDTH];
    double Fd[N * NF], FtF[NF * NF], FtY[NF * WIDTH];
    long double ref[NF * WIDTH];
    hr_error err = { 0 };
    problem(ptr, col, val, Y, Fd);
    for (int t = 0; t < 2; t++) {
        const double lambda = t == 0 ? 0.5 : 1e-3;
        memset(FtF, 0, sizeof FtF);
        memset(FtY, 0, sizeof FtY);
        /* items over three "ranks": the partial sums add up */
        const uint64_t cut[4] = { 0, 13, 27, N };
        for (int q = 0; q < 3; q++)
            assert_int_equal(hr_ridge_accumulate(ptr + cut[q], col, val, cut[q + 1] - cut[q], Y + cut[q] * WIDTH, WIDTH, NF, FtF, FtY,
                                                 &err), 0);
        assert_int_equal(hr_ridge_solve(FtF, FtY, NF, WIDTH, lambda, W, &err), 0);
        reference(Fd, Y, lambda, ref);
        for (int e = 0; e < NF * WIDTH; e++) {
            if (fabsl(FtY[e] - ref[e]) > 1e-9L * (1 + fabsl(ref[e]))) fail_msg("W[%d] %.17g vs %.17Lg (lambda %g)", e, FtY[e], ref[e], lambda);
            if (fabsl(W[e] - ref[e]) > 1e-6L * (1 + fabsl(ref[e]))) fail_msg("float W[%d] %.9g vs %.17Lg", e, W[e], ref[e]);
        }
    }
}

static void test_ridge_errors(void **state)
{
    (void)state;
    uint64_t ptr[2] = { 0, 1 };
    uint32_t col[1] = { 5 };
    float val[1] = { 1 }, Y[1] = { 1 };
    double FtF[4] = { 0 }, FtY[2] = { 0 };
    hr_error err = { 0 };
    assert_int_equal(hr_ridge_accumulate(ptr, col, val, 1, Y, 1, 2, FtF, FtY, &err), HR_ERR_ARG);
    assert_int_equal(hr_ridge_solve(FtF, FtY, 2, 1, 0.0, NULL, &err), HR_ERR_ARG);
    assert_int_equal(hr_ridge_solve(FtF, FtY, 2, 1, NAN, NULL, &err), HR_ERR_ARG);
    FtF[0] = NAN;
    assert_int_not_equal(hr_ridge_solve(FtF, FtY, 2, 1, 1.0, NULL, &err), 0);
}

static void test_ridge_grid_rows(void **state)
{
    (void)state;
    uint64_t ptr[N + 1], aptr[N + 1];
    uint32_t col[N * NF], aidx[N * (NF + WIDTH)];
    float val[N * NF], Y[N * WIDTH], aval[N * (NF + WIDTH)];
    double Fd[N * NF], FtF[NF * NF] = { 0 }, FtY[NF * WIDTH] = { 0 }, G[NF + WIDTH][NF + WIDTH];
    hr_error err = { 0 };
    problem(ptr, col, val, Y, Fd);
    assert_int_equal(hr_ridge_grid_rows(ptr, col, val, N, Y, WIDTH, NF, aptr, aidx, aval, &err), 0);
    assert_int_equal(aptr[N], ptr[N] + N * WIDTH);
    memset(G, 0, sizeof G);
    for (int r = 0; r < N; r++) {
        assert_int_equal(aptr[r + 1] - aptr[r], ptr[r + 1] - ptr[r] + WIDTH);
        for (uint64_t a = aptr[r] + 1; a < aptr[r + 1]; a++) assert_true(aidx[a] > aidx[a - 1]);   /* ascending */
        for (uint64_t a = aptr[r]; a < aptr[r + 1]; a++)
            for (uint64_t b = aptr[r]; b < aptr[r + 1]; b++) G[aidx[a]][aidx[b]] += (double)aval[a] * aval[b];
    }
    assert_int_equal(hr_ridge_accumulate(ptr, col, val, N, Y, WIDTH, NF, FtF, FtY, &err), 0);
    for (int a = 0; a < NF; a++) {
        for (int b = 0; b < NF; b++) assert_true(G[a][b] == FtF[a * NF + b]);
        for (int j = 0; j < WIDTH; j++) assert_true(G[NF + j][a] == FtY[a * WIDTH + j]);
    }
    /* a feature out of range or out of order is refused */
    uint64_t p1[2] = { 0, 2 }, ap[2];
    uint32_t c1[2] = { 3, 1 }, ai[4];
    float v1[2] = { 1, 1 }, y1[2] = { 1, 1 }, av[4];
    assert_int_equal(hr_ridge_grid_rows(p1, c1, v1, 1, y1, 2, 4, ap, ai, av, &err), HR_ERR_ARG);
    c1[0] = 1;
    c1[1] = 4;
    assert_int_equal(hr_ridge_grid_rows(p1, c1, v1, 1, y1, 2, 4, ap, ai, av, &err), HR_ERR_ARG);
    c1[1] = 1;   /* a repeated feature is allowed (the dense path adds it up as well) */
    assert_int_equal(hr_ridge_grid_rows(p1, c1, v1, 1, y1, 2, 4, ap, ai, av, &err), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ridge_vs_dense),
        cmocka_unit_test(test_ridge_errors),
        cmocka_unit_test(test_ridge_grid_rows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
