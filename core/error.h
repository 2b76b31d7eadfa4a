/* core/error.h — status codes and the error record every fallible call fills.
 *
 * Convention (as zstd): 0 is success, a negative hr_status is an error.  Values are never
 * renumbered: they appear in logs and exit paths.  A function that can fail takes an
 * `hr_error *err` last; on failure it fills err->msg with what went wrong and what to fix
 * (file:line for bad input) and returns the code.  Library code never exits: only jobs/ does. */
#ifndef HR_CORE_ERROR_H
#define HR_CORE_ERROR_H

#include <stdarg.h>
#include <stddef.h>

typedef enum {
    HR_OK            = 0,
    HR_ERR_NOMEM     = -1,  /* allocation failed */
    HR_ERR_IO        = -2,  /* open/read/write/rename failed, or truncated/corrupt compressed stream */
    HR_ERR_FORMAT    = -3,  /* bad input row or malformed file */
    HR_ERR_ARG       = -4,  /* bad option or argument */
    HR_ERR_CHECKSUM  = -5,  /* a file's checksum does not match its manifest */
    HR_ERR_VERSION   = -6,  /* unknown manifest format or version */
    HR_ERR_MPI       = -7,  /* an MPI call failed */
    HR_ERR_NUMERIC   = -8,  /* numerical failure that could not be repaired */
    HR_ERR_STATE     = -9,  /* inconsistent state (empty dataset, mismatched model...) */
    HR_ERR_INTERRUPT = -10, /* stopped by a signal after writing a checkpoint */
    HR_ERR_NOSPACE   = -11, /* disk full */
    HR_ERR_REMOTE    = -12, /* another rank failed; its message is in err->msg */
} hr_status;

typedef struct hr_error {
    int  code;
    char msg[1024];
} hr_error;

/* Fill err (may be NULL) and return code.  printf-style message. */
int hr_error_set(hr_error *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Prefix an existing message with context ("loading model x: ...").  Returns err->code. */
int hr_error_wrap(hr_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void hr_error_clear(hr_error *err);
const char *hr_strerror(int code);

/* Text made safe for a one-line message or a TSV field: a backslash becomes "\\", tab "\t",
 * newline "\n", carriage return "\r", other bytes below 0x20 and 0x7f "\xHH"; everything
 * else is kept.  Writes at most cap bytes with the NUL, never cutting an escape; returns buf.
 * Used for input paths (any byte but NUL) and raw rows (any byte). */
char *hr_escape_text(const char *s, size_t len, char *buf, size_t cap);
/* Bytes hr_escape_text needs for s (with the NUL). */
size_t hr_escape_size(const char *s, size_t len);

/* Propagation: HR_TRY(expr) returns the negative status of expr to the caller. */
#define HR_TRY(expr)                                  \
    do {                                              \
        int hr_try_rc_ = (expr);                      \
        if (hr_try_rc_ < 0) return hr_try_rc_;        \
    } while (0)

/* HR_CHECK(expr): jump to the function's `fail:` label with rc set. */
#define HR_CHECK(expr)                                \
    do {                                              \
        rc = (expr);                                  \
        if (rc < 0) goto fail;                        \
    } while (0)

#endif
