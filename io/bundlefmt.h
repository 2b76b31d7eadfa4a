/* io/bundlefmt.h — the bytes of a bundle, piece by piece, for writers that place them
 * themselves (model bundles of format version 2: io/model.h; the collective writer in jobs/
 * hands the pieces to mpi/ for MPI-IO at offsets every rank can compute).
 *
 * A bundle is a POSIX ustar archive:
 *   [512-byte header][data][zero pad to a multiple of 512]  for every member, in order
 *   [1024 zero bytes]                                        end-of-archive marker
 * Headers written here are plain ustar: name (< 100 bytes), mode 0644, uid/gid 0, empty
 * user/group names, size in 11 octal digits (members below 8 GiB), the given mtime, type '0',
 * magic "ustar\0" version "00".  Nothing in a header depends on who wrote it, so the same
 * member always has the same header bytes.
 *
 * A packer compresses one member (zstd level 3, frame checksum on: the v1 settings) into a
 * buffer laid out as [header][frame][pad], ready to write as one piece, and reports its
 * stored size and XXH3-64.  The buffer is the packer's and is reused by the next pack, so a
 * writer going through thousands of members allocates once (no page-fault churn).
 * Compression is deterministic: the same raw bytes give the same stored bytes, which the
 * two-pass collective writer relies on (sizes first, bytes second).
 *
 * Errors: HR_ERR_ARG (a name of 100 bytes or more, a member of 8 GiB or more), HR_ERR_NOMEM,
 * HR_ERR_IO (zstd failure). */
#ifndef HR_IO_BUNDLEFMT_H
#define HR_IO_BUNDLEFMT_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#define HR_TAR_BLOCK 512u

/* n rounded up to a multiple of 512. */
static inline uint64_t hr_tar_round(uint64_t n) { return (n + HR_TAR_BLOCK - 1) / HR_TAR_BLOCK * HR_TAR_BLOCK; }
/* Bytes a member of `size` stored bytes takes in the archive: header + data + pad. */
static inline uint64_t hr_tar_span(uint64_t size) { return HR_TAR_BLOCK + hr_tar_round(size); }

/* Format a ustar header for a regular file. */
int hr_tar_header(unsigned char h[HR_TAR_BLOCK], const char *name, uint64_t size, int64_t mtime, hr_error *err);
/* Parse one: 1 (with *size and *name) when h is a valid ustar header of a regular file (checksum
 * verified), 0 otherwise.  name: at least 101 bytes. */
int hr_tar_parse(const unsigned char h[HR_TAR_BLOCK], char *name, uint64_t *size);

typedef struct hr_packer hr_packer;

hr_packer *hr_packer_create(void);
void hr_packer_free(hr_packer *p);   /* accepts NULL */
/* Compress raw[0..len) as member `tarname` (the name in the archive, e.g. "x.f32.000001.zst")
 * into the packer's piece [header][frame][pad].  *piece / *piece_len: the whole piece (valid
 * until the next pack or free); *stored: the frame's size; *xxh3: its checksum. */
int hr_packer_pack(hr_packer *p, const void *raw, size_t len, const char *tarname, int64_t mtime,
                   const unsigned char **piece, size_t *piece_len, uint64_t *stored, uint64_t *xxh3, hr_error *err);
/* The same for a member stored as it is (no compression). */
int hr_packer_plain(hr_packer *p, const void *data, size_t len, const char *tarname, int64_t mtime,
                    const unsigned char **piece, size_t *piece_len, uint64_t *xxh3, hr_error *err);

#endif
