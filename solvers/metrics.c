/* solvers/metrics.c — ranking, rating and beyond-accuracy accumulators, and segment rules.
 * The exact metric definitions live in metrics.h; this file only says why it computes them
 * the way it does. */
#include "solvers/metrics.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"

/* ================================ shared ==================================================== */

static int init_cutoffs(uint32_t *dst_n, uint32_t *dst, const uint32_t *cutoffs, uint32_t n,
                        hr_error *err)
{
    if (n == 0 || n > HR_METRICS_MAX_CUTOFFS)
        return hr_error_set(err, HR_ERR_ARG, "metrics: %u cutoffs given; need 1..%d (--k)", n,
                            HR_METRICS_MAX_CUTOFFS);
    for (uint32_t c = 0; c < n; c++) {
        if (cutoffs[c] == 0 || (c > 0 && cutoffs[c] <= cutoffs[c - 1]))
            return hr_error_set(err, HR_ERR_ARG,
                                "metrics: cutoff #%u is %u; cutoffs must be >= 1 and strictly "
                                "increasing (--k 10,20,100)", c + 1, cutoffs[c]);
    }
    *dst_n = n;
    memset(dst, 0, HR_METRICS_MAX_CUTOFFS * sizeof *dst);
    memcpy(dst, cutoffs, n * sizeof *dst);
    return HR_OK;
}

static inline double safe_div(double num, double den) { return den > 0 ? num / den : 0.0; }

/* ================================ ranking =================================================== */

static const char *const rank_names[HR_RANK_NMETRIC] = {
    [HR_RANK_PRECISION] = "precision", [HR_RANK_RECALL] = "recall", [HR_RANK_HIT] = "hr",
    [HR_RANK_NDCG] = "ndcg",           [HR_RANK_MAP] = "map",       [HR_RANK_MRR] = "mrr",
};

const char *hr_metrics_rank_name(hr_rank_metric m)
{
    return (unsigned)m < HR_RANK_NMETRIC ? rank_names[m] : "?";
}

int hr_metrics_init_rank(hr_rank_acc *acc, const uint32_t *cutoffs, uint32_t n_cutoffs,
                         hr_error *err)
{
    memset(acc, 0, sizeof *acc);
    return init_cutoffs(&acc->n_cutoffs, acc->cutoffs, cutoffs, n_cutoffs, err);
}

static inline int sorted_contains(const uint32_t *a, uint32_t n, uint32_t x)
{
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (a[mid] < x) lo = mid + 1;
        else hi = mid;
    }
    return lo < n && a[lo] == x;
}

/* first_rank < 0: the whole-list MRR comes from ranked[] alone. */
static int add_user(hr_rank_acc *acc, const uint32_t *ranked, uint32_t len,
                    const uint32_t *relevant, uint32_t n_rel, int64_t first_rank,
                    double *user_values)
{
    double local[HR_RANK_NSUM];
    double *v = user_values ? user_values : local;
    memset(v, 0, HR_RANK_NSUM * sizeof *v);
    if (n_rel == 0) {
        acc->count[HR_RANK_COUNT_SKIPPED_NO_TEST]++;
        return 0;
    }
#ifndef NDEBUG
    for (uint32_t i = 1; i < n_rel; i++) assert(relevant[i] > relevant[i - 1]);
#endif

    /* One pass over ranks 1..max(L, K_max): the running hits, DCG, ideal DCG and AP sum are
     * read off at each cutoff, so several cutoffs cost no more than the largest.  Ranks past L
     * are misses but still grow the ideal DCG (a short list is penalised, as documented).
     * Past K_max only the whole-list MRR is left, so the loop stops at the first hit. */
    const uint32_t nc = acc->n_cutoffs, kmax = acc->cutoffs[nc - 1];
    const uint32_t steps = len > kmax ? len : kmax;
    double dcg = 0, idcg = 0, ap = 0;
    uint32_t hits = 0, first = 0, c = 0;
    for (uint32_t r = 1; r <= steps; r++) {
        int rel = r <= len && sorted_contains(relevant, n_rel, ranked[r - 1]);
        if (rel || r <= n_rel) {
            double disc = 1.0 / log2((double)r + 1.0);
            if (r <= n_rel) idcg += disc;
            if (rel) {
                hits++;
                dcg += disc;
                ap += (double)hits / (double)r;
                if (!first) first = r;
            }
        }
        if (c < nc && r == acc->cutoffs[c]) {
            const double K = (double)r;
            const uint32_t ideal = n_rel < r ? n_rel : r;
            v[HR_RANK_AT(c, HR_RANK_PRECISION)] = hits / K;
            v[HR_RANK_AT(c, HR_RANK_RECALL)] = (double)hits / (double)n_rel;
            v[HR_RANK_AT(c, HR_RANK_HIT)] = hits > 0 ? 1.0 : 0.0;
            v[HR_RANK_AT(c, HR_RANK_NDCG)] = dcg / idcg;
            v[HR_RANK_AT(c, HR_RANK_MAP)] = ap / (double)ideal;
            v[HR_RANK_AT(c, HR_RANK_MRR)] = first ? 1.0 / (double)first : 0.0;
            c++;
        }
        if (c == nc && first) break;
    }
    if (first_rank >= 0) {
        /* The kept list is a prefix of the full candidate order, so a hit inside it fixes the
         * full rank; a mismatch means the caller ranked with other scores or exclusions. */
        assert(!first || (uint64_t)first_rank == first);
        v[HR_RANK_MRR_FULL] = first_rank > 0 ? 1.0 / (double)first_rank : 0.0;
    } else {
        v[HR_RANK_MRR_FULL] = first ? 1.0 / (double)first : 0.0;
    }

    for (size_t i = 0; i < HR_RANK_NSUM; i++) acc->sum[i] += v[i];
    acc->count[HR_RANK_COUNT_USERS]++;
    return 1;
}

int hr_metrics_add_user(hr_rank_acc *acc, const uint32_t *ranked, uint32_t len,
                        const uint32_t *relevant, uint32_t n_rel, double *user_values)
{
    return add_user(acc, ranked, len, relevant, n_rel, -1, user_values);
}

int hr_metrics_add_user_ranked(hr_rank_acc *acc, const uint32_t *ranked, uint32_t len,
                               const uint32_t *relevant, uint32_t n_rel, uint64_t first_rank,
                               double *user_values)
{
    assert(first_rank <= (uint64_t)INT64_MAX);
    return add_user(acc, ranked, len, relevant, n_rel, (int64_t)first_rank, user_values);
}

/* Candidate order of solvers/topk.h: a before b. */
static inline int cand_before(float sa, uint32_t a, float sb, uint32_t b)
{
    return sa > sb || (sa == sb && a < b);
}

static inline int is_candidate(const float *scores, uint32_t n, const uint8_t *mask, uint32_t i)
{
    return i < n && !(mask && mask[i]) && !isnan(scores[i]);
}

uint32_t hr_metrics_best_candidate(const float *scores, uint32_t n, const uint8_t *mask,
                                   const uint32_t *items, uint32_t m)
{
    uint32_t best = UINT32_MAX;
    for (uint32_t t = 0; t < m; t++) {
        const uint32_t i = items[t];
        if (!is_candidate(scores, n, mask, i)) continue;
        if (best == UINT32_MAX || cand_before(scores[i], i, scores[best], best)) best = i;
    }
    return best;
}

void hr_metrics_candidate_ranks(const float *scores, uint32_t n, const uint8_t *mask,
                                const uint32_t *targets, uint32_t n_targets, uint64_t *ranks)
{
    /* ranks[t] counts up from 1 for each candidate ahead of target t; 0 marks a non-candidate
     * and stays 0.  Counting is the whole cost: one streaming pass over the row for all
     * targets, no sort and no allocation, cheap next to the GEMM that produced the row. */
    for (uint32_t t = 0; t < n_targets; t++) ranks[t] = is_candidate(scores, n, mask, targets[t]);
    for (uint32_t j = 0; j < n; j++) {
        if (mask && mask[j]) continue;
        const float sj = scores[j];
        /* NaN compares false both ways, so it is never ahead: NaN is not a candidate. */
        for (uint32_t t = 0; t < n_targets; t++)
            if (ranks[t]) ranks[t] += cand_before(sj, j, scores[targets[t]], targets[t]);
    }
}

void hr_metrics_merge_rank(hr_rank_acc *dst, const hr_rank_acc *src)
{
    assert(dst->n_cutoffs == src->n_cutoffs);
    for (size_t i = 0; i < HR_RANK_NSUM; i++) dst->sum[i] += src->sum[i];
    for (size_t i = 0; i < HR_RANK_NCOUNT; i++) dst->count[i] += src->count[i];
}

void hr_metrics_finalize_rank(const hr_rank_acc *acc, hr_rank_means *out)
{
    memset(out, 0, sizeof *out);
    out->n_cutoffs = acc->n_cutoffs;
    memcpy(out->cutoffs, acc->cutoffs, sizeof out->cutoffs);
    out->users_evaluated = acc->count[HR_RANK_COUNT_USERS];
    out->users_skipped_no_test = acc->count[HR_RANK_COUNT_SKIPPED_NO_TEST];
    const double n = (double)out->users_evaluated;
    for (uint32_t c = 0; c < acc->n_cutoffs; c++)
        for (int m = 0; m < HR_RANK_NMETRIC; m++)
            out->at[c][m] = safe_div(acc->sum[HR_RANK_AT(c, m)], n);
    out->mrr = safe_div(acc->sum[HR_RANK_MRR_FULL], n);
}

/* ================================ ratings =================================================== */

void hr_metrics_init_rating(hr_rating_acc *acc) { memset(acc, 0, sizeof *acc); }

void hr_metrics_add_rating(hr_rating_acc *acc, double predicted, double actual)
{
    double e = predicted - actual;
    acc->sum[HR_RATING_SUM_SQ] += e * e;
    acc->sum[HR_RATING_SUM_ABS] += fabs(e);
    acc->count++;
}

void hr_metrics_add_ratings(hr_rating_acc *acc, const float *predicted, const float *actual,
                            size_t n)
{
    /* Local sums first: fewer dependent stores into acc, same result as one-by-one adds up to
     * the order of the additions. */
    double sq = 0, ab = 0;
    for (size_t i = 0; i < n; i++) {
        double e = (double)predicted[i] - (double)actual[i];
        sq += e * e;
        ab += fabs(e);
    }
    acc->sum[HR_RATING_SUM_SQ] += sq;
    acc->sum[HR_RATING_SUM_ABS] += ab;
    acc->count += n;
}

void hr_metrics_merge_rating(hr_rating_acc *dst, const hr_rating_acc *src)
{
    for (int i = 0; i < HR_RATING_NSUM; i++) dst->sum[i] += src->sum[i];
    dst->count += src->count;
}

void hr_metrics_finalize_rating(const hr_rating_acc *acc, double *rmse, double *mae)
{
    const double n = (double)acc->count;
    *rmse = sqrt(safe_div(acc->sum[HR_RATING_SUM_SQ], n));
    *mae = safe_div(acc->sum[HR_RATING_SUM_ABS], n);
}

/* ================================ beyond accuracy =========================================== */

int hr_metrics_init_beyond(hr_beyond_acc *acc, const uint32_t *cutoffs, uint32_t n_cutoffs,
                           hr_error *err)
{
    memset(acc, 0, sizeof *acc);
    return init_cutoffs(&acc->n_cutoffs, acc->cutoffs, cutoffs, n_cutoffs, err);
}

/* Add item i's unit-length factor row to the running sum s; return its squared norm (1, or 0
 * for a zero row, which thereby has cosine 0 with everything).
 *
 * Why a running sum: for unit vectors, sum_{i<j} cos(i,j) = (|sum_i u_i|^2 - sum_i |u_i|^2) / 2,
 * so the ILD of a K-list costs O(K k) instead of O(K^2 k), and every cutoff is read off the
 * same pass.  Doubles keep the cancellation harmless at K in the thousands. */
static double add_unit_row(const float *factors, uint32_t k, uint32_t item, double *s)
{
    const float *y = factors + (size_t)item * k;
    double nn = 0;
    for (uint32_t t = 0; t < k; t++) nn += (double)y[t] * (double)y[t];
    if (nn <= 0) return 0.0;
    const double inv = 1.0 / sqrt(nn);
    double uu = 0;
    for (uint32_t t = 0; t < k; t++) {
        double u = (double)y[t] * inv;
        s[t] += u;
        uu += u * u;
    }
    return uu;
}

static double ild_from_sum(const double *s, uint32_t k, double sum_sq, uint32_t m)
{
    double ss = 0;
    for (uint32_t t = 0; t < k; t++) ss += s[t] * s[t];
    const double pairs = 0.5 * (double)m * (double)(m - 1);
    return 1.0 - 0.5 * (ss - sum_sq) / pairs;
}

double hr_metrics_ild(const float *factors, uint32_t k, const uint32_t *items, uint32_t n,
                      double *work)
{
    if (n < 2) return 0.0;
    memset(work, 0, (size_t)k * sizeof *work);
    double sum_sq = 0;
    for (uint32_t r = 0; r < n; r++) sum_sq += add_unit_row(factors, k, items[r], work);
    return ild_from_sum(work, k, sum_sq, n);
}

void hr_metrics_add_beyond(hr_beyond_acc *acc, const hr_item_stats *st, const uint32_t *ranked,
                           uint32_t len, uint64_t *exposure, double *work)
{
    assert(st->n_users >= 1);
    const uint32_t nc = acc->n_cutoffs, kmax = acc->cutoffs[nc - 1];
    const uint32_t n = len < kmax ? len : kmax;
    const int with_ild = st->factors != NULL && st->k > 0;
    const double log2_users = log2((double)st->n_users);
    if (with_ild) memset(work, 0, (size_t)st->k * sizeof *work);

    double nov = 0, arp = 0, sum_sq = 0;
    uint32_t tail = 0, c = 0;
    for (uint32_t r = 1; r <= n + 1 && c < nc; r++) {
        /* r == n + 1 is a sentinel step that only closes the cutoffs beyond the list. */
        if (r <= n) {
            const uint32_t item = ranked[r - 1];
            assert(item < st->n_items);
            const uint64_t p = st->pop[item];
            /* -log2(max(p,1) / n_users), split so that no tiny ratio is formed. */
            nov += log2_users - log2((double)(p > 0 ? p : 1));
            arp += (double)p;
            if (st->is_head && !st->is_head[item]) tail++;
            if (with_ild) sum_sq += add_unit_row(st->factors, st->k, st->list_rows ? r - 1 : item, work);
            /* The item is in the top-K of every cutoff not yet closed (cutoffs ascend). */
            if (exposure)
                for (uint32_t cc = c; cc < nc; cc++)
                    exposure[(size_t)cc * st->n_items + item]++;
        }
        while (c < nc && (r == acc->cutoffs[c] || r > n)) {
            const uint32_t m = r <= n ? r : n;  /* items in this user's top-K_c */
            if (m >= 1) {
                acc->sum[HR_BEYOND_AT(c, HR_BEYOND_NOVELTY)] += nov / m;
                acc->sum[HR_BEYOND_AT(c, HR_BEYOND_ARP)] += arp / m;
                acc->sum[HR_BEYOND_AT(c, HR_BEYOND_TAIL)] += (double)tail / m;
                acc->count[HR_BEYOND_CNT(c, HR_BEYOND_COUNT_USERS)]++;
            }
            if (m >= 2 && with_ild) {
                acc->sum[HR_BEYOND_AT(c, HR_BEYOND_ILD)] += ild_from_sum(work, st->k, sum_sq, m);
                acc->count[HR_BEYOND_CNT(c, HR_BEYOND_COUNT_ILD_USERS)]++;
            }
            c++;
        }
    }
}

void hr_metrics_merge_beyond(hr_beyond_acc *dst, const hr_beyond_acc *src)
{
    assert(dst->n_cutoffs == src->n_cutoffs);
    for (size_t i = 0; i < HR_METRICS_MAX_CUTOFFS * HR_BEYOND_NSUM; i++) dst->sum[i] += src->sum[i];
    for (size_t i = 0; i < HR_METRICS_MAX_CUTOFFS * HR_BEYOND_NCOUNT; i++)
        dst->count[i] += src->count[i];
}

double hr_metrics_coverage(const uint64_t *exposure, uint32_t n_items)
{
    uint64_t seen = 0;
    for (uint32_t i = 0; i < n_items; i++) seen += exposure[i] > 0;
    return safe_div((double)seen, (double)n_items);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

double hr_metrics_gini(const uint64_t *exposure, uint32_t n)
{
    if (n == 0) return 0.0;
    uint64_t *x = hr_malloc((size_t)n * sizeof *x);
    memcpy(x, exposure, (size_t)n * sizeof *x);
    qsort(x, n, sizeof *x, cmp_u64);
    /* Sorted-rank form of the mean absolute difference: G = sum (2i - n - 1) x_(i) / (n sum x). */
    double num = 0, total = 0;
    for (uint32_t i = 0; i < n; i++) {
        num += (2.0 * (double)(i + 1) - (double)n - 1.0) * (double)x[i];
        total += (double)x[i];
    }
    hr_free(x);
    return safe_div(num, (double)n * total);
}

void hr_metrics_finalize_beyond(const hr_beyond_acc *acc, const uint64_t *exposure,
                                uint32_t n_items, hr_beyond_means *out)
{
    memset(out, 0, sizeof *out);
    out->n_cutoffs = acc->n_cutoffs;
    memcpy(out->cutoffs, acc->cutoffs, sizeof out->cutoffs);
    for (uint32_t c = 0; c < acc->n_cutoffs; c++) {
        const double users = (double)acc->count[HR_BEYOND_CNT(c, HR_BEYOND_COUNT_USERS)];
        const double ild_users = (double)acc->count[HR_BEYOND_CNT(c, HR_BEYOND_COUNT_ILD_USERS)];
        out->novelty[c] = safe_div(acc->sum[HR_BEYOND_AT(c, HR_BEYOND_NOVELTY)], users);
        out->arp[c] = safe_div(acc->sum[HR_BEYOND_AT(c, HR_BEYOND_ARP)], users);
        out->tail[c] = safe_div(acc->sum[HR_BEYOND_AT(c, HR_BEYOND_TAIL)], users);
        out->ild[c] = safe_div(acc->sum[HR_BEYOND_AT(c, HR_BEYOND_ILD)], ild_users);
        if (exposure) {
            const uint64_t *e = exposure + (size_t)c * n_items;
            out->coverage[c] = hr_metrics_coverage(e, n_items);
            out->gini[c] = hr_metrics_gini(e, n_items);
        }
    }
}

/* ================================ segments ================================================== */

void hr_metrics_add_activity(uint64_t *hist, uint32_t n_bins, uint64_t count)
{
    assert(n_bins >= 1);
    hist[count < n_bins - 1 ? count : n_bins - 1]++;
}

/* Ranks (1-based) of the two cut points among n sorted counts: ceil(n/3), ceil(2n/3). */
static void tercile_ranks(uint64_t n, uint64_t *t1, uint64_t *t2)
{
    *t1 = n / 3 + (n % 3 != 0);
    *t2 = (2 * n) / 3 + ((2 * n) % 3 != 0);
}

void hr_metrics_tercile_cuts(const uint64_t *hist, uint32_t n_bins, uint64_t cuts[2])
{
    uint64_t total = 0, t1, t2, cum = 0;
    for (uint32_t v = 0; v < n_bins; v++) total += hist[v];
    cuts[0] = cuts[1] = 0;
    if (total == 0) return;
    tercile_ranks(total, &t1, &t2);
    int have1 = 0;
    for (uint32_t v = 0; v < n_bins; v++) {
        cum += hist[v];
        if (!have1 && cum >= t1) { cuts[0] = v; have1 = 1; }
        if (cum >= t2) { cuts[1] = v; return; }
    }
}

void hr_metrics_tercile_cuts_sorted(const uint64_t *sorted_counts, size_t n, uint64_t cuts[2])
{
    uint64_t t1, t2;
    cuts[0] = cuts[1] = 0;
    if (n == 0) return;
    tercile_ranks(n, &t1, &t2);
    cuts[0] = sorted_counts[t1 - 1];
    cuts[1] = sorted_counts[t2 - 1];
}

int hr_metrics_activity_segment(uint64_t count, const uint64_t cuts[2])
{
    if (count <= cuts[0]) return HR_SEG_LIGHT;
    if (count <= cuts[1]) return HR_SEG_MEDIUM;
    return HR_SEG_HEAVY;
}

typedef struct { uint64_t count; uint32_t index; } item_count;

/* Most interactions first; ties by lower index so the head set is deterministic. */
static int cmp_item_count(const void *a, const void *b)
{
    const item_count *x = a, *y = b;
    if (x->count != y->count) return x->count > y->count ? -1 : 1;
    return (x->index > y->index) - (x->index < y->index);
}

uint32_t hr_metrics_mark_head(const uint64_t *interactions, uint32_t n_items, double fraction,
                              uint8_t *is_head)
{
    assert(fraction > 0 && fraction <= 1);
    memset(is_head, 0, n_items);
    uint64_t total = 0;
    for (uint32_t i = 0; i < n_items; i++) total += interactions[i];
    if (total == 0) return 0;

    item_count *order = hr_malloc((size_t)n_items * sizeof *order);
    for (uint32_t i = 0; i < n_items; i++) order[i] = (item_count){ interactions[i], i };
    qsort(order, n_items, sizeof *order, cmp_item_count);
    const double target = fraction * (double)total;
    uint64_t cum = 0;
    uint32_t n_head = 0;
    while (n_head < n_items && (double)cum < target) {
        is_head[order[n_head].index] = 1;
        cum += order[n_head].count;
        n_head++;
    }
    hr_free(order);
    return n_head;
}

uint32_t hr_metrics_filter_items(const uint32_t *items, uint32_t n, const uint8_t *is_head,
                                 int segment, uint32_t *out)
{
    const int want_head = segment == HR_SEG_HEAD;
    uint32_t m = 0;
    for (uint32_t i = 0; i < n; i++) {
        const uint32_t it = items[i];
        if ((is_head[it] != 0) == want_head) out[m++] = it;
    }
    return m;
}
