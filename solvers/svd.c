#include "solvers/svd.h"

#include <limits.h>
#include <string.h>

#include "core/alloc.h"
#include "core/rng.h"
#include "solvers/blas.h"

void hr_svd_gaussian(uint64_t seed, const uint64_t *key, uint64_t n, int l, double *omega)
{
    for (uint64_t i = 0; i < n; i++) {
        hr_rng r = hr_rng_stream(seed, HR_STREAM_SVD, key[i]);
        for (int c = 0; c < l; c++) omega[i * (uint64_t)l + (uint64_t)c] = hr_rng_normal(&r);
    }
}

static inline double weight(const hr_svd_rows *x, uint64_t e) { return x->value ? (double)x->b->val[e] - x->shift : 1.0; }

void hr_svd_times(const hr_svd_rows *x, const double *Z, int l, double *Y, int64_t ld, double *flops)
{
    const hr_block *b = x->b;
    double *acc = hr_malloc(((size_t)l + 1) * sizeof *acc);
    for (uint64_t r = 0; r < b->nrows; r++) {
        memset(acc, 0, (size_t)l * sizeof *acc);
        for (uint64_t e = b->ptr[r]; e < b->ptr[r + 1]; e++) {
            const double w = weight(x, e), *z = Z + (uint64_t)b->idx[e] * (uint64_t)l;
            for (int c = 0; c < l; c++) acc[c] += w * z[c];
        }
        for (int c = 0; c < l; c++) Y[r + (uint64_t)c * (uint64_t)ld] = acc[c];
    }
    *flops += 2.0 * (double)b->nnz * l;
    hr_free(acc);
}

void hr_svd_times_t(const hr_svd_rows *x, const double *Q, int64_t ld, int l, double *Z, double *flops)
{
    const hr_block *b = x->b;
    double *q = hr_malloc(((size_t)l + 1) * sizeof *q);
    for (uint64_t r = 0; r < b->nrows; r++) {
        if (b->ptr[r + 1] == b->ptr[r]) continue;
        for (int c = 0; c < l; c++) q[c] = Q[r + (uint64_t)c * (uint64_t)ld];
        for (uint64_t e = b->ptr[r]; e < b->ptr[r + 1]; e++) {
            const double w = weight(x, e);
            double *z = Z + (uint64_t)b->idx[e] * (uint64_t)l;
            for (int c = 0; c < l; c++) z[c] += w * q[c];
        }
    }
    *flops += 2.0 * (double)b->nnz * l;
    hr_free(q);
}

/* Row-major n x l <-> column-major n x l. */
static void to_colmajor(const double *Z, uint64_t n, int l, double *A)
{
    for (uint64_t i = 0; i < n; i++)
        for (int c = 0; c < l; c++) A[i + (uint64_t)c * n] = Z[i * (uint64_t)l + (uint64_t)c];
}

int hr_svd_orth(double *Z, uint64_t n, int l, double *flops, hr_error *err)
{
    if (n >= INT_MAX || (uint64_t)l > n) return hr_error_set(err, HR_ERR_ARG, "orthonormalisation of %llu x %d", (unsigned long long)n, l);
    int m = (int)n, info = 0, lwork = -1;
    double *A = hr_malloc(n * (uint64_t)l * sizeof *A), *tau = hr_malloc(((size_t)l + 1) * sizeof *tau), q1 = 0, q2 = 0;
    to_colmajor(Z, n, l, A);
    dgeqrf_(&m, &l, A, &m, tau, &q1, &lwork, &info);
    dorgqr_(&m, &l, &l, A, &m, tau, &q2, &lwork, &info);
    lwork = (int)(q1 > q2 ? q1 : q2) + 1;
    double *work = hr_malloc((size_t)lwork * sizeof *work);
    dgeqrf_(&m, &l, A, &m, tau, work, &lwork, &info);
    if (info == 0) dorgqr_(&m, &l, &l, A, &m, tau, work, &lwork, &info);
    if (info == 0)
        for (uint64_t i = 0; i < n; i++)
            for (int c = 0; c < l; c++) Z[i * (uint64_t)l + (uint64_t)c] = A[i + (uint64_t)c * n];
    *flops += 4.0 * (double)n * l * l;
    hr_free(A);
    hr_free(tau);
    hr_free(work);
    return info == 0 ? 0 : hr_error_set(err, HR_ERR_NUMERIC, "QR of the item-side basis failed (LAPACK info %d)", info);
}

int hr_svd_tsqr(hr_dmat *Y, int l, double *flops, hr_error *err)
{
    int M = (int)Y->m, one = 1, info = 0, lwork = -1;
    double *tau = hr_malloc(((size_t)Y->nloc + (size_t)l + 1) * sizeof *tau), q1 = 0, q2 = 0;
    pdgeqrf_(&M, &l, Y->a, &one, &one, Y->desc, tau, &q1, &lwork, &info);
    pdorgqr_(&M, &l, &l, Y->a, &one, &one, Y->desc, tau, &q2, &lwork, &info);
    lwork = (int)(q1 > q2 ? q1 : q2) + 1;
    double *work = hr_malloc((size_t)lwork * sizeof *work);
    pdgeqrf_(&M, &l, Y->a, &one, &one, Y->desc, tau, work, &lwork, &info);
    if (info == 0) pdorgqr_(&M, &l, &l, Y->a, &one, &one, Y->desc, tau, work, &lwork, &info);
    *flops += 4.0 * (double)M * l * l;
    hr_free(tau);
    hr_free(work);
    return info == 0 ? 0 : hr_error_set(err, HR_ERR_NUMERIC, "distributed QR (pdgeqrf/pdorgqr) failed: info %d", info);
}

int hr_svd_small(const double *Z, uint64_t n, int l, int K, double *V, double *S, double *W, double *flops, hr_error *err)
{
    if (n >= INT_MAX || (uint64_t)l > n || K > l) return hr_error_set(err, HR_ERR_ARG, "SVD of %llu x %d", (unsigned long long)n, l);
    int m = (int)n, info = 0, lwork = -1;
    double *A = hr_malloc(n * (uint64_t)l * sizeof *A), *U = hr_malloc(n * (uint64_t)l * sizeof *U);
    double *s = hr_malloc(((size_t)l + 1) * sizeof *s), *VT = hr_malloc(((size_t)l * (size_t)l + 1) * sizeof *VT), q = 0;
    int *iwork = hr_malloc((8 * (size_t)l + 1) * sizeof *iwork);
    to_colmajor(Z, n, l, A);
    dgesdd_("S", &m, &l, A, &m, s, U, &m, VT, &l, &q, &lwork, iwork, &info, 1);
    lwork = (int)q + 1;
    double *work = hr_malloc((size_t)lwork * sizeof *work);
    dgesdd_("S", &m, &l, A, &m, s, U, &m, VT, &l, work, &lwork, iwork, &info, 1);
    if (info == 0) {
        for (uint64_t i = 0; i < n; i++)
            for (int c = 0; c < K; c++) V[i * (uint64_t)K + (uint64_t)c] = U[i + (uint64_t)c * n];
        for (int c = 0; c < K; c++) S[c] = s[c];
        /* Z = U s VT and B = Z^T = VT^T s U^T: B's left singular vectors are VT's rows */
        for (int a = 0; a < l; a++)
            for (int c = 0; c < K; c++) W[(size_t)a * (size_t)K + (size_t)c] = VT[(size_t)c + (size_t)a * (size_t)l];
    }
    *flops += 6.0 * (double)n * l * l;
    hr_free(A);
    hr_free(U);
    hr_free(s);
    hr_free(VT);
    hr_free(iwork);
    hr_free(work);
    return info == 0 ? 0 : hr_error_set(err, HR_ERR_NUMERIC, "SVD of the projected matrix failed (dgesdd info %d)", info);
}
