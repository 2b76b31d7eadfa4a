/* jobs/rowfetch.h — rows of a table spread over the ranks in contiguous blocks, fetched by id.
 *
 * The table (item factors, usually) has n rows of `width` floats; block r, rows
 * hr_block_lo(n, P, r) .. hr_block_lo(n, P, r + 1) - 1, is held by rank r: the layout the ring
 * of jobs/ringscore.h moves around, so a job that scored against the ring can ask afterwards
 * for the few rows it needs by id (evaluate's ild@K: the items of each user's top-K;
 * recommend --diversify: each user's candidates) instead of holding the whole table.
 * Two all-to-alls: the ids (each asked once per rank), then the rows. */
#ifndef HR_JOBS_ROWFETCH_H
#define HR_JOBS_ROWFETCH_H

#include <stdint.h>

#include "jobs/job.h"

/* First row of block r of n rows over P ranks (r = P gives n). */
static inline uint64_t hr_block_lo(uint64_t n, int P, int r) { return (uint64_t)r * n / (uint64_t)P; }
/* The block (rank) holding row i < n. */
static inline int hr_block_owner(uint64_t n, int P, uint64_t i) { return (int)(((i + 1) * (uint64_t)P + n - 1) / n - 1); }

/* Collective.  block: this rank's rows of the table [local]; n, width [global]; ids[0..nids)
 * [local]: any order, repeats allowed, each < n.  out: nids x width floats, row x = table row
 * ids[x].  Memory: the distinct ids asked and their rows, plus the requests this rank serves. */
int hr_fetch_rows(hr_job *job, const float *block, uint64_t n, int width, const uint32_t *ids, uint64_t nids, float *out);

#endif
