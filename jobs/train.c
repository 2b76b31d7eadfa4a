/* hpcrec train — fit a model on a dataset and write a model bundle (io/model.h).
 *
 *   als   explicit ALS-WR with global mean and user/item biases (ratings)
 *   ials  implicit ALS (Hu–Koren–Volinsky), Cholesky or conjugate-gradient solves (counts)
 *   pop   popularity baseline: item scores = interactions per item
 *   ease  closed-form item-item model on the BLACS grid (train_ease.c)
 *   svd   randomized truncated SVD, a factor model (train_svd.c)
 *   itemknn  item-based neighbourhood model, a sparse item-item model (train_knn.c)
 *   userknn  user-based neighbourhood model, sparse per-user neighbour lists (train_userknn.c)
 * The distributed loop is in train_loop.c; this file parses options, loads the dataset, and
 * has every rank write its own factor rows into the bundle (jobs/modelwrite.h: members of
 * fixed row ranges in dictionary order, so the bundle is the same on any rank count and no
 * rank gathers the model). */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/hash.h"
#include "core/log.h"
#include "core/timer.h"
#include "io/manifest.h"
#include "io/model.h"
#include "jobs/checkpoint.h"
#include "jobs/commands.h"
#include "jobs/modelwrite.h"
#include "jobs/publish.h"
#include "jobs/signals.h"
#include "io/jsonl.h"
#include "jobs/train.h"
#include "jobs/content.h"

static const char usage[] =
    "hpcrec train --data DATASET --out MODEL.tar --algo als|ials|pop|ease|svd|itemknn|userknn [options]\n"
    "  --factors K        latent factors (default 64)\n"
    "  --iters N          iterations (default 15)\n"
    "  --lambda L         regularisation (als: scaled by each row's count; default als 0.12, ials 0.1;\n"
    "                     ease: added to diag(X^T X), default from the data (docs/operations.md))\n"
    "  --ease-weight W    ease: binary (default) | value: how an interaction enters X\n"
    "  --ease-topm M      ease: keep the M largest |B_ij| of each column (default 0: B dense)\n"
    "  --svd-weight W     svd, --init svd: binary | value (default binary; als --init svd: value)\n"
    "  --power-iters Q    svd: power iterations (default 2); --oversample P extra columns (default 10)\n"
    "  --block-size NB    ease, svd: ScaLAPACK block size (default 128)\n"
    "  --feedback F       itemknn: explicit | implicit (default: explicit when every value lies in (0, 10]\n"
    "                     and not all are 1, i.e. ratings)\n"
    "  --knn-measure S    itemknn: cosine | dot | pearson | pearson-baseline | jaccard (default explicit\n"
    "                     pearson-baseline, implicit cosine; dot with --knn-weight bm25)\n"
    "  --knn-weight W     itemknn implicit: none (default) | tfidf | bm25 (k1 1.2, b 0.75)\n"
    "  --knn-center C     itemknn explicit predictions: none | mean | baseline (default baseline)\n"
    "  --neighbors K      itemknn: neighbours kept per item (default implicit 40, explicit 300)\n"
    "  --shrink S         itemknn: similarity x (n-1)/(n-1+S), n common users (default 100 for\n"
    "                     pearson-baseline, 0 otherwise)\n"
    "  --min-support N    itemknn: pairs with fewer common users dropped (default 1)\n"
    "  --max-user-items N itemknn: items of a user entering the pair counts (default 2000; 0: all)\n"
    "  --predict-neighbors k  itemknn / userknn explicit: a rating prediction uses the k most similar of the\n"
    "                     target item's neighbours the user rated (userknn: of the user's neighbours who\n                     rated the item; Surprise's k; default 40; 0: all)\n"
    "  (userknn takes the same knn options, per user: neighbours kept per user, default implicit 40,\n"
    "   explicit 300; shrink / support count common items; docs/operations.md)\n"
    "  --init svd         als, ials: start from a truncated SVD of the data instead of random factors\n"
    "  --alpha A          ials confidence slope (default 1)\n"
    "  --epsilon E        ials confidence c = 1 + A*log(1 + r/E) when E > 0 (default 1); 0: c = 1 + A*r\n"
    "                     (ials: a stored value of 0 is an unobserved cell, like a missing one)\n"
    "  --solver S         ials: cg (default) | cholesky\n"
    "  --cg-steps N       ials CG steps per row (default 3)\n"
    "  --exchange M       auto (default) | allgather | needed: how factor rows travel between ranks\n"
    "  --seed S           initial factors from (seed, external id) (default 42)\n"
    "  --checkpoint-dir D write checkpoints to D (and resume from it with --resume)\n"
    "  --checkpoint-every N  iterations between checkpoints (default 5; 0: only when stopped by a signal)\n"
    "  --keep K           newest checkpoints kept (default 2)\n"
    "  --checkpoint-level L  zstd level of checkpoints (default 1); --checkpoint-threads T (default 1)\n"
    "  --resume           continue from the newest valid checkpoint; --iters stays the total\n"
    "  --force-resume     accept a checkpoint of another dataset or other hyper-parameters\n"
    "  --init-from M.tar  warm start: known users/items start from the model's factors\n"
    "  SIGTERM / SIGUSR1: finish the half-iteration, checkpoint, exit 75 (requeue me)\n"
    "  --item-features FILE [--features-format F]  als, ials: item features (repeatable; F tokens (default),\n"
    "                     movielens-genres, ml-latest-genres, ml-latest-tags, lastfm-tags); after training,\n"
    "                     the map from features to item factors is fitted on the items with interactions and\n"
    "                     stored in the model (recommend / similar --item-features score new items by it)\n"
    "  --features-max N   most frequent features kept (default 2048; above 4096 on several ranks the fit\n"
    "                     runs on the ScaLAPACK grid); --features-lambda L ridge (default 1)\n"
    "  --features-grid auto|yes|no  the fit's path (default auto: the rule above)\n"
    "  --json FILE        machine-readable summary\n"
    "  --history FILE     one JSON line per iteration (loss, seconds, ...); appended to with --resume\n";

typedef struct {
    const char *data, *out, *init_from, *history;
    hr_ckpt_opts ckpt;
    int resume;
    hr_algo algo;
    int have_lambda, init_svd, have_weight;
    hr_als_opts opts;
    int64_t iters, seed;
    hr_exchange exchange;
    hr_dense_opts dense;
    hr_knn_train_opts knn;
    hr_content_opts content;   /* --item-features: the content map (jobs/train_content.c) */
} train_opts;

static const char *algo_name(hr_algo a)
{
    static const char *const names[] = { [HR_ALGO_ALS] = "als", [HR_ALGO_IALS] = "ials", [HR_ALGO_POP] = "pop",
                                         [HR_ALGO_EASE] = "ease", [HR_ALGO_SVD] = "svd", [HR_ALGO_ITEMKNN] = "itemknn",
                                         [HR_ALGO_USERKNN] = "userknn" };
    return names[a];
}

static int parse_opts(hr_job *job, int argc, char **argv, train_opts *o)
{
    static const struct option lo[] = {
        { "data", required_argument, 0, 'd' }, { "out", required_argument, 0, 'o' },
        { "algo", required_argument, 0, 'a' }, { "factors", required_argument, 0, 'k' },
        { "iters", required_argument, 0, 'n' }, { "lambda", required_argument, 0, 'l' },
        { "alpha", required_argument, 0, 'A' }, { "epsilon", required_argument, 0, 'E' },
        { "solver", required_argument, 0, 's' }, { "cg-steps", required_argument, 0, 'c' },
        { "exchange", required_argument, 0, 'x' }, { "seed", required_argument, 0, 'S' },
        { "json", required_argument, 0, 'j' }, { "help", no_argument, 0, 'h' },
        { "checkpoint-dir", required_argument, 0, 'D' }, { "checkpoint-every", required_argument, 0, 'N' },
        { "keep", required_argument, 0, 'K' }, { "checkpoint-level", required_argument, 0, 'L' },
        { "checkpoint-threads", required_argument, 0, 'T' }, { "resume", no_argument, 0, 'R' },
        { "force-resume", no_argument, 0, 'F' }, { "init-from", required_argument, 0, 'I' },
        { "ease-weight", required_argument, 0, 'w' }, { "svd-weight", required_argument, 0, 'W' },
        { "ease-topm", required_argument, 0, 'M' }, { "power-iters", required_argument, 0, 'q' },
        { "oversample", required_argument, 0, 'O' }, { "block-size", required_argument, 0, 'B' },
        { "init", required_argument, 0, 'i' }, { "history", required_argument, 0, 'H' },
        { "feedback", required_argument, 0, 1000 },
        { "knn-measure", required_argument, 0, 1001 }, { "knn-weight", required_argument, 0, 1002 },
        { "knn-center", required_argument, 0, 1003 }, { "neighbors", required_argument, 0, 1004 },
        { "shrink", required_argument, 0, 1005 }, { "min-support", required_argument, 0, 1006 },
        { "max-user-items", required_argument, 0, 1007 },
        { "predict-neighbors", required_argument, 0, 1031 }, HR_CONTENT_LONGOPTS, { 0, 0, 0, 0 } };
    memset(o, 0, sizeof *o);
    hr_content_opts_init(&o->content);
    hr_als_default_opts(&o->opts);
    o->opts.k = 64;
    o->opts.alpha = 1.0f;
    o->opts.epsilon = 1.0f;
    o->opts.solver = HR_ALS_CG;
    o->iters = 15;
    o->seed = 42;
    o->algo = (hr_algo)-1;
    o->ckpt.every = 5;
    o->ckpt.keep = 2;
    o->ckpt.level = 1;
    o->ckpt.workers = 1;
    o->dense.weight = HR_ROWS_BINARY;
    o->dense.power_iters = 2;
    o->dense.oversample = 10;
    o->knn.knn.neighbors = 40;
    o->knn.knn.min_support = 1;
    o->knn.knn.center = HR_KNN_CENTER_BASELINE;
    o->knn.knn.bm25_k1 = 1.2;
    o->knn.knn.bm25_b = 0.75;
    o->knn.max_user_items = 2000;
    o->knn.predict_neighbors = 40;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        int64_t v;
        double d;
        switch (c) {
        case 'd': o->data = optarg; break;
        case 'o': o->out = optarg; break;
        case 'a':
            if (!strcasecmp(optarg, "als")) o->algo = HR_ALGO_ALS;
            else if (!strcasecmp(optarg, "ials")) o->algo = HR_ALGO_IALS;
            else if (!strcasecmp(optarg, "pop")) o->algo = HR_ALGO_POP;
            else if (!strcasecmp(optarg, "ease")) o->algo = HR_ALGO_EASE;
            else if (!strcasecmp(optarg, "svd")) o->algo = HR_ALGO_SVD;
            else if (!strcasecmp(optarg, "itemknn")) o->algo = HR_ALGO_ITEMKNN;
            else if (!strcasecmp(optarg, "userknn")) o->algo = HR_ALGO_USERKNN;
            else return hr_error_set(&job->err, HR_ERR_ARG, "--algo: unknown algorithm '%s' (als, ials, pop, ease, svd, itemknn, userknn)", optarg);
            break;
        case 'w':
        case 'W':
            if (!strcasecmp(optarg, "binary")) o->dense.weight = HR_ROWS_BINARY;
            else if (!strcasecmp(optarg, "value")) o->dense.weight = HR_ROWS_VALUE;
            else return hr_error_set(&job->err, HR_ERR_ARG, "--%s-weight: '%s' is not binary or value", c == 'w' ? "ease" : "svd", optarg);
            o->have_weight = 1;
            break;
        case 'M': HR_TRY(hr_opt_i64(job, "--ease-topm", optarg, 0, UINT32_MAX, &v)); o->dense.topm = (uint32_t)v; break;
        case 'q': HR_TRY(hr_opt_i64(job, "--power-iters", optarg, 0, 100, &v)); o->dense.power_iters = (int)v; break;
        case 'O': HR_TRY(hr_opt_i64(job, "--oversample", optarg, 0, 10000, &v)); o->dense.oversample = (int)v; break;
        case 'B': HR_TRY(hr_opt_i64(job, "--block-size", optarg, 1, 4096, &v)); o->dense.block = (int)v; break;
        case 'i':
            if (strcasecmp(optarg, "svd") != 0) return hr_error_set(&job->err, HR_ERR_ARG, "--init: '%s' is not svd", optarg);
            o->init_svd = 1;
            break;
        case 'k': HR_TRY(hr_opt_i64(job, "--factors", optarg, 1, HR_ALS_MAX_K, &v)); o->opts.k = (int)v; break;
        case 'n': HR_TRY(hr_opt_i64(job, "--iters", optarg, 1, 100000, &o->iters)); break;
        case 'l': HR_TRY(hr_opt_f64(job, "--lambda", optarg, 0, 1e6, &d)); o->opts.lambda = (float)d; o->have_lambda = 1; break;
        case 'A': HR_TRY(hr_opt_f64(job, "--alpha", optarg, 0, 1e9, &d)); o->opts.alpha = (float)d; break;
        case 'E': HR_TRY(hr_opt_f64(job, "--epsilon", optarg, 0, 1e9, &d)); o->opts.epsilon = (float)d; break;
        case 's':
            if (!strcasecmp(optarg, "cg")) o->opts.solver = HR_ALS_CG;
            else if (!strcasecmp(optarg, "cholesky")) o->opts.solver = HR_ALS_CHOLESKY;
            else return hr_error_set(&job->err, HR_ERR_ARG, "--solver: '%s' is not cg or cholesky", optarg);
            break;
        case 'c': HR_TRY(hr_opt_i64(job, "--cg-steps", optarg, 1, HR_ALS_MAX_CG_STEPS, &v)); o->opts.cg_steps = (int)v; break;
        case 'x':
            if (hr_exchange_parse(optarg, &o->exchange) != 0)
                return hr_error_set(&job->err, HR_ERR_ARG, "--exchange: '%s' is not auto, allgather or needed", optarg);
            break;
        case 'S': HR_TRY(hr_opt_i64(job, "--seed", optarg, 0, INT64_MAX, &o->seed)); break;
        case 'j': job->json_path = optarg; break;
        case 'D': o->ckpt.dir = optarg; break;
        case 'N': HR_TRY(hr_opt_i64(job, "--checkpoint-every", optarg, 0, 1 << 30, &o->ckpt.every)); break;
        case 'K': HR_TRY(hr_opt_i64(job, "--keep", optarg, 1, 1 << 20, &o->ckpt.keep)); break;
        case 'L': HR_TRY(hr_opt_i64(job, "--checkpoint-level", optarg, 1, 19, &v)); o->ckpt.level = (int)v; break;
        case 'T': HR_TRY(hr_opt_i64(job, "--checkpoint-threads", optarg, 1, 64, &v)); o->ckpt.workers = (int)v; break;
        case 'R': o->resume = 1; break;
        case 'F': o->ckpt.force = 1; break;
        case 'I': o->init_from = optarg; break;
        case 'H': o->history = optarg; break;
        case 1000:
            if (!strcasecmp(optarg, "explicit")) o->knn.knn.implicit = 0;
            else if (!strcasecmp(optarg, "implicit")) o->knn.knn.implicit = 1;
            else return hr_error_set(&job->err, HR_ERR_ARG, "--feedback: '%s' is not explicit or implicit", optarg);
            o->knn.have_feedback = 1;
            break;
        case 1001:
            if (hr_knn_sim_parse(optarg, &o->knn.knn.sim) < 0)
                return hr_error_set(&job->err, HR_ERR_ARG,
                                    "--knn-measure: unknown measure '%s' (cosine, dot, pearson, pearson-baseline, jaccard)", optarg);
            o->knn.have_sim = 1;
            break;
        case 1002:
            if (hr_knn_weight_parse(optarg, &o->knn.knn.weight) < 0)
                return hr_error_set(&job->err, HR_ERR_ARG, "--knn-weight: '%s' is not none, tfidf or bm25", optarg);
            break;
        case 1003:
            if (hr_knn_center_parse(optarg, &o->knn.knn.center) < 0)
                return hr_error_set(&job->err, HR_ERR_ARG, "--knn-center: '%s' is not none, mean or baseline", optarg);
            o->knn.have_center = 1;
            break;
        case 1004:
            if (!strcmp(optarg, "0"))
                return hr_error_set(&job->err, HR_ERR_ARG, "--neighbors 0: a neighbourhood model needs at least one neighbour per item (itemknn) or user (userknn)");
            HR_TRY(hr_opt_i64(job, "--neighbors", optarg, 1, 1 << 20, &v));
            o->knn.knn.neighbors = (uint32_t)v;
            o->knn.have_neighbors = 1;
            break;
        case 1005: HR_TRY(hr_opt_f64(job, "--shrink", optarg, 0, 1e9, &o->knn.knn.shrink)); o->knn.have_shrink = 1; break;
        case 1006: HR_TRY(hr_opt_i64(job, "--min-support", optarg, 1, UINT32_MAX, &v)); o->knn.knn.min_support = (uint32_t)v; break;
        case 1007: HR_TRY(hr_opt_i64(job, "--max-user-items", optarg, 0, UINT32_MAX, &v)); o->knn.max_user_items = (uint32_t)v; break;
        case 1031: HR_TRY(hr_opt_i64(job, "--predict-neighbors", optarg, 0, UINT32_MAX, &v)); o->knn.predict_neighbors = (uint32_t)v; break;
        case HR_CONTENT_OPT_FILE: case HR_CONTENT_OPT_FORMAT: case HR_CONTENT_OPT_MAX: case HR_CONTENT_OPT_LAMBDA: case HR_CONTENT_OPT_GRID:
            HR_TRY(hr_content_opt(job, &o->content, c, optarg));
            break;
        case 'h': if (job->rank == 0) fputs(usage, stdout); return 1;
        default: return hr_opt_usage(job, usage);
        }
    }
    if (!o->data || !o->out || (int)o->algo < 0)
        return hr_error_set(&job->err, HR_ERR_ARG, "--data, --out and --algo are required\n%s", usage);
    if (o->content.have_fit_opts && !o->content.nfiles)
        return hr_error_set(&job->err, HR_ERR_ARG, "--features-max, --features-lambda and --features-grid need --item-features");
    if (o->content.nfiles && o->algo != HR_ALGO_ALS && o->algo != HR_ALGO_IALS)
        return hr_error_set(&job->err, HR_ERR_ARG, "--item-features: the content map is fitted to item factors; --algo %s has none "
                            "that it learns (use als or ials)", algo_name(o->algo));
    if (o->resume && !o->ckpt.dir) return hr_error_set(&job->err, HR_ERR_ARG, "--resume needs --checkpoint-dir");
    if (o->init_svd && o->algo != HR_ALGO_ALS && o->algo != HR_ALGO_IALS)
        return hr_error_set(&job->err, HR_ERR_ARG, "--init svd applies to als and ials");
    if (o->init_svd && o->init_from) return hr_error_set(&job->err, HR_ERR_ARG, "--init svd and --init-from exclude each other");
    o->dense.data = o->data;
    o->dense.out = o->out;
    o->dense.k = o->opts.k;
    o->dense.seed = (uint64_t)o->seed;
    o->dense.lambda = o->have_lambda ? (double)o->opts.lambda : -1.0;
    if (o->algo == HR_ALGO_ALS && o->init_svd && !o->have_weight) o->dense.weight = HR_ROWS_VALUE;
    o->knn.data = o->data;
    o->knn.out = o->out;
    if (o->algo == HR_ALGO_EASE || o->algo == HR_ALGO_SVD || o->algo == HR_ALGO_ITEMKNN || o->algo == HR_ALGO_USERKNN) return 0;
    if (!o->have_lambda) o->opts.lambda = o->algo == HR_ALGO_IALS ? 0.1f : 0.12f;
    return hr_als_check_opts(&o->opts, &job->err);
}

/* Popularity scores: every rank holds the item counts, so any rank packs any member. */
static void fill_pop(void *ctx, uint64_t lo, uint64_t hi, float *out)
{
    const uint64_t *nnz = ctx;
    for (uint64_t i = lo; i < hi; i++) out[i - lo] = (float)nnz[i];
}

/* The training scratch (exchange buffers, packing space, solver workspace) is not needed to
 * write the model: released first, so the writer's buffers never raise the peak. */
static void release_scratch(hr_train *t)
{
    hr_train_side *sides[2] = { &t->users, &t->items };
    for (int s = 0; s < 2; s++) {
        HR_FREE(&sides[s]->recv);
        HR_FREE(&sides[s]->recv_tail);
        HR_FREE(&sides[s]->recv_bias);
        HR_FREE(&sides[s]->send);
        HR_FREE(&sides[s]->col);
    }
    hr_als_free_work(t->work);
    t->work = NULL;
}

/* Warm start: rows whose external id the old model knows start from its factors (and biases);
 * the rest keep their fresh initialisation.  Each rank reads only the old model's rows of the
 * users and items it owns (io/model.h part load).  Counts are global. */
static int warm_start(hr_job *job, hr_train *t, const char *path, uint64_t counts[6])
{
    hr_model m;
    int rc = hr_model_load_dicts(path, &m, &job->err);
    if (rc == 0 && (m.kind != HR_MODEL_FACTOR || m.k != t->opts.k))
        rc = hr_error_set(&job->err, HR_ERR_STATE, "%s: a %s model with k=%d cannot warm-start %s with --factors %d", path, m.algo,
                          m.k, t->algo == HR_ALGO_ALS ? "als" : "ials", t->opts.k);
    /* the old model's id of each owned row (or -1) */
    int64_t *mid[2] = { NULL, NULL };
    uint64_t *want[2] = { NULL, NULL }, nwant[2] = { 0, 0 };
    for (int side = 0; rc == 0 && side < 2; side++) {
        hr_train_side *s = side == 0 ? &t->users : &t->items;
        const hr_dict *dd = side == 0 ? &t->ds->users : &t->ds->items, *md = side == 0 ? &m.users : &m.items;
        mid[side] = hr_malloc((s->block->nrows + 1) * sizeof *mid[side]);
        want[side] = hr_malloc((s->block->nrows + 1) * sizeof *want[side]);
        uint32_t *map = hr_dict_match(dd, md, NULL);   /* exact ids: no length limit */
        for (uint64_t r = 0; r < s->block->nrows; r++) {
            const uint32_t g = map[s->block->gid[r]];
            mid[side][r] = g == UINT32_MAX ? -1 : (int64_t)g;
            if (g != UINT32_MAX) want[side][nwant[side]++] = g;
        }
        hr_free(map);
    }
    if (rc == 0) {
        hr_model_part part = { want[0], nwant[0], 0, 0, want[1], nwant[1] };
        rc = hr_model_load_part(path, &m, &part, &job->err);
    }
    rc = hr_comm_agree(job->comm, rc, &job->err);
    memset(counts, 0, 6 * sizeof *counts);
    for (int side = 0; rc == 0 && side < 2; side++) {
        hr_train_side *s = side == 0 ? &t->users : &t->items;
        const hr_dict *dd = side == 0 ? &t->ds->users : &t->ds->items, *md = side == 0 ? &m.users : &m.items;
        const float *mf = side == 0 ? m.user_factors : m.item_factors, *mb = side == 0 ? m.user_bias : m.item_bias;
        for (uint64_t r = 0; r < s->block->nrows; r++) {
            if (mid[side][r] < 0) {
                counts[3 * side + 1]++;
                continue;
            }
            int64_t row = side == 0 ? hr_model_user_row(&m, (uint64_t)mid[side][r]) : hr_model_item_row(&m, (uint64_t)mid[side][r]);
            memcpy(s->F + r * (uint64_t)m.k, mf + (uint64_t)row * (uint64_t)m.k, (size_t)m.k * sizeof(float));
            if (mb && t->algo == HR_ALGO_ALS) s->bias[r] = mb[row];
            counts[3 * side]++;
        }
        /* dropped: ids of the old model absent from this dataset (every rank holds both dicts) */
        if (job->rank == 0) {
            uint64_t known;
            hr_free(hr_dict_match(md, dd, &known));
            counts[3 * side + 2] = md->n - known;
        }
    }
    for (int side = 0; side < 2; side++) {
        hr_free(mid[side]);
        hr_free(want[side]);
    }
    hr_model_free(&m);
    HR_TRY(rc);
    HR_TRY(hr_comm_allreduce_sum_u64(job->comm, counts, 6));
    hr_progress("warm start from %s: users %llu known, %llu new, %llu dropped; items %llu known, %llu new, %llu dropped", path,
                (unsigned long long)counts[0], (unsigned long long)counts[1], (unsigned long long)counts[2],
                (unsigned long long)counts[3], (unsigned long long)counts[4], (unsigned long long)counts[5]);
    return 0;
}

/* Per iteration, both halves: rows moved by the needed and the allgather exchange [global],
 * the needed rows in bytes, and the largest rank's receive buffers in MiB. */
static void exchange_figures(hr_train *t, double x[4])
{
    const double row = (double)t->opts.k * 4.0;
    x[0] = (double)(t->users.route.volume_needed + t->items.route.volume_needed);
    x[1] = (double)(t->users.route.volume_allgather + t->items.route.volume_allgather);
    x[2] = x[0] * row;
    x[3] = (double)(t->users.route.nrecv + t->items.route.nrecv) * row / (1 << 20);
    hr_comm_allreduce_max_f64(t->job->comm, &x[3], 1);
}

int hr_cmd_train(hr_job *job, int argc, char **argv)
{
    train_opts o;
    int rc = parse_opts(job, argc, argv, &o);
    if (rc != 0) return rc > 0 ? 0 : rc;
    /* The bundle and the checkpoints never go into (or replace) what is read. */
    hr_pathspec ps[] = { { "--data", o.data, HR_IN }, { "--init-from", o.init_from, HR_IN },
                         { "--out", o.out, HR_OUT_FILE }, { "--checkpoint-dir", o.ckpt.dir, HR_OUT_INTO },
                         { "--json", job->json_path, HR_OUT_FILE }, { "--history", o.history, HR_OUT_FILE } };
    HR_TRY(hr_publish_check(job, ps, 6));
    double t0 = hr_now();
    hr_dataset ds;
    hr_model m;
    hr_model_src src;
    hr_train t;
    json_t *identity = NULL;
    int stop_sig = 0;
    memset(&m, 0, sizeof m);
    memset(&src, 0, sizeof src);
    memset(&t, 0, sizeof t);
    /* Before the (long) dataset load, resume and warm start: a SIGTERM / SIGUSR1 arriving then
     * must not kill the rank with the default action; it stops the run after its first
     * half-iteration, with a checkpoint (exit 75). */
    if (o.algo != HR_ALGO_POP) hr_signals_install();
    const int dense = o.algo == HR_ALGO_EASE || o.algo == HR_ALGO_SVD || o.algo == HR_ALGO_ITEMKNN || o.algo == HR_ALGO_USERKNN;
    rc = hr_dataset_load(job, o.data, dense ? HR_LOAD_BY_USER : HR_LOAD_BY_USER | HR_LOAD_BY_ITEM, &ds);
    if (rc < 0) {
        hr_dataset_free(&ds);
        return rc;
    }
    uint64_t nnz = ds.by_user.nnz;
    HR_CHECK(hr_comm_allreduce_sum_u64(job->comm, &nnz, 1));
    if (nnz == 0) {
        rc = hr_error_set(&job->err, HR_ERR_STATE, "%s: the dataset has no interactions; nothing to train", o.data);
        goto fail;
    }
    if (dense) {
        if (o.resume) hr_progress("train      %s keeps no checkpoints: --resume trains from the start", algo_name(o.algo));
        rc = o.algo == HR_ALGO_EASE      ? hr_train_ease(job, &o.dense, &ds, nnz)
             : o.algo == HR_ALGO_ITEMKNN ? hr_train_knn(job, &o.knn, &ds, nnz)
             : o.algo == HR_ALGO_USERKNN ? hr_train_userknn(job, &o.knn, &ds, nnz)
                                         : hr_train_svd(job, &o.dense, &ds, nnz);
        goto fail;
    }
    t.job = job;
    t.ds = &ds;
    t.algo = o.algo;
    t.opts = o.opts;
    t.iters = o.iters;
    t.seed = (uint64_t)o.seed;
    t.exchange = o.exchange;
    double secs_iter = 0, gflops = 0, bytes_iter = 0, imbalance = 1, secs_exchange = 0, xfig[4] = { 0, 0, 0, 0 };
    double sum_ph[HR_TRAIN_NPHASE] = { 0 };
    int64_t ran_iters = 0;
    if (o.algo != HR_ALGO_POP) {
        HR_CHECK(hr_train_setup(&t));
        if (o.init_svd) HR_CHECK(hr_train_init_svd(&t, &o.dense));
        if (o.init_from) {
            uint64_t wc[6];
            HR_CHECK(warm_start(job, &t, o.init_from, wc));
            static const char *keys[6] = { "warm_users_known", "warm_users_new", "warm_users_dropped",
                                           "warm_items_known", "warm_items_new", "warm_items_dropped" };
            for (int k = 0; k < 6; k++) hr_job_set_int(job, keys[k], (int64_t)wc[k]);
        }
        identity = o.ckpt.dir ? hr_ckpt_identity(&t, o.data) : NULL;
        if (o.history) {   /* rank 0 writes it; every rank agrees that it could be opened */
            int hrc = job->rank == 0 ? hr_jsonl_open(o.history, o.resume, &t.history, &job->err) : 0;
            HR_CHECK(hr_comm_agree(job->comm, hrc, &job->err));
        }
        int64_t done = 0;
        int half = 0;
        if (o.resume) HR_CHECK(hr_ckpt_resume(&t, &o.ckpt, identity, &done, &half));
        if (done > o.iters || (done == o.iters && half)) {
            rc = hr_error_set(&job->err, HR_ERR_ARG, "the checkpoint is at iteration %lld%s, past --iters %lld (--iters is the total)",
                              (long long)done, half ? " and a half" : "", (long long)o.iters);
            goto fail;
        }
        hr_job_set_int(job, "resumed_from_iteration", done);
        double sum_s = 0, sum_f = 0, sum_b = 0, sum_i = 0, sum_c = 0;
        int64_t ran = 0, last = done;
        for (int64_t it = done + 1; it <= o.iters && rc == 0; it++) {
            int stopped = 0;
            rc = hr_train_iterate(&t, it, it == done + 1 && half, &stopped);
            if (rc < 0) break;
            if (stopped == 1) {   /* user half of `it` done: checkpoint (it-1, half 1) and stop */
                rc = o.ckpt.dir ? hr_ckpt_write(&t, &o.ckpt, identity, it - 1, 1) : 0;
                stop_sig = 1;
                break;
            }
            sum_s += t.seconds;
            sum_c += t.seconds * t.comm_pct / 100.0;
            sum_f += t.gflops * t.seconds;
            sum_b += (double)t.bytes;
            sum_i += t.imbalance;
            for (int q = 0; q < HR_TRAIN_NPHASE; q++) sum_ph[q] += t.phase[q];
            ran++;
            last = it;
            if (o.ckpt.dir && (stopped || (o.ckpt.every > 0 && it % o.ckpt.every == 0)))
                rc = hr_ckpt_write(&t, &o.ckpt, identity, it, 0);
            if (stopped) {
                stop_sig = 1;
                break;
            }
        }
        if (rc == 0 && stop_sig) {
            rc = hr_error_set(&job->err, HR_ERR_INTERRUPT, "stopped by a signal after iteration %lld%s; %s", (long long)last,
                              o.ckpt.dir ? " (checkpoint written)" : "",
                              o.ckpt.dir ? "run again with --resume to continue" : "no --checkpoint-dir: progress is lost");
        }
        if (rc == 0 && last >= 1) rc = hr_train_finish(&t, last);
        if (t.history) {
            if (t.history_rc < 0 && rc == 0) {
                rc = t.history_rc;
                job->err = t.history_err;
            }
            int crc = hr_jsonl_close(t.history, &job->err);
            t.history = NULL;
            if (rc == 0) rc = crc;
        }
        rc = hr_comm_agree(job->comm, rc, &job->err);
        ran_iters = ran;
        if (ran > 0) {
            secs_iter = sum_s / (double)ran;
            gflops = sum_s > 0 ? sum_f / sum_s : 0;
            bytes_iter = sum_b / (double)ran;
            imbalance = sum_i / (double)ran;
            secs_exchange = sum_c / (double)ran;
        }
        if (rc == 0) {
            /* every rank's owned rows go straight into the bundle (jobs/modelwrite.h) */
            release_scratch(&t);
            m.kind = HR_MODEL_FACTOR;
            m.k = o.opts.k;
            src.user_factors = (hr_rows_src){ &ds.upart, t.users.F, NULL, NULL };
            src.item_factors = (hr_rows_src){ &ds.ipart, t.items.F, NULL, NULL };
            if (o.algo == HR_ALGO_ALS) {
                src.user_bias = (hr_rows_src){ &ds.upart, t.users.bias, NULL, NULL };
                src.item_bias = (hr_rows_src){ &ds.ipart, t.items.bias, NULL, NULL };
                m.global_mean = t.mu;
            }
        }
    } else {
        m.kind = HR_MODEL_POP;
        src.item_scores = (hr_rows_src){ NULL, NULL, fill_pop, ds.items.nnz };
    }
    if (rc == 0) {
        snprintf(m.algo, sizeof m.algo, "%s", algo_name(o.algo));
        m.n_users = ds.users.n;
        m.n_items = ds.items.n;
        /* A header for the writer: the dictionaries are the dataset's (borrowed). */
        m.users = ds.users;
        m.items = ds.items;
        m.partial = 1;
        src.users = &ds.users;
        src.items = &ds.items;
        json_t *info = json_pack("{s:{s:i,s:f,s:f,s:f,s:s,s:i,s:I,s:s},s:I,s:f,s:f,s:i,s:f,s:o}",
                                 "params", "factors", o.opts.k, "lambda", (double)o.opts.lambda, "alpha", (double)o.opts.alpha,
                                 "epsilon", (double)o.opts.epsilon, "solver", o.opts.solver == HR_ALS_CG ? "cg" : "cholesky",
                                 "cg_steps", o.opts.cg_steps, "seed", (json_int_t)o.seed, "exchange", hr_exchange_name(o.exchange),
                                 "iterations", (json_int_t)(o.algo == HR_ALGO_POP ? 0 : o.iters),
                                 "final_loss", o.algo == HR_ALGO_POP ? 0.0 : t.loss,
                                 "train_rmse", o.algo == HR_ALGO_ALS ? t.rmse : 0.0, "ranks", job->size,
                                 "seconds_per_iteration", secs_iter, "lineage", hr_train_lineage(job, o.data, &ds, nnz));
        if (rc == 0 && o.content.nfiles)   /* the content map, from the trained item factors */
            rc = hr_train_content(job, &o.content, &ds, t.items.F, o.algo == HR_ALGO_ALS ? t.items.bias : NULL, o.opts.k, &m, info);
        rc = hr_comm_agree(job->comm, rc, &job->err);
        hr_model_write_stats ws = { 0, 0, 0, 0 };
        if (rc == 0) rc = hr_model_write(job, o.out, &m, &src, info, &ws);
        json_decref(info);
        memset(&m.users, 0, sizeof m.users);
        memset(&m.items, 0, sizeof m.items);
        hr_dict_free(&m.content_tokens);
        HR_FREE(&m.content_idf);
        HR_FREE(&m.content_map);
        if (rc == 0) {
            hr_job_set_real(job, "seconds_write_model", ws.seconds);
            hr_job_set_int(job, "model_bytes", (int64_t)ws.bytes);
            hr_job_set_int(job, "model_members", (int64_t)ws.members);
            hr_progress("model      %s: %llu members, %.1f MB, written by %d ranks in %.2fs", o.out,
                        (unsigned long long)ws.members, (double)ws.bytes / 1e6, job->size, ws.seconds);
        }
    }
    rc = hr_comm_agree(job->comm, rc, &job->err);
    if (rc == 0) {
        hr_job_set_str(job, "algo", algo_name(o.algo));
        hr_job_set_int(job, "factors", o.algo == HR_ALGO_POP ? 0 : o.opts.k);
        hr_job_set_int(job, "iterations", o.algo == HR_ALGO_POP ? 0 : o.iters);
        hr_job_set_real(job, "seconds_per_iteration", secs_iter);
        for (int q = 0; q < HR_TRAIN_NPHASE; q++) { /* where an iteration's time went (mean over ranks) */
            char key[64];
            snprintf(key, sizeof key, "phase_%s_seconds", hr_train_phase_names[q]);
            hr_job_set_real(job, key, ran_iters > 0 ? sum_ph[q] / (double)ran_iters : 0.0);
        }
        hr_job_set_real(job, "gflops", gflops);
        hr_job_set_real(job, "bytes_exchanged_per_iteration", bytes_iter);
        hr_job_set_real(job, "load_imbalance", imbalance);
        /* the exchange against its floor (docs/scaling.md): rows each half moves either way,
         * the needed-rows bound in bytes, and the largest rank's receive buffers */
        if (o.algo != HR_ALGO_POP) exchange_figures(&t, xfig);
        hr_job_set_real(job, "seconds_exchange_per_iteration", secs_exchange);
        hr_job_set_int(job, "exchange_rows_needed", (int64_t)xfig[0]);
        hr_job_set_int(job, "exchange_rows_allgather", (int64_t)xfig[1]);
        hr_job_set_real(job, "exchange_bytes_lower_bound", xfig[2]);
        hr_job_set_real(job, "exchange_buffer_mb", xfig[3]);
        hr_job_set_real(job, "final_loss", o.algo == HR_ALGO_POP ? 0.0 : t.loss);
        if (o.algo == HR_ALGO_ALS) hr_job_set_real(job, "train_rmse", t.rmse);
        hr_job_set_int(job, "cholesky_retries", (int64_t)t.retries);
        hr_job_set_int(job, "checkpoints_written", (int64_t)t.ckpt_count);
        hr_job_set_real(job, "checkpoint_seconds", t.ckpt_seconds);
        hr_job_set_real(job, "checkpoint_mb_per_s", t.ckpt_seconds > 0 ? t.ckpt_raw / 1e6 / t.ckpt_seconds : 0);
        hr_job_set_real(job, "checkpoint_compression", t.ckpt_bytes ? (double)t.ckpt_raw / (double)t.ckpt_bytes : 0);
        hr_job_set_int(job, "users", (int64_t)ds.users.n);
        hr_job_set_int(job, "items", (int64_t)ds.items.n);
        hr_job_set_int(job, "interactions", (int64_t)nnz);
        hr_job_set_str(job, "exchange_users", hr_exchange_name(t.users.route.mode));
        hr_job_set_str(job, "exchange_items", hr_exchange_name(t.items.route.mode));
        double mean_rss, max_rss = hr_job_peak_rss_mb(job, &mean_rss);
        hr_progress("train      %s done: %lld iterations, %.3fs/iter, %.2f GFLOP/s, %.1f MB exchanged/iter, model %s; %.2fs total; peak memory per rank %.0f MB",
                    algo_name(o.algo), (long long)(o.algo == HR_ALGO_POP ? 0 : o.iters), secs_iter, gflops, bytes_iter / 1e6,
                    o.out, hr_now() - t0, max_rss);
    }
fail:
    if (identity) json_decref(identity);
    hr_jsonl_close(t.history, &t.history_err);
    hr_train_free(&t);
    hr_dataset_free(&ds);
    return rc;
}
