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

typedef struct hh_kernels {
    hh_isa_t      isa;
    hh_dequant_fn dequant[HH_TYPE_COUNT];  /* NULL for types without a kernel */
    hh_dot_f32_fn dot[HH_TYPE_COUNT];
    /* by weight type; qdot NULL (act_type 0) where there is none */
    hh_qdot_fn      qdot[HH_TYPE_COUNT];
    uint32_t        act_type[HH_TYPE_COUNT];   /* HH_TYPE_Q8_0 or HH_TYPE_Q8_K */
    /* by activation type (HH_TYPE_Q8_0, HH_TYPE_Q8_K) */
    hh_quant_act_fn quant_act[HH_TYPE_COUNT];
} hh_kernels_t;

/* Table for this CPU (best ISA, capped by HOHEIT_ISA). Never NULL. */
const hh_kernels_t *hh_kernels(void);

/* Table of one ISA; NULL if not compiled into this binary or the CPU lacks it.
 * Tests use it to compare every variant with the scalar reference. */
const hh_kernels_t *hh_kernels_for(hh_isa_t isa);

#endif
