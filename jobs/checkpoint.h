/* jobs/checkpoint.h — compressed, restartable checkpoints of an ALS run.
 *
 * Layout (DIR = --checkpoint-dir):
 *   DIR/LATEST                      "ckpt-000012\n": the newest complete checkpoint
 *   DIR/ckpt-000012/manifest.json   format hpcrec-checkpoint v1 (written last)
 *   DIR/ckpt-000012/users-RRRRR.f32.zst, items-RRRRR.f32.zst   each rank's factor rows (io/factors.h)
 * A checkpoint is written into DIR/.ckpt-000012.tmp, its manifest last, then renamed into
 * place; LATEST is replaced by rename; only the newest --keep are kept.  A failure (disk full)
 * removes the temporary directory and leaves the previous checkpoint untouched.
 * The manifest records the iteration and half (0: iteration complete; 1: its user half done),
 * the run identity (algorithm, hyper-parameters, seed, dataset fingerprint) and per-file
 * checksums.  Randomness is counter-based (core/rng.h): the seed is the whole RNG state.
 * Resume tries LATEST, then older checkpoints; a truncated or corrupted one is named and
 * skipped; one of another run identity is refused unless forced.  Rank 0 alone reads the
 * directory, LATEST and the manifests and broadcasts them (ranks never choose on their own
 * view of a shared file system); a candidate is committed only when both sides loaded, so when
 * every one fails the factors are those before the resume (fresh, or warm-started).  Rows carry
 * global ids, so a checkpoint loads on any rank count. */
#ifndef HR_JOBS_CHECKPOINT_H
#define HR_JOBS_CHECKPOINT_H

#include <jansson.h>

#include "jobs/train.h"

typedef struct hr_ckpt_opts {
    const char *dir;
    int64_t every;    /* iterations between checkpoints (0 = only on a stop signal) */
    int64_t keep;     /* newest checkpoints kept */
    int level;        /* zstd level */
    int workers;      /* zstd threads per rank */
    int force;        /* resume even if the identity differs */
} hr_ckpt_opts;

/* The run identity a checkpoint must match (new reference). */
json_t *hr_ckpt_identity(const hr_train *t, const char *dataset_dir);
/* Collective.  Writes the state after (it, half).  Logs throughput and compression ratio. */
int hr_ckpt_write(hr_train *t, const hr_ckpt_opts *o, json_t *identity, int64_t it, int half);
/* Collective.  Loads the newest usable checkpoint into t; *it = 0 when there is none. */
int hr_ckpt_resume(hr_train *t, const hr_ckpt_opts *o, json_t *identity, int64_t *it, int *half);

#endif
