/* jobs/train_dense.c — what the dense models (EASE, truncated SVD) share: the memory check
 * before their large allocations and the stop points between their phases.
 *
 * Why no checkpoints: a closed-form or randomized factorisation has no useful intermediate state
 * smaller than the matrices it works on (EASE's P is 8 n^2 bytes), and a ScaLAPACK call cannot be
 * interrupted.  So a stop signal is honoured at the next phase boundary (assembly,
 * factorisation, inversion, writing; range finding, power iterations, small SVD), the run
 * exits 75 without writing a model, and the next run (a requeue, with or without --resume)
 * trains from the start: docs/checkpoints.md. */
#include <stdlib.h>

#include "core/log.h"
#include "core/sysmem.h"
#include "jobs/signals.h"
#include "jobs/train.h"

int hr_dense_check_memory(hr_job *job, uint64_t bytes, const char *what, const char *formula)
{
    uint64_t node = 0;
    int nlocal = 1;
    HR_TRY(hr_comm_node_sum_u64(job->comm, bytes, &node, &nlocal));
    const char *src = "unknown";
    uint64_t limit = hr_sys_mem_limit(&src);
    int64_t bad = limit && node > limit;
    int rc = 0;
    if (bad)
        rc = hr_error_set(&job->err, HR_ERR_NOMEM,
                          "%s needs about %.2f GB on this node (%d rank%s, %.2f GB on rank %d; %s) but %s leaves %.2f GB: "
                          "run on more nodes or ranks, or a smaller catalogue",
                          what, (double)node / 1e9, nlocal, nlocal > 1 ? "s" : "", (double)bytes / 1e9, job->rank, formula, src,
                          (double)limit / 1e9);
    rc = hr_comm_agree(job->comm, rc, &job->err);
    if (rc == 0)
        hr_progress("memory     %s: %.2f GB on rank 0 (%s); this node can give %.2f GB (%s)", what, (double)bytes / 1e9, formula,
                    (double)limit / 1e9, src);
    return rc;
}

int hr_dense_stop_point(hr_job *job, int *boundary, const char *algo, const char *after)
{
    ++*boundary;
    const char *inj = getenv("HR_TEST_STOP_AFTER_PHASE");
    int64_t s = hr_signals_pending();
    if (inj && atoll(inj) == *boundary) s = 1;
    HR_TRY(hr_comm_allreduce_max_i64(job->comm, &s, 1));
    if (!s) return 0;
    return hr_error_set(&job->err, HR_ERR_INTERRUPT,
                        "stopped by a signal after %s; %s keeps no checkpoint and wrote no model: run again (with or without "
                        "--resume) to train it from the start", after, algo);
}
