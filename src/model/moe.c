/* moe.c - mixture-of-experts feed-forward (qwen3moe: Qwen3-30B-A3B;
 * gpt-oss, with the differences at the end of this comment).
 *
 * Per token x (the ffn_norm output, n_embd values):
 *
 *   r = router x                                  (n_expert) F32 logits
 *   p = softmax(r); E = the k = n_expert_used largest p (lowest index on ties)
 *   w_e = p_e / sum_{e' in E} p_e'                (weights renormalised to 1)
 *   y = sum_{e in E} w_e * down_e(silu(gate_e x) * up_e x)
 *
 * Weights: ffn_gate_inp [n_embd, n_expert] (the router, F32 in practice),
 * ffn_gate_exps / ffn_up_exps [n_embd, n_ff_exp, n_expert] and
 * ffn_down_exps [n_ff_exp, n_embd, n_expert]. Expert e of a stacked tensor
 * is the contiguous slice of its n_out rows, so every expert is bound as an
 * ordinary 2-D hh_mat_t into the mapping (row sizes are whole quant blocks,
 * so slices start on block boundaries) and repacked on its own (x4 rows).
 *
 * Batches: the k choices of every token are sorted by expert (counting
 * sort, tokens in batch order within an expert), the tokens' rows gathered
 * into one block per expert, and each chosen expert's gate/up and down
 * products run once over its block: an expert's weights are read once per
 * batch, and a decoded token reads only its k experts. All experts of a
 * phase share one pool run (hh_matmul_seg: gate and up of every chosen
 * expert, then SwiGLU, then every down), the gathered rows rounded to 8
 * bits once. The products are the dense kernels (matmul.c), so the
 * activation rounding, the exact path and the x4 layout work as for dense
 * layers, and results do not depend on how tokens are batched: each row is
 * rounded and multiplied on its own.
 *
 * gpt-oss (the layer has router_b): r = router x + router_b; E = the k
 * largest r; w = softmax over r_E only; each expert with its biases and a
 * clamped SwiGLU: g = min(gate_e x + bg_e, 7), u = clamp(up_e x + bu_e,
 * -7, 7), y_e = down_e (g sigmoid(1.702 g) (u + 1)) + bd_e. */
#include "model/model_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_EXPERT 4096

struct hh_moe_ws {
    int32_t     n_batch, n_expert, k, n_embd, n_ff;
    hh_mm_ws_t  mm;        /* matmul scratch for blocks of up to n_batch rows */
    float      *logits;    /* (n_batch, n_expert) router output */
    int32_t    *choice;    /* (n_batch, k) chosen experts, in selection order */
    float      *weight;    /* (n_batch, k) their renormalised weights */
    int32_t    *row;       /* (n_batch, k) row of each choice in the gathered blocks */
    int32_t    *count;     /* (n_expert) tokens per expert */
    int32_t    *start;     /* (n_expert + 1) first gathered row of each expert */
    float      *xg;        /* (n_batch * k, n_embd) gathered inputs, then expert outputs */
    float      *g;         /* (n_batch * k, n_ff) gate, then silu(gate) * up */
    float      *u;         /* (n_batch * k, n_ff) up */
    int32_t    *seg;       /* (n_expert + 1) row starts of the experts that have tokens */
    const hh_mat_t **wp;   /* (2 n_expert) their matrices, for hh_matmul_seg */
    float     **yp;        /* (2 n_expert) their outputs */
};

/* Rows of elementwise work below which SwiGLU stays on the calling thread. */
#define PAR_MIN_SWIGLU 32768

/* ---- loading -------------------------------------------------------------- */

static int key_count(const hh_model_t *m, const char *suffix, int64_t max, int32_t *out, hh_err_t *err)
{
    char key[256];
    snprintf(key, sizeof key, "%s.%s", m->hp.arch_name, suffix);
    int64_t v;
    int rc = hh_gguf_get_i64(m->gguf, key, &v);
    if (rc == HH_ENOENT)
        return hh_err_set(err, HH_EFORMAT, -1, "missing hyperparameter %s", key);
    if (rc != HH_OK)
        return hh_err_set(err, HH_EUNSUPPORTED, -1, "hyperparameter %s is not a single integer", key);
    if (v < 1 || v > max)
        return hh_err_set(err, HH_EFORMAT, -1, "hyperparameter %s = %lld out of range [1, %lld]",
                          key, (long long)v, (long long)max);
    *out = (int32_t)v;
    return HH_OK;
}

int hh_moe_read_hparams(hh_model_t *m, hh_err_t *err)
{
    hh_hparams_t *hp = &m->hp;
    int rc;
    if ((rc = key_count(m, "expert_count", MAX_EXPERT, &hp->n_expert, err)) ||
        (rc = key_count(m, "expert_used_count", MAX_EXPERT, &hp->n_expert_used, err)) ||
        (rc = key_count(m, "expert_feed_forward_length", 1 << 20, &hp->n_ff_exp, err)))
        return rc;
    if (hp->n_expert_used > hp->n_expert)
        return hh_err_set(err, HH_EFORMAT, -1, "%s: expert_used_count %d > expert_count %d",
                          hp->arch_name, hp->n_expert_used, hp->n_expert);
    return HH_OK;
}

/* Finds tensor name with exactly the dims ne (n_dims of them) in a type
 * hoheit computes; *row_bytes = bytes of one ne[0]-long row. */
static int find_tensor(const hh_model_t *m, const char *name, int n_dims, const int64_t *ne,
                       const hh_gguf_tensor_t **out, size_t *row_bytes, hh_err_t *err)
{
    const hh_gguf_tensor_t *t = hh_gguf_find_tensor(m->gguf, name);
    if (t == NULL)
        return hh_err_set(err, HH_EFORMAT, -1, "missing tensor %s (architecture %s)", name, m->hp.arch_name);
    for (int d = 0; d < HH_GGUF_MAX_DIMS; d++) {
        int64_t want = d < n_dims ? ne[d] : 1;
        if (t->ne[d] != want)
            return hh_err_set(err, HH_EFORMAT, -1, "tensor %s: expected shape [%lld, %lld, %lld], got [%lld, %lld, %lld, %lld]",
                              name, (long long)ne[0], (long long)ne[1], (long long)(n_dims > 2 ? ne[2] : 1),
                              (long long)t->ne[0], (long long)t->ne[1], (long long)t->ne[2], (long long)t->ne[3]);
    }
    const hh_type_traits_t *tr = hh_type_traits(t->type);
    const hh_kernels_t *k = hh_kernels();
    if (tr == NULL || !tr->compute || t->type >= HH_TYPE_COUNT || k->dot[t->type] == NULL ||
        k->dequant[t->type] == NULL)
        return hh_err_set(err, HH_EUNSUPPORTED, -1, "tensor %s has type %s, which hoheit cannot compute (supported: %s)",
                          name, hh_type_name(t->type), hh_type_supported_list());
    if (t->data == NULL)
        return hh_err_set(err, HH_ESTATE, -1, "tensor %s has no data (opened without data?)", name);
    if (hh_type_row_size(t->type, ne[0], row_bytes) != HH_OK)
        return hh_err_set(err, HH_EFORMAT, -1, "tensor %s: rows of %lld values do not fit type %s",
                          name, (long long)ne[0], hh_type_name(t->type));
    *out = t;
    return HH_OK;
}

/* Binds the n_expert slices of a stacked [n_in, n_out, n_expert] tensor. */
static int bind_experts(hh_model_t *m, const char *name, int64_t n_in, int64_t n_out, hh_mat_t *mats, hh_err_t *err)
{
    const int64_t ne[3] = { n_in, n_out, m->hp.n_expert };
    const hh_gguf_tensor_t *t;
    size_t rb;
    int rc = find_tensor(m, name, 3, ne, &t, &rb, err);
    if (rc != HH_OK)
        return rc;
    const size_t slice = rb * (size_t)n_out;
    for (int e = 0; e < m->hp.n_expert; e++)
        mats[e] = (hh_mat_t){ (const uint8_t *)t->data + (size_t)e * slice, t->type, n_in, n_out, rb, slice, false };
    /* a token reads k of the n_expert slices */
    m->weight_bytes += slice * (size_t)m->hp.n_expert_used;
    return HH_OK;
}

/* An F32 bias of n_dims dims ne, read in place (gpt-oss's router and expert biases). */
static int bind_bias(hh_model_t *m, const char *name, int n_dims, const int64_t *ne, const float **out, hh_err_t *err)
{
    const hh_gguf_tensor_t *t;
    size_t rb;
    int rc = find_tensor(m, name, n_dims, ne, &t, &rb, err);
    if (rc != HH_OK)
        return rc;
    if (t->type != HH_TYPE_F32 || (uintptr_t)t->data % sizeof(float) != 0)
        return hh_err_set(err, HH_EUNSUPPORTED, -1, "tensor %s: expert biases must be F32, got %s",
                          name, hh_type_name(t->type));
    *out = t->data;
    m->weight_bytes += t->nbytes;
    return HH_OK;
}

int hh_moe_bind_layer(hh_model_t *m, int il, hh_err_t *err)
{
    const hh_hparams_t *hp = &m->hp;
    hh_layer_t *l = &m->layers[il];
    const int64_t n_embd = hp->n_embd, n_ff = hp->n_ff_exp;
    char nm[96];
    int rc;
    const hh_gguf_tensor_t *t;
    size_t rb;
    const int64_t ne_r[2] = { n_embd, hp->n_expert };
    snprintf(nm, sizeof nm, "blk.%d.ffn_gate_inp.weight", il);
    if ((rc = find_tensor(m, nm, 2, ne_r, &t, &rb, err)) != HH_OK)
        return rc;
    l->router = (hh_mat_t){ t->data, t->type, n_embd, hp->n_expert, rb, t->nbytes, false };
    m->weight_bytes += t->nbytes;

    l->exp_gate = calloc((size_t)hp->n_expert * 3, sizeof *l->exp_gate);
    if (l->exp_gate == NULL)
        return hh_err_set(err, HH_ENOMEM, -1, "out of memory for %d experts", hp->n_expert);
    l->exp_up = l->exp_gate + hp->n_expert;
    l->exp_down = l->exp_up + hp->n_expert;
#define NAME(s) (snprintf(nm, sizeof nm, "blk.%d.%s", il, s), nm)
    if ((rc = bind_experts(m, NAME("ffn_gate_exps.weight"), n_embd, n_ff, l->exp_gate, err)) ||
        (rc = bind_experts(m, NAME("ffn_up_exps.weight"), n_embd, n_ff, l->exp_up, err)) ||
        (rc = bind_experts(m, NAME("ffn_down_exps.weight"), n_ff, n_embd, l->exp_down, err)))
        return rc;
    if (hp->arch == HH_ARCH_GPTOSS) {
        const int64_t ne_rb[1] = { hp->n_expert }, ne_ff[2] = { n_ff, hp->n_expert }, ne_e[2] = { n_embd, hp->n_expert };
        if ((rc = bind_bias(m, NAME("ffn_gate_inp.bias"), 1, ne_rb, &l->router_b, err)) ||
            (rc = bind_bias(m, NAME("ffn_gate_exps.bias"), 2, ne_ff, &l->exp_b_gate, err)) ||
            (rc = bind_bias(m, NAME("ffn_up_exps.bias"), 2, ne_ff, &l->exp_b_up, err)) ||
            (rc = bind_bias(m, NAME("ffn_down_exps.bias"), 2, ne_e, &l->exp_b_down, err)))
            return rc;
    }
#undef NAME
    return HH_OK;
}

int hh_moe_repack(hh_model_t *m, int il)
{
    const hh_kernels_t *k = hh_kernels();
    hh_layer_t *l = &m->layers[il];
    for (int e = 0; l->exp_gate != NULL && e < 3 * m->hp.n_expert; e++)
        if (hh_repack_x4_ok(k, &l->exp_gate[e]) && hh_repack_x4(&l->exp_gate[e]) != HH_OK)
            return HH_ENOMEM;
    return HH_OK;
}

void hh_moe_layer_free(hh_layer_t *l)
{
    free(l->exp_gate);
    l->exp_gate = l->exp_up = l->exp_down = NULL;
}

/* ---- context scratch -------------------------------------------------------- */

static void *alloc_n(size_t a, size_t b, size_t es)
{
    size_t n;
    if (__builtin_mul_overflow(a, b, &n) || __builtin_mul_overflow(n, es, &n))
        return NULL;
    return malloc(n ? n : 1);
}

int hh_moe_ws_create(hh_moe_ws_t **out, const hh_model_t *m, int n_threads, int32_t n_batch, bool exact,
                     hh_err_t *err)
{
    const hh_hparams_t *hp = &m->hp;
    *out = NULL;
    hh_moe_ws_t *w = calloc(1, sizeof *w);
    if (w == NULL)
        return hh_err_set(err, HH_ENOMEM, -1, "out of memory");
    w->n_batch = n_batch;
    w->n_expert = hp->n_expert;
    w->k = hp->n_expert_used;
    w->n_embd = hp->n_embd;
    w->n_ff = hp->n_ff_exp;
    const size_t nb = (size_t)n_batch, nk = nb * (size_t)w->k;
    w->logits = alloc_n(nb, (size_t)w->n_expert, sizeof(float));
    w->choice = alloc_n(nk, 1, sizeof(int32_t));
    w->weight = alloc_n(nk, 1, sizeof(float));
    w->row = alloc_n(nk, 1, sizeof(int32_t));
    w->count = alloc_n((size_t)w->n_expert, 1, sizeof(int32_t));
    w->start = alloc_n((size_t)w->n_expert + 1, 1, sizeof(int32_t));
    w->xg = alloc_n(nk, (size_t)w->n_embd, sizeof(float));
    w->g = alloc_n(nk, (size_t)w->n_ff, sizeof(float));
    w->u = alloc_n(nk, (size_t)w->n_ff, sizeof(float));
    w->seg = alloc_n((size_t)w->n_expert + 1, 1, sizeof(int32_t));
    w->wp = alloc_n((size_t)w->n_expert, 2, sizeof *w->wp);
    w->yp = alloc_n((size_t)w->n_expert, 2, sizeof *w->yp);
    if (!w->logits || !w->choice || !w->weight || !w->row || !w->count || !w->start || !w->xg || !w->g || !w->u ||
        !w->seg || !w->wp || !w->yp) {
        hh_moe_ws_free(w);
        return hh_err_set(err, HH_ENOMEM, -1, "out of memory for the expert scratch of a batch of %d", n_batch);
    }
    int64_t max_in = w->n_embd > w->n_ff ? w->n_embd : w->n_ff;
    /* one quantized copy of every gathered row: n_batch * k rows */
    if (hh_mm_ws_init(&w->mm, n_threads, n_batch * w->k, max_in, exact, err) != HH_OK) {
        hh_moe_ws_free(w);
        return HH_ENOMEM;
    }
    *out = w;
    return HH_OK;
}

void hh_moe_ws_free(hh_moe_ws_t *w)
{
    if (w == NULL)
        return;
    hh_mm_ws_free(&w->mm);
    free(w->logits);
    free(w->choice);
    free(w->weight);
    free(w->row);
    free(w->count);
    free(w->start);
    free(w->xg);
    free(w->g);
    free(w->u);
    free(w->seg);
    free(w->wp);
    free(w->yp);
    free(w);
}

/* ---- forward ---------------------------------------------------------------- */

/* Top-k of one token's router logits: softmax, the k largest (lowest index
 * first on ties), weights renormalised over the chosen. */
static void route(const float *r, int n, int k, int32_t *choice, float *weight)
{
    float mx = r[0];
    for (int e = 1; e < n; e++)
        mx = r[e] > mx ? r[e] : mx;
    double sum = 0.0;
    for (int e = 0; e < n; e++)
        sum += exp((double)r[e] - mx);
    for (int s = 0; s < k; s++) {
        int best = -1;
        for (int e = 0; e < n; e++) {
            bool taken = false;
            for (int q = 0; q < s; q++)
                taken |= choice[q] == e;
            if (!taken && (best < 0 || r[e] > r[best]))
                best = e;
        }
        choice[s] = best;
        weight[s] = (float)(exp((double)r[best] - mx) / sum);
    }
    float wsum = 0.0f;
    for (int s = 0; s < k; s++)
        wsum += weight[s];
    for (int s = 0; s < k; s++)
        weight[s] /= wsum;
}

/* gpt-oss: the k largest logits (lowest index first on ties), weights the
 * softmax over those k logits only. */
static void route_selected(const float *r, int n, int k, int32_t *choice, float *weight)
{
    for (int s = 0; s < k; s++) {
        int best = -1;
        for (int e = 0; e < n; e++) {
            bool taken = false;
            for (int q = 0; q < s; q++)
                taken |= choice[q] == e;
            if (!taken && (best < 0 || r[e] > r[best]))
                best = e;
        }
        choice[s] = best;
    }
    double sum = 0.0;
    for (int s = 0; s < k; s++)
        sum += exp((double)r[choice[s]] - r[choice[0]]);
    for (int s = 0; s < k; s++)
        weight[s] = (float)(exp((double)r[choice[s]] - r[choice[0]]) / sum);
}

/* gpt-oss's clamped SwiGLU, with the expert biases, over the rows of one
 * expert: g = min(g + bg, 7), u = clamp(u + bu, -7, 7), then
 * g sigmoid(1.702 g) (u + 1) = silu(1.702 g) (u + 1) / 1.702, written as
 * g' = 1.702 g, u' = (u + 1) / 1.702 for the SwiGLU kernel. */
#define GPTOSS_ALPHA 1.702f
#define GPTOSS_LIMIT 7.0f
static void clamp_glu_rows(float *g, float *u, const float *bg, const float *bu, int32_t n_rows, size_t n_ff)
{
    for (int32_t r = 0; r < n_rows; r++, g += n_ff, u += n_ff) {
        for (size_t i = 0; i < n_ff; i++) {
            float gv = g[i] + bg[i], uv = u[i] + bu[i];
            gv = gv > GPTOSS_LIMIT ? GPTOSS_LIMIT : gv;
            uv = uv > GPTOSS_LIMIT ? GPTOSS_LIMIT : uv < -GPTOSS_LIMIT ? -GPTOSS_LIMIT : uv;
            g[i] = GPTOSS_ALPHA * gv;
            u[i] = (uv + 1.0f) / GPTOSS_ALPHA;
        }
    }
}

typedef struct swiglu_job {
    const hh_kernels_t *kern;
    float              *g;
    const float        *u;
    long                n;
} swiglu_job_t;

/* g = silu(g) * u over n values, split over the pool. */
static void swiglu_worker(void *ctx, int ith, int nth)
{
    const swiglu_job_t *j = ctx;
    long lo, hi;
    hh_pool_split(j->n, ith, nth, 16, &lo, &hi);
    if (hi > lo)
        j->kern->swiglu(j->g + lo, j->u + lo, hi - lo);
}

void hh_moe_ffn(hh_moe_ws_t *w, hh_pool_t *pool, const hh_kernels_t *kern, const hh_model_t *m, int il,
                const float *x, float *y, int32_t n_tok)
{
    const hh_layer_t *l = &m->layers[il];
    const int k = w->k, ne = w->n_expert;
    const size_t n_embd = (size_t)w->n_embd, n_ff = (size_t)w->n_ff;

    const bool gptoss = l->router_b != NULL;
    hh_matmul(pool, kern, &l->router, x, w->logits, n_tok, &w->mm);
    memset(w->count, 0, sizeof *w->count * (size_t)ne);
    for (int32_t t = 0; t < n_tok; t++) {
        float *lg = w->logits + (size_t)t * ne;
        if (gptoss) {
            for (int e = 0; e < ne; e++)
                lg[e] += l->router_b[e];
            route_selected(lg, ne, k, w->choice + (size_t)t * k, w->weight + (size_t)t * k);
        } else {
            route(lg, ne, k, w->choice + (size_t)t * k, w->weight + (size_t)t * k);
        }
        for (int s = 0; s < k; s++)
            w->count[w->choice[(size_t)t * k + s]]++;
    }
    w->start[0] = 0;
    for (int e = 0; e < ne; e++)
        w->start[e + 1] = w->start[e] + w->count[e];
    /* gather: every x row is read before y (which may alias x) is written */
    memset(w->count, 0, sizeof *w->count * (size_t)ne);
    for (int32_t t = 0; t < n_tok; t++) {
        for (int s = 0; s < k; s++) {
            int32_t e = w->choice[(size_t)t * k + s];
            int32_t r = w->start[e] + w->count[e]++;
            w->row[(size_t)t * k + s] = r;
            memcpy(w->xg + (size_t)r * n_embd, x + (size_t)t * n_embd, n_embd * sizeof(float));
        }
    }
    /* the experts that have tokens, as segments of the gathered rows */
    int n_seg = 0;
    w->seg[0] = 0;
    for (int e = 0; e < ne; e++) {
        if (w->count[e] == 0)
            continue;
        const size_t r0 = (size_t)w->start[e];
        w->wp[2 * n_seg] = &l->exp_gate[e];
        w->wp[2 * n_seg + 1] = &l->exp_up[e];
        w->yp[2 * n_seg] = w->g + r0 * n_ff;
        w->yp[2 * n_seg + 1] = w->u + r0 * n_ff;
        w->seg[++n_seg] = w->start[e + 1];
    }
    const int32_t n_rows = w->seg[n_seg];
    hh_matmul_seg(pool, kern, n_seg, 2, w->wp, w->xg, w->seg, w->yp, &w->mm);
    for (int s = 0; gptoss && s < n_seg; s++) {
        const size_t e = (size_t)(w->wp[2 * s] - l->exp_gate), r0 = (size_t)w->seg[s];
        clamp_glu_rows(w->g + r0 * n_ff, w->u + r0 * n_ff, l->exp_b_gate + e * n_ff, l->exp_b_up + e * n_ff,
                       w->seg[s + 1] - w->seg[s], n_ff);
    }
    swiglu_job_t sj = { kern, w->g, w->u, (long)n_rows * (long)n_ff };
    if (sj.n < PAR_MIN_SWIGLU)
        swiglu_worker(&sj, 0, 1);
    else
        hh_pool_run(pool, swiglu_worker, &sj);
    /* the gathered inputs are spent: the experts' outputs take their place */
    for (int s = 0; s < n_seg; s++) {
        const int e = (int)(w->wp[2 * s] - l->exp_gate);
        w->wp[s] = &l->exp_down[e];
        w->yp[s] = w->xg + (size_t)w->seg[s] * n_embd;
    }
    hh_matmul_seg(pool, kern, n_seg, 1, w->wp, w->g, w->seg, w->yp, &w->mm);
    for (int s = 0; gptoss && s < n_seg; s++) {
        const size_t e = (size_t)(w->wp[s] - l->exp_down);
        const float *b = l->exp_b_down + e * n_embd;
        for (int32_t r = w->seg[s]; r < w->seg[s + 1]; r++)
            for (size_t i = 0; i < n_embd; i++)
                w->xg[(size_t)r * n_embd + i] += b[i];
    }
    for (int32_t t = 0; t < n_tok; t++) {
        float *yt = y + (size_t)t * n_embd;
        const float *o = w->xg + (size_t)w->row[(size_t)t * k] * n_embd;
        const float w0 = w->weight[(size_t)t * k];
        for (size_t i = 0; i < n_embd; i++)
            yt[i] = w0 * o[i];
        for (int s = 1; s < k; s++) {
            const float ws = w->weight[(size_t)t * k + s];
            o = w->xg + (size_t)w->row[(size_t)t * k + s] * n_embd;
            for (size_t i = 0; i < n_embd; i++)
                yt[i] += ws * o[i];
        }
    }
}
