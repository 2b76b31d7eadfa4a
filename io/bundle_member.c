/* io/bundle_member.c — what both bundle readers (io/bundle.c streams the tar, io/bundle_at.c
 * reads members at their manifest offsets) check and do the same way: the end-of-archive
 * marker, the manifest's format and member entries, and streaming one array member through
 * its checksum and decompressor while keeping only picked rows (io/bundle_impl.h). */
#include "io/bundle_impl.h"

#include <archive.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "core/alloc.h"
#include "core/hash.h"
#include "io/bundlefmt.h"

/* libarchive reports damaged data with EILSEQ (its private ARCHIVE_ERRNO_FILE_FORMAT on Linux)
 * or -1 (ARCHIVE_ERRNO_MISC); any other errno came from the system. */
int hr_bundle_read_error(struct archive *a, const char *path, hr_error *err)
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
int hr_bundle_check_tail(const char *path, uint64_t *size, hr_error *err)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) return hr_error_set(err, HR_ERR_IO, "%s: cannot open bundle: %s", path, strerror(errno));
    struct stat st;
    int rc = 0;
    unsigned char tail[2 * HR_TAR_BLOCK];
    if (fstat(fd, &st) != 0) {
        rc = hr_error_set(err, HR_ERR_IO, "%s: cannot stat bundle: %s", path, strerror(errno));
    } else if (!S_ISREG(st.st_mode)) {
        rc = hr_error_set(err, HR_ERR_FORMAT, "%s: a bundle must be a regular file", path);
    } else if (st.st_size < (off_t)sizeof tail || st.st_size % HR_TAR_BLOCK != 0) {
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

int hr_bundle_check_format(json_t *m, const char *path, const char *format, int max_version, hr_error *err)
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

int hr_bundle_parse_listing(json_t *members, const char *path, const char *name, hr_bundle_listing *l, hr_error *err)
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

/* Read up to want stored bytes from s: bytes read (0 at a premature end) or a negative status. */
static int64_t src_read(hr_bundle_src *s, char *buf, size_t want, const char *path, hr_error *err)
{
    if (s->a) {
        la_ssize_t k = archive_read_data(s->a, buf, want);
        return k < 0 ? hr_bundle_read_error(s->a, path, err) : (int64_t)k;
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
int hr_bundle_pick_check(const char *path, const char *tarname, const hr_bundle_listing *l, const hr_bundle_pick *p, uint64_t *keep,
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
int hr_bundle_stream_pick(hr_bundle_src *src, const char *path, const char *tarname, const hr_bundle_listing *l, int zst,
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
