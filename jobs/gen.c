/* jobs/gen.c — `hpcrec gen`: synthetic, date-partitioned interaction logs from the planted
 * model of solvers/synth.h, optionally with faulty rows and bot users.
 *
 * Layout written under --out DIR (absent, empty, or an earlier gen output, which is replaced
 * whole: the files are written into a temporary directory published by rename, jobs/publish.h):
 *   DIR/YYYY-MM-DD/part-RRRRR.csv.zst   one per day and rank (header only when empty):
 *                                        "user,item,rating,timestamp" (or count); ids 1-based,
 *                                        timestamps in Unix seconds
 *   DIR/_planted/items.tsv.zst           rank 0: item, cluster, weight (weights sum to 1)
 *   DIR/_planted/users-RRRRR.tsv.zst     each rank its normal users: user, p_0 .. p_{R-1}
 *   DIR/_planted/model.tar               the planted model as a model bundle, written by
 *                                        every rank together (write_planted_model)
 *   DIR/gen.json                         rank 0: parameters, counts, every file's size,
 *                                        XXH3 and rows (format "hpcrec-gen", version 1);
 *                                        written last, so a directory without it is incomplete
 * The planted model sits in "_planted" because `ingest --input DIR` skips names starting with
 * '_' (io/paths.c), so it is never mistaken for logs.
 *
 * Rank r generates users r, r+P, ...; each user's events come from its own random streams,
 * so the set of lines is the same on any rank count.  Memory is O(users + items): events are
 * formatted user by user into one buffer per open day.  Each open day costs a zstd stream
 * (1.3 MiB at level 1, ~90 MiB at 19), so when --days at this level would exceed
 * STREAM_BUDGET_MIB the days are written in windows, regenerating the users per window
 * (cheap next to compression). */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/timer.h"
#include "io/manifest.h"
#include "io/model.h"
#include "io/output.h"
#include "io/rowparse.h"
#include "jobs/commands.h"
#include "jobs/modelwrite.h"
#include "jobs/publish.h"
#include "solvers/synth.h"

#define GEN_FORMAT "hpcrec-gen"
#define GEN_VERSION 1
#define STREAM_BUDGET_MIB 256.0
#define DAY_BUF (128u << 10)
#define MAX_LINE 128               /* longest row we format: 4 fields of at most 20 digits */
#define PROGRESS_EVERY 5000000ull
#define TIME_LIMIT 4102444800ll    /* 2100-01-01: the end of ingest's accepted time range */

static const char USAGE[] =
    "hpcrec gen --out DIR --users N --items N --interactions N [--kind ratings|counts] [--factors R]\n"
    "           [--days D] [--start YYYY-MM-DD] [--dirty FRAC] [--bots N] [--seed S] [--zstd-level L]\n"
    "           [--json FILE]\n";

/* zstd 1.5 compression-stream memory (MiB) per level 1..19, rounded up; plus our buffers. */
static const double STREAM_MIB[20] = { 0, 1.4, 2.1, 3.6, 4.8, 5.8, 5.8, 8.8, 8.8, 16.8, 28.8,
                                       28.8, 52.8, 52.8, 52.8, 68.8, 68.8, 68.8, 68.8, 89.6 };

typedef struct gen_opts {
    const char *out;
    hr_synth_params sp;
    int64_t start_day, days;
    char start[11];
    int zstd_level;
} gen_opts;

enum { TAG_USERS = -1, TAG_ITEMS = -2 };

typedef struct gen_file {
    int64_t tag;                   /* day index, TAG_USERS or TAG_ITEMS */
    uint64_t checksum, bytes, rows;
} gen_file;

typedef struct day_out {
    hr_output *o;
    char *buf;
    size_t len;
    uint64_t rows;
} day_out;

enum { C_ROWS, C_CLEAN, C_BOT_EVENTS, C_FAULT0, C_N = C_FAULT0 + HR_FAULT__COUNT };

typedef struct gen_run {
    const gen_opts *o;
    hr_job *job;
    const hr_synth_model *m;
    int64_t d0, d1;                /* open window of days [d0, d1) */
    day_out *days;
    int rc;                        /* sticky: first write error */
    uint64_t count[C_N];
    gen_file *files;
    size_t nfiles;
} gen_run;

static const char *const FAULT_KEY[HR_FAULT__COUNT] = {
    [HR_FAULT_WRONG_COLUMNS] = "dirty_wrong_columns", [HR_FAULT_UNPARSABLE] = "dirty_unparsable",
    [HR_FAULT_NONFINITE] = "dirty_nonfinite",         [HR_FAULT_OUT_OF_RANGE] = "dirty_out_of_range",
    [HR_FAULT_MISSING_ID] = "dirty_missing_id",       [HR_FAULT_DUPLICATE] = "dirty_duplicate",
    [HR_FAULT_CONFLICT] = "dirty_conflict",
};

/* ---- formatting (printf is several times slower than the generator itself) ---- */

static const char DIGITS2[] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
                              "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
                              "8081828384858687888990919293949596979899";

static inline char *put_u64(char *p, uint64_t v)
{
    char tmp[20], *e = tmp + sizeof tmp, *q = e;
    while (v >= 100) {
        const unsigned k = (unsigned)(v % 100) * 2;
        v /= 100;
        q -= 2;
        q[0] = DIGITS2[k];
        q[1] = DIGITS2[k + 1];
    }
    if (v >= 10) {
        q -= 2;
        q[0] = DIGITS2[v * 2];
        q[1] = DIGITS2[v * 2 + 1];
    } else {
        *--q = (char)('0' + v);
    }
    memcpy(p, q, (size_t)(e - q));
    return p + (e - q);
}

/* v in [0, 1] with 9 decimals: affinities are >= 0.05/256, so that keeps 5+ significant digits. */
static char *put_fixed9(char *p, double v)
{
    const uint64_t k = (uint64_t)(v * 1e9 + 0.5), frac = k % 1000000000u;
    p = put_u64(p, k / 1000000000u);
    *p++ = '.';
    char tmp[20], *e = put_u64(tmp, frac);
    const size_t n = (size_t)(e - tmp);
    memset(p, '0', 9 - n);
    memcpy(p + 9 - n, tmp, n);
    return p + 9;
}

/* One row: user (NULL: empty), item (< 0: empty), value text (NULL: the number), time
 * (< 0: the field is cut off, one column short). */
static inline char *put_row(char *p, const char *user, size_t ulen, int64_t item, const char *vtext, int64_t value,
                            int64_t ts)
{
    if (user) memcpy(p, user, ulen), p += ulen;
    *p++ = ',';
    if (item >= 0) p = put_u64(p, (uint64_t)item);
    *p++ = ',';
    if (vtext) {
        const size_t n = strlen(vtext);
        memcpy(p, vtext, n);
        p += n;
    } else if (value < 0) {
        *p++ = '-';
        p = put_u64(p, (uint64_t)-value);
    } else {
        p = put_u64(p, (uint64_t)value);
    }
    if (ts >= 0) {
        *p++ = ',';
        p = put_u64(p, (uint64_t)ts);
    }
    *p++ = '\n';
    return p;
}

/* Room for one row in day d's buffer (NULL when d is outside the window or after an error). */
static char *day_reserve(gen_run *g, int64_t d)
{
    if (d < g->d0 || d >= g->d1 || g->rc < 0) return NULL;
    day_out *x = &g->days[d - g->d0];
    if (x->len + MAX_LINE > DAY_BUF) {
        g->rc = hr_output_write(x->o, x->buf, x->len, &g->job->err);
        x->len = 0;
        if (g->rc < 0) return NULL;
    }
    return x->buf + x->len;
}

static void day_commit(gen_run *g, int64_t d, const char *end, int counter)
{
    day_out *x = &g->days[d - g->d0];
    x->len = (size_t)(end - x->buf);
    x->rows++;
    g->count[C_ROWS]++;
    g->count[counter]++;
}

static void emit_fault(gen_run *g, const char *user, size_t ulen, const hr_synth_event *e, const hr_synth_fault *f)
{
    const int64_t start = g->o->start_day * 86400, item = (int64_t)e->item + 1;
    const int64_t d = (f->kind == HR_FAULT_CONFLICT ? f->t : e->t) / 86400;
    char *p = day_reserve(g, d);
    if (!p) return;
    static const char *const junk[HR_FAULT__COUNT][2] = {
        [HR_FAULT_NONFINITE] = { "nan", "inf" },
        [HR_FAULT_OUT_OF_RANGE] = { "-3", "1e12" },
    };
    char xv[24];
    switch (f->kind) {
    case HR_FAULT_WRONG_COLUMNS: p = put_row(p, user, ulen, item, NULL, e->value, -1); break;
    case HR_FAULT_UNPARSABLE:
        if (f->variant == 0) {
            p = put_row(p, user, ulen, item, "abc", 0, start + e->t);
        } else {
            xv[0] = 'x';
            *put_u64(xv + 1, (uint64_t)e->value) = '\0';
            p = put_row(p, user, ulen, item, xv, 0, start + e->t);
        }
        break;
    case HR_FAULT_NONFINITE:
    case HR_FAULT_OUT_OF_RANGE: p = put_row(p, user, ulen, item, junk[f->kind][f->variant], 0, start + e->t); break;
    case HR_FAULT_MISSING_ID:
        p = f->variant == 0 ? put_row(p, NULL, 0, item, NULL, e->value, start + e->t)
                            : put_row(p, user, ulen, -1, NULL, e->value, start + e->t);
        break;
    case HR_FAULT_DUPLICATE: p = put_row(p, user, ulen, item, NULL, e->value, start + e->t); break;
    case HR_FAULT_CONFLICT: p = put_row(p, user, ulen, item, NULL, f->value, start + f->t); break;
    default: return;
    }
    day_commit(g, d, p, C_FAULT0 + (int)f->kind);
}

/* ---- files ---- */

static void day_path(const gen_opts *o, int64_t d, int rank, char *buf, size_t cap, int rel)
{
    int y;
    unsigned mo, dd;
    hr_civil_from_days(o->start_day + d, &y, &mo, &dd);
    if (rel) snprintf(buf, cap, "%04d-%02u-%02u/part-%05d.csv.zst", y, mo, dd, rank);
    else snprintf(buf, cap, "%s/%04d-%02u-%02u/part-%05d.csv.zst", o->out, y, mo, dd, rank);
}

static void planted_path(const gen_opts *o, int64_t tag, int rank, char *buf, size_t cap, int rel)
{
    const char *dir = rel ? "" : o->out, *sep = rel ? "" : "/";
    if (tag == TAG_ITEMS) snprintf(buf, cap, "%s%s_planted/items.tsv.zst", dir, sep);
    else snprintf(buf, cap, "%s%s_planted/users-%05d.tsv.zst", dir, sep, rank);
}

static void file_path(const gen_opts *o, const gen_file *f, int rank, char *buf, size_t cap, int rel)
{
    if (f->tag >= 0) day_path(o, f->tag, rank, buf, cap, rel);
    else planted_path(o, f->tag, rank, buf, cap, rel);
}

static int commit_file(gen_run *g, hr_output *out, int64_t tag, uint64_t rows)
{
    gen_file *f = &g->files[g->nfiles];
    f->tag = tag;
    f->rows = rows;
    HR_TRY(hr_output_commit(out, &f->checksum, &f->bytes, &g->job->err));
    g->nfiles++;
    return 0;
}

static int write_items(gen_run *g)
{
    const hr_synth_params *p = hr_synth_model_params(g->m);
    char path[4200];
    planted_path(g->o, TAG_ITEMS, 0, path, sizeof path, 0);
    hr_output *out;
    HR_TRY(hr_output_open(path, g->o->zstd_level, 1, &out, &g->job->err));
    char *buf = hr_malloc(DAY_BUF);
    size_t len = (size_t)snprintf(buf, DAY_BUF, "item\tcluster\tweight\n");
    int rc = 0;
    for (uint64_t i = 0; i < p->items && rc == 0; i++) {
        len += (size_t)snprintf(buf + len, DAY_BUF - len, "%" PRIu64 "\t%d\t%.9g\n", i + 1,
                                hr_synth_item_cluster(g->m, i), hr_synth_item_weight(g->m, i));
        if (len + MAX_LINE > DAY_BUF) rc = hr_output_write(out, buf, len, &g->job->err), len = 0;
    }
    if (rc == 0) rc = hr_output_write(out, buf, len, &g->job->err);
    hr_free(buf);
    if (rc < 0) {
        hr_output_abort(out);
        return rc;
    }
    return commit_file(g, out, TAG_ITEMS, p->items);
}

/* The planted model as an hpcrec model bundle (DIR/_planted/model.tar): user factors are the
 * affinities p_u, item factors w_i * e_c(i), so x_u . y_i = p_u[c(i)] w_i, which is
 * proportional to P(i | u).  `hpcrec evaluate` then measures the recall of the truth itself,
 * the ceiling a trained model is compared with.  Any rank can compute any row from the seed,
 * so every rank packs its share of the members (jobs/modelwrite.h) and no rank holds the
 * model. */
static void fill_ids(void *ctx, int side, uint64_t lo, uint64_t hi, int64_t *out)
{
    (void)ctx;
    (void)side;
    for (uint64_t g = lo; g < hi; g++) out[g - lo] = (int64_t)g + 1;
}

static void fill_users(void *ctx, uint64_t lo, uint64_t hi, float *out)
{
    const hr_synth_model *m = ctx;
    const int R = hr_synth_model_params(m)->factors;
    double aff[HR_SYNTH_MAX_FACTORS];
    for (uint64_t u = lo; u < hi; u++) {
        hr_synth_user_affinity(m, u, aff);
        for (int c = 0; c < R; c++) out[(u - lo) * (uint64_t)R + (uint64_t)c] = (float)aff[c];
    }
}

static void fill_items(void *ctx, uint64_t lo, uint64_t hi, float *out)
{
    const hr_synth_model *m = ctx;
    const int R = hr_synth_model_params(m)->factors;
    memset(out, 0, (size_t)(hi - lo) * (size_t)R * sizeof *out);
    for (uint64_t i = lo; i < hi; i++)
        out[(i - lo) * (uint64_t)R + (uint64_t)hr_synth_item_cluster(m, i)] = (float)hr_synth_item_weight(m, i);
}

static int write_planted_model(gen_run *g)
{
    const hr_synth_params *p = hr_synth_model_params(g->m);
    hr_model md;
    memset(&md, 0, sizeof md);
    md.kind = HR_MODEL_FACTOR;
    snprintf(md.algo, sizeof md.algo, "planted");
    md.k = p->factors;
    md.n_users = p->users;
    md.n_items = p->items;
    md.users.is_int = md.items.is_int = 1;
    md.users.n = p->users;
    md.items.n = p->items;
    md.partial = 1;   /* a header: the rows come from the fills */
    hr_model_src src;
    memset(&src, 0, sizeof src);
    src.ids_fill = fill_ids;
    src.user_factors = (hr_rows_src){ NULL, NULL, fill_users, (void *)g->m };
    src.item_factors = (hr_rows_src){ NULL, NULL, fill_items, (void *)g->m };
    char path[4200];
    snprintf(path, sizeof path, "%s/_planted/model.tar", g->o->out);
    json_t *info = json_pack("{s:s}", "note", "planted generator model of hpcrec gen (the truth, not a trained model)");
    int rc = hr_model_write(g->job, path, &md, &src, info, NULL);
    json_decref(info);
    return rc;
}

/* Affinity rows of this rank's normal users (written in the first window only). */
static int write_users(gen_run *g)
{
    const hr_synth_params *p = hr_synth_model_params(g->m);
    const int R = p->factors;
    char path[4200];
    planted_path(g->o, TAG_USERS, g->job->rank, path, sizeof path, 0);
    hr_output *out;
    HR_TRY(hr_output_open(path, g->o->zstd_level, 1, &out, &g->job->err));
    const size_t cap = DAY_BUF + (size_t)R * 16 + 64;
    char *buf = hr_malloc(cap), *q = buf;
    double *aff = hr_malloc((size_t)R * sizeof *aff);
    q += snprintf(q, 8, "user");
    for (int c = 0; c < R; c++) q += snprintf(q, 16, "\tp_%d", c);
    *q++ = '\n';
    int rc = 0;
    uint64_t rows = 0;
    for (uint64_t u = (uint64_t)g->job->rank; u < p->users && rc == 0; u += (uint64_t)g->job->size, rows++) {
        hr_synth_user_affinity(g->m, u, aff);
        q = put_u64(q, u + 1);
        for (int c = 0; c < R; c++) *q++ = '\t', q = put_fixed9(q, aff[c]);
        *q++ = '\n';
        if ((size_t)(q - buf) > DAY_BUF) rc = hr_output_write(out, buf, (size_t)(q - buf), &g->job->err), q = buf;
    }
    if (rc == 0) rc = hr_output_write(out, buf, (size_t)(q - buf), &g->job->err);
    hr_free(aff);
    hr_free(buf);
    if (rc < 0) {
        hr_output_abort(out);
        return rc;
    }
    return commit_file(g, out, TAG_USERS, rows);
}

static int open_days(gen_run *g)
{
    const char *header = hr_synth_model_params(g->m)->kind == HR_SYNTH_RATINGS ? "user,item,rating,timestamp\n"
                                                                                : "user,item,count,timestamp\n";
    for (int64_t d = g->d0; d < g->d1; d++) {
        day_out *x = &g->days[d - g->d0];
        char path[4200];
        day_path(g->o, d, g->job->rank, path, sizeof path, 0);
        char *slash = strrchr(path, '/');
        *slash = '\0';
        HR_TRY(hr_mkdirs(path, &g->job->err));
        *slash = '/';
        HR_TRY(hr_output_open(path, g->o->zstd_level, 1, &x->o, &g->job->err));
        x->len = strlen(header);
        memcpy(x->buf, header, x->len);
        x->rows = 0;
    }
    return 0;
}

static int close_days(gen_run *g)
{
    int rc = g->rc;
    for (int64_t d = g->d0; d < g->d1; d++) {
        day_out *x = &g->days[d - g->d0];
        if (!x->o) continue;
        if (rc == 0) rc = hr_output_write(x->o, x->buf, x->len, &g->job->err);
        if (rc == 0) rc = commit_file(g, x->o, d, x->rows);
        else hr_output_abort(x->o);
        x->o = NULL;
    }
    return rc;
}

/* ---- generation ---- */

static int gen_window(gen_run *g, hr_synth_scratch *s, hr_synth_event *ev, int64_t window, int64_t nwindows,
                      double t0)
{
    const hr_synth_model *m = g->m;
    const int64_t start = g->o->start_day * 86400;
    const int dirty = hr_synth_model_params(m)->dirty > 0;
    const uint64_t total = hr_synth_total_users(m), step = (uint64_t)g->job->size;
    uint64_t next_report = (g->count[C_ROWS] / PROGRESS_EVERY + 1) * PROGRESS_EVERY;
    g->rc = open_days(g);
    for (uint64_t u = (uint64_t)g->job->rank; u < total && g->rc == 0; u += step) {
        const uint32_t n = hr_synth_user_generate(m, u, s, ev);
        char user[24];
        const size_t ulen = (size_t)(put_u64(user, u + 1) - user);
        const int bot = hr_synth_is_bot(m, u);
        hr_rng fr = hr_synth_fault_stream(m, u);
        for (uint32_t j = 0; j < n; j++) {
            const hr_synth_event *e = &ev[j];
            const int64_t d = e->t / 86400;
            char *p = day_reserve(g, d);
            if (p) day_commit(g, d, put_row(p, user, ulen, (int64_t)e->item + 1, NULL, e->value, start + e->t),
                              bot ? C_BOT_EVENTS : C_CLEAN);
            if (dirty && !bot) {
                hr_synth_fault f;
                hr_synth_fault_draw(m, &fr, e, &f);
                if (f.kind != HR_FAULT_NONE) emit_fault(g, user, ulen, e, &f);
            }
        }
        if (g->count[C_ROWS] >= next_report) {
            next_report += PROGRESS_EVERY;
            const double dt = hr_now() - t0, done = ((double)window + (double)(u + 1) / (double)total) / (double)nwindows;
            hr_progress("gen: rank 0 of %d: %.1fM rows, %.0f%% of its users, %.2f M rows/s", g->job->size,
                        (double)g->count[C_ROWS] / 1e6, 100.0 * done, (double)g->count[C_ROWS] / dt / 1e6);
        }
    }
    return close_days(g);
}

static int generate(gen_run *g, double t0)
{
    const double per_day = STREAM_MIB[g->o->zstd_level] + 1.0 + (double)DAY_BUF / (1 << 20);
    int64_t per_window = (int64_t)(STREAM_BUDGET_MIB / per_day);
    if (per_window < 1) per_window = 1;
    if (per_window > g->o->days) per_window = g->o->days;
    const int64_t nwindows = (g->o->days + per_window - 1) / per_window;
    g->days = hr_calloc((size_t)per_window, sizeof *g->days);
    for (int64_t k = 0; k < per_window; k++) g->days[k].buf = hr_malloc(DAY_BUF);
    hr_synth_scratch *s = hr_synth_scratch_create(g->m);
    hr_synth_event *ev = hr_malloc((size_t)hr_synth_event_capacity(g->m) * sizeof *ev);
    int rc = 0;
    if (nwindows > 1)
        hr_progress("gen: %" PRId64 " days at zstd level %d: %" PRId64 " windows of %" PRId64 " days", g->o->days,
                    g->o->zstd_level, nwindows, per_window);
    for (int64_t w = 0; w < nwindows && rc == 0; w++) {
        g->d0 = w * per_window;
        g->d1 = g->d0 + per_window < g->o->days ? g->d0 + per_window : g->o->days;
        rc = gen_window(g, s, ev, w, nwindows, t0);
    }
    if (rc == 0) rc = write_users(g);
    if (rc == 0 && g->job->rank == 0) rc = write_items(g);
    hr_free(ev);
    hr_synth_scratch_free(s);
    for (int64_t k = 0; k < per_window; k++) hr_free(g->days[k].buf);
    hr_free(g->days);
    return rc;
}

/* ---- options ---- */

static int parse_date(const char *s, int64_t *day)
{
    static const int off[3] = { 0, 5, 8 }, width[3] = { 4, 2, 2 };
    int v[3] = { 0, 0, 0 };
    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-') return -1;
    for (int f = 0; f < 3; f++)
        for (int k = 0; k < width[f]; k++) {
            const char c = s[off[f] + k];
            if (c < '0' || c > '9') return -1;
            v[f] = v[f] * 10 + (c - '0');
        }
    if (v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > 31) return -1;
    const int64_t z = hr_days_from_civil(v[0], (unsigned)v[1], (unsigned)v[2]);
    int y;
    unsigned mo, d;
    hr_civil_from_days(z, &y, &mo, &d); /* a round trip rejects 2026-02-30 */
    if (y != v[0] || (int)mo != v[1] || (int)d != v[2]) return -1;
    *day = z;
    return 0;
}

static int parse_options(hr_job *job, int argc, char **argv, gen_opts *o, int *help)
{
    enum { O_OUT = 1, O_USERS, O_ITEMS, O_INTER, O_KIND, O_FACTORS, O_DAYS, O_START, O_DIRTY, O_BOTS, O_SEED,
           O_LEVEL, O_JSON, O_HELP };
    static const struct option opts[] = {
        { "out", required_argument, NULL, O_OUT },         { "users", required_argument, NULL, O_USERS },
        { "items", required_argument, NULL, O_ITEMS },     { "interactions", required_argument, NULL, O_INTER },
        { "kind", required_argument, NULL, O_KIND },       { "factors", required_argument, NULL, O_FACTORS },
        { "days", required_argument, NULL, O_DAYS },       { "start", required_argument, NULL, O_START },
        { "dirty", required_argument, NULL, O_DIRTY },     { "bots", required_argument, NULL, O_BOTS },
        { "seed", required_argument, NULL, O_SEED },       { "zstd-level", required_argument, NULL, O_LEVEL },
        { "json", required_argument, NULL, O_JSON },       { "help", no_argument, NULL, O_HELP },
        { NULL, 0, NULL, 0 },
    };
    memset(o, 0, sizeof *o);
    hr_synth_params_defaults(&o->sp);
    o->days = 30;
    o->zstd_level = 1;
    snprintf(o->start, sizeof o->start, "2026-11-01");
    parse_date(o->start, &o->start_day);
    int64_t v, bots = -1;
    optind = 1;
    opterr = 0; /* the message below names the bad option once, on rank 0 */
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case O_OUT: o->out = optarg; break;
        case O_USERS: HR_TRY(hr_opt_i64(job, "--users", optarg, 1, HR_SYNTH_MAX_IDS, &v)); o->sp.users = (uint64_t)v; break;
        case O_ITEMS: HR_TRY(hr_opt_i64(job, "--items", optarg, 1, HR_SYNTH_MAX_IDS, &v)); o->sp.items = (uint64_t)v; break;
        case O_INTER:
            HR_TRY(hr_opt_i64(job, "--interactions", optarg, 1, (int64_t)HR_SYNTH_MAX_IDS * HR_SYNTH_USER_CAP, &v));
            o->sp.interactions = (uint64_t)v;
            break;
        case O_KIND:
            if (!strcmp(optarg, "ratings")) o->sp.kind = HR_SYNTH_RATINGS;
            else if (!strcmp(optarg, "counts")) o->sp.kind = HR_SYNTH_COUNTS;
            else return hr_error_set(&job->err, HR_ERR_ARG, "--kind: '%s' is not ratings or counts", optarg);
            break;
        case O_FACTORS: HR_TRY(hr_opt_i64(job, "--factors", optarg, 1, HR_SYNTH_MAX_FACTORS, &v)); o->sp.factors = (int)v; break;
        case O_DAYS: HR_TRY(hr_opt_i64(job, "--days", optarg, 1, 3660, &o->days)); break;
        case O_START:
            if (parse_date(optarg, &o->start_day) < 0 || o->start_day < 0)
                return hr_error_set(&job->err, HR_ERR_ARG, "--start: '%s' is not a date YYYY-MM-DD from 1970 on", optarg);
            snprintf(o->start, sizeof o->start, "%s", optarg);
            break;
        case O_DIRTY: HR_TRY(hr_opt_f64(job, "--dirty", optarg, 0, 0.5, &o->sp.dirty)); break;
        case O_BOTS: HR_TRY(hr_opt_i64(job, "--bots", optarg, 0, 1000000, &bots)); break;
        case O_SEED: HR_TRY(hr_opt_i64(job, "--seed", optarg, 0, INT64_MAX, &v)); o->sp.seed = (uint64_t)v; break;
        case O_LEVEL: HR_TRY(hr_opt_i64(job, "--zstd-level", optarg, 1, 19, &v)); o->zstd_level = (int)v; break;
        case O_JSON: job->json_path = optarg; break;
        case O_HELP: *help = 1; return 0;
        default:
            return hr_error_set(&job->err, HR_ERR_ARG, "'%s': unknown option or missing value; usage:\n%s",
                                argv[optind - 1], USAGE);
        }
    }
    if (optind < argc)
        return hr_error_set(&job->err, HR_ERR_ARG, "unexpected argument '%s'; usage:\n%s", argv[optind], USAGE);
    if (!o->out) return hr_error_set(&job->err, HR_ERR_ARG, "--out DIR is required; usage:\n%s", USAGE);
    if (strlen(o->out) > 3800) return hr_error_set(&job->err, HR_ERR_ARG, "--out: path longer than 3800 bytes");
    if (!o->sp.users || !o->sp.items || !o->sp.interactions)
        return hr_error_set(&job->err, HR_ERR_ARG, "--users, --items and --interactions are required; usage:\n%s", USAGE);
    if ((o->start_day + o->days) * 86400 > TIME_LIMIT)
        return hr_error_set(&job->err, HR_ERR_ARG,
                            "--start %s with --days %" PRId64 " runs past 2100-01-01, beyond ingest's time range",
                            o->start, o->days);
    o->sp.span = o->days * 86400;
    o->sp.bots = bots >= 0 ? (uint64_t)bots : o->sp.dirty > 0 ? 2 : 0;
    return hr_synth_params_check(&o->sp, &job->err);
}

/* ---- manifest and summary ---- */

static int write_manifest(gen_run *g, const gen_file *all, const uint64_t *counts, const uint64_t *tot)
{
    const gen_opts *o = g->o;
    const hr_synth_params *p = hr_synth_model_params(g->m);
    char created[32];
    hr_manifest_now(created, sizeof created);
    json_t *m = json_pack("{s:s,s:i,s:s,s:s}", "format", GEN_FORMAT, "version", GEN_VERSION, "created", created,
                          "header", p->kind == HR_SYNTH_RATINGS ? "user,item,rating,timestamp" : "user,item,count,timestamp");
    json_t *params = json_object(), *cnt = json_object();
    json_object_set_new(params, "users", json_integer((json_int_t)p->users));
    json_object_set_new(params, "items", json_integer((json_int_t)p->items));
    json_object_set_new(params, "interactions", json_integer((json_int_t)p->interactions));
    json_object_set_new(params, "kind", json_string(p->kind == HR_SYNTH_RATINGS ? "ratings" : "counts"));
    json_object_set_new(params, "factors", json_integer(p->factors));
    json_object_set_new(params, "days", json_integer(o->days));
    json_object_set_new(params, "start", json_string(o->start));
    json_object_set_new(params, "start_unix", json_integer(o->start_day * 86400));
    json_object_set_new(params, "dirty", json_real(p->dirty));
    json_object_set_new(params, "bots", json_integer((json_int_t)p->bots));
    json_object_set_new(params, "seed", json_integer((json_int_t)p->seed));
    json_object_set_new(params, "zstd_level", json_integer(o->zstd_level));
    json_object_set_new(params, "ranks", json_integer(g->job->size));
    json_object_set_new(params, "user_cap", json_integer(hr_synth_user_cap(p->items)));
    json_object_set_new(params, "zipf_exponent", json_real(HR_SYNTH_ZIPF));
    json_object_set_new(params, "activity_shape", json_real(HR_SYNTH_ACTIVITY_SHAPE));
    json_object_set_new(params, "affinity_floor", json_real(HR_SYNTH_AFFINITY_FLOOR));
    json_object_set_new(params, "rating_noise_sd", json_real(HR_SYNTH_NOISE_SD));
    json_object_set_new(m, "params", params);
    json_object_set_new(cnt, "rows_written", json_integer((json_int_t)tot[C_ROWS]));
    json_object_set_new(cnt, "clean_events", json_integer((json_int_t)tot[C_CLEAN]));
    json_object_set_new(cnt, "bot_events", json_integer((json_int_t)tot[C_BOT_EVENTS]));
    for (int k = 1; k < HR_FAULT__COUNT; k++)
        json_object_set_new(cnt, FAULT_KEY[k], json_integer((json_int_t)tot[C_FAULT0 + k]));
    json_object_set_new(cnt, "max_user_events", json_integer(hr_synth_max_user_events(g->m)));
    json_object_set_new(m, "counts", cnt);
    uint64_t at = 0;
    for (int r = 0; r < g->job->size; r++)
        for (uint64_t k = 0; k < counts[r]; k++, at++) {
            char rel[256];
            file_path(o, &all[at], r, rel, sizeof rel, 1);
            hr_manifest_add_file(m, rel, all[at].bytes, all[at].checksum);
            json_object_set_new(json_object_get(json_object_get(m, "files"), rel), "rows",
                                json_integer((json_int_t)all[at].rows));
        }
    char path[4200];
    snprintf(path, sizeof path, "%s/gen.json", o->out);
    int rc = hr_manifest_write(path, m, &g->job->err);
    json_decref(m);
    return rc;
}

static int finish(gen_run *g, double t_gen)
{
    hr_job *job = g->job;
    void *recv = NULL;
    uint64_t *counts = hr_calloc((size_t)job->size, sizeof *counts), ntotal = 0;
    int rc = hr_comm_allgatherv(job->comm, g->files, g->nfiles, sizeof *g->files, &recv, counts, &ntotal);
    uint64_t tot[C_N];
    memcpy(tot, g->count, sizeof tot);
    if (rc == 0) rc = hr_comm_allreduce_sum_u64(job->comm, tot, C_N);
    const double seconds = hr_now() - t_gen;
    const gen_file *all = recv;
    uint64_t bytes = 0;
    for (uint64_t k = 0; rc == 0 && k < ntotal; k++) bytes += all[k].bytes;
    int mrc = 0;
    if (rc == 0 && job->rank == 0) mrc = write_manifest(g, all, counts, tot);
    if (rc == 0) rc = hr_comm_agree(job->comm, mrc, &job->err);
    if (rc == 0) {
        const hr_synth_params *p = hr_synth_model_params(g->m);
        hr_job_set_int(job, "rows_written", (int64_t)tot[C_ROWS]);
        hr_job_set_int(job, "clean_events", (int64_t)tot[C_CLEAN]);
        hr_job_set_int(job, "users", (int64_t)p->users);
        hr_job_set_int(job, "items", (int64_t)p->items);
        for (int k = 1; k < HR_FAULT__COUNT; k++) hr_job_set_int(job, FAULT_KEY[k], (int64_t)tot[C_FAULT0 + k]);
        hr_job_set_int(job, "bot_users", (int64_t)p->bots);
        hr_job_set_int(job, "bot_events", (int64_t)tot[C_BOT_EVENTS]);
        hr_job_set_int(job, "max_user_events", hr_synth_max_user_events(g->m));
        hr_job_set_int(job, "files", (int64_t)ntotal);
        hr_job_set_int(job, "bytes_written", (int64_t)bytes);
        hr_job_set_real(job, "rows_per_second", (double)tot[C_ROWS] / seconds);
        hr_job_set_real(job, "seconds_generate", seconds);
        hr_job_set_int(job, "days", g->o->days);
        hr_job_set_int(job, "factors", p->factors);
        hr_job_set_str(job, "kind", p->kind == HR_SYNTH_RATINGS ? "ratings" : "counts");
        hr_job_set_int(job, "seed", (int64_t)p->seed);
        hr_progress("gen: done: %.2fM rows (%.2fM clean, %.2fM faulty, %.2fM bot) in %" PRIu64
                    " files, %.1f MiB, %.2fs, %.2f M rows/s",
                    (double)tot[C_ROWS] / 1e6, (double)tot[C_CLEAN] / 1e6,
                    (double)(tot[C_ROWS] - tot[C_CLEAN] - tot[C_BOT_EVENTS]) / 1e6, (double)tot[C_BOT_EVENTS] / 1e6,
                    ntotal, (double)bytes / (1 << 20), seconds, (double)tot[C_ROWS] / seconds / 1e6);
    }
    hr_free(recv);
    hr_free(counts);
    return rc;
}

int hr_cmd_gen(hr_job *job, int argc, char **argv)
{
    gen_opts o;
    int help = 0;
    HR_TRY(parse_options(job, argc, argv, &o, &help));
    if (help) {
        if (job->rank == 0) fputs(USAGE, stdout);
        return 0;
    }
    hr_pathspec ps[] = { { "--out", o.out, HR_OUT_DIR }, { "--json", job->json_path, HR_OUT_FILE } };
    HR_TRY(hr_publish_check(job, ps, 2));
    static const char *const formats[] = { GEN_FORMAT, NULL };
    hr_publish pub;
    HR_TRY(hr_publish_begin(job, o.out, "gen.json", formats, &pub));
    o.out = pub.dir;   /* every file goes into the temporary directory */
    const double t0 = hr_now();
    hr_synth_model *m;
    int rc = hr_synth_model_create(&o.sp, &m, &job->err);
    if (rc < 0) return hr_publish_end(job, &pub, rc);
    hr_progress("gen: model: %" PRIu64 " users (+%" PRIu64 " bots), %" PRIu64 " items, %d clusters, "
                "max %u events/user, %.2fs",
                o.sp.users, o.sp.bots, o.sp.items, o.sp.factors, hr_synth_max_user_events(m), hr_now() - t0);
    gen_run g = { .o = &o, .job = job, .m = m };
    g.files = hr_calloc((size_t)o.days + 2, sizeof *g.files);
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/_planted", o.out);
    const double t_gen = hr_now();
    rc = hr_mkdirs(dir, &job->err);
    if (rc == 0) rc = generate(&g, t_gen);
    rc = hr_comm_agree(job->comm, rc, &job->err);
    if (rc == 0) rc = write_planted_model(&g);
    if (rc == 0) rc = finish(&g, t_gen);
    rc = hr_publish_end(job, &pub, rc);
    hr_free(g.files);
    hr_synth_model_free(m);
    return rc;
}
