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
#define X4_TOK 8     /* tokens per micro-kernel call (measured: 8 beats 4 by ~7% on Q4_0 prefill) */

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
 * 2 Q5_0, 3 IQ4_NL (Q4_0's bytes; the nibbles map through the table to
 * signed levels -127..113, then Q8_0's sign trick: pairs <= 127*127*2). Weights are unpacked once per block for the T tokens:
 * w[0] rows 0-1 values 0..15, w[1] rows 0-1 values 16..31, w[2] / w[3]
 * the same for rows 2-3 (Q8_0: signed values in ws, |w| in w). */
X4_ALWAYS_INLINE void x4_tile(int64_t nb, const uint8_t *w, const int kind, const uint8_t *xq, size_t xs,
                              const int T, float *y, size_t ys)
{
    const size_t blk = kind == 1 ? 8 + 128 : kind == 2 ? 88 : 8 + 64;
    const bool sgn = kind == 1 || kind == 3;   /* signed weights: sign trick, no offset */
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
                if (kind == 3) {
                    const __m256i lut = _mm256_setr_epi8(-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69,
                                                         89, 113, -127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25,
                                                         38, 53, 69, 89, 113);
                    for (int h = 2 * hr; h < 2 * hr + 2; h++) {
                        ws[h] = _mm256_shuffle_epi8(lut, wv[h]);
                        wv[h] = _mm256_sign_epi8(ws[h], ws[h]);
                    }
                }
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
            if (sgn) {
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
            if (sgn)
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
            case 8: x4_tile(nb, wg, kind, xt, xs, 8, yt + 4 * g, ys); break;
            case 7: x4_tile(nb, wg, kind, xt, xs, 7, yt + 4 * g, ys); break;
            case 6: x4_tile(nb, wg, kind, xt, xs, 6, yt + 4 * g, ys); break;
            case 5: x4_tile(nb, wg, kind, xt, xs, 5, yt + 4 * g, ys); break;
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

static void x4_gemm_iq4_nl(int64_t n, const void *w, int64_t n_grp, size_t grp_bytes,
                           const void *xq, size_t xs, int32_t n_tok, float *y, size_t ys)
{
    x4_gemm(n, w, n_grp, grp_bytes, 3, xq, xs, n_tok, y, ys);
}

static void x4_gemm_q5_0(int64_t n, const void *w, int64_t n_grp, size_t grp_bytes,
                         const void *xq, size_t xs, int32_t n_tok, float *y, size_t ys)
{
    x4_gemm(n, w, n_grp, grp_bytes, 2, xq, xs, n_tok, y, ys);
}

/* ---- K-quants (Q4_K, Q5_K, Q6_K; layouts in repack.c), plain Q8_K
 * activations. Per chunk of 16 values x 4 rows (two halves hr: rows
 * 2hr, 2hr+1), maddubs gives s16 pairs (Q4_K <= 15*127*2, Q5_K <= 31*127*2,
 * Q6_K <= 63*127*2 = 16002, all below 2^15) and madd with the sub-block's
 * scale vector (row 2hr in lanes 0..7, row 2hr+1 in 8..15) sums them in s32;
 * the two halves meet in one hadd per super-block and token, giving the
 * lane order of x4_store. ------------------------------------------------ */
#define X4K_TOK 8

/* 32 six-bit values (16 bytes of nibbles at p, 8 bytes of top bits at
 * p + 16; value k: nibble k % 16 (low if k < 16), bits 2 (k / 8) of top
 * byte k % 8) as 32 bytes in order. */
X4_ALWAYS_INLINE __m256i x4k_six(const uint8_t *p)
{
    const __m128i nib = _mm_loadu_si128((const __m128i *)p), m4 = _mm_set1_epi8(0x0f);
    const __m256i lo = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_and_si128(nib, m4)),
                                               _mm_and_si128(_mm_srli_epi16(nib, 4), m4), 1);
    long long t;
    __builtin_memcpy(&t, p + 16, 8);
    /* 64-bit lane q holds the top bytes shifted by 2q: byte k (lane k / 8)
     * has the bits of value k at bits 0..1 */
    __m256i top = _mm256_srlv_epi64(_mm256_set1_epi64x(t), _mm256_setr_epi64x(0, 2, 4, 6));
    top = _mm256_slli_epi16(_mm256_and_si256(top, _mm256_set1_epi8(3)), 4);
    return _mm256_or_si256(lo, top);
}

/* s16 vector of bytes src[idx] (lanes 0..7) and src[idx + 1] (lanes 8..15),
 * zero-extended; src is 16 bytes repeated in both 128-bit halves. */
X4_ALWAYS_INLINE __m256i x4k_pick_u8(__m256i src, int idx)
{
    const __m256i ctl = _mm256_add_epi16(_mm256_setr_m128i(_mm_set1_epi16((short)0x8000), _mm_set1_epi16((short)0x8001)),
                                         _mm256_set1_epi16((short)idx));
    return _mm256_shuffle_epi8(src, ctl);
}

/* acc + the u8 x s8 pairs of w and x weighted by the s16 scales sc. */
X4_ALWAYS_INLINE __m256i x4k_dot(__m256i acc, __m256i w, __m256i x, __m256i sc)
{
    return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(w, x), sc));
}

/* Q4_K (five 0, 576-byte super-blocks) or Q5_K (five 1, 704 bytes): one
 * group x T tokens. */
X4_ALWAYS_INLINE void x4k_tile(int64_t nb, const uint8_t *w, const uint8_t *xq, size_t xs, const int T,
                               float *y, size_t ys, const int five)
{
    const size_t blk = five ? 704 : 576;
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    __m256 acc[X4K_TOK];
    for (int t = 0; t < T; t++) acc[t] = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const uint8_t *b = w + (size_t)i * blk;
        for (size_t c = 0; c < blk; c += 64)
            _mm_prefetch((const char *)(b + 4 * blk + c), _MM_HINT_T0);
        /* scales, index 4 j + r: j < 4 in the low 16 bytes, j >= 4 high */
        const __m256i sall = x4k_six(b + 16);
        const __m256i sc_lo = _mm256_permute2x128_si256(sall, sall, 0x00);
        const __m256i sc_hi = _mm256_permute2x128_si256(sall, sall, 0x11);
        __m256i p[2][X4K_TOK];
        for (int t = 0; t < T; t++) p[0][t] = p[1][t] = _mm256_setzero_si256();
        /* rows 0-1, then rows 2-3: the first half's sums wait (spilled if
         * need be) while the second half's T chains run */
        for (int hr = 0; hr < 2; hr++) {
            for (int k = 0; k < 4; k++) {
                const __m256i src = k < 2 ? sc_lo : sc_hi;
                /* sub-blocks 2k (low nibbles) and 2k + 1 (high), rows 2hr, 2hr + 1 */
                const __m256i s0 = x4k_pick_u8(src, (8 * k + 2 * hr) & 15);
                const __m256i s1 = x4k_pick_u8(src, (8 * k + 4 + 2 * hr) & 15);
                for (int h = 0; h < 2; h++) {
                    const __m256i raw = _mm256_loadu_si256((const __m256i *)(b + 64 + 128 * k + 64 * h + 32 * hr));
                    __m256i lo = _mm256_and_si256(raw, m4), hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), m4);
                    if (five) {   /* bit 2k of the qh bytes for the low nibbles, 2k + 1 for the high */
                        const __m256i qh = _mm256_loadu_si256((const __m256i *)(b + 576 + 64 * h + 32 * hr));
                        const __m256i b4 = _mm256_set1_epi8(0x10);
                        const __m256i hl = 2 * k <= 4 ? _mm256_slli_epi16(qh, 4 - 2 * k) : _mm256_srli_epi16(qh, 2 * k - 4);
                        const __m256i hh = 2 * k + 1 <= 4 ? _mm256_slli_epi16(qh, 3 - 2 * k) : _mm256_srli_epi16(qh, 2 * k - 3);
                        lo = _mm256_or_si256(lo, _mm256_and_si256(hl, b4));
                        hi = _mm256_or_si256(hi, _mm256_and_si256(hh, b4));
                    }
                    const int o = 64 * k + 16 * h;
                    for (int t = 0; t < T; t++) {
                        const hh_block_q8_K *a = (const hh_block_q8_K *)(xq + (size_t)t * xs) + i;
                        const __m256i xl = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(a->qs + o)));
                        const __m256i xh = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(a->qs + o + 32)));
                        p[hr][t] = x4k_dot(x4k_dot(p[hr][t], lo, xl, s0), hi, xh, s1);
                    }
                }
            }
        }
        const __m256 dv = x4_scales(b), mv = x4_scales(b + 8);
        const __m256i mins = x4k_six(b + 40);   /* index 8 r + j */
        const __m256i m01 = _mm256_cvtepu8_epi16(_mm256_castsi256_si128(mins));
        const __m256i m23 = _mm256_cvtepu8_epi16(_mm256_extracti128_si256(mins, 1));
        for (int t = 0; t < T; t++) {
            const hh_block_q8_K *a = (const hh_block_q8_K *)(xq + (size_t)t * xs) + i;
            /* sums of the 32 activations of each sub-block (|sum| <= 4064) */
            const __m128i s8 = _mm_hadd_epi16(_mm_loadu_si128((const __m128i *)a->bsums),
                                              _mm_loadu_si128((const __m128i *)(a->bsums + 8)));
            const __m256i sx = _mm256_broadcastsi128_si256(s8);
            const __m256i mm = _mm256_hadd_epi32(_mm256_madd_epi16(m01, sx), _mm256_madd_epi16(m23, sx));
            const __m256i pp = _mm256_hadd_epi32(p[0][t], p[1][t]);
            const __m256 v = _mm256_fmsub_ps(_mm256_cvtepi32_ps(pp), dv, _mm256_mul_ps(_mm256_cvtepi32_ps(mm), mv));
            acc[t] = _mm256_fmadd_ps(v, _mm256_set1_ps(a->d), acc[t]);
        }
    }
    for (int t = 0; t < T; t++) x4_store(acc[t], y + (size_t)t * ys);
}

/* Q6_K: one group x T tokens; values unsigned 0..63, the -32 offset as
 * -32 sum_j scale_j * (sub-block sum of x) from the Q8_K sums. */
X4_ALWAYS_INLINE void x6k_tile(int64_t nb, const uint8_t *w, const uint8_t *xq, size_t xs, const int T,
                               float *y, size_t ys)
{
    const __m256i m4 = _mm256_set1_epi8(0x0f), m30 = _mm256_set1_epi8(0x30);
    __m256 acc[X4K_TOK];
    for (int t = 0; t < T; t++) acc[t] = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const uint8_t *b = w + (size_t)i * 840;
        for (int l = 0; l < 840; l += 64)
            _mm_prefetch((const char *)(b + 840 + l), _MM_HINT_T0);
        /* sc[hr][q]: row 2hr's scales of sub-blocks 8q..8q+7 in lanes 0..7,
         * row 2hr + 1's in lanes 8..15 (signed, widened) */
        __m256i sc[2][2];
        for (int hr = 0; hr < 2; hr++)
            for (int q = 0; q < 2; q++)
                sc[hr][q] = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(b + 8 + 32 * q + 16 * hr)));
        __m256i p[2][X4K_TOK];
        for (int t = 0; t < T; t++) p[0][t] = p[1][t] = _mm256_setzero_si256();
        for (int hr = 0; hr < 2; hr++) {   /* rows 0-1, then 2-3, as in x4k_tile */
            for (int n = 0; n < 8; n++) {
                const int j = (2 * n) % 8;   /* sub-blocks 2n, 2n + 1 within their half of 8 */
                const __m256i pick0 = _mm256_set1_epi16((short)(0x0100 * (2 * j + 1) + 2 * j));
                const __m256i pick1 = _mm256_set1_epi16((short)(0x0100 * (2 * j + 3) + 2 * j + 2));
                const __m256i hb = _mm256_loadu_si256((const __m256i *)(b + 584 + 64 * (n / 2) + 32 * hr));
                const __m256i raw = _mm256_loadu_si256((const __m256i *)(b + 72 + 64 * n + 32 * hr));
                __m256i lo = _mm256_and_si256(raw, m4), hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), m4);
                if (n % 2 == 0) {
                    lo = _mm256_or_si256(lo, _mm256_and_si256(_mm256_slli_epi16(hb, 4), m30));
                    hi = _mm256_or_si256(hi, _mm256_and_si256(_mm256_slli_epi16(hb, 2), m30));
                } else {
                    lo = _mm256_or_si256(lo, _mm256_and_si256(hb, m30));
                    hi = _mm256_or_si256(hi, _mm256_and_si256(_mm256_srli_epi16(hb, 2), m30));
                }
                const __m256i s0 = _mm256_shuffle_epi8(sc[hr][n / 4], pick0);
                const __m256i s1 = _mm256_shuffle_epi8(sc[hr][n / 4], pick1);
                for (int t = 0; t < T; t++) {
                    const hh_block_q8_K *a = (const hh_block_q8_K *)(xq + (size_t)t * xs) + i;
                    const __m256i xl = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(a->qs + 32 * n)));
                    const __m256i xh = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(a->qs + 32 * n + 16)));
                    p[hr][t] = x4k_dot(x4k_dot(p[hr][t], lo, xl, s0), hi, xh, s1);
                }
            }
        }
        const __m256 dv = x4_scales(b);
        for (int t = 0; t < T; t++) {
            const hh_block_q8_K *a = (const hh_block_q8_K *)(xq + (size_t)t * xs) + i;
            const __m256i ba = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)a->bsums));
            const __m256i bb = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(a->bsums + 8)));
            const __m256i c01 = _mm256_add_epi32(_mm256_madd_epi16(sc[0][0], ba), _mm256_madd_epi16(sc[0][1], bb));
            const __m256i c23 = _mm256_add_epi32(_mm256_madd_epi16(sc[1][0], ba), _mm256_madd_epi16(sc[1][1], bb));
            const __m256i tot = _mm256_sub_epi32(_mm256_hadd_epi32(p[0][t], p[1][t]),
                                                 _mm256_slli_epi32(_mm256_hadd_epi32(c01, c23), 5));
            acc[t] = _mm256_fmadd_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(tot), dv), _mm256_set1_ps(a->d), acc[t]);
        }
    }
    for (int t = 0; t < T; t++) x4_store(acc[t], y + (size_t)t * ys);
}

/* kind: 0 Q4_K, 1 Q5_K, 2 Q6_K. */
X4_ALWAYS_INLINE void x4k_gemm(int64_t n, const void *w, int64_t n_grp, size_t grp_bytes, const void *xq,
                               size_t xs, int32_t n_tok, float *y, size_t ys, const int kind)
{
    const int64_t nb = n / HH_QK_K;
    for (int32_t t = 0; t < n_tok; t += X4K_TOK) {
        const int nt = n_tok - t < X4K_TOK ? n_tok - t : X4K_TOK;
        const uint8_t *xt = (const uint8_t *)xq + (size_t)t * xs;
        float *yt = y + (size_t)t * ys;
        for (int64_t g = 0; g < n_grp; g++) {
            const uint8_t *wg = (const uint8_t *)w + (size_t)g * grp_bytes;
            float *yg = yt + 4 * g;
#define X4K_CASE(TT) (kind == 2 ? x6k_tile(nb, wg, xt, xs, TT, yg, ys) : x4k_tile(nb, wg, xt, xs, TT, yg, ys, kind))
            switch (nt) {
            case 8: X4K_CASE(8); break;
            case 7: X4K_CASE(7); break;
            case 6: X4K_CASE(6); break;
            case 5: X4K_CASE(5); break;
            case 4: X4K_CASE(4); break;
            case 3: X4K_CASE(3); break;
            case 2: X4K_CASE(2); break;
            default: X4K_CASE(1); break;
            }
#undef X4K_CASE
        }
    }
}

static void x4_gemm_q4_K(int64_t n, const void *w, int64_t n_grp, size_t grp_bytes,
                         const void *xq, size_t xs, int32_t n_tok, float *y, size_t ys)
{
    x4k_gemm(n, w, n_grp, grp_bytes, xq, xs, n_tok, y, ys, 0);
}

static void x4_gemm_q5_K(int64_t n, const void *w, int64_t n_grp, size_t grp_bytes,
                         const void *xq, size_t xs, int32_t n_tok, float *y, size_t ys)
{
    x4k_gemm(n, w, n_grp, grp_bytes, xq, xs, n_tok, y, ys, 1);
}

static void x4_gemm_q6_K(int64_t n, const void *w, int64_t n_grp, size_t grp_bytes,
                         const void *xq, size_t xs, int32_t n_tok, float *y, size_t ys)
{
    x4k_gemm(n, w, n_grp, grp_bytes, xq, xs, n_tok, y, ys, 2);
}

void hh_qdot_x4_fill_avx2(hh_kernels_t *k)
{
    k->quant_x4 = x4_quant;
    k->gemm_x4[HH_TYPE_Q4_0] = x4_gemm_q4_0;
    k->gemm_x4[HH_TYPE_Q8_0] = x4_gemm_q8_0;
    k->gemm_x4[HH_TYPE_Q5_0] = x4_gemm_q5_0;
    k->gemm_x4[HH_TYPE_IQ4_NL] = x4_gemm_iq4_nl;   /* AVX2 only so far: AVX-512 runs IQ4_NL on stored rows */
    k->gemm_x4[HH_TYPE_Q4_K] = x4_gemm_q4_K;
    k->gemm_x4[HH_TYPE_Q5_K] = x4_gemm_q5_K;
    k->gemm_x4[HH_TYPE_Q6_K] = x4_gemm_q6_K;
    /* Q5_K has no stored-layout qdot: this is the activation type of its
     * x4 kernel only (as in the AVX-512 table) */
    k->act_type[HH_TYPE_Q5_K] = HH_TYPE_Q8_K;
}
