/* jobs/content_ridge.h — the ridge fit of the content map (jobs/content.h), (F^T F + lambda I) W = F^T Y,
 * over rows spread across the ranks.
 *
 * This implementation sums F^T F and F^T Y over the ranks (solvers/ridge.h accumulates in
 * double, mpi/comm.h allreduces) and every rank solves the same normal equations, so W is the
 * same everywhere; nf is capped by the caller (--features-max: 8 nf^2 bytes per rank). */
#ifndef HR_JOBS_CONTENT_RIDGE_H
#define HR_JOBS_CONTENT_RIDGE_H

#include <stdint.h>

#include "jobs/job.h"

/* Collective. Local feature rows (CSR ptr[0..n], columns < nf ascending, the intercept is the caller's
   column nf-1), targets Y (n x width, row-major). Out: W (nf x width, row-major float), identical on
   every rank; *seconds the solve time; *grid 1 when the ScaLAPACK grid was used, else 0. */
int hr_content_ridge(hr_job *job, const uint64_t *ptr, const uint32_t *col, const float *val, uint64_t n,
                     const float *Y, int width, uint32_t nf, double lambda, float *W, double *seconds, int *grid);

#endif
