/* hpcrec similar — the K most similar items of every item.
 *
 * From a model (--model M.tar): cosine of item factors.  Each rank takes a contiguous block of
 * items as queries (normalised factor rows) and scores them against the catalogue with the
 * same ring of blocked SGEMM as recommend (jobs/ringscore.h).
 * From data (--data DATASET --measure cosine|jaccard [--min-support S]): item-item
 * co-occurrence C_ij = users who have both i and j, computed where item i lives: its rank asks
 * the owners of i's users for their rows (two all-to-alls: row lengths, then items), then
 * counts j over those rows with a sparse accumulator.  cosine = C_ij / sqrt(n_i n_j),
 * jaccard = C_ij / (n_i + n_j - C_ij), pairs with C_ij < S dropped.
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
#include "jobs/dataset.h"
#include "jobs/publish.h"
#include "jobs/ringscore.h"
#include "solvers/topk.h"

static const char *const SIM_FORMATS[] = { "hpcrec-similar", NULL };

static const char usage[] =
    "hpcrec similar --model MODEL.tar --out DIR [--top K]\n"
    "hpcrec similar --data DATASET --out DIR [--top K] [--measure cosine|jaccard] [--min-support S]\n"
    "  [--zstd-level Z] [--json FILE]\n";

/* Lists of (query item, heap) written in query order; ids from dict. */
static int write_lists(hr_job *job, const char *out, const hr_dict *items, const uint32_t *qid, uint64_t nq, hr_topbuf *heaps,
                       uint32_t top, const char *source, int level, uint64_t info[3])
{
    char path[4096];
    snprintf(path, sizeof path, "%s/part-%05d.tsv.zst", out, job->rank);
    hr_recwriter *wr;
    HR_TRY(hr_recwriter_open(path, "item\trank\tsimilar\tscore\tsource", level, &wr, &job->err));
    uint32_t *idx = hr_malloc((top + 1) * sizeof *idx);
    float *sc = hr_malloc((top + 1) * sizeof *sc);
    int rc = 0;
    for (uint64_t x = 0; rc == 0 && x < nq; x++) {
        char ta[HR_DICT_INT_CHARS], tb[HR_DICT_INT_CHARS];
        size_t al, bl;
        const char *a = hr_dict_key(items, qid[x], ta, &al);
        uint32_t got = hr_topbuf_sorted(&heaps[x], idx, sc);
        for (uint32_t r = 0; rc == 0 && r < got; r++) {
            if (!isfinite(sc[r])) break;
            const char *b = hr_dict_key(items, idx[r], tb, &bl);
            rc = hr_recwriter_line(wr, a, al, r + 1, b, bl, sc[r], source, &job->err);
        }
    }
    hr_free(idx);
    hr_free(sc);
    if (rc < 0) {
        hr_recwriter_abort(wr);
        return rc;
    }
    return hr_recwriter_close(wr, &info[0], &info[1], &info[2], &job->err);
}

static int from_model(hr_job *job, const char *path, uint32_t top, hr_dict *items_out, uint32_t **qid, uint64_t *nq,
                      hr_topbuf **heaps, hr_topkey **store, double *t_score)
{
    hr_model m;
    int rc = hr_model_load_dicts(path, &m, &job->err);
    if (rc == 0 && m.kind != HR_MODEL_FACTOR)
        rc = hr_error_set(&job->err, HR_ERR_STATE, "%s: a %s model has no item factors; use --data for co-occurrence", path, m.algo);
    rc = hr_comm_agree(job->comm, rc, &job->err);
    if (rc < 0) {
        hr_model_free(&m);
        return rc;
    }
    uint64_t n = m.n_items;
    int k = m.k;
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
    *nq = hi - lo;
    *qid = hr_malloc((*nq + 1) * sizeof **qid);
    uint32_t **excl = hr_malloc((*nq + 1) * sizeof *excl), *nexcl = hr_malloc((*nq + 1) * sizeof *nexcl);
    *heaps = hr_malloc((*nq + 1) * sizeof **heaps);
    *store = hr_malloc((*nq * top + 1) * sizeof **store);
    for (uint64_t x = 0; x < *nq; x++) {
        (*qid)[x] = (uint32_t)(lo + x);
        excl[x] = &(*qid)[x];   /* itself */
        nexcl[x] = 1;
        hr_topbuf_init(&(*heaps)[x], *store + x * top, top, top);   /* the ring lends 2 * top while it pushes */
    }
    hr_ring_query q = { *nq, N, excl, nexcl, *heaps };
    double t_comm;
    rc = hr_ring_score(job, N, NULL, NULL, n, k, &q, t_score, &t_comm);
    hr_free(excl);
    hr_free(nexcl);
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
        { "json", required_argument, 0, 'j' }, { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 } };
    const char *model = NULL, *data = NULL, *out = NULL, *measure = "cosine";
    int64_t top = 20, min_support = 1, level = 1;
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
        case 'j': job->json_path = optarg; break;
        case 'h': if (job->rank == 0) fputs(usage, stdout); return 0;
        default: return hr_opt_usage(job, usage);
        }
    }
    if (!out || (!model) == (!data))
        return hr_error_set(&job->err, HR_ERR_ARG, "give --out and exactly one of --model or --data\n%s", usage);
    hr_pathspec ps[] = { { "--model", model, HR_IN }, { "--data", data, HR_IN }, { "--out", out, HR_OUT_DIR },
                         { "--json", job->json_path, HR_OUT_FILE } };
    HR_TRY(hr_publish_check(job, ps, 4));
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
    if (model) {
        rc = from_model(job, model, (uint32_t)top, &items, &qid, &nq, &heaps, &store, &t_score);
    } else {
        rc = hr_dataset_load(job, data, HR_LOAD_BY_USER | HR_LOAD_BY_ITEM, &ds);
        if (rc == 0) rc = from_data(job, &ds, jaccard, (uint64_t)min_support, (uint32_t)top, &qid, &nq, &heaps, &store, &t_score);
    }
    uint64_t info[3] = { 0 };
    hr_publish pub;
    memset(&pub, 0, sizeof pub);
    rc = hr_comm_agree(job->comm, rc, &job->err);   /* hr_publish_begin is collective */
    if (rc == 0) rc = hr_publish_begin(job, out, "manifest.json", SIM_FORMATS, &pub);
    if (rc == 0) rc = write_lists(job, pub.dir, model ? &items : &ds.items, qid, nq, heaps, (uint32_t)top, source, (int)level, info);
    rc = hr_comm_agree(job->comm, rc, &job->err);
    uint64_t tot[2] = { nq, info[2] };
    uint64_t *all = hr_calloc((size_t)job->size * 3, sizeof *all);
    if (rc == 0) {
        memcpy(all + 3 * job->rank, info, sizeof info);
        rc = hr_comm_allreduce_sum_u64(job->comm, all, (size_t)job->size * 3);
    }
    if (rc == 0) rc = hr_comm_allreduce_sum_u64(job->comm, tot, 2);
    if (rc == 0 && job->rank == 0) {
        json_t *mf = json_pack("{s:s,s:i,s:s,s:s,s:s,s:I,s:I,s:I}", "format", "hpcrec-similar", "version", 1, "software",
                               "hpcrec " HR_VERSION, "from", model ? model : data, "measure", source, "top", (json_int_t)top,
                               "items", (json_int_t)tot[0], "lines", (json_int_t)tot[1]);
        json_object_set_new(mf, "columns", json_pack("[s,s,s,s,s]", "item", "rank", "similar", "score", "source"));
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
        hr_progress("similar    %llu items, top %lld by %s: %llu lines in %s; %.2fs", (unsigned long long)tot[0], (long long)top,
                    source, (unsigned long long)tot[1], out, hr_now() - t0);
    }
    hr_free(all);
    hr_free(qid);
    hr_free(heaps);
    hr_free(store);
    hr_dict_free(&items);
    hr_dataset_free(&ds);
    return rc;
}
