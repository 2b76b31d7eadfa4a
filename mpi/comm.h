/* mpi/comm.h — the communicator context and typed collectives.
 *
 * Every MPI call in hpcrec lives in mpi/.  Other modules see an opaque hr_comm and call the
 * typed wrappers below, whose MPI datatype follows the C type, so an index is never reduced
 * as a double.  All functions are collective over the communicator (every rank must call
 * them in the same order) unless marked "local".  Arguments marked [global] must be equal
 * on all ranks; [local] ones may differ.
 *
 * Sizes are size_t/uint64 throughout; wrappers split transfers so that no MPI count exceeds
 * INT_MAX (100M-row shuffles move several GiB).
 *
 * Errors: a failing MPI call returns HR_ERR_MPI.  hr_comm_agree() is how ranks agree on an
 * error before the next collective, so one failing rank never leaves the others hanging. */
#ifndef HR_MPI_COMM_H
#define HR_MPI_COMM_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef struct hr_comm hr_comm;

/* Local. */
int hr_comm_rank(const hr_comm *c);
int hr_comm_size(const hr_comm *c);
/* Bytes this rank has sent through collectives since creation / the last reset (local). */
uint64_t hr_comm_bytes_sent(const hr_comm *c);
void     hr_comm_reset_bytes(hr_comm *c);

/* MPI_Init (if needed) and a context over a duplicate of MPI_COMM_WORLD.  Also installs the
 * out-of-memory hook (MPI_Abort) and the log rank. */
int  hr_comm_init_world(int *argc, char ***argv, hr_comm **out);
void hr_comm_free(hr_comm *c);      /* accepts NULL */
void hr_comm_finalize(void);        /* MPI_Finalize, on every rank */
void hr_comm_abort(hr_comm *c, int exit_code) __attribute__((noreturn));
int  hr_comm_barrier(hr_comm *c);
/* Test hook [global]: the largest element count of one MPI call, INT_MAX normally.  Lowering it
 * makes small data take the paths that real data takes only past 2^31 elements (chunked
 * exchanges, point-to-point rounds), so tests exercise them in milliseconds. */
void hr_comm_set_count_limit(hr_comm *c, uint64_t limit);

/* Agreement: every rank passes its local status (0 or negative) and err.  If any rank failed,
 * all ranks return the error of the lowest failing rank and its message is copied into err on
 * every rank (so rank 0 can print it).  Returns 0 when every rank succeeded. */
int hr_comm_agree(hr_comm *c, int status, hr_error *err);

/* In-place reductions over n elements. */
int hr_comm_allreduce_sum_u64(hr_comm *c, uint64_t *buf, size_t n);
int hr_comm_allreduce_sum_i64(hr_comm *c, int64_t *buf, size_t n);
int hr_comm_allreduce_sum_f64(hr_comm *c, double *buf, size_t n);
int hr_comm_allreduce_sum_f32(hr_comm *c, float *buf, size_t n);
int hr_comm_allreduce_max_u64(hr_comm *c, uint64_t *buf, size_t n);
int hr_comm_allreduce_max_i64(hr_comm *c, int64_t *buf, size_t n);
int hr_comm_allreduce_min_i64(hr_comm *c, int64_t *buf, size_t n);
int hr_comm_allreduce_max_f64(hr_comm *c, double *buf, size_t n);
int hr_comm_allreduce_min_f64(hr_comm *c, double *buf, size_t n);
/* Exclusive prefix sum of one value (rank 0 gets 0). */
int hr_comm_exscan_sum_u64(hr_comm *c, uint64_t v, uint64_t *out);
int hr_comm_bcast(hr_comm *c, void *buf, size_t bytes, int root);
/* Gather one u64 from each rank to all: out has size() entries. */
int hr_comm_allgather_u64(hr_comm *c, uint64_t v, uint64_t *out);

/* All-to-all of fixed-size elements.  send holds, for each destination d in order,
 * sendcounts[d] elements of elem_size bytes.  On return *recv (allocated with hr_malloc,
 * caller frees) holds recvcounts[s] elements from each source s in rank order and
 * *nrecv their total. */
int hr_comm_alltoallv(hr_comm *c, const void *send, const uint64_t *sendcounts, size_t elem_size,
                      void **recv, uint64_t *recvcounts, uint64_t *nrecv);
/* Same with a caller-provided receive buffer of recvcounts (already known, e.g. from a
 * routing table computed at set-up).  No allocation: the hot path of factor exchange. */
int hr_comm_alltoallv_into(hr_comm *c, const void *send, const uint64_t *sendcounts,
                           void *recv, const uint64_t *recvcounts, size_t elem_size);
/* All-gather of variable-size blocks: each rank contributes n elements; *recv (allocated)
 * holds all blocks in rank order, counts[r] elements from rank r. */
int hr_comm_allgatherv(hr_comm *c, const void *send, uint64_t n, size_t elem_size,
                       void **recv, uint64_t *counts, uint64_t *ntotal);
/* Gather variable-size blocks to `root` only: on root *recv (hr_malloc'd) holds all blocks in
 * rank order; elsewhere *recv is NULL.  counts (size() entries) gets every rank's block size on
 * every rank.  Any sizes: past INT_MAX elements in all, the blocks travel as point-to-point
 * pieces (every rank decides so from the same counts). */
int hr_comm_gatherv(hr_comm *c, const void *send, uint64_t n, size_t elem_size, int root, void **recv,
                    uint64_t *counts, uint64_t *ntotal);
/* Same into a caller buffer whose per-rank counts are known [global]. */
int hr_comm_allgatherv_into(hr_comm *c, const void *send, uint64_t n, void *recv,
                            const uint64_t *counts, size_t elem_size);

/* One u64 to and from every rank: recv[s] = what rank s put in send[rank] (MPI_Alltoall). */
int hr_comm_alltoall_u64(hr_comm *c, const uint64_t *send, uint64_t *recv);
/* hr_comm_gatherv into a caller buffer on root, whose per-rank counts root already knows
 * (counts[r] elements from rank r, in rank order; ignored elsewhere; each below INT_MAX). */
int hr_comm_gatherv_into(hr_comm *c, const void *send, uint64_t n, size_t elem_size, int root, void *recv,
                         const uint64_t *counts);
/* Sum of v over the ranks that share this rank's node (one shared-memory domain), and how many
 * they are: per-node memory checks. */
int hr_comm_node_sum_u64(hr_comm *c, uint64_t v, uint64_t *sum, int *nlocal);

/* Ring step: send `bytes` of send to rank+1, receive up to `cap` bytes from rank-1 into recv
 * (*got: bytes received).  Blocks travel around the ring in P-1 steps (MPI_Sendrecv).  [local]
 * bytes and cap.  When the block arriving at any rank exceeds its cap, every rank returns
 * HR_ERR_STATE (the ranks agree first; the rank concerned logs the sizes). */
int hr_comm_ring_shift(hr_comm *c, const void *send, uint64_t bytes, void *recv, uint64_t cap, uint64_t *got);

/* Two ranks only: send the `out` bytes at buf to the other rank and receive its `in` bytes
 * (known from a count exchange) into buf at the same place, piece by piece through a small
 * bounce buffer: each piece goes out before the one coming in overwrites it.  buf holds
 * max(out, in) bytes.  No second buffer of the data's size (an in-place shuffle). */
int hr_comm_pair_swap(hr_comm *c, void *buf, uint64_t out, uint64_t in);

#endif
