#include "jobs/userknn_ring.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/timer.h"

typedef struct { uint64_t key, at; } uu_pair;

static int cmp_pair(const void *p, const void *q)
{
    const uu_pair *a = p, *b = q;
    return (a->key > b->key) - (a->key < b->key);
}

void hr_uu_pack(const hr_block *tr, const uint32_t *umodel, const float *bias, const uint32_t *imap, void **msg, uint64_t *len)
{
    uint64_t nr = 0, nz = 0, maxlen = 1;
    uu_pair *ord = hr_malloc((tr->nrows + 1) * sizeof *ord);
    for (uint64_t r = 0; r < tr->nrows; r++) {
        if (umodel[tr->gid[r]] == UINT32_MAX) continue;
        ord[nr++] = (uu_pair){ umodel[tr->gid[r]], r };
        for (uint64_t e = tr->ptr[r]; e < tr->ptr[r + 1]; e++) nz += imap[tr->idx[e]] != UINT32_MAX;
        if (tr->ptr[r + 1] - tr->ptr[r] > maxlen) maxlen = tr->ptr[r + 1] - tr->ptr[r];
    }
    qsort(ord, nr, sizeof *ord, cmp_pair);
    hr_uknn_rows x;
    hr_uknn_rows_alloc(&x, nr, nz);
    uu_pair *row = hr_malloc((maxlen + 1) * sizeof *row);
    for (uint64_t k = 0; k < nr; k++) {
        const uint64_t r = ord[k].at;
        uint64_t n = 0;
        for (uint64_t e = tr->ptr[r]; e < tr->ptr[r + 1]; e++)
            if (imap[tr->idx[e]] != UINT32_MAX) row[n++] = (uu_pair){ imap[tr->idx[e]], e };
        qsort(row, n, sizeof *row, cmp_pair);
        x.gid[k] = (uint32_t)ord[k].key;
        x.norm[k] = bias ? bias[tr->gid[r]] : 0.0;
        for (uint64_t q = 0; q < n; q++) {
            x.items[x.ptr[k] + q] = (uint32_t)row[q].key;
            x.vals[x.ptr[k] + q] = tr->val[row[q].at];
        }
        x.ptr[k + 1] = x.ptr[k] + n;
    }
    hr_uknn_rows_pack(&x, msg, len);
    hr_uknn_rows_free(&x);
    hr_free(row);
    hr_free(ord);
}

int hr_uu_ring(hr_job *job, void *msg, uint64_t len, void (*visit)(void *ctx, const hr_uknn_rows *v), void *ctx, double *t_comm)
{
    uint64_t cap = len, got = 0;
    int rc = hr_comm_allreduce_max_u64(job->comm, &cap, 1);
    void *a = hr_malloc(cap + 8), *b = hr_malloc(cap + 8);   /* both hold the largest block: they swap */
    memcpy(a, msg, len);
    hr_free(msg);
    hr_uknn_rows v;
    for (int step = 0; step < job->size && rc == 0; step++) {
        if (step > 0) {
            const double t1 = hr_now();
            rc = hr_comm_ring_shift(job->comm, a, len, b, cap, &got);
            *t_comm += hr_now() - t1;
            if (rc < 0) break;
            void *t = a;
            a = b;
            b = t;
            len = got;
        }
        rc = hr_uknn_rows_view(a, len, &v, &job->err);
        if (rc == 0) visit(ctx, &v);
    }
    hr_free(a);
    hr_free(b);
    return hr_comm_agree(job->comm, rc, &job->err);
}

uint64_t hr_uu_neighbours(const hr_model *m, uint32_t mg, const uint32_t **row, const float **val)
{
    const uint64_t cb = mg / m->ii_cols;
    *row = NULL;
    *val = NULL;
    if (cb < m->ii_first || cb >= m->ii_first + m->ii_count) return 0;
    const hr_iiblock *b = &m->ii[cb - m->ii_first];
    const uint64_t c = mg - b->c0;
    *row = b->row + b->ptr[c];
    *val = b->val + b->ptr[c];
    return b->ptr[c + 1] - b->ptr[c];
}

int64_t hr_uu_find(const uint32_t *a, uint64_t n, uint32_t v)
{
    uint64_t lo = 0, hi = n;
    while (lo < hi) {
        uint64_t mid = (lo + hi) / 2;
        if (a[mid] < v) lo = mid + 1;
        else hi = mid;
    }
    return lo < n && a[lo] == v ? (int64_t)lo : -1;
}
