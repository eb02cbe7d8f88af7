/* synth_model.h - writes small random-weight GGUF models of a given shape
 * for tests and benchmarks (tests/test_swa_mem.c, tests/test_mistral_phi.c,
 * bench/bench_swa.c), without Python.
 *
 * Weights are F32, drawn from a seeded generator per logical matrix (layer,
 * role), N(0, 1/n_in) for matrices, 1 + 0.1 N(0, 1) for norms, N(0, 1) for
 * token embeddings: the same seed gives the same values whatever the layout,
 * so a phi3 file with fused attn_qkv / ffn_up holds exactly the matrices of
 * the split file written with the same seed. No tokenizer is written unless
 * a donor GGUF is named (its tokenizer.* keys are copied). */
#ifndef HH_TESTS_SYNTH_MODEL_H
#define HH_TESTS_SYNTH_MODEL_H

#include "base/err.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct synth_model {
    const char *arch;            /* general.architecture: "llama", "qwen2" (zero biases), "gemma3", "phi3" */
    int32_t     n_vocab, n_embd, n_ff, n_head, n_head_kv, head_dim, n_layer, n_ctx_train;
    int32_t     swa, swa_period; /* gemma3 / phi3 sliding window (0: key absent) and pattern (0: absent) */
    bool        fused;           /* phi3 layout: attn_qkv and ffn_up holding gate then up */
    uint64_t    seed;
    const char *donor;           /* GGUF whose tokenizer.* keys are copied, or NULL */
    const char *chat_template;   /* tokenizer.chat_template (after the donor's), or NULL */
    const char *extra_tensor;    /* name of an extra 1-D F32 tensor of head_dim/2 ones, or NULL */
} synth_model_t;

/* A gemma3-shaped default: the caller fills in the dims. */
synth_model_t synth_model_defaults(const char *arch);

/* Writes the model to path. 0 or a negative HH_E* with err set. */
int synth_model_write(const synth_model_t *s, const char *path, hh_err_t *err);

#endif
