/* solvers/als_simd.c — the ALS compute kernels (solvers/als_simd.h) but the Gram
 * (solvers/als_gram.c) and the batched Cholesky (solvers/als_chol.c), and the choice of kernel
 * level they all follow: AVX2 + FMA versions chosen at run time, and portable versions with the
 * same loop structure. */
#include "solvers/als_simd.h"

#include <math.h>
#include <string.h>

#include "solvers/als_gather.h"

static int simd_level = -1; /* -1: not decided yet */

/* The best level this CPU (and OS: __builtin_cpu_supports checks the saved register state)
 * runs. */
static int cpu_level(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) return 0;
    return __builtin_cpu_supports("avx512f") ? 2 : 1;
#else
    return 0;
#endif
}

int hr_als_simd_level(void)
{
    if (simd_level < 0) simd_level = cpu_level();
    return simd_level;
}

int hr_als_simd_set(int level)
{
    int old = hr_als_simd_level(), best = cpu_level();
    simd_level = level < 0 ? 0 : level > best ? best : level;
    return old;
}

/* ---- portable kernels ------------------------------------------------------------------------- */

/* Columns [0, k8) of c = p G (negated when asked) for one row p: element q is E + O, E the chain
 * over the even rows j of G in order, O over the odd ones (see hr_als_gemm_g). */
static void gemv_c(const float *p, const float *G, int ldg, int k, float *c, int negate)
{
    for (int q = 0; q < k / 8 * 8; q++) {
        float e = 0.0f, o = 0.0f;
        int j = 0;
        for (; j + 2 <= k; j += 2) {
            e += p[j] * G[(size_t)j * ldg + q];
            o += p[j + 1] * G[(size_t)(j + 1) * ldg + q];
        }
        if (j < k) e += p[j] * G[(size_t)j * ldg + q];
        c[q] = negate ? -(e + o) : e + o;
    }
}

static void rows_dot_c(const float *Yb, uint64_t n, int k, const float *v, float *s)
{
    const int kp = hr_als_kpad(k);
    for (uint64_t i = 0; i < n; i++) {
        const float *y = Yb + i * (uint64_t)kp;
        float acc[8] = { 0, 0, 0, 0, 0, 0, 0, 0 };
        for (int c = 0; c < kp; c += 8)
            for (int q = 0; q < 8; q++) acc[q] += y[c + q] * v[c + q];
        s[i] = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    }
}

static void rows_axpy_c(const float *Yb, uint64_t n, int k, const float *w, float *out)
{
    const int kp = hr_als_kpad(k);
    for (uint64_t i = 0; i < n; i++) {
        const float *y = Yb + i * (uint64_t)kp;
        float wi = w ? w[i] : 1.0f;
        for (int q = 0; q < k; q++) out[q] += wi * y[q];
    }
}


static void rows_scale_c(float *Yb, uint64_t n, int k, const float *s)
{
    const int kp = hr_als_kpad(k);
    for (uint64_t i = 0; i < n; i++)
        for (int q = 0; q < k; q++) Yb[i * (uint64_t)kp + (uint64_t)q] *= s[i];
}

static float vdot_c(const float *a, const float *b, int k)
{
    float acc[8] = { 0, 0, 0, 0, 0, 0, 0, 0 };
    const int kp = hr_als_kpad(k);
    for (int c = 0; c < kp; c += 8)
        for (int q = 0; q < 8; q++) acc[q] += a[c + q] * b[c + q];
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

static float cg_step_c(float *x, float *p, float *r, const float *ap, float a, int k)
{
    const int kp = hr_als_kpad(k);
    for (int j = 0; j < k; j++) x[j] += a * p[j];
    for (int j = 0; j < kp; j++) r[j] -= a * ap[j];
    return vdot_c(r, r, k);
}

static void xpby_c(const float *r, float beta, float *p, int k)
{
    const int kp = hr_als_kpad(k);
    for (int j = 0; j < kp; j++) p[j] = r[j] + beta * p[j];
}

/* ---- AVX2 + FMA kernels ----------------------------------------------------------------------- */
#if defined(__x86_64__) && defined(__GNUC__)
#include "solvers/avx2.h"

/* Columns [c0, c0 + 8 NV) of c = p G: chains E (even rows of G) and O (odd rows) per element,
 * NV <= 6 (12 accumulators and two broadcasts), the rows of G read once per pass. */
TGT static INL void gemv_cols(const float *restrict p, const float *restrict G, int k, int ldg, int c0, const int NV,
                              float *restrict c, __m256 sgn)
{
    __m256 e0 = _mm256_setzero_ps(), e1 = e0, e2 = e0, e3 = e0, e4 = e0, e5 = e0, o0 = e0, o1 = e0, o2 = e0, o3 = e0,
           o4 = e0, o5 = e0, a, b;
    const float *g = G + c0;
    int j = 0;
#define ACC(q, e, o) if (NV > q) { e = _mm256_fmadd_ps(a, _mm256_loadu_ps(g + 8 * q), e); \
                                   o = _mm256_fmadd_ps(b, _mm256_loadu_ps(g + ldg + 8 * q), o); }
    for (; j + 2 <= k; j += 2, g += 2 * (size_t)ldg) {
        a = _mm256_broadcast_ss(p + j);
        b = _mm256_broadcast_ss(p + j + 1);
        ACC(0, e0, o0) ACC(1, e1, o1) ACC(2, e2, o2) ACC(3, e3, o3) ACC(4, e4, o4) ACC(5, e5, o5)
    }
#undef ACC
    if (j < k) {
        a = _mm256_broadcast_ss(p + j);
#define ACC(q, e) if (NV > q) e = _mm256_fmadd_ps(a, _mm256_loadu_ps(g + 8 * q), e);
        ACC(0, e0) ACC(1, e1) ACC(2, e2) ACC(3, e3) ACC(4, e4) ACC(5, e5)
#undef ACC
    }
#define ST(q, e, o) if (NV > q) _mm256_storeu_ps(c + c0 + 8 * q, _mm256_xor_ps(_mm256_add_ps(e, o), sgn));
    ST(0, e0, o0) ST(1, e1, o1) ST(2, e2, o2) ST(3, e3, o3) ST(4, e4, o4) ST(5, e5, o5)
#undef ST
}

/* Columns [0, k8): passes of 4 vectors (8 chains: enough to keep both FMA units busy) while
 * more than 6 remain, then one pass of the rest. */
TGT static void gemv_avx2(const float *p, const float *G, int ldg, int k, float *c, int negate)
{
    const int k8 = k / 8 * 8;
    const __m256 sgn = _mm256_set1_ps(negate ? -0.0f : 0.0f);
    int c0 = 0;
    for (; k8 - c0 > 48; c0 += 32) gemv_cols(p, G, k, ldg, c0, 4, c, sgn);
    switch ((k8 - c0) / 8) {
#define NVC(q) case q: gemv_cols(p, G, k, ldg, c0, q, c, sgn); break;
    NVC(1) NVC(2) NVC(3) NVC(4) NVC(5) NVC(6)
#undef NVC
    default: break;
    }
}

/* The 8 sums of 8 vectors, each as ((x0+x1)+(x2+x3)) + ((x4+x5)+(x6+x7)). */
TGT static INL __m256 hsum8(__m256 a0, __m256 a1, __m256 a2, __m256 a3, __m256 a4, __m256 a5, __m256 a6, __m256 a7)
{
    __m256 g0 = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3));
    __m256 g1 = _mm256_hadd_ps(_mm256_hadd_ps(a4, a5), _mm256_hadd_ps(a6, a7));
    return _mm256_add_ps(_mm256_permute2f128_ps(g0, g1, 0x20), _mm256_permute2f128_ps(g0, g1, 0x31));
}

/* The dots of rows y0..y7 with v, one chain per row over the columns, summed by hsum8. */
TGT static INL __m256 dot8(const float *y0, const float *y1, const float *y2, const float *y3, const float *y4,
                           const float *y5, const float *y6, const float *y7, int kp, const float *v)
{
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
    for (int c = 0; c < kp; c += 8) {
        __m256 vc = _mm256_loadu_ps(v + c);
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(y0 + c), vc, a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(y1 + c), vc, a1);
        a2 = _mm256_fmadd_ps(_mm256_loadu_ps(y2 + c), vc, a2);
        a3 = _mm256_fmadd_ps(_mm256_loadu_ps(y3 + c), vc, a3);
        a4 = _mm256_fmadd_ps(_mm256_loadu_ps(y4 + c), vc, a4);
        a5 = _mm256_fmadd_ps(_mm256_loadu_ps(y5 + c), vc, a5);
        a6 = _mm256_fmadd_ps(_mm256_loadu_ps(y6 + c), vc, a6);
        a7 = _mm256_fmadd_ps(_mm256_loadu_ps(y7 + c), vc, a7);
    }
    return hsum8(a0, a1, a2, a3, a4, a5, a6, a7);
}

/* s_i = y_i . v, eight rows at a time.  A short last group repeats its last row in the empty
 * places and keeps only its own results: every row's dot is the same chain and the same
 * reduction tree whatever its group (one row alone is a group of eight copies of it), and the
 * CG rows of two dozen entries no longer pay a horizontal reduction per leftover row. */
TGT static void rows_dot_avx2(const float *Yb, uint64_t n, int k, const float *v, float *s)
{
    const int kp = hr_als_kpad(k);
    uint64_t i0 = 0;
    for (; i0 + 8 <= n; i0 += 8) {
        const float *y = Yb + i0 * (uint64_t)kp;
        _mm256_storeu_ps(s + i0, dot8(y, y + kp, y + 2 * kp, y + 3 * kp, y + 4 * kp, y + 5 * kp, y + 6 * kp,
                                      y + 7 * kp, kp, v));
    }
    if (i0 + 1 == n) { /* one row left (and the one-row dots of hr_als_gemm_g): one chain */
        const float *y = Yb + i0 * (uint64_t)kp;
        __m256 a = _mm256_setzero_ps();
        for (int c = 0; c < kp; c += 8) a = _mm256_fmadd_ps(_mm256_loadu_ps(y + c), _mm256_loadu_ps(v + c), a);
        const __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(a, a), _mm256_hadd_ps(a, a)); /* hsum8's tree */
        s[i0] = _mm_cvtss_f32(_mm_add_ss(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1)));
    } else if (i0 < n) {
        const float *y[8];
        for (uint64_t q = 0; q < 8; q++) y[q] = Yb + (i0 + (i0 + q < n ? q : n - 1 - i0)) * (uint64_t)kp;
        float t[8];
        _mm256_storeu_ps(t, dot8(y[0], y[1], y[2], y[3], y[4], y[5], y[6], y[7], kp, v));
        memcpy(s + i0, t, sizeof(float) * (size_t)(n - i0));
    }
}

/* out += sum_i w_i y_i (w NULL: all ones), 64 columns at a time held in registers; one FMA
 * chain per column in row order, continued across calls through out. */
TGT static void rows_axpy_avx2(const float *Yb, uint64_t n, int k, const float *w, float *out)
{
    const int kp = hr_als_kpad(k);
    const float one = 1.0f;
    for (int c0 = 0; c0 < kp; c0 += 64) {
        const int nv = (kp - c0) / 8 < 8 ? (kp - c0) / 8 : 8;
        __m256 o0 = _mm256_setzero_ps(), o1 = o0, o2 = o0, o3 = o0, o4 = o0, o5 = o0, o6 = o0, o7 = o0;
#define LDO(q, x) if (nv > q) x = _mm256_loadu_ps(out + c0 + 8 * q);
        LDO(0, o0) LDO(1, o1) LDO(2, o2) LDO(3, o3) LDO(4, o4) LDO(5, o5) LDO(6, o6) LDO(7, o7)
#undef LDO
        const float *y = Yb + c0;
        if (nv == 8) {
            for (uint64_t i = 0; i < n; i++, y += kp) {
                __m256 b = _mm256_broadcast_ss(w ? w + i : &one);
                o0 = _mm256_fmadd_ps(b, _mm256_loadu_ps(y), o0);
                o1 = _mm256_fmadd_ps(b, _mm256_loadu_ps(y + 8), o1);
                o2 = _mm256_fmadd_ps(b, _mm256_loadu_ps(y + 16), o2);
                o3 = _mm256_fmadd_ps(b, _mm256_loadu_ps(y + 24), o3);
                o4 = _mm256_fmadd_ps(b, _mm256_loadu_ps(y + 32), o4);
                o5 = _mm256_fmadd_ps(b, _mm256_loadu_ps(y + 40), o5);
                o6 = _mm256_fmadd_ps(b, _mm256_loadu_ps(y + 48), o6);
                o7 = _mm256_fmadd_ps(b, _mm256_loadu_ps(y + 56), o7);
            }
        } else {
            for (uint64_t i = 0; i < n; i++, y += kp) {
                __m256 b = _mm256_broadcast_ss(w ? w + i : &one);
#define ACC(q, x) if (nv > q) x = _mm256_fmadd_ps(b, _mm256_loadu_ps(y + 8 * q), x);
                ACC(0, o0) ACC(1, o1) ACC(2, o2) ACC(3, o3) ACC(4, o4) ACC(5, o5) ACC(6, o6)
#undef ACC
            }
        }
#define STO(q, x) if (nv > q) _mm256_storeu_ps(out + c0 + 8 * q, x);
        STO(0, o0) STO(1, o1) STO(2, o2) STO(3, o3) STO(4, o4) STO(5, o5) STO(6, o6) STO(7, o7)
#undef STO
    }
}

TGT static void rows_scale_avx2(float *Yb, uint64_t n, int k, const float *s)
{
    const int kp = hr_als_kpad(k);
    for (uint64_t i = 0; i < n; i++) {
        float *y = Yb + i * (uint64_t)kp;
        __m256 b = _mm256_broadcast_ss(s + i);
        for (int c = 0; c < kp; c += 8) _mm256_storeu_ps(y + c, _mm256_mul_ps(b, _mm256_loadu_ps(y + c)));
    }
}

/* a . b over kp (both zero-padded): one chain, reduced as hsum8 reduces a row. */
TGT static float vdot_avx2(const float *a, const float *b, int k)
{
    const int kp = hr_als_kpad(k);
    __m256 s = _mm256_setzero_ps();
    for (int c = 0; c < kp; c += 8) s = _mm256_fmadd_ps(_mm256_loadu_ps(a + c), _mm256_loadu_ps(b + c), s);
    __m256 t = _mm256_hadd_ps(s, s);
    t = _mm256_hadd_ps(t, t);
    return _mm_cvtss_f32(_mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1)));
}

TGT static float cg_step_avx2(float *x, float *p, float *r, const float *ap, float a, int k)
{
    const int kp = hr_als_kpad(k);
    const __m256 va = _mm256_set1_ps(a);
    int j = 0;
    for (; j + 8 <= k; j += 8) _mm256_storeu_ps(x + j, _mm256_fmadd_ps(va, _mm256_loadu_ps(p + j), _mm256_loadu_ps(x + j)));
    for (; j < k; j++) x[j] = fmaf(a, p[j], x[j]);
    __m256 s = _mm256_setzero_ps();
    for (int c = 0; c < kp; c += 8) {
        __m256 rc = _mm256_fnmadd_ps(va, _mm256_loadu_ps(ap + c), _mm256_loadu_ps(r + c));
        _mm256_storeu_ps(r + c, rc);
        s = _mm256_fmadd_ps(rc, rc, s);
    }
    __m256 t = _mm256_hadd_ps(s, s);
    t = _mm256_hadd_ps(t, t);
    return _mm_cvtss_f32(_mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1)));
}

TGT static void xpby_avx2(const float *r, float beta, float *p, int k)
{
    const int kp = hr_als_kpad(k);
    const __m256 vb = _mm256_set1_ps(beta);
    for (int c = 0; c < kp; c += 8) _mm256_storeu_ps(p + c, _mm256_fmadd_ps(vb, _mm256_loadu_ps(p + c), _mm256_loadu_ps(r + c)));
}

#define HAVE_AVX2_KERNELS 1

/* ---- AVX-512 -------------------------------------------------------------------------------- */
#include "solvers/avx512.h"

/* rows_dot sixteen rows at a time: rows i and i + 8 share a register (one in each half), so
 * each row keeps its eight chains of dot8 (lane q: the columns = q mod 8, in order) and the
 * same hsum8 tree afterwards - the same bits - for half the FMA instructions. */
TGT512 static void rows_dot_avx512(const float *Yb, uint64_t n, int k, const float *v, float *s)
{
    const int kp = hr_als_kpad(k);
    uint64_t i0 = 0;
    for (; i0 + 16 <= n; i0 += 16) {
        const float *y = Yb + i0 * (uint64_t)kp, *z = y + 8 * (uint64_t)kp;
        __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
        for (int c = 0; c < kp; c += 8) {
            const __m512 vc = _mm512_castpd_ps(_mm512_broadcast_f64x4(_mm256_castps_pd(_mm256_loadu_ps(v + c))));
#define PAIR(r) _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castpd256_pd512(_mm256_castps_pd(_mm256_loadu_ps(y + (r) * kp + c))), \
                                                     _mm256_castps_pd(_mm256_loadu_ps(z + (r) * kp + c)), 1))
            a0 = _mm512_fmadd_ps(PAIR(0), vc, a0);
            a1 = _mm512_fmadd_ps(PAIR(1), vc, a1);
            a2 = _mm512_fmadd_ps(PAIR(2), vc, a2);
            a3 = _mm512_fmadd_ps(PAIR(3), vc, a3);
            a4 = _mm512_fmadd_ps(PAIR(4), vc, a4);
            a5 = _mm512_fmadd_ps(PAIR(5), vc, a5);
            a6 = _mm512_fmadd_ps(PAIR(6), vc, a6);
            a7 = _mm512_fmadd_ps(PAIR(7), vc, a7);
#undef PAIR
        }
#define LO(a) _mm512_castps512_ps256(a)
#define HI(a) _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a), 1))
        _mm256_storeu_ps(s + i0, hsum8(LO(a0), LO(a1), LO(a2), LO(a3), LO(a4), LO(a5), LO(a6), LO(a7)));
        _mm256_storeu_ps(s + i0 + 8, hsum8(HI(a0), HI(a1), HI(a2), HI(a3), HI(a4), HI(a5), HI(a6), HI(a7)));
#undef LO
#undef HI
    }
    if (i0 < n) rows_dot_avx2(Yb + i0 * (uint64_t)kp, n - i0, k, v, s + i0);
}

/* gemv_cols with 16 columns to a vector (the last one masked when kp is an odd multiple of 8),
 * NV <= 12 (24 accumulators): the same chains, so the same bits as the AVX2 kernel. */
TGT512 static INL void gemv_cols512(const float *restrict p, const float *restrict G, int k, int ldg, int c0,
                                    const int NV, __mmask16 m, float *restrict c, __m512 sgn)
{
    __m512 e0 = _mm512_setzero_ps(), e1 = e0, e2 = e0, e3 = e0, e4 = e0, e5 = e0, e6 = e0, e7 = e0, e8 = e0, e9 = e0,
           e10 = e0, e11 = e0, o0 = e0, o1 = e0, o2 = e0, o3 = e0, o4 = e0, o5 = e0, o6 = e0, o7 = e0, o8 = e0,
           o9 = e0, o10 = e0, o11 = e0, a, b;
    const float *g = G + c0;
    int j = 0;
#define MK(q) (NV - 1 > q ? (__mmask16)0xffff : m)
#define ACC(q, e, o) if (NV > q) { e = _mm512_fmadd_ps(a, _mm512_maskz_loadu_ps(MK(q), g + 16 * q), e); \
                                   o = _mm512_fmadd_ps(b, _mm512_maskz_loadu_ps(MK(q), g + ldg + 16 * q), o); }
    for (; j + 2 <= k; j += 2, g += 2 * (size_t)ldg) {
        a = _mm512_set1_ps(p[j]);
        b = _mm512_set1_ps(p[j + 1]);
        ACC(0, e0, o0) ACC(1, e1, o1) ACC(2, e2, o2) ACC(3, e3, o3) ACC(4, e4, o4) ACC(5, e5, o5) ACC(6, e6, o6)
        ACC(7, e7, o7) ACC(8, e8, o8) ACC(9, e9, o9) ACC(10, e10, o10) ACC(11, e11, o11)
    }
#undef ACC
    if (j < k) {
        a = _mm512_set1_ps(p[j]);
#define ACC(q, e) if (NV > q) e = _mm512_fmadd_ps(a, _mm512_maskz_loadu_ps(MK(q), g + 16 * q), e);
        ACC(0, e0) ACC(1, e1) ACC(2, e2) ACC(3, e3) ACC(4, e4) ACC(5, e5) ACC(6, e6) ACC(7, e7) ACC(8, e8) ACC(9, e9)
        ACC(10, e10) ACC(11, e11)
#undef ACC
    }
#define ST(q, e, o) if (NV > q) _mm512_mask_storeu_ps(c + c0 + 16 * q, MK(q), \
        _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(_mm512_add_ps(e, o)), _mm512_castps_si512(sgn))));
    ST(0, e0, o0) ST(1, e1, o1) ST(2, e2, o2) ST(3, e3, o3) ST(4, e4, o4) ST(5, e5, o5) ST(6, e6, o6) ST(7, e7, o7)
    ST(8, e8, o8) ST(9, e9, o9) ST(10, e10, o10) ST(11, e11, o11)
#undef ST
#undef MK
}

/* Columns [0, k8): passes of 8 vectors while more than 12 remain, then one pass of the rest. */
TGT512 static void gemv_avx512(const float *p, const float *G, int ldg, int k, float *c, int negate)
{
    const int k8 = k / 8 * 8;
    const __m512 sgn = _mm512_set1_ps(negate ? -0.0f : 0.0f);
    int c0 = 0;
    for (; k8 - c0 > 192; c0 += 128) gemv_cols512(p, G, k, ldg, c0, 8, 0xffff, c, sgn);
    const __mmask16 m = hr_avx512_head((k8 - c0) % 16 ? 8 : 16);
    switch ((k8 - c0 + 15) / 16) {
#define NVC(q) case q: gemv_cols512(p, G, k, ldg, c0, q, m, c, sgn); break;
    NVC(1) NVC(2) NVC(3) NVC(4) NVC(5) NVC(6) NVC(7) NVC(8) NVC(9) NVC(10) NVC(11) NVC(12)
#undef NVC
    default: break;
    }
}
#define HAVE_AVX512_KERNELS 1
#endif

/* ---- dispatch --------------------------------------------------------------------------------- */

void hr_als_gemm_g(const float *P, int nb, const float *G, int ldg, int k, float *C, int negate)
{
    const size_t kp = (size_t)hr_als_kpad(k);
    const int k8 = k / 8 * 8;
    for (int r = 0; r < nb; r++) {
        const float *p = P + r * kp;
        float *c = C + r * kp;
#ifdef HAVE_AVX512_KERNELS
        if (hr_als_simd_level() >= 2) gemv_avx512(p, G, ldg, k, c, negate);
        else
#endif
#ifdef HAVE_AVX2_KERNELS
        if (hr_als_simd_level()) gemv_avx2(p, G, ldg, k, c, negate);
        else
#endif
        gemv_c(p, G, ldg, k, c, negate);
        /* the last k mod 8 columns: G is symmetric, so column q is row q, one dot with p */
        for (int q = k8; q < k; q++) {
            hr_als_rows_dot(G + (size_t)q * ldg, 1, k, p, c + q);
            if (negate) c[q] = -c[q];
        }
        for (size_t q = (size_t)k; q < kp; q++) c[q] = 0.0f;
    }
}

void hr_als_rows_dot(const float *Yb, uint64_t n, int k, const float *v, float *s)
{
#ifdef HAVE_AVX512_KERNELS
    if (hr_als_simd_level() >= 2) {
        rows_dot_avx512(Yb, n, k, v, s);
        return;
    }
#endif
#ifdef HAVE_AVX2_KERNELS
    if (hr_als_simd_level()) {
        rows_dot_avx2(Yb, n, k, v, s);
        return;
    }
#endif
    rows_dot_c(Yb, n, k, v, s);
}

void hr_als_rows_axpy(const float *Yb, uint64_t n, int k, const float *w, float *out)
{
#ifdef HAVE_AVX2_KERNELS
    if (hr_als_simd_level()) {
        rows_axpy_avx2(Yb, n, k, w, out);
        return;
    }
#endif
    rows_axpy_c(Yb, n, k, w, out);
}

#ifdef HAVE_AVX2_KERNELS
/* The sums of columns [c0, c0 + 8 NV) over the copied rows, from the copies (ld kp). */
TGT static INL void sums_from_copies(const float *restrict dst, int kp, uint64_t n, const float *restrict wt, int c0,
                                     float *restrict sy, float *restrict ty, const int NV)
{
    const __m256 one = _mm256_set1_ps(1.0f);
    __m256 s0 = _mm256_loadu_ps(sy + c0), t0 = _mm256_loadu_ps(ty + c0), s1 = s0, s2 = s0, s3 = s0, t1 = t0, t2 = t0,
           t3 = t0;
    if (NV > 1) { s1 = _mm256_loadu_ps(sy + c0 + 8); t1 = _mm256_loadu_ps(ty + c0 + 8); }
    if (NV > 2) { s2 = _mm256_loadu_ps(sy + c0 + 16); t2 = _mm256_loadu_ps(ty + c0 + 16); }
    if (NV > 3) { s3 = _mm256_loadu_ps(sy + c0 + 24); t3 = _mm256_loadu_ps(ty + c0 + 24); }
    const float *d = dst + c0;
    for (uint64_t j = 0; j < n; j++, d += kp) {
        const __m256 tv = _mm256_broadcast_ss(wt + j);
#define ACC(v, a, b) if (NV > v) { const __m256 x = _mm256_loadu_ps(d + 8 * (v)); \
                                   a = _mm256_fmadd_ps(one, x, a); b = _mm256_fmadd_ps(tv, x, b); }
        ACC(0, s0, t0) ACC(1, s1, t1) ACC(2, s2, t2) ACC(3, s3, t3)
#undef ACC
    }
    _mm256_storeu_ps(sy + c0, s0); _mm256_storeu_ps(ty + c0, t0);
    if (NV > 1) { _mm256_storeu_ps(sy + c0 + 8, s1); _mm256_storeu_ps(ty + c0 + 8, t1); }
    if (NV > 2) { _mm256_storeu_ps(sy + c0 + 16, s2); _mm256_storeu_ps(ty + c0 + 16, t2); }
    if (NV > 3) { _mm256_storeu_ps(sy + c0 + 24, s3); _mm256_storeu_ps(ty + c0 + 24, t3); }
}

/* AVX2 has 16 registers: 32 columns of sums (8 registers) at a time.  The copy runs first, as
 * whole vectors (the padding gets zeros), then the sums in blocks of 32 columns from the copies,
 * which the copy left in the cache: the same chains as a row-by-row sum in memory, without its
 * store-to-load dependence from one row to the next. */
TGT static uint64_t gather_explicit_avx2(float *dst, int kp, const float *Y, int k, uint64_t ncols, const uint32_t *col,
                                         const float *val, uint64_t n, uint64_t ahead, const float *ybias, float mu,
                                         float *wt, float *sy, float *ty, float *tsum)
{
    const uint64_t done = gather_checked(col, n, ncols);
    float ts = *tsum;
    for (uint64_t j = 0; j < done; j++) {
        const float *y = gather_entry(Y, k, ncols, col, val, j, n, ahead, ybias, mu, wt);
        ts += wt[j];
        float *d = dst + j * (uint64_t)kp;
        int q = 0;
        for (; q + 8 <= k; q += 8) _mm256_storeu_ps(d + q, _mm256_loadu_ps(y + q));
        if (q < k) _mm256_storeu_ps(d + q, hr_avx2_load_head(y + q, k - q));
    }
    for (int c0 = 0; c0 < kp; c0 += 32) {
        switch ((kp - c0) / 8 < 4 ? (kp - c0) / 8 : 4) {
        case 1: sums_from_copies(dst, kp, done, wt, c0, sy, ty, 1); break;
        case 2: sums_from_copies(dst, kp, done, wt, c0, sy, ty, 2); break;
        case 3: sums_from_copies(dst, kp, done, wt, c0, sy, ty, 3); break;
        default: sums_from_copies(dst, kp, done, wt, c0, sy, ty, 4); break;
        }
    }
    *tsum = ts;
    return done;
}
#endif

#ifdef HAVE_AVX512_KERNELS
/* NV (<= 8) vectors of 16 per row, sy and ty held in registers across the rows: per row only
 * its loads, stores and FMAs.  Before, a call per row added to sy and ty in memory, and each
 * row's sums waited for the previous row's stores: the gather ran at half the speed of a plain
 * copy of the same rows. */
TGT512 static INL uint64_t gather_explicit512(float *restrict dst, int kp, const float *restrict Y, int k, uint64_t ncols,
                                              const uint32_t *restrict col, const float *restrict val, uint64_t n,
                                              uint64_t ahead, const float *restrict ybias, float mu, float *restrict wt,
                                              float *restrict sy, float *restrict ty, float *restrict tsum, const int NV,
                                              const int FULL)
{
    float ts = *tsum;
    const __mmask16 ml = hr_avx512_head(k - 16 * (NV - 1)), ms = hr_avx512_head(kp - 16 * (NV - 1));
    const __m512 one = _mm512_set1_ps(1.0f);
    __m512 s0, s1, s2, s3, s4, s5, s6, s7, t0, t1, t2, t3, t4, t5, t6, t7;
    s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = t0 = t1 = t2 = t3 = t4 = t5 = t6 = t7 = _mm512_setzero_ps();
#define M(v) ((v) == NV - 1 ? ms : (__mmask16)0xffff)
#define LDS(v, a, b) if (NV > v) { a = _mm512_maskz_loadu_ps(M(v), sy + 16 * (v)); b = _mm512_maskz_loadu_ps(M(v), ty + 16 * (v)); }
    LDS(0, s0, t0) LDS(1, s1, t1) LDS(2, s2, t2) LDS(3, s3, t3) LDS(4, s4, t4) LDS(5, s5, t5) LDS(6, s6, t6) LDS(7, s7, t7)
#undef LDS
    const uint64_t done = gather_checked(col, n, ncols);
    for (uint64_t j = 0; j < done; j++) {
        /* k as a constant where it is one (FULL: k = 16 NV = kp): the prefetches unrolled, the
         * row's address a shift, no masks (solvers/als_gather.h; measured on the fused pass of
         * solvers/als_gram.c, which shares this loop: 6-8% less time than with k a variable) */
        const float *y = gather_entry(Y, FULL ? 16 * NV : k, ncols, col, val, j, n, ahead, ybias, mu, wt);
        ts += wt[j];
        float *d = dst + j * (uint64_t)(FULL ? 16 * NV : kp);
        const __m512 tv = _mm512_set1_ps(wt[j]);
#define ROW(v, a, b)                                                                                          \
        if (NV > v) {                                                                                         \
            const __m512 x = (v) == NV - 1 && !FULL ? _mm512_maskz_loadu_ps(ml, y + 16 * (v))                 \
                                                    : _mm512_loadu_ps(y + 16 * (v));                          \
            if ((v) == NV - 1 && !FULL) _mm512_mask_storeu_ps(d + 16 * (v), ms, x); /* zeros from k to kp */  \
            else _mm512_storeu_ps(d + 16 * (v), x);                                                           \
            a = _mm512_fmadd_ps(one, x, a);                                                                   \
            b = _mm512_fmadd_ps(tv, x, b);                                                                    \
        }
        ROW(0, s0, t0) ROW(1, s1, t1) ROW(2, s2, t2) ROW(3, s3, t3) ROW(4, s4, t4) ROW(5, s5, t5) ROW(6, s6, t6)
        ROW(7, s7, t7)
#undef ROW
    }
#define STS(v, a, b) if (NV > v) { _mm512_mask_storeu_ps(sy + 16 * (v), M(v), a); _mm512_mask_storeu_ps(ty + 16 * (v), M(v), b); }
    STS(0, s0, t0) STS(1, s1, t1) STS(2, s2, t2) STS(3, s3, t3) STS(4, s4, t4) STS(5, s5, t5) STS(6, s6, t6) STS(7, s7, t7)
#undef STS
#undef M
    *tsum = ts;
    return done;
}

TGT512 static uint64_t gather_explicit_avx512(float *dst, int kp, const float *Y, int k, uint64_t ncols,
                                              const uint32_t *col, const float *val, uint64_t n, uint64_t ahead,
                                              const float *ybias, float mu, float *wt, float *sy, float *ty, float *tsum)
{
    switch ((k + 15) / 16) {
#define NVC(v) case v: return k == 16 * (v) ? gather_explicit512(dst, kp, Y, k, ncols, col, val, n, ahead, ybias, mu, wt, \
                                                                   sy, ty, tsum, v, 1)                               \
                                              : gather_explicit512(dst, kp, Y, k, ncols, col, val, n, ahead, ybias, mu, wt, \
                                                                   sy, ty, tsum, v, 0);
    NVC(1) NVC(2) NVC(3) NVC(4) NVC(5) NVC(6) NVC(7) NVC(8)
#undef NVC
    default: return 0; /* k <= 128: not reached */
    }
}
#endif

uint64_t hr_als_gather_explicit(float *dst, int kp, const float *Y, int k, uint64_t ncols, const uint32_t *col,
                                const float *val, uint64_t n, uint64_t ahead, const float *ybias, float mu, float *wt,
                                float *sy, float *ty, float *tsum)
{
#ifdef HAVE_AVX512_KERNELS
    if (hr_als_simd_level() >= 2 && k <= 128)
        return gather_explicit_avx512(dst, kp, Y, k, ncols, col, val, n, ahead, ybias, mu, wt, sy, ty, tsum);
#endif
#ifdef HAVE_AVX2_KERNELS
    if (hr_als_simd_level())
        return gather_explicit_avx2(dst, kp, Y, k, ncols, col, val, n, ahead, ybias, mu, wt, sy, ty, tsum);
#endif
    float ts = *tsum;
    const uint64_t done = gather_checked(col, n, ncols);
    for (uint64_t j = 0; j < done; j++) {
        const float *y = gather_entry(Y, k, ncols, col, val, j, n, ahead, ybias, mu, wt);
        ts += wt[j];
        float *d = dst + j * (uint64_t)kp;
        memcpy(d, y, sizeof(float) * (size_t)k);
        memset(d + k, 0, sizeof(float) * (size_t)(kp - k));
        for (int q = 0; q < k; q++) sy[q] += 1.0f * d[q];
        for (int q = 0; q < k; q++) ty[q] += wt[j] * d[q];
    }
    *tsum = ts;
    return done;
}

void hr_als_rows_scale(float *Yb, uint64_t n, int k, const float *s)
{
#ifdef HAVE_AVX2_KERNELS
    if (hr_als_simd_level()) {
        rows_scale_avx2(Yb, n, k, s);
        return;
    }
#endif
    rows_scale_c(Yb, n, k, s);
}

void hr_als_spmv_weights(float *s, const float *wt, uint64_t n, int residual)
{
    if (residual)
        for (uint64_t i = 0; i < n; i++) s[i] = (1.0f + wt[i]) - wt[i] * s[i];
    else
        for (uint64_t i = 0; i < n; i++) s[i] *= wt[i];
}

void hr_als_spmv_rows(const float *Yb, const float *wt, uint64_t n, int k, const float *v, float *out, int residual,
                      float *tmp)
{
    hr_als_rows_dot(Yb, n, k, v, tmp);
    hr_als_spmv_weights(tmp, wt, n, residual);
    hr_als_rows_axpy(Yb, n, k, tmp, out);
}

float hr_als_vdot(const float *a, const float *b, int k)
{
#ifdef HAVE_AVX2_KERNELS
    if (hr_als_simd_level()) return vdot_avx2(a, b, k);
#endif
    return vdot_c(a, b, k);
}

float hr_als_cg_step(float *x, float *p, float *r, const float *ap, float a, int k)
{
#ifdef HAVE_AVX2_KERNELS
    if (hr_als_simd_level()) return cg_step_avx2(x, p, r, ap, a, k);
#endif
    return cg_step_c(x, p, r, ap, a, k);
}

void hr_als_cg_xpby(const float *r, float beta, float *p, int k)
{
#ifdef HAVE_AVX2_KERNELS
    if (hr_als_simd_level()) {
        xpby_avx2(r, beta, p, k);
        return;
    }
#endif
    xpby_c(r, beta, p, k);
}
