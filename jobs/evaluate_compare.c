/* jobs/evaluate_compare.c — `hpcrec evaluate --compare MODEL2.tar`: is MODEL2 better than MODEL?
 *
 * Both models were run over the same users in the same local order (ev_run with keep_users),
 * so row j of a and of b is the same user.  The rows are gathered to every rank and sorted
 * by train user gid: the bootstrap resamples positions, so only a fixed global order makes
 * the interval independent of the rank count.  Rank 0 alone runs the bootstrap (B x users
 * draws per metric) and agrees its status with the others. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/log.h"
#include "jobs/evaluate_parts.h"

typedef struct { uint32_t gid, pos; } gid_pos;

static int cmp_gid(const void *x, const void *y)
{
    const gid_pos *a = x, *b = y;
    return (a->gid > b->gid) - (a->gid < b->gid);
}

/* Rows of one result, gathered and put in gid order (hr_malloc'd, n x width). */
static int gather_sorted(hr_job *job, const ev_result *r, size_t width, const gid_pos *order, uint64_t n, double **out)
{
    uint64_t *counts = hr_malloc((size_t)job->size * sizeof *counts), total = 0;
    void *all = NULL;
    int rc = hr_comm_allgatherv(job->comm, r->uval, r->n_uval, width * sizeof(double), &all, counts, &total);
    hr_free(counts);
    if (rc < 0) return rc;
    if (total != n) {
        hr_free(all);
        return hr_error_set(&job->err, HR_ERR_STATE, "--compare: %llu users for one model, %llu for the other",
                            (unsigned long long)total, (unsigned long long)n);
    }
    double *src = all, *dst = hr_malloc((n ? n : 1) * width * sizeof *dst);
    for (uint64_t j = 0; j < n; j++) memcpy(dst + j * width, src + (size_t)order[j].pos * width, width * sizeof *dst);
    hr_free(all);
    *out = dst;
    return 0;
}

int ev_compare(hr_job *job, const ev_data *d, const char *path_a, const char *path_b, const ev_result *a,
               const ev_result *b, int rating)
{
    const uint32_t nc = d->ncut;
    const size_t width = EV_UV_N(nc);
    if (a->n_uval != b->n_uval || (a->n_uval && memcmp(a->ugid, b->ugid, a->n_uval * sizeof *a->ugid)))
        return hr_error_set(&job->err, HR_ERR_STATE, "--compare: the two models were evaluated on different users");
    uint64_t *counts = hr_malloc((size_t)job->size * sizeof *counts), n = 0;
    void *gids = NULL;
    int rc = hr_comm_allgatherv(job->comm, a->ugid, a->n_uval, sizeof *a->ugid, &gids, counts, &n);
    hr_free(counts);
    if (rc < 0) return rc;
    gid_pos *order = hr_malloc((n ? n : 1) * sizeof *order);
    for (uint64_t j = 0; j < n; j++) order[j] = (gid_pos){ ((uint32_t *)gids)[j], (uint32_t)j };
    hr_free(gids);
    qsort(order, n, sizeof *order, cmp_gid);
    double *va = NULL, *vb = NULL, *xa = NULL, *xb = NULL;
    rc = gather_sorted(job, a, width, order, n, &va);
    if (rc == 0) rc = gather_sorted(job, b, width, order, n, &vb);
    hr_free(order);
    if (rc < 0) goto done;

    if (job->rank == 0) {
        xa = hr_malloc((n ? n : 1) * sizeof *xa);
        xb = hr_malloc((n ? n : 1) * sizeof *xb);
        hr_job_set_str(job, "compare.model", path_b);
        hr_job_set_str(job, "compare.baseline_model", path_a);
        hr_job_set_int(job, "compare.users", (int64_t)n);
        hr_job_set_int(job, "compare.seed", (int64_t)d->seed);
        hr_job_set_int(job, "compare.resamples", HR_BOOTSTRAP_DEFAULT_RESAMPLES);
        /* ndcg of the first cutoff leads: it is the gate metric (docs/evaluation.md). */
        static const struct { const char *stem; int col; } per_cut[] = {
            { "ndcg", EV_UV_NDCG }, { "recall", EV_UV_RECALL }, { "precision", EV_UV_PRECISION }, { "map", EV_UV_MAP } };
        const uint32_t n_metrics = (uint32_t)(4 * nc + 1 + (rating ? 1 : 0));
        for (uint32_t q = 0; q < n_metrics && rc == 0; q++) {
            char name[64], key[128];
            size_t col;
            int lower_better = 0;
            if (q < 4 * nc) {
                const uint32_t c = q % nc, s = q / nc;
                snprintf(name, sizeof name, "%s@%u", per_cut[s].stem, d->cut[c]);
                col = EV_UV_AT(c, per_cut[s].col);
            } else if (q == 4 * nc) {
                snprintf(name, sizeof name, "mrr");
                col = EV_UV_MRR(nc);
            } else {
                snprintf(name, sizeof name, "rmse");
                col = EV_UV_RMSE(nc);
                lower_better = 1;
            }
            for (uint64_t j = 0; j < n; j++) {
                xa[j] = va[j * width + col];
                xb[j] = vb[j * width + col];
            }
            hr_paired_result pr;
            rc = hr_metrics_compare_paired(xa, xb, n, 0, d->seed, &pr, &job->err);
            if (rc < 0) break;
            /* The interval is of b - a either way; for an error metric a negative difference
             * is the improvement, so only the verdict's direction flips. */
            if (lower_better && pr.verdict != HR_CMP_NO_DIFFERENCE)
                pr.verdict = pr.verdict == HR_CMP_BETTER ? HR_CMP_WORSE : HR_CMP_BETTER;
            const char *verdict = hr_metrics_verdict_name(pr.verdict);
            snprintf(key, sizeof key, "compare.%s.mean", name);
            hr_job_set_real(job, key, pr.mean);
            snprintf(key, sizeof key, "compare.%s.lo", name);
            hr_job_set_real(job, key, pr.lo);
            snprintf(key, sizeof key, "compare.%s.hi", name);
            hr_job_set_real(job, key, pr.hi);
            snprintf(key, sizeof key, "compare.%s.verdict", name);
            hr_job_set_str(job, key, verdict);
            if (q == 0) {
                hr_job_set_str(job, "compare.metric", name);
                hr_job_set_str(job, "compare.verdict", verdict);
            }
            printf("verdict: %s vs %s %s %+.4f [%+.4f, %+.4f] %s\n", path_b, path_a, name, pr.mean, pr.lo, pr.hi, verdict);
        }
        fflush(stdout);
    }
    rc = hr_comm_agree(job->comm, rc, &job->err);
done:
    hr_free(va);
    hr_free(vb);
    hr_free(xa);
    hr_free(xb);
    return rc;
}
