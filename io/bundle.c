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
#include "io/bundlefmt.h"
#include "io/manifest.h"
#include "io/output.h"

enum { ZSTD_LEVEL = 3, NAME_MAX_LEN = 200, TAR_BLOCK = 512 };
static const size_t MANIFEST_MAX = (size_t)64 << 20;
static const char ZST[] = ".zst";

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

static uint64_t checksum_of(const void *p, size_t n) { return hr_hash_checksum(p, n); }

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
    if (n == 0 || n > NAME_MAX_LEN || s[0] == '.' || ends_with(s, ZST) || strcmp(s, HR_BUNDLE_MANIFEST) == 0)
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
                            "not ending in .zst, not %s)", name, NAME_MAX_LEN, HR_BUNDLE_MANIFEST);
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
    m.xxh3 = checksum_of(m.data, m.len);
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
        char tarname[NAME_MAX_LEN + sizeof ZST];
        snprintf(tarname, sizeof tarname, "%s%s", m->name, m->zstd ? ZST : "");
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

/* libarchive reports damaged data with EILSEQ (its private ARCHIVE_ERRNO_FILE_FORMAT on Linux)
 * or -1 (ARCHIVE_ERRNO_MISC); any other errno came from the system. */
static int read_error(struct archive *a, const char *path, hr_error *err)
{
    int e = archive_errno(a);
    const char *s = archive_error_string(a);
    int code = (e == EILSEQ || e == -1 || e == 0) ? HR_ERR_FORMAT : HR_ERR_IO;
    return hr_error_set(err, code, "%s: cannot read bundle: %s", path, s ? s : strerror(e));
}

/* A tar written by hr_bundle_write is a whole number of 512-byte blocks ending in the two zero
 * blocks of the end-of-archive marker.  libarchive treats a file cut at a block boundary as a
 * normal end of archive, so check the marker here; a cut inside a member is caught by
 * libarchive, and a lost member by the manifest. */
static int check_tail(const char *path, uint64_t *size, hr_error *err)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) return hr_error_set(err, HR_ERR_IO, "%s: cannot open bundle: %s", path, strerror(errno));
    struct stat st;
    int rc = 0;
    unsigned char tail[2 * TAR_BLOCK];
    if (fstat(fd, &st) != 0) {
        rc = hr_error_set(err, HR_ERR_IO, "%s: cannot stat bundle: %s", path, strerror(errno));
    } else if (!S_ISREG(st.st_mode)) {
        rc = hr_error_set(err, HR_ERR_FORMAT, "%s: a bundle must be a regular file", path);
    } else if (st.st_size < (off_t)sizeof tail || st.st_size % TAR_BLOCK != 0) {
        rc = hr_error_set(err, HR_ERR_FORMAT, "%s: truncated bundle or not a tar written by hpcrec (%lld bytes)", path,
                          (long long)st.st_size);
    } else {
        ssize_t k = pread(fd, tail, sizeof tail, st.st_size - (off_t)sizeof tail);
        if (k != (ssize_t)sizeof tail) {
            rc = hr_error_set(err, HR_ERR_IO, "%s: cannot read bundle: %s", path, k < 0 ? strerror(errno) : "short read");
        } else {
            for (size_t i = 0; i < sizeof tail && rc == 0; i++)
                if (tail[i]) rc = hr_error_set(err, HR_ERR_FORMAT, "%s: truncated bundle (no end-of-archive marker)", path);
        }
        *size = (uint64_t)st.st_size;
    }
    close(fd);
    return rc;
}

/* Read the current entry's data (exactly `size` bytes) into a new buffer. */
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
            return read_error(a, path, err);
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

static int check_format(json_t *m, const char *path, const char *format, int max_version, hr_error *err)
{
    const char *f = json_string_value(json_object_get(m, "format"));
    json_t *v = json_object_get(m, "version");
    if (!json_is_object(m) || !f || !json_is_integer(v))
        return hr_error_set(err, HR_ERR_FORMAT, "%s: not an hpcrec bundle (manifest has no format/version)", path);
    if (strcmp(f, format) != 0)
        return hr_error_set(err, HR_ERR_FORMAT, "%s: is a '%s', expected a '%s'", path, f, format);
    if (json_integer_value(v) > max_version || json_integer_value(v) < 1)
        return hr_error_set(err, HR_ERR_VERSION,
                            "%s: %s version %" JSON_INTEGER_FORMAT " is not supported by this hpcrec (%s reads versions 1..%d); use a newer hpcrec",
                            path, format, json_integer_value(v), HR_VERSION, max_version);
    if (!json_is_object(json_object_get(m, "members")))
        return hr_error_set(err, HR_ERR_FORMAT, "%s: bundle manifest has no 'members' object", path);
    return 0;
}

static int read_manifest(struct archive *a, const char *path, uint64_t fsize, const char *format, int max_version,
                         json_t **out, uint64_t *msize, hr_error *err)
{
    struct archive_entry *e;
    int r = archive_read_next_header(a, &e);
    if (r == ARCHIVE_EOF) return hr_error_set(err, HR_ERR_FORMAT, "%s: empty tar, not a bundle", path);
    if (r != ARCHIVE_OK) return read_error(a, path, err);
    const char *name = archive_entry_pathname(e);
    if (!name || strcmp(name, HR_BUNDLE_MANIFEST) != 0 || archive_entry_filetype(e) != AE_IFREG)
        return hr_error_set(err, HR_ERR_FORMAT, "%s: not an hpcrec bundle (first member is '%s', not %s)", path,
                            name ? name : "?", HR_BUNDLE_MANIFEST);
    la_int64_t size = archive_entry_size(e);
    if (size < 0 || (uint64_t)size > MANIFEST_MAX || (uint64_t)size > fsize)
        return hr_error_set(err, HR_ERR_FORMAT, "%s: %s has an implausible size (%lld bytes)", path, HR_BUNDLE_MANIFEST,
                            (long long)size);
    char *text;
    *msize = (uint64_t)size;
    HR_TRY(read_entry(a, path, HR_BUNDLE_MANIFEST, (uint64_t)size, &text, err));
    json_error_t je;
    json_t *m = json_loadb(text, (size_t)size, JSON_REJECT_DUPLICATES, &je);
    hr_free(text);
    if (!m) return hr_error_set(err, HR_ERR_FORMAT, "%s: %s:%d: invalid JSON: %s", path, HR_BUNDLE_MANIFEST, je.line, je.text);
    int rc = check_format(m, path, format, max_version, err);
    if (rc < 0) {
        json_decref(m);
        return rc;
    }
    *out = m;
    return 0;
}

typedef struct { uint64_t bytes, raw, xxh3; int zstd; int64_t offset; /* -1: not listed */ } listing;

static int parse_listing(json_t *members, const char *path, const char *name, listing *l, hr_error *err)
{
    json_t *e = json_object_get(members, name);
    if (!e) return hr_error_set(err, HR_ERR_FORMAT, "%s: member %s is present but not listed in the manifest", path, name);
    json_t *b = json_object_get(e, "bytes"), *r = json_object_get(e, "raw_bytes"), *z = json_object_get(e, "zstd");
    const char *hex = json_string_value(json_object_get(e, "xxh3"));
    if (!json_is_integer(b) || json_integer_value(b) < 0 || !json_is_integer(r) || json_integer_value(r) < 0 ||
        !json_is_boolean(z) || !hex || strlen(hex) != 16 || strspn(hex, "0123456789abcdef") != 16)
        return hr_error_set(err, HR_ERR_FORMAT, "%s: invalid manifest entry for member %s", path, name);
    l->bytes = (uint64_t)json_integer_value(b);
    l->raw = (uint64_t)json_integer_value(r);
    l->zstd = json_is_true(z);
    l->xxh3 = strtoull(hex, NULL, 16);
    json_t *o = json_object_get(e, "offset");
    l->offset = -1;
    if (o && (!json_is_integer(o) || json_integer_value(o) < 0 || json_integer_value(o) % HR_TAR_BLOCK != 0))
        return hr_error_set(err, HR_ERR_FORMAT, "%s: invalid offset in the manifest entry for member %s", path, name);
    if (o) l->offset = json_integer_value(o);
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

/* Copy the bytes of the raw member range [c0, c0 + n) that belong to picked rows into out (the
 * kept rows packed in order).  *ri: the next picked row to fill (ROWS; rows arrive in order). */
static void keep_rows(const hr_bundle_pick *p, const char *chunk, uint64_t c0, size_t n, char *out, uint64_t *ri)
{
    uint64_t c1 = c0 + n, rb = p->row_bytes;
    if (p->kind == HR_PICK_RANGE) {
        uint64_t s = p->lo * rb > c0 ? p->lo * rb : c0, e = p->hi * rb < c1 ? p->hi * rb : c1;
        if (s < e) memcpy(out + (s - p->lo * rb), chunk + (s - c0), (size_t)(e - s));
        return;
    }
    while (*ri < p->nrows) {
        uint64_t r0 = p->rows[*ri] * rb, r1 = r0 + rb;
        if (r0 >= c1) return;
        uint64_t s = r0 > c0 ? r0 : c0, e = r1 < c1 ? r1 : c1;
        memcpy(out + *ri * rb + (s - r0), chunk + (s - c0), (size_t)(e - s));
        if (r1 > c1) return;   /* the row goes on in the next chunk */
        (*ri)++;
    }
}

/* Where a streamed member's stored bytes come from: the tar stream (libarchive), or pread at
 * a known offset (random access).  Returns bytes read (0 at a premature end) or a negative
 * status with err set. */
typedef struct stream_src {
    struct archive *a;     /* tar stream, or NULL */
    int fd;                /* random access: file and next offset */
    uint64_t off;
} stream_src;

static int64_t src_read(stream_src *s, char *buf, size_t want, const char *path, hr_error *err)
{
    if (s->a) {
        la_ssize_t k = archive_read_data(s->a, buf, want);
        return k < 0 ? read_error(s->a, path, err) : (int64_t)k;
    }
    for (;;) {
        ssize_t k = pread(s->fd, buf, want, (off_t)s->off);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) return hr_error_set(err, HR_ERR_IO, "%s: read failed: %s", path, strerror(errno));
        s->off += (uint64_t)k;
        return k;
    }
}

/* Check a pick against a member of l->raw bytes; *keep: the rows it keeps. */
static int pick_check(const char *path, const char *tarname, const listing *l, const hr_bundle_pick *p, uint64_t *keep,
                      hr_error *err)
{
    uint64_t rb = p->row_bytes;
    if (rb == 0 || l->raw % rb != 0)
        return hr_error_set(err, HR_ERR_FORMAT, "%s: member %s has %llu bytes, not a whole number of %zu-byte rows", path,
                            tarname, (unsigned long long)l->raw, (size_t)rb);
    uint64_t nrow = l->raw / rb;
    if (p->kind == HR_PICK_RANGE) {
        if (p->lo > p->hi || p->hi > nrow)
            return hr_error_set(err, HR_ERR_FORMAT, "%s: member %s has %llu rows, rows %llu..%llu were asked for", path,
                                tarname, (unsigned long long)nrow, (unsigned long long)p->lo, (unsigned long long)p->hi);
        *keep = p->hi - p->lo;
        return 0;
    }
    for (uint64_t i = 0; i < p->nrows; i++)
        if (p->rows[i] >= nrow || (i > 0 && p->rows[i] <= p->rows[i - 1]))
            return hr_error_set(err, HR_ERR_FORMAT, "%s: member %s has %llu rows, row %llu was asked for%s", path, tarname,
                                (unsigned long long)nrow, (unsigned long long)p->rows[i],
                                p->rows[i] < nrow ? " out of order" : "");
    *keep = p->nrows;
    return 0;
}

/* Stream a picked array member: checksum the stored bytes, decompress them chunk by chunk,
 * keep the picked rows in out (packed, in order).  The whole member is never in memory. */
static int stream_pick(stream_src *src, const char *path, const char *tarname, const listing *l, int zst,
                       const hr_bundle_pick *p, char *out, hr_error *err)
{
    const size_t CHUNK = (size_t)1 << 20;
    char *in = hr_malloc(CHUNK), *dec = zst ? hr_malloc(ZSTD_DStreamOutSize()) : NULL;
    ZSTD_DStream *ds = zst ? ZSTD_createDStream() : NULL;
    hr_checksum c;
    hr_checksum_init(&c);
    uint64_t got = 0, pos = 0, ri = 0;
    size_t zr = 1;
    int rc = 0;
    const char *bad = NULL;   /* why decompressing stopped; the rest is still checksummed, because a
                               * damaged frame should be reported as the checksum mismatch it is */
    while (rc == 0 && got < l->bytes) {
        size_t want = l->bytes - got < CHUNK ? (size_t)(l->bytes - got) : CHUNK;
        int64_t k = src_read(src, in, want, path, err);
        if (k < 0) rc = (int)k;
        else if (k == 0)
            rc = hr_error_set(err, HR_ERR_FORMAT, "%s: member %s is truncated (%llu of %llu bytes)", path, tarname,
                              (unsigned long long)got, (unsigned long long)l->bytes);
        if (rc < 0) break;
        hr_checksum_update(&c, in, (size_t)k);
        got += (uint64_t)k;
        if (bad) continue;
        if (!zst) {
            if (pos + (uint64_t)k > l->raw) bad = "more bytes than the manifest lists";
            else keep_rows(p, in, pos, (size_t)k, out, &ri);
            pos += (uint64_t)k;
            continue;
        }
        ZSTD_inBuffer zi = { in, (size_t)k, 0 };
        ZSTD_outBuffer zo;
        const int last = got == l->bytes;
        int progress;
        /* Until the input is used up and the decoder has nothing more to flush.  The decoder may
         * stop at a block boundary with room left in the output while it still holds decoded
         * bytes (a small, very compressible member expands to many blocks): after the last
         * input, keep calling while the frame is unfinished and calls make progress. */
        do {
            zo = (ZSTD_outBuffer){ dec, ZSTD_DStreamOutSize(), 0 };
            size_t before = zi.pos;
            zr = ZSTD_decompressStream(ds, &zo, &zi);
            if (ZSTD_isError(zr) || pos + zo.pos > l->raw) {
                bad = ZSTD_isError(zr) ? ZSTD_getErrorName(zr) : "more bytes than the manifest lists";
                break;
            }
            keep_rows(p, dec, pos, zo.pos, out, &ri);
            pos += zo.pos;
            progress = zo.pos > 0 || zi.pos > before;
        } while (zr != 0 && (zi.pos < zi.size || zo.pos == zo.size || (last && progress)));
        if (!bad && zr == 0 && (zi.pos < zi.size || !last)) bad = "bytes after the zstd frame";
    }
    uint64_t h = hr_checksum_final(&c);
    if (rc == 0 && h != l->xxh3) {
        char gh[17], wh[17];
        hr_checksum_hex(h, gh);
        hr_checksum_hex(l->xxh3, wh);
        rc = hr_error_set(err, HR_ERR_CHECKSUM, "%s: member %s: checksum mismatch (stored %s, manifest %s): the bundle is corrupted",
                          path, tarname, gh, wh);
    }
    if (rc == 0 && bad)
        rc = hr_error_set(err, HR_ERR_FORMAT, "%s: member %s does not decompress: %s", path, tarname, bad);
    if (rc == 0 && (pos != l->raw || (zst && zr != 0)))
        rc = hr_error_set(err, HR_ERR_FORMAT, "%s: member %s is not one zstd frame of %llu bytes", path, tarname,
                          (unsigned long long)l->raw);
    hr_free(in);
    hr_free(dec);
    ZSTD_freeDStream(ds);
    return rc;
}

static int read_picked(struct archive *a, const char *path, const char *tarname, const listing *l, int zst,
                       const hr_bundle_pick *p, char **data, size_t *len, hr_error *err)
{
    uint64_t keep = 0;
    HR_TRY(pick_check(path, tarname, l, p, &keep, err));
    char *out = hr_try_malloc(keep ? (size_t)(keep * p->row_bytes) : 1);
    if (!out)
        return hr_error_set(err, HR_ERR_NOMEM, "%s: cannot allocate %llu bytes for member %s", path,
                            (unsigned long long)(keep * p->row_bytes), tarname);
    stream_src src = { a, -1, 0 };
    int rc = stream_pick(&src, path, tarname, l, zst, p, out, err);
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
    char name[NAME_MAX_LEN + 1];
    size_t tl = strlen(tarname);
    int zst = ends_with(tarname, ZST);
    size_t nl = zst ? tl - strlen(ZST) : tl;
    if (nl > NAME_MAX_LEN)
        return hr_error_set(err, HR_ERR_FORMAT, "%s: member name too long: %s", b->path, tarname);
    memcpy(name, tarname, nl);
    name[nl] = '\0';
    if (!name_ok(name)) return hr_error_set(err, HR_ERR_FORMAT, "%s: invalid member name '%s'", b->path, tarname);
    if (find_member(b, name) >= 0) return hr_error_set(err, HR_ERR_FORMAT, "%s: member %s appears twice", b->path, tarname);
    listing l = { 0, 0, 0, 0, -1 };
    HR_TRY(parse_listing(json_object_get(b->manifest, "members"), b->path, name, &l, err));
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
        if (archive_read_data_skip(a) != ARCHIVE_OK) return read_error(a, b->path, err);
    } else if (pick) {
        HR_TRY(read_picked(a, b->path, tarname, &l, zst, pick, &data, &len, err));
    }
    if (pick) {   /* present in the tar (so not "missing"), holding what was picked */
        b->m = hr_realloc(b->m, (b->n + 1) * sizeof *b->m);
        b->m[b->n++] = (rmember){ hr_strdup(name), data, len };
        return 0;
    }
    HR_TRY(read_entry(a, b->path, tarname, l.bytes, &data, err));
    uint64_t h = checksum_of(data, (size_t)l.bytes);
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
    HR_TRY(check_tail(path, &fsize, err));
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
        rc = read_error(a, path, err);
        goto fail;
    }
    HR_CHECK(read_manifest(a, path, fsize, format, max_version, &b->manifest, &msize, err));
    b->data_start = HR_TAR_BLOCK + hr_tar_round(msize);
    for (;;) {
        struct archive_entry *e;
        int r = archive_read_next_header(a, &e);
        if (r == ARCHIVE_EOF) break;
        if (r != ARCHIVE_OK) {
            rc = read_error(a, path, err);
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

/* ---------------------------------------------------------------- random access */

struct hr_bundle_at {
    char *path;
    int fd;
    uint64_t fsize, data_start;
    json_t *manifest;
    char *zbuf, *out;      /* stored bytes and decompressed bytes of the last member read */
    size_t zcap, ocap;
};

static int pread_all(int fd, void *buf, size_t n, uint64_t off, const char *path, hr_error *err)
{
    char *p = buf;
    while (n > 0) {
        ssize_t k = pread(fd, p, n, (off_t)off);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) return hr_error_set(err, HR_ERR_IO, "%s: read failed: %s", path, strerror(errno));
        if (k == 0) return hr_error_set(err, HR_ERR_FORMAT, "%s: truncated bundle (a member runs past the end)", path);
        p += k;
        n -= (size_t)k;
        off += (uint64_t)k;
    }
    return 0;
}

static int grow(char **buf, size_t *cap, size_t need, const char *path, hr_error *err)
{
    if (need <= *cap) return 0;
    size_t c = *cap ? *cap : 1 << 16;
    while (c < need) c *= 2;
    char *b = hr_try_malloc(c);
    if (!b) return hr_error_set(err, HR_ERR_NOMEM, "%s: cannot allocate %zu bytes to read a member", path, c);
    hr_free(*buf);
    *buf = b;
    *cap = c;
    return 0;
}

int hr_bundle_at_open(const char *path, const char *format, int max_version, hr_bundle_at **out, hr_error *err)
{
    *out = NULL;
    uint64_t fsize;
    HR_TRY(check_tail(path, &fsize, err));
    hr_bundle_at *b = hr_calloc(1, sizeof *b);
    b->fd = -1;
    b->path = hr_strdup(path);
    b->fsize = fsize;
    int rc = 0;
    unsigned char h[HR_TAR_BLOCK];
    char name[101];
    uint64_t msize = 0;
    if ((b->fd = open(path, O_RDONLY)) < 0) {
        rc = hr_error_set(err, HR_ERR_IO, "%s: cannot open bundle: %s", path, strerror(errno));
        goto fail;
    }
    HR_CHECK(pread_all(b->fd, h, sizeof h, 0, path, err));
    if (!hr_tar_parse(h, name, &msize) || strcmp(name, HR_BUNDLE_MANIFEST) != 0) {
        rc = hr_error_set(err, HR_ERR_FORMAT, "%s: not an hpcrec bundle (the first member is not a plain %s)", path,
                          HR_BUNDLE_MANIFEST);
        goto fail;
    }
    if (msize > MANIFEST_MAX || msize > fsize - HR_TAR_BLOCK) {
        rc = hr_error_set(err, HR_ERR_FORMAT, "%s: %s has an implausible size (%llu bytes)", path, HR_BUNDLE_MANIFEST,
                          (unsigned long long)msize);
        goto fail;
    }
    HR_CHECK(grow(&b->zbuf, &b->zcap, (size_t)msize + 1, path, err));
    HR_CHECK(pread_all(b->fd, b->zbuf, (size_t)msize, HR_TAR_BLOCK, path, err));
    json_error_t je;
    b->manifest = json_loadb(b->zbuf, (size_t)msize, JSON_REJECT_DUPLICATES, &je);
    if (!b->manifest) {
        rc = hr_error_set(err, HR_ERR_FORMAT, "%s: %s:%d: invalid JSON: %s", path, HR_BUNDLE_MANIFEST, je.line, je.text);
        goto fail;
    }
    HR_CHECK(check_format(b->manifest, path, format, max_version, err));
    b->data_start = HR_TAR_BLOCK + hr_tar_round(msize);
    *out = b;
    return 0;
fail:
    hr_bundle_at_close(b);
    return rc;
}

json_t *hr_bundle_at_manifest(const hr_bundle_at *b) { return b->manifest; }

const char *hr_bundle_at_path(const hr_bundle_at *b) { return b->path; }

/* Find member `name`, check the tar header at its listed place; *l its listing, *at where its
 * stored bytes start, want its tar name. */
static int at_locate(hr_bundle_at *b, const char *name, listing *l, uint64_t *at, char want[NAME_MAX_LEN + sizeof ZST],
                     hr_error *err)
{
    json_t *members = json_object_get(b->manifest, "members");
    if (!json_object_get(members, name)) return hr_error_set(err, HR_ERR_FORMAT, "%s: bundle has no member %s", b->path, name);
    HR_TRY(parse_listing(members, b->path, name, l, err));
    if (l->offset < 0) return hr_error_set(err, HR_ERR_FORMAT, "%s: member %s has no offset in the manifest", b->path, name);
    uint64_t h0 = b->data_start + (uint64_t)l->offset;
    if (h0 > b->fsize || hr_tar_span(l->bytes) > b->fsize - h0)
        return hr_error_set(err, HR_ERR_FORMAT, "%s: member %s (%llu bytes at %llu) runs past the end of the file: truncated bundle",
                            b->path, name, (unsigned long long)l->bytes, (unsigned long long)h0);
    if (!l->zstd && l->raw != l->bytes)
        return hr_error_set(err, HR_ERR_FORMAT, "%s: member %s does not match its manifest entry (size)", b->path, name);
    unsigned char h[HR_TAR_BLOCK];
    char tname[101];
    uint64_t tsize;
    snprintf(want, NAME_MAX_LEN + sizeof ZST, "%s%s", name, l->zstd ? ZST : "");
    HR_TRY(pread_all(b->fd, h, sizeof h, h0, b->path, err));
    if (!hr_tar_parse(h, tname, &tsize) || strcmp(tname, want) != 0 || tsize != l->bytes)
        return hr_error_set(err, HR_ERR_FORMAT, "%s: no tar header of member %s (%llu bytes) at byte %llu: the bundle is damaged",
                            b->path, want, (unsigned long long)l->bytes, (unsigned long long)h0);
    *at = h0 + HR_TAR_BLOCK;
    return 0;
}

int hr_bundle_at_read(hr_bundle_at *b, const char *name, const void **data, size_t *len, hr_error *err)
{
    listing l = { 0, 0, 0, 0, -1 };
    uint64_t at;
    char want[NAME_MAX_LEN + sizeof ZST];
    HR_TRY(at_locate(b, name, &l, &at, want, err));
    HR_TRY(grow(&b->zbuf, &b->zcap, l.bytes ? (size_t)l.bytes : 1, b->path, err));
    HR_TRY(pread_all(b->fd, b->zbuf, (size_t)l.bytes, at, b->path, err));
    uint64_t hsum = checksum_of(b->zbuf, (size_t)l.bytes);
    if (hsum != l.xxh3) {
        char got[17], wh[17];
        hr_checksum_hex(hsum, got);
        hr_checksum_hex(l.xxh3, wh);
        return hr_error_set(err, HR_ERR_CHECKSUM, "%s: member %s: checksum mismatch (stored %s, manifest %s): the bundle is corrupted",
                            b->path, want, got, wh);
    }
    if (!l.zstd) {
        *data = b->zbuf;
        *len = (size_t)l.bytes;
        return 0;
    }
    if (l.raw > SIZE_MAX / 2 || ZSTD_findFrameCompressedSize(b->zbuf, (size_t)l.bytes) != l.bytes ||
        ZSTD_getFrameContentSize(b->zbuf, (size_t)l.bytes) != l.raw)
        return hr_error_set(err, HR_ERR_FORMAT, "%s: member %s is not one zstd frame of %llu bytes", b->path, want,
                            (unsigned long long)l.raw);
    HR_TRY(grow(&b->out, &b->ocap, l.raw ? (size_t)l.raw : 1, b->path, err));
    size_t r = ZSTD_decompress(b->out, (size_t)l.raw, b->zbuf, (size_t)l.bytes);
    if (ZSTD_isError(r) || r != l.raw)
        return hr_error_set(err, HR_ERR_FORMAT, "%s: member %s does not decompress: %s", b->path, want,
                            ZSTD_isError(r) ? ZSTD_getErrorName(r) : "wrong size");
    *data = b->out;
    *len = (size_t)l.raw;
    return 0;
}

int hr_bundle_at_pick(hr_bundle_at *b, const hr_bundle_pick *p, void *out, hr_error *err)
{
    listing l = { 0, 0, 0, 0, -1 };
    uint64_t at, keep = 0;
    char want[NAME_MAX_LEN + sizeof ZST];
    HR_TRY(at_locate(b, p->name, &l, &at, want, err));
    HR_TRY(pick_check(b->path, want, &l, p, &keep, err));
    stream_src src = { NULL, b->fd, at };
    return stream_pick(&src, b->path, want, &l, l.zstd, p, out, err);
}

void hr_bundle_at_close(hr_bundle_at *b)
{
    if (!b) return;
    if (b->fd >= 0) close(b->fd);
    json_decref(b->manifest);
    hr_free(b->zbuf);
    hr_free(b->out);
    hr_free(b->path);
    hr_free(b);
}
