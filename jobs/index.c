/* hpcrec index — build and query an ANN index over a model's item factors.
 *
 *   hpcrec index build --model MODEL.tar --out INDEX [...]           (jobs/index_build.c)
 *   hpcrec index query --index INDEX --model MODEL.tar (--users FILE | --items FILE | --vectors FILE)
 *                      --top K [--probe N] --out DIR
 *
 * query: the listed users (their factor rows), items (their rows; the item itself never comes
 * back) or vectors (lines "ID v1 .. vk", k the model's factors) are the queries; each rank takes
 * its share (users and vectors: every P-th line; items: those of its block of the catalogue),
 * the index's blocks go round the ranks (jobs/indexscore.h) and each rank writes the lists of
 * its queries as recommend does: DIR/part-RRRRR.tsv.zst (query, rank, item, score, source =
 * "index") + DIR/manifest.json (format "hpcrec-index-results").  An id the model does not know
 * or a vector of the wrong length is an error naming the file and line. */
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
#include "io/input.h"
#include "io/ivffile.h"
#include "io/lines.h"
#include "io/manifest.h"
#include "io/model.h"
#include "io/output.h"
#include "io/recwriter.h"
#include "jobs/commands.h"
#include "jobs/index.h"
#include "jobs/indexscore.h"
#include "jobs/publish.h"

#define RESULTS_FORMAT "hpcrec-index-results"
static const char *const RESULTS_FORMATS[] = { RESULTS_FORMAT, NULL };

static const char usage[] =
    "hpcrec index build --model MODEL.tar --out INDEX [--lists N] [--metric ip|cosine] [--probe N] [--parts N]\n"
    "                   [--iters N] [--train-per-list N] [--target-recall R] [--calibrate N] [--seed S] [--json FILE]\n"
    "hpcrec index query --index INDEX --model MODEL.tar (--users FILE | --items FILE | --vectors FILE) --top K\n"
    "                   [--probe N] --out DIR [--zstd-level Z] [--json FILE]\n";

/* ---- query ---- */

typedef enum { Q_USERS = 1, Q_ITEMS, Q_VECTORS } qkind;

typedef struct query_opts {
    const char *index, *model, *file, *out;
    qkind kind;
    int64_t top, probe, level;
} query_opts;

typedef struct queries {
    uint64_t n;
    char **ext;       /* the query's id as written in the file */
    uint64_t *gid;    /* users / items: model id */
    float *Q;         /* n x k */
} queries;

static void queries_free(queries *q)
{
    for (uint64_t x = 0; x < q->n; x++) hr_free(q->ext[x]);
    HR_FREE(&q->ext);
    HR_FREE(&q->gid);
    HR_FREE(&q->Q);
    q->n = 0;
}

/* Owner of item g: the rank whose block r*n/P .. (r+1)*n/P - 1 holds it. */
static int block_owner(uint64_t g, uint64_t n, int P)
{
    uint64_t r = g * (uint64_t)P / n;
    while (r + 1 < (uint64_t)P && (r + 1) * n / (uint64_t)P <= g) r++;
    while (r > 0 && r * n / (uint64_t)P > g) r--;
    return (int)r;
}

/* Lines of FILE (blank lines and trailing blanks skipped) handed to fn with their numbers. */
static int each_line(const char *file, int (*fn)(void *ctx, char *line, size_t len, uint64_t lineno, hr_error *err), void *ctx,
                     hr_error *err)
{
    hr_input *in;
    HR_TRY(hr_input_open(file, &in, err));
    const char *name;
    int rc = hr_input_next(in, &name, err);
    if (rc == 1) {
        hr_lines *l = hr_lines_new(in);
        char *line;
        size_t len;
        while ((rc = hr_lines_next(l, &line, &len, err)) == 1) {
            while (len && (line[len - 1] == ' ' || line[len - 1] == '\t' || line[len - 1] == '\r')) line[--len] = '\0';
            if (len && (rc = fn(ctx, line, len, hr_lines_lineno(l), err)) < 0) break;
        }
        hr_lines_free(l);
    }
    hr_input_close(in);
    return rc < 0 ? rc : 0;
}

typedef struct ids_ctx {
    const char *file, *what, *model;
    const hr_dict *d;
    uint64_t *gid, n, cap;
} ids_ctx;

static int add_id(void *c, char *line, size_t len, uint64_t lineno, hr_error *err)
{
    ids_ctx *x = c;
    char shown[1100];
    for (size_t k = 0; k < len; k++)   /* as ingest's bad_id: no id of a model holds one */
        if ((unsigned char)line[k] < 0x20 || line[k] == 0x7f)
            return hr_error_set(err, HR_ERR_FORMAT, "%s:%llu: the id holds control byte 0x%02x at byte %zu",
                                hr_escape_text(x->file, strlen(x->file), shown, sizeof shown), (unsigned long long)lineno,
                                (unsigned char)line[k], k + 1);
    int64_t g = hr_dict_find(x->d, line, len);   /* exact bytes */
    if (g < 0) {
        char id[600];
        return hr_error_set(err, HR_ERR_FORMAT, "%s:%llu: %s '%s' is not in the model %s", hr_escape_text(x->file, strlen(x->file), shown, sizeof shown),
                            (unsigned long long)lineno, x->what, hr_escape_text(line, len, id, sizeof id), x->model);
    }
    if (x->n == x->cap) x->gid = hr_realloc(x->gid, (x->cap = x->cap ? 2 * x->cap : 1024) * sizeof *x->gid);
    x->gid[x->n++] = (uint64_t)g;
    return 0;
}

int hr_index_read_ids(const char *file, const hr_dict *d, const char *what, const char *model, uint64_t **gids, uint64_t *n,
                      hr_error *err)
{
    ids_ctx x = { file, what, model, d, NULL, 0, 0 };
    int rc = each_line(file, add_id, &x, err);
    if (rc < 0) HR_FREE(&x.gid);
    *gids = x.gid;
    *n = rc < 0 ? 0 : x.n;
    return rc;
}

typedef struct vec_ctx {
    const char *file;
    int k, P, rank;
    uint64_t x;        /* vector lines seen */
    queries *q;
    uint64_t cap;
} vec_ctx;

/* "ID v1 .. vk" (spaces, tabs or commas); every P-th line is this rank's. */
static int add_vector(void *c, char *line, size_t len, uint64_t lineno, hr_error *err)
{
    vec_ctx *v = c;
    (void)len;
    if (v->x++ % (uint64_t)v->P != (uint64_t)v->rank) return 0;
    queries *q = v->q;
    if (q->n == v->cap) {
        v->cap = v->cap ? 2 * v->cap : 1024;
        q->ext = hr_realloc(q->ext, v->cap * sizeof *q->ext);
        q->Q = hr_realloc(q->Q, v->cap * (uint64_t)v->k * sizeof *q->Q);
    }
    float *row = q->Q + q->n * (uint64_t)v->k;
    char *save, *id = strtok_r(line, " \t,", &save), *tok;
    int got = 0;
    while ((tok = strtok_r(NULL, " \t,", &save))) {
        char *end;
        errno = 0;
        float f = strtof(tok, &end);
        if (*end || errno || !isfinite(f))
            return hr_error_set(err, HR_ERR_FORMAT, "%s:%llu: '%s' is not a finite number", v->file, (unsigned long long)lineno, tok);
        if (got < v->k) row[got] = f;
        got++;
    }
    if (got != v->k)
        return hr_error_set(err, HR_ERR_FORMAT, "%s:%llu: a query of dimension %d; the index and its model have dimension %d", v->file,
                            (unsigned long long)lineno, got, v->k);
    q->ext[q->n++] = hr_strdup(id);
    return 0;
}

/* This rank's queries: users (every P-th listed), items (those of its block) or vectors. */
static int read_queries(hr_job *job, const query_opts *o, const hr_model *m, queries *q)
{
    if (o->kind == Q_VECTORS) {
        vec_ctx v = { o->file, m->k, job->size, job->rank, 0, q, 0 };
        return each_line(o->file, add_vector, &v, &job->err);
    }
    uint64_t *g, n;
    const hr_dict *d = o->kind == Q_USERS ? &m->users : &m->items;
    HR_TRY(hr_index_read_ids(o->file, d, o->kind == Q_USERS ? "user" : "item", o->model, &g, &n, &job->err));
    q->ext = hr_malloc((n + 1) * sizeof *q->ext);
    q->gid = hr_malloc((n + 1) * sizeof *q->gid);
    char key[HR_DICT_INT_CHARS];
    for (uint64_t x = 0; x < n; x++) {
        int mine = o->kind == Q_USERS ? x % (uint64_t)job->size == (uint64_t)job->rank : block_owner(g[x], m->n_items, job->size) == job->rank;
        if (!mine) continue;
        size_t kl;
        const char *id = hr_dict_key(d, g[x], key, &kl);   /* the exact id, any length (ids hold no NUL) */
        q->ext[q->n] = hr_malloc(kl + 1);
        memcpy(q->ext[q->n], id, kl);
        q->ext[q->n][kl] = '\0';
        q->gid[q->n++] = g[x];
    }
    hr_free(g);
    return 0;
}

static int parse_query(hr_job *job, int argc, char **argv, query_opts *o, int *help)
{
    static const struct option opts[] = {
        { "index", required_argument, 0, 'x' }, { "model", required_argument, 0, 'm' }, { "users", required_argument, 0, 'u' },
        { "items", required_argument, 0, 'i' }, { "vectors", required_argument, 0, 'v' }, { "top", required_argument, 0, 'n' },
        { "probe", required_argument, 0, 'p' }, { "out", required_argument, 0, 'o' }, { "zstd-level", required_argument, 0, 'z' },
        { "json", required_argument, 0, 'j' }, { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 } };
    memset(o, 0, sizeof *o);
    o->top = 10;
    o->level = 1;
    *help = 0;
    int c, nsrc = 0;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'x': o->index = optarg; break;
        case 'm': o->model = optarg; break;
        case 'u': o->file = optarg; o->kind = Q_USERS; nsrc++; break;
        case 'i': o->file = optarg; o->kind = Q_ITEMS; nsrc++; break;
        case 'v': o->file = optarg; o->kind = Q_VECTORS; nsrc++; break;
        case 'n': HR_TRY(hr_opt_i64(job, "--top", optarg, 1, 100000, &o->top)); break;
        case 'p': HR_TRY(hr_opt_i64(job, "--probe", optarg, 1, UINT32_MAX, &o->probe)); break;
        case 'o': o->out = optarg; break;
        case 'z': HR_TRY(hr_opt_i64(job, "--zstd-level", optarg, -7, 19, &o->level)); break;
        case 'j': job->json_path = optarg; break;
        case 'h': *help = 1; if (job->rank == 0) fputs(usage, stdout); return 0;
        default: return hr_opt_usage(job, usage);
        }
    }
    if (optind < argc) return hr_error_set(&job->err, HR_ERR_ARG, "unexpected argument '%s'\n%s", argv[optind], usage);
    if (!o->index || !o->model || !o->out || nsrc != 1)
        return hr_error_set(&job->err, HR_ERR_ARG, "--index, --model, --out and one of --users, --items, --vectors are required\n%s", usage);
    return 0;
}

/* This rank's lists, in its query order, then the manifest (rank 0). */
static int write_results(hr_job *job, const query_opts *o, const hr_model *m, const queries *q, hr_topbuf *heaps, const char *dir,
                         uint64_t tot[2])
{
    static const char *heads[] = { "", "user\trank\titem\tscore\tsource", "item\trank\tsimilar\tscore\tsource",
                                   "query\trank\titem\tscore\tsource" };
    char path[4096], key[HR_DICT_INT_CHARS];
    snprintf(path, sizeof path, "%s/part-%05d.tsv.zst", dir, job->rank);
    hr_recwriter *wr;
    int rc = hr_recwriter_open(path, heads[o->kind], (int)o->level, &wr, &job->err);
    uint32_t *idx = hr_malloc(((size_t)o->top + 1) * sizeof *idx);
    float *sc = hr_malloc(((size_t)o->top + 1) * sizeof *sc);
    for (uint64_t x = 0; rc == 0 && x < q->n; x++) {
        uint32_t got = hr_topbuf_sorted(&heaps[x], idx, sc);
        size_t el = strlen(q->ext[x]);
        for (uint32_t r = 0; rc == 0 && r < got; r++) {
            size_t kl;
            const char *item = hr_dict_key(&m->items, idx[r], key, &kl);   /* the exact id, any length */
            rc = hr_recwriter_line(wr, q->ext[x], el, r + 1, item, kl, sc[r], "index", &job->err);
        }
    }
    hr_free(idx);
    hr_free(sc);
    uint64_t info[3] = { 0 };
    if (rc == 0) rc = hr_recwriter_close(wr, &info[0], &info[1], &info[2], &job->err);
    else if (wr) hr_recwriter_abort(wr);
    rc = hr_comm_agree(job->comm, rc, &job->err);
    if (rc < 0) return rc;
    uint64_t *all = hr_calloc((size_t)job->size * 3, sizeof *all);
    memcpy(all + 3 * job->rank, info, sizeof info);
    tot[0] = q->n;
    tot[1] = info[2];
    rc = hr_comm_allreduce_sum_u64(job->comm, all, (size_t)job->size * 3);
    if (rc == 0) rc = hr_comm_allreduce_sum_u64(job->comm, tot, 2);
    if (rc == 0 && job->rank == 0) {
        static const char *kinds[] = { "", "users", "items", "vectors" };
        json_t *mf = json_pack("{s:s,s:i,s:s,s:s,s:s,s:s,s:s,s:I,s:I,s:I}", "format", RESULTS_FORMAT, "version", 1, "software",
                               "hpcrec " HR_VERSION, "index", o->index, "model", o->model, "queries_from", kinds[o->kind], "file", o->file,
                               "top", (json_int_t)o->top, "queries", (json_int_t)tot[0], "lines", (json_int_t)tot[1]);
        for (int r = 0; r < job->size; r++) {
            snprintf(path, sizeof path, "part-%05d.tsv.zst", r);
            hr_manifest_add_file(mf, path, all[3 * r + 1], all[3 * r]);
        }
        snprintf(path, sizeof path, "%s/manifest.json", dir);
        rc = hr_manifest_write(path, mf, &job->err);
        json_decref(mf);
    }
    hr_free(all);
    return hr_comm_agree(job->comm, rc, &job->err);
}

static int cmd_query(hr_job *job, int argc, char **argv)
{
    query_opts o;
    int help, rc;
    HR_TRY(parse_query(job, argc, argv, &o, &help));
    if (help) return 0;
    hr_pathspec ps[] = { { "--index", o.index, HR_IN }, { "--model", o.model, HR_IN }, { "--users/--items/--vectors", o.file, HR_IN },
                         { "--out", o.out, HR_OUT_DIR }, { "--json", job->json_path, HR_OUT_FILE } };
    HR_TRY(hr_publish_check(job, ps, 5));
    double t0 = hr_now();
    hr_model m;
    hr_index *ix = NULL;
    queries q;
    memset(&q, 0, sizeof q);
    hr_topbuf *heaps = NULL;
    hr_topkey *store = NULL;
    uint32_t **excl = NULL, *nexcl = NULL;
    hr_publish pub;
    memset(&pub, 0, sizeof pub);
    rc = hr_model_load_dicts(o.model, &m, &job->err);
    if (rc == 0 && m.kind != HR_MODEL_FACTOR) rc = hr_error_set(&job->err, HR_ERR_ARG, "%s: a %s model has no factors", o.model, m.algo);
    if (rc == 0) {
        uint64_t avail = m.n_items - (o.kind == Q_ITEMS ? 1 : 0);
        if ((uint64_t)o.top > avail)
            rc = hr_error_set(&job->err, HR_ERR_ARG, "--top %lld: the catalogue has only %llu items%s", (long long)o.top,
                              (unsigned long long)avail + (o.kind == Q_ITEMS), o.kind == Q_ITEMS ? " (the query item itself is left out)" : "");
    }
    rc = hr_comm_agree(job->comm, rc, &job->err);
    if (rc == 0) rc = hr_publish_begin(job, o.out, "manifest.json", RESULTS_FORMATS, &pub);   /* a bad --out fails before the work */
    if (rc == 0) rc = hr_index_open(job, o.index, &m, o.model, 0, "index query", (uint32_t)o.probe, &ix);
    if (rc == 0) {
        rc = read_queries(job, &o, &m, &q);
        rc = hr_comm_agree(job->comm, rc, &job->err);
    }
    const int P = job->size, k = m.k;
    const uint64_t n = m.n_items, lo = (uint64_t)job->rank * n / (uint64_t)P, hi = (uint64_t)(job->rank + 1) * n / (uint64_t)P;
    if (rc == 0) {
        hr_model_part part = { o.kind == Q_USERS ? q.gid : NULL, o.kind == Q_USERS ? q.n : 0, lo, hi, NULL, 0 };
        rc = hr_model_load_part(o.model, &m, &part, &job->err);
        rc = hr_comm_agree(job->comm, rc, &job->err);
    }
    if (rc < 0) goto done;
    const hr_index_meta mt = *hr_index_info(ix);
    /* query rows in the metric's form */
    if (o.kind != Q_VECTORS) {
        q.Q = hr_malloc((q.n * (uint64_t)k + 1) * sizeof *q.Q);
        for (uint64_t x = 0; x < q.n; x++) {
            const float *src = o.kind == Q_USERS ? m.user_factors + (uint64_t)hr_model_user_row(&m, q.gid[x]) * (uint64_t)k
                                                 : m.item_factors + (q.gid[x] - lo) * (uint64_t)k;
            hr_mips_scan_row(mt.metric, src, k, q.Q + x * (uint64_t)k);
        }
    } else {
        for (uint64_t x = 0; x < q.n; x++) hr_mips_scan_row(mt.metric, q.Q + x * (uint64_t)k, k, q.Q + x * (uint64_t)k);
    }
    heaps = hr_malloc((q.n + 1) * sizeof *heaps);
    store = hr_malloc((q.n * (uint64_t)o.top + 1) * sizeof *store);
    for (uint64_t x = 0; x < q.n; x++) hr_topbuf_init(&heaps[x], store + x * (uint64_t)o.top, (uint32_t)o.top, (uint32_t)o.top);
    if (o.kind == Q_ITEMS) {   /* an item is not its own neighbour */
        excl = hr_malloc((q.n + 1) * sizeof *excl);
        nexcl = hr_malloc((q.n + 1) * sizeof *nexcl);
        for (uint64_t x = 0; x < q.n; x++) {
            excl[x] = hr_malloc(sizeof **excl);
            excl[x][0] = (uint32_t)q.gid[x];
            nexcl[x] = 1;
        }
    }
    double t_search = hr_now();
    hr_ring_query rq = { q.n, q.Q, excl, nexcl, heaps };
    hr_index_stats st;
    rc = hr_index_score(job, ix, m.item_factors, m.item_bias, NULL, n, k, &rq, &st);
    t_search = hr_now() - t_search;
    double t_out = hr_now();
    uint64_t tot[2] = { 0, 0 };
    if (rc == 0) rc = write_results(job, &o, &m, &q, heaps, pub.dir, tot);
    rc = hr_publish_end(job, &pub, rc);
    t_out = hr_now() - t_out;
    if (rc < 0) goto done;
    hr_index_report(job, ix, &st);
    hr_job_set_int(job, "queries", (int64_t)tot[0]);
    hr_job_set_int(job, "lines", (int64_t)tot[1]);
    hr_job_set_int(job, "top", o.top);
    /* the search proper (probe, scan, ring: what a peer's knn_query call does) and with the
     * reading and packing of this rank's lists, which a job pays once */
    double t_find = st.seconds_probe + st.seconds_scan + st.seconds_comm;
    hr_job_set_real(job, "seconds_search", t_search);
    hr_job_set_real(job, "queries_per_second", t_find > 0 ? (double)tot[0] / t_find : 0);
    hr_job_set_real(job, "queries_per_second_with_load", t_search > 0 ? (double)tot[0] / t_search : 0);
    hr_job_set_real(job, "seconds_output", t_out);
    hr_progress("index      %llu queries, top %lld, %.1f of %u lists probed per query: %.0f queries/s (probe %.3fs, scan %.3fs at %.1f GFLOP/s, ring %.3fs; "
                "lists loaded in %.3fs), %llu widened, %llu exhaustive; %llu lines in %s; total %.2fs",
                (unsigned long long)tot[0], (long long)o.top, st.queries ? (double)st.probes / (double)st.queries : 0, mt.nlist, t_find > 0 ? (double)tot[0] / t_find : 0,
                st.seconds_probe, st.seconds_scan,
                st.seconds_scan > 0 ? 2.0 * (double)st.scores * k / st.seconds_scan / 1e9 : 0, st.seconds_comm, st.seconds_load,
                (unsigned long long)st.queries_widened, (unsigned long long)st.queries_exhaustive, (unsigned long long)tot[1], o.out,
                hr_now() - t0);
done:
    rc = hr_publish_end(job, &pub, rc);   /* a failed run: the temporary directory goes */
    if (excl)
        for (uint64_t x = 0; x < q.n; x++) hr_free(excl[x]);
    hr_free(excl);
    hr_free(nexcl);
    hr_free(heaps);
    hr_free(store);
    queries_free(&q);
    hr_index_close(ix);
    hr_model_free(&m);
    return rc;
}

/* ---- inspect INDEX ---- */

int hr_index_inspect(hr_job *job, const char *dir)
{
    hr_index_meta mt;
    int rc = hr_index_meta_read(dir, &mt, &job->err);
    HR_TRY(hr_comm_agree(job->comm, rc, &job->err));
    uint64_t *counts = hr_calloc((size_t)mt.nlist + 1, sizeof *counts), bad = 0, nfiles = (uint64_t)mt.nparts + 1;
    float *cent = NULL;
    uint64_t *sizes = NULL;
    hr_error e;
    if (job->rank == 0) {
        hr_error_clear(&e);
        if (hr_index_quantizer_read(dir, &mt, &cent, &sizes, &e) < 0) {
            hr_log_error("%s", e.msg);
            bad++;
        }
    }
    for (uint32_t p = (uint32_t)job->rank; p < mt.nparts; p += (uint32_t)job->size) {
        hr_error_clear(&e);
        if (hr_index_part_check(dir, &mt, p, counts, &e) < 0) {
            hr_log_error("%s", e.msg);
            bad++;
        }
    }
    uint64_t nb = bad;
    rc = hr_comm_allreduce_sum_u64(job->comm, &nb, 1);
    if (rc == 0) rc = hr_comm_allreduce_sum_u64(job->comm, counts, mt.nlist);
    if (rc == 0 && job->rank == 0) {
        json_t *j = mt.manifest, *md = json_object_get(j, "model"), *ls = json_object_get(j, "list_sizes"), *bd = json_object_get(j, "build");
        if (nb == 0 && sizes)
            for (uint32_t c = 0; c < mt.nlist; c++)
                if (counts[c] != sizes[c]) {
                    hr_log_error("%s: list %u holds %llu items in the parts, the quantizer says %llu", dir, c, (unsigned long long)counts[c],
                                 (unsigned long long)sizes[c]);
                    nb++;
                    break;
                }
        printf("index      %s (format %s v%lld, ivf, written by %s at %s)\n", dir, HR_INDEX_FORMAT,
               (long long)json_integer_value(json_object_get(j, "version")), json_string_value(json_object_get(j, "software")),
               json_string_value(json_object_get(j, "created")));
        printf("contents   %llu items x %d (%s%s), %u lists (sizes %lld..%lld, max/mean %.2f), %u parts, default probe %u\n",
               (unsigned long long)mt.n_items, mt.k, hr_metric_name(mt.metric), mt.has_bias ? ", item biases" : "", mt.nlist,
               (long long)json_integer_value(json_object_get(ls, "min")), (long long)json_integer_value(json_object_get(ls, "max")),
               json_number_value(json_object_get(ls, "max_over_mean")), mt.nparts, mt.probe);
        printf("model      %s (manifest %s, %s)\n", json_string_value(json_object_get(md, "path")), mt.model_xxh3,
               json_string_value(json_object_get(md, "algo")));
        if (bd)
            printf("build      %lld ranks, %.2fs, peak memory per rank %.0f MB\n", (long long)json_integer_value(json_object_get(bd, "ranks")),
                   json_number_value(json_object_get(bd, "seconds")), json_number_value(json_object_get(bd, "peak_rss_mb")));
        printf("checksums  %llu files, %llu bad\n", (unsigned long long)nfiles, (unsigned long long)nb);
        fflush(stdout);
    }
    if (rc == 0) rc = hr_comm_bcast(job->comm, &nb, sizeof nb, 0);
    hr_job_set_str(job, "kind", "index");
    hr_job_set_int(job, "items", (int64_t)mt.n_items);
    hr_job_set_int(job, "lists", mt.nlist);
    hr_job_set_int(job, "files_verified", (int64_t)nfiles);
    hr_job_set_int(job, "files_bad", (int64_t)nb);
    if (rc == 0 && nb)
        rc = hr_error_set(&job->err, HR_ERR_CHECKSUM, "%s: %llu file(s) failed verification (named above)", dir, (unsigned long long)nb);
    hr_free(counts);
    hr_free(cent);
    hr_free(sizes);
    hr_index_meta_free(&mt);
    return rc;
}

int hr_cmd_index(hr_job *job, int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "build")) return hr_index_build(job, argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "query")) return cmd_query(job, argc - 1, argv + 1);
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        if (job->rank == 0) fputs(usage, stdout);
        return 0;
    }
    return hr_error_set(&job->err, HR_ERR_ARG, "index: say 'build' or 'query'\n%s", usage);
}
