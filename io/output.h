/* io/output.h — every file hpcrec writes goes through an hr_output.
 *
 * Writes go to "PATH.tmp-<pid>", optionally zstd-compressed (level != 0: 1..19, or negative
 * for zstd's fast levels; 0 = plain; workers > 1 uses
 * zstd's multi-threaded compression), with a running XXH3-64 of the bytes as stored on disk.
 * hr_output_commit() flushes, fsyncs and renames into place, so a reader never sees a
 * half-written file under the final name; hr_output_abort() removes the temporary.
 * ENOSPC is reported as HR_ERR_NOSPACE naming the file. */
#ifndef HR_IO_OUTPUT_H
#define HR_IO_OUTPUT_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef struct hr_output hr_output;

int hr_output_open(const char *path, int zstd_level, int workers, hr_output **out, hr_error *err);
int hr_output_write(hr_output *o, const void *p, size_t n, hr_error *err);
int hr_output_printf(hr_output *o, hr_error *err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Finish: checksum and size of the file on disk.  Frees o in every case. */
int hr_output_commit(hr_output *o, uint64_t *checksum, uint64_t *bytes, hr_error *err);
/* Uncompressed bytes written so far. */
uint64_t hr_output_raw_bytes(const hr_output *o);
void hr_output_abort(hr_output *o); /* accepts NULL */

/* Whole-buffer convenience. */
int hr_output_write_file(const char *path, const void *p, size_t n, int zstd_level,
                         uint64_t *checksum, uint64_t *bytes, hr_error *err);

/* mkdir -p */
int hr_mkdirs(const char *path, hr_error *err);
/* fsync a directory (after renames inside it). */
void hr_fsync_dir(const char *path);
/* Move a finished file written elsewhere (the collective model writer's PATH.tmp-<pid>) into
 * place: rename, then fsync the directory.  HR_ERR_IO / HR_ERR_NOSPACE naming both paths. */
int hr_file_install(const char *tmp, const char *path, hr_error *err);
/* Remove a temporary after a failed write (errors ignored). */
void hr_file_discard(const char *tmp);

#endif
