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
 *   --new-users FRAC --fold-in FRAC2 --fold-in-data OUT [--train-all OUT]
 *                   users drawn by a seeded hash of (seed, user) with probability FRAC are held
 *                   out of train: round(FRAC2 * n) of each one's events (by the same hash as
 *                   --random; at least 1 and at most n - 1 when n >= 2, none when n == 1) go to
 *                   the fold-in dataset, the rest to test.  Train's user dictionary lacks the
 *                   held-out users (a model trained on it does not know them: recommend /
 *                   evaluate fold them in); --train-all writes train plus the fold-in events
 *                   with the full dictionary (the reference: those users as if in training).
 *   --cold-items FRAC
 *                   items drawn by a seeded hash of (seed, item) with probability FRAC go to test
 *                   with all their interactions (cold items: evaluate --cold-items ranks them
 *                   from their content features); every other interaction stays in train.
 * The outputs keep the input's dictionaries (new-users train: less the held-out users), so
 * user/item ids mean the same in train, test and every model trained on them.  Users and items
 * that appear only in test are reported. */
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
    "hpcrec split --data DATASET --train OUT --test OUT (--before TIME|pNN | --last K | --random FRAC) [--seed S] [--json FILE]\n"
    "hpcrec split --data DATASET --train OUT --test OUT --new-users FRAC --fold-in FRAC2 --fold-in-data OUT [--train-all OUT]\n"
    "             [--seed S] [--json FILE]\n"
    "hpcrec split --data DATASET --train OUT --test OUT --cold-items FRAC [--seed S] [--json FILE]\n";

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

/* --new-users: whether user gid is held out of train (a function of the seed and the id). */
static int held_out(int64_t seed, uint32_t gid, double frac)
{
    hr_rng g = hr_rng_stream((uint64_t)seed, HR_STREAM_SPLIT, ((uint64_t)gid << 32) | UINT32_MAX);
    return hr_rng_uniform(&g) < frac;
}

/* --cold-items: whether item gid is cold (a function of the seed and the id). */
static int cold_item(int64_t seed, uint32_t gid, double frac)
{
    hr_rng g = hr_rng_stream((uint64_t)seed, HR_STREAM_SPLIT, ((uint64_t)UINT32_MAX << 32) | gid);
    return hr_rng_uniform(&g) < frac;
}

int hr_cmd_split(hr_job *job, int argc, char **argv)
{
    static const struct option lo[] = {
        { "data", required_argument, 0, 'd' }, { "train", required_argument, 0, 't' },
        { "test", required_argument, 0, 'T' }, { "before", required_argument, 0, 'b' },
        { "last", required_argument, 0, 'l' }, { "random", required_argument, 0, 'r' },
        { "seed", required_argument, 0, 's' }, { "json", required_argument, 0, 'j' },
        { "new-users", required_argument, 0, 'N' }, { "fold-in", required_argument, 0, 'F' },
        { "fold-in-data", required_argument, 0, 'D' }, { "cold-items", required_argument, 0, 'C' }, { "train-all", required_argument, 0, 'A' },
        { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 } };
    const char *data = NULL, *train = NULL, *test = NULL, *before = NULL, *fold_out = NULL, *train_all = NULL;
    int64_t last = -1, seed = 42;
    double frac = -1, new_users = -1, fold_frac = -1, cold_items = -1;
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
        case 'N': HR_TRY(hr_opt_f64(job, "--new-users", optarg, 0.0, 1.0, &new_users)); modes++; break;
        case 'C': HR_TRY(hr_opt_f64(job, "--cold-items", optarg, 0.0, 1.0, &cold_items)); modes++; break;
        case 'F': HR_TRY(hr_opt_f64(job, "--fold-in", optarg, 0.0, 1.0, &fold_frac)); break;
        case 'D': fold_out = optarg; break;
        case 'A': train_all = optarg; break;
        case 'j': job->json_path = optarg; break;
        case 'h': if (job->rank == 0) fputs(usage, stdout); return 0;
        default: return hr_opt_usage(job, usage);
        }
    }
    if (!data || !train || !test || modes != 1)
        return hr_error_set(&job->err, HR_ERR_ARG, "need --data, --train, --test and exactly one of --before/--last/--random/--new-users/--cold-items\n%s", usage);
    const int nu_mode = new_users >= 0;
    if (nu_mode != (fold_frac >= 0) || nu_mode != (fold_out != NULL) || (train_all && !nu_mode))
        return hr_error_set(&job->err, HR_ERR_ARG, "--new-users goes with --fold-in FRAC2 and --fold-in-data OUT (and only it with --train-all)\n%s", usage);
    hr_pathspec ps[] = { { "--data", data, HR_IN }, { "--train", train, HR_OUT_DIR }, { "--test", test, HR_OUT_DIR },
                         { "--json", job->json_path, HR_OUT_FILE }, { "--fold-in-data", fold_out, HR_OUT_DIR },
                         { "--train-all", train_all, HR_OUT_DIR } };
    HR_TRY(hr_publish_check(job, ps, 6));
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
        if (cold_items >= 0) {
            for (uint64_t e = s; e < s + n; e++) is_test[e] = cold_item(seed, b->idx[e], cold_items);
            continue;
        }
        if (nu_mode && !held_out(seed, b->gid[r], new_users)) continue;
        if (nu_mode && n < 2) { is_test[s] = 1; continue; }
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
        } else if (nu_mode) {   /* held out: FRAC2 to fold-in (code 2), the rest to test */
            qsort(tmp, n, sizeof *tmp, cmp_key);
            uint64_t nf = (uint64_t)llround(fold_frac * (double)n);
            if (nf < 1) nf = 1;
            if (nf > n - 1) nf = n - 1;
            for (uint64_t k = 0; k < n; k++) is_test[tmp[k].pos] = k < nf ? 2 : 1;
        } else {
            qsort(tmp, n, sizeof *tmp, cmp_key);
            ntest = (uint64_t)llround(frac * (double)n);
            if (ntest > n - 1) ntest = n - 1;
            for (uint64_t k = 0; k < ntest; k++) is_test[tmp[k].pos] = 1;
        }
    }
    hr_free(tmp);
    /* Build the two triple sets and the "only in test" counts. */
    uint64_t ntest = 0, nfold = 0;
    for (uint64_t e = 0; e < b->nnz; e++) {
        ntest += is_test[e] == 1;
        nfold += is_test[e] == 2;
    }
    uint64_t ntrain = b->nnz - ntest - nfold;
    hr_triple *tr = hr_malloc((ntrain ? ntrain : 1) * sizeof *tr), *te = hr_malloc((ntest ? ntest : 1) * sizeof *te);
    hr_triple *fo = hr_malloc((nfold ? nfold : 1) * sizeof *fo), *ta = train_all ? hr_malloc((ntrain + nfold + 1) * sizeof *ta) : NULL;
    uint64_t f = 0, fa = 0;
    uint8_t *user_flags = hr_calloc(ds.users.n ? ds.users.n : 1, 1), *item_flags = hr_calloc(ds.items.n ? ds.items.n : 1, 1);
    uint64_t a = 0, z = 0;
    for (uint64_t r = 0; r < b->nrows; r++)
        for (uint64_t e = b->ptr[r]; e < b->ptr[r + 1]; e++) {
            hr_triple x = { b->gid[r], b->idx[e], b->val[e], 0, b->ts[e], 0 };
            if (ta && is_test[e] != 1) ta[fa++] = x;
            if (is_test[e] == 2) { fo[f++] = x; continue; }
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
    uint64_t tot[3] = { ntrain, ntest, nfold };
    if (rc == 0) rc = hr_comm_allreduce_sum_u64(job->comm, tot, 3);

    char mpath[4096], hex[17];
    uint64_t mcs = 0;
    hr_dataset_manifest_path(data, mpath, sizeof mpath);
    if (rc == 0) rc = hr_checksum_file(mpath, &mcs, NULL, &job->err);
    hr_checksum_hex(mcs, hex);
    const char *mode = before ? "before" : last > 0 ? "last" : nu_mode ? "new-users" : cold_items >= 0 ? "cold-items" : "random";
    /* Both sides are written, then published together: a failure leaves both old ones. */
    /* sides: test, fold-in, train-all (full dictionary), train last (its dictionary may lose
     * the held-out users) */
    const char *out[4] = { test, fold_out, train_all, train }, *side_name[4] = { "test", "fold-in", "train-all", "train" };
    hr_publish pub[4];
    memset(pub, 0, sizeof pub);
    rc = hr_comm_agree(job->comm, rc, &job->err);   /* hr_publish_begin is collective */
    for (int side = 0; side < 4 && rc == 0; side++) {
        if (!out[side]) continue;
        rc = hr_publish_begin(job, out[side], "manifest.json", HR_DATASET_FORMATS, &pub[side]);
        if (rc == 0) rc = hr_dataset_prepare_dir(job, pub[side].dir);
    }
    for (int side = 0; side < 4 && rc == 0; side++) {
        if (!out[side]) continue;
        json_t *lineage = json_pack("{s:s,s:s,s:s,s:I,s:I,s:f,s:I,s:[{s:s,s:s}]}", "command", "split", "side",
                                    side_name[side], "mode", mode, "before", (json_int_t)cut, "last",
                                    (json_int_t)last, "random", frac, "seed", (json_int_t)seed, "parents", "path", data,
                                    "manifest_xxh3", hex);
        if (cold_items >= 0) json_object_set_new(lineage, "cold_items", json_real(cold_items));
        if (nu_mode) {
            json_object_set_new(lineage, "new_users", json_real(new_users));
            json_object_set_new(lineage, "fold_in", json_real(fold_frac));
        }
        if (side == 3 && nu_mode) {   /* train's dictionary: without the held-out users */
            uint8_t *keep = hr_malloc(ds.users.n ? ds.users.n : 1);
            for (uint64_t g = 0; g < ds.users.n; g++) keep[g] = !held_out(seed, (uint32_t)g, new_users);
            uint32_t *map = hr_dict_keep(&ds.users, keep);
            for (uint64_t e = 0; e < a; e++) tr[e].u = map[tr[e].u];
            hr_free(map);
            hr_free(keep);
        }
        json_t *part = json_object_get(ds.manifest, "partition");
        hr_part_scheme scheme = HR_PART_BALANCED;
        hr_part_scheme_parse(json_string_value(json_object_get(part, "scheme")), &scheme);
        hr_dataset_spec spec = { .dir = pub[side].dir, .name = out[side], .scheme = scheme,
                                 .zstd_level = 1, .lineage = lineage };
        uint64_t n = side == 3 ? a : side == 0 ? z : side == 1 ? f : fa;
        hr_triple **t = side == 3 ? &tr : side == 0 ? &te : side == 1 ? &fo : &ta;
        rc = hr_dataset_write(job, &spec, &ds.users, &ds.items, t, &n);
    }
    for (int side = 0; side < 4; side++)
        if (out[side]) rc = hr_publish_end(job, &pub[side], rc);
    hr_free(tr);
    hr_free(te);
    hr_free(fo);
    hr_free(ta);
    if (rc == 0) {
        hr_job_set_int(job, "train_interactions", (int64_t)tot[0]);
        hr_job_set_int(job, "test_interactions", (int64_t)tot[1]);
        if (nu_mode) hr_job_set_int(job, "fold_in_interactions", (int64_t)tot[2]);
        hr_job_set_int(job, "users_only_in_test", (int64_t)users_only_test);
        hr_job_set_int(job, "items_only_in_test", (int64_t)items_only_test);
        hr_job_set_str(job, "mode", mode);
        if (before) hr_job_set_int(job, "before", cut);
        if (nu_mode) hr_progress("split      new users: %llu events of held-out users to fold-in", (unsigned long long)tot[2]);
        hr_progress("split      %llu train + %llu test = %llu; %llu users and %llu items only in test; %.2fs",
                    (unsigned long long)tot[0], (unsigned long long)tot[1], (unsigned long long)(tot[0] + tot[1]),
                    (unsigned long long)users_only_test, (unsigned long long)items_only_test, hr_now() - t0);
    }
    hr_dataset_free(&ds);
    return rc;
}
