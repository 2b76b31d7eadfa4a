/* mpi/grid.c — the BLACS process grid (mpi/grid.h).
 *
 * The BLACS C interface is declared here, not in solvers/blas.h: it is the only part of
 * ScaLAPACK that takes an MPI communicator, and only mpi/ may hold one.  Csys2blacs_handle turns
 * the communicator into a BLACS system handle, Cblacs_gridinit maps its ranks onto the grid in
 * row-major order. */
#include "mpi/grid.h"

#include <limits.h>
#include <math.h>

#include "core/alloc.h"
#include "mpi/comm_world.h"
#include "solvers/blas.h"

void Cblacs_pinfo(int *mypnum, int *nprocs);
int Csys2blacs_handle(MPI_Comm comm);
void Cfree_blacs_system_handle(int handle);
void Cblacs_gridinit(int *ctxt, const char *order, int nprow, int npcol);
void Cblacs_gridinfo(int ctxt, int *nprow, int *npcol, int *myrow, int *mycol);
void Cblacs_gridexit(int ctxt);
void Cdgsum2d(int ctxt, const char *scope, const char *top, int m, int n, double *a, int lda, int rdest, int cdest);

void hr_grid_shape(int P, int *nprow, int *npcol)
{
    int r = 1;
    for (int d = 1; (int64_t)d * d <= P; d++)
        if (P % d == 0) r = d;
    *nprow = r;
    *npcol = P / r;
}

int hr_grid_create(hr_comm *c, int nprow, int npcol, int mb, int nb, hr_grid **out, hr_error *err)
{
    *out = NULL;
    int P = hr_comm_size(c);
    if (nprow == 0 && npcol == 0) hr_grid_shape(P, &nprow, &npcol);
    if (nprow < 1 || npcol < 1 || (int64_t)nprow * npcol != P)
        return hr_error_set(err, HR_ERR_ARG, "a %d x %d process grid does not match %d ranks", nprow, npcol, P);
    if (mb < 1 || nb < 1) return hr_error_set(err, HR_ERR_ARG, "grid block size %d x %d: must be >= 1", mb, nb);
    hr_grid *g = hr_calloc(1, sizeof *g);
    int me, np;
    Cblacs_pinfo(&me, &np);   /* initialises the BLACS once per process (idempotent) */
    g->sys = Csys2blacs_handle(hr_comm_raw(c));
    g->ctxt = g->sys;
    Cblacs_gridinit(&g->ctxt, "Row", nprow, npcol);
    int r, q;
    Cblacs_gridinfo(g->ctxt, &r, &q, &g->myrow, &g->mycol);
    g->nprow = nprow;
    g->npcol = npcol;
    g->mb = mb;
    g->nb = nb;
    g->rank = hr_comm_rank(c);
    g->size = P;
    /* The tile-owner function assumes the Row order; a BLACS that placed us elsewhere would
     * make every owner computation wrong, so check it once. */
    int bad = r != nprow || q != npcol || g->myrow != g->rank / npcol || g->mycol != g->rank % npcol;
    int64_t b = bad;
    int rc = hr_comm_allreduce_max_i64(c, &b, 1);
    if (rc == 0 && b) rc = hr_error_set(err, HR_ERR_MPI, "BLACS placed rank %d at (%d, %d) of a %d x %d grid, not in row order",
                                        g->rank, g->myrow, g->mycol, r, q);
    if (rc < 0) {
        hr_grid_free(g);
        return rc;
    }
    *out = g;
    return 0;
}

void hr_grid_free(hr_grid *g)
{
    if (!g) return;
    Cblacs_gridexit(g->ctxt);
    Cfree_blacs_system_handle(g->sys);
    hr_free(g);
}

/* numroc without the int limit: blocks of b over p processes, first block on process 0. */
static int64_t count_of(int64_t n, int b, int proc, int p)
{
    int64_t nblocks = n / b, per = nblocks / p, extra = nblocks % p, cnt = per * b;
    if (proc < extra) cnt += b;
    else if (proc == extra) cnt += n % b;
    return cnt;
}

int64_t hr_grid_rows_of(const hr_grid *g, int prow, int64_t n) { return count_of(n, g->mb, prow, g->nprow); }
int64_t hr_grid_cols_of(const hr_grid *g, int pcol, int64_t n) { return count_of(n, g->nb, pcol, g->npcol); }
int64_t hr_grid_local_rows(const hr_grid *g, int64_t n) { return count_of(n, g->mb, g->myrow, g->nprow); }
int64_t hr_grid_local_cols(const hr_grid *g, int64_t n) { return count_of(n, g->nb, g->mycol, g->npcol); }

int hr_grid_desc(const hr_grid *g, int64_t m, int64_t n, int64_t lld, int desc[9], hr_error *err)
{
    int64_t ml = hr_grid_local_rows(g, m), nl = hr_grid_local_cols(g, n);
    if (m < 0 || n < 0 || m >= INT_MAX || n >= INT_MAX || lld < (ml > 1 ? ml : 1) || lld >= INT_MAX ||
        (nl > 0 && lld > (int64_t)INT_MAX / nl))
        return hr_error_set(err, HR_ERR_ARG,
                            "a %lld x %lld matrix on a %d x %d grid exceeds ScaLAPACK's 32-bit indexing (local %lld x %lld); "
                            "use more ranks", (long long)m, (long long)n, g->nprow, g->npcol, (long long)ml, (long long)nl);
    int im = (int)m, in = (int)n, zero = 0, ld = (int)lld, info = 0;
    descinit_(desc, &im, &in, &g->mb, &g->nb, &zero, &zero, &g->ctxt, &ld, &info);
    /* numroc_ must agree with the 64-bit count the rest of hpcrec uses. */
    if (info == 0 && (numroc_(&im, &g->mb, &g->myrow, &zero, &g->nprow) != ml ||
                      numroc_(&in, &g->nb, &g->mycol, &zero, &g->npcol) != nl))
        info = -100;
    if (info != 0) return hr_error_set(err, HR_ERR_ARG, "descinit failed for a %lld x %lld matrix (info %d)", (long long)m, (long long)n, info);
    return 0;
}

int hr_grid_sum_f64(hr_grid *g, double *buf, int64_t n)
{
    /* Cdgsum2d takes an int count: sum in pieces. */
    for (int64_t off = 0; off < n;) {
        int k = n - off > (1 << 28) ? (1 << 28) : (int)(n - off);
        Cdgsum2d(g->ctxt, "All", " ", k, 1, buf + off, k, -1, -1);
        off += k;
    }
    return 0;
}
