/* io/rowparse.c — split one text line into fields and map them onto a row.
 *
 * The hot path is one forward scan per line: find the separator, trim, record a span.  Only
 * a field that starts with '"' (when quoting is on) takes the slower unescaping path, and
 * only rejected rows pay for formatting a message. */
#include "io/rowparse.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    size_t off, len;
} field_span;

/* Why a split failed; the field number comes back separately. */
enum { SPLIT_OK = 0, SPLIT_UNTERMINATED, SPLIT_AFTER_QUOTE };

static const char *const reject_names[HR_REJECT__COUNT] = {
    [HR_REJECT_NONE] = "none",
    [HR_REJECT_COLUMNS] = "wrong_columns",
    [HR_REJECT_UNPARSABLE] = "unparsable",
    [HR_REJECT_NONFINITE] = "nonfinite",
    [HR_REJECT_RANGE] = "out_of_range",
    [HR_REJECT_MISSING_ID] = "missing_id",
    [HR_REJECT_DUPLICATE] = "duplicate",
    [HR_REJECT_CONFLICT] = "conflict",
    [HR_REJECT_BOT] = "bot_user",
    [HR_REJECT_BAD_ID] = "bad_id",
};

const char *hr_reject_name(hr_reject r)
{
    if ((unsigned)r >= (unsigned)HR_REJECT__COUNT) return "unknown";
    return reject_names[r];
}

void hr_rowfmt_init(hr_rowfmt *f)
{
    memset(f, 0, sizeof *f);
    f->sep[0] = ',';
    f->sep_len = 1;
    f->quoted = 0;
    f->ncols = 4;
    f->cols[0] = HR_COL_USER;
    f->cols[1] = HR_COL_ITEM;
    f->cols[2] = HR_COL_VALUE;
    f->cols[3] = HR_COL_TIME;
    f->value_min = 0.0;
    f->value_max = 1e9;
    f->time_min = 0;
    f->time_max = 4102444800 - 1; /* 2100-01-01T00:00:00Z, exclusive */
}

/* Whitespace that is trimmed around an unquoted field: spaces, tabs and a stray CR (files
 * with CRLF endings read by a tool that only strips LF), except the separator itself. */
static inline int is_trim(char c, char sep0)
{
    return (c == ' ' || c == '\t' || c == '\r') && c != sep0;
}

/* Position of the next separator at or after `from`, or len. */
static inline size_t find_sep(const char *line, size_t len, size_t from, char sep0, int two)
{
    if (!two) {
        const char *p = memchr(line + from, sep0, len - from);
        return p ? (size_t)(p - line) : len;
    }
    for (size_t i = from; i + 1 < len; i++)
        if (line[i] == ':' && line[i + 1] == ':') return i;
    return len;
}

/* Split `line` into fields by f's separator and quoting.  Spans of the first `max` fields go
 * to fld; *nfields gets the total count.  With `wline` (the same buffer, writable) quoted
 * fields are unescaped in place and a malformed quote fails with *bad_field set (1-based).
 * Without it the split only counts and is lenient — an unterminated quote runs to the end
 * and text after a closing quote is skipped — because sniffing should guess, not judge. */
static int split_fields(const hr_rowfmt *f, const char *line, size_t len, char *wline,
                        field_span *fld, int max, int *nfields, int *bad_field)
{
    const char sep0 = f->sep[0];
    const int two = f->sep_len == 2;
    const int space = !two && sep0 == ' ';
    const size_t seplen = two ? 2 : 1;
    size_t pos = 0;
    int nf = 0;

    if (space) {
        /* Runs of spaces are one separator, so edges of the line are not fields. */
        while (pos < len && (line[pos] == ' ' || line[pos] == '\t' || line[pos] == '\r')) pos++;
        while (len > pos && (line[len - 1] == ' ' || line[len - 1] == '\t' || line[len - 1] == '\r')) len--;
        if (pos == len) {
            *nfields = 0;
            return SPLIT_OK;
        }
    }
    for (;;) {
        size_t s = pos;
        while (s < len && is_trim(line[s], sep0)) s++;
        size_t off, flen, next;
        if (f->quoted && s < len && line[s] == '"') {
            /* Unescape toward the front: the write cursor never passes the read cursor. */
            size_t r = s + 1, w = s;
            int closed = 0;
            for (;;) {
                const char *q = memchr(line + r, '"', len - r);
                const size_t qe = q ? (size_t)(q - line) : len;
                if (wline && w != r) memmove(wline + w, line + r, qe - r);
                w += qe - r;
                if (!q) break;
                if (qe + 1 < len && line[qe + 1] == '"') {
                    if (wline) wline[w] = '"';
                    w++;
                    r = qe + 2;
                    continue;
                }
                r = qe + 1;
                closed = 1;
                break;
            }
            if (!closed) {
                if (wline) {
                    *bad_field = nf + 1;
                    return SPLIT_UNTERMINATED;
                }
                r = len;
            }
            off = s;
            flen = w - s;
            while (r < len && is_trim(line[r], sep0)) r++;
            next = find_sep(line, len, r, sep0, two);
            if (next != r && wline) {
                *bad_field = nf + 1;
                return SPLIT_AFTER_QUOTE;
            }
        } else {
            next = find_sep(line, len, s, sep0, two);
            size_t e = next;
            while (e > s && is_trim(line[e - 1], sep0)) e--;
            off = s;
            flen = e - s;
        }
        if (nf < max) {
            fld[nf].off = off;
            fld[nf].len = flen;
        }
        nf++;
        if (next >= len) break;
        pos = next + seplen;
        if (space)
            while (pos < len && line[pos] == ' ') pos++;
    }
    *nfields = nf;
    return SPLIT_OK;
}

/* At most ~40 bytes of a field, non-printable bytes as '?', "..." when cut. */
static void quote_field(char *dst, size_t cap, const char *p, size_t n)
{
    enum { SHOW = 40 };
    size_t k = 0;
    const size_t show = n > SHOW ? SHOW : n;
    for (size_t i = 0; i < show && k + 1 < cap; i++) {
        const unsigned char c = (unsigned char)p[i];
        dst[k++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    if (n > SHOW)
        for (int i = 0; i < 3 && k + 1 < cap; i++) dst[k++] = '.';
    if (cap) dst[k] = '\0';
}

static hr_reject reject(char *detail, size_t cap, hr_reject why, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static hr_reject reject(char *detail, size_t cap, hr_reject why, const char *fmt, ...)
{
    if (detail && cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(detail, cap, fmt, ap);
        va_end(ap);
    }
    return why;
}

hr_reject hr_row_parse(const hr_rowfmt *f, char *line, size_t len, hr_row *row, char *detail, size_t detail_cap)
{
    field_span fld[HR_MAX_COLUMNS];
    int nf = 0, bad = 0;
    char shown[64];

    if (detail && detail_cap) detail[0] = '\0';
    if (f->ncols < 1 || f->ncols > HR_MAX_COLUMNS)
        return reject(detail, detail_cap, HR_REJECT_COLUMNS, "format has %d columns", f->ncols);
    const int rc = split_fields(f, line, len, line, fld, HR_MAX_COLUMNS, &nf, &bad);
    if (rc == SPLIT_UNTERMINATED)
        return reject(detail, detail_cap, HR_REJECT_UNPARSABLE, "field %d bad quoting: unterminated quote", bad);
    if (rc == SPLIT_AFTER_QUOTE)
        return reject(detail, detail_cap, HR_REJECT_UNPARSABLE, "field %d bad quoting: text after closing quote", bad);
    if (nf == 1 && f->ncols > 1)   /* most often the wrong --format: say which separator is missing */
        return reject(detail, detail_cap, HR_REJECT_COLUMNS, "1 field, expected %d: no %s in the line", f->ncols,
                      f->sep_len == 2 ? "'::'" : f->sep[0] == '\t' ? "tab" : f->sep[0] == ' ' ? "space" : "','");
    if (nf != f->ncols)
        return reject(detail, detail_cap, HR_REJECT_COLUMNS, "%d fields, expected %d", nf, f->ncols);

    int iu = -1, ii = -1, iv = -1, it = -1;
    for (int c = 0; c < f->ncols; c++) {
        switch (f->cols[c]) {
        case HR_COL_USER: if (iu < 0) iu = c; break;
        case HR_COL_ITEM: if (ii < 0) ii = c; break;
        case HR_COL_VALUE: if (iv < 0) iv = c; break;
        case HR_COL_TIME: if (it < 0) it = c; break;
        default: break;
        }
    }
    /* Checked in the documented order so a row's reason does not depend on column order. */
    if (iu < 0 || ii < 0)
        return reject(detail, detail_cap, HR_REJECT_MISSING_ID, "format has no %s column", iu < 0 ? "user" : "item");
    if (fld[iu].len == 0)
        return reject(detail, detail_cap, HR_REJECT_MISSING_ID, "user field %d is empty", iu + 1);
    if (fld[ii].len == 0)
        return reject(detail, detail_cap, HR_REJECT_MISSING_ID, "item field %d is empty", ii + 1);
    for (int side = 0; side < 2; side++) {
        const int c = side ? ii : iu;
        const unsigned char *p = (const unsigned char *)line + fld[c].off;
        for (size_t k = 0; k < fld[c].len; k++)
            if (p[k] < 0x20 || p[k] == 0x7f)
                return reject(detail, detail_cap, HR_REJECT_BAD_ID, "%s field %d holds control byte 0x%02x at byte %zu",
                              side ? "item" : "user", c + 1, p[k], k + 1);
    }

    double value = 1.0;
    if (iv >= 0) {
        const char *p = line + fld[iv].off;
        const size_t n = fld[iv].len;
        if (hr_parse_f64(p, n, &value) < 0) {
            quote_field(shown, sizeof shown, p, n);
            return reject(detail, detail_cap, HR_REJECT_UNPARSABLE, "field %d '%s' is not a number", iv + 1, shown);
        }
        if (!isfinite(value)) {
            quote_field(shown, sizeof shown, p, n);
            return reject(detail, detail_cap, HR_REJECT_NONFINITE, "field %d '%s' is not finite", iv + 1, shown);
        }
        if (!(value >= f->value_min && value <= f->value_max)) {
            quote_field(shown, sizeof shown, p, n);
            return reject(detail, detail_cap, HR_REJECT_RANGE, "field %d value '%s' outside [%g, %g]", iv + 1, shown,
                          f->value_min, f->value_max);
        }
    }
    int64_t t = 0;
    if (it >= 0) {
        const char *p = line + fld[it].off;
        const size_t n = fld[it].len;
        if (hr_parse_time(p, n, &t) < 0) {
            quote_field(shown, sizeof shown, p, n);
            return reject(detail, detail_cap, HR_REJECT_UNPARSABLE, "field %d '%s' is not a time", it + 1, shown);
        }
        if (t < f->time_min || t > f->time_max) {
            quote_field(shown, sizeof shown, p, n);
            return reject(detail, detail_cap, HR_REJECT_RANGE, "field %d time '%s' = %lld outside [%lld, %lld]", it + 1,
                          shown, (long long)t, (long long)f->time_min, (long long)f->time_max);
        }
    }
    row->user = line + fld[iu].off;
    row->user_len = fld[iu].len;
    row->item = line + fld[ii].off;
    row->item_len = fld[ii].len;
    row->has_value = iv >= 0;
    row->value = value;
    row->has_time = it >= 0;
    row->time = t;
    return HR_REJECT_NONE;
}

void hr_rowfmt_sniff(hr_rowfmt *f, const char *line, size_t len, int *nfields)
{
    int has_tab = 0, has_comma = 0, has_dcolon = 0;
    for (size_t i = 0; i < len; i++) {
        const char c = line[i];
        if (c == ':' && i + 1 < len && line[i + 1] == ':') has_dcolon = 1;
        else if (c == '\t') has_tab = 1;
        else if (c == ',') has_comma = 1;
    }
    memset(f->sep, 0, sizeof f->sep);
    if (has_dcolon) {
        f->sep[0] = f->sep[1] = ':';
        f->sep_len = 2;
    } else {
        f->sep[0] = has_tab ? '\t' : has_comma ? ',' : ' ';
        f->sep_len = 1;
    }
    f->quoted = f->sep_len == 1 && f->sep[0] == ',';
    int bad = 0, nf = 0;
    split_fields(f, line, len, NULL, NULL, 0, &nf, &bad);
    if (nfields) *nfields = nf;
}

/* Case-insensitive ASCII comparison of a span with a NUL-terminated name. */
static int name_is(const char *p, size_t n, const char *name)
{
    size_t i = 0;
    for (; i < n && name[i]; i++) {
        char c = p[i];
        if (c >= 'A' && c <= 'Z') c = (char)(c + 32);
        if (c != name[i]) return 0;
    }
    return i == n && name[i] == '\0';
}

static int column_kind(const char *p, size_t n, hr_col *out)
{
    static const struct {
        const char *name;
        hr_col col;
    } names[] = {
        {"user", HR_COL_USER},    {"userid", HR_COL_USER},     {"user_id", HR_COL_USER},
        {"item", HR_COL_ITEM},    {"itemid", HR_COL_ITEM},     {"item_id", HR_COL_ITEM},
        {"movie", HR_COL_ITEM},   {"movieid", HR_COL_ITEM},    {"artist", HR_COL_ITEM},
        {"artistid", HR_COL_ITEM}, {"rating", HR_COL_VALUE},   {"value", HR_COL_VALUE},
        {"count", HR_COL_VALUE},  {"weight", HR_COL_VALUE},    {"score", HR_COL_VALUE},
        {"timestamp", HR_COL_TIME}, {"time", HR_COL_TIME},     {"date", HR_COL_TIME},
        {"ts", HR_COL_TIME},      {"-", HR_COL_SKIP},
    };
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        if (name_is(p, n, names[k].name)) {
            *out = names[k].col;
            return 0;
        }
    }
    return -1;
}

static int spec_error(char *msg, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int spec_error(char *msg, size_t cap, const char *fmt, ...)
{
    if (msg && cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, cap, fmt, ap);
        va_end(ap);
    }
    return -1;
}

int hr_rowfmt_set_columns(hr_rowfmt *f, const char *spec, char *msg, size_t msg_cap)
{
    static const char *const role[] = {"-", "user", "item", "value", "time"};
    hr_col cols[HR_MAX_COLUMNS];
    int seen[5] = {0};
    int n = 0;
    char shown[64];

    if (msg && msg_cap) msg[0] = '\0';
    if (!spec) return spec_error(msg, msg_cap, "no column list given");
    /* Build into a local map so a bad spec leaves f untouched. */
    const char *p = spec;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *s = p;
        while (len && (*s == ' ' || *s == '\t')) s++, len--;
        while (len && (s[len - 1] == ' ' || s[len - 1] == '\t')) len--;
        if (len == 0) return spec_error(msg, msg_cap, "column %d of '%s' is empty", n + 1, spec);
        if (n == HR_MAX_COLUMNS) return spec_error(msg, msg_cap, "more than %d columns", HR_MAX_COLUMNS);
        hr_col c;
        if (column_kind(s, len, &c) < 0) {
            quote_field(shown, sizeof shown, s, len);
            return spec_error(msg, msg_cap,
                              "unknown column '%s' (use user, item, rating, timestamp, their aliases, or -)", shown);
        }
        if (c != HR_COL_SKIP && seen[c]++)
            return spec_error(msg, msg_cap, "column %s given twice", role[c]);
        cols[n++] = c;
        if (!end) break;
        p = end + 1;
    }
    if (!seen[HR_COL_USER]) return spec_error(msg, msg_cap, "no user column");
    if (!seen[HR_COL_ITEM]) return spec_error(msg, msg_cap, "no item column");
    memcpy(f->cols, cols, (size_t)n * sizeof cols[0]);
    for (int c = n; c < HR_MAX_COLUMNS; c++) f->cols[c] = HR_COL_SKIP;
    f->ncols = n;
    return 0;
}
