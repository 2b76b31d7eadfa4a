#include "solvers/ridge_grid.h"

#include <math.h>

#include "solvers/blas.h"

uint64_t hr_ridge_grid_bytes(const hr_grid *g, uint32_t nf, int width)
{
    int64_t N = (int64_t)nf + width;
    return hr_dmat_bytes(g, N, N);
}

int hr_ridge_grid_rows(const uint64_t *ptr, const uint32_t *col, const float *val, uint64_t n, const float *Y, int width,
                       uint32_t nf, uint64_t *aptr, uint32_t *aidx, float *aval, hr_error *err)
{
    uint64_t z = 0;
    aptr[0] = 0;
    for (uint64_t r = 0; r < n; r++) {
        for (uint64_t a = ptr[r]; a < ptr[r + 1]; a++) {
            if (col[a] >= nf || (a > ptr[r] && col[a] < col[a - 1]))
                return hr_error_set(err, HR_ERR_ARG, "ridge: item %llu: feature %u of %u %s", (unsigned long long)r, col[a], nf,
                                    col[a] >= nf ? "is out of range" : "is out of order");
            aidx[z] = col[a];
            aval[z++] = val[a];
        }
        for (int c = 0; c < width; c++) {
            aidx[z] = nf + (uint32_t)c;
            aval[z++] = Y[r * (uint64_t)width + (uint64_t)c];
        }
        aptr[r + 1] = z;
    }
    return 0;
}

int hr_ridge_grid_regularize(hr_dmat *G, uint32_t nf, double lambda, hr_error *err)
{
    if (!(lambda > 0) || !isfinite(lambda)) return hr_error_set(err, HR_ERR_ARG, "ridge: lambda %g must be > 0", lambda);
    for (int64_t jl = 0; jl < G->nloc; jl++) {
        int64_t j = hr_grid_col_l2g(G->g, G->g->mycol, jl);
        double *d = j < (int64_t)nf ? hr_dmat_at(G, j, j) : NULL;
        if (d) *d += lambda;
    }
    return 0;
}

int hr_ridge_grid_solve(hr_dmat *G, uint32_t nf, int width, hr_error *err)
{
    if (nf == 0) return 0;
    const hr_blas_int n = (hr_blas_int)nf, w = width, one = 1, below = (hr_blas_int)nf + 1, lda = (hr_blas_int)G->lld;
    const double alpha = 1.0;
    hr_blas_int info = 0;
    const int single = G->g->nprow == 1 && G->g->npcol == 1;
    if (single) dpotrf_("L", &n, G->a, &lda, &info, 1);
    else pdpotrf_("L", &n, G->a, &one, &one, G->desc, &info, 1);
    if (info > 0) return hr_error_set(err, HR_ERR_NUMERIC, "ridge: F^T F + lambda I is not positive definite (minor %d)", (int)info);
    if (info < 0) return hr_error_set(err, HR_ERR_ARG, "ridge: pdpotrf: illegal argument %d", (int)-info);
    if (width == 0) return 0;
    /* (Y^T F) L^-T, then that L^-1: the width x nf block starting at row nf */
    if (single) {
        cblas_dtrsm(CblasColMajor, CblasRight, CblasLower, CblasTrans, CblasNonUnit, w, n, 1.0, G->a, lda, G->a + nf, lda);
        cblas_dtrsm(CblasColMajor, CblasRight, CblasLower, CblasNoTrans, CblasNonUnit, w, n, 1.0, G->a, lda, G->a + nf, lda);
    } else {
        pdtrsm_("R", "L", "T", "N", &w, &n, &alpha, G->a, &one, &one, G->desc, G->a, &below, &one, G->desc, 1, 1, 1, 1);
        pdtrsm_("R", "L", "N", "N", &w, &n, &alpha, G->a, &one, &one, G->desc, G->a, &below, &one, G->desc, 1, 1, 1, 1);
    }
    return 0;
}

int hr_ridge_grid_extract(const hr_dmat *G, uint32_t nf, int width, float *W, hr_error *err)
{
    const hr_grid *g = G->g;
    const int64_t ncols = hr_grid_cols_of(g, g->mycol, nf);   /* local columns with global j < nf */
    for (int c = 0; c < width; c++) {
        const int64_t i = (int64_t)nf + c;
        if (hr_grid_row_proc(g, i) != g->myrow) continue;
        const double *row = G->a + hr_grid_row_g2l(g, i);
        for (int64_t jl = 0; jl < ncols; jl++) {
            const int64_t j = hr_grid_col_l2g(g, g->mycol, jl);
            const double v = row[jl * G->lld];
            if (!isfinite(v)) return hr_error_set(err, HR_ERR_NUMERIC, "ridge: W[%lld][%d] is not finite", (long long)j, c);
            W[(uint64_t)j * (uint64_t)width + (uint64_t)c] = (float)v;
        }
    }
    return 0;
}

double hr_ridge_grid_flops(uint32_t nf, int width)
{
    const double n = nf;
    return n * n * n / 3.0 + 2.0 * n * n * width;
}
