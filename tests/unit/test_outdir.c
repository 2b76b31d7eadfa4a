/* tests/unit/test_outdir.c — io/outdir.h: canonical paths (relative, ".", "..", "//",
 * symbolic links, paths that do not exist yet), the output-vs-input check, staging and
 * publishing a directory (fresh, replacing an output, refusing anything else, leftovers of
 * killed runs, failures), pruning stale part files; and core/error.h's escaping. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "io/outdir.h"
#include "io/output.h"

#include "tests/unit/testutil.h"

static void touch(const char *rel, const char *body)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s", hr_test_path(rel));
    *strrchr(dir, '/') = '\0';
    hr_error err = { 0 };
    assert_int_equal(hr_mkdirs(dir, &err), 0);
    hr_test_write_file(hr_test_path(rel), body, strlen(body));
}

static int exists(const char *rel)
{
    struct stat st;
    return lstat(hr_test_path(rel), &st) == 0;
}

/* Entries of a directory (names joined by ' ', sorted, "." entries left out). */
static void listing(const char *rel, char *out, size_t cap)
{
    char names[64][256];
    int n = 0;
    DIR *d = opendir(hr_test_path(rel));
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)) && n < 64)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) snprintf(names[n++], sizeof names[0], "%s", e->d_name);
    closedir(d);
    qsort(names, (size_t)n, sizeof names[0], (int (*)(const void *, const void *))strcmp);
    out[0] = '\0';
    for (int k = 0; k < n; k++) {
        strncat(out, names[k], cap - strlen(out) - 2);
        if (k + 1 < n) strncat(out, " ", cap - strlen(out) - 1);
    }
}

static char *canon_of(const char *path)
{
    hr_error err = { 0 };
    char *c;
    assert_int_equal(hr_path_canonical(path, &c, &err), 0);
    return c;
}

static void test_canonical(void **state)
{
    (void)state;
    touch("c/real/a/f.txt", "x");
    assert_int_equal(symlink("real/a", hr_test_path("c/link")), 0);
    assert_int_equal(symlink("nowhere", hr_test_path("c/dangling")), 0);
    char *base = realpath(hr_test_dir, NULL), want[1024], p[1024];
    struct { const char *given, *want; } cases[] = {
        { "c/real/a", "c/real/a" },          { "c/./real//a/", "c/real/a" },     { "c/real/a/../a/f.txt", "c/real/a/f.txt" },
        { "c/link", "c/real/a" },            { "c/link/f.txt", "c/real/a/f.txt" }, { "c/link/new/x", "c/real/a/new/x" },
        { "c/new/../real/a", "c/real/a" },   { "c/new/sub/../../link", "c/real/a" }, { "c/dangling", "c/dangling" },
        { "c/real/a/f.txt/x", "c/real/a/f.txt/x" },
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        snprintf(p, sizeof p, "%s/%s", hr_test_dir, cases[k].given);
        snprintf(want, sizeof want, "%s/%s", base, cases[k].want);
        char *c = canon_of(p);
        if (strcmp(c, want)) fail_msg("%s -> %s, want %s", cases[k].given, c, want);
        hr_free(c);
    }
    /* relative to the working directory */
    char *cwd = getcwd(NULL, 0);
    assert_int_equal(chdir(hr_test_path("c")), 0);
    char *c = canon_of("./link/../a");
    snprintf(want, sizeof want, "%s/c/real/a", base);   /* the link is resolved before ".." */
    assert_string_equal(c, want);
    hr_free(c);
    assert_int_equal(chdir(cwd), 0);
    free(cwd);
    free(base);
    c = canon_of("/");
    assert_string_equal(c, "/");
    hr_free(c);
    c = canon_of("/..//./");
    assert_string_equal(c, "/");
    hr_free(c);
    hr_error err = { 0 };
    assert_int_equal(hr_path_canonical("", &c, &err), HR_ERR_ARG);
}

static void test_relate(void **state)
{
    (void)state;
    assert_int_equal(hr_path_relate("/d/a", "/d/a"), HR_PATH_SAME);
    assert_int_equal(hr_path_relate("/d/a/b", "/d/a"), HR_PATH_INSIDE);
    assert_int_equal(hr_path_relate("/d/a", "/d/a/b"), HR_PATH_CONTAINS);
    assert_int_equal(hr_path_relate("/d/ab", "/d/a"), HR_PATH_APART);
    assert_int_equal(hr_path_relate("/d/a", "/d/ab"), HR_PATH_APART);
    assert_int_equal(hr_path_relate("/d/a", "/"), HR_PATH_INSIDE);
    assert_int_equal(hr_path_relate("/", "/x"), HR_PATH_CONTAINS);
    assert_int_equal(hr_path_relate("/x", "/y"), HR_PATH_APART);
}

/* One check; expect 0 or HR_ERR_ARG with `needle` in the message. */
static void check(const hr_pathspec *ps, size_t n, const char *needle)
{
    hr_error err = { 0 };
    int rc = hr_paths_check(ps, n, &err);
    if (!needle) {
        if (rc != 0) fail_msg("refused: %s", err.msg);
        return;
    }
    if (rc != HR_ERR_ARG) fail_msg("accepted (rc %d), expected a refusal with '%s'", rc, needle);
    assert_msg_has(&err, needle);
}

static void test_check_outputs(void **state)
{
    (void)state;
    touch("k/ds/manifest.json", "{}");
    touch("k/logs/day/a.csv", "1,2\n");
    touch("k/model.tar", "x");
    assert_int_equal(symlink("ds", hr_test_path("k/dslink")), 0);
    char ds[512], ds2[512], dsl[512], in[512], sub[512], logs[512], model[512], k[512], rec[512], js[512];
    snprintf(ds, sizeof ds, "%s", hr_test_path("k/ds"));
    snprintf(ds2, sizeof ds2, "%s/k/./ds/", hr_test_dir);
    snprintf(dsl, sizeof dsl, "%s", hr_test_path("k/dslink"));
    snprintf(in, sizeof in, "%s", hr_test_path("k/ds/new-out"));
    snprintf(sub, sizeof sub, "%s", hr_test_path("k/ds/by-user"));
    snprintf(logs, sizeof logs, "%s", hr_test_path("k/logs"));
    snprintf(model, sizeof model, "%s", hr_test_path("k/model.tar"));
    snprintf(k, sizeof k, "%s", hr_test_path("k"));
    snprintf(rec, sizeof rec, "%s", hr_test_path("k/recs"));
    snprintf(js, sizeof js, "%s", hr_test_path("k/recs/summary.json"));
    /* recommend --data DS --out DS, spelled alike, differently, or through a link */
    hr_pathspec a[] = { { "--data", ds, HR_IN }, { "--out", ds, HR_OUT_DIR } };
    check(a, 2, "--out");
    check(a, 2, "is the input --data");
    a[1].path = ds2;
    check(a, 2, "is the input --data");
    a[1].path = dsl;
    check(a, 2, "is the input --data");
    /* an output inside an input (not yet existing), or containing one */
    a[1].path = in;
    check(a, 2, "lies inside the input --data");
    a[1].path = k;
    check(a, 2, "contains the input --data");
    a[1].path = rec;
    check(a, 2, NULL);
    /* ingest --input logs --out logs/ds; a file output inside an input directory */
    hr_pathspec b[] = { { "--input", logs, HR_IN }, { "--out", hr_test_path("k/logs/ds"), HR_OUT_DIR } };
    check(b, 2, "lies inside the input --input");
    b[1] = (hr_pathspec){ "--json", hr_test_path("k/logs/day/s.json"), HR_OUT_FILE };
    check(b, 2, "lies inside the input --input");
    /* a model written over its warm start; outputs overlapping each other */
    hr_pathspec c[] = { { "--init-from", model, HR_IN }, { "--out", model, HR_OUT_FILE } };
    check(c, 2, "is the input --init-from");
    hr_pathspec d[] = { { "--train", rec, HR_OUT_DIR }, { "--test", rec, HR_OUT_DIR } };
    check(d, 2, "is the same path as the output");
    hr_pathspec e[] = { { "--out", rec, HR_OUT_DIR }, { "--json", js, HR_OUT_FILE } };
    check(e, 2, "--json");
    /* a checkpoint directory may contain inputs and outputs, but not lie inside an input */
    hr_pathspec f[] = { { "--data", ds, HR_IN }, { "--out", hr_test_path("k/work/m.tar"), HR_OUT_FILE },
                        { "--checkpoint-dir", k, HR_OUT_INTO } };
    check(f, 3, NULL);
    f[2].path = sub;
    check(f, 3, "--checkpoint-dir");
    f[2].path = ds;
    check(f, 3, "is the input --data");
    /* options not given are ignored */
    hr_pathspec g[] = { { "--users", NULL, HR_IN }, { "--out", rec, HR_OUT_DIR }, { "--json", NULL, HR_OUT_FILE } };
    check(g, 3, NULL);
}

static const char *const DS_FORMATS[] = { "hpcrec-dataset", NULL };

/* Write the files of a fake output into dir: the marker and some parts. */
static void fill(const char *dir, int parts, const char *tagline)
{
    char p[1024];
    for (int k = 0; k < parts; k++) {
        snprintf(p, sizeof p, "%s/part-%05d", dir, k);
        hr_test_write_file(p, tagline, strlen(tagline));
    }
    snprintf(p, sizeof p, "%s/manifest.json", dir);
    const char *m = "{\"format\": \"hpcrec-dataset\", \"version\": 1}\n";
    hr_test_write_file(p, m, strlen(m));
}

static void test_stage_publish(void **state)
{
    (void)state;
    hr_error err = { 0 };
    hr_outdir od;
    char l[1024];
    /* fresh output under a folder that does not exist yet */
    assert_int_equal(hr_outdir_stage(hr_test_path("p/new/out"), "manifest.json", DS_FORMATS, "1-a", &od, &err), 0);
    assert_string_equal(strrchr(od.tmp, '/') + 1, ".out.tmp-1-a");
    assert_false(exists("p/new/out"));   /* nothing visible under the final name while writing */
    fill(od.tmp, 3, "old");
    assert_int_equal(hr_outdir_publish(&od, &err), 0);
    listing("p/new", l, sizeof l);
    assert_string_equal(l, "out");
    listing("p/new/out", l, sizeof l);
    assert_string_equal(l, "manifest.json part-00000 part-00001 part-00002");
    /* a rerun writing fewer parts replaces it whole: no stale part-00002 */
    assert_int_equal(hr_outdir_stage(hr_test_path("p/new/out"), "manifest.json", DS_FORMATS, "2-b", &od, &err), 0);
    fill(od.tmp, 2, "new");
    listing("p/new/out", l, sizeof l);   /* the old output is whole until the publish */
    assert_string_equal(l, "manifest.json part-00000 part-00001 part-00002");
    assert_int_equal(hr_outdir_publish(&od, &err), 0);
    listing("p/new", l, sizeof l);
    assert_string_equal(l, "out");
    listing("p/new/out", l, sizeof l);
    assert_string_equal(l, "manifest.json part-00000 part-00001");
    size_t n;
    char *body = hr_test_read_file(hr_test_path("p/new/out/part-00001"), &n);
    assert_memory_equal(body, "new", 3);
    hr_free(body);
    /* a failed run leaves the old output as it was, and no temporary directory */
    assert_int_equal(hr_outdir_stage(hr_test_path("p/new/out"), "manifest.json", DS_FORMATS, "3-c", &od, &err), 0);
    fill(od.tmp, 5, "bad");
    hr_outdir_abort(&od, 0);
    listing("p/new", l, sizeof l);
    assert_string_equal(l, "out");
    listing("p/new/out", l, sizeof l);
    assert_string_equal(l, "manifest.json part-00000 part-00001");
    /* ... or keeps it when asked (the next stage removes it, and an older .old- leftover) */
    assert_int_equal(hr_outdir_stage(hr_test_path("p/new/out"), "manifest.json", DS_FORMATS, "4-d", &od, &err), 0);
    hr_outdir_abort(&od, 1);
    touch("p/new/.out.old-9-z/part-00000", "x");
    touch("p/new/.out.tmpfoo/keep", "x");      /* not a leftover name: untouched */
    touch("p/new/.out2.tmp-1-a/keep", "x");    /* another output's: untouched */
    listing("p/new", l, sizeof l);
    assert_string_equal(l, ".out.old-9-z .out.tmp-4-d .out.tmpfoo .out2.tmp-1-a out");
    assert_int_equal(hr_outdir_stage(hr_test_path("p/new/out"), "manifest.json", DS_FORMATS, "5-e", &od, &err), 0);
    listing("p/new", l, sizeof l);
    assert_string_equal(l, ".out.tmp-5-e .out.tmpfoo .out2.tmp-1-a out");
    hr_outdir_abort(&od, 0);
}

static void test_stage_refuses(void **state)
{
    (void)state;
    hr_error err = { 0 };
    hr_outdir od;
    char l[1024];
    /* a directory that is not an output of this kind is never replaced */
    touch("r/home/notes.txt", "precious");
    assert_int_equal(hr_outdir_stage(hr_test_path("r/home"), "manifest.json", DS_FORMATS, "1-a", &od, &err), HR_ERR_ARG);
    assert_msg_has(&err, "exists and is not empty");
    assert_null(od.tmp);
    touch("r/recs/manifest.json", "{\"format\": \"hpcrec-recommendations\", \"version\": 1}");
    assert_int_equal(hr_outdir_stage(hr_test_path("r/recs"), "manifest.json", DS_FORMATS, "1-a", &od, &err), HR_ERR_ARG);
    assert_msg_has(&err, "holds a 'hpcrec-recommendations'");
    touch("r/broken/manifest.json", "{\"format\": ");
    assert_int_equal(hr_outdir_stage(hr_test_path("r/broken"), "manifest.json", DS_FORMATS, "1-a", &od, &err), HR_ERR_ARG);
    touch("r/file", "x");
    assert_int_equal(hr_outdir_stage(hr_test_path("r/file"), "manifest.json", DS_FORMATS, "1-a", &od, &err), HR_ERR_ARG);
    assert_msg_has(&err, "is not a directory");
    assert_int_equal(hr_outdir_stage("/", "manifest.json", DS_FORMATS, "1-a", &od, &err), HR_ERR_ARG);
    assert_int_equal(hr_outdir_stage(hr_test_path("r/x"), "manifest.json", DS_FORMATS, "bad/tag", &od, &err), HR_ERR_ARG);
    listing("r", l, sizeof l);   /* nothing created, nothing removed */
    assert_string_equal(l, "broken file home recs");
    listing("r/home", l, sizeof l);
    assert_string_equal(l, "notes.txt");
    /* an empty directory is fine */
    assert_int_equal(hr_mkdirs(hr_test_path("r/empty"), &err), 0);
    assert_int_equal(hr_outdir_stage(hr_test_path("r/empty"), "manifest.json", DS_FORMATS, "1-a", &od, &err), 0);
    fill(od.tmp, 1, "x");
    assert_int_equal(hr_outdir_publish(&od, &err), 0);
    listing("r/empty", l, sizeof l);
    assert_string_equal(l, "manifest.json part-00000");
}

/* A link to an output: the directory it names is replaced, the link stays; removing the old
 * output never follows a link inside it. */
static void test_publish_links(void **state)
{
    (void)state;
    hr_error err = { 0 };
    hr_outdir od;
    char l[1024];
    touch("s/keep/precious", "x");
    assert_int_equal(hr_mkdirs(hr_test_path("s/day1"), &err), 0);
    fill(hr_test_path("s/day1"), 2, "old");
    assert_int_equal(symlink("../keep", hr_test_path("s/day1/ext")), 0);
    assert_int_equal(symlink("day1", hr_test_path("s/current")), 0);
    assert_int_equal(hr_outdir_stage(hr_test_path("s/current"), "manifest.json", DS_FORMATS, "1-a", &od, &err), 0);
    fill(od.tmp, 1, "new");
    assert_int_equal(hr_outdir_publish(&od, &err), 0);
    listing("s", l, sizeof l);
    assert_string_equal(l, "current day1 keep");
    listing("s/current", l, sizeof l);
    assert_string_equal(l, "manifest.json part-00000");
    listing("s/keep", l, sizeof l);
    assert_string_equal(l, "precious");
}

static void test_prune_parts(void **state)
{
    (void)state;
    const char *names[] = { "d/dump.00000.tsv", "d/dump.00001.tsv", "d/dump.00002.tsv", "d/dump.00013.tsv", "d/dump.x.tsv",
                            "d/dump.00002.tsv.bak", "d/other.00003.tsv", "d/dump.0001.tsv", "d/dump2.00004.tsv" };
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) touch(names[k], "x");
    char l[1024];
    assert_int_equal(hr_outdir_prune_parts(hr_test_path("d/dump"), ".tsv", 2), 2);
    listing("d", l, sizeof l);
    assert_string_equal(l, "dump.00000.tsv dump.00001.tsv dump.00002.tsv.bak dump.0001.tsv dump.x.tsv dump2.00004.tsv other.00003.tsv");
    assert_int_equal(hr_outdir_prune_parts(hr_test_path("d/dump"), ".tsv", 0), 2);
    listing("d", l, sizeof l);
    assert_string_equal(l, "dump.00002.tsv.bak dump.0001.tsv dump.x.tsv dump2.00004.tsv other.00003.tsv");
}

static void test_escape_text(void **state)
{
    (void)state;
    char b[64];
    const char raw[] = "in\tx\n\r\\y\x01\x7f\xc3\xa9";
    assert_string_equal(hr_escape_text(raw, sizeof raw - 1, b, sizeof b), "in\\tx\\n\\r\\\\y\\x01\\x7f\xc3\xa9");
    assert_int_equal(hr_escape_size(raw, sizeof raw - 1), strlen(b) + 1);
    assert_string_equal(hr_escape_text("a\0b", 3, b, sizeof b), "a\\x00b");
    assert_string_equal(hr_escape_text("ab\tc", 4, b, 5), "ab\\t");
    assert_string_equal(hr_escape_text("ab\tc", 4, b, 4), "ab");   /* never half an escape */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_canonical),     cmocka_unit_test(test_relate),       cmocka_unit_test(test_check_outputs),
        cmocka_unit_test(test_stage_publish), cmocka_unit_test(test_stage_refuses), cmocka_unit_test(test_publish_links),
        cmocka_unit_test(test_prune_parts),   cmocka_unit_test(test_escape_text),
    };
    return cmocka_run_group_tests(tests, hr_test_setup, hr_test_teardown);
}
