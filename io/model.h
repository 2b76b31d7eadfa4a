/* io/model.h — the model bundle (format "hpcrec-model") and the reference scorer.
 *
 * A model is an io/bundle.h tar: manifest.json, then zstd-compressed members.  Its arrays:
 *   users.dict, items.dict             dictionaries (io/dictbuf.h = the io/shard.h dict layout)
 *   user_factors.f32, item_factors.f32 factor models: n x k float32, row-major, little-endian,
 *                                      rows in dictionary (global id) order
 *   user_bias.f32, item_bias.f32       optional, any kind: n float32
 *   item_scores.f32                    popularity models: n_items float32
 *   item_item.NNNNNN                   item-item models: block NNNNNN of B's columns
 *                                      (io/iiblock.h), columns NNNNNN*W .. NNNNNN*W+W-1
 * Version 1 stores each array as one member of that name.  Version 2 (written now; both are
 * read) cuts every array into members of a FIXED number of rows, "NAME.000000", "NAME.000001",
 * ... (member j holds rows j*block .. (j+1)*block - 1; a dictionary member is a self-contained
 * dictionary of its ids; an item-item member W whole columns of B), and the manifest lists each
 * member's offset, so
 *   - many ranks write one bundle together (jobs/modelwrite.c: each rank packs members of the
 *     rows it holds, MPI-IO puts them at offsets every rank can compute), and the bytes depend
 *     only on the model, never on the rank count (block depends only on the array's width);
 *   - a rank reads just the members holding its rows (hr_model_load_part, random access).
 *   user_user.NNNNNN                   user-user models (userknn): block NNNNNN of the users'
 *                                      neighbour lists, the same block bytes over users
 * Item-item and user-user models exist in version 2 only.  Exact layout and rules: docs/formats.md, "Model
 * bundle".
 * Manifest: format, version, kind ("factor"/"pop"/"itemitem"), algo, k, users, items,
 * global_mean, software ("hpcrec X.Y.Z"), created (UTC), members (io/bundle.h), arrays
 * (version 2), plus every key of the `info` object given at save (hyper-parameters, lineage,
 * iterations, final loss, ranks, ...).  Models that score a user from the user's interaction
 * row add row_weight ("binary"/"value"); a factor model that projects users it does not know
 * (PureSVD) adds fold_in: "project"; an item-item model adds item_item: {columns_per_block W,
 * blocks, top_m}, a user-user model user_user: {the same keys}.  Reading it needs nothing but tar, zstd and a JSON parser.
 *
 * Ownership: an hr_model owns its arrays, dictionaries and manifest reference; hr_model_free
 * releases them.  hr_model_save only reads m (the caller keeps everything).
 * Errors: hr_model_save: HR_ERR_ARG (inconsistent struct: sizes, missing arrays, a key of info
 * that the model itself writes), HR_ERR_NUMERIC (a NaN/Inf value: a diverged model is never
 * written), plus those of writing a file.  hr_model_load: HR_ERR_FORMAT (sizes inconsistent
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
#define HR_MODEL_VERSION 2            /* written; every version from 1 is read */
/* Bound on k, so n x k size arithmetic cannot overflow for any plausible n. */
#define HR_MODEL_MAX_K 65536
/* Version 2 member sizes, functions of the array's shape only (never of the rank count):
 * a float array's member holds max(1, floor(B / row bytes)) rows, where B starts at
 * BLOCK_BYTES and doubles while the array would need more than MAX_MEMBERS members; a
 * dictionary's member DICT_BLOCK ids, doubled the same way.  Small members keep the writer's
 * buffers (about three members per rank) small next to a rank's share; the cap keeps the
 * manifest small for huge models (3052 members of 16 MiB for 100M users at k = 128). */
#define HR_MODEL_BLOCK_BYTES ((uint64_t)1 << 20)
#define HR_MODEL_DICT_BLOCK ((uint64_t)1 << 16)
#define HR_MODEL_MAX_MEMBERS ((uint64_t)4096)

typedef enum {
    HR_MODEL_FACTOR = 1 /* als, ials, svd */,
    HR_MODEL_POP = 2,
    HR_MODEL_ITEMITEM = 3 /* ease, itemknn */,
    HR_MODEL_USERUSER = 4 /* userknn: the same sparse column blocks over users (array user_user) */
} hr_model_kind;
/* How a user's interaction row enters a model that scores from it: 1 per item, or its value. */
typedef enum { HR_ROWS_NONE = 0, HR_ROWS_BINARY = 1, HR_ROWS_VALUE = 2 } hr_row_weight;
/* Models held as sparse column blocks (io/iiblock.h): item-item (n_items square) and user-user
 * (n_users square: column u = user u's neighbour list, rows the neighbours' user ids).  The
 * ii_* fields below describe either; hr_model_ii_n is the blocks' side. */
static inline int hr_model_blocked(int kind) { return kind == HR_MODEL_ITEMITEM || kind == HR_MODEL_USERUSER; }
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
     * user_ids[0..user_rows) (increasing); the item arrays item_rows rows: items
     * item_lo..item_hi-1, or (when item_ids is set) those of item_ids[0..item_rows)
     * (increasing); item-item models the blocks of columns item_lo..item_hi-1.  Scoring needs a
     * whole model. */
    int partial;
    uint64_t user_rows, item_lo, item_hi, item_rows;
    uint64_t *user_ids, *item_ids;
    /* Factor models trained with item features (train --item-features): the content map
     * (jobs/content.h).  content_nf selected features (0: none), their tokens as io/features.h
     * spells them ("0:action"), ascending bytewise; content_idf[t] the training IDF of token t
     * (0 for tokens of non-counting files); content_map (nf + 1) x content_width, row nf the
     * intercept, columns the k factors then the item bias when the model has one.  Loaded
     * whole with the dictionaries (a few MB at most: nf <= 16384). */
    uint32_t content_nf;
    int content_width;
    hr_dict content_tokens;
    float *content_idf, *content_map;
} hr_model;
/* The side of a blocked model's square: users for user-user models, items otherwise. */
static inline uint64_t hr_model_ii_n(const hr_model *m) { return m->kind == HR_MODEL_USERUSER ? m->n_users : m->n_items; }

/* A model spread over ranks (recommend, similar): memory per rank follows its share, not the
 * model's size.  First hr_model_load_dicts (header and dictionaries: enough to map ids and choose
 * rows), then hr_model_load_part for the chosen rows; members are streamed (io/bundle.h picks),
 * so the whole arrays are never in memory.  item_scores (pop) and dictionaries are whole. */
typedef struct hr_model_part {
    const uint64_t *users;   /* user ids (dictionary order) whose rows to keep: any order, repeats allowed */
    uint64_t n_users;
    uint64_t item_lo, item_hi;   /* item-item models: block boundaries (multiples of ii_cols, or n_items) */
    const uint64_t *items;   /* when not NULL: these item ids (any order, repeats allowed) instead
                              * of the range item_lo..item_hi-1 (not for item-item models) */
    uint64_t n_items;
} hr_model_part;
/* Block range [*lo, *hi) (columns, block aligned) that rank r of P holds of an item-item model:
 * blocks r*nb/P .. (r+1)*nb/P - 1 of its nb blocks (local). */
void hr_model_ii_share(const hr_model *m, int r, int P, uint64_t *lo, uint64_t *hi);

/* info (borrowed, may be NULL): an object merged into the manifest. */
int hr_model_save(const char *path, const hr_model *m, json_t *info, hr_error *err);
/* Fills *m (zeroed first; on failure left empty, no free needed). */
int hr_model_load(const char *path, hr_model *m, hr_error *err);
void hr_model_free(hr_model *m); /* accepts NULL; leaves *m zeroed */
/* The row of user id u in a partial model's user arrays (u itself in a whole model), or -1
 * when the part does not hold it. */
int64_t hr_model_user_row(const hr_model *m, uint64_t u);
/* The same for item id i. */
int64_t hr_model_item_row(const hr_model *m, uint64_t i);
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

/* ---- Version 2 layout, for writers that produce the members themselves --------------------
 * The arrays of a model in bundle order, each cut into members of `block` rows.  Member
 * indices run over the whole bundle (after the manifest) in that order. */
typedef enum {
    HR_MARRAY_DICT = 1,
    HR_MARRAY_F32 = 2,
    HR_MARRAY_IIBLK = 3   /* item-item: a member per `block` columns of B (io/iiblock.h bytes) */
} hr_marray_type;
typedef struct hr_marray {
    const char *name;          /* "users.dict", "user_factors.f32", ... */
    hr_marray_type type;
    int side;                  /* 0: a row per user, 1: a row per item, 2: content map (a row per feature) */
    uint64_t rows, cols;       /* dictionaries: cols = 1; item-item: rows = cols = items */
    uint64_t block;            /* rows per member (item-item: columns of B per member) */
    uint64_t members, first;   /* how many members; index of the first */
} hr_marray;
typedef struct hr_model_layout {
    hr_marray a[12];
    int n;
    uint64_t members;
} hr_model_layout;

/* The layout of a model of this kind and size (pop models: k = 0). */
void hr_model_layout_build(hr_model_layout *L, hr_model_kind kind, int k, uint64_t n_users, uint64_t n_items,
                           int user_bias, int item_bias);
/* Item-item models: append the item_item array, blocks of `cols` columns of B (after
 * hr_model_layout_build of an HR_MODEL_ITEMITEM model). */
void hr_model_layout_item_item(hr_model_layout *L, uint64_t n_items, uint64_t cols);
/* User-user models: append the user_user array (n_users square, blocks of `cols` columns). */
void hr_model_layout_user_user(hr_model_layout *L, uint64_t n_users, uint64_t cols);
/* Factor models with a content map: append content.dict (nf tokens), content_idf.f32 (nf x 1)
 * and content_map.f32 ((nf + 1) x width). */
void hr_model_layout_content(hr_model_layout *L, uint64_t nf, uint64_t width);
/* Array index of member j and its rows lo..hi-1 within that array. */
int hr_model_layout_member(const hr_model_layout *L, uint64_t j, uint64_t *lo, uint64_t *hi);
/* Member j's logical name, e.g. "user_factors.f32.000003" (cap >= 64). */
void hr_model_member_name(const hr_model_layout *L, uint64_t j, char *buf, size_t cap);
/* Check what hr_model_save would refuse (kind, k, dictionaries, info keys, non-finite values
 * in its arrays, item-item blocks that do not fit the model).  A distributed writer calls it
 * on rank 0 with a header-only m marked partial (user_rows = item_rows = 0, no item-item
 * blocks): then only the header, the dictionaries' sizes and info count. */
int hr_model_check(const char *path, const hr_model *m, json_t *info, hr_error *err);
/* The version-2 manifest as the bytes stored in the bundle (text + newline; free with free()).
 * m gives the header fields and the dictionaries' kinds; per member: stored bytes, raw bytes,
 * XXH3.  created: Unix time (hr_manifest_epoch). */
char *hr_model_manifest_text(const hr_model *m, json_t *info, const hr_model_layout *L, const uint64_t *stored,
                             const uint64_t *raw, const uint64_t *xxh3, int64_t created, size_t *len);
/* Check item-item block b against column block c of model m (columns, n, dense exactly when
 * top_m is 0, at most top_m entries a column, finite weights); `what` names it in errors
 * (HR_ERR_FORMAT when reading, the caller picks: code). */
int hr_model_ii_check(const hr_model *m, uint64_t c, const hr_iiblock *b, const char *what, int code, hr_error *err);
/* A dictionary member's raw bytes: ids lo..hi-1 of d as a dictionary of their own
 * (hr_malloc'd). */
void hr_model_dict_member(const hr_dict *d, uint64_t lo, uint64_t hi, void **out, size_t *len);

#endif
