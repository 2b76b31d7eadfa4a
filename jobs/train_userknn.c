/* jobs/train_userknn.c — `hpcrec train --algo userknn`: a user-based neighbourhood model,
 * stored as sparse per-user neighbour lists (io/model.h kind useruser: column u of the
 * n_users-square user_user blocks holds u's K nearest users, rows ascending, values the
 * similarities).  The measures and options are itemknn's (solvers/knn.h) with the roles of
 * users and items swapped: the similarity of users u and v sums over C, the items both have;
 * implicit weights give each item an idf over users (idf_i = log n_users - log1p n_i) and BM25
 * normalises by the user's length; shrink and --min-support count common items.
 *
 * Phases (progress line each, a stop point between them: a stopped run exits 75 and a rerun
 * trains from the start; the model is written whole or not at all):
 *   baselines   explicit data: mu, b_u, b_i as itemknn computes them (Surprise's baseline ALS,
 *               fixed-point sums: the same bits on any rank count)
 *   rows        user block c (HR_MODEL_II_COLS users) belongs to rank c mod P (the rank that
 *               writes it); every user's row, capped at --max-user-items items (the sample of
 *               smallest hash(user, item), as itemknn), goes to it in one all-to-all
 *   similarity  a ring: each rank's rows (with each user's norm and length) travel round the
 *               P ranks; at each step a rank inverts the visiting rows (item -> its users in
 *               the block) and, for each of its users u in increasing id and each item of u's
 *               row in increasing id, adds the item's visiting users into per-target
 *               accumulators; the block's K best go into u's running top-K (ties to the lower
 *               user id).  A pair's sums run over its common items in increasing item id
 *               whatever the blocks, so the model is the same bits on any rank count.
 *   writing     the bundle, format 2, every rank its blocks (jobs/modelwrite.h), plus mu, b_u,
 *               b_i for explicit data (rating predictions)
 * Memory per rank (docs/operations.md): its users' capped rows (8 bytes per interaction), two
 * ring messages (the largest rank's rows, 8 bytes per interaction + 24 per user) and the
 * inverted visiting block (8 per interaction + 8 per catalogue item), 48 bytes per user of the
 * largest block for the accumulators, and K x 8 bytes per owned user for the neighbour lists.
 * Pair work: sum over items of n_i^2 (capped rows), spread over the ranks by target user. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/hash.h"
#include "core/log.h"
#include "core/timer.h"
#include "jobs/modelwrite.h"
#include "jobs/train.h"
#include "solvers/knn_user.h"

/* The rank that owns user u's block (computes and writes u's neighbour list). */
static int user_rank(uint32_t u, int P) { return (int)((u / HR_MODEL_II_COLS) % (uint32_t)P); }

static int cmp_u64(const void *p, const void *q)
{
    const uint64_t *a = p, *b = q;
    return (a[0] > b[0]) - (a[0] < b[0]);
}

/* Every user's capped row to the owner of its block; received rows in increasing user id as
 * an hr_uknn_rows (values raw; b_u in bu_out, full row lengths in full_out). */
static int route(hr_job *job, const hr_knn_train_opts *o, const hr_dataset *ds, const double *bu, hr_uknn_rows *x,
                 double **bu_out, uint32_t **full_out, uint64_t *kept_total)
{
    const int P = job->size;
    const hr_block *b = &ds->by_user;
    uint64_t maxlen = 0;
    for (uint64_t r = 0; r < b->nrows; r++)
        if (b->ptr[r + 1] - b->ptr[r] > maxlen) maxlen = b->ptr[r + 1] - b->ptr[r];
    uint64_t *keys = hr_malloc((2 * maxlen + 1) * sizeof *keys), *pos = hr_malloc((maxlen + 1) * sizeof *pos);
    uint64_t *cnt = hr_calloc((size_t)P * 3, sizeof *cnt), *rcnt = cnt + P, *off = rcnt + P;
    uint32_t *send = NULL;
    *kept_total = 0;
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) {
            uint64_t tot = 0;
            for (int q = 0; q < P; q++) {
                off[q] = tot;
                tot += cnt[q];
            }
            send = hr_malloc((tot + 1) * sizeof *send);
        }
        for (uint64_t r = 0; r < b->nrows; r++) {
            const uint32_t *it = b->idx + b->ptr[r];
            const float *v = b->val + b->ptr[r];
            const uint64_t len = b->ptr[r + 1] - b->ptr[r];
            const uint64_t kept = hr_uknn_cap(b->gid[r], it, len, o->max_user_items, keys, pos);
            const int q = user_rank(b->gid[r], P);
            if (pass == 0) {
                cnt[q] += 5 + 2 * kept;
                *kept_total += kept;
                continue;
            }
            uint32_t *w = send + off[q];
            w[0] = b->gid[r];
            w[1] = (uint32_t)len;
            w[2] = (uint32_t)kept;
            memcpy(w + 3, &bu[r], sizeof(double));
            for (uint64_t e = 0; e < kept; e++) {
                w[5 + e] = it[pos[e]];
                memcpy(&w[5 + kept + e], &v[pos[e]], sizeof(float));
            }
            off[q] += 5 + 2 * kept;
        }
    }
    hr_free(keys);
    hr_free(pos);
    void *recv = NULL;
    uint64_t nrecv = 0;
    int rc = hr_comm_alltoallv(job->comm, send, cnt, sizeof *send, &recv, rcnt, &nrecv);
    hr_free(send);
    hr_free(cnt);
    HR_TRY(rc);
    const uint32_t *w = recv;
    uint64_t nr = 0, nz = 0;
    for (uint64_t at = 0; at < nrecv; at += 5 + 2 * (uint64_t)w[at + 2]) {
        nr++;
        nz += w[at + 2];
    }
    uint64_t *order = hr_malloc((2 * nr + 1) * sizeof *order);
    nr = 0;
    for (uint64_t at = 0; at < nrecv; at += 5 + 2 * (uint64_t)w[at + 2], nr++) {
        order[2 * nr] = w[at];
        order[2 * nr + 1] = at;
    }
    qsort(order, nr, 2 * sizeof *order, cmp_u64);
    hr_uknn_rows_alloc(x, nr, nz);
    *bu_out = hr_malloc((nr + 1) * sizeof **bu_out);
    *full_out = hr_malloc((nr + 1) * sizeof **full_out);
    x->ptr[0] = 0;
    for (uint64_t r = 0; r < nr; r++) {
        const uint32_t *h = w + order[2 * r + 1];
        const uint64_t k = h[2];
        x->gid[r] = h[0];
        (*full_out)[r] = h[1];
        memcpy(&(*bu_out)[r], h + 3, sizeof(double));
        memcpy(x->items + x->ptr[r], h + 5, k * sizeof *x->items);
        memcpy(x->vals + x->ptr[r], h + 5 + k, k * sizeof *x->vals);
        x->ptr[r + 1] = x->ptr[r] + k;
    }
    hr_free(order);
    hr_free(recv);
    return 0;
}

/* The neighbour lists of this rank's user blocks, for the writer's make(). */
typedef struct uknn_out {
    hr_job *job;
    uint64_t n;          /* users */
    uint64_t *bptr;      /* per local block: W + 1 absolute offsets into row / val */
    uint32_t *row;
    float *val;
    uint64_t *rel;
} uknn_out;

static int uknn_make(void *ctx, const uint64_t *blocks, hr_iiblock *out, hr_error *err)
{
    uknn_out *k = ctx;
    const int P = k->job->size, me = k->job->rank;
    (void)err;
    if (blocks[me] == UINT64_MAX) return 0;
    const uint64_t c = blocks[me], t = c / (uint64_t)P, W = HR_MODEL_II_COLS;
    const uint64_t c0 = c * W, c1 = c0 + W < k->n ? c0 + W : k->n;
    const uint64_t *p = k->bptr + t * (W + 1);
    for (uint64_t j = 0; j <= c1 - c0; j++) k->rel[j] = p[j] - p[0];
    *out = (hr_iiblock){ k->n, c0, c1, p[c1 - c0] - p[0], 0, k->rel, k->row + p[0], k->val + p[0] };
    return 0;
}

static void fill_bias(void *ctx, uint64_t lo, uint64_t hi, float *out)
{
    const double *b = ctx;
    for (uint64_t i = lo; i < hi; i++) out[i - lo] = (float)b[i];
}

int hr_train_userknn(hr_job *job, hr_knn_train_opts *o, hr_dataset *ds, uint64_t nnz)
{
    HR_TRY(hr_knn_resolve(job, o, ds));
    const double t0 = hr_now();
    const int P = job->size, me = job->rank;
    const hr_block *b = &ds->by_user;
    const uint64_t nu = ds->users.n, ni = ds->items.n, W = HR_MODEL_II_COLS;
    const hr_knn_opts *ko = &o->knn;
    const uint64_t K = ko->neighbors < nu ? ko->neighbors : (nu ? nu : 1);
    int rc = 0, stops = 0;
    double mu = 0, *bu = hr_malloc((b->nrows + 1) * sizeof *bu), *bi = hr_malloc((ni + 1) * sizeof *bi);
    double *rbu = NULL, *ilen = NULL;
    uint32_t *full = NULL;
    float *bu_f = NULL;
    uint64_t *icount = NULL;
    hr_uknn_rows x;
    memset(&x, 0, sizeof x);
    hr_uknn_sim sim;
    memset(&sim, 0, sizeof sim);
    uknn_out out;
    memset(&out, 0, sizeof out);
    json_t *info = NULL;

    double tb = hr_now();
    if (!ko->implicit) HR_CHECK(hr_knn_baselines(job, ko, ds, &mu, bu, bi));
    else {
        memset(bu, 0, (b->nrows + 1) * sizeof *bu);
        memset(bi, 0, (ni + 1) * sizeof *bi);
    }
    double s_base = hr_now() - tb;
    HR_CHECK(hr_comm_allreduce_max_f64(job->comm, &s_base, 1));
    if (!ko->implicit) hr_progress("userknn    baselines (%s): mu %.4f: %.2fs", hr_knn_center_name(ko->center), mu, s_base);
    HR_CHECK(hr_dense_stop_point(job, &stops, "userknn", "the baselines"));

    /* rows to the owners of their users' blocks */
    double tr = hr_now();
    uint64_t kept = 0;
    rc = route(job, o, ds, bu, &x, &rbu, &full, &kept);
    HR_CHECK(hr_comm_agree(job->comm, rc, &job->err));
    /* per-item figures: users of each item (full data: the idf), exact sums */
    icount = hr_calloc(ni + 1, sizeof *icount);
    for (uint64_t i = 0; i < ni; i++) icount[i] = ds->items.nnz[i];
    /* per-user length (sum of values, BM25) and its mean over users with rows */
    ilen = hr_calloc(x.nrows + 1, sizeof *ilen);
    double ls[2] = { 0, 0 };
    for (uint64_t r = 0; r < x.nrows; r++) {
        for (uint64_t e = x.ptr[r]; e < x.ptr[r + 1]; e++) ilen[r] += x.vals[e];
        if (x.ptr[r + 1] > x.ptr[r]) {
            ls[0] += ilen[r];
            ls[1] += 1;
        }
    }
    HR_CHECK(hr_comm_allreduce_sum_f64(job->comm, ls, 2));
    const double mean_len = ls[1] > 0 ? ls[0] / ls[1] : 0;
    for (uint64_t r = 0; r < x.nrows; r++)
        for (uint64_t e = x.ptr[r]; e < x.ptr[r + 1]; e++) {
            const uint32_t i = x.items[e];
            x.vals[e] = (float)hr_knn_value(ko, x.vals[e], mu + rbu[r] + bi[i], hr_knn_idf(nu, icount[i]), ilen[r], mean_len);
        }
    hr_uknn_rows_norms(&x);
    uint64_t rs = kept;
    HR_CHECK(hr_comm_allreduce_sum_u64(job->comm, &rs, 1));
    double s_rows = hr_now() - tr;
    HR_CHECK(hr_comm_allreduce_max_f64(job->comm, &s_rows, 1));
    hr_progress("userknn    rows: %llu of %llu interactions kept (--max-user-items %u), each sent to its user's rank: %.2fs",
                (unsigned long long)rs, (unsigned long long)nnz, o->max_user_items, s_rows);
    HR_CHECK(hr_dense_stop_point(job, &stops, "userknn", "the row exchange"));

    /* similarities round the ring */
    double ts = hr_now(), tcomm = 0;
    hr_uknn_sim_init(&sim, &x, ko, ni);
    void *msg = NULL, *in = NULL;
    uint64_t mlen = 0, cap = 0, got = 0;
    hr_uknn_rows_pack(&x, &msg, &mlen);
    cap = mlen;
    HR_CHECK(hr_comm_allreduce_max_u64(job->comm, &cap, 1));
    in = hr_malloc(cap + 8);
    {   /* both buffers hold the largest message: they swap roles every step */
        void *big = hr_malloc(cap + 8);
        memcpy(big, msg, mlen);
        hr_free(msg);
        msg = big;
    }
    hr_uknn_rows vis;
    memset(&vis, 0, sizeof vis);
    for (int step = 0; step < P && rc == 0; step++) {
        if (step == 0) {
            hr_uknn_sim_block(&sim, &x);
        } else {
            double tc = hr_now();
            rc = hr_comm_ring_shift(job->comm, msg, mlen, in, cap, &got);
            tcomm += hr_now() - tc;
            if (rc < 0) break;
            void *t = msg;   /* what arrived travels on at the next step */
            msg = in;
            in = t;
            mlen = got;
            rc = hr_uknn_rows_view(msg, mlen, &vis, &job->err);
            if (rc == 0) hr_uknn_sim_block(&sim, &vis);
        }
    }
    hr_free(msg);
    hr_free(in);
    HR_CHECK(hr_comm_agree(job->comm, rc, &job->err));
    /* the lists, by owned block (blocks me, me + P, ...; a user without a row gets none) */
    const uint64_t nb = (nu + W - 1) / W, myblocks = nb > (uint64_t)me ? (nb - (uint64_t)me + (uint64_t)P - 1) / (uint64_t)P : 0;
    out.job = job;
    out.n = nu;
    out.bptr = hr_malloc((myblocks * (W + 1) + 1) * sizeof *out.bptr);
    out.rel = hr_malloc((W + 2) * sizeof *out.rel);
    out.row = hr_malloc((x.nrows * K + 1) * sizeof *out.row);
    out.val = hr_malloc((x.nrows * K + 1) * sizeof *out.val);
    uint64_t filled = 0, r = 0;
    for (uint64_t t = 0; t < myblocks; t++) {
        uint64_t *p = out.bptr + t * (W + 1);
        p[0] = filled;
        for (uint64_t c = 0; c < W; c++) {
            const uint64_t u = ((uint64_t)me + t * (uint64_t)P) * W + c;
            if (r < x.nrows && x.gid[r] == u) filled += hr_uknn_sim_take(&sim, r++, out.row + filled, out.val + filled);
            p[c + 1] = filled;
        }
    }
    uint64_t st[3] = { filled, sim.pairs, 0 };
    HR_CHECK(hr_comm_allreduce_sum_u64(job->comm, st, 2));
    double s_sim = hr_now() - ts, s_sim_min = s_sim;
    HR_CHECK(hr_comm_allreduce_max_f64(job->comm, &s_sim, 1));
    HR_CHECK(hr_comm_allreduce_min_f64(job->comm, &s_sim_min, 1));
    HR_CHECK(hr_comm_allreduce_max_f64(job->comm, &tcomm, 1));
    hr_progress("userknn    similarity: %s%s%s on %llu users, %llu pair updates, %llu neighbours kept (K %llu, shrink %g, min support %u), "
                "%d ring steps: %.2fs (fastest rank %.2fs, ring %.2fs)",
                hr_knn_sim_name(ko->sim), ko->implicit && ko->weight ? " of " : "", ko->implicit && ko->weight ? hr_knn_weight_name(ko->weight) : "",
                (unsigned long long)nu, (unsigned long long)st[1], (unsigned long long)st[0], (unsigned long long)K, ko->shrink,
                ko->min_support, P, s_sim, s_sim_min, tcomm);
    hr_uknn_sim_free(&sim);
    HR_CHECK(hr_dense_stop_point(job, &stops, "userknn", "the similarities"));

    /* the model */
    double tw = hr_now();
    hr_model m;
    memset(&m, 0, sizeof m);
    m.kind = HR_MODEL_USERUSER;
    snprintf(m.algo, sizeof m.algo, "userknn");
    m.n_users = nu;
    m.n_items = ni;
    m.users = ds->users;
    m.items = ds->items;
    m.partial = 1;
    m.row_weight = ko->implicit ? HR_ROWS_BINARY : HR_ROWS_VALUE;
    m.ii_cols = (uint32_t)W;
    m.ii_topm = (uint32_t)K;
    hr_model_src src;
    memset(&src, 0, sizeof src);
    src.users = &ds->users;
    src.items = &ds->items;
    src.item_item = (hr_ii_src){ uknn_make, &out };
    if (!ko->implicit) {
        m.global_mean = (float)mu;
        bu_f = hr_malloc((b->nrows + 1) * sizeof *bu_f);
        const int keep_u = ko->center == HR_KNN_CENTER_BASELINE, keep_i = ko->center != HR_KNN_CENTER_NONE;
        for (uint64_t q = 0; q < b->nrows; q++) bu_f[q] = keep_u ? (float)bu[q] : 0.0f;
        if (!keep_i) memset(bi, 0, (ni + 1) * sizeof *bi);
        src.user_bias = (hr_rows_src){ &ds->upart, bu_f, NULL, NULL };
        src.item_bias = (hr_rows_src){ NULL, NULL, fill_bias, bi };
    }
    info = json_pack("{s:{s:s,s:s,s:s,s:s,s:f,s:i,s:i,s:i,s:f,s:f,s:i},s:o,s:i,s:i}", "params", "feedback",
                     ko->implicit ? "implicit" : "explicit", "knn_sim", hr_knn_sim_name(ko->sim), "knn_weight",
                     hr_knn_weight_name(ko->weight), "knn_center", hr_knn_center_name(ko->center), "shrink", ko->shrink,
                     "neighbors", (int)K, "min_support", (int)ko->min_support, "max_user_items", (int)o->max_user_items,
                     "bm25_k1", ko->bm25_k1, "bm25_b", ko->bm25_b, "predict_neighbors", (int)o->predict_neighbors, "lineage", hr_train_lineage(job, o->data, ds, nnz), "iterations", 1,
                     "ranks", P);
    hr_model_write_stats ws = { 0, 0, 0, 0 };
    rc = hr_model_write(job, o->out, &m, &src, info, &ws);
    HR_CHECK(hr_comm_agree(job->comm, rc, &job->err));
    double s_write = hr_now() - tw, total = hr_now() - t0;
    HR_CHECK(hr_comm_allreduce_max_f64(job->comm, &s_write, 1));
    HR_CHECK(hr_comm_allreduce_max_f64(job->comm, &total, 1));
    hr_progress("userknn    model: %llu user blocks of %llu, %llu neighbours, written to %s by %d ranks (%.1f MB): %.2fs",
                (unsigned long long)nb, (unsigned long long)W, (unsigned long long)st[0], o->out, P, (double)ws.bytes / 1e6, s_write);
    double mean_rss, max_rss = hr_job_peak_rss_mb(job, &mean_rss);
    hr_job_set_str(job, "algo", "userknn");
    hr_job_set_int(job, "factors", 0);
    hr_job_set_int(job, "iterations", 1);
    hr_job_set_real(job, "seconds_per_iteration", total);
    hr_job_set_int(job, "users", (int64_t)nu);
    hr_job_set_int(job, "items", (int64_t)ni);
    hr_job_set_int(job, "interactions", (int64_t)nnz);
    hr_job_set_str(job, "feedback", ko->implicit ? "implicit" : "explicit");
    hr_job_set_str(job, "knn_sim", hr_knn_sim_name(ko->sim));
    hr_job_set_str(job, "knn_weight", hr_knn_weight_name(ko->weight));
    hr_job_set_str(job, "knn_center", hr_knn_center_name(ko->center));
    hr_job_set_int(job, "neighbors", (int64_t)K);
    hr_job_set_int(job, "knn_interactions_kept", (int64_t)rs);
    hr_job_set_int(job, "knn_pair_updates", (int64_t)st[1]);
    hr_job_set_int(job, "knn_neighbours_stored", (int64_t)st[0]);
    hr_job_set_int(job, "predict_neighbors", o->predict_neighbors);
    hr_job_set_real(job, "global_mean", mu);
    hr_job_set_real(job, "baseline_seconds", s_base);
    hr_job_set_real(job, "rows_seconds", s_rows);
    hr_job_set_real(job, "similarity_seconds", s_sim);
    hr_job_set_real(job, "ring_seconds", tcomm);
    hr_job_set_real(job, "write_seconds", s_write);
    hr_job_set_int(job, "model_bytes", (int64_t)ws.bytes);
    hr_progress("train      userknn done: %.2fs total; peak memory per rank %.0f MB (mean %.0f)", total, max_rss, mean_rss);
fail:
    json_decref(info);
    hr_uknn_rows_free(&x);
    hr_uknn_sim_free(&sim);
    hr_free(bu);
    hr_free(bi);
    hr_free(rbu);
    hr_free(full);
    hr_free(ilen);
    hr_free(bu_f);
    hr_free(icount);
    hr_free(out.bptr);
    hr_free(out.rel);
    hr_free(out.row);
    hr_free(out.val);
    return rc;
}
