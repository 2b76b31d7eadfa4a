/* tests/unit/test_ials_kernels.c — the implicit-ALS CG kernels (solvers/ials_simd.h): the same
 * bits as the shared hr_als_spmv_rows / hr_als_rows_axpy they replace (so models are unchanged),
 * on every kernel level, for k around the SIMD width (the tails of kp = kpad(k), one pass and
 * several), row counts around the group of eight, both forms (step and residual); and the
 * same bits when a row's entries come in pieces (a long row streamed in chunks); and the
 * gathered-row copy (values, zero padding, no write past the padding); and G p at both SIMD
 * levels (the same bits). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "core/rng.h"
#include "solvers/als_simd.h"
#include "solvers/ials_simd.h"

static float *rand_mat(uint64_t rows, int cols, int ld, uint64_t what)
{
    hr_rng r = hr_rng_stream(20261202u, 91, what);
    float *a = hr_calloc((size_t)rows * (size_t)ld + 8, sizeof(float));
    for (uint64_t i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++) a[i * (uint64_t)ld + (uint64_t)j] = (float)hr_rng_normal(&r);
    return a;
}

static int levels(void) { return hr_als_simd_set(HR_ALS_SIMD_MAX), hr_als_simd_level() + 1; }

static const int KS[] = { 1, 7, 8, 9, 16, 24, 63, 64, 65, 72, 100, 129, 257 };
static const uint64_t NS[] = { 0, 1, 7, 8, 9, 17, 37 };

static void test_fused_equals_two_pass(void **state)
{
    (void)state;
    for (int lv = 0; lv < levels(); lv++) {
        hr_als_simd_set(lv);
        for (size_t a = 0; a < sizeof KS / sizeof KS[0]; a++) {
            const int k = KS[a], kp = hr_als_kpad(k);
            for (size_t b = 0; b < sizeof NS / sizeof NS[0]; b++) {
                const uint64_t n = NS[b];
                float *Y = rand_mat(n ? n : 1, k, kp, 10 + (uint64_t)k * 64 + n), *v = rand_mat(1, k, kp, 20 + (uint64_t)k);
                float *wt = rand_mat(1, (int)n + 1, (int)n + 1, 30 + n);
                for (uint64_t i = 0; i < n; i++) wt[i] = fabsf(wt[i]) * 10.0f;
                for (int residual = 0; residual < 2; residual++) {
                    float *o1 = rand_mat(1, k, kp, 40 + (uint64_t)k), *o2 = hr_malloc(sizeof(float) * (size_t)kp);
                    float *o3 = hr_malloc(sizeof(float) * (size_t)kp);
                    memcpy(o2, o1, sizeof(float) * (size_t)kp);
                    memcpy(o3, o1, sizeof(float) * (size_t)kp);
                    float tmp[40];
                    hr_als_spmv_rows(Y, wt, n, k, v, o1, residual, tmp);
                    hr_ials_spmv(Y, wt, n, k, v, o2, residual, tmp);
                    assert_memory_equal(o1, o2, sizeof(float) * (size_t)kp);
                    /* in two pieces: the same bits again */
                    const uint64_t cut = n / 3;
                    hr_ials_spmv(Y, wt, cut, k, v, o3, residual, tmp);
                    hr_ials_spmv(Y + cut * (uint64_t)kp, wt + cut, n - cut, k, v, o3, residual, tmp);
                    assert_memory_equal(o1, o3, sizeof(float) * (size_t)kp);
                    /* the weighted axpy alone */
                    hr_als_rows_axpy(Y, n, k, wt, o1);
                    hr_ials_rows_axpy(Y, n, k, wt, o2);
                    assert_memory_equal(o1, o2, sizeof(float) * (size_t)kp);
                    hr_free(o1);
                    hr_free(o2);
                    hr_free(o3);
                }
                hr_free(Y);
                hr_free(v);
                hr_free(wt);
            }
        }
    }
    hr_als_simd_set(HR_ALS_SIMD_MAX);
}

/* A gathered row: the k values, then zeros up to kpad(k) over whatever was there; the source
 * may end exactly at its k-th float (read past it: a crash under ASan / at a page end). */
static void test_copy_row(void **state)
{
    (void)state;
    for (int lv = 0; lv < levels(); lv++) {
        hr_als_simd_set(lv);
        for (int k = 1; k <= 140; k++) {
            const int kp = hr_als_kpad(k);
            float *src = hr_malloc(sizeof(float) * (size_t)k), *dst = hr_malloc(sizeof(float) * (size_t)(kp + 8));
            for (int j = 0; j < k; j++) src[j] = (float)(j + 1) * 0.5f;
            for (int j = 0; j < kp + 8; j++) dst[j] = -7.0f;
            hr_ials_copy_row(dst, src, k);
            for (int j = 0; j < kp + 8; j++) assert_true(dst[j] == (j < k ? src[j] : j < kp ? 0.0f : -7.0f));
            hr_free(src);
            hr_free(dst);
        }
    }
    hr_als_simd_set(HR_ALS_SIMD_MAX);
}

/* G p (hr_als_gemm_g, two chains per element): AVX-512 gives the bits of AVX2, for k around
 * the vector widths (masked last vectors, one pass and several). */
static void test_gemm_g_levels(void **state)
{
    (void)state;
    if (levels() < 3) {
        print_message("AVX-512 not available on this CPU: level comparison skipped\n");
        return;
    }
    for (int a = 0; a < (int)(sizeof KS / sizeof KS[0]); a++) {
        const int k = KS[a], kp = hr_als_kpad(k), nb = 3;
        float *P = rand_mat(nb, k, kp, 300 + (uint64_t)k), *G = rand_mat((uint64_t)k, k, kp, 400 + (uint64_t)k);
        for (int i = 0; i < k; i++) /* symmetric, as the callers' G + lambda I */
            for (int j = 0; j < i; j++) G[i * kp + j] = G[j * kp + i];
        float *C1 = hr_malloc(sizeof(float) * nb * (size_t)kp), *C2 = hr_malloc(sizeof(float) * nb * (size_t)kp);
        for (int neg = 0; neg < 2; neg++) {
            hr_als_simd_set(1);
            hr_als_gemm_g(P, nb, G, kp, k, C1, neg);
            hr_als_simd_set(2);
            hr_als_gemm_g(P, nb, G, kp, k, C2, neg);
            assert_memory_equal(C1, C2, sizeof(float) * nb * (size_t)kp);
        }
        hr_free(P);
        hr_free(G);
        hr_free(C1);
        hr_free(C2);
    }
    hr_als_simd_set(HR_ALS_SIMD_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fused_equals_two_pass),
        cmocka_unit_test(test_copy_row),
        cmocka_unit_test(test_gemm_g_levels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
