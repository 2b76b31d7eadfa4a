/* hpcrec recommend — top-N items for every user (or the users listed in --users FILE).
 *
 * Distribution: each rank scores the users it owns in the dataset against the catalogue, which
 * travels round the ring in blocks (jobs/ringscore.h: blocked SGEMM + bounded top-N; item-item
 * models: B's column blocks, jobs/ringrows.h).  A rank reads only its share of the model: its
 * users' factor rows and its own block of item factors or of B's columns (io/model.h partial
 * load), so memory per rank shrinks with the number of ranks.  Models that score from a user's
 * row (item-item; factor models with fold-in, for users they do not know) get the user's row
 * of --data, weighted as the model says; ALS / iALS models fold such a user in by one
 * least-squares solve against the fixed item factors (jobs/foldin.h) when the row holds at
 * least --fold-in-min items the model knows ("fold-in" in the source column).
 * User-user models (userknn) score a user from its stored neighbours' --data rows, which travel
 * round the ring (jobs/recommend_userknn.h); users without neighbours go by popularity.
 * Excluded: items the user has in the dataset (unless --include-seen), items in --exclude FILE.
 * Users the model does not know get the most popular items they have not seen, marked
 * "popular" in the source column.  --diversify L re-ranks 5N candidates by maximal marginal
 * relevance on item factors: pick argmax (1-L) * relevance - L * max cosine to items picked;
 * the candidates' factor rows are fetched by id from the ranks holding their blocks
 * (jobs/rowfetch.h), a batch of users at a time, so no rank holds the item matrix.
 * --item-features FILE (models trained with it): the items of FILE the model does not know, or
 * knows without training interactions, are scored from their content (jobs/recommend_content.h,
 * source "content"); --cold-slots S caps them at S per list and always lists the best S.
 * Output: DIR/part-RRRRR.tsv.zst (user, rank, item, score, source) + DIR/manifest.json. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/hash.h"
#include "core/log.h"
#include "core/timer.h"
#include "io/input.h"
#include "io/lines.h"
#include "io/manifest.h"
#include "io/model.h"
#include "io/output.h"
#include "io/recwriter.h"
#include "jobs/commands.h"
#include "jobs/dataset.h"
#include "jobs/foldin.h"
#include "jobs/indexscore.h"
#include "jobs/publish.h"
#include "jobs/recommend_content.h"
#include "jobs/recommend_userknn.h"
#include "jobs/ringrows.h"
#include "jobs/ringscore.h"
#include "jobs/rowfetch.h"
#include "jobs/userknn_ring.h"
#include "solvers/score.h"
#include "solvers/topk.h"

static const char *const REC_FORMATS[] = { "hpcrec-recommendations", NULL };

static const char usage[] =
    "hpcrec recommend --model MODEL.tar --data DATASET --out DIR [--top N] [--include-seen] [--exclude FILE]\n"
    "                 [--users FILE] [--diversify L] [--index INDEX [--probe N]] [--zstd-level Z (default 1)] [--json FILE]\n"
    "                 [--fold-in DATASET] [--fold-in-min N (default 1)]\n"
    "                 [--item-features FILE [--features-format F] ... [--cold-slots S (default 0)]]\n"
    "  --item-features: items of FILE the model does not know, or knows without training interactions, are\n"
    "  scored by the model's content map (train --item-features); --cold-slots S: at most S of them per list,\n"
    "  the best S always listed (0: they compete on score alone)\n";


#define FROM_ROW (UINT32_MAX - 1)   /* model_uid of a user scored from its --data row */

typedef struct {
    uint32_t data_gid;   /* row in the dataset (UINT32_MAX: listed user not in the dataset) */
    uint32_t model_uid;  /* factor row to score; FROM_ROW: its query row; UINT32_MAX: by popularity */
    uint64_t qrow;       /* FROM_ROW: its row in the query rows */
    int known;           /* the model knows the user (a pop model ranks everyone by popularity) */
    int folded;          /* an ALS / iALS model's unknown user, folded in from its row */
    char *ext;           /* external id (NUL-terminated copy) */
    size_t ext_len;
    uint32_t *seen;      /* model item ids, sorted */
    uint32_t nseen;
    uint32_t *cseen;     /* --item-features: content items in its --data row, sorted */
    uint32_t ncseen;
} target;

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static int cmp_ui(const void *a, const void *b)
{
    const hr_triple *x = a, *y = b;
    if (x->u != y->u) return (x->u > y->u) - (x->u < y->u);
    return (x->i > y->i) - (x->i < y->i);
}

/* First triple of user u in t[0..n) (sorted by user), or n. */
static uint64_t triple_lo(const hr_triple *t, uint64_t n, uint32_t u)
{
    uint64_t lo = 0, hi = n;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (t[mid].u < u) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* Lines of a text file of ids (one per line, blank lines ignored). */
static int read_id_file(const char *path, char ***ids, uint64_t *n, hr_error *err)
{
    hr_input *in;
    HR_TRY(hr_input_open(path, &in, err));
    const char *name;
    int rc = hr_input_next(in, &name, err);
    uint64_t cap = 1024;
    *ids = hr_malloc(cap * sizeof **ids);
    *n = 0;
    if (rc == 1) {
        hr_lines *l = hr_lines_new(in);
        char *line;
        size_t len;
        while ((rc = hr_lines_next(l, &line, &len, err)) == 1) {
            while (len && (line[len - 1] == ' ' || line[len - 1] == '\t')) line[--len] = '\0';
            if (!len) continue;
            for (size_t k = 0; k < len; k++)   /* as ingest's bad_id: no TSV output could hold it */
                if ((unsigned char)line[k] < 0x20 || line[k] == 0x7f) {
                    char shown[1100];
                    hr_escape_text(path, strlen(path), shown, sizeof shown);
                    rc = hr_error_set(err, HR_ERR_FORMAT, "%s:%llu: the id holds control byte 0x%02x at byte %zu", shown,
                                      (unsigned long long)hr_lines_lineno(l), (unsigned char)line[k], k + 1);
                    break;
                }
            if (rc < 0) break;
            if (*n == cap) *ids = hr_realloc(*ids, (cap *= 2) * sizeof **ids);
            (*ids)[(*n)++] = hr_strdup(line);
        }
        hr_lines_free(l);
    }
    hr_input_close(in);
    if (rc < 0) {   /* nothing half-read is handed back */
        for (uint64_t x = 0; x < *n; x++) hr_free((*ids)[x]);
        HR_FREE(ids);
        *n = 0;
        return rc;
    }
    return 0;
}

/* The factor row of item i among rows fetched for ids[0..nids) (sorted, distinct). */
static const float *row_of(const uint32_t *ids, uint64_t nids, const float *rows, int k, uint32_t i)
{
    const uint32_t *at = bsearch(&i, ids, nids, sizeof i, cmp_u32);
    return rows + (uint64_t)(at - ids) * (uint64_t)k;
}

/* Maximal marginal relevance: reorder cand (best first, nc entries) into out (n entries); the
 * candidates' factor rows are among the fetched ones. */
static uint32_t mmr(const uint32_t *ids, uint64_t nids, const float *rows, int k, const uint32_t *cand,
                    const float *score, uint32_t nc, uint32_t n, float lambda, uint32_t *out, float *out_score,
                    float *maxsim, uint8_t *used)
{
    if (nc == 0) return 0;
    float hi = score[0], lo = score[nc - 1], span = hi - lo > 0 ? hi - lo : 1;
    for (uint32_t c = 0; c < nc; c++) { maxsim[c] = 0; used[c] = 0; }
    uint32_t got = 0;
    while (got < n && got < nc) {
        uint32_t best = UINT32_MAX;
        float bv = -INFINITY;
        for (uint32_t c = 0; c < nc; c++) {
            if (used[c]) continue;
            float v = (1 - lambda) * (score[c] - lo) / span - lambda * maxsim[c];
            if (v > bv) { bv = v; best = c; }
        }
        used[best] = 1;
        out[got] = cand[best];
        out_score[got] = score[best];
        got++;
        const float *y = row_of(ids, nids, rows, k, cand[best]);
        double ny = 0;
        for (int j = 0; j < k; j++) ny += (double)y[j] * y[j];
        for (uint32_t c = 0; c < nc; c++) {
            if (used[c]) continue;
            const float *z = row_of(ids, nids, rows, k, cand[c]);
            double d = 0, nz = 0;
            for (int j = 0; j < k; j++) { d += (double)y[j] * z[j]; nz += (double)z[j] * z[j]; }
            float cs = ny > 0 && nz > 0 ? (float)(d / sqrt(ny * nz)) : 0.0f;
            if (cs > maxsim[c]) maxsim[c] = cs;
        }
    }
    return got;
}

/* --diversify, per batch of targets: each model target's candidates (its selection, best
 * first) and the factor rows of the batch's distinct candidates, fetched from the ranks that
 * hold their item blocks (jobs/rowfetch.h).  Collective: every rank runs as many batches. */
typedef struct div_batch {
    uint32_t M;
    uint64_t users;           /* targets per batch: candidates asked at once stay below DIV_ROWS
                               * (or one item block, if larger) */
    uint32_t *cand, *ncand;   /* users x M, users */
    float *csco;              /* users x M */
    uint32_t *ids;            /* distinct candidates, sorted */
    uint64_t nids, cap;
    float *rows;              /* their factor rows (cap rows) */
} div_batch;
#define DIV_ROWS 65536

static int div_prepare(hr_job *job, const hr_model *m, const target *tg, uint64_t b0, uint64_t b1, hr_topbuf *heaps,
                       uint64_t *hx, div_batch *db)
{
    const uint32_t M = db->M;
    uint64_t nid = 0;
    for (uint64_t x = b0; x < b1; x++) {
        uint32_t *c = db->cand + (x - b0) * M;
        float *sc = db->csco + (x - b0) * M;
        uint32_t got = 0;
        if (tg[x].model_uid != UINT32_MAX) {
            got = hr_topbuf_sorted(&heaps[(*hx)++], c, sc);
            while (got > 0 && !isfinite(sc[got - 1])) got--;   /* banned items only filled a short heap */
        }
        db->ncand[x - b0] = got;
        memcpy(db->ids + nid, c, got * sizeof *c);
        nid += got;
    }
    qsort(db->ids, nid, sizeof *db->ids, cmp_u32);
    uint64_t u = 0;
    for (uint64_t t = 0; t < nid; t++)
        if (u == 0 || db->ids[t] != db->ids[u - 1]) db->ids[u++] = db->ids[t];
    db->nids = u;
    if (u > db->cap) {
        hr_free(db->rows);
        db->cap = u;
        db->rows = hr_malloc(u * (size_t)m->k * sizeof *db->rows);
    }
    return hr_fetch_rows(job, m->item_factors, m->n_items, m->k, db->ids, u, db->rows);
}

/* --fold-in DATASET: its interactions as triples (user = --data gid, item = model id), sent to
 * the ranks owning those users in --data and sorted by (user, item).  Users absent from --data
 * (not targets) and items the model lacks are dropped and counted (reduced). */
static int fold_rows(hr_job *job, const char *path, const hr_dataset *ds, const hr_model *m, hr_triple **out, uint64_t *n,
                     uint64_t *dropped)
{
    hr_dataset fo;
    int rc = hr_dataset_load(job, path, HR_LOAD_BY_USER, &fo);
    if (rc == 0) {
        uint32_t *fu = hr_dict_match(&fo.users, &ds->users, NULL), *fi = hr_dict_match(&fo.items, &m->items, NULL);
        hr_triple *t = hr_block_to_triples(&fo.by_user, 0, n);
        uint64_t w = 0;
        for (uint64_t e = 0; e < *n; e++) {
            if (fu[t[e].u] == UINT32_MAX || fi[t[e].i] == UINT32_MAX) { (*dropped)++; continue; }
            t[e].u = fu[t[e].u];
            t[e].i = fi[t[e].i];
            t[w++] = t[e];
        }
        *n = w;
        hr_free(fu);
        hr_free(fi);
        rc = hr_part_shuffle(job->comm, &ds->upart, 0, &t, n);
        if (rc == 0) qsort(t, *n, sizeof *t, cmp_ui);
        *out = t;
        if (rc == 0) rc = hr_comm_allreduce_sum_u64(job->comm, dropped, 1);
    }
    hr_dataset_free(&fo);
    return rc;
}

int hr_cmd_recommend(hr_job *job, int argc, char **argv)
{
    static const struct option opts[] = {
        { "model", required_argument, 0, 'm' }, { "data", required_argument, 0, 'd' }, { "out", required_argument, 0, 'o' },
        { "top", required_argument, 0, 'n' }, { "exclude-seen", no_argument, 0, 's' }, { "include-seen", no_argument, 0, 'S' },
        { "exclude", required_argument, 0, 'x' }, { "users", required_argument, 0, 'u' },
        { "diversify", required_argument, 0, 'D' }, { "zstd-level", required_argument, 0, 'z' },
        { "index", required_argument, 0, 'I' }, { "probe", required_argument, 0, 'p' },
        { "json", required_argument, 0, 'j' }, { "fold-in-min", required_argument, 0, 'F' },
        { "fold-in", required_argument, 0, 'f' }, HR_CONTENT_LONGOPTS, HR_CONTENT_SLOTS_LONGOPT,
        { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 } };
    hr_content_opts co;
    hr_content_opts_init(&co);
    int have_slots = 0;
    const char *model_path = NULL, *data = NULL, *out = NULL, *exclude = NULL, *users_file = NULL, *index = NULL, *fold = NULL;
    int64_t top = 10, level = 1, probe = 0, fold_min = 1;
    double diversify = 0;
    int exclude_seen = 1, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model_path = optarg; break;
        case 'd': data = optarg; break;
        case 'o': out = optarg; break;
        case 'n': HR_TRY(hr_opt_i64(job, "--top", optarg, 1, 100000, &top)); break;
        case 's': exclude_seen = 1; break;
        case 'S': exclude_seen = 0; break;
        case 'x': exclude = optarg; break;
        case 'u': users_file = optarg; break;
        case 'D': HR_TRY(hr_opt_f64(job, "--diversify", optarg, 0, 1, &diversify)); break;
        case 'z': HR_TRY(hr_opt_i64(job, "--zstd-level", optarg, -7, 19, &level)); break;
        case 'I': index = optarg; break;
        case 'p': HR_TRY(hr_opt_i64(job, "--probe", optarg, 1, UINT32_MAX, &probe)); break;
        case 'j': job->json_path = optarg; break;
        case 'f': fold = optarg; break;
        case 'F': HR_TRY(hr_opt_i64(job, "--fold-in-min", optarg, 1, UINT32_MAX, &fold_min)); break;
        case HR_CONTENT_OPT_FILE: case HR_CONTENT_OPT_FORMAT: case HR_CONTENT_OPT_SLOTS:
            have_slots |= c == HR_CONTENT_OPT_SLOTS;
            HR_TRY(hr_content_opt(job, &co, c, optarg));
            break;
        case HR_CONTENT_OPT_MAX: case HR_CONTENT_OPT_LAMBDA: case HR_CONTENT_OPT_GRID:
            return hr_error_set(&job->err, HR_ERR_ARG, "--features-max, --features-lambda and --features-grid belong to train: recommend uses the "
                                "model's content map as trained");
        case 'h': if (job->rank == 0) fputs(usage, stdout); return 0;
        default: return hr_opt_usage(job, usage);
        }
    }
    if (!model_path || !data || !out) return hr_error_set(&job->err, HR_ERR_ARG, "--model, --data and --out are required\n%s", usage);
    if (probe && !index) return hr_error_set(&job->err, HR_ERR_ARG, "--probe needs --index");
    hr_pathspec ps[] = { { "--model", model_path, HR_IN }, { "--data", data, HR_IN }, { "--users", users_file, HR_IN },
                         { "--exclude", exclude, HR_IN }, { "--index", index, HR_IN }, { "--out", out, HR_OUT_DIR },
                         { "--json", job->json_path, HR_OUT_FILE }, { "--fold-in", fold, HR_IN } };
    HR_TRY(hr_publish_check(job, ps, 8));
    double t0 = hr_now();
    int P = job->size, rc;
    hr_model m;
    hr_dataset ds;
    memset(&m, 0, sizeof m);
    memset(&ds, 0, sizeof ds);
    target *tg = NULL;
    hr_triple *ft = NULL;   /* --fold-in: its rows, on the owners of their users in --data */
    uint64_t nft = 0, fold_dropped = 0;
    uint64_t nt = 0;
    uint8_t *banned = NULL, *rbanned = NULL;   /* rbanned: what the catalogue skips (banned + known content items) */
    uint64_t nrbanned = 0;
    uint32_t *imap = NULL, *popular = NULL;
    hr_topbuf *heaps = NULL;
    hr_topkey *store = NULL;
    float *U = NULL;
    hr_ring_rows qr;
    hr_ring_rows_init(&qr);
    char **listed = NULL;
    uint64_t nlisted = 0;
    hr_publish pub;
    memset(&pub, 0, sizeof pub);
    hr_rec_content cont;   /* --item-features (jobs/recommend_content.h) */
    memset(&cont, 0, sizeof cont);
    const int content = co.nfiles > 0;
    char **xids = NULL;    /* --exclude's ids */
    uint64_t nxids = 0;
    /* Dictionaries now; factor rows once the targets are known (only this rank's share). */
    rc = hr_model_load_dicts(model_path, &m, &job->err);
    if (rc == 0 && index && m.kind != HR_MODEL_FACTOR)
        rc = hr_error_set(&job->err, HR_ERR_ARG, "--index: %s is a %s model, it has no item factors to search", model_path, m.algo);
    if (rc == 0 && (content || have_slots) && !m.content_nf)
        rc = hr_error_set(&job->err, HR_ERR_ARG, "%s%s: %s has no content map (train it with --item-features to store one)",
                          content ? "--item-features" : "--cold-slots", content && have_slots ? " / --cold-slots" : "", model_path);
    if (rc == 0 && have_slots && !content) rc = hr_error_set(&job->err, HR_ERR_ARG, "--cold-slots needs --item-features");
    if (rc == 0 && content && diversify > 0)
        rc = hr_error_set(&job->err, HR_ERR_ARG, "--item-features: not with --diversify (content items have no stored factor rows)");
    rc = hr_comm_agree(job->comm, rc, &job->err);
    if (rc == 0) rc = hr_dataset_load(job, data, HR_LOAD_BY_USER, &ds);
    if (rc < 0) goto done;
    const uint64_t ni = m.n_items;
    const int k = m.kind == HR_MODEL_FACTOR ? m.k : 0, solve_fold = hr_fold_in_solves(&m);
    if (fold && !solve_fold) {
        rc = hr_error_set(&job->err, HR_ERR_ARG, "--fold-in: %s is a %s model; only als / ials models fold users in by a solve", model_path, m.algo);
        goto done;
    }
    if (fold) {
        rc = fold_rows(job, fold, &ds, &m, &ft, &nft, &fold_dropped);
        if (rc < 0) goto done;
    }
    if (diversify > 0 && !k) {
        rc = hr_error_set(&job->err, HR_ERR_ARG, "--diversify compares item factors: a %s model has none", m.algo);
        goto done;
    }
    /* Global exclusions and the popularity order (model item ids). */
    banned = hr_calloc(ni ? ni : 1, 1);
    uint64_t nbanned = 0;
    if (exclude) {
        rc = read_id_file(exclude, &xids, &nxids, &job->err);
        for (uint64_t x = 0; rc == 0 && x < nxids; x++) {
            int64_t g = hr_dict_find(&m.items, xids[x], strlen(xids[x]));
            if (g >= 0 && !banned[g]) { banned[g] = 1; nbanned++; }
        }
    }
    rc = hr_comm_agree(job->comm, rc, &job->err);
    if (rc < 0) goto done;
    /* content items: every rank maps all of them; the catalogue skips the known ones */
    rbanned = banned;
    nrbanned = nbanned;
    if (content) {
        rbanned = hr_malloc(ni ? ni : 1);
        memcpy(rbanned, banned, ni ? ni : 1);
        rc = hr_rec_content_init(job, &co, &m, &ds, xids, nxids, rbanned, &cont);
        nrbanned = nbanned + cont.ci.n - cont.ci.n_new;
        if (rc < 0) goto done;
    }
    imap = hr_dict_match(&ds.items, &m.items, NULL);
    float *pop = hr_calloc(ni ? ni : 1, sizeof *pop);
    for (uint64_t g = 0; g < ds.items.n; g++)
        if (imap[g] != UINT32_MAX) pop[imap[g]] = (float)ds.items.nnz[g];
    /* Targets: this rank's users (all, or those listed). */
    if (users_file) rc = read_id_file(users_file, &listed, &nlisted, &job->err);
    rc = hr_comm_agree(job->comm, rc, &job->err);
    if (rc < 0) { hr_free(pop); goto done; }
    const hr_block *b = &ds.by_user;
    tg = hr_calloc((users_file ? nlisted : b->nrows) + 1, sizeof *tg);
    char key[HR_DICT_INT_CHARS];
    for (uint64_t x = 0; x < (users_file ? nlisted : b->nrows); x++) {
        int64_t row = -1, dg = -1;
        if (users_file) {
            dg = hr_dict_find(&ds.users, listed[x], strlen(listed[x]));
            int owner = dg >= 0 ? (int)ds.upart.owner[dg] : (int)(hr_hash_bytes(listed[x], strlen(listed[x]), 5) % (uint64_t)P);
            if (owner != job->rank) continue;
            if (dg >= 0) row = ds.upart.local[dg];
        } else {
            row = (int64_t)x;
            dg = b->gid[x];
        }
        target *t = &tg[nt++];
        t->data_gid = dg >= 0 ? (uint32_t)dg : UINT32_MAX;
        const char *ext = listed ? listed[x] : NULL;
        size_t el = listed ? strlen(ext) : 0;
        if (!users_file) ext = hr_dict_key(&ds.users, (uint64_t)dg, key, &el);
        t->ext = hr_malloc(el + 1);   /* the whole id, whatever its length */
        memcpy(t->ext, ext, el);
        t->ext[el] = '\0';
        t->ext_len = el;
        int64_t mu = hr_dict_find(&m.users, t->ext, el);
        t->known = mu >= 0;
        /* user-user models score the users they know from their neighbours' --data rows */
        t->model_uid = mu >= 0 && (m.kind == HR_MODEL_FACTOR || m.kind == HR_MODEL_USERUSER) ? (uint32_t)mu : UINT32_MAX;
        /* item-item models score everyone from their row; fold-in models the users they lack */
        uint64_t nknown = 0, f0 = 0, f1 = 0;   /* fold-in by a solve: the row's items the model knows */
        if (row >= 0 && solve_fold && mu < 0 && fold) {   /* the user's rows in --fold-in instead */
            f0 = triple_lo(ft, nft, (uint32_t)dg);
            for (f1 = f0; f1 < nft && ft[f1].u == (uint32_t)dg; f1++) nknown += ft[f1].v != 0.0f;
        } else if (row >= 0 && solve_fold && mu < 0) {
            for (uint64_t e = b->ptr[row]; e < b->ptr[row + 1]; e++) nknown += imap[b->idx[e]] != UINT32_MAX && b->val[e] != 0.0f;
        }
        if (row >= 0 && solve_fold && mu < 0 && nknown >= (uint64_t)fold_min) {
            /* raw values: the solve weighs them by the model's confidence, as training did */
            if (fold)
                for (uint64_t e = f0; e < f1; e++) hr_ring_rows_add_entry(&qr, ft[e].i, ft[e].v, e == f0, e + 1 == f1);
            else
                hr_ring_rows_add(&qr, b->idx + b->ptr[row], b->val + b->ptr[row], b->ptr[row + 1] - b->ptr[row], imap, HR_ROWS_VALUE);
            t->known = t->folded = 1;
            t->qrow = qr.n - 1;
            t->model_uid = FROM_ROW;
        } else if (row >= 0 && (m.kind == HR_MODEL_ITEMITEM || (m.fold_in && mu < 0))) {
            t->known = hr_ring_rows_add(&qr, b->idx + b->ptr[row], b->val + b->ptr[row], b->ptr[row + 1] - b->ptr[row], imap,
                                        m.row_weight) > 0;
            t->qrow = qr.n - 1;
            t->model_uid = t->known ? FROM_ROW : UINT32_MAX;
        } else if (m.kind == HR_MODEL_ITEMITEM) {
            t->known = 0;   /* no row in --data: nothing to score from */
        }
        if (row >= 0 && exclude_seen && content) {   /* content items in the row */
            for (uint64_t e = b->ptr[row]; e < b->ptr[row + 1]; e++)
                if (cont.by_data[b->idx[e]]) {
                    if (!t->cseen) t->cseen = hr_malloc((b->ptr[row + 1] - b->ptr[row]) * sizeof *t->cseen);
                    t->cseen[t->ncseen++] = cont.by_data[b->idx[e]] - 1;
                }
            qsort(t->cseen, t->ncseen, sizeof *t->cseen, cmp_u32);
        }
        if (row >= 0 && exclude_seen) {
            uint64_t n = b->ptr[row + 1] - b->ptr[row];
            t->seen = hr_malloc((n ? n : 1) * sizeof *t->seen);
            for (uint64_t e = b->ptr[row]; e < b->ptr[row + 1]; e++)
                if (imap[b->idx[e]] != UINT32_MAX) t->seen[t->nseen++] = imap[b->idx[e]];
            qsort(t->seen, t->nseen, sizeof *t->seen, cmp_u32);
        }
    }
    /* This rank's rows of the model: its users' factors and its block of the catalogue
     * (--diversify fetches the candidates' rows from the other blocks' ranks afterwards). */
    {
        uint64_t nu = 0, *uids = hr_malloc((nt + 1) * sizeof *uids);
        for (uint64_t x = 0; x < nt; x++)
            if (tg[x].model_uid < FROM_ROW) uids[nu++] = tg[x].model_uid;
        hr_model_part part = { uids, nu, 0, 0, NULL, 0 };
        if (m.kind != HR_MODEL_USERUSER)   /* a user-user model: the users' neighbour blocks only */
            hr_ring_item_share(&m, job->rank, P, &part.item_lo, &part.item_hi);
        rc = hr_model_load_part(model_path, &m, &part, &job->err);
        /* targets now point at rows of the part */
        for (uint64_t x = 0; rc == 0 && x < nt; x++)
            if (tg[x].model_uid < FROM_ROW) tg[x].model_uid = (uint32_t)hr_model_user_row(&m, tg[x].model_uid);
        hr_free(uids);
    }
    /* a user-user model's users without neighbours: ranked by popularity, as unknown ones */
    for (uint64_t x = 0; rc == 0 && m.kind == HR_MODEL_USERUSER && x < nt; x++) {
        const uint32_t *nr;
        const float *nv;
        if (tg[x].model_uid < FROM_ROW && hr_uu_neighbours(&m, (uint32_t)m.user_ids[tg[x].model_uid], &nr, &nv) == 0)
            tg[x].model_uid = UINT32_MAX, tg[x].known = 0;
    }
    rc = hr_comm_agree(job->comm, rc, &job->err);
    if (rc < 0) { hr_free(pop); goto done; }
    if (m.kind == HR_MODEL_POP) memcpy(pop, m.item_scores, ni * sizeof *pop);
    {
        hr_topk h;
        hr_topk_entry *st = hr_malloc((ni ? ni : 1) * sizeof *st);
        hr_topk_init(&h, st, (uint32_t)ni);
        for (uint64_t i = 0; i < ni; i++) hr_topk_push(&h, banned[i] ? -INFINITY : pop[i], (uint32_t)i);
        popular = hr_malloc((ni ? ni : 1) * sizeof *popular);
        hr_topk_sorted(&h, popular, NULL);
        hr_free(st);
    }
    /* Model users: heaps, factor rows. */
    uint32_t M = (uint32_t)(diversify > 0 ? (uint64_t)top * 5 : (uint64_t)top);
    if (M > ni) M = (uint32_t)ni;
    uint64_t nmod = 0;
    for (uint64_t x = 0; x < nt; x++) nmod += tg[x].model_uid != UINT32_MAX;
    uint64_t *mod = hr_malloc((nmod ? nmod : 1) * sizeof *mod);
    nmod = 0;
    for (uint64_t x = 0; x < nt; x++)
        if (tg[x].model_uid != UINT32_MAX) mod[nmod++] = x;
    heaps = hr_malloc((nmod ? nmod : 1) * sizeof *heaps);
    /* M keys per user at home; the ring lends each batch of users 2M-key working buffers */
    store = hr_malloc((nmod * (uint64_t)M + 1) * sizeof *store);
    for (uint64_t x = 0; x < nmod; x++) hr_topbuf_init(&heaps[x], store + x * (uint64_t)M, M, M);
    U = hr_malloc((nmod ? nmod : 1) * (size_t)(k ? k : 1) * sizeof *U);
    for (uint64_t x = 0; x < nmod; x++)
        if (tg[mod[x]].model_uid != FROM_ROW)
            memcpy(U + x * (uint64_t)k, m.user_factors + (uint64_t)tg[mod[x]].model_uid * (uint64_t)k, (size_t)k * sizeof *U);
    hr_free(m.user_factors);   /* U holds them in target order */
    m.user_factors = NULL;
    double t_score = 0, t_comm = 0, t_fold = 0, t_ring = hr_now();
    uint64_t iscores = 0;
    /* queries from rows, in target order: their positions among the model-scored targets */
    hr_iiquery q = hr_ring_rows_query(&qr);
    if (k && (m.fold_in || solve_fold)) {   /* x_u for the users the model lacks, then scored as factor rows */
        float *F = hr_malloc((qr.n * (uint64_t)k + 1) * sizeof *F);
        if (solve_fold) rc = hr_fold_in_solve(job, &m, &q, qr.n, F, &t_fold);
        else rc = hr_ring_project(job, m.item_factors, ni, k, &q, qr.n, F);
        for (uint64_t x = 0; x < nmod; x++)
            if (tg[mod[x]].model_uid == FROM_ROW)
                memcpy(U + x * (uint64_t)k, F + tg[mod[x]].qrow * (uint64_t)k, (size_t)k * sizeof *U);
        hr_free(F);
    }
    if (rc == 0 && m.kind == HR_MODEL_ITEMITEM) {
        uint32_t **excl = hr_malloc((nmod ? nmod : 1) * sizeof *excl), *nexcl = hr_malloc((nmod ? nmod : 1) * sizeof *nexcl);
        for (uint64_t x = 0; x < nmod; x++) {
            excl[x] = tg[mod[x]].seen;
            nexcl[x] = tg[mod[x]].nseen;
        }
        /* every model-scored target has a row, in target order: the query rows are theirs */
        rc = hr_ring_topn_ii(job, &m, &q, nmod, excl, nexcl, nbanned ? banned : NULL, heaps, &t_score, &t_comm);
        hr_free(excl);
        hr_free(nexcl);
    } else if (rc == 0 && m.kind == HR_MODEL_USERUSER) {
        uint32_t **excl = hr_malloc((nmod ? nmod : 1) * sizeof *excl), *nexcl = hr_malloc((nmod ? nmod : 1) * sizeof *nexcl);
        uint32_t *mg = hr_malloc((nmod ? nmod : 1) * sizeof *mg), *umodel = hr_dict_match(&ds.users, &m.users, NULL);
        for (uint64_t x = 0; x < nmod; x++) {
            excl[x] = tg[mod[x]].seen;
            nexcl[x] = tg[mod[x]].nseen;
            mg[x] = (uint32_t)m.user_ids[tg[mod[x]].model_uid];
        }
        rc = hr_rec_uu_topn(job, &m, &ds.by_user, umodel, imap, mg, nmod, excl, nexcl, nbanned ? banned : NULL, heaps, &t_score, &t_comm);
        hr_free(excl);
        hr_free(nexcl);
        hr_free(mg);
        hr_free(umodel);
    } else if (rc == 0 && k) {
        uint32_t **excl = hr_malloc((nmod ? nmod : 1) * sizeof *excl), *nexcl = hr_malloc((nmod ? nmod : 1) * sizeof *nexcl);
        for (uint64_t x = 0; x < nmod; x++) {
            excl[x] = tg[mod[x]].seen;
            nexcl[x] = tg[mod[x]].nseen;
        }
        hr_ring_query rq = { nmod, U, excl, nexcl, heaps };
        if (index)   /* candidates from the index's probed lists only (jobs/indexscore.h) */
            rc = hr_index_ring_score(job, index, (uint32_t)probe, &m, model_path, HR_METRIC_IP, "recommend", m.item_factors, m.item_bias,
                                     nrbanned ? rbanned : NULL, ni, k, &rq, &t_score, &t_comm, &iscores);
        else
            rc = hr_ring_score(job, m.item_factors, m.item_bias,
                               nrbanned ? rbanned : NULL, ni, k, &rq, &t_score, &t_comm);
        hr_free(excl);
        hr_free(nexcl);
    }
    rc = hr_comm_agree(job->comm, rc, &job->err);
    if (rc < 0) { hr_free(pop); hr_free(mod); goto done; }
    /* Write this rank's part in target order. */
    double t_out = hr_now();
    char path[4096];
    rc = hr_publish_begin(job, out, "manifest.json", REC_FORMATS, &pub);
    if (rc < 0) { hr_free(pop); hr_free(mod); goto done; }
    snprintf(path, sizeof path, "%s/part-%05d.tsv.zst", pub.dir, job->rank);
    hr_recwriter *wr = NULL;
    if (rc == 0) rc = hr_recwriter_open(path, "user\trank\titem\tscore\tsource", (int)level, &wr, &job->err);
    uint32_t *idx = hr_malloc((M + top + 1) * sizeof *idx), *fin = hr_malloc((top + 1) * sizeof *fin);
    uint8_t *fcont = hr_calloc(top + 1, 1);   /* per line: a content item */
    float *sco = hr_malloc((M + 1) * sizeof *sco), *fsc = hr_malloc((top + 1) * sizeof *fsc), *maxsim = hr_malloc((M + 1) * sizeof *maxsim);
    uint8_t *used = hr_malloc(M + 1);
    /* Item ids as text once (formatting them per line would cost more than the scoring),
     * whole: sized from the exact id lengths, not from a guess. */
    uint64_t *ioff = hr_malloc((ni + 1) * sizeof *ioff);
    ioff[0] = 0;
    for (uint64_t i = 0; i < ni; i++) {
        size_t len;
        hr_dict_key(&m.items, i, key, &len);
        ioff[i + 1] = ioff[i] + len;
    }
    char *itext = hr_malloc(ioff[ni] + 1);
    for (uint64_t i = 0; i < ni; i++) {
        size_t len;
        const char *id = hr_dict_key(&m.items, i, key, &len);
        memcpy(itext + ioff[i], id, len);
    }
    uint64_t hx = 0, nfallback = 0, short_lists = 0, nfolded = 0;
    /* --diversify works in batches of targets whose candidates' rows are fetched together; the
     * batches are collective, so every rank runs as many and a failed write only stops the
     * writing */
    div_batch db = { M, 0, NULL, NULL, NULL, NULL, 0, 0, NULL };
    uint64_t block_rows = hr_block_lo(ni, P, 1), nbatch = 1;
    db.users = (block_rows > DIV_ROWS ? block_rows : DIV_ROWS) / (M ? M : 1);
    if (db.users < 1) db.users = 1;
    if (diversify > 0) {
        nbatch = (nt + db.users - 1) / db.users;
        rc = hr_comm_agree(job->comm, rc, &job->err);
        int arc = hr_comm_allreduce_max_u64(job->comm, &nbatch, 1);
        if (rc == 0) rc = arc;
        db.cand = hr_malloc((db.users * M + 1) * sizeof *db.cand);
        db.csco = hr_malloc((db.users * M + 1) * sizeof *db.csco);
        db.ncand = hr_malloc((db.users + 1) * sizeof *db.ncand);
        db.ids = hr_malloc((db.users * M + 1) * sizeof *db.ids);
    }
    for (uint64_t bi = 0; bi < nbatch && (rc == 0 || diversify > 0); bi++) {
        const uint64_t b0 = diversify > 0 ? (bi * db.users < nt ? bi * db.users : nt) : 0;
        const uint64_t b1 = diversify > 0 ? (b0 + db.users < nt ? b0 + db.users : nt) : nt;
        if (diversify > 0 && k) {
            int frc = div_prepare(job, &m, tg, b0, b1, heaps, &hx, &db);
            if (rc == 0) rc = frc;
        }
        for (uint64_t x = b0; rc == 0 && x < b1; x++) {
            target *t = &tg[x];
            uint32_t n = 0;
            const char *source;
            if (content) memset(fcont, 0, top);
            if (t->model_uid != UINT32_MAX && diversify > 0) {
                n = mmr(db.ids, db.nids, db.rows, k, db.cand + (x - b0) * M, db.csco + (x - b0) * M, db.ncand[x - b0],
                        (uint32_t)top, (float)diversify, fin, fsc, maxsim, used);
                source = t->folded ? "fold-in" : "model";
            } else if (t->model_uid != UINT32_MAX) {
                uint32_t got = hr_topbuf_sorted(&heaps[hx++], idx, sco);
                while (got > 0 && !isfinite(sco[got - 1])) got--;  /* banned items only filled a short heap */
                n = got < top ? got : (uint32_t)top;
                if (content)   /* the content items' best merged in (U is in heap order) */
                    n = hr_rec_content_merge(&cont, U + (hx - 1) * (uint64_t)k, k, t->cseen, t->ncseen, idx, sco, n, (uint32_t)top, fin,
                                             fsc, fcont);
                else {
                    memcpy(fin, idx, n * sizeof *fin);
                    memcpy(fsc, sco, n * sizeof *fsc);
                }
                source = t->folded ? "fold-in" : "model";
            } else {
                for (uint64_t p = 0; p < ni && n < top; p++) {
                    uint32_t i = popular[p];
                    if (banned[i] || (t->nseen && bsearch(&i, t->seen, t->nseen, sizeof i, cmp_u32))) continue;
                    fin[n] = i;
                    fsc[n++] = pop[i];
                }
                source = t->known ? "model" : "popular";
                nfallback += !t->known;
            }
            short_lists += n < top;
            nfolded += t->folded;
            for (uint32_t r = 0; rc == 0 && r < n; r++) {
                const char *cid = content && fcont[r] ? hr_rec_content_id(&cont, fin[r]) : NULL;
                rc = cid ? hr_recwriter_line(wr, t->ext, t->ext_len, r + 1, cid, strlen(cid), fsc[r], "content", &job->err)
                         : hr_recwriter_line(wr, t->ext, t->ext_len, r + 1, itext + ioff[fin[r]], ioff[fin[r] + 1] - ioff[fin[r]], fsc[r],
                                             content && fcont[r] ? "content" : source, &job->err);
            }
        }
    }
    hr_free(db.cand); hr_free(db.csco); hr_free(db.ncand); hr_free(db.ids); hr_free(db.rows);
    hr_free(itext);
    hr_free(ioff);
    hr_free(idx); hr_free(fin); hr_free(sco); hr_free(fsc); hr_free(maxsim); hr_free(used); hr_free(pop); hr_free(mod); hr_free(fcont);
    uint64_t info[3] = { 0 }, lines = 0;
    double t_close = hr_now();
    if (rc == 0) rc = hr_recwriter_close(wr, &info[0], &info[1], &lines, &job->err);
    else hr_recwriter_abort(wr);
    /* per-phase seconds, the slowest rank's: setup (load, targets), output (sort, format,
     * compress), close (the last block and fsync) */
    double phase[3] = { t_ring - t0, t_close - t_out, hr_now() - t_close };
    rc = hr_comm_agree(job->comm, rc, &job->err);
    if (rc < 0) goto done;
    uint64_t *all = hr_calloc((size_t)P * 3, sizeof *all);
    info[2] = lines;
    memcpy(all + 3 * job->rank, info, sizeof info);
    uint64_t tot[7] = { nt, nfallback, lines, short_lists, hx, nfolded, cont.lines };   /* hx: users scored by the factors */
    rc = hr_comm_allreduce_sum_u64(job->comm, all, (size_t)P * 3);
    if (rc == 0) rc = hr_comm_allreduce_sum_u64(job->comm, tot, 7);
    double ts_max = t_score;
    if (rc == 0) rc = hr_comm_allreduce_max_f64(job->comm, &ts_max, 1);
    if (rc == 0) rc = hr_comm_allreduce_max_f64(job->comm, &t_fold, 1);
    if (rc == 0) rc = hr_comm_allreduce_max_f64(job->comm, phase, 3);
    if (rc == 0 && job->rank == 0) {
        json_t *mf = json_pack("{s:s,s:i,s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:b,s:f,s:I}", "format", "hpcrec-recommendations", "version", 1,
                               "software", "hpcrec " HR_VERSION, "model", model_path, "dataset", data, "top", (json_int_t)top,
                               "users", (json_int_t)tot[0], "users_fallback", (json_int_t)tot[1], "lines", (json_int_t)tot[2],
                               "exclude_seen", exclude_seen, "diversify", diversify, "items_excluded", (json_int_t)nbanned);
        if (solve_fold) json_object_set_new(mf, "users_fold_in", json_integer((json_int_t)tot[5]));
        if (content) {
            json_object_set_new(mf, "content_items", json_integer((json_int_t)cont.ci.n));
            json_object_set_new(mf, "content_items_new", json_integer((json_int_t)cont.ci.n_new));
            json_object_set_new(mf, "content_lines", json_integer((json_int_t)tot[6]));
            json_object_set_new(mf, "cold_slots", json_integer((json_int_t)co.cold_slots));
        }
        json_object_set_new(mf, "columns", json_pack("[s,s,s,s,s]", "user", "rank", "item", "score", "source"));
        /* the id kinds, for readers that type the columns (export --recs: INTEGER or TEXT);
         * listed users not in the dataset keep their text, so they count too */
        int users_int = ds.users.is_int;
        for (uint64_t x = 0; users_int && x < nlisted; x++) users_int = hr_dict_canonical_int(listed[x], strlen(listed[x]), &(int64_t){ 0 });
        json_object_set_new(mf, "user_ids", json_string(users_int ? "integer" : "string"));
        json_object_set_new(mf, "item_ids", json_string(m.items.is_int ? "integer" : "string"));
        for (int r = 0; r < P; r++) {
            snprintf(path, sizeof path, "part-%05d.tsv.zst", r);
            hr_manifest_add_file(mf, path, all[3 * r + 1], all[3 * r]);
        }
        snprintf(path, sizeof path, "%s/manifest.json", pub.dir);
        rc = hr_manifest_write(path, mf, &job->err);
        json_decref(mf);
    }
    hr_free(all);
    rc = hr_publish_end(job, &pub, rc);
    if (rc == 0) {
        /* only users ranked by the factors were scored; popularity lists cost no flops */
        double flops = index ? 2.0 * (double)iscores * k : 2.0 * (double)tot[4] * (double)ni * (double)(k ? k : 0);
        hr_job_set_int(job, "users", (int64_t)tot[0]);
        hr_job_set_int(job, "users_fallback", (int64_t)tot[1]);
        hr_job_set_int(job, "users_scored", (int64_t)tot[4]);
        hr_job_set_int(job, "users_fold_in", (int64_t)tot[5]);
        hr_job_set_real(job, "seconds_fold_in", t_fold);
        hr_job_set_real(job, "seconds_scoring_fold_in_users", tot[4] ? ts_max * (double)tot[5] / (double)tot[4] : 0.0);
        if (fold) hr_job_set_int(job, "fold_in_events_dropped", (int64_t)fold_dropped);
        hr_job_set_int(job, "lines", (int64_t)tot[2]);
        hr_job_set_int(job, "users_short_list", (int64_t)tot[3]);
        hr_job_set_int(job, "top", top);
        hr_job_set_real(job, "seconds_scoring", ts_max);
        hr_job_set_real(job, "scoring_gflops", ts_max > 0 ? flops / ts_max / 1e9 : 0);
        hr_job_set_real(job, "seconds_ring", t_comm);
        hr_job_set_real(job, "seconds_setup", phase[0]);
        hr_job_set_real(job, "seconds_output", phase[1]);
        hr_job_set_real(job, "seconds_fsync", phase[2]);
        hr_progress("recommend  %llu users (%llu by popularity), top %lld: %llu lines in %s; setup %.2fs, scoring %.2fs (%.1f GFLOP/s), output %.2fs + close %.2fs, total %.2fs",
                    (unsigned long long)tot[0], (unsigned long long)tot[1], (long long)top, (unsigned long long)tot[2], out, phase[0], ts_max,
                    ts_max > 0 ? flops / ts_max / 1e9 : 0, phase[1], phase[2], hr_now() - t0);
        if (content) {
            hr_job_set_int(job, "content_items", (int64_t)cont.ci.n);
            hr_job_set_int(job, "content_items_new", (int64_t)cont.ci.n_new);
            hr_job_set_int(job, "content_items_with_features", (int64_t)cont.ci.with_features);
            hr_job_set_int(job, "content_lines", (int64_t)tot[6]);
            hr_job_set_int(job, "cold_slots", co.cold_slots);
            hr_progress("recommend  content: %llu items mapped by the content map (%llu new to the model, %llu known without "
                        "interactions), %llu lines with source content%s", (unsigned long long)cont.ci.n,
                        (unsigned long long)cont.ci.n_new, (unsigned long long)(cont.ci.n - cont.ci.n_new), (unsigned long long)tot[6],
                        co.cold_slots ? " (--cold-slots)" : "");
        }
        if (solve_fold)   /* the fold-in cost next to the cost of scoring (all scored users) */
            hr_progress("recommend  fold-in: %llu users unknown to the model folded in (at least %lld known items) in %.3fs; "
                        "scoring them %.3fs (%llu users scored in %.3fs, pro rata); %llu unknown users by popularity",
                        (unsigned long long)tot[5], (long long)fold_min, t_fold,
                        tot[4] ? ts_max * (double)tot[5] / (double)tot[4] : 0.0, (unsigned long long)tot[4], ts_max,
                        (unsigned long long)tot[1]);
    }
done:
    rc = hr_publish_end(job, &pub, rc);   /* a failed run: the temporary directory goes */
    for (uint64_t x = 0; x < nt; x++) { hr_free(tg[x].ext); hr_free(tg[x].seen); hr_free(tg[x].cseen); }
    for (uint64_t x = 0; x < nxids; x++) hr_free(xids[x]);
    hr_free(xids);
    hr_rec_content_free(&cont);
    if (rbanned != banned) hr_free(rbanned);
    for (uint64_t x = 0; x < nlisted; x++) hr_free(listed[x]);
    hr_free(listed);
    hr_ring_rows_free(&qr);
    hr_free(ft);
    hr_free(tg); hr_free(banned); hr_free(imap); hr_free(popular); hr_free(heaps); hr_free(store);
    hr_free(U);
    hr_model_free(&m);
    hr_dataset_free(&ds);
    return rc;
}
