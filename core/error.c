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
