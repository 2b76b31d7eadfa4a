/* solvers/ivf.c — quantizer, packed list storage and the batched list scan (see ivf.h). */
#include "solvers/ivf.h"

#include <assert.h>
#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "solvers/blas.h"

/* ---- quantizer ---- */

void hr_ivf_quantizer_init(hr_ivf_quantizer *q, const float *cent, uint32_t nlist, int k, int dim)
{
    const uint64_t w = (uint64_t)dim + 1;
    q->nlist = nlist;
    q->k = k;
    q->C = hr_malloc(((uint64_t)nlist * (uint64_t)k + 1) * sizeof *q->C);
    q->beta = hr_malloc((nlist + 1) * sizeof *q->beta);
    for (uint32_t c = 0; c < nlist; c++) {
        const float *r = cent + c * w;
        double n2 = 0;
        for (uint64_t j = 0; j < w; j++) n2 += (double)r[j] * r[j];
        memcpy(q->C + (uint64_t)c * (uint64_t)k, r, (size_t)k * sizeof *q->C);
        q->beta[c] = (float)((dim > k ? (double)r[k] : 0.0) - 0.5 * n2);
    }
}

void hr_ivf_quantizer_free(hr_ivf_quantizer *q)
{
    HR_FREE(&q->C);
    HR_FREE(&q->beta);
}

enum { PROBE_BATCH = 256 };

void hr_ivf_probe(const hr_ivf_quantizer *q, const float *Q, const uint32_t *map, uint64_t nq, uint32_t nprobe, uint32_t *probes)
{
    assert(nprobe >= 1 && nprobe <= q->nlist);
    const uint64_t L = q->nlist, uk = (uint64_t)q->k;
    float *S = hr_malloc((size_t)PROBE_BATCH * L * sizeof *S), *G = map ? hr_malloc((size_t)PROBE_BATCH * uk * sizeof *G) : NULL;
    hr_topkey *keys = hr_malloc(2 * (size_t)nprobe * sizeof *keys);
    float *sc = hr_malloc(nprobe * sizeof *sc);
    hr_topbuf tb;
    for (uint64_t x0 = 0; x0 < nq; x0 += PROBE_BATCH) {
        uint32_t nb = (uint32_t)(nq - x0 < PROBE_BATCH ? nq - x0 : PROBE_BATCH);
        const float *rows = Q + x0 * uk;
        if (map) {
            for (uint32_t x = 0; x < nb; x++) memcpy(G + x * uk, Q + (uint64_t)map[x0 + x] * uk, uk * sizeof *G);
            rows = G;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nb, (int)L, q->k, 1.0f, rows, q->k, q->C, q->k, 0.0f, S, (int)L);
        for (uint32_t x = 0; x < nb; x++) {
            float *row = S + (uint64_t)x * L;
            for (uint64_t c = 0; c < L; c++) row[c] += q->beta[c];
            hr_topbuf_init(&tb, keys, nprobe, 2 * nprobe);
            hr_topbuf_push_row(&tb, row, 0, (uint32_t)L, NULL, 0);
            uint32_t got = hr_topbuf_sorted(&tb, probes + (x0 + x) * nprobe, sc);
            /* NaN scores (a NaN query) never enter: fill with the lowest unused ids */
            for (uint32_t c = 0; got < nprobe; c++) {
                uint32_t *p = probes + (x0 + x) * nprobe, used = 0;
                for (uint32_t y = 0; y < got; y++) used |= p[y] == c;
                if (!used) p[got++] = c;
            }
        }
    }
    hr_free(S);
    hr_free(G);
    hr_free(keys);
    hr_free(sc);
}

/* ---- packed lists ---- */

#define PACK_MAGIC 0x315453494c465649ull   /* "IVFLIST1" */

typedef struct pack_hdr {
    uint64_t magic, n, lo, bytes;
    uint32_t nlist, k, has_bias, pad;
} pack_hdr;

static size_t up64(size_t x) { return (x + 63) & ~(size_t)63; }

typedef struct layout { size_t off, ids, bias, rows, end; } layout;

static layout lay(uint32_t nlist, uint64_t n, int k, int has_bias)
{
    layout l;
    l.off = up64(sizeof(pack_hdr));
    l.ids = l.off + up64(((size_t)nlist + 1) * sizeof(uint32_t));
    l.bias = l.ids + up64((size_t)n * sizeof(uint32_t));
    l.rows = l.bias + (has_bias ? up64((size_t)n * sizeof(float)) : 0);
    l.end = l.rows + up64((size_t)n * (size_t)k * sizeof(float));
    return l;
}

size_t hr_ivf_lists_bytes(uint32_t nlist, uint64_t n, int k, int has_bias) { return lay(nlist, n, k, has_bias).end; }

void hr_ivf_lists_pack(void *buf, hr_metric metric, const float *Y, const float *bias, const uint32_t *assign, uint64_t lo,
                       uint64_t n, uint32_t nlist, int k)
{
    layout l = lay(nlist, n, k, bias != NULL);
    char *b = buf;
    pack_hdr h = { PACK_MAGIC, n, lo, l.end, nlist, (uint32_t)k, bias != NULL, 0 };
    memcpy(b, &h, sizeof h);
    uint32_t *off = (uint32_t *)(b + l.off), *ids = (uint32_t *)(b + l.ids);
    float *bb = bias ? (float *)(b + l.bias) : NULL, *rows = (float *)(b + l.rows);
    /* counting sort by list; items visited in id order, so ids ascend within each list */
    memset(off, 0, ((size_t)nlist + 1) * sizeof *off);
    for (uint64_t i = 0; i < n; i++) off[assign[i] + 1]++;
    for (uint32_t c = 0; c < nlist; c++) off[c + 1] += off[c];
    for (uint64_t i = 0; i < n; i++) {
        uint32_t at = off[assign[i]]++;
        ids[at] = (uint32_t)(lo + i);
        if (bb) bb[at] = bias[i];
        hr_mips_scan_row(metric, Y + i * (uint64_t)k, k, rows + (uint64_t)at * (uint64_t)k);
    }
    for (uint32_t c = nlist; c > 0; c--) off[c] = off[c - 1];
    off[0] = 0;
}

void hr_ivf_lists_view(const void *buf, hr_ivf_lists *L)
{
    pack_hdr h;
    memcpy(&h, buf, sizeof h);
    assert(h.magic == PACK_MAGIC);
    layout l = lay(h.nlist, h.n, (int)h.k, (int)h.has_bias);
    const char *b = buf;
    L->nlist = h.nlist;
    L->k = (int)h.k;
    L->n = h.n;
    L->lo = h.lo;
    L->off = (const uint32_t *)(b + l.off);
    L->ids = (const uint32_t *)(b + l.ids);
    L->bias = h.has_bias ? (const float *)(b + l.bias) : NULL;
    L->rows = (const float *)(b + l.rows);
}

size_t hr_ivf_lists_used(const void *buf)
{
    pack_hdr h;
    memcpy(&h, buf, sizeof h);
    return (size_t)h.bytes;
}

/* ---- scan ---- */

void hr_ivf_group(hr_ivf_groups *g, const uint32_t *probes, uint32_t nq, uint32_t nprobe)
{
    uint32_t *off = g->off;
    memset(off, 0, ((size_t)g->nlist + 1) * sizeof *off);
    uint64_t np = (uint64_t)nq * nprobe;
    for (uint64_t x = 0; x < np; x++) off[probes[x] + 1]++;
    for (uint32_t c = 0; c < g->nlist; c++) off[c + 1] += off[c];
    for (uint64_t x = 0; x < np; x++) g->q[off[probes[x]]++] = (uint32_t)(x / nprobe);
    for (uint32_t c = g->nlist; c > 0; c--) off[c] = off[c - 1];
    off[0] = 0;
}

/* Tile of the scan: up to SCAN_Q queries of a list against up to SCAN_R of its rows.  256 x 1024
 * scores = 1 MB, read back from cache right after the SGEMM. */
enum { SCAN_Q = 256, SCAN_R = 1024 };

size_t hr_ivf_scan_work_floats(int k) { return (size_t)SCAN_Q * (size_t)k + (size_t)SCAN_Q * SCAN_R; }

uint64_t hr_ivf_scan(const hr_ivf_lists *L, const hr_ivf_groups *g, const hr_ivf_batch *b, float *work)
{
    const int k = L->k;
    const uint64_t uk = (uint64_t)k;
    float *G = work, *S = work + (size_t)SCAN_Q * (size_t)k;
    uint64_t scored = 0;
    for (uint32_t c = 0; c < L->nlist; c++) {
        uint32_t r_lo = L->off[c], r_n = L->off[c + 1] - r_lo, q_lo = g->off[c], q_n = g->off[c + 1] - q_lo;
        if (!r_n || !q_n) continue;
        for (uint32_t q0 = 0; q0 < q_n; q0 += SCAN_Q) {
            uint32_t qc = q_n - q0 < SCAN_Q ? q_n - q0 : SCAN_Q;
            const uint32_t *qs = g->q + q_lo + q0;
            for (uint32_t x = 0; x < qc; x++) memcpy(G + x * uk, b->Q + (uint64_t)(b->map ? b->map[qs[x]] : qs[x]) * uk, uk * sizeof *G);
            for (uint32_t r0 = 0; r0 < r_n; r0 += SCAN_R) {
                uint32_t rc = r_n - r0 < SCAN_R ? r_n - r0 : SCAN_R;
                const uint64_t at = (uint64_t)r_lo + r0;
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)qc, (int)rc, k, 1.0f, G, k, L->rows + at * uk, k, 0.0f, S,
                            (int)rc);
                if (L->bias)
                    for (uint32_t x = 0; x < qc; x++) {
                        float *row = S + (uint64_t)x * rc;
                        for (uint32_t r = 0; r < rc; r++) row[r] += L->bias[at + r];
                    }
                for (uint32_t x = 0; x < qc; x++) {
                    uint32_t qi = b->map ? b->map[qs[x]] : qs[x];
                    hr_topbuf_push_ids(&b->heaps[qi], S + (uint64_t)x * rc, L->ids + at, rc, b->excl ? b->excl[qi] : NULL,
                                       b->excl ? b->nexcl[qi] : 0, b->banned);
                }
                scored += (uint64_t)qc * rc;
            }
        }
    }
    return scored;
}

/* ---- calibration ---- */

void hr_ivf_exact_topk(const float *V, int ld, int dim, uint64_t lo, uint64_t n, const float *Q, uint32_t nq, const uint32_t *self,
                       hr_topbuf *sel)
{
    const uint64_t W = HR_KM_WINDOW, ud = (uint64_t)dim;
    float *win = hr_malloc(W * ud * sizeof *win), *S = hr_malloc((uint64_t)nq * W * sizeof *S);
    uint32_t ids[HR_KM_WINDOW];
    uint64_t x = 0;
    while (x < n) {
        uint64_t base = (lo + x) / W * W, s0 = lo + x - base, cnt = W - s0 < n - x ? W - s0 : n - x;
        memset(win, 0, W * ud * sizeof *win);
        for (uint64_t r = 0; r < cnt; r++) memcpy(win + (s0 + r) * ud, V + (x + r) * (uint64_t)ld, ud * sizeof *win);
        for (uint64_t s = 0; s < W; s++) ids[s] = (uint32_t)(base + s);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nq, (int)W, dim, 1.0f, Q, dim, win, dim, 0.0f, S, (int)W);
        for (uint32_t q = 0; q < nq; q++)
            hr_topbuf_push_ids(&sel[q], S + (uint64_t)q * W + s0, ids + s0, (uint32_t)cnt, self ? &self[q] : NULL, self ? 1 : 0, NULL);
        x += cnt;
    }
    hr_free(win);
    hr_free(S);
}
