/* attn_avx2.c - the tiled causal attention kernel (kernels.h,
 * hh_attn_job_t) with AVX2 + FMA: as attn_avx512.c with 8-lane vectors
 * (scores of a 32-position tile are four vectors per query row), lane masks
 * from compares instead of mask registers, and 2^n built in the exponent
 * bits. Head dimensions that are not a multiple of 8 take the scalar
 * reference. */
#include "kernels/kernels_int.h"

#include "kernels/vexp_x86.h"

#include <immintrin.h>
#include <math.h>

#define T HH_ATTN_TILE


static inline float hmax8(__m256 v)
{
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_shuffle_ps(m, m, 1));
    return _mm_cvtss_f32(m);
}

static inline float hsum8(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}

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
        for (int32_t d = 0; d < hd; d += 8) {
            __m256 kv, vv;
            if (j->f16) {
                kv = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)kr + d)));
                vv = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)vr + d)));
            } else {
                kv = _mm256_loadu_ps((const float *)kr + d);
                vv = _mm256_loadu_ps((const float *)vr + d);
            }
            _mm256_storeu_ps(row + d, kv);
            _mm256_storeu_ps(vo + d, vv);
        }
        for (int32_t d = 0; d < hd; d++)
            kt[(size_t)d * T + (size_t)r] = row[d];
    }
}

/* One tile for nr (1 or 2) rows; see tile_rows in attn_avx512.c. */
static inline __attribute__((always_inline)) void tile_rows(const float *const *q, float *m, float *l,
                                                             float *const *acc, float *pbuf, const float *kt,
                                                             const float *vt, int32_t hd, int32_t nv,
                                                             float scale, const int nr)
{
    __m256 valid[4];
    const __m256i vn = _mm256_set1_epi32(nv), lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    for (int v = 0; v < 4; v++)
        valid[v] = _mm256_castsi256_ps(_mm256_cmpgt_epi32(vn, _mm256_add_epi32(lane, _mm256_set1_epi32(8 * v))));
    __m256 s[2][4];
    for (int r = 0; r < nr; r++)
        for (int v = 0; v < 4; v++)
            s[r][v] = _mm256_setzero_ps();
    for (int32_t d = 0; d < hd; d++) {
        const float *kd = kt + (size_t)d * T;
        const __m256 k0 = _mm256_loadu_ps(kd), k1 = _mm256_loadu_ps(kd + 8);
        const __m256 k2 = _mm256_loadu_ps(kd + 16), k3 = _mm256_loadu_ps(kd + 24);
        for (int r = 0; r < nr; r++) {
            const __m256 qd = _mm256_set1_ps(q[r][d]);
            s[r][0] = _mm256_fmadd_ps(qd, k0, s[r][0]);
            s[r][1] = _mm256_fmadd_ps(qd, k1, s[r][1]);
            s[r][2] = _mm256_fmadd_ps(qd, k2, s[r][2]);
            s[r][3] = _mm256_fmadd_ps(qd, k3, s[r][3]);
        }
    }
    const __m256 vs = _mm256_set1_ps(scale), ninf = _mm256_set1_ps(-INFINITY);
    __m256 corr[2];
    for (int r = 0; r < nr; r++) {
        __m256 mxv = ninf;
        for (int v = 0; v < 4; v++) {
            s[r][v] = _mm256_blendv_ps(ninf, _mm256_mul_ps(s[r][v], vs), valid[v]);
            mxv = _mm256_max_ps(mxv, s[r][v]);
        }
        const float tmx = hmax8(mxv);
        const float mx = tmx > m[r] ? tmx : m[r];
        const float c = expf(m[r] - mx);
        const __m256 vmx = _mm256_set1_ps(mx);
        __m256 sum = _mm256_setzero_ps();
        for (int v = 0; v < 4; v++) {
            const __m256 p = _mm256_and_ps(hh_exp_neg8(_mm256_sub_ps(s[r][v], vmx)), valid[v]);
            sum = _mm256_add_ps(sum, p);
            _mm256_storeu_ps(pbuf + r * T + 8 * v, p);
        }
        l[r] = l[r] * c + hsum8(sum);
        m[r] = mx;
        corr[r] = _mm256_set1_ps(c);
    }
    int32_t c0 = 0;
    for (; c0 + 32 <= hd; c0 += 32) {
        __m256 a[2][4];
        for (int r = 0; r < nr; r++)
            for (int i = 0; i < 4; i++)
                a[r][i] = _mm256_mul_ps(_mm256_loadu_ps(acc[r] + c0 + 8 * i), corr[r]);
        for (int32_t p = 0; p < nv; p++) {
            const float *vp = vt + (size_t)p * (size_t)hd + c0;
            const __m256 v0 = _mm256_loadu_ps(vp), v1 = _mm256_loadu_ps(vp + 8);
            const __m256 v2 = _mm256_loadu_ps(vp + 16), v3 = _mm256_loadu_ps(vp + 24);
            for (int r = 0; r < nr; r++) {
                const __m256 w = _mm256_set1_ps(pbuf[r * T + p]);
                a[r][0] = _mm256_fmadd_ps(w, v0, a[r][0]);
                a[r][1] = _mm256_fmadd_ps(w, v1, a[r][1]);
                a[r][2] = _mm256_fmadd_ps(w, v2, a[r][2]);
                a[r][3] = _mm256_fmadd_ps(w, v3, a[r][3]);
            }
        }
        for (int r = 0; r < nr; r++)
            for (int i = 0; i < 4; i++)
                _mm256_storeu_ps(acc[r] + c0 + 8 * i, a[r][i]);
    }
    for (; c0 < hd; c0 += 8) {
        __m256 a[2];
        for (int r = 0; r < nr; r++)
            a[r] = _mm256_mul_ps(_mm256_loadu_ps(acc[r] + c0), corr[r]);
        for (int32_t p = 0; p < nv; p++) {
            const __m256 v0 = _mm256_loadu_ps(vt + (size_t)p * (size_t)hd + c0);
            for (int r = 0; r < nr; r++)
                a[r] = _mm256_fmadd_ps(_mm256_set1_ps(pbuf[r * T + p]), v0, a[r]);
        }
        for (int r = 0; r < nr; r++)
            _mm256_storeu_ps(acc[r] + c0, a[r]);
    }
}

#define ATTN_WIDTH 8
#include "kernels/attn_driver.h"

void hh_attn_fill_avx2(hh_kernels_t *k)
{
    k->attn = attn_run;
}
