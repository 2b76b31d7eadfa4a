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
 *      directory published by one agreed rename (jobs/publish.h: --out is checked against the
 *      model before any work and replaced only when it is an earlier index).
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
#include "jobs/publish.h"
#include "solvers/ivf.h"
#include "solvers/kmeans.h"
#include "solvers/mips.h"

static const char *const INDEX_FORMATS[] = { HR_INDEX_FORMAT, NULL };

static const char usage[] =
    "hpcrec index build --model MODEL.tar --out INDEX [--lists N] [--metric ip|cosine] [--probe N] [--parts N]\n"
    "                   [--iters N] [--train-per-list N] [--target-recall R] [--calibrate N] [--seed S] [--json FILE]\n";

typedef struct build_opts {
    const char *model, *out;
    hr_metric metric;
    int64_t lists, parts, probe, iters, train_per_list, seed, calibrate;
    double target;
} build_opts;

static int parse(hr_job *job, int argc, char **argv, build_opts *o, int *help)
{
    static const struct option opts[] = {
        { "model", required_argument, 0, 'm' }, { "out", required_argument, 0, 'o' }, { "lists", required_argument, 0, 'l' },
        { "metric", required_argument, 0, 'M' }, { "probe", required_argument, 0, 'p' }, { "parts", required_argument, 0, 'P' },
        { "iters", required_argument, 0, 'i' }, { "train-per-list", required_argument, 0, 't' }, { "seed", required_argument, 0, 's' },
        { "target-recall", required_argument, 0, 'r' }, { "calibrate", required_argument, 0, 'c' },
        { "json", required_argument, 0, 'j' }, { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 } };
    memset(o, 0, sizeof *o);
    o->metric = HR_METRIC_IP;
    o->iters = 10;
    o->train_per_list = 256;
    o->seed = 42;
    o->calibrate = 512;
    o->target = 0.95;
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
        case 'r': HR_TRY(hr_opt_f64(job, "--target-recall", optarg, 0, 1, &o->target)); break;
        case 'c': HR_TRY(hr_opt_i64(job, "--calibrate", optarg, 0, 65536, &o->calibrate)); break;
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
 * of two; parts of at most 2^18 items.  The default probe is calibrated (below); without
 * calibration it is 1/32 of the lists. */
static void defaults(build_opts *o, uint64_t n)
{
    if (!o->lists) {
        double want = 2.0 * sqrt((double)n);
        uint64_t l = 1;
        while ((double)(l * 2) <= want * 1.41421356) l *= 2;
        o->lists = (int64_t)(l < n ? l : n);
    }
    if (!o->probe && !o->calibrate) o->probe = o->lists / 32 > 0 ? o->lists / 32 : 1;
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
    /* calibration sample: model users (ip) or items (cosine, or a model without users) */
    uint32_t ncal;
    int cal_items;
    uint64_t *cal_ids;  /* ncal ids, increasing */
    double target;      /* --target-recall */
    double *cal_curve;  /* nlist + 1: recall@CAL_K at probe p (p = 1..nlist) */
    uint32_t cal_pick;  /* the smallest probe reaching the target */
    uint32_t depth_probe[8];  /* the same for recall@cal_depths[j] (0: not measured) */
} build;

static void build_free(build *b)
{
    if (b->T != b->A) hr_free(b->T);
    hr_free(b->tid);
    hr_free(b->A);
    hr_free(b->C);
    hr_free(b->list);
    hr_free(b->sizes);
    hr_free(b->cal_ids);
    hr_free(b->cal_curve);
    memset(b, 0, sizeof *b);
}

/* Steps 1: this rank's block of item rows, augmented. */
static int load_rows(hr_job *job, const build_opts *o, hr_model *m, build *b)
{
    int P = job->size;
    b->lo = (uint64_t)job->rank * b->n / (uint64_t)P;
    b->hi = (uint64_t)(job->rank + 1) * b->n / (uint64_t)P;
    b->nloc = b->hi - b->lo;
    hr_model_part part = { b->cal_items ? NULL : b->cal_ids, b->cal_items ? 0 : b->ncal, b->lo, b->hi, NULL, 0 };
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

/* ---- calibration: the recall of every --probe, measured at build time ----
 * A fixed sample of queries (the model's users for ip, items for cosine; chosen by (seed, id))
 * gets its exact top CAL_DEPTH items (solvers/ivf.h: windows aligned on item ids, so the same on
 * any P) and its order of lists from the quantizer; an item is found at --probe p when its list
 * is among the first p, so one pass gives the recall of every p.  The default probe is the
 * smallest whose recall@10 reaches --target-recall.  The same is recorded for deeper windows
 * (recall@20 .. @500): a user who has seen s items wants the best N of the rest, which sit up to
 * N + s deep in its ranking, so recommend probes by that depth (jobs/indexscore.c). */
enum { CAL_K = 10, CAL_DEPTH = 500 };
static const uint32_t cal_depths[] = { 10, 20, 50, 100, 200, 500 };
#define NDEPTH (sizeof cal_depths / sizeof cal_depths[0])

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* The ncal ids of lowest priority among 0..n-1, increasing (candidates below a threshold that
 * leaves about 4 ncal of them, so memory follows ncal, not n). */
static uint64_t *pick_sample(uint64_t seed, uint64_t n, uint32_t ncal)
{
    double frac = 4.0 * ncal / (double)n;
    seedkey *k = NULL;
    uint64_t got = 0;
    for (;; frac *= 4) {
        uint64_t thr = frac >= 1 ? UINT64_MAX : (uint64_t)ldexp(frac, 64), cap = frac >= 1 ? n : (uint64_t)(frac * (double)n * 2) + 64;
        k = hr_realloc(k, (cap + 1) * sizeof *k);
        got = 0;
        for (uint64_t i = 0; i < n && got < cap; i++) {
            uint64_t p = hr_km_priority(seed, HR_KM_SEEDS + 8, i);
            if (p <= thr) k[got++] = (seedkey){ p, i };
        }
        if (got >= ncal && (got < cap || frac >= 1)) break;
    }
    qsort(k, got, sizeof *k, cmp_seed);
    uint64_t *ids = hr_malloc(((size_t)ncal + 1) * sizeof *ids);
    for (uint32_t x = 0; x < ncal; x++) ids[x] = k[x].pos;
    qsort(ids, ncal, sizeof *ids, cmp_u64);
    hr_free(k);
    return ids;
}

static void calib_plan(const build_opts *o, const hr_model *m, build *b)
{
    b->cal_items = o->metric == HR_METRIC_COSINE || m->n_users == 0;
    uint64_t pool = b->cal_items ? m->n_items : m->n_users;
    b->ncal = (uint32_t)(pool < (uint64_t)o->calibrate ? pool : (uint64_t)o->calibrate);
    if (b->ncal) b->cal_ids = pick_sample((uint64_t)o->seed, pool, b->ncal);
}

typedef struct cand { float score; uint32_t item, list, q; } cand;

static int cmp_cand(const void *x, const void *y)
{
    const cand *a = x, *b = y;
    if (a->q != b->q) return a->q < b->q ? -1 : 1;
    if (a->score != b->score) return a->score > b->score ? -1 : 1;
    return (a->item > b->item) - (a->item < b->item);
}

static int calibrate(hr_job *job, const hr_model *m, build *b)
{
    const uint32_t S = b->ncal, nl = b->nlist;
    const uint64_t k = (uint64_t)b->k, dim = (uint64_t)b->dim, cols = (uint64_t)b->cols;
    if (!S) return 0;
    /* query rows, k floats (probe) and dim floats (exact scores: a 1 meets the bias) */
    float *Q = hr_calloc((size_t)S * k + 1, sizeof *Q), *Qa = hr_calloc((size_t)S * dim + 1, sizeof *Qa);
    uint32_t *self = NULL;
    int rc = 0;
    if (b->cal_items) {
        self = hr_malloc((size_t)S * sizeof *self);
        for (uint32_t x = 0; x < S; x++) {
            self[x] = (uint32_t)b->cal_ids[x];
            if (b->cal_ids[x] >= b->lo && b->cal_ids[x] < b->hi)
                memcpy(Q + x * k, b->A + (b->cal_ids[x] - b->lo) * cols, k * sizeof *Q);
        }
        rc = hr_comm_allreduce_sum_f32(job->comm, Q, (size_t)S * k);
    } else {
        for (uint32_t x = 0; x < S; x++) memcpy(Q + x * k, m->user_factors + (uint64_t)hr_model_user_row(m, b->cal_ids[x]) * k, k * sizeof *Q);
    }
    for (uint32_t x = 0; x < S; x++) {
        memcpy(Qa + x * dim, Q + x * k, k * sizeof *Qa);
        if (dim > k) Qa[x * dim + k] = 1.0f;
    }
    /* exact top CAL_DEPTH over this rank's items, then over all ranks */
    const uint32_t KD = (uint32_t)(b->n - (self ? 1 : 0) < CAL_DEPTH ? b->n - (self ? 1 : 0) : CAL_DEPTH);
    hr_topkey *keys = hr_malloc(((size_t)S * 2 * KD + 1) * sizeof *keys);
    hr_topbuf *sel = hr_malloc((size_t)S * sizeof *sel);
    for (uint32_t x = 0; x < S; x++) hr_topbuf_init(&sel[x], keys + (size_t)x * 2 * KD, KD, 2 * KD);
    hr_ivf_exact_topk(b->A, b->cols, b->dim, b->lo, b->nloc, Qa, S, self, sel);
    cand *mine = hr_malloc(((size_t)S * KD + 1) * sizeof *mine);
    uint64_t nm = 0;
    uint32_t *idx = hr_malloc(((size_t)KD + 1) * sizeof *idx);
    float *sc = hr_malloc(((size_t)KD + 1) * sizeof *sc);
    for (uint32_t x = 0; x < S; x++) {
        uint32_t got = hr_topbuf_sorted(&sel[x], idx, sc);
        for (uint32_t r = 0; r < got; r++) mine[nm++] = (cand){ sc[r], idx[r], b->list[idx[r] - b->lo], x };
    }
    hr_free(idx);
    hr_free(sc);
    void *all = NULL;
    uint64_t *cnt = hr_malloc((size_t)job->size * sizeof *cnt), total = 0;
    if (rc == 0) rc = hr_comm_allgatherv(job->comm, mine, nm, sizeof *mine, &all, cnt, &total);
    if (rc == 0) {
        cand *c = all;
        qsort(c, total, sizeof *c, cmp_cand);
        /* every query's order of lists */
        hr_ivf_quantizer qz;
        hr_ivf_quantizer_init(&qz, b->C, nl, b->k, b->dim);
        uint32_t *order = hr_malloc((size_t)S * nl * sizeof *order), *rank = hr_malloc((size_t)nl * sizeof *rank);
        hr_ivf_probe(&qz, Q, NULL, S, nl, order);
        /* hist[j][r]: items among a query's best cal_depths[j] whose list is its r-th */
        uint64_t *hist = hr_calloc(NDEPTH * ((size_t)nl + 1), sizeof *hist), found[NDEPTH] = { 0 };
        for (uint64_t a = 0; a < total;) {
            uint32_t q = c[a].q, taken = 0;
            for (uint32_t r = 0; r < nl; r++) rank[order[(uint64_t)q * nl + r]] = r;
            for (; a < total && c[a].q == q; a++, taken++)
                for (size_t j = 0; j < NDEPTH; j++)
                    if (taken < cal_depths[j] && taken < KD) {
                        hist[j * ((size_t)nl + 1) + rank[c[a].list]]++;
                        found[j]++;
                    }
        }
        b->cal_curve = hr_calloc((size_t)nl + 1, sizeof *b->cal_curve);
        for (size_t j = 0; j < NDEPTH; j++) {
            if (j > 0 && cal_depths[j] > KD) continue;   /* a catalogue too small for that depth */
            uint64_t cum = 0;
            uint32_t pick = nl;
            for (uint32_t p = 1; p <= nl; p++) {
                cum += hist[j * ((size_t)nl + 1) + p - 1];
                double r = (double)cum / (double)(found[j] ? found[j] : 1);
                if (j == 0) b->cal_curve[p] = r;
                if (pick == nl && r >= b->target - 1e-12) pick = p;
            }
            b->depth_probe[j] = pick;
        }
        b->cal_pick = b->depth_probe[0];
        hr_ivf_quantizer_free(&qz);
        hr_free(order);
        hr_free(rank);
        hr_free(hist);
    }
    hr_free(all);
    hr_free(cnt);
    hr_free(mine);
    hr_free(keys);
    hr_free(sel);
    hr_free(self);
    hr_free(Q);
    hr_free(Qa);
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
    hr_index_meta mt;
    memset(&mt, 0, sizeof mt);
    mt.metric = o->metric;
    mt.k = b->k;
    mt.dim = b->dim;
    mt.has_bias = b->has_bias;
    mt.nlist = b->nlist;
    mt.nparts = (uint32_t)o->parts;
    mt.probe = (uint32_t)o->probe;
    mt.n_items = b->n;
    mt.seed = (uint64_t)o->seed;
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
    if (b->cal_curve) {
        json_t *curve = json_object();
        char key[16];
        for (uint32_t p = 1; p <= b->nlist; p *= 2) {
            snprintf(key, sizeof key, "%u", p);
            json_object_set_new(curve, key, json_real(b->cal_curve[p]));
            if (p > b->nlist / 2 && p != b->nlist) {
                snprintf(key, sizeof key, "%u", b->nlist);
                json_object_set_new(curve, key, json_real(b->cal_curve[b->nlist]));
            }
        }
        json_t *depth = json_object();
        for (size_t d = 0; d < NDEPTH; d++)
            if (b->depth_probe[d]) {
                snprintf(key, sizeof key, "%u", cal_depths[d]);
                json_object_set_new(depth, key, json_integer(b->depth_probe[d]));
            }
        json_object_set_new(j, "calibration", json_pack("{s:i,s:s,s:i,s:f,s:i,s:f,s:o,s:o}", "queries", b->ncal, "from",
                                                        b->cal_items ? "items" : "users", "k", CAL_K, "target_recall", b->target,
                                                        "probe_for_target", b->cal_pick, "recall_at_probe", b->cal_curve[o->probe],
                                                        "recall_by_probe", curve, "probe_for_depth", depth));
    }
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
    hr_pathspec ps[] = { { "--model", o.model, HR_IN }, { "--out", o.out, HR_OUT_DIR }, { "--json", job->json_path, HR_OUT_FILE } };
    HR_TRY(hr_publish_check(job, ps, 3));
    double t0 = hr_now(), t_kmeans = 0;
    hr_model m;
    build b;
    memset(&b, 0, sizeof b);
    uint64_t *xx = NULL, *by = NULL;
    hr_publish pub;
    memset(&pub, 0, sizeof pub);
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
    if (rc == 0) calib_plan(&o, &m, &b);
    if (rc == 0 && o.probe > o.lists)
        rc = hr_error_set(&job->err, HR_ERR_ARG, "--probe %lld: more than the %lld lists", (long long)o.probe, (long long)o.lists);
    rc = hr_comm_agree(job->comm, rc, &job->err);
    if (rc == 0) rc = hr_publish_begin(job, o.out, "manifest.json", INDEX_FORMATS, &pub);   /* a bad --out fails now, not after the work */
    if (rc < 0) goto done;
    b.n = m.n_items;
    b.k = m.k;
    b.nlist = (uint32_t)o.lists;
    b.target = o.target;
    rc = load_rows(job, &o, &m, &b);
    if (rc == 0) rc = sample(job, &o, &b);
    if (rc == 0) rc = kmeans(job, &o, &b, &t_kmeans);
    double t_assign = hr_now();
    if (rc == 0) rc = assign_all(job, &b);
    t_assign = hr_now() - t_assign;
    double t_cal = hr_now();
    if (rc == 0) rc = calibrate(job, &m, &b);
    t_cal = hr_now() - t_cal;
    if (rc == 0 && !o.probe) o.probe = b.cal_pick;
    if (rc < 0) goto done;
    double t_write = hr_now();
    xx = hr_calloc((size_t)o.parts + 1, sizeof *xx);
    by = hr_calloc((size_t)o.parts + 1, sizeof *by);
    rc = write_files(job, &o, &b, pub.dir, xx, by);
    balance bl = list_balance(&b);
    double mean_rss, max_rss = hr_job_peak_rss_mb(job, &mean_rss);
    double seconds = hr_now() - t0;
    if (rc == 0 && job->rank == 0) {
        json_t *j = manifest_of(&o, &b, &m, &bl, xx, by);
        json_object_set_new(j, "build", json_pack("{s:i,s:f,s:f}", "ranks", job->size, "seconds", seconds, "peak_rss_mb", max_rss));
        char path[4096];
        snprintf(path, sizeof path, "%s/manifest.json", pub.dir);
        rc = hr_manifest_write(path, j, &job->err);
        json_decref(j);
    }
    rc = hr_publish_end(job, &pub, rc);
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
    hr_job_set_real(job, "seconds_calibrate", t_cal);
    if (b.cal_curve) {
        hr_job_set_real(job, "calibrated_recall", b.cal_curve[o.probe]);
        hr_job_set_int(job, "calibration_queries", b.ncal);
        hr_job_set_int(job, "probe_for_target", b.cal_pick);
        hr_progress("index      calibration: %u %s queries, recall@%d %.4f at probe %lld (target %.2f reached at probe %u of %u)", b.ncal,
                    b.cal_items ? "item" : "user", CAL_K, b.cal_curve[o.probe], (long long)o.probe, b.target, b.cal_pick, b.nlist);
    }
    hr_progress("index      built %s: %llu items x %d (%s), %u lists (sizes %llu..%llu, mean %.1f, max/mean %.2f, cv %.2f, %llu empty), "
                "%lld part(s), probe %lld; %.2fs (k-means %.2fs, assign %.2fs, write %.2fs); peak memory per rank %.0f MB (mean %.0f)",
                o.out, (unsigned long long)b.n, b.k, hr_metric_name(o.metric), b.nlist, (unsigned long long)bl.min,
                (unsigned long long)bl.max, bl.mean, bl.ratio, bl.cv, (unsigned long long)bl.empty, (long long)o.parts,
                (long long)o.probe, hr_now() - t0, t_kmeans, t_assign, t_write, max_rss, mean_rss);
done:
    rc = hr_publish_end(job, &pub, rc);   /* a failed run: the temporary directory goes */
    hr_free(xx);
    hr_free(by);
    build_free(&b);
    hr_model_free(&m);
    return rc;
}
