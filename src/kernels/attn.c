/* attn.c - the scalar reference of the tiled causal attention kernel
 * (kernels.h, hh_attn_job_t) and the scratch size every variant uses.
 *
 * Per row the kernel keeps a running maximum m, a running sum l of
 * exp(score - m) and an accumulator acc of exp(score - m) * V; a tile that
 * raises the maximum rescales l and acc by exp(m_old - m_new) first. The
 * result is acc / l, the softmax-weighted sum of the visible V rows. */
#include "kernels/kernels_int.h"

#include <math.h>

/* Scratch: the K tile transposed (hd x TILE), the V tile (TILE x hd), one
 * score row (TILE; the SIMD variants use two), then per row m, l and acc
 * (hd), then one row of hd (SIMD variants). */
size_t hh_attn_scratch_floats(int32_t hd, int32_t n_rows)
{
    size_t t = HH_ATTN_TILE, d = (size_t)hd, r = (size_t)n_rows;
    return 2 * t * d + 2 * t + r * (2 + d) + d + 16;
}

/* Cache rows p0 .. p0 + nt - 1 as F32: K transposed into kt[d][i], V as
 * rows into vt[i][d] (attn_driver.h; columns past nt are never read here). */
static void load_tile(const hh_attn_job_t *j, int32_t p0, int32_t nt, float *kt, float *vt, float *row)
{
    (void)row;
    const int32_t hd = j->hd;
    for (int32_t r = 0; r < nt; r++) {
        const uint8_t *kr = (const uint8_t *)j->k + (size_t)(p0 + r) * j->kv_stride;
        const uint8_t *vr = (const uint8_t *)j->v + (size_t)(p0 + r) * j->kv_stride;
        for (int32_t d = 0; d < hd; d++) {
            float kv, vv;
            if (j->f16) {
                kv = hh_fp16_to_f32(((const uint16_t *)kr)[d]);
                vv = hh_fp16_to_f32(((const uint16_t *)vr)[d]);
            } else {
                kv = ((const float *)kr)[d];
                vv = ((const float *)vr)[d];
            }
            kt[(size_t)d * HH_ATTN_TILE + (size_t)r] = kv;
            vt[(size_t)r * (size_t)hd + (size_t)d] = vv;
        }
    }
}

/* One tile for nr query rows (attn_driver.h), one row after the other. */
static void tile_rows(const float *const *q, float *m, float *l, float *const *acc, float *pbuf, const float *kt,
                      const float *vt, int32_t hd, int32_t nv, float scale, int nr)
{
    for (int r = 0; r < nr; r++) {
        float *s = pbuf + r * HH_ATTN_TILE, *a = acc[r];
        float mx = m[r];
        for (int32_t p = 0; p < nv; p++) {
            float dot = 0.0f;
            for (int32_t d = 0; d < hd; d++)
                dot += q[r][d] * kt[(size_t)d * HH_ATTN_TILE + (size_t)p];
            s[p] = dot * scale;
            mx = s[p] > mx ? s[p] : mx;
        }
        const float corr = expf(m[r] - mx);
        float sum = 0.0f;
        for (int32_t d = 0; d < hd; d++)
            a[d] *= corr;
        for (int32_t p = 0; p < nv; p++) {
            const float e = expf(s[p] - mx);
            sum += e;
            const float *vp = vt + (size_t)p * (size_t)hd;
            for (int32_t d = 0; d < hd; d++)
                a[d] += e * vp[d];
        }
        l[r] = l[r] * corr + sum;
        m[r] = mx;
    }
}

#define ATTN_WIDTH 1
#include "kernels/attn_driver.h"

void hh_attn_ref(const hh_attn_job_t *j)
{
    attn_run(j);
}

void hh_attn_fill_ref(hh_kernels_t *k)
{
    k->attn = hh_attn_ref;
}
