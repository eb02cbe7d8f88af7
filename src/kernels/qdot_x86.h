/* qdot_x86.h - private to qdot_avx2.c / qdot_avx512.c: the x86 quantized-
 * activation kernels (see qdot_ref.c for the math), written once over
 * 256-bit vectors. The including file defines HH_QDOT_VNNI: 1 uses the
 * AVX-512 VNNI forms (vpdpbusd / vpdpwssd on ymm, needs AVX512VL), 0 the
 * AVX2 sequences (maddubs + madd). HH_QDOT_SUFFIX names the fill function.
 *
 * Shapes: each kernel takes one weight row and nc (1..4) activation rows;
 * a weight block is unpacked once and multiplied into nc accumulators, so
 * prefill pays the unpacking once per 4 tokens. */
#ifndef HH_KERNELS_QDOT_X86_H
#define HH_KERNELS_QDOT_X86_H

#include "kernels/kernels_x86_int.h"

#include <immintrin.h>

#define HH_ALWAYS_INLINE static inline __attribute__((always_inline))

static inline float qx_h2f(hh_half h) { return _cvtsh_ss(h); }

/* acc + sums of 4 adjacent u8 * s8 products (no saturation with |s| <= 127
 * and u <= 128 in the AVX2 form: pairs stay below 2^15). */
HH_ALWAYS_INLINE __m256i qx_dp_u8s8(__m256i acc, __m256i u, __m256i s)
{
#if HH_QDOT_VNNI
    return _mm256_dpbusd_epi32(acc, u, s);
#else
    return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1)));
#endif
}

/* acc + sums of 2 adjacent s16 * s16 products. */
HH_ALWAYS_INLINE __m256i qx_dp_s16(__m256i acc, __m256i a, __m256i b)
{
#if HH_QDOT_VNNI
    return _mm256_dpwssd_epi32(acc, a, b);
#else
    return _mm256_add_epi32(acc, _mm256_madd_epi16(a, b));
#endif
}

static inline float qx_hsum(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline float qx_hmax(__m256 v)
{
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* 32 floats * id rounded to nearest-even, packed to 32 int8 in order. */
static inline __m256i qx_round32(const float *x, float id)
{
    const __m256 m = _mm256_set1_ps(id);
    __m256i v0 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x), m));
    __m256i v1 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 8), m));
    __m256i v2 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 16), m));
    __m256i v3 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 24), m));
    __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(v0, v1), _mm256_packs_epi32(v2, v3));
    return _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

static inline float qx_amax(const float *x, int n)
{
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 mx = _mm256_setzero_ps();
    for (int l = 0; l < n; l += 8)
        mx = _mm256_max_ps(mx, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + l)));
    return qx_hmax(mx);
}

static void qx_quant_q8_0(const float *x, void *y, int64_t n)
{
    hh_block_q8_0 *b = y;
    for (int64_t i = 0; i < n / HH_QK8_0; i++, b++, x += HH_QK8_0) {
        const float amax = qx_amax(x, HH_QK8_0);
        const float d = amax / 127.0f, id = amax > 0.0f ? 127.0f / amax : 0.0f;
        b->d = hh_f32_to_fp16(d);
        _mm256_storeu_si256((__m256i *)b->qs, qx_round32(x, id));
    }
}

static void qx_quant_q8_K(const float *x, void *y, int64_t n)
{
    hh_block_q8_K *b = y;
    for (int64_t i = 0; i < n / HH_QK_K; i++, b++, x += HH_QK_K) {
        const float amax = qx_amax(x, HH_QK_K);
        const float id = amax > 0.0f ? 127.0f / amax : 0.0f;
        b->d = amax / 127.0f;
        for (int g = 0; g < 8; g++) {
            __m256i q = qx_round32(x + 32 * g, id);
            _mm256_storeu_si256((__m256i *)(b->qs + 32 * g), q);
            /* sums of each 16 bytes: pairs, then 4s, then the two 8s per half */
            __m256i s = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), q), _mm256_set1_epi16(1));
            __m256i h = _mm256_hadd_epi32(s, s);   /* lanes: (0+1, 2+3, ..) per 128 */
            h = _mm256_hadd_epi32(h, h);
            b->bsums[2 * g] = (int16_t)_mm256_extract_epi32(h, 0);
            b->bsums[2 * g + 1] = (int16_t)_mm256_extract_epi32(h, 4);
        }
    }
}

/* ---- Q4_0 / Q5_0 / Q8_0: signed weights, sign trick (|w| * sign(w) x) ----------- */

/* Signed values and scale of weight block i; is_q4: 0 Q8_0, 1 Q4_0, 2 Q5_0, 3 MXFP4, 4 IQ4_NL. */
HH_ALWAYS_INLINE __m256i qx_q32_load(const uint8_t *wb, int is_q4, float *dw)
{
    if (is_q4 == 4) {   /* levels -127..113: |w| * |x| pairs stay below 2^15 */
        const hh_block_iq4_nl *b = (const hh_block_iq4_nl *)wb;
        *dw = qx_h2f(b->d);
        return hh_x86_bytes_iq4_nl(b);
    }
    if (is_q4 == 3) {
        const hh_block_mxfp4 *b = (const hh_block_mxfp4 *)wb;
        *dw = hh_e8m0_half(b->e);
        return hh_x86_bytes_mxfp4(b);
    }
    if (is_q4 == 2) {   /* Q5_0 */
        const hh_block_q5_0 *b = (const hh_block_q5_0 *)wb;
        *dw = qx_h2f(b->d);
        return _mm256_sub_epi8(_mm256_or_si256(hh_x86_nibbles(b->qs), hh_x86_bit5(b->qh)), _mm256_set1_epi8(16));
    }
    if (is_q4) {
        const hh_block_q4_0 *b = (const hh_block_q4_0 *)wb;
        *dw = qx_h2f(b->d);
        return _mm256_sub_epi8(hh_x86_nibbles(b->qs), _mm256_set1_epi8(8));
    }
    const hh_block_q8_0 *b = (const hh_block_q8_0 *)wb;
    *dw = qx_h2f(b->d);
    return _mm256_loadu_si256((const __m256i *)b->qs);
}

/* Two blocks per step into two accumulators per column, so consecutive
 * blocks do not wait on one chain of fused multiply-adds. */
HH_ALWAYS_INLINE void qx_q32_core(int64_t n, const void *w, size_t wblk, int is_q4,
                                  const uint8_t *xq, size_t xs, const int NC, float *out)
{
    __m256 acc[HH_QDOT_MAX_COLS][2];
    for (int c = 0; c < NC; c++) acc[c][0] = acc[c][1] = _mm256_setzero_ps();
    const uint8_t *wb = w;
    const int64_t nb = n / 32;
    int64_t i = 0;
    for (; i + 1 < nb; i += 2, wb += 2 * wblk) {
        float dw0, dw1;
        const __m256i q0 = qx_q32_load(wb, is_q4, &dw0), q1 = qx_q32_load(wb + wblk, is_q4, &dw1);
        const __m256i a0 = _mm256_sign_epi8(q0, q0), a1 = _mm256_sign_epi8(q1, q1);
        for (int c = 0; c < NC; c++) {
            const hh_block_q8_0 *a = (const hh_block_q8_0 *)(xq + (size_t)c * xs) + i;
            __m256i s0 = _mm256_sign_epi8(_mm256_loadu_si256((const __m256i *)a[0].qs), q0);
            __m256i s1 = _mm256_sign_epi8(_mm256_loadu_si256((const __m256i *)a[1].qs), q1);
            __m256i p0 = qx_dp_u8s8(_mm256_setzero_si256(), a0, s0);
            __m256i p1 = qx_dp_u8s8(_mm256_setzero_si256(), a1, s1);
            acc[c][0] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p0), _mm256_set1_ps(dw0 * qx_h2f(a[0].d)), acc[c][0]);
            acc[c][1] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p1), _mm256_set1_ps(dw1 * qx_h2f(a[1].d)), acc[c][1]);
        }
    }
    for (; i < nb; i++, wb += wblk) {
        float dw;
        const __m256i q = qx_q32_load(wb, is_q4, &dw);
        const __m256i aq = _mm256_sign_epi8(q, q);
        for (int c = 0; c < NC; c++) {
            const hh_block_q8_0 *a = (const hh_block_q8_0 *)(xq + (size_t)c * xs) + i;
            __m256i sx = _mm256_sign_epi8(_mm256_loadu_si256((const __m256i *)a->qs), q);
            __m256i p = qx_dp_u8s8(_mm256_setzero_si256(), aq, sx);
            acc[c][0] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(dw * qx_h2f(a->d)), acc[c][0]);
        }
    }
    for (int c = 0; c < NC; c++) out[c] = qx_hsum(_mm256_add_ps(acc[c][0], acc[c][1]));
}

static void qx_qdot_q4_0(int64_t n, const void *w, const void *xq, size_t xs, int nc, float *out)
{
    switch (nc) {
    case 4: qx_q32_core(n, w, sizeof(hh_block_q4_0), 1, xq, xs, 4, out); break;
    case 3: qx_q32_core(n, w, sizeof(hh_block_q4_0), 1, xq, xs, 3, out); break;
    case 2: qx_q32_core(n, w, sizeof(hh_block_q4_0), 1, xq, xs, 2, out); break;
    default: qx_q32_core(n, w, sizeof(hh_block_q4_0), 1, xq, xs, 1, out); break;
    }
}

static void qx_qdot_mxfp4(int64_t n, const void *w, const void *xq, size_t xs, int nc, float *out)
{
    switch (nc) {
    case 4: qx_q32_core(n, w, sizeof(hh_block_mxfp4), 3, xq, xs, 4, out); break;
    case 3: qx_q32_core(n, w, sizeof(hh_block_mxfp4), 3, xq, xs, 3, out); break;
    case 2: qx_q32_core(n, w, sizeof(hh_block_mxfp4), 3, xq, xs, 2, out); break;
    default: qx_q32_core(n, w, sizeof(hh_block_mxfp4), 3, xq, xs, 1, out); break;
    }
}

static void qx_qdot_iq4_nl(int64_t n, const void *w, const void *xq, size_t xs, int nc, float *out)
{
    switch (nc) {
    case 4: qx_q32_core(n, w, sizeof(hh_block_iq4_nl), 4, xq, xs, 4, out); break;
    case 3: qx_q32_core(n, w, sizeof(hh_block_iq4_nl), 4, xq, xs, 3, out); break;
    case 2: qx_q32_core(n, w, sizeof(hh_block_iq4_nl), 4, xq, xs, 2, out); break;
    default: qx_q32_core(n, w, sizeof(hh_block_iq4_nl), 4, xq, xs, 1, out); break;
    }
}

static void qx_qdot_q5_0(int64_t n, const void *w, const void *xq, size_t xs, int nc, float *out)
{
    switch (nc) {
    case 4: qx_q32_core(n, w, sizeof(hh_block_q5_0), 2, xq, xs, 4, out); break;
    case 3: qx_q32_core(n, w, sizeof(hh_block_q5_0), 2, xq, xs, 3, out); break;
    case 2: qx_q32_core(n, w, sizeof(hh_block_q5_0), 2, xq, xs, 2, out); break;
    default: qx_q32_core(n, w, sizeof(hh_block_q5_0), 2, xq, xs, 1, out); break;
    }
}

static void qx_qdot_q8_0(int64_t n, const void *w, const void *xq, size_t xs, int nc, float *out)
{
    switch (nc) {
    case 4: qx_q32_core(n, w, sizeof(hh_block_q8_0), 0, xq, xs, 4, out); break;
    case 3: qx_q32_core(n, w, sizeof(hh_block_q8_0), 0, xq, xs, 3, out); break;
    case 2: qx_q32_core(n, w, sizeof(hh_block_q8_0), 0, xq, xs, 2, out); break;
    default: qx_q32_core(n, w, sizeof(hh_block_q8_0), 0, xq, xs, 1, out); break;
    }
}

/* ---- Q4_K ------------------------------------------------------------------ */

HH_ALWAYS_INLINE void qx_q4K_core(int64_t n, const void *w, const uint8_t *xq, size_t xs, const int NC, float *out)
{
    __m256 acc[HH_QDOT_MAX_COLS];
    for (int c = 0; c < NC; c++) acc[c] = _mm256_setzero_ps();
    const hh_block_q4_K *b = w;
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    for (int64_t i = 0; i < n / HH_QK_K; i++, b++) {
        uint8_t sc[8], mn[8];
        for (int j = 0; j < 8; j++) hh_k4_scale_min(j, b->scales, &sc[j], &mn[j]);
        const float d = qx_h2f(b->d), dmin = qx_h2f(b->dmin);
        const __m256i mins = _mm256_setr_epi16(mn[0], mn[0], mn[1], mn[1], mn[2], mn[2], mn[3], mn[3],
                                               mn[4], mn[4], mn[5], mn[5], mn[6], mn[6], mn[7], mn[7]);
        __m256i p[HH_QDOT_MAX_COLS];
        for (int c = 0; c < NC; c++) p[c] = _mm256_setzero_si256();
        for (int k = 0; k < 4; k++) {
            const __m256i qb = _mm256_loadu_si256((const __m256i *)(b->qs + 32 * k));
            const __m256i lo = _mm256_and_si256(qb, m4);
            const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(qb, 4), m4);
            const __m256i s0 = _mm256_set1_epi16(sc[2 * k]), s1 = _mm256_set1_epi16(sc[2 * k + 1]);
            for (int c = 0; c < NC; c++) {
                const hh_block_q8_K *a = (const hh_block_q8_K *)(xq + (size_t)c * xs) + i;
                const __m256i x0 = _mm256_loadu_si256((const __m256i *)(a->qs + 64 * k));
                const __m256i x1 = _mm256_loadu_si256((const __m256i *)(a->qs + 64 * k + 32));
                p[c] = qx_dp_s16(p[c], _mm256_maddubs_epi16(lo, x0), s0);
                p[c] = qx_dp_s16(p[c], _mm256_maddubs_epi16(hi, x1), s1);
            }
        }
        for (int c = 0; c < NC; c++) {
            const hh_block_q8_K *a = (const hh_block_q8_K *)(xq + (size_t)c * xs) + i;
            const __m256i bs = _mm256_loadu_si256((const __m256i *)a->bsums);
            const __m256i pm = _mm256_madd_epi16(bs, mins);
            acc[c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p[c]), _mm256_set1_ps(a->d * d), acc[c]);
            acc[c] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(pm), _mm256_set1_ps(a->d * dmin), acc[c]);
        }
    }
    for (int c = 0; c < NC; c++) out[c] = qx_hsum(acc[c]);
}

static void qx_qdot_q4_K(int64_t n, const void *w, const void *xq, size_t xs, int nc, float *out)
{
    switch (nc) {
    case 4: qx_q4K_core(n, w, xq, xs, 4, out); break;
    case 3: qx_q4K_core(n, w, xq, xs, 3, out); break;
    case 2: qx_q4K_core(n, w, xq, xs, 2, out); break;
    default: qx_q4K_core(n, w, xq, xs, 1, out); break;
    }
}

/* ---- Q6_K ------------------------------------------------------------------ */

HH_ALWAYS_INLINE void qx_q6K_core(int64_t n, const void *w, const uint8_t *xq, size_t xs, const int NC, float *out)
{
    __m256 acc[HH_QDOT_MAX_COLS];
    for (int c = 0; c < NC; c++) acc[c] = _mm256_setzero_ps();
    const hh_block_q6_K *b = w;
    const __m256i m4 = _mm256_set1_epi8(0x0f), m2 = _mm256_set1_epi8(3);
    for (int64_t i = 0; i < n / HH_QK_K; i++, b++) {
        const float d = qx_h2f(b->d);
        /* 16 scales as int16 lanes (for the -32 correction through bsums) */
        const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)b->scales));
        __m256i p[HH_QDOT_MAX_COLS];
        for (int c = 0; c < NC; c++) p[c] = _mm256_setzero_si256();
        for (int h = 0; h < 2; h++) {
            const __m256i qh = _mm256_loadu_si256((const __m256i *)(b->qh + 32 * h));
            const __m256i ql0 = _mm256_loadu_si256((const __m256i *)(b->ql + 64 * h));
            const __m256i ql1 = _mm256_loadu_si256((const __m256i *)(b->ql + 64 * h + 32));
            for (int k = 0; k < 4; k++) {
                const int g = 4 * h + k;
                const __m256i ql = (k & 1) ? ql1 : ql0;
                const __m256i lo = (k >> 1) ? _mm256_and_si256(_mm256_srli_epi16(ql, 4), m4) : _mm256_and_si256(ql, m4);
                const __m256i hb = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * k), m2);
                const __m256i v = _mm256_or_si256(lo, _mm256_slli_epi16(hb, 4));
                const __m256i s = _mm256_setr_m128i(_mm_set1_epi16(b->scales[2 * g]), _mm_set1_epi16(b->scales[2 * g + 1]));
                for (int c = 0; c < NC; c++) {
                    const hh_block_q8_K *a = (const hh_block_q8_K *)(xq + (size_t)c * xs) + i;
                    const __m256i x = _mm256_loadu_si256((const __m256i *)(a->qs + 32 * g));
                    p[c] = qx_dp_s16(p[c], _mm256_maddubs_epi16(v, x), s);
                }
            }
        }
        for (int c = 0; c < NC; c++) {
            const hh_block_q8_K *a = (const hh_block_q8_K *)(xq + (size_t)c * xs) + i;
            const __m256i bs = _mm256_loadu_si256((const __m256i *)a->bsums);
            const __m256i corr = _mm256_slli_epi32(_mm256_madd_epi16(bs, sc16), 5);
            acc[c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(p[c], corr)), _mm256_set1_ps(a->d * d), acc[c]);
        }
    }
    for (int c = 0; c < NC; c++) out[c] = qx_hsum(acc[c]);
}

static void qx_qdot_q6_K(int64_t n, const void *w, const void *xq, size_t xs, int nc, float *out)
{
    switch (nc) {
    case 4: qx_q6K_core(n, w, xq, xs, 4, out); break;
    case 3: qx_q6K_core(n, w, xq, xs, 3, out); break;
    case 2: qx_q6K_core(n, w, xq, xs, 2, out); break;
    default: qx_q6K_core(n, w, xq, xs, 1, out); break;
    }
}

/* ---- IQ4_XS ---------------------------------------------------------------- */

/* Per sub-block: the sign trick gives u8 |w| times s8 sign(w) x, summed in
 * pairs to int16 (maddubs; |pair| <= 2 * 127 * 127 < 2^15), then times the
 * sub-block's signed scale into int32 lanes; one float product per
 * super-block, as qdot_ref.c. */
HH_ALWAYS_INLINE void qx_iq4xs_core(int64_t n, const void *w, const uint8_t *xq, size_t xs, const int NC, float *out)
{
    __m256 acc[HH_QDOT_MAX_COLS];
    for (int c = 0; c < NC; c++) acc[c] = _mm256_setzero_ps();
    const hh_block_iq4_xs *b = w;
    for (int64_t i = 0; i < n / HH_QK_K; i++, b++) {
        const float d = qx_h2f(b->d);
        __m256i p[HH_QDOT_MAX_COLS];
        for (int c = 0; c < NC; c++) p[c] = _mm256_setzero_si256();
        for (int j = 0; j < 8; j++) {
            const __m256i q = hh_x86_bytes_iq4_xs(b, j);
            const __m256i aq = _mm256_sign_epi8(q, q);
            const __m256i sc = _mm256_set1_epi16((short)hh_iq4xs_scale(b, j));
            for (int c = 0; c < NC; c++) {
                const hh_block_q8_K *a = (const hh_block_q8_K *)(xq + (size_t)c * xs) + i;
                const __m256i sx = _mm256_sign_epi8(_mm256_loadu_si256((const __m256i *)(a->qs + 32 * j)), q);
                p[c] = qx_dp_s16(p[c], _mm256_maddubs_epi16(aq, sx), sc);
            }
        }
        for (int c = 0; c < NC; c++) {
            const hh_block_q8_K *a = (const hh_block_q8_K *)(xq + (size_t)c * xs) + i;
            acc[c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p[c]), _mm256_set1_ps(a->d * d), acc[c]);
        }
    }
    for (int c = 0; c < NC; c++) out[c] = qx_hsum(acc[c]);
}

static void qx_qdot_iq4_xs(int64_t n, const void *w, const void *xq, size_t xs, int nc, float *out)
{
    switch (nc) {
    case 4: qx_iq4xs_core(n, w, xq, xs, 4, out); break;
    case 3: qx_iq4xs_core(n, w, xq, xs, 3, out); break;
    case 2: qx_iq4xs_core(n, w, xq, xs, 2, out); break;
    default: qx_iq4xs_core(n, w, xq, xs, 1, out); break;
    }
}

static inline void qx_fill(hh_kernels_t *k)
{
    k->quant_act[HH_TYPE_Q8_0] = qx_quant_q8_0;
    k->quant_act[HH_TYPE_Q8_K] = qx_quant_q8_K;
    k->qdot[HH_TYPE_Q4_0] = qx_qdot_q4_0;
    k->qdot[HH_TYPE_Q5_0] = qx_qdot_q5_0;
    k->qdot[HH_TYPE_Q8_0] = qx_qdot_q8_0;
    k->qdot[HH_TYPE_MXFP4] = qx_qdot_mxfp4;
    k->qdot[HH_TYPE_Q4_K] = qx_qdot_q4_K;
    k->qdot[HH_TYPE_Q6_K] = qx_qdot_q6_K;
    k->qdot[HH_TYPE_IQ4_NL] = qx_qdot_iq4_nl;
    k->qdot[HH_TYPE_IQ4_XS] = qx_qdot_iq4_xs;
}

#endif
