/* io/rowparse.h — parse one text line of an interaction log into a row.
 *
 * Formats: fields separated by ',', '\t', ' ' or "::" (MovieLens 1M/10M), with RFC 4180
 * quoting when enabled ("a,b" is one field, "" inside quotes is a literal quote; a quoted
 * field must be the whole field; fields cannot span lines).  Columns are mapped by position:
 * each position is user, item, value, time or skipped ('-').
 *
 * IDs are returned as byte spans into the (possibly rewritten) line; they may be integers or
 * arbitrary strings (ingest decides) without control bytes (HR_REJECT_BAD_ID).  Surrounding spaces are trimmed from unquoted fields
 * when the separator is not a space.  Values are finite doubles; times are Unix seconds,
 * parsed from integers (Unix seconds) or ISO-8601 dates / date-times (see hr_parse_time).
 *
 * The parser never allocates and never reads past `len`; it may rewrite the line in place
 * (unquoting).  It is a fuzz target (tests/fuzz/fuzz_rowparse.c). */
#ifndef HR_IO_ROWPARSE_H
#define HR_IO_ROWPARSE_H

#include <stddef.h>
#include <stdint.h>

#define HR_MAX_COLUMNS 64

typedef enum { HR_COL_SKIP = 0, HR_COL_USER, HR_COL_ITEM, HR_COL_VALUE, HR_COL_TIME } hr_col;

/* Reasons a row is rejected.  The names are the JSON keys `rejected_<name>`; never rename. */
typedef enum {
    HR_REJECT_NONE = 0,
    HR_REJECT_COLUMNS,     /* "wrong_columns": field count differs from the column map */
    HR_REJECT_UNPARSABLE,  /* "unparsable": a value/time field is not a number/date, bad quoting */
    HR_REJECT_NONFINITE,   /* "nonfinite": NaN or infinite value */
    HR_REJECT_RANGE,       /* "out_of_range": value or time outside the accepted range */
    HR_REJECT_MISSING_ID,  /* "missing_id": empty user or item field */
    HR_REJECT_DUPLICATE,   /* "duplicate": exact copy of an accepted event (set by ingest) */
    HR_REJECT_CONFLICT,    /* "conflict": same user and item, another value; older one dropped (ingest) */
    HR_REJECT_BOT,         /* "bot_user": user above --max-user-events (ingest) */
    HR_REJECT_BAD_ID,      /* "bad_id": a user or item id holding a control byte (0x00-0x1f, 0x7f:
                              NUL, tab, CR...), which no TSV output could carry; checked after
                              missing_id (the value is appended: values never change) */
    HR_REJECT__COUNT
} hr_reject;

const char *hr_reject_name(hr_reject r);

typedef struct hr_rowfmt {
    char sep[3];           /* "," "\t" " " or "::" */
    int sep_len;           /* 1 or 2 */
    int quoted;            /* RFC 4180 quotes allowed */
    int ncols;             /* fields expected on every line */
    hr_col cols[HR_MAX_COLUMNS];
    double value_min, value_max;  /* inclusive accepted value range */
    int64_t time_min, time_max;   /* inclusive accepted time range (Unix seconds) */
} hr_rowfmt;

typedef struct hr_row {
    const char *user;
    size_t user_len;
    const char *item;
    size_t item_len;
    int has_value;
    double value;          /* 1.0 when the format has no value column */
    int has_time;
    int64_t time;          /* 0 when the format has no time column */
} hr_row;

/* Parse a column map like "user,item,-,-,rating,timestamp" (names: user, item,
 * rating|value|count|weight, timestamp|time|date, '-').  Needs user and item exactly once,
 * value and time at most once.  Returns 0 or -1 with a message in msg. */
int hr_rowfmt_set_columns(hr_rowfmt *f, const char *spec, char *msg, size_t msg_cap);

/* Defaults: no quoting, value range [0, 1e9], time range [0, 4102444800) (before 2100). */
void hr_rowfmt_init(hr_rowfmt *f);

/* Guess separator from a sample line: "::" if present, else tab, else comma, else space.
 * Also counts fields (respecting quotes) into *nfields. */
void hr_rowfmt_sniff(hr_rowfmt *f, const char *line, size_t len, int *nfields);

/* Parse one line (NUL-terminated at line[len], no end-of-line bytes).  Returns
 * HR_REJECT_NONE and fills row, or a reason and writes a short human explanation
 * (e.g. "field 3 'abc' is not a number") to detail. */
hr_reject hr_row_parse(const hr_rowfmt *f, char *line, size_t len, hr_row *row, char *detail, size_t detail_cap);

/* Unix seconds from: an optionally signed integer (seconds), or ISO-8601
 * YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS[.frac]] (also a space instead of T), with an optional
 * 'Z' or ±HH[:MM] offset (no offset = UTC).  Returns 0 or -1. */
int hr_parse_time(const char *s, size_t n, int64_t *out);

/* Strict integer parse of a whole span (optional sign, digits only, fits int64). 0 or -1. */
int hr_parse_i64(const char *s, size_t n, int64_t *out);
/* Strict finite-or-not double parse of a whole span ("nan", "inf" are parsed; the caller
 * checks finiteness). 0 or -1. */
int hr_parse_f64(const char *s, size_t n, double *out);

/* Days since 1970-01-01 of a civil date (proleptic Gregorian). */
int64_t hr_days_from_civil(int64_t y, unsigned m, unsigned d);
/* Inverse: civil date of a day number. */
void hr_civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d);

#endif
