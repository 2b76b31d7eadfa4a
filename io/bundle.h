/* io/bundle.h — a bundle: one POSIX tar file holding a manifest and named members.
 *
 * Layout: `manifest.json` is the first tar member (plain JSON, so `tar -xOf B manifest.json`
 * shows it), followed by each member in the order it was added.  A member added with
 * compression is stored as one zstd frame (level 3, frame checksum on) under its name plus
 * ".zst"; the others are stored as they are.  `tar -tvf B` lists everything.
 * The manifest gains a "members" object written by hr_bundle_write:
 *   "members": { NAME: { "bytes": stored size, "raw_bytes": size after decompression,
 *                        "xxh3": XXH3-64 of the stored bytes (16 hex), "zstd": bool } }
 * NAME is the logical name (without ".zst").  The tar is written to PATH.tmp-<pid>, fsynced and
 * renamed, so a reader never sees a half-written bundle under its final name.
 *
 * Writing:
 *   hr_bundle_writer *w = hr_bundle_create_writer();
 *   hr_bundle_add_member(w, "item_factors.f32", p, n, 1, err);   // copies (or compresses) now
 *   hr_bundle_write(path, manifest, w, err);                       // sets manifest["members"]
 *   hr_bundle_free_writer(w);
 * Reading:
 *   hr_bundle *b;  hr_bundle_open(path, "hpcrec-model", 1, &b, err);
 *   hr_bundle_get(b, "item_factors.f32", &p, &n, err);            // decompressed bytes
 *   hr_bundle_close(b);
 *
 * Member names: 1..200 characters from [A-Za-z0-9._-], not starting with '.', not ending in
 * ".zst" (the suffix marks compression) and not "manifest.json"; unique within a bundle.
 * Limits: the manifest is at most 64 MiB; each member read must fit in memory.  A job that
 * spreads a model over ranks picks (hr_bundle_open_pick): it skips members it does not need
 * and keeps only some rows of an array member, which is still checksummed and decompressed
 * whole but as a stream, so memory holds the kept rows only.
 *
 * Errors: HR_ERR_ARG (bad or duplicate member name), HR_ERR_IO (open/read/write/rename failed),
 * HR_ERR_NOSPACE (disk full, naming the file), HR_ERR_FORMAT (not a tar made by hpcrec,
 * truncated, manifest malformed, a member listed but missing or present but unlisted, a member
 * that does not decompress), HR_ERR_VERSION (wrong format version), HR_ERR_CHECKSUM (a
 * member's stored bytes do not match the manifest; names the member and the bundle). */
#ifndef HR_IO_BUNDLE_H
#define HR_IO_BUNDLE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef struct hr_bundle_writer hr_bundle_writer;
typedef struct hr_bundle hr_bundle;

#define HR_BUNDLE_MANIFEST "manifest.json"

hr_bundle_writer *hr_bundle_create_writer(void);
/* Add a member: the bytes are copied, or compressed right away when `compress` is non-zero
 * (so the writer holds only the compressed copy).  The caller keeps ownership of data. */
int hr_bundle_add_member(hr_bundle_writer *w, const char *name, const void *data, size_t len, int compress,
                         hr_error *err);
/* Write the bundle.  manifest must be an object with "format" and "version"; its "members"
 * key is replaced with the member table (the caller's object is modified, so it afterwards
 * describes what was written).  On failure no file appears under path. */
int hr_bundle_write(const char *path, json_t *manifest, const hr_bundle_writer *w, hr_error *err);
void hr_bundle_free_writer(hr_bundle_writer *w); /* accepts NULL */

/* Read a whole bundle: check that manifest.json comes first and has format == format and
 * 1 <= version <= max_version, verify every member's checksum and decompress it. */
int hr_bundle_open(const char *path, const char *format, int max_version, hr_bundle **out, hr_error *err);
/* What to read of one member (members not picked are read whole). */
typedef enum {
    HR_PICK_SKIP = 1,  /* not read at all (nor checksummed); hr_bundle_has says 0 */
    HR_PICK_ROWS,      /* rows[0..nrows): strictly increasing row numbers */
    HR_PICK_RANGE      /* rows lo..hi-1 */
} hr_pick_kind;
typedef struct hr_bundle_pick {
    const char *name;       /* logical member name */
    hr_pick_kind kind;
    size_t row_bytes;       /* ROWS / RANGE: the member is an array of rows of this size */
    const uint64_t *rows;   /* ROWS (borrowed for the call) */
    uint64_t nrows, lo, hi;
} hr_bundle_pick;
/* As hr_bundle_open, reading only what `picks` asks for: a picked array member holds the kept
 * rows packed in order (get/take return nrows or hi - lo rows).  HR_ERR_FORMAT when a picked
 * member's size is not a whole number of rows or a row asked for is past its end. */
int hr_bundle_open_pick(const char *path, const char *format, int max_version, const hr_bundle_pick *picks,
                        size_t npicks, hr_bundle **out, hr_error *err);
/* The manifest (borrowed: valid until hr_bundle_close; json_incref to keep it). */
json_t *hr_bundle_manifest(const hr_bundle *b);
/* 1 if the bundle has a member of that (logical) name, else 0. */
int hr_bundle_has(const hr_bundle *b, const char *name);
/* A member's bytes (borrowed, valid until hr_bundle_close or hr_bundle_take of that member).
 * HR_ERR_FORMAT naming the member and bundle when absent (or already taken). */
int hr_bundle_get(const hr_bundle *b, const char *name, const void **data, size_t *len, hr_error *err);
/* Like get, but moves ownership of the hr_malloc'd buffer to the caller (free with hr_free),
 * which saves a copy of large arrays.  Afterwards the member is absent from b. */
int hr_bundle_take(hr_bundle *b, const char *name, void **data, size_t *len, hr_error *err);
/* Members in tar order (after the manifest), for listing. */
size_t hr_bundle_count(const hr_bundle *b);
const char *hr_bundle_name(const hr_bundle *b, size_t i);
/* The path the bundle was opened from, for messages. */
const char *hr_bundle_path(const hr_bundle *b);
void hr_bundle_close(hr_bundle *b); /* accepts NULL */

/* Verify a whole bundle as a stream, holding one chunk at a time: every member's checksum,
 * that compressed members decompress to their listed size, that no member is missing or
 * unlisted, and for members listed with an "offset" (below) that they sit there.  *manifest
 * (a new reference) and *members (how many were verified) on success.  Errors as
 * hr_bundle_open. */
int hr_bundle_verify(const char *path, const char *format, int max_version, json_t **manifest, size_t *members,
                     hr_error *err);

/* ---- Random access (bundles whose manifest gives each member's place) ----------------------
 * A writer that knows every member's stored size before writing (io/bundlefmt.h, model format
 * 2) lists "offset" for each member: where its tar header starts, counted from the end of the
 * manifest member (512 + the manifest's size rounded up to 512 bytes into the file).  A reader
 * then opens the bundle, reads the manifest, and fetches just the members it needs with pread:
 * a rank reading its share of a large model touches only that share.  Each member read checks
 * the tar header at that place (it must name the member and give its listed size), the stored
 * bytes' checksum, and that a compressed member is one zstd frame of raw_bytes. */
typedef struct hr_bundle_at hr_bundle_at;
/* Reads the manifest only (and checks format, version and the end-of-archive marker). */
int hr_bundle_at_open(const char *path, const char *format, int max_version, hr_bundle_at **out, hr_error *err);
json_t *hr_bundle_at_manifest(const hr_bundle_at *b);   /* borrowed */
const char *hr_bundle_at_path(const hr_bundle_at *b);
/* Member `name` (logical).  *data points into a buffer of b, valid until the next read or the
 * close.  HR_ERR_FORMAT when it is not listed or has no offset, HR_ERR_CHECKSUM, HR_ERR_IO. */
int hr_bundle_at_read(hr_bundle_at *b, const char *name, const void **data, size_t *len, hr_error *err);
/* Stream member p->name (an array of p->row_bytes rows) through the checksum and the decoder,
 * keeping the rows p picks (ROWS or RANGE, as for hr_bundle_open_pick) packed into out: a
 * member is never whole in memory.  Errors as hr_bundle_at_read. */
int hr_bundle_at_pick(hr_bundle_at *b, const hr_bundle_pick *p, void *out, hr_error *err);
void hr_bundle_at_close(hr_bundle_at *b);   /* accepts NULL */

#endif
