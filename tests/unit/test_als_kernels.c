/* tests/unit/test_als_kernels.c — the ALS compute kernels (solvers/als_simd.h) against double
 * references, on every kernel level the CPU runs (AVX-512, AVX2 + FMA, portable), and the lane
 * layout, and the determinism they promise: a row's (or a lane's) result is the same bits
 * whatever shares its call, tile, group or batch, and whether a long row is processed in one
 * call or in pieces.  The solvers built on them: test_als_rows.c. */
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

#define L HR_ALS_LANES

/* 64-byte aligned (the batch layout needs 32): C11 wants the size a multiple of the alignment. */
static void *amalloc(size_t bytes) { return aligned_alloc(64, (bytes + 63) / 64 * 64); }

/* Every kernel level the CPU runs (the portable set always runs). */
static int levels(void) { return hr_als_simd_set(HR_ALS_SIMD_MAX), hr_als_simd_level() + 1; }

static const int GK[] = { 1, 3, 8, 16, 17, 24, 40, 56, 63, 64, 65, 72, 130, 200 };
#define NGK ((int)(sizeof GK / sizeof GK[0]))

/* ---- Gram ----------------------------------------------------------------------------------- */

static void test_gram_upper(void **state)
{
    (void)state;
    const uint64_t NS[] = { 0, 1, 5, 100, 700 };
    for (int lv = 0; lv < levels(); lv++) {
        hr_als_simd_set(lv);
        for (int a = 0; a < NGK; a++) {
            const int k = GK[a], kp = hr_als_kpad(k);
            for (int b = 0; b < 5; b++) {
                const uint64_t n = NS[b];
                float *A = rand_mat(n ? n : 1, k, kp, (uint64_t)(k * 10 + b));
                float *C = hr_malloc(sizeof(float) * (size_t)kp * kp), *C2 = hr_malloc(sizeof(float) * (size_t)kp * kp);
                for (int q = 0; q < kp * kp; q++) C[q] = C2[q] = 7.0f; /* beta = 0 must ignore this */
                hr_als_gram_upper(A, n, kp, k, C, kp, 0);
                for (int i = 0; i < k; i++)
                    for (int j = i; j < k; j++) {
                        double want = 0.0, mag = 0.0;
                        for (uint64_t r = 0; r < n; r++) {
                            double x = (double)A[r * kp + i] * A[r * kp + j];
                            want += x;
                            mag += fabs(x);
                        }
                        assert_true(fabs(C[i * kp + j] - want) <= 1e-5 * (mag + 1.0));
                    }
                /* the same rows as order kp (all tiles, no column on its own): the same bits on
                 * the upper triangle of order k */
                if (k != kp) {
                    hr_als_gram_upper(A, n, kp, kp, C2, kp, 0);
                    for (int i = 0; i < k; i++) assert_memory_equal(C + i * kp + i, C2 + i * kp + i, sizeof(float) * (k - i));
                }
                /* in pieces (accumulate = 1 continues the chains): the same bits */
                if (n > 3) {
                    hr_als_gram_upper(A, 3, kp, k, C2, kp, 0);
                    hr_als_gram_upper(A + 3 * kp, n - 3, kp, k, C2, kp, 1);
                    for (int i = 0; i < k; i++) assert_memory_equal(C + i * kp + i, C2 + i * kp + i, sizeof(float) * (k - i));
                }
                /* AVX-512 (its 32-column blocks, masked narrow blocks, 16-row columns): the
                 * bits of AVX2 */
                if (lv == 2) {
                    hr_als_simd_set(1);
                    hr_als_gram_upper(A, n, kp, k, C2, kp, 0);
                    hr_als_simd_set(2);
                    for (int i = 0; i < k; i++) assert_memory_equal(C + i * kp + i, C2 + i * kp + i, sizeof(float) * (k - i));
                }
                hr_free(A);
                hr_free(C);
                hr_free(C2);
            }
        }
    }
    hr_als_simd_set(HR_ALS_SIMD_MAX);
}

/* The gather with the Gram's first diagonal block in its loop: the bits of the gather, then the
 * Gram, at every level (the fused pass at AVX-512, 16 <= k <= 64, n >= 32; the two calls
 * elsewhere), continuing a C and sums (accumulate); a column out of range stops it with the
 * sums of the entries before it and C untouched. */
static void test_gather_gram(void **state)
{
    (void)state;
    static const int KS[] = { 8, 16, 17, 24, 32, 40, 56, 63, 64, 65, 100 };
    static const uint64_t NS[] = { 0, 5, 31, 32, 33, 100, 300 };
    const uint64_t ncols = 97;
    for (int lv = 0; lv < levels(); lv++) {
        hr_als_simd_set(lv);
        for (size_t a = 0; a < sizeof KS / sizeof *KS; a++) {
            const int k = KS[a], kp = hr_als_kpad(k);
            float *Y = rand_mat(ncols, k, k, 2100 + k), *bias = rand_mat(1, (int)ncols, (int)ncols, 2200 + k);
            for (size_t b = 0; b < sizeof NS / sizeof *NS; b++) {
                const uint64_t n = NS[b], nn = n ? n : 1;
                uint32_t *col = hr_malloc(sizeof(uint32_t) * (nn + 40));
                float *val = rand_mat(1, (int)(nn + 40), (int)(nn + 40), 2300 + n);
                hr_rng r = rng_for(2400 + (uint64_t)k * 1000 + n);
                for (uint64_t i = 0; i < nn + 40; i++) col[i] = (uint32_t)hr_rng_below(&r, ncols);
                for (int acc = 0; acc < 2; acc++) {
                    float *d1 = hr_malloc(sizeof(float) * nn * kp), *d2 = hr_malloc(sizeof(float) * nn * kp);
                    float *w1 = hr_malloc(sizeof(float) * nn), *w2 = hr_malloc(sizeof(float) * nn);
                    float *c1 = rand_mat(kp, kp, kp, 2500 + k), *c2 = hr_malloc(sizeof(float) * kp * kp);
                    float *s1 = rand_mat(2, kp, kp, 2600 + k), *s2 = hr_malloc(sizeof(float) * 2 * kp);
                    float ts1 = 0.25f, ts2 = 0.25f;
                    memcpy(c2, c1, sizeof(float) * kp * kp);
                    memcpy(s2, s1, sizeof(float) * 2 * kp);
                    assert_int_equal(hr_als_gather_explicit(d1, kp, Y, k, ncols, col, val, n, 40, bias, 0.5f, w1, s1,
                                                            s1 + kp, &ts1), n);
                    hr_als_gram_upper(d1, n, kp, k, c1, kp, acc);
                    assert_int_equal(hr_als_gather_gram_explicit(d2, kp, Y, k, ncols, col, val, n, 40, bias, 0.5f, w2, s2,
                                                                 s2 + kp, &ts2, c2, kp, acc), n);
                    assert_memory_equal(d1, d2, sizeof(float) * n * kp);
                    assert_memory_equal(w1, w2, sizeof(float) * n);
                    assert_memory_equal(s1, s2, sizeof(float) * 2 * kp);
                    assert_memory_equal(&ts1, &ts2, sizeof(float));
                    for (int i = 0; i < k; i++) assert_memory_equal(c1 + i * kp + i, c2 + i * kp + i, sizeof(float) * (k - i));
                    if (n >= 32) { /* a bad column at entry 25 */
                        const uint32_t keep = col[25];
                        col[25] = (uint32_t)ncols;
                        memcpy(c1, c2, sizeof(float) * kp * kp);
                        assert_int_equal(hr_als_gather_explicit(d1, kp, Y, k, ncols, col, val, n, 40, bias, 0.5f, w1, s1,
                                                                s1 + kp, &ts1), 25);
                        assert_int_equal(hr_als_gather_gram_explicit(d2, kp, Y, k, ncols, col, val, n, 40, bias, 0.5f, w2,
                                                                     s2, s2 + kp, &ts2, c2, kp, acc), 25);
                        assert_memory_equal(s1, s2, sizeof(float) * 2 * kp);
                        assert_memory_equal(&ts1, &ts2, sizeof(float));
                        assert_memory_equal(c1, c2, sizeof(float) * kp * kp);
                        col[25] = keep;
                    }
                    hr_free(d1); hr_free(d2); hr_free(w1); hr_free(w2); hr_free(c1); hr_free(c2); hr_free(s1); hr_free(s2);
                }
                hr_free(col);
                hr_free(val);
            }
            hr_free(Y);
            hr_free(bias);
        }
    }
    hr_als_simd_set(HR_ALS_SIMD_MAX);
}

/* ---- G p and the sparse products ------------------------------------------------------------- */

static void test_gemm_g(void **state)
{
    (void)state;
    for (int lv = 0; lv < levels(); lv++) {
        hr_als_simd_set(lv);
        for (int a = 0; a < NGK; a++) {
            const int k = GK[a], kp = hr_als_kpad(k), nb = 23;
            float *P = rand_mat(nb, k, kp, 300 + k), *G = rand_mat(k, k, kp, 400 + k);
            for (int i = 0; i < k; i++) /* symmetric, as the callers' G + lambda I */
                for (int j = 0; j < i; j++) G[i * kp + j] = G[j * kp + i];
            float *C = hr_malloc(sizeof(float) * nb * kp), *C1 = hr_malloc(sizeof(float) * kp);
            for (int neg = 0; neg < 2; neg++) {
                hr_als_gemm_g(P, nb, G, kp, k, C, neg);
                for (int r = 0; r < nb; r++) {
                    for (int q = 0; q < kp; q++) {
                        double want = 0.0, mag = 0.0;
                        for (int j = 0; j < k; j++) {
                            want += (double)P[r * kp + j] * G[j * kp + q];
                            mag += fabs((double)P[r * kp + j] * G[j * kp + q]);
                        }
                        if (neg) want = -want;
                        assert_true(fabs(C[r * kp + q] - want) <= 1e-5 * (mag + 1.0));
                    }
                    /* a row alone gives the same bits as in the batch */
                    hr_als_gemm_g(P + r * kp, 1, G, kp, k, C1, neg);
                    assert_memory_equal(C1, C + r * kp, sizeof(float) * kp);
                }
            }
            hr_free(P);
            hr_free(G);
            hr_free(C);
            hr_free(C1);
        }
    }
    hr_als_simd_set(HR_ALS_SIMD_MAX);
}

static void test_rows_products(void **state)
{
    (void)state;
    for (int lv = 0; lv < levels(); lv++) {
        hr_als_simd_set(lv);
        for (int a = 0; a < NGK; a++) {
            const int k = GK[a], kp = hr_als_kpad(k);
            const uint64_t n = 37;
            float *Y = rand_mat(n, k, kp, 500 + k), *v = rand_mat(1, k, kp, 600 + k), *wt = rand_mat(1, (int)n, (int)n, 700);
            for (uint64_t i = 0; i < n; i++) wt[i] = fabsf(wt[i]);
            float s[37], s1, tmp[37];
            hr_als_rows_dot(Y, n, k, v, s);
            for (uint64_t i = 0; i < n; i++) {
                double want = 0.0, mag = 0.0;
                for (int j = 0; j < k; j++) {
                    want += (double)Y[i * kp + j] * v[j];
                    mag += fabs((double)Y[i * kp + j] * v[j]);
                }
                assert_true(fabs(s[i] - want) <= 1e-5 * (mag + 1.0));
                /* alone: the same bits (at level 2 the 16-row kernel against the 8-row one) */
                hr_als_rows_dot(Y + i * kp, 1, k, v, &s1);
                assert_memory_equal(&s1, &s[i], sizeof s1);
            }
            for (int residual = 0; residual < 2; residual++) {
                float *out = hr_calloc(kp, sizeof(float)), *out2 = hr_calloc(kp, sizeof(float));
                hr_als_spmv_rows(Y, wt, n, k, v, out, residual, tmp);
                /* in two pieces: the same bits */
                hr_als_spmv_rows(Y, wt, 10, k, v, out2, residual, tmp);
                hr_als_spmv_rows(Y + 10 * kp, wt + 10, n - 10, k, v, out2, residual, tmp);
                assert_memory_equal(out, out2, sizeof(float) * k);
                for (int j = 0; j < k; j++) {
                    double want = 0.0, mag = 0.0;
                    for (uint64_t i = 0; i < n; i++) {
                        double si = 0.0;
                        for (int q = 0; q < k; q++) si += (double)Y[i * kp + q] * v[q];
                        double w = residual ? (1.0 + wt[i]) - wt[i] * si : wt[i] * si;
                        want += w * Y[i * kp + j];
                        mag += fabs(w * Y[i * kp + j]) + fabs(wt[i] * si * Y[i * kp + j]);
                    }
                    assert_true(fabs(out[j] - want) <= 1e-5 * (mag + 1.0));
                }
                hr_free(out);
                hr_free(out2);
            }
            /* axpy with unit weights, scale */
            float *o1 = hr_calloc(kp, sizeof(float));
            hr_als_rows_axpy(Y, n, k, NULL, o1);
            for (int j = 0; j < k; j++) {
                double want = 0.0, mag = 0.0;
                for (uint64_t i = 0; i < n; i++) {
                    want += Y[i * kp + j];
                    mag += fabs(Y[i * kp + j]);
                }
                assert_true(fabs(o1[j] - want) <= 1e-5 * (mag + 1.0));
            }
            /* the explicit gather: the rows (in reverse order, from unpadded rows of ld k),
             * zeros after k, the targets, and the bits of rows_axpy (w = 1, w = t) over the
             * copied rows, starting from non-zero sums; a column out of range stops it there */
            {
                float *src = hr_malloc(sizeof(float) * n * k + 8), *dst = hr_malloc(sizeof(float) * n * kp);
                float *want = hr_malloc(sizeof(float) * n * kp), *t = hr_malloc(sizeof(float) * n);
                float *tw = hr_malloc(sizeof(float) * n), *bias = rand_mat(1, (int)n, (int)n, 1700 + k);
                float *sy = rand_mat(1, k, kp, 1500 + k), *ty = rand_mat(1, k, kp, 1600 + k);
                float *sy2 = hr_malloc(sizeof(float) * kp), *ty2 = hr_malloc(sizeof(float) * kp);
                uint32_t col[37];
                const float mu = 0.375f;
                memcpy(sy2, sy, sizeof(float) * kp);
                memcpy(ty2, ty, sizeof(float) * kp);
                for (uint64_t i = 0; i < n; i++) {
                    memcpy(src + i * k, Y + i * kp, sizeof(float) * k);
                    col[i] = (uint32_t)(n - 1 - i);
                    memcpy(want + i * kp, Y + col[i] * kp, sizeof(float) * kp);
                    tw[i] = wt[i] - mu - bias[col[i]];
                }
                for (uint64_t i = 0; i < n * kp; i++) dst[i] = NAN;
                /* the targets' sum: one chain in the order of the entries, continued from what
                 * tsum held */
                float tsum = 0.625f, e1 = tsum;
                for (uint64_t i = 0; i < n; i++) e1 += tw[i];
                assert_int_equal(hr_als_gather_explicit(dst, kp, src, k, n, col, wt, n, 0, bias, mu, t, sy, ty, &tsum), n);
                assert_memory_equal(&tsum, &e1, sizeof(float));
                assert_memory_equal(dst, want, sizeof(float) * n * kp);
                assert_memory_equal(t, tw, sizeof(float) * n);
                hr_als_rows_axpy(want, n, k, NULL, sy2);
                hr_als_rows_axpy(want, n, k, tw, ty2);
                assert_memory_equal(sy, sy2, sizeof(float) * kp);
                assert_memory_equal(ty, ty2, sizeof(float) * kp);
                col[20] = (uint32_t)n;
                for (uint64_t i = 0; i < 20; i++) e1 += wt[i]; /* the entries before the bad column */
                assert_int_equal(hr_als_gather_explicit(dst, kp, src, k, n, col, wt, n, 0, NULL, 0.0f, t, sy, ty, &tsum),
                                 20);
                assert_memory_equal(&tsum, &e1, sizeof(float));
                hr_free(src); hr_free(dst); hr_free(want); hr_free(t); hr_free(tw); hr_free(bias);
                hr_free(sy); hr_free(ty); hr_free(sy2); hr_free(ty2);
            }
            /* CG vector updates: x += a p, r -= a ap, r.r; p = r + beta p (padding stays 0) */
            float *x = rand_mat(1, k, k, 1100 + k), *pv = rand_mat(1, k, kp, 1200 + k), *r = rand_mat(1, k, kp, 1300 + k),
                  *ap = rand_mat(1, k, kp, 1400 + k);
            float *x0 = hr_malloc(sizeof(float) * k), *p0 = hr_malloc(sizeof(float) * kp), *r0 = hr_malloc(sizeof(float) * kp);
            memcpy(x0, x, sizeof(float) * k);
            memcpy(p0, pv, sizeof(float) * kp);
            memcpy(r0, r, sizeof(float) * kp);
            double dpa = 0.0;
            for (int j = 0; j < k; j++) dpa += (double)pv[j] * ap[j];
            assert_true(fabs(hr_als_vdot(pv, ap, k) - dpa) <= 1e-5 * (1.0 + fabs(dpa)) * k);
            float rr = hr_als_cg_step(x, pv, r, ap, 0.37f, k);
            double drr = 0.0;
            for (int j = 0; j < kp; j++) {
                if (j < k) assert_true(fabsf(x[j] - (x0[j] + 0.37f * p0[j])) <= 1e-5f * (1.0f + fabsf(x[j])));
                assert_true(fabsf(r[j] - (r0[j] - 0.37f * ap[j])) <= 1e-5f * (1.0f + fabsf(r[j])));
                drr += (double)r[j] * r[j];
            }
            assert_true(fabs(rr - drr) <= 1e-5 * drr + 1e-6);
            hr_als_cg_xpby(r, 0.5f, pv, k);
            for (int j = 0; j < kp; j++) assert_true(fabsf(pv[j] - (r[j] + 0.5f * p0[j])) <= 1e-5f * (1.0f + fabsf(pv[j])));
            for (int j = k; j < kp; j++) assert_true(pv[j] == 0.0f && r[j] == 0.0f);
            hr_free(x); hr_free(pv); hr_free(r); hr_free(ap); hr_free(x0); hr_free(p0); hr_free(r0);
            float *Z = rand_mat(n, k, kp, 500 + k);
            hr_als_rows_scale(Z, n, k, wt);
            for (uint64_t i = 0; i < n; i++)
                for (int j = 0; j < kp; j++) assert_true(Z[i * kp + j] == (j < k ? Y[i * kp + j] * wt[i] : 0.0f));
            hr_free(o1);
            hr_free(Z);
            hr_free(Y);
            hr_free(v);
            hr_free(wt);
        }
    }
    hr_als_simd_set(HR_ALS_SIMD_MAX);
}

/* ---- laying Gram matrices out in lanes ------------------------------------------------------- */

static void test_pack_lanes(void **state)
{
    (void)state;
    for (int lv = 0; lv < levels(); lv++) {
        hr_als_simd_set(lv);
        for (int a = 0; a < NGK; a++) {
            const int k = GK[a], kp = hr_als_kpad(k);
            const size_t ss = (size_t)kp * kp + 8;
            float *S = rand_mat(L, (int)ss, (int)ss, 800 + k), *G0 = rand_mat(k, kp, kp, 900 + k);
            float *V = rand_mat(L, kp, kp, 950 + k);
            float *P = amalloc(sizeof(float) * (hr_als_tri(k + 1) + 8) * L);
            for (int g = 0; g < 2; g++) {
                hr_als_pack_lanes(S, ss, k, g ? G0 : NULL, P);
                for (int b = 0; b < L; b++)
                    for (int i = 0; i < k; i++)
                        for (int j = 0; j <= i; j++) {
                            float want = S[b * ss + (size_t)j * kp + i] + (g ? G0[(size_t)j * kp + i] : 0.0f);
                            assert_true(P[(hr_als_tri(i) + j) * L + b] == want);
                        }
            }
            hr_als_pack_row(V, (size_t)kp, k, P + hr_als_tri(k) * L);
            for (int b = 0; b < L; b++)
                for (int j = 0; j < k; j++) assert_true(P[(hr_als_tri(k) + j) * L + b] == V[b * kp + j]);
            free(P);
            hr_free(S);
            hr_free(G0);
            hr_free(V);
        }
    }
    hr_als_simd_set(HR_ALS_SIMD_MAX);
}

/* ---- batched Cholesky ------------------------------------------------------------------------ */

/* Random SPD matrix of order n (M = B B^T + n I) in double, row-major, and a right-hand side. */
static void spd(int n, uint64_t what, double *M, double *rhs)
{
    hr_rng r = rng_for(what);
    double *B = malloc(sizeof(double) * (size_t)n * n);
    for (int i = 0; i < n * n; i++) B[i] = hr_rng_normal(&r);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            double s = i == j ? n : 0.0;
            for (int q = 0; q < n; q++) s += B[i * n + q] * B[j * n + q];
            M[i * n + j] = s;
        }
    for (int i = 0; i < n; i++) rhs[i] = hr_rng_normal(&r);
    free(B);
}

/* Packs lane b: matrix M (order n) and rhs as row n. */
static void pack(float *P, int b, const double *M, const double *rhs, int n)
{
    for (int i = 0; i < n; i++)
        for (int j = 0; j <= i; j++) P[(hr_als_tri(i) + j) * L + b] = (float)M[i * n + j];
    for (int j = 0; j < n; j++) P[(hr_als_tri(n) + j) * L + b] = (float)rhs[j];
}

static void solve_batch(float *P, float *invd, int n, uint32_t *bad)
{
    *bad = hr_als_chol_batch(P, n, 1, invd);
    hr_als_chol_backsolve(P, n, invd, P + hr_als_tri(n) * L);
}

/* The AVX-512 kernels (16 lanes to a vector) and the AVX2 ones (two halves of 8) give the same
 * bits: the factor, the solutions, 1 / L_jj and the not-positive-definite mask. */
static void test_chol_levels(void **state)
{
    (void)state;
    if (levels() < 3) {
        print_message("only %d kernel levels on this CPU: AVX-512 against AVX2 not compared\n", levels());
        return;
    }
    const int NS[] = { 1, 2, 3, 5, 8, 9, 17, 64, 65, 66, 130 };
    for (int a = 0; a < (int)(sizeof NS / sizeof NS[0]); a++) {
        const int n = NS[a];
        const size_t words = (hr_als_tri(n + 1) + 1) * L;
        float *P[2], *invd[2];
        uint32_t bad[2];
        double *M = malloc(sizeof(double) * (size_t)n * n), *rhs = malloc(sizeof(double) * (size_t)n);
        P[0] = amalloc(sizeof(float) * words);
        memset(P[0], 0, sizeof(float) * words);
        for (int b = 0; b < L; b++) {
            spd(n, (uint64_t)(n * 1000 + b), M, rhs);
            pack(P[0], b, M, rhs, n);
        }
        P[0][(hr_als_tri(n - 1) + n - 1) * L + 11] = -1.0f;
        P[1] = amalloc(sizeof(float) * words);
        memcpy(P[1], P[0], sizeof(float) * words);
        for (int lv = 1; lv <= 2; lv++) {
            hr_als_simd_set(lv);
            invd[lv - 1] = amalloc(sizeof(float) * (size_t)n * L);
            solve_batch(P[lv - 1], invd[lv - 1], n, &bad[lv - 1]);
        }
        assert_int_equal(bad[0], bad[1]);
        assert_true(bad[0] >> 11 & 1u);
        assert_memory_equal(P[0], P[1], sizeof(float) * words);
        assert_memory_equal(invd[0], invd[1], sizeof(float) * (size_t)n * L);
        for (int v = 0; v < 2; v++) {
            free(P[v]);
            free(invd[v]);
        }
        free(M);
        free(rhs);
    }
    hr_als_simd_set(HR_ALS_SIMD_MAX);
}

static void test_chol_batch(void **state)
{
    (void)state;
    const int NS[] = { 1, 2, 3, 4, 5, 7, 8, 9, 17, 65, 66, 130 };
    for (int lv = 0; lv < levels(); lv++) {
        hr_als_simd_set(lv);
        for (int a = 0; a < (int)(sizeof NS / sizeof NS[0]); a++) {
            const int n = NS[a];
            size_t words = (hr_als_tri(n + 1) + 1) * L;
            float *P = amalloc(sizeof(float) * (words + 16)), *P2 = amalloc(sizeof(float) * (words + 16));
            float *invd = amalloc(sizeof(float) * ((size_t)n + 8) * L);
            double *M = malloc(sizeof(double) * (size_t)n * n * L), *rhs = malloc(sizeof(double) * (size_t)n * L);
            double *x = malloc(sizeof(double) * (size_t)n);
            memset(P, 0, sizeof(float) * words);
            for (int b = 0; b < L; b++) {
                spd(n, (uint64_t)(n * 100 + b), M + (size_t)b * n * n, rhs + (size_t)b * n);
                pack(P, b, M + (size_t)b * n * n, rhs + (size_t)b * n, n);
            }
            /* lane 3 not positive definite: -1 on a diagonal element of an otherwise identity-like
             * matrix; lane 6 holds a NaN */
            for (int i = 0; i < n; i++)
                for (int j = 0; j <= i; j++) P[(hr_als_tri(i) + j) * L + 3] = i == j ? (i == n / 2 ? -1.0f : 1.0f) : 0.0f;
            P[(hr_als_tri(n - 1) + 0) * L + 6] = NAN;
            P[(hr_als_tri(n - 1) + n - 1) * L + 13] = -2.0f; /* and one in the second half of the lanes */
            memcpy(P2, P, sizeof(float) * words);
            uint32_t bad;
            solve_batch(P, invd, n, &bad);
            assert_int_equal(bad, (1u << 3) | (1u << 6) | (1u << 13));
            const float *z = P + hr_als_tri(n) * L;
            for (int b = 0; b < L; b++) {
                if (b == 3 || b == 6 || b == 13) continue;
                ref_solve(M + (size_t)b * n * n, rhs + (size_t)b * n, n, x);
                for (int j = 0; j < n; j++) assert_true(fabs(z[j * L + b] - x[j]) <= 2e-4 * (1.0 + fabs(x[j])));
            }
            /* lane independence: lane 0's matrix moved to lane 5 beside other matrices gives the
             * same bits */
            for (int i = 0; i <= n; i++)
                for (int j = 0; j <= (i < n ? i : n - 1); j++) {
                    size_t e = (hr_als_tri(i) + j) * L;
                    float v0 = P2[e + 0];
                    for (int b = 0; b < L; b++) P2[e + b] = b == 5 ? v0 : (i == j ? 2.0f : 0.0f);
                }
            solve_batch(P2, invd, n, &bad);
            assert_int_equal(bad, 0);
            for (int j = 0; j < n; j++) assert_memory_equal(&P2[(hr_als_tri(n) + j) * L + 5], &z[j * L + 0], sizeof(float));
            free(P);
            free(P2);
            free(invd);
            free(M);
            free(rhs);
            free(x);
        }
    }
    hr_als_simd_set(HR_ALS_SIMD_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gram_upper),
        cmocka_unit_test(test_gather_gram),
        cmocka_unit_test(test_gemm_g),
        cmocka_unit_test(test_rows_products),
        cmocka_unit_test(test_pack_lanes),
        cmocka_unit_test(test_chol_batch),
        cmocka_unit_test(test_chol_levels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
