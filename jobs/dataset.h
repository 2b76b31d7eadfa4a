/* jobs/dataset.h — write and load the sharded dataset every job reads.
 *
 * On disk (a directory; docs/formats.md):
 *   manifest.json            versioned; counts, partition, per-file checksums, lineage (last written)
 *   users.dict.zst           global user dictionary (+ interactions per user)
 *   items.dict.zst           global item dictionary
 *   by-user/part-RRRRR.bin.zst   rank R's users in CSR (io/shard.h)
 *   by-item/part-RRRRR.bin.zst   rank R's items in CSC
 *   rejects/part-RRRRR.tsv   rows ingest rejected, with source, line and reason (if any)
 * A dataset written on P ranks loads on Q ranks: when Q == P each rank reads its own shard and
 * the partition is the one the shards record (their row gids); otherwise shards are read
 * round-robin and rows shuffled to their owners under a partition rebuilt for Q from the
 * interaction counts in the dictionaries.  A directory without manifest.json is not a dataset.
 * Writers write into a temporary directory (jobs/publish.h) that replaces the dataset's
 * directory only when complete, so a reader sees the old dataset or the new one, whole.
 * The loader checks that the shards cover the manifest: as many shard blocks as the
 * partition records, and their interactions summing to the recorded total. */
#ifndef HR_JOBS_DATASET_H
#define HR_JOBS_DATASET_H

#include <jansson.h>

#include "jobs/job.h"
#include "partition/block.h"
#include "partition/dict.h"
#include "partition/intern.h"
#include "partition/part.h"

typedef struct hr_dataset {
    char *dir;
    json_t *manifest;
    hr_dict users, items;
    hr_part upart, ipart;       /* ownership for the current rank count */
    hr_block by_user, by_item;  /* loaded on request */
    int has_by_user, has_by_item;
} hr_dataset;

enum { HR_LOAD_BY_USER = 1, HR_LOAD_BY_ITEM = 2 };

/* Collective.  Verifies checksums of everything it reads; names the bad file otherwise. */
int hr_dataset_load(hr_job *job, const char *dir, int what, hr_dataset *ds);
void hr_dataset_free(hr_dataset *ds);
/* Path of DIR/manifest.json into buf. */
void hr_dataset_manifest_path(const char *dir, char *buf, size_t cap);

/* The manifest formats a dataset writer may replace (NULL-terminated; io/outdir.h). */
extern const char *const HR_DATASET_FORMATS[];

/* What a dataset's manifest records of its interactions (global, once reduced). */
typedef struct hr_dataset_stats {
    uint64_t total;
    double vmin, vmax, vsum;   /* vsum: each rank's sum in triple order, then reduced */
    int64_t tmin, tmax;
} hr_dataset_stats;

void hr_dataset_stats_init(hr_dataset_stats *st);
/* Adds n triples of this rank: unnz / innz (by global id) counted, range and sum updated. */
void hr_dataset_stats_add(hr_dataset_stats *st, const hr_triple *t, uint64_t n, uint64_t *unnz, uint64_t *innz);
/* Collective: the counts and ranges summed / combined over the ranks. */
int hr_dataset_stats_reduce(hr_job *job, hr_dataset_stats *st, uint64_t *unnz, uint64_t nu, uint64_t *innz, uint64_t ni);

typedef struct hr_dataset_spec {
    const char *dir;   /* where to write: the temporary directory of hr_publish_begin */
    const char *name;  /* the dataset as the user named it (progress line); NULL: dir */
    hr_part_scheme scheme;
    int zstd_level;
    json_t *lineage;   /* reference stolen: {"command":..., "inputs" or "parents": [...]} */
    json_t *extra;     /* reference stolen (may be NULL): merged into the manifest top level */
    const hr_part *user_part; /* NULL, or: the triples are already on their owners under this
                               * partition and sorted by hr_triples_sort (ingest does that to
                               * apply its duplicate policy), so no user-side shuffle is needed */
    const hr_dataset_stats *stats; /* NULL, or: the reduced stats of the triples, whose counts the
                                    * caller already put in the dictionaries' nnz (saves the
                                    * writer a pass over them) */
} hr_dataset_spec;

/* Collective.  Writes a dataset from triples held on any rank (global ids of users/items,
 * which every rank holds identically).  *t is consumed (freed).  Dictionary nnz counts are
 * recomputed from the triples unless spec->stats says they are set.  Reports per-rank balance on the progress line. */
int hr_dataset_write(hr_job *job, const hr_dataset_spec *spec, hr_dict *users, hr_dict *items,
                     hr_triple **t, uint64_t *n);

/* Collective.  The global dictionary D from every rank's distinct keys in LOCAL (a fresh
 * ingest's rule: ids sorted as hr_dict_build sorts them, whatever rank saw them), and *map:
 * LOCAL's key index -> global id (hr_malloc'd; free with hr_free). */
int hr_dataset_build_dict(hr_job *job, hr_intern *local, hr_dict *d, uint32_t **map);

/* Create the sub-directories of a dataset under DIR (a fresh temporary directory from
 * hr_publish_begin): rank 0 creates, all agree.  Collective. */
int hr_dataset_prepare_dir(hr_job *job, const char *dir);

#endif
