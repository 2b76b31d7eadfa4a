/* hpcrec report — one self-contained HTML page (io/html.h) about a model root: what the on-call
 * engineer opens in the morning.
 *
 *   report --root MODEL_ROOT [--day DAY] [--staged DIR] --out FILE.html
 *
 * DAY defaults to the day `current` names (else the newest published day).  --staged DIR: DAY's
 * files are in DIR, a staging directory not yet renamed into the root (the nightly job writes
 * each day's report before publishing the day, so a published day is never modified).
 * Sections: the published, refused and rolled-back days; training loss and seconds per
 * iteration (DAY/history.jsonl of `train --history`); evaluation against the baselines and the
 * previous model with the bootstrap intervals (DAY/evaluate.json, gate.json); the gate metric
 * over the days; drift over the days and this day's popularity buckets against the previous
 * day's (drift.json, drift-model.json, profile.json); the long tail (the data's item popularity
 * against the recommendations' exposure, drift.json longtail.*); ingest rejects by reason
 * (ingest.json rejected_<reason>); publish.log events (refusals, rollbacks).
 * Every number comes from those files: the report computes nothing but shares of what they
 * hold.  A missing file leaves its section saying so.  The report reads small files only and
 * runs on rank 0 alone (the other ranks wait for the outcome); FILE is written as FILE.tmp-PID
 * and renamed. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/timer.h"
#include "io/html.h"
#include "io/jsonl.h"
#include "io/manifest.h"
#include "jobs/commands.h"
#include "jobs/publish.h"

static const char usage[] = "hpcrec report --root MODEL_ROOT [--day YYYY-MM-DD] [--staged DIR] --out FILE.html [--json FILE]\n"
                            "  (runs on rank 0 alone; reads the JSON summaries the jobs wrote, computes nothing)\n";

#define MAXDAYS 4096

typedef struct day {
    char name[11];
    int published, blocked, refused;
    char *refuse_reason;
    json_t *gate, *evaluate, *drift, *drift_model;   /* loaded for every day (small) */
} day;

typedef struct report {
    const char *root, *staged, *out;
    char current[11], previous[11], want[11];
    day *days;
    int ndays;
    json_t *events;    /* array of strings: publish.log lines of refusals and rollbacks */
    const char *up;    /* "" when the page lies in the root, "../" when in a day's folder */
    hr_error *err;
} report;

static int is_day(const char *s)
{
    if (strlen(s) != 10) return 0;
    for (int i = 0; i < 10; i++)
        if (i == 4 || i == 7 ? s[i] != '-' : (s[i] < '0' || s[i] > '9')) return 0;
    return 1;
}

static day *find_day(report *r, const char *name, int create)
{
    for (int i = 0; i < r->ndays; i++)
        if (!strcmp(r->days[i].name, name)) return &r->days[i];
    if (!create || r->ndays == MAXDAYS) return NULL;
    day *d = &r->days[r->ndays++];
    memset(d, 0, sizeof *d);
    memcpy(d->name, name, 11);
    return d;
}

static int cmp_day(const void *a, const void *b) { return strcmp(((const day *)a)->name, ((const day *)b)->name); }

static void link_day(const char *root, const char *name, char out[11])
{
    char p[4200], t[4200];
    snprintf(p, sizeof p, "%s/%s", root, name);
    ssize_t n = readlink(p, t, sizeof t - 1);
    out[0] = '\0';
    if (n <= 0) return;
    t[n] = '\0';
    const char *b = strrchr(t, '/');
    b = b ? b + 1 : t;
    if (is_day(b)) memcpy(out, b, 11);
}

static void day_path(const report *r, const char *d, const char *file, char *buf, size_t cap)
{
    if (r->staged && !strcmp(d, r->want)) snprintf(buf, cap, "%s/%s", r->staged, file);
    else snprintf(buf, cap, "%s/%s/%s", r->root, d, file);
}

static int load_json(const report *r, const char *d, const char *file, json_t **out)
{
    char p[4300];
    day_path(r, d, file, p, sizeof p);
    return hr_json_read_opt(p, out, r->err);
}

/* publish.log: "DATE TIME refuse DAY job J: REASON", "DATE TIME rollback current ...". */
static int read_log(report *r)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/publish.log", r->root);
    r->events = json_array();
    FILE *f = fopen(p, "r");
    if (!f) return errno == ENOENT ? 0 : hr_error_set(r->err, HR_ERR_IO, "%s: cannot open: %s", p, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0) {
        if (line[n - 1] == '\n') line[--n] = '\0';
        char verb[32] = "", what[32] = "";
        if (sscanf(line, "%*s %*s %31s %31s", verb, what) < 1) continue;
        if (!strcmp(verb, "refuse") && is_day(what)) {
            day *d = find_day(r, what, 1);
            if (d) {
                d->refused = 1;
                const char *why = strstr(line, ": ");
                hr_free(d->refuse_reason);
                size_t l = why ? strlen(why + 2) : 0;
                d->refuse_reason = hr_malloc(l + 1);
                memcpy(d->refuse_reason, why ? why + 2 : "", l + 1);
            }
        }
        if (strcmp(verb, "publish") != 0) json_array_append_new(r->events, json_string(line));
    }
    free(line);
    fclose(f);
    return 0;
}

static int scan(report *r)
{
    DIR *dir = opendir(r->root);
    if (!dir) return hr_error_set(r->err, HR_ERR_ARG, "--root %s: cannot open: %s", r->root, strerror(errno));
    struct dirent *e;
    char p[4300];
    struct stat st;
    while ((e = readdir(dir))) {
        if (!is_day(e->d_name)) continue;
        snprintf(p, sizeof p, "%s/%s/PUBLISHED", r->root, e->d_name);
        if (stat(p, &st) != 0) continue;
        day *d = find_day(r, e->d_name, 1);
        if (d) d->published = 1;
    }
    closedir(dir);
    if (r->staged) {
        day *d = find_day(r, r->want, 1);
        if (d) d->published = 1;
    }
    HR_TRY(read_log(r));
    qsort(r->days, (size_t)r->ndays, sizeof *r->days, cmp_day);
    link_day(r->root, "current", r->current);
    link_day(r->root, "previous", r->previous);
    for (int i = 0; i < r->ndays; i++) {
        day *d = &r->days[i];
        snprintf(p, sizeof p, "%s/.blocked/%s", r->root, d->name);
        d->blocked = lstat(p, &st) == 0;
        if (!d->published) continue;
        HR_TRY(load_json(r, d->name, "gate.json", &d->gate));
        HR_TRY(load_json(r, d->name, "evaluate.json", &d->evaluate));
        HR_TRY(load_json(r, d->name, "drift.json", &d->drift));
        HR_TRY(load_json(r, d->name, "drift-model.json", &d->drift_model));
    }
    return 0;
}

static double num(json_t *o, const char *key)
{
    json_t *v = o ? json_object_get(o, key) : NULL;
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static const char *str(json_t *o, const char *key)
{
    json_t *v = o ? json_object_get(o, key) : NULL;
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static const char *fmtn(char *b, double v, const char *f) { return hr_html_num(b, 64, f, v); }

/* ---- sections -------------------------------------------------------------------------------- */

static const char *gate_metric(report *r)
{
    for (int i = r->ndays - 1; i >= 0; i--)
        if (str(r->days[i].gate, "metric")) return str(r->days[i].gate, "metric");
    return "ndcg@10";
}

static void sec_days(report *r, hr_html *h)
{
    hr_html_h(h, 2, "Days");
    const char *metric = gate_metric(r);
    char mh[80];
    snprintf(mh, sizeof mh, "%s (gate)", metric);
    const char *head[] = { "day", "status", mh, "gate decision", "popularity PSI", "recs Jaccard", "report" };
    hr_html_table(h, "days", 7, head);
    int refused = 0, blocked = 0;
    for (int i = r->ndays - 1; i >= 0; i--) {
        day *d = &r->days[i];
        char a[64], b[64], c[64];
        const char *status = d->published ? "published" : "refused";
        const char *cls = NULL;
        if (d->published && !strcmp(d->name, r->current)) status = "current", cls = "current";
        else if (d->published && !strcmp(d->name, r->previous)) status = "previous";
        if (d->blocked) status = "rolled back", cls = "rolledback", blocked++;
        if (!d->published) cls = "refused", refused++;
        double m = num(d->gate, "new");
        if (isnan(m)) m = num(d->evaluate, metric);
        const char *cells[7] = { d->name, status, fmtn(a, m, "%.4f"), d->published ? str(d->gate, "decision") : "refuse",
                                 fmtn(b, num(d->drift, "popularity.psi"), "%.4f"), fmtn(c, num(d->drift, "recs.jaccard"), "%.4f"),
                                 NULL };
        if (!d->published) cells[2] = d->refuse_reason;
        hr_html_row_open(h, cls, 6, cells);
        if (d->published) hr_html_raw(h, "<td><a href=\"%s%s/report.html\">report</a></td></tr>\n", r->up, d->name);
        else hr_html_raw(h, "<td></td></tr>\n");
    }
    hr_html_table_end(h);
    char line[160];
    snprintf(line, sizeof line, "%d day(s) refused by the gate or drift, %d day(s) rolled back.", refused, blocked);
    hr_html_p(h, refused || blocked ? "warn" : "note", line);
    if (json_array_size(r->events)) {
        hr_html_h(h, 3, "Refusals and rollbacks (publish.log)");
        const char *eh[] = { "event" };
        hr_html_table(h, "events", 1, eh);
        size_t n = json_array_size(r->events);
        for (size_t x = n > 50 ? n - 50 : 0; x < n; x++) {
            const char *cell[] = { json_string_value(json_array_get(r->events, x)) };
            hr_html_row(h, strstr(cell[0], " refuse ") ? "refused" : "rolledback", 1, cell);
        }
        hr_html_table_end(h);
    }
}

static int sec_training(report *r, hr_html *h)
{
    hr_html_h(h, 2, "Training");
    json_t *tr = NULL, *hist = NULL;
    uint64_t bad = 0;
    char p[4300];
    HR_TRY(load_json(r, r->want, "train.json", &tr));
    day_path(r, r->want, "history.jsonl", p, sizeof p);
    int rc = hr_jsonl_read_opt(p, &hist, &bad, r->err);
    if (rc < 0) {
        if (tr) json_decref(tr);
        return rc;
    }
    if (tr) {
        char line[400], a[64], b[64];
        snprintf(line, sizeof line, "%s, k = %s, %s iterations on %s ranks, %s s per iteration, %s GFLOP/s.",
                 str(tr, "algo") ? str(tr, "algo") : "?", fmtn(a, num(tr, "factors"), "%.0f"), fmtn(b, num(tr, "iterations"), "%.0f"),
                 fmtn(p, num(tr, "ranks"), "%.0f"), fmtn(p + 100, num(tr, "seconds_per_iteration"), "%.3g"),
                 fmtn(p + 200, num(tr, "gflops"), "%.3g"));
        hr_html_p(h, NULL, line);
    } else {
        hr_html_p(h, "note", "No train.json for this day.");
    }
    /* the last line of each iteration counts (a resumed run appends) */
    size_t n = hist ? json_array_size(hist) : 0;
    int64_t maxit = 0;
    for (size_t x = 0; x < n; x++) {
        double it = num(json_array_get(hist, x), "iteration");
        if (it > maxit && it < 1e6) maxit = (int64_t)it;
    }
    if (maxit > 0) {
        char **xl = hr_malloc((size_t)maxit * sizeof *xl);
        double *loss = hr_malloc((size_t)maxit * sizeof *loss), *secs = hr_malloc((size_t)maxit * sizeof *secs);
        for (int64_t i = 0; i < maxit; i++) {
            xl[i] = hr_malloc(16);
            snprintf(xl[i], 16, "%lld", (long long)(i + 1));
            loss[i] = secs[i] = NAN;
        }
        for (size_t x = 0; x < n; x++) {
            json_t *l = json_array_get(hist, x);
            double it = num(l, "iteration");
            if (!(it >= 1 && it <= (double)maxit)) continue;
            loss[(int64_t)it - 1] = num(l, "loss");
            secs[(int64_t)it - 1] = num(l, "seconds");
        }
        const char *nl[] = { "loss" }, *ns[] = { "seconds" };
        const double *yl[] = { loss }, *ys[] = { secs };
        hr_svg_lines(h, "training loss per iteration", (int)maxit, (const char *const *)xl, 1, nl, yl, "%.4g");
        hr_svg_lines(h, "seconds per iteration", (int)maxit, (const char *const *)xl, 1, ns, ys, "%.3g");
        const char *head[] = { "iteration", "loss", "seconds" };
        hr_html_table(h, "history", 3, head);
        for (int64_t i = 0; i < maxit; i++) {
            char a[64], b[64];
            const char *c[] = { xl[i], fmtn(a, loss[i], "%.6g"), fmtn(b, secs[i], "%.4g") };
            hr_html_row(h, NULL, 3, c);
            hr_free(xl[i]);
        }
        hr_html_table_end(h);
        hr_free(xl);
        hr_free(loss);
        hr_free(secs);
    } else {
        hr_html_p(h, "note", "No per-iteration history (train --history) for this day.");
    }
    if (bad) {
        snprintf(p, sizeof p, "%llu history line(s) did not parse and are left out.", (unsigned long long)bad);
        hr_html_p(h, "warn", p);
    }
    if (tr) json_decref(tr);
    if (hist) json_decref(hist);
    return 0;
}

static void sec_evaluation(report *r, hr_html *h, day *d)
{
    hr_html_h(h, 2, "Evaluation");
    json_t *ev = d ? d->evaluate : NULL;
    if (!ev) {
        hr_html_p(h, "note", "No evaluate.json for this day.");
        return;
    }
    static const char *const stems[] = { "precision", "recall", "ndcg", "map", "hr", "coverage" };
    static const char *const pre[] = { "", "pop.", "random.", "model2." };
    static const char *const col[] = { "model", "pop", "random", "previous model" };
    int has[4] = { 1, 0, 0, 0 };
    /* the cut-offs K: every precision@K key of the model */
    int ks[16], nk = 0;
    const char *key;
    json_t *v;
    json_object_foreach(ev, key, v) {
        int k;
        char tail;
        if (sscanf(key, "precision@%d%c", &k, &tail) == 1 && nk < 16) ks[nk++] = k;
        for (int s = 1; s < 4; s++)
            if (!strncmp(key, pre[s], strlen(pre[s])) && strstr(key, "precision@")) has[s] = 1;
    }
    for (int i = 1; i < nk; i++)
        for (int j = i; j > 0 && ks[j - 1] > ks[j]; j--) {
            int t = ks[j]; ks[j] = ks[j - 1]; ks[j - 1] = t;
        }
    const char *head[5] = { "metric" };
    int nc = 1, which[4];
    for (int s = 0; s < 4; s++)
        if (has[s]) head[nc] = col[s], which[nc - 1] = s, nc++;
    hr_html_table(h, "evaluation", nc, head);
    for (int c = 0; c < nk; c++)
        for (size_t m = 0; m < sizeof stems / sizeof *stems; m++) {
            char name[64], k2[96], b[4][64];
            snprintf(name, sizeof name, "%s@%d", stems[m], ks[c]);
            const char *cells[5] = { name };
            for (int s = 0; s < nc - 1; s++) {
                snprintf(k2, sizeof k2, "%s%s", pre[which[s]], name);
                cells[s + 1] = fmtn(b[s], num(ev, k2), "%.4f");
            }
            hr_html_row(h, NULL, nc, cells);
        }
    hr_html_table_end(h);
    if (nk > 0) {   /* model against the baselines at the first K */
        const char *xl[6];
        char names[6][32];
        double vals[4][6];
        const double *vp[4];
        const char *sn[4];
        for (int m = 0; m < 6; m++) {
            snprintf(names[m], sizeof names[m], "%s@%d", stems[m], ks[0]);
            xl[m] = names[m];
            for (int s = 0; s < nc - 1; s++) {
                char k2[96];
                snprintf(k2, sizeof k2, "%s%s", pre[which[s]], names[m]);
                vals[s][m] = num(ev, k2);
            }
        }
        static const char *const series[] = { "model", "pop", "random", "model2" };
        for (int s = 0; s < nc - 1; s++) vp[s] = vals[s], sn[s] = series[which[s]];
        hr_svg_groups(h, "the model against the baselines", 6, xl, nc - 1, sn, vp, "%.3f");
    }
    /* the gate's comparison: compare.M.{mean,lo,hi} are previous - new; shown as new - previous */
    const char *lab[32];
    char labs[32][64];
    double mean[32], lo[32], hi[32];
    int n = 0;
    json_object_foreach(ev, key, v) {
        size_t l = strlen(key);
        if (strncmp(key, "compare.", 8) != 0 || l < 13 || strcmp(key + l - 5, ".mean") != 0 || n == 32) continue;
        char base[64], k2[96];
        snprintf(base, sizeof base, "%.*s", (int)(l - 13), key + 8);
        snprintf(labs[n], sizeof labs[n], "%s", base);
        lab[n] = labs[n];
        mean[n] = -json_number_value(v);
        snprintf(k2, sizeof k2, "compare.%s.hi", base);
        lo[n] = -num(ev, k2);
        snprintf(k2, sizeof k2, "compare.%s.lo", base);
        hi[n] = -num(ev, k2);
        n++;
    }
    if (n) {
        hr_svg_intervals(h, "new minus previous model, 95% bootstrap interval", n, lab, mean, lo, hi, "compare");
        const char *hh[] = { "metric", "new - previous", "lo", "hi", "verdict (of the previous model)" };
        hr_html_table(h, "compare", 5, hh);
        for (int i = 0; i < n; i++) {
            char a[64], b[64], c[64], k2[96];
            snprintf(k2, sizeof k2, "compare.%s.verdict", lab[i]);
            const char *cells[] = { lab[i], fmtn(a, mean[i], "%+.4f"), fmtn(b, lo[i], "%+.4f"), fmtn(c, hi[i], "%+.4f"), str(ev, k2) };
            hr_html_row(h, NULL, 5, cells);
        }
        hr_html_table_end(h);
    } else {
        hr_html_p(h, "note", "No comparison with a previous model (cold start or gate disabled).");
    }
    if (d->gate && str(d->gate, "reason")) hr_html_p(h, NULL, str(d->gate, "reason"));
}

/* A line chart over the published days of per-day numbers. */
static void day_lines(report *r, hr_html *h, const char *title, int nk, const char *const *keys, const char *const *names,
                      int model_file)
{
    int n = 0;
    const char **xl = hr_malloc(((size_t)r->ndays + 1) * sizeof *xl);
    double *y[4];
    for (int k = 0; k < nk; k++) y[k] = hr_malloc(((size_t)r->ndays + 1) * sizeof *y[k]);
    int any = 0;
    for (int i = 0; i < r->ndays; i++) {
        day *d = &r->days[i];
        if (!d->published) continue;
        json_t *src = model_file == 2 ? d->gate : model_file ? d->drift_model : d->drift;
        xl[n] = d->name;
        for (int k = 0; k < nk; k++) {
            y[k][n] = num(src, keys[k]);
            if (model_file == 2 && isnan(y[k][n])) y[k][n] = num(d->evaluate, keys[k]);
            any |= !isnan(y[k][n]);
        }
        n++;
    }
    if (any) hr_svg_lines(h, title, n, xl, nk, names, (const double *const *)y, "%.4g");
    else {
        char line[200];
        snprintf(line, sizeof line, "%s: no values yet.", title);
        hr_html_p(h, "note", line);
    }
    for (int k = 0; k < nk; k++) hr_free(y[k]);
    hr_free(xl);
}

static void sec_history(report *r, hr_html *h)
{
    hr_html_h(h, 2, "Metric history");
    const char *metric = gate_metric(r);
    const char *keys[] = { "new" }, *names[] = { "history" };
    (void)metric;
    day_lines(r, h, "gate metric of each published day's model", 1, keys, names, 2);
    hr_html_p(h, "note", "Refused days are not published and have no point; they are listed under Days.");
}

static int sec_drift(report *r, hr_html *h, day *d)
{
    hr_html_h(h, 2, "Drift");
    const char *k1[] = { "popularity.psi", "activity.psi", "value.psi" }, *n1[] = { "psi-popularity", "psi-activity", "psi-value" };
    day_lines(r, h, "population stability index against the previous day", 3, k1, n1, 0);
    const char *k2[] = { "recs.jaccard", "recs.rbo" }, *n2[] = { "jaccard", "rbo" };
    day_lines(r, h, "overlap of users' recommendations with the previous day", 2, k2, n2, 0);
    const char *k3[] = { "neighbours.jaccard" }, *n3[] = { "neighbours" };
    day_lines(r, h, "overlap of items' nearest neighbours with the previous model", 1, k3, n3, 1);
    json_t *dr = d ? d->drift : NULL;
    if (dr) {
        const char *head[] = { "key", "value" };
        hr_html_table(h, "drift", 2, head);
        const char *key;
        json_t *v;
        json_object_foreach(dr, key, v) {
            if (strncmp(key, "longtail.", 9) == 0 || !json_is_number(v)) continue;
            if (strstr(key, "seconds") || strstr(key, "faults") || strstr(key, "_mb") || !strcmp(key, "ranks")) continue;
            char b[64];
            const char *cells[] = { key, fmtn(b, json_number_value(v), "%.6g") };
            hr_html_row(h, NULL, 2, cells);
        }
        hr_html_table_end(h);
    } else {
        hr_html_p(h, "note", "No drift.json for this day (the first published day has nothing to compare with).");
    }
    /* popularity buckets of this day's data against the previous published day's */
    json_t *pa = NULL, *pb = NULL;
    const char *prev = NULL;
    for (int i = 0; i < r->ndays; i++)
        if (r->days[i].published && strcmp(r->days[i].name, r->want) < 0) prev = r->days[i].name;
    HR_TRY(load_json(r, r->want, "profile.json", &pb));
    if (prev) {
        int rc = load_json(r, prev, "profile.json", &pa);
        if (rc < 0) {
            if (pb) json_decref(pb);
            return rc;
        }
    }
    json_t *ab = pa ? json_object_get(pa, "popularity_items") : NULL, *bb = pb ? json_object_get(pb, "popularity_items") : NULL;
    if (json_is_array(bb)) {
        size_t nb = json_array_size(bb), last = 0;
        double ta = 0, tb = 0;
        for (size_t i = 0; i < nb; i++) {
            tb += json_number_value(json_array_get(bb, i));
            ta += ab ? json_number_value(json_array_get(ab, i)) : 0;
            if (json_number_value(json_array_get(bb, i)) > 0 || (ab && json_number_value(json_array_get(ab, i)) > 0)) last = i + 1;
        }
        char (*xs)[24] = hr_malloc((last + 1) * sizeof *xs);
        const char **xl = hr_malloc((last + 1) * sizeof *xl);
        double *va = hr_malloc((last + 1) * sizeof *va), *vb = hr_malloc((last + 1) * sizeof *vb);
        for (size_t i = 0; i < last; i++) {
            snprintf(xs[i], sizeof xs[i], "%llu+", 1ULL << i);
            xl[i] = xs[i];
            va[i] = ab && ta > 0 ? json_number_value(json_array_get(ab, i)) / ta : NAN;
            vb[i] = tb > 0 ? json_number_value(json_array_get(bb, i)) / tb : NAN;
        }
        const char *sn[] = { "today", "previous" };
        const double *vp[] = { vb, va };
        hr_svg_groups(h, "share of items by popularity (interactions per item)", (int)last, xl, ab ? 2 : 1, sn, vp, "%.3f");
        hr_free(xs);
        hr_free(xl);
        hr_free(va);
        hr_free(vb);
    }
    if (pa) json_decref(pa);
    if (pb) json_decref(pb);
    return 0;
}

static void sec_longtail(report *r, hr_html *h, day *d)
{
    (void)r;
    hr_html_h(h, 2, "Popularity long tail");
    json_t *dr = d ? d->drift : NULL;
    double items[32], inter[32], expo[32], ti = 0, tn = 0, te = 0;
    int last = 0;
    for (int b = 0; b < 32; b++) {
        char k[64];
        snprintf(k, sizeof k, "longtail.items.%d", b);
        items[b] = num(dr, k);
        snprintf(k, sizeof k, "longtail.interactions.%d", b);
        inter[b] = num(dr, k);
        snprintf(k, sizeof k, "longtail.exposure.%d", b);
        expo[b] = num(dr, k);
        if (!isnan(items[b]) || !isnan(expo[b])) last = b + 1;
        ti += isnan(items[b]) ? 0 : items[b];
        tn += isnan(inter[b]) ? 0 : inter[b];
        te += isnan(expo[b]) ? 0 : expo[b];
    }
    if (!last || te == 0) {
        hr_html_p(h, "note", "No exposure figures for this day (drift.json longtail.* keys need the day's recommendations).");
        return;
    }
    char xs[32][24];
    const char *xl[32];
    double si[32], sn[32], se[32];
    for (int b = 0; b < last; b++) {
        snprintf(xs[b], sizeof xs[b], "%llu+", 1ULL << b);
        xl[b] = xs[b];
        si[b] = ti > 0 && !isnan(items[b]) ? items[b] / ti : 0;
        sn[b] = tn > 0 && !isnan(inter[b]) ? inter[b] / tn : 0;
        se[b] = !isnan(expo[b]) ? expo[b] / te : 0;
    }
    const char *names[] = { "items", "interactions", "exposure" };
    const double *vp[] = { si, sn, se };
    hr_svg_groups(h, "items, interactions and recommendation slots by item popularity", last, xl, 3, names, vp, "%.3f");
    const char *head[] = { "interactions per item", "share of items", "share of interactions", "share of recommendations" };
    hr_html_table(h, "longtail", 4, head);
    for (int b = 0; b < last; b++) {
        char a[64], c[64], e[64];
        const char *cells[] = { xl[b], fmtn(a, si[b], "%.4f"), fmtn(c, sn[b], "%.4f"), fmtn(e, se[b], "%.4f") };
        hr_html_row(h, NULL, 4, cells);
    }
    hr_html_table_end(h);
    char line[200], a[64];
    snprintf(line, sizeof line, "Popularity bias of the recommendations (mean interactions of recommended items over the mean per item): %s.",
             fmtn(a, num(dr, "new.recs.popularity_bias"), "%.3f"));
    hr_html_p(h, NULL, line);
}

static int sec_ingest(report *r, hr_html *h)
{
    hr_html_h(h, 2, "Ingest");
    json_t *in = NULL;
    HR_TRY(load_json(r, r->want, "ingest.json", &in));
    if (!in) {
        hr_html_p(h, "note", "No ingest.json for this day.");
        return 0;
    }
    char line[300], a[64], b[64], c[64];
    snprintf(line, sizeof line, "%s rows read, %s accepted, %s rejected.", fmtn(a, num(in, "rows_read"), "%.0f"),
             fmtn(b, num(in, "rows_accepted"), "%.0f"), fmtn(c, num(in, "rows_rejected"), "%.0f"));
    hr_html_p(h, NULL, line);
    const char *lab[64];
    double v[64];
    int n = 0;
    const char *key;
    json_t *val;
    json_object_foreach(in, key, val) {
        if (strncmp(key, "rejected_", 9) != 0 || !json_is_number(val) || n == 64) continue;
        lab[n] = key + 9;
        v[n++] = json_number_value(val);
    }
    if (n) {
        hr_svg_hbars(h, "rejected rows by reason", n, lab, v, "reject", "%.0f");
        const char *head[] = { "reason", "rows" };
        hr_html_table(h, "rejects", 2, head);
        for (int i = 0; i < n; i++) {
            const char *cells[] = { lab[i], fmtn(a, v[i], "%.0f") };
            hr_html_row(h, NULL, 2, cells);
        }
        hr_html_table_end(h);
    }
    json_decref(in);
    return 0;
}

static int write_page(report *r, const char *path)
{
    hr_html h;
    char title[200];
    snprintf(title, sizeof title, "hpcrec report %s", r->want);
    HR_TRY(hr_html_open(&h, path, title, r->err));
    hr_html_h(&h, 1, title);
    day *d = find_day(r, r->want, 0);
    char line[600], now[32];
    hr_manifest_now(now, sizeof now);
    snprintf(line, sizeof line, "Model root %s; current: %s, previous: %s; written %s by hpcrec " HR_VERSION ".", r->root,
             r->current[0] ? r->current : "none", r->previous[0] ? r->previous : "none", now);
    hr_html_p(&h, "note", line);
    if (d && d->blocked) hr_html_p(&h, "warn", "This day was rolled back: it is not served.");
    /* the newest published day's report, when this page is not it */
    const char *newest = NULL;
    for (int i = 0; i < r->ndays; i++)
        if (r->days[i].published) newest = r->days[i].name;
    if (newest && strcmp(newest, r->want) != 0) {
        hr_html_raw(&h, "<p>Newest published day: <a href=\"%s%s/report.html\">%s</a>.</p>\n", r->up, newest, newest);
    }
    int rc = 0;
    sec_days(r, &h);
    if (rc == 0) rc = sec_training(r, &h);
    if (rc == 0) sec_evaluation(r, &h, d);
    if (rc == 0) sec_history(r, &h);
    if (rc == 0) rc = sec_drift(r, &h, d);
    if (rc == 0) sec_longtail(r, &h, d);
    if (rc == 0) rc = sec_ingest(r, &h);
    int crc = hr_html_close(&h, r->err);
    return rc < 0 ? rc : crc;
}

static int run_report(hr_job *job, report *r)
{
    r->err = &job->err;
    r->days = hr_calloc(MAXDAYS, sizeof *r->days);
    int rc = scan(r);
    /* links to the days' reports are relative to where this page lies */
    char *cr = NULL, *co = NULL, outdir[4200];
    snprintf(outdir, sizeof outdir, "%s", r->out);
    char *slash = strrchr(outdir, '/');
    if (slash) *slash = '\0';
    else snprintf(outdir, sizeof outdir, ".");
    if (rc == 0) rc = hr_path_canonical(r->root, &cr, &job->err);
    if (rc == 0) rc = hr_path_canonical(outdir, &co, &job->err);
    r->up = rc == 0 && !strcmp(cr, co) ? "" : "../";
    hr_free(cr);
    hr_free(co);
    if (rc == 0 && !r->want[0]) {
        if (r->current[0] && find_day(r, r->current, 0)) memcpy(r->want, r->current, 11);
        else
            for (int i = 0; i < r->ndays; i++)
                if (r->days[i].published) memcpy(r->want, r->days[i].name, 11);
        if (!r->want[0]) rc = hr_error_set(&job->err, HR_ERR_STATE, "--root %s holds no published day", r->root);
    }
    day *d = rc == 0 ? find_day(r, r->want, 0) : NULL;
    if (rc == 0 && (!d || !d->published))
        rc = hr_error_set(&job->err, HR_ERR_ARG, "--day %s is not a published day under %s%s", r->want, r->root,
                          d && d->refused ? " (it was refused)" : "");
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp-%ld", r->out, (long)getpid());
    if (rc == 0) rc = write_page(r, tmp);
    if (rc == 0 && rename(tmp, r->out) != 0) rc = hr_error_set(&job->err, HR_ERR_IO, "%s: cannot rename into place: %s", r->out, strerror(errno));
    if (rc < 0) unlink(tmp);
    int refused = 0, blocked = 0, published = 0;
    for (int i = 0; i < r->ndays; i++) {
        day *x = &r->days[i];
        refused += x->refused && !x->published;
        blocked += x->blocked;
        published += x->published;
        hr_free(x->refuse_reason);
        json_t *js[] = { x->gate, x->evaluate, x->drift, x->drift_model };
        for (int j = 0; j < 4; j++)
            if (js[j]) json_decref(js[j]);
    }
    if (rc == 0) {
        hr_job_set_str(job, "day", r->want);
        hr_job_set_str(job, "out", r->out);
        hr_job_set_int(job, "days_published", published);
        hr_job_set_int(job, "days_refused", refused);
        hr_job_set_int(job, "days_rolled_back", blocked);
        hr_progress("report     %s (day %s; %d published, %d refused, %d rolled back)", r->out, r->want, published, refused, blocked);
    }
    if (r->events) json_decref(r->events);
    hr_free(r->days);
    return rc;
}

int hr_cmd_report(hr_job *job, int argc, char **argv)
{
    static const struct option opts[] = { { "root", required_argument, 0, 'r' }, { "day", required_argument, 0, 'd' },
                                          { "staged", required_argument, 0, 's' }, { "out", required_argument, 0, 'o' },
                                          { "json", required_argument, 0, 'j' }, { "help", no_argument, 0, 'h' },
                                          { 0, 0, 0, 0 } };
    report r;
    memset(&r, 0, sizeof r);
    const char *dayarg = NULL;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'r': r.root = optarg; break;
        case 'd': dayarg = optarg; break;
        case 's': r.staged = optarg; break;
        case 'o': r.out = optarg; break;
        case 'j': job->json_path = optarg; break;
        case 'h': if (job->rank == 0) fputs(usage, stdout); return 0;
        default: return hr_opt_usage(job, usage);
        }
    }
    if (!r.root || !r.out) return hr_error_set(&job->err, HR_ERR_ARG, "--root and --out are required\n%s", usage);
    size_t ol = strlen(r.out);
    if (ol < 6 || strcmp(r.out + ol - 5, ".html") != 0)
        return hr_error_set(&job->err, HR_ERR_ARG, "--out %s: the report is an .html file", r.out);
    if (dayarg && !is_day(dayarg)) return hr_error_set(&job->err, HR_ERR_ARG, "--day '%s' is not YYYY-MM-DD", dayarg);
    if (r.staged && !dayarg) return hr_error_set(&job->err, HR_ERR_ARG, "--staged needs --day (the day it holds)");
    if (dayarg) memcpy(r.want, dayarg, 11);
    /* The root is not listed as an input of the output checks: the report belongs inside it
     * (MODEL_ROOT/DAY/report.html) and overwrites no file it reads (it writes only .html). */
    hr_pathspec ps[] = { { "--out", r.out, HR_OUT_FILE }, { "--json", job->json_path, HR_OUT_FILE } };
    HR_TRY(hr_publish_check(job, ps, 2));
    return job->rank == 0 ? run_report(job, &r) : 0;
}
