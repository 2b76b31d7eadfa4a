#include "io/iiblock.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "core/alloc.h"

#define MAGIC "HRIIBLK1"

size_t hr_iiblock_size(const hr_iiblock *b)
{
    uint64_t w = b->c1 - b->c0;
    return HR_IIBLOCK_HEADER + (b->dense ? 0 : (w + 1) * 8 + b->nnz * 4) + b->nnz * 4;
}

void hr_iiblock_encode_into(const hr_iiblock *b, void *out)
{
    uint64_t w = b->c1 - b->c0;
    char *p = out;
    uint32_t h32[2] = { 1, b->dense ? 1u : 0u };
    uint64_t h64[4] = { b->n, b->c0, b->c1, b->nnz };
    memcpy(p, MAGIC, 8);
    memcpy(p + 8, h32, 8);
    memcpy(p + 16, h64, 32);
    char *q = p + HR_IIBLOCK_HEADER;
    if (!b->dense) {
        memcpy(q, b->ptr, (w + 1) * 8);
        q += (w + 1) * 8;
        memcpy(q, b->row, b->nnz * 4);
        q += b->nnz * 4;
    }
    memcpy(q, b->val, b->nnz * 4);
}

void hr_iiblock_encode(const hr_iiblock *b, void **out, size_t *len)
{
    *len = hr_iiblock_size(b);
    *out = hr_malloc(*len);
    hr_iiblock_encode_into(b, *out);
}

static int decode(const void *p, size_t len, uint64_t expect_n, const char *what, int check, hr_iiblock *b, hr_error *err);

int hr_iiblock_decode(const void *p, size_t len, uint64_t expect_n, const char *what, hr_iiblock *b, hr_error *err)
{
    return decode(p, len, expect_n, what, 1, b, err);
}

int hr_iiblock_view(const void *p, size_t len, uint64_t expect_n, const char *what, hr_iiblock *b, hr_error *err)
{
    return decode(p, len, expect_n, what, 0, b, err);
}

static int decode(const void *p, size_t len, uint64_t expect_n, const char *what, int check, hr_iiblock *b, hr_error *err)
{
    memset(b, 0, sizeof *b);
    const char *s = p;
    if (len < HR_IIBLOCK_HEADER || memcmp(s, MAGIC, 7) != 0)
        return hr_error_set(err, HR_ERR_FORMAT, "%s: not an item-item block (bad magic or truncated header)", what);
    uint32_t h32[2];
    uint64_t h64[4];
    memcpy(h32, s + 8, 8);
    memcpy(h64, s + 16, 32);
    if (s[7] != '1' || h32[0] != 1)
        return hr_error_set(err, HR_ERR_VERSION, "%s: item-item block version %u (this hpcrec reads 1)", what, h32[0]);
    if (h32[1] > 1) return hr_error_set(err, HR_ERR_FORMAT, "%s: unknown block layout %u", what, h32[1]);
    uint64_t n = h64[0], c0 = h64[1], c1 = h64[2], nnz = h64[3];
    if (n != expect_n || c0 >= c1 || c1 > n)
        return hr_error_set(err, HR_ERR_FORMAT, "%s: block of columns %llu..%llu of %llu rows does not fit a model of %llu items",
                            what, (unsigned long long)c0, (unsigned long long)c1, (unsigned long long)n,
                            (unsigned long long)expect_n);
    uint64_t w = c1 - c0;
    b->dense = h32[1] == 1;
    /* sizes before any pointer: every product below is bounded by len first */
    uint64_t body = len - HR_IIBLOCK_HEADER;
    if (b->dense) {
        if (w > body / 4 / n || nnz != n * w || body != nnz * 4)
            return hr_error_set(err, HR_ERR_FORMAT, "%s: dense block size does not add up (%zu bytes for %llu x %llu)", what, len,
                                (unsigned long long)n, (unsigned long long)w);
    } else if (w + 1 > body / 8 || nnz > (body - (w + 1) * 8) / 8 || body != (w + 1) * 8 + nnz * 8) {
        return hr_error_set(err, HR_ERR_FORMAT, "%s: sparse block size does not add up (%zu bytes, %llu columns, %llu entries)",
                            what, len, (unsigned long long)w, (unsigned long long)nnz);
    }
    if (((uintptr_t)p & 7) != 0) return hr_error_set(err, HR_ERR_ARG, "%s: block bytes are not 8-byte aligned", what);
    const char *q = s + HR_IIBLOCK_HEADER;
    b->n = n;
    b->c0 = c0;
    b->c1 = c1;
    b->nnz = nnz;
    if (!check) {
        if (!b->dense) {
            b->ptr = (const uint64_t *)q;
            b->row = (const uint32_t *)(q + (w + 1) * 8);
            q += (w + 1) * 8 + nnz * 4;
        }
        b->val = (const float *)q;
        return 0;
    }
    if (!b->dense) {
        b->ptr = (const uint64_t *)q;
        b->row = (const uint32_t *)(q + (w + 1) * 8);
        q += (w + 1) * 8 + nnz * 4;
        if (b->ptr[0] != 0 || b->ptr[w] != nnz) goto bad_ptr;
        for (uint64_t c = 0; c < w; c++) {
            if (b->ptr[c + 1] < b->ptr[c] || b->ptr[c + 1] > nnz) goto bad_ptr;
            for (uint64_t e = b->ptr[c]; e < b->ptr[c + 1]; e++)
                if (b->row[e] >= n || (e > b->ptr[c] && b->row[e] <= b->row[e - 1]))
                    return hr_error_set(err, HR_ERR_FORMAT, "%s: column %llu: rows not ascending or past %llu", what,
                                        (unsigned long long)(c0 + c), (unsigned long long)n);
        }
    }
    b->val = (const float *)q;
    for (uint64_t e = 0; e < nnz; e++)
        if (!isfinite(b->val[e])) {
            uint64_t col = b->dense ? e / n : 0;
            if (!b->dense)
                while (col + 1 < w && b->ptr[col + 1] <= e) col++;
            return hr_error_set(err, HR_ERR_FORMAT, "%s: non-finite weight in column %llu", what, (unsigned long long)(c0 + col));
        }
    return 0;
bad_ptr:
    memset(b, 0, sizeof *b);
    return hr_error_set(err, HR_ERR_FORMAT, "%s: column offsets are not a valid CSC index", what);
}
