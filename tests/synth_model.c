/* synth_model.c - random-weight GGUF models of a given shape (synth_model.h). */
#include "synth_model.h"
#include "gguf/gguf.h"
#include "kernels/quant.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

synth_model_t synth_model_defaults(const char *arch)
{
    synth_model_t s = { .arch = arch, .n_vocab = 512, .n_embd = 256, .n_ff = 512, .n_head = 4, .n_head_kv = 2,
                        .head_dim = 64, .n_layer = 2, .n_ctx_train = 4096, .seed = 1 };
    return s;
}

/* splitmix64: one seeded stream per logical tensor */
static uint64_t mix(uint64_t *st)
{
    uint64_t z = (*st += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Approximately N(0, 1): Irwin-Hall of 4 uniforms, rescaled. */
static float gauss(uint64_t *st)
{
    double u = 0;
    for (int i = 0; i < 4; i++) u += (double)(mix(st) >> 11) / 9007199254740992.0;
    return (float)((u - 2.0) * sqrt(3.0));
}

/* Fills n values for (layer, role): N(0, 1) * scale + offset. */
static void fill(float *x, size_t n, uint64_t seed, int layer, int role, float scale, float offset)
{
    uint64_t st = seed * 1000003u + (uint64_t)(layer + 1) * 101u + (uint64_t)role;
    for (size_t i = 0; i < n; i++) x[i] = offset + scale * gauss(&st);
}

enum { R_EMBD = 1, R_OUT, R_OUT_NORM, R_ATTN_NORM, R_Q, R_K, R_V, R_O, R_FFN_NORM, R_GATE, R_UP, R_DOWN,
       R_QN, R_KN, R_POST_ATTN, R_POST_FFW, R_BQ, R_BK, R_BV };

typedef struct tensors {
    float **buf;
    int     n, cap;
} tensors_t;

static float *new_buf(tensors_t *t, size_t n)
{
    if (t->n == t->cap) {
        int cap = t->cap ? t->cap * 2 : 64;
        float **g = realloc(t->buf, sizeof *g * (size_t)cap);
        if (g == NULL) return NULL;
        t->buf = g;
        t->cap = cap;
    }
    float *x = calloc(n ? n : 1, sizeof *x);
    if (x != NULL) t->buf[t->n++] = x;
    return x;
}

/* Adds a tensor of ne0 x ne1 (ne1 1 = 1-D) made of parts filled by role. */
static int add(hh_gguf_writer_t *w, tensors_t *t, const char *name, int64_t ne0, int64_t ne1, float *data)
{
    int64_t ne[2] = { ne0, ne1 };
    return hh_gguf_writer_add_tensor(w, name, HH_TYPE_F32, ne1 > 1 ? 2 : 1, ne, data, NULL, NULL);
}

int synth_model_write(const synth_model_t *s, const char *path, hh_err_t *err)
{
    hh_gguf_writer_t *w = NULL;
    hh_gguf_t *donor = NULL;
    tensors_t t = { 0 };
    char key[160], nm[96];
    int rc = hh_gguf_writer_create(&w, 3, 0);
    if (rc != HH_OK) return hh_err_set(err, rc, -1, "writer");
    const char *a = s->arch;
    const int64_t E = s->n_embd, F = s->n_ff, V = s->n_vocab, D = s->head_dim;
    const int64_t NQ = (int64_t)s->n_head * D, NKV = (int64_t)s->n_head_kv * D;
    const bool gemma3 = !strcmp(a, "gemma3"), qwen2 = !strcmp(a, "qwen2");
#define KEY(suffix) (snprintf(key, sizeof key, "%s.%s", a, suffix), key)
    if ((rc = hh_gguf_writer_set_str(w, "general.architecture", a)) ||
        (rc = hh_gguf_writer_set_str(w, "general.name", "synthetic")) ||
        (rc = hh_gguf_writer_set_u32(w, KEY("context_length"), (uint32_t)s->n_ctx_train)) ||
        (rc = hh_gguf_writer_set_u32(w, KEY("embedding_length"), (uint32_t)E)) ||
        (rc = hh_gguf_writer_set_u32(w, KEY("block_count"), (uint32_t)s->n_layer)) ||
        (rc = hh_gguf_writer_set_u32(w, KEY("feed_forward_length"), (uint32_t)F)) ||
        (rc = hh_gguf_writer_set_u32(w, KEY("attention.head_count"), (uint32_t)s->n_head)) ||
        (rc = hh_gguf_writer_set_u32(w, KEY("attention.head_count_kv"), (uint32_t)s->n_head_kv)) ||
        (rc = hh_gguf_writer_set_u32(w, KEY("attention.key_length"), (uint32_t)D)) ||
        (rc = hh_gguf_writer_set_u32(w, KEY("attention.value_length"), (uint32_t)D)) ||
        (rc = hh_gguf_writer_set_u32(w, KEY("rope.dimension_count"), (uint32_t)D)) ||
        (rc = hh_gguf_writer_set_f32(w, KEY("attention.layer_norm_rms_epsilon"), 1e-6f)) ||
        (rc = hh_gguf_writer_set_f32(w, KEY("rope.freq_base"), 10000.0f)))
        goto done;
    if (s->swa > 0 && (rc = hh_gguf_writer_set_u32(w, KEY("attention.sliding_window"), (uint32_t)s->swa)))
        goto done;
    if (s->swa_period > 0 &&
        (rc = hh_gguf_writer_set_u32(w, KEY("attention.sliding_window_pattern"), (uint32_t)s->swa_period)))
        goto done;
#undef KEY
    if (s->donor != NULL) {
        if ((rc = hh_gguf_open(&donor, s->donor, NULL, err)) != HH_OK) goto done;
        for (int64_t i = 0; i < hh_gguf_n_kv(donor); i++) {
            const char *k = hh_gguf_kv_key(donor, i);
            if (!strncmp(k, "tokenizer.", 10) &&
                (rc = hh_gguf_writer_set_value(w, k, hh_gguf_kv_value(donor, i))) != HH_OK)
                goto done;
        }
    }
    if (s->chat_template && (rc = hh_gguf_writer_set_str(w, "tokenizer.chat_template", s->chat_template)))
        goto done;

    float *x;
    rc = HH_ENOMEM;
#define BUF(n) if ((x = new_buf(&t, (size_t)(n))) == NULL) goto done
    BUF(E * V); fill(x, (size_t)(E * V), s->seed, -1, R_EMBD, 1.0f, 0.0f);
    if ((rc = add(w, &t, "token_embd.weight", E, V, x))) goto done;
    BUF(E); fill(x, (size_t)E, s->seed, -1, R_OUT_NORM, 0.1f, 1.0f);
    if ((rc = add(w, &t, "output_norm.weight", E, 1, x))) goto done;
    BUF(E * V); fill(x, (size_t)(E * V), s->seed, -1, R_OUT, 4.0f / sqrtf((float)E), 0.0f);
    if ((rc = add(w, &t, "output.weight", E, V, x))) goto done;
    if (s->extra_tensor) {
        BUF(D / 2);
        for (int64_t i = 0; i < D / 2; i++) x[i] = 1.0f;
        if ((rc = add(w, &t, s->extra_tensor, D / 2, 1, x))) goto done;
    }
    const float sE = 1.0f / sqrtf((float)E), sQ = 1.0f / sqrtf((float)NQ), sF = 1.0f / sqrtf((float)F);
    for (int il = 0; il < s->n_layer; il++) {
#define NAME(suffix) (snprintf(nm, sizeof nm, "blk.%d.%s", il, suffix), nm)
        rc = HH_ENOMEM;
        BUF(E); fill(x, (size_t)E, s->seed, il, R_ATTN_NORM, 0.1f, 1.0f);
        if ((rc = add(w, &t, NAME("attn_norm.weight"), E, 1, x))) goto done;
        if (s->fused) {
            BUF(E * (NQ + 2 * NKV));
            fill(x, (size_t)(E * NQ), s->seed, il, R_Q, sE, 0.0f);
            fill(x + E * NQ, (size_t)(E * NKV), s->seed, il, R_K, sE, 0.0f);
            fill(x + E * (NQ + NKV), (size_t)(E * NKV), s->seed, il, R_V, sE, 0.0f);
            if ((rc = add(w, &t, NAME("attn_qkv.weight"), E, NQ + 2 * NKV, x))) goto done;
        } else {
            static const struct { const char *name; int role; } qkv[3] = {
                { "attn_q.weight", R_Q }, { "attn_k.weight", R_K }, { "attn_v.weight", R_V } };
            for (int k = 0; k < 3; k++) {
                int64_t rows = k == 0 ? NQ : NKV;
                BUF(E * rows); fill(x, (size_t)(E * rows), s->seed, il, qkv[k].role, sE, 0.0f);
                if ((rc = add(w, &t, NAME(qkv[k].name), E, rows, x))) goto done;
            }
        }
        if (qwen2) {
            static const char *const bn[3] = { "attn_q.bias", "attn_k.bias", "attn_v.bias" };
            for (int k = 0; k < 3; k++) {
                BUF(k == 0 ? NQ : NKV);   /* zero: qwen2 with zero biases is llama with NEOX rope */
                if ((rc = add(w, &t, NAME(bn[k]), k == 0 ? NQ : NKV, 1, x))) goto done;
            }
        }
        if (gemma3) {
            BUF(D); fill(x, (size_t)D, s->seed, il, R_QN, 0.1f, 1.0f);
            if ((rc = add(w, &t, NAME("attn_q_norm.weight"), D, 1, x))) goto done;
            BUF(D); fill(x, (size_t)D, s->seed, il, R_KN, 0.1f, 1.0f);
            if ((rc = add(w, &t, NAME("attn_k_norm.weight"), D, 1, x))) goto done;
            BUF(E); fill(x, (size_t)E, s->seed, il, R_POST_ATTN, 0.1f, 1.0f);
            if ((rc = add(w, &t, NAME("post_attention_norm.weight"), E, 1, x))) goto done;
            BUF(E); fill(x, (size_t)E, s->seed, il, R_POST_FFW, 0.1f, 1.0f);
            if ((rc = add(w, &t, NAME("post_ffw_norm.weight"), E, 1, x))) goto done;
        }
        BUF(NQ * E); fill(x, (size_t)(NQ * E), s->seed, il, R_O, sQ, 0.0f);
        if ((rc = add(w, &t, NAME("attn_output.weight"), NQ, E, x))) goto done;
        BUF(E); fill(x, (size_t)E, s->seed, il, R_FFN_NORM, 0.1f, 1.0f);
        if ((rc = add(w, &t, NAME("ffn_norm.weight"), E, 1, x))) goto done;
        if (s->fused) {
            BUF(E * 2 * F);
            fill(x, (size_t)(E * F), s->seed, il, R_GATE, sE, 0.0f);
            fill(x + E * F, (size_t)(E * F), s->seed, il, R_UP, sE, 0.0f);
            if ((rc = add(w, &t, NAME("ffn_up.weight"), E, 2 * F, x))) goto done;
        } else {
            BUF(E * F); fill(x, (size_t)(E * F), s->seed, il, R_GATE, sE, 0.0f);
            if ((rc = add(w, &t, NAME("ffn_gate.weight"), E, F, x))) goto done;
            BUF(E * F); fill(x, (size_t)(E * F), s->seed, il, R_UP, sE, 0.0f);
            if ((rc = add(w, &t, NAME("ffn_up.weight"), E, F, x))) goto done;
        }
        BUF(F * E); fill(x, (size_t)(F * E), s->seed, il, R_DOWN, sF, 0.0f);
        if ((rc = add(w, &t, NAME("ffn_down.weight"), F, E, x))) goto done;
#undef NAME
    }
#undef BUF
    rc = hh_gguf_writer_write(w, path, err);
done:
    if (rc == HH_ENOMEM) hh_err_set(err, rc, -1, "out of memory writing %s", path);
    else if (rc != HH_OK && err != NULL && err->code == 0) hh_err_set(err, rc, -1, "cannot write %s", path);
    for (int i = 0; i < t.n; i++) free(t.buf[i]);
    free(t.buf);
    hh_gguf_writer_free(w);
    hh_gguf_close(donor);
    return rc;
}
