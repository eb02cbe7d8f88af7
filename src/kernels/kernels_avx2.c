/* kernels_avx2.c - AVX2 + FMA + F16C kernels (8 floats per register).
 *
 * Quantized types decode a group of 32 values into registers (shared byte
 * unpacking in kernels_x86_int.h, then int -> float and the scales) and
 * either store them (dequant) or FMA them against x (dot); no buffer round
 * trip. Dequantization uses separate multiply and add/subtract so its bits
 * equal the scalar reference's; only the dot's accumulation is fused. */
#include "kernels/kernels_x86_int.h"
#include "kernels/vexp_x86.h"

#include <math.h>

/* ---- helpers --------------------------------------------------------------- */

static inline float hsum8(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline float hsum8x4(const __m256 a[4])
{
    return hsum8(_mm256_add_ps(_mm256_add_ps(a[0], a[1]), _mm256_add_ps(a[2], a[3])));
}

/* 32 bytes (signed or unsigned integers) -> 4 x 8 floats in value order. */
static inline void bytes_to_ps(__m256i q, int is_signed, __m256 v[4])
{
    __m128i lo = _mm256_castsi256_si128(q), hi = _mm256_extracti128_si256(q, 1);
    if (is_signed) {
        v[0] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(lo));
        v[1] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(lo, 8)));
        v[2] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(hi));
        v[3] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(hi, 8)));
    } else {
        v[0] = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(lo));
        v[1] = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(lo, 8)));
        v[2] = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(hi));
        v[3] = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(hi, 8)));
    }
}

/* Values 0..15 get (d0, m0), 16..31 get (d1, m1); mode as HH_X86_*. */
static inline void apply_scales(__m256 v[4], float d0, float d1, float m0, float m1, int mode)
{
    __m256 vd0 = _mm256_set1_ps(d0), vd1 = _mm256_set1_ps(d1);
    v[0] = _mm256_mul_ps(v[0], vd0);
    v[1] = _mm256_mul_ps(v[1], vd0);
    v[2] = _mm256_mul_ps(v[2], vd1);
    v[3] = _mm256_mul_ps(v[3], vd1);
    if (mode != HH_X86_MUL) {
        __m256 vm0 = _mm256_set1_ps(m0), vm1 = _mm256_set1_ps(m1);
        if (mode == HH_X86_MUL_ADD) {
            v[0] = _mm256_add_ps(v[0], vm0);
            v[1] = _mm256_add_ps(v[1], vm0);
            v[2] = _mm256_add_ps(v[2], vm1);
            v[3] = _mm256_add_ps(v[3], vm1);
        } else {
            v[0] = _mm256_sub_ps(v[0], vm0);
            v[1] = _mm256_sub_ps(v[1], vm0);
            v[2] = _mm256_sub_ps(v[2], vm1);
            v[3] = _mm256_sub_ps(v[3], vm1);
        }
    }
}

static inline void store32(float *dst, const __m256 v[4])
{
    for (int k = 0; k < 4; k++) _mm256_storeu_ps(dst + 8 * k, v[k]);
}

static inline void fma32(__m256 acc[4], const __m256 v[4], const float *x)
{
    for (int k = 0; k < 4; k++) acc[k] = _mm256_fmadd_ps(v[k], _mm256_loadu_ps(x + 8 * k), acc[k]);
}

/* ---- 32-value block types ------------------------------------------------ */

/* Kernels of a type with 32-value blocks: bytes_fn(b) gives its integers,
 * m_expr (with b the current block) its offset for HH_X86_MUL_ADD. */
#define SMALL_KERNELS(name, btype, bytes_fn, is_signed, mode, m_expr)              \
    static void dequant_##name(const void *src, float *dst, int64_t n)             \
    {                                                                              \
        const btype *b = src;                                                      \
        for (int64_t i = 0; i < n / 32; i++, b++, dst += 32) {                     \
            float d = _cvtsh_ss(b->d), m = (m_expr);                               \
            __m256 v[4];                                                           \
            bytes_to_ps(bytes_fn(b), is_signed, v);                                \
            apply_scales(v, d, d, m, m, mode);                                     \
            store32(dst, v);                                                       \
        }                                                                          \
    }                                                                              \
    static float dot_##name(int64_t n, const void *w, const float *x)              \
    {                                                                              \
        const btype *b = w;                                                        \
        __m256 acc[4] = { _mm256_setzero_ps(), _mm256_setzero_ps(),                \
                          _mm256_setzero_ps(), _mm256_setzero_ps() };              \
        for (int64_t i = 0; i < n / 32; i++, b++, x += 32) {                       \
            float d = _cvtsh_ss(b->d), m = (m_expr);                               \
            __m256 v[4];                                                           \
            bytes_to_ps(bytes_fn(b), is_signed, v);                                \
            apply_scales(v, d, d, m, m, mode);                                     \
            fma32(acc, v, x);                                                      \
        }                                                                          \
        return hsum8x4(acc);                                                       \
    }

SMALL_KERNELS(q4_0, hh_block_q4_0, hh_x86_bytes_q4_0, 1, HH_X86_MUL, 0.0f)
SMALL_KERNELS(q4_1, hh_block_q4_1, hh_x86_bytes_q4_1, 0, HH_X86_MUL_ADD, _cvtsh_ss(b->m))
SMALL_KERNELS(q5_0, hh_block_q5_0, hh_x86_bytes_q5_0, 1, HH_X86_MUL, 0.0f)
SMALL_KERNELS(q5_1, hh_block_q5_1, hh_x86_bytes_q5_1, 0, HH_X86_MUL_ADD, _cvtsh_ss(b->m))
SMALL_KERNELS(q8_0, hh_block_q8_0, hh_x86_bytes_q8_0, 1, HH_X86_MUL, 0.0f)
SMALL_KERNELS(iq4_nl, hh_block_iq4_nl, hh_x86_bytes_iq4_nl, 1, HH_X86_MUL, 0.0f)

/* MXFP4: table lookup of the codes, one E8M0 scale per block. */
static void dequant_mxfp4(const void *src, float *dst, int64_t n)
{
    const hh_block_mxfp4 *b = src;
    for (int64_t i = 0; i < n / 32; i++, b++, dst += 32) {
        const float d = hh_e8m0_half(b->e);
        __m256 v[4];
        bytes_to_ps(hh_x86_bytes_mxfp4(b), 1, v);
        apply_scales(v, d, d, 0.0f, 0.0f, HH_X86_MUL);
        store32(dst, v);
    }
}

static float dot_mxfp4(int64_t n, const void *w, const float *x)
{
    const hh_block_mxfp4 *b = w;
    __m256 acc[4] = { _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps() };
    for (int64_t i = 0; i < n / 32; i++, b++, x += 32) {
        const float d = hh_e8m0_half(b->e);
        __m256 v[4];
        bytes_to_ps(hh_x86_bytes_mxfp4(b), 1, v);
        apply_scales(v, d, d, 0.0f, 0.0f, HH_X86_MUL);
        fma32(acc, v, x);
    }
    return hsum8x4(acc);
}

/* ---- K-quants (256-value super-blocks, 8 groups of 32) ------------------- */

#define K_KERNELS(name, btype, scales_fn, bytes_fn, is_signed, mode)                \
    static void dequant_##name(const void *src, float *dst, int64_t n)             \
    {                                                                              \
        const btype *b = src;                                                      \
        for (int64_t i = 0; i < n / HH_QK_K; i++, b++) {                           \
            hh_kq_scales_t s;                                                      \
            scales_fn(b, &s);                                                      \
            for (int g = 0; g < 8; g++, dst += 32) {                               \
                __m256 v[4];                                                       \
                bytes_to_ps(bytes_fn(b, g), is_signed, v);                         \
                apply_scales(v, s.dl[2 * g], s.dl[2 * g + 1], s.ml[2 * g],         \
                             s.ml[2 * g + 1], mode);                               \
                store32(dst, v);                                                   \
            }                                                                      \
        }                                                                          \
    }                                                                              \
    static float dot_##name(int64_t n, const void *w, const float *x)              \
    {                                                                              \
        const btype *b = w;                                                        \
        __m256 acc[4] = { _mm256_setzero_ps(), _mm256_setzero_ps(),                \
                          _mm256_setzero_ps(), _mm256_setzero_ps() };              \
        for (int64_t i = 0; i < n / HH_QK_K; i++, b++) {                           \
            hh_kq_scales_t s;                                                      \
            scales_fn(b, &s);                                                      \
            for (int g = 0; g < 8; g++, x += 32) {                                 \
                __m256 v[4];                                                       \
                bytes_to_ps(bytes_fn(b, g), is_signed, v);                         \
                apply_scales(v, s.dl[2 * g], s.dl[2 * g + 1], s.ml[2 * g],         \
                             s.ml[2 * g + 1], mode);                               \
                fma32(acc, v, x);                                                  \
            }                                                                      \
        }                                                                          \
        return hsum8x4(acc);                                                       \
    }

K_KERNELS(q2_K, hh_block_q2_K, hh_q2k_scales, hh_x86_bytes_q2_K, 0, HH_X86_MUL_SUB)
K_KERNELS(q3_K, hh_block_q3_K, hh_q3k_scales, hh_x86_bytes_q3_K, 1, HH_X86_MUL)
K_KERNELS(q4_K, hh_block_q4_K, hh_q4k_scales, hh_x86_bytes_q4_K, 0, HH_X86_MUL_SUB)
K_KERNELS(q5_K, hh_block_q5_K, hh_q5k_scales, hh_x86_bytes_q5_K, 0, HH_X86_MUL_SUB)
K_KERNELS(q6_K, hh_block_q6_K, hh_q6k_scales, hh_x86_bytes_q6_K, 1, HH_X86_MUL)
K_KERNELS(iq4_xs, hh_block_iq4_xs, hh_iq4xs_scales, hh_x86_bytes_iq4_xs, 1, HH_X86_MUL)

/* ---- float types --------------------------------------------------------- */

static inline __m256 load8_f16(const hh_half *p) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p)); }

static inline __m256 load8_bf16(const hh_bf16 *p)
{
    __m256i u = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(u, 16));
}

static inline __m256 load8_f32(const float *p) { return _mm256_loadu_ps(p); }

/* dequant / dot of a float type: 32 values per step, the tail scalar. */
#define FLOAT_KERNELS(name, etype, load8, to_f32)                                  \
    static void dequant_##name(const void *src, float *dst, int64_t n)             \
    {                                                                              \
        const etype *p = src;                                                      \
        int64_t i = 0;                                                             \
        for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, load8(p + i));        \
        for (; i < n; i++) dst[i] = to_f32(p[i]);                                  \
    }                                                                              \
    static float dot_##name(int64_t n, const void *w, const float *x)              \
    {                                                                              \
        const etype *p = w;                                                        \
        __m256 acc[4] = { _mm256_setzero_ps(), _mm256_setzero_ps(),                \
                          _mm256_setzero_ps(), _mm256_setzero_ps() };              \
        int64_t i = 0;                                                             \
        for (; i + 32 <= n; i += 32)                                               \
            for (int k = 0; k < 4; k++)                                            \
                acc[k] = _mm256_fmadd_ps(load8(p + i + 8 * k),                     \
                                         _mm256_loadu_ps(x + i + 8 * k), acc[k]);  \
        for (; i + 8 <= n; i += 8)                                                 \
            acc[0] = _mm256_fmadd_ps(load8(p + i), _mm256_loadu_ps(x + i), acc[0]);\
        float sum = hsum8x4(acc);                                                  \
        for (; i < n; i++) sum += to_f32(p[i]) * x[i];                             \
        return sum;                                                                \
    }

static inline float f32_id(float f) { return f; }

FLOAT_KERNELS(f32, float, load8_f32, f32_id)
FLOAT_KERNELS(f16, hh_half, load8_f16, hh_fp16_to_f32)
FLOAT_KERNELS(bf16, hh_bf16, load8_bf16, hh_bf16_to_f32)

/* ---- activations ---------------------------------------------------------- */

/* silu(g) = g * sigmoid(g), sigmoid from e = e^-|g| (never overflows):
 * 1 / (1 + e) for g >= 0, e / (1 + e) below. */
static void swiglu(float *g, const float *u, int64_t n)
{
    const __m256 one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps();
    const __m256 sign = _mm256_set1_ps(-0.0f);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 x = _mm256_loadu_ps(g + i);
        const __m256 e = hh_exp_neg8(_mm256_or_ps(x, sign));   /* -|x| */
        const __m256 num = _mm256_blendv_ps(one, e, _mm256_cmp_ps(x, zero, _CMP_LT_OQ));
        const __m256 sig = _mm256_div_ps(num, _mm256_add_ps(one, e));
        _mm256_storeu_ps(g + i, _mm256_mul_ps(_mm256_mul_ps(x, sig), _mm256_loadu_ps(u + i)));
    }
    for (; i < n; i++)
        g[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}

/* ---- table --------------------------------------------------------------- */

void hh_kernels_fill_avx2(hh_kernels_t *k)
{
    hh_kernels_fill_ref(k);
    k->isa = HH_ISA_AVX2;
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
    SET(MXFP4, mxfp4);
#undef SET
    k->swiglu = swiglu;
    hh_qdot_fill_avx2(k);
    hh_attn_fill_avx2(k);
}
