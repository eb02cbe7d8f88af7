/* kernels_neon.c - aarch64 NEON kernels (4 floats per register) for the
 * hottest types: F32, F16, Q8_0, Q4_0 (dequant and F32 dot); every other
 * entry is the scalar reference's.
 *
 * Dequantization is one multiply per value (int -> float, times the block
 * scale), the same single rounding as the reference, so the bits agree; the
 * dots accumulate with FMA in four independent registers. */
#include "kernels/kernels_int.h"

#include <arm_neon.h>

/* 16 signed bytes -> 4 x 4 floats in order. */
static inline void s8x16_to_f32(int8x16_t v, float32x4_t out[4])
{
    int16x8_t lo = vmovl_s8(vget_low_s8(v)), hi = vmovl_s8(vget_high_s8(v));
    out[0] = vcvtq_f32_s32(vmovl_s16(vget_low_s16(lo)));
    out[1] = vcvtq_f32_s32(vmovl_s16(vget_high_s16(lo)));
    out[2] = vcvtq_f32_s32(vmovl_s16(vget_low_s16(hi)));
    out[3] = vcvtq_f32_s32(vmovl_s16(vget_high_s16(hi)));
}

/* One 32-value block as 8 x 4 floats: integers q (two halves of 16) times d. */
static inline void scale32(int8x16_t q0, int8x16_t q1, float d, float32x4_t v[8])
{
    s8x16_to_f32(q0, v);
    s8x16_to_f32(q1, v + 4);
    float32x4_t vd = vdupq_n_f32(d);
    for (int k = 0; k < 8; k++) v[k] = vmulq_f32(v[k], vd);
}

static inline void blk_q4_0(const hh_block_q4_0 *b, float32x4_t v[8])
{
    uint8x16_t q = vld1q_u8(b->qs);
    int8x16_t eight = vdupq_n_s8(8);
    int8x16_t lo = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(q, vdupq_n_u8(0x0f))), eight);
    int8x16_t hi = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(q, 4)), eight);
    scale32(lo, hi, hh_fp16_to_f32(b->d), v);
}

static inline void blk_q8_0(const hh_block_q8_0 *b, float32x4_t v[8])
{
    scale32(vld1q_s8(b->qs), vld1q_s8(b->qs + 16), hh_fp16_to_f32(b->d), v);
}

#define BLOCK_KERNELS(name, btype)                                                 \
    static void dequant_##name(const void *src, float *dst, int64_t n)             \
    {                                                                              \
        const btype *b = src;                                                      \
        for (int64_t i = 0; i < n / 32; i++, dst += 32) {                          \
            float32x4_t v[8];                                                      \
            blk_##name(b + i, v);                                                  \
            for (int k = 0; k < 8; k++) vst1q_f32(dst + 4 * k, v[k]);              \
        }                                                                          \
    }                                                                              \
    static float dot_##name(int64_t n, const void *w, const float *x)              \
    {                                                                              \
        const btype *b = w;                                                        \
        float32x4_t acc[4] = { vdupq_n_f32(0), vdupq_n_f32(0), vdupq_n_f32(0),     \
                               vdupq_n_f32(0) };                                   \
        for (int64_t i = 0; i < n / 32; i++, x += 32) {                            \
            float32x4_t v[8];                                                      \
            blk_##name(b + i, v);                                                  \
            for (int k = 0; k < 8; k++)                                            \
                acc[k & 3] = vfmaq_f32(acc[k & 3], v[k], vld1q_f32(x + 4 * k));    \
        }                                                                          \
        return vaddvq_f32(vaddq_f32(vaddq_f32(acc[0], acc[1]),                     \
                                    vaddq_f32(acc[2], acc[3])));                   \
    }

BLOCK_KERNELS(q4_0, hh_block_q4_0)
BLOCK_KERNELS(q8_0, hh_block_q8_0)

static inline float32x4_t load4_f32(const float *p) { return vld1q_f32(p); }

static inline float32x4_t load4_f16(const hh_half *p)
{
    return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p)));
}

static inline float f32_id(float f) { return f; }

/* dequant / dot of a float type: 16 values per dot step, the tail scalar. */
#define FLOAT_KERNELS(name, etype, load4, to_f32)                                  \
    static void dequant_##name(const void *src, float *dst, int64_t n)             \
    {                                                                              \
        const etype *p = src;                                                      \
        int64_t i = 0;                                                             \
        for (; i + 4 <= n; i += 4) vst1q_f32(dst + i, load4(p + i));               \
        for (; i < n; i++) dst[i] = to_f32(p[i]);                                  \
    }                                                                              \
    static float dot_##name(int64_t n, const void *w, const float *x)              \
    {                                                                              \
        const etype *p = w;                                                        \
        float32x4_t acc[4] = { vdupq_n_f32(0), vdupq_n_f32(0), vdupq_n_f32(0),     \
                               vdupq_n_f32(0) };                                   \
        int64_t i = 0;                                                             \
        for (; i + 16 <= n; i += 16)                                               \
            for (int k = 0; k < 4; k++)                                            \
                acc[k] = vfmaq_f32(acc[k], load4(p + i + 4 * k), vld1q_f32(x + i + 4 * k)); \
        for (; i + 4 <= n; i += 4)                                                 \
            acc[0] = vfmaq_f32(acc[0], load4(p + i), vld1q_f32(x + i));            \
        float sum = vaddvq_f32(vaddq_f32(vaddq_f32(acc[0], acc[1]),                \
                                         vaddq_f32(acc[2], acc[3])));              \
        for (; i < n; i++) sum += to_f32(p[i]) * x[i];                             \
        return sum;                                                                \
    }

FLOAT_KERNELS(f32, float, load4_f32, f32_id)
FLOAT_KERNELS(f16, hh_half, load4_f16, hh_fp16_to_f32)

void hh_kernels_fill_neon(hh_kernels_t *k)
{
    hh_kernels_fill_ref(k);
    k->isa = HH_ISA_NEON;
#define SET(T, name) (k->dequant[HH_TYPE_##T] = dequant_##name, k->dot[HH_TYPE_##T] = dot_##name)
    SET(F32, f32);
    SET(F16, f16);
    SET(Q4_0, q4_0);
    SET(Q8_0, q8_0);
#undef SET
}
