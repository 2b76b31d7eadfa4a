/* io/model_v2.c — model bundles of format version 2: arrays cut into members of a fixed number
 * of rows, each member's place listed in the manifest (io/model.h, docs/formats.md).
 *
 * Writing here is the single-process writer (hr_model_save).  It makes the same bytes as the
 * collective writer of jobs/modelwrite.c, because both go through the same pieces: the layout
 * (hr_model_layout_build), the member bytes (f32 rows as they are in memory; dictionary
 * members by hr_model_dict_member), the packer (io/bundlefmt.h) and the manifest
 * (hr_model_manifest_text).  Both make two passes: the first learns every member's stored
 * size and checksum (the manifest, written first, lists them), the second writes. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/hash.h"
#include "io/bundlefmt.h"
#include "io/dictbuf.h"
#include "io/iiblock.h"
#include "io/manifest.h"
#include "io/model_impl.h"
#include "io/output.h"

/* ---------------------------------------------------------------- layout */

static uint64_t ceil_div(uint64_t a, uint64_t b) { return a / b + (a % b != 0); }

static void add_array(hr_model_layout *L, const char *name, hr_marray_type type, int side, uint64_t rows, uint64_t cols)
{
    hr_marray *a = &L->a[L->n++];
    a->name = name;
    a->type = type;
    a->side = side;
    a->rows = rows;
    a->cols = cols;
    if (type == HR_MARRAY_DICT) {
        a->block = HR_MODEL_DICT_BLOCK;
        while (ceil_div(rows, a->block) > HR_MODEL_MAX_MEMBERS) a->block *= 2;
    } else {
        const uint64_t rb = cols * sizeof(float);
        uint64_t bytes = HR_MODEL_BLOCK_BYTES;
        while (bytes / rb < rows && ceil_div(rows, bytes / rb ? bytes / rb : 1) > HR_MODEL_MAX_MEMBERS) bytes *= 2;
        a->block = bytes / rb ? bytes / rb : 1;
    }
    a->members = ceil_div(rows, a->block);
    a->first = L->members;
    L->members += a->members;
}

void hr_model_layout_build(hr_model_layout *L, hr_model_kind kind, int k, uint64_t n_users, uint64_t n_items,
                           int user_bias, int item_bias)
{
    memset(L, 0, sizeof *L);
    add_array(L, "users.dict", HR_MARRAY_DICT, 0, n_users, 1);
    add_array(L, "items.dict", HR_MARRAY_DICT, 1, n_items, 1);
    if (kind == HR_MODEL_FACTOR) {
        add_array(L, "user_factors.f32", HR_MARRAY_F32, 0, n_users, (uint64_t)k);
        add_array(L, "item_factors.f32", HR_MARRAY_F32, 1, n_items, (uint64_t)k);
    }
    if (user_bias) add_array(L, "user_bias.f32", HR_MARRAY_F32, 0, n_users, 1);
    if (item_bias) add_array(L, "item_bias.f32", HR_MARRAY_F32, 1, n_items, 1);
    if (kind == HR_MODEL_POP) add_array(L, "item_scores.f32", HR_MARRAY_F32, 1, n_items, 1);
}

void hr_model_layout_item_item(hr_model_layout *L, uint64_t n_items, uint64_t cols)
{
    hr_marray *a = &L->a[L->n++];
    *a = (hr_marray){ "item_item", HR_MARRAY_IIBLK, 1, n_items, n_items, cols ? cols : 1, 0, L->members };
    a->members = ceil_div(n_items, a->block);
    L->members += a->members;
}

void hr_model_layout_user_user(hr_model_layout *L, uint64_t n_users, uint64_t cols)
{
    hr_marray *a = &L->a[L->n++];
    *a = (hr_marray){ "user_user", HR_MARRAY_IIBLK, 0, n_users, n_users, cols ? cols : 1, 0, L->members };
    a->members = ceil_div(n_users, a->block);
    L->members += a->members;
}

void hr_model_layout_content(hr_model_layout *L, uint64_t nf, uint64_t width)
{
    if (!nf) return;
    add_array(L, "content.dict", HR_MARRAY_DICT, 2, nf, 1);
    add_array(L, "content_idf.f32", HR_MARRAY_F32, 2, nf, 1);
    add_array(L, "content_map.f32", HR_MARRAY_F32, 2, nf + 1, width);
}

int hr_model_layout_member(const hr_model_layout *L, uint64_t j, uint64_t *lo, uint64_t *hi)
{
    int x = 0;
    while (x + 1 < L->n && j >= L->a[x + 1].first) x++;
    const hr_marray *a = &L->a[x];
    *lo = (j - a->first) * a->block;
    *hi = *lo + a->block < a->rows ? *lo + a->block : a->rows;
    return x;
}

void hr_model_member_name(const hr_model_layout *L, uint64_t j, char *buf, size_t cap)
{
    uint64_t lo, hi;
    int x = hr_model_layout_member(L, j, &lo, &hi);
    snprintf(buf, cap, "%s.%06llu", L->a[x].name, (unsigned long long)(j - L->a[x].first));
}

void hr_model_dict_member(const hr_dict *d, uint64_t lo, uint64_t hi, void **out, size_t *len)
{
    hr_dict v = { d->is_int, hi - lo, NULL, NULL, NULL, d->nnz ? d->nnz + lo : NULL };
    uint64_t *offs = NULL;
    if (d->is_int) {
        v.ints = d->ints + lo;
    } else {
        /* offsets rebased to the range's first key */
        offs = hr_malloc((hi - lo + 1) * sizeof *offs);
        for (uint64_t g = lo; g <= hi; g++) offs[g - lo] = d->offs[g] - d->offs[lo];
        v.offs = offs;
        v.bytes = d->bytes + d->offs[lo];
    }
    hr_dictbuf_encode(&v, out, len);
    hr_free(offs);
}

/* ---------------------------------------------------------------- manifest */

char *hr_model_manifest_text(const hr_model *m, json_t *info, const hr_model_layout *L, const uint64_t *stored,
                             const uint64_t *raw, const uint64_t *xxh3, int64_t created, size_t *len)
{
    json_t *man = hr_model_base_manifest(m, info, HR_MODEL_VERSION, created), *arrays = json_object(),
           *members = json_object();
    for (int x = 0; x < L->n; x++) {
        const hr_marray *a = &L->a[x];
        const char *type = a->type == HR_MARRAY_DICT ? "dict" : a->type == HR_MARRAY_F32 ? "f32" : "iiblock";
        const char *side = a->side == 2 ? "content" : a->side ? "items" : "users";
        json_t *e = json_pack("{s:s,s:s,s:I,s:I,s:s,s:I,s:I}", "type", type, "side", side, "rows",
                              (json_int_t)a->rows, "cols", (json_int_t)a->cols, "order",
                              a->type == HR_MARRAY_IIBLK ? "col" : "row", "block", (json_int_t)a->block, "members",
                              (json_int_t)a->members);
        if (a->type == HR_MARRAY_DICT)
            json_object_set_new(e, "ids", json_string(a->side == 2 ? "string" : (a->side ? m->items.is_int : m->users.is_int) ? "integer" : "string"));
        json_object_set_new(arrays, a->name, e);
    }
    uint64_t off = 0;
    for (uint64_t j = 0; j < L->members; j++) {
        char name[64], hex[17];
        hr_model_member_name(L, j, name, sizeof name);
        hr_checksum_hex(xxh3[j], hex);
        json_object_set_new(members, name, json_pack("{s:I,s:I,s:s,s:b,s:I}", "bytes", (json_int_t)stored[j], "raw_bytes",
                                                     (json_int_t)raw[j], "xxh3", hex, "zstd", 1, "offset", (json_int_t)off));
        off += hr_tar_span(stored[j]);
    }
    json_object_set_new(man, "arrays", arrays);
    json_object_set_new(man, "members", members);
    char *text = hr_manifest_dumps(man);
    json_decref(man);
    if (!text) return NULL;
    *len = strlen(text) + 1;
    text[*len - 1] = '\n';   /* jansson leaves room for the NUL */
    return text;
}

/* ---------------------------------------------------------------- single-process writer */

/* Raw bytes of member j of a whole model: f32 rows in place, or an encoded dictionary range
 * (*owned, to be freed). */
static void member_raw(const hr_model *m, const hr_model_layout *L, uint64_t j, const void **raw, size_t *len,
                       void **owned)
{
    uint64_t lo, hi;
    const hr_marray *a = &L->a[hr_model_layout_member(L, j, &lo, &hi)];
    *owned = NULL;
    if (a->type == HR_MARRAY_DICT) {
        hr_model_dict_member(a->side == 2 ? &m->content_tokens : a->side ? &m->items : &m->users, lo, hi, owned, len);
        *raw = *owned;
        return;
    }
    if (a->type == HR_MARRAY_IIBLK) {
        hr_iiblock_encode(&m->ii[j - a->first], owned, len);
        *raw = *owned;
        return;
    }
    const float *base = *hr_model_array_slot((hr_model *)m, a->name);
    *raw = base + lo * a->cols;
    *len = (size_t)((hi - lo) * a->cols * sizeof(float));
}

int hr_model_save(const char *path, const hr_model *m, json_t *info, hr_error *err)
{
    HR_TRY(hr_model_check(path, m, info, err));
    hr_model_layout L;
    hr_model_layout_build(&L, m->kind, m->k, m->n_users, m->n_items, m->user_bias != NULL, m->item_bias != NULL);
    if (m->kind == HR_MODEL_ITEMITEM) hr_model_layout_item_item(&L, m->n_items, m->ii_cols);
    if (m->kind == HR_MODEL_USERUSER) hr_model_layout_user_user(&L, m->n_users, m->ii_cols);
    hr_model_layout_content(&L, m->content_nf, (uint64_t)m->content_width);
    const int64_t mtime = hr_manifest_epoch();
    uint64_t nm = L.members ? L.members : 1;
    uint64_t *stored = hr_calloc(nm, sizeof *stored), *raw = hr_calloc(nm, sizeof *raw), *xxh3 = hr_calloc(nm, sizeof *xxh3);
    hr_packer *pk = hr_packer_create();
    hr_output *o = NULL;
    char *text = NULL;
    int rc = 0;
    const unsigned char *piece;
    size_t plen, tlen;
    for (int pass = 0; pass < 2; pass++) {
        for (uint64_t j = 0; j < L.members; j++) {
            const void *r;
            size_t len;
            void *owned;
            char name[80];
            member_raw(m, &L, j, &r, &len, &owned);
            hr_model_member_name(&L, j, name, sizeof name);
            strcat(name, ".zst");
            uint64_t st, h;
            rc = hr_packer_pack(pk, r, len, name, mtime, &piece, &plen, &st, &h, err);
            hr_free(owned);
            if (rc < 0) goto fail;
            if (pass == 0) {
                stored[j] = st;
                raw[j] = len;
                xxh3[j] = h;
            } else {
                HR_CHECK(hr_output_write(o, piece, plen, err));
            }
        }
        if (pass == 1) break;
        text = hr_model_manifest_text(m, info, &L, stored, raw, xxh3, mtime, &tlen);
        if (!text) {
            rc = hr_error_set(err, HR_ERR_NOMEM, "%s: cannot serialise the model manifest", path);
            goto fail;
        }
        HR_CHECK(hr_output_open(path, 0, 1, &o, err));
        HR_CHECK(hr_packer_plain(pk, text, tlen, HR_BUNDLE_MANIFEST, mtime, &piece, &plen, &(uint64_t){ 0 }, err));
        HR_CHECK(hr_output_write(o, piece, plen, err));
    }
    {
        static const unsigned char zeros[2 * HR_TAR_BLOCK];
        HR_CHECK(hr_output_write(o, zeros, sizeof zeros, err));
    }
    rc = hr_output_commit(o, NULL, NULL, err);
    o = NULL;
fail:
    hr_output_abort(o);
    hr_packer_free(pk);
    free(text);
    hr_free(stored);
    hr_free(raw);
    hr_free(xxh3);
    return rc;
}

/* ---------------------------------------------------------------- reader */

/* The array table of a manifest, checked against the header (counts, k, block arithmetic)
 * and against the member table (each member listed, nothing else). */
int hr_model_v2_layout(const char *path, json_t *man, const hr_model *m, hr_model_layout *L, hr_error *err)
{
    static const char *const names[] = { "users.dict",    "items.dict",    "user_factors.f32", "item_factors.f32",
                                          "user_bias.f32", "item_bias.f32", "item_scores.f32",  "item_item",
                                          "user_user",     "content.dict",  "content_idf.f32",  "content_map.f32" };
    const char *kname = m->kind == HR_MODEL_FACTOR ? "factor" : m->kind == HR_MODEL_POP ? "pop" : m->kind == HR_MODEL_ITEMITEM ? "item-item" : "user-user";
    json_t *arrays = json_object_get(man, "arrays"), *members = json_object_get(man, "members");
    if (!json_is_object(arrays)) return hr_error_set(err, HR_ERR_FORMAT, "%s: model manifest has no 'arrays' table", path);
    memset(L, 0, sizeof *L);
    const char *key;
    json_t *v;
    json_object_foreach(arrays, key, v) {
        int known = 0;
        for (size_t x = 0; x < sizeof names / sizeof *names; x++) known |= !strcmp(key, names[x]);
        if (!known)
            return hr_error_set(err, HR_ERR_FORMAT, "%s: unknown array '%s' in a %s model (a newer hpcrec wrote it?)", path,
                                key, kname);
    }
    /* the content map: all three arrays or none, of a factor model; nf from content.dict */
    json_t *cd = json_object_get(arrays, "content.dict");
    const int content = cd || json_object_get(arrays, "content_idf.f32") || json_object_get(arrays, "content_map.f32");
    const json_int_t cnf = json_integer_value(json_object_get(cd, "rows"));
    if (content && (m->kind != HR_MODEL_FACTOR || !cd || cnf < 1 || cnf > 65536))
        return hr_error_set(err, HR_ERR_FORMAT, "%s: a content map needs a factor model and content.dict with 1..65536 rows", path);
    for (size_t x = 0; x < sizeof names / sizeof *names; x++) {
        json_t *e = json_object_get(arrays, names[x]);
        if (x >= 9) {   /* content map */
            if (!content) continue;
            json_t *ib = json_object_get(arrays, "item_bias.f32");
            uint64_t rows = (uint64_t)cnf + (x == 11), cols = x == 11 ? (uint64_t)m->k + (ib != NULL) : 1;
            const char *type = json_string_value(json_object_get(e, "type")), *want = x == 9 ? "dict" : "f32";
            json_t *jb = json_object_get(e, "block"), *jm = json_object_get(e, "members");
            if (!e || !type || strcmp(type, want) || (uint64_t)json_integer_value(json_object_get(e, "rows")) != rows ||
                (uint64_t)json_integer_value(json_object_get(e, "cols")) != cols || !json_is_integer(jb) ||
                json_integer_value(jb) < 1 || !json_is_integer(jm) ||
                (uint64_t)json_integer_value(jm) != ceil_div(rows, (uint64_t)json_integer_value(jb)))
                return hr_error_set(err, HR_ERR_FORMAT, "%s: array %s: missing or does not fit the content map (type %s, %llu rows of %llu)",
                                    path, names[x], want, (unsigned long long)rows, (unsigned long long)cols);
            hr_marray *a = &L->a[L->n++];
            *a = (hr_marray){ names[x], x == 9 ? HR_MARRAY_DICT : HR_MARRAY_F32, 2, rows, cols, (uint64_t)json_integer_value(jb),
                              (uint64_t)json_integer_value(jm), L->members };
            L->members += a->members;
            continue;
        }
        int dict = x < 2, side = x == 0 || x == 2 || x == 4 || x == 8 ? 0 : 1, ii = x == 7 || x == 8;
        int need = dict || (m->kind == HR_MODEL_FACTOR ? x == 2 || x == 3 : m->kind == HR_MODEL_POP ? x == 6
                                                                    : m->kind == HR_MODEL_ITEMITEM ? x == 7 : x == 8);
        int allowed = need || x == 4 || x == 5;   /* biases: any kind (itemknn's rating baselines) */
        if (!e) {
            if (need) return hr_error_set(err, HR_ERR_FORMAT, "%s: model has no array %s", path, names[x]);
            continue;
        }
        if (!allowed) return hr_error_set(err, HR_ERR_FORMAT, "%s: a %s model may not have %s", path, kname, names[x]);
        const char *type = json_string_value(json_object_get(e, "type")), *order = json_string_value(json_object_get(e, "order"));
        json_t *jr = json_object_get(e, "rows"), *jc = json_object_get(e, "cols"), *jb = json_object_get(e, "block"),
               *jm = json_object_get(e, "members");
        uint64_t rows = side ? m->n_items : m->n_users, cols = ii ? rows : dict || x >= 4 ? 1 : (uint64_t)m->k;
        const char *want = dict ? "dict" : ii ? "iiblock" : "f32";
        if (!type || strcmp(type, want) || !order || strcmp(order, ii ? "col" : "row") || !json_is_integer(jr) ||
            !json_is_integer(jc) || !json_is_integer(jb) || !json_is_integer(jm) || (uint64_t)json_integer_value(jr) != rows ||
            (uint64_t)json_integer_value(jc) != cols || json_integer_value(jb) < 1 ||
            (uint64_t)json_integer_value(jm) != ceil_div(rows, (uint64_t)json_integer_value(jb)) ||
            (ii && (uint64_t)json_integer_value(jb) != m->ii_cols))
            return hr_error_set(err, HR_ERR_FORMAT,
                                "%s: array %s: entry does not fit the model (type %s, order %s, %llu rows of %llu, "
                                "members = rows / block rounded up%s)", path, names[x], want, ii ? "col" : "row",
                                (unsigned long long)rows, (unsigned long long)cols,
                                ii ? ", block = columns_per_block" : "");
        hr_marray *a = &L->a[L->n++];
        *a = (hr_marray){ names[x], dict ? HR_MARRAY_DICT : ii ? HR_MARRAY_IIBLK : HR_MARRAY_F32, side, rows, cols,
                          (uint64_t)json_integer_value(jb), (uint64_t)json_integer_value(jm), L->members };
        L->members += a->members;
    }
    if (json_object_size(members) != L->members)
        return hr_error_set(err, HR_ERR_FORMAT, "%s: the manifest lists %zu members, its arrays make %llu", path,
                            json_object_size(members), (unsigned long long)L->members);
    for (uint64_t j = 0; j < L->members; j++) {
        char name[80];
        hr_model_member_name(L, j, name, sizeof name);
        if (!json_object_get(members, name))
            return hr_error_set(err, HR_ERR_FORMAT, "%s: member %s is missing from the manifest", path, name);
    }
    return 0;
}

/* Append src (ids following every id of dst) to dst; src is consumed. */
static int dict_append(hr_dict *dst, hr_dict *src, const char *what, hr_error *err)
{
    if (dst->n == 0 && !dst->ints && !dst->offs) {
        *dst = *src;
        memset(src, 0, sizeof *src);
        return 0;
    }
    if (src->is_int != dst->is_int)
        return hr_error_set(err, HR_ERR_FORMAT, "%s: integer and string ids mixed in one dictionary", what);
    if (src->n) {
        int ok;
        if (dst->is_int) {
            ok = dst->n == 0 || dst->ints[dst->n - 1] < src->ints[0];
        } else {
            const char *pa = dst->bytes + dst->offs[dst->n ? dst->n - 1 : 0], *pb = src->bytes;
            uint64_t na = dst->n ? dst->offs[dst->n] - dst->offs[dst->n - 1] : 0, nb = src->offs[1];
            int c = memcmp(pa, pb, na < nb ? na : nb);
            ok = dst->n == 0 || c < 0 || (c == 0 && na < nb);
        }
        if (!ok) return hr_error_set(err, HR_ERR_FORMAT, "%s: dictionary keys not strictly ascending at id %llu", what, (unsigned long long)dst->n);
    }
    uint64_t n = dst->n + src->n;
    dst->nnz = hr_realloc(dst->nnz, (n ? n : 1) * sizeof *dst->nnz);
    if (src->n) memcpy(dst->nnz + dst->n, src->nnz, src->n * sizeof *dst->nnz);
    if (dst->is_int) {
        dst->ints = hr_realloc(dst->ints, (n ? n : 1) * sizeof *dst->ints);
        if (src->n) memcpy(dst->ints + dst->n, src->ints, src->n * sizeof *dst->ints);
    } else {
        uint64_t base = dst->offs[dst->n];
        dst->offs = hr_realloc(dst->offs, (n + 1) * sizeof *dst->offs);
        for (uint64_t g = 1; g <= src->n; g++) dst->offs[dst->n + g] = base + src->offs[g];
        dst->bytes = hr_realloc(dst->bytes, base + src->offs[src->n] + 1);
        memcpy(dst->bytes + base, src->bytes, src->offs[src->n]);
    }
    dst->n = n;
    hr_dict_free(src);
    return 0;
}

/* Members j0..j1-1 of dictionary array a, appended into one dictionary. */
static int load_dict(hr_bundle_at *b, const hr_model_layout *L, const hr_marray *a, uint64_t j0, uint64_t j1, int is_int,
                     hr_dict *d, hr_error *err)
{
    memset(d, 0, sizeof *d);
    d->is_int = is_int;
    if (!is_int) {
        d->offs = hr_calloc(1, sizeof *d->offs);
        d->bytes = hr_malloc(1);
    }
    for (uint64_t j = j0; j < j1; j++) {
        const void *p;
        size_t len;
        char what[4200], name[80];
        hr_model_member_name(L, j, name, sizeof name);
        snprintf(what, sizeof what, "%s:%s", hr_bundle_at_path(b), name);
        HR_TRY(hr_bundle_at_read(b, name, &p, &len, err));
        hr_dict part;
        HR_TRY(hr_dictbuf_decode(p, len, what, &part, err));
        uint64_t lo, hi;
        hr_model_layout_member(L, j, &lo, &hi);
        if (part.n != hi - lo) {
            hr_dict_free(&part);
            return hr_error_set(err, HR_ERR_FORMAT, "%s: has %llu ids, the layout says %llu", what,
                                (unsigned long long)part.n, (unsigned long long)(hi - lo));
        }
        int rc = dict_append(d, &part, what, err);
        hr_dict_free(&part);
        HR_TRY(rc);
    }
    if (!d->nnz) d->nnz = hr_calloc(1, sizeof *d->nnz);
    return 0;
}

/* Which rows of an array to keep: all, sorted ids, or a range. */
typedef struct { int all; const uint64_t *ids; uint64_t n, lo, hi; } row_sel;

/* The rows s selects of array a, packed into o (keep x cols floats), checked finite. */
static int f32_into(hr_bundle_at *b, const hr_model_layout *L, const hr_marray *a, const row_sel *s, uint64_t keep, float *o,
                    hr_error *err)
{
    const char *path = hr_bundle_at_path(b);
    uint64_t at = 0, rb = a->cols * sizeof(float);
    for (uint64_t j = a->first; j < a->first + a->members; j++) {
        uint64_t lo, hi;
        hr_model_layout_member(L, j, &lo, &hi);
        uint64_t r0 = lo, r1 = hi, i0 = 0, i1 = 0;   /* rows kept from this member */
        if (s->ids) {
            i0 = hr_model_lower_bound(s->ids, s->n, lo);
            i1 = hr_model_lower_bound(s->ids, s->n, hi);
            if (i0 == i1) continue;
        } else if (!s->all) {
            r0 = lo > s->lo ? lo : s->lo;
            r1 = hi < s->hi ? hi : s->hi;
            if (r0 >= r1) continue;
        }
        char name[80];
        hr_model_member_name(L, j, name, sizeof name);
        json_t *e = json_object_get(json_object_get(hr_bundle_at_manifest(b), "members"), name);
        if ((uint64_t)json_integer_value(json_object_get(e, "raw_bytes")) != (hi - lo) * rb)
            return hr_error_set(err, HR_ERR_FORMAT, "%s: member %s has %lld bytes, expected %llu rows of %llu floats", path, name,
                                (long long)json_integer_value(json_object_get(e, "raw_bytes")), (unsigned long long)(hi - lo),
                                (unsigned long long)a->cols);
        /* streamed: only the kept rows land, straight in the array */
        hr_bundle_pick pk = { name, HR_PICK_RANGE, (size_t)rb, NULL, 0, r0 - lo, r1 - lo };
        uint64_t *rel = NULL;
        if (s->ids) {
            rel = hr_malloc((i1 - i0) * sizeof *rel);
            for (uint64_t x = i0; x < i1; x++) rel[x - i0] = s->ids[x] - lo;
            pk = (hr_bundle_pick){ name, HR_PICK_ROWS, (size_t)rb, rel, i1 - i0, 0, 0 };
        }
        int rc = hr_bundle_at_pick(b, &pk, o + at * a->cols, err);
        hr_free(rel);
        HR_TRY(rc);
        at += s->ids ? i1 - i0 : r1 - r0;
    }
    uint64_t bad = hr_model_first_bad_row(o, keep, a->cols);
    if (bad != UINT64_MAX) {
        uint64_t row = s->all ? bad : s->ids ? s->ids[bad] : s->lo + bad;
        return hr_error_set(err, HR_ERR_FORMAT, "%s: %s has a non-finite value (NaN/Inf) in row %llu (member %s.%06llu)", path,
                            a->name, (unsigned long long)row, a->name,
                            (unsigned long long)(row / a->block));
    }
    return 0;
}

/* Item-item blocks first .. first+count-1 (of array a) into m, each decoded and checked against
 * the manifest's layout.  m owns what is loaded as soon as it is loaded (hr_model_free). */
static int load_blocks(hr_bundle_at *b, const hr_model_layout *L, const hr_marray *a, hr_model *m, uint64_t first,
                       uint64_t count, hr_error *err)
{
    const char *path = hr_bundle_at_path(b);
    m->ii_first = first;
    m->ii = hr_calloc(count + 1, sizeof *m->ii);
    m->ii_bytes = hr_calloc(count + 1, sizeof *m->ii_bytes);
    m->ii_count = count;
    for (uint64_t x = 0; x < count; x++) {
        char name[80], what[4200];
        hr_model_member_name(L, a->first + first + x, name, sizeof name);
        snprintf(what, sizeof what, "%s:%s", path, name);
        const void *p;
        size_t len;
        HR_TRY(hr_bundle_at_read(b, name, &p, &len, err));
        m->ii_bytes[x] = hr_malloc(len ? len : 1);   /* a copy: the reader's buffer is reused */
        if (len) memcpy(m->ii_bytes[x], p, len);
        HR_TRY(hr_iiblock_decode(m->ii_bytes[x], len, hr_model_ii_n(m), what, &m->ii[x], err));
        HR_TRY(hr_model_ii_check(m, first + x, &m->ii[x], what, HR_ERR_FORMAT, err));
    }
    return 0;
}

int hr_model_v2_iiblock(hr_bundle_at *b, const hr_model_layout *L, int x, const hr_model *h, uint64_t c, void **bytes,
                        hr_iiblock *blk, hr_error *err)
{
    const hr_marray *a = &L->a[x];
    *bytes = NULL;
    if (c >= a->members)
        return hr_error_set(err, HR_ERR_ARG, "%s: item-item block %llu asked of %llu", hr_bundle_at_path(b), (unsigned long long)c,
                            (unsigned long long)a->members);
    char name[80], what[4200];
    hr_model_member_name(L, a->first + c, name, sizeof name);
    snprintf(what, sizeof what, "%s:%s", hr_bundle_at_path(b), name);
    const void *p;
    size_t len;
    HR_TRY(hr_bundle_at_read(b, name, &p, &len, err));
    *bytes = hr_malloc(len ? len : 1);   /* a copy: the reader's buffer is reused */
    if (len) memcpy(*bytes, p, len);
    HR_TRY(hr_iiblock_decode(*bytes, len, hr_model_ii_n(h), what, blk, err));
    return hr_model_ii_check(h, c, blk, what, HR_ERR_FORMAT, err);
}

static int load_f32(hr_bundle_at *b, const hr_model_layout *L, const hr_marray *a, const row_sel *s, float **out,
                    hr_error *err)
{
    const char *path = hr_bundle_at_path(b);
    uint64_t keep = s->all ? a->rows : s->ids ? s->n : s->hi - s->lo;
    if (s->ids && s->n && s->ids[s->n - 1] >= a->rows)
        return hr_error_set(err, HR_ERR_FORMAT, "%s: %s has %llu rows, row %llu was asked for", path, a->name,
                            (unsigned long long)a->rows, (unsigned long long)s->ids[s->n - 1]);
    if (!hr_model_size_ok(keep, a->cols))
        return hr_error_set(err, HR_ERR_FORMAT, "%s: implausible size for %s (%llu rows)", path, a->name, (unsigned long long)keep);
    float *o = hr_try_malloc(keep ? (size_t)(keep * a->cols) * sizeof *o : 1);
    if (!o) return hr_error_set(err, HR_ERR_NOMEM, "%s: cannot allocate %llu rows of %s", path, (unsigned long long)keep, a->name);
    *out = o;   /* owned by the model from here */
    return f32_into(b, L, a, s, keep, o, err);
}

int hr_model_v2_rows(hr_bundle_at *b, const hr_model_layout *L, int x, uint64_t lo, uint64_t hi, float *out, hr_error *err)
{
    const hr_marray *a = &L->a[x];
    if (lo > hi || hi > a->rows)
        return hr_error_set(err, HR_ERR_ARG, "%s: rows %llu..%llu asked of %s (%llu rows)", hr_bundle_at_path(b),
                            (unsigned long long)lo, (unsigned long long)hi, a->name, (unsigned long long)a->rows);
    row_sel s = { 0, NULL, 0, lo, hi };
    return f32_into(b, L, a, &s, hi - lo, out, err);
}

int hr_model_v2_ids(hr_bundle_at *b, const hr_model_layout *L, int x, uint64_t lo, uint64_t hi, int is_int, hr_dict *d,
                    hr_error *err)
{
    const hr_marray *a = &L->a[x];
    if (lo > hi || hi > a->rows || lo % a->block || (hi % a->block && hi != a->rows))
        return hr_error_set(err, HR_ERR_ARG, "%s: ids %llu..%llu of %s are not whole members", hr_bundle_at_path(b),
                            (unsigned long long)lo, (unsigned long long)hi, a->name);
    int rc = load_dict(b, L, a, a->first + lo / a->block, a->first + (hi + a->block - 1) / a->block, is_int, d, err);
    if (rc < 0) hr_dict_free(d);
    return rc;
}

int hr_model_v2_load(hr_bundle_at *b, hr_model *m, const hr_model_part *part, int what, hr_error *err)
{
    const char *path = hr_bundle_at_path(b);
    json_t *man = hr_bundle_at_manifest(b);
    hr_model hdr;
    memset(&hdr, 0, sizeof hdr);
    HR_TRY(hr_model_read_header(path, man, what & 1 ? m : &hdr, err));
    const hr_model *h = what & 1 ? m : &hdr;
    if (!(what & 1) && (hdr.kind != m->kind || hdr.k != m->k || hdr.n_users != m->n_users || hdr.n_items != m->n_items))
        return hr_error_set(err, HR_ERR_STATE, "%s: the model changed while it was being read; run again", path);
    hr_model_layout L;
    HR_TRY(hr_model_v2_layout(path, man, h, &L, err));
    for (int x = 0; x < L.n; x++) {
        const hr_marray *a = &L.a[x];
        if (a->type == HR_MARRAY_DICT) {
            if (!(what & 1)) continue;
            const char *ids = json_string_value(json_object_get(json_object_get(json_object_get(man, "arrays"), a->name), "ids"));
            if (!ids || (strcmp(ids, "integer") && strcmp(ids, "string")))
                return hr_error_set(err, HR_ERR_FORMAT, "%s: array %s: 'ids' must be \"integer\" or \"string\"", path, a->name);
            if (a->side == 2 && strcmp(ids, "string"))
                return hr_error_set(err, HR_ERR_FORMAT, "%s: array %s: 'ids' must be \"string\"", path, a->name);
            HR_TRY(load_dict(b, &L, a, a->first, a->first + a->members, !strcmp(ids, "integer"),
                             a->side == 2 ? &m->content_tokens : a->side ? &m->items : &m->users, err));
            if (a->side == 2) m->content_nf = (uint32_t)a->rows;
            continue;
        }
        if (a->side == 2) {   /* the content map: whole, with the dictionaries */
            if (!(what & 1)) continue;
            row_sel s = { 1, NULL, 0, 0, 0 };
            HR_TRY(load_f32(b, &L, a, &s, hr_model_array_slot(m, a->name), err));
            if (a->rows == m->content_nf + 1) m->content_width = (int)a->cols;
            continue;
        }
        if (!(what & 2)) continue;
        if (a->type == HR_MARRAY_IIBLK) {
            uint64_t b0 = part ? m->item_lo / a->block : 0, b1 = part ? ceil_div(m->item_hi, a->block) : a->members;
            if (part && h->kind == HR_MODEL_USERUSER) {   /* the blocks of the part's users */
                b0 = m->user_rows ? m->user_ids[0] / a->block : 0;
                b1 = m->user_rows ? m->user_ids[m->user_rows - 1] / a->block + 1 : 0;
            }
            HR_TRY(load_blocks(b, &L, a, m, b0, b1 > b0 ? b1 - b0 : 0, err));
            continue;
        }
        row_sel s = { 1, NULL, 0, 0, 0 };
        if (part && (!strcmp(a->name, "item_scores.f32") || (hr_model_blocked(h->kind) && !strcmp(a->name, "item_bias.f32")))) {
            /* popularity scores stay whole: every rank ranks every item by them; so do an
             * item-item model's item baselines (a user's row touches any item) */
        } else if (part && a->side == 0) {
            s = (row_sel){ 0, m->user_ids, m->user_rows, 0, 0 };
        } else if (part && m->item_ids) {
            s = (row_sel){ 0, m->item_ids, m->item_rows, 0, 0 };
        } else if (part) {
            s = (row_sel){ 0, NULL, 0, m->item_lo, m->item_hi };
        }
        HR_TRY(load_f32(b, &L, a, &s, hr_model_array_slot(m, a->name), err));
    }
    if (what & 1) m->manifest = json_incref(man);
    return 0;
}
