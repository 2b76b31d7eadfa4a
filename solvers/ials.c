/* solvers/ials.c — implicit ALS (Hu-Koren-Volinsky): the Gram partial, and the Cholesky and
 * conjugate-gradient row solvers.  Options, workspace and explicit ALS are in solvers/als.c. */
#include "core/alloc.h"
#include "solvers/als.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "core/timer.h"
#include "solvers/als_kern.h"
#include "solvers/blas.h"
#include "solvers/ials_simd.h"

/* CG stops a row once |r|^2 falls below this (the `implicit` library's threshold). */
#define CG_TOL 1e-20f
#define NONRESIDENT UINT64_MAX

void hr_als_compute_gram(const float *Y, uint64_t nrows, int k, double *G, hr_als_stats *stats)
{
    double t0 = hr_now();
    memset(G, 0, sizeof(double) * (size_t)k * (size_t)k);
    /* In double: a product of two floats is exact in double, so partial sums over different
     * row subsets (different rank counts) differ only around 1e-16 and their reduced sum
     * rounds to the same float G.  A float ssyrk would differ around 1e-7, which three CG
     * steps amplify to 1e-3 across rank counts.  Rows are converted in slices of about 2^16
     * doubles (512 KiB, one allocation per call), whatever k: one dsyrk per slice. */
    const uint64_t per = (uint64_t)65536 / (uint64_t)k ? (uint64_t)65536 / (uint64_t)k : 1;
    const uint64_t step = nrows < per ? (nrows ? nrows : 1) : per;
    double *tmp = hr_malloc((size_t)step * (size_t)k * sizeof *tmp);
    for (uint64_t s0 = 0; s0 < nrows; s0 += step) {
        uint64_t n = nrows - s0 < step ? nrows - s0 : step;
        for (uint64_t q = 0; q < n * (uint64_t)k; q++) tmp[q] = Y[s0 * (uint64_t)k + q];
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, k, (int)n, 1.0, tmp, k, 1.0, G, k);
    }
    hr_free(tmp);
    for (int i = 0; i < k; i++) /* mirror: callers and the solvers use G as a full matrix */
        for (int j = i + 1; j < k; j++) G[(size_t)j * k + i] = G[(size_t)i * k + j];
    if (stats) {
        stats->flops += (double)nrows * k * k;
        stats->seconds += hr_now() - t0;
        stats->phase[HR_ALS_PH_GRAM] += hr_now() - t0;
    }
}

typedef struct implicit_ctx {
    const hr_als_rows *rows;
    const float *Y, *Yt; /* Yt: NULL, or the tails of a split Y (hr_als_solve_implicit_split) */
    float alpha, epsilon, lambda;
    int k, kp, ky;       /* ky: floats of a row at Y (k when not split) */
    double *loss; /* NULL, or where the data part of the loss of the rows on entry is added */
} implicit_ctx;

/* x^T G x of a row from x (zero-padded, kp) and gx = -(G + lambda I) x as hr_als_gemm_g gives it
 * (negate = 1): -x.gx - lambda |x|^2. */
static double xgx(const implicit_ctx *c, const float *x, const float *gx)
{
    return -(double)hr_als_dot(x, gx, c->k) - (double)c->lambda * (double)hr_als_dot(x, x, c->k);
}

/* The entry terms of the loss, sum (c - 1) s^2 - 2 c s + c, over n entries with s_i = y_i.x and
 * cm1_i = c_i - 1. */
static double entry_terms(const float *s, const float *cm1, uint64_t n)
{
    double acc = 0.0;
    for (uint64_t i = 0; i < n; i++) {
        double cc = 1.0 + (double)cm1[i], si = s[i];
        acc += (double)cm1[i] * si * si - 2.0 * cc * si + cc;
    }
    return acc;
}

/* c - 1 for a value, or -1 for a value that is negative or not finite (the caller reports it).
 * A value of 0 gives 0: such entries are unobserved (p = 0, c = 1) and the callers skip them. */
static inline float conf_m1(const implicit_ctx *c, float v)
{
    if (!(v >= 0.0f) || !isfinite(v)) return -1.0f;
    return c->epsilon > 0.0f ? c->alpha * log1pf(v / c->epsilon) : c->alpha * v;
}

static int bad_entry(const implicit_ctx *c, uint64_t u, uint64_t e, hr_error *err)
{
    if (c->rows->col[e] >= c->rows->ncols)
        return hr_error_set(err, HR_ERR_ARG, "implicit ALS: local row %" PRIu64 " refers to column %" PRIu32
                            " but Y has %" PRIu64 " rows", u, c->rows->col[e], c->rows->ncols);
    return hr_error_set(err, HR_ERR_ARG, "implicit ALS: local row %" PRIu64 " has value %g: implicit values must"
                        " be finite and >= 0 (confidence 1 + alpha f(value) >= 1)", u, (double)c->rows->val[e]);
}

/* A row of Y into the gather buffer (ld kp, padding already 0): memcpy when k is a multiple of 8
 * (whole vectors, glibc's short straight-line path at k = 64), else the vector + masked copy. */
static inline void copy_y_row(float *dst, const float *src, int k)
{
    if (k % 8 == 0) memcpy(dst, src, sizeof(float) * (size_t)k);
    else hr_ials_copy_row(dst, src, k);
}

/* Row col of Y (plain or split) into the gather buffer: kp floats, zeros after the k-th (the
 * buffers' padding is never written, so a split row's two copies leave it 0). */
static inline void gather_row(const implicit_ctx *c, float *dst, uint32_t col)
{
    if (c->Yt) hr_als_yrow(dst, c->Y, c->Yt, c->ky, c->k, col);
    else copy_y_row(dst, c->Y + (size_t)col * c->k, c->k);
}

/* Entries of row u that are observed (value != 0); 0 also when there are none at all. */
static uint64_t observed(const hr_als_rows *R, uint64_t u)
{
    uint64_t n = 0;
    for (uint64_t e = R->rowptr[u]; e < R->rowptr[u + 1]; e++) n += R->val[e] != 0.0f;
    return n;
}

/* Gathers the observed entries among [s, s+n) of row u: dst rows = y (ld kp), wt = c - 1.
 * *got = how many. */
static int gather_plain(const implicit_ctx *c, uint64_t u, uint64_t s, uint64_t n, float *dst, float *wt,
                        uint64_t *got, hr_error *err)
{
    const hr_als_rows *R = c->rows;
    uint64_t g = 0;
    for (uint64_t j = 0; j < n; j++) {
        uint32_t col = R->col[s + j];
        float v = R->val[s + j], cm1 = conf_m1(c, v);
        if (col >= R->ncols || cm1 < 0.0f) return bad_entry(c, u, s + j, err);
        if (v == 0.0f) continue;
        hr_als_prefetch_split(R, c->Y, c->Yt, c->ky, s + j, s + n, c->k);
        gather_row(c, dst + g * (uint64_t)c->kp, col);
        wt[g++] = cm1;
    }
    *got = g;
    return 0;
}

/* ---- Cholesky --------------------------------------------------------------------------------
 * M = (G + lambda I) + sum_i (c_i - 1) y_i y_i^T and rhs = sum_i c_i y_i over the observed
 * entries: rhs from the gathered rows, which are then scaled by sqrt(c_i - 1) for
 * hr_als_gram_upper.  The Grams of HR_ALS_LANES rows are laid out one per lane, G + lambda I
 * added, and factored together with rhs as the extra row (hr_als_chol_batch); beyond
 * HR_ALS_BATCH_MAX_K one at a time with LAPACK. */

/* C (ld kp, upper) <- sum (c - 1) y y^T over row u's observed entries, rhs <- sum c y.
 * *nobs = observed entries.  With loss: adds the entry terms of the loss of x (zero-padded). */
static int gram_implicit(const implicit_ctx *c, hr_als_work *w, uint64_t u, float *C, float *rhs, uint64_t *nobs,
                         const float *x, double *loss, hr_als_stats *st, hr_error *err)
{
    const hr_als_rows *R = c->rows;
    const int k = c->k, kp = c->kp;
    memset(rhs, 0, sizeof(float) * (size_t)kp);
    const uint64_t beg = R->rowptr[u], end = R->rowptr[u + 1];
    uint64_t tot = 0;
    for (uint64_t s = beg; s < end; s += w->gather_rows) {
        uint64_t nc = end - s < w->gather_rows ? end - s : w->gather_rows, g = 0;
        double t0 = hr_now();
        for (uint64_t j = 0; j < nc; j++) {
            uint32_t col = R->col[s + j];
            float v = R->val[s + j], cm1 = conf_m1(c, v);
            if (col >= R->ncols || cm1 < 0.0f) return bad_entry(c, u, s + j, err);
            if (v == 0.0f) continue;
            hr_als_prefetch_split(R, c->Y, c->Yt, c->ky, s + j, R->rowptr[R->nrows], k);
            gather_row(c, w->gather + g * (uint64_t)kp, col);
            w->wt[g] = 1.0f + cm1;
            w->tmp[g++] = sqrtf(cm1);
        }
        double t1 = hr_now();
        if (loss) { /* s_i = y_i.x, then the entry terms (cm1 = c - 1 = wt - 1) */
            hr_als_rows_dot(w->gather, g, k, x, w->tmp2);
            double acc = 0.0;
            for (uint64_t i = 0; i < g; i++) {
                double cc = w->wt[i], si = w->tmp2[i];
                acc += (cc - 1.0) * si * si - 2.0 * cc * si + cc;
            }
            *loss += acc;
        }
        hr_ials_rows_axpy(w->gather, g, k, w->wt, rhs); /* rhs += c y, from the unscaled rows */
        hr_als_rows_scale(w->gather, g, k, w->tmp);    /* then y <- sqrt(c - 1) y */
        hr_als_gram_upper(w->gather, g, kp, k, C, kp, s != beg);
        tot += g;
        st->phase[HR_ALS_PH_GATHER] += t1 - t0;
        st->phase[HR_ALS_PH_GRAM] += hr_now() - t1;
    }
    *nobs = tot;
    return 0;
}

static float *slot_vec(hr_als_work *w, int b) { return w->slotv + (size_t)b * w->kp; }

typedef struct lanes {
    int nl;
    uint64_t row[HR_ALS_LANES];
    double trace[HR_ALS_LANES];
} lanes;

/* Lays the batch out: lane b = G + lambda I + its Gram (+ shift[b] on the diagonal), rhs as row
 * k; lanes >= nl get the identity.  Factors and back-solves; returns the failed-lane mask. */
static uint32_t factor_implicit(const implicit_ctx *c, hr_als_work *w, lanes *L, const float *shift)
{
    const int k = c->k, kp = c->kp;
    float *P = w->batch, *rhs = P + hr_als_tri(k) * HR_ALS_LANES;
    for (int b = L->nl; b < HR_ALS_LANES; b++) {
        memset(hr_als_slot_mat(w, b), 0, sizeof(float) * (size_t)kp * kp);
        memset(slot_vec(w, b), 0, sizeof(float) * (size_t)kp);
    }
    hr_als_pack_lanes(w->slots, hr_als_slot_stride(kp), k, w->greg, P);
    hr_als_pack_row(slot_vec(w, 0), (size_t)kp, k, rhs);
    for (int b = 0; b < HR_ALS_LANES; b++) {
        double tr = 0.0;
        for (int i = 0; i < k; i++) {
            float *d = P + (hr_als_tri(i) + i) * HR_ALS_LANES + b;
            if (b >= L->nl) { /* unused lane: the identity (zero off the diagonal, zero rhs) */
                for (int j = 0; j < i; j++) P[(hr_als_tri(i) + j) * HR_ALS_LANES + b] = 0.0f;
                *d = 1.0f;
            }
            tr += *d;
            *d += shift[b];
        }
        L->trace[b] = tr;
    }
    uint32_t bad = hr_als_chol_batch(P, k, 1, w->invd);
    hr_als_chol_backsolve(P, k, w->invd, rhs);
    return bad;
}

static int chol_not_pd(uint64_t u, float shift, hr_error *err)
{
    return hr_error_set(err, HR_ERR_NUMERIC,
                        "implicit ALS: the normal matrix of local row %" PRIu64 " is not positive"
                        " definite even after adding %g to its diagonal (NaN/Inf in the factors?)",
                        u, (double)shift);
}

static int chol_not_finite(uint64_t u, hr_error *err)
{
    return hr_error_set(err, HR_ERR_NUMERIC, "implicit ALS: the solution of local row %" PRIu64
                        " is not finite (NaN/Inf in the factors or values?)", u);
}

static int take_lane(const implicit_ctx *c, hr_als_work *w, int b, uint64_t u, float *X, hr_error *err)
{
    const int k = c->k;
    const float *z = w->batch + hr_als_tri(k) * HR_ALS_LANES;
    float *x = X + (size_t)u * k;
    for (int j = 0; j < k; j++) x[j] = z[j * HR_ALS_LANES + b];
    return hr_als_all_finite(x, k) ? 0 : chol_not_finite(u, err);
}

/* As flush_explicit in solvers/als.c: factor, solve, retry failed lanes alone. */
static int flush_implicit(const implicit_ctx *c, hr_als_work *w, lanes *L, float *X, hr_als_stats *st, hr_error *err)
{
    const float noshift[HR_ALS_LANES] = { 0 };
    uint32_t bad = factor_implicit(c, w, L, noshift);
    for (int b = 0; b < L->nl; b++)
        if (!(bad >> b & 1u)) HR_TRY(take_lane(c, w, b, L->row[b], X, err));
    lanes all = *L;
    for (int b = 0; b < all.nl; b++) {
        if (!(bad >> b & 1u)) continue;
        uint64_t u = all.row[b], nobs;
        float shift[HR_ALS_LANES] = { 0 };
        uint32_t fail = 1;
        for (int attempt = 1; fail && attempt <= HR_ALS_MAX_RETRIES; attempt++) {
            lanes one = { .nl = 1, .row = { u } };
            shift[0] = hr_als_retry_shift(attempt, all.trace[b]);
            st->retries++;
            HR_TRY(gram_implicit(c, w, u, hr_als_slot_mat(w, 0), slot_vec(w, 0), &nobs, NULL, NULL, st, err));
            fail = factor_implicit(c, w, &one, shift) & 1u;
        }
        if (fail) return chol_not_pd(u, shift[0], err);
        HR_TRY(take_lane(c, w, 0, u, X, err));
    }
    return 0;
}

/* k > HR_ALS_BATCH_MAX_K: w->mat (ld kp) <- G + lambda I + Gram, spotrf, two triangular solves. */
static int solve_row_lapack(const implicit_ctx *c, hr_als_work *w, uint64_t u, float *x, const float *xpad,
                            double *loss, hr_als_stats *st, hr_error *err)
{
    const int k = c->k, kp = c->kp;
    uint64_t nobs;
    float shift = 0.0f;
    double tr = 0.0;
    int info = 1;
    for (int attempt = 0; info != 0 && attempt <= HR_ALS_MAX_RETRIES; attempt++) {
        if (attempt > 0) {
            shift = hr_als_retry_shift(attempt, tr);
            st->retries++;
        }
        HR_TRY(gram_implicit(c, w, u, w->mat, w->vec, &nobs, xpad, attempt == 0 ? loss : NULL, st, err));
        double t0 = hr_now();
        tr = 0.0;
        for (int i = 0; i < k; i++) {
            for (int j = i; j < k; j++) w->mat[(size_t)i * kp + j] += w->greg[(size_t)i * kp + j];
            tr += w->mat[(size_t)i * kp + i];
            w->mat[(size_t)i * kp + i] += shift;
        }
        info = hr_als_potrf(w->mat, kp, k);
        st->phase[HR_ALS_PH_FACTOR] += hr_now() - t0;
    }
    if (info != 0) return chol_not_pd(u, shift, err);
    double t0 = hr_now();
    hr_als_solve_l(w->mat, kp, k, w->vec);
    hr_als_solve_lt(w->mat, kp, k, w->vec);
    st->phase[HR_ALS_PH_FACTOR] += hr_now() - t0;
    if (!hr_als_all_finite(w->vec, k)) return chol_not_finite(u, err);
    memcpy(x, w->vec, sizeof(float) * (size_t)k);
    return 0;
}

static int solve_cholesky(const implicit_ctx *c, hr_als_work *w, float *X, hr_als_stats *st, hr_error *err)
{
    const hr_als_rows *R = c->rows;
    const int k = c->k;
    uint64_t nonempty = 0, nnz = 0;
    lanes L = { 0 };
    float *xpad = w->cg_p, *gx = w->cg_ap; /* free during Cholesky: the loss's x and G x */
    for (uint64_t u = 0; u < R->nrows; u++) {
        float *x = X + (size_t)u * k;
        uint64_t nobs = 0;
        if (c->loss) {
            memcpy(xpad, x, sizeof(float) * (size_t)k);
            hr_als_gemm_g(xpad, 1, w->greg, c->kp, k, gx, 1);
            *c->loss += xgx(c, xpad, gx);
        }
        if (R->rowptr[u + 1] > R->rowptr[u]) {
            if (k > HR_ALS_BATCH_MAX_K) {
                nobs = observed(R, u);
                if (nobs > 0) HR_TRY(solve_row_lapack(c, w, u, x, xpad, c->loss, st, err));
            } else {
                HR_TRY(gram_implicit(c, w, u, hr_als_slot_mat(w, L.nl), slot_vec(w, L.nl), &nobs, xpad, c->loss, st,
                                     err));
            }
        }
        if (nobs == 0) { /* nothing observed: rhs = 0, so x = 0 exactly */
            memset(x, 0, sizeof(float) * (size_t)k);
            continue;
        }
        nonempty++;
        nnz += nobs;
        if (k > HR_ALS_BATCH_MAX_K) continue;
        L.row[L.nl++] = u;
        if (L.nl == HR_ALS_LANES) {
            double tf = hr_now();
            HR_TRY(flush_implicit(c, w, &L, X, st, err));
            L.nl = 0;
            st->phase[HR_ALS_PH_FACTOR] += hr_now() - tf;
        }
    }
    if (L.nl > 0) {
        double tf = hr_now();
        HR_TRY(flush_implicit(c, w, &L, X, st, err));
        st->phase[HR_ALS_PH_FACTOR] += hr_now() - tf;
    }
    st->flops += (double)nnz * k * k + (double)nonempty * k * k * k / 3.0;
    return 0;
}

/* ---- conjugate gradient ------------------------------------------------------------------------
 * Per row, A = G + lambda I + Y_u^T (C_u - I) Y_u and b = Y_u^T c_u, never formed:
 *   A v = (G + lambda I) v + Y_u^T ((c - 1) .* (Y_u v)).
 * One row at a time: its rows of Y are gathered once into the gather buffer (one random-access
 * pass over Y instead of cg_steps + 1) and every step runs on them while they sit in L1 - a
 * user's two dozen rows are 6 KiB - with (G + lambda I) v as one k x k product (hr_als_gemm_g,
 * G in L1 too).  Meanwhile the lines of the next CG_LOOKAHEAD entries are prefetched, spread
 * over the steps.  (Batches of 64 rows sharing one G-times-batch product were about 5% slower
 * per iteration, same bits: each step swept a whole batch of gathered rows, up to the size of
 * L2, which pushed them out of L1 and L2 between steps.)  A row longer than the buffer is streamed in HR_ALS_CHUNK
 * pieces at every step; both kernels continue the same accumulation chains across pieces, so a
 * row's arithmetic is the same resident or streamed: any rank count gives the same bits.  Rows
 * beyond hr_als_cg_dense_len(k) form A instead (cg_dense_row). */

/* out += the sparse part for v (hr_ials_spmv on n gathered rows); the residual form also adds
 * the loss's entry terms of v when c->loss is set (v is then the x on entry). */
static void spmv(const implicit_ctx *c, const float *Yb, const float *wt, uint64_t n, const float *v, float *out,
                 int residual, float *tmp)
{
    if (!(residual && c->loss)) {
        hr_ials_spmv(Yb, wt, n, c->k, v, out, residual, tmp);
        return;
    }
    hr_als_rows_dot(Yb, n, c->k, v, tmp);
    *c->loss += entry_terms(tmp, wt, n);
    for (uint64_t i = 0; i < n; i++) tmp[i] = (1.0f + wt[i]) - wt[i] * tmp[i];
    hr_ials_rows_axpy(Yb, n, c->k, tmp, out);
}

static int sparse_row(const implicit_ctx *c, hr_als_work *w, uint64_t u, uint64_t off, uint64_t len, const float *v,
                      float *out, int residual, hr_error *err)
{
    if (off != NONRESIDENT) {
        spmv(c, w->gather + off * (uint64_t)c->kp, w->wt + off, len, v, out, residual, w->tmp + off);
        return 0;
    }
    const uint64_t beg = c->rows->rowptr[u], end = c->rows->rowptr[u + 1];
    for (uint64_t s = beg; s < end; s += HR_ALS_CHUNK) {
        uint64_t nc = end - s < HR_ALS_CHUNK ? end - s : HR_ALS_CHUNK, got;
        HR_TRY(gather_plain(c, u, s, nc, w->chunk, w->chunk_wt, &got, err));
        spmv(c, w->chunk, w->chunk_wt, got, v, out, residual, w->chunk_tmp);
    }
    return 0;
}

static int cg_not_finite(uint64_t u, hr_error *err)
{
    return hr_error_set(err, HR_ERR_NUMERIC, "implicit ALS (cg): the residual or solution of local row %" PRIu64
                        " is not finite (NaN/Inf in G, the factors, the warm start or the values?)", u);
}

/* One CG update once A p is in ap: x += a p, r -= a A p, then p = r + beta p unless the row has
 * converged.  Returns 0 to go on, 1 when A is singular along p (no descent possible: x is kept),
 * or an error. */
static int cg_update(float *x, float *p, float *r, const float *ap, float *rs, int k, uint64_t u, hr_error *err)
{
    float pap = hr_als_vdot(p, ap, k);
    if (!(pap > 0.0f)) return 1;
    float rs_new = hr_als_cg_step(x, p, r, ap, *rs / pap, k);
    if (!isfinite(rs_new)) return cg_not_finite(u, err);
    if (rs_new >= CG_TOL) hr_als_cg_xpby(r, rs_new / *rs, p, k);
    *rs = rs_new;
    return 0;
}

/* A row longer than hr_als_cg_dense_len(k) cannot stay resident: streamed, its rows of Y would
 * be gathered again at every step, each a random read from DRAM (measured: a tenth of a CG
 * iteration when a fifth of the entries sat in such rows).  So such a row forms its A once
 * instead - one gather and an n k^2 Gram, as the Cholesky solver does - and runs the same CG
 * steps on the dense A (one k x k product per step). */
uint64_t hr_als_cg_dense_len(int k)
{
    uint64_t d = ((uint64_t)1 << 17) / (uint64_t)hr_als_kpad(k);
    return d < HR_ALS_CHUNK ? HR_ALS_CHUNK : d;
}

/* CG on row u with A = G + lambda I + Y_u^T (C_u - I) Y_u formed in w->mat (ld kp), b in w->vec;
 * x, p, r, A p in the CG vectors.  *nobs = observed entries. */
static int cg_dense_row(const implicit_ctx *c, hr_als_work *w, uint64_t u, int steps, float *X, uint64_t *nobs,
                        hr_als_stats *st, hr_error *err)
{
    const int k = c->k, kp = c->kp;
    float *A = w->mat, *b = w->vec, *x = X + (size_t)u * k;
    float *xp = w->cg_p, *p = w->cg_p + kp, *r = w->cg_r, *ap = w->cg_ap;
    memcpy(xp, x, sizeof(float) * (size_t)k); /* zero-padded: the padding of cg_p is never written */
    HR_TRY(gram_implicit(c, w, u, A, b, nobs, xp, c->loss, st, err));
    double t0 = hr_now();
    hr_als_gemm_g(xp, 1, w->gcg, hr_als_ldg(k), k, r, 1); /* r = -(G + lambda I) x */
    if (c->loss) *c->loss += xgx(c, xp, r);
    if (*nobs == 0) { /* only zeros observed: b = 0, the solution is 0 */
        memset(x, 0, sizeof(float) * (size_t)k);
        st->phase[HR_ALS_PH_CG] += hr_now() - t0;
        return 0;
    }
    for (int i = 0; i < k; i++) { /* A = G + lambda I + the Gram (upper), mirrored; padding 0 */
        float *ai = A + (size_t)i * kp;
        for (int j = i; j < k; j++) ai[j] += w->greg[(size_t)i * kp + j];
        for (int j = 0; j < i; j++) ai[j] = A[(size_t)j * kp + i];
        memset(ai + k, 0, sizeof(float) * (size_t)(kp - k));
    }
    hr_als_gemm_g(xp, 1, A, kp, k, r, 1); /* r = b - A x */
    for (int i = 0; i < k; i++) r[i] += b[i];
    memcpy(p, r, sizeof(float) * (size_t)kp);
    float rs = hr_als_vdot(r, r, k);
    if (!isfinite(rs)) return cg_not_finite(u, err);
    for (int step = 0; step < steps && rs >= CG_TOL; step++) {
        hr_als_gemm_g(p, 1, A, kp, k, ap, 0);
        int rc = cg_update(x, p, r, ap, &rs, k, u, err);
        if (rc) {
            if (rc < 0) return rc;
            break;
        }
    }
    if (!hr_als_all_finite(x, k)) return cg_not_finite(u, err);
    st->phase[HR_ALS_PH_CG] += hr_now() - t0;
    return 0;
}

/* Entries of Y's rows prefetched ahead of the row being solved: the next rows' lines are asked
 * for while this row's steps run on its gathered rows (in L1), spread over its steps. */
#define CG_LOOKAHEAD 192

/* Where the lookahead stands: line `line` of entry `row` of col[0..n) is the next to ask for. */
typedef struct lookahead {
    const float *Y, *Yt; /* as in implicit_ctx */
    const uint32_t *col;
    uint64_t n, ncols;
    int k, ky;
    uint64_t row;
    int line;
} lookahead;

/* Lines (64 bytes) a row of Y spans: exact at k = 16 m on rows that start a line (Y's big blocks
 * are 2 MiB-aligned), the most otherwise (k = 65: 6); split, its ky / 16 lines and its tail's.
 * The budget spread over a row's steps. */
static inline uint64_t row_lines(const implicit_ctx *c)
{
    if (c->Yt) return (uint64_t)(c->ky / 16) + 1;
    return (uint64_t)((c->k + 15) / 16) + (c->k % 16 != 0);
}

/* Asks for up to `lines` more lines.  Walks (row, line) forward instead of dividing a line count:
 * it runs once per CG step, and a 64-bit division each time showed up in profiles.  Each entry
 * asks for exactly the lines its row covers (4 at k = 64 on aligned rows, not 4 and its last
 * float's line again); an entry that is not a row of Y is passed over. */
static inline void lookahead_issue(lookahead *la, uint64_t lines)
{
    for (; lines > 0 && la->row < la->n; lines--) {
        const uint32_t col = la->col[la->row];
        if (col >= la->ncols) {
            la->row++;
            la->line = 0;
            continue;
        }
        const char *addr;
        uintptr_t span;
        if (la->Yt) { /* ky / 16 whole lines, then the tail's line */
            span = (uintptr_t)(la->ky / 16) + 1;
            addr = la->line < la->ky / 16 ? (const char *)(la->Y + (size_t)col * (size_t)la->ky) + 64 * la->line
                                          : (const char *)(la->Yt + (size_t)col * (size_t)(la->k - la->ky));
        } else {
            const char *first = (const char *)(la->Y + (size_t)col * (size_t)la->k);
            const uintptr_t a = (uintptr_t)first;
            span = ((a + 4 * (uintptr_t)la->k - 1) >> 6) - (a >> 6) + 1;
            addr = first + 64 * la->line;
        }
        __builtin_prefetch(addr, 0, 2);
        if ((uintptr_t)++la->line >= span) {
            la->line = 0;
            la->row++;
        }
    }
}

static int solve_cg(const implicit_ctx *c, hr_als_work *w, int steps, float *X, hr_als_stats *st, hr_error *err)
{
    const hr_als_rows *R = c->rows;
    const int k = c->k, kp = c->kp, ldg = hr_als_ldg(k);
    const size_t row_bytes = sizeof(float) * (size_t)k;
    const uint64_t base = R->rowptr[0], total = R->rowptr[R->nrows] - base, dense_min = hr_als_cg_dense_len(k);
    const uint64_t lines = row_lines(c);
    uint64_t nonempty = 0, nnz = 0, dense_rows = 0, dense_nnz = 0;
    float *xp = w->cg_p, *p = w->cg_p + kp, *r = w->cg_r, *ap = w->cg_ap;
    lookahead la = { c->Y, c->Yt, R->col + base, total, R->ncols, k, c->ky, 0, 0 };
    double tg = hr_now(); /* two clock reads per row: where the gather starts is where CG ended */
    for (uint64_t u = 0; u < R->nrows; u++) {
        const uint64_t beg = R->rowptr[u], end = R->rowptr[u + 1], n = end - beg;
        float *x = X + (size_t)u * k;
        if (n > dense_min) {
            uint64_t nobs;
            HR_TRY(cg_dense_row(c, w, u, steps, X, &nobs, st, err));
            dense_rows += nobs > 0;
            dense_nnz += nobs;
            if (la.row < end - base) { /* its own gather fetched its rows */
                la.row = end - base;
                la.line = 0;
            }
            tg = hr_now();
            continue;
        }
        uint64_t off = NONRESIDENT, len = 0;
        if (n <= w->gather_rows) {
            HR_TRY(gather_plain(c, u, beg, n, w->gather, w->wt, &len, err));
            off = 0;
        } else { /* longer than this workspace holds: streamed at every step */
            len = observed(R, u);
        }
        double tc = hr_now();
        st->phase[HR_ALS_PH_GATHER] += tc - tg;
        /* keep the prefetches CG_LOOKAHEAD entries past this row, in steps + 1 portions */
        const uint64_t target = end - base + CG_LOOKAHEAD < total ? end - base + CG_LOOKAHEAD : total;
        const uint64_t per = ((target > la.row ? target - la.row : 0) * lines + (uint64_t)steps) / (uint64_t)(steps + 1);
        /* r = b - A x, starting from -(G + lambda I) x; xp is the zero-padded copy of x */
        memcpy(xp, x, row_bytes);
        hr_als_gemm_g(xp, 1, w->gcg, ldg, k, r, 1);
        if (c->loss) *c->loss += xgx(c, xp, r);
        lookahead_issue(&la, per);
        if (len == 0) { /* nothing observed: b = 0, the solution is 0 */
            memset(x, 0, row_bytes);
            tg = hr_now();
            st->phase[HR_ALS_PH_CG] += tg - tc;
            continue;
        }
        nonempty++;
        nnz += len;
        HR_TRY(sparse_row(c, w, u, off, len, xp, r, 1, err));
        memcpy(p, r, sizeof(float) * (size_t)kp);
        float rs = hr_als_vdot(r, r, k);
        /* A NaN residual would compare as "converged" below and leave x silently stale. */
        if (!isfinite(rs)) return cg_not_finite(u, err);
        for (int step = 0; step < steps && rs >= CG_TOL; step++) {
            hr_als_gemm_g(p, 1, w->gcg, ldg, k, ap, 0);
            lookahead_issue(&la, per);
            HR_TRY(sparse_row(c, w, u, off, len, p, ap, 0, err));
            int rc = cg_update(x, p, r, ap, &rs, k, u, err);
            if (rc) {
                if (rc < 0) return rc;
                break;
            }
        }
        if (!hr_als_all_finite(x, k)) return cg_not_finite(u, err);
        tg = hr_now();
        st->phase[HR_ALS_PH_CG] += tg - tc;
    }
    st->flops += (steps + 1.0) * (2.0 * (double)nonempty * k * k + 4.0 * (double)nnz * k);
    st->flops += (double)dense_nnz * k * k + (steps + 1.0) * 2.0 * (double)dense_rows * k * k;
    return 0;
}

int hr_als_solve_implicit(const hr_als_rows *rows, const float *Y, const float *G,
                          const hr_als_opts *o, float *X, hr_als_work *w, hr_als_stats *stats,
                          hr_error *err)
{
    return hr_als_solve_implicit_loss(rows, Y, G, o, X, w, stats, NULL, err);
}

int hr_als_solve_implicit_loss(const hr_als_rows *rows, const float *Y, const float *G,
                               const hr_als_opts *o, float *X, hr_als_work *w, hr_als_stats *stats,
                               double *data_before, hr_error *err)
{
    return hr_als_solve_implicit_split(rows, Y, NULL, o->k, G, o, X, w, stats, data_before, err);
}

int hr_als_split_ky(int k) { return k >= 32 && k % 16 ? k / 16 * 16 : 0; }

int hr_als_solve_implicit_split(const hr_als_rows *rows, const float *Y, const float *Ytail, int ky, const float *G,
                                const hr_als_opts *o, float *X, hr_als_work *w, hr_als_stats *stats,
                                double *data_before, hr_error *err)
{
    HR_TRY(hr_als_check_opts(o, err));
    if (!w || w->k != o->k)
        return hr_error_set(err, HR_ERR_ARG, "implicit ALS: workspace made for k = %d, options say k = %d",
                            w ? w->k : 0, o->k);
    if (!Ytail) ky = o->k;
    else if (ky <= 0 || ky >= o->k || ky % 8)
        return hr_error_set(err, HR_ERR_ARG, "implicit ALS: a split Y needs 0 < ky < k = %d and ky a multiple of 8, not %d",
                            o->k, ky);
    hr_als_stats dummy = { 0 };
    hr_als_stats *st = stats ? stats : &dummy;
    double t0 = hr_now();
    const int k = o->k, kp = w->kp;
    for (int i = 0; i < k; i++) {
        memcpy(w->greg + (size_t)i * kp, G + (size_t)i * k, sizeof(float) * (size_t)k);
        w->greg[(size_t)i * kp + i] += o->lambda;
    }
    if (o->solver == HR_ALS_CG) /* the same at CG's stride (zeros after k: the workspace's) */
        for (int i = 0; i < k; i++)
            memcpy(w->gcg + (size_t)i * hr_als_ldg(k), w->greg + (size_t)i * kp, sizeof(float) * (size_t)k);
    implicit_ctx c = { rows, Y, Ytail, o->alpha, o->epsilon, o->lambda, k, kp, ky, data_before };
    int rc = o->solver == HR_ALS_CHOLESKY ? solve_cholesky(&c, w, X, st, err) : solve_cg(&c, w, o->cg_steps, X, st, err);
    if (rc < 0) return rc;
    st->rows += rows->nrows;
    st->seconds += hr_now() - t0;
    return 0;
}
