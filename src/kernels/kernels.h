/* kernels.h - the run-time dispatch table of compute kernels.
 *
 * Every kernel has a plain scalar reference (kernels_ref.c); per-ISA files
 * (kernels_avx2.c, kernels_avx512.c, kernels_neon.c) override the entries
 * they speed up and inherit the rest from the reference. The table is chosen
 * once, on first use, from hh_cpu_isa(). */
#ifndef HH_KERNELS_KERNELS_H
#define HH_KERNELS_KERNELS_H

#include "base/cpu.h"
#include "kernels/quant.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Converts n values (a multiple of the type's block size) of one row to F32. */
typedef void (*hh_dequant_fn)(const void *src, float *dst, int64_t n);

/* Dot product of a row of n weights of the entry's type with n F32 values,
 * computed on the exact dequantized weights with F32 accumulation. */
typedef float (*hh_dot_f32_fn)(int64_t n, const void *w, const float *x);

/* Quantized-activation products (tier B: activations rounded to 8 bits
 * per block, as llama.cpp does; weights used as stored, integer dots).
 *
 * hh_quant_act_fn: quantizes n F32 values (a multiple of the activation
 * type's block: 32 for HH_TYPE_Q8_0, 256 for HH_TYPE_Q8_K) into blocks of
 * that type at y (hh_type_row_size(type, n) bytes).
 * hh_qdot_fn: out[c] = dot(weight row w of n values, activation row c) for
 * c < nc (1..HH_QDOT_MAX_COLS); activation row c starts xq + c * xq_stride
 * bytes and is in the type act_type[weight type]. Each weight block is
 * decoded once for all nc rows. */
#define HH_QDOT_MAX_COLS 4
typedef void (*hh_quant_act_fn)(const float *x, void *y, int64_t n);
typedef void (*hh_qdot_fn)(int64_t n, const void *w, const void *xq, size_t xq_stride, int nc, float *out);

/* Row-interleaved ("x4") weight layout for Q4_0, Q8_0, Q5_0 and IQ4_NL (repacked at load
 * by hh_repack_x4, src/model/repack.c): rows in groups of 4; group g takes
 * the bytes of its 4 original rows, and holds per block position i, in
 * order, the 4 rows' F16 scales, then the 4 rows' values:
 *   Q4_0, IQ4_NL: 4 x 16 bytes of nibbles as stored (byte j: value j low, j+16 high)
 *   Q8_0: 4 x 16 bytes of values 0..15, then 4 x 16 bytes of values 16..31,
 *         each stored as value + 128 (unsigned)
 *   Q5_0: two 64-bit masks of the 4 rows' 5th bits (values 0..15, then
 *         16..31; bit 16 r + j), then 4 x 16 nibble bytes as Q4_0
 * (Q4_K: its own 576-byte super-block layout, see repack.c)
 * so one 512-bit register holds the same block position of 4 rows.
 *
 * Activations for it: hh_block_q8x (32 values rounded as HH_TYPE_Q8_0,
 * the step d the F16-rounded Q8_0 step as F32, s = -2 d sum(q)).
 * hh_quant_x4_fn quantizes n values (multiple of 32) into n / 32 blocks.
 * hh_gemm_x4_fn: y[t * y_stride + 4 g + r] = dot(row r of group g, x row t)
 * for g < n_grp, t < n_tok; group g starts w + g * grp_bytes, x row t at
 * xq + t * xq_stride. Every (row, token) result is computed the same way
 * whatever n_grp / n_tok, so batched prefill equals token-by-token decode. */
#define HH_X4_ROWS 4
typedef struct { float d, s; int8_t qs[32]; } hh_block_q8x;
typedef void (*hh_quant_x4_fn)(const float *x, void *y, int64_t n);
typedef void (*hh_gemm_x4_fn)(int64_t n, const void *w, int64_t n_grp, size_t grp_bytes,
                              const void *xq, size_t xq_stride, int32_t n_tok, float *y, size_t y_stride);

/* Causal attention of a block of query rows against one KV head
 * (flash-attention style: the cache is read in tiles of HH_ATTN_TILE
 * positions, each tile converted to F32 once for all rows of the block, with
 * a running maximum and sum per row instead of a stored score row).
 * Query row (t, h), t < n_tok, h < n_head, starts at q + t * q_stride +
 * h * hd; its result goes to the same place in out. Token t sees positions
 * 0 .. n_pos[t] - 1 (n_pos[t] >= 1); cache row p starts at k / v + p *
 * kv_stride bytes, F16 when f16 else F32. scratch holds
 * hh_attn_scratch_floats(hd, n_tok * n_head) floats. A row's
 * result depends only on its own query, n_pos and the cache (tiles always
 * start at multiples of HH_ATTN_TILE), never on the other rows, so batched
 * prefill equals token-by-token decoding bit for bit. */
#define HH_ATTN_TILE 32
typedef struct hh_attn_job {
    int32_t        hd, n_tok, n_head;
    const float   *q;
    float         *out;
    size_t         q_stride;     /* floats */
    const int32_t *n_pos;
    const void    *k, *v;
    size_t         kv_stride;    /* bytes */
    bool           f16;
    float          scale;
    float         *scratch;
    const float   *sink;         /* (n_head) or NULL: per-head logit s_h added to the softmax
                                    denominator only, weight_j = e^(a_j) / (sum e^(a) + e^(s_h)) (gpt-oss) */
} hh_attn_job_t;
typedef void (*hh_attn_fn)(const hh_attn_job_t *j);
size_t hh_attn_scratch_floats(int32_t hd, int32_t n_rows);

/* SwiGLU: g[i] = silu(g[i]) * u[i] = g[i] / (1 + e^-g[i]) * u[i], i < n. */
typedef void (*hh_swiglu_fn)(float *g, const float *u, int64_t n);

typedef struct hh_kernels {
    hh_isa_t      isa;
    hh_dequant_fn dequant[HH_TYPE_COUNT];  /* NULL for types without a kernel */
    hh_dot_f32_fn dot[HH_TYPE_COUNT];
    /* by weight type; qdot NULL (act_type 0) where there is none */
    hh_qdot_fn      qdot[HH_TYPE_COUNT];
    uint32_t        act_type[HH_TYPE_COUNT];   /* HH_TYPE_Q8_0 or HH_TYPE_Q8_K */
    /* by activation type (HH_TYPE_Q8_0, HH_TYPE_Q8_K) */
    hh_quant_act_fn quant_act[HH_TYPE_COUNT];
    /* x4 layout (see above); gemm_x4 NULL for types without it */
    hh_gemm_x4_fn   gemm_x4[HH_TYPE_COUNT];
    hh_quant_x4_fn  quant_x4;
    hh_attn_fn      attn;
    hh_swiglu_fn    swiglu;
} hh_kernels_t;

/* Table for this CPU (best ISA, capped by HOHEIT_ISA). Never NULL. */
const hh_kernels_t *hh_kernels(void);

/* Table of one ISA; NULL if not compiled into this binary or the CPU lacks it.
 * Tests use it to compare every variant with the scalar reference. */
const hh_kernels_t *hh_kernels_for(hh_isa_t isa);

#endif
