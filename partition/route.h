/* partition/route.h — which factor rows a rank needs, and how they travel.
 *
 * Glossary (as in SPLATT's send/recv notes).  Solving the rows of one side (say users) needs the
 * other side's factor rows (items) that the local block touches.  Two ways to get them:
 *   allgather: every rank receives every row of the other side (MPI_Allgatherv of whole owned
 *              blocks).  Volume per rank ~ (n_other - own) * k floats; no set-up.
 *   needed:    every rank receives only the distinct rows its block references, from their
 *              owners (MPI_Alltoallv).  The send lists are computed once at set-up, like Spark's
 *              OutBlocks: rank q learns, for each r, which of its local rows r needs.
 * The receive buffer holds rows in (owner rank, gid) order for "needed", (owner rank, local
 * index) for "allgather"; hr_route_map_cols() rewrites a block's gids into positions in that
 * buffer once, so the solvers index it directly.
 * Local vs global: every array here is local except `volume_*`, which are global totals. */
#ifndef HR_PARTITION_ROUTE_H
#define HR_PARTITION_ROUTE_H

#include <stdint.h>

#include "mpi/comm.h"
#include "partition/block.h"
#include "partition/part.h"

typedef enum { HR_EXCHANGE_AUTO = 0, HR_EXCHANGE_ALLGATHER = 1, HR_EXCHANGE_NEEDED = 2 } hr_exchange;

typedef struct hr_route {
    hr_exchange mode;          /* ALLGATHER or NEEDED after set-up */
    int nparts;
    uint64_t nrecv;            /* rows in the receive buffer */
    uint64_t *recv_count;      /* nparts */
    uint64_t *send_count;      /* nparts (needed) */
    uint32_t *send_local;      /* local row indices to pack, grouped by destination (needed) */
    uint64_t nsend;
    uint64_t *pos_of_gid;      /* allgather: per-rank offsets (nparts) */
    uint32_t *need_gid;        /* needed: gids in receive order */
    uint64_t volume_allgather, volume_needed;  /* global rows moved per exchange, either way */
} hr_route;

const char *hr_exchange_name(hr_exchange e);
int hr_exchange_parse(const char *s, hr_exchange *out);

/* Collective.  other: partition of the side whose rows travel; b: this rank's block whose idx[]
 * are gids of that side.  mode AUTO picks the smaller global volume. */
int hr_route_build(hr_comm *c, const hr_part *other, const hr_block *b, hr_exchange mode, hr_route *r);
/* The distinct gids that b->idx references, grouped by owner rank (other->owner) and ascending
 * within each group, in *need_gid (hr_malloc'd; the caller frees it); count[q] = how many
 * rank q owns (other->nparts entries).  Returns their number.  Linear in nnz + other->n. */
uint64_t hr_route_needed(const hr_part *other, const hr_block *b, uint64_t *count, uint32_t **need_gid);
/* col[e] = position of b->idx[e] in the receive buffer.  Linear in nnz + other->n. */
void hr_route_map_cols(const hr_route *r, const hr_part *other, const hr_block *b, uint32_t *col);
/* Collective.  local: this rank's owned rows of the other side (width floats each, in local
 * order); send: scratch of nsend * width floats (needed mode); recv: nrecv * width floats. */
int hr_route_exchange(hr_comm *c, const hr_route *r, const float *local, int width, float *send, float *recv);
/* The same with each row of k floats sent in two parts, its first ky floats into recv (nrecv
 * rows of ky) and the other k - ky into recv_tail (nrecv rows of k - ky): the split layout of
 * hr_als_solve_implicit_split.  send: scratch of max(nsend, this rank's rows) * k floats (both
 * parts are packed in one pass over the rows, in both modes). */
int hr_route_exchange_split(hr_comm *c, const hr_route *r, const float *local, int k, int ky, float *send, float *recv,
                            float *recv_tail);
void hr_route_free(hr_route *r);

#endif
