/* gptoss.c - the forward pass of gpt-oss (GGUF architecture "gpt-oss") on
 * the evaluation contexts of llama.c (struct hh_ctx, model_int.h).
 *
 * One decode call runs a batch of T tokens, each appended to its own
 * sequence of the KV cache:
 *
 *   x = token_embd[id]                                     (T, n_embd)
 *   per layer (even layers sliding window, odd layers full; swa_period):
 *     xb = rmsnorm(x) * attn_norm
 *     q, k, v = Wq xb + bq, Wk xb + bk, Wv xb + bv         (T, n_q) (T, n_kv) (T, n_kv)
 *     q, k = rope NEOX with YaRN (same angles on every layer)
 *     att_h = sum_j w_j v_j, w_j = e^(a_j) / (sum_j' e^(a_j') + e^(sink_h)),
 *             a_j = q k_j / sqrt(head_dim) over the visible keys (local
 *             layers: 0 <= pos - j < n_swa); the sink has no value
 *     x += Wo att + bo
 *     xb = rmsnorm(x) * post_attention_norm  (the pre-FFN norm)
 *     x += sum over the top-k experts (moe.c: router with bias, softmax over
 *          the chosen logits, clamped SwiGLU with expert biases)
 *   logits = Wout (rmsnorm(x) * output_norm)
 *
 * YaRN, per rotated pair i < n_rot / 2 (llama.cpp's rope_yarn): theta_e =
 * pos base^(-2i / n_rot), theta_i = theta_e / F blended with theta_e by a
 * ramp over the pairs between lo = floor(c(beta_fast)) and hi =
 * ceil(c(beta_slow)), c(b) = n_rot ln(L0 / (2 pi b)) / (2 ln base); cos and
 * sin are multiplied by mscale = 1 + 0.1 ln F.
 *
 * Attention and the window cache are gemma3.c's (hh_swa_attention,
 * hh_swa_make_room): local layers keep only the window. */
#include "model/model_int.h"

#include <math.h>
#include <string.h>

typedef struct go_job {
    hh_ctx_t    *c;
    int32_t      n_tok;
    int          il;
    bool         add;      /* norm_worker: x += xb (+ bias when set) first */
    const float *bias;
    const float *norm_w;   /* then xb = rmsnorm(x) * norm_w */
} go_job_t;

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

/* x[t] += xb[t] (+ bias) when add (a block output joins the residual);
 * xb[t] = rmsnorm(x[t]) * norm_w. */
static void norm_worker(void *ctx, int ith, int nth)
{
    const go_job_t *j = ctx;
    hh_ctx_t *c = j->c;
    const int n = c->m->hp.n_embd;
    const float eps = c->m->hp.rms_eps;
    long lo, hi;
    hh_pool_split(j->n_tok, ith, nth, 1, &lo, &hi);
    for (long t = lo; t < hi; t++) {
        float *x = c->x + (size_t)t * n, *xb = c->xb + (size_t)t * n;
        if (j->add && j->bias != NULL)
            for (int i = 0; i < n; i++)
                x[i] += xb[i] + j->bias[i];
        else if (j->add)
            for (int i = 0; i < n; i++)
                x[i] += xb[i];
        rmsnorm(xb, x, j->norm_w, n, eps);
    }
}

/* Rotates (i, i + n_rot/2) of one head by the token's angles (NEOX); the
 * tables already carry YaRN's magnitude factor. */
static void rope_neox(float *v, const float *cs, const float *sn, int n_rot)
{
    const int half = n_rot / 2;
    for (int i = 0; i < half; i++) {
        float x0 = v[i], x1 = v[i + half];
        v[i] = x0 * cs[i] - x1 * sn[i];
        v[i + half] = x0 * sn[i] + x1 * cs[i];
    }
}

/* Biases and RoPE of q and k; k and v go into the cache. */
static void qkv_post_worker(void *ctx, int ith, int nth)
{
    const go_job_t *j = ctx;
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
        for (int i = 0; i < n_q; i++) q[i] += l->bq[i];
        for (int i = 0; i < n_kv; i++) k[i] += l->bk[i];
        for (int i = 0; i < n_kv; i++) v[i] += l->bv[i];
        for (int h = 0; h < hp->n_head; h++)
            rope_neox(q + h * hd, cs, sn, hp->n_rot);
        for (int h = 0; h < hp->n_head_kv; h++)
            rope_neox(k + h * hd, cs, sn, hp->n_rot);
        size_t at = hh_ctx_kv_at(c, j->il, c->tseq[t], c->pos[t]);
        hh_ctx_store_kv(c, c->k_cache, at, k, (size_t)n_kv);
        hh_ctx_store_kv(c, c->v_cache, at, v, (size_t)n_kv);
    }
}

/* c(beta): the pair index whose wavelength fits beta times into L0. */
static double yarn_corr_dim(int n_rot, int32_t orig_ctx, double beta, double base)
{
    return n_rot * log(orig_ctx / (beta * 2.0 * M_PI)) / (2.0 * log(base));
}

/* cos/sin of every rotated pair for each batch token (YaRN when the file
 * has it, else plain theta_i = pos base^(-2i / n_rot)). */
static void rope_tables(hh_ctx_t *c, int32_t n_tok)
{
    const hh_hparams_t *hp = &c->m->hp;
    const int half = hp->n_rot / 2;
    const bool yarn = hp->yarn_factor > 0.0f;
    double lo = 0.0, hi = 0.0;
    if (yarn) {
        lo = floor(yarn_corr_dim(hp->n_rot, hp->yarn_orig_ctx, hp->yarn_beta_fast, hp->rope_base));
        hi = ceil(yarn_corr_dim(hp->n_rot, hp->yarn_orig_ctx, hp->yarn_beta_slow, hp->rope_base));
        lo = lo > 0.0 ? lo : 0.0;
        hi = hi < hp->n_rot - 1 ? hi : hp->n_rot - 1;
    }
    const double mscale = yarn ? hp->yarn_mscale : 1.0;
    for (int32_t t = 0; t < n_tok; t++) {
        for (int i = 0; i < half; i++) {
            const double theta_e = (double)c->pos[t] * pow(hp->rope_base, -2.0 * i / hp->n_rot);
            double theta = theta_e;
            if (yarn) {
                double y = (i - lo) / (hi - lo > 0.001 ? hi - lo : 0.001);
                double ramp = 1.0 - (y < 0.0 ? 0.0 : y > 1.0 ? 1.0 : y);   /* 1: unscaled */
                theta = theta_e / hp->yarn_factor * (1.0 - ramp) + theta_e * ramp;
            }
            c->rope_cos[(size_t)t * half + i] = (float)(cos(theta) * mscale);
            c->rope_sin[(size_t)t * half + i] = (float)(sin(theta) * mscale);
        }
    }
}

int hh_gptoss_decode(hh_ctx_t *c, const hh_batch_t *batch, hh_err_t *err)
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

    for (int32_t t = 0; t < T; t++) {
        float *x = c->x + (size_t)t * n_embd;
        if (m->tok_embd.x4) {   /* a tied output repacked (model.c) */
            hh_x4_dequant_row(&m->tok_embd, batch->tokens[t], x);
        } else {
            const uint8_t *row = (const uint8_t *)m->tok_embd.data + (size_t)batch->tokens[t] * m->tok_embd.row_bytes;
            c->kern->dequant[m->tok_embd.type](row, x, hp->n_embd);
        }
    }
    rope_tables(c, T);

    go_job_t j = { .c = c, .n_tok = T };
    int32_t max_pos = 0;
    for (int32_t t = 0; t < T; t++)
        max_pos = c->pos[t] > max_pos ? c->pos[t] : max_pos;
    const double w_norm = (double)T * hp->n_embd * 8;
    const double w_qkv = (double)T * (hp->n_head + hp->n_head_kv) * hp->head_dim * 8;
    const double w_att_global = (double)T * hp->n_head * (max_pos + 1.0) * hp->head_dim * 2;
    const double w_att_local = (double)T * hp->n_head * (hp->n_swa < max_pos + 1 ? hp->n_swa : max_pos + 1.0) *
                               hp->head_dim * 2;
    for (int il = 0; il < hp->n_layer; il++) {
        const hh_layer_t *l = &m->layers[il];
        j.il = il;

        /* attention; the previous layer's expert output (in xb) joins x first */
        j.add = il > 0;
        j.bias = NULL;
        j.norm_w = l->attn_norm;
        hh_ctx_run_step(c, norm_worker, &j, w_norm);
        const hh_mat_t *wqkv[3] = { &l->wq, &l->wk, &l->wv };
        float *const yqkv[3] = { c->q, c->k, c->v };
        hh_matmul_n(pool, c->kern, 3, wqkv, c->xb, yqkv, T, ws);
        hh_ctx_run_step(c, qkv_post_worker, &j, w_qkv);
        hh_swa_attention(c, il, T, l->swa ? w_att_local : w_att_global);
        hh_matmul(pool, c->kern, &l->wo, c->att, c->xb, T, ws);

        /* x += Wo att + bo; the experts on its norm, their sum into xb */
        j.add = true;
        j.bias = l->bo;
        j.norm_w = l->ffn_norm;
        hh_ctx_run_step(c, norm_worker, &j, w_norm);
        hh_moe_ffn(c->moe, pool, c->kern, m, il, c->xb, c->xb, T);
    }
    j.add = true;
    j.bias = NULL;
    j.norm_w = m->out_norm;
    hh_ctx_run_step(c, norm_worker, &j, w_norm);

    /* Pack the rows that want logits to the front of xb (out_row[t] <= t). */
    for (int32_t t = 0; t < T; t++) {
        int32_t r = c->out_row[t];
        if (r >= 0 && r != t)
            memmove(c->xb + (size_t)r * n_embd, c->xb + (size_t)t * n_embd, n_embd * sizeof(float));
    }
    if (n_out > 0)
        hh_matmul(pool, c->kern, &m->output, c->xb, c->logits, n_out, ws);

    for (int32_t t = 0; t < T; t++)
        c->seq_len[c->tseq[t]]++;
    c->n_last = T;
    return HH_OK;
}
