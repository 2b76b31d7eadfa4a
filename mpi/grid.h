/* mpi/grid.h — the BLACS process grid every ScaLAPACK computation runs on.
 *
 * One struct holds what a distributed dense matrix needs to know about the processes: the
 * BLACS context, the grid shape, this rank's coordinates and the block sizes.  It is built once
 * from an hr_comm (every rank of it joins: collective) and freed with hr_grid_free (also
 * collective).  solvers/ take the struct and their local tiles, never a communicator: a
 * ScaLAPACK routine given a descriptor made by hr_grid_desc talks to the grid's processes by
 * itself, and the few reductions a solver needs over the grid are the hr_grid_sum_* below.
 *
 * Layout (ScaLAPACK's 2-D block-cyclic distribution, 0-based indices here, first block on
 * process (0, 0)): global row i lives on process row (i / mb) % nprow at local row
 * (i / (mb * nprow)) * mb + i % mb; columns alike with nb and npcol.  A local array is
 * column-major with leading dimension lld = max(1, local rows).  Process (prow, pcol) is rank
 * prow * npcol + pcol of the communicator the grid was made from ("Row" order; checked at
 * creation).
 *
 * Shape: hr_grid_shape(P) gives nprow x npcol = P with nprow the largest divisor of P that is
 * at most sqrt(P): 1 -> 1x1, 2 -> 1x2, 4 -> 2x2, 6 -> 2x3, a prime P -> 1xP.  Every rank takes
 * part, so memory per rank is 1/P of the matrix whatever P is.  A tall-skinny factorisation
 * asks for P x 1 instead.
 *
 * Limits: ScaLAPACK indexes with 32-bit ints, so a global dimension and a local array's
 * element count must stay below 2^31 (hr_grid_desc checks).  One grid per communicator at a
 * time is the tested use; several coexist as BLACS allows.
 * Errors: HR_ERR_ARG (shape does not match the rank count, bad block size, too large),
 * HR_ERR_MPI (BLACS did not place this rank where the Row order says). */
#ifndef HR_MPI_GRID_H
#define HR_MPI_GRID_H

#include <stdint.h>

#include "core/error.h"
#include "mpi/comm.h"

typedef struct hr_grid {
    int ctxt;           /* BLACS context [global] */
    int nprow, npcol;   /* grid shape [global] */
    int myrow, mycol;   /* this rank's process coordinates [local] */
    int mb, nb;         /* block rows / columns [global] */
    int rank, size;     /* in the communicator the grid was made from */
    int sys;            /* BLACS system handle of that communicator (freed with the grid) */
} hr_grid;

/* The most square nprow x npcol = P (local). */
void hr_grid_shape(int P, int *nprow, int *npcol);

/* Collective.  nprow = npcol = 0 picks hr_grid_shape(size); otherwise nprow * npcol must equal
 * the communicator's size.  mb, nb >= 1. */
int hr_grid_create(hr_comm *c, int nprow, int npcol, int mb, int nb, hr_grid **out, hr_error *err);
void hr_grid_free(hr_grid *g); /* collective; accepts NULL */

/* Local rows (rowdim = 1) or columns (rowdim = 0) this rank holds of an n-long dimension. */
int64_t hr_grid_local_rows(const hr_grid *g, int64_t n);
int64_t hr_grid_local_cols(const hr_grid *g, int64_t n);
/* Descriptor of an m x n matrix whose local array has leading dimension lld (local). */
int hr_grid_desc(const hr_grid *g, int64_t m, int64_t n, int64_t lld, int desc[9], hr_error *err);

/* Index maps (local, pure arithmetic). */
static inline int hr_grid_row_proc(const hr_grid *g, int64_t i) { return (int)((i / g->mb) % g->nprow); }
static inline int hr_grid_col_proc(const hr_grid *g, int64_t j) { return (int)((j / g->nb) % g->npcol); }
/* Rank that holds global element (i, j). */
static inline int hr_grid_owner(const hr_grid *g, int64_t i, int64_t j)
{
    return hr_grid_row_proc(g, i) * g->npcol + hr_grid_col_proc(g, j);
}
/* Local index of a global row / column on the process that holds it. */
static inline int64_t hr_grid_row_g2l(const hr_grid *g, int64_t i)
{
    return (i / ((int64_t)g->mb * g->nprow)) * g->mb + i % g->mb;
}
static inline int64_t hr_grid_col_g2l(const hr_grid *g, int64_t j)
{
    return (j / ((int64_t)g->nb * g->npcol)) * g->nb + j % g->nb;
}
/* Global index of local row l of process row prow (local column l of process column pcol). */
static inline int64_t hr_grid_row_l2g(const hr_grid *g, int prow, int64_t l)
{
    return (l / g->mb) * (int64_t)g->mb * g->nprow + (int64_t)prow * g->mb + l % g->mb;
}
static inline int64_t hr_grid_col_l2g(const hr_grid *g, int pcol, int64_t l)
{
    return (l / g->nb) * (int64_t)g->nb * g->npcol + (int64_t)pcol * g->nb + l % g->nb;
}
/* Rows (columns) of an n-long dimension held by process row prow (column pcol). */
int64_t hr_grid_rows_of(const hr_grid *g, int prow, int64_t n);
int64_t hr_grid_cols_of(const hr_grid *g, int pcol, int64_t n);

/* Collective over the whole grid: element-wise sum of buf[0..n) into every process. */
int hr_grid_sum_f64(hr_grid *g, double *buf, int64_t n);

#endif
