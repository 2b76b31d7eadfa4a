/* partition/dict.h — the global ID dictionary: external ID <-> dense global id.
 *
 * Global ids are positions in the sorted list of distinct external IDs, so they are the same
 * whatever the rank count and however the input was split.  When every ID in a column is a
 * canonical decimal integer (no leading zeros or '+', fits int64) the dictionary is numeric
 * and sorted numerically; otherwise IDs are byte strings sorted bytewise.  Every rank holds
 * the whole dictionary (8-16 bytes per ID: 1M users cost ~16 MB).
 *
 * Ownership: a dict owns its arrays; hr_dict_free releases them. */
#ifndef HR_PARTITION_DICT_H
#define HR_PARTITION_DICT_H

#include <stddef.h>
#include <stdint.h>

typedef struct hr_dict {
    int is_int;
    uint64_t n;
    int64_t *ints;       /* is_int: sorted ascending */
    char *bytes;         /* !is_int: concatenated keys, sorted bytewise */
    uint64_t *offs;      /* !is_int: n+1 offsets into bytes */
    uint64_t *nnz;       /* interactions per id (may be NULL) */
} hr_dict;

/* Build from a concatenation of hr_intern_pack() buffers (duplicates allowed). */
void hr_dict_build(hr_dict *d, const char *packed, uint64_t bytes);
/* Adopt arrays (used by the dictionary file reader): ints or (bytes, offs). */
void hr_dict_free(hr_dict *d);
/* Global id of a key, or -1 if absent.  O(log n). */
int64_t hr_dict_find(const hr_dict *d, const char *key, size_t len);
/* External ID of gid as text into buf (NUL-terminated, truncated to cap); returns length. */
size_t hr_dict_format(const hr_dict *d, uint64_t gid, char *buf, size_t cap);
/* True when s[0..n) is a canonical int64 decimal; value in *v. */
int hr_dict_canonical_int(const char *s, size_t n, int64_t *v);
/* Keep only the ids with keep[gid] != 0 (order preserved).  Returns the old -> new map
 * (hr_malloc'd; UINT32_MAX for dropped ids).  nnz is dropped (the writer recomputes it). */
uint32_t *hr_dict_keep(hr_dict *d, const uint8_t *keep);
/* Fingerprint of the key set (order-sensitive hash), to tell datasets/models apart. */
uint64_t hr_dict_fingerprint(const hr_dict *d);

#endif
