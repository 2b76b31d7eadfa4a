/* jobs/train.h — what `hpcrec train` (jobs/train.c) calls of its algorithm files: the ALS loop
 * (train_loop.c), the dense models (train_ease.c, train_svd.c, train_dense.c), the neighbourhood
 * models (train_knn.c, train_userknn.c) and the manifest lineage (train_lineage.c).  Their
 * options are in jobs/train_opts.h, the state of one ALS run in jobs/train_state.h, so the
 * algorithm files depend on those and not on train.c. */
#ifndef HR_JOBS_TRAIN_H
#define HR_JOBS_TRAIN_H

#include <stdint.h>

#include <jansson.h>

#include "io/model.h"
#include "jobs/dataset.h"
#include "jobs/job.h"
#include "partition/route.h"
#include "solvers/als.h"
#include "solvers/dmat.h"
#include "solvers/knn.h"
#include "solvers/svd.h"

#include "jobs/train_opts.h"
#include "jobs/train_state.h"

/* Shared by every algorithm (train_lineage.c).  The "lineage" object of a model manifest. */
json_t *hr_train_lineage(hr_job *job, const char *data, const hr_dataset *ds, uint64_t nnz);

/* The dense models: load nothing themselves (ds holds the by-user block), write o->out, set the
 * summary keys.  Collective. */
int hr_train_ease(hr_job *job, const hr_dense_opts *o, hr_dataset *ds, uint64_t nnz);
int hr_train_svd(hr_job *job, const hr_dense_opts *o, hr_dataset *ds, uint64_t nnz);
/* itemknn (train_knn.c): resolves the defaults that depend on the data (feedback, measure),
 * refuses measures the data cannot give, trains and writes o->out.  Collective. */
int hr_train_knn(hr_job *job, hr_knn_train_opts *o, hr_dataset *ds, uint64_t nnz);
/* train --algo userknn (train_userknn.c): the same options, per user. */
int hr_train_userknn(hr_job *job, hr_knn_train_opts *o, hr_dataset *ds, uint64_t nnz);
/* Shared by itemknn and userknn (jobs/train_knn.c) [collective]: the defaults that depend on the
 * data (feedback, measure, K, shrink) and the refusals; and the rating baselines of explicit
 * data (mu, b_u of this rank's rows, b_i of every item; Surprise's baseline ALS or item means,
 * summed in fixed point so they are the same bits on any rank count). */
int hr_knn_resolve(hr_job *job, hr_knn_train_opts *o, const hr_dataset *ds);
int hr_knn_baselines(hr_job *job, const hr_knn_opts *k, const hr_dataset *ds, double *mu, double *bu, double *bi);
/* Shared by the dense models (train_dense.c).
 * Refuse, before allocating, a run whose estimated bytes per rank, summed over the ranks of each
 * node, exceed what that node can give (core/sysmem.h).  what / formula name the estimate in the
 * message.  Collective. */
int hr_dense_check_memory(hr_job *job, uint64_t bytes, const char *what, const char *formula);
/* A phase boundary: stop when any rank got SIGTERM / SIGUSR1 (or, in tests, at the N-th boundary
 * of HR_TEST_STOP_AFTER_PHASE=N; *boundary counts them, from 0 per run).  Returns HR_ERR_INTERRUPT on every rank with a message saying
 * that the dense model keeps no checkpoint and a rerun starts over.  Collective. */
int hr_dense_stop_point(hr_job *job, int *boundary, const char *algo, const char *after);

/* EASE's Gram assembly (train_ease.c): the lower triangle of G = X^T X of every rank's block b
 * added into G's tiles, in bounded rounds.  seconds / flops: slowest rank, all ranks.
 * Collective. */
int hr_ease_assemble(hr_job *job, const hr_grid *g, const hr_block *b, hr_row_weight w, hr_dmat *G, double *seconds,
                     double *flops, uint64_t *rounds);

/* The randomized truncated SVD (train_svd.c) of the matrix whose rows x are spread over the
 * ranks: n_items columns (key[i]: the item's stable key for the test matrix), n_users rows in
 * all.  K triplets; V (n_items x K row-major) and S on every rank, the rank's rows of U S^p in
 * F (rows x K row-major).  Collective. */
int hr_svd_run(hr_job *job, const hr_dense_opts *o, const hr_svd_rows *x, uint64_t n_items, const uint64_t *key,
               uint64_t n_users, int K, double p, double **V, double **S, float *F);

/* --init svd: replace t's initial factors by a truncated SVD of the training matrix (users
 * U sqrt(S), items V sqrt(S); als: of the ratings minus their mean).  Collective. */
int hr_train_init_svd(hr_train *t, const hr_dense_opts *o);

int hr_train_setup(hr_train *t);
/* One full iteration (users then items; only items when skip_user_half, after a resume from
 * a half-iteration checkpoint).  *stopped = 1 or 2 when a stop signal arrived and the loop
 * ended after the user (1) or item (2) half.  It prints the progress line of iteration it-1,
 * whose loss becomes known once the item rows reach the users; hr_train_finish prints the
 * last one (one extra exchange per run). */
int hr_train_iterate(hr_train *t, int64_t it, int skip_user_half, int *stopped);
int hr_train_finish(hr_train *t, int64_t last);
/* train --item-features (jobs/train_content.c): fit the content map on the owned warm items'
 * rows F (k floats each, local order) and biases (or NULL), store it in hdr (content_*) and
 * the manifest section `content` in info.  Collective. */
struct hr_content_opts;
int hr_train_content(hr_job *job, const struct hr_content_opts *o, const hr_dataset *ds, const float *F, const float *bias, int k,
                     hr_model *hdr, json_t *info);
void hr_train_free(hr_train *t);

#endif
