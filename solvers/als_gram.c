/* solvers/als_gram.c — hr_als_gram_upper (solvers/als_simd.h), the Gram matrix A^T A of a
 * row's gathered rows: the explicit solver's normal matrices and the implicit Cholesky's data
 * part.  Portable, AVX2 + FMA and AVX-512 versions, chosen by hr_als_simd_level(); the same bits
 * at every level (each element one FMA chain over the rows in order). */
#include "solvers/als_simd.h"

#include <string.h>

#include "solvers/als_gather.h"

/* Rows of A per pass of the Gram tiles: n rows in equal passes of at most 32 KiB, so they stay
 * in the L1 cache while every tile of C walks over them.  Equal passes: at 24 KiB a pass and
 * no balancing, a 100-row row of k = 64 took a 96-row pass and a 4-row one, whose tiles mostly
 * moved C in and out (measured, one core: 2-4% of its Gram). */
static uint64_t gram_rows_per_pass(int lda, uint64_t n)
{
    uint64_t lim = (uint64_t)(32768 / (4 * lda));
    if (lim < 8) lim = 8;
    const uint64_t passes = (n + lim - 1) / lim;
    return passes > 1 ? (n + passes - 1) / passes : lim;
}

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

/* The column kernels' elements C[p][q], p = lanes b0 .. lanes (b0 + nb) - 1 (one vector of t per
 * lanes rows), are strided in C: copied to and from t a lane at a time (0 past q, or without acc). */
static void col_get(const float *C, int ldc, int q, int lanes, int b0, int nb, int acc, float *t)
{
    for (int i = 0; i < nb * lanes; i++) {
        int p = lanes * b0 + i;
        t[i] = acc && p <= q ? C[(size_t)p * ldc + q] : 0.0f;
    }
}

static void col_put(float *C, int ldc, int q, int lanes, int b0, int nb, const float *t)
{
    for (int i = 0; i < nb * lanes; i++) {
        int p = lanes * b0 + i;
        if (p <= q) C[(size_t)p * ldc + q] = t[i];
    }
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
    /* two pointers walking down the rows (their columns p0 and q0): the broadcasts address one
     * register plus a constant (see gram_tile512) */
    const float *ap = A + i0 * (uint64_t)lda + p0, *aq = A + i0 * (uint64_t)lda + q0;
    for (uint64_t i = i0; i < i1; i++, ap += lda, aq += lda) {
        __m256 y0 = _mm256_loadu_ps(aq), y1 = W > 1 ? _mm256_loadu_ps(aq + 8) : y0, b;
#define ROW(r, x0, x1)                                             \
        if (R > r) {                                               \
            b = _mm256_broadcast_ss(ap + r);                       \
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
    col_get(C, ldc, q, 8, b0, NB, acc, (float *)t);
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
    col_put(C, ldc, q, 8, b0, NB, (const float *)t);
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
    const uint64_t pass = gram_rows_per_pass(lda, n);
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
#define HAVE_AVX2_KERNELS 1

/* ---- AVX-512 kernels -------------------------------------------------------------------------- *
 * The same elements as the AVX2 ones, each the same FMA chain over the rows in the same order,
 * so the same bits (test_gram_upper compares the levels); twice the lanes per instruction, and
 * 32 registers for larger tiles.  Columns go 16 to a vector; a block narrower than 16 (k mod 16,
 * the last columns) runs under a lane mask, which reads and writes nothing outside it. */
#include "solvers/avx512.h"

/* One R x (16 W) tile of C over rows [i0, i1) of A: columns q0 .. q0 + 16 (W - 1) + (lanes in m)
 * of rows p0 .. p0 + R - 1 (the last vector masked by m).  W = 2: R <= 12 (24 accumulators, 2
 * row loads; the broadcasts fold into the FMAs); W = 1: R <= 16. */
TGT512 static INL void gram_tile512(const float *restrict A, uint64_t i0, uint64_t i1, int lda, int p0, const int R,
                                    int q0, const int W, __mmask16 m, float *restrict C, int ldc, int acc)
{
    float *cp = C + (size_t)p0 * ldc + q0;
    const __mmask16 m0 = W > 1 ? (__mmask16)0xffff : m;
#define LD(r, w) ((R > r && W > w && acc) ? _mm512_maskz_loadu_ps(w ? m : m0, cp + (size_t)(r) * ldc + 16 * (w)) \
                                          : _mm512_setzero_ps())
    __m512 c00 = LD(0, 0), c01 = LD(0, 1), c10 = LD(1, 0), c11 = LD(1, 1), c20 = LD(2, 0), c21 = LD(2, 1),
           c30 = LD(3, 0), c31 = LD(3, 1), c40 = LD(4, 0), c41 = LD(4, 1), c50 = LD(5, 0), c51 = LD(5, 1),
           c60 = LD(6, 0), c61 = LD(6, 1), c70 = LD(7, 0), c71 = LD(7, 1), c80 = LD(8, 0), c81 = LD(8, 1),
           c90 = LD(9, 0), c91 = LD(9, 1), ca0 = LD(10, 0), ca1 = LD(10, 1), cb0 = LD(11, 0), cb1 = LD(11, 1),
           cc0 = LD(12, 0), cd0 = LD(13, 0), ce0 = LD(14, 0), cf0 = LD(15, 0);
#undef LD
    /* two pointers walking down the rows (their columns p0 and q0): the broadcasts then address
     * one register plus a constant.  With a[p0 + r], GCC kept an address register per row r and
     * spilled them (perf annotate: the hottest instructions were the spills' reloads); measured,
     * one core, k = 64: the Gram of 40-400 rows in 7-12% less time. */
    const float *ap = A + i0 * (uint64_t)lda + p0, *aq = A + i0 * (uint64_t)lda + q0;
    for (uint64_t i = i0; i < i1; i++, ap += lda, aq += lda) {
        __m512 y0 = _mm512_maskz_loadu_ps(m0, aq), y1 = W > 1 ? _mm512_maskz_loadu_ps(m, aq + 16) : y0, b;
#define ROW(r, x0, x1)                                             \
        if (R > r) {                                               \
            b = _mm512_set1_ps(ap[r]);                             \
            x0 = _mm512_fmadd_ps(b, y0, x0);                       \
            if (W > 1) x1 = _mm512_fmadd_ps(b, y1, x1);            \
        }
        ROW(0, c00, c01) ROW(1, c10, c11) ROW(2, c20, c21) ROW(3, c30, c31) ROW(4, c40, c41) ROW(5, c50, c51)
        ROW(6, c60, c61) ROW(7, c70, c71) ROW(8, c80, c81) ROW(9, c90, c91) ROW(10, ca0, ca1) ROW(11, cb0, cb1)
        ROW(12, cc0, cc0) ROW(13, cd0, cd0) ROW(14, ce0, ce0) ROW(15, cf0, cf0)
#undef ROW
    }
#define ST(r, w, x) if (R > r && W > w) _mm512_mask_storeu_ps(cp + (size_t)(r) * ldc + 16 * (w), w ? m : m0, x);
    ST(0, 0, c00) ST(0, 1, c01) ST(1, 0, c10) ST(1, 1, c11) ST(2, 0, c20) ST(2, 1, c21) ST(3, 0, c30) ST(3, 1, c31)
    ST(4, 0, c40) ST(4, 1, c41) ST(5, 0, c50) ST(5, 1, c51) ST(6, 0, c60) ST(6, 1, c61) ST(7, 0, c70) ST(7, 1, c71)
    ST(8, 0, c80) ST(8, 1, c81) ST(9, 0, c90) ST(9, 1, c91) ST(10, 0, ca0) ST(10, 1, ca1) ST(11, 0, cb0)
    ST(11, 1, cb1) ST(12, 0, cc0) ST(13, 0, cd0) ST(14, 0, ce0) ST(15, 0, cf0)
#undef ST
}

/* Rows [p0, p1) of a column block: tiles of 12 rows (W = 2) or 16 rows (W = 1), then the rest. */
TGT512 static void gram_rows512(const float *A, uint64_t i0, uint64_t i1, int lda, int p0, int p1, int q0, int W,
                                __mmask16 m, float *C, int ldc, int acc)
{
    const int full = W == 2 ? 12 : 16;
    const __mmask16 all = 0xffff;
    for (; p0 + full <= p1; p0 += full) {
        /* a block of 16 columns with the mask as a constant: plain loads (a variable mask GCC
         * kept in memory and reloaded every row; measured, one core, k = 64: 0-2% less time) */
        if (W == 2) {
            if (m == all) gram_tile512(A, i0, i1, lda, p0, 12, q0, 2, all, C, ldc, acc);
            else gram_tile512(A, i0, i1, lda, p0, 12, q0, 2, m, C, ldc, acc);
        } else {
            if (m == all) gram_tile512(A, i0, i1, lda, p0, 16, q0, 1, all, C, ldc, acc);
            else gram_tile512(A, i0, i1, lda, p0, 16, q0, 1, m, C, ldc, acc);
        }
    }
#define REM(r) case r: { if (W == 1) gram_tile512(A, i0, i1, lda, p0, r, q0, 1, m, C, ldc, acc); \
                         else if (r <= 11) gram_tile512(A, i0, i1, lda, p0, r, q0, 2, m, C, ldc, acc); } break;
    switch (p1 - p0) {
    REM(1) REM(2) REM(3) REM(4) REM(5) REM(6) REM(7) REM(8) REM(9) REM(10) REM(11) REM(12) REM(13) REM(14) REM(15)
    default: break;
    }
#undef REM
}

/* gram_col with 16 rows of the column to a vector: C[p][q] (+)= sum_i a_i[p] a_i[q] for p in
 * 16 b0 .. 16 (b0 + NB) - 1 capped at q (lanes past q read nothing and are not stored). */
TGT512 static INL void gram_col512(const float *restrict A, uint64_t i0, uint64_t i1, int lda, int q, int b0,
                                   const int NB, float *restrict C, int ldc, int acc)
{
    float t[8][16];
    col_get(C, ldc, q, 16, b0, NB, acc, (float *)t);
    const __mmask16 last = hr_avx512_head(q + 1 - 16 * (b0 + NB - 1));
    __m512 c0 = _mm512_setzero_ps(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0;
#define LDT(b, x) if (NB > b) x = _mm512_loadu_ps(t[b]);
    LDT(0, c0) LDT(1, c1) LDT(2, c2) LDT(3, c3) LDT(4, c4) LDT(5, c5) LDT(6, c6) LDT(7, c7)
#undef LDT
    const float *a = A + i0 * (uint64_t)lda + 16 * b0;
    for (uint64_t i = i0; i < i1; i++, a += lda) {
        const __m512 y = _mm512_set1_ps(a[q - 16 * b0]);
#define COL(b, x) if (NB > b) x = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(NB - 1 > b ? (__mmask16)0xffff : last, \
                                                                         a + 16 * (b)), y, x);
        COL(0, c0) COL(1, c1) COL(2, c2) COL(3, c3) COL(4, c4) COL(5, c5) COL(6, c6) COL(7, c7)
#undef COL
    }
#define STT(b, x) if (NB > b) _mm512_storeu_ps(t[b], x);
    STT(0, c0) STT(1, c1) STT(2, c2) STT(3, c3) STT(4, c4) STT(5, c5) STT(6, c6) STT(7, c7)
#undef STT
    col_put(C, ldc, q, 16, b0, NB, (const float *)t);
}

TGT512 static void gram_col_all512(const float *A, uint64_t i0, uint64_t i1, int lda, int q, float *C, int ldc, int acc)
{
    const int nb = q / 16 + 1;
    for (int b0 = 0; b0 < nb; b0 += 8) {
        switch (nb - b0 < 8 ? nb - b0 : 8) {
#define NBC(r) case r: gram_col512(A, i0, i1, lda, q, b0, r, C, ldc, acc); break;
        NBC(1) NBC(2) NBC(3) NBC(4) NBC(5) NBC(6) NBC(7) NBC(8)
#undef NBC
        default: break;
        }
    }
}

/* A diagonal block of 16 columns d .. d + 15, its 136 elements in 9 FMAs a row instead of 16.
 * With x = a[d .. d + 15] and r_s = x rotated by s lanes (lane q: x[q + s mod 16]), the product
 * r_a * r_b holds in lane q the pair (q + a, q + b) mod 16: all 16 pairs at distance b - a (8,
 * twice, at distance 8).  Rotations by 1, 2, 5 and 8 give every distance 1 .. 8 as one of
 * their differences, so 4 rotations and 9 products (distance 0: x * x) cover the block once.
 * Each element is the same FMA chain over the rows as a tile's, so the same bits.  The
 * accumulators run over all n rows and go to and from C once a call through t (product e,
 * e = 0 .. 8, is distance e; C's (i, j), j >= i, is product j - i, lane i - a, when j - i <= 8,
 * else product 16 - j + i, lane j - a); the loops unroll to constant offsets. */
static const int diag_a[9] = { 0, 0, 0, 2, 1, 0, 2, 1, 0 }, diag_b[9] = { 0, 1, 2, 5, 5, 5, 8, 8, 8 };

/* The block's elements at cd (C + d ldc + d) to t, the accumulators' layout, and back. */
static INL void diag_get(const float *cd, int ldc, float t[9][16])
{
#pragma GCC unroll 9
    for (int e = 0; e < 9; e++)
#pragma GCC unroll 16
        for (int q = 0; q < 16; q++) {
            const int u = (q + diag_a[e]) & 15, v = (q + diag_b[e]) & 15, lo = u < v ? u : v, hi = u < v ? v : u;
            t[e][q] = cd[(size_t)lo * ldc + hi];
        }
}

static INL void diag_put(float *cd, int ldc, const float t[9][16])
{
#pragma GCC unroll 16
    for (int i = 0; i < 16; i++) {
        float *ci = cd + (size_t)i * ldc;
#pragma GCC unroll 16
        for (int j = i; j < 16; j++)
            ci[j] = j - i <= 8 ? t[j - i][(i - diag_a[j - i]) & 15] : t[16 - j + i][(j - diag_a[16 - j + i]) & 15];
    }
}

/* One row's 9 products (xi: its 16 columns of the block) into accumulators c0 .. c8. */
#define DIAG_ROW(xi)                                                                         \
    do {                                                                                     \
        const __m512i xi_ = (xi);                                                            \
        const __m512 x = _mm512_castsi512_ps(xi_),                                           \
                     r1 = _mm512_castsi512_ps(_mm512_alignr_epi32(xi_, xi_, 1)),             \
                     r2 = _mm512_castsi512_ps(_mm512_alignr_epi32(xi_, xi_, 2)),             \
                     r5 = _mm512_castsi512_ps(_mm512_alignr_epi32(xi_, xi_, 5)),             \
                     r8 = _mm512_castsi512_ps(_mm512_alignr_epi32(xi_, xi_, 8));             \
        c0 = _mm512_fmadd_ps(x, x, c0);                                                      \
        c1 = _mm512_fmadd_ps(x, r1, c1);                                                     \
        c2 = _mm512_fmadd_ps(x, r2, c2);                                                     \
        c3 = _mm512_fmadd_ps(r2, r5, c3);                                                    \
        c4 = _mm512_fmadd_ps(r1, r5, c4);                                                    \
        c5 = _mm512_fmadd_ps(x, r5, c5);                                                     \
        c6 = _mm512_fmadd_ps(r2, r8, c6);                                                    \
        c7 = _mm512_fmadd_ps(r1, r8, c7);                                                    \
        c8 = _mm512_fmadd_ps(x, r8, c8);                                                     \
    } while (0)
/* The accumulators c0 .. c8: zeros, or (acc) the block's elements at cd through t. */
#define DIAG_START(cd, ldc, acc, t)                                                                                \
    __m512 c0 = _mm512_setzero_ps(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0, c8 = c0;       \
    if (acc) {                                                                                                     \
        diag_get(cd, ldc, t);                                                                                      \
        c0 = _mm512_loadu_ps(t[0]), c1 = _mm512_loadu_ps(t[1]), c2 = _mm512_loadu_ps(t[2]);                        \
        c3 = _mm512_loadu_ps(t[3]), c4 = _mm512_loadu_ps(t[4]), c5 = _mm512_loadu_ps(t[5]);                        \
        c6 = _mm512_loadu_ps(t[6]), c7 = _mm512_loadu_ps(t[7]), c8 = _mm512_loadu_ps(t[8]);                        \
    }
#define DIAG_STORE(t)                                                                                              \
    do {                                                                                                           \
        _mm512_storeu_ps(t[0], c0), _mm512_storeu_ps(t[1], c1), _mm512_storeu_ps(t[2], c2);                         \
        _mm512_storeu_ps(t[3], c3), _mm512_storeu_ps(t[4], c4), _mm512_storeu_ps(t[5], c5);                         \
        _mm512_storeu_ps(t[6], c6), _mm512_storeu_ps(t[7], c7), _mm512_storeu_ps(t[8], c8);                         \
    } while (0)

TGT512 static void gram_diag512(const float *restrict A, uint64_t n, int lda, int d, float *restrict C, int ldc,
                                int acc)
{
    float t[9][16];
    float *cd = C + (size_t)d * ldc + d;
    DIAG_START(cd, ldc, acc, t);
    const float *a = A + d;
    for (uint64_t i = 0; i < n; i++, a += lda) DIAG_ROW(_mm512_loadu_si512(a));
    DIAG_STORE(t);
    diag_put(cd, ldc, t);
}

/* Below this many rows of A, gram_diag512's fixed cost (C to and from its accumulators) is
 * more than its FMAs save; the diagonal blocks go in square tiles then. */
#define GRAM_DIAG_MIN_ROWS 32

/* The upper triangle in column blocks of 32.  Rows above a block take all its columns (12 x 32
 * tiles).  With gram_diag512 (full 16 x 16 diagonal blocks, n >= GRAM_DIAG_MIN_ROWS), the first
 * 16 rows of the block take its last 16 columns (a 16 x 16 tile); otherwise the block's first
 * 16 rows take all its columns and its last 16 rows its last 16 (square tiles over the
 * diagonal).  FMA instructions per row of A, k = 64: 132 with gram_diag512, 160 without, for
 * 130 = elements / 16.  A block narrower than 16 is a masked tile; the last k mod 8 columns as
 * in the AVX2 kernel, 16 rows to a vector.  d0 = 16: the first diagonal block is done already
 * (gather_gram512). */
TGT512 static void gram_upper_avx512(const float *A, uint64_t n, int lda, int k, float *C, int ldc, int accumulate,
                                     int d0)
{
    const int k8 = k >= 32 ? k / 8 * 8 : k, cyc = n >= GRAM_DIAG_MIN_ROWS;
    const uint64_t pass = gram_rows_per_pass(lda, n);
    if (n == 0) {
        if (!accumulate) gram_upper_c(A, 0, lda, k, C, ldc, 0);
        return;
    }
    if (cyc)
        for (int d = d0; d + 16 <= k8; d += 16) gram_diag512(A, n, lda, d, C, ldc, accumulate);
    for (uint64_t i0 = 0; i0 < n; i0 += pass) {
        uint64_t i1 = n - i0 < pass ? n : i0 + pass;
        int acc = accumulate || i0 > 0;
        for (int q0 = 0; q0 < k8; q0 += 32) {
            const int w = k8 - q0 < 32 ? k8 - q0 : 32;
            if (w > 16) {
                const __mmask16 m = hr_avx512_head(w - 16);
                gram_rows512(A, i0, i1, lda, 0, cyc ? q0 : q0 + 16, q0, 2, m, C, ldc, acc);
                if (cyc) gram_rows512(A, i0, i1, lda, q0, q0 + 16, q0 + 16, 1, m, C, ldc, acc);
                if (!cyc || w < 32) gram_rows512(A, i0, i1, lda, q0 + 16, q0 + w, q0 + 16, 1, m, C, ldc, acc);
            } else {
                gram_rows512(A, i0, i1, lda, 0, cyc && w == 16 ? q0 : q0 + w, q0, 1, hr_avx512_head(w), C, ldc, acc);
            }
        }
        for (int q = k8; q < k; q++) gram_col_all512(A, i0, i1, lda, q, C, ldc, acc);
    }
}

/* hr_als_gather_explicit's AVX-512 loop (NV <= 4 vectors a row: 16 <= k <= 64) with the Gram's
 * first diagonal block formed from each row as it arrives, in the same loop, where the row's
 * loads wait on memory (solvers/als_gather.h).  Measured, one core, k = 64, against the
 * separate gather and Gram before solvers/als_gather.h, in one process, row by row in turns:
 * 8.3-9.2% less time over 400-entry rows of a 51 MB Y (2 points of it from the fusion, the rest
 * from the leaner gather), 5.4-7.0% over Pareto-distributed rows of 33-2048 entries of a
 * 12.8 MB one.  The sums, targets and copies are the gather's and each block element the same
 * FMA chain: the bits of the two calls.  Returns n, or the first j whose column is >= ncols
 * (the sums then hold the entries before it; C is not touched). */
TGT512 static INL uint64_t gather_gram512(float *restrict dst, int kp, const float *restrict Y, int k, uint64_t ncols,
                                          const uint32_t *restrict col, const float *restrict val, uint64_t n,
                                          uint64_t ahead, const float *restrict ybias, float mu, float *restrict wt,
                                          float *restrict sy, float *restrict ty, float *restrict tsum,
                                          float *restrict C, int ldc, int acc, const int NV, const int FULL)
{
    float ts = *tsum, t[9][16];
    const __mmask16 ml = hr_avx512_head(k - 16 * (NV - 1)), ms = hr_avx512_head(kp - 16 * (NV - 1));
    const __m512 one = _mm512_set1_ps(1.0f);
    __m512 s0, s1, s2, s3, t0, t1, t2, t3;
    s0 = s1 = s2 = s3 = t0 = t1 = t2 = t3 = _mm512_setzero_ps();
#define M(v) ((v) == NV - 1 ? ms : (__mmask16)0xffff)
#define LDS(v, a, b) if (NV > v) { a = _mm512_maskz_loadu_ps(M(v), sy + 16 * (v)); b = _mm512_maskz_loadu_ps(M(v), ty + 16 * (v)); }
    LDS(0, s0, t0) LDS(1, s1, t1) LDS(2, s2, t2) LDS(3, s3, t3)
#undef LDS
    DIAG_START(C, ldc, acc, t);
    const uint64_t got = gather_checked(col, n, ncols);
    for (uint64_t j = 0; j < got; j++) {
        /* k as a constant where it is one: the prefetches unrolled, the row's address a shift
         * (see gather_explicit512) */
        const float *y = gather_entry(Y, FULL ? 16 * NV : k, ncols, col, val, j, n, ahead, ybias, mu, wt);
        ts += wt[j];
        float *d = dst + j * (uint64_t)(FULL ? 16 * NV : kp);
        const __m512 tv = _mm512_set1_ps(wt[j]);
        __m512 x0 = _mm512_setzero_ps(), x1 = x0, x2 = x0, x3 = x0;
#define ROW(v, x, a, b)                                                                                       \
        if (NV > v) {                                                                                         \
            x = (v) == NV - 1 && !FULL ? _mm512_maskz_loadu_ps(ml, y + 16 * (v)) : _mm512_loadu_ps(y + 16 * (v)); \
            if ((v) == NV - 1 && !FULL) _mm512_mask_storeu_ps(d + 16 * (v), ms, x); /* zeros from k to kp */  \
            else _mm512_storeu_ps(d + 16 * (v), x);                                                           \
            a = _mm512_fmadd_ps(one, x, a);                                                                   \
            b = _mm512_fmadd_ps(tv, x, b);                                                                    \
        }
        ROW(0, x0, s0, t0) ROW(1, x1, s1, t1) ROW(2, x2, s2, t2) ROW(3, x3, s3, t3)
#undef ROW
        DIAG_ROW(_mm512_castps_si512(x0));
    }
#define STS(v, a, b) if (NV > v) { _mm512_mask_storeu_ps(sy + 16 * (v), M(v), a); _mm512_mask_storeu_ps(ty + 16 * (v), M(v), b); }
    STS(0, s0, t0) STS(1, s1, t1) STS(2, s2, t2) STS(3, s3, t3)
#undef STS
#undef M
    *tsum = ts;
    if (got == n) {
        DIAG_STORE(t);
        diag_put(C, ldc, t);
    }
    return got;
}

/* The fused pass, then the rest of the Gram; 0 when the call is not for it (see
 * hr_als_gather_gram_explicit), else 1 with *got set. */
TGT512 static int gather_gram_avx512(float *dst, int kp, const float *Y, int k, uint64_t ncols, const uint32_t *col,
                                     const float *val, uint64_t n, uint64_t ahead, const float *ybias, float mu,
                                     float *wt, float *sy, float *ty, float *tsum, float *C, int ldc, int accumulate,
                                     uint64_t *got)
{
    if (k < 16 || k > 64 || n < GRAM_DIAG_MIN_ROWS) return 0;
    switch ((k + 15) / 16) {
#define NVC(v) case v: *got = k == 16 * (v) ? gather_gram512(dst, kp, Y, k, ncols, col, val, n, ahead, ybias, mu, wt, \
                                                              sy, ty, tsum, C, ldc, accumulate, v, 1)               \
                                          : gather_gram512(dst, kp, Y, k, ncols, col, val, n, ahead, ybias, mu, wt, \
                                                           sy, ty, tsum, C, ldc, accumulate, v, 0); break;
    NVC(1) NVC(2) NVC(3) NVC(4)
#undef NVC
    default: return 0;
    }
    if (*got == n) gram_upper_avx512(dst, n, kp, k, C, ldc, accumulate, 16);
    return 1;
}
#define HAVE_AVX512_KERNELS 1
#endif

/* ---- dispatch --------------------------------------------------------------------------------- */

void hr_als_gram_upper(const float *A, uint64_t n, int lda, int k, float *C, int ldc, int accumulate)
{
#ifdef HAVE_AVX512_KERNELS
    if (hr_als_simd_level() >= 2) {
        gram_upper_avx512(A, n, lda, k, C, ldc, accumulate, 0);
        return;
    }
#endif
#ifdef HAVE_AVX2_KERNELS
    if (hr_als_simd_level()) {
        gram_upper_avx2(A, n, lda, k, C, ldc, accumulate);
        return;
    }
#endif
    gram_upper_c(A, n, lda, k, C, ldc, accumulate);
}

uint64_t hr_als_gather_gram_explicit(float *dst, int kp, const float *Y, int k, uint64_t ncols, const uint32_t *col,
                                     const float *val, uint64_t n, uint64_t ahead, const float *ybias, float mu,
                                     float *wt, float *sy, float *ty, float *tsum, float *C, int ldc, int accumulate)
{
#ifdef HAVE_AVX512_KERNELS
    uint64_t got;
    if (hr_als_simd_level() >= 2 &&
        gather_gram_avx512(dst, kp, Y, k, ncols, col, val, n, ahead, ybias, mu, wt, sy, ty, tsum, C, ldc, accumulate, &got))
        return got;
#endif
    const uint64_t got2 = hr_als_gather_explicit(dst, kp, Y, k, ncols, col, val, n, ahead, ybias, mu, wt, sy, ty, tsum);
    if (got2 == n) hr_als_gram_upper(dst, n, kp, k, C, ldc, accumulate);
    return got2;
}
