/* partition/block.h — one rank's interactions in compressed-row form.
 *
 * The same struct holds the by-user CSR (rows = owned users, idx = item gids) and the by-item
 * CSC (rows = owned items, idx = user gids).  Rows are the rank's owned gids ascending; each
 * row's entries are sorted by the other gid, so merges and lookups are binary searches.
 * ts is kept so split --before / --last and day-over-day jobs need no second source. */
#ifndef HR_PARTITION_BLOCK_H
#define HR_PARTITION_BLOCK_H

#include <stdint.h>

#include "partition/part.h"

typedef struct hr_block {
    uint64_t nrows, nnz;
    uint32_t *gid;       /* nrows: global id of each local row, ascending */
    uint64_t *ptr;       /* nrows + 1 */
    uint32_t *idx;       /* nnz: global id on the other side */
    float *val;          /* nnz */
    int64_t *ts;         /* nnz */
} hr_block;

void hr_block_free(hr_block *b);

/* Sort triples by (local row of u (by_item = 0) or i, other gid, ts, value, src, line).
 * Counting sort over rows, then a small sort inside each row.  rows = p->rows[rank]. */
void hr_triples_sort(hr_triple *t, uint64_t n, const hr_part *p, int rank, int by_item);
/* The same order; the result may land in a new array: *t is then freed and replaced (one
 * copy pass fewer when the triples arrive grouped by the other side, as a by-item shuffle of
 * by-user blocks does).  For callers that own *t (hr_malloc'd). */
void hr_triples_sort_move(hr_triple **t, uint64_t n, const hr_part *p, int rank, int by_item);
/* The sort itself: from t with tmp (n triples) as scratch; returns the array holding the
 * result (t or tmp).  The triples may be any subset of the rank's (partition/inplace.c sorts
 * one range of rows at a time). */
hr_triple *hr_triples_sort_scratch(hr_triple *t, hr_triple *tmp, uint64_t n, const hr_part *p, int rank, int by_item);

/* Triples already in (row, other) order: each run of one (row, other) pair into (ts, value,
 * src, line) order, completing hr_triples_sort's order. */
void hr_triples_fix_ties(hr_triple *t, uint64_t n, int by_item);

/* Build the block of `rank` from triples sorted by hr_triples_sort (every triple owned by
 * rank).  Entries with keep != NULL && !keep[k] are left out.  Rows with no entries still
 * appear (every owned gid is a row). */
void hr_block_from_triples(hr_block *b, const hr_triple *t, uint64_t n, const uint8_t *keep,
                           const hr_part *p, int rank, int by_item);

/* Append nrows empty rows of the given gids (ascending, above every gid already held): the
 * rows hr_part_append gave this rank. */
void hr_block_add_rows(hr_block *b, const uint32_t *gids, uint64_t nrows);
/* Triples of a block (src = 0, line = 0). */
hr_triple *hr_block_to_triples(const hr_block *b, int by_item, uint64_t *n);

/* Position of (row, other gid) in the block, or -1.  O(log row length). */
int64_t hr_block_find(const hr_block *b, uint64_t row, uint32_t other);

#endif
