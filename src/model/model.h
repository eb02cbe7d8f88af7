/* model.h - loaded models, evaluation contexts and embedding contexts.
 *
 * hh_model_t: the weights of one GGUF model (llama family incl. Mistral,
 * TinyLlama, SmolLM; qwen2; qwen3; qwen3moe; gemma3; gpt-oss), read-only and shareable between threads
 * and contexts. hh_ctx_t: a KV cache for up to n_seq sequences plus scratch
 * buffers; hh_ctx_decode() runs one batch of tokens (prefill or decode, any
 * mix of sequences) through the model. A context is used by one thread at a
 * time. */
#ifndef HH_MODEL_MODEL_H
#define HH_MODEL_MODEL_H

#include "base/err.h"
#include "base/threadpool.h"
#include "gguf/gguf.h"

#include <stdbool.h>
#include <stdint.h>

typedef enum hh_arch { HH_ARCH_LLAMA = 0, HH_ARCH_QWEN2, HH_ARCH_QWEN3, HH_ARCH_BERT,
                      HH_ARCH_QWEN3MOE, HH_ARCH_GEMMA3, HH_ARCH_GPTOSS, HH_ARCH_PHI3, HH_ARCH_COUNT } hh_arch_t;

/* How an embedding model turns per-token hidden states into one vector
 * (GGUF <arch>.pooling_type). */
typedef enum hh_pooling {
    HH_POOLING_NONE = 0,   /* per-token states only (hh_embed_hidden) */
    HH_POOLING_MEAN = 1,   /* mean over all tokens incl. [CLS]/[SEP] */
    HH_POOLING_CLS  = 2,   /* the first token's state */
} hh_pooling_t;

typedef enum hh_rope_style {
    HH_ROPE_NORM = 0,   /* rotate adjacent pairs (2i, 2i+1): llama */
    HH_ROPE_NEOX = 1,   /* rotate (i, i + n_rot/2): qwen2, qwen3 */
} hh_rope_style_t;

typedef struct hh_hparams {
    hh_arch_t       arch;
    const char     *arch_name;      /* general.architecture */
    int32_t         n_vocab;
    int32_t         n_ctx_train;
    int32_t         n_embd;
    int32_t         n_layer;
    int32_t         n_head;
    int32_t         n_head_kv;
    int32_t         head_dim;       /* key/value length per head */
    int32_t         n_ff;
    int32_t         n_rot;          /* rotated dims per head (<= head_dim) */
    float           rms_eps;
    float           rope_base;
    hh_rope_style_t rope_style;
    float           rope_scale;     /* linear position scale (1 = none) */
    bool            has_rope_freqs; /* rope_freqs.weight present (Llama 3.1+ scaling) */
    bool            tied_output;    /* no output.weight: logits use token_embd */
    /* Embedding models (bert) only; added by the bert engineer: */
    bool            embedding;      /* encoder-only: hh_embed_*, no hh_ctx_t */
    hh_pooling_t    pooling;        /* <arch>.pooling_type (absent: MEAN) */
    float           norm_eps;       /* LayerNorm epsilon (<arch>.attention.layer_norm_epsilon) */
    /* Mixture-of-experts (qwen3moe, moe.c); 0 for dense models: */
    int32_t         n_expert;       /* <arch>.expert_count */
    int32_t         n_expert_used;  /* <arch>.expert_used_count: experts per token */
    int32_t         n_ff_exp;       /* <arch>.expert_feed_forward_length: one expert's width */
    /* gemma3 only (model.c read_gemma3_hparams; 0 otherwise): */
    int32_t         n_swa;          /* attention.sliding_window: a local layer's query at
                                       position i sees keys j with 0 <= i - j < n_swa */
    int32_t         swa_period;     /* layer il is global iff il % swa_period == swa_period - 1 */
    float           rope_base_swa;  /* local layers' RoPE base (no scaling there) */
    float           attn_scale;     /* query scale (1/sqrt(head_dim); 27B: 1/sqrt(n_embd/n_head)) */
    float           logit_softcap;  /* final_logit_softcapping c: logits = c tanh(logits / c); 0 = none */
    /* YaRN RoPE scaling (gpt-oss; rope_scale stays 1): yarn_factor 0 = none */
    float           yarn_factor;    /* rope.scaling.factor F: interpolated angles are theta / F */
    int32_t         yarn_orig_ctx;  /* rope.scaling.original_context_length L0 */
    float           yarn_beta_fast; /* ramp ends (llama.cpp defaults 32 and 1) */
    float           yarn_beta_slow;
    float           yarn_mscale;    /* cos and sin multiplied by it: 1 + 0.1 ln F */
} hh_hparams_t;

typedef struct hh_model_params {
    hh_gguf_load_t load;    /* mmap (default) or read into memory */
    bool           mlock;
} hh_model_params_t;

typedef struct hh_model hh_model_t;

hh_model_params_t hh_model_default_params(void);

/* Loads a model. Unknown architectures and tensor types fail with
 * HH_EUNSUPPORTED and a message listing what is supported. Caller owns *out. */
int  hh_model_load(hh_model_t **out, const char *path, const hh_model_params_t *params, hh_err_t *err);
void hh_model_free(hh_model_t *m);

const hh_hparams_t *hh_model_hparams(const hh_model_t *m);
/* True for encoder-only embedding models (bert): they have no hh_ctx_t
 * (hh_ctx_create refuses them with HH_EUNSUPPORTED); use hh_embed_*. */
bool                hh_model_is_embedding(const hh_model_t *m);
/* Width of the model's hidden states and embeddings. */
int32_t             hh_model_n_embd(const hh_model_t *m);
const hh_gguf_t    *hh_model_gguf(const hh_model_t *m);
/* Bytes of weight data the model reads per generated token (for rooflines). */
uint64_t            hh_model_weight_bytes(const hh_model_t *m);

typedef enum hh_kv_type { HH_KV_F16 = 0, HH_KV_F32 = 1 } hh_kv_type_t;

typedef struct hh_ctx_params {
    int32_t      n_ctx;       /* positions per sequence; 0 = min(n_ctx_train, 4096) */
    int32_t      n_seq;       /* independent sequences in the KV cache (>= 1) */
    int32_t      n_batch;     /* max tokens per hh_ctx_decode call; 0 = 512 */
    int32_t      n_threads;   /* used when pool is NULL; 0 = number of cores */
    hh_pool_t   *pool;        /* optional shared pool (not owned) */
    hh_kv_type_t kv_type;     /* default F16 */
    bool         exact;       /* true: F32 math on the dequantized weights (tier A);
                                 default false: activations rounded to 8 bits per
                                 block and integer dots where the weight type has
                                 them (tier B, like llama.cpp; several times faster) */
    bool         swa_full;    /* sliding-window layers (gemma3) keep every position, as
                                 global layers do; default false: they keep only the
                                 window plus a batch, so their memory is bounded by
                                 the window, not n_ctx (hh_ctx_seq_truncate) */
} hh_ctx_params_t;

typedef struct hh_ctx hh_ctx_t;

hh_ctx_params_t hh_ctx_default_params(void);
int  hh_ctx_create(hh_ctx_t **out, const hh_model_t *m, const hh_ctx_params_t *params, hh_err_t *err);
void hh_ctx_free(hh_ctx_t *c);

/* A batch of tokens. Each token is appended to its sequence at that
 * sequence's current length; tokens of one sequence appear in order. */
typedef struct hh_batch {
    int32_t        n_tokens;
    const int32_t *tokens;
    const int32_t *seq;      /* NULL: every token belongs to sequence 0 */
    const bool    *logits;   /* NULL: logits for the last token only */
} hh_batch_t;

/* Evaluates a batch. Fails without changing the cache on bad ids (HH_ERANGE),
 * a full sequence (HH_EFULL: context length reached) or a batch larger than
 * n_batch (HH_EINVAL). */
int hh_ctx_decode(hh_ctx_t *c, const hh_batch_t *batch, hh_err_t *err);

/* Logits (n_vocab floats) of batch token i of the last decode; NULL if that
 * token's logits were not requested. Valid until the next decode. */
const float *hh_ctx_logits(const hh_ctx_t *c, int32_t i);

int32_t hh_ctx_n_ctx(const hh_ctx_t *c);
/* Tokens held for a sequence. */
int32_t hh_ctx_seq_len(const hh_ctx_t *c, int32_t seq);
/* Drops a sequence's cached positions from pos on (0 clears it). A model
 * with sliding-window layers and a window cache (swa_full false) only holds
 * the last window on those layers: going back before the last decode's
 * first position may need positions it no longer has, and then the whole
 * sequence is cleared. Read hh_ctx_seq_len for what is kept. Going back
 * within the last decode's batch always keeps pos. */
int     hh_ctx_seq_truncate(hh_ctx_t *c, int32_t seq, int32_t pos);
/* Bytes of KV cache (K and V, all layers and sequences) the context holds. */
size_t  hh_ctx_kv_bytes(const hh_ctx_t *c);

/* ---- embeddings (bert.c) ------------------------------------------------
 *
 * An embedding context runs an encoder-only model (bert) over token ids:
 * tokenize with hh_tokenize(add_special = true) so each text is
 * [CLS] ... [SEP]. One text holds at most hh_embed_max_tokens() ids (the
 * model's context length); longer input fails with HH_ERANGE; callers that
 * prefer to cut it use hh_embed_truncate(). A context is used by one thread
 * at a time (serialize with a mutex or use one context per thread); the
 * model is shared. */

typedef struct hh_embed_params {
    int32_t    max_batch;   /* tokens per forward pass, all texts together; 0 = max(512, context length) */
    int32_t    n_threads;   /* used when pool is NULL; 0 = number of cores */
    hh_pool_t *pool;        /* optional shared pool (not owned) */
    bool       exact;       /* true: F32 math on dequantized weights (tier A);
                               default false: 8-bit activations + integer dots (tier B) */
} hh_embed_params_t;

typedef struct hh_embed_ctx hh_embed_ctx_t;

hh_embed_params_t hh_embed_default_params(void);

/* Creates an embedding context for m (which must outlive it). Fails with
 * HH_EUNSUPPORTED when m is not an embedding model. Caller owns *out. */
int  hh_embed_ctx_create(hh_embed_ctx_t **out, const hh_model_t *m, const hh_embed_params_t *params,
                         hh_err_t *err);
void hh_embed_ctx_free(hh_embed_ctx_t *c);

/* Most ids one text may have (the model's context length). */
int32_t hh_embed_max_tokens(const hh_embed_ctx_t *c);

/* Cuts ids (n of them, in place) to at most max tokens, keeping the last id
 * (the [SEP] the tokenizer appended) at the end. Returns the new count. */
int32_t hh_embed_truncate(int32_t *ids, int32_t n, int32_t max);

/* Embeds one text: out (n_embd floats) = the model's pooling of the final
 * hidden states, L2-normalized. Errors: HH_EINVAL (n < 1), HH_ERANGE (an id
 * outside the vocabulary, or n > hh_embed_max_tokens), HH_EUNSUPPORTED
 * (the model's pooling is NONE). */
int hh_embed(hh_embed_ctx_t *c, const int32_t *ids, int32_t n, float *out, hh_err_t *err);

/* Embeds n_texts texts: text i is ids[offsets[i] .. offsets[i+1]) (offsets
 * has n_texts + 1 entries, non-decreasing, offsets[0] = 0); out is
 * (n_texts, n_embd). Texts share forward passes of up to max_batch tokens
 * (attention stays within each text); results equal hh_embed per text. */
int hh_embed_batch(hh_embed_ctx_t *c, const int32_t *ids, const int32_t *offsets, int32_t n_texts, float *out,
                   hh_err_t *err);

/* Final hidden states of one text, no pooling or normalization: out is
 * (n, n_embd). Same errors as hh_embed except the pooling one. */
int hh_embed_hidden(hh_embed_ctx_t *c, const int32_t *ids, int32_t n, float *out, hh_err_t *err);

#endif
