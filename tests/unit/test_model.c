/* tests/unit/test_model.c — model bundles (io/model.h): save/load bit-identity for factor and
 * popularity models (format 2 as written, format 1 as older hpcrec wrote it), what save and load
 * refuse (non-finite factors, inconsistent sizes, missing members, versions), partial
 * (per-rank) loads from either format, and the reference scorer.  Format-2 specifics (layout,
 * member reads, byte identity): test_model_v2.c. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "io/bundle.h"
#include "io/dictbuf.h"
#include "io/model.h"
#include "tests/unit/testutil.h"
#include "tests/unit/modelutil.h"

static void roundtrip(const hr_model *m, const char *name)
{
    char p[520];
    snprintf(p, 512, "%s", hr_test_path(name));
    hr_error err = { 0 };
    json_t *info = json_pack("{s:{s:f,s:i},s:i,s:f,s:{s:s}}", "params", "lambda", 0.05, "factors", m->k, "iterations",
                             12, "final_loss", 1234.5, "lineage", "dataset", "/data/x");
    if (hr_model_save(p, m, info, &err) != 0) fail_msg("save: %s", err.msg);
    json_decref(info);
    hr_model r;
    if (hr_model_load(p, &r, &err) != 0) fail_msg("load: %s", err.msg);
    assert_models_identical(m, &r);
    json_t *man = r.manifest;
    assert_string_equal(json_string_value(json_object_get(man, "format")), HR_MODEL_FORMAT);
    assert_int_equal(json_integer_value(json_object_get(man, "version")), HR_MODEL_VERSION);
    assert_string_equal(json_string_value(json_object_get(man, "kind")), m->kind == HR_MODEL_FACTOR ? "factor" : "pop");
    assert_string_equal(json_string_value(json_object_get(man, "software")), "hpcrec " HR_VERSION);
    assert_int_equal(strlen(json_string_value(json_object_get(man, "created"))), 20);
    assert_int_equal(json_integer_value(json_object_get(man, "iterations")), 12);
    assert_string_equal(json_string_value(json_object_get(json_object_get(man, "lineage"), "dataset")), "/data/x");
    if (m->n_users)
        assert_true(json_is_true(json_object_get(json_object_get(json_object_get(man, "members"), "users.dict.000000"), "zstd")));
    assert_true(json_is_object(json_object_get(json_object_get(man, "arrays"), "users.dict")));
    hr_model_free(&r);
    hr_model_free(&r); /* idempotent */
    hr_model_free(NULL);
    /* the same model as format 1 (what hpcrec wrote before) loads the same */
    strcat(p, ".v1");
    save_v1(p, m);
    if (hr_model_load(p, &r, &err) != 0) fail_msg("load v1: %s", err.msg);
    assert_models_identical(m, &r);
    assert_int_equal(json_integer_value(json_object_get(r.manifest, "version")), 1);
    hr_model_free(&r);
}

static void test_model_factor_roundtrip(void **state)
{
    (void)state;
    hr_model m;
    make_factor(&m, 8, 37, 53, 1, 1);
    roundtrip(&m, "als-str.tar");
    hr_model_free(&m);
    make_factor(&m, 5, 20, 11, 0, 0);
    snprintf(m.algo, sizeof m.algo, "ials");
    roundtrip(&m, "ials-int.tar");
    /* only an item bias */
    m.item_bias = rand_floats(m.n_items, 9);
    roundtrip(&m, "ibias.tar");
    hr_model_free(&m);
    /* empty dictionaries */
    make_factor(&m, 3, 0, 4, 0, 1);
    roundtrip(&m, "nousers.tar");
    hr_model_free(&m);
}

static void test_model_pop_roundtrip(void **state)
{
    (void)state;
    hr_model m;
    memset(&m, 0, sizeof m);
    m.kind = HR_MODEL_POP;
    snprintf(m.algo, sizeof m.algo, "pop");
    m.n_users = 9;
    m.n_items = 15;
    dict_ints(&m.users, 9);
    dict_strings(&m.items, 15);
    m.item_scores = rand_floats(15, 5);
    roundtrip(&m, "pop.tar");
    /* tar(1) lists the members */
    char cmd[700];
    snprintf(cmd, sizeof cmd, "tar -tf %s/pop.tar > %s/pop.list 2>/dev/null", hr_test_dir, hr_test_dir);
    if (system(cmd) == 0) {
        size_t len;
        char *list = hr_test_read_file(hr_test_path("pop.list"), &len);
        list[len] = '\0';
        assert_non_null(strstr(list, "manifest.json\nusers.dict.000000.zst\nitems.dict.000000.zst\nitem_scores.f32.000000.zst\n"));
        hr_free(list);
    }
    hr_model_free(&m);
}

static void test_model_save_rejects(void **state)
{
    (void)state;
    hr_model m;
    hr_error err = { 0 };
    const char *p = hr_test_path("bad-save.tar");
    make_factor(&m, 4, 6, 7, 1, 0);
    m.item_factors[4 * 3 + 1] = NAN;
    assert_int_equal(hr_model_save(p, &m, NULL, &err), HR_ERR_NUMERIC);
    assert_msg_has(&err, "item_factors.f32");
    assert_msg_has(&err, "row 3");
    m.item_factors[4 * 3 + 1] = 0.5f;
    json_t *info = json_pack("{s:i}", "k", 99);
    assert_int_equal(hr_model_save(p, &m, info, &err), HR_ERR_ARG);
    assert_msg_has(&err, "'k'");
    json_decref(info);
    m.n_items = 8; /* disagrees with the dictionary */
    assert_int_equal(hr_model_save(p, &m, NULL, &err), HR_ERR_ARG);
    m.n_items = 7;
    m.k = 0;
    assert_int_equal(hr_model_save(p, &m, NULL, &err), HR_ERR_ARG);
    m.k = 4;
    assert_int_not_equal(access(p, F_OK), 0);
    assert_int_equal(hr_model_save(p, &m, NULL, &err), 0);
    hr_model_free(&m);
}

/* Rewrite a model bundle with one member replaced (or dropped when data is NULL). */
static void rewrite_model(const char *src, const char *dst, const char *name, const void *data, size_t len)
{
    hr_error err = { 0 };
    hr_bundle *b;
    assert_int_equal(hr_bundle_open(src, HR_MODEL_FORMAT, HR_MODEL_VERSION, &b, &err), 0);
    hr_bundle_writer *w = hr_bundle_create_writer();
    for (size_t i = 0; i < hr_bundle_count(b); i++) {
        const char *mn = hr_bundle_name(b, i);
        const void *d;
        size_t n;
        assert_int_equal(hr_bundle_get(b, mn, &d, &n, &err), 0);
        if (strcmp(mn, name) == 0) {
            if (!data) continue;
            d = data;
            n = len;
        }
        assert_int_equal(hr_bundle_add_member(w, mn, d, n, 1, &err), 0);
    }
    json_t *man = json_deep_copy(hr_bundle_manifest(b));
    assert_int_equal(hr_bundle_write(dst, man, w, &err), 0);
    json_decref(man);
    hr_bundle_free_writer(w);
    hr_bundle_close(b);
}

/* Format-1 bundles that load refuses (rewritten with the generic bundle writer; the same checks
 * on format 2: test_model_v2.c). */
static void test_model_load_rejects(void **state)
{
    (void)state;
    hr_model m, r;
    hr_error err = { 0 };
    char good[512], bad[512];
    snprintf(good, sizeof good, "%s", hr_test_path("good.tar"));
    snprintf(bad, sizeof bad, "%s", hr_test_path("bad.tar"));
    make_factor(&m, 4, 6, 7, 1, 0);
    save_v1(good, &m);
    /* a NaN factor */
    float *uf = hr_malloc(6 * 4 * sizeof *uf);
    memcpy(uf, m.user_factors, 6 * 4 * sizeof *uf);
    uf[2 * 4 + 3] = NAN;
    rewrite_model(good, bad, "user_factors.f32", uf, 6 * 4 * sizeof *uf);
    assert_int_equal(hr_model_load(bad, &r, &err), HR_ERR_FORMAT);
    assert_msg_has(&err, "user_factors.f32");
    assert_msg_has(&err, "row 2");
    assert_null(r.user_factors); /* left empty on failure */
    /* an Inf bias */
    float ib[7];
    memcpy(ib, m.item_bias, sizeof ib);
    ib[6] = INFINITY;
    rewrite_model(good, bad, "item_bias.f32", ib, sizeof ib);
    assert_int_equal(hr_model_load(bad, &r, &err), HR_ERR_FORMAT);
    assert_msg_has(&err, "item_bias.f32");
    /* a factor array of the wrong size */
    rewrite_model(good, bad, "item_factors.f32", uf, 5 * sizeof *uf);
    assert_int_equal(hr_model_load(bad, &r, &err), HR_ERR_FORMAT);
    assert_msg_has(&err, "item_factors.f32");
    /* a missing required member (dropped from the tar and the manifest) */
    rewrite_model(good, bad, "items.dict", NULL, 0);
    assert_int_equal(hr_model_load(bad, &r, &err), HR_ERR_FORMAT);
    assert_msg_has(&err, "items.dict");
    /* a dictionary whose size disagrees with the manifest */
    {
        hr_dict d;
        void *buf;
        size_t n;
        dict_ints(&d, 5);
        hr_dictbuf_encode(&d, &buf, &n);
        rewrite_model(good, bad, "items.dict", buf, n);
        hr_free(buf);
        hr_dict_free(&d);
    }
    assert_int_equal(hr_model_load(bad, &r, &err), HR_ERR_FORMAT);
    assert_msg_has(&err, "items.dict");
    /* a corrupted (compressed) member: a checksum error naming it */
    {
        size_t len;
        char *buf = hr_test_read_file(good, &len);
        const char name[] = "user_bias.f32.zst";
        char *hdr = memmem(buf, len, name, sizeof name - 1);
        assert_non_null(hdr);
        hdr[512 + 10] ^= 1; /* inside the data block after the member's tar header */
        hr_test_write_file(bad, buf, len);
        hr_free(buf);
    }
    assert_int_equal(hr_model_load(bad, &r, &err), HR_ERR_CHECKSUM);
    assert_msg_has(&err, "user_bias.f32.zst");
    assert_msg_has(&err, bad);
    hr_free(uf);
    hr_model_free(&m);
    assert_int_equal(hr_model_load(good, &r, &err), 0);
    hr_model_free(&r);
}

static void test_model_version(void **state)
{
    (void)state;
    hr_model m, r;
    hr_error err = { 0 };
    char good[512], bad[512];
    snprintf(good, sizeof good, "%s", hr_test_path("ver.tar"));
    snprintf(bad, sizeof bad, "%s", hr_test_path("ver2.tar"));
    make_factor(&m, 2, 3, 3, 0, 0);
    save_v1(good, &m);
    hr_bundle *b;
    assert_int_equal(hr_bundle_open(good, HR_MODEL_FORMAT, 1, &b, &err), 0);
    hr_bundle_writer *w = hr_bundle_create_writer();
    for (size_t i = 0; i < hr_bundle_count(b); i++) {
        const void *d;
        size_t n;
        assert_int_equal(hr_bundle_get(b, hr_bundle_name(b, i), &d, &n, &err), 0);
        assert_int_equal(hr_bundle_add_member(w, hr_bundle_name(b, i), d, n, 1, &err), 0);
    }
    json_t *man = json_deep_copy(hr_bundle_manifest(b));
    json_object_set_new(man, "version", json_integer(HR_MODEL_VERSION + 1));
    assert_int_equal(hr_bundle_write(bad, man, w, &err), 0);
    json_decref(man);
    hr_bundle_free_writer(w);
    hr_bundle_close(b);
    assert_int_equal(hr_model_load(bad, &r, &err), HR_ERR_VERSION);
    assert_msg_has(&err, bad);
    assert_msg_has(&err, HR_MODEL_FORMAT);
    /* a bundle of another format is not a model */
    w = hr_bundle_create_writer();
    assert_int_equal(hr_bundle_add_member(w, "a.bin", "abc", 3, 0, &err), 0);
    man = json_pack("{s:s,s:i}", "format", "test-bundle", "version", 1);
    assert_int_equal(hr_bundle_write(bad, man, w, &err), 0);
    json_decref(man);
    hr_bundle_free_writer(w);
    assert_int_equal(hr_model_load(bad, &r, &err), HR_ERR_FORMAT);
    assert_msg_has(&err, "test-bundle");
    hr_model_free(&m);
}

/* hr_model_load_dicts + hr_model_load_part keep exactly the asked rows of a full load.  k = 37
 * makes 148-byte rows that straddle the streaming chunks; 30000 users make several chunks. */
static void model_part(int version)
{
    char p[512];
    snprintf(p, sizeof p, "%s", hr_test_path("part.tar"));
    hr_error err = { 0 };
    hr_model m;
    const int k = 37;
    const uint64_t nu = 30000, ni = 5000;
    make_factor(&m, k, nu, ni, 1, 0);
    if (version == 1) save_v1(p, &m);
    else if (hr_model_save(p, &m, NULL, &err) != 0) fail_msg("save: %s", err.msg);
    assert_int_equal(hr_model_user_row(&m, 17), 17);   /* a whole model: the id itself */
    assert_int_equal(hr_model_user_row(&m, nu), -1);
    uint64_t *rows = hr_malloc(nu * sizeof *rows), nr = 0;
    for (uint64_t u = 3; u < nu; u += 7) rows[nr++] = u;
    rows[nr++] = nu - 1;
    struct { uint64_t nrows, lo, hi; } cases[] = { { nr, 1234, 4321 }, { 0, 0, 0 }, { 1, 0, ni }, { nr, ni, ni } };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        hr_model r;
        if (hr_model_load_dicts(p, &r, &err) != 0) fail_msg("dicts: %s", err.msg);
        assert_null(r.user_factors);
        assert_null(r.item_factors);
        assert_dicts_identical(&m.users, &r.users);
        assert_dicts_identical(&m.items, &r.items);
        hr_model_part part = { rows, cases[c].nrows, cases[c].lo, cases[c].hi, NULL, 0 };
        if (hr_model_load_part(p, &r, &part, &err) != 0) fail_msg("part: %s", err.msg);
        assert_true(r.partial);
        for (uint64_t x = 0; x < part.n_users; x++) assert_int_equal(hr_model_user_row(&r, rows[x]), (int64_t)x);
        if (part.n_users > 1) assert_int_equal(hr_model_user_row(&r, rows[0] + 1), -1);   /* not in the part */
        for (uint64_t x = 0; x < part.n_users; x++) {
            assert_memory_equal(r.user_factors + x * k, m.user_factors + rows[x] * k, k * sizeof(float));
            assert_memory_equal(&r.user_bias[x], &m.user_bias[rows[x]], sizeof(float));
        }
        uint64_t span = part.item_hi - part.item_lo;
        if (span) {
            assert_memory_equal(r.item_factors, m.item_factors + part.item_lo * k, span * k * sizeof(float));
            assert_memory_equal(r.item_bias, m.item_bias + part.item_lo, span * sizeof(float));
        }
        float sc[8];
        assert_int_equal(hr_model_score_items(&r, 0, sc, &err), HR_ERR_ARG);   /* whole models only */
        assert_true(isnan(hr_model_predict(&r, 0, 0)));
        hr_model_free(&r);
    }
    /* ids in any order, repeated: held once each, in id order */
    hr_model r;
    uint64_t unsorted[] = { 9, 4, 9, nu - 1 }, past[] = { 5, nu };
    hr_model_part any = { unsorted, 4, 0, 0, NULL, 0 }, bad1 = { past, 2, 0, 0, NULL, 0 }, bad3 = { NULL, 0, 10, ni + 1, NULL, 0 };
    assert_int_equal(hr_model_load_dicts(p, &r, &err), 0);
    assert_int_equal(hr_model_load_part(p, &r, &any, &err), 0);
    assert_int_equal(r.user_rows, 3);
    for (int x = 0; x < 4; x++) {
        int64_t row = hr_model_user_row(&r, unsorted[x]);
        assert_true(row >= 0 && row < 3);
        assert_memory_equal(r.user_factors + (uint64_t)row * k, m.user_factors + unsorted[x] * k, k * sizeof(float));
    }
    assert_int_equal(hr_model_user_row(&r, 4), 0);
    hr_model_free(&r);
    /* an id past the end; an item range past the end */
    assert_int_equal(hr_model_load_dicts(p, &r, &err), 0);
    assert_int_equal(hr_model_load_part(p, &r, &bad1, &err), HR_ERR_FORMAT);
    assert_msg_has(&err, "user_factors");
    hr_model_free(&r);
    assert_int_equal(hr_model_load_dicts(p, &r, &err), 0);
    assert_int_equal(hr_model_load_part(p, &r, &bad3, &err), HR_ERR_ARG);
    hr_model_free(&r);
    /* a corrupted factor member is caught although only part of it is kept */
    assert_int_equal(hr_model_load_dicts(p, &r, &err), 0);
    size_t len;
    char *buf = hr_test_read_file(p, &len);
    if (version == 1) {
        buf[len / 2] ^= 0x5a;   /* inside user_factors, the largest member */
    } else {                    /* inside the member holding the rows asked for */
        char *h = memmem(buf, len, "user_factors.f32.000000.zst", 27);
        assert_non_null(h);
        h[512 + 1000] ^= 0x5a;
    }
    hr_test_write_file(p, buf, len);
    hr_model_part few = { rows, 2, 0, 1, NULL, 0 };
    assert_int_equal(hr_model_load_part(p, &r, &few, &err), HR_ERR_CHECKSUM);
    assert_msg_has(&err, "user_factors");
    hr_model_free(&r);
    /* the bundle replaced between the two reads */
    if (hr_model_save(p, &m, NULL, &err) != 0) fail_msg("save: %s", err.msg);
    assert_int_equal(hr_model_load_dicts(p, &r, &err), 0);
    hr_model other;
    make_factor(&other, k, nu, ni, 1, 0);
    other.user_factors[0] += 1.0f;
    if (hr_model_save(p, &other, NULL, &err) != 0) fail_msg("save: %s", err.msg);
    assert_int_equal(hr_model_load_part(p, &r, &few, &err), HR_ERR_STATE);
    assert_msg_has(&err, "changed");
    hr_model_free(&r);
    hr_model_free(&other);
    hr_free(buf);
    hr_free(rows);
    hr_model_free(&m);
}

static void test_model_part(void **state)
{
    (void)state;
    model_part(2);
    model_part(1);
}

static void test_scoring(void **state)
{
    (void)state;
    hr_model m;
    memset(&m, 0, sizeof m);
    m.kind = HR_MODEL_FACTOR;
    m.k = 2;
    m.n_users = 2;
    m.n_items = 3;
    float X[] = { 1, 2, 0.5f, -1 };
    float Y[] = { 3, 1, -1, 2, 0, 0 };
    float bu[] = { 0.25f, -0.5f };
    float bi[] = { 0.5f, 0, -0.5f };
    m.user_factors = X;
    m.item_factors = Y;
    m.user_bias = bu;
    m.item_bias = bi;
    m.global_mean = 3;
    float s[3];
    hr_error err = { 0 };
    assert_int_equal(hr_model_score_items(&m, 0, s, &err), 0);
    /* u0: 3 + .25 + b_i + x.y, x.y = 5, 3, 0 */
    assert_float_equal(s[0], 8.75f, 1e-6);
    assert_float_equal(s[1], 6.25f, 1e-6);
    assert_float_equal(s[2], 2.75f, 1e-6);
    assert_int_equal(hr_model_score_items(&m, 1, s, &err), 0);
    /* u1: 3 - .5 + b_i + x.y, x.y = 0.5, -2.5, 0 */
    assert_float_equal(s[0], 3.5f, 1e-6);
    assert_float_equal(s[1], 0.0f, 1e-6);
    assert_float_equal(s[2], 2.0f, 1e-6);
    for (uint64_t u = 0; u < 2; u++) {
        assert_int_equal(hr_model_score_items(&m, u, s, &err), 0);
        for (uint64_t i = 0; i < 3; i++) assert_true(hr_model_predict(&m, u, i) == s[i]);
    }
    assert_int_equal(hr_model_score_items(&m, 2, s, &err), HR_ERR_ARG);
    assert_true(isnan(hr_model_predict(&m, 2, 0)));
    assert_true(isnan(hr_model_predict(&m, 0, 3)));
    /* without biases: plain dot products */
    m.user_bias = m.item_bias = NULL;
    m.global_mean = 0;
    assert_int_equal(hr_model_score_items(&m, 1, s, &err), 0);
    assert_float_equal(s[0], 0.5f, 1e-6);
    assert_float_equal(s[1], -2.5f, 1e-6);
    assert_float_equal(s[2], 0.0f, 1e-6);
    /* pop: the fixed vector, whoever asks */
    float sc[] = { 7, 1, 4 };
    hr_model p;
    memset(&p, 0, sizeof p);
    p.kind = HR_MODEL_POP;
    p.n_users = 2;
    p.n_items = 3;
    p.item_scores = sc;
    float t[3];
    assert_int_equal(hr_model_score_items(&p, 1, t, &err), 0);
    assert_memory_equal(t, sc, sizeof sc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model_factor_roundtrip),
        cmocka_unit_test(test_model_pop_roundtrip),
        cmocka_unit_test(test_model_save_rejects),
        cmocka_unit_test(test_model_load_rejects),
        cmocka_unit_test(test_model_version),
        cmocka_unit_test(test_model_part),
        cmocka_unit_test(test_scoring),
    };
    return cmocka_run_group_tests(tests, hr_test_setup, hr_test_teardown);
}
