#include "jobs/foldin.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/timer.h"
#include "jobs/rowfetch.h"
#include "solvers/als.h"

int hr_fold_in_solves(const hr_model *m)
{
    return m->kind == HR_MODEL_FACTOR && (strcmp(m->algo, "als") == 0 || strcmp(m->algo, "ials") == 0);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* The model's training options, from its manifest "params" (lambda required; alpha / epsilon
 * default as train does). */
static int model_opts(const hr_model *m, hr_als_opts *o, hr_error *err)
{
    hr_als_default_opts(o);
    o->k = m->k;
    o->solver = HR_ALS_CHOLESKY;
    json_t *p = json_object_get(m->manifest, "params");
    json_t *l = json_object_get(p, "lambda");
    if (!json_is_number(l)) return hr_error_set(err, HR_ERR_FORMAT, "model: no params.lambda in the manifest: cannot fold users in");
    o->lambda = (float)json_number_value(l);
    json_t *a = json_object_get(p, "alpha"), *e = json_object_get(p, "epsilon");
    o->alpha = json_is_number(a) ? (float)json_number_value(a) : 1.0f;
    o->epsilon = json_is_number(e) ? (float)json_number_value(e) : 0.0f;
    return hr_als_check_opts(o, err);
}

int hr_fold_in_solve(hr_job *job, const hr_model *m, const hr_iiquery *q, uint64_t nq, float *X, double *seconds)
{
    const double t0 = hr_now();
    const int k = m->k, P = job->size, implicit = strcmp(m->algo, "ials") == 0;
    const uint64_t n = m->n_items, lo = hr_block_lo(n, P, job->rank), hi = hr_block_lo(n, P, job->rank + 1);
    hr_als_opts o;
    int rc = model_opts(m, &o, &job->err);
    rc = hr_comm_agree(job->comm, rc, &job->err);
    if (rc < 0) return rc;
    /* G = Y^T Y over every item: this block's Gram, summed over the ranks in double */
    float *G = NULL;
    if (implicit) {
        double *Gd = hr_calloc((size_t)k * k, sizeof *Gd);
        hr_als_compute_gram(m->item_factors, hi - lo, k, Gd, NULL);
        rc = hr_comm_allreduce_sum_f64(job->comm, Gd, (size_t)k * k);
        G = hr_malloc((size_t)k * k * sizeof *G);
        for (size_t e = 0; e < (size_t)k * k; e++) G[e] = (float)Gd[e];
        hr_free(Gd);
    }
    /* the rows of Y (and biases) the queries name: distinct ids, fetched from their blocks */
    const uint64_t nnz = q->ptr[nq];
    uint32_t *ids = hr_malloc((nnz + 1) * sizeof *ids), *col = hr_malloc((nnz + 1) * sizeof *col);
    memcpy(ids, q->idx, nnz * sizeof *ids);
    qsort(ids, nnz, sizeof *ids, cmp_u32);
    uint64_t nid = 0;
    for (uint64_t e = 0; e < nnz; e++)
        if (nid == 0 || ids[e] != ids[nid - 1]) ids[nid++] = ids[e];
    float *Y = hr_malloc((nid * (uint64_t)k + 1) * sizeof *Y), *yb = NULL;
    int frc = hr_fetch_rows(job, m->item_factors, n, k, ids, nid, Y);
    if (rc == 0) rc = frc;
    if (!implicit && m->item_bias) {
        yb = hr_malloc((nid + 1) * sizeof *yb);
        frc = hr_fetch_rows(job, m->item_bias, n, 1, ids, nid, yb);
        if (rc == 0) rc = frc;
    }
    uint64_t maxrow = 0;
    for (uint64_t x = 0; x < nq; x++) {
        if (q->ptr[x + 1] - q->ptr[x] > maxrow) maxrow = q->ptr[x + 1] - q->ptr[x];
        for (uint64_t e = q->ptr[x]; e < q->ptr[x + 1]; e++)
            col[e] = (uint32_t)((const uint32_t *)bsearch(&q->idx[e], ids, nid, sizeof *ids, cmp_u32) - ids);
    }
    if (rc == 0 && nq) {
        hr_als_rows rows = { nq, nid ? nid : 1, q->ptr, col, q->val, NULL };
        hr_als_work *w = hr_als_create_work(k, maxrow);
        memset(X, 0, nq * (size_t)k * sizeof *X);
        if (implicit) {
            rc = hr_als_solve_implicit(&rows, Y, G, &o, X, w, NULL, &job->err);
        } else {
            float *xb = hr_malloc(nq * sizeof *xb);   /* the user's bias: a constant of its list */
            rc = hr_als_solve_explicit(&rows, Y, yb, m->global_mean, &o, X, xb, w, NULL, &job->err);
            hr_free(xb);
        }
        hr_als_free_work(w);
    }
    hr_free(G); hr_free(ids); hr_free(col); hr_free(Y); hr_free(yb);
    rc = hr_comm_agree(job->comm, rc, &job->err);
    if (seconds) *seconds += hr_now() - t0;
    return rc;
}
