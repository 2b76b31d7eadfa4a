/* core/log.h — progress lines (rank 0 only), warnings and errors (any rank, prefixed).
 *
 * The log rank is set once by jobs/ after MPI is up; before that it is 0.  Debug output is
 * compiled in but skipped (arguments unevaluated) below the level in HR_DEBUG (0..3). */
#ifndef HR_CORE_LOG_H
#define HR_CORE_LOG_H

void hr_log_init(int rank, int size);
int  hr_log_rank(void);
int  hr_log_debug_level(void);
/* One progress line on stdout from rank 0: "[  12.3s] what ..." */
void hr_progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Warning on stderr from any rank: "hpcrec: [rank r] warning: ..." */
void hr_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Error on stderr, printed by whoever calls it (jobs/ lets rank 0 print agreed errors). */
void hr_log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void hr_debug_print(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define HR_DEBUG(level, ...)                                        \
    do {                                                            \
        if (hr_log_debug_level() >= (level)) hr_debug_print(__VA_ARGS__); \
    } while (0)

#endif
