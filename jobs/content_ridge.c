/* jobs/content_ridge.c — the content ridge of cold items, replicated or on the grid
 * (jobs/content_ridge.h has the two paths, their costs and the choice between them). */
#include "jobs/content_ridge.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/timer.h"
#include "jobs/train.h"
#include "solvers/ridge.h"
#include "solvers/ridge_grid.h"

#define RIDGE_NB 128                              /* ScaLAPACK block, as EASE's */
#define ASSEMBLY_BUFFERS ((uint64_t)64 << 20)     /* hr_ease_assemble's send + receive rounds */

/* Rank 0's HR_RIDGE_GRID decides for every rank (collective). */
static int choose(hr_job *job, uint32_t nf, int *grid)
{
    int32_t v[2] = { 0, 0 };   /* grid, bad value */
    if (job->rank == 0) {
        const char *e = getenv("HR_RIDGE_GRID");
        if (!e || !*e || !strcmp(e, "auto")) v[0] = nf > HR_RIDGE_ALLREDUCE_MAX && job->size > 1;
        else if (!strcmp(e, "yes")) v[0] = 1;
        else if (!strcmp(e, "no")) v[0] = 0;
        else v[1] = 1;
    }
    HR_TRY(hr_comm_bcast(job->comm, v, sizeof v, 0));
    if (v[1]) {
        const char *e = getenv("HR_RIDGE_GRID");
        return hr_error_set(&job->err, HR_ERR_ARG, "HR_RIDGE_GRID=%s: must be auto, yes or no", e ? e : "(rank 0's value)");
    }
    *grid = v[0];
    return 0;
}

/* F^T F and F^T Y summed on every rank, allreduced, solved on every rank. */
static int ridge_allreduce(hr_job *job, const uint64_t *ptr, const uint32_t *col, const float *val, uint64_t n, const float *Y,
                           int width, uint32_t nf, double lambda, float *W)
{
    if (nf > HR_RIDGE_ALLREDUCE_MAX) {   /* past the default's scale: refuse clearly rather than die allocating */
        uint64_t bytes = 8 * (uint64_t)nf * ((uint64_t)nf + (uint64_t)width) + 8 * (uint64_t)nf * (uint64_t)width;
        HR_TRY(hr_dense_check_memory(job, bytes, "the content ridge (F^T F on every rank; fewer --features-max or more ranks shrink it)", "8 nf^2 + 16 nf width"));
    }
    double *FtF = hr_calloc((size_t)nf * nf + 1, sizeof *FtF), *FtY = hr_calloc((size_t)nf * (size_t)width + 1, sizeof *FtY);
    int rc = hr_ridge_accumulate(ptr, col, val, n, Y, width, nf, FtF, FtY, &job->err);
    rc = hr_comm_agree(job->comm, rc, &job->err);
    if (rc == 0) rc = hr_comm_allreduce_sum_f64(job->comm, FtF, (size_t)nf * nf);
    if (rc == 0) rc = hr_comm_allreduce_sum_f64(job->comm, FtY, (size_t)nf * (size_t)width);
    if (rc == 0) rc = hr_ridge_solve(FtF, FtY, nf, width, lambda, W, &job->err);
    hr_free(FtF);
    hr_free(FtY);
    return hr_comm_agree(job->comm, rc, &job->err);
}

/* The augmented Gram matrix's tiles assembled from every rank's rows, factorised and solved on
 * the grid; W summed to every rank from the owners of its entries. */
static int ridge_grid(hr_job *job, const uint64_t *ptr, const uint32_t *col, const float *val, uint64_t n, const float *Y,
                      int width, uint32_t nf, double lambda, float *W)
{
    const int64_t N = (int64_t)nf + width;
    if (N >= INT_MAX) return hr_error_set(&job->err, HR_ERR_ARG, "ridge: %u features: ScaLAPACK's indexing stops at 2^31 - 1", nf);
    const char *env = getenv("HR_RIDGE_BLOCK");
    const int nb = env && atoi(env) > 0 ? atoi(env) : RIDGE_NB;
    hr_grid *g = NULL;
    hr_dmat G;
    memset(&G, 0, sizeof G);
    uint64_t *aptr = NULL;
    uint32_t *aidx = NULL;
    float *aval = NULL;
    int rc = hr_grid_create(job->comm, 0, 0, nb, nb, &g, &job->err);
    rc = hr_comm_agree(job->comm, rc, &job->err);
    if (rc < 0) return rc;
    const uint64_t nnz = (n ? ptr[n] - ptr[0] : 0) + n * (uint64_t)width;
    char what[128];
    snprintf(what, sizeof what, "the content ridge on a %d x %d grid (%u features + %d targets; see --features-max)", g->nprow, g->npcol, nf,
             width);
    const uint64_t est = hr_ridge_grid_bytes(g, nf, width) + ASSEMBLY_BUFFERS + 8 * (n + 1) + 8 * nnz + 8 * (uint64_t)nf * (uint64_t)width;
    HR_CHECK(hr_dense_check_memory(job, est, what, "8 (nf + width)^2 / P + 64 MiB + 8 per local nonzero + 8 nf width"));
    rc = hr_dmat_create(&G, g, N, N, &job->err);
    HR_CHECK(hr_comm_agree(job->comm, rc, &job->err));

    aptr = hr_malloc((n + 1) * sizeof *aptr);
    aidx = hr_malloc((nnz + 1) * sizeof *aidx);
    aval = hr_malloc((nnz + 1) * sizeof *aval);
    rc = hr_ridge_grid_rows(ptr, col, val, n, Y, width, nf, aptr, aidx, aval, &job->err);
    HR_CHECK(hr_comm_agree(job->comm, rc, &job->err));
    hr_block b;
    memset(&b, 0, sizeof b);
    b.nrows = n;
    b.nnz = nnz;
    b.ptr = aptr;
    b.idx = aidx;
    b.val = aval;
    double t_asm, flops_asm, t_solve = 0, t_w = 0;
    uint64_t rounds = 0;
    HR_CHECK(hr_ease_assemble(job, g, &b, HR_ROWS_VALUE, &G, &t_asm, &flops_asm, &rounds));
    hr_free(aptr);
    hr_free(aidx);
    hr_free(aval);
    aptr = NULL;
    aidx = NULL;
    aval = NULL;

    const double t1 = hr_now();
    rc = hr_ridge_grid_regularize(&G, nf, lambda, &job->err);
    if (rc == 0) rc = hr_ridge_grid_solve(&G, nf, width, &job->err);
    HR_CHECK(hr_comm_agree(job->comm, rc, &job->err));
    t_solve = hr_now() - t1;
    const double t2 = hr_now();
    memset(W, 0, (size_t)nf * (size_t)width * sizeof *W);
    rc = hr_ridge_grid_extract(&G, nf, width, W, &job->err);
    HR_CHECK(hr_comm_agree(job->comm, rc, &job->err));
    HR_CHECK(hr_comm_allreduce_sum_f32(job->comm, W, (size_t)nf * (size_t)width));
    t_w = hr_now() - t2;
    double t[3] = { t_asm, t_solve, t_w };
    HR_CHECK(hr_comm_allreduce_max_f64(job->comm, t, 3));
    hr_progress("ridge      content map on a %d x %d grid (NB %d): F^T F and F^T Y of %u features x %d targets assembled in %.2fs "
                "(%llu round%s), factorised and solved in %.2fs (%.2f GFLOP/s), W on every rank in %.2fs; %.0f MB of tiles per rank",
                g->nprow, g->npcol, g->nb, nf, width, t[0], (unsigned long long)rounds, rounds == 1 ? "" : "s", t[1],
                t[1] > 0 ? hr_ridge_grid_flops(nf, width) / t[1] / 1e9 : 0.0, t[2],
                (double)hr_ridge_grid_bytes(g, nf, width) / 1e6);
fail:
    hr_free(aptr);
    hr_free(aidx);
    hr_free(aval);
    hr_dmat_free(&G);
    hr_grid_free(g);
    return rc;
}

int hr_content_ridge(hr_job *job, const uint64_t *ptr, const uint32_t *col, const float *val, uint64_t n,
                     const float *Y, int width, uint32_t nf, double lambda, float *W, double *seconds, int *grid)
{
    const double t0 = hr_now();
    *seconds = 0;
    *grid = 0;
    int use_grid = 0;
    HR_TRY(choose(job, nf, &use_grid));
    if (nf == 0 || width <= 0) use_grid = 0;   /* nothing to distribute */
    int rc = use_grid ? ridge_grid(job, ptr, col, val, n, Y, width, nf, lambda, W)
                      : ridge_allreduce(job, ptr, col, val, n, Y, width, nf, lambda, W);
    HR_TRY(rc);
    *grid = use_grid;
    *seconds = hr_now() - t0;
    return hr_comm_allreduce_max_f64(job->comm, seconds, 1);
}
