/* evaluate --cold-items: items without training interactions, ranked from their content.
 *
 * The content map: item factors of the warm items (train interactions > 0) regressed on their
 * features, (F^T F + lambda_f I) W = F^T Y (jobs/content_ridge.h: allreduced sums up to 4096
 * features, the ScaLAPACK grid above), each rank giving its block of warm items, one more
 * constant column for the intercept; Y holds the factors and, for models with item biases,
 * the bias.  W is the same on every rank.  A cold item gets
 * y_i = f_i W; a test user's score is x_u . y_i (+ b_i).
 * Each test user known to the model with held-out cold items is ranked over ALL cold items
 * (unlike the default rule of docs/evaluation.md, where items without training interactions
 * are never candidates), against two baselines on the same candidates: random (a hash of
 * seed, user, item) and feature popularity (an item's score = the mean, over its features, of
 * the training interactions of the warm items carrying that feature).  Metrics recall@K and
 * ndcg@K (solvers/metrics.h); the content scores against each baseline by the paired bootstrap
 * of --compare on the first cutoff. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/rng.h"
#include "core/timer.h"
#include "jobs/content_ridge.h"
#include "jobs/evaluate_parts.h"
#include "jobs/evaluate_cold.h"
#include "jobs/rowfetch.h"
#include "jobs/content.h"
#include "jobs/content_ridge.h"

enum { CS_CONTENT = 0, CS_RANDOM = 1, CS_FEATPOP = 2, CS_N = 3 };
static const char *const CS_NAMES[CS_N] = { "content", "random", "feature_pop" };

typedef struct { uint32_t gid; float v[CS_N][2]; } user_vals;   /* recall, ndcg at the first cutoff */

static int cmp_gid(const void *a, const void *b)
{
    const user_vals *x = a, *y = b;
    return (x->gid > y->gid) - (x->gid < y->gid);
}

typedef struct { float s; uint32_t i; } scored;
static int cmp_scored(const void *a, const void *b)
{
    const scored *x = a, *y = b;
    if (x->s != y->s) return x->s > y->s ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

int ev_cold(hr_job *job, const ev_data *d, const ev_scorer *s, const hr_dataset *tr, const ev_cold_opts *o)
{
    const double t0 = hr_now();
    const hr_model *m = s->m;
    if (m->kind != HR_MODEL_FACTOR)
        return hr_error_set(&job->err, HR_ERR_ARG, "--cold-items: %s is a %s model; the content map needs item factors", "--model", m->algo);
    hr_features fs;
    int rc = hr_content_read(job, o, NULL, &fs);
    if (rc < 0) return rc;
    uint32_t *sel;
    const uint32_t nf = hr_content_select(&fs, o->features_max, &sel), NF = nf + 1;   /* + intercept */
    const int k = m->k, bias = m->item_bias != NULL, width = k + bias;
    const uint32_t n = d->n_items;
    /* each train item's feature row (selected columns, intercept last) */
    uint64_t *fp = hr_calloc((size_t)n + 1, sizeof *fp);
    uint32_t *fcol = hr_malloc(((uint64_t)n * 1 + fs.ptr[fs.n_items] + 1) * sizeof *fcol);
    float *fval = hr_malloc(((uint64_t)n + fs.ptr[fs.n_items] + 1) * sizeof *fval);
    uint64_t with_features = 0, z = 0;
    char key[HR_DICT_INT_CHARS];
    for (uint32_t i = 0; i < n; i++) {
        size_t len;
        const char *id = hr_dict_key(&tr->items, i, key, &len);
        int64_t r = hr_features_item(&fs, id, len);
        if (r >= 0) with_features += fs.ptr[r + 1] > fs.ptr[r];
        hr_content_row(&fs, r, sel, nf, fcol, fval, &z);
        fp[i + 1] = z;
    }
    /* the fit over this rank's block of warm model items (jobs/content_ridge.h) */
    uint64_t warm = 0, wz = 0;
    for (uint64_t j = s->items.lo; j < s->items.hi; j++) {
        uint32_t i = s->items.inv[j];
        if (i == UINT32_MAX || d->cold[i]) continue;
        warm++;
        wz += fp[i + 1] - fp[i];
    }
    uint64_t *wp = hr_calloc(warm + 1, sizeof *wp), w = 0;
    uint32_t *wcol = hr_malloc((wz + 1) * sizeof *wcol);
    float *wval = hr_malloc((wz + 1) * sizeof *wval), *Y = hr_malloc((warm * (uint64_t)width + 1) * sizeof *Y);
    for (uint64_t j = s->items.lo; j < s->items.hi; j++) {
        uint32_t i = s->items.inv[j];
        if (i == UINT32_MAX || d->cold[i]) continue;
        uint64_t l = fp[i + 1] - fp[i];
        memcpy(wcol + wp[w], fcol + fp[i], l * sizeof *wcol);
        memcpy(wval + wp[w], fval + fp[i], l * sizeof *wval);
        memcpy(Y + w * (uint64_t)width, m->item_factors + (j - s->items.lo) * (uint64_t)k, (size_t)k * sizeof *Y);
        if (bias) Y[w * (uint64_t)width + (uint64_t)k] = m->item_bias[j - s->items.lo];
        wp[w + 1] = wp[w] + l;
        w++;
    }
    float *W = hr_malloc((size_t)NF * width * sizeof *W);
    double t_fit = 0;
    int grid = 0;
    rc = hr_content_ridge(job, wp, wcol, wval, warm, Y, width, NF, o->lambda, W, &t_fit, &grid);
    if (rc == 0) rc = hr_comm_allreduce_sum_u64(job->comm, &warm, 1);
    hr_free(wp); hr_free(wcol); hr_free(wval); hr_free(Y);
    /* cold candidates: y_i = f_i W; feature popularity */
    uint32_t nc = 0, *cand = hr_malloc(((size_t)n + 1) * sizeof *cand);
    for (uint32_t i = 0; i < n; i++)
        if (d->cold[i]) cand[nc++] = i;
    float *Yc = hr_calloc(((size_t)nc + 1) * width, sizeof *Yc);
    for (uint32_t c = 0; c < nc; c++) hr_content_apply(fcol, fval, fp[cand[c]], fp[cand[c] + 1], W, width, Yc + (size_t)c * width);
    double *fpop = hr_calloc(NF, sizeof *fpop);
    for (uint32_t i = 0; i < n; i++)
        if (!d->cold[i])
            for (uint64_t e = fp[i]; e + 1 < fp[i + 1]; e++) fpop[fcol[e]] += (double)d->pop[i];
    float *fps = hr_calloc((size_t)nc + 1, sizeof *fps);
    for (uint32_t c = 0; c < nc; c++) {
        uint64_t a = fp[cand[c]], b = fp[cand[c] + 1] - 1;   /* without the intercept */
        double sum = 0;
        for (uint64_t e = a; e < b; e++) sum += fpop[fcol[e]];
        fps[c] = b > a ? (float)(sum / (double)(b - a)) : 0.0f;
    }
    hr_free(fpop);
    /* rank every local test user's held-out cold items among the cold candidates */
    hr_rank_acc acc[CS_N];
    for (int q = 0; q < CS_N; q++) hr_metrics_init_rank(&acc[q], d->cut, d->ncut, &job->err);
    const hr_block *te = d->te;
    const uint32_t kmax = d->cut[d->ncut - 1];
    scored *sc = hr_malloc(((size_t)nc + 1) * sizeof *sc);
    uint32_t *ranked = hr_malloc(((size_t)kmax + 1) * sizeof *ranked), *rel = hr_malloc((d->max_test_row + 1) * sizeof *rel);
    user_vals *uv = hr_malloc((te->nrows + 1) * sizeof *uv);
    uint64_t nu = 0, unknown = 0;
    double vals[HR_RANK_NSUM];
    for (uint64_t r = 0; rc == 0 && r < te->nrows; r++) {
        uint32_t nrel = 0, gid = (uint32_t)te->gid[r];
        for (uint64_t e = te->ptr[r]; e < te->ptr[r + 1]; e++)
            if (d->cold[te->idx[e]] && (nrel == 0 || rel[nrel - 1] != te->idx[e])) rel[nrel++] = te->idx[e];
        if (!nrel) continue;
        if (s->umap[gid] == UINT32_MAX) { unknown++; continue; }   /* no factors: nothing to map onto */
        const float *x = m->user_factors + (uint64_t)s->umap[gid] * (uint64_t)k;
        qsort(rel, nrel, sizeof *rel, cmp_u32_ev);
        user_vals *u = &uv[nu++];
        u->gid = gid;
        for (int q = 0; q < CS_N; q++) {
            for (uint32_t c = 0; c < nc; c++) {
                float v;
                if (q == CS_CONTENT) {
                    const float *yc = Yc + (size_t)c * width;
                    double dot = bias ? yc[k] : 0;
                    for (int j = 0; j < k; j++) dot += (double)x[j] * yc[j];
                    v = (float)dot;
                } else if (q == CS_RANDOM) {
                    hr_rng g = hr_rng_stream(d->seed, HR_STREAM_EVAL, ((uint64_t)gid << 32) | cand[c]);
                    v = (float)hr_rng_uniform(&g);
                } else {
                    v = fps[c];
                }
                sc[c] = (scored){ v, cand[c] };
            }
            qsort(sc, nc, sizeof *sc, cmp_scored);
            uint32_t len = nc < kmax ? nc : kmax;
            for (uint32_t t = 0; t < len; t++) ranked[t] = sc[t].i;
            hr_metrics_add_user(&acc[q], ranked, len, rel, nrel, vals);
            u->v[q][0] = (float)vals[HR_RANK_AT(0, HR_RANK_RECALL)];
            u->v[q][1] = (float)vals[HR_RANK_AT(0, HR_RANK_NDCG)];
        }
    }
    for (int q = 0; rc == 0 && q < CS_N; q++) {
        rc = hr_comm_allreduce_sum_f64(job->comm, acc[q].sum, HR_RANK_NSUM);
        if (rc == 0) rc = hr_comm_allreduce_sum_u64(job->comm, acc[q].count, HR_RANK_NCOUNT);
    }
    if (rc == 0) rc = hr_comm_allreduce_sum_u64(job->comm, &unknown, 1);
    /* per-user values in global user order, for the bootstrap */
    uint64_t *counts = hr_malloc((size_t)job->size * sizeof *counts), tot = 0;
    void *all = NULL;
    if (rc == 0) rc = hr_comm_allgatherv(job->comm, uv, nu, sizeof *uv, &all, counts, &tot);
    hr_free(counts);
    if (rc == 0) {
        qsort(all, tot, sizeof *uv, cmp_gid);
        const user_vals *a = all;
        hr_rank_means mean[CS_N];
        for (int q = 0; q < CS_N; q++) hr_metrics_finalize_rank(&acc[q], &mean[q]);
        char kbuf[96];
        hr_job_set_int(job, "cold.items", nc);
        hr_job_set_int(job, "cold.items_with_features", (int64_t)with_features);
        hr_job_set_int(job, "cold.warm_items_fitted", (int64_t)warm);
        hr_job_set_int(job, "cold.features", nf);
        hr_job_set_int(job, "cold.features_total", fs.n_tokens);
        hr_job_set_real(job, "cold.lambda", o->lambda);
        hr_job_set_real(job, "cold.seconds_fit", t_fit);
        hr_job_set_int(job, "cold.ridge_grid", grid);
        hr_job_set_int(job, "cold.users_evaluated", (int64_t)mean[0].users_evaluated);
        hr_job_set_int(job, "cold.users_unknown", (int64_t)unknown);
        for (int r = 0; r < HR_FEAT_NREJECT; r++) {
            snprintf(kbuf, sizeof kbuf, "cold.features_rejected_%s", hr_feat_reject_names[r]);
            hr_job_set_int(job, kbuf, (int64_t)fs.rejects[r]);
        }
        for (int q = 0; q < CS_N; q++)
            for (uint32_t c = 0; c < d->ncut; c++) {
                snprintf(kbuf, sizeof kbuf, "cold.%s.recall@%u", CS_NAMES[q], d->cut[c]);
                hr_job_set_real(job, kbuf, mean[q].at[c][HR_RANK_RECALL]);
                snprintf(kbuf, sizeof kbuf, "cold.%s.ndcg@%u", CS_NAMES[q], d->cut[c]);
                hr_job_set_real(job, kbuf, mean[q].at[c][HR_RANK_NDCG]);
            }
        hr_progress("evaluate   cold items: %u candidates (%llu with features), %llu users; W %u features + intercept from %llu warm "
                    "items in %.3fs (lambda %g, %s)", nc, (unsigned long long)with_features, (unsigned long long)mean[0].users_evaluated,
                    nf, (unsigned long long)warm, t_fit, o->lambda, grid ? "on the ScaLAPACK grid" : "allreduced sums");
        for (int q = 0; q < CS_N; q++)
            hr_progress("evaluate   cold %-12s recall@%u %.4f  ndcg@%u %.4f", CS_NAMES[q], d->cut[0], mean[q].at[0][HR_RANK_RECALL],
                        d->cut[0], mean[q].at[0][HR_RANK_NDCG]);
        double *va = hr_malloc((tot + 1) * sizeof *va), *vb = hr_malloc((tot + 1) * sizeof *vb);
        for (int q = 1; rc == 0 && q < CS_N && tot > 0; q++)
            for (int mtr = 0; rc == 0 && mtr < 2; mtr++) {
                for (uint64_t u = 0; u < tot; u++) { va[u] = a[u].v[q][mtr]; vb[u] = a[u].v[CS_CONTENT][mtr]; }
                hr_paired_result pr;
                rc = hr_metrics_compare_paired(va, vb, tot, 0, d->seed, &pr, &job->err);
                if (rc < 0) break;
                const char *mn = mtr ? "ndcg" : "recall";
                snprintf(kbuf, sizeof kbuf, "cold.vs_%s.%s@%u.verdict", CS_NAMES[q], mn, d->cut[0]);
                hr_job_set_str(job, kbuf, hr_metrics_verdict_name(pr.verdict));
                snprintf(kbuf, sizeof kbuf, "cold.vs_%s.%s@%u.delta", CS_NAMES[q], mn, d->cut[0]);
                hr_job_set_real(job, kbuf, pr.mean);
                snprintf(kbuf, sizeof kbuf, "cold.vs_%s.%s@%u.ci_low", CS_NAMES[q], mn, d->cut[0]);
                hr_job_set_real(job, kbuf, pr.lo);
                snprintf(kbuf, sizeof kbuf, "cold.vs_%s.%s@%u.ci_high", CS_NAMES[q], mn, d->cut[0]);
                hr_job_set_real(job, kbuf, pr.hi);
                hr_progress("evaluate   cold content vs %-11s %s@%u: %+.4f [%+.4f, %+.4f] %s", CS_NAMES[q], mn, d->cut[0], pr.mean, pr.lo,
                            pr.hi, hr_metrics_verdict_name(pr.verdict));
            }
        hr_free(va);
        hr_free(vb);
        hr_progress("evaluate   cold items done in %.2fs", hr_now() - t0);
    }
    hr_free(all);
    hr_free(uv); hr_free(sc); hr_free(ranked); hr_free(rel); hr_free(fps); hr_free(Yc); hr_free(cand); hr_free(W);
    hr_free(fp); hr_free(fcol); hr_free(fval); hr_free(sel);
    hr_features_free(&fs);
    return hr_comm_agree(job->comm, rc, &job->err);
}
