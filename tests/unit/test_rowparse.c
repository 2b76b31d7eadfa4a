/* tests/unit/test_rowparse.c — io/rowparse.h: separators, quoting, every reject reason,
 * number and time parsing against independent oracles (strtod, `date -u` values). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "io/rowparse.h"

/* Parses a copy of `text` (the parser rewrites quoted lines), keeping the copy alive in buf. */
static hr_reject parse(const hr_rowfmt *f, const char *text, char *buf, size_t cap, hr_row *row, char *detail,
                       size_t dcap)
{
    const size_t n = strlen(text);
    assert_true(n < cap);
    memcpy(buf, text, n + 1);
    memset(row, 0, sizeof *row);
    return hr_row_parse(f, buf, n, row, detail, dcap);
}

static void fmt_with(hr_rowfmt *f, const char *sep, int quoted, const char *cols)
{
    char msg[200];
    hr_rowfmt_init(f);
    f->sep_len = (int)strlen(sep);
    memcpy(f->sep, sep, (size_t)f->sep_len);
    f->sep[f->sep_len] = '\0';
    f->quoted = quoted;
    assert_int_equal(hr_rowfmt_set_columns(f, cols, msg, sizeof msg), 0);
}

static void assert_span(const char *p, size_t n, const char *want)
{
    assert_int_equal(n, strlen(want));
    assert_memory_equal(p, want, n);
}

/* Accepts `line` and checks user, item, value, time. */
static void expect_row(const hr_rowfmt *f, const char *line, const char *user, const char *item, double value,
                       int64_t t)
{
    char buf[512], detail[128];
    hr_row row;
    hr_reject r = parse(f, line, buf, sizeof buf, &row, detail, sizeof detail);
    if (r != HR_REJECT_NONE) fail_msg("'%s' rejected: %s (%s)", line, hr_reject_name(r), detail);
    assert_span(row.user, row.user_len, user);
    assert_span(row.item, row.item_len, item);
    assert_true(row.value == value);
    assert_true(row.time == t);
}

static hr_reject expect_reject(const hr_rowfmt *f, const char *line, hr_reject want, char *detail, size_t dcap)
{
    char buf[1024];
    hr_row row;
    hr_reject r = parse(f, line, buf, sizeof buf, &row, detail, dcap);
    if (r != want) fail_msg("'%s': got %s, want %s", line, hr_reject_name(r), hr_reject_name(want));
    if (detail && dcap) assert_true(strlen(detail) > 0 && strlen(detail) < dcap);
    return r;
}

static void test_reject_names(void **state)
{
    (void)state;
    assert_string_equal(hr_reject_name(HR_REJECT_NONE), "none");
    assert_string_equal(hr_reject_name(HR_REJECT_COLUMNS), "wrong_columns");
    assert_string_equal(hr_reject_name(HR_REJECT_UNPARSABLE), "unparsable");
    assert_string_equal(hr_reject_name(HR_REJECT_NONFINITE), "nonfinite");
    assert_string_equal(hr_reject_name(HR_REJECT_RANGE), "out_of_range");
    assert_string_equal(hr_reject_name(HR_REJECT_MISSING_ID), "missing_id");
    assert_string_equal(hr_reject_name(HR_REJECT_DUPLICATE), "duplicate");
    assert_string_equal(hr_reject_name(HR_REJECT_CONFLICT), "conflict");
    assert_string_equal(hr_reject_name(HR_REJECT_BOT), "bot_user");
    assert_string_equal(hr_reject_name(HR_REJECT_BAD_ID), "bad_id");
    assert_string_equal(hr_reject_name(HR_REJECT__COUNT), "unknown");
}

/* Ids with control bytes (NUL, tab, CR, ESC, DEL) are rejected with their position; a value
 * with one is still only unparsable; a missing id is reported first. */
static void test_control_bytes_in_ids(void **state)
{
    (void)state;
    hr_rowfmt f;
    char detail[128], buf[64];
    hr_row row;
    fmt_with(&f, ",", 1, "user,item,rating,timestamp");
    static const struct { const char *line; size_t len; const char *detail; } bad[] = {
        { "u\0x,i,1,2", sizeof "u\0x,i,1,2" - 1, "user field 1 holds control byte 0x00 at byte 2" },
        { "u,\0,1,2", sizeof "u,\0,1,2" - 1, "item field 2 holds control byte 0x00 at byte 1" },
        { "\"a\tb\",i,1,2", sizeof "\"a\tb\",i,1,2" - 1, "user field 1 holds control byte 0x09 at byte 2" },
        { "ab\rc,i,1,2", sizeof "ab\rc,i,1,2" - 1, "user field 1 holds control byte 0x0d at byte 3" },
        { "u,i\x1b[31m,1,2", sizeof "u,i\x1b[31m,1,2" - 1, "item field 2 holds control byte 0x1b at byte 2" },
        { "u,i\x7f,1,2", sizeof "u,i\x7f,1,2" - 1, "item field 2 holds control byte 0x7f at byte 2" },
        { "u\x01,i,abc,2", sizeof "u\x01,i,abc,2" - 1, "user field 1 holds control byte 0x01 at byte 2" },   /* before the value check */
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        memcpy(buf, bad[k].line, bad[k].len + 1);
        hr_reject r = hr_row_parse(&f, buf, bad[k].len, &row, detail, sizeof detail);
        if (r != HR_REJECT_BAD_ID) fail_msg("case %zu: got %s (%s)", k, hr_reject_name(r), detail);
        assert_string_equal(detail, bad[k].detail);
    }
    /* missing_id first; bytes >= 0x80 (UTF-8) and spaces are ids' business */
    expect_reject(&f, ",i\x01,1,2", HR_REJECT_MISSING_ID, detail, sizeof detail);
    expect_row(&f, "caf\xc3\xa9 au lait,\xe2\x82\xac,1,2", "caf\xc3\xa9 au lait", "\xe2\x82\xac", 1.0, 2);
    /* a control byte in a value or skipped column is not an id */
    expect_reject(&f, "u,i,1\x01,2", HR_REJECT_UNPARSABLE, detail, sizeof detail);
    fmt_with(&f, ",", 0, "user,item,-");
    expect_row(&f, "u,i,\x01", "u", "i", 1.0, 0);
    /* one field where several are expected: the missing separator is named */
    fmt_with(&f, "\t", 0, "user,item,rating");
    expect_reject(&f, "u,i,3", HR_REJECT_COLUMNS, detail, sizeof detail);
    assert_string_equal(detail, "1 field, expected 3: no tab in the line");
}

static void test_defaults(void **state)
{
    (void)state;
    hr_rowfmt f;
    hr_rowfmt_init(&f);
    assert_string_equal(f.sep, ",");
    assert_int_equal(f.sep_len, 1);
    assert_int_equal(f.quoted, 0);
    assert_true(f.value_min == 0.0 && f.value_max == 1e9);
    assert_true(f.time_min == 0 && f.time_max == 4102444799);
    expect_row(&f, "196,242,3,881250949", "196", "242", 3.0, 881250949);
    char detail[128];
    expect_reject(&f, "1,2,3,4102444800", HR_REJECT_RANGE, detail, sizeof detail);
    expect_row(&f, "1,2,1000000000,4102444799", "1", "2", 1e9, 4102444799);
    expect_reject(&f, "1,2,1000000000.5,0", HR_REJECT_RANGE, detail, sizeof detail);
}

static void test_set_columns(void **state)
{
    (void)state;
    hr_rowfmt f;
    char msg[200];
    hr_rowfmt_init(&f);
    assert_int_equal(hr_rowfmt_set_columns(&f, "user,item,-,-,rating,timestamp", msg, sizeof msg), 0);
    assert_int_equal(f.ncols, 6);
    const hr_col want[6] = {HR_COL_USER, HR_COL_ITEM, HR_COL_SKIP, HR_COL_SKIP, HR_COL_VALUE, HR_COL_TIME};
    for (int i = 0; i < 6; i++) assert_int_equal(f.cols[i], want[i]);

    assert_int_equal(hr_rowfmt_set_columns(&f, "userID,ArtistID,Weight", msg, sizeof msg), 0);
    assert_int_equal(f.ncols, 3);
    assert_int_equal(f.cols[1], HR_COL_ITEM);
    assert_int_equal(f.cols[2], HR_COL_VALUE);
    assert_int_equal(hr_rowfmt_set_columns(&f, "ts, movieId ,USER_ID,score", msg, sizeof msg), 0);
    assert_int_equal(f.cols[0], HR_COL_TIME);
    assert_int_equal(f.cols[2], HR_COL_USER);
    assert_int_equal(hr_rowfmt_set_columns(&f, "item_id,user,date,count", msg, sizeof msg), 0);
    assert_int_equal(hr_rowfmt_set_columns(&f, "movie,userid,time,value", msg, sizeof msg), 0);
    assert_int_equal(hr_rowfmt_set_columns(&f, "user,itemid", msg, sizeof msg), 0);
    assert_int_equal(f.ncols, 2);

    /* Failures leave the previous map in place. */
    const char *bad[] = {"user,item,rating,bogus", "item,rating", "user,rating", "user,user,item",
                         "user,item,movie",        "user,item,rating,score", "user,item,time,date",
                         "user,,item",             "",                        "user,item,",
                         "users,item"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        msg[0] = '\0';
        if (hr_rowfmt_set_columns(&f, bad[k], msg, sizeof msg) != -1) fail_msg("spec '%s' accepted", bad[k]);
        assert_true(strlen(msg) > 0);
        assert_int_equal(f.ncols, 2);
        assert_int_equal(f.cols[1], HR_COL_ITEM);
    }
    assert_int_equal(hr_rowfmt_set_columns(&f, "user,item,rating,bogus", msg, sizeof msg), -1);
    assert_non_null(strstr(msg, "bogus"));

    char spec[400] = "user,item";
    for (int i = 2; i < HR_MAX_COLUMNS; i++) strcat(spec, ",-");
    assert_int_equal(hr_rowfmt_set_columns(&f, spec, msg, sizeof msg), 0);
    assert_int_equal(f.ncols, HR_MAX_COLUMNS);
    strcat(spec, ",-");
    assert_int_equal(hr_rowfmt_set_columns(&f, spec, msg, sizeof msg), -1);
    assert_int_equal(hr_rowfmt_set_columns(&f, "user,item", NULL, 0), 0);
    assert_int_equal(hr_rowfmt_set_columns(&f, "nope", NULL, 0), -1);
}

static void test_separators(void **state)
{
    (void)state;
    hr_rowfmt f;
    fmt_with(&f, "\t", 0, "user,item,rating,timestamp");
    expect_row(&f, "196\t242\t3\t881250949", "196", "242", 3.0, 881250949);
    expect_row(&f, " 196 \t 242\t3 \t881250949\r", "196", "242", 3.0, 881250949);
    char detail[128];
    expect_reject(&f, "196 242 3 881250949", HR_REJECT_COLUMNS, detail, sizeof detail);
    expect_reject(&f, "196\t\t3\t881250949", HR_REJECT_MISSING_ID, detail, sizeof detail);

    fmt_with(&f, "::", 0, "user,item,rating,timestamp");
    expect_row(&f, "1::1193::5::978300760", "1", "1193", 5.0, 978300760);
    expect_row(&f, "1 :: 1193 ::5::978300760 ", "1", "1193", 5.0, 978300760);
    expect_row(&f, "a:b::c:d::2::0", "a:b", "c:d", 2.0, 0);
    expect_reject(&f, "1:1193:5:978300760", HR_REJECT_COLUMNS, detail, sizeof detail);
    /* A time with colons inside a "::" file is a single field. */
    fmt_with(&f, "::", 0, "user,item,time");
    expect_row(&f, "7::8::2026-11-01T10:20:30Z", "7", "8", 1.0, 1793528430);

    fmt_with(&f, " ", 0, "user,item,rating");
    expect_row(&f, "1 1 2", "1", "1", 2.0, 0);
    expect_row(&f, "1    2   3.5", "1", "2", 3.5, 0);
    expect_row(&f, "   1 2 0.5   ", "1", "2", 0.5, 0);
    expect_row(&f, "1 2 4\r", "1", "2", 4.0, 0);
    expect_row(&f, "1 2 4 \r", "1", "2", 4.0, 0);
    expect_reject(&f, "1 2", HR_REJECT_COLUMNS, detail, sizeof detail);
    expect_reject(&f, "1 2 3 4", HR_REJECT_COLUMNS, detail, sizeof detail);
    expect_reject(&f, "", HR_REJECT_COLUMNS, detail, sizeof detail);
    assert_string_equal(detail, "0 fields, expected 3");
    expect_reject(&f, "     ", HR_REJECT_COLUMNS, detail, sizeof detail);

    fmt_with(&f, ",", 0, "user,item,rating,timestamp");
    expect_row(&f, " 1 ,\t2\t, 4.5 ,874724710 ", "1", "2", 4.5, 874724710);
    expect_row(&f, "1,2,4.5,874724710\r", "1", "2", 4.5, 874724710);
    expect_reject(&f, "1,2,4.5,874724710,", HR_REJECT_COLUMNS, detail, sizeof detail);
    assert_string_equal(detail, "5 fields, expected 4");
}

static void test_quoting(void **state)
{
    (void)state;
    hr_rowfmt f;
    char detail[128];
    fmt_with(&f, ",", 1, "user,item,rating,timestamp");
    expect_row(&f, "\"a,b\",\"x\"\"y\",4,5", "a,b", "x\"y", 4.0, 5);
    expect_row(&f, "\"\"\"\",\"\"\"q\"\"\",\"4.5\",\"5\"", "\"", "\"q\"", 4.5, 5);
    expect_row(&f, " \"u 1\" , \"i\" ,1,2", "u 1", "i", 1.0, 2);
    expect_row(&f, "a\"b,c\"\"d,1,2", "a\"b", "c\"\"d", 1.0, 2);   /* quotes inside unquoted fields are data */
    /* a control byte inside an id (here a quoted newline) could not be written to any TSV */
    expect_reject(&f, "\"line\nbreak\",i,1,2", HR_REJECT_BAD_ID, detail, sizeof detail);
    assert_string_equal(detail, "user field 1 holds control byte 0x0a at byte 5");
    expect_reject(&f, "\"\",i,1,2", HR_REJECT_MISSING_ID, detail, sizeof detail);
    expect_reject(&f, "\"a\"b,i,1,2", HR_REJECT_UNPARSABLE, detail, sizeof detail);
    assert_non_null(strstr(detail, "bad quoting"));
    expect_reject(&f, "u,\"abc,1,2", HR_REJECT_UNPARSABLE, detail, sizeof detail);
    assert_non_null(strstr(detail, "field 2"));
    expect_reject(&f, "u,i,1,\"2", HR_REJECT_UNPARSABLE, detail, sizeof detail);
    expect_reject(&f, "u,i,1,\"2\"\"", HR_REJECT_UNPARSABLE, detail, sizeof detail);
    /* Quoting is opt-in: without it the quoted comma splits the field. */
    fmt_with(&f, ",", 0, "user,item,rating,timestamp");
    expect_reject(&f, "\"a,b\",i,1,2", HR_REJECT_COLUMNS, detail, sizeof detail);
    expect_row(&f, "\"a\",i,1,2", "\"a\"", "i", 1.0, 2);
    /* Other separators quote too. */
    fmt_with(&f, "\t", 1, "user,item,rating");
    expect_row(&f, "\"a b\"\t\"c\"\t1", "a b", "c", 1.0, 0);
    expect_reject(&f, "\"a\tb\"\t\"c\"\t1", HR_REJECT_BAD_ID, detail, sizeof detail);
    fmt_with(&f, " ", 1, "user,item,rating");
    expect_row(&f, "\"New York\"  \"x y\" 3", "New York", "x y", 3.0, 0);
    expect_reject(&f, "\"New York\"x \"x y\" 3", HR_REJECT_UNPARSABLE, detail, sizeof detail);
    fmt_with(&f, "::", 1, "user,item,rating");
    expect_row(&f, "\"a::b\"::c::3", "a::b", "c", 3.0, 0);
}

static void test_reject_reasons(void **state)
{
    (void)state;
    hr_rowfmt f;
    char detail[128];
    fmt_with(&f, ",", 0, "user,item,rating,timestamp");
    f.value_min = 0.5;
    f.value_max = 5.0;
    expect_reject(&f, "1,2,3", HR_REJECT_COLUMNS, detail, sizeof detail);
    assert_string_equal(detail, "3 fields, expected 4");
    expect_reject(&f, ",2,3,4", HR_REJECT_MISSING_ID, detail, sizeof detail);
    expect_reject(&f, "  ,2,3,4", HR_REJECT_MISSING_ID, detail, sizeof detail);
    expect_reject(&f, "1,,3,4", HR_REJECT_MISSING_ID, detail, sizeof detail);
    assert_non_null(strstr(detail, "item"));
    expect_reject(&f, "1,2,abc,4", HR_REJECT_UNPARSABLE, detail, sizeof detail);
    assert_string_equal(detail, "field 3 'abc' is not a number");
    expect_reject(&f, "1,2,,4", HR_REJECT_UNPARSABLE, detail, sizeof detail);
    expect_reject(&f, "1,2,3.5.1,4", HR_REJECT_UNPARSABLE, detail, sizeof detail);
    expect_reject(&f, "1,2,0x10,4", HR_REJECT_UNPARSABLE, detail, sizeof detail);
    const char *nonfinite[] = {"1,2,nan,4", "1,2,NaN,4", "1,2,inf,4", "1,2,-Infinity,4", "1,2,1e999,4"};
    for (size_t k = 0; k < 5; k++) expect_reject(&f, nonfinite[k], HR_REJECT_NONFINITE, detail, sizeof detail);
    expect_reject(&f, "1,2,5.5,4", HR_REJECT_RANGE, detail, sizeof detail);
    expect_reject(&f, "1,2,0,4", HR_REJECT_RANGE, detail, sizeof detail);
    expect_reject(&f, "1,2,-1,4", HR_REJECT_RANGE, detail, sizeof detail);
    expect_row(&f, "1,2,0.5,4", "1", "2", 0.5, 4);
    expect_row(&f, "1,2,5e0,4", "1", "2", 5.0, 4);
    expect_reject(&f, "1,2,3,x", HR_REJECT_UNPARSABLE, detail, sizeof detail);
    assert_string_equal(detail, "field 4 'x' is not a time");
    expect_reject(&f, "1,2,3,", HR_REJECT_UNPARSABLE, detail, sizeof detail);
    expect_reject(&f, "1,2,3,2011-13-01", HR_REJECT_UNPARSABLE, detail, sizeof detail);
    expect_reject(&f, "1,2,3,-5", HR_REJECT_RANGE, detail, sizeof detail);
    expect_reject(&f, "1,2,3,1700000000000", HR_REJECT_RANGE, detail, sizeof detail);   /* milliseconds */
    expect_reject(&f, "1,2,3,99999999999999999999", HR_REJECT_UNPARSABLE, detail, sizeof detail);
    f.time_min = -100;
    expect_row(&f, "1,2,3,-5", "1", "2", 3.0, -5);

    /* Order: columns, ids, value, time — whatever the column order. */
    expect_reject(&f, ",2,abc,x,9", HR_REJECT_COLUMNS, detail, sizeof detail);
    expect_reject(&f, ",2,abc,x", HR_REJECT_MISSING_ID, detail, sizeof detail);
    expect_reject(&f, "1,2,abc,x", HR_REJECT_UNPARSABLE, detail, sizeof detail);
    assert_non_null(strstr(detail, "field 3"));
    expect_reject(&f, "1,2,nan,x", HR_REJECT_NONFINITE, detail, sizeof detail);
    expect_reject(&f, "1,2,9,x", HR_REJECT_RANGE, detail, sizeof detail);
    fmt_with(&f, ",", 0, "timestamp,rating,item,user");
    expect_reject(&f, "x,abc,2,", HR_REJECT_MISSING_ID, detail, sizeof detail);
    expect_reject(&f, "x,abc,2,1", HR_REJECT_UNPARSABLE, detail, sizeof detail);
    assert_non_null(strstr(detail, "field 2"));
    expect_row(&f, "7,3,2,1", "1", "2", 3.0, 7);

    /* A hand-built map without an item column never accepts a row. */
    hr_rowfmt_init(&f);
    f.ncols = 2;
    f.cols[0] = HR_COL_USER;
    f.cols[1] = HR_COL_SKIP;
    expect_reject(&f, "1,2", HR_REJECT_MISSING_ID, detail, sizeof detail);
    f.ncols = HR_MAX_COLUMNS + 1;
    expect_reject(&f, "1,2", HR_REJECT_COLUMNS, detail, sizeof detail);
}

static void test_detail_is_bounded(void **state)
{
    (void)state;
    hr_rowfmt f;
    fmt_with(&f, ",", 0, "user,item,rating");
    char line[400], detail[200];
    strcpy(line, "1,2,");
    size_t n = strlen(line);
    for (int i = 0; i < 300; i++) line[n++] = (char)(i % 3 == 0 ? '\x01' : i % 3 == 1 ? '\xff' : 'z');
    line[n] = '\0';
    expect_reject(&f, line, HR_REJECT_UNPARSABLE, detail, sizeof detail);
    assert_true(strlen(detail) < 90);
    assert_non_null(strstr(detail, "..."));
    for (const char *p = detail; *p; p++) assert_true(*p >= 0x20 && *p < 0x7f);
    /* A tiny buffer still gets a terminated prefix; no buffer at all is fine. */
    char tiny[6];
    memset(tiny, 'X', sizeof tiny);
    expect_reject(&f, "1,2,abc", HR_REJECT_UNPARSABLE, tiny, sizeof tiny);
    assert_string_equal(tiny, "field");
    expect_reject(&f, "1,2,abc", HR_REJECT_UNPARSABLE, NULL, 0);
    char ok_detail[16] = "stale";
    hr_row row;
    char buf[32];
    assert_int_equal(parse(&f, "1,2,3", buf, sizeof buf, &row, ok_detail, sizeof ok_detail), HR_REJECT_NONE);
    assert_string_equal(ok_detail, "");
}

static void test_ids_and_optional_columns(void **state)
{
    (void)state;
    hr_rowfmt f;
    char buf[256], detail[128];
    hr_row row;
    fmt_with(&f, ",", 1, "user,item");
    assert_int_equal(parse(&f, "9223372036854775807,18446744073709551616", buf, sizeof buf, &row, detail, sizeof detail),
                     HR_REJECT_NONE);
    assert_span(row.user, row.user_len, "9223372036854775807");
    assert_span(row.item, row.item_len, "18446744073709551616");
    assert_int_equal(row.has_value, 0);
    assert_true(row.value == 1.0);
    assert_int_equal(row.has_time, 0);
    assert_true(row.time == 0);
    /* Spans point into the caller's buffer. */
    assert_true(row.user >= buf && row.item + row.item_len <= buf + strlen(buf) + 1);
    expect_row(&f, "alice@example.com,\"The Matrix (1999)\"", "alice@example.com", "The Matrix (1999)", 1.0, 0);
    expect_row(&f, "ünïcødé,\xe2\x9c\x93", "ünïcødé", "\xe2\x9c\x93", 1.0, 0);

    fmt_with(&f, ",", 0, "user,item,rating");
    assert_int_equal(parse(&f, "u,i,2.5", buf, sizeof buf, &row, detail, sizeof detail), HR_REJECT_NONE);
    assert_int_equal(row.has_value, 1);
    assert_int_equal(row.has_time, 0);
    fmt_with(&f, ",", 0, "user,item,time");
    assert_int_equal(parse(&f, "u,i,2011-06-17", buf, sizeof buf, &row, detail, sizeof detail), HR_REJECT_NONE);
    assert_int_equal(row.has_value, 0);
    assert_int_equal(row.has_time, 1);
    assert_true(row.time == 1308268800);
}

static void test_real_dataset_lines(void **state)
{
    (void)state;
    hr_rowfmt f;
    char detail[128];
    /* MovieLens latest-small: the header must not look like data. */
    fmt_with(&f, ",", 1, "user,item,rating,timestamp");
    expect_reject(&f, "userId,movieId,rating,timestamp", HR_REJECT_UNPARSABLE, detail, sizeof detail);
    expect_row(&f, "1,1,4.0,964982703", "1", "1", 4.0, 964982703);
    /* HetRec Last.fm, CRLF file read without CR stripping. */
    fmt_with(&f, "\t", 0, "user,item,weight");
    expect_reject(&f, "userID\tartistID\tweight\r", HR_REJECT_UNPARSABLE, detail, sizeof detail);
    expect_row(&f, "2\t51\t13883\r", "2", "51", 13883.0, 0);
    /* CiaoDVD: user, movie, genre, review, rating, date. */
    fmt_with(&f, ",", 0, "user,item,-,-,rating,timestamp");
    expect_row(&f, "1,2,3,4,5,2011-06-17", "1", "2", 5.0, 1308268800);
    expect_reject(&f, "1,2,3,4,5,2011-06-31", HR_REJECT_UNPARSABLE, detail, sizeof detail);
    /* FilmTrust: single spaces, half-star ratings. */
    fmt_with(&f, " ", 0, "user,item,rating");
    expect_row(&f, "1 3 3.5", "1", "3", 3.5, 0);
}

static void test_parse_time(void **state)
{
    (void)state;
    /* Expected values from `date -u -d STRING +%s`. */
    static const struct {
        const char *s;
        int64_t t;
    } good[] = {
        {"2026-11-01", 1793491200},
        {"2011-06-17", 1308268800},
        {"2024-02-29", 1709164800},
        {"2000-02-29", 951782400},
        {"1970-01-01", 0},
        {"1900-03-01", -2203891200},
        {"2026-11-01T10:20:30Z", 1793528430},
        {"2026-11-01 10:20:30", 1793528430},
        {"2026-11-01t10:20:30z", 1793528430},
        {"2026-11-01T10:20:30.999Z", 1793528430},
        {"2026-11-01T10:20:30,5", 1793528430},
        {"2026-11-01T10:20:30+02:00", 1793521230},
        {"2026-11-01T10:20:30+0200", 1793521230},
        {"2026-11-01T10:20:30+02", 1793521230},
        {"2026-11-01T10:20-05:30", 1793548200},
        {"2026-11-01T10:20", 1793528400},
        {"2099-12-31T23:59:59Z", 4102444799},
        {"1969-12-31T23:59:59Z", -1},
        {"2016-12-31T23:59:60Z", 1483228800},
        {"874724710", 874724710},
        {"+874724710", 874724710},
        {"-1", -1},
        {"0", 0},
        {"9223372036854775807", INT64_MAX},
    };
    for (size_t k = 0; k < sizeof good / sizeof good[0]; k++) {
        int64_t t = 12345;
        if (hr_parse_time(good[k].s, strlen(good[k].s), &t) != 0) fail_msg("'%s' not parsed", good[k].s);
        if (t != good[k].t) fail_msg("'%s' -> %lld, want %lld", good[k].s, (long long)t, (long long)good[k].t);
    }
    static const char *const bad[] = {
        "",                    "2023-02-29",           "1900-02-29",          "2024-02-30",
        "2024-04-31",          "2024-13-01",           "2024-00-10",          "2024-01-00",
        "2024-01-32",          "2024-1-01",            "24-01-01",            "2024/01/01",
        "2024-01-01T",         "2024-01-01T24:00",     "2024-01-01T10:60",    "2024-01-01T10:00:61",
        "2024-01-01T1:00",     "2024-01-01T10",        "2024-01-01T10:00:00.", "2024-01-01T10:00+2",
        "2024-01-01T10:00+24:00", "2024-01-01T10:00+02:60", "2024-01-01T10:00+02:", "2024-01-01T10:00Zx",
        "2024-01-01Z",         "2024-01-01 ",          "12.5",                "1e9",
        "abc",                 "-",                    "2024-01-01T10:00:00 Z", "99999999999999999999",
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        int64_t t;
        if (hr_parse_time(bad[k], strlen(bad[k]), &t) == 0) fail_msg("'%s' accepted as %lld", bad[k], (long long)t);
    }
    /* Only the span counts: a valid prefix of a longer buffer parses as itself. */
    int64_t t;
    assert_int_equal(hr_parse_time("2026-11-01T10:20:30Zjunk", 20, &t), 0);
    assert_true(t == 1793528430);
    assert_int_equal(hr_parse_time("2026-11-01T10:20:30Zjunk", 10, &t), 0);
    assert_true(t == 1793491200);
}

static void test_civil_days(void **state)
{
    (void)state;
    assert_true(hr_days_from_civil(1970, 1, 1) == 0);
    assert_true(hr_days_from_civil(2000, 3, 1) == 11017);
    assert_true(hr_days_from_civil(1969, 12, 31) == -1);
    assert_true(hr_days_from_civil(2026, 11, 1) * 86400 == 1793491200);
    /* Walk day by day across 1600..2400: the inverse must round-trip and dates must step
     * exactly like a calendar (checked against a naive month-length table). */
    int64_t z = hr_days_from_civil(1600, 1, 1);
    int yy = 1600;
    unsigned mm = 1, dd = 1;
    static const unsigned dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    while (yy < 2400) {
        int y;
        unsigned m, d;
        hr_civil_from_days(z, &y, &m, &d);
        if (y != yy || m != mm || d != dd) fail_msg("day %lld: %d-%u-%u, want %d-%u-%u", (long long)z, y, m, d, yy, mm, dd);
        assert_true(hr_days_from_civil(y, m, d) == z);
        const int leap = (yy % 4 == 0 && yy % 100 != 0) || yy % 400 == 0;
        const unsigned len = mm == 2 && leap ? 29 : dm[mm - 1];
        if (++dd > len) {
            dd = 1;
            if (++mm > 12) mm = 1, yy++;
        }
        z++;
    }
    int y;
    unsigned m, d;
    hr_civil_from_days(-719468, &y, &m, &d);   /* 0000-03-01 */
    assert_int_equal(y, 0);
    assert_int_equal(m, 3);
    assert_int_equal(d, 1);
    hr_civil_from_days(INT64_MAX, &y, &m, &d);   /* clamped, must not trap */
    assert_true(m >= 1 && m <= 12 && d >= 1 && d <= 31);
}

static void test_parse_i64(void **state)
{
    (void)state;
    int64_t v;
    assert_int_equal(hr_parse_i64("9223372036854775807", 19, &v), 0);
    assert_true(v == INT64_MAX);
    assert_int_equal(hr_parse_i64("-9223372036854775808", 20, &v), 0);
    assert_true(v == INT64_MIN);
    assert_int_equal(hr_parse_i64("9223372036854775808", 19, &v), -1);
    assert_int_equal(hr_parse_i64("-9223372036854775809", 20, &v), -1);
    assert_int_equal(hr_parse_i64("99999999999999999999", 20, &v), -1);
    assert_int_equal(hr_parse_i64("000000000000000000000000042", 27, &v), 0);
    assert_true(v == 42);
    assert_int_equal(hr_parse_i64("-0", 2, &v), 0);
    assert_true(v == 0);
    assert_int_equal(hr_parse_i64("+17", 3, &v), 0);
    assert_true(v == 17);
    const char *bad[] = {"", "+", "-", "12a", " 1", "1 ", "1.0", "1e3", "--1", "0x1"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++)
        if (hr_parse_i64(bad[k], strlen(bad[k]), &v) == 0) fail_msg("'%s' accepted", bad[k]);
    assert_int_equal(hr_parse_i64("123456", 3, &v), 0);
    assert_true(v == 123);
    /* Random round trip through printf. */
    hr_rng r = hr_rng_stream(7, 100, 0);
    for (int i = 0; i < 20000; i++) {
        const int64_t x = (int64_t)(hr_rng_u64(&r) >> (1 + hr_rng_below(&r, 63)));
        const int64_t want = (i & 1) ? -x : x;
        char s[32];
        const int n = snprintf(s, sizeof s, "%lld", (long long)want);
        assert_int_equal(hr_parse_i64(s, (size_t)n, &v), 0);
        assert_true(v == want);
    }
}

/* A random decimal string of the kinds logs contain, sometimes beyond the fast path. */
static size_t random_decimal(hr_rng *r, char *s)
{
    size_t n = 0;
    const uint64_t sign = hr_rng_below(r, 8);
    if (sign == 0) s[n++] = '-';
    else if (sign == 1) s[n++] = '+';
    const int ilen = (int)hr_rng_below(r, hr_rng_below(r, 4) == 0 ? 22 : 8);
    const int flen = hr_rng_below(r, 3) == 0 ? -1 : (int)hr_rng_below(r, hr_rng_below(r, 4) == 0 ? 26 : 8);
    const int lead0 = hr_rng_below(r, 6) == 0;
    for (int i = 0; i < ilen; i++) s[n++] = (char)('0' + (lead0 && i < 2 ? 0 : (int)hr_rng_below(r, 10)));
    if (flen >= 0) {
        s[n++] = '.';
        for (int i = 0; i < flen; i++) s[n++] = (char)('0' + hr_rng_below(r, 10));
    }
    if (ilen == 0 && flen <= 0) s[n++] = '7';   /* "." or "" alone is not a number */
    if (hr_rng_below(r, 10) == 0) n += (size_t)sprintf(s + n, "e%d", (int)hr_rng_below(r, 80) - 40);
    s[n] = '\0';
    return n;
}

static void test_f64_equals_strtod(void **state)
{
    (void)state;
    const char *env = getenv("HR_TEST_SEED");
    const uint64_t seed = env ? strtoull(env, NULL, 10) : 20240601u;
    hr_rng r = hr_rng_stream(seed, 101, 0);
    for (int i = 0; i < 100000; i++) {
        char s[96];
        const size_t n = random_decimal(&r, s);
        char *end;
        const double want = strtod(s, &end);
        assert_true(end == s + n);
        double got = -12345.0;
        if (hr_parse_f64(s, n, &got) != 0) fail_msg("seed %llu: '%s' rejected", (unsigned long long)seed, s);
        if (memcmp(&got, &want, sizeof got) != 0)
            fail_msg("seed %llu: '%s' -> %.17g, strtod %.17g", (unsigned long long)seed, s, got, want);
    }
    /* Rounding edges of the fast path. */
    const char *edge[] = {"9007199254740992", "9007199254740993", "9007199254740993.0", "0.1", "0.3",
                          "1234567890123456789", "12345678901234567890", "0.0000000000000000000001",
                          "0.00000000000000000000001", "4.35", "874724710.5", "-0", "-0.0", "5.", ".5",
                          "1.7976931348623157e308", "4.9e-324", "2.2250738585072011e-308"};
    for (size_t k = 0; k < sizeof edge / sizeof edge[0]; k++) {
        double got;
        const double want = strtod(edge[k], NULL);
        assert_int_equal(hr_parse_f64(edge[k], strlen(edge[k]), &got), 0);
        if (memcmp(&got, &want, sizeof got) != 0) fail_msg("'%s' -> %.17g, strtod %.17g", edge[k], got, want);
    }
}

static void test_f64_syntax(void **state)
{
    (void)state;
    double v;
    const char *good[] = {"NaN", "-nan", "inf", "+INF", "-Infinity", "1e5", "1E+05", "2.5e-3", "00.5", "1e999"};
    for (size_t k = 0; k < sizeof good / sizeof good[0]; k++)
        if (hr_parse_f64(good[k], strlen(good[k]), &v) != 0) fail_msg("'%s' rejected", good[k]);
    assert_int_equal(hr_parse_f64("nan", 3, &v), 0);
    assert_true(isnan(v));
    assert_int_equal(hr_parse_f64("-inf", 4, &v), 0);
    assert_true(isinf(v) && v < 0);
    const char *bad[] = {"",    "-",   "+",      ".",     "-.",   "1.2.3", "0x10", " 1",  "1 ", "1e",   "1e+",
                         "e5",  "abc", "nan(1)", "infin", "1,5",  "--1",   "1-",   "1e5.", "Ｎ",  "1\x00"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        const size_t n = k == sizeof bad / sizeof bad[0] - 1 ? 2 : strlen(bad[k]);
        if (hr_parse_f64(bad[k], n, &v) == 0) fail_msg("'%s' accepted", bad[k]);
    }
    /* Span, not string: the digits after n are not read. */
    assert_int_equal(hr_parse_f64("4.5678", 3, &v), 0);
    assert_true(v == 4.5);
    assert_int_equal(hr_parse_f64("1e5", 2, &v), -1);
    char longnum[200];
    memset(longnum, '1', sizeof longnum);
    char terminated[128];
    memcpy(terminated, longnum, 127);
    terminated[127] = '\0';
    assert_int_equal(hr_parse_f64(longnum, 127, &v), 0);
    assert_true(v == strtod(terminated, NULL));
    assert_int_equal(hr_parse_f64(longnum, sizeof longnum, &v), -1);
}

static void test_sniff(void **state)
{
    (void)state;
    static const struct {
        const char *line;
        const char *sep;
        int quoted, nfields;
    } cases[] = {
        {"1::1193::5::978300760", "::", 0, 4},
        {"196\t242\t3\t881250949", "\t", 0, 4},
        {"userID\tartistID\tweight", "\t", 0, 3},
        {"userId,movieId,rating,timestamp", ",", 1, 4},
        {"1,\"Toy Story (1995)\",\"Adventure, Animation\"", ",", 1, 3},
        {"1,\"unterminated, still one field", ",", 1, 2},
        {"1,\"a\"x,3", ",", 1, 3},
        {"1 1 2", " ", 0, 3},
        {"  1   1  2  ", " ", 0, 3},
        {"single", " ", 0, 1},
        {"", " ", 0, 0},
        {"a,b\tc", "\t", 0, 2},
        {"a::b,c\td", "::", 0, 2},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        hr_rowfmt f;
        hr_rowfmt_init(&f);
        int nf = -1;
        hr_rowfmt_sniff(&f, cases[k].line, strlen(cases[k].line), &nf);
        if (strcmp(f.sep, cases[k].sep) != 0 || f.sep_len != (int)strlen(cases[k].sep) || f.quoted != cases[k].quoted ||
            nf != cases[k].nfields)
            fail_msg("'%s': sep '%s'/%d quoted %d fields %d", cases[k].line, f.sep, f.sep_len, f.quoted, nf);
    }
    /* Sniffing must not rewrite the line (it is const). */
    const char line[] = "\"a\"\"b\",c";
    char copy[sizeof line];
    memcpy(copy, line, sizeof line);
    hr_rowfmt f;
    int nf;
    hr_rowfmt_sniff(&f, copy, strlen(copy), &nf);
    assert_int_equal(nf, 2);
    assert_memory_equal(copy, line, sizeof line);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reject_names),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_set_columns),
        cmocka_unit_test(test_separators),
        cmocka_unit_test(test_quoting),
        cmocka_unit_test(test_control_bytes_in_ids),
        cmocka_unit_test(test_reject_reasons),
        cmocka_unit_test(test_detail_is_bounded),
        cmocka_unit_test(test_ids_and_optional_columns),
        cmocka_unit_test(test_real_dataset_lines),
        cmocka_unit_test(test_parse_time),
        cmocka_unit_test(test_civil_days),
        cmocka_unit_test(test_parse_i64),
        cmocka_unit_test(test_f64_equals_strtod),
        cmocka_unit_test(test_f64_syntax),
        cmocka_unit_test(test_sniff),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
