#include "io/decode.h"

#include <bzlib.h>
#include <errno.h>
#include <fcntl.h>
#include <lzma.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "core/alloc.h"

#define INBUF (1 << 20)

/* One codec's streaming state; `between` is set where one stream (gzip member, bzip2 or xz
 * stream, zstd frame) ended and the next may begin. */
struct hr_decoder {
    hr_dec_kind kind;
    char *path;
    int fd, eof;
    unsigned char *in;
    size_t in_len, in_pos;     /* in[in_pos .. in_len) not yet given to the codec */
    uint64_t consumed;         /* file offset of in[in_pos] */
    uint64_t stream_start;     /* file offset where the current stream began */
    unsigned streams;          /* streams started */
    int between, done, live;   /* live: the codec state below is initialised */
    int fail;                  /* sticky error */
    char fail_msg[sizeof ((hr_error *)0)->msg];
    ZSTD_DCtx *zd;
    z_stream gz;
    bz_stream bz;
    lzma_stream xz;
};

static const char *const names[] = { [HR_DEC_ZSTD] = "zstd", [HR_DEC_GZIP] = "gzip", [HR_DEC_BZIP2] = "bzip2", [HR_DEC_XZ] = "xz" };

const char *hr_decoder_name(hr_dec_kind kind) { return names[kind]; }
uint64_t hr_decoder_in_bytes(const hr_decoder *d) { return d->consumed; }

/* Record a sticky error (code, message naming the file) and return the code. */
static int fail(hr_decoder *d, hr_error *err, int code, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int fail(hr_decoder *d, hr_error *err, int code, const char *fmt, ...)
{
    char what[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    snprintf(d->fail_msg, sizeof d->fail_msg, "%s: %s", d->path, what);
    d->fail = code;
    return hr_error_set(err, code, "%s", d->fail_msg);
}

/* At least k unread bytes in the buffer unless the file ends first; returns how many there are
 * (may be fewer than k only at the end of the file), or < 0 on a read error. */
static long need(hr_decoder *d, size_t k, hr_error *err)
{
    while (d->in_len - d->in_pos < k && !d->eof) {
        if (d->in_pos > 0) {   /* keep the unread tail at the front */
            memmove(d->in, d->in + d->in_pos, d->in_len - d->in_pos);
            d->in_len -= d->in_pos;
            d->in_pos = 0;
        }
        ssize_t r = read(d->fd, d->in + d->in_len, INBUF - d->in_len);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return fail(d, err, HR_ERR_IO, "read failed: %s", strerror(errno));
        if (r == 0) d->eof = 1;
        d->in_len += (size_t)r;
    }
    return (long)(d->in_len - d->in_pos);
}

static void codec_end(hr_decoder *d)
{
    if (!d->live) return;
    if (d->kind == HR_DEC_GZIP) inflateEnd(&d->gz);
    else if (d->kind == HR_DEC_BZIP2) BZ2_bzDecompressEnd(&d->bz);
    else if (d->kind == HR_DEC_XZ) lzma_end(&d->xz);
    d->live = 0;
}

/* A new stream starts at in[in_pos] (its magic already checked). */
static int codec_begin(hr_decoder *d, hr_error *err)
{
    codec_end(d);
    int ok = 1;
    if (d->kind == HR_DEC_GZIP) {
        memset(&d->gz, 0, sizeof d->gz);
        ok = inflateInit2(&d->gz, 15 + 16) == Z_OK;   /* 16: gzip wrapper, trailer checked by zlib */
    } else if (d->kind == HR_DEC_BZIP2) {
        memset(&d->bz, 0, sizeof d->bz);
        ok = BZ2_bzDecompressInit(&d->bz, 0, 0) == BZ_OK;
    } else if (d->kind == HR_DEC_XZ) {
        lzma_stream init = LZMA_STREAM_INIT;
        d->xz = init;
        ok = lzma_stream_decoder(&d->xz, UINT64_MAX, LZMA_TELL_UNSUPPORTED_CHECK) == LZMA_OK;
    }
    if (!ok) return fail(d, err, HR_ERR_NOMEM, "cannot start a %s decoder", names[d->kind]);
    d->live = d->kind != HR_DEC_ZSTD;
    d->stream_start = d->consumed;
    d->streams++;
    d->between = 0;
    return 0;
}

/* Where a stream may start: another stream, (xz) zero padding, the end of the file, or bytes
 * that are none of these (an error). */
static int boundary(hr_decoder *d, hr_error *err)
{
    static const unsigned char gz[2] = { 0x1f, 0x8b }, bz[3] = { 'B', 'Z', 'h' }, xz[6] = { 0xfd, '7', 'z', 'X', 'Z', 0 },
                               zs[4] = { 0x28, 0xb5, 0x2f, 0xfd };
    for (;;) {
        long have = need(d, 6, err);
        if (have < 0) return (int)have;
        if (have == 0) {
            d->done = 1;
            return 0;
        }
        const unsigned char *p = d->in + d->in_pos;
        if (d->kind == HR_DEC_XZ && p[0] == 0) {   /* stream padding */
            size_t z = 0;
            while (z < (size_t)have && p[z] == 0) z++;
            d->in_pos += z;
            d->consumed += z;
            continue;
        }
        int magic = d->kind == HR_DEC_GZIP  ? have >= 2 && !memcmp(p, gz, 2)
                  : d->kind == HR_DEC_BZIP2 ? have >= 4 && !memcmp(p, bz, 3) && p[3] >= '1' && p[3] <= '9'
                  : d->kind == HR_DEC_XZ    ? have >= 6 && !memcmp(p, xz, 6)
                  : have >= 4 && (!memcmp(p, zs, 4) || (p[1] == 0x2a && p[2] == 0x4d && p[3] == 0x18 && (p[0] & 0xf0) == 0x50));
        if (magic) return codec_begin(d, err);
        if (d->streams == 0) return fail(d, err, HR_ERR_FORMAT, "not %s data", names[d->kind]);
        have = need(d, INBUF, err);   /* as much of the rest as the buffer holds, for the message */
        if (have < 0) return (int)have;
        uint64_t rest = (uint64_t)have;
        return fail(d, err, HR_ERR_FORMAT, "%s%llu bytes of trailing data after the end of the %s stream at byte %llu "
                    "(not another %s stream: a damaged or appended file?)", d->eof ? "" : "at least ",
                    (unsigned long long)rest, names[d->kind], (unsigned long long)d->consumed, names[d->kind]);
    }
}

static int truncated(hr_decoder *d, hr_error *err)
{
    return fail(d, err, HR_ERR_FORMAT, "truncated %s stream: the file ends at byte %llu inside the stream that starts at byte %llu",
                names[d->kind], (unsigned long long)d->consumed, (unsigned long long)d->stream_start);
}

/* Decode from the buffer into out: sets *made, *used; returns 1 at the end of a stream, 0 to
 * go on, < 0 on corrupt data. */
static int step(hr_decoder *d, unsigned char *out, size_t n, size_t *made, size_t *used, int finish, hr_error *err)
{
    const unsigned char *src = d->in + d->in_pos;
    size_t avail = d->in_len - d->in_pos;
    if (d->kind == HR_DEC_ZSTD) {
        ZSTD_inBuffer zi = { src, avail, 0 };
        ZSTD_outBuffer zo = { out, n, 0 };
        size_t r = ZSTD_decompressStream(d->zd, &zo, &zi);
        *made = zo.pos;
        *used = zi.pos;
        if (ZSTD_isError(r))
            return fail(d, err, HR_ERR_FORMAT, "corrupt zstd data in the frame that starts at byte %llu: %s", (unsigned long long)d->stream_start,
                        ZSTD_getErrorName(r));
        return r == 0;   /* frame decoded and flushed */
    }
    if (d->kind == HR_DEC_GZIP) {
        d->gz.next_in = (Bytef *)(uintptr_t)src;
        d->gz.avail_in = (uInt)(avail > UINT32_MAX ? UINT32_MAX : avail);
        d->gz.next_out = out;
        d->gz.avail_out = (uInt)(n > UINT32_MAX ? UINT32_MAX : n);
        uInt in0 = d->gz.avail_in, out0 = d->gz.avail_out;
        int r = inflate(&d->gz, Z_NO_FLUSH);
        *made = out0 - d->gz.avail_out;
        *used = in0 - d->gz.avail_in;
        if (r == Z_STREAM_END) return 1;
        if (r == Z_OK || r == Z_BUF_ERROR) return 0;
        if (r == Z_MEM_ERROR) return fail(d, err, HR_ERR_NOMEM, "out of memory in the gzip decoder");
        const char *m = d->gz.msg ? d->gz.msg : "invalid data";
        return fail(d, err, HR_ERR_FORMAT, "corrupt gzip data in the member that starts at byte %llu: %s%s", (unsigned long long)d->stream_start, m,
                    strstr(m, "check") ? " (the CRC-32 or the length in the trailer does not match the data)" : "");
    }
    if (d->kind == HR_DEC_BZIP2) {
        d->bz.next_in = (char *)(uintptr_t)src;
        d->bz.avail_in = (unsigned)(avail > UINT32_MAX ? UINT32_MAX : avail);
        d->bz.next_out = (char *)out;
        d->bz.avail_out = (unsigned)(n > UINT32_MAX ? UINT32_MAX : n);
        unsigned in0 = d->bz.avail_in, out0 = d->bz.avail_out;
        int r = BZ2_bzDecompress(&d->bz);
        *made = out0 - d->bz.avail_out;
        *used = in0 - d->bz.avail_in;
        if (r == BZ_STREAM_END) return 1;
        if (r == BZ_OK) return 0;
        if (r == BZ_MEM_ERROR) return fail(d, err, HR_ERR_NOMEM, "out of memory in the bzip2 decoder");
        return fail(d, err, HR_ERR_FORMAT, "corrupt bzip2 data in the stream that starts at byte %llu: %s", (unsigned long long)d->stream_start,
                    r == BZ_DATA_ERROR ? "data integrity error (a block CRC does not match)" : "bad stream header");
    }
    d->xz.next_in = src;
    d->xz.avail_in = avail;
    d->xz.next_out = out;
    d->xz.avail_out = n;
    lzma_ret r = lzma_code(&d->xz, finish ? LZMA_FINISH : LZMA_RUN);
    *made = n - d->xz.avail_out;
    *used = avail - d->xz.avail_in;
    if (r == LZMA_STREAM_END) return 1;
    if (r == LZMA_OK || (r == LZMA_BUF_ERROR && !finish)) return 0;
    if (r == LZMA_BUF_ERROR) return 0;   /* at the end of the file: reported as truncated by the caller */
    if (r == LZMA_MEM_ERROR) return fail(d, err, HR_ERR_NOMEM, "out of memory in the xz decoder");
    return fail(d, err, HR_ERR_FORMAT, "corrupt xz data in the stream that starts at byte %llu: %s", (unsigned long long)d->stream_start,
                r == LZMA_DATA_ERROR ? "data error (the integrity check or the index does not match)"
                : r == LZMA_UNSUPPORTED_CHECK ? "unsupported integrity check"
                : r == LZMA_OPTIONS_ERROR ? "unsupported options" : "bad stream header or footer");
}

long hr_decoder_read(hr_decoder *d, void *buf, size_t n, hr_error *err)
{
    if (d->fail) return hr_error_set(err, d->fail, "%s", d->fail_msg);
    size_t got = 0;
    while (got < n && !d->done) {
        if (d->between) {
            int rc = boundary(d, err);
            if (rc < 0) return rc;
            continue;
        }
        if (d->in_pos == d->in_len) {
            long have = need(d, 1, err);
            if (have < 0) return have;
        }
        int finish = d->eof && d->in_pos == d->in_len;
        size_t made = 0, used = 0;
        int r = step(d, (unsigned char *)buf + got, n - got, &made, &used, finish, err);
        if (r < 0) return r;
        got += made;
        d->in_pos += used;
        d->consumed += used;
        if (r == 1) {
            d->between = 1;
            continue;
        }
        /* no end of stream: out of input at the end of the file means the file is cut */
        if (made == 0 && used == 0 && d->in_pos == d->in_len && d->eof) return truncated(d, err);
        if (made == 0 && used == 0 && d->in_pos < d->in_len && got == 0)
            return fail(d, err, HR_ERR_FORMAT, "the %s decoder makes no progress at byte %llu", names[d->kind],
                        (unsigned long long)d->consumed);
        if (made == 0 && used == 0) break;   /* output full for this call */
    }
    return (long)got;
}

int hr_decoder_open(const char *path, hr_dec_kind kind, hr_decoder **out, hr_error *err)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) return hr_error_set(err, HR_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    hr_decoder *d = hr_calloc(1, sizeof *d);
    d->kind = kind;
    d->path = hr_strdup(path);
    d->fd = fd;
    d->in = hr_malloc(INBUF);
    d->between = 1;   /* the first stream starts at byte 0 */
    if (kind == HR_DEC_ZSTD) d->zd = ZSTD_createDCtx();
    *out = d;
    return 0;
}

void hr_decoder_close(hr_decoder *d)
{
    if (!d) return;
    codec_end(d);
    if (d->zd) ZSTD_freeDCtx(d->zd);
    if (d->fd >= 0) close(d->fd);
    hr_free(d->in);
    hr_free(d->path);
    hr_free(d);
}
