#include "io/recwriter.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "io/output.h"

#define BUF (1 << 20)

struct hr_recwriter {
    hr_output *out;
    char *buf;
    size_t len;
    uint64_t lines;
};

size_t hr_fmt_u64(char *out, uint64_t v)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++) out[i] = tmp[n - 1 - i];
    return n;
}

size_t hr_fmt_score(char *out, float v)
{
    if (!isfinite(v) || fabsf(v) >= 1e9f) return (size_t)snprintf(out, 32, "%.6e", (double)v);
    size_t n = 0;
    double d = v;
    if (d < 0) {
        out[n++] = '-';
        d = -d;
    }
    uint64_t scaled = (uint64_t)llround(d * 1e6);
    n += hr_fmt_u64(out + n, scaled / 1000000);
    out[n++] = '.';
    uint64_t frac = scaled % 1000000;
    for (int p = 5; p >= 0; p--) {
        out[n + (size_t)p] = (char)('0' + frac % 10);
        frac /= 10;
    }
    return n + 6;
}

int hr_recwriter_open(const char *path, const char *header, int level, hr_recwriter **out, hr_error *err)
{
    hr_recwriter *w = hr_calloc(1, sizeof *w);
    int rc = hr_output_open(path, level, 1, &w->out, err);
    if (rc < 0) {
        hr_free(w);
        return rc;
    }
    w->buf = hr_malloc(BUF);
    w->len = (size_t)snprintf(w->buf, BUF, "%s\n", header);
    *out = w;
    return 0;
}

int hr_recwriter_line(hr_recwriter *w, const char *key, size_t key_len, uint32_t rank, const char *item, size_t item_len,
                      float score, const char *source, hr_error *err)
{
    size_t slen = strlen(source), need = key_len + item_len + slen + 64;
    if (w->len + need > BUF) {
        HR_TRY(hr_output_write(w->out, w->buf, w->len, err));
        w->len = 0;
        if (need > BUF) {   /* ids of megabytes: straight through, in pieces (ids have no length limit) */
            char mid[64], tail[96];
            size_t nm = 0, nt = 0;
            mid[nm++] = '\t';
            nm += hr_fmt_u64(mid + nm, rank);
            mid[nm++] = '\t';
            tail[nt++] = '\t';
            nt += hr_fmt_score(tail + nt, score);
            nt += (size_t)snprintf(tail + nt, sizeof tail - nt, "\t%.*s\n", 32, source);
            HR_TRY(hr_output_write(w->out, key, key_len, err));
            HR_TRY(hr_output_write(w->out, mid, nm, err));
            HR_TRY(hr_output_write(w->out, item, item_len, err));
            HR_TRY(hr_output_write(w->out, tail, nt, err));
            w->lines++;
            return 0;
        }
    }
    char *p = w->buf + w->len;
    memcpy(p, key, key_len);
    p += key_len;
    *p++ = '\t';
    p += hr_fmt_u64(p, rank);
    *p++ = '\t';
    memcpy(p, item, item_len);
    p += item_len;
    *p++ = '\t';
    p += hr_fmt_score(p, score);
    *p++ = '\t';
    memcpy(p, source, slen);
    p += slen;
    *p++ = '\n';
    w->len = (size_t)(p - w->buf);
    w->lines++;
    return 0;
}

void hr_recwriter_abort(hr_recwriter *w)
{
    if (!w) return;
    hr_output_abort(w->out);
    hr_free(w->buf);
    hr_free(w);
}

int hr_recwriter_close(hr_recwriter *w, uint64_t *checksum, uint64_t *bytes, uint64_t *lines, hr_error *err)
{
    int rc = hr_output_write(w->out, w->buf, w->len, err);
    if (rc < 0) {
        hr_recwriter_abort(w);
        return rc;
    }
    if (lines) *lines = w->lines;
    rc = hr_output_commit(w->out, checksum, bytes, err);
    hr_free(w->buf);
    hr_free(w);
    return rc;
}
