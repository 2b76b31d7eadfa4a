/* tests/fuzz/fuzz_features.c — libFuzzer target for io/features.h.
 *
 * Input: byte 0 picks the format (mod the number of formats) and, in bit 7, whether the lines
 * go to a second file index; the rest is split into lines fed to hr_features_line, then
 * hr_features_finish.  Besides ASan/UBSan cleanliness it checks the contract: the CSR is
 * consistent (ptr increasing, columns < tokens, weights finite and > 0, each file's part of a
 * row of unit length), items and tokens are non-empty valid strings, and rejects never exceed
 * the lines read.
 * Built by tests/fuzz/run.sh and, through tests/tools/fuzz_replay_features.c, as a replay
 * driver for the checked-in corpus.
 * fuzz-sources: io/features.c core/alloc.c core/hash.c core/error.c */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "io/features.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                                  \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            fprintf(stderr, "fuzz_features: %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                      \
        }                                                                                 \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    hr_features fs;
    hr_features_init(&fs);
    const hr_feat_format fmt = (hr_feat_format)((data[0] & 0x7f) % HR_FEAT_NFORMATS);
    const int file = data[0] >> 7;
    fs.files = file + 1;
    fs.counting = hr_realloc(fs.counting, 2);
    fs.counting[0] = 0;
    fs.counting[file] = fmt == HR_FEAT_MLL_TAGS || fmt == HR_FEAT_LASTFM_TAGS;
    const char *s = (const char *)data + 1;
    size_t n = size - 1, a = 0;
    uint64_t lineno = 0;
    for (size_t i = 0; i <= n; i++)
        if (i == n || s[i] == '\n') {
            hr_features_line(&fs, fmt, file, s + a, i - a, ++lineno);
            a = i + 1;
        }
    FUZZ_CHECK(fs.lines <= lineno);
    hr_features_finish(&fs);
    uint64_t rej = fs.rejects[HR_FEAT_MALFORMED] + fs.rejects[HR_FEAT_NON_UTF8];
    FUZZ_CHECK(rej <= fs.lines && fs.rejects[HR_FEAT_DUPLICATE] <= fs.lines && fs.rejects[HR_FEAT_EMPTY] <= fs.lines);
    FUZZ_CHECK(fs.ptr[0] == 0);
    for (uint32_t i = 0; i < fs.n_items; i++) {
        FUZZ_CHECK(fs.ptr[i + 1] >= fs.ptr[i]);
        FUZZ_CHECK(strlen(fs.items[i]) > 0);
        FUZZ_CHECK(hr_features_item(&fs, fs.items[i], strlen(fs.items[i])) == (int64_t)i);
        double ss = 0;
        for (uint64_t e = fs.ptr[i]; e < fs.ptr[i + 1]; e++) {
            FUZZ_CHECK(fs.col[e] < fs.n_tokens);
            FUZZ_CHECK(isfinite(fs.val[e]) && fs.val[e] > 0);
            if (e > fs.ptr[i]) FUZZ_CHECK(fs.col[e] > fs.col[e - 1]);
            ss += (double)fs.val[e] * fs.val[e];
        }
        if (fs.ptr[i + 1] > fs.ptr[i]) FUZZ_CHECK(fabs(ss - 1.0) < 1e-4);   /* one file: one unit part */
    }
    for (uint32_t t = 0; t < fs.n_tokens; t++) FUZZ_CHECK(strlen(fs.tokens[t]) > 2 && fs.tokens[t][0] == '0' + file);
    hr_features_free(&fs);
    return 0;
}
