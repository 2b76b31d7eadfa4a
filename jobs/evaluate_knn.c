/* jobs/evaluate_knn.c — rating predictions of an item-item model that carries rating
 * baselines (train --algo itemknn, explicit feedback), for evaluate's rmse / mae.
 *
 * Surprise's item-based prediction of user u's rating of item i:
 *     r^_ui = base_ui + sum_{j in N(i), u rated j} s_ij (r_uj - base_uj) / sum_{same j} s_ij
 * where N(i) is i's stored neighbour list (column i of B, positive similarities only) and
 * base_ui = mu + b_u + b_i (--knn-center baseline), mu + b_i (mean), or 0 (none: then the raw
 * ratings and, without neighbours, mu).  Both sums are scores of the item-item scorer: the
 * numerator x_u . B with x_u the user's residuals, the denominator with x_u = 1 on the rated
 * items, so they come from two trips of B's column blocks round the ring (jobs/ringrows.h);
 * no rank holds B.  A rating with no rated neighbour (denominator 0), or of a user the model
 * does not know, is the baseline alone: counted in pred_fallback (evaluate's
 * `predictions_fallback`).  Predictions are clipped to the training value range. */
#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "jobs/evaluate.h"
#include "jobs/ringrows.h"

int ev_ii_center(const hr_model *m)
{
    json_t *p = json_object_get(m->manifest, "params");
    const char *c = json_string_value(json_object_get(p, "knn_center"));
    return c && !strcmp(c, "none") ? 0 : c && !strcmp(c, "mean") ? 1 : 2;
}

int ev_ii_rate(hr_job *job, const ev_data *d, const ev_scorer *s, ev_chunk *c, ev_result *out, double *ts, double *tc)
{
    const hr_model *m = s->m;
    const hr_block *tr = &d->tr->by_user, *te = d->te;
    const uint64_t nm = m->n_items ? m->n_items : 1;
    const int center = ev_ii_center(m);
    const double mu = m->global_mean;
    hr_ring_rows qv, q1;
    hr_ring_rows_init(&qv);
    hr_ring_rows_init(&q1);
    uint64_t maxlen = 0;
    for (uint32_t x = 0; x < c->n; x++) {
        const uint64_t r = c->rows[x];
        if (tr->ptr[r + 1] - tr->ptr[r] > maxlen) maxlen = tr->ptr[r + 1] - tr->ptr[r];
    }
    float *res = hr_malloc((maxlen + 1) * sizeof *res);
    int64_t *at = hr_malloc((c->n + 1) * sizeof *at);
    for (uint32_t x = 0; x < c->n; x++) {
        const uint64_t r = c->rows[x];
        const uint32_t urow = s->umap[te->gid[r]];
        const double bu = urow != UINT32_MAX && m->user_bias ? m->user_bias[urow] : 0.0;
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
        if (hr_ring_rows_add(&qv, tr->idx + tr->ptr[r], res, len, s->imap, HR_ROWS_VALUE) > 0) {
            hr_ring_rows_add(&q1, tr->idx + tr->ptr[r], res, len, s->imap, HR_ROWS_BINARY);
            at[x] = (int64_t)qv.n - 1;
        }
    }
    float *S1 = hr_malloc((qv.n * nm + 1) * sizeof *S1), *S2 = hr_malloc((qv.n * nm + 1) * sizeof *S2);
    hr_iiquery a = hr_ring_rows_query(&qv), b = hr_ring_rows_query(&q1);
    double t1 = 0, t2 = 0;
    int rc = hr_ring_rows_ii(job, m, &a, 0, qv.n, S1, ts, tc);
    if (rc == 0) rc = hr_ring_rows_ii(job, m, &b, 0, q1.n, S2, &t1, &t2);
    *ts += t1;
    *tc += t2;
    for (uint32_t x = 0; rc == 0 && x < c->n; x++) {
        const uint64_t r = c->rows[x];
        const uint32_t urow = s->umap[te->gid[r]];
        const double bu = urow != UINT32_MAX && m->user_bias ? m->user_bias[urow] : 0.0;
        for (uint64_t e = te->ptr[r]; e < te->ptr[r + 1]; e++) {
            const uint32_t mi = s->imap[te->idx[e]];
            if (mi == UINT32_MAX) continue;   /* items the model does not know: counted by the caller */
            const double bi = m->item_bias ? m->item_bias[mi] : 0.0;
            double base = center == 0 ? 0.0 : mu + (urow != UINT32_MAX ? bu : 0.0) + bi, p;
            const double num = at[x] >= 0 ? S1[(uint64_t)at[x] * nm + mi] : 0.0, den = at[x] >= 0 ? S2[(uint64_t)at[x] * nm + mi] : 0.0;
            if (den > 0) {
                p = base + num / den;
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
    hr_free(S1);
    hr_free(S2);
    hr_free(res);
    hr_free(at);
    hr_ring_rows_free(&qv);
    hr_ring_rows_free(&q1);
    return rc;
}
