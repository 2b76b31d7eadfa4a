/* dgemm_peak — this machine's DGEMM peak, measured now (the ScaLAPACK benchmarks compare the
 * factorization and inversion rates against it in the same run), per wall second and per
 * CPU-second (per core).
 * usage: dgemm_peak [threads] [n]     square n x n x n, best of 3; prints "... gflops=G" */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/alloc.h"
#include "core/timer.h"

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 1, n = argc > 2 ? atoi(argv[2]) : 4096;
    if (threads < 1 || n < 64) {
        fprintf(stderr, "usage: dgemm_peak [threads>=1] [n>=64]\n");
        return 2;
    }
    openblas_set_num_threads(threads);
    size_t nn = (size_t)n * (size_t)n;
    double *a = hr_malloc(nn * sizeof *a), *b = hr_malloc(nn * sizeof *b), *c = hr_malloc(nn * sizeof *c);
    for (size_t i = 0; i < nn; i++) {
        a[i] = (double)((i * 7919) % 1000) / 1000.0;
        b[i] = (double)((i * 104729) % 1000) / 1000.0;
    }
    double best = 0, bestc = 0;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = hr_now(), c0 = hr_cpu_now();
        cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0, a, n, b, n, 0.0, c, n);
        double f = 2.0 * n * (double)n * n, g = f / (hr_now() - t0) / 1e9, gc = f / (hr_cpu_now() - c0) / 1e9;
        if (g > best) best = g;
        if (gc > bestc) bestc = gc;
    }
    /* cpu: per CPU-second of all threads, i.e. per core (last, so "gflops=" parsers keep working) */
    printf("dgemm_peak threads=%d n=%d cpu_gflops_per_core=%.1f gflops=%.1f\n", threads, n, bestc, best);
    hr_free(a);
    hr_free(b);
    hr_free(c);
    return 0;
}
