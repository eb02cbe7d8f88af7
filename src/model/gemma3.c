/* gemma3.c - the forward pass of Gemma 3 (GGUF architecture "gemma3") on
 * the evaluation contexts of llama.c (struct hh_ctx, model_int.h).
 *
 * One decode call runs a batch of T tokens, each appended to its own
 * sequence of the KV cache:
 *
 *   x = token_embd[id] * sqrt(n_embd)                      (T, n_embd)
 *   per layer (local = sliding window, global = full; swa_period):
 *     xb = rmsnorm(x) * attn_norm
 *     q, k, v = Wq xb, Wk xb, Wv xb                        (T, n_q) (T, n_kv) (T, n_kv)
 *     q, k = rmsnorm per head * q_norm / k_norm
 *     q, k = rope NEOX: local base rope_base_swa, unscaled;
 *            global base rope_base, positions / rope_scale
 *     att = softmax(attn_scale q K^T) V; local layers see keys j with
 *           0 <= pos - j < n_swa, global layers 0 <= j <= pos
 *     x += rmsnorm(Wo att) * post_attention_norm
 *     xb = rmsnorm(x) * ffn_norm
 *     x += rmsnorm(Wdown (gelu(Wgate xb) * Wup xb)) * post_ffw_norm
 *   logits = Wout (rmsnorm(x) * output_norm); c tanh(logits / c) when the
 *            file has final_logit_softcapping c
 *
 * GELU is the tanh form (Gemma's gelu_pytorch_tanh). Norm weights are the
 * multipliers as stored: the GGUF converter already added Gemma's "+1".
 * KV cache: global layers keep every position of a sequence. Local layers
 * keep a window (swa_cache, llama.c): rows for positions swa_first[s] ..
 * swa_first[s] + cap - 1 with cap = 2 n_swa + n_batch - 1; before a batch
 * that would run past them, the last n_swa - 1 positions move to the front
 * (make_room). With swa_full, or a context shorter than cap, local layers
 * keep everything like global ones. */
#include "model/model_int.h"

#include <math.h>
#include <string.h>

/* Tokens per global-attention work item (as llama.c: a run of consecutive
 * batch tokens of one sequence shares the K/V tiles). Local layers give
 * each token its own window, one kernel call per token. */
#define ATT_BLOCK 8

typedef struct g3_job {
    hh_ctx_t    *c;
    int32_t      n_tok;
    int          il;
    const float *post_w;   /* norm_worker: x += rmsnorm(xb) * post_w first, or NULL */
    const float *norm_w;   /* norm_worker: then xb = rmsnorm(x) * norm_w */
} g3_job_t;

/* out = x / rms(x) * w over n values (out may be x). */
static void rmsnorm(float *out, const float *x, const float *w, int n, float eps)
{
    double ss = 0.0;
    for (int i = 0; i < n; i++)
        ss += (double)x[i] * x[i];
    float scale = (float)(1.0 / sqrt(ss / n + eps));
    for (int i = 0; i < n; i++)
        out[i] = x[i] * scale * w[i];
}

/* Rotates (i, i + n_rot/2) of one head by the token's angles (NEOX). */
static void rope_neox(float *v, const float *cs, const float *sn, int n_rot)
{
    const int half = n_rot / 2;
    for (int i = 0; i < half; i++) {
        float x0 = v[i], x1 = v[i + half];
        v[i] = x0 * cs[i] - x1 * sn[i];
        v[i + half] = x0 * sn[i] + x1 * cs[i];
    }
}

/* Post-norm of the block output and pre-norm of the next sub-block:
 * x[t] += rmsnorm(xb[t]) * post_w (when set); xb[t] = rmsnorm(x[t]) * norm_w. */
static void norm_worker(void *ctx, int ith, int nth)
{
    const g3_job_t *j = ctx;
    hh_ctx_t *c = j->c;
    const int n = c->m->hp.n_embd;
    const float eps = c->m->hp.rms_eps;
    long lo, hi;
    hh_pool_split(j->n_tok, ith, nth, 1, &lo, &hi);
    for (long t = lo; t < hi; t++) {
        float *x = c->x + (size_t)t * n, *xb = c->xb + (size_t)t * n;
        if (j->post_w != NULL) {
            rmsnorm(xb, xb, j->post_w, n, eps);
            for (int i = 0; i < n; i++)
                x[i] += xb[i];
        }
        rmsnorm(xb, x, j->norm_w, n, eps);
    }
}

/* Head norms and RoPE of q and k; k and v go into the cache. */
static void qkv_post_worker(void *ctx, int ith, int nth)
{
    const g3_job_t *j = ctx;
    hh_ctx_t *c = j->c;
    const hh_hparams_t *hp = &c->m->hp;
    const hh_layer_t *l = &c->m->layers[j->il];
    const int hd = hp->head_dim, n_q = hp->n_head * hd, n_kv = hp->n_head_kv * hd;
    const int half = hp->n_rot / 2;
    long lo, hi;
    hh_pool_split(j->n_tok, ith, nth, 1, &lo, &hi);
    for (long t = lo; t < hi; t++) {
        float *q = c->q + (size_t)t * n_q, *k = c->k + (size_t)t * n_kv, *v = c->v + (size_t)t * n_kv;
        const float *cs = c->rope_cos + (size_t)t * half, *sn = c->rope_sin + (size_t)t * half;
        for (int h = 0; h < hp->n_head; h++) {
            rmsnorm(q + h * hd, q + h * hd, l->q_norm, hd, hp->rms_eps);
            rope_neox(q + h * hd, cs, sn, hp->n_rot);
        }
        for (int h = 0; h < hp->n_head_kv; h++) {
            rmsnorm(k + h * hd, k + h * hd, l->k_norm, hd, hp->rms_eps);
            rope_neox(k + h * hd, cs, sn, hp->n_rot);
        }
        size_t at = hh_ctx_kv_at(c, j->il, c->tseq[t], c->pos[t]);
        hh_ctx_store_kv(c, c->k_cache, at, k, (size_t)n_kv);
        hh_ctx_store_kv(c, c->v_cache, at, v, (size_t)n_kv);
    }
}

/* Attention over the token's own sequence (kernels.h, attn). Global layers:
 * work items are (block of up to ATT_BLOCK tokens of one sequence, KV head)
 * and a token sees positions 0..pos. Local layers: items are (token, KV
 * head) and the kernel gets the cache from the window's first row on, so a
 * token sees positions max(0, pos - n_swa + 1)..pos. Items are dealt out
 * strided (later tokens cost more on global layers). */
static void attention_worker(void *ctx, int ith, int nth)
{
    const g3_job_t *j = ctx;
    hh_ctx_t *c = j->c;
    const hh_hparams_t *hp = &c->m->hp;
    const bool swa = c->m->layers[j->il].swa;
    const int hd = hp->head_dim, n_q = hp->n_head * hd, n_kv = hp->n_head_kv * hd;
    const int group = hp->n_head / hp->n_head_kv;
    hh_attn_job_t a = {
        .hd = hd, .n_head = group, .q_stride = (size_t)n_q, .kv_stride = (size_t)n_kv * c->kv_elem,
        .f16 = c->kv_type == HH_KV_F16, .scale = hp->attn_scale, .scratch = c->scores[ith],
    };
    const float *sinks = c->m->layers[j->il].attn_sinks;
    int32_t n_pos[ATT_BLOCK];
    a.n_pos = n_pos;
    long item = 0;
    for (int32_t t0 = 0; t0 < j->n_tok;) {
        int32_t nb = 1;
        while (!swa && nb < ATT_BLOCK && t0 + nb < j->n_tok && c->tseq[t0 + nb] == c->tseq[t0])
            nb++;
        for (int g = 0; g < hp->n_head_kv; g++, item++) {
            if (item % nth != ith)
                continue;
            int32_t first = 0;
            if (swa) {
                first = c->pos[t0] - hp->n_swa + 1 > 0 ? c->pos[t0] - hp->n_swa + 1 : 0;
                n_pos[0] = c->pos[t0] + 1 - first;
            } else {
                for (int32_t i = 0; i < nb; i++)
                    n_pos[i] = c->pos[t0 + i] + 1;
            }
            const size_t base = hh_ctx_kv_at(c, j->il, c->tseq[t0], first) + (size_t)g * hd;
            const size_t qoff = (size_t)t0 * n_q + (size_t)g * group * hd;
            a.n_tok = nb;
            a.sink = sinks != NULL ? sinks + (size_t)g * group : NULL;
            a.q = c->q + qoff;
            a.out = c->att + qoff;
            a.k = (const uint8_t *)c->k_cache + base * c->kv_elem;
            a.v = (const uint8_t *)c->v_cache + base * c->kv_elem;
            c->kern->attn(&a);
        }
        t0 += nb;
    }
}

/* hb = gelu(hb) * hb2 over (n_tok, n_ff), GELU in its tanh form
 * 0.5 x (1 + tanh u), u = k (x + 0.044715 x^3) = k x p with
 * p = 1 + 0.044715 x^2, k = sqrt(2/pi). Since 0.5 (1 + tanh u) =
 * sigmoid(2u) and x = 2u / (2 k p):
 *   gelu(x) * up = silu(2 k x p) * (up / (2 k p)),
 * one pass of plain arithmetic (the compiler vectorizes it) and then the
 * SwiGLU kernel's SIMD sigmoid (kernels.h), instead of a tanhf per value. */
static void geglu_worker(void *ctx, int ith, int nth)
{
    const g3_job_t *j = ctx;
    hh_ctx_t *c = j->c;
    long lo, hi;
    hh_pool_split((long)j->n_tok * c->m->hp.n_ff, ith, nth, 16, &lo, &hi);
    const float two_k = 2.0f * 0.7978845608028654f;
    float *g = c->hb, *u = c->hb2;
    for (long i = lo; i < hi; i++) {
        const float x = g[i], tkp = two_k * (1.0f + 0.044715f * x * x);
        g[i] = tkp * x;
        u[i] = u[i] / tkp;
    }
    if (hi > lo)
        c->kern->swiglu(g + lo, u + lo, hi - lo);
}

/* Window cache: before a batch, every sequence whose new positions would
 * run past its local layers' rows moves its last n_swa - 1 positions (all
 * its next token can see) to the front of those rows. prepare_batch left
 * the tokens added per sequence in seq_add. Afterwards swa_first[s] <=
 * seq_len[s] - n_swa + 1, so the batch's first token still finds its
 * window, and the batch fits: n_swa - 1 + n_batch <= cap. */
void hh_swa_make_room(hh_ctx_t *c)
{
    const hh_hparams_t *hp = &c->m->hp;
    const size_t row = (size_t)hp->n_head_kv * (size_t)hp->head_dim * c->kv_elem;
    for (int32_t s = 0; s < c->n_seq; s++) {
        const int32_t len = c->seq_len[s], end = len + c->seq_add[s];
        int32_t cap = 0;
        for (int il = 0; il < hp->n_layer && cap == 0; il++)
            cap = c->m->layers[il].swa ? c->kv_cap[il] : 0;
        if (c->seq_add[s] == 0 || cap == 0 || end - c->swa_first[s] <= cap)
            continue;
        int32_t first = len - hp->n_swa + 1;
        if (first < c->swa_first[s])
            first = c->swa_first[s];
        for (int il = 0; il < hp->n_layer; il++) {
            if (!c->m->layers[il].swa)
                continue;
            const size_t from = hh_ctx_kv_at(c, il, s, first) * c->kv_elem;
            const size_t to = hh_ctx_kv_at(c, il, s, c->swa_first[s]) * c->kv_elem;
            memmove((uint8_t *)c->k_cache + to, (uint8_t *)c->k_cache + from, (size_t)(len - first) * row);
            memmove((uint8_t *)c->v_cache + to, (uint8_t *)c->v_cache + from, (size_t)(len - first) * row);
        }
        c->swa_first[s] = first;
    }
}

void hh_swa_attention(hh_ctx_t *c, int il, int32_t n_tok, double work)
{
    g3_job_t j = { .c = c, .n_tok = n_tok, .il = il };
    hh_ctx_run_step(c, attention_worker, &j, work);
}

/* cos/sin of every rotated pair for each batch token, for one layer type:
 * theta_i = pos / scale * base^(-2i / n_rot). */
static void rope_tables(hh_ctx_t *c, int32_t n_tok, bool swa)
{
    const hh_hparams_t *hp = &c->m->hp;
    const int half = hp->n_rot / 2;
    const double base = swa ? hp->rope_base_swa : hp->rope_base;
    const double scale = swa ? 1.0 : hp->rope_scale;
    for (int32_t t = 0; t < n_tok; t++) {
        double p = (double)c->pos[t] / scale;
        for (int i = 0; i < half; i++) {
            double theta = p * pow(base, -2.0 * i / hp->n_rot);
            c->rope_cos[(size_t)t * half + i] = (float)cos(theta);
            c->rope_sin[(size_t)t * half + i] = (float)sin(theta);
        }
    }
}

int hh_gemma3_decode(hh_ctx_t *c, const hh_batch_t *batch, hh_err_t *err)
{
    const hh_model_t *m = c->m;
    const hh_hparams_t *hp = &m->hp;
    int32_t n_out = 0;
    c->n_last = 0;
    int rc = hh_ctx_prepare_batch(c, batch, &n_out, err);
    if (rc != HH_OK)
        return rc;
    if (c->swa_cache)
        hh_swa_make_room(c);
    const int32_t T = batch->n_tokens;
    const size_t n_embd = (size_t)hp->n_embd;
    hh_pool_t *pool = c->pool;
    const hh_mm_ws_t *ws = &c->mm;

    const float embd_scale = sqrtf((float)hp->n_embd);
    for (int32_t t = 0; t < T; t++) {
        float *x = c->x + (size_t)t * n_embd;
        if (m->tok_embd.x4) {   /* a tied output repacked (model.c) */
            hh_x4_dequant_row(&m->tok_embd, batch->tokens[t], x);
        } else {
            const uint8_t *row = (const uint8_t *)m->tok_embd.data + (size_t)batch->tokens[t] * m->tok_embd.row_bytes;
            c->kern->dequant[m->tok_embd.type](row, x, hp->n_embd);
        }
        for (size_t i = 0; i < n_embd; i++)
            x[i] *= embd_scale;
    }

    g3_job_t j = { .c = c, .n_tok = T };
    int32_t max_pos = 0;
    for (int32_t t = 0; t < T; t++)
        max_pos = c->pos[t] > max_pos ? c->pos[t] : max_pos;
    const double w_norm = (double)T * hp->n_embd * 8;
    const double w_qkv = (double)T * (hp->n_head + hp->n_head_kv) * hp->head_dim * 8;
    const double w_att_global = (double)T * hp->n_head * (max_pos + 1.0) * hp->head_dim * 2;
    const double w_att_local = (double)T * hp->n_head * (hp->n_swa < max_pos + 1 ? hp->n_swa : max_pos + 1.0) *
                               hp->head_dim * 2;
    const double w_ffn = (double)T * hp->n_ff * 16;
    int tables = -1;   /* layer type the rope tables hold: 1 local, 0 global */
    for (int il = 0; il < hp->n_layer; il++) {
        const hh_layer_t *l = &m->layers[il];
        j.il = il;
        if (tables != (int)l->swa) {
            rope_tables(c, T, l->swa);
            tables = (int)l->swa;
        }

        /* attention; the previous layer's FFN output (in xb) joins x first */
        j.post_w = il > 0 ? m->layers[il - 1].post_ffw_norm : NULL;
        j.norm_w = l->attn_norm;
        hh_ctx_run_step(c, norm_worker, &j, w_norm);
        const hh_mat_t *wqkv[3] = { &l->wq, &l->wk, &l->wv };
        float *const yqkv[3] = { c->q, c->k, c->v };
        hh_matmul_n(pool, c->kern, 3, wqkv, c->xb, yqkv, T, ws);
        hh_ctx_run_step(c, qkv_post_worker, &j, w_qkv);
        hh_ctx_run_step(c, attention_worker, &j, l->swa ? w_att_local : w_att_global);
        hh_matmul(pool, c->kern, &l->wo, c->att, c->xb, T, ws);

        /* feed-forward: x += post-normed attention, GELU-gated FFN on its norm */
        j.post_w = l->post_attn_norm;
        j.norm_w = l->ffn_norm;
        hh_ctx_run_step(c, norm_worker, &j, w_norm);
        const hh_mat_t *wgu[2] = { &l->w_gate, &l->w_up };
        float *const ygu[2] = { c->hb, c->hb2 };
        hh_matmul_n(pool, c->kern, 2, wgu, c->xb, ygu, T, ws);
        hh_ctx_run_step(c, geglu_worker, &j, w_ffn);
        hh_matmul(pool, c->kern, &l->w_down, c->hb, c->xb, T, ws);
    }
    j.post_w = m->layers[hp->n_layer - 1].post_ffw_norm;
    j.norm_w = m->out_norm;
    hh_ctx_run_step(c, norm_worker, &j, w_norm);

    /* Pack the rows that want logits to the front of xb (out_row[t] <= t). */
    for (int32_t t = 0; t < T; t++) {
        int32_t r = c->out_row[t];
        if (r >= 0 && r != t)
            memmove(c->xb + (size_t)r * n_embd, c->xb + (size_t)t * n_embd, n_embd * sizeof(float));
    }
    if (n_out > 0) {
        hh_matmul(pool, c->kern, &m->output, c->xb, c->logits, n_out, ws);
        if (hp->logit_softcap > 0.0f) {
            const float cap = hp->logit_softcap, inv = 1.0f / cap;
            const size_t n = (size_t)n_out * (size_t)hp->n_vocab;
            for (size_t i = 0; i < n; i++)
                c->logits[i] = cap * tanhf(c->logits[i] * inv);
        }
    }

    for (int32_t t = 0; t < T; t++)
        c->seq_len[c->tseq[t]]++;
    c->n_last = T;
    return HH_OK;
}
