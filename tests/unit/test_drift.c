/* tests/unit/test_drift.c — the measures of solvers/drift.h against hand-computed values:
 * PSI, Jensen-Shannon, Jaccard, rank-biased overlap (equal and uneven lengths), head share,
 * the fixed buckets and the fixed-point sums. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>

#include "solvers/drift.h"

static void near(double got, double want)
{
    if (fabs(got - want) > 1e-12 * (1 + fabs(want))) fail_msg("got %.17g, want %.17g", got, want);
}

static void test_psi(void **state)
{
    (void)state;
    /* p = (.5, .5), q = (.25, .75): (.25-.5) ln(.5) + (.75-.5) ln(1.5) = .25 ln 2 + .25 ln 1.5 = .25 ln 3 */
    const uint64_t b[] = { 50, 50 }, c[] = { 25, 75 };
    near(hr_drift_psi(b, c, 2), 0.27465307216702742);
    near(hr_drift_psi(b, b, 2), 0);
    near(hr_drift_psi(c, c, 2), 0);
    /* symmetric in its two arguments */
    near(hr_drift_psi(c, b, 2), 0.27465307216702742);
    /* an emptied bucket counts with share 1e-4: p = (.5, .5), q = (1, 0) ->
     * (1-.5) ln(1/.5) + (1e-4-.5) ln(1e-4/.5) = .5 ln 2 + .4999 ln 5000 */
    const uint64_t d[] = { 10, 0 };
    near(hr_drift_psi(b, d, 2), 0.34657359027997264 + 0.4999 * 8.5171931914162382);
    const uint64_t z[] = { 0, 0 };
    near(hr_drift_psi(z, z, 2), 0);
    /* shares, not counts: 1:1 against 3:3 is no shift */
    const uint64_t e[] = { 3, 3 };
    near(hr_drift_psi(b, e, 2), 0);
}

static void test_jsd(void **state)
{
    (void)state;
    const uint64_t a[] = { 1, 0 }, b[] = { 0, 1 }, h[] = { 1, 1 };
    near(hr_drift_jsd(a, b, 2), 1);   /* disjoint supports: 1 bit */
    near(hr_drift_jsd(a, a, 2), 0);
    /* p = (.5,.5), q = (1,0), m = (.75,.25):
     * .5 [.5 log2(.5/.75) + .5 log2(.5/.25)] + .5 [1 log2(1/.75)] = 1.5 - .75 log2 3 */
    near(hr_drift_jsd(h, a, 2), 0.31127812445913283);
    near(hr_drift_jsd(a, h, 2), 0.31127812445913283);
    const uint64_t z[] = { 0, 0 };
    near(hr_drift_jsd(z, a, 2), 0);
}

static void test_jaccard(void **state)
{
    (void)state;
    const uint64_t a[] = { 1, 2, 3 }, b[] = { 5, 4, 3, 2 };
    near(hr_drift_jaccard(a, 3, b, 4), 2.0 / 5);
    near(hr_drift_jaccard(a, 3, a, 3), 1);
    near(hr_drift_jaccard(a, 0, b, 0), 1);
    near(hr_drift_jaccard(a, 3, b, 0), 0);
    const uint64_t c[] = { 7, 8 };
    near(hr_drift_jaccard(a, 3, c, 2), 0);
}

static void test_rbo(void **state)
{
    (void)state;
    const uint64_t a[] = { 1, 2, 3 }, r[] = { 3, 2, 1 }, x[] = { 4, 5, 6 };
    near(hr_drift_rbo(a, 3, a, 3, 0.9), 1);
    near(hr_drift_rbo(a, 3, x, 3, 0.9), 0);
    /* [1,2] vs [2,1], p = .5: X1 = 0, X2 = 2; (1-p)/p (0 + 2/2 .25) + (2/2) .25 = .5 */
    near(hr_drift_rbo(a, 2, r + 1, 2, 0.5), 0.5);
    /* [1,2,3] vs [3,2,1], p = .9: X = 0, 1, 3; (.1/.9)(.5 .81 + 1 .729) + 1 .729 = .855 */
    near(hr_drift_rbo(a, 3, r, 3, 0.9), 0.855);
    /* uneven: [1] vs [1,2], p = .5: s = 1, l = 2, X1 = 1, X2 = 1, Xs = 1:
     * (1-p)/p [1/1 .5 + 1/2 .25 + 1 (2-1)/(1 2) .25] + ((1-1)/2 + 1/1) .25 = .75 + .25 = 1 */
    near(hr_drift_rbo(a, 1, a, 2, 0.5), 1);
    near(hr_drift_rbo(a, 2, a, 1, 0.5), 1);
    /* [2] vs [1,2], p = .5: X1 = 0, X2 = 1, Xs = 0: 1 [0 + 1/2 .25 + 0] + ((1-0)/2 + 0) .25 = .25 */
    near(hr_drift_rbo(r + 1, 1, a, 2, 0.5), 0.25);
    near(hr_drift_rbo(a, 0, a, 0, 0.9), 1);
    near(hr_drift_rbo(a, 0, a, 3, 0.9), 0);
}

static void test_buckets_and_head(void **state)
{
    (void)state;
    assert_int_equal(hr_drift_log_bucket(0), 0);
    assert_int_equal(hr_drift_log_bucket(1), 0);
    assert_int_equal(hr_drift_log_bucket(2), 1);
    assert_int_equal(hr_drift_log_bucket(3), 1);
    assert_int_equal(hr_drift_log_bucket(4), 2);
    assert_int_equal(hr_drift_log_bucket(UINT64_MAX), HR_DRIFT_LOG_BUCKETS - 1);
    assert_int_equal(hr_drift_value_bucket(-1), 0);
    assert_int_equal(hr_drift_value_bucket(0), 0);
    assert_int_equal(hr_drift_value_bucket(0.5), 1);
    assert_int_equal(hr_drift_value_bucket(1), 1);
    assert_int_equal(hr_drift_value_bucket(4.5), 5);
    assert_int_equal(hr_drift_value_bucket(5), 5);
    assert_int_equal(hr_drift_value_bucket(7), 6);
    assert_int_equal(hr_drift_value_bucket(1e6), HR_DRIFT_VALUE_BUCKETS - 1);
    assert_int_equal(hr_drift_value_bucket(NAN), HR_DRIFT_VALUE_BUCKETS - 1);
    /* 10 items, the top 10% = 1 item: 10 of 19 interactions */
    const uint64_t c[] = { 1, 1, 10, 1, 1, 1, 1, 1, 1, 1 };
    near(hr_drift_head_share(c, 10, 0.1), 10.0 / 19);
    near(hr_drift_head_share(c, 10, 0.01), 10.0 / 19);   /* at least one item */
    near(hr_drift_head_share(c, 10, 1), 1);
    near(hr_drift_head_share(c, 0, 0.1), 0);
    /* fixed point: exact, order-independent sums */
    uint64_t s = hr_drift_fix(0.1) + hr_drift_fix(0.2) + hr_drift_fix(0.7);
    near(hr_drift_unfix(s), 1.0);
    assert_int_equal(hr_drift_fix(1.0), 1ULL << HR_DRIFT_FIX_BITS);
    assert_int_equal(hr_drift_fix(-0.5), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_psi), cmocka_unit_test(test_jsd), cmocka_unit_test(test_jaccard), cmocka_unit_test(test_rbo),
        cmocka_unit_test(test_buckets_and_head),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
