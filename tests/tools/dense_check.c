/* tests/tools/dense_check.c — the distributed dense models against a dense single-rank LAPACK
 * reference, on whatever grid the ranks make (run under mpirun with 1..P ranks).
 *
 *   dense_check CHECK...        each CHECK one of the two below, its fields joined by ':'
 *                               (one launch of mpirun runs several: "ease:300:200:1:16:0:0:5:value")
 *   dense_check ease ITEMS USERS SEED NB NPROW NPCOL LAMBDA binary|value [EMPTY_ITEM]
 *       Random sparse user rows (user u lives on rank u % P), assembled into G on an
 *       NPROW x NPCOL grid (0 0: the default shape) by hr_ease_assemble, then factorised and
 *       inverted by pdpotrf / pdpotri and turned into B; G, P and B are gathered to rank 0 and
 *       compared with X^T X, LAPACK's dpotrf + dpotri of X^T X + lambda I, and B of that.
 *       Prints "G rel", "P rel", "B rel" (max |a - b| / max |b|) and PASSED when all are
 *       <= 1e-6 (G exactly equal).  EMPTY_ITEM: no user has that item; with LAMBDA 0 the
 *       factorisation must then fail (HR_ERR_NUMERIC, at an item <= EMPTY_ITEM): PASSED when
 *       it does.
 *   dense_check svd ITEMS USERS RANK SEED K
 *       A dense matrix of exact rank RANK, rows spread over the ranks; hr_svd_run with K
 *       triplets (2 power iterations, 10 extra columns) against dgesdd of the whole matrix:
 *       singular values and the rank-K reconstruction U S V^T, PASSED within 1e-8.
 * Exit 0 when every check PASSED, 1 when one FAILED, 2 on usage or setup errors. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/rng.h"
#include "jobs/job.h"
#include "jobs/train.h"
#include "solvers/blas.h"
#include "solvers/ease.h"

static int usage(void)
{
    fputs("usage: dense_check ease ITEMS USERS SEED NB NPROW NPCOL LAMBDA binary|value [EMPTY_ITEM]\n"
          "       dense_check svd ITEMS USERS RANK SEED K\n"
          "       dense_check CHECK... (fields joined by ':')\n", stderr);
    return 2;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* User u's row: distinct items ascending (never `empty`), values 1..5. */
static uint64_t gen_row(uint64_t seed, uint64_t u, uint32_t n, int64_t empty, uint32_t *idx, float *val)
{
    hr_rng r = hr_rng_stream(seed, 99, u);
    uint64_t want = 1 + hr_rng_below(&r, n / 3 + 1), len = 0;
    for (uint64_t k = 0; k < want; k++) {
        uint32_t i = (uint32_t)hr_rng_below(&r, n);
        if ((int64_t)i != empty) idx[len++] = i;
    }
    qsort(idx, len, sizeof *idx, cmp_u32);
    uint64_t w = 0;
    for (uint64_t k = 0; k < len; k++)
        if (w == 0 || idx[k] != idx[w - 1]) idx[w++] = idx[k];
    for (uint64_t k = 0; k < w; k++) val[k] = (float)(1 + hr_rng_below(&r, 5));
    return w;
}

/* The whole symmetric matrix whose lower triangle A holds, on rank 0 (n x n column-major). */
static int gather_full(hr_job *job, const hr_grid *g, const hr_dmat *A, double *full)
{
    int64_t n = A->n;
    uint64_t mine = hr_ease_panel_count(g, n, g->myrow, g->mycol, 0, n), *counts = hr_calloc((size_t)job->size, sizeof *counts), tot = 0;
    for (int s = 0; s < job->size; s++) tot += counts[s] = hr_ease_panel_count(g, n, s / g->npcol, s % g->npcol, 0, n);
    double *send = hr_malloc((mine + 1) * sizeof *send), *recv = hr_malloc((tot + 1) * sizeof *recv);
    hr_ease_panel_pack(A, 0, n, send);
    int rc = hr_comm_gatherv_into(job->comm, send, mine, sizeof *send, 0, recv, counts);
    if (rc == 0 && job->rank == 0) {
        const double *in = recv;
        for (int s = 0; s < job->size; s++) {
            hr_ease_panel_unpack(g, n, s / g->npcol, s % g->npcol, 0, n, in, full);
            in += counts[s];
        }
    }
    hr_free(send);
    hr_free(recv);
    hr_free(counts);
    return rc;
}

static double rel(const double *a, const double *b, uint64_t n)
{
    double d = 0, s = 0;
    for (uint64_t i = 0; i < n; i++) {
        if (fabs(a[i] - b[i]) > d) d = fabs(a[i] - b[i]);
        if (fabs(b[i]) > s) s = fabs(b[i]);
    }
    return s > 0 ? d / s : d;
}

static int check_ease(hr_job *job, int argc, char **argv)
{
    if (argc < 10) return usage();
    uint32_t n = (uint32_t)atol(argv[2]);
    uint64_t users = (uint64_t)atoll(argv[3]), seed = (uint64_t)atoll(argv[4]);
    int nb = atoi(argv[5]), nprow = atoi(argv[6]), npcol = atoi(argv[7]);
    double lambda = atof(argv[8]);
    hr_row_weight w = !strcmp(argv[9], "value") ? HR_ROWS_VALUE : HR_ROWS_BINARY;
    int64_t empty = argc > 10 ? atoll(argv[10]) : -1;
    const int P = job->size, me = job->rank;
    /* this rank's users as a by-user block */
    hr_block b;
    memset(&b, 0, sizeof b);
    uint32_t *idx = hr_malloc((n + 1) * sizeof *idx);
    float *val = hr_malloc((n + 1) * sizeof *val);
    uint64_t cap = 1024;
    b.gid = hr_malloc((users / (uint64_t)P + 2) * sizeof *b.gid);
    b.ptr = hr_malloc((users / (uint64_t)P + 3) * sizeof *b.ptr);
    b.idx = hr_malloc(cap * sizeof *b.idx);
    b.val = hr_malloc(cap * sizeof *b.val);
    b.ptr[0] = 0;
    for (uint64_t u = (uint64_t)me; u < users; u += (uint64_t)P) {
        uint64_t len = gen_row(seed, u, n, empty, idx, val);
        while (b.nnz + len > cap) {
            cap *= 2;
            b.idx = hr_realloc(b.idx, cap * sizeof *b.idx);
            b.val = hr_realloc(b.val, cap * sizeof *b.val);
        }
        memcpy(b.idx + b.nnz, idx, len * sizeof *idx);
        memcpy(b.val + b.nnz, val, len * sizeof *val);
        b.nnz += len;
        b.gid[b.nrows++] = (uint32_t)u;
        b.ptr[b.nrows] = b.nnz;
    }
    hr_grid *g;
    int rc = hr_grid_create(job->comm, nprow, npcol, nb, nb, &g, &job->err);
    if (rc < 0) return rc;
    hr_dmat G;
    double secs, flops, *Gf = NULL, *Pf = NULL, *Gr = NULL, *Pr = NULL;
    uint64_t rounds;
    rc = hr_dmat_create(&G, g, n, n, &job->err);
    if (rc == 0) rc = hr_ease_assemble(job, g, &b, w, &G, &secs, &flops, &rounds);
    if (me == 0) {
        Gf = hr_calloc((size_t)n * n, sizeof *Gf);
        Pf = hr_calloc((size_t)n * n, sizeof *Pf);
        Gr = hr_calloc((size_t)n * n, sizeof *Gr);
        Pr = hr_calloc((size_t)n * n, sizeof *Pr);
        for (uint64_t u = 0; u < users; u++) {   /* X^T X from every user's row */
            uint64_t len = gen_row(seed, u, n, empty, idx, val);
            for (uint64_t a = 0; a < len; a++)
                for (uint64_t c = 0; c < len; c++)
                    Gr[idx[a] + (size_t)idx[c] * n] += w == HR_ROWS_VALUE ? (double)val[a] * val[c] : 1.0;
        }
    }
    if (rc == 0) rc = gather_full(job, g, &G, Gf);
    int pass = 1;
    if (rc == 0 && me == 0) {
        double gr = rel(Gf, Gr, (uint64_t)n * n);
        printf("dense_check ease items=%u users=%llu grid=%dx%d nb=%d ranks=%d weight=%s G rel %.3e (assembly rounds %llu)\n", n,
               (unsigned long long)users, g->nprow, g->npcol, nb, P, argv[9], gr, (unsigned long long)rounds);
        pass = gr == 0;
    }
    hr_ease_regularize(&G, lambda);
    int64_t bad = -1;
    int frc = rc == 0 ? hr_ease_factor(&G, &bad, &job->err) : rc;
    if (empty >= 0 && lambda == 0) {   /* the error path: must fail, at or before the empty item */
        int ok = frc == HR_ERR_NUMERIC && bad >= 0 && bad <= empty;
        if (me == 0) printf("dense_check ease: lambda 0 with item %lld empty: factor rc %d at item %lld: %s\n", (long long)empty, frc,
                            (long long)bad, ok ? "PASSED" : "FAILED");
        hr_dmat_free(&G);
        hr_grid_free(g);
        return ok ? 0 : 1;
    }
    rc = frc;
    if (rc == 0) rc = hr_ease_invert(&G, &job->err);
    double *diag = hr_malloc(((size_t)n + 1) * sizeof *diag);
    if (rc == 0) rc = hr_ease_diag(&G, diag);
    if (rc == 0) rc = gather_full(job, g, &G, Pf);
    if (rc == 0 && me == 0) {
        /* reference: dpotrf + dpotri of X^T X + lambda I, then B */
        for (uint32_t i = 0; i < n; i++) Gr[i + (size_t)i * n] += lambda;
        int in = (int)n, info = 0;
        memcpy(Pr, Gr, (size_t)n * n * sizeof *Pr);
        dpotrf_("L", &in, Pr, &in, &info, 1);
        if (info == 0) dpotri_("L", &in, Pr, &in, &info, 1);
        for (uint32_t j = 0; j < n; j++)
            for (uint32_t i = 0; i < j; i++) Pr[i + (size_t)j * n] = Pr[j + (size_t)i * n];
        double pr = rel(Pf, Pr, (uint64_t)n * n);
        float *B = hr_malloc((size_t)n * n * sizeof *B);
        double *Bd = hr_malloc((size_t)n * n * sizeof *Bd), *Br = hr_malloc((size_t)n * n * sizeof *Br), dr[1];
        hr_ease_weights(Pf, n, 0, n, diag, B);
        for (uint32_t j = 0; j < n; j++) {
            dr[0] = Pr[j + (size_t)j * n];
            for (uint32_t i = 0; i < n; i++) {
                Bd[i + (size_t)j * n] = B[i + (size_t)j * n];
                Br[i + (size_t)j * n] = i == j ? 0 : -Pr[i + (size_t)j * n] / dr[0];
            }
        }
        double br = rel(Bd, Br, (uint64_t)n * n);
        printf("dense_check ease P rel %.3e  B rel %.3e  (LAPACK info %d)\n", pr, br, info);
        pass = pass && info == 0 && pr <= 1e-6 && br <= 1e-6;
        printf("dense_check ease %s\n", pass ? "PASSED" : "FAILED");
        hr_free(B);
        hr_free(Bd);
        hr_free(Br);
    }
    int64_t st = pass ? 0 : 1;
    if (rc == 0) hr_comm_allreduce_max_i64(job->comm, &st, 1);
    hr_free(diag);
    hr_free(Gf);
    hr_free(Pf);
    hr_free(Gr);
    hr_free(Pr);
    hr_free(idx);
    hr_free(val);
    hr_block_free(&b);
    hr_dmat_free(&G);
    hr_grid_free(g);
    if (rc < 0) return rc;
    return (int)st;
}

static int check_svd(hr_job *job, int argc, char **argv)
{
    if (argc < 7) return usage();
    uint64_t n = (uint64_t)atoll(argv[2]), users = (uint64_t)atoll(argv[3]), seed = (uint64_t)atoll(argv[5]);
    int R = atoi(argv[4]), K = atoi(argv[6]);
    const int P = job->size, me = job->rank;
    /* X = A C^T, A users x R, C items x R, each row from its own stream */
    double *C = hr_malloc(n * (uint64_t)R * sizeof *C), *a = hr_malloc(((size_t)R + 1) * sizeof *a);
    for (uint64_t i = 0; i < n; i++) {
        hr_rng r = hr_rng_stream(seed, 98, i);
        for (int c = 0; c < R; c++) C[i * (uint64_t)R + (uint64_t)c] = hr_rng_normal(&r) / (1 + c);
    }
    hr_block b;
    memset(&b, 0, sizeof b);
    uint64_t mine = users / (uint64_t)P + 1;
    b.gid = hr_malloc(mine * sizeof *b.gid);
    b.ptr = hr_malloc((mine + 1) * sizeof *b.ptr);
    b.idx = hr_malloc(mine * n * sizeof *b.idx);
    b.val = hr_malloc(mine * n * sizeof *b.val);
    double *X = me == 0 ? hr_malloc(users * n * sizeof *X) : NULL;   /* rank 0: the whole matrix, row-major */
    b.ptr[0] = 0;
    for (uint64_t u = 0; u < users; u++) {
        hr_rng r = hr_rng_stream(seed, 97, u);
        for (int c = 0; c < R; c++) a[c] = hr_rng_normal(&r);
        for (uint64_t i = 0; i < n; i++) {
            double v = 0;
            for (int c = 0; c < R; c++) v += a[c] * C[i * (uint64_t)R + (uint64_t)c];
            float f = (float)v;
            if (X) X[u * n + i] = f;
            if (u % (uint64_t)P == (uint64_t)me) {
                b.idx[b.nnz] = (uint32_t)i;
                b.val[b.nnz++] = f;
            }
        }
        if (u % (uint64_t)P == (uint64_t)me) {
            b.gid[b.nrows++] = (uint32_t)u;
            b.ptr[b.nrows] = b.nnz;
        }
    }
    uint64_t *key = hr_malloc(n * sizeof *key);
    for (uint64_t i = 0; i < n; i++) key[i] = i;
    hr_dense_opts o;
    memset(&o, 0, sizeof o);
    o.power_iters = 2;
    o.oversample = 10;
    o.seed = seed;
    hr_svd_rows x = { &b, 1, 0.0 };
    double *V = NULL, *S = NULL;
    float *F = hr_malloc((b.nrows * (uint64_t)K + 1) * sizeof *F);
    int rc = hr_svd_run(job, &o, &x, n, key, users, K, 1.0, &V, &S, F);
    void *all = NULL;
    uint64_t *counts = hr_malloc((size_t)P * sizeof *counts), tot = 0;
    if (rc == 0) rc = hr_comm_gatherv(job->comm, F, b.nrows, (size_t)K * sizeof(float), 0, &all, counts, &tot);
    int64_t st = 0;
    if (rc == 0 && me == 0) {
        /* reference singular values of the whole matrix (column-major copy: items x users = X^T) */
        int m = (int)n, nu = (int)users, info = 0, lwork = -1, mn = m < nu ? m : nu;
        double *A = hr_malloc(users * n * sizeof *A), *s = hr_malloc((size_t)mn * sizeof *s), q;
        int *iw = hr_malloc(8 * (size_t)mn * sizeof *iw);
        memcpy(A, X, users * n * sizeof *A);   /* row-major users x n == column-major n x users */
        dgesdd_("N", &m, &nu, A, &m, s, NULL, &m, NULL, &nu, &q, &lwork, iw, &info, 1);
        lwork = (int)q + 1;
        double *wk = hr_malloc((size_t)lwork * sizeof *wk);
        dgesdd_("N", &m, &nu, A, &m, s, NULL, &m, NULL, &nu, wk, &lwork, iw, &info, 1);
        double sr = 0, er = 0, xs = 0;
        for (int c = 0; c < K; c++) sr = fmax(sr, fabs(S[c] - s[c]) / s[0]);
        /* reconstruction: rank r's rows came in rank order; row j of rank r is user r + j P */
        const float *Fa = all;
        uint64_t at = 0;
        for (int r = 0; r < P; r++)
            for (uint64_t j = 0; j < counts[r]; j++, at++) {
                uint64_t u = (uint64_t)r + j * (uint64_t)P;
                for (uint64_t i = 0; i < n; i++) {
                    double v = 0;
                    for (int c = 0; c < K; c++) v += (double)Fa[at * (uint64_t)K + (uint64_t)c] * V[i * (uint64_t)K + (uint64_t)c];
                    er = fmax(er, fabs(v - X[u * n + i]));
                    xs = fmax(xs, fabs(X[u * n + i]));
                }
            }
        er /= xs;
        int pass = info == 0 && sr <= 1e-8 && (K < R || er <= 1e-6);
        printf("dense_check svd items=%llu users=%llu rank=%d K=%d ranks=%d singular values rel %.3e (first %.6g, LAPACK %.6g)  "
               "reconstruction rel %.3e  %s\n", (unsigned long long)n, (unsigned long long)users, R, K, P, sr, S[0], s[0], er,
               pass ? "PASSED" : "FAILED");
        st = !pass;
        hr_free(A);
        hr_free(s);
        hr_free(iw);
        hr_free(wk);
    }
    if (rc == 0) hr_comm_allreduce_max_i64(job->comm, &st, 1);
    hr_free(all);
    hr_free(counts);
    hr_free(F);
    hr_free(V);
    hr_free(S);
    hr_free(key);
    hr_free(X);
    hr_free(C);
    hr_free(a);
    hr_block_free(&b);
    return rc < 0 ? rc : (int)st;
}

int main(int argc, char **argv)
{
    if (argc < 2) return usage();
    hr_comm *comm;
    if (hr_comm_init_world(&argc, &argv, &comm) < 0) return 2;
    hr_job job;
    hr_job_init(&job, comm, "dense_check");
    int rc = 0;
    if (strchr(argv[1], ':')) {   /* several checks, one per argument */
        for (int a = 1; a < argc && rc >= 0 && rc != 2; a++) {
            char *spec = hr_strdup(argv[a]), *fields[16] = { "dense_check" };
            int nf = 1;
            for (char *t = strtok(spec, ":"); t && nf < 16; t = strtok(NULL, ":")) fields[nf++] = t;
            int r = !strcmp(fields[1], "ease") ? check_ease(&job, nf, fields) : !strcmp(fields[1], "svd") ? check_svd(&job, nf, fields) : usage();
            if (r != 0 && rc == 0) rc = r;
            if (r < 0) rc = r;
            hr_free(spec);
        }
    } else {
        rc = !strcmp(argv[1], "ease") ? check_ease(&job, argc, argv) : !strcmp(argv[1], "svd") ? check_svd(&job, argc, argv) : usage();
    }
    if (rc < 0) {
        fprintf(stderr, "dense_check (rank %d): %s\n", job.rank, job.err.msg);
        rc = 2;
    }
    hr_job_free(&job);
    hr_comm_free(comm);
    hr_comm_finalize();
    return rc;
}
