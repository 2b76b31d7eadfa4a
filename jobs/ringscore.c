#include "jobs/ringscore.h"

#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "core/timer.h"
#include "solvers/score.h"

#define RS_USERS 512  /* 512 x 512 floats = 1 MB of scores: stays in L2 for the scan */
#define RS_ITEMS 512

int hr_ring_score(hr_job *job, const float *items, const float *bias, const uint8_t *banned, uint64_t n, int k,
                  const hr_ring_query *q, double *t_score, double *t_comm)
{
    int P = job->size, rc = 0, cur = job->rank;
    uint64_t w = (uint64_t)k + 1, maxb = (n + (uint64_t)P - 1) / (uint64_t)P;
    float *blk = hr_malloc((maxb * w + 1) * sizeof *blk), *nxt = hr_malloc((maxb * w + 1) * sizeof *nxt);
    float *bb = hr_malloc((maxb + 1) * sizeof *bb);
    float *S = hr_malloc((size_t)RS_USERS * RS_ITEMS * sizeof *S);
    /* Each block row: k factors then the bias (-inf for a banned item), so one message moves both. */
    uint64_t lo0 = (uint64_t)cur * n / (uint64_t)P, hi0 = (uint64_t)(cur + 1) * n / (uint64_t)P;
    for (uint64_t i = lo0; i < hi0; i++) {
        memcpy(blk + (i - lo0) * w, items + i * (uint64_t)k, (size_t)k * sizeof *blk);
        blk[(i - lo0) * w + (uint64_t)k] = banned && banned[i] ? -INFINITY : bias ? bias[i] : 0.0f;
    }
    *t_score = *t_comm = 0;
    const int with_bias = bias != NULL || banned != NULL;  /* else skip a pass over every score */
    for (int step = 0; step < P && rc == 0; step++) {
        uint64_t lo = (uint64_t)cur * n / (uint64_t)P, hi = (uint64_t)(cur + 1) * n / (uint64_t)P;
        double ts = hr_now();
        /* SGEMM reads the block's factor rows in place (ld = k + 1); the bias column is
         * gathered once per block, not once per batch of queries. */
        for (uint64_t i = 0; i < hi - lo; i++) bb[i] = blk[i * w + (uint64_t)k];
        for (uint64_t u0 = 0; u0 < q->nq; u0 += RS_USERS) {
            uint32_t nu = (uint32_t)(q->nq - u0 < RS_USERS ? q->nq - u0 : RS_USERS);
            for (uint64_t i0 = lo; i0 < hi; i0 += RS_ITEMS) {
                uint64_t nb = hi - i0 < RS_ITEMS ? hi - i0 : RS_ITEMS;
                hr_scorer sc = { HR_SCORER_FACTOR, k, nb, blk + (i0 - lo) * w, (int)w, with_bias ? bb + (i0 - lo) : NULL, NULL };
                hr_score_users(&sc, q->Q + u0 * (uint64_t)k, nu, S);
                for (uint32_t u = 0; u < nu; u++)
                    hr_topbuf_push_row(&q->heaps[u0 + u], S + (uint64_t)u * nb, (uint32_t)i0, (uint32_t)nb,
                                       q->excl ? q->excl[u0 + u] : NULL, q->excl ? q->nexcl[u0 + u] : 0);
            }
        }
        *t_score += hr_now() - ts;
        if (step + 1 < P) {
            double tc = hr_now();
            uint64_t got;
            rc = hr_comm_ring_shift(job->comm, blk, (hi - lo) * w * sizeof *blk, nxt, (maxb * w + 1) * sizeof *nxt, &got);
            float *sw = blk;
            blk = nxt;
            nxt = sw;
            cur = (cur + P - 1) % P;
            *t_comm += hr_now() - tc;
        }
    }
    hr_free(blk);
    hr_free(nxt);
    hr_free(bb);
    hr_free(S);
    return hr_comm_agree(job->comm, rc, &job->err);
}
