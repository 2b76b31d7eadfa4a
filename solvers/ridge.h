/* solvers/ridge.h — the ridge map from item content features to item factors.
 *
 * Items i = 1..n with sparse feature rows f_i (nf features) and targets y_i (width columns:
 * the item's factors, and its bias when the model has one).  The map W (nf x width) solves
 *   (F^T F + lambda I) W = F^T Y,
 * and a new item's target is predicted as f_i W.  A constant feature (an intercept) is the
 * caller's to add as one more column of F.
 * SPMD contract: nothing here talks MPI; hr_ridge_accumulate adds this rank's items to F^T F and
 * F^T Y (in double, so that the allreduced sums do not depend on how items are split over ranks
 * beyond the last bits, which the float W the caller keeps rounds away); the caller
 * allreduces both, then every rank calls hr_ridge_solve on the same sums and gets the same W.
 * Layouts: row-major; F^T F nf x nf (full, symmetric), F^T Y and W nf x width.
 * Cost: accumulate sum over items of nnz_i^2 + nnz_i * width; solve nf^3 / 3 + nf^2 width;
 * memory 8 nf^2 bytes (the caller caps nf: 4096 features = 128 MiB).
 * Errors: HR_ERR_ARG (lambda <= 0 or not finite, a column index >= nf), HR_ERR_NUMERIC (not
 * positive definite, which lambda > 0 rules out but for NaN/Inf inputs). */
#ifndef HR_SOLVERS_RIDGE_H
#define HR_SOLVERS_RIDGE_H

#include <stdint.h>

#include "core/error.h"

/* rows: n items, row r = col/val[ptr[r] .. ptr[r+1]); Y: n x width (row r = item r's target). */
int hr_ridge_accumulate(const uint64_t *ptr, const uint32_t *col, const float *val, uint64_t n, const float *Y,
                        int width, uint32_t nf, double *FtF, double *FtY, hr_error *err);
/* FtF (destroyed: its Cholesky factor) and FtY (overwritten by W, double); W out as float
 * (may be NULL). */
int hr_ridge_solve(double *FtF, double *FtY, uint32_t nf, int width, double lambda, float *W, hr_error *err);

#endif
