#include "jobs/job.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/timer.h"

#define HR_SUMMARY_SCHEMA 1

void hr_job_init(hr_job *job, hr_comm *comm, const char *name)
{
    memset(job, 0, sizeof *job);
    job->comm = comm;
    job->rank = hr_comm_rank(comm);
    job->size = hr_comm_size(comm);
    job->name = name;
    job->summary = json_object();
    job->t_start = hr_now();
}

void hr_job_free(hr_job *job)
{
    if (job->summary) json_decref(job->summary);
    job->summary = NULL;
}

int hr_job_exit_code(int status)
{
    switch (status) {
    case 0: return HR_EXIT_OK;
    case HR_ERR_ARG: return HR_EXIT_USAGE;
    case HR_ERR_FORMAT:
    case HR_ERR_CHECKSUM:
    case HR_ERR_VERSION: return HR_EXIT_DATA;
    case HR_ERR_NOMEM:
    case HR_ERR_NOSPACE: return HR_EXIT_RESOURCE;
    case HR_ERR_INTERRUPT: return HR_EXIT_CHECKPOINTED;
    default: return HR_EXIT_FAIL;
    }
}

void hr_job_set_int(hr_job *job, const char *key, int64_t v) { json_object_set_new(job->summary, key, json_integer(v)); }
void hr_job_set_real(hr_job *job, const char *key, double v)
{
    json_object_set_new(job->summary, key, isfinite(v) ? json_real(v) : json_null());
}
void hr_job_set_str(hr_job *job, const char *key, const char *v) { json_object_set_new(job->summary, key, json_string(v)); }

double hr_job_peak_rss_mb(hr_job *job, double *mean_out)
{
    double v[2] = { (double)hr_peak_rss_bytes() / (1 << 20), 0 };
    double mx = v[0], sum = v[0];
    hr_comm_allreduce_max_f64(job->comm, &mx, 1);
    hr_comm_allreduce_sum_f64(job->comm, &sum, 1);
    if (mean_out) *mean_out = sum / job->size;
    return mx;
}

void hr_phase_start(hr_phase *p)
{
    struct rusage ru;
    memset(p, 0, sizeof *p);
    if (getrusage(RUSAGE_SELF, &ru) == 0) {
        p->faults = (double)ru.ru_minflt;
        p->sys = (double)ru.ru_stime.tv_sec + 1e-6 * (double)ru.ru_stime.tv_usec;
    }
}

void hr_phase_next(hr_phase *p, double *faults, double *sys)
{
    hr_phase now;
    hr_phase_start(&now);
    *faults = now.faults - p->faults;
    *sys = now.sys - p->sys;
    *p = now;
}

double hr_cpu_seconds(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0.0;
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + 1e-6 * (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

void hr_job_usage(hr_job *job, hr_job_usage_t *u)
{
    struct rusage ru;
    memset(u, 0, sizeof *u);
    if (getrusage(RUSAGE_SELF, &ru) == 0) {
        u->minor_faults = (double)ru.ru_minflt;
        u->system_seconds = (double)ru.ru_stime.tv_sec + 1e-6 * (double)ru.ru_stime.tv_usec;
        u->user_seconds = (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec;
    }
    double sum[3] = { u->minor_faults, u->system_seconds, u->user_seconds };
    double mx[2] = { u->minor_faults, u->system_seconds };
    double peak[2] = { (double)hr_alloc_peak_bytes() / (1 << 20), job->rank == 0 ? 0 : (double)hr_alloc_peak_bytes() / (1 << 20) };
    u->peak_alloc_mb_rank0 = job->rank == 0 ? peak[0] : 0;
    hr_comm_allreduce_sum_f64(job->comm, sum, 3);
    hr_comm_allreduce_max_f64(job->comm, mx, 2);
    hr_comm_allreduce_max_f64(job->comm, peak, 2);
    hr_comm_allreduce_max_f64(job->comm, &u->peak_alloc_mb_rank0, 1);
    double pmin = (double)hr_alloc_peak_bytes() / (1 << 20);
    hr_comm_allreduce_min_f64(job->comm, &pmin, 1);
    u->minor_faults = sum[0];
    u->system_seconds = sum[1];
    u->user_seconds = sum[2];
    u->minor_faults_max = mx[0];
    u->system_seconds_max = mx[1];
    u->peak_alloc_mb = peak[0];
    u->peak_alloc_mb_others = peak[1];
    u->peak_alloc_mb_min = pmin;
}

int hr_job_write_summary(hr_job *job)
{
    double mean_rss, max_rss = hr_job_peak_rss_mb(job, &mean_rss);
    hr_job_usage_t u;
    hr_job_usage(job, &u);
    if (job->rank != 0 || !job->json_path) return 0;
    hr_job_set_real(job, "minor_faults", u.minor_faults);
    hr_job_set_real(job, "minor_faults_max", u.minor_faults_max);
    hr_job_set_real(job, "system_seconds", u.system_seconds);
    hr_job_set_real(job, "system_seconds_max", u.system_seconds_max);
    hr_job_set_real(job, "user_seconds", u.user_seconds);
    hr_job_set_real(job, "peak_alloc_mb", u.peak_alloc_mb);
    hr_job_set_real(job, "peak_alloc_mb_rank0", u.peak_alloc_mb_rank0);
    hr_job_set_real(job, "peak_alloc_mb_others", u.peak_alloc_mb_others);
    hr_job_set_real(job, "peak_alloc_mb_min", u.peak_alloc_mb_min);
    hr_job_set_str(job, "command", job->name);
    hr_job_set_str(job, "version", HR_VERSION);
    hr_job_set_int(job, "schema", HR_SUMMARY_SCHEMA);
    hr_job_set_int(job, "ranks", job->size);
    hr_job_set_real(job, "seconds", hr_now() - job->t_start);
    hr_job_set_real(job, "peak_rss_mb", max_rss);
    hr_job_set_real(job, "peak_rss_mb_mean", mean_rss);
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", job->json_path);
    errno = 0;
    if (json_dump_file(job->summary, tmp, JSON_INDENT(2) | JSON_SORT_KEYS) != 0 || rename(tmp, job->json_path) != 0) {
        int e = errno;
        unlink(tmp);
        return hr_error_set(&job->err, e == ENOSPC ? HR_ERR_NOSPACE : HR_ERR_IO, "%s: cannot write JSON summary: %s", job->json_path,
                            e ? strerror(e) : "write failed");
    }
    return 0;
}

int hr_opt_i64(hr_job *job, const char *opt, const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    char *end;
    errno = 0;
    double d = strtod(s, &end); /* accepts 1e6 as well as 1000000 */
    if (errno || end == s || *end || d != floor(d) || d < (double)lo || d > (double)hi)
        return hr_error_set(&job->err, HR_ERR_ARG, "%s: '%s' is not an integer in [%lld, %lld]", opt, s,
                            (long long)lo, (long long)hi);
    long long v = strtoll(s, &end, 10);
    *out = (*end == '\0') ? v : (int64_t)d;
    return 0;
}

int hr_opt_f64(hr_job *job, const char *opt, const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double d = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(d) || d < lo || d > hi)
        return hr_error_set(&job->err, HR_ERR_ARG, "%s: '%s' is not a number in [%g, %g]", opt, s, lo, hi);
    *out = d;
    return 0;
}

int hr_opt_usage(hr_job *job, const char *usage)
{
    return hr_error_set(&job->err, HR_ERR_ARG, "bad arguments to '%s'; usage:\n%s", job->name, usage);
}
