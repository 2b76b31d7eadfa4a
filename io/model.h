/* io/model.h — the model bundle (format "hpcrec-model", version 1) and the reference scorer.
 *
 * A model is an io/bundle.h tar: manifest.json, then zstd-compressed members
 *   users.dict, items.dict             dictionaries (io/dictbuf.h = the io/shard.h dict layout)
 *   user_factors.f32, item_factors.f32 factor models: n x k float32, row-major, little-endian,
 *                                      rows in dictionary (global id) order
 *   user_bias.f32, item_bias.f32       optional, any kind: n float32
 *   item_scores.f32                    popularity models: n_items float32
 * Manifest: format, version, kind ("factor"/"pop"), algo, k, users, items, global_mean,
 * software ("hpcrec X.Y.Z"), created (UTC), members (io/bundle.h), plus every key of the `info`
 * object given at save (hyper-parameters, lineage, iterations, final loss, ranks, ...).
 * Reading it needs nothing but tar, zstd and a JSON parser.
 *
 * Ownership: an hr_model owns its arrays, dictionaries and manifest reference; hr_model_free
 * releases them.  hr_model_save only reads m (the caller keeps everything).
 * Errors: hr_model_save: HR_ERR_ARG (inconsistent struct: sizes, missing arrays, a key of info
 * that the model itself writes), HR_ERR_NUMERIC (a NaN/Inf value: a diverged model is never
 * written), plus those of hr_bundle_write.  hr_model_load: HR_ERR_FORMAT (sizes inconsistent
 * with users/items/k, a non-finite value — naming the member and row — a missing member or
 * field), HR_ERR_VERSION, HR_ERR_CHECKSUM, HR_ERR_IO, as hr_bundle_open. */
#ifndef HR_IO_MODEL_H
#define HR_IO_MODEL_H

#include <jansson.h>
#include <stdint.h>

#include "core/error.h"
#include "partition/dict.h"

#define HR_MODEL_FORMAT "hpcrec-model"
#define HR_MODEL_VERSION 1
/* Bound on k, so n x k size arithmetic cannot overflow for any plausible n. */
#define HR_MODEL_MAX_K 65536

typedef enum { HR_MODEL_FACTOR = 1 /* als, ials, svd */, HR_MODEL_POP = 2 } hr_model_kind;

typedef struct hr_model {
    hr_model_kind kind;
    char algo[16];          /* NUL-terminated, non-empty */
    int k;                  /* factor: 1..HR_MODEL_MAX_K; pop: 0 */
    uint64_t n_users, n_items;
    hr_dict users, items;   /* n == n_users / n_items */
    float *user_factors;    /* factor: n_users x k, row-major, in user-dictionary order; pop: NULL */
    float *item_factors;    /* factor: n_items x k; pop: NULL */
    float *user_bias;       /* n_users or NULL */
    float *item_bias;       /* n_items or NULL */
    float global_mean;      /* 0 when the model has no rating baseline */
    float *item_scores;     /* pop: n_items; factor: NULL */
    json_t *manifest;       /* after load: the full manifest (owned reference); ignored by save */
    /* After hr_model_load_part only: the user arrays hold user_rows rows, those of the users
     * user_ids[0..user_rows) (increasing); the item arrays rows item_lo..item_hi-1.  Scoring
     * needs a whole model. */
    int partial;
    uint64_t user_rows, item_lo, item_hi;
    uint64_t *user_ids;
} hr_model;

/* A model spread over ranks (recommend, similar): memory per rank follows its share, not the
 * model's size.  First hr_model_load_dicts (header and dictionaries: enough to map ids and choose
 * rows), then hr_model_load_part for the chosen rows; members are streamed (io/bundle.h picks),
 * so the whole arrays are never in memory.  item_scores (pop) and dictionaries are whole. */
typedef struct hr_model_part {
    const uint64_t *users;   /* user ids (dictionary order) whose rows to keep: any order, repeats allowed */
    uint64_t n_users;
    uint64_t item_lo, item_hi;
} hr_model_part;

/* info (borrowed, may be NULL): an object merged into the manifest. */
int hr_model_save(const char *path, const hr_model *m, json_t *info, hr_error *err);
/* Fills *m (zeroed first; on failure left empty, no free needed). */
int hr_model_load(const char *path, hr_model *m, hr_error *err);
void hr_model_free(hr_model *m); /* accepts NULL; leaves *m zeroed */
/* The row of user id u in a partial model's user arrays (u itself in a whole model), or -1
 * when the part does not hold it. */
int64_t hr_model_user_row(const hr_model *m, uint64_t u);
/* Header, manifest and dictionaries; no arrays (kind, k, counts set). */
int hr_model_load_dicts(const char *path, hr_model *m, hr_error *err);
/* Adds the part's rows to m (loaded by hr_model_load_dicts from the same path): the user arrays
 * in increasing id order (m->user_ids; hr_model_user_row finds a row).  HR_ERR_STATE when the
 * bundle changed in between; otherwise the errors of hr_model_load, HR_ERR_FORMAT for a user id
 * past the model's. */
int hr_model_load_part(const char *path, hr_model *m, const hr_model_part *part, hr_error *err);

/* Scores of every item for one user (model gid), into scores[n_items]:
 *   factor: global_mean + user_bias[u] + item_bias[i] + x_u . y_i  (absent biases count 0)
 *   pop:    item_scores[i]  (the user is ignored)
 * The per-user constants (mean, user bias) do not change the ranking; they are kept so the
 * scores are predicted ratings, comparable with hr_model_predict.  Batched scoring
 * (solvers/score.h, SGEMM) leaves them out; this is the simple, exact reference (dot products
 * accumulated in double).  HR_ERR_ARG if user >= n_users for a factor model, or for a partial one. */
int hr_model_score_items(const hr_model *m, uint64_t user, float *scores, hr_error *err);
/* Rating prediction mu + b_u + b_i (+ x_u . y_i for factor models).  Requires u < n_users,
 * i < n_items and a whole model; returns NaN otherwise. */
float hr_model_predict(const hr_model *m, uint64_t u, uint64_t i);

#endif
