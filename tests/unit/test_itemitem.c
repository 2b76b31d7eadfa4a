/* tests/unit/test_itemitem.c — item-item models: the column-block byte format (io/iiblock.h)
 * round trips and refusals, the block scorer (solvers/itemitem.h) dense and sparse against a
 * double-precision reference, top-M selection, item-item and fold-in model bundles (io/model.h:
 * whole, dictionaries only, block shares, the row scorer, what save and load refuse), and the
 * grid shape rule (mpi/grid.h). */
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
#include "io/iiblock.h"
#include "io/model.h"
#include "mpi/grid.h"
#include "solvers/itemitem.h"
#include "tests/unit/testutil.h"

/* A dense column-major n x (c1 - c0) block of random weights (some exact zeros). */
static float *rand_block(uint64_t n, uint64_t w, uint64_t seed)
{
    float *B = hr_malloc(n * w * sizeof *B);
    hr_rng r = hr_rng_stream(seed, 42, 0);
    for (uint64_t x = 0; x < n * w; x++) B[x] = hr_rng_below(&r, 7) == 0 ? 0.0f : (float)(hr_rng_uniform(&r) - 0.5);
    return B;
}

/* The same weights as a sparse block keeping every non-zero entry. */
static void to_sparse(const float *B, uint64_t n, uint64_t w, uint64_t *ptr, uint32_t *row, float *val, uint64_t *nnz)
{
    *nnz = 0;
    ptr[0] = 0;
    for (uint64_t c = 0; c < w; c++) {
        for (uint64_t i = 0; i < n; i++)
            if (B[c * n + i] != 0.0f) {
                row[*nnz] = (uint32_t)i;
                val[(*nnz)++] = B[c * n + i];
            }
        ptr[c + 1] = *nnz;
    }
}

static void test_iiblock_roundtrip(void **state)
{
    (void)state;
    const uint64_t n = 23, c0 = 5, c1 = 17, w = c1 - c0;
    float *B = rand_block(n, w, 1);
    hr_iiblock d = { n, c0, c1, n * w, 1, NULL, NULL, B }, got;
    hr_error err = { 0 };
    void *p;
    size_t len;
    hr_iiblock_encode(&d, &p, &len);
    assert_int_equal(len, hr_iiblock_size(&d));
    assert_int_equal(hr_iiblock_decode(p, len, n, "t", &got, &err), 0);
    assert_true(got.dense && got.c0 == c0 && got.c1 == c1 && got.nnz == n * w);
    assert_memory_equal(got.val, B, n * w * sizeof *B);
    hr_free(p);
    uint64_t ptr[32], nnz;
    uint32_t row[23 * 12];
    float val[23 * 12];
    to_sparse(B, n, w, ptr, row, val, &nnz);
    hr_iiblock s = { n, c0, c1, nnz, 0, ptr, row, val };
    hr_iiblock_encode(&s, &p, &len);
    assert_int_equal(hr_iiblock_decode(p, len, n, "t", &got, &err), 0);
    assert_true(!got.dense && got.nnz == nnz);
    assert_memory_equal(got.ptr, ptr, (w + 1) * sizeof *ptr);
    assert_memory_equal(got.row, row, nnz * sizeof *row);
    assert_memory_equal(got.val, val, nnz * sizeof *val);
    assert_int_equal(hr_iiblock_view(p, len, n, "t", &got, &err), 0);
    assert_true(got.row[0] == row[0] && got.ptr[w] == nnz);
    hr_free(p);
    hr_free(B);
}

/* Decode a copy of p[0..len) with one modification applied by `edit`; expect code. */
static void expect_refused(const void *p, size_t len, size_t at, const void *bytes, size_t nb, size_t newlen, uint64_t n, int code,
                           const char *needle)
{
    char *q = hr_malloc(len + 16);
    memcpy(q, p, len);
    if (nb) memcpy(q + at, bytes, nb);
    hr_iiblock b;
    hr_error err = { 0 };
    assert_int_equal(hr_iiblock_decode(q, newlen, n, "blk", &b, &err), code);
    assert_msg_has(&err, "blk");
    if (needle) assert_msg_has(&err, needle);
    hr_free(q);
}

static void test_iiblock_rejects(void **state)
{
    (void)state;
    const uint64_t n = 10, w = 3;
    uint64_t ptr[4] = { 0, 2, 2, 5 };
    uint32_t row[5] = { 1, 7, 0, 4, 9 };
    float val[5] = { 1, 2, 3, 4, 5 };
    hr_iiblock s = { n, 4, 7, 5, 0, ptr, row, val };
    void *p;
    size_t len;
    hr_iiblock_encode(&s, &p, &len);
    const size_t P0 = HR_IIBLOCK_HEADER, R0 = P0 + (w + 1) * 8, V0 = R0 + 5 * 4;
    uint32_t two = 2, big = 10, lower = 8;
    uint64_t one = 1, nine = 9, cols = 5, c1 = 11;
    float nan = NAN;
    expect_refused(p, len, 0, "HRXXBLK1", 8, len, n, HR_ERR_FORMAT, "magic");
    expect_refused(p, len, 8, &two, 4, len, n, HR_ERR_VERSION, "version 2");
    expect_refused(p, len, 0, NULL, 0, 40, n, HR_ERR_FORMAT, NULL);            /* truncated header */
    expect_refused(p, len, 0, NULL, 0, len - 4, n, HR_ERR_FORMAT, "size");      /* truncated body */
    expect_refused(p, len, 0, NULL, 0, len, n + 1, HR_ERR_FORMAT, "model of 11 items");
    expect_refused(p, len, 32, &c1, 8, len, n, HR_ERR_FORMAT, NULL);            /* c1 > n */
    expect_refused(p, len, 24, &cols, 8, len, n, HR_ERR_FORMAT, "size");        /* c0 5: the sizes no longer add up */
    expect_refused(p, len, P0, &one, 8, len, n, HR_ERR_FORMAT, "CSC");          /* ptr[0] != 0 */
    expect_refused(p, len, P0 + 8, &nine, 8, len, n, HR_ERR_FORMAT, "CSC");     /* past nnz */
    expect_refused(p, len, R0 + 4, &big, 4, len, n, HR_ERR_FORMAT, "rows");     /* row >= n */
    expect_refused(p, len, R0, &lower, 4, len, n, HR_ERR_FORMAT, "rows");       /* column 4: 8 then 7 */
    expect_refused(p, len, R0 + 3 * 4, &big, 4, len, n, HR_ERR_FORMAT, "rows"); /* column 6: 4 then 10 */
    expect_refused(p, len, V0 + 2 * 4, &nan, 4, len, n, HR_ERR_FORMAT, "non-finite");
    hr_free(p);
}

static void test_iiblock_score(void **state)
{
    (void)state;
    const uint64_t n = 37, c0 = 6, c1 = 30, w = c1 - c0, nq = 9;
    float *B = rand_block(n, w, 2);
    uint64_t ptr[32], nnz;
    uint32_t *row = hr_malloc(n * w * sizeof *row);
    float *val = hr_malloc(n * w * sizeof *val);
    to_sparse(B, n, w, ptr, row, val, &nnz);
    hr_iiblock d = { n, c0, c1, n * w, 1, NULL, NULL, B }, s = { n, c0, c1, nnz, 0, ptr, row, val };
    hr_iirows t = { hr_malloc((n + 1) * sizeof *t.rptr), hr_malloc(nnz * sizeof *t.rcol), hr_malloc(nnz * sizeof *t.rval) };
    hr_iiblock_rows(&s, &t);
    /* queries: random rows, ascending items, values 1..3 (query 0 empty) */
    uint64_t qp[16] = { 0 };
    uint32_t qi[16 * 37];
    float qv[16 * 37];
    hr_rng r = hr_rng_stream(3, 1, 1);
    for (uint64_t q = 0; q < nq; q++) {
        qp[q + 1] = qp[q];
        for (uint32_t i = 0; q && i < n; i++)
            if (hr_rng_below(&r, 3) == 0) {
                qi[qp[q + 1]] = i;
                qv[qp[q + 1]++] = (float)(1 + hr_rng_below(&r, 3));
            }
    }
    hr_iiquery qq = { qp, qi, qv };
    float Sd[16 * 24], Ss[16 * 24], Sp[16 * 10];
    hr_iiblock_score(&d, NULL, &qq, 0, (uint32_t)nq, c0, c1, Sd, w);
    hr_iiblock_score(&s, &t, &qq, 0, (uint32_t)nq, c0, c1, Ss, w);
    hr_iiblock_score(&s, &t, &qq, 2, 5, 12, 22, Sp, 10);   /* a tile inside the block, queries 2..6 */
    for (uint64_t q = 0; q < nq; q++)
        for (uint64_t j = c0; j < c1; j++) {
            double ref = 0;
            for (uint64_t e = qp[q]; e < qp[q + 1]; e++) ref += (double)qv[e] * B[(j - c0) * n + qi[e]];
            assert_float_equal(Sd[q * w + (j - c0)], ref, 1e-5);
            assert_float_equal(Ss[q * w + (j - c0)], ref, 1e-5);
            if (q >= 2 && q < 7 && j >= 12 && j < 22) assert_float_equal(Sp[(q - 2) * 10 + (j - 12)], ref, 1e-5);
        }
    hr_free(t.rptr);
    hr_free(t.rcol);
    hr_free(t.rval);
    hr_free(B);
    hr_free(row);
    hr_free(val);
}

static void test_iiblock_topm(void **state)
{
    (void)state;
    /* column 0: |v| order 9(-0.9), 2(0.5), 4(-0.5: tie, higher row), 1(0.3); zeros never kept */
    float B[2 * 10] = { 0, 0.3f, 0.5f, 0, -0.5f, 0.1f, 0, 0, 0, -0.9f, /* column 1: only two non-zeros */
                        0, 0, 0, 0, 0, 0, 2.0f, 0, -1.0f, 0 };
    uint64_t ptr[3];
    uint32_t row[6];
    float val[6];
    uint64_t nnz = hr_iiblock_topm(B, 10, 2, 3, ptr, row, val);
    assert_int_equal(nnz, 5);
    assert_int_equal(ptr[1], 3);
    uint32_t want_rows[5] = { 2, 4, 9, 6, 8 };
    float want_vals[5] = { 0.5f, -0.5f, -0.9f, 2.0f, -1.0f };
    assert_memory_equal(row, want_rows, sizeof want_rows);
    assert_memory_equal(val, want_vals, sizeof want_vals);
}

static void dict_ints(hr_dict *d, uint64_t n)
{
    memset(d, 0, sizeof *d);
    d->is_int = 1;
    d->n = n;
    d->ints = hr_malloc((n ? n : 1) * sizeof *d->ints);
    d->nnz = hr_calloc(n ? n : 1, sizeof *d->nnz);
    for (uint64_t i = 0; i < n; i++) d->ints[i] = (int64_t)i * 3 + 1;
}

/* A whole dense item-item model of n items in blocks of 8 columns. */
static void make_ii(hr_model *m, uint64_t n, float **B)
{
    memset(m, 0, sizeof *m);
    m->kind = HR_MODEL_ITEMITEM;
    snprintf(m->algo, sizeof m->algo, "ease");
    m->n_users = 4;
    m->n_items = n;
    dict_ints(&m->users, 4);
    dict_ints(&m->items, n);
    m->row_weight = HR_ROWS_VALUE;
    m->ii_cols = 8;
    m->ii_count = (n + 7) / 8;
    m->ii = hr_calloc(m->ii_count, sizeof *m->ii);
    *B = rand_block(n, n, 5);
    for (uint64_t c = 0; c < m->ii_count; c++) {
        uint64_t c0 = c * 8, c1 = c0 + 8 < n ? c0 + 8 : n;
        m->ii[c] = (hr_iiblock){ n, c0, c1, n * (c1 - c0), 1, NULL, NULL, *B + c0 * n };
    }
}

static void free_ii(hr_model *m, float *B)
{
    hr_free(m->ii);
    m->ii = NULL;
    m->ii_count = 0;
    hr_free(B);
    hr_model_free(m);
}

static void test_model_itemitem(void **state)
{
    (void)state;
    const uint64_t n = 20;
    hr_model m, r, p;
    float *B;
    hr_error err = { 0 };
    make_ii(&m, n, &B);
    const char *path = hr_test_path("ii.tar");
    assert_int_equal(hr_model_save(path, &m, NULL, &err), 0);
    /* whole */
    assert_int_equal(hr_model_load(path, &r, &err), 0);
    assert_int_equal(r.kind, HR_MODEL_ITEMITEM);
    assert_true(r.ii_cols == 8 && r.ii_topm == 0 && r.row_weight == HR_ROWS_VALUE && r.ii_count == 3 && r.k == 0);
    for (uint64_t c = 0; c < 3; c++) {
        assert_true(r.ii[c].c0 == m.ii[c].c0 && r.ii[c].c1 == m.ii[c].c1);
        assert_memory_equal(r.ii[c].val, m.ii[c].val, r.ii[c].nnz * sizeof(float));
    }
    /* the row scorer: x . B in double */
    uint32_t items[3] = { 1, 7, 19 };
    float vals[3] = { 2, 1, 0.5f }, sc[20];
    assert_int_equal(hr_model_score_row(&r, items, vals, 3, sc, &err), 0);
    for (uint64_t j = 0; j < n; j++) {
        double ref = 2.0 * B[j * n + 1] + B[j * n + 7] + 0.5 * B[j * n + 19];
        assert_float_equal(sc[j], ref, 1e-6);
    }
    uint32_t past = 20;
    assert_int_equal(hr_model_score_row(&r, &past, vals, 1, sc, &err), HR_ERR_ARG);
    assert_int_equal(hr_model_score_items(&r, 0, sc, &err), HR_ERR_ARG);
    assert_true(isnan(hr_model_predict(&r, 0, 0)));
    hr_model_free(&r);
    /* dictionaries only: no block read; then the share of rank 1 of 3 (block 1) */
    assert_int_equal(hr_model_load_dicts(path, &p, &err), 0);
    assert_true(p.ii == NULL && p.ii_count == 0 && p.ii_cols == 8);
    uint64_t lo, hi;
    hr_model_ii_share(&p, 1, 3, &lo, &hi);
    assert_true(lo == 8 && hi == 16);
    hr_model_ii_share(&p, 2, 3, &lo, &hi);
    assert_true(lo == 16 && hi == 20);
    hr_model_ii_share(&p, 0, 5, &lo, &hi);   /* more ranks than blocks: rank 0 holds none */
    assert_true(lo == hi);
    hr_model_part bad = { NULL, 0, 3, 16, NULL, 0 };
    assert_int_equal(hr_model_load_part(path, &p, &bad, &err), HR_ERR_ARG);
    assert_msg_has(&err, "block boundaries");
    hr_model_part part = { NULL, 0, 8, 20, NULL, 0 };
    assert_int_equal(hr_model_load_part(path, &p, &part, &err), 0);
    assert_true(p.partial && p.ii_first == 1 && p.ii_count == 2 && p.ii[1].c0 == 16 && p.ii[1].c1 == 20);
    assert_memory_equal(p.ii[1].val, B + 16 * n, 4 * n * sizeof(float));
    assert_int_equal(hr_model_score_row(&p, items, vals, 3, sc, &err), HR_ERR_ARG);   /* whole models only */
    hr_model_free(&p);
    free_ii(&m, B);
}

static void test_model_itemitem_rejects(void **state)
{
    (void)state;
    hr_model m;
    float *B;
    hr_error err = { 0 };
    make_ii(&m, 12, &B);
    const char *path = hr_test_path("bad.tar");
    /* save refuses: a missing block, no row weight, a factor array, a NaN weight */
    m.ii_count = 1;
    assert_int_equal(hr_model_save(path, &m, NULL, &err), HR_ERR_ARG);
    m.ii_count = 2;
    m.row_weight = HR_ROWS_NONE;
    assert_int_equal(hr_model_save(path, &m, NULL, &err), HR_ERR_ARG);
    m.row_weight = HR_ROWS_BINARY;
    B[5] = NAN;
    assert_int_equal(hr_model_save(path, &m, NULL, &err), HR_ERR_NUMERIC);
    B[5] = 0.25f;
    /* top_m: a sparse layout is required and no column may keep more than M */
    m.ii_topm = 2;
    assert_int_equal(hr_model_save(path, &m, NULL, &err), HR_ERR_ARG);
    hr_iiblock *dense = m.ii;
    uint64_t ptr[9] = { 0, 3, 3, 3, 3, 3, 3, 3, 3 };
    uint32_t row[3] = { 0, 1, 2 };
    float val[3] = { 1, 2, 3 };
    uint64_t p2[5] = { 0, 0, 0, 0, 0 };
    hr_iiblock sparse[2] = { { 12, 0, 8, 3, 0, ptr, row, val }, { 12, 8, 12, 0, 0, p2, row, val } };
    m.ii = sparse;
    assert_int_equal(hr_model_save(path, &m, NULL, &err), HR_ERR_ARG);
    assert_msg_has(&err, "top_m");
    /* a block whose rows run past the catalogue is written (save checks sizes, not rows) and
     * refused at load, naming the member */
    ptr[1] = 2;
    row[1] = 40;
    sparse[0].nnz = 2;
    for (int c = 2; c < 9; c++) ptr[c] = 2;
    assert_int_equal(hr_model_save(path, &m, NULL, &err), 0);
    hr_model r;
    assert_int_equal(hr_model_load(path, &r, &err), HR_ERR_FORMAT);
    assert_msg_has(&err, "item_item.000000");
    /* blocks that do not fit the model: columns, or dense under top_m */
    sparse[1].c0 = 7;
    assert_int_equal(hr_model_save(path, &m, NULL, &err), HR_ERR_ARG);
    assert_msg_has(&err, "block 1");
    m.ii = dense;
    free_ii(&m, B);
}

static void test_model_fold_in(void **state)
{
    (void)state;
    hr_model m, r;
    hr_error err = { 0 };
    memset(&m, 0, sizeof m);
    m.kind = HR_MODEL_FACTOR;
    snprintf(m.algo, sizeof m.algo, "svd");
    m.k = 2;
    m.n_users = 2;
    m.n_items = 3;
    dict_ints(&m.users, 2);
    dict_ints(&m.items, 3);
    float U[4] = { 1, 0, 0, 1 }, V[6] = { 1, 2, 0, -1, 3, 0.5f };
    m.user_factors = U;
    m.item_factors = V;
    m.row_weight = HR_ROWS_BINARY;
    m.fold_in = 1;
    const char *path = hr_test_path("svd.tar");
    assert_int_equal(hr_model_save(path, &m, NULL, &err), 0);
    m.user_factors = m.item_factors = NULL;
    hr_model_free(&m);
    assert_int_equal(hr_model_load(path, &r, &err), 0);
    assert_true(r.fold_in && r.row_weight == HR_ROWS_BINARY);
    /* a new user with items 0 and 2: q = V0 + V2 = (4, 2.5); scores q . V = 9, -2.5, 13.25 */
    uint32_t items[2] = { 0, 2 };
    float ones[2] = { 1, 1 }, sc[3];
    assert_int_equal(hr_model_score_row(&r, items, ones, 2, sc, &err), 0);
    assert_float_equal(sc[0], 9.0, 1e-6);
    assert_float_equal(sc[1], -2.5, 1e-6);
    assert_float_equal(sc[2], 13.25, 1e-6);
    hr_model_free(&r);
    /* fold-in needs a factor model with a row weight */
    memset(&m, 0, sizeof m);
    m.kind = HR_MODEL_POP;
    snprintf(m.algo, sizeof m.algo, "pop");
    m.n_items = 3;
    dict_ints(&m.users, 0);
    dict_ints(&m.items, 3);
    float s3[3] = { 1, 2, 3 };
    m.item_scores = s3;
    m.fold_in = 1;
    m.row_weight = HR_ROWS_BINARY;
    assert_int_equal(hr_model_save(path, &m, NULL, &err), HR_ERR_ARG);
    m.item_scores = NULL;
    hr_model_free(&m);
}

static void test_grid_shape(void **state)
{
    (void)state;
    static const int want[][3] = { { 1, 1, 1 }, { 2, 1, 2 }, { 3, 1, 3 },  { 4, 2, 2 },  { 5, 1, 5 },   { 6, 2, 3 },  { 7, 1, 7 },
                                   { 8, 2, 4 }, { 9, 3, 3 }, { 12, 3, 4 }, { 13, 1, 13 }, { 16, 4, 4 }, { 18, 3, 6 }, { 97, 1, 97 } };
    for (size_t x = 0; x < sizeof want / sizeof want[0]; x++) {
        int r, c;
        hr_grid_shape(want[x][0], &r, &c);
        assert_int_equal(r, want[x][1]);
        assert_int_equal(c, want[x][2]);
    }
    /* tile owners and index maps on a 2 x 3 grid with 4 x 5 blocks (no BLACS needed) */
    hr_grid g;
    memset(&g, 0, sizeof g);
    g.nprow = 2;
    g.npcol = 3;
    g.mb = 4;
    g.nb = 5;
    for (int64_t i = 0; i < 50; i++) {
        int pr = hr_grid_row_proc(&g, i), pc = hr_grid_col_proc(&g, i);
        assert_int_equal(pr, (i / 4) % 2);
        assert_int_equal(pc, (i / 5) % 3);
        assert_int_equal(hr_grid_row_l2g(&g, pr, hr_grid_row_g2l(&g, i)), i);
        assert_int_equal(hr_grid_col_l2g(&g, pc, hr_grid_col_g2l(&g, i)), i);
        assert_int_equal(hr_grid_owner(&g, i, 49 - i), pr * 3 + hr_grid_col_proc(&g, 49 - i));
    }
    int64_t rows = 0, cols = 0;
    for (int p = 0; p < 2; p++) rows += hr_grid_rows_of(&g, p, 50);
    for (int p = 0; p < 3; p++) cols += hr_grid_cols_of(&g, p, 50);
    assert_true(rows == 50 && cols == 50);
    assert_int_equal(hr_grid_rows_of(&g, 0, 50), 26);   /* blocks 0, 2, ..., 12 of 4 rows; block 12 has 2 */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_iiblock_roundtrip), cmocka_unit_test(test_iiblock_rejects), cmocka_unit_test(test_iiblock_score),
        cmocka_unit_test(test_iiblock_topm),      cmocka_unit_test(test_model_itemitem),  cmocka_unit_test(test_model_itemitem_rejects),
        cmocka_unit_test(test_model_fold_in),     cmocka_unit_test(test_grid_shape),
    };
    return cmocka_run_group_tests(tests, hr_test_setup, hr_test_teardown);
}
