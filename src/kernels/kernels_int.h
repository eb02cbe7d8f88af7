/* kernels_int.h - private to src/kernels/: the per-ISA table fillers and the
 * scale unpacking shared by the scalar reference and the SIMD variants.
 *
 * Adding a kernel: put the scalar version in kernels_ref.c and register it in
 * hh_kernels_fill_ref(); a SIMD file overrides the entry in its own filler
 * (which starts from a copy of the reference table). */
#ifndef HH_KERNELS_KERNELS_INT_H
#define HH_KERNELS_KERNELS_INT_H

#include "kernels/fp16.h"
#include "kernels/kernels.h"

#include <stdint.h>

/* Fill k with the scalar reference kernels (every entry the reference has). */
void hh_kernels_fill_ref(hh_kernels_t *k);

/* Each fills k with the reference, then overrides what the ISA speeds up.
 * Only called when the CPU supports the ISA. */
#if defined(__x86_64__)
void hh_kernels_fill_avx2(hh_kernels_t *k);
void hh_kernels_fill_avx512(hh_kernels_t *k);
#endif
/* Quantized-activation kernels (qdot_*.c): each sets quant_act / qdot /
 * act_type entries of an already filled table. */
void hh_qdot_fill_ref(hh_kernels_t *k);
#if defined(__x86_64__)
void hh_qdot_fill_avx2(hh_kernels_t *k);
void hh_qdot_fill_avx512(hh_kernels_t *k);
/* x4-layout kernels (qdot_x4_avx512.c): quant_x4 / gemm_x4. */
void hh_qdot_x4_fill_avx512(hh_kernels_t *k);
/* The same over AVX2 (qdot_x4_avx2.c): quant_x4 and the gemm_x4 entries it has. */
void hh_qdot_x4_fill_avx2(hh_kernels_t *k);
#endif
/* Attention (attn.c, attn_avx512.c): the attn entry; the reference is
 * also the SIMD variants' fallback for head sizes they do not cover. */
void hh_attn_fill_ref(hh_kernels_t *k);
void hh_attn_ref(const hh_attn_job_t *j);
#if defined(__x86_64__)
void hh_attn_fill_avx2(hh_kernels_t *k);
void hh_attn_fill_avx512(hh_kernels_t *k);
#endif
#if defined(__aarch64__)
void hh_kernels_fill_neon(hh_kernels_t *k);
#endif

/* Q4_K / Q5_K: 6-bit scale and min of sub-block j (0..7) from the 12 packed
 * bytes. Sub-blocks 0..3 sit in the low 6 bits of bytes 0..3 (scales) and
 * 4..7 (mins); sub-blocks 4..7 take their low 4 bits from the nibbles of
 * bytes 8..11 and their top 2 bits from the top bits of bytes 0..7. */
static inline void hh_k4_scale_min(int j, const uint8_t *s, uint8_t *sc, uint8_t *m)
{
    if (j < 4) {
        *sc = s[j] & 63;
        *m = s[j + 4] & 63;
    } else {
        *sc = (uint8_t)((s[j + 4] & 0x0f) | ((s[j - 4] >> 6) << 4));
        *m = (uint8_t)((s[j + 4] >> 4) | ((s[j] >> 6) << 4));
    }
}

/* Q3_K: signed scale of sub-block i (0..15), already minus 32. The low 4 bits
 * are the nibbles of bytes 0..7 (low nibbles for 0..7, high for 8..15); the
 * top 2 bits are 2-bit fields of bytes 8..11 (byte 8 + i%4, field i/4). */
static inline int hh_q3k_scale(int i, const uint8_t *s)
{
    int lo = i < 8 ? (s[i] & 0x0f) : (s[i - 8] >> 4);
    int hi = (s[8 + (i & 3)] >> (2 * (i >> 2))) & 3;
    return (lo | (hi << 4)) - 32;
}

/* Float scales of one K-quant super-block per 16 values, computed exactly as
 * the format's dequantization does (d * sc and dmin * m, each one rounding):
 * value v (0..255) is dl[v / 16] * q - ml[v / 16] (ml zero for the types
 * without minimums). Q4_K / Q5_K have sub-blocks of 32: both halves of a
 * sub-block get its scale, so every type indexes the same way. */
typedef struct hh_kq_scales { float dl[16], ml[16]; } hh_kq_scales_t;

static inline void hh_q2k_scales(const hh_block_q2_K *b, hh_kq_scales_t *s)
{
    float d = hh_fp16_to_f32(b->d), dmin = hh_fp16_to_f32(b->dmin);
    for (int i = 0; i < 16; i++) {
        s->dl[i] = d * (float)(b->scales[i] & 0x0f);
        s->ml[i] = dmin * (float)(b->scales[i] >> 4);
    }
}

static inline void hh_q3k_scales(const hh_block_q3_K *b, hh_kq_scales_t *s)
{
    float d = hh_fp16_to_f32(b->d);
    for (int i = 0; i < 16; i++) {
        s->dl[i] = d * (float)hh_q3k_scale(i, b->scales);
        s->ml[i] = 0.0f;
    }
}

static inline void hh_k4_scales(hh_half dh, hh_half dminh, const uint8_t *packed, hh_kq_scales_t *s)
{
    float d = hh_fp16_to_f32(dh), dmin = hh_fp16_to_f32(dminh);
    for (int j = 0; j < 8; j++) {
        uint8_t sc, m;
        hh_k4_scale_min(j, packed, &sc, &m);
        s->dl[2 * j] = s->dl[2 * j + 1] = d * (float)sc;
        s->ml[2 * j] = s->ml[2 * j + 1] = dmin * (float)m;
    }
}

static inline void hh_q4k_scales(const hh_block_q4_K *b, hh_kq_scales_t *s)
{
    hh_k4_scales(b->d, b->dmin, b->scales, s);
}

static inline void hh_q5k_scales(const hh_block_q5_K *b, hh_kq_scales_t *s)
{
    hh_k4_scales(b->d, b->dmin, b->scales, s);
}

/* IQ4_XS: dl = d * (ls - 32) per sub-block of 32 (both halves). */
static inline void hh_iq4xs_scales(const hh_block_iq4_xs *b, hh_kq_scales_t *s)
{
    float d = hh_fp16_to_f32(b->d);
    for (int j = 0; j < 8; j++) {
        s->dl[2 * j] = s->dl[2 * j + 1] = d * (float)hh_iq4xs_scale(b, j);
        s->ml[2 * j] = s->ml[2 * j + 1] = 0.0f;
    }
}

static inline void hh_q6k_scales(const hh_block_q6_K *b, hh_kq_scales_t *s)
{
    float d = hh_fp16_to_f32(b->d);
    for (int i = 0; i < 16; i++) {
        s->dl[i] = d * (float)b->scales[i];
        s->ml[i] = 0.0f;
    }
}

#endif
