#include "io/input.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "io/decode.h"

struct hr_input {
    hr_codec codec;
    char *path;
    int fd;                  /* plain */
    hr_decoder *dec;         /* zstd, gzip, bzip2, xz */
    struct archive *ar;      /* containers: read from the file, or from dec (a tar inside) */
    int members_done;        /* single member: handed out */
    int at_eof;              /* end of current member reached */
    char *peek;              /* decoded bytes read to look for a tar header, handed out first */
    size_t npeek, ppeek;
    char *abuf;              /* libarchive's buffer when it reads from dec */
    int dec_rc;              /* an error of dec met inside libarchive's read callback */
    hr_error dec_err;
    uint64_t file_bytes;     /* size on disk */
    uint64_t out_bytes;      /* decompressed bytes handed out, every member */
    double max_ratio;
    uint64_t max_bytes;
    char name[4096];
};

#define PEEK 512
#define ABUF (1 << 20)

int hr_input_codec(const char *path, hr_codec *codec, hr_error *err)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) return hr_error_set(err, HR_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    unsigned char m[512];
    ssize_t n = read(fd, m, sizeof m);
    close(fd);
    if (n < 0) return hr_error_set(err, HR_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
    *codec = HR_CODEC_PLAIN;
    if (n >= 4 && m[0] == 0x28 && m[1] == 0xB5 && m[2] == 0x2F && m[3] == 0xFD) *codec = HR_CODEC_ZSTD;
    else if (n >= 2 && m[0] == 0x1f && m[1] == 0x8b) *codec = HR_CODEC_GZIP;
    else if (n >= 3 && memcmp(m, "BZh", 3) == 0) *codec = HR_CODEC_BZIP2;
    else if (n >= 6 && memcmp(m, "\xfd" "7zXZ\0", 6) == 0) *codec = HR_CODEC_XZ;
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

/* libarchive's error text, never NULL (a cut file can leave it unset). */
static const char *ar_msg(struct archive *a)
{
    const char *m = archive_error_string(a);
    return m ? m : "unexpected end of the archive data (is the file truncated?)";
}

/* libarchive reads a tar from the decoder: the peeked bytes first, then decoded blocks. */
static la_ssize_t ar_read_dec(struct archive *a, void *client, const void **buf)
{
    hr_input *in = client;
    if (in->ppeek < in->npeek) {
        *buf = in->peek + in->ppeek;
        la_ssize_t n = (la_ssize_t)(in->npeek - in->ppeek);
        in->ppeek = in->npeek;
        return n;
    }
    long k = hr_decoder_read(in->dec, in->abuf, ABUF, &in->dec_err);
    if (k < 0) {
        in->dec_rc = (int)k;
        archive_set_error(a, EIO, "%s", in->dec_err.msg);
        return -1;
    }
    *buf = in->abuf;
    return (la_ssize_t)k;
}

/* The error of an archive call: the decoder's own message when it caused it. */
static int ar_fail(hr_input *in, hr_error *err, int in_data)
{
    if (in->dec_rc) return hr_error_set(err, in->dec_rc, "%s", in->dec_err.msg);
    if (in_data) return hr_error_set(err, HR_ERR_FORMAT, "%s: corrupt or truncated compressed data: %s", in->name, ar_msg(in->ar));
    return hr_error_set(err, HR_ERR_FORMAT, "%s: corrupt or truncated archive: %s", in->path, ar_msg(in->ar));
}

/* A zip is read from its central directory at the end, so its end record must be there: a
 * file cut short would otherwise lose the entries after the cut (or be read in a degraded
 * streaming mode), and bytes appended after the record would be ignored. */
static int zip_check_end(const char *path, uint64_t size, hr_error *err)
{
    size_t tail = size < 65557 ? (size_t)size : 65557;   /* record (22) + longest comment */
    int fd = open(path, O_RDONLY);
    if (fd < 0) return hr_error_set(err, HR_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    unsigned char *b = hr_malloc(tail + 1);
    ssize_t n = pread(fd, b, tail, (off_t)(size - tail));
    close(fd);
    if (n != (ssize_t)tail) {
        hr_free(b);
        return hr_error_set(err, HR_ERR_IO, "%s: cannot read the end of the zip archive", path);
    }
    long last = -1;
    for (long i = (long)tail - 22; i >= 0; i--)
        if (b[i] == 'P' && b[i + 1] == 'K' && b[i + 2] == 5 && b[i + 3] == 6) {
            uint64_t end = (uint64_t)i + 22 + (uint64_t)(b[i + 20] | b[i + 21] << 8);   /* + comment */
            if (end == tail) {
                hr_free(b);
                return 0;
            }
            if (last < 0) last = (long)end;
        }
    hr_free(b);
    if (last < 0)
        return hr_error_set(err, HR_ERR_FORMAT, "%s: truncated zip archive: no end-of-central-directory record (the file is cut short?)", path);
    if ((uint64_t)last > tail)
        return hr_error_set(err, HR_ERR_FORMAT, "%s: truncated zip archive: the end record's comment runs past the end of the file", path);
    return hr_error_set(err, HR_ERR_FORMAT, "%s: %llu bytes of trailing data after the end of the zip archive (a damaged or appended file?)",
                        path, (unsigned long long)(tail - (uint64_t)last));
}

static void ar_support(struct archive *a, int from_file)
{
    if (from_file) {
        archive_read_support_filter_all(a);
        archive_read_support_format_zip(a);
        archive_read_support_format_7zip(a);
        archive_read_support_format_cpio(a);
        archive_read_support_format_raw(a);   /* a bare .lz4 is one raw member */
    }
    archive_read_support_format_tar(a);       /* not _all: its mtree reader claims plain text */
}

int hr_input_open(const char *path, hr_input **out, hr_error *err)
{
    hr_codec codec;
    HR_TRY(hr_input_codec(path, &codec, err));
    if (codec == HR_CODEC_PLAIN) return hr_input_open_at(path, 0, out, err);
    hr_input *in = input_new(path, codec);
    struct stat st;
    if (stat(path, &st) == 0) in->file_bytes = (uint64_t)st.st_size;
    int rc = 0;
    if (codec != HR_CODEC_ARCHIVE) {
        hr_dec_kind kind = codec == HR_CODEC_ZSTD ? HR_DEC_ZSTD : codec == HR_CODEC_GZIP ? HR_DEC_GZIP
                         : codec == HR_CODEC_BZIP2 ? HR_DEC_BZIP2 : HR_DEC_XZ;
        rc = hr_decoder_open(path, kind, &in->dec, err);
        /* the first block tells a tar inside (tar.gz, tar.zst, ...) from a compressed text */
        in->peek = hr_malloc(PEEK);
        while (rc == 0 && in->npeek < PEEK) {
            long k = hr_decoder_read(in->dec, in->peek + in->npeek, PEEK - in->npeek, err);
            if (k < 0) rc = (int)k;
            if (k <= 0) break;
            in->npeek += (size_t)k;
        }
        if (rc == 0 && in->npeek >= 262 && memcmp(in->peek + 257, "ustar", 5) == 0) {
            in->ar = archive_read_new();
            in->abuf = hr_malloc(ABUF);
            ar_support(in->ar, 0);
            if (archive_read_open(in->ar, in, NULL, ar_read_dec, NULL) != ARCHIVE_OK)
                rc = in->dec_rc ? ar_fail(in, err, 0) : hr_error_set(err, HR_ERR_IO, "%s: cannot open the tar inside: %s", path, ar_msg(in->ar));
        }
    } else {
        if (st.st_size >= 4) {
            char m[4] = { 0 };
            int fd = open(path, O_RDONLY);
            if (fd >= 0 && read(fd, m, 4) == 4 && m[0] == 'P' && m[1] == 'K') rc = zip_check_end(path, in->file_bytes, err);
            if (fd >= 0) close(fd);
        }
        if (rc == 0) {
            in->ar = archive_read_new();
            ar_support(in->ar, 1);
            if (archive_read_open_filename(in->ar, path, 1 << 20) != ARCHIVE_OK)
                rc = hr_error_set(err, HR_ERR_IO, "%s: cannot open archive: %s", path, ar_msg(in->ar));
        }
    }
    if (rc < 0) {
        hr_input_close(in);
        return rc;
    }
    *out = in;
    return 0;
}

/* After a tar's last entry: read the decoder to its end, so the stream's own checks (trailer,
 * CRC, trailing bytes) run; what the tar leaves after its end blocks is padding. */
static int drain(hr_input *in, hr_error *err)
{
    if (in->dec_rc) return hr_error_set(err, in->dec_rc, "%s", in->dec_err.msg);
    for (;;) {
        long k = hr_decoder_read(in->dec, in->abuf, ABUF, err);
        if (k <= 0) return (int)k;
    }
}

int hr_input_next(hr_input *in, const char **name, hr_error *err)
{
    in->at_eof = 0;
    if (!in->ar) {
        if (in->members_done) return 0;
        in->members_done = 1;
        snprintf(in->name, sizeof in->name, "%s", in->path);
        *name = in->name;
        return 1;
    }
    for (;;) {
        struct archive_entry *e;
        int r = archive_read_next_header(in->ar, &e);
        if (r == ARCHIVE_EOF) return in->dec ? drain(in, err) : 0;
        if (r != ARCHIVE_OK && r != ARCHIVE_WARN) return ar_fail(in, err, 0);
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

/* The expansion guard over what a compressed input has handed out so far. */
static long guard(hr_input *in, long got, hr_error *err)
{
    in->out_bytes += (uint64_t)got;
    if (in->max_bytes && in->out_bytes > in->max_bytes)
        return hr_error_set(err, HR_ERR_FORMAT, "%s: decompresses to more than %llu bytes, the limit (--max-input-bytes; 0 = no limit)",
                            in->path, (unsigned long long)in->max_bytes);
    if (in->max_ratio > 0 && in->out_bytes > HR_INPUT_RATIO_FLOOR) {
        uint64_t cin = in->dec ? hr_decoder_in_bytes(in->dec) : in->file_bytes;
        if ((double)in->out_bytes > in->max_ratio * (double)(cin ? cin : 1))
            return hr_error_set(err, HR_ERR_FORMAT,
                                "%s: expands more than %g times (%llu bytes out of the first %llu compressed bytes): a compression "
                                "bomb? Real logs compress 10-30x; if this data is genuine, raise --max-expansion (0 = no limit)",
                                in->path, in->max_ratio, (unsigned long long)in->out_bytes, (unsigned long long)cin);
    }
    return got;
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
    } else if (in->ar) {
        la_ssize_t k = archive_read_data(in->ar, buf, n);
        if (k < 0) return ar_fail(in, err, 1);
        got = (long)k;
    } else if (in->ppeek < in->npeek) {
        got = (long)(in->npeek - in->ppeek < n ? in->npeek - in->ppeek : n);
        memcpy(buf, in->peek + in->ppeek, (size_t)got);
        in->ppeek += (size_t)got;
    } else {
        got = hr_decoder_read(in->dec, buf, n, err);
        if (got < 0) return got;
    }
    if (got == 0) in->at_eof = 1;
    else if (in->codec != HR_CODEC_PLAIN) got = guard(in, got, err);
    return got;
}

void hr_input_limit(hr_input *in, double max_ratio, uint64_t max_bytes)
{
    in->max_ratio = max_ratio;
    in->max_bytes = max_bytes;
}

void hr_input_close(hr_input *in)
{
    if (!in) return;
    if (in->fd >= 0) close(in->fd);
    if (in->ar) archive_read_free(in->ar);
    hr_decoder_close(in->dec);
    hr_free(in->peek);
    hr_free(in->abuf);
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
