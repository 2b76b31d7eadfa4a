/* partition/part.h — who owns which user / item, and the shuffle of triples to owners.
 *
 * Design.  Global ids (partition/dict.h) are dense 0..n-1.  A partition assigns every gid to
 * one of P ranks:
 *   - balanced (default): contiguous gid ranges cut so that each rank gets about the same
 *     number of interactions (weights = interactions per gid); good load balance for ALS,
 *     where a row's cost grows with its interaction count.
 *   - hash: owner = mix(gid) mod P; balance in expectation, no weights needed.
 * Either way each rank's rows are its owned gids in ascending order, and local index = rank of
 * the gid among them.  The tables are O(n) per rank (8 bytes per gid), built identically on
 * every rank from global data, so no communication is needed to ask "who owns gid g".
 *
 * Triples travel between ranks only through hr_part_shuffle (alltoallv via mpi/). */
#ifndef HR_PARTITION_PART_H
#define HR_PARTITION_PART_H

#include <stdint.h>

#include "mpi/comm.h"

typedef enum { HR_PART_BALANCED = 0, HR_PART_HASH = 1 } hr_part_scheme;

typedef struct hr_part {
    hr_part_scheme scheme;
    int nparts;
    uint64_t n;
    uint32_t *owner;     /* n: owning rank of each gid */
    uint32_t *local;     /* n: index of the gid among its owner's rows */
    uint64_t *rows;      /* nparts: rows per rank */
    uint64_t *weight;    /* nparts: total weight per rank (0 when unweighted) */
} hr_part;

/* [global] scheme, nparts, n, weights (n entries or NULL = unit weights). */
void hr_part_build(hr_part *p, hr_part_scheme scheme, int nparts, uint64_t n, const uint64_t *weights);
/* The partition a writer used, from every rank's owned gids (ascending within each rank):
 * gids[offsets[r] .. offsets[r+1]) are rank r's.  Weights are per-rank row counts. */
void hr_part_from_owned(hr_part *p, hr_part_scheme scheme, int nparts, uint64_t n, const uint32_t *gids,
                        const uint64_t *offsets);
/* The same assignment after an order-preserving renumbering of gids (map: old -> new or
 * UINT32_MAX for dropped): owners keep their rows, local indices close the gaps. */
void hr_part_remap(hr_part *p, const uint32_t *map, uint64_t n_new);
/* Add `extra` gids n..n+extra-1 with no weight, dealt round-robin (gid n + j to rank j mod
 * nparts), after every existing row of their owner (so rows stay ascending).  For rows that
 * exist only for one job, such as test users unknown to training in evaluate. */
void hr_part_append(hr_part *p, uint64_t extra);
void hr_part_free(hr_part *p);
const char *hr_part_scheme_name(hr_part_scheme s);
int hr_part_scheme_parse(const char *s, hr_part_scheme *out);
/* Owned gids of rank r, ascending (hr_malloc'd, p->rows[r] entries). */
uint32_t *hr_part_owned(const hr_part *p, int r);
/* max/mean of per-rank weight (1.0 = perfect balance). */
double hr_part_imbalance(const hr_part *p);

/* One interaction in flight: global ids, value, time, and where it came from (source id and
 * line, for reject reports; 0 when loaded from a dataset). 32 bytes. */
typedef struct hr_triple {
    uint32_t u, i;
    float v;
    uint32_t src;
    int64_t ts;
    uint64_t line;
} hr_triple;

/* Send each triple to the owner of its user (by_item = 0) or item (by_item = 1).  Collective.
 * *t is freed and replaced by the received triples (hr_malloc'd), *n updated. */
int hr_part_shuffle(hr_comm *c, const hr_part *p, int by_item, hr_triple **t, uint64_t *n);

#endif
