/* hpcrec index build — an IVF index over a model's item factors, built by all ranks together.
 *
 * Steps (each rank holds block r of the items, r*n/P .. (r+1)*n/P - 1, read from the model):
 *   1. index vectors for the metric, augmented by the MIPS reduction (solvers/mips.h);
 *   2. k-means on a sample of at most --train-per-list x lists items (chosen by (seed, item id)):
 *      seeds = the `lists` sampled items of lowest priority (seed, item id); each iteration
 *      every rank assigns its rows, sums them in fixed point, and the sums and counts are
 *      all-reduced (solvers/kmeans.h explains why the result is bit-identical on any P);
 *   3. every item assigned to its nearest centroid (its list);
 *   4. the quantizer (rank 0) and the parts (part p by rank p mod P, gathered from the ranks
 *      holding its items) are written into a temporary directory, the manifest last, and the
 *      directory renamed into place (jobs/index.c: index_out_begin / index_out_commit).
 * Progress: one line per k-means iteration; a final line with the build time, the peak memory
 * per rank and the list-size balance, which --json has too. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/timer.h"
#include "io/ivffile.h"
#include "io/manifest.h"
#include "io/model.h"
#include "jobs/index.h"
#include "solvers/kmeans.h"
#include "solvers/mips.h"

static const char usage[] =
    "hpcrec index build --model MODEL.tar --out INDEX [--lists N] [--metric ip|cosine] [--probe N] [--parts N]\n"
    "                   [--iters N] [--train-per-list N] [--seed S] [--json FILE]\n";

typedef struct build_opts {
    const char *model, *out;
    hr_metric metric;
    int64_t lists, parts, probe, iters, train_per_list, seed;
} build_opts;

static int parse(hr_job *job, int argc, char **argv, build_opts *o, int *help)
{
    static const struct option opts[] = {
        { "model", required_argument, 0, 'm' }, { "out", required_argument, 0, 'o' }, { "lists", required_argument, 0, 'l' },
        { "metric", required_argument, 0, 'M' }, { "probe", required_argument, 0, 'p' }, { "parts", required_argument, 0, 'P' },
        { "iters", required_argument, 0, 'i' }, { "train-per-list", required_argument, 0, 't' }, { "seed", required_argument, 0, 's' },
        { "json", required_argument, 0, 'j' }, { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 } };
    memset(o, 0, sizeof *o);
    o->metric = HR_METRIC_IP;
    o->iters = 10;
    o->train_per_list = 256;
    o->seed = 42;
    *help = 0;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'm': o->model = optarg; break;
        case 'o': o->out = optarg; break;
        case 'l': HR_TRY(hr_opt_i64(job, "--lists", optarg, 1, UINT32_MAX, &o->lists)); break;
        case 'M':
            if (hr_metric_parse(optarg, &o->metric) < 0)
                return hr_error_set(&job->err, HR_ERR_ARG, "--metric: '%s' is not ip or cosine", optarg);
            break;
        case 'p': HR_TRY(hr_opt_i64(job, "--probe", optarg, 1, UINT32_MAX, &o->probe)); break;
        case 'P': HR_TRY(hr_opt_i64(job, "--parts", optarg, 1, 100000, &o->parts)); break;
        case 'i': HR_TRY(hr_opt_i64(job, "--iters", optarg, 0, 1000, &o->iters)); break;
        case 't': HR_TRY(hr_opt_i64(job, "--train-per-list", optarg, 1, 1 << 20, &o->train_per_list)); break;
        case 's': HR_TRY(hr_opt_i64(job, "--seed", optarg, 0, INT64_MAX, &o->seed)); break;
        case 'j': job->json_path = optarg; break;
        case 'h': *help = 1; if (job->rank == 0) fputs(usage, stdout); return 0;
        default: return hr_opt_usage(job, usage);
        }
    }
    if (optind < argc) return hr_error_set(&job->err, HR_ERR_ARG, "unexpected argument '%s'\n%s", argv[optind], usage);
    if (!o->model || !o->out) return hr_error_set(&job->err, HR_ERR_ARG, "--model and --out are required\n%s", usage);
    return 0;
}

/* Defaults (measured; docs/operations.md "ANN index"): about 2 sqrt(n) lists rounded to a power
 * of two, each list probed by 1/32 of the queries' lists; parts of at most 2^18 items. */
static void defaults(build_opts *o, uint64_t n)
{
    if (!o->lists) {
        double want = 2.0 * sqrt((double)n);
        uint64_t l = 1;
        while ((double)(l * 2) <= want * 1.41421356) l *= 2;
        o->lists = (int64_t)(l < n ? l : n);
    }
    if (!o->probe) o->probe = o->lists / 32 > 0 ? o->lists / 32 : 1;
    if (!o->parts) o->parts = (int64_t)((n + (1u << 18) - 1) >> 18);
    if (o->parts > (int64_t)n) o->parts = (int64_t)n;
}

/* Everything the build holds on a rank. */
typedef struct build {
    uint64_t n, lo, hi, nloc;
    int k, dim, cols, has_bias;
    uint32_t nlist;
    float *A;          /* nloc x cols: augmented rows of this rank's items */
    float *T;          /* ntr x cols: the training rows (A itself when every item trains) */
    uint64_t ntr, t0;  /* training rows here; global position of the first */
    uint64_t *tid;     /* ntr: item id of each training row (NULL: T is A, ids lo..hi-1) */
    float *C;          /* nlist x cols */
    uint32_t *list;    /* nloc: the final lists */
    uint64_t *sizes;   /* nlist: global list sizes */
    double M2;
} build;

static void build_free(build *b)
{
    if (b->T != b->A) hr_free(b->T);
    hr_free(b->tid);
    hr_free(b->A);
    hr_free(b->C);
    hr_free(b->list);
    hr_free(b->sizes);
    memset(b, 0, sizeof *b);
}

/* Steps 1: this rank's block of item rows, augmented. */
static int load_rows(hr_job *job, const build_opts *o, hr_model *m, build *b)
{
    int P = job->size;
    b->lo = (uint64_t)job->rank * b->n / (uint64_t)P;
    b->hi = (uint64_t)(job->rank + 1) * b->n / (uint64_t)P;
    b->nloc = b->hi - b->lo;
    hr_model_part part = { NULL, 0, b->lo, b->hi };
    int rc = hr_model_load_part(o->model, m, &part, &job->err);
    HR_TRY(hr_comm_agree(job->comm, rc, &job->err));
    uint64_t hb = m->item_bias != NULL;
    HR_TRY(hr_comm_allreduce_max_u64(job->comm, &hb, 1));
    b->has_bias = hr_mips_uses_bias(o->metric, (int)hb);
    b->dim = hr_mips_dim(o->metric, b->k, b->has_bias);
    b->cols = b->dim + 1;
    const float *bias = b->has_bias ? m->item_bias : NULL;
    double M2 = 0;
    for (uint64_t i = 0; i < b->nloc; i++) {
        double v = hr_mips_norm2(o->metric, m->item_factors + i * (uint64_t)b->k, bias ? bias + i : NULL, b->k);
        M2 = v > M2 ? v : M2;
    }
    HR_TRY(hr_comm_allreduce_max_f64(job->comm, &M2, 1));
    b->M2 = M2;
    b->A = hr_malloc((b->nloc * (uint64_t)b->cols + 1) * sizeof *b->A);
    for (uint64_t i = 0; i < b->nloc; i++)
        hr_mips_augment_row(o->metric, m->item_factors + i * (uint64_t)b->k, bias ? bias + i : NULL, b->k, M2,
                            b->A + i * (uint64_t)b->cols);
    HR_FREE(&m->item_factors);   /* the augmented copy is all the build needs */
    HR_FREE(&m->item_bias);
    return 0;
}

/* The training sample: items whose priority is below the fraction wanted (all when the wanted
 * count reaches the catalogue), compacted; positions continue across ranks in id order. */
static int sample(hr_job *job, const build_opts *o, build *b)
{
    uint64_t want = (uint64_t)o->train_per_list * b->nlist;
    if (want >= b->n) {
        b->T = b->A;
        b->ntr = b->nloc;
    } else {
        double frac = (double)want / (double)b->n;
        uint64_t thr = frac >= 1 ? UINT64_MAX : (uint64_t)ldexp(frac, 64);
        b->T = hr_malloc((b->nloc * (uint64_t)b->cols + 1) * sizeof *b->T);
        b->tid = hr_malloc((b->nloc + 1) * sizeof *b->tid);
        for (uint64_t i = 0; i < b->nloc; i++)
            if (hr_km_priority((uint64_t)o->seed, HR_KM_SAMPLE, b->lo + i) < thr) {
                memcpy(b->T + b->ntr * (uint64_t)b->cols, b->A + i * (uint64_t)b->cols, (size_t)b->cols * sizeof *b->T);
                b->tid[b->ntr++] = b->lo + i;
            }
    }
    uint64_t total = b->ntr;
    HR_TRY(hr_comm_exscan_sum_u64(job->comm, b->ntr, &b->t0));
    HR_TRY(hr_comm_allreduce_sum_u64(job->comm, &total, 1));
    if (total < b->nlist && b->T != b->A) {   /* an unlucky small sample: train on everything */
        HR_FREE(&b->T);
        HR_FREE(&b->tid);
        b->T = b->A;
        b->ntr = b->nloc;
        HR_TRY(hr_comm_exscan_sum_u64(job->comm, b->ntr, &b->t0));
    }
    return 0;
}

typedef struct seedkey { uint64_t prio, pos; } seedkey;

static int cmp_seed(const void *x, const void *y)
{
    const seedkey *a = x, *b = y;
    if (a->prio != b->prio) return a->prio < b->prio ? -1 : 1;
    return (a->pos > b->pos) - (a->pos < b->pos);
}

/* Seeds: the nlist training rows of lowest priority (seed, item id), the same on any P.  Each
 * rank offers its own nlist lowest; the owner copies a chosen row, the others add zeros. */
static int seed_centroids(hr_job *job, const build_opts *o, build *b)
{
    uint64_t nl = b->nlist, cols = (uint64_t)b->cols;
    seedkey *mine = hr_malloc((b->ntr + 1) * sizeof *mine);
    for (uint64_t x = 0; x < b->ntr; x++)
        mine[x] = (seedkey){ hr_km_priority((uint64_t)o->seed, HR_KM_SEEDS, b->tid ? b->tid[x] : b->lo + x), b->t0 + x };
    qsort(mine, b->ntr, sizeof *mine, cmp_seed);
    uint64_t offer = b->ntr < nl ? b->ntr : nl;
    void *all = NULL;
    uint64_t *counts = hr_malloc((size_t)job->size * sizeof *counts), total = 0;
    int rc = hr_comm_allgatherv(job->comm, mine, offer, sizeof *mine, &all, counts, &total);
    hr_free(counts);
    if (rc == 0) {
        seedkey *s = all;
        qsort(s, total, sizeof *s, cmp_seed);
        b->C = hr_calloc(nl * cols + 1, sizeof *b->C);
        for (uint64_t c = 0; c < nl && c < total; c++)
            if (s[c].pos >= b->t0 && s[c].pos < b->t0 + b->ntr)
                memcpy(b->C + c * cols, b->T + (s[c].pos - b->t0) * cols, cols * sizeof *b->C);
        rc = hr_comm_allreduce_sum_f32(job->comm, b->C, nl * cols);
    }
    hr_free(all);
    hr_free(mine);
    return rc;
}

/* Step 2: Lloyd iterations on the training rows. */
static int kmeans(hr_job *job, const build_opts *o, build *b, double *t_kmeans)
{
    double t0 = hr_now();
    uint64_t nl = b->nlist, cols = (uint64_t)b->cols;
    HR_TRY(seed_centroids(job, o, b));
    hr_km_work w;
    hr_km_work_init(&w, b->cols);
    float *hn = hr_malloc((nl + 1) * sizeof *hn), *dist = hr_malloc((b->ntr + 1) * sizeof *dist);
    uint32_t *asg = hr_malloc((b->ntr + 1) * sizeof *asg);
    int64_t *sums = hr_malloc((nl * cols + nl + 1) * sizeof *sums), *counts = sums + nl * cols;
    int e = hr_km_fixed_exponent(sqrt(b->M2) * (1 + 1e-6));
    int rc = 0;
    for (int64_t it = 1; it <= o->iters && rc == 0; it++) {
        double ti = hr_now();
        hr_km_half_norms(b->C, b->nlist, b->cols, hn);
        hr_km_assign(b->T, b->t0, b->ntr, b->cols, b->C, hn, b->nlist, asg, dist, &w);
        memset(sums, 0, (nl * cols + nl) * sizeof *sums);
        hr_km_accumulate(b->T, b->ntr, b->cols, asg, e, sums, counts);
        double obj = 0;
        for (uint64_t x = 0; x < b->ntr; x++) obj += dist[x];
        rc = hr_comm_allreduce_sum_i64(job->comm, sums, nl * cols + nl);
        if (rc == 0) rc = hr_comm_allreduce_sum_f64(job->comm, &obj, 1);
        if (rc < 0) break;
        uint64_t ntrain = 0;
        for (uint64_t c = 0; c < nl; c++) ntrain += (uint64_t)counts[c];
        uint32_t splits = hr_km_update(sums, counts, b->nlist, b->cols, e, b->C);
        /* |x - c|^2 = M^2 + 2 (|c|^2/2 - x.c): the mean squared distance of the assignment */
        hr_progress("index      k-means iteration %lld/%lld: %llu items, mean squared distance %.6g (max norm^2 %.4g), %u empty lists re-seeded, %.2fs",
                    (long long)it, (long long)o->iters, (unsigned long long)ntrain, b->M2 + 2 * obj / (double)(ntrain ? ntrain : 1), b->M2,
                    splits, hr_now() - ti);
    }
    hr_free(hn);
    hr_free(dist);
    hr_free(asg);
    hr_free(sums);
    hr_km_work_free(&w);
    *t_kmeans = hr_now() - t0;
    return rc;
}

/* Step 3: every item's list, and the global list sizes. */
static int assign_all(hr_job *job, build *b)
{
    hr_km_work w;
    hr_km_work_init(&w, b->cols);
    float *hn = hr_malloc((b->nlist + 1) * sizeof *hn);
    hr_km_half_norms(b->C, b->nlist, b->cols, hn);
    b->list = hr_malloc((b->nloc + 1) * sizeof *b->list);
    hr_km_assign(b->A, b->lo, b->nloc, b->cols, b->C, hn, b->nlist, b->list, NULL, &w);
    hr_free(hn);
    hr_km_work_free(&w);
    b->sizes = hr_calloc((size_t)b->nlist + 1, sizeof *b->sizes);
    for (uint64_t i = 0; i < b->nloc; i++) b->sizes[b->list[i]]++;
    return hr_comm_allreduce_sum_u64(job->comm, b->sizes, b->nlist);
}

/* Step 4: quantizer and parts into tmp; checksums to rank 0 (zeros elsewhere, summed). */
static int write_files(hr_job *job, const build_opts *o, build *b, const char *tmp, uint64_t *xx, uint64_t *by)
{
    int P = job->size, rc = 0;
    char path[4096], name[32];
    uint32_t np = (uint32_t)o->parts;
    if (job->rank == 0) {
        snprintf(path, sizeof path, "%s/%s", tmp, HR_INDEX_QUANTIZER);
        rc = hr_index_quantizer_write(path, b->C, b->nlist, b->cols, b->sizes, &xx[np], &by[np], &job->err);
    }
    for (uint32_t p = 0; p < np; p++) {
        uint64_t plo, phi;
        hr_index_part_range(b->n, np, p, &plo, &phi);
        uint64_t a = plo > b->lo ? plo : b->lo, z = phi < b->hi ? phi : b->hi;
        int root = (int)(p % (uint32_t)P);
        void *got = NULL;
        uint64_t *cnt = hr_malloc((size_t)P * sizeof *cnt), total = 0;
        int grc = hr_comm_gatherv(job->comm, b->list + (a < z ? a - b->lo : 0), a < z ? z - a : 0, sizeof(uint32_t), root, &got, cnt,
                                  &total);
        hr_free(cnt);
        if (grc < 0) {
            rc = grc;
            break;
        }
        if (job->rank == root && rc == 0) {
            hr_index_part_name(p, name, sizeof name);
            snprintf(path, sizeof path, "%s/%s", tmp, name);
            rc = total == phi - plo ? hr_index_part_write(path, p, b->nlist, plo, phi, got, &xx[p], &by[p], &job->err)
                                    : hr_error_set(&job->err, HR_ERR_STATE, "part %u gathered %llu of %llu items", p,
                                                   (unsigned long long)total, (unsigned long long)(phi - plo));
        }
        hr_free(got);
    }
    rc = hr_comm_agree(job->comm, rc, &job->err);
    if (rc == 0) rc = hr_comm_allreduce_sum_u64(job->comm, xx, (size_t)np + 1);
    if (rc == 0) rc = hr_comm_allreduce_sum_u64(job->comm, by, (size_t)np + 1);
    return rc;
}

/* List-size balance: min, max, max/mean, coefficient of variation, empty lists. */
typedef struct balance { uint64_t min, max, empty; double mean, ratio, cv; } balance;

static balance list_balance(const build *b)
{
    balance r = { UINT64_MAX, 0, 0, (double)b->n / b->nlist, 0, 0 };
    double ss = 0;
    for (uint32_t c = 0; c < b->nlist; c++) {
        uint64_t s = b->sizes[c];
        r.min = s < r.min ? s : r.min;
        r.max = s > r.max ? s : r.max;
        r.empty += s == 0;
        ss += ((double)s - r.mean) * ((double)s - r.mean);
    }
    r.ratio = (double)r.max / r.mean;
    r.cv = sqrt(ss / b->nlist) / r.mean;
    return r;
}

static json_t *manifest_of(const build_opts *o, const build *b, const hr_model *m, const balance *bl, const uint64_t *xx,
                           const uint64_t *by)
{
    hr_index_meta mt = { o->metric, b->k, b->dim, b->has_bias, b->nlist, (uint32_t)o->parts, (uint32_t)o->probe, b->n,
                         (uint64_t)o->seed, "", 0, 0, NULL, NULL, NULL };
    json_t *j = hr_index_manifest_new(&mt);
    char id[17];
    hr_index_model_id(m->manifest, id);
    json_object_set_new(j, "model", json_pack("{s:s,s:s,s:s,s:i,s:I}", "path", o->model, "manifest_xxh3", id, "algo", m->algo, "k",
                                              m->k, "items", (json_int_t)m->n_items));
    json_object_set_new(j, "kmeans", json_pack("{s:I,s:I,s:f}", "iterations", (json_int_t)o->iters, "train_per_list",
                                               (json_int_t)o->train_per_list, "max_norm", sqrt(b->M2)));
    json_object_set_new(j, "list_sizes", json_pack("{s:I,s:I,s:f,s:f,s:f,s:I}", "min", (json_int_t)bl->min, "max", (json_int_t)bl->max,
                                                   "mean", bl->mean, "max_over_mean", bl->ratio, "cv", bl->cv, "empty",
                                                   (json_int_t)bl->empty));
    char name[32];
    hr_manifest_add_file(j, HR_INDEX_QUANTIZER, by[o->parts], xx[o->parts]);
    for (uint32_t p = 0; p < (uint32_t)o->parts; p++) {
        hr_index_part_name(p, name, sizeof name);
        hr_manifest_add_file(j, name, by[p], xx[p]);
    }
    return j;
}

int hr_index_build(hr_job *job, int argc, char **argv)
{
    build_opts o;
    int help, rc;
    HR_TRY(parse(job, argc, argv, &o, &help));
    if (help) return 0;
    double t0 = hr_now(), t_kmeans = 0;
    hr_model m;
    build b;
    memset(&b, 0, sizeof b);
    uint64_t *xx = NULL, *by = NULL;
    char tmp[4096] = "";
    rc = hr_model_load_dicts(o.model, &m, &job->err);
    if (rc == 0 && m.kind != HR_MODEL_FACTOR)
        rc = hr_error_set(&job->err, HR_ERR_ARG, "%s: a %s model has no item factors to index", o.model, m.algo);
    if (rc == 0 && m.n_items == 0) rc = hr_error_set(&job->err, HR_ERR_ARG, "%s: the model has no items", o.model);
    if (rc == 0 && o.lists > (int64_t)m.n_items)
        rc = hr_error_set(&job->err, HR_ERR_ARG, "--lists %lld: more lists than the model's %llu items (about 2 sqrt(items) is usual)",
                          (long long)o.lists, (unsigned long long)m.n_items);
    if (rc == 0 && o.parts > (int64_t)m.n_items)
        rc = hr_error_set(&job->err, HR_ERR_ARG, "--parts %lld: more parts than the model's %llu items", (long long)o.parts,
                          (unsigned long long)m.n_items);
    if (rc == 0) defaults(&o, m.n_items);
    if (rc == 0 && o.probe > o.lists)
        rc = hr_error_set(&job->err, HR_ERR_ARG, "--probe %lld: more than the %lld lists", (long long)o.probe, (long long)o.lists);
    rc = hr_comm_agree(job->comm, rc, &job->err);
    if (rc < 0) goto done;
    b.n = m.n_items;
    b.k = m.k;
    b.nlist = (uint32_t)o.lists;
    rc = load_rows(job, &o, &m, &b);
    if (rc == 0) rc = sample(job, &o, &b);
    if (rc == 0) rc = kmeans(job, &o, &b, &t_kmeans);
    double t_assign = hr_now();
    if (rc == 0) rc = assign_all(job, &b);
    t_assign = hr_now() - t_assign;
    if (rc < 0) goto done;
    double t_write = hr_now();
    xx = hr_calloc((size_t)o.parts + 1, sizeof *xx);
    by = hr_calloc((size_t)o.parts + 1, sizeof *by);
    rc = hr_index_out_begin(job, o.out, tmp, sizeof tmp);
    if (rc == 0) rc = write_files(job, &o, &b, tmp, xx, by);
    balance bl = list_balance(&b);
    double mean_rss, max_rss = hr_job_peak_rss_mb(job, &mean_rss);
    double seconds = hr_now() - t0;
    if (rc == 0 && job->rank == 0) {
        json_t *j = manifest_of(&o, &b, &m, &bl, xx, by);
        json_object_set_new(j, "build", json_pack("{s:i,s:f,s:f}", "ranks", job->size, "seconds", seconds, "peak_rss_mb", max_rss));
        char path[4096];
        snprintf(path, sizeof path, "%s/manifest.json", tmp);
        rc = hr_manifest_write(path, j, &job->err);
        json_decref(j);
    }
    rc = hr_comm_agree(job->comm, rc, &job->err);
    if (rc == 0) rc = hr_index_out_commit(job, o.out, tmp, HR_INDEX_FORMAT);
    t_write = hr_now() - t_write;
    if (rc < 0) goto done;
    hr_job_set_str(job, "index", o.out);
    hr_job_set_str(job, "metric", hr_metric_name(o.metric));
    hr_job_set_int(job, "items", (int64_t)b.n);
    hr_job_set_int(job, "k", b.k);
    hr_job_set_int(job, "dim", b.dim);
    hr_job_set_int(job, "lists", b.nlist);
    hr_job_set_int(job, "parts", o.parts);
    hr_job_set_int(job, "probe", o.probe);
    hr_job_set_int(job, "iterations", o.iters);
    hr_job_set_int(job, "list_size_min", (int64_t)bl.min);
    hr_job_set_int(job, "list_size_max", (int64_t)bl.max);
    hr_job_set_real(job, "list_size_mean", bl.mean);
    hr_job_set_real(job, "list_balance", bl.ratio);
    hr_job_set_real(job, "list_size_cv", bl.cv);
    hr_job_set_int(job, "lists_empty", (int64_t)bl.empty);
    hr_job_set_real(job, "seconds_build", seconds);
    hr_job_set_real(job, "seconds_kmeans", t_kmeans);
    hr_job_set_real(job, "seconds_assign", t_assign);
    hr_job_set_real(job, "seconds_write", t_write);
    hr_progress("index      built %s: %llu items x %d (%s), %u lists (sizes %llu..%llu, mean %.1f, max/mean %.2f, cv %.2f, %llu empty), "
                "%lld parts, probe %lld; %.2fs (k-means %.2fs, assign %.2fs, write %.2fs); peak memory per rank %.0f MB (mean %.0f)",
                o.out, (unsigned long long)b.n, b.k, hr_metric_name(o.metric), b.nlist, (unsigned long long)bl.min,
                (unsigned long long)bl.max, bl.mean, bl.ratio, bl.cv, (unsigned long long)bl.empty, (long long)o.parts,
                (long long)o.probe, hr_now() - t0, t_kmeans, t_assign, t_write, max_rss, mean_rss);
done:
    if (rc < 0 && tmp[0]) hr_index_out_abort(job, tmp);
    hr_free(xx);
    hr_free(by);
    build_free(&b);
    hr_model_free(&m);
    return rc;
}
