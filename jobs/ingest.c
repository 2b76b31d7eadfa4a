/* hpcrec ingest — raw interaction logs to a validated, sharded dataset.
 *
 * Pipeline: expand inputs -> plan units -> detect format -> parse in parallel (ingest_read.c)
 * -> global dictionaries (every rank, from gathered distinct keys) -> remap to global ids ->
 * shuffle to user owners -> duplicate / conflict / bot policy (partition/dedupe.h) -> rejects
 * files -> dataset write (jobs/dataset.c).  Every row read is either accepted or rejected
 * with a reason; the summary checks rows_read == rows_accepted + rows_rejected. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/hash.h"
#include "core/log.h"
#include "core/timer.h"
#include "io/manifest.h"
#include "io/output.h"
#include "jobs/commands.h"
#include "jobs/dataset.h"
#include "jobs/forget.h"
#include "jobs/ingest_read.h"
#include "jobs/publish.h"
#include "partition/dedupe.h"
#include "partition/dict.h"
#include "partition/inplace.h"

static const char usage[] =
    "hpcrec ingest --input PATH... --out DATASET [options]\n"
    "  --input PATH...       files, directories (walked) or quoted globs; plain, .gz, .zst, .zip, .tar.*\n"
    "  --format F            auto (default) | csv | tsv | space | movielens ('::')\n"
    "  --columns LIST        column names in order: user,item,rating,timestamp; '-' skips a column\n"
    "  --header M            auto (default: a first line that does not parse is a header) | yes | no\n"
    "  --on-error M          fail (default: stop at the first bad row) | skip (count, log to rejects/)\n"
    "  --max-user-events N   reject every event of users with more than N events (bots); 0 = no limit\n"
    "  --value-range LO:HI   accepted values (default 0:1e9)\n"
    "  --partition S         balanced (default: equal interactions per rank) | hash\n"
    "  --split-bytes N       cut plain files larger than N bytes into ranges read in parallel (default 64M)\n"
    "  --zstd-level L        shard compression level: 1 (default) to 19, or -1 to -7 (zstd's fast levels:\n"
    "                        about 1.6x faster at -3 for shards some 15-20% larger)\n"
    "  --max-expansion R     refuse a compressed input that expands more than R times (default 1000; 0 = no limit)\n"
    "  --max-input-bytes N   refuse a compressed input larger than N bytes decompressed (default 0 = no limit)\n"
    "  --forget LIST         leave out the users of this forget list (hpcrec forget --list); counted as rows_forgotten\n"
    "  --forget-key KEY      the site key the list was written under (mode 0600; required with --forget)\n"
    "  --json FILE           machine-readable summary\n";

typedef struct {
    char **inputs;
    int ninputs;
    const char *out, *format, *columns, *forget, *forget_key;
    hr_header_mode header;
    int skip_bad, zstd_level;
    int64_t max_user_events, split_bytes, max_input_bytes;
    double vmin, vmax, max_expansion;
    hr_part_scheme scheme;
} ingest_opts;

static int parse_opts(hr_job *job, int argc, char **argv, ingest_opts *o)
{
    static const struct option lo[] = {
        { "input", required_argument, 0, 'i' }, { "out", required_argument, 0, 'o' },
        { "format", required_argument, 0, 'f' }, { "columns", required_argument, 0, 'c' },
        { "header", required_argument, 0, 'H' }, { "on-error", required_argument, 0, 'e' },
        { "max-user-events", required_argument, 0, 'm' }, { "value-range", required_argument, 0, 'v' },
        { "partition", required_argument, 0, 'p' }, { "split-bytes", required_argument, 0, 's' },
        { "zstd-level", required_argument, 0, 'z' }, { "json", required_argument, 0, 'j' },
        { "max-expansion", required_argument, 0, 'X' }, { "max-input-bytes", required_argument, 0, 'B' },
        { "forget", required_argument, 0, 'F' }, { "forget-key", required_argument, 0, 'K' },
        { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 } };
    memset(o, 0, sizeof *o);
    o->format = "auto";
    o->vmin = 0;
    o->vmax = 1e9;
    o->zstd_level = 1;
    o->split_bytes = 64 << 20;
    o->max_expansion = 1000;   /* real logs compress 10-30x; a bomb far more (docs/ingest.md) */
    o->inputs = hr_malloc((size_t)argc * sizeof *o->inputs);
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        int64_t v;
        switch (c) {
        case 'i': o->inputs[o->ninputs++] = optarg; break;
        case 'o': o->out = optarg; break;
        case 'f': o->format = optarg; break;
        case 'c': o->columns = optarg; break;
        case 'H':
            if (!strcasecmp(optarg, "auto")) o->header = HR_HEADER_AUTO;
            else if (!strcasecmp(optarg, "yes")) o->header = HR_HEADER_YES;
            else if (!strcasecmp(optarg, "no")) o->header = HR_HEADER_NO;
            else return hr_error_set(&job->err, HR_ERR_ARG, "--header: '%s' is not auto, yes or no", optarg);
            break;
        case 'e':
            if (!strcasecmp(optarg, "fail")) o->skip_bad = 0;
            else if (!strcasecmp(optarg, "skip")) o->skip_bad = 1;
            else return hr_error_set(&job->err, HR_ERR_ARG, "--on-error: '%s' is not fail or skip", optarg);
            break;
        case 'm': HR_TRY(hr_opt_i64(job, "--max-user-events", optarg, 0, INT64_MAX, &o->max_user_events)); break;
        case 'v': {
            char lo_s[64], hi_s[64];
            const char *colon = strchr(optarg, ':');
            if (!colon || colon - optarg >= 64 || strlen(colon + 1) >= 64)
                return hr_error_set(&job->err, HR_ERR_ARG, "--value-range: '%s' is not LO:HI", optarg);
            memcpy(lo_s, optarg, (size_t)(colon - optarg));
            lo_s[colon - optarg] = '\0';
            snprintf(hi_s, sizeof hi_s, "%s", colon + 1);
            HR_TRY(hr_opt_f64(job, "--value-range (low)", lo_s, -1e30, 1e30, &o->vmin));
            HR_TRY(hr_opt_f64(job, "--value-range (high)", hi_s, -1e30, 1e30, &o->vmax));
            if (o->vmin > o->vmax)
                return hr_error_set(&job->err, HR_ERR_ARG, "--value-range %s: the low end %g is above the high end %g (LO:HI, e.g. %g:%g)",
                                    optarg, o->vmin, o->vmax, o->vmax, o->vmin);
            break;
        }
        case 'p':
            if (hr_part_scheme_parse(optarg, &o->scheme) != 0)
                return hr_error_set(&job->err, HR_ERR_ARG, "--partition: '%s' is not balanced or hash", optarg);
            break;
        case 's': HR_TRY(hr_opt_i64(job, "--split-bytes", optarg, 1 << 16, INT64_MAX, &o->split_bytes)); break;
        case 'z':
            HR_TRY(hr_opt_i64(job, "--zstd-level", optarg, -7, 19, &v));
            if (v == 0) return hr_error_set(&job->err, HR_ERR_ARG, "--zstd-level 0: use 1 to 19, or -1 to -7 for zstd's fast levels");
            o->zstd_level = (int)v;
            break;
        case 'X': HR_TRY(hr_opt_f64(job, "--max-expansion", optarg, 0, 1e12, &o->max_expansion)); break;
        case 'B': HR_TRY(hr_opt_i64(job, "--max-input-bytes", optarg, 0, INT64_MAX, &o->max_input_bytes)); break;
        case 'j': job->json_path = optarg; break;
        case 'F': o->forget = optarg; break;
        case 'K': o->forget_key = optarg; break;
        case 'h': if (job->rank == 0) fputs(usage, stdout); return 1;
        default: return hr_opt_usage(job, usage);
        }
    }
    /* "--input a b c": getopt moves the extra paths to the end. */
    for (int k = optind; k < argc; k++) o->inputs[o->ninputs++] = argv[k];
    if (o->ninputs == 0 || !o->out) return hr_error_set(&job->err, HR_ERR_ARG, "--input and --out are required\n%s", usage);
    if (!o->forget != !o->forget_key) return hr_error_set(&job->err, HR_ERR_ARG, "--forget LIST and --forget-key KEY go together");
    return 0;
}

/* Rejects of this rank: parse-phase rows (with their text) and policy rejects. */
static int write_rejects(hr_job *job, const char *dir, const hr_ingest_read *r, char **names,
                         const hr_triple *t, const uint8_t *reason, uint64_t n, const hr_dict *users,
                         const hr_dict *items, uint64_t *written)
{
    uint64_t policy = 0;
    for (uint64_t k = 0; k < n; k++) policy += reason[k] != 0;
    *written = r->rejects.n + policy;
    if (*written == 0) return 0;
    char path[4096];
    snprintf(path, sizeof path, "%s/rejects/part-%05d.tsv", dir, job->rank);
    hr_output *o;
    HR_TRY(hr_output_open(path, 0, 1, &o, &job->err));
    int rc = hr_output_printf(o, &job->err, "source\tline\treason\tdetail\trow\n");
    /* Every field escaped (hr_escape_text): a raw row may hold tabs (a TSV row with too many
     * fields), a CR or NUL bytes; names are escaped when read (ingest_read.c). */
    size_t ecap = 16384;
    char *esc = hr_malloc(ecap);
    for (uint64_t k = 0; rc == 0 && k < r->rejects.n; k++) {
        const char *txt = r->rejects.text + r->rejects.text_off[k];
        size_t len = r->rejects.text_off[k + 1] - r->rejects.text_off[k];
        const char *tab = memchr(txt, '\t', len);   /* "detail\trow": the detail never holds a tab */
        size_t dl = tab ? (size_t)(tab - txt) : len, need = hr_escape_size(txt, len);
        if (need > ecap) esc = hr_realloc(esc, ecap = need);
        hr_escape_text(tab ? tab + 1 : txt + len, tab ? len - dl - 1 : 0, esc, ecap);
        rc = hr_output_printf(o, &job->err, "%s\t%llu\t%s\t%.*s\t%s\n", names[r->rejects.src[k]],
                              (unsigned long long)r->rejects.line[k], hr_reject_name(r->rejects.reason[k]), (int)dl, txt, esc);
    }
    for (uint64_t k = 0; rc == 0 && k < n; k++) {
        if (!reason[k]) continue;
        char tu[HR_DICT_INT_CHARS], ti[HR_DICT_INT_CHARS];
        size_t ul, il;
        const char *u = hr_dict_key(users, t[k].u, tu, &ul), *i = hr_dict_key(items, t[k].i, ti, &il);
        const char *why = reason[k] == HR_REJECT_DUPLICATE ? "exact copy of an earlier event"
                        : reason[k] == HR_REJECT_CONFLICT  ? "same user and item as a later event (keep-latest)"
                                                           : "user above --max-user-events";
        rc = hr_output_printf(o, &job->err, "%s\t%llu\t%s\t%s\t%.*s,%.*s,%.9g,%lld\n", names[t[k].src],
                              (unsigned long long)t[k].line, hr_reject_name(reason[k]), why, (int)ul, u, (int)il, i, (double)t[k].v,
                              (long long)t[k].ts);
    }
    hr_free(esc);
    if (rc < 0) {
        hr_output_abort(o);
        return rc;
    }
    return hr_output_commit(o, NULL, NULL, &job->err);
}

/* Lineage: every input file with size and checksum (files spread over ranks). */
static json_t *lineage_inputs(hr_job *job, const hr_pathlist *files)
{
    uint64_t *cs = hr_calloc(files->n ? files->n : 1, sizeof *cs);
    int rc = 0;
    for (uint64_t f = (uint64_t)job->rank; rc == 0 && f < files->n; f += (uint64_t)job->size)
        rc = hr_checksum_file(files->path[f], &cs[f], NULL, &job->err);
    if (hr_comm_agree(job->comm, rc, &job->err) < 0 || hr_comm_allreduce_sum_u64(job->comm, cs, files->n) < 0) {
        hr_free(cs);
        return NULL;
    }
    json_t *arr = json_array();
    for (uint64_t f = 0; f < files->n; f++) {
        char hex[17];
        hr_checksum_hex(cs[f], hex);
        json_array_append_new(arr, json_pack("{s:s,s:I,s:s}", "path", files->path[f], "bytes", (json_int_t)files->size[f], "xxh3", hex));
    }
    hr_free(cs);
    return arr;
}

/* Rows that did not parse and hold a forgotten id in any field leave the reject log (they
 * are counted as forgotten, never written to rejects/).  Returns how many left. */
static uint64_t scrub_parse_rejects(hr_forget_set *s, hr_ingest_read *r)
{
    hr_reject_log *L = &r->rejects;
    uint64_t w = 0, gone = 0, tw = 0;
    if (L->n == 0) return 0;   /* the log's arrays are not allocated yet */
    for (uint64_t k = 0; k < L->n; k++) {
        const char *txt = L->text + L->text_off[k];
        size_t len = L->text_off[k + 1] - L->text_off[k];
        const char *tab = memchr(txt, '\t', len);   /* "detail\trow" */
        const char *row = tab ? tab + 1 : txt + len;
        if (hr_forget_raw_row(s, row, (size_t)(txt + len - row))) {
            r->counts[L->reason[k]]--;
            gone++;
            continue;
        }
        memmove(L->text + tw, txt, len);
        L->src[w] = L->src[k];
        L->line[w] = L->line[k];
        L->reason[w] = L->reason[k];
        L->text_off[w] = tw;
        tw += len;
        w++;
    }
    L->text_off[w] = tw;
    L->n = w;
    L->text_len = tw;
    return gone;
}

/* The forget list, before the dictionaries exist: rows of listed users leave, and the local
 * key tables are rebuilt from the rows left, so the dictionaries (their ids and their integer /
 * string kind), the partition and every count are those of the input without these rows.
 * Returns the rows dropped here (parse rejects included). */
static uint64_t forget_local(hr_forget_set *s, hr_ingest_read *r)
{
    uint64_t gone = scrub_parse_rejects(s, r);
    if (s->n == 0) return gone;
    uint32_t nu = hr_intern_count(r->users), ni = hr_intern_count(r->items);
    uint32_t *mu = hr_malloc((size_t)(nu ? nu : 1) * sizeof *mu), *mi = hr_malloc((size_t)(ni ? ni : 1) * sizeof *mi);
    for (uint32_t k = 0; k < nu; k++) {
        size_t len;
        const char *key = hr_intern_key(r->users, k, &len);
        mu[k] = hr_forget_has(s, key, len) ? UINT32_MAX : 0;
    }
    for (uint32_t k = 0; k < ni; k++) mi[k] = UINT32_MAX;
    hr_intern *u2 = hr_intern_new(), *i2 = hr_intern_new();
    uint64_t w = 0;
    for (uint64_t k = 0; k < r->n; k++) {
        hr_triple x = r->t[k];
        if (mu[x.u] == UINT32_MAX) continue;
        size_t len;
        const char *key = hr_intern_key(r->users, x.u, &len);
        x.u = hr_intern_get(u2, key, len);
        if (mi[x.i] == UINT32_MAX) {
            key = hr_intern_key(r->items, x.i, &len);
            mi[x.i] = hr_intern_get(i2, key, len);
        }
        x.i = mi[x.i];
        r->t[w++] = x;
    }
    gone += r->n - w;
    r->n = w;
    hr_free(mu);
    hr_free(mi);
    hr_intern_free(r->users);
    hr_intern_free(r->items);
    r->users = u2;
    r->items = i2;
    return gone;
}

int hr_cmd_ingest(hr_job *job, int argc, char **argv)
{
    ingest_opts o;
    int rc = parse_opts(job, argc, argv, &o);
    if (rc != 0) {
        hr_free(o.inputs);
        return rc > 0 ? 0 : rc;
    }
    double t0 = hr_now(), c0 = hr_cpu_seconds(), cparse = 0;
    hr_pathlist files = { 0 };
    hr_ingest_read r;
    memset(&r, 0, sizeof r);
    hr_dict users = { 0 }, items = { 0 };
    uint32_t *umap = NULL, *imap = NULL, nnames = 0;
    char **names = NULL;
    uint8_t *reason = NULL;
    hr_part hp;
    int have_hp = 0;
    hr_publish pub;
    memset(&pub, 0, sizeof pub);

    hr_forget_set fset;
    memset(&fset, 0, sizeof fset);
    uint64_t forgotten = 0;
    if (o.forget) {   /* every rank reads the list: it is small next to the data (32 bytes an id) */
        rc = hr_forget_open(&fset, o.forget_key, &job->err);
        if (rc == 0) rc = hr_forget_add_list(&fset, o.forget, &job->err);
        hr_forget_finish(&fset);
        HR_CHECK(hr_comm_agree(job->comm, rc, &job->err));
    }
    rc = hr_paths_expand(o.inputs, o.ninputs, &files, &job->err);
    HR_CHECK(hr_comm_agree(job->comm, rc, &job->err));
    {   /* --out must not be, contain or lie inside what is read (every walked root) */
        hr_pathspec *ps = hr_malloc((files.nroot + 2) * sizeof *ps);
        size_t n = 0;
        ps[n++] = (hr_pathspec){ "--out", o.out, HR_OUT_DIR };
        ps[n++] = (hr_pathspec){ "--json", job->json_path, HR_OUT_FILE };
        for (uint64_t k = 0; k < files.nroot; k++) ps[n++] = (hr_pathspec){ "--input", files.root[k], HR_IN };
        rc = hr_publish_check(job, ps, n);
        hr_free(ps);
        HR_CHECK(rc);
    }
    hr_rowfmt_init(&r.fmt);
    r.fmt.value_min = o.vmin;
    r.fmt.value_max = o.vmax;
    r.header = o.header;
    r.skip_bad = o.skip_bad;
    r.max_expansion = o.max_expansion;
    r.max_input_bytes = (uint64_t)o.max_input_bytes;
    rc = hr_ingest_plan(job, &r, &files, (uint64_t)o.split_bytes);
    HR_CHECK(hr_comm_agree(job->comm, rc, &job->err));
    HR_CHECK(hr_ingest_detect_format(job, &r, &files, o.format, o.columns));
    HR_CHECK(hr_publish_begin(job, o.out, "manifest.json", HR_DATASET_FORMATS, &pub));
    HR_CHECK(hr_dataset_prepare_dir(job, pub.dir));

    /* each progress line ends with rank 0's page faults and kernel seconds in that phase */
    hr_phase ph;
    double pf, ps;
    hr_phase_start(&ph);
    HR_CHECK(hr_ingest_parse(job, &r, &files));
    uint64_t g[4] = { r.rows_read, r.header_lines, r.blank_lines, r.bytes_in };
    HR_CHECK(hr_comm_allreduce_sum_u64(job->comm, g, 4));
    double tp = hr_now() - t0;
    cparse = hr_cpu_seconds() - c0;
    hr_phase_next(&ph, &pf, &ps);
    hr_progress("parse      %llu rows from %llu files (%.1f MB) in %.2fs: %.2fM rows/s (%.0f faults, %.2fs sys)",
                (unsigned long long)g[0], (unsigned long long)files.n, g[3] / 1e6, tp, g[0] / tp / 1e6, pf, ps);

    HR_CHECK(hr_ingest_fix_sources(job, &r, &names, &nnames));
    if (o.forget) forgotten = forget_local(&fset, &r);
    HR_CHECK(hr_dataset_build_dict(job, r.users, &users, &umap));
    HR_CHECK(hr_dataset_build_dict(job, r.items, &items, &imap));
    /* events per user, for the partition below, counted in the same pass */
    uint64_t *ucount = hr_calloc(users.n ? users.n : 1, sizeof *ucount);
    for (uint64_t k = 0; k < r.n; k++) {
        uint32_t u = umap[r.t[k].u];
        r.t[k].u = u;
        r.t[k].i = imap[r.t[k].i];
        ucount[u]++;
    }
    hr_intern_free(r.users);
    hr_intern_free(r.items);
    r.users = r.items = NULL;
    hr_phase_next(&ph, &pf, &ps);
    hr_progress("dictionary %llu users, %llu items (%s / %s ids) %.2fs (%.0f faults, %.2fs sys)", (unsigned long long)users.n,
                (unsigned long long)items.n, users.is_int ? "integer" : "string", items.is_int ? "integer" : "string",
                hr_now() - t0, pf, ps);

    /* The policy needs all events of a user on one rank: group them, once, under the dataset's
     * final user partition (weights: events per user before the policy). */
    rc = hr_comm_allreduce_sum_u64(job->comm, ucount, users.n);
    if (rc == 0) hr_part_build(&hp, o.scheme, job->size, users.n, ucount);
    hr_free(ucount);
    HR_CHECK(rc);
    have_hp = 1;
    HR_CHECK(hr_part_shuffle_sort(job->comm, &hp, 0, &r.t, &r.n));
    reason = hr_calloc(r.n ? r.n : 1, 1);
    uint64_t kept = hr_dedupe(r.t, r.n, (uint64_t)o.max_user_events, reason, r.counts);
    uint64_t nrej;
    rc = write_rejects(job, pub.dir, &r, names, r.t, reason, r.n, &users, &items, &nrej);
    HR_CHECK(hr_comm_agree(job->comm, rc, &job->err));
    if (kept < r.n) {   /* a copy pass only where something was rejected */
        uint64_t w = 0;
        for (uint64_t k = 0; k < r.n; k++)
            if (!reason[k]) r.t[w++] = r.t[k];
        r.n = w;
    }
    HR_FREE(&reason);

    /* Ids left without any event (all their rows rejected: bots, bad rows) leave the
     * dictionaries; the renumbering keeps order, so the grouping and sorting above hold.  The
     * same pass gathers the counts and ranges the dataset writer records (spec.stats). */
    hr_dataset_stats st;
    {
        const uint64_t nu = users.n, ni = items.n;
        uint8_t *ku = hr_calloc(nu ? nu : 1, 1), *ki = hr_calloc(ni ? ni : 1, 1);
        uint64_t *cu = hr_calloc(nu ? nu : 1, sizeof *cu), *ci = hr_calloc(ni ? ni : 1, sizeof *ci);
        hr_dataset_stats_init(&st);
        hr_dataset_stats_add(&st, r.t, r.n, cu, ci);
        rc = hr_dataset_stats_reduce(job, &st, cu, nu, ci, ni);
        uint64_t dropped = 0;
        for (uint64_t x = 0; x < nu; x++) dropped += !(ku[x] = cu[x] != 0);
        for (uint64_t x = 0; x < ni; x++) dropped += !(ki[x] = ci[x] != 0);
        if (rc == 0 && dropped) {
            uint32_t *mu = hr_dict_keep(&users, ku), *mi = hr_dict_keep(&items, ki);
            for (uint64_t k = 0; k < r.n; k++) {
                r.t[k].u = mu[r.t[k].u];
                r.t[k].i = mi[r.t[k].i];
            }
            hr_part_remap(&hp, mu, users.n);
            /* the counts follow their ids down (new id <= old id: in place, in order) */
            for (uint64_t x = 0; x < nu; x++)
                if (ku[x]) cu[mu[x]] = cu[x];
            for (uint64_t x = 0; x < ni; x++)
                if (ki[x]) ci[mi[x]] = ci[x];
            hr_free(mu);
            hr_free(mi);
        }
        hr_free(users.nnz);
        hr_free(items.nnz);
        users.nnz = cu;
        items.nnz = ci;
        hr_free(ku);
        hr_free(ki);
        HR_CHECK(rc);
    }
    uint64_t counts[HR_REJECT__COUNT + 2];
    memcpy(counts, r.counts, sizeof r.counts);
    counts[HR_REJECT__COUNT] = kept;
    counts[HR_REJECT__COUNT + 1] = forgotten;
    HR_CHECK(hr_comm_allreduce_sum_u64(job->comm, counts, HR_REJECT__COUNT + 2));
    forgotten = counts[HR_REJECT__COUNT + 1];
    uint64_t rejected = 0;
    for (int k = 1; k < HR_REJECT__COUNT; k++) rejected += counts[k];
    uint64_t accepted = counts[HR_REJECT__COUNT];
    if (accepted + rejected + forgotten != g[0]) {
        rc = hr_error_set(&job->err, HR_ERR_STATE, "internal accounting error: read %llu != accepted %llu + rejected %llu + forgotten %llu",
                          (unsigned long long)g[0], (unsigned long long)accepted, (unsigned long long)rejected, (unsigned long long)forgotten);
        goto fail;
    }
    if (accepted == 0 && g[0] == 0) {
        rc = hr_error_set(&job->err, HR_ERR_FORMAT, "no row accepted: the %llu input file(s) hold %llu header line(s), %llu blank line(s) and no data row",
                          (unsigned long long)files.n, (unsigned long long)g[1], (unsigned long long)g[2]);
        goto fail;
    }
    if (accepted == 0) {
        /* The rejects are what the operator needs now: the temporary directory stays (the next
         * run into --out removes it). */
        pub.keep_failed = 1;
        rc = hr_error_set(&job->err, HR_ERR_FORMAT, "no row accepted: all %llu rows read were rejected (see %s/rejects/; %s was not written)",
                          (unsigned long long)g[0], pub.dir, o.out);
        goto fail;
    }
    hr_phase_next(&ph, &pf, &ps);
    hr_progress("validate   %llu accepted, %llu rejected (%s) %.2fs (%.0f faults, %.2fs sys)", (unsigned long long)accepted,
                (unsigned long long)rejected, rejected ? "see rejects/" : "none", hr_now() - t0, pf, ps);

    /* Summary and manifest section. */
    json_t *summary = json_object();
    json_object_set_new(summary, "rows_read", json_integer((json_int_t)g[0]));
    json_object_set_new(summary, "rows_accepted", json_integer((json_int_t)accepted));
    json_object_set_new(summary, "rows_rejected", json_integer((json_int_t)rejected));
    if (o.forget) json_object_set_new(summary, "rows_forgotten", json_integer((json_int_t)forgotten));
    json_object_set_new(summary, "header_lines", json_integer((json_int_t)g[1]));
    json_object_set_new(summary, "blank_lines", json_integer((json_int_t)g[2]));
    json_object_set_new(summary, "bytes_read", json_integer((json_int_t)g[3]));
    json_object_set_new(summary, "input_files", json_integer((json_int_t)files.n));
    for (int k = 1; k < HR_REJECT__COUNT; k++) {
        char key[64];
        snprintf(key, sizeof key, "rejected_%s", hr_reject_name((hr_reject)k));
        json_object_set_new(summary, key, json_integer((json_int_t)counts[k]));
    }
    json_t *inputs = lineage_inputs(job, &files);
    if (!inputs) {
        json_decref(summary);
        rc = job->err.code ? job->err.code : HR_ERR_MPI;
        goto fail;
    }
    json_t *lineage = json_pack("{s:s,s:o}", "command", "ingest", "inputs", inputs);
    hr_dataset_spec spec = { .dir = pub.dir, .name = o.out, .scheme = o.scheme, .zstd_level = o.zstd_level,
                             .lineage = lineage, .extra = json_pack("{s:O}", "ingest", summary), .user_part = &hp,
                             .stats = &st };
    uint64_t nusers = users.n, nitems = items.n;
    rc = hr_dataset_write(job, &spec, &users, &items, &r.t, &r.n);
    hr_phase_next(&ph, &pf, &ps);
    rc = hr_publish_end(job, &pub, rc);
    if (rc == 0) {
        hr_progress("write      (%.0f faults, %.2fs sys)", pf, ps);
        json_object_update(job->summary, summary);
        hr_job_set_real(job, "seconds_parse", tp);
        hr_job_set_real(job, "parse_rows_per_second", g[0] / tp);
        /* CPU seconds (sums over ranks) of the parse phase and of the whole command after its
         * start: their ratio estimates the wall-clock %-of-parse target on a loaded machine */
        double cs[2] = { cparse, hr_cpu_seconds() - c0 };
        if (hr_comm_allreduce_sum_f64(job->comm, cs, 2) == 0) {
            hr_job_set_real(job, "parse_cpu_seconds", cs[0]);
            hr_job_set_real(job, "ingest_cpu_seconds", cs[1]);
        }
        hr_job_set_int(job, "users", (int64_t)nusers);
        hr_job_set_int(job, "items", (int64_t)nitems);
        hr_job_set_int(job, "interactions", (int64_t)accepted);
        double secs = hr_now() - t0;
        hr_job_set_real(job, "rows_per_second", g[0] / secs);
        hr_job_set_str(job, "out", o.out);
        double mean_rss, max_rss = hr_job_peak_rss_mb(job, &mean_rss);
        hr_progress("ingest     done: %llu rows read = %llu accepted + %llu rejected; %.2fs, %.2fM rows/s; peak memory per rank %.0f MB (mean %.0f)",
                    (unsigned long long)g[0], (unsigned long long)accepted, (unsigned long long)rejected, secs,
                    g[0] / secs / 1e6, max_rss, mean_rss);
    }
    json_decref(summary);
fail:
    rc = hr_publish_end(job, &pub, rc);   /* a failed run: the temporary directory goes */
    if (have_hp) hr_part_free(&hp);
    hr_free(reason);
    hr_free(umap);
    hr_free(imap);
    for (uint32_t k = 0; k < nnames; k++) hr_free(names[k]);
    hr_free(names);
    hr_dict_free(&users);
    hr_dict_free(&items);
    hr_ingest_read_free(&r);
    hr_paths_free(&files);
    hr_free(o.inputs);
    hr_forget_close(&fset);
    return rc;
}
