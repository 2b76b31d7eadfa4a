/* jobs/indexscore.h — score queries against the items of the lists an ANN index probes, the
 * index's blocks travelling round the ranks (the index counterpart of jobs/ringscore.h).
 *
 * Used by `index query`, `recommend --index` and `similar --index`: the caller sets up the
 * same hr_ring_query as for the exact ring (query rows, exclusions, selections), and calls
 * hr_index_score instead of hr_ring_score.
 *
 * Distribution: rank r holds block r of the catalogue (items r*n/P .. (r+1)*n/P - 1, the exact
 * path's block), reads those items' lists from the index parts that overlap it, and packs its
 * rows sorted by list (solvers/ivf.h).  Every query gets its nprobe lists from the quantizer
 * once; then the blocks go round the ring (P steps) and each rank scans its queries, grouped
 * by list, against the lists of the block it holds.  Memory per rank: the model's block, two
 * packed blocks, nprobe list ids per query and the batch buffers (docs/operations.md).
 *
 * Exclusions (seen items, --exclude, the query item itself for `similar`) are applied inside the
 * scan, so a selection only ever holds allowed items.  A query whose probed lists hold fewer
 * than N allowed items is widened: its selection is emptied and it probes 4x as many lists, up
 * to every list (the exact answer over the whole catalogue), in extra rounds of the ring that
 * all ranks join while any rank has such a query.  Counted as queries_widened and
 * queries_exhaustive.
 *
 * Scores are the exact float scores x . y (+ b), cosines for similar (solvers/ivf.h). */
#ifndef HR_JOBS_INDEXSCORE_H
#define HR_JOBS_INDEXSCORE_H

#include <stdint.h>

#include "io/ivffile.h"
#include "io/model.h"
#include "jobs/job.h"
#include "jobs/ringscore.h"

typedef struct hr_index hr_index;

/* Figures of one hr_index_score call, summed (counts) or maxed (seconds) over ranks. */
typedef struct hr_index_stats {
    uint64_t queries;             /* queries of all ranks */
    uint64_t scores;              /* (query, item) scores computed: 2k FLOP each */
    uint64_t probes;              /* lists the queries probed first (before any widening) */
    uint64_t queries_widened;     /* needed more lists than --probe to fill N */
    uint64_t queries_exhaustive;  /* of those, scanned every list */
    uint32_t rounds;              /* passes of the ring (1 + widening rounds) */
    double seconds_load, seconds_probe, seconds_scan, seconds_comm;   /* load: lists read and packed */
} hr_index_stats;

/* Collective.  Open the index in dir for the model m (loaded with at least hr_model_load_dicts;
 * model_path for messages): refused with HR_ERR_STATE when it was built from another model, with
 * HR_ERR_ARG when its metric is not `metric` (0: any; `what` names the command, for the
 * message) or probe > its lists.  probe 0: the index's default.  Reads manifest and quantizer. */
int hr_index_open(hr_job *job, const char *dir, const hr_model *m, const char *model_path, hr_metric metric, const char *what,
                  uint32_t probe, hr_index **out);
void hr_index_close(hr_index *ix);   /* accepts NULL */
const hr_index_meta *hr_index_info(const hr_index *ix);

/* Collective; arguments as hr_ring_score: items = block `rank`'s model rows (k floats each, as
 * stored in the model: cosine normalises them itself), bias = its item biases or NULL, banned =
 * catalogue-wide flags or NULL.  q->heaps must have home capacity >= their n.  st may be NULL. */
int hr_index_score(hr_job *job, hr_index *ix, const float *items, const float *bias, const uint8_t *banned, uint64_t n, int k,
                   const hr_ring_query *q, hr_index_stats *st);
/* What recommend and similar call instead of hr_ring_score (their --index branch): open the
 * index for the model, score, add the index_* summary keys and a progress line, close.
 * t_score / t_comm as hr_ring_score's; *scores: (query, item) scores computed over all ranks. */
int hr_index_ring_score(hr_job *job, const char *dir, uint32_t probe, const hr_model *m, const char *model_path, hr_metric metric,
                        const char *what, const float *items, const float *bias, const uint8_t *banned, uint64_t n, int k,
                        const hr_ring_query *q, double *t_score, double *t_comm, uint64_t *scores);
/* Summary keys index_* of st (and the index's settings) into the job's --json summary. */
void hr_index_report(hr_job *job, const hr_index *ix, const hr_index_stats *st);

#endif
