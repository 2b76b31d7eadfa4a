/* tests/unit/test_partition.c — partition/part and partition/route: owner and local tables of
 * the balanced and hash partitions, and the exchange routes built from a block.
 *
 * No MPI: everything here is rank-local (hr_part_shuffle is covered by tests/mpi/).  Random
 * cases draw from HR_TEST_SEED (default fixed) and print it when they fail. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/rng.h"
#include "partition/block.h"
#include "partition/part.h"
#include "partition/route.h"
#include "tests/unit/testutil.h"

/* ---- part -------------------------------------------------------------------------------- */

/* Owner/local tables agree with hr_part_owned, rows and weights add up. */
static void check_tables(const hr_part *p, const uint64_t *w)
{
    uint64_t rows = 0, weight = 0;
    for (int r = 0; r < p->nparts; r++) {
        uint32_t *g = hr_part_owned(p, r);
        uint64_t wsum = 0;
        for (uint64_t k = 0; k < p->rows[r]; k++) {
            assert_int_equal(p->owner[g[k]], (uint32_t)r);
            assert_int_equal(p->local[g[k]], (uint32_t)k);
            if (k) assert_true(g[k] > g[k - 1]);
            wsum += w ? w[g[k]] : 1;
        }
        assert_int_equal(wsum, p->weight[r]);
        rows += p->rows[r];
        weight += p->weight[r];
        hr_free(g);
    }
    assert_int_equal(rows, p->n);
    uint64_t total = 0;
    for (uint64_t g = 0; g < p->n; g++) {
        assert_true(p->owner[g] < (uint32_t)p->nparts);
        total += w ? w[g] : 1;
    }
    assert_int_equal(weight, total);
}

static void test_part_balanced(void **state)
{
    (void)state;
    const uint64_t seed = hr_test_seed();
    hr_rng r = hr_rng_stream(seed, 1, 0);
    for (int trial = 0; trial < 200; trial++) {
        uint64_t n = 1 + hr_rng_below(&r, 3000);
        int P = 1 + (int)hr_rng_below(&r, 9);
        uint64_t *w = hr_malloc(n * sizeof *w), maxw = 0, total = 0;
        for (uint64_t g = 0; g < n; g++) {
            /* skewed: a few heavy rows, many light and empty ones */
            w[g] = hr_rng_below(&r, 4) == 0 ? 0 : hr_rng_below(&r, 8) == 0 ? hr_rng_below(&r, 500) : hr_rng_below(&r, 20);
            if (w[g] + 1 > maxw) maxw = w[g] + 1;
            total += w[g] + 1;
        }
        hr_part p;
        hr_part_build(&p, HR_PART_BALANCED, P, n, w);
        check_tables(&p, w);
        /* contiguous: owners never decrease along the gids */
        for (uint64_t g = 1; g < n; g++)
            if (p.owner[g] < p.owner[g - 1]) fail_msg("seed %llu trial %d: owner decreases at %llu", (unsigned long long)seed, trial, (unsigned long long)g);
        /* weight-balanced: each part's cost (weight + 1 per row) within one row of total / P */
        for (int q = 0; q < P; q++) {
            double cost = (double)(p.weight[q] + p.rows[q]), ideal = (double)total / P;
            if (cost > ideal + (double)maxw || cost < ideal - (double)maxw)
                fail_msg("seed %llu trial %d: part %d of %d costs %.0f, ideal %.1f, heaviest row %llu", (unsigned long long)seed,
                         trial, q, P, cost, ideal, (unsigned long long)maxw);
        }
        /* deterministic */
        hr_part p2;
        hr_part_build(&p2, HR_PART_BALANCED, P, n, w);
        assert_memory_equal(p.owner, p2.owner, n * sizeof *p.owner);
        hr_part_free(&p2);
        hr_part_free(&p);
        hr_free(w);
    }
    /* unit weights: row counts differ by at most one */
    hr_part p;
    hr_part_build(&p, HR_PART_BALANCED, 7, 1000, NULL);
    check_tables(&p, NULL);
    for (int q = 0; q < 7; q++) assert_true(p.rows[q] == 142 || p.rows[q] == 143);
    assert_true(hr_part_imbalance(&p) <= 143.0 * 7 / 1000 + 1e-12);
    hr_part_free(&p);
    /* one dominant row: it gets a part, the others share the rest */
    uint64_t w[6] = { 1, 1, 1000, 1, 1, 1 };
    hr_part_build(&p, HR_PART_BALANCED, 3, 6, w);
    check_tables(&p, w);
    assert_int_equal(p.rows[p.owner[2]], 1);
    hr_part_free(&p);
    /* more parts than rows, and no rows at all */
    hr_part_build(&p, HR_PART_BALANCED, 8, 3, NULL);
    check_tables(&p, NULL);
    hr_part_free(&p);
    hr_part_build(&p, HR_PART_BALANCED, 4, 0, NULL);
    check_tables(&p, NULL);
    assert_true(hr_part_imbalance(&p) == 1.0);
    hr_part_free(&p);
}

static void test_part_hash(void **state)
{
    (void)state;
    hr_part a, b;
    hr_part_build(&a, HR_PART_HASH, 5, 100000, NULL);
    hr_part_build(&b, HR_PART_HASH, 5, 100000, NULL);
    check_tables(&a, NULL);
    assert_memory_equal(a.owner, b.owner, 100000 * sizeof *a.owner);   /* deterministic */
    for (int q = 0; q < 5; q++) assert_true(a.rows[q] > 19000 && a.rows[q] < 21000);
    /* the owner of a gid does not depend on n (only on gid and P) */
    hr_part c;
    hr_part_build(&c, HR_PART_HASH, 5, 777, NULL);
    assert_memory_equal(a.owner, c.owner, 777 * sizeof *a.owner);
    hr_part_free(&a);
    hr_part_free(&b);
    hr_part_free(&c);
    /* weights are only reported, not used to place rows */
    uint64_t w[4] = { 5, 0, 7, 1 };
    hr_part_build(&a, HR_PART_HASH, 2, 4, w);
    check_tables(&a, w);
    hr_part_free(&a);
    hr_part_scheme s;
    assert_int_equal(hr_part_scheme_parse("hash", &s), 0);
    assert_int_equal(s, HR_PART_HASH);
    assert_int_equal(hr_part_scheme_parse("Balanced", &s), 0);
    assert_int_equal(s, HR_PART_BALANCED);
    assert_int_equal(hr_part_scheme_parse("round-robin", &s), -1);
    assert_string_equal(hr_part_scheme_name(HR_PART_HASH), "hash");
    assert_string_equal(hr_part_scheme_name(HR_PART_BALANCED), "balanced");
}


static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* partition/route.c's linear set-up against the sort + binary search it replaced: the needed
 * gids in (owner, gid) order, the counts per owner, and the receive positions of every entry
 * (needed and allgather layouts), for balanced and hash partitions. */
static void test_route_needed_and_cols(void **state)
{
    (void)state;
    hr_rng r = hr_rng_stream(hr_test_seed(), 5, 1);
    for (int scheme = 0; scheme < 2; scheme++)
        for (int P = 1; P <= 4; P++) {
            const uint64_t n = 5000, nnz = 20000;
            hr_part other;
            hr_part_build(&other, scheme ? HR_PART_HASH : HR_PART_BALANCED, P, n, NULL);
            hr_block b = { 0 };
            b.nnz = nnz;
            b.idx = hr_malloc(nnz * sizeof *b.idx);
            for (uint64_t e = 0; e < nnz; e++) b.idx[e] = (uint32_t)(hr_rng_below(&r, 3) ? hr_rng_below(&r, n / 4) : hr_rng_below(&r, n));
            uint64_t *count = hr_malloc((size_t)P * sizeof *count);
            uint32_t *need = NULL;
            uint64_t nd = hr_route_needed(&other, &b, count, &need);
            /* reference: sorted distinct gids, then grouped by owner keeping gid order */
            uint32_t *g = hr_malloc(nnz * sizeof *g);
            memcpy(g, b.idx, nnz * sizeof *g);
            qsort(g, nnz, sizeof *g, cmp_u32);
            uint64_t m = 0;
            for (uint64_t e = 0; e < nnz; e++)
                if (m == 0 || g[e] != g[m - 1]) g[m++] = g[e];
            assert_int_equal(nd, m);
            uint64_t at = 0;
            for (int q = 0; q < P; q++) {
                uint64_t c = 0;
                for (uint64_t e = 0; e < m; e++)
                    if (other.owner[g[e]] == (uint32_t)q) {
                        assert_int_equal(need[at++], g[e]);
                        c++;
                    }
                assert_int_equal(count[q], c);
            }
            /* receive positions: needed (binary search within the owner's segment) */
            hr_route rt = { 0 };
            rt.mode = HR_EXCHANGE_NEEDED;
            rt.nparts = P;
            rt.recv_count = count;
            rt.need_gid = need;
            uint32_t *col = hr_malloc(nnz * sizeof *col);
            hr_route_map_cols(&rt, &other, &b, col);
            for (uint64_t e = 0; e < nnz; e++) assert_int_equal(need[col[e]], b.idx[e]);
            /* allgather: owner's offset + local index */
            uint64_t *starts = hr_malloc((size_t)P * sizeof *starts), t = 0;
            for (int q = 0; q < P; q++) { starts[q] = t; t += other.rows[q]; }
            rt.mode = HR_EXCHANGE_ALLGATHER;
            rt.pos_of_gid = starts;
            hr_route_map_cols(&rt, &other, &b, col);
            for (uint64_t e = 0; e < nnz; e++)
                assert_int_equal(col[e], starts[other.owner[b.idx[e]]] + other.local[b.idx[e]]);
            hr_free(starts);
            hr_free(col);
            hr_free(g);
            hr_free(need);
            hr_free(count);
            hr_free(b.idx);
            hr_part_free(&other);
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_part_balanced),
        cmocka_unit_test(test_part_hash),
        cmocka_unit_test(test_route_needed_and_cols),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
