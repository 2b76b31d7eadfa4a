/* io/dictbuf.h — an ID dictionary as bytes in memory, for embedding in bundles.
 *
 * The encoding is exactly the uncompressed dictionary-file layout of io/shard.h
 * ("HRDICT01" | u32 version=1 | u32 is_int | u64 n | ids or offsets+bytes | u64 nnz[n]),
 * so a dictionary taken out of a model bundle and one read from a dataset are the same bytes.
 *
 * Ownership: hr_dictbuf_encode returns an hr_malloc'd buffer the caller frees with hr_free.
 * hr_dictbuf_decode fills a fresh hr_dict the caller releases with hr_dict_free (on failure
 * *d is left empty and needs no free).
 * Errors (decode only): HR_ERR_FORMAT naming `what` when the bytes are truncated, have
 * trailing bytes, a bad magic/version, or keys that are not strictly ascending (hr_dict_find
 * relies on sorted, unique keys; offsets out of range would make hr_dict_format read out of
 * bounds). */
#ifndef HR_IO_DICTBUF_H
#define HR_IO_DICTBUF_H

#include <stddef.h>

#include "core/error.h"
#include "partition/dict.h"

/* A NULL d->nnz is encoded as zeros. */
void hr_dictbuf_encode(const hr_dict *d, void **out, size_t *len);
/* `what` names the source in messages ("model.tar:users.dict"). */
int hr_dictbuf_decode(const void *p, size_t len, const char *what, hr_dict *d, hr_error *err);

#endif
