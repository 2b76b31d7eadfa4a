/* comm_check — the collectives of mpi/comm.h where ranks could choose different protocols:
 * run under mpirun on 2-4 ranks with the per-call count limit lowered (hr_comm_set_count_limit),
 * so small data takes the paths that real data takes past 2^31 elements.
 *   alltoallv-mixed   one rank's send / receive totals pass the limit, the others' do not
 *   alltoallv-rounds  a per-peer count above the limit (point-to-point rounds)
 *   gatherv-big       the gathered total (and one rank's block) above the limit
 *   allgatherv-big    the gathered total above the limit (one broadcast per rank, chunked)
 *   ring-uneven       one rank sends more than the limit, the others less: different chunk counts
 *   ring-too-small    one rank's receive buffer is too small: every rank gets the error
 * Every received byte is checked.  Prints "ok NAME" or "not ok NAME: why" per case on rank 0
 * and exits non-zero on any failure.  A hang is the bug class itself: the test wraps this in
 * `timeout`.  usage: comm_check [limit] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "mpi/comm.h"

static int rank, size, bad;

static void report(hr_comm *c, const char *name, int ok_local)
{
    uint64_t f = !ok_local;
    hr_comm_allreduce_max_u64(c, &f, 1);
    if (rank == 0) printf("%s %s\n", f ? "not ok" : "ok", name);
    fflush(stdout);
    bad |= f != 0;
}

/* The element rank s sends to rank d at position k: a function of (s, d, k). */
static uint32_t val(int s, int d, uint64_t k) { return (uint32_t)(s * 1000003u + d * 7919u + (uint32_t)k * 31u + 1u); }

static int alltoallv_case(hr_comm *c, uint64_t limit, int per_peer_over)
{
    /* rank 0 sends (limit / 2 + 1) to every peer: its total passes the limit from 2 ranks on,
     * while each other rank sends 3 per peer; with per_peer_over, rank 0 sends 2*limit+5 to
     * rank size-1 */
    uint64_t *sc = hr_calloc((size_t)size * 2, sizeof *sc), *rc = sc + size;
    for (int d = 0; d < size; d++) {
        sc[d] = rank == 0 ? limit / 2 + 1 : 3;
        if (per_peer_over && rank == 0 && d == size - 1) sc[d] = 2 * limit + 5;
    }
    for (int s = 0; s < size; s++) {
        rc[s] = s == 0 ? limit / 2 + 1 : 3;
        if (per_peer_over && s == 0 && rank == size - 1) rc[s] = 2 * limit + 5;
    }
    uint64_t ns = 0, nr = 0;
    for (int d = 0; d < size; d++) { ns += sc[d]; nr += rc[d]; }
    uint32_t *send = hr_malloc((ns + 1) * sizeof *send), *recv = hr_malloc((nr + 1) * sizeof *recv);
    uint64_t o = 0;
    for (int d = 0; d < size; d++)
        for (uint64_t k = 0; k < sc[d]; k++) send[o++] = val(rank, d, k);
    int ok = hr_comm_alltoallv_into(c, send, sc, recv, rc, sizeof *send) == 0;
    o = 0;
    for (int s = 0; ok && s < size; s++)
        for (uint64_t k = 0; ok && k < rc[s]; k++) ok = recv[o++] == val(s, rank, k);
    hr_free(send);
    hr_free(recv);
    hr_free(sc);
    return ok;
}

static int gatherv_case(hr_comm *c, uint64_t limit)
{
    /* rank r contributes limit/2 + r elements (rank size-1: 2*limit + 1): the total passes the
     * limit, and so does one block */
    uint64_t n = rank == size - 1 ? 2 * limit + 1 : limit / 2 + (uint64_t)rank;
    uint32_t *send = hr_malloc((n + 1) * sizeof *send);
    for (uint64_t k = 0; k < n; k++) send[k] = val(rank, 0, k);
    uint64_t *counts = hr_malloc((size_t)size * sizeof *counts), total = 0;
    void *all = NULL;
    int ok = hr_comm_gatherv(c, send, n, sizeof *send, 0, &all, counts, &total) == 0;
    if (ok && rank == 0) {
        const uint32_t *a = all;
        uint64_t o = 0;
        for (int s = 0; ok && s < size; s++) {
            uint64_t ns = s == size - 1 ? 2 * limit + 1 : limit / 2 + (uint64_t)s;
            ok = counts[s] == ns;
            for (uint64_t k = 0; ok && k < ns; k++) ok = a[o++] == val(s, 0, k);
        }
        ok = ok && total == o;
    } else if (ok) {
        ok = all == NULL;
    }
    hr_free(all);
    hr_free(send);
    hr_free(counts);
    return ok;
}

static int allgatherv_case(hr_comm *c, uint64_t limit)
{
    uint64_t n = limit / 2 + (uint64_t)rank * 3 + 1;   /* the total passes the limit: broadcasts */
    uint32_t *send = hr_malloc(n * sizeof *send);
    for (uint64_t k = 0; k < n; k++) send[k] = val(rank, 2, k);
    uint64_t *counts = hr_malloc((size_t)size * sizeof *counts), total = 0;
    void *all = NULL;
    int ok = hr_comm_allgatherv(c, send, n, sizeof *send, &all, counts, &total) == 0;
    const uint32_t *a = all;
    uint64_t o = 0;
    for (int s = 0; ok && s < size; s++)
        for (uint64_t k = 0; ok && k < counts[s]; k++) ok = a[o++] == val(s, 2, k);
    ok = ok && o == total;
    hr_free(all);
    hr_free(send);
    hr_free(counts);
    return ok;
}

static int ring_case(hr_comm *c, uint64_t limit, int too_small)
{
    /* rank 0 sends 3*limit + 7 bytes, the others 5: ranks loop different chunk counts */
    uint64_t bytes = rank == 0 ? 3 * limit + 7 : 5, prev = (uint64_t)((rank + size - 1) % size);
    uint64_t in_expect = prev == 0 ? 3 * limit + 7 : 5, cap = 3 * limit + 7;
    if (too_small && rank == 1) cap = in_expect - 1;
    unsigned char *send = hr_malloc(bytes), *recv = hr_malloc(cap + 1);
    for (uint64_t k = 0; k < bytes; k++) send[k] = (unsigned char)val(rank, 1, k);
    uint64_t got = 0;
    int rc = hr_comm_ring_shift(c, send, bytes, recv, cap, &got);
    int ok;
    if (too_small) {
        ok = rc < 0;   /* every rank learns of the failure, none waits for the others */
    } else {
        ok = rc == 0 && got == in_expect;
        for (uint64_t k = 0; ok && k < got; k++) ok = recv[k] == (unsigned char)val((int)prev, 1, k);
    }
    hr_free(send);
    hr_free(recv);
    return ok;
}

int main(int argc, char **argv)
{
    hr_comm *c;
    if (hr_comm_init_world(&argc, &argv, &c) < 0) return 1;
    rank = hr_comm_rank(c);
    size = hr_comm_size(c);
    uint64_t limit = argc > 1 ? strtoull(argv[1], NULL, 10) : 64;
    hr_comm_set_count_limit(c, limit);
    report(c, "alltoallv-mixed", alltoallv_case(c, limit, 0));
    report(c, "alltoallv-rounds", alltoallv_case(c, limit, 1));
    report(c, "gatherv-big", gatherv_case(c, limit));
    report(c, "allgatherv-big", allgatherv_case(c, limit));
    report(c, "ring-uneven", ring_case(c, limit, 0));
    if (size > 1) report(c, "ring-too-small", ring_case(c, limit, 1));
    hr_comm_free(c);
    hr_comm_finalize();
    return bad ? 1 : 0;
}
