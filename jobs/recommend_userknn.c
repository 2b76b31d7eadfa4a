/* jobs/recommend_userknn.c — recommend's top-N for a user-user model; see the header. */
#include "jobs/recommend_userknn.h"

#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "core/timer.h"
#include "jobs/userknn_ring.h"
#include "solvers/knn.h"

#define UU_REC_BYTES ((uint64_t)64 << 20)   /* fixed-point score rows of one chunk of users */

typedef struct rec_ctx {
    const hr_model *m;
    const uint32_t *mg;   /* the chunk's users */
    uint64_t n, ni;
    int binary;
    int64_t *Z;           /* n x ni */
} rec_ctx;

/* One visiting block: the chunk's users add the rows of their neighbours it holds. */
static void visit(void *vctx, const hr_uknn_rows *v)
{
    const rec_ctx *c = vctx;
    for (uint64_t x = 0; x < c->n; x++) {
        const uint32_t *nr;
        const float *nv;
        const uint64_t L = hr_uu_neighbours(c->m, c->mg[x], &nr, &nv);
        int64_t *z = c->Z + x * c->ni;
        for (uint64_t p = 0; p < L; p++) {
            const int64_t rv = hr_uu_find(v->gid, v->nrows, nr[p]);
            if (rv < 0) continue;
            for (uint64_t e = v->ptr[rv]; e < v->ptr[rv + 1]; e++)
                z[v->items[e]] += hr_knn_fix((double)nv[p] * (c->binary ? 1.0 : (double)v->vals[e]));
        }
    }
}

int hr_rec_uu_topn(hr_job *job, const hr_model *m, const hr_block *rows, const uint32_t *umodel, const uint32_t *imap,
                   const uint32_t *mg, uint64_t n, uint32_t *const *excl, const uint32_t *nexcl, const uint8_t *banned,
                   hr_topbuf *heaps, double *t_score, double *t_comm)
{
    const uint64_t ni = m->n_items ? m->n_items : 1;
    uint64_t chunk = UU_REC_BYTES / (ni * sizeof(int64_t)), passes;
    if (chunk < 1) chunk = 1;
    if (chunk > n) chunk = n ? n : 1;
    passes = (n + chunk - 1) / chunk;
    int rc = hr_comm_allreduce_max_u64(job->comm, &passes, 1);   /* every rank makes as many ring passes */
    if (rc < 0) return rc;
    uint32_t wcap = 2;
    for (uint64_t x = 0; x < n; x++)
        if (2 * heaps[x].n > wcap) wcap = 2 * heaps[x].n;
    int64_t *Z = hr_malloc(chunk * ni * sizeof *Z);
    float *S = hr_malloc(ni * sizeof *S);
    hr_topkey *work = hr_malloc((uint64_t)wcap * sizeof *work);
    void *msg, *copy;
    uint64_t len;
    hr_uu_pack(rows, umodel, NULL, imap, &msg, &len);   /* once: every pass sends a copy round */
    for (uint64_t pass = 0; pass < passes; pass++) {
        const uint64_t x0 = pass * chunk < n ? pass * chunk : n, x1 = x0 + chunk < n ? x0 + chunk : n;
        const double t0 = hr_now();
        double tc = 0;
        memset(Z, 0, chunk * ni * sizeof *Z);
        rec_ctx cx = { m, mg + x0, x1 - x0, ni, m->row_weight == HR_ROWS_BINARY, Z };
        copy = hr_malloc(len + 1);
        memcpy(copy, msg, len);
        int r2 = hr_uu_ring(job, copy, len, visit, &cx, &tc);   /* collective even after an error */
        if (rc == 0) rc = r2;
        for (uint64_t x = x0; rc == 0 && x < x1; x++) {
            const int64_t *z = Z + (x - x0) * ni;
            for (uint64_t j = 0; j < m->n_items; j++) S[j] = banned && banned[j] ? -INFINITY : (float)hr_knn_unfix(z[j]);
            hr_topbuf_borrow(&heaps[x], work, wcap);
            hr_topbuf_push_row(&heaps[x], S, 0, (uint32_t)m->n_items, excl ? excl[x] : NULL, excl ? nexcl[x] : 0);
            hr_topbuf_return(&heaps[x]);
        }
        *t_comm += tc;
        *t_score += hr_now() - t0 - tc;
    }
    hr_free(msg);
    hr_free(Z);
    hr_free(S);
    hr_free(work);
    return hr_comm_agree(job->comm, rc, &job->err);
}
