/* solvers/als_chol_tmpl.h — the batched Cholesky's factor and back-solve (solvers/als_chol.c),
 * written once for two vector widths: als_chol.c includes it twice, with
 *   VEC       the vector type (__m256: 8 lanes, __m512: 16),
 *   VOP(op)   its intrinsic _mm256_op or _mm512_op,
 *   VTGT      the target attribute, VNAME(f) the kernel's name for that width,
 *   VCB       the columns of the factor's register block (4 rows x VCB: 8 or 16 accumulators),
 * and VNAME(pivot) defined before.  Every lane runs the same operations in the same order at
 * either width, so the two give the same bits (test_chol_levels).  No include guard: meant to be
 * included more than once. */

/* Columns [j0, j0 + CB) of rows r[0..3] (a 4 x CB register block; CB <= VCB): element (row, j)
 * becomes (P[row][j] - sum_{p < j} P[row][p] L[j][p]) / L_jj, the sum one FNMA chain in the
 * order of p - first p < j0 over the finished rows j (loads of L[j] kept in a register, so the
 * loop reads 4 + CB vectors per 4 CB FMAs), then p = j0 .. j - 1 inside the block. */
VTGT static INL void VNAME(chol_cols)(float *const *r, const float *P, const float *invd, int j0, const int CB)
{
    const float *l0 = P + hr_als_tri(j0) * LANES, *l1 = CB > 1 ? P + hr_als_tri(j0 + 1) * LANES : l0,
                *l2 = CB > 2 ? P + hr_als_tri(j0 + 2) * LANES : l0, *l3 = CB > 3 ? P + hr_als_tri(j0 + 3) * LANES : l0;
    float *x0 = r[0] + j0 * LANES, *x1 = r[1] + j0 * LANES, *x2 = r[2] + j0 * LANES, *x3 = r[3] + j0 * LANES;
    VEC a00, a01, a02, a03, a10, a11, a12, a13, a20, a21, a22, a23, a30, a31, a32, a33;
    a00 = a01 = a02 = a03 = a10 = a11 = a12 = a13 = a20 = a21 = a22 = a23 = a30 = a31 = a32 = a33 = VOP(setzero_ps)();
#define LD(c, y0, y1, y2, y3) if (CB > c) { y0 = VOP(load_ps)(x0 + (c) * LANES); y1 = VOP(load_ps)(x1 + (c) * LANES); \
                                          y2 = VOP(load_ps)(x2 + (c) * LANES); y3 = VOP(load_ps)(x3 + (c) * LANES); }
    LD(0, a00, a10, a20, a30) LD(1, a01, a11, a21, a31) LD(2, a02, a12, a22, a32) LD(3, a03, a13, a23, a33)
#undef LD
    for (int p = 0; p < j0; p++) {
        const int o = p * LANES;
        const VEC u0 = VOP(load_ps)(r[0] + o), u1 = VOP(load_ps)(r[1] + o), u2 = VOP(load_ps)(r[2] + o),
                  u3 = VOP(load_ps)(r[3] + o);
        VEC b;
        /* b stays in a register: folded into the four FMAs it would be loaded four times */
#define COL(c, l, y0, y1, y2, y3) if (CB > c) { b = VOP(load_ps)(l + o); __asm__("" : "+v"(b)); \
            y0 = VOP(fnmadd_ps)(u0, b, y0); y1 = VOP(fnmadd_ps)(u1, b, y1); y2 = VOP(fnmadd_ps)(u2, b, y2); \
            y3 = VOP(fnmadd_ps)(u3, b, y3); }
        COL(0, l0, a00, a10, a20, a30) COL(1, l1, a01, a11, a21, a31) COL(2, l2, a02, a12, a22, a32)
        COL(3, l3, a03, a13, a23, a33)
#undef COL
    }
    /* inside the block: column c takes p = j0 .. j0 + c - 1 from the columns just finished */
#define FIX(l, c2, y0, y1, y2, y3, z0, z1, z2, z3) { const VEC b = VOP(load_ps)(l + (j0 + (c2)) * LANES); \
        y0 = VOP(fnmadd_ps)(z0, b, y0); y1 = VOP(fnmadd_ps)(z1, b, y1); y2 = VOP(fnmadd_ps)(z2, b, y2); \
        y3 = VOP(fnmadd_ps)(z3, b, y3); }
#define SCALE(c, y0, y1, y2, y3) { const VEC d = VOP(load_ps)(invd + (j0 + (c)) * LANES); \
        y0 = VOP(mul_ps)(y0, d); y1 = VOP(mul_ps)(y1, d); y2 = VOP(mul_ps)(y2, d); y3 = VOP(mul_ps)(y3, d); }
    SCALE(0, a00, a10, a20, a30)
    if (CB > 1) {
        FIX(l1, 0, a01, a11, a21, a31, a00, a10, a20, a30)
        SCALE(1, a01, a11, a21, a31)
    }
    if (CB > 2) {
        FIX(l2, 0, a02, a12, a22, a32, a00, a10, a20, a30)
        FIX(l2, 1, a02, a12, a22, a32, a01, a11, a21, a31)
        SCALE(2, a02, a12, a22, a32)
    }
    if (CB > 3) {
        FIX(l3, 0, a03, a13, a23, a33, a00, a10, a20, a30)
        FIX(l3, 1, a03, a13, a23, a33, a01, a11, a21, a31)
        FIX(l3, 2, a03, a13, a23, a33, a02, a12, a22, a32)
        SCALE(3, a03, a13, a23, a33)
    }
#undef FIX
#undef SCALE
    /* a block of fewer than 4 rows repeats its last one (r[t] = r[R - 1]): the repeats compute
     * the same values and store them again */
#define STORE(c, y0, y1, y2, y3) if (CB > c) { VOP(store_ps)(x0 + (c) * LANES, y0); VOP(store_ps)(x1 + (c) * LANES, y1); \
                                          VOP(store_ps)(x2 + (c) * LANES, y2); VOP(store_ps)(x3 + (c) * LANES, y3); }
    STORE(0, a00, a10, a20, a30) STORE(1, a01, a11, a21, a31) STORE(2, a02, a12, a22, a32) STORE(3, a03, a13, a23, a33)
#undef STORE
}

/* The diagonal block of rows i .. i + R - 1 (R <= 4, i < n): its elements (t, c), c <= t, as
 * one chain each in the order of p - p < i for all ten at once (independent chains, so the
 * FMA latency is hidden), then p = i .. c - 1 and the pivot (c = t) or the scaling by 1 / L_cc,
 * column by column.  Only elements of real rows and columns < n are stored. */
VTGT static INL void VNAME(chol_diag)(float *const *r, int i, int R, int n, float *invd, uint32_t *bad)
{
    VEC e[4][4]; /* rows past R (r repeats the last one) would read past its end: zeros */
    for (int t = 0; t < 4; t++)
        for (int c = 0; c <= t; c++) e[t][c] = t < R ? VOP(load_ps)(r[t] + (i + c) * LANES) : VOP(setzero_ps)();
    VEC e00 = e[0][0], e10 = e[1][0], e11 = e[1][1], e20 = e[2][0], e21 = e[2][1], e22 = e[2][2], e30 = e[3][0],
        e31 = e[3][1], e32 = e[3][2], e33 = e[3][3];
    for (int p = 0; p < i; p++) {
        const int o = p * LANES;
        const VEC u0 = VOP(load_ps)(r[0] + o), u1 = VOP(load_ps)(r[1] + o), u2 = VOP(load_ps)(r[2] + o),
                  u3 = VOP(load_ps)(r[3] + o);
        e00 = VOP(fnmadd_ps)(u0, u0, e00);
        e10 = VOP(fnmadd_ps)(u1, u0, e10);
        e11 = VOP(fnmadd_ps)(u1, u1, e11);
        e20 = VOP(fnmadd_ps)(u2, u0, e20);
        e21 = VOP(fnmadd_ps)(u2, u1, e21);
        e22 = VOP(fnmadd_ps)(u2, u2, e22);
        e30 = VOP(fnmadd_ps)(u3, u0, e30);
        e31 = VOP(fnmadd_ps)(u3, u1, e31);
        e32 = VOP(fnmadd_ps)(u3, u2, e32);
        e33 = VOP(fnmadd_ps)(u3, u3, e33);
    }
    e[0][0] = e00, e[1][0] = e10, e[1][1] = e11, e[2][0] = e20, e[2][1] = e21, e[2][2] = e22, e[3][0] = e30;
    e[3][1] = e31, e[3][2] = e32, e[3][3] = e33;
    for (int c = 0; c < R && i + c < n; c++) {
        for (int t = c; t < 4; t++)
            for (int p = 0; p < c; p++) e[t][c] = VOP(fnmadd_ps)(e[t][p], e[c][p], e[t][c]);
        e[c][c] = VNAME(pivot)(e[c][c], bad, invd + (i + c) * LANES);
        const VEC d = VOP(load_ps)(invd + (i + c) * LANES);
        for (int t = c + 1; t < 4; t++) e[t][c] = VOP(mul_ps)(e[t][c], d);
        for (int t = c; t < R; t++) VOP(store_ps)(r[t] + (i + c) * LANES, e[t][c]);
    }
}

/* Left-looking (row by row) Cholesky, four rows at a time: their columns left of the block in
 * register blocks of VCB (VNAME(chol_cols)), then the block's own triangle (VNAME(chol_diag)).
 * Every element is one chain in the order of p whatever the blocking, so both widths give the
 * same bits.  The packed rows are aligned to the vector width (callers' buffers are). */
VTGT static uint32_t VNAME(chol_batch)(float *P, int n, int nextra, float *invd)
{
    uint32_t bad = 0;
    const int total = n + nextra;
    for (int i = 0; i < total; i += 4) {
        const int R = total - i < 4 ? total - i : 4;
        float *r[4];
        for (int t = 0; t < 4; t++) r[t] = P + hr_als_tri(i + (t < R ? t : R - 1)) * LANES;
        const int jend = i < n ? i : n; /* columns every row of the block needs, all finished */
        int j0 = 0;
        for (; j0 + VCB <= jend; j0 += VCB) VNAME(chol_cols)(r, P, invd, j0, VCB);
        for (; j0 < jend; j0++) VNAME(chol_cols)(r, P, invd, j0, 1);
        if (i < n) VNAME(chol_diag)(r, i, R, n, invd, &bad);
    }
    return bad;
}

VTGT static void VNAME(chol_backsolve)(const float *P, int n, const float *invd, float *z)
{
    for (int i = n - 1; i >= 0; i--) {
        const float *ri = P + hr_als_tri(i) * LANES;
        VEC x = VOP(mul_ps)(VOP(load_ps)(z + i * LANES), VOP(load_ps)(invd + i * LANES));
        VOP(store_ps)(z + i * LANES, x);
        for (int j = 0; j < i; j++)
            VOP(store_ps)(z + j * LANES, VOP(fnmadd_ps)(VOP(load_ps)(ri + j * LANES), x, VOP(load_ps)(z + j * LANES)));
    }
}
