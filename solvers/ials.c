/* solvers/ials.c — implicit ALS (Hu-Koren-Volinsky): the Gram partial, and the Cholesky and
 * conjugate-gradient row solvers.  Options, workspace and explicit ALS are in solvers/als.c. */
#include "core/alloc.h"
#include "solvers/als.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "core/timer.h"
#include "solvers/als_kern.h"
#include "solvers/blas.h"

/* CG stops a row once |r|^2 falls below this (the `implicit` library's threshold). */
#define CG_TOL 1e-20f
#define NONRESIDENT UINT64_MAX

void hr_als_compute_gram(const float *Y, uint64_t nrows, int k, double *G, hr_als_stats *stats)
{
    double t0 = hr_now();
    memset(G, 0, sizeof(double) * (size_t)k * (size_t)k);
    /* In double: a product of two floats is exact in double, so partial sums over different
     * row subsets (different rank counts) differ only around 1e-16 and their reduced sum
     * rounds to the same float G.  A float ssyrk would differ around 1e-7, which three CG
     * steps amplify to 1e-3 across rank counts.  Rows are converted in bounded slices. */
    enum { SLICE = 1024 };
    double buf[SLICE * 64];
    const uint64_t per = (uint64_t)(SLICE * 64) / (uint64_t)k ? (uint64_t)(SLICE * 64) / (uint64_t)k : 1;
    double *tmp = (uint64_t)k <= 64 ? buf : hr_malloc((size_t)k * sizeof *tmp);
    uint64_t step = (uint64_t)k <= 64 ? per : 1;
    for (uint64_t s0 = 0; s0 < nrows; s0 += step) {
        uint64_t n = nrows - s0 < step ? nrows - s0 : step;
        for (uint64_t q = 0; q < n * (uint64_t)k; q++) tmp[q] = Y[s0 * (uint64_t)k + q];
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, k, (int)n, 1.0, tmp, k, 1.0, G, k);
    }
    if (tmp != buf) hr_free(tmp);
    for (int i = 0; i < k; i++) /* mirror: callers and the solvers use G as a full matrix */
        for (int j = i + 1; j < k; j++) G[(size_t)j * k + i] = G[(size_t)i * k + j];
    if (stats) {
        stats->flops += (double)nrows * k * k;
        stats->seconds += hr_now() - t0;
    }
}

typedef struct implicit_ctx {
    const hr_als_rows *rows;
    const float *Y;
    float alpha, epsilon;
    int k;
} implicit_ctx;

/* c - 1 for a value, or -1 for a value that is negative or not finite (the caller reports it). */
static inline float conf_m1(const implicit_ctx *c, float v)
{
    if (!(v >= 0.0f) || !isfinite(v)) return -1.0f;
    return c->epsilon > 0.0f ? c->alpha * log1pf(v / c->epsilon) : c->alpha * v;
}

static int bad_entry(const implicit_ctx *c, uint64_t u, uint64_t e, hr_error *err)
{
    if (c->rows->col[e] >= c->rows->ncols)
        return hr_error_set(err, HR_ERR_ARG, "implicit ALS: local row %" PRIu64 " refers to column %" PRIu32
                            " but Y has %" PRIu64 " rows", u, c->rows->col[e], c->rows->ncols);
    return hr_error_set(err, HR_ERR_ARG, "implicit ALS: local row %" PRIu64 " has value %g: implicit values must"
                        " be finite and >= 0 (confidence 1 + alpha f(value) >= 1)", u, (double)c->rows->val[e]);
}

/* Gathers entries [s, s+n) of row u: dst rows = y (ld k), wt = c - 1. */
static int gather_plain(const implicit_ctx *c, uint64_t u, uint64_t s, uint64_t n, float *dst, float *wt,
                        hr_error *err)
{
    const hr_als_rows *R = c->rows;
    const int k = c->k;
    for (uint64_t j = 0; j < n; j++) {
        uint32_t col = R->col[s + j];
        float cm1 = conf_m1(c, R->val[s + j]);
        if (col >= R->ncols || cm1 < 0.0f) return bad_entry(c, u, s + j, err);
        hr_als_prefetch(R, c->Y, s + j, s + n, k);
        memcpy(dst + j * (uint64_t)k, c->Y + (size_t)col * k, sizeof(float) * (size_t)k);
        wt[j] = cm1;
    }
    return 0;
}

/* ---- Cholesky --------------------------------------------------------------------------------
 * M = (G + lambda I) + sum_i (c_i - 1) y_i y_i^T: start from a copy of G + lambda I and let ssyrk
 * add the gathered rows scaled by sqrt(c_i - 1) (beta = 1).  rhs = sum_i c_i y_i is accumulated
 * while gathering, from the unscaled row (c_i / sqrt(c_i - 1) would divide by zero at c = 1). */
static int build_implicit(const implicit_ctx *c, hr_als_work *w, uint64_t u, float shift, double *trace,
                          hr_error *err)
{
    const hr_als_rows *R = c->rows;
    const int k = c->k;
    memcpy(w->mat, w->greg, sizeof(float) * (size_t)k * (size_t)k);
    memset(w->vec, 0, sizeof(float) * (size_t)k);
    const uint64_t beg = R->rowptr[u], end = R->rowptr[u + 1];
    for (uint64_t s = beg; s < end; s += w->gather_rows) {
        uint64_t nc = end - s < w->gather_rows ? end - s : w->gather_rows;
        for (uint64_t j = 0; j < nc; j++) {
            uint32_t col = R->col[s + j];
            float cm1 = conf_m1(c, R->val[s + j]);
            if (col >= R->ncols || cm1 < 0.0f) return bad_entry(c, u, s + j, err);
            hr_als_prefetch(R, c->Y, s + j, end, k);
            const float *y = c->Y + (size_t)col * k;
            hr_als_scale_copy(sqrtf(cm1), y, w->gather + j * (uint64_t)k, k);
            hr_als_axpy(1.0f + cm1, y, w->vec, k);
        }
        cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, k, (int)nc, 1.0f, w->gather, k, 1.0f, w->mat, k);
    }
    double tr = 0.0;
    for (int i = 0; i < k; i++) {
        float *d = w->mat + (size_t)i * k + i;
        tr += *d;
        *d += shift;
    }
    *trace = tr;
    return 0;
}

static int solve_cholesky(const implicit_ctx *c, hr_als_work *w, float *X, hr_als_stats *st, hr_error *err)
{
    const hr_als_rows *R = c->rows;
    const int k = c->k;
    uint64_t nonempty = 0;
    for (uint64_t u = 0; u < R->nrows; u++) {
        float *x = X + (size_t)u * k;
        if (R->rowptr[u + 1] == R->rowptr[u]) {
            memset(x, 0, sizeof(float) * (size_t)k);
            continue;
        }
        nonempty++;
        double trace = 0.0;
        HR_TRY(build_implicit(c, w, u, 0.0f, &trace, err));
        int info = hr_als_potrf(w->mat, k, k);
        float shift = 0.0f;
        for (int attempt = 1; info != 0 && attempt <= HR_ALS_MAX_RETRIES; attempt++) {
            shift = hr_als_retry_shift(attempt, trace);
            st->retries++;
            HR_TRY(build_implicit(c, w, u, shift, &trace, err));
            info = hr_als_potrf(w->mat, k, k);
        }
        if (info != 0)
            return hr_error_set(err, HR_ERR_NUMERIC,
                                "implicit ALS: the normal matrix of local row %" PRIu64 " is not positive"
                                " definite even after adding %g to its diagonal (NaN/Inf in the factors?)",
                                u, (double)shift);
        hr_als_solve_l(w->mat, k, k, w->vec);
        hr_als_solve_lt(w->mat, k, k, w->vec);
        if (!hr_als_all_finite(w->vec, k))
            return hr_error_set(err, HR_ERR_NUMERIC, "implicit ALS: the solution of local row %" PRIu64
                                " is not finite (NaN/Inf in the factors or values?)", u);
        memcpy(x, w->vec, sizeof(float) * (size_t)k);
    }
    uint64_t nnz = R->rowptr[R->nrows] - R->rowptr[0];
    st->flops += 2.0 * (double)nnz * k * k + (double)nonempty * k * k * k / 3.0;
    return 0;
}

/* ---- conjugate gradient ------------------------------------------------------------------------
 * Per row, A = G + lambda I + Y_u^T (C_u - I) Y_u and b = Y_u^T c_u, never formed:
 *   A v = (G + lambda I) v + Y_u^T ((c - 1) .* (Y_u v)).
 * A batch of up to HR_ALS_BATCH consecutive rows is worked together: its rows of X are contiguous,
 * so (G + lambda I) times the batch's vectors is one sgemm per CG step; the sparse parts are
 * products with the row's gathered Y_u, which stays in the gather buffer (L2) for all the steps
 * (one random-access pass over Y instead of cg_steps + 1).
 * A row longer than the whole buffer is instead streamed in HR_ALS_CHUNK pieces at every step. */

/* out += Y^T w with w = (c - cm1 .* (Y v)) (residual) or w = cm1 .* (Y v) (step); Y is n x k.
 * Y v is our own dot per row, not sgemv: multi-threaded OpenBLAS splits that sgemv's rows
 * between threads and the split changes the rounding (measured: the factors then differ with
 * OPENBLAS_NUM_THREADS=1 and 2); it costs ~5% of a CG iteration.  The transposed product stays
 * sgemv (its threaded split is over the k outputs, bit-identical; own axpy code was 30% slower). */
static void sparse_apply(const float *Yb, const float *wt, float *tmp, int n, int k, const float *v, float *out,
                         int residual)
{
    for (int j = 0; j < n; j++) tmp[j] = hr_als_dot(Yb + (size_t)j * k, v, k);
    if (residual)
        for (int j = 0; j < n; j++) tmp[j] = (1.0f + wt[j]) - wt[j] * tmp[j];
    else
        for (int j = 0; j < n; j++) tmp[j] *= wt[j];
    cblas_sgemv(CblasRowMajor, CblasTrans, n, k, 1.0f, Yb, k, tmp, 1, 1.0f, out, 1);
}

static int sparse_row(const implicit_ctx *c, hr_als_work *w, uint64_t u, uint64_t off, const float *v, float *out,
                      int residual, hr_error *err)
{
    const uint64_t beg = c->rows->rowptr[u], end = c->rows->rowptr[u + 1];
    if (off != NONRESIDENT) {
        sparse_apply(w->gather + off * (uint64_t)c->k, w->wt + off, w->tmp + off, (int)(end - beg), c->k, v, out,
                     residual);
        return 0;
    }
    for (uint64_t s = beg; s < end; s += HR_ALS_CHUNK) {
        uint64_t nc = end - s < HR_ALS_CHUNK ? end - s : HR_ALS_CHUNK;
        HR_TRY(gather_plain(c, u, s, nc, w->chunk, w->chunk_wt, err));
        sparse_apply(w->chunk, w->chunk_wt, w->chunk_tmp, (int)nc, c->k, v, out, residual);
    }
    return 0;
}

static int cg_not_finite(uint64_t u, hr_error *err)
{
    return hr_error_set(err, HR_ERR_NUMERIC, "implicit ALS (cg): the residual or solution of local row %" PRIu64
                        " is not finite (NaN/Inf in G, the factors, the warm start or the values?)", u);
}

static int solve_cg(const implicit_ctx *c, hr_als_work *w, int steps, float *X, hr_als_stats *st, hr_error *err)
{
    const hr_als_rows *R = c->rows;
    const int k = c->k;
    const size_t row_bytes = sizeof(float) * (size_t)k;
    uint64_t nonempty = 0;
    for (uint64_t u0 = 0; u0 < R->nrows;) {
        /* Form the batch: consecutive rows while they fit; a row that can never fit joins as
         * nonresident, a row that merely does not fit now starts the next batch.
         * Slots: OpenBLAS rounds a row of an sgemm according to its position in the block
         * (and only that), so with R->key a row always takes slot key % HR_ALS_BATCH; a taken
         * slot starts the next batch.  A row's arithmetic is then the same whichever rows share
         * its batch -- on any rank count.  Every product runs on all HR_ALS_BATCH slots. */
        uint64_t slot_row[HR_ALS_BATCH];
        for (int q = 0; q < HR_ALS_BATCH; q++) slot_row[q] = UINT64_MAX;
        int nb = 0;
        uint64_t pos = 0, u = u0;
        while (nb < HR_ALS_BATCH && u < R->nrows) {
            int q = R->key ? (int)(R->key[u] % HR_ALS_BATCH) : nb;
            if (slot_row[q] != UINT64_MAX) break;
            uint64_t beg = R->rowptr[u], n = R->rowptr[u + 1] - beg;
            uint64_t off = NONRESIDENT;
            if (n <= w->gather_rows) {
                if (pos + n > w->gather_rows) break;
                HR_TRY(gather_plain(c, u, beg, n, w->gather + pos * (uint64_t)k, w->wt + pos, err));
                off = pos;
                pos += n;
            }
            w->cg_off[q] = off;
            slot_row[q] = u;
            nb++;
            u++;
        }
        /* r = b - A x, starting from -(G + lambda I) x; cg_p holds the slotted copy of x. */
        memset(w->cg_p, 0, (size_t)HR_ALS_BATCH * row_bytes);
        for (int q = 0; q < HR_ALS_BATCH; q++)
            if (slot_row[q] != UINT64_MAX) memcpy(w->cg_p + (size_t)q * k, X + (size_t)slot_row[q] * k, row_bytes);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, HR_ALS_BATCH, k, k, -1.0f, w->cg_p, k, w->greg, k, 0.0f,
                    w->cg_r, k);
        int active = 0;
        for (int q = 0; q < HR_ALS_BATCH; q++) {
            uint64_t ru = slot_row[q];
            if (ru == UINT64_MAX) continue;
            float *x = X + (size_t)ru * k, *r = w->cg_r + (size_t)q * k, *p = w->cg_p + (size_t)q * k;
            if (R->rowptr[ru + 1] == R->rowptr[ru]) { /* b = 0: the solution is 0 */
                memset(x, 0, row_bytes);
                memset(p, 0, row_bytes);
                w->cg_rs[q] = 0.0f;
                continue;
            }
            nonempty++;
            HR_TRY(sparse_row(c, w, ru, w->cg_off[q], x, r, 1, err));
            memcpy(p, r, row_bytes);
            w->cg_rs[q] = hr_als_dot(r, r, k);
            /* A NaN residual would compare as "converged" below and leave x silently stale. */
            if (!isfinite(w->cg_rs[q])) return cg_not_finite(ru, err);
            if (w->cg_rs[q] >= CG_TOL) active++;
        }
        for (int step = 0; step < steps && active > 0; step++) {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, HR_ALS_BATCH, k, k, 1.0f, w->cg_p, k, w->greg, k, 0.0f,
                        w->cg_ap, k);
            active = 0;
            for (int q = 0; q < HR_ALS_BATCH; q++) {
                uint64_t ru = slot_row[q];
                if (ru == UINT64_MAX) continue;
                float rs = w->cg_rs[q];
                if (!(rs >= CG_TOL)) continue; /* converged (or an empty row) */
                float *x = X + (size_t)ru * k, *r = w->cg_r + (size_t)q * k, *p = w->cg_p + (size_t)q * k;
                float *ap = w->cg_ap + (size_t)q * k;
                HR_TRY(sparse_row(c, w, ru, w->cg_off[q], p, ap, 0, err));
                float pap = hr_als_dot(p, ap, k);
                if (!(pap > 0.0f)) { /* no descent possible (A singular along p): keep x */
                    w->cg_rs[q] = 0.0f;
                    continue;
                }
                float a = rs / pap;
                hr_als_axpy(a, p, x, k);
                hr_als_axpy(-a, ap, r, k);
                float rs_new = hr_als_dot(r, r, k);
                if (!isfinite(rs_new)) return cg_not_finite(ru, err);
                if (rs_new >= CG_TOL) {
                    hr_als_xpby(r, rs_new / rs, p, k);
                    active++;
                }
                w->cg_rs[q] = rs_new;
            }
        }
        for (int q = 0; q < HR_ALS_BATCH; q++)
            if (slot_row[q] != UINT64_MAX && !hr_als_all_finite(X + (size_t)slot_row[q] * k, k)) return cg_not_finite(slot_row[q], err);
        u0 = u;
    }
    uint64_t nnz = R->rowptr[R->nrows] - R->rowptr[0];
    st->flops += (steps + 1.0) * (2.0 * (double)nonempty * k * k + 4.0 * (double)nnz * k);
    return 0;
}

int hr_als_solve_implicit(const hr_als_rows *rows, const float *Y, const float *G,
                          const hr_als_opts *o, float *X, hr_als_work *w, hr_als_stats *stats,
                          hr_error *err)
{
    HR_TRY(hr_als_check_opts(o, err));
    if (!w || w->k != o->k)
        return hr_error_set(err, HR_ERR_ARG, "implicit ALS: workspace made for k = %d, options say k = %d",
                            w ? w->k : 0, o->k);
    hr_als_stats dummy = { 0 };
    hr_als_stats *st = stats ? stats : &dummy;
    double t0 = hr_now();
    const int k = o->k;
    memcpy(w->greg, G, sizeof(float) * (size_t)k * (size_t)k);
    for (int i = 0; i < k; i++) w->greg[(size_t)i * k + i] += o->lambda;
    implicit_ctx c = { rows, Y, o->alpha, o->epsilon, k };
    int rc = o->solver == HR_ALS_CHOLESKY ? solve_cholesky(&c, w, X, st, err) : solve_cg(&c, w, o->cg_steps, X, st, err);
    if (rc < 0) return rc;
    st->rows += rows->nrows;
    st->seconds += hr_now() - t0;
    return 0;
}
