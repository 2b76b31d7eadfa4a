/* jobs/forget_model.h — forget on a model bundle: the users' rows leave (users.dict,
 * user_factors, user_bias), the bundle is written again by every rank (jobs/modelwrite.h), the
 * manifest gets a new `revision` and an `erasures` entry.  Item rows are kept as they are:
 * they were trained with those users' data, which `inspect` says from the erasures; the answer
 * is the next retraining (docs/operations.md, Erasure).  Memory per rank: its share of the user
 * and item rows plus the writer's few members, as train.  Collective; *users_removed [global]
 * (0: the bundle held none of the ids and was not touched). */
#ifndef HR_JOBS_FORGET_MODEL_H
#define HR_JOBS_FORGET_MODEL_H

#include "io/forgetlist.h"
#include "jobs/job.h"

int hr_forget_model(hr_job *job, hr_forget_set *s, const char *path, uint64_t *users_removed);

#endif
