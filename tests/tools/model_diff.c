/* tests/tools/model_diff.c — compare two model bundles (io/model.h) array by array.
 *
 *   build/tools/model_diff A.tar B.tar [--rtol R] [--exact]
 *   build/tools/model_diff --resave IN.tar OUT.tar
 *
 * --resave loads IN whole and writes it again with the single-process hr_model_save (the
 * manifest's own keys dropped, the rest given back as info): with SOURCE_DATE_EPOCH set, a
 * bundle the ranks wrote together must come out byte for byte the same (tests compare with
 * cmp).  Exit 0, or 2 with the error.
 *
 * Both bundles must have the same kind, algo, k, users and items, the same user and item
 * dictionaries (same external ids in the same order) and the same set of arrays present;
 * otherwise (or when either fails to load) the exit status is 2.
 *
 * For each array present (user_factors, item_factors, user_bias, item_bias, item_scores; the
 * weights B of an item-item model, as a dense n x n matrix whatever the blocks' layout) and
 * for global_mean it prints one line with the relative difference
 *
 *     rel(A, B) = max_i |A_i - B_i| / max(max_i |A_i|, max_i |B_i|)
 *
 * i.e. the largest elementwise difference measured against the largest magnitude in that
 * array (the scale of the factors), not elementwise: a tiny factor that differs by 1e-6 must
 * not dominate.  When both arrays are all zero, rel = 0; a NaN anywhere makes rel infinite.
 * global_mean is the one-element case: |a - b| / max(|a|, |b|).  The last line is
 * "max_rel_diff X" over every array.
 *
 * Exit: 0 when max_rel_diff <= rtol (default 1e-4), 1 when larger; with --exact, 0 only when
 * every array and global_mean are bit-identical (memcmp), 1 otherwise (the relative figures
 * and the number of differing elements are still printed).  2: usage, load error, or a shape
 * or dictionary mismatch. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "io/model.h"

static int usage(void)
{
    fputs("usage: model_diff A.tar B.tar [--rtol R] [--exact] | model_diff --resave IN.tar OUT.tar\n", stderr);
    return 2;
}

static int resave(const char *in, const char *out)
{
    static const char *const own[] = { "format", "version", "kind",    "algo",    "k",      "users",      "items",   "global_mean",
                                       "software", "created", "members", "arrays", "row_weight", "fold_in", "item_item" };
    hr_model m;
    hr_error err = { 0 };
    if (hr_model_load(in, &m, &err) < 0) {
        fprintf(stderr, "model_diff: cannot load %s: %s\n", in, err.msg);
        return 2;
    }
    json_t *info = json_deep_copy(m.manifest);
    for (size_t i = 0; i < sizeof own / sizeof *own; i++) json_object_del(info, own[i]);
    int rc = hr_model_save(out, &m, info, &err);
    json_decref(info);
    hr_model_free(&m);
    if (rc < 0) fprintf(stderr, "model_diff: cannot save %s: %s\n", out, err.msg);
    return rc < 0 ? 2 : 0;
}

static int dict_equal(const hr_dict *a, const hr_dict *b)
{
    if (a->n != b->n || !a->is_int != !b->is_int) return 0;
    if (a->n == 0) return 1;
    if (a->is_int) return memcmp(a->ints, b->ints, a->n * sizeof *a->ints) == 0;
    if (memcmp(a->offs, b->offs, (a->n + 1) * sizeof *a->offs) != 0) return 0;
    return memcmp(a->bytes, b->bytes, a->offs[a->n]) == 0;
}

/* Relative difference of two float arrays as documented above; *ndiff = elements whose bits
 * differ. */
static double rel_diff(const float *a, const float *b, uint64_t n, uint64_t *ndiff, uint64_t *worst)
{
    double maxd = 0, scale = 0;
    uint64_t nd = 0, w = 0;
    for (uint64_t i = 0; i < n; i++) {
        double x = a[i], y = b[i];
        if (memcmp(&a[i], &b[i], sizeof(float)) != 0) nd++;
        if (isnan(x) || isnan(y)) { /* hr_model_load refuses these; be safe anyway */
            maxd = INFINITY;
            w = i;
            continue;
        }
        double d = fabs(x - y);
        if (d > maxd && !isinf(maxd)) { maxd = d; w = i; }
        if (fabs(x) > scale) scale = fabs(x);
        if (fabs(y) > scale) scale = fabs(y);
    }
    *ndiff = nd;
    *worst = w;
    if (isinf(maxd)) return INFINITY;
    if (maxd == 0) return 0;
    return scale > 0 ? maxd / scale : INFINITY;
}

/* An item-item model's B as a dense column-major n x n matrix (entries a sparse block does not
 * keep are 0). */
static float *dense_weights(const hr_model *m)
{
    uint64_t n = m->n_items;
    float *B = hr_calloc(n * n + 1, sizeof *B);
    for (uint64_t c = 0; c < m->ii_count; c++) {
        const hr_iiblock *b = &m->ii[c];
        for (uint64_t j = b->c0; j < b->c1; j++) {
            if (b->dense) {
                memcpy(B + j * n, b->val + (j - b->c0) * n, n * sizeof *B);
                continue;
            }
            for (uint64_t e = b->ptr[j - b->c0]; e < b->ptr[j - b->c0 + 1]; e++) B[j * n + b->row[e]] = b->val[e];
        }
    }
    return B;
}

int main(int argc, char **argv)
{
    const char *pa = NULL, *pb = NULL;
    double rtol = 1e-4;
    int exact = 0;
    if (argc == 4 && !strcmp(argv[1], "--resave")) return resave(argv[2], argv[3]);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--rtol")) {
            char *end;
            if (++i >= argc) return usage();
            rtol = strtod(argv[i], &end);
            if (*end || end == argv[i] || !(rtol >= 0)) return usage();
        } else if (!strcmp(argv[i], "--exact")) {
            exact = 1;
        } else if (argv[i][0] == '-' && argv[i][1] == '-') {
            return usage();
        } else if (!pa) {
            pa = argv[i];
        } else if (!pb) {
            pb = argv[i];
        } else {
            return usage();
        }
    }
    if (!pa || !pb) return usage();

    hr_model a, b;
    hr_error err = { 0 };
    if (hr_model_load(pa, &a, &err) < 0) {
        fprintf(stderr, "model_diff: cannot load %s: %s\n", pa, err.msg);
        return 2;
    }
    if (hr_model_load(pb, &b, &err) < 0) {
        fprintf(stderr, "model_diff: cannot load %s: %s\n", pb, err.msg);
        hr_model_free(&a);
        return 2;
    }
    int status = 0;
    const char *why = NULL;
    if (a.kind != b.kind) why = "kind";
    else if (strcmp(a.algo, b.algo)) why = "algo";
    else if (a.k != b.k) why = "k (factors)";
    else if (a.n_users != b.n_users) why = "number of users";
    else if (a.n_items != b.n_items) why = "number of items";
    else if (!dict_equal(&a.users, &b.users)) why = "user dictionary";
    else if (!dict_equal(&a.items, &b.items)) why = "item dictionary";
    else if (!a.user_factors != !b.user_factors || !a.item_factors != !b.item_factors || !a.user_bias != !b.user_bias ||
             !a.item_bias != !b.item_bias || !a.item_scores != !b.item_scores)
        why = "set of arrays";
    else if (a.row_weight != b.row_weight || a.fold_in != b.fold_in || a.ii_cols != b.ii_cols || a.ii_topm != b.ii_topm)
        why = "row weight, fold-in or item-item layout";
    if (why) {
        fprintf(stderr, "model_diff: %s and %s differ in %s (algo %s/%s, k %d/%d, users %llu/%llu, items %llu/%llu)\n", pa, pb,
                why, a.algo, b.algo, a.k, b.k, (unsigned long long)a.n_users, (unsigned long long)b.n_users,
                (unsigned long long)a.n_items, (unsigned long long)b.n_items);
        status = 2;
        goto done;
    }
    float *Ba = a.kind == HR_MODEL_ITEMITEM ? dense_weights(&a) : NULL, *Bb = Ba ? dense_weights(&b) : NULL;
    struct { const char *name; const float *x, *y; uint64_t n; int width; } arr[] = {
        { "item_item", Ba, Bb, a.n_items * a.n_items, (int)(a.n_items ? a.n_items : 1) },
        { "user_factors", a.user_factors, b.user_factors, a.n_users * (uint64_t)a.k, a.k },
        { "item_factors", a.item_factors, b.item_factors, a.n_items * (uint64_t)a.k, a.k },
        { "user_bias", a.user_bias, b.user_bias, a.n_users, 1 },
        { "item_bias", a.item_bias, b.item_bias, a.n_items, 1 },
        { "item_scores", a.item_scores, b.item_scores, a.n_items, 1 },
        { "global_mean", &a.global_mean, &b.global_mean, 1, 1 },
    };
    double worst = 0;
    uint64_t differing = 0;
    for (size_t i = 0; i < sizeof arr / sizeof arr[0]; i++) {
        if (!arr[i].x) continue;
        uint64_t nd, w;
        double r = rel_diff(arr[i].x, arr[i].y, arr[i].n, &nd, &w);
        printf("%-13s rel %.3e  (%llu of %llu values differ", arr[i].name, r, (unsigned long long)nd,
               (unsigned long long)arr[i].n);
        if (nd) printf("; largest at row %llu: %.9g vs %.9g", (unsigned long long)(w / (uint64_t)arr[i].width),
                       (double)arr[i].x[w], (double)arr[i].y[w]);
        printf(")\n");
        if (r > worst || isnan(r)) worst = r;
        differing += nd;
    }
    printf("max_rel_diff %.3e\n", worst);
    if (exact) {
        status = differing == 0 ? 0 : 1;
        if (status) printf("not bit-identical: %llu values differ\n", (unsigned long long)differing);
    } else {
        status = worst <= rtol ? 0 : 1;
        if (status) printf("exceeds rtol %.3e\n", rtol);
    }
    hr_free(Ba);
    hr_free(Bb);
done:
    hr_model_free(&a);
    hr_model_free(&b);
    return status;
}
