/* jobs/evaluate_run.c — one scorer over every local test user of `hpcrec evaluate`.
 *
 * Per batch of BATCH users a factor model is scored by one SGEMM against its catalogue (users it
 * does not know but a fold-in model can project: x_u V first); an item-item model scores chunks
 * of users from their training rows while B's column blocks travel round the ring
 * (jobs/ringrows.h: every rank runs the same number of chunks); other scorers fill one row per
 * user.  Per user: the candidates are the catalogue (items with
 * training interactions) minus the user's training items, held in a byte mask that is set for
 * the user's items and cleared again afterwards, so no per-user allocation or copy of the
 * catalogue is needed.  The top max(K) of the candidates feed the list metrics; the true rank
 * of the best relevant item over ALL candidates (one pass over the row) gives the untruncated
 * MRR.  All accumulators are sums, reduced once at the end. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/rng.h"
#include "jobs/evaluate.h"
#include "jobs/ringrows.h"
#include "solvers/score.h"
#include "solvers/topk.h"

#define BATCH 64
#define ROWS_CHUNK_BYTES ((uint64_t)256 << 20)   /* item-item: score rows held per chunk */

const char *const ev_seg_names[EV_NSEG] = {
    [EV_SEG_ALL] = "", [EV_SEG_LIGHT] = "light", [EV_SEG_MEDIUM] = "medium",
    [EV_SEG_HEAVY] = "heavy", [EV_SEG_HEAD] = "head", [EV_SEG_TAIL] = "tail",
};

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* The random baseline's row for one user: a pure function of (seed, train user gid, item), so
 * the same on any rank count.  24 bits are exactly representable in a float; the rare ties
 * are broken by item index like every other score. */
static void random_row(uint64_t seed, uint32_t gid, uint32_t n, float *row)
{
    hr_rng g = hr_rng_stream(seed, HR_STREAM_EVAL, gid);
    for (uint32_t i = 0; i < n; i++) row[i] = (float)(hr_rng_u64(&g) >> 40) * 0x1.0p-24f;
}

/* Per-run scratch, allocated once: nothing is allocated per user. */
typedef struct {
    hr_topk_entry *heap;
    uint32_t *ranked, *rel, *relh, *relt;
    uint8_t *mask;
    double *work, uv[HR_RANK_NSUM];
    float *row;
} ev_scratch;

/* Evaluate local row r (train gid gid) against the score row srow (train item order). */
static void eval_user(const ev_data *d, const ev_scorer *s, ev_result *out, ev_scratch *w, uint64_t r,
                      const float *srow)
{
    const hr_block *tr = &d->tr->by_user, *te = d->te;
    const uint32_t n = d->n_items, nc = d->ncut, kmax = d->cut[nc - 1];
    const uint32_t gid = (uint32_t)te->gid[r];
    for (uint64_t e = tr->ptr[r]; e < tr->ptr[r + 1]; e++) w->mask[tr->idx[e]] = 1;
    /* relevant = the user's distinct test items (a test item the user also has in train, or
     * one without training interactions, stays relevant and can never be hit) */
    uint32_t nr = 0;
    for (uint64_t e = te->ptr[r]; e < te->ptr[r + 1]; e++) w->rel[nr++] = te->idx[e];
    qsort(w->rel, nr, sizeof *w->rel, cmp_u32);
    uint32_t u = 0;
    for (uint32_t t = 0; t < nr; t++)
        if (u == 0 || w->rel[t] != w->rel[u - 1]) w->rel[u++] = w->rel[t];
    nr = u;
    uint32_t nh = 0, nt = 0;
    for (uint32_t t = 0; t < nr; t++) {
        if (d->is_head[w->rel[t]]) w->relh[nh++] = w->rel[t];
        else w->relt[nt++] = w->rel[t];
    }

    hr_topk h;
    hr_topk_init(&h, w->heap, kmax);
    hr_topk_push_row_masked(&h, srow, 0, n, w->mask);
    const uint32_t len = hr_topk_sorted(&h, w->ranked, NULL);
    /* The best relevant item overall is the better of the best head and best tail ones, so
     * one call ranks both segments and the whole set. */
    uint32_t best[2] = { hr_metrics_best_candidate(srow, n, w->mask, w->relh, nh),
                         hr_metrics_best_candidate(srow, n, w->mask, w->relt, nt) };
    uint64_t rk[2];
    hr_metrics_candidate_ranks(srow, n, w->mask, best, 2, rk);
    const uint64_t rk_all = !rk[0] ? rk[1] : !rk[1] ? rk[0] : rk[0] < rk[1] ? rk[0] : rk[1];
    const int seg = EV_SEG_LIGHT + hr_metrics_activity_segment(d->tr->users.nnz[gid], d->act_cuts);

    hr_metrics_add_user_ranked(&out->rank[EV_SEG_ALL], w->ranked, len, w->rel, nr, rk_all, w->uv);
    hr_metrics_add_user_ranked(&out->rank[seg], w->ranked, len, w->rel, nr, rk_all, NULL);
    hr_metrics_add_user_ranked(&out->rank[EV_SEG_HEAD], w->ranked, len, w->relh, nh, rk[0], NULL);
    hr_metrics_add_user_ranked(&out->rank[EV_SEG_TAIL], w->ranked, len, w->relt, nt, rk[1], NULL);

    const hr_item_stats st = { n, d->n_users, d->pop, d->is_head, s->ild, s->ild_k };
    const hr_item_stats st_seg = { n, d->n_users, d->pop, d->is_head, NULL, 0 };
    const size_t plane = (size_t)nc * n;
    hr_metrics_add_beyond(&out->beyond[EV_SEG_ALL], &st, w->ranked, len, out->exposure, w->work);
    hr_metrics_add_beyond(&out->beyond[seg], &st_seg, w->ranked, len, out->exposure + (size_t)seg * plane, NULL);

    double user_sq = 0;
    uint64_t user_n = 0;
    if (s->rating) {
        const hr_model *m = s->m;
        const uint32_t mu = s->umap[gid];
        for (uint64_t e = te->ptr[r]; e < te->ptr[r + 1]; e++) {
            const uint32_t mi = s->imap[te->idx[e]];
            float p;
            if (mu == UINT32_MAX || mi == UINT32_MAX) {
                p = m->global_mean + (mu != UINT32_MAX && m->user_bias ? m->user_bias[mu] : 0.0f) +
                    (mi != UINT32_MAX && m->item_bias ? m->item_bias[mi] : 0.0f);
                out->pred_fallback++;
            } else {
                p = hr_score_predict(m->user_factors + (uint64_t)mu * (uint64_t)m->k,
                                     m->item_factors + (uint64_t)mi * (uint64_t)m->k, m->k, m->global_mean,
                                     m->user_bias ? &m->user_bias[mu] : NULL, m->item_bias ? &m->item_bias[mi] : NULL);
            }
            p = p < d->vmin ? d->vmin : p > d->vmax ? d->vmax : p;
            hr_metrics_add_rating(&out->rating, p, te->val[e]);
            user_sq += ((double)p - te->val[e]) * ((double)p - te->val[e]);
            user_n++;
        }
    }
    if (s->keep_users) {
        double *v = out->uval + out->n_uval * EV_UV_N(nc);
        for (uint32_t c = 0; c < nc; c++) {
            v[EV_UV_AT(c, EV_UV_PRECISION)] = w->uv[HR_RANK_AT(c, HR_RANK_PRECISION)];
            v[EV_UV_AT(c, EV_UV_RECALL)] = w->uv[HR_RANK_AT(c, HR_RANK_RECALL)];
            v[EV_UV_AT(c, EV_UV_NDCG)] = w->uv[HR_RANK_AT(c, HR_RANK_NDCG)];
            v[EV_UV_AT(c, EV_UV_MAP)] = w->uv[HR_RANK_AT(c, HR_RANK_MAP)];
        }
        v[EV_UV_MRR(nc)] = w->uv[HR_RANK_MRR_FULL];
        v[EV_UV_RMSE(nc)] = user_n ? sqrt(user_sq / (double)user_n) : 0.0;
        out->ugid[out->n_uval++] = gid;
    }
    /* Training items are never cold (they have an interaction), so clearing restores the
     * catalogue mask exactly. */
    for (uint64_t e = tr->ptr[r]; e < tr->ptr[r + 1]; e++) w->mask[tr->idx[e]] = 0;
}

/* Score row srow (model item order) in train item order (w->row when the orders differ). */
static const float *train_order(const ev_scorer *s, const ev_data *d, const float *mrow, ev_scratch *w)
{
    if (s->ident) return mrow;
    for (uint32_t i = 0; i < d->n_items; i++) w->row[i] = s->imap[i] != UINT32_MAX ? mrow[s->imap[i]] : NAN;
    return w->row;
}

/* An item-item model: users with a training row the model can read are scored in chunks of
 * rows, B travelling round the ring once per chunk; the rest fall back to popularity. */
static int run_itemitem(hr_job *job, const ev_data *d, const ev_scorer *s, ev_result *out, ev_scratch *w)
{
    const hr_block *te = d->te, *tr = &d->tr->by_user;
    const hr_model *m = s->m;
    hr_ring_rows qr;
    hr_ring_rows_init(&qr);
    uint64_t *qrows = hr_malloc((te->nrows + 1) * sizeof *qrows), nq = 0;
    for (uint64_t r = 0; r < te->nrows; r++) {
        if (te->ptr[r + 1] == te->ptr[r]) continue;
        const uint64_t len = tr->ptr[r + 1] - tr->ptr[r];
        if (len && hr_ring_rows_add(&qr, tr->idx + tr->ptr[r], tr->val + tr->ptr[r], len, s->imap, m->row_weight) > 0) {
            qrows[nq++] = r;
        } else {
            out->fallback++;
            eval_user(d, s, out, w, r, d->popf);
        }
    }
    const uint64_t nm = m->n_items ? m->n_items : 1, chunk = ROWS_CHUNK_BYTES / 4 / nm ? ROWS_CHUNK_BYTES / 4 / nm : 1;
    uint64_t nchunks = (nq + chunk - 1) / chunk;
    int rc = hr_comm_allreduce_max_u64(job->comm, &nchunks, 1);
    float *S = rc == 0 ? hr_malloc_huge((nq < chunk ? nq : chunk) * nm * sizeof *S + 1) : NULL;
    hr_iiquery q = hr_ring_rows_query(&qr);
    double ts = 0, tc = 0;
    for (uint64_t c = 0; rc == 0 && c < nchunks; c++) {
        uint64_t q0 = c * chunk < nq ? c * chunk : nq, q1 = q0 + chunk < nq ? q0 + chunk : nq;
        rc = hr_ring_rows_ii(job, m, &q, q0, q1 - q0, S, &ts, &tc);
        for (uint64_t x = q0; rc == 0 && x < q1; x++) eval_user(d, s, out, w, qrows[x], train_order(s, d, S + (x - q0) * nm, w));
    }
    hr_free(S);
    hr_free(qrows);
    hr_ring_rows_free(&qr);
    return rc;
}

/* Fold-in: U row = x_u V from the whole item factors (the user's training row, model ids). */
static int fold_in_row(const ev_scorer *s, const hr_block *tr, uint64_t r, float *u)
{
    const hr_model *m = s->m;
    const int k = m->k;
    double acc[HR_MODEL_MAX_K > 4096 ? 4096 : HR_MODEL_MAX_K];
    if (k > (int)(sizeof acc / sizeof acc[0])) return 0;
    int any = 0;
    memset(acc, 0, (size_t)k * sizeof *acc);
    for (uint64_t e = tr->ptr[r]; e < tr->ptr[r + 1]; e++) {
        const uint32_t i = s->imap[tr->idx[e]];
        if (i == UINT32_MAX) continue;
        const double v = m->row_weight == HR_ROWS_VALUE ? (double)tr->val[e] : 1.0;
        const float *y = m->item_factors + (uint64_t)i * (uint64_t)k;
        for (int f = 0; f < k; f++) acc[f] += v * y[f];
        any = 1;
    }
    for (int f = 0; f < k; f++) u[f] = (float)acc[f];
    return any;
}

static int reduce(hr_job *job, const ev_data *d, ev_result *out)
{
    for (int g = 0; g < EV_NSEG; g++) {
        HR_TRY(hr_comm_allreduce_sum_f64(job->comm, out->rank[g].sum, HR_RANK_NSUM));
        HR_TRY(hr_comm_allreduce_sum_u64(job->comm, out->rank[g].count, HR_RANK_NCOUNT));
    }
    for (int g = 0; g < EV_NEXPO; g++) {
        HR_TRY(hr_comm_allreduce_sum_f64(job->comm, out->beyond[g].sum, HR_METRICS_MAX_CUTOFFS * HR_BEYOND_NSUM));
        HR_TRY(hr_comm_allreduce_sum_u64(job->comm, out->beyond[g].count, HR_METRICS_MAX_CUTOFFS * HR_BEYOND_NCOUNT));
    }
    HR_TRY(hr_comm_allreduce_sum_f64(job->comm, out->rating.sum, HR_RATING_NSUM));
    HR_TRY(hr_comm_allreduce_sum_u64(job->comm, &out->rating.count, 1));
    HR_TRY(hr_comm_allreduce_sum_u64(job->comm, out->exposure, (size_t)EV_NEXPO * d->ncut * d->n_items));
    uint64_t fb[2] = { out->fallback, out->pred_fallback };
    HR_TRY(hr_comm_allreduce_sum_u64(job->comm, fb, 2));
    out->fallback = fb[0];
    out->pred_fallback = fb[1];
    return 0;
}

int ev_run(hr_job *job, const ev_data *d, const ev_scorer *s, ev_result *out)
{
    memset(out, 0, sizeof *out);
    const uint32_t n = d->n_items, nc = d->ncut, kmax = d->cut[nc - 1];
    for (int g = 0; g < EV_NSEG; g++) HR_TRY(hr_metrics_init_rank(&out->rank[g], d->cut, nc, &job->err));
    for (int g = 0; g < EV_NEXPO; g++) HR_TRY(hr_metrics_init_beyond(&out->beyond[g], d->cut, nc, &job->err));
    hr_metrics_init_rating(&out->rating);
    out->exposure = hr_calloc((size_t)EV_NEXPO * nc * (n ? n : 1), sizeof *out->exposure);
    if (s->keep_users) {
        out->uval = hr_malloc((d->n_eval_local ? d->n_eval_local : 1) * EV_UV_N(nc) * sizeof *out->uval);
        out->ugid = hr_malloc((d->n_eval_local ? d->n_eval_local : 1) * sizeof *out->ugid);
    }

    const hr_model *m = s->m;
    const int factor = s->kind == EV_MODEL && m->kind == HR_MODEL_FACTOR;
    const uint64_t nm = factor ? m->n_items : 0;
    const int k = factor ? m->k : 0;
    const hr_scorer sc = { HR_SCORER_FACTOR, k, nm, factor ? m->item_factors : NULL, 0, factor ? m->item_bias : NULL, NULL };
    const size_t maxrel = d->max_test_row ? d->max_test_row : 1;
    ev_scratch w;
    w.heap = hr_malloc(((size_t)kmax + 1) * sizeof *w.heap);
    w.ranked = hr_malloc(((size_t)kmax + 1) * sizeof *w.ranked);
    w.rel = hr_malloc(maxrel * sizeof *w.rel);
    w.relh = hr_malloc(maxrel * sizeof *w.relh);
    w.relt = hr_malloc(maxrel * sizeof *w.relt);
    w.mask = hr_malloc(n ? n : 1);
    memcpy(w.mask, d->cold, n);
    w.work = hr_malloc(((size_t)s->ild_k + 1) * sizeof *w.work);
    w.row = hr_malloc((n ? n : 1) * sizeof *w.row);
    float *U = factor ? hr_malloc((size_t)BATCH * (size_t)k * sizeof *U) : NULL;
    float *S = factor ? hr_malloc((size_t)BATCH * (nm ? nm : 1) * sizeof *S) : NULL;

    const hr_block *te = d->te;
    uint64_t rows[BATCH];
    uint8_t fb[BATCH];
    int rc = 0;
    if (s->kind == EV_MODEL && m->kind == HR_MODEL_ITEMITEM) rc = run_itemitem(job, d, s, out, &w);
    for (uint64_t r0 = 0; !(s->kind == EV_MODEL && m->kind == HR_MODEL_ITEMITEM) && r0 < te->nrows; r0 += BATCH) {
        uint32_t nb = 0;
        for (uint64_t r = r0; r < te->nrows && r < r0 + BATCH; r++) {
            if (te->ptr[r + 1] == te->ptr[r]) continue;
            const uint32_t gid = (uint32_t)te->gid[r];
            if (factor) {
                const uint32_t mu = s->umap[gid];
                /* A user without training interactions (time split) or unknown to the model has
                 * no meaningful factors: rank by popularity, as recommend does. */
                fb[nb] = mu == UINT32_MAX || d->tr->users.nnz[gid] == 0;
                if (mu == UINT32_MAX && m->fold_in && d->tr->users.nnz[gid] > 0)   /* PureSVD: x_u V */
                    fb[nb] = !fold_in_row(s, &d->tr->by_user, r, U + (size_t)nb * k);
                else if (fb[nb]) memset(U + (size_t)nb * k, 0, (size_t)k * sizeof *U);
                else memcpy(U + (size_t)nb * k, m->user_factors + (uint64_t)mu * (uint64_t)k, (size_t)k * sizeof *U);
            }
            rows[nb++] = r;
        }
        if (nb == 0) continue;
        if (factor) hr_score_users(&sc, U, nb, S);
        for (uint32_t b = 0; b < nb; b++) {
            const uint64_t r = rows[b];
            const float *srow;
            if (s->kind == EV_POP) {
                srow = d->popf;
            } else if (s->kind == EV_RANDOM) {
                random_row(d->seed, (uint32_t)te->gid[r], n, w.row);
                srow = w.row;
            } else if (!factor) {
                srow = s->pop_row;
            } else if (fb[b]) {
                srow = d->popf;
                out->fallback++;
            } else {
                srow = train_order(s, d, S + (uint64_t)b * nm, &w);
            }
            eval_user(d, s, out, &w, r, srow);
        }
    }
    hr_free(U);
    hr_free(S);
    hr_free(w.heap);
    hr_free(w.ranked);
    hr_free(w.rel);
    hr_free(w.relh);
    hr_free(w.relt);
    hr_free(w.mask);
    hr_free(w.work);
    hr_free(w.row);
    HR_TRY(hr_comm_agree(job->comm, rc, &job->err));
    return reduce(job, d, out);
}

void ev_result_free(ev_result *r)
{
    hr_free(r->exposure);
    hr_free(r->uval);
    hr_free(r->ugid);
    memset(r, 0, sizeof *r);
}
