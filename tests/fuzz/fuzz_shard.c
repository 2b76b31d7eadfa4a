/* tests/fuzz/fuzz_shard.c — libFuzzer target for dataset shard files (io/shard.h).
 *
 * Input: the decompressed bytes of a shard (version 1 or 2).  They are written as a zstd file
 * and read back with hr_shard_read against a 64-row, 64-id dictionary pair: the reader must
 * return 0 or a negative code with a message naming the file, never crash, overrun or leak.
 * A block it accepts is consistent (ptr from 0 to nnz, non-decreasing; gids ascending and in
 * range; ids in range), and writing it again (version 2) reads back as the same block.
 * Built by tests/fuzz/run.sh (clang -fsanitize=fuzzer) and, through
 * tests/tools/fuzz_replay_shard.c, as a plain replay driver for the checked-in corpus.
 * fuzz-sources: core io/shard.c io/output.c io/input.c io/fileverify.c io/decode.c io/paths.c io/outdir.c partition/block.c partition/dict.c partition/part.c mpi/comm.c
 * fuzz-pkgs: ompi-c
 * fuzz-max-len: 8192 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "io/output.h"
#include "io/shard.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                                          \
    do {                                                                                          \
        if (!(cond)) {                                                                            \
            fprintf(stderr, "fuzz_shard: %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                              \
        }                                                                                         \
    } while (0)

enum { NROWS = 64, NOTHER = 64 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[64], again[64];
    if (!path[0]) {
        snprintf(path, sizeof path, "/tmp/hpcrec-fuzz-shard.%d", (int)getpid());
        snprintf(again, sizeof again, "/tmp/hpcrec-fuzz-shard2.%d", (int)getpid());
    }
    hr_error err = { 0 };
    uint64_t cs;
    FUZZ_CHECK(hr_output_write_file(path, data, size, 1, &cs, NULL, &err) == 0);
    hr_block b;
    int side = -1;
    int rc = hr_shard_read(path, cs, NROWS, NOTHER, &b, &side, &err);
    FUZZ_CHECK(rc <= 0);
    if (rc < 0) {
        FUZZ_CHECK(strstr(err.msg, path) != NULL);
        return 0;
    }
    FUZZ_CHECK(b.ptr[0] == 0 && b.ptr[b.nrows] == b.nnz);
    for (uint64_t r = 0; r < b.nrows; r++) {
        FUZZ_CHECK(b.ptr[r] <= b.ptr[r + 1] && b.gid[r] < NROWS);
        if (r) FUZZ_CHECK(b.gid[r] > b.gid[r - 1]);
    }
    for (uint64_t e = 0; e < b.nnz; e++) FUZZ_CHECK(b.idx[e] < NOTHER);
    uint64_t cs2;
    FUZZ_CHECK(hr_shard_write(again, &b, side, 1, &cs2, NULL, &err) == 0);
    hr_block c;
    int side2 = -1;
    FUZZ_CHECK(hr_shard_read(again, cs2, NROWS, NOTHER, &c, &side2, &err) == 0);
    FUZZ_CHECK(side2 == side && c.nrows == b.nrows && c.nnz == b.nnz);
    FUZZ_CHECK(memcmp(c.gid, b.gid, b.nrows * sizeof *b.gid) == 0);
    FUZZ_CHECK(memcmp(c.ptr, b.ptr, (b.nrows + 1) * sizeof *b.ptr) == 0);
    FUZZ_CHECK(memcmp(c.idx, b.idx, b.nnz * sizeof *b.idx) == 0);
    FUZZ_CHECK(memcmp(c.val, b.val, b.nnz * sizeof *b.val) == 0);
    FUZZ_CHECK(memcmp(c.ts, b.ts, b.nnz * sizeof *b.ts) == 0);
    hr_block_free(&b);
    hr_block_free(&c);
    unlink(again);
    return 0;
}
