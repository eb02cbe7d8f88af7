/* quant.h - tensor types and quantization block layouts (the GGUF/ggml
 * formats), in one place, each with a size assert.
 *
 * A row of n values of a block type is n / blck blocks stored back to back;
 * n must be a multiple of the block size. Type ids are ggml's, as stored in
 * GGUF tensor infos. */
#ifndef HH_KERNELS_QUANT_H
#define HH_KERNELS_QUANT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint16_t hh_half;   /* IEEE binary16 bits */
typedef uint16_t hh_bf16;   /* bfloat16 bits */

typedef enum hh_type {
    HH_TYPE_F32  = 0,
    HH_TYPE_F16  = 1,
    HH_TYPE_Q4_0 = 2,
    HH_TYPE_Q4_1 = 3,
    HH_TYPE_Q5_0 = 6,
    HH_TYPE_Q5_1 = 7,
    HH_TYPE_Q8_0 = 8,
    HH_TYPE_Q8_1 = 9,
    HH_TYPE_Q2_K = 10,
    HH_TYPE_Q3_K = 11,
    HH_TYPE_Q4_K = 12,
    HH_TYPE_Q5_K = 13,
    HH_TYPE_Q6_K = 14,
    HH_TYPE_Q8_K = 15,
    HH_TYPE_IQ4_NL = 20,  /* 4-bit non-linear (table) codes, blocks of 32 */
    HH_TYPE_IQ4_XS = 23,  /* the same codes, super-blocks of 256 with 6-bit scales */
    HH_TYPE_I8   = 24,
    HH_TYPE_I16  = 25,
    HH_TYPE_I32  = 26,
    HH_TYPE_I64  = 27,
    HH_TYPE_F64  = 28,
    HH_TYPE_BF16 = 30,
    HH_TYPE_MXFP4 = 39,   /* OCP microscaling FP4 (gpt-oss experts) */
    HH_TYPE_COUNT = 40   /* table size: ids below this are looked up */
} hh_type_t;

#define HH_QK4_0 32
#define HH_QK4_1 32
#define HH_QK5_0 32
#define HH_QK5_1 32
#define HH_QK8_0 32
#define HH_QK8_1 32
#define HH_QK_K  256
#define HH_QK_MXFP4 32
#define HH_QK4_NL 32
#define HH_K_SCALE_SIZE 12

/* 4-bit, symmetric: x = d * (q - 8). Low nibbles hold elements 0..15, high nibbles 16..31. */
typedef struct { hh_half d; uint8_t qs[HH_QK4_0 / 2]; } hh_block_q4_0;
_Static_assert(sizeof(hh_block_q4_0) == 2 + 16, "q4_0 block size");

/* 4-bit with minimum: x = d * q + m. */
typedef struct { hh_half d, m; uint8_t qs[HH_QK4_1 / 2]; } hh_block_q4_1;
_Static_assert(sizeof(hh_block_q4_1) == 4 + 16, "q4_1 block size");

/* 5-bit symmetric: 4 low bits in qs (as q4_0), 5th bit of element j in bit j of qh; x = d * (q - 16). */
typedef struct { hh_half d; uint8_t qh[4]; uint8_t qs[HH_QK5_0 / 2]; } hh_block_q5_0;
_Static_assert(sizeof(hh_block_q5_0) == 2 + 4 + 16, "q5_0 block size");

/* 5-bit with minimum: x = d * q + m. */
typedef struct { hh_half d, m; uint8_t qh[4]; uint8_t qs[HH_QK5_1 / 2]; } hh_block_q5_1;
_Static_assert(sizeof(hh_block_q5_1) == 4 + 4 + 16, "q5_1 block size");

/* 8-bit symmetric: x = d * q. */
typedef struct { hh_half d; int8_t qs[HH_QK8_0]; } hh_block_q8_0;
_Static_assert(sizeof(hh_block_q8_0) == 2 + 32, "q8_0 block size");

/* 8-bit with s = d * sum(q) (activation format for q4_1 / q5_1 dots). */
typedef struct { hh_half d, s; int8_t qs[HH_QK8_1]; } hh_block_q8_1;
_Static_assert(sizeof(hh_block_q8_1) == 4 + 32, "q8_1 block size");

/* MXFP4 (OCP microscaling): 32 E2M1 values sharing one E8M0 exponent e.
 * Code c (low nibbles: values 0..15, high nibbles 16..31) stands for
 * hh_mxfp4_values[c] = twice the E2M1 value, so x = hh_mxfp4_values[c] *
 * 2^(e - 128) (hh_e8m0_half); e < 2 gives an exact subnormal scale. */
typedef struct { uint8_t e; uint8_t qs[HH_QK_MXFP4 / 2]; } hh_block_mxfp4;
_Static_assert(sizeof(hh_block_mxfp4) == 1 + 16, "mxfp4 block size");

/* Twice the E2M1 value of a 4-bit code: 0, 0.5, 1, 1.5, 2, 3, 4, 6, then negated. */
static inline int hh_mxfp4_value(unsigned code)
{
    static const int8_t t[16] = { 0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12 };
    return t[code & 15];
}

/* 2^(e - 128) as a float, exactly (half the E8M0 scale; subnormal for e < 2). */
static inline float hh_e8m0_half(uint8_t e)
{
    union { uint32_t u; float f; } v;
    v.u = e < 2 ? 0x00200000u << e : (uint32_t)(e - 1) << 23;
    return v.f;
}

/* IQ4_NL: 32 4-bit codes into the non-linear table hh_iq4_value (low
 * nibbles: values 0..15, high nibbles 16..31, as Q4_0); x = d * table[c]. */
typedef struct { hh_half d; uint8_t qs[HH_QK4_NL / 2]; } hh_block_iq4_nl;
_Static_assert(sizeof(hh_block_iq4_nl) == 2 + 16, "iq4_nl block size");

/* IQ4_XS: 256 values in 8 sub-blocks of 32, each with a 6-bit scale ls
 * (low 4 bits: nibble j % 2 of scales_l[j / 2]; top 2 bits: bits 2j, 2j+1
 * of scales_h); sub-block j's codes are qs[16 j .. 16 j + 15] laid out as
 * an IQ4_NL block; x = (d * (ls - 32)) * table[c]. */
typedef struct {
    hh_half  d;
    uint16_t scales_h;
    uint8_t  scales_l[HH_QK_K / 64];
    uint8_t  qs[HH_QK_K / 2];
} hh_block_iq4_xs;
_Static_assert(sizeof(hh_block_iq4_xs) == 2 + 2 + 4 + 128, "iq4_xs block size");

/* The 16 levels of the IQ4 codes (code 0..15), ascending. */
static inline int hh_iq4_value(unsigned code)
{
    static const int8_t t[16] = { -127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113 };
    return t[code & 15];
}

/* IQ4_XS: the 6-bit scale of sub-block j (0..7), minus 32 (-32..31). */
static inline int hh_iq4xs_scale(const hh_block_iq4_xs *b, int j)
{
    int lo = (b->scales_l[j >> 1] >> (4 * (j & 1))) & 0x0f;
    int hi = (b->scales_h >> (2 * j)) & 3;
    return (lo | (hi << 4)) - 32;
}

/* K-quants: super-blocks of 256 values. */

/* 2-bit: 16 sub-blocks of 16; scales[i] = scale (low 4 bits) | min (high 4 bits);
 * x = d * sc * q - dmin * m. */
typedef struct {
    uint8_t scales[HH_QK_K / 16];
    uint8_t qs[HH_QK_K / 4];
    hh_half d, dmin;
} hh_block_q2_K;
_Static_assert(sizeof(hh_block_q2_K) == 16 + 64 + 4, "q2_K block size");

/* 3-bit: low 2 bits in qs, high bit in hmask (set = no subtraction of 4);
 * 16 six-bit signed scales packed in 12 bytes; x = d * (sc - 32) * q. */
typedef struct {
    uint8_t hmask[HH_QK_K / 8];
    uint8_t qs[HH_QK_K / 4];
    uint8_t scales[12];
    hh_half d;
} hh_block_q3_K;
_Static_assert(sizeof(hh_block_q3_K) == 32 + 64 + 12 + 2, "q3_K block size");

/* 4-bit: 8 sub-blocks of 32 with 6-bit scale and min packed in 12 bytes;
 * x = d * sc * q - dmin * m. */
typedef struct {
    hh_half d, dmin;
    uint8_t scales[HH_K_SCALE_SIZE];
    uint8_t qs[HH_QK_K / 2];
} hh_block_q4_K;
_Static_assert(sizeof(hh_block_q4_K) == 4 + 12 + 128, "q4_K block size");

/* 5-bit: as q4_K plus one high bit per value in qh. */
typedef struct {
    hh_half d, dmin;
    uint8_t scales[HH_K_SCALE_SIZE];
    uint8_t qh[HH_QK_K / 8];
    uint8_t qs[HH_QK_K / 2];
} hh_block_q5_K;
_Static_assert(sizeof(hh_block_q5_K) == 4 + 12 + 32 + 128, "q5_K block size");

/* 6-bit: low 4 bits in ql, high 2 bits in qh, 16 signed 8-bit scales;
 * x = d * sc * (q - 32). */
typedef struct {
    uint8_t ql[HH_QK_K / 2];
    uint8_t qh[HH_QK_K / 4];
    int8_t  scales[HH_QK_K / 16];
    hh_half d;
} hh_block_q6_K;
_Static_assert(sizeof(hh_block_q6_K) == 128 + 64 + 16 + 2, "q6_K block size");

/* 8-bit activations for K-quant dots: float scale, sums of each 16 values. */
typedef struct {
    float   d;
    int8_t  qs[HH_QK_K];
    int16_t bsums[HH_QK_K / 16];
} hh_block_q8_K;
_Static_assert(sizeof(hh_block_q8_K) == 4 + 256 + 32, "q8_K block size");

typedef struct hh_type_traits {
    const char *name;       /* "q4_K", as ggml names it; NULL for unknown ids */
    int         blck;       /* values per block */
    size_t      type_size;  /* bytes per block */
    bool        compute;    /* hoheit can dequantize / multiply this type */
} hh_type_traits_t;

/* Traits of a type id; NULL if the id is not a known tensor type. */
const hh_type_traits_t *hh_type_traits(uint32_t type);

/* Name of a type id ("unknown" for unknown ids). */
const char *hh_type_name(uint32_t type);

/* Type id by name (case-insensitive, "q4_k" or "Q4_K"); -1 if unknown. */
int hh_type_from_name(const char *name);

/* Bytes of a row of n values: HH_OK, or HH_EINVAL if n is not a multiple of
 * the block size / the type is unknown, HH_EOVERFLOW if it does not fit. */
int hh_type_row_size(uint32_t type, int64_t n, size_t *out);

/* Comma-separated names of the types hoheit computes with (for errors). */
const char *hh_type_supported_list(void);

#endif
