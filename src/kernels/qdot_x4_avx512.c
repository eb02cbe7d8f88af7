/* qdot_x4_avx512.c - AVX-512 VNNI kernels over the row-interleaved x4
 * weight layout (kernels.h): a register-blocked micro-kernel of 2 groups
 * (8 weight rows) x up to 4 tokens.
 *
 * One 512-bit register holds the same block position of 4 rows, so one
 * vpdpbusd multiplies 16 values of each of 4 rows with the token's values
 * broadcast to the 4 128-bit lanes; the 4 int32 lanes of a row are summed
 * only once at the end. Weights are the unsigned operand:
 *   Q4_0: nibbles 0..15, value = nibble - 8   -> correction -8 sum(x)
 *   Q8_0: stored as value + 128               -> correction -128 sum(x)
 *   Q5_0: nibble | 5th bit << 4, value + 16   -> correction -16 sum(x)
 * and the corrections come from the activation block's s = -2 d sum(q)
 * (per int32 lane a quarter of the row's correction: -8/4 = -2).
 * Each block's weights are unpacked once for up to 4 tokens; the scales of
 * the 4 rows are widened from F16 once per block for all tokens. */
#include "kernels/kernels_int.h"

#include <immintrin.h>

#define X4_ALWAYS_INLINE static inline __attribute__((always_inline))
#define X4_TOK 8     /* tokens per micro-kernel call */
#define X4_GRP 2     /* groups (of 4 rows) per micro-kernel call */

static void x4_quant(const float *x, void *y, int64_t n)
{
    hh_block_q8x *b = y;
    const __m512 sign = _mm512_set1_ps(-0.0f);
    for (int64_t i = 0; i < n / 32; i++, b++, x += 32) {
        const __m512 v0 = _mm512_loadu_ps(x), v1 = _mm512_loadu_ps(x + 16);
        const __m512 a = _mm512_max_ps(_mm512_andnot_ps(sign, v0), _mm512_andnot_ps(sign, v1));
        const float amax = _mm512_reduce_max_ps(a);
        const float d = amax / 127.0f, id = amax > 0.0f ? 127.0f / amax : 0.0f;
        const __m512 m = _mm512_set1_ps(id);
        const __m512i q0 = _mm512_cvtps_epi32(_mm512_mul_ps(v0, m));
        const __m512i q1 = _mm512_cvtps_epi32(_mm512_mul_ps(v1, m));
        _mm_storeu_si128((__m128i *)b->qs, _mm512_cvtsepi32_epi8(q0));
        _mm_storeu_si128((__m128i *)(b->qs + 16), _mm512_cvtsepi32_epi8(q1));
        const int sum = _mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1));
        b->d = _cvtsh_ss(hh_f32_to_fp16(d));
        b->s = -2.0f * b->d * (float)sum;
    }
}

/* The 4 rows' F16 scales at p, each repeated over its row's 4 int32 lanes. */
X4_ALWAYS_INLINE __m512 x4_scales(const uint8_t *p)
{
    const __m128 d4 = _mm_cvtph_ps(_mm_loadl_epi64((const __m128i *)p));
    const __m512i idx = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
    return _mm512_permutexvar_ps(idx, _mm512_castps128_ps512(d4));
}

/* G groups (rows of 4) x T tokens over nb blocks; q8: 0 Q4_0, 1 Q8_0,
 * 2 Q5_0 (nibbles plus the 5th bits from the two 64-bit masks of the
 * block, value + 16 unsigned -> correction -16 sum(x) = 2 s per lane). */
X4_ALWAYS_INLINE void x4_tile(int64_t nb, const uint8_t *w, size_t grp_bytes, const int G, const int q8,
                              const uint8_t *xq, size_t xs, const int T, float *y, size_t ys)
{
    const size_t blk = q8 == 1 ? 8 + 128 : q8 == 2 ? 88 : 8 + 64;
    const __m512i m4 = _mm512_set1_epi8(0x0f), b4 = _mm512_set1_epi8(0x10);
    const __m512 k16 = _mm512_set1_ps(16.0f), k2 = _mm512_set1_ps(2.0f);
    __m512 acc[X4_GRP][X4_TOK];
    for (int g = 0; g < G; g++)
        for (int t = 0; t < T; t++) acc[g][t] = _mm512_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        __m512i wl[X4_GRP], wh[X4_GRP];
        __m512 dw[X4_GRP];
        for (int g = 0; g < G; g++) {
            const uint8_t *b = w + (size_t)g * grp_bytes + (size_t)i * blk;
            _mm_prefetch((const char *)(b + 8 * blk), _MM_HINT_T0);
            dw[g] = x4_scales(b);
            if (q8 == 1) {
                wl[g] = _mm512_loadu_si512(b + 8);
                wh[g] = _mm512_loadu_si512(b + 72);
            } else if (q8 == 2) {
                unsigned long long ml, mh;
                __builtin_memcpy(&ml, b + 8, 8);
                __builtin_memcpy(&mh, b + 16, 8);
                const __m512i raw = _mm512_loadu_si512(b + 24);
                wl[g] = _mm512_or_si512(_mm512_and_si512(raw, m4), _mm512_maskz_mov_epi8(_cvtu64_mask64(ml), b4));
                wh[g] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(raw, 4), m4),
                                        _mm512_maskz_mov_epi8(_cvtu64_mask64(mh), b4));
            } else {
                const __m512i raw = _mm512_loadu_si512(b + 8);
                wl[g] = _mm512_and_si512(raw, m4);
                wh[g] = _mm512_and_si512(_mm512_srli_epi16(raw, 4), m4);
            }
        }
        for (int t = 0; t < T; t++) {
            const hh_block_q8x *a = (const hh_block_q8x *)(xq + (size_t)t * xs) + i;
            const __m512i xl = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)a->qs));
            const __m512i xh = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(a->qs + 16)));
            const __m512 d = _mm512_set1_ps(a->d), s = _mm512_set1_ps(a->s);
            for (int g = 0; g < G; g++) {
                __m512i p = _mm512_dpbusd_epi32(_mm512_setzero_si512(), wl[g], xl);
                p = _mm512_dpbusd_epi32(p, wh[g], xh);
                __m512 v;
                if (q8 == 1)
                    v = _mm512_fmadd_ps(s, k16, _mm512_mul_ps(_mm512_cvtepi32_ps(p), d));
                else if (q8 == 2)
                    v = _mm512_fmadd_ps(s, k2, _mm512_mul_ps(_mm512_cvtepi32_ps(p), d));
                else
                    v = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), d, s);
                acc[g][t] = _mm512_fmadd_ps(v, dw[g], acc[g][t]);
            }
        }
    }
    for (int g = 0; g < G; g++)
        for (int t = 0; t < T; t++) {
            float l[16];
            _mm512_storeu_ps(l, acc[g][t]);
            float *o = y + (size_t)t * ys + 4 * g;
            for (int r = 0; r < 4; r++)
                o[r] = (l[4 * r] + l[4 * r + 1]) + (l[4 * r + 2] + l[4 * r + 3]);
        }
}

X4_ALWAYS_INLINE void x4_gemm(int64_t n, const void *w, int64_t n_grp, size_t grp_bytes, const int q8,
                              const void *xq, size_t xs, int32_t n_tok, float *y, size_t ys)
{
    const int64_t nb = n / 32;
    for (int32_t t = 0; t < n_tok; t += X4_TOK) {
        const int nt = n_tok - t < X4_TOK ? n_tok - t : X4_TOK;
        const uint8_t *xt = (const uint8_t *)xq + (size_t)t * xs;
        float *yt = y + (size_t)t * ys;
        for (int64_t g = 0; g < n_grp; g += X4_GRP) {
            const uint8_t *wg = (const uint8_t *)w + (size_t)g * grp_bytes;
            float *yg = yt + 4 * g;
            const int G = n_grp - g < X4_GRP ? (int)(n_grp - g) : X4_GRP;
#define X4_CASE(GG, TT) x4_tile(nb, wg, grp_bytes, GG, q8, xt, xs, TT, yg, ys)
            if (G == 2) {
                switch (nt) {
                case 8: X4_CASE(2, 8); break;
                case 7: X4_CASE(2, 7); break;
                case 6: X4_CASE(2, 6); break;
                case 5: X4_CASE(2, 5); break;
                case 4: X4_CASE(2, 4); break;
                case 3: X4_CASE(2, 3); break;
                case 2: X4_CASE(2, 2); break;
                default: X4_CASE(2, 1); break;
                }
            } else {
                switch (nt) {
                case 8: X4_CASE(1, 8); break;
                case 7: X4_CASE(1, 7); break;
                case 6: X4_CASE(1, 6); break;
                case 5: X4_CASE(1, 5); break;
                case 4: X4_CASE(1, 4); break;
                case 3: X4_CASE(1, 3); break;
                case 2: X4_CASE(1, 2); break;
                default: X4_CASE(1, 1); break;
                }
            }
#undef X4_CASE
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

/* ---- Q4_K x4 (layout in repack.c): per super-block 4 d, 4 dmin (F16),
 * the 32 scales and 32 mins as 6-bit values pre-shuffled at repack (16
 * bytes of nibbles + 8 bytes of top bits each), then 8 chunks of 4 x 16
 * nibble bytes (chunk c: bytes 16c..16c+15 of each row; low nibbles
 * sub-block 2(c/2), high 2(c/2)+1). Activations are plain Q8_K. One group
 * x up to 8 tokens per call; the sub-block scale vectors are made per
 * chunk pair, so 8 tokens' accumulators fit in the registers. ----------- */
#define X4K_TOK 8

/* 32 six-bit values (nibbles at p, top bits at p + 16) widened to s16. */
X4_ALWAYS_INLINE __m512i x4k_six(const uint8_t *p)
{
    const __m128i nib = _mm_loadu_si128((const __m128i *)p), m4 = _mm_set1_epi8(0x0f);
    const __m256i lo = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_and_si128(nib, m4)),
                                               _mm_and_si128(_mm_srli_epi16(nib, 4), m4), 1);
    long long t;
    __builtin_memcpy(&t, p + 16, 8);
    __m256i top = _mm256_srlv_epi64(_mm256_set1_epi64x(t), _mm256_setr_epi64x(0, 2, 4, 6));
    top = _mm256_slli_epi16(_mm256_and_si256(top, _mm256_set1_epi8(3)), 4);
    return _mm512_cvtepu8_epi16(_mm256_or_si256(lo, top));
}

/* Q4_K (five 0: 576-byte super-blocks) or Q5_K (five 1: 704 bytes, the
 * 5th bits after the Q4_K part, lined up with the nibble chunks). */
X4_ALWAYS_INLINE void x4k_tile(int64_t nb, const uint8_t *w, const uint8_t *xq, size_t xs, const int T,
                               float *y, size_t ys, const int five)
{
    const size_t blk = five ? 704 : 576;
    const __m512i m4 = _mm512_set1_epi8(0x0f);
    /* lanes of row r (8 s16 each) pick scale 4 j + r */
    const __m512i rowsel = _mm512_set_epi64(0x0003000300030003LL, 0x0003000300030003LL,
                                            0x0002000200020002LL, 0x0002000200020002LL,
                                            0x0001000100010001LL, 0x0001000100010001LL, 0, 0);
    __m512 acc[X4K_TOK];
    for (int t = 0; t < T; t++) acc[t] = _mm512_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const uint8_t *b = w + (size_t)i * blk;
        /* the super-block four ahead, all of its lines */
        for (size_t c = 0; c < blk; c += 64)
            _mm_prefetch((const char *)(b + 4 * blk + c), _MM_HINT_T0);
        const __m512i sall = x4k_six(b + 16);   /* s16 [4 j + r] */
        /* integer sums: the low- and high-nibble chains are kept apart when
         * few tokens leave spare registers (more independent vpdpwssd
         * chains for decode); the sum is exact either way */
        __m512i p[X4K_TOK], q[X4K_TOK];
        for (int t = 0; t < T; t++) p[t] = q[t] = _mm512_setzero_si512();
        for (int k = 0; k < 4; k++) {
            const __m512i s0 = _mm512_permutexvar_epi16(_mm512_add_epi16(rowsel, _mm512_set1_epi16((short)(8 * k))), sall);
            const __m512i s1 = _mm512_permutexvar_epi16(_mm512_add_epi16(rowsel, _mm512_set1_epi16((short)(8 * k + 4))), sall);
            for (int h = 0; h < 2; h++) {
                const __m512i raw = _mm512_loadu_si512(b + 64 + 128 * k + 64 * h);
                __m512i lo = _mm512_and_si512(raw, m4), hi = _mm512_and_si512(_mm512_srli_epi16(raw, 4), m4);
                if (five) {   /* bits 2k (low nibbles) and 2k + 1 (high) of the qh bytes */
                    const __m512i qh = _mm512_loadu_si512(b + 576 + 64 * h), v16 = _mm512_set1_epi8(16);
                    const __mmask64 bl = _mm512_test_epi8_mask(qh, _mm512_set1_epi8((char)(1 << (2 * k))));
                    const __mmask64 bh = _mm512_test_epi8_mask(qh, _mm512_set1_epi8((char)(2 << (2 * k))));
                    lo = _mm512_or_si512(lo, _mm512_maskz_mov_epi8(bl, v16));
                    hi = _mm512_or_si512(hi, _mm512_maskz_mov_epi8(bh, v16));
                }
                const int o = 64 * k + 16 * h;
                for (int t = 0; t < T; t++) {
                    const hh_block_q8_K *a = (const hh_block_q8_K *)(xq + (size_t)t * xs) + i;
                    const __m512i xl = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(a->qs + o)));
                    const __m512i xh = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(a->qs + o + 32)));
                    p[t] = _mm512_dpwssd_epi32(p[t], _mm512_maddubs_epi16(lo, xl), s0);
                    if (T <= 4)
                        q[t] = _mm512_dpwssd_epi32(q[t], _mm512_maddubs_epi16(hi, xh), s1);
                    else
                        p[t] = _mm512_dpwssd_epi32(p[t], _mm512_maddubs_epi16(hi, xh), s1);
                }
            }
        }
        if (T <= 4)
            for (int t = 0; t < T; t++) p[t] = _mm512_add_epi32(p[t], q[t]);
        const __m512 dv = x4_scales(b), mv = x4_scales(b + 8);
        const __m512i mins = x4k_six(b + 40);   /* s16 [8 r + j] */
        for (int t = 0; t < T; t++) {
            const hh_block_q8_K *a = (const hh_block_q8_K *)(xq + (size_t)t * xs) + i;
            /* sums of 32 activations per sub-block, broadcast to the 4 rows */
            const __m256i s16 = _mm256_loadu_si256((const __m256i *)a->bsums);
            const __m128i s32 = _mm256_cvtepi32_epi16(_mm256_madd_epi16(s16, _mm256_set1_epi16(1)));
            const __m512i mm = _mm512_madd_epi16(mins, _mm512_broadcast_i32x4(s32));
            const __m512 v = _mm512_fmsub_ps(_mm512_cvtepi32_ps(p[t]), dv,
                                             _mm512_mul_ps(_mm512_cvtepi32_ps(mm), mv));
            acc[t] = _mm512_fmadd_ps(v, _mm512_set1_ps(a->d), acc[t]);
        }
    }
    for (int t = 0; t < T; t++) {
        float l[16];
        _mm512_storeu_ps(l, acc[t]);
        float *o = y + (size_t)t * ys;
        for (int r = 0; r < 4; r++)
            o[r] = (l[4 * r] + l[4 * r + 1]) + (l[4 * r + 2] + l[4 * r + 3]);
    }
}

X4_ALWAYS_INLINE void x4k_gemm(int64_t n, const void *w, int64_t n_grp, size_t grp_bytes, const void *xq,
                               size_t xs, int32_t n_tok, float *y, size_t ys, const int five)
{
    const int64_t nb = n / HH_QK_K;
    for (int32_t t = 0; t < n_tok; t += X4K_TOK) {
        const int nt = n_tok - t < X4K_TOK ? n_tok - t : X4K_TOK;
        const uint8_t *xt = (const uint8_t *)xq + (size_t)t * xs;
        float *yt = y + (size_t)t * ys;
        for (int64_t g = 0; g < n_grp; g++) {
            const uint8_t *wg = (const uint8_t *)w + (size_t)g * grp_bytes;
            float *yg = yt + 4 * g;
            switch (nt) {
            case 8: x4k_tile(nb, wg, xt, xs, 8, yg, ys, five); break;
            case 7: x4k_tile(nb, wg, xt, xs, 7, yg, ys, five); break;
            case 6: x4k_tile(nb, wg, xt, xs, 6, yg, ys, five); break;
            case 5: x4k_tile(nb, wg, xt, xs, 5, yg, ys, five); break;
            case 4: x4k_tile(nb, wg, xt, xs, 4, yg, ys, five); break;
            case 3: x4k_tile(nb, wg, xt, xs, 3, yg, ys, five); break;
            case 2: x4k_tile(nb, wg, xt, xs, 2, yg, ys, five); break;
            default: x4k_tile(nb, wg, xt, xs, 1, yg, ys, five); break;
            }
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

static void x4_gemm_q5_0(int64_t n, const void *w, int64_t n_grp, size_t grp_bytes,
                         const void *xq, size_t xs, int32_t n_tok, float *y, size_t ys)
{
    x4_gemm(n, w, n_grp, grp_bytes, 2, xq, xs, n_tok, y, ys);
}

/* ---- Q6_K x4 (layout in repack.c): per super-block 4 d (F16), the
 * signed sub-block scales (sub-blocks 0..7 of the 4 rows, then 8..15), 8
 * chunks of low nibbles (chunk n: sub-block 2n low nibbles, 2n+1 high)
 * and 4 chunks of top bits (2 bits per value, for chunks 2h and 2h+1).
 * Values are used unsigned (0..63); the -32 offset enters as
 * -32 sum_j scale_j * (sum of the 16 activations of sub-block j), from the
 * Q8_K sub-block sums (two vpmaddwd per token and super-block). One group
 * x up to 8 tokens per call. ------------------------------------------- */

X4_ALWAYS_INLINE void x6k_tile(int64_t nb, const uint8_t *w, const uint8_t *xq, size_t xs, const int T,
                               float *y, size_t ys)
{
    const __m512i m4 = _mm512_set1_epi8(0x0f), m30 = _mm512_set1_epi8(0x30);
    /* lanes of row r (8 s16 each) pick s16 8 r + j */
    const __m512i rowsel = _mm512_set_epi64(0x0018001800180018LL, 0x0018001800180018LL,
                                            0x0010001000100010LL, 0x0010001000100010LL,
                                            0x0008000800080008LL, 0x0008000800080008LL, 0, 0);
    __m512 acc[X4K_TOK];
    for (int t = 0; t < T; t++) acc[t] = _mm512_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const uint8_t *b = w + (size_t)i * 840;
        for (int l = 0; l < 840; l += 64)
            _mm_prefetch((const char *)(b + 840 + l), _MM_HINT_T0);
        const __m512i sa = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(b + 8)));
        const __m512i sb = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(b + 40)));
        __m512i p[X4K_TOK], q[X4K_TOK];   /* two exact integer chains when T <= 4 (see x4k_tile) */
        for (int t = 0; t < T; t++) p[t] = q[t] = _mm512_setzero_si512();
        for (int n = 0; n < 8; n++) {
            const __m512i hb = _mm512_loadu_si512(b + 584 + 64 * (n / 2));
            const __m512i raw = _mm512_loadu_si512(b + 72 + 64 * n);
            __m512i lo = _mm512_and_si512(raw, m4), hi = _mm512_and_si512(_mm512_srli_epi16(raw, 4), m4);
            if (n % 2 == 0) {
                lo = _mm512_or_si512(lo, _mm512_and_si512(_mm512_slli_epi16(hb, 4), m30));
                hi = _mm512_or_si512(hi, _mm512_and_si512(_mm512_slli_epi16(hb, 2), m30));
            } else {
                lo = _mm512_or_si512(lo, _mm512_and_si512(hb, m30));
                hi = _mm512_or_si512(hi, _mm512_and_si512(_mm512_srli_epi16(hb, 2), m30));
            }
            const __m512i sx = n < 4 ? sa : sb;
            const int j = (2 * n) % 8;
            const __m512i s0 = _mm512_permutexvar_epi16(_mm512_add_epi16(rowsel, _mm512_set1_epi16((short)j)), sx);
            const __m512i s1 = _mm512_permutexvar_epi16(_mm512_add_epi16(rowsel, _mm512_set1_epi16((short)(j + 1))), sx);
            for (int t = 0; t < T; t++) {
                const hh_block_q8_K *a = (const hh_block_q8_K *)(xq + (size_t)t * xs) + i;
                const __m512i xl = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(a->qs + 32 * n)));
                const __m512i xh = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(a->qs + 32 * n + 16)));
                p[t] = _mm512_dpwssd_epi32(p[t], _mm512_maddubs_epi16(lo, xl), s0);
                if (T <= 4)
                    q[t] = _mm512_dpwssd_epi32(q[t], _mm512_maddubs_epi16(hi, xh), s1);
                else
                    p[t] = _mm512_dpwssd_epi32(p[t], _mm512_maddubs_epi16(hi, xh), s1);
            }
        }
        if (T <= 4)
            for (int t = 0; t < T; t++) p[t] = _mm512_add_epi32(p[t], q[t]);
        const __m512 dv = x4_scales(b);
        for (int t = 0; t < T; t++) {
            const hh_block_q8_K *a = (const hh_block_q8_K *)(xq + (size_t)t * xs) + i;
            const __m512i ba = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)a->bsums));
            const __m512i bb = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(a->bsums + 8)));
            const __m512i corr = _mm512_add_epi32(_mm512_madd_epi16(sa, ba), _mm512_madd_epi16(sb, bb));
            const __m512i tot = _mm512_sub_epi32(p[t], _mm512_slli_epi32(corr, 5));
            acc[t] = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(tot), dv), _mm512_set1_ps(a->d), acc[t]);
        }
    }
    for (int t = 0; t < T; t++) {
        float l[16];
        _mm512_storeu_ps(l, acc[t]);
        float *o = y + (size_t)t * ys;
        for (int r = 0; r < 4; r++)
            o[r] = (l[4 * r] + l[4 * r + 1]) + (l[4 * r + 2] + l[4 * r + 3]);
    }
}

static void x4_gemm_q6_K(int64_t n, const void *w, int64_t n_grp, size_t grp_bytes,
                         const void *xq, size_t xs, int32_t n_tok, float *y, size_t ys)
{
    const int64_t nb = n / HH_QK_K;
    for (int32_t t = 0; t < n_tok; t += X4K_TOK) {
        const int nt = n_tok - t < X4K_TOK ? n_tok - t : X4K_TOK;
        const uint8_t *xt = (const uint8_t *)xq + (size_t)t * xs;
        float *yt = y + (size_t)t * ys;
        for (int64_t g = 0; g < n_grp; g++) {
            const uint8_t *wg = (const uint8_t *)w + (size_t)g * grp_bytes;
            float *yg = yt + 4 * g;
            switch (nt) {
            case 8: x6k_tile(nb, wg, xt, xs, 8, yg, ys); break;
            case 7: x6k_tile(nb, wg, xt, xs, 7, yg, ys); break;
            case 6: x6k_tile(nb, wg, xt, xs, 6, yg, ys); break;
            case 5: x6k_tile(nb, wg, xt, xs, 5, yg, ys); break;
            case 4: x6k_tile(nb, wg, xt, xs, 4, yg, ys); break;
            case 3: x6k_tile(nb, wg, xt, xs, 3, yg, ys); break;
            case 2: x6k_tile(nb, wg, xt, xs, 2, yg, ys); break;
            default: x6k_tile(nb, wg, xt, xs, 1, yg, ys); break;
            }
        }
    }
}

void hh_qdot_x4_fill_avx512(hh_kernels_t *k)
{
    k->quant_x4 = x4_quant;
    k->gemm_x4[HH_TYPE_Q4_0] = x4_gemm_q4_0;
    k->gemm_x4[HH_TYPE_Q8_0] = x4_gemm_q8_0;
    k->gemm_x4[HH_TYPE_Q4_K] = x4_gemm_q4_K;
    k->gemm_x4[HH_TYPE_Q5_K] = x4_gemm_q5_K;
    /* Q5_K has no stored-layout qdot: this is the activation type of its
     * x4 kernel only (matmul.c reads it for x4 matrices) */
    k->act_type[HH_TYPE_Q5_K] = HH_TYPE_Q8_K;
    k->gemm_x4[HH_TYPE_Q5_0] = x4_gemm_q5_0;
    k->gemm_x4[HH_TYPE_Q6_K] = x4_gemm_q6_K;
}
