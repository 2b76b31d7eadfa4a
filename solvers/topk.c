/* solvers/topk.c — min-heap top-N selection (see topk.h for the order and its guarantees). */
#include "solvers/topk.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
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

/* First position in the sorted exclusion list at or after `first` (binary search): a row is
 * then scanned in runs between its excluded items, so the inner loops stay branch-light. */
size_t hr_topk_first_excluded(const uint32_t *excluded, size_t n_excluded, uint32_t first)
{
    size_t lo = 0, hi = n_excluded;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (excluded[mid] < first) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

void hr_topk_push_row(hr_topk *h, const float *scores, uint32_t first_index, uint32_t count,
                      const uint32_t *excluded, size_t n_excluded)
{
    assert((uint64_t)first_index + count <= (uint64_t)UINT32_MAX + 1);
    if (h->cap == 0 || count == 0) return;

    size_t lo = hr_topk_first_excluded(excluded, n_excluded, first_index);
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

/* ---- hr_topbuf -------------------------------------------------------------------------------- */

/* A score's place in the order as an unsigned integer that falls as the score rises: IEEE bits
 * made monotone (negative floats flipped), then complemented.  -0 is folded into +0 first
 * because the two compare equal. */
static inline uint32_t score_rank(float s)
{
    uint32_t u;
    s += 0.0f;
    memcpy(&u, &s, sizeof u);
    return ~((u & 0x80000000u) ? ~u : (u | 0x80000000u));
}

static inline float rank_score(uint32_t r)
{
    uint32_t m = ~r, u = (m & 0x80000000u) ? (m & 0x7fffffffu) : ~m;
    float s;
    memcpy(&s, &u, sizeof s);
    return s;
}

static inline hr_topkey make_key(float s, uint32_t index) { return (hr_topkey)score_rank(s) << 32 | index; }

void hr_topbuf_init(hr_topbuf *b, hr_topkey *storage, uint32_t n, uint32_t homecap)
{
    assert(homecap >= n);
    b->buf = b->home = storage;
    b->n = n;
    b->bufcap = b->homecap = homecap;
    b->size = 0;
    b->thr_key = UINT64_MAX;
    b->thr = -INFINITY;
}

static void insertion_sort(hr_topkey *a, uint32_t len)
{
    for (uint32_t i = 1; i < len; i++) {
        hr_topkey x = a[i];
        uint32_t j = i;
        for (; j > 0 && a[j - 1] > x; j--) a[j] = a[j - 1];
        a[j] = x;
    }
}

/* Lomuto partition of a[0..len) (len >= 3) around the median of a[0], a[len/2], a[len-1],
 * without a data-dependent branch (every element is swapped; only the counter moves by the
 * comparison): candidate keys arrive in random order, so a branch would mispredict half the
 * time and cost more than the swap.  Returns p: a[0..p) < a[p] = pivot <= a[p+1..len). */
static uint32_t partition_lomuto(hr_topkey *a, uint32_t len)
{
    uint32_t m = len / 2, l = len - 1, med;
    if (a[0] < a[m]) med = a[m] < a[l] ? m : (a[0] < a[l] ? l : 0);
    else med = a[0] < a[l] ? 0 : (a[m] < a[l] ? l : m);
    hr_topkey t = a[med];   /* the pivot waits at the end */
    a[med] = a[l];
    a[l] = t;
    hr_topkey piv = a[l];
    uint32_t lt = 0;
    for (uint32_t i = 0; i < l; i++) {
        hr_topkey x = a[i];
        a[i] = a[lt];
        a[lt] = x;
        lt += x < piv;
    }
    a[l] = a[lt];
    a[lt] = piv;
    return lt;
}

/* Afterwards a[0..k) hold the k smallest keys of a[0..len), in no particular order. */
static void select_smallest(hr_topkey *a, uint32_t len, uint32_t k)
{
    while (len > 16) {
        uint32_t p = partition_lomuto(a, len);
        if (k <= p) len = p;                    /* the boundary is left of the pivot */
        else if (k <= p + 1) return;            /* a[0..p] are the p + 1 smallest */
        else {
            a += p + 1;
            k -= p + 1;
            len -= p + 1;
        }
    }
    insertion_sort(a, len);
}

static void sort_keys(hr_topkey *a, uint32_t len)
{
    while (len > 16) {
        uint32_t p = partition_lomuto(a, len);
        /* recurse into the smaller side, loop on the larger: stack depth O(log len) */
        if (p < len - p - 1) {
            sort_keys(a, p);
            a += p + 1;
            len -= p + 1;
        } else {
            sort_keys(a + p + 1, len - p - 1);
            len = p;
        }
    }
    insertion_sort(a, len);
}

static hr_topkey max_key(const hr_topkey *a, uint32_t len)
{
    hr_topkey m = 0;
    for (uint32_t i = 0; i < len; i++) m = a[i] > m ? a[i] : m;
    return m;
}

/* Keep the best n; the worst of them becomes the bar a new entry must beat. */
static void compact(hr_topbuf *b)
{
    if (b->size <= b->n) return;
    select_smallest(b->buf, b->size, b->n);
    b->size = b->n;
    hr_topkey worst = max_key(b->buf, b->n);
    b->thr_key = worst;
    b->thr = rank_score((uint32_t)(worst >> 32));
}

static inline void topbuf_add(hr_topbuf *b, hr_topkey key)
{
    b->buf[b->size] = key;
    if (++b->size == b->bufcap) compact(b);
}

void hr_topbuf_borrow(hr_topbuf *b, hr_topkey *work, uint32_t workcap)
{
    assert(b->buf == b->home && workcap >= 2 * b->n && b->size <= b->n);
    memcpy(work, b->buf, b->size * sizeof *work);
    b->buf = work;
    b->bufcap = workcap;
}

void hr_topbuf_return(hr_topbuf *b)
{
    compact(b);
    memcpy(b->home, b->buf, b->size * sizeof *b->home);
    b->buf = b->home;
    b->bufcap = b->homecap;
}

void hr_topbuf_push(hr_topbuf *b, float score, uint32_t index)
{
    assert(b->n == 0 || b->bufcap >= 2 * b->n);   /* else compact() could not make room */
    if (b->n == 0 || isnan(score)) return;
    hr_topkey key = make_key(score, index);
    if (key < b->thr_key) topbuf_add(b, key);
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
/* Skip the 16-score chunks of [j, hi) with no score >= thr; return the first other chunk's
 * start (or the end) and, in *mask, which of its 16 scores are >= thr.  AVX2 when the CPU has
 * it (checked at run time), else SSE2.  (AVX-512 measured no faster here.) */
__attribute__((target("avx2"))) static uint32_t skip_below_avx2(const float *s, uint32_t j, uint32_t hi, float thr,
                                                                uint32_t *mask)
{
    __m256 t = _mm256_set1_ps(thr);
    for (; j + 16 <= hi; j += 16) {
        uint32_t m = (uint32_t)_mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(s + j), t, _CMP_GE_OQ)) |
                     (uint32_t)_mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(s + j + 8), t, _CMP_GE_OQ)) << 8;
        if (m) {
            *mask = m;
            return j;
        }
    }
    return j;
}
#endif

static uint32_t skip_below(const float *s, uint32_t j, uint32_t hi, float thr, uint32_t *mask)
{
#if defined(__x86_64__) && defined(__GNUC__)
    if (__builtin_cpu_supports("avx2")) return skip_below_avx2(s, j, hi, thr, mask);
#endif
#ifdef __SSE2__
    __m128 t = _mm_set1_ps(thr);
    for (; j + 16 <= hi; j += 16) {
        const float *q = s + j;
        uint32_t m = (uint32_t)_mm_movemask_ps(_mm_cmpge_ps(_mm_loadu_ps(q), t)) |
                     (uint32_t)_mm_movemask_ps(_mm_cmpge_ps(_mm_loadu_ps(q + 4), t)) << 4 |
                     (uint32_t)_mm_movemask_ps(_mm_cmpge_ps(_mm_loadu_ps(q + 8), t)) << 8 |
                     (uint32_t)_mm_movemask_ps(_mm_cmpge_ps(_mm_loadu_ps(q + 12), t)) << 12;
        if (m) {
            *mask = m;
            return j;
        }
    }
#else
    for (; j + 16 <= hi; j += 16) {
        uint32_t m = 0;
        for (uint32_t q = 0; q < 16; q++) m |= (uint32_t)(s[j + q] >= thr) << q;
        if (m) {
            *mask = m;
            return j;
        }
    }
#endif
    return j;
}

/* Largest sample a bar is taken from (on the stack): more would cost more than it saves. */
enum { BAR_SAMPLE_MAX = 4096 };

/* The bar from m sample keys of real, allowed items (scores only; the sampled items will be
 * pushed again): their n-th best score, lowered by slack, which every score equal to it passes.
 * The final n-th best can only be higher, so no true answer is turned away.  tmp is reordered. */
static void raise_bar(hr_topbuf *b, hr_topkey *tmp, uint32_t m, float slack)
{
    if (m < b->n) return;
    select_smallest(tmp, m, b->n);
    float t = rank_score((uint32_t)(max_key(tmp, b->n) >> 32)) - slack;
    if (isnan(t)) return;   /* cannot happen for finite slack; keeps the bar well defined */
    b->thr = t;
    b->thr_key = (hr_topkey)(score_rank(t) + 1u) << 32;
}

static void topbuf_range(hr_topbuf *b, const float *scores, uint32_t first_index, uint32_t lo, uint32_t hi)
{
    uint32_t j = lo;
    for (;;) {
        uint32_t mask = 0;
        j = skip_below(scores, j, hi, b->thr, &mask);
        if (j + 16 > hi) break;
        /* Only the lanes at or above the score bar (NaN never is); the bar only rises, so the
         * mask may hold lanes that no longer qualify: the key decides. */
        while (mask) {
            uint32_t jj = j + (uint32_t)__builtin_ctz(mask);
            mask &= mask - 1;
            hr_topkey key = make_key(scores[jj], first_index + jj);
            if (key < b->thr_key) topbuf_add(b, key);
        }
        j += 16;
    }
    for (; j < hi; j++)
        if (scores[j] >= b->thr) {
            hr_topkey key = make_key(scores[j], first_index + j);
            if (key < b->thr_key) topbuf_add(b, key);
        }
}

void hr_topbuf_push_row(hr_topbuf *b, const float *scores, uint32_t first_index, uint32_t count,
                        const uint32_t *excluded, size_t n_excluded)
{
    assert(b->n == 0 || b->bufcap >= 2 * b->n);
    if (b->n == 0 || count == 0) return;
    size_t lo = hr_topk_first_excluded(excluded, n_excluded, first_index);
    uint64_t end = (uint64_t)first_index + count;
    /* The first row seen, and plenty of it: its n-th best allowed score becomes the bar (the
     * final n-th best can only be higher), so the scan admits about n candidates instead of
     * filling and compacting the buffer over and over.  Excluded items are left out of the
     * estimate: counting them could raise the bar above a true answer. */
    if (b->thr_key == UINT64_MAX && b->size == 0 && count >= 2 * b->n && count <= BAR_SAMPLE_MAX) {
        hr_topkey tmp[BAR_SAMPLE_MAX];
        uint32_t m = 0;
        size_t x = lo;
        for (uint32_t q = 0; q < count; q++) {
            if (x < n_excluded && excluded[x] == first_index + q) {
                x++;
                continue;
            }
            if (!isnan(scores[q])) tmp[m++] = make_key(scores[q], 0);
        }
        raise_bar(b, tmp, m, 0.0f);
    }
    uint32_t pos = 0;
    for (size_t x = lo; x < n_excluded && excluded[x] < end; x++) {
        uint32_t cut = excluded[x] - first_index;
        topbuf_range(b, scores, first_index, pos, cut);
        pos = cut + 1;
    }
    topbuf_range(b, scores, first_index, pos, count);
}

/* One candidate of hr_topbuf_push_ids: the key first (cheap, usually decides), then the
 * exclusions, which only the few candidates that would enter pay for. */
static inline void admit_id(hr_topbuf *b, float s, uint32_t id, const uint32_t *excluded, size_t n_excluded,
                            const uint8_t *banned)
{
    hr_topkey key = make_key(s, id);
    if (key >= b->thr_key || (banned && banned[id])) return;
    if (n_excluded) {
        size_t x = hr_topk_first_excluded(excluded, n_excluded, id);
        if (x < n_excluded && excluded[x] == id) return;
    }
    topbuf_add(b, key);
}

void hr_topbuf_push_ids(hr_topbuf *b, const float *scores, const uint32_t *ids, uint32_t count,
                        const uint32_t *excluded, size_t n_excluded, const uint8_t *banned)
{
    assert(b->n == 0 || b->bufcap >= 2 * b->n);
    if (b->n == 0 || count == 0) return;
    uint32_t j = 0;
    for (;;) {
        uint32_t mask = 0;
        j = skip_below(scores, j, count, b->thr, &mask);
        if (j + 16 > count) break;
        while (mask) {
            uint32_t jj = j + (uint32_t)__builtin_ctz(mask);
            mask &= mask - 1;
            admit_id(b, scores[jj], ids[jj], excluded, n_excluded, banned);
        }
        j += 16;
    }
    for (; j < count; j++)
        if (scores[j] >= b->thr) admit_id(b, scores[j], ids[j], excluded, n_excluded, banned);
}

void hr_topbuf_seed(hr_topbuf *b, const float *scores, const uint32_t *idx, uint32_t count, float slack,
                    const uint32_t *excluded, size_t n_excluded)
{
    if (b->n == 0 || b->size != 0 || b->thr_key != UINT64_MAX || count < b->n) return;
    if (count > BAR_SAMPLE_MAX) count = BAR_SAMPLE_MAX;   /* a subset is still safe */
    hr_topkey tmp[BAR_SAMPLE_MAX];
    uint32_t m = 0;
    size_t x = 0;
    for (uint32_t q = 0; q < count; q++) {
        while (x < n_excluded && excluded[x] < idx[q]) x++;
        if ((x < n_excluded && excluded[x] == idx[q]) || isnan(scores[q])) continue;
        tmp[m++] = make_key(scores[q], 0);
    }
    raise_bar(b, tmp, m, slack);
}

uint32_t hr_topbuf_sorted(hr_topbuf *b, uint32_t *out_idx, float *out_score)
{
    compact(b);
    sort_keys(b->buf, b->size);
    uint32_t n = b->size;
    for (uint32_t i = 0; i < n; i++) {
        out_idx[i] = (uint32_t)b->buf[i];
        if (out_score) out_score[i] = rank_score((uint32_t)(b->buf[i] >> 32));
    }
    b->size = 0;
    b->thr_key = UINT64_MAX;
    b->thr = -INFINITY;
    b->buf = b->home;
    b->bufcap = b->homecap;
    return n;
}
