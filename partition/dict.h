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
/* The exact external ID of gid: for a string dictionary a pointer into d->bytes (not
 * NUL-terminated, no copy, any length), for a numeric one its decimal text written into tmp.
 * *len gets the length.  Valid while d and tmp live.  Use this, never hr_dict_format, for ids
 * that are matched or written out: ids have no length limit. */
#define HR_DICT_INT_CHARS 24
const char *hr_dict_key(const hr_dict *d, uint64_t gid, char tmp[HR_DICT_INT_CHARS], size_t *len);
/* External ID of gid as text into buf (NUL-terminated, TRUNCATED to cap); returns length.
 * For messages and tests only. */
size_t hr_dict_format(const hr_dict *d, uint64_t gid, char *buf, size_t cap);
/* Matching two dictionaries by external ID (a dataset's and a model's): map[g] is the gid in
 * `to` of from's gid g, matched on the exact bytes of the ID, or UINT32_MAX when `to` does not
 * hold it.  hr_malloc'd, from->n entries (at least one); *matched (may be NULL) counts the
 * matches.  O(n_from + n_to) when both dictionaries are of one kind (a merge of the two sorted
 * key lists), else O(n_from log n_to).  A numeric ID matches the same text in a string
 * dictionary ("7" = 7; "007" matches nothing numeric).  Needs to->n < UINT32_MAX. */
uint32_t *hr_dict_match(const hr_dict *from, const hr_dict *to, uint64_t *matched);
/* True when s[0..n) is a canonical int64 decimal; value in *v. */
int hr_dict_canonical_int(const char *s, size_t n, int64_t *v);
/* Keep only the ids with keep[gid] != 0 (order preserved).  Returns the old -> new map
 * (hr_malloc'd; UINT32_MAX for dropped ids).  nnz is dropped (the writer recomputes it). */
uint32_t *hr_dict_keep(hr_dict *d, const uint8_t *keep);
/* Fingerprint of the key set (order-sensitive hash), to tell datasets/models apart. */
uint64_t hr_dict_fingerprint(const hr_dict *d);

#endif
