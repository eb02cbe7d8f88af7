/* kernels_ref.c - scalar reference kernels: dequantization of every compute
 * type to F32 (bit-exact with the GGUF/ggml formats' own dequantization) and
 * the F32 dot product of a weight row with F32 activations.
 *
 * The dequantizers follow the formats' definitions operation for operation:
 * every product and difference is its own rounded float operation, never a
 * fused multiply-add (the bits depend on it). The SIMD files must produce the
 * same bits, and the tests check that they do. */
#include "kernels/kernels_int.h"

#include <math.h>
#include <string.h>

/* clang contracts a*b+c by default; GCC in -std=c11 mode does not and does
 * not know this pragma. */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

/* ---- dequantization ---------------------------------------------------- */

static void dequant_f32(const void *src, float *dst, int64_t n)
{
    memcpy(dst, src, (size_t)n * sizeof(float));
}

static void dequant_f16(const void *src, float *dst, int64_t n)
{
    const hh_half *h = src;
    for (int64_t i = 0; i < n; i++) dst[i] = hh_fp16_to_f32(h[i]);
}

static void dequant_bf16(const void *src, float *dst, int64_t n)
{
    const hh_bf16 *h = src;
    for (int64_t i = 0; i < n; i++) dst[i] = hh_bf16_to_f32(h[i]);
}

static void dequant_q4_0(const void *src, float *dst, int64_t n)
{
    const hh_block_q4_0 *b = src;
    for (int64_t i = 0; i < n / HH_QK4_0; i++, b++, dst += HH_QK4_0) {
        float d = hh_fp16_to_f32(b->d);
        for (int j = 0; j < 16; j++) {
            dst[j] = (float)((b->qs[j] & 0x0f) - 8) * d;
            dst[j + 16] = (float)((b->qs[j] >> 4) - 8) * d;
        }
    }
}

static void dequant_mxfp4(const void *src, float *dst, int64_t n)
{
    const hh_block_mxfp4 *b = src;
    for (int64_t i = 0; i < n / HH_QK_MXFP4; i++, b++, dst += HH_QK_MXFP4) {
        const float d = hh_e8m0_half(b->e);
        for (int j = 0; j < 16; j++) {
            dst[j] = (float)hh_mxfp4_value(b->qs[j] & 0x0f) * d;
            dst[j + 16] = (float)hh_mxfp4_value(b->qs[j] >> 4) * d;
        }
    }
}

/* IQ4_NL: x = d * table[code], one rounding. */
static void dequant_iq4_nl(const void *src, float *dst, int64_t n)
{
    const hh_block_iq4_nl *b = src;
    for (int64_t i = 0; i < n / HH_QK4_NL; i++, b++, dst += HH_QK4_NL) {
        const float d = hh_fp16_to_f32(b->d);
        for (int j = 0; j < 16; j++) {
            dst[j] = (float)hh_iq4_value(b->qs[j] & 0x0f) * d;
            dst[j + 16] = (float)hh_iq4_value(b->qs[j] >> 4) * d;
        }
    }
}

/* IQ4_XS: dl = d * (ls - 32) rounded once per sub-block of 32, then
 * x = dl * table[code]; each sub-block's 16 bytes laid out as IQ4_NL. */
static void dequant_iq4_xs(const void *src, float *dst, int64_t n)
{
    const hh_block_iq4_xs *b = src;
    for (int64_t i = 0; i < n / HH_QK_K; i++, b++) {
        const float d = hh_fp16_to_f32(b->d);
        for (int j = 0; j < 8; j++, dst += 32) {
            const float dl = d * (float)hh_iq4xs_scale(b, j);
            const uint8_t *q = b->qs + 16 * j;
            for (int l = 0; l < 16; l++) {
                dst[l] = (float)hh_iq4_value(q[l] & 0x0f) * dl;
                dst[l + 16] = (float)hh_iq4_value(q[l] >> 4) * dl;
            }
        }
    }
}

static void dequant_q4_1(const void *src, float *dst, int64_t n)
{
    const hh_block_q4_1 *b = src;
    for (int64_t i = 0; i < n / HH_QK4_1; i++, b++, dst += HH_QK4_1) {
        float d = hh_fp16_to_f32(b->d), m = hh_fp16_to_f32(b->m);
        for (int j = 0; j < 16; j++) {
            dst[j] = (float)(b->qs[j] & 0x0f) * d + m;
            dst[j + 16] = (float)(b->qs[j] >> 4) * d + m;
        }
    }
}

static void dequant_q5_0(const void *src, float *dst, int64_t n)
{
    const hh_block_q5_0 *b = src;
    for (int64_t i = 0; i < n / HH_QK5_0; i++, b++, dst += HH_QK5_0) {
        float d = hh_fp16_to_f32(b->d);
        uint32_t qh;
        memcpy(&qh, b->qh, 4);   /* little-endian: bit j is element j's 5th bit */
        for (int j = 0; j < 16; j++) {
            int h0 = (qh >> j) & 1, h1 = (qh >> (j + 16)) & 1;
            dst[j] = (float)(((b->qs[j] & 0x0f) | (h0 << 4)) - 16) * d;
            dst[j + 16] = (float)(((b->qs[j] >> 4) | (h1 << 4)) - 16) * d;
        }
    }
}

static void dequant_q5_1(const void *src, float *dst, int64_t n)
{
    const hh_block_q5_1 *b = src;
    for (int64_t i = 0; i < n / HH_QK5_1; i++, b++, dst += HH_QK5_1) {
        float d = hh_fp16_to_f32(b->d), m = hh_fp16_to_f32(b->m);
        uint32_t qh;
        memcpy(&qh, b->qh, 4);
        for (int j = 0; j < 16; j++) {
            int h0 = (qh >> j) & 1, h1 = (qh >> (j + 16)) & 1;
            dst[j] = (float)((b->qs[j] & 0x0f) | (h0 << 4)) * d + m;
            dst[j + 16] = (float)((b->qs[j] >> 4) | (h1 << 4)) * d + m;
        }
    }
}

static void dequant_q8_0(const void *src, float *dst, int64_t n)
{
    const hh_block_q8_0 *b = src;
    for (int64_t i = 0; i < n / HH_QK8_0; i++, b++, dst += HH_QK8_0) {
        float d = hh_fp16_to_f32(b->d);
        for (int j = 0; j < 32; j++) dst[j] = (float)b->qs[j] * d;
    }
}

/* Q2_K: two halves of 128; in each, 4 two-bit planes (shift 0,2,4,6) over 32
 * bytes; each plane is 2 sub-blocks of 16 (bytes 0..15, 16..31). Sub-block s
 * = 2 * (4 * half + plane) + (0|1). */
static void dequant_q2_K(const void *src, float *dst, int64_t n)
{
    const hh_block_q2_K *b = src;
    for (int64_t i = 0; i < n / HH_QK_K; i++, b++) {
        hh_kq_scales_t s;
        hh_q2k_scales(b, &s);
        for (int g = 0; g < 8; g++) {
            const uint8_t *q = b->qs + 32 * (g >> 2);
            int shift = 2 * (g & 3);
            for (int l = 0; l < 32; l++) {
                int sb = 2 * g + (l >> 4);
                *dst++ = s.dl[sb] * (float)((q[l] >> shift) & 3) - s.ml[sb];
            }
        }
    }
}

/* Q3_K: as Q2_K for the low 2 bits; the high bit of value l (0..31) of group
 * g is bit g of hmask[l]; a clear bit subtracts 4. */
static void dequant_q3_K(const void *src, float *dst, int64_t n)
{
    const hh_block_q3_K *b = src;
    for (int64_t i = 0; i < n / HH_QK_K; i++, b++) {
        hh_kq_scales_t s;
        hh_q3k_scales(b, &s);
        for (int g = 0; g < 8; g++) {
            const uint8_t *q = b->qs + 32 * (g >> 2);
            int shift = 2 * (g & 3);
            for (int l = 0; l < 32; l++) {
                int v = ((q[l] >> shift) & 3) - ((b->hmask[l] >> g) & 1 ? 0 : 4);
                *dst++ = s.dl[2 * g + (l >> 4)] * (float)v;
            }
        }
    }
}

/* Q4_K: 4 chunks of 64 over 32 bytes each: low nibbles are sub-block 2c,
 * high nibbles sub-block 2c+1. */
static void dequant_q4_K(const void *src, float *dst, int64_t n)
{
    const hh_block_q4_K *b = src;
    for (int64_t i = 0; i < n / HH_QK_K; i++, b++) {
        hh_kq_scales_t s;
        hh_q4k_scales(b, &s);
        for (int g = 0; g < 8; g++) {
            const uint8_t *q = b->qs + 32 * (g >> 1);
            int shift = 4 * (g & 1);
            for (int l = 0; l < 32; l++)
                *dst++ = s.dl[2 * g] * (float)((q[l] >> shift) & 0x0f) - s.ml[2 * g];
        }
    }
}

/* Q5_K: as Q4_K plus the 5th bit of value l of sub-block g in bit g of qh[l]. */
static void dequant_q5_K(const void *src, float *dst, int64_t n)
{
    const hh_block_q5_K *b = src;
    for (int64_t i = 0; i < n / HH_QK_K; i++, b++) {
        hh_kq_scales_t s;
        hh_q5k_scales(b, &s);
        for (int g = 0; g < 8; g++) {
            const uint8_t *q = b->qs + 32 * (g >> 1);
            int shift = 4 * (g & 1);
            for (int l = 0; l < 32; l++) {
                int v = ((q[l] >> shift) & 0x0f) | (((b->qh[l] >> g) & 1) << 4);
                *dst++ = s.dl[2 * g] * (float)v - s.ml[2 * g];
            }
        }
    }
}

/* Q6_K: two halves of 128 (ql + 64h, qh + 32h, scales + 8h); quarter k of a
 * half (32 values) takes nibble (k >> 1) of ql[32 * (k & 1) + l] and bits
 * 2k..2k+1 of qh[l]; value = that 6-bit number - 32; sub-blocks of 16. */
static void dequant_q6_K(const void *src, float *dst, int64_t n)
{
    const hh_block_q6_K *b = src;
    for (int64_t i = 0; i < n / HH_QK_K; i++, b++) {
        hh_kq_scales_t s;
        hh_q6k_scales(b, &s);
        for (int g = 0; g < 8; g++) {
            int h = g >> 2, k = g & 3;
            const uint8_t *ql = b->ql + 64 * h + 32 * (k & 1);
            const uint8_t *qh = b->qh + 32 * h;
            for (int l = 0; l < 32; l++) {
                int v = ((ql[l] >> (4 * (k >> 1))) & 0x0f) | (((qh[l] >> (2 * k)) & 3) << 4);
                *dst++ = s.dl[2 * g + (l >> 4)] * (float)(v - 32);
            }
        }
    }
}

/* ---- dot products -------------------------------------------------------- */

/* Sum of w[i] * x[i] over one block, in 8 interleaved partial sums (so the
 * rounding error grows like a SIMD kernel's, not like one long chain). */
static float dot_chunk(const float *w, const float *x, int n)
{
    float acc[8] = { 0 };
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) acc[k] += w[i + k] * x[i + k];
    for (; i < n; i++) acc[0] += w[i] * x[i];
    return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

static float dot_f32(int64_t n, const void *w, const float *x)
{
    const float *wf = w;
    float sum = 0.0f;
    for (int64_t i = 0; i < n; i += 256) {
        int len = n - i < 256 ? (int)(n - i) : 256;
        sum += dot_chunk(wf + i, x + i, len);
    }
    return sum;
}

/* The other types: dequantize one chunk (a super-block, or 256 values of
 * F16/BF16, or 8 small blocks) to the stack, then dot it. */
#define REF_DOT(name, bytes_per_chunk_of_256)                                     \
    static float dot_##name(int64_t n, const void *w, const float *x)             \
    {                                                                             \
        const uint8_t *p = w;                                                     \
        float tmp[256], sum = 0.0f;                                               \
        int64_t i = 0;                                                            \
        for (; i + 256 <= n; i += 256, p += (bytes_per_chunk_of_256)) {           \
            dequant_##name(p, tmp, 256);                                          \
            sum += dot_chunk(tmp, x + i, 256);                                    \
        }                                                                         \
        if (i < n) {                                                              \
            dequant_##name(p, tmp, n - i);                                        \
            sum += dot_chunk(tmp, x + i, (int)(n - i));                           \
        }                                                                         \
        return sum;                                                               \
    }

REF_DOT(f16, 256 * sizeof(hh_half))
REF_DOT(bf16, 256 * sizeof(hh_bf16))
REF_DOT(q4_0, 8 * sizeof(hh_block_q4_0))
REF_DOT(q4_1, 8 * sizeof(hh_block_q4_1))
REF_DOT(q5_0, 8 * sizeof(hh_block_q5_0))
REF_DOT(q5_1, 8 * sizeof(hh_block_q5_1))
REF_DOT(q8_0, 8 * sizeof(hh_block_q8_0))
REF_DOT(mxfp4, 8 * sizeof(hh_block_mxfp4))
REF_DOT(iq4_nl, 8 * sizeof(hh_block_iq4_nl))
REF_DOT(iq4_xs, sizeof(hh_block_iq4_xs))
REF_DOT(q2_K, sizeof(hh_block_q2_K))
REF_DOT(q3_K, sizeof(hh_block_q3_K))
REF_DOT(q4_K, sizeof(hh_block_q4_K))
REF_DOT(q5_K, sizeof(hh_block_q5_K))
REF_DOT(q6_K, sizeof(hh_block_q6_K))

/* ---- activations ---------------------------------------------------------- */

static void swiglu_ref(float *g, const float *u, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        g[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}

/* ---- table --------------------------------------------------------------- */

void hh_kernels_fill_ref(hh_kernels_t *k)
{
    memset(k, 0, sizeof *k);
    k->isa = HH_ISA_SCALAR;
#define SET(T, name) (k->dequant[HH_TYPE_##T] = dequant_##name, k->dot[HH_TYPE_##T] = dot_##name)
    SET(F32, f32);
    SET(F16, f16);
    SET(BF16, bf16);
    SET(Q4_0, q4_0);
    SET(Q4_1, q4_1);
    SET(Q5_0, q5_0);
    SET(Q5_1, q5_1);
    SET(Q8_0, q8_0);
    SET(Q2_K, q2_K);
    SET(Q3_K, q3_K);
    SET(Q4_K, q4_K);
    SET(Q5_K, q5_K);
    SET(Q6_K, q6_K);
    SET(MXFP4, mxfp4);
    SET(IQ4_NL, iq4_nl);
    SET(IQ4_XS, iq4_xs);
#undef SET
    k->swiglu = swiglu_ref;
    hh_qdot_fill_ref(k);
    hh_attn_fill_ref(k);
}
