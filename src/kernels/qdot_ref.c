/* qdot_ref.c - scalar reference of the quantized-activation kernels:
 * activations rounded to 8 bits per block (Q8_0 for 32-value weight blocks,
 * Q8_K for K-quant super-blocks) and integer dot products with the stored
 * weights, one float scale product per block.
 *
 * Integer sums are exact; the float combination of the per-block sums is
 * the only rounding, so SIMD variants differ from this reference only by
 * summation order (the tests bound it). Rounding of activations is
 * round-half-to-even, the SIMD conversions' default mode, so the quantized
 * activations are bit-identical across ISAs. */
#include "kernels/kernels_int.h"

#include <math.h>
#include <string.h>

/* ---- activations ---------------------------------------------------------- */

static void quant_q8_0(const float *x, void *y, int64_t n)
{
    hh_block_q8_0 *b = y;
    for (int64_t i = 0; i < n / HH_QK8_0; i++, b++, x += HH_QK8_0) {
        float amax = 0.0f;
        for (int l = 0; l < HH_QK8_0; l++) amax = fmaxf(amax, fabsf(x[l]));
        const float d = amax / 127.0f, id = amax > 0.0f ? 127.0f / amax : 0.0f;
        b->d = hh_f32_to_fp16(d);
        for (int l = 0; l < HH_QK8_0; l++) b->qs[l] = (int8_t)nearbyintf(x[l] * id);
    }
}

static void quant_q8_K(const float *x, void *y, int64_t n)
{
    hh_block_q8_K *b = y;
    for (int64_t i = 0; i < n / HH_QK_K; i++, b++, x += HH_QK_K) {
        float amax = 0.0f;
        for (int l = 0; l < HH_QK_K; l++) amax = fmaxf(amax, fabsf(x[l]));
        const float id = amax > 0.0f ? 127.0f / amax : 0.0f;
        b->d = amax / 127.0f;
        for (int l = 0; l < HH_QK_K; l++) b->qs[l] = (int8_t)nearbyintf(x[l] * id);
        for (int j = 0; j < HH_QK_K / 16; j++) {
            int s = 0;
            for (int l = 0; l < 16; l++) s += b->qs[16 * j + l];
            b->bsums[j] = (int16_t)s;
        }
    }
}

/* ---- dots ----------------------------------------------------------------- */

static void qdot_q4_0(int64_t n, const void *w, const void *xq, size_t xs, int nc, float *out)
{
    for (int c = 0; c < nc; c++) {
        const hh_block_q4_0 *b = w;
        const hh_block_q8_0 *a = (const hh_block_q8_0 *)((const uint8_t *)xq + (size_t)c * xs);
        float sum = 0.0f;
        for (int64_t i = 0; i < n / HH_QK4_0; i++) {
            int isum = 0;
            for (int l = 0; l < 16; l++)
                isum += ((b[i].qs[l] & 0x0f) - 8) * a[i].qs[l] + ((b[i].qs[l] >> 4) - 8) * a[i].qs[l + 16];
            sum += hh_fp16_to_f32(b[i].d) * hh_fp16_to_f32(a[i].d) * (float)isum;
        }
        out[c] = sum;
    }
}

/* MXFP4: integer codes times the Q8_0 activations, one scale product per block. */
static void qdot_mxfp4(int64_t n, const void *w, const void *xq, size_t xs, int nc, float *out)
{
    for (int c = 0; c < nc; c++) {
        const hh_block_mxfp4 *b = w;
        const hh_block_q8_0 *a = (const hh_block_q8_0 *)((const uint8_t *)xq + (size_t)c * xs);
        float sum = 0.0f;
        for (int64_t i = 0; i < n / HH_QK_MXFP4; i++) {
            int isum = 0;
            for (int l = 0; l < 16; l++)
                isum += hh_mxfp4_value(b[i].qs[l] & 0x0f) * a[i].qs[l] + hh_mxfp4_value(b[i].qs[l] >> 4) * a[i].qs[l + 16];
            sum += hh_e8m0_half(b[i].e) * hh_fp16_to_f32(a[i].d) * (float)isum;
        }
        out[c] = sum;
    }
}

/* IQ4_NL: table values of the codes times the Q8_0 activations (as MXFP4). */
static void qdot_iq4_nl(int64_t n, const void *w, const void *xq, size_t xs, int nc, float *out)
{
    for (int c = 0; c < nc; c++) {
        const hh_block_iq4_nl *b = w;
        const hh_block_q8_0 *a = (const hh_block_q8_0 *)((const uint8_t *)xq + (size_t)c * xs);
        float sum = 0.0f;
        for (int64_t i = 0; i < n / HH_QK4_NL; i++) {
            int isum = 0;
            for (int l = 0; l < 16; l++)
                isum += hh_iq4_value(b[i].qs[l] & 0x0f) * a[i].qs[l] + hh_iq4_value(b[i].qs[l] >> 4) * a[i].qs[l + 16];
            sum += hh_fp16_to_f32(b[i].d) * hh_fp16_to_f32(a[i].d) * (float)isum;
        }
        out[c] = sum;
    }
}

/* IQ4_XS on Q8_K activations: each sub-block's integer dot times its
 * signed scale, summed exactly (|sum| < 8 * 32 * 32 * 127 * 127 < 2^31),
 * then one float product per super-block. */
static void qdot_iq4_xs(int64_t n, const void *w, const void *xq, size_t xs, int nc, float *out)
{
    for (int c = 0; c < nc; c++) {
        const hh_block_iq4_xs *b = w;
        const hh_block_q8_K *a = (const hh_block_q8_K *)((const uint8_t *)xq + (size_t)c * xs);
        float sum = 0.0f;
        for (int64_t i = 0; i < n / HH_QK_K; i++) {
            int sumi = 0;
            for (int j = 0; j < 8; j++) {
                const uint8_t *q = b[i].qs + 16 * j;
                const int8_t *x = a[i].qs + 32 * j;
                int isum = 0;
                for (int l = 0; l < 16; l++)
                    isum += hh_iq4_value(q[l] & 0x0f) * x[l] + hh_iq4_value(q[l] >> 4) * x[l + 16];
                sumi += hh_iq4xs_scale(&b[i], j) * isum;
            }
            sum += a[i].d * hh_fp16_to_f32(b[i].d) * (float)sumi;
        }
        out[c] = sum;
    }
}

/* Q5_0: 4 low bits in qs (as Q4_0), the 5th bit of value j in bit j of qh. */
static void qdot_q5_0(int64_t n, const void *w, const void *xq, size_t xs, int nc, float *out)
{
    for (int c = 0; c < nc; c++) {
        const hh_block_q5_0 *b = w;
        const hh_block_q8_0 *a = (const hh_block_q8_0 *)((const uint8_t *)xq + (size_t)c * xs);
        float sum = 0.0f;
        for (int64_t i = 0; i < n / HH_QK5_0; i++) {
            uint32_t qh;
            memcpy(&qh, b[i].qh, 4);
            int isum = 0;
            for (int l = 0; l < 16; l++) {
                int v0 = ((b[i].qs[l] & 0x0f) | (((qh >> l) & 1) << 4)) - 16;
                int v1 = ((b[i].qs[l] >> 4) | (((qh >> (l + 16)) & 1) << 4)) - 16;
                isum += v0 * a[i].qs[l] + v1 * a[i].qs[l + 16];
            }
            sum += hh_fp16_to_f32(b[i].d) * hh_fp16_to_f32(a[i].d) * (float)isum;
        }
        out[c] = sum;
    }
}

static void qdot_q8_0(int64_t n, const void *w, const void *xq, size_t xs, int nc, float *out)
{
    for (int c = 0; c < nc; c++) {
        const hh_block_q8_0 *b = w;
        const hh_block_q8_0 *a = (const hh_block_q8_0 *)((const uint8_t *)xq + (size_t)c * xs);
        float sum = 0.0f;
        for (int64_t i = 0; i < n / HH_QK8_0; i++) {
            int isum = 0;
            for (int l = 0; l < HH_QK8_0; l++) isum += b[i].qs[l] * a[i].qs[l];
            sum += hh_fp16_to_f32(b[i].d) * hh_fp16_to_f32(a[i].d) * (float)isum;
        }
        out[c] = sum;
    }
}

/* Q4_K: x = d * sc_j * q - dmin * m_j over sub-blocks j of 32; the minimums
 * meet the activations only through their sums (bsums). */
static void qdot_q4_K(int64_t n, const void *w, const void *xq, size_t xs, int nc, float *out)
{
    for (int c = 0; c < nc; c++) {
        const hh_block_q4_K *b = w;
        const hh_block_q8_K *a = (const hh_block_q8_K *)((const uint8_t *)xq + (size_t)c * xs);
        float sum = 0.0f;
        for (int64_t i = 0; i < n / HH_QK_K; i++) {
            int sumi = 0, summ = 0;
            for (int j = 0; j < 8; j++) {
                uint8_t sc, m;
                hh_k4_scale_min(j, b[i].scales, &sc, &m);
                const uint8_t *q = b[i].qs + 32 * (j >> 1);
                const int8_t *x = a[i].qs + 32 * j;
                int isum = 0;
                for (int l = 0; l < 32; l++) isum += ((q[l] >> (4 * (j & 1))) & 0x0f) * x[l];
                sumi += sc * isum;
                summ += m * (a[i].bsums[2 * j] + a[i].bsums[2 * j + 1]);
            }
            sum += a[i].d * (hh_fp16_to_f32(b[i].d) * (float)sumi - hh_fp16_to_f32(b[i].dmin) * (float)summ);
        }
        out[c] = sum;
    }
}

/* Q6_K: x = d * sc_s * (q - 32) over sub-blocks s of 16 (layout: kernels_ref.c). */
static void qdot_q6_K(int64_t n, const void *w, const void *xq, size_t xs, int nc, float *out)
{
    for (int c = 0; c < nc; c++) {
        const hh_block_q6_K *b = w;
        const hh_block_q8_K *a = (const hh_block_q8_K *)((const uint8_t *)xq + (size_t)c * xs);
        float sum = 0.0f;
        for (int64_t i = 0; i < n / HH_QK_K; i++) {
            int sumi = 0;
            for (int g = 0; g < 8; g++) {
                int h = g >> 2, k = g & 3;
                const uint8_t *ql = b[i].ql + 64 * h + 32 * (k & 1);
                const uint8_t *qh = b[i].qh + 32 * h;
                const int8_t *x = a[i].qs + 32 * g;
                for (int half = 0; half < 2; half++) {
                    int isum = 0;
                    for (int l = 16 * half; l < 16 * half + 16; l++) {
                        int v = ((ql[l] >> (4 * (k >> 1))) & 0x0f) | (((qh[l] >> (2 * k)) & 3) << 4);
                        isum += (v - 32) * x[l];
                    }
                    sumi += b[i].scales[2 * g + half] * isum;
                }
            }
            sum += a[i].d * hh_fp16_to_f32(b[i].d) * (float)sumi;
        }
        out[c] = sum;
    }
}

void hh_qdot_fill_ref(hh_kernels_t *k)
{
    k->quant_act[HH_TYPE_Q8_0] = quant_q8_0;
    k->quant_act[HH_TYPE_Q8_K] = quant_q8_K;
    k->qdot[HH_TYPE_Q4_0] = qdot_q4_0;
    k->act_type[HH_TYPE_Q4_0] = HH_TYPE_Q8_0;
    k->qdot[HH_TYPE_Q5_0] = qdot_q5_0;
    k->act_type[HH_TYPE_Q5_0] = HH_TYPE_Q8_0;
    k->qdot[HH_TYPE_Q8_0] = qdot_q8_0;
    k->act_type[HH_TYPE_Q8_0] = HH_TYPE_Q8_0;
    k->qdot[HH_TYPE_MXFP4] = qdot_mxfp4;
    k->act_type[HH_TYPE_MXFP4] = HH_TYPE_Q8_0;
    k->qdot[HH_TYPE_IQ4_NL] = qdot_iq4_nl;
    k->act_type[HH_TYPE_IQ4_NL] = HH_TYPE_Q8_0;
    k->qdot[HH_TYPE_Q4_K] = qdot_q4_K;
    k->act_type[HH_TYPE_Q4_K] = HH_TYPE_Q8_K;
    k->qdot[HH_TYPE_IQ4_XS] = qdot_iq4_xs;
    k->act_type[HH_TYPE_IQ4_XS] = HH_TYPE_Q8_K;
    k->qdot[HH_TYPE_Q6_K] = qdot_q6_K;
    k->act_type[HH_TYPE_Q6_K] = HH_TYPE_Q8_K;
}
