/* jobs/job.h — the context every subcommand runs in.
 *
 * One hr_job per subcommand run: the communicator, the machine-readable summary (a flat
 * jansson object written by rank 0 to --json FILE), the start time and the last error.
 * Subcommands are `int hr_cmd_NAME(hr_job *job, int argc, char **argv)` returning 0 or a
 * negative hr_status with job->err filled; main.c agrees on the outcome across ranks, prints
 * one error line on rank 0 and maps the status to an exit code (hr_job_exit_code).
 *
 * Exit codes (documented in docs/exit-codes.md; never renumbered):
 *   0 success · 1 runtime failure · 2 usage error · 3 bad input data (file:line, checksum,
 *   version) · 4 out of memory / disk full · 75 stopped by a signal after a checkpoint
 *   (requeue me) · 76 evaluation gate refused to publish. */
#ifndef HR_JOBS_JOB_H
#define HR_JOBS_JOB_H

#include <jansson.h>
#include <stdint.h>

#include "core/error.h"
#include "mpi/comm.h"

enum {
    HR_EXIT_OK = 0,
    HR_EXIT_FAIL = 1,
    HR_EXIT_USAGE = 2,
    HR_EXIT_DATA = 3,
    HR_EXIT_RESOURCE = 4,
    HR_EXIT_CHECKPOINTED = 75,
    HR_EXIT_GATE = 76,
};

typedef struct hr_job {
    hr_comm *comm;
    int rank, size;
    const char *name;
    json_t *summary;
    const char *json_path;
    double t_start;
    hr_error err;
} hr_job;

void hr_job_init(hr_job *job, hr_comm *comm, const char *name);
void hr_job_free(hr_job *job);
int  hr_job_exit_code(int status);

/* Summary keys (rank 0's values are written). */
void hr_job_set_int(hr_job *job, const char *key, int64_t v);
void hr_job_set_real(hr_job *job, const char *key, double v);
void hr_job_set_str(hr_job *job, const char *key, const char *v);
/* Write the summary to job->json_path (if set) on rank 0, with "command", "version",
 * "schema" (summary schema version), "ranks", "seconds", "peak_rss_mb" added, and the
 * process costs of hr_job_usage: "minor_faults" and "system_seconds" (SUMS over ranks: the
 * whole job's page faults and kernel CPU seconds), "minor_faults_max" and
 * "system_seconds_max" (the largest rank's), "user_seconds" (sum), and the allocator's own
 * peak (core/alloc.h, live bytes, not RSS) in MiB: "peak_alloc_mb" (largest rank),
 * "peak_alloc_mb_rank0", "peak_alloc_mb_others" (largest rank but 0), "peak_alloc_mb_min". */
int hr_job_write_summary(hr_job *job);

/* Option parsing helpers: parse a number or fail with a message naming the option. */
int hr_opt_i64(hr_job *job, const char *opt, const char *s, int64_t lo, int64_t hi, int64_t *out);
int hr_opt_f64(hr_job *job, const char *opt, const char *s, double lo, double hi, double *out);
/* Report an unknown option / missing argument from getopt_long. */
int hr_opt_usage(hr_job *job, const char *usage);

/* Process costs since the start, reduced over ranks (collective; see hr_job_write_summary). */
typedef struct hr_job_usage_t {
    double minor_faults, minor_faults_max, system_seconds, system_seconds_max, user_seconds;
    double peak_alloc_mb, peak_alloc_mb_rank0, peak_alloc_mb_others, peak_alloc_mb_min;
} hr_job_usage_t;
void hr_job_usage(hr_job *job, hr_job_usage_t *u);

/* This rank's page faults and kernel seconds per phase (local; for progress lines): mark the
 * start, then hr_phase_next fills *faults / *sys with what the phase took and starts the next. */
typedef struct hr_phase { double faults, sys; } hr_phase;
void hr_phase_start(hr_phase *p);
void hr_phase_next(hr_phase *p, double *faults, double *sys);
/* This rank's CPU seconds (user + system) since it started: differences of two calls time a
 * phase in CPU terms, which a loaded machine distorts far less than wall time. */
double hr_cpu_seconds(void);

/* Maximum peak RSS over ranks, in MiB (collective). */
double hr_job_peak_rss_mb(hr_job *job, double *mean_out);

#endif
