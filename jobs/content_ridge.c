/* jobs/content_ridge.c — the content map's ridge fit by allreduced normal equations
 * (jobs/content_ridge.h). */
#include "jobs/content_ridge.h"

#include "core/alloc.h"
#include "core/timer.h"
#include "solvers/ridge.h"

int hr_content_ridge(hr_job *job, const uint64_t *ptr, const uint32_t *col, const float *val, uint64_t n,
                     const float *Y, int width, uint32_t nf, double lambda, float *W, double *seconds, int *grid)
{
    double *FtF = hr_calloc((size_t)nf * nf + 1, sizeof *FtF), *FtY = hr_calloc((size_t)nf * width + 1, sizeof *FtY);
    int rc = hr_ridge_accumulate(ptr, col, val, n, Y, width, nf, FtF, FtY, &job->err);
    rc = hr_comm_agree(job->comm, rc, &job->err);
    if (rc == 0) rc = hr_comm_allreduce_sum_f64(job->comm, FtF, (size_t)nf * nf);
    if (rc == 0) rc = hr_comm_allreduce_sum_f64(job->comm, FtY, (size_t)nf * width);
    const double t0 = hr_now();
    if (rc == 0) rc = hr_ridge_solve(FtF, FtY, nf, width, lambda, W, &job->err);
    *seconds = hr_now() - t0;
    *grid = 0;
    hr_free(FtF);
    hr_free(FtY);
    return hr_comm_agree(job->comm, rc, &job->err);
}
