#include "io/outdir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/log.h"
#include "io/output.h"

static char *join(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    int slash = la > 0 && a[la - 1] == '/';
    char *s = hr_malloc(la + lb + 2);
    memcpy(s, a, la);
    if (!slash) s[la++] = '/';
    memcpy(s + la, b, lb + 1);
    return s;
}

int hr_path_canonical(const char *path, char **out, hr_error *err)
{
    *out = NULL;
    if (!path || !*path) return hr_error_set(err, HR_ERR_ARG, "an empty path");
    char *rest;
    if (path[0] == '/') {
        rest = hr_strdup(path);
    } else {
        char *cwd = getcwd(NULL, 0);
        if (!cwd) return hr_error_set(err, HR_ERR_IO, "%s: cannot read the current directory: %s", path, strerror(errno));
        rest = join(cwd, path);
        free(cwd);
    }
    /* Walk the components: the resolved prefix `res` is real (realpath) as long as the
     * components exist; past the first missing one, components are appended as written. */
    char *res = hr_strdup("/");
    int rc = 0;
    char *save = NULL;
    for (char *c = strtok_r(rest, "/", &save); c && rc == 0; c = strtok_r(NULL, "/", &save)) {
        if (!strcmp(c, ".")) continue;
        if (!strcmp(c, "..")) {
            char *slash = strrchr(res, '/');
            if (slash == res) res[1] = '\0';
            else *slash = '\0';
            continue;
        }
        char *cand = join(res, c);
        char *real = realpath(cand, NULL);
        if (real) {
            hr_free(cand);
            hr_free(res);
            res = hr_strdup(real);
            free(real);
        } else if (errno == ENOENT || errno == ENOTDIR) {
            hr_free(res);   /* missing (or a dangling link): as written */
            res = cand;
        } else {
            rc = hr_error_set(err, HR_ERR_IO, "%s: cannot resolve %s: %s", path, cand, strerror(errno));
            hr_free(cand);
        }
    }
    hr_free(rest);
    if (rc < 0) {
        hr_free(res);
        return rc;
    }
    *out = res;
    return 0;
}

hr_path_rel hr_path_relate(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la == lb) return memcmp(a, b, la) ? HR_PATH_APART : HR_PATH_SAME;
    /* "/" contains everything; otherwise the shorter must be a prefix ending at a '/' */
    if (la > lb && !strncmp(a, b, lb) && (a[lb] == '/' || (lb == 1 && b[0] == '/'))) return HR_PATH_INSIDE;
    if (lb > la && !strncmp(a, b, la) && (b[la] == '/' || (la == 1 && a[0] == '/'))) return HR_PATH_CONTAINS;
    return HR_PATH_APART;
}

static int is_out(hr_path_role r) { return r != HR_IN; }

/* "--out ds" or "--out ds (= /abs/ds)" when the canonical form says more. */
static void describe(char *buf, size_t cap, const hr_pathspec *s, const char *canon)
{
    if (!strcmp(s->path, canon)) snprintf(buf, cap, "%s %s", s->opt, s->path);
    else snprintf(buf, cap, "%s %s (= %s)", s->opt, s->path, canon);
}

int hr_paths_check(const hr_pathspec *spec, size_t n, hr_error *err)
{
    char **canon = hr_calloc(n ? n : 1, sizeof *canon);
    int rc = 0;
    for (size_t k = 0; k < n && rc == 0; k++)
        if (spec[k].path) {
            rc = hr_path_canonical(spec[k].path, &canon[k], err);
            if (rc < 0) hr_error_wrap(err, "%s", spec[k].opt);
        }
    for (size_t a = 0; a < n && rc == 0; a++) {
        if (!spec[a].path || !is_out(spec[a].role)) continue;
        for (size_t b = 0; b < n && rc == 0; b++) {
            if (b == a || !spec[b].path) continue;
            if (is_out(spec[b].role) && b < a) continue;   /* each pair of outputs once */
            hr_path_rel r = hr_path_relate(canon[a], canon[b]);
            if (r == HR_PATH_APART) continue;
            const char *why = NULL;
            if (spec[b].role == HR_IN) {
                if (r == HR_PATH_SAME) why = "is the input";
                else if (r == HR_PATH_INSIDE) why = "lies inside the input";
                else if (spec[a].role != HR_OUT_INTO) why = "contains the input";
            } else {
                /* Two outputs: the same path never; nesting only inside an INTO directory. */
                if (r == HR_PATH_SAME) why = "is the same path as the output";
                else if (r == HR_PATH_INSIDE && spec[b].role != HR_OUT_INTO) why = "lies inside the output";
                else if (r == HR_PATH_CONTAINS && spec[a].role != HR_OUT_INTO) why = "contains the output";
            }
            if (!why) continue;
            char da[2200], db[2200];
            describe(da, sizeof da, &spec[a], canon[a]);
            describe(db, sizeof db, &spec[b], canon[b]);
            rc = hr_error_set(err, HR_ERR_ARG, "%s %s %s: refusing to write there (an output must not be, contain or lie inside an input or another output); choose another path",
                              da, why, db);
        }
    }
    for (size_t k = 0; k < n; k++) hr_free(canon[k]);
    hr_free(canon);
    return rc;
}

/* ---- removal ---- */

static int rm_errno;

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)f;
    int r = flag == FTW_DP ? rmdir(p) : unlink(p);
    if (r != 0 && errno != ENOENT && !rm_errno) rm_errno = errno;
    return 0;   /* keep going: remove what can be removed */
}

int hr_remove_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0) return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR(st.st_mode)) return unlink(path);
    rm_errno = 0;
    if (nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS) != 0 && !rm_errno) rm_errno = errno;
    if (rm_errno) {
        errno = rm_errno;
        return -1;
    }
    return 0;
}

static int fsync_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)f;
    if (flag == FTW_DP || flag == FTW_D) hr_fsync_dir(p);
    return 0;
}

/* ---- stage / publish / abort ---- */

static void split_parent(const char *canon, char **parent, const char **name)
{
    const char *slash = strrchr(canon, '/');
    size_t n = slash == canon ? 1 : (size_t)(slash - canon);
    *parent = hr_malloc(n + 1);
    memcpy(*parent, canon, n);
    (*parent)[n] = '\0';
    *name = slash + 1;
}

/* A tag: letters, digits and '-' (what hr_outdir_stage accepts and cleans up). */
static int is_tag(const char *s)
{
    if (!*s) return 0;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '-')) return 0;
    return 1;
}

/* Remove PARENT/.NAME.tmp-TAG and PARENT/.NAME.old-TAG left by killed runs. */
static void remove_leftovers(const char *parent, const char *name)
{
    DIR *d = opendir(parent);
    if (!d) return;
    size_t nl = strlen(name);
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *s = e->d_name;
        if (s[0] != '.' || strncmp(s + 1, name, nl) != 0) continue;
        s += 1 + nl;
        if (strncmp(s, ".tmp-", 5) != 0 && strncmp(s, ".old-", 5) != 0) continue;
        if (!is_tag(s + 5)) continue;
        char *p = join(parent, e->d_name);
        hr_warn("removing %s (left by an earlier run that did not finish)", p);
        if (hr_remove_tree(p) != 0) hr_warn("cannot remove all of %s: %s", p, strerror(errno));
        hr_free(p);
    }
    closedir(d);
}

/* May the existing directory `dir` be replaced?  0, or HR_ERR_ARG naming what it holds. */
static int replaceable(const char *given, const char *dir, const char *marker, const char *const *formats, hr_error *err)
{
    DIR *d = opendir(dir);
    if (!d) return hr_error_set(err, HR_ERR_IO, "%s: cannot open: %s", given, strerror(errno));
    int empty = 1;
    struct dirent *e;
    while (empty && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) empty = 0;
    closedir(d);
    if (empty) return 0;
    char *mp = join(dir, marker);
    json_t *m = json_load_file(mp, 0, NULL);
    hr_free(mp);
    const char *f = json_string_value(json_object_get(m, "format"));
    int ok = 0;
    for (size_t k = 0; f && formats[k]; k++) ok |= !strcmp(f, formats[k]);
    int rc = 0;
    if (!ok) {
        if (f)
            rc = hr_error_set(err, HR_ERR_ARG, "%s exists and holds a '%s' (its %s), not a '%s': refusing to replace it; remove it or choose another path",
                              given, f, marker, formats[0]);
        else
            rc = hr_error_set(err, HR_ERR_ARG, "%s exists and is not empty, and is not a '%s' output (no valid %s): refusing to replace it; remove it or choose another path",
                              given, formats[0], marker);
    }
    json_decref(m);
    return rc;
}

int hr_outdir_stage(const char *path, const char *marker, const char *const *formats, const char *tag, hr_outdir *od,
                    hr_error *err)
{
    memset(od, 0, sizeof *od);
    if (!is_tag(tag)) return hr_error_set(err, HR_ERR_ARG, "%s: bad temporary tag '%s'", path, tag);
    char *canon;
    HR_TRY(hr_path_canonical(path, &canon, err));
    if (!strcmp(canon, "/")) {
        hr_free(canon);
        return hr_error_set(err, HR_ERR_ARG, "%s: refusing to replace the root directory", path);
    }
    char *parent;
    const char *name;
    split_parent(canon, &parent, &name);
    int rc = hr_mkdirs(parent, err);
    struct stat st;
    if (rc == 0 && lstat(canon, &st) == 0) {
        if (!S_ISDIR(st.st_mode))
            rc = hr_error_set(err, HR_ERR_ARG, "%s exists and is not a directory: refusing to replace it", path);
        else
            rc = replaceable(path, canon, marker, formats, err);
    } else if (rc == 0 && errno != ENOENT) {
        rc = hr_error_set(err, HR_ERR_IO, "%s: %s", path, strerror(errno));
    }
    if (rc == 0) {
        remove_leftovers(parent, name);
        size_t n = strlen(parent) + strlen(name) + strlen(tag) + 16;
        od->tmp = hr_malloc(n);
        snprintf(od->tmp, n, "%s%s.%s.tmp-%s", parent, !strcmp(parent, "/") ? "" : "/", name, tag);
        if (mkdir(od->tmp, 0777) != 0)
            rc = hr_error_set(err, errno == ENOSPC ? HR_ERR_NOSPACE : HR_ERR_IO, "%s: cannot create %s: %s", path, od->tmp,
                              strerror(errno));
    }
    hr_free(parent);
    if (rc < 0) {
        hr_free(od->tmp);
        hr_free(canon);
        memset(od, 0, sizeof *od);
        return rc;
    }
    od->final = canon;
    return 0;
}

static void outdir_free(hr_outdir *od)
{
    hr_free(od->final);
    hr_free(od->tmp);
    memset(od, 0, sizeof *od);
}

void hr_outdir_abort(hr_outdir *od, int keep)
{
    if (od->tmp && !keep) hr_remove_tree(od->tmp);
    outdir_free(od);
}

int hr_outdir_publish(hr_outdir *od, hr_error *err)
{
    nftw(od->tmp, fsync_one, 16, FTW_DEPTH | FTW_PHYS);   /* the entries renamed into its directories */
    char *parent;
    const char *name;
    split_parent(od->final, &parent, &name);
    int rc = 0;
    struct stat st;
    if (lstat(od->final, &st) != 0) {
        if (rename(od->tmp, od->final) != 0)
            rc = hr_error_set(err, HR_ERR_IO, "%s: cannot rename %s into place: %s", od->final, od->tmp, strerror(errno));
    } else if (renameat2(AT_FDCWD, od->tmp, AT_FDCWD, od->final, RENAME_EXCHANGE) == 0) {
        if (hr_remove_tree(od->tmp) != 0)   /* now the old output */
            hr_warn("cannot remove all of the replaced output (now %s): %s; the next run removes it", od->tmp, strerror(errno));
        outdir_free(od);
        hr_fsync_dir(parent);
        hr_free(parent);
        return 0;
    } else if (errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP) {
        /* No exchange on this file system: move the old one aside first. */
        const char *tag = strrchr(od->tmp, '-') + 1;
        size_t n = strlen(parent) + strlen(name) + strlen(tag) + 16;
        char *old = hr_malloc(n);
        snprintf(old, n, "%s%s.%s.old-%s", parent, !strcmp(parent, "/") ? "" : "/", name, tag);
        if (rename(od->final, old) != 0) {
            rc = hr_error_set(err, HR_ERR_IO, "%s: cannot move the old output aside: %s", od->final, strerror(errno));
        } else if (rename(od->tmp, od->final) != 0) {
            rc = hr_error_set(err, HR_ERR_IO, "%s: cannot rename %s into place: %s", od->final, od->tmp, strerror(errno));
            rename(old, od->final);   /* put the old one back */
        } else if (hr_remove_tree(old) != 0) {
            hr_warn("cannot remove all of the replaced output %s: %s; the next run removes it", old, strerror(errno));
        }
        hr_free(old);
    } else {
        rc = hr_error_set(err, HR_ERR_IO, "%s: cannot replace it with %s: %s", od->final, od->tmp, strerror(errno));
    }
    if (rc < 0) hr_remove_tree(od->tmp);
    else hr_fsync_dir(parent);
    hr_free(parent);
    outdir_free(od);
    return rc;
}

uint64_t hr_outdir_prune_parts(const char *prefix, const char *suffix, uint64_t first)
{
    char *dir;
    const char *base = strrchr(prefix, '/');
    if (base) {
        size_t n = base == prefix ? 1 : (size_t)(base - prefix);
        dir = hr_malloc(n + 1);
        memcpy(dir, prefix, n);
        dir[n] = '\0';
        base++;
    } else {
        dir = hr_strdup(".");
        base = prefix;
    }
    uint64_t removed = 0;
    size_t bl = strlen(base), sl = strlen(suffix);
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        const char *s = e->d_name;
        size_t len = strlen(s);
        if (len < bl + 1 + 5 + sl || strncmp(s, base, bl) != 0 || s[bl] != '.' || strcmp(s + len - sl, suffix) != 0) continue;
        const char *num = s + bl + 1;
        size_t digits = len - bl - 1 - sl;
        uint64_t v = 0;
        int ok = digits >= 5 && digits <= 18;
        for (size_t k = 0; ok && k < digits; k++) {
            if (num[k] < '0' || num[k] > '9') ok = 0;
            else v = v * 10 + (uint64_t)(num[k] - '0');
        }
        if (!ok || v < first) continue;
        char *p = join(dir, s);
        if (unlink(p) == 0) removed++;
        hr_free(p);
    }
    if (d) closedir(d);
    hr_free(dir);
    return removed;
}
