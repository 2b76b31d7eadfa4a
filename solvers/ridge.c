#include "solvers/ridge.h"

#include <math.h>

#include "core/alloc.h"

#include "solvers/blas.h"

int hr_ridge_accumulate(const uint64_t *ptr, const uint32_t *col, const float *val, uint64_t n, const float *Y,
                        int width, uint32_t nf, double *FtF, double *FtY, hr_error *err)
{
    for (uint64_t r = 0; r < n; r++) {
        const float *y = Y + r * (uint64_t)width;
        for (uint64_t a = ptr[r]; a < ptr[r + 1]; a++) {
            if (col[a] >= nf) return hr_error_set(err, HR_ERR_ARG, "ridge: item %llu: feature %u of %u", (unsigned long long)r, col[a], nf);
            const double va = val[a];
            double *row = FtF + (uint64_t)col[a] * nf;
            for (uint64_t b = ptr[r]; b < ptr[r + 1]; b++) row[col[b]] += va * val[b];
            double *ty = FtY + (uint64_t)col[a] * (uint64_t)width;
            for (int j = 0; j < width; j++) ty[j] += va * y[j];
        }
    }
    return 0;
}

int hr_ridge_solve(double *FtF, double *FtY, uint32_t nf, int width, double lambda, float *W, hr_error *err)
{
    if (!(lambda > 0) || !isfinite(lambda)) return hr_error_set(err, HR_ERR_ARG, "ridge: lambda %g must be > 0", lambda);
    if (nf == 0) return 0;
    for (uint32_t f = 0; f < nf; f++) FtF[(uint64_t)f * nf + f] += lambda;
    /* row-major symmetric = column-major symmetric; the right-hand sides go column-major */
    hr_blas_int n = (hr_blas_int)nf, nrhs = (hr_blas_int)width, info = 0;
    dpotrf_("L", &n, FtF, &n, &info, 1);
    if (info != 0) return hr_error_set(err, HR_ERR_NUMERIC, "ridge: F^T F + lambda I is not positive definite (minor %d)", (int)info);
    double *B = hr_malloc((size_t)nf * (size_t)width * sizeof *B);
    for (uint32_t f = 0; f < nf; f++)
        for (int j = 0; j < width; j++) B[(size_t)j * nf + f] = FtY[(size_t)f * width + j];
    dpotrs_("L", &n, &nrhs, FtF, &n, B, &n, &info, 1);
    int rc = 0;
    for (uint32_t f = 0; f < nf; f++)
        for (int j = 0; j < width; j++) {
            double v = B[(size_t)j * nf + f];
            if (!isfinite(v) && rc == 0) rc = hr_error_set(err, HR_ERR_NUMERIC, "ridge: W[%u][%d] is not finite", f, j);
            FtY[(size_t)f * width + j] = v;
            if (W) W[(size_t)f * width + j] = (float)v;
        }
    hr_free(B);
    return rc;
}
