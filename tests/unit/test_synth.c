/* tests/unit/test_synth.c — the planted model of `hpcrec gen`: exact totals, determinism,
 * distinct items, Zipf popularity, recovery of P(i | u), value distributions, faults. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "solvers/synth.h"

static hr_synth_model *make(uint64_t users, uint64_t items, uint64_t inter, int R, uint64_t seed)
{
    hr_synth_params p;
    hr_synth_params_defaults(&p);
    p.users = users, p.items = items, p.interactions = inter, p.factors = R, p.seed = seed;
    hr_synth_model *m = NULL;
    hr_error err = { 0 };
    int rc = hr_synth_model_create(&p, &m, &err);
    if (rc != 0) print_error("model: %s\n", err.msg);
    assert_int_equal(rc, 0);
    return m;
}

/* Generate every user and hand the events to f. */
typedef void (*visit_fn)(const hr_synth_model *m, uint64_t u, const hr_synth_event *ev, uint32_t n, void *ctx);
static void visit_all(const hr_synth_model *m, visit_fn f, void *ctx)
{
    hr_synth_scratch *s = hr_synth_scratch_create(m);
    hr_synth_event *ev = hr_malloc(hr_synth_event_capacity(m) * sizeof *ev);
    for (uint64_t u = 0; u < hr_synth_total_users(m); u++) {
        uint32_t n = hr_synth_user_generate(m, u, s, ev);
        assert_int_equal(n, hr_synth_user_events(m, u));
        f(m, u, ev, n, ctx);
    }
    hr_free(ev);
    hr_synth_scratch_free(s);
}

static void test_params_check(void **state)
{
    (void)state;
    hr_synth_params p;
    hr_error err = { 0 };
    hr_synth_params_defaults(&p);
    p.users = 10, p.items = 100, p.interactions = 100;
    assert_int_equal(hr_synth_params_check(&p, &err), 0);
    p.interactions = 9; /* fewer events than users */
    assert_int_equal(hr_synth_params_check(&p, &err), HR_ERR_ARG);
    assert_non_null(strstr(err.msg, "--interactions"));
    p.interactions = 10 * 50 + 1; /* cap = items/2 = 50 */
    assert_int_equal(hr_synth_params_check(&p, &err), HR_ERR_ARG);
    p.interactions = 500;
    p.factors = 0;
    assert_int_equal(hr_synth_params_check(&p, &err), HR_ERR_ARG);
    p.factors = 257;
    assert_int_equal(hr_synth_params_check(&p, &err), HR_ERR_ARG);
    p.factors = 16, p.dirty = 0.6;
    assert_int_equal(hr_synth_params_check(&p, &err), HR_ERR_ARG);
    p.dirty = 0.1, p.bots = 2; /* bots need > 2000 items */
    assert_int_equal(hr_synth_params_check(&p, &err), HR_ERR_ARG);
    assert_non_null(strstr(err.msg, "--bots"));
    assert_int_equal(hr_synth_user_cap(1), 1);
    assert_int_equal(hr_synth_user_cap(101), 50);
    assert_int_equal(hr_synth_user_cap(1000000), HR_SYNTH_USER_CAP);
}

static void test_exact_total(void **state)
{
    (void)state;
    static const uint64_t cases[][4] = {
        /* users, items, interactions, factors */
        { 1000, 50, 7777, 4 }, { 1000, 50, 1000, 4 }, { 1000, 50, 25000, 4 }, { 1, 1, 1, 1 },
        { 3, 1, 3, 16 },       { 5000, 100000, 123457, 16 }, { 777, 2000, 9999, 256 },
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        hr_synth_model *m = make(cases[k][0], cases[k][1], cases[k][2], (int)cases[k][3], 7);
        const uint32_t cap = hr_synth_user_cap(cases[k][1]);
        uint64_t sum = 0;
        uint32_t mx = 0;
        for (uint64_t u = 0; u < cases[k][0]; u++) {
            uint32_t n = hr_synth_user_events(m, u);
            assert_true(n >= 1 && n <= cap);
            sum += n;
            if (n > mx) mx = n;
        }
        assert_int_equal(sum, cases[k][2]);
        assert_int_equal(mx, hr_synth_max_user_events(m));
        hr_synth_model_free(m);
    }
}

static void test_activity_heavy_tailed(void **state)
{
    (void)state;
    hr_synth_model *m = make(20000, 100000, 400000, 16, 3); /* mean 20 events per user */
    uint64_t small = 0, large = 0;
    for (uint64_t u = 0; u < 20000; u++) {
        uint32_t n = hr_synth_user_events(m, u);
        small += n <= 10;
        large += n >= 100;
    }
    /* Power law: many light users and a real tail of heavy ones. */
    assert_true(small > 20000 / 3);
    assert_true(large > 200);
    assert_int_equal(hr_synth_max_user_events(m), HR_SYNTH_USER_CAP);
    hr_synth_model_free(m);
}

static void test_determinism(void **state)
{
    (void)state;
    hr_synth_model *a = make(300, 500, 6000, 8, 11), *b = make(300, 500, 6000, 8, 11), *c = make(300, 500, 6000, 8, 12);
    hr_synth_scratch *sa = hr_synth_scratch_create(a), *sb = hr_synth_scratch_create(b), *sc = hr_synth_scratch_create(c);
    const uint32_t cap = hr_synth_event_capacity(a);
    hr_synth_event *e1 = hr_malloc(cap * sizeof *e1), *e2 = hr_malloc(cap * sizeof *e2);
    int differs = 0;
    for (uint64_t u = 0; u < 300; u += 7) {
        uint32_t n1 = hr_synth_user_generate(a, u, sa, e1);
        /* Other users in between must not change user u's events (a rank's order). */
        hr_synth_user_generate(b, (u * 13 + 5) % 300, sb, e2);
        hr_synth_user_generate(b, 299 - u, sb, e2);
        uint32_t n2 = hr_synth_user_generate(b, u, sb, e2);
        assert_int_equal(n1, n2);
        assert_memory_equal(e1, e2, n1 * sizeof *e1);
        uint32_t n3 = hr_synth_user_generate(a, u, sa, e2); /* again, same scratch */
        assert_int_equal(n1, n3);
        assert_memory_equal(e1, e2, n1 * sizeof *e1);
        uint32_t n4 = hr_synth_user_generate(c, u, sc, e2);
        differs |= n4 != n1 || memcmp(e1, e2, n1 * sizeof *e1) != 0;
    }
    assert_true(differs); /* another seed gives other data */
    hr_free(e1);
    hr_free(e2);
    hr_synth_scratch_free(sa);
    hr_synth_scratch_free(sb);
    hr_synth_scratch_free(sc);
    hr_synth_model_free(a);
    hr_synth_model_free(b);
    hr_synth_model_free(c);
}

static void check_distinct(const hr_synth_model *m, uint64_t u, const hr_synth_event *ev, uint32_t n, void *ctx)
{
    uint8_t *seen = ctx;
    const hr_synth_params *p = hr_synth_model_params(m);
    memset(seen, 0, p->items);
    for (uint32_t j = 0; j < n; j++) {
        assert_true(ev[j].item < p->items);
        assert_int_equal(seen[ev[j].item], 0);
        seen[ev[j].item] = 1;
        assert_true(ev[j].t >= 0 && ev[j].t < p->span);
    }
    if (hr_synth_is_bot(m, u)) assert_true(n >= HR_SYNTH_BOT_MIN && n <= HR_SYNTH_BOT_MAX && n <= p->items);
}

static void test_distinct_items(void **state)
{
    (void)state;
    /* Every user at the cap (half the catalogue), with skewed affinities: the exact
     * without-replacement fallback must kick in and still give distinct items. */
    hr_synth_model *m = make(200, 20, 2000, 4, 5);
    uint8_t *seen = hr_malloc(3000);
    visit_all(m, check_distinct, seen);
    hr_synth_model_free(m);
    m = make(2000, 1000, 200000, 2, 6);
    visit_all(m, check_distinct, seen);
    hr_synth_model_free(m);

    hr_synth_params p;
    hr_synth_params_defaults(&p);
    p.users = 50, p.items = 2600, p.interactions = 500, p.bots = 3, p.dirty = 0.1;
    hr_error err = { 0 };
    assert_int_equal(hr_synth_model_create(&p, &m, &err), 0);
    assert_int_equal(hr_synth_total_users(m), 53);
    assert_true(hr_synth_is_bot(m, 50) && !hr_synth_is_bot(m, 49));
    visit_all(m, check_distinct, seen);
    hr_synth_model_free(m);
    hr_free(seen);
}

static void count_items(const hr_synth_model *m, uint64_t u, const hr_synth_event *ev, uint32_t n, void *ctx)
{
    uint64_t *cnt = ctx;
    for (uint32_t j = 0; j < n; j++) cnt[ev[j].item]++;
}

typedef struct { uint64_t item; double w; } item_w;
static int by_weight_desc(const void *a, const void *b)
{
    const item_w *x = a, *y = b;
    return (x->w < y->w) - (x->w > y->w);
}

static void test_popularity_power_law(void **state)
{
    (void)state;
    const uint64_t I = 5000;
    hr_synth_model *m = make(40000, I, 200000, 4, 9);
    uint64_t *cnt = hr_calloc(I, sizeof *cnt);
    visit_all(m, count_items, cnt);
    item_w *iw = hr_malloc(I * sizeof *iw);
    double wsum = 0;
    for (uint64_t i = 0; i < I; i++) {
        iw[i] = (item_w){ i, hr_synth_item_weight(m, i) };
        wsum += iw[i].w;
    }
    assert_true(fabs(wsum - 1.0) < 1e-9);
    qsort(iw, I, sizeof *iw, by_weight_desc);
    /* Weights are exactly 1/rank; popularity is shuffled, not the id order. */
    assert_true(fabs(iw[0].w / iw[9].w - 10.0) < 1e-9);
    assert_true(iw[0].item != 0 || iw[1].item != 1);
    /* Least-squares slope of log(count) on log(rank) over ranks 10..1000. */
    double sx = 0, sy = 0, sxx = 0, sxy = 0, n = 0;
    for (uint64_t k = 10; k <= 1000; k++) {
        if (cnt[iw[k - 1].item] == 0) continue;
        double x = log((double)k), y = log((double)cnt[iw[k - 1].item]);
        sx += x, sy += y, sxx += x * x, sxy += x * y, n++;
    }
    double slope = (n * sxy - sx * sy) / (n * sxx - sx * sx);
    print_message("popularity log-log slope %.3f\n", slope);
    assert_true(slope < -0.7 && slope > -1.3);
    hr_free(iw);
    hr_free(cnt);
    hr_synth_model_free(m);
}

/* With one event per user the first (and only) draw follows P(i | u) exactly, so item
 * counts must match sum_u p_u[c(i)] w_i / sum_c p_u[c] W_c. */
static void test_planted_recovered(void **state)
{
    (void)state;
    const uint64_t U = 40000, I = 60;
    const int R = 3;
    hr_synth_model *m = make(U, I, U, R, 21);
    uint64_t *cnt = hr_calloc(I, sizeof *cnt);
    visit_all(m, count_items, cnt);
    double *expect = hr_calloc(I, sizeof *expect), p[3], Wc[3];
    for (int c = 0; c < R; c++) Wc[c] = hr_synth_cluster_weight(m, c);
    for (uint64_t u = 0; u < U; u++) {
        hr_synth_user_affinity(m, u, p);
        double z = 0, ps = 0;
        for (int c = 0; c < R; c++) z += p[c] * Wc[c], ps += p[c];
        assert_true(fabs(ps - 1.0) < 1e-12);
        for (uint64_t i = 0; i < I; i++) expect[i] += p[hr_synth_item_cluster(m, i)] * hr_synth_item_weight(m, i) / z;
    }
    double chi2 = 0, pop_chi2 = 0;
    for (uint64_t i = 0; i < I; i++) {
        const double d = (double)cnt[i] - expect[i], pop = hr_synth_item_weight(m, i) * (double)U;
        assert_true(fabs(d) < 5 * sqrt(expect[i]) + 2);
        chi2 += d * d / expect[i];
        pop_chi2 += ((double)cnt[i] - pop) * ((double)cnt[i] - pop) / pop;
    }
    print_message("chi2/df planted %.2f, popularity-only %.2f\n", chi2 / (double)(I - 1), pop_chi2 / (double)(I - 1));
    assert_true(chi2 / (double)(I - 1) < 1.6);
    /* The affinities matter: popularity alone must not explain the counts as well. */
    assert_true(pop_chi2 > 3 * chi2);

    /* Per user group: users whose top cluster is c put the predicted share of events in c. */
    hr_synth_scratch *s = hr_synth_scratch_create(m);
    hr_synth_event ev[4];
    double obs[3] = { 0 }, pred[3] = { 0 }, users[3] = { 0 };
    for (uint64_t u = 0; u < U; u++) {
        hr_synth_user_affinity(m, u, p);
        int top = 0;
        for (int c = 1; c < R; c++)
            if (p[c] > p[top]) top = c;
        double z = 0;
        for (int c = 0; c < R; c++) z += p[c] * Wc[c];
        hr_synth_user_generate(m, u, s, ev);
        obs[top] += hr_synth_item_cluster(m, ev[0].item) == top;
        pred[top] += p[top] * Wc[top] / z;
        users[top]++;
    }
    for (int c = 0; c < R; c++) {
        assert_true(users[c] > 1000);
        assert_true(fabs(obs[c] - pred[c]) < 5 * sqrt(pred[c]) + 2);
        print_message("cluster %d: %.0f users, share in top cluster %.3f (W_c %.3f)\n", c, users[c], obs[c] / users[c], Wc[c]);
        assert_true(obs[c] / users[c] > Wc[c] + 0.25); /* strongly clustered, well above the popularity share W_c */
    }
    hr_synth_scratch_free(s);
    hr_free(expect);
    hr_free(cnt);
    hr_synth_model_free(m);
}

typedef struct { uint64_t hist[6], top_n, other_n; double top_sum, other_sum; int bad; } value_stats;

static void collect_values(const hr_synth_model *m, uint64_t u, const hr_synth_event *ev, uint32_t n, void *ctx)
{
    value_stats *st = ctx;
    const hr_synth_params *p = hr_synth_model_params(m);
    double aff[HR_SYNTH_MAX_FACTORS];
    hr_synth_user_affinity(m, u, aff);
    int top = 0;
    for (int c = 1; c < p->factors; c++)
        if (aff[c] > aff[top]) top = c;
    for (uint32_t j = 0; j < n; j++) {
        const int32_t v = ev[j].value;
        if (p->kind == HR_SYNTH_RATINGS) {
            if (v < 1 || v > 5) st->bad++;
            else st->hist[v]++;
        } else if (v < 1) {
            st->bad++;
        }
        if (hr_synth_item_cluster(m, ev[j].item) == top) st->top_n++, st->top_sum += v;
        else st->other_n++, st->other_sum += v;
    }
}

static void test_values(void **state)
{
    (void)state;
    hr_synth_model *m = make(5000, 2000, 100000, 8, 4);
    value_stats st = { 0 };
    visit_all(m, collect_values, &st);
    assert_int_equal(st.bad, 0);
    for (int v = 1; v <= 5; v++) assert_true(st.hist[v] > 1000);
    const double top = st.top_sum / (double)st.top_n, other = st.other_sum / (double)st.other_n;
    print_message("mean rating: top cluster %.2f, others %.2f\n", top, other);
    assert_true(top > other + 1.0);
    hr_synth_model_free(m);

    hr_synth_params p;
    hr_synth_params_defaults(&p);
    p.users = 5000, p.items = 2000, p.interactions = 100000, p.factors = 8, p.kind = HR_SYNTH_COUNTS;
    hr_error err = { 0 };
    assert_int_equal(hr_synth_model_create(&p, &m, &err), 0);
    memset(&st, 0, sizeof st);
    visit_all(m, collect_values, &st);
    assert_int_equal(st.bad, 0);
    assert_true(st.top_sum / (double)st.top_n > 2 * st.other_sum / (double)st.other_n);
    hr_synth_model_free(m);
}

static void test_faults(void **state)
{
    (void)state;
    hr_synth_params p;
    hr_synth_params_defaults(&p);
    p.users = 2000, p.items = 500, p.interactions = 40000, p.dirty = 0.3, p.span = 2 * 86400;
    hr_synth_model *m;
    hr_error err = { 0 };
    assert_int_equal(hr_synth_model_create(&p, &m, &err), 0);
    hr_synth_scratch *s = hr_synth_scratch_create(m);
    hr_synth_event *ev = hr_malloc(hr_synth_event_capacity(m) * sizeof *ev);
    uint64_t kinds[HR_FAULT__COUNT] = { 0 }, events = 0;
    for (uint64_t u = 0; u < p.users; u++) {
        uint32_t n = hr_synth_user_generate(m, u, s, ev);
        hr_rng r = hr_synth_fault_stream(m, u), r2 = hr_synth_fault_stream(m, u);
        for (uint32_t j = 0; j < n; j++, events++) {
            hr_synth_fault f, f2;
            hr_synth_fault_draw(m, &r, &ev[j], &f);
            hr_synth_fault_draw(m, &r2, &ev[j], &f2);
            assert_memory_equal(&f, &f2, sizeof f);
            kinds[f.kind]++;
            if (f.kind == HR_FAULT_CONFLICT) {
                assert_true(f.value != ev[j].value && f.value >= 1 && f.value <= 5);
                assert_true(f.t > ev[j].t && f.t < p.span);
            }
        }
    }
    const double faults = (double)(events - kinds[HR_FAULT_NONE]);
    assert_true(fabs(faults / (double)events - 0.3) < 0.01);
    for (int k = 1; k < HR_FAULT__COUNT; k++) {
        const double share = (double)kinds[k] / faults;
        assert_true(fabs(share - 1.0 / 7) < 0.015);
    }
    hr_free(ev);
    hr_synth_scratch_free(s);
    hr_synth_model_free(m);

    p.dirty = 0; /* no faults at all */
    assert_int_equal(hr_synth_model_create(&p, &m, &err), 0);
    hr_rng r = hr_synth_fault_stream(m, 0);
    hr_synth_event e = { 1, 3, 5 };
    for (int k = 0; k < 1000; k++) {
        hr_synth_fault f;
        hr_synth_fault_draw(m, &r, &e, &f);
        assert_int_equal(f.kind, HR_FAULT_NONE);
    }
    hr_synth_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_params_check),         cmocka_unit_test(test_exact_total),
        cmocka_unit_test(test_activity_heavy_tailed), cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_distinct_items),       cmocka_unit_test(test_popularity_power_law),
        cmocka_unit_test(test_planted_recovered),    cmocka_unit_test(test_values),
        cmocka_unit_test(test_faults),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
