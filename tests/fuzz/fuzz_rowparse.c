/* tests/fuzz/fuzz_rowparse.c — libFuzzer target for io/rowparse.h.
 *
 * Input: byte 0 picks the format (bits 0-1 separator, bit 2 quoting, bits 3-5 column map,
 * bits 6-7 accepted ranges); the rest is one line.  Besides "never crashes, never reads past
 * len" (ASan), it checks the contract: spans inside the line, accepted rows have non-empty
 * ids without control bytes and finite in-range values, details are short printable text, parsing is deterministic,
 * and the number/time parsers agree with strtod and with the calendar inverse.
 * Built by tests/fuzz/run.sh (clang -fsanitize=fuzzer) and, through
 * tests/tools/fuzz_replay_rowparse.c, as a plain replay driver for the checked-in corpus.
 * fuzz-sources: io/rowparse.c io/timeparse.c core/alloc.c */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "io/rowparse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Invariant violations must stop both libFuzzer and the replay driver loudly. */
#define FUZZ_CHECK(cond)                                                              \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "fuzz_rowparse: %s:%d: check failed: %s\n", __FILE__,    \
                    __LINE__, #cond);                                                 \
            abort();                                                                  \
        }                                                                             \
    } while (0)

static void fuzz_format(uint8_t sel, hr_rowfmt *f)
{
    static const char *const seps[4] = {",", "\t", " ", "::"};
    static const char *const maps[8] = {
        "user,item,rating,timestamp", "user,item",         "user,item,rating", "user,item,-,-,rating,timestamp",
        "timestamp,item,user",        "item,user,value",   "user,-,item,date", "user,item,time",
    };
    hr_rowfmt_init(f);
    const char *sep = seps[sel & 3];
    f->sep_len = (int)strlen(sep);
    memcpy(f->sep, sep, (size_t)f->sep_len + 1);
    f->quoted = (sel >> 2) & 1;
    char msg[128];
    FUZZ_CHECK(hr_rowfmt_set_columns(f, maps[(sel >> 3) & 7], msg, sizeof msg) == 0);
    switch (sel >> 6) {
    case 1:
        f->value_min = 0.5, f->value_max = 5.0;
        break;
    case 2:
        f->value_min = -1e300, f->value_max = 1e300;
        f->time_min = INT64_MIN, f->time_max = INT64_MAX;
        break;
    case 3:
        f->value_min = f->value_max = 1.0;
        f->time_min = f->time_max = 1000000000;
        break;
    default:
        break;
    }
}

static int map_has(const hr_rowfmt *f, hr_col c)
{
    for (int i = 0; i < f->ncols; i++)
        if (f->cols[i] == c) return 1;
    return 0;
}

static void check_detail(const char *detail, size_t cap, hr_reject r)
{
    const size_t n = strnlen(detail, cap);
    FUZZ_CHECK(n < cap);
    FUZZ_CHECK((r == HR_REJECT_NONE) == (n == 0));
    for (size_t i = 0; i < n; i++) FUZZ_CHECK(detail[i] >= 0x20 && detail[i] < 0x7f);
}

static void check_row(const hr_rowfmt *f, const char *buf, size_t n, const hr_row *row)
{
    FUZZ_CHECK(row->user_len > 0 && row->item_len > 0);
    FUZZ_CHECK(row->user >= buf && row->user + row->user_len <= buf + n);
    FUZZ_CHECK(row->item >= buf && row->item + row->item_len <= buf + n);
    /* ids never carry control bytes (bad_id): every TSV output can hold them */
    for (size_t k = 0; k < row->user_len; k++) FUZZ_CHECK((unsigned char)row->user[k] >= 0x20 && row->user[k] != 0x7f);
    for (size_t k = 0; k < row->item_len; k++) FUZZ_CHECK((unsigned char)row->item[k] >= 0x20 && row->item[k] != 0x7f);
    FUZZ_CHECK(row->has_value == map_has(f, HR_COL_VALUE));
    FUZZ_CHECK(row->has_time == map_has(f, HR_COL_TIME));
    if (row->has_value)
        FUZZ_CHECK(isfinite(row->value) && row->value >= f->value_min && row->value <= f->value_max);
    else
        FUZZ_CHECK(row->value == 1.0);
    if (row->has_time)
        FUZZ_CHECK(row->time >= f->time_min && row->time <= f->time_max);
    else
        FUZZ_CHECK(row->time == 0);
}

/* The number and time parsers on the raw bytes, against independent oracles. */
static void check_scalars(const char *s, size_t n)
{
    double v;
    if (hr_parse_f64(s, n, &v) == 0) {
        /* Whatever is accepted is a complete strtod number with the same bits. */
        FUZZ_CHECK(memchr(s, '\0', n) == NULL);
        char *tmp = hr_malloc(n + 1);
        memcpy(tmp, s, n);
        tmp[n] = '\0';
        char *end;
        const double want = strtod(tmp, &end);
        FUZZ_CHECK(end == tmp + n);
        FUZZ_CHECK(isnan(want) ? isnan(v) : memcmp(&v, &want, sizeof v) == 0);
        hr_free(tmp);
    }
    int64_t i;
    if (hr_parse_i64(s, n, &i) == 0) {
        FUZZ_CHECK(hr_parse_f64(s, n, &v) == 0 || n >= 128);
        if (i > -(INT64_C(1) << 53) && i < (INT64_C(1) << 53) && n < 128) FUZZ_CHECK(v == (double)i);
        int64_t t;
        FUZZ_CHECK(hr_parse_time(s, n, &t) == 0 && t == i);
    }
    int64_t t;
    if (n == 10 && hr_parse_time(s, n, &t) == 0 && s[4] == '-') {
        /* A bare date is midnight UTC of that day: the inverse must print it back. */
        FUZZ_CHECK(t % 86400 == 0);
        int y;
        unsigned m, d;
        hr_civil_from_days(t / 86400, &y, &m, &d);
        char back[16];
        snprintf(back, sizeof back, "%04d-%02u-%02u", y, m, d);
        FUZZ_CHECK(memcmp(back, s, 10) == 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    hr_rowfmt f;
    fuzz_format(data[0], &f);
    const char *text = (const char *)data + 1;
    const size_t n = size - 1;

    char *a = hr_malloc(n + 1), *b = hr_malloc(n + 1);
    memcpy(a, text, n);
    a[n] = '\0';
    memcpy(b, a, n + 1);
    hr_row ra, rb;
    char da[96];
    memset(da, 'x', sizeof da);
    const hr_reject r = hr_row_parse(&f, a, n, &ra, da, sizeof da);
    /* the parser never sets ingest's policy reasons */
    FUZZ_CHECK((unsigned)r <= HR_REJECT_MISSING_ID || r == HR_REJECT_BAD_ID);
    FUZZ_CHECK(a[n] == '\0');
    check_detail(da, sizeof da, r);
    if (r == HR_REJECT_NONE) check_row(&f, a, n, &ra);
    /* Determinism, and a detail buffer too small for the message is still terminated. */
    char tiny[5];
    const hr_reject r2 = hr_row_parse(&f, b, n, &rb, tiny, sizeof tiny);
    FUZZ_CHECK(r2 == r);
    FUZZ_CHECK(memchr(tiny, '\0', sizeof tiny) != NULL);
    FUZZ_CHECK(memcmp(a, b, n + 1) == 0);
    if (r == HR_REJECT_NONE) {
        FUZZ_CHECK(ra.user - a == rb.user - b && ra.user_len == rb.user_len);
        FUZZ_CHECK(ra.item - a == rb.item - b && ra.item_len == rb.item_len);
        FUZZ_CHECK(memcmp(&ra.value, &rb.value, sizeof ra.value) == 0 && ra.time == rb.time);
    }

    hr_rowfmt s;
    hr_rowfmt_init(&s);
    int nf = -1;
    hr_rowfmt_sniff(&s, text, n, &nf);
    FUZZ_CHECK(nf >= 0 && (size_t)nf <= n + 1);
    FUZZ_CHECK(s.sep_len == 1 || s.sep_len == 2);

    check_scalars(text, n);
    hr_free(a);
    hr_free(b);
    return 0;
}
