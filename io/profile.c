/* io/profile.c — profile.json (see profile.h). */
#include "io/profile.h"

#include <jansson.h>
#include <string.h>

#include "io/manifest.h"

static json_t *arr(const uint64_t *v, int n)
{
    json_t *a = json_array();
    for (int i = 0; i < n; i++) json_array_append_new(a, json_integer((json_int_t)v[i]));
    return a;
}

int hr_profile_write(const char *path, const hr_profile *p, const char *source, hr_error *err)
{
    char now[32];
    hr_manifest_now(now, sizeof now);
    json_t *j = json_pack("{s:s,s:i,s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:f,s:f,s:f}", "format", HR_PROFILE_FORMAT, "version",
                          HR_PROFILE_VERSION, "software", "hpcrec " HR_VERSION, "created", now, "source", source ? source : "",
                          "interactions", (json_int_t)p->interactions, "users", (json_int_t)p->users, "items",
                          (json_int_t)p->items, "value_sum_fixed", (json_int_t)p->value_sum_fixed, "value_mean",
                          p->interactions ? (double)p->value_sum_fixed / HR_PROFILE_VALUE_SCALE / (double)p->interactions : 0.0,
                          "head_share", p->head_share, "head_fraction", HR_PROFILE_HEAD_FRACTION);
    json_object_set_new(j, "popularity_items", arr(p->popularity_items, HR_DRIFT_LOG_BUCKETS));
    json_object_set_new(j, "popularity_interactions", arr(p->popularity_interactions, HR_DRIFT_LOG_BUCKETS));
    json_object_set_new(j, "activity_users", arr(p->activity_users, HR_DRIFT_LOG_BUCKETS));
    json_object_set_new(j, "value_counts", arr(p->value_counts, HR_DRIFT_VALUE_BUCKETS));
    json_t *e = json_array();
    for (int i = 0; i < HR_DRIFT_VALUE_BUCKETS - 1; i++) json_array_append_new(e, json_real(HR_DRIFT_VALUE_EDGES[i]));
    json_object_set_new(j, "value_edges", e);
    int rc = hr_manifest_write(path, j, err);
    json_decref(j);
    return rc;
}

static int get_arr(json_t *j, const char *path, const char *key, uint64_t *out, int n, hr_error *err)
{
    json_t *a = json_object_get(j, key);
    if (!json_is_array(a) || json_array_size(a) != (size_t)n)
        return hr_error_set(err, HR_ERR_FORMAT, "%s: \"%s\" is not an array of %d counts", path, key, n);
    for (int i = 0; i < n; i++) {
        json_t *v = json_array_get(a, (size_t)i);
        if (!json_is_integer(v) || json_integer_value(v) < 0)
            return hr_error_set(err, HR_ERR_FORMAT, "%s: \"%s\"[%d] is not a count", path, key, i);
        out[i] = (uint64_t)json_integer_value(v);
    }
    return 0;
}

int hr_profile_read(const char *path, hr_profile *p, hr_error *err)
{
    memset(p, 0, sizeof *p);
    json_t *j;
    HR_TRY(hr_manifest_read(path, HR_PROFILE_FORMAT, HR_PROFILE_VERSION, &j, err));
    int64_t v[4];
    static const char *const keys[] = { "interactions", "users", "items", "value_sum_fixed" };
    int rc = 0;
    for (int i = 0; rc == 0 && i < 4; i++) rc = hr_manifest_int(j, path, keys[i], &v[i], err);
    if (rc == 0 && (v[0] < 0 || v[1] < 0 || v[2] < 0)) rc = hr_error_set(err, HR_ERR_FORMAT, "%s: a negative count", path);
    if (rc == 0) {
        p->interactions = (uint64_t)v[0], p->users = (uint64_t)v[1], p->items = (uint64_t)v[2], p->value_sum_fixed = v[3];
        json_t *h = json_object_get(j, "head_share");
        if (!json_is_number(h)) rc = hr_error_set(err, HR_ERR_FORMAT, "%s: \"head_share\" is not a number", path);
        else p->head_share = json_number_value(h);
    }
    if (rc == 0) rc = get_arr(j, path, "popularity_items", p->popularity_items, HR_DRIFT_LOG_BUCKETS, err);
    if (rc == 0) rc = get_arr(j, path, "popularity_interactions", p->popularity_interactions, HR_DRIFT_LOG_BUCKETS, err);
    if (rc == 0) rc = get_arr(j, path, "activity_users", p->activity_users, HR_DRIFT_LOG_BUCKETS, err);
    if (rc == 0) rc = get_arr(j, path, "value_counts", p->value_counts, HR_DRIFT_VALUE_BUCKETS, err);
    json_decref(j);
    return rc;
}
