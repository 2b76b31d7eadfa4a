#include "partition/route.h"

#include <string.h>
#include <strings.h>

#include "core/alloc.h"

const char *hr_exchange_name(hr_exchange e)
{
    return e == HR_EXCHANGE_ALLGATHER ? "allgather" : e == HR_EXCHANGE_NEEDED ? "needed" : "auto";
}

int hr_exchange_parse(const char *s, hr_exchange *out)
{
    if (!strcasecmp(s, "auto")) *out = HR_EXCHANGE_AUTO;
    else if (!strcasecmp(s, "allgather")) *out = HR_EXCHANGE_ALLGATHER;
    else if (!strcasecmp(s, "needed")) *out = HR_EXCHANGE_NEEDED;
    else return -1;
    return 0;
}

void hr_route_free(hr_route *r)
{
    if (!r) return;
    hr_free(r->recv_count);
    hr_free(r->send_count);
    hr_free(r->send_local);
    hr_free(r->pos_of_gid);
    hr_free(r->need_gid);
    memset(r, 0, sizeof *r);
}

uint64_t hr_route_needed(const hr_part *other, const hr_block *b, uint64_t *count, uint32_t **need_gid)
{
    /* Mark the referenced gids in a table over the other side's gids, then walk it once:
     * linear in nnz + n (the table is as large as the partition's own owner[] table). */
    uint8_t *seen = hr_calloc(other->n ? other->n : 1, 1);
    for (uint64_t e = 0; e < b->nnz; e++) seen[b->idx[e]] = 1;
    uint64_t nd = 0;
    memset(count, 0, (size_t)other->nparts * sizeof *count);
    for (uint64_t g = 0; g < other->n; g++)
        if (seen[g]) {
            count[other->owner[g]]++;
            nd++;
        }
    uint64_t *off = hr_malloc((size_t)other->nparts * sizeof *off), s = 0;
    for (int q = 0; q < other->nparts; q++) { off[q] = s; s += count[q]; }
    uint32_t *need = hr_malloc((nd ? nd : 1) * sizeof *need);
    for (uint64_t g = 0; g < other->n; g++)
        if (seen[g]) need[off[other->owner[g]]++] = (uint32_t)g;  /* gid order per owner */
    hr_free(off);
    hr_free(seen);
    *need_gid = need;
    return nd;
}

int hr_route_build(hr_comm *c, const hr_part *other, const hr_block *b, hr_exchange mode, hr_route *r)
{
    int P = hr_comm_size(c), me = hr_comm_rank(c);
    memset(r, 0, sizeof *r);
    r->nparts = P;
    r->recv_count = hr_calloc((size_t)P, sizeof *r->recv_count);
    r->send_count = hr_calloc((size_t)P, sizeof *r->send_count);
    uint64_t nd = hr_route_needed(other, b, r->recv_count, &r->need_gid);
    uint64_t vol[2] = { other->n - other->rows[me], nd - r->recv_count[me] };
    int rc = hr_comm_allreduce_sum_u64(c, vol, 2);
    if (rc < 0) return rc;
    r->volume_allgather = vol[0];
    r->volume_needed = vol[1];
    /* auto: "needed" copies every row it sends into a send buffer (allgather sends the owned
     * block in place) and pays P - 1 messages, so it must save a real share of the volume to
     * win.  Measured on one node (2 ranks, iALS CG on 200k x 50k, k = 64, each rank needing
     * 99.9% of the rows): 0.023-0.042 s of exchange per iteration against 0.012 s for
     * allgather, same model.  So: needed when it moves less than 3/4 of allgather's volume. */
    if (mode == HR_EXCHANGE_AUTO) mode = 4 * vol[1] < 3 * vol[0] ? HR_EXCHANGE_NEEDED : HR_EXCHANGE_ALLGATHER;
    r->mode = mode;
    if (mode == HR_EXCHANGE_ALLGATHER) {
        hr_free(r->need_gid);
        r->need_gid = NULL;
        r->pos_of_gid = hr_malloc((size_t)P * sizeof *r->pos_of_gid);
        uint64_t t = 0;
        for (int q = 0; q < P; q++) {
            r->pos_of_gid[q] = t;
            r->recv_count[q] = other->rows[q];
            t += other->rows[q];
        }
        r->nrecv = t;
        return 0;
    }
    r->nrecv = nd;
    /* Tell each owner which of its rows we need; what comes back are the rows we must send. */
    void *req = NULL;
    uint64_t nreq = 0;
    rc = hr_comm_alltoallv(c, r->need_gid, r->recv_count, sizeof(uint32_t), &req, r->send_count, &nreq);
    if (rc < 0) return rc;
    uint32_t *rg = req;
    r->nsend = nreq;
    r->send_local = hr_malloc((nreq ? nreq : 1) * sizeof *r->send_local);
    for (uint64_t k = 0; k < nreq; k++) r->send_local[k] = other->local[rg[k]];
    hr_free(req);
    return 0;
}

void hr_route_map_cols(const hr_route *r, const hr_part *other, const hr_block *b, uint32_t *col)
{
    if (r->mode == HR_EXCHANGE_ALLGATHER) {
        for (uint64_t e = 0; e < b->nnz; e++) {
            uint32_t gid = b->idx[e];
            col[e] = (uint32_t)(r->pos_of_gid[other->owner[gid]] + other->local[gid]);
        }
        return;
    }
    /* Receive order is (owner, gid); a table over the other side's gids gives each one's
     * position (linear in nnz + n). */
    uint64_t nrecv = 0;
    for (int q = 0; q < r->nparts; q++) nrecv += r->recv_count[q];
    uint32_t *pos = hr_malloc((other->n ? other->n : 1) * sizeof *pos);
    for (uint64_t q = 0; q < nrecv; q++) pos[r->need_gid[q]] = (uint32_t)q;
    for (uint64_t e = 0; e < b->nnz; e++) col[e] = pos[b->idx[e]];
    hr_free(pos);
}

int hr_route_exchange(hr_comm *c, const hr_route *r, const float *local, int width, float *send, float *recv)
{
    const size_t row = (size_t)width * sizeof(float);
    if (r->mode == HR_EXCHANGE_ALLGATHER) /* whole rows travel as they are */
        return hr_comm_allgatherv_into(c, local, r->recv_count[hr_comm_rank(c)], recv, r->recv_count, row);
    for (uint64_t q = 0; q < r->nsend; q++)
        memcpy(send + q * (size_t)width, local + (size_t)r->send_local[q] * (size_t)width, row);
    return hr_comm_alltoallv_into(c, send, r->send_count, recv, r->recv_count, row);
}

int hr_route_exchange_split(hr_comm *c, const hr_route *r, const float *local, int k, int ky, float *send, float *recv,
                            float *recv_tail)
{
    const int kt = k - ky;
    const int all = r->mode == HR_EXCHANGE_ALLGATHER;
    const uint64_t n = all ? r->recv_count[hr_comm_rank(c)] : r->nsend;
    float *tail = send + n * (size_t)ky;
    /* one pass over the rows, each read once: both parts packed (the tail's few floats by a
     * loop: a memcpy call per row cost more than the copy) */
    for (uint64_t q = 0; q < n; q++) {
        const float *src = local + (size_t)(all ? q : r->send_local[q]) * (size_t)k;
        memcpy(send + q * (size_t)ky, src, sizeof(float) * (size_t)ky);
        for (int j = 0; j < kt; j++) tail[q * (size_t)kt + (size_t)j] = src[ky + j];
    }
    const size_t rowy = (size_t)ky * sizeof(float), rowt = (size_t)kt * sizeof(float);
    if (all) {
        HR_TRY(hr_comm_allgatherv_into(c, send, n, recv, r->recv_count, rowy));
        return hr_comm_allgatherv_into(c, tail, n, recv_tail, r->recv_count, rowt);
    }
    HR_TRY(hr_comm_alltoallv_into(c, send, r->send_count, recv, r->recv_count, rowy));
    return hr_comm_alltoallv_into(c, tail, r->send_count, recv_tail, r->recv_count, rowt);
}
