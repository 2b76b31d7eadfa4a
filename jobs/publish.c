#include "jobs/publish.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/hash.h"

int hr_publish_check(hr_job *job, const hr_pathspec *spec, size_t n)
{
    int rc = job->rank == 0 ? hr_paths_check(spec, n, &job->err) : 0;
    return hr_comm_agree(job->comm, rc, &job->err);
}

int hr_publish_begin(hr_job *job, const char *path, const char *marker, const char *const *formats, hr_publish *p)
{
    memset(p, 0, sizeof *p);
    int rc = 0;
    uint64_t len[2] = { 0, 0 };
    if (job->rank == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        char tag[64];
        uint64_t salt = hr_mix64(((uint64_t)ts.tv_sec << 30) ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 40));
        snprintf(tag, sizeof tag, "%d-%08llx", (int)getpid(), (unsigned long long)(salt & 0xffffffffu));
        rc = hr_outdir_stage(path, marker, formats, tag, &p->od, &job->err);
        if (rc == 0) {
            len[0] = strlen(p->od.tmp) + 1;
            len[1] = strlen(p->od.final) + 1;
        }
    }
    HR_TRY(hr_comm_agree(job->comm, rc, &job->err));
    rc = hr_comm_bcast(job->comm, len, sizeof len, 0);
    if (rc == 0) {
        p->dir = hr_malloc(len[0]);
        p->final = hr_malloc(len[1]);
        if (job->rank == 0) {
            memcpy(p->dir, p->od.tmp, len[0]);
            memcpy(p->final, p->od.final, len[1]);
        }
        rc = hr_comm_bcast(job->comm, p->dir, len[0], 0);
        if (rc == 0) rc = hr_comm_bcast(job->comm, p->final, len[1], 0);
    }
    p->staged = 1;
    if (rc < 0) return hr_publish_end(job, p, rc);
    return 0;
}

int hr_publish_end(hr_job *job, hr_publish *p, int status)
{
    if (!p->staged) return status;
    /* Test hook: this rank dies as a killed job's rank would, with its files written and the
     * publish not yet agreed (tests/integration/test_outputs.sh). */
    const char *die = getenv("HR_TEST_KILL_RANK_BEFORE_PUBLISH");
    if (die && atoi(die) == job->rank) raise(SIGKILL);
    int rc = hr_comm_agree(job->comm, status, &job->err);
    int prc = 0;
    if (job->rank == 0) {
        if (rc == 0) prc = hr_outdir_publish(&p->od, &job->err);
        else hr_outdir_abort(&p->od, p->keep_failed);
    }
    if (rc == 0) rc = hr_comm_agree(job->comm, prc, &job->err);
    hr_free(p->dir);
    hr_free(p->final);
    memset(p, 0, sizeof *p);
    return rc;
}
