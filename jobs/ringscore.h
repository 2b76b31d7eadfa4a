/* jobs/ringscore.h — score query rows against the whole catalogue, the catalogue travelling.
 *
 * The catalogue (n item rows of k floats, plus an optional bias) is cut into P contiguous
 * blocks; block r starts on rank r and moves round a ring (mpi/ ring shift), so after P steps
 * every rank has scored its queries against every item while holding one block at a time.
 * Scores are SGEMM tiles of RS_USERS queries x RS_ITEMS items (solvers/score.h), read from
 * cache by a bounded top-k per query (solvers/topk.h, buffered variant).  Loops run query-batch
 * major: a batch's selection buffers stay in cache while it sweeps every tile of a block.
 * Before the first sweep each query is scored against a probe of likely winners (the local
 * block's items of largest norm) whose n-th best score is the starting bar, so the sweep admits
 * few candidates.  Used by recommend (queries = users) and similar (queries = normalised item
 * rows). */
#ifndef HR_JOBS_RINGSCORE_H
#define HR_JOBS_RINGSCORE_H

#include <stdint.h>

#include "jobs/job.h"
#include "solvers/topk.h"

typedef struct hr_ring_query {
    uint64_t nq;
    const float *Q;              /* nq x k */
    uint32_t *const *excl;       /* per query: sorted item ids never to return (NULL = none) */
    const uint32_t *nexcl;
    hr_topbuf *heaps;            /* nq selections, initialised by the caller */
} hr_ring_query;

/* Collective.  The catalogue has n items split into P blocks, block r = items r*n/P ..
 * (r+1)*n/P - 1.  items: block `rank`'s rows (k floats each; the other blocks arrive through the
 * ring); bias: block `rank`'s biases or NULL; banned: n flags (whole catalogue) or NULL (items
 * scored -inf).  t_score / t_comm: this rank's seconds. */
int hr_ring_score(hr_job *job, const float *items, const float *bias, const uint8_t *banned, uint64_t n, int k,
                  const hr_ring_query *q, double *t_score, double *t_comm);

/* One step of a ring of blocks: send the block held (bytes) to rank + 1, receive the next from
 * rank - 1 into *nxt (cap bytes), swap the two buffers; *cur becomes the block now held.
 * Collective (jobs that move other blocks round the same ring: evaluate_ring.c). */
int hr_ring_step(hr_job *job, float **blk, float **nxt, uint64_t bytes, uint64_t cap, int *cur);

#endif
