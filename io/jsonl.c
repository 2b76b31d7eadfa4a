/* io/jsonl.c — JSON-lines writer (see jsonl.h). */
#include "io/jsonl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"

struct hr_jsonl {
    FILE *f;
    char *path;
};

int hr_jsonl_open(const char *path, int append, hr_jsonl **out, hr_error *err)
{
    FILE *f = fopen(path, append ? "a" : "w");
    if (!f) return hr_error_set(err, HR_ERR_IO, "%s: cannot open for writing: %s", path, strerror(errno));
    hr_jsonl *w = hr_malloc(sizeof *w);
    size_t n = strlen(path);
    w->path = hr_malloc(n + 1);
    memcpy(w->path, path, n + 1);
    w->f = f;
    *out = w;
    return 0;
}

int hr_jsonl_write(hr_jsonl *w, json_t *obj, hr_error *err)
{
    char *s = json_dumps(obj, JSON_COMPACT | JSON_REAL_PRECISION(10));
    if (!s) return hr_error_set(err, HR_ERR_NOMEM, "%s: cannot format a line", w->path);
    int bad = fputs(s, w->f) == EOF || fputc('\n', w->f) == EOF || fflush(w->f) != 0;
    free(s);
    if (bad) return hr_error_set(err, errno == ENOSPC ? HR_ERR_NOSPACE : HR_ERR_IO, "%s: write failed: %s", w->path, strerror(errno));
    return 0;
}

int hr_jsonl_close(hr_jsonl *w, hr_error *err)
{
    if (!w) return 0;
    int rc = 0;
    if (fclose(w->f) != 0) rc = hr_error_set(err, HR_ERR_IO, "%s: close failed: %s", w->path, strerror(errno));
    hr_free(w->path);
    hr_free(w);
    return rc;
}

int hr_json_read_opt(const char *path, json_t **out, hr_error *err)
{
    *out = NULL;
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT || errno == ENOTDIR) return 0;
        return hr_error_set(err, HR_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    }
    json_error_t je;
    json_t *j = json_loadf(f, 0, &je);
    fclose(f);
    if (!j) return hr_error_set(err, HR_ERR_FORMAT, "%s:%d: not JSON: %s", path, je.line, je.text);
    *out = j;
    return 0;
}

int hr_jsonl_read_opt(const char *path, json_t **out, uint64_t *bad, hr_error *err)
{
    *out = NULL;
    if (bad) *bad = 0;
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT || errno == ENOTDIR) return 0;
        return hr_error_set(err, HR_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    }
    json_t *a = json_array();
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0) {
        json_error_t je;
        json_t *j = json_loadb(line, (size_t)n, 0, &je);
        if (j && json_is_object(j)) json_array_append_new(a, j);
        else {
            if (j) json_decref(j);
            if (bad) (*bad)++;
        }
    }
    free(line);
    fclose(f);
    *out = a;
    return 0;
}
