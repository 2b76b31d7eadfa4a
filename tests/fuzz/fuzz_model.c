/* tests/fuzz/fuzz_model.c — libFuzzer target for model bundles (io/bundle.h, io/model.h).
 *
 * Input: the bytes of a model file (a tar).  Loading it whole, as dictionaries only, and as a
 * part (two users and a range of items, streamed out of their members) must return 0 or a
 * negative code with a message: never crash, overrun or leak.  A whole load that succeeds has
 * dictionaries of the sizes its header states and finite factors; the part load of the same
 * bytes then succeeds too and holds exactly the same rows.
 * Built by tests/fuzz/run.sh (clang -fsanitize=fuzzer) and, through
 * tests/tools/fuzz_replay_model.c, as a plain replay driver for the checked-in corpus.
 * An item-item model's part is a block-aligned range of columns (the second third of its blocks)
 * and must hold the same blocks, byte for byte.
 * fuzz-sources: core io/model.c io/model_v2.c io/bundle.c io/bundle_at.c io/bundle_member.c io/bundlefmt.c io/dictbuf.c io/iiblock.c io/manifest.c io/output.c partition/dict.c
 * fuzz-max-len: 65536 */
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "io/bundle.h"
#include "io/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                                          \
    do {                                                                                          \
        if (!(cond)) {                                                                            \
            fprintf(stderr, "fuzz_model: %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                              \
        }                                                                                         \
    } while (0)

/* The loaders take a path: the input goes to one scratch file per process. */
static const char *scratch(const uint8_t *data, size_t size)
{
    static char path[64];
    if (!path[0]) snprintf(path, sizeof path, "/tmp/hpcrec-fuzz-model.%d", (int)getpid());
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    FUZZ_CHECK(fd >= 0);
    FUZZ_CHECK(write(fd, data, size) == (ssize_t)size);
    close(fd);
    return path;
}

static void check_error(int rc, const hr_error *err)
{
    FUZZ_CHECK(rc <= 0);
    if (rc < 0) FUZZ_CHECK(err->msg[0] != '\0');
}

static int all_finite(const float *a, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++)
        if (!isfinite(a[i])) return 0;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = scratch(data, size);
    hr_error err = { 0 };
    hr_bundle *b = NULL;
    check_error(hr_bundle_open(path, HR_MODEL_FORMAT, HR_MODEL_VERSION, &b, &err), &err);
    hr_bundle_close(b);

    hr_model whole;
    int rc = hr_model_load(path, &whole, &err);
    check_error(rc, &err);
    if (rc == 0) {
        FUZZ_CHECK(whole.users.n == whole.n_users && whole.items.n == whole.n_items);
        uint64_t k = (uint64_t)whole.k;
        if (whole.kind == HR_MODEL_FACTOR) {
            FUZZ_CHECK(all_finite(whole.user_factors, whole.n_users * k));
            FUZZ_CHECK(all_finite(whole.item_factors, whole.n_items * k));
        } else if (whole.kind == HR_MODEL_ITEMITEM) {
            FUZZ_CHECK(whole.ii_first == 0 && whole.ii_cols > 0);
            FUZZ_CHECK(whole.ii_count == (whole.n_items + whole.ii_cols - 1) / whole.ii_cols);
            for (uint64_t c = 0; c < whole.ii_count; c++) FUZZ_CHECK(all_finite(whole.ii[c].val, whole.ii[c].nnz));
        } else {
            FUZZ_CHECK(whole.item_scores && all_finite(whole.item_scores, whole.n_items));
        }
    }
    hr_model part;
    int prc = hr_model_load_dicts(path, &part, &err);
    check_error(prc, &err);
    if (prc == 0) {
        uint64_t users[2] = { 0, part.n_users ? part.n_users - 1 : 0 };
        uint64_t nu = part.n_users >= 2 ? 2 : part.n_users;
        hr_model_part pick = { users, nu, part.n_items / 3, part.n_items / 2, NULL, 0 };
        if (part.kind == HR_MODEL_ITEMITEM) hr_model_ii_share(&part, 1, 3, &pick.item_lo, &pick.item_hi);
        prc = hr_model_load_part(path, &part, &pick, &err);
        check_error(prc, &err);
        if (rc == 0) FUZZ_CHECK(prc == 0);   /* the same bytes loaded whole */
        if (rc == 0 && prc == 0 && whole.kind == HR_MODEL_FACTOR) {
            size_t row = (size_t)whole.k * sizeof(float);
            for (uint64_t x = 0; x < nu; x++)
                FUZZ_CHECK(memcmp(part.user_factors + x * (uint64_t)whole.k,
                                  whole.user_factors + users[x] * (uint64_t)whole.k, row) == 0);
            uint64_t span = pick.item_hi - pick.item_lo;
            if (span)
                FUZZ_CHECK(memcmp(part.item_factors, whole.item_factors + pick.item_lo * (uint64_t)whole.k, span * row) == 0);
        }
        if (rc == 0 && prc == 0 && whole.kind == HR_MODEL_ITEMITEM) {
            for (uint64_t c = 0; c < part.ii_count; c++) {
                const hr_iiblock *a = &part.ii[c], *w = &whole.ii[part.ii_first + c];
                FUZZ_CHECK(a->c0 == w->c0 && a->c1 == w->c1 && a->nnz == w->nnz && a->dense == w->dense);
                FUZZ_CHECK(memcmp(a->val, w->val, a->nnz * sizeof *a->val) == 0);
            }
        }
    }
    hr_model_free(&part);
    hr_model_free(&whole);
    return 0;
}
