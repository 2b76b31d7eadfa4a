/* jobs/evaluate_ring.c — a factor model's scores for one chunk of evaluate's users, with the
 * model's item side spread over the ranks.
 *
 * Rank r holds item block r (jobs/rowfetch.h); the blocks travel round the ring (mpi/ ring
 * shift), so each rank sees every item while holding two blocks at a time.  The metrics need,
 * per user, the top-K candidates AND the rank of the best relevant item among ALL candidates
 * (the true MRR), which is known only once every block has been seen.  So the blocks go round
 * twice, scored by the same SGEMM tiles both times (so the same scores):
 *   1. each candidate enters the user's bounded top-K (solvers/topk.h: one total order, so the
 *      order blocks arrive in does not matter); the best relevant head item and the best
 *      relevant tail item are kept; ratings are predicted for test events whose item passes;
 *   2. each candidate ahead of those two (higher score, ties to the lower train id) is counted.
 * A candidate is a train item the model knows, with training interactions, not among the
 * user's training items, with a non-NaN score; items are named by their train gid throughout,
 * so ties break as the whole-row path of evaluate_run.c breaks them. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "jobs/evaluate_parts.h"
#include "jobs/ringscore.h"
#include "jobs/rowfetch.h"
#include "solvers/score.h"

#define RG_USERS 64
#define RG_ITEMS 2048

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static inline int ahead(float sa, uint32_t a, float sb, uint32_t b) { return sa > sb || (sa == sb && a < b); }

/* Per chunk: each user's factor row, its training items as sorted model ids (never candidates)
 * and its relevant items (model id, train id, head flag) known to the model. */
typedef struct ring_users {
    const float **x;          /* NULL: no factors (ranked by popularity elsewhere) */
    uint64_t *xo, *ro;        /* offsets into excl / rel (n + 1) */
    uint32_t *excl;
    uint32_t *rel_m, *rel_t;
    uint8_t *rel_h;
    float *best_s;            /* n x 2 */
    uint32_t *best_t;         /* n x 2, UINT32_MAX: none */
} ring_users;

static void users_build(const ev_data *d, const ev_scorer *s, const ev_chunk *c, ring_users *ru)
{
    const hr_model *m = s->m;
    const hr_block *tr = &d->tr->by_user, *te = d->te;
    const uint32_t n = c->n;
    ru->x = hr_malloc((n + 1) * sizeof *ru->x);
    ru->xo = hr_malloc((n + 1) * sizeof *ru->xo);
    ru->ro = hr_malloc((n + 1) * sizeof *ru->ro);
    ru->best_s = hr_malloc(((size_t)n * 2 + 1) * sizeof *ru->best_s);
    ru->best_t = hr_malloc(((size_t)n * 2 + 1) * sizeof *ru->best_t);
    uint64_t nx = 0, nr = 0;
    for (uint32_t u = 0; u < n; u++) {
        const uint64_t r = c->rows[u];
        nx += tr->ptr[r + 1] - tr->ptr[r];
        nr += te->ptr[r + 1] - te->ptr[r];
    }
    ru->excl = hr_malloc((nx + 1) * sizeof *ru->excl);
    ru->rel_m = hr_malloc((nr + 1) * sizeof *ru->rel_m);
    ru->rel_t = hr_malloc((nr + 1) * sizeof *ru->rel_t);
    ru->rel_h = hr_malloc(nr + 1);
    nx = nr = 0;
    for (uint32_t u = 0; u < n; u++) {
        const uint64_t r = c->rows[u];
        const uint32_t gid = (uint32_t)te->gid[r], mu = s->umap[gid];
        /* as in evaluate_run.c: no factors, or no training interactions: popularity */
        ru->x[u] = mu == UINT32_MAX || d->tr->users.nnz[gid] == 0 ? NULL : m->user_factors + (uint64_t)mu * (uint64_t)m->k;
        if (mu == UINT32_MAX && c->folded && c->folded[u]) ru->x[u] = c->fold + (uint64_t)u * (uint64_t)m->k;   /* x_u V */
        ru->xo[u] = nx;
        for (uint64_t e = tr->ptr[r]; e < tr->ptr[r + 1]; e++)
            if (s->imap[tr->idx[e]] != UINT32_MAX) ru->excl[nx++] = s->imap[tr->idx[e]];
        qsort(ru->excl + ru->xo[u], nx - ru->xo[u], sizeof *ru->excl, cmp_u32);
        ru->ro[u] = nr;
        for (uint64_t e = te->ptr[r]; e < te->ptr[r + 1]; e++) {
            const uint32_t t = te->idx[e];
            if (s->imap[t] == UINT32_MAX || d->cold[t]) continue;   /* never a candidate */
            ru->rel_m[nr] = s->imap[t];
            ru->rel_t[nr] = t;
            ru->rel_h[nr] = d->is_head[t];
            nr++;
        }
        ru->best_t[2 * u] = ru->best_t[2 * u + 1] = UINT32_MAX;
        ru->best_s[2 * u] = ru->best_s[2 * u + 1] = 0;
    }
    ru->xo[n] = nx;
    ru->ro[n] = nr;
}

static void users_free(ring_users *ru)
{
    hr_free(ru->x);
    hr_free(ru->xo);
    hr_free(ru->ro);
    hr_free(ru->excl);
    hr_free(ru->rel_m);
    hr_free(ru->rel_t);
    hr_free(ru->rel_h);
    hr_free(ru->best_s);
    hr_free(ru->best_t);
}

static int excluded(const ring_users *ru, uint32_t u, uint32_t mid)
{
    const uint32_t *a = ru->excl + ru->xo[u];
    return bsearch(&mid, a, ru->xo[u + 1] - ru->xo[u], sizeof *a, cmp_u32) != NULL;
}

/* Ratings of the test events whose item is in the block (model items lo..hi-1, rows of w
 * floats: k factors then the bias). */
static void rate_block(const ev_data *d, const ev_scorer *s, ev_chunk *c, const ring_users *ru, const float *blk,
                       uint64_t w, uint64_t lo, uint64_t hi, ev_result *out)
{
    const hr_model *m = s->m;
    const hr_block *te = d->te;
    for (uint32_t u = 0; u < c->n; u++) {
        const uint64_t r = c->rows[u];
        const uint32_t mu = s->umap[te->gid[r]];
        for (uint64_t e = te->ptr[r]; e < te->ptr[r + 1]; e++) {
            const uint32_t mi = s->imap[te->idx[e]];
            if (mi == UINT32_MAX || mi < lo || mi >= hi) continue;   /* unknown items: the caller */
            const float *y = blk + (mi - lo) * w;
            float p;
            if (mu == UINT32_MAX) {
                p = m->global_mean + (m->item_bias ? y[m->k] : 0.0f);
                out->pred_fallback++;
            } else {
                p = hr_score_predict(m->user_factors + (uint64_t)mu * (uint64_t)m->k, y, m->k, m->global_mean,
                                     m->user_bias ? &m->user_bias[mu] : NULL, m->item_bias ? &y[m->k] : NULL);
            }
            p = p < d->vmin ? d->vmin : p > d->vmax ? d->vmax : p;
            hr_metrics_add_rating(&out->rating, p, te->val[e]);
            c->user_sq[u] += ((double)p - te->val[e]) * ((double)p - te->val[e]);
            c->user_n[u]++;
        }
    }
}

/* One tile of scores (nb items from model id i0) for a batch of users: pass 0 offers the
 * candidates to the top-K and tracks the best relevant items, pass 1 counts those ahead. */
static void tile(const ev_data *d, const ev_scorer *s, ev_chunk *c, ring_users *ru, const uint32_t *batch, uint32_t nu,
                 const float *S, uint64_t i0, uint32_t nb, int pass)
{
    const uint32_t *inv = s->items.inv, kmax = d->cut[d->ncut - 1];
    for (uint32_t b = 0; b < nu; b++) {
        const uint32_t u = batch[b];
        const float *row = S + (size_t)b * nb;
        const uint32_t *ex = ru->excl + ru->xo[u], nex = (uint32_t)(ru->xo[u + 1] - ru->xo[u]);
        /* the exclusions inside this tile: a sorted slice */
        uint32_t e0 = 0;
        while (e0 < nex && ex[e0] < i0) e0++;
        uint32_t ec = e0;
        hr_topk h = { c->heap + (size_t)u * kmax, kmax, c->len[u] };
        for (uint32_t t = 0; t < nb; t++) {
            const uint64_t j = i0 + t;
            if (ec < nex && ex[ec] == j) {
                ec++;
                continue;
            }
            const uint32_t tr = inv[j];
            if (tr == UINT32_MAX || d->cold[tr] || isnan(row[t])) continue;
            if (pass == 0) {
                hr_topk_push(&h, row[t], tr);
            } else {
                for (int g = 0; g < 2; g++)
                    if (ru->best_t[2 * u + g] != UINT32_MAX)
                        c->rk[2 * u + g] += (uint64_t)ahead(row[t], tr, ru->best_s[2 * u + g], ru->best_t[2 * u + g]);
            }
        }
        c->len[u] = h.size;
        if (pass == 1) continue;
        for (uint64_t q = ru->ro[u]; q < ru->ro[u + 1]; q++) {
            const uint32_t mid = ru->rel_m[q];
            if (mid < i0 || mid >= i0 + nb || excluded(ru, u, mid) || isnan(row[mid - i0])) continue;
            const int g = ru->rel_h[q] ? 0 : 1;
            const float sc = row[mid - i0];
            if (ru->best_t[2 * u + g] == UINT32_MAX || ahead(sc, ru->rel_t[q], ru->best_s[2 * u + g], ru->best_t[2 * u + g])) {
                ru->best_s[2 * u + g] = sc;
                ru->best_t[2 * u + g] = ru->rel_t[q];
            }
        }
    }
}

/* This rank's own block as ring rows: k factors then the bias (0 without). */
static void own_block(const ev_scorer *s, float *blk, uint64_t w)
{
    const hr_model *m = s->m;
    for (uint64_t i = 0; i < s->items.hi - s->items.lo; i++) {
        memcpy(blk + i * w, m->item_factors + i * (uint64_t)m->k, (size_t)m->k * sizeof *blk);
        blk[i * w + (uint64_t)m->k] = m->item_bias ? m->item_bias[i] : 0.0f;
    }
}

int ev_ring_rank(hr_job *job, const ev_data *d, const ev_scorer *s, ev_chunk *c, ev_result *out)
{
    const int P = job->size, k = s->m->k;
    const uint64_t n = s->items.n, w = (uint64_t)k + 1, maxb = (n + (uint64_t)P - 1) / (uint64_t)P;
    const uint32_t kmax = d->cut[d->ncut - 1];
    ring_users ru;
    users_build(d, s, c, &ru);
    float *blk = hr_malloc((maxb * w + 1) * sizeof *blk), *nxt = hr_malloc((maxb * w + 1) * sizeof *nxt);
    float *bb = hr_malloc((maxb + 1) * sizeof *bb), *U = hr_malloc((size_t)RG_USERS * (size_t)k * sizeof *U);
    float *S = hr_malloc((size_t)RG_USERS * RG_ITEMS * sizeof *S);
    uint32_t *batch = hr_malloc((c->n + 1) * sizeof *batch), nbatch = 0;
    for (uint32_t u = 0; u < c->n; u++) {
        c->len[u] = 0;
        c->rk[2 * u] = c->rk[2 * u + 1] = 0;
        c->user_sq[u] = 0;
        c->user_n[u] = 0;
        if (ru.x[u]) batch[nbatch++] = u;
    }
    int rc = 0;
    for (int pass = 0; pass < 2 && rc == 0; pass++) {
        int cur = job->rank;
        own_block(s, blk, w);
        for (int step = 0; step < P && rc == 0; step++) {
            const uint64_t lo = hr_block_lo(n, P, cur), hi = hr_block_lo(n, P, cur + 1);
            for (uint64_t i = 0; i < hi - lo; i++) bb[i] = blk[i * w + (uint64_t)k];
            if (pass == 0 && s->rating) rate_block(d, s, c, &ru, blk, w, lo, hi, out);
            for (uint32_t b0 = 0; b0 < nbatch; b0 += RG_USERS) {
                const uint32_t nu = nbatch - b0 < RG_USERS ? nbatch - b0 : RG_USERS;
                for (uint32_t b = 0; b < nu; b++) memcpy(U + (size_t)b * k, ru.x[batch[b0 + b]], (size_t)k * sizeof *U);
                for (uint64_t i0 = lo; i0 < hi; i0 += RG_ITEMS) {
                    const uint32_t nb = (uint32_t)(hi - i0 < RG_ITEMS ? hi - i0 : RG_ITEMS);
                    const hr_scorer sc = { HR_SCORER_FACTOR, k, nb, blk + (i0 - lo) * w, (int)w, s->m->item_bias ? bb + (i0 - lo) : NULL,
                                           NULL };
                    hr_score_users(&sc, U, nu, S);
                    tile(d, s, c, &ru, batch + b0, nu, S, i0, nb, pass);
                }
            }
            if (step + 1 < P) rc = hr_ring_step(job, &blk, &nxt, (hi - lo) * w * sizeof *blk, (maxb * w + 1) * sizeof *nxt, &cur);
        }
        if (pass == 0)
            for (uint32_t b = 0; b < nbatch; b++) {
                /* ranks count from 1 for a target that exists */
                const uint32_t u = batch[b];
                for (int g = 0; g < 2; g++) c->rk[2 * u + g] = ru.best_t[2 * u + g] != UINT32_MAX;
            }
    }
    for (uint32_t b = 0; rc == 0 && b < nbatch; b++) {
        const uint32_t u = batch[b];
        hr_topk h = { c->heap + (size_t)u * kmax, kmax, c->len[u] };
        c->len[u] = hr_topk_sorted(&h, c->idx + (size_t)u * kmax, NULL);
    }
    users_free(&ru);
    hr_free(blk);
    hr_free(nxt);
    hr_free(bb);
    hr_free(U);
    hr_free(S);
    hr_free(batch);
    return hr_comm_agree(job->comm, rc, &job->err);
}

int ev_fetch_items(hr_job *job, const ev_items *src, const uint32_t *ids, uint64_t n, float *rows)
{
    const int k = src->k;
    /* train ids -> model ids; unknown ones get a zero row (asked as row 0, then cleared) */
    uint32_t *mid = hr_malloc((n + 1) * sizeof *mid);
    for (uint64_t x = 0; x < n; x++) mid[x] = src->imap[ids[x]] == UINT32_MAX ? 0 : src->imap[ids[x]];
    /* src->n is global: a model without items has nothing to fetch on any rank */
    int rc = src->n ? hr_fetch_rows(job, src->m->item_factors, src->n, k, mid, n, rows) : 0;
    for (uint64_t x = 0; x < n; x++)
        if (src->imap[ids[x]] == UINT32_MAX) memset(rows + x * (uint64_t)k, 0, (size_t)k * sizeof *rows);
    hr_free(mid);
    return rc;
}
