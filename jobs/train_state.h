/* jobs/train_state.h — state of one distributed ALS run (built by train.c, run by train_loop.c,
 * read by train_svd.c's --init svd and the checkpoints).
 *
 * Each rank holds the factor rows of the users and items it owns (partition/part.h), the
 * by-user CSR and by-item CSC blocks with column indices rewritten into positions of the
 * exchange receive buffers (partition/route.h), and the buffers themselves. */
#ifndef HR_JOBS_TRAIN_STATE_H
#define HR_JOBS_TRAIN_STATE_H

#include <stdint.h>

#include "core/error.h"
#include "jobs/dataset.h"
#include "jobs/job.h"
#include "jobs/train_opts.h"
#include "partition/route.h"
#include "solvers/als.h"

struct hr_jsonl;

/* Phases of an iteration: the solvers' (HR_ALS_PH_*), then these two. */
enum { HR_TRAIN_PH_EXCHANGE = HR_ALS_NPHASE, HR_TRAIN_PH_LOSS, HR_TRAIN_NPHASE };
extern const char *const hr_train_phase_names[HR_TRAIN_NPHASE];

typedef struct hr_train_side {
    hr_block *block;          /* the dataset's by_user or by_item block */
    uint32_t *col;            /* block->idx mapped to receive-buffer positions */
    hr_route route;           /* how the other side's rows arrive */
    float *F, *bias;          /* owned factor rows (nrows x k) and biases */
    float *recv, *recv_bias;  /* other side's rows as received (with ky < k: their first ky floats) */
    float *recv_tail;         /* with ky < k: their other k - ky floats (hr_als_solve_implicit_split) */
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
    int ky;                   /* implicit: received rows split after ky floats (hr_als_split_ky); k: not */
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
    struct hr_jsonl *history; /* rank 0: train --history FILE, one line per iteration (or NULL) */
    int history_rc;           /* its first write error (rank 0), agreed on after the loop */
    hr_error history_err;
} hr_train;

#endif
