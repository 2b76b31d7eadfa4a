/* jobs/train_knn.c — `hpcrec train --algo itemknn`: an item-based neighbourhood model, stored
 * as a sparse item-item model (io/model.h, kind itemitem) so that recommend, similar and
 * evaluate score it like EASE: score(u, j) = sum over the user's items i of x_ui B_ij, where
 * column j of B holds j's K nearest neighbours (solvers/knn.h has the measures).
 *
 * Phases (progress line each, a stop point between them: a stopped run exits 75 and a rerun
 * trains from the start; the model is written whole or not at all):
 *   baselines   explicit data: the global mean and Surprise's baseline ALS (10 epochs, reg_i 10,
 *               reg_u 15) or the item means, summed in fixed point (solvers/knn.h), so they are
 *               the same bits on any rank count
 *   rows        column block c (HR_MODEL_II_COLS items) belongs to rank c mod P, the rank that
 *               writes it; every user's row (capped at --max-user-items items, a sample chosen
 *               by a hash of (user, item)) goes to each rank owning one of its items, in one
 *               all-to-all
 *   similarity  each rank, for each of its items i in increasing id, adds the rows of i's users
 *               in increasing user id into per-item accumulators and keeps the K best positive
 *               similarities (ties to the lower id)
 *   writing     the model bundle, format 2, every rank its blocks (jobs/modelwrite.h); explicit
 *               models also carry mu, b_u, b_i for rating predictions (evaluate's rmse)
 * Memory per rank (docs/operations.md): the rows it receives, at most 12 bytes per capped
 * interaction of the users it serves plus 16 per user, its items' user lists (8 bytes per
 * interaction), 48 bytes per catalogue item of accumulators, and K x 8 bytes per owned item. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/hash.h"
#include "core/log.h"
#include "core/timer.h"
#include "jobs/modelwrite.h"
#include "jobs/train.h"

#define KNN_EPOCHS 10
#define KNN_REG_I 10.0
#define KNN_REG_U 15.0
#define KNN_AHEAD 8   /* rows fetched this many column entries ahead (the pointer twice as far) */

/* The rank that makes column block c (and so computes item j's neighbours). */
static int item_rank(uint32_t j, int P) { return (int)((j / HR_MODEL_II_COLS) % (uint32_t)P); }

/* Baselines of explicit data: mu, b_u of this rank's users (local rows), b_i of every item. */
int hr_knn_baselines(hr_job *job, const hr_knn_opts *k, const hr_dataset *ds, double *mu, double *bu, double *bi)
{
    const hr_block *b = &ds->by_user;
    const uint64_t n = ds->items.n;
    int64_t sum[2] = { 0, (int64_t)b->nnz };
    for (uint64_t e = 0; e < b->nnz; e++) sum[0] += hr_knn_fix(b->val[e]);
    HR_TRY(hr_comm_allreduce_sum_i64(job->comm, sum, 2));
    *mu = sum[1] ? hr_knn_unfix(sum[0]) / (double)sum[1] : 0.0;
    memset(bu, 0, (b->nrows + 1) * sizeof *bu);
    memset(bi, 0, (n + 1) * sizeof *bi);
    const int als = k->center == HR_KNN_CENTER_BASELINE || k->sim == HR_KNN_PEARSON_BASELINE;
    if (k->center == HR_KNN_CENTER_NONE && !als) return 0;
    int64_t *num = hr_malloc((n + 1) * sizeof *num);
    int rc = 0;
    for (int ep = 0; ep < (als ? KNN_EPOCHS : 1) && rc == 0; ep++) {
        memset(num, 0, (n + 1) * sizeof *num);
        for (uint64_t r = 0; r < b->nrows; r++)
            for (uint64_t e = b->ptr[r]; e < b->ptr[r + 1]; e++) num[b->idx[e]] += hr_knn_fix(b->val[e] - *mu - bu[r]);
        rc = hr_comm_allreduce_sum_i64(job->comm, num, n);
        for (uint64_t i = 0; rc == 0 && i < n; i++)
            bi[i] = hr_knn_bias(hr_knn_unfix(num[i]), ds->items.nnz[i], als ? KNN_REG_I : 0.0);
        if (!als) break;   /* item means: b_i = mean_i - mu, no user term */
        for (uint64_t r = 0; r < b->nrows; r++) {
            double s = 0;
            for (uint64_t e = b->ptr[r]; e < b->ptr[r + 1]; e++) s += b->val[e] - *mu - bi[b->idx[e]];
            bu[r] = hr_knn_bias(s, b->ptr[r + 1] - b->ptr[r], KNN_REG_U);
        }
    }
    hr_free(num);
    return rc;
}

/* The rows this rank received, in increasing user id, and its items' user lists. */
typedef struct knn_rows {
    uint64_t nrows, nnz;
    uint32_t *gid, *len_full;   /* user id, its row length before the cap */
    double *bu;
    uint64_t *ptr;              /* row r: items / vals [ptr[r], ptr[r+1]) */
    uint32_t *items;
    float *vals;                /* raw values, then (after weigh) the measure's a_uj */
    /* own items: local column l (blocks me, me + P, ... in order, HR_MODEL_II_COLS each) */
    uint64_t nown, *cptr;       /* column l: users cu[cptr[l] ..] (row numbers, ascending) */
    uint32_t *cu;
    float *cval;                /* a_ui of the target */
} knn_rows;

static void rows_free(knn_rows *x)
{
    hr_free(x->gid);
    hr_free(x->len_full);
    hr_free(x->bu);
    hr_free(x->ptr);
    hr_free(x->items);
    hr_free(x->vals);
    hr_free(x->cptr);
    hr_free(x->cu);
    hr_free(x->cval);
    memset(x, 0, sizeof *x);
}

/* Local column of an item this rank owns. */
static uint64_t own_col(uint32_t j, int P)
{
    return (uint64_t)(j / HR_MODEL_II_COLS) / (uint64_t)P * HR_MODEL_II_COLS + j % HR_MODEL_II_COLS;
}

static int cmp_key(const void *p, const void *q)
{
    const uint64_t *a = p, *b = q;
    return (a[0] > b[0]) - (a[0] < b[0]);
}

/* The user's row after the cap: all of it, or the `cap` items of smallest hash(user, item), in
 * item order.  keys: scratch of len pairs.  Returns the kept length; pos[] the kept positions. */
static uint64_t capped(uint32_t gid, const uint32_t *items, uint64_t len, uint32_t cap, uint64_t *keys, uint64_t *pos)
{
    if (!cap || len <= cap) {
        for (uint64_t e = 0; e < len; e++) pos[e] = e;
        return len;
    }
    for (uint64_t e = 0; e < len; e++) {
        keys[2 * e] = hr_mix64(((uint64_t)gid << 32 | items[e]) ^ 0x6b6e6e63617030ULL);
        keys[2 * e + 1] = e;
    }
    qsort(keys, len, 2 * sizeof *keys, cmp_key);
    for (uint64_t e = 0; e < cap; e++) pos[e] = keys[2 * e + 1];
    qsort(pos, cap, sizeof *pos, cmp_key);   /* u64 compare: back to item order */
    return cap;
}

/* Every user's (capped) row to the ranks owning its items; received rows sorted by user id. */
static int route_rows(hr_job *job, const hr_knn_train_opts *o, const hr_dataset *ds, const double *bu, knn_rows *x,
                      uint64_t *sent_interactions, uint64_t *kept_interactions)
{
    const int P = job->size;
    const hr_block *b = &ds->by_user;
    uint64_t maxlen = 0;
    for (uint64_t r = 0; r < b->nrows; r++)
        if (b->ptr[r + 1] - b->ptr[r] > maxlen) maxlen = b->ptr[r + 1] - b->ptr[r];
    uint64_t *keys = hr_malloc((2 * maxlen + 1) * sizeof *keys), *pos = hr_malloc((maxlen + 1) * sizeof *pos);
    uint64_t *cnt = hr_calloc((size_t)P * 3, sizeof *cnt), *rcnt = cnt + P, *off = rcnt + P;
    unsigned char *to = hr_malloc((size_t)P);
    /* two passes: sizes, then packing.  A row: gid, full length, kept length, b_u (2 words),
     * items, values (float bits) */
    uint32_t *send = NULL;
    *sent_interactions = *kept_interactions = 0;
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) {
            uint64_t tot = 0;
            for (int q = 0; q < P; q++) {
                off[q] = tot;
                tot += cnt[q];
            }
            send = hr_malloc((tot + 1) * sizeof *send);
        }
        for (uint64_t r = 0; r < b->nrows; r++) {
            const uint32_t *it = b->idx + b->ptr[r];
            const float *v = b->val + b->ptr[r];
            const uint64_t len = b->ptr[r + 1] - b->ptr[r], kept = capped(b->gid[r], it, len, o->max_user_items, keys, pos);
            if (!kept) continue;
            if (pass == 0) *kept_interactions += kept;
            memset(to, 0, (size_t)P);
            for (uint64_t e = 0; e < kept; e++) to[item_rank(it[pos[e]], P)] = 1;
            for (int q = 0; q < P; q++) {
                if (!to[q]) continue;
                if (pass == 0) {
                    cnt[q] += 5 + 2 * kept;
                    *sent_interactions += kept;
                    continue;
                }
                uint32_t *w = send + off[q];
                double d = bu[r];
                w[0] = b->gid[r];
                w[1] = (uint32_t)len;
                w[2] = (uint32_t)kept;
                memcpy(w + 3, &d, sizeof d);
                for (uint64_t e = 0; e < kept; e++) {
                    w[5 + e] = it[pos[e]];
                    memcpy(&w[5 + kept + e], &v[pos[e]], sizeof(float));
                }
                off[q] += 5 + 2 * kept;
            }
        }
    }
    for (int q = P - 1; q >= 0; q--) off[q] -= cnt[q];
    void *recv = NULL;
    uint64_t nrecv = 0;
    int rc = hr_comm_alltoallv(job->comm, send, cnt, sizeof *send, &recv, rcnt, &nrecv);
    hr_free(send);
    hr_free(keys);
    hr_free(pos);
    hr_free(cnt);
    hr_free(to);
    HR_TRY(rc);
    /* parse; order rows by user id (users are distinct: each has one owner) */
    const uint32_t *w = recv;
    uint64_t nr = 0, nz = 0;
    for (uint64_t at = 0; at < nrecv; at += 5 + 2 * (uint64_t)w[at + 2]) {
        nr++;
        nz += w[at + 2];
    }
    uint64_t *order = hr_malloc((2 * nr + 1) * sizeof *order);
    nr = 0;
    for (uint64_t at = 0; at < nrecv; at += 5 + 2 * (uint64_t)w[at + 2], nr++) {
        order[2 * nr] = w[at];
        order[2 * nr + 1] = at;
    }
    qsort(order, nr, 2 * sizeof *order, cmp_key);
    x->nrows = nr;
    x->nnz = nz;
    x->gid = hr_malloc((nr + 1) * sizeof *x->gid);
    x->len_full = hr_malloc((nr + 1) * sizeof *x->len_full);
    x->bu = hr_malloc((nr + 1) * sizeof *x->bu);
    x->ptr = hr_malloc((nr + 1) * sizeof *x->ptr);
    x->items = hr_malloc((nz + 1) * sizeof *x->items);
    x->vals = hr_malloc((nz + 1) * sizeof *x->vals);
    x->ptr[0] = 0;
    for (uint64_t r = 0; r < nr; r++) {
        const uint32_t *h = w + order[2 * r + 1];
        const uint64_t k = h[2];
        x->gid[r] = h[0];
        x->len_full[r] = h[1];
        memcpy(&x->bu[r], h + 3, sizeof(double));
        memcpy(x->items + x->ptr[r], h + 5, k * sizeof *x->items);
        memcpy(x->vals + x->ptr[r], h + 5 + k, k * sizeof *x->vals);
        x->ptr[r + 1] = x->ptr[r] + k;
    }
    hr_free(order);
    hr_free(recv);
    return 0;
}

/* The own items' user lists (rows ascending) with the row's position of the item. */
static void own_columns(knn_rows *x, uint64_t n_items, int P, int me, uint64_t **at)
{
    const uint64_t nb = (n_items + HR_MODEL_II_COLS - 1) / HR_MODEL_II_COLS;
    const uint64_t myblocks = nb > (uint64_t)me ? (nb - (uint64_t)me + (uint64_t)P - 1) / (uint64_t)P : 0;
    x->nown = myblocks * HR_MODEL_II_COLS;
    x->cptr = hr_calloc(x->nown + 2, sizeof *x->cptr);
    for (uint64_t e = 0; e < x->nnz; e++)
        if (item_rank(x->items[e], P) == me) x->cptr[own_col(x->items[e], P) + 1]++;
    for (uint64_t l = 0; l < x->nown; l++) x->cptr[l + 1] += x->cptr[l];
    x->cu = hr_malloc((x->cptr[x->nown] + 1) * sizeof *x->cu);
    x->cval = hr_malloc((x->cptr[x->nown] + 1) * sizeof *x->cval);
    *at = hr_malloc((x->cptr[x->nown] + 1) * sizeof **at);
    uint64_t *fill = hr_malloc((x->nown + 1) * sizeof *fill);
    memcpy(fill, x->cptr, (x->nown + 1) * sizeof *fill);
    for (uint64_t r = 0; r < x->nrows; r++)
        for (uint64_t e = x->ptr[r]; e < x->ptr[r + 1]; e++)
            if (item_rank(x->items[e], P) == me) {
                uint64_t f = fill[own_col(x->items[e], P)]++;
                x->cu[f] = (uint32_t)r;
                (*at)[f] = e;
            }
    hr_free(fill);
}

/* The neighbour lists of this rank's blocks: block t (global block me + tP) holds columns
 * tW .. of the local numbering; per block a CSC (ptr relative to the block). */
typedef struct knn_out {
    hr_job *job;
    uint64_t n, nblocks_local;
    uint64_t *bptr;    /* per local block: W + 1 offsets into row/val (absolute) */
    uint32_t *row;
    float *val;
    uint64_t *rel;     /* scratch: W + 1 offsets relative to the block */
    uint64_t stored;
} knn_out;

static int knn_make(void *ctx, const uint64_t *blocks, hr_iiblock *out, hr_error *err)
{
    knn_out *k = ctx;
    const int P = k->job->size, me = k->job->rank;
    (void)err;
    if (blocks[me] == UINT64_MAX) return 0;
    const uint64_t c = blocks[me], t = c / (uint64_t)P, W = HR_MODEL_II_COLS;
    const uint64_t c0 = c * W, c1 = c0 + W < k->n ? c0 + W : k->n;
    const uint64_t *p = k->bptr + t * (W + 1);
    for (uint64_t j = 0; j <= c1 - c0; j++) k->rel[j] = p[j] - p[0];
    *out = (hr_iiblock){ k->n, c0, c1, p[c1 - c0] - p[0], 0, k->rel, k->row + p[0], k->val + p[0] };
    return 0;
}

/* Fill for the item-bias member: every rank holds b_i of every item. */
static void fill_bias(void *ctx, uint64_t lo, uint64_t hi, float *out)
{
    const double *b = ctx;
    for (uint64_t i = lo; i < hi; i++) out[i - lo] = (float)b[i];
}

/* Defaults that depend on the data, and the refusals: ratings are values in (0, 10] not all 1
 * (a binary or count dataset is implicit feedback). */
int hr_knn_resolve(hr_job *job, hr_knn_train_opts *o, const hr_dataset *ds)
{
    const hr_block *b = &ds->by_user;
    hr_knn_opts *k = &o->knn;
    double mm[3] = { -INFINITY, -INFINITY, 0 };   /* max value, -min value, any value other than 1 */
    for (uint64_t e = 0; e < b->nnz; e++) {
        if (b->val[e] > mm[0]) mm[0] = b->val[e];
        if (-b->val[e] > mm[1]) mm[1] = -b->val[e];
        if (b->val[e] != 1.0f) mm[2] = 1;
    }
    HR_TRY(hr_comm_allreduce_max_f64(job->comm, mm, 3));
    const int ratings = mm[0] <= 10.0 && -mm[1] > 0.0 && mm[2] > 0;
    if (!o->have_feedback) k->implicit = !ratings;
    /* implicit's recommenders: cosine, cosine of TF-IDF, dot product of BM25 */
    if (!o->have_sim) k->sim = k->implicit ? (k->weight == HR_KNN_WEIGHT_BM25 ? HR_KNN_DOT : HR_KNN_COSINE) : HR_KNN_PEARSON_BASELINE;
    /* explicit predictions use the --predict-neighbors (40, Surprise's k) most similar of the
     * stored neighbours the user rated: storing 300 makes those nearly Surprise's k among all
     * the items the user rated (docs) */
    if (!o->have_neighbors) k->neighbors = k->implicit ? 40 : 300;
    if (!o->have_shrink) k->shrink = k->sim == HR_KNN_PEARSON_BASELINE ? 100.0 : 0.0;
    if (k->implicit && k->sim == HR_KNN_PEARSON_BASELINE)
        return hr_error_set(&job->err, HR_ERR_ARG,
                            "%s: --knn-measure pearson-baseline needs explicit feedback (ratings and their baselines); "
                            "this run is --feedback implicit", o->data);
    if (k->implicit && k->sim == HR_KNN_PEARSON && mm[2] == 0)
        return hr_error_set(&job->err, HR_ERR_ARG,
                            "%s: --knn-measure pearson on implicit data without values (every interaction is 1): the "
                            "correlation is undefined; use cosine, jaccard or --knn-weight tfidf|bm25", o->data);
    if (!k->implicit && k->weight != HR_KNN_WEIGHT_NONE)
        return hr_error_set(&job->err, HR_ERR_ARG, "--knn-weight %s weighs implicit feedback; this run is --feedback explicit",
                            hr_knn_weight_name(k->weight));
    if (k->implicit && o->have_center)
        return hr_error_set(&job->err, HR_ERR_ARG, "--knn-center applies to explicit feedback (rating predictions)");
    return 0;
}

int hr_train_knn(hr_job *job, hr_knn_train_opts *o, hr_dataset *ds, uint64_t nnz)
{
    HR_TRY(hr_knn_resolve(job, o, ds));
    double t0 = hr_now();
    const int P = job->size, me = job->rank;
    const hr_block *b = &ds->by_user;
    const uint64_t n = ds->items.n, W = HR_MODEL_II_COLS;
    const hr_knn_opts *ko = &o->knn;
    int rc = 0, stops = 0;
    double mu = 0, *bu = hr_malloc((b->nrows + 1) * sizeof *bu), *bi = hr_malloc((n + 1) * sizeof *bi);
    double *len = NULL, *norm = NULL;
    uint64_t *count = NULL, *at = NULL, sent = 0, kept_total = 0;
    float *bu_f = NULL;
    knn_rows x;
    memset(&x, 0, sizeof x);
    knn_out out;
    memset(&out, 0, sizeof out);
    hr_knn_acc acc;
    memset(&acc, 0, sizeof acc);
    json_t *info = NULL;

    /* baselines */
    double tb = hr_now();
    if (!ko->implicit) HR_CHECK(hr_knn_baselines(job, ko, ds, &mu, bu, bi));
    else {
        memset(bu, 0, (b->nrows + 1) * sizeof *bu);
        memset(bi, 0, (n + 1) * sizeof *bi);
    }
    double s_base = hr_now() - tb;
    HR_CHECK(hr_comm_allreduce_max_f64(job->comm, &s_base, 1));
    if (!ko->implicit)
        hr_progress("itemknn    baselines (%s): mu %.4f, %s: %.2fs", hr_knn_center_name(ko->center), mu,
                    ko->center == HR_KNN_CENTER_BASELINE || ko->sim == HR_KNN_PEARSON_BASELINE ? "baseline ALS, 10 epochs"
                                                                                               : "item means", s_base);
    HR_CHECK(hr_dense_stop_point(job, &stops, "itemknn", "the baselines"));

    /* rows to the ranks of their items */
    double tr = hr_now();
    uint64_t kept = 0;
    rc = route_rows(job, o, ds, bu, &x, &sent, &kept);
    HR_CHECK(hr_comm_agree(job->comm, rc, &job->err));
    own_columns(&x, n, P, me, &at);
    /* per-item figures every rank needs, each computed by the item's own rank (the sums are
     * exact: one rank adds a nonzero per item) */
    count = hr_calloc(n + 1, sizeof *count);
    len = hr_calloc(n + 1, sizeof *len);
    norm = hr_calloc(n + 1, sizeof *norm);
    for (uint64_t l = 0; l < x.nown; l++) {
        const uint64_t j = (uint64_t)((l / W) * (uint64_t)P + (uint64_t)me) * W + l % W;
        if (j >= n) break;
        count[j] = x.cptr[l + 1] - x.cptr[l];
        for (uint64_t f = x.cptr[l]; f < x.cptr[l + 1]; f++) len[j] += x.vals[at[f]];
    }
    HR_CHECK(hr_comm_allreduce_sum_u64(job->comm, count, n));
    HR_CHECK(hr_comm_allreduce_sum_f64(job->comm, len, n));
    double mean_len = 0;
    uint64_t with = 0;
    for (uint64_t j = 0; j < n; j++)
        if (count[j]) {
            mean_len += len[j];
            with++;
        }
    mean_len = with ? mean_len / (double)with : 0;
    /* the measure's values a_uj, in place */
    for (uint64_t r = 0; r < x.nrows; r++) {
        const double idf = hr_knn_idf(n, x.len_full[r]);
        for (uint64_t e = x.ptr[r]; e < x.ptr[r + 1]; e++) {
            const uint32_t j = x.items[e];
            x.vals[e] = (float)hr_knn_value(ko, x.vals[e], mu + x.bu[r] + bi[j], idf, len[j], mean_len);
        }
    }
    for (uint64_t l = 0; l < x.nown; l++) {
        const uint64_t j = (uint64_t)((l / W) * (uint64_t)P + (uint64_t)me) * W + l % W;
        if (j >= n) break;
        double s = 0;
        for (uint64_t f = x.cptr[l]; f < x.cptr[l + 1]; f++) {
            x.cval[f] = x.vals[at[f]];
            s += (double)x.cval[f] * x.cval[f];
        }
        norm[j] = sqrt(s);
    }
    HR_CHECK(hr_comm_allreduce_sum_f64(job->comm, norm, n));
    hr_free(at);
    at = NULL;
    uint64_t rs[2] = { sent, kept };
    HR_CHECK(hr_comm_allreduce_sum_u64(job->comm, rs, 2));
    double s_rows = hr_now() - tr;
    HR_CHECK(hr_comm_allreduce_max_f64(job->comm, &s_rows, 1));
    hr_progress("itemknn    rows: %llu of %llu interactions kept (--max-user-items %u), %llu sent to the ranks of their items: %.2fs",
                (unsigned long long)rs[1], (unsigned long long)nnz, o->max_user_items, (unsigned long long)rs[0], s_rows);
    HR_CHECK(hr_dense_stop_point(job, &stops, "itemknn", "the row exchange"));

    /* similarities */
    double ts = hr_now(), tsc = hr_cpu_now();
    out.job = job;
    out.n = n;
    out.nblocks_local = x.nown / W;
    out.bptr = hr_malloc((out.nblocks_local * (W + 1) + 1) * sizeof *out.bptr);
    out.rel = hr_malloc((W + 2) * sizeof *out.rel);
    const uint64_t K = ko->neighbors < n ? ko->neighbors : (n ? n : 1);
    out.row = hr_malloc((x.nown * K + 1) * sizeof *out.row);
    out.val = hr_malloc((x.nown * K + 1) * sizeof *out.val);
    hr_knn_acc_init(&acc, n, ko);
    {
        /* the product-only accumulator when every value is positive (bm25, tfidf, counts) */
        uint64_t e = 0;
        while (e < x.nnz && x.vals[e] >= HR_KNN_POSITIVE_MIN) e++;
        if (e == x.nnz) hr_knn_acc_positive(&acc, ko);
    }
    uint64_t pairs = 0, filled = 0;
    const uint64_t fend = x.cptr[x.nown];
    for (uint64_t t = 0; t < out.nblocks_local; t++) {
        uint64_t *p = out.bptr + t * (W + 1);
        p[0] = filled;
        for (uint64_t c = 0; c < W; c++) {
            const uint64_t l = t * W + c, j = ((uint64_t)me + t * (uint64_t)P) * W + c;
            if (j < n) {
                for (uint64_t f = x.cptr[l]; f < x.cptr[l + 1]; f++) {
                    /* the rows are read in user order per item, i.e. at random: their pointers
                     * and first lines are fetched ahead, or each row starts with two misses
                     * that cost more than its pair updates (the lists of the next items follow
                     * in cu, so the look-ahead runs across items) */
                    if (f + 2 * KNN_AHEAD < fend) __builtin_prefetch(&x.ptr[x.cu[f + 2 * KNN_AHEAD]]);
                    if (f + KNN_AHEAD < fend) {
                        const uint64_t q = x.ptr[x.cu[f + KNN_AHEAD]];
                        __builtin_prefetch(x.items + q);
                        __builtin_prefetch(x.vals + q);
                        __builtin_prefetch(x.items + q + 16);
                        __builtin_prefetch(x.vals + q + 16);
                    }
                    const uint32_t r = x.cu[f];
                    hr_knn_acc_add(&acc, x.cval[f], x.items + x.ptr[r], x.vals + x.ptr[r], x.ptr[r + 1] - x.ptr[r], (uint32_t)j);
                    pairs += x.ptr[r + 1] - x.ptr[r];
                }
                filled += hr_knn_acc_top(&acc, ko, count, norm, count[j], norm[j], out.row + filled, out.val + filled);
            }
            p[c + 1] = filled;
        }
    }
    out.stored = filled;
    hr_knn_acc_free(&acc);
    uint64_t st[2] = { filled, pairs };
    HR_CHECK(hr_comm_allreduce_sum_u64(job->comm, st, 2));
    kept_total = st[0];
    double s_sim = hr_now() - ts, s_sim_min = s_sim, s_sim_cpu = hr_cpu_now() - tsc, s_sim_cpu_all = s_sim_cpu;
    HR_CHECK(hr_comm_allreduce_max_f64(job->comm, &s_sim, 1));
    HR_CHECK(hr_comm_allreduce_max_f64(job->comm, &s_sim_cpu, 1));
    HR_CHECK(hr_comm_allreduce_sum_f64(job->comm, &s_sim_cpu_all, 1));
    HR_CHECK(hr_comm_allreduce_min_f64(job->comm, &s_sim_min, 1));
    hr_progress("itemknn    similarity: %s%s%s on %llu items, %llu pair updates, %llu neighbours kept (K %u, shrink %g, min support %u): "
                "%.2fs (fastest rank %.2fs; CPU %.2fs on the busiest rank)",
                hr_knn_sim_name(ko->sim), ko->implicit && ko->weight ? " of " : "", ko->implicit && ko->weight ? hr_knn_weight_name(ko->weight) : "",
                (unsigned long long)n, (unsigned long long)st[1], (unsigned long long)kept_total, ko->neighbors, ko->shrink,
                ko->min_support, s_sim, s_sim_min, s_sim_cpu);
    rows_free(&x);
    HR_CHECK(hr_dense_stop_point(job, &stops, "itemknn", "the similarities"));

    /* the model */
    double tw = hr_now();
    hr_model m;
    memset(&m, 0, sizeof m);
    m.kind = HR_MODEL_ITEMITEM;
    snprintf(m.algo, sizeof m.algo, "itemknn");
    m.n_users = ds->users.n;
    m.n_items = n;
    m.users = ds->users;
    m.items = ds->items;
    m.partial = 1;
    m.row_weight = ko->implicit ? HR_ROWS_BINARY : HR_ROWS_VALUE;
    m.ii_cols = (uint32_t)W;
    m.ii_topm = (uint32_t)K;
    hr_model_src src;
    memset(&src, 0, sizeof src);
    src.users = &ds->users;
    src.items = &ds->items;
    src.item_item = (hr_ii_src){ knn_make, &out };
    if (!ko->implicit) {
        /* rating predictions: base_ui = mu + b_u + b_i (zeros for --knn-center none: then mu is
         * only the fallback) */
        m.global_mean = (float)mu;
        bu_f = hr_malloc((b->nrows + 1) * sizeof *bu_f);
        const int keep_u = ko->center == HR_KNN_CENTER_BASELINE, keep_i = ko->center != HR_KNN_CENTER_NONE;
        for (uint64_t r = 0; r < b->nrows; r++) bu_f[r] = keep_u ? (float)bu[r] : 0.0f;
        if (!keep_i) memset(bi, 0, (n + 1) * sizeof *bi);
        src.user_bias = (hr_rows_src){ &ds->upart, bu_f, NULL, NULL };
        src.item_bias = (hr_rows_src){ NULL, NULL, fill_bias, bi };
    }
    info = json_pack("{s:{s:s,s:s,s:s,s:s,s:f,s:i,s:i,s:i,s:f,s:f,s:i},s:o,s:i,s:i}", "params", "feedback",
                     ko->implicit ? "implicit" : "explicit", "knn_sim", hr_knn_sim_name(ko->sim), "knn_weight",
                     hr_knn_weight_name(ko->weight), "knn_center", hr_knn_center_name(ko->center), "shrink", ko->shrink,
                     "neighbors", (int)ko->neighbors, "min_support", (int)ko->min_support, "max_user_items", (int)o->max_user_items,
                     "bm25_k1", ko->bm25_k1, "bm25_b", ko->bm25_b, "predict_neighbors", (int)o->predict_neighbors, "lineage", hr_train_lineage(job, o->data, ds, nnz), "iterations", 1,
                     "ranks", P);
    hr_model_write_stats ws = { 0, 0, 0, 0 };
    rc = hr_model_write(job, o->out, &m, &src, info, &ws);
    HR_CHECK(hr_comm_agree(job->comm, rc, &job->err));
    double s_write = hr_now() - tw, total = hr_now() - t0;
    HR_CHECK(hr_comm_allreduce_max_f64(job->comm, &s_write, 1));
    HR_CHECK(hr_comm_allreduce_max_f64(job->comm, &total, 1));
    hr_progress("itemknn    model: %llu column blocks of %llu, %llu neighbours, written to %s by %d ranks (%.1f MB): %.2fs",
                (unsigned long long)((n + W - 1) / W), (unsigned long long)W, (unsigned long long)kept_total, o->out, P,
                (double)ws.bytes / 1e6, s_write);
    double mean_rss, max_rss = hr_job_peak_rss_mb(job, &mean_rss);
    hr_job_set_str(job, "algo", "itemknn");
    hr_job_set_int(job, "factors", 0);
    hr_job_set_int(job, "iterations", 1);
    hr_job_set_real(job, "seconds_per_iteration", total);
    hr_job_set_int(job, "users", (int64_t)ds->users.n);
    hr_job_set_int(job, "items", (int64_t)n);
    hr_job_set_int(job, "interactions", (int64_t)nnz);
    hr_job_set_str(job, "feedback", ko->implicit ? "implicit" : "explicit");
    hr_job_set_str(job, "knn_sim", hr_knn_sim_name(ko->sim));
    hr_job_set_str(job, "knn_weight", hr_knn_weight_name(ko->weight));
    hr_job_set_str(job, "knn_center", hr_knn_center_name(ko->center));
    hr_job_set_int(job, "neighbors", ko->neighbors);
    hr_job_set_int(job, "predict_neighbors", o->predict_neighbors);
    hr_job_set_int(job, "knn_interactions_kept", (int64_t)rs[1]);
    hr_job_set_int(job, "knn_rows_sent", (int64_t)rs[0]);
    hr_job_set_int(job, "knn_pair_updates", (int64_t)st[1]);
    hr_job_set_int(job, "knn_neighbours_stored", (int64_t)kept_total);
    hr_job_set_real(job, "global_mean", mu);
    hr_job_set_real(job, "baseline_seconds", s_base);
    hr_job_set_real(job, "rows_seconds", s_rows);
    hr_job_set_real(job, "similarity_seconds", s_sim);
    hr_job_set_real(job, "similarity_cpu_seconds", s_sim_cpu);
    hr_job_set_real(job, "similarity_cpu_seconds_all_ranks", s_sim_cpu_all);
    hr_job_set_real(job, "write_seconds", s_write);
    hr_job_set_int(job, "model_bytes", (int64_t)ws.bytes);
    hr_progress("train      itemknn done: %.2fs total; peak memory per rank %.0f MB (mean %.0f)", total, max_rss, mean_rss);
fail:
    json_decref(info);
    rows_free(&x);
    hr_knn_acc_free(&acc);
    hr_free(at);
    hr_free(bu);
    hr_free(bi);
    hr_free(bu_f);
    hr_free(len);
    hr_free(norm);
    hr_free(count);
    hr_free(out.bptr);
    hr_free(out.rel);
    hr_free(out.row);
    hr_free(out.val);
    return rc;
}
