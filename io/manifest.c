#include "io/manifest.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/hash.h"
#include "io/output.h"

int hr_manifest_read(const char *path, const char *format, int max_version, json_t **out, hr_error *err)
{
    json_error_t je;
    json_t *m = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!m) {
        if (je.line < 1) return hr_error_set(err, HR_ERR_IO, "%s: cannot read manifest: %s", path, je.text);
        return hr_error_set(err, HR_ERR_FORMAT, "%s:%d: invalid manifest: %s", path, je.line, je.text);
    }
    const char *f = json_string_value(json_object_get(m, "format"));
    json_t *v = json_object_get(m, "version");
    if (!json_is_object(m) || !f || !json_is_integer(v)) {
        json_decref(m);
        return hr_error_set(err, HR_ERR_FORMAT, "%s: not an hpcrec manifest (no format/version)", path);
    }
    if (strcmp(f, format) != 0) {
        int rc = hr_error_set(err, HR_ERR_FORMAT, "%s: is a '%s', expected a '%s'", path, f, format);
        json_decref(m);
        return rc;
    }
    if (json_integer_value(v) > max_version || json_integer_value(v) < 1) {
        int rc = hr_error_set(err, HR_ERR_VERSION,
                              "%s: %s version %" JSON_INTEGER_FORMAT " is not supported by this hpcrec (%s reads versions 1..%d); use a newer hpcrec",
                              path, format, json_integer_value(v), HR_VERSION, max_version);
        json_decref(m);
        return rc;
    }
    *out = m;
    return 0;
}

char *hr_manifest_dumps(json_t *m) { return json_dumps(m, JSON_INDENT(2) | JSON_SORT_KEYS); }

int hr_manifest_write(const char *path, json_t *m, hr_error *err)
{
    char *s = hr_manifest_dumps(m);
    if (!s) return hr_error_set(err, HR_ERR_NOMEM, "%s: cannot serialise manifest", path);
    size_t n = strlen(s);
    s[n] = '\n'; /* jansson leaves room for the NUL; replace it and write n+1 bytes */
    int rc = hr_output_write_file(path, s, n + 1, 0, NULL, NULL, err);
    free(s);
    return rc;
}

void hr_manifest_add_file(json_t *m, const char *relpath, uint64_t bytes, uint64_t checksum)
{
    json_t *files = json_object_get(m, "files");
    if (!files) {
        files = json_object();
        json_object_set_new(m, "files", files);
    }
    char hex[17];
    hr_checksum_hex(checksum, hex);
    json_object_set_new(files, relpath, json_pack("{s:I,s:s}", "bytes", (json_int_t)bytes, "xxh3", hex));
}

int hr_manifest_file(json_t *m, const char *mpath, const char *relpath, uint64_t *checksum, uint64_t *bytes, hr_error *err)
{
    json_t *e = json_object_get(json_object_get(m, "files"), relpath);
    const char *hex = json_string_value(json_object_get(e, "xxh3"));
    json_t *b = json_object_get(e, "bytes");
    if (!hex || !json_is_integer(b) || strlen(hex) != 16)
        return hr_error_set(err, HR_ERR_FORMAT, "%s: no valid entry for file '%s'", mpath, relpath);
    *checksum = strtoull(hex, NULL, 16);
    if (bytes) *bytes = (uint64_t)json_integer_value(b);
    return 0;
}

int hr_manifest_int(json_t *obj, const char *mpath, const char *key, int64_t *out, hr_error *err)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_integer(v)) return hr_error_set(err, HR_ERR_FORMAT, "%s: missing integer field '%s'", mpath, key);
    *out = json_integer_value(v);
    return 0;
}

void hr_manifest_now(char *buf, size_t cap) { hr_manifest_time((int64_t)time(NULL), buf, cap); }

int64_t hr_manifest_epoch(void)
{
    const char *s = getenv("SOURCE_DATE_EPOCH");
    if (s && *s) {
        char *end;
        long long v = strtoll(s, &end, 10);
        if (*end == '\0' && v >= 0) return (int64_t)v;
    }
    return (int64_t)time(NULL);
}

void hr_manifest_time(int64_t t64, char *buf, size_t cap)
{
    time_t t = (time_t)t64;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}
