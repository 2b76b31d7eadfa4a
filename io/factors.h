/* io/factors.h — one rank's block of factor rows, as a checkpoint stores it.
 *
 * File (zstd, frame checksums on): "HRFACT01" | u32 version=1 | u32 width | u64 nrows |
 *   u32 gid[nrows] | f32 rows[nrows * width]
 * width = k, or k + 1 when the last column is the row's bias.  Rows are tagged with their
 * global ids so a checkpoint written on P ranks can be re-sharded onto Q ranks.  The manifest
 * holds the XXH3 of each file, verified before decoding; a truncated or corrupted file is an
 * error naming it.  Writes are atomic (io/output.h); disk full is HR_ERR_NOSPACE. */
#ifndef HR_IO_FACTORS_H
#define HR_IO_FACTORS_H

#include <stdint.h>

#include "core/error.h"

/* workers > 1: zstd multi-threaded compression. */
int hr_factors_write(const char *path, const uint32_t *gid, const float *rows, uint64_t nrows, uint32_t width,
                     int zstd_level, int workers, uint64_t *checksum, uint64_t *bytes, uint64_t *raw_bytes, hr_error *err);
/* *gid and *rows are hr_malloc'd.  expect_width: the caller's k or k+1 (mismatch: HR_ERR_FORMAT).
 * expect_bytes: the file's size in the manifest (a shorter file is reported as truncated). */
int hr_factors_read(const char *path, uint64_t expect_checksum, uint64_t expect_bytes, uint32_t expect_width,
                    uint32_t **gid, float **rows, uint64_t *nrows, hr_error *err);

#endif
