/* solvers/knn.h — the math of the neighbourhood models (`train --algo itemknn`): rating
 * baselines, implicit-feedback weights, and the item-item similarity of one target item from
 * the rows of the users who have it.  No MPI, no files (jobs/train_knn.c moves the rows).
 *
 * Similarity of items i and j over C, the users who have both (a_ui: the interaction's value as
 * the measure sees it; see hr_knn_value):
 *   cosine            explicit: sum_C a_ui a_uj / sqrt(sum_C a_ui^2 sum_C a_uj^2)   (Surprise)
 *                     implicit: sum_C a_ui a_uj / (|a_i| |a_j|), norms over ALL users of each
 *                     item (binary: C_ij / sqrt(n_i n_j), as `similar --data`)
 *   dot               sum_C a_ui a_uj (implicit's TF-IDF / BM25 recommenders)
 *   pearson           Pearson correlation of r over C (each item centred by its mean over C)
 *   pearson-baseline  cosine of the residuals r - (mu + b_u + b_i) over C (KNNBaseline)
 *   jaccard           |C| / (n_i + n_j - |C|)
 * then, when shrink > 0, times (|C| - 1) / (|C| - 1 + shrink) (Surprise's shrinkage); pairs with
 * |C| < min_support are dropped; only positive similarities are kept (a prediction ignores the
 * others, as Surprise does), the K largest per target item, ties to the lower item id.
 *
 * Accumulation is in double (float for cosine of implicit data, dot and jaccard), users in the
 * order the caller adds them (increasing user id), so a similarity is the same bits on any rank
 * count. */
#ifndef HR_SOLVERS_KNN_H
#define HR_SOLVERS_KNN_H

#include <stdint.h>

#include "solvers/topk.h"

typedef enum { HR_KNN_COSINE, HR_KNN_DOT, HR_KNN_PEARSON, HR_KNN_PEARSON_BASELINE, HR_KNN_JACCARD } hr_knn_sim;
typedef enum { HR_KNN_WEIGHT_NONE, HR_KNN_WEIGHT_TFIDF, HR_KNN_WEIGHT_BM25 } hr_knn_weight;
/* How an explicit prediction is centred: none (KNNBasic), item means (KNNWithMeans), baselines
 * mu + b_u + b_i (KNNBaseline). */
typedef enum { HR_KNN_CENTER_NONE, HR_KNN_CENTER_MEAN, HR_KNN_CENTER_BASELINE } hr_knn_center;

typedef struct hr_knn_opts {
    hr_knn_sim sim;
    hr_knn_weight weight;      /* implicit only */
    hr_knn_center center;      /* explicit only */
    int implicit;              /* --feedback implicit */
    double shrink;             /* >= 0 */
    uint32_t neighbors;        /* K >= 1 */
    uint32_t min_support;      /* >= 1 */
    double bm25_k1, bm25_b;    /* BM25 (implicit's defaults 1.2, 0.75) */
} hr_knn_opts;

/* Names for options and manifests; parse returns -1 for an unknown name. */
const char *hr_knn_sim_name(hr_knn_sim s);
int hr_knn_sim_parse(const char *s, hr_knn_sim *out);
const char *hr_knn_weight_name(hr_knn_weight w);
int hr_knn_weight_parse(const char *s, hr_knn_weight *out);
const char *hr_knn_center_name(hr_knn_center c);
int hr_knn_center_parse(const char *s, hr_knn_center *out);

/* Fixed-point sums (exact, so the same on any rank count and in any order): x in units of
 * 2^-24, |x| < 2^39. */
static inline int64_t hr_knn_fix(double x) { return (int64_t)(x * 16777216.0 + (x < 0 ? -0.5 : 0.5)); }
static inline double hr_knn_unfix(int64_t v) { return (double)v / 16777216.0; }

/* Surprise's baseline ALS steps: b_i = sum_{u in i} (r - mu - b_u) / (reg + n_i) given the
 * global sums num[i] (of r - mu - b_u) and counts n[i]; b_u the same over a user's row. */
double hr_knn_bias(double num, uint64_t n, double reg);

/* The value a_ui the similarity sees of an interaction of raw value r:
 *   pearson-baseline: r - base (base = mu + b_u + b_i); explicit otherwise: r;
 *   implicit, weight none: 1; tfidf: sqrt(r) idf_u; bm25: r (k1 + 1) / (k1 norm_i + r) idf_u with
 *   idf_u = log(n_items) - log1p(items of u), norm_i = 1 - b + b len_i / mean len (len_i: sum of
 *   item i's values). */
double hr_knn_idf(uint64_t n_items, uint64_t user_len);
double hr_knn_value(const hr_knn_opts *o, double r, double base, double idf, double len_i, double mean_len);

/* Per-target accumulators over the catalogue (n items), reused target after target. */
typedef struct hr_knn_acc {
    uint64_t n;
    int moments;         /* pearson and explicit cosine need the sums below */
    uint32_t *freq;      /* |C| (measures with moments) */
    double *xy, *xx, *yy, *x, *y;
    /* the implicit measures: count and product side by side, one cache line per update; the
     * product in float (summed in the same order on any rank count) */
    struct hr_knn_cell { float xy; uint32_t freq; } *cell;
    /* dot and implicit cosine without a support floor or shrinkage, all values positive: the
     * product alone (a nonzero sum marks a touched item), half the bytes and no count */
    float *xs;
    uint32_t *touched;
    uint64_t nt;
    hr_topk_entry *heap;
} hr_knn_acc;
void hr_knn_acc_init(hr_knn_acc *a, uint64_t n, const hr_knn_opts *o);
void hr_knn_acc_free(hr_knn_acc *a);
/* Values at least this large have products that are normal floats: with every a_ui >= it, a
 * sum of products is zero only before its first term. */
#define HR_KNN_POSITIVE_MIN 1e-15f
/* Switches to the product-only accumulator when the measure allows it (see xs); the caller
 * promises every value it will add is >= HR_KNN_POSITIVE_MIN.  Same results, same bits.
 * Returns whether it switched. */
int hr_knn_acc_positive(hr_knn_acc *a, const hr_knn_opts *o);
/* One user of the target: a = a_ut, the user's row (items ascending, values a_uj); the target
 * itself (skip) is left out. */
void hr_knn_acc_add(hr_knn_acc *a, double at, const uint32_t *items, const float *vals, uint64_t len, uint32_t skip);
/* The target's neighbours: the K best positive similarities, written as rows ascending into
 * row / val (K entries at most); returns how many.  count[j]: n_j (jaccard); norm[j]: |a_j|
 * (implicit cosine); ct, nt: the target's.  Clears the accumulators. */
uint32_t hr_knn_acc_top(hr_knn_acc *a, const hr_knn_opts *o, const uint64_t *count, const double *norm, uint64_t ct,
                        double nt, uint32_t *row, float *val);
/* The similarity of one pair from its sums (the reference the accumulators follow). */
double hr_knn_similarity(const hr_knn_opts *o, uint32_t freq, double xy, double xx, double yy, double x, double y,
                         uint64_t ci, uint64_t cj, double ni, double nj);

#endif
