/* io/profile.h — the data profile of a dataset (profile.json, format "hpcrec-profile"):
 * enough to compare two days' data after the datasets themselves are gone (docs/formats.md).
 *
 *   interactions, users, items        counts (active users and items: at least one interaction)
 *   value_sum_fixed                   sum of the values in units of 2^-10 (integer: the same on
 *                                     any rank count); value_mean = that / 2^10 / interactions
 *   head_share, head_fraction         share of interactions on the top head_fraction of items
 *   popularity_items[32]              items by interactions, bucket b = 2^b .. 2^(b+1)-1
 *   popularity_interactions[32]       the interactions of those items
 *   activity_users[32]                users by interactions, the same buckets
 *   value_counts[10], value_edges[9]  interactions by value (upper edges inclusive; solvers/drift.h)
 * Written by `hpcrec drift --write-profile`; read by drift as a --base/--new. */
#ifndef HR_IO_PROFILE_H
#define HR_IO_PROFILE_H

#include <stdint.h>

#include "core/error.h"
#include "solvers/drift.h"

#define HR_PROFILE_FORMAT "hpcrec-profile"
#define HR_PROFILE_VERSION 1
#define HR_PROFILE_HEAD_FRACTION 0.01
#define HR_PROFILE_VALUE_SCALE 1024.0

typedef struct hr_profile {
    uint64_t interactions, users, items;
    int64_t value_sum_fixed;
    double head_share;
    uint64_t popularity_items[HR_DRIFT_LOG_BUCKETS], popularity_interactions[HR_DRIFT_LOG_BUCKETS];
    uint64_t activity_users[HR_DRIFT_LOG_BUCKETS];
    uint64_t value_counts[HR_DRIFT_VALUE_BUCKETS];
} hr_profile;

int hr_profile_write(const char *path, const hr_profile *p, const char *source, hr_error *err);
int hr_profile_read(const char *path, hr_profile *p, hr_error *err);

#endif
