#include "jobs/ringscore.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/timer.h"
#include "solvers/score.h"

#define RS_USERS 512  /* 512 x 512 floats = 1 MB of scores, read back right after the SGEMM */
#define RS_ITEMS 512
#define RS_PROBE 512  /* items scored first to raise each selection's bar (see probe_pick) */

typedef struct probe {
    uint32_t n;
    uint32_t *idx;   /* global item ids, increasing */
    float *Y;        /* n x k factor rows */
    float *b;        /* n biases (0 without) */
    float ymax, bmax;/* largest factor norm, largest |bias| */
} probe;

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* The probe: the RS_PROBE items of the local block most likely to score high for anyone
 * (largest mean-query-norm x factor norm + bias; banned items never).  Every query is scored
 * against them first and its selection starts with their n-th best as the bar
 * (hr_topbuf_seed), so the sweep admits about n candidates instead of several times n: on a
 * real ials model this halves the cost of the selection.  Any subset is correct; a good one
 * only makes it faster. */
static void probe_pick(probe *p, const float *blk, uint64_t w, uint64_t nloc, uint64_t lo, int k, const float *Q,
                       uint64_t nq)
{
    double qn = 0;
    for (uint64_t x = 0; x < nq; x++) {
        double s = 0;
        for (int j = 0; j < k; j++) s += (double)Q[x * (uint64_t)k + (uint64_t)j] * Q[x * (uint64_t)k + (uint64_t)j];
        qn += sqrt(s);
    }
    qn = nq ? qn / (double)nq : 0;
    hr_topk h;
    hr_topk_entry *st = hr_malloc(RS_PROBE * sizeof *st);
    hr_topk_init(&h, st, RS_PROBE);
    for (uint64_t i = 0; i < nloc; i++) {
        const float *y = blk + i * w;
        if (isinf(y[k])) continue;   /* banned */
        double s = 0;
        for (int j = 0; j < k; j++) s += (double)y[j] * y[j];
        hr_topk_push(&h, (float)(qn * sqrt(s) + y[k]), (uint32_t)i);
    }
    uint32_t *loc = hr_malloc(RS_PROBE * sizeof *loc);
    p->n = hr_topk_sorted(&h, loc, NULL);
    qsort(loc, p->n, sizeof *loc, cmp_u32);
    p->idx = hr_malloc((p->n + 1) * sizeof *p->idx);
    p->Y = hr_malloc(((size_t)p->n * (size_t)k + 1) * sizeof *p->Y);
    p->b = hr_malloc((p->n + 1) * sizeof *p->b);
    p->ymax = p->bmax = 0;
    for (uint32_t a = 0; a < p->n; a++) {
        const float *y = blk + loc[a] * w;
        double s = 0;
        for (int j = 0; j < k; j++) s += (double)y[j] * y[j];
        p->idx[a] = (uint32_t)(lo + loc[a]);
        memcpy(p->Y + (size_t)a * (size_t)k, y, (size_t)k * sizeof *p->Y);
        p->b[a] = y[k];
        p->ymax = fmaxf(p->ymax, (float)sqrt(s));
        p->bmax = fmaxf(p->bmax, fabsf(y[k]));
    }
    hr_free(loc);
    hr_free(st);
}

/* Seed the selections of queries u0..u0+nu-1 from their probe scores (S: scratch). */
static void probe_seed(const probe *p, const hr_ring_query *q, int k, uint64_t u0, uint32_t nu, float *S)
{
    if (p->n == 0) return;
    hr_scorer sc = { HR_SCORER_FACTOR, k, p->n, p->Y, k, p->b, NULL };
    hr_score_users(&sc, q->Q + u0 * (uint64_t)k, nu, S);
    for (uint32_t u = 0; u < nu; u++) {
        const float *x = q->Q + (u0 + u) * (uint64_t)k;
        double s = 0;
        for (int j = 0; j < k; j++) s += (double)x[j] * x[j];
        /* The sweep recomputes these scores in other SGEMM blocks; the two roundings of a
         * k-term dot product plus a bias differ by at most about 2(k+1) ulps of
         * |x||y| + |b|: twice that is the slack. */
        float slack = (float)(4.0 * (k + 2) * 0x1p-24 * (sqrt(s) * p->ymax + p->bmax));
        hr_topbuf_seed(&q->heaps[u0 + u], S + (size_t)u * p->n, p->idx, p->n, slack, q->excl ? q->excl[u0 + u] : NULL,
                       q->excl ? q->nexcl[u0 + u] : 0);
    }
}

int hr_ring_step(hr_job *job, float **blk, float **nxt, uint64_t bytes, uint64_t cap, int *cur)
{
    uint64_t got;
    int rc = hr_comm_ring_shift(job->comm, *blk, bytes, *nxt, cap, &got);
    float *sw = *blk;
    *blk = *nxt;
    *nxt = sw;
    *cur = (*cur + job->size - 1) % job->size;
    return rc;
}

int hr_ring_score(hr_job *job, const float *items, const float *bias, const uint8_t *banned, uint64_t n, int k,
                  const hr_ring_query *q, double *t_score, double *t_comm)
{
    int P = job->size, rc = 0, cur = job->rank;
    uint64_t w = (uint64_t)k + 1, maxb = (n + (uint64_t)P - 1) / (uint64_t)P;
    float *blk = hr_malloc((maxb * w + 1) * sizeof *blk), *nxt = hr_malloc((maxb * w + 1) * sizeof *nxt);
    float *bb = hr_malloc((maxb + 1) * sizeof *bb);
    float *S = hr_malloc((size_t)RS_USERS * RS_ITEMS * sizeof *S);
    /* The selections live at home with their n best; a batch borrows 2n-key working buffers
     * while it sweeps a block (solvers/topk.h), so a rank holds n keys per query, not 2n. */
    uint32_t wcap = 0;
    for (uint64_t x = 0; x < q->nq; x++) wcap = q->heaps[x].n > wcap ? q->heaps[x].n : wcap;
    wcap *= 2;
    hr_topkey *work = hr_malloc(((size_t)RS_USERS * wcap + 1) * sizeof *work);
    size_t xcur[RS_USERS];
    /* Each block row: k factors then the bias (-inf for a banned item), so one message moves both. */
    uint64_t lo0 = (uint64_t)cur * n / (uint64_t)P, hi0 = (uint64_t)(cur + 1) * n / (uint64_t)P;
    for (uint64_t i = lo0; i < hi0; i++) {
        memcpy(blk + (i - lo0) * w, items + (i - lo0) * (uint64_t)k, (size_t)k * sizeof *blk);
        blk[(i - lo0) * w + (uint64_t)k] = banned && banned[i] ? -INFINITY : bias ? bias[i - lo0] : 0.0f;
    }
    *t_score = *t_comm = 0;
    double tp = hr_now();
    probe pr;
    probe_pick(&pr, blk, w, hi0 - lo0, lo0, k, q->Q, q->nq);
    *t_score += hr_now() - tp;
    const int with_bias = bias != NULL || banned != NULL;  /* else skip a pass over every score */
    for (int step = 0; step < P && rc == 0; step++) {
        uint64_t lo = (uint64_t)cur * n / (uint64_t)P, hi = (uint64_t)(cur + 1) * n / (uint64_t)P;
        double ts = hr_now();
        /* SGEMM reads the block's factor rows in place (ld = k + 1); the bias column is
         * gathered once per block, not once per batch of queries. */
        for (uint64_t i = 0; i < hi - lo; i++) bb[i] = blk[i * w + (uint64_t)k];
        for (uint64_t u0 = 0; u0 < q->nq; u0 += RS_USERS) {
            uint32_t nu = (uint32_t)(q->nq - u0 < RS_USERS ? q->nq - u0 : RS_USERS);
            if (step == 0) probe_seed(&pr, q, k, u0, nu, S);
            for (uint32_t u = 0; u < nu; u++) {
                hr_topbuf_borrow(&q->heaps[u0 + u], work + (size_t)u * wcap, wcap);
                /* exclusions: a cursor per query moves along its sorted list as the tiles ascend,
                 * so each tile is handed just its own slice */
                size_t c = 0, ne = q->excl ? q->nexcl[u0 + u] : 0;
                while (c < ne && q->excl[u0 + u][c] < lo) c++;
                xcur[u] = c;
            }
            for (uint64_t i0 = lo; i0 < hi; i0 += RS_ITEMS) {
                uint64_t nb = hi - i0 < RS_ITEMS ? hi - i0 : RS_ITEMS;
                hr_scorer sc = { HR_SCORER_FACTOR, k, nb, blk + (i0 - lo) * w, (int)w, with_bias ? bb + (i0 - lo) : NULL, NULL };
                hr_score_users(&sc, q->Q + u0 * (uint64_t)k, nu, S);
                for (uint32_t u = 0; u < nu; u++) {
                    const uint32_t *ex = q->excl ? q->excl[u0 + u] : NULL;
                    size_t c = xcur[u], e = c, ne = ex ? q->nexcl[u0 + u] : 0;
                    while (e < ne && ex[e] < i0 + nb) e++;
                    hr_topbuf_push_row(&q->heaps[u0 + u], S + (uint64_t)u * nb, (uint32_t)i0, (uint32_t)nb, ex ? ex + c : NULL, e - c);
                    xcur[u] = e;
                }
            }
            for (uint32_t u = 0; u < nu; u++) hr_topbuf_return(&q->heaps[u0 + u]);
        }
        *t_score += hr_now() - ts;
        if (step + 1 < P) {
            double tc = hr_now();
            rc = hr_ring_step(job, &blk, &nxt, (hi - lo) * w * sizeof *blk, (maxb * w + 1) * sizeof *nxt, &cur);
            if (rc < 0) hr_error_set(&job->err, rc, "recommend ring: passing the item block of step %d failed (the log says why)", step);
            *t_comm += hr_now() - tc;
        }
    }
    hr_free(blk);
    hr_free(nxt);
    hr_free(bb);
    hr_free(S);
    hr_free(work);
    hr_free(pr.idx);
    hr_free(pr.Y);
    hr_free(pr.b);
    return hr_comm_agree(job->comm, rc, &job->err);
}
