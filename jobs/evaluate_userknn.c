/* jobs/evaluate_userknn.c — scores and rating predictions of a user-user model (train --algo
 * userknn) for evaluate, from the neighbours' training interactions.
 *
 * The neighbour lists of a rank's users come from the bundle (hr_model_load_part loads the
 * user_user blocks of the rank's users); the neighbours' interactions are evaluate's --train
 * dataset: every rank's training rows (mapped to model ids, with each user's b_u) travel round
 * the ring of ranks (the message of solvers/knn_user.h), so no rank ever holds more than its
 * own rows and one visiting block.  Per chunk of users:
 *   top-N   score(u, j) = sum over neighbours v of sim(u, v) x_vj (x: 1 for implicit models, the
 *           value for explicit ones), summed in fixed point (solvers/knn.h) so the scores are
 *           the same bits whatever block brings v, on any rank count;
 *   ratings Surprise's user-based rule: among u's neighbours who rated i, the k most similar
 *           (params.predict_neighbors, train --predict-neighbors, Surprise's 40; 0: all; 40 for
 *           bundles that predate it; ties to the lower user id), base_ui + sum sim (r_vi - base_vi) / sum sim,
 *           base = mu + b_u + b_i (--knn-center baseline), mu + b_i (mean) or 0 (none: raw
 *           ratings, mu as the fallback).  No such neighbour: the baseline alone, counted in
 *           predictions_fallback.  Clipped to the training value range.
 * A user the model does not know, or with no neighbours, is ranked by popularity (evaluate's
 * `fallback_users`), as for every other model. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/timer.h"
#include "jobs/evaluate_parts.h"
#include "jobs/userknn_ring.h"

/* The model's k of a prediction: params.predict_neighbors (0: every neighbour who rated the
 * item); 40, Surprise's k, for a bundle written before train stored it. */
static uint64_t predict_k(const hr_model *m)
{
    json_t *v = json_object_get(json_object_get(m->manifest, "params"), "predict_neighbors");
    if (!json_is_integer(v)) return 40;
    return json_integer_value(v) > 0 ? (uint64_t)json_integer_value(v) : UINT64_MAX;
}

typedef struct uu_ctx {
    const ev_data *d;
    const ev_scorer *s;
    const ev_chunk *c;
    const uint32_t *mg;
    const uint8_t *has;
    int64_t *Z;
    float *res;
    const uint64_t *roff;
    uint64_t nm;
    int binary, center;
    double mu;
} uu_ctx;

/* One visiting block: its users who are neighbours of the chunk's users add their rows. */
static void visit(void *ctx, const hr_uknn_rows *v)
{
    const uu_ctx *k = ctx;
    const hr_model *m = k->s->m;
    const hr_block *te = k->d->te;
    for (uint32_t x = 0; x < k->c->n; x++) {
        if (!k->has[x]) continue;
        const uint64_t r = k->c->rows[x];
        const uint32_t *nr;
        const float *nv;
        const uint64_t L = hr_uu_neighbours(m, k->mg[x], &nr, &nv);
        int64_t *z = k->Z + (uint64_t)x * k->nm;
        for (uint64_t p = 0; p < L; p++) {
            const int64_t rv = hr_uu_find(v->gid, v->nrows, nr[p]);
            if (rv < 0) continue;
            const uint64_t a = v->ptr[rv], b = v->ptr[rv + 1];
            for (uint64_t e = a; e < b; e++) z[v->items[e]] += hr_knn_fix((double)nv[p] * (k->binary ? 1.0 : (double)v->vals[e]));
            if (!k->s->rating) continue;
            const double bv = v->norm[rv];
            for (uint64_t t = te->ptr[r]; t < te->ptr[r + 1]; t++) {
                const uint32_t mi = k->s->imap[te->idx[t]];
                if (mi == UINT32_MAX) continue;
                const int64_t f = hr_uu_find(v->items + a, b - a, mi);
                if (f < 0) continue;
                const double base = k->center == 0 ? 0.0 : k->mu + bv + (m->item_bias ? m->item_bias[mi] : 0.0);
                k->res[k->roff[x] + (t - te->ptr[r]) * L + p] = (float)(v->vals[a + (uint64_t)f] - base);
            }
        }
    }
}

typedef struct { float sim; uint32_t id, pos; } uu_nb;

static int cmp_nb(const void *p, const void *q)
{
    const uu_nb *a = p, *b = q;
    if (a->sim != b->sim) return a->sim > b->sim ? -1 : 1;
    return (a->id > b->id) - (a->id < b->id);
}

int ev_uu_score(hr_job *job, const ev_data *d, const ev_scorer *s, ev_chunk *c, float *S, uint8_t *has, ev_result *out,
                double *ts, double *tc)
{
    const hr_model *m = s->m;
    const uint64_t kpred = predict_k(m);
    const hr_block *te = d->te;
    const uint64_t nm = m->n_items ? m->n_items : 1;
    const int binary = m->row_weight == HR_ROWS_BINARY, center = ev_ii_center(m);
    const double mu = m->global_mean;
    int rc = 0;
    /* the chunk's users: model gid, neighbour list, residual slots (ratings) */
    uint32_t *mg = hr_malloc((c->n + 1) * sizeof *mg);
    uint64_t *roff = hr_calloc(c->n + 1, sizeof *roff);
    for (uint32_t x = 0; x < c->n; x++) {
        const uint32_t urow = s->umap[te->gid[c->rows[x]]];
        mg[x] = urow == UINT32_MAX ? UINT32_MAX : m->user_ids ? (uint32_t)m->user_ids[urow] : urow;
        const uint32_t *nr;
        const float *nv;
        const uint64_t L = mg[x] == UINT32_MAX ? 0 : hr_uu_neighbours(m, mg[x], &nr, &nv);
        has[x] = L > 0;
        roff[x + 1] = roff[x] + (s->rating ? L * (te->ptr[c->rows[x] + 1] - te->ptr[c->rows[x]]) : 0);
    }
    int64_t *Z = hr_calloc((uint64_t)c->n * nm + 1, sizeof *Z);
    float *res = hr_malloc((roff[c->n] + 1) * sizeof *res);
    for (uint64_t q = 0; q < roff[c->n]; q++) res[q] = NAN;
    /* the training rows, model ids, b_u in the norm slot */
    const hr_block *tr = &d->tr->by_user;
    const uint64_t ntu = d->tr->users.n;
    uint32_t *umodel = hr_malloc((ntu + 1) * sizeof *umodel);
    float *ubias = hr_calloc(ntu + 1, sizeof *ubias);
    for (uint64_t g = 0; g < ntu; g++) umodel[g] = UINT32_MAX;
    for (uint64_t r = 0; r < tr->nrows; r++) {
        const uint32_t urow = s->umap[tr->gid[r]];
        if (urow == UINT32_MAX) continue;
        umodel[tr->gid[r]] = m->user_ids ? (uint32_t)m->user_ids[urow] : urow;
        ubias[tr->gid[r]] = m->user_bias ? m->user_bias[urow] : 0.0f;
    }
    void *msg;
    uint64_t mlen;
    const double t0 = hr_now();
    hr_uu_pack(tr, umodel, ubias, s->imap, &msg, &mlen);
    hr_free(umodel);
    hr_free(ubias);
    uu_ctx cx = { d, s, c, mg, has, Z, res, roff, nm, binary, center, mu };
    rc = hr_uu_ring(job, msg, mlen, visit, &cx, tc);
    for (uint64_t q = 0; rc == 0 && q < (uint64_t)c->n * nm; q++) S[q] = (float)hr_knn_unfix(Z[q]);
    /* ratings */
    uu_nb *nb = NULL;
    uint64_t nbcap = 0;
    for (uint32_t x = 0; rc == 0 && s->rating && x < c->n; x++) {
        const uint64_t r = c->rows[x];
        const uint32_t urow = s->umap[te->gid[r]];
        const double bu = urow != UINT32_MAX && m->user_bias ? m->user_bias[urow] : 0.0;
        const uint32_t *nr = NULL;
        const float *nv = NULL;
        const uint64_t L = has[x] ? hr_uu_neighbours(m, mg[x], &nr, &nv) : 0;
        if (L > nbcap) {
            hr_free(nb);
            nbcap = L;
            nb = hr_malloc(nbcap * sizeof *nb);
        }
        for (uint64_t p = 0; p < L; p++) nb[p] = (uu_nb){ nv[p], nr[p], (uint32_t)p };
        if (L) qsort(nb, L, sizeof *nb, cmp_nb);
        c->user_sq[x] = 0;
        c->user_n[x] = 0;
        for (uint64_t t = te->ptr[r]; t < te->ptr[r + 1]; t++) {
            const uint32_t mi = s->imap[te->idx[t]];
            if (mi == UINT32_MAX) continue;   /* items the model does not know: counted by the caller */
            const double bi = m->item_bias ? m->item_bias[mi] : 0.0;
            const double base = center == 0 ? 0.0 : mu + bu + bi;
            double num = 0, den = 0, p;
            const float *rr = res + roff[x] + (t - te->ptr[r]) * L;
            for (uint64_t q = 0, k = 0; q < L && k < kpred; q++) {
                const float e = rr[nb[q].pos];
                if (isnan(e)) continue;
                num += (double)nb[q].sim * e;
                den += nb[q].sim;
                k++;
            }
            if (den > 0) {
                p = base + num / den;
            } else {
                p = center == 0 ? mu : base;
                out->pred_fallback++;
            }
            p = p < d->vmin ? d->vmin : p > d->vmax ? d->vmax : p;
            hr_metrics_add_rating(&out->rating, p, te->val[t]);
            c->user_sq[x] += (p - te->val[t]) * (p - te->val[t]);
            c->user_n[x]++;
        }
    }
    *ts += hr_now() - t0;
    hr_free(nb);
    hr_free(mg);
    hr_free(roff);
    hr_free(Z);
    hr_free(res);
    return rc;
}
