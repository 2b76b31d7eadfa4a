/* jobs/train_loop.c — set-up and iterations of distributed ALS.
 *
 * Per half-iteration (solving side A with side B fixed):
 *   implicit: G = allreduce(sum of local B^T B partials)     [one MPI_Allreduce of k*k floats]
 *   exchange B rows (and biases) to where A's blocks need them [allgatherv or alltoallv]
 *   solve A's local rows                                       [solvers/als.h, no MPI]
 * The loss of iteration it-1 comes out of the user solve of iteration it, which gathers the item
 * rows of it-1 anyway (solvers/als.h *_loss): no extra exchange and no extra pass over them.  The
 * last iteration's loss costs one more exchange and pass (hr_train_finish). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/rng.h"
#include "core/timer.h"
#include "jobs/signals.h"
#include "io/jsonl.h"
#include "jobs/train.h"

const char *const hr_train_phase_names[HR_TRAIN_NPHASE] = { "gather", "gram", "factor", "cg", "exchange", "loss" };

/* Initial factors from (seed, external id) only: identical on any rank count. */
static void init_factors(const hr_dict *d, const hr_block *b, int k, uint64_t seed, uint64_t stream, float scale, float *F)
{
    for (uint64_t r = 0; r < b->nrows; r++) {
        uint64_t g = b->gid[r], h;
        if (d->is_int) h = hr_mix64((uint64_t)d->ints[g]);
        else h = hr_hash_bytes(d->bytes + d->offs[g], d->offs[g + 1] - d->offs[g], 7);
        hr_rng rng = hr_rng_stream(seed, stream, h);
        for (int j = 0; j < k; j++) F[r * (uint64_t)k + (uint64_t)j] = scale * (float)hr_rng_normal(&rng);
    }
}

static int setup_side(hr_train *t, hr_train_side *s, hr_block *b, const hr_part *other, uint64_t other_local_rows)
{
    int k = t->opts.k;
    s->block = b;
    HR_TRY(hr_route_build(t->job->comm, other, b, t->exchange, &s->route));
    s->col = hr_malloc((b->nnz ? b->nnz : 1) * sizeof *s->col);
    hr_route_map_cols(&s->route, other, b, s->col);
    s->F = hr_calloc(b->nrows ? b->nrows * (uint64_t)k : 1, sizeof *s->F);
    s->bias = hr_calloc(b->nrows ? b->nrows : 1, sizeof *s->bias);
    /* the solvers read the received rows at random: huge pages spare a TLB miss per row */
    s->recv = hr_malloc_huge((s->route.nrecv ? s->route.nrecv * (uint64_t)t->ky : 1) * sizeof *s->recv);
    if (t->ky < k) s->recv_tail = hr_malloc((s->route.nrecv ? s->route.nrecv * (uint64_t)(k - t->ky) : 1) * sizeof *s->recv_tail);
    s->recv_bias = hr_malloc((s->route.nrecv ? s->route.nrecv : 1) * sizeof *s->recv_bias);
    uint64_t ns = s->route.nsend > other_local_rows ? s->route.nsend : other_local_rows;
    s->send = hr_malloc((ns ? ns * (uint64_t)k : 1) * sizeof *s->send);
    return 0;
}

int hr_train_setup(hr_train *t)
{
    hr_dataset *ds = t->ds;
    int k = t->opts.k;
    t->ky = t->algo == HR_ALGO_IALS && hr_als_split_ky(k) ? hr_als_split_ky(k) : k;
    HR_TRY(setup_side(t, &t->users, &ds->by_user, &ds->ipart, ds->by_item.nrows));
    HR_TRY(setup_side(t, &t->items, &ds->by_item, &ds->upart, ds->by_user.nrows));
    /* ials starts small (as the implicit library); als from N(0, 0.1^2). */
    float scale = t->algo == HR_ALGO_IALS ? 0.01f : 0.1f;
    init_factors(&ds->users, &ds->by_user, k, t->seed, HR_STREAM_USER_INIT, scale, t->users.F);
    init_factors(&ds->items, &ds->by_item, k, t->seed, HR_STREAM_ITEM_INIT, scale, t->items.F);
    double sum = 0;
    uint64_t nnz = ds->by_user.nnz;
    for (uint64_t e = 0; e < ds->by_user.nnz; e++) sum += ds->by_user.val[e];
    HR_TRY(hr_comm_allreduce_sum_f64(t->job->comm, &sum, 1));
    HR_TRY(hr_comm_allreduce_sum_u64(t->job->comm, &nnz, 1));
    t->nnz = nnz;
    t->mu = nnz ? (float)(sum / (double)nnz) : 0.0f;
    uint64_t maxrow = 0;
    for (uint64_t r = 0; r < ds->by_user.nrows; r++)
        if (ds->by_user.ptr[r + 1] - ds->by_user.ptr[r] > maxrow) maxrow = ds->by_user.ptr[r + 1] - ds->by_user.ptr[r];
    for (uint64_t r = 0; r < ds->by_item.nrows; r++)
        if (ds->by_item.ptr[r + 1] - ds->by_item.ptr[r] > maxrow) maxrow = ds->by_item.ptr[r + 1] - ds->by_item.ptr[r];
    /* Size the workspace from the longest row of the whole run, not of this rank: whether a
     * row is gathered in one piece or streamed changes its rounding, and that must not depend
     * on the rank count. */
    HR_TRY(hr_comm_allreduce_max_u64(t->job->comm, &maxrow, 1));
    t->work = hr_als_create_work(k, maxrow);
    t->G = hr_calloc((size_t)k * (size_t)k, sizeof *t->G);
    t->Gd = hr_calloc((size_t)k * (size_t)k, sizeof *t->Gd);
    const char *inj = getenv("HR_TEST_STOP_AFTER_HALVES");
    t->test_stop_after = inj ? atoll(inj) : 0;
    hr_progress("setup      k=%d, exchange users<-items %s (%llu rows/iter; allgather would move %llu), items<-users %s (%llu; %llu)",
                k, hr_exchange_name(t->users.route.mode),
                (unsigned long long)(t->users.route.mode == HR_EXCHANGE_NEEDED ? t->users.route.volume_needed : t->users.route.volume_allgather),
                (unsigned long long)t->users.route.volume_allgather, hr_exchange_name(t->items.route.mode),
                (unsigned long long)(t->items.route.mode == HR_EXCHANGE_NEEDED ? t->items.route.volume_needed : t->items.route.volume_allgather),
                (unsigned long long)t->items.route.volume_allgather);
    return 0;
}

void hr_train_free(hr_train *t)
{
    hr_train_side *sides[2] = { &t->users, &t->items };
    for (int s = 0; s < 2; s++) {
        hr_route_free(&sides[s]->route);
        hr_free(sides[s]->col);
        hr_free(sides[s]->F);
        hr_free(sides[s]->bias);
        hr_free(sides[s]->recv);
        hr_free(sides[s]->recv_tail);
        hr_free(sides[s]->recv_bias);
        hr_free(sides[s]->send);
    }
    hr_als_free_work(t->work);
    hr_free(t->G);
    hr_free(t->Gd);
}

/* Bring side b's rows (and, for implicit, G = B^T B) to side a.  comm_s / comp_s accumulate
 * this rank's times. */
static int gather_other(hr_train *t, hr_train_side *a, hr_train_side *b, hr_als_stats *st, double *comm_s, double *comp_s)
{
    hr_job *job = t->job;
    int k = t->opts.k;
    if (t->algo == HR_ALGO_IALS) {
        double t0 = hr_now();
        hr_als_compute_gram(b->F, b->block->nrows, k, t->Gd, st);
        double t1 = hr_now();
        *comp_s += t1 - t0;
        /* Summed in double: a float sum's rounding would change with the rank count. */
        HR_TRY(hr_comm_allreduce_sum_f64(job->comm, t->Gd, (size_t)k * (size_t)k));
        for (size_t q = 0; q < (size_t)k * (size_t)k; q++) t->G[q] = (float)t->Gd[q];
        *comm_s += hr_now() - t1;
    }
    double t2 = hr_now();
    if (t->ky < k) { /* split (hr_als_solve_implicit_split): the first ky floats of each row, then the rest */
        HR_TRY(hr_route_exchange_split(job->comm, &a->route, b->F, k, t->ky, a->send, a->recv, a->recv_tail));
    } else {
        HR_TRY(hr_route_exchange(job->comm, &a->route, b->F, k, a->send, a->recv));
    }
    if (t->algo == HR_ALGO_ALS) HR_TRY(hr_route_exchange(job->comm, &a->route, b->bias, 1, a->send, a->recv_bias));
    *comm_s += hr_now() - t2;
    return 0;
}

static hr_als_rows side_rows(const hr_train_side *a)
{
    hr_als_rows rows = { a->block->nrows, a->route.nrecv, a->block->ptr, a->col, a->block->val, a->block->gid };
    return rows;
}

/* Sets t->loss and t->rmse (global) from this rank's parts: data (sse or the implicit data
 * term), reg(users), reg(items). */
static int reduce_loss(hr_train *t, double parts[3])
{
    HR_TRY(hr_comm_allreduce_sum_f64(t->job->comm, parts, 3));
    t->loss = parts[0] + parts[1] + parts[2];
    t->rmse = t->algo == HR_ALGO_ALS && t->nnz ? sqrt(parts[0] / (double)t->nnz) : NAN;
    return 0;
}

/* The regularisation parts of the current factors (cheap: one pass over the owned rows). */
static void reg_parts(hr_train *t, double parts[3])
{
    if (t->algo == HR_ALGO_ALS) {
        hr_als_rows urows = side_rows(&t->users), irows = side_rows(&t->items);
        parts[1] = hr_als_reg_explicit(&urows, t->users.F, t->users.bias, &t->opts);
        parts[2] = hr_als_reg_explicit(&irows, t->items.F, t->items.bias, &t->opts);
    } else {
        parts[1] = hr_als_reg_implicit(t->users.F, t->users.block->nrows, &t->opts);
        parts[2] = hr_als_reg_implicit(t->items.F, t->items.block->nrows, &t->opts);
    }
}

/* Objective of the current factors, evaluated on the user side (its loss kernel is the cheap
 * one: each entry reads a row of the received item block) right after the item rows arrived.
 * Sets t->loss and t->rmse (global).  Iterations get it from the user solve instead (which
 * gathers the same rows anyway); this pass serves the last iteration. */
static int current_loss(hr_train *t)
{
    hr_job *job = t->job;
    hr_als_rows rows = side_rows(&t->users);
    double parts[3] = { 0 }, reg = 0; /* data, reg(users), reg(items) */
    int rc;
    if (t->algo == HR_ALGO_ALS)
        rc = hr_als_loss_explicit(&rows, t->users.recv, t->users.recv_bias, t->mu, t->users.F, t->users.bias, &t->opts,
                                  &parts[0], &reg, &job->err);
    else
        rc = hr_als_loss_implicit_split(&rows, t->users.recv, t->users.recv_tail, t->ky, t->G, t->users.F, &t->opts,
                                        &parts[0], &reg, &job->err);
    reg_parts(t, parts);
    HR_TRY(hr_comm_agree(job->comm, rc, &job->err));
    return reduce_loss(t, parts);
}

/* The progress line of iteration `it` (its loss is known only once the next user half has the
 * new item rows, so lines come one half-iteration late). */
static int report(hr_train *t, int64_t it)
{
    if (t->halves == 0 && t->algo == HR_ALGO_ALS) /* resumed at the end of `it`: not run here, no timing */
        hr_progress("iter %3lld   loss %.6e  train-rmse %.4f  (restored from the checkpoint)", (long long)it, t->loss, t->rmse);
    else if (t->halves == 0)
        hr_progress("iter %3lld   loss %.6e  (restored from the checkpoint)", (long long)it, t->loss);
    else if (t->algo == HR_ALGO_ALS)
        hr_progress("iter %3lld   loss %.6e  train-rmse %.4f  %.3fs  %.2f GFLOP/s  %.2f MB exchanged  imbalance %.2f  comm %.0f%%",
                    (long long)it, t->loss, t->rmse, t->seconds, t->gflops, t->bytes / 1e6, t->imbalance, t->comm_pct);
    else
        hr_progress("iter %3lld   loss %.6e  %.3fs  %.2f GFLOP/s  %.2f MB exchanged  imbalance %.2f  comm %.0f%%",
                    (long long)it, t->loss, t->seconds, t->gflops, t->bytes / 1e6, t->imbalance, t->comm_pct);
    if (t->history) {   /* rank 0 only: the same figures as the progress line, one JSON line */
        json_t *l = json_pack("{s:I,s:f,s:b}", "iteration", (json_int_t)it, "loss", isfinite(t->loss) ? t->loss : -1.0,
                              "restored", t->halves == 0);
        if (t->algo == HR_ALGO_ALS) json_object_set_new(l, "train_rmse", json_real(t->rmse));
        if (t->halves != 0) {
            json_object_set_new(l, "seconds", json_real(t->seconds));
            json_object_set_new(l, "gflops", json_real(t->gflops));
            json_object_set_new(l, "bytes_exchanged", json_integer((json_int_t)t->bytes));
            json_object_set_new(l, "imbalance", json_real(t->imbalance));
            json_object_set_new(l, "comm_pct", json_real(t->comm_pct));
            for (int q = 0; q < HR_TRAIN_NPHASE; q++) {
                char key[48];
                snprintf(key, sizeof key, "seconds_%s", hr_train_phase_names[q]);
                json_object_set_new(l, key, json_real(t->phase[q]));
            }
        }
        /* a failed write is held for train.c to agree on after the loop (returning here on
         * rank 0 alone would leave the others in the next collective) */
        if (t->history_rc == 0) t->history_rc = hr_jsonl_write(t->history, l, &t->history_err);
        json_decref(l);
    }
    if (!isfinite(t->loss))
        return hr_error_set(&t->job->err, HR_ERR_NUMERIC, "loss is not finite at iteration %lld (diverged: try a larger --lambda)",
                            (long long)it);
    return 0;
}

/* Solves side a's rows; with loss, also adds the data part of the loss of a's rows as they were
 * (the solvers compute it from the rows they gather: no extra pass). */
static int solve(hr_train *t, hr_train_side *a, hr_als_stats *st, double *comp_s, double *loss)
{
    double t0 = hr_now();
    hr_als_rows rows = side_rows(a);
    int rc;
    if (t->algo == HR_ALGO_ALS)
        rc = hr_als_solve_explicit_loss(&rows, a->recv, a->recv_bias, t->mu, &t->opts, a->F, a->bias, t->work, st, loss,
                                        &t->job->err);
    else
        rc = hr_als_solve_implicit_split(&rows, a->recv, a->recv_tail, t->ky, t->G, &t->opts, a->F, t->work, st, loss,
                                         &t->job->err);
    *comp_s += hr_now() - t0;
    return hr_comm_agree(t->job->comm, rc, &t->job->err);
}

/* Did any rank get a stop signal?  (One allreduce per half-iteration.)  Tests inject one
 * deterministically with HR_TEST_STOP_AFTER_HALVES=N: a stop after the N-th half of this run. */
static int stop_requested(hr_train *t, int *stop)
{
    int64_t s = hr_signals_pending();
    t->halves++;
    if (t->test_stop_after > 0 && t->halves == t->test_stop_after) s = 1;
    HR_TRY(hr_comm_allreduce_max_i64(t->job->comm, &s, 1));
    *stop = s != 0;
    return 0;
}

int hr_train_iterate(hr_train *t, int64_t it, int skip_user_half, int *stopped)
{
    hr_job *job = t->job;
    hr_als_stats st = { 0 };
    double comm_s = 0, comp_s = 0, loss_s = 0, t0 = hr_now();
    uint64_t sent0 = hr_comm_bytes_sent(job->comm);
    int stop = 0;
    *stopped = 0;
    if (!skip_user_half) {
        HR_TRY(gather_other(t, &t->users, &t->items, &st, &comm_s, &comp_s));
        /* users still hold iteration it-1's factors: the user solve measures its loss on the
         * way, and it is reported right after */
        double parts[3] = { 0 }, tl = hr_now();
        if (it > 1) reg_parts(t, parts);
        loss_s += hr_now() - tl;
        HR_TRY(solve(t, &t->users, &st, &comp_s, it > 1 ? &parts[0] : NULL));
        if (it > 1) {
            tl = hr_now();
            HR_TRY(reduce_loss(t, parts));
            loss_s += hr_now() - tl;
            HR_TRY(report(t, it - 1));
        }
        HR_TRY(stop_requested(t, &stop));
        if (stop) {
            *stopped = 1;
            return 0;
        }
    }
    HR_TRY(gather_other(t, &t->items, &t->users, &st, &comm_s, &comp_s));
    HR_TRY(solve(t, &t->items, &st, &comp_s, NULL));
    HR_TRY(stop_requested(t, &stop));
    if (stop) *stopped = 2;
    double wall = hr_now() - t0;
    double f = st.flops;
    HR_TRY(hr_comm_allreduce_sum_f64(job->comm, &f, 1));
    uint64_t u[2] = { hr_comm_bytes_sent(job->comm) - sent0, st.retries };
    HR_TRY(hr_comm_allreduce_sum_u64(job->comm, u, 2));
    double tm[2] = { comp_s, comp_s }, wmax = wall, cmax = comm_s;
    HR_TRY(hr_comm_allreduce_max_f64(job->comm, &tm[0], 1));
    HR_TRY(hr_comm_allreduce_sum_f64(job->comm, &tm[1], 1));
    HR_TRY(hr_comm_allreduce_max_f64(job->comm, &wmax, 1));
    HR_TRY(hr_comm_allreduce_max_f64(job->comm, &cmax, 1));
    double ph[HR_TRAIN_NPHASE];
    for (int q = 0; q < HR_ALS_NPHASE; q++) ph[q] = st.phase[q];
    ph[HR_TRAIN_PH_EXCHANGE] = comm_s;
    ph[HR_TRAIN_PH_LOSS] = loss_s;
    HR_TRY(hr_comm_allreduce_sum_f64(job->comm, ph, HR_TRAIN_NPHASE));
    for (int q = 0; q < HR_TRAIN_NPHASE; q++) t->phase[q] = ph[q] / job->size;
    t->seconds = wmax;
    t->gflops = f / wmax / 1e9;
    t->bytes = u[0];
    t->retries += u[1];
    t->imbalance = tm[1] > 0 ? tm[0] * job->size / tm[1] : 1.0;
    t->comm_pct = 100.0 * cmax / (wmax > 0 ? wmax : 1);
    return 0;
}

int hr_train_finish(hr_train *t, int64_t last)
{
    if (last < 1) return 0;
    double c = 0, p = 0;
    hr_als_stats st = { 0 };
    HR_TRY(gather_other(t, &t->users, &t->items, &st, &c, &p));
    HR_TRY(current_loss(t));
    return report(t, last);
}
