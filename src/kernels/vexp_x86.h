/* vexp_x86.h - e^x for x <= 0 on 8 (AVX2) and 16 (AVX-512) lanes, shared by
 * the x86 kernel files (attention's softmax, SwiGLU). Include only from a
 * file compiled with the matching ISA flags (*_avx2.c / *_avx512.c).
 *
 * x = n ln2 + r with |r| <= ln2 / 2, e^r by its degree-6 Taylor polynomial
 * (relative error < 2e-7), times 2^n; inputs below -87 give e^-87 (callers
 * mask lanes that must be exactly 0). */
#ifndef HH_KERNELS_VEXP_X86_H
#define HH_KERNELS_VEXP_X86_H

#include <immintrin.h>

#define HH_VEXP_POLY(T, set1, fmadd)                  \
    T p = set1(1.0f / 720.0f);                        \
    p = fmadd(p, r, set1(1.0f / 120.0f));             \
    p = fmadd(p, r, set1(1.0f / 24.0f));              \
    p = fmadd(p, r, set1(1.0f / 6.0f));               \
    p = fmadd(p, r, set1(0.5f));                      \
    p = fmadd(p, r, set1(1.0f));                      \
    p = fmadd(p, r, set1(1.0f))

#if defined(__AVX512F__)
static inline __m512 hh_exp_neg16(__m512 x)
{
    x = _mm512_max_ps(x, _mm512_set1_ps(-87.0f));
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145751953125f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.428606765330187e-06f), r);
    HH_VEXP_POLY(__m512, _mm512_set1_ps, _mm512_fmadd_ps);
    return _mm512_scalef_ps(p, n);
}
#endif

#if defined(__AVX2__) && defined(__FMA__)
static inline __m256 hh_exp_neg8(__m256 x)
{
    x = _mm256_max_ps(x, _mm256_set1_ps(-87.0f));
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693145751953125f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(1.428606765330187e-06f), r);
    HH_VEXP_POLY(__m256, _mm256_set1_ps, _mm256_fmadd_ps);
    /* 2^n for n in -126..0: the biased exponent n + 127 */
    const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}
#endif

#endif
