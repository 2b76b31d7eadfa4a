#include "core/error.h"

#include <stdio.h>
#include <string.h>

int hr_error_set(hr_error *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

int hr_error_wrap(hr_error *err, const char *fmt, ...)
{
    if (!err) return HR_ERR_STATE;
    char prefix[512], old[sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    snprintf(err->msg, sizeof err->msg, "%s: %s", prefix, old);
    return err->code;
}

void hr_error_clear(hr_error *err)
{
    if (err) {
        err->code = 0;
        err->msg[0] = '\0';
    }
}

const char *hr_strerror(int code)
{
    switch (code) {
    case HR_OK: return "success";
    case HR_ERR_NOMEM: return "out of memory";
    case HR_ERR_IO: return "I/O error";
    case HR_ERR_FORMAT: return "bad input format";
    case HR_ERR_ARG: return "bad argument";
    case HR_ERR_CHECKSUM: return "checksum mismatch";
    case HR_ERR_VERSION: return "unsupported version";
    case HR_ERR_MPI: return "MPI error";
    case HR_ERR_NUMERIC: return "numerical failure";
    case HR_ERR_STATE: return "inconsistent state";
    case HR_ERR_INTERRUPT: return "interrupted (checkpoint written)";
    case HR_ERR_NOSPACE: return "no space left on device";
    case HR_ERR_REMOTE: return "another rank failed";
    default: return "unknown error";
    }
}

/* One byte's escape into e (at most 5 bytes); returns its length. */
static size_t escape_byte(unsigned char c, char *e)
{
    static const char hex[] = "0123456789abcdef";
    switch (c) {
    case '\\': e[0] = '\\', e[1] = '\\'; return 2;
    case '\t': e[0] = '\\', e[1] = 't'; return 2;
    case '\n': e[0] = '\\', e[1] = 'n'; return 2;
    case '\r': e[0] = '\\', e[1] = 'r'; return 2;
    default: break;
    }
    if (c < 0x20 || c == 0x7f) {
        e[0] = '\\', e[1] = 'x', e[2] = hex[c >> 4], e[3] = hex[c & 15];
        return 4;
    }
    e[0] = (char)c;
    return 1;
}

size_t hr_escape_size(const char *s, size_t len)
{
    char e[8];
    size_t n = 1;
    for (size_t i = 0; i < len; i++) n += escape_byte((unsigned char)s[i], e);
    return n;
}

char *hr_escape_text(const char *s, size_t len, char *buf, size_t cap)
{
    if (!cap) return buf;
    size_t k = 0;
    char e[8];
    for (size_t i = 0; i < len; i++) {
        size_t m = escape_byte((unsigned char)s[i], e);
        if (k + m + 1 > cap) break;
        memcpy(buf + k, e, m);
        k += m;
    }
    buf[k] = '\0';
    return buf;
}
