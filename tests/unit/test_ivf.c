/* tests/unit/test_ivf.c — the ANN index pieces: MIPS reduction, rank-count-independent k-means
 * steps, quantizer probe, packed lists, the batched scan against brute force, selections of
 * non-consecutive ids, calibration's exact top-k, and the index files (round trip, every parse
 * error, truncated and altered files). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/rng.h"
#include "io/ivffile.h"
#include "io/manifest.h"
#include "solvers/ivf.h"
#include "solvers/kmeans.h"
#include "solvers/mips.h"
#include "solvers/topk.h"
#include "testutil.h"

static float *rand_rows(hr_rng *r, uint64_t n, int d, int skew)
{
    float *X = hr_malloc(n * (uint64_t)d * sizeof *X);
    for (uint64_t i = 0; i < n; i++) {
        float s = skew ? (float)exp(1.5 * hr_rng_normal(r)) : 1.0f;
        for (int j = 0; j < d; j++) X[i * (uint64_t)d + (uint64_t)j] = s * (float)hr_rng_normal(r);
    }
    return X;
}

static double dot(const float *a, const float *b, int d)
{
    double s = 0;
    for (int j = 0; j < d; j++) s += (double)a[j] * b[j];
    return s;
}

/* Augmented items all have norm M, and the L2-nearest augmented item is the best inner product. */
static void test_mips_reduction(void **state)
{
    (void)state;
    hr_rng r = hr_rng_stream(hr_test_seed(), 1, 0);
    const int k = 12;
    const uint64_t n = 400;
    float *Y = rand_rows(&r, n, k, 1), *b = rand_rows(&r, n, 1, 0), *Q = rand_rows(&r, 50, k, 0);
    double M2 = 0;
    for (uint64_t i = 0; i < n; i++) M2 = fmax(M2, hr_mips_norm2(HR_METRIC_IP, Y + i * k, b + i, k));
    assert_int_equal(hr_mips_dim(HR_METRIC_IP, k, 1), k + 1);
    assert_int_equal(hr_mips_dim(HR_METRIC_COSINE, k, 1), k);
    float *A = hr_malloc(n * (k + 2) * sizeof *A);
    for (uint64_t i = 0; i < n; i++) {
        hr_mips_augment_row(HR_METRIC_IP, Y + i * k, b + i, k, M2, A + i * (k + 2));
        assert_true(fabs(sqrt(dot(A + i * (k + 2), A + i * (k + 2), k + 2)) - sqrt(M2)) < 1e-4 * sqrt(M2));
    }
    for (int q = 0; q < 50; q++) {
        float qa[14] = { 0 };
        memcpy(qa, Q + q * k, k * sizeof *qa);
        qa[k] = 1;   /* the bias coordinate; the reduction coordinate stays 0 */
        uint64_t best_ip = 0, best_l2 = 0;
        double bi = -INFINITY, bl = INFINITY;
        for (uint64_t i = 0; i < n; i++) {
            double ip = dot(Q + q * k, Y + i * k, k) + b[i], l2 = 0;
            for (int j = 0; j < k + 2; j++) l2 += ((double)qa[j] - A[i * (k + 2) + j]) * ((double)qa[j] - A[i * (k + 2) + j]);
            if (ip > bi) bi = ip, best_ip = i;
            if (l2 < bl) bl = l2, best_l2 = i;
        }
        assert_int_equal(best_ip, best_l2);
    }
    /* cosine rows are unit length and equal to similar's normalisation */
    float u[12];
    hr_mips_scan_row(HR_METRIC_COSINE, Y, k, u);
    assert_true(fabs(dot(u, u, k) - 1) < 1e-5);
    hr_metric m;
    assert_int_equal(hr_metric_parse("cosine", &m), 0);
    assert_int_equal(m, HR_METRIC_COSINE);
    assert_int_equal(hr_metric_parse("l2", &m), -1);
    hr_free(Y);
    hr_free(b);
    hr_free(Q);
    hr_free(A);
}

/* A row's nearest centroid does not depend on how the rows are cut into calls (ranks). */
static void test_km_assign_any_split(void **state)
{
    (void)state;
    hr_rng r = hr_rng_stream(hr_test_seed(), 2, 0);
    const int d = 17;
    const uint64_t n = 1000;
    const uint32_t nl = 1500;   /* more than one chunk of centroids */
    float *X = rand_rows(&r, n, d, 1), *C = rand_rows(&r, nl, d, 0), *hn = hr_malloc(nl * sizeof *hn);
    hr_km_half_norms(C, nl, d, hn);
    uint32_t *a = hr_malloc(n * sizeof *a), *b = hr_malloc(n * sizeof *b);
    hr_km_work w;
    hr_km_work_init(&w, d);
    hr_km_assign(X, 7, n, d, C, hn, nl, a, NULL, &w);
    uint64_t cuts[] = { 0, 1, 300, 301, 777, n };
    for (int c = 0; c + 1 < 6; c++)
        hr_km_assign(X + cuts[c] * d, 7 + cuts[c], cuts[c + 1] - cuts[c], d, C, hn, nl, b + cuts[c], NULL, &w);
    assert_memory_equal(a, b, n * sizeof *a);
    /* and it is the nearest one (up to float rounding of near ties) */
    for (uint64_t i = 0; i < n; i++) {
        double best = INFINITY, mine = 0;
        for (uint32_t c = 0; c < nl; c++) {
            double v = 0.5 * dot(C + c * d, C + c * d, d) - dot(X + i * d, C + c * d, d);
            if (v < best) best = v;
            if (c == a[i]) mine = v;
        }
        assert_true(mine - best <= 1e-4 * (1 + fabs(best)));
    }
    hr_km_work_free(&w);
    hr_free(X);
    hr_free(C);
    hr_free(hn);
    hr_free(a);
    hr_free(b);
}

/* Fixed-point sums are the same whatever the order and split; means come out right. */
static void test_km_fixed_sums(void **state)
{
    (void)state;
    hr_rng r = hr_rng_stream(hr_test_seed(), 3, 0);
    const int d = 5;
    const uint64_t n = 2000;
    const uint32_t nl = 7;
    float *X = rand_rows(&r, n, d, 1);
    uint32_t *as = hr_malloc(n * sizeof *as);
    double maxabs = 0;
    for (uint64_t i = 0; i < n; i++) {
        as[i] = (uint32_t)hr_rng_below(&r, nl - 1);   /* list nl-1 stays empty */
        for (int j = 0; j < d; j++) maxabs = fmax(maxabs, fabs(X[i * d + j]));
    }
    int e = hr_km_fixed_exponent(maxabs);
    assert_true(ldexp(maxabs, e) < 0x1p30 && ldexp(maxabs, e) >= 0x1p29);
    int64_t s1[7 * 5 + 7] = { 0 }, s2[7 * 5 + 7] = { 0 };
    hr_km_accumulate(X, n, d, as, e, s1, s1 + nl * d);
    for (uint64_t i = n; i-- > 0;) hr_km_accumulate(X + i * d, 1, d, as + i, e, s2, s2 + nl * d);   /* reversed, one by one */
    assert_memory_equal(s1, s2, sizeof s1);
    float C[7 * 5];
    uint32_t splits = hr_km_update(s1, s1 + nl * d, nl, d, e, C);
    assert_int_equal(splits, 1);
    for (uint32_t c = 0; c + 1 < nl; c++)
        for (int j = 0; j < d; j++) {
            double sum = 0;
            uint64_t cnt = 0;
            for (uint64_t i = 0; i < n; i++)
                if (as[i] == c) sum += X[i * d + j], cnt++;
            double want = sum / (double)cnt;
            if (fabs(C[c * d + j] - want) > 1e-5 * (1 + fabs(want))) {
                /* the split list's partner moved by 1/1024 */
                assert_true(fabs(C[c * d + j] - want) <= fabs(want) / 1000);
            }
        }
    /* the empty list took a perturbed copy of the largest */
    int differs = 0;
    for (int j = 0; j < d; j++) differs |= C[(nl - 1) * d + j] != 0;
    assert_true(differs);
    hr_free(X);
    hr_free(as);
}

/* The probe order is the order of q.c + beta (brute force in double). */
static void test_probe_order(void **state)
{
    (void)state;
    hr_rng r = hr_rng_stream(hr_test_seed(), 4, 0);
    const int k = 8, dim = 9;   /* with a bias coordinate */
    const uint32_t nl = 90, np = 12;
    float *cent = rand_rows(&r, nl, dim + 1, 0), *Q = rand_rows(&r, 40, k, 0);
    hr_ivf_quantizer q;
    hr_ivf_quantizer_init(&q, cent, nl, k, dim);
    uint32_t *pr = hr_malloc(40 * np * sizeof *pr);
    hr_ivf_probe(&q, Q, NULL, 40, np, pr);
    for (int x = 0; x < 40; x++) {
        double prev = INFINITY;
        for (uint32_t p = 0; p < np; p++) {
            const float *c = cent + pr[x * np + p] * (dim + 1);
            double s = dot(Q + x * k, c, k) + c[k] - 0.5 * dot(c, c, dim + 1);
            assert_true(s <= prev + 1e-5);
            prev = s;
        }
        /* nothing outside the probed lists beats the last one */
        for (uint32_t c = 0; c < nl; c++) {
            int in = 0;
            for (uint32_t p = 0; p < np; p++) in |= pr[x * np + p] == c;
            const float *cc = cent + c * (dim + 1);
            if (!in) assert_true(dot(Q + x * k, cc, k) + cc[k] - 0.5 * dot(cc, cc, dim + 1) <= prev + 1e-5);
        }
    }
    /* through a map: query x is row map[x] */
    uint32_t map[40], *pm = hr_malloc(40 * np * sizeof *pm);
    for (uint32_t x = 0; x < 40; x++) map[x] = 39 - x;
    hr_ivf_probe(&q, Q, map, 40, np, pm);
    for (uint32_t x = 0; x < 40; x++) assert_memory_equal(pm + x * np, pr + (39 - x) * np, np * sizeof *pm);
    hr_free(pm);
    hr_ivf_quantizer_free(&q);
    hr_free(cent);
    hr_free(Q);
    hr_free(pr);
}

/* Reference top n of (score, id) pairs, best first. */
typedef struct pr { float s; uint32_t id; } pr;
static int cmp_pr(const void *a, const void *b)
{
    const pr *x = a, *y = b;
    if (x->s != y->s) return x->s > y->s ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

/* Packed lists hold every item once, by list, ids increasing; scanning every list of a batch
 * gives exactly the brute-force top N with exclusions and banned items left out. */
static void test_pack_and_exhaustive_scan(void **state)
{
    (void)state;
    hr_rng r = hr_rng_stream(hr_test_seed(), 5, 0);
    const int k = 16;
    const uint64_t n = 3000, lo = 1000;
    const uint32_t nl = 37, nq = 300, N = 15;
    float *Y = rand_rows(&r, n, k, 1), *bias = rand_rows(&r, n, 1, 0), *Q = rand_rows(&r, nq, k, 0);
    uint32_t *as = hr_malloc(n * sizeof *as);
    for (uint64_t i = 0; i < n; i++) as[i] = (uint32_t)hr_rng_below(&r, nl);
    void *buf = hr_malloc(hr_ivf_lists_bytes(nl, n, k, 1));
    hr_ivf_lists_pack(buf, HR_METRIC_IP, Y, bias, as, lo, n, nl, k);
    hr_ivf_lists L;
    hr_ivf_lists_view(buf, &L);
    assert_int_equal(L.n, n);
    assert_int_equal(L.lo, lo);
    assert_int_equal(hr_ivf_lists_used(buf), hr_ivf_lists_bytes(nl, n, k, 1));
    assert_int_equal(L.off[nl], n);
    for (uint32_t c = 0; c < nl; c++)
        for (uint32_t x = L.off[c]; x < L.off[c + 1]; x++) {
            uint32_t id = L.ids[x];
            assert_int_equal(as[id - lo], c);
            if (x > L.off[c]) assert_true(id > L.ids[x - 1]);
            assert_memory_equal(L.rows + (uint64_t)x * k, Y + (id - lo) * k, k * sizeof(float));
            assert_true(L.bias[x] == bias[id - lo]);
        }
    /* every query probes every list */
    uint32_t *probes = hr_malloc(nq * nl * sizeof *probes);
    for (uint32_t x = 0; x < nq; x++)
        for (uint32_t c = 0; c < nl; c++) probes[x * nl + c] = (c + x) % nl;
    hr_ivf_groups g = { nl, hr_malloc((nl + 1) * sizeof(uint32_t)), hr_malloc(nq * nl * sizeof(uint32_t)) };
    hr_ivf_group(&g, probes, nq, nl);
    uint8_t *banned = hr_calloc(lo + n, 1);
    for (uint64_t i = lo; i < lo + n; i += 7) banned[i] = 1;
    uint32_t **excl = hr_malloc(nq * sizeof *excl), *nexcl = hr_malloc(nq * sizeof *nexcl);
    hr_topkey *store = hr_malloc(nq * 2 * N * sizeof *store);
    hr_topbuf *heaps = hr_malloc(nq * sizeof *heaps);
    for (uint32_t x = 0; x < nq; x++) {
        nexcl[x] = 20;
        excl[x] = hr_malloc(20 * sizeof **excl);
        for (uint32_t e = 0; e < 20; e++) excl[x][e] = (uint32_t)(lo + x + 97 * e);   /* increasing */
        hr_topbuf_init(&heaps[x], store + x * 2 * N, N, 2 * N);
    }
    float *work = hr_malloc(hr_ivf_scan_work_floats(k) * sizeof *work);
    hr_ivf_batch b = { Q, heaps, excl, nexcl, banned, NULL };
    assert_int_equal(hr_ivf_scan(&L, &g, &b, work), (uint64_t)nq * n);
    pr *all = hr_malloc(n * sizeof *all);
    uint32_t idx[15];
    float sc[15];
    for (uint32_t x = 0; x < nq; x++) {
        uint64_t m = 0;
        for (uint64_t i = 0; i < n; i++) {
            uint32_t id = (uint32_t)(lo + i);
            int ex = banned[id];
            for (uint32_t e = 0; e < 20; e++) ex |= excl[x][e] == id;
            if (!ex) all[m++] = (pr){ (float)(dot(Q + x * k, Y + i * k, k) + bias[i]), id };
        }
        qsort(all, m, sizeof *all, cmp_pr);
        uint32_t got = hr_topbuf_sorted(&heaps[x], idx, sc);
        assert_int_equal(got, N);
        for (uint32_t t = 0; t < N; t++) {
            /* SGEMM rounds differently from the double reference: compare scores, and ids unless tied */
            assert_true(fabs(sc[t] - all[t].s) <= 1e-4 * (1 + fabs(all[t].s)));
            if (t + 1 < N && fabs(all[t].s - all[t + 1].s) > 1e-3 && (t == 0 || fabs(all[t].s - all[t - 1].s) > 1e-3))
                assert_int_equal(idx[t], all[t].id);
        }
        hr_free(excl[x]);
    }
    /* cosine packing normalises the rows */
    hr_ivf_lists_pack(buf, HR_METRIC_COSINE, Y, NULL, as, lo, n, nl, k);
    hr_ivf_lists_view(buf, &L);
    assert_null(L.bias);
    assert_true(fabs(dot(L.rows, L.rows, k) - 1) < 1e-5);
    hr_free(all);
    hr_free(work);
    hr_free(excl);
    hr_free(nexcl);
    hr_free(store);
    hr_free(heaps);
    hr_free(banned);
    hr_free(g.off);
    hr_free(g.q);
    hr_free(probes);
    hr_free(buf);
    hr_free(Y);
    hr_free(bias);
    hr_free(Q);
    hr_free(as);
}

/* hr_topbuf_push_ids keeps the best n allowed (score, id) pairs, ties to the lower id. */
static void test_push_ids(void **state)
{
    (void)state;
    hr_rng r = hr_rng_stream(hr_test_seed(), 6, 0);
    const uint32_t cnt = 500, n = 20;
    float *s = hr_malloc(cnt * sizeof *s);
    uint32_t *ids = hr_malloc(cnt * sizeof *ids);
    uint8_t *ban = hr_calloc(10000 + cnt, 1);   /* ids reach 10000 + cnt */
    for (uint32_t j = 0; j < cnt; j++) {
        ids[j] = (uint32_t)hr_rng_below(&r, 10000);
        for (uint32_t z = 0; z < j; z++)
            if (ids[z] == ids[j]) ids[j] = (uint32_t)(10000 + j);   /* distinct ids */
        s[j] = (float)(hr_rng_below(&r, 50)) / 7.0f;             /* many ties */
        if (j % 13 == 0) s[j] = NAN;
    }
    uint32_t exs[4] = { ids[29], ids[58], ids[87], ids[116] };   /* excluded, sorted below */
    for (int x = 0; x < 4; x++)
        for (int y = x + 1; y < 4; y++)
            if (exs[y] < exs[x]) {
                uint32_t t = exs[x];
                exs[x] = exs[y];
                exs[y] = t;
            }
    for (uint32_t j = 0; j < cnt; j += 11)
        if (ids[j] < 10000) ban[ids[j]] = 1;
    hr_topkey st[40];
    hr_topbuf b;
    hr_topbuf_init(&b, st, n, 2 * n);
    hr_topbuf_push_ids(&b, s, ids, 250, exs, 4, ban);
    hr_topbuf_push_ids(&b, s + 250, ids + 250, cnt - 250, exs, 4, ban);
    pr all[500];
    uint32_t m = 0;
    for (uint32_t j = 0; j < cnt; j++) {
        int out = isnan(s[j]) || ban[ids[j]];
        for (int e = 0; e < 4; e++) out |= exs[e] == ids[j];
        if (!out) all[m++] = (pr){ s[j], ids[j] };
    }
    qsort(all, m, sizeof *all, cmp_pr);
    uint32_t idx[20];
    float sc[20];
    assert_int_equal(hr_topbuf_sorted(&b, idx, sc), n);
    for (uint32_t t = 0; t < n; t++) {
        assert_int_equal(idx[t], all[t].id);
        assert_true(sc[t] == all[t].s);
    }
    hr_free(s);
    hr_free(ids);
    hr_free(ban);
}

/* Calibration's exact top-k does not depend on how the items are cut into blocks. */
static void test_exact_topk_blocks(void **state)
{
    (void)state;
    hr_rng r = hr_rng_stream(hr_test_seed(), 7, 0);
    const int dim = 9, ld = 10;
    const uint64_t n = 1500;
    const uint32_t nq = 30, K = 10;
    float *V = rand_rows(&r, n, ld, 1), *Q = rand_rows(&r, nq, dim, 0);
    uint32_t self[30];
    for (uint32_t x = 0; x < nq; x++) self[x] = x * 50;
    hr_topkey *s1 = hr_malloc(nq * 2 * K * sizeof *s1), *s2 = hr_malloc(nq * 2 * K * sizeof *s2);
    hr_topbuf b1[30], b2[30];
    for (uint32_t x = 0; x < nq; x++) {
        hr_topbuf_init(&b1[x], s1 + x * 2 * K, K, 2 * K);
        hr_topbuf_init(&b2[x], s2 + x * 2 * K, K, 2 * K);
    }
    hr_ivf_exact_topk(V, ld, dim, 0, n, Q, nq, self, b1);
    uint64_t cuts[] = { 0, 333, 334, 1024, n };
    for (int c = 0; c < 4; c++) hr_ivf_exact_topk(V + cuts[c] * ld, ld, dim, cuts[c], cuts[c + 1] - cuts[c], Q, nq, self, b2);
    for (uint32_t x = 0; x < nq; x++) {
        uint32_t i1[10], i2[10];
        float f1[10], f2[10];
        assert_int_equal(hr_topbuf_sorted(&b1[x], i1, f1), K);
        assert_int_equal(hr_topbuf_sorted(&b2[x], i2, f2), K);
        assert_memory_equal(i1, i2, sizeof i1);
        assert_memory_equal(f1, f2, sizeof f1);
        for (uint32_t t = 0; t < K; t++) assert_int_not_equal(i1[t], self[x]);
    }
    hr_free(V);
    hr_free(Q);
    hr_free(s1);
    hr_free(s2);
}

/* ---- index files ---- */

static hr_index_meta small_meta(void)
{
    hr_index_meta m;
    memset(&m, 0, sizeof m);
    m.metric = HR_METRIC_IP;
    m.k = 3;
    m.dim = 4;
    m.has_bias = 1;
    m.nlist = 4;
    m.nparts = 3;
    m.probe = 2;
    m.n_items = 10;
    m.seed = 1;
    return m;
}

/* Write a small index (items 0..9, list i % 4) into the test directory; returns its manifest. */
static json_t *write_small(const char *dir)
{
    hr_index_meta m = small_meta();
    json_t *j = hr_index_manifest_new(&m);
    json_object_set_new(j, "model", json_pack("{s:s,s:s}", "path", "m.tar", "manifest_xxh3", "0123456789abcdef"));
    float cent[4 * 5];
    uint64_t sizes[4] = { 3, 3, 2, 2 }, xx, by;
    for (int i = 0; i < 20; i++) cent[i] = (float)i;
    hr_error err = { 0 };
    char path[600], name[32];
    snprintf(path, sizeof path, "%s/%s", dir, HR_INDEX_QUANTIZER);
    assert_int_equal(hr_index_quantizer_write(path, cent, 4, 5, sizes, &xx, &by, &err), 0);
    hr_manifest_add_file(j, HR_INDEX_QUANTIZER, by, xx);
    for (uint32_t p = 0; p < 3; p++) {
        uint64_t lo, hi;
        hr_index_part_range(10, 3, p, &lo, &hi);
        uint32_t list[10];
        for (uint64_t i = lo; i < hi; i++) list[i - lo] = (uint32_t)(i % 4);
        hr_index_part_name(p, name, sizeof name);
        snprintf(path, sizeof path, "%s/%s", dir, name);
        assert_int_equal(hr_index_part_write(path, p, 4, lo, hi, list, &xx, &by, &err), 0);
        hr_manifest_add_file(j, name, by, xx);
    }
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    assert_int_equal(hr_manifest_write(path, j, &err), 0);
    return j;
}

static void test_files_round_trip(void **state)
{
    (void)state;
    json_t *j = write_small(hr_test_dir);
    hr_index_meta m;
    hr_error err = { 0 };
    assert_int_equal(hr_index_meta_read(hr_test_dir, &m, &err), 0);
    assert_int_equal(m.nlist, 4);
    assert_int_equal(m.nparts, 3);
    assert_int_equal(m.dim, 4);
    assert_string_equal(m.model_xxh3, "0123456789abcdef");
    float *cent;
    uint64_t *sizes;
    assert_int_equal(hr_index_quantizer_read(hr_test_dir, &m, &cent, &sizes, &err), 0);
    assert_true(cent[19] == 19.0f && sizes[2] == 2);
    uint32_t list[10];
    assert_int_equal(hr_index_assign_read(hr_test_dir, &m, 2, 9, list, &err), 0);   /* spans all three parts */
    for (uint64_t i = 2; i < 9; i++) assert_int_equal(list[i - 2], i % 4);
    uint64_t counts[4] = { 0 };
    for (uint32_t p = 0; p < 3; p++) assert_int_equal(hr_index_part_check(hr_test_dir, &m, p, counts, &err), 0);
    assert_memory_equal(counts, sizes, sizeof counts);
    assert_int_equal(hr_index_assign_read(hr_test_dir, &m, 5, 11, list, &err), HR_ERR_ARG);
    hr_free(cent);
    hr_free(sizes);
    hr_index_meta_free(&m);
    json_decref(j);
}

/* A damaged file on disk: truncated, one byte flipped, missing. */
static void test_files_damaged(void **state)
{
    (void)state;
    json_t *j = write_small(hr_test_dir);
    hr_index_meta m;
    hr_error err = { 0 };
    assert_int_equal(hr_index_meta_read(hr_test_dir, &m, &err), 0);
    const char *p1 = hr_test_path("part-00001.bin.zst");
    size_t len;
    char *orig = hr_test_read_file(p1, &len);
    uint32_t list[10];
    hr_test_write_file(p1, orig, len - 3);
    assert_int_equal(hr_index_assign_read(hr_test_dir, &m, 0, 10, list, &err), HR_ERR_CHECKSUM);
    assert_msg_has(&err, "part-00001.bin.zst: truncated");
    orig[len / 2] ^= 0x10;
    hr_test_write_file(p1, orig, len);
    assert_int_equal(hr_index_assign_read(hr_test_dir, &m, 0, 10, list, &err), HR_ERR_CHECKSUM);
    assert_msg_has(&err, "checksum mismatch");
    remove(p1);
    assert_int_equal(hr_index_assign_read(hr_test_dir, &m, 0, 10, list, &err), HR_ERR_IO);
    assert_msg_has(&err, "missing");
    /* parts not overlapping the range are not read */
    assert_int_equal(hr_index_assign_read(hr_test_dir, &m, 0, 3, list, &err), 0);
    hr_free(orig);
    hr_index_meta_free(&m);
    json_decref(j);
}

/* Every field the manifest parser checks. */
static void test_meta_parse_errors(void **state)
{
    (void)state;
    json_t *good = write_small(hr_test_dir);
    hr_index_meta m;
    hr_error err = { 0 };
    static const struct { const char *key, *json, *msg; int code; } cases[] = {
        { "version", "2", "version 2 is not supported", HR_ERR_VERSION },
        { "metric", "\"l2\"", "\"metric\"", HR_ERR_FORMAT },
        { "dim", "3", "\"dim\" 3 does not match", HR_ERR_FORMAT },
        { "lists", "11", "\"lists\" must be an integer in 1..10", HR_ERR_FORMAT },
        { "probe", "5", "\"probe\" must be an integer in 1..4", HR_ERR_FORMAT },
        { "parts", "0", "\"parts\"", HR_ERR_FORMAT },
        { "item_bias", "1", "item_bias", HR_ERR_FORMAT },
        { "model", "{\"manifest_xxh3\": \"xyz\"}", "manifest_xxh3", HR_ERR_FORMAT },
        { "files", "{}", "quantizer.bin.zst", HR_ERR_FORMAT },
        { "format", "\"hpcrec-model\"", "not an hpcrec index manifest", HR_ERR_FORMAT },
        { "calibration", "{\"probe_for_depth\": {\"10\": 9}}", "probes 1..4", HR_ERR_FORMAT },
        { "calibration", "{\"probe_for_depth\": {\"x\": 1}}", "depths 1..1000000", HR_ERR_FORMAT },
        { "calibration", "{\"probe_for_depth\": [1]}", "probe_for_depth", HR_ERR_FORMAT },
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        json_t *j = json_deep_copy(good);
        json_object_set_new(j, cases[c].key, json_loads(cases[c].json, JSON_DECODE_ANY, NULL));
        int rc = hr_index_meta_parse(j, "x/manifest.json", &m, &err);
        if (rc != cases[c].code) fail_msg("%s=%s: rc %d (%s)", cases[c].key, cases[c].json, rc, err.msg);
        assert_msg_has(&err, cases[c].msg);
        hr_index_meta_free(&m);
        json_decref(j);
    }
    /* depths come back sorted */
    json_t *c = json_deep_copy(good);
    json_object_set_new(c, "calibration", json_loads("{\"probe_for_depth\": {\"50\": 4, \"10\": 2, \"20\": 3}}", 0, NULL));
    assert_int_equal(hr_index_meta_parse(c, "x/manifest.json", &m, &err), 0);
    assert_int_equal(m.ndepth, 3);
    assert_true(m.depth[0] == 10 && m.depth[1] == 20 && m.depth[2] == 50);
    assert_true(m.depth_probe[0] == 2 && m.depth_probe[1] == 3 && m.depth_probe[2] == 4);
    hr_index_meta_free(&m);
    json_decref(c);
    /* a part missing from "files" */
    json_t *j = json_deep_copy(good);
    json_object_del(json_object_get(j, "files"), "part-00002.bin.zst");
    assert_int_equal(hr_index_meta_parse(j, "x/manifest.json", &m, &err), HR_ERR_FORMAT);
    json_decref(j);
    json_decref(good);
}

/* Decoded contents that contradict the manifest. */
static void test_part_parse_errors(void **state)
{
    (void)state;
    hr_index_meta m = small_meta();
    hr_error err = { 0 };
    char raw[64];
    uint32_t h[4] = { 1, 1, 4, 0 };
    uint64_t r[2] = { 3, 6 };
    uint32_t list[3] = { 0, 3, 2 }, out[3];
    memcpy(raw, "HRIVFP01", 8);
    memcpy(raw + 8, h, 16);
    memcpy(raw + 24, r, 16);
    memcpy(raw + 40, list, 12);
    assert_int_equal(hr_index_part_parse(raw, 52, "p", &m, 1, out, &err), 0);
    assert_memory_equal(out, list, sizeof list);
    assert_int_equal(hr_index_part_parse(raw, 51, "p", &m, 1, out, &err), HR_ERR_FORMAT);
    assert_int_equal(hr_index_part_parse(raw, 30, "p", &m, 1, out, &err), HR_ERR_FORMAT);
    assert_msg_has(&err, "truncated");
    assert_int_equal(hr_index_part_parse(raw, 52, "p", &m, 2, out, &err), HR_ERR_FORMAT);
    assert_msg_has(&err, "expected part 2");
    raw[40 + 4] = 9;   /* list 9 of 4 */
    assert_int_equal(hr_index_part_parse(raw, 52, "p", &m, 1, out, &err), HR_ERR_FORMAT);
    assert_msg_has(&err, "item 4 is in list 9 of 4");
    raw[0] = 'X';
    assert_int_equal(hr_index_part_parse(raw, 52, "p", &m, 1, out, &err), HR_ERR_FORMAT);
    assert_msg_has(&err, "bad magic");
    /* quantizer: sizes must add up to the items, values finite */
    char q[8 + 16 + 4 * 5 * 4 + 4 * 8];
    uint32_t qh[4] = { 1, 4, 5, 0 };
    float cent[20] = { 0 };
    uint64_t sizes[4] = { 3, 3, 2, 2 };
    float c2[20];
    uint64_t s2[4];
    memcpy(q, "HRIVFQ01", 8);
    memcpy(q + 8, qh, 16);
    memcpy(q + 24, cent, sizeof cent);
    memcpy(q + 24 + sizeof cent, sizes, sizeof sizes);
    assert_int_equal(hr_index_quantizer_parse(q, sizeof q, "q", &m, c2, s2, &err), 0);
    sizes[3] = 3;
    memcpy(q + 24 + sizeof cent, sizes, sizeof sizes);
    assert_int_equal(hr_index_quantizer_parse(q, sizeof q, "q", &m, c2, s2, &err), HR_ERR_FORMAT);
    assert_msg_has(&err, "list sizes add up");
    cent[7] = INFINITY;
    memcpy(q + 24, cent, sizeof cent);
    assert_int_equal(hr_index_quantizer_parse(q, sizeof q, "q", &m, c2, s2, &err), HR_ERR_FORMAT);
    assert_msg_has(&err, "centroid 1 is not finite");
    qh[0] = 2;
    memcpy(q + 8, qh, 16);
    assert_int_equal(hr_index_quantizer_parse(q, sizeof q, "q", &m, c2, s2, &err), HR_ERR_VERSION);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mips_reduction),
        cmocka_unit_test(test_km_assign_any_split),
        cmocka_unit_test(test_km_fixed_sums),
        cmocka_unit_test(test_probe_order),
        cmocka_unit_test(test_pack_and_exhaustive_scan),
        cmocka_unit_test(test_push_ids),
        cmocka_unit_test(test_exact_topk_blocks),
        cmocka_unit_test_setup_teardown(test_files_round_trip, hr_test_setup, hr_test_teardown),
        cmocka_unit_test_setup_teardown(test_files_damaged, hr_test_setup, hr_test_teardown),
        cmocka_unit_test_setup_teardown(test_meta_parse_errors, hr_test_setup, hr_test_teardown),
        cmocka_unit_test(test_part_parse_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
