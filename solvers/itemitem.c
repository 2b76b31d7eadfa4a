#include "solvers/itemitem.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "solvers/topk.h"

void hr_iiblock_rows(const hr_iiblock *b, hr_iirows *t)
{
    uint64_t w = b->c1 - b->c0;
    memset(t->rptr, 0, (b->n + 1) * sizeof *t->rptr);
    for (uint64_t e = 0; e < b->nnz; e++) t->rptr[b->row[e] + 1]++;
    for (uint64_t i = 0; i < b->n; i++) t->rptr[i + 1] += t->rptr[i];
    /* columns visited in order, so each row's entries come out by ascending column */
    for (uint64_t c = 0; c < w; c++)
        for (uint64_t e = b->ptr[c]; e < b->ptr[c + 1]; e++) {
            uint64_t at = t->rptr[b->row[e]]++;
            t->rcol[at] = (uint32_t)c;
            t->rval[at] = b->val[e];
        }
    for (uint64_t i = b->n; i > 0; i--) t->rptr[i] = t->rptr[i - 1];
    t->rptr[0] = 0;
}

void hr_iiblock_score(const hr_iiblock *b, const hr_iirows *t, const hr_iiquery *q, uint64_t q0, uint32_t nq,
                      uint64_t j0, uint64_t j1, float *S, uint64_t ld)
{
    const uint64_t nc = j1 - j0;
    if (b->dense) {
        /* column-outer: one column of B (n floats) stays in cache while every query gathers
         * its items from it */
        for (uint64_t j = j0; j < j1; j++) {
            const float *col = b->val + (j - b->c0) * b->n;
            for (uint32_t u = 0; u < nq; u++) {
                const uint64_t e0 = q->ptr[q0 + u], e1 = q->ptr[q0 + u + 1];
                float s = 0.0f;
                for (uint64_t e = e0; e < e1; e++) s += q->val[e] * col[q->idx[e]];
                S[u * ld + (j - j0)] = s;
            }
        }
        return;
    }
    const uint32_t lo = (uint32_t)(j0 - b->c0), hi = (uint32_t)(j1 - b->c0);
    for (uint32_t u = 0; u < nq; u++) {
        float *row = S + u * ld;
        memset(row, 0, nc * sizeof *row);
        for (uint64_t e = q->ptr[q0 + u]; e < q->ptr[q0 + u + 1]; e++) {
            const uint32_t i = q->idx[e];
            const float x = q->val[e];
            for (uint64_t f = t->rptr[i]; f < t->rptr[i + 1]; f++) {
                uint32_t c = t->rcol[f];
                if (c >= lo && c < hi) row[c - lo] += x * t->rval[f];
            }
        }
    }
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

uint64_t hr_iiblock_topm(const float *dense, uint64_t n, uint64_t w, uint32_t M, uint64_t *ptr, uint32_t *row, float *val)
{
    hr_topk_entry *st = hr_malloc(((size_t)M + 1) * sizeof *st);
    uint64_t nnz = 0;
    ptr[0] = 0;
    for (uint64_t c = 0; c < w; c++) {
        const float *col = dense + c * n;
        hr_topk h;
        hr_topk_init(&h, st, M);
        for (uint64_t i = 0; i < n; i++)
            if (col[i] != 0.0f) hr_topk_push(&h, fabsf(col[i]), (uint32_t)i);
        uint32_t got = hr_topk_sorted(&h, row + nnz, NULL);
        qsort(row + nnz, got, sizeof *row, cmp_u32);
        for (uint32_t x = 0; x < got; x++) val[nnz + x] = col[row[nnz + x]];
        nnz += got;
        ptr[c + 1] = nnz;
    }
    hr_free(st);
    return nnz;
}

uint32_t hr_iiblock_neighbors(const hr_iiblock *b, uint64_t j, uint32_t N, hr_topk_entry *heap, uint32_t *row, float *val)
{
    const uint64_t c = j - b->c0, e0 = b->dense ? 0 : b->ptr[c], e1 = b->dense ? b->n : b->ptr[c + 1];
    const float *v = b->dense ? b->val + c * b->n : b->val;
    hr_topk h;
    hr_topk_init(&h, heap, N ? N : (uint32_t)(e1 - e0));
    /* indices pushed are entry positions: for a sparse column they ascend with the rows, so
     * "lower index first" breaks ties by the lower row in both layouts */
    for (uint64_t e = e0; e < e1; e++)
        if (v[e] != 0.0f) hr_topk_push(&h, fabsf(v[e]), (uint32_t)(e - e0));
    uint32_t got = hr_topk_sorted(&h, row, NULL);
    for (uint32_t x = 0; x < got; x++) {
        const uint64_t e = e0 + row[x];
        val[x] = v[e];
        row[x] = b->dense ? (uint32_t)e : b->row[e];
    }
    return got;
}
