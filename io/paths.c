#include "io/paths.h"

#include <dirent.h>
#include <errno.h>
#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/alloc.h"
#include "io/outdir.h"

#define MAX_DEPTH 16

typedef struct { char *path, *canon; uint64_t size; int via_link; } entry;

typedef struct walker {
    entry *e;
    uint64_t n, cap;
    char **root;
    uint64_t nroot, rcap;
    const char *tree;              /* canonical root of the current argument */
    const char *anc[MAX_DEPTH + 2]; /* canonical directories on the way down */
    int nanc;
} walker;

static void push(walker *w, const char *p, char *canon, uint64_t size, int via_link)
{
    if (w->n == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 64;
        w->e = hr_realloc(w->e, w->cap * sizeof *w->e);
    }
    w->e[w->n++] = (entry){ hr_strdup(p), canon, size, via_link };
}

static int skip_name(const char *name)
{
    if (name[0] == '.' || name[0] == '_') return 1;
    const char *dot = strrchr(name, '.');
    return dot && (!strcmp(dot, ".json") || !strcmp(dot, ".md") || !strcmp(dot, ".crc"));
}

static char *child_of(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    char *s = hr_malloc(a + b + 2);
    memcpy(s, dir, a);
    s[a] = '/';
    memcpy(s + a + 1, name, b + 1);
    if (a == 1 && dir[0] == '/') memmove(s + 1, s + 2, b + 1);   /* "/" + name */
    return s;
}

/* A path for a one-line message (it may hold a tab or a newline). */
#define SHOW(p) hr_escape_text((p), strlen(p), (char[2048]){ 0 }, 2048)

static char *real_or_null(const char *path)
{
    char *r = realpath(path, NULL);
    if (!r) return NULL;
    char *s = hr_strdup(r);
    free(r);
    return s;
}

/* path as the user will see it; canon its canonical form (owned by the callee). */
static int walk(walker *w, const char *path, char *canon, int depth, int via_link, hr_error *err)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        int e = errno;
        hr_free(canon);
        return hr_error_set(err, HR_ERR_IO, "%s: %s", SHOW(path), strerror(e));
    }
    if (S_ISREG(st.st_mode)) {
        push(w, path, canon, (uint64_t)st.st_size, via_link);
        return 0;
    }
    if (!S_ISDIR(st.st_mode)) {
        hr_free(canon);
        return hr_error_set(err, HR_ERR_IO, "%s: not a file or directory", SHOW(path));
    }
    for (int k = 0; k < w->nanc; k++)
        if (!strcmp(w->anc[k], canon)) {   /* a link back up the tree: read through the tree */
            hr_free(canon);
            return 0;
        }
    if (depth > MAX_DEPTH) {
        hr_free(canon);
        return hr_error_set(err, HR_ERR_IO, "%s: directories nested too deep", SHOW(path));
    }
    DIR *d = opendir(path);
    if (!d) {
        int e = errno;
        hr_free(canon);
        return hr_error_set(err, HR_ERR_IO, "%s: cannot open directory: %s", SHOW(path), strerror(e));
    }
    w->anc[w->nanc++] = canon;
    struct dirent *de;
    int rc = 0;
    while (rc == 0 && (de = readdir(d))) {
        if (skip_name(de->d_name)) continue;
        char *child = child_of(path, de->d_name), *cc;
        struct stat ls;
        int link = lstat(child, &ls) == 0 && S_ISLNK(ls.st_mode);
        if (link) {
            cc = real_or_null(child);
            if (!cc) {
                rc = hr_error_set(err, HR_ERR_IO, "%s: a symbolic link whose target cannot be read: %s", SHOW(child), strerror(errno));
            } else if (hr_path_relate(cc, w->tree) == HR_PATH_APART || hr_path_relate(cc, w->tree) == HR_PATH_CONTAINS) {
                rc = hr_error_set(err, HR_ERR_ARG,
                                  "%s -> %s: a symbolic link leading out of the input tree %s; name its target with --input (or a glob) to read it, or remove the link",
                                  SHOW(child), SHOW(cc), SHOW(w->tree));
                hr_free(cc);
            }
        } else {
            cc = child_of(canon, de->d_name);
        }
        if (rc == 0) rc = walk(w, child, cc, depth + 1, via_link || link, err);
        hr_free(child);
    }
    closedir(d);
    w->nanc--;
    hr_free(canon);
    return rc;
}

static int walk_root_tidy(walker *w, const char *path, hr_error *err);

/* "./in//x" as "in/x": drop "." components and repeated or trailing slashes (never "..",
 * which a symbolic link would make mean something else).  Returns hr_malloc'd text. */
static char *tidy(const char *p)
{
    size_t n = strlen(p);
    char *s = hr_malloc(n + 2), *o = s;
    int abs = p[0] == '/';
    if (abs) *o++ = '/';
    for (const char *c = p; *c;) {
        while (*c == '/') c++;
        const char *e = strchr(c, '/');
        size_t len = e ? (size_t)(e - c) : strlen(c);
        if (len == 0) break;
        if (!(len == 1 && c[0] == '.')) {
            if (o > s + abs) *o++ = '/';
            memcpy(o, c, len);
            o += len;
        }
        c += len;
    }
    if (o == s) *o++ = '.';
    *o = '\0';
    return s;
}

/* One argument or glob match: a root of its own tree. */
static int walk_root(walker *w, const char *given, hr_error *err)
{
    char *path = tidy(given);
    int rc = walk_root_tidy(w, path, err);
    hr_free(path);
    return rc;
}

static int walk_root_tidy(walker *w, const char *path, hr_error *err)
{
    char *canon = real_or_null(path);
    if (!canon) return hr_error_set(err, HR_ERR_IO, "%s: %s", SHOW(path), strerror(errno));
    if (w->nroot == w->rcap) {
        w->rcap = w->rcap ? w->rcap * 2 : 16;
        w->root = hr_realloc(w->root, w->rcap * sizeof *w->root);
    }
    w->root[w->nroot++] = hr_strdup(canon);
    w->tree = w->root[w->nroot - 1];
    w->nanc = 0;
    return walk(w, path, canon, 0, 0, err);
}

static int cmp_canon(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    int c = strcmp(x->canon, y->canon);
    if (c) return c;
    if (x->via_link != y->via_link) return x->via_link - y->via_link;   /* not through a link met in a walk */
    size_t lx = strlen(x->path), ly = strlen(y->path);   /* the shortest spelling is kept */
    return lx != ly ? (lx < ly ? -1 : 1) : strcmp(x->path, y->path);
}

static int cmp_path(const void *a, const void *b) { return strcmp(((const entry *)a)->path, ((const entry *)b)->path); }

int hr_paths_expand(char *const *args, int nargs, hr_pathlist *out, hr_error *err)
{
    memset(out, 0, sizeof *out);
    walker w;
    memset(&w, 0, sizeof w);
    int rc = 0;
    for (int a = 0; a < nargs && rc == 0; a++) {
        if (strpbrk(args[a], "*?[")) {
            glob_t g;
            int gr = glob(args[a], 0, NULL, &g);
            if (gr == GLOB_NOMATCH) rc = hr_error_set(err, HR_ERR_IO, "%s: no file matches this pattern", SHOW(args[a]));
            else if (gr) rc = hr_error_set(err, HR_ERR_IO, "%s: cannot expand pattern", SHOW(args[a]));
            for (size_t k = 0; rc == 0 && k < g.gl_pathc; k++) rc = walk_root(&w, g.gl_pathv[k], err);
            if (gr != GLOB_NOMATCH) globfree(&g);
        } else {
            rc = walk_root(&w, args[a], err);
        }
    }
    /* One entry per canonical file: the spelling not through a link met in a walk, then the
     * shortest, then the first in byte order. */
    qsort(w.e, w.n, sizeof *w.e, cmp_canon);
    uint64_t m = 0;
    for (uint64_t k = 0; k < w.n; k++) {
        if (m && !strcmp(w.e[k].canon, w.e[m - 1].canon)) {
            hr_free(w.e[k].path);
            hr_free(w.e[k].canon);
            continue;
        }
        w.e[m++] = w.e[k];
    }
    qsort(w.e, m, sizeof *w.e, cmp_path);
    out->path = hr_malloc((m ? m : 1) * sizeof *out->path);
    out->size = hr_malloc((m ? m : 1) * sizeof *out->size);
    for (uint64_t k = 0; k < m; k++) {
        out->path[k] = w.e[k].path;
        out->size[k] = w.e[k].size;
        hr_free(w.e[k].canon);
    }
    out->n = m;
    out->root = w.root;
    out->nroot = w.nroot;
    hr_free(w.e);
    if (rc == 0 && m == 0) rc = hr_error_set(err, HR_ERR_IO, "no input files found");
    if (rc < 0) hr_paths_free(out);
    return rc;
}

void hr_paths_free(hr_pathlist *l)
{
    for (uint64_t k = 0; k < l->n; k++) hr_free(l->path[k]);
    for (uint64_t k = 0; k < l->nroot; k++) hr_free(l->root[k]);
    hr_free(l->path);
    hr_free(l->size);
    hr_free(l->root);
    memset(l, 0, sizeof *l);
}
