/* solvers/als_loss.c — local loss and regularisation parts of explicit and implicit ALS.
 * Every sum is accumulated in double (the per-entry terms in float, as the model is float). */
#include "solvers/als.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "solvers/als_kern.h"
#include "solvers/blas.h"

static int col_error(const char *what, uint64_t u, uint32_t col, uint64_t ncols, hr_error *err)
{
    return hr_error_set(err, HR_ERR_ARG, "%s: local row %" PRIu64 " refers to column %" PRIu32 " but Y has %" PRIu64
                        " rows", what, u, col, ncols);
}

double hr_als_reg_explicit(const hr_als_rows *rows, const float *X, const float *xbias, const hr_als_opts *o)
{
    const int k = o->k;
    double sum = 0.0;
    for (uint64_t u = 0; u < rows->nrows; u++) {
        const float *x = X + (size_t)u * k;
        double b = xbias ? xbias[u] : 0.0;
        sum += (double)(rows->rowptr[u + 1] - rows->rowptr[u]) * ((double)hr_als_dot(x, x, k) + b * b);
    }
    return (double)o->lambda * sum;
}

double hr_als_reg_implicit(const float *X, uint64_t nrows, const hr_als_opts *o)
{
    const int k = o->k;
    double sum = 0.0;
    for (uint64_t u = 0; u < nrows; u++) sum += hr_als_dot(X + (size_t)u * k, X + (size_t)u * k, k);
    return (double)o->lambda * sum;
}

int hr_als_loss_explicit(const hr_als_rows *rows, const float *Y, const float *ybias, float mu,
                         const float *X, const float *xbias, const hr_als_opts *o,
                         double *sse, double *reg, hr_error *err)
{
    HR_TRY(hr_als_check_opts(o, err));
    const int k = o->k;
    const uint64_t last = rows->rowptr[rows->nrows];
    double sum = 0.0;
    for (uint64_t u = 0; u < rows->nrows; u++) {
        const float *x = X + (size_t)u * k;
        const float base = mu + (xbias ? xbias[u] : 0.0f);
        for (uint64_t e = rows->rowptr[u]; e < rows->rowptr[u + 1]; e++) {
            uint32_t col = rows->col[e];
            if (col >= rows->ncols) return col_error("explicit ALS loss", u, col, rows->ncols, err);
            hr_als_prefetch(rows, Y, ybias, e, last, k);
            float pred = base + (ybias ? ybias[col] : 0.0f) + hr_als_dot(x, Y + (size_t)col * k, k);
            double d = (double)rows->val[e] - (double)pred;
            sum += d * d;
        }
    }
    *sse = sum;
    *reg = hr_als_reg_explicit(rows, X, xbias, o);
    return 0;
}

/* x^T G x for a batch of rows is one sgemm (batch x k times k x k) and a dot per row; the batch
 * buffer is allocated once per call, outside the loops. */
int hr_als_loss_implicit(const hr_als_rows *rows, const float *Y, const float *G, const float *X,
                         const hr_als_opts *o, double *data, double *reg, hr_error *err)
{
    return hr_als_loss_implicit_split(rows, Y, NULL, o->k, G, X, o, data, reg, err);
}

int hr_als_loss_implicit_split(const hr_als_rows *rows, const float *Y, const float *Ytail, int ky, const float *G,
                               const float *X, const hr_als_opts *o, double *data, double *reg, hr_error *err)
{
    HR_TRY(hr_als_check_opts(o, err));
    const int k = o->k;
    if (!Ytail) ky = k;
    float *xg = hr_malloc(sizeof(float) * ((size_t)HR_ALS_BATCH + 1) * (size_t)k), *yr = xg + (size_t)HR_ALS_BATCH * k;
    const uint64_t last = rows->rowptr[rows->nrows];
    double sum = 0.0;
    int rc = 0;
    for (uint64_t u0 = 0; u0 < rows->nrows && rc == 0; u0 += HR_ALS_BATCH) {
        int nb = rows->nrows - u0 < HR_ALS_BATCH ? (int)(rows->nrows - u0) : HR_ALS_BATCH;
        const float *Xb = X + (size_t)u0 * k;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nb, k, k, 1.0f, Xb, k, G, k, 0.0f, xg, k);
        for (int b = 0; b < nb && rc == 0; b++) {
            uint64_t u = u0 + (uint64_t)b;
            const float *x = Xb + (size_t)b * k;
            sum += hr_als_dot(x, xg + (size_t)b * k, k);
            for (uint64_t e = rows->rowptr[u]; e < rows->rowptr[u + 1]; e++) {
                uint32_t col = rows->col[e];
                float v = rows->val[e];
                if (col >= rows->ncols) {
                    rc = col_error("implicit ALS loss", u, col, rows->ncols, err);
                    break;
                }
                hr_als_prefetch_split(rows, Y, Ytail, ky, e, last, k);
                if (!(v >= 0.0f) || !isfinite(v)) {
                    rc = hr_error_set(err, HR_ERR_ARG, "implicit ALS loss: local row %" PRIu64 " has value %g:"
                                      " implicit values must be finite and >= 0", u, (double)v);
                    break;
                }
                if (v == 0.0f) continue; /* unobserved (p = 0, c = 1): its term is in x^T G x */
                double cm1 = o->epsilon > 0.0f ? (double)o->alpha * log1pf(v / o->epsilon) : (double)o->alpha * v;
                double c = 1.0 + cm1;
                const float *y = Y + (size_t)col * k;
                if (Ytail) { /* the row whole, so the dot is the plain layout's */
                    hr_als_yrow(yr, Y, Ytail, ky, k, col);
                    y = yr;
                }
                double s = hr_als_dot(x, y, k);
                sum += cm1 * s * s - 2.0 * c * s + c;
            }
        }
    }
    hr_free(xg);
    if (rc < 0) return rc;
    *data = sum;
    *reg = hr_als_reg_implicit(X, rows->nrows, o);
    return 0;
}
