#include "solvers/knn_user.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/hash.h"

void hr_uknn_rows_alloc(hr_uknn_rows *x, uint64_t nrows, uint64_t nnz)
{
    memset(x, 0, sizeof *x);
    x->nrows = nrows;
    x->nnz = nnz;
    x->gid = hr_malloc((nrows + 1) * sizeof *x->gid);
    x->ptr = hr_calloc(nrows + 1, sizeof *x->ptr);
    x->norm = hr_calloc(nrows + 1, sizeof *x->norm);
    x->items = hr_malloc((nnz + 1) * sizeof *x->items);
    x->vals = hr_malloc((nnz + 1) * sizeof *x->vals);
}

void hr_uknn_rows_free(hr_uknn_rows *x)
{
    if (!x->view) {
        hr_free(x->gid);
        hr_free(x->ptr);
        hr_free(x->norm);
        hr_free(x->items);
        hr_free(x->vals);
    }
    memset(x, 0, sizeof *x);
}

void hr_uknn_rows_norms(hr_uknn_rows *x)
{
    for (uint64_t r = 0; r < x->nrows; r++) {
        double s = 0;
        for (uint64_t e = x->ptr[r]; e < x->ptr[r + 1]; e++) s += (double)x->vals[e] * x->vals[e];
        x->norm[r] = sqrt(s);
    }
}

static uint64_t pad8(uint64_t b) { return (b + 7) & ~(uint64_t)7; }

static uint64_t msg_size(uint64_t nr, uint64_t nz)
{
    return 16 + (nr + 1) * 8 + nr * 8 + pad8(nr * 4) + pad8(nz * 4) + pad8(nz * 4);
}

void hr_uknn_rows_pack(const hr_uknn_rows *x, void **out, uint64_t *len)
{
    const uint64_t nr = x->nrows, nz = x->nnz;
    *len = msg_size(nr, nz);
    unsigned char *p = hr_calloc(*len + 8, 1);
    *out = p;
    memcpy(p, &nr, 8);
    memcpy(p + 8, &nz, 8);
    p += 16;
    memcpy(p, x->ptr, (nr + 1) * 8);
    p += (nr + 1) * 8;
    memcpy(p, x->norm, nr * 8);
    p += nr * 8;
    memcpy(p, x->gid, nr * 4);
    p += pad8(nr * 4);
    memcpy(p, x->items, nz * 4);
    p += pad8(nz * 4);
    memcpy(p, x->vals, nz * 4);
}

int hr_uknn_rows_view(const void *p, uint64_t len, hr_uknn_rows *x, hr_error *err)
{
    uint64_t nr, nz;
    memset(x, 0, sizeof *x);
    if (len < 24) return hr_error_set(err, HR_ERR_FORMAT, "userknn ring message: %llu bytes, too short", (unsigned long long)len);
    memcpy(&nr, p, 8);
    memcpy(&nz, (const unsigned char *)p + 8, 8);
    if (nr > len / 8 || nz > len / 4 || msg_size(nr, nz) != len)
        return hr_error_set(err, HR_ERR_FORMAT, "userknn ring message: %llu bytes do not hold %llu rows of %llu entries",
                            (unsigned long long)len, (unsigned long long)nr, (unsigned long long)nz);
    unsigned char *q = (unsigned char *)p + 16;
    x->view = 1;
    x->nrows = nr;
    x->nnz = nz;
    x->ptr = (uint64_t *)(void *)q;
    q += (nr + 1) * 8;
    x->norm = (double *)(void *)q;
    q += nr * 8;
    x->gid = (uint32_t *)(void *)q;
    q += pad8(nr * 4);
    x->items = (uint32_t *)(void *)q;
    q += pad8(nz * 4);
    x->vals = (float *)(void *)q;
    if (x->ptr[0] != 0 || x->ptr[nr] != nz)
        return hr_error_set(err, HR_ERR_FORMAT, "userknn ring message: row offsets do not span the entries");
    for (uint64_t r = 0; r < nr; r++)
        if (x->ptr[r + 1] < x->ptr[r])
            return hr_error_set(err, HR_ERR_FORMAT, "userknn ring message: row offsets decrease at row %llu", (unsigned long long)r);
    return 0;
}

static int cmp_key(const void *p, const void *q)
{
    const uint64_t *a = p, *b = q;
    return (a[0] > b[0]) - (a[0] < b[0]);
}

uint64_t hr_uknn_cap(uint32_t gid, const uint32_t *items, uint64_t len, uint32_t cap, uint64_t *keys, uint64_t *pos)
{
    if (!cap || len <= cap) {
        for (uint64_t e = 0; e < len; e++) pos[e] = e;
        return len;
    }
    for (uint64_t e = 0; e < len; e++) {
        keys[2 * e] = hr_mix64(((uint64_t)gid << 32 | items[e]) ^ 0x6b6e6e63617030ULL);
        keys[2 * e + 1] = e;
    }
    qsort(keys, len, 2 * sizeof *keys, cmp_key);
    for (uint64_t e = 0; e < cap; e++) pos[e] = keys[2 * e + 1];
    qsort(pos, cap, sizeof *pos, cmp_key);
    return cap;
}

void hr_uknn_sim_init(hr_uknn_sim *s, const hr_uknn_rows *targets, const hr_knn_opts *o, uint64_t n_items)
{
    memset(s, 0, sizeof *s);
    s->t = targets;
    s->o = *o;
    s->n_items = n_items;
    s->K = o->neighbors;
    s->store = hr_malloc((targets->nrows * s->K + 1) * sizeof *s->store);
    s->size = hr_calloc(targets->nrows + 1, sizeof *s->size);
    s->cptr = hr_malloc((n_items + 2) * sizeof *s->cptr);
    s->tmprow = hr_malloc((s->K + 1) * sizeof *s->tmprow);
    s->tmpval = hr_malloc((s->K + 1) * sizeof *s->tmpval);
}

void hr_uknn_sim_free(hr_uknn_sim *s)
{
    hr_free(s->store);
    hr_free(s->size);
    hr_free(s->cptr);
    hr_free(s->count);
    hr_free(s->crow);
    hr_free(s->cval);
    hr_free(s->tmprow);
    hr_free(s->tmpval);
    hr_knn_acc_free(&s->acc);
    memset(s, 0, sizeof *s);
}

void hr_uknn_sim_block(hr_uknn_sim *s, const hr_uknn_rows *v)
{
    const hr_uknn_rows *t = s->t;
    const uint64_t ni = s->n_items, nv = v->nrows;
    if (!nv || !t->nrows) return;
    /* the visiting block inverted: item -> its users (local rows ascending) and their a_vi */
    memset(s->cptr, 0, (ni + 2) * sizeof *s->cptr);
    for (uint64_t e = 0; e < v->nnz; e++) s->cptr[v->items[e] + 2]++;
    for (uint64_t i = 0; i < ni; i++) s->cptr[i + 2] += s->cptr[i + 1];
    hr_free(s->crow);
    hr_free(s->cval);
    hr_free(s->count);
    s->crow = hr_malloc((v->nnz + 1) * sizeof *s->crow);
    s->cval = hr_malloc((v->nnz + 1) * sizeof *s->cval);
    s->count = hr_malloc((nv + 1) * sizeof *s->count);
    for (uint64_t r = 0; r < nv; r++) {
        s->count[r] = v->ptr[r + 1] - v->ptr[r];
        for (uint64_t e = v->ptr[r]; e < v->ptr[r + 1]; e++) {
            const uint64_t f = s->cptr[v->items[e] + 1]++;
            s->crow[f] = (uint32_t)r;
            s->cval[f] = v->vals[e];
        }
    }
    /* now cptr[i] .. cptr[i + 1] is item i's range */
    if (s->acc_n < nv) {
        hr_knn_acc_free(&s->acc);
        hr_knn_acc_init(&s->acc, nv, &s->o);
        s->acc_n = nv;
    }
    for (uint64_t r = 0; r < t->nrows; r++) {
        /* the target itself, when it visits: never its own neighbour (acc_n: a spare slot) */
        uint64_t lo = 0, hi = nv;
        while (lo < hi) {
            const uint64_t mid = (lo + hi) / 2;
            if (v->gid[mid] < t->gid[r]) lo = mid + 1;
            else hi = mid;
        }
        const uint32_t skip = lo < nv && v->gid[lo] == t->gid[r] ? (uint32_t)lo : (uint32_t)s->acc_n;
        for (uint64_t e = t->ptr[r]; e < t->ptr[r + 1]; e++) {
            const uint32_t i = t->items[e];
            const uint64_t a = s->cptr[i], b = s->cptr[i + 1];
            hr_knn_acc_add(&s->acc, t->vals[e], s->crow + a, s->cval + a, b - a, skip);
            s->pairs += b - a;
        }
        const uint32_t got = hr_knn_acc_top(&s->acc, &s->o, s->count, v->norm, t->ptr[r + 1] - t->ptr[r], t->norm[r],
                                            s->tmprow, s->tmpval);
        hr_topk h = { s->store + r * s->K, (uint32_t)s->K, s->size[r] };
        for (uint32_t x = 0; x < got; x++) hr_topk_push(&h, s->tmpval[x], v->gid[s->tmprow[x]]);
        s->size[r] = h.size;
    }
}

static int cmp_entry(const void *p, const void *q)
{
    uint32_t x = ((const hr_topk_entry *)p)->index, y = ((const hr_topk_entry *)q)->index;
    return (x > y) - (x < y);
}

uint32_t hr_uknn_sim_take(hr_uknn_sim *s, uint64_t r, uint32_t *row, float *val)
{
    hr_topk_entry *e = s->store + r * s->K;
    const uint32_t n = s->size[r];
    qsort(e, n, sizeof *e, cmp_entry);
    for (uint32_t x = 0; x < n; x++) {
        row[x] = e[x].index;
        val[x] = e[x].score;
    }
    return n;
}
