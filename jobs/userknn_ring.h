/* jobs/userknn_ring.h — the training rows of a dataset travelling round the ring of ranks for
 * the serving side of user-user models (evaluate_userknn.c, recommend_userknn.c): each rank packs
 * its rows once (model user ids ascending, model item ids ascending, raw values, each user's
 * b_u in the norm slot: the message of solvers/knn_user.h) and every rank sees every block in
 * P steps, holding two blocks at most.  Collective. */
#ifndef HR_JOBS_USERKNN_RING_H
#define HR_JOBS_USERKNN_RING_H

#include <stdint.h>

#include "io/model.h"
#include "jobs/job.h"
#include "partition/block.h"
#include "solvers/knn_user.h"

/* tr: this rank's rows (data ids); umodel[data user gid]: model user id or UINT32_MAX (dropped);
 * bias[data user gid] or NULL; imap[data item gid]: model item id or UINT32_MAX (dropped). */
void hr_uu_pack(const hr_block *tr, const uint32_t *umodel, const float *bias, const uint32_t *imap, void **msg, uint64_t *len);
/* Visit every rank's block (own first): visit(ctx, block) per step.  Consumes msg. */
int hr_uu_ring(hr_job *job, void *msg, uint64_t len, void (*visit)(void *ctx, const hr_uknn_rows *v), void *ctx, double *t_comm);
/* The neighbour list of model user mg held by m (0 when its block is not loaded). */
uint64_t hr_uu_neighbours(const hr_model *m, uint32_t mg, const uint32_t **row, const float **val);
/* Position of v in the ascending a[0..n), or -1. */
int64_t hr_uu_find(const uint32_t *a, uint64_t n, uint32_t v);

#endif
