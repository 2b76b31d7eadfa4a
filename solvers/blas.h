/* solvers/blas.h — the one shim between hpcrec and BLAS / LAPACK (/ ScaLAPACK later).
 *
 * How to use: include this header, never <cblas.h> or a Fortran prototype elsewhere.  It gives
 *   - the CBLAS interface from OpenBLAS (<cblas.h>: cblas_sgemm, cblas_ssyrk, ..., and
 *     openblas_set_num_threads), and
 *   - the LAPACK routines hpcrec calls, declared here because Debian ships no C header for the
 *     reference Fortran interface.
 *
 * Fortran calling convention (why the prototypes look like this): every argument is passed by
 * pointer; a CHARACTER argument adds a hidden length argument at the END of the list, passed by
 * value, of type size_t with gfortran >= 8 (we pass 1 for the one-letter arguments).  Matrices
 * are column-major.  Integers are LP64 (`hr_blas_int` = int): Debian's OpenBLAS is not ILP64, so
 * a dimension must fit in an int; callers check that (k, row counts per call).
 *
 * Link order in the Makefile puts -lopenblas before -llapack, so these resolve to OpenBLAS's
 * optimised LAPACK (its own potrf), not the reference one.
 *
 * Limits: no error handler is installed; LAPACK reports through `info` (checked by callers),
 * CBLAS aborts via xerbla only on programming errors (bad dimensions), which callers prevent. */
#ifndef HR_SOLVERS_BLAS_H
#define HR_SOLVERS_BLAS_H

#include <stddef.h>

#include <cblas.h>

typedef int hr_blas_int;

/* Cholesky factorisation of a symmetric positive definite matrix (uplo "L" or "U"); info > 0:
 * the leading minor of that order is not positive definite (a is then partly overwritten). */
void spotrf_(const char *uplo, const hr_blas_int *n, float *a, const hr_blas_int *lda,
             hr_blas_int *info, size_t uplo_len);
void dpotrf_(const char *uplo, const hr_blas_int *n, double *a, const hr_blas_int *lda,
             hr_blas_int *info, size_t uplo_len);

/* Solves A X = B with the factor from spotrf_/dpotrf_ (B overwritten by X, nrhs columns). */
void spotrs_(const char *uplo, const hr_blas_int *n, const hr_blas_int *nrhs, const float *a,
             const hr_blas_int *lda, float *b, const hr_blas_int *ldb, hr_blas_int *info,
             size_t uplo_len);
void dpotrs_(const char *uplo, const hr_blas_int *n, const hr_blas_int *nrhs, const double *a,
             const hr_blas_int *lda, double *b, const hr_blas_int *ldb, hr_blas_int *info,
             size_t uplo_len);

#endif
