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
    uint32_t nprobe;
    char dir[4096];
};

const hr_index_meta *hr_index_info(const hr_index *ix) { return &ix->meta; }
uint32_t hr_index_nprobe(const hr_index *ix) { return ix->nprobe; }

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

/* The queries of one round: rows, selections and exclusions (the caller's arrays in round 1,
 * gathered copies of the widened ones later) with their probe lists. */
typedef struct round_q {
    uint64_t n;
    const float *Q;
    hr_topbuf *heaps;
    uint32_t *const *excl;
    const uint32_t *nexcl;
    uint32_t nprobe;
    uint32_t *probes;   /* n x nprobe */
} round_q;

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

/* One pass of the ring: every block scanned once for every query of rq. */
static int ring_round(hr_job *job, hr_index *ix, void **blk, void **nxt, size_t cap, const round_q *rq, const uint8_t *banned,
                      int k, hr_index_stats *st)
{
    const uint32_t nlist = ix->meta.nlist;
    uint32_t wcap = 0;
    for (uint64_t x = 0; x < rq->n; x++) wcap = rq->heaps[x].n > wcap ? rq->heaps[x].n : wcap;
    wcap *= 2;
    uint64_t QB = batch_size(nlist, rq->nprobe, wcap);
    if (QB > rq->n) QB = rq->n ? rq->n : 1;
    hr_topkey *work = hr_malloc((QB * wcap + 1) * sizeof *work);
    hr_ivf_groups g = { nlist, hr_malloc(((size_t)nlist + 1) * sizeof(uint32_t)), hr_malloc((QB * rq->nprobe + 1) * sizeof(uint32_t)) };
    float *sw = hr_malloc(hr_ivf_scan_work_floats(k) * sizeof *sw);
    int rc = 0, P = job->size;
    for (int step = 0; step < P && rc == 0; step++) {
        double ts = hr_now();
        hr_ivf_lists L;
        hr_ivf_lists_view(*blk, &L);
        for (uint64_t x0 = 0; x0 < rq->n; x0 += QB) {
            uint32_t nb = (uint32_t)(rq->n - x0 < QB ? rq->n - x0 : QB);
            for (uint32_t x = 0; x < nb; x++) hr_topbuf_borrow(&rq->heaps[x0 + x], work + (uint64_t)x * wcap, wcap);
            hr_ivf_group(&g, rq->probes + x0 * rq->nprobe, nb, rq->nprobe);
            hr_ivf_batch b = { rq->Q + x0 * (uint64_t)k, rq->heaps + x0, rq->excl ? rq->excl + x0 : NULL,
                               rq->excl ? rq->nexcl + x0 : NULL, banned };
            st->scores += hr_ivf_scan(&L, &g, &b, sw);
            for (uint32_t x = 0; x < nb; x++) hr_topbuf_return(&rq->heaps[x0 + x]);
        }
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
    hr_free(work);
    hr_free(g.off);
    hr_free(g.q);
    hr_free(sw);
    return rc;
}

/* Every query's lists, once per round (nprobe per query: the round's). */
static void probe_all(hr_index *ix, round_q *rq, hr_index_stats *st)
{
    double t = hr_now();
    rq->probes = hr_malloc((rq->n * rq->nprobe + 1) * sizeof *rq->probes);
    hr_ivf_probe(&ix->q, rq->Q, rq->n, rq->nprobe, rq->probes);
    st->seconds_probe += hr_now() - t;
}

int hr_index_score(hr_job *job, hr_index *ix, const float *items, const float *bias, const uint8_t *banned, uint64_t n, int k,
                   const hr_ring_query *q, hr_index_stats *st_out)
{
    const hr_index_meta *mt = &ix->meta;
    hr_index_stats st;
    memset(&st, 0, sizeof st);
    int P = job->size, rc = 0;
    if (n != mt->n_items || k != mt->k || (mt->has_bias && !bias))
        rc = hr_error_set(&job->err, HR_ERR_STATE, "%s: index of %llu items x %d%s used with %llu items x %d%s", ix->dir,
                          (unsigned long long)mt->n_items, mt->k, mt->has_bias ? " with biases" : "", (unsigned long long)n, k,
                          bias ? " with biases" : "");
    HR_TRY(hr_comm_agree(job->comm, rc, &job->err));
    const uint64_t lo = (uint64_t)job->rank * n / (uint64_t)P, hi = (uint64_t)(job->rank + 1) * n / (uint64_t)P;
    const uint64_t maxb = (n + (uint64_t)P - 1) / (uint64_t)P;
    const int hb = mt->has_bias;
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

    /* round 1: every query with the requested probe */
    round_q rq = { q->nq, q->Q, q->heaps, q->excl, q->nexcl, ix->nprobe, NULL };
    probe_all(ix, &rq, &st);
    float *Qw = NULL;
    hr_topbuf *hw = NULL;
    uint32_t **ew = NULL, *nw = NULL;
    uint64_t *which = NULL;
    for (;;) {
        st.rounds++;
        rc = ring_round(job, ix, &blk, &nxt, cap, &rq, banned, k, &st);
        if (rc < 0) break;
        /* back into the caller's selections (later rounds work on copies) */
        if (which)
            for (uint64_t x = 0; x < rq.n; x++) q->heaps[which[x]] = hw[x];
        /* queries whose probed lists held fewer than N allowed items */
        uint64_t nshort = 0;
        uint64_t *sh = hr_malloc((q->nq + 1) * sizeof *sh);
        if (rq.nprobe < mt->nlist)
            for (uint64_t x = 0; x < rq.n; x++) {
                uint64_t qi = which ? which[x] : x;
                if (q->heaps[qi].size < q->heaps[qi].n) sh[nshort++] = qi;
            }
        uint64_t any = nshort;
        rc = hr_comm_allreduce_max_u64(job->comm, &any, 1);
        if (rc < 0 || any == 0) {
            hr_free(sh);
            break;
        }
        if (st.rounds == 1) st.queries_widened = nshort;
        /* widen: 4x the lists (all of them at most), emptied selections, gathered copies */
        uint32_t np = rq.nprobe > mt->nlist / 4 ? mt->nlist : rq.nprobe * 4;
        if (np == mt->nlist) st.queries_exhaustive += nshort;
        hr_free(which);
        which = sh;
        hr_free(Qw);
        hr_free(hw);
        hr_free(ew);
        hr_free(nw);
        Qw = hr_malloc((nshort * (uint64_t)k + 1) * sizeof *Qw);
        hw = hr_malloc((nshort + 1) * sizeof *hw);
        ew = hr_malloc((nshort + 1) * sizeof *ew);
        nw = hr_malloc((nshort + 1) * sizeof *nw);
        for (uint64_t x = 0; x < nshort; x++) {
            uint64_t qi = which[x];
            memcpy(Qw + x * (uint64_t)k, q->Q + qi * (uint64_t)k, (size_t)k * sizeof *Qw);
            hr_topbuf *h = &q->heaps[qi];
            hr_topbuf_init(h, h->home, h->n, h->homecap);
            hw[x] = *h;
            ew[x] = q->excl ? q->excl[qi] : NULL;
            nw[x] = q->excl ? q->nexcl[qi] : 0;
        }
        hr_free(rq.probes);
        rq = (round_q){ nshort, Qw, hw, q->excl ? ew : NULL, q->excl ? nw : NULL, np, NULL };
        probe_all(ix, &rq, &st);
    }
    hr_free(rq.probes);
    hr_free(Qw);
    hr_free(hw);
    hr_free(ew);
    hr_free(nw);
    hr_free(which);
    hr_free(blk);
    hr_free(nxt);
    rc = hr_comm_agree(job->comm, rc, &job->err);
    uint64_t cnt[4] = { st.scores, st.queries_widened, st.queries_exhaustive, q->nq };
    double sec[3] = { st.seconds_probe, st.seconds_scan, st.seconds_comm };
    if (rc == 0) rc = hr_comm_allreduce_sum_u64(job->comm, cnt, 4);
    if (rc == 0) rc = hr_comm_allreduce_max_f64(job->comm, sec, 3);
    st.scores = cnt[0];
    st.queries_widened = cnt[1];
    st.queries_exhaustive = cnt[2];
    st.queries = cnt[3];
    st.seconds_probe = sec[0];
    st.seconds_scan = sec[1];
    st.seconds_comm = sec[2];
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
    hr_job_set_int(job, "index_rounds", st->rounds);
    hr_job_set_int(job, "index_scores", (int64_t)st->scores);
    hr_job_set_int(job, "queries_widened", (int64_t)st->queries_widened);
    hr_job_set_int(job, "queries_exhaustive", (int64_t)st->queries_exhaustive);
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
        hr_progress("%-10s index %s: probe %u of %u lists, %.3g scores (%.2f%% of exhaustive), %llu queries widened (%llu to every list), %u round(s)",
                    what, dir, ix->nprobe, ix->meta.nlist, (double)st.scores,
                    100.0 * (double)st.scores / ((double)n * (double)(st.queries ? st.queries : 1)),
                    (unsigned long long)st.queries_widened, (unsigned long long)st.queries_exhaustive, st.rounds);
    }
    hr_index_close(ix);
    return rc;
}
