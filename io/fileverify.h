/* io/fileverify.h — verify a file against its manifest entry (datasets, checkpoints, indexes).
 * Kept apart from the shard format so readers of other formats need only this. */
#ifndef HR_IO_FILEVERIFY_H
#define HR_IO_FILEVERIFY_H

#include <stdint.h>

#include "core/error.h"

/* Verify a file against its manifest entry: size first (expect_bytes; UINT64_MAX when the
 * caller has none), so a cut file is reported as truncated, then the checksum.
 * HR_ERR_CHECKSUM for either; HR_ERR_IO when it cannot be read. */
int hr_file_verify(const char *path, uint64_t expect_checksum, uint64_t expect_bytes, hr_error *err);

#endif
