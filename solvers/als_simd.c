/* solvers/als_simd.c — the ALS compute kernels (solvers/als_simd.h) but the batched Cholesky
 * (solvers/als_chol.c): AVX2 + FMA versions chosen at run time, and portable versions with the
 * same loop structure. */
#include "solvers/als_simd.h"

#include <math.h>
#include <string.h>

static int simd_level = -1; /* -1: not decided yet */

static int cpu_has_avx2(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

int hr_als_simd_level(void)
{
    if (simd_level < 0) simd_level = cpu_has_avx2();
    return simd_level;
}

int hr_als_simd_set(int level)
{
    int old = hr_als_simd_level();
    simd_level = level && cpu_has_avx2();
    return old;
}

/* Rows of A per pass of the Gram tiles: about 24 KiB of rows, so they stay in the L1 cache
 * while every tile of C walks over them. */
static uint64_t gram_rows_per_pass(int lda)
{
    uint64_t r = (uint64_t)(24576 / (4 * lda));
    return r < 8 ? 8 : r;
}

/* ---- portable kernels ------------------------------------------------------------------------- */

static void gram_upper_c(const float *A, uint64_t n, int lda, int k, float *C, int ldc, int accumulate)
{
    if (!accumulate)
        for (int p = 0; p < k; p++) memset(C + (size_t)p * ldc + p, 0, sizeof(float) * (size_t)(k - p));
    for (uint64_t i = 0; i < n; i++) {
        const float *a = A + i * (uint64_t)lda;
        for (int p = 0; p < k; p++) {
            float ap = a[p], *c = C + (size_t)p * ldc;
            for (int q = p; q < k; q++) c[q] += ap * a[q];
        }
    }
}

static void gemm_g_c(const float *P, int nb, const float *G, int k, float *C, int negate)
{
    const int kp = hr_als_kpad(k);
    for (int r = 0; r < nb; r++) {
        float *c = C + (size_t)r * kp;
        memset(c, 0, sizeof(float) * (size_t)kp);
        for (int j = 0; j < k; j++) {
            float pj = P[(size_t)r * kp + j];
            const float *g = G + (size_t)j * kp;
            for (int q = 0; q < kp; q++) c[q] += pj * g[q];
        }
        if (negate)
            for (int q = 0; q < kp; q++) c[q] = -c[q];
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

static void gather_sums_c(float *dst, const float *src, int k, float t, float *sy, float *ty)
{
    memcpy(dst, src, sizeof(float) * (size_t)k);
    memset(dst + k, 0, sizeof(float) * (size_t)(hr_als_kpad(k) - k));
    for (int q = 0; q < k; q++) sy[q] += 1.0f * dst[q];
    for (int q = 0; q < k; q++) ty[q] += t * dst[q];
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

/* One R x (8 W) tile of C over rows [i0, i1) of A: C[p0 + r][q0 ..] (+)= sum_i a_i[p0 + r] a_i[q0 ..].
 * W = 2: R <= 6 (12 accumulators, 2 row loads and 1 broadcast: 15 of 16 registers); W = 1:
 * R <= 8 (8 accumulators, enough independent chains to hide the FMA latency). */
TGT static INL void gram_tile(const float *restrict A, uint64_t i0, uint64_t i1, int lda, int p0, const int R,
                              int q0, const int W, float *restrict C, int ldc, int acc)
{
    float *cp = C + (size_t)p0 * ldc + q0;
#define LD(r, w) ((R > r && W > w && acc) ? _mm256_loadu_ps(cp + (size_t)(r) * ldc + 8 * (w)) : _mm256_setzero_ps())
    __m256 c00 = LD(0, 0), c01 = LD(0, 1), c10 = LD(1, 0), c11 = LD(1, 1), c20 = LD(2, 0), c21 = LD(2, 1),
           c30 = LD(3, 0), c31 = LD(3, 1), c40 = LD(4, 0), c41 = LD(4, 1), c50 = LD(5, 0), c51 = LD(5, 1),
           c60 = LD(6, 0), c70 = LD(7, 0);
#undef LD
    const float *a = A + i0 * (uint64_t)lda;
    for (uint64_t i = i0; i < i1; i++, a += lda) {
        __m256 y0 = _mm256_loadu_ps(a + q0), y1 = W > 1 ? _mm256_loadu_ps(a + q0 + 8) : y0, b;
#define ROW(r, x0, x1)                                             \
        if (R > r) {                                               \
            b = _mm256_broadcast_ss(a + p0 + r);                   \
            x0 = _mm256_fmadd_ps(b, y0, x0);                       \
            if (W > 1) x1 = _mm256_fmadd_ps(b, y1, x1);            \
        }
        ROW(0, c00, c01) ROW(1, c10, c11) ROW(2, c20, c21) ROW(3, c30, c31) ROW(4, c40, c41) ROW(5, c50, c51)
        ROW(6, c60, c60) ROW(7, c70, c70)
#undef ROW
    }
#define ST(r, w, x) if (R > r && W > w) _mm256_storeu_ps(cp + (size_t)(r) * ldc + 8 * (w), x);
    ST(0, 0, c00) ST(0, 1, c01) ST(1, 0, c10) ST(1, 1, c11) ST(2, 0, c20) ST(2, 1, c21)
    ST(3, 0, c30) ST(3, 1, c31) ST(4, 0, c40) ST(4, 1, c41) ST(5, 0, c50) ST(5, 1, c51) ST(6, 0, c60) ST(7, 0, c70)
#undef ST
}

/* Rows [p0, p1) of a column block: tiles of 6 rows (W = 2) or 8 rows (W = 1), then the rest. */
TGT static void gram_rows(const float *A, uint64_t i0, uint64_t i1, int lda, int p0, int p1, int q0, int W, float *C,
                          int ldc, int acc)
{
    const int full = W == 2 ? 6 : 8;
    for (; p0 + full <= p1; p0 += full) {
        if (W == 2) gram_tile(A, i0, i1, lda, p0, 6, q0, 2, C, ldc, acc);
        else gram_tile(A, i0, i1, lda, p0, 8, q0, 1, C, ldc, acc);
    }
    /* the remaining rows: a shorter tile (R must be a constant for the registers; W = 2 leaves
     * at most 5) */
#define REM(r) case r: { if (W == 1) gram_tile(A, i0, i1, lda, p0, r, q0, 1, C, ldc, acc); \
                         else if (r <= 5) gram_tile(A, i0, i1, lda, p0, r, q0, 2, C, ldc, acc); } break;
    switch (p1 - p0) { REM(1) REM(2) REM(3) REM(4) REM(5) REM(6) REM(7) default: break; }
#undef REM
}

/* Column q of C, rows 8 b0 .. 8 (b0 + NB) - 1 capped at q, over rows [i0, i1) of A: the rows of
 * the column in the lanes, C[p][q] (+)= sum_i a_i[p] a_i[q] with a_i[q] broadcast.  Each element
 * is the same FMA chain as a tile's (a product is the same either way round), so the same bits;
 * the column's elements are strided in C, so they are loaded and stored a lane at a time, once
 * per call.  NB <= 12 accumulators and the broadcast: 13 of the 16 registers. */
TGT static INL void gram_col(const float *restrict A, uint64_t i0, uint64_t i1, int lda, int q, int b0, const int NB,
                             float *restrict C, int ldc, int acc)
{
    float t[12][8];
    for (int b = 0; b < NB; b++)
        for (int l = 0; l < 8; l++) {
            int p = 8 * (b0 + b) + l;
            t[b][l] = acc && p <= q ? C[(size_t)p * ldc + q] : 0.0f;
        }
    __m256 c0 = _mm256_setzero_ps(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0, c8 = c0, c9 = c0,
           c10 = c0, c11 = c0;
#define LDT(b, x) if (NB > b) x = _mm256_loadu_ps(t[b]);
    LDT(0, c0) LDT(1, c1) LDT(2, c2) LDT(3, c3) LDT(4, c4) LDT(5, c5) LDT(6, c6) LDT(7, c7) LDT(8, c8) LDT(9, c9)
    LDT(10, c10) LDT(11, c11)
#undef LDT
    const float *a = A + i0 * (uint64_t)lda + 8 * b0;
    for (uint64_t i = i0; i < i1; i++, a += lda) {
        const __m256 y = _mm256_broadcast_ss(a - 8 * b0 + q);
#define COL(b, x) if (NB > b) x = _mm256_fmadd_ps(_mm256_loadu_ps(a + 8 * (b)), y, x);
        COL(0, c0) COL(1, c1) COL(2, c2) COL(3, c3) COL(4, c4) COL(5, c5) COL(6, c6) COL(7, c7) COL(8, c8) COL(9, c9)
        COL(10, c10) COL(11, c11)
#undef COL
    }
#define STT(b, x) if (NB > b) _mm256_storeu_ps(t[b], x);
    STT(0, c0) STT(1, c1) STT(2, c2) STT(3, c3) STT(4, c4) STT(5, c5) STT(6, c6) STT(7, c7) STT(8, c8) STT(9, c9)
    STT(10, c10) STT(11, c11)
#undef STT
    for (int b = 0; b < NB; b++)
        for (int l = 0; l < 8; l++) {
            int p = 8 * (b0 + b) + l;
            if (p <= q) C[(size_t)p * ldc + q] = t[b][l];
        }
}

/* Column q, all its rows 0..q: 12 row blocks at a time. */
TGT static void gram_col_all(const float *A, uint64_t i0, uint64_t i1, int lda, int q, float *C, int ldc, int acc)
{
    const int nb = q / 8 + 1;
    for (int b0 = 0; b0 < nb; b0 += 12) {
        switch (nb - b0 < 12 ? nb - b0 : 12) {
#define NBC(r) case r: gram_col(A, i0, i1, lda, q, b0, r, C, ldc, acc); break;
        NBC(1) NBC(2) NBC(3) NBC(4) NBC(5) NBC(6) NBC(7) NBC(8) NBC(9) NBC(10) NBC(11) NBC(12)
#undef NBC
        default: break;
        }
    }
}

/* The upper triangle in column blocks of 16: rows above the block's second half need all 16
 * columns (6 x 16 tiles), the 8 rows of the second half only its last 8 columns (one 8 x 8
 * tile), so little is computed below the diagonal (k = 64: 2304 elements for 2080).
 * When k is not a multiple of 8 (from k = 32 on), the last k mod 8 columns go one at a time
 * with the rows in the lanes (gram_col): an 8-wide tile for them would compute every row's
 * whole padding too (k = 65: 2824 elements for 2145 instead of 2376). */
TGT static void gram_upper_avx2(const float *A, uint64_t n, int lda, int k, float *C, int ldc, int accumulate)
{
    const int k8 = k >= 32 ? k / 8 * 8 : k, kp = hr_als_kpad(k8);
    const uint64_t pass = gram_rows_per_pass(lda);
    if (n == 0) {
        if (!accumulate) gram_upper_c(A, 0, lda, k, C, ldc, 0);
        return;
    }
    for (uint64_t i0 = 0; i0 < n; i0 += pass) {
        uint64_t i1 = n - i0 < pass ? n : i0 + pass;
        int acc = accumulate || i0 > 0;
        for (int q0 = 0; q0 < kp; q0 += 16) {
            int top = q0 + 8 < k8 ? q0 + 8 : k8;
            if (kp - q0 >= 16) {
                gram_rows(A, i0, i1, lda, 0, top, q0, 2, C, ldc, acc);
                if (top < k8) gram_rows(A, i0, i1, lda, top, q0 + 16 < k8 ? q0 + 16 : k8, q0 + 8, 1, C, ldc, acc);
            } else {
                gram_rows(A, i0, i1, lda, 0, top, q0, 1, C, ldc, acc);
            }
        }
        for (int q = k8; q < k; q++) gram_col_all(A, i0, i1, lda, q, C, ldc, acc);
    }
}

/* R x (8 W) tile of C = P G: rows r0.., columns q0..; one FMA chain over j per element.
 * W = 2: R <= 6; W = 3: R <= 4 (12 accumulators, 3 loads of G and a broadcast: 16 registers). */
TGT static INL void gemm_tile(const float *restrict P, int r0, const int R, const float *restrict G, int k, int kp,
                              int q0, const int W, float *restrict C, int negate)
{
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00,
           c40 = c00, c41 = c00, c50 = c00, c51 = c00, c02 = c00, c12 = c00, c22 = c00, c32 = c00;
    const float *p = P + (size_t)r0 * kp;
    for (int j = 0; j < k; j++) {
        const float *g = G + (size_t)j * kp + q0;
        __m256 g0 = _mm256_loadu_ps(g), g1 = W > 1 ? _mm256_loadu_ps(g + 8) : g0, g2 = W > 2 ? _mm256_loadu_ps(g + 16) : g0, b;
#define ROW(r, x0, x1, x2)                                         \
        if (R > r) {                                               \
            b = _mm256_broadcast_ss(p + (size_t)(r) * kp + j);     \
            x0 = _mm256_fmadd_ps(b, g0, x0);                       \
            if (W > 1) x1 = _mm256_fmadd_ps(b, g1, x1);            \
            if (W > 2) x2 = _mm256_fmadd_ps(b, g2, x2);            \
        }
        ROW(0, c00, c01, c02) ROW(1, c10, c11, c12) ROW(2, c20, c21, c22) ROW(3, c30, c31, c32)
        ROW(4, c40, c41, c41) ROW(5, c50, c51, c51)
#undef ROW
    }
    const __m256 sgn = _mm256_set1_ps(negate ? -0.0f : 0.0f);
    float *cp = C + (size_t)r0 * kp + q0;
#define ST(r, w, x) if (R > r && W > w) _mm256_storeu_ps(cp + (size_t)(r) * kp + 8 * (w), _mm256_xor_ps(x, sgn));
    ST(0, 0, c00) ST(0, 1, c01) ST(1, 0, c10) ST(1, 1, c11) ST(2, 0, c20) ST(2, 1, c21)
    ST(3, 0, c30) ST(3, 1, c31) ST(4, 0, c40) ST(4, 1, c41) ST(5, 0, c50) ST(5, 1, c51)
    ST(0, 2, c02) ST(1, 2, c12) ST(2, 2, c22) ST(3, 2, c32)
#undef ST
}

/* Column blocks of two vectors (6-row tiles), and one of three (4-row tiles) when kp / 8 is odd,
 * so that k = 65 (kp = 72) is three full-width blocks instead of four and a one-vector block
 * that is load-bound.  Each element stays one chain over j, whatever block it falls in. */
TGT static void gemm_g_avx2(const float *P, int nb, const float *G, int k, float *C, int negate)
{
    const int kp = hr_als_kpad(k), nv = kp / 8;
    for (int q0 = 0; q0 < kp;) {
        const int W = nv == 1 ? 1 : (q0 == 0 && nv % 2 == 1) ? 3 : 2;
        int r0 = 0;
        if (W == 3) {
            for (; r0 + 4 <= nb; r0 += 4) gemm_tile(P, r0, 4, G, k, kp, q0, 3, C, negate);
            switch (nb - r0) {
            case 1: gemm_tile(P, r0, 1, G, k, kp, q0, 3, C, negate); break;
            case 2: gemm_tile(P, r0, 2, G, k, kp, q0, 3, C, negate); break;
            case 3: gemm_tile(P, r0, 3, G, k, kp, q0, 3, C, negate); break;
            default: break;
            }
            q0 += 24;
            continue;
        }
        for (; r0 + 6 <= nb; r0 += 6)
            if (W == 2) gemm_tile(P, r0, 6, G, k, kp, q0, 2, C, negate);
            else gemm_tile(P, r0, 6, G, k, kp, q0, 1, C, negate);
        /* the remaining rows: a shorter tile, the same chain per element */
#define REM(r) case r: { if (W == 2) gemm_tile(P, r0, r, G, k, kp, q0, 2, C, negate); \
                         else gemm_tile(P, r0, r, G, k, kp, q0, 1, C, negate); } break;
        switch (nb - r0) { REM(1) REM(2) REM(3) REM(4) REM(5) default: break; }
#undef REM
        q0 += 8 * W;
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
    if (i0 < n) {
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

/* The copy with rows_axpy's two chains (w = 1: o = 1 y + o; w = t) continued in memory, not in
 * registers: the chains are the same, one row at a time. */
TGT static void gather_sums_avx2(float *dst, const float *src, int k, float t, float *sy, float *ty)
{
    const __m256 one = _mm256_set1_ps(1.0f), tv = _mm256_set1_ps(t);
    for (int j = 0; j < k; j += 8) {
        /* the last, partial vector gives 0 in the padding */
        __m256 y = k - j >= 8 ? _mm256_loadu_ps(src + j) : hr_avx2_load_head(src + j, k - j);
        _mm256_storeu_ps(dst + j, y);
        _mm256_storeu_ps(sy + j, _mm256_fmadd_ps(one, y, _mm256_loadu_ps(sy + j)));
        _mm256_storeu_ps(ty + j, _mm256_fmadd_ps(tv, y, _mm256_loadu_ps(ty + j)));
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
#endif

/* ---- dispatch --------------------------------------------------------------------------------- */

void hr_als_gram_upper(const float *A, uint64_t n, int lda, int k, float *C, int ldc, int accumulate)
{
#ifdef HAVE_AVX2_KERNELS
    if (hr_als_simd_level()) {
        gram_upper_avx2(A, n, lda, k, C, ldc, accumulate);
        return;
    }
#endif
    gram_upper_c(A, n, lda, k, C, ldc, accumulate);
}

void hr_als_gemm_g(const float *P, int nb, const float *G, int k, float *C, int negate)
{
#ifdef HAVE_AVX2_KERNELS
    if (hr_als_simd_level()) {
        gemm_g_avx2(P, nb, G, k, C, negate);
        return;
    }
#endif
    gemm_g_c(P, nb, G, k, C, negate);
}

void hr_als_rows_dot(const float *Yb, uint64_t n, int k, const float *v, float *s)
{
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

void hr_als_gather_sums(float *dst, const float *src, int k, float t, float *sy, float *ty)
{
#ifdef HAVE_AVX2_KERNELS
    if (hr_als_simd_level()) {
        gather_sums_avx2(dst, src, k, t, sy, ty);
        return;
    }
#endif
    gather_sums_c(dst, src, k, t, sy, ty);
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

void hr_als_spmv_rows(const float *Yb, const float *wt, uint64_t n, int k, const float *v, float *out, int residual,
                      float *tmp)
{
    hr_als_rows_dot(Yb, n, k, v, tmp);
    if (residual)
        for (uint64_t i = 0; i < n; i++) tmp[i] = (1.0f + wt[i]) - wt[i] * tmp[i];
    else
        for (uint64_t i = 0; i < n; i++) tmp[i] *= wt[i];
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
