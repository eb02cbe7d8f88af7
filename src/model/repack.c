/* repack.c - weights rewritten at load into the row-interleaved x4 layout
 * (see kernels.h), in place: group g of 4 rows keeps exactly the bytes of
 * its 4 original rows, so no second copy of the weights exists. Also the
 * inverse per row for the exact path, which dequantizes from the x4 layout. */
#include "model/model_int.h"
#include "base/err.h"
#include "kernels/fp16.h"

#include <stdlib.h>
#include <string.h>

/* Values per block of the x4 types. */
static int64_t x4_qk(uint32_t type)
{
    return type == HH_TYPE_Q4_K || type == HH_TYPE_Q5_K || type == HH_TYPE_Q6_K ? HH_QK_K : 32;
}

bool hh_repack_x4_ok(const hh_kernels_t *kern, const hh_mat_t *w)
{
    if (w->x4 || w->data == NULL || w->type >= HH_TYPE_COUNT || kern->gemm_x4[w->type] == NULL ||
        kern->quant_x4 == NULL)
        return false;
    if (w->type != HH_TYPE_Q4_0 && w->type != HH_TYPE_Q8_0 && w->type != HH_TYPE_Q4_K && w->type != HH_TYPE_Q5_0 &&
        w->type != HH_TYPE_Q5_K && w->type != HH_TYPE_Q6_K && w->type != HH_TYPE_IQ4_NL)
        return false;
    return w->n_out % HH_X4_ROWS == 0 && w->n_in % x4_qk(w->type) == 0 && w->n_out > 0 &&
           w->nbytes >= (size_t)w->n_out * w->row_bytes;
}

/* Bytes of one x4 block position (4 rows' scales + values). */
static size_t x4_blk(uint32_t type)
{
    switch (type) {
    case HH_TYPE_Q8_0: return 8 + 128;
    case HH_TYPE_Q4_K: return 4 * sizeof(hh_block_q4_K);
    case HH_TYPE_Q5_K: return 4 * sizeof(hh_block_q5_K);
    case HH_TYPE_Q5_0: return 4 * sizeof(hh_block_q5_0);
    case HH_TYPE_Q6_K: return 4 * sizeof(hh_block_q6_K);
    default: return 8 + 64;
    }
}

/* Q4_K x4 super-block (576 bytes = 4 x 144): d x4 at 0, dmin x4 at 8
 * (F16), the 32 six-bit scales (index k = 4 j + r: sub-block j, row r) at
 * 16 and the 32 six-bit mins (index k = 8 r + j) at 40, each as 24 bytes:
 * 16 bytes of low nibbles (k < 16: low nibble of byte k, else high nibble
 * of byte k - 16) and 8 bytes of top bits (bits 2 (k / 8) of byte k % 8);
 * then chunk c of row r (its quant bytes 16c..16c+15) at 64 + 64c + 16r.
 * The kernel widens the scales with a few vector shifts (no table). */
static void six_put(uint8_t *o, const uint8_t v[32])
{
    memset(o, 0, 24);
    for (int k = 0; k < 32; k++) {
        o[k % 16] |= (uint8_t)((v[k] & 0x0f) << (k < 16 ? 0 : 4));
        o[16 + k % 8] |= (uint8_t)((v[k] >> 4) << (2 * (k / 8)));
    }
}

static uint8_t six_get(const uint8_t *o, int k)
{
    const uint8_t lo = (uint8_t)((o[k % 16] >> (k < 16 ? 0 : 4)) & 0x0f);
    return (uint8_t)(lo | (((o[16 + k % 8] >> (2 * (k / 8))) & 3) << 4));
}

/* Stored Q4_K packing: scale and min of sub-block j from the 12 bytes at s
 * (j < 4: low 6 bits of bytes j and j + 4; j >= 4: nibbles of byte j + 4
 * and the top 2 bits of bytes j - 4 and j). */
static void k4_scale_min(int j, const uint8_t *s, uint8_t *sc, uint8_t *m)
{
    if (j < 4) {
        *sc = s[j] & 63;
        *m = s[j + 4] & 63;
    } else {
        *sc = (uint8_t)((s[j + 4] & 0x0f) | ((s[j - 4] >> 6) << 4));
        *m = (uint8_t)((s[j + 4] >> 4) | ((s[j] >> 6) << 4));
    }
}

/* All 4 rows of super-block position i at o from the 4 stored blocks. */
static void x4k_put(uint8_t *o, const hh_block_q4_K *const b[HH_X4_ROWS])
{
    uint8_t sc[32], mn[32];
    for (int r = 0; r < HH_X4_ROWS; r++) {
        memcpy(o + 2 * r, &b[r]->d, 2);
        memcpy(o + 8 + 2 * r, &b[r]->dmin, 2);
        for (int j = 0; j < 8; j++)
            k4_scale_min(j, b[r]->scales, &sc[4 * j + r], &mn[8 * r + j]);
        for (int c = 0; c < 8; c++)
            memcpy(o + 64 + 64 * c + 16 * r, b[r]->qs + 16 * c, 16);
    }
    six_put(o + 16, sc);
    six_put(o + 40, mn);
}

/* Row r's stored block back from the x4 super-block at o (the 12-byte
 * scale packing rebuilt bit for bit: it is a bijection of the 16 values). */
static void x4k_get(const uint8_t *o, int r, hh_block_q4_K *b)
{
    memcpy(&b->d, o + 2 * r, 2);
    memcpy(&b->dmin, o + 8 + 2 * r, 2);
    uint8_t sc[8], m[8];
    for (int j = 0; j < 8; j++) {
        sc[j] = six_get(o + 16, 4 * j + r);
        m[j] = six_get(o + 40, 8 * r + j);
    }
    for (int j = 0; j < 4; j++) {
        b->scales[j] = (uint8_t)(sc[j] | ((sc[j + 4] >> 4) << 6));
        b->scales[j + 4] = (uint8_t)(m[j] | ((m[j + 4] >> 4) << 6));
        b->scales[j + 8] = (uint8_t)((sc[j + 4] & 0x0f) | ((m[j + 4] & 0x0f) << 4));
    }
    for (int c = 0; c < 8; c++)
        memcpy(b->qs + 16 * c, o + 64 + 64 * c + 16 * r, 16);
}

/* Q5_K x4 super-block (704 bytes = 4 x 176): the Q4_K x4 layout of d,
 * dmin, scales, mins and nibbles (576 bytes), then the 5th bits: half h of
 * row r (its qh bytes 16h..16h+15) at 576 + 64h + 16r, lined up with the
 * nibble chunks (bit 2k of qh byte l: value 64k + l, bit 2k + 1: value
 * 64k + 32 + l). */
static void x5k_put(uint8_t *o, const hh_block_q5_K *const b[HH_X4_ROWS])
{
    hh_block_q4_K k4[HH_X4_ROWS];
    const hh_block_q4_K *p[HH_X4_ROWS];
    for (int r = 0; r < HH_X4_ROWS; r++) {
        k4[r].d = b[r]->d;
        k4[r].dmin = b[r]->dmin;
        memcpy(k4[r].scales, b[r]->scales, sizeof k4[r].scales);
        memcpy(k4[r].qs, b[r]->qs, sizeof k4[r].qs);
        p[r] = &k4[r];
    }
    x4k_put(o, p);
    for (int r = 0; r < HH_X4_ROWS; r++)
        for (int h = 0; h < 2; h++)
            memcpy(o + 576 + 64 * h + 16 * r, b[r]->qh + 16 * h, 16);
}

static void x5k_get(const uint8_t *o, int r, hh_block_q5_K *b)
{
    hh_block_q4_K k4;
    x4k_get(o, r, &k4);
    b->d = k4.d;
    b->dmin = k4.dmin;
    memcpy(b->scales, k4.scales, sizeof b->scales);
    memcpy(b->qs, k4.qs, sizeof b->qs);
    for (int h = 0; h < 2; h++)
        memcpy(b->qh + 16 * h, o + 576 + 64 * h + 16 * r, 16);
}

/* Q5_0 x4 block position (88 bytes = 4 x 22): d x4 at 0 (F16); at 8 a
 * 64-bit mask of the 5th bits of values 0..15 (bit 16 r + j: value j of
 * row r), at 16 the same for values 16..31; the 4 rows' 16 nibble bytes as
 * stored at 24 + 16 r (byte j: value j low nibble, j + 16 high). */
static void x5_put(uint8_t *o, const uint8_t *rows, size_t row_bytes, int64_t i)
{
    uint64_t lo = 0, hi = 0;
    for (int r = 0; r < HH_X4_ROWS; r++) {
        const hh_block_q5_0 *b = (const hh_block_q5_0 *)(rows + (size_t)r * row_bytes) + i;
        uint32_t qh;
        memcpy(&qh, b->qh, 4);
        lo |= (uint64_t)(qh & 0xffff) << (16 * r);
        hi |= (uint64_t)(qh >> 16) << (16 * r);
        memcpy(o + 2 * r, &b->d, 2);
        memcpy(o + 24 + 16 * r, b->qs, 16);
    }
    memcpy(o + 8, &lo, 8);
    memcpy(o + 16, &hi, 8);
}

/* Q6_K stored layout: 6-bit value v (0..255) of a block; g = v / 32 takes
 * nibble g >> 1 & 1 of ql[64 (g >> 2) + 32 (g & 1) + v % 32] and bits
 * 2 (g & 3) of qh[32 (g >> 2) + v % 32]. */
static void q6_at(int v, int *ql, int *qls, int *qh, int *qhs)
{
    const int g = v / 32, l = v % 32, h = g >> 2, k = g & 3;
    *ql = 64 * h + 32 * (k & 1) + l;
    *qls = 4 * (k >> 1);
    *qh = 32 * h + l;
    *qhs = 2 * k;
}

/* Q6_K x4 super-block (840 bytes = 4 x 210): d x4 at 0 (F16); the signed
 * scales of sub-blocks 0..7 of row r at 8 + 8 r, of 8..15 at 40 + 8 r;
 * low nibble chunks n = 0..7 at 72 + 64 n (row r's byte l at + 16 r + l:
 * value 32 n + l low nibble, value 32 n + 16 + l high nibble); top-bit
 * chunks h = 0..3 at 584 + 64 h (row r's byte l at + 16 r + l: bits 2 e..
 * 2 e + 1 are the top 2 bits of value 64 h + 16 e + l). */
static void x6k_put(uint8_t *o, int r, const hh_block_q6_K *b)
{
    uint8_t q[HH_QK_K];
    for (int v = 0; v < HH_QK_K; v++) {
        int ql, qls, qh, qhs;
        q6_at(v, &ql, &qls, &qh, &qhs);
        q[v] = (uint8_t)(((b->ql[ql] >> qls) & 0x0f) | (((b->qh[qh] >> qhs) & 3) << 4));
    }
    memcpy(o + 2 * r, &b->d, 2);
    memcpy(o + 8 + 8 * r, b->scales, 8);
    memcpy(o + 40 + 8 * r, b->scales + 8, 8);
    for (int n = 0; n < 8; n++)
        for (int l = 0; l < 16; l++)
            o[72 + 64 * n + 16 * r + l] = (uint8_t)((q[32 * n + l] & 0x0f) | ((q[32 * n + 16 + l] & 0x0f) << 4));
    for (int h = 0; h < 4; h++)
        for (int l = 0; l < 16; l++) {
            uint8_t t = 0;
            for (int e = 0; e < 4; e++)
                t |= (uint8_t)((q[64 * h + 16 * e + l] >> 4) << (2 * e));
            o[584 + 64 * h + 16 * r + l] = t;
        }
}

static void x6k_get(const uint8_t *o, int r, hh_block_q6_K *b)
{
    memset(b, 0, sizeof(*b));
    memcpy(&b->d, o + 2 * r, 2);
    memcpy(b->scales, o + 8 + 8 * r, 8);
    memcpy(b->scales + 8, o + 40 + 8 * r, 8);
    for (int v = 0; v < HH_QK_K; v++) {
        const int n = v / 32, l = v % 16, hi = (v / 16) & 1, h = v / 64, e = (v / 16) & 3;
        const int lo4 = (o[72 + 64 * n + 16 * r + l] >> (4 * hi)) & 0x0f;
        const int top = (o[584 + 64 * h + 16 * r + l] >> (2 * e)) & 3;
        int ql, qls, qh, qhs;
        q6_at(v, &ql, &qls, &qh, &qhs);
        b->ql[ql] |= (uint8_t)(lo4 << qls);
        b->qh[qh] |= (uint8_t)(top << qhs);
    }
}

int hh_repack_x4(hh_mat_t *w)
{
    const int64_t nb = w->n_in / x4_qk(w->type);
    const size_t grp = HH_X4_ROWS * w->row_bytes;
    uint8_t *tmp = malloc(grp);
    if (tmp == NULL)
        return HH_ENOMEM;
    const bool q8 = w->type == HH_TYPE_Q8_0;
    const size_t blk = x4_blk(w->type);
    uint8_t *base = (uint8_t *)(uintptr_t)w->data;
    for (int64_t g = 0; g < w->n_out / HH_X4_ROWS; g++) {
        uint8_t *dst = base + (size_t)g * grp;
        memcpy(tmp, dst, grp);
        for (int64_t i = 0; i < nb; i++) {
            uint8_t *o = dst + (size_t)i * blk;
            if (w->type == HH_TYPE_Q4_K) {
                const hh_block_q4_K *b[HH_X4_ROWS];
                for (int r = 0; r < HH_X4_ROWS; r++)
                    b[r] = (const hh_block_q4_K *)(tmp + (size_t)r * w->row_bytes) + i;
                x4k_put(o, b);
                continue;
            }
            if (w->type == HH_TYPE_Q5_K) {
                const hh_block_q5_K *b[HH_X4_ROWS];
                for (int r = 0; r < HH_X4_ROWS; r++)
                    b[r] = (const hh_block_q5_K *)(tmp + (size_t)r * w->row_bytes) + i;
                x5k_put(o, b);
                continue;
            }
            if (w->type == HH_TYPE_Q5_0) {
                x5_put(o, tmp, w->row_bytes, i);
                continue;
            }
            if (w->type == HH_TYPE_Q6_K) {
                for (int r = 0; r < HH_X4_ROWS; r++)
                    x6k_put(o, r, (const hh_block_q6_K *)(tmp + (size_t)r * w->row_bytes) + i);
                continue;
            }
            for (int r = 0; r < HH_X4_ROWS; r++) {
                const uint8_t *row = tmp + (size_t)r * w->row_bytes;
                if (q8) {
                    const hh_block_q8_0 *b = (const hh_block_q8_0 *)row + i;
                    memcpy(o + 2 * r, &b->d, 2);
                    for (int l = 0; l < 16; l++) {
                        o[8 + 16 * r + l] = (uint8_t)((uint8_t)b->qs[l] ^ 0x80);
                        o[72 + 16 * r + l] = (uint8_t)((uint8_t)b->qs[16 + l] ^ 0x80);
                    }
                } else {
                    /* Q4_0 and IQ4_NL: the same 18 bytes (F16 d, 16 nibble bytes) */
                    _Static_assert(sizeof(hh_block_q4_0) == sizeof(hh_block_iq4_nl), "same layout");
                    const hh_block_q4_0 *b = (const hh_block_q4_0 *)row + i;
                    memcpy(o + 2 * r, &b->d, 2);
                    memcpy(o + 8 + 16 * r, b->qs, 16);
                }
            }
        }
    }
    free(tmp);
    w->x4 = true;
    return HH_OK;
}

void hh_x4_dequant_row(const hh_mat_t *w, int64_t r, float *out)
{
    const size_t grp = HH_X4_ROWS * w->row_bytes, blk = x4_blk(w->type);
    const int rr = (int)(r % HH_X4_ROWS);
    const uint8_t *g = (const uint8_t *)w->data + (size_t)(r / HH_X4_ROWS) * grp;
    if (w->type == HH_TYPE_Q4_K || w->type == HH_TYPE_Q5_K || w->type == HH_TYPE_Q6_K) {
        /* super-blocks: rebuild row rr's stored block, then dequantize it */
        hh_dequant_fn deq = hh_kernels_for(HH_ISA_SCALAR)->dequant[w->type];
        for (int64_t i = 0; i < w->n_in / HH_QK_K; i++) {
            union { hh_block_q4_K k4; hh_block_q5_K k5; hh_block_q6_K k6; } b;
            const uint8_t *o = g + (size_t)i * blk;
            if (w->type == HH_TYPE_Q4_K)
                x4k_get(o, rr, &b.k4);
            else if (w->type == HH_TYPE_Q5_K)
                x5k_get(o, rr, &b.k5);
            else
                x6k_get(o, rr, &b.k6);
            deq(&b, out + i * HH_QK_K, HH_QK_K);
        }
        return;
    }
    for (int64_t i = 0; i < w->n_in / 32; i++, out += 32) {
        const uint8_t *b = g + (size_t)i * blk;
        uint16_t h;
        memcpy(&h, b + 2 * rr, 2);
        const float d = hh_fp16_to_f32(h);
        if (w->type == HH_TYPE_Q5_0) {
            uint64_t lo, hi;
            memcpy(&lo, b + 8, 8);
            memcpy(&hi, b + 16, 8);
            for (int l = 0; l < 16; l++) {
                const uint8_t q = b[24 + 16 * rr + l];
                const int h0 = (int)((lo >> (16 * rr + l)) & 1), h1 = (int)((hi >> (16 * rr + l)) & 1);
                out[l] = d * (float)(((q & 0x0f) | (h0 << 4)) - 16);
                out[16 + l] = d * (float)(((q >> 4) | (h1 << 4)) - 16);
            }
        } else if (w->type == HH_TYPE_Q8_0) {
            for (int l = 0; l < 16; l++) {
                out[l] = d * (float)(int8_t)(b[8 + 16 * rr + l] ^ 0x80);
                out[16 + l] = d * (float)(int8_t)(b[72 + 16 * rr + l] ^ 0x80);
            }
        } else if (w->type == HH_TYPE_IQ4_NL) {
            for (int l = 0; l < 16; l++) {
                const uint8_t q = b[8 + 16 * rr + l];
                out[l] = d * (float)hh_iq4_value(q & 0x0f);
                out[16 + l] = d * (float)hh_iq4_value(q >> 4);
            }
        } else {
            for (int l = 0; l < 16; l++) {
                const uint8_t q = b[8 + 16 * rr + l];
                out[l] = d * (float)((int)(q & 0x0f) - 8);
                out[16 + l] = d * (float)((int)(q >> 4) - 8);
            }
        }
    }
}
