/* hpcrec split — train/test datasets from one dataset.
 *
 * Modes (exactly one):
 *   --before TIME   events with timestamp < TIME go to train, the rest to test.  TIME is Unix
 *                   seconds, an ISO-8601 date/time, or pNN: the NN-th percentile of all
 *                   timestamps (exact: found by bisection with one allreduce per step).
 *   --last K        per user, the K latest events (ties: higher item id later) go to test;
 *                   a user keeps at least one event in train (test gets min(K, n-1)).
 *   --random FRAC   per user, round(FRAC * n) events chosen by a seeded hash of
 *                   (seed, user, item) go to test; a user with n >= 2 keeps at least one in
 *                   train.  The choice depends only on ids, never on the rank count.
 * Both outputs keep the input's dictionaries, so user/item ids mean the same in train, test
 * and every model trained on them.  Users and items that appear only in test are reported. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/rng.h"
#include "core/timer.h"
#include "io/manifest.h"
#include "io/rowparse.h"
#include "jobs/commands.h"
#include "jobs/dataset.h"
#include "jobs/publish.h"

static const char usage[] =
    "hpcrec split --data DATASET --train OUT --test OUT (--before TIME|pNN | --last K | --random FRAC) [--seed S] [--json FILE]\n";

typedef struct { int64_t ts; uint32_t item; uint64_t key; uint64_t pos; } entry;

static int cmp_time(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    if (x->ts != y->ts) return x->ts < y->ts ? -1 : 1;
    return (x->item > y->item) - (x->item < y->item);
}

static int cmp_key(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    if (x->key != y->key) return x->key < y->key ? -1 : 1;
    return (x->item > y->item) - (x->item < y->item);
}

/* Exact q-quantile of all timestamps: smallest T with count(ts <= T) >= q * total. */
static int time_quantile(hr_job *job, const hr_block *b, double q, int64_t *out)
{
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (uint64_t e = 0; e < b->nnz; e++) {
        if (b->ts[e] < lo) lo = b->ts[e];
        if (b->ts[e] > hi) hi = b->ts[e];
    }
    HR_TRY(hr_comm_allreduce_min_i64(job->comm, &lo, 1));
    HR_TRY(hr_comm_allreduce_max_i64(job->comm, &hi, 1));
    uint64_t total = b->nnz;
    HR_TRY(hr_comm_allreduce_sum_u64(job->comm, &total, 1));
    uint64_t want = (uint64_t)ceil(q * (double)total);
    if (want < 1) want = 1;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        uint64_t c = 0;
        for (uint64_t e = 0; e < b->nnz; e++) c += b->ts[e] <= mid;
        HR_TRY(hr_comm_allreduce_sum_u64(job->comm, &c, 1));
        if (c >= want) hi = mid;
        else lo = mid + 1;
    }
    *out = lo;
    return 0;
}

int hr_cmd_split(hr_job *job, int argc, char **argv)
{
    static const struct option lo[] = {
        { "data", required_argument, 0, 'd' }, { "train", required_argument, 0, 't' },
        { "test", required_argument, 0, 'T' }, { "before", required_argument, 0, 'b' },
        { "last", required_argument, 0, 'l' }, { "random", required_argument, 0, 'r' },
        { "seed", required_argument, 0, 's' }, { "json", required_argument, 0, 'j' },
        { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 } };
    const char *data = NULL, *train = NULL, *test = NULL, *before = NULL;
    int64_t last = -1, seed = 42;
    double frac = -1;
    int modes = 0, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'd': data = optarg; break;
        case 't': train = optarg; break;
        case 'T': test = optarg; break;
        case 'b': before = optarg; modes++; break;
        case 'l': HR_TRY(hr_opt_i64(job, "--last", optarg, 1, 1 << 30, &last)); modes++; break;
        case 'r': HR_TRY(hr_opt_f64(job, "--random", optarg, 0.0, 1.0, &frac)); modes++; break;
        case 's': HR_TRY(hr_opt_i64(job, "--seed", optarg, 0, INT64_MAX, &seed)); break;
        case 'j': job->json_path = optarg; break;
        case 'h': if (job->rank == 0) fputs(usage, stdout); return 0;
        default: return hr_opt_usage(job, usage);
        }
    }
    if (!data || !train || !test || modes != 1)
        return hr_error_set(&job->err, HR_ERR_ARG, "need --data, --train, --test and exactly one of --before/--last/--random\n%s", usage);
    hr_pathspec ps[] = { { "--data", data, HR_IN }, { "--train", train, HR_OUT_DIR }, { "--test", test, HR_OUT_DIR },
                         { "--json", job->json_path, HR_OUT_FILE } };
    HR_TRY(hr_publish_check(job, ps, 4));
    int64_t cut = 0;
    double q = -1;
    if (before) {
        if (before[0] == 'p') {
            if (hr_opt_f64(job, "--before", before + 1, 0, 100, &q) < 0) return job->err.code;
            q /= 100.0;
        } else if (hr_parse_time(before, strlen(before), &cut) != 0) {
            return hr_error_set(&job->err, HR_ERR_ARG, "--before: '%s' is not Unix seconds, an ISO-8601 date or pNN", before);
        }
    }
    double t0 = hr_now();
    hr_dataset ds;
    int rc = hr_dataset_load(job, data, HR_LOAD_BY_USER, &ds);
    if (rc < 0) {
        hr_dataset_free(&ds);
        return rc;
    }
    const hr_block *b = &ds.by_user;
    if (q >= 0) {
        rc = time_quantile(job, b, q, &cut);
        /* "before the p-quantile" = strictly after it goes to test */
        cut += 1;
        if (rc == 0) hr_progress("split      p%g of timestamps = %lld", q * 100, (long long)(cut - 1));
    }
    uint8_t *is_test = hr_calloc(b->nnz ? b->nnz : 1, 1);
    uint64_t maxrow = 0;
    for (uint64_t r = 0; r < b->nrows; r++)
        if (b->ptr[r + 1] - b->ptr[r] > maxrow) maxrow = b->ptr[r + 1] - b->ptr[r];
    entry *tmp = hr_malloc((maxrow ? maxrow : 1) * sizeof *tmp);
    for (uint64_t r = 0; rc == 0 && r < b->nrows; r++) {
        uint64_t s = b->ptr[r], n = b->ptr[r + 1] - s;
        if (before) {
            for (uint64_t e = s; e < s + n; e++) is_test[e] = b->ts[e] >= cut;
            continue;
        }
        if (n < 2) continue;
        for (uint64_t k = 0; k < n; k++) {
            uint64_t e = s + k;
            hr_rng g = hr_rng_stream((uint64_t)seed, HR_STREAM_SPLIT, ((uint64_t)b->gid[r] << 32) | b->idx[e]);
            tmp[k] = (entry){ b->ts[e], b->idx[e], hr_rng_u64(&g), e };
        }
        uint64_t ntest;
        if (last > 0) {
            qsort(tmp, n, sizeof *tmp, cmp_time);
            ntest = (uint64_t)last < n - 1 ? (uint64_t)last : n - 1;
            for (uint64_t k = n - ntest; k < n; k++) is_test[tmp[k].pos] = 1;
        } else {
            qsort(tmp, n, sizeof *tmp, cmp_key);
            ntest = (uint64_t)llround(frac * (double)n);
            if (ntest > n - 1) ntest = n - 1;
            for (uint64_t k = 0; k < ntest; k++) is_test[tmp[k].pos] = 1;
        }
    }
    hr_free(tmp);
    /* Build the two triple sets and the "only in test" counts. */
    uint64_t ntest = 0;
    for (uint64_t e = 0; e < b->nnz; e++) ntest += is_test[e];
    uint64_t ntrain = b->nnz - ntest;
    hr_triple *tr = hr_malloc((ntrain ? ntrain : 1) * sizeof *tr), *te = hr_malloc((ntest ? ntest : 1) * sizeof *te);
    uint8_t *user_flags = hr_calloc(ds.users.n ? ds.users.n : 1, 1), *item_flags = hr_calloc(ds.items.n ? ds.items.n : 1, 1);
    uint64_t a = 0, z = 0;
    for (uint64_t r = 0; r < b->nrows; r++)
        for (uint64_t e = b->ptr[r]; e < b->ptr[r + 1]; e++) {
            hr_triple x = { b->gid[r], b->idx[e], b->val[e], 0, b->ts[e], 0 };
            uint8_t bit = is_test[e] ? 2 : 1;
            user_flags[x.u] |= bit;
            item_flags[x.i] |= bit;
            if (is_test[e]) te[z++] = x;
            else tr[a++] = x;
        }
    hr_free(is_test);
    /* Presence in train and in test, OR-ed over ranks (max of 0/1), to count ids only in test. */
    uint64_t *uf = hr_malloc((ds.users.n + ds.items.n + 1) * sizeof *uf);
    for (uint64_t k = 0; k < ds.users.n; k++) uf[k] = user_flags[k];
    for (uint64_t k = 0; k < ds.items.n; k++) uf[ds.users.n + k] = item_flags[k];
    uint64_t *tr_bits = hr_malloc((ds.users.n + ds.items.n + 1) * sizeof *tr_bits);
    for (uint64_t k = 0; k < ds.users.n + ds.items.n; k++) {
        tr_bits[k] = uf[k] & 1;
        uf[k] = (uf[k] >> 1) & 1;
    }
    if (rc == 0) rc = hr_comm_allreduce_max_u64(job->comm, tr_bits, ds.users.n + ds.items.n);
    if (rc == 0) rc = hr_comm_allreduce_max_u64(job->comm, uf, ds.users.n + ds.items.n);
    uint64_t users_only_test = 0, items_only_test = 0;
    for (uint64_t k = 0; k < ds.users.n; k++) users_only_test += uf[k] && !tr_bits[k];
    for (uint64_t k = 0; k < ds.items.n; k++) items_only_test += uf[ds.users.n + k] && !tr_bits[ds.users.n + k];
    hr_free(uf);
    hr_free(tr_bits);
    hr_free(user_flags);
    hr_free(item_flags);
    uint64_t tot[2] = { ntrain, ntest };
    if (rc == 0) rc = hr_comm_allreduce_sum_u64(job->comm, tot, 2);

    char mpath[4096], hex[17];
    uint64_t mcs = 0;
    hr_dataset_manifest_path(data, mpath, sizeof mpath);
    if (rc == 0) rc = hr_checksum_file(mpath, &mcs, NULL, &job->err);
    hr_checksum_hex(mcs, hex);
    const char *mode = before ? "before" : last > 0 ? "last" : "random";
    /* Both sides are written, then published together: a failure leaves both old ones. */
    hr_publish pub[2];
    memset(pub, 0, sizeof pub);
    rc = hr_comm_agree(job->comm, rc, &job->err);   /* hr_publish_begin is collective */
    for (int side = 0; side < 2 && rc == 0; side++) {
        rc = hr_publish_begin(job, side == 0 ? train : test, "manifest.json", HR_DATASET_FORMATS, &pub[side]);
        if (rc == 0) rc = hr_dataset_prepare_dir(job, pub[side].dir);
    }
    for (int side = 0; side < 2 && rc == 0; side++) {
        json_t *lineage = json_pack("{s:s,s:s,s:s,s:I,s:I,s:f,s:I,s:[{s:s,s:s}]}", "command", "split", "side",
                                    side == 0 ? "train" : "test", "mode", mode, "before", (json_int_t)cut, "last",
                                    (json_int_t)last, "random", frac, "seed", (json_int_t)seed, "parents", "path", data,
                                    "manifest_xxh3", hex);
        json_t *part = json_object_get(ds.manifest, "partition");
        hr_part_scheme scheme = HR_PART_BALANCED;
        hr_part_scheme_parse(json_string_value(json_object_get(part, "scheme")), &scheme);
        hr_dataset_spec spec = { .dir = pub[side].dir, .name = side == 0 ? train : test, .scheme = scheme,
                                 .zstd_level = 1, .lineage = lineage };
        uint64_t n = side == 0 ? a : z;
        hr_triple **t = side == 0 ? &tr : &te;
        rc = hr_dataset_write(job, &spec, &ds.users, &ds.items, t, &n);
    }
    rc = hr_publish_end(job, &pub[0], rc);
    rc = hr_publish_end(job, &pub[1], rc);
    hr_free(tr);
    hr_free(te);
    if (rc == 0) {
        hr_job_set_int(job, "train_interactions", (int64_t)tot[0]);
        hr_job_set_int(job, "test_interactions", (int64_t)tot[1]);
        hr_job_set_int(job, "users_only_in_test", (int64_t)users_only_test);
        hr_job_set_int(job, "items_only_in_test", (int64_t)items_only_test);
        hr_job_set_str(job, "mode", mode);
        if (before) hr_job_set_int(job, "before", cut);
        hr_progress("split      %llu train + %llu test = %llu; %llu users and %llu items only in test; %.2fs",
                    (unsigned long long)tot[0], (unsigned long long)tot[1], (unsigned long long)(tot[0] + tot[1]),
                    (unsigned long long)users_only_test, (unsigned long long)items_only_test, hr_now() - t0);
    }
    hr_dataset_free(&ds);
    return rc;
}
