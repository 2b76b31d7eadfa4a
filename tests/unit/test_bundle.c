/* tests/unit/test_bundle.c — tar bundles (io/bundle.h): round trips, member order,
 * corruption, truncation, versions, missing/unlisted members, member names, picks (rows and
 * ranges streamed out of a member, skipped members).  Model bundles
 * built on them: test_model.c. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "io/bundle.h"
#include "tests/unit/testutil.h"

/* A plain tar written straight with libarchive, to build bundles hr_bundle_write never would. */
static void raw_tar(const char *path, const char **names, const char **texts, int n)
{
    struct archive *a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    archive_write_set_bytes_in_last_block(a, 1);
    assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
    for (int i = 0; i < n; i++) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, names[i]);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_entry_set_size(e, (la_int64_t)strlen(texts[i]));
        assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
        assert_int_equal(archive_write_data(a, texts[i], strlen(texts[i])), (la_ssize_t)strlen(texts[i]));
        archive_entry_free(e);
    }
    assert_int_equal(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
}

/* ------------------------------------------------------------------ generic bundles */

enum { BIG = 100000 };

/* Writes members: a.bin (plain), b.bin (zstd, compressible), empty (plain, 0 bytes), z0 (zstd, 0 bytes). */
static void write_sample(const char *path, int version)
{
    static char a[300], b[BIG];
    for (size_t i = 0; i < sizeof a; i++) a[i] = (char)(i * 7 + 1);
    for (size_t i = 0; i < sizeof b; i++) b[i] = (char)("hpcrec"[i % 6] + (i / 1000) % 3);
    hr_error err = { 0 };
    hr_bundle_writer *w = hr_bundle_create_writer();
    assert_int_equal(hr_bundle_add_member(w, "a.bin", a, sizeof a, 0, &err), 0);
    assert_int_equal(hr_bundle_add_member(w, "b.bin", b, sizeof b, 1, &err), 0);
    assert_int_equal(hr_bundle_add_member(w, "empty", "", 0, 0, &err), 0);
    assert_int_equal(hr_bundle_add_member(w, "z0", "", 0, 1, &err), 0);
    json_t *man = json_pack("{s:s,s:i,s:s}", "format", "test-bundle", "version", version, "note", "hi");
    assert_int_equal(hr_bundle_write(path, man, w, &err), 0);
    /* the caller's manifest now describes what was written */
    assert_true(json_is_object(json_object_get(json_object_get(man, "members"), "b.bin")));
    json_decref(man);
    hr_bundle_free_writer(w);
}

static void test_roundtrip(void **state)
{
    (void)state;
    const char *path = hr_test_path("rt.tar");
    char p[512];
    snprintf(p, sizeof p, "%s", path);
    write_sample(p, 1);
    hr_bundle *b;
    hr_error err = { 0 };
    assert_int_equal(hr_bundle_open(p, "test-bundle", 1, &b, &err), 0);
    json_t *man = hr_bundle_manifest(b);
    assert_string_equal(json_string_value(json_object_get(man, "note")), "hi");
    json_t *mb = json_object_get(json_object_get(man, "members"), "b.bin");
    assert_int_equal(json_integer_value(json_object_get(mb, "raw_bytes")), BIG);
    assert_true(json_integer_value(json_object_get(mb, "bytes")) < BIG / 10); /* really compressed */
    assert_true(json_is_true(json_object_get(mb, "zstd")));
    assert_true(json_is_false(json_object_get(json_object_get(json_object_get(man, "members"), "a.bin"), "zstd")));

    assert_int_equal(hr_bundle_count(b), 4);
    assert_string_equal(hr_bundle_name(b, 0), "a.bin");
    assert_string_equal(hr_bundle_name(b, 1), "b.bin");
    assert_null(hr_bundle_name(b, 4));
    const void *d;
    size_t n;
    assert_int_equal(hr_bundle_get(b, "a.bin", &d, &n, &err), 0);
    assert_int_equal(n, 300);
    for (size_t i = 0; i < n; i++) assert_int_equal(((const char *)d)[i], (char)(i * 7 + 1));
    assert_int_equal(hr_bundle_get(b, "b.bin", &d, &n, &err), 0);
    assert_int_equal(n, BIG);
    for (size_t i = 0; i < n; i++) assert_int_equal(((const char *)d)[i], (char)("hpcrec"[i % 6] + (i / 1000) % 3));
    assert_int_equal(hr_bundle_get(b, "empty", &d, &n, &err), 0);
    assert_int_equal(n, 0);
    assert_int_equal(hr_bundle_get(b, "z0", &d, &n, &err), 0);
    assert_int_equal(n, 0);
    assert_int_equal(hr_bundle_get(b, "nope", &d, &n, &err), HR_ERR_FORMAT);
    assert_msg_has(&err, "nope");
    assert_msg_has(&err, p);
    void *own;
    assert_int_equal(hr_bundle_take(b, "a.bin", &own, &n, &err), 0);
    assert_int_equal(n, 300);
    assert_false(hr_bundle_has(b, "a.bin"));
    assert_int_equal(hr_bundle_get(b, "a.bin", &d, &n, &err), HR_ERR_FORMAT);
    hr_free(own);
    hr_bundle_close(b);
    hr_bundle_close(NULL);
    hr_bundle_free_writer(NULL);
    /* no temporary left behind */
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp-%d", p, (int)getpid());
    assert_int_not_equal(access(tmp, F_OK), 0);
}

static void test_manifest_first_in_tar(void **state)
{
    (void)state;
    const char *p = hr_test_path("order.tar");
    write_sample(p, 1);
    struct archive *a = archive_read_new();
    archive_read_support_format_tar(a);
    assert_int_equal(archive_read_open_filename(a, p, 4096), ARCHIVE_OK);
    const char *want[] = { "manifest.json", "a.bin", "b.bin.zst", "empty", "z0.zst" };
    struct archive_entry *e;
    int i = 0;
    while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
        assert_true(i < 5);
        assert_string_equal(archive_entry_pathname(e), want[i]);
        assert_int_equal(archive_entry_filetype(e), AE_IFREG);
        i++;
    }
    assert_int_equal(i, 5);
    archive_read_free(a);
}

/* Flip one byte of the stored bytes of a member, found by content. */
static void corrupt_at(const char *p, const void *needle, size_t nlen, size_t delta)
{
    size_t len;
    char *buf = hr_test_read_file(p, &len);
    char *hit = memmem(buf, len, needle, nlen);
    assert_non_null(hit);
    hit[delta] ^= 0x5a;
    hr_test_write_file(p, buf, len);
    hr_free(buf);
}

static void test_corrupt_member(void **state)
{
    (void)state;
    char p[512];
    snprintf(p, sizeof p, "%s", hr_test_path("corrupt.tar"));
    hr_error err = { 0 };
    hr_bundle *b = NULL;
    /* plain member: its bytes 1, 8, 15, ... */
    write_sample(p, 1);
    const char pat[] = { 1, 8, 15, 22, 29 };
    corrupt_at(p, pat, sizeof pat, 2);
    assert_int_equal(hr_bundle_open(p, "test-bundle", 1, &b, &err), HR_ERR_CHECKSUM);
    assert_null(b);
    assert_msg_has(&err, "a.bin");
    assert_msg_has(&err, p);
    /* compressed member: inside its zstd frame (magic 28 b5 2f fd) */
    write_sample(p, 1);
    const unsigned char magic[] = { 0x28, 0xb5, 0x2f, 0xfd };
    corrupt_at(p, magic, sizeof magic, 20);
    assert_int_equal(hr_bundle_open(p, "test-bundle", 1, &b, &err), HR_ERR_CHECKSUM);
    assert_msg_has(&err, "b.bin.zst");
}

static void test_truncated(void **state)
{
    (void)state;
    char p[512];
    snprintf(p, sizeof p, "%s", hr_test_path("trunc.tar"));
    hr_error err = { 0 };
    hr_bundle *b;
    size_t len;
    write_sample(p, 1);
    char *buf = hr_test_read_file(p, &len);
    /* cut anywhere, at a 512-byte block boundary, and just before the end marker */
    size_t cuts[] = { len / 2 + 3, (len / 2) & ~(size_t)511, len - 1024, 512 };
    for (size_t c = 0; c < sizeof cuts / sizeof *cuts; c++) {
        hr_test_write_file(p, buf, cuts[c]);
        err.msg[0] = '\0';
        int rc = hr_bundle_open(p, "test-bundle", 1, &b, &err);
        if (rc != HR_ERR_FORMAT) fail_msg("cut at %zu: rc %d (%s)", cuts[c], rc, err.msg);
        assert_msg_has(&err, p);
    }
    hr_free(buf);

    /* Cuts that leave zeros at the end (so the tail looks like an end marker): the last member
     * ends in 4096 zero bytes.  Cut inside it (libarchive notices) and just after it (the
     * manifest notices that "last" is missing). */
    static const char zeros[4096];
    hr_bundle_writer *w = hr_bundle_create_writer();
    assert_int_equal(hr_bundle_add_member(w, "zeros", zeros, sizeof zeros, 0, &err), 0);
    assert_int_equal(hr_bundle_add_member(w, "last", "tail", 4, 0, &err), 0);
    json_t *man = json_pack("{s:s,s:i}", "format", "test-bundle", "version", 1);
    assert_int_equal(hr_bundle_write(p, man, w, &err), 0);
    json_decref(man);
    hr_bundle_free_writer(w);
    assert_int_equal(hr_bundle_open(p, "test-bundle", 1, &b, &err), 0);
    hr_bundle_close(b);
    buf = hr_test_read_file(p, &len);
    char *last = memmem(buf, len, "last\0", 5);
    assert_non_null(last);
    size_t at = (size_t)(last - buf);
    assert_int_equal(at % 512, 0);
    hr_test_write_file(p, buf, at);
    assert_int_equal(hr_bundle_open(p, "test-bundle", 1, &b, &err), HR_ERR_FORMAT);
    assert_msg_has(&err, "last");
    assert_msg_has(&err, "missing");
    for (size_t back = 512; back <= 2048; back += 1536) {
        hr_test_write_file(p, buf, at - back);
        assert_int_equal(hr_bundle_open(p, "test-bundle", 1, &b, &err), HR_ERR_FORMAT);
        assert_msg_has(&err, p);
        assert_msg_has(&err, "runcated");
    }
    hr_free(buf);
    assert_int_equal(hr_bundle_open(hr_test_path("does-not-exist.tar"), "test-bundle", 1, &b, &err), HR_ERR_IO);
    assert_msg_has(&err, "does-not-exist.tar");
}

/* A full disk: the bundle's temporary file is made a link to /dev/full, where every write
 * fails with ENOSPC.  The message must say so (libarchive alone says "Write error") and the
 * code be HR_ERR_NOSPACE (exit 4); nothing is left under the final name. */
static void test_disk_full(void **state)
{
    (void)state;
    hr_error err = { 0 };
    const char *p = hr_test_path("full.tar");
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp-%d", p, (int)getpid());
    if (symlink("/dev/full", tmp) != 0) skip();
    static char big[1 << 16];
    hr_bundle_writer *w = hr_bundle_create_writer();
    assert_int_equal(hr_bundle_add_member(w, "big", big, sizeof big, 0, &err), 0);
    json_t *man = json_pack("{s:s,s:i}", "format", "test-bundle", "version", 1);
    assert_int_equal(hr_bundle_write(p, man, w, &err), HR_ERR_NOSPACE);
    assert_msg_has(&err, p);
    assert_msg_has(&err, "No space left on device");
    json_decref(man);
    hr_bundle_free_writer(w);
    struct stat st;
    assert_int_not_equal(lstat(p, &st), 0);
    assert_int_not_equal(lstat(tmp, &st), 0);   /* the temporary (here: the link) is removed */
}

static void test_version_and_format(void **state)
{
    (void)state;
    char p[512];
    snprintf(p, sizeof p, "%s", hr_test_path("v7.tar"));
    hr_error err = { 0 };
    hr_bundle *b;
    write_sample(p, 7);
    assert_int_equal(hr_bundle_open(p, "test-bundle", 1, &b, &err), HR_ERR_VERSION);
    assert_msg_has(&err, "version 7");
    assert_msg_has(&err, "newer hpcrec");
    assert_int_equal(hr_bundle_open(p, "test-bundle", 7, &b, &err), 0);
    hr_bundle_close(b);
    assert_int_equal(hr_bundle_open(p, "hpcrec-model", 9, &b, &err), HR_ERR_FORMAT);
    assert_msg_has(&err, "expected a 'hpcrec-model'");
}

static void test_missing_and_unlisted(void **state)
{
    (void)state;
    char p[512];
    snprintf(p, sizeof p, "%s", hr_test_path("hand.tar"));
    hr_error err = { 0 };
    hr_bundle *b;
    const char *xx = "{\"bytes\":2,\"raw_bytes\":2,\"xxh3\":\"0000000000000000\",\"zstd\":false}";
    char man[512];
    /* listed but missing */
    snprintf(man, sizeof man, "{\"format\":\"t\",\"version\":1,\"members\":{\"ghost\":%s}}", xx);
    const char *n1[] = { "manifest.json" };
    const char *t1[] = { man };
    raw_tar(p, n1, t1, 1);
    assert_int_equal(hr_bundle_open(p, "t", 1, &b, &err), HR_ERR_FORMAT);
    assert_msg_has(&err, "ghost");
    /* present but unlisted */
    const char *n2[] = { "manifest.json", "extra" };
    const char *t2[] = { "{\"format\":\"t\",\"version\":1,\"members\":{}}", "hi" };
    raw_tar(p, n2, t2, 2);
    assert_int_equal(hr_bundle_open(p, "t", 1, &b, &err), HR_ERR_FORMAT);
    assert_msg_has(&err, "extra");
    /* manifest not first */
    const char *n3[] = { "extra", "manifest.json" };
    const char *t3[] = { "hi", "{\"format\":\"t\",\"version\":1,\"members\":{}}" };
    raw_tar(p, n3, t3, 2);
    assert_int_equal(hr_bundle_open(p, "t", 1, &b, &err), HR_ERR_FORMAT);
    assert_msg_has(&err, "manifest.json");
    /* not a tar at all */
    hr_test_write_file(p, "hello, world\n", 13);
    assert_int_equal(hr_bundle_open(p, "t", 1, &b, &err), HR_ERR_FORMAT);
    /* the minimal valid bundle opens */
    raw_tar(p, n3 + 1, t3 + 1, 1);
    assert_int_equal(hr_bundle_open(p, "t", 1, &b, &err), 0);
    assert_int_equal(hr_bundle_count(b), 0);
    hr_bundle_close(b);
}

static void test_bad_names(void **state)
{
    (void)state;
    hr_error err = { 0 };
    hr_bundle_writer *w = hr_bundle_create_writer();
    const char *bad[] = { "", "../x", "a/b", "x.zst", "manifest.json", ".hidden", "sp ace" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(hr_bundle_add_member(w, bad[i], "x", 1, 0, &err), HR_ERR_ARG);
    assert_int_equal(hr_bundle_add_member(w, "ok-1.f32", "x", 1, 0, &err), 0);
    assert_int_equal(hr_bundle_add_member(w, "ok-1.f32", "x", 1, 1, &err), HR_ERR_ARG);
    assert_msg_has(&err, "twice");
    json_t *man = json_pack("{s:s}", "format", "t"); /* no version */
    assert_int_equal(hr_bundle_write(hr_test_path("nover.tar"), man, w, &err), HR_ERR_ARG);
    assert_int_not_equal(access(hr_test_path("nover.tar"), F_OK), 0);
    json_decref(man);
    hr_bundle_free_writer(w);
}

/* Picks at the bundle level: rows and ranges of a plain and of a zstd member, skipped members,
 * and the row lists the reader refuses (out of order, past the end, not whole rows). */
static void test_pick(void **state)
{
    (void)state;
    char p[512];
    snprintf(p, sizeof p, "%s", hr_test_path("pick.tar"));
    write_sample(p, 1);
    hr_error err = { 0 };
    hr_bundle *full, *b;
    assert_int_equal(hr_bundle_open(p, "test-bundle", 1, &full, &err), 0);
    const void *a, *bb, *got;
    size_t alen, blen, n;
    assert_int_equal(hr_bundle_get(full, "a.bin", &a, &alen, &err), 0);
    assert_int_equal(hr_bundle_get(full, "b.bin", &bb, &blen, &err), 0);
    uint64_t rows[] = { 1, 7, 29 };
    hr_bundle_pick ok[] = { { "a.bin", HR_PICK_ROWS, 10, rows, 3, 0, 0 },
                            { "b.bin", HR_PICK_RANGE, 100, NULL, 0, 3, 9 },
                            { "empty", HR_PICK_SKIP, 0, NULL, 0, 0, 0 } };
    assert_int_equal(hr_bundle_open_pick(p, "test-bundle", 1, ok, 3, &b, &err), 0);
    assert_int_equal(hr_bundle_get(b, "a.bin", &got, &n, &err), 0);
    assert_int_equal(n, 30);
    for (int r = 0; r < 3; r++) assert_memory_equal((const char *)got + 10 * r, (const char *)a + 10 * rows[r], 10);
    assert_int_equal(hr_bundle_get(b, "b.bin", &got, &n, &err), 0);
    assert_int_equal(n, 600);
    assert_memory_equal(got, (const char *)bb + 300, 600);
    assert_false(hr_bundle_has(b, "empty"));
    hr_bundle_close(b);
    hr_bundle_close(full);
    uint64_t unsorted[] = { 7, 1 }, past[] = { 30 };
    hr_bundle_pick bad[] = { { "a.bin", HR_PICK_ROWS, 10, unsorted, 2, 0, 0 },
                             { "a.bin", HR_PICK_ROWS, 10, past, 1, 0, 0 },
                             { "a.bin", HR_PICK_ROWS, 7, rows, 1, 0, 0 } };
    const char *why[] = { "out of order", "has 30 rows, row 30", "whole number" };
    for (int c = 0; c < 3; c++) {
        assert_int_equal(hr_bundle_open_pick(p, "test-bundle", 1, &bad[c], 1, &b, &err), HR_ERR_FORMAT);
        assert_null(b);
        assert_msg_has(&err, why[c]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_manifest_first_in_tar),
        cmocka_unit_test(test_corrupt_member),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_disk_full),
        cmocka_unit_test(test_version_and_format),
        cmocka_unit_test(test_missing_and_unlisted),
        cmocka_unit_test(test_bad_names),
        cmocka_unit_test(test_pick),
    };
    return cmocka_run_group_tests(tests, hr_test_setup, hr_test_teardown);
}
