/* tests/unit/test_io_files.c — io/ file formats: shard and dictionary files (round trip,
 * corruption, truncation), input path expansion (walk, skip rules, glob, duplicates) and the
 * manifest version rule. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/hash.h"
#include "core/rng.h"
#include "io/input.h"
#include "io/manifest.h"
#include "io/output.h"
#include "io/paths.h"
#include "io/shard.h"
#include "partition/block.h"
#include "partition/dict.h"

#include "tests/unit/testutil.h"

/* ---- shard and dictionary files ---------------------------------------------------------- */

static void make_block(hr_block *b, int by_item, uint64_t *nrows, uint64_t *nother)
{
    hr_rng r = hr_rng_stream(hr_test_seed(), 20, (uint64_t)by_item);
    enum { NU = 50, NI = 40 };
    hr_triple t[600];
    uint8_t used[NU * NI] = { 0 };
    int n = 0;
    while (n < 600) {
        uint32_t u = (uint32_t)hr_rng_below(&r, NU - 3), i = (uint32_t)hr_rng_below(&r, NI);
        if (used[u * NI + i]) continue;
        used[u * NI + i] = 1;
        hr_triple x = { u, i, (float)hr_rng_below(&r, 10) * 0.5f, 0, (int64_t)hr_rng_below(&r, 1u << 31) - 5, 0 };
        t[n++] = x;
    }
    hr_part p;
    hr_part_build(&p, HR_PART_BALANCED, 1, by_item ? NI : NU, NULL);
    hr_triples_sort(t, 600, &p, 0, by_item);
    hr_block_from_triples(b, t, 600, NULL, &p, 0, by_item);
    hr_part_free(&p);
    *nrows = by_item ? NI : NU;
    *nother = by_item ? NU : NI;
}

static void assert_block_equal(const hr_block *a, const hr_block *b)
{
    assert_int_equal(a->nrows, b->nrows);
    assert_int_equal(a->nnz, b->nnz);
    assert_memory_equal(a->gid, b->gid, a->nrows * sizeof *a->gid);
    assert_memory_equal(a->ptr, b->ptr, (a->nrows + 1) * sizeof *a->ptr);
    assert_memory_equal(a->idx, b->idx, a->nnz * sizeof *a->idx);
    assert_memory_equal(a->val, b->val, a->nnz * sizeof *a->val);
    assert_memory_equal(a->ts, b->ts, a->nnz * sizeof *a->ts);
}

/* Rewrite a shard's decompressed bytes (edit at off) as a new valid zstd file; its checksum. */
static uint64_t rewrite_shard(const char *from, const char *to, size_t keep, size_t off, const void *p, size_t n)
{
    hr_error err = { 0 };
    void *raw;
    size_t len;
    assert_int_equal(hr_input_slurp(from, &raw, &len, &err), 0);
    if (p) memcpy((char *)raw + off, p, n);
    uint64_t cs;
    assert_int_equal(hr_output_write_file(to, raw, keep ? keep : len, 3, &cs, NULL, &err), 0);
    hr_free(raw);
    return cs;
}

/* A version-1 shard of the block (the plain arrays), as hpcrec wrote them before version 2. */
static uint64_t write_shard_v1(const hr_block *b, int by_item, const char *to)
{
    size_t len = 32 + 12 * b->nrows + 8 + 16 * b->nnz;
    char *raw = hr_malloc(len), *q = raw;
    uint32_t h32[2] = { 1, (uint32_t)by_item };
    uint64_t h64[2] = { b->nrows, b->nnz };
#define PUT(src, n) (memcpy(q, (src), (n)), q += (n))
    PUT("HRSHARD1", 8);
    PUT(h32, 8);
    PUT(h64, 16);
    PUT(b->gid, 4 * b->nrows);
    PUT(b->ptr, 8 * (b->nrows + 1));
    PUT(b->idx, 4 * b->nnz);
    PUT(b->val, 4 * b->nnz);
    PUT(b->ts, 8 * b->nnz);
#undef PUT
    assert_int_equal((size_t)(q - raw), len);
    hr_error err = { 0 };
    uint64_t cs;
    assert_int_equal(hr_output_write_file(to, raw, len, 3, &cs, NULL, &err), 0);
    hr_free(raw);
    return cs;
}

static void test_shard_round_trip_and_corruption(void **state)
{
    (void)state;
    hr_error err = { 0 };
    for (int by_item = 0; by_item < 2; by_item++) {
        hr_block b, back;
        uint64_t nrows, nother, cs, bytes;
        make_block(&b, by_item, &nrows, &nother);
        char path[512];   /* hr_test_path()'s buffers rotate: keep a copy */
        snprintf(path, sizeof path, "%s", hr_test_path(by_item ? "part-i.bin.zst" : "part-u.bin.zst"));
        assert_int_equal(hr_shard_write(path, &b, by_item, 3, &cs, &bytes, &err), 0);
        int side = -1;
        assert_int_equal(hr_shard_read(path, cs, nrows, nother, &back, &side, &err), 0);
        assert_int_equal(side, by_item);
        assert_block_equal(&b, &back);
        hr_block_free(&back);
        /* checksum mismatch: refused before decoding, naming the file */
        assert_int_equal(hr_shard_read(path, cs ^ 1, nrows, nother, &back, &side, &err), HR_ERR_CHECKSUM);
        assert_non_null(strstr(err.msg, path));
        assert_non_null(strstr(err.msg, "checksum mismatch"));
        assert_int_equal(hr_file_verify(path, cs, UINT64_MAX, &err), 0);
        /* a truncated file (whose checksum we pretend to trust) */
        size_t len;
        char *raw = hr_test_read_file(path, &len);
        hr_test_write_file(hr_test_path("cut.bin.zst"), raw, len / 2);
        uint64_t ccs;
        assert_int_equal(hr_checksum_file(hr_test_path("cut.bin.zst"), &ccs, NULL, &err), 0);
        assert_true(hr_shard_read(hr_test_path("cut.bin.zst"), ccs, nrows, nother, &back, &side, &err) < 0);
        assert_non_null(strstr(err.msg, "cut.bin.zst"));
        hr_free(raw);
        /* a complete zstd stream holding a truncated shard */
        ccs = rewrite_shard(path, hr_test_path("short.bin.zst"), 32 + 4 * b.nrows + 8, 0, NULL, 0);
        assert_int_equal(hr_shard_read(hr_test_path("short.bin.zst"), ccs, nrows, nother, &back, &side, &err), HR_ERR_FORMAT);
        assert_non_null(strstr(err.msg, "short.bin.zst"));
        /* wrong magic, a later version, ids out of range */
        ccs = rewrite_shard(path, hr_test_path("magic.bin.zst"), 0, 0, "HRSHARD9", 8);
        assert_int_equal(hr_shard_read(hr_test_path("magic.bin.zst"), ccs, nrows, nother, &back, &side, &err), HR_ERR_FORMAT);
        uint32_t v3 = HR_SHARD_VERSION + 1;
        ccs = rewrite_shard(path, hr_test_path("v3.bin.zst"), 0, 8, &v3, 4);
        assert_int_equal(hr_shard_read(hr_test_path("v3.bin.zst"), ccs, nrows, nother, &back, &side, &err), HR_ERR_VERSION);
        assert_non_null(strstr(err.msg, "v3.bin.zst"));
        /* a version-1 shard (plain arrays) still reads back as the same block */
        ccs = write_shard_v1(&b, by_item, hr_test_path("v1.bin.zst"));
        assert_int_equal(hr_shard_read(hr_test_path("v1.bin.zst"), ccs, nrows, nother, &back, &side, &err), 0);
        assert_int_equal(side, by_item);
        assert_block_equal(&b, &back);
        hr_block_free(&back);
        /* version 2 cut inside its columns: refused, naming the file */
        ccs = rewrite_shard(path, hr_test_path("col.bin.zst"), 32 + 12 * b.nrows + 8 + 4 * b.nnz + 3, 0, NULL, 0);
        assert_int_equal(hr_shard_read(hr_test_path("col.bin.zst"), ccs, nrows, nother, &back, &side, &err), HR_ERR_FORMAT);
        assert_non_null(strstr(err.msg, "col.bin.zst"));
        uint32_t maxidx = 0;
        for (uint64_t e = 0; e < b.nnz; e++) maxidx = b.idx[e] > maxidx ? b.idx[e] : maxidx;
        assert_int_equal(hr_shard_read(path, cs, nrows, maxidx, &back, &side, &err), HR_ERR_FORMAT);   /* idx range */
        assert_non_null(strstr(err.msg, "out of range"));
        assert_int_equal(hr_shard_read(path, cs, b.gid[b.nrows - 1], nother, &back, &side, &err), HR_ERR_FORMAT); /* gid */
        uint64_t bad_ptr = b.nnz + 1;   /* ptr[nrows] must equal nnz */
        ccs = rewrite_shard(path, hr_test_path("ptr.bin.zst"), 0, 32 + 4 * b.nrows + 8 * b.nrows, &bad_ptr, 8);
        assert_int_equal(hr_shard_read(hr_test_path("ptr.bin.zst"), ccs, nrows, nother, &back, &side, &err), HR_ERR_FORMAT);
        hr_block_free(&b);
    }
}

/* Dictionary of the keys, with interaction counts to round-trip too. */
static void dict_from(hr_dict *d, const char *const *keys, int n)
{
    hr_test_dict_of(d, keys, n);
    d->nnz = hr_malloc(d->n * sizeof *d->nnz);
    for (uint64_t g = 0; g < d->n; g++) d->nnz[g] = g * 3 + 1;
}

/* hr_shard_write_triples writes the bytes hr_block_from_triples + hr_shard_write write: every
 * rank of a 3-way balanced and hash partition, both sides, more entries than its staging chunk
 * (16384) and some empty rows. */
static void test_shard_write_triples_same_bytes(void **state)
{
    (void)state;
    enum { NU = 3000, NI = 700, N = 60000 };
    hr_rng r = hr_rng_stream(hr_test_seed(), 21, 0);
    hr_triple *all = hr_malloc(N * sizeof *all), *t = hr_malloc(N * sizeof *t);
    uint64_t maxn = 0;
    for (int k = 0; k < N; k++) {
        uint32_t u = (uint32_t)hr_rng_below(&r, NU - 40), i = (uint32_t)hr_rng_below(&r, NI - 9);
        all[k] = (hr_triple){ u, i, (float)hr_rng_below(&r, 10) * 0.5f, 0, (int64_t)hr_rng_below(&r, 1u << 31) - 5, (uint64_t)k };
    }
    for (int scheme = 0; scheme < 2; scheme++)
        for (int by_item = 0; by_item < 2; by_item++) {
            hr_part p;
            hr_part_build(&p, scheme ? HR_PART_HASH : HR_PART_BALANCED, 3, by_item ? NI : NU, NULL);
            for (int rank = 0; rank < 3; rank++) {
                uint64_t n = 0;
                for (int k = 0; k < N; k++)
                    if (p.owner[by_item ? all[k].i : all[k].u] == (uint32_t)rank) t[n++] = all[k];
                hr_triples_sort(t, n, &p, rank, by_item);
                hr_block b;
                hr_block_from_triples(&b, t, n, NULL, &p, rank, by_item);
                hr_error err;
                uint64_t cs1, cs2, by1, by2;
                const char *f1 = hr_test_path("blk.bin.zst"), *f2 = hr_test_path("trp.bin.zst");
                char p1[4096], p2[4096];
                snprintf(p1, sizeof p1, "%s", f1);
                snprintf(p2, sizeof p2, "%s", f2);
                assert_int_equal(hr_shard_write(p1, &b, by_item, 1, &cs1, &by1, &err), 0);
                assert_int_equal(hr_shard_write_triples(p2, t, n, &p, rank, by_item, NULL, 1, &cs2, &by2, &err), 0);
                if (n > maxn) maxn = n;
                assert_int_equal(by1, by2);
                assert_int_equal(cs1, cs2);
                /* the row counts given (global, by gid: the other ranks' rows too) instead of
                 * counted: the same bytes; counts that do not add up to n: refused */
                uint64_t *nnz = hr_calloc(by_item ? NI : NU, sizeof *nnz);
                for (int k = 0; k < N; k++) nnz[by_item ? all[k].i : all[k].u]++;
                assert_int_equal(hr_shard_write_triples(p2, t, n, &p, rank, by_item, nnz, 1, &cs2, &by2, &err), 0);
                assert_int_equal(by1, by2);
                assert_int_equal(cs1, cs2);
                uint32_t *own = hr_part_owned(&p, rank);
                nnz[own[0]]++;
                assert_int_equal(hr_shard_write_triples(p2, t, n, &p, rank, by_item, nnz, 1, &cs2, &by2, &err), HR_ERR_STATE);
                assert_non_null(strstr(err.msg, "row counts give"));
                hr_free(own);
                hr_free(nnz);
                hr_block_free(&b);
            }
            hr_part_free(&p);
        }
    assert_true(maxn > 64 * 100);   /* many 64-entry groups, and a shorter last one */
    hr_free(all);
    hr_free(t);
}

/* Version 2 past one chunk: both writers give the same bytes and the block reads back whole
 * (a full chunk, then a last one whose length is not a multiple of the 64-entry groups). */
static void test_shard_chunks(void **state)
{
    (void)state;
    enum { NU = 20000, NI = 5000 };
    const uint64_t N = HR_SHARD_CHUNK + 1031;
    hr_rng r = hr_rng_stream(hr_test_seed(), 22, 0);
    hr_triple *t = hr_malloc(N * sizeof *t);
    for (uint64_t k = 0; k < N; k++)
        t[k] = (hr_triple){ (uint32_t)hr_rng_below(&r, NU), (uint32_t)hr_rng_below(&r, NI), (float)hr_rng_below(&r, 10) * 0.5f, 0,
                            (int64_t)hr_rng_below(&r, 1u << 31) - (1 << 30), k };
    for (int by_item = 0; by_item < 2; by_item++) {
        hr_part p;
        hr_part_build(&p, HR_PART_BALANCED, 1, by_item ? NI : NU, NULL);
        hr_triples_sort(t, N, &p, 0, by_item);
        hr_block b, back;
        hr_block_from_triples(&b, t, N, NULL, &p, 0, by_item);
        hr_error err = { 0 };
        uint64_t cs1, cs2, by1, by2;
        char p1[4096], p2[4096];
        snprintf(p1, sizeof p1, "%s", hr_test_path("chunk-blk.bin.zst"));
        snprintf(p2, sizeof p2, "%s", hr_test_path("chunk-trp.bin.zst"));
        assert_int_equal(hr_shard_write(p1, &b, by_item, 1, &cs1, &by1, &err), 0);
        assert_int_equal(hr_shard_write_triples(p2, t, N, &p, 0, by_item, NULL, 1, &cs2, &by2, &err), 0);
        assert_int_equal(by1, by2);
        assert_int_equal(cs1, cs2);
        int side = -1;
        assert_int_equal(hr_shard_read(p2, cs2, by_item ? NI : NU, by_item ? NU : NI, &back, &side, &err), 0);
        assert_int_equal(side, by_item);
        assert_block_equal(&b, &back);
        hr_block_free(&back);
        hr_block_free(&b);
        hr_part_free(&p);
    }
    hr_free(t);
}

static void test_dictfile_round_trip(void **state)
{
    (void)state;
    hr_error err = { 0 };
    const char *ints[] = { "5", "-9223372036854775808", "9223372036854775807", "0" };
    const char *strs[] = { "bob", "Smith, John", "007", "", "a\tb" };
    for (int s = 0; s < 2; s++) {
        hr_dict d, back;
        dict_from(&d, s ? strs : ints, s ? 5 : 4);
        assert_int_equal(d.is_int, !s);
        char path[512];
        snprintf(path, sizeof path, "%s", hr_test_path(s ? "s.dict.zst" : "i.dict.zst"));
        uint64_t cs, bytes;
        assert_int_equal(hr_dictfile_write(path, &d, 3, &cs, &bytes, &err), 0);
        assert_int_equal(hr_dictfile_read(path, cs, &back, &err), 0);
        assert_int_equal(back.is_int, d.is_int);
        assert_int_equal(back.n, d.n);
        assert_memory_equal(back.nnz, d.nnz, d.n * 8);
        for (uint64_t g = 0; g < d.n; g++) {
            char a[64], b[64];
            hr_dict_format(&d, g, a, sizeof a);
            hr_dict_format(&back, g, b, sizeof b);
            assert_string_equal(a, b);
            assert_int_equal(hr_dict_find(&back, a, strlen(a)), (int64_t)g);
        }
        assert_true(hr_dict_fingerprint(&d) == hr_dict_fingerprint(&back));
        hr_dict_free(&back);
        assert_int_equal(hr_dictfile_read(path, cs + 1, &back, &err), HR_ERR_CHECKSUM);
        assert_non_null(strstr(err.msg, path));
        /* truncated, checksum matching the truncated bytes: still refused, naming the file */
        size_t len;
        char *raw = hr_test_read_file(path, &len);
        hr_test_write_file(hr_test_path("cut.dict.zst"), raw, len - 5);
        assert_int_equal(hr_checksum_file(hr_test_path("cut.dict.zst"), &cs, NULL, &err), 0);
        assert_true(hr_dictfile_read(hr_test_path("cut.dict.zst"), cs, &back, &err) < 0);
        assert_non_null(strstr(err.msg, "cut.dict.zst"));
        /* complete stream, content cut before the counts */
        void *plain;
        size_t pl;
        assert_int_equal(hr_input_slurp(path, &plain, &pl, &err), 0);
        assert_int_equal(hr_output_write_file(hr_test_path("short.dict.zst"), plain, pl - 8, 3, &cs, NULL, &err), 0);
        assert_int_equal(hr_dictfile_read(hr_test_path("short.dict.zst"), cs, &back, &err), HR_ERR_FORMAT);
        assert_non_null(strstr(err.msg, "short.dict.zst"));
        hr_free(plain);
        hr_free(raw);
        hr_dict_free(&d);
    }
}

/* ---- paths ------------------------------------------------------------------------------- */

static void touch(const char *rel, const char *body)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s", hr_test_path(rel));
    char *slash = strrchr(dir, '/');
    *slash = '\0';
    hr_error err = { 0 };
    assert_int_equal(hr_mkdirs(dir, &err), 0);
    hr_test_write_file(hr_test_path(rel), body, strlen(body));
}

static void assert_paths(const hr_pathlist *l, const char *const *rel, const uint64_t *sizes, int n)
{
    if (l->n != (uint64_t)n) {
        for (uint64_t k = 0; k < l->n; k++) print_message("  got %s\n", l->path[k]);
        fail_msg("%llu paths, expected %d", (unsigned long long)l->n, n);
    }
    for (int k = 0; k < n; k++) {
        assert_string_equal(l->path[k], hr_test_path(rel[k]));
        if (sizes) assert_int_equal(l->size[k], sizes[k]);
    }
}

static void test_paths_expand(void **state)
{
    (void)state;
    /* created out of order; the list comes back sorted bytewise */
    touch("logs/2024-01-02/part-1.csv", "22");
    touch("logs/2024-01-01/part-0.csv", "1");
    touch("logs/2024-01-01/part-10.csv", "333");
    touch("logs/2024-01-01/sub/deep.csv", "4444");
    touch("logs/top.csv", "55555");
    /* not data */
    touch("logs/.hidden.csv", "x");
    touch("logs/.staging/part-9.csv", "x");
    touch("logs/_SUCCESS", "");
    touch("logs/2024-01-01/_tmp_part.csv", "x");
    touch("logs/meta.json", "{}");
    touch("logs/README.md", "x");
    touch("logs/2024-01-01/part-0.csv.crc", "x");
    const char *all[] = { "logs/2024-01-01/part-0.csv", "logs/2024-01-01/part-10.csv", "logs/2024-01-01/sub/deep.csv",
                          "logs/2024-01-02/part-1.csv", "logs/top.csv" };
    const uint64_t sizes[] = { 1, 3, 4, 2, 5 };
    hr_error err = { 0 };
    hr_pathlist l;
    char *args[4];
    args[0] = (char *)hr_test_path("logs");
    assert_int_equal(hr_paths_expand(args, 1, &l, &err), 0);
    assert_paths(&l, all, sizes, 5);
    hr_paths_free(&l);
    /* a glob (quoted on the command line, expanded here); matches directories too */
    char g1[512], g2[512];
    snprintf(g1, sizeof g1, "%s/logs/2024-*/part-?.csv", hr_test_dir);
    args[0] = g1;
    assert_int_equal(hr_paths_expand(args, 1, &l, &err), 0);
    const char *gl[] = { "logs/2024-01-01/part-0.csv", "logs/2024-01-02/part-1.csv" };
    assert_paths(&l, gl, NULL, 2);
    hr_paths_free(&l);
    snprintf(g2, sizeof g2, "%s/logs/2024-01-0[12]", hr_test_dir);
    args[0] = g2;
    assert_int_equal(hr_paths_expand(args, 1, &l, &err), 0);
    assert_paths(&l, all, sizes, 4);
    hr_paths_free(&l);
    /* the same file named several ways is read once */
    args[0] = (char *)hr_test_path("logs/top.csv");
    args[1] = (char *)hr_test_path("logs");
    args[2] = g1;
    args[3] = (char *)hr_test_path("logs/top.csv");
    assert_int_equal(hr_paths_expand(args, 4, &l, &err), 0);
    assert_paths(&l, all, sizes, 5);
    hr_paths_free(&l);
    /* an explicitly named file is taken even if a walk would skip it */
    args[0] = (char *)hr_test_path("logs/.hidden.csv");
    assert_int_equal(hr_paths_expand(args, 1, &l, &err), 0);
    assert_int_equal(l.n, 1);
    hr_paths_free(&l);
    /* errors name what is wrong */
    args[0] = (char *)hr_test_path("logs/missing.csv");
    assert_int_equal(hr_paths_expand(args, 1, &l, &err), HR_ERR_IO);
    assert_non_null(strstr(err.msg, "missing.csv"));
    snprintf(g1, sizeof g1, "%s/logs/nothing-*.csv", hr_test_dir);
    args[0] = g1;
    assert_int_equal(hr_paths_expand(args, 1, &l, &err), HR_ERR_IO);
    assert_non_null(strstr(err.msg, "nothing-*.csv"));
    assert_int_equal(hr_mkdirs(hr_test_path("emptydir/sub"), &err), 0);
    touch("emptydir/.only-hidden", "x");
    args[0] = (char *)hr_test_path("emptydir");
    assert_int_equal(hr_paths_expand(args, 1, &l, &err), HR_ERR_IO);
    assert_non_null(strstr(err.msg, "no input files"));
}

/* One file named several ways is read once, under its tidiest spelling; symbolic links inside
 * the walked tree are read once, links leading out of it are refused, links named as
 * arguments (or glob matches) are followed.  Roots are canonical. */
static void test_paths_spellings_and_links(void **state)
{
    (void)state;
    hr_error err = { 0 };
    hr_pathlist l;
    char a0[512], a1[512], a2[512], a3[512];
    touch("sp/in/x.csv", "1,2\n");
    snprintf(a0, sizeof a0, "%s/sp/in/x.csv", hr_test_dir);
    snprintf(a1, sizeof a1, "%s/sp/./in/x.csv", hr_test_dir);
    snprintf(a2, sizeof a2, "%s/sp/in//x.csv", hr_test_dir);
    snprintf(a3, sizeof a3, "%s/sp/in/../in/x.csv", hr_test_dir);
    char *args[4] = { a1, a2, a0, a3 };
    assert_int_equal(hr_paths_expand(args, 4, &l, &err), 0);
    const char *one[] = { "sp/in/x.csv" };
    assert_paths(&l, one, NULL, 1);
    hr_paths_free(&l);
    /* in-tree links: a "latest" link to a day and a link back up are not read twice */
    touch("sp/logs/2024-01-01/a.csv", "1,2\n");
    touch("sp/logs/2024-01-02/b.csv", "1,2\n");
    assert_int_equal(symlink("2024-01-02", hr_test_path("sp/logs/latest")), 0);
    assert_int_equal(symlink("..", hr_test_path("sp/logs/2024-01-01/up")), 0);
    args[0] = (char *)hr_test_path("sp/logs");
    assert_int_equal(hr_paths_expand(args, 1, &l, &err), 0);
    const char *days[] = { "sp/logs/2024-01-01/a.csv", "sp/logs/2024-01-02/b.csv" };
    assert_paths(&l, days, NULL, 2);
    assert_int_equal(l.nroot, 1);
    char *canon = realpath(hr_test_path("sp/logs"), NULL);
    assert_string_equal(l.root[0], canon);
    free(canon);
    hr_paths_free(&l);
    /* a link out of the tree is refused, naming it */
    touch("sp/outside/c.csv", "1,2\n");
    touch("sp/logs2/d.csv", "1,2\n");
    assert_int_equal(symlink("../outside", hr_test_path("sp/logs2/ext")), 0);
    args[0] = (char *)hr_test_path("sp/logs2");
    assert_int_equal(hr_paths_expand(args, 1, &l, &err), HR_ERR_ARG);
    assert_msg_has(&err, "sp/logs2/ext -> ");
    assert_msg_has(&err, "leading out of the input tree");
    /* ... unless named: as an argument, or as a glob match */
    snprintf(a0, sizeof a0, "%s/sp/logs2/*", hr_test_dir);
    args[0] = a0;
    assert_int_equal(hr_paths_expand(args, 1, &l, &err), 0);
    const char *both[] = { "sp/logs2/d.csv", "sp/logs2/ext/c.csv" };
    assert_paths(&l, both, NULL, 2);
    assert_int_equal(l.nroot, 2);
    hr_paths_free(&l);
}

/* ---- manifest ---------------------------------------------------------------------------- */

static void test_manifest_versions(void **state)
{
    (void)state;
    hr_error err = { 0 };
    json_t *m = json_pack("{s:s,s:i}", "format", HR_DATASET_FORMAT, "version", HR_DATASET_VERSION);
    hr_manifest_add_file(m, "users.dict.zst", 123, 0xfedcba9876543210ull);
    assert_int_equal(hr_manifest_write(hr_test_path("m.json"), m, &err), 0);
    json_decref(m);
    json_t *r;
    assert_int_equal(hr_manifest_read(hr_test_path("m.json"), HR_DATASET_FORMAT, HR_DATASET_VERSION, &r, &err), 0);
    uint64_t cs, bytes;
    assert_int_equal(hr_manifest_file(r, "m.json", "users.dict.zst", &cs, &bytes, &err), 0);
    assert_true(cs == 0xfedcba9876543210ull && bytes == 123);
    assert_int_equal(hr_manifest_file(r, "m.json", "items.dict.zst", &cs, &bytes, &err), HR_ERR_FORMAT);
    json_decref(r);
    /* a later version is refused with a message naming the version; so is another format */
    hr_test_write_file(hr_test_path("v9.json"), "{\"format\":\"hpcrec-dataset\",\"version\":9}", 39);
    assert_int_equal(hr_manifest_read(hr_test_path("v9.json"), HR_DATASET_FORMAT, HR_DATASET_VERSION, &r, &err), HR_ERR_VERSION);
    assert_non_null(strstr(err.msg, "version 9"));
    assert_int_equal(hr_manifest_read(hr_test_path("v9.json"), HR_DATASET_FORMAT, 9, &r, &err), 0);   /* a reader of 9 takes it */
    json_decref(r);
    hr_test_write_file(hr_test_path("fmt.json"), "{\"format\":\"hpcrec-model\",\"version\":1}", 37);
    assert_int_equal(hr_manifest_read(hr_test_path("fmt.json"), HR_DATASET_FORMAT, 1, &r, &err), HR_ERR_FORMAT);
    hr_test_write_file(hr_test_path("junk.json"), "{\"format\":", 10);
    assert_int_equal(hr_manifest_read(hr_test_path("junk.json"), HR_DATASET_FORMAT, 1, &r, &err), HR_ERR_FORMAT);
    assert_true(hr_manifest_read(hr_test_path("none.json"), HR_DATASET_FORMAT, 1, &r, &err) < 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shard_round_trip_and_corruption),
        cmocka_unit_test(test_shard_write_triples_same_bytes),
        cmocka_unit_test(test_shard_chunks),
        cmocka_unit_test(test_dictfile_round_trip),
        cmocka_unit_test(test_paths_expand),
        cmocka_unit_test(test_paths_spellings_and_links),
        cmocka_unit_test(test_manifest_versions),
    };
    return cmocka_run_group_tests(tests, hr_test_setup, hr_test_teardown);
}
