/* solvers/dmat.h — a dense double matrix distributed block-cyclically over a process grid.
 *
 * The local array holds this rank's tiles (mpi/grid.h explains the layout): column-major,
 * lld x nloc doubles.  A dmat borrows the grid (which must outlive it) and owns its array.
 * Creating one is local (no communication), but every rank of the grid must create the same
 * global shape before a ScaLAPACK call uses it.
 *
 * Memory: hr_dmat_bytes() is what hr_dmat_create allocates on this rank, so a job can check a
 * size against the memory it has before allocating anything (EASE's G is 8 n^2 / P bytes).
 * Errors: HR_ERR_ARG (shape beyond ScaLAPACK's 32-bit indexing), HR_ERR_NOMEM (the local array
 * could not be allocated: reported, not aborted, so ranks can agree on it). */
#ifndef HR_SOLVERS_DMAT_H
#define HR_SOLVERS_DMAT_H

#include <stdint.h>

#include "core/error.h"
#include "mpi/grid.h"

typedef struct hr_dmat {
    const hr_grid *g;
    int64_t m, n;        /* global shape [global] */
    int64_t mloc, nloc;  /* local rows / columns [local] */
    int64_t lld;         /* leading dimension of a, >= max(1, mloc) */
    double *a;           /* lld x nloc, zeroed at creation */
    int desc[9];
} hr_dmat;

/* Bytes of the local array an m x n matrix takes on this rank. */
uint64_t hr_dmat_bytes(const hr_grid *g, int64_t m, int64_t n);
int hr_dmat_create(hr_dmat *A, const hr_grid *g, int64_t m, int64_t n, hr_error *err);
void hr_dmat_free(hr_dmat *A); /* accepts a zeroed struct */

/* Element (i, j) (global, 0-based) if this rank holds it, else NULL. */
double *hr_dmat_at(const hr_dmat *A, int64_t i, int64_t j);

#endif
