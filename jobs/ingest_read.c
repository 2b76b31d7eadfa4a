#include "jobs/ingest_read.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/log.h"
#include "io/input.h"
#include "io/lines.h"

void hr_reject_log_add(hr_reject_log *l, uint32_t src, uint64_t line, int reason, const char *detail,
                       const char *row, size_t row_len)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 1024;
        l->src = hr_realloc(l->src, l->cap * sizeof *l->src);
        l->line = hr_realloc(l->line, l->cap * sizeof *l->line);
        l->reason = hr_realloc(l->reason, l->cap);
        l->text_off = hr_realloc(l->text_off, (l->cap + 1) * sizeof *l->text_off);
    }
    size_t dl = strlen(detail);
    if (row_len > 4000) row_len = 4000;  /* a reject record shows at most 4000 bytes of its row */
    while (l->text_len + dl + row_len + 1 > l->text_cap) {
        l->text_cap = l->text_cap ? l->text_cap * 2 : 1 << 16;
        l->text = hr_realloc(l->text, l->text_cap);
    }
    l->src[l->n] = src;
    l->line[l->n] = line;
    l->reason[l->n] = (uint8_t)reason;
    l->text_off[l->n] = l->text_len;
    memcpy(l->text + l->text_len, detail, dl);
    l->text[l->text_len + dl] = '\t';
    memcpy(l->text + l->text_len + dl + 1, row, row_len);
    l->text_len += dl + 1 + row_len;
    l->n++;
    l->text_off[l->n] = l->text_len;
}

void hr_reject_log_free(hr_reject_log *l)
{
    hr_free(l->src);
    hr_free(l->line);
    hr_free(l->reason);
    hr_free(l->text_off);
    hr_free(l->text);
    memset(l, 0, sizeof *l);
}

void hr_ingest_read_free(hr_ingest_read *r)
{
    hr_intern_free(r->users);
    hr_intern_free(r->items);
    hr_free(r->t);
    for (uint32_t s = 0; s < r->nsrc; s++) hr_free(r->src_name[s]);
    hr_free(r->src_name);
    hr_free(r->src_unit);
    hr_free(r->src_ord);
    hr_free(r->src_global);
    hr_free(r->units);
    hr_free(r->unit_lines);
    hr_free(r->hdr);
    hr_reject_log_free(&r->rejects);
    memset(r, 0, sizeof *r);
}

typedef struct { uint32_t unit; uint64_t bytes; } unit_size;

static int cmp_unit_size(const void *a, const void *b)
{
    const unit_size *x = a, *y = b;
    if (x->bytes != y->bytes) return x->bytes > y->bytes ? -1 : 1;
    return x->unit < y->unit ? -1 : (x->unit > y->unit);
}

int hr_ingest_plan(hr_job *job, hr_ingest_read *r, const hr_pathlist *files, uint64_t split_bytes)
{
    int P = job->size;
    uint32_t cap = (uint32_t)files->n + 16, n = 0;
    r->units = hr_malloc(cap * sizeof *r->units);
    for (uint64_t f = 0; f < files->n; f++) {
        hr_codec codec;
        HR_TRY(hr_input_codec(files->path[f], &codec, &job->err));
        uint64_t size = files->size[f];
        /* Only plain files can be cut: a compressed stream must be read from its start. */
        uint64_t pieces = 1;
        if (codec == HR_CODEC_PLAIN && P > 1 && size > split_bytes) {
            pieces = (size + split_bytes - 1) / split_bytes;
            if (pieces < (uint64_t)P) pieces = (uint64_t)P;
            if (pieces > 4096) pieces = 4096;
        }
        uint64_t step = (size + pieces - 1) / pieces;
        for (uint64_t k = 0; k < pieces; k++) {
            if (n == cap) {
                cap *= 2;
                r->units = hr_realloc(r->units, cap * sizeof *r->units);
            }
            uint64_t off = k * step, len = off + step > size ? size - off : step;
            r->units[n++] = (hr_unit){ (uint32_t)f, pieces > 1, off, len, 0 };
        }
    }
    r->nunits = n;
    /* Longest-processing-time-first assignment by bytes. */
    unit_size *us = hr_malloc((n ? n : 1) * sizeof *us);
    for (uint32_t u = 0; u < n; u++) us[u] = (unit_size){ u, r->units[u].len };
    qsort(us, n, sizeof *us, cmp_unit_size);
    uint64_t *load = hr_calloc((size_t)P, sizeof *load);
    for (uint32_t k = 0; k < n; k++) {
        int best = 0;
        for (int q = 1; q < P; q++)
            if (load[q] < load[best]) best = q;
        r->units[us[k].unit].rank = best;
        load[best] += us[k].bytes + 1;
    }
    hr_free(load);
    hr_free(us);
    r->unit_lines = hr_calloc(n ? n : 1, sizeof *r->unit_lines);
    return 0;
}

static void default_columns(hr_rowfmt *f, int nfields)
{
    static const hr_col four[] = { HR_COL_USER, HR_COL_ITEM, HR_COL_VALUE, HR_COL_TIME };
    f->ncols = nfields;
    for (int k = 0; k < nfields && k < 4; k++) f->cols[k] = four[k];
}

/* First non-blank line of one file (any member): 1 found (*line hr_malloc'd), 0 none, < 0 error. */
static int first_line_of(const char *path, const hr_ingest_read *r, char **line_out, size_t *len_out, hr_error *err)
{
    hr_input *in = NULL;
    const char *name;
    int rc = hr_input_open(path, &in, err), got = 0;
    if (rc == 0) hr_input_limit(in, r->max_expansion, r->max_input_bytes);   /* a first "line" of a bomb */
    while (rc == 0 && !got && (rc = hr_input_next(in, &name, err)) == 1) {
        rc = 0;
        hr_lines *l = hr_lines_new(in);
        char *line;
        size_t len;
        int k;
        while ((k = hr_lines_next(l, &line, &len, err)) == 1)
            if (len > 0) {
                *line_out = hr_malloc(len + 1);
                memcpy(*line_out, line, len + 1);
                *len_out = len;
                got = 1;
                break;
            }
        if (k < 0) rc = k;
        hr_lines_free(l);
    }
    hr_input_close(in);
    return rc < 0 ? rc : got;
}

static const char *sep_word(const char *sep) { return !strcmp(sep, "::") ? "'::'" : sep[0] == '\t' ? "tab" : sep[0] == ' ' ? "space" : "comma"; }

int hr_ingest_detect_format(hr_job *job, hr_ingest_read *r, const hr_pathlist *files, const char *format,
                            const char *columns)
{
    hr_rowfmt *f = &r->fmt;
    int rc = 0, nfields = 0;
    char *first = NULL;
    uint64_t meta[2] = { 0, 0 };   /* bytes of the line, index of its file */
    if (job->rank == 0) {
        for (uint64_t k = 0; rc == 0 && k < files->n && !first; k++) {
            size_t len = 0;
            rc = first_line_of(files->path[k], r, &first, &len, &job->err);
            if (rc == 1) {
                meta[0] = len;
                meta[1] = k;
                rc = 0;
            }
        }
        if (rc == 0 && !first)
            rc = hr_error_set(&job->err, HR_ERR_FORMAT, "no data: the %llu input file(s) are empty or hold only blank lines",
                              (unsigned long long)files->n);
    }
    HR_TRY(hr_comm_agree(job->comm, rc, &job->err));
    HR_TRY(hr_comm_bcast(job->comm, meta, sizeof meta, 0));
    if (job->rank != 0) first = hr_malloc(meta[0] + 1);
    rc = hr_comm_bcast(job->comm, first, meta[0] + 1, 0);
    if (rc < 0) {
        hr_free(first);
        return rc;
    }
    size_t flen = meta[0];
    char where[1200], shown[200];
    hr_escape_text(files->path[meta[1]], strlen(files->path[meta[1]]), where, sizeof where);
    hr_escape_text(first, flen < 60 ? flen : 60, shown, sizeof shown);
    hr_rowfmt_sniff(f, first, flen, &nfields);
    const char *sniffed = sep_word(f->sep);
    if (strcasecmp(format, "auto") != 0) {
        const char *sep = !strcasecmp(format, "csv") ? "," : !strcasecmp(format, "tsv") ? "\t"
                        : !strcasecmp(format, "space") ? " " : !strcasecmp(format, "movielens") ? "::" : NULL;
        if (!sep) {
            hr_free(first);
            return hr_error_set(&job->err, HR_ERR_ARG, "--format: '%s' is not one of auto, csv, tsv, space, movielens", format);
        }
        if (!memmem(first, flen, sep, strlen(sep))) {
            rc = hr_error_set(&job->err, HR_ERR_ARG, "--format %s: the first line of %s ('%s%s') has no %s; it looks %s-separated (try --format auto)",
                              format, where, shown, flen > 60 ? "..." : "", sep_word(sep), sniffed);
            hr_free(first);
            return rc;
        }
        memcpy(f->sep, sep, strlen(sep) + 1);
        f->sep_len = (int)strlen(sep);
        f->quoted = sep[0] == ',';
        hr_rowfmt tmp = *f;
        hr_rowfmt_sniff(&tmp, first, flen, &nfields);  /* field count under the guessed separator */
        if (tmp.sep_len != f->sep_len || memcmp(tmp.sep, f->sep, (size_t)f->sep_len) != 0) nfields = 0;
    }
    if (columns) {
        char msg[256];
        if (hr_rowfmt_set_columns(f, columns, msg, sizeof msg) != 0) {
            hr_free(first);
            return hr_error_set(&job->err, HR_ERR_ARG, "--columns: %s", msg);
        }
    } else if (nfields >= 2 && nfields <= 4) {
        default_columns(f, nfields);
    } else {
        if (nfields == 1)
            rc = hr_error_set(&job->err, HR_ERR_FORMAT,
                              "%s: the first line ('%s%s') has one field: no comma, tab, space or '::' separates a user from an item",
                              where, shown, flen > 60 ? "..." : "");
        else
            rc = hr_error_set(&job->err, HR_ERR_ARG,
                              "%s: the first line has %d fields (%s-separated); name them with --columns (e.g. user,item,-,-,rating,timestamp)",
                              where, nfields, sep_word(f->sep));
        hr_free(first);
        return rc;
    }
    /* The header: the first line, when it does not parse because a value or time is text. */
    if (r->header == HR_HEADER_AUTO) {
        char *copy = hr_malloc(flen + 1), detail[200];
        memcpy(copy, first, flen + 1);
        hr_row row;
        if (hr_row_parse(f, copy, flen, &row, detail, sizeof detail) == HR_REJECT_UNPARSABLE) {
            r->hdr = first;
            r->hdr_len = flen;
            first = NULL;
        }
        hr_free(copy);
    }
    hr_free(first);
    return 0;
}

static uint32_t add_source(hr_ingest_read *r, const char *name, uint32_t unit, uint32_t ord)
{
    if (r->nsrc == r->src_cap) {
        r->src_cap = r->src_cap ? r->src_cap * 2 : 64;
        r->src_name = hr_realloc(r->src_name, r->src_cap * sizeof *r->src_name);
        r->src_unit = hr_realloc(r->src_unit, r->src_cap * sizeof *r->src_unit);
        r->src_ord = hr_realloc(r->src_ord, r->src_cap * sizeof *r->src_ord);
    }
    /* names go into one-line messages and the rejects TSV: escaped (a path may hold a tab) */
    size_t n = hr_escape_size(name, strlen(name));
    r->src_name[r->nsrc] = hr_malloc(n);
    hr_escape_text(name, strlen(name), r->src_name[r->nsrc], n);
    r->src_unit[r->nsrc] = unit;
    r->src_ord[r->nsrc] = ord;
    return r->nsrc++;
}

/* Lines before a byte range's first line: newlines in [0, off-1) plus the one ending the
 * partial line the range skips.  Only used to name the line of a fatal error. */
static uint64_t lines_before(const char *path, uint64_t off)
{
    if (off == 0) return 0;
    int fd = open(path, O_RDONLY);
    if (fd < 0) return 0;
    char buf[1 << 16];
    uint64_t pos = 0, nl = 0, upto = off - 1;
    while (pos < upto) {
        size_t want = upto - pos < sizeof buf ? (size_t)(upto - pos) : sizeof buf;
        ssize_t k = read(fd, buf, want);
        if (k <= 0) break;
        for (ssize_t j = 0; j < k; j++) nl += buf[j] == '\n';
        pos += (uint64_t)k;
    }
    close(fd);
    return nl + 1;
}

typedef struct { uint32_t unit, ord; const char *name; uint32_t gathered; } src_key;

static int cmp_src_key(const void *a, const void *b)
{
    const src_key *x = a, *y = b;
    if (x->unit != y->unit) return x->unit < y->unit ? -1 : 1;
    return (x->ord > y->ord) - (x->ord < y->ord);
}

static int parse_unit(hr_job *job, hr_ingest_read *r, const hr_pathlist *files, uint32_t u)
{
    const hr_unit *un = &r->units[u];
    const char *path = files->path[un->file];
    hr_input *in;
    int rc = un->ranged ? hr_input_open_at(path, un->off ? un->off - 1 : 0, &in, &job->err)
                        : hr_input_open(path, &in, &job->err);
    if (rc < 0) return rc;
    hr_input_limit(in, r->max_expansion, r->max_input_bytes);
    hr_lines *l = hr_lines_new(in);
    if (un->ranged) hr_lines_set_range(l, un->off, un->len);
    char *scratch = hr_malloc(1 << 16);
    size_t scratch_cap = 1 << 16;
    const char *name;
    uint32_t member = 0;
    while (rc == 0 && (rc = hr_input_next(in, &name, &job->err)) == 1) {
        rc = 0;
        uint32_t src = add_source(r, name, u, member++);
        hr_lines_reset(l);
        int first = !un->ranged || un->off == 0;
        char *line;
        size_t len;
        int got;
        while ((got = hr_lines_next(l, &line, &len, &job->err)) == 1) {
            if (len == 0) {
                r->blank_lines++;
                continue;
            }
            if (len + 1 > scratch_cap) {
                scratch_cap = (len + 1) * 2;
                hr_free(scratch);
                scratch = hr_malloc(scratch_cap);
            }
            memcpy(scratch, line, len + 1);  /* the parser unquotes in place; keep the raw row */
            hr_row row;
            char detail[200];
            hr_reject why = hr_row_parse(&r->fmt, scratch, len, &row, detail, sizeof detail);
            if (first) {
                /* --header auto: only the inputs' header line itself, so that a bad first row of
                 * a later file is reported (or counted) like any other bad row */
                first = 0;
                if (r->header == HR_HEADER_YES ||
                    (r->header == HR_HEADER_AUTO && r->hdr && len == r->hdr_len && !memcmp(line, r->hdr, len))) {
                    r->header_lines++;
                    continue;
                }
            }
            r->rows_read++;
            uint64_t lineno = hr_lines_lineno(l);
            if (why != HR_REJECT_NONE) {
                r->counts[why]++;
                hr_reject_log_add(&r->rejects, src, lineno, why, detail, line, len);
                if (!r->skip_bad) {
                    r->failed = 1;
                    r->fail_unit = u;
                    r->fail_line = lineno + (un->ranged ? lines_before(path, un->off) : 0);
                    snprintf(r->fail_msg, sizeof r->fail_msg, "%s:%llu: %s: %s", r->src_name[src], (unsigned long long)r->fail_line,
                             hr_reject_name(why), detail);
                    break;
                }
                continue;
            }
            if (r->n == r->cap) {
                r->cap = r->cap ? r->cap * 2 : 1 << 16;
                r->t = hr_realloc(r->t, r->cap * sizeof *r->t);
            }
            hr_triple *x = &r->t[r->n++];
            x->u = hr_intern_get(r->users, row.user, row.user_len);
            x->i = hr_intern_get(r->items, row.item, row.item_len);
            x->v = (float)row.value;
            x->src = src;
            x->ts = row.time;
            x->line = lineno;
        }
        r->unit_lines[u] += hr_lines_lineno(l);
        if (got < 0) rc = got;
        if (r->failed) break;
    }
    if (rc > 0) rc = 0;
    hr_free(scratch);
    hr_lines_free(l);
    hr_input_close(in);
    r->bytes_in += un->ranged ? un->len : files->size[un->file];
    return rc;
}

int hr_ingest_parse(hr_job *job, hr_ingest_read *r, const hr_pathlist *files)
{
    r->users = hr_intern_new();
    r->items = hr_intern_new();
    int rc = 0;
    for (uint32_t u = 0; u < r->nunits && rc == 0 && !r->failed; u++)
        if (r->units[u].rank == job->rank) rc = parse_unit(job, r, files, u);
    rc = hr_comm_agree(job->comm, rc, &job->err);
    if (rc < 0) return rc;
    /* Fail mode: report the first bad row in input order, whichever rank saw it. */
    int64_t key = r->failed ? (int64_t)(((uint64_t)r->fail_unit << 40) | (r->fail_line & ((1ull << 40) - 1))) : INT64_MAX;
    int64_t first = key;
    HR_TRY(hr_comm_allreduce_min_i64(job->comm, &first, 1));
    if (first == INT64_MAX) return 0;
    int mine = key == first ? job->rank : job->size;
    int64_t who = mine;
    HR_TRY(hr_comm_allreduce_min_i64(job->comm, &who, 1));
    int status = 0;
    if (who == job->rank)
        status = hr_error_set(&job->err, HR_ERR_FORMAT, "%s (use --on-error skip to count and skip bad rows)", r->fail_msg);
    return hr_comm_agree(job->comm, status, &job->err);
}

int hr_ingest_fix_sources(hr_job *job, hr_ingest_read *r, char ***names, uint32_t *nnames)
{
    /* Lines per unit, summed (each unit is read by exactly one rank). */
    HR_TRY(hr_comm_allreduce_sum_u64(job->comm, r->unit_lines, r->nunits));
    uint64_t *unit_off = hr_calloc(r->nunits ? r->nunits : 1, sizeof *unit_off);
    /* Units of one file are consecutive in the plan, in byte order. */
    for (uint32_t u = 1; u < r->nunits; u++)
        if (r->units[u].file == r->units[u - 1].file) unit_off[u] = unit_off[u - 1] + r->unit_lines[u - 1];
    /* Global source ids in input order (unit, member), whatever rank read them: the policy
     * keeps the first copy of a duplicate by (source, line), which must not depend on P.
     * Every rank gathers (unit, member, name) of all sources and sorts them the same way. */
    uint64_t bytes = 0;
    for (uint32_t q = 0; q < r->nsrc; q++) bytes += 8 + strlen(r->src_name[q]) + 1;
    char *pack = hr_malloc(bytes ? bytes : 1), *p = pack;
    for (uint32_t q = 0; q < r->nsrc; q++) {
        size_t k = strlen(r->src_name[q]) + 1;
        memcpy(p, &r->src_unit[q], 4);
        memcpy(p + 4, &r->src_ord[q], 4);
        memcpy(p + 8, r->src_name[q], k);
        p += 8 + k;
    }
    uint64_t *counts = hr_malloc((size_t)job->size * sizeof *counts), total;
    void *all;
    int rc = hr_comm_allgatherv(job->comm, pack, bytes, 1, &all, counts, &total);
    hr_free(pack);
    uint64_t my_first = 0;   /* index of this rank's first source in the gathered list */
    uint32_t n = 0;
    if (rc == 0) {
        for (uint64_t k = 0; k < total; n++) k += 8 + strlen((char *)all + k + 8) + 1;
        uint64_t off = 0;
        for (int q = 0; q < job->rank; q++) off += counts[q];
        for (uint64_t k = 0; k < off; my_first++) k += 8 + strlen((char *)all + k + 8) + 1;
    }
    hr_free(counts);
    if (rc < 0) return rc;
    src_key *keys = hr_malloc((n ? n : 1) * sizeof *keys);
    const char *c = all;
    for (uint32_t k = 0; k < n; k++) {
        memcpy(&keys[k].unit, c, 4);
        memcpy(&keys[k].ord, c + 4, 4);
        keys[k].name = c + 8;
        keys[k].gathered = k;
        c += 8 + strlen(c + 8) + 1;
    }
    qsort(keys, n, sizeof *keys, cmp_src_key);
    uint32_t *global_of = hr_malloc((n ? n : 1) * sizeof *global_of);
    char **out = hr_malloc((n ? n : 1) * sizeof *out);
    for (uint32_t k = 0; k < n; k++) {
        global_of[keys[k].gathered] = k;
        out[k] = hr_strdup(keys[k].name);
    }
    r->src_global = hr_malloc((r->nsrc ? r->nsrc : 1) * sizeof *r->src_global);
    for (uint32_t q = 0; q < r->nsrc; q++) r->src_global[q] = global_of[my_first + q];
    for (uint64_t k = 0; k < r->n; k++) {
        r->t[k].line += unit_off[r->src_unit[r->t[k].src]];
        r->t[k].src = r->src_global[r->t[k].src];
    }
    for (uint64_t k = 0; k < r->rejects.n; k++) {
        r->rejects.line[k] += unit_off[r->src_unit[r->rejects.src[k]]];
        r->rejects.src[k] = r->src_global[r->rejects.src[k]];
    }
    hr_free(unit_off);
    hr_free(global_of);
    hr_free(keys);
    hr_free(all);
    *names = out;
    *nnames = n;
    return 0;
}
