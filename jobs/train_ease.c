/* jobs/train_ease.c — `hpcrec train --algo ease`: EASE on the BLACS grid (solvers/ease.h).
 *
 * Phases, each a progress line with seconds and GFLOP/s and a stop point between them
 * (train_dense.c):
 *   assembly       every rank routes its users' rows to the grid processes in bounded rounds
 *                  (one all-to-all each); the tile owners add the products into G's tiles
 *   factorization  G + lambda I = L L^T (pdpotrf)
 *   inversion      P = (G + lambda I)^-1 (pdpotri)
 *   writing        the model bundle (format 2) written by every rank together
 *                  (jobs/modelwrite.h): block c of HR_MODEL_II_COLS columns is made by rank
 *                  c mod P, which receives that panel of P from the tile owners and turns it
 *                  into B = -P_ij / P_jj (zero diagonal), dense or its top M per column
 * No rank holds G, P or B whole: each holds 8 n^2 / P bytes of tiles and one panel per round.
 *
 * lambda: --lambda, or the default rule (docs/operations.md)
 *     lambda = 200 * mean(diag(X^T X)) / sqrt(users with an interaction)
 * mean(diag) is the sum of squared weights per item (binary: interactions per item), so lambda
 * follows the scale of G; the 1/sqrt(users) and the constant fit the published optima of EASE
 * (MovieLens-20M 500, Netflix 1000, MSD 200: the rule gives 247, 865, 199) and our own sweep on
 * MovieLens 100K (best 200-400: the rule gives 316). */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/timer.h"
#include "jobs/modelwrite.h"
#include "jobs/train.h"
#include "solvers/ease.h"

#define EASE_NB 128                     /* ScaLAPACK block: tests/bench measures the choice */
#define EASE_LAMBDA_C 200.0             /* the default lambda rule's constant */
#define ASSEMBLY_WORDS ((uint64_t)8 << 20) /* u32 words a rank sends (and receives) per round */

typedef struct phase {
    double seconds, flops;
} phase;

static double gflops(const phase *p) { return p->seconds > 0 ? p->flops / p->seconds / 1e9 : 0; }

/* Slowest rank's seconds since t0 (collective). */
static int elapsed(hr_job *job, double t0, double *out)
{
    *out = hr_now() - t0;
    return hr_comm_allreduce_max_f64(job->comm, out, 1);
}

/* G's lower triangle from every rank's users, in rounds of at most ASSEMBLY_WORDS words per
 * rank (ASSEMBLY_WORDS / P per destination; a single user's row always goes in one round). */
int hr_ease_assemble(hr_job *job, const hr_grid *g, const hr_block *b, hr_row_weight w, hr_dmat *G, double *seconds,
                     double *flops, uint64_t *rounds)
{
    const int P = job->size;
    double t0 = hr_now();
    uint64_t maxrow = 0;
    for (uint64_t r = 0; r < b->nrows; r++)
        if (b->ptr[r + 1] - b->ptr[r] > maxrow) maxrow = b->ptr[r + 1] - b->ptr[r];
    /* HR_EASE_ROUND_WORDS: a smaller round (tests use it to exercise many rounds) */
    const char *env = getenv("HR_EASE_ROUND_WORDS");
    const uint64_t words = env && atoll(env) > 0 ? (uint64_t)atoll(env) : ASSEMBLY_WORDS;
    const uint64_t per_dest = words / (uint64_t)P;
    const uint64_t one_user = 2 * (uint64_t)P + 2 * maxrow * (uint64_t)(g->nprow + g->npcol);
    uint64_t cap = words > one_user ? words : one_user, rcap = cap;
    uint32_t *send = hr_malloc(cap * sizeof *send), *recv = hr_malloc(rcap * sizeof *recv);
    uint64_t *sizes = hr_calloc((size_t)P * 4, sizeof *sizes), *tmp = sizes + P, *rcounts = tmp + P, *off = rcounts + P;
    uint32_t **out = hr_malloc((size_t)P * sizeof *out);
    hr_ease_router *rt = hr_ease_router_create(g, maxrow);
    uint64_t r = 0, pairs = 0;
    int rc = 0;
    *rounds = 0;
    for (;;) {
        /* this round's users: r .. r_end-1 */
        memset(sizes, 0, (size_t)P * sizeof *sizes);
        uint64_t r_end = r, total = 0;
        while (r_end < b->nrows) {
            memset(tmp, 0, (size_t)P * sizeof *tmp);
            hr_ease_route_size(rt, b->idx + b->ptr[r_end], b->ptr[r_end + 1] - b->ptr[r_end], tmp);
            int fits = 1;
            for (int d = 0; d < P && fits; d++) fits = sizes[d] + tmp[d] <= per_dest;
            if (!fits && total > 0) break;
            for (int d = 0; d < P; d++) { sizes[d] += tmp[d]; total += tmp[d]; }
            r_end++;
        }
        off[0] = 0;
        for (int d = 0; d < P; d++) {
            if (d) off[d] = off[d - 1] + sizes[d - 1];
            out[d] = send + off[d];
        }
        for (uint64_t u = r; u < r_end; u++)
            hr_ease_route_pack(rt, b->idx + b->ptr[u], w == HR_ROWS_VALUE ? b->val + b->ptr[u] : NULL, b->ptr[u + 1] - b->ptr[u], out);
        r = r_end;
        rc = hr_comm_alltoall_u64(job->comm, sizes, rcounts);
        if (rc < 0) break;
        uint64_t in = 0;
        for (int s = 0; s < P; s++) in += rcounts[s];
        if (in > rcap) {   /* only when some rank sent one very long row */
            hr_free(recv);
            recv = hr_malloc((rcap = in) * sizeof *recv);
        }
        rc = hr_comm_alltoallv_into(job->comm, send, sizes, recv, rcounts, sizeof *recv);
        if (rc == 0) rc = hr_ease_accumulate(G, recv, in, &pairs, &job->err);
        rc = hr_comm_agree(job->comm, rc, &job->err);
        if (rc < 0) break;
        ++*rounds;
        int64_t left = r < b->nrows;
        rc = hr_comm_allreduce_max_i64(job->comm, &left, 1);
        if (rc < 0 || !left) break;
    }
    hr_ease_router_free(rt);
    hr_free(out);
    hr_free(sizes);
    hr_free(send);
    hr_free(recv);
    HR_TRY(rc);
    double f = 2.0 * (double)pairs;
    HR_TRY(hr_comm_allreduce_sum_f64(job->comm, &f, 1));
    *flops = f;
    return elapsed(job, t0, seconds);
}

/* B's column blocks, made for the collective writer (jobs/modelwrite.h): in each round rank q
 * packs block blocks[q]; every rank sends each packer its stored entries of P's columns (and,
 * by symmetry, rows) of that block, the packer assembles the dense panel of P, turns it into
 * B's columns (B_ij = -P_ij / P_jj, zero diagonal) and, with --ease-topm, keeps the M largest
 * per column.  The one place that makes B. */
typedef struct ease_out {
    hr_job *job;
    const hr_grid *g;
    const hr_dmat *P;
    const double *diag;
    uint32_t topm;
    int64_t n, W;
    double *send, *recv, *panel;
    float *B, *sval;
    uint64_t *sptr, *scount, *rcount;
    uint32_t *srow;
    uint64_t stored;     /* weights of the blocks this rank made, each counted once */
    int64_t counted;     /* the last block counted (blocks come in increasing order per pass) */
} ease_out;

static void block_cols(const ease_out *e, uint64_t c, int64_t *c0, int64_t *c1)
{
    *c0 = (int64_t)c * e->W;
    *c1 = *c0 + e->W < e->n ? *c0 + e->W : e->n;
}

static int ease_make(void *ctx, const uint64_t *blocks, hr_iiblock *out, hr_error *err)
{
    ease_out *e = ctx;
    const hr_grid *g = e->g;
    const int P = e->job->size, me = e->job->rank;
    int64_t c0, c1;
    double *s = e->send;
    for (int q = 0; q < P; q++) {   /* my entries for each packer */
        e->scount[q] = 0;
        if (blocks[q] == UINT64_MAX) continue;
        block_cols(e, blocks[q], &c0, &c1);
        e->scount[q] = hr_ease_panel_count(g, e->n, g->myrow, g->mycol, c0, c1);
        hr_ease_panel_pack(e->P, c0, c1, s);
        s += e->scount[q];
    }
    for (int q = 0; q < P; q++) {
        e->rcount[q] = 0;
        if (blocks[me] == UINT64_MAX) continue;
        block_cols(e, blocks[me], &c0, &c1);
        e->rcount[q] = hr_ease_panel_count(g, e->n, q / g->npcol, q % g->npcol, c0, c1);
    }
    HR_TRY(hr_comm_alltoallv_into(e->job->comm, e->send, e->scount, e->recv, e->rcount, sizeof *e->recv));
    if (blocks[me] == UINT64_MAX) return 0;
    block_cols(e, blocks[me], &c0, &c1);
    const double *in = e->recv;
    for (int q = 0; q < P; q++) {
        hr_ease_panel_unpack(g, e->n, q / g->npcol, q % g->npcol, c0, c1, in, e->panel);
        in += e->rcount[q];
    }
    hr_ease_weights(e->panel, e->n, c0, c1, e->diag, e->B);
    *out = (hr_iiblock){ (uint64_t)e->n, (uint64_t)c0, (uint64_t)c1, (uint64_t)e->n * (uint64_t)(c1 - c0), 1, NULL, NULL, e->B };
    if (e->topm) {
        out->nnz = hr_iiblock_topm(e->B, (uint64_t)e->n, (uint64_t)(c1 - c0), e->topm, e->sptr, e->srow, e->sval);
        out->dense = 0;
        out->ptr = e->sptr;
        out->row = e->srow;
        out->val = e->sval;
    }
    if ((int64_t)blocks[me] > e->counted) {
        e->stored += out->nnz;
        e->counted = (int64_t)blocks[me];
    }
    (void)err;
    return 0;
}

/* The model: dictionaries and B's blocks, written by every rank together (format 2). */
static int write_model(hr_job *job, const hr_grid *g, const hr_dmat *P, const double *diag, const hr_dense_opts *o,
                       const hr_dataset *ds, json_t *info, phase *ph, uint64_t *stored, uint64_t *bytes)
{
    double t0 = hr_now();
    const int64_t n = P->n, W = HR_MODEL_II_COLS;
    const uint64_t nblocks = ((uint64_t)n + (uint64_t)W - 1) / (uint64_t)W;
    hr_model m;
    memset(&m, 0, sizeof m);
    m.kind = HR_MODEL_ITEMITEM;
    snprintf(m.algo, sizeof m.algo, "ease");
    m.n_users = ds->users.n;
    m.n_items = ds->items.n;
    m.users = ds->users;   /* borrowed: a header for the writer */
    m.items = ds->items;
    m.partial = 1;
    m.row_weight = o->weight;
    m.ii_cols = (uint32_t)W;
    m.ii_topm = o->topm;
    ease_out e;
    memset(&e, 0, sizeof e);
    e.job = job;
    e.g = g;
    e.P = P;
    e.diag = diag;
    e.topm = o->topm;
    e.n = n;
    e.W = W;
    e.counted = -1;
    /* buffers sized once for the largest round: what this rank sends, and receives as a packer */
    uint64_t smax = 0, rmax = 0;
    for (uint64_t t = 0; t * (uint64_t)job->size < nblocks; t++) {
        uint64_t snd = 0;
        for (int q = 0; q < job->size; q++) {
            uint64_t c = t * (uint64_t)job->size + (uint64_t)q, rcv = 0;
            if (c >= nblocks) break;
            int64_t c0, c1;
            block_cols(&e, c, &c0, &c1);
            snd += hr_ease_panel_count(g, n, g->myrow, g->mycol, c0, c1);
            for (int s = 0; q == job->rank && s < job->size; s++) rcv += hr_ease_panel_count(g, n, s / g->npcol, s % g->npcol, c0, c1);
            if (rcv > rmax) rmax = rcv;
        }
        if (snd > smax) smax = snd;
    }
    const int64_t w = W < n ? W : n;
    e.send = hr_malloc((smax + 1) * sizeof *e.send);
    e.recv = hr_malloc((rmax + 1) * sizeof *e.recv);
    e.panel = hr_malloc(((size_t)n * (size_t)w + 1) * sizeof *e.panel);
    e.B = hr_malloc(((size_t)n * (size_t)w + 1) * sizeof *e.B);
    e.scount = hr_calloc((size_t)job->size, sizeof *e.scount);
    e.rcount = hr_calloc((size_t)job->size, sizeof *e.rcount);
    if (o->topm) {
        uint64_t keep = (uint64_t)(o->topm < (uint64_t)n ? o->topm : (uint64_t)n) * (uint64_t)w;
        e.sptr = hr_malloc(((size_t)w + 1) * sizeof *e.sptr);
        e.srow = hr_malloc((keep + 1) * sizeof *e.srow);
        e.sval = hr_malloc((keep + 1) * sizeof *e.sval);
    }
    hr_model_src src;
    memset(&src, 0, sizeof src);
    src.users = &ds->users;
    src.items = &ds->items;
    src.item_item = (hr_ii_src){ ease_make, &e };
    hr_model_write_stats ws = { 0, 0, 0, 0 };
    int rc = hr_model_write(job, o->out, &m, &src, info, &ws);
    *stored = e.stored;
    hr_free(e.send);
    hr_free(e.recv);
    hr_free(e.panel);
    hr_free(e.B);
    hr_free(e.scount);
    hr_free(e.rcount);
    hr_free(e.sptr);
    hr_free(e.srow);
    hr_free(e.sval);
    HR_TRY(rc);
    HR_TRY(hr_comm_allreduce_sum_u64(job->comm, stored, 1));
    *bytes = ws.bytes;
    ph->flops = 0;
    return elapsed(job, t0, &ph->seconds);
}

/* Bytes a rank needs at its peak: the process and its dataset block, its tiles, the assembly
 * buffers, and the writer's round (docs/operations.md has the formula): what it sends and
 * receives of P's panels (8 n W each), the panel (8 n W), B's block (4 n W), its encoding and
 * its compressed form (4 n W each).  The same on every rank: no rank gathers the model. */
#define PROCESS_BASELINE ((uint64_t)32 << 20)   /* MPI, libraries, dictionaries of a small run */
static uint64_t memory_estimate(const hr_grid *g, const hr_block *b, uint64_t n, uint64_t maxrow)
{
    uint64_t W = HR_MODEL_II_COLS < n ? HR_MODEL_II_COLS : n;
    uint64_t one_user = 2 * (uint64_t)g->size + 2 * maxrow * (uint64_t)(g->nprow + g->npcol);
    uint64_t words = ASSEMBLY_WORDS > one_user ? ASSEMBLY_WORDS : one_user;
    uint64_t bytes = PROCESS_BASELINE + b->nnz * 16 + b->nrows * 12 + hr_dmat_bytes(g, (int64_t)n, (int64_t)n) + 2 * 4 * words + 8 * n;
    return bytes + 36 * n * W;
}

int hr_train_ease(hr_job *job, const hr_dense_opts *o, hr_dataset *ds, uint64_t nnz)
{
    double t0 = hr_now();
    const hr_block *b = &ds->by_user;
    const uint64_t n = ds->items.n;
    if (n >= (uint64_t)INT_MAX)
        return hr_error_set(&job->err, HR_ERR_ARG, "%s: %llu items: EASE's ScaLAPACK indexing stops at 2^31 - 1", o->data,
                            (unsigned long long)n);
    hr_grid *g = NULL;
    hr_dmat G;
    memset(&G, 0, sizeof G);
    double *diag = NULL;
    json_t *info = NULL;
    int rc = hr_grid_create(job->comm, 0, 0, o->block ? o->block : EASE_NB, o->block ? o->block : EASE_NB, &g, &job->err);
    rc = hr_comm_agree(job->comm, rc, &job->err);
    if (rc < 0) return rc;
    int stops = 0;
    uint64_t maxrow = 0, sent0 = hr_comm_bytes_sent(job->comm), stored = 0, rounds = 0;
    for (uint64_t r = 0; r < b->nrows; r++)
        if (b->ptr[r + 1] - b->ptr[r] > maxrow) maxrow = b->ptr[r + 1] - b->ptr[r];
    HR_CHECK(hr_comm_allreduce_max_u64(job->comm, &maxrow, 1));
    char what[128];
    snprintf(what, sizeof what, "EASE on %llu items (%d x %d grid)", (unsigned long long)n, g->nprow, g->npcol);
    const uint64_t est = memory_estimate(g, b, n, maxrow);
    uint64_t est_all[2] = { job->rank == 0 ? est : 0, job->rank == 0 ? 0 : est };   /* rank 0, the largest other */
    uint64_t model_bytes = 0;
    HR_CHECK(hr_comm_allreduce_max_u64(job->comm, est_all, 2));
    HR_CHECK(hr_dense_check_memory(job, est, what, "8 n^2 / P + buffers"));
    rc = hr_dmat_create(&G, g, (int64_t)n, (int64_t)n, &job->err);
    HR_CHECK(hr_comm_agree(job->comm, rc, &job->err));

    /* lambda: given, or the default rule (top of the file) */
    double lambda = o->lambda, sq[2] = { 0, 0 };
    for (uint64_t e = 0; e < b->nnz; e++) sq[0] += o->weight == HR_ROWS_VALUE ? (double)b->val[e] * b->val[e] : 1.0;
    for (uint64_t r = 0; r < b->nrows; r++) sq[1] += b->ptr[r + 1] > b->ptr[r];
    HR_CHECK(hr_comm_allreduce_sum_f64(job->comm, sq, 2));
    if (lambda < 0) lambda = EASE_LAMBDA_C * (sq[0] / (double)n) / sqrt(sq[1] > 1 ? sq[1] : 1);

    phase pa, pf, pi, pw;
    HR_CHECK(hr_ease_assemble(job, g, b, o->weight, &G, &pa.seconds, &pa.flops, &rounds));
    hr_progress("ease       assembly: G = X^T X of %llu items (%s weights) on a %d x %d grid, NB %d, from %llu interactions in %llu "
                "round%s: %.2fs, %.2f GFLOP/s",
                (unsigned long long)n, o->weight == HR_ROWS_VALUE ? "value" : "binary", g->nprow, g->npcol, g->nb,
                (unsigned long long)nnz, (unsigned long long)rounds, rounds == 1 ? "" : "s", pa.seconds, gflops(&pa));
    HR_CHECK(hr_dense_stop_point(job, &stops, "ease", "the Gram assembly"));

    double tf = hr_now();
    hr_ease_regularize(&G, lambda);
    int64_t bad = -1;
    rc = hr_ease_factor(&G, &bad, &job->err);
    if (rc == HR_ERR_NUMERIC && bad >= 0) {
        char key[512];
        hr_dict_format(&ds->items, (uint64_t)bad, key, sizeof key);
        rc = hr_error_set(&job->err, HR_ERR_NUMERIC,
                          "G + lambda I is not positive definite (lambda = %g): the leading minor fails at item '%s' (%lld of %llu, "
                          "%llu training interactions); raise --lambda (EASE needs a lambda of the order of the interactions per "
                          "item, 10^2 - 10^3 on large catalogues)",
                          lambda, key, (long long)bad + 1, (unsigned long long)n, (unsigned long long)ds->items.nnz[bad]);
    }
    HR_CHECK(hr_comm_agree(job->comm, rc, &job->err));
    HR_CHECK(elapsed(job, tf, &pf.seconds));
    pf.flops = hr_ease_factor_flops((int64_t)n);
    hr_progress("ease       factorization: G + lambda I = L L^T (pdpotrf, lambda %g): %.2fs, %.2f GFLOP/s", lambda, pf.seconds, gflops(&pf));
    HR_CHECK(hr_dense_stop_point(job, &stops, "ease", "the factorization"));

    double ti = hr_now();
    rc = hr_ease_invert(&G, &job->err);
    HR_CHECK(hr_comm_agree(job->comm, rc, &job->err));
    HR_CHECK(elapsed(job, ti, &pi.seconds));
    pi.flops = hr_ease_invert_flops((int64_t)n);
    hr_progress("ease       inversion: P = (G + lambda I)^-1 (pdpotri): %.2fs, %.2f GFLOP/s", pi.seconds, gflops(&pi));
    HR_CHECK(hr_dense_stop_point(job, &stops, "ease", "the inversion"));

    diag = hr_malloc((n + 1) * sizeof *diag);
    HR_CHECK(hr_ease_diag(&G, diag));
    char grid[32];
    snprintf(grid, sizeof grid, "%dx%d", g->nprow, g->npcol);
    info = json_pack("{s:{s:f,s:s,s:s,s:i,s:i,s:s},s:o,s:i,s:i}", "params", "lambda", lambda, "lambda_rule",
                     o->lambda < 0 ? "200 mean diag(X^T X) / sqrt(users)" : "given", "ease_weight", o->weight == HR_ROWS_VALUE ? "value" : "binary",
                     "top_m", (int)o->topm, "block_size", g->nb, "grid", grid, "lineage", hr_train_lineage(job, o->data, ds, nnz),
                     "iterations", 1, "ranks", job->size);
    HR_CHECK(write_model(job, g, &G, diag, o, ds, info, &pw, &stored, &model_bytes));
    hr_progress("ease       B: %llu column blocks of %d (%s, %llu weights stored) written to %s by %d ranks (%.1f MB): %.2fs",
                (unsigned long long)((n + HR_MODEL_II_COLS - 1) / HR_MODEL_II_COLS), HR_MODEL_II_COLS,
                o->topm ? "top-M per column" : "dense", (unsigned long long)stored, o->out, job->size, (double)model_bytes / 1e6,
                pw.seconds);

    double total = hr_now() - t0, bytes = (double)(hr_comm_bytes_sent(job->comm) - sent0);
    HR_CHECK(hr_comm_allreduce_max_f64(job->comm, &total, 1));
    HR_CHECK(hr_comm_allreduce_sum_f64(job->comm, &bytes, 1));
    double mean_rss, max_rss = hr_job_peak_rss_mb(job, &mean_rss);
    hr_job_set_str(job, "algo", "ease");
    hr_job_set_int(job, "factors", 0);
    hr_job_set_int(job, "iterations", 1);
    hr_job_set_real(job, "seconds_per_iteration", total);
    hr_job_set_real(job, "gflops", total > 0 ? (pa.flops + pf.flops + pi.flops) / total / 1e9 : 0);
    hr_job_set_real(job, "bytes_exchanged_per_iteration", bytes);
    hr_job_set_int(job, "users", (int64_t)ds->users.n);
    hr_job_set_int(job, "items", (int64_t)n);
    hr_job_set_int(job, "interactions", (int64_t)nnz);
    hr_job_set_real(job, "lambda", lambda);
    hr_job_set_str(job, "ease_weight", o->weight == HR_ROWS_VALUE ? "value" : "binary");
    hr_job_set_int(job, "ease_topm", o->topm);
    hr_job_set_int(job, "ease_weights_stored", (int64_t)stored);
    hr_job_set_int(job, "grid_rows", g->nprow);
    hr_job_set_int(job, "grid_cols", g->npcol);
    hr_job_set_int(job, "block_size", g->nb);
    hr_job_set_int(job, "assembly_rounds", (int64_t)rounds);
    hr_job_set_real(job, "assembly_seconds", pa.seconds);
    hr_job_set_real(job, "assembly_gflops", gflops(&pa));
    hr_job_set_real(job, "factorization_seconds", pf.seconds);
    hr_job_set_real(job, "factorization_gflops", gflops(&pf));
    hr_job_set_real(job, "inversion_seconds", pi.seconds);
    hr_job_set_real(job, "inversion_gflops", gflops(&pi));
    hr_job_set_real(job, "write_seconds", pw.seconds);
    hr_job_set_int(job, "model_bytes", (int64_t)model_bytes);
    hr_job_set_real(job, "memory_estimate_mb_rank0", (double)est_all[0] / 1048576.0);
    hr_job_set_real(job, "memory_estimate_mb_other", (double)est_all[1] / 1048576.0);
    hr_progress("train      ease done: %.2fs total; peak memory per rank %.0f MB (mean %.0f)", total, max_rss, mean_rss);
fail:
    json_decref(info);
    hr_free(diag);
    hr_dmat_free(&G);
    hr_grid_free(g);
    return rc;
}
