#include "io/modelread.h"

#include <string.h>

#include "core/alloc.h"
#include "io/bundle.h"
#include "io/dictbuf.h"
#include "io/model_impl.h"

struct hr_model_reader {
    char *path;
    int version;
    hr_bundle_at *b;     /* format 2 */
    hr_model hdr;        /* header (format 2), or the whole model (format 1) */
    int int_ids[2];
    hr_model_layout L;   /* format 2: read from the manifest; format 1: the layout format 2 would use */
};

int hr_model_reader_open(const char *path, hr_model_reader **out, hr_error *err)
{
    hr_model_reader *r = hr_calloc(1, sizeof *r);
    r->path = hr_strdup(path);
    int rc = hr_bundle_at_open(path, HR_MODEL_FORMAT, HR_MODEL_VERSION, &r->b, err);
    if (rc < 0) goto fail;
    json_t *man = hr_bundle_at_manifest(r->b);
    r->version = (int)json_integer_value(json_object_get(man, "version"));
    if (r->version >= 2) {
        HR_CHECK(hr_model_read_header(path, man, &r->hdr, err));
        HR_CHECK(hr_model_v2_layout(path, man, &r->hdr, &r->L, err));
        r->hdr.manifest = json_incref(man);
        json_t *arrays = json_object_get(man, "arrays");
        for (int s = 0; s < 2; s++) {
            const char *ids = json_string_value(json_object_get(json_object_get(arrays, s ? "items.dict" : "users.dict"), "ids"));
            if (!ids || (strcmp(ids, "integer") && strcmp(ids, "string")))
                HR_CHECK(hr_error_set(err, HR_ERR_FORMAT, "%s: array %s: 'ids' must be \"integer\" or \"string\"", path,
                                      s ? "items.dict" : "users.dict"));
            r->int_ids[s] = !strcmp(ids, "integer");
        }
    } else {
        hr_bundle_at_close(r->b);
        r->b = NULL;
        HR_CHECK(hr_model_load(path, &r->hdr, err));
        hr_model_layout_build(&r->L, r->hdr.kind, r->hdr.k, r->hdr.n_users, r->hdr.n_items, r->hdr.user_bias != NULL,
                              r->hdr.item_bias != NULL);
        r->int_ids[0] = r->hdr.users.is_int;
        r->int_ids[1] = r->hdr.items.is_int;
    }
    *out = r;
    return 0;
fail:
    hr_model_reader_close(r);
    return rc;
}

const hr_model *hr_model_reader_header(const hr_model_reader *r) { return &r->hdr; }

int hr_model_reader_ids_int(const hr_model_reader *r, int side) { return r->int_ids[side ? 1 : 0]; }

static int find(const hr_model_reader *r, const char *name)
{
    for (int x = 0; x < r->L.n; x++)
        if (!strcmp(r->L.a[x].name, name)) return x;
    return -1;
}

int hr_model_reader_array(const hr_model_reader *r, const char *name, uint64_t *rows, uint64_t *cols, uint64_t *block)
{
    int x = find(r, name);
    if (x < 0) return 0;
    *rows = r->L.a[x].rows;
    *cols = r->L.a[x].cols;
    *block = r->L.a[x].block;
    return 1;
}

int hr_model_reader_rows(hr_model_reader *r, const char *name, uint64_t lo, uint64_t hi, float *out, hr_error *err)
{
    int x = find(r, name);
    if (x < 0 || r->L.a[x].type != HR_MARRAY_F32)
        return hr_error_set(err, HR_ERR_ARG, "%s: the model has no array %s", r->path, name);
    if (r->b) return hr_model_v2_rows(r->b, &r->L, x, lo, hi, out, err);
    const hr_marray *a = &r->L.a[x];
    if (lo > hi || hi > a->rows)
        return hr_error_set(err, HR_ERR_ARG, "%s: rows %llu..%llu asked of %s (%llu rows)", r->path, (unsigned long long)lo,
                            (unsigned long long)hi, name, (unsigned long long)a->rows);
    const float *src = *hr_model_array_slot(&r->hdr, name);
    memcpy(out, src + lo * a->cols, (size_t)((hi - lo) * a->cols) * sizeof *out);
    return 0;
}

int hr_model_reader_ids(hr_model_reader *r, int side, uint64_t lo, uint64_t hi, hr_dict *out, hr_error *err)
{
    memset(out, 0, sizeof *out);
    int x = find(r, side ? "items.dict" : "users.dict");
    if (r->b) return hr_model_v2_ids(r->b, &r->L, x, lo, hi, r->int_ids[side ? 1 : 0], out, err);
    const hr_dict *d = side ? &r->hdr.items : &r->hdr.users;
    if (lo > hi || hi > d->n)
        return hr_error_set(err, HR_ERR_ARG, "%s: ids %llu..%llu asked of %llu", r->path, (unsigned long long)lo,
                            (unsigned long long)hi, (unsigned long long)d->n);
    /* a slice of the whole dictionary: the member encoding, decoded (the same code path as a
     * format-2 member) */
    void *buf;
    size_t len;
    hr_model_dict_member(d, lo, hi, &buf, &len);
    int rc = hr_dictbuf_decode(buf, len, r->path, out, err);
    hr_free(buf);
    return rc;
}

int hr_model_reader_iiblock(hr_model_reader *r, uint64_t c, void **bytes, hr_iiblock *blk, hr_error *err)
{
    *bytes = NULL;
    /* the same sparse column blocks: over items (itemknn, ease) or users (userknn) */
    const char *name = r->hdr.kind == HR_MODEL_USERUSER ? "user_user" : "item_item";
    int x = find(r, name);
    /* blocked models exist in format 2 only (a format-1 bundle saying itemitem is refused) */
    if (x < 0 || !r->b) return hr_error_set(err, HR_ERR_ARG, "%s: the model has no %s array", r->path, name);
    return hr_model_v2_iiblock(r->b, &r->L, x, &r->hdr, c, bytes, blk, err);
}

void hr_model_reader_close(hr_model_reader *r)
{
    if (!r) return;
    hr_bundle_at_close(r->b);
    hr_model_free(&r->hdr);
    hr_free(r->path);
    hr_free(r);
}
