/* tests/unit/test_io.c — io/: lines (endings, long lines, byte ranges), input (codec sniffing,
 * zstd and libarchive members, truncation), output (atomic commit, abort, checksums), shard and
 * dictionary files (round trip, corruption), paths (walk, skip rules, glob, duplicates) and the
 * manifest version rule.  Files live in a fresh directory under $TMPDIR (or /tmp), removed at
 * the end.  Random cases draw from HR_TEST_SEED (default fixed) and print it when they fail. */
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
#include "io/manifest.h"
#include "io/output.h"
#include "io/paths.h"
#include "io/shard.h"
#include "partition/block.h"
#include "partition/dict.h"
#include "partition/intern.h"

static char g_dir[256];

static uint64_t test_seed(void)
{
    const char *env = getenv("HR_TEST_SEED");
    return env ? strtoull(env, NULL, 10) : 20261123u;
}

static int setup(void **state)
{
    (void)state;
    const char *tmp = getenv("TMPDIR");
    snprintf(g_dir, sizeof g_dir, "%s/hr-test-io.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    return mkdtemp(g_dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* path of NAME in the test directory (static buffers, rotated) */
static const char *P(const char *name)
{
    static char buf[8][512];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", g_dir, name);
    return buf[k];
}

static void write_bytes(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static char *read_bytes(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = hr_malloc((size_t)len + 1);
    assert_int_equal(fread(b, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    *n = (size_t)len;
    return b;
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

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
    const char *path = P(name);
    write_bytes(path, content, n);
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
    assert_int_equal(read_range(P("crlf.txt"), 0, 0, 0, &buf, &blen, &bcap), 4);
    assert_int_equal(blen, 11);
    assert_memory_equal(buf, "a,b\nc,d\n\ne\n", 11);
    blen = 0;
    assert_int_equal(read_range(P("empty.txt"), 0, 0, 0, &buf, &blen, &bcap), 0);
    assert_int_equal(read_range(P("nofinal.txt"), 0, 0, 0, &buf, &blen, &bcap), 3);
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
    assert_int_equal(read_range(P("long.txt"), 0, 0, 0, &buf, &blen, &bcap), 3);
    assert_int_equal(blen, 6 + big + 1 + 5);
    /* ranges cut inside the long line: it belongs to the range where it starts */
    blen = 0;
    assert_int_equal(read_range(P("long.txt"), 0, 100, 1, &buf, &blen, &bcap), 2);
    assert_int_equal(read_range(P("long.txt"), 100, 1 << 20, 1, &buf, &blen, &bcap), 0);
    assert_int_equal(read_range(P("long.txt"), 100 + (1 << 20), n - 100 - (1 << 20), 1, &buf, &blen, &bcap), 1);
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
    const uint64_t seed = test_seed();
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
        const char *path = P(name);
        write_bytes(path, s, n);
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
        { "g.bin", "\x1f\x8b\x08\x00", 4, HR_CODEC_ARCHIVE },
        { "b.bin", "BZh91AY", 7, HR_CODEC_ARCHIVE },
        { "x.bin", "\xfd" "7zXZ\0\0", 7, HR_CODEC_ARCHIVE },
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
        write_bytes(P(cases[k].name), cases[k].magic, cases[k].n);
        hr_codec c = (hr_codec)99;
        assert_int_equal(hr_input_codec(P(cases[k].name), &c, &err), 0);
        if (c != cases[k].want) fail_msg("%s: codec %d, expected %d", cases[k].name, c, cases[k].want);
    }
    /* tar: "ustar" at offset 257 of the first block, whatever the name says */
    char tar[512] = "data.csv";
    memcpy(tar + 257, "ustar", 5);
    write_bytes(P("t.csv"), tar, sizeof tar);
    hr_codec c;
    assert_int_equal(hr_input_codec(P("t.csv"), &c, &err), 0);
    assert_int_equal(c, HR_CODEC_ARCHIVE);
    /* a missing file is an I/O error naming it */
    assert_int_equal(hr_input_codec(P("nope.csv"), &c, &err), HR_ERR_IO);
    assert_non_null(strstr(err.msg, "nope.csv"));
    hr_input *in;
    assert_int_equal(hr_input_open(P("nope.csv"), &in, &err), HR_ERR_IO);
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
    write_bytes(P("one.csv.zst"), z, z1);
    assert_int_equal(read_members(P("one.csv.zst"), names, sizeof names, &data, &n, &err), 0);
    assert_string_equal(names, P("one.csv.zst"));   /* one member, named after the file */
    assert_int_equal(n, sizeof CSV - 1);
    assert_memory_equal(data, CSV, n);
    hr_free(data);
    /* two frames back to back (zstd -c a b, or appended logs) read as one stream */
    size_t z2 = ZSTD_compress(z + z1, zcap - z1, CSV, sizeof CSV - 1, 1);
    assert_false(ZSTD_isError(z2));
    write_bytes(P("two.csv.zst"), z, z1 + z2);
    assert_int_equal(read_members(P("two.csv.zst"), names, sizeof names, &data, &n, &err), 0);
    assert_int_equal(n, 2 * (sizeof CSV - 1));
    assert_memory_equal(data + sizeof CSV - 1, CSV, sizeof CSV - 1);
    hr_free(data);
    /* truncated: an error naming the file, not a short read */
    write_bytes(P("cut.csv.zst"), z, z1 - 3);
    assert_int_equal(read_members(P("cut.csv.zst"), names, sizeof names, &data, &n, &err), HR_ERR_IO);
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
    write_bytes(P("bad.csv.zst"), z, z1);
    assert_true(read_members(P("bad.csv.zst"), names, sizeof names, &data, &n, &err) < 0);
    assert_non_null(strstr(err.msg, "bad.csv.zst"));
    hr_free(data);
    /* slurp: plain and zstd */
    void *s;
    size_t sl;
    assert_int_equal(hr_input_slurp(P("one.csv.zst"), &s, &sl, &err), 0);
    assert_int_equal(sl, sizeof CSV - 1);
    assert_memory_equal(s, CSV, sl);
    hr_free(s);
    write_bytes(P("plain.csv"), CSV, sizeof CSV - 1);
    assert_int_equal(hr_input_slurp(P("plain.csv"), &s, &sl, &err), 0);
    assert_int_equal(sl, sizeof CSV - 1);
    hr_free(s);
    /* open_at: a plain stream from an offset */
    hr_input *in;
    const char *name;
    char buf[64];
    assert_int_equal(hr_input_open_at(P("plain.csv"), 27, &in, &err), 0);
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
        const char *path = P(gz ? "bare.csv.gz" : "bare.csv.bz2");
        write_archive(path, 0, gz, nm, body, 1);
        hr_codec c;
        assert_int_equal(hr_input_codec(path, &c, &err), 0);
        assert_int_equal(c, HR_CODEC_ARCHIVE);
        int rc = read_members(path, names, sizeof names, &data, &n, &err);
        if (rc != 0) fail_msg("%s: %s", path, err.msg);
        assert_string_equal(names, path);
        if (n != sizeof CSV - 1 || memcmp(data, CSV, n) != 0)
            fail_msg("%s: read %zu bytes as members '%s', expected the %zu bytes of text", path, n, names, sizeof CSV - 1);
        hr_free(data);
    }
    /* tar.gz: regular entries in archive order, "archive:entry" names; directories skipped */
    const char *tn[] = { "day1/", "day1/part.csv", "b.csv" }, *tb[] = { "", "u1,i1,1,1\n", "u2,i2,2,2\n" };
    write_archive(P("t.tar.gz"), 1, 1, tn, tb, 3);
    assert_int_equal(read_members(P("t.tar.gz"), names, sizeof names, &data, &n, &err), 0);
    snprintf(want, sizeof want, "%s:day1/part.csv|%s:b.csv", P("t.tar.gz"), P("t.tar.gz"));
    assert_string_equal(names, want);
    assert_int_equal(n, 20);
    assert_memory_equal(data, "u1,i1,1,1\nu2,i2,2,2\n", 20);
    hr_free(data);
    /* truncated .tar.gz: an error naming the file */
    size_t len;
    char *raw = read_bytes(P("t.tar.gz"), &len);
    write_bytes(P("cut.tar.gz"), raw, len / 2);
    int rc = read_members(P("cut.tar.gz"), names, sizeof names, &data, &n, &err);
    assert_true(rc < 0);
    assert_non_null(strstr(err.msg, "cut.tar.gz"));
    hr_free(data);
    hr_free(raw);
}

/* ---- output ------------------------------------------------------------------------------ */

static int tmp_files_left(void)
{
    DIR *d = opendir(g_dir);
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
        const char *path = P(level ? "out.zst" : "out.txt");
        hr_output *o;
        assert_int_equal(hr_output_open(path, level, 1, &o, &err), 0);
        assert_false(exists(path));   /* nothing under the final name before commit */
        char big[10000];
        memset(big, 'x', sizeof big - 1);
        big[sizeof big - 1] = '\0';
        for (int k = 0; k < 1000; k++) assert_int_equal(hr_output_printf(o, &err, "line %d\n", k), 0);
        assert_int_equal(hr_output_printf(o, &err, "%s\n", big), 0);   /* longer than printf's stack buffer */
        assert_int_equal(hr_output_write(o, CSV, sizeof CSV - 1, &err), 0);
        uint64_t raw = hr_output_raw_bytes(o), cs = 0, bytes = 0, cs2 = 1, bytes2 = 0;
        assert_int_equal(hr_output_commit(o, &cs, &bytes, &err), 0);
        assert_true(exists(path));
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
    assert_int_equal(hr_output_open(P("aborted.txt"), 3, 1, &o, &err), 0);
    assert_int_equal(hr_output_write(o, CSV, sizeof CSV - 1, &err), 0);
    assert_int_equal(tmp_files_left(), 1);
    hr_output_abort(o);
    hr_output_abort(NULL);
    assert_false(exists(P("aborted.txt")));
    assert_int_equal(tmp_files_left(), 0);
    /* overwrite: the old file stays intact until commit */
    write_bytes(P("keep.txt"), "old\n", 4);
    assert_int_equal(hr_output_open(P("keep.txt"), 0, 1, &o, &err), 0);
    assert_int_equal(hr_output_write(o, "new\n", 4, &err), 0);
    size_t n;
    char *b = read_bytes(P("keep.txt"), &n);
    assert_memory_equal(b, "old\n", 4);
    hr_free(b);
    assert_int_equal(hr_output_commit(o, NULL, NULL, &err), 0);
    b = read_bytes(P("keep.txt"), &n);
    assert_memory_equal(b, "new\n", 4);
    hr_free(b);
    /* whole-buffer helper, and a directory that does not exist */
    uint64_t cs, bytes, cs2;
    assert_int_equal(hr_output_write_file(P("whole.zst"), CSV, sizeof CSV - 1, 19, &cs, &bytes, &err), 0);
    assert_int_equal(hr_checksum_file(P("whole.zst"), &cs2, NULL, &err), 0);
    assert_true(cs == cs2);
    assert_true(hr_output_open(P("no/such/dir/x.txt"), 0, 1, &o, &err) < 0);
    assert_non_null(strstr(err.msg, "no/such/dir/x.txt"));
    /* mkdir -p, idempotent */
    assert_int_equal(hr_mkdirs(P("a/b/c"), &err), 0);
    assert_int_equal(hr_mkdirs(P("a/b/c"), &err), 0);
    assert_int_equal(hr_output_write_file(P("a/b/c/f.txt"), "x", 1, 0, NULL, NULL, &err), 0);
    assert_true(exists(P("a/b/c/f.txt")));
}

/* ---- shard and dictionary files ---------------------------------------------------------- */

static void make_block(hr_block *b, int by_item, uint64_t *nrows, uint64_t *nother)
{
    hr_rng r = hr_rng_stream(test_seed(), 20, (uint64_t)by_item);
    enum { NU = 50, NI = 40 };
    hr_triple t[600];
    uint8_t used[NU * NI] = { 0 };
    int n = 0;
    while (n < 600) {
        uint32_t u = (uint32_t)hr_rng_below(&r, NU - 3), i = (uint32_t)hr_rng_below(&r, NI);
        if (used[u * NI + i]) continue;
        used[u * NI + i] = 1;
        hr_triple x = { u, i, (float)hr_rng_below(&r, 10) * 0.5f, 0, (int64_t)hr_rng_below(&r, 1u << 31) - 5, 0 };
        t[n++] = x;
    }
    hr_part p;
    hr_part_build(&p, HR_PART_BALANCED, 1, by_item ? NI : NU, NULL);
    hr_triples_sort(t, 600, &p, 0, by_item);
    hr_block_from_triples(b, t, 600, NULL, &p, 0, by_item);
    hr_part_free(&p);
    *nrows = by_item ? NI : NU;
    *nother = by_item ? NU : NI;
}

static void assert_block_equal(const hr_block *a, const hr_block *b)
{
    assert_int_equal(a->nrows, b->nrows);
    assert_int_equal(a->nnz, b->nnz);
    assert_memory_equal(a->gid, b->gid, a->nrows * sizeof *a->gid);
    assert_memory_equal(a->ptr, b->ptr, (a->nrows + 1) * sizeof *a->ptr);
    assert_memory_equal(a->idx, b->idx, a->nnz * sizeof *a->idx);
    assert_memory_equal(a->val, b->val, a->nnz * sizeof *a->val);
    assert_memory_equal(a->ts, b->ts, a->nnz * sizeof *a->ts);
}

/* Rewrite a shard's decompressed bytes (edit at off) as a new valid zstd file; its checksum. */
static uint64_t rewrite_shard(const char *from, const char *to, size_t keep, size_t off, const void *p, size_t n)
{
    hr_error err = { 0 };
    void *raw;
    size_t len;
    assert_int_equal(hr_input_slurp(from, &raw, &len, &err), 0);
    if (p) memcpy((char *)raw + off, p, n);
    uint64_t cs;
    assert_int_equal(hr_output_write_file(to, raw, keep ? keep : len, 3, &cs, NULL, &err), 0);
    hr_free(raw);
    return cs;
}

static void test_shard_round_trip_and_corruption(void **state)
{
    (void)state;
    hr_error err = { 0 };
    for (int by_item = 0; by_item < 2; by_item++) {
        hr_block b, back;
        uint64_t nrows, nother, cs, bytes;
        make_block(&b, by_item, &nrows, &nother);
        char path[512];   /* P()'s buffers rotate: keep a copy */
        snprintf(path, sizeof path, "%s", P(by_item ? "part-i.bin.zst" : "part-u.bin.zst"));
        assert_int_equal(hr_shard_write(path, &b, by_item, 3, &cs, &bytes, &err), 0);
        int side = -1;
        assert_int_equal(hr_shard_read(path, cs, nrows, nother, &back, &side, &err), 0);
        assert_int_equal(side, by_item);
        assert_block_equal(&b, &back);
        hr_block_free(&back);
        /* checksum mismatch: refused before decoding, naming the file */
        assert_int_equal(hr_shard_read(path, cs ^ 1, nrows, nother, &back, &side, &err), HR_ERR_CHECKSUM);
        assert_non_null(strstr(err.msg, path));
        assert_non_null(strstr(err.msg, "checksum mismatch"));
        assert_int_equal(hr_file_verify(path, cs, &err), 0);
        /* a truncated file (whose checksum we pretend to trust) */
        size_t len;
        char *raw = read_bytes(path, &len);
        write_bytes(P("cut.bin.zst"), raw, len / 2);
        uint64_t ccs;
        assert_int_equal(hr_checksum_file(P("cut.bin.zst"), &ccs, NULL, &err), 0);
        assert_true(hr_shard_read(P("cut.bin.zst"), ccs, nrows, nother, &back, &side, &err) < 0);
        assert_non_null(strstr(err.msg, "cut.bin.zst"));
        hr_free(raw);
        /* a complete zstd stream holding a truncated shard */
        ccs = rewrite_shard(path, P("short.bin.zst"), 32 + 4 * b.nrows + 8, 0, NULL, 0);
        assert_int_equal(hr_shard_read(P("short.bin.zst"), ccs, nrows, nother, &back, &side, &err), HR_ERR_FORMAT);
        assert_non_null(strstr(err.msg, "short.bin.zst"));
        /* wrong magic, a later version, ids out of range */
        ccs = rewrite_shard(path, P("magic.bin.zst"), 0, 0, "HRSHARD9", 8);
        assert_int_equal(hr_shard_read(P("magic.bin.zst"), ccs, nrows, nother, &back, &side, &err), HR_ERR_FORMAT);
        uint32_t v2 = 2;
        ccs = rewrite_shard(path, P("v2.bin.zst"), 0, 8, &v2, 4);
        assert_int_equal(hr_shard_read(P("v2.bin.zst"), ccs, nrows, nother, &back, &side, &err), HR_ERR_VERSION);
        assert_non_null(strstr(err.msg, "v2.bin.zst"));
        uint32_t maxidx = 0;
        for (uint64_t e = 0; e < b.nnz; e++) maxidx = b.idx[e] > maxidx ? b.idx[e] : maxidx;
        assert_int_equal(hr_shard_read(path, cs, nrows, maxidx, &back, &side, &err), HR_ERR_FORMAT);   /* idx range */
        assert_non_null(strstr(err.msg, "out of range"));
        assert_int_equal(hr_shard_read(path, cs, b.gid[b.nrows - 1], nother, &back, &side, &err), HR_ERR_FORMAT); /* gid */
        uint64_t bad_ptr = b.nnz + 1;   /* ptr[nrows] must equal nnz */
        ccs = rewrite_shard(path, P("ptr.bin.zst"), 0, 32 + 4 * b.nrows + 8 * b.nrows, &bad_ptr, 8);
        assert_int_equal(hr_shard_read(P("ptr.bin.zst"), ccs, nrows, nother, &back, &side, &err), HR_ERR_FORMAT);
        hr_block_free(&b);
    }
}

static void dict_from(hr_dict *d, const char *const *keys, int n)
{
    hr_intern *t = hr_intern_new();
    for (int k = 0; k < n; k++) hr_intern_get(t, keys[k], strlen(keys[k]));
    char *buf;
    uint64_t bytes;
    hr_intern_pack(t, &buf, &bytes);
    hr_dict_build(d, buf, bytes);
    hr_free(buf);
    hr_intern_free(t);
    d->nnz = hr_malloc(d->n * sizeof *d->nnz);
    for (uint64_t g = 0; g < d->n; g++) d->nnz[g] = g * 3 + 1;
}

static void test_dictfile_round_trip(void **state)
{
    (void)state;
    hr_error err = { 0 };
    const char *ints[] = { "5", "-9223372036854775808", "9223372036854775807", "0" };
    const char *strs[] = { "bob", "Smith, John", "007", "", "a\tb" };
    for (int s = 0; s < 2; s++) {
        hr_dict d, back;
        dict_from(&d, s ? strs : ints, s ? 5 : 4);
        assert_int_equal(d.is_int, !s);
        char path[512];
        snprintf(path, sizeof path, "%s", P(s ? "s.dict.zst" : "i.dict.zst"));
        uint64_t cs, bytes;
        assert_int_equal(hr_dictfile_write(path, &d, 3, &cs, &bytes, &err), 0);
        assert_int_equal(hr_dictfile_read(path, cs, &back, &err), 0);
        assert_int_equal(back.is_int, d.is_int);
        assert_int_equal(back.n, d.n);
        assert_memory_equal(back.nnz, d.nnz, d.n * 8);
        for (uint64_t g = 0; g < d.n; g++) {
            char a[64], b[64];
            hr_dict_format(&d, g, a, sizeof a);
            hr_dict_format(&back, g, b, sizeof b);
            assert_string_equal(a, b);
            assert_int_equal(hr_dict_find(&back, a, strlen(a)), (int64_t)g);
        }
        assert_true(hr_dict_fingerprint(&d) == hr_dict_fingerprint(&back));
        hr_dict_free(&back);
        assert_int_equal(hr_dictfile_read(path, cs + 1, &back, &err), HR_ERR_CHECKSUM);
        assert_non_null(strstr(err.msg, path));
        /* truncated, checksum matching the truncated bytes: still refused, naming the file */
        size_t len;
        char *raw = read_bytes(path, &len);
        write_bytes(P("cut.dict.zst"), raw, len - 5);
        assert_int_equal(hr_checksum_file(P("cut.dict.zst"), &cs, NULL, &err), 0);
        assert_true(hr_dictfile_read(P("cut.dict.zst"), cs, &back, &err) < 0);
        assert_non_null(strstr(err.msg, "cut.dict.zst"));
        /* complete stream, content cut before the counts */
        void *plain;
        size_t pl;
        assert_int_equal(hr_input_slurp(path, &plain, &pl, &err), 0);
        assert_int_equal(hr_output_write_file(P("short.dict.zst"), plain, pl - 8, 3, &cs, NULL, &err), 0);
        assert_int_equal(hr_dictfile_read(P("short.dict.zst"), cs, &back, &err), HR_ERR_FORMAT);
        assert_non_null(strstr(err.msg, "short.dict.zst"));
        hr_free(plain);
        hr_free(raw);
        hr_dict_free(&d);
    }
}

/* ---- paths ------------------------------------------------------------------------------- */

static void touch(const char *rel, const char *body)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s", P(rel));
    char *slash = strrchr(dir, '/');
    *slash = '\0';
    hr_error err = { 0 };
    assert_int_equal(hr_mkdirs(dir, &err), 0);
    write_bytes(P(rel), body, strlen(body));
}

static void assert_paths(const hr_pathlist *l, const char *const *rel, const uint64_t *sizes, int n)
{
    if (l->n != (uint64_t)n) {
        for (uint64_t k = 0; k < l->n; k++) print_message("  got %s\n", l->path[k]);
        fail_msg("%llu paths, expected %d", (unsigned long long)l->n, n);
    }
    for (int k = 0; k < n; k++) {
        assert_string_equal(l->path[k], P(rel[k]));
        if (sizes) assert_int_equal(l->size[k], sizes[k]);
    }
}

static void test_paths_expand(void **state)
{
    (void)state;
    /* created out of order; the list comes back sorted bytewise */
    touch("logs/2024-01-02/part-1.csv", "22");
    touch("logs/2024-01-01/part-0.csv", "1");
    touch("logs/2024-01-01/part-10.csv", "333");
    touch("logs/2024-01-01/sub/deep.csv", "4444");
    touch("logs/top.csv", "55555");
    /* not data */
    touch("logs/.hidden.csv", "x");
    touch("logs/.staging/part-9.csv", "x");
    touch("logs/_SUCCESS", "");
    touch("logs/2024-01-01/_tmp_part.csv", "x");
    touch("logs/meta.json", "{}");
    touch("logs/README.md", "x");
    touch("logs/2024-01-01/part-0.csv.crc", "x");
    const char *all[] = { "logs/2024-01-01/part-0.csv", "logs/2024-01-01/part-10.csv", "logs/2024-01-01/sub/deep.csv",
                          "logs/2024-01-02/part-1.csv", "logs/top.csv" };
    const uint64_t sizes[] = { 1, 3, 4, 2, 5 };
    hr_error err = { 0 };
    hr_pathlist l;
    char *args[4];
    args[0] = (char *)P("logs");
    assert_int_equal(hr_paths_expand(args, 1, &l, &err), 0);
    assert_paths(&l, all, sizes, 5);
    hr_paths_free(&l);
    /* a glob (quoted on the command line, expanded here); matches directories too */
    char g1[512], g2[512];
    snprintf(g1, sizeof g1, "%s/logs/2024-*/part-?.csv", g_dir);
    args[0] = g1;
    assert_int_equal(hr_paths_expand(args, 1, &l, &err), 0);
    const char *gl[] = { "logs/2024-01-01/part-0.csv", "logs/2024-01-02/part-1.csv" };
    assert_paths(&l, gl, NULL, 2);
    hr_paths_free(&l);
    snprintf(g2, sizeof g2, "%s/logs/2024-01-0[12]", g_dir);
    args[0] = g2;
    assert_int_equal(hr_paths_expand(args, 1, &l, &err), 0);
    assert_paths(&l, all, sizes, 4);
    hr_paths_free(&l);
    /* the same file named several ways is read once */
    args[0] = (char *)P("logs/top.csv");
    args[1] = (char *)P("logs");
    args[2] = g1;
    args[3] = (char *)P("logs/top.csv");
    assert_int_equal(hr_paths_expand(args, 4, &l, &err), 0);
    assert_paths(&l, all, sizes, 5);
    hr_paths_free(&l);
    /* an explicitly named file is taken even if a walk would skip it */
    args[0] = (char *)P("logs/.hidden.csv");
    assert_int_equal(hr_paths_expand(args, 1, &l, &err), 0);
    assert_int_equal(l.n, 1);
    hr_paths_free(&l);
    /* errors name what is wrong */
    args[0] = (char *)P("logs/missing.csv");
    assert_int_equal(hr_paths_expand(args, 1, &l, &err), HR_ERR_IO);
    assert_non_null(strstr(err.msg, "missing.csv"));
    snprintf(g1, sizeof g1, "%s/logs/nothing-*.csv", g_dir);
    args[0] = g1;
    assert_int_equal(hr_paths_expand(args, 1, &l, &err), HR_ERR_IO);
    assert_non_null(strstr(err.msg, "nothing-*.csv"));
    assert_int_equal(hr_mkdirs(P("emptydir/sub"), &err), 0);
    touch("emptydir/.only-hidden", "x");
    args[0] = (char *)P("emptydir");
    assert_int_equal(hr_paths_expand(args, 1, &l, &err), HR_ERR_IO);
    assert_non_null(strstr(err.msg, "no input files"));
}

/* ---- manifest ---------------------------------------------------------------------------- */

static void test_manifest_versions(void **state)
{
    (void)state;
    hr_error err = { 0 };
    json_t *m = json_pack("{s:s,s:i}", "format", HR_DATASET_FORMAT, "version", HR_DATASET_VERSION);
    hr_manifest_add_file(m, "users.dict.zst", 123, 0xfedcba9876543210ull);
    assert_int_equal(hr_manifest_write(P("m.json"), m, &err), 0);
    json_decref(m);
    json_t *r;
    assert_int_equal(hr_manifest_read(P("m.json"), HR_DATASET_FORMAT, HR_DATASET_VERSION, &r, &err), 0);
    uint64_t cs, bytes;
    assert_int_equal(hr_manifest_file(r, "m.json", "users.dict.zst", &cs, &bytes, &err), 0);
    assert_true(cs == 0xfedcba9876543210ull && bytes == 123);
    assert_int_equal(hr_manifest_file(r, "m.json", "items.dict.zst", &cs, &bytes, &err), HR_ERR_FORMAT);
    json_decref(r);
    /* a later version is refused with a message naming the version; so is another format */
    write_bytes(P("v9.json"), "{\"format\":\"hpcrec-dataset\",\"version\":9}", 39);
    assert_int_equal(hr_manifest_read(P("v9.json"), HR_DATASET_FORMAT, HR_DATASET_VERSION, &r, &err), HR_ERR_VERSION);
    assert_non_null(strstr(err.msg, "version 9"));
    assert_int_equal(hr_manifest_read(P("v9.json"), HR_DATASET_FORMAT, 9, &r, &err), 0);   /* a reader of 9 takes it */
    json_decref(r);
    write_bytes(P("fmt.json"), "{\"format\":\"hpcrec-model\",\"version\":1}", 37);
    assert_int_equal(hr_manifest_read(P("fmt.json"), HR_DATASET_FORMAT, 1, &r, &err), HR_ERR_FORMAT);
    write_bytes(P("junk.json"), "{\"format\":", 10);
    assert_int_equal(hr_manifest_read(P("junk.json"), HR_DATASET_FORMAT, 1, &r, &err), HR_ERR_FORMAT);
    assert_true(hr_manifest_read(P("none.json"), HR_DATASET_FORMAT, 1, &r, &err) < 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines_endings),
        cmocka_unit_test(test_lines_very_long),
        cmocka_unit_test(test_lines_byte_ranges),
        cmocka_unit_test(test_input_codec_sniff),
        cmocka_unit_test(test_input_zstd),
        cmocka_unit_test(test_input_archives),
        cmocka_unit_test(test_output_commit_abort),
        cmocka_unit_test(test_shard_round_trip_and_corruption),
        cmocka_unit_test(test_dictfile_round_trip),
        cmocka_unit_test(test_paths_expand),
        cmocka_unit_test(test_manifest_versions),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
