/* tests/tools/rec_oracle.c — check recommend's lists against brute force.
 *
 *   build/tools/rec_oracle MODEL.tar SEEN.tsv RECS.tsv TOP
 *
 * SEEN.tsv: "user<TAB>item" lines (external ids) the recommendations must exclude.
 * RECS.tsv: recommend's output as text (header line first, then user, rank, item, score, source).
 * For every user of RECS whose source is "model", the exact scores of all items
 * (hr_model_score_items: dot products in double) rank the unseen items; the item recommend put
 * at rank r must score, exactly, within TOL of the r-th best unseen score (so ties may come in
 * either order but a missed item shows), and it must not be a seen item.  A user with fewer
 * than TOP lines must have no more unseen items.  Prints "rec_oracle users=U lines=L worst=W"
 * and exits 0, or prints the first mismatch and exits 1; 2 on usage or load errors. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "io/model.h"

#define TOL 1e-4

typedef struct { uint32_t user, item; } pair;

static int cmp_pair(const void *a, const void *b)
{
    const pair *x = a, *y = b;
    if (x->user != y->user) return x->user < y->user ? -1 : 1;
    return (x->item > y->item) - (x->item < y->item);
}

static int cmp_desc(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x < y) - (x > y);
}

static int64_t find(const hr_dict *d, const char *s) { return hr_dict_find(d, s, strlen(s)); }

/* Is (u, i) among the sorted seen pairs? */
static int seen(const pair *p, size_t n, uint32_t u, uint32_t i)
{
    pair key = { u, i };
    return bsearch(&key, p, n, sizeof *p, cmp_pair) != NULL;
}

/* Check one user's list: items[0..n) in rank order. */
static int check_user(const hr_model *m, const pair *sp, size_t ns, uint32_t u, const uint32_t *items, uint32_t n,
                      uint32_t top, float *scores, float *sorted, double *worst, const char *ext)
{
    hr_error err = { 0 };
    if (hr_model_score_items(m, u, scores, &err) != 0) {
        fprintf(stderr, "rec_oracle: %s\n", err.msg);
        return 2;
    }
    uint64_t na = 0;
    for (uint64_t i = 0; i < m->n_items; i++)
        if (!seen(sp, ns, u, (uint32_t)i)) sorted[na++] = scores[i];
    qsort(sorted, na, sizeof *sorted, cmp_desc);
    if (n < top && n != na) {
        printf("user %s: %u lines but %llu unseen items\n", ext, n, (unsigned long long)na);
        return 1;
    }
    for (uint32_t r = 0; r < n; r++) {
        if (seen(sp, ns, u, items[r])) {
            printf("user %s: rank %u is a seen item\n", ext, r + 1);
            return 1;
        }
        double d = fabs((double)scores[items[r]] - (double)sorted[r]);
        if (d > *worst) *worst = d;
        if (d > TOL * (1.0 + fabs((double)sorted[r]))) {
            printf("user %s: rank %u scores %.7g, the %u-th best unseen item scores %.7g\n", ext, r + 1, scores[items[r]], r + 1,
                   sorted[r]);
            return 1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: rec_oracle MODEL.tar SEEN.tsv RECS.tsv TOP\n");
        return 2;
    }
    hr_model m;
    hr_error err = { 0 };
    if (hr_model_load(argv[1], &m, &err) != 0) {
        fprintf(stderr, "rec_oracle: %s\n", err.msg);
        return 2;
    }
    uint32_t top = (uint32_t)atoi(argv[4]);
    FILE *f = fopen(argv[2], "r");
    if (!f) {
        perror(argv[2]);
        return 2;
    }
    size_t ns = 0, cap = 1024;
    pair *sp = hr_malloc(cap * sizeof *sp);
    char a[512], b[512], line[2048];
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "%511s %511s", a, b) != 2) continue;
        int64_t u = find(&m.users, a), i = find(&m.items, b);
        if (u < 0 || i < 0) continue;
        if (ns == cap) sp = hr_realloc(sp, (cap *= 2) * sizeof *sp);
        sp[ns++] = (pair){ (uint32_t)u, (uint32_t)i };
    }
    fclose(f);
    qsort(sp, ns, sizeof *sp, cmp_pair);
    f = fopen(argv[3], "r");
    if (!f) {
        perror(argv[3]);
        return 2;
    }
    float *scores = hr_malloc((m.n_items + 1) * sizeof *scores), *sorted = hr_malloc((m.n_items + 1) * sizeof *sorted);
    uint32_t *items = hr_malloc((top + 1) * sizeof *items), n = 0;
    char cur[512] = "", src[64];
    unsigned rank;
    int64_t cu = -1;
    uint64_t users = 0, lines = 0;
    double worst = 0;
    int rc = 0;
    if (!fgets(line, sizeof line, f)) rc = 2;   /* header */
    for (;;) {
        int more = rc == 0 && fgets(line, sizeof line, f) != NULL;
        float sc;
        if (more && sscanf(line, "%511s %u %511s %f %63s", a, &rank, b, &sc, src) != 5) {
            printf("unreadable line: %s", line);
            rc = 1;
            break;
        }
        if (!more || strcmp(a, cur) != 0) {   /* a user's list is complete */
            if (cu >= 0) {
                rc = check_user(&m, sp, ns, (uint32_t)cu, items, n, top, scores, sorted, &worst, cur);
                users++;
            }
            if (rc || !more) break;
            snprintf(cur, sizeof cur, "%s", a);
            cu = strcmp(src, "model") == 0 ? find(&m.users, a) : -1;
            n = 0;
        }
        lines++;
        int64_t i = find(&m.items, b);
        if (i < 0 || n >= top || rank != n + 1) {
            printf("user %s: bad line (unknown item, rank out of order or more than %u): %s", a, top, line);
            rc = 1;
            break;
        }
        items[n++] = (uint32_t)i;
    }
    fclose(f);
    if (rc == 0) printf("rec_oracle users=%llu lines=%llu worst=%.3g\n", (unsigned long long)users, (unsigned long long)lines, worst);
    hr_free(sp);
    hr_free(scores);
    hr_free(sorted);
    hr_free(items);
    hr_model_free(&m);
    return rc;
}
