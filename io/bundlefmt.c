#include "io/bundlefmt.h"

#include <stdio.h>
#include <string.h>
#include <zstd.h>

#include "core/alloc.h"
#include "core/hash.h"

enum { ZSTD_LEVEL = 3 };
static const uint64_t SIZE_LIMIT = (uint64_t)1 << 33;   /* 11 octal digits */

/* ustar field offsets (POSIX.1-1988) */
enum { F_NAME = 0, F_MODE = 100, F_UID = 108, F_GID = 116, F_SIZE = 124, F_MTIME = 136, F_CHKSUM = 148,
       F_TYPE = 156, F_MAGIC = 257, F_VERSION = 263 };

static void octal(unsigned char *f, size_t width, uint64_t v)
{
    /* width - 1 digits, zero-padded, then NUL */
    for (size_t i = width - 1; i-- > 0; v >>= 3) f[i] = (unsigned char)('0' + (v & 7));
    f[width - 1] = '\0';
}

static uint64_t header_sum(const unsigned char *h)
{
    uint64_t s = 0;
    for (size_t i = 0; i < HR_TAR_BLOCK; i++) s += (i >= F_CHKSUM && i < F_CHKSUM + 8) ? (unsigned char)' ' : h[i];
    return s;
}

int hr_tar_header(unsigned char h[HR_TAR_BLOCK], const char *name, uint64_t size, int64_t mtime, hr_error *err)
{
    size_t n = strlen(name);
    if (n == 0 || n >= 100) return hr_error_set(err, HR_ERR_ARG, "tar member name '%s' must be 1..99 bytes", name);
    if (size >= SIZE_LIMIT)
        return hr_error_set(err, HR_ERR_ARG, "tar member %s: %llu bytes is over the ustar limit of 8 GiB", name,
                            (unsigned long long)size);
    memset(h, 0, HR_TAR_BLOCK);
    memcpy(h + F_NAME, name, n);
    octal(h + F_MODE, 8, 0644);
    octal(h + F_UID, 8, 0);
    octal(h + F_GID, 8, 0);
    octal(h + F_SIZE, 12, size);
    octal(h + F_MTIME, 12, mtime > 0 ? (uint64_t)mtime : 0);
    h[F_TYPE] = '0';
    memcpy(h + F_MAGIC, "ustar", 6);
    memcpy(h + F_VERSION, "00", 2);
    /* checksum: six octal digits, NUL, space (the form every tar writes) */
    octal(h + F_CHKSUM, 7, header_sum(h));
    h[F_CHKSUM + 7] = ' ';
    return 0;
}

static int read_octal(const unsigned char *f, size_t width, uint64_t *v)
{
    size_t i = 0;
    *v = 0;
    while (i < width && f[i] == ' ') i++;
    size_t digits = 0;
    for (; i < width && f[i] >= '0' && f[i] <= '7'; i++, digits++) *v = (*v << 3) | (uint64_t)(f[i] - '0');
    for (; i < width; i++)
        if (f[i] != ' ' && f[i] != '\0') return 0;
    return digits > 0;
}

int hr_tar_parse(const unsigned char h[HR_TAR_BLOCK], char *name, uint64_t *size)
{
    uint64_t sum;
    if (!read_octal(h + F_CHKSUM, 8, &sum) || sum != header_sum(h)) return 0;
    if (memcmp(h + F_MAGIC, "ustar", 5) != 0 || (h[F_TYPE] != '0' && h[F_TYPE] != '\0')) return 0;
    if (!read_octal(h + F_SIZE, 12, size)) return 0;
    memcpy(name, h + F_NAME, 100);
    name[100] = '\0';
    return name[0] != '\0';
}

struct hr_packer {
    ZSTD_CCtx *cctx;
    unsigned char *buf;
    size_t cap;
};

hr_packer *hr_packer_create(void) { return hr_calloc(1, sizeof(hr_packer)); }

void hr_packer_free(hr_packer *p)
{
    if (!p) return;
    if (p->cctx) ZSTD_freeCCtx(p->cctx);
    hr_free(p->buf);
    hr_free(p);
}

static int reserve(hr_packer *p, size_t need, hr_error *err)
{
    if (need <= p->cap) return 0;
    size_t cap = p->cap ? p->cap : 1 << 16;
    while (cap < need) cap *= 2;
    unsigned char *b = hr_try_malloc(cap);
    if (!b) return hr_error_set(err, HR_ERR_NOMEM, "bundle: cannot allocate %zu bytes for a member", cap);
    hr_free(p->buf);
    p->buf = b;
    p->cap = cap;
    return 0;
}

/* Header in front, zeros behind: the piece is [header][size bytes at buf + 512][pad]. */
static int finish(hr_packer *p, size_t size, const char *tarname, int64_t mtime, const unsigned char **piece,
                  size_t *piece_len, uint64_t *xxh3, hr_error *err)
{
    HR_TRY(hr_tar_header(p->buf, tarname, size, mtime, err));
    size_t span = (size_t)hr_tar_span(size);
    memset(p->buf + HR_TAR_BLOCK + size, 0, span - HR_TAR_BLOCK - size);
    *xxh3 = hr_hash_checksum(p->buf + HR_TAR_BLOCK, size);
    *piece = p->buf;
    *piece_len = span;
    return 0;
}

int hr_packer_pack(hr_packer *p, const void *raw, size_t len, const char *tarname, int64_t mtime,
                   const unsigned char **piece, size_t *piece_len, uint64_t *stored, uint64_t *xxh3, hr_error *err)
{
    if (!p->cctx) {
        if (!(p->cctx = ZSTD_createCCtx())) return hr_error_set(err, HR_ERR_NOMEM, "bundle: cannot create a zstd context");
        ZSTD_CCtx_setParameter(p->cctx, ZSTD_c_compressionLevel, ZSTD_LEVEL);
        ZSTD_CCtx_setParameter(p->cctx, ZSTD_c_checksumFlag, 1);
    }
    size_t bound = ZSTD_compressBound(len);
    HR_TRY(reserve(p, bound + 2 * HR_TAR_BLOCK, err));
    size_t r = ZSTD_compress2(p->cctx, p->buf + HR_TAR_BLOCK, bound, raw, len);
    if (ZSTD_isError(r)) return hr_error_set(err, HR_ERR_IO, "bundle member %s: zstd: %s", tarname, ZSTD_getErrorName(r));
    *stored = r;
    return finish(p, r, tarname, mtime, piece, piece_len, xxh3, err);
}

int hr_packer_plain(hr_packer *p, const void *data, size_t len, const char *tarname, int64_t mtime,
                    const unsigned char **piece, size_t *piece_len, uint64_t *xxh3, hr_error *err)
{
    HR_TRY(reserve(p, len + 2 * HR_TAR_BLOCK, err));
    if (len) memcpy(p->buf + HR_TAR_BLOCK, data, len);
    return finish(p, len, tarname, mtime, piece, piece_len, xxh3, err);
}
