/* tests/unit/test_io_streams.c — io/ byte streams: the line reader (endings, long lines, byte
 * ranges: every line read exactly once across ranges), input (codec sniffing, zstd and
 * libarchive members, truncation) and output (atomic commit, abort, checksums). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "core/alloc.h"
#include "core/hash.h"
#include "core/rng.h"
#include "io/input.h"
#include "io/lines.h"
#include "io/output.h"

#include "tests/unit/testutil.h"

/* ---- lines ------------------------------------------------------------------------------- */

/* The reference split: lines without "\n" and without one trailing "\r"; a last line without
 * a newline counts, an empty tail does not.  Lines are joined with '\n' into *out. */
static size_t ref_lines(const char *s, size_t n, char **out, size_t *out_len)
{
    char *o = hr_malloc(n + 1);
    size_t k = 0, count = 0, beg = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] != '\n') continue;
        if (i == n && beg == n) break;
        size_t e = i;
        if (e > beg && s[e - 1] == '\r') e--;
        memcpy(o + k, s + beg, e - beg);
        k += e - beg;
        o[k++] = '\n';
        count++;
        beg = i + 1;
    }
    *out = o;
    *out_len = k;
    return count;
}

/* Read [start, start+len) of a plain file (len = 0: whole file, unranged); append lines joined
 * with '\n' to buf; check line numbers count from 1.  Returns the number of lines. */
static size_t read_range(const char *path, uint64_t start, uint64_t len, int ranged, char **buf, size_t *blen, size_t *bcap)
{
    hr_error err = { 0 };
    hr_input *in;
    assert_int_equal(hr_input_open_at(path, start ? start - 1 : 0, &in, &err), 0);
    const char *name;
    assert_int_equal(hr_input_next(in, &name, &err), 1);
    hr_lines *l = hr_lines_new(in);
    if (ranged) hr_lines_set_range(l, start, len);
    char *line;
    size_t n, count = 0;
    int rc;
    while ((rc = hr_lines_next(l, &line, &n, &err)) == 1) {
        count++;
        assert_int_equal(hr_lines_lineno(l), count);
        assert_int_equal(strlen(line), n);   /* NUL-terminated, no embedded NUL in these files */
        if (*blen + n + 1 > *bcap) {
            *bcap = (*blen + n + 1) * 2;
            *buf = hr_realloc(*buf, *bcap);
        }
        memcpy(*buf + *blen, line, n);
        (*buf)[*blen + n] = '\n';
        *blen += n + 1;
    }
    assert_int_equal(rc, 0);
    hr_lines_free(l);
    hr_input_close(in);
    return count;
}

static void expect_lines(const char *name, const char *content, size_t n)
{
    const char *path = hr_test_path(name);
    hr_test_write_file(path, content, n);
    char *want, *got = NULL;
    size_t wlen, glen = 0, gcap = 0;
    size_t wn = ref_lines(content, n, &want, &wlen);
    size_t gn = read_range(path, 0, 0, 0, &got, &glen, &gcap);
    assert_int_equal(gn, wn);
    assert_int_equal(glen, wlen);
    if (wlen) assert_memory_equal(got, want, wlen);
    hr_free(want);
    hr_free(got);
}

static void test_lines_endings(void **state)
{
    (void)state;
    expect_lines("lf.txt", "a,b\nc,d\n", 8);
    expect_lines("crlf.txt", "a,b\r\nc,d\r\n\r\ne\r\n", 15);
    expect_lines("nofinal.txt", "a\nb\nlast", 8);
    expect_lines("nofinal_cr.txt", "a\r\nlast\r", 8);
    expect_lines("empty.txt", "", 0);
    expect_lines("one_nl.txt", "\n", 1);
    expect_lines("blanks.txt", "\n\n\nx\n\n", 6);
    expect_lines("inner_cr.txt", "a\rb\n\r\r\n", 7);   /* only one trailing CR is an ending */
    /* exact counts, independent of the reference splitter */
    char *buf = NULL;
    size_t blen = 0, bcap = 0;
    assert_int_equal(read_range(hr_test_path("crlf.txt"), 0, 0, 0, &buf, &blen, &bcap), 4);
    assert_int_equal(blen, 11);
    assert_memory_equal(buf, "a,b\nc,d\n\ne\n", 11);
    blen = 0;
    assert_int_equal(read_range(hr_test_path("empty.txt"), 0, 0, 0, &buf, &blen, &bcap), 0);
    assert_int_equal(read_range(hr_test_path("nofinal.txt"), 0, 0, 0, &buf, &blen, &bcap), 3);
    hr_free(buf);
}

/* A UTF-8 byte-order mark starts a member, not the first id: dropped, also when the file is
 * read in byte ranges (only the range at offset 0 sees it) and in each archive member. */
static void test_lines_bom(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t blen = 0, bcap = 0;
    hr_test_write_file(hr_test_path("bom.csv"), "\xEF\xBB\xBF" "1,10\n\xEF\xBB\xBF" "2,20\n", 16);
    assert_int_equal(read_range(hr_test_path("bom.csv"), 0, 0, 0, &buf, &blen, &bcap), 2);
    assert_int_equal(blen, 5 + 8);
    assert_memory_equal(buf, "1,10\n\xEF\xBB\xBF" "2,20\n", 13);   /* only at the start */
    blen = 0;
    assert_int_equal(read_range(hr_test_path("bom.csv"), 0, 4, 1, &buf, &blen, &bcap), 1);
    assert_int_equal(read_range(hr_test_path("bom.csv"), 4, 12, 1, &buf, &blen, &bcap), 1);
    assert_memory_equal(buf, "1,10\n\xEF\xBB\xBF" "2,20\n", 13);
    blen = 0;
    hr_test_write_file(hr_test_path("bom_only.csv"), "\xEF\xBB\xBF\r\nx\n", 7);
    assert_int_equal(read_range(hr_test_path("bom_only.csv"), 0, 0, 0, &buf, &blen, &bcap), 2);
    assert_memory_equal(buf, "\nx\n", 3);
    /* each member of an archive: a tar of two BOM'd files */
    const char *tar = hr_test_path("bom.tar");
    struct archive *a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    assert_int_equal(archive_write_open_filename(a, tar), ARCHIVE_OK);
    for (int k = 0; k < 2; k++) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, k ? "b.csv" : "a.csv");
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_entry_set_size(e, 8);
        archive_write_header(a, e);
        archive_write_data(a, k ? "\xEF\xBB\xBF" "b,2\n" : "\xEF\xBB\xBF" "a,1\n", 8);
        archive_entry_free(e);
    }
    archive_write_close(a);
    archive_write_free(a);
    hr_error err = { 0 };
    hr_input *in;
    assert_int_equal(hr_input_open(tar, &in, &err), 0);
    hr_lines *l = hr_lines_new(in);
    const char *name;
    char *line;
    size_t n;
    for (int k = 0; k < 2; k++) {
        assert_int_equal(hr_input_next(in, &name, &err), 1);
        hr_lines_reset(l);
        assert_int_equal(hr_lines_next(l, &line, &n, &err), 1);
        assert_string_equal(line, k ? "b,2" : "a,1");
    }
    hr_lines_free(l);
    hr_input_close(in);
    hr_free(buf);
}

static void test_lines_very_long(void **state)
{
    (void)state;
    /* a 3 MiB line between short ones (the reader starts with a 1 MiB buffer) */
    size_t big = 3u << 20, n = 0;
    char *s = hr_malloc(big + 64);
    n += (size_t)sprintf(s, "first\r\n");
    for (size_t k = 0; k < big; k++) s[n++] = (char)('a' + k % 26);
    n += (size_t)sprintf(s + n, "\r\nlast");
    expect_lines("long.txt", s, n);
    char *buf = NULL;
    size_t blen = 0, bcap = 0;
    assert_int_equal(read_range(hr_test_path("long.txt"), 0, 0, 0, &buf, &blen, &bcap), 3);
    assert_int_equal(blen, 6 + big + 1 + 5);
    /* ranges cut inside the long line: it belongs to the range where it starts */
    blen = 0;
    assert_int_equal(read_range(hr_test_path("long.txt"), 0, 100, 1, &buf, &blen, &bcap), 2);
    assert_int_equal(read_range(hr_test_path("long.txt"), 100, 1 << 20, 1, &buf, &blen, &bcap), 0);
    assert_int_equal(read_range(hr_test_path("long.txt"), 100 + (1 << 20), n - 100 - (1 << 20), 1, &buf, &blen, &bcap), 1);
    assert_int_equal(blen, 6 + big + 1 + 5);
    hr_free(buf);
    hr_free(s);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static void test_lines_byte_ranges(void **state)
{
    (void)state;
    const uint64_t seed = hr_test_seed();
    hr_rng r = hr_rng_stream(seed, 10, 0);
    for (int file = 0; file < 6; file++) {
        /* random lines: empty ones, CRLF and LF, a few long ones, final newline or not */
        size_t cap = 1 << 20, n = 0;
        char *s = hr_malloc(cap);
        int lines = 200 + (int)hr_rng_below(&r, 2000);
        for (int k = 0; k < lines; k++) {
            size_t len = hr_rng_below(&r, 6) == 0 ? 0 : hr_rng_below(&r, 50) == 0 ? 2000 + hr_rng_below(&r, 20000) : hr_rng_below(&r, 60);
            if (n + len + 2 > cap) {
                cap = (n + len + 2) * 2;
                s = hr_realloc(s, cap);
            }
            for (size_t j = 0; j < len; j++) s[n++] = "abc,xyz0123456789"[hr_rng_below(&r, 17)];
            if (hr_rng_below(&r, 3) == 0) s[n++] = '\r';
            if (k < lines - 1 || hr_rng_below(&r, 2)) s[n++] = '\n';
        }
        char name[32];
        snprintf(name, sizeof name, "ranges%d.txt", file);
        const char *path = hr_test_path(name);
        hr_test_write_file(path, s, n);
        char *want;
        size_t wlen;
        size_t wn = ref_lines(s, n, &want, &wlen);
        /* line start offsets, to aim cuts at the delicate places */
        uint64_t *starts = hr_malloc((n + 1) * sizeof *starts);
        size_t ns = 0;
        starts[ns++] = 0;
        for (size_t i = 0; i + 1 < n; i++)
            if (s[i] == '\n') starts[ns++] = i + 1;
        for (int trial = 0; trial < 60; trial++) {
            int k = 1 + (int)hr_rng_below(&r, 24);
            uint64_t *cut = hr_malloc((size_t)(k + 2) * sizeof *cut);
            int m = 0;
            cut[m++] = 0;
            for (int j = 0; j < k; j++) {
                uint64_t c;
                switch (hr_rng_below(&r, 4)) {
                case 0: c = starts[hr_rng_below(&r, ns)]; break;              /* a line start */
                case 1: c = starts[hr_rng_below(&r, ns)] + 1; break;          /* just after one */
                case 2: c = starts[hr_rng_below(&r, ns)]; c = c ? c - 1 : 1; break;  /* on a '\n' */
                default: c = 1 + hr_rng_below(&r, n > 1 ? n - 1 : 1); break;  /* anywhere */
                }
                if (c > 0 && c < n) cut[m++] = c;
            }
            cut[m++] = n;
            qsort(cut, (size_t)m, sizeof *cut, cmp_u64);
            char *got = NULL;
            size_t glen = 0, gcap = 0, gn = 0;
            for (int j = 0; j + 1 < m; j++) {
                if (cut[j + 1] == cut[j]) continue;   /* ranges are never empty */
                gn += read_range(path, cut[j], cut[j + 1] - cut[j], 1, &got, &glen, &gcap);
            }
            if (gn != wn || glen != wlen || (wlen && memcmp(got, want, wlen) != 0))
                fail_msg("seed %llu file %d trial %d: %zu lines read across %d ranges, expected %zu", (unsigned long long)seed,
                         file, trial, gn, m - 1, wn);
            hr_free(got);
            hr_free(cut);
        }
        hr_free(starts);
        hr_free(want);
        hr_free(s);
    }
}

/* ---- input ------------------------------------------------------------------------------- */

/* Every member of PATH: names joined by '|' into names, contents concatenated into data. */
static int read_members(const char *path, char *names, size_t ncap, char **data, size_t *dlen, hr_error *err)
{
    hr_input *in;
    *data = NULL;
    *dlen = 0;
    int rc = hr_input_open(path, &in, err);
    if (rc < 0) return rc;
    const char *name;
    size_t cap = 1 << 16;
    *data = hr_malloc(cap);
    *dlen = 0;
    names[0] = '\0';
    while ((rc = hr_input_next(in, &name, err)) == 1) {
        if (names[0]) strncat(names, "|", ncap - strlen(names) - 1);
        strncat(names, name, ncap - strlen(names) - 1);
        for (;;) {
            if (cap - *dlen < 4096) {
                cap *= 2;
                *data = hr_realloc(*data, cap);
            }
            long k = hr_input_read(in, *data + *dlen, cap - *dlen, err);
            if (k < 0) {
                hr_input_close(in);
                return (int)k;
            }
            if (k == 0) break;
            *dlen += (size_t)k;
        }
    }
    hr_input_close(in);
    return rc;
}

static void test_input_codec_sniff(void **state)
{
    (void)state;
    static const struct { const char *name; const char *magic; size_t n; hr_codec want; } cases[] = {
        { "z.bin", "\x28\xb5\x2f\xfd\x00\x00", 6, HR_CODEC_ZSTD },
        { "g.bin", "\x1f\x8b\x08\x00", 4, HR_CODEC_GZIP },
        { "b.bin", "BZh91AY", 7, HR_CODEC_BZIP2 },
        { "x.bin", "\xfd" "7zXZ\0\0", 7, HR_CODEC_XZ },
        { "zip.bin", "PK\x03\x04", 4, HR_CODEC_ARCHIVE },
        { "ezip.bin", "PK\x05\x06", 4, HR_CODEC_ARCHIVE },
        { "lz4.bin", "\x04\x22\x4d\x18", 4, HR_CODEC_ARCHIVE },
        { "7z.bin", "7z\xbc\xaf\x27\x1c", 6, HR_CODEC_ARCHIVE },
        { "p.csv", "user,item,rating\n1,2,3\n", 23, HR_CODEC_PLAIN },
        { "e.csv", "", 0, HR_CODEC_PLAIN },
        { "short.bin", "\x28\xb5", 2, HR_CODEC_PLAIN },
        { "pk.csv", "PK,item\n", 8, HR_CODEC_PLAIN },
    };
    hr_error err = { 0 };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        hr_test_write_file(hr_test_path(cases[k].name), cases[k].magic, cases[k].n);
        hr_codec c = (hr_codec)99;
        assert_int_equal(hr_input_codec(hr_test_path(cases[k].name), &c, &err), 0);
        if (c != cases[k].want) fail_msg("%s: codec %d, expected %d", cases[k].name, c, cases[k].want);
    }
    /* tar: "ustar" at offset 257 of the first block, whatever the name says */
    char tar[512] = "data.csv";
    memcpy(tar + 257, "ustar", 5);
    hr_test_write_file(hr_test_path("t.csv"), tar, sizeof tar);
    hr_codec c;
    assert_int_equal(hr_input_codec(hr_test_path("t.csv"), &c, &err), 0);
    assert_int_equal(c, HR_CODEC_ARCHIVE);
    /* a missing file is an I/O error naming it */
    assert_int_equal(hr_input_codec(hr_test_path("nope.csv"), &c, &err), HR_ERR_IO);
    assert_non_null(strstr(err.msg, "nope.csv"));
    hr_input *in;
    assert_int_equal(hr_input_open(hr_test_path("nope.csv"), &in, &err), HR_ERR_IO);
}

static const char CSV[] = "user,item,rating,timestamp\nu1,i1,4,100\nu2,\"i,2\",3.5,200\n";

static void test_input_zstd(void **state)
{
    (void)state;
    hr_error err = { 0 };
    char names[1024], *data;
    size_t n, zcap = ZSTD_compressBound(sizeof CSV) * 2;
    char *z = hr_malloc(zcap);
    size_t z1 = ZSTD_compress(z, zcap, CSV, sizeof CSV - 1, 3);
    assert_false(ZSTD_isError(z1));
    hr_test_write_file(hr_test_path("one.csv.zst"), z, z1);
    assert_int_equal(read_members(hr_test_path("one.csv.zst"), names, sizeof names, &data, &n, &err), 0);
    assert_string_equal(names, hr_test_path("one.csv.zst"));   /* one member, named after the file */
    assert_int_equal(n, sizeof CSV - 1);
    assert_memory_equal(data, CSV, n);
    hr_free(data);
    /* two frames back to back (zstd -c a b, or appended logs) read as one stream */
    size_t z2 = ZSTD_compress(z + z1, zcap - z1, CSV, sizeof CSV - 1, 1);
    assert_false(ZSTD_isError(z2));
    hr_test_write_file(hr_test_path("two.csv.zst"), z, z1 + z2);
    assert_int_equal(read_members(hr_test_path("two.csv.zst"), names, sizeof names, &data, &n, &err), 0);
    assert_int_equal(n, 2 * (sizeof CSV - 1));
    assert_memory_equal(data + sizeof CSV - 1, CSV, sizeof CSV - 1);
    hr_free(data);
    /* truncated: an error naming the file, not a short read */
    hr_test_write_file(hr_test_path("cut.csv.zst"), z, z1 - 3);
    assert_int_equal(read_members(hr_test_path("cut.csv.zst"), names, sizeof names, &data, &n, &err), HR_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "cut.csv.zst"));
    assert_non_null(strstr(err.msg, "truncated"));
    hr_free(data);
    /* corrupt: flip a byte of a frame that carries a content checksum (as hpcrec writes them) */
    ZSTD_CCtx *cc = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, 1);
    z1 = ZSTD_compress2(cc, z, zcap, CSV, sizeof CSV - 1);
    ZSTD_freeCCtx(cc);
    assert_false(ZSTD_isError(z1));
    z[z1 / 2] ^= 0x55;
    hr_test_write_file(hr_test_path("bad.csv.zst"), z, z1);
    assert_true(read_members(hr_test_path("bad.csv.zst"), names, sizeof names, &data, &n, &err) < 0);
    assert_non_null(strstr(err.msg, "bad.csv.zst"));
    hr_free(data);
    /* slurp: plain and zstd */
    void *s;
    size_t sl;
    assert_int_equal(hr_input_slurp(hr_test_path("one.csv.zst"), &s, &sl, &err), 0);
    assert_int_equal(sl, sizeof CSV - 1);
    assert_memory_equal(s, CSV, sl);
    hr_free(s);
    hr_test_write_file(hr_test_path("plain.csv"), CSV, sizeof CSV - 1);
    assert_int_equal(hr_input_slurp(hr_test_path("plain.csv"), &s, &sl, &err), 0);
    assert_int_equal(sl, sizeof CSV - 1);
    hr_free(s);
    /* open_at: a plain stream from an offset */
    hr_input *in;
    const char *name;
    char buf[64];
    assert_int_equal(hr_input_open_at(hr_test_path("plain.csv"), 27, &in, &err), 0);
    assert_int_equal(hr_input_next(in, &name, &err), 1);
    long k = hr_input_read(in, buf, 11, &err);
    assert_int_equal(k, 11);
    assert_memory_equal(buf, "u1,i1,4,100", 11);
    assert_int_equal(hr_input_next(in, &name, &err), 0);
    hr_input_close(in);
    hr_free(z);
}

/* Write an archive with libarchive: format "raw" (bare compressed file) or "tar". */
static void write_archive(const char *path, int tar, int gz, const char *const *names, const char *const *bodies, int n)
{
    struct archive *a = archive_write_new();
    if (gz) assert_int_equal(archive_write_add_filter_gzip(a), ARCHIVE_OK);
    else assert_int_equal(archive_write_add_filter_bzip2(a), ARCHIVE_OK);
    assert_int_equal(tar ? archive_write_set_format_pax_restricted(a) : archive_write_set_format_raw(a), ARCHIVE_OK);
    assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
    for (int k = 0; k < n; k++) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, names[k]);
        int dir = names[k][strlen(names[k]) - 1] == '/';
        archive_entry_set_filetype(e, dir ? AE_IFDIR : AE_IFREG);
        archive_entry_set_perm(e, dir ? 0755 : 0644);
        archive_entry_set_size(e, dir ? 0 : (la_int64_t)strlen(bodies[k]));
        assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
        if (!dir) assert_int_equal(archive_write_data(a, bodies[k], strlen(bodies[k])), (la_ssize_t)strlen(bodies[k]));
        archive_entry_free(e);
    }
    assert_int_equal(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
}

static void test_input_archives(void **state)
{
    (void)state;
    hr_error err = { 0 };
    char names[2048], want[2048], *data;
    size_t n;
    /* a bare .gz / .bz2 of CSV text: one member named after the file, the whole text */
    const char *nm[] = { "data" }, *body[] = { CSV };
    for (int gz = 0; gz < 2; gz++) {
        const char *path = hr_test_path(gz ? "bare.csv.gz" : "bare.csv.bz2");
        write_archive(path, 0, gz, nm, body, 1);
        hr_codec c;
        assert_int_equal(hr_input_codec(path, &c, &err), 0);
        assert_int_equal(c, gz ? HR_CODEC_GZIP : HR_CODEC_BZIP2);   /* decoded by io/decode.c */
        int rc = read_members(path, names, sizeof names, &data, &n, &err);
        if (rc != 0) fail_msg("%s: %s", path, err.msg);
        assert_string_equal(names, path);
        if (n != sizeof CSV - 1 || memcmp(data, CSV, n) != 0)
            fail_msg("%s: read %zu bytes as members '%s', expected the %zu bytes of text", path, n, names, sizeof CSV - 1);
        hr_free(data);
    }
    /* tar.gz: regular entries in archive order, "archive:entry" names; directories skipped */
    const char *tn[] = { "day1/", "day1/part.csv", "b.csv" }, *tb[] = { "", "u1,i1,1,1\n", "u2,i2,2,2\n" };
    write_archive(hr_test_path("t.tar.gz"), 1, 1, tn, tb, 3);
    assert_int_equal(read_members(hr_test_path("t.tar.gz"), names, sizeof names, &data, &n, &err), 0);
    snprintf(want, sizeof want, "%s:day1/part.csv|%s:b.csv", hr_test_path("t.tar.gz"), hr_test_path("t.tar.gz"));
    assert_string_equal(names, want);
    assert_int_equal(n, 20);
    assert_memory_equal(data, "u1,i1,1,1\nu2,i2,2,2\n", 20);
    hr_free(data);
    /* truncated .tar.gz: an error naming the file */
    size_t len;
    char *raw = hr_test_read_file(hr_test_path("t.tar.gz"), &len);
    hr_test_write_file(hr_test_path("cut.tar.gz"), raw, len / 2);
    int rc = read_members(hr_test_path("cut.tar.gz"), names, sizeof names, &data, &n, &err);
    assert_true(rc < 0);
    assert_non_null(strstr(err.msg, "cut.tar.gz"));
    hr_free(data);
    hr_free(raw);
}

/* ---- output ------------------------------------------------------------------------------ */

static int tmp_files_left(void)
{
    DIR *d = opendir(hr_test_dir);
    assert_non_null(d);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d)))
        if (strstr(e->d_name, ".tmp-")) n++;
    closedir(d);
    return n;
}

static void test_output_commit_abort(void **state)
{
    (void)state;
    hr_error err = { 0 };
    for (int level = 0; level <= 3; level += 3) {
        const char *path = hr_test_path(level ? "out.zst" : "out.txt");
        hr_output *o;
        assert_int_equal(hr_output_open(path, level, 1, &o, &err), 0);
        assert_false(hr_test_exists(path));   /* nothing under the final name before commit */
        char big[10000];
        memset(big, 'x', sizeof big - 1);
        big[sizeof big - 1] = '\0';
        for (int k = 0; k < 1000; k++) assert_int_equal(hr_output_printf(o, &err, "line %d\n", k), 0);
        assert_int_equal(hr_output_printf(o, &err, "%s\n", big), 0);   /* longer than printf's stack buffer */
        assert_int_equal(hr_output_write(o, CSV, sizeof CSV - 1, &err), 0);
        uint64_t raw = hr_output_raw_bytes(o), cs = 0, bytes = 0, cs2 = 1, bytes2 = 0;
        assert_int_equal(hr_output_commit(o, &cs, &bytes, &err), 0);
        assert_true(hr_test_exists(path));
        assert_int_equal(tmp_files_left(), 0);
        assert_int_equal(hr_checksum_file(path, &cs2, &bytes2, &err), 0);
        assert_true(cs == cs2);   /* the checksum of the bytes on disk */
        assert_int_equal(bytes, bytes2);
        void *s;
        size_t sl;
        assert_int_equal(hr_input_slurp(path, &s, &sl, &err), 0);
        assert_int_equal(sl, raw);
        assert_memory_equal((char *)s + sl - (sizeof CSV - 1), CSV, sizeof CSV - 1);
        assert_memory_equal(s, "line 0\nline 1\n", 14);
        if (level) assert_true(bytes < raw);
        else assert_int_equal(bytes, raw);
        hr_free(s);
    }
    /* abort: neither the final name nor the temporary remains */
    hr_output *o;
    assert_int_equal(hr_output_open(hr_test_path("aborted.txt"), 3, 1, &o, &err), 0);
    assert_int_equal(hr_output_write(o, CSV, sizeof CSV - 1, &err), 0);
    assert_int_equal(tmp_files_left(), 1);
    hr_output_abort(o);
    hr_output_abort(NULL);
    assert_false(hr_test_exists(hr_test_path("aborted.txt")));
    assert_int_equal(tmp_files_left(), 0);
    /* overwrite: the old file stays intact until commit */
    hr_test_write_file(hr_test_path("keep.txt"), "old\n", 4);
    assert_int_equal(hr_output_open(hr_test_path("keep.txt"), 0, 1, &o, &err), 0);
    assert_int_equal(hr_output_write(o, "new\n", 4, &err), 0);
    size_t n;
    char *b = hr_test_read_file(hr_test_path("keep.txt"), &n);
    assert_memory_equal(b, "old\n", 4);
    hr_free(b);
    assert_int_equal(hr_output_commit(o, NULL, NULL, &err), 0);
    b = hr_test_read_file(hr_test_path("keep.txt"), &n);
    assert_memory_equal(b, "new\n", 4);
    hr_free(b);
    /* whole-buffer helper, and a directory that does not exist */
    uint64_t cs, bytes, cs2;
    assert_int_equal(hr_output_write_file(hr_test_path("whole.zst"), CSV, sizeof CSV - 1, 19, &cs, &bytes, &err), 0);
    assert_int_equal(hr_checksum_file(hr_test_path("whole.zst"), &cs2, NULL, &err), 0);
    assert_true(cs == cs2);
    assert_true(hr_output_open(hr_test_path("no/such/dir/x.txt"), 0, 1, &o, &err) < 0);
    assert_non_null(strstr(err.msg, "no/such/dir/x.txt"));
    /* mkdir -p, idempotent */
    assert_int_equal(hr_mkdirs(hr_test_path("a/b/c"), &err), 0);
    assert_int_equal(hr_mkdirs(hr_test_path("a/b/c"), &err), 0);
    assert_int_equal(hr_output_write_file(hr_test_path("a/b/c/f.txt"), "x", 1, 0, NULL, NULL, &err), 0);
    assert_true(hr_test_exists(hr_test_path("a/b/c/f.txt")));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines_endings),
        cmocka_unit_test(test_lines_bom),
        cmocka_unit_test(test_lines_very_long),
        cmocka_unit_test(test_lines_byte_ranges),
        cmocka_unit_test(test_input_codec_sniff),
        cmocka_unit_test(test_input_zstd),
        cmocka_unit_test(test_input_archives),
        cmocka_unit_test(test_output_commit_abort),
    };
    return cmocka_run_group_tests(tests, hr_test_setup, hr_test_teardown);
}
