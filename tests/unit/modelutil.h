/* tests/unit/modelutil.h — model fixtures shared by test_model.c and test_model_v2.c
 * (header-only; include after testutil.h): dictionaries and factor models with known content,
 * identity checks, and a writer of format-1 bundles (the format hpcrec wrote before version 2,
 * which it must still read). */
#ifndef HR_TESTS_MODELUTIL_H
#define HR_TESTS_MODELUTIL_H

#include <jansson.h>

#include "io/bundle.h"
#include "io/dictbuf.h"
#include "io/model.h"

static inline void dict_ints(hr_dict *d, uint64_t n)
{
    memset(d, 0, sizeof *d);
    d->is_int = 1;
    d->n = n;
    d->ints = hr_malloc((n ? n : 1) * sizeof *d->ints);
    d->nnz = hr_malloc((n ? n : 1) * sizeof *d->nnz);
    for (uint64_t i = 0; i < n; i++) {
        d->ints[i] = (int64_t)i * 10 - 5;
        d->nnz[i] = i + 1;
    }
}

static inline void dict_strings(hr_dict *d, uint64_t n)
{
    memset(d, 0, sizeof *d);
    d->n = n;
    d->offs = hr_malloc((n + 1) * sizeof *d->offs);
    d->bytes = hr_malloc(n * 8 + 1);
    d->offs[0] = 0;
    for (uint64_t i = 0; i < n; i++) {
        /* "k0000", "k0001", ... sorted bytewise; every third one longer */
        int w = snprintf(d->bytes + d->offs[i], 9, "k%04llu%s", (unsigned long long)i, i % 3 ? "" : "x");
        d->offs[i + 1] = d->offs[i] + (uint64_t)w;
    }
}

static inline float *rand_floats(uint64_t n, unsigned seed)
{
    float *a = hr_malloc((n ? n : 1) * sizeof *a);
    uint64_t s = seed * 2654435761u + 1;
    for (uint64_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        a[i] = (float)((double)(s >> 40) / (double)(1ull << 24) - 0.5) * 3.0f;
    }
    return a;
}

static inline void make_factor(hr_model *m, int k, uint64_t nu, uint64_t ni, int biases, int string_ids)
{
    memset(m, 0, sizeof *m);
    m->kind = HR_MODEL_FACTOR;
    snprintf(m->algo, sizeof m->algo, "als");
    m->k = k;
    m->n_users = nu;
    m->n_items = ni;
    if (string_ids) {
        dict_strings(&m->users, nu);
        dict_strings(&m->items, ni);
    } else {
        dict_ints(&m->users, nu);
        dict_ints(&m->items, ni);
    }
    m->user_factors = rand_floats(nu * (uint64_t)k, 1);
    m->item_factors = rand_floats(ni * (uint64_t)k, 2);
    if (biases) {
        m->user_bias = rand_floats(nu, 3);
        m->item_bias = rand_floats(ni, 4);
        m->global_mean = 3.5812f;
    }
}

static inline void assert_floats_identical(const float *a, const float *b, uint64_t n)
{
    if (!a || !b) {
        assert_true(a == b);
        return;
    }
    assert_memory_equal(a, b, n * sizeof *a);
}

static inline void assert_dicts_identical(const hr_dict *a, const hr_dict *b)
{
    assert_int_equal(a->is_int, b->is_int);
    assert_int_equal(a->n, b->n);
    if (a->is_int) {
        if (a->n) assert_memory_equal(a->ints, b->ints, a->n * 8);
    } else {
        assert_memory_equal(a->offs, b->offs, (a->n + 1) * 8);
        if (a->offs[a->n]) assert_memory_equal(a->bytes, b->bytes, a->offs[a->n]);
    }
    for (uint64_t i = 0; i < a->n; i++) assert_int_equal(a->nnz ? a->nnz[i] : 0, b->nnz[i]);
}

static inline void assert_models_identical(const hr_model *a, const hr_model *b)
{
    assert_int_equal(a->kind, b->kind);
    assert_string_equal(a->algo, b->algo);
    assert_int_equal(a->k, b->k);
    assert_int_equal(a->n_users, b->n_users);
    assert_int_equal(a->n_items, b->n_items);
    assert_memory_equal(&a->global_mean, &b->global_mean, sizeof a->global_mean);
    assert_dicts_identical(&a->users, &b->users);
    assert_dicts_identical(&a->items, &b->items);
    assert_floats_identical(a->user_factors, b->user_factors, a->n_users * (uint64_t)a->k);
    assert_floats_identical(a->item_factors, b->item_factors, a->n_items * (uint64_t)a->k);
    assert_floats_identical(a->user_bias, b->user_bias, a->n_users);
    assert_floats_identical(a->item_bias, b->item_bias, a->n_items);
    assert_floats_identical(a->item_scores, b->item_scores, a->n_items);
}

/* The model as a format-1 bundle: one member per array, written by the generic bundle writer
 * exactly as hpcrec 0.1 did before format 2. */
static inline void save_v1(const char *path, const hr_model *m)
{
    hr_error err = { 0 };
    hr_bundle_writer *w = hr_bundle_create_writer();
    void *buf;
    size_t len;
    hr_dictbuf_encode(&m->users, &buf, &len);
    assert_int_equal(hr_bundle_add_member(w, "users.dict", buf, len, 1, &err), 0);
    hr_free(buf);
    hr_dictbuf_encode(&m->items, &buf, &len);
    assert_int_equal(hr_bundle_add_member(w, "items.dict", buf, len, 1, &err), 0);
    hr_free(buf);
    struct { const char *name; const float *a; uint64_t n; } arr[] = {
        { "user_factors.f32", m->user_factors, m->n_users * (uint64_t)m->k },
        { "item_factors.f32", m->item_factors, m->n_items * (uint64_t)m->k },
        { "user_bias.f32", m->user_bias, m->n_users },
        { "item_bias.f32", m->item_bias, m->n_items },
        { "item_scores.f32", m->item_scores, m->n_items },
    };
    for (size_t i = 0; i < sizeof arr / sizeof arr[0]; i++)
        if (arr[i].a) assert_int_equal(hr_bundle_add_member(w, arr[i].name, arr[i].a, arr[i].n * sizeof(float), 1, &err), 0);
    json_t *man = json_pack("{s:s,s:i,s:s,s:s,s:i,s:I,s:I,s:f,s:s,s:s}", "format", HR_MODEL_FORMAT, "version", 1, "kind",
                            m->kind == HR_MODEL_FACTOR ? "factor" : "pop", "algo", m->algo, "k", m->k, "users",
                            (json_int_t)m->n_users, "items", (json_int_t)m->n_items, "global_mean", (double)m->global_mean,
                            "software", "hpcrec 0.1.0", "created", "2026-11-23T00:00:00Z");
    if (hr_bundle_write(path, man, w, &err) != 0) fail_msg("save_v1: %s", err.msg);
    json_decref(man);
    hr_bundle_free_writer(w);
}

#endif
