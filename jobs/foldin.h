/* jobs/foldin.h — users a factor model does not know, folded in from their interaction rows.
 *
 * ALS / iALS models (algo "als" / "ials"): each user's x_u comes from ONE least-squares solve
 * against the fixed item factors — the normal equations of a training half-iteration with the
 * model's own lambda, alpha and epsilon (manifest "params"), solved by solvers/als.h:
 *   ials: (G + Y_u^T (C_u - I) Y_u + lambda I) x_u = Y_u^T C_u p_u,  G = Y^T Y (all items)
 *   als:  the biased ALS-WR row solve, mu and the item biases of the model.
 * Always the exact Cholesky route (a CG half-iteration warm-starts from last iteration's x_u;
 * a new user has none, and a few CG steps from zero stop far from the solution).
 * Distribution: the item factors are in blocks over the ranks (block r = rows hr_block_lo(n,P,r)
 * .., the ring's layout); G is the allreduced sum of the blocks' Grams (in double, then rounded,
 * as training does); each rank fetches the rows its queries name (jobs/rowfetch.h).  A row's
 * result depends only on its entries and the model, so any rank count gives the same bits.
 *
 * Collective.  Errors: HR_ERR_FORMAT (a model whose manifest lacks params.lambda), those of the
 * solvers (HR_ERR_NUMERIC), agreed across ranks. */
#ifndef HR_JOBS_FOLDIN_H
#define HR_JOBS_FOLDIN_H

#include <stdint.h>

#include "io/model.h"
#include "jobs/job.h"
#include "solvers/itemitem.h"

/* True when the model folds users in by a solve (algo als / ials, factor kind). */
int hr_fold_in_solves(const hr_model *m);

/* q: nq query rows [local] in model item ids (ascending within a row), raw values
 * (HR_ROWS_VALUE).  m: a partial load holding item block `rank` of P (factors, and biases when
 * the model has them).  X: nq x k out.  *seconds (may be NULL) is added the time spent. */
int hr_fold_in_solve(hr_job *job, const hr_model *m, const hr_iiquery *q, uint64_t nq, float *X, double *seconds);

#endif
