/* tests/fuzz/fuzz_index.c — libFuzzer target for the ANN index files (io/ivffile.h).
 *
 * The first input byte picks what the rest is:
 *   0  an index manifest (JSON): hr_index_meta_parse; when it accepts, the fields are
 *      consistent (lists, parts, probe within the items, dim from k/metric/bias) and the parts'
 *      item ranges tile the catalogue
 *   1  a decoded quantizer file, against a fixed small index (4 lists, 10 items, dim 4):
 *      accepted only with finite centroids whose list sizes add up to the items
 *   2  byte 1 picks a part; the rest is a decoded part file: accepted only with every item's
 *      list below the lists
 *   3  the bytes of a part file on disk (zstd or not) with a manifest whose checksum matches
 *      them, read through hr_index_assign_read: decompression of arbitrary bytes, then parse
 * Every call returns 0 or a negative code with a message: never a crash, overrun or leak.
 * Built by tests/fuzz/run.sh and, through tests/tools/fuzz_replay_index.c, as a replay driver
 * for the checked-in corpus (tests/fuzz/corpus/index/).
 * fuzz-sources: core io/ivffile.c io/manifest.c io/output.c io/input.c io/fileverify.c solvers/mips.c
 * fuzz-max-len: 4096 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/hash.h"
#include "io/ivffile.h"
#include "io/manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                                          \
    do {                                                                                          \
        if (!(cond)) {                                                                            \
            fprintf(stderr, "fuzz_index: %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                              \
        }                                                                                         \
    } while (0)

static void check_error(int rc, const hr_error *err)
{
    FUZZ_CHECK(rc <= 0);
    if (rc < 0) FUZZ_CHECK(err->msg[0] != '\0');
}

/* The fixed index the file parsers are checked against. */
static hr_index_meta fixed_meta(void)
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
    return m;
}

static void manifest(const uint8_t *p, size_t n)
{
    json_t *j = json_loadb((const char *)p, n, JSON_REJECT_DUPLICATES, NULL);
    if (!j) return;
    hr_index_meta m;
    hr_error err = { 0 };
    int rc = hr_index_meta_parse(j, "fuzz/manifest.json", &m, &err);
    check_error(rc, &err);
    if (rc == 0) {
        FUZZ_CHECK(m.nlist >= 1 && m.nlist <= m.n_items && m.nparts >= 1 && m.nparts <= m.n_items);
        FUZZ_CHECK(m.probe >= 1 && m.probe <= m.nlist && m.dim == hr_mips_dim(m.metric, m.k, m.has_bias));
        uint64_t end = 0;
        for (uint32_t q = 0; q < m.nparts && q < 4096; q++) {
            uint64_t lo, hi;
            hr_index_part_range(m.n_items, m.nparts, q, &lo, &hi);
            FUZZ_CHECK(lo == end && hi >= lo);
            end = hi;
        }
        if (m.nparts <= 4096) FUZZ_CHECK(end == m.n_items);
        hr_index_meta_free(&m);
    }
    json_decref(j);
}

static void quantizer(const uint8_t *p, size_t n)
{
    hr_index_meta m = fixed_meta();
    float cent[4 * 5];
    uint64_t sizes[4];
    hr_error err = { 0 };
    int rc = hr_index_quantizer_parse(p, n, "fuzz/quantizer", &m, cent, sizes, &err);
    check_error(rc, &err);
    if (rc == 0) FUZZ_CHECK(sizes[0] + sizes[1] + sizes[2] + sizes[3] == m.n_items);
}

static void part(const uint8_t *p, size_t n)
{
    if (n < 1) return;
    hr_index_meta m = fixed_meta();
    uint32_t q = p[0] % m.nparts, list[10];
    uint64_t lo, hi;
    hr_index_part_range(m.n_items, m.nparts, q, &lo, &hi);
    hr_error err = { 0 };
    int rc = hr_index_part_parse(p + 1, n - 1, "fuzz/part", &m, q, list, &err);
    check_error(rc, &err);
    if (rc == 0)
        for (uint64_t i = 0; i < hi - lo; i++) FUZZ_CHECK(list[i] < m.nlist);
}

/* The bytes as part 0 of a one-part index on disk, its checksum in the manifest. */
static void on_disk(const uint8_t *p, size_t n)
{
    char dir[64], path[128];
    snprintf(dir, sizeof dir, "/tmp/hpcrec-fuzz-index.%d", (int)getpid());
    mkdir(dir, 0700);
    snprintf(path, sizeof path, "%s/part-00000.bin.zst", dir);
    FILE *f = fopen(path, "wb");
    FUZZ_CHECK(f && fwrite(p, 1, n, f) == n && fclose(f) == 0);
    hr_index_meta m = fixed_meta();
    m.nparts = 1;
    uint64_t xx = hr_hash_bytes(p, n, 0), by = n;
    m.part_xxh3 = &xx;
    m.part_bytes = &by;
    uint32_t list[10];
    hr_error err = { 0 };
    int rc = hr_index_assign_read(dir, &m, 0, 10, list, &err);
    check_error(rc, &err);
    if (rc == 0)
        for (int i = 0; i < 10; i++) FUZZ_CHECK(list[i] < m.nlist);
    unlink(path);
    rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    switch (data[0] % 4) {
    case 0: manifest(data + 1, size - 1); break;
    case 1: quantizer(data + 1, size - 1); break;
    case 2: part(data + 1, size - 1); break;
    default: on_disk(data + 1, size - 1); break;
    }
    return 0;
}
