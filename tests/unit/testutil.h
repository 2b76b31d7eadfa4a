/* tests/unit/testutil.h — helpers shared by the unit tests (header-only; include after cmocka.h).
 * A test binary that touches files runs its group with hr_test_setup / hr_test_teardown: a
 * fresh directory under $TMPDIR (or /tmp), removed at the end; hr_test_path names a file in it.
 * Random cases draw from HR_TEST_SEED (default fixed) so a failure can be replayed. */
#ifndef HR_TESTS_TESTUTIL_H
#define HR_TESTS_TESTUTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/alloc.h"
#include "core/error.h"
#include "partition/dict.h"
#include "partition/intern.h"

static char hr_test_dir[256];

static inline uint64_t hr_test_seed(void)
{
    const char *env = getenv("HR_TEST_SEED");
    return env ? strtoull(env, NULL, 10) : 20261123u;
}

static inline int hr_test_setup(void **state)
{
    (void)state;
    const char *tmp = getenv("TMPDIR");
    snprintf(hr_test_dir, sizeof hr_test_dir, "%s/hr-test.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    return mkdtemp(hr_test_dir) ? 0 : -1;
}

static inline int hr_test_teardown(void **state)
{
    (void)state;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", hr_test_dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Path of NAME in the test directory (static buffers, rotated, so a few can be alive at once). */
static inline const char *hr_test_path(const char *name)
{
    static char buf[8][512];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", hr_test_dir, name);
    return buf[k];
}

static inline void hr_test_write_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

/* Whole file (hr_malloc'd, one spare byte). */
static inline void *hr_test_read_file(const char *path, size_t *n)
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

/* The error message names what it should (a file, a member, a row). */
static inline void assert_msg_has(const hr_error *err, const char *needle)
{
    if (!strstr(err->msg, needle)) fail_msg("message '%s' lacks '%s'", err->msg, needle);
}

static inline int hr_test_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Dictionary of the given NUL-terminated keys, through an intern table as ingest builds it. */
static inline void hr_test_dict_of(hr_dict *d, const char *const *keys, int n)
{
    hr_intern *t = hr_intern_new();
    for (int k = 0; k < n; k++) hr_intern_get(t, keys[k], strlen(keys[k]));
    char *buf;
    uint64_t bytes;
    hr_intern_pack(t, &buf, &bytes);
    hr_dict_build(d, buf, bytes);
    hr_free(buf);
    hr_intern_free(t);
}

#endif
