/* io/recsread.c — reader of recommendation folders (see recsread.h). */
#include "io/recsread.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "io/fileverify.h"
#include "io/input.h"
#include "io/lines.h"
#include "io/manifest.h"

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static char *dup_str(const char *s)
{
    size_t n = strlen(s);
    char *d = hr_malloc(n + 1);
    memcpy(d, s, n + 1);
    return d;
}

int hr_recs_open(const char *dir, hr_recs_dir *out, hr_error *err)
{
    memset(out, 0, sizeof *out);
    char mpath[4200];
    snprintf(mpath, sizeof mpath, "%s/manifest.json", dir);
    HR_TRY(hr_manifest_read(mpath, "hpcrec-recommendations", 1, &out->manifest, err));
    out->dir = dup_str(dir);
    json_t *files = json_object_get(out->manifest, "files");
    if (!json_is_object(files)) {
        hr_recs_close(out);
        return hr_error_set(err, HR_ERR_FORMAT, "%s: no \"files\" object", mpath);
    }
    out->parts = hr_malloc((json_object_size(files) + 1) * sizeof *out->parts);
    const char *key;
    json_t *v;
    json_object_foreach(files, key, v) {
        if (strchr(key, '/') || key[0] == '.') {
            hr_recs_close(out);
            return hr_error_set(err, HR_ERR_FORMAT, "%s: part name '%s' is not a plain file name", mpath, key);
        }
        out->parts[out->nparts++] = dup_str(key);
    }
    qsort(out->parts, out->nparts, sizeof *out->parts, cmp_str);
    json_t *top = json_object_get(out->manifest, "top");
    out->top = json_is_integer(top) ? (int64_t)json_integer_value(top) : 0;
    return 0;
}

void hr_recs_close(hr_recs_dir *d)
{
    for (size_t x = 0; x < d->nparts; x++) hr_free(d->parts[x]);
    hr_free(d->parts);
    hr_free(d->dir);
    if (d->manifest) json_decref(d->manifest);
    memset(d, 0, sizeof *d);
}

int hr_recs_part_open(const char *path, uint64_t xxh3, uint64_t bytes, hr_input **in, hr_lines **l, hr_error *err)
{
    static const char header[] = "user\trank\titem\tscore\tsource";
    HR_TRY(hr_file_verify(path, xxh3, bytes, err));
    HR_TRY(hr_input_open(path, in, err));
    const char *name;
    char *line;
    size_t len;
    int rc = hr_input_next(*in, &name, err);
    if (rc == 0) rc = hr_error_set(err, HR_ERR_FORMAT, "%s: empty", path);
    *l = rc < 0 ? NULL : hr_lines_new(*in);
    if (rc >= 0 && (rc = hr_lines_next(*l, &line, &len, err)) == 0) rc = hr_error_set(err, HR_ERR_FORMAT, "%s: empty", path);
    if (rc == 1) {
        rc = 0;
        if (len && line[len - 1] == '\r') len--;
        if (len != sizeof header - 1 || memcmp(line, header, len) != 0)
            rc = hr_error_set(err, HR_ERR_FORMAT, "%s:1: expected the header line 'user rank item score source' (tab-separated)", path);
    }
    if (rc < 0) {
        hr_lines_free(*l);
        hr_input_close(*in);
        *l = NULL;
        *in = NULL;
    }
    return rc;
}

int hr_recs_read_part(const hr_recs_dir *d, size_t x, hr_recs_line_fn fn, void *ctx, uint64_t *lines, hr_error *err)
{
    char path[8400], mpath[4200];
    snprintf(path, sizeof path, "%s/%s", d->dir, d->parts[x]);
    snprintf(mpath, sizeof mpath, "%s/manifest.json", d->dir);
    uint64_t cs, bytes;
    HR_TRY(hr_manifest_file(d->manifest, mpath, d->parts[x], &cs, &bytes, err));
    hr_input *in;
    hr_lines *l;
    HR_TRY(hr_recs_part_open(path, cs, bytes, &in, &l, err));
    char *line;
    size_t len;
    int rc;
    *lines = 0;
    while ((rc = hr_lines_next(l, &line, &len, err)) == 1) {
        uint64_t no = hr_lines_lineno(l);
        char *t1 = memchr(line, '\t', len), *t2 = t1 ? memchr(t1 + 1, '\t', len - (size_t)(t1 + 1 - line)) : NULL;
        char *t3 = t2 ? memchr(t2 + 1, '\t', len - (size_t)(t2 + 1 - line)) : NULL;
        char *end = NULL;
        unsigned long r = t2 ? strtoul(t1 + 1, &end, 10) : 0;
        if (!t3 || end != t2 || r == 0 || r > UINT32_MAX) {
            rc = hr_error_set(err, HR_ERR_FORMAT, "%s:%llu: not \"user<TAB>rank<TAB>item<TAB>score<TAB>source\"", path,
                              (unsigned long long)no);
            break;
        }
        rc = fn(ctx, line, (size_t)(t1 - line), (uint32_t)r, t2 + 1, (size_t)(t3 - t2 - 1));
        if (rc) break;
        (*lines)++;
    }
    hr_lines_free(l);
    hr_input_close(in);
    return rc < 0 ? rc : 0;
}
