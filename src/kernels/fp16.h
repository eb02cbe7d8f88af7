/* fp16.h - IEEE half and bfloat16 conversions (scalar, exact). */
#ifndef HH_KERNELS_FP16_H
#define HH_KERNELS_FP16_H

#include <stdint.h>
#include <string.h>

static inline float hh_bits_to_f32(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static inline uint32_t hh_f32_to_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }

/* binary16 -> binary32, exact for every input including subnormals and inf;
 * bit-identical to the F16C instruction for every input, NaNs included. */
static inline float hh_fp16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t man = h & 0x3ff;
    if (exp == 0x1f)                       /* inf / NaN; NaNs come out quiet, as F16C and NEON make them */
        return hh_bits_to_f32(sign | 0x7f800000u | (man << 13) | (man ? 0x00400000u : 0));
    if (exp == 0) {
        if (man == 0)
            return hh_bits_to_f32(sign);
        /* subnormal: man * 2^-24 */
        float f = (float)man * (1.0f / 16777216.0f);
        return sign ? -f : f;
    }
    return hh_bits_to_f32(sign | ((exp + 112) << 23) | (man << 13));
}

/* binary32 -> binary16, round to nearest even (as F16C / ggml do). */
static inline uint16_t hh_f32_to_fp16(float f)
{
    uint32_t x = hh_f32_to_bits(f);
    uint32_t sign = (x >> 16) & 0x8000;
    uint32_t ax = x & 0x7fffffffu;
    if (ax > 0x7f800000u)                  /* NaN: keep it quiet */
        return (uint16_t)(sign | 0x7e00 | ((ax >> 13) & 0x3ff));
    if (ax >= 0x477ff000u)                 /* rounds to >= 65520: inf */
        return (uint16_t)(sign | 0x7c00);
    if (ax < 0x38800000u) {                /* below the smallest normal: subnormal or 0 */
        /* add 0.5 (as a float) so the FPU does the round-to-nearest-even */
        float r = hh_bits_to_f32(ax) + 0.5f;
        return (uint16_t)(sign | (hh_f32_to_bits(r) - 0x3f000000u));
    }
    uint32_t mant_odd = (ax >> 13) & 1;
    ax += 0xc8000fffu + mant_odd;          /* rebias exponent (-112 << 23) and round */
    return (uint16_t)(sign | (ax >> 13));
}

static inline float hh_bf16_to_f32(uint16_t b) { return hh_bits_to_f32((uint32_t)b << 16); }

/* binary32 -> bfloat16, round to nearest even; NaN stays NaN. */
static inline uint16_t hh_f32_to_bf16(float f)
{
    uint32_t u = hh_f32_to_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((u >> 16) | 64);
    return (uint16_t)((u + (0x7fff + ((u >> 16) & 1))) >> 16);
}

#endif
