/* attn_driver.h - the loop every attention variant shares (kernels.h,
 * hh_attn_job_t), included by attn.c, attn_avx2.c and attn_avx512.c.
 *
 * The includer defines, before including this file:
 *   ATTN_WIDTH   head sizes must be a multiple of it (else the scalar
 *                reference runs)
 *   load_tile(j, p0, nt, kt, vt, row)
 *                cache rows p0 .. p0 + nt - 1 as F32: K transposed into
 *                kt[d][i] (columns nt .. HH_ATTN_TILE - 1 zeroed), V as rows
 *                into vt[i][d]; row is hd floats of scratch
 *   tile_rows(q, m, l, acc, pbuf, kt, vt, hd, nv, scale, nr)
 *                one tile (nv visible positions) for nr (1 or 2) query rows:
 *                q[r] the query, m[r] / l[r] the running maximum and sum,
 *                acc[r] the accumulator; pbuf holds HH_ATTN_TILE floats per
 *                row. A row's arithmetic must not depend on nr.
 *
 * Scratch layout (hh_attn_scratch_floats): kt (hd x TILE), vt (TILE x hd),
 * pbuf (2 TILE), m and l (a float per row each), acc (hd per row), row (hd). */
#ifndef HH_KERNELS_ATTN_DRIVER_H
#define HH_KERNELS_ATTN_DRIVER_H

#include <math.h>

static void attn_run(const hh_attn_job_t *j)
{
    const int32_t hd = j->hd, n_rows = j->n_tok * j->n_head;
    if (hd % ATTN_WIDTH != 0) {
        hh_attn_ref(j);
        return;
    }
    float *kt = j->scratch, *vt = kt + (size_t)hd * HH_ATTN_TILE, *pbuf = vt + (size_t)hd * HH_ATTN_TILE;
    float *m = pbuf + 2 * HH_ATTN_TILE, *l = m + n_rows, *acc = l + n_rows;
    float *row = acc + (size_t)n_rows * (size_t)hd;
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
        load_tile(j, p0, nt, kt, vt, row);
        for (int32_t t = 0; t < j->n_tok; t++) {
            if (p0 >= j->n_pos[t])
                continue;
            const int32_t nv = j->n_pos[t] - p0 < nt ? j->n_pos[t] - p0 : nt;
            const float *qt = j->q + (size_t)t * j->q_stride;
            int32_t h = 0;
            for (; h + 2 <= j->n_head; h += 2) {
                const int32_t r = t * j->n_head + h;
                const float *q[2] = { qt + (size_t)h * (size_t)hd, qt + (size_t)(h + 1) * (size_t)hd };
                float *a[2] = { acc + (size_t)r * (size_t)hd, acc + (size_t)(r + 1) * (size_t)hd };
                tile_rows(q, m + r, l + r, a, pbuf, kt, vt, hd, nv, j->scale, 2);
            }
            if (h < j->n_head) {
                const int32_t r = t * j->n_head + h;
                const float *q[1] = { qt + (size_t)h * (size_t)hd };
                float *a[1] = { acc + (size_t)r * (size_t)hd };
                tile_rows(q, m + r, l + r, a, pbuf, kt, vt, hd, nv, j->scale, 1);
            }
        }
    }
    for (int32_t t = 0; t < j->n_tok; t++) {
        for (int32_t h = 0; h < j->n_head; h++) {
            const int32_t r = t * j->n_head + h;
            const float inv = 1.0f / (j->sink != NULL ? l[r] + expf(j->sink[h] - m[r]) : l[r]);
            const float *a = acc + (size_t)r * (size_t)hd;
            float *o = j->out + (size_t)t * j->q_stride + (size_t)h * (size_t)hd;
            for (int32_t d = 0; d < hd; d++)
                o[d] = a[d] * inv;
        }
    }
}

#endif
