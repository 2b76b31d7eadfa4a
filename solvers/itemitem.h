/* solvers/itemitem.h — item-item models: score(u, .) = x_u . B, held as column blocks of B.
 *
 * B is n x n (n = items of the model; B_ij = weight of item i in the score of item j).  It is
 * stored and moved in blocks of whole columns c0..c1-1, each either
 *   dense:   every B_ij, column-major (column j at val + (j - c0) * n), or
 *   sparse:  the kept entries of each column, CSC: column j's entries are ptr[j - c0] ..
 *            ptr[j - c0 + 1] - 1 of row[] / val[], rows strictly ascending
 * (EASE writes dense blocks or its top-M per column; a neighbourhood model writes its neighbour
 * lists the same way).  The byte form of a block is io/iiblock.h; a block view below points
 * into such bytes and owns nothing.
 *
 * Scoring: a query is a user's interaction row x_u (item ids of the model, ascending, with the
 * model's row weights: 1 for binary, the value otherwise).  For a batch of queries and one block,
 * S[q][j - c0] = sum over the row's items i of x_ui * B_ij: for a dense block a gather per
 * (query, column), for a sparse one a scatter through the block's rows (hr_iiblock_rows, built
 * once per block).  Cost: nnz(x_u) x (c1 - c0) per query and block, independent of n.
 * Sums are accumulated in float, items in ascending order: the same on any rank count.
 *
 * Limits: n < 2^32 (item ids are u32); sizes are the caller's (no allocation in the kernels). */
#ifndef HR_SOLVERS_ITEMITEM_H
#define HR_SOLVERS_ITEMITEM_H

#include <stdint.h>

typedef struct hr_iiblock {
    uint64_t n;          /* rows = items of the model */
    uint64_t c0, c1;     /* columns held */
    uint64_t nnz;        /* entries stored (dense: n * (c1 - c0)) */
    int dense;
    const uint64_t *ptr; /* sparse: c1 - c0 + 1 offsets */
    const uint32_t *row; /* sparse: nnz row ids */
    const float *val;    /* nnz values */
} hr_iiblock;

/* Query rows: CSR of user rows; row q is idx/val[ptr[q] .. ptr[q+1]). */
typedef struct hr_iiquery {
    const uint64_t *ptr;
    const uint32_t *idx;
    const float *val;
} hr_iiquery;

/* A sparse block turned by rows (for scoring): row i's entries are rptr[i] .. rptr[i+1]-1 of
 * rcol (column offset j - c0) / rval.  Caller storage: rptr n + 1, rcol / rval nnz. */
typedef struct hr_iirows {
    uint64_t *rptr;
    uint32_t *rcol;
    float *rval;
} hr_iirows;
void hr_iiblock_rows(const hr_iiblock *b, hr_iirows *t);

/* S[q * ld + (j - j0)] for queries q0..q0+nq-1 and columns j0..j1-1 of the block (within
 * c0..c1); t: hr_iiblock_rows of a sparse block (NULL for a dense one). */
void hr_iiblock_score(const hr_iiblock *b, const hr_iirows *t, const hr_iiquery *q, uint64_t q0, uint32_t nq,
                      uint64_t j0, uint64_t j1, float *S, uint64_t ld);

/* Keep the M entries of largest |value| in each column of a dense column-major n x w block
 * (ties: lower row first; zeros never kept).  Writes ptr (w + 1), row, val (at most w * M);
 * returns the entries kept. */
uint64_t hr_iiblock_topm(const float *dense, uint64_t n, uint64_t w, uint32_t M, uint64_t *ptr, uint32_t *row,
                         float *val);

/* The neighbour list of item j (c0 <= j < c1): column j's non-zero entries, the N of largest
 * |weight| (N = 0: all of them), best first (larger |weight|; ties: lower row), the same rule
 * as hr_iiblock_topm, so a dense model exported with N = M lists the entries a --ease-topm M
 * model keeps.  heap: caller storage of N entries (N = 0: of the column's entry count, n for a
 * dense block); row / val: room for as many.  Returns the entries written. */
struct hr_topk_entry;
uint32_t hr_iiblock_neighbors(const hr_iiblock *b, uint64_t j, uint32_t N, struct hr_topk_entry *heap, uint32_t *row,
                              float *val);

#endif
