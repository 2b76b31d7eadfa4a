/* hpcrec train — fit a model on a dataset and write a model bundle (io/model.h).
 *
 *   als   explicit ALS-WR with global mean and user/item biases (ratings)
 *   ials  implicit ALS (Hu–Koren–Volinsky), Cholesky or conjugate-gradient solves (counts)
 *   pop   popularity baseline: item scores = interactions per item
 *   ease  closed-form item-item model on the BLACS grid (train_ease.c)
 *   svd   randomized truncated SVD, a factor model (train_svd.c)
 * The distributed ALS loop is in train_loop.c; this file parses options, loads the dataset, and
 * gathers the factor blocks into the bundle (in dictionary order, so models load on any
 * rank count). */
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
#include "jobs/signals.h"
#include "jobs/train.h"

static const char usage[] =
    "hpcrec train --data DATASET --out MODEL.tar --algo als|ials|pop|ease|svd [options]\n"
    "  --factors K        latent factors (default 64)\n"
    "  --iters N          iterations (default 15)\n"
    "  --lambda L         regularisation (als: scaled by each row's count; default als 0.12, ials 0.1;\n"
    "                     ease: added to diag(X^T X), default from the data (docs/operations.md))\n"
    "  --ease-weight W    ease: binary (default) | value: how an interaction enters X\n"
    "  --ease-topm M      ease: keep the M largest |B_ij| of each column (default 0: B dense)\n"
    "  --svd-weight W     svd, --init svd: binary | value (default binary; als --init svd: value)\n"
    "  --power-iters Q    svd: power iterations (default 2); --oversample P extra columns (default 10)\n"
    "  --block-size NB    ease, svd: ScaLAPACK block size (default 128)\n"
    "  --init svd         als, ials: start from a truncated SVD of the data instead of random factors\n"
    "  --alpha A          ials confidence slope (default 1)\n"
    "  --epsilon E        ials confidence c = 1 + A*log(1 + r/E) when E > 0 (default 1); 0: c = 1 + A*r\n"
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
    "  --json FILE        machine-readable summary\n";

typedef struct {
    const char *data, *out, *init_from;
    hr_ckpt_opts ckpt;
    int resume;
    hr_algo algo;
    int have_lambda, init_svd, have_weight;
    hr_als_opts opts;
    int64_t iters, seed;
    hr_exchange exchange;
    hr_dense_opts dense;
} train_opts;

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
        { "init", required_argument, 0, 'i' }, { 0, 0, 0, 0 } };
    memset(o, 0, sizeof *o);
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
            else return hr_error_set(&job->err, HR_ERR_ARG, "--algo: unknown algorithm '%s' (als, ials, pop, ease, svd)", optarg);
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
        case 'n': HR_TRY(hr_opt_i64(job, "--iters", optarg, 0, 100000, &o->iters)); break;
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
        case 'h': if (job->rank == 0) fputs(usage, stdout); return 1;
        default: return hr_opt_usage(job, usage);
        }
    }
    if (!o->data || !o->out || (int)o->algo < 0)
        return hr_error_set(&job->err, HR_ERR_ARG, "--data, --out and --algo are required\n%s", usage);
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
    if (o->algo == HR_ALGO_EASE || o->algo == HR_ALGO_SVD) return 0;
    if (!o->have_lambda) o->opts.lambda = o->algo == HR_ALGO_IALS ? 0.1f : 0.12f;
    return hr_als_check_opts(&o->opts, &job->err);
}

/* Gather owned rows (width floats each) of one side into dictionary order on rank 0, which
 * writes the bundle (the other ranks never hold the whole model: *out stays NULL there). */
int hr_train_gather_rows(hr_job *job, const hr_block *b, const float *F, int width, uint64_t n, float **out)
{
    uint64_t *counts = hr_malloc((size_t)job->size * sizeof *counts), total = 0;
    void *gids = NULL, *rows = NULL;
    int rc = hr_comm_gatherv(job->comm, b->gid, b->nrows, sizeof(uint32_t), 0, &gids, counts, &total);
    if (rc == 0) rc = hr_comm_gatherv(job->comm, F, b->nrows, (size_t)width * sizeof(float), 0, &rows, counts, &total);
    hr_free(counts);
    *out = NULL;
    if (rc == 0 && job->rank == 0) {
        float *o = hr_calloc(n ? n * (uint64_t)width : 1, sizeof *o);
        const uint32_t *g = gids;
        for (uint64_t r = 0; r < total; r++)
            memcpy(o + (uint64_t)g[r] * (uint64_t)width, (float *)rows + r * (uint64_t)width, (size_t)width * sizeof(float));
        *out = o;
    }
    hr_free(gids);
    hr_free(rows);
    return rc;
}

/* Warm start: rows whose external id the old model knows start from its factors (and biases);
 * the rest keep their fresh initialisation.  Counts are global. */
static int warm_start(hr_job *job, hr_train *t, const char *path, uint64_t counts[6])
{
    hr_model m;
    int rc = hr_model_load(path, &m, &job->err);
    if (rc == 0 && (m.kind != HR_MODEL_FACTOR || m.k != t->opts.k))
        rc = hr_error_set(&job->err, HR_ERR_STATE, "%s: a %s model with k=%d cannot warm-start %s with --factors %d", path, m.algo,
                          m.k, t->algo == HR_ALGO_ALS ? "als" : "ials", t->opts.k);
    rc = hr_comm_agree(job->comm, rc, &job->err);
    if (rc < 0) {
        hr_model_free(&m);
        return rc;
    }
    memset(counts, 0, 6 * sizeof *counts);
    for (int side = 0; side < 2; side++) {
        hr_train_side *s = side == 0 ? &t->users : &t->items;
        const hr_dict *dd = side == 0 ? &t->ds->users : &t->ds->items, *md = side == 0 ? &m.users : &m.items;
        const float *mf = side == 0 ? m.user_factors : m.item_factors, *mb = side == 0 ? m.user_bias : m.item_bias;
        char key[512];
        for (uint64_t r = 0; r < s->block->nrows; r++) {
            size_t len = hr_dict_format(dd, s->block->gid[r], key, sizeof key);
            int64_t g = hr_dict_find(md, key, len);
            if (g < 0) {
                counts[3 * side + 1]++;
                continue;
            }
            memcpy(s->F + r * (uint64_t)m.k, mf + (uint64_t)g * (uint64_t)m.k, (size_t)m.k * sizeof(float));
            if (mb && t->algo == HR_ALGO_ALS) s->bias[r] = mb[g];
            counts[3 * side]++;
        }
        /* dropped: ids of the old model absent from this dataset (every rank holds both dicts) */
        if (job->rank == 0)
            for (uint64_t g = 0; g < md->n; g++) {
                size_t len = hr_dict_format(md, g, key, sizeof key);
                counts[3 * side + 2] += hr_dict_find(dd, key, len) < 0;
            }
    }
    hr_model_free(&m);
    HR_TRY(hr_comm_allreduce_sum_u64(job->comm, counts, 6));
    hr_progress("warm start from %s: users %llu known, %llu new, %llu dropped; items %llu known, %llu new, %llu dropped", path,
                (unsigned long long)counts[0], (unsigned long long)counts[1], (unsigned long long)counts[2],
                (unsigned long long)counts[3], (unsigned long long)counts[4], (unsigned long long)counts[5]);
    return 0;
}

static const char *algo_name(hr_algo a)
{
    static const char *const names[] = { [HR_ALGO_ALS] = "als", [HR_ALGO_IALS] = "ials", [HR_ALGO_POP] = "pop",
                                         [HR_ALGO_EASE] = "ease", [HR_ALGO_SVD] = "svd" };
    return names[a];
}

json_t *hr_train_lineage(hr_job *job, const char *data, const hr_dataset *ds, uint64_t nnz)
{
    char mpath[4096], hex[17];
    uint64_t mcs = 0;
    hr_dataset_manifest_path(data, mpath, sizeof mpath);
    /* the dataset was just loaded and verified: an unreadable manifest now leaves the checksum 0 */
    if (hr_checksum_file(mpath, &mcs, NULL, &job->err) < 0) mcs = 0;
    hr_checksum_hex(mcs, hex);
    return json_pack("{s:s,s:s,s:I,s:I,s:I}", "dataset", data, "dataset_manifest_xxh3", hex, "interactions", (json_int_t)nnz,
                     "users_fingerprint", (json_int_t)(hr_dict_fingerprint(&ds->users) >> 1),
                     "items_fingerprint", (json_int_t)(hr_dict_fingerprint(&ds->items) >> 1));
}

int hr_cmd_train(hr_job *job, int argc, char **argv)
{
    train_opts o;
    int rc = parse_opts(job, argc, argv, &o);
    if (rc != 0) return rc > 0 ? 0 : rc;
    double t0 = hr_now();
    hr_dataset ds;
    hr_model m;
    hr_train t;
    json_t *identity = NULL;
    int stop_sig = 0;
    memset(&m, 0, sizeof m);
    memset(&t, 0, sizeof t);
    /* Before the (long) dataset load, resume and warm start: a SIGTERM / SIGUSR1 arriving then
     * must not kill the rank with the default action; it stops the run after its first
     * half-iteration, with a checkpoint (exit 75). */
    if (o.algo != HR_ALGO_POP) hr_signals_install();
    const int dense = o.algo == HR_ALGO_EASE || o.algo == HR_ALGO_SVD;
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
        rc = o.algo == HR_ALGO_EASE ? hr_train_ease(job, &o.dense, &ds, nnz) : hr_train_svd(job, &o.dense, &ds, nnz);
        goto fail;
    }
    t.job = job;
    t.ds = &ds;
    t.algo = o.algo;
    t.opts = o.opts;
    t.iters = o.iters;
    t.seed = (uint64_t)o.seed;
    t.exchange = o.exchange;
    double secs_iter = 0, gflops = 0, bytes_iter = 0, imbalance = 1;
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
        int64_t done = 0;
        int half = 0;
        if (o.resume) HR_CHECK(hr_ckpt_resume(&t, &o.ckpt, identity, &done, &half));
        if (done > o.iters || (done == o.iters && half)) {
            rc = hr_error_set(&job->err, HR_ERR_ARG, "the checkpoint is at iteration %lld%s, past --iters %lld (--iters is the total)",
                              (long long)done, half ? " and a half" : "", (long long)o.iters);
            goto fail;
        }
        hr_job_set_int(job, "resumed_from_iteration", done);
        double sum_s = 0, sum_f = 0, sum_b = 0, sum_i = 0;
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
            sum_f += t.gflops * t.seconds;
            sum_b += (double)t.bytes;
            sum_i += t.imbalance;
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
        if (ran > 0) {
            secs_iter = sum_s / (double)ran;
            gflops = sum_s > 0 ? sum_f / sum_s : 0;
            bytes_iter = sum_b / (double)ran;
            imbalance = sum_i / (double)ran;
        }
        if (rc == 0) {
            m.kind = HR_MODEL_FACTOR;
            m.k = o.opts.k;
            rc = hr_train_gather_rows(job, &ds.by_user, t.users.F, o.opts.k, ds.users.n, &m.user_factors);
            if (rc == 0) rc = hr_train_gather_rows(job, &ds.by_item, t.items.F, o.opts.k, ds.items.n, &m.item_factors);
            if (rc == 0 && o.algo == HR_ALGO_ALS) {
                rc = hr_train_gather_rows(job, &ds.by_user, t.users.bias, 1, ds.users.n, &m.user_bias);
                if (rc == 0) rc = hr_train_gather_rows(job, &ds.by_item, t.items.bias, 1, ds.items.n, &m.item_bias);
                m.global_mean = t.mu;
            }
        }
    } else {
        m.kind = HR_MODEL_POP;
        m.item_scores = hr_malloc((ds.items.n ? ds.items.n : 1) * sizeof *m.item_scores);
        for (uint64_t i = 0; i < ds.items.n; i++) m.item_scores[i] = (float)ds.items.nnz[i];
    }
    if (rc == 0) {
        snprintf(m.algo, sizeof m.algo, "%s", algo_name(o.algo));
        m.n_users = ds.users.n;
        m.n_items = ds.items.n;
        /* The bundle owns copies of the dictionaries; the dataset keeps its own. */
        m.users = ds.users;
        m.items = ds.items;
        json_t *info = json_pack("{s:{s:i,s:f,s:f,s:f,s:s,s:i,s:I,s:s},s:I,s:f,s:f,s:i,s:f,s:o}",
                                 "params", "factors", o.opts.k, "lambda", (double)o.opts.lambda, "alpha", (double)o.opts.alpha,
                                 "epsilon", (double)o.opts.epsilon, "solver", o.opts.solver == HR_ALS_CG ? "cg" : "cholesky",
                                 "cg_steps", o.opts.cg_steps, "seed", (json_int_t)o.seed, "exchange", hr_exchange_name(o.exchange),
                                 "iterations", (json_int_t)(o.algo == HR_ALGO_POP ? 0 : o.iters),
                                 "final_loss", o.algo == HR_ALGO_POP ? 0.0 : t.loss,
                                 "train_rmse", o.algo == HR_ALGO_ALS ? t.rmse : 0.0, "ranks", job->size,
                                 "seconds_per_iteration", secs_iter, "lineage", hr_train_lineage(job, o.data, &ds, nnz));
        if (rc == 0 && job->rank == 0) rc = hr_model_save(o.out, &m, info, &job->err);
        json_decref(info);
        memset(&m.users, 0, sizeof m.users);
        memset(&m.items, 0, sizeof m.items);
    }
    rc = hr_comm_agree(job->comm, rc, &job->err);
    if (rc == 0) {
        hr_job_set_str(job, "algo", algo_name(o.algo));
        hr_job_set_int(job, "factors", o.algo == HR_ALGO_POP ? 0 : o.opts.k);
        hr_job_set_int(job, "iterations", o.algo == HR_ALGO_POP ? 0 : o.iters);
        hr_job_set_real(job, "seconds_per_iteration", secs_iter);
        hr_job_set_real(job, "gflops", gflops);
        hr_job_set_real(job, "bytes_exchanged_per_iteration", bytes_iter);
        hr_job_set_real(job, "load_imbalance", imbalance);
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
    hr_free(m.user_factors);
    hr_free(m.item_factors);
    hr_free(m.user_bias);
    hr_free(m.item_bias);
fail:
    if (identity) json_decref(identity);
    hr_free(m.item_scores);
    hr_train_free(&t);
    hr_dataset_free(&ds);
    return rc;
}
