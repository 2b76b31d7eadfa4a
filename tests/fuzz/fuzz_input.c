/* tests/fuzz/fuzz_input.c — libFuzzer target for compressed and archived inputs (io/input.h,
 * io/decode.h: zstd, gzip, bzip2, xz, tar inside them, zip, and the rest libarchive reads).
 *
 * Input: the bytes of an input file.  Opening it and reading every member must end in 0 or a
 * negative code with a message that names the file, never a crash, an overrun or a hang: the
 * expansion guard (ratio 1000, at most 64 MiB) bounds a bomb.  Reading the same file twice
 * gives the same status and the same bytes (a decoder has no hidden state).
 * Built by tests/fuzz/run.sh (clang -fsanitize=fuzzer) and, through
 * tests/tools/fuzz_replay_input.c, as a plain replay driver for the checked-in corpus.
 * fuzz-sources: core/alloc.c core/error.c core/hash.c io/input.c io/decode.c
 * fuzz-max-len: 8192 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/hash.h"
#include "io/input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                                          \
    do {                                                                                          \
        if (!(cond)) {                                                                            \
            fprintf(stderr, "fuzz_input: %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                              \
        }                                                                                         \
    } while (0)

static const char *scratch(const uint8_t *data, size_t size)
{
    static char path[64];
    if (!path[0]) snprintf(path, sizeof path, "/tmp/hpcrec-fuzz-input.%d", (int)getpid());
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    FUZZ_CHECK(fd >= 0);
    FUZZ_CHECK(write(fd, data, size) == (ssize_t)size);
    close(fd);
    return path;
}

/* Status of reading every member; *sum and *n: a hash and the count of the bytes read. */
static int read_all(const char *path, uint64_t *sum, uint64_t *n, hr_error *err)
{
    hr_input *in;
    *sum = 0;
    *n = 0;
    int rc = hr_input_open(path, &in, err);
    if (rc < 0) return rc;
    hr_input_limit(in, 1000, (uint64_t)64 << 20);
    static char buf[1 << 16];
    const char *name;
    while ((rc = hr_input_next(in, &name, err)) == 1) {
        FUZZ_CHECK(strstr(name, path) == name);
        long k;
        while ((k = hr_input_read(in, buf, sizeof buf, err)) > 0) {
            *sum = hr_hash_bytes(buf, (size_t)k, *sum);
            *n += (uint64_t)k;
        }
        if (k < 0) {
            rc = (int)k;
            break;
        }
    }
    hr_input_close(in);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = scratch(data, size);
    hr_error e1 = { 0 }, e2 = { 0 };
    uint64_t s1, n1, s2, n2;
    int r1 = read_all(path, &s1, &n1, &e1), r2 = read_all(path, &s2, &n2, &e2);
    FUZZ_CHECK(r1 <= 0);
    if (r1 < 0) FUZZ_CHECK(strstr(e1.msg, path) != NULL);   /* the message names the file */
    FUZZ_CHECK(r1 == r2 && n1 == n2 && s1 == s2);
    FUZZ_CHECK(r1 < 0 || strcmp(e1.msg, e2.msg) == 0);
    return 0;
}
