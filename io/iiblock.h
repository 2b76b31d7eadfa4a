/* io/iiblock.h — the byte form of an item-item column block (solvers/itemitem.h): a model
 * bundle member ("item_item.NNNNN", docs/formats.md) and, unchanged, the message a block
 * travels in round the ring of ranks at scoring time.
 *
 *   offset  type            field
 *   0       char[8]         "HRIIBLK1"
 *   8       u32             version = 1
 *   12      u32             layout: 1 dense, 0 sparse
 *   16      u64             n        rows (items of the model)
 *   24      u64             c0       first column
 *   32      u64             c1       one past the last column (c0 < c1 <= n)
 *   40      u64             nnz      entries (dense: n * (c1 - c0))
 *   48      sparse: u64 ptr[c1 - c0 + 1], u32 row[nnz], f32 val[nnz]
 *           dense:  f32 val[n * (c1 - c0)], column-major
 * Little-endian.  Every offset is aligned for its type, so a decoded view points straight into
 * the bytes (no copy) when they start 8-byte aligned (hr_malloc'd buffers do).
 *
 * Ownership: encode returns an hr_malloc'd buffer (caller frees); decode fills a view of p,
 * valid while p lives.
 * Errors (decode): HR_ERR_FORMAT naming `what`: bad magic, truncated or trailing bytes, sizes
 * that do not add up, ptr not starting at 0 / decreasing / not ending at nnz, rows not strictly
 * ascending within a column or past n, a non-finite value; HR_ERR_VERSION for another version. */
#ifndef HR_IO_IIBLOCK_H
#define HR_IO_IIBLOCK_H

#include <stddef.h>

#include "core/error.h"
#include "solvers/itemitem.h"

#define HR_IIBLOCK_HEADER 48

void hr_iiblock_encode(const hr_iiblock *b, void **out, size_t *len);
/* Bytes of b's encoding, and the encoding into caller memory of that size. */
size_t hr_iiblock_size(const hr_iiblock *b);
void hr_iiblock_encode_into(const hr_iiblock *b, void *out);
/* expect_n: the model's item count (the block must have n == expect_n). */
int hr_iiblock_decode(const void *p, size_t len, uint64_t expect_n, const char *what, hr_iiblock *b, hr_error *err);
/* Header and size checks only, for bytes this process decoded before (a block back from the
 * ring): O(1) instead of a pass over the entries. */
int hr_iiblock_view(const void *p, size_t len, uint64_t expect_n, const char *what, hr_iiblock *b, hr_error *err);

#endif
