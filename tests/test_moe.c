/* test_moe.c - the mixture-of-experts feed-forward (moe.c) on the qwen3moe
 * reference models (../shared/testdata/reference), below the whole-model
 * checks of test_model.c:
 *   - the expert FFN of a batch grouped by expert equals the same rows one
 *     at a time, bit for bit, on the fast and the exact path, mapped and
 *     repacked, and the batch really shares experts between tokens;
 *   - its exact path equals a plain float64 evaluation written here from
 *     the GGUF tensors (router softmax, top-k, renormalised weights, SiLU
 *     experts read from the stacked 3-D tensors);
 *   - repacked experts hold exactly the stored rows, each expert on its own;
 *   - files whose expert metadata does not fit are refused, in both load
 *     modes, with a message naming the key or tensor. */
#include "harness.h"
#include "model/model.h"
#include "model/model_int.h"
#include "kernels/kernels.h"
#include "kernels/quant.h"
#include "kernels/quantize.h"
#include "base/threadpool.h"

#include <stdlib.h>

#define N_ROWS 24

static hh_model_t *load_moe(const char *name, hh_gguf_load_t mode)
{
    hh_model_t *m = NULL;
    hh_err_t e;
    hh_model_params_t p = hh_model_default_params();
    p.load = mode;
    if (hh_model_load(&m, hh_test_data_path(name), &p, &e) != HH_OK) {
        printf("    load %s: %s\n", name, e.msg);
        return NULL;
    }
    return m;
}

static hh_model_t *load_moe_path(const char *path)
{
    hh_model_t *m = NULL;
    hh_err_t e;
    if (hh_model_load(&m, path, NULL, &e) != HH_OK) {
        printf("    load %s: %s\n", path, e.msg);
        return NULL;
    }
    return m;
}

/* Deterministic inputs of unit scale (like a normed hidden state). */
static void fill_x(float *x, size_t n, uint32_t seed)
{
    uint32_t s = seed;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = ((float)(s >> 8) / 16777216.0f - 0.5f) * 3.0f;
    }
}

/* Row r of a stacked tensor's expert e dequantized from the stored layout. */
static void stored_row(const hh_gguf_tensor_t *t, int64_t n_in, int64_t n_out, int e, int64_t r, float *out)
{
    size_t rb;
    hh_type_row_size(t->type, n_in, &rb);
    const uint8_t *p = (const uint8_t *)t->data + ((size_t)e * (size_t)n_out + (size_t)r) * rb;
    hh_kernels()->dequant[t->type](p, out, n_in);
}

/* float64 expert FFN of one row straight from the GGUF tensors; *used gets
 * the chosen experts (k of them). */
static void reference_ffn(const hh_model_t *m, int il, const float *x, double *y, int *used)
{
    const hh_hparams_t *hp = &m->hp;
    const int ne = hp->n_expert, k = hp->n_expert_used, n_embd = hp->n_embd, n_ff = hp->n_ff_exp;
    char nm[96];
    snprintf(nm, sizeof nm, "blk.%d.ffn_gate_inp.weight", il);
    const hh_gguf_tensor_t *tr = hh_gguf_find_tensor(m->gguf, nm);
    snprintf(nm, sizeof nm, "blk.%d.ffn_gate_exps.weight", il);
    const hh_gguf_tensor_t *tg = hh_gguf_find_tensor(m->gguf, nm);
    snprintf(nm, sizeof nm, "blk.%d.ffn_up_exps.weight", il);
    const hh_gguf_tensor_t *tu = hh_gguf_find_tensor(m->gguf, nm);
    snprintf(nm, sizeof nm, "blk.%d.ffn_down_exps.weight", il);
    const hh_gguf_tensor_t *td = hh_gguf_find_tensor(m->gguf, nm);
    float *row = malloc(sizeof(float) * (size_t)(n_embd > n_ff ? n_embd : n_ff));
    double *logit = malloc(sizeof(double) * (size_t)ne), *h = malloc(sizeof(double) * (size_t)n_ff);
    for (int e = 0; e < ne; e++) {
        stored_row(tr, n_embd, ne, 0, e, row);
        double s = 0;
        for (int i = 0; i < n_embd; i++) s += (double)row[i] * x[i];
        logit[e] = s;
    }
    double mx = logit[0], z = 0, wsum = 0, w[64];
    for (int e = 1; e < ne; e++) mx = logit[e] > mx ? logit[e] : mx;
    for (int e = 0; e < ne; e++) z += exp(logit[e] - mx);
    for (int s = 0; s < k; s++) {
        int best = -1;
        for (int e = 0; e < ne; e++) {
            bool taken = false;
            for (int q = 0; q < s; q++) taken |= used[q] == e;
            if (!taken && (best < 0 || logit[e] > logit[best])) best = e;
        }
        used[s] = best;
        w[s] = exp(logit[best] - mx) / z;
        wsum += w[s];
    }
    for (int i = 0; i < n_embd; i++) y[i] = 0;
    for (int s = 0; s < k; s++) {
        const int e = used[s];
        for (int f = 0; f < n_ff; f++) {
            double g = 0, u = 0;
            stored_row(tg, n_embd, n_ff, e, f, row);
            for (int i = 0; i < n_embd; i++) g += (double)row[i] * x[i];
            stored_row(tu, n_embd, n_ff, e, f, row);
            for (int i = 0; i < n_embd; i++) u += (double)row[i] * x[i];
            h[f] = g / (1.0 + exp(-g)) * u;
        }
        for (int o = 0; o < n_embd; o++) {
            stored_row(td, n_ff, n_embd, e, o, row);
            double d = 0;
            for (int f = 0; f < n_ff; f++) d += (double)row[f] * h[f];
            y[o] += w[s] / wsum * d;
        }
    }
    free(row);
    free(logit);
    free(h);
}

static double max_diff(const float *a, const float *b, size_t n)
{
    double mx = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (!(d <= mx)) mx = d;
    }
    return mx;
}

/* Batched (grouped by expert) == one row at a time, for one model / load
 * mode / path; returns the largest difference (0 expected), -1 on error. */
static double batch_vs_rows(const hh_model_t *m, hh_pool_t *pool, bool exact, const float *x)
{
    const size_t n_embd = (size_t)m->hp.n_embd;
    hh_moe_ws_t *w = NULL;
    hh_err_t e;
    if (hh_moe_ws_create(&w, m, hh_pool_size(pool), N_ROWS, exact, &e) != HH_OK) {
        printf("    ws: %s\n", e.msg);
        return -1;
    }
    float *yb = malloc(sizeof(float) * N_ROWS * n_embd), *y1 = malloc(sizeof(float) * N_ROWS * n_embd);
    float *inplace = malloc(sizeof(float) * N_ROWS * n_embd);
    double worst = -1;
    if (yb && y1 && inplace) {
        worst = 0;
        for (int il = 0; il < m->hp.n_layer; il++) {
            hh_moe_ffn(w, pool, hh_kernels(), m, il, x, yb, N_ROWS);
            for (int t = 0; t < N_ROWS; t++)
                hh_moe_ffn(w, pool, hh_kernels(), m, il, x + t * n_embd, y1 + t * n_embd, 1);
            /* y aliasing x, as the forward pass calls it */
            memcpy(inplace, x, sizeof(float) * N_ROWS * n_embd);
            hh_moe_ffn(w, pool, hh_kernels(), m, il, inplace, inplace, N_ROWS);
            worst = fmax(worst, max_diff(yb, y1, N_ROWS * n_embd));
            worst = fmax(worst, max_diff(yb, inplace, N_ROWS * n_embd));
        }
    }
    free(yb);
    free(y1);
    free(inplace);
    hh_moe_ws_free(w);
    return worst;
}

TEST(moe_grouped_batch_equals_rows_one_at_a_time)
{
    static const char *const names[] = { "reference/qwen3moe-q4_k_m.gguf", "reference/qwen3moe-q8_0.gguf",
                                         "reference/qwen3moe-f32.gguf" };
    hh_pool_t *pool = NULL;
    ASSERT_OK(hh_pool_create(&pool, 2));
    int failures = 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        for (int mode = 0; mode < 2; mode++) {
            hh_model_t *m = load_moe(names[i], mode ? HH_GGUF_LOAD_READ : HH_GGUF_LOAD_MMAP);
            if (m == NULL) { failures++; continue; }
            const size_t n = (size_t)N_ROWS * (size_t)m->hp.n_embd;
            float *x = malloc(sizeof(float) * n);
            fill_x(x, n, 7 + (uint32_t)i);
            for (int exact = 0; exact < 2; exact++) {
                double d = batch_vs_rows(m, pool, exact, x);
                if (d != 0.0) {
                    printf("    %s %s %s: batched vs one row %.3g\n", names[i], mode ? "read" : "mmap",
                           exact ? "exact" : "fast", d);
                    failures++;
                }
            }
            free(x);
            hh_model_free(m);
        }
    }
    hh_pool_free(pool);
    ASSERT_EQ_INT(failures, 0);
}

TEST(moe_exact_path_matches_float64_reference)
{
    hh_model_t *m = load_moe("reference/qwen3moe-q4_k_m.gguf", HH_GGUF_LOAD_READ);
    hh_model_t *mm = load_moe("reference/qwen3moe-q4_k_m.gguf", HH_GGUF_LOAD_MMAP);
    ASSERT_TRUE(m != NULL && mm != NULL);
    ASSERT_EQ_INT(m->hp.n_expert, 8);
    ASSERT_EQ_INT(m->hp.n_expert_used, 2);
    ASSERT_EQ_INT(m->hp.n_ff_exp, 64);
    const size_t n_embd = (size_t)m->hp.n_embd;
    hh_pool_t *pool = NULL;
    ASSERT_OK(hh_pool_create(&pool, 2));
    hh_moe_ws_t *w = NULL;
    hh_err_t e;
    ASSERT_OK(hh_moe_ws_create(&w, m, 2, N_ROWS, true, &e));
    float *x = malloc(sizeof(float) * N_ROWS * n_embd), *y = malloc(sizeof(float) * N_ROWS * n_embd);
    double *ref = malloc(sizeof(double) * n_embd);
    ASSERT_TRUE(x && y && ref);
    fill_x(x, N_ROWS * n_embd, 99);
    double worst = 0, scale = 0;
    int shared = 0;
    for (int il = 0; il < m->hp.n_layer; il++) {
        int tokens_of[64] = { 0 };
        hh_moe_ffn(w, pool, hh_kernels(), m, il, x, y, N_ROWS);
        for (int t = 0; t < N_ROWS; t++) {
            int used[64];
            reference_ffn(mm, il, x + t * n_embd, ref, used);
            for (int s = 0; s < m->hp.n_expert_used; s++)
                tokens_of[used[s]]++;
            for (size_t i = 0; i < n_embd; i++) {
                worst = fmax(worst, fabs(y[t * n_embd + i] - ref[i]));
                scale = fmax(scale, fabs(ref[i]));
            }
        }
        for (int ex = 0; ex < m->hp.n_expert; ex++)
            shared += tokens_of[ex] >= 2;
    }
    printf("    exact expert FFN vs float64: max abs %.3g (outputs up to %.3g); %d experts took >= 2 tokens\n",
           worst, scale, shared);
    ASSERT_TRUE(scale > 0.1);
    ASSERT_LE(worst, 1e-4 * scale);
    /* the batch shares experts, so grouping is exercised */
    ASSERT_GE(shared, 4);
    free(x);
    free(y);
    free(ref);
    hh_moe_ws_free(w);
    hh_pool_free(pool);
    hh_model_free(m);
    hh_model_free(mm);
}

TEST(moe_experts_repacked_one_by_one_hold_the_stored_rows)
{
    const char *name = "reference/qwen3moe-q8_0.gguf";
    hh_model_t *mr = load_moe(name, HH_GGUF_LOAD_READ), *mm = load_moe(name, HH_GGUF_LOAD_MMAP);
    ASSERT_TRUE(mr != NULL && mm != NULL);
    const char *env = getenv("HOHEIT_REPACK");
    const bool x4 = hh_kernels()->gemm_x4[HH_TYPE_Q8_0] != NULL && !(env != NULL && strcmp(env, "0") == 0);
    float *a = malloc(sizeof(float) * 1024), *b = malloc(sizeof(float) * 1024);
    ASSERT_TRUE(a && b);
    int bad = 0, n_x4 = 0, n_mats = 0;
    for (int il = 0; il < mm->hp.n_layer; il++) {
        for (int k = 0; k < 3 * mm->hp.n_expert; k++) {
            const hh_mat_t *s = &mm->layers[il].exp_gate[k], *r = &mr->layers[il].exp_gate[k];
            n_mats++;
            n_x4 += r->x4;
            bad += s->x4 || s->n_out != r->n_out || s->n_in != r->n_in;
            for (int64_t row = 0; row < s->n_out && !bad; row++) {
                hh_kernels()->dequant[s->type]((const uint8_t *)s->data + (size_t)row * s->row_bytes, a, s->n_in);
                if (r->x4)
                    hh_x4_dequant_row(r, row, b);
                else
                    hh_kernels()->dequant[r->type]((const uint8_t *)r->data + (size_t)row * r->row_bytes, b, r->n_in);
                bad += memcmp(a, b, sizeof(float) * (size_t)s->n_in) != 0;
            }
        }
    }
    printf("    %d of %d expert matrices in the x4 layout\n", n_x4, n_mats);
    ASSERT_EQ_INT(bad, 0);
    ASSERT_EQ_INT(n_mats, 2 * 3 * 8);
    ASSERT_EQ_INT(n_x4, x4 ? n_mats : 0);
    /* one expert = a contiguous slice: consecutive experts n_out rows apart */
    const hh_mat_t *g = mm->layers[0].exp_gate;
    ASSERT_TRUE((const uint8_t *)g[1].data == (const uint8_t *)g[0].data + (size_t)g[0].n_out * g[0].row_bytes);
    free(a);
    free(b);
    hh_model_free(mr);
    hh_model_free(mm);
}

/* Tokens per decode read k of the n_expert experts: the weight bytes the
 * model reports count k slices of every expert tensor, not all of them. */
TEST(moe_weight_bytes_count_only_the_used_experts)
{
    hh_model_t *m = load_moe("reference/qwen3moe-f32.gguf", HH_GGUF_LOAD_MMAP);
    ASSERT_TRUE(m != NULL);
    const hh_hparams_t *hp = &m->hp;
    uint64_t all = 0, expert = 0;
    for (int64_t i = 0; i < hh_gguf_n_tensors(m->gguf); i++) {
        const hh_gguf_tensor_t *t = hh_gguf_tensor(m->gguf, i);
        all += t->nbytes;
        if (strstr(t->name, "_exps.") != NULL)
            expert += t->nbytes;
    }
    /* everything but the embedding table (one row read) and the experts (k of n) */
    const uint64_t emb = (uint64_t)hp->n_vocab * hp->n_embd * 4;
    const uint64_t want = all - emb + hp->n_embd * 4 - expert + expert / hp->n_expert * hp->n_expert_used;
    ASSERT_EQ_INT(hh_model_weight_bytes(m), want);
    hh_model_free(m);
}

/* ---- bad expert metadata ----------------------------------------------------- */

/* Copies qwen3moe-f32.gguf to dst, with key set to val (val < 0: key left
 * out) and tensor tname (if not NULL) declared with shape ne[0..3). */
static int write_moe_variant(const char *dst, const char *key, int64_t val, const char *tname, const int64_t *ne)
{
    hh_gguf_t *g = NULL;
    hh_gguf_writer_t *w = NULL;
    hh_err_t e;
    int rc = hh_gguf_open(&g, hh_test_data_path("reference/qwen3moe-f32.gguf"), NULL, &e);
    if (rc != HH_OK) return rc;
    if ((rc = hh_gguf_writer_create(&w, 3, hh_gguf_alignment(g))) != HH_OK) goto done;
    for (int64_t i = 0; i < hh_gguf_n_kv(g) && rc == HH_OK; i++) {
        const char *k = hh_gguf_kv_key(g, i);
        if (key != NULL && !strcmp(k, key)) {
            if (val >= 0)
                rc = hh_gguf_writer_set_u32(w, k, (uint32_t)val);
        } else {
            rc = hh_gguf_writer_set_value(w, k, hh_gguf_kv_value(g, i));
        }
    }
    for (int64_t i = 0; i < hh_gguf_n_tensors(g) && rc == HH_OK; i++) {
        const hh_gguf_tensor_t *t = hh_gguf_tensor(g, i);
        bool re = tname != NULL && !strcmp(t->name, tname);
        rc = hh_gguf_writer_add_tensor(w, t->name, t->type, re ? 3 : t->n_dims, re ? ne : t->ne, t->data, NULL, NULL);
    }
    if (rc == HH_OK)
        rc = hh_gguf_writer_write(w, dst, &e);
done:
    hh_gguf_writer_free(w);
    hh_gguf_close(g);
    return rc;
}

TEST(moe_refuses_expert_metadata_that_does_not_fit)
{
    static const int64_t few_experts[3] = { 256, 64, 4 };
    const struct { const char *key; int64_t val; const char *tname; const int64_t *ne; const char *want; } cases[] = {
        { "qwen3moe.expert_used_count", 9, NULL, NULL, "expert_used_count 9 > expert_count 8" },
        { "qwen3moe.expert_used_count", 0, NULL, NULL, "expert_used_count = 0 out of range" },
        { "qwen3moe.expert_count", -1, NULL, NULL, "missing hyperparameter qwen3moe.expert_count" },
        { "qwen3moe.expert_feed_forward_length", 32, NULL, NULL, "blk.0.ffn_gate_exps.weight: expected shape [256, 32, 8]" },
        { NULL, 0, "blk.1.ffn_up_exps.weight", few_experts, "blk.1.ffn_up_exps.weight: expected shape [256, 64, 8]" },
    };
    char path[1024];
    snprintf(path, sizeof path, "%s/moe-variant.gguf", hh_test_tmpdir());
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ASSERT_OK(write_moe_variant(path, cases[i].key, cases[i].val, cases[i].tname, cases[i].ne));
        for (int mode = 0; mode < 2; mode++) {
            hh_model_t *m = NULL;
            hh_err_t e;
            hh_err_clear(&e);
            hh_model_params_t p = hh_model_default_params();
            p.load = mode ? HH_GGUF_LOAD_READ : HH_GGUF_LOAD_MMAP;
            int rc = hh_model_load(&m, path, &p, &e);
            if (rc != HH_EFORMAT || m != NULL || strstr(e.msg, cases[i].want) == NULL)
                printf("    case %zu: rc %d, message '%s'\n", i, rc, e.msg);
            ASSERT_EQ_INT(rc, HH_EFORMAT);
            ASSERT_TRUE(m == NULL);
            ASSERT_TRUE(strstr(e.msg, cases[i].want) != NULL);
        }
    }
    /* the unchanged copy loads */
    ASSERT_OK(write_moe_variant(path, NULL, 0, NULL, NULL));
    hh_model_t *m = load_moe_path(path);
    ASSERT_TRUE(m != NULL);
    hh_model_free(m);
}

/* hoheit quantize on the F32 qwen3moe source: with --pure Q8_0 the file's
 * tensors are byte-identical to llama-quantize's (reference qwen3moe-q8_0),
 * the 3-D expert tensors included; the router stays F32 under every mix. */
TEST(moe_quantize_matches_llama_quantize_on_experts)
{
    char out[1024];
    snprintf(out, sizeof out, "%s/moe-q8_0.gguf", hh_test_tmpdir());
    hh_quantize_params_t qp = hh_quantize_default_params();
    qp.pure = true;
    hh_err_t e;
    ASSERT_OK(hh_quantize_file(hh_test_data_path("reference/qwen3moe-f32.gguf"), out, "q8_0", &qp, &e));
    hh_gguf_t *a = NULL, *b = NULL;
    ASSERT_OK(hh_gguf_open(&a, out, NULL, &e));
    ASSERT_OK(hh_gguf_open(&b, hh_test_data_path("reference/qwen3moe-q8_0.gguf"), NULL, &e));
    ASSERT_EQ_INT(hh_gguf_n_tensors(a), hh_gguf_n_tensors(b));
    int differ = 0, experts = 0;
    for (int64_t i = 0; i < hh_gguf_n_tensors(b); i++) {
        const hh_gguf_tensor_t *tb = hh_gguf_tensor(b, i), *ta = hh_gguf_find_tensor(a, tb->name);
        if (ta == NULL || ta->type != tb->type || ta->nbytes != tb->nbytes || memcmp(ta->data, tb->data, tb->nbytes)) {
            printf("    %s differs\n", tb->name);
            differ++;
        }
        experts += strstr(tb->name, "_exps.") != NULL && tb->type == HH_TYPE_Q8_0;
    }
    ASSERT_EQ_INT(differ, 0);
    ASSERT_EQ_INT(experts, 6);
    hh_gguf_close(a);
    hh_gguf_close(b);

    const hh_quant_mix_t *mix = hh_quant_mix_find("q4_k_m");
    ASSERT_TRUE(mix != NULL);
    const int64_t ne_r[2] = { 2048, 128 }, ne_e[3] = { 2048, 768, 128 };
    ASSERT_EQ_INT(hh_quant_tensor_type(mix, false, "blk.3.ffn_gate_inp.weight", 2, ne_r, HH_TYPE_F32, 3, 48, true, 8),
                  HH_TYPE_F32);
    ASSERT_EQ_INT(hh_quant_tensor_type(mix, false, "blk.3.ffn_up_exps.weight", 3, ne_e, HH_TYPE_F16, 3, 48, true, 8),
                  HH_TYPE_Q4_K);
}
