/* io/model_load.c — reading a model bundle (the hr_model_load* functions of io/model.h): opens
 * the bundle, asks its format version and hands it to that version's reader - format 2 in
 * io/model_v2.c, format 1 (the first bundles: one member per array, read whole) here.  The
 * model's own checks and helpers stay in io/model.c, which reads no bundle. */
#include "io/model.h"

#include <stdio.h>
#include <string.h>

#include "io/bundle.h"
#include "io/dictbuf.h"
#include "io/model_impl.h"

static int load_dict(hr_bundle *b, const char *name, hr_dict *d, uint64_t n, hr_error *err)
{
    const void *p;
    size_t len;
    HR_TRY(hr_bundle_get(b, name, &p, &len, err));
    char what[4200];
    snprintf(what, sizeof what, "%s:%s", hr_bundle_path(b), name);
    HR_TRY(hr_dictbuf_decode(p, len, what, d, err));
    if (d->n != n)
        return hr_error_set(err, HR_ERR_FORMAT, "%s: has %llu ids, the manifest says %llu", what,
                            (unsigned long long)d->n, (unsigned long long)n);
    return 0;
}

static int load_array(hr_bundle *b, const hr_model_farray *a, hr_error *err)
{
    const char *path = hr_bundle_path(b);
    if (!hr_bundle_has(b, a->name)) {
        if (a->optional) return 0;
        return hr_error_set(err, HR_ERR_FORMAT, "%s: model has no member %s", path, a->name);
    }
    if (a->width <= 0 || !hr_model_size_ok(a->rows, (uint64_t)a->width))
        return hr_error_set(err, HR_ERR_FORMAT, "%s: implausible size for %s (%llu rows)", path, a->name,
                            (unsigned long long)a->rows);
    void *p;
    size_t len;
    HR_TRY(hr_bundle_take(b, a->name, &p, &len, err));
    *a->slot = p; /* owned by the model from here, so hr_model_free releases it on failure */
    size_t want = (size_t)a->rows * (size_t)a->width * sizeof(float);
    if (len != want)
        return hr_error_set(err, HR_ERR_FORMAT, "%s: member %s has %zu bytes, expected %zu (%llu x %d floats)", path,
                            a->name, len, want, (unsigned long long)a->rows, a->width);
    uint64_t bad = hr_model_first_bad_row(p, a->rows, (uint64_t)a->width);
    if (bad != UINT64_MAX)
        return hr_error_set(err, HR_ERR_FORMAT, "%s: member %s has a non-finite value (NaN/Inf) in row %llu", path, a->name,
                            (unsigned long long)bad);
    return 0;
}

/* Format 1: header and dictionaries, plus the arrays when `arrays`; picks say what to skip. */
static int v1_load_whole(const char *path, hr_model *m, const hr_bundle_pick *picks, size_t npicks, int arrays,
                         hr_error *err)
{
    hr_bundle *b;
    HR_TRY(hr_bundle_open_pick(path, HR_MODEL_FORMAT, HR_MODEL_VERSION, picks, npicks, &b, err));
    json_t *man = hr_bundle_manifest(b);
    int rc = 0;
    HR_CHECK(hr_model_read_header(path, man, m, err));
    if (hr_model_blocked(m->kind))
        HR_CHECK(hr_error_set(err, HR_ERR_FORMAT, "%s: an item-item model in a format 1 bundle (they are written as format 2 only)", path));
    HR_CHECK(load_dict(b, "users.dict", &m->users, m->n_users, err));
    HR_CHECK(load_dict(b, "items.dict", &m->items, m->n_items, err));
    if (arrays) {
        hr_model_farray arr[5];
        size_t na = hr_model_arrays(m, arr);
        for (size_t i = 0; i < na; i++) HR_CHECK(load_array(b, &arr[i], err));
    }
    m->manifest = json_incref(man);
fail:
    hr_bundle_close(b);
    return rc;
}

static int v1_load_part(const char *path, hr_model *m, hr_error *err)
{
    size_t ku = (size_t)(m->k ? m->k : 1) * sizeof(float);
    const int by_id = m->item_ids != NULL;
    hr_bundle_pick pk[] = {
        { "users.dict", HR_PICK_SKIP, 0, NULL, 0, 0, 0 },
        { "items.dict", HR_PICK_SKIP, 0, NULL, 0, 0, 0 },
        { "user_factors.f32", HR_PICK_ROWS, ku, m->user_ids, m->user_rows, 0, 0 },
        { "user_bias.f32", HR_PICK_ROWS, sizeof(float), m->user_ids, m->user_rows, 0, 0 },
        { "item_factors.f32", by_id ? HR_PICK_ROWS : HR_PICK_RANGE, ku, m->item_ids, m->item_rows, m->item_lo, m->item_hi },
        { "item_bias.f32", by_id ? HR_PICK_ROWS : HR_PICK_RANGE, sizeof(float), m->item_ids, m->item_rows, m->item_lo,
          m->item_hi },
    };
    hr_bundle *b;
    HR_TRY(hr_bundle_open_pick(path, HR_MODEL_FORMAT, HR_MODEL_VERSION, pk, sizeof pk / sizeof pk[0], &b, err));
    int rc = 0;
    /* Same bundle as the dictionaries came from: every member's checksum is in the manifest. */
    if (!json_equal(json_object_get(hr_bundle_manifest(b), "members"), json_object_get(m->manifest, "members")))
        HR_CHECK(hr_error_set(err, HR_ERR_STATE, "%s: the model changed while it was being read; run again", path));
    hr_model_farray arr[5];
    size_t na = hr_model_arrays(m, arr);
    for (size_t i = 0; i < na; i++) HR_CHECK(load_array(b, &arr[i], err));
fail:
    hr_bundle_close(b);
    return rc;
}

/* Open a bundle for random access and say which format version it is. */
static int open_any(const char *path, hr_bundle_at **b, int *version, hr_error *err)
{
    HR_TRY(hr_bundle_at_open(path, HR_MODEL_FORMAT, HR_MODEL_VERSION, b, err));
    *version = (int)json_integer_value(json_object_get(hr_bundle_at_manifest(*b), "version"));
    return 0;
}

/* what: 1 header + dictionaries, 3 also every array. */
static int load_whole(const char *path, hr_model *m, int what, hr_error *err)
{
    memset(m, 0, sizeof *m);
    hr_bundle_at *b;
    int version, rc = 0;
    HR_TRY(open_any(path, &b, &version, err));
    if (version >= 2) {
        rc = hr_model_v2_load(b, m, NULL, what, err);
    } else {
        static const hr_bundle_pick skip[] = {
            { "user_factors.f32", HR_PICK_SKIP, 0, NULL, 0, 0, 0 }, { "item_factors.f32", HR_PICK_SKIP, 0, NULL, 0, 0, 0 },
            { "user_bias.f32", HR_PICK_SKIP, 0, NULL, 0, 0, 0 },    { "item_bias.f32", HR_PICK_SKIP, 0, NULL, 0, 0, 0 },
            { "item_scores.f32", HR_PICK_SKIP, 0, NULL, 0, 0, 0 },
        };
        rc = what & 2 ? v1_load_whole(path, m, NULL, 0, 1, err) : v1_load_whole(path, m, skip, sizeof skip / sizeof skip[0], 0, err);
    }
    hr_bundle_at_close(b);
    if (rc < 0) hr_model_free(m);
    return rc;
}

int hr_model_load_dicts(const char *path, hr_model *m, hr_error *err) { return load_whole(path, m, 1, err); }

int hr_model_load(const char *path, hr_model *m, hr_error *err) { return load_whole(path, m, 3, err); }

int hr_model_load_part(const char *path, hr_model *m, const hr_model_part *part, hr_error *err)
{
    if (!part->items && (part->item_lo > part->item_hi || part->item_hi > m->n_items))
        return hr_error_set(err, HR_ERR_ARG, "%s: item rows %llu..%llu asked of a model of %llu items", path,
                            (unsigned long long)part->item_lo, (unsigned long long)part->item_hi,
                            (unsigned long long)m->n_items);
    if (m->kind == HR_MODEL_ITEMITEM &&
        (part->items || part->item_lo % m->ii_cols || (part->item_hi % m->ii_cols && part->item_hi != m->n_items)))
        return hr_error_set(err, HR_ERR_ARG, "%s: columns %llu..%llu do not fall on item-item block boundaries (%u)", path,
                            (unsigned long long)part->item_lo, (unsigned long long)part->item_hi, m->ii_cols);
    /* the rows are read in file order: ids sorted, each once; owned by m from here, so
     * hr_model_free releases them on any failure */
    m->user_rows = part->n_users;
    m->user_ids = hr_model_sorted_ids(part->users, &m->user_rows);
    if (part->items) {
        m->item_rows = part->n_items;
        m->item_ids = hr_model_sorted_ids(part->items, &m->item_rows);
        m->item_lo = m->item_hi = 0;
    } else {
        m->item_lo = part->item_lo;
        m->item_hi = part->item_hi;
        m->item_rows = part->item_hi - part->item_lo;
    }
    m->partial = 1;
    hr_bundle_at *b;
    int version, rc = 0;
    HR_TRY(open_any(path, &b, &version, err));
    if (!json_equal(json_object_get(hr_bundle_at_manifest(b), "members"), json_object_get(m->manifest, "members")))
        rc = hr_error_set(err, HR_ERR_STATE, "%s: the model changed while it was being read; run again", path);
    else if (version >= 2) rc = hr_model_v2_load(b, m, part, 2, err);
    else rc = v1_load_part(path, m, err);
    hr_bundle_at_close(b);
    return rc;
}
