#include "io/lines.h"

#include <string.h>

#include "core/alloc.h"

struct hr_lines {
    hr_input *in;
    char *buf;
    size_t cap, beg, end;  /* unread bytes are buf[beg..end) */
    int eof;
    uint64_t lineno;
    /* range handling: pos = absolute offset of buf[beg] */
    int ranged, skip_first, from_start;
    uint64_t pos, limit;
    int at_start;          /* the next line is the first of its member: drop a UTF-8 BOM */
};

hr_lines *hr_lines_new(hr_input *in)
{
    hr_lines *l = hr_calloc(1, sizeof *l);
    l->in = in;
    l->cap = 1 << 20;
    l->buf = hr_malloc(l->cap + 1);
    l->from_start = 1;
    l->at_start = 1;
    return l;
}

void hr_lines_set_range(hr_lines *l, uint64_t start, uint64_t len)
{
    l->ranged = 1;
    l->skip_first = start > 0;
    l->pos = start > 0 ? start - 1 : 0;
    l->limit = start + len;
    l->from_start = start == 0;
    l->at_start = l->from_start;
}

void hr_lines_reset(hr_lines *l)
{
    l->beg = l->end = 0;
    l->eof = 0;
    l->lineno = 0;
    l->at_start = l->from_start;
}

uint64_t hr_lines_lineno(const hr_lines *l) { return l->lineno; }

/* Refill: move the unread tail to the front, grow if the buffer holds one partial line. */
static int fill(hr_lines *l, hr_error *err)
{
    if (l->beg > 0) {
        memmove(l->buf, l->buf + l->beg, l->end - l->beg);
        l->end -= l->beg;
        l->beg = 0;
    }
    if (l->end == l->cap) {
        l->cap *= 2;
        l->buf = hr_realloc(l->buf, l->cap + 1);
    }
    long k = hr_input_read(l->in, l->buf + l->end, l->cap - l->end, err);
    if (k < 0) return (int)k;
    if (k == 0) l->eof = 1;
    l->end += (size_t)k;
    return 0;
}

/* Find the next line: sets *s, *n (bytes without '\n'), consumes it.  0 at end. */
static int raw_line(hr_lines *l, char **s, size_t *n, hr_error *err)
{
    size_t scan = l->beg;
    for (;;) {
        char *nl = memchr(l->buf + scan, '\n', l->end - scan);
        if (nl) {
            size_t at = (size_t)(nl - l->buf);
            *s = l->buf + l->beg;
            *n = at - l->beg;
            l->pos += at + 1 - l->beg;
            l->beg = at + 1;
            return 1;
        }
        if (l->eof) {
            if (l->end == l->beg) return 0;
            *s = l->buf + l->beg;       /* last line without a newline */
            *n = l->end - l->beg;
            l->pos += l->end - l->beg;
            l->beg = l->end;
            return 1;
        }
        scan = l->end - l->beg;   /* bytes already searched; fill() moves them to the front */
        HR_TRY(fill(l, err));
    }
}

int hr_lines_next(hr_lines *l, char **line, size_t *len, hr_error *err)
{
    char *s;
    size_t n;
    if (l->skip_first) {
        l->skip_first = 0;
        int r = raw_line(l, &s, &n, err);
        if (r <= 0) return r;
    }
    if (l->ranged && l->pos >= l->limit) return 0;
    int r = raw_line(l, &s, &n, err);
    if (r <= 0) return r;
    if (n > 0 && s[n - 1] == '\r') n--;
    s[n] = '\0';  /* safe: the '\n' or the spare byte at buf[cap] */
    if (l->at_start) {
        l->at_start = 0;
        if (n >= 3 && (unsigned char)s[0] == 0xEF && (unsigned char)s[1] == 0xBB && (unsigned char)s[2] == 0xBF) {
            s += 3;   /* a UTF-8 byte-order mark is not part of the first field */
            n -= 3;
        }
    }
    l->lineno++;
    *line = s;
    *len = n;
    return 1;
}

void hr_lines_free(hr_lines *l)
{
    if (!l) return;
    hr_free(l->buf);
    hr_free(l);
}
