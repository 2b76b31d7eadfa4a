/* solvers/avx2.h — private to the solvers' kernel files (als_simd.c, als_chol.c, ials_simd.c):
 * what their AVX2 + FMA halves share.  Include it inside their x86-64 GCC/Clang block; the
 * functions it marks TGT are only called once hr_als_simd_level() said the CPU has AVX2 + FMA. */
#ifndef HR_SOLVERS_AVX2_H
#define HR_SOLVERS_AVX2_H

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#include <stdint.h>

/* Compiled for AVX2 + FMA whatever the build's -march; always inlined into such a function. */
#define TGT __attribute__((target("avx2,fma")))
#define INL __attribute__((always_inline)) inline

/* The first n (1..7) floats at p in lanes 0..n-1, zeros in the rest.  The masked lanes read
 * nothing, so a row's partial last vector cannot fault past the end of its array. */
TGT static INL __m256 hr_avx2_load_head(const float *p, int n)
{
    static const int32_t mask[16] = { -1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0 };
    return _mm256_maskload_ps(p, _mm256_loadu_si256((const __m256i *)(const void *)(mask + 8 - n)));
}
#endif

#endif
