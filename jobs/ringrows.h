/* jobs/ringrows.h — scoring users from their interaction rows, the model travelling round the
 * ring of ranks (the row-driven sibling of jobs/ringscore.h).
 *
 *   item-item models (solvers/itemitem.h): each rank holds its share of B's column blocks
 *     (hr_ring_item_share); the shares travel round the ring as one message of encoded blocks
 *     (io/iiblock.h), so after P steps every rank has scored its queries against every column
 *     while holding at most two shares.  Into top-N selections (recommend) or into full score
 *     rows (evaluate).
 *   fold-in of factor models (PureSVD): the item factor blocks travel instead and each query
 *     accumulates x_u V, which then scores as a factor row (hr_ring_score).
 * A query is a row of an hr_iiquery: model item ids ascending, weighted as the model's
 * row_weight says (hr_ring_rows_build makes them).
 *
 * Every function is collective over the job's ranks (call counts must match: evaluate runs the
 * same number of chunks on every rank, possibly with no queries).
 * Errors: HR_ERR_STATE (a ring message larger than announced), HR_ERR_FORMAT (a block that does
 * not parse), agreed across ranks. */
#ifndef HR_JOBS_RINGROWS_H
#define HR_JOBS_RINGROWS_H

#include <stdint.h>

#include "io/model.h"
#include "jobs/job.h"
#include "solvers/itemitem.h"
#include "solvers/topk.h"

/* Model rows rank `rank` of P reads for scoring (local): a factor model's item block rank
 * (hr_block_lo, as the item ring expects), an item-item model's share of column blocks (B
 * travels too). */
void hr_ring_item_share(const hr_model *m, int rank, int P, uint64_t *lo, uint64_t *hi);

/* Query rows, owned. */
typedef struct hr_ring_rows {
    uint64_t n, cap, nnz, nnz_cap;
    uint64_t *ptr;
    uint32_t *idx;
    float *val;
} hr_ring_rows;
void hr_ring_rows_init(hr_ring_rows *r);
/* Append one row: items in some id space mapped by map[] to model ids (UINT32_MAX: unknown to
 * the model, dropped), values weighted by w (binary: 1).  Returns the row's length; a row left
 * empty is not appended. */
uint64_t hr_ring_rows_add(hr_ring_rows *r, const uint32_t *items, const float *vals, uint64_t len, const uint32_t *map,
                          hr_row_weight w);
/* Append one entry (model item id i, value v) to the row being built: first opens it, last
 * closes it (entries in ascending i). */
void hr_ring_rows_add_entry(hr_ring_rows *r, uint32_t i, float v, int first, int last);
void hr_ring_rows_free(hr_ring_rows *r);
static inline hr_iiquery hr_ring_rows_query(const hr_ring_rows *r) { return (hr_iiquery){ r->ptr, r->idx, r->val }; }

/* Top-N of every query against B (the blocks m holds; banned: n_items flags or NULL).  excl /
 * nexcl: per query sorted model item ids never returned (NULL = none).  heaps: initialised by
 * the caller. */
int hr_ring_topn_ii(hr_job *job, const hr_model *m, const hr_iiquery *q, uint64_t nq, uint32_t *const *excl,
                    const uint32_t *nexcl, const uint8_t *banned, hr_topbuf *heaps, double *t_score, double *t_comm);
/* Every block of B once on every rank, one share at a time: fn(ctx, block, its rows form (NULL
 * for a dense block)); a nonzero return stops the visits (the ring still turns) and is agreed. */
typedef int (*hr_ring_block_fn)(void *ctx, const hr_iiblock *b, const hr_iirows *t);
int hr_ring_ii_visit(hr_job *job, const hr_model *m, hr_ring_block_fn fn, void *ctx, double *t_score, double *t_comm);
/* Full score rows of queries q0 .. q0+nq-1: S is nq x n_items, row-major. */
int hr_ring_rows_ii(hr_job *job, const hr_model *m, const hr_iiquery *q, uint64_t q0, uint64_t nq, float *S,
                    double *t_score, double *t_comm);
/* Fold-in: Q (nq x k) = x_u V for every query; items: this rank's block of the item factors
 * (block `rank` of P over n rows, k floats each).  Accumulated in double. */
int hr_ring_project(hr_job *job, const float *items, uint64_t n, int k, const hr_iiquery *q, uint64_t nq, float *Q);

#endif
