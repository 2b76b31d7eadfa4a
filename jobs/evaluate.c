/* hpcrec evaluate — offline metrics of a model on a train/test split.
 *
 * For every user with test interactions: rank the catalogue (items with training
 * interactions) minus the user's training items, take the top max(K) and compare with the
 * user's test items; the true MRR ranks the whole candidate set.  Reported per K: accuracy
 * (precision, recall, ndcg, map, hr), beyond accuracy (coverage, novelty, arp, gini, tail,
 * ild), the same accuracy per user-activity tercile and per head/tail relevant items, and
 * rmse/mae for rating models.  Baselines (--baseline pop,random) and a second model
 * (--compare, with paired-bootstrap intervals of the per-user differences) run over the same
 * users with the same rules.  Definitions: docs/evaluation.md; math: solvers/metrics.h.
 *
 * Train and test may share dictionaries (one `split`) or be ingested separately (mapped by
 * exact external id; test events of items unknown to train are counted, not scored; users
 * unknown to train are ranked by popularity, as recommend serves them).  Users with no
 * training interactions (a time split) are ranked by popularity and counted; items with none
 * are not candidates, so their test events are misses, also counted.  For an implicit model
 * a test event of value 0 is not relevant.  Nothing to evaluate is an error (exit 3) with no
 * metric written. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/timer.h"
#include "jobs/commands.h"
#include "jobs/evaluate_parts.h"
#include "jobs/evaluate_cold.h"
#include "jobs/ringrows.h"
#include "jobs/rowfetch.h"

static const char usage[] =
    "hpcrec evaluate --model MODEL.tar --train DATASET --test DATASET [--k 10,20] [--baseline pop,random]\n"
    "                [--compare MODEL2.tar] [--seed S] [--json FILE] [--fold-in DATASET] [--fold-in-min N (default 1)]\n"
    "                [--cold-items --item-features FILE [--features-format F] ... [--features-max N] [--features-lambda L]\n"
    "                 [--features-grid auto|yes|no]]\n";

/* Head items: the most popular items that together hold this share of training interactions. */
#define HEAD_FRACTION 0.2

/* This rank's share of a model: the rows of the training users it owns (test rows are aligned
 * to the same partition) and its block of the model's items (the ring of evaluate_ring.c
 * brings the other blocks; an item-item model's share of column blocks, which travel round
 * the ring of jobs/ringrows.h). */
static int load_model_part(hr_job *job, const char *path, hr_model *m, const hr_dataset *tr)
{
    const hr_block *b = &tr->by_user;
    uint32_t *umap = hr_dict_match(&tr->users, &m->users, NULL);
    uint64_t w = 0, *ids = hr_malloc((b->nrows + 1) * sizeof *ids);
    for (uint64_t r = 0; r < b->nrows; r++)
        if (umap[b->gid[r]] != UINT32_MAX) ids[w++] = umap[b->gid[r]];
    hr_free(umap);
    hr_model_part part = { ids, w, 0, 0, NULL, 0 };
    hr_ring_item_share(m, job->rank, job->size, &part.item_lo, &part.item_hi);
    int rc = hr_model_load_part(path, m, &part, &job->err);
    hr_free(ids);
    return rc;
}

/* A model as a scorer over the train item order (id maps both ways; a factor model's item
 * blocks for the ring and for ild@K). */
static void model_scorer(ev_scorer *s, const hr_model *m, const hr_dataset *tr, const char *row, const char *prefix,
                         const hr_job *job)
{
    memset(s, 0, sizeof *s);
    s->row = row;
    s->prefix = prefix;
    s->kind = EV_MODEL;
    s->m = m;
    s->umap = hr_dict_match(&tr->users, &m->users, NULL);
    /* test users absent from train (ids >= tr->users.n, align_test): no factors, popularity */
    if (tr->upart.n > tr->users.n) {
        s->umap = hr_realloc(s->umap, tr->upart.n * sizeof *s->umap);
        for (uint64_t g = tr->users.n; g < tr->upart.n; g++) s->umap[g] = UINT32_MAX;
    }
    if (m->partial)   /* model user id -> row of this rank's part (users of other ranks: none) */
        for (uint64_t g = 0; g < tr->users.n; g++)
            if (s->umap[g] != UINT32_MAX) {
                int64_t r = hr_model_user_row(m, s->umap[g]);
                s->umap[g] = r < 0 ? UINT32_MAX : (uint32_t)r;
            }
    s->imap = hr_dict_match(&tr->items, &m->items, NULL);
    s->rating = (m->kind == HR_MODEL_FACTOR || hr_model_blocked(m->kind)) && m->user_bias != NULL;
    const uint64_t n = tr->items.n;
    if (m->kind == HR_MODEL_POP) {
        s->pop_row = hr_malloc((n ? n : 1) * sizeof *s->pop_row);
        for (uint64_t i = 0; i < n; i++) s->pop_row[i] = s->imap[i] != UINT32_MAX ? m->item_scores[s->imap[i]] : NAN;
        return;
    }
    if (hr_model_blocked(m->kind)) return;   /* no item factors: no ild@K */
    ev_items *it = &s->items;
    it->m = m;
    it->n = m->n_items;
    it->lo = hr_block_lo(m->n_items, job->size, job->rank);
    it->hi = hr_block_lo(m->n_items, job->size, job->rank + 1);
    it->k = m->k;
    it->imap = s->imap;
    it->inv = hr_malloc((m->n_items ? m->n_items : 1) * sizeof *it->inv);
    for (uint64_t j = 0; j < m->n_items; j++) it->inv[j] = UINT32_MAX;
    for (uint64_t i = 0; i < n; i++)
        if (s->imap[i] != UINT32_MAX) it->inv[s->imap[i]] = (uint32_t)i;
    s->ild = it;
}

static void scorer_free(ev_scorer *s)
{
    hr_free(s->umap);
    hr_free(s->imap);
    hr_free(s->pop_row);
    hr_free(s->items.inv);
    memset(s, 0, sizeof *s);
}

/* Test rows in train ids and under the train partition, so local row r is the same user in
 * both.  A test set ingested on its own is mapped by external id.  Test events of items the
 * training data never saw cannot be ranked: counted (drop[1]), not scored.  Test users the
 * training data never saw get the documented fallback, as in recommend: they are ranked by
 * popularity with no training items, like a cold user.  They become extra train user ids
 * n..n+v-1 with no interactions (rows appended to the partition and to train's by-user block,
 * zeros appended to train's user counts); their events are counted in drop[0] and scored.
 * With `implicit`, a test event of value 0 (an impression without a click) is not relevant,
 * as training treats it as unobserved: counted in drop[2] and left out. */
static int align_test(hr_job *job, hr_dataset *tr, hr_dataset *te, int implicit, uint64_t drop[3])
{
    uint64_t n, v = 0;
    hr_triple *t = hr_block_to_triples(&te->by_user, 0, &n);
    int same = hr_dict_fingerprint(&tr->users) == hr_dict_fingerprint(&te->users) &&
               hr_dict_fingerprint(&tr->items) == hr_dict_fingerprint(&te->items);
    uint32_t *tu = NULL, *ti = NULL;
    if (!same) {
        tu = hr_dict_match(&te->users, &tr->users, NULL);
        ti = hr_dict_match(&te->items, &tr->items, NULL);
        /* the same extra ids on every rank: test dictionary order */
        for (uint64_t g = 0; g < te->users.n; g++)
            if (tu[g] == UINT32_MAX) tu[g] = (uint32_t)(tr->users.n + v++);
    }
    uint64_t w = 0;
    for (uint64_t k = 0; k < n; k++) {
        if (implicit && t[k].v == 0.0f) { drop[2]++; continue; }
        if (!same) {
            if (ti[t[k].i] == UINT32_MAX) { drop[1]++; continue; }
            drop[0] += tu[t[k].u] >= tr->users.n;
            t[k].u = tu[t[k].u];
            t[k].i = ti[t[k].i];
        }
        t[w++] = t[k];
    }
    n = w;
    hr_free(tu);
    hr_free(ti);
    if (v) {
        const uint64_t n0 = tr->users.n;
        if (n0 + v >= UINT32_MAX) {
            hr_free(t);
            return hr_error_set(&job->err, HR_ERR_ARG, "%s: train and test users together reach 2^32 - 1", te->dir);
        }
        hr_part_append(&tr->upart, v);
        uint64_t mine = 0;
        uint32_t *gids = hr_malloc((v / (uint64_t)job->size + 1) * sizeof *gids);
        for (uint64_t j = (uint64_t)job->rank; j < v; j += (uint64_t)job->size) gids[mine++] = (uint32_t)(n0 + j);
        hr_block_add_rows(&tr->by_user, gids, mine);
        hr_free(gids);
        tr->users.nnz = hr_realloc(tr->users.nnz, (n0 + v) * sizeof *tr->users.nnz);
        memset(tr->users.nnz + n0, 0, v * sizeof *tr->users.nnz);
    }
    int rc = hr_part_shuffle(job->comm, &tr->upart, 0, &t, &n);
    if (rc == 0) {
        hr_triples_sort(t, n, &tr->upart, job->rank, 0);
        hr_block_free(&te->by_user);
        hr_block_from_triples(&te->by_user, t, n, NULL, &tr->upart, job->rank, 0);
    }
    hr_free(t);
    if (rc == 0) rc = hr_comm_allreduce_sum_u64(job->comm, drop, 3);
    return rc;
}

/* --fold-in DATASET: extra history rows (today's first events of users the model does not know)
 * joined to the train rows of their users, after align_test.  Users are matched by external id
 * to train's users, else to test's (the ids align_test appended, n0.. in test dictionary order,
 * recomputed here); users in neither have nothing to evaluate and items absent from train
 * cannot be scored: both dropped and counted (ev[1]).  Train's item counts stay those of train
 * (popularity, the catalogue); the users' counts grow by their fold-in events. */
static int merge_fold_in(hr_job *job, const char *path, hr_dataset *tr, const hr_dataset *te, uint64_t ev[2])
{
    hr_dataset fo;
    int rc = hr_dataset_load(job, path, HR_LOAD_BY_USER, &fo);
    if (rc < 0) {
        hr_dataset_free(&fo);
        return rc;
    }
    const uint64_t n0 = tr->users.n, nu = tr->upart.n;
    uint32_t *fu = hr_dict_match(&fo.users, &tr->users, NULL), *fi = hr_dict_match(&fo.items, &tr->items, NULL);
    uint32_t *ft = hr_dict_match(&fo.users, &te->users, NULL), *tu = hr_dict_match(&te->users, &tr->users, NULL);
    uint64_t v = 0;
    for (uint64_t g = 0; g < te->users.n; g++)   /* align_test's numbering of test-only users */
        if (tu[g] == UINT32_MAX) tu[g] = (uint32_t)(n0 + v++);
        else tu[g] = UINT32_MAX;
    if (n0 + v != nu) v = 0;   /* align_test matched the dictionaries whole: no test-only users */
    uint64_t nf, nt;
    hr_triple *f = hr_block_to_triples(&fo.by_user, 0, &nf), *t = hr_block_to_triples(&tr->by_user, 0, &nt);
    t = hr_realloc(t, (nt + nf + 1) * sizeof *t);
    uint64_t *cnt = hr_calloc(nu ? nu : 1, sizeof *cnt);
    for (uint64_t e = 0; e < nf; e++) {
        uint32_t u = fu[f[e].u];
        if (u == UINT32_MAX && v && ft[f[e].u] != UINT32_MAX) u = tu[ft[f[e].u]];
        if (u == UINT32_MAX || fi[f[e].i] == UINT32_MAX) { ev[1]++; continue; }
        f[e].u = u;
        f[e].i = fi[f[e].i];
        t[nt++] = f[e];
        cnt[u]++;
        ev[0]++;
    }
    hr_free(f); hr_free(fu); hr_free(fi); hr_free(ft); hr_free(tu);
    hr_dataset_free(&fo);
    rc = hr_part_shuffle(job->comm, &tr->upart, 0, &t, &nt);
    if (rc == 0) {
        hr_triples_sort(t, nt, &tr->upart, job->rank, 0);
        hr_block_free(&tr->by_user);
        hr_block_from_triples(&tr->by_user, t, nt, NULL, &tr->upart, job->rank, 0);
    }
    hr_free(t);
    if (rc == 0) rc = hr_comm_allreduce_sum_u64(job->comm, cnt, nu);
    if (rc == 0) rc = hr_comm_allreduce_sum_u64(job->comm, ev, 2);
    for (uint64_t g = 0; rc == 0 && g < nu; g++) tr->users.nnz[g] += cnt[g];
    hr_free(cnt);
    return rc;
}

/* Item context (catalogue, head/tail) and user context (activity terciles, cold users). */
static int build_context(hr_job *job, const hr_dataset *tr, const hr_block *te, ev_data *d, float **popf,
                         uint8_t **cold, uint8_t **head, uint64_t counts[5])
{
    const uint32_t n = d->n_items;
    *popf = hr_malloc((n ? n : 1) * sizeof **popf);
    *cold = hr_malloc(n ? n : 1);
    *head = hr_malloc(n ? n : 1);
    for (uint32_t i = 0; i < n; i++) {
        (*popf)[i] = (float)tr->items.nnz[i];
        (*cold)[i] = tr->items.nnz[i] == 0;
        d->n_cand += !(*cold)[i];
    }
    d->n_head = hr_metrics_mark_head(tr->items.nnz, n, HEAD_FRACTION, *head);
    for (uint32_t i = 0; i < n; i++) d->n_tail_cand += !(*head)[i] && !(*cold)[i];
    d->pop = tr->items.nnz;
    d->popf = *popf;
    d->cold = *cold;
    d->is_head = *head;

    /* counts: users_cold, test events on cold items, distinct cold items in test (below),
     * users absent from train (ids appended by align_test), users evaluated. */
    uint64_t *item_seen = hr_calloc(n ? n : 1, sizeof *item_seen);
    for (uint64_t r = 0; r < te->nrows; r++) {
        uint64_t len = te->ptr[r + 1] - te->ptr[r];
        if (!len) continue;
        d->n_eval_local++;
        if (len > d->max_test_row) d->max_test_row = len;
        counts[0] += tr->users.nnz[te->gid[r]] == 0;
        counts[3] += te->gid[r] >= tr->users.n;
        for (uint64_t e = te->ptr[r]; e < te->ptr[r + 1]; e++)
            if ((*cold)[te->idx[e]]) { counts[1]++; item_seen[te->idx[e]] = 1; }
    }
    counts[4] = d->n_eval_local;
    int rc = hr_comm_allreduce_max_u64(job->comm, item_seen, n);
    for (uint32_t i = 0; rc == 0 && i < n; i++) counts[2] += item_seen[i];
    hr_free(item_seen);
    uint64_t sum[4] = { counts[0], counts[1], counts[3], counts[4] };
    if (rc == 0) rc = hr_comm_allreduce_sum_u64(job->comm, sum, 4);
    counts[0] = sum[0];
    counts[1] = sum[1];
    counts[3] = sum[2];
    counts[4] = sum[3];

    /* Activity terciles of the training users (those with >= 1 training interaction), each
     * counted by the rank that owns it: a histogram summed across ranks gives the same cut
     * points as sorting every count, at the size of the largest count. */
    const hr_block *b = &tr->by_user;
    uint64_t mx = 0;
    for (uint64_t r = 0; r < b->nrows; r++)
        if (b->ptr[r + 1] - b->ptr[r] > mx) mx = b->ptr[r + 1] - b->ptr[r];
    if (rc == 0) rc = hr_comm_allreduce_max_u64(job->comm, &mx, 1);
    if (rc < 0) return rc;
    const uint32_t bins = (uint32_t)mx + 2;
    uint64_t *hist = hr_calloc(bins, sizeof *hist);
    for (uint64_t r = 0; r < b->nrows; r++)
        if (b->ptr[r + 1] > b->ptr[r]) hr_metrics_add_activity(hist, bins, b->ptr[r + 1] - b->ptr[r]);
    rc = hr_comm_allreduce_sum_u64(job->comm, hist, bins);
    if (rc == 0) hr_metrics_tercile_cuts(hist, bins, d->act_cuts);
    hr_free(hist);
    return rc;
}

/* --baseline LIST: comma-separated pop / random, each at most once. */
static int parse_baselines(hr_job *job, const char *list, int *pop, int *rnd)
{
    for (const char *p = list; *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        int *flag = len == 3 && !strncmp(p, "pop", 3) ? pop : len == 6 && !strncmp(p, "random", 6) ? rnd : NULL;
        if (!flag || *flag)
            return hr_error_set(&job->err, HR_ERR_ARG, "--baseline: '%s' must list pop and/or random, each once", list);
        *flag = 1;
        if (!end) break;
        p = end + 1;
        if (!*p) return hr_error_set(&job->err, HR_ERR_ARG, "--baseline: '%s' ends with a comma", list);
    }
    return 0;
}

static int parse_cutoffs(hr_job *job, const char *ks, uint32_t *cut, uint32_t *ncut)
{
    *ncut = 0;
    for (const char *p = ks; *p;) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 1 || v > 100000 || *ncut == HR_METRICS_MAX_CUTOFFS || (*ncut && (uint32_t)v <= cut[*ncut - 1]))
            return hr_error_set(&job->err, HR_ERR_ARG, "--k: '%s' must be increasing integers in 1..100000 (at most %d)", ks,
                                HR_METRICS_MAX_CUTOFFS);
        cut[(*ncut)++] = (uint32_t)v;
        p = *end == ',' ? end + 1 : end;
        if (*end && *end != ',') return hr_error_set(&job->err, HR_ERR_ARG, "--k: '%s' is not a comma-separated list", ks);
    }
    if (*ncut == 0) /* --k '': refuse now, not after loading the model and both datasets */
        return hr_error_set(&job->err, HR_ERR_ARG, "--k: '%s' gives no cutoff; need 1..%d increasing integers", ks,
                            HR_METRICS_MAX_CUTOFFS);
    return 0;
}

int hr_cmd_evaluate(hr_job *job, int argc, char **argv)
{
    static const struct option lo[] = {
        { "model", required_argument, 0, 'm' }, { "train", required_argument, 0, 't' },
        { "test", required_argument, 0, 'T' }, { "k", required_argument, 0, 'k' },
        { "baseline", required_argument, 0, 'b' }, { "compare", required_argument, 0, 'c' },
        { "seed", required_argument, 0, 's' }, { "json", required_argument, 0, 'j' },
        { "fold-in", required_argument, 0, 'F' }, { "fold-in-min", required_argument, 0, 'M' },
        { "cold-items", no_argument, 0, 'C' }, HR_CONTENT_LONGOPTS,
        { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 } };
    const char *model = NULL, *train = NULL, *test = NULL, *ks = "10,20", *baseline = NULL, *compare = NULL, *fold = NULL;
    int64_t seed = 1, fold_min = 1;
    int cold_mode = 0;
    hr_content_opts co;
    hr_content_opts_init(&co);
    int c, want_pop = 0, want_random = 0;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case 't': train = optarg; break;
        case 'T': test = optarg; break;
        case 'k': ks = optarg; break;
        case 'b': baseline = optarg; break;
        case 'c': compare = optarg; break;
        case 's': HR_TRY(hr_opt_i64(job, "--seed", optarg, 0, INT64_MAX, &seed)); break;
        case 'F': fold = optarg; break;
        case 'M': HR_TRY(hr_opt_i64(job, "--fold-in-min", optarg, 1, UINT32_MAX, &fold_min)); break;
        case 'C': cold_mode = 1; break;
        case HR_CONTENT_OPT_FILE: case HR_CONTENT_OPT_FORMAT: case HR_CONTENT_OPT_MAX: case HR_CONTENT_OPT_LAMBDA: case HR_CONTENT_OPT_GRID:
            HR_TRY(hr_content_opt(job, &co, c, optarg));
            break;
        case 'j': job->json_path = optarg; break;
        case 'h': if (job->rank == 0) fputs(usage, stdout); return 0;
        default: return hr_opt_usage(job, usage);
        }
    }
    if (!model || !train || !test) return hr_error_set(&job->err, HR_ERR_ARG, "--model, --train and --test are required\n%s", usage);
    if (baseline) HR_TRY(parse_baselines(job, baseline, &want_pop, &want_random));
    if (cold_mode != (co.nfiles > 0)) return hr_error_set(&job->err, HR_ERR_ARG, "--cold-items and --item-features go together");
    if (cold_mode && (compare || fold))
        return hr_error_set(&job->err, HR_ERR_ARG, "--cold-items: not with --compare or --fold-in (it reports its own comparison)");

    /* The random baseline's numbers are a function of the seed: demand it, so a report that
     * quotes them always records which draw it was. */
    ev_data d;
    memset(&d, 0, sizeof d);
    HR_TRY(parse_cutoffs(job, ks, d.cut, &d.ncut));
    d.seed = (uint64_t)seed;
    d.fold_min = (uint64_t)fold_min;

    double t0 = hr_now();
    hr_model m, m2;
    hr_dataset tr, te;
    memset(&m, 0, sizeof m);
    memset(&m2, 0, sizeof m2);
    memset(&tr, 0, sizeof tr);
    memset(&te, 0, sizeof te);
    ev_scorer sc[4];
    ev_result res[4];
    memset(sc, 0, sizeof sc);
    memset(res, 0, sizeof res);
    uint32_t nsc = 0;
    uint64_t unknown[3] = { 0, 0, 0 }, counts[5] = { 0, 0, 0, 0, 0 };
    float *popf = NULL;
    uint8_t *cold = NULL, *head = NULL;
    ev_table *table = hr_calloc(1, sizeof *table);
    /* Models: dictionaries first, then only the rows of this rank's users (and every item). */
    int rc = hr_model_load_dicts(model, &m, &job->err);
    if (rc == 0 && compare) rc = hr_model_load_dicts(compare, &m2, &job->err);
    rc = hr_comm_agree(job->comm, rc, &job->err);
    if (rc == 0) rc = hr_dataset_load(job, train, HR_LOAD_BY_USER, &tr);
    if (rc == 0) rc = load_model_part(job, model, &m, &tr);
    if (rc == 0 && compare) rc = load_model_part(job, compare, &m2, &tr);
    rc = hr_comm_agree(job->comm, rc, &job->err);
    if (rc == 0) rc = hr_dataset_load(job, test, HR_LOAD_BY_USER, &te);
    if (rc == 0 && (!tr.users.nnz || !tr.items.nnz))
        rc = hr_error_set(&job->err, HR_ERR_FORMAT, "%s: dictionaries without interaction counts", train);
    if (rc == 0 && tr.items.n >= UINT32_MAX) rc = hr_error_set(&job->err, HR_ERR_ARG, "%s: 2^32 - 1 items or more", train);
    /* Implicit feedback (ials): a test event of value 0 is not relevant (training treats a 0
     * as unobserved).  Decided by the main model, for every scorer of the run alike. */
    const int implicit = rc == 0 && (strcmp(m.algo, "ials") == 0 || ((strcmp(m.algo, "itemknn") == 0 || strcmp(m.algo, "userknn") == 0) && m.row_weight == HR_ROWS_BINARY));
    if (rc == 0) rc = align_test(job, &tr, &te, implicit, unknown);
    uint64_t fold_ev[2] = { 0, 0 };
    if (rc == 0 && fold) rc = merge_fold_in(job, fold, &tr, &te, fold_ev);
    if (rc < 0) goto done;
    d.n_items = (uint32_t)tr.items.n;
    d.n_users = tr.users.n ? tr.users.n : 1;
    d.tr = &tr;
    d.te = &te.by_user;
    rc = build_context(job, &tr, &te.by_user, &d, &popf, &cold, &head, counts);
    if (rc < 0) goto done;
    hr_job_set_str(job, "model", model);
    hr_job_set_str(job, "algo", m.algo);
    hr_job_set_int(job, "users_cold", (int64_t)counts[0]);
    hr_job_set_int(job, "users_unknown", (int64_t)counts[3]);
    hr_job_set_int(job, "test_events_cold_item", (int64_t)counts[1]);
    hr_job_set_int(job, "items_cold", (int64_t)counts[2]);
    hr_job_set_int(job, "test_events_unknown_user", (int64_t)unknown[0]);
    hr_job_set_int(job, "test_events_unknown_item", (int64_t)unknown[1]);
    hr_job_set_int(job, "test_events_not_relevant", (int64_t)unknown[2]);
    if (fold) {
        hr_job_set_int(job, "fold_in_events", (int64_t)fold_ev[0]);
        hr_job_set_int(job, "fold_in_events_dropped", (int64_t)fold_ev[1]);
    }
    if (counts[4] == 0) {
        /* Nothing to measure: no metric is written (a 0 would read as a measured value), the
         * summary says why, and the exit code is 3 so a gate refuses the day. */
        hr_job_set_int(job, "users_evaluated", 0);
        rc = hr_comm_agree(job->comm, hr_job_write_summary(job), &job->err);
        if (rc == 0)
            rc = hr_error_set(&job->err, HR_ERR_FORMAT,
                              "%s: nothing evaluated: no test event can be scored against %s (%llu test events of items "
                              "absent from train, %llu of value 0, not relevant for an implicit model); no metrics written",
                              test, train, (unsigned long long)unknown[1], (unsigned long long)unknown[2]);
        goto done;
    }
    d.vmin = -INFINITY;
    d.vmax = INFINITY;
    json_t *val = json_object_get(tr.manifest, "value");
    if (val) {
        d.vmin = (float)json_number_value(json_object_get(val, "min"));
        d.vmax = (float)json_number_value(json_object_get(val, "max"));
    }

    model_scorer(&sc[nsc++], &m, &tr, "model", "", job);
    if (cold_mode) {   /* the cold items alone, from their content (jobs/evaluate_cold.c) */
        rc = ev_cold(job, &d, &sc[0], &tr, &co);
        goto done;
    }
    sc[0].keep_users = compare != NULL;
    if (compare) {
        model_scorer(&sc[nsc], &m2, &tr, "model2", "model2.", job);
        sc[nsc].keep_users = 1;
        if (!sc[nsc].ild) sc[nsc].ild = sc[0].ild;
        nsc++;
    }
    /* Scorers without item factors of their own (pop models, baselines) have their ild@K
     * measured with the main model's, so every list is compared in one embedding space. */
    if (want_pop) sc[nsc++] = (ev_scorer){ .row = "pop", .prefix = "pop.", .kind = EV_POP, .ild = sc[0].ild };
    if (want_random) sc[nsc++] = (ev_scorer){ .row = "random", .prefix = "random.", .kind = EV_RANDOM, .ild = sc[0].ild };
    for (uint32_t s = 0; s < nsc && rc == 0; s++) {
        double ts = hr_now();
        rc = ev_run(job, &d, &sc[s], &res[s]);
        if (rc < 0) break;
        ev_report(job, &d, &sc[s], &res[s], table);
        hr_free(res[s].exposure);
        res[s].exposure = NULL;
        const struct ev_row *w = &table->rows[table->n - EV_NSEG];
        hr_progress("evaluate   %-7s %llu users ranked in %.2fs: ndcg@%u %.4f  recall@%u %.4f  mrr %.4f", sc[s].row,
                    (unsigned long long)w->users, hr_now() - ts, d.cut[0], w->at[0][EV_COL_NDCG], d.cut[0],
                    w->at[0][EV_COL_R], w->mrr);
        if (res[s].folded)
            hr_progress("evaluate   %-7s %llu users unknown to the model folded in (%.3fs); %llu by popularity", sc[s].row,
                        (unsigned long long)res[s].folded, res[s].seconds_fold_in, (unsigned long long)res[s].fallback);
    }
    if (rc < 0) goto done;
    hr_job_set_int(job, "catalogue_items", d.n_cand);
    hr_job_set_int(job, "head_items", d.n_head);
    hr_job_set_real(job, "head_fraction", HEAD_FRACTION);
    hr_job_set_int(job, "activity_cut_light", (int64_t)d.act_cuts[0]);
    hr_job_set_int(job, "activity_cut_medium", (int64_t)d.act_cuts[1]);
    if (want_random || compare) hr_job_set_int(job, "seed", seed);
    ev_table_print(job, &d, table);
    if (compare) rc = ev_compare(job, &d, model, compare, &res[0], &res[1], sc[0].rating && sc[1].rating);
    if (rc < 0) goto done;
    if (unknown[0])
        hr_progress("evaluate   %llu test users (%llu test events) absent from %s were ranked by popularity%s", (unsigned long long)counts[3],
                    (unsigned long long)unknown[0], train, fold ? " unless folded in from --fold-in" : "");
    if (unknown[1] || unknown[2])
        hr_progress("evaluate   not scored: %llu test events of items absent from %s, %llu of value 0 (not relevant for an implicit model)",
                    (unsigned long long)unknown[1], train, (unsigned long long)unknown[2]);
    if (counts[0] || counts[1])
        hr_progress("evaluate   %llu test users had no training interactions (ranked by popularity); %llu test events on "
                    "%llu items without training interactions cannot be hit",
                    (unsigned long long)counts[0], (unsigned long long)counts[1], (unsigned long long)counts[2]);
    hr_progress("evaluate   done in %.2fs", hr_now() - t0);
done:
    for (uint32_t s = 0; s < 4; s++) {
        ev_result_free(&res[s]);
        if (sc[s].kind == EV_MODEL) scorer_free(&sc[s]);
    }
    hr_free(table);
    hr_free(popf);
    hr_free(cold);
    hr_free(head);
    hr_model_free(&m);
    hr_model_free(&m2);
    hr_dataset_free(&tr);
    hr_dataset_free(&te);
    return rc;
}
