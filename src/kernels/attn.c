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

/* Converts rows p0 .. p0 + nt - 1 of the cache: K transposed into kt[d][j],
 * V as rows into vt[j][d]. */
static void load_tile(const hh_attn_job_t *j, int32_t p0, int32_t nt, float *kt, float *vt)
{
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

void hh_attn_ref(const hh_attn_job_t *j)
{
    const int32_t hd = j->hd, n_rows = j->n_tok * j->n_head;
    float *kt = j->scratch, *vt = kt + (size_t)hd * HH_ATTN_TILE, *s = vt + (size_t)hd * HH_ATTN_TILE;
    float *m = s + HH_ATTN_TILE, *l = m + n_rows, *acc = l + n_rows;
    int32_t max_pos = 0;
    for (int32_t t = 0; t < j->n_tok; t++)
        max_pos = j->n_pos[t] > max_pos ? j->n_pos[t] : max_pos;
    for (int32_t r = 0; r < n_rows; r++) {
        m[r] = -INFINITY;
        l[r] = 0.0f;
    }
    for (size_t i = 0; i < (size_t)n_rows * (size_t)hd; i++)
        acc[i] = 0.0f;

    for (int32_t p0 = 0; p0 < max_pos; p0 += HH_ATTN_TILE) {
        const int32_t nt = max_pos - p0 < HH_ATTN_TILE ? max_pos - p0 : HH_ATTN_TILE;
        load_tile(j, p0, nt, kt, vt);
        for (int32_t t = 0; t < j->n_tok; t++) {
            if (p0 >= j->n_pos[t])
                continue;
            const int32_t nv = j->n_pos[t] - p0 < nt ? j->n_pos[t] - p0 : nt;
            for (int32_t h = 0; h < j->n_head; h++) {
                const int32_t r = t * j->n_head + h;
                const float *q = j->q + (size_t)t * j->q_stride + (size_t)h * (size_t)hd;
                float *a = acc + (size_t)r * (size_t)hd;
                float mx = m[r];
                for (int32_t p = 0; p < nv; p++) {
                    float dot = 0.0f;
                    for (int32_t d = 0; d < hd; d++)
                        dot += q[d] * kt[(size_t)d * HH_ATTN_TILE + (size_t)p];
                    s[p] = dot * j->scale;
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
    }
    for (int32_t t = 0; t < j->n_tok; t++) {
        for (int32_t h = 0; h < j->n_head; h++) {
            const int32_t r = t * j->n_head + h;
            const float inv = 1.0f / l[r];
            float *o = j->out + (size_t)t * j->q_stride + (size_t)h * (size_t)hd;
            for (int32_t d = 0; d < hd; d++)
                o[d] = acc[(size_t)r * (size_t)hd + (size_t)d] * inv;
        }
    }
}

void hh_attn_fill_ref(hh_kernels_t *k)
{
    k->attn = hh_attn_ref;
}
