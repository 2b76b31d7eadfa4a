/* jobs/forget.h — right to erasure: the pieces `forget` and `ingest --forget` share.
 *
 * The forgotten set (io/forgetlist.h) is matched against dictionary ids; a user found in it
 * loses every interaction, and ids left with none leave the dictionaries, renumbered in order
 * exactly as a fresh ingest without those rows would number them (dictionary order is sorted
 * key order, so dropping keys keeps it).  Partitions are then rebuilt from the remaining
 * counts by the caller, so a dataset after forget is the one ingest would have written from
 * the input without those users (same rank count, same scheme; docs/operations.md, Erasure).
 *
 * Every rewritten artifact gets manifest keys `revision` (previous + 1; absent = 0) and
 * `erasures` (previous entries + one {revision, time, ids, users_removed, rows_removed,
 * list_hmac}): the keyed hash of the set, never the ids (docs/formats.md). */
#ifndef HR_JOBS_FORGET_H
#define HR_JOBS_FORGET_H

#include <jansson.h>

#include "io/forgetlist.h"
#include "jobs/job.h"
#include "partition/dict.h"
#include "partition/part.h"

typedef struct hr_forget_counts {
    uint64_t users, items, rows;   /* [global] ids and interactions removed */
} hr_forget_counts;

/* Collective.  Marks the users of `users` that are in s (HMACs spread over ranks), drops this
 * rank's triples of those users, drops users and items left without triples on every rank,
 * renumbers the triples.  users/items [global], *t and *n [local].  Counts are [global]. */
int hr_forget_triples(hr_job *job, hr_forget_set *s, hr_dict *users, hr_dict *items, hr_triple **t, uint64_t *n,
                      hr_forget_counts *c);
/* Per-user flag over the whole dictionary (1 = forgotten), computed with rank r hashing ids
 * r, r + P, ...; hr_malloc'd, users->n entries (at least 1).  Collective. */
int hr_forget_flags(hr_job *job, hr_forget_set *s, const hr_dict *d, uint8_t **flags, uint64_t *nflag);

/* Collective.  After hr_forget_triples on a loaded dataset: rebuild the dictionaries and the user
 * partition exactly as ingest of the input without the users would (weights from the events
 * and DIR/rejects/' policy rejects; jobs/forget_layout.c), renumber the triples, send them to
 * their owners under *hp and sort them (hr_dataset_spec.user_part = hp).  users/items are
 * replaced; *hp is built (caller frees) when 0 is returned. */
int hr_forget_ingest_layout(hr_job *job, hr_forget_set *s, const char *dir, hr_part_scheme scheme, hr_dict *users,
                            hr_dict *items, hr_triple **t, uint64_t *n, hr_part *hp);

/* A rejects line (docs/formats.md, rejects/): 1 when it must be scrubbed.  Policy rejects
 * (duplicate, conflict, bot_user) by their user field; rows that did not parse by any field. */
int hr_forget_reject_line(hr_forget_set *s, const char *line, size_t len);
/* A raw input row (unescaped): 1 when any field, split at , TAB ; | : or space, quotes
 * stripped, is a forgotten id. */
int hr_forget_raw_row(hr_forget_set *s, const char *row, size_t len);

/* manifest + one erasure: sets `revision` and appends to `erasures` in m (rank 0 builds it,
 * the time is UTC now). */
void hr_forget_stamp(json_t *m, hr_forget_set *s, const hr_forget_counts *c);

#endif
