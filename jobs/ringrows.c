#include "jobs/ringrows.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/timer.h"
#include "io/iiblock.h"
#include "jobs/rowfetch.h"

#define RR_QUERIES 256   /* queries per batch: their rows and selections stay in cache */
#define RR_COLS 1024     /* columns per score tile: 256 x 1024 floats = 1 MB */

void hr_ring_item_share(const hr_model *m, int rank, int P, uint64_t *lo, uint64_t *hi)
{
    if (m->kind == HR_MODEL_ITEMITEM) {
        hr_model_ii_share(m, rank, P, lo, hi);
    } else {
        *lo = hr_block_lo(m->n_items, P, rank);
        *hi = hr_block_lo(m->n_items, P, rank + 1);
    }
}

/* ---------------------------------------------------------------- query rows */

void hr_ring_rows_init(hr_ring_rows *r)
{
    memset(r, 0, sizeof *r);
    r->cap = 64;
    r->nnz_cap = 1024;
    r->ptr = hr_malloc((r->cap + 1) * sizeof *r->ptr);
    r->idx = hr_malloc(r->nnz_cap * sizeof *r->idx);
    r->val = hr_malloc(r->nnz_cap * sizeof *r->val);
    r->ptr[0] = 0;
}

static int cmp_pair(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

uint64_t hr_ring_rows_add(hr_ring_rows *r, const uint32_t *items, const float *vals, uint64_t len, const uint32_t *map,
                          hr_row_weight w)
{
    if (r->n == r->cap) r->ptr = hr_realloc(r->ptr, ((r->cap *= 2) + 1) * sizeof *r->ptr);
    while (r->nnz + len > r->nnz_cap) {
        r->nnz_cap *= 2;
        r->idx = hr_realloc(r->idx, r->nnz_cap * sizeof *r->idx);
        r->val = hr_realloc(r->val, r->nnz_cap * sizeof *r->val);
    }
    uint64_t at = r->nnz, sorted = 1;
    for (uint64_t e = 0; e < len; e++) {
        uint32_t i = map ? map[items[e]] : items[e];
        if (i == UINT32_MAX) continue;
        if (at > r->nnz && i <= r->idx[at - 1]) sorted = 0;
        r->idx[at] = i;
        r->val[at++] = w == HR_ROWS_VALUE ? vals[e] : 1.0f;
    }
    if (!sorted) {   /* dictionaries that order ids differently: sort (id, value) pairs */
        uint64_t m = at - r->nnz, *pk = hr_malloc(m * sizeof *pk);
        for (uint64_t e = 0; e < m; e++) {
            uint32_t vb;
            memcpy(&vb, &r->val[r->nnz + e], 4);
            pk[e] = ((uint64_t)r->idx[r->nnz + e] << 32) | vb;
        }
        qsort(pk, m, sizeof *pk, cmp_pair);
        for (uint64_t e = 0; e < m; e++) {
            uint32_t vb = (uint32_t)pk[e];
            r->idx[r->nnz + e] = (uint32_t)(pk[e] >> 32);
            memcpy(&r->val[r->nnz + e], &vb, 4);
        }
        hr_free(pk);
    }
    uint64_t got = at - r->nnz;
    if (got == 0) return 0;   /* nothing the model knows: no row */
    r->nnz = at;
    r->ptr[++r->n] = at;
    return got;
}

void hr_ring_rows_add_entry(hr_ring_rows *r, uint32_t i, float v, int first, int last)
{
    if (first && r->n == r->cap) r->ptr = hr_realloc(r->ptr, ((r->cap *= 2) + 1) * sizeof *r->ptr);
    if (r->nnz == r->nnz_cap) {
        r->nnz_cap *= 2;
        r->idx = hr_realloc(r->idx, r->nnz_cap * sizeof *r->idx);
        r->val = hr_realloc(r->val, r->nnz_cap * sizeof *r->val);
    }
    r->idx[r->nnz] = i;
    r->val[r->nnz++] = v;
    if (last) r->ptr[++r->n] = r->nnz;
}

void hr_ring_rows_free(hr_ring_rows *r)
{
    hr_free(r->ptr);
    hr_free(r->idx);
    hr_free(r->val);
    memset(r, 0, sizeof *r);
}

/* ---------------------------------------------------------------- B round the ring */

/* A share on the wire: u64 count, then count x (u64 offset, u64 length), then the encoded
 * blocks, each at an 8-byte aligned offset. */
static uint64_t share_bytes(const hr_model *m)
{
    uint64_t b = 8 + 16 * m->ii_count;
    for (uint64_t c = 0; c < m->ii_count; c++) b += (hr_iiblock_size(&m->ii[c]) + 7) & ~(uint64_t)7;
    return b;
}

static void share_pack(const hr_model *m, char *out)
{
    uint64_t *h = (uint64_t *)out, off = 8 + 16 * m->ii_count;
    h[0] = m->ii_count;
    for (uint64_t c = 0; c < m->ii_count; c++) {
        uint64_t len = hr_iiblock_size(&m->ii[c]);
        h[1 + 2 * c] = off;
        h[2 + 2 * c] = len;
        hr_iiblock_encode_into(&m->ii[c], out + off);
        off += (len + 7) & ~(uint64_t)7;
    }
}

static int share_parse(const char *in, uint64_t bytes, uint64_t n, hr_iiblock *v, uint64_t cap, uint64_t *count, hr_error *err)
{
    const uint64_t *h = (const uint64_t *)in;
    if (bytes < 8 || h[0] > cap || 8 + 16 * h[0] > bytes)
        return hr_error_set(err, HR_ERR_FORMAT, "ring: a share of item-item blocks does not parse");
    for (uint64_t c = 0; c < h[0]; c++) {
        uint64_t off = h[1 + 2 * c], len = h[2 + 2 * c];
        if (off > bytes || len > bytes - off || (off & 7)) return hr_error_set(err, HR_ERR_FORMAT, "ring: block %llu out of bounds", (unsigned long long)c);
        HR_TRY(hr_iiblock_view(in + off, len, n, "ring block", &v[c], err));
    }
    *count = h[0];
    return 0;
}

typedef hr_ring_block_fn block_fn;

/* Visit every block of B once on every rank, one share at a time. */
static int ring_blocks(hr_job *job, const hr_model *m, block_fn fn, void *ctx, double *t_score, double *t_comm)
{
    const int P = job->size;
    uint64_t mine = share_bytes(m), lim[3] = { mine, m->ii_count, 0 };
    for (uint64_t c = 0; c < m->ii_count; c++)
        if (!m->ii[c].dense && m->ii[c].nnz > lim[2]) lim[2] = m->ii[c].nnz;
    HR_TRY(hr_comm_allreduce_max_u64(job->comm, lim, 3));
    char *blk = hr_malloc(lim[0] + 8), *nxt = hr_malloc(lim[0] + 8);   /* a share can be GBs: few page faults */
    hr_iiblock *views = hr_malloc((lim[1] + 1) * sizeof *views);
    hr_iirows t = { hr_malloc((m->n_items + 1) * sizeof *t.rptr), hr_malloc((lim[2] + 1) * sizeof *t.rcol),
                    hr_malloc((lim[2] + 1) * sizeof *t.rval) };
    share_pack(m, blk);
    uint64_t cur = mine;
    int rc = 0;
    /* every rank makes all P - 1 shifts even after a local error (agreed at the end) */
    for (int step = 0; step < P; step++) {
        double ts = hr_now();
        uint64_t nv = 0;
        if (rc == 0) rc = share_parse(blk, cur, m->n_items, views, lim[1], &nv, &job->err);
        for (uint64_t c = 0; rc == 0 && c < nv; c++) {
            if (!views[c].dense) hr_iiblock_rows(&views[c], &t);
            rc = fn(ctx, &views[c], views[c].dense ? NULL : &t);
        }
        *t_score += hr_now() - ts;
        if (step + 1 < P) {
            double tc = hr_now();
            uint64_t got = 0;
            int r2 = hr_comm_ring_shift(job->comm, blk, cur, nxt, lim[0] + 8, &got);
            if (rc == 0) rc = r2;
            char *sw = blk;
            blk = nxt;
            nxt = sw;
            cur = got;
            *t_comm += hr_now() - tc;
        }
    }
    hr_free(blk);
    hr_free(nxt);
    hr_free(views);
    hr_free(t.rptr);
    hr_free(t.rcol);
    hr_free(t.rval);
    return hr_comm_agree(job->comm, rc, &job->err);
}

int hr_ring_ii_visit(hr_job *job, const hr_model *m, hr_ring_block_fn fn, void *ctx, double *t_score, double *t_comm)
{
    return ring_blocks(job, m, fn, ctx, t_score, t_comm);
}

typedef struct topn_ctx {
    const hr_iiquery *q;
    uint64_t nq;
    uint32_t *const *excl;
    const uint32_t *nexcl;
    const uint8_t *banned;
    hr_topbuf *heaps;
    hr_topkey *work;
    uint32_t wcap;
    float *S;
} topn_ctx;

static size_t lower(const uint32_t *ids, size_t n, uint64_t v) { return hr_topk_first_excluded(ids, n, (uint32_t)v); }

static int topn_block(void *vctx, const hr_iiblock *b, const hr_iirows *t)
{
    topn_ctx *c = vctx;
    for (uint64_t u0 = 0; u0 < c->nq; u0 += RR_QUERIES) {
        uint32_t nu = (uint32_t)(c->nq - u0 < RR_QUERIES ? c->nq - u0 : RR_QUERIES);
        for (uint32_t u = 0; u < nu; u++) hr_topbuf_borrow(&c->heaps[u0 + u], c->work + (size_t)u * c->wcap, c->wcap);
        for (uint64_t j0 = b->c0; j0 < b->c1; j0 += RR_COLS) {
            uint64_t j1 = b->c1 - j0 < RR_COLS ? b->c1 : j0 + RR_COLS, w = j1 - j0;
            hr_iiblock_score(b, t, c->q, u0, nu, j0, j1, c->S, w);
            for (uint64_t j = j0; c->banned && j < j1; j++)
                if (c->banned[j])
                    for (uint32_t u = 0; u < nu; u++) c->S[u * w + (j - j0)] = -INFINITY;
            for (uint32_t u = 0; u < nu; u++) {
                const uint32_t *ex = c->excl ? c->excl[u0 + u] : NULL;
                size_t ne = ex ? c->nexcl[u0 + u] : 0, a = ne ? lower(ex, ne, j0) : 0, z = ne ? lower(ex, ne, j1) : 0;
                hr_topbuf_push_row(&c->heaps[u0 + u], c->S + u * w, (uint32_t)j0, (uint32_t)w, ex ? ex + a : NULL, z - a);
            }
        }
        for (uint32_t u = 0; u < nu; u++) hr_topbuf_return(&c->heaps[u0 + u]);
    }
    return 0;
}

int hr_ring_topn_ii(hr_job *job, const hr_model *m, const hr_iiquery *q, uint64_t nq, uint32_t *const *excl,
                    const uint32_t *nexcl, const uint8_t *banned, hr_topbuf *heaps, double *t_score, double *t_comm)
{
    topn_ctx c = { q, nq, excl, nexcl, banned, heaps, NULL, 0, NULL };
    for (uint64_t x = 0; x < nq; x++) c.wcap = heaps[x].n > c.wcap ? heaps[x].n : c.wcap;
    c.wcap *= 2;
    c.work = hr_malloc(((size_t)RR_QUERIES * c.wcap + 1) * sizeof *c.work);
    c.S = hr_malloc((size_t)RR_QUERIES * RR_COLS * sizeof *c.S);
    *t_score = *t_comm = 0;
    int rc = ring_blocks(job, m, topn_block, &c, t_score, t_comm);
    hr_free(c.work);
    hr_free(c.S);
    return rc;
}

typedef struct rows_ctx {
    const hr_iiquery *q;
    uint64_t q0, nq, n;
    float *S;
} rows_ctx;

static int rows_block(void *vctx, const hr_iiblock *b, const hr_iirows *t)
{
    rows_ctx *c = vctx;
    for (uint64_t u0 = 0; u0 < c->nq; u0 += RR_QUERIES) {
        uint32_t nu = (uint32_t)(c->nq - u0 < RR_QUERIES ? c->nq - u0 : RR_QUERIES);
        hr_iiblock_score(b, t, c->q, c->q0 + u0, nu, b->c0, b->c1, c->S + u0 * c->n + b->c0, c->n);
    }
    return 0;
}

int hr_ring_rows_ii(hr_job *job, const hr_model *m, const hr_iiquery *q, uint64_t q0, uint64_t nq, float *S,
                    double *t_score, double *t_comm)
{
    rows_ctx c = { q, q0, nq, m->n_items, S };
    return ring_blocks(job, m, rows_block, &c, t_score, t_comm);
}

/* ---------------------------------------------------------------- fold-in */

int hr_ring_project(hr_job *job, const float *items, uint64_t n, int k, const hr_iiquery *q, uint64_t nq, float *Q)
{
    const int P = job->size;
    uint64_t maxb = (n + (uint64_t)P - 1) / (uint64_t)P, lo0 = (uint64_t)job->rank * n / (uint64_t)P,
             hi0 = (uint64_t)(job->rank + 1) * n / (uint64_t)P;
    float *blk = hr_malloc((maxb * (uint64_t)k + 1) * sizeof *blk), *nxt = hr_malloc((maxb * (uint64_t)k + 1) * sizeof *nxt);
    double *acc = hr_calloc(nq * (uint64_t)k + 1, sizeof *acc);
    memcpy(blk, items, (hi0 - lo0) * (uint64_t)k * sizeof *blk);
    int rc = 0, cur = job->rank;
    for (int step = 0; step < P; step++) {
        uint64_t lo = (uint64_t)cur * n / (uint64_t)P, hi = (uint64_t)(cur + 1) * n / (uint64_t)P;
        for (uint64_t x = 0; rc == 0 && x < nq; x++) {
            uint64_t e = q->ptr[x], e1 = q->ptr[x + 1];
            e += lower(q->idx + e, e1 - e, lo);
            for (; e < e1 && q->idx[e] < hi; e++) {
                const float *y = blk + (q->idx[e] - lo) * (uint64_t)k;
                for (int f = 0; f < k; f++) acc[x * (uint64_t)k + (uint64_t)f] += (double)q->val[e] * y[f];
            }
        }
        if (step + 1 < P) {
            uint64_t got;
            int r2 = hr_comm_ring_shift(job->comm, blk, (hi - lo) * (uint64_t)k * sizeof *blk, nxt, (maxb * (uint64_t)k + 1) * sizeof *nxt, &got);
            if (rc == 0) rc = r2;
            float *sw = blk;
            blk = nxt;
            nxt = sw;
            cur = (cur + P - 1) % P;
        }
    }
    for (uint64_t x = 0; x < nq * (uint64_t)k; x++) Q[x] = (float)acc[x];
    hr_free(blk);
    hr_free(nxt);
    hr_free(acc);
    return hr_comm_agree(job->comm, rc, &job->err);
}
