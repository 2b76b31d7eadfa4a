/* jobs/drift.h — the pieces of `hpcrec drift` (jobs/drift.c): the recommendation and
 * neighbour comparisons (jobs/drift_recs.c).  Every function here is collective and leaves
 * identical values on every rank; sums over users and items are exact integers
 * (solvers/drift.h hr_drift_fix), so the results do not depend on the rank count. */
#ifndef HR_JOBS_DRIFT_H
#define HR_JOBS_DRIFT_H

#include <stdint.h>

#include "jobs/job.h"
#include "partition/dict.h"
#include "solvers/drift.h"

/* What one side's recommendations are measured against (the side's data or model). */
typedef struct hr_drift_catalog {
    uint64_t items;              /* catalogue size: items of the data or of the model */
    const hr_dict *dict;         /* item dictionary of the data (popularity), or NULL */
    const uint64_t *nnz;         /* interactions per dict item (with dict), or NULL */
} hr_drift_catalog;

typedef struct hr_drift_recs {
    /* per side (0 base, 1 new); a side without recommendations has lines 0 */
    uint64_t lines[2], users[2], distinct_items[2];
    double coverage[2];
    int has_bias[2];
    double popularity_bias[2];     /* mean interactions of recommended slots / mean per item */
    uint64_t unmatched[2];         /* slots whose item the side's data does not hold */
    uint64_t exposure[2][HR_DRIFT_LOG_BUCKETS];   /* slots by the item's popularity bucket */
    /* users in both */
    uint32_t top;
    uint64_t users_both, users_only_base, users_only_new;
    double jaccard, rbo;
} hr_drift_recs;

/* recs[s]: directory or NULL; top: N of Jaccard@N / RBO (0: the smaller "top" of the two
 * manifests).  Each rank reads parts r, r + P, ...; lines go to the rank hash(user) mod P. */
int hr_drift_recs_compare(hr_job *job, const char *const recs[2], const hr_drift_catalog cat[2], uint32_t top,
                          double rbo_p, hr_drift_recs *out);

typedef struct hr_drift_nbrs {
    uint32_t k;
    uint64_t items_both;
    double jaccard;      /* mean over items in both models of Jaccard of their K neighbours */
} hr_drift_nbrs;

/* Two factor models: the K nearest neighbours (cosine) of each item of both, each model's
 * catalogue round the ring (jobs/ringscore.h) with the new model's item blocks as queries. */
int hr_drift_neighbours(hr_job *job, const char *base, const char *cur, uint32_t k, hr_drift_nbrs *out);

#endif
