#include "io/model.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "io/iiblock.h"
#include "io/manifest.h"
#include "io/model_impl.h"

/* Keys the model writes itself; an info object may not override them. */
static const char *const RESERVED[] = { "format",  "version", "kind",    "algo",       "k",       "users",
                                        "items",   "global_mean", "software", "created", "members", "arrays",
                                        "row_weight", "fold_in", "item_item", "user_user" };
static const char *const KIND_NAME[] = { [HR_MODEL_FACTOR] = "factor", [HR_MODEL_POP] = "pop", [HR_MODEL_ITEMITEM] = "itemitem",
                                         [HR_MODEL_USERUSER] = "useruser" };

/* The table of a model's float arrays (io/model_impl.h): hr_model_check and the format-1
 * reader walk the same one, so the two cannot drift. */
size_t hr_model_arrays(hr_model *m, hr_model_farray out[5])
{
    size_t n = 0;
    uint64_t nu = m->partial ? m->user_rows : m->n_users, ni = m->partial ? m->item_rows : m->n_items;
    if (hr_model_blocked(m->kind)) return 0;   /* blocks, not arrays (ii_* below) */
    if (m->kind == HR_MODEL_FACTOR) {
        out[n++] = (hr_model_farray){ "user_factors.f32", &m->user_factors, nu, m->k, 0 };
        out[n++] = (hr_model_farray){ "item_factors.f32", &m->item_factors, ni, m->k, 0 };
    }
    out[n++] = (hr_model_farray){ "user_bias.f32", &m->user_bias, nu, 1, 1 };
    out[n++] = (hr_model_farray){ "item_bias.f32", &m->item_bias, ni, 1, 1 };
    if (m->kind == HR_MODEL_POP) out[n++] = (hr_model_farray){ "item_scores.f32", &m->item_scores, m->n_items, 1, 0 };
    return n;
}

uint64_t hr_model_first_bad_row(const float *a, uint64_t rows, uint64_t width)
{
    uint64_t n = rows * width;
    for (uint64_t j = 0; j < n; j++)
        if (!isfinite(a[j])) return j / width;
    return UINT64_MAX;
}

int hr_model_size_ok(uint64_t rows, uint64_t width) { return width > 0 && rows <= SIZE_MAX / 4 / width; }

static uint64_t first_bad_row(const float *a, uint64_t rows, int width) { return hr_model_first_bad_row(a, rows, (uint64_t)width); }
static int size_ok(uint64_t rows, int width) { return width > 0 && hr_model_size_ok(rows, (uint64_t)width); }

float **hr_model_array_slot(hr_model *m, const char *name)
{
    if (!strcmp(name, "user_factors.f32")) return &m->user_factors;
    if (!strcmp(name, "item_factors.f32")) return &m->item_factors;
    if (!strcmp(name, "user_bias.f32")) return &m->user_bias;
    if (!strcmp(name, "item_bias.f32")) return &m->item_bias;
    if (!strcmp(name, "item_scores.f32")) return &m->item_scores;
    if (!strcmp(name, "content_idf.f32")) return &m->content_idf;
    if (!strcmp(name, "content_map.f32")) return &m->content_map;
    return NULL;
}

static int kind_ok(const hr_model *m)
{
    return m->kind == HR_MODEL_FACTOR || m->kind == HR_MODEL_POP || hr_model_blocked(m->kind);
}

static uint64_t ii_blocks(const hr_model *m) { return m->ii_cols ? (hr_model_ii_n(m) + m->ii_cols - 1) / m->ii_cols : 0; }

void hr_model_ii_share(const hr_model *m, int r, int P, uint64_t *lo, uint64_t *hi)
{
    uint64_t nb = ii_blocks(m), b0 = (uint64_t)r * nb / (uint64_t)P, b1 = (uint64_t)(r + 1) * nb / (uint64_t)P;
    const uint64_t n = hr_model_ii_n(m);
    *lo = b0 * m->ii_cols < n ? b0 * m->ii_cols : n;
    *hi = b1 * m->ii_cols < n ? b1 * m->ii_cols : n;
}

int hr_model_ii_check(const hr_model *m, uint64_t c, const hr_iiblock *b, const char *what, int code, hr_error *err)
{
    const uint64_t n = hr_model_ii_n(m);
    uint64_t c0 = c * m->ii_cols, c1 = c0 + m->ii_cols < n ? c0 + m->ii_cols : n;
    if (b->n != n || b->c0 != c0 || b->c1 != c1 || b->dense != (m->ii_topm == 0))
        return hr_error_set(err, code, "%s: holds columns %llu..%llu of %llu (%s), the model's block %llu is %llu..%llu of %llu (%s)",
                            what, (unsigned long long)b->c0, (unsigned long long)b->c1, (unsigned long long)b->n,
                            b->dense ? "dense" : "sparse", (unsigned long long)c, (unsigned long long)c0, (unsigned long long)c1,
                            (unsigned long long)n, m->ii_topm ? "sparse" : "dense");
    for (uint64_t j = 0; !b->dense && j < c1 - c0; j++)
        if (b->ptr[j + 1] - b->ptr[j] > m->ii_topm)
            return hr_error_set(err, code, "%s: column %llu holds more than top_m = %u entries", what, (unsigned long long)(c0 + j),
                                m->ii_topm);
    for (uint64_t e = 0; e < b->nnz; e++)
        if (!isfinite(b->val[e]))
            return hr_error_set(err, code == HR_ERR_FORMAT ? code : HR_ERR_NUMERIC, "%s: a non-finite item-item weight in column %llu", what,
                                (unsigned long long)(b->dense ? c0 + e / b->n : c0));
    return 0;
}

static int check_dict(const char *path, const char *what, const hr_dict *d, uint64_t n, int keys, hr_error *err)
{
    if (d->n != n)
        return hr_error_set(err, HR_ERR_ARG, "%s: %s dictionary has %llu ids but the model has %llu rows", path, what,
                            (unsigned long long)d->n, (unsigned long long)n);
    if (keys && (d->is_int ? (n && !d->ints) : !d->offs))
        return hr_error_set(err, HR_ERR_ARG, "%s: %s dictionary has no keys", path, what);
    return 0;
}

int hr_model_check(const char *path, const hr_model *m, json_t *info, hr_error *err)
{
    if (!kind_ok(m)) return hr_error_set(err, HR_ERR_ARG, "%s: unknown model kind %d", path, (int)m->kind);
    if (!memchr(m->algo, '\0', sizeof m->algo) || !m->algo[0])
        return hr_error_set(err, HR_ERR_ARG, "%s: model algo name must be 1..%zu characters", path, sizeof m->algo - 1);
    if (m->kind == HR_MODEL_FACTOR
            ? (m->k < 1 || m->k > HR_MODEL_MAX_K || m->item_scores)
            : (m->k != 0 || m->user_factors || m->item_factors))
        return hr_error_set(err, HR_ERR_ARG,
                            "%s: a factor model needs 1 <= k <= %d and no item_scores; pop and item-item models k = 0 and no factors",
                            path, HR_MODEL_MAX_K);
    if (hr_model_blocked(m->kind) &&
        (m->ii_cols < 1 || m->row_weight == HR_ROWS_NONE || m->item_scores || m->fold_in))
        return hr_error_set(err, HR_ERR_ARG, "%s: an item-item model needs a block width, a row weight and no other arrays than biases",
                            path);
    if (!hr_model_blocked(m->kind) && (m->ii || m->ii_count))
        return hr_error_set(err, HR_ERR_ARG, "%s: only item-item models hold item-item blocks", path);
    if (m->fold_in && (m->kind != HR_MODEL_FACTOR || m->row_weight == HR_ROWS_NONE))
        return hr_error_set(err, HR_ERR_ARG, "%s: fold-in needs a factor model and a row weight", path);
    if ((unsigned)m->row_weight > HR_ROWS_VALUE) return hr_error_set(err, HR_ERR_ARG, "%s: unknown row weight", path);
    if (hr_model_blocked(m->kind) && !m->partial) {
        if (m->ii_first != 0 || m->ii_count != ii_blocks(m))
            return hr_error_set(err, HR_ERR_ARG, "%s: saving an item-item model needs all of its %llu blocks", path,
                                (unsigned long long)ii_blocks(m));
        for (uint64_t c = 0; c < m->ii_count; c++) {
            char what[4200];
            snprintf(what, sizeof what, "%s: item-item block %llu", path, (unsigned long long)c);
            HR_TRY(hr_model_ii_check(m, c, &m->ii[c], what, HR_ERR_ARG, err));
        }
    }
    HR_TRY(check_dict(path, "user", &m->users, m->n_users, !m->partial, err));
    HR_TRY(check_dict(path, "item", &m->items, m->n_items, !m->partial, err));
    if (!isfinite(m->global_mean))
        return hr_error_set(err, HR_ERR_NUMERIC, "%s: refusing to save a model whose global mean is not finite", path);
    hr_model_farray arr[5];
    size_t na = hr_model_arrays((hr_model *)m, arr); /* the table is only read here */
    for (size_t i = 0; i < na; i++) {
        const float *a = *arr[i].slot;
        if (!size_ok(arr[i].rows, arr[i].width))
            return hr_error_set(err, HR_ERR_ARG, "%s: %s is too large", path, arr[i].name);
        if (!a) {
            if (!arr[i].optional && !m->partial)
                return hr_error_set(err, HR_ERR_ARG, "%s: a %s model needs %s", path,
                                    m->kind == HR_MODEL_FACTOR ? "factor" : "pop", arr[i].name);
            continue;
        }
        uint64_t bad = first_bad_row(a, arr[i].rows, arr[i].width);
        if (bad != UINT64_MAX)
            return hr_error_set(err, HR_ERR_NUMERIC,
                                "%s: refusing to save a model with a non-finite value in %s (row %llu): training diverged?",
                                path, arr[i].name, (unsigned long long)bad);
    }
    if (m->content_nf) {   /* the content map (train --item-features) */
        if (m->kind != HR_MODEL_FACTOR || (m->partial ? m->content_width != m->k && m->content_width != m->k + 1 : m->content_width != m->k + (m->item_bias != NULL)) ||
            m->content_tokens.is_int || m->content_tokens.n != m->content_nf || !m->content_tokens.offs || !m->content_idf ||
            !m->content_map)
            return hr_error_set(err, HR_ERR_ARG, "%s: a content map needs a factor model, nf tokens, nf IDF weights and "
                                "(nf + 1) x (k + item bias) weights", path);
        if (first_bad_row(m->content_map, (uint64_t)m->content_nf + 1, (uint64_t)m->content_width) != UINT64_MAX ||
            first_bad_row(m->content_idf, m->content_nf, 1) != UINT64_MAX)
            return hr_error_set(err, HR_ERR_NUMERIC, "%s: refusing to save a content map with a non-finite value", path);
    }
    if (info && !json_is_object(info)) return hr_error_set(err, HR_ERR_ARG, "%s: model info must be a JSON object", path);
    for (size_t i = 0; info && i < sizeof RESERVED / sizeof *RESERVED; i++)
        if (json_object_get(info, RESERVED[i]))
            return hr_error_set(err, HR_ERR_ARG, "%s: model info may not set '%s' (the model writes it)", path, RESERVED[i]);
    return 0;
}

json_t *hr_model_base_manifest(const hr_model *m, json_t *info, int version, int64_t created)
{
    json_t *man = json_object();
    if (info) json_object_update(man, info);
    char now[32];
    hr_manifest_time(created, now, sizeof now);
    json_object_set_new(man, "format", json_string(HR_MODEL_FORMAT));
    json_object_set_new(man, "version", json_integer(version));
    json_object_set_new(man, "kind", json_string(KIND_NAME[m->kind]));
    json_object_set_new(man, "algo", json_string(m->algo));
    json_object_set_new(man, "k", json_integer(m->k));
    json_object_set_new(man, "users", json_integer((json_int_t)m->n_users));
    json_object_set_new(man, "items", json_integer((json_int_t)m->n_items));
    /* float -> double is exact and jansson prints 17 significant digits, so it reads back bit-identical. */
    json_object_set_new(man, "global_mean", json_real((double)m->global_mean));
    json_object_set_new(man, "software", json_string("hpcrec " HR_VERSION));
    json_object_set_new(man, "created", json_string(now));
    if (m->row_weight != HR_ROWS_NONE)
        json_object_set_new(man, "row_weight", json_string(m->row_weight == HR_ROWS_BINARY ? "binary" : "value"));
    if (m->fold_in) json_object_set_new(man, "fold_in", json_string("project"));
    if (hr_model_blocked(m->kind))
        json_object_set_new(man, m->kind == HR_MODEL_USERUSER ? "user_user" : "item_item", json_pack("{s:i,s:I,s:i}", "columns_per_block", (int)m->ii_cols, "blocks",
                                                        (json_int_t)ii_blocks(m), "top_m", (int)m->ii_topm));
    return man;
}

/* ---------------------------------------------------------------- load */

/* row_weight, fold_in and the item-item block layout (after kind and counts). */
static int load_row_scoring(const char *path, json_t *man, hr_model *m, hr_error *err)
{
    const char *rw = json_string_value(json_object_get(man, "row_weight"));
    const char *fi = json_string_value(json_object_get(man, "fold_in"));
    json_t *ii = json_object_get(man, m->kind == HR_MODEL_USERUSER ? "user_user" : "item_item");
    m->row_weight = !rw ? HR_ROWS_NONE : !strcmp(rw, "binary") ? HR_ROWS_BINARY : !strcmp(rw, "value") ? HR_ROWS_VALUE : -1;
    if ((int)m->row_weight < 0 || (json_object_get(man, "row_weight") && !rw))
        return hr_error_set(err, HR_ERR_FORMAT, "%s: row_weight must be \"binary\" or \"value\"", path);
    if (json_object_get(man, "fold_in") && (!fi || strcmp(fi, "project") != 0 || m->kind != HR_MODEL_FACTOR || !rw))
        return hr_error_set(err, HR_ERR_FORMAT, "%s: fold_in must be \"project\", on a factor model with a row_weight", path);
    m->fold_in = fi != NULL;
    if (hr_model_blocked(m->kind) != (ii != NULL) || (json_object_get(man, "item_item") && json_object_get(man, "user_user")))
        return hr_error_set(err, HR_ERR_FORMAT, "%s: 'item_item' ('user_user') belongs to, and only to, item-item (user-user) models",
                            path);
    if (!ii) return 0;
    int64_t w, nb, topm;
    HR_TRY(hr_manifest_int(ii, path, "columns_per_block", &w, err));
    HR_TRY(hr_manifest_int(ii, path, "blocks", &nb, err));
    HR_TRY(hr_manifest_int(ii, path, "top_m", &topm, err));
    if (w < 1 || w > (1 << 30) || topm < 0 || topm > (int64_t)UINT32_MAX || !rw)
        return hr_error_set(err, HR_ERR_FORMAT, "%s: invalid item_item layout (columns_per_block %lld, top_m %lld) or no row_weight",
                            path, (long long)w, (long long)topm);
    m->ii_cols = (uint32_t)w;
    m->ii_topm = (uint32_t)topm;
    if ((uint64_t)nb != ii_blocks(m))
        return hr_error_set(err, HR_ERR_FORMAT, "%s: item_item.blocks is %lld, %llu items in blocks of %lld make %llu", path,
                            (long long)nb, (unsigned long long)hr_model_ii_n(m), (long long)w, (unsigned long long)ii_blocks(m));
    return 0;
}

int hr_model_read_header(const char *path, json_t *man, hr_model *m, hr_error *err)
{
    const char *kind = json_string_value(json_object_get(man, "kind"));
    const char *algo = json_string_value(json_object_get(man, "algo"));
    json_t *mu = json_object_get(man, "global_mean");
    int64_t k, nu, ni;
    HR_TRY(hr_manifest_int(man, path, "k", &k, err));
    HR_TRY(hr_manifest_int(man, path, "users", &nu, err));
    HR_TRY(hr_manifest_int(man, path, "items", &ni, err));
    m->kind = 0;
    for (int x = HR_MODEL_FACTOR; kind && x <= HR_MODEL_USERUSER; x++)
        if (strcmp(kind, KIND_NAME[x]) == 0) m->kind = (hr_model_kind)x;
    if (!m->kind)
        return hr_error_set(err, HR_ERR_FORMAT, "%s: unknown model kind '%s' (this hpcrec knows factor, pop, itemitem, useruser)", path,
                            kind ? kind : "(missing)");
    if (!algo || !algo[0] || strlen(algo) >= sizeof m->algo)
        return hr_error_set(err, HR_ERR_FORMAT, "%s: missing or invalid 'algo'", path);
    memcpy(m->algo, algo, strlen(algo) + 1);
    if (m->kind == HR_MODEL_FACTOR ? (k < 1 || k > HR_MODEL_MAX_K) : k != 0)
        return hr_error_set(err, HR_ERR_FORMAT, "%s: invalid k = %lld for a %s model", path, (long long)k, kind);
    if (nu < 0 || ni < 0) return hr_error_set(err, HR_ERR_FORMAT, "%s: negative users/items count", path);
    if (!json_is_number(mu) || !isfinite(json_number_value(mu)))
        return hr_error_set(err, HR_ERR_FORMAT, "%s: missing or non-finite 'global_mean'", path);
    m->k = (int)k;
    m->n_users = (uint64_t)nu;
    m->n_items = (uint64_t)ni;
    m->global_mean = (float)json_number_value(mu);
    return load_row_scoring(path, man, m, err);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

uint64_t *hr_model_sorted_ids(const uint64_t *ids, uint64_t *n)
{
    uint64_t w = 0, *out = hr_malloc((*n + 1) * sizeof *out);
    if (*n) memcpy(out, ids, *n * sizeof *out);
    qsort(out, *n, sizeof *out, cmp_u64);
    for (uint64_t x = 0; x < *n; x++)
        if (w == 0 || out[x] != out[w - 1]) out[w++] = out[x];
    *n = w;
    return out;
}

void hr_model_free(hr_model *m)
{
    if (!m) return;
    hr_dict_free(&m->users);
    hr_dict_free(&m->items);
    hr_free(m->user_factors);
    hr_free(m->item_factors);
    hr_free(m->user_bias);
    hr_free(m->item_bias);
    hr_free(m->item_scores);
    hr_dict_free(&m->content_tokens);
    hr_free(m->content_idf);
    hr_free(m->content_map);
    hr_free(m->user_ids);
    hr_free(m->item_ids);
    for (uint64_t c = 0; m->ii_bytes && c < m->ii_count; c++) hr_free(m->ii_bytes[c]);
    hr_free(m->ii_bytes);
    hr_free(m->ii);
    json_decref(m->manifest);
    memset(m, 0, sizeof *m);
}

uint64_t hr_model_lower_bound(const uint64_t *a, uint64_t n, uint64_t v)
{
    uint64_t lo = 0, hi = n;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (a[mid] < v) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

static int64_t row_in(const uint64_t *ids, uint64_t n, uint64_t v)
{
    uint64_t at = hr_model_lower_bound(ids, n, v);
    return at < n && ids[at] == v ? (int64_t)at : -1;
}

int64_t hr_model_user_row(const hr_model *m, uint64_t u)
{
    if (!m->partial) return u < m->n_users ? (int64_t)u : -1;
    return row_in(m->user_ids, m->user_rows, u);
}

int64_t hr_model_item_row(const hr_model *m, uint64_t i)
{
    if (!m->partial) return i < m->n_items ? (int64_t)i : -1;
    if (!m->item_ids) return i >= m->item_lo && i < m->item_hi ? (int64_t)(i - m->item_lo) : -1;
    return row_in(m->item_ids, m->item_rows, i);
}

/* ---------------------------------------------------------------- scoring (reference) */

/* mu + b_u + b_i + x_u . y_i in double, rounded once. */
static float predict_unchecked(const hr_model *m, uint64_t u, uint64_t i)
{
    double s = (double)m->global_mean;
    if (m->user_bias) s += (double)m->user_bias[u];
    if (m->item_bias) s += (double)m->item_bias[i];
    if (m->kind == HR_MODEL_FACTOR) {
        const float *x = m->user_factors + u * (uint64_t)m->k, *y = m->item_factors + i * (uint64_t)m->k;
        double dot = 0;
        for (int f = 0; f < m->k; f++) dot += (double)x[f] * (double)y[f];
        s += dot;
    }
    return (float)s;
}

int hr_model_score_items(const hr_model *m, uint64_t user, float *scores, hr_error *err)
{
    if (m->kind == HR_MODEL_POP) {
        if (m->n_items) memcpy(scores, m->item_scores, m->n_items * sizeof *scores);
        return 0;
    }
    if (m->kind != HR_MODEL_FACTOR)
        return hr_error_set(err, HR_ERR_ARG, "cannot score by user id: a %s model scores from a user's row (hr_model_score_row)",
                            KIND_NAME[m->kind] ? KIND_NAME[m->kind] : "?");
    if (m->partial) return hr_error_set(err, HR_ERR_ARG, "cannot score: the model holds only part of its rows");
    if (user >= m->n_users)
        return hr_error_set(err, HR_ERR_ARG, "cannot score user %llu: the model has %llu users",
                            (unsigned long long)user, (unsigned long long)m->n_users);
    for (uint64_t i = 0; i < m->n_items; i++) scores[i] = predict_unchecked(m, user, i);
    return 0;
}

int hr_model_score_row(const hr_model *m, const uint32_t *items, const float *vals, uint64_t len, float *scores,
                       hr_error *err)
{
    if (m->partial || !(m->kind == HR_MODEL_ITEMITEM || (m->kind == HR_MODEL_FACTOR && m->fold_in)))
        return hr_error_set(err, HR_ERR_ARG, "cannot score a row: needs a whole item-item model or a factor model with fold-in");
    for (uint64_t e = 0; e < len; e++)
        if (items[e] >= m->n_items) return hr_error_set(err, HR_ERR_ARG, "row item %u past the model's %llu items", items[e],
                                                        (unsigned long long)m->n_items);
    if (m->kind == HR_MODEL_FACTOR) {   /* q = x V, then q . y_i */
        const int k = m->k;
        double *q = hr_calloc((size_t)k, sizeof *q);
        for (uint64_t e = 0; e < len; e++)
            for (int f = 0; f < k; f++) q[f] += (double)vals[e] * m->item_factors[(uint64_t)items[e] * (uint64_t)k + (uint64_t)f];
        for (uint64_t i = 0; i < m->n_items; i++) {
            double s = 0;
            for (int f = 0; f < k; f++) s += (double)(float)q[f] * m->item_factors[i * (uint64_t)k + (uint64_t)f];
            scores[i] = (float)s;
        }
        hr_free(q);
        return 0;
    }
    for (uint64_t c = 0; c < m->ii_count; c++) {
        const hr_iiblock *b = &m->ii[c];
        for (uint64_t j = b->c0; j < b->c1; j++) {
            double s = 0;
            if (b->dense) {
                for (uint64_t e = 0; e < len; e++) s += (double)vals[e] * b->val[(j - b->c0) * b->n + items[e]];
            } else {   /* merge the column's rows with the row's items (both ascending) */
                uint64_t e = 0, f = b->ptr[j - b->c0], f1 = b->ptr[j - b->c0 + 1];
                while (e < len && f < f1) {
                    if (items[e] < b->row[f]) e++;
                    else if (items[e] > b->row[f]) f++;
                    else s += (double)vals[e++] * b->val[f++];
                }
            }
            scores[j] = (float)s;
        }
    }
    return 0;
}

float hr_model_predict(const hr_model *m, uint64_t u, uint64_t i)
{
    if (!kind_ok(m) || hr_model_blocked(m->kind) || m->partial || u >= m->n_users || i >= m->n_items) return NAN;
    return predict_unchecked(m, u, i);
}
