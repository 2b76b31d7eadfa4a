/* io/ivffile.h — the files of an ANN index (format "hpcrec-index", version 1).
 *
 * An index is a directory:
 *   manifest.json         written last: format, version, metric, k, dim, item_bias, lists, items,
 *                         parts, probe (the default --probe), seed, calibration (with
 *                         probe_for_depth {"D": probe}: optional), the model it was built from
 *                         ({path, manifest_xxh3, algo, k, items}), list-size balance, build
 *                         figures, and "files" {name: {bytes, xxh3}} for every other file
 *   quantizer.bin.zst     "HRIVFQ01" | u32 version=1 | u32 lists | u32 cols | u32 0 |
 *                         f32 centroids[lists x cols] | u64 list_sizes[lists]
 *                         cols = dim + 1: factor coordinates, the bias coordinate (ip with item
 *                         biases), the MIPS reduction coordinate (solvers/mips.h)
 *   part-PPPPP.bin.zst    "HRIVFP01" | u32 version=1 | u32 part | u32 lists | u32 0 | u64 lo | u64 hi |
 *                         u32 list[hi - lo]: the list of each item lo..hi-1, in id order
 * Part p holds items p*items/parts .. (p+1)*items/parts - 1: parts are item ranges, not ranks,
 * so an index built on any rank count has the same files, and any rank count reads it (a rank
 * reads the parts that overlap its block of items).  The item rows themselves are not copied:
 * the model holds them, and an index is only used together with its model.
 *
 * The model's identity is XXH3-64 of its manifest serialised canonically (keys sorted, compact):
 * the manifest lists the XXH3 of every member, so any retrained or altered model differs.
 * Files are zstd-compressed, checksummed in the manifest and verified (size, then checksum)
 * before they are decoded.  The parsers (hr_index_meta_parse, hr_index_quantizer_parse,
 * hr_index_part_parse) take memory and check every field, so they can be fuzzed
 * (tests/fuzz/fuzz_index.c).
 *
 * Errors: HR_ERR_IO (missing or unreadable), HR_ERR_CHECKSUM (truncated or altered file, named),
 * HR_ERR_FORMAT (bad field, header or value, named), HR_ERR_VERSION (a later format). */
#ifndef HR_IO_IVFFILE_H
#define HR_IO_IVFFILE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "solvers/mips.h"

#define HR_INDEX_FORMAT "hpcrec-index"
#define HR_INDEX_VERSION 1
#define HR_INDEX_QUANTIZER "quantizer.bin.zst"
#define HR_INDEX_MAX_DEPTHS 8

typedef struct hr_index_meta {
    hr_metric metric;
    int k, dim, has_bias;           /* dim = k + 1 when the index vectors carry item biases */
    uint32_t nlist, nparts, probe;  /* probe: the default number of lists a query scans */
    /* calibrated probes for deeper windows: depth[j] best items (recall@depth) need probe
     * depth_probe[j]; depth ascending, ndepth 0 when the manifest has none */
    uint32_t ndepth, depth[HR_INDEX_MAX_DEPTHS], depth_probe[HR_INDEX_MAX_DEPTHS];
    uint64_t n_items, seed;
    char model_xxh3[17];            /* identity of the model (hr_index_model_id) */
    uint64_t quant_xxh3, quant_bytes;
    uint64_t *part_xxh3, *part_bytes;   /* nparts each */
    json_t *manifest;               /* owned reference: the whole manifest */
} hr_index_meta;

/* Identity of a model from its manifest, as 16 hex digits. */
void hr_index_model_id(json_t *model_manifest, char out[17]);
/* The core keys of an index manifest (format, version, software, created, metric, k, dim,
 * item_bias, lists, items, parts, probe, seed); the writer adds model, files and figures. */
json_t *hr_index_manifest_new(const hr_index_meta *m);
/* Check a manifest (borrowed; a reference is taken) and fill out.  path names it in messages. */
int hr_index_meta_parse(json_t *j, const char *path, hr_index_meta *out, hr_error *err);
/* DIR/manifest.json, read and parsed. */
int hr_index_meta_read(const char *dir, hr_index_meta *out, hr_error *err);
void hr_index_meta_free(hr_index_meta *m);   /* accepts a zeroed struct */

/* Items of part p: lo .. hi-1. */
void hr_index_part_range(uint64_t n_items, uint32_t nparts, uint32_t p, uint64_t *lo, uint64_t *hi);
void hr_index_part_name(uint32_t p, char *buf, size_t cap);

/* Writers (through io/output.h: temporary name, fsync, rename); checksum and size of the file. */
int hr_index_quantizer_write(const char *path, const float *cent, uint32_t nlist, int cols, const uint64_t *sizes, uint64_t *xxh3,
                             uint64_t *bytes, hr_error *err);
int hr_index_part_write(const char *path, uint32_t part, uint32_t nlist, uint64_t lo, uint64_t hi, const uint32_t *list,
                        uint64_t *xxh3, uint64_t *bytes, hr_error *err);

/* Decoded file contents against the manifest: cent (nlist x (dim+1)) and sizes (nlist) of the
 * quantizer, whose sizes must add up to the items; list (hi - lo) of part p. */
int hr_index_quantizer_parse(const void *raw, size_t len, const char *name, const hr_index_meta *m, float *cent, uint64_t *sizes,
                             hr_error *err);
int hr_index_part_parse(const void *raw, size_t len, const char *name, const hr_index_meta *m, uint32_t p, uint32_t *list,
                        hr_error *err);

/* Verified reads.  *cent and *sizes are hr_malloc'd. */
int hr_index_quantizer_read(const char *dir, const hr_index_meta *m, float **cent, uint64_t **sizes, hr_error *err);
/* The lists of items lo..hi-1 into list[hi - lo], from the parts overlapping that range. */
int hr_index_assign_read(const char *dir, const hr_index_meta *m, uint64_t lo, uint64_t hi, uint32_t *list, hr_error *err);
/* Verify and decode part p; its items are added to counts[nlist] (for inspect). */
int hr_index_part_check(const char *dir, const hr_index_meta *m, uint32_t p, uint64_t *counts, hr_error *err);

#endif
