/* tests/tools/rec_oracle.c — check recommend's lists against brute force.
 *
 *   build/tools/rec_oracle MODEL.tar SEEN.tsv RECS.tsv TOP
 *
 * SEEN.tsv: "user<TAB>item[<TAB>value]" lines (external ids) the recommendations must exclude:
 * each user's row of recommend's --data (value 1 when absent).
 * RECS.tsv: recommend's output as text (header line first, then user, rank, item, score, source).
 * For every user of RECS whose source is "model", the exact scores of all items
 * (hr_model_score_items: dot products in double; item-item models and users a fold-in model
 * lacks: hr_model_score_row of the user's SEEN row, weighted as the model says) rank the unseen
 * items; the item recommend put
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

/* One SEEN line: the user's external id, the item's model id, the value (1 without a column). */
typedef struct { char *user; uint32_t item; float val; } entry;

static int cmp_entry(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    int c = strcmp(x->user, y->user);
    if (c) return c;
    return (x->item > y->item) - (x->item < y->item);
}

static int cmp_desc(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x < y) - (x > y);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static int64_t find(const hr_dict *d, const char *s) { return hr_dict_find(d, s, strlen(s)); }

/* The user's entries: [*lo, *hi) of the sorted table. */
static void user_range(const entry *e, size_t n, const char *user, size_t *lo, size_t *hi)
{
    size_t a = 0, b = n;
    while (a < b) {
        size_t mid = a + (b - a) / 2;
        if (strcmp(e[mid].user, user) < 0) a = mid + 1;
        else b = mid;
    }
    *lo = a;
    while (a < n && strcmp(e[a].user, user) == 0) a++;
    *hi = a;
}

/* Check one user's list items[0..n) (rank order) against scores of every item; seen[0..ns)
 * (sorted) are never candidates. */
static int check_user(const hr_model *m, const float *scores, const uint32_t *seen, size_t ns, const uint32_t *items, uint32_t n,
                      uint32_t top, float *sorted, double *worst, const char *ext)
{
    uint64_t na = 0;
    for (uint64_t i = 0; i < m->n_items; i++) {
        uint32_t key = (uint32_t)i;
        if (!bsearch(&key, seen, ns, sizeof key, cmp_u32)) sorted[na++] = scores[i];
    }
    qsort(sorted, na, sizeof *sorted, cmp_desc);
    if (n < top && n != na) {
        printf("user %s: %u lines but %llu unseen items\n", ext, n, (unsigned long long)na);
        return 1;
    }
    for (uint32_t r = 0; r < n; r++) {
        if (bsearch(&items[r], seen, ns, sizeof *seen, cmp_u32)) {
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

/* Scores of every item for user `ext` (its SEEN entries e[lo..hi)): by its factor row when the
 * model knows it, else from its row (item-item models; factor models with fold-in). */
static int user_scores(const hr_model *m, const char *ext, const entry *e, size_t lo, size_t hi, float *scores, uint32_t *row,
                       float *val)
{
    hr_error err = { 0 };
    int64_t u = find(&m->users, ext);
    int rc;
    if (m->kind == HR_MODEL_FACTOR && u >= 0) {
        rc = hr_model_score_items(m, (uint64_t)u, scores, &err);
    } else {
        for (size_t x = lo; x < hi; x++) {
            row[x - lo] = e[x].item;
            val[x - lo] = m->row_weight == HR_ROWS_VALUE ? e[x].val : 1.0f;
        }
        rc = hr_model_score_row(m, row, val, hi - lo, scores, &err);
    }
    if (rc != 0) fprintf(stderr, "rec_oracle: user %s: %s\n", ext, err.msg);
    return rc;
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
    entry *sp = hr_malloc(cap * sizeof *sp);
    char a[512], b[512], line[2048];
    while (fgets(line, sizeof line, f)) {
        float v = 1.0f;
        int got = sscanf(line, "%511s %511s %f", a, b, &v);
        if (got < 2) continue;
        int64_t i = find(&m.items, b);
        if (i < 0) continue;   /* an item the model lacks is neither scored nor a candidate */
        if (ns == cap) sp = hr_realloc(sp, (cap *= 2) * sizeof *sp);
        sp[ns++] = (entry){ hr_strdup(a), (uint32_t)i, v };
    }
    fclose(f);
    qsort(sp, ns, sizeof *sp, cmp_entry);
    f = fopen(argv[3], "r");
    if (!f) {
        perror(argv[3]);
        return 2;
    }
    float *scores = hr_malloc((m.n_items + 1) * sizeof *scores), *sorted = hr_malloc((m.n_items + 1) * sizeof *sorted);
    float *val = hr_malloc((m.n_items + 1) * sizeof *val);
    uint32_t *items = hr_malloc((top + 1) * sizeof *items), *row = hr_malloc((m.n_items + 1) * sizeof *row), n = 0;
    char cur[512] = "", src[64];
    unsigned rank;
    int checking = 0;
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
            if (checking) {
                size_t lo, hi;
                user_range(sp, ns, cur, &lo, &hi);
                rc = user_scores(&m, cur, sp, lo, hi, scores, row, val) != 0 ? 2 : 0;
                for (size_t x = lo; x < hi; x++) row[x - lo] = sp[x].item;
                if (rc == 0) rc = check_user(&m, scores, row, hi - lo, items, n, top, sorted, &worst, cur);
                users++;
            }
            if (rc || !more) break;
            snprintf(cur, sizeof cur, "%s", a);
            checking = strcmp(src, "model") == 0 && m.kind != HR_MODEL_POP;
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
    for (size_t x = 0; x < ns; x++) hr_free(sp[x].user);
    hr_free(sp);
    hr_free(scores);
    hr_free(sorted);
    hr_free(val);
    hr_free(items);
    hr_free(row);
    hr_model_free(&m);
    return rc;
}
