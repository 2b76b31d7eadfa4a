/* tests/unit/test_topk.c — top-N selection (heap and buffer) against a full sort, ties, NaN,
 * exclusions, merge. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/rng.h"
#include "solvers/topk.h"

/* Reference order: higher score first, then lower index. */
static int cmp_ref(const void *a, const void *b)
{
    const hr_topk_entry *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return (x->index > y->index) - (x->index < y->index);
}

/* Oracle: the best n non-NaN, non-excluded entries of scores (items first..first+count). */
static uint32_t ref_topk(const float *scores, uint32_t first, uint32_t count, const uint8_t *excl,
                         uint32_t n, uint32_t *out_idx, float *out_score)
{
    hr_topk_entry *all = hr_malloc((count + 1) * sizeof *all);
    uint32_t m = 0;
    for (uint32_t j = 0; j < count; j++) {
        if (isnan(scores[j]) || (excl && excl[j])) continue;
        all[m++] = (hr_topk_entry){ scores[j], first + j };
    }
    qsort(all, m, sizeof *all, cmp_ref);
    uint32_t got = m < n ? m : n;
    for (uint32_t i = 0; i < got; i++) {
        out_idx[i] = all[i].index;
        out_score[i] = all[i].score;
    }
    hr_free(all);
    return got;
}

static void test_basic_order(void **state)
{
    (void)state;
    const float s[] = { 0.5f, 2.0f, -1.0f, 3.0f, 1.0f, 2.5f };
    hr_topk_entry store[3];
    hr_topk h;
    hr_topk_init(&h, store, 3);
    hr_topk_push_row(&h, s, 10, 6, NULL, 0);
    uint32_t idx[3];
    float sc[3];
    assert_int_equal(hr_topk_sorted(&h, idx, sc), 3);
    assert_int_equal(idx[0], 13);
    assert_int_equal(idx[1], 15);
    assert_int_equal(idx[2], 11);
    assert_true(sc[0] == 3.0f && sc[1] == 2.5f && sc[2] == 2.0f);
    /* sorted() empties the selection for the next user */
    assert_int_equal(h.size, 0);
    assert_int_equal(hr_topk_sorted(&h, idx, NULL), 0);
}

static void test_ties_lower_index_first(void **state)
{
    (void)state;
    float s[8];
    for (int j = 0; j < 8; j++) s[j] = 1.0f;
    hr_topk_entry store[3];
    hr_topk h;
    hr_topk_init(&h, store, 3);
    hr_topk_push_row(&h, s, 100, 8, NULL, 0);
    uint32_t idx[3];
    assert_int_equal(hr_topk_sorted(&h, idx, NULL), 3);
    assert_int_equal(idx[0], 100);
    assert_int_equal(idx[1], 101);
    assert_int_equal(idx[2], 102);

    /* Same multiset offered in descending index order: the result must not change. */
    for (int j = 7; j >= 0; j--) hr_topk_push(&h, 1.0f, 100 + (uint32_t)j);
    assert_int_equal(hr_topk_sorted(&h, idx, NULL), 3);
    assert_int_equal(idx[0], 100);
    assert_int_equal(idx[1], 101);
    assert_int_equal(idx[2], 102);

    /* A later block with a tie at the threshold but a lower index replaces the root. */
    const float hi_block[] = { 1.0f, 1.0f };
    const float lo_block[] = { 1.0f, 0.5f };
    hr_topk_push_row(&h, hi_block, 50, 2, NULL, 0);  /* keeps 50, 51 */
    hr_topk_push(&h, 1.0f, 60);                       /* third: 60 */
    hr_topk_push_row(&h, lo_block, 10, 2, NULL, 0);  /* 10 ties and beats 60 */
    assert_int_equal(hr_topk_sorted(&h, idx, NULL), 3);
    assert_int_equal(idx[0], 10);
    assert_int_equal(idx[1], 50);
    assert_int_equal(idx[2], 51);
}

static void test_nan_and_inf(void **state)
{
    (void)state;
    const float s[] = { NAN, -INFINITY, NAN, 2.0f, NAN };
    hr_topk_entry store[4];
    hr_topk h;
    hr_topk_init(&h, store, 4);
    hr_topk_push_row(&h, s, 0, 5, NULL, 0);
    uint32_t idx[4];
    float sc[4];
    assert_int_equal(hr_topk_sorted(&h, idx, sc), 2);
    assert_int_equal(idx[0], 3);
    assert_int_equal(idx[1], 1);
    assert_true(isinf(sc[1]) && sc[1] < 0);

    /* NaN also never displaces a full selection. */
    hr_topk_init(&h, store, 1);
    hr_topk_push(&h, -5.0f, 7);
    hr_topk_push(&h, NAN, 1);
    hr_topk_push_row(&h, s, 0, 1, NULL, 0);
    assert_int_equal(hr_topk_sorted(&h, idx, sc), 1);
    assert_int_equal(idx[0], 7);
}

static void test_zero_capacity(void **state)
{
    (void)state;
    const float s[] = { 1.0f, 2.0f };
    hr_topk h;
    hr_topk_init(&h, NULL, 0);
    hr_topk_push_row(&h, s, 0, 2, NULL, 0);
    hr_topk_push_row_masked(&h, s, 0, 2, NULL);
    hr_topk_push(&h, 3.0f, 9);
    uint32_t idx[1];
    assert_int_equal(hr_topk_sorted(&h, idx, NULL), 0);
}

static void test_exclusion_list(void **state)
{
    (void)state;
    const float s[] = { 9, 8, 7, 6, 5, 4 };  /* items 20..25 */
    /* 3 and 40 lie outside the row and are ignored; 20, 22 are excluded. */
    const uint32_t excl[] = { 3, 20, 22, 40 };
    hr_topk_entry store[3];
    hr_topk h;
    hr_topk_init(&h, store, 3);
    hr_topk_push_row(&h, s, 20, 6, excl, 4);
    uint32_t idx[3];
    assert_int_equal(hr_topk_sorted(&h, idx, NULL), 3);
    assert_int_equal(idx[0], 21);
    assert_int_equal(idx[1], 23);
    assert_int_equal(idx[2], 24);

    /* Exclusion of the last item of the row, and of everything. */
    const uint32_t excl2[] = { 20, 21, 22, 23, 24, 25 };
    hr_topk_push_row(&h, s, 20, 6, excl2, 6);
    assert_int_equal(hr_topk_sorted(&h, idx, NULL), 0);
    const uint32_t excl3[] = { 25 };
    hr_topk_init(&h, store, 3);
    const float up[] = { 1, 2, 3, 4, 5, 6 };
    hr_topk_push_row(&h, up, 20, 6, excl3, 1);
    assert_int_equal(hr_topk_sorted(&h, idx, NULL), 3);
    assert_int_equal(idx[0], 24);
}

/* Random rows with ties (quantized scores), NaNs, exclusions, split into random blocks. */
static void test_random_vs_sort(void **state)
{
    (void)state;
    enum { MAXC = 400 };
    float *s = hr_malloc(MAXC * sizeof *s);
    uint8_t *mask = hr_malloc(MAXC);
    uint32_t *excl = hr_malloc(MAXC * sizeof *excl);
    hr_topk_entry *store = hr_malloc((MAXC + 8) * sizeof *store);
    uint32_t *got = hr_malloc((MAXC + 8) * sizeof *got), *want = hr_malloc((MAXC + 8) * sizeof *want);
    float *gs = hr_malloc((MAXC + 8) * sizeof *gs), *ws = hr_malloc((MAXC + 8) * sizeof *ws);
    hr_rng g = hr_rng_stream(12345, HR_STREAM_GEN, 0);
    const uint32_t counts[] = { 0, 1, 2, 3, 7, 16, 33, 100, 257, MAXC };
    for (size_t ci = 0; ci < sizeof counts / sizeof counts[0]; ci++) {
        const uint32_t count = counts[ci];
        for (int trial = 0; trial < 20; trial++) {
            const uint32_t first = (uint32_t)hr_rng_below(&g, 1000);
            const int levels = trial % 2 ? 5 : 1000000;  /* many ties vs few */
            uint32_t n_excl = 0;
            for (uint32_t j = 0; j < count; j++) {
                s[j] = (float)hr_rng_below(&g, (uint64_t)levels) - levels / 2.0f;
                if (hr_rng_below(&g, 10) == 0) s[j] = NAN;
                mask[j] = trial % 3 != 0 && hr_rng_below(&g, 5) == 0;
                if (mask[j]) excl[n_excl++] = first + j;
            }
            const uint32_t ns[] = { 0, 1, 2, 5, 17, count, count + 5 };
            for (size_t ni = 0; ni < sizeof ns / sizeof ns[0]; ni++) {
                const uint32_t n = ns[ni];
                uint32_t wn = ref_topk(s, first, count, mask, n, want, ws);

                /* 1: exclusion list, random block split. */
                hr_topk h;
                hr_topk_init(&h, store, n);
                uint32_t pos = 0;
                while (pos < count) {
                    uint32_t len = 1 + (uint32_t)hr_rng_below(&g, count - pos);
                    hr_topk_push_row(&h, s + pos, first + pos, len, excl, n_excl);
                    pos += len;
                }
                uint32_t gn = hr_topk_sorted(&h, got, gs);
                assert_int_equal(gn, wn);
                assert_memory_equal(got, want, wn * sizeof *got);
                assert_memory_equal(gs, ws, wn * sizeof *gs);

                /* 2: byte mask, whole row at once. */
                hr_topk_push_row_masked(&h, s, first, count, mask);
                gn = hr_topk_sorted(&h, got, gs);
                assert_int_equal(gn, wn);
                assert_memory_equal(got, want, wn * sizeof *got);

                /* 3: one pair at a time, reversed order. */
                for (uint32_t j = count; j-- > 0;)
                    if (!mask[j]) hr_topk_push(&h, s[j], first + j);
                gn = hr_topk_sorted(&h, got, NULL);
                assert_int_equal(gn, wn);
                assert_memory_equal(got, want, wn * sizeof *got);
            }
        }
    }
    hr_free(s); hr_free(mask); hr_free(excl); hr_free(store);
    hr_free(got); hr_free(want); hr_free(gs); hr_free(ws);
}

/* Push a row in random blocks, as the ring's tiles arrive; with `work`, each block borrows it as
 * the working buffer and returns the best home afterwards (home then needs only n keys). */
static void push_in_blocks(hr_rng *g, hr_topbuf *b, const float *s, uint32_t first, uint32_t count,
                           const uint32_t *excl, uint32_t n_excl, hr_topkey *work)
{
    uint32_t pos = 0;
    while (pos < count) {
        uint32_t len = 1 + (uint32_t)hr_rng_below(g, count - pos);
        if (work) hr_topbuf_borrow(b, work, 2 * b->n);
        hr_topbuf_push_row(b, s + pos, first + pos, len, excl, n_excl);
        if (work) hr_topbuf_return(b);
        pos += len;
    }
}

/* hr_topbuf against the oracle: long rows (the first row seeds the bar when it holds 2n..4096
 * scores), random block splits, exclusions, ties, NaN, infinities and signed zeros. */
static void test_topbuf_vs_sort(void **state)
{
    (void)state;
    enum { MAXC = 6000 };
    float *s = hr_malloc(MAXC * sizeof *s), *gs = hr_malloc(MAXC * sizeof *gs), *ws = hr_malloc(MAXC * sizeof *ws);
    uint8_t *mask = hr_malloc(MAXC);
    uint32_t *excl = hr_malloc(MAXC * sizeof *excl), *got = hr_malloc(MAXC * sizeof *got),
             *want = hr_malloc(MAXC * sizeof *want);
    hr_topkey *store = hr_malloc(4 * MAXC * sizeof *store);
    hr_rng g = hr_rng_stream(99, HR_STREAM_GEN, 2);
    const uint32_t counts[] = { 0, 1, 5, 40, 199, 200, 513, 4096, MAXC };
    for (size_t ci = 0; ci < sizeof counts / sizeof counts[0]; ci++) {
        const uint32_t count = counts[ci];
        for (int trial = 0; trial < 12; trial++) {
            const uint32_t first = (uint32_t)hr_rng_below(&g, 100000);
            const int levels = trial % 3 == 0 ? 4 : trial % 3 == 1 ? 300 : 10000000;
            uint32_t n_excl = 0;
            for (uint32_t j = 0; j < count; j++) {
                s[j] = ((float)hr_rng_below(&g, (uint64_t)levels) - levels / 2.0f) / 7.0f;
                uint64_t r = hr_rng_below(&g, 50);
                if (r == 0) s[j] = NAN;
                if (r == 1) s[j] = -INFINITY;
                if (r == 2) s[j] = INFINITY;
                if (r == 3) s[j] = -0.0f;
                if (r == 4) s[j] = 0.0f;
                mask[j] = trial % 4 != 0 && hr_rng_below(&g, 8) == 0;
                if (mask[j]) excl[n_excl++] = first + j;
            }
            const uint32_t ns[] = { 1, 3, 10, 100, count };
            for (size_t ni = 0; ni < sizeof ns / sizeof ns[0]; ni++) {
                const uint32_t n = ns[ni];
                if (n == 0) continue;
                uint32_t wn = ref_topk(s, first, count, mask, n, want, ws);
                for (int mode = 0; mode < 4; mode++) {
                    hr_topbuf b;
                    hr_topbuf_init(&b, store, n, mode == 3 ? n : (mode == 2 ? 3 : 2) * n);
                    if (mode == 0) {
                        hr_topbuf_push_row(&b, s, first, count, excl, n_excl);   /* one row: seeds */
                    } else if (mode == 1) {
                        push_in_blocks(&g, &b, s, first, count, excl, n_excl, NULL);
                    } else if (mode == 2) {
                        for (uint32_t j = count; j-- > 0;)
                            if (!mask[j]) hr_topbuf_push(&b, s[j], first + j);
                    } else {   /* home holds n: borrow a working buffer per block, as the ring does */
                        push_in_blocks(&g, &b, s, first, count, excl, n_excl, store + MAXC);
                    }
                    uint32_t gn = hr_topbuf_sorted(&b, got, gs);
                    assert_int_equal(gn, wn);
                    assert_memory_equal(got, want, wn * sizeof *got);
                    for (uint32_t i = 0; i < wn; i++) assert_true(gs[i] == ws[i]);
                    assert_int_equal(hr_topbuf_sorted(&b, got, gs), 0);   /* emptied */
                }
            }
        }
    }
    hr_free(s); hr_free(gs); hr_free(ws); hr_free(mask);
    hr_free(excl); hr_free(got); hr_free(want); hr_free(store);
}

/* hr_topbuf_seed: a bar from probe scores that differ from the pushed ones by up to the slack
 * (as a second SGEMM rounds them) never loses a true answer.  Excluded probes are skipped:
 * here they score far above everything, so counting one would raise the bar too high. */
static void test_topbuf_seed(void **state)
{
    (void)state;
    enum { C = 3000 };
    float *s = hr_malloc(C * sizeof *s), *ps = hr_malloc(C * sizeof *ps), *gs = hr_malloc(C * sizeof *gs),
          *ws = hr_malloc(C * sizeof *ws);
    uint8_t *mask = hr_malloc(C);
    uint32_t *excl = hr_malloc(C * sizeof *excl), *pidx = hr_malloc(C * sizeof *pidx), *got = hr_malloc(C * sizeof *got),
             *want = hr_malloc(C * sizeof *want);
    hr_topkey *store = hr_malloc(4 * C * sizeof *store);
    hr_rng g = hr_rng_stream(5, HR_STREAM_GEN, 3);
    for (int trial = 0; trial < 200; trial++) {
        const uint32_t first = (uint32_t)hr_rng_below(&g, 1000);
        const uint32_t n = 1 + (uint32_t)hr_rng_below(&g, 150);
        const float slack = trial % 3 == 0 ? 0.0f : 0.01f;
        const int levels = trial % 2 ? 50 : 1000000;
        uint32_t n_excl = 0, np = 0;
        for (uint32_t j = 0; j < C; j++) {
            s[j] = (float)hr_rng_below(&g, (uint64_t)levels) / (float)levels;
            if (hr_rng_below(&g, 100) == 0) s[j] = NAN;
            mask[j] = hr_rng_below(&g, 20) == 0;
            if (mask[j]) excl[n_excl++] = first + j;
            if (hr_rng_below(&g, 4) == 0) {   /* a probe: the score again, off by up to the slack */
                double d = ((double)hr_rng_below(&g, 2001) / 1000.0 - 1.0) * slack;
                ps[np] = mask[j] ? 1e6f : s[j] + (float)d;
                pidx[np++] = first + j;
            }
        }
        uint32_t wn = ref_topk(s, first, C, mask, n, want, ws);
        hr_topbuf b;
        hr_topbuf_init(&b, store, n, n);
        hr_topbuf_seed(&b, ps, pidx, np, slack, excl, n_excl);
        if (np >= n + n_excl) assert_true(b.thr > -INFINITY);   /* it did set a bar */
        push_in_blocks(&g, &b, s, first, C, excl, n_excl, store + C);
        uint32_t gn = hr_topbuf_sorted(&b, got, gs);
        assert_int_equal(gn, wn);
        assert_memory_equal(got, want, wn * sizeof *got);
    }
    hr_free(s); hr_free(ps); hr_free(gs); hr_free(ws); hr_free(mask);
    hr_free(excl); hr_free(pidx); hr_free(got); hr_free(want); hr_free(store);
}

static void test_merge_lists(void **state)
{
    (void)state;
    /* Hand case with a tie across lists: (2.0, 7) in a, (2.0, 3) in b -> 3 first. */
    const uint32_t ai[] = { 1, 7, 9 };
    const float as[] = { 5.0f, 2.0f, 1.0f };
    const uint32_t bi[] = { 4, 3, 8 };
    const float bs[] = { 3.0f, 2.0f, -1.0f };
    uint32_t oi[6];
    float os[6];
    assert_int_equal(hr_topk_merge_lists(ai, as, 3, bi, bs, 3, 4, oi, os), 4);
    const uint32_t want4[] = { 1, 4, 3, 7 };
    assert_memory_equal(oi, want4, sizeof want4);
    assert_true(os[3] == 2.0f);
    assert_int_equal(hr_topk_merge_lists(ai, as, 3, bi, bs, 3, 10, oi, NULL), 6);
    const uint32_t want6[] = { 1, 4, 3, 7, 9, 8 };
    assert_memory_equal(oi, want6, sizeof want6);
    assert_int_equal(hr_topk_merge_lists(ai, as, 0, bi, bs, 2, 10, oi, os), 2);
    assert_int_equal(oi[0], 4);
    assert_int_equal(hr_topk_merge_lists(ai, as, 3, bi, bs, 3, 0, oi, os), 0);

    /* Random: top-N of two disjoint item blocks merged == top-N of the whole row. */
    enum { C = 300 };
    float s[C];
    uint8_t none[C];
    memset(none, 0, sizeof none);
    hr_topk_entry store[64];
    uint32_t xi[64], yi[64], mi[64], wi[64];
    float xs[64], ys[64], ms[64], wsc[64];
    hr_rng g = hr_rng_stream(7, HR_STREAM_GEN, 1);
    for (int trial = 0; trial < 50; trial++) {
        for (int j = 0; j < C; j++) s[j] = (float)hr_rng_below(&g, 20);
        const uint32_t split = (uint32_t)hr_rng_below(&g, C + 1);
        const uint32_t n = 1 + (uint32_t)hr_rng_below(&g, 64);
        hr_topk h;
        hr_topk_init(&h, store, n);
        hr_topk_push_row(&h, s, 0, split, NULL, 0);
        uint32_t nx = hr_topk_sorted(&h, xi, xs);
        hr_topk_push_row(&h, s + split, split, C - split, NULL, 0);
        uint32_t ny = hr_topk_sorted(&h, yi, ys);
        /* merge in both argument orders */
        uint32_t nm = hr_topk_merge_lists(yi, ys, ny, xi, xs, nx, n, mi, ms);
        uint32_t nw = ref_topk(s, 0, C, none, n, wi, wsc);
        assert_int_equal(nm, nw);
        assert_memory_equal(mi, wi, nw * sizeof *mi);
        nm = hr_topk_merge_lists(xi, xs, nx, yi, ys, ny, n, mi, ms);
        assert_memory_equal(mi, wi, nw * sizeof *mi);
        assert_memory_equal(ms, wsc, nw * sizeof *ms);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic_order),
        cmocka_unit_test(test_ties_lower_index_first),
        cmocka_unit_test(test_nan_and_inf),
        cmocka_unit_test(test_zero_capacity),
        cmocka_unit_test(test_exclusion_list),
        cmocka_unit_test(test_random_vs_sort),
        cmocka_unit_test(test_topbuf_vs_sort),
        cmocka_unit_test(test_topbuf_seed),
        cmocka_unit_test(test_merge_lists),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
