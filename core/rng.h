/* core/rng.h — deterministic counter-based random numbers.
 *
 * Every random quantity in hpcrec is a pure function of (seed, what, which): the initial
 * factor of item 42 is the same on 1 or 4 ranks because it is drawn from the stream
 * hr_rng_stream(seed, HR_STREAM_ITEM_INIT, external-id-hash), never from a rank-local counter.
 * The generator is splitmix64 over a 64-bit state (state fits a checkpoint in 8 bytes). */
#ifndef HR_CORE_RNG_H
#define HR_CORE_RNG_H

#include <stdint.h>

#include "core/hash.h"

typedef struct hr_rng { uint64_t s; } hr_rng;

static inline hr_rng hr_rng_stream(uint64_t seed, uint64_t what, uint64_t which)
{
    hr_rng r = { hr_mix64(hr_mix64(seed ^ 0x6a09e667f3bcc908ull) ^ hr_mix64(what + 0x3c6ef372fe94f82bull) ^ which) };
    return r;
}

static inline uint64_t hr_rng_u64(hr_rng *r)
{
    r->s += 0x9e3779b97f4a7c15ull;
    uint64_t z = r->s;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1) with 53 random bits. */
static inline double hr_rng_uniform(hr_rng *r) { return (double)(hr_rng_u64(r) >> 11) * 0x1.0p-53; }

/* Uniform integer in [0, n) (Lemire's multiply-shift; bias < 2^-64 * n, negligible). */
static inline uint64_t hr_rng_below(hr_rng *r, uint64_t n)
{
    return (uint64_t)(((unsigned __int128)hr_rng_u64(r) * n) >> 64);
}

/* Standard normal (Box–Muller, one value per call for simplicity of state). */
double hr_rng_normal(hr_rng *r);

/* Stream identifiers: never renumber (they define which random numbers a model gets). */
enum {
    HR_STREAM_USER_INIT = 1,
    HR_STREAM_ITEM_INIT = 2,
    HR_STREAM_SPLIT = 3,
    HR_STREAM_GEN = 4,
    HR_STREAM_BOOTSTRAP = 5,
    HR_STREAM_EVAL = 6,
    HR_STREAM_INDEX = 7,   /* index build: k-means seeds and training sample (solvers/kmeans.h) */
    HR_STREAM_SVD = 8,     /* randomized SVD: the Gaussian test matrix */
};

#endif
