/* hpcrec similar — the K most similar items of every item.
 *
 * From a model (--model M.tar): cosine of item factors.  Each rank takes a contiguous block of
 * items as queries (normalised factor rows) and scores them against the catalogue with the
 * same ring of blocked SGEMM as recommend (jobs/ringscore.h).  An item-item model's neighbours
 * of item j are the largest weights of B's column j (the items that most raise j's score); each
 * rank reads its share of the column blocks and needs no exchange.
 * From data (--data DATASET --measure cosine|jaccard [--min-support S]): item-item
 * co-occurrence C_ij = users who have both i and j, computed where item i lives: its rank asks
 * the owners of i's users for their rows (two all-to-alls: row lengths, then items), then
 * counts j over those rows with a sparse accumulator.  cosine = C_ij / sqrt(n_i n_j),
 * jaccard = C_ij / (n_i + n_j - C_ij), pairs with C_ij < S dropped.
 * With --item-features (factor models holding a content map, train --item-features): the items
 * of the features file that the model does not know, or knows without training interactions,
 * take their mapped factors (jobs/content.h): known ones replace their row as queries, new ones
 * (ids after the catalogue's) are queries of the rank whose share of them they fall in; as
 * candidates, every content item is scored outside the ring from the mapped rows every rank
 * holds (the ring skips the known ones), so content pairs do not depend on the rank count.  Lines whose
 * item or neighbour is such an item carry source "content".
 * No item is its own neighbour.  Output as recommend's: DIR/part-RRRRR.tsv.zst with
 * item, rank, similar, score, source + DIR/manifest.json. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/timer.h"
#include "io/manifest.h"
#include "io/model.h"
#include "io/output.h"
#include "io/recwriter.h"
#include "jobs/commands.h"
#include "jobs/similar_content.h"
#include "jobs/dataset.h"
#include "jobs/index.h"
#include "jobs/indexscore.h"
#include "jobs/publish.h"
#include "jobs/ringrows.h"
#include "jobs/ringscore.h"
#include "solvers/topk.h"

static const char *const SIM_FORMATS[] = { "hpcrec-similar", NULL };

static const char usage[] =
    "hpcrec similar --model MODEL.tar --out DIR [--top K] [--items FILE] [--index INDEX [--probe N]]\n"
    "hpcrec similar --data DATASET --out DIR [--top K] [--measure cosine|jaccard] [--min-support S]\n"
    "  [--zstd-level Z] [--json FILE]\n"
    "  --model with --item-features FILE [--features-format F] ...: new items get neighbours, and are\n"
    "  neighbours, through the model's content map (train --item-features)\n";

/* Lists of (query item, heap) written in query order; ids from dict. */
static int write_lists(hr_job *job, const char *out, const hr_dict *items, const uint32_t *qid, uint64_t nq, hr_topbuf *heaps,
                       uint32_t top, const char *source, int level, uint64_t info[3], hr_sim_content *cs, const float *Q)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/part-%05d.tsv.zst", out, job->rank);
    hr_recwriter *wr;
    HR_TRY(hr_recwriter_open(path, "item\trank\tsimilar\tscore\tsource", level, &wr, &job->err));
    uint32_t *idx = hr_malloc((3 * (size_t)top + 1) * sizeof *idx), *nid = idx + top, *mid = nid + top;
    float *sc = hr_malloc((3 * (size_t)top + 1) * sizeof *sc), *nsc = sc + top, *msc = nsc + top;
    hr_topk_entry *st = hr_malloc(((size_t)top + 1) * sizeof *st);
    int rc = 0;
    for (uint64_t x = 0; rc == 0 && x < nq; x++) {
        char ta[HR_DICT_INT_CHARS], tb[HR_DICT_INT_CHARS];
        size_t al, bl;
        const char *a = hr_sim_content_id(items, cs, qid[x], ta, &al);
        uint32_t got = hr_topbuf_sorted(&heaps[x], idx, sc);
        while (got > 0 && !isfinite(sc[got - 1])) got--;
        const uint32_t *li = idx;
        const float *ls = sc;
        if (cs) {   /* the content items' best merged in */
            uint32_t nn = hr_sim_content_best(cs, Q + x * (uint64_t)cs->k, qid[x], top, st, nid, nsc);
            got = hr_topk_merge_lists(idx, sc, got, nid, nsc, nn, top, mid, msc);
            li = mid;
            ls = msc;
        }
        for (uint32_t r = 0; rc == 0 && r < got; r++) {
            const char *b = hr_sim_content_id(items, cs, li[r], tb, &bl);
            const int c = hr_sim_is_content(cs, qid[x]) || hr_sim_is_content(cs, li[r]);
            if (cs) cs->lines += c;
            rc = hr_recwriter_line(wr, a, al, r + 1, b, bl, ls[r], c ? "content" : source, &job->err);
        }
    }
    hr_free(idx);
    hr_free(sc);
    hr_free(st);
    if (rc < 0) {
        hr_recwriter_abort(wr);
        return rc;
    }
    return hr_recwriter_close(wr, &info[0], &info[1], &info[2], &job->err);
}

/* An item-item model: the largest weights of each column this rank holds, for every item or for
 * the listed ones (m: dictionaries). */
static int from_columns(hr_job *job, const char *path, const char *items_file, hr_model *m, uint32_t top, uint32_t **qid,
                        uint64_t *nq, hr_topbuf **heaps, hr_topkey **store, double *t_score)
{
    double t0 = hr_now();
    hr_model_part part = { NULL, 0, 0, 0, NULL, 0 };
    hr_ring_item_share(m, job->rank, job->size, &part.item_lo, &part.item_hi);
    int rc = hr_model_load_part(path, m, &part, &job->err);
    uint64_t *listed = NULL, nlisted = 0, lo = part.item_lo, hi = part.item_hi;
    if (rc == 0 && items_file) rc = hr_index_read_ids(items_file, &m->items, "item", path, &listed, &nlisted, &job->err);
    rc = hr_comm_agree(job->comm, rc, &job->err);
    if (rc < 0) {
        hr_free(listed);
        return rc;
    }
    /* wanted[j - lo]: column j is a query (every column when no list is given) */
    unsigned char *wanted = hr_malloc(hi - lo + 1);
    memset(wanted, items_file ? 0 : 1, hi - lo + 1);
    for (uint64_t x = 0; x < nlisted; x++)
        if (listed[x] >= lo && listed[x] < hi) wanted[listed[x] - lo] = 1;
    hr_free(listed);
    *nq = 0;
    for (uint64_t j = lo; j < hi; j++) *nq += wanted[j - lo];
    *qid = hr_malloc((*nq + 1) * sizeof **qid);
    *heaps = hr_malloc((*nq + 1) * sizeof **heaps);
    *store = hr_malloc((*nq * 2 * top + 1) * sizeof **store);
    for (uint64_t c = 0, x = 0; c < m->ii_count; c++) {
        const hr_iiblock *b = &m->ii[c];
        for (uint64_t j = b->c0; j < b->c1; j++) {
            if (!wanted[j - lo]) continue;
            uint32_t self = (uint32_t)j;
            (*qid)[x] = self;
            hr_topbuf *h = &(*heaps)[x];
            hr_topbuf_init(h, *store + x * 2 * top, top, 2 * top);
            if (b->dense) {
                hr_topbuf_push_row(h, b->val + (j - b->c0) * b->n, 0, (uint32_t)b->n, &self, 1);
            } else {
                for (uint64_t e = b->ptr[j - b->c0]; e < b->ptr[j - b->c0 + 1]; e++)
                    if (b->row[e] != self) hr_topbuf_push(h, b->val[e], b->row[e]);
            }
            x++;
        }
    }
    hr_free(wanted);
    *t_score = hr_now() - t0;
    return 0;
}

/* Where the item queries come from: every item, or the items listed in a file; candidates from
 * the whole catalogue or from an index (jobs/indexscore.h). */
typedef struct model_src {
    const char *path, *items_file, *index;
    uint32_t probe;
    const hr_content_opts *content;   /* --item-features, or NULL */
} model_src;

static int from_model(hr_job *job, const model_src *src, uint32_t top, hr_dict *items_out, uint32_t **qid, uint64_t *nq,
                      hr_topbuf **heaps, hr_topkey **store, double *t_score, const char **source, hr_sim_content *cs, float **Qout)
{
    const char *path = src->path;
    hr_model m;
    int rc = hr_model_load_dicts(path, &m, &job->err);
    if (rc == 0 && cs && src->index)
        rc = hr_error_set(&job->err, HR_ERR_ARG, "--item-features: not with --index (the index holds the stored item rows only)");
    if (rc == 0 && cs && !m.content_nf)
        rc = hr_error_set(&job->err, HR_ERR_ARG, "--item-features: %s has no content map (train it with --item-features to store one)",
                          path);
    if (rc == 0 && m.kind == HR_MODEL_USERUSER)   /* its neighbours are users, not items */
        rc = hr_error_set(&job->err, HR_ERR_ARG, "%s: a userknn model holds user neighbours, not item similarities; "
                          "use an itemknn model or similar --data DATASET", path);
    if (rc == 0 && m.kind == HR_MODEL_ITEMITEM && src->index)
        rc = hr_error_set(&job->err, HR_ERR_ARG, "--index: %s is an item-item model, it has no item factors to search", path);
    if (rc == 0 && m.kind == HR_MODEL_ITEMITEM) {
        *source = "itemitem";
        rc = from_columns(job, path, src->items_file, &m, top, qid, nq, heaps, store, t_score);
        *items_out = m.items;
        memset(&m.items, 0, sizeof m.items);
        hr_model_free(&m);
        return rc;
    }
    if (rc == 0 && m.kind != HR_MODEL_FACTOR)
        rc = hr_error_set(&job->err, HR_ERR_STATE, "%s: a %s model has no item factors; use --data for co-occurrence", path, m.algo);
    rc = hr_comm_agree(job->comm, rc, &job->err);
    if (rc < 0) {
        hr_model_free(&m);
        return rc;
    }
    uint64_t n = m.n_items;
    int k = m.k;
    if (cs) {   /* every rank maps every content item */
        rc = hr_sim_content_init(job, src->content, &m, cs);
        if (rc < 0) {
            hr_model_free(&m);
            return rc;
        }
    }
    /* This rank's block of item rows is both its queries and its first block of the ring. */
    uint64_t lo = (uint64_t)job->rank * n / (uint64_t)job->size, hi = (uint64_t)(job->rank + 1) * n / (uint64_t)job->size;
    hr_model_part part = { NULL, 0, lo, hi, NULL, 0 };
    rc = hr_model_load_part(path, &m, &part, &job->err);
    rc = hr_comm_agree(job->comm, rc, &job->err);
    if (rc < 0) {
        hr_model_free(&m);
        return rc;
    }
    float *N = hr_malloc(((hi - lo) * (uint64_t)k + 1) * sizeof *N);
    for (uint64_t i = 0; i < hi - lo; i++) {
        const float *y = m.item_factors + i * (uint64_t)k;
        double s = 0;
        for (int j = 0; j < k; j++) s += (double)y[j] * y[j];
        float inv = s > 0 ? (float)(1.0 / sqrt(s)) : 0.0f;
        for (int j = 0; j < k; j++) N[i * (uint64_t)k + (uint64_t)j] = y[j] * inv;
    }
    for (uint64_t c = 0; cs && c < cs->nk; c++)   /* known content items: their mapped rows */
        if (cs->ci.gid[c] >= lo && cs->ci.gid[c] < hi)
            memcpy(N + (cs->ci.gid[c] - lo) * (uint64_t)k, cs->N + c * (uint64_t)k, (size_t)k * sizeof *N);
    /* new items: rank r queries its share x0..x1-1 of them */
    const uint64_t nnew = cs ? cs->ci.n_new : 0, x0 = (uint64_t)job->rank * nnew / (uint64_t)job->size,
                   x1 = (uint64_t)(job->rank + 1) * nnew / (uint64_t)job->size;
    /* queries: the block's items, or those of the listed ones that are in the block */
    uint64_t *listed = NULL, nlisted = 0;
    if (src->items_file) rc = hr_index_read_ids(src->items_file, &m.items, "item", path, &listed, &nlisted, &job->err);
    rc = hr_comm_agree(job->comm, rc, &job->err);
    *nq = 0;
    *qid = hr_malloc(((src->items_file ? nlisted : hi - lo) + (x1 - x0) + 1) * sizeof **qid);
    for (uint64_t x = 0; rc == 0 && x < (src->items_file ? nlisted : hi - lo); x++) {
        uint64_t g = src->items_file ? listed[x] : lo + x;
        if (g >= lo && g < hi) (*qid)[(*nq)++] = (uint32_t)g;
    }
    hr_free(listed);
    const uint64_t nblock = *nq;
    if (!src->items_file)
        for (uint64_t x = x0; x < x1; x++) (*qid)[(*nq)++] = (uint32_t)(n + x);
    float *Q = src->items_file || x1 > x0 ? hr_malloc((*nq * (uint64_t)k + 1) * sizeof *Q) : N;
    if (Q != N) {
        for (uint64_t x = 0; x < nblock; x++) memcpy(Q + x * (uint64_t)k, N + ((*qid)[x] - lo) * (uint64_t)k, (size_t)k * sizeof *Q);
        for (uint64_t x = nblock; x < *nq; x++)
            memcpy(Q + x * (uint64_t)k, cs->N + (cs->nk + ((*qid)[x] - n)) * (uint64_t)k, (size_t)k * sizeof *Q);
    }
    uint32_t **excl = hr_malloc((*nq + 1) * sizeof *excl), *nexcl = hr_malloc((*nq + 1) * sizeof *nexcl);
    *heaps = hr_malloc((*nq + 1) * sizeof **heaps);
    *store = hr_malloc((*nq * top + 1) * sizeof **store);
    for (uint64_t x = 0; x < *nq; x++) {
        excl[x] = &(*qid)[x];   /* itself */
        nexcl[x] = 1;
        hr_topbuf_init(&(*heaps)[x], *store + x * top, top, top);   /* the ring lends 2 * top while it pushes */
    }
    hr_ring_query q = { *nq, Q, excl, nexcl, *heaps };
    double t_comm;
    uint64_t iscores;
    if (rc == 0 && src->index)   /* the index normalises the model's rows itself, exactly as N was */
        rc = hr_index_ring_score(job, src->index, src->probe, &m, path, HR_METRIC_COSINE, "similar", m.item_factors, NULL, NULL, n, k,
                                 &q, t_score, &t_comm, &iscores);
    else if (rc == 0)
        rc = hr_ring_score(job, N, NULL, cs ? cs->known : NULL, n, k, &q, t_score, &t_comm);
    hr_free(excl);
    hr_free(nexcl);
    if (cs) {   /* the query rows, for the new items' scores at writing */
        if (Q == N) N = NULL;
        *Qout = Q;
    } else if (Q != N) {
        hr_free(Q);
    }
    hr_free(N);
    *items_out = m.items;
    memset(&m.items, 0, sizeof m.items);
    hr_model_free(&m);
    return rc;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static int from_data(hr_job *job, hr_dataset *ds, int jaccard, uint64_t min_support, uint32_t top, uint32_t **qid,
                     uint64_t *nq, hr_topbuf **heaps, hr_topkey **store, double *t_score)
{
    int P = job->size, rc;
    const hr_block *ib = &ds->by_item, *ub = &ds->by_user;
    double t0 = hr_now();
    /* Users my items need, grouped by owner. */
    uint32_t *need = hr_malloc((ib->nnz + 1) * sizeof *need);
    memcpy(need, ib->idx, ib->nnz * sizeof *need);
    qsort(need, ib->nnz, sizeof *need, cmp_u32);
    uint64_t nn = 0;
    for (uint64_t e = 0; e < ib->nnz; e++)
        if (nn == 0 || need[e] != need[nn - 1]) need[nn++] = need[e];
    uint64_t *cnt = hr_calloc((size_t)P * 3, sizeof *cnt), *rcnt = cnt + P, *pos = rcnt + P;
    for (uint64_t x = 0; x < nn; x++) cnt[ds->upart.owner[need[x]]]++;
    for (int r = 1; r < P; r++) pos[r] = pos[r - 1] + cnt[r - 1];
    uint32_t *req = hr_malloc((nn + 1) * sizeof *req);
    for (uint64_t x = 0; x < nn; x++) req[pos[ds->upart.owner[need[x]]]++] = need[x];
    void *asked;
    uint64_t nasked;
    rc = hr_comm_alltoallv(job->comm, req, cnt, sizeof(uint32_t), &asked, rcnt, &nasked);
    if (rc < 0) goto out0;
    /* Answer: lengths, then the item lists, in the order asked. */
    {
        const uint32_t *ag = asked;
        uint64_t *len = hr_malloc((nasked + 1) * sizeof *len), tot = 0;
        for (uint64_t x = 0; x < nasked; x++) {
            uint32_t l = ds->upart.local[ag[x]];
            len[x] = ub->ptr[l + 1] - ub->ptr[l];
            tot += len[x];
        }
        uint32_t *items = hr_malloc((tot + 1) * sizeof *items);
        uint64_t *icnt = hr_calloc((size_t)P * 2, sizeof *icnt), *ircnt = icnt + P, o = 0, x = 0;
        for (int r = 0; r < P; r++)
            for (uint64_t y = 0; y < rcnt[r]; y++, x++) {
                uint32_t l = ds->upart.local[ag[x]];
                memcpy(items + o, ub->idx + ub->ptr[l], len[x] * sizeof *items);
                o += len[x];
                icnt[r] += len[x];
            }
        void *glen, *gitems;
        uint64_t ng, ngi;
        uint64_t *lc = hr_calloc((size_t)P, sizeof *lc);
        rc = hr_comm_alltoallv(job->comm, len, rcnt, sizeof(uint64_t), &glen, lc, &ng);
        if (rc == 0) rc = hr_comm_alltoallv(job->comm, items, icnt, sizeof(uint32_t), &gitems, ircnt, &ngi);
        hr_free(len);
        hr_free(items);
        hr_free(icnt);
        hr_free(lc);
        hr_free(asked);
        if (rc < 0) goto out0;
        /* Received rows are in req order: offsets per requested user. */
        const uint64_t *gl = glen;
        uint64_t *off = hr_malloc((nn + 1) * sizeof *off);
        off[0] = 0;
        for (uint64_t y = 0; y < nn; y++) off[y + 1] = off[y] + gl[y];
        /* req is grouped by owner, each group in gid order: binary search per owner segment */
        uint64_t *seg = hr_malloc(((size_t)P + 1) * sizeof *seg);
        seg[0] = 0;
        for (int r = 0; r < P; r++) seg[r + 1] = seg[r] + cnt[r];
        const uint32_t *rows = gitems;
        uint64_t n_items = ds->items.n;
        uint32_t *acc = hr_calloc(n_items + 1, sizeof *acc), *touched = hr_malloc((n_items + 1) * sizeof *touched);
        *nq = ib->nrows;
        *qid = hr_malloc((*nq + 1) * sizeof **qid);
        *heaps = hr_malloc((*nq + 1) * sizeof **heaps);
        *store = hr_malloc((*nq * 2 * top + 1) * sizeof **store);
        for (uint64_t r = 0; r < ib->nrows; r++) {
            uint32_t i = ib->gid[r];
            (*qid)[r] = i;
            hr_topbuf_init(&(*heaps)[r], *store + r * 2 * top, top, 2 * top);
            uint64_t nt = 0;
            for (uint64_t e = ib->ptr[r]; e < ib->ptr[r + 1]; e++) {
                uint32_t u = ib->idx[e], q = ds->upart.owner[u];
                uint64_t a = seg[q], b = seg[q + 1];
                while (a < b) {
                    uint64_t mid = a + (b - a) / 2;
                    if (req[mid] < u) a = mid + 1;
                    else b = mid;
                }
                for (uint64_t z = off[a]; z < off[a + 1]; z++) {
                    uint32_t j = rows[z];
                    if (j == i) continue;
                    if (acc[j]++ == 0) touched[nt++] = j;
                }
            }
            double ni = (double)ds->items.nnz[i];
            for (uint64_t t = 0; t < nt; t++) {
                uint32_t j = touched[t];
                double c = acc[j], nj = (double)ds->items.nnz[j];
                acc[j] = 0;
                if (c < (double)min_support) continue;
                float sim = (float)(jaccard ? c / (ni + nj - c) : c / sqrt(ni * nj));
                hr_topbuf_push(&(*heaps)[r], sim, j);
            }
        }
        hr_free(acc);
        hr_free(touched);
        hr_free(seg);
        hr_free(off);
        hr_free(glen);
        hr_free(gitems);
    }
out0:
    hr_free(need);
    hr_free(req);
    hr_free(cnt);
    *t_score = hr_now() - t0;
    return hr_comm_agree(job->comm, rc, &job->err);
}

int hr_cmd_similar(hr_job *job, int argc, char **argv)
{
    static const struct option opts[] = {
        { "model", required_argument, 0, 'm' }, { "data", required_argument, 0, 'd' }, { "out", required_argument, 0, 'o' },
        { "top", required_argument, 0, 'n' }, { "measure", required_argument, 0, 'M' },
        { "min-support", required_argument, 0, 's' }, { "zstd-level", required_argument, 0, 'z' },
        { "items", required_argument, 0, 'i' }, { "index", required_argument, 0, 'I' }, { "probe", required_argument, 0, 'p' },
        { "json", required_argument, 0, 'j' }, { "help", no_argument, 0, 'h' }, HR_CONTENT_LONGOPTS, { 0, 0, 0, 0 } };
    hr_content_opts co;
    hr_content_opts_init(&co);
    const char *model = NULL, *data = NULL, *out = NULL, *measure = "cosine", *items_file = NULL, *index = NULL;
    int64_t top = 20, min_support = 1, level = 1, probe = 0;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case 'd': data = optarg; break;
        case 'o': out = optarg; break;
        case 'n': HR_TRY(hr_opt_i64(job, "--top", optarg, 1, 100000, &top)); break;
        case 'M': measure = optarg; break;
        case 's': HR_TRY(hr_opt_i64(job, "--min-support", optarg, 1, INT64_MAX, &min_support)); break;
        case 'z': HR_TRY(hr_opt_i64(job, "--zstd-level", optarg, 1, 19, &level)); break;
        case 'i': items_file = optarg; break;
        case 'I': index = optarg; break;
        case 'p': HR_TRY(hr_opt_i64(job, "--probe", optarg, 1, UINT32_MAX, &probe)); break;
        case 'j': job->json_path = optarg; break;
        case HR_CONTENT_OPT_FILE: case HR_CONTENT_OPT_FORMAT: HR_TRY(hr_content_opt(job, &co, c, optarg)); break;
        case HR_CONTENT_OPT_MAX: case HR_CONTENT_OPT_LAMBDA: case HR_CONTENT_OPT_GRID:
            return hr_error_set(&job->err, HR_ERR_ARG, "--features-max, --features-lambda and --features-grid belong to train: similar uses the "
                                "model's content map as trained");
        case 'h': if (job->rank == 0) fputs(usage, stdout); return 0;
        default: return hr_opt_usage(job, usage);
        }
    }
    if (!out || (!model) == (!data))
        return hr_error_set(&job->err, HR_ERR_ARG, "give --out and exactly one of --model or --data\n%s", usage);
    if (co.nfiles && !model) return hr_error_set(&job->err, HR_ERR_ARG, "--item-features needs --model");
    if ((items_file || index) && !model) return hr_error_set(&job->err, HR_ERR_ARG, "--items and --index need --model");
    if (probe && !index) return hr_error_set(&job->err, HR_ERR_ARG, "--probe needs --index");
    hr_pathspec ps[] = { { "--model", model, HR_IN }, { "--data", data, HR_IN }, { "--items", items_file, HR_IN },
                         { "--index", index, HR_IN }, { "--out", out, HR_OUT_DIR }, { "--json", job->json_path, HR_OUT_FILE } };
    HR_TRY(hr_publish_check(job, ps, 6));
    int jaccard = 0;
    if (!strcasecmp(measure, "jaccard")) jaccard = 1;
    else if (strcasecmp(measure, "cosine") != 0)
        return hr_error_set(&job->err, HR_ERR_ARG, "--measure: '%s' is not cosine or jaccard", measure);
    double t0 = hr_now(), t_score = 0;
    hr_dict items = { 0 };
    hr_dataset ds;
    memset(&ds, 0, sizeof ds);
    uint32_t *qid = NULL;
    uint64_t nq = 0;
    hr_topbuf *heaps = NULL;
    hr_topkey *store = NULL;
    int rc;
    const char *source = model ? "factors" : jaccard ? "jaccard" : "cosine";
    hr_sim_content cs;
    memset(&cs, 0, sizeof cs);
    float *Q = NULL;
    if (model) {
        model_src src = { model, items_file, index, (uint32_t)probe, co.nfiles ? &co : NULL };
        rc = from_model(job, &src, (uint32_t)top, &items, &qid, &nq, &heaps, &store, &t_score, &source, co.nfiles ? &cs : NULL, &Q);
    } else {
        rc = hr_dataset_load(job, data, HR_LOAD_BY_USER | HR_LOAD_BY_ITEM, &ds);
        if (rc == 0) rc = from_data(job, &ds, jaccard, (uint64_t)min_support, (uint32_t)top, &qid, &nq, &heaps, &store, &t_score);
    }
    uint64_t info[3] = { 0 };
    hr_publish pub;
    memset(&pub, 0, sizeof pub);
    rc = hr_comm_agree(job->comm, rc, &job->err);   /* hr_publish_begin is collective */
    if (rc == 0) rc = hr_publish_begin(job, out, "manifest.json", SIM_FORMATS, &pub);
    if (rc == 0)
        rc = write_lists(job, pub.dir, model ? &items : &ds.items, qid, nq, heaps, (uint32_t)top, source, (int)level, info,
                         co.nfiles ? &cs : NULL, Q);
    rc = hr_comm_agree(job->comm, rc, &job->err);
    uint64_t tot[3] = { nq, info[2], cs.lines };
    uint64_t *all = hr_calloc((size_t)job->size * 3, sizeof *all);
    if (rc == 0) {
        memcpy(all + 3 * job->rank, info, sizeof info);
        rc = hr_comm_allreduce_sum_u64(job->comm, all, (size_t)job->size * 3);
    }
    if (rc == 0) rc = hr_comm_allreduce_sum_u64(job->comm, tot, 3);
    if (rc == 0 && job->rank == 0) {
        json_t *mf = json_pack("{s:s,s:i,s:s,s:s,s:s,s:I,s:I,s:I}", "format", "hpcrec-similar", "version", 1, "software",
                               "hpcrec " HR_VERSION, "from", model ? model : data, "measure", source, "top", (json_int_t)top,
                               "items", (json_int_t)tot[0], "lines", (json_int_t)tot[1]);
        json_object_set_new(mf, "columns", json_pack("[s,s,s,s,s]", "item", "rank", "similar", "score", "source"));
        if (co.nfiles) {
            json_object_set_new(mf, "content_items", json_integer((json_int_t)cs.ci.n));
            json_object_set_new(mf, "content_items_new", json_integer((json_int_t)cs.ci.n_new));
            json_object_set_new(mf, "content_lines", json_integer((json_int_t)tot[2]));
        }
        char path[4096];
        for (int r = 0; r < job->size; r++) {
            snprintf(path, sizeof path, "part-%05d.tsv.zst", r);
            hr_manifest_add_file(mf, path, all[3 * r + 1], all[3 * r]);
        }
        snprintf(path, sizeof path, "%s/manifest.json", pub.dir);
        rc = hr_manifest_write(path, mf, &job->err);
        json_decref(mf);
    }
    rc = hr_publish_end(job, &pub, rc);
    if (rc == 0) {
        hr_job_set_int(job, "items", (int64_t)tot[0]);
        hr_job_set_int(job, "lines", (int64_t)tot[1]);
        hr_job_set_int(job, "top", top);
        hr_job_set_str(job, "measure", source);
        hr_job_set_real(job, "seconds_scoring", t_score);
        if (co.nfiles) {
            hr_job_set_int(job, "content_items", (int64_t)cs.ci.n);
            hr_job_set_int(job, "content_items_new", (int64_t)cs.ci.n_new);
            hr_job_set_int(job, "content_lines", (int64_t)tot[2]);
            hr_progress("similar    content: %llu items mapped by the content map (%llu new to the model), %llu lines with source "
                        "content", (unsigned long long)cs.ci.n, (unsigned long long)cs.ci.n_new, (unsigned long long)tot[2]);
        }
        hr_progress("similar    %llu items, top %lld by %s: %llu lines in %s; %.2fs", (unsigned long long)tot[0], (long long)top,
                    source, (unsigned long long)tot[1], out, hr_now() - t0);
    }
    hr_free(all);
    hr_free(qid);
    hr_free(heaps);
    hr_free(store);
    hr_dict_free(&items);
    hr_dataset_free(&ds);
    hr_sim_content_free(&cs);
    hr_free(Q);
    return rc;
}
