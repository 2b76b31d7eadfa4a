#include "jobs/rowfetch.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

int hr_fetch_rows(hr_job *job, const float *block, uint64_t n, int width, const uint32_t *ids, uint64_t nids, float *out)
{
    const int P = job->size;
    const size_t rb = (size_t)width * sizeof(float);
    /* the distinct ids, ascending: their owners ascend too, so each owner's request is a run */
    uint32_t *uniq = hr_malloc((nids + 1) * sizeof *uniq);
    if (nids) memcpy(uniq, ids, nids * sizeof *uniq);
    qsort(uniq, nids, sizeof *uniq, cmp_u32);
    uint64_t nu = 0;
    for (uint64_t x = 0; x < nids; x++)
        if (nu == 0 || uniq[x] != uniq[nu - 1]) uniq[nu++] = uniq[x];
    uint64_t *cnt = hr_calloc(2 * (size_t)P, sizeof *cnt), *rcnt = cnt + P;
    for (uint64_t x = 0; x < nu; x++) cnt[hr_block_owner(n, P, uniq[x])]++;
    void *req = NULL;
    uint64_t nreq = 0;
    int rc = hr_comm_alltoallv(job->comm, uniq, cnt, sizeof *uniq, &req, rcnt, &nreq);
    float *reply = NULL, *rows = NULL;
    if (rc == 0) {
        /* serve: the rows asked of this rank's block, in the order asked */
        const uint64_t lo = hr_block_lo(n, P, job->rank);
        const uint32_t *q = req;
        reply = hr_malloc((nreq ? nreq : 1) * rb);
        for (uint64_t x = 0; x < nreq; x++) memcpy((char *)reply + x * rb, block + (q[x] - lo) * (uint64_t)width, rb);
        rows = hr_malloc((nu ? nu : 1) * rb);
        rc = hr_comm_alltoallv_into(job->comm, reply, rcnt, rows, cnt, rb);
    }
    for (uint64_t x = 0; rc == 0 && x < nids; x++) {
        const uint32_t *at = bsearch(&ids[x], uniq, nu, sizeof *uniq, cmp_u32);
        memcpy((char *)out + x * rb, (const char *)rows + (uint64_t)(at - uniq) * rb, rb);
    }
    hr_free(req);
    hr_free(reply);
    hr_free(rows);
    hr_free(cnt);
    hr_free(uniq);
    return rc;
}
