#include "solvers/score.h"

#include <cblas.h>
#include <string.h>

void hr_score_users(const hr_scorer *s, const float *user_rows, uint32_t nb, float *S)
{
    uint64_t n = s->n_items;
    if (s->kind == HR_SCORER_POP) {
        for (uint32_t u = 0; u < nb; u++) memcpy(S + (uint64_t)u * n, s->item_scores, n * sizeof *S);
        return;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nb, (int)n, s->k, 1.0f, user_rows, s->k,
                s->item_factors, s->ld ? s->ld : s->k, 0.0f, S, (int)n);
    if (s->item_bias)
        for (uint32_t u = 0; u < nb; u++) {
            float *row = S + (uint64_t)u * n;
            for (uint64_t i = 0; i < n; i++) row[i] += s->item_bias[i];
        }
}

float hr_score_predict(const float *x, const float *y, int k, float mu, const float *bu, const float *bi)
{
    double p = mu + (bu ? *bu : 0.0f) + (bi ? *bi : 0.0f);
    for (int j = 0; j < k; j++) p += (double)x[j] * y[j];
    return (float)p;
}
