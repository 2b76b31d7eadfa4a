/* solvers/als.h — alternating-least-squares math on one rank's block of rows.
 *
 * One half-iteration solves every local row u of X with the other factor matrix Y fixed:
 *   explicit (ALS-WR with biases, ratings):
 *     min over x_u, b_u of  sum_{i in u} (r_ui - mu - b_u - b_i - x_u.y_i)^2
 *                         + lambda * n_u * (|x_u|^2 + b_u^2)          (n_u = ratings of u)
 *   implicit (Hu-Koren-Volinsky, counts / clicks):
 *     (G + Y_u^T (C_u - I) Y_u + lambda I) x_u = Y_u^T C_u p_u,   G = Y^T Y over ALL rows of Y,
 *     c_ui = 1 + alpha * r_ui                    (epsilon == 0)
 *     c_ui = 1 + alpha * log(1 + r_ui / epsilon) (epsilon > 0),   p_ui = 1 on observed entries.
 *
 * SPMD contract: nothing here talks MPI or touches files.  Every function works on LOCAL rows and
 * returns LOCAL partials; the caller (jobs/train.c) reduces them:
 *   - hr_als_compute_gram gives this rank's Y^T Y block: allreduce-sum it before solving;
 *   - loss / regularisation / stats values are local sums: allreduce-sum them.
 * Y must hold every row that a local row refers to (the caller exchanges factor rows first).
 * Arguments are local unless marked "global" (same value on every rank: opts, mu, G after the
 * reduction).
 *
 * Layouts: all factor matrices are float32, row-major, leading dimension k (row u at X + u*k).
 * Rows come as CSR (hr_als_rows).  col[] entries index rows of Y.
 *
 * Determinism: one call computes every row in a fixed order; no threads of its own.  A row's
 * result depends only on its own entries, the rows of Y they name and the options: not on the
 * other rows of the call, the batch it lands in, the workspace size or the OpenBLAS thread count
 * (the hot kernels are ours, solvers/als_simd.h; tests/unit/test_als_rows.c checks rows split
 * over calls, tests/unit/test_als.c 1 vs 2 threads).  So any rank count gives the same bits, on
 * CPUs of one kind (AVX2 + FMA kernels where the CPU has them, portable ones otherwise).
 *
 * Errors (hr_status, message in err): HR_ERR_ARG for bad options / workspace / a col[] index out
 * of range / an implicit value giving a confidence below 1 or not finite (the message names the
 * local row); HR_ERR_NUMERIC when a row's normal matrix stays non positive-definite after the
 * diagonal retries, or a solution is not finite (NaN/Inf in the inputs).  On error the contents of
 * X / xbias are unspecified (some rows may be updated); the caller aborts the iteration.
 *
 * Limits: 1 <= k <= HR_ALS_MAX_K; per-row entry counts are uint64_t and unbounded (long rows are
 * processed in chunks, so the workspace never scales with the longest row).  The batched
 * Cholesky covers k <= 256; beyond, one LAPACK call per row (slower, same results to float
 * tolerance). */
#ifndef HR_SOLVERS_ALS_H
#define HR_SOLVERS_ALS_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#define HR_ALS_MAX_K        4096
#define HR_ALS_MAX_CG_STEPS 1000
/* Cholesky retries: the k-th retry adds 1e-6 * 10^(k-1) * trace(M) to M's diagonal. */
#define HR_ALS_MAX_RETRIES  6

typedef enum {
    HR_ALS_CHOLESKY = 0, /* exact solve per row: ssyrk on gathered rows + spotrf */
    HR_ALS_CG       = 1, /* implicit only: cg_steps of conjugate gradient, warm-started from X */
} hr_als_solver;

/* Options (global).  Fill with hr_als_default_opts, then override, then hr_als_check_opts. */
typedef struct hr_als_opts {
    int           k;        /* factors, 1..HR_ALS_MAX_K (default 64) */
    float         lambda;   /* >= 0; explicit: multiplied by the row's count (default 0.05) */
    float         alpha;    /* implicit confidence slope, >= 0 (default 40) */
    float         epsilon;  /* implicit: 0 = linear confidence, > 0 = log scaling (default 0) */
    int           cg_steps; /* implicit CG steps, 1..HR_ALS_MAX_CG_STEPS (default 3) */
    hr_als_solver solver;   /* implicit solver (default CG); explicit always uses Cholesky */
} hr_als_opts;

void hr_als_default_opts(hr_als_opts *o);
/* HR_ERR_ARG naming the field, its value and the rule. */
int hr_als_check_opts(const hr_als_opts *o, hr_error *err);

/* A CSR view of the local rows (borrowed: the caller owns the arrays). */
typedef struct hr_als_rows {
    uint64_t        nrows;  /* local rows to solve */
    uint64_t        ncols;  /* rows of Y: every col[] must be < ncols (checked, HR_ERR_ARG) */
    const uint64_t *rowptr; /* nrows + 1 offsets; row u is entries [rowptr[u], rowptr[u+1]) */
    const uint32_t *col;    /* row index into Y */
    const float    *val;    /* rating (explicit) or count / strength >= 0 (implicit) */
    const uint32_t *key;    /* NULL, or a stable id per row (its global id): implicit CG then
                             * computes each row identically however rows are split over ranks */
} hr_als_rows;

/* Counters a call ADDS to (zero it when a new measurement starts; NULL where a function takes
 * one = do not count).  flops counts useful floating-point operations by the formulas documented
 * at each function, not what the kernels did (they also compute some elements below the
 * diagonal, padding columns, identity lanes).  The normal matrix of a row is symmetric, so its
 * update by one entry is a symmetric rank-1 update: k^2 flops (k(k+1)/2 multiply-adds), not the
 * 2 k^2 of a general outer product; a Cholesky factorisation of order k is k^3 / 3.  One full
 * explicit iteration (both halves) is therefore 2 nnz k^2 + (users + items) k^3 / 3, the figure
 * benchmarks hold against the SGEMM peak. */
/* Phases of the solvers' time (hr_als_stats.phase): where a half-iteration goes. */
enum {
    HR_ALS_PH_GATHER = 0, /* copying the referenced rows of Y (and weights) into the workspace; explicit
                           * ALS gathers its normal-form rows in the call that forms their Gram
                           * (hr_als_gather_gram_explicit), so their gather counts under GRAM */
    HR_ALS_PH_GRAM   = 1, /* normal matrices: per-row Gram updates, and implicit G = Y^T Y */
    HR_ALS_PH_FACTOR = 2, /* Cholesky factorisations and triangular solves */
    HR_ALS_PH_CG     = 3, /* implicit CG steps (G p products, sparse products, vector updates) */
    HR_ALS_NPHASE    = 4
};

typedef struct hr_als_stats {
    double   flops;
    double   seconds;  /* wall time inside the calls */
    double   phase[HR_ALS_NPHASE]; /* seconds per phase (they sum to about `seconds`) */
    uint64_t rows;     /* rows solved (including empty rows, which are set to 0) */
    uint64_t retries;  /* extra Cholesky factorisations with an enlarged diagonal */
} hr_als_stats;

/* --- Workspace --------------------------------------------------------------------------------
 * Caller-owned scratch so the hot loops never allocate.  One workspace serves every solver and
 * loss function below for the same k, but only one call at a time (not thread-safe).
 * max_row_nnz is a sizing hint (the longest local row, over both sides); any row length works:
 * longer rows are streamed in chunks.  The size is bounded whatever the hint: about 0.8 MiB at
 * k = 64, growing as 8 k^2 bytes (two k x k matrices) plus, for k <= 256, 16 k^2 (the batched
 * Cholesky). */
typedef struct hr_als_work hr_als_work;

size_t hr_als_estimate_work(int k, uint64_t max_row_nnz);
/* Lays a workspace out in buf (caller-owned, >= hr_als_estimate_work bytes, any alignment).
 * Returns NULL if bytes is too small or k is out of range.  Do not free the result; free buf
 * after the last use. */
hr_als_work *hr_als_init_work(void *buf, size_t bytes, int k, uint64_t max_row_nnz);
/* Allocates one (hr_malloc: aborts on out-of-memory).  NULL only if k is out of range.
 * Free with hr_als_free_work (accepts NULL; not for hr_als_init_work results). */
hr_als_work *hr_als_create_work(int k, uint64_t max_row_nnz);
void hr_als_free_work(hr_als_work *w);

/* --- Explicit ALS-WR with biases --------------------------------------------------------------
 * Solves every local row.  Y: ncols x k; ybias: ncols (NULL = no bias on the other side);
 * mu: global mean (global).  Outputs X (nrows x k) and xbias (nrows; NULL = fit no bias of our
 * own, i.e. plain ALS-WR).  A row without ratings gets x = 0, b = 0.
 * Method per row: gather the y_i, form Y_u^T Y_u (register-blocked kernel) and the border
 * (sum y_i, sum t_i y_i, n_u, sum t_i with t_i = r_ui - mu - b_i); the bordered matrices of
 * HR_ALS_LANES rows are factored together, one per SIMD lane, which yields L^-1 rhs; one
 * triangular solve finishes (k > 256: one spotrf per row).  Not-positive-definite rows are
 * retried alone (stats->retries).  A row's result never depends on the other rows of the call.
 * Useful flops: nnz * k^2 + n_nonempty * k^3 / 3 (see hr_als_stats). */
int hr_als_solve_explicit(const hr_als_rows *rows, const float *Y, const float *ybias, float mu,
                          const hr_als_opts *o, float *X, float *xbias, hr_als_work *w,
                          hr_als_stats *stats, hr_error *err);

/* The same, also adding to *sse_before (when not NULL) the sse of the local rows as they were
 * on entry (hr_als_loss_explicit's sse, from the rows the solve gathers anyway: no extra pass
 * over Y; equal to it to float rounding). */
int hr_als_solve_explicit_loss(const hr_als_rows *rows, const float *Y, const float *ybias, float mu,
                               const hr_als_opts *o, float *X, float *xbias, hr_als_work *w,
                               hr_als_stats *stats, double *sse_before, hr_error *err);

/* Local explicit loss parts after (or before) an update:
 *   sse = sum over local entries of (r - mu - b_u - b_i - x_u.y_i)^2   (b_u = 0 if xbias NULL,
 *                                                                      b_i = 0 if ybias NULL)
 *   reg = hr_als_reg_explicit of the local rows.
 * Full objective = sse(users) + reg(users) + reg(items); train RMSE = sqrt(sse / global nnz).
 * sse is the same from either side; its cost is one random row of Y per entry, so call it on the
 * side whose Y fits the cache (rows = users, Y = items: 0.05 s vs 0.18 s per 5M ratings, k = 64).
 * Errors: HR_ERR_ARG for a col[] out of range. */
int hr_als_loss_explicit(const hr_als_rows *rows, const float *Y, const float *ybias, float mu,
                         const float *X, const float *xbias, const hr_als_opts *o,
                         double *sse, double *reg, hr_error *err);
/* lambda * sum_u n_u * (|x_u|^2 + b_u^2) over the local rows (n_u from rows->rowptr). */
double hr_als_reg_explicit(const hr_als_rows *rows, const float *X, const float *xbias,
                           const hr_als_opts *o);

/* --- Implicit ALS (HKV) ------------------------------------------------------------------------
 * Local partial of G: G = Y^T Y over nrows rows of Y (k x k, full symmetric, row-major), in
 * double so that the reduced G does not depend on how rows are split over ranks.  The caller
 * sums the partials of all ranks (each item on exactly one rank) and rounds to float for the
 * solvers.  Flops: nrows * k^2. */
void hr_als_compute_gram(const float *Y, uint64_t nrows, int k, double *G, hr_als_stats *stats);

/* Solves every local row (G: the reduced global Gram, k x k).  X is read as the CG warm start and
 * overwritten.  Rows without entries get x = 0 (the exact solution).
 * A stored value of 0 is an unobserved cell (p = 0, c = 1, like every cell without an entry):
 * its entry is skipped, so data with explicit zeros solves exactly as the data without them, and
 * a row with only zeros gets x = 0.  nnz and n_nonempty below count observed entries only.
 * Cholesky: per row the Gram of the gathered rows scaled by sqrt(c - 1), plus G + lambda I,
 *   factored HR_ALS_LANES rows at a time (one per SIMD lane; k > 256: spotrf per row), two
 *   triangular solves.  Flops: nnz * k^2 + n_nonempty * k^3 / 3.
 * CG (cg_steps steps per row, as the `implicit` library, stopping a row once |r|^2 < 1e-20):
 *   one row at a time: its rows of Y are gathered once and all its steps run on them while
 *   they are in L1, the next rows' lines being prefetched meanwhile.  Flops: (cg_steps + 1) *
 *   (2 * n_nonempty * k^2 + 4 * nnz * k) (the +1 is the initial residual r = b - A x; vector
 *   updates not counted).  A row with more than hr_als_cg_dense_len(k) entries forms its A
 *   once (an nnz_u * k^2 Gram, as Cholesky) and runs the same steps on it: nnz_u * k^2 +
 *   (cg_steps + 1) * 2 k^2 flops.
 * Both solvers compute each row independently of the other rows of the call (batches,
 * workspace size), so any split of the rows over ranks gives the same bits. */
int hr_als_solve_implicit(const hr_als_rows *rows, const float *Y, const float *G,
                          const hr_als_opts *o, float *X, hr_als_work *w, hr_als_stats *stats,
                          hr_error *err);

/* Entries above which a CG row is solved with its A formed (max(512, 2^17 / kpad(k)): 2048 at
 * k = 64).  It depends on k alone, so a row takes the same path on any machine and rank count. */
uint64_t hr_als_cg_dense_len(int k);

/* The same, also adding to *data_before (when not NULL) the data part of the loss of the local
 * rows as they were on entry (hr_als_loss_implicit's data, computed from what the solve
 * gathers and multiplies anyway; equal to it to float rounding). */
int hr_als_solve_implicit_loss(const hr_als_rows *rows, const float *Y, const float *G,
                               const hr_als_opts *o, float *X, hr_als_work *w, hr_als_stats *stats,
                               double *data_before, hr_error *err);

/* hr_als_solve_implicit_loss with the rows of Y split in two arrays: the first ky floats of row r
 * at Y + r ky, the other k - ky at Ytail + r (k - ky) (hr_als_split_ky gives ky; Ytail NULL and
 * ky = k: the plain layout).  Why: at k = 65 a plain row is 260 bytes and spans 5 cache lines;
 * split, it is 4 whole lines (Y 64-byte aligned) and a float of an array small enough to stay in
 * cache (4 bytes a row), so the CG's random reads of Y move what k = 64 moves.  The rows are
 * copied into the same gather buffers either way: the same bits as the plain layout. */
int hr_als_solve_implicit_split(const hr_als_rows *rows, const float *Y, const float *Ytail, int ky, const float *G,
                                const hr_als_opts *o, float *X, hr_als_work *w, hr_als_stats *stats,
                                double *data_before, hr_error *err);
/* The ky of the split layout for k: k rounded down to a multiple of 16 (a cache line of floats),
 * or 0 where splitting gains nothing (k a multiple of 16, or k < 32). */
int hr_als_split_ky(int k);

/* Local implicit loss parts:
 *   data = sum over local rows u of [ x_u^T G x_u + sum_{i in u} ((c_ui - 1) s^2 - 2 c_ui s + c_ui) ],
 *          s = x_u.y_i, over the observed entries (value != 0),
 *        = sum over u local, i ALL of c_ui (p_ui - x_u.y_i)^2   (c = 1, p = 0 off the entries);
 *   reg  = hr_als_reg_implicit of the local rows.
 * Full objective = data(users) + reg(users) + reg(items).  G as for the solve (unregularised).
 * data is the same from either side (G then being the Gram of the other side); as for the
 * explicit loss, the side with the smaller Y is cheaper.
 * Errors: HR_ERR_ARG as for the solve. */
int hr_als_loss_implicit(const hr_als_rows *rows, const float *Y, const float *G, const float *X,
                         const hr_als_opts *o, double *data, double *reg, hr_error *err);
/* The same with Y split as for hr_als_solve_implicit_split (the same bits). */
int hr_als_loss_implicit_split(const hr_als_rows *rows, const float *Y, const float *Ytail, int ky, const float *G,
                               const float *X, const hr_als_opts *o, double *data, double *reg, hr_error *err);
/* lambda * sum over nrows rows of |x_u|^2. */
double hr_als_reg_implicit(const float *X, uint64_t nrows, const hr_als_opts *o);

#endif
