/* tests/tools/exchange_bench.c — the factor exchange alone, timed (docs/scaling.md's
 * communication term): every rank contributes ROWS rows of K floats and receives everyone
 * else's, through the same typed collective train's allgather exchange uses
 * (hr_comm_allgatherv_into), REPS times; then one-float exchanges for the latency.
 *
 *   mpirun -np P exchange_bench ROWS K REPS
 * Prints one JSON object on rank 0: ranks, bytes_sent_per_rank (per exchange), seconds (the
 * slowest rank's mean per exchange), latency_seconds (mean per one-float exchange). */
#include <stdio.h>
#include <stdlib.h>

#include "core/alloc.h"
#include "core/timer.h"
#include "mpi/comm.h"

int main(int argc, char **argv)
{
    hr_comm *c;
    if (hr_comm_init_world(&argc, &argv, &c) != 0) return 1;
    if (argc < 4) {
        fprintf(stderr, "usage: exchange_bench ROWS K REPS\n");
        hr_comm_abort(c, 2);
    }
    const uint64_t rows = strtoull(argv[1], NULL, 10), k = strtoull(argv[2], NULL, 10);
    const int reps = atoi(argv[3]), P = hr_comm_size(c);
    uint64_t *counts = hr_malloc((size_t)P * sizeof *counts);
    for (int r = 0; r < P; r++) counts[r] = rows;
    float *mine = hr_calloc(rows * k + 1, sizeof *mine), *all = hr_malloc((rows * k * (uint64_t)P + 1) * sizeof *all);
    for (uint64_t x = 0; x < rows * k; x++) mine[x] = (float)x;
    int rc = hr_comm_allgatherv_into(c, mine, rows, all, counts, k * sizeof(float));   /* warm up */
    hr_comm_barrier(c);
    hr_comm_reset_bytes(c);
    double t0 = hr_now();
    for (int i = 0; i < reps && rc == 0; i++) rc = hr_comm_allgatherv_into(c, mine, rows, all, counts, k * sizeof(float));
    double sec = (hr_now() - t0) / reps;
    uint64_t sent = hr_comm_bytes_sent(c) / (uint64_t)reps;
    for (int r = 0; r < P; r++) counts[r] = 1;
    hr_comm_barrier(c);
    t0 = hr_now();
    for (int i = 0; i < 50 && rc == 0; i++) rc = hr_comm_allgatherv_into(c, mine, 1, all, counts, sizeof(float));
    double lat = (hr_now() - t0) / 50;
    hr_comm_allreduce_max_f64(c, &sec, 1);
    hr_comm_allreduce_max_f64(c, &lat, 1);
    if (hr_comm_rank(c) == 0)
        printf("{\"ranks\": %d, \"bytes_sent_per_rank\": %llu, \"seconds\": %.6f, \"latency_seconds\": %.6f}\n", P,
               (unsigned long long)sent, sec, lat);
    hr_free(mine);
    hr_free(all);
    hr_free(counts);
    hr_comm_free(c);
    hr_comm_finalize();
    return rc == 0 ? 0 : 1;
}
