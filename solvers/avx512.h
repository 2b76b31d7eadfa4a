/* solvers/avx512.h — private to the solvers' kernel files: what their AVX-512 parts share.
 * Include it inside their x86-64 GCC/Clang block, after solvers/avx2.h; the functions it marks
 * TGT512 are only called once hr_als_simd_level() said 2 (the CPU has AVX-512F, AVX2 and FMA). */
#ifndef HR_SOLVERS_AVX512_H
#define HR_SOLVERS_AVX512_H

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

/* Compiled for AVX-512F (+ AVX2 and FMA, so AVX2 helpers inline into it) whatever the -march. */
#define TGT512 __attribute__((target("avx2,fma,avx512f")))

/* The first n (0..16) lanes. */
static inline __mmask16 hr_avx512_head(int n) { return (__mmask16)(n >= 16 ? 0xffffu : (1u << n) - 1u); }
#endif

#endif
