#include "solvers/ease.h"

#include <string.h>

#include "core/alloc.h"
#include "solvers/blas.h"

struct hr_ease_router {
    const hr_grid *g;
    uint64_t cap;
    uint64_t *roff, *coff;   /* nprow + 1, npcol + 1 bucket offsets */
    uint32_t *ri, *ci;       /* items bucketed by process row / column (stable: ascending) */
    float *rv, *cv;
};

hr_ease_router *hr_ease_router_create(const hr_grid *g, uint64_t max_len)
{
    hr_ease_router *r = hr_calloc(1, sizeof *r);
    r->g = g;
    r->cap = max_len;
    r->roff = hr_malloc(((size_t)g->nprow + (size_t)g->npcol + 2) * sizeof *r->roff);
    r->coff = r->roff + g->nprow + 1;
    r->ri = hr_malloc((max_len + 1) * sizeof *r->ri);
    r->ci = hr_malloc((max_len + 1) * sizeof *r->ci);
    r->rv = hr_malloc((max_len + 1) * sizeof *r->rv);
    r->cv = hr_malloc((max_len + 1) * sizeof *r->cv);
    return r;
}

void hr_ease_router_free(hr_ease_router *r)
{
    if (!r) return;
    hr_free(r->roff);
    hr_free(r->ri);
    hr_free(r->ci);
    hr_free(r->rv);
    hr_free(r->cv);
    hr_free(r);
}

/* Counting sort of the row's items into process-row and process-column buckets (offsets
 * only unless fill; vals NULL: every value 1). */
static void bucket(hr_ease_router *r, const uint32_t *items, const float *vals, uint64_t len, int fill)
{
    const hr_grid *g = r->g;
    memset(r->roff, 0, ((size_t)g->nprow + (size_t)g->npcol + 2) * sizeof *r->roff);
    for (uint64_t e = 0; e < len; e++) {
        r->roff[hr_grid_row_proc(g, items[e]) + 1]++;
        r->coff[hr_grid_col_proc(g, items[e]) + 1]++;
    }
    for (int p = 0; p < g->nprow; p++) r->roff[p + 1] += r->roff[p];
    for (int q = 0; q < g->npcol; q++) r->coff[q + 1] += r->coff[q];
    if (!fill) return;
    for (uint64_t e = 0; e < len; e++) {
        int p = hr_grid_row_proc(g, items[e]), q = hr_grid_col_proc(g, items[e]);
        float v = vals ? vals[e] : 1.0f;
        r->ri[r->roff[p]] = items[e];
        r->rv[r->roff[p]++] = v;
        r->ci[r->coff[q]] = items[e];
        r->cv[r->coff[q]++] = v;
    }
    /* the fill advanced each offset to the next bucket's start: shift back */
    for (int p = g->nprow; p > 0; p--) r->roff[p] = r->roff[p - 1];
    r->roff[0] = 0;
    for (int q = g->npcol; q > 0; q--) r->coff[q] = r->coff[q - 1];
    r->coff[0] = 0;
}

void hr_ease_route_size(hr_ease_router *r, const uint32_t *items, uint64_t len, uint64_t *sizes)
{
    const hr_grid *g = r->g;
    bucket(r, items, NULL, len, 0);
    for (int p = 0; p < g->nprow; p++) {
        uint64_t nr = r->roff[p + 1] - r->roff[p];
        if (!nr) continue;
        for (int q = 0; q < g->npcol; q++) {
            uint64_t nc = r->coff[q + 1] - r->coff[q];
            if (nc) sizes[p * g->npcol + q] += 2 + 2 * nr + 2 * nc;
        }
    }
}

void hr_ease_route_pack(hr_ease_router *r, const uint32_t *items, const float *vals, uint64_t len, uint32_t **out)
{
    const hr_grid *g = r->g;
    bucket(r, items, vals, len, 1);
    for (int p = 0; p < g->nprow; p++) {
        uint64_t r0 = r->roff[p], nr = r->roff[p + 1] - r0;
        if (!nr) continue;
        for (int q = 0; q < g->npcol; q++) {
            uint64_t c0 = r->coff[q], nc = r->coff[q + 1] - c0;
            if (!nc) continue;
            uint32_t *w = out[p * g->npcol + q];
            w[0] = (uint32_t)nr;
            w[1] = (uint32_t)nc;
            w += 2;
            memcpy(w, r->ri + r0, nr * sizeof *w);
            memcpy(w + nr, r->rv + r0, nr * sizeof *w);
            w += 2 * nr;
            memcpy(w, r->ci + c0, nc * sizeof *w);
            memcpy(w + nc, r->cv + c0, nc * sizeof *w);
            out[p * g->npcol + q] = w + 2 * nc;
        }
    }
}

int hr_ease_accumulate(hr_dmat *G, const uint32_t *words, uint64_t nwords, uint64_t *pairs, hr_error *err)
{
    const hr_grid *g = G->g;
    uint64_t pos = 0, np = 0;
    while (pos < nwords) {
        if (nwords - pos < 2) break;
        uint64_t nr = words[pos], nc = words[pos + 1];
        if (nwords - pos - 2 < 2 * (nr + nc)) break;
        const uint32_t *ri = words + pos + 2, *ci = ri + 2 * nr;
        const float *rv = (const float *)(ri + nr), *cv = (const float *)(ci + nc);
        pos += 2 + 2 * (nr + nc);
        uint64_t s = 0;
        for (uint64_t c = 0; c < nc; c++) {
            int64_t j = ci[c];
            if (j >= G->n || hr_grid_col_proc(g, j) != g->mycol) goto bad;
            double *col = G->a + hr_grid_col_g2l(g, j) * G->lld;
            double vc = cv[c];
            while (s < nr && ri[s] < j) s++;  /* lower triangle: rows i >= j (both lists ascend) */
            for (uint64_t x = s; x < nr; x++) {
                if ((int64_t)ri[x] >= G->n || hr_grid_row_proc(g, ri[x]) != g->myrow) goto bad;
                col[hr_grid_row_g2l(g, ri[x])] += (double)rv[x] * vc;
            }
            np += nr - s;
        }
    }
    if (pos != nwords) goto bad;
    *pairs += np;
    return 0;
bad:
    return hr_error_set(err, HR_ERR_STATE, "rank %d: malformed Gram record at word %llu of %llu", g->rank,
                        (unsigned long long)pos, (unsigned long long)nwords);
}

void hr_ease_regularize(hr_dmat *G, double lambda)
{
    for (int64_t j = 0; j < G->nloc; j++) {
        int64_t gj = hr_grid_col_l2g(G->g, G->g->mycol, j);
        double *d = hr_dmat_at(G, gj, gj);
        if (d) *d += lambda;
    }
}

/* On a 1 x 1 grid the tiles are the whole matrix: LAPACK (OpenBLAS's own potrf / potri) does the
 * same work without PBLAS's bookkeeping, measured 35 against 26 GFLOP/s per core at n = 4096. */
static int single(const hr_dmat *G) { return G->g->nprow == 1 && G->g->npcol == 1; }

int hr_ease_factor(hr_dmat *G, int64_t *bad_item, hr_error *err)
{
    int n = (int)G->n, one = 1, info = 0, lda = (int)G->lld;
    *bad_item = -1;
    if (n == 0) return 0;
    if (single(G)) dpotrf_("L", &n, G->a, &lda, &info, 1);
    else pdpotrf_("L", &n, G->a, &one, &one, G->desc, &info, 1);
    if (info > 0) {
        *bad_item = info - 1;
        return hr_error_set(err, HR_ERR_NUMERIC, "G + lambda I is not positive definite (leading minor of order %d)", info);
    }
    if (info < 0) return hr_error_set(err, HR_ERR_ARG, "pdpotrf: illegal argument %d", -info);
    return 0;
}

int hr_ease_invert(hr_dmat *G, hr_error *err)
{
    int n = (int)G->n, one = 1, info = 0, lda = (int)G->lld;
    if (n == 0) return 0;
    if (single(G)) dpotri_("L", &n, G->a, &lda, &info, 1);
    else pdpotri_("L", &n, G->a, &one, &one, G->desc, &info, 1);
    if (info > 0) return hr_error_set(err, HR_ERR_NUMERIC, "pdpotri: the Cholesky factor is singular at %d", info);
    if (info < 0) return hr_error_set(err, HR_ERR_ARG, "pdpotri: illegal argument %d", -info);
    return 0;
}

int hr_ease_diag(hr_dmat *P, double *diag)
{
    memset(diag, 0, (size_t)P->n * sizeof *diag);
    for (int64_t j = 0; j < P->nloc; j++) {
        int64_t gj = hr_grid_col_l2g(P->g, P->g->mycol, j);
        const double *d = hr_dmat_at(P, gj, gj);
        if (d) diag[gj] = *d;
    }
    /* each entry is set by exactly one process: the sum adds zeros, exactly */
    return hr_grid_sum_f64((hr_grid *)P->g, diag, P->n);
}

/* Local row range [*l0, *l1) of process row prow whose global rows lie in [a, b). */
static void local_rows(const hr_grid *g, int prow, int64_t a, int64_t b, int64_t *l0, int64_t *l1)
{
    *l0 = hr_grid_rows_of(g, prow, a);
    *l1 = hr_grid_rows_of(g, prow, b);
}

/* The traversal shared by count, pack and unpack: for each local column (global j < c1) of
 * process (prow, pcol), the local rows whose stored entry (i >= j) belongs to the panel:
 * i in [j, n) when j is a panel column, else i in [max(c0, j), c1). */
#define PANEL_LOOP(g, n, prow, pcol, c0, c1, BODY)                                   \
    do {                                                                             \
        int64_t ncols_ = hr_grid_cols_of(g, pcol, c1);                               \
        for (int64_t jl = 0; jl < ncols_; jl++) {                                    \
            int64_t j = hr_grid_col_l2g(g, pcol, jl), l0, l1;                        \
            if (j >= (c0)) local_rows(g, prow, j, n, &l0, &l1);                      \
            else local_rows(g, prow, (c0), (c1), &l0, &l1);                          \
            for (int64_t il = l0; il < l1; il++) {                                   \
                int64_t i = hr_grid_row_l2g(g, prow, il);                            \
                if (i < j) continue;                                                 \
                BODY                                                                 \
            }                                                                        \
        }                                                                            \
    } while (0)

uint64_t hr_ease_panel_count(const hr_grid *g, int64_t n, int prow, int pcol, int64_t c0, int64_t c1)
{
    uint64_t cnt = 0;
    PANEL_LOOP(g, n, prow, pcol, c0, c1, { (void)i; cnt++; });
    return cnt;
}

void hr_ease_panel_pack(const hr_dmat *P, int64_t c0, int64_t c1, double *out)
{
    const hr_grid *g = P->g;
    uint64_t w = 0;
    PANEL_LOOP(g, P->n, g->myrow, g->mycol, c0, c1, { (void)i; out[w++] = P->a[il + jl * P->lld]; });
}

void hr_ease_panel_unpack(const hr_grid *g, int64_t n, int prow, int pcol, int64_t c0, int64_t c1, const double *in,
                          double *panel)
{
    uint64_t r = 0;
    PANEL_LOOP(g, n, prow, pcol, c0, c1, {
        double v = in[r++];
        if (j >= c0) panel[i + (j - c0) * n] = v;
        if (i >= c0 && i < c1 && i != j) panel[j + (i - c0) * n] = v;
    });
}

void hr_ease_weights(const double *panel, int64_t n, int64_t c0, int64_t c1, const double *diag, float *B)
{
    for (int64_t j = c0; j < c1; j++) {
        const double *p = panel + (j - c0) * n;
        float *b = B + (j - c0) * n;
        double s = -1.0 / diag[j];
        for (int64_t i = 0; i < n; i++) b[i] = (float)(p[i] * s);
        b[j] = 0.0f;
    }
}

double hr_ease_factor_flops(int64_t n) { return (double)n * (double)n * (double)n / 3.0; }
double hr_ease_invert_flops(int64_t n) { return 2.0 * (double)n * (double)n * (double)n / 3.0; }
