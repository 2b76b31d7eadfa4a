/* jobs/content_ridge.h — the content map of cold items, (F^T F + lambda_f I) W = F^T Y, with F^T F
 * either replicated or on the ScaLAPACK grid.
 *
 * Two paths, the same W to rounding:
 *   allreduce  (nf <= HR_RIDGE_ALLREDUCE_MAX, or one rank): every rank sums its items into a
 *              dense F^T F (nf x nf doubles) and F^T Y (solvers/ridge.h), both are allreduced
 *              and every rank solves the same sums (dpotrf + dpotrs).  Memory per rank 8 nf^2
 *              bytes (4096 features: 128 MiB); traffic an allreduce of 8 nf (nf + width)
 *              bytes; solve nf^3 / 3 flops on every rank.  Bit-identical to the fit evaluate
 *              --cold-items made before the grid path existed.
 *   grid       (nf > HR_RIDGE_ALLREDUCE_MAX on P > 1 ranks): F^T F and F^T Y assembled
 *              straight into block-cyclic tiles of the augmented Gram matrix of order
 *              N = nf + width on the BLACS grid (solvers/ridge_grid.h): each rank routes its
 *              items' rows (features, then targets) to the tile owners in bounded all-to-all
 *              rounds (EASE's assembly, jobs/train.h), about (nnz_i + width) (nprow + npcol)
 *              x 8 bytes per item; pdpotrf of the leading nf x nf block (nf^3 / 3P flops per
 *              rank), two pdtrsm for W (2 nf^2 width / P), and W (nf x width floats) summed
 *              to every rank from its owners (an allreduce of 4 nf width bytes, exact: one
 *              owner per entry).  Memory per rank 8 N^2 / P bytes of tiles + 2 x 32 MiB of
 *              assembly rounds + 12 bytes per local nonzero of the augmented rows; no rank
 *              ever holds a dense nf x nf.  Checked against the nodes' memory before any
 *              tile is allocated (jobs/train.h hr_dense_check_memory).
 * Why 4096: up to there the replicated sums cost at most 128 MiB per rank, every run that
 * fitted before (the default --features-max is 2048) keeps its exact numbers, and the time is
 * a wash: measured on 2 ranks, 20000 items, 33 targets (tests/tools/ridge_check ... noref),
 * 1024 features 0.4 s replicated against 1.1 s on the grid (its set-up and 64 MiB rounds),
 * 2048 both 1.2-1.3 s, 4096 6.6 s against 3.2 s.  Above it the replicated F^T F grows as nf^2
 * on every rank (16000 features: 3.0 GB RSS per rank against 1.1 GB on a 1 x 2 grid) and its
 * dpotrf runs whole on every rank, while the grid's tiles and flops divide by P.  On one rank
 * both paths need the same 8 nf^2 bytes, so the replicated one (no routing) is kept whatever
 * nf.
 *
 * Forcing a path (tests, measurements): HR_RIDGE_GRID=auto|yes|no (rank 0's value is the one
 * used); HR_RIDGE_BLOCK=NB sets the ScaLAPACK block (default 128).
 * seconds: the whole fit (accumulation or assembly, exchange, factorisation, solves, W on every
 * rank), slowest rank.
 * Errors: HR_ERR_ARG (a feature >= nf or out of order, lambda <= 0, a bad HR_RIDGE_GRID),
 * HR_ERR_NOMEM (the grid's tiles or the replicated sums exceed a node's memory),
 * HR_ERR_NUMERIC (not positive definite / non-finite W: only NaN or Inf inputs), on every rank. */
#ifndef HR_JOBS_CONTENT_RIDGE_H
#define HR_JOBS_CONTENT_RIDGE_H

#include <stdint.h>

#include "jobs/job.h"

#define HR_RIDGE_ALLREDUCE_MAX 4096u

/* Collective. Local feature rows (CSR ptr[0..n], columns < nf ascending, the intercept is the caller's
   column nf-1), targets Y (n x width, row-major). Out: W (nf x width, row-major float), identical on
   every rank; *seconds the solve time; *grid 1 when the ScaLAPACK grid was used, else 0. */
int hr_content_ridge(hr_job *job, const uint64_t *ptr, const uint32_t *col, const float *val, uint64_t n,
                     const float *Y, int width, uint32_t nf, double lambda, float *W, double *seconds, int *grid);

#endif
