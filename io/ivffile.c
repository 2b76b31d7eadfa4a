/* io/ivffile.c — index manifest, quantizer and part files (see ivffile.h). */
#include "io/ivffile.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/hash.h"
#include "io/input.h"
#include "io/manifest.h"
#include "io/output.h"
#include "io/fileverify.h"

#define QMAGIC "HRIVFQ01"
#define PMAGIC "HRIVFP01"
#define FILE_VERSION 1u
#define ZLEVEL 3
/* Bounds that keep every size computation far from overflow and every id a uint32. */
#define MAX_ITEMS 0xffffffffull
#define MAX_K 65536

void hr_index_model_id(json_t *model_manifest, char out[17])
{
    char *s = json_dumps(model_manifest, JSON_COMPACT | JSON_SORT_KEYS);
    hr_checksum_hex(s ? hr_hash_bytes(s, strlen(s), 0) : 0, out);
    free(s);
}

json_t *hr_index_manifest_new(const hr_index_meta *m)
{
    char now[32];
    hr_manifest_now(now, sizeof now);
    return json_pack("{s:s,s:i,s:s,s:s,s:s,s:s,s:i,s:i,s:b,s:I,s:I,s:I,s:I,s:I}", "format", HR_INDEX_FORMAT, "version",
                     HR_INDEX_VERSION, "software", "hpcrec " HR_VERSION, "created", now, "structure", "ivf", "metric",
                     hr_metric_name(m->metric), "k", m->k, "dim", m->dim, "item_bias", m->has_bias, "lists", (json_int_t)m->nlist,
                     "items", (json_int_t)m->n_items, "parts", (json_int_t)m->nparts, "probe", (json_int_t)m->probe, "seed",
                     (json_int_t)m->seed);
}

static int get_int(json_t *j, const char *path, const char *key, int64_t lo, int64_t hi, int64_t *out, hr_error *err)
{
    json_t *v = json_object_get(j, key);
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return hr_error_set(err, HR_ERR_FORMAT, "%s: \"%s\" must be an integer in %" PRId64 "..%" PRId64, path, key, lo, hi);
    *out = json_integer_value(v);
    return 0;
}

void hr_index_part_name(uint32_t p, char *buf, size_t cap) { snprintf(buf, cap, "part-%05u.bin.zst", p); }

void hr_index_part_range(uint64_t n, uint32_t nparts, uint32_t p, uint64_t *lo, uint64_t *hi)
{
    *lo = (uint64_t)((unsigned __int128)n * p / nparts);
    *hi = (uint64_t)((unsigned __int128)n * (p + 1) / nparts);
}

int hr_index_meta_parse(json_t *j, const char *path, hr_index_meta *out, hr_error *err)
{
    memset(out, 0, sizeof *out);
    int64_t v;
    const char *fmt = json_string_value(json_object_get(j, "format"));
    if (!json_is_object(j) || !fmt || strcmp(fmt, HR_INDEX_FORMAT) != 0)
        return hr_error_set(err, HR_ERR_FORMAT, "%s: not an hpcrec index manifest", path);
    HR_TRY(get_int(j, path, "version", 1, INT32_MAX, &v, err));
    if (v > HR_INDEX_VERSION)
        return hr_error_set(err, HR_ERR_VERSION, "%s: index version %" PRId64 " is not supported by this hpcrec (reads 1..%d)", path, v,
                            HR_INDEX_VERSION);
    const char *metric = json_string_value(json_object_get(j, "metric"));
    if (!metric || hr_metric_parse(metric, &out->metric) < 0)
        return hr_error_set(err, HR_ERR_FORMAT, "%s: \"metric\" must be \"ip\" or \"cosine\"", path);
    json_t *b = json_object_get(j, "item_bias");
    if (!json_is_boolean(b)) return hr_error_set(err, HR_ERR_FORMAT, "%s: \"item_bias\" must be true or false", path);
    out->has_bias = json_is_true(b);
    HR_TRY(get_int(j, path, "k", 1, MAX_K, &v, err));
    out->k = (int)v;
    HR_TRY(get_int(j, path, "dim", 1, MAX_K + 1, &v, err));
    out->dim = (int)v;
    if (out->dim != hr_mips_dim(out->metric, out->k, out->has_bias))
        return hr_error_set(err, HR_ERR_FORMAT, "%s: \"dim\" %d does not match k %d, metric %s and item_bias", path, out->dim, out->k,
                            metric);
    HR_TRY(get_int(j, path, "items", 1, (int64_t)MAX_ITEMS, &v, err));
    out->n_items = (uint64_t)v;
    HR_TRY(get_int(j, path, "lists", 1, (int64_t)out->n_items, &v, err));
    out->nlist = (uint32_t)v;
    HR_TRY(get_int(j, path, "parts", 1, (int64_t)out->n_items, &v, err));
    out->nparts = (uint32_t)v;
    HR_TRY(get_int(j, path, "probe", 1, (int64_t)out->nlist, &v, err));
    out->probe = (uint32_t)v;
    HR_TRY(get_int(j, path, "seed", 0, INT64_MAX, &v, err));
    out->seed = (uint64_t)v;
    json_t *pd = json_object_get(json_object_get(j, "calibration"), "probe_for_depth"), *pv;
    const char *dk;
    if (pd && (!json_is_object(pd) || json_object_size(pd) > HR_INDEX_MAX_DEPTHS))
        return hr_error_set(err, HR_ERR_FORMAT, "%s: \"calibration\".\"probe_for_depth\" must be an object of at most %d depths", path,
                            HR_INDEX_MAX_DEPTHS);
    json_object_foreach(pd, dk, pv) {
        char *end;
        unsigned long dv = strtoul(dk, &end, 10);
        if (*end || dv < 1 || dv > 1000000 || !json_is_integer(pv) || json_integer_value(pv) < 1 ||
            json_integer_value(pv) > (json_int_t)out->nlist)
            return hr_error_set(err, HR_ERR_FORMAT, "%s: \"probe_for_depth\" needs depths 1..1000000 with probes 1..%u", path, out->nlist);
        uint32_t at = out->ndepth++;   /* insertion sort by depth */
        while (at > 0 && out->depth[at - 1] > dv) {
            out->depth[at] = out->depth[at - 1];
            out->depth_probe[at] = out->depth_probe[at - 1];
            at--;
        }
        if (at > 0 && out->depth[at - 1] == dv) return hr_error_set(err, HR_ERR_FORMAT, "%s: depth %lu twice", path, dv);
        out->depth[at] = (uint32_t)dv;
        out->depth_probe[at] = (uint32_t)json_integer_value(pv);
    }
    const char *id = json_string_value(json_object_get(json_object_get(j, "model"), "manifest_xxh3"));
    if (!id || strlen(id) != 16 || strspn(id, "0123456789abcdef") != 16)
        return hr_error_set(err, HR_ERR_FORMAT, "%s: \"model\".\"manifest_xxh3\" must be 16 hex digits", path);
    memcpy(out->model_xxh3, id, 17);
    /* every file listed */
    int rc = hr_manifest_file(j, path, HR_INDEX_QUANTIZER, &out->quant_xxh3, &out->quant_bytes, err);
    if (rc < 0) return rc;
    json_t *files = json_object_get(j, "files");
    if (json_object_size(files) != (size_t)out->nparts + 1)
        return hr_error_set(err, HR_ERR_FORMAT, "%s: \"files\" lists %zu files, expected the quantizer and %u parts", path,
                            json_object_size(files), out->nparts);
    out->part_xxh3 = hr_malloc((size_t)out->nparts * sizeof *out->part_xxh3);
    out->part_bytes = hr_malloc((size_t)out->nparts * sizeof *out->part_bytes);
    for (uint32_t p = 0; p < out->nparts; p++) {
        char name[32];
        hr_index_part_name(p, name, sizeof name);
        if ((rc = hr_manifest_file(j, path, name, &out->part_xxh3[p], &out->part_bytes[p], err)) < 0) {
            hr_index_meta_free(out);
            return rc;
        }
    }
    out->manifest = json_incref(j);
    return 0;
}

int hr_index_meta_read(const char *dir, hr_index_meta *out, hr_error *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    memset(out, 0, sizeof *out);
    json_t *j;
    HR_TRY(hr_manifest_read(path, HR_INDEX_FORMAT, HR_INDEX_VERSION, &j, err));
    int rc = hr_index_meta_parse(j, path, out, err);
    json_decref(j);
    return rc;
}

void hr_index_meta_free(hr_index_meta *m)
{
    HR_FREE(&m->part_xxh3);
    HR_FREE(&m->part_bytes);
    json_decref(m->manifest);
    m->manifest = NULL;
}

/* ---- writers ---- */

int hr_index_quantizer_write(const char *path, const float *cent, uint32_t nlist, int cols, const uint64_t *sizes, uint64_t *xxh3,
                             uint64_t *bytes, hr_error *err)
{
    hr_output *o;
    HR_TRY(hr_output_open(path, ZLEVEL, 1, &o, err));
    uint32_t h[4] = { FILE_VERSION, nlist, (uint32_t)cols, 0 };
    int rc = 0;
    HR_CHECK(hr_output_write(o, QMAGIC, 8, err));
    HR_CHECK(hr_output_write(o, h, sizeof h, err));
    HR_CHECK(hr_output_write(o, cent, (size_t)nlist * (size_t)cols * sizeof *cent, err));
    HR_CHECK(hr_output_write(o, sizes, (size_t)nlist * sizeof *sizes, err));
    return hr_output_commit(o, xxh3, bytes, err);
fail:
    hr_output_abort(o);
    return rc;
}

int hr_index_part_write(const char *path, uint32_t part, uint32_t nlist, uint64_t lo, uint64_t hi, const uint32_t *list,
                        uint64_t *xxh3, uint64_t *bytes, hr_error *err)
{
    hr_output *o;
    HR_TRY(hr_output_open(path, ZLEVEL, 1, &o, err));
    uint32_t h[4] = { FILE_VERSION, part, nlist, 0 };
    uint64_t r[2] = { lo, hi };
    int rc = 0;
    HR_CHECK(hr_output_write(o, PMAGIC, 8, err));
    HR_CHECK(hr_output_write(o, h, sizeof h, err));
    HR_CHECK(hr_output_write(o, r, sizeof r, err));
    HR_CHECK(hr_output_write(o, list, (size_t)(hi - lo) * sizeof *list, err));
    return hr_output_commit(o, xxh3, bytes, err);
fail:
    hr_output_abort(o);
    return rc;
}

/* ---- parsers ---- */

static int header(const void *raw, size_t len, const char *magic, size_t hlen, uint32_t *h, const char *name, hr_error *err)
{
    if (len < 8 + hlen) return hr_error_set(err, HR_ERR_FORMAT, "%s: truncated header (%zu bytes)", name, len);
    if (memcmp(raw, magic, 8) != 0) return hr_error_set(err, HR_ERR_FORMAT, "%s: not an hpcrec index file (bad magic)", name);
    memcpy(h, (const char *)raw + 8, hlen);
    if (h[0] != FILE_VERSION)
        return hr_error_set(err, HR_ERR_VERSION, "%s: file version %u is not supported (this hpcrec reads %u)", name, h[0], FILE_VERSION);
    return 0;
}

int hr_index_quantizer_parse(const void *raw, size_t len, const char *name, const hr_index_meta *m, float *cent, uint64_t *sizes,
                             hr_error *err)
{
    uint32_t h[4];
    HR_TRY(header(raw, len, QMAGIC, sizeof h, h, name, err));
    uint64_t cols = (uint64_t)m->dim + 1, nl = m->nlist;
    if (h[1] != m->nlist || h[2] != cols)
        return hr_error_set(err, HR_ERR_FORMAT, "%s: %u lists x %u columns, the manifest says %u x %llu", name, h[1], h[2], m->nlist,
                            (unsigned long long)cols);
    uint64_t want = 8 + sizeof h + nl * cols * sizeof(float) + nl * sizeof(uint64_t);
    if (len != want)
        return hr_error_set(err, HR_ERR_FORMAT, "%s: %zu bytes after decompression, expected %llu", name, len, (unsigned long long)want);
    const char *p = (const char *)raw + 8 + sizeof h;
    memcpy(cent, p, nl * cols * sizeof(float));
    memcpy(sizes, p + nl * cols * sizeof(float), nl * sizeof(uint64_t));
    uint64_t total = 0;
    for (uint64_t c = 0; c < nl; c++) {
        for (uint64_t j = 0; j < cols; j++)
            if (!isfinite(cent[c * cols + j]))
                return hr_error_set(err, HR_ERR_FORMAT, "%s: centroid %llu is not finite", name, (unsigned long long)c);
        if (sizes[c] > m->n_items - total)
            return hr_error_set(err, HR_ERR_FORMAT, "%s: list sizes add up to more than the %llu items", name,
                                (unsigned long long)m->n_items);
        total += sizes[c];
    }
    if (total != m->n_items)
        return hr_error_set(err, HR_ERR_FORMAT, "%s: list sizes add up to %llu, the index has %llu items", name, (unsigned long long)total,
                            (unsigned long long)m->n_items);
    return 0;
}

int hr_index_part_parse(const void *raw, size_t len, const char *name, const hr_index_meta *m, uint32_t p, uint32_t *list,
                        hr_error *err)
{
    uint32_t h[4];
    HR_TRY(header(raw, len, PMAGIC, sizeof h, h, name, err));
    uint64_t lo, hi, r[2];
    hr_index_part_range(m->n_items, m->nparts, p, &lo, &hi);
    if (len < 8 + sizeof h + sizeof r) return hr_error_set(err, HR_ERR_FORMAT, "%s: truncated header (%zu bytes)", name, len);
    memcpy(r, (const char *)raw + 8 + sizeof h, sizeof r);
    if (h[1] != p || h[2] != m->nlist || r[0] != lo || r[1] != hi)
        return hr_error_set(err, HR_ERR_FORMAT, "%s: header says part %u of items %llu..%llu with %u lists; expected part %u of %llu..%llu with %u",
                            name, h[1], (unsigned long long)r[0], (unsigned long long)r[1], h[2], p, (unsigned long long)lo,
                            (unsigned long long)hi, m->nlist);
    if (len != 8 + sizeof h + sizeof r + (hi - lo) * sizeof(uint32_t))
        return hr_error_set(err, HR_ERR_FORMAT, "%s: %zu bytes after decompression, expected %llu", name, len,
                            (unsigned long long)(8 + sizeof h + sizeof r + (hi - lo) * 4));
    memcpy(list, (const char *)raw + 8 + sizeof h + sizeof r, (hi - lo) * sizeof *list);
    for (uint64_t i = 0; i < hi - lo; i++)
        if (list[i] >= m->nlist)
            return hr_error_set(err, HR_ERR_FORMAT, "%s: item %llu is in list %u of %u", name, (unsigned long long)(lo + i), list[i],
                                m->nlist);
    return 0;
}

/* ---- verified reads ---- */

static int slurp_verified(const char *dir, const char *name, uint64_t xxh3, uint64_t bytes, void **raw, size_t *len, char *path,
                          size_t cap, hr_error *err)
{
    snprintf(path, cap, "%s/%s", dir, name);
    HR_TRY(hr_file_verify(path, xxh3, bytes, err));
    return hr_input_slurp(path, raw, len, err);
}

int hr_index_quantizer_read(const char *dir, const hr_index_meta *m, float **cent, uint64_t **sizes, hr_error *err)
{
    char path[4096];
    void *raw;
    size_t len;
    *cent = NULL;
    *sizes = NULL;
    HR_TRY(slurp_verified(dir, HR_INDEX_QUANTIZER, m->quant_xxh3, m->quant_bytes, &raw, &len, path, sizeof path, err));
    *cent = hr_malloc((size_t)m->nlist * ((size_t)m->dim + 1) * sizeof **cent);
    *sizes = hr_malloc((size_t)m->nlist * sizeof **sizes);
    int rc = hr_index_quantizer_parse(raw, len, path, m, *cent, *sizes, err);
    hr_free(raw);
    if (rc < 0) {
        HR_FREE(cent);
        HR_FREE(sizes);
    }
    return rc;
}

static int read_part(const char *dir, const hr_index_meta *m, uint32_t p, uint32_t **list, hr_error *err)
{
    char path[4096], name[32];
    void *raw;
    size_t len;
    uint64_t lo, hi;
    hr_index_part_name(p, name, sizeof name);
    hr_index_part_range(m->n_items, m->nparts, p, &lo, &hi);
    HR_TRY(slurp_verified(dir, name, m->part_xxh3[p], m->part_bytes[p], &raw, &len, path, sizeof path, err));
    *list = hr_malloc((hi - lo + 1) * sizeof **list);
    int rc = hr_index_part_parse(raw, len, path, m, p, *list, err);
    hr_free(raw);
    if (rc < 0) HR_FREE(list);
    return rc;
}

int hr_index_assign_read(const char *dir, const hr_index_meta *m, uint64_t lo, uint64_t hi, uint32_t *list, hr_error *err)
{
    if (lo > hi || hi > m->n_items)
        return hr_error_set(err, HR_ERR_ARG, "%s: items %llu..%llu asked of an index of %llu items", dir, (unsigned long long)lo,
                            (unsigned long long)hi, (unsigned long long)m->n_items);
    for (uint32_t p = 0; p < m->nparts && lo < hi; p++) {
        uint64_t plo, phi;
        hr_index_part_range(m->n_items, m->nparts, p, &plo, &phi);
        if (phi <= lo || plo >= hi) continue;
        uint32_t *pl;
        HR_TRY(read_part(dir, m, p, &pl, err));
        uint64_t a = plo > lo ? plo : lo, b = phi < hi ? phi : hi;
        memcpy(list + (a - lo), pl + (a - plo), (b - a) * sizeof *list);
        hr_free(pl);
    }
    return 0;
}

int hr_index_part_check(const char *dir, const hr_index_meta *m, uint32_t p, uint64_t *counts, hr_error *err)
{
    uint32_t *pl;
    HR_TRY(read_part(dir, m, p, &pl, err));
    uint64_t lo, hi;
    hr_index_part_range(m->n_items, m->nparts, p, &lo, &hi);
    for (uint64_t i = 0; i < hi - lo; i++) counts[pl[i]]++;
    hr_free(pl);
    return 0;
}
