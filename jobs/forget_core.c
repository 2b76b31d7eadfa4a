/* Shared pieces of right-to-erasure (jobs/forget.h). */
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "jobs/forget.h"

int hr_forget_flags(hr_job *job, hr_forget_set *s, const hr_dict *d, uint8_t **flags, uint64_t *nflag)
{
    /* 8 bytes per id for one reduction, as the partition tables (partition/part.h) */
    uint64_t *f = hr_calloc(d->n ? d->n : 1, sizeof *f);
    if (s->n)
        for (uint64_t g = (uint64_t)job->rank; g < d->n; g += (uint64_t)job->size) {
            char tmp[HR_DICT_INT_CHARS];
            size_t len;
            const char *key = hr_dict_key(d, g, tmp, &len);
            f[g] = (uint64_t)hr_forget_has(s, key, len);
        }
    int rc = s->n ? hr_comm_allreduce_max_u64(job->comm, f, d->n) : 0;
    *flags = hr_malloc(d->n ? d->n : 1);
    *nflag = 0;
    for (uint64_t g = 0; g < d->n; g++) *nflag += ((*flags)[g] = (uint8_t)f[g]);
    hr_free(f);
    return rc;
}

int hr_forget_triples(hr_job *job, hr_forget_set *s, hr_dict *users, hr_dict *items, hr_triple **t, uint64_t *n,
                      hr_forget_counts *c)
{
    memset(c, 0, sizeof *c);
    uint8_t *gone;
    uint64_t ngone;
    HR_TRY(hr_forget_flags(job, s, users, &gone, &ngone));
    /* Only forgotten users and items that lose their last event leave: ids that were already
     * empty stay (split keeps the ids of its input on both sides). */
    hr_triple *x = *t;
    uint64_t *cu = hr_calloc(items->n + 1, sizeof *cu);
    uint64_t w = 0;
    for (uint64_t k = 0; k < *n; k++) {
        cu[x[k].i] |= 1;
        if (!gone[x[k].u]) {
            cu[x[k].i] |= 2;
            x[w++] = x[k];
        }
    }
    uint64_t rows[1] = { *n - w };
    *n = w;
    /* values are 0, 1 (had events) or 3 (still has): the max is the OR of the ranks */
    int rc = hr_comm_allreduce_max_u64(job->comm, cu, items->n);
    if (rc == 0) rc = hr_comm_allreduce_sum_u64(job->comm, rows, 1);
    if (rc < 0) {
        hr_free(cu);
        hr_free(gone);
        return rc;
    }
    uint8_t *ku = hr_malloc(users->n + 1), *ki = hr_malloc(items->n + 1);
    uint64_t du = 0, di = 0;
    for (uint64_t g = 0; g < users->n; g++) du += !(ku[g] = !gone[g]);
    for (uint64_t g = 0; g < items->n; g++) di += !(ki[g] = cu[g] != 1);
    hr_free(gone);
    hr_free(cu);
    if (du || di) {
        uint32_t *mu = hr_dict_keep(users, ku), *mi = hr_dict_keep(items, ki);
        for (uint64_t k = 0; k < w; k++) {
            x[k].u = mu[x[k].u];
            x[k].i = mi[x[k].i];
        }
        hr_free(mu);
        hr_free(mi);
    }
    hr_free(ku);
    hr_free(ki);
    c->users = du;
    c->items = di;
    c->rows = rows[0];
    return 0;
}

static int is_sep(char ch) { return ch == ',' || ch == '\t' || ch == ';' || ch == '|' || ch == ':' || ch == ' '; }

int hr_forget_raw_row(hr_forget_set *s, const char *row, size_t len)
{
    if (s->n == 0) return 0;
    if (hr_forget_has(s, row, len)) return 1;
    size_t a = 0;
    while (a <= len) {
        size_t b = a;
        while (b < len && !is_sep(row[b])) b++;
        size_t lo = a, hi = b;
        while (lo < hi && (row[lo] == '"' || row[lo] == '\'')) lo++;
        while (hi > lo && (row[hi - 1] == '"' || row[hi - 1] == '\'' || row[hi - 1] == '\r')) hi--;
        if (hi > lo && hr_forget_has(s, row + lo, hi - lo)) return 1;
        a = b + 1;
    }
    return 0;
}

/* Undo hr_escape_text (\\ \t \n \r \xHH) into out (at most len bytes). */
static size_t unescape(const char *s, size_t len, char *out)
{
    size_t w = 0;
    for (size_t k = 0; k < len; k++) {
        if (s[k] != '\\' || k + 1 == len) {
            out[w++] = s[k];
            continue;
        }
        char e = s[++k];
        if (e == 't') out[w++] = '\t';
        else if (e == 'n') out[w++] = '\n';
        else if (e == 'r') out[w++] = '\r';
        else if (e == 'x' && k + 2 < len) {
            unsigned v = 0;
            for (int j = 1; j <= 2; j++) {
                char h = s[k + j];
                v = v * 16 + (unsigned)(h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10 : h >= 'A' && h <= 'F' ? h - 'A' + 10 : 0);
            }
            out[w++] = (char)v;
            k += 2;
        } else out[w++] = e;
    }
    return w;
}

int hr_forget_reject_line(hr_forget_set *s, const char *line, size_t len)
{
    if (s->n == 0) return 0;
    /* source \t line \t reason \t detail \t row */
    const char *f[5];
    size_t fl[5], nf = 0, a = 0;
    for (size_t k = 0; k <= len && nf < 5; k++)
        if (k == len || (line[k] == '\t' && nf < 4)) {
            f[nf] = line + a;
            fl[nf++] = k - a;
            a = k + 1;
            if (nf == 4) {
                f[4] = line + a;
                fl[4] = len - a;
                nf = 5;
                break;
            }
        }
    if (nf < 5) return hr_forget_raw_row(s, line, len);   /* not a record: scrub on any field */
    int policy = (fl[2] == 9 && !memcmp(f[2], "duplicate", 9)) || (fl[2] == 8 && !memcmp(f[2], "conflict", 8)) ||
                 (fl[2] == 8 && !memcmp(f[2], "bot_user", 8));
    if (policy) {
        /* user,item,value,ts with raw ids: a string user id may hold commas, so every prefix
         * ending before a comma is tried (over-scrubbing is the safe side). */
        for (size_t k = 0; k < fl[4]; k++)
            if (f[4][k] == ',' && hr_forget_has(s, f[4], k)) return 1;
        return 0;
    }
    char *raw = hr_malloc(fl[4] + 1);
    size_t rl = unescape(f[4], fl[4], raw);
    int hit = hr_forget_raw_row(s, raw, rl);
    hr_free(raw);
    return hit;
}

void hr_forget_stamp(json_t *m, hr_forget_set *s, const hr_forget_counts *c)
{
    json_int_t rev = json_integer_value(json_object_get(m, "revision")) + 1;
    char hex[65], when[32];
    hr_forget_set_hmac(s, hex);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_t *e = json_object_get(m, "erasures");
    if (!json_is_array(e)) {
        e = json_array();
        json_object_set_new(m, "erasures", e);
    }
    json_array_append_new(e, json_pack("{s:I,s:s,s:I,s:I,s:I,s:s}", "revision", rev, "time", when, "ids", (json_int_t)s->n,
                                       "users_removed", (json_int_t)c->users, "rows_removed", (json_int_t)c->rows,
                                       "list_hmac", hex));
    json_object_set_new(m, "revision", json_integer(rev));
}
