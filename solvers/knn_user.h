/* solvers/knn_user.h — the user-based side of the neighbourhood models (`train --algo
 * userknn`): the similarity of a rank's users against a block of visiting users, with the
 * accumulators of solvers/knn.h and the roles of users and items swapped (a pair's sums run
 * over the items both users have, in increasing item id).  No MPI, no files: jobs/
 * train_userknn.c moves the blocks round the ring; here are the rows, their message form and
 * the per-target running top-K.
 *
 * Determinism: for target u and visiting user v the sums add u's items in increasing id, so a
 * similarity is the same bits whatever the blocks; the running top-K keeps the K best over all
 * blocks (higher similarity, then the lower user id: solvers/topk.h), so the lists are the same
 * on any rank count.  Only positive similarities are kept (hr_knn_acc_top).
 *
 * Ownership: rows own their arrays (alloc) or view a message (view: valid while the message
 * lives; free does nothing then).  Limits: users and items are uint32 ids; a block at most
 * 2^32 - 2 users. */
#ifndef HR_SOLVERS_KNN_USER_H
#define HR_SOLVERS_KNN_USER_H

#include <stdint.h>

#include "core/error.h"
#include "solvers/knn.h"
#include "solvers/topk.h"

/* Users' rows, increasing user id: row r is user gid[r], items / vals [ptr[r], ptr[r+1]) (items
 * ascending; vals the measure's a_ui), norm[r] = |a_u| (implicit cosine). */
typedef struct hr_uknn_rows {
    uint64_t nrows, nnz;
    uint32_t *gid;
    uint64_t *ptr;
    double *norm;
    uint32_t *items;
    float *vals;
    int view;
} hr_uknn_rows;
void hr_uknn_rows_alloc(hr_uknn_rows *x, uint64_t nrows, uint64_t nnz);
void hr_uknn_rows_free(hr_uknn_rows *x);
void hr_uknn_rows_norms(hr_uknn_rows *x);
/* Message form (8-byte aligned sections: u64 nrows, nnz, ptr[nrows + 1], f64 norm[nrows], u32
 * gid[nrows], items[nnz], f32 vals[nnz], padded to 8): pack allocates *out (hr_malloc); view
 * checks sizes and points into p (HR_ERR_FORMAT when they do not add up). */
void hr_uknn_rows_pack(const hr_uknn_rows *x, void **out, uint64_t *len);
int hr_uknn_rows_view(const void *p, uint64_t len, hr_uknn_rows *x, hr_error *err);

/* The row of user `gid` after a cap of `cap` items (0: none): all of it, or the cap items of
 * smallest hash(user, item), in item order; pos[] their positions, keys scratch of 2 len.
 * Returns the kept length. */
uint64_t hr_uknn_cap(uint32_t gid, const uint32_t *items, uint64_t len, uint32_t cap, uint64_t *keys, uint64_t *pos);

/* The similarity state of a rank: its targets (the rows given at init, kept by the caller),
 * the running top-K of each, the visiting block's inverted index and the accumulators. */
typedef struct hr_uknn_sim {
    const hr_uknn_rows *t;
    hr_knn_opts o;
    uint64_t n_items, K, pairs;
    hr_topk_entry *store;      /* t->nrows x K */
    uint32_t *size;            /* entries kept per target */
    uint64_t *cptr, *count, acc_n;
    uint32_t *crow, *tmprow;
    float *cval, *tmpval;
    hr_knn_acc acc;
} hr_uknn_sim;
void hr_uknn_sim_init(hr_uknn_sim *s, const hr_uknn_rows *targets, const hr_knn_opts *o, uint64_t n_items);
void hr_uknn_sim_free(hr_uknn_sim *s);
/* Every target against the users of v (gid ascending); a target that is among them is never its
 * own neighbour. */
void hr_uknn_sim_block(hr_uknn_sim *s, const hr_uknn_rows *v);
/* Target r's neighbours, user ids ascending, into row / val (K at most); returns how many. */
uint32_t hr_uknn_sim_take(hr_uknn_sim *s, uint64_t r, uint32_t *row, float *val);

#endif
