/* solvers/ials_simd.c — the implicit-ALS CG kernels (solvers/ials_simd.h): AVX2 + FMA versions,
 * chosen with the other ALS kernels (hr_als_simd_level), and portable ones (the shared kernels),
 * so each level gives the bits of hr_als_spmv_rows / hr_als_rows_axpy at that level. */
#include "solvers/ials_simd.h"

#include "solvers/als_simd.h"

#include <string.h>

static void spmv_c(const float *Yb, const float *wt, uint64_t n, int k, const float *v, float *out, int residual,
                   float *tmp)
{
    hr_als_spmv_rows(Yb, wt, n, k, v, out, residual, tmp);
}

static void copy_row_c(float *dst, const float *src, int k)
{
    memcpy(dst, src, sizeof(float) * (size_t)k);
    memset(dst + k, 0, sizeof(float) * (size_t)(hr_als_kpad(k) - k));
}

#if defined(__x86_64__) && defined(__GNUC__)
#include "solvers/avx2.h"

/* Columns [c0, c0 + 8 NV) of out = (out or 0) + sum_i w_i y_i over the n rows y_i (ld kp), xor
 * sgn: NV (<= 12) accumulators held in registers over all rows, one FMA chain per element in
 * row order, loads folded into the FMAs (12 accumulators and a broadcast fit the 16 registers).
 * With acc, the chains of hr_als_rows_axpy (out += sum_i w_i y_i); from zero with y_j the rows
 * of G and w = p, the chains of gemm_tile (c = p G): so the same bits as those kernels. */
TGT static INL void wsum_cols(const float *restrict Yb, uint64_t n, int kp, const float *restrict w,
                              float *restrict out, int c0, const int NV, int acc, __m256 sgn)
{
    __m256 o0 = _mm256_setzero_ps(), o1 = o0, o2 = o0, o3 = o0, o4 = o0, o5 = o0, o6 = o0, o7 = o0, o8 = o0, o9 = o0,
           o10 = o0, o11 = o0;
#define LDO(q, x) if (NV > q && acc) x = _mm256_loadu_ps(out + c0 + 8 * q);
    LDO(0, o0) LDO(1, o1) LDO(2, o2) LDO(3, o3) LDO(4, o4) LDO(5, o5) LDO(6, o6) LDO(7, o7) LDO(8, o8) LDO(9, o9)
    LDO(10, o10) LDO(11, o11)
#undef LDO
    const float *y = Yb + c0;
    for (uint64_t i = 0; i < n; i++, y += kp) {
        const __m256 b = _mm256_broadcast_ss(w + i);
#define ACC(q, x) if (NV > q) x = _mm256_fmadd_ps(b, _mm256_loadu_ps(y + 8 * q), x);
        ACC(0, o0) ACC(1, o1) ACC(2, o2) ACC(3, o3) ACC(4, o4) ACC(5, o5) ACC(6, o6) ACC(7, o7) ACC(8, o8) ACC(9, o9)
        ACC(10, o10) ACC(11, o11)
#undef ACC
    }
#define STO(q, x) if (NV > q) _mm256_storeu_ps(out + c0 + 8 * q, _mm256_xor_ps(x, sgn));
    STO(0, o0) STO(1, o1) STO(2, o2) STO(3, o3) STO(4, o4) STO(5, o5) STO(6, o6) STO(7, o7) STO(8, o8) STO(9, o9)
    STO(10, o10) STO(11, o11)
#undef STO
}

/* Passes of 8 vectors while more than 12 remain, then one pass of the rest (<= 12): k = 65
 * (9 vectors) is one pass, not a full one and a one-vector, latency-bound one. */
TGT static void wsum_avx2(const float *Yb, uint64_t n, int kp, const float *w, float *out, int acc, int negate)
{
    const __m256 sgn = _mm256_set1_ps(negate ? -0.0f : 0.0f);
    int c0 = 0;
    for (; kp - c0 > 96; c0 += 64) wsum_cols(Yb, n, kp, w, out, c0, 8, acc, sgn);
    switch ((kp - c0) / 8) {
#define NVC(q) case q: wsum_cols(Yb, n, kp, w, out, c0, q, acc, sgn); break;
    NVC(1) NVC(2) NVC(3) NVC(4) NVC(5) NVC(6) NVC(7) NVC(8) NVC(9) NVC(10) NVC(11) NVC(12)
#undef NVC
    default: break;
    }
}

TGT static void copy_row_avx2(float *dst, const float *src, int k)
{
    int j = 0;
    for (; j + 32 <= k; j += 32) {
        __m256 a = _mm256_loadu_ps(src + j), b = _mm256_loadu_ps(src + j + 8), c = _mm256_loadu_ps(src + j + 16),
               d = _mm256_loadu_ps(src + j + 24);
        _mm256_storeu_ps(dst + j, a);
        _mm256_storeu_ps(dst + j + 8, b);
        _mm256_storeu_ps(dst + j + 16, c);
        _mm256_storeu_ps(dst + j + 24, d);
    }
    for (; j + 8 <= k; j += 8) _mm256_storeu_ps(dst + j, _mm256_loadu_ps(src + j));
    if (j < k) _mm256_storeu_ps(dst + j, hr_avx2_load_head(src + j, k - j)); /* the padding gets zeros */
}
#define HAVE_AVX2_KERNELS 1

/* ---- AVX-512: wsum with 16 columns to a vector (the last one masked when kp is an odd
 * multiple of 8); every element the same FMA chain as in wsum_cols, so the same bits. */
#include "solvers/avx512.h"

TGT512 static INL void wsum_cols512(const float *restrict Yb, uint64_t n, int kp, const float *restrict w,
                                    float *restrict out, int c0, const int NV, __mmask16 m, int acc, __m512 sgn)
{
    __m512 o0 = _mm512_setzero_ps(), o1 = o0, o2 = o0, o3 = o0, o4 = o0, o5 = o0, o6 = o0, o7 = o0, o8 = o0, o9 = o0,
           o10 = o0, o11 = o0;
#define MK(q) (NV - 1 > q ? (__mmask16)0xffff : m)
#define LDO(q, x) if (NV > q && acc) x = _mm512_maskz_loadu_ps(MK(q), out + c0 + 16 * q);
    LDO(0, o0) LDO(1, o1) LDO(2, o2) LDO(3, o3) LDO(4, o4) LDO(5, o5) LDO(6, o6) LDO(7, o7) LDO(8, o8) LDO(9, o9)
    LDO(10, o10) LDO(11, o11)
#undef LDO
    const float *y = Yb + c0;
    for (uint64_t i = 0; i < n; i++, y += kp) {
        const __m512 b = _mm512_set1_ps(w[i]);
#define ACC(q, x) if (NV > q) x = _mm512_fmadd_ps(b, _mm512_maskz_loadu_ps(MK(q), y + 16 * q), x);
        ACC(0, o0) ACC(1, o1) ACC(2, o2) ACC(3, o3) ACC(4, o4) ACC(5, o5) ACC(6, o6) ACC(7, o7) ACC(8, o8) ACC(9, o9)
        ACC(10, o10) ACC(11, o11)
#undef ACC
    }
#define STO(q, x) if (NV > q) _mm512_mask_storeu_ps(out + c0 + 16 * q, MK(q), \
                                                    _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(x), \
                                                                                         _mm512_castps_si512(sgn))));
    STO(0, o0) STO(1, o1) STO(2, o2) STO(3, o3) STO(4, o4) STO(5, o5) STO(6, o6) STO(7, o7) STO(8, o8) STO(9, o9)
    STO(10, o10) STO(11, o11)
#undef STO
#undef MK
}

/* Passes of 8 vectors (128 columns) while more than 192 remain, then one pass of the rest. */
TGT512 static void wsum_avx512(const float *Yb, uint64_t n, int kp, const float *w, float *out, int acc, int negate)
{
    const __m512 sgn = _mm512_set1_ps(negate ? -0.0f : 0.0f);
    int c0 = 0;
    for (; kp - c0 > 192; c0 += 128) wsum_cols512(Yb, n, kp, w, out, c0, 8, 0xffff, acc, sgn);
    const __mmask16 m = hr_avx512_head((kp - c0) % 16 ? 8 : 16);
    switch ((kp - c0 + 15) / 16) {
#define NVC(q) case q: wsum_cols512(Yb, n, kp, w, out, c0, q, m, acc, sgn); break;
    NVC(1) NVC(2) NVC(3) NVC(4) NVC(5) NVC(6) NVC(7) NVC(8) NVC(9) NVC(10) NVC(11) NVC(12)
#undef NVC
    default: break;
    }
}
#define HAVE_AVX512_KERNELS 1
#endif

void hr_ials_spmv(const float *Yb, const float *wt, uint64_t n, int k, const float *v, float *out, int residual,
                  float *tmp)
{
    if (!hr_als_simd_level()) {
        spmv_c(Yb, wt, n, k, v, out, residual, tmp);
        return;
    }
    /* hr_als_spmv_rows's rows_dot and weights, then the one-pass axpy: each kernel at the
     * level in use */
    hr_als_rows_dot(Yb, n, k, v, tmp);
    hr_als_spmv_weights(tmp, wt, n, residual);
    hr_ials_rows_axpy(Yb, n, k, tmp, out);
}

void hr_ials_rows_axpy(const float *Yb, uint64_t n, int k, const float *w, float *out)
{
#ifdef HAVE_AVX512_KERNELS
    if (hr_als_simd_level() >= 2) {
        wsum_avx512(Yb, n, hr_als_kpad(k), w, out, 1, 0);
        return;
    }
#endif
#ifdef HAVE_AVX2_KERNELS
    if (hr_als_simd_level()) {
        wsum_avx2(Yb, n, hr_als_kpad(k), w, out, 1, 0);
        return;
    }
#endif
    hr_als_rows_axpy(Yb, n, k, w, out);
}

void hr_ials_copy_row(float *dst, const float *src, int k)
{
#ifdef HAVE_AVX2_KERNELS
    if (hr_als_simd_level()) {
        copy_row_avx2(dst, src, k);
        return;
    }
#endif
    copy_row_c(dst, src, k);
}
