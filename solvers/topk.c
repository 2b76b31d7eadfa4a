/* solvers/topk.c — min-heap top-N selection (see topk.h for the order and its guarantees). */
#include "solvers/topk.h"

#include <assert.h>
#include <math.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* a is worse than b: lower score, or the same score and a higher index.  The heap keeps the
 * worst entry at the root so that "is this candidate good enough?" is one comparison. */
static inline int entry_worse(hr_topk_entry a, hr_topk_entry b)
{
    return a.score < b.score || (a.score == b.score && a.index > b.index);
}

/* Place e at slot i and restore the heap below it (the slot's old value is discarded). */
static inline void sift_down(hr_topk_entry *heap, size_t n, size_t i, hr_topk_entry e)
{
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && entry_worse(heap[c + 1], heap[c])) c++;
        if (!entry_worse(heap[c], e)) break;
        heap[i] = heap[c];
        i = c;
    }
    heap[i] = e;
}

/* Append e at the end of a non-full heap and move it up to its place. */
static inline void sift_up(hr_topk_entry *heap, size_t i, hr_topk_entry e)
{
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!entry_worse(e, heap[p])) break;
        heap[i] = heap[p];
        i = p;
    }
    heap[i] = e;
}

void hr_topk_init(hr_topk *h, hr_topk_entry *storage, uint32_t n)
{
    assert(storage != NULL || n == 0);
    h->heap = storage;
    h->cap = n;
    h->size = 0;
}

void hr_topk_reset(hr_topk *h) { h->size = 0; }

void hr_topk_push(hr_topk *h, float score, uint32_t index)
{
    hr_topk_entry e = { score, index };
    if (isnan(score)) return;
    if (h->size < h->cap) {
        sift_up(h->heap, h->size, e);
        h->size++;
    } else if (h->cap > 0 && entry_worse(h->heap[0], e)) {
        sift_down(h->heap, h->size, 0, e);
    }
}

/* The hot loop: offer scores[lo..hi) (indices first_index + j).  Two phases so that the full
 * phase carries no size check and no NaN test: a NaN fails both `s > thr` and `s == thr`. */
static void push_range(hr_topk *h, const float *scores, uint32_t first_index, uint32_t lo,
                       uint32_t hi)
{
    hr_topk_entry *heap = h->heap;
    size_t size = h->size, cap = h->cap;
    uint32_t j = lo;

    for (; j < hi && size < cap; j++) {
        float s = scores[j];
        if (isnan(s)) continue;
        hr_topk_entry e = { s, first_index + j };
        sift_up(heap, size, e);
        size++;
    }
    h->size = (uint32_t)size;
    if (j >= hi || cap == 0) return;

    float thr = heap[0].score;
    uint32_t thr_idx = heap[0].index;
    /* Once the heap is full almost every score loses: test 16 at a time against the threshold
     * (SSE2, part of every x86-64: four compares and one movemask) and look at a chunk element
     * by element only when one of them might enter.  NaN compares false, as in the scalar path. */
#ifdef __SSE2__
    for (; j + 16 <= hi; j += 16) {
        __m128 t = _mm_set1_ps(thr);
        const float *q = scores + j;
        __m128 m = _mm_or_ps(_mm_or_ps(_mm_cmpge_ps(_mm_loadu_ps(q), t), _mm_cmpge_ps(_mm_loadu_ps(q + 4), t)),
                             _mm_or_ps(_mm_cmpge_ps(_mm_loadu_ps(q + 8), t), _mm_cmpge_ps(_mm_loadu_ps(q + 12), t)));
        if (_mm_movemask_ps(m) == 0) continue;
        for (uint32_t jj = j; jj < j + 16; jj++) {
            float s = scores[jj];
            if (s > thr || (s == thr && first_index + jj < thr_idx)) {
                hr_topk_entry e = { s, first_index + jj };
                sift_down(heap, size, 0, e);
                thr = heap[0].score;
                thr_idx = heap[0].index;
            }
        }
    }
#endif
    for (; j < hi; j++) {
        float s = scores[j];
        if (s > thr || (s == thr && first_index + j < thr_idx)) {
            hr_topk_entry e = { s, first_index + j };
            sift_down(heap, size, 0, e);
            thr = heap[0].score;
            thr_idx = heap[0].index;
        }
    }
}

void hr_topk_push_row(hr_topk *h, const float *scores, uint32_t first_index, uint32_t count,
                      const uint32_t *excluded, size_t n_excluded)
{
    assert((uint64_t)first_index + count <= (uint64_t)UINT32_MAX + 1);
    if (h->cap == 0 || count == 0) return;

    /* Skip exclusions below the row by binary search, then walk the list alongside the row:
     * the row is scanned in runs between excluded items so the inner loop stays branch-light. */
    size_t lo = 0, hi = n_excluded;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (excluded[mid] < first_index) lo = mid + 1;
        else hi = mid;
    }
    uint64_t end = (uint64_t)first_index + count;
    uint32_t pos = 0;
    for (size_t x = lo; x < n_excluded && excluded[x] < end; x++) {
        assert(x == lo || excluded[x] > excluded[x - 1]);
        uint32_t cut = excluded[x] - first_index;
        push_range(h, scores, first_index, pos, cut);
        pos = cut + 1;
    }
    push_range(h, scores, first_index, pos, count);
}

void hr_topk_push_row_masked(hr_topk *h, const float *scores, uint32_t first_index,
                             uint32_t count, const uint8_t *mask)
{
    assert((uint64_t)first_index + count <= (uint64_t)UINT32_MAX + 1);
    if (!mask) {
        push_range(h, scores, first_index, 0, count);
        return;
    }
    uint32_t pos = 0;
    for (uint32_t j = 0; j < count; j++) {
        if (!mask[j]) continue;
        push_range(h, scores, first_index, pos, j);
        pos = j + 1;
    }
    push_range(h, scores, first_index, pos, count);
}

uint32_t hr_topk_sorted(hr_topk *h, uint32_t *out_idx, float *out_score)
{
    hr_topk_entry *heap = h->heap;
    uint32_t n = h->size;

    /* In-place heapsort: moving the root (worst) to the end each step leaves the array best
     * first.  This destroys the heap, hence the reset below. */
    for (uint32_t end = n; end > 1; end--) {
        hr_topk_entry worst = heap[0];
        sift_down(heap, end - 1, 0, heap[end - 1]);
        heap[end - 1] = worst;
    }
    for (uint32_t i = 0; i < n; i++) {
        out_idx[i] = heap[i].index;
        if (out_score) out_score[i] = heap[i].score;
    }
    h->size = 0;
    return n;
}

uint32_t hr_topk_merge_lists(const uint32_t *a_idx, const float *a_score, uint32_t na,
                             const uint32_t *b_idx, const float *b_score, uint32_t nb,
                             uint32_t n, uint32_t *out_idx, float *out_score)
{
    uint32_t i = 0, j = 0, k = 0;
    while (k < n && (i < na || j < nb)) {
        int take_a;
        if (i >= na) take_a = 0;
        else if (j >= nb) take_a = 1;
        else {
            hr_topk_entry ea = { a_score[i], a_idx[i] }, eb = { b_score[j], b_idx[j] };
            assert(ea.index != eb.index);
            take_a = !entry_worse(ea, eb);
        }
        if (take_a) {
            out_idx[k] = a_idx[i];
            if (out_score) out_score[k] = a_score[i];
            i++;
        } else {
            out_idx[k] = b_idx[j];
            if (out_score) out_score[k] = b_score[j];
            j++;
        }
        k++;
    }
    return k;
}
