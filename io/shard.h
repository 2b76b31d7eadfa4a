/* io/shard.h — dataset shard and dictionary files.
 *
 * Shard (by-user/part-RRRRR.bin.zst or by-item/...): one zstd stream (frame checksums on)
 * holding a fixed header then the arrays of an hr_block:
 *   "HRSHARD1" | u32 version=2 | u32 by_item | u64 nrows | u64 nnz |
 *   u32 gid[nrows] | u64 ptr[nrows+1] | chunks
 * where the entries come in chunks of HR_SHARD_CHUNK (the last shorter), a chunk of m entries
 * being 16 byte planes of m bytes: the 4 bytes of idx, the 4 of val and the 8 of ts, plane b
 * holding byte b of every entry, with idx as differences from the previous entry (u32,
 * mod 2^32, the first from 0).  Version 1 (still read) held the plain arrays
 * u32 idx[nnz] | f32 val[nnz] | i64 ts[nnz].
 * Dictionary (users.dict.zst / items.dict.zst): "HRDICT01" | u32 version=1 | u32 is_int |
 *   u64 n | (is_int: i64 ids[n] | else u64 offs[n+1] | bytes) | u64 nnz[n]
 * Little-endian, as every supported platform.  Readers check magic, version, sizes and
 * internal consistency (ptr monotone, gids in range) and name the file on any error; the
 * manifest's XXH3 checksum of the file is verified before decoding. */
#ifndef HR_IO_SHARD_H
#define HR_IO_SHARD_H

#include <stdint.h>

#include "core/error.h"
#include "io/fileverify.h"
#include "partition/block.h"
#include "partition/dict.h"

#define HR_SHARD_VERSION 2
#define HR_SHARD_CHUNK 524288   /* entries per chunk (a format constant of version 2) */

int hr_shard_write(const char *path, const hr_block *b, int by_item, int zstd_level,
                   uint64_t *checksum, uint64_t *bytes, hr_error *err);
/* The shard hr_block_from_triples(t, n, NULL, p, rank, by_item) + hr_shard_write would write,
 * byte for byte, without building the block (no 16 bytes per entry of fresh arrays).  t must be
 * sorted by hr_triples_sort(.., p, rank, by_item): entries of a row are contiguous, rows in
 * local order.  row_nnz (may be NULL: counted from t): the entries of each row by global id, as
 * a dictionary's nnz holds them when every entry of the rank's rows is in t; a total other than
 * n is an error (nothing written). */
int hr_shard_write_triples(const char *path, const hr_triple *t, uint64_t n, const hr_part *p, int rank, int by_item,
                           const uint64_t *row_nnz,
                           int zstd_level, uint64_t *checksum, uint64_t *bytes, hr_error *err);
/* n_other: size of the other side's dictionary, to range-check idx. */
int hr_shard_read(const char *path, uint64_t expect_checksum, uint64_t n_rows_global, uint64_t n_other,
                  hr_block *b, int *by_item, hr_error *err);

int hr_dictfile_write(const char *path, const hr_dict *d, int zstd_level, uint64_t *checksum,
                      uint64_t *bytes, hr_error *err);
int hr_dictfile_read(const char *path, uint64_t expect_checksum, hr_dict *d, hr_error *err);

#endif
