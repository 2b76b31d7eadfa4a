/* jobs/recommend_userknn.c — recommend's top-N for a user-user model; see the header. */
#include "jobs/recommend_userknn.h"

#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "core/timer.h"
#include "jobs/userknn_ring.h"
#include "solvers/knn.h"

#define UU_REC_BYTES ((uint64_t)64 << 20)   /* the score tables of one chunk of users */

/* A user's score table: the items its neighbours' rows touch, at most min(items, the sum of
 * their row lengths).  Dense (8 bytes an item) when that bound is over a quarter of the
 * catalogue, else open addressing (item + 1, fixed-point sum; load <= 1/2), so a pass holds as
 * many users as its tables allow rather than UU_REC_BYTES / (8 items) whatever their rows. */
typedef struct uu_table {
    uint64_t cap;         /* slots (a power of two); 0: dense, ni sums */
    uint32_t *key;        /* item + 1, 0 empty */
    int64_t *sum;
} uu_table;

static uint64_t table_cap(uint64_t touch, uint64_t ni)
{
    if (touch > ni / 4) return 0;
    uint64_t c = 16;
    while (c < 2 * touch) c <<= 1;
    return c;
}

static uint64_t table_bytes(uint64_t cap, uint64_t ni) { return cap ? cap * (sizeof(uint32_t) + sizeof(int64_t)) : ni * sizeof(int64_t); }

static inline void table_add(uu_table *t, uint32_t item, int64_t v)
{
    if (!t->cap) { t->sum[item] += v; return; }
    uint64_t h = ((uint64_t)item * 0x9E3779B97F4A7C15ull) >> 32, m = t->cap - 1;
    for (uint64_t i = h & m;; i = (i + 1) & m) {
        if (t->key[i] == item + 1) { t->sum[i] += v; return; }
        if (!t->key[i]) { t->key[i] = item + 1; t->sum[i] = v; return; }
    }
}

typedef struct rec_ctx {
    const hr_model *m;
    const uint32_t *mg;   /* the chunk's users */
    uint64_t n;
    int binary;
    uu_table *t;          /* n tables (scoring), or NULL (counting into touch) */
    uint64_t *touch;      /* n: entries of the neighbours' rows (counting pass) */
} rec_ctx;

/* One visiting block: the chunk's users add (or count) the rows of their neighbours it holds. */
static void visit(void *vctx, const hr_uknn_rows *v)
{
    const rec_ctx *c = vctx;
    for (uint64_t x = 0; x < c->n; x++) {
        const uint32_t *nr;
        const float *nv;
        const uint64_t L = hr_uu_neighbours(c->m, c->mg[x], &nr, &nv);
        for (uint64_t p = 0; p < L; p++) {
            const int64_t rv = hr_uu_find(v->gid, v->nrows, nr[p]);
            if (rv < 0) continue;
            if (!c->t) { c->touch[x] += v->ptr[rv + 1] - v->ptr[rv]; continue; }
            for (uint64_t e = v->ptr[rv]; e < v->ptr[rv + 1]; e++)
                table_add(&c->t[x], v->items[e], hr_knn_fix((double)nv[p] * (c->binary ? 1.0 : (double)v->vals[e])));
        }
    }
}

static int ring_pass(hr_job *job, const void *msg, uint64_t len, rec_ctx *cx, double *tc)
{
    void *copy = hr_malloc(len + 1);
    memcpy(copy, msg, len);
    return hr_uu_ring(job, copy, len, visit, cx, tc);   /* collective even after an error */
}

int hr_rec_uu_topn(hr_job *job, const hr_model *m, const hr_block *rows, const uint32_t *umodel, const uint32_t *imap,
                   const uint32_t *mg, uint64_t n, uint32_t *const *excl, const uint32_t *nexcl, const uint8_t *banned,
                   hr_topbuf *heaps, double *t_score, double *t_comm)
{
    const uint64_t ni = m->n_items ? m->n_items : 1;
    const int binary = m->row_weight == HR_ROWS_BINARY;
    void *msg;
    uint64_t len;
    hr_uu_pack(rows, umodel, NULL, imap, &msg, &len);   /* once: every pass sends a copy round */
    /* pass 0 counts each user's neighbour entries, which size its table; then chunks of users
     * whose tables fit UU_REC_BYTES (at least one user), one ring pass each */
    double t0 = hr_now(), tc = 0;
    uint64_t *touch = hr_calloc(n + 1, sizeof *touch);
    rec_ctx cc = { m, mg, n, binary, NULL, touch };
    int rc = ring_pass(job, msg, len, &cc, &tc);
    uint64_t *first = hr_malloc((n + 2) * sizeof *first), chunks = 0, biggest = 0;
    for (uint64_t x = 0; x < n;) {
        uint64_t bytes = 0, x1 = x;
        while (x1 < n) {
            const uint64_t b = table_bytes(table_cap(touch[x1], ni), ni);
            if (x1 > x && bytes + b > UU_REC_BYTES) break;
            bytes += b;
            x1++;
        }
        first[chunks++] = x;
        if (bytes > biggest) biggest = bytes;
        x = x1;
    }
    first[chunks] = n;
    uint64_t passes = chunks;
    if (rc == 0) rc = hr_comm_allreduce_max_u64(job->comm, &passes, 1);   /* every rank makes as many ring passes */
    *t_comm += tc;
    *t_score += hr_now() - t0 - tc;
    uint32_t wcap = 2;
    for (uint64_t x = 0; x < n; x++)
        if (2 * heaps[x].n > wcap) wcap = 2 * heaps[x].n;
    char *arena = hr_malloc(biggest + 1);
    uu_table *t = hr_malloc((n + 1) * sizeof *t);
    float *S = hr_malloc(ni * sizeof *S);
    hr_topkey *work = hr_malloc((uint64_t)wcap * sizeof *work);
    for (uint64_t pass = 0; pass < passes; pass++) {
        const uint64_t x0 = pass < chunks ? first[pass] : n, x1 = pass < chunks ? first[pass + 1] : n;
        t0 = hr_now();
        tc = 0;
        char *at = arena;
        for (uint64_t x = x0; x < x1; x++) {   /* carve the chunk's tables out of the arena, cleared */
            uu_table *u = &t[x - x0];
            u->cap = table_cap(touch[x], ni);
            const uint64_t b = table_bytes(u->cap, ni);
            memset(at, 0, b);
            u->sum = (int64_t *)(void *)at;
            u->key = u->cap ? (uint32_t *)(void *)(at + u->cap * sizeof(int64_t)) : NULL;
            at += b;
        }
        rec_ctx cx = { m, mg + x0, x1 - x0, binary, t, NULL };
        int r2 = ring_pass(job, msg, len, &cx, &tc);
        if (rc == 0) rc = r2;
        for (uint64_t x = x0; rc == 0 && x < x1; x++) {
            const uu_table *u = &t[x - x0];
            if (!u->cap) {
                for (uint64_t j = 0; j < m->n_items; j++) S[j] = (float)hr_knn_unfix(u->sum[j]);
            } else {
                memset(S, 0, m->n_items * sizeof *S);
                for (uint64_t i = 0; i < u->cap; i++)
                    if (u->key[i]) S[u->key[i] - 1] = (float)hr_knn_unfix(u->sum[i]);
            }
            if (banned)
                for (uint64_t j = 0; j < m->n_items; j++)
                    if (banned[j]) S[j] = -INFINITY;
            hr_topbuf_borrow(&heaps[x], work, wcap);
            hr_topbuf_push_row(&heaps[x], S, 0, (uint32_t)m->n_items, excl ? excl[x] : NULL, excl ? nexcl[x] : 0);
            hr_topbuf_return(&heaps[x]);
        }
        *t_comm += tc;
        *t_score += hr_now() - t0 - tc;
    }
    hr_free(msg);
    hr_free(touch);
    hr_free(first);
    hr_free(arena);
    hr_free(t);
    hr_free(S);
    hr_free(work);
    return hr_comm_agree(job->comm, rc, &job->err);
}
