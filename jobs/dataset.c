#include "jobs/dataset.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/timer.h"
#include "io/manifest.h"
#include "io/output.h"
#include "io/shard.h"
#include "partition/inplace.h"

const char *const HR_DATASET_FORMATS[] = { HR_DATASET_FORMAT, NULL };

void hr_dataset_manifest_path(const char *dir, char *buf, size_t cap) { snprintf(buf, cap, "%s/manifest.json", dir); }

void hr_dataset_free(hr_dataset *ds)
{
    if (!ds) return;
    hr_free(ds->dir);
    if (ds->manifest) json_decref(ds->manifest);
    hr_dict_free(&ds->users);
    hr_dict_free(&ds->items);
    hr_part_free(&ds->upart);
    hr_part_free(&ds->ipart);
    hr_block_free(&ds->by_user);
    hr_block_free(&ds->by_item);
    memset(ds, 0, sizeof *ds);
}

int hr_dataset_build_dict(hr_job *job, hr_intern *local, hr_dict *d, uint32_t **map)
{
    char *pack;
    uint64_t bytes, total;
    hr_intern_pack(local, &pack, &bytes);
    uint64_t *counts = hr_malloc((size_t)job->size * sizeof *counts);
    void *all;
    int rc = hr_comm_allgatherv(job->comm, pack, bytes, 1, &all, counts, &total);
    hr_free(pack);
    hr_free(counts);
    if (rc < 0) return rc;
    hr_dict_build(d, all, total);
    hr_free(all);
    uint32_t n = hr_intern_count(local);
    *map = hr_malloc((n ? n : 1) * sizeof **map);
    for (uint32_t k = 0; k < n; k++) {
        size_t len;
        const char *key = hr_intern_key(local, k, &len);
        (*map)[k] = (uint32_t)hr_dict_find(d, key, len);
    }
    return 0;
}

void hr_dataset_stats_init(hr_dataset_stats *st)
{
    *st = (hr_dataset_stats){ 0, INFINITY, -INFINITY, 0.0, INT64_MAX, INT64_MIN };
}

void hr_dataset_stats_add(hr_dataset_stats *st, const hr_triple *t, uint64_t n, uint64_t *unnz, uint64_t *innz)
{
    for (uint64_t k = 0; k < n; k++) {
        const hr_triple *x = &t[k];
        unnz[x->u]++;
        innz[x->i]++;
        if (x->v < st->vmin) st->vmin = x->v;
        if (x->v > st->vmax) st->vmax = x->v;
        st->vsum += x->v;
        if (x->ts < st->tmin) st->tmin = x->ts;
        if (x->ts > st->tmax) st->tmax = x->ts;
    }
    st->total += n;
}

int hr_dataset_stats_reduce(hr_job *job, hr_dataset_stats *st, uint64_t *unnz, uint64_t nu, uint64_t *innz, uint64_t ni)
{
    HR_TRY(hr_comm_allreduce_sum_u64(job->comm, unnz, nu));
    HR_TRY(hr_comm_allreduce_sum_u64(job->comm, innz, ni));
    HR_TRY(hr_comm_allreduce_sum_u64(job->comm, &st->total, 1));
    HR_TRY(hr_comm_allreduce_sum_f64(job->comm, &st->vsum, 1));
    HR_TRY(hr_comm_allreduce_min_f64(job->comm, &st->vmin, 1));
    HR_TRY(hr_comm_allreduce_max_f64(job->comm, &st->vmax, 1));
    HR_TRY(hr_comm_allreduce_min_i64(job->comm, &st->tmin, 1));
    return hr_comm_allreduce_max_i64(job->comm, &st->tmax, 1);
}

int hr_dataset_prepare_dir(hr_job *job, const char *dir)
{
    int rc = 0;
    char sub[4096];
    if (job->rank == 0) {
        snprintf(sub, sizeof sub, "%s/by-user", dir);
        rc = hr_mkdirs(sub, &job->err);
        snprintf(sub, sizeof sub, "%s/by-item", dir);
        if (rc == 0) rc = hr_mkdirs(sub, &job->err);
        snprintf(sub, sizeof sub, "%s/rejects", dir);
        if (rc == 0) rc = hr_mkdirs(sub, &job->err);
    }
    return hr_comm_agree(job->comm, rc, &job->err);
}

/* Shuffle triples to the owners (by user or item), sort and write this rank's shard. */
static int write_side(hr_job *job, const hr_dataset_spec *spec, const hr_part *p, int by_item, int grouped,
                      const uint64_t *nnz, hr_triple **t, uint64_t *n, uint64_t file_info[2])
{
    if (!grouped) HR_TRY(hr_part_shuffle_sort(job->comm, p, by_item, t, n));
    char path[4096];
    snprintf(path, sizeof path, "%s/%s/part-%05d.bin.zst", spec->dir, by_item ? "by-item" : "by-user", job->rank);
    /* straight from the sorted triples: no block arrays to allocate (io/shard.h) */
    /* after the shuffle every entry of this rank's rows is here: the global counts are its rows' */
    return hr_shard_write_triples(path, *t, *n, p, job->rank, by_item, nnz, spec->zstd_level, &file_info[0], &file_info[1],
                                  &job->err);
}

int hr_dataset_write(hr_job *job, const hr_dataset_spec *spec, hr_dict *users, hr_dict *items,
                     hr_triple **t, uint64_t *n)
{
    int P = job->size, rc = 0;
    double t0 = hr_now();
    /* Interactions per user and item (global), value/time range: the caller's, or one pass. */
    hr_dataset_stats st;
    if (spec->stats) {
        st = *spec->stats;
    } else {
        hr_free(users->nnz);
        hr_free(items->nnz);
        users->nnz = hr_calloc(users->n ? users->n : 1, sizeof *users->nnz);
        items->nnz = hr_calloc(items->n ? items->n : 1, sizeof *items->nnz);
        hr_dataset_stats_init(&st);
        hr_dataset_stats_add(&st, *t, *n, users->nnz, items->nnz);
        HR_TRY(hr_dataset_stats_reduce(job, &st, users->nnz, users->n, items->nnz, items->n));
    }
    const uint64_t total = st.total;
    const double vstat[2] = { st.vmin, st.vmax }, vsum = st.vsum;
    const int64_t tmin = st.tmin, tmax = st.tmax;

    hr_part up, ip;
    if (spec->user_part) {
        up = *spec->user_part;   /* borrowed: not freed below */
    } else {
        hr_part_build(&up, spec->scheme, P, users->n, users->nnz);
    }
    hr_part_build(&ip, spec->scheme, P, items->n, items->nnz);
    uint64_t files[4] = { 0 };   /* by-user checksum, bytes, by-item checksum, bytes */
    rc = write_side(job, spec, &up, 0, spec->user_part != NULL, users->nnz, t, n, files);
    rc = hr_comm_agree(job->comm, rc, &job->err);   /* before the by-item shuffle (collective) */
    if (rc == 0) rc = write_side(job, spec, &ip, 1, 0, items->nnz, t, n, files + 2);
    HR_FREE(t);
    *n = 0;
    rc = hr_comm_agree(job->comm, rc, &job->err);
    uint64_t *all = hr_calloc((size_t)P * 4, sizeof *all);
    if (rc == 0) {
        memcpy(all + 4 * job->rank, files, sizeof files);
        rc = hr_comm_allreduce_sum_u64(job->comm, all, (size_t)P * 4);
    }
    if (rc == 0 && job->rank == 0) {
        json_t *m = json_object();
        char when[32], path[4096];
        hr_manifest_now(when, sizeof when);
        json_object_set_new(m, "format", json_string(HR_DATASET_FORMAT));
        json_object_set_new(m, "version", json_integer(HR_DATASET_VERSION));
        json_object_set_new(m, "software", json_string("hpcrec " HR_VERSION));
        json_object_set_new(m, "created", json_string(when));
        json_object_set_new(m, "users", json_integer((json_int_t)users->n));
        json_object_set_new(m, "items", json_integer((json_int_t)items->n));
        json_object_set_new(m, "interactions", json_integer((json_int_t)total));
        json_object_set_new(m, "user_ids", json_string(users->is_int ? "integer" : "string"));
        json_object_set_new(m, "item_ids", json_string(items->is_int ? "integer" : "string"));
        if (total) {
            json_object_set_new(m, "value", json_pack("{s:f,s:f,s:f}", "min", vstat[0], "max", vstat[1], "mean", vsum / (double)total));
            json_object_set_new(m, "time", json_pack("{s:I,s:I}", "min", (json_int_t)tmin, "max", (json_int_t)tmax));
        }
        json_t *upn = json_array(), *ipn = json_array(), *shu = json_array(), *shi = json_array();
        for (int r = 0; r < P; r++) {
            json_array_append_new(upn, json_integer((json_int_t)up.weight[r]));
            json_array_append_new(ipn, json_integer((json_int_t)ip.weight[r]));
            snprintf(path, sizeof path, "by-user/part-%05d.bin.zst", r);
            json_array_append_new(shu, json_string(path));
            hr_manifest_add_file(m, path, all[4 * r + 1], all[4 * r]);
            snprintf(path, sizeof path, "by-item/part-%05d.bin.zst", r);
            json_array_append_new(shi, json_string(path));
            hr_manifest_add_file(m, path, all[4 * r + 3], all[4 * r + 2]);
        }
        json_object_set_new(m, "partition", json_pack("{s:s,s:i,s:o,s:o,s:f,s:f}", "scheme", hr_part_scheme_name(spec->scheme),
                                                      "blocks", P, "user_block_interactions", upn, "item_block_interactions", ipn,
                                                      "user_imbalance", hr_part_imbalance(&up), "item_imbalance", hr_part_imbalance(&ip)));
        json_object_set_new(m, "shards", json_pack("{s:o,s:o}", "by_user", shu, "by_item", shi));
        uint64_t cs, bytes;
        snprintf(path, sizeof path, "%s/users.dict.zst", spec->dir);
        rc = hr_dictfile_write(path, users, spec->zstd_level, &cs, &bytes, &job->err);
        if (rc == 0) hr_manifest_add_file(m, "users.dict.zst", bytes, cs);
        snprintf(path, sizeof path, "%s/items.dict.zst", spec->dir);
        if (rc == 0) rc = hr_dictfile_write(path, items, spec->zstd_level, &cs, &bytes, &job->err);
        if (rc == 0) hr_manifest_add_file(m, "items.dict.zst", bytes, cs);
        json_object_set(m, "lineage", spec->lineage);
        if (spec->extra) json_object_update(m, spec->extra);
        hr_dataset_manifest_path(spec->dir, path, sizeof path);
        if (rc == 0) rc = hr_manifest_write(path, m, &job->err);
        json_decref(m);
    }
    if (spec->lineage) json_decref(spec->lineage);
    if (spec->extra) json_decref(spec->extra);
    rc = hr_comm_agree(job->comm, rc, &job->err);
    if (rc == 0)
        hr_progress("write      %s: %llu interactions, %llu users, %llu items in %d blocks (%s; imbalance users %.2f items %.2f) %.2fs",
                    spec->name ? spec->name : spec->dir, (unsigned long long)total, (unsigned long long)users->n, (unsigned long long)items->n, P,
                    hr_part_scheme_name(spec->scheme), hr_part_imbalance(&up), hr_part_imbalance(&ip), hr_now() - t0);
    hr_free(all);
    if (!spec->user_part) hr_part_free(&up);
    hr_part_free(&ip);
    return rc;
}

/* The manifest's shard lists against its own record of the partition: as many shards per
 * side as blocks, and an interaction total. */
static int check_coverage(json_t *m, const char *mpath, hr_error *err)
{
    json_t *part = json_object_get(m, "partition"), *sh = json_object_get(m, "shards");
    json_t *blocks = json_object_get(part, "blocks"), *total = json_object_get(m, "interactions");
    if (!json_is_integer(blocks) || json_integer_value(blocks) < 1 || !json_is_integer(total) || json_integer_value(total) < 0)
        return hr_error_set(err, HR_ERR_FORMAT, "%s: no valid partition.blocks or interactions", mpath);
    static const char *const side[2] = { "by_user", "by_item" };
    for (int k = 0; k < 2; k++) {
        size_t n = json_array_size(json_object_get(sh, side[k]));
        if ((json_int_t)n != json_integer_value(blocks))
            return hr_error_set(err, HR_ERR_FORMAT, "%s: lists %zu %s shards, but the partition has %lld blocks", mpath, n, side[k],
                                (long long)json_integer_value(blocks));
    }
    return 0;
}

/* Load one side: own shard when the block count matches, else round-robin + shuffle. */
static int load_side(hr_job *job, hr_dataset *ds, const char *mpath, int by_item, hr_block *out)
{
    json_t *list = json_object_get(json_object_get(ds->manifest, "shards"), by_item ? "by_item" : "by_user");
    size_t nshards = json_array_size(list);
    hr_part *p = by_item ? &ds->ipart : &ds->upart;
    uint64_t nrows = by_item ? ds->items.n : ds->users.n, nother = by_item ? ds->users.n : ds->items.n;
    int rc = 0;
    if (nshards == (size_t)job->size) {
        char path[4096];
        const char *rel = json_string_value(json_array_get(list, (size_t)job->rank));
        uint64_t cs;
        rc = rel ? hr_manifest_file(ds->manifest, mpath, rel, &cs, NULL, &job->err)
                 : hr_error_set(&job->err, HR_ERR_FORMAT, "%s: bad shard list", mpath);
        int side = 0;
        snprintf(path, sizeof path, "%s/%s", ds->dir, rel ? rel : "");
        if (rc == 0) rc = hr_shard_read(path, cs, nrows, nother, out, &side, &job->err);
        if (rc == 0 && side != by_item)
            rc = hr_error_set(&job->err, HR_ERR_FORMAT, "%s: shard is not a %s shard", path, by_item ? "by-item" : "by-user");
        HR_TRY(hr_comm_agree(job->comm, rc, &job->err));
        /* The partition is the one the writer used: every rank's row gids. */
        uint64_t *counts = hr_malloc(((size_t)job->size + 1) * sizeof *counts), total;
        void *gids;
        rc = hr_comm_allgatherv(job->comm, out->gid, out->nrows, sizeof(uint32_t), &gids, counts, &total);
        if (rc == 0 && total != nrows)
            rc = hr_error_set(&job->err, HR_ERR_FORMAT, "%s: shards hold %llu rows, the dictionary %llu", mpath,
                              (unsigned long long)total, (unsigned long long)nrows);
        if (rc == 0) {   /* each id exactly once */
            uint8_t *seen = hr_calloc(nrows ? nrows : 1, 1);
            const uint32_t *g = gids;
            for (uint64_t k = 0; k < total && rc == 0; k++) {
                if (g[k] >= nrows || seen[g[k]]++)
                    rc = hr_error_set(&job->err, HR_ERR_FORMAT, "%s: %s shards list row %u twice or out of range", mpath,
                                      by_item ? "by-item" : "by-user", g[k]);
            }
            hr_free(seen);
        }
        if (rc == 0) {
            uint64_t *off = hr_malloc(((size_t)job->size + 1) * sizeof *off);
            off[0] = 0;
            for (int r = 0; r < job->size; r++) off[r + 1] = off[r] + counts[r];
            hr_part_scheme scheme = p->scheme;
            hr_part_free(p);
            hr_part_from_owned(p, scheme, job->size, nrows, gids, off);
            hr_free(off);
        }
        hr_free(gids);
        hr_free(counts);
        return rc;
    }
    hr_triple *all = NULL;
    uint64_t n = 0;
    for (size_t s = (size_t)job->rank; rc == 0 && s < nshards; s += (size_t)job->size) {
        char path[4096];
        const char *rel = json_string_value(json_array_get(list, s));
        uint64_t cs;
        hr_block b;
        int side = 0;
        rc = rel ? hr_manifest_file(ds->manifest, mpath, rel, &cs, NULL, &job->err)
                 : hr_error_set(&job->err, HR_ERR_FORMAT, "%s: bad shard list", mpath);
        snprintf(path, sizeof path, "%s/%s", ds->dir, rel ? rel : "");
        if (rc == 0) rc = hr_shard_read(path, cs, nrows, nother, &b, &side, &job->err);
        if (rc < 0) break;
        uint64_t k;
        hr_triple *t = hr_block_to_triples(&b, by_item, &k);
        all = hr_realloc(all, (n + k ? n + k : 1) * sizeof *all);
        memcpy(all + n, t, k * sizeof *t);
        n += k;
        hr_free(t);
        hr_block_free(&b);
    }
    rc = hr_comm_agree(job->comm, rc, &job->err);
    if (rc == 0) rc = hr_part_shuffle(job->comm, p, by_item, &all, &n);
    if (rc == 0) {
        hr_triples_sort(all, n, p, job->rank, by_item);
        hr_block_from_triples(out, all, n, NULL, p, job->rank, by_item);
    }
    hr_free(all);
    return rc;
}

int hr_dataset_load(hr_job *job, const char *dir, int what, hr_dataset *ds)
{
    memset(ds, 0, sizeof *ds);
    ds->dir = hr_strdup(dir);
    char mpath[4096], path[4096];
    hr_dataset_manifest_path(dir, mpath, sizeof mpath);
    double t0 = hr_now();
    int rc = hr_manifest_read(mpath, HR_DATASET_FORMAT, HR_DATASET_VERSION, &ds->manifest, &job->err);
    uint64_t cs;
    if (rc == 0) rc = hr_manifest_file(ds->manifest, mpath, "users.dict.zst", &cs, NULL, &job->err);
    snprintf(path, sizeof path, "%s/users.dict.zst", dir);
    if (rc == 0) rc = hr_dictfile_read(path, cs, &ds->users, &job->err);
    if (rc == 0) rc = hr_manifest_file(ds->manifest, mpath, "items.dict.zst", &cs, NULL, &job->err);
    snprintf(path, sizeof path, "%s/items.dict.zst", dir);
    if (rc == 0) rc = hr_dictfile_read(path, cs, &ds->items, &job->err);
    hr_part_scheme scheme = HR_PART_BALANCED;
    if (rc == 0) {
        const char *s = json_string_value(json_object_get(json_object_get(ds->manifest, "partition"), "scheme"));
        if (!s || hr_part_scheme_parse(s, &scheme) != 0)
            rc = hr_error_set(&job->err, HR_ERR_FORMAT, "%s: unknown partition scheme", mpath);
    }
    if (rc == 0) rc = check_coverage(ds->manifest, mpath, &job->err);
    rc = hr_comm_agree(job->comm, rc, &job->err);
    if (rc < 0) {
        hr_error_wrap(&job->err, "loading dataset %s", dir);
        return rc;
    }
    hr_part_build(&ds->upart, scheme, job->size, ds->users.n, ds->users.nnz);
    hr_part_build(&ds->ipart, scheme, job->size, ds->items.n, ds->items.nnz);
    if (what & HR_LOAD_BY_USER) {
        rc = load_side(job, ds, mpath, 0, &ds->by_user);
        ds->has_by_user = rc == 0;
    }
    if (rc == 0 && (what & HR_LOAD_BY_ITEM)) {
        rc = load_side(job, ds, mpath, 1, &ds->by_item);
        ds->has_by_item = rc == 0;
    }
    /* The shards must hold every interaction the manifest records (a hand-edited shard list,
     * a shard cut short in a way its checksum was recomputed for). */
    for (int side = 0; rc == 0 && side < 2; side++) {
        if (!(what & (side ? HR_LOAD_BY_ITEM : HR_LOAD_BY_USER))) continue;
        uint64_t nnz = side ? ds->by_item.nnz : ds->by_user.nnz;
        rc = hr_comm_allreduce_sum_u64(job->comm, &nnz, 1);
        int64_t want = json_integer_value(json_object_get(ds->manifest, "interactions"));
        if (rc == 0 && (int64_t)nnz != want)
            rc = hr_error_set(&job->err, HR_ERR_FORMAT, "%s: the %s shards hold %llu interactions, the manifest records %lld",
                              mpath, side ? "by-item" : "by-user", (unsigned long long)nnz, (long long)want);
    }
    if (rc < 0) {
        hr_error_wrap(&job->err, "loading dataset %s", dir);
        return rc;
    }
    hr_progress("load       %s: %llu users, %llu items, %lld interactions on %d ranks in %.2fs", dir,
                (unsigned long long)ds->users.n, (unsigned long long)ds->items.n,
                (long long)json_integer_value(json_object_get(ds->manifest, "interactions")), job->size, hr_now() - t0);
    return 0;
}
