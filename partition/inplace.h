/* Shuffle and sort of triples without a second array of their size (ingest, dataset write).
 * A fresh n-sized buffer costs the kernel one page clear per page on first touch (about 11%
 * of a rank's CPU in a 20M-row ingest): here the triples move inside the array they are in. */
#ifndef HR_PARTITION_INPLACE_H
#define HR_PARTITION_INPLACE_H

#include "partition/part.h"

/* hr_triples_sort's order (local row, other gid, ts, value, src, line) with scratch memory of
 * one range of rows (a few thousand triples, more where one row holds more): an American flag
 * pass into ranges of rows, then LSD counting passes inside each, in L2.  That order is total for triples with distinct (src,
 * line), so the result does not depend on the input order. */
void hr_triples_sort_inplace(hr_triple *t, uint64_t n, const hr_part *p, int rank, int by_item);

/* Send each triple to the owner of its user (by_item = 0) or item and sort what arrives as
 * hr_triples_sort does.  Collective.  On one or two ranks in place (the array is regrown to
 * what arrives); on more, hr_part_shuffle then hr_triples_sort_move: the same result, as the
 * sort's order does not depend on the order triples arrive in. */
int hr_part_shuffle_sort(hr_comm *c, const hr_part *p, int by_item, hr_triple **t, uint64_t *n);

#endif
