/* sgemm_peak — this machine's SGEMM peak, measured now (benchmarks compare against it in the
 * same run, because the machine is shared and its speed drifts).
 * usage: sgemm_peak [threads] [n]          square n x n x n, prints "... gflops=G" (best of 5)
 *        sgemm_peak threads m n k           the tile shape of a blocked job (m x k) * (k x n),
 *                                           repeated for about a second: what recommend's bare
 *                                           SGEMM costs per flop at its own shapes. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/alloc.h"
#include "core/timer.h"

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 1, n = argc > 2 ? atoi(argv[2]) : 4096;
    if (argc == 5) {
        int tm = atoi(argv[2]), tn = atoi(argv[3]), tk = atoi(argv[4]);
        if (threads < 1 || tm < 1 || tn < 1 || tk < 1) return 2;
        openblas_set_num_threads(threads);
        float *a = hr_calloc((size_t)tm * (size_t)tk, sizeof *a), *b = hr_calloc((size_t)tn * (size_t)tk, sizeof *b),
              *c = hr_malloc((size_t)tm * (size_t)tn * sizeof *c);
        for (size_t i = 0; i < (size_t)tm * (size_t)tk; i++) a[i] = (float)(i % 13) / 13.0f;
        for (size_t i = 0; i < (size_t)tn * (size_t)tk; i++) b[i] = (float)(i % 7) / 7.0f;
        double best = 0;
        for (int rep = 0; rep < 3; rep++) {
            double t0 = hr_now(), flops = 0;
            while (hr_now() - t0 < 0.4) {
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, tm, tn, tk, 1.0f, a, tk, b, tk, 0.0f, c, tn);
                flops += 2.0 * tm * (double)tn * tk;
            }
            double g = flops / (hr_now() - t0) / 1e9;
            if (g > best) best = g;
        }
        printf("sgemm_tile threads=%d m=%d n=%d k=%d gflops=%.1f\n", threads, tm, tn, tk, best);
        hr_free(a);
        hr_free(b);
        hr_free(c);
        return 0;
    }
    if (threads < 1 || n < 64) {
        fprintf(stderr, "usage: sgemm_peak [threads>=1] [n>=64]\n");
        return 2;
    }
    openblas_set_num_threads(threads);
    float *a = hr_malloc((size_t)n * (size_t)n * sizeof *a), *b = hr_malloc((size_t)n * (size_t)n * sizeof *b),
          *c = hr_malloc((size_t)n * (size_t)n * sizeof *c);
    for (size_t i = 0; i < (size_t)n * (size_t)n; i++) {
        a[i] = (float)((i * 7919) % 1000) / 1000.0f;
        b[i] = (float)((i * 104729) % 1000) / 1000.0f;
    }
    double best = 0;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = hr_now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
        double g = 2.0 * n * (double)n * n / (hr_now() - t0) / 1e9;
        if (g > best) best = g;
    }
    printf("sgemm_peak threads=%d n=%d gflops=%.1f\n", threads, n, best);
    hr_free(a);
    hr_free(b);
    hr_free(c);
    return 0;
}
