/* quantize.h - scalar reference quantizers (F32 -> block formats) and the
 * model quantizer behind `hoheit quantize`.
 *
 * Row quantizers follow the formats' reference algorithms without an
 * importance matrix: Q8_0 / Q4_0 / Q5_0 round against the block's absolute
 * maximum, Q4_1 / Q5_1 against min and max, and the K-quants search each
 * sub-block's scale (and min) by weighted least squares over a sweep of
 * candidate scales, then quantize the sub-block scales themselves. */
#ifndef HH_KERNELS_QUANTIZE_H
#define HH_KERNELS_QUANTIZE_H

#include "base/err.h"

#include <stdbool.h>
#include <stdint.h>

/* Quantizes one row of n floats to type (an hh_type_t id) into dst, which
 * must hold the row's size (hh_type_row_size). n must be a multiple of the
 * type's block size. Supported: F32 (copy), F16, BF16, Q8_0, Q4_0, Q4_1,
 * Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS. Returns HH_OK, HH_EINVAL for a
 * bad n or NULL pointers, HH_EUNSUPPORTED for a type without a quantizer.
 * Deterministic; does not allocate; thread-safe. */
int hh_quantize_row(uint32_t type, const float *src, void *dst, int64_t n);

/* True if hh_quantize_row supports type. */
bool hh_quantize_supported(uint32_t type);

/* A named quantization (what `hoheit quantize ... TYPE` accepts). */
typedef struct hh_quant_mix {
    const char *name;       /* "q4_k_m" */
    uint32_t    base_type;  /* type of most 2-D weights */
    uint32_t    ftype;      /* llama.cpp LLAMA_FTYPE value written to general.file_type */
} hh_quant_mix_t;

/* Mixture by name (case-insensitive; q3_k = q3_k_m, q4_k = q4_k_s,
 * q5_k = q5_k_s); NULL if unknown. */
const hh_quant_mix_t *hh_quant_mix_find(const char *name);

/* Space-separated list of accepted names (for usage messages). */
const char *hh_quant_mix_names(void);

/* Type a tensor gets under a mixture, following llama.cpp's rules:
 * only 2-D tensors whose name ends in "weight" (not "_norm.weight", not
 * the MoE router "ffn_gate_inp") and 3-D stacked experts ("*_exps.weight",
 * row by row) are converted; others keep src_type. Unless pure: output.weight (and
 * token_embd.weight when the model has no output.weight) gets Q6_K for
 * quantized mixtures other than q8_0; attn_v / ffn_down / attn_output get
 * the mixture's extra bits (see quantize.c). A row length that is not a
 * multiple of the chosen type's block size falls back to a compatible type
 * (Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0, Q2_K / Q3_K -> Q4_0, then F16).
 * layer / n_layer: the tensor's block index ("blk.N.") and the model's
 * layer count (-1 / 0 if unknown); has_output: the model has output.weight;
 * n_gqa: n_head / n_head_kv (Q2_K's attn_v rule). */
uint32_t hh_quant_tensor_type(const hh_quant_mix_t *mix, bool pure, const char *name,
                              uint32_t n_dims, const int64_t *ne, uint32_t src_type,
                              int layer, int n_layer, bool has_output, int n_gqa);

typedef struct hh_quantize_params {
    int  n_threads;   /* >= 1; default 1 */
    bool pure;        /* every quantizable tensor gets the base type */
    bool verbose;     /* print the per-tensor table and totals to stderr */
} hh_quantize_params_t;

hh_quantize_params_t hh_quantize_default_params(void);

/* Reads the GGUF at in_path (F32 / F16 / BF16 weights) and writes out_path
 * with every kv copied, general.file_type and general.quantization_version
 * (2) set, and each tensor converted per hh_quant_tensor_type. Tensors are
 * converted one at a time while writing (memory: one tensor's F32 copy).
 * A tensor already in a quantized type is copied unchanged if it keeps its
 * type, else HH_EUNSUPPORTED naming the tensor. p may be NULL (defaults).
 * Returns HH_OK or a negative code with details in err. */
int hh_quantize_file(const char *in_path, const char *out_path, const char *type_name,
                     const hh_quantize_params_t *p, hh_err_t *err);

#endif
