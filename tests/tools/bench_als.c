/* tests/tools/bench_als.c — single-thread micro-benchmark of the ALS kernels (solvers/als.h).
 *
 *   build/tools/bench_als [--scale S] [--seed N] [--only explicit|implicit] [--threads T]
 *
 * Times, on one core (OpenBLAS forced to one thread):
 *   1. SGEMM 2048^3: the machine's peak, measured in the same run as the kernels;
 *   2. explicit ALS-WR with biases, k = 64, on synthetic ratings: 100k users x 25k items, 5M
 *      ratings (power-law item popularity, exponential user activity), both half-iterations;
 *   3. implicit ALS, k = 64, on synthetic counts: 200k users + 50k items (250k rows), 5M
 *      interactions, Gram + 3-step CG, both half-iterations (= one full iteration), plus one
 *      Cholesky half-iteration for comparison.
 * Each line gives config, seconds, useful GFLOP/s (the formulas of solvers/als.h) and % of the
 * SGEMM peak, and PASSED/FAILED: the half-iteration must lower the objective it minimises (the
 * local loss before and after, from the loss functions; their time is printed apart).  A
 * checksum of the final factors is printed: it must not change with --threads (OpenBLAS
 * threads; default 1) nor between runs.  --scale shrinks both data sets (rows and interactions)
 * for a quick run.  No MPI: this times the per-rank kernels only. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/hash.h"
#include "core/rng.h"
#include "core/timer.h"
#include "solvers/als.h"
#include "solvers/blas.h"

/* The solvers take a float G; the Gram is accumulated in double (hr_als_compute_gram). */
static void gram_float(const float *Y, uint64_t n, int k, float *G, hr_als_stats *st)
{
    double *Gd = malloc(sizeof *Gd * (size_t)k * (size_t)k);
    hr_als_compute_gram(Y, n, k, Gd, st);
    for (size_t q = 0; q < (size_t)k * (size_t)k; q++) G[q] = (float)Gd[q];
    free(Gd);
}

#ifndef HR_GIT
#define HR_GIT "unknown"
#endif

typedef struct csr {
    uint64_t nrows, ncols, nnz, max_row;
    uint64_t *rowptr;
    uint32_t *col;
    float *val;
} csr;

static void csr_free(csr *m)
{
    hr_free(m->rowptr);
    hr_free(m->col);
    hr_free(m->val);
}

/* Draws nnz (row, col) pairs: row activity ~ exponential (every row >= 1 entry), column
 * popularity ~ power law p(i) ∝ (i + 10)^-0.9 (head items hold a few % each, a long tail).
 * Values: ratings 1..5 (explicit) or counts 1 + geometric (implicit). */
static csr make_csr(uint64_t nrows, uint64_t ncols, uint64_t nnz, int implicit, uint64_t seed)
{
    csr m = { .nrows = nrows, .ncols = ncols };
    hr_rng r = hr_rng_stream(seed, HR_STREAM_GEN, implicit);
    double *cdf = hr_malloc(sizeof(double) * ncols);
    double acc = 0.0;
    for (uint64_t i = 0; i < ncols; i++) cdf[i] = acc += pow((double)i + 10.0, -0.9);
    m.rowptr = hr_malloc(sizeof(uint64_t) * (nrows + 1));
    m.rowptr[0] = 0;
    const double mean = (double)nnz / (double)nrows;
    for (uint64_t u = 0; u < nrows; u++) {
        uint64_t n = 1 + (uint64_t)(-log(1.0 - hr_rng_uniform(&r)) * (mean - 1.0));
        m.rowptr[u + 1] = m.rowptr[u] + n;
    }
    m.nnz = m.rowptr[nrows];
    m.col = hr_malloc(sizeof(uint32_t) * m.nnz);
    m.val = hr_malloc(sizeof(float) * m.nnz);
    for (uint64_t e = 0; e < m.nnz; e++) {
        double x = hr_rng_uniform(&r) * acc;
        uint64_t lo = 0, hi = ncols - 1;
        while (lo < hi) {
            uint64_t mid = (lo + hi) / 2;
            if (cdf[mid] < x) lo = mid + 1;
            else hi = mid;
        }
        /* scatter popularity ranks over ids so popular items are not all in the first rows */
        m.col[e] = (uint32_t)((lo * 2654435761u) % ncols);
        if (implicit) {
            float c = 1.0f;
            while (hr_rng_uniform(&r) < 0.5 && c < 100.0f) c += 1.0f;
            m.val[e] = c;
        } else {
            m.val[e] = (float)(1 + hr_rng_below(&r, 5));
        }
    }
    for (uint64_t u = 0; u < nrows; u++) {
        uint64_t n = m.rowptr[u + 1] - m.rowptr[u];
        if (n > m.max_row) m.max_row = n;
    }
    hr_free(cdf);
    return m;
}

/* The transpose (item-major view of the same entries), by counting sort: stable, deterministic. */
static csr transpose(const csr *a)
{
    csr t = { .nrows = a->ncols, .ncols = a->nrows, .nnz = a->nnz };
    t.rowptr = hr_calloc(t.nrows + 1, sizeof(uint64_t));
    t.col = hr_malloc(sizeof(uint32_t) * t.nnz);
    t.val = hr_malloc(sizeof(float) * t.nnz);
    for (uint64_t e = 0; e < a->nnz; e++) t.rowptr[a->col[e] + 1]++;
    for (uint64_t i = 0; i < t.nrows; i++) {
        if (t.rowptr[i + 1] > t.max_row) t.max_row = t.rowptr[i + 1];
        t.rowptr[i + 1] += t.rowptr[i];
    }
    uint64_t *next = hr_malloc(sizeof(uint64_t) * t.nrows);
    memcpy(next, t.rowptr, sizeof(uint64_t) * t.nrows);
    for (uint64_t u = 0; u < a->nrows; u++)
        for (uint64_t e = a->rowptr[u]; e < a->rowptr[u + 1]; e++) {
            uint64_t d = next[a->col[e]]++;
            t.col[d] = (uint32_t)u;
            t.val[d] = a->val[e];
        }
    hr_free(next);
    return t;
}

static hr_als_rows view(const csr *m) { return (hr_als_rows){ m->nrows, m->ncols, m->rowptr, m->col, m->val, NULL }; }

static float *random_factors(uint64_t n, int k, uint64_t seed, double scale)
{
    float *f = hr_malloc(sizeof(float) * n * (uint64_t)k);
    hr_rng r = hr_rng_stream(seed, HR_STREAM_USER_INIT, (uint64_t)k);
    for (uint64_t i = 0; i < n * (uint64_t)k; i++) f[i] = (float)(scale * hr_rng_normal(&r));
    return f;
}

static double sgemm_peak(void)
{
    const int n = 2048;
    float *a = random_factors((uint64_t)n, n, 1, 1.0), *b = random_factors((uint64_t)n, n, 2, 1.0);
    float *c = hr_malloc(sizeof(float) * (size_t)n * n);
    double best = 1e30;
    for (int rep = 0; rep < 3; rep++) {
        double t = hr_now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
        t = hr_now() - t;
        if (t < best) best = t;
    }
    hr_free(a);
    hr_free(b);
    hr_free(c);
    return 2.0 * n * n * (double)n / best / 1e9;
}

/* CPU seconds of this thread: on a shared machine the wall time of a long run includes the time
 * other processes held the core; the CPU time does not (both are printed). */
static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
static double cpu_acc; /* CPU seconds of the solver calls since the last report */

static void report(const char *what, const hr_als_stats *st, double peak, int ok)
{
    double gf = st->flops / st->seconds / 1e9;
    printf("%-44s %7.3f s %7.1f GFLOP/s %5.1f%% of SGEMM  retries %" PRIu64 "  %s\n", what, st->seconds, gf,
           100.0 * gf / peak, st->retries, ok ? "PASSED" : "FAILED");
    printf("    phases: gather %.3f s, gram %.3f s, factor %.3f s, cg %.3f s; CPU time %.3f s = %.1f GFLOP/s\n",
           st->phase[HR_ALS_PH_GATHER], st->phase[HR_ALS_PH_GRAM], st->phase[HR_ALS_PH_FACTOR], st->phase[HR_ALS_PH_CG],
           cpu_acc, st->flops / cpu_acc / 1e9);
    cpu_acc = 0.0;
}

static int die(const hr_error *err)
{
    fprintf(stderr, "bench_als: %s\n", err->msg);
    return 1;
}

int main(int argc, char **argv)
{
    double scale = 1.0;
    uint64_t seed = 42;
    int threads = 1, run_explicit = 1, run_implicit = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--scale") && i + 1 < argc) scale = atof(argv[++i]);
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc) seed = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--only") && i + 1 < argc) {
            i++;
            run_explicit = !strcmp(argv[i], "explicit");
            run_implicit = !strcmp(argv[i], "implicit");
        } else {
            fprintf(stderr, "usage: bench_als [--scale S (0 < S <= 1)] [--seed N] [--only explicit|implicit]"
                            " [--threads T]\n");
            return 2;
        }
    }
    if (!(scale > 0.0 && scale <= 1.0) || threads < 1 || !(run_explicit || run_implicit)) {
        fprintf(stderr, "bench_als: --scale must be in (0, 1], --threads >= 1, --only explicit or implicit\n");
        return 2;
    }
    openblas_set_num_threads(threads);
    const int k = 64;
    int failed = 0;
    hr_error err = { 0 };
    double peak = sgemm_peak();
    printf("bench_als git %s, %d OpenBLAS thread(s), k = %d, scale %.3g, seed %" PRIu64 "\n", HR_GIT, threads, k,
           scale, seed);
    printf("%-44s %7s   %7.1f GFLOP/s\n", "sgemm 2048^3 (peak)", "", peak);

    /* ---- explicit ---- */
    if (run_explicit) {
        csr users = make_csr((uint64_t)(100000 * scale), (uint64_t)(25000 * scale), (uint64_t)(5e6 * scale), 0, seed);
        csr items = transpose(&users);
        hr_als_opts o;
        hr_als_default_opts(&o);
        o.k = k;
        hr_als_work *w = hr_als_create_work(k, users.max_row > items.max_row ? users.max_row : items.max_row);
        float *X = random_factors(users.nrows, k, seed + 1, 0.1), *Y = random_factors(items.nrows, k, seed + 2, 0.1);
        float *xb = hr_calloc(users.nrows, sizeof(float)), *yb = hr_calloc(items.nrows, sizeof(float));
        double mu = 0.0;
        for (uint64_t e = 0; e < users.nnz; e++) mu += users.val[e];
        mu /= (double)users.nnz;
        printf("explicit: %" PRIu64 " x %" PRIu64 ", %" PRIu64 " ratings, longest user %" PRIu64 ", item %" PRIu64 "\n",
               users.nrows, items.nrows, users.nnz, users.max_row, items.max_row);
        for (int half = 0; half < 2; half++) {
            const csr *m = half ? &items : &users;
            hr_als_rows R = view(m);
            float *F = half ? Y : X, *Fb = half ? yb : xb, *O = half ? X : Y, *Ob = half ? xb : yb;
            double sse0, reg0, sse1, reg1;
            if (hr_als_loss_explicit(&R, O, Ob, (float)mu, F, Fb, &o, &sse0, &reg0, &err)) return die(&err);
            hr_als_stats st = { 0 };
            double c0 = cpu_now();
            if (hr_als_solve_explicit(&R, O, Ob, (float)mu, &o, F, Fb, w, &st, &err)) return die(&err);
            cpu_acc += cpu_now() - c0;
            double tl = hr_now();
            if (hr_als_loss_explicit(&R, O, Ob, (float)mu, F, Fb, &o, &sse1, &reg1, &err)) return die(&err);
            tl = hr_now() - tl;
            int ok = sse1 + reg1 < sse0 + reg0 && st.retries == 0;
            failed |= !ok;
            char what[96];
            snprintf(what, sizeof what, "explicit half (%s, %" PRIu64 " rows)", half ? "items" : "users", m->nrows);
            report(what, &st, peak, ok);
            printf("    train RMSE over these rows %.4f -> %.4f (loss function: %.3f s)\n", sqrt(sse0 / (double)m->nnz),
                   sqrt(sse1 / (double)m->nnz), tl);
        }
        printf("explicit factors checksum %016" PRIx64 "\n",
               hr_hash_bytes(X, sizeof(float) * users.nrows * k, hr_hash_bytes(Y, sizeof(float) * items.nrows * k, 0)));
        hr_als_free_work(w);
        hr_free(X);
        hr_free(Y);
        hr_free(xb);
        hr_free(yb);
        csr_free(&users);
        csr_free(&items);
    }

    /* ---- implicit ---- */
    if (run_implicit) {
        csr users = make_csr((uint64_t)(200000 * scale), (uint64_t)(50000 * scale), (uint64_t)(5e6 * scale), 1, seed + 7);
        csr items = transpose(&users);
        hr_als_opts o;
        hr_als_default_opts(&o);
        o.k = k;
        o.lambda = 0.1f;
        o.alpha = 2.0f;
        hr_als_work *w = hr_als_create_work(k, users.max_row > items.max_row ? users.max_row : items.max_row);
        float *X = random_factors(users.nrows, k, seed + 3, 0.01), *Y = random_factors(items.nrows, k, seed + 4, 0.01);
        float *G = hr_malloc(sizeof(float) * k * k);
        printf("implicit: %" PRIu64 " + %" PRIu64 " rows, %" PRIu64 " interactions, longest user %" PRIu64
               ", item %" PRIu64 "\n", users.nrows, items.nrows, users.nnz, users.max_row, items.max_row);
        hr_als_stats total = { 0 };
        double tloss = 0.0;
        for (int iter = 0; iter < 3; iter++) {
            hr_als_stats it = { 0 };
            int ok = 1;
            for (int half = 0; half < 2; half++) {
                const csr *m = half ? &items : &users;
                hr_als_rows R = view(m);
                float *F = half ? Y : X, *O = half ? X : Y;
                if (iter == 2 && half == 1) break; /* one Cholesky half for comparison */
                o.solver = iter == 2 ? HR_ALS_CHOLESKY : HR_ALS_CG;
                gram_float(O, half ? users.nrows : items.nrows, k, G, &it);
                double d0, r0, d1, r1;
                if (hr_als_loss_implicit(&R, O, G, F, &o, &d0, &r0, &err)) return die(&err);
                double c0 = cpu_now();
                if (hr_als_solve_implicit(&R, O, G, &o, F, w, &it, &err)) return die(&err);
                cpu_acc += cpu_now() - c0;
                double tl = hr_now();
                if (hr_als_loss_implicit(&R, O, G, F, &o, &d1, &r1, &err)) return die(&err);
                tloss += hr_now() - tl;
                ok &= d1 + r1 < d0 + r0;
            }
            failed |= !ok;
            if (iter < 2) {
                char what[96];
                snprintf(what, sizeof what, "implicit CG3 full iteration %d (Gram + 2 halves)", iter + 1);
                report(what, &it, peak, ok);
                total.flops += it.flops;
                total.seconds += it.seconds;
            } else {
                report("implicit Cholesky user half (+ Gram)", &it, peak, ok);
            }
        }
        printf("implicit CG3: %.3f s per full iteration on %" PRIu64 " interactions (loss function: %.3f s per"
               " iteration)\n", total.seconds / 2, users.nnz, tloss / 3);
        printf("implicit factors checksum %016" PRIx64 "\n",
               hr_hash_bytes(X, sizeof(float) * users.nrows * k, hr_hash_bytes(Y, sizeof(float) * items.nrows * k, 0)));
        hr_als_free_work(w);
        hr_free(X);
        hr_free(Y);
        hr_free(G);
        csr_free(&users);
        csr_free(&items);
    }
    printf("bench_als: %s\n", failed ? "FAILED" : "PASSED");
    return failed;
}
