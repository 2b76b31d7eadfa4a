/* jobs/content.c — the content map shared by evaluate, train, recommend and similar
 * (jobs/content.h). */
#include "jobs/content.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"

void hr_content_opts_init(hr_content_opts *o)
{
    memset(o, 0, sizeof *o);
    o->features_max = 2048;
    o->lambda = 1.0;
}

int hr_content_opt(hr_job *job, hr_content_opts *o, int c, const char *arg)
{
    int64_t v;
    switch (c) {
    case HR_CONTENT_OPT_FILE:
        if (o->nfiles == HR_CONTENT_MAX_FILES)
            return hr_error_set(&job->err, HR_ERR_ARG, "--item-features: at most %d files", HR_CONTENT_MAX_FILES);
        o->formats[o->nfiles] = HR_FEAT_TOKENS;
        o->files[o->nfiles++] = arg;
        return 0;
    case HR_CONTENT_OPT_FORMAT:   /* the format of the --item-features just before it */
        if (!o->nfiles) return hr_error_set(&job->err, HR_ERR_ARG, "--features-format %s: give it after its --item-features FILE", arg);
        if (hr_feat_format_parse(arg, &o->formats[o->nfiles - 1]) != 0)
            return hr_error_set(&job->err, HR_ERR_ARG, "--features-format: '%s' is not tokens, movielens-genres, ml-latest-genres, "
                                "ml-latest-tags or lastfm-tags", arg);
        return 0;
    case HR_CONTENT_OPT_MAX:
        /* above HR_RIDGE_ALLREDUCE_MAX on several ranks the map is fitted on the ScaLAPACK grid
         * (jobs/content_ridge.h), whose memory check refuses what the nodes cannot hold */
        HR_TRY(hr_opt_i64(job, "--features-max", arg, 1, 1000000, &v));
        o->features_max = (uint32_t)v;
        o->have_fit_opts = 1;
        return 0;
    case HR_CONTENT_OPT_LAMBDA:
        HR_TRY(hr_opt_f64(job, "--features-lambda", arg, 1e-9, 1e9, &o->lambda));
        o->have_fit_opts = 1;
        return 0;
    case HR_CONTENT_OPT_GRID:   /* the path of the fit: HR_RIDGE_GRID, which jobs/content_ridge.c reads */
        if (strcmp(arg, "auto") && strcmp(arg, "yes") && strcmp(arg, "no"))
            return hr_error_set(&job->err, HR_ERR_ARG, "--features-grid: '%s' is not auto, yes or no", arg);
        setenv("HR_RIDGE_GRID", arg, 1);
        o->have_fit_opts = 1;
        return 0;
    case HR_CONTENT_OPT_SLOTS:
        return hr_opt_i64(job, "--cold-slots", arg, 0, 100000, &o->cold_slots);
    }
    return hr_error_set(&job->err, HR_ERR_ARG, "internal: content option %d", c);
}

/* The file index a token belongs to (io/features.h prefixes "F:"). */
static int token_file(const char *tok) { return atoi(tok); }

int hr_content_read(hr_job *job, const hr_content_opts *o, const hr_model *m, hr_features *fs)
{
    hr_features_init(fs);
    int rc = 0;
    json_t *sec = m && m->content_nf ? json_object_get(m->manifest, "content") : NULL;
    json_t *fmts = json_object_get(sec, "formats"), *nitems = json_object_get(sec, "items_per_file");
    if (m && m->content_nf) {   /* the training files' formats, in the same order */
        int same = json_array_size(fmts) == (size_t)o->nfiles && json_array_size(nitems) == (size_t)o->nfiles;
        for (int f = 0; same && f < o->nfiles; f++) {
            const char *name = json_string_value(json_array_get(fmts, (size_t)f));
            same = name && !strcmp(name, hr_feat_format_name(o->formats[f]));
        }
        if (!same) {
            char want[256] = "";
            for (size_t f = 0; f < json_array_size(fmts) && strlen(want) < 200; f++) {
                strcat(want, f ? ", " : "");
                strncat(want, json_string_value(json_array_get(fmts, f)) ? json_string_value(json_array_get(fmts, f)) : "?", 40);
            }
            return hr_error_set(&job->err, HR_ERR_ARG, "--item-features: the model's content map was trained on %zu file(s) of "
                                "format %s, in that order; give as many --item-features with those --features-format",
                                json_array_size(fmts), want);
        }
    }
    for (int f = 0; f < o->nfiles && rc == 0; f++) rc = hr_features_read(fs, o->files[f], o->formats[f], &job->err);
    rc = hr_comm_agree(job->comm, rc, &job->err);
    if (rc < 0) {
        hr_features_free(fs);
        return rc;
    }
    if (m && m->content_nf) {   /* weigh with the training IDF */
        fs->idf = hr_calloc((size_t)fs->n_tokens + 1, sizeof *fs->idf);
        for (uint32_t t = 0; t < fs->n_tokens; t++) {
            int64_t r = hr_dict_find(&m->content_tokens, fs->tokens[t], strlen(fs->tokens[t]));
            int f = token_file(fs->tokens[t]);
            double n = json_number_value(json_array_get(nitems, (size_t)f));
            fs->idf[t] = r >= 0 ? m->content_idf[r] : fs->counting[f] && n > 1 ? (float)log(n) : 0.0f;
        }
    }
    hr_features_finish(fs);
    return 0;
}

typedef struct { float s; uint32_t i; } scored;
static int cmp_scored(const void *a, const void *b)
{
    const scored *x = a, *y = b;
    if (x->s != y->s) return x->s > y->s ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

uint32_t hr_content_select(const hr_features *fs, uint32_t max, uint32_t **sel)
{
    uint32_t *df = hr_calloc(fs->n_tokens + 1, sizeof *df);
    for (uint64_t e = 0; e < fs->ptr[fs->n_items]; e++) df[fs->col[e]]++;
    scored *o = hr_malloc((fs->n_tokens + 1) * sizeof *o);
    for (uint32_t t = 0; t < fs->n_tokens; t++) o[t] = (scored){ (float)df[t], t };
    qsort(o, fs->n_tokens, sizeof *o, cmp_scored);
    *sel = hr_malloc((fs->n_tokens + 1) * sizeof **sel);
    for (uint32_t t = 0; t < fs->n_tokens; t++) (*sel)[t] = UINT32_MAX;
    uint32_t nf = fs->n_tokens < max ? fs->n_tokens : max;
    for (uint32_t c = 0; c < nf; c++) (*sel)[o[c].i] = c;
    hr_free(o);
    hr_free(df);
    return nf;
}

void hr_content_row(const hr_features *fs, int64_t r, const uint32_t *sel, uint32_t nf, uint32_t *col, float *val, uint64_t *z)
{
    if (r >= 0) {
        uint64_t z0 = *z;
        for (uint64_t e = fs->ptr[r]; e < fs->ptr[r + 1]; e++)
            if (sel[fs->col[e]] != UINT32_MAX) { col[*z] = sel[fs->col[e]]; val[(*z)++] = fs->val[e]; }
        /* columns ascending for the accumulation: insertion sort (rows are short) */
        for (uint64_t a = z0 + 1; a < *z; a++)
            for (uint64_t b = a; b > z0 && col[b - 1] > col[b]; b--) {
                uint32_t tc = col[b]; col[b] = col[b - 1]; col[b - 1] = tc;
                float tv = val[b]; val[b] = val[b - 1]; val[b - 1] = tv;
            }
    }
    col[*z] = nf;   /* the intercept */
    val[(*z)++] = 1.0f;
}

void hr_content_apply(const uint32_t *col, const float *val, uint64_t a, uint64_t b, const float *W, int width, float *y)
{
    for (int j = 0; j < width; j++) y[j] = 0.0f;
    for (uint64_t e = a; e < b; e++)
        for (int j = 0; j < width; j++) y[j] += val[e] * W[(size_t)col[e] * width + j];
}

static const hr_features *sort_fs;
static int cmp_token(const void *a, const void *b)
{
    return strcmp(sort_fs->tokens[*(const uint32_t *)a], sort_fs->tokens[*(const uint32_t *)b]);
}

void hr_content_store(const hr_features *fs, const uint32_t *sel, uint32_t nf, const float *W, int width, hr_model *m)
{
    uint32_t *tok = hr_malloc(((size_t)nf + 1) * sizeof *tok);
    for (uint32_t t = 0; t < fs->n_tokens; t++)
        if (sel[t] != UINT32_MAX) tok[sel[t]] = t;
    sort_fs = fs;
    qsort(tok, nf, sizeof *tok, cmp_token);   /* strcmp: bytewise, as the dictionary's order */
    hr_dict *d = &m->content_tokens;
    memset(d, 0, sizeof *d);
    d->n = nf;
    d->offs = hr_malloc(((size_t)nf + 1) * sizeof *d->offs);
    d->offs[0] = 0;
    for (uint32_t p = 0; p < nf; p++) d->offs[p + 1] = d->offs[p] + strlen(fs->tokens[tok[p]]);
    d->bytes = hr_malloc(d->offs[nf] + 1);
    for (uint32_t p = 0; p < nf; p++) memcpy(d->bytes + d->offs[p], fs->tokens[tok[p]], d->offs[p + 1] - d->offs[p]);
    m->content_idf = hr_malloc(((size_t)nf + 1) * sizeof *m->content_idf);
    m->content_map = hr_malloc(((size_t)nf + 1) * width * sizeof *m->content_map);
    for (uint32_t p = 0; p < nf; p++) {
        m->content_idf[p] = fs->idf ? fs->idf[tok[p]] : 0.0f;
        memcpy(m->content_map + (size_t)p * width, W + (size_t)sel[tok[p]] * width, (size_t)width * sizeof *W);
    }
    memcpy(m->content_map + (size_t)nf * width, W + (size_t)nf * width, (size_t)width * sizeof *W);
    m->content_nf = nf;
    m->content_width = width;
    hr_free(tok);
}

uint32_t *hr_content_model_sel(const hr_features *fs, const hr_model *m)
{
    uint32_t *sel = hr_malloc(((size_t)fs->n_tokens + 1) * sizeof *sel);
    for (uint32_t t = 0; t < fs->n_tokens; t++) {
        int64_t r = hr_dict_find(&m->content_tokens, fs->tokens[t], strlen(fs->tokens[t]));
        sel[t] = r >= 0 ? (uint32_t)r : UINT32_MAX;
    }
    return sel;
}

json_t *hr_content_manifest(const hr_content_opts *o, const hr_features *fs, uint32_t nf, uint64_t warm, int width)
{
    json_t *fm = json_array(), *ni = json_array(), *rej = json_object();
    for (int f = 0; f < o->nfiles; f++) {
        json_array_append_new(fm, json_string(hr_feat_format_name(o->formats[f])));
        json_array_append_new(ni, json_integer((json_int_t)(fs->file_items ? fs->file_items[f] : 0)));
    }
    for (int r = 0; r < HR_FEAT_NREJECT; r++) json_object_set_new(rej, hr_feat_reject_names[r], json_integer((json_int_t)fs->rejects[r]));
    return json_pack("{s:i,s:i,s:i,s:f,s:i,s:o,s:o,s:I,s:I,s:o}", "features", (int)nf, "features_total", (int)fs->n_tokens,
                     "features_max", (int)o->features_max, "lambda", o->lambda, "width", width, "formats", fm, "items_per_file", ni,
                     "items_in_files", (json_int_t)fs->n_items, "warm_items_fitted", (json_int_t)warm, "rejected", rej);
}

/* Unknown ids in a stable order: numerically when both are canonical integers, else bytewise. */
static int cmp_ids(const void *a, const void *b)
{
    const char *x = *(char *const *)a, *y = *(char *const *)b;
    int64_t u, v;
    if (hr_dict_canonical_int(x, strlen(x), &u) && hr_dict_canonical_int(y, strlen(y), &v)) return (u > v) - (u < v);
    return strcmp(x, y);
}

int hr_content_items_build(hr_job *job, const hr_content_opts *o, const hr_model *m, hr_content_items *ci)
{
    memset(ci, 0, sizeof *ci);
    if (!m->content_nf)
        return hr_error_set(&job->err, HR_ERR_ARG, "--item-features / --cold-slots: the model has no content map (train it with "
                            "--item-features to store one)");
    hr_features fs;
    HR_TRY(hr_content_read(job, o, m, &fs));
    uint32_t *sel = hr_content_model_sel(&fs, m);
    const uint32_t nf = m->content_nf;
    const int width = m->content_width;
    /* content items: known to the model with no training interactions (model id order), then
     * the unknown ones (id order) */
    typedef struct { uint64_t g; uint32_t r; } pick;
    pick *pk = hr_malloc(((size_t)fs.n_items + 1) * sizeof *pk);
    char **unk = hr_malloc(((size_t)fs.n_items + 1) * sizeof *unk);
    uint64_t nu = 0, nk = 0;
    for (uint32_t r = 0; r < fs.n_items; r++) {
        int64_t g = hr_dict_find(&m->items, fs.items[r], strlen(fs.items[r]));
        if (g < 0) unk[nu++] = fs.items[r];
        else if (!m->items.nnz || m->items.nnz[g] == 0) pk[nk++] = (pick){ (uint64_t)g, r };
    }
    qsort(unk, nu, sizeof *unk, cmp_ids);
    for (uint64_t a = 1; a < nk; a++)   /* insertion sort by model id: few such items */
        for (uint64_t b = a; b > 0 && pk[b - 1].g > pk[b].g; b--) { pick t = pk[b]; pk[b] = pk[b - 1]; pk[b - 1] = t; }
    ci->n = nk + nu;
    ci->n_new = nu;
    ci->width = width;
    ci->gid = hr_malloc((ci->n + 1) * sizeof *ci->gid);
    ci->id = hr_malloc((ci->n + 1) * sizeof *ci->id);
    ci->Y = hr_malloc((ci->n * (uint64_t)width + 1) * sizeof *ci->Y);
    uint32_t *col = hr_malloc(((size_t)nf + 2) * sizeof *col);
    float *val = hr_malloc(((size_t)nf + 2) * sizeof *val);
    char key[HR_DICT_INT_CHARS];
    for (uint64_t c = 0; c < ci->n; c++) {
        size_t len;
        const char *id;
        int64_t r;
        if (c < nk) {   /* the model's spelling of the id */
            ci->gid[c] = pk[c].g;
            id = hr_dict_key(&m->items, pk[c].g, key, &len);
            r = pk[c].r;
        } else {
            ci->gid[c] = m->n_items + (c - nk);
            id = unk[c - nk];
            len = strlen(id);
            r = hr_features_item(&fs, id, len);
        }
        ci->id[c] = hr_malloc(len + 1);
        memcpy(ci->id[c], id, len);
        ci->id[c][len] = '\0';
        uint64_t z = 0;
        hr_content_row(&fs, r, sel, nf, col, val, &z);
        ci->with_features += z > 1;
        hr_content_apply(col, val, 0, z, m->content_map, width, ci->Y + c * (uint64_t)width);
    }
    hr_free(col); hr_free(val); hr_free(pk); hr_free(unk); hr_free(sel);
    hr_features_free(&fs);
    return 0;
}

void hr_content_items_free(hr_content_items *ci)
{
    for (uint64_t c = 0; ci->id && c < ci->n; c++) hr_free(ci->id[c]);
    hr_free(ci->id);
    hr_free(ci->gid);
    hr_free(ci->Y);
    memset(ci, 0, sizeof *ci);
}
