#include "solvers/dmat.h"

#include <string.h>

#include "core/alloc.h"

static int64_t lld_of(const hr_grid *g, int64_t m)
{
    int64_t ml = hr_grid_local_rows(g, m);
    return ml > 1 ? ml : 1;
}

uint64_t hr_dmat_bytes(const hr_grid *g, int64_t m, int64_t n)
{
    return (uint64_t)lld_of(g, m) * (uint64_t)hr_grid_local_cols(g, n) * sizeof(double);
}

int hr_dmat_create(hr_dmat *A, const hr_grid *g, int64_t m, int64_t n, hr_error *err)
{
    memset(A, 0, sizeof *A);
    A->g = g;
    A->m = m;
    A->n = n;
    A->mloc = hr_grid_local_rows(g, m);
    A->nloc = hr_grid_local_cols(g, n);
    A->lld = lld_of(g, m);
    HR_TRY(hr_grid_desc(g, m, n, A->lld, A->desc, err));
    size_t bytes = (size_t)A->lld * (size_t)(A->nloc ? A->nloc : 1) * sizeof(double);
    A->a = hr_try_malloc(bytes);
    if (!A->a)
        return hr_error_set(err, HR_ERR_NOMEM, "rank %d: cannot allocate %.1f MB for its tiles of a %lld x %lld matrix", g->rank,
                            (double)bytes / 1e6, (long long)m, (long long)n);
    memset(A->a, 0, bytes);
    return 0;
}

void hr_dmat_free(hr_dmat *A)
{
    hr_free(A->a);
    memset(A, 0, sizeof *A);
}

double *hr_dmat_at(const hr_dmat *A, int64_t i, int64_t j)
{
    const hr_grid *g = A->g;
    if (hr_grid_row_proc(g, i) != g->myrow || hr_grid_col_proc(g, j) != g->mycol) return NULL;
    return A->a + hr_grid_row_g2l(g, i) + hr_grid_col_g2l(g, j) * A->lld;
}
