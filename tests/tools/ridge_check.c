/* tests/tools/ridge_check.c — hr_content_ridge (jobs/content_ridge.h) against the dense
 * single-rank reference (solvers/ridge.h's hr_ridge_accumulate + hr_ridge_solve of every item),
 * on whatever grid the ranks make (run under mpirun with 1..P ranks).
 *
 *   ridge_check ITEMS:NF:WIDTH:SEED:LAMBDA:MODE ...     one check per argument
 *       ITEMS random sparse feature rows over NF - 1 features (a few popular, most rare, some
 *       rows empty) plus the intercept column NF - 1, WIDTH random targets; item i lives on
 *       rank (i mod (P + 1)) with P folded onto rank 0 (uneven blocks, rows in item order).
 *       MODE yes|no|auto is HR_RIDGE_GRID for the call.  Prints the largest difference from
 *       the reference relative to its largest entry, and PASSED when it is <= 1e-4, W is the
 *       same bits on every rank and the path taken is the one asked for (auto: the rule of
 *       content_ridge.h).
 *       A seventh field "noref" skips the reference (timing and memory of large problems only).
 *   ridge_check bad:NF:MODE
 *       The last rank gives a feature >= NF: every rank must get HR_ERR_ARG (PASSED).
 * Exit 0 when every check PASSED, 1 when one FAILED, 2 on usage or setup errors. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/rng.h"
#include "jobs/content_ridge.h"
#include "solvers/ridge.h"

static int usage(void)
{
    fputs("usage: ridge_check ITEMS:NF:WIDTH:SEED:LAMBDA:yes|no|auto ... | bad:NF:yes|no\n", stderr);
    return 2;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Item i's row (features ascending, the intercept last) and targets; returns its length. */
static uint64_t gen_item(uint64_t seed, uint64_t i, uint32_t nf, int width, uint32_t *col, float *val, float *y)
{
    hr_rng r = hr_rng_stream(seed, 77, i);
    uint64_t want = nf > 1 ? hr_rng_below(&r, 13) : 0, len = 0;
    for (uint64_t k = 0; k < want; k++) {
        double u = hr_rng_uniform(&r);   /* skewed: low feature ids are popular */
        col[len++] = (uint32_t)(u * u * u * (double)(nf - 1));
    }
    qsort(col, len, sizeof *col, cmp_u32);
    uint64_t w = 0;
    for (uint64_t k = 0; k < len; k++)
        if (w == 0 || col[k] != col[w - 1]) col[w++] = col[k];
    for (uint64_t k = 0; k < w; k++) val[k] = (float)(0.1 + hr_rng_uniform(&r));
    col[w] = nf - 1;
    val[w++] = 1.0f;
    for (int c = 0; c < width; c++) y[c] = (float)hr_rng_normal(&r);
    return w;
}

static int owner(uint64_t i, int P) { int o = (int)(i % (uint64_t)(P + 1)); return o == P ? 0 : o; }

static int check(hr_job *job, uint64_t items, uint32_t nf, int width, uint64_t seed, double lambda, const char *mode, int bad, int noref)
{
    const int P = job->size, me = job->rank;
    uint64_t *ptr = hr_malloc((items + 2) * sizeof *ptr), n = 0;
    uint32_t *col = hr_malloc((items * 14 + 1) * sizeof *col);
    float *val = hr_malloc((items * 14 + 1) * sizeof *val), *Y = hr_malloc((items * (uint64_t)width + 1) * sizeof *Y);
    uint64_t *aptr = hr_malloc((items + 2) * sizeof *aptr);
    uint32_t *acol = hr_malloc((items * 14 + 1) * sizeof *acol);
    float *aval = hr_malloc((items * 14 + 1) * sizeof *aval), *aY = hr_malloc((items * (uint64_t)width + 1) * sizeof *aY);
    ptr[0] = aptr[0] = 0;
    for (uint64_t i = 0; i < items; i++) {   /* every rank makes all rows: the reference needs them on rank 0 */
        uint64_t len = gen_item(seed, i, nf, width, acol + aptr[i], aval + aptr[i], aY + i * (uint64_t)width);
        aptr[i + 1] = aptr[i] + len;
        if (owner(i, P) != me) continue;
        memcpy(col + ptr[n], acol + aptr[i], len * sizeof *col);
        memcpy(val + ptr[n], aval + aptr[i], len * sizeof *val);
        memcpy(Y + n * (uint64_t)width, aY + i * (uint64_t)width, (size_t)width * sizeof *Y);
        ptr[n + 1] = ptr[n] + len;
        n++;
    }
    if (bad && me == P - 1 && n > 0) col[ptr[n] - 1] = nf + 3;
    setenv("HR_RIDGE_GRID", mode, 1);
    float *W = hr_malloc(((size_t)nf * (size_t)width + 1) * sizeof *W), *W0 = hr_malloc(((size_t)nf * (size_t)width + 1) * sizeof *W0);
    double secs = 0;
    int grid = -1, st = 0;
    int rc = hr_content_ridge(job, ptr, col, val, n, Y, width, nf, lambda, W, &secs, &grid);
    if (bad) {
        int64_t ok = rc == HR_ERR_ARG, all = ok;
        hr_comm_allreduce_min_i64(job->comm, &all, 1);
        if (me == 0) printf("ridge_check bad feature (mode %s, %d ranks): rc %d on rank 0, every rank refused: %s\n", mode, P, rc,
                            all ? "PASSED" : "FAILED");
        st = !all;
        goto out;
    }
    if (rc < 0) goto out;
    /* the same bits everywhere */
    memcpy(W0, W, (size_t)nf * (size_t)width * sizeof *W);
    rc = hr_comm_bcast(job->comm, W0, (size_t)nf * (size_t)width * sizeof *W0, 0);
    int64_t differ = memcmp(W0, W, (size_t)nf * (size_t)width * sizeof *W) != 0;
    if (rc == 0) rc = hr_comm_allreduce_max_i64(job->comm, &differ, 1);
    if (rc < 0) goto out;
    if (me == 0 && noref) printf("ridge_check items=%llu nf=%u width=%d mode=%s ranks=%d: path %s, %.3fs (no reference)\n",
                                 (unsigned long long)items, nf, width, mode, P, grid ? "grid" : "allreduce", secs);
    if (me == 0 && !noref) {
        double *FtF = hr_calloc((size_t)nf * nf, sizeof *FtF), *FtY = hr_calloc((size_t)nf * (size_t)width, sizeof *FtY);
        float *Wr = hr_malloc(((size_t)nf * (size_t)width + 1) * sizeof *Wr);
        rc = hr_ridge_accumulate(aptr, acol, aval, items, aY, width, nf, FtF, FtY, &job->err);
        if (rc == 0) rc = hr_ridge_solve(FtF, FtY, nf, width, lambda, Wr, &job->err);
        double d = 0, s = 0;
        for (size_t e = 0; rc == 0 && e < (size_t)nf * (size_t)width; e++) {
            d = fmax(d, fabs((double)W[e] - Wr[e]));
            s = fmax(s, fabs((double)Wr[e]));
        }
        const double rel = s > 0 ? d / s : d;
        const int want = !strcmp(mode, "yes") ? 1 : !strcmp(mode, "no") ? 0 : (nf > HR_RIDGE_ALLREDUCE_MAX && P > 1);
        const int pass = rc == 0 && rel <= 1e-4 && !differ && grid == want;
        printf("ridge_check items=%llu nf=%u width=%d lambda=%g mode=%s ranks=%d: path %s, W rel %.3e (max |W| %.3g), same on every "
               "rank %s, %.3fs: %s\n", (unsigned long long)items, nf, width, lambda, mode, P, grid ? "grid" : "allreduce", rel, s,
               differ ? "no" : "yes", secs, pass ? "PASSED" : "FAILED");
        st = !pass;
        hr_free(FtF);
        hr_free(FtY);
        hr_free(Wr);
    }
out:;
    int64_t s64 = st;
    if (rc >= 0 || bad) hr_comm_allreduce_max_i64(job->comm, &s64, 1);
    hr_free(ptr); hr_free(col); hr_free(val); hr_free(Y);
    hr_free(aptr); hr_free(acol); hr_free(aval); hr_free(aY);
    hr_free(W); hr_free(W0);
    if (rc < 0 && !bad) return rc;
    return (int)s64;
}

int main(int argc, char **argv)
{
    if (argc < 2) return usage();
    hr_comm *comm;
    if (hr_comm_init_world(&argc, &argv, &comm) < 0) return 2;
    hr_job job;
    hr_job_init(&job, comm, "ridge_check");
    hr_log_init(job.rank, job.size);   /* the path's progress lines (rounds, grid) on rank 0 */
    int rc = 0;
    for (int a = 1; a < argc && rc >= 0 && rc != 2; a++) {
        char *spec = hr_strdup(argv[a]), *f[8] = { 0 };
        int nfld = 0;
        for (char *t = strtok(spec, ":"); t && nfld < 8; t = strtok(NULL, ":")) f[nfld++] = t;
        int r;
        if (nfld == 3 && !strcmp(f[0], "bad")) r = check(&job, 40, (uint32_t)atol(f[1]), 3, 1, 1.0, f[2], 1, 0);
        else if (nfld == 6 || (nfld == 7 && !strcmp(f[6], "noref")))
            r = check(&job, (uint64_t)atoll(f[0]), (uint32_t)atol(f[1]), atoi(f[2]), (uint64_t)atoll(f[3]), atof(f[4]), f[5], 0, nfld == 7);
        else r = usage();
        if (r != 0 && rc == 0) rc = r;
        if (r < 0) rc = r;
        hr_free(spec);
    }
    if (rc < 0) {
        fprintf(stderr, "ridge_check (rank %d): %s\n", job.rank, job.err.msg);
        rc = 2;
    }
    hr_job_free(&job);
    hr_comm_free(comm);
    hr_comm_finalize();
    return rc;
}
