/* tests/unit/test_knn.c — the neighbourhood measures (solvers/knn.h) on a problem small enough
 * to compute by hand:
 *
 *            item 0  item 1  item 2
 *   user 0     5       3       4
 *   user 1     4       1       -
 *   user 2     2       5       1
 *
 * Target item 0.  Pair (0,1), common users 0,1,2: a0 = (5,4,2), a1 = (3,1,5); pair (0,2),
 * users 0,2: a0 = (5,2), a2 = (4,1).  The expected values below are worked out in the comments;
 * the accumulators (users added one by one, as train does) must give them. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "solvers/knn.h"
#include "tests/unit/testutil.h"

static const uint32_t it0[] = { 0, 1, 2 }, it1[] = { 0, 1 }, it2[] = { 0, 1, 2 };
static const float r0[] = { 5, 3, 4 }, r1[] = { 4, 1 }, r2[] = { 2, 5, 1 };
static const uint64_t count[] = { 3, 3, 2 };

static hr_knn_opts opts(hr_knn_sim sim, int implicit)
{
    hr_knn_opts o;
    memset(&o, 0, sizeof o);
    o.sim = sim;
    o.implicit = implicit;
    o.neighbors = 10;
    o.min_support = 1;
    o.bm25_k1 = 1.2;
    o.bm25_b = 0.75;
    return o;
}

/* Neighbours of item 0 under o, values a_uj = f(r) given per user row. */
static uint32_t top0(const hr_knn_opts *o, const float *v0, const float *v1, const float *v2, const double *norm, uint32_t *row,
                     float *val)
{
    hr_knn_acc a;
    hr_knn_acc_init(&a, 3, o);
    hr_knn_acc_add(&a, v0[0], it0, v0, 3, 0);
    hr_knn_acc_add(&a, v1[0], it1, v1, 2, 0);
    hr_knn_acc_add(&a, v2[0], it2, v2, 3, 0);
    uint32_t got = hr_knn_acc_top(&a, o, count, norm, count[0], norm ? norm[0] : 0, row, val);
    /* cleared for the next target: a second target with no users keeps nothing */
    uint32_t r2x[3];
    float v2x[3];
    assert_int_equal(hr_knn_acc_top(&a, o, count, norm, 0, 0, r2x, v2x), 0);
    hr_knn_acc_free(&a);
    return got;
}

static void test_cosine_explicit(void **st)
{
    (void)st;
    hr_knn_opts o = opts(HR_KNN_COSINE, 0);
    uint32_t row[3];
    float val[3];
    /* (0,1): 29 / sqrt(45 * 35); (0,2): 22 / sqrt(29 * 17) — norms over the common users */
    assert_int_equal(top0(&o, r0, r1, r2, NULL, row, val), 2);
    assert_int_equal(row[0], 1);
    assert_int_equal(row[1], 2);
    assert_float_equal(val[0], 29.0 / sqrt(1575.0), 1e-6);
    assert_float_equal(val[1], 22.0 / sqrt(493.0), 1e-6);
    /* shrink 100: x (n - 1) / (n - 1 + 100), n = 3 and 2 */
    o.shrink = 100;
    top0(&o, r0, r1, r2, NULL, row, val);
    assert_float_equal(val[0], 29.0 / sqrt(1575.0) * 2.0 / 102.0, 1e-7);
    assert_float_equal(val[1], 22.0 / sqrt(493.0) * 1.0 / 101.0, 1e-7);
    /* min support 3: pair (0,2) has two common users */
    o.shrink = 0;
    o.min_support = 3;
    assert_int_equal(top0(&o, r0, r1, r2, NULL, row, val), 1);
    assert_int_equal(row[0], 1);
    /* K = 1 keeps the larger one: (0,2) */
    o.min_support = 1;
    o.neighbors = 1;
    assert_int_equal(top0(&o, r0, r1, r2, NULL, row, val), 1);
    assert_int_equal(row[0], 2);
}

static void test_pearson(void **st)
{
    (void)st;
    hr_knn_opts o = opts(HR_KNN_PEARSON, 0);
    /* (0,1): centred (4/3, 1/3, -5/3) and (0, -2, 2): -4 / sqrt(42/9 * 8) = -0.6547: negative,
     * not kept; (0,2): centred (1.5, -1.5) twice: 1 */
    assert_float_equal(hr_knn_similarity(&o, 3, 29, 45, 35, 11, 9, 0, 0, 0, 0), -4.0 / sqrt(42.0 / 9.0 * 8.0), 1e-12);
    uint32_t row[3];
    float val[3];
    assert_int_equal(top0(&o, r0, r1, r2, NULL, row, val), 1);
    assert_int_equal(row[0], 2);
    assert_float_equal(val[0], 1.0, 1e-6);
}

static void test_pearson_baseline(void **st)
{
    (void)st;
    hr_knn_opts o = opts(HR_KNN_PEARSON_BASELINE, 0);
    /* base 3 everywhere: residuals (2,0,1), (1,-2), (-1,2,-2).  (0,1): 0 - 2 - 2 = -4 < 0;
     * (0,2): a0 = (2,-1), a2 = (1,-2): 4 / sqrt(5 * 5) = 0.8 */
    float v0[3], v1[2], v2[3];
    for (int x = 0; x < 3; x++) v0[x] = (float)hr_knn_value(&o, r0[x], 3.0, 0, 0, 0);
    for (int x = 0; x < 2; x++) v1[x] = (float)hr_knn_value(&o, r1[x], 3.0, 0, 0, 0);
    for (int x = 0; x < 3; x++) v2[x] = (float)hr_knn_value(&o, r2[x], 3.0, 0, 0, 0);
    uint32_t row[3];
    float val[3];
    assert_int_equal(top0(&o, v0, v1, v2, NULL, row, val), 1);
    assert_int_equal(row[0], 2);
    assert_float_equal(val[0], 0.8, 1e-6);
}

static void test_implicit(void **st)
{
    (void)st;
    const float one[3] = { 1, 1, 1 };
    uint32_t row[3];
    float val[3];
    /* jaccard: (0,1) 3 / (3 + 3 - 3) = 1; (0,2) 2 / (3 + 2 - 2) = 2/3 */
    hr_knn_opts o = opts(HR_KNN_JACCARD, 1);
    assert_int_equal(top0(&o, one, one, one, NULL, row, val), 2);
    assert_float_equal(val[0], 1.0, 1e-6);
    assert_float_equal(val[1], 2.0 / 3.0, 1e-6);
    /* binary cosine with full norms: (0,1) 3 / sqrt(3 * 3), (0,2) 2 / sqrt(3 * 2) */
    const double norm[3] = { sqrt(3.0), sqrt(3.0), sqrt(2.0) };
    o = opts(HR_KNN_COSINE, 1);
    top0(&o, one, one, one, norm, row, val);
    assert_float_equal(val[0], 1.0, 1e-6);
    assert_float_equal(val[1], 2.0 / sqrt(6.0), 1e-6);
    /* dot: the common-user counts */
    o = opts(HR_KNN_DOT, 1);
    top0(&o, one, one, one, NULL, row, val);
    assert_float_equal(val[0], 3.0, 1e-6);
    assert_float_equal(val[1], 2.0, 1e-6);
    /* ties go to the lower id: items 1 and 2 with the same users, K = 1 */
    o.neighbors = 1;
    hr_knn_acc a;
    hr_knn_acc_init(&a, 3, &o);
    hr_knn_acc_add(&a, 1, it0, one, 3, 0);
    assert_int_equal(hr_knn_acc_top(&a, &o, count, NULL, 3, 0, row, val), 1);
    assert_int_equal(row[0], 1);
    hr_knn_acc_free(&a);
}

static void test_weights(void **st)
{
    (void)st;
    hr_knn_opts o = opts(HR_KNN_DOT, 1);
    /* idf of a user with 2 of 5 items: log 5 - log 3 */
    const double idf = hr_knn_idf(5, 2);
    assert_float_equal(idf, log(5.0) - log(3.0), 1e-12);
    o.weight = HR_KNN_WEIGHT_TFIDF;   /* sqrt(r) idf */
    assert_float_equal(hr_knn_value(&o, 9.0, 0, idf, 0, 0), 3.0 * idf, 1e-12);
    o.weight = HR_KNN_WEIGHT_BM25;    /* r (k1 + 1) / (k1 (1 - b + b len / mean) + r) idf */
    assert_float_equal(hr_knn_value(&o, 4.0, 0, idf, 20.0, 10.0), 4.0 * 2.2 / (1.2 * (0.25 + 0.75 * 2.0) + 4.0) * idf, 1e-12);
    o.weight = HR_KNN_WEIGHT_NONE;
    assert_float_equal(hr_knn_value(&o, 4.0, 0, idf, 0, 0), 1.0, 0);
    /* names round trip; unknown names refused */
    hr_knn_sim s;
    assert_int_equal(hr_knn_sim_parse("pearson-baseline", &s), 0);
    assert_int_equal(s, HR_KNN_PEARSON_BASELINE);
    assert_int_equal(hr_knn_sim_parse("msd", &s), -1);
    hr_knn_weight w;
    assert_int_equal(hr_knn_weight_parse("BM25", &w), 0);
    assert_int_equal(w, HR_KNN_WEIGHT_BM25);
    assert_int_equal(hr_knn_weight_parse("idf", &w), -1);
    /* fixed point: exact and order-free */
    assert_true(hr_knn_fix(1.5) + hr_knn_fix(-0.25) == hr_knn_fix(1.25));
    assert_float_equal(hr_knn_unfix(hr_knn_fix(3.125)), 3.125, 0);
    /* baselines: Surprise's b_i = sum / (reg + n) */
    assert_float_equal(hr_knn_bias(6.0, 2, 10.0), 0.5, 1e-12);
}

/* The product-only accumulator (all values positive) keeps the same neighbours, same bits, as
 * the counting one, and is refused where the count matters. */
static void test_positive(void **st)
{
    (void)st;
    const double norm[3] = { sqrt(45.0), sqrt(35.0), sqrt(17.0) };
    const hr_knn_sim sims[2] = { HR_KNN_DOT, HR_KNN_COSINE };
    for (int k = 0; k < 2; k++) {
        hr_knn_opts o = opts(sims[k], 1);
        uint32_t row[2][3];
        float val[2][3];
        uint32_t got[2];
        for (int pos = 0; pos < 2; pos++) {
            hr_knn_acc a;
            hr_knn_acc_init(&a, 3, &o);
            if (pos) assert_int_equal(hr_knn_acc_positive(&a, &o), 1);
            for (int tgt = 0; tgt < 2; tgt++) {   /* twice: cleared between targets */
                hr_knn_acc_add(&a, r0[0], it0, r0, 3, 0);
                hr_knn_acc_add(&a, r1[0], it1, r1, 2, 0);
                hr_knn_acc_add(&a, r2[0], it2, r2, 3, 0);
                got[pos] = hr_knn_acc_top(&a, &o, count, norm, count[0], norm[0], row[pos], val[pos]);
            }
            hr_knn_acc_free(&a);
        }
        assert_int_equal(got[0], 2);
        assert_int_equal(got[1], got[0]);
        assert_memory_equal(row[1], row[0], got[0] * sizeof row[0][0]);
        assert_memory_equal(val[1], val[0], got[0] * sizeof val[0][0]);
    }
    hr_knn_acc a;
    hr_knn_opts o = opts(HR_KNN_DOT, 1);
    o.shrink = 10;
    hr_knn_acc_init(&a, 3, &o);
    assert_int_equal(hr_knn_acc_positive(&a, &o), 0);
    o = opts(HR_KNN_JACCARD, 1);
    assert_int_equal(hr_knn_acc_positive(&a, &o), 0);
    o = opts(HR_KNN_DOT, 1);
    o.min_support = 2;
    assert_int_equal(hr_knn_acc_positive(&a, &o), 0);
    hr_knn_acc_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cosine_explicit), cmocka_unit_test(test_pearson), cmocka_unit_test(test_pearson_baseline),
        cmocka_unit_test(test_implicit),        cmocka_unit_test(test_weights), cmocka_unit_test(test_positive),
    };
    return cmocka_run_group_tests(tests, hr_test_setup, hr_test_teardown);
}
