#include "io/tables.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <zstd.h>

#include "core/alloc.h"

void hr_tbuf_reserve(hr_tbuf *b, size_t more)
{
    if (b->len + more <= b->cap) return;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + more) cap *= 2;
    b->p = hr_realloc(b->p, cap);
    b->cap = cap;
}

void hr_tbuf_free(hr_tbuf *b)
{
    hr_free(b->p);
    memset(b, 0, sizeof *b);
}

int hr_npy_header(hr_tbuf *b, uint64_t rows, uint64_t cols, hr_error *err)
{
    char dict[256];
    int n = cols ? snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (%" PRIu64 ", %" PRIu64 "), }", rows, cols)
                 : snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (%" PRIu64 ",), }", rows);
    if (n < 0 || (size_t)n >= sizeof dict) return hr_error_set(err, HR_ERR_ARG, "npy header too long");
    /* magic (6) + version (2) + length (2) + dict + spaces + '\n', a multiple of 64 */
    size_t total = (10 + (size_t)n + 1 + 63) / 64 * 64, hlen = total - 10;
    b->len = 0;
    hr_tbuf_reserve(b, total);
    memcpy(b->p, "\x93NUMPY\x01\x00", 8);
    b->p[8] = (char)(hlen & 0xff);
    b->p[9] = (char)(hlen >> 8);
    memcpy(b->p + 10, dict, (size_t)n);
    memset(b->p + 10 + n, ' ', hlen - (size_t)n - 1);
    b->p[total - 1] = '\n';
    b->len = total;
    return 0;
}

void hr_npy_rows(hr_tbuf *b, const float *rows, uint64_t n, uint64_t cols)
{
    size_t bytes = (size_t)(n * (cols ? cols : 1)) * sizeof(float);
    hr_tbuf_reserve(b, bytes);
    /* the file is little-endian, as is every machine hpcrec builds on (x86-64, aarch64) */
    _Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "big-endian hosts need a byte swap here");
    memcpy(b->p + b->len, rows, bytes);
    b->len += bytes;
}

void hr_tsv_header(hr_tbuf *b, const char *prefix, uint64_t cols)
{
    hr_tbuf_reserve(b, 32 + (strlen(prefix) + 24) * (cols ? cols : 1));
    b->len += (size_t)sprintf(b->p + b->len, "row");
    if (cols == 1) b->len += (size_t)sprintf(b->p + b->len, "\t%s", prefix);
    for (uint64_t c = 0; cols > 1 && c < cols; c++) b->len += (size_t)sprintf(b->p + b->len, "\t%s%" PRIu64, prefix, c);
    b->p[b->len++] = '\n';
}

void hr_tsv_rows(hr_tbuf *b, uint64_t first, const float *rows, uint64_t n, uint64_t cols)
{
    for (uint64_t r = 0; r < n; r++) {
        /* %.9g: at most 15 characters (sign, 9 digits, point, e-XX) per value */
        hr_tbuf_reserve(b, 24 + 16 * cols);
        char *o = b->p + b->len;
        o += sprintf(o, "%" PRIu64, first + r);
        for (uint64_t c = 0; c < cols; c++) o += sprintf(o, "\t%.9g", (double)rows[r * cols + c]);
        *o++ = '\n';
        b->len = (size_t)(o - b->p);
    }
}

int hr_tsv_ids(hr_tbuf *b, uint64_t first, const hr_dict *d, const char *what, hr_error *err)
{
    for (uint64_t g = 0; g < d->n; g++) {
        const char *key = NULL;
        size_t len = 0;
        if (!d->is_int) {
            key = d->bytes + d->offs[g];
            len = (size_t)(d->offs[g + 1] - d->offs[g]);
            if (memchr(key, '\t', len) || memchr(key, '\n', len) || memchr(key, '\r', len))
                return hr_error_set(err, HR_ERR_FORMAT,
                                    "%s: the id of row %" PRIu64 " holds a tab or line break and cannot be written as TSV",
                                    what, first + g);
        }
        hr_tbuf_reserve(b, 48 + len);
        char *o = b->p + b->len;
        o += sprintf(o, "%" PRIu64 "\t", first + g);
        if (d->is_int) {
            o += sprintf(o, "%" PRId64, d->ints[g]);
        } else {
            memcpy(o, key, len);
            o += len;
        }
        *o++ = '\n';
        b->len = (size_t)(o - b->p);
    }
    return 0;
}

/* Append the external id of row g of d (checked TSV-safe). */
static int put_id(hr_tbuf *b, const hr_dict *d, uint64_t g, const char *what, hr_error *err)
{
    if (d->is_int) {
        hr_tbuf_reserve(b, 24);
        b->len += (size_t)sprintf(b->p + b->len, "%" PRId64, d->ints[g]);
        return 0;
    }
    const char *key = d->bytes + d->offs[g];
    size_t len = (size_t)(d->offs[g + 1] - d->offs[g]);
    if (memchr(key, '\t', len) || memchr(key, '\n', len) || memchr(key, '\r', len))
        return hr_error_set(err, HR_ERR_FORMAT, "%s: the id of row %" PRIu64 " holds a tab or line break and cannot be written as TSV",
                            what, g);
    hr_tbuf_reserve(b, len);
    memcpy(b->p + b->len, key, len);
    b->len += len;
    return 0;
}

int hr_tsv_neighbors(hr_tbuf *b, const hr_dict *items, uint64_t item, const uint32_t *row, const float *val, uint32_t n,
                     const char *what, hr_error *err)
{
    for (uint32_t x = 0; x < n; x++) {
        HR_TRY(put_id(b, items, item, what, err));
        hr_tbuf_reserve(b, 1);
        b->p[b->len++] = '\t';
        HR_TRY(put_id(b, items, row[x], what, err));
        hr_tbuf_reserve(b, 24);
        b->len += (size_t)sprintf(b->p + b->len, "\t%.9g\n", (double)val[x]);
    }
    return 0;
}

int hr_tbuf_zstd(hr_tbuf *dst, void **cctx, const char *src, size_t len, int end, hr_error *err)
{
    if (!*cctx) {
        ZSTD_CCtx *c = ZSTD_createCCtx();
        if (!c) return hr_error_set(err, HR_ERR_NOMEM, "zstd: cannot create a compression context");
        ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, 3);
        *cctx = c;
    }
    ZSTD_inBuffer in = { src ? src : "", len, 0 };
    for (;;) {
        hr_tbuf_reserve(dst, ZSTD_CStreamOutSize());
        ZSTD_outBuffer out = { dst->p, dst->cap, dst->len };
        size_t r = ZSTD_compressStream2(*cctx, &out, &in, end ? ZSTD_e_end : ZSTD_e_continue);
        dst->len = out.pos;
        if (ZSTD_isError(r)) return hr_error_set(err, HR_ERR_IO, "zstd: %s", ZSTD_getErrorName(r));
        if (end ? r == 0 : in.pos == in.size) return 0;
    }
}

void hr_tbuf_zstd_free(void *cctx) { ZSTD_freeCCtx(cctx); }
