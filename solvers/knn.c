#include "solvers/knn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"

static const char *const sim_names[] = { "cosine", "dot", "pearson", "pearson-baseline", "jaccard" };
static const char *const weight_names[] = { "none", "tfidf", "bm25" };
static const char *const center_names[] = { "none", "mean", "baseline" };

static int parse(const char *s, const char *const *names, int n)
{
    for (int x = 0; x < n; x++)
        if (!strcasecmp(s, names[x])) return x;
    return -1;
}

const char *hr_knn_sim_name(hr_knn_sim s) { return sim_names[s]; }
const char *hr_knn_weight_name(hr_knn_weight w) { return weight_names[w]; }
const char *hr_knn_center_name(hr_knn_center c) { return center_names[c]; }

int hr_knn_sim_parse(const char *s, hr_knn_sim *out)
{
    int x = parse(s, sim_names, 5);
    if (x >= 0) *out = (hr_knn_sim)x;
    return x < 0 ? -1 : 0;
}

int hr_knn_weight_parse(const char *s, hr_knn_weight *out)
{
    int x = parse(s, weight_names, 3);
    if (x >= 0) *out = (hr_knn_weight)x;
    return x < 0 ? -1 : 0;
}

int hr_knn_center_parse(const char *s, hr_knn_center *out)
{
    int x = parse(s, center_names, 3);
    if (x >= 0) *out = (hr_knn_center)x;
    return x < 0 ? -1 : 0;
}

double hr_knn_bias(double num, uint64_t n, double reg) { return n || reg > 0 ? num / (reg + (double)n) : 0.0; }

double hr_knn_idf(uint64_t n_items, uint64_t user_len) { return log((double)n_items) - log1p((double)user_len); }

double hr_knn_value(const hr_knn_opts *o, double r, double base, double idf, double len_i, double mean_len)
{
    if (!o->implicit) return o->sim == HR_KNN_PEARSON_BASELINE ? r - base : r;
    switch (o->weight) {
    case HR_KNN_WEIGHT_TFIDF: return sqrt(r > 0 ? r : 0) * idf;
    case HR_KNN_WEIGHT_BM25: {
        double norm = (1.0 - o->bm25_b) + o->bm25_b * (mean_len > 0 ? len_i / mean_len : 1.0);
        return r * (o->bm25_k1 + 1.0) / (o->bm25_k1 * norm + r) * idf;
    }
    default: return o->sim == HR_KNN_PEARSON ? r : 1.0;
    }
}

void hr_knn_acc_init(hr_knn_acc *a, uint64_t n, const hr_knn_opts *o)
{
    memset(a, 0, sizeof *a);
    a->n = n;
    a->moments = o->sim == HR_KNN_PEARSON || o->sim == HR_KNN_PEARSON_BASELINE || (o->sim == HR_KNN_COSINE && !o->implicit);
    if (!a->moments) a->cell = hr_calloc(n + 1, sizeof *a->cell);
    if (a->moments) {
        a->freq = hr_calloc(n + 1, sizeof *a->freq);
        a->xy = hr_calloc(n + 1, sizeof *a->xy);
        a->xx = hr_calloc(n + 1, sizeof *a->xx);
        a->yy = hr_calloc(n + 1, sizeof *a->yy);
        a->x = hr_calloc(n + 1, sizeof *a->x);
        a->y = hr_calloc(n + 1, sizeof *a->y);
    }
    a->touched = hr_malloc((n + 1) * sizeof *a->touched);
    a->heap = hr_malloc(((size_t)o->neighbors + 1) * sizeof *a->heap);
}

int hr_knn_acc_positive(hr_knn_acc *a, const hr_knn_opts *o)
{
    if (a->moments || a->xs || o->min_support > 1 || o->shrink > 0 || (o->sim != HR_KNN_DOT && o->sim != HR_KNN_COSINE))
        return 0;
    a->xs = hr_calloc(a->n + 1, sizeof *a->xs);
    return 1;
}

void hr_knn_acc_free(hr_knn_acc *a)
{
    hr_free(a->xs);
    hr_free(a->freq);
    hr_free(a->cell);
    hr_free(a->xy);
    hr_free(a->xx);
    hr_free(a->yy);
    hr_free(a->x);
    hr_free(a->y);
    hr_free(a->touched);
    hr_free(a->heap);
    memset(a, 0, sizeof *a);
}

void hr_knn_acc_add(hr_knn_acc *a, double at, const uint32_t *items, const float *vals, uint64_t len, uint32_t skip)
{
    uint32_t *touched = a->touched;
    uint64_t nt = a->nt;
    if (a->xs) {   /* positive values: a sum is nonzero once it has a term */
        float *xs = a->xs;
        const float af = (float)at;
        xs[skip] = 1.0f;   /* the target is never touched */
        for (uint64_t e = 0; e < len; e++) {
            float *c = &xs[items[e]];
            touched[nt] = items[e];
            nt += *c == 0.0f;
            *c += af * vals[e];
        }
        xs[skip] = 0.0f;
        a->nt = nt;
        return;
    }
    if (!a->moments) {   /* the hot loop of the implicit measures: a count and a product */
        struct hr_knn_cell *cell = a->cell;
        const float af = (float)at;
        cell[skip].freq = 1;   /* the target is never touched: it is not its own neighbour */
        for (uint64_t e = 0; e < len; e++) {
            /* branch-free: most pairs are new (one common user), a branch would mispredict */
            struct hr_knn_cell *c = &cell[items[e]];
            touched[nt] = items[e];
            nt += c->freq++ == 0;
            c->xy += af * vals[e];
        }
        cell[skip] = (struct hr_knn_cell){ 0, 0 };
        a->nt = nt;
        return;
    }
    uint32_t *freq = a->freq;
    double *xy = a->xy;
    for (uint64_t e = 0; e < len; e++) {
        const uint32_t j = items[e];
        if (j == skip) continue;
        const double v = vals[e];
        if (freq[j]++ == 0) touched[nt++] = j;
        xy[j] += at * v;
        a->xx[j] += at * at;
        a->yy[j] += v * v;
        a->x[j] += at;
        a->y[j] += v;
    }
    a->nt = nt;
}

double hr_knn_similarity(const hr_knn_opts *o, uint32_t freq, double xy, double xx, double yy, double x, double y,
                         uint64_t ci, uint64_t cj, double ni, double nj)
{
    if (freq < o->min_support || freq == 0) return 0.0;
    double s = 0.0;
    switch (o->sim) {
    case HR_KNN_COSINE:
        if (o->implicit) s = ni > 0 && nj > 0 ? xy / (ni * nj) : 0.0;
        else s = xx > 0 && yy > 0 ? xy / sqrt(xx * yy) : 0.0;
        break;
    case HR_KNN_DOT: s = xy; break;
    case HR_KNN_PEARSON: {
        const double f = (double)freq, num = f * xy - x * y, d = (f * xx - x * x) * (f * yy - y * y);
        s = d > 0 ? num / sqrt(d) : 0.0;
        break;
    }
    case HR_KNN_PEARSON_BASELINE: s = xx > 0 && yy > 0 ? xy / sqrt(xx * yy) : 0.0; break;
    case HR_KNN_JACCARD: s = (double)freq / ((double)ci + (double)cj - (double)freq); break;
    }
    if (o->shrink > 0) s *= ((double)freq - 1.0) / ((double)freq - 1.0 + o->shrink);
    return s;
}

static int cmp_entry(const void *p, const void *q)
{
    uint32_t x = ((const hr_topk_entry *)p)->index, y = ((const hr_topk_entry *)q)->index;
    return (x > y) - (x < y);
}

uint32_t hr_knn_acc_top(hr_knn_acc *a, const hr_knn_opts *o, const uint64_t *count, const double *norm, uint64_t ct,
                        double nt, uint32_t *row, float *val)
{
    hr_topk h;
    hr_topk_init(&h, a->heap, o->neighbors);
    for (uint64_t t = 0; t < a->nt; t++) {
        const uint32_t j = a->touched[t];
        double s;
        if (a->moments) {
            s = hr_knn_similarity(o, a->freq[j], a->xy[j], a->xx[j], a->yy[j], a->x[j], a->y[j], ct, count ? count[j] : 0, nt,
                                  norm ? norm[j] : 0);
            a->xx[j] = a->yy[j] = a->x[j] = a->y[j] = 0;
            a->freq[j] = 0;
            a->xy[j] = 0;
        } else if (a->xs) {
            const float v = a->xs[j];
            a->xs[j] = 0.0f;
            s = o->sim == HR_KNN_DOT ? v : hr_knn_similarity(o, 1, v, 0, 0, 0, 0, ct, count ? count[j] : 0, nt, norm ? norm[j] : 0);
        } else {
            const struct hr_knn_cell c = a->cell[j];
            a->cell[j] = (struct hr_knn_cell){ 0, 0 };
            if (c.freq < o->min_support) continue;
            s = o->sim == HR_KNN_DOT && o->shrink <= 0
                    ? c.xy   /* the common case of BM25, no call */
                    : hr_knn_similarity(o, c.freq, c.xy, 0, 0, 0, 0, ct, count ? count[j] : 0, nt, norm ? norm[j] : 0);
        }
        const float f = (float)s;
        /* the heap's own first test, inline: once the heap is full most candidates fail it */
        if (f > 0.0f && isfinite(f) && (h.size < h.cap || f > h.heap[0].score || (f == h.heap[0].score && j < h.heap[0].index)))
            hr_topk_push(&h, f, j);
    }
    a->nt = 0;
    /* the kept entries by row (the block layout): the heap's storage sorted in place */
    const uint32_t got = h.size;
    qsort(a->heap, got, sizeof *a->heap, cmp_entry);
    for (uint32_t x = 0; x < got; x++) {
        row[x] = a->heap[x].index;
        val[x] = a->heap[x].score;
    }
    return got;
}
