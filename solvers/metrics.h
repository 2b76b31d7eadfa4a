/* solvers/metrics.h — offline evaluation metrics as mergeable accumulators.
 *
 * Every accumulator is a plain struct of fixed-size arrays: `sum[]` doubles and `count[]`
 * uint64s that are SUMMED element-wise across ranks (MPI_DOUBLE / MPI_UINT64_T, MPI_SUM), plus
 * `n_cutoffs` / `cutoffs[]` that are global (identical on every rank, never reduced).  No field
 * is maxed or min-ed.  Nothing here talks to MPI or files: jobs/evaluate.c reduces the arrays.
 * The same holds for the per-item arrays (exposure counts, popularity): summed element-wise.
 * An array of accumulators indexed by segment (HR_SEG_LIGHT..HR_SEG_HEAVY, head/tail) keeps
 * metrics per segment; each element is reduced like a single one.
 *
 * Cutoffs: 1..HR_METRICS_MAX_CUTOFFS values, strictly increasing, each >= 1.
 *
 * ---- Ranking metrics, one user (binary relevance) --------------------------------------------
 * Input: the ranked list R[1..L] (distinct item indices, best first) and the user's relevant
 * test items T (sorted, strictly increasing; |T| = n_rel).  rel_r = 1 if R[r] is in T.
 * For each cutoff K, with hits@K = sum_{r<=K} rel_r:
 *   precision@K = hits@K / K
 *   recall@K    = hits@K / |T|
 *   hr@K        = 1 if hits@K > 0 else 0
 *   ndcg@K      = DCG@K / IDCG@K,  DCG@K = sum_{r<=K} rel_r / log2(r+1),
 *                 IDCG@K = sum_{r=1}^{min(|T|,K)} 1 / log2(r+1)
 *   map@K       = (1 / min(|T|,K)) * sum_{r<=K, rel_r=1} precision@r      (per user: AP@K)
 *   mrr@K       = 1 / (rank of the first hit) if that rank <= K else 0
 * and, over the whole list, mrr = 1 / (rank of the first hit in R[1..L]), 0 if none.
 * The true (untruncated) MRR ranks the user's whole candidate set instead of a kept prefix:
 * with the candidates of a score row (items j with mask[j] = 0 and a non-NaN score, ordered
 * like solvers/topk.h: higher score first, equal scores by lower item index),
 *   rank(i) = 1 + |{candidates ordered before i}|,   rr = 1 / min over relevant candidates
 *   of rank(i)  (0 if no relevant item is a candidate).
 * hr_metrics_add_user_ranked takes that rank; it equals the list's first hit whenever the
 * list holds one, and goes on counting past the list when it does not.
 * A list shorter than K (catalog too small, or fewer candidates after exclusions) counts its
 * missing positions as misses: precision still divides by K.
 * Users with |T| = 0 are not evaluated: they add only to users_skipped_no_test.
 * The accumulator's reported value of each metric is its mean over evaluated users.
 *
 * ---- Rating metrics --------------------------------------------------------------------------
 *   rmse = sqrt(sum (pred - actual)^2 / n),  mae = sum |pred - actual| / n   (0 when n = 0).
 *   NaN predictions are not filtered: they make rmse/mae NaN, which the caller must treat as a
 *   broken model rather than report.
 *
 * ---- Beyond accuracy, per cutoff K (top-K = the first min(L, K) items of a user's list) ------
 *   coverage@K = |{i : exposure_K[i] > 0}| / n_items, where exposure_K[i] counts the users
 *                whose top-K contains i (summed over ranks before finalizing).
 *   gini@K     = Gini coefficient of exposure_K over ALL n_items (zeros included): with
 *                x_(1) <= ... <= x_(n) sorted ascending,
 *                G = sum_{i=1}^{n} (2i - n - 1) x_(i) / (n * sum_i x_i);  0 if sum is 0.
 *                0 = every item equally exposed; (n-1)/n = all exposure on one item.
 *   novelty@K  = mean over users of [ mean over i in top-K of -log2(max(pop_i,1) / n_users) ]
 *   arp@K      = mean over users of [ mean over i in top-K of pop_i ]   (average rec. popularity)
 *   tail@K     = mean over users of [ fraction of top-K items that are tail items ]  (APLT;
 *                only when a head mask is given)
 *   ild@K      = mean over users with >= 2 items of [ mean over unordered pairs i<j in top-K
 *                of (1 - cos(y_i, y_j)) ],  cos with a zero vector taken as 0.
 *   pop_i = number of training users who interacted with item i (global).  The per-user means
 *   are over the items actually present, so users with an empty list add nothing (they are
 *   not counted in the denominators); with lists of length >= K this equals the pooled mean.
 *
 * ---- Segments --------------------------------------------------------------------------------
 *   Activity terciles from the global distribution of per-user training-interaction counts
 *   (n users): c1 = the ceil(n/3)-th smallest count, c2 = the ceil(2n/3)-th smallest count;
 *   light: count <= c1, medium: c1 < count <= c2, heavy: count > c2.  Ties keep a count in one
 *   segment, so segments can be unequal (or medium empty when c1 = c2).
 *   Head items: sort items by interactions descending (ties: lower index first); head is the
 *   shortest prefix whose interactions sum to >= fraction (0.2) of all training interactions;
 *   every other item is tail.  No interactions at all: no head items.
 *
 * ---- Paired comparison -----------------------------------------------------------------------
 *   Given per-user values a[u], b[u] (same users, same order), d[u] = b[u] - a[u]:
 *   mean = (1/n) sum d[u].  Paired bootstrap: resample r (0..B-1) draws n indices uniformly
 *   with replacement from hr_rng_stream(seed, HR_STREAM_BOOTSTRAP, r) via hr_rng_below and
 *   takes the mean of d over them.  The 95% interval [lo, hi] is the 2.5% and 97.5% quantiles
 *   of the B resample means (linear interpolation between order statistics, position
 *   p * (B - 1) in the sorted means).  Verdict: better if lo > 0, worse if hi < 0, otherwise no
 *   significant difference.  The result depends on the user order: use global user id order so
 *   it is the same on any rank count. */
#ifndef HR_SOLVERS_METRICS_H
#define HR_SOLVERS_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#define HR_METRICS_MAX_CUTOFFS 16

/* ================================ ranking =================================================== */

typedef enum {
    HR_RANK_PRECISION = 0,
    HR_RANK_RECALL    = 1,
    HR_RANK_HIT       = 2,  /* hr@K */
    HR_RANK_NDCG      = 3,
    HR_RANK_MAP       = 4,
    HR_RANK_MRR       = 5,  /* mrr@K */
    HR_RANK_NMETRIC   = 6,
} hr_rank_metric;

/* Index of metric m at cutoff position c in hr_rank_acc.sum and in per-user value arrays. */
#define HR_RANK_AT(c, m) ((size_t)(c) * HR_RANK_NMETRIC + (size_t)(m))
/* Index of the whole-list MRR. */
#define HR_RANK_MRR_FULL ((size_t)HR_METRICS_MAX_CUTOFFS * HR_RANK_NMETRIC)
#define HR_RANK_NSUM     (HR_RANK_MRR_FULL + 1)

enum { HR_RANK_COUNT_USERS = 0, HR_RANK_COUNT_SKIPPED_NO_TEST = 1, HR_RANK_NCOUNT = 2 };

typedef struct hr_rank_acc {
    uint32_t n_cutoffs;                       /* global */
    uint32_t cutoffs[HR_METRICS_MAX_CUTOFFS]; /* global, strictly increasing */
    double   sum[HR_RANK_NSUM];               /* summed: per-user metric values */
    uint64_t count[HR_RANK_NCOUNT];           /* summed: users evaluated, users skipped */
} hr_rank_acc;

typedef struct hr_rank_means {
    uint32_t n_cutoffs;
    uint32_t cutoffs[HR_METRICS_MAX_CUTOFFS];
    double   at[HR_METRICS_MAX_CUTOFFS][HR_RANK_NMETRIC]; /* at[c][m]: mean over evaluated users */
    double   mrr;                                           /* whole-list MRR */
    uint64_t users_evaluated;
    uint64_t users_skipped_no_test;
} hr_rank_means;

/* Zero acc and set its cutoffs.  HR_ERR_ARG (with err) if n_cutoffs is 0 or too large, or the
 * cutoffs are not strictly increasing and >= 1. */
int hr_metrics_init_rank(hr_rank_acc *acc, const uint32_t *cutoffs, uint32_t n_cutoffs,
                         hr_error *err);
/* Evaluate one user and add to acc.  ranked: L items best first (may be shorter than the
 * largest cutoff; L = 0 allowed); relevant: n_rel sorted, strictly increasing items.
 * user_values (NULL if unwanted): HR_RANK_NSUM doubles, filled with this user's values in the
 * layout of acc->sum (HR_RANK_AT / HR_RANK_MRR_FULL; unused cutoff slots 0) — keep them for
 * hr_metrics_compare_paired.  Returns 1 if the user was evaluated, 0 if skipped (n_rel = 0;
 * user_values then all 0).  No allocation; O(max(L, largest cutoff) * log n_rel). */
int hr_metrics_add_user(hr_rank_acc *acc, const uint32_t *ranked, uint32_t len,
                        const uint32_t *relevant, uint32_t n_rel, double *user_values);
/* Same, but the whole-list MRR (HR_RANK_MRR_FULL) is 1 / first_rank, 0 when first_rank is 0:
 * first_rank is the rank of the best relevant item among ALL candidates (the true MRR,
 * hr_metrics_candidate_ranks), not the first hit within ranked[].  When ranked[] has a hit,
 * first_rank must equal its position (asserted in debug builds). */
int hr_metrics_add_user_ranked(hr_rank_acc *acc, const uint32_t *ranked, uint32_t len,
                               const uint32_t *relevant, uint32_t n_rel, uint64_t first_rank,
                               double *user_values);
/* The best of items[0..m) that is a candidate of scores[0..n) (definition above; mask NULL:
 * every non-NaN item < n); UINT32_MAX when none is.  O(m). */
uint32_t hr_metrics_best_candidate(const float *scores, uint32_t n, const uint8_t *mask,
                                   const uint32_t *items, uint32_t m);
/* ranks[t] = rank of targets[t] among the candidates of scores[0..n) (definition above), or 0
 * when targets[t] is not a candidate (UINT32_MAX and ids >= n included).  One pass over the
 * row for all targets, O(n * n_targets): meant for a few (the best relevant item of each
 * segment).  No allocation. */
void hr_metrics_candidate_ranks(const float *scores, uint32_t n, const uint8_t *mask,
                                const uint32_t *targets, uint32_t n_targets, uint64_t *ranks);
/* dst += src (same cutoffs). */
void hr_metrics_merge_rank(hr_rank_acc *dst, const hr_rank_acc *src);
/* Means over evaluated users (all 0 when none were evaluated; check users_evaluated). */
void hr_metrics_finalize_rank(const hr_rank_acc *acc, hr_rank_means *out);
/* "precision", "recall", "hr", "ndcg", "map", "mrr": the JSON key stems (key = stem@K). */
const char *hr_metrics_rank_name(hr_rank_metric m);

/* ================================ ratings =================================================== */

enum { HR_RATING_SUM_SQ = 0, HR_RATING_SUM_ABS = 1, HR_RATING_NSUM = 2 };

typedef struct hr_rating_acc {
    double   sum[HR_RATING_NSUM];  /* summed: sum (p-a)^2, sum |p-a| */
    uint64_t count;                /* summed: number of (prediction, rating) pairs */
} hr_rating_acc;

void hr_metrics_init_rating(hr_rating_acc *acc);
void hr_metrics_add_rating(hr_rating_acc *acc, double predicted, double actual);
void hr_metrics_add_ratings(hr_rating_acc *acc, const float *predicted, const float *actual,
                            size_t n);
void hr_metrics_merge_rating(hr_rating_acc *dst, const hr_rating_acc *src);
void hr_metrics_finalize_rating(const hr_rating_acc *acc, double *rmse, double *mae);

/* ================================ beyond accuracy =========================================== */

typedef enum {
    HR_BEYOND_NOVELTY = 0,  /* sum over users of the per-user mean self-information */
    HR_BEYOND_ARP     = 1,  /* sum over users of the per-user mean pop_i */
    HR_BEYOND_TAIL    = 2,  /* sum over users of the per-user tail fraction */
    HR_BEYOND_ILD     = 3,  /* sum over users (>= 2 items) of the per-user ILD */
    HR_BEYOND_NSUM    = 4,
} hr_beyond_sum;

enum {
    HR_BEYOND_COUNT_USERS     = 0,  /* users with >= 1 item in their top-K */
    HR_BEYOND_COUNT_ILD_USERS = 1,  /* users with >= 2 items in their top-K (and factors given) */
    HR_BEYOND_NCOUNT          = 2,
};

#define HR_BEYOND_AT(c, s) ((size_t)(c) * HR_BEYOND_NSUM + (size_t)(s))
#define HR_BEYOND_CNT(c, s) ((size_t)(c) * HR_BEYOND_NCOUNT + (size_t)(s))

typedef struct hr_beyond_acc {
    uint32_t n_cutoffs;                                        /* global */
    uint32_t cutoffs[HR_METRICS_MAX_CUTOFFS];                  /* global */
    double   sum[HR_METRICS_MAX_CUTOFFS * HR_BEYOND_NSUM];     /* summed */
    uint64_t count[HR_METRICS_MAX_CUTOFFS * HR_BEYOND_NCOUNT]; /* summed */
} hr_beyond_acc;

/* Read-only, global item context (identical on every rank). */
typedef struct hr_item_stats {
    uint32_t        n_items;
    uint64_t        n_users;   /* training users (novelty denominator); must be >= 1 */
    const uint64_t *pop;       /* n_items: training users per item (summed over ranks) */
    const uint8_t  *is_head;   /* n_items, 1 = head (hr_metrics_mark_head); NULL: no tail@K */
    const float    *factors;   /* n_items x k row-major item factors; NULL: no ild@K */
    uint32_t        k;
    int             list_rows; /* 1: factors holds just the ranked items' rows, row r for
                                * ranked[r] (a model spread over ranks fetches only those) */
} hr_item_stats;

typedef struct hr_beyond_means {
    uint32_t n_cutoffs;
    uint32_t cutoffs[HR_METRICS_MAX_CUTOFFS];
    double   coverage[HR_METRICS_MAX_CUTOFFS];
    double   gini[HR_METRICS_MAX_CUTOFFS];
    double   novelty[HR_METRICS_MAX_CUTOFFS];
    double   arp[HR_METRICS_MAX_CUTOFFS];
    double   tail[HR_METRICS_MAX_CUTOFFS];
    double   ild[HR_METRICS_MAX_CUTOFFS];
} hr_beyond_means;

/* Same contract and errors as hr_metrics_init_rank. */
int hr_metrics_init_beyond(hr_beyond_acc *acc, const uint32_t *cutoffs, uint32_t n_cutoffs,
                           hr_error *err);
/* Add one user's list.  exposure (NULL if unwanted): n_cutoffs arrays of n_items counts, array
 * c at exposure + c * n_items; exposure[c * n_items + i] += 1 if i is in this user's top-K_c.
 * work: st->k doubles of scratch (may be NULL when st->factors is NULL).  No allocation;
 * O(L * k).  Every ranked[r] must be < st->n_items. */
void hr_metrics_add_beyond(hr_beyond_acc *acc, const hr_item_stats *st, const uint32_t *ranked,
                           uint32_t len, uint64_t *exposure, double *work);
void hr_metrics_merge_beyond(hr_beyond_acc *dst, const hr_beyond_acc *src);
/* Means; coverage and gini from the reduced exposure arrays (layout as above; NULL: 0).
 * Allocates one n_items scratch (hr_malloc) for the Gini sort. */
void hr_metrics_finalize_beyond(const hr_beyond_acc *acc, const uint64_t *exposure,
                                uint32_t n_items, hr_beyond_means *out);

/* Intra-list diversity of items[0..n) alone (definition above; 0 when n < 2).  work: k doubles. */
double hr_metrics_ild(const float *factors, uint32_t k, const uint32_t *items, uint32_t n,
                      double *work);
/* Fraction of items with exposure > 0 (0 when n_items = 0). */
double hr_metrics_coverage(const uint64_t *exposure, uint32_t n_items);
/* Gini coefficient of exposure[0..n) (definition above).  Allocates n uint64 (hr_malloc). */
double hr_metrics_gini(const uint64_t *exposure, uint32_t n);

/* ================================ segments ================================================== */

enum { HR_SEG_LIGHT = 0, HR_SEG_MEDIUM = 1, HR_SEG_HEAVY = 2, HR_SEG_NACTIVITY = 3 };
enum { HR_SEG_HEAD = 0, HR_SEG_TAIL = 1, HR_SEG_NPOPULARITY = 2 };

/* hist[min(count, n_bins - 1)] += 1: the activity histogram each rank builds over its users and
 * the caller sums across ranks.  Counts >= n_bins - 1 share the last bin, so pick n_bins above
 * any plausible tercile cut (a cut can never exceed n_bins - 1). */
void hr_metrics_add_activity(uint64_t *hist, uint32_t n_bins, uint64_t count);
/* Tercile cut points c1 <= c2 (definition above) from the summed histogram; {0, 0} if empty. */
void hr_metrics_tercile_cuts(const uint64_t *hist, uint32_t n_bins, uint64_t cuts[2]);
/* The same cut points from all n counts sorted ascending. */
void hr_metrics_tercile_cuts_sorted(const uint64_t *sorted_counts, size_t n, uint64_t cuts[2]);
/* HR_SEG_LIGHT / HR_SEG_MEDIUM / HR_SEG_HEAVY for a user's training-interaction count. */
int hr_metrics_activity_segment(uint64_t count, const uint64_t cuts[2]);

/* is_head[i] = 1 for head items, 0 for tail (rule above; fraction in (0, 1], usually 0.2).
 * interactions: n_items global training-interaction counts.  Returns the number of head items.
 * Allocates n_items (count, index) pairs (hr_malloc) for the sort. */
uint32_t hr_metrics_mark_head(const uint64_t *interactions, uint32_t n_items, double fraction,
                              uint8_t *is_head);
/* Copy the items of items[0..n) whose segment is `segment` (HR_SEG_HEAD or HR_SEG_TAIL) to out,
 * keeping their order; returns how many.  Use it to restrict a user's relevant test items to
 * head or tail items for per-popularity-segment ranking metrics.  out may equal items. */
uint32_t hr_metrics_filter_items(const uint32_t *items, uint32_t n, const uint8_t *is_head,
                                 int segment, uint32_t *out);

/* ================================ paired comparison ========================================= */

#define HR_BOOTSTRAP_DEFAULT_RESAMPLES 1000u

typedef enum {
    HR_CMP_NO_DIFFERENCE = 0,
    HR_CMP_BETTER        = 1,  /* B better than A: lo > 0 */
    HR_CMP_WORSE         = 2,  /* B worse than A: hi < 0 */
} hr_cmp_verdict;

typedef struct hr_paired_result {
    double         mean;       /* mean of b - a */
    double         lo, hi;     /* 95% bootstrap interval of the mean */
    uint32_t       resamples;  /* B actually used */
    hr_cmp_verdict verdict;
} hr_paired_result;

/* Paired bootstrap of mean(b - a) (definition above).  n_resamples 0 means the default (1000).
 * HR_ERR_ARG if n is 0 or any value is not finite.  Allocates n + B doubles once (hr_malloc);
 * O(B * n) time. */
int hr_metrics_compare_paired(const double *a, const double *b, size_t n, uint32_t n_resamples,
                              uint64_t seed, hr_paired_result *out, hr_error *err);
const char *hr_metrics_verdict_name(hr_cmp_verdict v);  /* "better", "worse", "no_difference" */

#endif
