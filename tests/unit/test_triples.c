/* tests/unit/test_triples.c — rank-local work on interaction triples: the duplicate, conflict
 * and bot policy (partition/dedupe), blocks built from triples (partition/block), and the sorts
 * (hr_triples_sort, and hr_triples_sort_inplace against it).  Random cases draw from
 * HR_TEST_SEED (default fixed). */
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
#include "partition/dedupe.h"
#include "partition/inplace.h"
#include "partition/part.h"
#include "tests/unit/testutil.h"

/* ---- dedupe ------------------------------------------------------------------------------ */

static hr_triple tr(uint32_t u, uint32_t i, float v, int64_t ts, uint64_t line)
{
    hr_triple t = { u, i, v, 0, ts, line };
    return t;
}

/* Sort as ingest does (all users on one rank) and run the policy. */
static uint64_t run_dedupe(hr_triple *t, uint64_t n, uint32_t nusers, uint64_t max_events, uint8_t *reason,
                           uint64_t counts[HR_REJECT__COUNT])
{
    hr_part p;
    hr_part_build(&p, HR_PART_HASH, 1, nusers, NULL);
    hr_triples_sort(t, n, &p, 0, 0);
    hr_part_free(&p);
    memset(counts, 0, HR_REJECT__COUNT * sizeof *counts);
    return hr_dedupe(t, n, max_events, reason, counts);
}

/* Reason of the event at a given input line. */
static int reason_of(const hr_triple *t, const uint8_t *reason, uint64_t n, uint64_t line)
{
    for (uint64_t k = 0; k < n; k++)
        if (t[k].line == line) return reason[k];
    fail_msg("line %llu not found", (unsigned long long)line);
    return -1;
}

static void test_dedupe_policy(void **state)
{
    (void)state;
    hr_triple t[] = {
        /* user 0, item 1: two copies of an old event, one later event -> keep the later */
        tr(0, 1, 3, 10, 1), tr(0, 1, 1, 20, 3), tr(0, 1, 3, 10, 5),
        /* user 0, item 2: time tie -> the larger value wins */
        tr(0, 2, 4, 30, 2), tr(0, 2, 2, 30, 4),
        /* user 0, item 3: the winner repeated -> the first copy (in line order) is kept */
        tr(0, 3, 5, 40, 9), tr(0, 3, 5, 40, 6), tr(0, 3, 5, 40, 7),
        /* user 0, item 4: alone */
        tr(0, 4, 2, 1, 8),
        /* user 1: an earlier value arriving later in the file is still the older event */
        tr(1, 1, 5, 100, 10), tr(1, 1, 1, 200, 11), tr(1, 1, 3, 50, 12),
        /* user 2: three different items, no repeats */
        tr(2, 7, 1, 1, 13), tr(2, 8, 1, 1, 14), tr(2, 9, 1, 1, 15),
    };
    const uint64_t n = sizeof t / sizeof t[0];
    uint8_t reason[sizeof t / sizeof t[0]];
    uint64_t counts[HR_REJECT__COUNT];
    uint64_t kept = run_dedupe(t, n, 3, 0, reason, counts);
    static const struct { uint64_t line; int reason; } want[] = {
        { 1, HR_REJECT_CONFLICT }, { 5, HR_REJECT_DUPLICATE }, { 3, HR_REJECT_NONE },
        { 2, HR_REJECT_NONE }, { 4, HR_REJECT_CONFLICT },
        { 6, HR_REJECT_NONE }, { 7, HR_REJECT_DUPLICATE }, { 9, HR_REJECT_DUPLICATE },
        { 8, HR_REJECT_NONE },
        { 11, HR_REJECT_NONE }, { 10, HR_REJECT_CONFLICT }, { 12, HR_REJECT_CONFLICT },
        { 13, HR_REJECT_NONE }, { 14, HR_REJECT_NONE }, { 15, HR_REJECT_NONE },
    };
    for (size_t k = 0; k < sizeof want / sizeof want[0]; k++) {
        int got = reason_of(t, reason, n, want[k].line);
        if (got != want[k].reason)
            fail_msg("line %llu: %s, expected %s", (unsigned long long)want[k].line, hr_reject_name((hr_reject)got),
                     hr_reject_name((hr_reject)want[k].reason));
    }
    assert_int_equal(kept, 8);
    assert_int_equal(counts[HR_REJECT_DUPLICATE], 3);
    assert_int_equal(counts[HR_REJECT_CONFLICT], 4);
    assert_int_equal(counts[HR_REJECT_BOT], 0);
    assert_int_equal(counts[HR_REJECT_NONE], 0);
    /* one kept event per (user, item) */
    uint64_t nk = 0;
    for (uint64_t k = 0; k < n; k++) nk += reason[k] == HR_REJECT_NONE;
    assert_int_equal(nk, kept);
}

static void test_dedupe_bots(void **state)
{
    (void)state;
    hr_triple t[] = {
        /* user 0: 4 distinct items (+1 copy) -> above a limit of 3 */
        tr(0, 1, 1, 1, 1), tr(0, 2, 1, 1, 2), tr(0, 3, 1, 1, 3), tr(0, 4, 1, 1, 4), tr(0, 4, 1, 1, 5),
        /* user 1: exactly 3 distinct items, with copies and a conflict -> kept */
        tr(1, 1, 1, 1, 6), tr(1, 1, 1, 1, 7), tr(1, 2, 1, 1, 8), tr(1, 3, 1, 1, 9), tr(1, 3, 2, 2, 10),
    };
    const uint64_t n = sizeof t / sizeof t[0];
    uint8_t reason[sizeof t / sizeof t[0]];
    uint64_t counts[HR_REJECT__COUNT];
    uint64_t kept = run_dedupe(t, n, 2, 3, reason, counts);
    assert_int_equal(kept, 3);
    for (uint64_t line = 1; line <= 4; line++) assert_int_equal(reason_of(t, reason, n, line), HR_REJECT_BOT);
    assert_int_equal(reason_of(t, reason, n, 5), HR_REJECT_DUPLICATE);   /* already rejected: stays */
    assert_int_equal(reason_of(t, reason, n, 6), HR_REJECT_NONE);
    assert_int_equal(reason_of(t, reason, n, 7), HR_REJECT_DUPLICATE);
    assert_int_equal(reason_of(t, reason, n, 9), HR_REJECT_CONFLICT);
    assert_int_equal(reason_of(t, reason, n, 10), HR_REJECT_NONE);
    assert_int_equal(counts[HR_REJECT_BOT], 4);
    assert_int_equal(counts[HR_REJECT_DUPLICATE], 2);
    assert_int_equal(counts[HR_REJECT_CONFLICT], 1);
    /* limit 4: user 0 is fine; limit 0: no limit */
    kept = run_dedupe(t, n, 2, 4, reason, counts);
    assert_int_equal(kept, 7);
    assert_int_equal(counts[HR_REJECT_BOT], 0);
    kept = run_dedupe(t, n, 2, 0, reason, counts);
    assert_int_equal(kept, 7);
    /* empty input */
    assert_int_equal(run_dedupe(t, 0, 2, 1, reason, counts), 0);
}

/* Random triples against a brute-force oracle of the documented policy. */
static void test_dedupe_random_oracle(void **state)
{
    (void)state;
    const uint64_t seed = hr_test_seed();
    hr_rng r = hr_rng_stream(seed, 2, 0);
    enum { N = 2000 };
    hr_triple *t = hr_malloc(N * sizeof *t);
    uint8_t *reason = hr_malloc(N);
    for (int trial = 0; trial < 20; trial++) {
        for (uint64_t k = 0; k < N; k++)
            t[k] = tr((uint32_t)hr_rng_below(&r, 40), (uint32_t)hr_rng_below(&r, 30), (float)hr_rng_below(&r, 3),
                      (int64_t)hr_rng_below(&r, 4), k + 1);
        uint64_t counts[HR_REJECT__COUNT];
        uint64_t kept = run_dedupe(t, N, 40, 0, reason, counts);
        uint64_t pairs = 0, dup = 0, conf = 0;
        for (uint64_t k = 0; k < N; k++) {
            /* oracle: among events of the same pair, k is kept iff no other event is later
             * (ts, value) and no identical event has a smaller line; duplicate iff an identical
             * event has a smaller line */
            int later = 0, earlier_copy = 0;
            for (uint64_t j = 0; j < N; j++) {
                if (j == k || t[j].u != t[k].u || t[j].i != t[k].i) continue;
                if (t[j].ts > t[k].ts || (t[j].ts == t[k].ts && t[j].v > t[k].v)) later = 1;
                if (t[j].ts == t[k].ts && t[j].v == t[k].v && t[j].line < t[k].line) earlier_copy = 1;
            }
            int want = earlier_copy ? HR_REJECT_DUPLICATE : later ? HR_REJECT_CONFLICT : HR_REJECT_NONE;
            if (reason[k] != want)
                fail_msg("seed %llu trial %d: (%u,%u,%g,%lld) line %llu: %s, expected %s", (unsigned long long)seed, trial,
                         t[k].u, t[k].i, (double)t[k].v, (long long)t[k].ts, (unsigned long long)t[k].line,
                         hr_reject_name((hr_reject)reason[k]), hr_reject_name((hr_reject)want));
            pairs += want == HR_REJECT_NONE;
            dup += want == HR_REJECT_DUPLICATE;
            conf += want == HR_REJECT_CONFLICT;
        }
        assert_int_equal(kept, pairs);
        assert_int_equal(counts[HR_REJECT_DUPLICATE], dup);
        assert_int_equal(counts[HR_REJECT_CONFLICT], conf);
    }
    hr_free(t);
    hr_free(reason);
}

/* ---- block ------------------------------------------------------------------------------- */

static int cmp_uit(const void *a, const void *b)
{
    const hr_triple *x = a, *y = b;
    if (x->u != y->u) return x->u < y->u ? -1 : 1;
    if (x->i != y->i) return x->i < y->i ? -1 : 1;
    if (x->ts != y->ts) return x->ts < y->ts ? -1 : 1;
    return (x->v > y->v) - (x->v < y->v);
}

/* The triples of `all` that rank owns under p (by user, or by item), in reverse input order
 * (scrambled against the sorted order), sorted as the ingest sorts them.  Returns how many. */
static uint64_t rank_triples(const hr_triple *all, uint64_t n, const hr_part *p, int rank, int by_item,
                             hr_triple *mine)
{
    uint64_t m = 0;
    for (uint64_t k = n; k-- > 0;)
        if (p->owner[by_item ? all[k].i : all[k].u] == (uint32_t)rank) mine[m++] = all[k];
    hr_triples_sort(mine, m, p, rank, by_item);
    return m;
}

static void test_block_round_trip(void **state)
{
    (void)state;
    const uint64_t seed = hr_test_seed();
    hr_rng r = hr_rng_stream(seed, 3, 0);
    enum { NU = 300, NI = 200, N = 5000 };
    hr_triple *all = hr_malloc(N * sizeof *all);
    uint64_t n = 0;
    /* distinct (u, i) pairs, as after dedupe; some users and items have no events */
    uint8_t *used = hr_calloc(NU * NI, 1);
    while (n < N) {
        uint32_t u = (uint32_t)hr_rng_below(&r, NU - 20), i = (uint32_t)hr_rng_below(&r, NI - 10);
        if (used[u * NI + i]) continue;
        used[u * NI + i] = 1;
        all[n] = tr(u, i, (float)hr_rng_below(&r, 10) / 2, (int64_t)hr_rng_below(&r, 1000000), n + 1);
        n++;
    }
    hr_free(used);
    uint64_t wu[NU] = { 0 }, wi[NI] = { 0 };
    for (uint64_t k = 0; k < n; k++) wu[all[k].u]++, wi[all[k].i]++;
    for (int by_item = 0; by_item < 2; by_item++) {
        const int P = 3;
        hr_part p;
        hr_part_build(&p, HR_PART_BALANCED, P, by_item ? NI : NU, by_item ? wi : wu);
        hr_triple *back = hr_malloc(n * sizeof *back);
        uint64_t nback = 0;
        for (int rank = 0; rank < P; rank++) {
            hr_triple *mine = hr_malloc(n * sizeof *mine);
            uint64_t m = rank_triples(all, n, &p, rank, by_item, mine);
            for (uint64_t k = 1; k < m; k++) {   /* ordered by (local row, other gid) */
                uint32_t r0 = p.local[by_item ? mine[k - 1].i : mine[k - 1].u], r1 = p.local[by_item ? mine[k].i : mine[k].u];
                uint32_t o0 = by_item ? mine[k - 1].u : mine[k - 1].i, o1 = by_item ? mine[k].u : mine[k].i;
                assert_true(r0 < r1 || (r0 == r1 && o0 < o1));
            }
            /* keep mask: drop every 7th */
            uint8_t *keep = hr_malloc(m ? m : 1);
            uint64_t kept = 0;
            for (uint64_t k = 0; k < m; k++) kept += (keep[k] = (uint8_t)(k % 7 != 3));
            hr_block b;
            hr_block_from_triples(&b, mine, m, keep, &p, rank, by_item);
            assert_int_equal(b.nrows, p.rows[rank]);   /* every owned gid is a row, also empty ones */
            assert_int_equal(b.nnz, kept);
            assert_int_equal(b.ptr[0], 0);
            assert_int_equal(b.ptr[b.nrows], b.nnz);
            for (uint64_t row = 0; row < b.nrows; row++) {
                assert_int_equal(p.owner[b.gid[row]], (uint32_t)rank);
                if (row) assert_true(b.gid[row] > b.gid[row - 1]);
                for (uint64_t e = b.ptr[row]; e < b.ptr[row + 1]; e++) {
                    assert_int_equal(hr_block_find(&b, row, b.idx[e]), (int64_t)e);
                    if (e > b.ptr[row]) assert_true(b.idx[e] > b.idx[e - 1]);
                }
                assert_int_equal(hr_block_find(&b, row, by_item ? NU + 5 : NI + 5), -1);
            }
            /* every kept triple is found with its value and time; dropped ones are not */
            for (uint64_t k = 0; k < m; k++) {
                uint32_t row = p.local[by_item ? mine[k].i : mine[k].u], other = by_item ? mine[k].u : mine[k].i;
                int64_t e = hr_block_find(&b, row, other);
                if (!keep[k]) {
                    assert_int_equal(e, -1);
                    continue;
                }
                assert_true(e >= 0);
                assert_true(b.val[e] == mine[k].v && b.ts[e] == mine[k].ts);
            }
            uint64_t nt;
            hr_triple *t = hr_block_to_triples(&b, by_item, &nt);
            assert_int_equal(nt, kept);
            for (uint64_t k = 0; k < nt; k++) assert_true(t[k].src == 0 && t[k].line == 0);
            memcpy(back + nback, t, nt * sizeof *t);
            nback += nt;
            hr_free(t);
            /* without a mask everything is in */
            hr_block_free(&b);
            hr_block_from_triples(&b, mine, m, NULL, &p, rank, by_item);
            assert_int_equal(b.nnz, m);
            hr_block_free(&b);
            hr_free(keep);
            hr_free(mine);
        }
        /* the kept triples of all ranks are the input minus the dropped ones */
        hr_triple *want = hr_malloc(n * sizeof *want);
        uint64_t nw = 0;
        for (int rank = 0; rank < P; rank++) {
            hr_triple *mine = hr_malloc(n * sizeof *mine);
            uint64_t m = rank_triples(all, n, &p, rank, by_item, mine);
            for (uint64_t k = 0; k < m; k++)
                if (k % 7 != 3) want[nw++] = mine[k];
            hr_free(mine);
        }
        assert_int_equal(nback, nw);
        qsort(back, nback, sizeof *back, cmp_uit);
        qsort(want, nw, sizeof *want, cmp_uit);
        for (uint64_t k = 0; k < nw; k++)
            assert_true(back[k].u == want[k].u && back[k].i == want[k].i && back[k].v == want[k].v && back[k].ts == want[k].ts);
        hr_free(want);
        hr_free(back);
        hr_part_free(&p);
    }
    hr_free(all);
}

static void test_triples_sort_order(void **state)
{
    (void)state;
    /* inside one (row, other) the order is (ts, value, src, line) — what dedupe relies on */
    hr_triple t[] = { tr(0, 5, 2, 9, 4), tr(0, 5, 1, 9, 3), tr(0, 5, 1, 9, 2), tr(0, 5, 7, 1, 1), tr(0, 1, 0, 100, 5) };
    t[1].src = 2;
    t[2].src = 2;
    t[0].src = 1;
    hr_part p;
    hr_part_build(&p, HR_PART_BALANCED, 1, 1, NULL);
    hr_triples_sort(t, 5, &p, 0, 0);
    const uint64_t order[] = { 5, 1, 2, 3, 4 };
    for (int k = 0; k < 5; k++) assert_int_equal(t[k].line, order[k]);
    /* a long row takes the qsort path: same order rule */
    enum { L = 100 };
    hr_triple *u = hr_malloc(L * sizeof *u);
    for (int k = 0; k < L; k++) u[k] = tr(0, (uint32_t)(k % 5), (float)(k % 3), (int64_t)(L - k) % 7, (uint64_t)k);
    hr_triples_sort(u, L, &p, 0, 0);
    for (int k = 1; k < L; k++) {
        const hr_triple *a = &u[k - 1], *b = &u[k];
        assert_true(a->i < b->i || (a->i == b->i && (a->ts < b->ts || (a->ts == b->ts && (a->v < b->v || (a->v == b->v && a->line < b->line))))));
    }
    hr_free(u);
    hr_part_free(&p);
}

/* hr_triples_sort_move gives hr_triples_sort's order on both of its paths: triples already
 * grouped by the other side (pass 1 skipped, the result lands in the scratch array) and
 * triples in any order; both sides, with repeated (row, other) pairs. */
static void test_triples_sort_move(void **state)
{
    (void)state;
    enum { N = 5000, USERS = 97, ITEMS = 61 };
    hr_part p;
    for (int by_item = 0; by_item < 2; by_item++)
        for (int grouped = 0; grouped < 2; grouped++) {
            hr_part_build(&p, HR_PART_BALANCED, 1, by_item ? ITEMS : USERS, NULL);
            hr_triple *a = hr_malloc(N * sizeof *a), *b = hr_malloc(N * sizeof *b);
            uint64_t x = 12345;
            for (int k = 0; k < N; k++) {
                x = x * 6364136223846793005ull + 1442695040888963407ull;
                uint32_t other = grouped ? (uint32_t)((uint64_t)k * (by_item ? USERS : ITEMS) / N) : (uint32_t)(x >> 40) % (by_item ? USERS : ITEMS);
                uint32_t row = (uint32_t)(x >> 20) % (by_item ? ITEMS : USERS);
                a[k] = tr(by_item ? other : row, by_item ? row : other, (float)((x >> 8) % 3), (int64_t)((x >> 12) % 5), (uint64_t)k);
                a[k].src = (uint32_t)((x >> 30) % 2);
            }
            memcpy(b, a, N * sizeof *a);
            hr_triples_sort(a, N, &p, 0, by_item);
            hr_triples_sort_move(&b, N, &p, 0, by_item);
            assert_memory_equal(a, b, N * sizeof *a);
            hr_free(a);
            hr_free(b);
            hr_part_free(&p);
        }
}

/* hr_triples_sort_inplace gives hr_triples_sort's order: enough triples for several ranges
 * of rows (the American flag pass runs), repeated (row, other) pairs, both sides, the rows of
 * one rank of two (local rows of a balanced partition), other gids of one and of two digits,
 * and ranges of one row. */
static void test_triples_sort_inplace(void **state)
{
    (void)state;
    enum { N = 700000 };
    /* shapes: many rows per range; one row per range (few rows) beside 17-bit gids */
    static const uint32_t SHAPES[2][2] = { { 5003, 1201 }, { 40, 70001 } };
    for (int shape = 0; shape < 2; shape++) {
        for (int by_item = 0; by_item < 2; by_item++)
            for (int P = 1; P <= 2; P++) {
                const uint32_t USERS = SHAPES[shape][0], ITEMS = SHAPES[shape][1];
                hr_part p;
                hr_part_build(&p, HR_PART_BALANCED, P, by_item ? ITEMS : USERS, NULL);
                int rank = P - 1;
                hr_triple *a = hr_malloc(N * sizeof *a), *b = hr_malloc(N * sizeof *b);
                uint64_t x = 777, n = 0;
                while (n < N) {
                    x = x * 6364136223846793005ull + 1442695040888963407ull;
                    uint32_t other = (uint32_t)(x >> 40) % (by_item ? USERS : ITEMS);
                    uint32_t row = (uint32_t)(x >> 20) % (by_item ? ITEMS : USERS);
                    if (p.owner[row] != (uint32_t)rank) continue;
                    a[n] = tr(by_item ? other : row, by_item ? row : other, (float)((x >> 8) % 3), (int64_t)((x >> 12) % 5), n);
                    a[n].src = (uint32_t)((x >> 30) % 2);
                    n++;
                }
                memcpy(b, a, N * sizeof *a);
                hr_triples_sort(a, N, &p, rank, by_item);
                hr_triples_sort_inplace(b, N, &p, rank, by_item);
                assert_memory_equal(a, b, N * sizeof *a);
                hr_free(a);
                hr_free(b);
                hr_part_free(&p);
            }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dedupe_policy),
        cmocka_unit_test(test_dedupe_bots),
        cmocka_unit_test(test_dedupe_random_oracle),
        cmocka_unit_test(test_triples_sort_order),
        cmocka_unit_test(test_triples_sort_move),
        cmocka_unit_test(test_triples_sort_inplace),
        cmocka_unit_test(test_block_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
