/* solvers/svd.h — the local pieces of a randomized truncated SVD (Halko, Martinsson & Tropp,
 * 2011) of the interaction matrix X (users x items), whose user rows are spread over the ranks.
 *
 *   Y = X Omega               Omega: items x l Gaussian, each row from (seed, item id)
 *   repeat q times:           (power iterations, re-orthonormalized each half step)
 *       Q = qr(Y);  Z = X^T Q;  Z = qr(Z);  Y = X Z
 *   Q = qr(Y);  Z = X^T Q     (= B^T, B = Q^T X is l x items)
 *   Z = V S W^T  (thin SVD)   =>  X ~ (Q W) S V^T;  keep K = l - oversampling columns
 * The job (jobs/train_svd.c) sums the X^T Q partials over ranks and runs the distributed QR of
 * Y on a P x 1 grid (hr_svd_tsqr); everything here is local.
 *
 * Layouts: item-side matrices (Omega, Z, V) are n x l ROW-major (an item's row is contiguous,
 * which the sparse products read); user-side ones (Y, Q) are the local column-major arrays of
 * an hr_dmat on the P x 1 grid (ld >= the rank's rows).  Rows of X: the rank's by-user block,
 * weighted 1 (binary) or by value minus `shift`.
 * Errors: HR_ERR_NUMERIC when LAPACK / ScaLAPACK report a failure (info != 0). */
#ifndef HR_SOLVERS_SVD_H
#define HR_SOLVERS_SVD_H

#include <stdint.h>

#include "core/error.h"
#include "partition/block.h"
#include "solvers/dmat.h"

typedef struct hr_svd_rows {
    const hr_block *b;   /* rows = this rank's users, idx = item ids */
    int value;           /* 0: every entry weighs 1; 1: val - shift */
    double shift;
} hr_svd_rows;

/* Omega's rows: row i (l values) from the stream (seed, HR_STREAM_SVD, key[i]). */
void hr_svd_gaussian(uint64_t seed, const uint64_t *key, uint64_t n, int l, double *omega);
/* Y[:, 0..l) (local rows, ld) = X Z.  Flops added to *flops. */
void hr_svd_times(const hr_svd_rows *x, const double *Z, int l, double *Y, int64_t ld, double *flops);
/* Z (n x l row-major) += X^T Q (Q local rows, ld). */
void hr_svd_times_t(const hr_svd_rows *x, const double *Q, int64_t ld, int l, double *Z, double *flops);
/* Orthonormal columns spanning Z's (n x l row-major, in place; LAPACK QR; n >= l). */
int hr_svd_orth(double *Z, uint64_t n, int l, double *flops, hr_error *err);
/* Q of the QR of the distributed Y (pdgeqrf + pdorgqr), in place.  Collective over Y's grid. */
int hr_svd_tsqr(hr_dmat *Y, int l, double *flops, hr_error *err);
/* Thin SVD of Z (n x l row-major, B^T): the first K right singular vectors of B as V (n x K
 * row-major), the singular values S[0..K), and W (l x K row-major, left singular vectors of B). */
int hr_svd_small(const double *Z, uint64_t n, int l, int K, double *V, double *S, double *W, double *flops, hr_error *err);

#endif
