/* solvers/als_chol.c — the batched Cholesky of solvers/als_simd.h: HR_ALS_LANES normal matrices
 * laid out one per SIMD lane (hr_als_pack_lanes, hr_als_pack_row), factored together
 * (hr_als_chol_batch) and back-solved (hr_als_chol_backsolve).  AVX2 + FMA versions when
 * hr_als_simd_level() says so, portable ones with the same loop structure otherwise. */
#include "solvers/als_simd.h"

#include <math.h>

#define LANES HR_ALS_LANES

/* ---- portable kernels ------------------------------------------------------------------------- */

static void pack_lanes_c(const float *S, size_t ss, int k, const float *G0, float *P)
{
    const int kp = hr_als_kpad(k);
    for (int b = 0; b < LANES; b++)
        for (int i = 0; i < k; i++)
            for (int j = 0; j <= i; j++)
                P[(hr_als_tri(i) + j) * LANES + b] =
                    G0 ? S[b * ss + (size_t)j * kp + i] + G0[(size_t)j * kp + i] : S[b * ss + (size_t)j * kp + i];
}

static void pack_row_c(const float *V, size_t vs, int k, float *Prow)
{
    for (int b = 0; b < LANES; b++)
        for (int j = 0; j < k; j++) Prow[j * LANES + b] = V[b * vs + j];
}

static uint32_t chol_batch_c(float *P, int n, int nextra, float *invd)
{
    uint32_t bad = 0;
    for (int i = 0; i < n + nextra; i++) {
        float *ri = P + hr_als_tri(i) * LANES;
        int jend = i < n ? i : n;
        for (int j = 0; j < jend; j++) {
            const float *rj = P + hr_als_tri(j) * LANES;
            for (int b = 0; b < LANES; b++) {
                float s = ri[j * LANES + b];
                for (int p = 0; p < j; p++) s -= ri[p * LANES + b] * rj[p * LANES + b];
                ri[j * LANES + b] = s * invd[j * LANES + b];
            }
        }
        if (i >= n) continue;
        for (int b = 0; b < LANES; b++) {
            float s = ri[i * LANES + b];
            for (int p = 0; p < i; p++) s -= ri[p * LANES + b] * ri[p * LANES + b];
            if (!(s > 0.0f)) {
                bad |= 1u << b;
                s = 1.0f;
            }
            float d = sqrtf(s);
            ri[i * LANES + b] = d;
            invd[i * LANES + b] = 1.0f / d;
        }
    }
    return bad;
}

static void chol_backsolve_c(const float *P, int n, const float *invd, float *z)
{
    for (int i = n - 1; i >= 0; i--) {
        const float *ri = P + hr_als_tri(i) * LANES;
        for (int b = 0; b < LANES; b++) {
            float x = z[i * LANES + b] * invd[i * LANES + b];
            z[i * LANES + b] = x;
            for (int j = 0; j < i; j++) z[j * LANES + b] -= ri[j * LANES + b] * x;
        }
    }
}

/* ---- AVX2 + FMA kernels ----------------------------------------------------------------------- */
#if defined(__x86_64__) && defined(__GNUC__)
#include "solvers/avx2.h"

/* o_c = [r0[c], ..., r7[c]]: the 8 x 8 transpose. */
TGT static INL void transpose8(__m256 *r)
{
    __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    r[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
    r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
    r[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
    r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
    r[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
    r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
    r[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
    r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

/* The 8 x 8 transpose of rows src + b * ss, b = 0..7 (8 floats each), from memory: each
 * register is loaded as two 128-bit halves, rows b and b + 4, so the step across the halves
 * is done by the loads and the rest is two 4 x 4 transposes inside the halves (16 shuffles,
 * not transpose8's 24). */
TGT static INL void transpose8_load(const float *src, size_t ss, __m256 *r)
{
#define HALVES2(b, o) _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(src + (size_t)(b) * ss + (o))), \
                                          _mm_loadu_ps(src + (size_t)((b) + 4) * ss + (o)), 1)
    const __m256 a0 = HALVES2(0, 0), a1 = HALVES2(1, 0), a2 = HALVES2(2, 0), a3 = HALVES2(3, 0);
    const __m256 a4 = HALVES2(0, 4), a5 = HALVES2(1, 4), a6 = HALVES2(2, 4), a7 = HALVES2(3, 4);
#undef HALVES2
    __m256 t0 = _mm256_unpacklo_ps(a0, a1), t1 = _mm256_unpackhi_ps(a0, a1);
    __m256 t2 = _mm256_unpacklo_ps(a2, a3), t3 = _mm256_unpackhi_ps(a2, a3);
    __m256 t4 = _mm256_unpacklo_ps(a4, a5), t5 = _mm256_unpackhi_ps(a4, a5);
    __m256 t6 = _mm256_unpacklo_ps(a6, a7), t7 = _mm256_unpackhi_ps(a6, a7);
    r[0] = _mm256_shuffle_ps(t0, t2, 0x44), r[1] = _mm256_shuffle_ps(t0, t2, 0xEE);
    r[2] = _mm256_shuffle_ps(t1, t3, 0x44), r[3] = _mm256_shuffle_ps(t1, t3, 0xEE);
    r[4] = _mm256_shuffle_ps(t4, t6, 0x44), r[5] = _mm256_shuffle_ps(t4, t6, 0xEE);
    r[6] = _mm256_shuffle_ps(t5, t7, 0x44), r[7] = _mm256_shuffle_ps(t5, t7, 0xEE);
}

/* Element (i, j <= i) of lane b is S_b[j][i] (+ G0[j][i]): for each row j of the 16 matrices
 * and 8 consecutive columns i, two transposes (lanes 0-7, then 8-15) give the 16-lane vectors
 * of (i0..i0+7, j), so every line of the batch is written whole, at once (written in halves,
 * a pass per half, the lines of a large batch came back from L2 for their second half). */
TGT static void pack_lanes_avx2(const float *S, size_t ss, int k, const float *G0, float *P)
{
    const int kp = hr_als_kpad(k);
    for (int i0 = 0; i0 < k; i0 += 8) {
        const int ni = k - i0 < 8 ? k - i0 : 8;
        for (int j = 0; j < i0 + ni; j++) {
            const float *src = S + (size_t)j * kp + i0;
            const __m256 g = G0 ? _mm256_loadu_ps(G0 + (size_t)j * kp + i0) : _mm256_setzero_ps();
            for (int h = 0; h < LANES / 8; h++) {
                __m256 r[8];
                if (G0) {
                    for (int b = 0; b < 8; b++) r[b] = _mm256_add_ps(_mm256_loadu_ps(src + (size_t)(8 * h + b) * ss), g);
                    transpose8(r);
                } else {
                    transpose8_load(src + (size_t)8 * h * ss, ss, r);
                }
                if (j < i0 && ni == 8) { /* a whole block: r stays in registers */
#pragma GCC unroll 8
                    for (int c = 0; c < 8; c++) _mm256_store_ps(P + (hr_als_tri(i0 + c) + j) * LANES + 8 * h, r[c]);
                } else {
                    for (int c = j > i0 ? j - i0 : 0; c < ni; c++)
                        _mm256_store_ps(P + (hr_als_tri(i0 + c) + j) * LANES + 8 * h, r[c]);
                }
            }
        }
    }
}

TGT static void pack_row_avx2(const float *V, size_t vs, int k, float *Prow)
{
    for (int j0 = 0; j0 < k; j0 += 8) {
        __m256 r[8];
        transpose8_load(V + j0, vs, r);
        for (int c = 0; c < 8 && j0 + c < k; c++) _mm256_store_ps(Prow + (j0 + c) * LANES, r[c]);
    }
}

/* Pivot of a diagonal element: lanes with s <= 0 or NaN are recorded in *bad and get 1. */
TGT static INL __m256 pivot_avx2(__m256 s, uint32_t *bad, float *invd_j)
{
    __m256 ok = _mm256_cmp_ps(s, _mm256_setzero_ps(), _CMP_GT_OQ);
    *bad |= (uint32_t)(~_mm256_movemask_ps(ok)) & 0xffu;
    __m256 d = _mm256_sqrt_ps(_mm256_blendv_ps(_mm256_set1_ps(1.0f), s, ok));
    _mm256_store_ps(invd_j, _mm256_div_ps(_mm256_set1_ps(1.0f), d));
    return d;
}

/* The factor and the back-solve (chol_cols_avx2, chol_diag_avx2, chol_batch_avx2, chol_backsolve_avx2). */
#define VEC __m256
#define VOP(op) _mm256_##op
#define VTGT TGT
#define VNAME(f) f##_avx2
#define VCB 2
#include "solvers/als_chol_tmpl.h"
#undef VEC
#undef VOP
#undef VTGT
#undef VNAME
#undef VCB
#define HAVE_AVX2_KERNELS 1

/* ---- AVX-512 kernels -------------------------------------------------------------------------- */
#include "solvers/avx512.h"

/* pivot_avx2 with 16 lanes, then the factor and back-solve of solvers/als_chol_tmpl.h at this width. */
TGT512 static INL __m512 pivot_avx512(__m512 s, uint32_t *bad, float *invd_j)
{
    __mmask16 ok = _mm512_cmp_ps_mask(s, _mm512_setzero_ps(), _CMP_GT_OQ);
    *bad |= (uint32_t)(uint16_t)~ok;
    __m512 d = _mm512_sqrt_ps(_mm512_mask_blend_ps(ok, _mm512_set1_ps(1.0f), s));
    _mm512_store_ps(invd_j, _mm512_div_ps(_mm512_set1_ps(1.0f), d));
    return d;
}

#define VEC __m512
#define VOP(op) _mm512_##op
#define VTGT TGT512
#define VNAME(f) f##_avx512
#define VCB 4
#include "solvers/als_chol_tmpl.h"
#undef VEC
#undef VOP
#undef VTGT
#undef VNAME
#undef VCB
#define HAVE_AVX512_KERNELS 1
#endif

/* ---- dispatch --------------------------------------------------------------------------------- *
 * The AVX2 kernels work on 8 lanes: they run once per half of the 16, at P + 8 h (every vector of
 * the layout is 16 floats, so the halves are 32-byte aligned). */
#define HALVES (LANES / 8)

void hr_als_pack_lanes(const float *S, size_t ss, int k, const float *G0, float *P)
{
#ifdef HAVE_AVX2_KERNELS
    if (hr_als_simd_level()) {
        pack_lanes_avx2(S, ss, k, G0, P);
        return;
    }
#endif
    pack_lanes_c(S, ss, k, G0, P);
}

void hr_als_pack_row(const float *V, size_t vs, int k, float *Prow)
{
#ifdef HAVE_AVX2_KERNELS
    if (hr_als_simd_level()) {
        for (int h = 0; h < HALVES; h++) pack_row_avx2(V + (size_t)8 * h * vs, vs, k, Prow + 8 * h);
        return;
    }
#endif
    pack_row_c(V, vs, k, Prow);
}

uint32_t hr_als_chol_batch(float *P, int n, int nextra, float *invd)
{
#ifdef HAVE_AVX512_KERNELS
    if (hr_als_simd_level() >= 2) return chol_batch_avx512(P, n, nextra, invd);
#endif
#ifdef HAVE_AVX2_KERNELS
    if (hr_als_simd_level()) {
        uint32_t bad = 0;
        for (int h = 0; h < HALVES; h++) bad |= chol_batch_avx2(P + 8 * h, n, nextra, invd + 8 * h) << (8 * h);
        return bad;
    }
#endif
    return chol_batch_c(P, n, nextra, invd);
}

void hr_als_chol_backsolve(const float *P, int n, const float *invd, float *z)
{
#ifdef HAVE_AVX512_KERNELS
    if (hr_als_simd_level() >= 2) {
        chol_backsolve_avx512(P, n, invd, z);
        return;
    }
#endif
#ifdef HAVE_AVX2_KERNELS
    if (hr_als_simd_level()) {
        for (int h = 0; h < HALVES; h++) chol_backsolve_avx2(P + 8 * h, n, invd + 8 * h, z + 8 * h);
        return;
    }
#endif
    chol_backsolve_c(P, n, invd, z);
}
