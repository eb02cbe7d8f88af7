/* model_int.h - private layout of hh_model_t / hh_ctx_t, shared by model.c
 * (loading), matmul.c (weights x activations) and llama.c (the forward pass).
 *
 * Weight pointers point into the GGUF reader's mapping (never copied); only
 * 1-D vectors stored in a non-F32 type are converted into small buffers the
 * model owns. Shapes are written (rows, row length) as the matrix is used:
 * y = W x with W of n_out rows of n_in values (GGUF ne = [n_in, n_out]). */
#ifndef HH_MODEL_MODEL_INT_H
#define HH_MODEL_MODEL_INT_H

#include "model/model.h"
#include "kernels/kernels.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A 2-D weight matrix in its stored type. */
typedef struct hh_mat {
    const void *data;       /* n_out rows of row_bytes, in the GGUF mapping */
    uint32_t    type;       /* hh_type_t */
    int64_t     n_in;       /* row length (GGUF ne[0]) */
    int64_t     n_out;      /* rows (GGUF ne[1]) */
    size_t      row_bytes;
    size_t      nbytes;
    bool        x4;         /* rows interleaved in groups of 4 (kernels.h x4 layout, repack.c) */
} hh_mat_t;

/* One transformer block. n_q = n_head * head_dim, n_kv = n_head_kv * head_dim. */
typedef struct hh_layer {
    const float *attn_norm;  /* (n_embd) */
    hh_mat_t     wq;         /* (n_q, n_embd): rows of n_embd */
    hh_mat_t     wk;         /* (n_kv, n_embd) */
    hh_mat_t     wv;         /* (n_kv, n_embd) */
    const float *bq;         /* (n_q) or NULL: qwen2 biases */
    const float *bk;         /* (n_kv) or NULL */
    const float *bv;         /* (n_kv) or NULL */
    const float *q_norm;     /* (head_dim) or NULL: qwen3 per-head RMSNorm */
    const float *k_norm;     /* (head_dim) or NULL */
    hh_mat_t     wo;         /* (n_embd, n_q): rows of n_q */
    const float *ffn_norm;   /* (n_embd) */
    hh_mat_t     w_gate;     /* (n_ff, n_embd) */
    hh_mat_t     w_up;       /* (n_ff, n_embd) */
    hh_mat_t     w_down;     /* (n_embd, n_ff): rows of n_ff */
    /* bert only (NULL otherwise): output biases and post-LayerNorms */
    const float *bo;         /* (n_embd) attn_output.bias */
    const float *attn_ln_w;  /* (n_embd) attn_output_norm: x = LN(x + Wo att + bo) */
    const float *attn_ln_b;  /* (n_embd) */
    const float *b_up;       /* (n_ff) ffn_up.bias */
    const float *b_down;     /* (n_embd) ffn_down.bias */
    const float *out_ln_w;   /* (n_embd) layer_output_norm: x = LN(x + ffn) */
    const float *out_ln_b;   /* (n_embd) */
    /* mixture-of-experts FFN (moe.c; NULL / zero otherwise): */
    hh_mat_t     router;     /* (n_expert, n_embd) ffn_gate_inp */
    hh_mat_t    *exp_gate;   /* (n_expert) matrices (n_ff_exp, n_embd): slices of ffn_gate_exps; owned,
                                one allocation that also holds exp_up and exp_down */
    hh_mat_t    *exp_up;     /* (n_expert) (n_ff_exp, n_embd) */
    hh_mat_t    *exp_down;   /* (n_expert) (n_embd, n_ff_exp) */
    /* gemma3 only (NULL / false otherwise) */
    const float *post_attn_norm; /* (n_embd) post_attention_norm: x += rmsnorm(Wo att) * w */
    const float *post_ffw_norm;  /* (n_embd) post_ffw_norm: x += rmsnorm(ffn) * w */
    bool         swa;            /* sliding-window (local) layer (gemma3, gpt-oss) */
    /* gpt-oss only (NULL otherwise); bq/bk/bv/bo hold its attention biases and
     * ffn_norm its post_attention_norm (the pre-FFN norm) */
    const float *attn_sinks;     /* (n_head) sink logit per head: softmax denominator term */
    const float *router_b;       /* (n_expert) ffn_gate_inp.bias */
    const float *exp_b_gate;     /* (n_expert, n_ff_exp) ffn_gate_exps.bias */
    const float *exp_b_up;       /* (n_expert, n_ff_exp) ffn_up_exps.bias */
    const float *exp_b_down;     /* (n_expert, n_embd) ffn_down_exps.bias */
} hh_layer_t;

struct hh_model {
    hh_gguf_t       *gguf;        /* owned; holds the mapped weights */
    hh_hparams_t     hp;
    hh_mat_t         tok_embd;    /* (n_vocab, n_embd): embedding rows */
    const float     *out_norm;    /* (n_embd) */
    hh_mat_t         output;      /* (n_vocab, n_embd); == tok_embd when tied */
    const float     *rope_freqs;  /* (n_rot / 2) frequency divisors, or NULL */
    hh_layer_t      *layers;      /* (n_layer), owned */
    float          **owned;       /* vectors converted to F32, owned */
    int              n_owned;
    uint64_t         weight_bytes;
    /* bert only */
    hh_mat_t         pos_embd;    /* (n_pos, n_embd): one row per position */
    hh_mat_t         tok_types;   /* (n_types, n_embd): row 0 is added to every token */
    const float     *embd_ln_w;   /* (n_embd) token_embd_norm */
    const float     *embd_ln_b;   /* (n_embd) */
};

/* Matrix product on the pool: y[t][r] = dot(W row r, x[t]) for t < n_tok,
 * r < W->n_out. x rows are W->n_in floats apart, y rows W->n_out apart.
 *
 * Two paths (matmul.c):
 *   exact (tier A): F32 math on the dequantized weights;
 *   fast (tier B, default): x rounded to 8 bits per block once per product
 *     (kern->quant_act) and integer dots against the stored weights
 *     (kern->qdot), for the weight types that have a qdot kernel; other
 *     types take the exact path. */
#define HH_MATMUL_TILE 16

/* Scratch of one context for the products, sized for its n_batch and the
 * model's widest input. Embedded in a context (llama.c, bert.c), which
 * creates it with hh_mm_ws_init and frees it with hh_mm_ws_free. */
typedef struct hh_mm_ws {
    float       **tile;     /* (n_threads) x (HH_MATMUL_TILE, max n_in) F32, owned */
    int           n_threads;
    uint8_t      *xq[2];    /* (n_batch) rows of quantized x: [0] Q8_0, [1] Q8_K; owned, NULL when exact */
    size_t        xq_cap;   /* bytes of each xq buffer */
    bool          exact;    /* force the exact path */
} hh_mm_ws_t;

/* Allocates the workspace for n_threads threads, n_batch rows of at most
 * max_in values; the quantized-x buffers only when !exact. On failure
 * returns HH_ENOMEM (err says which part) and leaves ws safe to free. */
int  hh_mm_ws_init(hh_mm_ws_t *ws, int n_threads, int32_t n_batch, int64_t max_in, bool exact, hh_err_t *err);
void hh_mm_ws_free(hh_mm_ws_t *ws);

void hh_matmul(hh_pool_t *pool, const hh_kernels_t *kern, const hh_mat_t *w,
               const float *x, float *y, int32_t n_tok, const hh_mm_ws_t *ws);

/* n_mat (<= 4) products of the same input x in one pool run: y[k] = w[k] x
 * (all w[k] have the same n_in). Saves pool wake-ups for q/k/v and gate/up. */
void hh_matmul_n(hh_pool_t *pool, const hh_kernels_t *kern, int n_mat, const hh_mat_t *const *w,
                 const float *x, float *const *y, int32_t n_tok, const hh_mm_ws_t *ws);

/* Segmented products (the experts of a batch, moe.c), one pool run: for
 * segment s < n_seg and p < n_per, y[s * n_per + p] = w[s * n_per + p] x
 * over rows seg[s] .. seg[s + 1] of x (seg[0] = 0, non-decreasing; the
 * output has seg[s + 1] - seg[s] rows of that matrix's n_out). All w have
 * the same n_in, and column p the same type and layout (n_per <= 4); x is
 * rounded once for all of them. Rows give the same results as hh_matmul. */
void hh_matmul_seg(hh_pool_t *pool, const hh_kernels_t *kern, int n_seg, int n_per, const hh_mat_t *const *w,
                   const float *x, const int32_t *seg, float *const *y, const hh_mm_ws_t *ws);

/* Weight repacking (repack.c). hh_repack_x4_ok: whether W can and should
 * take the x4 layout with these kernels (type with a gemm_x4 kernel, rows a
 * multiple of 4). hh_repack_x4: rewrites W's bytes in place into the x4
 * layout (same size) and sets W->x4; W->data must be writable memory.
 * Returns HH_OK or HH_ENOMEM (W unchanged then). */
bool hh_repack_x4_ok(const hh_kernels_t *kern, const hh_mat_t *w);
int hh_repack_x4(hh_mat_t *w);

/* Mixture-of-experts layers (moe.c). hh_moe_read_hparams: expert counts
 * and width. hh_moe_bind_layer: the router and each expert's matrices as
 * 2-D slices of the stacked 3-D tensors (no copy). hh_moe_repack: the
 * experts of a layer into the x4 layout, expert by expert. */
int  hh_moe_read_hparams(hh_model_t *m, hh_err_t *err);
int  hh_moe_bind_layer(hh_model_t *m, int il, hh_err_t *err);
int  hh_moe_repack(hh_model_t *m, int il);
void hh_moe_layer_free(hh_layer_t *l);

/* Scratch of one context for the expert FFN, sized for n_batch tokens. */
typedef struct hh_moe_ws hh_moe_ws_t;
int  hh_moe_ws_create(hh_moe_ws_t **out, const hh_model_t *m, int n_threads, int32_t n_batch, bool exact,
                      hh_err_t *err);
void hh_moe_ws_free(hh_moe_ws_t *w);

/* y = sum over the top-k experts of x's router softmax (weights
 * renormalised to 1) of expert_e(x), for n_tok rows of x (n_embd each);
 * gpt-oss layers (router_b set): biases, softmax over the chosen logits,
 * clamped SwiGLU (moe.c).
 * Tokens are grouped by expert so each chosen expert's weights are read
 * once per batch. y may alias x. */
void hh_moe_ffn(hh_moe_ws_t *w, hh_pool_t *pool, const hh_kernels_t *kern, const hh_model_t *m, int il,
                const float *x, float *y, int32_t n_tok);

/* Row r of an x4 matrix dequantized to n_in F32 values (the exact path). */
void hh_x4_dequant_row(const hh_mat_t *w, int64_t r, float *out);

/* ---- evaluation contexts (llama.c; gemma3.c runs its own pass on them) ---- */

struct hh_ctx {
    const hh_model_t   *m;
    const hh_kernels_t *kern;
    hh_pool_t          *pool;       /* params.pool (not owned) or own_pool */
    hh_pool_t          *own_pool;   /* owned, may be NULL */
    int                 n_threads;
    int32_t             n_ctx, n_seq, n_batch;
    hh_kv_type_t        kv_type;
    size_t              kv_elem;    /* bytes per cached value: 2 (F16) or 4 */

    /* KV cache, owned: (n_layer, n_seq, n_ctx, n_kv) values each */
    void               *k_cache;
    void               *v_cache;
    /* Row of (layer il, sequence s, position p): kv_row0[il] + s * kv_cap[il]
     * + p, minus swa_first[s] on sliding-window layers when swa_cache. */
    size_t             *kv_row0;    /* (n_layer), owned */
    int32_t            *kv_cap;     /* (n_layer) rows per sequence, owned */
    int32_t            *swa_first;  /* (n_seq) first position local layers hold, owned */
    bool                swa_cache;  /* local layers keep only the window (< n_ctx rows) */
    int32_t            *seq_len;    /* (n_seq) positions held */
    int32_t            *seq_add;    /* (n_seq) decode scratch: tokens added */

    /* Activations, owned, n_batch rows each */
    float *x;        /* (n_batch, n_embd) residual stream */
    float *xb;       /* (n_batch, n_embd) normed input / matmul output */
    float *q;        /* (n_batch, n_q) */
    float *k;        /* (n_batch, n_kv) */
    float *v;        /* (n_batch, n_kv) */
    float *att;      /* (n_batch, n_q) attention output */
    float *hb;       /* (n_batch, n_ff) gate, then silu(gate) * up */
    float *hb2;      /* (n_batch, n_ff) up */
    float *rope_cos; /* (n_batch, n_rot / 2) */
    float *rope_sin; /* (n_batch, n_rot / 2) */
    int32_t *pos;    /* (n_batch) position of each batch token */
    int32_t *tseq;   /* (n_batch) sequence of each batch token */

    /* Per thread, owned */
    hh_mm_ws_t mm;   /* matmul scratch: per-thread tiles and quantized x, owned */
    hh_moe_ws_t *moe; /* expert FFN scratch (moe.c) of a mixture-of-experts model, or NULL */
    float **scores;  /* (n_threads) x hh_attn_scratch_floats: attention scratch */

    /* Outputs of the last decode */
    float   *logits;      /* (logits_cap, n_vocab), owned */
    int32_t  logits_cap;
    int32_t *out_row;     /* (n_batch) row in logits of batch token i, or -1 */
    int32_t  n_last;      /* tokens in the last batch */
};

/* Checks a batch, fills c->pos / tseq / out_row and makes room for its
 * logits; changes nothing a caller can see on failure. *n_out = rows of
 * logits wanted. */
int    hh_ctx_prepare_batch(hh_ctx_t *c, const hh_batch_t *b, int32_t *n_out, hh_err_t *err);
/* Index (in values) of KV cache row (layer, seq, pos); pos must be held. */
size_t hh_ctx_kv_at(const hh_ctx_t *c, int il, int32_t seq, int32_t pos);
/* Stores n values at cache + at (values) in the context's KV type. */
void   hh_ctx_store_kv(const hh_ctx_t *c, void *cache, size_t at, const float *src, size_t n);
/* Runs fn(job) on the pool, or on the calling thread when work (elementary
 * operations) is too small to pay for waking the pool. */
void   hh_ctx_run_step(hh_ctx_t *c, hh_pool_fn fn, void *job, double work);

/* gemma3.c: the whole decode of a gemma3 model (hh_ctx_decode's contract). */
int    hh_gemma3_decode(hh_ctx_t *c, const hh_batch_t *batch, hh_err_t *err);
/* gemma3.c, shared with gptoss.c: before a batch, the window cache of the
 * sliding-window layers makes room (c->seq_add set by prepare_batch); and
 * attention of layer il for the batch's n_tok tokens (q, k, v in c; the
 * window on local layers, the layer's sinks when it has them) into c->att. */
void   hh_swa_make_room(hh_ctx_t *c);
void   hh_swa_attention(hh_ctx_t *c, int il, int32_t n_tok, double work);
/* gptoss.c: the whole decode of a gpt-oss model. */
int    hh_gptoss_decode(hh_ctx_t *c, const hh_batch_t *batch, hh_err_t *err);
#endif
