#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/timer.h"

static int log_rank, log_size = 1, debug_level = -1;
static double t0;

void hr_log_init(int rank, int size)
{
    log_rank = rank;
    log_size = size;
    t0 = hr_now();
}

int hr_log_rank(void) { return log_rank; }

int hr_log_debug_level(void)
{
    if (debug_level < 0) {
        const char *s = getenv("HR_DEBUG");
        debug_level = s ? atoi(s) : 0;
    }
    return debug_level;
}

void hr_progress(const char *fmt, ...)
{
    if (log_rank != 0) return;
    va_list ap;
    va_start(ap, fmt);
    printf("[%7.2fs] ", hr_now() - t0);
    vprintf(fmt, ap);
    putchar('\n');
    fflush(stdout);
    va_end(ap);
}

static void vlog(const char *kind, const char *fmt, va_list ap)
{
    char line[2048];
    vsnprintf(line, sizeof line, fmt, ap);
    if (log_size > 1)
        fprintf(stderr, "hpcrec: [rank %d] %s%s\n", log_rank, kind, line);
    else
        fprintf(stderr, "hpcrec: %s%s\n", kind, line);
    fflush(stderr);
}

void hr_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog("warning: ", fmt, ap);
    va_end(ap);
}

void hr_log_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog("error: ", fmt, ap);
    va_end(ap);
}

void hr_debug_print(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog("debug: ", fmt, ap);
    va_end(ap);
}
