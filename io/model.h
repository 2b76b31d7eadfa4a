/* io/model.h — the model bundle (format "hpcrec-model", version 1) and the reference scorer.
 *
 * A model is an io/bundle.h tar: manifest.json, then zstd-compressed members
 *   users.dict, items.dict             dictionaries (io/dictbuf.h = the io/shard.h dict layout)
 *   user_factors.f32, item_factors.f32 factor models: n x k float32, row-major, little-endian,
 *                                      rows in dictionary (global id) order
 *   user_bias.f32, item_bias.f32       optional, any kind: n float32
 *   item_scores.f32                    popularity models: n_items float32
 *   item_item.NNNNNN                   item-item models: block NNNNNN of B's columns
 *                                      (io/iiblock.h), columns NNNNNN*W .. NNNNNN*W+W-1
 * Manifest: format, version, kind ("factor"/"pop"/"itemitem"), algo, k, users, items,
 * global_mean, software ("hpcrec X.Y.Z"), created (UTC), members (io/bundle.h), plus every key
 * of the `info` object given at save (hyper-parameters, lineage, iterations, final loss,
 * ranks, ...).  Models that score a user from the user's interaction row add row_weight
 * ("binary"/"value"); a factor model that projects users it does not know (PureSVD) adds
 * fold_in: "project"; an item-item model adds item_item: {columns_per_block W, blocks, top_m}.
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
#include "solvers/itemitem.h"

#define HR_MODEL_FORMAT "hpcrec-model"
#define HR_MODEL_VERSION 1
/* Bound on k, so n x k size arithmetic cannot overflow for any plausible n. */
#define HR_MODEL_MAX_K 65536

typedef enum { HR_MODEL_FACTOR = 1 /* als, ials, svd */, HR_MODEL_POP = 2, HR_MODEL_ITEMITEM = 3 /* ease */ } hr_model_kind;
/* How a user's interaction row enters a model that scores from it: 1 per item, or its value. */
typedef enum { HR_ROWS_NONE = 0, HR_ROWS_BINARY = 1, HR_ROWS_VALUE = 2 } hr_row_weight;
/* Member width of item-item models written by this version (readers take the manifest's). */
#define HR_MODEL_II_COLS 1024

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
    /* Scoring from a user's row: item-item models always; a factor model with fold_in scores a
     * user it does not know as (x_u V) V^T.  NONE: the model never reads rows. */
    hr_row_weight row_weight;
    int fold_in;
    /* item-item: B in blocks of ii_cols columns (block c = columns c*ii_cols ..), dense or the
     * ii_topm entries of largest magnitude per column; ii[0..ii_count) are blocks ii_first..,
     * views into ii_bytes (owned). */
    uint32_t ii_cols, ii_topm;
    uint64_t ii_first, ii_count;
    hr_iiblock *ii;
    void **ii_bytes;
    json_t *manifest;       /* after load: the full manifest (owned reference); ignored by save */
    /* After hr_model_load_part only: the user arrays hold user_rows rows, those of the users
     * user_ids[0..user_rows) (increasing); the item arrays rows item_lo..item_hi-1 (item-item:
     * the blocks of columns item_lo..item_hi-1).  Scoring needs a whole model. */
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
    uint64_t item_lo, item_hi; /* item-item models: block boundaries (multiples of ii_cols, or n_items) */
} hr_model_part;
/* Block range [*lo, *hi) (columns, block aligned) that rank r of P holds of an item-item model:
 * blocks r*nb/P .. (r+1)*nb/P - 1 of its nb blocks (local). */
void hr_model_ii_share(const hr_model *m, int r, int P, uint64_t *lo, uint64_t *hi);

/* Streaming save, for models whose arrays never sit whole in one place (item-item blocks
 * produced one at a time): open with the header and dictionaries of m (its arrays are not
 * read), add blocks 0, 1, ... in order, close writes the bundle (info as hr_model_save) and
 * frees the writer, abort frees it without writing.  Each block is compressed when added, so
 * the writer holds compressed bytes only.  Errors as hr_model_save; HR_ERR_ARG for a block out
 * of order or not matching the model (size, dense vs top_m). */
typedef struct hr_model_writer hr_model_writer;
int hr_model_writer_open(const char *path, const hr_model *m, hr_model_writer **out, hr_error *err);
int hr_model_writer_add_block(hr_model_writer *w, const hr_iiblock *b, hr_error *err);
int hr_model_writer_close(hr_model_writer *w, json_t *info, hr_error *err);
void hr_model_writer_abort(hr_model_writer *w); /* accepts NULL */

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
/* Scores of every item for a user given by an interaction row (items ascending, values by the
 * model's row_weight), whole models: item-item x . B; a factor model with fold_in
 * (x V) V^T.  Accumulated in double (the reference of the batched scorers).  HR_ERR_ARG for
 * another kind, a partial model or an item past n_items. */
int hr_model_score_row(const hr_model *m, const uint32_t *items, const float *vals, uint64_t len, float *scores,
                       hr_error *err);
/* Rating prediction mu + b_u + b_i (+ x_u . y_i for factor models).  Requires u < n_users,
 * i < n_items and a whole model; returns NaN otherwise. */
float hr_model_predict(const hr_model *m, uint64_t u, uint64_t i);

#endif
