#include "io/features.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/hash.h"
#include "io/input.h"
#include "io/lines.h"

const char *const hr_feat_reject_names[HR_FEAT_NREJECT] = { "malformed", "non_utf8", "duplicate", "empty" };
static const char *const FORMAT_NAMES[HR_FEAT_NFORMATS] = { "tokens", "movielens-genres", "ml-latest-genres", "ml-latest-tags",
                                                            "lastfm-tags" };
/* u.genre, in flag order */
static const char *const ML_GENRES[19] = { "unknown", "action", "adventure", "animation", "children's", "comedy", "crime",
                                           "documentary", "drama", "fantasy", "film-noir", "horror", "musical", "mystery",
                                           "romance", "sci-fi", "thriller", "war", "western" };
#define MAX_TOKEN 256   /* longer tokens are cut (a tag is a few words) */

int hr_feat_format_parse(const char *name, hr_feat_format *out)
{
    for (int f = 0; f < HR_FEAT_NFORMATS; f++)
        if (strcmp(name, FORMAT_NAMES[f]) == 0) {
            *out = (hr_feat_format)f;
            return 0;
        }
    return HR_ERR_ARG;
}

const char *hr_feat_format_name(hr_feat_format fmt)
{
    return (unsigned)fmt < HR_FEAT_NFORMATS ? FORMAT_NAMES[fmt] : "?";
}

void hr_features_init(hr_features *fs)
{
    memset(fs, 0, sizeof *fs);
    fs->item_ht_cap = fs->token_ht_cap = 1024;
    fs->item_ht = hr_calloc(fs->item_ht_cap, sizeof *fs->item_ht);
    fs->token_ht = hr_calloc(fs->token_ht_cap, sizeof *fs->token_ht);
    fs->counting = hr_calloc(1, 1);
}

void hr_features_free(hr_features *fs)
{
    for (uint32_t i = 0; i < fs->n_items; i++) hr_free(fs->items[i]);
    for (uint32_t t = 0; t < fs->n_tokens; t++) hr_free(fs->tokens[t]);
    hr_free(fs->items); hr_free(fs->tokens); hr_free(fs->item_ht); hr_free(fs->token_ht);
    hr_free(fs->e); hr_free(fs->ptr); hr_free(fs->col); hr_free(fs->val); hr_free(fs->counting);
    hr_free(fs->idf); hr_free(fs->file_items);
    memset(fs, 0, sizeof *fs);
}

/* Interning: strings in *names, their index + 1 in an open-addressing table. */
static uint32_t intern(char ***names, uint32_t *n, uint32_t *cap, uint32_t **ht, uint32_t *htcap, const char *s, size_t len,
                       int insert)
{
    uint64_t h = hr_hash_bytes(s, len, 11);
    for (uint64_t p = h & (*htcap - 1);; p = (p + 1) & (*htcap - 1)) {
        uint32_t v = (*ht)[p];
        if (v == 0) break;
        if (strlen((*names)[v - 1]) == len && memcmp((*names)[v - 1], s, len) == 0) return v - 1;
    }
    if (!insert) return UINT32_MAX;
    if (*n == *cap) *names = hr_realloc(*names, (*cap = *cap ? *cap * 2 : 64) * sizeof **names);
    char *c = hr_malloc(len + 1);
    memcpy(c, s, len);
    c[len] = '\0';
    (*names)[*n] = c;
    (*n)++;
    if (2 * (uint64_t)*n > *htcap) {   /* grow: rehash every name */
        hr_free(*ht);
        *htcap *= 2;
        *ht = hr_calloc(*htcap, sizeof **ht);
        for (uint32_t x = 0; x < *n; x++) {
            uint64_t p = hr_hash_bytes((*names)[x], strlen((*names)[x]), 11) & (*htcap - 1);
            while ((*ht)[p]) p = (p + 1) & (*htcap - 1);
            (*ht)[p] = x + 1;
        }
    } else {
        uint64_t p = h & (*htcap - 1);
        while ((*ht)[p]) p = (p + 1) & (*htcap - 1);
        (*ht)[p] = *n;
    }
    return *n - 1;
}

int64_t hr_features_item(const hr_features *fs, const char *id, size_t len)
{
    hr_features *m = (hr_features *)fs;   /* lookup only: nothing is inserted */
    uint32_t x = intern(&m->items, &m->n_items, &m->items_cap, &m->item_ht, &m->item_ht_cap, id, len, 0);
    return x == UINT32_MAX ? -1 : (int64_t)x;
}

/* Well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
static int utf8_ok(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        size_t k;
        unsigned min;
        if (c < 0x80) { i++; continue; }
        else if ((c & 0xe0) == 0xc0) { k = 1; min = 0x80; c &= 0x1f; }
        else if ((c & 0xf0) == 0xe0) { k = 2; min = 0x800; c &= 0x0f; }
        else if ((c & 0xf8) == 0xf0) { k = 3; min = 0x10000; c &= 0x07; }
        else return 0;
        for (size_t j = 1; j <= k; j++) {
            if (i + j >= n || (s[i + j] & 0xc0) != 0x80) return 0;
            c = (c << 6) | (s[i + j] & 0x3f);
        }
        if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) return 0;
        i += k + 1;
    }
    return 1;
}

static int has_control(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) return 1;
    return 0;
}

static void reject(hr_features *fs, int why, uint64_t lineno)
{
    if (fs->rejects[why]++ == 0) fs->first_reject[why] = lineno;
}

static void trim(const char **s, size_t *n)
{
    while (*n && (**s == ' ' || **s == '\t' || **s == '\r')) { (*s)++; (*n)--; }
    while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t' || (*s)[*n - 1] == '\r')) (*n)--;
}

/* A parsed line: its item and tokens, checked before anything is added. */
typedef struct { const char *s; size_t n; } span;
#define MAX_TOKS 512

static void add_line(hr_features *fs, int file, span item, const span *tok, int ntok, uint64_t lineno, uint64_t lhash)
{
    trim(&item.s, &item.n);
    if (!item.n || has_control(item.s, item.n)) { reject(fs, HR_FEAT_MALFORMED, lineno); return; }
    if (!utf8_ok((const unsigned char *)item.s, item.n)) { reject(fs, HR_FEAT_NON_UTF8, lineno); return; }
    char buf[MAX_TOKEN + 16];
    uint32_t tid[MAX_TOKS];
    int nt = 0;
    for (int t = 0; t < ntok; t++) {
        span k = tok[t];
        trim(&k.s, &k.n);
        if (!k.n) continue;
        if (has_control(k.s, k.n)) { reject(fs, HR_FEAT_MALFORMED, lineno); return; }
        if (!utf8_ok((const unsigned char *)k.s, k.n)) { reject(fs, HR_FEAT_NON_UTF8, lineno); return; }
        size_t m = k.n < MAX_TOKEN ? k.n : MAX_TOKEN;
        while (m < k.n && m > 0 && ((unsigned char)k.s[m] & 0xc0) == 0x80) m--;   /* cut on a character boundary */
        int p = snprintf(buf, sizeof buf, "%d:", file);
        for (size_t j = 0; j < m; j++) buf[p + j] = (k.s[j] >= 'A' && k.s[j] <= 'Z') ? (char)(k.s[j] + 32) : k.s[j];
        tid[nt++] = intern(&fs->tokens, &fs->n_tokens, &fs->tokens_cap, &fs->token_ht, &fs->token_ht_cap, buf, (size_t)p + m, 1);
    }
    uint32_t it = intern(&fs->items, &fs->n_items, &fs->items_cap, &fs->item_ht, &fs->item_ht_cap, item.s, item.n, 1);
    if (nt == 0) reject(fs, HR_FEAT_EMPTY, lineno);
    int n = nt ? nt : 1;
    while (fs->n + (uint64_t)n > fs->cap) fs->e = hr_realloc(fs->e, (fs->cap = fs->cap ? fs->cap * 2 : 1024) * sizeof *fs->e);
    for (int t = 0; t < n; t++)
        fs->e[fs->n++] = (hr_feat_entry){ it, nt ? tid[t] : UINT32_MAX, 1.0f, lhash, lineno };
}

/* Splits s[0..n) on any of seps into at most max spans. */
static int split(const char *s, size_t n, const char *seps, span *out, int max)
{
    int c = 0;
    size_t a = 0;
    for (size_t i = 0; i <= n && c < max; i++)
        if (i == n || strchr(seps, s[i])) {
            out[c++] = (span){ s + a, i - a };
            a = i + 1;
        }
    return c;
}

void hr_features_line(hr_features *fs, hr_feat_format fmt, int file, const char *line, size_t len, uint64_t lineno)
{
    fs->lines++;
    if (memchr(line, '\0', len)) { reject(fs, HR_FEAT_MALFORMED, lineno); return; }
    const char *s = line;
    size_t n = len;
    while (n && (s[n - 1] == '\r' || s[n - 1] == '\n')) n--;
    const char *bs = s;
    size_t bn = n;
    trim(&bs, &bn);
    if (!bn) return;   /* blank lines are not data (fields keep their tabs: an item's empty set) */
    const uint64_t lhash = hr_hash_bytes(s, n, 0x5eed + (uint64_t)file);
    span f[32], tok[MAX_TOKS];
    switch (fmt) {
    case HR_FEAT_TOKENS: {
        const char *tab = memchr(s, '\t', n);
        if (!tab) { reject(fs, HR_FEAT_MALFORMED, lineno); return; }
        int nt = split(tab + 1, n - (size_t)(tab + 1 - s), " |,", tok, MAX_TOKS);
        add_line(fs, file, (span){ s, (size_t)(tab - s) }, tok, nt, lineno, lhash);
        return;
    }
    case HR_FEAT_ML_GENRES: {
        int nf = split(s, n, "|", f, 32);
        if (nf != 24) { reject(fs, HR_FEAT_MALFORMED, lineno); return; }
        int nt = 0;
        for (int g = 0; g < 19; g++) {
            span v = f[5 + g];
            if (v.n != 1 || (v.s[0] != '0' && v.s[0] != '1')) { reject(fs, HR_FEAT_MALFORMED, lineno); return; }
            if (v.s[0] == '1') tok[nt++] = (span){ ML_GENRES[g], strlen(ML_GENRES[g]) };
        }
        add_line(fs, file, f[0], tok, nt, lineno, lhash);
        return;
    }
    case HR_FEAT_MLL_GENRES: {   /* id,title,genres: the title may hold commas, genres never */
        const char *c1 = memchr(s, ',', n), *c2 = NULL;
        for (size_t i = n; i-- > 0;)
            if (s[i] == ',') { c2 = s + i; break; }
        if (!c1 || c1 == c2) { reject(fs, HR_FEAT_MALFORMED, lineno); return; }
        if (lineno == 1 && (size_t)(c1 - s) == 7 && memcmp(s, "movieId", 7) == 0) { fs->lines--; return; }   /* header */
        span g = { c2 + 1, n - (size_t)(c2 + 1 - s) };
        int nt = (g.n == 18 && memcmp(g.s, "(no genres listed)", 18) == 0) ? 0 : split(g.s, g.n, "|", tok, MAX_TOKS);
        add_line(fs, file, (span){ s, (size_t)(c1 - s) }, tok, nt, lineno, lhash);
        return;
    }
    case HR_FEAT_MLL_TAGS: {   /* userId,movieId,tag,timestamp: the tag between the second and last comma */
        const char *c1 = memchr(s, ',', n), *c2 = c1 ? memchr(c1 + 1, ',', n - (size_t)(c1 + 1 - s)) : NULL, *c3 = NULL;
        for (size_t i = n; i-- > 0;)
            if (s[i] == ',') { c3 = s + i; break; }
        if (!c1 || !c2 || c3 <= c2) { reject(fs, HR_FEAT_MALFORMED, lineno); return; }
        if (lineno == 1 && (size_t)(c1 - s) == 6 && memcmp(s, "userId", 6) == 0) { fs->lines--; return; }
        span t = { c2 + 1, (size_t)(c3 - c2 - 1) };
        if (t.n >= 2 && t.s[0] == '"' && t.s[t.n - 1] == '"') { t.s++; t.n -= 2; }   /* "" inside stays doubled: one token anyway */
        add_line(fs, file, (span){ c1 + 1, (size_t)(c2 - c1 - 1) }, &t, 1, lineno, lhash);
        return;
    }
    case HR_FEAT_LASTFM_TAGS: {
        int nf = split(s, n, "\t", f, 32);
        if (nf < 3) { reject(fs, HR_FEAT_MALFORMED, lineno); return; }
        if (lineno == 1 && f[0].n == 6 && memcmp(f[0].s, "userID", 6) == 0) { fs->lines--; return; }
        for (int x = 0; x < 3; x++) {   /* numeric ids */
            trim(&f[x].s, &f[x].n);
            for (size_t j = 0; j < f[x].n; j++)
                if (f[x].s[j] < '0' || f[x].s[j] > '9') { reject(fs, HR_FEAT_MALFORMED, lineno); return; }
            if (!f[x].n) { reject(fs, HR_FEAT_MALFORMED, lineno); return; }
        }
        add_line(fs, file, f[1], &f[2], 1, lineno, lhash);
        return;
    }
    default:
        reject(fs, HR_FEAT_MALFORMED, lineno);
    }
}

int hr_features_read(hr_features *fs, const char *path, hr_feat_format fmt, hr_error *err)
{
    hr_input *in;
    HR_TRY(hr_input_open(path, &in, err));
    const char *name;
    int rc, file = fs->files;
    fs->counting = hr_realloc(fs->counting, (size_t)file + 1);
    fs->counting[file] = fmt == HR_FEAT_MLL_TAGS || fmt == HR_FEAT_LASTFM_TAGS;
    fs->files++;
    while ((rc = hr_input_next(in, &name, err)) == 1) {
        hr_lines *l = hr_lines_new(in);
        char *line;
        size_t len;
        while ((rc = hr_lines_next(l, &line, &len, err)) == 1) hr_features_line(fs, fmt, file, line, len, hr_lines_lineno(l));
        hr_lines_free(l);
        if (rc < 0) break;
    }
    hr_input_close(in);
    return rc < 0 ? rc : 0;
}

static int cmp_hash(const void *a, const void *b)
{
    const hr_feat_entry *x = a, *y = b;
    if (x->line_hash != y->line_hash) return x->line_hash < y->line_hash ? -1 : 1;
    if (x->line != y->line) return x->line < y->line ? -1 : 1;
    return (x->token > y->token) - (x->token < y->token);
}

static int cmp_item(const void *a, const void *b)
{
    const hr_feat_entry *x = a, *y = b;
    if (x->item != y->item) return x->item < y->item ? -1 : 1;
    return (x->token > y->token) - (x->token < y->token);
}

/* The file a token belongs to (its "F:" prefix). */
static int token_file(const hr_features *fs, uint32_t t) { return atoi(fs->tokens[t]); }

void hr_features_finish(hr_features *fs)
{
    /* duplicates: entries of a later line with the same bytes as an earlier one */
    if (fs->n) qsort(fs->e, fs->n, sizeof *fs->e, cmp_hash);
    uint64_t w = 0;
    for (uint64_t a = 0; a < fs->n;) {
        uint64_t b = a;
        while (b < fs->n && fs->e[b].line_hash == fs->e[a].line_hash) b++;
        uint64_t first = fs->e[a].line, dup_line = 0;
        for (uint64_t x = a; x < b; x++) {
            if (fs->e[x].line == first) fs->e[w++] = fs->e[x];
            else if (fs->e[x].line != dup_line) {
                dup_line = fs->e[x].line;
                reject(fs, HR_FEAT_DUPLICATE, dup_line);
            }
        }
        a = b;
    }
    fs->n = w;
    /* merge (item, token) counts; drop empty-set markers of items that have features */
    if (fs->n) qsort(fs->e, fs->n, sizeof *fs->e, cmp_item);
    w = 0;
    for (uint64_t x = 0; x < fs->n; x++) {
        if (w && fs->e[w - 1].item == fs->e[x].item && fs->e[w - 1].token == fs->e[x].token) { fs->e[w - 1].count += fs->e[x].count; continue; }
        fs->e[w++] = fs->e[x];
    }
    fs->n = w;
    /* document frequencies and items per file, for TF-IDF */
    uint32_t *df = hr_calloc(fs->n_tokens + 1, sizeof *df);
    uint64_t *nfile = hr_calloc((size_t)fs->files + 1, sizeof *nfile);
    uint8_t *seen = hr_calloc((size_t)fs->files + 1, 1);
    for (uint64_t x = 0; x < fs->n;) {
        uint64_t y = x;
        memset(seen, 0, (size_t)fs->files + 1);
        for (; y < fs->n && fs->e[y].item == fs->e[x].item; y++)
            if (fs->e[y].token != UINT32_MAX) {
                df[fs->e[y].token]++;
                int f = token_file(fs, fs->e[y].token);
                if (!seen[f]) { seen[f] = 1; nfile[f]++; }
            }
        x = y;
    }
    const int given = fs->idf != NULL;
    if (!given) {
        fs->idf = hr_calloc((size_t)fs->n_tokens + 1, sizeof *fs->idf);
        for (uint32_t t = 0; t < fs->n_tokens; t++)
            if (df[t] && fs->counting[token_file(fs, t)]) fs->idf[t] = (float)log((double)nfile[token_file(fs, t)] / (double)df[t]);
    }
    hr_free(fs->file_items);
    fs->file_items = nfile;
    nfile = NULL;
    fs->ptr = hr_calloc((size_t)fs->n_items + 1, sizeof *fs->ptr);
    fs->col = hr_malloc((fs->n + 1) * sizeof *fs->col);
    fs->val = hr_malloc((fs->n + 1) * sizeof *fs->val);
    uint64_t z = 0;
    for (uint64_t x = 0; x < fs->n;) {
        uint32_t it = fs->e[x].item;
        uint64_t row0 = z;
        for (; x < fs->n && fs->e[x].item == it; x++) {
            const hr_feat_entry *e = &fs->e[x];
            if (e->token == UINT32_MAX) continue;
            int f = token_file(fs, e->token);
            double v = !fs->counting[f] ? 1.0
                       : given ? log1p((double)e->count) * (double)fs->idf[e->token]
                               : log1p((double)e->count) * log((double)fs->file_items[f] / (double)df[e->token]);
            if (!(v > 0)) v = fs->counting[f] ? 1e-3 : 1.0;   /* a tag on every item: kept, weak */
            fs->col[z] = e->token;
            fs->val[z++] = (float)v;
        }
        for (int f = 0; f < fs->files; f++) {   /* each file's part of the row to unit length */
            double ss = 0;
            for (uint64_t q = row0; q < z; q++)
                if (token_file(fs, fs->col[q]) == f) ss += (double)fs->val[q] * fs->val[q];
            if (ss > 0)
                for (uint64_t q = row0; q < z; q++)
                    if (token_file(fs, fs->col[q]) == f) fs->val[q] = (float)(fs->val[q] / sqrt(ss));
        }
        fs->ptr[it + 1] = z - row0;
    }
    for (uint32_t i = 0; i < fs->n_items; i++) fs->ptr[i + 1] += fs->ptr[i];
    hr_free(df); hr_free(nfile); hr_free(seen);
    hr_free(fs->e);
    fs->e = NULL;
    fs->n = fs->cap = 0;
}
