/* jobs/publish.h — every command's outputs, under MPI: checked against the inputs before
 * anything is touched, written into a temporary directory, published by one agreed rename.
 * The file-system rules (canonical paths, what may be replaced, leftovers of killed runs,
 * atomic exchange) are in io/outdir.h; this is the collective half a command calls.
 *
 * A command that writes a directory OUT (the pattern of ingest, split, recommend, similar,
 * gen; index, export, forget, drift and report follow it):
 *
 *     hr_pathspec ps[] = { { "--data", data, HR_IN }, { "--out", out, HR_OUT_DIR },
 *                          { "--json", job->json_path, HR_OUT_FILE } };
 *     HR_TRY(hr_publish_check(job, ps, 3));                   // first, before any write
 *     hr_publish p;
 *     HR_TRY(hr_publish_begin(job, out, "manifest.json", FORMATS, &p));
 *     ... every rank writes its files under p.dir (path [global]); rank 0 writes the manifest
 *         last, after the ranks agreed that their files are written ...
 *     rc = hr_publish_end(job, &p, rc);                       // rc: this rank's status [local]
 *
 * Who does what:
 *   - hr_publish_check: rank 0 canonicalizes and compares the paths, all ranks agree.
 *   - hr_publish_begin: rank 0 checks that OUT may be replaced (absent, empty, or an output
 *     whose marker has one of FORMATS), removes PARENT/.OUT.tmp-* left by killed runs and
 *     creates PARENT/.OUT.tmp-TAG (TAG: rank 0's pid and clock, unique per run); the path is
 *     broadcast into p.dir.  Every rank writes only there.
 *   - hr_publish_end: the ranks agree on `status` first.  Only if every rank succeeded does
 *     rank 0 rename the temporary directory over OUT (atomic exchange with an old output);
 *     the ranks then agree on that.  Otherwise rank 0 removes the temporary directory and the
 *     old output stays as it was.  So a rank that dies (killed job, lost node) can never get a
 *     publish: the agreement needs it.  A rank of a killed run that is still writing writes into
 *     its own run's temporary directory, which no run ever publishes; the next run into OUT
 *     removes it.
 * The output is valid only after hr_publish_end returned 0 on every rank.  Between begin and
 * end a reader of OUT sees the previous output, whole and verifiable, or none.
 *
 * Errors: hr_publish_check and hr_publish_begin return HR_ERR_ARG (exit 2) for a refused
 * path, with the message naming the options and paths; I/O errors as HR_ERR_IO /
 * HR_ERR_NOSPACE.  All three functions are collective; `job->err` holds the agreed message. */
#ifndef HR_JOBS_PUBLISH_H
#define HR_JOBS_PUBLISH_H

#include "io/outdir.h"
#include "jobs/job.h"

typedef struct hr_publish {
    char *dir;        /* [global] the temporary directory to write into (absolute) */
    char *final;      /* [global] the output's canonical path (for messages) */
    int keep_failed;  /* set before hr_publish_end: a failed run leaves its temporary
                         directory for inspection (the next run removes it) */
    int staged;
    hr_outdir od;     /* rank 0 */
} hr_publish;

/* Collective.  Rule 1 of io/outdir.h over the command's inputs and outputs ([global]). */
int hr_publish_check(hr_job *job, const hr_pathspec *spec, size_t n);
/* Collective.  path, marker, formats [global].  On error p is empty and nothing was created. */
int hr_publish_begin(hr_job *job, const char *path, const char *marker, const char *const *formats, hr_publish *p);
/* Collective.  status [local].  Returns the agreed status (0 = published).  Frees p; a p that
 * was never begun (zeroed) just returns status. */
int hr_publish_end(hr_job *job, hr_publish *p, int status);

#endif
