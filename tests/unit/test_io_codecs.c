/* tests/unit/test_io_codecs.c — io/input.h over damaged compressed files and compression bombs.
 *
 * For every codec (gzip, bzip2, xz, zstd, and tar over each of them): concatenated streams read
 * whole; a flipped byte, a cut file and bytes after the last stream are errors that name the
 * file and say which; nothing is read silently short.  Zip: a cut file and trailing bytes.
 * The expansion guard (hr_input_limit): a ratio above the limit or more bytes than allowed
 * stop the read with a message; a normal file passes.  Files are written with libarchive and
 * libzstd (real compressed files on disk). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "core/alloc.h"
#include "io/input.h"
#include "tests/unit/testutil.h"

typedef enum { C_GZ, C_BZ2, C_XZ, C_ZST, C_N } codec;
static const char *const ext[C_N] = { "gz", "bz2", "xz", "zst" };

/* BODY: CSV text of about 13 kB (compresses well, but not like a bomb). */
static char *body(size_t *n)
{
    char *b = hr_malloc(1 << 16);
    size_t k = 0;
    for (int r = 0; r < 1000; r++) k += (size_t)snprintf(b + k, 64, "u%d,i%d,%d\n", r % 97, (r * 31) % 211, 1 + r % 5);
    *n = k;
    return b;
}

/* One regular entry of an archive being written. */
static void add_entry(struct archive *a, const char *name, const char *data, size_t n)
{
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, name);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, (la_int64_t)n);
    assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
    assert_int_equal(archive_write_data(a, data, n), (la_ssize_t)n);
    archive_entry_free(e);
}

/* A compressed file: a bare stream (tar = 0) or a tar with one entry "a.csv". */
static void write_codec(const char *path, codec c, int tar, const char *data, size_t n)
{
    if (c == C_ZST && !tar) {
        size_t cap = ZSTD_compressBound(n);
        char *z = hr_malloc(cap);
        ZSTD_CCtx *cc = ZSTD_createCCtx();
        ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, 1);
        size_t zn = ZSTD_compress2(cc, z, cap, data, n);
        ZSTD_freeCCtx(cc);
        assert_false(ZSTD_isError(zn));
        hr_test_write_file(path, z, zn);
        hr_free(z);
        return;
    }
    struct archive *a = archive_write_new();
    int r = c == C_GZ ? archive_write_add_filter_gzip(a) : c == C_BZ2 ? archive_write_add_filter_bzip2(a)
          : c == C_XZ ? archive_write_add_filter_xz(a) : archive_write_add_filter_zstd(a);
    assert_int_equal(r, ARCHIVE_OK);
    assert_int_equal(tar ? archive_write_set_format_pax_restricted(a) : archive_write_set_format_raw(a), ARCHIVE_OK);
    assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
    add_entry(a, "a.csv", data, n);
    assert_int_equal(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
}

/* Read every member of path; the bytes in *out (hr_malloc'd), status returned. */
static int read_all(const char *path, double ratio, uint64_t max_bytes, char **out, size_t *n, hr_error *err)
{
    hr_input *in;
    *out = NULL;
    *n = 0;
    int rc = hr_input_open(path, &in, err);
    if (rc < 0) return rc;
    hr_input_limit(in, ratio, max_bytes);
    size_t cap = 1 << 16;
    *out = hr_malloc(cap);
    const char *name;
    while ((rc = hr_input_next(in, &name, err)) == 1) {
        for (;;) {
            if (cap - *n < 4096) *out = hr_realloc(*out, cap *= 2);
            long k = hr_input_read(in, *out + *n, cap - *n, err);
            if (k < 0) {
                hr_input_close(in);
                return (int)k;
            }
            if (k == 0) break;
            *n += (size_t)k;
        }
    }
    hr_input_close(in);
    return rc;
}

/* The file must fail with a message that names it and contains `what` (NULL: any). */
static void expect_error(const char *path, const char *what, const char *label)
{
    hr_error err = { 0 };
    char *got;
    size_t n;
    int rc = read_all(path, 0, 0, &got, &n, &err);
    hr_free(got);
    if (rc >= 0) fail_msg("%s: read %zu bytes without an error", label, n);
    const char *base = strrchr(path, '/') + 1;
    if (!strstr(err.msg, base) || (what && !strstr(err.msg, what)) || strstr(err.msg, "(null)"))
        fail_msg("%s: message '%s' should name %s%s%s", label, err.msg, base, what ? " and say " : "", what ? what : "");
}

static void test_codecs_damaged(void **state)
{
    (void)state;
    size_t bn, len;
    char *b = body(&bn), path[600], label[64];
    for (int tar = 0; tar < 2; tar++)
        for (int c = 0; c < C_N; c++) {
            snprintf(path, sizeof path, "%s", hr_test_path(tar ? "good.tar." : "good.csv."));
            strcat(path, ext[c]);
            write_codec(path, (codec)c, tar, b, bn);
            char *raw = hr_test_read_file(path, &len);
            char *cat = hr_malloc(2 * len + 64);
            /* whole */
            hr_error err = { 0 };
            char *got;
            size_t n;
            snprintf(label, sizeof label, "%s%s good", tar ? "tar." : "", ext[c]);
            if (read_all(path, 0, 0, &got, &n, &err) != 0 || n != bn || memcmp(got, b, n) != 0)
                fail_msg("%s: %zu bytes read (%s), expected %zu", label, n, err.msg, bn);
            hr_free(got);
            /* two streams back to back (appended logs, pigz/pbzip2 output): both read */
            if (!tar) {
                memcpy(cat, raw, len);
                memcpy(cat + len, raw, len);
                hr_test_write_file(hr_test_path("two.bin"), cat, 2 * len);
                snprintf(label, sizeof label, "%s twice", ext[c]);
                if (read_all(hr_test_path("two.bin"), 0, 0, &got, &n, &err) != 0 || n != 2 * bn ||
                    memcmp(got + bn, b, bn) != 0)
                    fail_msg("%s: %zu bytes read (%s), expected %zu", label, n, err.msg, 2 * bn);
                hr_free(got);
            }
            /* bytes after the last stream */
            memcpy(cat, raw, len);
            memcpy(cat + len, "garbage\n", 8);
            hr_test_write_file(hr_test_path("junk.bin"), cat, len + 8);
            snprintf(label, sizeof label, "%s%s junk", tar ? "tar." : "", ext[c]);
            expect_error(hr_test_path("junk.bin"), "trailing", label);
            /* cut short */
            hr_test_write_file(hr_test_path("cut.bin"), raw, len - 7);
            snprintf(label, sizeof label, "%s%s cut", tar ? "tar." : "", ext[c]);
            expect_error(hr_test_path("cut.bin"), "truncated", label);
            /* one flipped byte: in the middle, and (gzip) in the CRC-32 and in the length */
            size_t at[3] = { len / 2, len - 8, len - 2 };
            for (int k = 0; k < (c == C_GZ ? 3 : 1); k++) {
                memcpy(cat, raw, len);
                cat[at[k]] ^= 0x21;
                hr_test_write_file(hr_test_path("flip.bin"), cat, len);
                snprintf(label, sizeof label, "%s%s flip@%zu/%zu", tar ? "tar." : "", ext[c], at[k], len);
                expect_error(hr_test_path("flip.bin"), NULL, label);
            }
            hr_free(cat);
            hr_free(raw);
        }
    hr_free(b);
}

static void test_zip_damaged(void **state)
{
    (void)state;
    size_t bn, len;
    char *b = body(&bn);
    const char *path = hr_test_path("good.zip");
    struct archive *a = archive_write_new();
    assert_int_equal(archive_write_set_format_zip(a), ARCHIVE_OK);
    assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
    add_entry(a, "a.csv", b, bn);
    add_entry(a, "b.csv", b, bn);
    assert_int_equal(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
    hr_error err = { 0 };
    char *got;
    size_t n;
    assert_int_equal(read_all(path, 0, 0, &got, &n, &err), 0);
    assert_int_equal(n, 2 * bn);
    hr_free(got);
    char *raw = hr_test_read_file(path, &len), *cat = hr_malloc(len + 16);
    /* cut just before the central directory (every entry complete), and in the second entry */
    char *cd = NULL;
    for (size_t i = 0; i + 4 <= len; i++)
        if (!memcmp(raw + i, "PK\x01\x02", 4)) { cd = raw + i; break; }
    assert_non_null(cd);
    hr_test_write_file(hr_test_path("nocd.zip"), raw, (size_t)(cd - raw));
    expect_error(hr_test_path("nocd.zip"), "truncated", "zip without central directory");
    hr_test_write_file(hr_test_path("half.zip"), raw, len / 2 + 40);
    expect_error(hr_test_path("half.zip"), NULL, "zip cut in an entry");
    memcpy(cat, raw, len);
    memcpy(cat + len, "garbage\n", 8);
    hr_test_write_file(hr_test_path("junk.zip"), cat, len + 8);
    expect_error(hr_test_path("junk.zip"), "trailing", "zip with trailing bytes");
    hr_free(cat);
    hr_free(raw);
    hr_free(b);
}

/* The expansion guard: ratio (decompressed / compressed bytes read) and an absolute cap. */
static void test_expansion_limits(void **state)
{
    (void)state;
    size_t bn;
    char *b = body(&bn);
    /* a bomb: 16 MiB of one repeated row, a few kB compressed */
    size_t bomb = (size_t)16 << 20;
    char *z = hr_malloc(bomb);
    for (size_t i = 0; i < bomb; i += 8) memcpy(z + i, "1,2,3.0\n", 8);
    write_codec(hr_test_path("bomb.csv.zst"), C_ZST, 0, z, bomb);
    write_codec(hr_test_path("bomb.csv.gz"), C_GZ, 0, z, bomb);
    hr_free(z);
    hr_error err = { 0 };
    char *got;
    size_t n;
    assert_int_equal(read_all(hr_test_path("bomb.csv.zst"), 1000, 0, &got, &n, &err), HR_ERR_FORMAT);
    hr_free(got);
    if (!strstr(err.msg, "bomb.csv.zst") || !strstr(err.msg, "--max-expansion")) fail_msg("message: %s", err.msg);
    assert_true(n < bomb);   /* stopped early */
    /* gzip tops out near 1000:1: a lower ratio catches it */
    assert_int_equal(read_all(hr_test_path("bomb.csv.gz"), 100, 0, &got, &n, &err), HR_ERR_FORMAT);
    hr_free(got);
    /* no ratio limit: the whole 16 MiB */
    assert_int_equal(read_all(hr_test_path("bomb.csv.zst"), 0, 0, &got, &n, &err), 0);
    assert_int_equal(n, bomb);
    hr_free(got);
    /* the cap on decompressed bytes, also for tar members (summed over the file) */
    write_codec(hr_test_path("small.tar.gz"), C_GZ, 1, b, bn);
    assert_int_equal(read_all(hr_test_path("small.tar.gz"), 1000, bn - 1, &got, &n, &err), HR_ERR_FORMAT);
    hr_free(got);
    if (!strstr(err.msg, "small.tar.gz") || !strstr(err.msg, "--max-input-bytes")) fail_msg("message: %s", err.msg);
    /* an ordinary file passes both */
    for (int c = 0; c < C_N; c++) {
        char name[32];
        snprintf(name, sizeof name, "ok.csv.%s", ext[c]);
        write_codec(hr_test_path(name), (codec)c, 0, b, bn);
        if (read_all(hr_test_path(name), 1000, bn, &got, &n, &err) != 0 || n != bn) fail_msg("%s: %s", name, err.msg);
        hr_free(got);
    }
    hr_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codecs_damaged),
        cmocka_unit_test(test_zip_damaged),
        cmocka_unit_test(test_expansion_limits),
    };
    return cmocka_run_group_tests(tests, hr_test_setup, hr_test_teardown);
}
