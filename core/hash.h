/* core/hash.h — hashing and checksums (xxHash, Debian's libxxhash).
 *
 * XXH3-64 is the checksum of every file hpcrec writes (manifests record it as 16 hex
 * digits) and the hash behind ID interning and hash partitioning.  Chosen over a
 * hand-written hash: fast (GB/s), well-tested, stable output across versions. */
#ifndef HR_CORE_HASH_H
#define HR_CORE_HASH_H

#include <stddef.h>
#include <stdint.h>

uint64_t hr_hash_bytes(const void *p, size_t n, uint64_t seed);
/* A 64-bit integer mixer (splitmix64 finalizer): good avalanche, bijective. */
static inline uint64_t hr_mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* Streaming checksum of a byte sequence. */
typedef struct hr_checksum { void *state; } hr_checksum;
void     hr_checksum_init(hr_checksum *c);
void     hr_checksum_update(hr_checksum *c, const void *p, size_t n);
uint64_t hr_checksum_final(hr_checksum *c);  /* also frees the state */
void     hr_checksum_hex(uint64_t h, char out[17]);
/* The checksum of one buffer (XXH3-64, the same value as the streaming form). */
uint64_t hr_hash_checksum(const void *p, size_t n);
/* Checksum of a whole file; returns 0 or HR_ERR_IO (with err). */
struct hr_error;
int hr_checksum_file(const char *path, uint64_t *out, uint64_t *bytes, struct hr_error *err);

#endif
