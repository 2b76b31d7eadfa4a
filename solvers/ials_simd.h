/* solvers/ials_simd.h — private to solvers/ials.c: kernels of the implicit-ALS conjugate
 * gradient that handle any kp = hr_als_kpad(k) in whole vectors.  Not part of the public API.
 *
 * Why: at k = 65 (kp = 72) the shared hr_als_rows_axpy makes a full 64-column pass and then a
 * second pass for the ninth vector, whose single FMA chain per row is latency-bound, and the
 * gather's memcpy of 260 bytes leaves glibc's straight-line short-copy path; together k = 65
 * cost 1.23x k = 64 per iteration (bench ials-k65) for 9/8 of the arithmetic.  Here the axpy
 * holds up to 12 column vectors in registers (one pass up to kp = 96) and the row copy is whole
 * vectors plus one masked vector.  Bits: every output element is computed by the same chain of
 * operations as in the shared kernels (one FMA chain per element in row order, the same dots and
 * weights), so models are bit-identical to those kernels' and depend only on a row's own
 * inputs (any rank count, any batch companions, a long row in pieces). */
#ifndef HR_SOLVERS_IALS_SIMD_H
#define HR_SOLVERS_IALS_SIMD_H

#include <stdint.h>

/* hr_als_spmv_rows (solvers/als_simd.h) with the one-pass axpy: the same arguments and bits. */
void hr_ials_spmv(const float *Yb, const float *wt, uint64_t n, int k, const float *v, float *out, int residual,
                  float *tmp);
/* hr_als_rows_axpy in one pass up to kp = 96 (w must not be NULL): the same bits. */
void hr_ials_rows_axpy(const float *Yb, uint64_t n, int k, const float *w, float *out);

/* dst[0..k) = src[0..k), dst[k..kpad(k)) = 0: one gathered row of Y.  Not memcpy: at k = 65 a
 * 260-byte copy leaves glibc's short straight-line path for its loop with alignment fix-ups
 * (measured: the CG gather 1.5x slower at k = 65 than at 64 for 1.27x the bytes); here whole
 * vectors and one masked vector for the tail.  dst must hold kpad(k) floats. */
void hr_ials_copy_row(float *dst, const float *src, int k);

#endif
