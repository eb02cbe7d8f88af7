/* bert.c - embedding contexts and the forward pass of the bert family
 * (encoder-only: BGE, MiniLM, E5, ...).
 *
 * One pass runs T tokens of one or more texts; text s has its own
 * positions 0..len-1 and attends only to itself:
 *
 *   x = LN(token_embd[id] + token_types[0] + position_embd[pos])   (T, n_embd)
 *   per layer:
 *     q, k, v = Wq x + bq, Wk x + bk, Wv x + bv                      (T, n_embd)
 *     att = softmax(q K^T / sqrt(head_dim)) V over the token's own text
 *           (bidirectional: every position of the text, no mask)
 *     x = LN(x + Wo att + bo) * attn_output_norm
 *     x = LN(x + Wdown gelu(Wup x + b_up) + b_down) * layer_output_norm
 *   hidden = x (no final norm); pooled = mean over the text's rows or its
 *   first row ([CLS]); embedding = pooled / |pooled|.
 *
 * GELU is the tanh approximation (what llama.cpp evaluates, there through
 * an F16 table; here in F32, which the reference tolerances cover). Matrix
 * products go through matmul.c (exact or 8-bit activation path, per the
 * context's `exact`); the per-token steps run as pool jobs. Every buffer is
 * allocated at context creation; a pass does not allocate. */
#include "model/model_int.h"
#include "base/cpu.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct hh_embed_ctx {
    const hh_model_t   *m;
    const hh_kernels_t *kern;
    hh_pool_t          *pool;       /* params.pool (not owned) or own_pool */
    hh_pool_t          *own_pool;   /* owned, may be NULL */
    int                 n_threads;
    int32_t             max_batch;  /* tokens per pass */
    int32_t             max_text;   /* tokens per text (positions) */

    /* Activations, owned, max_batch rows each */
    float   *x;       /* (max_batch, n_embd) residual stream / hidden states */
    float   *xb;      /* (max_batch, n_embd) matmul output */
    float   *q;       /* (max_batch, n_embd) */
    float   *k;       /* (max_batch, n_embd) */
    float   *v;       /* (max_batch, n_embd) */
    float   *att;     /* (max_batch, n_embd) attention output */
    float   *hb;      /* (max_batch, n_ff) */
    int32_t *pos;     /* (max_batch) position of each token in its text */
    int32_t *start;   /* (max_batch) row of its text's first token */
    int32_t *len;     /* (max_batch) tokens of its text */

    /* Per thread, owned */
    float     **scores;  /* (n_threads) x (max_text) */
    hh_mm_ws_t  mm;      /* matmul scratch: per-thread tiles, quantized x (owned) */
};

hh_embed_params_t hh_embed_default_params(void)
{
    hh_embed_params_t p = { .max_batch = 0, .n_threads = 0, .pool = NULL, .exact = false };
    return p;
}

/* calloc of a*b elements of size es, NULL on overflow or failure. */
static void *alloc2(size_t a, size_t b, size_t es)
{
    size_t n;
    if (__builtin_mul_overflow(a, b, &n) || __builtin_mul_overflow(n, es, &n))
        return NULL;
    return calloc(n ? n : 1, 1);
}

int hh_embed_ctx_create(hh_embed_ctx_t **out, const hh_model_t *m, const hh_embed_params_t *params,
                        hh_err_t *err)
{
    hh_embed_params_t p = params ? *params : hh_embed_default_params();
    const hh_hparams_t *hp = &m->hp;
    *out = NULL;
    if (!hp->embedding || hp->arch != HH_ARCH_BERT)
        return hh_err_set(err, HH_EUNSUPPORTED, -1,
                          "model architecture '%s' is generative, not an embedding model (supported: bert)",
                          hp->arch_name);
    if (p.max_batch < 0 || p.max_batch > (1 << 20) || p.n_threads < 0)
        return hh_err_set(err, HH_EINVAL, -1, "bad embedding parameters: max_batch %d, n_threads %d",
                          p.max_batch, p.n_threads);
    const int32_t max_text = hp->n_ctx_train;
    if (p.max_batch == 0)
        p.max_batch = max_text > 512 ? max_text : 512;
    /* A text must always fit one pass. */
    if (p.max_batch < max_text)
        p.max_batch = max_text;

    hh_embed_ctx_t *c = calloc(1, sizeof *c);
    if (c == NULL)
        return hh_err_set(err, HH_ENOMEM, -1, "out of memory");
    int rc = HH_ENOMEM;
    c->m = m;
    c->kern = hh_kernels();
    c->max_batch = p.max_batch;
    c->max_text = max_text;
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

    const size_t nb = (size_t)c->max_batch, n_embd = (size_t)hp->n_embd, n_ff = (size_t)hp->n_ff;
    const size_t max_in = n_ff > n_embd ? n_ff : n_embd;
    rc = HH_ENOMEM;
    c->x = alloc2(nb, n_embd, sizeof(float));
    c->xb = alloc2(nb, n_embd, sizeof(float));
    c->q = alloc2(nb, n_embd, sizeof(float));
    c->k = alloc2(nb, n_embd, sizeof(float));
    c->v = alloc2(nb, n_embd, sizeof(float));
    c->att = alloc2(nb, n_embd, sizeof(float));
    c->hb = alloc2(nb, n_ff, sizeof(float));
    c->pos = alloc2(nb, 1, sizeof(int32_t));
    c->start = alloc2(nb, 1, sizeof(int32_t));
    c->len = alloc2(nb, 1, sizeof(int32_t));
    c->scores = calloc((size_t)c->n_threads, sizeof *c->scores);
    if (!c->x || !c->xb || !c->q || !c->k || !c->v || !c->att || !c->hb || !c->pos || !c->start ||
        !c->len || !c->scores) {
        hh_err_set(err, HH_ENOMEM, -1, "out of memory for an embedding context of %d tokens", c->max_batch);
        goto cleanup;
    }
    for (int i = 0; i < c->n_threads; i++) {
        c->scores[i] = alloc2((size_t)max_text, 1, sizeof(float));
        if (c->scores[i] == NULL) {
            hh_err_set(err, HH_ENOMEM, -1, "out of memory for thread scratch");
            goto cleanup;
        }
    }
    if (hh_mm_ws_init(&c->mm, c->n_threads, c->max_batch, (int64_t)max_in, p.exact, err) != 0)
        goto cleanup;
    *out = c;
    return HH_OK;
cleanup:
    hh_embed_ctx_free(c);
    return rc;
}

void hh_embed_ctx_free(hh_embed_ctx_t *c)
{
    if (c == NULL)
        return;
    hh_mm_ws_free(&c->mm);
    for (int i = 0; c->scores && i < c->n_threads; i++)
        free(c->scores[i]);
    free(c->scores);
    free(c->x);
    free(c->xb);
    free(c->q);
    free(c->k);
    free(c->v);
    free(c->att);
    free(c->hb);
    free(c->pos);
    free(c->start);
    free(c->len);
    hh_pool_free(c->own_pool);
    free(c);
}

int32_t hh_embed_max_tokens(const hh_embed_ctx_t *c) { return c->max_text; }

int32_t hh_embed_truncate(int32_t *ids, int32_t n, int32_t max)
{
    if (max < 1)
        return 0;
    if (n <= max)
        return n;
    ids[max - 1] = ids[n - 1];
    return max;
}

/* ---- per-token steps ---------------------------------------------------- */

/* x = (x - mean) / sqrt(var + eps) * w + b over n values, in place. */
static void layernorm(float *x, const float *w, const float *b, int n, float eps)
{
    double sum = 0.0;
    for (int i = 0; i < n; i++)
        sum += x[i];
    const double mean = sum / n;
    double ss = 0.0;
    for (int i = 0; i < n; i++) {
        double d = x[i] - mean;
        ss += d * d;
    }
    const float scale = (float)(1.0 / sqrt(ss / n + eps));
    const float fm = (float)mean;
    for (int i = 0; i < n; i++)
        x[i] = (x[i] - fm) * scale * w[i] + b[i];
}

/* tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
static float gelu(float x)
{
    const float k = 0.79788456080286535588f;   /* sqrt(2/pi) */
    return 0.5f * x * (1.0f + tanhf(k * (x + 0.044715f * x * x * x)));
}

typedef struct step_job {
    hh_embed_ctx_t *c;
    int32_t         n_tok;
    const int32_t  *ids;
    const hh_layer_t *l;
    const float    *bias;     /* add_ln: (n_embd) added with xb */
    const float    *ln_w;     /* add_ln: (n_embd) */
    const float    *ln_b;
} step_job_t;

/* x[t] = LN(token_embd[id] + token_types[0] + position_embd[pos]). */
static void embed_worker(void *ctx, int ith, int nth)
{
    const step_job_t *j = ctx;
    hh_embed_ctx_t *c = j->c;
    const hh_model_t *m = c->m;
    const int n = m->hp.n_embd;
    float *tmp = c->mm.tile[ith];   /* scratch row: a tile holds >= n_embd floats */
    long lo, hi;
    hh_pool_split(j->n_tok, ith, nth, 1, &lo, &hi);
    for (long t = lo; t < hi; t++) {
        float *x = c->x + (size_t)t * n;
        const uint8_t *te = (const uint8_t *)m->tok_embd.data + (size_t)j->ids[t] * m->tok_embd.row_bytes;
        c->kern->dequant[m->tok_embd.type](te, x, n);
        c->kern->dequant[m->tok_types.type](m->tok_types.data, tmp, n);
        for (int i = 0; i < n; i++)
            x[i] += tmp[i];
        const uint8_t *pe = (const uint8_t *)m->pos_embd.data + (size_t)c->pos[t] * m->pos_embd.row_bytes;
        c->kern->dequant[m->pos_embd.type](pe, tmp, n);
        for (int i = 0; i < n; i++)
            x[i] += tmp[i];
        layernorm(x, m->embd_ln_w, m->embd_ln_b, n, m->hp.norm_eps);
    }
}

/* q, k, v += their biases. */
static void qkv_bias_worker(void *ctx, int ith, int nth)
{
    const step_job_t *j = ctx;
    hh_embed_ctx_t *c = j->c;
    const int n = c->m->hp.n_embd;
    long lo, hi;
    hh_pool_split(j->n_tok, ith, nth, 1, &lo, &hi);
    for (long t = lo; t < hi; t++) {
        float *q = c->q + (size_t)t * n, *k = c->k + (size_t)t * n, *v = c->v + (size_t)t * n;
        for (int i = 0; i < n; i++) {
            q[i] += j->l->bq[i];
            k[i] += j->l->bk[i];
            v[i] += j->l->bv[i];
        }
    }
}

/* att[t][h] = softmax(q[t][h] . K[text] / sqrt(hd)) V[text]; work items
 * are (token, head) pairs. */
static void attention_worker(void *ctx, int ith, int nth)
{
    const step_job_t *j = ctx;
    hh_embed_ctx_t *c = j->c;
    const hh_hparams_t *hp = &c->m->hp;
    const int hd = hp->head_dim, n = hp->n_embd;
    const float scale = 1.0f / sqrtf((float)hd);
    hh_dot_f32_fn dot = c->kern->dot[HH_TYPE_F32];
    float *score = c->scores[ith];
    long lo, hi;
    hh_pool_split((long)j->n_tok * hp->n_head, ith, nth, 1, &lo, &hi);
    for (long it = lo; it < hi; it++) {
        const int32_t t = (int32_t)(it / hp->n_head);
        const int h = (int)(it % hp->n_head);
        const int32_t s0 = c->start[t], sl = c->len[t];
        const float *q = c->q + (size_t)t * n + (size_t)h * hd;
        float *out = c->att + (size_t)t * n + (size_t)h * hd;
        float mx = -INFINITY;
        for (int32_t p = 0; p < sl; p++) {
            float s = dot(hd, c->k + (size_t)(s0 + p) * n + (size_t)h * hd, q) * scale;
            score[p] = s;
            mx = s > mx ? s : mx;
        }
        float sum = 0.0f;
        for (int32_t p = 0; p < sl; p++) {
            score[p] = expf(score[p] - mx);
            sum += score[p];
        }
        const float inv = 1.0f / sum;
        for (int i = 0; i < hd; i++)
            out[i] = 0.0f;
        for (int32_t p = 0; p < sl; p++) {
            const float a = score[p] * inv;
            const float *vp = c->v + (size_t)(s0 + p) * n + (size_t)h * hd;
            for (int i = 0; i < hd; i++)
                out[i] += a * vp[i];
        }
    }
}

/* x[t] = LN(x[t] + xb[t] + bias). */
static void add_ln_worker(void *ctx, int ith, int nth)
{
    const step_job_t *j = ctx;
    hh_embed_ctx_t *c = j->c;
    const int n = c->m->hp.n_embd;
    long lo, hi;
    hh_pool_split(j->n_tok, ith, nth, 1, &lo, &hi);
    for (long t = lo; t < hi; t++) {
        float *x = c->x + (size_t)t * n;
        const float *a = c->xb + (size_t)t * n;
        for (int i = 0; i < n; i++)
            x[i] += a[i] + j->bias[i];
        layernorm(x, j->ln_w, j->ln_b, n, c->m->hp.norm_eps);
    }
}

/* hb = gelu(hb + b_up) over (n_tok, n_ff). */
static void gelu_worker(void *ctx, int ith, int nth)
{
    const step_job_t *j = ctx;
    hh_embed_ctx_t *c = j->c;
    const int n_ff = c->m->hp.n_ff;
    long lo, hi;
    hh_pool_split(j->n_tok, ith, nth, 1, &lo, &hi);
    for (long t = lo; t < hi; t++) {
        float *h = c->hb + (size_t)t * n_ff;
        for (int i = 0; i < n_ff; i++)
            h[i] = gelu(h[i] + j->l->b_up[i]);
    }
}

/* Below this many elementary operations a step runs on the calling thread. */
#define PAR_MIN_WORK 32768.0

static void run_step(hh_embed_ctx_t *c, hh_pool_fn fn, step_job_t *j, double work)
{
    if (work < PAR_MIN_WORK || c->n_threads < 2)
        fn(j, 0, 1);
    else
        hh_pool_run(c->pool, fn, j);
}

/* ---- forward -------------------------------------------------------------- */

/* Checks texts [t0, t1) of a batch: ids in the vocabulary, 1..max_text
 * tokens each. */
static int check_texts(const hh_embed_ctx_t *c, const int32_t *ids, const int32_t *off, int32_t t0, int32_t t1,
                       hh_err_t *err)
{
    const int32_t n_vocab = c->m->hp.n_vocab;
    for (int32_t s = t0; s < t1; s++) {
        if (off[s + 1] < off[s])
            return hh_err_set(err, HH_EINVAL, -1, "offsets decrease at text %d", s);
        const int32_t n = off[s + 1] - off[s];
        if (n < 1)
            return hh_err_set(err, HH_EINVAL, -1, "text %d has no tokens", s);
        if (n > c->max_text)
            return hh_err_set(err, HH_ERANGE, -1, "text %d has %d tokens, more than the model's %d",
                              s, n, c->max_text);
        for (int32_t i = off[s]; i < off[s + 1]; i++)
            if (ids[i] < 0 || ids[i] >= n_vocab)
                return hh_err_set(err, HH_ERANGE, -1, "token %d (text %d) is outside the vocabulary [0, %d)",
                                  ids[i], s, n_vocab);
    }
    return HH_OK;
}

/* Runs texts [t0, t1) (checked, together at most max_batch tokens, starting
 * at ids[off[t0]]) through the model; their final hidden states are in c->x,
 * rows in order. */
static void forward(hh_embed_ctx_t *c, const int32_t *ids, const int32_t *off, int32_t t0, int32_t t1)
{
    const hh_model_t *m = c->m;
    const hh_hparams_t *hp = &m->hp;
    const int32_t base = off[t0], T = off[t1] - base;
    for (int32_t s = t0; s < t1; s++) {
        for (int32_t i = off[s]; i < off[s + 1]; i++) {
            c->pos[i - base] = i - off[s];
            c->start[i - base] = off[s] - base;
            c->len[i - base] = off[s + 1] - off[s];
        }
    }
    int32_t max_len = 0;
    for (int32_t s = t0; s < t1; s++)
        max_len = off[s + 1] - off[s] > max_len ? off[s + 1] - off[s] : max_len;

    step_job_t j = { .c = c, .n_tok = T, .ids = ids + base };
    const double w_row = (double)T * hp->n_embd * 8;
    const double w_att = (double)T * max_len * hp->n_embd * 4;
    const double w_ffn = (double)T * hp->n_ff * 16;
    run_step(c, embed_worker, &j, w_row);
    for (int il = 0; il < hp->n_layer; il++) {
        const hh_layer_t *l = &m->layers[il];
        j.l = l;
        const hh_mat_t *wqkv[3] = { &l->wq, &l->wk, &l->wv };
        float *const yqkv[3] = { c->q, c->k, c->v };
        hh_matmul_n(c->pool, c->kern, 3, wqkv, c->x, yqkv, T, &c->mm);
        run_step(c, qkv_bias_worker, &j, w_row);
        run_step(c, attention_worker, &j, w_att);
        hh_matmul(c->pool, c->kern, &l->wo, c->att, c->xb, T, &c->mm);
        j.bias = l->bo;
        j.ln_w = l->attn_ln_w;
        j.ln_b = l->attn_ln_b;
        run_step(c, add_ln_worker, &j, w_row);

        hh_matmul(c->pool, c->kern, &l->w_up, c->x, c->hb, T, &c->mm);
        run_step(c, gelu_worker, &j, w_ffn);
        hh_matmul(c->pool, c->kern, &l->w_down, c->hb, c->xb, T, &c->mm);
        j.bias = l->b_down;
        j.ln_w = l->out_ln_w;
        j.ln_b = l->out_ln_b;
        run_step(c, add_ln_worker, &j, w_row);
    }
}

/* out = pooling of rows [r0, r0 + n) of c->x, L2-normalized. */
static void pool_rows(const hh_embed_ctx_t *c, int32_t r0, int32_t n, float *out)
{
    const int32_t ne = c->m->hp.n_embd;
    const float *x = c->x + (size_t)r0 * ne;
    if (c->m->hp.pooling == HH_POOLING_CLS) {
        memcpy(out, x, sizeof *out * (size_t)ne);
    } else {
        for (int32_t i = 0; i < ne; i++) {
            double s = 0.0;
            for (int32_t t = 0; t < n; t++)
                s += x[(size_t)t * ne + i];
            out[i] = (float)(s / n);
        }
    }
    double ss = 0.0;
    for (int32_t i = 0; i < ne; i++)
        ss += (double)out[i] * out[i];
    /* An all-zero vector stays zero rather than becoming NaN. */
    const float inv = ss > 0.0 ? (float)(1.0 / sqrt(ss)) : 0.0f;
    for (int32_t i = 0; i < ne; i++)
        out[i] *= inv;
}

int hh_embed_batch(hh_embed_ctx_t *c, const int32_t *ids, const int32_t *offsets, int32_t n_texts, float *out,
                   hh_err_t *err)
{
    if (ids == NULL || offsets == NULL || out == NULL || n_texts < 1 || offsets[0] != 0)
        return hh_err_set(err, HH_EINVAL, -1, "embed: need ids, offsets starting at 0, output and >= 1 text");
    if (c->m->hp.pooling == HH_POOLING_NONE)
        return hh_err_set(err, HH_EUNSUPPORTED, -1,
                          "the model has no pooling (pooling_type 0): use per-token hidden states");
    int rc = check_texts(c, ids, offsets, 0, n_texts, err);
    if (rc != HH_OK)
        return rc;
    const size_t ne = (size_t)c->m->hp.n_embd;
    int32_t t0 = 0;
    while (t0 < n_texts) {
        /* Pack as many whole texts as fit one pass (one always fits). */
        int32_t t1 = t0 + 1;
        while (t1 < n_texts && offsets[t1 + 1] - offsets[t0] <= c->max_batch)
            t1++;
        forward(c, ids, offsets, t0, t1);
        for (int32_t s = t0; s < t1; s++)
            pool_rows(c, offsets[s] - offsets[t0], offsets[s + 1] - offsets[s], out + (size_t)s * ne);
        t0 = t1;
    }
    return HH_OK;
}

int hh_embed(hh_embed_ctx_t *c, const int32_t *ids, int32_t n, float *out, hh_err_t *err)
{
    const int32_t off[2] = { 0, n };
    return hh_embed_batch(c, ids, off, 1, out, err);
}

int hh_embed_hidden(hh_embed_ctx_t *c, const int32_t *ids, int32_t n, float *out, hh_err_t *err)
{
    if (ids == NULL || out == NULL)
        return hh_err_set(err, HH_EINVAL, -1, "embed: need ids and output");
    const int32_t off[2] = { 0, n };
    int rc = check_texts(c, ids, off, 0, 1, err);
    if (rc != HH_OK)
        return rc;
    forward(c, ids, off, 0, 1);
    memcpy(out, c->x, sizeof *out * (size_t)n * (size_t)c->m->hp.n_embd);
    return HH_OK;
}
