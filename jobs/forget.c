/* hpcrec forget — erase users from everything hpcrec wrote (docs/operations.md, Erasure).
 *
 * The forgotten set: --users FILE (plain ids, one a line) and/or --list LIST (HMACs under
 * --key; io/forgetlist.h).  With both, the ids are added to LIST first (so a crash later
 * still leaves them listed for the next run) and the whole list is applied.  Each artifact is
 * rewritten whole into a temporary beside it and renamed into place (jobs/publish.h), with a
 * new `revision` and an `erasures` entry; an artifact that holds none of the ids is left
 * untouched (its counts are reported as 0). */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/hash.h"
#include "core/log.h"
#include "io/input.h"
#include "io/lines.h"
#include "io/manifest.h"
#include "io/output.h"
#include "jobs/commands.h"
#include "jobs/dataset.h"
#include "jobs/forget.h"
#include "jobs/forget_model.h"
#include "jobs/publish.h"

static const char usage[] =
    "hpcrec forget (--users FILE | --list LIST)... --key KEY [ARTIFACT...] [--json FILE]\n"
    "  --users FILE          ids to erase, one a line (as the dictionaries spell them)\n"
    "  --list LIST           the persistent forget list: --users ids are added to it (created\n"
    "                        if absent), then the whole list is applied\n"
    "  --key KEY             the site key (a file of 16..1024 bytes, mode 0600)\n"
    "artifacts (each may repeat; none: only the list is updated):\n"
    "  --data DATASET        interactions (CSR/CSC shards), dictionaries, rejects/ lines\n"
    "  --model MODEL.tar     user rows of a model bundle (item rows keep what they learnt: retrain)\n"
    "  --recs DIR            recommendation lines of those users (recommend --out)\n"
    "  --checkpoint-dir DIR  checkpoints (they hold the users' factor rows; removed)\n";

typedef struct {
    const char **a[4];
    int n[4];
    const char *users, *list, *key;
} forget_opts;
enum { A_DATA, A_MODEL, A_RECS, A_CKPT };

typedef struct {
    uint64_t users, items, rows, rows_before, rejects, recs_lines, recs_users, ckpt, rewritten;
} totals;

/* ---- rejects/ ---------------------------------------------------------------------------- */

static int list_rejects(const char *dir, char ***names, int *n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/rejects", dir);
    *names = NULL;
    *n = 0;
    struct dirent **ents;
    int k = scandir(path, &ents, NULL, alphasort);
    if (k < 0) return 0;   /* no rejects/ directory: nothing was rejected */
    *names = hr_malloc((size_t)(k ? k : 1) * sizeof **names);
    for (int j = 0; j < k; j++) {
        if (ents[j]->d_name[0] != '.') (*names)[(*n)++] = hr_strdup(ents[j]->d_name);
        free(ents[j]);
    }
    free(ents);
    return 0;
}

/* Copy (out != NULL) or count the rejects file without the lines to scrub. */
static int scrub_file(hr_forget_set *s, const char *in, const char *out, uint64_t *gone, uint64_t *kept, hr_error *err)
{
    FILE *f = fopen(in, "rb");
    if (!f) return hr_error_set(err, HR_ERR_IO, "%s: cannot open", in);
    hr_output *o = NULL;
    int rc = out ? hr_output_open(out, 0, 1, &o, err) : 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    uint64_t ln = 0;
    *kept = 0;
    while (rc == 0 && (len = getline(&line, &cap, f)) >= 0) {
        size_t l = (size_t)len - (len > 0 && line[len - 1] == '\n');
        if (ln++ > 0 && hr_forget_reject_line(s, line, l)) {
            (*gone)++;
            continue;
        }
        *kept += ln > 1;
        if (o) rc = hr_output_write(o, line, (size_t)len, err);
    }
    free(line);
    if (rc == 0 && ferror(f)) rc = hr_error_set(err, HR_ERR_IO, "%s: read error", in);
    fclose(f);
    if (o) {
        if (rc < 0) hr_output_abort(o);
        else rc = hr_output_commit(o, NULL, NULL, err);
    }
    return rc;
}

static int rejects_pass(hr_job *job, hr_forget_set *s, const char *dir, const char *outdir, uint64_t *gone)
{
    char **names;
    int nn, rc = list_rejects(dir, &names, &nn);
    uint64_t g[1] = { 0 };
    for (int k = job->rank; rc == 0 && k < nn; k += job->size) {
        char in[4096], out[4096];
        uint64_t kept;
        snprintf(in, sizeof in, "%s/rejects/%s", dir, names[k]);
        snprintf(out, sizeof out, "%s/rejects/%s", outdir ? outdir : "", names[k]);
        rc = scrub_file(s, in, outdir ? out : NULL, g, &kept, &job->err);
    }
    for (int k = 0; k < nn; k++) hr_free(names[k]);
    hr_free(names);
    rc = hr_comm_agree(job->comm, rc, &job->err);
    if (rc == 0) rc = hr_comm_allreduce_sum_u64(job->comm, g, 1);
    *gone = g[0];
    return rc;
}

/* ---- datasets ---------------------------------------------------------------------------- */

static int forget_dataset(hr_job *job, hr_forget_set *s, const char *dir, totals *T)
{
    hr_dataset ds;
    int rc = hr_dataset_load(job, dir, HR_LOAD_BY_USER, &ds);
    if (rc < 0) {
        hr_dataset_free(&ds);
        return rc;
    }
    const hr_block *b = &ds.by_user;
    uint64_t n = b->nnz;
    hr_triple *t = hr_malloc((n ? n : 1) * sizeof *t);
    for (uint64_t r = 0, k = 0; r < b->nrows; r++)
        for (uint64_t e = b->ptr[r]; e < b->ptr[r + 1]; e++) t[k++] = (hr_triple){ b->gid[r], b->idx[e], b->val[e], 0, b->ts[e], 0 };
    hr_block_free(&ds.by_user);
    ds.has_by_user = 0;
    int64_t before = json_integer_value(json_object_get(ds.manifest, "interactions"));
    hr_forget_counts fc;
    uint64_t scrub = 0;
    rc = hr_forget_triples(job, s, &ds.users, &ds.items, &t, &n, &fc);
    if (rc == 0) rc = rejects_pass(job, s, dir, NULL, &scrub);
    if (rc == 0 && fc.rows == 0 && fc.users == 0 && scrub == 0) {
        hr_progress("forget     %s: none of the %llu ids; unchanged", dir, (unsigned long long)s->n);
        T->rows_before += (uint64_t)before;
        goto out;
    }
    hr_publish pub;
    memset(&pub, 0, sizeof pub);
    if (rc == 0) rc = hr_publish_begin(job, dir, "manifest.json", HR_DATASET_FORMATS, &pub);
    if (rc == 0) rc = hr_dataset_prepare_dir(job, pub.dir);
    if (rc == 0) rc = rejects_pass(job, s, dir, pub.dir, &scrub);
    if (rc == 0) {
        /* What the manifest keeps: ingest's counts of the original run, the lineage, and the
         * erasure history with the new entry. */
        json_t *extra = json_object();
        const char *keep[] = { "ingest", "revision", "erasures" };
        for (int k = 0; k < 3; k++)
            if (json_object_get(ds.manifest, keep[k])) json_object_set(extra, keep[k], json_object_get(ds.manifest, keep[k]));
        hr_forget_stamp(extra, s, &fc);
        json_t *ent = json_array_get(json_object_get(extra, "erasures"), json_array_size(json_object_get(extra, "erasures")) - 1);
        json_object_set_new(ent, "rejects_scrubbed", json_integer((json_int_t)scrub));
        json_object_set_new(ent, "items_removed", json_integer((json_int_t)fc.items));
        hr_part_scheme scheme = HR_PART_BALANCED;
        hr_part_scheme_parse(json_string_value(json_object_get(json_object_get(ds.manifest, "partition"), "scheme")), &scheme);
        hr_part hp;
        rc = hr_forget_ingest_layout(job, s, dir, scheme, &ds.users, &ds.items, &t, &n, &hp);
        hr_dataset_spec spec = { .dir = pub.dir, .name = dir, .scheme = scheme, .zstd_level = 1,
                                 .lineage = json_deep_copy(json_object_get(ds.manifest, "lineage")), .extra = extra,
                                 .user_part = &hp };
        if (!spec.lineage) spec.lineage = json_object();
        if (rc == 0) {
            rc = hr_dataset_write(job, &spec, &ds.users, &ds.items, &t, &n);
            hr_part_free(&hp);
        } else {
            json_decref(spec.lineage);
            json_decref(extra);
        }
    }
    rc = hr_publish_end(job, &pub, rc);
    if (rc == 0) {
        hr_progress("forget     %s: %llu users, %llu items, %llu of %lld interactions, %llu rejects lines removed",
                    dir, (unsigned long long)fc.users, (unsigned long long)fc.items, (unsigned long long)fc.rows,
                    (long long)before, (unsigned long long)scrub);
        T->users += fc.users;
        T->items += fc.items;
        T->rows += fc.rows;
        T->rows_before += (uint64_t)before;
        T->rejects += scrub;
        T->rewritten++;
    }
out:
    hr_free(t);
    hr_dataset_free(&ds);
    return rc;
}

/* ---- recommendation folders ------------------------------------------------------------ */

/* Read (and, with out, rewrite) one zstd TSV part without the lines of forgotten users. */
static int recs_part(hr_forget_set *s, const char *in, const char *out, uint64_t res[4], hr_error *err)
{
    hr_input *ip;
    HR_TRY(hr_input_open(in, &ip, err));
    const char *name;
    int rc = hr_input_next(ip, &name, err);
    hr_output *o = NULL;
    if (rc >= 0 && out) rc = hr_output_open(out, 3, 1, &o, err);
    hr_lines *L = rc >= 0 ? hr_lines_new(ip) : NULL;
    char *line, *last = NULL;
    size_t len, lastlen = 0;
    int last_gone = 0;
    uint64_t ln = 0;
    while (rc >= 0 && L && (rc = hr_lines_next(L, &line, &len, err)) == 1) {
        if (ln++ > 0) {
            const char *tab = memchr(line, '\t', len);
            size_t kl = tab ? (size_t)(tab - line) : len;
            /* a user's lines are consecutive: hash once per user */
            if (!last || kl != lastlen || memcmp(last, line, kl) != 0) {
                hr_free(last);
                last = hr_malloc(kl + 1);
                memcpy(last, line, kl);
                lastlen = kl;
                last_gone = hr_forget_has(s, line, kl);
                res[3] += last_gone;
            }
            if (last_gone) {
                res[2]++;
                continue;
            }
        }
        if (o && (rc = hr_output_write(o, line, len, err)) == 0) rc = hr_output_write(o, "\n", 1, err);
    }
    hr_free(last);
    hr_lines_free(L);
    hr_input_close(ip);
    if (o) {
        if (rc < 0) hr_output_abort(o);
        else rc = hr_output_commit(o, &res[1], &res[0], err);
    }
    return rc < 0 ? rc : 0;
}

static const char *const REC_FORMATS[] = { "hpcrec-recommendations", NULL };

static int forget_recs(hr_job *job, hr_forget_set *s, const char *dir, totals *T)
{
    char mpath[4096];
    snprintf(mpath, sizeof mpath, "%s/manifest.json", dir);
    json_t *man = NULL;
    int rc = hr_manifest_read(mpath, "hpcrec-recommendations", 1, &man, &job->err);
    rc = hr_comm_agree(job->comm, rc, &job->err);
    if (rc < 0) return rc;
    json_t *files = json_object_get(man, "files");
    size_t np = json_object_size(files), k = 0;
    const char **parts = hr_malloc((np ? np : 1) * sizeof *parts), *key;
    json_t *v;
    json_object_foreach(files, key, v) parts[k++] = key;   /* sorted: manifests are written with sorted keys */
    /* res per part: bytes, xxh3, lines removed, users removed (only its rank fills it) */
    uint64_t *res = hr_calloc(np * 4 + 2, sizeof *res);
    for (int pass = 0; pass < 2 && rc == 0; pass++) {
        hr_publish pub;
        memset(&pub, 0, sizeof pub);
        if (pass == 1) {
            uint64_t gone = 0;
            for (size_t j = 0; j < np; j++) gone += res[4 * j + 2];
            if (gone == 0) {
                hr_progress("forget     %s: none of the %llu ids; unchanged", dir, (unsigned long long)s->n);
                break;
            }
            memset(res, 0, (np * 4 + 2) * sizeof *res);
            rc = hr_publish_begin(job, dir, "manifest.json", REC_FORMATS, &pub);
        }
        for (size_t j = (size_t)job->rank; rc == 0 && j < np; j += (size_t)job->size) {
            char in[4096], out[4096];
            snprintf(in, sizeof in, "%s/%s", dir, parts[j]);
            snprintf(out, sizeof out, "%s/%s", pass ? pub.dir : "", parts[j]);
            uint64_t cs, bytes;
            if (pass == 0) rc = hr_manifest_file(man, mpath, parts[j], &cs, &bytes, &job->err);
            if (rc == 0 && pass == 0) {   /* what is read is what recommend wrote */
                uint64_t got, gotb;
                rc = hr_checksum_file(in, &got, &gotb, &job->err);
                if (rc == 0 && (got != cs || gotb != bytes))
                    rc = hr_error_set(&job->err, HR_ERR_CHECKSUM, "%s: checksum or size does not match %s", in, mpath);
            }
            if (rc == 0) rc = recs_part(s, in, pass ? out : NULL, res + 4 * j, &job->err);
        }
        rc = hr_comm_agree(job->comm, rc, &job->err);
        if (rc == 0) rc = hr_comm_allreduce_sum_u64(job->comm, res, np * 4);
        if (pass == 1) {
            hr_forget_counts fc = { 0, 0, 0 };
            for (size_t j = 0; j < np; j++) {
                fc.rows += res[4 * j + 2];
                fc.users += res[4 * j + 3];
            }
            if (rc == 0 && job->rank == 0) {
                for (size_t j = 0; j < np; j++) hr_manifest_add_file(man, parts[j], res[4 * j], res[4 * j + 1]);
                json_object_set_new(man, "lines", json_integer(json_integer_value(json_object_get(man, "lines")) - (json_int_t)fc.rows));
                json_object_set_new(man, "users", json_integer(json_integer_value(json_object_get(man, "users")) - (json_int_t)fc.users));
                hr_forget_stamp(man, s, &fc);
                char mp[4096];
                snprintf(mp, sizeof mp, "%s/manifest.json", pub.dir);
                rc = hr_manifest_write(mp, man, &job->err);
            }
            rc = hr_publish_end(job, &pub, rc);
            if (rc == 0) {
                hr_progress("forget     %s: %llu lines of %llu users removed", dir, (unsigned long long)fc.rows, (unsigned long long)fc.users);
                T->recs_lines += fc.rows;
                T->recs_users += fc.users;
                T->rewritten++;
            }
        }
    }
    hr_free(res);
    hr_free(parts);
    json_decref(man);
    return rc;
}

/* ---- checkpoints ------------------------------------------------------------------------ */

/* A checkpoint resumes only the dataset it was made from (its identity fingerprint), which
 * forget replaced, and its factor files hold the users' rows: every checkpoint goes.  LATEST
 * first, so no reader follows it into a directory being removed. */
static int forget_checkpoints(hr_job *job, const char *dir, totals *T)
{
    int rc = 0;
    uint64_t removed = 0;
    if (job->rank == 0) {
        char p[4096];
        snprintf(p, sizeof p, "%s/LATEST", dir);
        struct stat st;
        if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) rc = hr_error_set(&job->err, HR_ERR_ARG, "--checkpoint-dir %s: not a directory", dir);
        if (rc == 0 && unlink(p) != 0 && errno != ENOENT) rc = hr_error_set(&job->err, HR_ERR_IO, "%s: %s", p, strerror(errno));
        struct dirent **ents;
        int k = rc == 0 ? scandir(dir, &ents, NULL, alphasort) : 0;
        for (int j = 0; j < k; j++) {
            const char *nm = ents[j]->d_name;
            if (!strncmp(nm, "ckpt-", 5) || !strncmp(nm, ".ckpt-", 6)) {
                snprintf(p, sizeof p, "%s/%s", dir, nm);
                if (hr_remove_tree(p) != 0 && rc == 0) rc = hr_error_set(&job->err, HR_ERR_IO, "%s: cannot remove: %s", p, strerror(errno));
                removed += nm[0] == 'c';
            }
            free(ents[j]);
        }
        if (k > 0) free(ents);
        hr_fsync_dir(dir);
    }
    rc = hr_comm_agree(job->comm, rc, &job->err);
    if (rc == 0 && job->rank == 0) hr_progress("forget     %s: %llu checkpoints removed", dir, (unsigned long long)removed);
    T->ckpt += removed;
    return rc;
}

/* ---- the command ------------------------------------------------------------------------- */

static int parse_opts(hr_job *job, int argc, char **argv, forget_opts *o)
{
    static const struct option lo[] = {
        { "users", required_argument, 0, 'u' }, { "list", required_argument, 0, 'l' }, { "key", required_argument, 0, 'k' },
        { "data", required_argument, 0, 'd' }, { "model", required_argument, 0, 'm' }, { "recs", required_argument, 0, 'r' },
        { "checkpoint-dir", required_argument, 0, 'c' }, { "json", required_argument, 0, 'j' },
        { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 } };
    memset(o, 0, sizeof *o);
    for (int k = 0; k < 4; k++) o->a[k] = hr_malloc((size_t)argc * sizeof *o->a[k]);
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'u': o->users = optarg; break;
        case 'l': o->list = optarg; break;
        case 'k': o->key = optarg; break;
        case 'd': o->a[A_DATA][o->n[A_DATA]++] = optarg; break;
        case 'm': o->a[A_MODEL][o->n[A_MODEL]++] = optarg; break;
        case 'r': o->a[A_RECS][o->n[A_RECS]++] = optarg; break;
        case 'c': o->a[A_CKPT][o->n[A_CKPT]++] = optarg; break;
        case 'j': job->json_path = optarg; break;
        case 'h': if (job->rank == 0) fputs(usage, stdout); return 1;
        default: return hr_opt_usage(job, usage);
        }
    }
    if (optind < argc) return hr_error_set(&job->err, HR_ERR_ARG, "unexpected argument '%s'\n%s", argv[optind], usage);
    if (!o->key) return hr_error_set(&job->err, HR_ERR_ARG, "--key KEY is required (the site key the forget list is kept under)\n%s", usage);
    if (!o->users && !o->list) return hr_error_set(&job->err, HR_ERR_ARG, "--users FILE or --list LIST is required\n%s", usage);
    return 0;
}

int hr_cmd_forget(hr_job *job, int argc, char **argv)
{
    forget_opts o;
    int rc = parse_opts(job, argc, argv, &o);
    hr_forget_set s;
    memset(&s, 0, sizeof s);
    totals T;
    memset(&T, 0, sizeof T);
    uint64_t listed_before = 0, from_users = 0;
    if (rc != 0) goto done;
    /* Every rank builds the set (the key, the list, the ids are small); rank 0 alone writes the
     * list, before any artifact is touched. */
    rc = hr_forget_open(&s, o.key, &job->err);
    struct stat st;
    int have_list = o.list && stat(o.list, &st) == 0;
    if (rc == 0 && o.list && (have_list || !o.users)) rc = hr_forget_add_list(&s, o.list, &job->err);
    if (rc == 0) {
        hr_forget_finish(&s);
        listed_before = s.n;
    }
    if (rc == 0 && o.users) {
        rc = hr_forget_add_ids(&s, o.users, &job->err);
        from_users = s.lines - (have_list ? listed_before : 0);
        hr_forget_finish(&s);
    }
    rc = hr_comm_agree(job->comm, rc, &job->err);
    if (rc == 0 && o.list && o.users && job->rank == 0) rc = hr_forget_write_list(&s, o.list, &job->err);
    rc = hr_comm_agree(job->comm, rc, &job->err);
    if (rc == 0 && o.list && o.users)
        hr_progress("forget     %s: %llu ids read, %llu new, %llu listed", o.list, (unsigned long long)from_users,
                    (unsigned long long)(s.n - listed_before), (unsigned long long)s.n);
    for (int k = 0; rc == 0 && k < o.n[A_DATA]; k++) rc = forget_dataset(job, &s, o.a[A_DATA][k], &T);
    for (int k = 0; rc == 0 && k < o.n[A_MODEL]; k++) {
        uint64_t users = 0;
        rc = hr_forget_model(job, &s, o.a[A_MODEL][k], &users);
        if (rc == 0 && users) T.rewritten++;
        T.users += users;
    }
    for (int k = 0; rc == 0 && k < o.n[A_RECS]; k++) rc = forget_recs(job, &s, o.a[A_RECS][k], &T);
    for (int k = 0; rc == 0 && k < o.n[A_CKPT]; k++) rc = forget_checkpoints(job, o.a[A_CKPT][k], &T);
    if (rc == 0) {
        char hex[65];
        hr_forget_set_hmac(&s, hex);
        hr_job_set_int(job, "ids", (int64_t)s.n);
        hr_job_set_int(job, "ids_read", (int64_t)from_users);
        hr_job_set_int(job, "ids_new", (int64_t)(o.users && o.list ? s.n - listed_before : 0));
        hr_job_set_str(job, "list_hmac", hex);
        hr_job_set_int(job, "users_removed", (int64_t)T.users);
        hr_job_set_int(job, "items_removed", (int64_t)T.items);
        hr_job_set_int(job, "rows_before", (int64_t)T.rows_before);
        hr_job_set_int(job, "rows_removed", (int64_t)T.rows);
        hr_job_set_int(job, "rejects_removed", (int64_t)T.rejects);
        hr_job_set_int(job, "recs_lines_removed", (int64_t)T.recs_lines);
        hr_job_set_int(job, "checkpoints_removed", (int64_t)T.ckpt);
        hr_job_set_int(job, "artifacts_rewritten", (int64_t)T.rewritten);
    }
done:
    hr_forget_close(&s);
    for (int k = 0; k < 4; k++) hr_free(o.a[k]);
    return rc > 0 ? 0 : rc;
}
