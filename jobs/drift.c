/* hpcrec drift — what changed between two runs (yesterday and today): the data, and what the
 * models make of it.  Keys: docs/evaluation.md, "Drift".
 *
 *   drift --base DATASET|PROFILE.json --new DATASET|PROFILE.json   data
 *   drift --base MODEL.tar --new MODEL.tar                          model (and its catalogue)
 *   [--recs-base DIR --recs-new DIR] [--top N] [--neighbours K] [--write-profile FILE] --json FILE
 *
 * Like is compared with like: a dataset or its profile (profile.json, io/profile.h: what a
 * published day keeps after its dataset is cleaned) against a dataset or a profile; a model
 * against a model.  Data: interactions, active users and items, new and lost users and items
 * (two datasets or two models: their dictionaries matched by exact id), distributions of values,
 * user activity and item popularity (PSI and Jensen-Shannon over fixed buckets, solvers/drift.h),
 * share of interactions on the head items.  Outputs (--recs-*): for users in both, Jaccard@N
 * and rank-biased overlap of their top-N lists; per side catalogue coverage, popularity bias
 * (with a dataset: mean interactions of the recommended items over the mean per item) and
 * exposure by popularity bucket (the report's long tail).  Models: for items in both, Jaccard
 * of their K nearest neighbours (jobs/drift_recs.c: round the ring, no whole model on a rank).
 * --write-profile: the profile of --new (a dataset), written by rank 0.
 * Every value is computed from integer sums or from data every rank holds identically, so the
 * summary is the same on any rank count. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/timer.h"
#include "io/model.h"
#include "io/profile.h"
#include "jobs/commands.h"
#include "jobs/dataset.h"
#include "jobs/drift.h"
#include "jobs/publish.h"

static const char usage[] =
    "hpcrec drift --base DATASET|PROFILE.json|MODEL.tar --new DATASET|PROFILE.json|MODEL.tar --json FILE\n"
    "  [--recs-base DIR --recs-new DIR] [--top N] [--rbo-p P] [--neighbours K] [--write-profile FILE]\n"
    "  like with like: data (a dataset or its profile.json) against data, a model against a model\n";

enum { SIDE_NONE, SIDE_PROFILE, SIDE_DATASET, SIDE_MODEL };
static const char *const side_names[] = { "none", "profile", "dataset", "model" };

typedef struct side {
    const char *path;
    int kind;
    hr_profile prof;      /* data sides */
    hr_dataset ds;        /* SIDE_DATASET */
    hr_model model;       /* SIDE_MODEL: dictionaries only */
} side;

static int kind_of(const char *path)
{
    size_t n = strlen(path);
    if (n > 5 && !strcmp(path + n - 5, ".json")) return SIDE_PROFILE;
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) return SIDE_DATASET;
    return SIDE_MODEL;
}

/* The profile of a loaded dataset (collective: the value histogram and sum are summed over
 * the ranks' user blocks; the rest comes from the dictionaries every rank holds). */
static int profile_of(hr_job *job, hr_dataset *ds, hr_profile *p)
{
    memset(p, 0, sizeof *p);
    for (uint64_t u = 0; u < ds->users.n; u++) {
        uint64_t c = ds->users.nnz[u];
        if (!c) continue;
        p->users++;
        p->interactions += c;
        p->activity_users[hr_drift_log_bucket(c)]++;
    }
    for (uint64_t i = 0; i < ds->items.n; i++) {
        uint64_t c = ds->items.nnz[i];
        if (!c) continue;
        p->items++;
        p->popularity_items[hr_drift_log_bucket(c)]++;
        p->popularity_interactions[hr_drift_log_bucket(c)] += c;
    }
    p->head_share = hr_drift_head_share(ds->items.nnz, ds->items.n, HR_PROFILE_HEAD_FRACTION);
    int64_t sum = 0;
    uint64_t vc[HR_DRIFT_VALUE_BUCKETS] = { 0 };
    const hr_block *b = &ds->by_user;
    for (uint64_t e = 0; e < b->nnz; e++) {
        vc[hr_drift_value_bucket(b->val[e])]++;
        sum += (int64_t)llround((double)b->val[e] * HR_PROFILE_VALUE_SCALE);
    }
    HR_TRY(hr_comm_allreduce_sum_u64(job->comm, vc, HR_DRIFT_VALUE_BUCKETS));
    HR_TRY(hr_comm_allreduce_sum_i64(job->comm, &sum, 1));
    memcpy(p->value_counts, vc, sizeof vc);
    p->value_sum_fixed = sum;
    return 0;
}

static int open_side(hr_job *job, side *s)
{
    int rc = 0;
    if (s->kind == SIDE_PROFILE) {
        rc = hr_profile_read(s->path, &s->prof, &job->err);
        return hr_comm_agree(job->comm, rc, &job->err);
    }
    if (s->kind == SIDE_DATASET) {
        HR_TRY(hr_dataset_load(job, s->path, HR_LOAD_BY_USER, &s->ds));
        return profile_of(job, &s->ds, &s->prof);
    }
    rc = hr_model_load_dicts(s->path, &s->model, &job->err);
    return hr_comm_agree(job->comm, rc, &job->err);
}

static double change(double base, double cur) { return base != 0 ? cur / base - 1 : cur != 0 ? 1 : 0; }

/* ---- the summary and the table ------------------------------------------------------------- */

typedef struct row {
    char name[48];
    double base, cur;
    int has_base, has_cur, is_int;
    double shift;   /* PSI, JSD or overlap where one applies */
    const char *shift_name;
} row;

typedef struct table {
    row r[48];
    int n;
} table;

static row *add(table *t, const char *name, int is_int)
{
    row *w = &t->r[t->n++];
    memset(w, 0, sizeof *w);
    snprintf(w->name, sizeof w->name, "%s", name);
    w->is_int = is_int;
    return w;
}

static void pair(hr_job *job, table *t, const char *key, double base, double cur, int is_int)
{
    char k[96];
    row *w = add(t, key, is_int);
    w->base = base, w->cur = cur, w->has_base = w->has_cur = 1;
    snprintf(k, sizeof k, "base.%s", key);
    if (is_int) hr_job_set_int(job, k, (int64_t)base); else hr_job_set_real(job, k, base);
    snprintf(k, sizeof k, "new.%s", key);
    if (is_int) hr_job_set_int(job, k, (int64_t)cur); else hr_job_set_real(job, k, cur);
    snprintf(k, sizeof k, "%s.change", key);
    hr_job_set_real(job, k, change(base, cur));
}

static void shift(hr_job *job, table *t, const char *key, const uint64_t *b, const uint64_t *c, int n)
{
    char k[96];
    double psi = hr_drift_psi(b, c, n), jsd = hr_drift_jsd(b, c, n);
    snprintf(k, sizeof k, "%s.psi", key);
    hr_job_set_real(job, k, psi);
    snprintf(k, sizeof k, "%s.jsd", key);
    hr_job_set_real(job, k, jsd);
    row *w = add(t, key, 0);
    w->shift = psi, w->shift_name = "psi";
    w = add(t, "", 0);
    w->shift = jsd, w->shift_name = "jsd";
}

static void fmt(char *buf, size_t cap, double v, int is_int)
{
    if (is_int) snprintf(buf, cap, "%12.0f", v);
    else snprintf(buf, cap, "%12.4f", v);
}

static void print_table(const table *t, const char *base, const char *cur)
{
    printf("drift: base %s\n       new  %s\n", base, cur);
    printf("%-28s %12s %12s %9s\n", "", "base", "new", "change");
    for (int i = 0; i < t->n; i++) {
        const row *w = &t->r[i];
        char b[32] = "", c[32] = "", d[32] = "";
        if (w->shift_name) {
            printf("%-28s %12s %12s %5s %.4f\n", w->name, "", "", w->shift_name, w->shift);
            continue;
        }
        if (w->has_base) fmt(b, sizeof b, w->base, w->is_int);
        if (w->has_cur) fmt(c, sizeof c, w->cur, w->is_int);
        if (w->has_base && w->has_cur) snprintf(d, sizeof d, "%+8.2f%%", 100 * change(w->base, w->cur));
        printf("%-28s %12s %12s %9s\n", w->name, b, c, d);
    }
    fflush(stdout);
}

/* ---- the command ------------------------------------------------------------------------------ */

static void data_metrics(hr_job *job, table *t, side s[2])
{
    const hr_profile *b = &s[0].prof, *c = &s[1].prof;
    pair(job, t, "interactions", (double)b->interactions, (double)c->interactions, 1);
    pair(job, t, "users", (double)b->users, (double)c->users, 1);
    pair(job, t, "items", (double)b->items, (double)c->items, 1);
    if (s[0].kind == SIDE_DATASET && s[1].kind == SIDE_DATASET) {
        uint64_t mu = 0, mi = 0;
        hr_free(hr_dict_match(&s[1].ds.users, &s[0].ds.users, &mu));
        hr_free(hr_dict_match(&s[1].ds.items, &s[0].ds.items, &mi));
        const char *k[4] = { "users.new", "users.lost", "items.new", "items.lost" };
        uint64_t v[4] = { s[1].ds.users.n - mu, s[0].ds.users.n - mu, s[1].ds.items.n - mi, s[0].ds.items.n - mi };
        for (int x = 0; x < 4; x++) {
            hr_job_set_int(job, k[x], (int64_t)v[x]);
            row *w = add(t, k[x], 1);
            w->cur = (double)v[x], w->has_cur = 1;
        }
    }
    double vb = b->interactions ? (double)b->value_sum_fixed / HR_PROFILE_VALUE_SCALE / (double)b->interactions : 0;
    double vn = c->interactions ? (double)c->value_sum_fixed / HR_PROFILE_VALUE_SCALE / (double)c->interactions : 0;
    pair(job, t, "value.mean", vb, vn, 0);
    shift(job, t, "value", b->value_counts, c->value_counts, HR_DRIFT_VALUE_BUCKETS);
    pair(job, t, "activity.mean", b->users ? (double)b->interactions / (double)b->users : 0,
         c->users ? (double)c->interactions / (double)c->users : 0, 0);
    shift(job, t, "activity", b->activity_users, c->activity_users, HR_DRIFT_LOG_BUCKETS);
    shift(job, t, "popularity", b->popularity_items, c->popularity_items, HR_DRIFT_LOG_BUCKETS);
    pair(job, t, "head_share", b->head_share, c->head_share, 0);
    hr_job_set_real(job, "head_fraction", HR_PROFILE_HEAD_FRACTION);
}

/* The new data's popularity buckets, for the report's long tail (also without a --base). */
static void longtail_data(hr_job *job, const hr_profile *c)
{
    char k[64];
    for (int x = 0; x < HR_DRIFT_LOG_BUCKETS; x++) {
        if (!c->popularity_items[x]) continue;
        snprintf(k, sizeof k, "longtail.items.%d", x);
        hr_job_set_int(job, k, (int64_t)c->popularity_items[x]);
        snprintf(k, sizeof k, "longtail.interactions.%d", x);
        hr_job_set_int(job, k, (int64_t)c->popularity_interactions[x]);
    }
}

static void model_metrics(hr_job *job, table *t, side s[2])
{
    hr_model *b = &s[0].model, *c = &s[1].model;
    pair(job, t, "users", (double)b->n_users, (double)c->n_users, 1);
    pair(job, t, "items", (double)b->n_items, (double)c->n_items, 1);
    uint64_t mu = 0, mi = 0;
    hr_free(hr_dict_match(&c->users, &b->users, &mu));
    hr_free(hr_dict_match(&c->items, &b->items, &mi));
    const char *k[4] = { "users.new", "users.lost", "items.new", "items.lost" };
    uint64_t v[4] = { c->users.n - mu, b->users.n - mu, c->items.n - mi, b->items.n - mi };
    for (int x = 0; x < 4; x++) {
        hr_job_set_int(job, k[x], (int64_t)v[x]);
        row *w = add(t, k[x], 1);
        w->cur = (double)v[x], w->has_cur = 1;
    }
}

static void recs_metrics(hr_job *job, table *t, const hr_drift_recs *r, int both)
{
    static const char *const pre[2] = { "base.", "new." };
    char k[96];
    for (int s = 0; s < 2; s++) {
        if (!r->lines[s]) continue;
        snprintf(k, sizeof k, "%srecs.lines", pre[s]);
        hr_job_set_int(job, k, (int64_t)r->lines[s]);
        snprintf(k, sizeof k, "%srecs.users", pre[s]);
        hr_job_set_int(job, k, (int64_t)r->users[s]);
        snprintf(k, sizeof k, "%srecs.items", pre[s]);
        hr_job_set_int(job, k, (int64_t)r->distinct_items[s]);
        snprintf(k, sizeof k, "%srecs.coverage", pre[s]);
        hr_job_set_real(job, k, r->coverage[s]);
        if (r->has_bias[s]) {
            snprintf(k, sizeof k, "%srecs.popularity_bias", pre[s]);
            hr_job_set_real(job, k, r->popularity_bias[s]);
            snprintf(k, sizeof k, "%srecs.unmatched_items", pre[s]);
            hr_job_set_int(job, k, (int64_t)r->unmatched[s]);
        }
    }
    row *w = add(t, "recs.users", 1);
    w->base = (double)r->users[0], w->cur = (double)r->users[1], w->has_base = r->lines[0] > 0, w->has_cur = r->lines[1] > 0;
    w = add(t, "recs.coverage", 0);
    w->base = r->coverage[0], w->cur = r->coverage[1], w->has_base = r->lines[0] > 0, w->has_cur = r->lines[1] > 0;
    if (r->has_bias[0] || r->has_bias[1]) {
        w = add(t, "recs.popularity_bias", 0);
        w->base = r->popularity_bias[0], w->cur = r->popularity_bias[1], w->has_base = r->has_bias[0], w->has_cur = r->has_bias[1];
    }
    if (r->has_bias[1])
        for (int x = 0; x < HR_DRIFT_LOG_BUCKETS; x++) {
            if (!r->exposure[1][x]) continue;
            snprintf(k, sizeof k, "longtail.exposure.%d", x);
            hr_job_set_int(job, k, (int64_t)r->exposure[1][x]);
        }
    if (!both) return;
    hr_job_set_int(job, "recs.top", r->top);
    hr_job_set_int(job, "recs.users_both", (int64_t)r->users_both);
    hr_job_set_int(job, "recs.users_only_base", (int64_t)r->users_only_base);
    hr_job_set_int(job, "recs.users_only_new", (int64_t)r->users_only_new);
    snprintf(k, sizeof k, "recs.jaccard@%u", r->top);
    hr_job_set_real(job, k, r->jaccard);
    hr_job_set_real(job, "recs.jaccard", r->jaccard);
    hr_job_set_real(job, "recs.rbo", r->rbo);
    w = add(t, "recs.users_both", 1);
    w->cur = (double)r->users_both, w->has_cur = 1;
    w = add(t, k, 0);
    w->shift = r->jaccard, w->shift_name = "mean";
    w = add(t, "recs.rbo", 0);
    w->shift = r->rbo, w->shift_name = "mean";
}

int hr_cmd_drift(hr_job *job, int argc, char **argv)
{
    static const struct option opts[] = {
        { "base", required_argument, 0, 'b' }, { "new", required_argument, 0, 'n' }, { "recs-base", required_argument, 0, 'B' },
        { "recs-new", required_argument, 0, 'N' }, { "top", required_argument, 0, 't' }, { "rbo-p", required_argument, 0, 'p' },
        { "neighbours", required_argument, 0, 'k' }, { "write-profile", required_argument, 0, 'w' },
        { "json", required_argument, 0, 'j' }, { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 } };
    side s[2];
    memset(s, 0, sizeof s);
    const char *recs[2] = { NULL, NULL }, *profile_out = NULL;
    int64_t top = 0, nbrs = 10;
    double rbo_p = 0.9;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'b': s[0].path = optarg; break;
        case 'n': s[1].path = optarg; break;
        case 'B': recs[0] = optarg; break;
        case 'N': recs[1] = optarg; break;
        case 't': HR_TRY(hr_opt_i64(job, "--top", optarg, 1, 100000, &top)); break;
        case 'p': HR_TRY(hr_opt_f64(job, "--rbo-p", optarg, 0.01, 0.999, &rbo_p)); break;
        case 'k': HR_TRY(hr_opt_i64(job, "--neighbours", optarg, 0, 1000, &nbrs)); break;
        case 'w': profile_out = optarg; break;
        case 'j': job->json_path = optarg; break;
        case 'h': if (job->rank == 0) fputs(usage, stdout); return 0;
        default: return hr_opt_usage(job, usage);
        }
    }
    if (!s[1].path) return hr_error_set(&job->err, HR_ERR_ARG, "--new is required\n%s", usage);
    if (!s[0].path && !profile_out)
        return hr_error_set(&job->err, HR_ERR_ARG, "--base is required (without it drift only writes --write-profile)\n%s", usage);
    if (!job->json_path && s[0].path) return hr_error_set(&job->err, HR_ERR_ARG, "--json FILE is required\n%s", usage);
    if (recs[0] && !s[0].path) return hr_error_set(&job->err, HR_ERR_ARG, "--recs-base needs --base");
    for (int x = 0; x < 2; x++) s[x].kind = s[x].path ? kind_of(s[x].path) : SIDE_NONE;
    if (s[0].kind != SIDE_NONE && (s[0].kind == SIDE_MODEL) != (s[1].kind == SIDE_MODEL))
        return hr_error_set(&job->err, HR_ERR_ARG,
                            "--base %s is a %s and --new %s a %s: compare like with like (data with data, a model with a model)",
                            s[0].path, side_names[s[0].kind], s[1].path, side_names[s[1].kind]);
    if (profile_out && s[1].kind != SIDE_DATASET)
        return hr_error_set(&job->err, HR_ERR_ARG, "--write-profile needs a dataset as --new (%s is a %s)", s[1].path,
                            side_names[s[1].kind]);
    hr_pathspec ps[] = { { "--base", s[0].path, HR_IN }, { "--new", s[1].path, HR_IN }, { "--recs-base", recs[0], HR_IN },
                         { "--recs-new", recs[1], HR_IN }, { "--write-profile", profile_out, HR_OUT_FILE },
                         { "--json", job->json_path, HR_OUT_FILE } };
    HR_TRY(hr_publish_check(job, ps, 6));
    double t0 = hr_now();
    int rc = 0;
    for (int x = 0; rc == 0 && x < 2; x++)
        if (s[x].kind != SIDE_NONE) rc = open_side(job, &s[x]);
    if (rc == 0 && profile_out && job->rank == 0) rc = hr_profile_write(profile_out, &s[1].prof, s[1].path, &job->err);
    rc = hr_comm_agree(job->comm, rc, &job->err);
    if (rc == 0 && profile_out)
        hr_progress("drift      profile of %s: %llu interactions, %llu users, %llu items -> %s", s[1].path,
                    (unsigned long long)s[1].prof.interactions, (unsigned long long)s[1].prof.users,
                    (unsigned long long)s[1].prof.items, profile_out);
    table t;
    t.n = 0;
    int models = s[1].kind == SIDE_MODEL;
    if (rc == 0 && s[0].kind != SIDE_NONE) {
        hr_job_set_str(job, "base", s[0].path);
        hr_job_set_str(job, "new", s[1].path);
        hr_job_set_str(job, "base_kind", side_names[s[0].kind]);
        hr_job_set_str(job, "new_kind", side_names[s[1].kind]);
        if (models) model_metrics(job, &t, s);
        else data_metrics(job, &t, s);
    }
    if (rc == 0 && !models) longtail_data(job, &s[1].prof);
    if (rc == 0 && (recs[0] || recs[1])) {
        hr_drift_catalog cat[2];
        for (int x = 0; x < 2; x++) {
            memset(&cat[x], 0, sizeof cat[x]);
            if (s[x].kind == SIDE_MODEL) cat[x].items = s[x].model.n_items;
            else cat[x].items = s[x].prof.items;
            if (s[x].kind == SIDE_DATASET) cat[x].dict = &s[x].ds.items, cat[x].nnz = s[x].ds.items.nnz;
        }
        hr_drift_recs r;
        rc = hr_drift_recs_compare(job, recs, cat, (uint32_t)top, rbo_p, &r);
        if (rc == 0) recs_metrics(job, &t, &r, recs[0] && recs[1]);
        if (rc == 0 && recs[0] && recs[1]) hr_job_set_real(job, "recs.rbo_p", rbo_p);
    }
    if (rc == 0 && models && nbrs > 0) {
        /* free the dictionaries first: the neighbour pass loads both models' blocks */
        hr_drift_nbrs nb;
        if (s[0].model.kind == HR_MODEL_FACTOR && s[1].model.kind == HR_MODEL_FACTOR) {
            rc = hr_drift_neighbours(job, s[0].path, s[1].path, (uint32_t)nbrs, &nb);
            if (rc == 0) {
                char k[64];
                snprintf(k, sizeof k, "neighbours.jaccard@%u", nb.k);
                hr_job_set_int(job, "neighbours.k", nb.k);
                hr_job_set_int(job, "neighbours.items_both", (int64_t)nb.items_both);
                hr_job_set_real(job, k, nb.jaccard);
                hr_job_set_real(job, "neighbours.jaccard", nb.jaccard);
                row *w = add(&t, k, 0);
                w->shift = nb.jaccard, w->shift_name = "mean";
            }
        } else {
            hr_job_set_str(job, "neighbours.skipped", "not two factor models");
        }
    }
    if (rc == 0 && s[0].kind != SIDE_NONE && job->rank == 0) print_table(&t, s[0].path, s[1].path);
    if (rc == 0 && s[0].kind != SIDE_NONE)
        hr_progress("drift      %s -> %s compared in %.2fs", s[0].path, s[1].path, hr_now() - t0);
    for (int x = 0; x < 2; x++) {
        hr_dataset_free(&s[x].ds);
        hr_model_free(&s[x].model);
    }
    return rc;
}
