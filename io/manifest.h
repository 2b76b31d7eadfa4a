/* io/manifest.h — versioned JSON manifests (jansson) for datasets, models and checkpoints.
 *
 * Every manifest has "format" (what it describes) and "version" (an integer).  Readers accept
 * versions up to the one they know and refuse later ones with a message saying which hpcrec
 * is needed.  "files" maps each file's path (relative to the manifest) to {bytes, xxh3}.
 * Jansson was chosen over hand-written JSON: well-kept in Debian, exact integers (json_int_t
 * is 64-bit), and safe escaping of paths and external IDs. */
#ifndef HR_IO_MANIFEST_H
#define HR_IO_MANIFEST_H

#include <jansson.h>
#include <stdint.h>

#include "core/error.h"

#define HR_DATASET_FORMAT "hpcrec-dataset"
#define HR_DATASET_VERSION 1

/* Read DIR/manifest.json (or a plain path when it ends in .json) and check format and
 * version <= max_version.  *out is a new reference. */
int hr_manifest_read(const char *path, const char *format, int max_version, json_t **out, hr_error *err);
/* Write atomically (temp + fsync + rename); checksum/bytes optional. */
int hr_manifest_write(const char *path, json_t *m, hr_error *err);
/* Manifest as a string (caller frees with free()), for embedding in a bundle. */
char *hr_manifest_dumps(json_t *m);

void hr_manifest_add_file(json_t *m, const char *relpath, uint64_t bytes, uint64_t checksum);
/* Look up a file's checksum and size; HR_ERR_FORMAT naming the manifest if absent. */
int hr_manifest_file(json_t *m, const char *manifest_path, const char *relpath, uint64_t *checksum,
                     uint64_t *bytes, hr_error *err);
/* Integer field (HR_ERR_FORMAT if missing or not an integer). */
int hr_manifest_int(json_t *obj, const char *manifest_path, const char *key, int64_t *out, hr_error *err);

/* UTC timestamp "2026-11-23T15:04:05Z" into buf (>= 21 bytes). */
void hr_manifest_now(char *buf, size_t cap);
/* The same for Unix time t. */
void hr_manifest_time(int64_t t, char *buf, size_t cap);
/* "Now" for things that should be reproducible (model bundles): SOURCE_DATE_EPOCH when the
 * environment sets it to a non-negative integer (the reproducible-builds convention), else
 * the current time. */
int64_t hr_manifest_epoch(void);

#endif
