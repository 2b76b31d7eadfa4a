/* io/timeparse.c — strict number and time parsing over byte spans (declared in io/rowparse.h).
 *
 * Every function takes (pointer, length) because the spans come straight out of a line that
 * is not NUL-terminated at the field's end; nothing here reads s[n] or allocates. */
#include "io/rowparse.h"

#include <float.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

static inline int is_digit(char c) { return (unsigned)(c - '0') < 10u; }

static inline char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c; }

int hr_parse_i64(const char *s, size_t n, int64_t *out)
{
    size_t i = 0;
    int neg = 0;
    if (n == 0) return -1;
    if (s[0] == '+' || s[0] == '-') {
        neg = s[0] == '-';
        i = 1;
    }
    if (i == n) return -1;
    /* Accumulate in unsigned so INT64_MIN, whose magnitude has no positive int64, fits. */
    const uint64_t limit = neg ? (uint64_t)INT64_MAX + 1u : (uint64_t)INT64_MAX;
    uint64_t v = 0;
    for (; i < n; i++) {
        if (!is_digit(s[i])) return -1;
        const unsigned d = (unsigned)(s[i] - '0');
        if (v > (limit - d) / 10u) return -1;
        v = v * 10u + d;
    }
    if (!neg) *out = (int64_t)v;
    else if (v == (uint64_t)INT64_MAX + 1u) *out = INT64_MIN;
    else *out = -(int64_t)v;
    return 0;
}

/* Powers of ten that are exact doubles (10^22 < 2^53 * 2^22 is the last one). */
static const double exact_pow10[23] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

/* Accepts exactly what strtod would consume entirely, minus hex floats, nan(...) payloads
 * and leading whitespace: [sign] (digits [. [digits]] | . digits) [(e|E) [sign] digits],
 * or [sign] nan | inf | infinity in any case. */
static int is_decimal_syntax(const char *s, size_t n)
{
    size_t i = 0;
    if (i < n && (s[i] == '+' || s[i] == '-')) i++;
    const size_t rest = n - i;
    if (rest == 3 || rest == 8) {
        char w[8];
        for (size_t k = 0; k < rest; k++) w[k] = ascii_lower(s[i + k]);
        if (rest == 3 && (memcmp(w, "nan", 3) == 0 || memcmp(w, "inf", 3) == 0)) return 1;
        if (rest == 8 && memcmp(w, "infinity", 8) == 0) return 1;
    }
    size_t digits = 0;
    while (i < n && is_digit(s[i])) i++, digits++;
    if (i < n && s[i] == '.') {
        i++;
        while (i < n && is_digit(s[i])) i++, digits++;
    }
    if (digits == 0) return 0;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-')) i++;
        size_t edigits = 0;
        while (i < n && is_digit(s[i])) i++, edigits++;
        if (edigits == 0) return 0;
    }
    return i == n;
}

static int parse_f64_slow(const char *s, size_t n, double *out)
{
    /* strtod needs a terminator and the span has none; 127 bytes is far beyond any value a
     * log holds, and refusing longer spans keeps the parser allocation-free. */
    char buf[128];
    if (n >= sizeof buf || !is_decimal_syntax(s, n)) return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    char *end = NULL;
    const double v = strtod(buf, &end);
    if (end != buf + n) return -1;
    *out = v;
    return 0;
}

int hr_parse_f64(const char *s, size_t n, double *out)
{
#if FLT_EVAL_METHOD != 0
    /* Extended-precision intermediates would round twice; only strtod is exact then. */
    return parse_f64_slow(s, n, out);
#else
    /* Clinger's fast path: a mantissa m <= 2^53 and a power 10^k with k <= 22 are both exact
     * doubles, so m / 10^k is one correctly rounded IEEE division — the same double strtod
     * returns.  Everything else (exponents, more digits, nan/inf, junk) goes to strtod. */
    size_t i = 0;
    int neg = 0;
    if (n == 0) return -1;
    if (s[0] == '-' || s[0] == '+') {
        neg = s[0] == '-';
        i = 1;
    }
    uint64_t m = 0;
    int sig = 0;      /* digits in m; leading zeros are not significant */
    int scale = 0;    /* digits after the point, i.e. the k in m / 10^k */
    size_t ndigits = 0;
    for (; i < n && is_digit(s[i]); i++, ndigits++) {
        if (m == 0 && s[i] == '0') continue;
        if (sig == 19) return parse_f64_slow(s, n, out);
        m = m * 10u + (unsigned)(s[i] - '0');
        sig++;
    }
    if (i < n && s[i] == '.') {
        for (i++; i < n && is_digit(s[i]); i++, ndigits++) {
            scale++;
            if (m == 0 && s[i] == '0') continue;
            if (sig == 19) return parse_f64_slow(s, n, out);
            m = m * 10u + (unsigned)(s[i] - '0');
            sig++;
        }
    }
    if (i != n || ndigits == 0 || m > ((uint64_t)1 << 53) || scale > 22)
        return parse_f64_slow(s, n, out);
    double v = (double)m;
    if (scale > 0) v /= exact_pow10[scale];
    *out = neg ? -v : v;
    return 0;
#endif
}

/* Days since 1970-01-01 (Howard Hinnant, "chrono-Compatible Low-Level Date Algorithms").
 * Shifting the year to start in March puts the leap day last, so day-of-year is a linear
 * formula in the month; 400-year eras make negative years work with truncating division.
 * Years are clamped to +-2^40 so the era product cannot overflow (no caller comes close). */
int64_t hr_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    const int64_t ylim = (int64_t)1 << 40;
    if (y > ylim) y = ylim;
    if (y < -ylim) y = -ylim;
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153u * (m > 2 ? m - 3 : m + 9) + 2u) / 5u + d - 1u;
    const unsigned doe = yoe * 365u + yoe / 4u - yoe / 100u + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

void hr_civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d)
{
    /* Clamp so the year fits an int and z + 719468 cannot overflow. */
    const int64_t zlim = (int64_t)146097 * (INT_MAX / 400 - 1);
    if (z > zlim) z = zlim;
    if (z < -zlim) z = -zlim;
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460u + doe / 36524u - doe / 146096u) / 365u;
    const unsigned doy = doe - (365u * yoe + yoe / 4u - yoe / 100u);
    const unsigned mp = (5u * doy + 2u) / 153u;
    const unsigned dd = doy - (153u * mp + 2u) / 5u + 1u;
    const unsigned mm = mp < 10u ? mp + 3u : mp - 9u;
    *y = (int)((int64_t)yoe + era * 400 + (mm <= 2));
    *m = mm;
    *d = dd;
}

/* Reads exactly `width` digits at s[*i]; 0 or -1. */
static int take_digits(const char *s, size_t n, size_t *i, int width, int *out)
{
    int v = 0;
    if (*i + (size_t)width > n) return -1;
    for (int k = 0; k < width; k++) {
        const char c = s[*i + (size_t)k];
        if (!is_digit(c)) return -1;
        v = v * 10 + (c - '0');
    }
    *i += (size_t)width;
    *out = v;
    return 0;
}

static int is_leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static int days_in_month(int y, int m)
{
    static const unsigned char dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : dm[m - 1];
}

/* Offset after the time: "Z", "+HH", "+HHMM", "+HH:MM" (or '-'); seconds east of UTC. */
static int parse_offset(const char *s, size_t n, size_t *i, int *secs)
{
    if (*i == n) {
        *secs = 0;
        return 0;
    }
    if (s[*i] == 'Z' || s[*i] == 'z') {
        (*i)++;
        *secs = 0;
        return 0;
    }
    if (s[*i] != '+' && s[*i] != '-') return -1;
    const int sign = s[*i] == '-' ? -1 : 1;
    (*i)++;
    int oh = 0, om = 0;
    if (take_digits(s, n, i, 2, &oh) < 0 || oh > 23) return -1;
    if (*i < n && s[*i] == ':') {
        (*i)++;
        if (take_digits(s, n, i, 2, &om) < 0) return -1;
    } else if (*i < n && take_digits(s, n, i, 2, &om) < 0) {
        return -1;
    }
    if (om > 59) return -1;
    *secs = sign * (oh * 3600 + om * 60);
    return 0;
}

int hr_parse_time(const char *s, size_t n, int64_t *out)
{
    /* "YYYY-" can only start an ISO date; anything else must be integer seconds. */
    if (n < 10 || s[4] != '-' || !is_digit(s[0])) return hr_parse_i64(s, n, out);

    size_t i = 0;
    int y, mo, d, hh = 0, mi = 0, ss = 0, off = 0;
    if (take_digits(s, n, &i, 4, &y) < 0 || s[i++] != '-') return -1;
    if (take_digits(s, n, &i, 2, &mo) < 0 || i >= n || s[i++] != '-') return -1;
    if (take_digits(s, n, &i, 2, &d) < 0) return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo)) return -1;

    if (i < n) {
        if (s[i] != 'T' && s[i] != 't' && s[i] != ' ') return -1;
        i++;
        if (take_digits(s, n, &i, 2, &hh) < 0 || i >= n || s[i++] != ':') return -1;
        if (take_digits(s, n, &i, 2, &mi) < 0) return -1;
        if (i < n && s[i] == ':') {
            i++;
            if (take_digits(s, n, &i, 2, &ss) < 0) return -1;
            /* Sub-second precision is below what any model uses: truncate. */
            if (i < n && (s[i] == '.' || s[i] == ',')) {
                const size_t start = ++i;
                while (i < n && is_digit(s[i])) i++;
                if (i == start) return -1;
            }
        }
        /* 60 admits a leap second; it lands on the next minute's first second. */
        if (hh > 23 || mi > 59 || ss > 60) return -1;
        if (parse_offset(s, n, &i, &off) < 0 || i != n) return -1;
    }
    *out = hr_days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + hh * 3600 + mi * 60 + ss - off;
    return 0;
}
