/* jobs/train_svd.c — `hpcrec train --algo svd` (PureSVD by randomized truncated SVD) and
 * `train --algo als|ials --init svd`.
 *
 * The math is solvers/svd.h; this file moves the pieces: every rank holds its users' rows of
 * X and of the user-side bases (Y, Q: an hr_dmat on a P x 1 grid whose block is the largest
 * rank's user count, so rank r's rows are exactly its users, padded with zero rows), and the
 * whole item side (Omega, Z = X^T Q: items x l, summed over ranks by one allreduce per use).
 * The distributed QR of Y is pdgeqrf + pdorgqr on that grid.
 *
 * Output of --algo svd: a factor model, item factors V (items x K), user factors U S = Q W S,
 * with fold_in, so a user absent from the model but present in recommend's --data is scored
 * by PureSVD's projection (x_u V) V^T.  Test matrix rows are drawn from (seed, external item
 * id): the same model on any rank count, up to the rounding of the sums over ranks. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/hash.h"
#include "core/log.h"
#include "core/timer.h"
#include "jobs/modelwrite.h"
#include "jobs/train.h"
#include "solvers/svd.h"

#define SVD_NB 64   /* column block of the distributed QR */

typedef struct svd_run {
    int K, l;
    double *V;       /* n x K row-major, every rank */
    double *S;       /* K */
    double *W;       /* l x K row-major */
    hr_grid *g;
    hr_dmat Q;       /* the final user-side basis (this rank's users, then zero rows) */
    double products_s, products_f, qr_s, qr_f, small_s, small_f;
} svd_run;

static void svd_free(svd_run *s)
{
    hr_free(s->V);
    hr_free(s->S);
    hr_free(s->W);
    hr_dmat_free(&s->Q);
    hr_grid_free(s->g);
    memset(s, 0, sizeof *s);
}

/* Item keys as init_factors draws them: the external id, so Omega does not depend on P. */
static uint64_t *item_keys(const hr_dict *d)
{
    uint64_t *k = hr_malloc((d->n + 1) * sizeof *k);
    for (uint64_t g = 0; g < d->n; g++)
        k[g] = d->is_int ? hr_mix64((uint64_t)d->ints[g]) : hr_hash_bytes(d->bytes + d->offs[g], d->offs[g + 1] - d->offs[g], 7);
    return k;
}

/* Z = X^T Q summed over ranks (collective). */
static int times_t(hr_job *job, const hr_svd_rows *x, const hr_dmat *Q, int l, double *Z, uint64_t n, svd_run *s)
{
    double t0 = hr_now();
    memset(Z, 0, n * (uint64_t)l * sizeof *Z);
    hr_svd_times_t(x, Q->a, Q->lld, l, Z, &s->products_f);
    HR_TRY(hr_comm_allreduce_sum_f64(job->comm, Z, n * (uint64_t)l));
    s->products_s += hr_now() - t0;
    return 0;
}

/* Y = X Z with the padding rows zeroed, then Y = qr(Y) (collective). */
static int range(hr_job *job, const hr_svd_rows *x, const double *Z, int l, hr_dmat *Y, svd_run *s)
{
    double t0 = hr_now();
    for (int c = 0; c < l; c++) memset(Y->a + (uint64_t)c * (uint64_t)Y->lld, 0, (size_t)Y->lld * sizeof *Y->a);
    hr_svd_times(x, Z, l, Y->a, Y->lld, &s->products_f);
    double t1 = hr_now();
    s->products_s += t1 - t0;
    int rc = hr_svd_tsqr(Y, l, &s->qr_f, &job->err);
    s->qr_s += hr_now() - t1;
    return hr_comm_agree(job->comm, rc, &job->err);
}

/* The randomized SVD of this rank's rows x, K singular triplets. */
static int svd_compute(hr_job *job, const hr_dense_opts *o, uint64_t n, const uint64_t *keys, uint64_t users,
                       const hr_svd_rows *x, int K, int *stops, svd_run *s)
{
    memset(s, 0, sizeof *s);
    const uint64_t lim = n < users ? n : users;
    if ((uint64_t)K > lim)
        return hr_error_set(&job->err, HR_ERR_ARG, "--factors %d: a truncated SVD of %llu users x %llu items has at most %llu factors",
                            K, (unsigned long long)users, (unsigned long long)n, (unsigned long long)lim);
    int l = K + o->oversample;
    if ((uint64_t)l > lim) l = (int)lim;
    s->K = K;
    s->l = l;
    uint64_t mb = x->b->nrows;
    HR_TRY(hr_comm_allreduce_max_u64(job->comm, &mb, 1));
    if (mb == 0) mb = 1;
    int rc = hr_grid_create(job->comm, job->size, 1, (int)mb, o->block ? o->block : SVD_NB, &s->g, &job->err);
    HR_TRY(hr_comm_agree(job->comm, rc, &job->err));
    /* memory: item side (Z, Omega keys, the LAPACK copies of an n x l matrix), user side Q */
    uint64_t bytes = 3 * n * (uint64_t)l * 8 + n * (uint64_t)K * 8 + hr_dmat_bytes(s->g, (int64_t)mb * job->size, l);
    char what[160];
    snprintf(what, sizeof what, "the truncated SVD (K %d, l %d) of %llu users x %llu items", K, l, (unsigned long long)users,
             (unsigned long long)n);
    HR_TRY(hr_dense_check_memory(job, bytes, what, "3 n l + n K doubles + the rank's users x l"));
    rc = hr_dmat_create(&s->Q, s->g, (int64_t)mb * job->size, l, &job->err);
    HR_TRY(hr_comm_agree(job->comm, rc, &job->err));
    double *Z = hr_malloc(n * (uint64_t)l * sizeof *Z);
    hr_svd_gaussian(o->seed, keys, n, l, Z);
    rc = range(job, x, Z, l, &s->Q, s);
    for (int it = 1; rc == 0 && it <= o->power_iters; it++) {
        double t0 = hr_now();
        rc = times_t(job, x, &s->Q, l, Z, n, s);
        double t1 = hr_now();
        if (rc == 0) rc = hr_svd_orth(Z, n, l, &s->small_f, &job->err);
        s->small_s += hr_now() - t1;
        rc = hr_comm_agree(job->comm, rc, &job->err);
        if (rc == 0) rc = range(job, x, Z, l, &s->Q, s);
        if (rc == 0)
            hr_progress("svd        power iteration %d of %d: %.2fs (sparse products %.2fs, distributed QR %.2fs so far)", it,
                        o->power_iters, hr_now() - t0, s->products_s, s->qr_s);
        if (rc == 0) rc = hr_dense_stop_point(job, stops, "svd", "a power iteration");
    }
    if (rc == 0) rc = times_t(job, x, &s->Q, l, Z, n, s);
    if (rc == 0) {
        double t0 = hr_now();
        s->V = hr_malloc((n * (uint64_t)K + 1) * sizeof *s->V);
        s->S = hr_malloc(((size_t)K + 1) * sizeof *s->S);
        s->W = hr_malloc(((size_t)l * (size_t)K + 1) * sizeof *s->W);
        /* every rank computes the same small SVD from the same summed Z */
        rc = hr_svd_small(Z, n, l, K, s->V, s->S, s->W, &s->small_f, &job->err);
        s->small_s += hr_now() - t0;
        rc = hr_comm_agree(job->comm, rc, &job->err);
    }
    hr_free(Z);
    double tm[3] = { s->products_s, s->qr_s, s->small_s };
    if (rc == 0) rc = hr_comm_allreduce_max_f64(job->comm, tm, 3);
    double fl[2] = { s->products_f, s->qr_f };
    if (rc == 0) rc = hr_comm_allreduce_sum_f64(job->comm, fl, 2);
    s->products_s = tm[0];
    s->qr_s = tm[1];
    s->small_s = tm[2];
    s->products_f = fl[0];
    s->qr_f = fl[1];
    return rc;
}

/* Rows r of the rank's users: (Q W)_r S^p (p = 1 for U S, 0.5 for the balanced init). */
static void user_rows(const svd_run *s, uint64_t nrows, double p, float *F)
{
    for (uint64_t r = 0; r < nrows; r++)
        for (int c = 0; c < s->K; c++) {
            double v = 0;
            for (int a = 0; a < s->l; a++) v += s->Q.a[r + (uint64_t)a * (uint64_t)s->Q.lld] * s->W[(size_t)a * (size_t)s->K + (size_t)c];
            F[r * (uint64_t)s->K + (uint64_t)c] = (float)(v * pow(s->S[c], p));
        }
}

static double g_of(double f, double s) { return s > 0 ? f / s / 1e9 : 0; }

/* Item factors for the collective writer: every rank holds V (double), so any rank packs any
 * member. */
static void fill_v(void *ctx, uint64_t lo, uint64_t hi, float *out)
{
    const svd_run *s = ctx;
    for (uint64_t q = lo * (uint64_t)s->K; q < hi * (uint64_t)s->K; q++) out[q - lo * (uint64_t)s->K] = (float)s->V[q];
}

int hr_train_svd(hr_job *job, const hr_dense_opts *o, hr_dataset *ds, uint64_t nnz)
{
    double t0 = hr_now();
    uint64_t sent0 = hr_comm_bytes_sent(job->comm);
    const hr_block *b = &ds->by_user;
    hr_svd_rows x = { b, o->weight == HR_ROWS_VALUE, 0.0 };
    svd_run s;
    hr_model m;
    memset(&m, 0, sizeof m);
    float *U = NULL;
    json_t *info = NULL, *sv = NULL;
    uint64_t *keys = item_keys(&ds->items);
    int stops = 0, rc = svd_compute(job, o, ds->items.n, keys, ds->users.n, &x, o->k, &stops, &s);
    hr_free(keys);
    HR_CHECK(rc);
    const int K = s.K;
    hr_progress("svd        K %d (l %d, %d power iterations, %s weights): sparse products %.2fs %.2f GFLOP/s, distributed QR %.2fs "
                "%.2f GFLOP/s, small SVD %.2fs; singular values %.4g .. %.4g",
                K, s.l, o->power_iters, x.value ? "value" : "binary", s.products_s, g_of(s.products_f, s.products_s), s.qr_s,
                g_of(s.qr_f, s.qr_s), s.small_s, s.S[0], s.S[K - 1]);
    U = hr_malloc((b->nrows * (uint64_t)K + 1) * sizeof *U);
    user_rows(&s, b->nrows, 1.0, U);
    m.kind = HR_MODEL_FACTOR;
    snprintf(m.algo, sizeof m.algo, "svd");
    m.k = K;
    m.n_users = ds->users.n;
    m.n_items = ds->items.n;
    m.row_weight = o->weight;
    m.fold_in = 1;
    /* every rank writes its users' rows of U S and any members of V (jobs/modelwrite.h) */
    m.partial = 1;
    m.users = ds->users;   /* borrowed: a header for the writer */
    m.items = ds->items;
    hr_model_src src;
    memset(&src, 0, sizeof src);
    src.users = &ds->users;
    src.items = &ds->items;
    src.user_factors = (hr_rows_src){ &ds->upart, U, NULL, NULL };
    src.item_factors = (hr_rows_src){ NULL, NULL, fill_v, &s };
    sv = json_array();
    for (int c = 0; c < K; c++) json_array_append_new(sv, json_real(s.S[c]));
    info = json_pack("{s:{s:i,s:i,s:i,s:s,s:i,s:I},s:o,s:i,s:i,s:O}", "params", "factors", K, "power_iters", o->power_iters,
                     "oversample", s.l - K, "svd_weight", x.value ? "value" : "binary", "block_size", s.g->nb, "seed",
                     (json_int_t)o->seed, "lineage", hr_train_lineage(job, o->data, ds, nnz), "iterations", o->power_iters,
                     "ranks", job->size, "singular_values", sv);
    hr_model_write_stats ws = { 0, 0, 0, 0 };
    rc = hr_model_write(job, o->out, &m, &src, info, &ws);
    memset(&m.users, 0, sizeof m.users);
    memset(&m.items, 0, sizeof m.items);
    HR_CHECK(rc);
    double total = hr_now() - t0, bytes = (double)(hr_comm_bytes_sent(job->comm) - sent0);
    HR_CHECK(hr_comm_allreduce_max_f64(job->comm, &total, 1));
    HR_CHECK(hr_comm_allreduce_sum_f64(job->comm, &bytes, 1));
    double mean_rss, max_rss = hr_job_peak_rss_mb(job, &mean_rss);
    hr_job_set_str(job, "algo", "svd");
    hr_job_set_int(job, "factors", K);
    hr_job_set_int(job, "iterations", o->power_iters);
    hr_job_set_real(job, "seconds_per_iteration", total / (o->power_iters + 1));
    hr_job_set_real(job, "gflops", g_of(s.products_f + s.qr_f + s.small_f, total));
    hr_job_set_real(job, "bytes_exchanged_per_iteration", bytes / (o->power_iters + 1));
    hr_job_set_int(job, "users", (int64_t)ds->users.n);
    hr_job_set_int(job, "items", (int64_t)ds->items.n);
    hr_job_set_int(job, "interactions", (int64_t)nnz);
    hr_job_set_int(job, "oversample", s.l - K);
    hr_job_set_str(job, "svd_weight", x.value ? "value" : "binary");
    hr_job_set_real(job, "svd_products_seconds", s.products_s);
    hr_job_set_real(job, "svd_products_gflops", g_of(s.products_f, s.products_s));
    hr_job_set_real(job, "svd_qr_seconds", s.qr_s);
    hr_job_set_real(job, "svd_qr_gflops", g_of(s.qr_f, s.qr_s));
    hr_job_set_real(job, "svd_small_seconds", s.small_s);
    hr_job_set_real(job, "singular_value_first", s.S[0]);
    hr_job_set_real(job, "singular_value_last", s.S[K - 1]);
    hr_progress("train      svd done: %.2fs total, model %s; peak memory per rank %.0f MB (mean %.0f)", total, o->out, max_rss, mean_rss);
fail:
    json_decref(info);
    json_decref(sv);
    hr_free(U);
    svd_free(&s);
    return rc;
}

int hr_train_init_svd(hr_train *t, const hr_dense_opts *o)
{
    hr_job *job = t->job;
    double t0 = hr_now();
    const int k = t->opts.k;
    /* als fits r - mu - biases: start from the SVD of the centred ratings (value weights) */
    hr_svd_rows x = { &t->ds->by_user, o->weight == HR_ROWS_VALUE, t->algo == HR_ALGO_ALS ? (double)t->mu : 0.0 };
    svd_run s;
    int stops = 0;
    uint64_t *keys = item_keys(&t->ds->items);
    int rc = svd_compute(job, o, t->ds->items.n, keys, t->ds->users.n, &x, k, &stops, &s);
    hr_free(keys);
    if (rc == 0) {
        user_rows(&s, t->users.block->nrows, 0.5, t->users.F);
        const hr_block *ib = t->items.block;
        for (uint64_t r = 0; r < ib->nrows; r++)
            for (int c = 0; c < k; c++)
                t->items.F[r * (uint64_t)k + (uint64_t)c] = (float)(s.V[(uint64_t)ib->gid[r] * (uint64_t)k + (uint64_t)c] * sqrt(s.S[c]));
        hr_progress("init svd   K %d from a truncated SVD (%s%s weights, %d power iterations): %.2fs; singular values %.4g .. %.4g",
                    k, x.value ? "value" : "binary", x.shift != 0 ? " minus the mean" : "", o->power_iters, hr_now() - t0, s.S[0],
                    s.S[k - 1]);
    }
    svd_free(&s);
    return rc;
}

int hr_svd_run(hr_job *job, const hr_dense_opts *o, const hr_svd_rows *x, uint64_t n_items, const uint64_t *key,
               uint64_t n_users, int K, double p, double **V, double **S, float *F)
{
    svd_run s;
    int stops = 0, rc = svd_compute(job, o, n_items, key, n_users, x, K, &stops, &s);
    if (rc == 0) {
        user_rows(&s, x->b->nrows, p, F);
        *V = s.V;
        *S = s.S;
        s.V = s.S = NULL;
    }
    svd_free(&s);
    return rc;
}
