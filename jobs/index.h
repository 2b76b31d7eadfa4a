/* jobs/index.h — the pieces of `hpcrec index` shared by its files.
 *
 * jobs/index.c: the subcommand (build | query), `query`, the output directory, `inspect INDEX`;
 * jobs/index_build.c: `build`; jobs/indexscore.h: the distributed search recommend and similar
 * use too. */
#ifndef HR_JOBS_INDEX_H
#define HR_JOBS_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "jobs/job.h"

/* hpcrec index build ... (collective). */
int hr_index_build(hr_job *job, int argc, char **argv);
/* hpcrec inspect INDEX: manifest summary, every file verified and decoded (collective). */
int hr_index_inspect(hr_job *job, const char *dir);

/* The ids listed in file (one per line; blank lines skipped) as ids of d, in file order
 * (*gids hr_malloc'd).  An id d lacks is an error naming file:line (`what`: "user" or "item",
 * `model`: for the message).  Local. */
struct hr_dict;
int hr_index_read_ids(const char *file, const struct hr_dict *d, const char *what, const char *model, uint64_t **gids, uint64_t *n,
                      hr_error *err);

#endif
