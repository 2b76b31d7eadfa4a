/* tests/unit/test_metrics.c — every metric against hand-computed cases, merging, segments,
 * and the paired bootstrap. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "core/rng.h"
#include "solvers/metrics.h"

#define EPS 1e-12
static void near(double got, double want)
{
    if (fabs(got - want) > EPS * (1 + fabs(want)))
        fail_msg("got %.17g, want %.17g", got, want);
}

static const uint32_t CUTS[] = { 1, 3, 5, 10 };

static void test_rank_hand_case(void **state)
{
    (void)state;
    hr_rank_acc acc;
    hr_error err = { 0 };
    assert_int_equal(hr_metrics_init_rank(&acc, CUTS, 4, &err), 0);
    const uint32_t rel[] = { 2, 5, 9 };
    const uint32_t list[] = { 5, 1, 2, 7, 9 };  /* hits at ranks 1, 3, 5; list shorter than 10 */
    double v[HR_RANK_NSUM];
    assert_int_equal(hr_metrics_add_user(&acc, list, 5, rel, 3, v), 1);

    /* K = 1 */
    near(v[HR_RANK_AT(0, HR_RANK_PRECISION)], 1.0);
    near(v[HR_RANK_AT(0, HR_RANK_RECALL)], 1.0 / 3);
    near(v[HR_RANK_AT(0, HR_RANK_HIT)], 1.0);
    near(v[HR_RANK_AT(0, HR_RANK_NDCG)], 1.0);
    near(v[HR_RANK_AT(0, HR_RANK_MAP)], 1.0);  /* (1/min(3,1)) * P@1 */
    near(v[HR_RANK_AT(0, HR_RANK_MRR)], 1.0);
    /* K = 3 */
    near(v[HR_RANK_AT(1, HR_RANK_PRECISION)], 2.0 / 3);
    near(v[HR_RANK_AT(1, HR_RANK_RECALL)], 2.0 / 3);
    near(v[HR_RANK_AT(1, HR_RANK_HIT)], 1.0);
    near(v[HR_RANK_AT(1, HR_RANK_NDCG)],
         (1 + 1 / log2(4)) / (1 + 1 / log2(3) + 1 / log2(4)));
    near(v[HR_RANK_AT(1, HR_RANK_MAP)], (1.0 / 1 + 2.0 / 3) / 3);
    near(v[HR_RANK_AT(1, HR_RANK_MRR)], 1.0);
    /* K = 5 */
    near(v[HR_RANK_AT(2, HR_RANK_PRECISION)], 3.0 / 5);
    near(v[HR_RANK_AT(2, HR_RANK_RECALL)], 1.0);
    near(v[HR_RANK_AT(2, HR_RANK_NDCG)],
         (1 + 1 / log2(4) + 1 / log2(6)) / (1 + 1 / log2(3) + 1 / log2(4)));
    near(v[HR_RANK_AT(2, HR_RANK_MAP)], (1.0 + 2.0 / 3 + 3.0 / 5) / 3);
    /* K = 10 > L = 5: missing positions are misses, precision still divides by 10 */
    near(v[HR_RANK_AT(3, HR_RANK_PRECISION)], 3.0 / 10);
    near(v[HR_RANK_AT(3, HR_RANK_RECALL)], 1.0);
    near(v[HR_RANK_AT(3, HR_RANK_HIT)], 1.0);
    near(v[HR_RANK_AT(3, HR_RANK_NDCG)],
         (1 + 1 / log2(4) + 1 / log2(6)) / (1 + 1 / log2(3) + 1 / log2(4)));
    near(v[HR_RANK_AT(3, HR_RANK_MAP)], (1.0 + 2.0 / 3 + 3.0 / 5) / 3);
    near(v[HR_RANK_MRR_FULL], 1.0);
    /* unused cutoff slots stay 0 */
    near(v[HR_RANK_AT(4, HR_RANK_PRECISION)], 0.0);
}

static void test_rank_fewer_relevant_than_k(void **state)
{
    (void)state;
    hr_rank_acc acc;
    assert_int_equal(hr_metrics_init_rank(&acc, CUTS, 4, NULL), 0);
    const uint32_t rel[] = { 7 };
    const uint32_t list[] = { 1, 7, 3, 4, 6, 8, 10, 11, 12, 13 };
    double v[HR_RANK_NSUM];
    assert_int_equal(hr_metrics_add_user(&acc, list, 10, rel, 1, v), 1);
    near(v[HR_RANK_AT(0, HR_RANK_PRECISION)], 0.0);
    near(v[HR_RANK_AT(0, HR_RANK_HIT)], 0.0);
    near(v[HR_RANK_AT(0, HR_RANK_NDCG)], 0.0);
    near(v[HR_RANK_AT(0, HR_RANK_MRR)], 0.0);
    near(v[HR_RANK_AT(1, HR_RANK_PRECISION)], 1.0 / 3);
    near(v[HR_RANK_AT(1, HR_RANK_RECALL)], 1.0);
    near(v[HR_RANK_AT(1, HR_RANK_NDCG)], 1 / log2(3));  /* IDCG@3 uses min(1,3) = 1 hit */
    near(v[HR_RANK_AT(1, HR_RANK_MAP)], 0.5);           /* (1/min(1,3)) * P@2 */
    near(v[HR_RANK_AT(1, HR_RANK_MRR)], 0.5);
    near(v[HR_RANK_AT(3, HR_RANK_PRECISION)], 1.0 / 10);
    near(v[HR_RANK_AT(3, HR_RANK_NDCG)], 1 / log2(3));
    near(v[HR_RANK_MRR_FULL], 0.5);

    /* First hit beyond the largest cutoff: only the whole-list MRR sees it. */
    const uint32_t rel2[] = { 100 };
    uint32_t longl[12];
    for (uint32_t r = 0; r < 12; r++) longl[r] = 90 + r;  /* 100 at rank 11 */
    assert_int_equal(hr_metrics_add_user(&acc, longl, 12, rel2, 1, v), 1);
    near(v[HR_RANK_AT(3, HR_RANK_MRR)], 0.0);
    near(v[HR_RANK_AT(3, HR_RANK_HIT)], 0.0);
    near(v[HR_RANK_MRR_FULL], 1.0 / 11);
    /* Hit at rank 9 <= 10: mrr@10 = 1/9, mrr@5 = 0 */
    const uint32_t rel3[] = { 98 };
    assert_int_equal(hr_metrics_add_user(&acc, longl, 12, rel3, 1, v), 1);
    near(v[HR_RANK_AT(2, HR_RANK_MRR)], 0.0);
    near(v[HR_RANK_AT(3, HR_RANK_MRR)], 1.0 / 9);
    near(v[HR_RANK_AT(3, HR_RANK_NDCG)], 1 / log2(10));
    near(v[HR_RANK_AT(3, HR_RANK_MAP)], 1.0 / 9);
    near(v[HR_RANK_MRR_FULL], 1.0 / 9);
}

static void test_rank_skip_empty_and_means(void **state)
{
    (void)state;
    hr_rank_acc a, b, all;
    const uint32_t cuts[] = { 2 };
    assert_int_equal(hr_metrics_init_rank(&a, cuts, 1, NULL), 0);
    assert_int_equal(hr_metrics_init_rank(&b, cuts, 1, NULL), 0);
    assert_int_equal(hr_metrics_init_rank(&all, cuts, 1, NULL), 0);
    const uint32_t l1[] = { 4, 2 }, r1[] = { 2, 3 };  /* hit at rank 2 */
    const uint32_t l2[] = { 1, 6 }, r2[] = { 1 };     /* hit at rank 1 */
    const uint32_t l3[] = { 8 };                        /* no test items: skipped */
    double v[HR_RANK_NSUM];
    v[0] = 42;
    assert_int_equal(hr_metrics_add_user(&a, l3, 1, NULL, 0, v), 0);
    near(v[0], 0.0);
    assert_int_equal(hr_metrics_add_user(&a, l1, 2, r1, 2, NULL), 1);
    assert_int_equal(hr_metrics_add_user(&b, l2, 2, r2, 1, NULL), 1);
    assert_int_equal(hr_metrics_add_user(&b, NULL, 0, r2, 1, NULL), 1);  /* empty list */
    hr_metrics_merge_rank(&all, &a);
    hr_metrics_merge_rank(&all, &b);
    hr_rank_means m;
    hr_metrics_finalize_rank(&all, &m);
    assert_int_equal(m.users_evaluated, 3);
    assert_int_equal(m.users_skipped_no_test, 1);
    assert_int_equal(m.cutoffs[0], 2);
    near(m.at[0][HR_RANK_PRECISION], (0.5 + 0.5 + 0) / 3);
    near(m.at[0][HR_RANK_RECALL], (0.5 + 1 + 0) / 3);
    near(m.at[0][HR_RANK_HIT], 2.0 / 3);
    near(m.at[0][HR_RANK_NDCG],
         ((1 / log2(3)) / (1 + 1 / log2(3)) + 1.0 + 0) / 3);
    near(m.at[0][HR_RANK_MAP], (0.5 / 2 + 1.0 + 0) / 3);
    near(m.mrr, (0.5 + 1 + 0) / 3);
    assert_string_equal(hr_metrics_rank_name(HR_RANK_NDCG), "ndcg");
    assert_string_equal(hr_metrics_rank_name(HR_RANK_HIT), "hr");

    /* No evaluated users: means are 0, not NaN. */
    hr_rank_acc e;
    hr_metrics_init_rank(&e, cuts, 1, NULL);
    hr_metrics_finalize_rank(&e, &m);
    assert_int_equal(m.users_evaluated, 0);
    near(m.at[0][HR_RANK_NDCG], 0.0);
}

static void test_cutoff_validation(void **state)
{
    (void)state;
    hr_rank_acc acc;
    hr_beyond_acc bacc;
    hr_error err = { 0 };
    const uint32_t bad1[] = { 10, 5 }, bad2[] = { 0, 5 }, bad3[] = { 5, 5 };
    uint32_t many[HR_METRICS_MAX_CUTOFFS + 1];
    for (uint32_t i = 0; i <= HR_METRICS_MAX_CUTOFFS; i++) many[i] = i + 1;
    assert_int_equal(hr_metrics_init_rank(&acc, bad1, 2, &err), HR_ERR_ARG);
    assert_non_null(strstr(err.msg, "increasing"));
    assert_int_equal(hr_metrics_init_rank(&acc, bad2, 2, &err), HR_ERR_ARG);
    assert_int_equal(hr_metrics_init_rank(&acc, bad3, 2, &err), HR_ERR_ARG);
    assert_int_equal(hr_metrics_init_rank(&acc, many, 0, &err), HR_ERR_ARG);
    assert_int_equal(hr_metrics_init_rank(&acc, many, HR_METRICS_MAX_CUTOFFS + 1, &err), HR_ERR_ARG);
    assert_int_equal(hr_metrics_init_rank(&acc, many, HR_METRICS_MAX_CUTOFFS, &err), 0);
    assert_int_equal(hr_metrics_init_beyond(&bacc, bad1, 2, &err), HR_ERR_ARG);
}

static void test_rating(void **state)
{
    (void)state;
    hr_rating_acc a, b;
    hr_metrics_init_rating(&a);
    hr_metrics_init_rating(&b);
    const float p[] = { 1, 2, 3 }, r[] = { 2, 2, 5 };  /* errors -1, 0, -2 */
    hr_metrics_add_ratings(&a, p, r, 2);
    hr_metrics_add_rating(&b, 3, 5);
    hr_metrics_merge_rating(&a, &b);
    double rmse, mae;
    hr_metrics_finalize_rating(&a, &rmse, &mae);
    assert_int_equal(a.count, 3);
    near(rmse, sqrt(5.0 / 3));
    near(mae, 1.0);
    hr_metrics_init_rating(&b);
    hr_metrics_finalize_rating(&b, &rmse, &mae);
    near(rmse, 0.0);
    near(mae, 0.0);
}

static void test_gini_coverage(void **state)
{
    (void)state;
    const uint64_t uniform[] = { 4, 4, 4, 4, 4 };
    const uint64_t one[] = { 0, 0, 9, 0, 0 };
    const uint64_t hand[] = { 3, 0, 1, 0 };  /* sorted 0,0,1,3: (-3*0 - 0 + 1*1 + 3*3)/(4*4) */
    const uint64_t zero[] = { 0, 0 };
    near(hr_metrics_gini(uniform, 5), 0.0);
    near(hr_metrics_gini(one, 5), 4.0 / 5);
    near(hr_metrics_gini(hand, 4), 10.0 / 16);
    near(hr_metrics_gini(zero, 2), 0.0);
    near(hr_metrics_coverage(hand, 4), 0.5);
    near(hr_metrics_coverage(uniform, 5), 1.0);
    near(hr_metrics_coverage(zero, 0), 0.0);
}

/* Items: 0=(1,0) 1=(0,1) 2=(1,1) 3=(2,0) 4=(0,0). */
static const float FACT[] = { 1, 0, 0, 1, 1, 1, 2, 0, 0, 0 };

static void test_ild(void **state)
{
    (void)state;
    double w[2];
    const uint32_t same[] = { 0, 3 }, orth[] = { 0, 1 }, three[] = { 0, 1, 2 }, zv[] = { 0, 4 };
    near(hr_metrics_ild(FACT, 2, same, 2, w), 0.0);
    near(hr_metrics_ild(FACT, 2, orth, 2, w), 1.0);
    near(hr_metrics_ild(FACT, 2, three, 3, w), (1 + 2 * (1 - 1 / sqrt(2))) / 3);
    near(hr_metrics_ild(FACT, 2, zv, 2, w), 1.0);
    near(hr_metrics_ild(FACT, 2, three, 1, w), 0.0);

    /* Random factors: the O(K k) identity equals the O(K^2 k) pairwise mean. */
    enum { NI = 40, K = 7, L = 25 };
    float f[NI * K];
    uint32_t items[L];
    double work[K];
    hr_rng g = hr_rng_stream(3, HR_STREAM_GEN, 9);
    for (int i = 0; i < NI * K; i++) f[i] = (float)(hr_rng_uniform(&g) * 2 - 1);
    for (int r = 0; r < L; r++) items[r] = (uint32_t)hr_rng_below(&g, NI);
    double tot = 0;
    for (int i = 0; i < L; i++)
        for (int j = i + 1; j < L; j++) {
            const float *x = f + items[i] * K, *y = f + items[j] * K;
            double xy = 0, xx = 0, yy = 0;
            for (int t = 0; t < K; t++) {
                xy += (double)x[t] * y[t];
                xx += (double)x[t] * x[t];
                yy += (double)y[t] * y[t];
            }
            tot += 1 - xy / sqrt(xx * yy);
        }
    double got = hr_metrics_ild(f, K, items, L, work);
    if (fabs(got - tot / (L * (L - 1) / 2.0)) > 1e-9) fail_msg("ild %.15g vs %.15g", got, tot / (L * (L - 1) / 2.0));
}

static void test_beyond(void **state)
{
    (void)state;
    const uint64_t pop[] = { 8, 4, 2, 1, 0 };
    uint8_t head[5];
    /* interactions 15: 20% = 3 -> item 0 (8) alone is the head */
    assert_int_equal(hr_metrics_mark_head(pop, 5, 0.2, head), 1);
    const hr_item_stats st = { .n_items = 5, .n_users = 8, .pop = pop, .is_head = head,
                               .factors = FACT, .k = 2 };
    const uint32_t cuts[] = { 2, 3, 6 };
    hr_beyond_acc acc, other;
    assert_int_equal(hr_metrics_init_beyond(&acc, cuts, 3, NULL), 0);
    assert_int_equal(hr_metrics_init_beyond(&other, cuts, 3, NULL), 0);
    uint64_t expo[3 * 5];
    memset(expo, 0, sizeof expo);
    double w[2];
    const uint32_t u1[] = { 0, 1, 2 };  /* self-info 0, 1, 2 */
    const uint32_t u2[] = { 4 };        /* pop 0 -> floor 1: self-info 3 */
    hr_metrics_add_beyond(&acc, &st, u1, 3, expo, w);
    hr_metrics_add_beyond(&other, &st, u2, 1, expo, w);
    hr_metrics_add_beyond(&other, &st, NULL, 0, expo, w);  /* empty list: counts nowhere */
    hr_metrics_merge_beyond(&acc, &other);
    assert_int_equal(acc.count[HR_BEYOND_CNT(0, HR_BEYOND_COUNT_USERS)], 2);
    assert_int_equal(acc.count[HR_BEYOND_CNT(0, HR_BEYOND_COUNT_ILD_USERS)], 1);

    const uint64_t want_expo[3 * 5] = { 1, 1, 0, 0, 1, /* K=2 */
                                        1, 1, 1, 0, 1, /* K=3 */
                                        1, 1, 1, 0, 1 /* K=6 */ };
    assert_memory_equal(expo, want_expo, sizeof expo);

    hr_beyond_means m;
    hr_metrics_finalize_beyond(&acc, expo, 5, &m);
    /* K=2: user1 {0,1}: nov 0.5, arp 6, tail 1/2, ild 1; user2 {4}: nov 3, arp 0, tail 1 */
    near(m.novelty[0], (0.5 + 3) / 2);
    near(m.arp[0], (6 + 0) / 2.0);
    near(m.tail[0], (0.5 + 1) / 2);
    near(m.ild[0], 1.0);
    near(m.coverage[0], 3.0 / 5);
    /* exposure {1,1,0,0,1} sorted 0,0,1,1,1: (-4*0 - 2*0 + 0*1 + 2*1 + 4*1) / (5 * 3) */
    near(m.gini[0], 6.0 / 15);
    near(m.gini[1], hr_metrics_gini(want_expo + 5, 5));
    /* K=3 and K=6 (list shorter than K): user1 {0,1,2} */
    for (int c = 1; c < 3; c++) {
        near(m.novelty[c], ((0 + 1 + 2) / 3.0 + 3) / 2);
        near(m.arp[c], (14 / 3.0 + 0) / 2);
        near(m.tail[c], (2 / 3.0 + 1) / 2);
        near(m.ild[c], (1 + 2 * (1 - 1 / sqrt(2))) / 3);
        near(m.coverage[c], 4.0 / 5);
    }
    /* no factors, no head mask: ild and tail stay 0 */
    const hr_item_stats bare = { .n_items = 5, .n_users = 8, .pop = pop };
    hr_beyond_acc b2;
    hr_metrics_init_beyond(&b2, cuts, 3, NULL);
    hr_metrics_add_beyond(&b2, &bare, u1, 3, NULL, NULL);
    hr_metrics_finalize_beyond(&b2, NULL, 5, &m);
    near(m.ild[0], 0.0);
    near(m.tail[0], 0.0);
    near(m.novelty[0], 0.5);
    near(m.coverage[0], 0.0);
}

static void test_terciles(void **state)
{
    (void)state;
    uint64_t hist[20] = { 0 }, cuts[2], cuts2[2];
    const uint64_t c9[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 };
    for (int i = 0; i < 9; i++) hr_metrics_add_activity(hist, 20, c9[i]);
    hr_metrics_tercile_cuts(hist, 20, cuts);
    hr_metrics_tercile_cuts_sorted(c9, 9, cuts2);
    assert_int_equal(cuts[0], 3);
    assert_int_equal(cuts[1], 6);
    assert_memory_equal(cuts, cuts2, sizeof cuts);
    assert_int_equal(hr_metrics_activity_segment(1, cuts), HR_SEG_LIGHT);
    assert_int_equal(hr_metrics_activity_segment(3, cuts), HR_SEG_LIGHT);
    assert_int_equal(hr_metrics_activity_segment(4, cuts), HR_SEG_MEDIUM);
    assert_int_equal(hr_metrics_activity_segment(6, cuts), HR_SEG_MEDIUM);
    assert_int_equal(hr_metrics_activity_segment(7, cuts), HR_SEG_HEAVY);

    /* Ties: six users with 1 -> both cuts 1, medium empty. */
    const uint64_t tie[] = { 1, 1, 1, 1, 1, 1, 2, 3, 4 };
    hr_metrics_tercile_cuts_sorted(tie, 9, cuts);
    assert_int_equal(cuts[0], 1);
    assert_int_equal(cuts[1], 1);
    assert_int_equal(hr_metrics_activity_segment(2, cuts), HR_SEG_HEAVY);

    /* Empty and single user. */
    memset(hist, 0, sizeof hist);
    hr_metrics_tercile_cuts(hist, 20, cuts);
    assert_true(cuts[0] == 0 && cuts[1] == 0);
    const uint64_t single[] = { 5 };
    hr_metrics_tercile_cuts_sorted(single, 1, cuts);
    assert_true(cuts[0] == 5 && cuts[1] == 5);

    /* Random: histogram and sorted-count versions agree (counts below the last bin). */
    hr_rng g = hr_rng_stream(1, HR_STREAM_GEN, 2);
    for (int trial = 0; trial < 30; trial++) {
        uint64_t counts[50] = { 0 }, h2[64] = { 0 };
        size_t n = 1 + hr_rng_below(&g, 50);
        for (size_t i = 0; i < n; i++) {
            uint64_t x = hr_rng_below(&g, 60);
            hr_metrics_add_activity(h2, 64, x);
            size_t j = i;  /* insertion sort */
            while (j > 0 && counts[j - 1] > x) { counts[j] = counts[j - 1]; j--; }
            counts[j] = x;
        }
        hr_metrics_tercile_cuts(h2, 64, cuts);
        hr_metrics_tercile_cuts_sorted(counts, n, cuts2);
        assert_memory_equal(cuts, cuts2, sizeof cuts);
    }
    /* Counts past the last bin are clamped into it. */
    uint64_t h3[4] = { 0 };
    hr_metrics_add_activity(h3, 4, 1000);
    assert_int_equal(h3[3], 1);
}

static void test_head_tail(void **state)
{
    (void)state;
    uint8_t head[10];
    const uint64_t a[] = { 10, 50, 30, 10, 0 };  /* 20% of 100 = 20: item 1 alone */
    assert_int_equal(hr_metrics_mark_head(a, 5, 0.2, head), 1);
    const uint8_t wa[] = { 0, 1, 0, 0, 0 };
    assert_memory_equal(head, wa, 5);
    const uint64_t flat[] = { 10, 10, 10, 10, 10, 10, 10, 10, 10, 10 };  /* ties: lowest index */
    assert_int_equal(hr_metrics_mark_head(flat, 10, 0.2, head), 2);
    const uint8_t wf[] = { 1, 1, 0, 0, 0, 0, 0, 0, 0, 0 };
    assert_memory_equal(head, wf, 10);
    const uint64_t c[] = { 5, 19, 1, 40, 35 };  /* total 100, fraction 0.5 */
    assert_int_equal(hr_metrics_mark_head(c, 5, 0.5, head), 2);  /* 40 + 35 >= 50 */
    assert_true(head[3] && head[4] && !head[0] && !head[1] && !head[2]);
    const uint64_t none[] = { 0, 0, 0 };
    assert_int_equal(hr_metrics_mark_head(none, 3, 0.2, head), 0);
    assert_true(!head[0] && !head[1] && !head[2]);

    const uint8_t mask[] = { 1, 0, 1, 0, 0 };
    const uint32_t items[] = { 0, 1, 2, 4 };
    uint32_t out[4];
    assert_int_equal(hr_metrics_filter_items(items, 4, mask, HR_SEG_HEAD, out), 2);
    assert_true(out[0] == 0 && out[1] == 2);
    assert_int_equal(hr_metrics_filter_items(items, 4, mask, HR_SEG_TAIL, out), 2);
    assert_true(out[0] == 1 && out[1] == 4);
}

static void test_bootstrap(void **state)
{
    (void)state;
    enum { N = 500 };
    double *a = hr_malloc(N * sizeof *a), *b = hr_malloc(N * sizeof *b);
    hr_rng g = hr_rng_stream(11, HR_STREAM_GEN, 0);
    for (int u = 0; u < N; u++) a[u] = hr_rng_uniform(&g);
    hr_paired_result r, r2;
    hr_error err = { 0 };

    /* Identical models. */
    assert_int_equal(hr_metrics_compare_paired(a, a, N, 0, 1, &r, &err), 0);
    near(r.mean, 0.0);
    assert_true(r.lo <= 0 && r.hi >= 0);
    assert_int_equal(r.verdict, HR_CMP_NO_DIFFERENCE);
    assert_int_equal(r.resamples, HR_BOOTSTRAP_DEFAULT_RESAMPLES);

    /* B = A + 0.1: better; swapped: worse. */
    for (int u = 0; u < N; u++) b[u] = a[u] + 0.1;
    assert_int_equal(hr_metrics_compare_paired(a, b, N, 200, 1, &r, &err), 0);
    assert_int_equal(r.verdict, HR_CMP_BETTER);
    assert_true(fabs(r.mean - 0.1) < 1e-12);
    assert_true(r.lo > 0.0999 && r.hi < 0.1001);
    assert_int_equal(r.resamples, 200);
    assert_string_equal(hr_metrics_verdict_name(r.verdict), "better");
    assert_int_equal(hr_metrics_compare_paired(b, a, N, 200, 1, &r, &err), 0);
    assert_int_equal(r.verdict, HR_CMP_WORSE);

    /* Noisy differences: the interval matches the normal approximation 1.96 * sd / sqrt(n),
     * is deterministic for a seed and moves with it. */
    double mean = 0, var = 0;
    for (int u = 0; u < N; u++) b[u] = a[u] + 0.02 + (hr_rng_uniform(&g) - 0.5);
    for (int u = 0; u < N; u++) mean += (b[u] - a[u]) / N;
    for (int u = 0; u < N; u++) var += (b[u] - a[u] - mean) * (b[u] - a[u] - mean) / (N - 1);
    assert_int_equal(hr_metrics_compare_paired(a, b, N, 1000, 42, &r, &err), 0);
    near(r.mean, mean);
    const double half = 1.96 * sqrt(var / N);
    if (fabs(r.lo - (mean - half)) > 0.1 * half || fabs(r.hi - (mean + half)) > 0.1 * half)
        fail_msg("interval [%g, %g], normal approximation [%g, %g]", r.lo, r.hi, mean - half,
                 mean + half);
    assert_int_equal(hr_metrics_compare_paired(a, b, N, 1000, 42, &r2, &err), 0);
    assert_memory_equal(&r, &r2, sizeof r);
    assert_int_equal(hr_metrics_compare_paired(a, b, N, 1000, 43, &r2, &err), 0);
    assert_true(r.lo != r2.lo);
    near(r.mean, r2.mean);

    /* Symmetric differences around 0: no significant difference. */
    for (int u = 0; u < N; u++) b[u] = a[u] + (u % 2 ? 0.3 : -0.3);
    assert_int_equal(hr_metrics_compare_paired(a, b, N, 500, 5, &r, &err), 0);
    assert_int_equal(r.verdict, HR_CMP_NO_DIFFERENCE);
    assert_true(r.lo < 0 && r.hi > 0);

    /* Errors. */
    assert_int_equal(hr_metrics_compare_paired(a, b, 0, 10, 1, &r, &err), HR_ERR_ARG);
    b[7] = NAN;
    assert_int_equal(hr_metrics_compare_paired(a, b, N, 10, 1, &r, &err), HR_ERR_ARG);
    assert_non_null(strstr(err.msg, "#7"));
    hr_free(a);
    hr_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rank_hand_case),
        cmocka_unit_test(test_rank_fewer_relevant_than_k),
        cmocka_unit_test(test_rank_skip_empty_and_means),
        cmocka_unit_test(test_cutoff_validation),
        cmocka_unit_test(test_rating),
        cmocka_unit_test(test_gini_coverage),
        cmocka_unit_test(test_ild),
        cmocka_unit_test(test_beyond),
        cmocka_unit_test(test_terciles),
        cmocka_unit_test(test_head_tail),
        cmocka_unit_test(test_bootstrap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
