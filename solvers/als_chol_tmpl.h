/* solvers/als_chol_tmpl.h — the batched Cholesky's factor and back-solve (solvers/als_chol.c),
 * written once for two vector widths: als_chol.c includes it twice, with
 *   VEC       the vector type (__m256: 8 lanes, __m512: 16),
 *   VOP(op)   its intrinsic _mm256_op or _mm512_op,
 *   VTGT      the target attribute, VNAME(f) the kernel's name for that width,
 * and VNAME(pivot) defined before.  Every lane runs the same operations in the same order at
 * either width, so the two give the same bits (test_chol_levels).  No include guard: meant to be
 * included more than once. */

/* sum_p x_p * y_p over len lane-vectors, four chains combined as (s0 + s1) + (s2 + s3). */
VTGT static INL VEC VNAME(dot_lanes)(const float *x, const float *y, int len)
{
    VEC s0 = VOP(setzero_ps)(), s1 = s0, s2 = s0, s3 = s0;
    int p = 0;
    for (; p + 4 <= len; p += 4) {
        s0 = VOP(fmadd_ps)(VOP(load_ps)(x + (p + 0) * LANES), VOP(load_ps)(y + (p + 0) * LANES), s0);
        s1 = VOP(fmadd_ps)(VOP(load_ps)(x + (p + 1) * LANES), VOP(load_ps)(y + (p + 1) * LANES), s1);
        s2 = VOP(fmadd_ps)(VOP(load_ps)(x + (p + 2) * LANES), VOP(load_ps)(y + (p + 2) * LANES), s2);
        s3 = VOP(fmadd_ps)(VOP(load_ps)(x + (p + 3) * LANES), VOP(load_ps)(y + (p + 3) * LANES), s3);
    }
    for (; p < len; p++) s0 = VOP(fmadd_ps)(VOP(load_ps)(x + p * LANES), VOP(load_ps)(y + p * LANES), s0);
    return VOP(add_ps)(VOP(add_ps)(s0, s1), VOP(add_ps)(s2, s3));
}

/* Left-looking (row by row) Cholesky, two rows at a time; columns in blocks of four, whose
 * dot products over the finished columns are one 2 x 4 register block (8 chains), then a short
 * fix-up inside the block.  The packed rows are aligned to the vector width (callers' buffers are). */
VTGT static uint32_t VNAME(chol_batch)(float *P, int n, int nextra, float *invd)
{
    uint32_t bad = 0;
    const int total = n + nextra;
    for (int i = 0; i < total; i += 2) {
        const int two = i + 1 < total;
        float *r0 = P + hr_als_tri(i) * LANES, *r1 = two ? P + hr_als_tri(i + 1) * LANES : r0;
        const int jend = i < n ? i : n; /* columns both rows need, all finished */
        int j0 = 0;
        for (; j0 + 4 <= jend; j0 += 4) {
            const float *l0 = P + hr_als_tri(j0) * LANES, *l1 = P + hr_als_tri(j0 + 1) * LANES,
                        *l2 = P + hr_als_tri(j0 + 2) * LANES, *l3 = P + hr_als_tri(j0 + 3) * LANES;
            float *x0 = r0 + j0 * LANES, *x1 = r1 + j0 * LANES;
            VEC a00 = VOP(load_ps)(x0), a01 = VOP(load_ps)(x0 + LANES), a02 = VOP(load_ps)(x0 + 2 * LANES),
                   a03 = VOP(load_ps)(x0 + 3 * LANES);
            VEC a10 = VOP(load_ps)(x1), a11 = VOP(load_ps)(x1 + LANES), a12 = VOP(load_ps)(x1 + 2 * LANES),
                   a13 = VOP(load_ps)(x1 + 3 * LANES);
            for (int p = 0; p < j0; p++) {
                const int o = p * LANES;
                VEC u0 = VOP(load_ps)(r0 + o), u1 = VOP(load_ps)(r1 + o), b;
                /* keep b in a register: the compiler would otherwise fold its load into both
                 * FMAs, and the loop would be load-bound (10 loads per 8 FMAs instead of 6) */
#define COL(l, x0, x1) b = VOP(load_ps)(l + o); __asm__("" : "+v"(b)); x0 = VOP(fnmadd_ps)(u0, b, x0); \
                       x1 = VOP(fnmadd_ps)(u1, b, x1);
                COL(l0, a00, a10) COL(l1, a01, a11) COL(l2, a02, a12) COL(l3, a03, a13)
#undef COL
            }
            const float *d = invd + j0 * LANES;
            const int o0 = j0 * LANES, o1 = (j0 + 1) * LANES, o2 = (j0 + 2) * LANES;
            a00 = VOP(mul_ps)(a00, VOP(load_ps)(d));
            a10 = VOP(mul_ps)(a10, VOP(load_ps)(d));
            VEC b;
            b = VOP(load_ps)(l1 + o0);
            a01 = VOP(mul_ps)(VOP(fnmadd_ps)(a00, b, a01), VOP(load_ps)(d + LANES));
            a11 = VOP(mul_ps)(VOP(fnmadd_ps)(a10, b, a11), VOP(load_ps)(d + LANES));
            b = VOP(load_ps)(l2 + o0);
            a02 = VOP(fnmadd_ps)(a00, b, a02);
            a12 = VOP(fnmadd_ps)(a10, b, a12);
            b = VOP(load_ps)(l2 + o1);
            a02 = VOP(mul_ps)(VOP(fnmadd_ps)(a01, b, a02), VOP(load_ps)(d + 2 * LANES));
            a12 = VOP(mul_ps)(VOP(fnmadd_ps)(a11, b, a12), VOP(load_ps)(d + 2 * LANES));
            b = VOP(load_ps)(l3 + o0);
            a03 = VOP(fnmadd_ps)(a00, b, a03);
            a13 = VOP(fnmadd_ps)(a10, b, a13);
            b = VOP(load_ps)(l3 + o1);
            a03 = VOP(fnmadd_ps)(a01, b, a03);
            a13 = VOP(fnmadd_ps)(a11, b, a13);
            b = VOP(load_ps)(l3 + o2);
            a03 = VOP(mul_ps)(VOP(fnmadd_ps)(a02, b, a03), VOP(load_ps)(d + 3 * LANES));
            a13 = VOP(mul_ps)(VOP(fnmadd_ps)(a12, b, a13), VOP(load_ps)(d + 3 * LANES));
            VOP(store_ps)(x1, a10); VOP(store_ps)(x1 + LANES, a11);
            VOP(store_ps)(x1 + 2 * LANES, a12); VOP(store_ps)(x1 + 3 * LANES, a13);
            VOP(store_ps)(x0, a00); VOP(store_ps)(x0 + LANES, a01);
            VOP(store_ps)(x0 + 2 * LANES, a02); VOP(store_ps)(x0 + 3 * LANES, a03);
        }
        /* the columns left before the diagonal, one at a time */
        for (; j0 < jend; j0++) {
            const float *lj = P + hr_als_tri(j0) * LANES;
            VEC d = VOP(load_ps)(invd + j0 * LANES);
            VEC s1 = VOP(sub_ps)(VOP(load_ps)(r1 + j0 * LANES), VNAME(dot_lanes)(r1, lj, j0));
            VEC s0 = VOP(sub_ps)(VOP(load_ps)(r0 + j0 * LANES), VNAME(dot_lanes)(r0, lj, j0));
            VOP(store_ps)(r1 + j0 * LANES, VOP(mul_ps)(s1, d));
            VOP(store_ps)(r0 + j0 * LANES, VOP(mul_ps)(s0, d));
        }
        if (i < n) { /* row i's diagonal */
            VEC s = VOP(sub_ps)(VOP(load_ps)(r0 + i * LANES), VNAME(dot_lanes)(r0, r0, i));
            VOP(store_ps)(r0 + i * LANES, VNAME(pivot)(s, &bad, invd + i * LANES));
        }
        if (two) { /* row i + 1: its column i (when i < n), then its diagonal */
            if (i < n) {
                const float *li = P + hr_als_tri(i) * LANES;
                VEC s = VOP(sub_ps)(VOP(load_ps)(r1 + i * LANES), VNAME(dot_lanes)(r1, li, i));
                VOP(store_ps)(r1 + i * LANES, VOP(mul_ps)(s, VOP(load_ps)(invd + i * LANES)));
            }
            if (i + 1 < n) {
                VEC s = VOP(sub_ps)(VOP(load_ps)(r1 + (i + 1) * LANES), VNAME(dot_lanes)(r1, r1, i + 1));
                VOP(store_ps)(r1 + (i + 1) * LANES, VNAME(pivot)(s, &bad, invd + (i + 1) * LANES));
            }
        }
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
