/* jobs/indexscore.c — queries against an ANN index, the index's blocks going round the ring
 * (see indexscore.h). */
#include "jobs/indexscore.h"

#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/timer.h"
#include "solvers/ivf.h"

struct hr_index {
    hr_index_meta meta;
    hr_ivf_quantizer q;
    uint32_t nprobe;    /* --probe, or the index's default */
    int fixed;          /* --probe given: every query probes nprobe lists */
    char dir[4096];
};

const hr_index_meta *hr_index_info(const hr_index *ix) { return &ix->meta; }

void hr_index_close(hr_index *ix)
{
    if (!ix) return;
    hr_index_meta_free(&ix->meta);
    hr_ivf_quantizer_free(&ix->q);
    hr_free(ix);
}

static int check_model(const hr_index *ix, const hr_model *m, const char *model_path, hr_metric metric, const char *what,
                       uint32_t probe, hr_error *err)
{
    const hr_index_meta *mt = &ix->meta;
    char id[17];
    hr_index_model_id(m->manifest, id);
    if (strcmp(id, mt->model_xxh3) != 0) {
        const char *built = json_string_value(json_object_get(json_object_get(mt->manifest, "model"), "path"));
        return hr_error_set(err, HR_ERR_STATE,
                            "%s was built from another model (%s, manifest %s), not from %s (manifest %s): rebuild it with "
                            "hpcrec index build --model %s",
                            ix->dir, built ? built : "?", mt->model_xxh3, model_path, id, model_path);
    }
    if (m->kind != HR_MODEL_FACTOR || m->k != mt->k || m->n_items != mt->n_items)
        return hr_error_set(err, HR_ERR_STATE, "%s: index of %llu items x %d does not match model %s", ix->dir,
                            (unsigned long long)mt->n_items, mt->k, model_path);
    if (metric && mt->metric != metric)
        return hr_error_set(err, HR_ERR_ARG, "%s was built with --metric %s; %s needs an index built with --metric %s", ix->dir,
                            hr_metric_name(mt->metric), what, hr_metric_name(metric));
    if (probe > mt->nlist)
        return hr_error_set(err, HR_ERR_ARG, "--probe %u: the index has only %u lists (--probe %u scans all of them)", probe, mt->nlist,
                            mt->nlist);
    return 0;
}

int hr_index_open(hr_job *job, const char *dir, const hr_model *m, const char *model_path, hr_metric metric, const char *what,
                  uint32_t probe, hr_index **out)
{
    *out = NULL;
    hr_index *ix = hr_calloc(1, sizeof *ix);
    snprintf(ix->dir, sizeof ix->dir, "%s", dir);
    float *cent = NULL;
    uint64_t *sizes = NULL;
    int rc = hr_index_meta_read(dir, &ix->meta, &job->err);
    if (rc == 0) rc = check_model(ix, m, model_path, metric, what, probe, &job->err);
    if (rc == 0) rc = hr_index_quantizer_read(dir, &ix->meta, &cent, &sizes, &job->err);
    if (rc == 0) {
        hr_ivf_quantizer_init(&ix->q, cent, ix->meta.nlist, ix->meta.k, ix->meta.dim);
        ix->nprobe = probe ? probe : ix->meta.probe;
        ix->fixed = probe != 0;
    }
    hr_free(cent);
    hr_free(sizes);
    rc = hr_comm_agree(job->comm, rc, &job->err);
    if (rc < 0) {
        hr_index_close(ix);
        return rc;
    }
    *out = ix;
    return 0;
}

/* Queries scanned with the same number of lists: all of the caller's (which == NULL) or those
 * listed in which (indices into the caller's arrays: rows, selections, exclusions are never
 * copied). */
typedef struct qclass {
    uint64_t n;
    uint32_t nprobe;
    uint32_t *which;    /* n indices, or NULL: 0..n-1 */
    uint32_t *probes;   /* n x nprobe */
} qclass;

/* Queries per batch: large enough that a list's group of queries makes a reasonable SGEMM
 * (about 256 rows on average), small enough that the borrowed selection buffers stay modest. */
static uint64_t batch_size(uint32_t nlist, uint32_t nprobe, uint32_t wcap)
{
    uint64_t b = 256ull * nlist / (nprobe ? nprobe : 1);
    uint64_t cap_mem = (64ull << 20) / ((uint64_t)(wcap ? wcap : 1) * sizeof(hr_topkey));
    if (b > cap_mem) b = cap_mem;
    if (b < 2048) b = 2048;
    if (b > 65536) b = 65536;
    return b;
}

/* Scan one block for the queries of one class, batch by batch. */
static void scan_class(const hr_ivf_lists *L, const qclass *c, const hr_ring_query *q, const uint8_t *banned, int k,
                       hr_index_stats *st)
{
    uint32_t wcap = 0;
    for (uint64_t x = 0; x < c->n; x++) {
        uint32_t qi = c->which ? c->which[x] : (uint32_t)x;
        wcap = q->heaps[qi].n > wcap ? q->heaps[qi].n : wcap;
    }
    wcap *= 2;
    uint64_t QB = batch_size(L->nlist, c->nprobe, wcap);
    if (QB > c->n) QB = c->n ? c->n : 1;
    hr_topkey *work = hr_malloc((QB * wcap + 1) * sizeof *work);
    hr_ivf_groups g = { L->nlist, hr_malloc(((size_t)L->nlist + 1) * sizeof(uint32_t)), hr_malloc((QB * c->nprobe + 1) * sizeof(uint32_t)) };
    float *sw = hr_malloc(hr_ivf_scan_work_floats(k) * sizeof *sw);
    for (uint64_t x0 = 0; x0 < c->n; x0 += QB) {
        uint32_t nb = (uint32_t)(c->n - x0 < QB ? c->n - x0 : QB);
        const uint32_t *map = c->which ? c->which + x0 : NULL;
        for (uint32_t x = 0; x < nb; x++)
            hr_topbuf_borrow(&q->heaps[map ? map[x] : x0 + x], work + (uint64_t)x * wcap, wcap);
        hr_ivf_group(&g, c->probes + x0 * c->nprobe, nb, c->nprobe);
        hr_ivf_batch b = { map ? q->Q : q->Q + x0 * (uint64_t)k, map ? q->heaps : q->heaps + x0,
                           q->excl ? (map ? q->excl : q->excl + x0) : NULL, q->excl ? (map ? q->nexcl : q->nexcl + x0) : NULL, banned, map };
        st->scores += hr_ivf_scan(L, &g, &b, sw);
        for (uint32_t x = 0; x < nb; x++) hr_topbuf_return(&q->heaps[map ? map[x] : x0 + x]);
    }
    hr_free(work);
    hr_free(g.off);
    hr_free(g.q);
    hr_free(sw);
}

/* One pass of the ring: every block scanned once for every query of every class. */
static int ring_round(hr_job *job, void **blk, void **nxt, size_t cap, const qclass *cls, int ncls, const hr_ring_query *q,
                      const uint8_t *banned, int k, hr_index_stats *st)
{
    int rc = 0, P = job->size;
    for (int step = 0; step < P && rc == 0; step++) {
        double ts = hr_now();
        hr_ivf_lists L;
        hr_ivf_lists_view(*blk, &L);
        for (int c = 0; c < ncls; c++) scan_class(&L, &cls[c], q, banned, k, st);
        st->seconds_scan += hr_now() - ts;
        if (step + 1 < P) {
            double tc = hr_now();
            uint64_t got;
            rc = hr_comm_ring_shift(job->comm, *blk, hr_ivf_lists_used(*blk), *nxt, cap, &got);
            void *t = *blk;
            *blk = *nxt;
            *nxt = t;
            st->seconds_comm += hr_now() - tc;
        }
    }
    return rc;
}

/* The lists a query probes by default: --probe when given, else the calibrated probe for the
 * depth of its window (its N plus its excluded items: the best N allowed items sit at most that
 * deep in its ranking), else the index's default. */
static uint32_t probe_for(const hr_index *ix, uint64_t depth)
{
    const hr_index_meta *m = &ix->meta;
    if (ix->fixed || !m->ndepth) return ix->nprobe;
    for (uint32_t j = 0; j < m->ndepth; j++)
        if (m->depth[j] >= depth) return m->depth_probe[j];
    return m->depth_probe[m->ndepth - 1];
}

/* Queries grouped into classes by their number of probes np[x] (x over `which`, or 0..n-1),
 * each class probed.  Returns the number of classes (at most 33: probes are 1..2^32). */
static int make_classes(hr_index *ix, const hr_ring_query *q, const uint32_t *which, const uint32_t *np, uint64_t n, qclass *cls,
                        hr_index_stats *st)
{
    double t = hr_now();
    int ncls = 0;
    uint32_t vals[64];
    for (uint64_t x = 0; x < n; x++) {
        int f = 0;
        for (int c = 0; c < ncls; c++) f |= vals[c] == np[x];
        if (!f && ncls < 64) vals[ncls++] = np[x];
    }
    for (int c = 0; c < ncls; c++) {
        qclass *k = &cls[c];
        memset(k, 0, sizeof *k);
        k->nprobe = vals[c];
        uint64_t cnt = 0;
        for (uint64_t x = 0; x < n; x++) cnt += np[x] == vals[c];
        if (ncls > 1 || which) {
            k->which = hr_malloc((cnt + 1) * sizeof *k->which);
            for (uint64_t x = 0; x < n; x++)
                if (np[x] == vals[c]) k->which[k->n++] = which ? which[x] : (uint32_t)x;
        } else {
            k->n = cnt;
        }
        k->probes = hr_malloc((k->n * k->nprobe + 1) * sizeof *k->probes);
        hr_ivf_probe(&ix->q, q->Q, k->which, k->n, k->nprobe, k->probes);
    }
    st->seconds_probe += hr_now() - t;
    return ncls;
}

static void free_classes(qclass *cls, int ncls)
{
    for (int c = 0; c < ncls; c++) {
        hr_free(cls[c].which);
        hr_free(cls[c].probes);
    }
}

int hr_index_score(hr_job *job, hr_index *ix, const float *items, const float *bias, const uint8_t *banned, uint64_t n, int k,
                   const hr_ring_query *q, hr_index_stats *st_out)
{
    const hr_index_meta *mt = &ix->meta;
    hr_index_stats st;
    memset(&st, 0, sizeof st);
    int P = job->size, rc = 0;
    if (n != mt->n_items || k != mt->k || (mt->has_bias && !bias) || q->nq > UINT32_MAX)
        rc = hr_error_set(&job->err, HR_ERR_STATE, "%s: index of %llu items x %d%s used with %llu items x %d%s (%llu queries on a rank)", ix->dir,
                          (unsigned long long)mt->n_items, mt->k, mt->has_bias ? " with biases" : "", (unsigned long long)n, k,
                          bias ? " with biases" : "", (unsigned long long)q->nq);
    HR_TRY(hr_comm_agree(job->comm, rc, &job->err));
    const uint64_t lo = (uint64_t)job->rank * n / (uint64_t)P, hi = (uint64_t)(job->rank + 1) * n / (uint64_t)P;
    const uint64_t maxb = (n + (uint64_t)P - 1) / (uint64_t)P;
    const int hb = mt->has_bias;
    double t_load = hr_now();
    uint32_t *assign = hr_malloc((hi - lo + 1) * sizeof *assign);
    rc = hr_index_assign_read(ix->dir, mt, lo, hi, assign, &job->err);
    rc = hr_comm_agree(job->comm, rc, &job->err);
    if (rc < 0) {
        hr_free(assign);
        return rc;
    }
    size_t cap = hr_ivf_lists_bytes(mt->nlist, maxb, k, hb);
    void *blk = hr_malloc(cap), *nxt = hr_malloc(cap);
    hr_ivf_lists_pack(blk, mt->metric, items, hb ? bias : NULL, assign, lo, hi - lo, mt->nlist, k);
    hr_free(assign);
    st.seconds_load = hr_now() - t_load;

    /* round 1: each query with the probe of its depth */
    uint32_t *np = hr_malloc((q->nq + 1) * sizeof *np);
    for (uint64_t x = 0; x < q->nq; x++) {
        np[x] = probe_for(ix, (uint64_t)q->heaps[x].n + (q->excl ? q->nexcl[x] : 0));
        st.probes += np[x];
    }
    qclass cls[64];
    int ncls = make_classes(ix, q, NULL, np, q->nq, cls, &st);
    uint32_t *sh = hr_malloc((q->nq + 1) * sizeof *sh);
    for (;;) {
        st.rounds++;
        rc = ring_round(job, &blk, &nxt, cap, cls, ncls, q, banned, k, &st);
        if (rc < 0) break;
        /* queries whose probed lists held fewer than N allowed items: 4x the lists, emptied selections */
        uint64_t nshort = 0, nexh = 0;
        for (int c = 0; c < ncls; c++) {
            if (cls[c].nprobe >= mt->nlist) continue;
            uint32_t wide = cls[c].nprobe > mt->nlist / 4 ? mt->nlist : cls[c].nprobe * 4;
            for (uint64_t x = 0; x < cls[c].n; x++) {
                uint32_t qi = cls[c].which ? cls[c].which[x] : (uint32_t)x;
                hr_topbuf *h = &q->heaps[qi];
                if (h->size >= h->n) continue;
                hr_topbuf_init(h, h->home, h->n, h->homecap);
                sh[nshort] = qi;
                np[nshort++] = wide;
                nexh += wide == mt->nlist;
            }
        }
        uint64_t any = nshort;
        rc = hr_comm_allreduce_max_u64(job->comm, &any, 1);
        if (rc < 0 || any == 0) break;
        if (st.rounds == 1) st.queries_widened = nshort;
        st.queries_exhaustive += nexh;
        free_classes(cls, ncls);
        ncls = make_classes(ix, q, sh, np, nshort, cls, &st);
    }
    free_classes(cls, ncls);
    hr_free(np);
    hr_free(sh);
    hr_free(blk);
    hr_free(nxt);
    rc = hr_comm_agree(job->comm, rc, &job->err);
    uint64_t cnt[5] = { st.scores, st.queries_widened, st.queries_exhaustive, q->nq, st.probes };
    double sec[4] = { st.seconds_probe, st.seconds_scan, st.seconds_comm, st.seconds_load };
    if (rc == 0) rc = hr_comm_allreduce_sum_u64(job->comm, cnt, 5);
    if (rc == 0) rc = hr_comm_allreduce_max_f64(job->comm, sec, 4);
    st.scores = cnt[0];
    st.queries_widened = cnt[1];
    st.queries_exhaustive = cnt[2];
    st.queries = cnt[3];
    st.probes = cnt[4];
    st.seconds_probe = sec[0];
    st.seconds_scan = sec[1];
    st.seconds_comm = sec[2];
    st.seconds_load = sec[3];
    if (st_out) *st_out = st;
    return rc;
}

void hr_index_report(hr_job *job, const hr_index *ix, const hr_index_stats *st)
{
    double ts = st->seconds_probe + st->seconds_scan;
    hr_job_set_str(job, "index", ix->dir);
    hr_job_set_str(job, "index_metric", hr_metric_name(ix->meta.metric));
    hr_job_set_int(job, "index_lists", ix->meta.nlist);
    hr_job_set_int(job, "index_probe", ix->nprobe);
    hr_job_set_int(job, "index_probe_fixed", ix->fixed);
    hr_job_set_real(job, "index_probe_mean", st->queries ? (double)st->probes / (double)st->queries : 0);
    hr_job_set_int(job, "index_rounds", st->rounds);
    hr_job_set_int(job, "index_scores", (int64_t)st->scores);
    hr_job_set_int(job, "queries_widened", (int64_t)st->queries_widened);
    hr_job_set_int(job, "queries_exhaustive", (int64_t)st->queries_exhaustive);
    hr_job_set_real(job, "index_seconds_load", st->seconds_load);
    hr_job_set_real(job, "index_seconds_probe", st->seconds_probe);
    hr_job_set_real(job, "index_seconds_scan", st->seconds_scan);
    hr_job_set_real(job, "index_seconds_comm", st->seconds_comm);
    hr_job_set_real(job, "index_scan_gflops", st->seconds_scan > 0 ? 2.0 * (double)st->scores * ix->meta.k / st->seconds_scan / 1e9 : 0);
    (void)ts;
}

int hr_index_ring_score(hr_job *job, const char *dir, uint32_t probe, const hr_model *m, const char *model_path, hr_metric metric,
                        const char *what, const float *items, const float *bias, const uint8_t *banned, uint64_t n, int k,
                        const hr_ring_query *q, double *t_score, double *t_comm, uint64_t *scores)
{
    hr_index *ix;
    HR_TRY(hr_index_open(job, dir, m, model_path, metric, what, probe, &ix));
    hr_index_stats st;
    int rc = hr_index_score(job, ix, items, bias, banned, n, k, q, &st);
    if (rc == 0) {
        hr_index_report(job, ix, &st);
        *t_score = st.seconds_probe + st.seconds_scan;
        *t_comm = st.seconds_comm;
        *scores = st.scores;
        hr_progress("%-10s index %s: %s%.1f of %u lists probed per query, %.3g scores (%.2f%% of exhaustive), %llu queries widened (%llu to every list), %u round(s)",
                    what, dir, ix->fixed ? "" : "calibrated by depth: ", st.queries ? (double)st.probes / (double)st.queries : 0, ix->meta.nlist,
                    (double)st.scores,
                    100.0 * (double)st.scores / ((double)n * (double)(st.queries ? st.queries : 1)),
                    (unsigned long long)st.queries_widened, (unsigned long long)st.queries_exhaustive, st.rounds);
    }
    hr_index_close(ix);
    return rc;
}
