/* jobs/recommend_userknn.h — recommend's top-N for a user-user model (train --algo userknn).
 *
 * score(u, j) = sum over u's stored neighbours v of sim(u, v) x_vj, x_vj from --data (1 for
 * implicit models, the value for explicit ones), summed in fixed point (solvers/knn.h) so a score
 * is the same bits whichever rank's block brings v: the output is identical on any rank count.
 * The neighbours' rows come round the ring of ranks (jobs/userknn_ring.h), each rank packing its
 * own --data rows once.  A first ring pass counts each user's neighbour entries, which size its
 * score table (sparse, or dense over the items when that bound passes a quarter of them); users
 * are then scored in chunks whose tables stay under UU_REC_BYTES, one ring pass each, every rank
 * running as many passes (collective). */
#ifndef HR_JOBS_RECOMMEND_USERKNN_H
#define HR_JOBS_RECOMMEND_USERKNN_H

#include <stdint.h>

#include "io/model.h"
#include "jobs/job.h"
#include "partition/block.h"
#include "solvers/topk.h"

/* m: a partial useruser model holding the neighbour lists of the users mg[0..n) (model user ids,
 *    each with at least one neighbour) [local];
 * rows: this rank's --data rows [local]; umodel[data user gid]: model user id or UINT32_MAX;
 *    imap[data item gid]: model item id or UINT32_MAX;
 * excl[x] / nexcl[x]: model item ids never recommended to user x (sorted; NULL / 0 allowed);
 *    banned: catalogue-wide flags or NULL;
 * heaps[x]: user x's selection (home capacity >= its n; working room is lent here).
 * Collective; errors agreed.  Seconds of scoring and of ring shifts are added to *t_score, *t_comm. */
int hr_rec_uu_topn(hr_job *job, const hr_model *m, const hr_block *rows, const uint32_t *umodel, const uint32_t *imap,
                   const uint32_t *mg, uint64_t n, uint32_t *const *excl, const uint32_t *nexcl, const uint8_t *banned,
                   hr_topbuf *heaps, double *t_score, double *t_comm);

#endif
