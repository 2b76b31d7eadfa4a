/* solvers/ease.h — EASE (Steck, 2019) on a process grid: the Gram matrix, its regularised
 * inverse and the item-item weights B.
 *
 *   G = X^T X                (X: users x items, binary or value-weighted)
 *   P = (G + lambda I)^-1    (pdpotrf + pdpotri: lower triangles only)
 *   B = I - P diag(1/diag(P)) with a zero diagonal:  B_ij = -P_ij / P_jj (i != j), B_jj = 0
 *
 * Assembly ("move the input, not the output"): the process that holds tile (I, J) of G needs,
 * for every user, the user's entries in its row blocks and in its column blocks; it then adds
 * the user's products straight into its local tiles.  So a rank never forms a block of X^T X
 * for its own users: it routes each user's row to the grid processes as records
 *     u32 nr, u32 nc, u32 rows[nr], f32 rvals[nr], u32 cols[nc], f32 cvals[nc]
 * (global item ids, ascending; values as float bits), record by record, in bounded rounds that
 * the job moves between ranks.  Each interaction travels to nprow + npcol processes, so the
 * traffic is (nprow + npcol) x 8 bytes per interaction instead of up to n^2 / 2 doubles of
 * partial Gram blocks.  Only the lower triangle (i >= j) is accumulated: what pdpotrf reads.
 *
 * Collective calls (marked) run ScaLAPACK over the grid of the matrix: every rank of the grid
 * calls them in the same order.  Everything else is local.
 *
 * Numerics: G and P in double; sums of products of float values, exact for binary weights
 * (integer counts below 2^53).  The same data give the same G on any grid; P and B agree across
 * grids to rounding (ScaLAPACK's blocking follows the grid).
 * Errors: HR_ERR_NUMERIC from hr_ease_factor when G + lambda I is not positive definite
 * (*bad_item = the item whose leading minor failed); HR_ERR_STATE for a malformed record. */
#ifndef HR_SOLVERS_EASE_H
#define HR_SOLVERS_EASE_H

#include <stdint.h>

#include "core/error.h"
#include "solvers/dmat.h"

/* ---- assembly (local) */
/* Per-user routing scratch, made once for rows of up to max_len items. */
typedef struct hr_ease_router hr_ease_router;
hr_ease_router *hr_ease_router_create(const hr_grid *g, uint64_t max_len);
void hr_ease_router_free(hr_ease_router *r); /* accepts NULL */
/* Words (u32) the user row items[0..len) (ascending) adds to each rank's record stream:
 * sizes[0..P) are added to. */
void hr_ease_route_size(hr_ease_router *r, const uint32_t *items, uint64_t len, uint64_t *sizes);
/* Append the user's records: out[d] points into rank d's part of the send buffer and advances.
 * vals NULL: binary weights (every value 1). */
void hr_ease_route_pack(hr_ease_router *r, const uint32_t *items, const float *vals, uint64_t len, uint32_t **out);
/* Add the records in words[0..nwords) to the lower triangle of G; *pairs += products added. */
int hr_ease_accumulate(hr_dmat *G, const uint32_t *words, uint64_t nwords, uint64_t *pairs, hr_error *err);

/* ---- factorisation (collective; on a 1 x 1 grid plain LAPACK) */
/* G += lambda I (local). */
void hr_ease_regularize(hr_dmat *G, double lambda);
/* Cholesky factor in place (lower); HR_ERR_NUMERIC with *bad_item when not positive definite. */
int hr_ease_factor(hr_dmat *G, int64_t *bad_item, hr_error *err);
/* P = (G + lambda I)^-1 in place from the factor (lower triangle). */
int hr_ease_invert(hr_dmat *G, hr_error *err);
/* diag[0..n) = diag(P) on every rank (one sum over the grid). */
int hr_ease_diag(hr_dmat *P, double *diag);

/* ---- B in column blocks (local; the job moves the packed values) */
/* Values process (prow, pcol) contributes to the full columns c0..c1-1 of the symmetric P
 * whose lower triangle it holds: the stored entries (i >= j) with j or i in [c0, c1). */
uint64_t hr_ease_panel_count(const hr_grid *g, int64_t n, int prow, int pcol, int64_t c0, int64_t c1);
/* This rank's values in the order hr_ease_panel_unpack expects. */
void hr_ease_panel_pack(const hr_dmat *P, int64_t c0, int64_t c1, double *out);
/* Place process (prow, pcol)'s values into panel (n x (c1 - c0), column-major): P[:, c0..c1). */
void hr_ease_panel_unpack(const hr_grid *g, int64_t n, int prow, int pcol, int64_t c0, int64_t c1, const double *in,
                          double *panel);
/* B[:, c0..c1) from the panel of P: column-major n x (c1 - c0) floats. */
void hr_ease_weights(const double *panel, int64_t n, int64_t c0, int64_t c1, const double *diag, float *B);

/* Flops of the phases, for GFLOP/s lines (n^3/3 and 2n^3/3). */
double hr_ease_factor_flops(int64_t n);
double hr_ease_invert_flops(int64_t n);

#endif
