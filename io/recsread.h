/* io/recsread.h — read the recommendations `recommend` wrote (DIR/manifest.json, format
 * hpcrec-recommendations, and its zstd TSV parts "user rank item score source").
 *
 * A directory is opened once (its manifest read, its parts listed in name order); each part is
 * verified against its manifest entry (size, then xxh3) before its lines are passed, one by one,
 * to a callback.  Any number of readers may read different parts of one directory at once.
 * Errors name the file and, for a bad line, its line number (HR_ERR_FORMAT). */
#ifndef HR_IO_RECSREAD_H
#define HR_IO_RECSREAD_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "io/input.h"
#include "io/lines.h"

typedef struct hr_recs_dir {
    char *dir;
    json_t *manifest;       /* owned reference */
    char **parts;           /* nparts names relative to dir, sorted */
    size_t nparts;
    int64_t top;            /* the manifest's "top" (0 when absent) */
} hr_recs_dir;

int hr_recs_open(const char *dir, hr_recs_dir *out, hr_error *err);
void hr_recs_close(hr_recs_dir *d);   /* accepts a zeroed struct */

/* A recommendations part on its own (path, its manifest checksum and size): verified (size, then
 * xxh3: HR_ERR_CHECKSUM), opened and its header line checked (exactly "user rank item score
 * source", tab-separated; a CR before the newline is tolerated); *l is positioned at the first
 * data line (line 2) and owns *in: the caller frees l, then closes in.  Shared by the readers
 * here and by io/recsdb.c (the SQLite export), so both accept the same parts. */
int hr_recs_part_open(const char *path, uint64_t xxh3, uint64_t bytes, hr_input **in, hr_lines **l, hr_error *err);

/* One line: user and item ids (not NUL-terminated), rank (1-based).  A non-zero return stops
 * the read and is returned. */
typedef int (*hr_recs_line_fn)(void *ctx, const char *user, size_t ulen, uint32_t rank, const char *item, size_t ilen);
/* Verify and read part x of d; *lines gets the data lines read. */
int hr_recs_read_part(const hr_recs_dir *d, size_t x, hr_recs_line_fn fn, void *ctx, uint64_t *lines, hr_error *err);

#endif
