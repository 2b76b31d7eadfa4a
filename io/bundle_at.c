/* io/bundle_at.c — random access to a format-2 bundle (io/bundle.h, hr_bundle_at_*): the
 * manifest is read from the first member, every other member is found at the offset its
 * manifest entry lists, its tar header checked, its bytes read with pread (whole, or row
 * picks streamed through io/bundle_member.c), so a rank reads only the members and rows it
 * needs. */
#include "io/bundle_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "core/alloc.h"
#include "core/hash.h"
#include "io/bundlefmt.h"

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
    HR_TRY(hr_bundle_check_tail(path, &fsize, err));
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
    if (msize > HR_BUNDLE_MANIFEST_MAX || msize > fsize - HR_TAR_BLOCK) {
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
    HR_CHECK(hr_bundle_check_format(b->manifest, path, format, max_version, err));
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
static int at_locate(hr_bundle_at *b, const char *name, hr_bundle_listing *l, uint64_t *at, char want[HR_BUNDLE_NAME_MAX + sizeof HR_BUNDLE_ZST],
                     hr_error *err)
{
    json_t *members = json_object_get(b->manifest, "members");
    if (!json_object_get(members, name)) return hr_error_set(err, HR_ERR_FORMAT, "%s: bundle has no member %s", b->path, name);
    HR_TRY(hr_bundle_parse_listing(members, b->path, name, l, err));
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
    snprintf(want, HR_BUNDLE_NAME_MAX + sizeof HR_BUNDLE_ZST, "%s%s", name, l->zstd ? HR_BUNDLE_ZST : "");
    HR_TRY(pread_all(b->fd, h, sizeof h, h0, b->path, err));
    if (!hr_tar_parse(h, tname, &tsize) || strcmp(tname, want) != 0 || tsize != l->bytes)
        return hr_error_set(err, HR_ERR_FORMAT, "%s: no tar header of member %s (%llu bytes) at byte %llu: the bundle is damaged",
                            b->path, want, (unsigned long long)l->bytes, (unsigned long long)h0);
    *at = h0 + HR_TAR_BLOCK;
    return 0;
}

int hr_bundle_at_read(hr_bundle_at *b, const char *name, const void **data, size_t *len, hr_error *err)
{
    hr_bundle_listing l = { 0, 0, 0, 0, -1 };
    uint64_t at;
    char want[HR_BUNDLE_NAME_MAX + sizeof HR_BUNDLE_ZST];
    HR_TRY(at_locate(b, name, &l, &at, want, err));
    HR_TRY(grow(&b->zbuf, &b->zcap, l.bytes ? (size_t)l.bytes : 1, b->path, err));
    HR_TRY(pread_all(b->fd, b->zbuf, (size_t)l.bytes, at, b->path, err));
    uint64_t hsum = hr_hash_checksum(b->zbuf, (size_t)l.bytes);
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
    hr_bundle_listing l = { 0, 0, 0, 0, -1 };
    uint64_t at, keep = 0;
    char want[HR_BUNDLE_NAME_MAX + sizeof HR_BUNDLE_ZST];
    HR_TRY(at_locate(b, p->name, &l, &at, want, err));
    HR_TRY(hr_bundle_pick_check(b->path, want, &l, p, &keep, err));
    hr_bundle_src src = { NULL, b->fd, at };
    return hr_bundle_stream_pick(&src, b->path, want, &l, l.zstd, p, out, err);
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
