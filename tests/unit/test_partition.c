/* tests/unit/test_partition.c — partition/: intern, dict, part, dedupe, block.
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
#include "partition/dedupe.h"
#include "partition/dict.h"
#include "partition/intern.h"
#include "partition/inplace.h"
#include "partition/part.h"
#include "partition/route.h"
#include "tests/unit/testutil.h"

static uint64_t test_seed(void)
{
    const char *env = getenv("HR_TEST_SEED");
    return env ? strtoull(env, NULL, 10) : 20261123u;
}

/* ---- intern ------------------------------------------------------------------------------ */

static void test_intern_many_keys(void **state)
{
    (void)state;
    hr_intern *t = hr_intern_new();
    enum { N = 300000 };   /* several growths of the slot table, id arrays and arena */
    char key[64];
    for (uint32_t k = 0; k < N; k++) {
        int n = snprintf(key, sizeof key, "key-%u-%u", k * 2654435761u, k);
        assert_int_equal(hr_intern_get(t, key, (size_t)n), k);   /* dense, first-seen order */
        if (k % 1000 == 0)   /* earlier keys keep their numbers while the table grows */
            for (uint32_t j = 0; j <= k; j += 997) {
                int m = snprintf(key, sizeof key, "key-%u-%u", j * 2654435761u, j);
                assert_int_equal(hr_intern_get(t, key, (size_t)m), j);
            }
    }
    assert_int_equal(hr_intern_count(t), N);
    for (uint32_t k = 0; k < N; k++) {
        int n = snprintf(key, sizeof key, "key-%u-%u", k * 2654435761u, k);
        size_t len;
        const char *p = hr_intern_key(t, k, &len);
        assert_int_equal(len, (size_t)n);
        assert_memory_equal(p, key, len);
        assert_int_equal(hr_intern_get(t, key, (size_t)n), k);
    }
    assert_int_equal(hr_intern_count(t), N);   /* lookups did not insert */
    hr_intern_free(t);
}

static void test_intern_bytes_and_pack(void **state)
{
    (void)state;
    hr_intern *t = hr_intern_new();
    /* keys are byte spans: embedded NUL, prefixes, the empty key are all distinct */
    assert_int_equal(hr_intern_get(t, "a\0b", 3), 0);
    assert_int_equal(hr_intern_get(t, "a\0c", 3), 1);
    assert_int_equal(hr_intern_get(t, "a", 1), 2);
    assert_int_equal(hr_intern_get(t, "", 0), 3);
    assert_int_equal(hr_intern_get(t, "a\0b", 3), 0);
    assert_int_equal(hr_intern_get(t, "", 0), 3);
    char *buf;
    uint64_t bytes;
    hr_intern_pack(t, &buf, &bytes);
    const char want[] = "\3\0\0\0a\0b" "\3\0\0\0a\0c" "\1\0\0\0a" "\0\0\0\0";
    assert_int_equal(bytes, sizeof want - 1);
    assert_memory_equal(buf, want, bytes);
    hr_free(buf);
    hr_intern_free(t);
    /* an empty table packs to nothing */
    t = hr_intern_new();
    hr_intern_pack(t, &buf, &bytes);
    assert_int_equal(bytes, 0);
    hr_free(buf);
    hr_intern_free(t);
}

/* ---- dict -------------------------------------------------------------------------------- */


static void assert_dict(const hr_dict *d, const char *const *sorted, int n)
{
    assert_int_equal(d->n, (uint64_t)n);
    for (int g = 0; g < n; g++) {
        char buf[64];
        size_t len = hr_dict_format(d, (uint64_t)g, buf, sizeof buf);
        assert_int_equal(len, strlen(sorted[g]));
        assert_string_equal(buf, sorted[g]);
        assert_int_equal(hr_dict_find(d, sorted[g], strlen(sorted[g])), g);
    }
}

static void test_dict_integer_ids(void **state)
{
    (void)state;
    const char *keys[] = { "10", "9", "-5", "9", "0", "9223372036854775807", "-9223372036854775808", "10", "100" };
    const char *sorted[] = { "-9223372036854775808", "-5", "0", "9", "10", "100", "9223372036854775807" };
    hr_dict d;
    hr_test_dict_of(&d, keys, 9);
    assert_true(d.is_int);
    assert_dict(&d, sorted, 7);   /* numeric order, duplicates removed */
    assert_true(d.ints[0] == INT64_MIN && d.ints[6] == INT64_MAX);
    /* non-canonical spellings of present numbers are not found */
    assert_int_equal(hr_dict_find(&d, "09", 2), -1);
    assert_int_equal(hr_dict_find(&d, "+9", 2), -1);
    assert_int_equal(hr_dict_find(&d, "-0", 2), -1);
    assert_int_equal(hr_dict_find(&d, "11", 2), -1);
    assert_int_equal(hr_dict_find(&d, "x", 1), -1);
    /* a short buffer truncates but stays NUL-terminated */
    char small[5];
    assert_int_equal(hr_dict_format(&d, 6, small, sizeof small), 4);
    assert_string_equal(small, "9223");
    hr_dict_free(&d);
}

static void test_dict_string_ids(void **state)
{
    (void)state;
    /* one non-canonical id ("007") makes the whole column a string dictionary */
    const char *keys[] = { "7", "007", "10", "9", "b", "a", "ab", "B" };
    const char *sorted[] = { "007", "10", "7", "9", "B", "a", "ab", "b" };   /* bytewise */
    hr_dict d;
    hr_test_dict_of(&d, keys, 8);
    assert_false(d.is_int);
    assert_dict(&d, sorted, 8);
    assert_int_equal(hr_dict_find(&d, "07", 2), -1);
    assert_int_equal(hr_dict_find(&d, "a\0", 2), -1);
    assert_int_equal(hr_dict_find(&d, "", 0), -1);
    assert_int_equal(hr_dict_find(&d, "c", 1), -1);
    assert_int_equal(hr_dict_find(&d, "0", 1), -1);
    hr_dict_free(&d);
    /* "007" alone also */
    const char *k2[] = { "007", "7" };
    hr_test_dict_of(&d, k2, 2);
    assert_false(d.is_int);
    assert_int_equal(d.n, 2);
    hr_dict_free(&d);
}

/* Matching by external id: exact bytes, whatever the length (ids of 600 bytes that share their
 * first 511 bytes are different ids), across numeric and string dictionaries; hr_dict_key gives
 * the whole id.  Oracle: hr_dict_find on each key. */
static void test_dict_match_exact(void **state)
{
    (void)state;
    enum { LONG = 600 };
    static char lk[6][LONG + 1];
    for (int v = 0; v < 6; v++) {
        memset(lk[v], 'a', LONG);
        lk[v][LONG] = '\0';
        lk[v][LONG - 1 - (v % 3)] = (char)('b' + v);   /* differ only after byte 511 */
    }
    lk[5][LONG - 50] = '\0';                          /* a prefix of the others */
    const char *a[] = { lk[0], lk[1], lk[2], lk[5], "7", "007", "x", "10" };
    const char *b[] = { lk[1], lk[3], lk[4], lk[5], "7", "10", "11", "y" };
    const char *ints_a[] = { "7", "10", "-3", "12" };
    const char *ints_b[] = { "10", "12", "13", "-3" };
    hr_dict da, db, ia, ib;
    hr_test_dict_of(&da, a, 8);
    hr_test_dict_of(&db, b, 8);
    hr_test_dict_of(&ia, ints_a, 4);
    hr_test_dict_of(&ib, ints_b, 4);
    const hr_dict *pairs[][2] = { { &da, &db }, { &db, &da }, { &ia, &ib }, { &ia, &db }, { &db, &ia }, { &da, &da } };
    for (size_t p = 0; p < sizeof pairs / sizeof pairs[0]; p++) {
        const hr_dict *f = pairs[p][0], *t = pairs[p][1];
        uint64_t matched = 99, want = 0;
        uint32_t *map = hr_dict_match(f, t, &matched);
        for (uint64_t g = 0; g < f->n; g++) {
            char tmp[HR_DICT_INT_CHARS];
            size_t len;
            const char *key = hr_dict_key(f, g, tmp, &len);
            int64_t o = hr_dict_find(t, key, len);
            if (o >= 0) want++;
            if (map[g] != (o < 0 ? UINT32_MAX : (uint32_t)o))
                fail_msg("pair %zu: gid %llu ('%.20s...', %zu bytes) maps to %u, expected %lld", p, (unsigned long long)g, key, len,
                         map[g], (long long)o);
        }
        assert_int_equal(matched, want);
        hr_free(map);
    }
    /* the long ids: whole, and only the equal one matches */
    uint64_t m;
    uint32_t *map = hr_dict_match(&da, &db, &m);
    assert_int_equal(m, 4);   /* lk[1], lk[5], "7", "10" */
    for (uint64_t g = 0; g < da.n; g++) {
        char tmp[HR_DICT_INT_CHARS];
        size_t len;
        const char *key = hr_dict_key(&da, g, tmp, &len);
        if (len == LONG && memcmp(key, lk[1], LONG) == 0) assert_int_not_equal(map[g], UINT32_MAX);
        else if (len == LONG) assert_int_equal(map[g], UINT32_MAX);
    }
    hr_free(map);
    /* numeric keys as text, and their match in a string dictionary ("7" = 7, "007" != 7) */
    char tmp[HR_DICT_INT_CHARS];
    size_t len;
    const char *k = hr_dict_key(&ia, 0, tmp, &len);
    assert_int_equal(len, 2);
    assert_memory_equal(k, "-3", 2);
    map = hr_dict_match(&ia, &da, &m);
    assert_int_equal(m, 2);   /* 7 and 10 */
    hr_free(map);
    hr_dict_free(&da);
    hr_dict_free(&db);
    hr_dict_free(&ia);
    hr_dict_free(&ib);
}

static void test_dict_packs_from_ranks(void **state)
{
    (void)state;
    /* packs of several "ranks" concatenated, overlapping keys: the same dictionary whatever the
     * split, and its fingerprint tells key sets apart */
    const char *all[] = { "u1", "u2", "u3", "u4", "u5", "u6" };
    hr_dict whole;
    hr_test_dict_of(&whole, all, 6);
    hr_intern *a = hr_intern_new(), *b = hr_intern_new();
    for (int k = 5; k >= 0; k--) hr_intern_get(k % 2 ? a : b, all[k], 2);
    hr_intern_get(a, "u2", 2);   /* seen on both */
    char *pa, *pb;
    uint64_t na, nb;
    hr_intern_pack(a, &pa, &na);
    hr_intern_pack(b, &pb, &nb);
    char *cat = hr_malloc(na + nb);
    memcpy(cat, pb, nb);
    memcpy(cat + nb, pa, na);
    hr_dict split;
    hr_dict_build(&split, cat, na + nb);
    assert_dict(&split, all, 6);
    assert_true(hr_dict_fingerprint(&split) == hr_dict_fingerprint(&whole));
    hr_dict fewer;
    hr_test_dict_of(&fewer, all, 5);
    assert_true(hr_dict_fingerprint(&fewer) != hr_dict_fingerprint(&whole));
    hr_dict_free(&fewer);
    hr_dict_free(&split);
    hr_dict_free(&whole);
    hr_free(cat);
    hr_free(pa);
    hr_free(pb);
    hr_intern_free(a);
    hr_intern_free(b);
}

static int cmp_i64_test(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Integer dictionaries past the radix sort's threshold: ascending, duplicates gone, the same
 * ids as qsort gives; negative ids, the extremes, and keys that differ only in high bytes. */
static void test_dict_build_many_ints(void **state)
{
    (void)state;
    enum { N = 50000 };
    int64_t *keys = hr_malloc(N * sizeof *keys);
    char *pack = hr_malloc((size_t)N * 24), *q = pack;
    uint64_t x = 99;
    for (int k = 0; k < N; k++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        int64_t v;
        switch (k % 5) {
        case 0: v = (int64_t)(x >> 45); break;                       /* small, positive */
        case 1: v = -(int64_t)(x >> 40); break;                      /* negative */
        case 2: v = (int64_t)x; break;                               /* anything */
        case 3: v = (int64_t)((x >> 60) << 40); break;               /* high bytes only */
        default: v = k % 2 ? INT64_MAX : INT64_MIN; break;           /* the extremes, repeated */
        }
        if (k % 7 == 0 && k) v = keys[k - 1];                        /* duplicates */
        keys[k] = v;
        char s[24];
        uint32_t len = (uint32_t)snprintf(s, sizeof s, "%lld", (long long)v);
        memcpy(q, &len, 4);
        memcpy(q + 4, s, len);
        q += 4 + len;
    }
    hr_dict d;
    hr_dict_build(&d, pack, (uint64_t)(q - pack));
    assert_true(d.is_int);
    qsort(keys, N, sizeof *keys, cmp_i64_test);
    uint64_t m = 0;
    for (int k = 0; k < N; k++)
        if (m == 0 || keys[k] != keys[m - 1]) keys[m++] = keys[k];
    assert_int_equal(d.n, m);
    assert_memory_equal(d.ints, keys, m * sizeof *keys);
    hr_dict_free(&d);
    hr_free(keys);
    hr_free(pack);
}

static void test_dict_canonical_int(void **state)
{
    (void)state;
    static const struct { const char *s; int ok; int64_t v; } cases[] = {
        { "0", 1, 0 }, { "7", 1, 7 }, { "-7", 1, -7 }, { "10", 1, 10 },
        { "9223372036854775807", 1, INT64_MAX }, { "-9223372036854775808", 1, INT64_MIN },
        { "9223372036854775808", 0, 0 }, { "-9223372036854775809", 0, 0 },
        { "18446744073709551615", 0, 0 }, { "18446744073709551616", 0, 0 },
        { "99999999999999999999", 0, 0 }, { "123456789012345678901", 0, 0 },
        { "007", 0, 0 }, { "00", 0, 0 }, { "-0", 0, 0 }, { "-01", 0, 0 }, { "+1", 0, 0 },
        { "", 0, 0 }, { "-", 0, 0 }, { " 1", 0, 0 }, { "1 ", 0, 0 }, { "1a", 0, 0 }, { "1.0", 0, 0 },
        { "1e3", 0, 0 }, { "0x10", 0, 0 },
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        int64_t v = 12345;
        int ok = hr_dict_canonical_int(cases[k].s, strlen(cases[k].s), &v);
        if (ok != cases[k].ok) fail_msg("'%s': canonical %d, expected %d", cases[k].s, ok, cases[k].ok);
        if (ok && v != cases[k].v) fail_msg("'%s': value %lld", cases[k].s, (long long)v);
    }
    /* a span is read to its length, not to a NUL */
    int64_t v;
    assert_true(hr_dict_canonical_int("123456", 3, &v) && v == 123);
}

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
    const uint64_t seed = test_seed();
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
    const uint64_t seed = test_seed();
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

static void test_block_round_trip(void **state)
{
    (void)state;
    const uint64_t seed = test_seed();
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
            /* this rank's triples, in a scrambled order */
            hr_triple *mine = hr_malloc(n * sizeof *mine);
            uint64_t m = 0;
            for (uint64_t k = n; k-- > 0;)
                if (p.owner[by_item ? all[k].i : all[k].u] == (uint32_t)rank) mine[m++] = all[k];
            hr_triples_sort(mine, m, &p, rank, by_item);
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
            uint64_t m = 0;
            for (uint64_t k = n; k-- > 0;)
                if (p.owner[by_item ? all[k].i : all[k].u] == (uint32_t)rank) mine[m++] = all[k];
            hr_triples_sort(mine, m, &p, rank, by_item);
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
        cmocka_unit_test(test_intern_many_keys),
        cmocka_unit_test(test_intern_bytes_and_pack),
        cmocka_unit_test(test_dict_integer_ids),
        cmocka_unit_test(test_dict_string_ids),
        cmocka_unit_test(test_dict_packs_from_ranks),
        cmocka_unit_test(test_dict_canonical_int),
        cmocka_unit_test(test_dict_build_many_ints),
        cmocka_unit_test(test_dict_match_exact),
        cmocka_unit_test(test_part_balanced),
        cmocka_unit_test(test_part_hash),
        cmocka_unit_test(test_dedupe_policy),
        cmocka_unit_test(test_dedupe_bots),
        cmocka_unit_test(test_dedupe_random_oracle),
        cmocka_unit_test(test_triples_sort_order),
        cmocka_unit_test(test_triples_sort_move),
        cmocka_unit_test(test_triples_sort_inplace),
        cmocka_unit_test(test_block_round_trip),
        cmocka_unit_test(test_route_needed_and_cols),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
