/* solvers/topk.h — bounded selection of the N best (score, item index) pairs.
 *
 * Use: per user, scores arrive block by block (a float row of an SGEMM, items j0..j1):
 *
 *     hr_topk_entry store[N];            // caller-owned, N entries, reused across users
 *     hr_topk h;
 *     hr_topk_init(&h, store, N);
 *     for each item block: hr_topk_push_row(&h, row, j0, j1 - j0, seen_items, n_seen);
 *     uint32_t got = hr_topk_sorted(&h, out_idx, out_score);   // best first; empties h
 *
 * Order ("better"): higher score first; equal scores are broken by the LOWER item index
 * first, so the result is a pure function of the (score, index) multiset — independent of
 * block order, block size and rank count.  NaN scores never enter.  -inf does enter (it is an
 * ordinary, worst-possible score) while the selection is not yet full.
 *
 * Implementation: a min-heap of size N whose root is the worst entry kept.  Once full, a
 * candidate is rejected by one float compare against the root (the common case: a row of
 * 10^5 items for a top-100 keeps only a few hundred), and an accepted one costs O(log N).
 *
 * Ownership: the heap storage belongs to the caller and must outlive h; nothing here allocates.
 * Limits: N and item indices are uint32; first_index + count must not exceed 2^32.  Merging
 * assumes the two lists hold disjoint item sets (different item blocks or ranks). */
#ifndef HR_SOLVERS_TOPK_H
#define HR_SOLVERS_TOPK_H

#include <stddef.h>
#include <stdint.h>

typedef struct hr_topk_entry {
    float    score;
    uint32_t index;  /* global item index */
} hr_topk_entry;

typedef struct hr_topk {
    hr_topk_entry *heap;  /* caller storage, cap entries; heap[0] is the worst kept */
    uint32_t       cap;   /* N */
    uint32_t       size;  /* entries kept so far, <= cap */
} hr_topk;

/* Bind h to caller storage of n entries (n may be 0: every push is then a no-op). */
void hr_topk_init(hr_topk *h, hr_topk_entry *storage, uint32_t n);
/* Forget every entry (keeps storage and N): start the next user. */
void hr_topk_reset(hr_topk *h);

/* Offer one pair. */
void hr_topk_push(hr_topk *h, float score, uint32_t index);

/* Offer scores[0..count) as items first_index .. first_index+count-1, skipping the items
 * listed in `excluded` (strictly increasing global item indices, e.g. the user's CSR row of
 * training items; entries outside the row's range are ignored; NULL when n_excluded == 0). */
void hr_topk_push_row(hr_topk *h, const float *scores, uint32_t first_index, uint32_t count,
                      const uint32_t *excluded, size_t n_excluded);

/* First position in a sorted id list (excluded items, a query row) at or after `first`. */
size_t hr_topk_first_excluded(const uint32_t *excluded, size_t n_excluded, uint32_t first);

/* Same, with a byte mask instead: mask[j] != 0 excludes item first_index + j (mask is indexed
 * like scores, length count; NULL excludes nothing). */
void hr_topk_push_row_masked(hr_topk *h, const float *scores, uint32_t first_index,
                             uint32_t count, const uint8_t *mask);

/* Write the kept entries best first into out_idx[0..size) and, if out_score is not NULL,
 * out_score[0..size); returns size (= min(N, number of non-NaN pairs offered)).  h is emptied
 * (as by hr_topk_reset) because the sort happens in place in the heap storage. */
uint32_t hr_topk_sorted(hr_topk *h, uint32_t *out_idx, float *out_score);

/* Merge two best-first lists (as hr_topk_sorted writes them) into the best n of their union,
 * best first.  The two lists must hold disjoint items; outputs must not alias the inputs.
 * a_score/b_score are required (they decide the order); out_score may be NULL.
 * Returns min(n, na + nb). */
uint32_t hr_topk_merge_lists(const uint32_t *a_idx, const float *a_score, uint32_t na,
                             const uint32_t *b_idx, const float *b_score, uint32_t nb,
                             uint32_t n, uint32_t *out_idx, float *out_score);

/* ---- High-volume variant: a buffer instead of a heap -----------------------------------------
 * For scans of millions of scores per list (recommend, similar): candidates that beat the
 * current threshold are appended to a buffer of bufcap >= 2n entries; when it fills, a
 * quickselect keeps the best n and the n-th best becomes the threshold.  Each candidate costs
 * O(1) instead of a heap sift, and most scores are rejected 16 at a time.  Same order and
 * tie rule as hr_topk (higher score first, then lower index); NaN never enters.
 *
 * An entry is one 64-bit key: the score's bits mapped to an order-reversing unsigned integer in
 * the high half, the item index in the low half, so "better" (higher score, then lower index)
 * is one unsigned "less than" and selection and sorting compare plain integers. */
typedef uint64_t hr_topkey;

typedef struct hr_topbuf {
    hr_topkey *buf;       /* where the entries are now: home, or a borrowed working buffer */
    hr_topkey *home;      /* caller storage, homecap keys */
    uint32_t n, bufcap, homecap, size;
    hr_topkey thr_key;    /* a new entry must have key < thr_key (UINT64_MAX: anything enters) */
    float thr;            /* the score part of thr_key: scores below it cannot enter */
} hr_topbuf;

/* storage: homecap >= n keys.  Pushing needs room for 2n: either homecap >= 2n, or a working
 * buffer borrowed for the pushes (below).  n == 0 allowed: every push is then a no-op. */
void hr_topbuf_init(hr_topbuf *b, hr_topkey *storage, uint32_t n, uint32_t homecap);
void hr_topbuf_push(hr_topbuf *b, float score, uint32_t index);
/* As hr_topk_push_row. */
void hr_topbuf_push_row(hr_topbuf *b, const float *scores, uint32_t first_index, uint32_t count,
                        const uint32_t *excluded, size_t n_excluded);
/* As push_row for items that are not consecutive (an index list): scores[j] is item ids[j].  A
 * score that passes the bar is still dropped when its item is in `excluded` (sorted; binary
 * search) or banned[id] != 0 (banned: catalogue-wide flags, or NULL). */
void hr_topbuf_push_ids(hr_topbuf *b, const float *scores, const uint32_t *ids, uint32_t count,
                        const uint32_t *excluded, size_t n_excluded, const uint8_t *banned);
/* Best first into out_idx / out_score (may be NULL); returns min(n, candidates); empties b. */
uint32_t hr_topbuf_sorted(hr_topbuf *b, uint32_t *out_idx, float *out_score);
/* Raise the bar before any push from a probe: scores[0..count) of items idx[0..count)
 * (strictly increasing), which will be pushed again later, skipping the excluded ones (as in
 * push_row).  The n-th best probe score, lowered by `slack` (>= 0: what the same score may differ
 * by when computed again, e.g. by an SGEMM blocked another way), becomes the bar: the final
 * n-th best cannot be lower, so fewer candidates enter.  No effect once entries exist or with
 * fewer than n usable probes. */
void hr_topbuf_seed(hr_topbuf *b, const float *scores, const uint32_t *idx, uint32_t count, float slack,
                    const uint32_t *excluded, size_t n_excluded);

/* Many selections, few working buffers: a selection whose home holds only its n best borrows
 * `work` (workcap >= 2n keys) for a burst of pushes, then returns its n best home.  A million
 * users' recommend needs n keys each between bursts instead of 2n. */
void hr_topbuf_borrow(hr_topbuf *b, hr_topkey *work, uint32_t workcap);
void hr_topbuf_return(hr_topbuf *b);

#endif
