/* llama.c - evaluation contexts and the forward pass of the llama family
 * (llama / Mistral / TinyLlama / SmolLM, qwen2, qwen3, qwen3moe).
 *
 * One decode call runs a batch of T tokens, each appended to its own
 * sequence of the KV cache:
 *
 *   x = token_embd[id]                                     (T, n_embd)
 *   per layer:
 *     xb = rmsnorm(x) * attn_norm
 *     q, k, v = Wq xb (+bq), Wk xb (+bk), Wv xb (+bv)      (T, n_q) (T, n_kv) (T, n_kv)
 *     qwen3: q, k = rmsnorm per head * q_norm / k_norm
 *     q, k = rope(q, k, pos); K/V cache[seq][pos] = k, v
 *     att = softmax(q K^T / sqrt(head_dim)) V over the token's own sequence,
 *           positions 0..pos (causal); GQA: head h reads kv head h / group
 *     x += Wo att
 *     xb = rmsnorm(x) * ffn_norm
 *     x += Wdown (silu(Wgate xb) * Wup xb)
 *   logits = Wout (rmsnorm(x) * output_norm)   for the requested tokens only
 *
 * Math is F32, except that by default matrix products round their input
 * to 8 bits per block and use integer dots (ctx params `exact` turns that
 * off: F32 on the exact dequantized weights). Matrix products run on
 * the pool (matmul.c); the cheap per-token steps are fused into a few pool
 * jobs (add+norm, bias+norm+rope+cache store, attention, SwiGLU). Every
 * buffer is allocated at context creation, sized by n_batch; decode itself
 * does not allocate, except to grow the logits buffer the first time a batch
 * asks for more rows than any before it. */
#include "model/model_int.h"
#include "base/cpu.h"
#include "kernels/fp16.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Tokens per attention work item: a run of consecutive batch tokens of one
 * sequence shares every K/V tile the kernel converts. */
#define ATT_BLOCK 8

/* struct hh_ctx: model_int.h (shared with gemma3.c). */

hh_ctx_params_t hh_ctx_default_params(void)
{
    hh_ctx_params_t p = { .n_ctx = 0, .n_seq = 1, .n_batch = 0, .n_threads = 0,
                          .pool = NULL, .kv_type = HH_KV_F16, .exact = false };
    return p;
}

/* ---- context ------------------------------------------------------------ */

/* calloc of a*b*c elements of size es, NULL on overflow or failure. */
static void *alloc3(size_t a, size_t b, size_t c, size_t es)
{
    size_t n;
    if (__builtin_mul_overflow(a, b, &n) || __builtin_mul_overflow(n, c, &n) ||
        __builtin_mul_overflow(n, es, &n))
        return NULL;
    return calloc(n ? n : 1, 1);
}

int hh_ctx_create(hh_ctx_t **out, const hh_model_t *m, const hh_ctx_params_t *params, hh_err_t *err)
{
    hh_ctx_params_t p = params ? *params : hh_ctx_default_params();
    const hh_hparams_t *hp = &m->hp;
    *out = NULL;
    if (hp->embedding)
        return hh_err_set(err, HH_EUNSUPPORTED, -1,
                          "model architecture '%s' is an embedding model; it cannot generate text",
                          hp->arch_name);
    if (p.n_ctx == 0)
        p.n_ctx = hp->n_ctx_train < 4096 ? hp->n_ctx_train : 4096;
    if (p.n_batch == 0)
        p.n_batch = 512;
    if (p.n_ctx < 1 || p.n_ctx > (1 << 24) || p.n_seq < 1 || p.n_seq > 65536 || p.n_batch < 1 ||
        p.n_threads < 0 || (p.kv_type != HH_KV_F16 && p.kv_type != HH_KV_F32))
        return hh_err_set(err, HH_EINVAL, -1, "bad context parameters: n_ctx %d, n_seq %d, n_batch %d, n_threads %d",
                          p.n_ctx, p.n_seq, p.n_batch, p.n_threads);
    /* A batch never holds more tokens than the cache has room for. */
    if ((int64_t)p.n_batch > (int64_t)p.n_ctx * p.n_seq)
        p.n_batch = (int32_t)((int64_t)p.n_ctx * p.n_seq);

    hh_ctx_t *c = calloc(1, sizeof *c);
    if (c == NULL)
        return hh_err_set(err, HH_ENOMEM, -1, "out of memory");
    int rc = HH_ENOMEM;
    c->m = m;
    c->kern = hh_kernels();
    c->n_ctx = p.n_ctx;
    c->n_seq = p.n_seq;
    c->n_batch = p.n_batch;
    c->kv_type = p.kv_type;
    c->kv_elem = p.kv_type == HH_KV_F16 ? sizeof(uint16_t) : sizeof(float);
    if (p.pool != NULL) {
        c->pool = p.pool;
    } else {
        int nt = p.n_threads > 0 ? p.n_threads : hh_cpu()->n_cores;
        if ((rc = hh_pool_create(&c->own_pool, nt < 1 ? 1 : nt)) != HH_OK) {
            hh_err_set(err, rc, -1, "cannot start %d threads", nt);
            goto cleanup;
        }
        c->pool = c->own_pool;
    }
    c->n_threads = hh_pool_size(c->pool);

    const size_t nb = (size_t)c->n_batch, hd = (size_t)hp->head_dim;
    /* a mixture-of-experts model has no dense FFN: its scratch is moe.c's */
    const size_t n_embd = (size_t)hp->n_embd, n_ff = hp->n_expert > 0 ? 0 : (size_t)hp->n_ff;
    const size_t n_q = (size_t)hp->n_head * hd, n_kv = (size_t)hp->n_head_kv * hd;
    size_t max_in = n_embd > n_q ? n_embd : n_q;
    if (n_ff > max_in)
        max_in = n_ff;

    rc = HH_ENOMEM;
    /* Sliding-window layers keep the window: a batch's first token needs
     * the n_swa - 1 positions before it, the batch adds up to n_batch, and
     * n_swa more rows of slack make the move that frees room (gemma3.c)
     * happen once per n_swa tokens, not per token. */
    int64_t cap_swa = c->n_ctx;
    if (hp->n_swa > 0 && !p.swa_full && 2 * (int64_t)hp->n_swa + c->n_batch - 1 < c->n_ctx)
        cap_swa = 2 * (int64_t)hp->n_swa + c->n_batch - 1;
    c->swa_cache = cap_swa < c->n_ctx;
    c->kv_row0 = alloc3((size_t)hp->n_layer, 1, 1, sizeof(size_t));
    c->kv_cap = alloc3((size_t)hp->n_layer, 1, 1, sizeof(int32_t));
    c->swa_first = alloc3((size_t)c->n_seq, 1, 1, sizeof(int32_t));
    size_t rows = 0;
    for (int il = 0; c->kv_row0 && c->kv_cap && il < hp->n_layer; il++) {
        c->kv_cap[il] = m->layers[il].swa && c->swa_cache ? (int32_t)cap_swa : c->n_ctx;
        c->kv_row0[il] = rows;
        rows += (size_t)c->n_seq * (size_t)c->kv_cap[il];
    }
    c->k_cache = alloc3(rows, n_kv, 1, c->kv_elem);
    c->v_cache = alloc3(rows, n_kv, 1, c->kv_elem);
    c->seq_len = alloc3((size_t)c->n_seq, 1, 1, sizeof(int32_t));
    c->seq_add = alloc3((size_t)c->n_seq, 1, 1, sizeof(int32_t));
    c->x = alloc3(nb, n_embd, 1, sizeof(float));
    c->xb = alloc3(nb, n_embd, 1, sizeof(float));
    c->q = alloc3(nb, n_q, 1, sizeof(float));
    c->k = alloc3(nb, n_kv, 1, sizeof(float));
    c->v = alloc3(nb, n_kv, 1, sizeof(float));
    c->att = alloc3(nb, n_q, 1, sizeof(float));
    c->hb = alloc3(nb, n_ff, 1, sizeof(float));
    c->hb2 = alloc3(nb, n_ff, 1, sizeof(float));
    c->rope_cos = alloc3(nb, (size_t)hp->n_rot / 2 + 1, 1, sizeof(float));
    c->rope_sin = alloc3(nb, (size_t)hp->n_rot / 2 + 1, 1, sizeof(float));
    c->pos = alloc3(nb, 1, 1, sizeof(int32_t));
    c->tseq = alloc3(nb, 1, 1, sizeof(int32_t));
    c->out_row = alloc3(nb, 1, 1, sizeof(int32_t));
    c->scores = calloc((size_t)c->n_threads, sizeof *c->scores);
    c->logits_cap = 1;
    c->logits = alloc3(1, (size_t)hp->n_vocab, 1, sizeof(float));
    if (!c->kv_row0 || !c->kv_cap || !c->swa_first || !c->k_cache || !c->v_cache || !c->seq_len || !c->seq_add || !c->x || !c->xb || !c->q ||
        !c->k || !c->v || !c->att || !c->hb || !c->hb2 || !c->rope_cos || !c->rope_sin || !c->pos ||
        !c->tseq || !c->out_row || !c->scores || !c->logits) {
        hh_err_set(err, HH_ENOMEM, -1, "out of memory for a context of %d positions x %d sequences, batch %d",
                   c->n_ctx, c->n_seq, c->n_batch);
        goto cleanup;
    }
    for (int i = 0; i < c->n_threads; i++) {
        c->scores[i] = alloc3(hh_attn_scratch_floats((int32_t)hd, ATT_BLOCK * (hp->n_head / hp->n_head_kv)), 1, 1,
                              sizeof(float));
        if (c->scores[i] == NULL) {
            hh_err_set(err, HH_ENOMEM, -1, "out of memory for thread scratch");
            goto cleanup;
        }
    }
    if (hh_mm_ws_init(&c->mm, c->n_threads, c->n_batch, (int64_t)max_in, p.exact, err) != 0)
        goto cleanup;
    if (hp->n_expert > 0 && hh_moe_ws_create(&c->moe, m, c->n_threads, c->n_batch, p.exact, err) != HH_OK)
        goto cleanup;
    *out = c;
    return HH_OK;
cleanup:
    hh_ctx_free(c);
    return rc;
}

void hh_ctx_free(hh_ctx_t *c)
{
    if (c == NULL)
        return;
    hh_mm_ws_free(&c->mm);
    hh_moe_ws_free(c->moe);
    for (int i = 0; c->scores && i < c->n_threads; i++)
        free(c->scores[i]);
    free(c->scores);
    free(c->k_cache);
    free(c->v_cache);
    free(c->kv_row0);
    free(c->kv_cap);
    free(c->swa_first);
    free(c->seq_len);
    free(c->seq_add);
    free(c->x);
    free(c->xb);
    free(c->q);
    free(c->k);
    free(c->v);
    free(c->att);
    free(c->hb);
    free(c->hb2);
    free(c->rope_cos);
    free(c->rope_sin);
    free(c->pos);
    free(c->tseq);
    free(c->out_row);
    free(c->logits);
    hh_pool_free(c->own_pool);
    free(c);
}

int32_t hh_ctx_n_ctx(const hh_ctx_t *c) { return c->n_ctx; }

int32_t hh_ctx_seq_len(const hh_ctx_t *c, int32_t seq)
{
    return seq >= 0 && seq < c->n_seq ? c->seq_len[seq] : 0;
}

int hh_ctx_seq_truncate(hh_ctx_t *c, int32_t seq, int32_t pos)
{
    if (seq < 0 || seq >= c->n_seq || pos < 0)
        return HH_EINVAL;
    if (pos < c->seq_len[seq]) {
        /* A window cache may have dropped positions the token at pos
         * needs (pos - n_swa + 1 .. pos - 1): then the sequence is cleared. */
        if (c->swa_cache && c->swa_first[seq] > 0 && pos - c->m->hp.n_swa + 1 < c->swa_first[seq])
            pos = 0;
        c->seq_len[seq] = pos;
        if (pos == 0)
            c->swa_first[seq] = 0;
    }
    return HH_OK;
}

const float *hh_ctx_logits(const hh_ctx_t *c, int32_t i)
{
    if (i < 0 || i >= c->n_last || c->out_row[i] < 0)
        return NULL;
    return c->logits + (size_t)c->out_row[i] * (size_t)c->m->hp.n_vocab;
}

/* ---- per-token steps ---------------------------------------------------- */

/* out = x / rms(x) * w over n values. */
static void rmsnorm(float *out, const float *x, const float *w, int n, float eps)
{
    double ss = 0.0;
    for (int i = 0; i < n; i++)
        ss += (double)x[i] * x[i];
    float scale = (float)(1.0 / sqrt(ss / n + eps));
    for (int i = 0; i < n; i++)
        out[i] = x[i] * scale * w[i];
}

/* Rotates n_rot dims of one head by the token's angles: NORM rotates
 * (2i, 2i+1), NEOX rotates (i, i + n_rot/2). Dims past n_rot are kept. */
static void rope(float *v, const float *cs, const float *sn, int n_rot, hh_rope_style_t style)
{
    const int half = n_rot / 2;
    const int stride = style == HH_ROPE_NEOX ? half : 1;
    const int step = style == HH_ROPE_NEOX ? 1 : 2;
    for (int i = 0; i < half; i++) {
        float *a = v + i * step, *b = a + stride;
        float x0 = *a, x1 = *b;
        *a = x0 * cs[i] - x1 * sn[i];
        *b = x0 * sn[i] + x1 * cs[i];
    }
}

typedef struct step_job {
    hh_ctx_t       *c;
    int32_t         n_tok;
    int             il;        /* layer */
    const float    *add;       /* add_norm: (n_tok, n_embd) added to x first, or NULL */
    const float    *norm_w;    /* add_norm: (n_embd) */
} step_job_t;

/* x[t] += add[t]; xb[t] = rmsnorm(x[t]) * w. add may alias xb (row by row). */
static void add_norm_worker(void *ctx, int ith, int nth)
{
    const step_job_t *j = ctx;
    hh_ctx_t *c = j->c;
    const int n = c->m->hp.n_embd;
    long lo, hi;
    hh_pool_split(j->n_tok, ith, nth, 1, &lo, &hi);
    for (long t = lo; t < hi; t++) {
        float *x = c->x + (size_t)t * n;
        if (j->add != NULL) {
            const float *a = j->add + (size_t)t * n;
            for (int i = 0; i < n; i++)
                x[i] += a[i];
        }
        rmsnorm(c->xb + (size_t)t * n, x, j->norm_w, n, c->m->hp.rms_eps);
    }
}

static void store_kv(const hh_ctx_t *c, void *cache, size_t at, const float *src, size_t n)
{
    if (c->kv_type == HH_KV_F32) {
        memcpy((float *)cache + at, src, n * sizeof(float));
    } else {
        uint16_t *dst = (uint16_t *)cache + at;
        for (size_t i = 0; i < n; i++)
            dst[i] = hh_f32_to_fp16(src[i]);
    }
}

/* Index (in values) of cache row (layer, seq, pos). */
static size_t kv_at(const hh_ctx_t *c, int il, int32_t seq, int32_t pos)
{
    const hh_hparams_t *hp = &c->m->hp;
    size_t n_kv = (size_t)hp->n_head_kv * (size_t)hp->head_dim;
    if (c->swa_cache && c->m->layers[il].swa)
        pos -= c->swa_first[seq];
    return (c->kv_row0[il] + (size_t)seq * (size_t)c->kv_cap[il] + (size_t)pos) * n_kv;
}

/* Biases, qwen3 head norms, rope; then k and v go into the cache. */
static void qkv_post_worker(void *ctx, int ith, int nth)
{
    const step_job_t *j = ctx;
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
        for (int i = 0; l->bq && i < n_q; i++) q[i] += l->bq[i];
        for (int i = 0; l->bk && i < n_kv; i++) k[i] += l->bk[i];
        for (int i = 0; l->bv && i < n_kv; i++) v[i] += l->bv[i];
        for (int h = 0; h < hp->n_head; h++) {
            if (l->q_norm != NULL)
                rmsnorm(q + h * hd, q + h * hd, l->q_norm, hd, hp->rms_eps);
            rope(q + h * hd, cs, sn, hp->n_rot, hp->rope_style);
        }
        for (int h = 0; h < hp->n_head_kv; h++) {
            if (l->k_norm != NULL)
                rmsnorm(k + h * hd, k + h * hd, l->k_norm, hd, hp->rms_eps);
            rope(k + h * hd, cs, sn, hp->n_rot, hp->rope_style);
        }
        size_t at = kv_at(c, j->il, c->tseq[t], c->pos[t]);
        store_kv(c, c->k_cache, at, k, (size_t)n_kv);
        store_kv(c, c->v_cache, at, v, (size_t)n_kv);
    }
}

/* att[t][h] = softmax(q[t][h] . K[0..pos] / sqrt(hd)) V[0..pos], over the
 * token's own sequence (kernels.h, attn). Work items are (block, KV head):
 * a block is up to ATT_BLOCK consecutive batch tokens of one sequence, and
 * the query heads of the KV head's group run together. Items are dealt out
 * strided, not in contiguous ranges: later tokens attend over more
 * positions, so contiguous ranges would leave the last thread most work. */
static void attention_worker(void *ctx, int ith, int nth)
{
    const step_job_t *j = ctx;
    hh_ctx_t *c = j->c;
    const hh_hparams_t *hp = &c->m->hp;
    const int hd = hp->head_dim, n_q = hp->n_head * hd, n_kv = hp->n_head_kv * hd;
    const int group = hp->n_head / hp->n_head_kv;
    hh_attn_job_t a = {
        .hd = hd, .n_head = group, .q_stride = (size_t)n_q, .kv_stride = (size_t)n_kv * c->kv_elem,
        .f16 = c->kv_type == HH_KV_F16, .scale = 1.0f / sqrtf((float)hd), .scratch = c->scores[ith],
    };
    int32_t n_pos[ATT_BLOCK];
    a.n_pos = n_pos;
    long item = 0;
    for (int32_t t0 = 0; t0 < j->n_tok;) {
        int32_t nb = 1;
        while (nb < ATT_BLOCK && t0 + nb < j->n_tok && c->tseq[t0 + nb] == c->tseq[t0])
            nb++;
        for (int g = 0; g < hp->n_head_kv; g++, item++) {
            if (item % nth != ith)
                continue;
            for (int32_t i = 0; i < nb; i++)
                n_pos[i] = c->pos[t0 + i] + 1;
            const size_t base = kv_at(c, j->il, c->tseq[t0], 0) + (size_t)g * hd;
            const size_t qoff = (size_t)t0 * n_q + (size_t)g * group * hd;
            a.n_tok = nb;
            a.q = c->q + qoff;
            a.out = c->att + qoff;
            a.k = (const uint8_t *)c->k_cache + base * c->kv_elem;
            a.v = (const uint8_t *)c->v_cache + base * c->kv_elem;
            c->kern->attn(&a);
        }
        t0 += nb;
    }
}

/* hb = silu(hb) * hb2 over (n_tok, n_ff) (kernels.h, swiglu). */
static void swiglu_worker(void *ctx, int ith, int nth)
{
    const step_job_t *j = ctx;
    hh_ctx_t *c = j->c;
    long lo, hi;
    hh_pool_split((long)j->n_tok * c->m->hp.n_ff, ith, nth, 16, &lo, &hi);
    if (hi > lo)
        c->kern->swiglu(c->hb + lo, c->hb2 + lo, hi - lo);
}

/* ---- decode -------------------------------------------------------------- */

/* Below this many elementary operations a step runs on the calling thread:
 * waking the pool costs more than the work (decode-time norms, tiny models). */
#define PAR_MIN_WORK 32768.0

static void run_step(hh_ctx_t *c, hh_pool_fn fn, step_job_t *j, double work)
{
    if (work < PAR_MIN_WORK)
        fn(j, 0, 1);
    else
        hh_pool_run(c->pool, fn, j);
}

/* Checks a batch, fills pos/tseq/out_row and makes room for its logits;
 * changes nothing a caller can see on failure. Returns rows of logits. */
static int prepare_batch(hh_ctx_t *c, const hh_batch_t *b, int32_t *n_out, hh_err_t *err)
{
    const hh_hparams_t *hp = &c->m->hp;
    if (b == NULL || b->tokens == NULL || b->n_tokens < 1 || b->n_tokens > c->n_batch)
        return hh_err_set(err, HH_EINVAL, -1, "batch of %d tokens (must be 1..%d)",
                          b ? b->n_tokens : 0, c->n_batch);
    memset(c->seq_add, 0, sizeof *c->seq_add * (size_t)c->n_seq);
    int32_t outs = 0;
    for (int32_t i = 0; i < b->n_tokens; i++) {
        int32_t id = b->tokens[i], s = b->seq ? b->seq[i] : 0;
        if (id < 0 || id >= hp->n_vocab)
            return hh_err_set(err, HH_ERANGE, -1, "token %d at batch index %d is outside the vocabulary [0, %d)",
                              id, i, hp->n_vocab);
        if (s < 0 || s >= c->n_seq)
            return hh_err_set(err, HH_ERANGE, -1, "sequence %d at batch index %d is outside [0, %d)", s, i, c->n_seq);
        if (c->seq_len[s] + c->seq_add[s] >= c->n_ctx)
            return hh_err_set(err, HH_EFULL, -1, "sequence %d is full (context length %d)", s, c->n_ctx);
        c->seq_add[s]++;
        bool want = b->logits ? b->logits[i] : i == b->n_tokens - 1;
        if (want)
            outs++;
    }
    if (outs > c->logits_cap) {
        float *grown = alloc3((size_t)outs, (size_t)hp->n_vocab, 1, sizeof(float));
        if (grown == NULL)
            return hh_err_set(err, HH_ENOMEM, -1, "out of memory for %d rows of logits", outs);
        free(c->logits);
        c->logits = grown;
        c->logits_cap = outs;
    }
    memset(c->seq_add, 0, sizeof *c->seq_add * (size_t)c->n_seq);
    outs = 0;
    for (int32_t i = 0; i < b->n_tokens; i++) {
        int32_t s = b->seq ? b->seq[i] : 0;
        c->tseq[i] = s;
        c->pos[i] = c->seq_len[s] + c->seq_add[s]++;
        bool want = b->logits ? b->logits[i] : i == b->n_tokens - 1;
        c->out_row[i] = want ? outs++ : -1;
    }
    *n_out = outs;
    return HH_OK;
}

/* cos/sin of every rotated pair for each batch token:
 * theta_i = pos / scale * base^(-2i / n_rot) / freq_factor_i. */
static void rope_tables(hh_ctx_t *c, int32_t n_tok)
{
    const hh_hparams_t *hp = &c->m->hp;
    const int half = hp->n_rot / 2;
    for (int32_t t = 0; t < n_tok; t++) {
        double p = (double)c->pos[t] / hp->rope_scale;
        for (int i = 0; i < half; i++) {
            double theta = p * pow(hp->rope_base, -2.0 * i / hp->n_rot);
            if (c->m->rope_freqs != NULL)
                theta /= c->m->rope_freqs[i];
            c->rope_cos[(size_t)t * half + i] = (float)cos(theta);
            c->rope_sin[(size_t)t * half + i] = (float)sin(theta);
        }
    }
}

int hh_ctx_decode(hh_ctx_t *c, const hh_batch_t *batch, hh_err_t *err)
{
    const hh_model_t *m = c->m;
    const hh_hparams_t *hp = &m->hp;
    if (hp->arch == HH_ARCH_GEMMA3)
        return hh_gemma3_decode(c, batch, err);
    if (hp->arch == HH_ARCH_GPTOSS)
        return hh_gptoss_decode(c, batch, err);
    int32_t n_out = 0;
    c->n_last = 0;
    int rc = prepare_batch(c, batch, &n_out, err);
    if (rc != HH_OK)
        return rc;
    const int32_t T = batch->n_tokens;
    const size_t n_embd = (size_t)hp->n_embd;
    hh_pool_t *pool = c->pool;
    const hh_mm_ws_t *tile = &c->mm;

    rope_tables(c, T);
    for (int32_t t = 0; t < T; t++) {
        float *x = c->x + (size_t)t * n_embd;
        if (m->tok_embd.x4) {   /* a tied output repacked (model.c) */
            hh_x4_dequant_row(&m->tok_embd, batch->tokens[t], x);
        } else {
            const uint8_t *row = (const uint8_t *)m->tok_embd.data + (size_t)batch->tokens[t] * m->tok_embd.row_bytes;
            c->kern->dequant[m->tok_embd.type](row, x, hp->n_embd);
        }
    }

    step_job_t j = { .c = c, .n_tok = T };
    int32_t max_pos = 0;
    for (int32_t t = 0; t < T; t++)
        max_pos = c->pos[t] > max_pos ? c->pos[t] : max_pos;
    const double w_norm = (double)T * hp->n_embd * 4;
    const double w_qkv = (double)T * (hp->n_head + hp->n_head_kv) * hp->head_dim * 8;
    const double w_att = (double)T * hp->n_head * (max_pos + 1.0) * hp->head_dim * 2;
    const double w_ffn = (double)T * hp->n_ff * 8;
    for (int il = 0; il < hp->n_layer; il++) {
        const hh_layer_t *l = &m->layers[il];
        j.il = il;

        /* attention; the previous layer's FFN output (in xb) joins x first */
        j.add = il > 0 ? c->xb : NULL;
        j.norm_w = l->attn_norm;
        run_step(c, add_norm_worker, &j, w_norm);
        const hh_mat_t *wqkv[3] = { &l->wq, &l->wk, &l->wv };
        float *const yqkv[3] = { c->q, c->k, c->v };
        hh_matmul_n(pool, c->kern, 3, wqkv, c->xb, yqkv, T, tile);
        run_step(c, qkv_post_worker, &j, w_qkv);
        run_step(c, attention_worker, &j, w_att);
        hh_matmul(pool, c->kern, &l->wo, c->att, c->xb, T, tile);

        /* feed-forward: x += Wo att, then SwiGLU on its norm */
        j.add = c->xb;
        j.norm_w = l->ffn_norm;
        run_step(c, add_norm_worker, &j, w_norm);
        if (c->moe != NULL) {   /* mixture of experts: x += sum of the chosen experts */
            hh_moe_ffn(c->moe, pool, c->kern, m, il, c->xb, c->xb, T);
            continue;
        }
        const hh_mat_t *wgu[2] = { &l->w_gate, &l->w_up };
        float *const ygu[2] = { c->hb, c->hb2 };
        hh_matmul_n(pool, c->kern, 2, wgu, c->xb, ygu, T, tile);
        run_step(c, swiglu_worker, &j, w_ffn);
        hh_matmul(pool, c->kern, &l->w_down, c->hb, c->xb, T, tile);
    }
    j.add = c->xb;
    j.norm_w = m->out_norm;
    run_step(c, add_norm_worker, &j, w_norm);

    /* Pack the rows that want logits to the front of xb (out_row[t] <= t). */
    for (int32_t t = 0; t < T; t++) {
        int32_t r = c->out_row[t];
        if (r >= 0 && r != t)
            memmove(c->xb + (size_t)r * n_embd, c->xb + (size_t)t * n_embd, n_embd * sizeof(float));
    }
    if (n_out > 0)
        hh_matmul(pool, c->kern, &m->output, c->xb, c->logits, n_out, tile);

    for (int32_t t = 0; t < T; t++)
        c->seq_len[c->tseq[t]]++;
    c->n_last = T;
    return HH_OK;
}

/* ---- shared with the other forward passes (model_int.h) ---------------- */

int hh_ctx_prepare_batch(hh_ctx_t *c, const hh_batch_t *b, int32_t *n_out, hh_err_t *err)
{
    return prepare_batch(c, b, n_out, err);
}

size_t hh_ctx_kv_at(const hh_ctx_t *c, int il, int32_t seq, int32_t pos) { return kv_at(c, il, seq, pos); }

size_t hh_ctx_kv_bytes(const hh_ctx_t *c)
{
    const hh_hparams_t *hp = &c->m->hp;
    size_t rows = 0;
    for (int il = 0; il < hp->n_layer; il++)
        rows += (size_t)c->n_seq * (size_t)c->kv_cap[il];
    return 2 * rows * (size_t)hp->n_head_kv * (size_t)hp->head_dim * c->kv_elem;
}

void hh_ctx_store_kv(const hh_ctx_t *c, void *cache, size_t at, const float *src, size_t n)
{
    store_kv(c, cache, at, src, n);
}

void hh_ctx_run_step(hh_ctx_t *c, hh_pool_fn fn, void *job, double work)
{
    if (work < PAR_MIN_WORK)
        fn(job, 0, 1);
    else
        hh_pool_run(c->pool, fn, job);
}
