#include "io/input.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "core/alloc.h"

struct hr_input {
    hr_codec codec;
    char *path;
    int fd;
    int members_done;        /* plain/zstd: the single member was handed out */
    int at_eof;              /* end of current member reached */
    /* zstd */
    ZSTD_DCtx *dctx;
    char *zbuf;
    ZSTD_inBuffer zin;
    size_t zlast;            /* last return of ZSTD_decompressStream: 0 = frame complete */
    int zsaw_data;
    /* libarchive */
    struct archive *ar;
    char name[4096];
};

static const size_t ZBUF = 1 << 20;

/* A .tar.zst starts like any zstd stream: decompress its first block and look for the tar
 * magic, so that archives go to libarchive and plain .zst files to our own reader. */
static int zstd_holds_tar(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) return 0;
    char in[1 << 16], out[512];
    ssize_t n = read(fd, in, sizeof in);
    close(fd);
    if (n <= 0) return 0;
    ZSTD_DCtx *d = ZSTD_createDCtx();
    ZSTD_inBuffer zi = { in, (size_t)n, 0 };
    ZSTD_outBuffer zo = { out, sizeof out, 0 };
    while (zo.pos < zo.size && zi.pos < zi.size) {
        size_t r = ZSTD_decompressStream(d, &zo, &zi);
        if (ZSTD_isError(r) || r == 0) break;
    }
    ZSTD_freeDCtx(d);
    return zo.pos >= 262 && memcmp(out + 257, "ustar", 5) == 0;
}

int hr_input_codec(const char *path, hr_codec *codec, hr_error *err)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) return hr_error_set(err, HR_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    unsigned char m[512];
    ssize_t n = read(fd, m, sizeof m);
    close(fd);
    if (n < 0) return hr_error_set(err, HR_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
    *codec = HR_CODEC_PLAIN;
    if (n >= 4 && m[0] == 0x28 && m[1] == 0xB5 && m[2] == 0x2F && m[3] == 0xFD) *codec = zstd_holds_tar(path) ? HR_CODEC_ARCHIVE : HR_CODEC_ZSTD;
    else if (n >= 2 && m[0] == 0x1f && m[1] == 0x8b) *codec = HR_CODEC_ARCHIVE;             /* gzip */
    else if (n >= 3 && memcmp(m, "BZh", 3) == 0) *codec = HR_CODEC_ARCHIVE;                  /* bzip2 */
    else if (n >= 6 && memcmp(m, "\xfd" "7zXZ\0", 6) == 0) *codec = HR_CODEC_ARCHIVE;        /* xz */
    else if (n >= 4 && memcmp(m, "PK\x03\x04", 4) == 0) *codec = HR_CODEC_ARCHIVE;           /* zip */
    else if (n >= 4 && memcmp(m, "PK\x05\x06", 4) == 0) *codec = HR_CODEC_ARCHIVE;           /* empty zip */
    else if (n >= 4 && memcmp(m, "\x04\x22\x4d\x18", 4) == 0) *codec = HR_CODEC_ARCHIVE;     /* lz4 */
    else if (n >= 6 && memcmp(m, "7z\xbc\xaf\x27\x1c", 6) == 0) *codec = HR_CODEC_ARCHIVE;   /* 7z */
    else if (n >= 262 && memcmp(m + 257, "ustar", 5) == 0) *codec = HR_CODEC_ARCHIVE;        /* tar */
    return 0;
}

static hr_input *input_new(const char *path, hr_codec codec)
{
    hr_input *in = hr_calloc(1, sizeof *in);
    in->codec = codec;
    in->path = hr_strdup(path);
    in->fd = -1;
    return in;
}

int hr_input_open_at(const char *path, uint64_t offset, hr_input **out, hr_error *err)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) return hr_error_set(err, HR_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (offset && lseek(fd, (off_t)offset, SEEK_SET) < 0) {
        int e = errno;
        close(fd);
        return hr_error_set(err, HR_ERR_IO, "%s: cannot seek to %llu: %s", path, (unsigned long long)offset, strerror(e));
    }
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    hr_input *in = input_new(path, HR_CODEC_PLAIN);
    in->fd = fd;
    *out = in;
    return 0;
}

int hr_input_open(const char *path, hr_input **out, hr_error *err)
{
    hr_codec codec;
    HR_TRY(hr_input_codec(path, &codec, err));
    if (codec == HR_CODEC_PLAIN) return hr_input_open_at(path, 0, out, err);
    hr_input *in = input_new(path, codec);
    if (codec == HR_CODEC_ZSTD) {
        in->fd = open(path, O_RDONLY);
        if (in->fd < 0) {
            hr_input_close(in);
            return hr_error_set(err, HR_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        }
        in->dctx = ZSTD_createDCtx();
        in->zbuf = hr_malloc(ZBUF);
        in->zin.src = in->zbuf;
    } else {
        in->ar = archive_read_new();
        archive_read_support_filter_all(in->ar);
        archive_read_support_format_tar(in->ar); archive_read_support_format_zip(in->ar); archive_read_support_format_7zip(in->ar); archive_read_support_format_cpio(in->ar); /* not _all: its mtree reader claims plain text */
        archive_read_support_format_raw(in->ar); /* a bare .gz / .xz is one raw member */
        if (archive_read_open_filename(in->ar, path, 1 << 20) != ARCHIVE_OK) {
            int rc = hr_error_set(err, HR_ERR_IO, "%s: cannot open archive: %s", path, archive_error_string(in->ar));
            hr_input_close(in);
            return rc;
        }
    }
    *out = in;
    return 0;
}

int hr_input_next(hr_input *in, const char **name, hr_error *err)
{
    in->at_eof = 0;
    if (in->codec != HR_CODEC_ARCHIVE) {
        if (in->members_done) return 0;
        in->members_done = 1;
        snprintf(in->name, sizeof in->name, "%s", in->path);
        *name = in->name;
        return 1;
    }
    for (;;) {
        struct archive_entry *e;
        int r = archive_read_next_header(in->ar, &e);
        if (r == ARCHIVE_EOF) return 0;
        if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
            return hr_error_set(err, HR_ERR_IO, "%s: corrupt or truncated archive: %s", in->path,
                                archive_error_string(in->ar));
        /* The raw format has no real entries: name the member after the file. */
        if (archive_format(in->ar) == ARCHIVE_FORMAT_RAW) {
            snprintf(in->name, sizeof in->name, "%s", in->path);
        } else {
            if (archive_entry_filetype(e) != AE_IFREG) continue;
            snprintf(in->name, sizeof in->name, "%s:%s", in->path, archive_entry_pathname(e));
        }
        *name = in->name;
        return 1;
    }
}

static long read_zstd(hr_input *in, void *buf, size_t n, hr_error *err)
{
    ZSTD_outBuffer zo = { buf, n, 0 };
    while (zo.pos == 0) {
        if (in->zin.pos == in->zin.size) {
            ssize_t k = read(in->fd, in->zbuf, ZBUF);
            if (k < 0) {
                if (errno == EINTR) continue;
                return hr_error_set(err, HR_ERR_IO, "%s: read failed: %s", in->path, strerror(errno));
            }
            if (k == 0) {
                /* End of file: the last frame must be complete. */
                if (in->zsaw_data && in->zlast != 0)
                    return hr_error_set(err, HR_ERR_IO, "%s: truncated zstd stream (file ends inside a frame)", in->path);
                if (!in->zsaw_data)
                    return hr_error_set(err, HR_ERR_IO, "%s: empty zstd stream", in->path);
                return 0;
            }
            in->zin.size = (size_t)k;
            in->zin.pos = 0;
            in->zsaw_data = 1;
        }
        size_t r = ZSTD_decompressStream(in->dctx, &zo, &in->zin);
        if (ZSTD_isError(r))
            return hr_error_set(err, HR_ERR_IO, "%s: corrupt zstd stream: %s", in->path, ZSTD_getErrorName(r));
        in->zlast = r;
    }
    return (long)zo.pos;
}

long hr_input_read(hr_input *in, void *buf, size_t n, hr_error *err)
{
    if (in->at_eof || n == 0) return 0;
    long got;
    if (in->codec == HR_CODEC_PLAIN) {
        for (;;) {
            ssize_t k = read(in->fd, buf, n);
            if (k < 0 && errno == EINTR) continue;
            if (k < 0) return hr_error_set(err, HR_ERR_IO, "%s: read failed: %s", in->path, strerror(errno));
            got = (long)k;
            break;
        }
    } else if (in->codec == HR_CODEC_ZSTD) {
        got = read_zstd(in, buf, n, err);
        if (got < 0) return got;
    } else {
        la_ssize_t k = archive_read_data(in->ar, buf, n);
        if (k < 0)
            return hr_error_set(err, HR_ERR_IO, "%s: corrupt or truncated compressed data: %s", in->name,
                                archive_error_string(in->ar));
        got = (long)k;
    }
    if (got == 0) in->at_eof = 1;
    return got;
}

void hr_input_close(hr_input *in)
{
    if (!in) return;
    if (in->fd >= 0) close(in->fd);
    if (in->dctx) ZSTD_freeDCtx(in->dctx);
    if (in->ar) archive_read_free(in->ar);
    hr_free(in->zbuf);
    hr_free(in->path);
    hr_free(in);
}

int hr_input_slurp(const char *path, void **data, size_t *len, hr_error *err)
{
    hr_input *in;
    HR_TRY(hr_input_open(path, &in, err));
    const char *name;
    int rc = hr_input_next(in, &name, err);
    if (rc <= 0) {
        hr_input_close(in);
        return rc < 0 ? rc : hr_error_set(err, HR_ERR_FORMAT, "%s: no data", path);
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = hr_malloc(cap);
    for (;;) {
        if (cap - n < (1 << 16)) {
            cap *= 2;
            buf = hr_realloc(buf, cap);
        }
        long k = hr_input_read(in, buf + n, cap - n, err);
        if (k < 0) {
            hr_free(buf);
            hr_input_close(in);
            return (int)k;
        }
        if (k == 0) break;
        n += (size_t)k;
    }
    hr_input_close(in);
    *data = buf;
    *len = n;
    return 0;
}
