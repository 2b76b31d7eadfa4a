/* hpcrec inspect — summarize a dataset (model bundles and checkpoints once they exist) and
 * verify the checksum of every file its manifest lists.  Files are spread over the ranks;
 * every bad or missing file is named, and the command fails if any is. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "core/alloc.h"
#include "core/hash.h"
#include "core/log.h"
#include "io/bundle.h"
#include "io/ivffile.h"
#include "io/manifest.h"
#include "io/model.h"
#include "io/output.h"
#include "io/shard.h"
#include "jobs/commands.h"
#include "jobs/dataset.h"
#include "jobs/index.h"
#include "jobs/publish.h"

static int verify_files(hr_job *job, json_t *m, const char *dir, uint64_t *nfiles, uint64_t *nbad)
{
    json_t *files = json_object_get(m, "files");
    const char *key;
    json_t *v;
    uint64_t k = 0, bad = 0;
    json_object_foreach(files, key, v) {
        if (k++ % (uint64_t)job->size != (uint64_t)job->rank) continue;
        char path[4096];
        uint64_t cs, bytes;
        hr_error e = { 0 };
        snprintf(path, sizeof path, "%s/%s", dir, key);
        int rc = hr_manifest_file(m, "manifest.json", key, &cs, &bytes, &e);
        if (rc == 0) rc = hr_file_verify(path, cs, bytes, &e);
        if (rc < 0) {
            hr_log_error("%s", e.msg);
            bad++;
        }
    }
    *nfiles = k;
    *nbad = bad;
    return hr_comm_allreduce_sum_u64(job->comm, nbad, 1);
}

/* Summary keys shared by every kind, and the verdict on the files checked. */
static int verification_result(hr_job *job, const char *kind, const char *path, uint64_t nfiles, uint64_t nbad)
{
    hr_job_set_str(job, "kind", kind);
    hr_job_set_int(job, "files_verified", (int64_t)nfiles);
    hr_job_set_int(job, "files_bad", (int64_t)nbad);
    if (nbad)
        return hr_error_set(&job->err, HR_ERR_CHECKSUM, "%s: %llu file(s) failed verification (named above)", path,
                            (unsigned long long)nbad);
    return 0;
}

/* --dump PREFIX: every interaction as text, PREFIX.RRRRR.tsv per rank (user, item, value,
 * timestamp in external ids), so datasets can be compared and exported.  The folder of PREFIX
 * is created if missing.  Each part file is committed whole (io/output.h); once every rank has
 * written its part, rank 0 removes the parts of an earlier dump that this one did not write
 * (PREFIX.RRRRR.tsv for RRRRR >= ranks); after a failure it removes every part, so no mix of
 * an old and a new dump is left. */
static int dump_dataset(hr_job *job, const char *dir, const char *prefix)
{
    hr_dataset ds;
    int rc = hr_dataset_load(job, dir, HR_LOAD_BY_USER, &ds);
    if (rc < 0) {
        hr_dataset_free(&ds);
        return rc;
    }
    char path[4096];
    if (job->rank == 0) {
        snprintf(path, sizeof path, "%s", prefix);
        char *slash = strrchr(path, '/');
        if (slash && slash != path) {
            *slash = '\0';
            rc = hr_mkdirs(path, &job->err);
        }
    }
    rc = hr_comm_agree(job->comm, rc, &job->err);
    snprintf(path, sizeof path, "%s.%05d.tsv", prefix, job->rank);
    hr_output *o = NULL;
    if (rc == 0) rc = hr_output_open(path, 0, 1, &o, &job->err);
    const hr_block *b = &ds.by_user;
    for (uint64_t r = 0; rc == 0 && r < b->nrows; r++) {
        char tu[HR_DICT_INT_CHARS], ti[HR_DICT_INT_CHARS];
        size_t ul, il;
        const char *u = hr_dict_key(&ds.users, b->gid[r], tu, &ul);
        for (uint64_t e = b->ptr[r]; rc == 0 && e < b->ptr[r + 1]; e++) {
            const char *i = hr_dict_key(&ds.items, b->idx[e], ti, &il);
            /* ids as bytes, whole (any length, any byte) */
            rc = hr_output_write(o, u, ul, &job->err);
            if (rc == 0) rc = hr_output_write(o, "\t", 1, &job->err);
            if (rc == 0) rc = hr_output_write(o, i, il, &job->err);
            if (rc == 0) rc = hr_output_printf(o, &job->err, "\t%.9g\t%lld\n", (double)b->val[e], (long long)b->ts[e]);
        }
    }
    if (rc == 0) rc = hr_output_commit(o, NULL, NULL, &job->err);
    else if (o) hr_output_abort(o);   /* o is unset when the open failed */
    hr_dataset_free(&ds);
    rc = hr_comm_agree(job->comm, rc, &job->err);
    if (job->rank == 0) hr_outdir_prune_parts(prefix, ".tsv", rc == 0 ? (uint64_t)job->size : 0);
    return rc;
}

static void print_erasures(json_t *m, int model);

static int inspect_dataset(hr_job *job, const char *dir)
{
    char mpath[4096];
    hr_dataset_manifest_path(dir, mpath, sizeof mpath);
    json_t *m;
    int rc = hr_manifest_read(mpath, HR_DATASET_FORMAT, HR_DATASET_VERSION, &m, &job->err);
    HR_TRY(hr_comm_agree(job->comm, rc, &job->err));
    uint64_t nfiles, nbad;
    rc = verify_files(job, m, dir, &nfiles, &nbad);
    if (rc == 0 && job->rank == 0) {
        json_t *p = json_object_get(m, "partition"), *ing = json_object_get(m, "ingest"), *lin = json_object_get(m, "lineage");
        printf("dataset    %s (format %s v%lld, written by %s at %s)\n", dir, HR_DATASET_FORMAT,
               (long long)json_integer_value(json_object_get(m, "version")),
               json_string_value(json_object_get(m, "software")), json_string_value(json_object_get(m, "created")));
        printf("contents   %lld users (%s ids), %lld items (%s ids), %lld interactions\n",
               (long long)json_integer_value(json_object_get(m, "users")), json_string_value(json_object_get(m, "user_ids")),
               (long long)json_integer_value(json_object_get(m, "items")), json_string_value(json_object_get(m, "item_ids")),
               (long long)json_integer_value(json_object_get(m, "interactions")));
        json_t *val = json_object_get(m, "value"), *tm = json_object_get(m, "time");
        if (val)
            printf("values     min %g, max %g, mean %.4f; time %lld .. %lld\n", json_number_value(json_object_get(val, "min")),
                   json_number_value(json_object_get(val, "max")), json_number_value(json_object_get(val, "mean")),
                   (long long)json_integer_value(json_object_get(tm, "min")), (long long)json_integer_value(json_object_get(tm, "max")));
        printf("partition  %s, %lld blocks, imbalance users %.3f items %.3f\n", json_string_value(json_object_get(p, "scheme")),
               (long long)json_integer_value(json_object_get(p, "blocks")), json_number_value(json_object_get(p, "user_imbalance")),
               json_number_value(json_object_get(p, "item_imbalance")));
        if (ing)
            printf("ingest     %lld rows read = %lld accepted + %lld rejected\n",
                   (long long)json_integer_value(json_object_get(ing, "rows_read")),
                   (long long)json_integer_value(json_object_get(ing, "rows_accepted")),
                   (long long)json_integer_value(json_object_get(ing, "rows_rejected")));
        printf("lineage    %s", json_string_value(json_object_get(lin, "command")));
        json_t *inputs = json_object_get(lin, "inputs"), *parents = json_object_get(lin, "parents");
        if (inputs) printf(", %zu input files", json_array_size(inputs));
        if (parents) printf(", from %s", json_string_value(json_object_get(json_array_get(parents, 0), "path")));
        printf("\n");
        print_erasures(m, 0);
        printf("checksums  %llu files, %llu bad\n", (unsigned long long)nfiles, (unsigned long long)nbad);
        fflush(stdout);
    }
    if (rc == 0) {
        hr_job_set_int(job, "users", json_integer_value(json_object_get(m, "users")));
        hr_job_set_int(job, "items", json_integer_value(json_object_get(m, "items")));
        hr_job_set_int(job, "interactions", json_integer_value(json_object_get(m, "interactions")));
        rc = verification_result(job, "dataset", dir, nfiles, nbad);
    }
    json_decref(m);
    return rc;
}

/* Erasures (hpcrec forget) recorded in a manifest: one line; for a model, what they mean. */
static void print_erasures(json_t *m, int model)
{
    json_t *e = json_object_get(m, "erasures");
    if (!json_is_array(e) || json_array_size(e) == 0) return;
    json_int_t users = 0, rows = 0;
    size_t k;
    json_t *x;
    json_array_foreach(e, k, x) {
        users += json_integer_value(json_object_get(x, "users_removed"));
        rows += json_integer_value(json_object_get(x, "rows_removed"));
    }
    json_t *last = json_array_get(e, json_array_size(e) - 1);
    printf("erasures   revision %lld: %zu erasures, %lld users removed", (long long)json_integer_value(json_object_get(m, "revision")),
           json_array_size(e), (long long)users);
    if (!model) printf(", %lld interactions", (long long)rows);
    printf(", last at %s (list %.16s)\n", json_string_value(json_object_get(last, "time")),
           json_string_value(json_object_get(last, "list_hmac")));
    if (model)
        printf("warning    the item rows of this model were trained with the data of the %lld erased users; retrain to remove it\n",
               (long long)users);
}

/* A model bundle: rank 0 streams it through hr_bundle_verify (every member's checksum and
 * decompression, and for format 2 each member's listed place), holding one chunk at a time. */
static int inspect_model(hr_job *job, const char *path)
{
    int rc = 0;
    if (job->rank == 0) {
        json_t *m = NULL;
        size_t nmem = 0;
        rc = hr_bundle_verify(path, HR_MODEL_FORMAT, HR_MODEL_VERSION, &m, &nmem, &job->err);
        if (rc == 0) {
            json_t *lin = json_object_get(m, "lineage"), *par = json_object_get(m, "params");
            printf("model      %s (format %s v%lld, written by %s at %s)\n", path, HR_MODEL_FORMAT,
                   (long long)json_integer_value(json_object_get(m, "version")), json_string_value(json_object_get(m, "software")),
                   json_string_value(json_object_get(m, "created")));
            printf("algorithm  %s (%s), k=%lld, %lld users, %lld items, %lld iterations, final loss %g, trained on %lld ranks\n",
                   json_string_value(json_object_get(m, "algo")), json_string_value(json_object_get(m, "kind")),
                   (long long)json_integer_value(json_object_get(m, "k")), (long long)json_integer_value(json_object_get(m, "users")),
                   (long long)json_integer_value(json_object_get(m, "items")), (long long)json_integer_value(json_object_get(m, "iterations")),
                   json_number_value(json_object_get(m, "final_loss")), (long long)json_integer_value(json_object_get(m, "ranks")));
            if (par) {   /* every hyper-parameter the algorithm recorded, in the manifest's order */
                const char *key, *sep = "";
                json_t *v;
                printf("params     ");
                json_object_foreach(par, key, v) {
                    if (json_is_string(v)) printf("%s%s %s", sep, key, json_string_value(v));
                    else if (json_is_integer(v)) printf("%s%s %lld", sep, key, (long long)json_integer_value(v));
                    else if (json_is_number(v)) printf("%s%s %g", sep, key, json_number_value(v));
                    sep = ", ";
                }
                printf("\n");
            }
            if (lin) printf("lineage    dataset %s\n", json_string_value(json_object_get(lin, "dataset")));
            print_erasures(m, 1);
            hr_job_set_int(job, "revision", json_integer_value(json_object_get(m, "revision")));
            hr_job_set_int(job, "erased_users", 0);
            {
                json_t *e = json_object_get(m, "erasures"), *x;
                size_t k;
                json_int_t eu = 0;
                json_array_foreach(e, k, x) eu += json_integer_value(json_object_get(x, "users_removed"));
                hr_job_set_int(job, "erased_users", eu);
                /* item rows still carry erased users' data until the next retraining */
                hr_job_set_int(job, "trained_with_erased_users", eu > 0);
            }
            json_t *arrays = json_object_get(m, "arrays");
            const char *key;
            json_t *a;
            json_object_foreach(arrays, key, a)
                printf("array      %-17s %lld x %lld in %lld members of %lld rows\n", key,
                       (long long)json_integer_value(json_object_get(a, "rows")), (long long)json_integer_value(json_object_get(a, "cols")),
                       (long long)json_integer_value(json_object_get(a, "members")), (long long)json_integer_value(json_object_get(a, "block")));
            json_t *cm = json_object_get(m, "content");
            if (cm) {   /* the content map of train --item-features (jobs/content.h) */
                json_t *fm = json_object_get(cm, "formats"), *f;
                size_t fi;
                printf("content    map of %lld features (of %lld) + intercept to %lld columns, lambda %g, fitted on %lld warm items; formats",
                       (long long)json_integer_value(json_object_get(cm, "features")),
                       (long long)json_integer_value(json_object_get(cm, "features_total")),
                       (long long)json_integer_value(json_object_get(cm, "width")), json_number_value(json_object_get(cm, "lambda")),
                       (long long)json_integer_value(json_object_get(cm, "warm_items_fitted")));
                json_array_foreach(fm, fi, f) printf("%s %s", fi ? "," : "", json_string_value(f));
                printf("\n");
                hr_job_set_int(job, "content_features", json_integer_value(json_object_get(cm, "features")));
            }
            printf("checksums  %zu members verified\n", nmem);
            fflush(stdout);
            hr_job_set_str(job, "kind", "model");
            hr_job_set_str(job, "algo", json_string_value(json_object_get(m, "algo")));
            hr_job_set_int(job, "users", json_integer_value(json_object_get(m, "users")));
            hr_job_set_int(job, "items", json_integer_value(json_object_get(m, "items")));
            hr_job_set_int(job, "format_version", json_integer_value(json_object_get(m, "version")));
            hr_job_set_int(job, "members_verified", (int64_t)nmem);
        }
        json_decref(m);
    }
    return hr_comm_agree(job->comm, rc, &job->err);
}

/* A checkpoint directory (jobs/checkpoint.h): manifest summary and every file's checksum. */
static int inspect_checkpoint(hr_job *job, const char *dir)
{
    char mpath[4096];
    snprintf(mpath, sizeof mpath, "%s/manifest.json", dir);
    json_t *m;
    int rc = hr_manifest_read(mpath, "hpcrec-checkpoint", 1, &m, &job->err);
    HR_TRY(hr_comm_agree(job->comm, rc, &job->err));
    uint64_t nfiles, nbad;
    rc = verify_files(job, m, dir, &nfiles, &nbad);
    if (rc == 0 && job->rank == 0) {
        json_t *id = json_object_get(m, "identity");
        printf("checkpoint %s (written by %s at %s on %lld ranks)\n", dir, json_string_value(json_object_get(m, "software")),
               json_string_value(json_object_get(m, "created")), (long long)json_integer_value(json_object_get(m, "ranks")));
        printf("state      iteration %lld%s, %s k=%lld, seed %lld, dataset %s\n",
               (long long)json_integer_value(json_object_get(m, "iteration")),
               json_integer_value(json_object_get(m, "half")) ? " + user half" : "", json_string_value(json_object_get(id, "algo")),
               (long long)json_integer_value(json_object_get(id, "factors")), (long long)json_integer_value(json_object_get(id, "seed")),
               json_string_value(json_object_get(id, "dataset")));
        printf("checksums  %llu files, %llu bad\n", (unsigned long long)nfiles, (unsigned long long)nbad);
        fflush(stdout);
    }
    if (rc == 0) {
        hr_job_set_int(job, "iteration", json_integer_value(json_object_get(m, "iteration")));
        rc = verification_result(job, "checkpoint", dir, nfiles, nbad);
    }
    json_decref(m);
    return rc;
}

int hr_cmd_inspect(hr_job *job, int argc, char **argv)
{
    const char *target = NULL, *dump = NULL;
    for (int k = 1; k < argc; k++) {
        if (!strcmp(argv[k], "--json") && k + 1 < argc) job->json_path = argv[++k];
        else if (!strcmp(argv[k], "--dump") && k + 1 < argc) dump = argv[++k];
        else if (!strcmp(argv[k], "--help")) {
            if (job->rank == 0) puts("hpcrec inspect DATASET|MODEL.tar|CHECKPOINT|INDEX [--json FILE] [--dump PREFIX]");
            return 0;
        } else if (!target && argv[k][0] != '-') target = argv[k];
        else return hr_error_set(&job->err, HR_ERR_ARG, "inspect: unexpected argument '%s'", argv[k]);
    }
    if (!target) return hr_error_set(&job->err, HR_ERR_ARG, "usage: hpcrec inspect DATASET|MODEL.tar|CHECKPOINT|INDEX [--json FILE]");
    char part0[4200];
    snprintf(part0, sizeof part0, "%s.00000.tsv", dump ? dump : "");
    hr_pathspec ps[] = { { "DATASET", target, HR_IN }, { "--dump", dump ? part0 : NULL, HR_OUT_FILE },
                         { "--json", job->json_path, HR_OUT_FILE } };
    HR_TRY(hr_publish_check(job, ps, 3));
    struct stat st;
    if (stat(target, &st) != 0) return hr_error_set(&job->err, HR_ERR_IO, "%s: no such file or directory", target);
    char mpath[4096];
    hr_dataset_manifest_path(target, mpath, sizeof mpath);
    if (S_ISDIR(st.st_mode) && stat(mpath, &st) == 0) {
        json_t *probe = json_load_file(mpath, 0, NULL);
        const char *fmt = json_string_value(json_object_get(probe, "format"));
        int is_ckpt = fmt && !strcmp(fmt, "hpcrec-checkpoint"), is_index = fmt && !strcmp(fmt, HR_INDEX_FORMAT);
        json_decref(probe);
        if (is_ckpt) return inspect_checkpoint(job, target);
        if (is_index) return hr_index_inspect(job, target);
        HR_TRY(inspect_dataset(job, target));
        return dump ? dump_dataset(job, target, dump) : 0;
    }
    if (S_ISREG(st.st_mode)) return inspect_model(job, target);
    return hr_error_set(&job->err, HR_ERR_FORMAT, "%s: not a dataset directory (no manifest.json) nor a model bundle", target);
}
