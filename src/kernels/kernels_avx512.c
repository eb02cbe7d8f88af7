/* kernels_avx512.c - AVX-512 (F/BW/VL/DQ/VNNI) kernels, 16 floats per register.
 *
 * Same structure as kernels_avx2.c: a group of 32 quantized values is
 * unpacked to 32 bytes (kernels_x86_int.h, 256-bit work is all a group
 * needs), widened to two registers of 16 floats, scaled with separate
 * multiply and add/subtract (bit-identical to the reference) and stored or
 * FMA'd against x. The 16-value scale sub-blocks of the K-quants are exactly
 * one register each. Dots alternate two register pairs of accumulators so
 * consecutive groups do not wait on each other's FMA latency. */
#include "kernels/kernels_x86_int.h"
#include "kernels/vexp_x86.h"

#include <math.h>

/* ---- helpers --------------------------------------------------------------- */

static inline void bytes_to_ps(__m256i q, int is_signed, __m512 v[2])
{
    __m128i lo = _mm256_castsi256_si128(q), hi = _mm256_extracti128_si256(q, 1);
    if (is_signed) {
        v[0] = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(lo));
        v[1] = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(hi));
    } else {
        v[0] = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(lo));
        v[1] = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(hi));
    }
}

/* Values 0..15 get (d0, m0), 16..31 get (d1, m1); mode as HH_X86_*. */
static inline void apply_scales(__m512 v[2], float d0, float d1, float m0, float m1, int mode)
{
    v[0] = _mm512_mul_ps(v[0], _mm512_set1_ps(d0));
    v[1] = _mm512_mul_ps(v[1], _mm512_set1_ps(d1));
    if (mode == HH_X86_MUL_ADD) {
        v[0] = _mm512_add_ps(v[0], _mm512_set1_ps(m0));
        v[1] = _mm512_add_ps(v[1], _mm512_set1_ps(m1));
    } else if (mode == HH_X86_MUL_SUB) {
        v[0] = _mm512_sub_ps(v[0], _mm512_set1_ps(m0));
        v[1] = _mm512_sub_ps(v[1], _mm512_set1_ps(m1));
    }
}

static inline void store32(float *dst, const __m512 v[2])
{
    _mm512_storeu_ps(dst, v[0]);
    _mm512_storeu_ps(dst + 16, v[1]);
}

static inline void fma32(__m512 *a0, __m512 *a1, const __m512 v[2], const float *x)
{
    *a0 = _mm512_fmadd_ps(v[0], _mm512_loadu_ps(x), *a0);
    *a1 = _mm512_fmadd_ps(v[1], _mm512_loadu_ps(x + 16), *a1);
}

static inline float hsum4(__m512 a0, __m512 a1, __m512 a2, __m512 a3)
{
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
}

/* ---- 32-value block types ------------------------------------------------ */

/* As in kernels_avx2.c; blk_##name decodes one block to registers. */
#define SMALL_KERNELS(name, btype, bytes_fn, is_signed, mode, m_expr)              \
    static inline void blk_##name(const btype *b, __m512 v[2])                     \
    {                                                                              \
        float d = _cvtsh_ss(b->d), m = (m_expr);                                   \
        bytes_to_ps(bytes_fn(b), is_signed, v);                                    \
        apply_scales(v, d, d, m, m, mode);                                         \
    }                                                                              \
    static void dequant_##name(const void *src, float *dst, int64_t n)             \
    {                                                                              \
        const btype *b = src;                                                      \
        for (int64_t i = 0; i < n / 32; i++, dst += 32) {                          \
            __m512 v[2];                                                           \
            blk_##name(b + i, v);                                                  \
            store32(dst, v);                                                       \
        }                                                                          \
    }                                                                              \
    static float dot_##name(int64_t n, const void *w, const float *x)              \
    {                                                                              \
        const btype *b = w;                                                        \
        __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;                \
        int64_t nb = n / 32, i = 0;                                                \
        for (; i + 2 <= nb; i += 2) {                                              \
            __m512 v[2], u[2];                                                     \
            blk_##name(b + i, v);                                                  \
            blk_##name(b + i + 1, u);                                              \
            fma32(&a0, &a1, v, x + 32 * i);                                        \
            fma32(&a2, &a3, u, x + 32 * i + 32);                                   \
        }                                                                          \
        if (i < nb) {                                                              \
            __m512 v[2];                                                           \
            blk_##name(b + i, v);                                                  \
            fma32(&a0, &a1, v, x + 32 * i);                                        \
        }                                                                          \
        return hsum4(a0, a1, a2, a3);                                              \
    }

SMALL_KERNELS(q4_0, hh_block_q4_0, hh_x86_bytes_q4_0, 1, HH_X86_MUL, 0.0f)
SMALL_KERNELS(q4_1, hh_block_q4_1, hh_x86_bytes_q4_1, 0, HH_X86_MUL_ADD, _cvtsh_ss(b->m))
SMALL_KERNELS(q5_0, hh_block_q5_0, hh_x86_bytes_q5_0, 1, HH_X86_MUL, 0.0f)
SMALL_KERNELS(q5_1, hh_block_q5_1, hh_x86_bytes_q5_1, 0, HH_X86_MUL_ADD, _cvtsh_ss(b->m))
SMALL_KERNELS(q8_0, hh_block_q8_0, hh_x86_bytes_q8_0, 1, HH_X86_MUL, 0.0f)
SMALL_KERNELS(iq4_nl, hh_block_iq4_nl, hh_x86_bytes_iq4_nl, 1, HH_X86_MUL, 0.0f)

/* ---- K-quants (256-value super-blocks, 8 groups of 32) ------------------- */

#define K_KERNELS(name, btype, scales_fn, bytes_fn, is_signed, mode)                \
    static inline void grp_##name(const btype *b, const hh_kq_scales_t *s, int g,  \
                                  __m512 v[2])                                     \
    {                                                                              \
        bytes_to_ps(bytes_fn(b, g), is_signed, v);                                 \
        apply_scales(v, s->dl[2 * g], s->dl[2 * g + 1], s->ml[2 * g],              \
                     s->ml[2 * g + 1], mode);                                      \
    }                                                                              \
    static void dequant_##name(const void *src, float *dst, int64_t n)             \
    {                                                                              \
        const btype *b = src;                                                      \
        for (int64_t i = 0; i < n / HH_QK_K; i++, b++) {                           \
            hh_kq_scales_t s;                                                      \
            scales_fn(b, &s);                                                      \
            for (int g = 0; g < 8; g++, dst += 32) {                               \
                __m512 v[2];                                                       \
                grp_##name(b, &s, g, v);                                           \
                store32(dst, v);                                                   \
            }                                                                      \
        }                                                                          \
    }                                                                              \
    static float dot_##name(int64_t n, const void *w, const float *x)              \
    {                                                                              \
        const btype *b = w;                                                        \
        __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;                \
        for (int64_t i = 0; i < n / HH_QK_K; i++, b++) {                           \
            hh_kq_scales_t s;                                                      \
            scales_fn(b, &s);                                                      \
            for (int g = 0; g < 8; g += 2, x += 64) {                              \
                __m512 v[2], u[2];                                                 \
                grp_##name(b, &s, g, v);                                           \
                grp_##name(b, &s, g + 1, u);                                       \
                fma32(&a0, &a1, v, x);                                             \
                fma32(&a2, &a3, u, x + 32);                                        \
            }                                                                      \
        }                                                                          \
        return hsum4(a0, a1, a2, a3);                                              \
    }

K_KERNELS(q2_K, hh_block_q2_K, hh_q2k_scales, hh_x86_bytes_q2_K, 0, HH_X86_MUL_SUB)
K_KERNELS(q3_K, hh_block_q3_K, hh_q3k_scales, hh_x86_bytes_q3_K, 1, HH_X86_MUL)
K_KERNELS(q4_K, hh_block_q4_K, hh_q4k_scales, hh_x86_bytes_q4_K, 0, HH_X86_MUL_SUB)
K_KERNELS(q5_K, hh_block_q5_K, hh_q5k_scales, hh_x86_bytes_q5_K, 0, HH_X86_MUL_SUB)
K_KERNELS(q6_K, hh_block_q6_K, hh_q6k_scales, hh_x86_bytes_q6_K, 1, HH_X86_MUL)
K_KERNELS(iq4_xs, hh_block_iq4_xs, hh_iq4xs_scales, hh_x86_bytes_iq4_xs, 1, HH_X86_MUL)

/* ---- float types --------------------------------------------------------- */

static inline __m512 load16_f16(const hh_half *p)
{
    return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p));
}

static inline __m512 load16_bf16(const hh_bf16 *p)
{
    __m512i u = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)p));
    return _mm512_castsi512_ps(_mm512_slli_epi32(u, 16));
}

static inline __m512 load16_f32(const float *p) { return _mm512_loadu_ps(p); }

/* dequant / dot of a float type: 64 values per dot step, the tail scalar. */
#define FLOAT_KERNELS(name, etype, load16, to_f32)                                  \
    static void dequant_##name(const void *src, float *dst, int64_t n)             \
    {                                                                              \
        const etype *p = src;                                                      \
        int64_t i = 0;                                                             \
        for (; i + 16 <= n; i += 16) _mm512_storeu_ps(dst + i, load16(p + i));     \
        for (; i < n; i++) dst[i] = to_f32(p[i]);                                  \
    }                                                                              \
    static float dot_##name(int64_t n, const void *w, const float *x)              \
    {                                                                              \
        const etype *p = w;                                                        \
        __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;                \
        int64_t i = 0;                                                             \
        for (; i + 64 <= n; i += 64) {                                             \
            a0 = _mm512_fmadd_ps(load16(p + i), _mm512_loadu_ps(x + i), a0);       \
            a1 = _mm512_fmadd_ps(load16(p + i + 16), _mm512_loadu_ps(x + i + 16), a1); \
            a2 = _mm512_fmadd_ps(load16(p + i + 32), _mm512_loadu_ps(x + i + 32), a2); \
            a3 = _mm512_fmadd_ps(load16(p + i + 48), _mm512_loadu_ps(x + i + 48), a3); \
        }                                                                          \
        for (; i + 16 <= n; i += 16)                                               \
            a0 = _mm512_fmadd_ps(load16(p + i), _mm512_loadu_ps(x + i), a0);       \
        float sum = hsum4(a0, a1, a2, a3);                                         \
        for (; i < n; i++) sum += to_f32(p[i]) * x[i];                             \
        return sum;                                                                \
    }

static inline float f32_id(float f) { return f; }

FLOAT_KERNELS(f32, float, load16_f32, f32_id)
FLOAT_KERNELS(f16, hh_half, load16_f16, hh_fp16_to_f32)
FLOAT_KERNELS(bf16, hh_bf16, load16_bf16, hh_bf16_to_f32)

/* ---- activations ---------------------------------------------------------- */

/* silu(g) = g * sigmoid(g), sigmoid from e = e^-|g| (never overflows):
 * 1 / (1 + e) for g >= 0, e / (1 + e) below. */
static void swiglu(float *g, const float *u, int64_t n)
{
    const __m512 one = _mm512_set1_ps(1.0f);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m512 x = _mm512_loadu_ps(g + i);
        const __m512 e = hh_exp_neg16(_mm512_sub_ps(_mm512_setzero_ps(), _mm512_abs_ps(x)));
        const __mmask16 neg = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ);
        const __m512 sig = _mm512_div_ps(_mm512_mask_mov_ps(one, neg, e), _mm512_add_ps(one, e));
        _mm512_storeu_ps(g + i, _mm512_mul_ps(_mm512_mul_ps(x, sig), _mm512_loadu_ps(u + i)));
    }
    for (; i < n; i++)
        g[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}

/* ---- table --------------------------------------------------------------- */

void hh_kernels_fill_avx512(hh_kernels_t *k)
{
    hh_kernels_fill_ref(k);
    k->isa = HH_ISA_AVX512;
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
    SET(IQ4_NL, iq4_nl);
    SET(IQ4_XS, iq4_xs);
#undef SET
    k->swiglu = swiglu;
    hh_qdot_fill_avx512(k);
    hh_attn_fill_avx512(k);
}
