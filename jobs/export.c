/* hpcrec export — a model or recommendations in formats other systems load without hpcrec
 * (layouts: docs/formats.md, "Exports").
 *
 *   export --model MODEL.tar --out DIR [--format npy|tsv] [--neighbors N]
 *     DIR/users.tsv, items.tsv       row -> external id ("row<TAB>id", a header line)
 *     DIR/users.npy, items.npy       factor models: float32 rows x k (--format tsv:
 *                                    user_factors.tsv, item_factors.tsv)
 *     DIR/user_bias.npy, item_bias.npy   where the model has them (tsv: *.tsv)
 *     DIR/item_scores.npy            popularity models: the one vector (tsv: item_scores.tsv)
 *     DIR/item_neighbors.tsv.zst     item-item models: (item, neighbor, weight) lines, the
 *                                    --neighbors N of largest |weight| per item (default 100
 *                                    for a dense B, every stored entry for a sparse one)
 *     DIR/user_neighbors.tsv.zst     user-user models (userknn): (user, neighbor, weight)
 *                                    lines, every stored neighbour (or the --neighbors N largest)
 *     DIR/model.json                 what the files are and how recommend scores with them
 *   Every file is written by all ranks together: the rows are cut into chunks of one bundle
 *   member each (io/modelread.h: one pread per chunk), chunk c goes to rank c mod P, each
 *   round every rank formats its chunk (io/tables.h), the ranks agree on where each chunk
 *   goes by an allgather of the lengths (a prefix sum), and mpi/pfile.h writes every chunk at
 *   its offset.  Memory per rank: one chunk of rows and its text, whatever the model's size;
 *   the bytes do not depend on the rank count.
 *
 *   export --recs DIR --out FILE.sqlite [--day DAY]
 *     the recommendations of `recommend` (DIR/part-*.tsv.zst, checksums from DIR/manifest.json)
 *     as an SQLite database (io/recsdb.h).  SQLite has one writer: rank 0 loads every part;
 *     the other ranks wait for the agreed outcome.
 *
 * Outputs are never half-written and never overlap the inputs (jobs/publish.h, io/outdir.h,
 * docs/outputs.md): DIR is built in a temporary directory beside it and published by one
 * rename once every rank has written its chunks; it replaces only an absent or empty directory
 * or an earlier export (its model.json says "hpcrec-export").  FILE.sqlite is written as
 * .NAME.tmp-PID beside FILE and renamed; an existing FILE is never replaced (exit 2: export
 * does not guess whether a database is still being served).  A failed run leaves the old
 * output as it was. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/hash.h"
#include "core/log.h"
#include "core/timer.h"
#include "io/manifest.h"
#include "io/modelread.h"
#include "io/output.h"
#include "io/recsdb.h"
#include "io/tables.h"
#include "jobs/commands.h"
#include "jobs/publish.h"
#include "mpi/pfile.h"
#include "solvers/itemitem.h"
#include "solvers/topk.h"

#define HR_EXPORT_FORMAT "hpcrec-export"
#define HR_EXPORT_VERSION 1
#define HR_RECS_SQLITE_FORMAT "hpcrec-recommendations-sqlite"

static const char usage[] =
    "hpcrec export --model MODEL.tar --out DIR [--format npy|tsv] [--neighbors N] [--json FILE]\n"
    "hpcrec export --recs DIR --out FILE.sqlite [--day DAY] [--json FILE]\n";

typedef struct export_opts {
    const char *model, *recs, *out, *day;
    int tsv;
    int64_t neighbors;   /* item-item models: entries per item (-1: not given) */
} export_opts;

static int parse_opts(hr_job *job, int argc, char **argv, export_opts *o, int *help)
{
    static const struct option opts[] = { { "model", required_argument, 0, 'm' }, { "recs", required_argument, 0, 'r' },
                                          { "out", required_argument, 0, 'o' },   { "format", required_argument, 0, 'f' },
                                          { "day", required_argument, 0, 'd' },   { "json", required_argument, 0, 'j' },
                                          { "neighbors", required_argument, 0, 'n' },
                                          { "help", no_argument, 0, 'h' },        { 0, 0, 0, 0 } };
    memset(o, 0, sizeof *o);
    o->neighbors = -1;
    *help = 0;
    const char *format = NULL;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'm': o->model = optarg; break;
        case 'r': o->recs = optarg; break;
        case 'o': o->out = optarg; break;
        case 'f': format = optarg; break;
        case 'd': o->day = optarg; break;
        case 'j': job->json_path = optarg; break;
        case 'n': HR_TRY(hr_opt_i64(job, "--neighbors", optarg, 0, UINT32_MAX, &o->neighbors)); break;
        case 'h': *help = 1; return 0;
        default: return hr_opt_usage(job, usage);
        }
    }
    if (optind < argc) return hr_error_set(&job->err, HR_ERR_ARG, "unexpected argument '%s'\n%s", argv[optind], usage);
    if (!o->model == !o->recs) return hr_error_set(&job->err, HR_ERR_ARG, "give exactly one of --model and --recs\n%s", usage);
    if (!o->out) return hr_error_set(&job->err, HR_ERR_ARG, "--out is required\n%s", usage);
    if (format && strcmp(format, "npy") && strcmp(format, "tsv"))
        return hr_error_set(&job->err, HR_ERR_ARG, "--format must be npy or tsv, not '%s'", format);
    if (format && o->recs) return hr_error_set(&job->err, HR_ERR_ARG, "--format applies to --model exports only");
    if (o->neighbors >= 0 && o->recs) return hr_error_set(&job->err, HR_ERR_ARG, "--neighbors applies to --model exports only");
    if (o->day && o->model) return hr_error_set(&job->err, HR_ERR_ARG, "--day applies to --recs exports only");
    o->tsv = format && !strcmp(format, "tsv");
    return 0;
}

/* ---------------------------------------------------------------- output staging */

/* Directory and base name of path (dir "." when there is no slash). */
static void split_path(const char *path, char *dir, size_t dcap, const char **base)
{
    const char *s = strrchr(path, '/');
    while (s && s > path && s[1] == '\0') s = NULL;   /* "a/" : treated as "a" below */
    if (!s) {
        snprintf(dir, dcap, ".");
        *base = path;
    } else {
        snprintf(dir, dcap, "%.*s", s == path ? 1 : (int)(s - path), path);
        *base = s + 1;
    }
}

/* ---------------------------------------------------------------- model export */

/* Neighbours per item of a dense item-item model when --neighbors is not given. */
#define DEFAULT_NEIGHBORS 100
/* table.side of the neighbour lists (0 / 1: id maps, -1: float arrays) */
#define NEIGHBORS 2

typedef struct table {
    const char *file;    /* in DIR */
    const char *array;   /* in the bundle */
    int side;            /* id maps: 0 users, 1 items; -1 for float arrays */
    uint64_t rows, cols, block, bytes;
} table;

/* The header bytes of a table (every rank computes them; rank 0 writes them). */
static int table_header(const table *t, int tsv, hr_tbuf *b, hr_error *err)
{
    b->len = 0;
    if (t->side >= 0) {
        hr_tsv_header(b, t->side ? "item" : "user", 1);
        return 0;
    }
    if (!tsv) return hr_npy_header(b, t->rows, strstr(t->array, "factors") ? t->cols : 0, err);
    hr_tsv_header(b, strstr(t->array, "factors") ? "f" : strstr(t->array, "bias") ? "bias" : "score", t->cols);
    return 0;
}

/* Collective, one round of a table: every rank's chunk b (status rc: agreed before the write,
 * so that a failed read stops every rank) goes at *base + the lengths of lower ranks' chunks
 * (a prefix sum of the gathered lengths); *base moves past the round. */
static int round_write(hr_job *job, hr_pfile *f, int rc, const hr_tbuf *b, uint64_t *lens, uint64_t *base)
{
    rc = hr_comm_agree(job->comm, rc, &job->err);
    if (rc == 0) rc = hr_comm_allgather_u64(job->comm, b->len, lens);
    if (rc < 0) return rc;
    uint64_t at = *base;
    for (int q = 0; q < job->rank; q++) at += lens[q];
    for (int q = 0; q < job->size; q++) *base += lens[q];
    rc = hr_pfile_write_all(f, at, b->p, b->len, &job->err);
    return hr_comm_agree(job->comm, rc, &job->err);
}

/* Collective: create path (status rc of the caller's preparation agreed first) and write the
 * header bytes at 0 from rank 0.  *f NULL afterwards when the file could not be created (the
 * agreed error returned); otherwise rank 0's write status, agreed by the first round. */
static int table_open(hr_job *job, const char *path, int rc, const hr_tbuf *head, hr_pfile **f)
{
    *f = NULL;
    rc = hr_comm_agree(job->comm, rc, &job->err);
    if (rc == 0) rc = hr_pfile_create(job->comm, path, f, &job->err);
    rc = hr_comm_agree(job->comm, rc, &job->err);
    if (rc < 0) {
        hr_pfile_abort(*f);
        *f = NULL;
        return rc;
    }
    return job->rank == 0 ? hr_pfile_write(*f, 0, head->p, head->len, &job->err) : 0;
}

/* Collective: the file's end at `size` once every rank succeeded, else removed. */
static int table_close(hr_job *job, hr_pfile *f, int rc, uint64_t size)
{
    rc = hr_comm_agree(job->comm, rc, &job->err);
    if (rc < 0) {
        hr_pfile_abort(f);
        return rc;
    }
    rc = hr_pfile_close(f, size, &job->err);
    return hr_comm_agree(job->comm, rc, &job->err);
}

/* Collective: one table written by every rank at agreed offsets. */
static int write_table(hr_job *job, hr_model_reader *r, const char *dir, table *t, int tsv)
{
    const int P = job->size, me = job->rank;
    char path[4400], what[4400];
    snprintf(path, sizeof path, "%s/%s", dir, t->file);
    snprintf(what, sizeof what, "%s (%s)", t->file, t->array);
    hr_tbuf b = { 0 };
    float *rows = NULL;
    uint64_t *lens = hr_malloc((size_t)P * sizeof *lens);
    hr_pfile *f = NULL;
    int rc = table_open(job, path, table_header(t, tsv, &b, &job->err), &b, &f);
    if (!f) goto done;
    uint64_t base = b.len;
    const uint64_t chunks = (t->rows + t->block - 1) / t->block, rounds = (chunks + (uint64_t)P - 1) / (uint64_t)P;
    if (t->side < 0) rows = hr_malloc((size_t)(t->block * t->cols) * sizeof *rows + 1);
    for (uint64_t round = 0; round < rounds; round++) {
        const uint64_t c = round * (uint64_t)P + (uint64_t)me;
        const uint64_t lo = c < chunks ? c * t->block : 0, hi = c < chunks ? (lo + t->block < t->rows ? lo + t->block : t->rows) : 0;
        b.len = 0;
        if (rc == 0 && hi > lo) {
            if (t->side >= 0) {
                hr_dict d;
                rc = hr_model_reader_ids(r, t->side, lo, hi, &d, &job->err);
                if (rc == 0) rc = hr_tsv_ids(&b, lo, &d, what, &job->err);
                hr_dict_free(&d);
            } else {
                rc = hr_model_reader_rows(r, t->array, lo, hi, rows, &job->err);
                if (rc == 0 && tsv) hr_tsv_rows(&b, lo, rows, hi - lo, t->cols);
                else if (rc == 0) hr_npy_rows(&b, rows, hi - lo, t->cols);
            }
        }
        rc = round_write(job, f, rc, &b, lens, &base);
        if (rc < 0) break;
    }
    rc = table_close(job, f, rc, base);
    t->bytes = base;
done:
    hr_tbuf_free(&b);
    hr_free(rows);
    hr_free(lens);
    return rc;
}

/* Lines of neighbour text per chunk: a chunk is `cpc` columns of one item-item block, so a
 * rank holds one block's bytes (what scoring holds too) and at most this many lines of text,
 * whatever --neighbors asks. */
#define NEIGHBOR_LINES_PER_CHUNK (1u << 18)

/* Collective: DIR/item_neighbors.tsv.zst of an item-item model, (item, neighbor, weight) per
 * line (user_neighbors.tsv.zst of a user-user model: (user, neighbor, weight), the same blocks
 * over users), one zstd frame per chunk (rank 0's header line first), chunk ch = columns of block
 * ch / per_block on rank ch mod P.  A frame depends on its columns only, so the file is the
 * same bytes on any rank count.  t->rows: the lines written. */
static int write_neighbors(hr_job *job, hr_model_reader *r, const char *dir, table *t, uint32_t N)
{
    const int P = job->size, me = job->rank;
    const hr_model *h = hr_model_reader_header(r);
    const int side = h->kind == HR_MODEL_USERUSER ? 0 : 1;   /* whose ids the lines hold */
    char path[4400], what[4400];
    snprintf(path, sizeof path, "%s/%s", dir, t->file);
    snprintf(what, sizeof what, "%s (%s.dict)", t->file, side ? "items" : "users");
    uint64_t n, cols, W;
    hr_model_reader_array(r, t->array, &n, &cols, &W);
    /* entries per column at most: every stored one (dense: n, sparse: top_m), or N if fewer */
    const uint64_t stored = h->ii_topm ? h->ii_topm : (n ? n : 1), cap = N && N < stored ? N : stored;
    uint64_t cpc = NEIGHBOR_LINES_PER_CHUNK / cap;
    cpc = cpc < 1 ? 1 : cpc > W ? W : cpc;
    const uint64_t blocks = (n + W - 1) / W, per_block = (W + cpc - 1) / cpc, chunks = blocks * per_block;
    const uint64_t rounds = (chunks + (uint64_t)P - 1) / (uint64_t)P;
    hr_tbuf text = { 0 }, z = { 0 };
    void *cctx = NULL, *bytes = NULL;
    uint64_t *lens = hr_malloc((size_t)P * sizeof *lens), lines = 0, have = UINT64_MAX, base = 0;
    hr_topk_entry *heap = hr_malloc((size_t)cap * sizeof *heap);
    uint32_t *row = hr_malloc((size_t)cap * sizeof *row);
    float *val = hr_malloc((size_t)cap * sizeof *val);
    hr_iiblock blk;
    hr_dict items = { 0 };
    hr_pfile *f = NULL;
    /* every rank names neighbours anywhere in the catalogue: the whole dictionary of the side */
    int rc = hr_model_reader_ids(r, side, 0, n, &items, &job->err);
    if (rc == 0) {
        const char *header = side ? "item\tneighbor\tweight\n" : "user\tneighbor\tweight\n";
        rc = hr_tbuf_zstd(&z, &cctx, header, strlen(header), 1, &job->err);
    }
    rc = table_open(job, path, rc, &z, &f);
    if (!f) goto done;
    base = z.len;
    for (uint64_t round = 0; round < rounds; round++) {
        const uint64_t ch = round * (uint64_t)P + (uint64_t)me, c = ch / per_block;
        const uint64_t c0 = c * W + (ch % per_block) * cpc, bend = (c + 1) * W < n ? (c + 1) * W : n;
        const uint64_t c1 = c0 + cpc < bend ? c0 + cpc : bend;
        z.len = 0;
        if (rc == 0 && ch < chunks && c0 < c1) {
            if (have != c) {
                hr_free(bytes);
                have = UINT64_MAX;
                rc = hr_model_reader_iiblock(r, c, &bytes, &blk, &job->err);
                if (rc == 0) have = c;
            }
            for (uint64_t j = c0; j < c1 && rc == 0; j++) {
                text.len = 0;
                uint32_t got = hr_iiblock_neighbors(&blk, j, (uint32_t)cap, heap, row, val);
                rc = hr_tsv_neighbors(&text, &items, j, row, val, got, what, &job->err);
                lines += got;
                /* a column at a time into the frame: the text never exceeds one column */
                if (rc == 0) rc = hr_tbuf_zstd(&z, &cctx, text.p, text.len, j + 1 == c1, &job->err);
            }
        }
        rc = round_write(job, f, rc, &z, lens, &base);
        if (rc < 0) break;
    }
    rc = hr_comm_agree(job->comm, rc, &job->err);
    if (rc == 0) rc = hr_comm_allreduce_sum_u64(job->comm, &lines, 1);
    rc = table_close(job, f, rc, base);
    t->bytes = base;
    t->rows = lines;
    t->cols = 3;
done:
    hr_dict_free(&items);
    hr_free(bytes);
    hr_free(heap);
    hr_free(row);
    hr_free(val);
    hr_tbuf_free(&text);
    hr_tbuf_free(&z);
    hr_tbuf_zstd_free(cctx);
    hr_free(lens);
    return rc;
}

/* The tables of this model, in the order they are written. */
static int model_tables(hr_model_reader *r, int tsv, table *t)
{
    static const struct { const char *array, *npy, *tsv; } arrays[] = {
        { "user_factors.f32", "users.npy", "user_factors.tsv" }, { "item_factors.f32", "items.npy", "item_factors.tsv" },
        { "user_bias.f32", "user_bias.npy", "user_bias.tsv" },   { "item_bias.f32", "item_bias.npy", "item_bias.tsv" },
        { "item_scores.f32", "item_scores.npy", "item_scores.tsv" },
    };
    int n = 0;
    for (int s = 0; s < 2; s++) {
        t[n] = (table){ s ? "items.tsv" : "users.tsv", s ? "items.dict" : "users.dict", s, 0, 1, 0, 0 };
        hr_model_reader_array(r, t[n].array, &t[n].rows, &t[n].cols, &t[n].block);
        n++;
    }
    for (size_t x = 0; x < sizeof arrays / sizeof *arrays; x++) {
        t[n] = (table){ tsv ? arrays[x].tsv : arrays[x].npy, arrays[x].array, -1, 0, 0, 0, 0 };
        if (hr_model_reader_array(r, arrays[x].array, &t[n].rows, &t[n].cols, &t[n].block)) n++;
    }
    return n;
}

/* Rank 0: DIR/model.json, the last file of the export. */
static int write_model_json(hr_job *job, const export_opts *o, hr_model_reader *r, const char *dir, const table *t, int n,
                            uint32_t neighbors)
{
    const hr_model *h = hr_model_reader_header(r);
    char now[32], path[4400];
    hr_manifest_time(hr_manifest_epoch(), now, sizeof now);   /* SOURCE_DATE_EPOCH: reproducible */
    json_t *m = json_pack("{s:s,s:i,s:s,s:s,s:s,s:s,s:i,s:I,s:I,s:f,s:s}", "format", HR_EXPORT_FORMAT, "version", HR_EXPORT_VERSION,
                          "software", "hpcrec " HR_VERSION, "created", now, "kind", h->kind == HR_MODEL_FACTOR ? "factor" : h->kind == HR_MODEL_POP ? "pop" : h->kind == HR_MODEL_USERUSER ? "useruser" : "itemitem",
                          "algo", h->algo, "k", h->k, "users", (json_int_t)h->n_users, "items", (json_int_t)h->n_items,
                          "global_mean", (double)h->global_mean, "format_of_arrays", o->tsv ? "tsv" : "npy");
    json_t *src = json_pack("{s:s,s:O,s:O}", "path", o->model, "version", json_object_get(h->manifest, "version"), "created",
                            json_object_get(h->manifest, "created"));
    json_object_set_new(m, "model", src);
    json_object_set_new(m, "user_ids", json_string(hr_model_reader_ids_int(r, 0) ? "integer" : "string"));
    json_object_set_new(m, "item_ids", json_string(hr_model_reader_ids_int(r, 1) ? "integer" : "string"));
    json_object_set_new(m, "score",
                        json_string(h->kind == HR_MODEL_FACTOR
                                        ? "recommend ranks item i for user u by users[u] . items[i] + item_bias[i] (item_bias: 0 "
                                          "when absent); a predicted rating adds global_mean + user_bias[u]"
                                        : h->kind == HR_MODEL_POP
                                        ? "recommend ranks every user's items by item_scores[i]"
                                        : h->kind == HR_MODEL_USERUSER
                                        ? "recommend ranks item j for user u by the sum over u's neighbours v of s_uv * x_vj (x_vj "
                                          "from the interactions given to recommend --data: 1 for implicit models, the value for "
                                          "explicit ones); user_neighbors.tsv.zst lists s_uv as (user u, neighbor v, weight), the "
                                          "largest |weight| of each user first"
                                        : "recommend ranks item j for user u by the sum over the user's items i of x_ui * B_ij "
                                          "(x_ui: 1, or the rating for row_weight value); item_neighbors.tsv.zst lists B_ij as "
                                          "(item j, neighbor i, weight), the largest |weight| of each item first"));
    if (hr_model_blocked(h->kind)) {
        json_object_set_new(m, "neighbors", json_integer(neighbors));   /* 0: every stored entry */
        json_t *rw = json_object_get(h->manifest, "row_weight");
        if (rw) json_object_set(m, "row_weight", rw);
        json_object_set_new(m, "top_m", json_integer(h->ii_topm));
    }
    json_t *files = json_object();
    for (int x = 0; x < n; x++) {
        json_t *e = json_pack("{s:s,s:I,s:I}", "array", t[x].array, "rows", (json_int_t)t[x].rows, "bytes", (json_int_t)t[x].bytes);
        if (t[x].side < 0) {
            json_object_set_new(e, "cols", json_integer((json_int_t)t[x].cols));
            json_object_set_new(e, "dtype", json_string("float32"));
        }
        if (t[x].side == NEIGHBORS) {   /* rows: lines after the header */
            json_object_set_new(e, "columns", json_pack("[s,s,s]", h->kind == HR_MODEL_USERUSER ? "user" : "item", "neighbor", "weight"));
            json_object_set_new(e, "compression", json_string("zstd"));
        }
        json_object_set_new(files, t[x].file, e);
    }
    json_object_set_new(m, "files", files);
    snprintf(path, sizeof path, "%s/model.json", dir);
    int rc = hr_manifest_write(path, m, &job->err);
    json_decref(m);
    return rc;
}

static int export_model(hr_job *job, const export_opts *o)
{
    const double t0 = hr_now();
    hr_model_reader *r = NULL;
    table t[8];
    int n = 0;
    static const char *const formats[] = { HR_EXPORT_FORMAT, NULL };
    const hr_pathspec ps[] = { { "--model", o->model, HR_IN }, { "--out", o->out, HR_OUT_DIR },
                               { "--json", job->json_path, HR_OUT_FILE } };
    HR_TRY(hr_publish_check(job, ps, 3));
    int rc = hr_model_reader_open(o->model, &r, &job->err);
    const int ii = rc == 0 && hr_model_blocked(hr_model_reader_header(r)->kind);   /* neighbour lists */
    const int uu = ii && hr_model_reader_header(r)->kind == HR_MODEL_USERUSER;
    if (rc == 0 && !ii && o->neighbors >= 0)
        rc = hr_error_set(&job->err, HR_ERR_ARG, "--neighbors applies to item-item and user-user models; %s is a %s model", o->model,
                          hr_model_reader_header(r)->algo);
    /* neighbours per item: --neighbors, else every stored entry of a sparse model (its top_m)
     * and the DEFAULT_NEIGHBORS largest of a dense one (a dense row is the whole catalogue) */
    const uint32_t N = !ii ? 0 : o->neighbors >= 0 ? (uint32_t)o->neighbors : hr_model_reader_header(r)->ii_topm ? 0 : DEFAULT_NEIGHBORS;
    rc = hr_comm_agree(job->comm, rc, &job->err);
    if (rc < 0) goto done;
    hr_publish pub;
    HR_CHECK(hr_publish_begin(job, o->out, "model.json", formats, &pub));
    n = model_tables(r, o->tsv, t);
    if (ii) t[n++] = uu ? (table){ "user_neighbors.tsv.zst", "user_user", NEIGHBORS, 0, 3, 0, 0 }
                    : (table){ "item_neighbors.tsv.zst", "item_item", NEIGHBORS, 0, 3, 0, 0 };
    uint64_t total = 0;
    for (int x = 0; x < n && rc == 0; x++) {
        const double t1 = hr_now();
        rc = t[x].side == NEIGHBORS ? write_neighbors(job, r, pub.dir, &t[x], N) : write_table(job, r, pub.dir, &t[x], o->tsv);
        total += t[x].bytes;
        if (rc == 0)
            hr_progress("export     %-16s %llu rows x %llu from %s: %.1f MB in %.2fs", t[x].file, (unsigned long long)t[x].rows,
                        (unsigned long long)t[x].cols, t[x].array, t[x].bytes / 1e6, hr_now() - t1);
    }
    if (rc == 0 && job->rank == 0) rc = write_model_json(job, o, r, pub.dir, t, n, N);
    rc = hr_publish_end(job, &pub, rc);
    if (rc == 0) {
        const hr_model *h = hr_model_reader_header(r);
        hr_job_set_str(job, "out", o->out);
        hr_job_set_str(job, "format", o->tsv ? "tsv" : "npy");
        hr_job_set_int(job, "files", n + 1);
        hr_job_set_int(job, "bytes", (int64_t)total);
        hr_job_set_int(job, "users", (int64_t)h->n_users);
        hr_job_set_int(job, "items", (int64_t)h->n_items);
        if (ii) {
            hr_job_set_int(job, "neighbors", N);
            hr_job_set_int(job, "neighbor_lines", (int64_t)t[n - 1].rows);
        }
        hr_progress("export     %s -> %s: %d files, %.1f MB (%s) in %.2fs on %d ranks", o->model, o->out, n + 1, total / 1e6,
                    o->tsv ? "tsv" : "npy", hr_now() - t0, job->size);
    }
fail:
done:
    hr_model_reader_close(r);
    return rc;
}

/* ---------------------------------------------------------------- recommendations -> SQLite */

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Rank 0: the whole SQLite export. */
static int recs_to_sqlite(hr_job *job, const export_opts *o, uint64_t *rows_out, uint64_t *parts_out)
{
    hr_error *err = &job->err;
    json_t *man = NULL;
    hr_recsdb *db = NULL;
    char tmp[4400], mpath[4200], dir[4096];
    const char **names = NULL;
    const char *base;
    hr_recsdb_part *parts = NULL;
    uint64_t *got = NULL;
    size_t nf = 0;
    int rc = 0;
    struct stat st;
    if (lstat(o->out, &st) == 0)
        return hr_error_set(err, HR_ERR_ARG, "--out %s already exists; export never overwrites a database (remove it first, "
                                             "or choose a new name)", o->out);
    snprintf(mpath, sizeof mpath, "%s/manifest.json", o->recs);
    HR_TRY(hr_manifest_read(mpath, "hpcrec-recommendations", 1, &man, err));
    uint64_t mh, mb;
    HR_CHECK(hr_checksum_file(mpath, &mh, &mb, err));
    /* Column types: the id kinds recommend records; TEXT for folders that predate them. */
    const char *uk = json_string_value(json_object_get(man, "user_ids")), *ik = json_string_value(json_object_get(man, "item_ids"));
    const int user_int = uk && !strcmp(uk, "integer"), item_int = ik && !strcmp(ik, "integer");
    split_path(o->out, dir, sizeof dir, &base);
    /* temporaries of killed runs into the same FILE go first (a run's own name has its pid) */
    snprintf(tmp, sizeof tmp, "%s/.%s.tmp-*", dir, base);
    glob_t g;
    if (glob(tmp, GLOB_NOSORT, NULL, &g) == 0)
        for (size_t x = 0; x < g.gl_pathc; x++) unlink(g.gl_pathv[x]);
    globfree(&g);
    snprintf(tmp, sizeof tmp, "%s/.%s.tmp-%ld", dir, base, (long)getpid());
    HR_CHECK(hr_recsdb_create(tmp, user_int, item_int, &db, err));
    json_t *files = json_object_get(man, "files");
    size_t x = 0;
    nf = json_object_size(files);
    names = hr_malloc((nf + 1) * sizeof *names);
    const char *key;
    json_t *v;
    json_object_foreach(files, key, v) names[x++] = key;
    qsort(names, nf, sizeof *names, cmp_str);
    uint64_t rows = 0;
    /* every part at once: the next part is read while this one's rows are inserted */
    parts = hr_calloc(nf + 1, sizeof *parts);
    got = hr_calloc(nf + 1, sizeof *got);
    for (x = 0; x < nf; x++) {
        char ppath[8400];
        snprintf(ppath, sizeof ppath, "%s/%s", o->recs, names[x]);
        parts[x].path = hr_strdup(ppath);
        HR_CHECK(hr_manifest_file(man, mpath, names[x], &parts[x].xxh3, &parts[x].bytes, err));
    }
    HR_CHECK(hr_recsdb_load_parts(db, (int)nf, parts, got, err));
    for (x = 0; x < nf; x++) rows += got[x];
    json_t *lines = json_object_get(man, "lines");
    if (json_is_integer(lines) && (uint64_t)json_integer_value(lines) != rows)
        HR_CHECK(hr_error_set(err, HR_ERR_FORMAT, "%s: the parts hold %llu lines, the manifest says %lld", mpath,
                              (unsigned long long)rows, (long long)json_integer_value(lines)));
    char hex[17], num[32], now[32];
    hr_checksum_hex(mh, hex);
    hr_manifest_now(now, sizeof now);
    const char *model = json_string_value(json_object_get(man, "model")), *data = json_string_value(json_object_get(man, "dataset"));
    const char *day = o->day ? o->day : json_string_value(json_object_get(man, "day"));
    snprintf(num, sizeof num, "%llu", (unsigned long long)rows);
    HR_CHECK(hr_recsdb_meta(db, "format", HR_RECS_SQLITE_FORMAT, err));
    HR_CHECK(hr_recsdb_meta(db, "version", "1", err));
    HR_CHECK(hr_recsdb_meta(db, "software", "hpcrec " HR_VERSION, err));
    HR_CHECK(hr_recsdb_meta(db, "created", now, err));
    HR_CHECK(hr_recsdb_meta(db, "recommendations", o->recs, err));
    HR_CHECK(hr_recsdb_meta(db, "manifest_xxh3", hex, err));
    HR_CHECK(hr_recsdb_meta(db, "model", model ? model : "", err));
    HR_CHECK(hr_recsdb_meta(db, "dataset", data ? data : "", err));
    HR_CHECK(hr_recsdb_meta(db, "day", day ? day : "", err));
    HR_CHECK(hr_recsdb_meta(db, "rows", num, err));
    hr_recsdb *d = db;
    db = NULL;
    HR_CHECK(hr_recsdb_finish(d, err));
    HR_CHECK(hr_file_install(tmp, o->out, err));
    *rows_out = rows;
    *parts_out = nf;
fail:
    hr_recsdb_abort(db);
    if (rc < 0) hr_file_discard(tmp);
    for (size_t y = 0; parts && y < nf; y++) hr_free((char *)parts[y].path);
    hr_free(parts);
    hr_free(got);
    hr_free(names);
    json_decref(man);
    return rc;
}

static int export_recs(hr_job *job, const export_opts *o)
{
    const double t0 = hr_now();
    uint64_t rows = 0, parts = 0;
    const hr_pathspec ps[] = { { "--recs", o->recs, HR_IN }, { "--out", o->out, HR_OUT_FILE },
                               { "--json", job->json_path, HR_OUT_FILE } };
    HR_TRY(hr_publish_check(job, ps, 3));
    int rc = job->rank == 0 ? recs_to_sqlite(job, o, &rows, &parts) : 0;
    rc = hr_comm_agree(job->comm, rc, &job->err);
    if (rc == 0) {
        double s = hr_now() - t0;
        hr_job_set_str(job, "out", o->out);
        hr_job_set_int(job, "rows", (int64_t)rows);
        hr_job_set_int(job, "parts", (int64_t)parts);
        hr_job_set_real(job, "rows_per_second", s > 0 ? rows / s : 0);
        hr_progress("export     %s -> %s: %llu rows from %llu parts in %.2fs (%.2fM rows/s)", o->recs, o->out,
                    (unsigned long long)rows, (unsigned long long)parts, s, s > 0 ? rows / s / 1e6 : 0);
    }
    return rc;
}

int hr_cmd_export(hr_job *job, int argc, char **argv)
{
    export_opts o;
    int help;
    HR_TRY(parse_opts(job, argc, argv, &o, &help));
    if (help) {
        if (job->rank == 0) fputs(usage, stdout);
        return 0;
    }
    return o.model ? export_model(job, &o) : export_recs(job, &o);
}
