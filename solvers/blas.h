/* solvers/blas.h — the one shim between hpcrec and BLAS / LAPACK / ScaLAPACK.
 *
 * How to use: include this header, never <cblas.h> or a Fortran prototype elsewhere.  It gives
 *   - the CBLAS interface from OpenBLAS (<cblas.h>: cblas_sgemm, cblas_ssyrk, ..., and
 *     openblas_set_num_threads), and
 *   - the LAPACK and ScaLAPACK routines hpcrec calls, declared here because Debian ships no C
 *     header for the reference Fortran interfaces (libscalapack-openmpi-dev has none either).
 *     The BLACS C calls that make and free a process grid are mpi/grid.c's business (they take
 *     an MPI communicator); everything below takes a grid's context only through a descriptor.
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

/* QR of an m x n matrix (dgeqrf_) and the explicit Q of its first k reflectors (dorgqr_);
 * lwork = -1 asks for the optimal workspace size in work[0]. */
void dgeqrf_(const hr_blas_int *m, const hr_blas_int *n, double *a, const hr_blas_int *lda, double *tau,
             double *work, const hr_blas_int *lwork, hr_blas_int *info);
void dorgqr_(const hr_blas_int *m, const hr_blas_int *n, const hr_blas_int *k, double *a, const hr_blas_int *lda,
             const double *tau, double *work, const hr_blas_int *lwork, hr_blas_int *info);
/* Thin SVD by divide and conquer (jobz "S": the first min(m,n) singular vectors). */
void dgesdd_(const char *jobz, const hr_blas_int *m, const hr_blas_int *n, double *a, const hr_blas_int *lda,
             double *s, double *u, const hr_blas_int *ldu, double *vt, const hr_blas_int *ldvt, double *work,
             const hr_blas_int *lwork, hr_blas_int *iwork, hr_blas_int *info, size_t jobz_len);
/* Inverse from the Cholesky factor (single-rank reference of the distributed path). */
void dpotri_(const char *uplo, const hr_blas_int *n, double *a, const hr_blas_int *lda, hr_blas_int *info,
             size_t uplo_len);

/* ---- ScaLAPACK (libscalapack-openmpi) ---------------------------------------------------------
 * A distributed matrix is a local column-major array plus a descriptor of 9 ints
 * (HR_DESC_*: type 1, BLACS context, global rows/cols, block rows/cols, source process
 * row/col, local leading dimension), filled by descinit_.  Global indices ia/ja are 1-based.
 * Every routine below is collective over the grid of the descriptor's context; `info` is the
 * same on every process of it (negative: argument -info was illegal). */
enum { HR_DESC_CTXT = 1, HR_DESC_M = 2, HR_DESC_N = 3, HR_DESC_MB = 4, HR_DESC_NB = 5, HR_DESC_LLD = 8, HR_DESC_LEN = 9 };

/* Rows (or columns) of an n-long dimension in blocks of nb that process iproc of nprocs holds
 * when the first block is on process isrc. */
hr_blas_int numroc_(const hr_blas_int *n, const hr_blas_int *nb, const hr_blas_int *iproc, const hr_blas_int *isrc,
                    const hr_blas_int *nprocs);
void descinit_(hr_blas_int *desc, const hr_blas_int *m, const hr_blas_int *n, const hr_blas_int *mb,
               const hr_blas_int *nb, const hr_blas_int *irsrc, const hr_blas_int *icsrc, const hr_blas_int *ictxt,
               const hr_blas_int *lld, hr_blas_int *info);
/* Cholesky factor of sub(A) (info > 0: the leading minor of order info is not positive
 * definite), and the inverse from that factor (info > 0: a zero on the factor's diagonal). */
void pdpotrf_(const char *uplo, const hr_blas_int *n, double *a, const hr_blas_int *ia, const hr_blas_int *ja,
              const hr_blas_int *desca, hr_blas_int *info, size_t uplo_len);
void pdpotri_(const char *uplo, const hr_blas_int *n, double *a, const hr_blas_int *ia, const hr_blas_int *ja,
              const hr_blas_int *desca, hr_blas_int *info, size_t uplo_len);
/* Householder QR of an m x n sub(A) and the explicit m x n Q of its first k reflectors. */
void pdgeqrf_(const hr_blas_int *m, const hr_blas_int *n, double *a, const hr_blas_int *ia, const hr_blas_int *ja,
              const hr_blas_int *desca, double *tau, double *work, const hr_blas_int *lwork, hr_blas_int *info);
void pdorgqr_(const hr_blas_int *m, const hr_blas_int *n, const hr_blas_int *k, double *a, const hr_blas_int *ia,
              const hr_blas_int *ja, const hr_blas_int *desca, const double *tau, double *work,
              const hr_blas_int *lwork, hr_blas_int *info);

/* PBLAS triangular solve with several right-hand sides: sub(B) := alpha op(sub(A))^-1 sub(B)
 * (side "L") or alpha sub(B) op(sub(A))^-1 (side "R"); sub(A) triangular (uplo), op = A or A^T
 * (transa "N" / "T"), diag "N" (non-unit) or "U".  Four hidden character lengths. */
void pdtrsm_(const char *side, const char *uplo, const char *transa, const char *diag, const hr_blas_int *m,
             const hr_blas_int *n, const double *alpha, const double *a, const hr_blas_int *ia, const hr_blas_int *ja,
             const hr_blas_int *desca, double *b, const hr_blas_int *ib, const hr_blas_int *jb, const hr_blas_int *descb,
             size_t side_len, size_t uplo_len, size_t transa_len, size_t diag_len);

#endif
