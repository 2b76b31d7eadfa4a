/* tests/tools/ann_tool.c — fixtures and an oracle for the ANN index tests.
 *
 *   ann_tool model OUT.tar ITEMS USERS K CLUSTERS SEED [bias]
 *       A factor model bundle of clustered item vectors with skewed norms, as ALS item factors
 *       have: item i belongs to cluster i mod CLUSTERS (direction: the cluster's centre plus
 *       noise), its norm is log-normal (sigma 1) and the 1% most popular items are 4x longer;
 *       users sit near a random cluster's centre.  Ids 1..USERS and 1..ITEMS.  With "bias",
 *       item biases N(0, 0.3) (an als-like model).
 *   ann_tool recall MODEL.tar RESULTS.tsv K MIN users|items
 *       RESULTS.tsv: an index query's (or recommend's) output as text, header first.  For every
 *       query key, the exact top K by brute force in double (users: x . y + b; items: cosine,
 *       the item itself left out); prints "ann_tool recall=R queries=Q worst_score_error=E
 *       short=S" and exits 1 when recall < MIN, when a returned score is not the exact score of
 *       its item (relative 1e-4), when an item repeats in a list or an item is its own neighbour.
 * Exit 2 on usage or load errors. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/rng.h"
#include "io/model.h"
#include "solvers/topk.h"

static int usage(void)
{
    fputs("usage: ann_tool model OUT.tar ITEMS USERS K CLUSTERS SEED [bias]\n"
          "       ann_tool recall MODEL.tar RESULTS.tsv K MIN users|items\n",
          stderr);
    return 2;
}

static void int_dict(hr_dict *d, uint64_t n)
{
    memset(d, 0, sizeof *d);
    d->is_int = 1;
    d->n = n;
    d->ints = hr_malloc((n + 1) * sizeof *d->ints);
    for (uint64_t i = 0; i < n; i++) d->ints[i] = (int64_t)i + 1;
}

static void unit(float *v, int k)
{
    double s = 0;
    for (int j = 0; j < k; j++) s += (double)v[j] * v[j];
    float inv = s > 0 ? (float)(1 / sqrt(s)) : 0;
    for (int j = 0; j < k; j++) v[j] *= inv;
}

static int make_model(int argc, char **argv)
{
    if (argc < 8) return usage();
    uint64_t ni = strtoull(argv[3], NULL, 10), nu = strtoull(argv[4], NULL, 10), seed = strtoull(argv[7], NULL, 10);
    int k = atoi(argv[5]), nc = atoi(argv[6]), bias = argc > 8 && !strcmp(argv[8], "bias");
    if (!ni || !nu || k < 1 || nc < 1) return usage();
    hr_model m;
    memset(&m, 0, sizeof m);
    m.kind = HR_MODEL_FACTOR;
    snprintf(m.algo, sizeof m.algo, "%s", bias ? "als" : "ials");
    m.k = k;
    m.n_users = nu;
    m.n_items = ni;
    int_dict(&m.users, nu);
    int_dict(&m.items, ni);
    float *cen = hr_malloc((size_t)nc * (size_t)k * sizeof *cen);
    hr_rng r = hr_rng_stream(seed, 99, 0);
    for (int c = 0; c < nc; c++) {
        for (int j = 0; j < k; j++) cen[c * k + j] = (float)hr_rng_normal(&r);
        unit(cen + c * k, k);
    }
    m.item_factors = hr_malloc(ni * (uint64_t)k * sizeof(float));
    m.user_factors = hr_malloc(nu * (uint64_t)k * sizeof(float));
    if (bias) m.item_bias = hr_malloc(ni * sizeof(float));
    for (uint64_t i = 0; i < ni; i++) {
        float *y = m.item_factors + i * (uint64_t)k;
        const float *c = cen + (i % (uint64_t)nc) * (uint64_t)k;
        for (int j = 0; j < k; j++) y[j] = c[j] + 0.35f * (float)hr_rng_normal(&r) / sqrtf((float)k) * 3;
        unit(y, k);
        float norm = (float)exp(hr_rng_normal(&r)) * (hr_rng_uniform(&r) < 0.01 ? 4.0f : 1.0f);
        for (int j = 0; j < k; j++) y[j] *= norm;
        if (bias) m.item_bias[i] = 0.3f * (float)hr_rng_normal(&r);
    }
    for (uint64_t u = 0; u < nu; u++) {
        float *x = m.user_factors + u * (uint64_t)k;
        const float *c = cen + hr_rng_below(&r, (uint64_t)nc) * (uint64_t)k;
        for (int j = 0; j < k; j++) x[j] = 2 * c[j] + 0.5f * (float)hr_rng_normal(&r) / sqrtf((float)k) * 3;
    }
    hr_error err = { 0 };
    int rc = hr_model_save(argv[2], &m, NULL, &err);
    hr_free(cen);
    hr_model_free(&m);
    if (rc < 0) {
        fprintf(stderr, "ann_tool: %s\n", err.msg);
        return 2;
    }
    return 0;
}

/* Exact scores of query row q against every item into s (double accumulation). */
static void exact_scores(const hr_model *m, const float *q, int cosine, float *s)
{
    int k = m->k;
    double qn = 0;
    for (int j = 0; j < k; j++) qn += (double)q[j] * q[j];
    for (uint64_t i = 0; i < m->n_items; i++) {
        const float *y = m->item_factors + i * (uint64_t)k;
        double d = 0, yn = 0;
        for (int j = 0; j < k; j++) {
            d += (double)q[j] * y[j];
            yn += (double)y[j] * y[j];
        }
        if (cosine) s[i] = qn > 0 && yn > 0 ? (float)(d / sqrt(qn * yn)) : 0.0f;
        else s[i] = (float)(d + (m->item_bias ? m->item_bias[i] : 0.0));
    }
}

typedef struct list { char key[256]; uint32_t n, cap; uint32_t *item; float *score; } list;

static int check(const hr_model *m, const list *l, uint32_t K, int items, float *s, hr_topk_entry *st, uint32_t *top, double *hits,
                 double *worst)
{
    int64_t q = hr_dict_find(items ? &m->items : &m->users, l->key, strlen(l->key));
    if (q < 0) {
        fprintf(stderr, "ann_tool: query '%s' is not in the model\n", l->key);
        return 2;
    }
    exact_scores(m, (items ? m->item_factors : m->user_factors) + (uint64_t)q * (uint64_t)m->k, items, s);
    hr_topk h;
    hr_topk_init(&h, st, K);
    for (uint64_t i = 0; i < m->n_items; i++)
        if (!items || i != (uint64_t)q) hr_topk_push(&h, s[i], (uint32_t)i);
    uint32_t got = hr_topk_sorted(&h, top, NULL);
    for (uint32_t r = 0; r < l->n; r++) {
        uint32_t it = l->item[r];
        double e = s[it], err = fabs(l->score[r] - e) / (1 + fabs(e));
        if (err > *worst) *worst = err;
        if (err > 1e-4) {
            fprintf(stderr, "ann_tool: %s rank %u item %lld: score %.7g, exact %.7g\n", l->key, r + 1, (long long)m->items.ints[it],
                    l->score[r], e);
            return 1;
        }
        if (items && it == (uint32_t)q) {
            fprintf(stderr, "ann_tool: item %s is its own neighbour\n", l->key);
            return 1;
        }
        for (uint32_t z = 0; z < r; z++)
            if (l->item[z] == it) {
                fprintf(stderr, "ann_tool: %s lists item %lld twice\n", l->key, (long long)m->items.ints[it]);
                return 1;
            }
        for (uint32_t t = 0; t < got; t++)
            if (top[t] == it) *hits += 1;
    }
    return 0;
}

static int recall(int argc, char **argv)
{
    if (argc < 7) return usage();
    uint32_t K = (uint32_t)atoi(argv[4]);
    double min = atof(argv[5]);
    int items = !strcmp(argv[6], "items");
    hr_model m;
    hr_error err = { 0 };
    if (hr_model_load(argv[2], &m, &err) < 0) {
        fprintf(stderr, "ann_tool: %s\n", err.msg);
        return 2;
    }
    FILE *f = fopen(argv[3], "r");
    if (!f || !K) {
        fprintf(stderr, "ann_tool: cannot read %s\n", argv[3]);
        return 2;
    }
    float *s = hr_malloc((m.n_items + 1) * sizeof *s);
    hr_topk_entry *st = hr_malloc((K + 1) * sizeof *st);
    uint32_t *top = hr_malloc((K + 1) * sizeof *top);
    list l = { "", 0, 0, NULL, NULL };
    char line[1024];
    double hits = 0, worst = 0;
    uint64_t nq = 0, shortl = 0;
    int rc = 0, first = 1;
    while (rc == 0) {
        char *ok = fgets(line, sizeof line, f);
        char key[256] = "", item[256] = "";
        unsigned rank = 0;
        float score = 0;
        if (ok && first) {   /* header */
            first = 0;
            continue;
        }
        if (ok && sscanf(line, "%255[^\t]\t%u\t%255[^\t]\t%g", key, &rank, item, &score) != 4) {
            fprintf(stderr, "ann_tool: bad line: %s", line);
            rc = 2;
            break;
        }
        if (!ok || strcmp(key, l.key) != 0) {
            if (l.key[0]) {
                rc = check(&m, &l, K, items, s, st, top, &hits, &worst);
                nq++;
                shortl += l.n < K;
            }
            if (!ok) break;
            snprintf(l.key, sizeof l.key, "%s", key);
            l.n = 0;
        }
        int64_t it = hr_dict_find(&m.items, item, strlen(item));
        if (it < 0) {
            fprintf(stderr, "ann_tool: item '%s' is not in the model\n", item);
            rc = 2;
            break;
        }
        if (l.n == l.cap) {
            l.cap = l.cap ? 2 * l.cap : 64;
            l.item = hr_realloc(l.item, l.cap * sizeof *l.item);
            l.score = hr_realloc(l.score, l.cap * sizeof *l.score);
        }
        l.item[l.n] = (uint32_t)it;
        l.score[l.n++] = score;
    }
    fclose(f);
    double rec = nq ? hits / ((double)nq * K) : 0;
    printf("ann_tool recall=%.4f queries=%llu worst_score_error=%.2g short=%llu\n", rec, (unsigned long long)nq, worst,
           (unsigned long long)shortl);
    if (rc == 0 && (rec < min || nq == 0)) {
        fprintf(stderr, "ann_tool: recall@%u %.4f below %.4f\n", K, rec, min);
        rc = 1;
    }
    hr_free(s);
    hr_free(st);
    hr_free(top);
    hr_free(l.item);
    hr_free(l.score);
    hr_model_free(&m);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "model")) return make_model(argc, argv);
    if (argc >= 2 && !strcmp(argv[1], "recall")) return recall(argc, argv);
    return usage();
}
