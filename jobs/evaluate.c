/* hpcrec evaluate — offline metrics of a model on a train/test split.
 *
 * For every user with test interactions: rank all catalogue items the user has not seen in
 * train (models are scorers: solvers/score.h; batches of users scored by one SGEMM), take the
 * top max(K) and compare with the test items (solvers/metrics.h gives the exact definitions).
 * Rating models (als) also get RMSE/MAE over the test ratings, predictions clipped to the
 * training value range.  Users unknown to the model are ranked by training popularity and
 * counted (users_fallback).  With --baseline pop the same keys are written prefixed "pop.".
 * Train and test may share dictionaries (one `split`) or be ingested separately (mapped by
 * external id; test events of users/items unknown to train are counted, not scored). */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/timer.h"
#include "io/model.h"
#include "jobs/commands.h"
#include "jobs/dataset.h"
#include "solvers/metrics.h"
#include "solvers/score.h"
#include "solvers/topk.h"

static const char usage[] =
    "hpcrec evaluate --model MODEL.tar --train DATASET --test DATASET [--k 10,20] [--baseline pop] [--json FILE]\n";

#define BATCH 64

typedef struct {
    hr_rank_acc rank;
    hr_beyond_acc beyond;
    hr_rating_acc rating;
    uint64_t *exposure;   /* n_cutoffs x n_items */
    uint64_t fallback, pred_fallback;
} eval_acc;

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Dataset gid -> model gid (UINT32_MAX when the model does not know the id). */
static uint32_t *map_ids(const hr_dict *data, const hr_dict *model)
{
    uint32_t *map = hr_malloc((data->n ? data->n : 1) * sizeof *map);
    char key[512];
    for (uint64_t g = 0; g < data->n; g++) {
        size_t len = hr_dict_format(data, g, key, sizeof key);
        int64_t m = hr_dict_find(model, key, len);
        map[g] = m < 0 ? UINT32_MAX : (uint32_t)m;
    }
    return map;
}

/* Rank and score every local test user with one scorer. */
static int run_scorer(hr_job *job, const hr_scorer *sc, const hr_model *m, const hr_dataset *train, const hr_block *test,
                      const uint32_t *umap, const uint32_t *imap, const hr_scorer *fallback, const hr_item_stats *st,
                      const uint32_t *cut, uint32_t ncut, int rating, float vmin, float vmax, eval_acc *acc)
{
    uint32_t kmax = cut[ncut - 1];
    uint64_t n = sc->n_items;
    int k = sc->kind == HR_SCORER_FACTOR ? sc->k : 1;
    float *U = hr_malloc((size_t)BATCH * (size_t)k * sizeof *U);
    float *S = hr_malloc((size_t)BATCH * n * sizeof *S), *F = NULL;
    hr_topk_entry *heap = hr_malloc((kmax + 1) * sizeof *heap);
    uint32_t *ranked = hr_malloc((kmax + 1) * sizeof *ranked), *rel = NULL, *excl = NULL;
    double *work = hr_malloc(((size_t)st->k + 1) * sizeof *work);  /* ILD scratch: item-factor width */
    uint64_t relcap = 0, exclcap = 0;
    uint64_t rows[BATCH];
    const hr_block *tr = &train->by_user;
    for (uint64_t r0 = 0; r0 < test->nrows; r0 += BATCH) {
        uint32_t nb = 0;
        for (uint64_t r = r0; r < test->nrows && r < r0 + BATCH; r++) {
            if (test->ptr[r + 1] == test->ptr[r]) continue;
            uint32_t mu = umap[test->gid[r]];
            if (sc->kind == HR_SCORER_FACTOR && mu != UINT32_MAX)
                memcpy(U + (size_t)nb * (size_t)k, m->user_factors + (uint64_t)mu * (uint64_t)k, (size_t)k * sizeof *U);
            else if (sc->kind == HR_SCORER_FACTOR)
                memset(U + (size_t)nb * (size_t)k, 0, (size_t)k * sizeof *U);
            rows[nb++] = r;
        }
        if (nb == 0) continue;
        hr_score_users(sc, U, nb, S);
        for (uint32_t b = 0; b < nb; b++) {
            uint64_t r = rows[b];
            uint32_t mu = umap[test->gid[r]];
            const float *srow = S + (uint64_t)b * n;
            if (sc->kind == HR_SCORER_FACTOR && mu == UINT32_MAX) {
                if (!F) F = hr_malloc(n * sizeof *F);
                hr_score_users(fallback, NULL, 1, F);
                srow = F;
                acc->fallback++;
            }
            /* train row of this user: same partition, same local index (train and test share
             * dictionaries and the test block was loaded under the train partition) */
            uint64_t tn = tr->ptr[r + 1] - tr->ptr[r], rn = test->ptr[r + 1] - test->ptr[r];
            if (tn > exclcap) { exclcap = tn * 2; hr_free(excl); excl = hr_malloc(exclcap * sizeof *excl); }
            if (rn > relcap) { relcap = rn * 2; hr_free(rel); rel = hr_malloc(relcap * sizeof *rel); }
            uint64_t ne = 0, nr = 0;
            for (uint64_t e = tr->ptr[r]; e < tr->ptr[r + 1]; e++)
                if (imap[tr->idx[e]] != UINT32_MAX) excl[ne++] = imap[tr->idx[e]];
            /* A test item the model does not know stays relevant (a miss): give it an id past
             * the catalogue so it can never be hit. */
            for (uint64_t e = test->ptr[r]; e < test->ptr[r + 1]; e++)
                rel[nr++] = imap[test->idx[e]] != UINT32_MAX ? imap[test->idx[e]] : (uint32_t)(n + (e - test->ptr[r]));
            qsort(excl, ne, sizeof *excl, cmp_u32);
            qsort(rel, nr, sizeof *rel, cmp_u32);
            hr_topk h;
            hr_topk_init(&h, heap, kmax);
            hr_topk_push_row(&h, srow, 0, (uint32_t)n, excl, ne);
            uint32_t len = hr_topk_sorted(&h, ranked, NULL);
            hr_metrics_add_user(&acc->rank, ranked, len, rel, (uint32_t)nr, NULL);
            hr_metrics_add_beyond(&acc->beyond, st, ranked, len, acc->exposure, work);
            if (rating) {
                for (uint64_t e = test->ptr[r]; e < test->ptr[r + 1]; e++) {
                    uint32_t mi = imap[test->idx[e]];
                    float p;
                    if (mu == UINT32_MAX || mi == UINT32_MAX) {
                        p = m->global_mean + (mu != UINT32_MAX && m->user_bias ? m->user_bias[mu] : 0.0f) +
                            (mi != UINT32_MAX && m->item_bias ? m->item_bias[mi] : 0.0f);
                        acc->pred_fallback++;
                    } else {
                        p = hr_score_predict(m->user_factors + (uint64_t)mu * (uint64_t)m->k,
                                             m->item_factors + (uint64_t)mi * (uint64_t)m->k, m->k, m->global_mean,
                                             m->user_bias ? &m->user_bias[mu] : NULL, m->item_bias ? &m->item_bias[mi] : NULL);
                    }
                    p = p < vmin ? vmin : p > vmax ? vmax : p;
                    hr_metrics_add_rating(&acc->rating, p, test->val[e]);
                }
            }
        }
    }
    hr_free(U); hr_free(S); hr_free(F); hr_free(heap); hr_free(ranked); hr_free(rel); hr_free(excl); hr_free(work);
    /* Reduce every accumulator (all fields are sums). */
    HR_TRY(hr_comm_allreduce_sum_f64(job->comm, acc->rank.sum, HR_RANK_NSUM));
    HR_TRY(hr_comm_allreduce_sum_u64(job->comm, acc->rank.count, HR_RANK_NCOUNT));
    HR_TRY(hr_comm_allreduce_sum_f64(job->comm, acc->beyond.sum, HR_METRICS_MAX_CUTOFFS * HR_BEYOND_NSUM));
    HR_TRY(hr_comm_allreduce_sum_u64(job->comm, acc->beyond.count, HR_METRICS_MAX_CUTOFFS * HR_BEYOND_NCOUNT));
    HR_TRY(hr_comm_allreduce_sum_f64(job->comm, acc->rating.sum, 2));
    HR_TRY(hr_comm_allreduce_sum_u64(job->comm, &acc->rating.count, 1));
    HR_TRY(hr_comm_allreduce_sum_u64(job->comm, acc->exposure, (size_t)ncut * n));
    uint64_t fb[2] = { acc->fallback, acc->pred_fallback };
    HR_TRY(hr_comm_allreduce_sum_u64(job->comm, fb, 2));
    acc->fallback = fb[0];
    acc->pred_fallback = fb[1];
    return 0;
}

static void report(hr_job *job, const char *prefix, const eval_acc *acc, uint64_t n_items, int rating)
{
    hr_rank_means rm;
    hr_beyond_means bm;
    hr_metrics_finalize_rank(&acc->rank, &rm);
    hr_metrics_finalize_beyond(&acc->beyond, acc->exposure, (uint32_t)n_items, &bm);
    char key[96], line[2048];
    int off = snprintf(line, sizeof line, "%-6s", prefix[0] ? "pop" : "model");
    for (uint32_t c = 0; c < rm.n_cutoffs; c++) {
        for (int mtr = 0; mtr < HR_RANK_NMETRIC; mtr++) {
            snprintf(key, sizeof key, "%s%s@%u", prefix, hr_metrics_rank_name((hr_rank_metric)mtr), rm.cutoffs[c]);
            hr_job_set_real(job, key, rm.at[c][mtr]);
        }
        snprintf(key, sizeof key, "%scoverage@%u", prefix, rm.cutoffs[c]);
        hr_job_set_real(job, key, bm.coverage[c]);
        off += snprintf(line + off, sizeof line - (size_t)off, "  P@%u %.4f R@%u %.4f NDCG@%u %.4f MAP@%u %.4f HR@%u %.4f cov@%u %.3f",
                        rm.cutoffs[c], rm.at[c][HR_RANK_PRECISION], rm.cutoffs[c], rm.at[c][HR_RANK_RECALL], rm.cutoffs[c],
                        rm.at[c][HR_RANK_NDCG], rm.cutoffs[c], rm.at[c][HR_RANK_MAP], rm.cutoffs[c], rm.at[c][HR_RANK_HIT],
                        rm.cutoffs[c], bm.coverage[c]);
    }
    snprintf(key, sizeof key, "%smrr", prefix);
    hr_job_set_real(job, key, rm.mrr);
    snprintf(key, sizeof key, "%susers_evaluated", prefix);
    hr_job_set_int(job, key, (int64_t)rm.users_evaluated);
    snprintf(key, sizeof key, "%susers_fallback", prefix);
    hr_job_set_int(job, key, (int64_t)acc->fallback);
    if (rating) {
        double rmse, mae;
        hr_metrics_finalize_rating(&acc->rating, &rmse, &mae);
        snprintf(key, sizeof key, "%srmse", prefix);
        hr_job_set_real(job, key, rmse);
        snprintf(key, sizeof key, "%smae", prefix);
        hr_job_set_real(job, key, mae);
        snprintf(line + off, sizeof line - (size_t)off, "  RMSE %.4f MAE %.4f", rmse, mae);
    }
    hr_progress("evaluate   %s  (%llu users)", line, (unsigned long long)rm.users_evaluated);
}

int hr_cmd_evaluate(hr_job *job, int argc, char **argv)
{
    static const struct option lo[] = {
        { "model", required_argument, 0, 'm' }, { "train", required_argument, 0, 't' },
        { "test", required_argument, 0, 'T' }, { "k", required_argument, 0, 'k' },
        { "baseline", required_argument, 0, 'b' }, { "json", required_argument, 0, 'j' },
        { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 } };
    const char *model = NULL, *train = NULL, *test = NULL, *ks = "10,20", *baseline = NULL;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case 't': train = optarg; break;
        case 'T': test = optarg; break;
        case 'k': ks = optarg; break;
        case 'b': baseline = optarg; break;
        case 'j': job->json_path = optarg; break;
        case 'h': if (job->rank == 0) fputs(usage, stdout); return 0;
        default: return hr_opt_usage(job, usage);
        }
    }
    if (!model || !train || !test) return hr_error_set(&job->err, HR_ERR_ARG, "--model, --train and --test are required\n%s", usage);
    if (baseline && strcmp(baseline, "pop") != 0)
        return hr_error_set(&job->err, HR_ERR_ARG, "--baseline: '%s' is not supported (pop)", baseline);
    uint32_t cut[HR_METRICS_MAX_CUTOFFS], ncut = 0;
    for (const char *p = ks; *p;) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 1 || v > 100000 || ncut == HR_METRICS_MAX_CUTOFFS || (ncut && (uint32_t)v <= cut[ncut - 1]))
            return hr_error_set(&job->err, HR_ERR_ARG, "--k: '%s' must be increasing integers in 1..100000 (at most %d)", ks,
                                HR_METRICS_MAX_CUTOFFS);
        cut[ncut++] = (uint32_t)v;
        p = *end == ',' ? end + 1 : end;
        if (*end && *end != ',') return hr_error_set(&job->err, HR_ERR_ARG, "--k: '%s' is not a comma-separated list", ks);
    }
    if (ncut == 0) /* --k '': refuse now, not after loading the model and both datasets */
        return hr_error_set(&job->err, HR_ERR_ARG, "--k: '%s' gives no cutoff; need 1..%d increasing integers", ks,
                            HR_METRICS_MAX_CUTOFFS);
    double t0 = hr_now();
    hr_model m;
    hr_dataset tr, te;
    memset(&m, 0, sizeof m);
    memset(&tr, 0, sizeof tr);
    memset(&te, 0, sizeof te);
    eval_acc acc[2];
    memset(acc, 0, sizeof acc);
    uint32_t *umap = NULL, *imap = NULL;
    uint64_t *pop = NULL, unknown[2] = { 0, 0 };
    float *popf = NULL;
    int rc = hr_model_load(model, &m, &job->err);
    rc = hr_comm_agree(job->comm, rc, &job->err);
    if (rc == 0) rc = hr_dataset_load(job, train, HR_LOAD_BY_USER, &tr);
    if (rc == 0) rc = hr_dataset_load(job, test, HR_LOAD_BY_USER, &te);
    if (rc < 0) goto done;
    /* Test rows in train ids and under the train partition, so local row r is the same user in
     * both.  A test set ingested on its own is mapped by external id; test events of users or
     * items the training data never saw cannot be ranked and are counted instead. */
    {
        uint64_t n;
        hr_triple *t = hr_block_to_triples(&te.by_user, 0, &n);
        int same = hr_dict_fingerprint(&tr.users) == hr_dict_fingerprint(&te.users) &&
                   hr_dict_fingerprint(&tr.items) == hr_dict_fingerprint(&te.items);
        if (!same) {
            uint32_t *tu = map_ids(&te.users, &tr.users), *ti = map_ids(&te.items, &tr.items);
            uint64_t w = 0;
            for (uint64_t k = 0; k < n; k++) {
                if (tu[t[k].u] == UINT32_MAX) { unknown[0]++; continue; }
                if (ti[t[k].i] == UINT32_MAX) { unknown[1]++; continue; }
                t[w] = t[k];
                t[w].u = tu[t[k].u];
                t[w].i = ti[t[k].i];
                w++;
            }
            n = w;
            hr_free(tu);
            hr_free(ti);
        }
        rc = hr_part_shuffle(job->comm, &tr.upart, 0, &t, &n);
        if (rc == 0) {
            hr_triples_sort(t, n, &tr.upart, job->rank, 0);
            hr_block_free(&te.by_user);
            hr_block_from_triples(&te.by_user, t, n, NULL, &tr.upart, job->rank, 0);
        }
        hr_free(t);
        if (rc == 0) rc = hr_comm_allreduce_sum_u64(job->comm, unknown, 2);
        if (rc < 0) goto done;
    }
    umap = map_ids(&tr.users, &m.users);
    imap = map_ids(&tr.items, &m.items);
    /* Training popularity in model item order: the pop baseline, fallback and novelty. */
    pop = hr_calloc(m.n_items ? m.n_items : 1, sizeof *pop);
    popf = hr_calloc(m.n_items ? m.n_items : 1, sizeof *popf);
    for (uint64_t g = 0; g < tr.items.n; g++)
        if (imap[g] != UINT32_MAX) pop[imap[g]] = tr.items.nnz[g];
    for (uint64_t i = 0; i < m.n_items; i++) popf[i] = (float)pop[i];
    int rating = m.kind == HR_MODEL_FACTOR && m.user_bias != NULL;
    float vmin = -INFINITY, vmax = INFINITY;
    json_t *val = json_object_get(tr.manifest, "value");
    if (val) {
        vmin = (float)json_number_value(json_object_get(val, "min"));
        vmax = (float)json_number_value(json_object_get(val, "max"));
    }
    hr_scorer sc = { m.kind == HR_MODEL_FACTOR ? HR_SCORER_FACTOR : HR_SCORER_POP, m.k, m.n_items, m.item_factors,
                     m.item_bias, m.kind == HR_MODEL_POP ? m.item_scores : popf };
    hr_scorer popsc = { HR_SCORER_POP, 0, m.n_items, NULL, NULL, popf };
    hr_item_stats st = { (uint32_t)m.n_items, tr.users.n ? tr.users.n : 1, pop, NULL,
                         m.kind == HR_MODEL_FACTOR ? m.item_factors : NULL, (uint32_t)(m.kind == HR_MODEL_FACTOR ? m.k : 0) };
    for (int s = 0; s < (baseline ? 2 : 1) && rc == 0; s++) {
        rc = hr_metrics_init_rank(&acc[s].rank, cut, ncut, &job->err);
        if (rc == 0) rc = hr_metrics_init_beyond(&acc[s].beyond, cut, ncut, &job->err);
        hr_metrics_init_rating(&acc[s].rating);
        acc[s].exposure = hr_calloc((size_t)ncut * (m.n_items ? m.n_items : 1), sizeof *acc[s].exposure);
        if (rc == 0)
            rc = run_scorer(job, s == 0 ? &sc : &popsc, &m, &tr, &te.by_user, umap, imap, &popsc, &st, cut, ncut,
                            s == 0 && rating, vmin, vmax, &acc[s]);
        if (rc == 0) report(job, s == 0 ? "" : "pop.", &acc[s], m.n_items, s == 0 && rating);
    }
    if (rc == 0) {
        hr_job_set_str(job, "model", model);
        hr_job_set_str(job, "algo", m.algo);
        hr_job_set_int(job, "predictions_fallback", (int64_t)acc[0].pred_fallback);
        hr_job_set_int(job, "test_events_unknown_user", (int64_t)unknown[0]);
        hr_job_set_int(job, "test_events_unknown_item", (int64_t)unknown[1]);
        if (unknown[0] || unknown[1])
            hr_progress("evaluate   %llu test events of users and %llu of items absent from %s were not scored",
                        (unsigned long long)unknown[0], (unsigned long long)unknown[1], train);
        hr_progress("evaluate   done in %.2fs", hr_now() - t0);
    }
done:
    for (int s = 0; s < 2; s++) hr_free(acc[s].exposure);
    hr_free(umap);
    hr_free(imap);
    hr_free(pop);
    hr_free(popf);
    hr_model_free(&m);
    hr_dataset_free(&tr);
    hr_dataset_free(&te);
    return rc;
}
