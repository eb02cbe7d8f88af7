/* quantize.c - scalar reference quantizers: one F32 row -> one row of a
 * block format (layouts in quant.h).
 *
 * The K-quant quantizers pick every sub-block's scale (and min) by a
 * weighted least-squares fit repeated over a sweep of candidate scales,
 * keep the candidate with the lowest weighted error, then quantize the
 * sub-block scales to 6 (Q4_K / Q5_K / Q3_K), 8 (Q6_K) or 4 (Q2_K) bits and
 * re-round the values against the scales actually stored. IQ4_NL / IQ4_XS
 * sweep candidate scales for each group of 32 with nearest-level codes and
 * a least-squares refit (see iq4_group_scale). Rounding of the
 * simple formats matches the reference encoders bit for bit (Q8_0: round
 * half away from zero against amax / 127). */
#include "kernels/quantize.h"

#include "base/log.h"
#include "base/threadpool.h"
#include "gguf/gguf.h"
#include "kernels/fp16.h"
#include "kernels/quant.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Sub-blocks whose largest |x| is below this are stored as zeros. */
#define HH_QGROUP_EPS 1e-15f

/* Round to nearest, ties to even (the current FP rounding mode). */
static inline int round_even(float f) { return (int)lrintf(f); }

static inline int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

static inline float half_to_f32(hh_half h) { return hh_fp16_to_f32(h); }

/* ---- 32-value block formats ---------------------------------------- */

static void quantize_q8_0(const float *x, hh_block_q8_0 *y, int64_t nb)
{
    for (int64_t b = 0; b < nb; b++, x += HH_QK8_0) {
        float amax = 0.0f;
        for (int j = 0; j < HH_QK8_0; j++)
            amax = fmaxf(amax, fabsf(x[j]));
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[b].d = hh_f32_to_fp16(d);
        for (int j = 0; j < HH_QK8_0; j++)
            y[b].qs[j] = (int8_t)roundf(x[j] * id);
    }
}

/* Value of largest magnitude, sign kept (the symmetric formats map it to -2^(bits-1)). */
static float signed_absmax(const float *x, int n)
{
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < n; j++) {
        if (fabsf(x[j]) > amax) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    }
    return max;
}

static void quantize_q4_0(const float *x, hh_block_q4_0 *y, int64_t nb)
{
    for (int64_t b = 0; b < nb; b++, x += HH_QK4_0) {
        const float d = signed_absmax(x, HH_QK4_0) / -8.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[b].d = hh_f32_to_fp16(d);
        for (int j = 0; j < HH_QK4_0 / 2; j++) {
            /* +8.5 then truncation: round half up on the offset grid 0..15 */
            int q0 = (int)(x[j] * id + 8.5f);
            int q1 = (int)(x[j + HH_QK4_0 / 2] * id + 8.5f);
            q0 = q0 > 15 ? 15 : q0;
            q1 = q1 > 15 ? 15 : q1;
            y[b].qs[j] = (uint8_t)(q0 | (q1 << 4));
        }
    }
}

static void minmax(const float *x, int n, float *mn, float *mx)
{
    float lo = x[0], hi = x[0];
    for (int j = 1; j < n; j++) {
        lo = fminf(lo, x[j]);
        hi = fmaxf(hi, x[j]);
    }
    *mn = lo;
    *mx = hi;
}

static void quantize_q4_1(const float *x, hh_block_q4_1 *y, int64_t nb)
{
    for (int64_t b = 0; b < nb; b++, x += HH_QK4_1) {
        float mn, mx;
        minmax(x, HH_QK4_1, &mn, &mx);
        const float d = (mx - mn) / 15.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[b].d = hh_f32_to_fp16(d);
        y[b].m = hh_f32_to_fp16(mn);
        for (int j = 0; j < HH_QK4_1 / 2; j++) {
            int q0 = (int)((x[j] - mn) * id + 0.5f);
            int q1 = (int)((x[j + HH_QK4_1 / 2] - mn) * id + 0.5f);
            q0 = q0 > 15 ? 15 : q0;
            q1 = q1 > 15 ? 15 : q1;
            y[b].qs[j] = (uint8_t)(q0 | (q1 << 4));
        }
    }
}

/* Packs 32 five-bit codes: low nibbles as Q4_0, bit 4 of element j in bit j of qh. */
static void pack_q5(const int *q, uint8_t qs[16], uint8_t qh[4])
{
    uint32_t h = 0;
    for (int j = 0; j < 16; j++) {
        qs[j] = (uint8_t)((q[j] & 0xF) | ((q[j + 16] & 0xF) << 4));
        h |= (uint32_t)((q[j] >> 4) & 1) << j;
        h |= (uint32_t)((q[j + 16] >> 4) & 1) << (j + 16);
    }
    for (int k = 0; k < 4; k++)
        qh[k] = (uint8_t)(h >> (8 * k));
}

static void quantize_q5_0(const float *x, hh_block_q5_0 *y, int64_t nb)
{
    int q[HH_QK5_0];
    for (int64_t b = 0; b < nb; b++, x += HH_QK5_0) {
        const float d = signed_absmax(x, HH_QK5_0) / -16.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[b].d = hh_f32_to_fp16(d);
        for (int j = 0; j < HH_QK5_0; j++) {
            int v = (int)(x[j] * id + 16.5f);
            q[j] = v > 31 ? 31 : v;
        }
        pack_q5(q, y[b].qs, y[b].qh);
    }
}

static void quantize_q5_1(const float *x, hh_block_q5_1 *y, int64_t nb)
{
    int q[HH_QK5_1];
    for (int64_t b = 0; b < nb; b++, x += HH_QK5_1) {
        float mn, mx;
        minmax(x, HH_QK5_1, &mn, &mx);
        const float d = (mx - mn) / 31.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[b].d = hh_f32_to_fp16(d);
        y[b].m = hh_f32_to_fp16(mn);
        for (int j = 0; j < HH_QK5_1; j++) {
            int v = (int)((x[j] - mn) * id + 0.5f);
            q[j] = v > 31 ? 31 : v;
        }
        pack_q5(q, y[b].qs, y[b].qh);
    }
}

/* ---- sub-block scale searches for the K-quants ---------------------- */

/* Symmetric grid x ~ s * l, l in [-nmax, nmax-1], weights x^2 (large values
 * matter most). Tries the scales that map the signed absmax to
 * -(nmax + 0.1 k), k = -9..9, fits s by least squares for each rounding and
 * keeps the one with the largest explained energy (sum wxl)^2 / sum wl^2,
 * i.e. the smallest weighted squared error. Writes L = l + nmax; returns s. */
static float search_symmetric(int n, int nmax, const float *x, uint8_t *L)
{
    const float max = signed_absmax(x, n);
    if (fabsf(max) < HH_QGROUP_EPS) {
        memset(L, 0, (size_t)n);
        return 0.0f;
    }
    float best_scale = 0.0f, best = 0.0f;
    bool have = false;
    for (int t = 0; t < 19; t++) {
        /* t = 0 is the plain absmax grid (k = 0, the baseline); then k = -9..-1, 1..9 */
        const int step = t == 0 ? 0 : (t <= 9 ? t - 10 : t - 9);
        const float iscale = -((float)nmax + 0.1f * (float)step) / max;
        float sumlx = 0.0f, suml2 = 0.0f;
        for (int i = 0; i < n; i++) {
            const int l = clampi(round_even(iscale * x[i]), -nmax, nmax - 1);
            const float w = x[i] * x[i];
            sumlx += w * x[i] * (float)l;
            suml2 += w * (float)l * (float)l;
        }
        if (suml2 <= 0.0f)
            continue;
        /* accept when sumlx^2 / suml2 beats the best so far (no division) */
        if (!have || sumlx * sumlx > best * suml2) {
            for (int i = 0; i < n; i++)
                L[i] = (uint8_t)(clampi(round_even(iscale * x[i]), -nmax, nmax - 1) + nmax);
            best_scale = sumlx / suml2;
            best = best_scale * sumlx;
            have = true;
        }
    }
    if (!have)
        memset(L, (uint8_t)nmax, (size_t)n);
    return best_scale;
}

/* Asymmetric grid x ~ s * l - m, l in [0, nmax], m >= 0, weighted by w.
 * Starts from the min/max grid, then for candidate scales
 * (nmax + rmin + rdelta * k) / (max - min), k = 0..nstep, rounds, solves the
 * 2x2 weighted least-squares system for (s, -m) (or s alone when the fitted
 * offset would be positive) and keeps the lowest error (squared, or absolute
 * if use_abs). Writes codes to L (aux: n bytes scratch), *neg_min = m;
 * returns s. */
static float search_affine(int n, int nmax, const float *x, const float *w, uint8_t *L,
                           uint8_t *aux, float *neg_min, float rmin, float rdelta, int nstep,
                           bool use_abs)
{
    float mn = x[0], mx = x[0];
    float sum_w = w[0], sum_x = w[0] * x[0];
    for (int i = 1; i < n; i++) {
        mn = fminf(mn, x[i]);
        mx = fmaxf(mx, x[i]);
        sum_w += w[i];
        sum_x += w[i] * x[i];
    }
    if (mn > 0.0f)
        mn = 0.0f;   /* the offset only ever subtracts */
    if (mx == mn) {
        memset(L, 0, (size_t)n);
        *neg_min = -mn;
        return 0.0f;
    }
    float iscale = (float)nmax / (mx - mn);
    float scale = 1.0f / iscale;
    float best_err = 0.0f;
    for (int i = 0; i < n; i++) {
        const int l = clampi(round_even(iscale * (x[i] - mn)), 0, nmax);
        L[i] = (uint8_t)l;
        const float diff = scale * (float)l + mn - x[i];
        best_err += w[i] * (use_abs ? fabsf(diff) : diff * diff);
    }
    for (int k = 0; k <= nstep; k++) {
        iscale = (rmin + rdelta * (float)k + (float)nmax) / (mx - mn);
        float sum_l = 0.0f, sum_l2 = 0.0f, sum_xl = 0.0f;
        for (int i = 0; i < n; i++) {
            const int l = clampi(round_even(iscale * (x[i] - mn)), 0, nmax);
            aux[i] = (uint8_t)l;
            sum_l += w[i] * (float)l;
            sum_l2 += w[i] * (float)l * (float)l;
            sum_xl += w[i] * (float)l * x[i];
        }
        const float det = sum_w * sum_l2 - sum_l * sum_l;
        if (det <= 0.0f)
            continue;
        float s = (sum_w * sum_xl - sum_x * sum_l) / det;
        float m = (sum_l2 * sum_x - sum_l * sum_xl) / det;
        if (m > 0.0f) {
            m = 0.0f;
            s = sum_xl / sum_l2;
        }
        float err = 0.0f;
        for (int i = 0; i < n; i++) {
            const float diff = s * (float)aux[i] + m - x[i];
            err += w[i] * (use_abs ? fabsf(diff) : diff * diff);
        }
        if (err < best_err) {
            memcpy(L, aux, (size_t)n);
            best_err = err;
            scale = s;
            mn = m;
        }
    }
    *neg_min = -mn;
    return scale;
}

/* Symmetric grid for Q3_K (l in [-nmax, nmax-1]): start from the absmax
 * rounding, then coordinate descent: move each l to its best value given
 * the others' least-squares scale, up to 5 sweeps, accepting a move only if
 * it raises (sum wxl)^2 / sum wl^2. Weights x^2. L = l + nmax; returns s. */
static float search_q3(int n, int nmax, const float *x, uint8_t *L)
{
    int l[16];
    const float max = signed_absmax(x, n);
    if (fabsf(max) < HH_QGROUP_EPS || n > 16) {
        memset(L, 0, (size_t)n);
        return 0.0f;
    }
    const float iscale = -(float)nmax / max;
    float sumlx = 0.0f, suml2 = 0.0f;
    for (int i = 0; i < n; i++) {
        l[i] = clampi(round_even(iscale * x[i]), -nmax, nmax - 1);
        const float w = x[i] * x[i];
        sumlx += w * x[i] * (float)l[i];
        suml2 += w * (float)l[i] * (float)l[i];
    }
    for (int sweep = 0; sweep < 5; sweep++) {
        int changed = 0;
        for (int i = 0; i < n; i++) {
            const float w = x[i] * x[i];
            float slx = sumlx - w * x[i] * (float)l[i];
            if (slx <= 0.0f)
                continue;
            float sl2 = suml2 - w * (float)l[i] * (float)l[i];
            const int nl = clampi(round_even(x[i] * sl2 / slx), -nmax, nmax - 1);
            if (nl == l[i])
                continue;
            slx += w * x[i] * (float)nl;
            sl2 += w * (float)nl * (float)nl;
            if (sl2 > 0.0f && slx * slx * suml2 > sumlx * sumlx * sl2) {
                l[i] = nl;
                sumlx = slx;
                suml2 = sl2;
                changed++;
            }
        }
        if (!changed)
            break;
    }
    for (int i = 0; i < n; i++)
        L[i] = (uint8_t)(l[i] + nmax);
    return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

/* ---- K-quants -------------------------------------------------------- */

/* Packs 2-bit codes of 256 values: byte l of each 32-byte group of 128
 * values holds elements l, l+32, l+64, l+96 in bit pairs 0..7. */
static void pack_2bit(const uint8_t *L, uint8_t *qs)
{
    for (int g = 0; g < HH_QK_K; g += 128, qs += 32)
        for (int l = 0; l < 32; l++)
            qs[l] = (uint8_t)((L[g + l] & 3) | ((L[g + l + 32] & 3) << 2) |
                              ((L[g + l + 64] & 3) << 4) | ((L[g + l + 96] & 3) << 6));
}

static void quantize_q2_k(const float *x, hh_block_q2_K *y, int64_t nb)
{
    uint8_t L[HH_QK_K], aux[16];
    float w[16], scales[16], mins[16];
    for (int64_t b = 0; b < nb; b++, x += HH_QK_K) {
        float max_scale = 0.0f, max_min = 0.0f;
        for (int j = 0; j < 16; j++) {
            for (int i = 0; i < 16; i++)
                w[i] = fabsf(x[16 * j + i]);
            scales[j] = search_affine(16, 3, x + 16 * j, w, L + 16 * j, aux, &mins[j],
                                      -0.5f, 0.1f, 15, true);
            max_scale = fmaxf(max_scale, scales[j]);
            max_min = fmaxf(max_min, mins[j]);
        }
        memset(y[b].scales, 0, sizeof y[b].scales);
        y[b].d = hh_f32_to_fp16(0.0f);
        y[b].dmin = hh_f32_to_fp16(0.0f);
        if (max_scale > 0.0f) {
            const float is = 15.0f / max_scale;
            for (int j = 0; j < 16; j++)
                y[b].scales[j] = (uint8_t)clampi(round_even(is * scales[j]), 0, 15);
            y[b].d = hh_f32_to_fp16(max_scale / 15.0f);
        }
        if (max_min > 0.0f) {
            const float is = 15.0f / max_min;
            for (int j = 0; j < 16; j++)
                y[b].scales[j] |= (uint8_t)(clampi(round_even(is * mins[j]), 0, 15) << 4);
            y[b].dmin = hh_f32_to_fp16(max_min / 15.0f);
        }
        const float d = half_to_f32(y[b].d), dmin = half_to_f32(y[b].dmin);
        for (int j = 0; j < 16; j++) {
            const float dj = d * (float)(y[b].scales[j] & 0xF);
            if (dj == 0.0f)
                continue;
            const float mj = dmin * (float)(y[b].scales[j] >> 4);
            for (int i = 0; i < 16; i++)
                L[16 * j + i] = (uint8_t)clampi(round_even((x[16 * j + i] + mj) / dj), 0, 3);
        }
        pack_2bit(L, y[b].qs);
    }
}

/* Q3_K stores 16 six-bit scales (offset 32): low nibbles in bytes 0..7
 * (sub-blocks 0..7 low, 8..15 high nibble), top 2 bits in bytes 8..11. */
static int q3_scale_get(const uint8_t *s, int j)
{
    const int lo = j < 8 ? (s[j] & 0xF) : (s[j - 8] >> 4);
    const int hi = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
    return (lo | (hi << 4)) - 32;
}

static void quantize_q3_k(const float *x, hh_block_q3_K *y, int64_t nb)
{
    uint8_t L[HH_QK_K];
    float scales[16];
    for (int64_t b = 0; b < nb; b++, x += HH_QK_K) {
        float max_scale = 0.0f, amax = 0.0f;
        for (int j = 0; j < 16; j++) {
            scales[j] = search_q3(16, 4, x + 16 * j, L + 16 * j);
            if (fabsf(scales[j]) > amax) {
                amax = fabsf(scales[j]);
                max_scale = scales[j];
            }
        }
        memset(y[b].scales, 0, sizeof y[b].scales);
        memset(y[b].hmask, 0, sizeof y[b].hmask);
        if (max_scale != 0.0f) {
            const float is = -32.0f / max_scale;
            for (int j = 0; j < 16; j++) {
                const int l = clampi(round_even(is * scales[j]), -32, 31) + 32;
                if (j < 8)
                    y[b].scales[j] = (uint8_t)(l & 0xF);
                else
                    y[b].scales[j - 8] |= (uint8_t)((l & 0xF) << 4);
                y[b].scales[8 + j % 4] |= (uint8_t)((l >> 4) << (2 * (j / 4)));
            }
            y[b].d = hh_f32_to_fp16(1.0f / is);
        } else {
            y[b].d = hh_f32_to_fp16(0.0f);
        }
        const float d = half_to_f32(y[b].d);
        for (int j = 0; j < 16; j++) {
            const float dj = d * (float)q3_scale_get(y[b].scales, j);
            if (dj == 0.0f)
                continue;
            for (int i = 0; i < 16; i++)
                L[16 * j + i] = (uint8_t)(clampi(round_even(x[16 * j + i] / dj), -4, 3) + 4);
        }
        /* bit 2 of code i goes to hmask[i % 32] bit i / 32 (set = no -4 offset) */
        for (int i = 0; i < HH_QK_K; i++) {
            if (L[i] > 3) {
                y[b].hmask[i % 32] |= (uint8_t)(1u << (i / 32));
                L[i] -= 4;
            }
        }
        pack_2bit(L, y[b].qs);
    }
}

/* Q4_K / Q5_K: 8 six-bit scales and 8 six-bit mins in 12 bytes. Sub-blocks
 * 0..3: bytes j (scale) and j+4 (min), low 6 bits. 4..7: low nibbles in
 * byte j+4, top 2 bits in the spare bits 6..7 of bytes j-4 (scale) and j (min). */
static void k4_scales_pack(uint8_t *q, const int *ls, const int *lm)
{
    memset(q, 0, HH_K_SCALE_SIZE);
    for (int j = 0; j < 8; j++) {
        if (j < 4) {
            q[j] |= (uint8_t)ls[j];
            q[j + 4] |= (uint8_t)lm[j];
        } else {
            q[j + 4] = (uint8_t)((ls[j] & 0xF) | ((lm[j] & 0xF) << 4));
            q[j - 4] |= (uint8_t)((ls[j] >> 4) << 6);
            q[j] |= (uint8_t)((lm[j] >> 4) << 6);
        }
    }
}

static void k4_scales_get(const uint8_t *q, int j, int *sc, int *m)
{
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
        *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

/* Shared Q4_K / Q5_K encoder core: fills d, dmin, scales and the codes L
 * (0..nmax) of one super-block. Weights: rms of the sub-block + |x|. */
static void k4_encode(const float *x, int nmax, float rmin, int nstep, hh_half *d_out,
                      hh_half *dmin_out, uint8_t *packed_scales, uint8_t *L)
{
    float w[32], scales[8], mins[8];
    uint8_t aux[32];
    int ls[8], lm[8];
    float max_scale = 0.0f, max_min = 0.0f;
    for (int j = 0; j < 8; j++) {
        float sum_x2 = 0.0f;
        for (int i = 0; i < 32; i++)
            sum_x2 += x[32 * j + i] * x[32 * j + i];
        const float av = sqrtf(sum_x2 / 32.0f);
        for (int i = 0; i < 32; i++)
            w[i] = av + fabsf(x[32 * j + i]);
        scales[j] = search_affine(32, nmax, x + 32 * j, w, L + 32 * j, aux, &mins[j], rmin,
                                  0.1f, nstep, false);
        max_scale = fmaxf(max_scale, scales[j]);
        max_min = fmaxf(max_min, mins[j]);
    }
    const float is = max_scale > 0.0f ? 63.0f / max_scale : 0.0f;
    const float im = max_min > 0.0f ? 63.0f / max_min : 0.0f;
    for (int j = 0; j < 8; j++) {
        ls[j] = clampi(round_even(is * scales[j]), 0, 63);
        lm[j] = clampi(round_even(im * mins[j]), 0, 63);
    }
    k4_scales_pack(packed_scales, ls, lm);
    *d_out = hh_f32_to_fp16(max_scale / 63.0f);
    *dmin_out = hh_f32_to_fp16(max_min / 63.0f);
    const float d = half_to_f32(*d_out), dmin = half_to_f32(*dmin_out);
    for (int j = 0; j < 8; j++) {
        int sc, m;
        k4_scales_get(packed_scales, j, &sc, &m);
        const float dj = d * (float)sc;
        if (dj == 0.0f)
            continue;
        const float mj = dmin * (float)m;
        for (int i = 0; i < 32; i++)
            L[32 * j + i] = (uint8_t)clampi(round_even((x[32 * j + i] + mj) / dj), 0, nmax);
    }
}

static void quantize_q4_k(const float *x, hh_block_q4_K *y, int64_t nb)
{
    uint8_t L[HH_QK_K];
    for (int64_t b = 0; b < nb; b++, x += HH_QK_K) {
        k4_encode(x, 15, -1.0f, 20, &y[b].d, &y[b].dmin, y[b].scales, L);
        /* each 64 values: 32 bytes, element l in the low nibble, l+32 in the high */
        uint8_t *q = y[b].qs;
        for (int g = 0; g < HH_QK_K; g += 64, q += 32)
            for (int l = 0; l < 32; l++)
                q[l] = (uint8_t)(L[g + l] | (L[g + l + 32] << 4));
    }
}

static void quantize_q5_k(const float *x, hh_block_q5_K *y, int64_t nb)
{
    uint8_t L[HH_QK_K];
    for (int64_t b = 0; b < nb; b++, x += HH_QK_K) {
        k4_encode(x, 31, -0.5f, 15, &y[b].d, &y[b].dmin, y[b].scales, L);
        memset(y[b].qh, 0, sizeof y[b].qh);
        /* low nibbles as Q4_K; bit 4 of element g+l in qh[l] bit 2*(g/64),
         * of element g+l+32 in bit 2*(g/64)+1 */
        uint8_t *q = y[b].qs;
        for (int g = 0; g < HH_QK_K; g += 64, q += 32) {
            const int bit = 2 * (g / 64);
            for (int l = 0; l < 32; l++) {
                const int a = L[g + l], c = L[g + l + 32];
                y[b].qh[l] |= (uint8_t)(((a >> 4) << bit) | ((c >> 4) << (bit + 1)));
                q[l] = (uint8_t)((a & 0xF) | ((c & 0xF) << 4));
            }
        }
    }
}

static void quantize_q6_k(const float *x, hh_block_q6_K *y, int64_t nb)
{
    uint8_t L[HH_QK_K];
    float scales[16];
    for (int64_t b = 0; b < nb; b++, x += HH_QK_K) {
        float max_scale = 0.0f, amax = 0.0f;
        for (int j = 0; j < 16; j++) {
            scales[j] = search_symmetric(16, 32, x + 16 * j, L + 16 * j);
            if (fabsf(scales[j]) > amax) {
                amax = fabsf(scales[j]);
                max_scale = scales[j];
            }
        }
        if (amax < HH_QGROUP_EPS) {
            memset(&y[b], 0, sizeof y[b]);
            continue;
        }
        const float is = -128.0f / max_scale;
        y[b].d = hh_f32_to_fp16(1.0f / is);
        for (int j = 0; j < 16; j++)
            y[b].scales[j] = (int8_t)clampi(round_even(is * scales[j]), -128, 127);
        const float d = half_to_f32(y[b].d);
        for (int j = 0; j < 16; j++) {
            const float dj = d * (float)y[b].scales[j];
            if (dj == 0.0f)
                continue;
            for (int i = 0; i < 16; i++)
                L[16 * j + i] = (uint8_t)(clampi(round_even(x[16 * j + i] / dj), -32, 31) + 32);
        }
        /* per 128 values: ql holds low nibbles of l, l+32 (bytes 0..31, 32..63
         * low) and l+64, l+96 (their high nibbles); qh[l] the 2-bit tops of all four */
        uint8_t *ql = y[b].ql, *qh = y[b].qh;
        for (int g = 0; g < HH_QK_K; g += 128, ql += 64, qh += 32) {
            for (int l = 0; l < 32; l++) {
                const int q1 = L[g + l], q2 = L[g + l + 32], q3 = L[g + l + 64], q4 = L[g + l + 96];
                ql[l] = (uint8_t)((q1 & 0xF) | ((q3 & 0xF) << 4));
                ql[l + 32] = (uint8_t)((q2 & 0xF) | ((q4 & 0xF) << 4));
                qh[l] = (uint8_t)((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6));
            }
        }
    }
}

/* ---- IQ4: 4-bit codes into the non-linear table (hh_iq4_value) ---------- */

/* Code of the table level nearest to v (levels ascending; ties to the lower). */
static int iq4_nearest(float v)
{
    static const float mid[15] = { -115.5f, -93.5f, -74.0f, -57.0f, -42.0f, -28.5f, -16.0f, -4.5f,
                                   7.0f, 19.0f, 31.5f, 45.5f, 61.0f, 79.0f, 101.0f };
    int lo = 0, hi = 15;   /* answer in [lo, hi] */
    while (lo < hi) {
        int m = (lo + hi) / 2;
        if (v > mid[m]) lo = m + 1;
        else hi = m;
    }
    return lo;
}

/* Scale of a group of 32 for the IQ4 table: the value of largest magnitude
 * is tried on levels near either end of the table (-127 .. -115 and 101 ..
 * 113); each candidate assigns the nearest codes, then the least-squares
 * scale for those codes (sum x L / sum L^2) is kept if its squared error is
 * the smallest. Returns 0 for an all-zero (or negligible) group. */
static float iq4_group_scale(const float *x)
{
    float amax = 0.0f, vmax = 0.0f;
    for (int l = 0; l < 32; l++)
        if (fabsf(x[l]) > amax) { amax = fabsf(x[l]); vmax = x[l]; }
    if (amax < HH_QGROUP_EPS)
        return 0.0f;
    float best_d = 0.0f, best_err = INFINITY;
    for (int c = 0; c < 26; c++) {
        const float level = c < 13 ? -127.0f + (float)c : 113.0f - (float)(c - 13);
        const float id = level / vmax;
        float sxl = 0.0f, sll = 0.0f;
        for (int l = 0; l < 32; l++) {
            const float q = (float)hh_iq4_value((unsigned)iq4_nearest(x[l] * id));
            sxl += x[l] * q;
            sll += q * q;
        }
        const float d = sll > 0.0f ? sxl / sll : 0.0f;
        if (d == 0.0f)
            continue;
        float err = 0.0f;
        for (int l = 0; l < 32; l++) {
            const float e = x[l] - d * (float)hh_iq4_value((unsigned)iq4_nearest(x[l] / d));
            err += e * e;
        }
        if (err < best_err) { best_err = err; best_d = d; }
    }
    return best_d;
}

/* Codes of 32 values against the stored scale d, packed as IQ4_NL nibbles. */
static void iq4_pack(const float *x, float d, uint8_t qs[16])
{
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    for (int l = 0; l < 16; l++) {
        const int lo = iq4_nearest(x[l] * id), hi = iq4_nearest(x[l + 16] * id);
        qs[l] = (uint8_t)(lo | (hi << 4));
    }
}

static void quantize_iq4_nl(const float *x, hh_block_iq4_nl *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, x += HH_QK4_NL) {
        y[i].d = hh_f32_to_fp16(iq4_group_scale(x));
        iq4_pack(x, half_to_f32(y[i].d), y[i].qs);
    }
}

/* IQ4_XS: each sub-block's own best scale s_j, then d = -s_max / 32 (s_max
 * the s_j of largest magnitude, so it lands on -32 exactly), 6-bit signed
 * sub-scales round(s_j / d) clamped to -32..31, and the codes re-chosen
 * against the scales as stored (d as F16, d * ls). */
static void quantize_iq4_xs(const float *x, hh_block_iq4_xs *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, x += HH_QK_K) {
        float s[8], smax = 0.0f;
        for (int j = 0; j < 8; j++) {
            s[j] = iq4_group_scale(x + 32 * j);
            if (fabsf(s[j]) > fabsf(smax)) smax = s[j];
        }
        hh_block_iq4_xs *b = &y[i];
        memset(b, 0, sizeof *b);
        b->d = hh_f32_to_fp16(-smax / 32.0f);
        const float d = half_to_f32(b->d), id = d != 0.0f ? 1.0f / d : 0.0f;
        for (int j = 0; j < 8; j++) {
            const int ls = clampi(round_even(s[j] * id), -32, 31) + 32;
            b->scales_l[j >> 1] |= (uint8_t)((ls & 0x0f) << (4 * (j & 1)));
            b->scales_h |= (uint16_t)(((ls >> 4) & 3) << (2 * j));
            iq4_pack(x + 32 * j, d * (float)(ls - 32), b->qs + 16 * j);
        }
    }
}

/* ---- dispatch ----------------------------------------------------------- */

bool hh_quantize_supported(uint32_t type)
{
    switch (type) {
    case HH_TYPE_F32: case HH_TYPE_F16: case HH_TYPE_BF16:
    case HH_TYPE_Q8_0: case HH_TYPE_Q4_0: case HH_TYPE_Q4_1: case HH_TYPE_Q5_0: case HH_TYPE_Q5_1:
    case HH_TYPE_Q2_K: case HH_TYPE_Q3_K: case HH_TYPE_Q4_K: case HH_TYPE_Q5_K: case HH_TYPE_Q6_K:
    case HH_TYPE_IQ4_NL: case HH_TYPE_IQ4_XS:
        return true;
    default:
        return false;
    }
}

int hh_quantize_row(uint32_t type, const float *src, void *dst, int64_t n)
{
    if (!src || !dst || n < 0)
        return HH_EINVAL;
    if (!hh_quantize_supported(type))
        return HH_EUNSUPPORTED;
    const hh_type_traits_t *t = hh_type_traits(type);
    if (!t || t->blck <= 0 || n % t->blck != 0)
        return HH_EINVAL;
    const int64_t nb = n / t->blck;
    switch (type) {
    case HH_TYPE_F32:
        memcpy(dst, src, (size_t)n * sizeof(float));
        break;
    case HH_TYPE_F16: {
        uint16_t *h = dst;
        for (int64_t i = 0; i < n; i++)
            h[i] = hh_f32_to_fp16(src[i]);
        break;
    }
    case HH_TYPE_BF16: {
        uint16_t *h = dst;
        for (int64_t i = 0; i < n; i++)
            h[i] = hh_f32_to_bf16(src[i]);
        break;
    }
    case HH_TYPE_Q8_0: quantize_q8_0(src, dst, nb); break;
    case HH_TYPE_Q4_0: quantize_q4_0(src, dst, nb); break;
    case HH_TYPE_Q4_1: quantize_q4_1(src, dst, nb); break;
    case HH_TYPE_Q5_0: quantize_q5_0(src, dst, nb); break;
    case HH_TYPE_Q5_1: quantize_q5_1(src, dst, nb); break;
    case HH_TYPE_Q2_K: quantize_q2_k(src, dst, nb); break;
    case HH_TYPE_Q3_K: quantize_q3_k(src, dst, nb); break;
    case HH_TYPE_Q4_K: quantize_q4_k(src, dst, nb); break;
    case HH_TYPE_Q5_K: quantize_q5_k(src, dst, nb); break;
    case HH_TYPE_Q6_K: quantize_q6_k(src, dst, nb); break;
    case HH_TYPE_IQ4_NL: quantize_iq4_nl(src, dst, nb); break;
    case HH_TYPE_IQ4_XS: quantize_iq4_xs(src, dst, nb); break;
    default: return HH_EUNSUPPORTED;
    }
    return HH_OK;
}

/* ---- mixtures and tensor types ---------------------------------------- */

/* llama.cpp LLAMA_FTYPE values (general.file_type). */
enum {
    FT_ALL_F32 = 0, FT_F16 = 1, FT_Q4_0 = 2, FT_Q4_1 = 3, FT_Q8_0 = 7, FT_Q5_0 = 8,
    FT_Q5_1 = 9, FT_Q2_K = 10, FT_Q3_K_S = 11, FT_Q3_K_M = 12, FT_Q3_K_L = 13,
    FT_Q4_K_S = 14, FT_Q4_K_M = 15, FT_Q5_K_S = 16, FT_Q5_K_M = 17, FT_Q6_K = 18,
    FT_IQ4_NL = 25, FT_IQ4_XS = 30, FT_BF16 = 32,
};

static const hh_quant_mix_t g_mixes[] = {
    { "f32",    HH_TYPE_F32,  FT_ALL_F32 },
    { "f16",    HH_TYPE_F16,  FT_F16 },
    { "bf16",   HH_TYPE_BF16, FT_BF16 },
    { "q8_0",   HH_TYPE_Q8_0, FT_Q8_0 },
    { "q4_0",   HH_TYPE_Q4_0, FT_Q4_0 },
    { "q4_1",   HH_TYPE_Q4_1, FT_Q4_1 },
    { "q5_0",   HH_TYPE_Q5_0, FT_Q5_0 },
    { "q5_1",   HH_TYPE_Q5_1, FT_Q5_1 },
    { "q2_k",   HH_TYPE_Q2_K, FT_Q2_K },
    { "q3_k_s", HH_TYPE_Q3_K, FT_Q3_K_S },
    { "q3_k_m", HH_TYPE_Q3_K, FT_Q3_K_M },
    { "q3_k",   HH_TYPE_Q3_K, FT_Q3_K_M },
    { "q3_k_l", HH_TYPE_Q3_K, FT_Q3_K_L },
    { "q4_k_s", HH_TYPE_Q4_K, FT_Q4_K_S },
    { "q4_k",   HH_TYPE_Q4_K, FT_Q4_K_S },
    { "q4_k_m", HH_TYPE_Q4_K, FT_Q4_K_M },
    { "q5_k_s", HH_TYPE_Q5_K, FT_Q5_K_S },
    { "q5_k",   HH_TYPE_Q5_K, FT_Q5_K_S },
    { "q5_k_m", HH_TYPE_Q5_K, FT_Q5_K_M },
    { "q6_k",   HH_TYPE_Q6_K, FT_Q6_K },
    { "iq4_nl", HH_TYPE_IQ4_NL, FT_IQ4_NL },
    { "iq4_xs", HH_TYPE_IQ4_XS, FT_IQ4_XS },
};

const hh_quant_mix_t *hh_quant_mix_find(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < sizeof g_mixes / sizeof g_mixes[0]; i++)
        if (!strcasecmp(g_mixes[i].name, name))
            return &g_mixes[i];
    return NULL;
}

const char *hh_quant_mix_names(void)
{
    return "f32 f16 bf16 q8_0 q4_0 q4_1 q5_0 q5_1 q2_k q3_k(=q3_k_m) q3_k_s q3_k_m q3_k_l "
           "q4_k(=q4_k_s) q4_k_s q4_k_m q5_k(=q5_k_s) q5_k_s q5_k_m q6_k iq4_nl iq4_xs";
}

static bool ends_with(const char *s, const char *suffix)
{
    const size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !memcmp(s + n - m, suffix, m);
}

static bool is_quantized_type(uint32_t t)
{
    return t != HH_TYPE_F32 && t != HH_TYPE_F16 && t != HH_TYPE_BF16 && t != HH_TYPE_F64 &&
           !(t >= HH_TYPE_I8 && t <= HH_TYPE_I64);
}

/* llama.cpp's "more bits" layers: the first and last eighth, and every third in between. */
static bool more_bits_layer(int i, int n)
{
    return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
}

/* Type for a row length that the chosen type cannot hold. */
static uint32_t fallback_type(uint32_t t, int64_t ncols)
{
    const hh_type_traits_t *tr = hh_type_traits(t);
    if (tr && tr->blck > 0 && ncols % tr->blck == 0)
        return t;
    uint32_t f;
    switch (t) {
    case HH_TYPE_Q2_K: case HH_TYPE_Q3_K: f = HH_TYPE_Q4_0; break;
    case HH_TYPE_Q4_K: f = HH_TYPE_Q5_0; break;
    case HH_TYPE_Q5_K: f = HH_TYPE_Q5_1; break;
    case HH_TYPE_Q6_K: f = HH_TYPE_Q8_0; break;
    case HH_TYPE_IQ4_XS: f = HH_TYPE_IQ4_NL; break;
    default: f = HH_TYPE_F16; break;
    }
    if (ncols % hh_type_traits(f)->blck != 0)
        f = HH_TYPE_F16;
    return f;
}

/* Mixture rules (llama.cpp's llama_tensor_get_type for these ftypes, dense
 * non-Falcon models):
 *   output.weight (token_embd.weight if tied): Q6_K for every quantized mix
 *     but q8_0 (row length not a multiple of 256: Q8_0).
 *   attn_v:   q2_k: Q4_K if n_gqa >= 4 else Q3_K; iq4_nl / iq4_xs: Q5_K if
 *             n_gqa >= 4; q3_k_m: Q5_K in layers
 *             0-1, else Q4_K; q3_k_l: Q5_K; q4_k_m / q5_k_m: Q6_K in
 *             more-bits layers; q4_k_s: Q5_K in layers 0-3.
 *   ffn_down: q2_k: Q3_K; q3_k_m: Q5_K if layer < n/16 else Q4_K;
 *             iq4_nl / iq4_xs: Q5_K if layer < n/8;
 *             q3_k_l: Q5_K; q4_k_m / q5_k_m: Q6_K in more-bits layers;
 *             q4_k_s: Q5_K if layer < n/8.
 *   attn_output: q2_k: Q3_K; q3_k_m: Q4_K; q3_k_l: Q5_K.
 *   everything else: the base type (token_embd included). */
uint32_t hh_quant_tensor_type(const hh_quant_mix_t *mix, bool pure, const char *name,
                              uint32_t n_dims, const int64_t *ne, uint32_t src_type,
                              int layer, int n_layer, bool has_output, int n_gqa)
{
    /* 3-D: stacked expert matrices (ffn_*_exps), quantized row by row like
     * 2-D ones; the router (ffn_gate_inp) stays as it is, as in llama.cpp */
    const bool experts = n_dims == 3 && name && strstr(name, "_exps.weight");
    if (!mix || !name || !ne || (n_dims != 2 && !experts) || !ends_with(name, "weight") ||
        strstr(name, "_norm.weight") || strstr(name, "ffn_gate_inp."))
        return src_type;
    uint32_t t = mix->base_type;
    if (!is_quantized_type(t))
        return t;   /* f32 / f16 / bf16: no mixture rules, every row length fits */
    const uint32_t ft = mix->ftype;
    if (!pure) {
        const bool is_output = !strcmp(name, "output.weight") ||
                               (!has_output && !strcmp(name, "token_embd.weight"));
        if (is_output) {
            if (ne[0] % HH_QK_K != 0)
                t = HH_TYPE_Q8_0;
            else if (t != HH_TYPE_Q8_0)
                t = HH_TYPE_Q6_K;
        } else if (strstr(name, "attn_v.weight")) {
            if (ft == FT_Q2_K)
                t = n_gqa >= 4 ? HH_TYPE_Q4_K : HH_TYPE_Q3_K;
            else if ((ft == FT_IQ4_NL || ft == FT_IQ4_XS) && n_gqa >= 4)
                t = HH_TYPE_Q5_K;
            else if (ft == FT_Q3_K_M)
                t = layer >= 0 && layer < 2 ? HH_TYPE_Q5_K : HH_TYPE_Q4_K;
            else if (ft == FT_Q3_K_L)
                t = HH_TYPE_Q5_K;
            else if ((ft == FT_Q4_K_M || ft == FT_Q5_K_M) && layer >= 0 && more_bits_layer(layer, n_layer))
                t = HH_TYPE_Q6_K;
            else if (ft == FT_Q4_K_S && layer >= 0 && layer < 4)
                t = HH_TYPE_Q5_K;
        } else if (strstr(name, "ffn_down")) {
            if (ft == FT_Q2_K)
                t = HH_TYPE_Q3_K;
            else if (ft == FT_Q3_K_M)
                t = layer >= 0 && layer < n_layer / 16 ? HH_TYPE_Q5_K : HH_TYPE_Q4_K;
            else if (ft == FT_Q3_K_L)
                t = HH_TYPE_Q5_K;
            else if ((ft == FT_Q4_K_M || ft == FT_Q5_K_M) && layer >= 0 && more_bits_layer(layer, n_layer))
                t = HH_TYPE_Q6_K;
            else if ((ft == FT_IQ4_NL || ft == FT_IQ4_XS) && layer >= 0 && layer < n_layer / 8)
                t = HH_TYPE_Q5_K;
            else if (ft == FT_Q4_K_S && layer >= 0 && layer < n_layer / 8)
                t = HH_TYPE_Q5_K;
        } else if (strstr(name, "attn_output.weight")) {
            if (ft == FT_Q2_K)
                t = HH_TYPE_Q3_K;
            else if (ft == FT_Q3_K_M)
                t = HH_TYPE_Q4_K;
            else if (ft == FT_Q3_K_L)
                t = HH_TYPE_Q5_K;
        }
    }
    return fallback_type(t, ne[0]);
}

/* ---- whole-file quantization -------------------------------------------- */

hh_quantize_params_t hh_quantize_default_params(void)
{
    hh_quantize_params_t p = { .n_threads = 1, .pure = false, .verbose = false };
    return p;
}

typedef struct qf_state qf_state_t;

/* One output tensor: where it comes from and what it becomes. */
typedef struct qf_tensor {
    qf_state_t             *st;
    const hh_gguf_tensor_t *src;
    uint32_t                dst_type;
    int64_t                 nrows;      /* product of ne[1..] */
    size_t                  dst_bytes;
} qf_tensor_t;

struct qf_state {
    hh_pool_t   *pool;
    int          n_threads;
    float       *rowbuf;     /* n_threads rows of max_ne0 floats */
    int64_t      max_ne0;
    /* the job of the current hh_pool_run */
    const qf_tensor_t *job;
    void        *job_dst;
    int          job_rc[64];
};

/* One thread's share of the rows of st->job: source row -> F32 -> dst type. */
static void qf_convert_rows(void *ctx, int ith, int nth)
{
    qf_state_t *st = ctx;
    const qf_tensor_t *t = st->job;
    const hh_gguf_tensor_t *s = t->src;
    const int64_t ne0 = s->ne[0];
    const int64_t nrows = t->nrows;
    if (nrows <= 0)
        return;
    const size_t src_row = s->nbytes / (size_t)nrows;
    const size_t dst_row = t->dst_bytes / (size_t)nrows;
    float *buf = st->rowbuf + (size_t)ith * (size_t)st->max_ne0;
    long lo, hi;
    hh_pool_split((long)nrows, ith, nth, 1, &lo, &hi);
    int rc = HH_OK;
    for (long r = lo; r < hi && rc == HH_OK; r++) {
        const uint8_t *in = (const uint8_t *)s->data + (size_t)r * src_row;
        switch (s->type) {
        case HH_TYPE_F32:
            memcpy(buf, in, (size_t)ne0 * sizeof(float));
            break;
        case HH_TYPE_F16:
            for (int64_t i = 0; i < ne0; i++) {
                uint16_t h;
                memcpy(&h, in + 2 * i, 2);
                buf[i] = hh_fp16_to_f32(h);
            }
            break;
        case HH_TYPE_BF16:
            for (int64_t i = 0; i < ne0; i++) {
                uint16_t h;
                memcpy(&h, in + 2 * i, 2);
                buf[i] = hh_bf16_to_f32(h);
            }
            break;
        default:
            rc = HH_EUNSUPPORTED;
            continue;
        }
        rc = hh_quantize_row(t->dst_type, buf, (uint8_t *)st->job_dst + (size_t)r * dst_row, ne0);
    }
    if (ith < (int)(sizeof st->job_rc / sizeof st->job_rc[0]))
        st->job_rc[ith] = rc;
}

/* hh_gguf_fill_fn: produces one output tensor while the writer streams. */
static int qf_fill(void *ctx, const char *name, void *dst, size_t nbytes, hh_err_t *err)
{
    qf_tensor_t *t = ctx;
    qf_state_t *st = t->st;
    if (nbytes != t->dst_bytes)
        return hh_err_set(err, HH_ESTATE, -1, "tensor '%s': writer asks for %zu bytes, expected %zu",
                          name, nbytes, t->dst_bytes);
    if (t->dst_type == t->src->type) {
        memcpy(dst, t->src->data, nbytes);
        return HH_OK;
    }
    st->job = t;
    st->job_dst = dst;
    for (size_t i = 0; i < sizeof st->job_rc / sizeof st->job_rc[0]; i++)
        st->job_rc[i] = HH_OK;
    hh_pool_run(st->pool, qf_convert_rows, st);
    for (size_t i = 0; i < sizeof st->job_rc / sizeof st->job_rc[0]; i++)
        if (st->job_rc[i] != HH_OK)
            return hh_err_set(err, st->job_rc[i], -1, "tensor '%s': converting %s to %s failed",
                              name, hh_type_name(t->src->type), hh_type_name(t->dst_type));
    return HH_OK;
}

/* Layer index of "blk.N.xxx", else -1. */
static int layer_of(const char *name)
{
    if (strncmp(name, "blk.", 4) != 0)
        return -1;
    char *end;
    const long v = strtol(name + 4, &end, 10);
    if (end == name + 4 || *end != '.' || v < 0 || v > 1000000)
        return -1;
    return (int)v;
}

/* An arch-prefixed u32 hyperparameter ("llama.block_count"), or def. */
static uint32_t arch_u32(const hh_gguf_t *g, const char *arch, const char *suffix, uint32_t def)
{
    char key[256];
    uint32_t v;
    if (!arch || snprintf(key, sizeof key, "%s.%s", arch, suffix) >= (int)sizeof key)
        return def;
    return hh_gguf_get_u32(g, key, &v) == HH_OK ? v : def;
}

int hh_quantize_file(const char *in_path, const char *out_path, const char *type_name,
                     const hh_quantize_params_t *p, hh_err_t *err)
{
    hh_quantize_params_t prm = p ? *p : hh_quantize_default_params();
    hh_gguf_t *in = NULL;
    hh_gguf_writer_t *w = NULL;
    qf_tensor_t *tensors = NULL;
    qf_state_t st;
    memset(&st, 0, sizeof st);
    int rc;

    if (!in_path || !out_path || !type_name)
        return hh_err_set(err, HH_EINVAL, -1, "quantize: missing input, output or type");
    const hh_quant_mix_t *mix = hh_quant_mix_find(type_name);
    if (!mix)
        return hh_err_set(err, HH_EINVAL, -1, "unknown quantization type '%s' (known: %s)",
                          type_name, hh_quant_mix_names());
    if (prm.n_threads < 1)
        prm.n_threads = 1;
    if (prm.n_threads > (int)(sizeof st.job_rc / sizeof st.job_rc[0]))
        prm.n_threads = (int)(sizeof st.job_rc / sizeof st.job_rc[0]);

    rc = hh_gguf_open(&in, in_path, NULL, err);
    if (rc != HH_OK)
        goto cleanup;

    const int64_t nt = hh_gguf_n_tensors(in);
    const char *arch = NULL;
    (void)hh_gguf_get_str(in, "general.architecture", &arch);
    bool has_output = hh_gguf_find_tensor(in, "output.weight") != NULL;
    int n_layer = (int)arch_u32(in, arch, "block_count", 0);
    const uint32_t n_head = arch_u32(in, arch, "attention.head_count", 1);
    const uint32_t n_head_kv = arch_u32(in, arch, "attention.head_count_kv", n_head);
    const int n_gqa = n_head_kv > 0 ? (int)(n_head / n_head_kv) : 1;
    if (n_layer <= 0) {
        /* no block_count: the highest blk.N + 1 */
        for (int64_t i = 0; i < nt; i++) {
            const int l = layer_of(hh_gguf_tensor(in, i)->name);
            if (l + 1 > n_layer)
                n_layer = l + 1;
        }
    }

    /* Plan every tensor before writing anything, so bad input fails early. */
    tensors = calloc(nt > 0 ? (size_t)nt : 1, sizeof *tensors);
    if (!tensors) {
        rc = hh_err_set(err, HH_ENOMEM, -1, "quantize: out of memory for %lld tensors", (long long)nt);
        goto cleanup;
    }
    uint64_t bytes_in = 0, bytes_out = 0;
    for (int64_t i = 0; i < nt; i++) {
        const hh_gguf_tensor_t *s = hh_gguf_tensor(in, i);
        qf_tensor_t *t = &tensors[i];
        t->st = &st;
        t->src = s;
        t->dst_type = hh_quant_tensor_type(mix, prm.pure, s->name, s->n_dims, s->ne, s->type,
                                           layer_of(s->name), n_layer, has_output, n_gqa);
        if (t->dst_type != s->type) {
            if (is_quantized_type(s->type) || !hh_quantize_supported(t->dst_type)) {
                rc = hh_err_set(err, HH_EUNSUPPORTED, -1,
                                "tensor '%s' is %s: hoheit quantize converts F32/F16/BF16 weights only "
                                "(requantizing would compound the error)", s->name, hh_type_name(s->type));
                goto cleanup;
            }
            const int bb = hh_type_traits(mix->base_type)->blck;
            if (s->ne[0] % bb != 0)
                HH_LOGW("quantize: %s: row length %lld is not a multiple of %d (%s), using %s",
                        s->name, (long long)s->ne[0], bb, hh_type_name(mix->base_type),
                        hh_type_name(t->dst_type));
        }
        int64_t nel = 1;
        for (uint32_t d = 0; d < s->n_dims; d++)
            nel *= s->ne[d];
        size_t row;
        rc = hh_type_row_size(t->dst_type, s->ne[0], &row);
        if (rc != HH_OK || s->ne[0] <= 0) {
            rc = hh_err_set(err, rc != HH_OK ? rc : HH_EFORMAT, -1, "tensor '%s': bad row length %lld for %s",
                            s->name, (long long)s->ne[0], hh_type_name(t->dst_type));
            goto cleanup;
        }
        const uint64_t nrows = (uint64_t)(nel / s->ne[0]);
        if (nrows != 0 && row > SIZE_MAX / nrows) {
            rc = hh_err_set(err, HH_EOVERFLOW, -1, "tensor '%s': output size overflows", s->name);
            goto cleanup;
        }
        t->dst_bytes = row * (size_t)nrows;
        t->nrows = (int64_t)nrows;
        if (s->ne[0] > st.max_ne0)
            st.max_ne0 = s->ne[0];
        bytes_in += s->nbytes;
        bytes_out += t->dst_bytes;
    }

    st.n_threads = prm.n_threads;
    if ((uint64_t)st.max_ne0 > SIZE_MAX / sizeof(float) / (uint64_t)prm.n_threads) {
        rc = hh_err_set(err, HH_EOVERFLOW, -1, "quantize: row length %lld too large", (long long)st.max_ne0);
        goto cleanup;
    }
    st.rowbuf = malloc((size_t)(st.max_ne0 > 0 ? st.max_ne0 : 1) * (size_t)prm.n_threads * sizeof(float));
    if (!st.rowbuf) {
        rc = hh_err_set(err, HH_ENOMEM, -1, "quantize: out of memory for row buffers");
        goto cleanup;
    }
    if (prm.n_threads > 1) {
        rc = hh_pool_create(&st.pool, prm.n_threads);
        if (rc != HH_OK) {
            hh_err_set(err, rc, -1, "quantize: cannot start %d threads", prm.n_threads);
            goto cleanup;
        }
    }

    rc = hh_gguf_writer_create(&w, 3, hh_gguf_alignment(in));
    if (rc != HH_OK) {
        hh_err_set(err, rc, -1, "quantize: cannot create the GGUF writer");
        goto cleanup;
    }
    /* Metadata: every kv in order; file_type and quantization_version replaced in place. */
    bool have_ft = false, have_qv = false;
    for (int64_t i = 0; i < hh_gguf_n_kv(in) && rc == HH_OK; i++) {
        const char *key = hh_gguf_kv_key(in, i);
        if (!strcmp(key, "general.file_type")) {
            rc = hh_gguf_writer_set_u32(w, key, mix->ftype);
            have_ft = true;
        } else if (!strcmp(key, "general.quantization_version")) {
            rc = hh_gguf_writer_set_u32(w, key, 2);
            have_qv = true;
        } else {
            rc = hh_gguf_writer_set_value(w, key, hh_gguf_kv_value(in, i));
        }
    }
    if (rc == HH_OK && !have_qv)
        rc = hh_gguf_writer_set_u32(w, "general.quantization_version", 2);
    if (rc == HH_OK && !have_ft)
        rc = hh_gguf_writer_set_u32(w, "general.file_type", mix->ftype);
    for (int64_t i = 0; i < nt && rc == HH_OK; i++) {
        const hh_gguf_tensor_t *s = tensors[i].src;
        rc = hh_gguf_writer_add_tensor(w, s->name, tensors[i].dst_type, s->n_dims, s->ne, NULL,
                                       qf_fill, &tensors[i]);
    }
    if (rc != HH_OK) {
        hh_err_set(err, rc, -1, "quantize: building the output header failed");
        goto cleanup;
    }
    rc = hh_gguf_writer_write(w, out_path, err);
    if (rc != HH_OK)
        goto cleanup;

    if (prm.verbose) {
        for (int64_t i = 0; i < nt; i++) {
            const qf_tensor_t *t = &tensors[i];
            fprintf(stderr, "%-32s %-6s -> %-6s [%lld x %lld] %10zu -> %10zu bytes\n", t->src->name,
                    hh_type_name(t->src->type), hh_type_name(t->dst_type), (long long)t->src->ne[0],
                    (long long)(t->src->n_dims > 1 ? t->src->ne[1] : 1), t->src->nbytes, t->dst_bytes);
        }
        fprintf(stderr, "quantize: %s -> %s (%s, file_type %u): %lld tensors, %.2f MiB -> %.2f MiB\n",
                in_path, out_path, mix->name, mix->ftype, (long long)nt, (double)bytes_in / 1048576.0,
                (double)bytes_out / 1048576.0);
    }

cleanup:
    if (w)
        hh_gguf_writer_free(w);
    if (st.pool)
        hh_pool_free(st.pool);
    free(st.rowbuf);
    free(tensors);
    if (in)
        hh_gguf_close(in);
    return rc;
}
