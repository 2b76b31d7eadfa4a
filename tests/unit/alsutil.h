/* tests/unit/alsutil.h — seeded random matrices and a Cholesky solve in double (the reference)
 * shared by the ALS kernel and row tests (test_als_kernels.c, test_als_rows.c; header-only). */
#ifndef HR_TESTS_ALSUTIL_H
#define HR_TESTS_ALSUTIL_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/alloc.h"
#include "core/rng.h"

#define SEED 20261202u

static inline hr_rng rng_for(uint64_t what) { return hr_rng_stream(SEED, 77, what); }

/* rows x cols normal draws at stride ld (zeros elsewhere, 8 floats of slack). */
static inline float *rand_mat(uint64_t rows, int cols, int ld, uint64_t what)
{
    hr_rng r = rng_for(what);
    float *a = hr_calloc((size_t)rows * (size_t)ld + 8, sizeof(float));
    for (uint64_t i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++) a[i * (uint64_t)ld + (uint64_t)j] = (float)hr_rng_normal(&r);
    return a;
}

/* Cholesky solve in double (the reference). */
static inline void ref_solve(const double *M, const double *rhs, int n, double *x)
{
    double *Lm = calloc((size_t)n * n, sizeof(double));
    for (int i = 0; i < n; i++)
        for (int j = 0; j <= i; j++) {
            double s = M[i * n + j];
            for (int p = 0; p < j; p++) s -= Lm[i * n + p] * Lm[j * n + p];
            Lm[i * n + j] = i == j ? sqrt(s) : s / Lm[j * n + j];
        }
    for (int i = 0; i < n; i++) {
        double s = rhs[i];
        for (int p = 0; p < i; p++) s -= Lm[i * n + p] * x[p];
        x[i] = s / Lm[i * n + i];
    }
    for (int i = n - 1; i >= 0; i--) {
        double s = x[i];
        for (int p = i + 1; p < n; p++) s -= Lm[p * n + i] * x[p];
        x[i] = s / Lm[i * n + i];
    }
    free(Lm);
}

#endif
