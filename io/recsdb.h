/* io/recsdb.h — recommendations as an SQLite database, for serving stores and analysts
 * (hpcrec export --recs DIR --out FILE.sqlite; layout in docs/formats.md "Exports").
 *
 * Schema:
 *   recommendations(user, rank INTEGER, item, score REAL, source TEXT)
 *     user / item are INTEGER when the ids are integers (the dictionaries are numeric),
 *     TEXT otherwise; UNIQUE INDEX recommendations_user_rank ON (user, rank);
 *   meta(key TEXT PRIMARY KEY, value TEXT): what the caller records (format, version, model,
 *     day, manifest checksum, rows, ...).
 * Loading is one transaction: the tables, every row, then the unique index (built once over
 * the sorted keys, much faster than maintained per row), the meta rows, COMMIT.  The file is
 * written with the journal and syncs off (journal_mode OFF, synchronous OFF: a crash leaves a
 * temporary nobody reads, never a half database under the final name) and fsynced by
 * hr_recsdb_finish.  The caller creates it under a temporary name and renames it.
 *
 * Part files: the TSV that recommend writes (io/recwriter.h: a header line naming the columns
 * user rank item score source, zstd-compressed).  Each is checksummed against the XXH3-64 and
 * size the recommendations' manifest lists before it is read; a line that is not five fields,
 * a rank that is not a positive integer, a score that is not a finite number, or an id that
 * is not an integer in an INTEGER column is refused (HR_ERR_FORMAT naming file and line).
 * Two lines for one (user, rank) make the unique index fail: HR_ERR_FORMAT naming the pair.
 *
 * Errors: HR_ERR_NOSPACE (SQLite reports a full disk: the message says "No space left on
 * device" and names the file), HR_ERR_IO (SQLite or file errors, naming the file),
 * HR_ERR_CHECKSUM, HR_ERR_FORMAT.  On any error call hr_recsdb_abort, which removes the file. */
#ifndef HR_IO_RECSDB_H
#define HR_IO_RECSDB_H

#include <stdint.h>

#include "core/error.h"

typedef struct hr_recsdb hr_recsdb;

/* Create path (replacing a file of that name: the caller's temporary). */
int hr_recsdb_create(const char *path, int user_int, int item_int, hr_recsdb **out, hr_error *err);
/* A part file and what the manifest lists for it. */
typedef struct hr_recsdb_part {
    const char *path;
    uint64_t xxh3, bytes;
} hr_recsdb_part;
/* Load parts[0..n) in order; rows[x]: lines loaded from part x (header excluded).  A second
 * thread checksums, decompresses and parses the parts (the next part's while this one's
 * rows are inserted) a few chunks of 8192 rows ahead of the inserts on the caller's thread;
 * memory: four chunks.  The first error of either stops both and is returned. */
int hr_recsdb_load_parts(hr_recsdb *db, int n, const hr_recsdb_part *parts, uint64_t *rows, hr_error *err);
/* Load one part file; *rows: lines loaded (header excluded). */
int hr_recsdb_load_part(hr_recsdb *db, const char *path, uint64_t xxh3, uint64_t bytes, uint64_t *rows, hr_error *err);
/* Add a meta row (before finish). */
int hr_recsdb_meta(hr_recsdb *db, const char *key, const char *value, hr_error *err);
/* Build the unique index, commit, close and fsync.  Frees db in every case (removing the
 * file on failure). */
int hr_recsdb_finish(hr_recsdb *db, hr_error *err);
void hr_recsdb_abort(hr_recsdb *db);   /* accepts NULL */

#endif
