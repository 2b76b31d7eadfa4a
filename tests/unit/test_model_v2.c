/* tests/unit/test_model_v2.c — model bundles of format 2 (io/model.h, docs/formats.md): the
 * layout rule (fixed rows per member, a function of the width only), byte-identical output,
 * dictionaries spanning members, streaming verification (hr_bundle_verify) and random-access
 * reads (a part load reads only the members holding its rows), item-id part loads, and what
 * load refuses in bundles assembled piece by piece with a member tampered with. */
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
#include "io/bundlefmt.h"
#include "io/dictbuf.h"
#include "io/manifest.h"
#include "io/model.h"
#include "tests/unit/testutil.h"
#include "tests/unit/modelutil.h"

/* Sorted string ids "u00000000", "u00000001", ... (any count). */
static void dict_many_strings(hr_dict *d, uint64_t n)
{
    memset(d, 0, sizeof *d);
    d->n = n;
    d->offs = hr_malloc((n + 1) * sizeof *d->offs);
    d->bytes = hr_malloc(n * 9 + 1);
    d->nnz = hr_malloc((n ? n : 1) * sizeof *d->nnz);
    d->offs[0] = 0;
    for (uint64_t i = 0; i < n; i++) {
        snprintf(d->bytes + d->offs[i], 10, "u%08llu", (unsigned long long)i);
        d->offs[i + 1] = d->offs[i] + 9;
        d->nnz[i] = i % 7;
    }
}

static void test_layout_rule(void **state)
{
    (void)state;
    hr_model_layout L;
    hr_model_layout_build(&L, HR_MODEL_FACTOR, 64, 100000, 20000, 1, 0);
    assert_int_equal(L.n, 5);
    assert_string_equal(L.a[0].name, "users.dict");
    assert_int_equal(L.a[0].block, HR_MODEL_DICT_BLOCK);
    assert_int_equal(L.a[0].members, 2);
    assert_string_equal(L.a[2].name, "user_factors.f32");
    assert_int_equal(L.a[2].block, 4096);           /* 1 MiB of 64-float rows */
    assert_int_equal(L.a[2].members, 25);           /* 100000 / 4096 rounded up */
    assert_string_equal(L.a[4].name, "user_bias.f32");
    assert_int_equal(L.a[4].block, 1u << 18);
    assert_int_equal(L.members, 2 + 1 + 25 + 5 + 1);
    uint64_t lo, hi;
    assert_int_equal(hr_model_layout_member(&L, 27, &lo, &hi), 2);   /* the last user_factors member */
    assert_int_equal(lo, 24 * 4096);
    assert_int_equal(hi, 100000);
    char name[64];
    hr_model_member_name(&L, 27, name, sizeof name);
    assert_string_equal(name, "user_factors.f32.000024");
    /* wide rows: one row per member at least */
    hr_model_layout_build(&L, HR_MODEL_FACTOR, HR_MODEL_MAX_K, 3, 0, 0, 0);
    assert_int_equal(L.a[2].block, 4);
    assert_int_equal(L.a[3].members, 0);
    /* huge arrays: members grow (by doubling) so that there are at most MAX_MEMBERS */
    hr_model_layout_build(&L, HR_MODEL_FACTOR, 128, (uint64_t)1 << 30, 10000000, 0, 0);
    assert_int_equal(L.a[0].members, HR_MODEL_MAX_MEMBERS);
    assert_int_equal(L.a[2].members, HR_MODEL_MAX_MEMBERS);
    assert_int_equal(L.a[2].block, (uint64_t)1 << 18);   /* 128 MiB members */
    assert_true(L.a[3].members <= HR_MODEL_MAX_MEMBERS && L.a[3].members > HR_MODEL_MAX_MEMBERS / 2);
}

/* A model whose arrays span several members: k = 256 (1024 rows per member), 13000 string
 * user ids. */
static void big_model(hr_model *m)
{
    make_factor(m, 256, 13000, 9000, 1, 0);
    hr_dict_free(&m->users);
    dict_many_strings(&m->users, 13000);
}

static void test_bytes_and_members(void **state)
{
    (void)state;
    hr_model m, r;
    hr_error err = { 0 };
    big_model(&m);
    const char *a = hr_test_path("a.tar"), *b = hr_test_path("b.tar"), *c = hr_test_path("c.tar");
    setenv("SOURCE_DATE_EPOCH", "1790000000", 1);
    json_t *info = json_pack("{s:s}", "note", "x");
    assert_int_equal(hr_model_save(a, &m, info, &err), 0);
    assert_int_equal(hr_model_save(b, &m, info, &err), 0);
    size_t la, lb, lc;
    char *ba = hr_test_read_file(a, &la), *bb = hr_test_read_file(b, &lb);
    assert_int_equal(la, lb);
    assert_memory_equal(ba, bb, la);   /* reproducible */
    /* load and save again: the same bytes (the model is all the bundle depends on) */
    if (hr_model_load(a, &r, &err) != 0) fail_msg("load: %s", err.msg);
    assert_models_identical(&m, &r);
    json_t *man = r.manifest;
    assert_string_equal(json_string_value(json_object_get(man, "created")), "2026-09-21T14:13:20Z");
    json_t *arr = json_object_get(man, "arrays");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(arr, "users.dict"), "members")), 1);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(arr, "user_factors.f32"), "members")), 13);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(arr, "user_factors.f32"), "block")), 1024);
    assert_string_equal(json_string_value(json_object_get(json_object_get(arr, "users.dict"), "ids")), "string");
    assert_int_equal(hr_model_save(c, &r, info, &err), 0);
    char *bc = hr_test_read_file(c, &lc);
    assert_int_equal(la, lc);
    assert_memory_equal(ba, bc, la);
    hr_model_free(&r);
    unsetenv("SOURCE_DATE_EPOCH");
    json_decref(info);
    /* streaming verification */
    size_t nmem = 0;
    json_t *vm = NULL;
    if (hr_bundle_verify(a, HR_MODEL_FORMAT, HR_MODEL_VERSION, &vm, &nmem, &err) != 0) fail_msg("verify: %s", err.msg);
    assert_int_equal(nmem, 1 + 1 + 13 + 9 + 1 + 1);
    json_decref(vm);
    /* a flipped byte in the last user-factor member: whole loads and verification refuse it,
     * a part that does not need that member never reads it */
    const char name[] = "user_factors.f32.000012.zst";
    char *h = memmem(ba, la, name, sizeof name - 1);
    assert_non_null(h);
    h[HR_TAR_BLOCK + 100] ^= 0x10;
    hr_test_write_file(b, ba, la);
    assert_int_equal(hr_model_load(b, &r, &err), HR_ERR_CHECKSUM);
    assert_msg_has(&err, "user_factors.f32.000012");
    assert_int_equal(hr_bundle_verify(b, HR_MODEL_FORMAT, HR_MODEL_VERSION, &vm, &nmem, &err), HR_ERR_CHECKSUM);
    assert_int_equal(hr_model_load_dicts(b, &r, &err), 0);
    uint64_t users[] = { 5, 4095, 4096, 12287 }, items[] = { 8999, 3, 17, 3 };
    hr_model_part part = { users, 4, 0, 0, items, 4 };
    if (hr_model_load_part(b, &r, &part, &err) != 0) fail_msg("part: %s", err.msg);
    assert_int_equal(r.user_rows, 4);
    assert_int_equal(r.item_rows, 3);
    for (int x = 0; x < 4; x++) {
        int64_t ur = hr_model_user_row(&r, users[x]), ir = hr_model_item_row(&r, items[x]);
        assert_true(ur >= 0 && ir >= 0);
        assert_memory_equal(r.user_factors + (uint64_t)ur * 256, m.user_factors + users[x] * 256, 256 * sizeof(float));
        assert_memory_equal(r.item_factors + (uint64_t)ir * 256, m.item_factors + items[x] * 256, 256 * sizeof(float));
        assert_memory_equal(&r.item_bias[ir], &m.item_bias[items[x]], sizeof(float));
    }
    assert_int_equal(hr_model_item_row(&r, 4), -1);
    hr_model_free(&r);
    /* a member's offset that points elsewhere: the tar header check catches it */
    hr_free(bb);
    bb = hr_test_read_file(a, &lb);
    char *o = memmem(bb, lb, "\"offset\": ", 10);
    assert_non_null(o);
    o[10] = o[10] == '1' ? '2' : '1';   /* the first listed member's offset changes */
    hr_test_write_file(b, bb, lb);
    assert_int_equal(hr_model_load(b, &r, &err), HR_ERR_FORMAT);
    assert_int_not_equal(hr_bundle_verify(b, HR_MODEL_FORMAT, HR_MODEL_VERSION, &vm, &nmem, &err), 0);
    /* cut short */
    hr_test_write_file(b, ba, la / 2 / HR_TAR_BLOCK * HR_TAR_BLOCK);
    assert_int_equal(hr_model_load(b, &r, &err), HR_ERR_FORMAT);
    assert_msg_has(&err, "truncated");
    hr_free(ba);
    hr_free(bb);
    hr_free(bc);
    hr_model_free(&m);
}

/* A format-2 bundle of m built from the public pieces, with member `bad` (if >= 0) replaced by
 * `data` (len bytes); drop: leave it out of the tar (still listed). */
static void write_pieces(const char *path, const hr_model *m, int64_t bad, const void *data, size_t len, int drop)
{
    hr_error err = { 0 };
    hr_model_layout L;
    hr_model_layout_build(&L, m->kind, m->k, m->n_users, m->n_items, m->user_bias != NULL, m->item_bias != NULL);
    uint64_t *st = hr_calloc(L.members, 8), *raw = hr_calloc(L.members, 8), *xx = hr_calloc(L.members, 8);
    unsigned char **pc = hr_calloc(L.members, sizeof *pc);
    size_t *pl = hr_calloc(L.members, sizeof *pl);
    hr_packer *pk = hr_packer_create();
    for (uint64_t j = 0; j < L.members; j++) {
        uint64_t lo, hi;
        const hr_marray *a = &L.a[hr_model_layout_member(&L, j, &lo, &hi)];
        void *owned = NULL;
        const void *r;
        size_t n;
        if ((int64_t)j == bad) {
            r = data;
            n = len;
        } else if (a->type == HR_MARRAY_DICT) {
            hr_model_dict_member(a->side ? &m->items : &m->users, lo, hi, &owned, &n);
            r = owned;
        } else {
            const float *base = !strcmp(a->name, "user_factors.f32") ? m->user_factors
                                : !strcmp(a->name, "item_factors.f32") ? m->item_factors
                                : !strcmp(a->name, "user_bias.f32") ? m->user_bias : m->item_bias;
            r = base + lo * a->cols;
            n = (hi - lo) * a->cols * sizeof(float);
        }
        char name[80];
        hr_model_member_name(&L, j, name, sizeof name);
        strcat(name, ".zst");
        const unsigned char *p;
        assert_int_equal(hr_packer_pack(pk, r, n, name, 7, &p, &pl[j], &st[j], &xx[j], &err), 0);
        raw[j] = n;
        pc[j] = hr_malloc(pl[j]);
        memcpy(pc[j], p, pl[j]);
        hr_free(owned);
    }
    size_t tl;
    char *text = hr_model_manifest_text(m, NULL, &L, st, raw, xx, 7, &tl);
    FILE *f = fopen(path, "wb");
    const unsigned char *p;
    size_t n;
    uint64_t x;
    assert_int_equal(hr_packer_plain(pk, text, tl, HR_BUNDLE_MANIFEST, 7, &p, &n, &x, &err), 0);
    fwrite(p, 1, n, f);
    for (uint64_t j = 0; j < L.members; j++) {
        if (!(drop && (int64_t)j == bad)) fwrite(pc[j], 1, pl[j], f);
        hr_free(pc[j]);
    }
    static const unsigned char zeros[1024];
    fwrite(zeros, 1, sizeof zeros, f);
    fclose(f);
    free(text);
    hr_packer_free(pk);
    hr_free(pc);
    hr_free(pl);
    hr_free(st);
    hr_free(raw);
    hr_free(xx);
}

/* Dictionaries of several members (string ids: offsets rebased per member) in a pop model. */
static void test_dict_members(void **state)
{
    (void)state;
    hr_model m, r;
    hr_error err = { 0 };
    memset(&m, 0, sizeof m);
    m.kind = HR_MODEL_POP;
    snprintf(m.algo, sizeof m.algo, "pop");
    m.n_users = 2 * HR_MODEL_DICT_BLOCK + 17;
    m.n_items = 3;
    dict_many_strings(&m.users, m.n_users);
    dict_ints(&m.items, 3);
    m.item_scores = rand_floats(3, 5);
    const char *p = hr_test_path("dicts.tar");
    assert_int_equal(hr_model_save(p, &m, NULL, &err), 0);
    if (hr_model_load_dicts(p, &r, &err) != 0) fail_msg("dicts: %s", err.msg);
    assert_dicts_identical(&m.users, &r.users);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(json_object_get(r.manifest, "arrays"), "users.dict"), "members")), 3);
    char key[16];
    for (uint64_t g = HR_MODEL_DICT_BLOCK - 2; g < HR_MODEL_DICT_BLOCK + 2; g++) {
        size_t n = hr_dict_format(&r.users, g, key, sizeof key);
        assert_int_equal(hr_dict_find(&r.users, key, n), (int64_t)g);
    }
    hr_model_free(&r);
    hr_model_free(&m);
}

static void test_v2_rejects(void **state)
{
    (void)state;
    hr_model m, r;
    hr_error err = { 0 };
    const char *p = hr_test_path("pieces.tar");
    make_factor(&m, 4, 6, 7, 1, 0);
    /* the pieces without tampering make exactly what hr_model_save makes */
    setenv("SOURCE_DATE_EPOCH", "7", 1);
    write_pieces(p, &m, -1, NULL, 0, 0);
    assert_int_equal(hr_model_save(hr_test_path("saved.tar"), &m, NULL, &err), 0);
    unsetenv("SOURCE_DATE_EPOCH");
    size_t l1, l2;
    char *b1 = hr_test_read_file(p, &l1), *b2 = hr_test_read_file(hr_test_path("saved.tar"), &l2);
    assert_int_equal(l1, l2);
    assert_memory_equal(b1, b2, l1);
    hr_free(b1);
    hr_free(b2);
    assert_int_equal(hr_model_load(p, &r, &err), 0);
    hr_model_free(&r);
    /* member order: users.dict 0, items.dict 1, user_factors 2, item_factors 3, user_bias 4, item_bias 5 */
    float uf[6 * 4];
    memcpy(uf, m.user_factors, sizeof uf);
    uf[2 * 4 + 3] = NAN;
    write_pieces(p, &m, 2, uf, sizeof uf, 0);
    assert_int_equal(hr_model_load(p, &r, &err), HR_ERR_FORMAT);
    assert_msg_has(&err, "user_factors.f32");
    assert_msg_has(&err, "row 2");
    assert_null(r.user_factors);
    float ib[7];
    memcpy(ib, m.item_bias, sizeof ib);
    ib[6] = INFINITY;
    write_pieces(p, &m, 5, ib, sizeof ib, 0);
    assert_int_equal(hr_model_load(p, &r, &err), HR_ERR_FORMAT);
    assert_msg_has(&err, "item_bias.f32");
    write_pieces(p, &m, 3, uf, 5 * sizeof *uf, 0);   /* wrong size */
    assert_int_equal(hr_model_load(p, &r, &err), HR_ERR_FORMAT);
    assert_msg_has(&err, "item_factors.f32.000000");
    write_pieces(p, &m, 1, NULL, 0, 1);   /* listed, absent from the tar */
    assert_int_equal(hr_model_load(p, &r, &err), HR_ERR_FORMAT);
    assert_msg_has(&err, "items.dict.000000");
    {   /* a dictionary member with fewer ids than the layout says */
        hr_dict d;
        void *buf;
        size_t n;
        dict_ints(&d, 5);
        hr_dictbuf_encode(&d, &buf, &n);
        write_pieces(p, &m, 1, buf, n, 0);
        hr_free(buf);
        hr_dict_free(&d);
    }
    assert_int_equal(hr_model_load(p, &r, &err), HR_ERR_FORMAT);
    assert_msg_has(&err, "items.dict");
    hr_model_free(&m);
}

/* A factor model with a content map: saved, loaded whole and with the dictionaries, the same;
 * refused on a pop model or with a map of the wrong width. */
static void test_content_map(void **state)
{
    (void)state;
    hr_model m, r;
    hr_error err = { 0 };
    make_factor(&m, 4, 6, 7, 1, 0);
    const uint32_t nf = 5;
    dict_strings(&m.content_tokens, nf);
    m.content_nf = nf;
    m.content_width = 5;   /* k + the item bias */
    m.content_idf = rand_floats(nf, 11);
    m.content_map = rand_floats((nf + 1) * 5, 12);
    const char *p = hr_test_path("content.tar");
    if (hr_model_save(p, &m, NULL, &err) != 0) fail_msg("save: %s", err.msg);
    for (int whole = 0; whole < 2; whole++) {
        int rc = whole ? hr_model_load(p, &r, &err) : hr_model_load_dicts(p, &r, &err);
        if (rc != 0) fail_msg("load: %s", err.msg);
        assert_int_equal(r.content_nf, nf);
        assert_int_equal(r.content_width, 5);
        assert_dicts_identical(&m.content_tokens, &r.content_tokens);
        assert_memory_equal(r.content_idf, m.content_idf, nf * sizeof(float));
        assert_memory_equal(r.content_map, m.content_map, (nf + 1) * 5 * sizeof(float));
        assert_int_equal(hr_dict_find(&r.content_tokens, "k0001", 5), 1);
        json_t *a = json_object_get(json_object_get(r.manifest, "arrays"), "content_map.f32");
        assert_string_equal(json_string_value(json_object_get(a, "side")), "content");
        hr_model_free(&r);
    }
    m.content_width = 4;   /* the bias column missing */
    assert_int_equal(hr_model_save(hr_test_path("bad.tar"), &m, NULL, &err), HR_ERR_ARG);
    assert_msg_has(&err, "content map");
    hr_model_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout_rule),
        cmocka_unit_test(test_bytes_and_members),
        cmocka_unit_test(test_dict_members),
        cmocka_unit_test(test_v2_rejects),
        cmocka_unit_test(test_content_map),
    };
    return cmocka_run_group_tests(tests, hr_test_setup, hr_test_teardown);
}
