/* jobs/evaluate_run.c — one scorer over every local test user of `hpcrec evaluate`.
 *
 * Users go in chunks of bounded working memory.  A factor model ranks a chunk against its item
 * blocks as they travel round the ring (evaluate_ring.c: top-K and the rank of the best
 * relevant item, no rank holding the item matrix); users it does not know but a fold-in model
 * can project get x_u V first (jobs/ringrows.h, the item blocks round the ring once per chunk).
 * An item-item model scores a chunk's users from their training rows into whole score rows
 * while B's column blocks travel round the ring (jobs/ringrows.h; chunks small enough for
 * those rows).  Other scorers (popularity, random, pop models, and users a model cannot score)
 * fill one row per user.  ild@K takes the
 * factor rows of each user's top-K items from the ranks holding them (one fetch per chunk).
 * On the row path the candidates are the catalogue (items with training interactions) minus
 * the user's training items, held in a byte mask that is set for the user's items and cleared
 * again afterwards, so no per-user allocation or copy of the catalogue is needed.  The top
 * max(K) of the candidates feed the list metrics; the true rank of the best relevant item over
 * ALL candidates gives the untruncated MRR.  All accumulators are sums, reduced once at the
 * end. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/rng.h"
#include "jobs/evaluate_parts.h"
#include "jobs/foldin.h"
#include "jobs/ringrows.h"
#include "solvers/topk.h"

#define ROWS_CHUNK_BYTES ((uint64_t)256 << 20)   /* item-item: whole score rows held per chunk */

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
    uint32_t *rel, *relh, *relt;
    uint8_t *mask;
    double *work, uv[HR_RANK_NSUM];
    float *row;
    float *lrows;   /* ild@K: one user's listed items' factor rows, in list order */
} ev_scratch;

/* The user's distinct test items, and those split into head and tail items. */
static uint32_t relevant(const ev_data *d, ev_scratch *w, uint64_t r, uint32_t *nh, uint32_t *nt)
{
    const hr_block *te = d->te;
    uint32_t nr = 0;
    for (uint64_t e = te->ptr[r]; e < te->ptr[r + 1]; e++) w->rel[nr++] = te->idx[e];
    qsort(w->rel, nr, sizeof *w->rel, cmp_u32);
    uint32_t u = 0;
    for (uint32_t t = 0; t < nr; t++)
        if (u == 0 || w->rel[t] != w->rel[u - 1]) w->rel[u++] = w->rel[t];
    nr = u;
    *nh = *nt = 0;
    for (uint32_t t = 0; t < nr; t++) {
        if (d->is_head[w->rel[t]]) w->relh[(*nh)++] = w->rel[t];
        else w->relt[(*nt)++] = w->rel[t];
    }
    return nr;
}

/* Rank local row r from a whole score row srow (train item order): the top-K into
 * ranked[0..*len), the ranks of the best head and tail relevant items into rk. */
static void rank_row(const ev_data *d, ev_scratch *w, uint64_t r, const float *srow, uint32_t *ranked, uint32_t *len,
                     uint64_t rk[2])
{
    const hr_block *tr = &d->tr->by_user;
    const uint32_t n = d->n_items, kmax = d->cut[d->ncut - 1];
    for (uint64_t e = tr->ptr[r]; e < tr->ptr[r + 1]; e++) w->mask[tr->idx[e]] = 1;
    uint32_t nh, nt;
    relevant(d, w, r, &nh, &nt);
    hr_topk h;
    hr_topk_init(&h, w->heap, kmax);
    hr_topk_push_row_masked(&h, srow, 0, n, w->mask);
    *len = hr_topk_sorted(&h, ranked, NULL);
    /* The best relevant item overall is the better of the best head and best tail ones, so
     * one call ranks both segments and the whole set. */
    uint32_t best[2] = { hr_metrics_best_candidate(srow, n, w->mask, w->relh, nh),
                         hr_metrics_best_candidate(srow, n, w->mask, w->relt, nt) };
    hr_metrics_candidate_ranks(srow, n, w->mask, best, 2, rk);
    /* Training items are never cold (they have an interaction), so clearing restores the
     * catalogue mask exactly. */
    for (uint64_t e = tr->ptr[r]; e < tr->ptr[r + 1]; e++) w->mask[tr->idx[e]] = 0;
}

/* Accumulate local row r's ranked list (and, with ild, its items' factor rows in list order). */
static void eval_user(const ev_data *d, const ev_scorer *s, ev_result *out, ev_scratch *w, uint64_t r,
                      const uint32_t *ranked, uint32_t len, const uint64_t rk[2], const float *ild_rows,
                      double user_sq, uint64_t user_n)
{
    const hr_block *te = d->te;
    const uint32_t n = d->n_items, nc = d->ncut;
    const uint32_t gid = (uint32_t)te->gid[r];
    uint32_t nh, nt;
    const uint32_t nr = relevant(d, w, r, &nh, &nt);
    const uint64_t rk_all = !rk[0] ? rk[1] : !rk[1] ? rk[0] : rk[0] < rk[1] ? rk[0] : rk[1];
    const int seg = EV_SEG_LIGHT + hr_metrics_activity_segment(d->tr->users.nnz[gid], d->act_cuts);

    hr_metrics_add_user_ranked(&out->rank[EV_SEG_ALL], ranked, len, w->rel, nr, rk_all, w->uv);
    hr_metrics_add_user_ranked(&out->rank[seg], ranked, len, w->rel, nr, rk_all, NULL);
    hr_metrics_add_user_ranked(&out->rank[EV_SEG_HEAD], ranked, len, w->relh, nh, rk[0], NULL);
    hr_metrics_add_user_ranked(&out->rank[EV_SEG_TAIL], ranked, len, w->relt, nt, rk[1], NULL);

    const hr_item_stats st = { n, d->n_users, d->pop, d->is_head, ild_rows, s->ild ? (uint32_t)s->ild->k : 0, 1 };
    const hr_item_stats st_seg = { n, d->n_users, d->pop, d->is_head, NULL, 0, 0 };
    const size_t plane = (size_t)nc * n;
    hr_metrics_add_beyond(&out->beyond[EV_SEG_ALL], &st, ranked, len, out->exposure, w->work);
    hr_metrics_add_beyond(&out->beyond[seg], &st_seg, ranked, len, out->exposure + (size_t)seg * plane, NULL);

    if (s->rating) {
        /* test items the model does not know: mean and user bias (the rest were predicted as
         * their item blocks went round the ring) */
        const hr_model *m = s->m;
        const uint32_t mu = s->umap[gid];
        for (uint64_t e = te->ptr[r]; e < te->ptr[r + 1]; e++) {
            if (s->imap[te->idx[e]] != UINT32_MAX) continue;
            float p = m->global_mean + (mu != UINT32_MAX && m->user_bias ? m->user_bias[mu] : 0.0f);
            out->pred_fallback++;
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
}

/* Score row mrow (model item order) in train item order (w->row when the orders differ). */
static const float *train_order(const ev_scorer *s, const ev_data *d, const float *mrow, float *row)
{
    if (d->n_items == s->m->n_items) {
        uint32_t i = 0;
        while (i < d->n_items && s->imap[i] == i) i++;
        if (i == d->n_items) return mrow;
    }
    for (uint32_t i = 0; i < d->n_items; i++) row[i] = s->imap[i] != UINT32_MAX ? mrow[s->imap[i]] : NAN;
    return row;
}

/* Query rows (jobs/ringrows.h) of the chunk users scored from their training row: all with a
 * row the model can read (item-item), or those the model does not know (fold-in).  fold[x] = 1
 * for them, their query index in qat[x]. */
static void chunk_queries(const ev_data *d, const ev_scorer *s, const ev_chunk *c, int item_item, hr_ring_rows *qr,
                          uint8_t *fold, uint64_t *qat)
{
    const hr_block *tr = &d->tr->by_user;
    hr_ring_rows_free(qr);
    hr_ring_rows_init(qr);
    for (uint32_t x = 0; x < c->n; x++) {
        const uint64_t r = c->rows[x];
        const uint32_t gid = (uint32_t)d->te->gid[r];
        const uint64_t len = tr->ptr[r + 1] - tr->ptr[r];
        fold[x] = 0;
        if (!len || (!item_item && s->umap[gid] != UINT32_MAX)) continue;
        /* a solving model (ALS / iALS) weighs raw values by its confidence; a row with fewer
         * known items than --fold-in-min is taken back (the user keeps the fallback) */
        const int solve = !item_item && hr_fold_in_solves(s->m);
        uint64_t got = hr_ring_rows_add(qr, tr->idx + tr->ptr[r], tr->val + tr->ptr[r], len, s->imap,
                                        solve ? HR_ROWS_VALUE : s->m->row_weight);
        if (got > 0 && solve && got < d->fold_min) {
            qr->n--;
            qr->nnz = qr->ptr[qr->n];
            got = 0;
        }
        if (got > 0) {
            fold[x] = 1;
            qat[x] = qr->n - 1;
        }
    }
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
    uint64_t fb[3] = { out->fallback, out->pred_fallback, out->folded };
    HR_TRY(hr_comm_allreduce_sum_u64(job->comm, fb, 3));
    out->folded = fb[2];
    HR_TRY(hr_comm_allreduce_max_f64(job->comm, &out->seconds_fold_in, 1));
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
    const int ring = s->kind == EV_MODEL && s->m->kind == HR_MODEL_FACTOR;
    const int ii = s->kind == EV_MODEL && s->m->kind == HR_MODEL_ITEMITEM, fold_in = ring && (s->m->fold_in || hr_fold_in_solves(s->m));
    const int uu = s->kind == EV_MODEL && s->m->kind == HR_MODEL_USERUSER;
    const uint64_t nm = (ii || uu) && s->m->n_items ? s->m->n_items : 1;
    const uint32_t ik = s->ild ? (uint32_t)s->ild->k : 0;
    const size_t maxrel = d->max_test_row ? d->max_test_row : 1;
    ev_scratch w;
    w.heap = hr_malloc(((size_t)kmax + 1) * sizeof *w.heap);
    w.rel = hr_malloc(maxrel * sizeof *w.rel);
    w.relh = hr_malloc(maxrel * sizeof *w.relh);
    w.relt = hr_malloc(maxrel * sizeof *w.relt);
    w.mask = hr_malloc(n ? n : 1);
    memcpy(w.mask, d->cold, n);
    w.work = hr_malloc(((size_t)ik + 1) * sizeof *w.work);
    w.row = hr_malloc((n ? n : 1) * sizeof *w.row);
    w.lrows = hr_malloc(((size_t)kmax * ik + 1) * sizeof *w.lrows);

    /* the local users with test events, in chunks of bounded working memory */
    const hr_block *te = d->te;
    uint64_t nl = 0, *users = hr_malloc((d->n_eval_local + 1) * sizeof *users);
    for (uint64_t r = 0; r < te->nrows; r++)
        if (te->ptr[r + 1] > te->ptr[r]) users[nl++] = r;
    const uint64_t per_user = (uint64_t)kmax * (sizeof(hr_topk_entry) + 4 + 4 * (uint64_t)ik) + 64;
    uint64_t C = EV_CHUNK_BYTES / per_user;
    /* the chunk's score rows (item-item ratings: two more sets of rows, evaluate_knn.c) */
    const uint64_t rowsets = (ii && s->rating) || uu ? 3 : 1;   /* user-user: S and int64 sums */
    if ((ii || uu) && C > ROWS_CHUNK_BYTES / 4 / nm / rowsets) C = ROWS_CHUNK_BYTES / 4 / nm / rowsets;
    if (C < 1) C = 1;
    if (C > nl) C = nl ? nl : 1;
    uint64_t nchunks = (nl + C - 1) / C;
    int rc = hr_comm_allreduce_max_u64(job->comm, &nchunks, 1);
    ev_chunk ch = { 0, NULL, hr_malloc((C * kmax + 1) * sizeof *ch.heap), hr_malloc((C + 1) * sizeof *ch.len),
                    hr_malloc((C * kmax + 1) * sizeof *ch.idx), hr_calloc(2 * C + 2, sizeof *ch.rk),
                    hr_calloc(C + 1, sizeof *ch.user_sq), hr_calloc(C + 1, sizeof *ch.user_n), NULL, NULL };
    uint8_t *fb = hr_malloc(C + 1), *fold = hr_calloc(C + 1, 1);
    uint64_t *qat = hr_malloc((C + 1) * sizeof *qat);
    float *S = ii || uu ? hr_malloc(C * nm * sizeof *S + 1) : NULL, *F = fold_in ? hr_malloc((C * (uint64_t)s->m->k + 1) * sizeof *F) : NULL;
    hr_ring_rows qr;
    hr_ring_rows_init(&qr);
    double ts = 0, tc = 0;
    ch.fold = F;
    ch.folded = fold_in ? fold : NULL;
    float *ild_rows = NULL;
    uint64_t ild_cap = 0, ild_block = ik && s->ild->n ? (s->ild->n + (uint64_t)job->size - 1) / (uint64_t)job->size : 0;
    uint64_t ild_group = ik ? (ild_block > 4096 ? ild_block : 4096) / kmax : C;   /* without ild: the chunk */
    if (ild_group < 1) ild_group = 1;
    uint32_t *ild_ids = ik ? hr_malloc((ild_group * kmax + 1) * sizeof *ild_ids) : NULL;
    for (uint64_t c0 = 0; rc == 0 && c0 < nchunks * C; c0 += C) {
        ch.rows = users + (c0 < nl ? c0 : nl);
        ch.n = (uint32_t)(c0 < nl ? (nl - c0 < C ? nl - c0 : C) : 0);
        if (ii || fold_in) {
            chunk_queries(d, s, &ch, ii, &qr, fold, qat);
            hr_iiquery q = hr_ring_rows_query(&qr);
            if (ii) {
                rc = hr_ring_rows_ii(job, s->m, &q, 0, qr.n, S, &ts, &tc);
                if (s->rating && rc == 0) rc = ev_ii_rate(job, d, s, &ch, out, &ts, &tc);
            } else if (hr_fold_in_solves(s->m)) rc = hr_fold_in_solve(job, s->m, &q, qr.n, F, &out->seconds_fold_in);
            else rc = hr_ring_project(job, s->m->item_factors, s->m->n_items, s->m->k, &q, qr.n, F);
            for (uint32_t x = 0; x < ch.n; x++) out->folded += fold[x];
            /* projections to chunk order: qat[x] <= x, so from the last user down nothing is
             * overwritten before it is moved */
            for (uint32_t x = ch.n; rc == 0 && fold_in && x-- > 0;)
                if (fold[x] && qat[x] != x) memcpy(F + (uint64_t)x * s->m->k, F + qat[x] * s->m->k, (size_t)s->m->k * sizeof *F);
        }
        if (uu) {
            rc = ev_uu_score(job, d, s, &ch, S, fold, out, &ts, &tc);
            for (uint32_t x = 0; x < ch.n; x++) qat[x] = x;
        }
        if (rc == 0 && ring) rc = ev_ring_rank(job, d, s, &ch, out);
        if (rc < 0) break;
        for (uint32_t x = 0; x < ch.n; x++) {
            const uint64_t r = ch.rows[x];
            const uint32_t gid = (uint32_t)te->gid[r];
            const float *srow = NULL;
            fb[x] = 0;
            if (s->kind == EV_POP) {
                srow = d->popf;
            } else if (s->kind == EV_RANDOM) {
                random_row(d->seed, gid, n, w.row);
                srow = w.row;
            } else if ((ii || uu) && fold[x]) {
                srow = train_order(s, d, S + qat[x] * nm, w.row);
            } else if (ii || uu) {
                /* no training row (user-user: no neighbours) the model can read: ranked by popularity, as recommend does */
                srow = d->popf;
                fb[x] = 1;
                out->fallback++;
            } else if (!ring) {
                srow = s->pop_row;
            } else if ((s->umap[gid] == UINT32_MAX && !(fold_in && fold[x])) || d->tr->users.nnz[gid] == 0) {
                /* no meaningful factors (unknown to the model, or no training interactions: a
                 * time split): ranked by popularity, as recommend does */
                srow = d->popf;
                fb[x] = 1;
                out->fallback++;
            }
            if (srow) rank_row(d, &w, r, srow, ch.idx + (size_t)x * kmax, &ch.len[x], ch.rk + 2 * (size_t)x);
        }
        /* ild@K: the factor rows of a group's distinct listed items, fetched once (popular items
         * head many lists), then laid out per user in list order.  Groups keep the rows asked
         * at once below about one item block (a random list touches the whole catalogue). */
        uint64_t ngroups = ik ? (ch.n + ild_group - 1) / ild_group : 1;
        if (ik && (rc = hr_comm_allreduce_max_u64(job->comm, &ngroups, 1)) < 0) break;
        for (uint64_t g0 = 0; rc == 0 && g0 < ngroups * ild_group; g0 += ild_group) {
            const uint32_t x0 = (uint32_t)(g0 < ch.n ? g0 : ch.n), x1 = (uint32_t)(g0 + ild_group < ch.n ? g0 + ild_group : ch.n);
            uint64_t nid = 0;
            if (ik) {
                for (uint32_t x = x0; x < x1; x++)
                    for (uint32_t t = 0; t < ch.len[x]; t++) ild_ids[nid++] = ch.idx[(size_t)x * kmax + t];
                qsort(ild_ids, nid, sizeof *ild_ids, cmp_u32);
                uint64_t u = 0;
                for (uint64_t t = 0; t < nid; t++)
                    if (u == 0 || ild_ids[t] != ild_ids[u - 1]) ild_ids[u++] = ild_ids[t];
                nid = u;
                if (nid * ik > ild_cap) {
                    hr_free(ild_rows);
                    ild_cap = nid * ik;
                    ild_rows = hr_malloc(ild_cap * sizeof *ild_rows);
                }
                rc = ev_fetch_items(job, s->ild, ild_ids, nid, ild_rows);
                if (rc < 0) break;
            }
            for (uint32_t x = x0; x < x1; x++) {
                const uint32_t *list = ch.idx + (size_t)x * kmax;
                for (uint32_t t = 0; ik && t < ch.len[x]; t++) {
                    const uint32_t *at = bsearch(&list[t], ild_ids, nid, sizeof *ild_ids, cmp_u32);
                    memcpy(w.lrows + (size_t)t * ik, ild_rows + (uint64_t)(at - ild_ids) * ik, ik * sizeof *w.lrows);
                }
                eval_user(d, s, out, &w, ch.rows[x], list, ch.len[x], ch.rk + 2 * (size_t)x, ik ? w.lrows : NULL,
                          ring || (ii && s->rating) ? ch.user_sq[x] : 0, ring || (ii && s->rating) ? ch.user_n[x] : 0);
            }
        }
    }
    rc = hr_comm_agree(job->comm, rc, &job->err);
    hr_free(users);
    hr_free(ch.heap);
    hr_free(ch.len);
    hr_free(ch.idx);
    hr_free(ch.rk);
    hr_free(ch.user_sq);
    hr_free(ch.user_n);
    hr_free(fb);
    hr_free(fold);
    hr_free(qat);
    hr_free(S);
    hr_free(F);
    hr_ring_rows_free(&qr);
    hr_free(ild_rows);
    hr_free(ild_ids);
    hr_free(w.heap);
    hr_free(w.rel);
    hr_free(w.relh);
    hr_free(w.relt);
    hr_free(w.mask);
    hr_free(w.work);
    hr_free(w.row);
    hr_free(w.lrows);
    return rc < 0 ? rc : reduce(job, d, out);
}

void ev_result_free(ev_result *r)
{
    hr_free(r->exposure);
    hr_free(r->uval);
    hr_free(r->ugid);
    memset(r, 0, sizeof *r);
}
