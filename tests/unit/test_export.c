/* tests/unit/test_export.c — the io/ pieces of hpcrec export: .npy headers and TSV tables
 * (io/tables.h), a bundle read a chunk of rows at a time (io/modelread.h, formats 1 and 2),
 * and recommendations loaded into SQLite (io/recsdb.h) with the errors each bad input gets. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/hash.h"
#include "io/modelread.h"
#include "io/output.h"
#include "io/recsdb.h"
#include "io/tables.h"
#include "testutil.h"
#include "modelutil.h"

static void test_npy_header(void **state)
{
    hr_tbuf b = { 0 };
    hr_error err = { 0 };
    assert_int_equal(hr_npy_header(&b, 12345, 64, &err), 0);
    assert_int_equal(b.len % 64, 0);
    assert_memory_equal(b.p, "\x93NUMPY\x01\x00", 8);
    assert_int_equal((unsigned char)b.p[8] | (unsigned char)b.p[9] << 8, b.len - 10);
    assert_int_equal(b.p[b.len - 1], '\n');
    assert_non_null(memmem(b.p, b.len, "'shape': (12345, 64)", 20));
    assert_int_equal(hr_npy_header(&b, 7, 0, &err), 0);   /* a vector */
    assert_non_null(memmem(b.p, b.len, "'shape': (7,)", 13));
    float r[3] = { 1.5f, -2.25f, 3.0f };
    hr_npy_rows(&b, r, 3, 1);
    assert_memory_equal(b.p + b.len - 12, r, 12);
    hr_tbuf_free(&b);
}

static void test_tsv_tables(void **state)
{
    hr_tbuf b = { 0 };
    hr_error err = { 0 };
    float r[4] = { 0.1f, -3.4028235e38f, 1e-40f, 7.0f };
    hr_tsv_header(&b, "f", 2);
    hr_tsv_rows(&b, 10, r, 2, 2);
    hr_tbuf_reserve(&b, 1);
    b.p[b.len] = '\0';
    assert_string_equal(b.p, "row\tf0\tf1\n10\t0.100000001\t-3.40282347e+38\n11\t9.9999461e-41\t7\n");
    /* %.9g reads back to the same float32, subnormals included */
    assert_true(strtof("9.9999461e-41", NULL) == r[2] && strtof("0.100000001", NULL) == r[0]);
    hr_dict d;
    dict_strings(&d, 3);
    b.len = 0;
    assert_int_equal(hr_tsv_ids(&b, 5, &d, "m.tar", &err), 0);
    b.p[b.len] = '\0';
    assert_string_equal(b.p, "5\tk0000x\n6\tk0001\n7\tk0002\n");
    d.bytes[d.offs[1] + 1] = '\t';   /* an id with a tab cannot be a TSV field */
    assert_int_equal(hr_tsv_ids(&b, 5, &d, "m.tar (users.dict)", &err), HR_ERR_FORMAT);
    assert_msg_has(&err, "row 6");
    hr_dict_free(&d);
    dict_ints(&d, 2);
    b.len = 0;
    assert_int_equal(hr_tsv_ids(&b, 0, &d, "m.tar", &err), 0);
    b.p[b.len] = '\0';
    assert_string_equal(b.p, "0\t-5\n1\t5\n");
    hr_dict_free(&d);
    hr_tbuf_free(&b);
}

/* Every row and id of a model read back in chunks of `block` rows equals the model. */
static void check_chunks(const char *path, const hr_model *m)
{
    hr_model_reader *r;
    hr_error err = { 0 };
    assert_int_equal(hr_model_reader_open(path, &r, &err), 0);
    const hr_model *h = hr_model_reader_header(r);
    assert_int_equal(h->n_users, m->n_users);
    assert_int_equal(hr_model_reader_ids_int(r, 0), m->users.is_int);
    uint64_t rows, cols, block;
    assert_true(hr_model_reader_array(r, "user_factors.f32", &rows, &cols, &block));
    assert_int_equal(cols, (uint64_t)m->k);
    float *buf = hr_malloc(block * cols * sizeof *buf);
    for (uint64_t lo = 0; lo < rows; lo += block) {
        uint64_t hi = lo + block < rows ? lo + block : rows;
        assert_int_equal(hr_model_reader_rows(r, "user_factors.f32", lo, hi, buf, &err), 0);
        assert_floats_identical(buf, m->user_factors + lo * cols, (hi - lo) * cols);
    }
    /* an unaligned range inside one array is served too */
    assert_int_equal(hr_model_reader_rows(r, "user_factors.f32", 3, 5, buf, &err), 0);
    assert_floats_identical(buf, m->user_factors + 3 * cols, 2 * cols);
    assert_int_equal(hr_model_reader_rows(r, "user_factors.f32", 0, rows + 1, buf, &err), HR_ERR_ARG);
    assert_int_equal(hr_model_reader_array(r, "item_scores.f32", &rows, &cols, &block), 0);
    assert_true(hr_model_reader_array(r, "users.dict", &rows, &cols, &block));
    for (uint64_t lo = 0; lo < rows; lo += block) {
        uint64_t hi = lo + block < rows ? lo + block : rows;
        hr_dict d;
        assert_int_equal(hr_model_reader_ids(r, 0, lo, hi, &d, &err), 0);
        assert_int_equal(d.n, hi - lo);
        char a[64], b[64];
        for (uint64_t g = lo; g < hi; g++) {
            hr_dict_format(&d, g - lo, a, sizeof a);
            hr_dict_format(&m->users, g, b, sizeof b);
            assert_string_equal(a, b);
        }
        hr_dict_free(&d);
    }
    hr_free(buf);
    hr_model_reader_close(r);
}

static void test_model_reader(void **state)
{
    hr_model m;
    hr_error err = { 0 };
    /* k = 2048: 128 rows per member, so 300 users make 3 members */
    make_factor(&m, 2048, 300, 40, 1, 1);
    assert_int_equal(hr_model_save(hr_test_path("v2.tar"), &m, NULL, &err), 0);
    check_chunks(hr_test_path("v2.tar"), &m);
    save_v1(hr_test_path("v1.tar"), &m);
    check_chunks(hr_test_path("v1.tar"), &m);
    hr_model_free(&m);
    hr_model_reader *r;
    assert_true(hr_model_reader_open(hr_test_path("none.tar"), &r, &err) < 0);
}

/* A recommendations part as recommend writes it; lines: "user\trank\titem\tscore\tsource" each. */
static void write_part(const char *path, const char *const *lines, int n, uint64_t *xxh3, uint64_t *bytes)
{
    hr_error err = { 0 };
    hr_output *o;
    assert_int_equal(hr_output_open(path, 1, 1, &o, &err), 0);
    assert_int_equal(hr_output_printf(o, &err, "user\trank\titem\tscore\tsource\n"), 0);
    for (int x = 0; x < n; x++) assert_int_equal(hr_output_printf(o, &err, "%s\n", lines[x]), 0);
    assert_int_equal(hr_output_commit(o, xxh3, bytes, &err), 0);
}

/* Load one part into a fresh database; returns the load's status (the database is aborted
 * on failure, finished on success when finish != 0). */
static int load_one(const char *const *lines, int n, int user_int, int finish, hr_error *err)
{
    uint64_t h, b, rows;
    write_part(hr_test_path("p.tsv.zst"), lines, n, &h, &b);
    hr_recsdb *db;
    assert_int_equal(hr_recsdb_create(hr_test_path("r.sqlite"), user_int, 1, &db, err), 0);
    int rc = hr_recsdb_load_part(db, hr_test_path("p.tsv.zst"), h, b, &rows, err);
    if (rc < 0) {
        hr_recsdb_abort(db);
        assert_false(hr_test_exists(hr_test_path("r.sqlite")));
        return rc;
    }
    assert_int_equal(rows, (uint64_t)n);
    if (finish) return hr_recsdb_finish(db, err);
    hr_recsdb_abort(db);
    return 0;
}

static void test_recsdb(void **state)
{
    hr_error err = { 0 };
    /* 150 rows: two full batches of 64 and a rest */
    char **lines = hr_malloc(150 * sizeof *lines);
    for (int x = 0; x < 150; x++) {
        lines[x] = hr_malloc(64);
        snprintf(lines[x], 64, "%d\t%d\t%d\t%.6f\t%s", x / 10 - 3, x % 10 + 1, 1000 + x, 1.0 / (x + 1), x % 7 ? "model" : "popular");
    }
    assert_int_equal(load_one((const char *const *)lines, 150, 1, 1, &err), 0);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(hr_test_path("r.sqlite"), &db), SQLITE_OK);
    sqlite3_stmt *q;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*), sum(item), min(user), typeof(user) FROM recommendations", -1, &q, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int64(q, 0), 150);
    assert_int_equal(sqlite3_column_int64(q, 1), 150 * 1000 + 149 * 150 / 2);
    assert_int_equal(sqlite3_column_int64(q, 2), -3);
    assert_string_equal((const char *)sqlite3_column_text(q, 3), "integer");
    sqlite3_finalize(q);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT item, score, source FROM recommendations WHERE user=-3 ORDER BY rank", -1, &q, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int64(q, 0), 1000);
    assert_true(sqlite3_column_double(q, 1) == 1.0);
    assert_string_equal((const char *)sqlite3_column_text(q, 2), "popular");
    sqlite3_finalize(q);
    sqlite3_close(db);
    for (int x = 0; x < 150; x++) hr_free(lines[x]);
    hr_free(lines);

    /* each bad line is named by file and line */
    static const char *const four[] = { "1\t1\t2\t0.5\tmodel", "1\t2\t3\t0.5" };
    assert_int_equal(load_one(four, 2, 1, 0, &err), HR_ERR_FORMAT);
    assert_msg_has(&err, "p.tsv.zst:3: expected 5 tab-separated fields");
    static const char *const rank0[] = { "1\t0\t2\t0.5\tmodel" };
    assert_int_equal(load_one(rank0, 1, 1, 0, &err), HR_ERR_FORMAT);
    assert_msg_has(&err, ":2: rank '0' is not a positive integer");
    static const char *const nan[] = { "1\t1\t2\tnan\tmodel" };
    assert_int_equal(load_one(nan, 1, 1, 0, &err), HR_ERR_FORMAT);
    assert_msg_has(&err, "score 'nan' is not a finite number");
    static const char *const text[] = { "007\t1\t2\t0.5\tmodel" };
    assert_int_equal(load_one(text, 1, 1, 0, &err), HR_ERR_FORMAT);
    assert_msg_has(&err, "user '007' is not an integer");
    assert_int_equal(load_one(text, 1, 0, 1, &err), 0);   /* a TEXT column keeps it as it is */
    /* a repeated (user, rank): the unique index refuses it, naming the pair; no file left */
    static const char *const dup[] = { "1\t1\t2\t0.5\tmodel", "1\t2\t3\t0.4\tmodel", "1\t1\t4\t0.3\tmodel" };
    assert_int_equal(load_one(dup, 3, 1, 1, &err), HR_ERR_FORMAT);
    assert_msg_has(&err, "two recommendations for user 1 rank 1");
    assert_false(hr_test_exists(hr_test_path("r.sqlite")));
    /* a part that is not what the manifest lists */
    uint64_t h, b, rows;
    hr_recsdb *d;
    write_part(hr_test_path("p.tsv.zst"), dup, 3, &h, &b);
    assert_int_equal(hr_recsdb_create(hr_test_path("r.sqlite"), 1, 1, &d, &err), 0);
    assert_int_equal(hr_recsdb_load_part(d, hr_test_path("p.tsv.zst"), h ^ 1, b, &rows, &err), HR_ERR_CHECKSUM);
    assert_msg_has(&err, "p.tsv.zst");
    hr_recsdb_abort(d);
    assert_false(hr_test_exists(hr_test_path("r.sqlite")));
}

/* Several parts of several chunks each (8192 rows a chunk), string ids: every row lands, the
 * counts per part are right; a bad line in the last part stops the load (the rows before it
 * were inserted by the other thread meanwhile) and nothing is left. */
static void test_recsdb_parts(void **state)
{
    (void)state;
    hr_error err = { 0 };
    enum { PARTS = 3, ROWS = 20000 };
    char **lines = hr_malloc(ROWS * sizeof *lines);
    hr_recsdb_part parts[PARTS];
    char paths[PARTS][64];
    for (int p = 0; p < PARTS; p++) {
        for (int x = 0; x < ROWS; x++) {
            lines[x] = hr_malloc(64);
            snprintf(lines[x], 64, "u%d\t%d\ti%d\t%.6f\tmodel", p * ROWS + x / 10, x % 10 + 1, x, 1.0 / (x + 1));
        }
        snprintf(paths[p], sizeof paths[p], "part-%d.tsv.zst", p);
        parts[p].path = hr_strdup(hr_test_path(paths[p]));
        write_part(parts[p].path, (const char *const *)lines, ROWS - p, &parts[p].xxh3, &parts[p].bytes);
        for (int x = 0; x < ROWS; x++) hr_free(lines[x]);
    }
    hr_free(lines);
    hr_recsdb *d;
    uint64_t got[PARTS];
    assert_int_equal(hr_recsdb_create(hr_test_path("r.sqlite"), 0, 0, &d, &err), 0);
    assert_int_equal(hr_recsdb_load_parts(d, PARTS, parts, got, &err), 0);
    for (int p = 0; p < PARTS; p++) assert_int_equal(got[p], ROWS - p);
    assert_int_equal(hr_recsdb_finish(d, &err), 0);
    sqlite3 *db;
    sqlite3_stmt *q;
    assert_int_equal(sqlite3_open(hr_test_path("r.sqlite"), &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*), count(DISTINCT user), max(rank), typeof(item) FROM recommendations", -1, &q, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int64(q, 0), 3 * ROWS - 3);
    assert_int_equal(sqlite3_column_int64(q, 1), 3 * ROWS / 10);
    assert_int_equal(sqlite3_column_int64(q, 2), 10);
    assert_string_equal((const char *)sqlite3_column_text(q, 3), "text");
    sqlite3_finalize(q);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT item, score FROM recommendations WHERE user='u40001' AND rank=2", -1, &q, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(q, 0), "i11");   /* part 2, x = 11 */
    sqlite3_finalize(q);
    sqlite3_close(db);
    /* the last part damaged: its checksum fails after two parts were loaded */
    parts[2].xxh3 ^= 1;
    assert_int_equal(hr_recsdb_create(hr_test_path("r.sqlite"), 0, 0, &d, &err), 0);
    assert_int_equal(hr_recsdb_load_parts(d, PARTS, parts, got, &err), HR_ERR_CHECKSUM);
    assert_msg_has(&err, "part-2.tsv.zst");
    hr_recsdb_abort(d);
    assert_false(hr_test_exists(hr_test_path("r.sqlite")));
    for (int p = 0; p < PARTS; p++) hr_free((char *)parts[p].path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_npy_header),
        cmocka_unit_test(test_tsv_tables),
        cmocka_unit_test(test_model_reader),
        cmocka_unit_test(test_recsdb),
        cmocka_unit_test(test_recsdb_parts),
    };
    return cmocka_run_group_tests(tests, hr_test_setup, hr_test_teardown);
}
