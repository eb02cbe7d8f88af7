/* model.c - loading a GGUF model: architecture, hyperparameters, and the
 * weight table checked against them.
 *
 * Every tensor the forward pass reads is looked up by its GGUF name, its
 * shape compared with what the hyperparameters imply and its type with the
 * kernels this binary has, before anything runs. Weights stay where the
 * GGUF reader put them (mapped or read once); nothing is copied except 1-D
 * vectors stored in a type other than F32 (norms, biases: a few KiB). */
#include "model/model_int.h"
#include "base/log.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SUPPORTED_ARCHS "llama, qwen2, qwen3, qwen3moe, bert, gemma3, gpt-oss, phi3"

/* Sanity bounds: far above any real model, low enough that every product of
 * them used for buffer sizes fits comfortably in 64 bits. */
#define MAX_EMBD   (1 << 17)
#define MAX_FF     (1 << 20)
#define MAX_LAYER  4096
#define MAX_HEAD   4096
#define MAX_HDIM   (1 << 14)
#define MAX_VOCAB  (1 << 24)

hh_model_params_t hh_model_default_params(void)
{
    hh_model_params_t p = { .load = HH_GGUF_LOAD_MMAP, .mlock = false };
    return p;
}

static const struct { const char *name; hh_arch_t arch; hh_rope_style_t rope; } g_archs[] = {
    { "llama", HH_ARCH_LLAMA, HH_ROPE_NORM },
    { "qwen2", HH_ARCH_QWEN2, HH_ROPE_NEOX },
    { "qwen3", HH_ARCH_QWEN3, HH_ROPE_NEOX },
    { "bert", HH_ARCH_BERT, HH_ROPE_NORM },   /* no RoPE: learned positions */
    { "qwen3moe", HH_ARCH_QWEN3MOE, HH_ROPE_NEOX },   /* qwen3 with expert FFNs (moe.c) */
    { "gemma3", HH_ARCH_GEMMA3, HH_ROPE_NEOX },
    { "gpt-oss", HH_ARCH_GPTOSS, HH_ROPE_NEOX },   /* sinks, alternating window, MoE with biases (gptoss.c) */
    /* Phi-3 / Phi-4: the llama block with NEOX RoPE and fused attn_qkv and
     * ffn_up (gate rows, then up rows), bound as row slices (bind_layer). Its
     * sliding_window key is ignored, as llama.cpp does; LongRoPE files (the
     * 128k variants: rope_factors_long/short) are refused in bind_weights. */
    { "phi3", HH_ARCH_PHI3, HH_ROPE_NEOX },
};

/* Reads "<arch>.<suffix>" as a positive int32. Absent: *out = dflt, or an
 * error when dflt < 0 (required key). */
static int key_i32(const hh_gguf_t *g, const char *arch, const char *suffix, int64_t dflt,
                   int64_t max, int32_t *out, hh_err_t *err)
{
    char key[256];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    int64_t v;
    int rc = hh_gguf_get_i64(g, key, &v);
    if (rc == HH_ENOENT) {
        if (dflt < 0)
            return hh_err_set(err, HH_EFORMAT, -1, "missing hyperparameter %s", key);
        v = dflt;
    } else if (rc != HH_OK) {
        return hh_err_set(err, rc == HH_EFORMAT ? HH_EUNSUPPORTED : rc, -1,
                          "hyperparameter %s is not a single integer", key);
    }
    if (v < 1 || v > max)
        return hh_err_set(err, HH_EFORMAT, -1, "hyperparameter %s = %lld out of range [1, %lld]",
                          key, (long long)v, (long long)max);
    *out = (int32_t)v;
    return HH_OK;
}

/* Reads "<arch>.<suffix>" as a float; absent: *out = dflt. */
static int key_f32(const hh_gguf_t *g, const char *arch, const char *suffix, float dflt,
                   float *out, hh_err_t *err)
{
    char key[256];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    int rc = hh_gguf_get_f32(g, key, out);
    if (rc == HH_ENOENT) {
        *out = dflt;
        return HH_OK;
    }
    if (rc != HH_OK)
        return hh_err_set(err, rc, -1, "hyperparameter %s is not a float", key);
    return HH_OK;
}

/* bert: LayerNorm epsilon, pooling, bidirectional attention. */
static int read_bert_hparams(hh_model_t *m, hh_err_t *err)
{
    const hh_gguf_t *g = m->gguf;
    hh_hparams_t *hp = &m->hp;
    const char *arch = hp->arch_name;
    hp->embedding = true;
    int rc = key_f32(g, arch, "attention.layer_norm_epsilon", 1e-12f, &hp->norm_eps, err);
    if (rc != HH_OK)
        return rc;
    if (!(hp->norm_eps > 0.0f && hp->norm_eps < 1.0f))
        return hh_err_set(err, HH_EFORMAT, -1, "%s: layer_norm_epsilon %g out of range", arch, hp->norm_eps);
    if (hp->n_head_kv != hp->n_head)
        return hh_err_set(err, HH_EFORMAT, -1, "%s: head_count_kv %d must equal head_count %d",
                          arch, hp->n_head_kv, hp->n_head);
    if ((int64_t)hp->n_head * hp->head_dim != hp->n_embd)
        return hh_err_set(err, HH_EFORMAT, -1, "%s: %d heads x %d != embedding length %d",
                          arch, hp->n_head, hp->head_dim, hp->n_embd);
    char key[256];
    snprintf(key, sizeof key, "%s.attention.causal", arch);
    bool causal = false;
    if (hh_gguf_get_bool(g, key, &causal) == HH_OK && causal)
        return hh_err_set(err, HH_EUNSUPPORTED, -1, "%s: causal attention is not supported for bert", arch);
    snprintf(key, sizeof key, "%s.pooling_type", arch);
    int64_t pool;
    rc = hh_gguf_get_i64(g, key, &pool);
    if (rc == HH_ENOENT)
        pool = HH_POOLING_MEAN;
    else if (rc != HH_OK)
        return hh_err_set(err, HH_EFORMAT, -1, "%s is not an integer", key);
    if (pool != HH_POOLING_NONE && pool != HH_POOLING_MEAN && pool != HH_POOLING_CLS)
        return hh_err_set(err, HH_EUNSUPPORTED, -1,
                          "%s = %lld is not supported (supported: 0 none, 1 mean, 2 cls)", key, (long long)pool);
    hp->pooling = (hh_pooling_t)pool;
    return HH_OK;
}

/* gemma3: sliding window and which layers use it, the local layers' RoPE
 * base, the query scale and the final logit soft-cap. Defaults follow
 * llama.cpp: window pattern 6 (every 6th layer global), local RoPE base
 * 10000 without scaling (the file's rope scaling applies to global layers). */
static int read_gemma3_hparams(hh_model_t *m, hh_err_t *err)
{
    const hh_gguf_t *g = m->gguf;
    hh_hparams_t *hp = &m->hp;
    const char *arch = hp->arch_name;
    int rc;
    if ((rc = key_i32(g, arch, "attention.sliding_window", -1, INT32_MAX, &hp->n_swa, err)) ||
        (rc = key_i32(g, arch, "attention.sliding_window_pattern", 6, MAX_LAYER, &hp->swa_period, err)) ||
        (rc = key_f32(g, arch, "rope.freq_base_swa", 10000.0f, &hp->rope_base_swa, err)) ||
        (rc = key_f32(g, arch, "final_logit_softcapping", 0.0f, &hp->logit_softcap, err)))
        return rc;
    if (!(hp->rope_base_swa > 1.0f) || !(hp->logit_softcap >= 0.0f && hp->logit_softcap < 1e6f))
        return hh_err_set(err, HH_EFORMAT, -1, "%s: rope.freq_base_swa %g or final_logit_softcapping %g out of range",
                          arch, hp->rope_base_swa, hp->logit_softcap);
    /* Gemma 3 scales queries by 1/sqrt(query_pre_attn_scalar), which is the
     * head dim except in the 27B model (62 layers): n_embd / n_head there,
     * the rule llama.cpp applies (the scalar itself is not in the GGUF). */
    float qs = hp->n_layer == 62 ? (float)hp->n_embd / (float)hp->n_head : (float)hp->head_dim;
    hp->attn_scale = 1.0f / sqrtf(qs);
    return HH_OK;
}

/* gpt-oss: experts (moe.c), the sliding window of its even layers
 * (pattern absent: llama.cpp's default 2, i.e. layer il is local iff il is
 * even) and the query scale 1/sqrt(head_dim). */
static int read_gptoss_hparams(hh_model_t *m, hh_err_t *err)
{
    const hh_gguf_t *g = m->gguf;
    hh_hparams_t *hp = &m->hp;
    int rc;
    if ((rc = hh_moe_read_hparams(m, err)) ||
        (rc = key_i32(g, hp->arch_name, "attention.sliding_window", -1, INT32_MAX, &hp->n_swa, err)) ||
        (rc = key_i32(g, hp->arch_name, "attention.sliding_window_pattern", 2, MAX_LAYER, &hp->swa_period, err)))
        return rc;
    hp->attn_scale = 1.0f / sqrtf((float)hp->head_dim);
    return HH_OK;
}

/* YaRN (rope.scaling.type "yarn"): factor F, original context L0; the ramp
 * ends beta_fast / beta_slow are llama.cpp's defaults 32 / 1 unless the
 * file has rope.scaling.yarn_beta_fast / _slow. */
static int read_yarn(hh_model_t *m, float factor, hh_err_t *err)
{
    const hh_gguf_t *g = m->gguf;
    hh_hparams_t *hp = &m->hp;
    int rc;
    if (!(factor >= 1.0f && factor <= 1e6f))
        return hh_err_set(err, HH_EFORMAT, -1, "%s: yarn scaling factor %g out of range", hp->arch_name, factor);
    if ((rc = key_i32(g, hp->arch_name, "rope.scaling.original_context_length", -1, INT32_MAX, &hp->yarn_orig_ctx, err)) ||
        (rc = key_f32(g, hp->arch_name, "rope.scaling.yarn_beta_fast", 32.0f, &hp->yarn_beta_fast, err)) ||
        (rc = key_f32(g, hp->arch_name, "rope.scaling.yarn_beta_slow", 1.0f, &hp->yarn_beta_slow, err)))
        return rc;
    if (!(hp->yarn_beta_fast > 0.0f && hp->yarn_beta_slow > 0.0f))
        return hh_err_set(err, HH_EFORMAT, -1, "%s: yarn beta_fast %g / beta_slow %g must be positive",
                          hp->arch_name, hp->yarn_beta_fast, hp->yarn_beta_slow);
    hp->yarn_factor = factor;
    hp->yarn_mscale = 1.0f + 0.1f * logf(factor);
    return HH_OK;
}

static int read_hparams(hh_model_t *m, hh_err_t *err)
{
    const hh_gguf_t *g = m->gguf;
    hh_hparams_t *hp = &m->hp;
    const char *arch;
    int rc = hh_gguf_get_str(g, "general.architecture", &arch);
    if (rc != HH_OK)
        return hh_err_set(err, HH_EFORMAT, -1, "general.architecture missing or not a string");
    hp->arch_name = arch;
    size_t i;
    for (i = 0; i < sizeof g_archs / sizeof g_archs[0]; i++)
        if (!strcmp(arch, g_archs[i].name))
            break;
    if (i == sizeof g_archs / sizeof g_archs[0])
        return hh_err_set(err, HH_EUNSUPPORTED, -1,
                          "unsupported architecture '%s' (supported: " SUPPORTED_ARCHS ")", arch);
    hp->arch = g_archs[i].arch;
    hp->rope_style = g_archs[i].rope;

    if ((rc = key_i32(g, arch, "embedding_length", -1, MAX_EMBD, &hp->n_embd, err)) ||
        (rc = key_i32(g, arch, "block_count", -1, MAX_LAYER, &hp->n_layer, err)) ||
        (rc = key_i32(g, arch, "feed_forward_length", -1, MAX_FF, &hp->n_ff, err)) ||
        (rc = key_i32(g, arch, "attention.head_count", -1, MAX_HEAD, &hp->n_head, err)) ||
        (rc = key_i32(g, arch, "context_length", 2048, INT32_MAX, &hp->n_ctx_train, err)) ||
        (rc = key_i32(g, arch, "attention.head_count_kv", hp->n_head, MAX_HEAD, &hp->n_head_kv, err)))
        return rc;
    if (hp->n_head % hp->n_head_kv != 0)
        return hh_err_set(err, HH_EFORMAT, -1, "%s: head_count %d is not a multiple of head_count_kv %d",
                          arch, hp->n_head, hp->n_head_kv);
    int32_t hd_default = hp->n_embd / hp->n_head > 0 ? hp->n_embd / hp->n_head : 1;
    int32_t v_len;
    if ((rc = key_i32(g, arch, "attention.key_length", hd_default, MAX_HDIM, &hp->head_dim, err)) ||
        (rc = key_i32(g, arch, "attention.value_length", hp->head_dim, MAX_HDIM, &v_len, err)) ||
        (rc = key_i32(g, arch, "rope.dimension_count", hp->head_dim, MAX_HDIM, &hp->n_rot, err)))
        return rc;
    if (v_len != hp->head_dim)
        return hh_err_set(err, HH_EUNSUPPORTED, -1, "%s: value_length %d != key_length %d is not supported",
                          arch, v_len, hp->head_dim);
    if (hp->n_rot > hp->head_dim || hp->n_rot % 2 != 0)
        return hh_err_set(err, HH_EFORMAT, -1, "%s: rope.dimension_count %d must be even and <= head dim %d",
                          arch, hp->n_rot, hp->head_dim);

    float eps_default = hp->arch == HH_ARCH_LLAMA ? 1e-5f : 1e-6f;
    if ((rc = key_f32(g, arch, "attention.layer_norm_rms_epsilon", eps_default, &hp->rms_eps, err)) ||
        (rc = key_f32(g, arch, "rope.freq_base", 10000.0f, &hp->rope_base, err)))
        return rc;
    if (!(hp->rms_eps > 0.0f && hp->rms_eps < 1.0f) || !(hp->rope_base > 1.0f))
        return hh_err_set(err, HH_EFORMAT, -1, "%s: rms epsilon %g or rope base %g out of range",
                          arch, hp->rms_eps, hp->rope_base);

    /* RoPE scaling: linear (positions divided by the factor) or none. Other
     * schemes (YaRN, LongRoPE) change the rotation itself: refuse them rather
     * than compute something else. */
    hp->rope_scale = 1.0f;
    char key[256];
    const char *stype = NULL;
    snprintf(key, sizeof key, "%s.rope.scaling.type", arch);
    (void)hh_gguf_get_str(g, key, &stype);
    float factor;
    if ((rc = key_f32(g, arch, "rope.scaling.factor", 0.0f, &factor, err)))
        return rc;
    if (stype == NULL || !strcmp(stype, "none")) {
        float legacy;
        if ((rc = key_f32(g, arch, "rope.scale_linear", 0.0f, &legacy, err)))
            return rc;
        if (stype == NULL && legacy > 0.0f)
            hp->rope_scale = legacy;
    } else if (!strcmp(stype, "linear")) {
        if (factor > 0.0f)
            hp->rope_scale = factor;
    } else if (!strcmp(stype, "yarn") && hp->arch == HH_ARCH_GPTOSS) {
        if ((rc = read_yarn(m, factor, err)))
            return rc;
    } else {
        return hh_err_set(err, HH_EUNSUPPORTED, -1,
                          "%s: rope scaling type '%s' is not supported (supported: none, linear; yarn for gpt-oss)",
                          arch, stype);
    }
    if (!(hp->rope_scale >= 1e-3f && hp->rope_scale <= 1e6f))
        return hh_err_set(err, HH_EFORMAT, -1, "%s: rope scaling factor %g out of range", arch, hp->rope_scale);
    if (hp->arch == HH_ARCH_BERT)
        return read_bert_hparams(m, err);
    if (hp->arch == HH_ARCH_QWEN3MOE)
        return hh_moe_read_hparams(m, err);
    if (hp->arch == HH_ARCH_GEMMA3)
        return read_gemma3_hparams(m, err);
    if (hp->arch == HH_ARCH_GPTOSS)
        return read_gptoss_hparams(m, err);
    return HH_OK;
}

static void format_shape(char *buf, size_t size, const int64_t *ne, int n)
{
    size_t o = 0;
    o += (size_t)snprintf(buf + o, size - o, "[");
    for (int d = 0; d < n && o < size; d++)
        o += (size_t)snprintf(buf + o, size - o, "%s%lld", d ? ", " : "", (long long)ne[d]);
    if (o < size)
        snprintf(buf + o, size - o, "]");
}

/* Finds a tensor and checks its shape (n_dims dims ne; unused dims 1) and
 * that hoheit has kernels for its type. *out NULL if absent and optional. */
static int find_checked(const hh_model_t *m, const char *name, int n_dims, const int64_t *ne,
                        bool required, const hh_gguf_tensor_t **out, hh_err_t *err)
{
    *out = NULL;
    const hh_gguf_tensor_t *t = hh_gguf_find_tensor(m->gguf, name);
    if (t == NULL) {
        if (required)
            return hh_err_set(err, HH_EFORMAT, -1, "missing tensor %s (architecture %s)", name, m->hp.arch_name);
        return HH_OK;
    }
    int64_t want[HH_GGUF_MAX_DIMS] = { 1, 1, 1, 1 };
    for (int d = 0; d < n_dims; d++)
        want[d] = ne[d];
    for (int d = 0; d < HH_GGUF_MAX_DIMS; d++) {
        if (t->ne[d] != want[d]) {
            char ws[128], gs[128];
            format_shape(ws, sizeof ws, want, n_dims);
            format_shape(gs, sizeof gs, t->ne, (int)(t->n_dims > 0 ? t->n_dims : 1));
            return hh_err_set(err, HH_EFORMAT, -1, "tensor %s: expected shape %s, got %s", name, ws, gs);
        }
    }
    const hh_type_traits_t *tr = hh_type_traits(t->type);
    const hh_kernels_t *k = hh_kernels();
    if (tr == NULL || !tr->compute || t->type >= HH_TYPE_COUNT ||
        k->dot[t->type] == NULL || k->dequant[t->type] == NULL)
        return hh_err_set(err, HH_EUNSUPPORTED, -1, "tensor %s has type %s, which hoheit cannot compute (supported: %s)",
                          name, hh_type_name(t->type), hh_type_supported_list());
    if (t->data == NULL)
        return hh_err_set(err, HH_ESTATE, -1, "tensor %s has no data (opened without data?)", name);
    *out = t;
    return HH_OK;
}

static int bind_mat(hh_model_t *m, const char *name, int64_t n_in, int64_t n_out, bool required,
                    hh_mat_t *out, hh_err_t *err)
{
    const hh_gguf_tensor_t *t;
    int64_t ne[2] = { n_in, n_out };
    int rc = find_checked(m, name, 2, ne, required, &t, err);
    if (rc != HH_OK || t == NULL)
        return rc;
    size_t rb;
    rc = hh_type_row_size(t->type, n_in, &rb);
    if (rc != HH_OK)
        return hh_err_set(err, rc, -1, "tensor %s: rows of %lld values do not fit type %s",
                          name, (long long)n_in, hh_type_name(t->type));
    *out = (hh_mat_t){ t->data, t->type, n_in, n_out, rb, t->nbytes, false };
    m->weight_bytes += t->nbytes;
    return HH_OK;
}

/* Binds a 1-D F32 vector of n values; other types are converted once into a
 * buffer the model owns. *out NULL if absent and optional. */
static int bind_vec(hh_model_t *m, const char *name, int64_t n, bool required, const float **out, hh_err_t *err)
{
    *out = NULL;
    const hh_gguf_tensor_t *t;
    int rc = find_checked(m, name, 1, &n, required, &t, err);
    if (rc != HH_OK || t == NULL)
        return rc;
    m->weight_bytes += t->nbytes;
    if (t->type == HH_TYPE_F32 && ((uintptr_t)t->data % sizeof(float)) == 0) {
        *out = t->data;
        return HH_OK;
    }
    float **grown = realloc(m->owned, sizeof *grown * (size_t)(m->n_owned + 1));
    if (grown == NULL)
        return hh_err_set(err, HH_ENOMEM, -1, "out of memory converting %s", name);
    m->owned = grown;
    float *v = malloc(sizeof *v * (size_t)n);
    if (v == NULL)
        return hh_err_set(err, HH_ENOMEM, -1, "out of memory converting %s", name);
    hh_kernels()->dequant[t->type](t->data, v, n);
    m->owned[m->n_owned++] = v;
    *out = v;
    return HH_OK;
}

/* Rows [first, first + n) of W, as a matrix of its own (no copy): a fused
 * tensor's part. nbytes covers only those rows, so repacking one part
 * leaves the others as they are. */
static hh_mat_t mat_rows(const hh_mat_t *w, int64_t first, int64_t n)
{
    hh_mat_t r = *w;
    r.data = (const uint8_t *)w->data + (size_t)first * w->row_bytes;
    r.n_out = n;
    r.nbytes = (size_t)n * w->row_bytes;
    return r;
}

/* phi3 files with bias vectors (none of Phi-3 / Phi-4 has them) would be
 * computed without them: refuse instead, naming the tensor. */
static int phi3_refuse_biases(const hh_model_t *m, int il, hh_err_t *err)
{
    static const char *const bias[] = { "attn_norm.bias", "attn_qkv.bias", "attn_q.bias", "attn_k.bias",
                                        "attn_v.bias", "attn_output.bias", "ffn_norm.bias", "ffn_up.bias",
                                        "ffn_down.bias" };
    char nm[96];
    for (size_t i = 0; i < sizeof bias / sizeof bias[0]; i++) {
        snprintf(nm, sizeof nm, "blk.%d.%s", il, bias[i]);
        if (hh_gguf_find_tensor(m->gguf, nm) != NULL)
            return hh_err_set(err, HH_EUNSUPPORTED, -1, "phi3: bias tensor %s is not supported", nm);
    }
    return HH_OK;
}

static int bind_layer(hh_model_t *m, int il, hh_err_t *err)
{
    const hh_hparams_t *hp = &m->hp;
    hh_layer_t *l = &m->layers[il];
    const int64_t n_embd = hp->n_embd, n_ff = hp->n_ff, hd = hp->head_dim;
    const int64_t n_q = (int64_t)hp->n_head * hd, n_kv = (int64_t)hp->n_head_kv * hd;
    const bool qwen3 = hp->arch == HH_ARCH_QWEN3 || hp->arch == HH_ARCH_QWEN3MOE || hp->arch == HH_ARCH_GEMMA3;
    const bool gemma3 = hp->arch == HH_ARCH_GEMMA3;
    const bool gptoss = hp->arch == HH_ARCH_GPTOSS;
    const bool biases = hp->arch == HH_ARCH_QWEN2 || gptoss;
    const bool phi3 = hp->arch == HH_ARCH_PHI3;
    char nm[96];
    int rc;
#define NAME(s) (snprintf(nm, sizeof nm, "blk.%d.%s", il, s), nm)
    if (phi3 && (rc = phi3_refuse_biases(m, il, err)))
        return rc;
    if ((rc = bind_vec(m, NAME("attn_norm.weight"), n_embd, true, &l->attn_norm, err)))
        return rc;
    if (phi3 && hh_gguf_find_tensor(m->gguf, NAME("attn_qkv.weight")) != NULL) {
        hh_mat_t qkv;
        if ((rc = bind_mat(m, nm, n_embd, n_q + 2 * n_kv, true, &qkv, err)))
            return rc;
        l->wq = mat_rows(&qkv, 0, n_q);
        l->wk = mat_rows(&qkv, n_q, n_kv);
        l->wv = mat_rows(&qkv, n_q + n_kv, n_kv);
    } else if ((rc = bind_mat(m, NAME("attn_q.weight"), n_embd, n_q, true, &l->wq, err)) ||
               (rc = bind_mat(m, NAME("attn_k.weight"), n_embd, n_kv, true, &l->wk, err)) ||
               (rc = bind_mat(m, NAME("attn_v.weight"), n_embd, n_kv, true, &l->wv, err))) {
        return rc;
    }
    if ((rc = bind_vec(m, NAME("attn_q.bias"), n_q, biases, &l->bq, err)) ||
        (rc = bind_vec(m, NAME("attn_k.bias"), n_kv, biases, &l->bk, err)) ||
        (rc = bind_vec(m, NAME("attn_v.bias"), n_kv, biases, &l->bv, err)) ||
        (rc = bind_vec(m, NAME("attn_q_norm.weight"), hd, qwen3, &l->q_norm, err)) ||
        (rc = bind_vec(m, NAME("attn_k_norm.weight"), hd, qwen3, &l->k_norm, err)) ||
        (rc = bind_mat(m, NAME("attn_output.weight"), n_q, n_embd, true, &l->wo, err)) ||
        (rc = bind_vec(m, NAME(gptoss ? "post_attention_norm.weight" : "ffn_norm.weight"), n_embd, true,
                       &l->ffn_norm, err)))
        return rc;
    if (gptoss) {
        const int64_t n_head = hp->n_head;
        if ((rc = bind_vec(m, NAME("attn_output.bias"), n_embd, true, &l->bo, err)) ||
            (rc = bind_vec(m, NAME("attn_sinks.weight"), n_head, true, &l->attn_sinks, err)))
            return rc;
        l->swa = hp->n_swa > 0 && il % hp->swa_period != hp->swa_period - 1;
    }
    if (hp->n_expert > 0) {
        if ((rc = hh_moe_bind_layer(m, il, err)))
            return rc;
    } else if (hh_gguf_find_tensor(m->gguf, NAME("ffn_gate.weight")) == NULL &&
        hh_gguf_find_tensor(m->gguf, NAME("ffn_gate_exps.weight")) != NULL)
        return hh_err_set(err, HH_EUNSUPPORTED, -1, "mixture-of-experts layers (%s) are not supported", nm);
    if (phi3 && hh_gguf_find_tensor(m->gguf, NAME("ffn_gate.weight")) == NULL) {
        hh_mat_t gate_up;   /* SwiGLU on the fused product: silu(first n_ff) * (last n_ff) */
        if ((rc = bind_mat(m, NAME("ffn_up.weight"), n_embd, 2 * n_ff, true, &gate_up, err)) ||
            (rc = bind_mat(m, NAME("ffn_down.weight"), n_ff, n_embd, true, &l->w_down, err)))
            return rc;
        l->w_gate = mat_rows(&gate_up, 0, n_ff);
        l->w_up = mat_rows(&gate_up, n_ff, n_ff);
    } else if (hp->n_expert == 0 && (
        (rc = bind_mat(m, NAME("ffn_gate.weight"), n_embd, n_ff, true, &l->w_gate, err)) ||
        (rc = bind_mat(m, NAME("ffn_up.weight"), n_embd, n_ff, true, &l->w_up, err)) ||
        (rc = bind_mat(m, NAME("ffn_down.weight"), n_ff, n_embd, true, &l->w_down, err))))
        return rc;
    if ((l->q_norm == NULL) != (l->k_norm == NULL))
        return hh_err_set(err, HH_EFORMAT, -1, "blk.%d: attn_q_norm and attn_k_norm must come together", il);
    if (gemma3) {
        if ((rc = bind_vec(m, NAME("post_attention_norm.weight"), n_embd, true, &l->post_attn_norm, err)) ||
            (rc = bind_vec(m, NAME("post_ffw_norm.weight"), n_embd, true, &l->post_ffw_norm, err)))
            return rc;
        l->swa = il % hp->swa_period != hp->swa_period - 1;
    }
#undef NAME
    return HH_OK;
}

/* bert block: post-LayerNorm, every projection with a bias, GELU FFN. */
static int bind_bert_layer(hh_model_t *m, int il, hh_err_t *err)
{
    const hh_hparams_t *hp = &m->hp;
    hh_layer_t *l = &m->layers[il];
    const int64_t n_embd = hp->n_embd, n_ff = hp->n_ff;
    char nm[96];
    int rc;
#define NAME(s) (snprintf(nm, sizeof nm, "blk.%d.%s", il, s), nm)
    if ((rc = bind_mat(m, NAME("attn_q.weight"), n_embd, n_embd, true, &l->wq, err)) ||
        (rc = bind_mat(m, NAME("attn_k.weight"), n_embd, n_embd, true, &l->wk, err)) ||
        (rc = bind_mat(m, NAME("attn_v.weight"), n_embd, n_embd, true, &l->wv, err)) ||
        (rc = bind_vec(m, NAME("attn_q.bias"), n_embd, true, &l->bq, err)) ||
        (rc = bind_vec(m, NAME("attn_k.bias"), n_embd, true, &l->bk, err)) ||
        (rc = bind_vec(m, NAME("attn_v.bias"), n_embd, true, &l->bv, err)) ||
        (rc = bind_mat(m, NAME("attn_output.weight"), n_embd, n_embd, true, &l->wo, err)) ||
        (rc = bind_vec(m, NAME("attn_output.bias"), n_embd, true, &l->bo, err)) ||
        (rc = bind_vec(m, NAME("attn_output_norm.weight"), n_embd, true, &l->attn_ln_w, err)) ||
        (rc = bind_vec(m, NAME("attn_output_norm.bias"), n_embd, true, &l->attn_ln_b, err)) ||
        (rc = bind_mat(m, NAME("ffn_up.weight"), n_embd, n_ff, true, &l->w_up, err)) ||
        (rc = bind_vec(m, NAME("ffn_up.bias"), n_ff, true, &l->b_up, err)) ||
        (rc = bind_mat(m, NAME("ffn_down.weight"), n_ff, n_embd, true, &l->w_down, err)) ||
        (rc = bind_vec(m, NAME("ffn_down.bias"), n_embd, true, &l->b_down, err)) ||
        (rc = bind_vec(m, NAME("layer_output_norm.weight"), n_embd, true, &l->out_ln_w, err)) ||
        (rc = bind_vec(m, NAME("layer_output_norm.bias"), n_embd, true, &l->out_ln_b, err)))
        return rc;
    if (hh_gguf_find_tensor(m->gguf, NAME("ffn_gate.weight")) != NULL)
        return hh_err_set(err, HH_EUNSUPPORTED, -1, "%s: gated bert feed-forward is not supported", nm);
#undef NAME
    return HH_OK;
}

/* bert: learned positions, token type 0, embedding LayerNorm, no output. */
static int bind_bert_weights(hh_model_t *m, hh_err_t *err)
{
    hh_hparams_t *hp = &m->hp;
    const hh_gguf_tensor_t *tp = hh_gguf_find_tensor(m->gguf, "position_embd.weight");
    const hh_gguf_tensor_t *tt = hh_gguf_find_tensor(m->gguf, "token_types.weight");
    if (tp == NULL || tt == NULL)
        return hh_err_set(err, HH_EFORMAT, -1, "missing tensor %s (architecture bert)",
                          tp == NULL ? "position_embd.weight" : "token_types.weight");
    if (tp->ne[1] < 1 || tp->ne[1] > INT32_MAX || tt->ne[1] < 1 || tt->ne[1] > MAX_VOCAB)
        return hh_err_set(err, HH_EFORMAT, -1, "position_embd / token_types: bad row count");
    int rc;
    if ((rc = bind_mat(m, "position_embd.weight", hp->n_embd, tp->ne[1], true, &m->pos_embd, err)) ||
        (rc = bind_mat(m, "token_types.weight", hp->n_embd, tt->ne[1], true, &m->tok_types, err)) ||
        (rc = bind_vec(m, "token_embd_norm.weight", hp->n_embd, true, &m->embd_ln_w, err)) ||
        (rc = bind_vec(m, "token_embd_norm.bias", hp->n_embd, true, &m->embd_ln_b, err)))
        return rc;
    /* One row of each table is read per token. */
    m->weight_bytes -= m->pos_embd.nbytes + m->tok_types.nbytes;
    m->weight_bytes += m->pos_embd.row_bytes + m->tok_types.row_bytes;
    /* A text never has more tokens than there are positions. */
    if (tp->ne[1] < hp->n_ctx_train)
        hp->n_ctx_train = (int32_t)tp->ne[1];
    m->layers = calloc((size_t)hp->n_layer, sizeof *m->layers);
    if (m->layers == NULL)
        return hh_err_set(err, HH_ENOMEM, -1, "out of memory for %d layers", hp->n_layer);
    for (int il = 0; il < hp->n_layer; il++)
        if ((rc = bind_bert_layer(m, il, err)))
            return rc;
    return HH_OK;
}

static int bind_weights(hh_model_t *m, hh_err_t *err)
{
    hh_hparams_t *hp = &m->hp;
    const hh_gguf_tensor_t *te = hh_gguf_find_tensor(m->gguf, "token_embd.weight");
    if (te == NULL)
        return hh_err_set(err, HH_EFORMAT, -1, "missing tensor token_embd.weight");
    if (te->ne[1] < 1 || te->ne[1] > MAX_VOCAB)
        return hh_err_set(err, HH_EFORMAT, -1, "tensor token_embd.weight: vocabulary size %lld out of range",
                          (long long)te->ne[1]);
    hp->n_vocab = (int32_t)te->ne[1];
    int rc = bind_mat(m, "token_embd.weight", hp->n_embd, hp->n_vocab, true, &m->tok_embd, err);
    if (rc != HH_OK)
        return rc;
    /* The forward pass reads one embedding row per token, not the table. */
    m->weight_bytes -= m->tok_embd.nbytes;
    m->weight_bytes += m->tok_embd.row_bytes;
    if (hp->arch == HH_ARCH_BERT)
        return bind_bert_weights(m, err);

    if ((rc = bind_vec(m, "output_norm.weight", hp->n_embd, true, &m->out_norm, err)) ||
        (rc = bind_mat(m, "output.weight", hp->n_embd, hp->n_vocab, false, &m->output, err)))
        return rc;
    hp->tied_output = m->output.data == NULL;
    if (hp->tied_output) {
        m->output = m->tok_embd;
        m->weight_bytes += m->output.nbytes;
    }
    if (hp->arch == HH_ARCH_PHI3) {
        /* LongRoPE (Phi-3 / 3.5 / 4-mini 128k): per-dimension factors picked
         * by context length and a magnitude scale, not built */
        static const char *const longrope[] = { "rope_factors_long.weight", "rope_factors_short.weight" };
        for (int i = 0; i < 2; i++)
            if (hh_gguf_find_tensor(m->gguf, longrope[i]) != NULL)
                return hh_err_set(err, HH_EUNSUPPORTED, -1,
                                  "phi3: LongRoPE scaling (%s, the 128k-context variants) is not supported; "
                                  "the 4k/16k-context files without it are", longrope[i]);
        if (hh_gguf_find_tensor(m->gguf, "output.bias") != NULL || hh_gguf_find_tensor(m->gguf, "output_norm.bias"))
            return hh_err_set(err, HH_EUNSUPPORTED, -1, "phi3: output bias tensors are not supported");
    }
    if ((rc = bind_vec(m, "rope_freqs.weight", hp->n_rot / 2, false, &m->rope_freqs, err)))
        return rc;
    hp->has_rope_freqs = m->rope_freqs != NULL;
    if (m->rope_freqs != NULL) {
        for (int i = 0; i < hp->n_rot / 2; i++)
            if (!(m->rope_freqs[i] > 0.0f))
                return hh_err_set(err, HH_EFORMAT, -1, "rope_freqs.weight[%d] = %g is not positive",
                                  i, m->rope_freqs[i]);
    }

    m->layers = calloc((size_t)hp->n_layer, sizeof *m->layers);
    if (m->layers == NULL)
        return hh_err_set(err, HH_ENOMEM, -1, "out of memory for %d layers", hp->n_layer);
    for (int il = 0; il < hp->n_layer; il++)
        if ((rc = bind_layer(m, il, err)))
            return rc;
    return HH_OK;
}

/* Weights read into private memory are rewritten in place into the x4
 * layout where the kernels have it: every layer matrix and the output (a
 * tied output too; an untied embedding table stays as stored, it is only
 * read by rows). HOHEIT_REPACK=0 keeps the stored layout. */
static int repack_weights(hh_model_t *m, hh_err_t *err)
{
    const char *env = getenv("HOHEIT_REPACK");
    if (env != NULL && strcmp(env, "0") == 0)
        return HH_OK;
    const hh_kernels_t *k = hh_kernels();
    for (int il = 0; il < m->hp.n_layer; il++) {
        hh_layer_t *l = &m->layers[il];
        hh_mat_t *mats[] = { &l->wq, &l->wk, &l->wv, &l->wo, &l->w_gate, &l->w_up, &l->w_down };
        for (size_t i = 0; i < sizeof mats / sizeof mats[0]; i++)
            if (hh_repack_x4_ok(k, mats[i]) && hh_repack_x4(mats[i]) != HH_OK)
                return hh_err_set(err, HH_ENOMEM, -1, "out of memory repacking layer %d", il);
        if (hh_moe_repack(m, il) != HH_OK)
            return hh_err_set(err, HH_ENOMEM, -1, "out of memory repacking the experts of layer %d", il);
    }
    if (hh_repack_x4_ok(k, &m->output) && hh_repack_x4(&m->output) != HH_OK)
        return hh_err_set(err, HH_ENOMEM, -1, "out of memory repacking output.weight");
    /* A tied output shares its bytes with the embedding table, whose rows
     * the lookup then dequantizes from the x4 layout (hh_x4_dequant_row). */
    if (m->hp.tied_output)
        m->tok_embd.x4 = m->output.x4;
    return HH_OK;
}

int hh_model_load(hh_model_t **out, const char *path, const hh_model_params_t *params, hh_err_t *err)
{
    hh_model_params_t p = params ? *params : hh_model_default_params();
    *out = NULL;
    hh_model_t *m = calloc(1, sizeof *m);
    if (m == NULL)
        return hh_err_set(err, HH_ENOMEM, -1, "out of memory");
    hh_gguf_params_t gp = hh_gguf_default_params();
    gp.load = p.load;
    gp.mlock = p.mlock;
    int rc = hh_gguf_open(&m->gguf, path, &gp, err);
    if (rc != HH_OK)
        goto cleanup;
    if ((rc = read_hparams(m, err)) || (rc = bind_weights(m, err)))
        goto cleanup;
    if (p.load == HH_GGUF_LOAD_READ && (rc = repack_weights(m, err)))
        goto cleanup;
    const hh_hparams_t *hp = &m->hp;
    HH_LOGD("model %s: arch %s, %d layers, n_embd %d, heads %d/%d x %d, n_ff %d, vocab %d, rope %s base %g",
            path, hp->arch_name, hp->n_layer, hp->n_embd, hp->n_head, hp->n_head_kv, hp->head_dim,
            hp->n_ff, hp->n_vocab, hp->rope_style == HH_ROPE_NEOX ? "neox" : "norm", hp->rope_base);
    *out = m;
    return HH_OK;
cleanup:
    hh_model_free(m);
    return rc;
}

void hh_model_free(hh_model_t *m)
{
    if (m == NULL)
        return;
    for (int i = 0; i < m->n_owned; i++)
        free(m->owned[i]);
    free(m->owned);
    for (int il = 0; m->layers != NULL && il < m->hp.n_layer; il++)
        hh_moe_layer_free(&m->layers[il]);
    free(m->layers);
    if (m->gguf != NULL)
        hh_gguf_close(m->gguf);
    free(m);
}

const hh_hparams_t *hh_model_hparams(const hh_model_t *m) { return &m->hp; }
bool hh_model_is_embedding(const hh_model_t *m) { return m->hp.embedding; }
int32_t hh_model_n_embd(const hh_model_t *m) { return m->hp.n_embd; }
const hh_gguf_t *hh_model_gguf(const hh_model_t *m) { return m->gguf; }
uint64_t hh_model_weight_bytes(const hh_model_t *m) { return m->weight_bytes; }
