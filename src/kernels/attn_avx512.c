/* attn_avx512.c - the tiled causal attention kernel (kernels.h,
 * hh_attn_job_t) with AVX-512: scores of one tile (32 positions) are two
 * vectors per query row, computed against the K tile stored transposed;
 * softmax with a vector exp; V accumulated in registers, 64 values of the
 * head at a time. Rows go in pairs so the tile loads are shared; a row's
 * arithmetic is the same whether it runs alone or paired. Head dimensions
 * that are not a multiple of 16 take the scalar reference. */
#include "kernels/kernels_int.h"

#include "kernels/vexp_x86.h"

#include <immintrin.h>
#include <math.h>

#define T HH_ATTN_TILE


/* Rows p0 .. p0 + nt - 1: K transposed into kt[d][j] (columns nt.. zeroed),
 * V as rows into vt[j][d]; row is an hd-float buffer. */
static void load_tile(const hh_attn_job_t *j, int32_t p0, int32_t nt, float *kt, float *vt, float *row)
{
    const int32_t hd = j->hd;
    for (int32_t r = 0; r < T; r++) {
        const uint8_t *kr = (const uint8_t *)j->k + (size_t)(p0 + r) * j->kv_stride;
        const uint8_t *vr = (const uint8_t *)j->v + (size_t)(p0 + r) * j->kv_stride;
        float *vo = vt + (size_t)r * (size_t)hd;
        if (r >= nt) {
            for (int32_t d = 0; d < hd; d++)
                kt[(size_t)d * T + (size_t)r] = 0.0f;
            continue;
        }
        for (int32_t d = 0; d < hd; d += 16) {
            __m512 kv, vv;
            if (j->f16) {
                kv = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)((const uint16_t *)kr + d)));
                vv = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)((const uint16_t *)vr + d)));
            } else {
                kv = _mm512_loadu_ps((const float *)kr + d);
                vv = _mm512_loadu_ps((const float *)vr + d);
            }
            _mm512_storeu_ps(row + d, kv);
            _mm512_storeu_ps(vo + d, vv);
        }
        for (int32_t d = 0; d < hd; d++)
            kt[(size_t)d * T + (size_t)r] = row[d];
    }
}

/* One tile for nr (1 or 2) rows: q[r] the query, m/l the running maximum and
 * sum, acc the accumulator (hd floats), pbuf T floats of scratch per row. */
static inline __attribute__((always_inline)) void tile_rows(const float *const *q, float *m, float *l,
                                                             float *const *acc, float *pbuf, const float *kt,
                                                             const float *vt, int32_t hd, int32_t nv,
                                                             float scale, const int nr)
{
    const __mmask16 k0 = nv >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << nv) - 1);
    const __mmask16 k1 = nv >= 32 ? (__mmask16)0xffff : nv <= 16 ? 0 : (__mmask16)((1u << (nv - 16)) - 1);
    __m512 e0[2], e1[2], o0[2], o1[2];
    for (int r = 0; r < nr; r++)
        e0[r] = e1[r] = o0[r] = o1[r] = _mm512_setzero_ps();
    for (int32_t d = 0; d < hd; d += 2) {
        const __m512 ka = _mm512_loadu_ps(kt + (size_t)d * T), kb = _mm512_loadu_ps(kt + (size_t)d * T + 16);
        const __m512 kc = _mm512_loadu_ps(kt + (size_t)(d + 1) * T);
        const __m512 kd = _mm512_loadu_ps(kt + (size_t)(d + 1) * T + 16);
        for (int r = 0; r < nr; r++) {
            const __m512 qa = _mm512_set1_ps(q[r][d]), qb = _mm512_set1_ps(q[r][d + 1]);
            e0[r] = _mm512_fmadd_ps(qa, ka, e0[r]);
            e1[r] = _mm512_fmadd_ps(qa, kb, e1[r]);
            o0[r] = _mm512_fmadd_ps(qb, kc, o0[r]);
            o1[r] = _mm512_fmadd_ps(qb, kd, o1[r]);
        }
    }
    const __m512 vs = _mm512_set1_ps(scale), ninf = _mm512_set1_ps(-INFINITY);
    __m512 corr[2];
    for (int r = 0; r < nr; r++) {
        const __m512 s0 = _mm512_mask_mul_ps(ninf, k0, _mm512_add_ps(e0[r], o0[r]), vs);
        const __m512 s1 = _mm512_mask_mul_ps(ninf, k1, _mm512_add_ps(e1[r], o1[r]), vs);
        const float tmx = _mm512_reduce_max_ps(_mm512_max_ps(s0, s1));
        const float mx = tmx > m[r] ? tmx : m[r];
        const float c = expf(m[r] - mx);
        const __m512 vmx = _mm512_set1_ps(mx);
        const __m512 p0 = _mm512_maskz_mov_ps(k0, hh_exp_neg16(_mm512_sub_ps(s0, vmx)));
        const __m512 p1 = _mm512_maskz_mov_ps(k1, hh_exp_neg16(_mm512_sub_ps(s1, vmx)));
        l[r] = l[r] * c + _mm512_reduce_add_ps(_mm512_add_ps(p0, p1));
        m[r] = mx;
        _mm512_storeu_ps(pbuf + r * T, p0);
        _mm512_storeu_ps(pbuf + r * T + 16, p1);
        corr[r] = _mm512_set1_ps(c);
    }
    int32_t c0 = 0;
    for (; c0 + 64 <= hd; c0 += 64) {
        __m512 a[2][4];
        for (int r = 0; r < nr; r++)
            for (int i = 0; i < 4; i++)
                a[r][i] = _mm512_mul_ps(_mm512_loadu_ps(acc[r] + c0 + 16 * i), corr[r]);
        for (int32_t p = 0; p < nv; p++) {
            const float *vp = vt + (size_t)p * (size_t)hd + c0;
            const __m512 v0 = _mm512_loadu_ps(vp), v1 = _mm512_loadu_ps(vp + 16);
            const __m512 v2 = _mm512_loadu_ps(vp + 32), v3 = _mm512_loadu_ps(vp + 48);
            for (int r = 0; r < nr; r++) {
                const __m512 w = _mm512_set1_ps(pbuf[r * T + p]);
                a[r][0] = _mm512_fmadd_ps(w, v0, a[r][0]);
                a[r][1] = _mm512_fmadd_ps(w, v1, a[r][1]);
                a[r][2] = _mm512_fmadd_ps(w, v2, a[r][2]);
                a[r][3] = _mm512_fmadd_ps(w, v3, a[r][3]);
            }
        }
        for (int r = 0; r < nr; r++)
            for (int i = 0; i < 4; i++)
                _mm512_storeu_ps(acc[r] + c0 + 16 * i, a[r][i]);
    }
    for (; c0 < hd; c0 += 16) {
        __m512 a[2];
        for (int r = 0; r < nr; r++)
            a[r] = _mm512_mul_ps(_mm512_loadu_ps(acc[r] + c0), corr[r]);
        for (int32_t p = 0; p < nv; p++) {
            const __m512 v0 = _mm512_loadu_ps(vt + (size_t)p * (size_t)hd + c0);
            for (int r = 0; r < nr; r++)
                a[r] = _mm512_fmadd_ps(_mm512_set1_ps(pbuf[r * T + p]), v0, a[r]);
        }
        for (int r = 0; r < nr; r++)
            _mm512_storeu_ps(acc[r] + c0, a[r]);
    }
}

#define ATTN_WIDTH 16
#include "kernels/attn_driver.h"

void hh_attn_fill_avx512(hh_kernels_t *k)
{
    k->attn = attn_run;
}
