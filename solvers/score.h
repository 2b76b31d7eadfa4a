/* solvers/score.h — models are scorers.
 *
 * One interface scores a batch of users against the whole catalogue, whatever made the model:
 *   factor models (als, ials):  S = U Y^T (+ item bias)   — one SGEMM per batch
 *   popularity:                 S[u][i] = item_scores[i]
 * Scores rank items for one user; constant per-user terms (global mean, user bias) are left
 * out because they do not change a ranking.  Rating prediction (RMSE) uses hr_score_predict. */
#ifndef HR_SOLVERS_SCORE_H
#define HR_SOLVERS_SCORE_H

#include <stdint.h>

typedef enum { HR_SCORER_FACTOR = 1, HR_SCORER_POP = 2 } hr_scorer_kind;

typedef struct hr_scorer {
    hr_scorer_kind kind;
    int k;
    uint64_t n_items;
    const float *item_factors;  /* n_items rows of k (factor), ld floats apart */
    int ld;                     /* leading dimension of item_factors; 0 means k */
    const float *item_bias;     /* n_items or NULL */
    const float *item_scores;   /* n_items (pop) */
} hr_scorer;

/* S: nb x n_items row-major.  user_rows: nb x k (factor; ignored for pop). */
void hr_score_users(const hr_scorer *s, const float *user_rows, uint32_t nb, float *S);
/* mu + b_u + b_i + x_u . y_i (biases may be NULL = 0). */
float hr_score_predict(const float *x, const float *y, int k, float mu, const float *bu, const float *bi);

#endif
