/* potri_bench — EASE's factorization and inversion kernel (solvers/ease.h: pdpotrf + pdpotri
 * through hr_grid / hr_dmat) on an n x n matrix, for `make bench`.
 *
 *   mpirun -np P potri_bench N NB [NPROW NPCOL]      (0 0 or absent: the default grid shape)
 *
 * The matrix is Kac-Murdock-Szego, A_ij = 0.5^|i-j| (symmetric positive definite), whose
 * inverse is known exactly (tridiagonal), so the answer is checked: max |P - exact| over the
 * lower triangle.  Prints one line: grid, NB, seconds and GFLOP/s of each phase (n^3/3 and
 * 2 n^3/3 flops), the rate per CPU-second summed over the ranks ("cpu" GFLOP/s per core: what a
 * loaded machine does not distort), the error and PASSED / FAILED (error <= 1e-9). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/timer.h"
#include "jobs/job.h"
#include "solvers/ease.h"

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: potri_bench N NB [NPROW NPCOL]\n");
        return 2;
    }
    hr_comm *comm;
    if (hr_comm_init_world(&argc, &argv, &comm) < 0) return 2;
    hr_job job;
    hr_job_init(&job, comm, "potri_bench");
    int64_t n = atoll(argv[1]);
    int nb = atoi(argv[2]), nprow = argc > 4 ? atoi(argv[3]) : 0, npcol = argc > 4 ? atoi(argv[4]) : 0;
    hr_grid *g = NULL;
    hr_dmat A;
    int rc = hr_grid_create(comm, nprow, npcol, nb, nb, &g, &job.err);
    if (rc == 0) rc = hr_dmat_create(&A, g, n, n, &job.err);
    rc = hr_comm_agree(comm, rc, &job.err);
    if (rc < 0) {
        if (job.rank == 0) fprintf(stderr, "potri_bench: %s\n", job.err.msg);
        return 2;
    }
    for (int64_t jl = 0; jl < A.nloc; jl++) {
        int64_t j = hr_grid_col_l2g(g, g->mycol, jl);
        for (int64_t il = 0; il < A.mloc; il++) {
            int64_t i = hr_grid_row_l2g(g, g->myrow, il);
            A.a[il + jl * A.lld] = pow(0.5, (double)llabs(i - j));
        }
    }
    int64_t bad;
    hr_comm_barrier(comm);
    double c0 = hr_cpu_now(), t0 = hr_now();
    rc = hr_ease_factor(&A, &bad, &job.err);
    double t1 = hr_now();
    if (rc == 0) rc = hr_ease_invert(&A, &job.err);
    double t2 = hr_now(), tf = t1 - t0, ti = t2 - t1, cpu = hr_cpu_now() - c0;
    /* exact inverse: s * tridiag(-0.5, 1.25, -0.5) with corners s, s = 1 / 0.75 */
    double s = 1.0 / 0.75, err = 0;
    for (int64_t jl = 0; rc == 0 && jl < A.nloc; jl++) {
        int64_t j = hr_grid_col_l2g(g, g->mycol, jl);
        for (int64_t il = 0; il < A.mloc; il++) {
            int64_t i = hr_grid_row_l2g(g, g->myrow, il);
            if (i < j) continue;
            double ex = i == j ? (i == 0 || i == n - 1 ? s : s * 1.25) : i == j + 1 ? -0.5 * s : 0;
            err = fmax(err, fabs(A.a[il + jl * A.lld] - ex));
        }
    }
    hr_comm_allreduce_max_f64(comm, &err, 1);
    hr_comm_allreduce_max_f64(comm, &tf, 1);
    hr_comm_allreduce_max_f64(comm, &ti, 1);
    hr_comm_allreduce_sum_f64(comm, &cpu, 1);
    if (job.rank == 0) {
        double ff = hr_ease_factor_flops(n), fi = hr_ease_invert_flops(n);
        printf("potri_bench n=%lld grid=%dx%d ranks=%d nb=%d potrf %.2fs %.1f GFLOP/s potri %.2fs %.1f GFLOP/s total %.2fs %.1f GFLOP/s "
               "cpu %.1fs %.1f GFLOP/s per core max|P-exact| %.2e %s\n", (long long)n, g->nprow, g->npcol, job.size, nb, tf, ff / tf / 1e9, ti,
               fi / ti / 1e9, tf + ti, (ff + fi) / (tf + ti) / 1e9, cpu, (ff + fi) / cpu / 1e9, err,
               rc == 0 && err <= 1e-9 ? "PASSED" : "FAILED");
    }
    hr_dmat_free(&A);
    hr_grid_free(g);
    hr_job_free(&job);
    hr_comm_free(comm);
    hr_comm_finalize();
    return rc == 0 && err <= 1e-9 ? 0 : 1;
}
