/* solvers/ridge_grid.h — the content ridge of solvers/ridge.h on a process grid, for feature
 * counts whose F^T F is too large to replicate on every rank.
 *
 *   (F^T F + lambda I) W = F^T Y      F: items x nf (sparse), Y: items x width, W: nf x width
 *
 * One block-cyclic matrix (solvers/dmat.h) of order N = nf + width holds the lower triangle of
 * the augmented Gram matrix
 *
 *   G = [F Y]^T [F Y] = [ F^T F     .   ]      rows / columns 0 .. nf-1: features
 *                       [ Y^T F   Y^T Y ]      rows / columns nf .. N-1: the targets
 *
 * so F^T F and F^T Y (as its transpose Y^T F, in the bottom-left width x nf block) come from
 * one assembly: an item's augmented row is its features followed by its targets as columns
 * nf + c (hr_ridge_grid_rows), and EASE's assembly (solvers/ease.h: each row routed to the tile
 * owners, who add the products into their tiles) builds G's lower triangle from them.  No rank
 * forms a dense nf x nf sum.  Y^T Y is assembled and never used: width^2 / 2 products per
 * item, most of the assembly when items carry few features (15 tags and 33 targets: 1176
 * products instead of 615), but the assembly is linear in the items and spread over the
 * ranks, and beside the factorisation of more than 4096 features (nf^3 / 3 > 2.3e10) it stays
 * small unless there are millions of items.  Then, in place:
 *
 *   F^T F + lambda I = L L^T          pdpotrf on the leading nf x nf block
 *   W^T = (Y^T F) L^-T L^-1           two pdtrsm on the bottom-left block
 *
 * and W^T lies where Y^T F was, still block-cyclic; hr_ridge_grid_extract copies this rank's
 * entries of it into a zeroed W, which the caller sums over the ranks (each entry has exactly
 * one owner, so the sum is exact and W is the same bits everywhere).
 *
 * Cost: assembly sum over items of (nnz_i + width)^2 / 2 multiply-adds (lower triangle), spread
 * over the tile owners; factorisation nf^3 / 3 and the solves 2 nf^2 width flops, over P ranks.
 * Memory per rank: 8 N^2 / P bytes of tiles (hr_ridge_grid_bytes).
 * Numerics: as solvers/ridge.h (double sums of float products), W agrees with hr_ridge_solve's
 * to rounding (different summation order and blocking), not bit for bit.
 * On a 1 x 1 grid the same calls run as LAPACK / CBLAS on the whole array (as EASE's do).
 * Collective calls (marked) run ScaLAPACK over the grid; everything else is local.
 * Errors: HR_ERR_ARG (a column >= nf or out of order, lambda <= 0), HR_ERR_NUMERIC (F^T F +
 * lambda I not positive definite, which only NaN / Inf inputs cause; a non-finite W). */
#ifndef HR_SOLVERS_RIDGE_GRID_H
#define HR_SOLVERS_RIDGE_GRID_H

#include <stdint.h>

#include "core/error.h"
#include "solvers/dmat.h"

/* Bytes of this rank's tiles of G (order nf + width). */
uint64_t hr_ridge_grid_bytes(const hr_grid *g, uint32_t nf, int width);

/* The augmented rows (local): row r = col/val[ptr[r] .. ptr[r+1]) (columns < nf, ascending;
 * repeats allowed), then Y[r][c] at column nf + c.  aptr: n + 1; aidx / aval: ptr[n] - ptr[0]
 * + n * width entries. */
int hr_ridge_grid_rows(const uint64_t *ptr, const uint32_t *col, const float *val, uint64_t n, const float *Y, int width,
                       uint32_t nf, uint64_t *aptr, uint32_t *aidx, float *aval, hr_error *err);

/* G's feature diagonal += lambda (local). */
int hr_ridge_grid_regularize(hr_dmat *G, uint32_t nf, double lambda, hr_error *err);
/* Collective: Cholesky of the leading nf x nf block, then W^T in the bottom-left block. */
int hr_ridge_grid_solve(hr_dmat *G, uint32_t nf, int width, hr_error *err);
/* This rank's entries of W (nf x width, row-major float) written into W (the rest untouched):
 * local.  HR_ERR_NUMERIC for a non-finite entry. */
int hr_ridge_grid_extract(const hr_dmat *G, uint32_t nf, int width, float *W, hr_error *err);

/* Flops of the factorisation and the solves (GFLOP/s lines). */
double hr_ridge_grid_flops(uint32_t nf, int width);

#endif
