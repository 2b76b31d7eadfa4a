#include "partition/dict.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/hash.h"

int hr_dict_canonical_int(const char *s, size_t n, int64_t *v)
{
    if (n == 0 || n > 20) return 0;
    size_t i = 0;
    int neg = 0;
    if (s[0] == '-') {
        neg = 1;
        i = 1;
        if (n == 1) return 0;
    }
    if (s[i] == '0' && n - i > 1) return 0;   /* "007" is a string ID */
    if (neg && s[i] == '0') return 0;          /* "-0" too */
    uint64_t acc = 0;
    for (; i < n; i++) {
        unsigned d = (unsigned char)s[i] - '0';
        if (d > 9) return 0;
        if (acc > (UINT64_MAX - d) / 10) return 0;
        acc = acc * 10 + d;
    }
    if (!neg && acc > (uint64_t)INT64_MAX) return 0;
    if (neg && acc > (uint64_t)INT64_MAX + 1) return 0;
    *v = neg ? (int64_t)(0 - acc) : (int64_t)acc;
    return 1;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* a[0..n) into ascending order: LSD radix passes over the bytes (sign bit flipped, so the
 * unsigned order is the signed one), skipping bytes every key shares (ids below 2^32 need 4
 * passes at most).  The gathered keys of every rank are sorted on every rank: 800k keys took
 * 0.1 s in qsort, a few ms here. */
static void sort_i64(int64_t *a, uint64_t n)
{
    if (n < 1024) {
        qsort(a, n, sizeof *a, cmp_i64);
        return;
    }
    const uint64_t flip = (uint64_t)1 << 63;
    uint64_t *x = (uint64_t *)(void *)a, *tmp = hr_malloc(n * sizeof *tmp);
    uint64_t(*cnt)[256] = hr_calloc(8, sizeof *cnt);
    for (uint64_t i = 0; i < n; i++) {
        uint64_t v = x[i] ^ flip;
        x[i] = v;
        for (int b = 0; b < 8; b++) cnt[b][(v >> (8 * b)) & 255]++;
    }
    uint64_t *src = x, *dst = tmp;
    for (int b = 0; b < 8; b++) {
        if (cnt[b][(src[0] >> (8 * b)) & 255] == n) continue;   /* one value of this byte */
        uint64_t sum = 0;
        for (int c = 0; c < 256; c++) {
            uint64_t t = cnt[b][c];
            cnt[b][c] = sum;
            sum += t;
        }
        for (uint64_t i = 0; i < n; i++) dst[cnt[b][(src[i] >> (8 * b)) & 255]++] = src[i];
        uint64_t *t = src;
        src = dst;
        dst = t;
    }
    for (uint64_t i = 0; i < n; i++) x[i] = src[i] ^ flip;
    hr_free(cnt);
    hr_free(tmp);
}

typedef struct { const char *p; uint64_t n; } span;   /* 16 bytes either way */

static int cmp_span(const void *a, const void *b)
{
    const span *x = a, *y = b;
    uint64_t m = x->n < y->n ? x->n : y->n;
    int c = memcmp(x->p, y->p, m);
    if (c) return c;
    return (x->n > y->n) - (x->n < y->n);
}

void hr_dict_build(hr_dict *d, const char *packed, uint64_t bytes)
{
    memset(d, 0, sizeof *d);
    uint64_t count = 0;
    int all_int = 1;
    for (uint64_t p = 0; p < bytes;) {
        uint32_t len;
        memcpy(&len, packed + p, 4);
        int64_t v;
        if (all_int && !hr_dict_canonical_int(packed + p + 4, len, &v)) all_int = 0;
        p += 4 + len;
        count++;
    }
    d->is_int = all_int;
    if (all_int) {
        int64_t *a = hr_malloc(count * sizeof *a);
        uint64_t k = 0;
        for (uint64_t p = 0; p < bytes; k++) {
            uint32_t len;
            memcpy(&len, packed + p, 4);
            hr_dict_canonical_int(packed + p + 4, len, &a[k]);
            p += 4 + len;
        }
        sort_i64(a, count);
        uint64_t m = 0;
        for (uint64_t i = 0; i < count; i++)
            if (m == 0 || a[i] != a[m - 1]) a[m++] = a[i];
        d->ints = hr_realloc(a, (m ? m : 1) * sizeof *a);
        d->n = m;
        return;
    }
    span *s = hr_malloc(count * sizeof *s);
    uint64_t k = 0;
    for (uint64_t p = 0; p < bytes; k++) {
        uint32_t len;
        memcpy(&len, packed + p, 4);
        s[k].n = len;
        s[k].p = packed + p + 4;
        p += 4 + s[k].n;
    }
    qsort(s, count, sizeof *s, cmp_span);
    uint64_t m = 0, total = 0;
    for (uint64_t i = 0; i < count; i++)
        if (m == 0 || cmp_span(&s[i], &s[m - 1]) != 0) {
            s[m++] = s[i];
            total += s[i].n;
        }
    d->bytes = hr_malloc(total ? total : 1);
    d->offs = hr_malloc((m + 1) * sizeof *d->offs);
    uint64_t off = 0;
    for (uint64_t i = 0; i < m; i++) {
        d->offs[i] = off;
        memcpy(d->bytes + off, s[i].p, s[i].n);
        off += s[i].n;
    }
    d->offs[m] = off;
    d->n = m;
    hr_free(s);
}

void hr_dict_free(hr_dict *d)
{
    if (!d) return;
    hr_free(d->ints);
    hr_free(d->bytes);
    hr_free(d->offs);
    hr_free(d->nnz);
    memset(d, 0, sizeof *d);
}

int64_t hr_dict_find(const hr_dict *d, const char *key, size_t len)
{
    uint64_t lo = 0, hi = d->n;
    if (d->is_int) {
        int64_t v;
        if (!hr_dict_canonical_int(key, len, &v)) return -1;
        while (lo < hi) {
            uint64_t mid = lo + (hi - lo) / 2;
            if (d->ints[mid] < v) lo = mid + 1;
            else hi = mid;
        }
        return lo < d->n && d->ints[lo] == v ? (int64_t)lo : -1;
    }
    span k = { key, len };
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        span m = { d->bytes + d->offs[mid], d->offs[mid + 1] - d->offs[mid] };
        if (cmp_span(&m, &k) < 0) lo = mid + 1;
        else hi = mid;
    }
    if (lo < d->n) {
        span m = { d->bytes + d->offs[lo], d->offs[lo + 1] - d->offs[lo] };
        if (cmp_span(&m, &k) == 0) return (int64_t)lo;
    }
    return -1;
}

size_t hr_dict_format(const hr_dict *d, uint64_t gid, char *buf, size_t cap)
{
    if (cap == 0) return 0;
    if (d->is_int) {
        int n = snprintf(buf, cap, "%lld", (long long)d->ints[gid]);
        return n < 0 ? 0 : ((size_t)n < cap ? (size_t)n : cap - 1);
    }
    size_t n = d->offs[gid + 1] - d->offs[gid];
    if (n >= cap) n = cap - 1;
    memcpy(buf, d->bytes + d->offs[gid], n);
    buf[n] = '\0';
    return n;
}

const char *hr_dict_key(const hr_dict *d, uint64_t gid, char tmp[HR_DICT_INT_CHARS], size_t *len)
{
    if (d->is_int) {
        int n = snprintf(tmp, HR_DICT_INT_CHARS, "%lld", (long long)d->ints[gid]);
        *len = n < 0 ? 0 : (size_t)n;   /* at most 20 characters: never cut */
        return tmp;
    }
    *len = d->offs[gid + 1] - d->offs[gid];
    return d->bytes + d->offs[gid];
}

uint32_t *hr_dict_match(const hr_dict *from, const hr_dict *to, uint64_t *matched)
{
    uint32_t *map = hr_malloc((from->n ? from->n : 1) * sizeof *map);
    uint64_t hits = 0, j = 0;
    if (from->is_int && to->is_int) {          /* both sorted numerically: one merge */
        for (uint64_t g = 0; g < from->n; g++) {
            while (j < to->n && to->ints[j] < from->ints[g]) j++;
            map[g] = j < to->n && to->ints[j] == from->ints[g] ? (uint32_t)j : UINT32_MAX;
            hits += map[g] != UINT32_MAX;
        }
    } else if (!from->is_int && !to->is_int) { /* both sorted bytewise (cmp_span): one merge */
        for (uint64_t g = 0; g < from->n; g++) {
            span a = { from->bytes + from->offs[g], from->offs[g + 1] - from->offs[g] };
            int c = 1;
            for (; j < to->n; j++) {
                span b = { to->bytes + to->offs[j], to->offs[j + 1] - to->offs[j] };
                if ((c = cmp_span(&b, &a)) >= 0) break;
            }
            map[g] = j < to->n && c == 0 ? (uint32_t)j : UINT32_MAX;
            hits += map[g] != UINT32_MAX;
        }
    } else {                                   /* different orders: look each key up */
        char tmp[HR_DICT_INT_CHARS];
        for (uint64_t g = 0; g < from->n; g++) {
            size_t len;
            const char *key = hr_dict_key(from, g, tmp, &len);
            int64_t m = hr_dict_find(to, key, len);
            map[g] = m < 0 ? UINT32_MAX : (uint32_t)m;
            hits += m >= 0;
        }
    }
    if (matched) *matched = hits;
    return map;
}

uint64_t hr_dict_fingerprint(const hr_dict *d)
{
    if (d->is_int) return hr_hash_bytes(d->ints, d->n * sizeof *d->ints, 1);
    return hr_hash_bytes(d->bytes, d->offs[d->n], 2) ^ hr_mix64(d->n);
}

uint32_t *hr_dict_keep(hr_dict *d, const uint8_t *keep)
{
    uint32_t *map = hr_malloc((d->n ? d->n : 1) * sizeof *map);
    uint64_t m = 0, bytes = 0;
    for (uint64_t g = 0; g < d->n; g++) {
        if (!keep[g]) {
            map[g] = UINT32_MAX;
            continue;
        }
        map[g] = (uint32_t)m;
        if (d->is_int) {
            d->ints[m] = d->ints[g];
        } else {
            uint64_t len = d->offs[g + 1] - d->offs[g];
            memmove(d->bytes + bytes, d->bytes + d->offs[g], len);
            d->offs[m] = bytes;
            bytes += len;
        }
        m++;
    }
    if (!d->is_int) d->offs[m] = bytes;
    d->n = m;
    hr_free(d->nnz);
    d->nnz = NULL;
    return map;
}
