/* kernels_x86_int.h - private to kernels_avx2.c / kernels_avx512.c: unpacking
 * the integer part of a group of 32 quantized values into 32 bytes of one
 * __m256i (byte l = value l of the group), shared by both ISAs. The ISA files
 * turn those bytes into floats and apply the scales.
 *
 * Groups: a 32-value block is one group; a 256-value K-quant super-block is
 * 8 groups, g = 0..7 in value order, whose halves (16 values each) are the
 * scale sub-blocks 2g and 2g+1 (see hh_kq_scales_t). Needs AVX2. */
#ifndef HH_KERNELS_KERNELS_X86_INT_H
#define HH_KERNELS_KERNELS_X86_INT_H

#include "kernels/kernels_int.h"

#include <immintrin.h>
#include <string.h>

static inline __m256i hh_x86_load32(const void *p) { return _mm256_loadu_si256((const __m256i *)p); }

/* Bytes of v shifted right by c bits (0..7), masked; the 16-bit shift leaks
 * bits of the next byte only into bits the mask removes. */
static inline __m256i hh_x86_shr_mask(__m256i v, int c, int mask)
{
    return _mm256_and_si256(_mm256_srl_epi16(v, _mm_cvtsi32_si128(c)), _mm256_set1_epi8((char)mask));
}

/* 16 bytes of nibbles: low nibbles are values 0..15, high nibbles 16..31. */
static inline __m256i hh_x86_nibbles(const uint8_t *qs)
{
    __m128i q = _mm_loadu_si128((const __m128i *)qs);
    __m128i m = _mm_set1_epi8(0x0f);
    __m128i lo = _mm_and_si128(q, m), hi = _mm_and_si128(_mm_srli_epi16(q, 4), m);
    return _mm256_inserti128_si256(_mm256_castsi128_si256(lo), hi, 1);
}

/* Byte l = 0x10 if bit l of the 32-bit little-endian word at p is set. */
static inline __m256i hh_x86_bit5(const uint8_t *p)
{
    uint32_t bits;
    memcpy(&bits, p, 4);
    /* byte l of the spread gets source byte l / 8 (each 128-bit lane holds a copy) */
    __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32((int)bits),
                                    _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
                                                     2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3));
    __m256i bit = _mm256_set1_epi64x(0x8040201008040201LL);
    __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(v, bit), bit);
    return _mm256_and_si256(set, _mm256_set1_epi8(0x10));
}

/* Signed q - 8. */
static inline __m256i hh_x86_bytes_q4_0(const hh_block_q4_0 *b)
{
    return _mm256_sub_epi8(hh_x86_nibbles(b->qs), _mm256_set1_epi8(8));
}

/* Signed twice-E2M1 values of an MXFP4 block (-12..12). */
static inline __m256i hh_x86_bytes_mxfp4(const hh_block_mxfp4 *b)
{
    const __m256i lut = _mm256_setr_epi8(0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12,
                                         0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12);
    return _mm256_shuffle_epi8(lut, hh_x86_nibbles(b->qs));
}

/* Table lookup of 32 IQ4 codes (nibbles as Q4_0) into their signed levels
 * (-127..113). */
static inline __m256i hh_x86_iq4_levels(const uint8_t *qs)
{
    const __m256i lut = _mm256_setr_epi8(-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113,
                                         -127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113);
    return _mm256_shuffle_epi8(lut, hh_x86_nibbles(qs));
}

static inline __m256i hh_x86_bytes_iq4_nl(const hh_block_iq4_nl *b) { return hh_x86_iq4_levels(b->qs); }

/* Signed levels of sub-block g (0..7) of an IQ4_XS super-block. */
static inline __m256i hh_x86_bytes_iq4_xs(const hh_block_iq4_xs *b, int g) { return hh_x86_iq4_levels(b->qs + 16 * g); }

/* Unsigned 0..15. */
static inline __m256i hh_x86_bytes_q4_1(const hh_block_q4_1 *b) { return hh_x86_nibbles(b->qs); }

/* Signed q - 16. */
static inline __m256i hh_x86_bytes_q5_0(const hh_block_q5_0 *b)
{
    __m256i q = _mm256_or_si256(hh_x86_nibbles(b->qs), hh_x86_bit5(b->qh));
    return _mm256_sub_epi8(q, _mm256_set1_epi8(16));
}

/* Unsigned 0..31. */
static inline __m256i hh_x86_bytes_q5_1(const hh_block_q5_1 *b)
{
    return _mm256_or_si256(hh_x86_nibbles(b->qs), hh_x86_bit5(b->qh));
}

/* Signed. */
static inline __m256i hh_x86_bytes_q8_0(const hh_block_q8_0 *b) { return hh_x86_load32(b->qs); }

/* Unsigned 0..3: plane g & 3 of half g >> 2. */
static inline __m256i hh_x86_bytes_q2_K(const hh_block_q2_K *b, int g)
{
    return hh_x86_shr_mask(hh_x86_load32(b->qs + 32 * (g >> 2)), 2 * (g & 3), 3);
}

/* Signed -4..3: low 2 bits as Q2_K, minus 4 unless bit g of hmask[l]. */
static inline __m256i hh_x86_bytes_q3_K(const hh_block_q3_K *b, int g)
{
    __m256i lo = hh_x86_shr_mask(hh_x86_load32(b->qs + 32 * (g >> 2)), 2 * (g & 3), 3);
    __m256i hb = hh_x86_shr_mask(hh_x86_load32(b->hmask), g, 1);
    return _mm256_sub_epi8(_mm256_or_si256(lo, _mm256_slli_epi16(hb, 2)), _mm256_set1_epi8(4));
}

/* Unsigned 0..15. */
static inline __m256i hh_x86_bytes_q4_K(const hh_block_q4_K *b, int g)
{
    return hh_x86_shr_mask(hh_x86_load32(b->qs + 32 * (g >> 1)), 4 * (g & 1), 0x0f);
}

/* Unsigned 0..31: 5th bit is bit g of qh[l]. */
static inline __m256i hh_x86_bytes_q5_K(const hh_block_q5_K *b, int g)
{
    __m256i lo = hh_x86_shr_mask(hh_x86_load32(b->qs + 32 * (g >> 1)), 4 * (g & 1), 0x0f);
    __m256i hb = hh_x86_shr_mask(hh_x86_load32(b->qh), g, 1);
    return _mm256_or_si256(lo, _mm256_slli_epi16(hb, 4));
}

/* Signed -32..31. */
static inline __m256i hh_x86_bytes_q6_K(const hh_block_q6_K *b, int g)
{
    int h = g >> 2, k = g & 3;
    __m256i lo = hh_x86_shr_mask(hh_x86_load32(b->ql + 64 * h + 32 * (k & 1)), 4 * (k >> 1), 0x0f);
    __m256i hi = hh_x86_shr_mask(hh_x86_load32(b->qh + 32 * h), 2 * k, 3);
    return _mm256_sub_epi8(_mm256_or_si256(lo, _mm256_slli_epi16(hi, 4)), _mm256_set1_epi8(32));
}

/* How a group's floats come from its integers q: d * q, d * q + m (Q4_1,
 * Q5_1), d * q - m (Q2_K, Q4_K, Q5_K); each operation rounded on its own. */
enum { HH_X86_MUL = 0, HH_X86_MUL_ADD = 1, HH_X86_MUL_SUB = 2 };

#endif
