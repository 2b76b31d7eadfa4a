/* jobs/train.h — state of one distributed ALS run (shared by train.c and train_loop.c).
 *
 * Each rank holds the factor rows of the users and items it owns (partition/part.h), the
 * by-user CSR and by-item CSC blocks with column indices rewritten into positions of the
 * exchange receive buffers (partition/route.h), and the buffers themselves. */
#ifndef HR_JOBS_TRAIN_H
#define HR_JOBS_TRAIN_H

#include <stdint.h>

#include "jobs/dataset.h"
#include "jobs/job.h"
#include "partition/route.h"
#include "solvers/als.h"

typedef enum { HR_ALGO_ALS, HR_ALGO_IALS, HR_ALGO_POP } hr_algo;

/* Phases of an iteration: the solvers' (HR_ALS_PH_*), then these two. */
enum { HR_TRAIN_PH_EXCHANGE = HR_ALS_NPHASE, HR_TRAIN_PH_LOSS, HR_TRAIN_NPHASE };
extern const char *const hr_train_phase_names[HR_TRAIN_NPHASE];

typedef struct hr_train_side {
    hr_block *block;          /* the dataset's by_user or by_item block */
    uint32_t *col;            /* block->idx mapped to receive-buffer positions */
    hr_route route;           /* how the other side's rows arrive */
    float *F, *bias;          /* owned factor rows (nrows x k) and biases */
    float *recv, *recv_bias;  /* other side's rows as received */
    float *send;              /* packing scratch */
} hr_train_side;

typedef struct hr_train {
    hr_job *job;
    hr_dataset *ds;
    hr_algo algo;
    hr_als_opts opts;
    int64_t iters;
    uint64_t seed;
    hr_exchange exchange;
    hr_train_side users, items;
    hr_als_work *work;
    float mu;                 /* global mean rating (explicit) */
    uint64_t nnz;             /* global interactions */
    float *G;                 /* k x k Gram (implicit) */
    double *Gd;               /* its cross-rank sum */
    /* last iteration's figures [global] */
    double loss, rmse, seconds, gflops, imbalance, comm_pct;
    double phase[HR_TRAIN_NPHASE];  /* seconds per phase, mean over ranks */
    uint64_t bytes;
    uint64_t retries;
    int64_t halves, test_stop_after;  /* half-iterations run; injected stop (tests) */
    /* checkpoints written by this run [global] */
    uint64_t ckpt_count, ckpt_bytes, ckpt_raw;
    double ckpt_seconds;
} hr_train;

int hr_train_setup(hr_train *t);
/* One full iteration (users then items; only items when skip_user_half, after a resume from
 * a half-iteration checkpoint).  *stopped = 1 or 2 when a stop signal arrived and the loop
 * ended after the user (1) or item (2) half.  It prints the progress line of iteration it-1,
 * whose loss becomes known once the item rows reach the users; hr_train_finish prints the
 * last one (one extra exchange per run). */
int hr_train_iterate(hr_train *t, int64_t it, int skip_user_half, int *stopped);
int hr_train_finish(hr_train *t, int64_t last);
void hr_train_free(hr_train *t);

#endif
