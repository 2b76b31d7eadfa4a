/* solvers/als.c — ALS options, the shared workspace, and the explicit (ALS-WR + biases) solver.
 * The implicit solvers live in solvers/ials.c, the loss functions in solvers/als_loss.c. */
#include "solvers/als.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "core/timer.h"
#include "solvers/als_kern.h"
#include "solvers/blas.h"

void hr_als_default_opts(hr_als_opts *o)
{
    o->k = 64;
    o->lambda = 0.05f;
    o->alpha = 40.0f;
    o->epsilon = 0.0f;
    o->cg_steps = 3;
    o->solver = HR_ALS_CG;
}

int hr_als_check_opts(const hr_als_opts *o, hr_error *err)
{
    if (o->k < 1 || o->k > HR_ALS_MAX_K)
        return hr_error_set(err, HR_ERR_ARG, "factors (k) = %d: must be in 1..%d", o->k, HR_ALS_MAX_K);
    if (!(o->lambda >= 0.0f) || !isfinite(o->lambda))
        return hr_error_set(err, HR_ERR_ARG, "lambda = %g: must be finite and >= 0", (double)o->lambda);
    if (!(o->alpha >= 0.0f) || !isfinite(o->alpha))
        return hr_error_set(err, HR_ERR_ARG, "alpha = %g: must be finite and >= 0", (double)o->alpha);
    if (!(o->epsilon >= 0.0f) || !isfinite(o->epsilon))
        return hr_error_set(err, HR_ERR_ARG, "epsilon = %g: must be finite and >= 0 (0 = linear confidence)",
                            (double)o->epsilon);
    if (o->cg_steps < 1 || o->cg_steps > HR_ALS_MAX_CG_STEPS)
        return hr_error_set(err, HR_ERR_ARG, "cg_steps = %d: must be in 1..%d", o->cg_steps, HR_ALS_MAX_CG_STEPS);
    if (o->solver != HR_ALS_CHOLESKY && o->solver != HR_ALS_CG)
        return hr_error_set(err, HR_ERR_ARG, "solver = %d: must be cholesky (%d) or cg (%d)", (int)o->solver,
                            HR_ALS_CHOLESKY, HR_ALS_CG);
    return 0;
}

/* ---- workspace -------------------------------------------------------------------------------- */

#define ALIGN 64u

static size_t round_up(size_t n) { return (n + ALIGN - 1) / ALIGN * ALIGN; }

/* Gather capacity: the longest row, so that CG can keep any row resident across its steps
 * (rows beyond hr_als_cg_dense_len form their A instead), but never above ~512 KiB (2^17
 * floats: the L2 of this machine kind; explicit ALS and Cholesky stream longer rows through it)
 * and never below one streaming chunk. */
static uint64_t gather_capacity(int k, uint64_t max_row_nnz)
{
    uint64_t cap_max = ((uint64_t)1 << 17) / (uint64_t)hr_als_kpad(k);
    if (cap_max < HR_ALS_CHUNK) cap_max = HR_ALS_CHUNK;
    uint64_t want = max_row_nnz < cap_max ? max_row_nnz : cap_max;
    return want < HR_ALS_CHUNK ? HR_ALS_CHUNK : want;
}

/* One layout routine serves both the estimate (base == NULL) and the carving, so they cannot
 * disagree.  Returns the bytes used after the aligned start. */
static size_t layout(hr_als_work *w, char *base, int k, uint64_t max_row_nnz)
{
    uint64_t cap = gather_capacity(k, max_row_nnz);
    size_t kp = (size_t)hr_als_kpad(k), off = 0;
    size_t nb = k <= HR_ALS_BATCH_MAX_K ? hr_als_tri(k + 2) : 0;
#define CARVE(field, type, count)                                             \
    do {                                                                      \
        if (base) w->field = (type *)(void *)(base + off);                    \
        off += round_up(sizeof(type) * (size_t)(count));                      \
    } while (0)
    CARVE(gather, float, cap * kp);
    CARVE(wt, float, cap);
    CARVE(tmp, float, cap);
    CARVE(tmp2, float, cap);
    CARVE(chunk, float, (size_t)HR_ALS_CHUNK * kp);
    CARVE(chunk_wt, float, HR_ALS_CHUNK);
    CARVE(chunk_tmp, float, HR_ALS_CHUNK);
    CARVE(mat, float, (kp + 2) * (kp + 2));
    CARVE(vec, float, kp + 2);
    CARVE(sy, float, kp);
    CARVE(ty, float, kp);
    CARVE(greg, float, kp * kp);
    CARVE(gcg, float, (size_t)k * (size_t)hr_als_ldg(k));
    CARVE(batch, float, nb * HR_ALS_LANES);
    CARVE(slots, float, nb ? (size_t)HR_ALS_LANES * hr_als_slot_stride((int)kp) : 0);
    CARVE(slotv, float, nb ? (size_t)2 * HR_ALS_LANES * kp : 0);
    CARVE(invd, float, ((size_t)k + 2) * HR_ALS_LANES);
    CARVE(cg_p, float, 2 * kp);
    CARVE(cg_r, float, kp);
    CARVE(cg_ap, float, kp);
    const int wn = (k + 1) / 2, wld = hr_als_kpad(wn);
    CARVE(wslots, float, nb ? (size_t)HR_ALS_LANES * hr_als_slot_stride(wld) : 0);
    CARVE(wrhs, float, nb ? (size_t)HR_ALS_LANES * wld : 0);
    CARVE(wrows, float, nb ? (size_t)HR_ALS_LANES * wn * kp : 0);
    CARVE(wtr, float, nb ? (size_t)k * wld : 0);
#undef CARVE
    if (base) {
        /* Zero everything once: the padding columns of gathered rows and CG vectors are never
         * written again and must read as 0 in the products. */
        memset(base, 0, off);
        w->k = k;
        w->kp = (int)kp;
        w->gather_rows = cap;
        w->wn = nb ? wn : 0;
        w->wld = wld;
    }
    return off;
}
size_t hr_als_estimate_work(int k, uint64_t max_row_nnz)
{
    if (k < 1 || k > HR_ALS_MAX_K) return 0;
    /* struct + worst-case misalignment of the caller's buffer + the arrays */
    return round_up(sizeof(hr_als_work)) + ALIGN + layout(NULL, NULL, k, max_row_nnz);
}

hr_als_work *hr_als_init_work(void *buf, size_t bytes, int k, uint64_t max_row_nnz)
{
    if (!buf || k < 1 || k > HR_ALS_MAX_K || bytes < hr_als_estimate_work(k, max_row_nnz)) return NULL;
    uintptr_t p = ((uintptr_t)buf + ALIGN - 1) / ALIGN * ALIGN;
    hr_als_work *w = (hr_als_work *)p;
    memset(w, 0, sizeof *w);
    layout(w, (char *)p + round_up(sizeof *w), k, max_row_nnz);
    return w;
}

hr_als_work *hr_als_create_work(int k, uint64_t max_row_nnz)
{
    size_t n = hr_als_estimate_work(k, max_row_nnz);
    if (n == 0) return NULL;
    void *buf = hr_malloc(n);
    hr_als_work *w = hr_als_init_work(buf, n, k, max_row_nnz);
    /* hr_malloc returns at least 16-byte aligned memory; remember where the block starts so
     * free can find it: the struct sits at the first 64-byte boundary, i.e. within ALIGN bytes. */
    w->owned = (int)((char *)w - (char *)buf) + 1;
    return w;
}

void hr_als_free_work(hr_als_work *w)
{
    if (!w || !w->owned) return;
    hr_free((char *)w - (w->owned - 1));
}

/* ---- explicit ALS-WR with biases --------------------------------------------------------------
 * Row u has m = k + (xbias != NULL) unknowns [x_u, b_u].  Its design rows are a_i = [y_i, 1] and
 * targets t_i = r_ui - mu - b_i.  The bordered matrix
 *      [ A^T A + lambda n_u I   A^T t ]        factored as L L^T, has (L11^-1 A^T t)^T as the last
 *      [ t^T A                   .    ]        row of L: the forward solve comes with the factor,
 * and one transposed triangular solve gives the answer.  A^T A over the y_i comes from
 * hr_als_gram_upper on the gathered rows; the border (sum y_i, sum t_i y_i, n_u, sum t_i) is
 * summed while gathering.  Rows are factored HR_ALS_LANES at a time (hr_als_chol_batch), each
 * matrix in its own lane, so a row's result does not depend on the rows that share its batch.
 * Beyond HR_ALS_BATCH_MAX_K, one row at a time with LAPACK (spotrf then needs the bottom-right
 * corner too: 2 t^T t + 1 keeps its Schur complement positive without changing L11 or z). */

typedef struct explicit_ctx {
    const hr_als_rows *rows;
    const float *Y, *ybias;
    float mu, lambda;
    int k, kp, m; /* m = unknowns per row */
} explicit_ctx;

/* Gathers entries [s, s + nc) of row u into dst (ld kp) with their targets in w->wt, adding to
 * sy and ty, and the targets to *tsum; with C (ld kp), adds their Gram to it in the same call
 * (hr_als_gather_gram_explicit; acc: C holds the row's earlier chunks).  Returns 0 or
 * HR_ERR_ARG (a column out of range). */
static int gather_entries(const explicit_ctx *c, hr_als_work *w, uint64_t u, uint64_t s, uint64_t nc, float *dst,
                          float *sy, float *ty, float *tsum, float *C, int acc, hr_error *err)
{
    const hr_als_rows *R = c->rows;
    const uint64_t ahead = R->rowptr[R->nrows] - (s + nc);
    uint64_t got = C ? hr_als_gather_gram_explicit(dst, c->kp, c->Y, c->k, R->ncols, R->col + s, R->val + s, nc, ahead,
                                                   c->ybias, c->mu, w->wt, sy, ty, tsum, C, c->kp, acc)
                     : hr_als_gather_explicit(dst, c->kp, c->Y, c->k, R->ncols, R->col + s, R->val + s, nc, ahead,
                                              c->ybias, c->mu, w->wt, sy, ty, tsum);
    if (got < nc)
        return hr_error_set(err, HR_ERR_ARG, "explicit ALS: local row %" PRIu64 " refers to column %" PRIu32
                            " but Y has %" PRIu64 " rows", u, R->col[s + got], R->ncols);
    return 0;
}

/* The loss of row u's current x_u, b_u over nc gathered entries (rows A, targets w->wt):
 * sum of (t - b_u - x_u . y)^2. */
static double entries_loss(const explicit_ctx *c, hr_als_work *w, uint64_t u, const float *A, uint64_t nc,
                           const float *X, const float *xbias)
{
    memset(w->vec, 0, sizeof(float) * (size_t)c->kp);
    memcpy(w->vec, X + (size_t)u * c->k, sizeof(float) * (size_t)c->k);
    hr_als_rows_dot(A, nc, c->k, w->vec, w->tmp);
    const float bu = xbias ? xbias[u] : 0.0f;
    double acc = 0.0;
    for (uint64_t j = 0; j < nc; j++) {
        double e = (double)w->wt[j] - (double)bu - (double)w->tmp[j];
        acc += e * e;
    }
    return acc;
}

/* Gathers row u and forms its Gram matrix (C, ld kp, upper) and border sums (sy = sum y,
 * ty = sum t y, *st = sum t, and *tt = sum t^2 when tt is not NULL: only LAPACK's bordered
 * matrix needs it), a chunk at a time, each chunk's gather and Gram in one call (their time:
 * the Gram phase).  With sse: adds the squared errors of row u's entries with its current X
 * (and xbias).  Returns 0 or HR_ERR_ARG (col out of range). */
static int gram_explicit(const explicit_ctx *c, hr_als_work *w, uint64_t u, float *C, float *sy, float *ty, float *st,
                         float *tt, hr_als_stats *stat, const float *X, const float *xbias, double *sse,
                         hr_error *err)
{
    const hr_als_rows *R = c->rows;
    const int kp = c->kp;
    const uint64_t beg = R->rowptr[u], end = R->rowptr[u + 1];
    float s1 = 0.0f, s2 = 0.0f;
    memset(sy, 0, sizeof(float) * (size_t)kp);
    memset(ty, 0, sizeof(float) * (size_t)kp);
    for (uint64_t s = beg; s < end; s += w->gather_rows) {
        uint64_t nc = end - s < w->gather_rows ? end - s : w->gather_rows;
        double t0 = hr_now();
        HR_TRY(gather_entries(c, w, u, s, nc, w->gather, sy, ty, &s1, C, s != beg, err));
        if (tt)
            for (uint64_t j = 0; j < nc; j++) s2 += w->wt[j] * w->wt[j];
        if (sse) *sse += entries_loss(c, w, u, w->gather, nc, X, xbias);
        stat->phase[HR_ALS_PH_GRAM] += hr_now() - t0;
    }
    *st = s1;
    if (tt) *tt = s2;
    return 0;
}

/* The rows of one batch: lane b holds local row row[b], its rating count n[b] and sum of
 * targets st[b]; lanes nl.. are unused (identity systems). */
typedef struct lanes {
    int nl;
    uint64_t row[HR_ALS_LANES];
    float n[HR_ALS_LANES], st[HR_ALS_LANES];
    double trace[HR_ALS_LANES]; /* of the regularised matrix, for the retry shift */
} lanes;

static float *slot_vec(hr_als_work *w, int v, int b) { return w->slotv + ((size_t)v * HR_ALS_LANES + b) * w->kp; }

/* Adds reg[b] to the first nd[b] diagonal elements of lane b of the batch (w->batch, order m;
 * their sum is L->trace[b], the retry shift's scale), then shift[b]; factors the batch and
 * back-solves its right-hand-side row.  Returns the mask of lanes not positive definite. */
static uint32_t regularize_solve(hr_als_work *w, lanes *L, int m, const float *reg, const int *nd, const float *shift)
{
    float *P = w->batch;
    for (int b = 0; b < HR_ALS_LANES; b++) {
        double tr = 0.0;
        for (int i = 0; i < nd[b]; i++) {
            float *d = P + (hr_als_tri(i) + i) * HR_ALS_LANES + b;
            *d += reg[b];
            tr += *d;
            *d += shift[b];
        }
        L->trace[b] = tr;
    }
    uint32_t bad = hr_als_chol_batch(P, m, 1, w->invd);
    hr_als_chol_backsolve(P, m, w->invd, P + hr_als_tri(m) * HR_ALS_LANES);
    return bad;
}

/* Lays the batch out (lanes >= nl get an identity system), adds lambda n + shift[b] to the
 * diagonals, factors it and back-solves.  Returns the mask of lanes that were not positive
 * definite; the solutions sit in the right-hand-side row. */
static uint32_t factor_explicit(const explicit_ctx *c, hr_als_work *w, lanes *L, const float *shift)
{
    const int k = c->k, kp = c->kp, m = c->m;
    float *P = w->batch;
    for (int b = L->nl; b < HR_ALS_LANES; b++) {
        memset(hr_als_slot_mat(w, b), 0, sizeof(float) * (size_t)kp * kp);
        memset(slot_vec(w, 0, b), 0, sizeof(float) * (size_t)kp);
        memset(slot_vec(w, 1, b), 0, sizeof(float) * (size_t)kp);
        L->n[b] = 0.0f;
        L->st[b] = 0.0f;
    }
    hr_als_pack_lanes(w->slots, hr_als_slot_stride(kp), k, NULL, P);
    if (m > k) { /* the bias unknown: its row is [sum y, n] */
        hr_als_pack_row(slot_vec(w, 0, 0), (size_t)kp, k, P + hr_als_tri(k) * HR_ALS_LANES);
        for (int b = 0; b < HR_ALS_LANES; b++) P[(hr_als_tri(k) + k) * HR_ALS_LANES + b] = L->n[b];
    }
    float *rhs = P + hr_als_tri(m) * HR_ALS_LANES;
    hr_als_pack_row(slot_vec(w, 1, 0), (size_t)kp, k, rhs);
    if (m > k)
        for (int b = 0; b < HR_ALS_LANES; b++) rhs[k * HR_ALS_LANES + b] = L->st[b];
    float reg[HR_ALS_LANES];
    int nd[HR_ALS_LANES];
    for (int b = 0; b < HR_ALS_LANES; b++) {
        reg[b] = b < L->nl ? c->lambda * L->n[b] : 1.0f; /* unused lanes: the identity */
        nd[b] = m;
    }
    return regularize_solve(w, L, m, reg, nd, shift);
}

static int not_pd(uint64_t u, uint64_t n, float shift, hr_error *err)
{
    return hr_error_set(err, HR_ERR_NUMERIC,
                        "explicit ALS: the normal matrix of local row %" PRIu64 " (%" PRIu64
                        " ratings) is not positive definite even after adding %g to its diagonal"
                        " (NaN/Inf in the factors or ratings, or lambda = 0 with too few ratings?)",
                        u, n, (double)shift);
}

static int not_finite(uint64_t u, hr_error *err)
{
    return hr_error_set(err, HR_ERR_NUMERIC, "explicit ALS: the solution of local row %" PRIu64
                        " is not finite (NaN/Inf in the factors or ratings?)", u);
}

/* Copies lane b's solution out to X / xbias. */
static int take_lane(const explicit_ctx *c, hr_als_work *w, int b, uint64_t u, float *X, float *xbias, hr_error *err)
{
    const int k = c->k;
    const float *z = w->batch + hr_als_tri(c->m) * HR_ALS_LANES;
    float *x = X + (size_t)u * k;
    for (int j = 0; j < k; j++) x[j] = z[j * HR_ALS_LANES + b];
    if (xbias) xbias[u] = z[k * HR_ALS_LANES + b];
    if (!hr_als_all_finite(x, k) || (xbias && !isfinite(xbias[u]))) return not_finite(u, err);
    return 0;
}

/* ---- short rows: the Woodbury form ---------------------------------------------------------------
 * A row with n ratings has the same ridge mu = lambda n on all its m unknowns (the bias too), so
 *      x = (A^T A + mu I)^-1 A^T t = A^T (A A^T + mu I)^-1 t:
 * an n x n system, K_ij = y_i . y_j (+ 1 with the bias), instead of the m x m one, and no
 * k x k Gram.  Rows of at most w->wn = (k + 1) / 2 ratings take it: their Cholesky is an
 * eighth of the full one or less, and K costs n^2 k / 2 multiply-adds against the Gram's
 * n k^2 / 2.  They are factored HR_ALS_LANES at a time at order wn, a lane's rows past its n
 * an identity with a zero target; the identity's rows and columns add exact zeros to the
 * lane's own chains, so its result does not depend on the batch either.  The solution
 * z = K^-1 t becomes x = sum z_i y_i (and b = sum z_i) from Y's rows again at the flush. */

static float *wslot(hr_als_work *w, int b) { return w->wslots + (size_t)b * hr_als_slot_stride(w->wld); }
static float *wrhs(hr_als_work *w, int b) { return w->wrhs + (size_t)b * w->wld; }

static float *wrows(hr_als_work *w, int b) { return w->wrows + (size_t)b * w->wn * w->kp; }

/* Gathers row u into lane b's rows and forms its K (upper, ld wld) and targets; with sse, adds
 * the squared errors of its current X (and xbias), as gram_explicit does. */
static int form_short(const explicit_ctx *c, hr_als_work *w, uint64_t u, int b, hr_als_stats *stat,
                      const float *X, const float *xbias, double *sse, hr_error *err)
{
    const hr_als_rows *R = c->rows;
    const int k = c->k, kp = c->kp, ld = w->wld;
    const uint64_t beg = R->rowptr[u], n = R->rowptr[u + 1] - beg;
    float *A = wrows(w, b);
    double t0 = hr_now();
    memset(w->sy, 0, sizeof(float) * (size_t)kp); /* the border sums: not needed here */
    memset(w->ty, 0, sizeof(float) * (size_t)kp);
    float st = 0.0f; /* nor the targets' sum */
    HR_TRY(gather_entries(c, w, u, beg, n, A, w->sy, w->ty, &st, NULL, 0, err));
    double t1 = hr_now();
    if (sse) *sse += entries_loss(c, w, u, A, n, X, xbias);
    /* K = A A^T as the Gram of A^T's k rows (each element one FMA chain over the k columns) */
    float *T = w->wtr, *K = wslot(w, b), *t = wrhs(w, b);
    for (int q = 0; q < k; q++) {
        float *tq = T + (size_t)q * ld;
        for (uint64_t i = 0; i < n; i++) tq[i] = A[i * (uint64_t)kp + q];
        for (int i = (int)n; i < ld; i++) tq[i] = 0.0f;
    }
    hr_als_gram_upper(T, (uint64_t)k, ld, (int)n, K, ld, 0);
    for (uint64_t i = 0; i < n; i++) {
        if (c->m > c->k) /* the bias column of ones */
            for (uint64_t j = 0; j <= i; j++) K[j * (uint64_t)ld + i] += 1.0f;
        t[i] = w->wt[i];
    }
    stat->phase[HR_ALS_PH_GATHER] += t1 - t0;
    stat->phase[HR_ALS_PH_GRAM] += hr_now() - t1;
    return 0;
}

/* factor_explicit for a batch of short rows (L->n[b]: lane b's ratings). */
static uint32_t factor_short(const explicit_ctx *c, hr_als_work *w, lanes *L, const float *shift)
{
    const int wn = w->wn, ld = w->wld;
    float *P = w->batch;
    for (int b = 0; b < HR_ALS_LANES; b++) {
        const int n = b < L->nl ? (int)L->n[b] : 0;
        float *K = wslot(w, b), *t = wrhs(w, b);
        for (int i = n; i < wn; i++) {
            for (int j = 0; j < i; j++) K[(size_t)j * ld + i] = 0.0f;
            K[(size_t)i * ld + i] = 1.0f;
            t[i] = 0.0f;
        }
    }
    hr_als_pack_lanes(w->wslots, hr_als_slot_stride(ld), wn, NULL, P);
    float *rhs = P + hr_als_tri(wn) * HR_ALS_LANES;
    hr_als_pack_row(w->wrhs, (size_t)ld, wn, rhs);
    float reg[HR_ALS_LANES];
    int nd[HR_ALS_LANES];
    for (int b = 0; b < HR_ALS_LANES; b++) { /* the padding is an identity already */
        reg[b] = b < L->nl ? c->lambda * L->n[b] : 0.0f;
        nd[b] = b < L->nl ? (int)L->n[b] : 0;
    }
    return regularize_solve(w, L, wn, reg, nd, shift);
}

/* x_u = sum_i z_i y_i (the lane's kept rows) and b_u = sum_i z_i, z in lane b of the
 * right-hand-side row. */
static int take_short(const explicit_ctx *c, hr_als_work *w, int b, uint64_t u, float *X, float *xbias, hr_error *err)
{
    const int k = c->k;
    const uint64_t n = c->rows->rowptr[u + 1] - c->rows->rowptr[u];
    const float *z = w->batch + hr_als_tri(w->wn) * HR_ALS_LANES;
    float *x = X + (size_t)u * k, bsum = 0.0f;
    for (uint64_t i = 0; i < n; i++) {
        w->tmp[i] = z[i * HR_ALS_LANES + b];
        bsum += w->tmp[i];
    }
    memset(w->vec, 0, sizeof(float) * (size_t)c->kp); /* rows_axpy reads and writes kp floats */
    hr_als_rows_axpy(wrows(w, b), n, k, w->tmp, w->vec);
    memcpy(x, w->vec, sizeof(float) * (size_t)k);
    if (xbias) xbias[u] = bsum;
    if (!hr_als_all_finite(x, k) || (xbias && !isfinite(xbias[u]))) return not_finite(u, err);
    return 0;
}

/* Factors a batch of rows in the normal form (wood = 0) or in the Woodbury form (wood = 1) and
 * writes its solutions, then empties the batch (its time: the factor phase, retries included).
 * A lane whose matrix is not positive definite is solved again alone,
 * with a growing diagonal shift (stats->retries), in lane 0 beside identities, so its result
 * does not depend on its batch either. */
static int flush_batch(const explicit_ctx *c, hr_als_work *w, lanes *L, int wood, float *X, float *xbias,
                       hr_als_stats *st, hr_error *err)
{
    const float noshift[HR_ALS_LANES] = { 0 };
    const double t0 = hr_now();
    uint32_t bad = wood ? factor_short(c, w, L, noshift) : factor_explicit(c, w, L, noshift);
    for (int b = 0; b < L->nl; b++)
        if (!(bad >> b & 1u))
            HR_TRY(wood ? take_short(c, w, b, L->row[b], X, xbias, err) : take_lane(c, w, b, L->row[b], X, xbias, err));
    lanes all = *L;
    for (int b = 0; b < all.nl; b++) {
        if (!(bad >> b & 1u)) continue;
        uint64_t u = all.row[b], n = c->rows->rowptr[u + 1] - c->rows->rowptr[u];
        float shift[HR_ALS_LANES] = { 0 };
        double tr = all.trace[b];
        uint32_t fail = 1;
        for (int attempt = 1; fail && attempt <= HR_ALS_MAX_RETRIES; attempt++) {
            lanes one = { .nl = 1, .row = { u }, .n = { (float)n } };
            shift[0] = hr_als_retry_shift(attempt, tr);
            st->retries++;
            if (wood) {
                HR_TRY(form_short(c, w, u, 0, st, NULL, NULL, NULL, err));
                fail = factor_short(c, w, &one, shift) & 1u;
            } else {
                HR_TRY(gram_explicit(c, w, u, hr_als_slot_mat(w, 0), slot_vec(w, 0, 0), slot_vec(w, 1, 0), &one.st[0],
                                     NULL, st, NULL, NULL, NULL, err));
                fail = factor_explicit(c, w, &one, shift) & 1u;
            }
        }
        if (fail) return not_pd(u, n, shift[0], err);
        HR_TRY(wood ? take_short(c, w, 0, u, X, xbias, err) : take_lane(c, w, 0, u, X, xbias, err));
    }
    L->nl = 0;
    st->phase[HR_ALS_PH_FACTOR] += hr_now() - t0;
    return 0;
}

/* k > HR_ALS_BATCH_MAX_K: the bordered matrix in w->mat (ld kp + 2; row-major upper = the
 * column-major lower triangle that spotrf reads), factored by LAPACK. */
static int solve_row_lapack(const explicit_ctx *c, hr_als_work *w, uint64_t u, float *X, float *xbias,
                            hr_als_stats *st, double *sse, hr_error *err)
{
    const int k = c->k, m = c->m, ld = c->kp + 2;
    const uint64_t n = c->rows->rowptr[u + 1] - c->rows->rowptr[u];
    const float reg = c->lambda * (float)n;
    float shift = 0.0f, s1 = 0.0f, s2 = 0.0f;
    double tr = 0.0;
    int info = 1;
    for (int attempt = 0; info != 0 && attempt <= HR_ALS_MAX_RETRIES; attempt++) {
        if (attempt > 0) {
            shift = hr_als_retry_shift(attempt, tr);
            st->retries++;
        }
        HR_TRY(gram_explicit(c, w, u, w->mat, w->sy, w->ty, &s1, &s2, st, X, xbias, attempt == 0 ? sse : NULL, err));
        double t0 = hr_now();
        /* the Gram rows are kp apart; spread them to ld (from the last row up: no overlap) */
        for (int i = k - 1; i > 0; i--) memmove(w->mat + (size_t)i * ld + i, w->mat + (size_t)i * c->kp + i,
                                                sizeof(float) * (size_t)(k - i));
        tr = 0.0;
        for (int i = 0; i < k; i++) {
            float *d = w->mat + (size_t)i * ld + i;
            *d += reg;
            tr += *d;
            *d += shift;
        }
        if (m > k) {
            for (int j = 0; j < k; j++) w->mat[(size_t)j * ld + k] = w->sy[j];
            w->mat[(size_t)k * ld + k] = (float)n + reg;
            tr += (double)n + reg;
            w->mat[(size_t)k * ld + k] += shift;
        }
        for (int j = 0; j < k; j++) w->mat[(size_t)j * ld + m] = w->ty[j];
        if (m > k) w->mat[(size_t)k * ld + m] = s1;
        w->mat[(size_t)m * ld + m] = 2.0f * s2 + 1.0f;
        info = hr_als_potrf(w->mat, ld, m + 1);
        st->phase[HR_ALS_PH_FACTOR] += hr_now() - t0;
    }
    if (info != 0) return not_pd(u, n, shift, err);
    double t0 = hr_now();
    for (int j = 0; j < m; j++) w->vec[j] = w->mat[(size_t)j * ld + m];
    hr_als_solve_lt(w->mat, ld, m, w->vec);
    st->phase[HR_ALS_PH_FACTOR] += hr_now() - t0;
    if (!hr_als_all_finite(w->vec, m)) return not_finite(u, err);
    memcpy(X + (size_t)u * k, w->vec, sizeof(float) * (size_t)k);
    if (xbias) xbias[u] = w->vec[k];
    return 0;
}

int hr_als_solve_explicit(const hr_als_rows *rows, const float *Y, const float *ybias, float mu,
                          const hr_als_opts *o, float *X, float *xbias, hr_als_work *w,
                          hr_als_stats *stats, hr_error *err)
{
    return hr_als_solve_explicit_loss(rows, Y, ybias, mu, o, X, xbias, w, stats, NULL, err);
}

int hr_als_solve_explicit_loss(const hr_als_rows *rows, const float *Y, const float *ybias, float mu,
                               const hr_als_opts *o, float *X, float *xbias, hr_als_work *w,
                               hr_als_stats *stats, double *sse_before, hr_error *err)
{
    HR_TRY(hr_als_check_opts(o, err));
    if (!w || w->k != o->k)
        return hr_error_set(err, HR_ERR_ARG, "explicit ALS: workspace made for k = %d, options say k = %d",
                            w ? w->k : 0, o->k);
    hr_als_stats dummy = { 0 };
    hr_als_stats *st = stats ? stats : &dummy;
    double t0 = hr_now();
    const int k = o->k;
    explicit_ctx c = { rows, Y, ybias, mu, o->lambda, k, w->kp, k + (xbias ? 1 : 0) };
    uint64_t nonempty = 0;
    lanes L = { 0 }, S = { 0 }; /* the batches of rows in the normal and in the Woodbury form */
    for (uint64_t u = 0; u < rows->nrows; u++) {
        float *x = X + (size_t)u * k;
        uint64_t n = rows->rowptr[u + 1] - rows->rowptr[u];
        if (n == 0) {
            memset(x, 0, sizeof(float) * (size_t)k);
            if (xbias) xbias[u] = 0.0f;
            continue;
        }
        nonempty++;
        if (k > HR_ALS_BATCH_MAX_K) {
            HR_TRY(solve_row_lapack(&c, w, u, X, xbias, st, sse_before, err));
            continue;
        }
        const int wood = n <= (uint64_t)w->wn; /* the Woodbury form */
        lanes *B = wood ? &S : &L;
        const int b = B->nl;
        if (wood)
            HR_TRY(form_short(&c, w, u, b, st, X, xbias, sse_before, err));
        else
            HR_TRY(gram_explicit(&c, w, u, hr_als_slot_mat(w, b), slot_vec(w, 0, b), slot_vec(w, 1, b), &L.st[b], NULL,
                                 st, X, xbias, sse_before, err));
        B->n[b] = (float)n;
        B->row[B->nl++] = u;
        if (B->nl == HR_ALS_LANES) HR_TRY(flush_batch(&c, w, B, wood, X, xbias, st, err));
    }
    if (L.nl > 0) HR_TRY(flush_batch(&c, w, &L, 0, X, xbias, st, err));
    if (S.nl > 0) HR_TRY(flush_batch(&c, w, &S, 1, X, xbias, st, err));
    uint64_t nnz = rows->rowptr[rows->nrows] - rows->rowptr[0];
    st->flops += (double)nnz * k * k + (double)nonempty * k * k * k / 3.0;
    st->rows += rows->nrows;
    st->seconds += hr_now() - t0;
    return 0;
}
