/* io/bundle.c — the bundle writer (members kept in memory, written as one tar with the manifest
 * first and fsynced) and the streamed reader (hr_bundle_open*: the tar read front to back through
 * libarchive, each member checked against the manifest).  Random access is io/bundle_at.c; the
 * checks both readers share are io/bundle_member.c. */
#include "io/bundle.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#include "core/alloc.h"
#include "core/hash.h"
#include "io/bundle_impl.h"
#include "io/bundlefmt.h"
#include "io/manifest.h"
#include "io/output.h"

enum { ZSTD_LEVEL = 3 };

typedef struct {
    char *name;     /* logical name, without ".zst" */
    char *data;     /* stored bytes (compressed when zstd) */
    size_t len, raw;
    int zstd;
    uint64_t xxh3;  /* of the stored bytes */
} wmember;

struct hr_bundle_writer {
    wmember *m;
    size_t n, cap;
    ZSTD_CCtx *cctx; /* created on the first compressed member, reused for the others */
};

typedef struct {
    char *name;
    char *data;     /* decompressed; NULL once taken */
    size_t len;
} rmember;

struct hr_bundle {
    char *path;
    json_t *manifest;
    rmember *m;
    size_t n;
    int verify;           /* hr_bundle_verify: check every member, keep none */
    uint64_t data_start;  /* where member offsets count from (after the manifest member) */
};

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

/* Names become tar paths and manifest keys: a closed character set keeps them from escaping
 * the extraction directory or needing quoting, and reserving ".zst" keeps the suffix
 * unambiguous when reading. */
static int name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > HR_BUNDLE_NAME_MAX || s[0] == '.' || ends_with(s, HR_BUNDLE_ZST) || strcmp(s, HR_BUNDLE_MANIFEST) == 0)
        return 0;
    return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

/* ---------------------------------------------------------------- writer */

hr_bundle_writer *hr_bundle_create_writer(void) { return hr_calloc(1, sizeof(hr_bundle_writer)); }

void hr_bundle_free_writer(hr_bundle_writer *w)
{
    if (!w) return;
    for (size_t i = 0; i < w->n; i++) {
        hr_free(w->m[i].name);
        hr_free(w->m[i].data);
    }
    hr_free(w->m);
    if (w->cctx) ZSTD_freeCCtx(w->cctx);
    hr_free(w);
}

static int compress_into(hr_bundle_writer *w, wmember *m, const void *data, size_t len, hr_error *err)
{
    if (!w->cctx) {
        if (!(w->cctx = ZSTD_createCCtx())) return hr_error_set(err, HR_ERR_NOMEM, "bundle: cannot create zstd context");
        ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_compressionLevel, ZSTD_LEVEL);
        ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_checksumFlag, 1);
    }
    size_t bound = ZSTD_compressBound(len);
    char *dst = hr_try_malloc(bound);
    if (!dst) return hr_error_set(err, HR_ERR_NOMEM, "bundle member %s: cannot allocate %zu bytes", m->name, bound);
    size_t r = ZSTD_compress2(w->cctx, dst, bound, data, len);
    if (ZSTD_isError(r)) {
        hr_free(dst);
        return hr_error_set(err, HR_ERR_IO, "bundle member %s: zstd: %s", m->name, ZSTD_getErrorName(r));
    }
    m->data = hr_realloc(dst, r ? r : 1);
    m->len = r;
    return 0;
}

int hr_bundle_add_member(hr_bundle_writer *w, const char *name, const void *data, size_t len, int compress,
                         hr_error *err)
{
    if (!name_ok(name))
        return hr_error_set(err, HR_ERR_ARG,
                            "bundle member name '%s' is invalid (1..%d of [A-Za-z0-9._-], not starting with '.', "
                            "not ending in .zst, not %s)", name, HR_BUNDLE_NAME_MAX, HR_BUNDLE_MANIFEST);
    for (size_t i = 0; i < w->n; i++)
        if (strcmp(w->m[i].name, name) == 0)
            return hr_error_set(err, HR_ERR_ARG, "bundle member '%s' added twice", name);
    wmember m = { .name = hr_strdup(name), .raw = len, .zstd = compress != 0 };
    if (m.zstd) {
        int rc = compress_into(w, &m, data, len, err);
        if (rc < 0) {
            hr_free(m.name);
            return rc;
        }
    } else {
        m.data = hr_malloc(len);
        if (len) memcpy(m.data, data, len);
        m.len = len;
    }
    m.xxh3 = hr_hash_checksum(m.data, m.len);
    if (w->n == w->cap) {
        w->cap = w->cap ? 2 * w->cap : 8;
        w->m = hr_realloc(w->m, w->cap * sizeof *w->m);
    }
    w->m[w->n++] = m;
    return 0;
}

static json_t *member_table(const hr_bundle_writer *w)
{
    json_t *t = json_object();
    for (size_t i = 0; i < w->n; i++) {
        char hex[17];
        hr_checksum_hex(w->m[i].xxh3, hex);
        json_object_set_new(t, w->m[i].name,
                            json_pack("{s:I,s:I,s:s,s:b}", "bytes", (json_int_t)w->m[i].len, "raw_bytes",
                                      (json_int_t)w->m[i].raw, "xxh3", hex, "zstd", w->m[i].zstd));
    }
    return t;
}

static int write_error(struct archive *a, const char *path, hr_error *err)
{
    /* libarchive says only "Write error" for a failed write(2): the errno says why (a full
     * disk must read "No space left on device"). */
    int e = archive_errno(a);
    const char *s = archive_error_string(a);
    if (e > 0)
        return hr_error_set(err, e == ENOSPC ? HR_ERR_NOSPACE : HR_ERR_IO, "%s: writing bundle failed: %s%s%s", path, strerror(e),
                            s && strcmp(s, strerror(e)) ? " - " : "", s && strcmp(s, strerror(e)) ? s : "");
    return hr_error_set(err, HR_ERR_IO, "%s: writing bundle failed: %s", path, s ? s : "unknown libarchive error");
}

static int add_entry(struct archive *a, const char *path, const char *tarname, const void *data, size_t len,
                     time_t now, hr_error *err)
{
    struct archive_entry *e = archive_entry_new();
    if (!e) return hr_error_set(err, HR_ERR_NOMEM, "%s: cannot allocate a tar entry", path);
    archive_entry_set_pathname(e, tarname);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, (la_int64_t)len);
    archive_entry_set_mtime(e, now, 0);
    int r = archive_write_header(a, e);
    archive_entry_free(e);
    if (r != ARCHIVE_OK) return write_error(a, path, err);
    const char *p = data;
    while (len > 0) {
        la_ssize_t k = archive_write_data(a, p, len);
        if (k <= 0) return write_error(a, path, err);
        p += k;
        len -= (size_t)k;
    }
    return 0;
}

static void fsync_parent(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash) {
        hr_fsync_dir(".");
        return;
    }
    size_t n = slash == path ? 1 : (size_t)(slash - path);
    char *dir = hr_malloc(n + 1);
    memcpy(dir, path, n);
    dir[n] = '\0';
    hr_fsync_dir(dir);
    hr_free(dir);
}

int hr_bundle_write(const char *path, json_t *manifest, const hr_bundle_writer *w, hr_error *err)
{
    if (!json_is_object(manifest) || !json_is_string(json_object_get(manifest, "format")) ||
        !json_is_integer(json_object_get(manifest, "version")))
        return hr_error_set(err, HR_ERR_ARG, "%s: bundle manifest needs a string 'format' and an integer 'version'", path);
    json_object_set_new(manifest, "members", member_table(w));
    char *text = hr_manifest_dumps(manifest);
    if (!text) return hr_error_set(err, HR_ERR_NOMEM, "%s: cannot serialise the bundle manifest", path);
    size_t tlen = strlen(text);
    text[tlen] = '\n'; /* json_dumps leaves room for the NUL: write text + newline */

    size_t tn = strlen(path) + 32;
    char *tmp = hr_malloc(tn);
    snprintf(tmp, tn, "%s.tmp-%d", path, (int)getpid());
    int rc = 0;
    struct archive *a = NULL;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        rc = hr_error_set(err, errno == ENOSPC ? HR_ERR_NOSPACE : HR_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
        goto done;
    }
    a = archive_write_new();
    if (!a) {
        rc = hr_error_set(err, HR_ERR_NOMEM, "%s: cannot allocate a tar writer", path);
        goto fail;
    }
    /* pax restricted: plain ustar headers unless a field needs an extension, which any tar reads.
     * No padding of the last block: the end-of-archive marker still closes the file, which is
     * what hr_bundle_open checks to detect truncation. */
    if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK || archive_write_add_filter_none(a) != ARCHIVE_OK ||
        archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK || archive_write_open_fd(a, fd) != ARCHIVE_OK) {
        rc = write_error(a, path, err);
        goto fail;
    }
    time_t now = time(NULL);
    HR_CHECK(add_entry(a, path, HR_BUNDLE_MANIFEST, text, tlen + 1, now, err));
    for (size_t i = 0; i < w->n; i++) {
        const wmember *m = &w->m[i];
        char tarname[HR_BUNDLE_NAME_MAX + sizeof HR_BUNDLE_ZST];
        snprintf(tarname, sizeof tarname, "%s%s", m->name, m->zstd ? HR_BUNDLE_ZST : "");
        HR_CHECK(add_entry(a, path, tarname, m->data, m->len, now, err));
    }
    if (archive_write_close(a) != ARCHIVE_OK) {
        rc = write_error(a, path, err);
        goto fail;
    }
    archive_write_free(a);
    a = NULL;
    if (fsync(fd) != 0 || close(fd) != 0) {
        int e = errno;
        fd = -1;
        rc = hr_error_set(err, e == ENOSPC ? HR_ERR_NOSPACE : HR_ERR_IO, "%s: fsync/close failed: %s", path, strerror(e));
        goto fail;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        rc = hr_error_set(err, errno == ENOSPC ? HR_ERR_NOSPACE : HR_ERR_IO, "%s: rename from %s failed: %s", path, tmp,
                          strerror(errno));
        goto fail;
    }
    fsync_parent(path);
    goto done;
fail:
    if (a) archive_write_free(a);
    if (fd >= 0) close(fd);
    unlink(tmp);
done:
    hr_free(tmp);
    free(text);
    return rc;
}

/* ---------------------------------------------------------------- reader */

static int read_entry(struct archive *a, const char *path, const char *tarname, uint64_t size, char **out,
                      hr_error *err)
{
    char *buf = hr_try_malloc(size ? (size_t)size : 1);
    if (!buf)
        return hr_error_set(err, HR_ERR_NOMEM, "%s: cannot allocate %llu bytes for member %s", path,
                            (unsigned long long)size, tarname);
    uint64_t got = 0;
    while (got < size) {
        size_t want = size - got < ((uint64_t)1 << 30) ? (size_t)(size - got) : ((size_t)1 << 30);
        la_ssize_t k = archive_read_data(a, buf + got, want);
        if (k < 0) {
            hr_free(buf);
            return hr_bundle_read_error(a, path, err);
        }
        if (k == 0) break;
        got += (uint64_t)k;
    }
    if (got != size) {
        hr_free(buf);
        return hr_error_set(err, HR_ERR_FORMAT, "%s: member %s is truncated (%llu of %llu bytes)", path, tarname,
                            (unsigned long long)got, (unsigned long long)size);
    }
    *out = buf;
    return 0;
}
static int read_manifest(struct archive *a, const char *path, uint64_t fsize, const char *format, int max_version,
                         json_t **out, uint64_t *msize, hr_error *err)
{
    struct archive_entry *e;
    int r = archive_read_next_header(a, &e);
    if (r == ARCHIVE_EOF) return hr_error_set(err, HR_ERR_FORMAT, "%s: empty tar, not a bundle", path);
    if (r != ARCHIVE_OK) return hr_bundle_read_error(a, path, err);
    const char *name = archive_entry_pathname(e);
    if (!name || strcmp(name, HR_BUNDLE_MANIFEST) != 0 || archive_entry_filetype(e) != AE_IFREG)
        return hr_error_set(err, HR_ERR_FORMAT, "%s: not an hpcrec bundle (first member is '%s', not %s)", path,
                            name ? name : "?", HR_BUNDLE_MANIFEST);
    la_int64_t size = archive_entry_size(e);
    if (size < 0 || (uint64_t)size > HR_BUNDLE_MANIFEST_MAX || (uint64_t)size > fsize)
        return hr_error_set(err, HR_ERR_FORMAT, "%s: %s has an implausible size (%lld bytes)", path, HR_BUNDLE_MANIFEST,
                            (long long)size);
    char *text;
    *msize = (uint64_t)size;
    HR_TRY(read_entry(a, path, HR_BUNDLE_MANIFEST, (uint64_t)size, &text, err));
    json_error_t je;
    json_t *m = json_loadb(text, (size_t)size, JSON_REJECT_DUPLICATES, &je);
    hr_free(text);
    if (!m) return hr_error_set(err, HR_ERR_FORMAT, "%s: %s:%d: invalid JSON: %s", path, HR_BUNDLE_MANIFEST, je.line, je.text);
    int rc = hr_bundle_check_format(m, path, format, max_version, err);
    if (rc < 0) {
        json_decref(m);
        return rc;
    }
    *out = m;
    return 0;
}
static int decompress_member(const char *path, const char *name, char **data, uint64_t stored, uint64_t raw,
                             hr_error *err)
{
    unsigned long long fcs = ZSTD_getFrameContentSize(*data, stored);
    if (ZSTD_findFrameCompressedSize(*data, stored) != stored || fcs != raw)
        return hr_error_set(err, HR_ERR_FORMAT, "%s: member %s is not one zstd frame of %llu bytes", path, name,
                            (unsigned long long)raw);
    char *out = hr_try_malloc(raw ? (size_t)raw : 1);
    if (!out)
        return hr_error_set(err, HR_ERR_NOMEM, "%s: cannot allocate %llu bytes for member %s", path,
                            (unsigned long long)raw, name);
    size_t r = ZSTD_decompress(out, (size_t)raw, *data, (size_t)stored);
    if (ZSTD_isError(r) || r != raw) {
        hr_free(out);
        return hr_error_set(err, HR_ERR_FORMAT, "%s: member %s does not decompress: %s", path, name,
                            ZSTD_isError(r) ? ZSTD_getErrorName(r) : "wrong size");
    }
    hr_free(*data);
    *data = out;
    return 0;
}

/* A picked array member of the tar stream into a new buffer of the kept rows. */
static int read_picked(struct archive *a, const char *path, const char *tarname, const hr_bundle_listing *l, int zst,
                       const hr_bundle_pick *p, char **data, size_t *len, hr_error *err)
{
    uint64_t keep = 0;
    HR_TRY(hr_bundle_pick_check(path, tarname, l, p, &keep, err));
    char *out = hr_try_malloc(keep ? (size_t)(keep * p->row_bytes) : 1);
    if (!out)
        return hr_error_set(err, HR_ERR_NOMEM, "%s: cannot allocate %llu bytes for member %s", path,
                            (unsigned long long)(keep * p->row_bytes), tarname);
    hr_bundle_src src = { a, -1, 0 };
    int rc = hr_bundle_stream_pick(&src, path, tarname, l, zst, p, out, err);
    if (rc < 0) {
        hr_free(out);
        return rc;
    }
    *data = out;
    *len = (size_t)(keep * p->row_bytes);
    return 0;
}

static int find_member(const hr_bundle *b, const char *name)
{
    for (size_t i = 0; i < b->n; i++)
        if (strcmp(b->m[i].name, name) == 0) return (int)i;
    return -1;
}

/* Read the entry just returned by next_header into b: check it against the manifest listing,
 * verify its checksum, decompress it. */
static int read_member(struct archive *a, struct archive_entry *e, hr_bundle *b, uint64_t fsize,
                       const hr_bundle_pick *picks, size_t npicks, hr_error *err)
{
    const char *tarname = archive_entry_pathname(e);
    if (!tarname || archive_entry_filetype(e) != AE_IFREG)
        return hr_error_set(err, HR_ERR_FORMAT, "%s: unexpected tar entry '%s' (bundles hold only regular files)",
                            b->path, tarname ? tarname : "?");
    char name[HR_BUNDLE_NAME_MAX + 1];
    size_t tl = strlen(tarname);
    int zst = ends_with(tarname, HR_BUNDLE_ZST);
    size_t nl = zst ? tl - strlen(HR_BUNDLE_ZST) : tl;
    if (nl > HR_BUNDLE_NAME_MAX)
        return hr_error_set(err, HR_ERR_FORMAT, "%s: member name too long: %s", b->path, tarname);
    memcpy(name, tarname, nl);
    name[nl] = '\0';
    if (!name_ok(name)) return hr_error_set(err, HR_ERR_FORMAT, "%s: invalid member name '%s'", b->path, tarname);
    if (find_member(b, name) >= 0) return hr_error_set(err, HR_ERR_FORMAT, "%s: member %s appears twice", b->path, tarname);
    hr_bundle_listing l = { 0, 0, 0, 0, -1 };
    HR_TRY(hr_bundle_parse_listing(json_object_get(b->manifest, "members"), b->path, name, &l, err));
    if (l.offset >= 0 && (uint64_t)archive_read_header_position(a) != b->data_start + (uint64_t)l.offset)
        return hr_error_set(err, HR_ERR_FORMAT, "%s: member %s is at byte %lld, the manifest says %llu", b->path, tarname,
                            (long long)archive_read_header_position(a),
                            (unsigned long long)(b->data_start + (uint64_t)l.offset));
    la_int64_t size = archive_entry_size(e);
    if (l.zstd != zst || size < 0 || (uint64_t)size != l.bytes || (!zst && l.raw != l.bytes))
        return hr_error_set(err, HR_ERR_FORMAT, "%s: member %s does not match its manifest entry (size or compression)",
                            b->path, tarname);
    if (l.bytes > fsize) /* checked before allocating l.bytes */
        return hr_error_set(err, HR_ERR_FORMAT, "%s: member %s (%llu bytes) runs past the end of the file: truncated bundle",
                            b->path, tarname, (unsigned long long)l.bytes);
    const hr_bundle_pick *pick = NULL;
    for (size_t i = 0; i < npicks; i++)
        if (strcmp(picks[i].name, name) == 0) pick = &picks[i];
    /* verifying: stream it through the checksum and the decoder, keep no row */
    const hr_bundle_pick none = { name, HR_PICK_RANGE, 1, NULL, 0, 0, 0 };
    if (b->verify) pick = &none;
    char *data = NULL;
    size_t len = 0;
    if (pick && pick->kind == HR_PICK_SKIP) {
        if (archive_read_data_skip(a) != ARCHIVE_OK) return hr_bundle_read_error(a, b->path, err);
    } else if (pick) {
        HR_TRY(read_picked(a, b->path, tarname, &l, zst, pick, &data, &len, err));
    }
    if (pick) {   /* present in the tar (so not "missing"), holding what was picked */
        b->m = hr_realloc(b->m, (b->n + 1) * sizeof *b->m);
        b->m[b->n++] = (rmember){ hr_strdup(name), data, len };
        return 0;
    }
    HR_TRY(read_entry(a, b->path, tarname, l.bytes, &data, err));
    uint64_t h = hr_hash_checksum(data, (size_t)l.bytes);
    if (h != l.xxh3) {
        char got[17], want[17];
        hr_checksum_hex(h, got);
        hr_checksum_hex(l.xxh3, want);
        hr_free(data);
        return hr_error_set(err, HR_ERR_CHECKSUM,
                            "%s: member %s: checksum mismatch (stored %s, manifest %s): the bundle is corrupted",
                            b->path, tarname, got, want);
    }
    if (zst) {
        int rc = decompress_member(b->path, tarname, &data, l.bytes, l.raw, err);
        if (rc < 0) {
            hr_free(data);
            return rc;
        }
    }
    b->m = hr_realloc(b->m, (b->n + 1) * sizeof *b->m);
    b->m[b->n++] = (rmember){ hr_strdup(name), data, (size_t)l.raw };
    return 0;
}

int hr_bundle_open(const char *path, const char *format, int max_version, hr_bundle **out, hr_error *err)
{
    return hr_bundle_open_pick(path, format, max_version, NULL, 0, out, err);
}

static int open_impl(const char *path, const char *format, int max_version, const hr_bundle_pick *picks,
                     size_t npicks, int verify, hr_bundle **out, hr_error *err)
{
    *out = NULL;
    uint64_t fsize = 0, msize = 0;
    HR_TRY(hr_bundle_check_tail(path, &fsize, err));
    hr_bundle *b = hr_calloc(1, sizeof *b);
    b->path = hr_strdup(path);
    b->verify = verify;
    int rc = 0;
    struct archive *a = archive_read_new();
    if (!a) {
        rc = hr_error_set(err, HR_ERR_NOMEM, "%s: cannot allocate a tar reader", path);
        goto fail;
    }
    /* Only plain tar: a bundle is never compressed as a whole (members are, individually). */
    if (archive_read_support_format_tar(a) != ARCHIVE_OK || archive_read_open_filename(a, path, 1 << 16) != ARCHIVE_OK) {
        rc = hr_bundle_read_error(a, path, err);
        goto fail;
    }
    HR_CHECK(read_manifest(a, path, fsize, format, max_version, &b->manifest, &msize, err));
    b->data_start = HR_TAR_BLOCK + hr_tar_round(msize);
    for (;;) {
        struct archive_entry *e;
        int r = archive_read_next_header(a, &e);
        if (r == ARCHIVE_EOF) break;
        if (r != ARCHIVE_OK) {
            rc = hr_bundle_read_error(a, path, err);
            goto fail;
        }
        HR_CHECK(read_member(a, e, b, fsize, picks, npicks, err));
    }
    json_t *members = json_object_get(b->manifest, "members");
    const char *key;
    json_t *val;
    json_object_foreach(members, key, val) {
        if (find_member(b, key) < 0) {
            rc = hr_error_set(err, HR_ERR_FORMAT, "%s: member %s is listed in the manifest but missing (truncated bundle?)",
                              path, key);
            goto fail;
        }
    }
    archive_read_free(a);
    *out = b;
    return 0;
fail:
    if (a) archive_read_free(a);
    hr_bundle_close(b);
    return rc;
}

int hr_bundle_open_pick(const char *path, const char *format, int max_version, const hr_bundle_pick *picks,
                        size_t npicks, hr_bundle **out, hr_error *err)
{
    return open_impl(path, format, max_version, picks, npicks, 0, out, err);
}

int hr_bundle_verify(const char *path, const char *format, int max_version, json_t **manifest, size_t *members,
                     hr_error *err)
{
    hr_bundle *b;
    HR_TRY(open_impl(path, format, max_version, NULL, 0, 1, &b, err));
    *manifest = json_incref(b->manifest);
    *members = b->n;
    hr_bundle_close(b);
    return 0;
}

json_t *hr_bundle_manifest(const hr_bundle *b) { return b->manifest; }

int hr_bundle_has(const hr_bundle *b, const char *name)
{
    int i = find_member(b, name);
    return i >= 0 && b->m[i].data != NULL;
}

int hr_bundle_get(const hr_bundle *b, const char *name, const void **data, size_t *len, hr_error *err)
{
    int i = find_member(b, name);
    if (i < 0 || !b->m[i].data) return hr_error_set(err, HR_ERR_FORMAT, "%s: bundle has no member %s", b->path, name);
    *data = b->m[i].data;
    *len = b->m[i].len;
    return 0;
}

int hr_bundle_take(hr_bundle *b, const char *name, void **data, size_t *len, hr_error *err)
{
    const void *p;
    HR_TRY(hr_bundle_get(b, name, &p, len, err));
    int i = find_member(b, name);
    *data = b->m[i].data;
    b->m[i].data = NULL;
    return 0;
}

size_t hr_bundle_count(const hr_bundle *b) { return b->n; }

const char *hr_bundle_name(const hr_bundle *b, size_t i) { return i < b->n ? b->m[i].name : NULL; }

const char *hr_bundle_path(const hr_bundle *b) { return b->path; }

void hr_bundle_close(hr_bundle *b)
{
    if (!b) return;
    for (size_t i = 0; i < b->n; i++) {
        hr_free(b->m[i].name);
        hr_free(b->m[i].data);
    }
    hr_free(b->m);
    json_decref(b->manifest);
    hr_free(b->path);
    hr_free(b);
}