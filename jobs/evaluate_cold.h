/* jobs/evaluate_cold.h — evaluate --cold-items (jobs/evaluate_cold.c); part of `hpcrec evaluate`. */
#ifndef HR_JOBS_EVALUATE_COLD_H
#define HR_JOBS_EVALUATE_COLD_H

#include "io/features.h"
#include "jobs/content.h"
#include "jobs/evaluate_parts.h"

/* The options: --item-features FILE [--features-format F] ... [--features-max N] [--features-lambda L]. */
typedef hr_content_opts ev_cold_opts;

static inline int cmp_u32_ev(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Collective.  s: the main model's scorer (umap, item blocks); tr: the train dataset. */
int ev_cold(hr_job *job, const ev_data *d, const ev_scorer *s, const hr_dataset *tr, const ev_cold_opts *o);

#endif
