/* tests/unit/test_dict.c — partition/intern and partition/dict: id interning, dictionaries of
 * integer and string ids, their packing across ranks and exact matching. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "partition/dict.h"
#include "partition/intern.h"
#include "tests/unit/testutil.h"

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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
