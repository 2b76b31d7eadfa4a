#include "jobs/checkpoint.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/hash.h"
#include "core/log.h"
#include "core/timer.h"
#include "io/factors.h"
#include "io/manifest.h"
#include "io/output.h"

#define CKPT_FORMAT "hpcrec-checkpoint"
#define CKPT_VERSION 1

json_t *hr_ckpt_identity(const hr_train *t, const char *dataset_dir)
{
    /* Dataset fingerprint: dictionaries and every data file's checksum (not the manifest's
     * creation time), so a byte-identical re-ingest is the same dataset. */
    uint64_t fp = hr_dict_fingerprint(&t->ds->users) ^ hr_mix64(hr_dict_fingerprint(&t->ds->items));
    json_t *files = json_object_get(t->ds->manifest, "files");
    const char *key;
    json_t *v;
    json_object_foreach(files, key, v) {
        const char *x = json_string_value(json_object_get(v, "xxh3"));
        if (x) fp ^= hr_mix64(hr_hash_bytes(key, strlen(key), 3) ^ strtoull(x, NULL, 16));
    }
    char hex[17];
    hr_checksum_hex(fp, hex);
    (void)dataset_dir;
    return json_pack("{s:s,s:i,s:f,s:f,s:f,s:s,s:i,s:I,s:s}", "algo",
                     t->algo == HR_ALGO_ALS ? "als" : "ials", "factors", t->opts.k, "lambda", (double)t->opts.lambda,
                     "alpha", (double)t->opts.alpha, "epsilon", (double)t->opts.epsilon, "solver",
                     t->opts.solver == HR_ALS_CG ? "cg" : "cholesky", "cg_steps", t->opts.cg_steps, "seed",
                     (json_int_t)t->seed, "dataset", hex);
}

static uint32_t width_of(const hr_train *t) { return (uint32_t)t->opts.k + (t->algo == HR_ALGO_ALS ? 1u : 0u); }

/* rm -r of a checkpoint directory (flat: files only). */
static void remove_dir(const char *path)
{
    DIR *d = opendir(path);
    if (!d) return;
    struct dirent *e;
    char f[4096];
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(f, sizeof f, "%s/%s", path, e->d_name);
            unlink(f);
        }
    closedir(d);
    rmdir(path);
}

static int cmp_desc(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x < y) - (x > y);
}

/* Iterations of the checkpoints present, newest first (hr_malloc'd). */
static int64_t *list_ckpts(const char *dir, int *n)
{
    int cap = 16;
    int64_t *its = hr_malloc((size_t)cap * sizeof *its);
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) return its;
    struct dirent *e;
    while ((e = readdir(d))) {
        long long it;
        char tail;
        if (sscanf(e->d_name, "ckpt-%lld%c", &it, &tail) != 1) continue;
        if (*n == cap) its = hr_realloc(its, (size_t)(cap *= 2) * sizeof *its);
        its[(*n)++] = it;
    }
    closedir(d);
    qsort(its, (size_t)*n, sizeof *its, cmp_desc);
    return its;
}

static int write_side(hr_train *t, const hr_ckpt_opts *o, const char *tmp, const char *name, const hr_train_side *s,
                      uint64_t info[3])
{
    uint32_t w = width_of(t);
    uint64_t n = s->block->nrows;
    float *rows = hr_malloc((n ? n * w : 1) * sizeof *rows);
    for (uint64_t r = 0; r < n; r++) {
        memcpy(rows + r * w, s->F + r * (uint64_t)t->opts.k, (size_t)t->opts.k * sizeof *rows);
        if (w > (uint32_t)t->opts.k) rows[r * w + (uint64_t)t->opts.k] = s->bias[r];
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/%s-%05d.f32.zst", tmp, name, t->job->rank);
    int rc = hr_factors_write(path, s->block->gid, rows, n, w, o->level, o->workers, &info[0], &info[1], &info[2], &t->job->err);
    hr_free(rows);
    return rc;
}

/* A cheap look at a checkpoint (no checksums): its manifest reads and every file it lists is
 * there with the listed size.  Otherwise 0, with the reason in why. */
static int ckpt_intact(const char *cdir, char *why, size_t whylen)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/manifest.json", cdir);
    json_t *m = NULL;
    hr_error e = { 0 };
    if (hr_manifest_read(path, CKPT_FORMAT, CKPT_VERSION, &m, &e) != 0) {
        snprintf(why, whylen, "%s", e.msg);
        return 0;
    }
    int ok = 1;
    const char *key;
    json_t *v;
    json_object_foreach(json_object_get(m, "files"), key, v) {
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", cdir, key);
        json_int_t want = json_integer_value(json_object_get(v, "bytes"));
        int missing = stat(path, &st) != 0;
        if (missing || (json_int_t)st.st_size != want) {
            snprintf(why, whylen, "%s: %s", path, missing ? "missing" : "size differs from the manifest");
            ok = 0;
            break;
        }
    }
    json_decref(m);
    return ok;
}

/* Prune after writing checkpoint `it`: keep it and the newest keep-1 intact ones before it.
 * Checkpoints numbered after it are stale (an earlier run in this directory, or the abandoned
 * future of a resume that fell back): keeping them by number would delete the new one and
 * leave LATEST naming a missing directory.  A damaged one is not counted (it could not be
 * resumed from) and is removed only once `keep` intact ones are newer.  Temporary directories
 * of runs killed while writing are removed. */
static void prune(const char *dir, int64_t it, int64_t keep)
{
    int n, kept = 1;
    int64_t *its = list_ckpts(dir, &n);
    for (int k = 0; k < n; k++) {
        if (its[k] == it) continue;
        char old[4096], why[4200];
        snprintf(old, sizeof old, "%s/ckpt-%06lld", dir, (long long)its[k]);
        if (its[k] < it && kept < keep) {
            if (ckpt_intact(old, why, sizeof why)) kept++;
            else hr_warn("checkpoint %s is damaged (%s): not counted for --keep", old, why);
            continue;
        }
        if (its[k] > it) hr_warn("removing stale checkpoint %s (numbered after the one just written)", old);
        remove_dir(old);
    }
    hr_free(its);
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        long long x;
        char tail[8] = "";
        if (sscanf(e->d_name, ".ckpt-%lld%7s", &x, tail) == 2 && strcmp(tail, ".tmp") == 0) {
            char tmp[4096];
            snprintf(tmp, sizeof tmp, "%s/%s", dir, e->d_name);
            hr_warn("removing %s (left by a run killed while writing a checkpoint)", tmp);
            remove_dir(tmp);
        }
    }
    if (d) closedir(d);
}

int hr_ckpt_write(hr_train *t, const hr_ckpt_opts *o, json_t *identity, int64_t it, int half)
{
    hr_job *job = t->job;
    int P = job->size, rc = 0;
    double t0 = hr_now();
    char tmp[4096], final[4096], name[64];
    snprintf(name, sizeof name, "ckpt-%06lld", (long long)it);
    snprintf(tmp, sizeof tmp, "%s/.%s.tmp", o->dir, name);
    snprintf(final, sizeof final, "%s/%s", o->dir, name);
    if (job->rank == 0) {
        rc = hr_mkdirs(o->dir, &job->err);
        remove_dir(tmp);
        if (rc == 0 && mkdir(tmp, 0777) != 0)
            rc = hr_error_set(&job->err, errno == ENOSPC ? HR_ERR_NOSPACE : HR_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
    }
    HR_TRY(hr_comm_agree(job->comm, rc, &job->err));
    uint64_t mine[6] = { 0 };  /* users: checksum, bytes, raw; items: same */
    rc = write_side(t, o, tmp, "users", &t->users, mine);
    if (rc == 0) rc = write_side(t, o, tmp, "items", &t->items, mine + 3);
    rc = hr_comm_agree(job->comm, rc, &job->err);
    uint64_t *all = hr_calloc((size_t)P * 6, sizeof *all);
    if (rc == 0) {
        memcpy(all + 6 * job->rank, mine, sizeof mine);
        rc = hr_comm_allreduce_sum_u64(job->comm, all, (size_t)P * 6);
    }
    uint64_t disk = 0, raw = 0;
    if (rc == 0 && job->rank == 0) {
        json_t *m = json_object(), *us = json_array(), *is = json_array();
        char when[32], path[4096];
        hr_manifest_now(when, sizeof when);
        for (int r = 0; r < P; r++) {
            snprintf(path, sizeof path, "users-%05d.f32.zst", r);
            hr_manifest_add_file(m, path, all[6 * r + 1], all[6 * r]);
            json_array_append_new(us, json_string(path));
            snprintf(path, sizeof path, "items-%05d.f32.zst", r);
            hr_manifest_add_file(m, path, all[6 * r + 4], all[6 * r + 3]);
            json_array_append_new(is, json_string(path));
            disk += all[6 * r + 1] + all[6 * r + 4];
            raw += all[6 * r + 2] + all[6 * r + 5];
        }
        json_object_set_new(m, "format", json_string(CKPT_FORMAT));
        json_object_set_new(m, "version", json_integer(CKPT_VERSION));
        json_object_set_new(m, "software", json_string("hpcrec " HR_VERSION));
        json_object_set_new(m, "created", json_string(when));
        json_object_set_new(m, "iteration", json_integer(it));
        json_object_set_new(m, "half", json_integer(half));
        json_object_set_new(m, "ranks", json_integer(P));
        json_object_set_new(m, "width", json_integer(width_of(t)));
        json_object_set_new(m, "users", us);
        json_object_set_new(m, "items", is);
        json_object_set_new(m, "rng", json_pack("{s:s,s:I}", "kind", "counter (splitmix64 of seed, stream, id)", "seed", (json_int_t)t->seed));
        json_object_set(m, "identity", identity);
        snprintf(path, sizeof path, "%s/manifest.json", tmp);
        rc = hr_manifest_write(path, m, &job->err);
        json_decref(m);
        hr_fsync_dir(tmp);
        if (rc == 0) {
            remove_dir(final);  /* an older run's checkpoint of the same iteration */
            if (rename(tmp, final) != 0)
                rc = hr_error_set(&job->err, HR_ERR_IO, "%s: cannot rename into place: %s", final, strerror(errno));
        }
        if (rc == 0) {
            char latest[4096], lt[4096], line[80];
            snprintf(latest, sizeof latest, "%s/LATEST", o->dir);
            snprintf(lt, sizeof lt, "%s/LATEST.tmp", o->dir);
            int n = snprintf(line, sizeof line, "%s\n", name);
            FILE *f = fopen(lt, "w");
            if (!f || fwrite(line, 1, (size_t)n, f) != (size_t)n || fflush(f) != 0 || fsync(fileno(f)) != 0) {
                rc = hr_error_set(&job->err, errno == ENOSPC ? HR_ERR_NOSPACE : HR_ERR_IO, "%s: cannot write: %s", lt, strerror(errno));
            }
            if (f) fclose(f);
            if (rc == 0 && rename(lt, latest) != 0) rc = hr_error_set(&job->err, HR_ERR_IO, "%s: cannot rename: %s", latest, strerror(errno));
            hr_fsync_dir(o->dir);
        }
        if (rc == 0 && o->keep > 0) prune(o->dir, it, o->keep);
    }
    rc = hr_comm_agree(job->comm, rc, &job->err);
    if (rc < 0) {
        if (job->rank == 0) remove_dir(tmp);
        hr_error_wrap(&job->err, "checkpoint %s not written (the previous checkpoint is intact)", final);
    } else {
        double s = hr_now() - t0;
        uint64_t sz[2] = { disk, raw };
        HR_TRY(hr_comm_bcast(job->comm, sz, sizeof sz, 0));
        disk = sz[0];
        raw = sz[1];
        t->ckpt_count++;
        t->ckpt_bytes += disk;
        t->ckpt_raw += raw;
        t->ckpt_seconds += s;
        hr_progress("checkpoint %s: iteration %lld%s, %.1f MB in %.3fs (%.0f MB/s), compression %.2fx", final, (long long)it,
                    half ? " (user half of the next)" : "", disk / 1e6, s, raw / 1e6 / (s > 0 ? s : 1), disk ? (double)raw / (double)disk : 1.0);
    }
    hr_free(all);
    return rc;
}

/* Read this rank's share of one side's files and send every row to its owner, which puts it
 * into F (and bias, for ALS): scratch arrays shaped like the side's, so that a checkpoint that
 * fails half-way leaves the run's factors untouched. */
static int load_side(hr_train *t, const char *cdir, json_t *m, const char *name, const hr_train_side *s, const hr_part *p,
                     float *F, float *bias)
{
    hr_job *job = t->job;
    json_t *list = json_object_get(m, name);
    size_t nf = json_array_size(list);
    uint32_t w = width_of(t);
    size_t rec = 4 + 4 * (size_t)w;
    char *buf = NULL;
    uint64_t nbuf = 0;
    int rc = 0;
    for (size_t f = (size_t)job->rank; rc == 0 && f < nf; f += (size_t)job->size) {
        const char *rel = json_string_value(json_array_get(list, f));
        char path[4096];
        uint64_t cs, bytes, n;
        uint32_t *gid;
        float *rows;
        rc = rel ? hr_manifest_file(m, "manifest.json", rel, &cs, &bytes, &job->err)
                 : hr_error_set(&job->err, HR_ERR_FORMAT, "%s/manifest.json: bad file list", cdir);
        snprintf(path, sizeof path, "%s/%s", cdir, rel ? rel : "");
        if (rc == 0) rc = hr_factors_read(path, cs, bytes, w, &gid, &rows, &n, &job->err);
        if (rc < 0) break;
        buf = hr_realloc(buf, (nbuf + n ? nbuf + n : 1) * rec);
        for (uint64_t r = 0; r < n; r++) {
            if (gid[r] >= p->n) {
                rc = hr_error_set(&job->err, HR_ERR_FORMAT, "%s: row id %u outside the dataset", path, gid[r]);
                break;
            }
            memcpy(buf + (nbuf + r) * rec, &gid[r], 4);
            memcpy(buf + (nbuf + r) * rec + 4, rows + r * w, 4 * (size_t)w);
        }
        nbuf += n;
        hr_free(gid);
        hr_free(rows);
    }
    rc = hr_comm_agree(job->comm, rc, &job->err);
    if (rc < 0) {
        hr_free(buf);
        return rc;
    }
    /* group by owner and exchange */
    int P = job->size;
    uint64_t *cnt = hr_calloc((size_t)P * 3, sizeof *cnt), *rcv = cnt + P, *pos = rcv + P;
    for (uint64_t r = 0; r < nbuf; r++) {
        uint32_t g;
        memcpy(&g, buf + r * rec, 4);
        cnt[p->owner[g]]++;
    }
    for (int q = 1; q < P; q++) pos[q] = pos[q - 1] + cnt[q - 1];
    char *send = hr_malloc((nbuf ? nbuf : 1) * rec);
    for (uint64_t r = 0; r < nbuf; r++) {
        uint32_t g;
        memcpy(&g, buf + r * rec, 4);
        memcpy(send + pos[p->owner[g]]++ * rec, buf + r * rec, rec);
    }
    hr_free(buf);
    void *in = NULL;
    uint64_t nin = 0;
    rc = hr_comm_alltoallv(job->comm, send, cnt, rec, &in, rcv, &nin);
    hr_free(send);
    hr_free(cnt);
    if (rc < 0) return rc;
    uint64_t k = (uint64_t)t->opts.k;
    if (nin != s->block->nrows)
        rc = hr_error_set(&job->err, HR_ERR_FORMAT, "%s: holds %llu %s rows for this rank, the dataset %llu (another dataset?)", cdir,
                          (unsigned long long)nin, name, (unsigned long long)s->block->nrows);
    for (uint64_t r = 0; rc == 0 && r < nin; r++) {
        uint32_t g;
        const char *x = (const char *)in + r * rec;
        memcpy(&g, x, 4);
        uint32_t l = p->local[g];
        memcpy(F + l * k, x + 4, 4 * k);
        if (w > k) memcpy(&bias[l], x + 4 + 4 * k, 4);
    }
    hr_free(in);
    return hr_comm_agree(job->comm, rc, &job->err);
}

/* Rank 0 reads the manifest and checks it (format, version, identity); every rank gets rank 0's
 * verdict and rank 0's manifest (its text broadcast), never its own reading of the directory:
 * on a shared file system with stale caches ranks could otherwise see different files. */
static int check_manifest(hr_train *t, const hr_ckpt_opts *o, const char *cdir, json_t *identity, json_t **out, int *foreign)
{
    hr_job *job = t->job;
    json_t *m = NULL;
    int rc = 0;
    int64_t f = 0;
    char *text = NULL;
    uint64_t len = 0;
    if (job->rank == 0) {
        char mpath[4096];
        snprintf(mpath, sizeof mpath, "%s/manifest.json", cdir);
        rc = hr_manifest_read(mpath, CKPT_FORMAT, CKPT_VERSION, &m, &job->err);
        if (rc == 0 && !json_equal(json_object_get(m, "identity"), identity)) {
            char *a = json_dumps(json_object_get(m, "identity"), JSON_COMPACT | JSON_SORT_KEYS), *b = json_dumps(identity, JSON_COMPACT | JSON_SORT_KEYS);
            if (!o->force) {
                rc = hr_error_set(&job->err, HR_ERR_STATE,
                                  "%s belongs to another run: it has %s, this run %s (other dataset or hyper-parameters; use --force-resume to use it anyway)",
                                  cdir, a ? a : "?", b ? b : "?");
                f = 1;
            } else {
                hr_warn("%s: identity differs (%s vs %s); resuming anyway (--force-resume)", cdir, a ? a : "?", b ? b : "?");
            }
            free(a);
            free(b);
        }
        if (rc == 0) {
            text = json_dumps(m, JSON_COMPACT);
            len = text ? strlen(text) + 1 : 0;
            if (!text) rc = hr_error_set(&job->err, HR_ERR_NOMEM, "%s: cannot serialise the manifest", cdir);
        }
    }
    rc = hr_comm_agree(job->comm, rc, &job->err);
    HR_TRY(hr_comm_bcast(job->comm, &f, sizeof f, 0));
    *foreign = (int)f;
    if (rc == 0) rc = hr_comm_bcast(job->comm, &len, sizeof len, 0);
    if (rc == 0 && job->rank != 0) text = hr_malloc(len);
    if (rc == 0) rc = hr_comm_bcast(job->comm, text, len, 0);
    if (rc == 0 && job->rank != 0) {
        m = json_loads(text, 0, NULL);
        if (!m) rc = hr_error_set(&job->err, HR_ERR_FORMAT, "%s: the manifest broadcast by rank 0 does not parse", cdir);
    }
    if (job->rank == 0) free(text);
    else hr_free(text);
    *out = m;
    return rc;
}

/* Rank 0 lists the candidates, newest first with LATEST's first of all, and every rank tries
 * that list: ranks never read the directory or LATEST themselves. */
static int64_t *candidates(hr_job *job, const char *dir, int64_t *n)
{
    int64_t *its = NULL;
    *n = 0;
    if (job->rank == 0) {
        int m = 0;
        its = list_ckpts(dir, &m);
        *n = m;
        char latest[4096], line[80] = "";
        snprintf(latest, sizeof latest, "%s/LATEST", dir);
        FILE *f = fopen(latest, "r");
        long long lit = -1;
        if (f) {
            if (fgets(line, sizeof line, f)) sscanf(line, "ckpt-%lld", &lit);
            fclose(f);
        }
        for (int k = 0; k < m; k++)
            if (its[k] == lit) {
                memmove(its + 1, its, (size_t)k * sizeof *its);
                its[0] = lit;
                break;
            }
    }
    if (hr_comm_bcast(job->comm, n, sizeof *n, 0) < 0) *n = -1;
    if (*n > 0 && job->rank != 0) its = hr_malloc((size_t)*n * sizeof *its);
    if (*n > 0 && hr_comm_bcast(job->comm, its, (size_t)*n * sizeof *its, 0) < 0) *n = -1;
    return its;
}

int hr_ckpt_resume(hr_train *t, const hr_ckpt_opts *o, json_t *identity, int64_t *it, int *half)
{
    hr_job *job = t->job;
    *it = 0;
    *half = 0;
    int64_t n;
    int64_t *its = candidates(job, o->dir, &n);
    if (n < 0) {
        hr_free(its);
        return hr_error_set(&job->err, HR_ERR_MPI, "resume: broadcasting the checkpoint list failed");
    }
    /* Scratch factors: a checkpoint is committed only once both sides loaded. */
    const uint64_t k = (uint64_t)t->opts.k, nu = t->users.block->nrows, ni = t->items.block->nrows;
    const int bias = t->algo == HR_ALGO_ALS;
    float *uF = NULL, *iF = NULL, *uB = NULL, *iB = NULL;
    if (n > 0) {
        uF = hr_malloc((nu * k + 1) * sizeof *uF);
        iF = hr_malloc((ni * k + 1) * sizeof *iF);
        if (bias) {
            uB = hr_malloc((nu + 1) * sizeof *uB);
            iB = hr_malloc((ni + 1) * sizeof *iB);
        }
    }
    int rc = 0, loaded = 0;
    for (int64_t c = 0; c < n; c++) {
        char cdir[4096];
        snprintf(cdir, sizeof cdir, "%s/ckpt-%06lld", o->dir, (long long)its[c]);
        json_t *m = NULL;
        int foreign = 0;
        rc = check_manifest(t, o, cdir, identity, &m, &foreign);
        rc = hr_comm_agree(job->comm, rc, &job->err);
        if (rc == 0) rc = load_side(t, cdir, m, "users", &t->users, &t->ds->upart, uF, uB);
        if (rc == 0) rc = load_side(t, cdir, m, "items", &t->items, &t->ds->ipart, iF, iB);
        if (rc == 0) {
            memcpy(t->users.F, uF, nu * k * sizeof *uF);
            memcpy(t->items.F, iF, ni * k * sizeof *iF);
            if (bias) {
                memcpy(t->users.bias, uB, nu * sizeof *uB);
                memcpy(t->items.bias, iB, ni * sizeof *iB);
            }
            *it = json_integer_value(json_object_get(m, "iteration"));
            *half = (int)json_integer_value(json_object_get(m, "half"));
            loaded = 1;
            hr_progress("resume     from %s: iteration %lld%s, written on %lld ranks, loaded on %d", cdir, (long long)*it,
                        *half ? " (+ user half)" : "", (long long)json_integer_value(json_object_get(m, "ranks")), job->size);
        }
        json_decref(m);
        if (rc == 0) break;
        if (foreign || rc == HR_ERR_MPI) break;  /* refused, not damaged: do not fall back */
        if (job->rank == 0) hr_warn("skipping checkpoint: %s", job->err.msg);
        rc = 0;
    }
    hr_free(its);
    hr_free(uF);
    hr_free(iF);
    hr_free(uB);
    hr_free(iB);
    if (rc == 0 && !loaded && n > 0)
        hr_progress("resume     no usable checkpoint among the %lld in %s (each named above): starting from iteration 1 with "
                    "freshly initialised factors (or the --init-from model's)", (long long)n, o->dir);
    else if (rc == 0 && n == 0)
        hr_progress("resume     no checkpoint in %s yet: starting from iteration 1", o->dir);
    return rc;
}
