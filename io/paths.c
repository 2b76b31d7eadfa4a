#include "io/paths.h"

#include <dirent.h>
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/alloc.h"

static void push(hr_pathlist *l, uint64_t *cap, const char *p, uint64_t size)
{
    if (l->n == *cap) {
        *cap = *cap ? *cap * 2 : 64;
        l->path = hr_realloc(l->path, *cap * sizeof *l->path);
        l->size = hr_realloc(l->size, *cap * sizeof *l->size);
    }
    l->path[l->n] = hr_strdup(p);
    l->size[l->n] = size;
    l->n++;
}

static int skip_name(const char *name)
{
    if (name[0] == '.' || name[0] == '_') return 1;
    const char *dot = strrchr(name, '.');
    return dot && (!strcmp(dot, ".json") || !strcmp(dot, ".md") || !strcmp(dot, ".crc"));
}

static int walk(const char *path, hr_pathlist *l, uint64_t *cap, int depth, hr_error *err)
{
    struct stat st;
    if (stat(path, &st) != 0) return hr_error_set(err, HR_ERR_IO, "%s: %s", path, strerror(errno));
    if (S_ISREG(st.st_mode)) {
        push(l, cap, path, (uint64_t)st.st_size);
        return 0;
    }
    if (!S_ISDIR(st.st_mode)) return hr_error_set(err, HR_ERR_IO, "%s: not a file or directory", path);
    if (depth > 16) return hr_error_set(err, HR_ERR_IO, "%s: directories nested too deep", path);
    DIR *d = opendir(path);
    if (!d) return hr_error_set(err, HR_ERR_IO, "%s: cannot open directory: %s", path, strerror(errno));
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d))) {
        if (skip_name(e->d_name)) continue;
        char child[4096];
        snprintf(child, sizeof child, "%s/%s", path, e->d_name);
        rc = walk(child, l, cap, depth + 1, err);
    }
    closedir(d);
    return rc;
}

typedef struct { char *path; uint64_t size; } entry;

static int cmp_entry(const void *a, const void *b) { return strcmp(((const entry *)a)->path, ((const entry *)b)->path); }

int hr_paths_expand(char *const *args, int nargs, hr_pathlist *out, hr_error *err)
{
    memset(out, 0, sizeof *out);
    uint64_t cap = 0;
    for (int a = 0; a < nargs; a++) {
        int rc;
        if (strpbrk(args[a], "*?[")) {
            glob_t g;
            int gr = glob(args[a], 0, NULL, &g);
            if (gr == GLOB_NOMATCH) {
                hr_paths_free(out);
                return hr_error_set(err, HR_ERR_IO, "%s: no file matches this pattern", args[a]);
            }
            rc = gr ? hr_error_set(err, HR_ERR_IO, "%s: cannot expand pattern", args[a]) : 0;
            for (size_t k = 0; rc == 0 && k < g.gl_pathc; k++) rc = walk(g.gl_pathv[k], out, &cap, 0, err);
            globfree(&g);
        } else {
            rc = walk(args[a], out, &cap, 0, err);
        }
        if (rc < 0) {
            hr_paths_free(out);
            return rc;
        }
    }
    /* Sort and drop repeats (the same file named twice is read once). */
    entry *e = hr_malloc((out->n ? out->n : 1) * sizeof *e);
    for (uint64_t k = 0; k < out->n; k++) e[k] = (entry){ out->path[k], out->size[k] };
    qsort(e, out->n, sizeof *e, cmp_entry);
    uint64_t m = 0;
    for (uint64_t k = 0; k < out->n; k++) {
        if (m && !strcmp(e[k].path, out->path[m - 1])) {
            hr_free(e[k].path);
            continue;
        }
        out->path[m] = e[k].path;
        out->size[m] = e[k].size;
        m++;
    }
    hr_free(e);
    out->n = m;
    if (m == 0) return hr_error_set(err, HR_ERR_IO, "no input files found");
    return 0;
}

void hr_paths_free(hr_pathlist *l)
{
    for (uint64_t k = 0; k < l->n; k++) hr_free(l->path[k]);
    hr_free(l->path);
    hr_free(l->size);
    memset(l, 0, sizeof *l);
}
