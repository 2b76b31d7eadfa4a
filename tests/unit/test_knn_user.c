/* tests/unit/test_knn_user.c — the user-based similarities (solvers/knn_user.h) on a problem
 * small enough to compute by hand (the itemknn problem of test_knn.c transposed, plus user 3):
 *
 *            item 0  item 1  item 2
 *   user 0     5       4       2
 *   user 1     3       1       5
 *   user 2     4       -       1
 *   user 3     -       3       -
 *
 * Target user 0.  (0,1): common items 0,1,2, a0 = (5,4,2), a1 = (3,1,5); (0,2): items 0,2,
 * a0 = (5,2), a2 = (4,1); (0,3): item 1, a0 = 4, a3 = 3.
 *   cosine     (0,1) 29 / sqrt(45 * 35) = 0.730739   (0,2) 22 / sqrt(29 * 17) = 0.990830   (0,3) 1
 *   pearson    (0,1) centred (4/3, 1/3, -5/3) . (0, -2, 2) = -4 < 0: dropped; (0,2) (1.5, -1.5)
 *              . (1.5, -1.5) / 4.5 = 1; (0,3) one common item: 0, dropped
 *   shrink 100 cosine x (n-1)/(n-1+100): (0,1) 0.730739 * 2/102 = 0.0143282, (0,2) 0.990830 / 101
 *              = 0.00981020, (0,3) 0: dropped
 *   implicit (binary): dot = common items 3, 2, 1; cosine over whole rows 3/3 = 1, 2/sqrt 6 =
 *              0.816497, 1/sqrt 3 = 0.577350; jaccard |C| / (n0 + nv - |C|) = 3/3 = 1,
 *              2/(3+2-2) = 0.666667, 1/(3+1-1) = 0.333333
 * The blocks: the same lists whether the users visit as one block or as two, in any order, and
 * through the ring message (pack / view). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "solvers/knn_user.h"
#include "tests/unit/testutil.h"

static const uint32_t G[] = { 0, 1, 2, 3 };
static const uint64_t PTR[] = { 0, 3, 6, 8, 9 };
static const uint32_t IT[] = { 0, 1, 2, 0, 1, 2, 0, 2, 1 };
static const float R[] = { 5, 4, 2, 3, 1, 5, 4, 1, 3 };

static hr_knn_opts opts(hr_knn_sim sim, int implicit, uint32_t K)
{
    hr_knn_opts o;
    memset(&o, 0, sizeof o);
    o.sim = sim;
    o.implicit = implicit;
    o.neighbors = K;
    o.min_support = 1;
    return o;
}

/* Users lo..hi-1 as rows (binary values when implicit). */
static void rows(hr_uknn_rows *x, uint32_t lo, uint32_t hi, int implicit)
{
    hr_uknn_rows_alloc(x, hi - lo, PTR[hi] - PTR[lo]);
    for (uint32_t u = lo; u < hi; u++) {
        x->gid[u - lo] = G[u];
        x->ptr[u - lo + 1] = PTR[u + 1] - PTR[lo];
    }
    for (uint64_t e = PTR[lo]; e < PTR[hi]; e++) {
        x->items[e - PTR[lo]] = IT[e];
        x->vals[e - PTR[lo]] = implicit ? 1.0f : R[e];
    }
    hr_uknn_rows_norms(x);
}

/* Neighbours of user 0 (targets: every user; blocks: all at once, or {2,3} then {0,1} through the
 * message form).  Both ways must agree bit for bit; returns the count. */
static uint32_t nb0(const hr_knn_opts *o, uint32_t *row, float *val)
{
    hr_uknn_rows all, a, b;
    rows(&all, 0, 4, o->implicit);
    rows(&a, 0, 2, o->implicit);
    rows(&b, 2, 4, o->implicit);
    hr_uknn_sim s1, s2;
    hr_uknn_sim_init(&s1, &all, o, 3);
    hr_uknn_sim_block(&s1, &all);
    hr_uknn_sim_init(&s2, &all, o, 3);
    void *msg;
    uint64_t len;
    hr_uknn_rows_pack(&b, &msg, &len);
    hr_uknn_rows v;
    hr_error err;
    memset(&err, 0, sizeof err);
    assert_int_equal(hr_uknn_rows_view(msg, len, &v, &err), 0);
    hr_uknn_sim_block(&s2, &v);
    hr_uknn_sim_block(&s2, &a);
    assert_int_not_equal(hr_uknn_rows_view(msg, len - 8, &v, &err), 0);   /* truncated: refused */
    uint32_t row2[4];
    float val2[4];
    uint32_t got = hr_uknn_sim_take(&s1, 0, row, val), got2 = hr_uknn_sim_take(&s2, 0, row2, val2);
    assert_int_equal(got, got2);
    assert_memory_equal(row, row2, got * sizeof *row);
    assert_memory_equal(val, val2, got * sizeof *val);
    hr_free(msg);
    hr_uknn_sim_free(&s1);
    hr_uknn_sim_free(&s2);
    hr_uknn_rows_free(&all);
    hr_uknn_rows_free(&a);
    hr_uknn_rows_free(&b);
    return got;
}

static void test_cosine(void **st)
{
    (void)st;
    hr_knn_opts o = opts(HR_KNN_COSINE, 0, 10);
    uint32_t row[4];
    float val[4];
    assert_int_equal(nb0(&o, row, val), 3);
    assert_int_equal(row[0], 1);
    assert_int_equal(row[1], 2);
    assert_int_equal(row[2], 3);
    assert_true(fabs(val[0] - 0.730739) < 1e-5);
    assert_true(fabs(val[1] - 0.990830) < 1e-5);
    assert_true(fabs(val[2] - 1.0) < 1e-6);
    o.shrink = 100;
    assert_int_equal(nb0(&o, row, val), 2);   /* (0,3): one common item, shrunk to 0 */
    assert_true(fabs(val[0] - 0.0143282) < 1e-6);
    assert_true(fabs(val[1] - 0.00981020) < 1e-6);
}

static void test_pearson(void **st)
{
    (void)st;
    hr_knn_opts o = opts(HR_KNN_PEARSON, 0, 10);
    uint32_t row[4];
    float val[4];
    assert_int_equal(nb0(&o, row, val), 1);   /* (0,1) negative, (0,3) undefined: dropped */
    assert_int_equal(row[0], 2);
    assert_true(fabs(val[0] - 1.0) < 1e-6);
}

static void test_implicit(void **st)
{
    (void)st;
    uint32_t row[4];
    float val[4];
    hr_knn_opts o = opts(HR_KNN_DOT, 1, 10);
    assert_int_equal(nb0(&o, row, val), 3);
    assert_true(val[0] == 3 && val[1] == 2 && val[2] == 1);
    o = opts(HR_KNN_COSINE, 1, 10);
    assert_int_equal(nb0(&o, row, val), 3);
    assert_true(fabs(val[0] - 1.0) < 1e-6 && fabs(val[1] - 0.816497) < 1e-5 && fabs(val[2] - 0.577350) < 1e-5);
    o = opts(HR_KNN_JACCARD, 1, 10);
    assert_int_equal(nb0(&o, row, val), 3);
    assert_true(fabs(val[0] - 1.0) < 1e-6 && fabs(val[1] - 0.666667) < 1e-5 && fabs(val[2] - 0.333333) < 1e-5);
    /* K = 2 keeps the two best; min support 2 drops (0,3) */
    o = opts(HR_KNN_DOT, 1, 2);
    assert_int_equal(nb0(&o, row, val), 2);
    assert_true(row[0] == 1 && row[1] == 2);
    o = opts(HR_KNN_DOT, 1, 10);
    o.min_support = 2;
    assert_int_equal(nb0(&o, row, val), 2);
}

static void test_best_one(void **st)
{
    (void)st;
    /* K = 1 keeps the single best: explicit cosine (0,3) = 1 beats (0,2) = 0.99; implicit
     * jaccard (0,1) = 1 (ties between equal similarities go to the lower id: solvers/topk.h) */
    hr_knn_opts o = opts(HR_KNN_COSINE, 0, 1);
    uint32_t row[4];
    float val[4];
    assert_int_equal(nb0(&o, row, val), 1);
    assert_int_equal(row[0], 3);
    o = opts(HR_KNN_JACCARD, 1, 1);
    assert_int_equal(nb0(&o, row, val), 1);
    assert_int_equal(row[0], 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cosine),
        cmocka_unit_test(test_pearson),
        cmocka_unit_test(test_implicit),
        cmocka_unit_test(test_best_one),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
