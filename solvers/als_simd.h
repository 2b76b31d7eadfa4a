/* solvers/als_simd.h — private to solvers/als*.c and solvers/ials.c: the compute kernels of the
 * ALS solvers (normal matrices, batched Cholesky, CG products).  Not part of the public API.
 *
 * Why our own kernels and not BLAS/LAPACK calls: the ALS work is millions of tiny problems
 * (k x k normal matrices from ~100 rows, one Cholesky of order k + 2 per row).  OpenBLAS's
 * ssyrk / spotrf pay their packing and dispatch per call and run far below the SGEMM peak on
 * 65 x 65 matrices, and spotrf cannot use the SIMD width at all on such small orders.  Here:
 *   - hr_als_gram_upper (solvers/als_gram.c): A^T A with register-blocked tiles (AVX2: 6 x 16,
 *     AVX-512: 12 x 32) over the gathered rows, no packing (the rows are already contiguous),
 *     blocked over rows so they stay in L1; hr_als_gather_gram_explicit (same file) forms the
 *     first diagonal block inside explicit ALS's gather loop, while that loop waits on memory;
 *   - hr_als_chol_batch: HR_ALS_LANES matrices factored at once, one matrix per SIMD lane
 *     (interleaved layout, as batched LAPACK libraries do for many small systems), so every
 *     operation of the factorisation is a full-width vector operation;
 *   - hr_als_gemm_g: (G + lambda I) p, row by row (CG's products and the implicit loss);
 *   - hr_als_spmv_rows: the CG sparse product Y_u^T (w .* (Y_u v)).
 *
 * Determinism (what keeps models bit-identical on any rank count): every kernel computes each
 * output element by a fixed sequence of operations that depends only on that row's own inputs,
 * never on which other rows share a call, a tile or a batch:
 *   - gram: each element is one FMA chain in row order; tiling only decides which register
 *     holds it, and a row streamed in chunks (accumulate = 1) continues the same chain;
 *   - gemm_g: each element two FMA chains (even and odd rows of G) and their sum, or a dot;
 *   - the batched Cholesky applies the same instruction sequence to every lane, so a matrix's
 *     factor does not depend on its lane or on the other matrices of the batch;
 *   - spmv: one FMA chain per entry and a fixed reduction tree.
 * The AVX2 + FMA kernels are used when the CPU has them (checked once at run time), and the
 * AVX-512 versions some kernels have when it has AVX-512F too; otherwise portable C kernels with
 * the same structure.  The AVX-512 kernels compute every element by the same operations as the
 * AVX2 ones (same bits; the tests compare them), with twice the lanes per instruction: on CPUs
 * with full-width 512-bit FMA units that doubles their arithmetic rate.  The portable kernels
 * differ from both in rounding, so all ranks of one job must run on CPUs of the same kind (with
 * or without AVX2) - true of any cluster partition.
 *
 * Layouts: row-major; `ld` is a row's stride in floats.  Vectors read by the kernels are
 * padded to kp = hr_als_kpad(k) floats and the padding must hold zeros where a product reads
 * it (gather buffers, CG vectors, G): see each function. */
#ifndef HR_SOLVERS_ALS_SIMD_H
#define HR_SOLVERS_ALS_SIMD_H

#include <stddef.h>
#include <stdint.h>

/* Matrices per batched Cholesky: the AVX-512 width in floats (the AVX2 kernels take the 16 as
 * two halves of 8, with the same bits). */
#define HR_ALS_LANES 16
/* Largest k whose systems (order up to k + 2) are factored in batches; larger ones go to LAPACK
 * one at a time (the batch buffer grows as 32 k^2 bytes: ~2 MiB at 256). */
#define HR_ALS_BATCH_MAX_K 256

/* k rounded up to a multiple of 8 (one AVX register). */
static inline int hr_als_kpad(int k) { return (k + 7) / 8 * 8; }
/* Offset of row i in the packed lower-triangular layout (rows 0..i-1 hold 1..i elements). */
static inline size_t hr_als_tri(int i) { return (size_t)i * (size_t)(i + 1) / 2; }

/* The kernels in use: 0 portable, 1 AVX2 + FMA, 2 the same with AVX-512 where a kernel has an
 * AVX-512 version (the others keep their AVX2 one).  hr_als_simd_set(level) selects the best
 * level up to `level` the CPU runs (tests compare them all; HR_ALS_SIMD_MAX: the highest);
 * returns the previous level.  Not thread-safe: call it before the solvers run. */
#define HR_ALS_SIMD_MAX 2
int hr_als_simd_level(void);
int hr_als_simd_set(int level);

/* C = A^T A (accumulate = 0) or C += A^T A (accumulate = 1), for the n rows of A (lda >= kp).
 * Writes the upper triangle (j >= i) of the leading k x k block of C (ldc >= kp), plus
 * unspecified values in some elements below the diagonal and in columns k..kp-1 (which must
 * exist).  A's columns k..kp-1 are read and may hold anything finite.  It prefetches nothing:
 * the next row's lines asked for meanwhile landed in L1 over the rows this kernel reads there and
 * made the Gram slower than the gather they saved (explicit ALS, 20M ratings). */
void hr_als_gram_upper(const float *A, uint64_t n, int lda, int k, float *C, int ldc, int accumulate);

/* C = P G, or -(P G) when negate, for nb rows of P (ld kp; columns k..kp-1 finite) and G
 * (k x kp, row-major with row stride ldg >= kp (a multiple of 8), symmetric, zeros in columns
 * k..ldg-1).  C: nb rows of kp floats (columns
 * k..kp-1 get zeros).  Each row of C depends only on the same row of P.  Element q < k8 = k
 * rounded down to a multiple of 8 is E + O: E the FMA chain over the even rows j of G in order,
 * O the one over the odd rows.  CG needs one row at a time, and a single chain per element would
 * be latency-bound (at k = 64 AVX-512 holds a row in 4 vectors: 4 FMAs in flight where the two
 * units take 8); two chains keep 8 in flight.  The last k mod 8 elements are row q of G dotted
 * with p (hr_als_rows_dot): at k = 65 one dot instead of a ninth vector - a lane of use in 8 or
 * 16 - on every row of G. */
void hr_als_gemm_g(const float *P, int nb, const float *G, int ldg, int k, float *C, int negate);
/* A row stride for G that keeps hr_als_gemm_g's AVX-512 loads whole: k rounded up to a multiple
 * of 16 floats (with G 64-byte aligned, no 16-float vector of a row straddles two cache lines;
 * at k = 65 the stride kp = 72 put every odd row's vectors across two, and the loads split in
 * two made G p 1.4x slower than at k = 64). */
static inline int hr_als_ldg(int k) { return (k + 15) / 16 * 16; }

/* s_i = y_i . v for the n rows of Yb (ld kp); v: kp floats; columns k..kp-1 of both must be 0
 * (or one of them).  One chain per row and a fixed reduction tree. */
void hr_als_rows_dot(const float *Yb, uint64_t n, int k, const float *v, float *s);
/* out[0..k) += sum_i w_i y_i over the n rows of Yb (ld kp); w NULL means all ones.  Each
 * element of out is one FMA chain in row order, continued across calls. */
void hr_als_rows_axpy(const float *Yb, uint64_t n, int k, const float *w, float *out);

/* The gather of explicit ALS, entries 0..n-1 of a row (or of a chunk of one): entry j's column
 * c = col[j] (< ncols) and target t_j = val[j] - mu - ybias[c] (ybias may be NULL) go to
 * wt[j]; row c of Y (ld k) to row j of dst (ld kp, zeros after k); sy += that row and
 * ty += t_j times it (kp floats each) - the bits of hr_als_rows_axpy with w = 1 and w = wt over
 * the gathered rows, summed as the rows are copied (AVX-512) or from the copies while they are
 * in the cache (AVX2, portable).  The rows HR_ALS_PREFETCH (solvers/als_gather.h) entries ahead
 * are prefetched, across the end of the chunk while col holds entries there (ahead: how many).
 * Returns n, or the first j whose column is >= ncols (the entries before it done, the sums
 * holding them).  *tsum += t_j, one float chain in the order of j, summed in the loop where the
 * row loads leave time for it (after it, in a loop of its own, the serial chain cost 4 cycles
 * an entry). */
uint64_t hr_als_gather_explicit(float *dst, int kp, const float *Y, int k, uint64_t ncols, const uint32_t *col,
                                const float *val, uint64_t n, uint64_t ahead, const float *ybias, float mu, float *wt,
                                float *sy, float *ty, float *tsum);
/* hr_als_gather_explicit, then (all n entries gathered) hr_als_gram_upper(dst, n, kp, k, C, ldc,
 * accumulate): the same results, bit for bit.  At AVX-512 with 16 <= k <= 64 and n >= 32 (the
 * Gram's diagonal blocks in their own kernel) the first diagonal block is formed in the gather's
 * loop (solvers/als_gram.c).  Returns as the gather; C is not touched when it is < n. */
uint64_t hr_als_gather_gram_explicit(float *dst, int kp, const float *Y, int k, uint64_t ncols, const uint32_t *col,
                                     const float *val, uint64_t n, uint64_t ahead, const float *ybias, float mu,
                                     float *wt, float *sy, float *ty, float *tsum, float *C, int ldc, int accumulate);
/* y_i *= s_i for the n rows of Yb (ld kp; the padding columns stay 0). */
void hr_als_rows_scale(float *Yb, uint64_t n, int k, const float *s);

/* The CG product: rows_dot, then the weights, then rows_axpy:
 * out[0..k) += sum_i w_i y_i over the n rows y_i of Yb (ld kp, zero-padded), with s_i = y_i . v
 * (v: kp floats, zero-padded) and w_i = wt_i * s_i (step) or (1 + wt_i) - wt_i * s_i
 * (residual: the right-hand side c_i minus the sparse part of A v).  tmp: n floats of scratch.
 * out: kp floats. */
void hr_als_spmv_rows(const float *Yb, const float *wt, uint64_t n, int k, const float *v, float *out, int residual,
                      float *tmp);
/* Its weights, in place: s_i <- wt_i s_i (step) or (1 + wt_i) - wt_i s_i (residual). */
void hr_als_spmv_weights(float *s, const float *wt, uint64_t n, int residual);

/* CG vector updates on zero-padded vectors of kp floats (x: k floats, the factor row):
 * hr_als_vdot = a . b; hr_als_cg_step: x += a p, r -= a ap, returns r . r; hr_als_cg_xpby:
 * p = r + beta p.  The padding stays 0. */
float hr_als_vdot(const float *a, const float *b, int k);
float hr_als_cg_step(float *x, float *p, float *r, const float *ap, float a, int k);
void hr_als_cg_xpby(const float *r, float beta, float *p, int k);

/* ---- the batched Cholesky (solvers/als_chol.c) ---- */

/* Lays HR_ALS_LANES Gram matrices out as rows 0..k-1 of a batch: element (i, j <= i) of lane
 * b <- S_b[j][i] + G0[j][i], where S_b = S + b * ss (row-major, ld kp, upper triangle read, as
 * hr_als_gram_upper writes it) and G0 (ld kp) may be NULL.  Reads columns up to kp - 1 of the
 * rows (finite values).  P: see hr_als_chol_batch. */
void hr_als_pack_lanes(const float *S, size_t ss, int k, const float *G0, float *P);
/* One batch row (elements 0..k-1, Prow = P + tri(r) * LANES) <- HR_ALS_LANES vectors
 * V_b = V + b * vs (reads kp floats each). */
void hr_als_pack_row(const float *V, size_t vs, int k, float *Prow);

/* Factors HR_ALS_LANES symmetric matrices of order n at once.  P holds rows 0..n+nextra-1 in
 * the packed lower layout, element (i, j) of lane b at P[(tri(i) + j) * LANES + b]; rows
 * n..n+nextra-1 are right-hand sides: their elements j < n become L^-1 b (forward
 * substitution), their element j = n onwards is not touched.  Rows 0..n-1 become L (lower,
 * L L^T = A); invd gets 1 / L_jj (n x LANES).  Returns the mask of lanes whose matrix was not
 * positive definite (a pivot <= 0 or not a number); those lanes' outputs are meaningless.
 * P, invd and z must be 64-byte aligned. */
uint32_t hr_als_chol_batch(float *P, int n, int nextra, float *invd);
/* Solves L^T x = z for every lane (z: n x LANES, overwritten by x), L and invd from
 * hr_als_chol_batch. */
void hr_als_chol_backsolve(const float *P, int n, const float *invd, float *z);

#endif
