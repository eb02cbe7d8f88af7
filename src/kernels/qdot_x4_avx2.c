/* qdot_x4_avx2.c - AVX2 (+FMA, F16C; no AVX-512, no VNNI) kernels over the
 * row-interleaved x4 weight layout (kernels.h, repack.c), for CPUs such as
 * AMD Zen 2/3 or Intel client parts: the same bytes the AVX-512 kernels
 * read (qdot_x4_avx512.c), taken as two 256-bit halves (rows 0-1, rows
 * 2-3) where AVX-512 takes one 512-bit register.
 *
 * Integer dots: u8 x s8 pairs with maddubs (s16), then madd with ones (or
 * with the K-quant sub-block scales) to s32. maddubs saturates at 2^15, so
 * every sum below is bounded (activations are within -127..127: the Q8
 * rounding maps |x| <= amax to |q| <= 127):
 *   Q4_0: nibbles 0..15 as stored (value + 8): pairs <= 15*127*2 = 3810;
 *         the low- and high-nibble pairs are added (7620) and summed once
 *         more with hadd_epi16 (15240) before widening.
 *   Q5_0: nibble | 5th bit << 4 (value + 16, 0..31): 7874, 15748, 31496,
 *         still below 32767, same sequence as Q4_0.
 *   Q8_0: stored value + 128 would reach 255*127*2 > 32767, so the kernel
 *         takes the signed value back (xor 0x80) and uses the sign trick:
 *         |w| (<= 128) as the unsigned operand, x with w's sign as the
 *         signed one: pairs <= 128*127*2 = 32512, each widened alone.
 * The offsets of Q4_0 / Q5_0 come from the activation block's s = -2 d
 * sum(q) as in the AVX-512 kernels (a row spans 2 int32 lanes here, so
 * each lane carries half the row's correction: Q4_0 -8 d sum = 4 s, per
 * lane 2 s; Q5_0 8 s, per lane 4 s; both exact scalings of s).
 *
 * After the integer step one register holds the 4 rows of one token, row
 * r in lanes {0,1} (r 0), {4,5} (r 1), {2,3} (r 2), {6,7} (r 3); the F32
 * accumulation per lane does not depend on how many tokens or groups a
 * call takes, so batched prefill equals token-by-token decode. */
#include "kernels/kernels_x86_int.h"

#include <immintrin.h>

#define X4_ALWAYS_INLINE static inline __attribute__((always_inline))
#define X4_TOK 4     /* tokens per micro-kernel call (16 ymm registers) */

/* Sum of the 8 int32 lanes. */
static inline int x4_hsum_i32(__m256i v)
{
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}

/* Same bytes as the AVX-512 quant_x4 and the reference Q8_0 rounding
 * (round half to even through cvtps, |q| <= 127 so packs never clip). */
static void x4_quant(const float *x, void *y, int64_t n)
{
    hh_block_q8x *b = y;
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (int64_t i = 0; i < n / 32; i++, b++, x += 32) {
        const __m256 v0 = _mm256_loadu_ps(x), v1 = _mm256_loadu_ps(x + 8);
        const __m256 v2 = _mm256_loadu_ps(x + 16), v3 = _mm256_loadu_ps(x + 24);
        const __m256 a = _mm256_max_ps(_mm256_max_ps(_mm256_andnot_ps(sign, v0), _mm256_andnot_ps(sign, v1)),
                                       _mm256_max_ps(_mm256_andnot_ps(sign, v2), _mm256_andnot_ps(sign, v3)));
        __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
        m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
        m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
        const float amax = _mm_cvtss_f32(m4);
        const float d = amax / 127.0f, id = amax > 0.0f ? 127.0f / amax : 0.0f;
        const __m256 m = _mm256_set1_ps(id);
        const __m256i q0 = _mm256_cvtps_epi32(_mm256_mul_ps(v0, m)), q1 = _mm256_cvtps_epi32(_mm256_mul_ps(v1, m));
        const __m256i q2 = _mm256_cvtps_epi32(_mm256_mul_ps(v2, m)), q3 = _mm256_cvtps_epi32(_mm256_mul_ps(v3, m));
        /* packs interleave the 128-bit lanes: dwords come out as q0 lo, q1
         * lo, q2 lo, q3 lo | q0 hi, ...; the permute puts them in order */
        const __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(q0, q1), _mm256_packs_epi32(q2, q3));
        _mm256_storeu_si256((__m256i *)b->qs, _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
        const int sum = x4_hsum_i32(_mm256_add_epi32(_mm256_add_epi32(q0, q1), _mm256_add_epi32(q2, q3)));
        b->d = _cvtsh_ss(hh_f32_to_fp16(d));
        b->s = -2.0f * b->d * (float)sum;
    }
}

/* The 4 rows' F16 scales at p in the lane order of the sums:
 * d0 d0 d2 d2 | d1 d1 d3 d3. */
X4_ALWAYS_INLINE __m256 x4_scales(const uint8_t *p)
{
    const __m128 d4 = _mm_cvtph_ps(_mm_loadl_epi64((const __m128i *)p));
    return _mm256_permutevar8x32_ps(_mm256_castps128_ps256(d4), _mm256_setr_epi32(0, 0, 2, 2, 1, 1, 3, 3));
}

/* The 4 rows' lane pairs of acc added into o[0..3]. */
X4_ALWAYS_INLINE void x4_store(__m256 acc, float *o)
{
    float l[8];
    _mm256_storeu_ps(l, acc);
    o[0] = l[0] + l[1];
    o[1] = l[4] + l[5];
    o[2] = l[2] + l[3];
    o[3] = l[6] + l[7];
}

/* One group (4 rows) x T tokens over nb blocks; kind: 0 Q4_0, 1 Q8_0,
 * 2 Q5_0. Weights are unpacked once per block for the T tokens:
 * w[0] rows 0-1 values 0..15, w[1] rows 0-1 values 16..31, w[2] / w[3]
 * the same for rows 2-3 (Q8_0: signed values in ws, |w| in w). */
X4_ALWAYS_INLINE void x4_tile(int64_t nb, const uint8_t *w, const int kind, const uint8_t *xq, size_t xs,
                              const int T, float *y, size_t ys)
{
    const size_t blk = kind == 1 ? 8 + 128 : kind == 2 ? 88 : 8 + 64;
    const __m256i m4 = _mm256_set1_epi8(0x0f), ones = _mm256_set1_epi16(1);
    __m256 acc[X4_TOK];
    for (int t = 0; t < T; t++) acc[t] = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const uint8_t *b = w + (size_t)i * blk;
        _mm_prefetch((const char *)(b + 8 * blk), _MM_HINT_T0);
        const __m256 dw = x4_scales(b);
        __m256i wv[4], ws[4];
        if (kind == 1) {
            const __m256i k80 = _mm256_set1_epi8((char)0x80);
            for (int h = 0; h < 4; h++) {
                /* h: 0 rows 0-1 low, 1 rows 0-1 high, 2 / 3 rows 2-3 */
                ws[h] = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(b + 8 + 64 * (h & 1) + 32 * (h >> 1))), k80);
                wv[h] = _mm256_sign_epi8(ws[h], ws[h]);
            }
        } else {
            const uint8_t *nib = b + (kind == 2 ? 24 : 8);
            for (int hr = 0; hr < 2; hr++) {
                const __m256i raw = _mm256_loadu_si256((const __m256i *)(nib + 32 * hr));
                wv[2 * hr] = _mm256_and_si256(raw, m4);
                wv[2 * hr + 1] = _mm256_and_si256(_mm256_srli_epi16(raw, 4), m4);
                if (kind == 2) {   /* 5th bits: mask bytes 8..15 values 0..15, 16..23 values 16..31 */
                    wv[2 * hr] = _mm256_or_si256(wv[2 * hr], hh_x86_bit5(b + 8 + 4 * hr));
                    wv[2 * hr + 1] = _mm256_or_si256(wv[2 * hr + 1], hh_x86_bit5(b + 16 + 4 * hr));
                }
            }
        }
        for (int t = 0; t < T; t++) {
            const hh_block_q8x *a = (const hh_block_q8x *)(xq + (size_t)t * xs) + i;
            const __m256i xl = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)a->qs));
            const __m256i xh = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(a->qs + 16)));
            __m256i p;
            if (kind == 1) {
                __m256i r[4];
                for (int h = 0; h < 4; h++)
                    r[h] = _mm256_madd_epi16(_mm256_maddubs_epi16(wv[h], _mm256_sign_epi8(h & 1 ? xh : xl, ws[h])), ones);
                p = _mm256_hadd_epi32(_mm256_add_epi32(r[0], r[1]), _mm256_add_epi32(r[2], r[3]));
            } else {
                const __m256i s01 = _mm256_add_epi16(_mm256_maddubs_epi16(wv[0], xl), _mm256_maddubs_epi16(wv[1], xh));
                const __m256i s23 = _mm256_add_epi16(_mm256_maddubs_epi16(wv[2], xl), _mm256_maddubs_epi16(wv[3], xh));
                p = _mm256_madd_epi16(_mm256_hadd_epi16(s01, s23), ones);
            }
            const __m256 d = _mm256_set1_ps(a->d);
            __m256 v;
            if (kind == 1)
                v = _mm256_mul_ps(_mm256_cvtepi32_ps(p), d);
            else
                v = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), d, _mm256_set1_ps(a->s * (kind == 2 ? 4.0f : 2.0f)));
            acc[t] = _mm256_fmadd_ps(v, dw, acc[t]);
        }
    }
    for (int t = 0; t < T; t++) x4_store(acc[t], y + (size_t)t * ys);
}

X4_ALWAYS_INLINE void x4_gemm(int64_t n, const void *w, int64_t n_grp, size_t grp_bytes, const int kind,
                              const void *xq, size_t xs, int32_t n_tok, float *y, size_t ys)
{
    const int64_t nb = n / 32;
    for (int32_t t = 0; t < n_tok; t += X4_TOK) {
        const int nt = n_tok - t < X4_TOK ? n_tok - t : X4_TOK;
        const uint8_t *xt = (const uint8_t *)xq + (size_t)t * xs;
        float *yt = y + (size_t)t * ys;
        for (int64_t g = 0; g < n_grp; g++) {
            const uint8_t *wg = (const uint8_t *)w + (size_t)g * grp_bytes;
            switch (nt) {
            case 4: x4_tile(nb, wg, kind, xt, xs, 4, yt + 4 * g, ys); break;
            case 3: x4_tile(nb, wg, kind, xt, xs, 3, yt + 4 * g, ys); break;
            case 2: x4_tile(nb, wg, kind, xt, xs, 2, yt + 4 * g, ys); break;
            default: x4_tile(nb, wg, kind, xt, xs, 1, yt + 4 * g, ys); break;
            }
        }
    }
}

static void x4_gemm_q4_0(int64_t n, const void *w, int64_t n_grp, size_t grp_bytes,
                         const void *xq, size_t xs, int32_t n_tok, float *y, size_t ys)
{
    x4_gemm(n, w, n_grp, grp_bytes, 0, xq, xs, n_tok, y, ys);
}

static void x4_gemm_q8_0(int64_t n, const void *w, int64_t n_grp, size_t grp_bytes,
                         const void *xq, size_t xs, int32_t n_tok, float *y, size_t ys)
{
    x4_gemm(n, w, n_grp, grp_bytes, 1, xq, xs, n_tok, y, ys);
}

static void x4_gemm_q5_0(int64_t n, const void *w, int64_t n_grp, size_t grp_bytes,
                         const void *xq, size_t xs, int32_t n_tok, float *y, size_t ys)
{
    x4_gemm(n, w, n_grp, grp_bytes, 2, xq, xs, n_tok, y, ys);
}

void hh_qdot_x4_fill_avx2(hh_kernels_t *k)
{
    k->quant_x4 = x4_quant;
    k->gemm_x4[HH_TYPE_Q4_0] = x4_gemm_q4_0;
    k->gemm_x4[HH_TYPE_Q8_0] = x4_gemm_q8_0;
    k->gemm_x4[HH_TYPE_Q5_0] = x4_gemm_q5_0;
}
