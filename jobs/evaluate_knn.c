/* jobs/evaluate_knn.c — rating predictions of an item-item model that carries rating
 * baselines (train --algo itemknn, explicit feedback), for evaluate's rmse / mae.
 *
 * Surprise's item-based prediction of user u's rating of item i (KNNBasic / KNNWithMeans /
 * KNNBaseline):
 *     r^_ui = base_ui + sum_{j in N_k(i; u)} s_ij (r_uj - base_uj) / sum_{same j} s_ij
 * where N_k(i; u) holds the k most similar to i (ties: lower id) of i's stored neighbours
 * (column i of B, positive similarities only) that u rated; k is the model's
 * params.predict_neighbors (train --predict-neighbors, Surprise's k, default 40; 0, and models
 * without the key: every stored neighbour u rated).  base_ui = mu + b_u + b_i (--knn-center
 * baseline), mu + b_i (mean), or 0 (none: then the raw ratings and, without neighbours, mu).
 * B's column blocks travel round the ring (jobs/ringrows.h): each rank predicts its chunk's
 * test ratings from the columns as they pass, so no rank holds B.  A rating with no rated
 * neighbour, or of a user the model does not know, is the baseline alone: counted in
 * pred_fallback (evaluate's `predictions_fallback`).  Predictions are clipped to the training
 * value range.  Sums in double, neighbours in increasing id: the same on any rank count. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "jobs/evaluate_parts.h"
#include "jobs/ringrows.h"

int ev_ii_center(const hr_model *m)
{
    json_t *p = json_object_get(m->manifest, "params");
    const char *c = json_string_value(json_object_get(p, "knn_center"));
    return c && !strcmp(c, "none") ? 0 : c && !strcmp(c, "mean") ? 1 : 2;
}

/* The model's k of a prediction (0: all stored neighbours the user rated). */
static uint32_t predict_k(const hr_model *m)
{
    json_t *v = json_object_get(json_object_get(m->manifest, "params"), "predict_neighbors");
    return json_is_integer(v) && json_integer_value(v) > 0 ? (uint32_t)json_integer_value(v) : 0;
}

typedef struct pred_ctx {
    hr_iiquery q;             /* per user of the chunk with a query row: residuals, model ids ascending */
    const int64_t *at;        /* chunk user x: its query row, or -1 */
    uint32_t nu;              /* chunk users */
    const uint64_t *tptr;     /* chunk user x: its test ratings tptr[x] .. tptr[x+1] */
    const uint32_t *titem;    /* model item id of each (UINT32_MAX: unknown) */
    double *num, *den;        /* per test rating */
    uint32_t k;
    float *ms, *mr;           /* scratch: a column's matches (similarity, residual) */
    hr_topk_entry *heap;      /* k entries */
    uint32_t *keep;           /* k entries */
} pred_ctx;

static int cmp_u32(const void *a, const void *b)
{
    const uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Every test rating whose item's column is in block b. */
static int pred_block(void *vctx, const hr_iiblock *b, const hr_iirows *t)
{
    pred_ctx *c = vctx;
    (void)t;
    if (b->dense) return 0;   /* itemknn models are sparse */
    for (uint32_t x = 0; x < c->nu; x++) {
        if (c->at[x] < 0) continue;
        const uint64_t q0 = c->q.ptr[c->at[x]], q1 = c->q.ptr[c->at[x] + 1];
        for (uint64_t e = c->tptr[x]; e < c->tptr[x + 1]; e++) {
            const uint32_t i = c->titem[e];
            if (i == UINT32_MAX || i < b->c0 || i >= b->c1) continue;
            /* column i (rows ascending) against the user's rated items (ascending) */
            const uint64_t p0 = b->ptr[i - b->c0], p1 = b->ptr[i - b->c0 + 1];
            uint64_t pa = p0, qa = q0;
            uint32_t nm = 0;
            while (pa < p1 && qa < q1) {
                const uint32_t rj = b->row[pa], qj = c->q.idx[qa];
                if (rj < qj) pa++;
                else if (qj < rj) qa++;
                else {
                    c->ms[nm] = b->val[pa++];
                    c->mr[nm++] = c->q.val[qa++];
                }
            }
            double num = 0, den = 0;
            if (c->k == 0 || nm <= c->k) {
                for (uint32_t y = 0; y < nm; y++) {
                    num += (double)c->ms[y] * c->mr[y];
                    den += c->ms[y];
                }
            } else {   /* the k largest similarities; a tie goes to the lower id (position) */
                hr_topk h;
                hr_topk_init(&h, c->heap, c->k);
                for (uint32_t y = 0; y < nm; y++) hr_topk_push(&h, c->ms[y], y);
                /* in position order, so the sums do not depend on the heap's layout */
                uint32_t *keep = c->keep;
                for (uint32_t y = 0; y < h.size; y++) keep[y] = c->heap[y].index;
                qsort(keep, h.size, sizeof *keep, cmp_u32);
                for (uint32_t y = 0; y < h.size; y++) {
                    num += (double)c->ms[keep[y]] * c->mr[keep[y]];
                    den += c->ms[keep[y]];
                }
            }
            c->num[e] = num;
            c->den[e] = den;
        }
    }
    return 0;
}

int ev_ii_rate(hr_job *job, const ev_data *d, const ev_scorer *s, ev_chunk *c, ev_result *out, double *ts, double *tc)
{
    const hr_model *m = s->m;
    const hr_block *tr = &d->tr->by_user, *te = d->te;
    const int center = ev_ii_center(m);
    const double mu = m->global_mean;
    hr_ring_rows qv;
    hr_ring_rows_init(&qv);
    uint64_t maxlen = 0, ntest = 0;
    for (uint32_t x = 0; x < c->n; x++) {
        const uint64_t r = c->rows[x];
        if (tr->ptr[r + 1] - tr->ptr[r] > maxlen) maxlen = tr->ptr[r + 1] - tr->ptr[r];
        ntest += te->ptr[r + 1] - te->ptr[r];
    }
    float *res = hr_malloc((maxlen + 1) * sizeof *res);
    int64_t *at = hr_malloc((c->n + 1) * sizeof *at);
    uint64_t *tptr = hr_malloc(((uint64_t)c->n + 1) * sizeof *tptr);
    uint32_t *titem = hr_malloc((ntest + 1) * sizeof *titem);
    double *num = hr_calloc(ntest + 1, sizeof *num), *den = hr_calloc(ntest + 1, sizeof *den);
    tptr[0] = 0;
    for (uint32_t x = 0; x < c->n; x++) {
        const uint64_t r = c->rows[x];
        const uint32_t urow = s->umap[te->gid[r]];
        const double bu = urow != UINT32_MAX && m->user_bias ? m->user_bias[urow] : 0.0;
        tptr[x + 1] = tptr[x] + (te->ptr[r + 1] - te->ptr[r]);
        for (uint64_t e = te->ptr[r]; e < te->ptr[r + 1]; e++) titem[tptr[x] + e - te->ptr[r]] = s->imap[te->idx[e]];
        at[x] = -1;
        c->user_sq[x] = 0;
        c->user_n[x] = 0;
        if (urow == UINT32_MAX) continue;
        const uint64_t len = tr->ptr[r + 1] - tr->ptr[r];
        for (uint64_t e = 0; e < len; e++) {
            const uint32_t mj = s->imap[tr->idx[tr->ptr[r] + e]];
            const double base = center == 0 || mj == UINT32_MAX ? 0.0 : mu + bu + (m->item_bias ? m->item_bias[mj] : 0.0);
            res[e] = (float)(tr->val[tr->ptr[r] + e] - base);
        }
        if (hr_ring_rows_add(&qv, tr->idx + tr->ptr[r], res, len, s->imap, HR_ROWS_VALUE) > 0) at[x] = (int64_t)qv.n - 1;
    }
    /* scratch for a column's matches: at most the longest stored column */
    uint64_t maxcol = m->ii_topm ? m->ii_topm : m->n_items;
    pred_ctx pc = { hr_ring_rows_query(&qv), at, c->n, tptr, titem, num, den, predict_k(m),
                    hr_malloc((maxcol + 1) * sizeof(float)), hr_malloc((maxcol + 1) * sizeof(float)), NULL, NULL };
    pc.heap = hr_malloc(((uint64_t)pc.k + 1) * sizeof *pc.heap);
    pc.keep = hr_malloc(((uint64_t)pc.k + 1) * sizeof *pc.keep);
    int rc = hr_ring_ii_visit(job, m, pred_block, &pc, ts, tc);
    for (uint32_t x = 0; rc == 0 && x < c->n; x++) {
        const uint64_t r = c->rows[x];
        const uint32_t urow = s->umap[te->gid[r]];
        const double bu = urow != UINT32_MAX && m->user_bias ? m->user_bias[urow] : 0.0;
        for (uint64_t e = te->ptr[r]; e < te->ptr[r + 1]; e++) {
            const uint64_t t = tptr[x] + e - te->ptr[r];
            const uint32_t mi = titem[t];
            if (mi == UINT32_MAX) continue;   /* items the model does not know: counted by the caller */
            const double bi = m->item_bias ? m->item_bias[mi] : 0.0;
            double base = center == 0 ? 0.0 : mu + (urow != UINT32_MAX ? bu : 0.0) + bi, p;
            if (den[t] > 0) {
                p = base + num[t] / den[t];
            } else {
                p = center == 0 ? mu : base;
                out->pred_fallback++;
            }
            p = p < d->vmin ? d->vmin : p > d->vmax ? d->vmax : p;
            hr_metrics_add_rating(&out->rating, p, te->val[e]);
            c->user_sq[x] += (p - te->val[e]) * (p - te->val[e]);
            c->user_n[x]++;
        }
    }
    hr_free(pc.ms);
    hr_free(pc.mr);
    hr_free(pc.heap);
    hr_free(pc.keep);
    hr_free(res);
    hr_free(at);
    hr_free(tptr);
    hr_free(titem);
    hr_free(num);
    hr_free(den);
    hr_ring_rows_free(&qv);
    return rc;
}
