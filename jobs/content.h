/* jobs/content.h — the content map: item factors predicted from item features, shared by
 * evaluate --cold-items, train --item-features, recommend and similar --item-features.
 *
 * Features (io/features.h) of the --item-features files; the --features-max of largest
 * document frequency are kept (ties: lower token id); each item's row is its kept features
 * (columns ascending) plus a constant intercept column.  The map W ((nf + 1) x width) solves
 * (F^T F + lambda I) W = F^T Y over the warm items (training interactions > 0), Y their factors
 * and, for models with item biases, the bias (jobs/content_ridge.h); a new item gets y = f W.
 * train stores the kept tokens, their IDF and W in the model (io/model.h content_*), with the
 * columns in token order (the dictionary's), so that recommend and similar map a new features
 * file through the same columns, weighed with the training IDF.
 * Every rank reads the feature files whole (they are small next to the interactions). */
#ifndef HR_JOBS_CONTENT_H
#define HR_JOBS_CONTENT_H

#include <getopt.h>
#include <jansson.h>
#include <stdint.h>

#include "io/features.h"
#include "io/model.h"
#include "jobs/job.h"

#define HR_CONTENT_MAX_FILES 8

typedef struct hr_content_opts {
    const char *files[HR_CONTENT_MAX_FILES];
    hr_feat_format formats[HR_CONTENT_MAX_FILES];
    int nfiles;
    uint32_t features_max;   /* most frequent features kept (F^T F: jobs/content_ridge.h) */
    double lambda;           /* ridge lambda_f */
    int64_t cold_slots;      /* recommend --cold-slots (0: compete on score alone) */
    int have_fit_opts;       /* --features-max, --features-lambda or --features-grid given */
} hr_content_opts;

/* getopt codes of the shared options, and their long-option entries. */
enum { HR_CONTENT_OPT_FILE = 3001, HR_CONTENT_OPT_FORMAT, HR_CONTENT_OPT_MAX, HR_CONTENT_OPT_LAMBDA, HR_CONTENT_OPT_SLOTS,
       HR_CONTENT_OPT_GRID };
#define HR_CONTENT_LONGOPTS                                                                                              \
    { "item-features", required_argument, 0, HR_CONTENT_OPT_FILE }, { "features-format", required_argument, 0, HR_CONTENT_OPT_FORMAT }, \
    { "features-max", required_argument, 0, HR_CONTENT_OPT_MAX }, { "features-lambda", required_argument, 0, HR_CONTENT_OPT_LAMBDA }, \
    { "features-grid", required_argument, 0, HR_CONTENT_OPT_GRID }
#define HR_CONTENT_SLOTS_LONGOPT { "cold-slots", required_argument, 0, HR_CONTENT_OPT_SLOTS }

void hr_content_opts_init(hr_content_opts *o);
/* Option c (one of the codes above) with its argument: 0 handled, < 0 refused (job->err). */
int hr_content_opt(hr_job *job, hr_content_opts *o, int c, const char *arg);

/* Collective: reads o's files on every rank; with m holding a content map, the files must be
 * those of training (count and formats) and counting formats are weighed with the stored IDF
 * (a token it lacks gets log(N) of that file at training, N stored in the manifest). */
int hr_content_read(hr_job *job, const hr_content_opts *o, const hr_model *m, hr_features *fs);
/* The --features-max of largest document frequency: sel[t] = column or UINT32_MAX; returns nf. */
uint32_t hr_content_select(const hr_features *fs, uint32_t max, uint32_t **sel);
/* Appends the row of feature item r (r < 0: none) to col/val at *z: its selected columns
 * ascending, then the intercept (column nf, value 1). */
void hr_content_row(const hr_features *fs, int64_t r, const uint32_t *sel, uint32_t nf, uint32_t *col, float *val, uint64_t *z);
/* y[0..width) = sum over the row col/val[a..b) of val * W[col] (float, in row order). */
void hr_content_apply(const uint32_t *col, const float *val, uint64_t a, uint64_t b, const float *W, int width, float *y);
/* Puts the map into m (content_*): tokens sorted, W's rows and the IDF permuted to match. */
void hr_content_store(const hr_features *fs, const uint32_t *sel, uint32_t nf, const float *W, int width, hr_model *m);
/* The model's columns for fs's tokens: sel[t] = row of W or UINT32_MAX. */
uint32_t *hr_content_model_sel(const hr_features *fs, const hr_model *m);
/* The manifest section `content` of a trained map. */
json_t *hr_content_manifest(const hr_content_opts *o, const hr_features *fs, uint32_t nf, uint64_t warm, int width);

/* The items of a features file that a model scores from content (recommend, similar): those it
 * does not know, and those it knows without training interactions.  gid[c] is the model id, or
 * n_items + (rank of the id among the unknown ones) for unknown ids; ids sorted by gid. */
typedef struct hr_content_items {
    uint64_t n, n_new;       /* content items; of them not in the model */
    uint64_t *gid;
    char **id;               /* external ids (NUL-terminated) */
    float *Y;                /* n x width mapped targets (factors, then the bias when width > k) */
    int width;
    uint64_t with_features;  /* of them with at least one kept feature */
} hr_content_items;
/* Collective.  m: dictionaries and content map loaded (hr_model_load_dicts). */
int hr_content_items_build(hr_job *job, const hr_content_opts *o, const hr_model *m, hr_content_items *ci);
void hr_content_items_free(hr_content_items *ci);

#endif
