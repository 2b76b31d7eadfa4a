#include "io/dictbuf.h"

#include <stdint.h>
#include <string.h>

#include "core/alloc.h"

static const char MAGIC[8] = { 'H', 'R', 'D', 'I', 'C', 'T', '0', '1' };
enum { HDR = 8 + 4 + 4 + 8 };

/* memcpy that tolerates a NULL source for zero bytes (empty dictionaries). */
static char *put(char *p, const void *src, size_t n)
{
    if (n) memcpy(p, src, n);
    return p + n;
}

void hr_dictbuf_encode(const hr_dict *d, void **out, size_t *len)
{
    uint64_t n = d->n;
    size_t keys = d->is_int ? n * 8 : (n + 1) * 8 + d->offs[n];
    size_t total = HDR + keys + n * 8;
    char *b = hr_malloc(total), *p = b;
    uint32_t h32[2] = { 1, d->is_int ? 1u : 0u };
    memcpy(p, MAGIC, 8);
    memcpy(p + 8, h32, 8);
    memcpy(p + 16, &n, 8);
    p += HDR;
    if (d->is_int) {
        p = put(p, d->ints, n * 8);
    } else {
        p = put(p, d->offs, (n + 1) * 8);
        p = put(p, d->bytes, d->offs[n]);
    }
    if (d->nnz) put(p, d->nnz, n * 8);
    else memset(p, 0, n * 8);
    *out = b;
    *len = total;
}

/* Copy count*esz bytes at *pos into a new array, refusing to run past len. */
static void *take(const char *p, size_t len, size_t *pos, uint64_t count, size_t esz)
{
    if (count > (len - *pos) / esz) return NULL;
    size_t n = (size_t)count * esz;
    void *a = hr_malloc(n ? n : 1);
    memcpy(a, p + *pos, n);
    *pos += n;
    return a;
}

/* Byte-string order of partition/dict.c: memcmp on the common prefix, then shorter first. */
static int key_less(const char *a, uint64_t na, const char *b, uint64_t nb)
{
    int c = memcmp(a, b, na < nb ? na : nb);
    return c < 0 || (c == 0 && na < nb);
}

static int check_order(const hr_dict *d, const char *what, hr_error *err)
{
    for (uint64_t g = 1; g < d->n; g++) {
        int ok;
        if (d->is_int) {
            ok = d->ints[g - 1] < d->ints[g];
        } else {
            const char *a = d->bytes + d->offs[g - 1], *b = d->bytes + d->offs[g];
            ok = key_less(a, d->offs[g] - d->offs[g - 1], b, d->offs[g + 1] - d->offs[g]);
        }
        if (!ok)
            return hr_error_set(err, HR_ERR_FORMAT, "%s: dictionary keys not strictly ascending at id %llu", what,
                                (unsigned long long)g);
    }
    return 0;
}

int hr_dictbuf_decode(const void *buf, size_t len, const char *what, hr_dict *d, hr_error *err)
{
    memset(d, 0, sizeof *d);
    const char *p = buf;
    uint32_t h32[2];
    uint64_t n;
    if (len < HDR) return hr_error_set(err, HR_ERR_FORMAT, "%s: dictionary is truncated", what);
    memcpy(h32, p + 8, 8);
    memcpy(&n, p + 16, 8);
    if (memcmp(p, MAGIC, 8) != 0 || h32[0] != 1 || h32[1] > 1)
        return hr_error_set(err, HR_ERR_FORMAT, "%s: not an hpcrec dictionary (version 1)", what);
    size_t pos = HDR;
    d->is_int = (int)h32[1];
    d->n = n;
    int rc = 0;
    if (d->is_int) {
        if (!(d->ints = take(p, len, &pos, n, 8))) goto truncated;
    } else {
        if (n == UINT64_MAX || !(d->offs = take(p, len, &pos, n + 1, 8))) goto truncated;
        if (d->offs[0] != 0) goto inconsistent;
        for (uint64_t g = 0; g < n; g++)
            if (d->offs[g + 1] < d->offs[g] || d->offs[g + 1] - d->offs[g] > UINT32_MAX) goto inconsistent;
        if (!(d->bytes = take(p, len, &pos, d->offs[n], 1))) goto truncated;
    }
    if (!(d->nnz = take(p, len, &pos, n, 8))) goto truncated;
    if (pos != len) goto inconsistent;
    HR_CHECK(check_order(d, what, err));
    return 0;
truncated:
    rc = hr_error_set(err, HR_ERR_FORMAT, "%s: dictionary is truncated or its header is corrupt", what);
    goto fail;
inconsistent:
    rc = hr_error_set(err, HR_ERR_FORMAT, "%s: inconsistent dictionary (bad offsets or trailing bytes)", what);
fail:
    hr_dict_free(d);
    return rc;
}
