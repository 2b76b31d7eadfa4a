/* solvers/als.c — ALS options, the shared workspace, and the explicit (ALS-WR + biases) solver.
 * The implicit solvers live in solvers/ials.c, the loss functions in solvers/als_loss.c. */
#include "solvers/als.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "core/timer.h"
#include "solvers/als_kern.h"
#include "solvers/blas.h"

void hr_als_default_opts(hr_als_opts *o)
{
    o->k = 64;
    o->lambda = 0.05f;
    o->alpha = 40.0f;
    o->epsilon = 0.0f;
    o->cg_steps = 3;
    o->solver = HR_ALS_CG;
}

int hr_als_check_opts(const hr_als_opts *o, hr_error *err)
{
    if (o->k < 1 || o->k > HR_ALS_MAX_K)
        return hr_error_set(err, HR_ERR_ARG, "factors (k) = %d: must be in 1..%d", o->k, HR_ALS_MAX_K);
    if (!(o->lambda >= 0.0f) || !isfinite(o->lambda))
        return hr_error_set(err, HR_ERR_ARG, "lambda = %g: must be finite and >= 0", (double)o->lambda);
    if (!(o->alpha >= 0.0f) || !isfinite(o->alpha))
        return hr_error_set(err, HR_ERR_ARG, "alpha = %g: must be finite and >= 0", (double)o->alpha);
    if (!(o->epsilon >= 0.0f) || !isfinite(o->epsilon))
        return hr_error_set(err, HR_ERR_ARG, "epsilon = %g: must be finite and >= 0 (0 = linear confidence)",
                            (double)o->epsilon);
    if (o->cg_steps < 1 || o->cg_steps > HR_ALS_MAX_CG_STEPS)
        return hr_error_set(err, HR_ERR_ARG, "cg_steps = %d: must be in 1..%d", o->cg_steps, HR_ALS_MAX_CG_STEPS);
    if (o->solver != HR_ALS_CHOLESKY && o->solver != HR_ALS_CG)
        return hr_error_set(err, HR_ERR_ARG, "solver = %d: must be cholesky (%d) or cg (%d)", (int)o->solver,
                            HR_ALS_CHOLESKY, HR_ALS_CG);
    return 0;
}

/* ---- workspace -------------------------------------------------------------------------------- */

#define ALIGN 64u

static size_t round_up(size_t n) { return (n + ALIGN - 1) / ALIGN * ALIGN; }

/* Gather capacity.  CG keeps a whole batch of rows resident, so aim for HR_ALS_BATCH rows of the
 * longest length, but never above ~1 MiB (2^18 floats: the batch then stays in L2 across the CG
 * steps) and never below one streaming chunk. */
static uint64_t gather_capacity(int k, uint64_t max_row_nnz)
{
    uint64_t cap_max = ((uint64_t)1 << 18) / (uint64_t)(k + 2);
    if (cap_max < HR_ALS_CHUNK) cap_max = HR_ALS_CHUNK;
    uint64_t want = max_row_nnz > cap_max / HR_ALS_BATCH ? cap_max : max_row_nnz * HR_ALS_BATCH;
    return want < HR_ALS_CHUNK ? HR_ALS_CHUNK : want;
}

/* One layout routine serves both the estimate (base == NULL) and the carving, so they cannot
 * disagree.  Returns the bytes used after the aligned start. */
static size_t layout(hr_als_work *w, char *base, int k, uint64_t max_row_nnz)
{
    uint64_t cap = gather_capacity(k, max_row_nnz);
    size_t kk = (size_t)k, off = 0;
#define CARVE(field, type, count)                                             \
    do {                                                                      \
        if (base) w->field = (type *)(void *)(base + off);                    \
        off += round_up(sizeof(type) * (size_t)(count));                      \
    } while (0)
    CARVE(gather, float, cap * (kk + 2));
    CARVE(wt, float, cap);
    CARVE(tmp, float, cap);
    CARVE(chunk, float, (size_t)HR_ALS_CHUNK * kk);
    CARVE(chunk_wt, float, HR_ALS_CHUNK);
    CARVE(chunk_tmp, float, HR_ALS_CHUNK);
    CARVE(mat, float, (kk + 2) * (kk + 2));
    CARVE(vec, float, kk + 2);
    CARVE(greg, float, kk * kk);
    CARVE(cg_p, float, (size_t)HR_ALS_BATCH * kk);
    CARVE(cg_r, float, (size_t)HR_ALS_BATCH * kk);
    CARVE(cg_ap, float, (size_t)HR_ALS_BATCH * kk);
    CARVE(cg_rs, float, HR_ALS_BATCH);
    CARVE(cg_off, uint64_t, HR_ALS_BATCH);
#undef CARVE
    if (base) {
        w->k = k;
        w->gather_rows = cap;
    }
    return off;
}

size_t hr_als_estimate_work(int k, uint64_t max_row_nnz)
{
    if (k < 1 || k > HR_ALS_MAX_K) return 0;
    /* struct + worst-case misalignment of the caller's buffer + the arrays */
    return round_up(sizeof(hr_als_work)) + ALIGN + layout(NULL, NULL, k, max_row_nnz);
}

hr_als_work *hr_als_init_work(void *buf, size_t bytes, int k, uint64_t max_row_nnz)
{
    if (!buf || k < 1 || k > HR_ALS_MAX_K || bytes < hr_als_estimate_work(k, max_row_nnz)) return NULL;
    uintptr_t p = ((uintptr_t)buf + ALIGN - 1) / ALIGN * ALIGN;
    hr_als_work *w = (hr_als_work *)p;
    memset(w, 0, sizeof *w);
    layout(w, (char *)p + round_up(sizeof *w), k, max_row_nnz);
    return w;
}

hr_als_work *hr_als_create_work(int k, uint64_t max_row_nnz)
{
    size_t n = hr_als_estimate_work(k, max_row_nnz);
    if (n == 0) return NULL;
    void *buf = hr_malloc(n);
    hr_als_work *w = hr_als_init_work(buf, n, k, max_row_nnz);
    /* hr_malloc returns at least 16-byte aligned memory; remember where the block starts so
     * free can find it: the struct sits at the first 64-byte boundary, i.e. within ALIGN bytes. */
    w->owned = (int)((char *)w - (char *)buf) + 1;
    return w;
}

void hr_als_free_work(hr_als_work *w)
{
    if (!w || !w->owned) return;
    hr_free((char *)w - (w->owned - 1));
}

/* ---- explicit ALS-WR with biases --------------------------------------------------------------
 * Row u has m = k + (xbias != NULL) unknowns [x_u, b_u].  Its design rows are a_i = [y_i, 1] and
 * targets t_i = r_ui - mu - b_i.  We gather [a_i, t_i] into a block A_t with ld = m + 1 columns, so
 * ONE ssyrk yields the bordered matrix
 *      [ A^T A   A^T t ]        and after adding lambda n_u to the first m diagonal entries
 *      [ t^T A   t^T t ]        and factoring L L^T, the last row of L is (L11^-1 A^T t)^T,
 * i.e. the forward solve comes for free; one transposed triangular solve gives the answer.
 * The Schur complement of the border, t^T t - t^T A M^-1 A^T t, is >= 0 but may round to 0, so
 * the corner is replaced by 2 t^T t + 1: the border then never fails and L11, z are unchanged. */

typedef struct explicit_ctx {
    const hr_als_rows *rows;
    const float *Y, *ybias;
    float mu, lambda;
    int k, m, ld;
} explicit_ctx;

/* Builds the bordered matrix of row u into w->mat with `shift` added to the diagonal.  Returns 0
 * or HR_ERR_ARG (col out of range).  *trace gets the trace of the regularised m x m block. */
static int build_explicit(const explicit_ctx *c, hr_als_work *w, uint64_t u, float shift, double *trace,
                          hr_error *err)
{
    const hr_als_rows *R = c->rows;
    const int k = c->k, m = c->m, ld = c->ld;
    const uint64_t beg = R->rowptr[u], end = R->rowptr[u + 1];
    for (uint64_t s = beg; s < end; s += w->gather_rows) {
        uint64_t nc = end - s < w->gather_rows ? end - s : w->gather_rows;
        for (uint64_t j = 0; j < nc; j++) {
            uint32_t col = R->col[s + j];
            if (col >= R->ncols)
                return hr_error_set(err, HR_ERR_ARG, "explicit ALS: local row %" PRIu64 " refers to column %" PRIu32
                                    " but Y has %" PRIu64 " rows", u, col, R->ncols);
            hr_als_prefetch(R, c->Y, s + j, end, k);
            float *dst = w->gather + j * (uint64_t)ld;
            memcpy(dst, c->Y + (size_t)col * k, sizeof(float) * (size_t)k);
            if (m > k) dst[k] = 1.0f;
            dst[m] = R->val[s + j] - c->mu - (c->ybias ? c->ybias[col] : 0.0f);
        }
        cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, ld, (int)nc, 1.0f, w->gather, ld, s == beg ? 0.0f : 1.0f,
                    w->mat, ld);
    }
    const float reg = c->lambda * (float)(end - beg);
    double tr = 0.0;
    for (int i = 0; i < m; i++) {
        float *d = w->mat + (size_t)i * ld + i;
        *d += reg;
        tr += *d;
        *d += shift;
    }
    float *corner = w->mat + (size_t)m * ld + m;
    *corner = 2.0f * *corner + 1.0f;
    *trace = tr;
    return 0;
}

int hr_als_solve_explicit(const hr_als_rows *rows, const float *Y, const float *ybias, float mu,
                          const hr_als_opts *o, float *X, float *xbias, hr_als_work *w,
                          hr_als_stats *stats, hr_error *err)
{
    HR_TRY(hr_als_check_opts(o, err));
    if (!w || w->k != o->k)
        return hr_error_set(err, HR_ERR_ARG, "explicit ALS: workspace made for k = %d, options say k = %d",
                            w ? w->k : 0, o->k);
    hr_als_stats dummy = { 0 };
    hr_als_stats *st = stats ? stats : &dummy;
    double t0 = hr_now();
    const int k = o->k;
    explicit_ctx c = { rows, Y, ybias, mu, o->lambda, k, k + (xbias ? 1 : 0), k + (xbias ? 2 : 1) };
    uint64_t nonempty = 0;
    for (uint64_t u = 0; u < rows->nrows; u++) {
        float *x = X + (size_t)u * k;
        if (rows->rowptr[u + 1] == rows->rowptr[u]) {
            memset(x, 0, sizeof(float) * (size_t)k);
            if (xbias) xbias[u] = 0.0f;
            continue;
        }
        nonempty++;
        double trace = 0.0;
        HR_TRY(build_explicit(&c, w, u, 0.0f, &trace, err));
        int info = hr_als_potrf(w->mat, c.ld, c.ld);
        /* info > m would mean the border failed, impossible by construction unless NaN/Inf
         * reached the matrix; treat it like any other failure. */
        float shift = 0.0f;
        for (int attempt = 1; info != 0 && attempt <= HR_ALS_MAX_RETRIES; attempt++) {
            shift = hr_als_retry_shift(attempt, trace);
            st->retries++;
            HR_TRY(build_explicit(&c, w, u, shift, &trace, err));
            info = hr_als_potrf(w->mat, c.ld, c.ld);
        }
        if (info != 0)
            return hr_error_set(err, HR_ERR_NUMERIC,
                                "explicit ALS: the normal matrix of local row %" PRIu64 " (%" PRIu64
                                " ratings) is not positive definite even after adding %g to its diagonal"
                                " (NaN/Inf in the factors or ratings, or lambda = 0 with too few ratings?)",
                                u, rows->rowptr[u + 1] - rows->rowptr[u], (double)shift);
        /* z = L11^-1 A^T t sits in row m of the column-major factor. */
        for (int j = 0; j < c.m; j++) w->vec[j] = w->mat[(size_t)j * c.ld + c.m];
        hr_als_solve_lt(w->mat, c.ld, c.m, w->vec);
        if (!hr_als_all_finite(w->vec, c.m))
            return hr_error_set(err, HR_ERR_NUMERIC, "explicit ALS: the solution of local row %" PRIu64
                                " is not finite (NaN/Inf in the factors or ratings?)", u);
        memcpy(x, w->vec, sizeof(float) * (size_t)k);
        if (xbias) xbias[u] = w->vec[k];
    }
    uint64_t nnz = rows->rowptr[rows->nrows] - rows->rowptr[0];
    st->flops += 2.0 * (double)nnz * k * k + (double)nonempty * k * k * k / 3.0;
    st->rows += rows->nrows;
    st->seconds += hr_now() - t0;
    return 0;
}
