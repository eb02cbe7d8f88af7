/* test_bert.c - the bert architecture and embeddings: bert-q8_0 against
 * llama.cpp's reference hidden states and pooled embeddings (fast path vs
 * the llama.cpp files, exact path vs the `_deq` files, with the README's
 * bert tolerances), WordPiece ids of the reference texts, batching,
 * errors, the `hoheit embed` command and /v1/embeddings over a socket. */
#include "harness.h"
#include "model/model.h"
#include "tok/tok.h"

#include <cjson/cJSON.h>
#include <stdlib.h>

#define MAX_TEXTS 8
#define MAX_IDS   64

typedef struct bert_ref {
    cJSON   *json;
    int      n_texts;
    int32_t  ids[MAX_TEXTS][MAX_IDS];
    int      n_ids[MAX_TEXTS];
    const char *text[MAX_TEXTS];
    int      n_embd;
    int      n_rows;          /* hidden rows: sum of n_ids */
    float   *embd, *hidden;           /* llama.cpp */
    float   *embd_deq, *hidden_deq;   /* exact math on dequantized weights */
    double   tol_hidden, tol_embd, tol_cos, tol_deq_hidden, tol_deq_embd;
} bert_ref_t;

static void ref_free(bert_ref_t *r)
{
    if (r == NULL) return;
    cJSON_Delete(r->json);
    free(r->embd);
    free(r->hidden);
    free(r->embd_deq);
    free(r->hidden_deq);
    free(r);
}

static float *read_f32(const char *name, size_t n)
{
    char rel[256];
    snprintf(rel, sizeof rel, "reference/%s", name);
    size_t size = 0;
    float *d = hh_test_read_file(hh_test_data_path(rel), &size);
    if (d != NULL && size != n * sizeof(float)) {
        printf("    %s: %zu bytes, expected %zu\n", rel, size, n * sizeof(float));
        free(d);
        return NULL;
    }
    return d;
}

static double jnum(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : -1.0;
}

static const char *jstr(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Loads bert-q8_0.tokens.json and its four .f32 files; NULL on anything missing. */
static bert_ref_t *ref_load(void)
{
    bert_ref_t *r = calloc(1, sizeof *r);
    if (r == NULL) return NULL;
    char *text = hh_test_read_file(hh_test_data_path("reference/bert-q8_0.tokens.json"), NULL);
    r->json = text ? cJSON_Parse(text) : NULL;
    free(text);
    if (r->json == NULL) goto fail;
    r->n_embd = (int)jnum(r->json, "n_embd");
    const cJSON *inputs = cJSON_GetObjectItemCaseSensitive(r->json, "inputs"), *in;
    cJSON_ArrayForEach(in, inputs) {
        if (r->n_texts >= MAX_TEXTS) goto fail;
        r->text[r->n_texts] = jstr(in, "text");
        const cJSON *id;
        int n = 0;
        cJSON_ArrayForEach(id, cJSON_GetObjectItemCaseSensitive(in, "ids")) {
            if (n >= MAX_IDS) goto fail;
            r->ids[r->n_texts][n++] = (int32_t)id->valuedouble;
        }
        r->n_ids[r->n_texts++] = n;
        r->n_rows += n;
    }
    const cJSON *tol = cJSON_GetObjectItemCaseSensitive(r->json, "tolerance");
    const cJSON *tdq = cJSON_GetObjectItemCaseSensitive(r->json, "tolerance_deq");
    r->tol_hidden = jnum(tol, "hidden_max_abs");
    r->tol_embd = jnum(tol, "embd_max_abs");
    r->tol_cos = jnum(tol, "embd_min_cos");
    r->tol_deq_hidden = jnum(tdq, "hidden_max_abs");
    r->tol_deq_embd = jnum(tdq, "embd_max_abs");
    if (r->n_texts != 4 || r->n_embd != 256 || r->tol_hidden <= 0 || r->tol_embd <= 0 || r->tol_cos <= 0 ||
        r->tol_deq_hidden <= 0 || r->tol_deq_embd <= 0)
        goto fail;
    const size_t ne = (size_t)r->n_embd;
    r->embd = read_f32(jstr(r->json, "embd_file"), (size_t)r->n_texts * ne);
    r->hidden = read_f32(jstr(r->json, "hidden_file"), (size_t)r->n_rows * ne);
    r->embd_deq = read_f32(jstr(r->json, "embd_deq_file"), (size_t)r->n_texts * ne);
    r->hidden_deq = read_f32(jstr(r->json, "hidden_deq_file"), (size_t)r->n_rows * ne);
    if (!r->embd || !r->hidden || !r->embd_deq || !r->hidden_deq) goto fail;
    return r;
fail:
    printf("    cannot load the bert-q8_0 reference\n");
    ref_free(r);
    return NULL;
}

static double max_abs(const float *a, const float *b, size_t n)
{
    double m = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (!(d <= m)) m = d;   /* NaN counts as infinitely far */
        if (d != d) m = INFINITY;
    }
    return m;
}

static double cosine(const float *a, const float *b, size_t n)
{
    double ab = 0, aa = 0, bb = 0;
    for (size_t i = 0; i < n; i++) {
        ab += (double)a[i] * b[i];
        aa += (double)a[i] * a[i];
        bb += (double)b[i] * b[i];
    }
    return ab / sqrt(aa * bb);
}

static hh_model_t *load_bert(void)
{
    hh_model_t *m = NULL;
    hh_err_t err;
    hh_err_clear(&err);
    if (hh_model_load(&m, hh_test_data_path("reference/bert-q8_0.gguf"), NULL, &err) != 0)
        printf("    load: %s\n", err.msg);
    return m;
}

static hh_embed_ctx_t *make_ctx(const hh_model_t *m, bool exact, int32_t max_batch)
{
    hh_embed_params_t p = hh_embed_default_params();
    p.n_threads = 2;
    p.exact = exact;
    p.max_batch = max_batch;
    hh_embed_ctx_t *c = NULL;
    hh_err_t err;
    hh_err_clear(&err);
    if (hh_embed_ctx_create(&c, m, &p, &err) != 0)
        printf("    embed ctx: %s\n", err.msg);
    return c;
}

TEST(bert_loads_hparams)
{
    hh_model_t *m = load_bert();
    ASSERT_TRUE(m != NULL);
    const hh_hparams_t *hp = hh_model_hparams(m);
    bool ok = hh_model_is_embedding(m) && hp->arch == HH_ARCH_BERT && hh_model_n_embd(m) == 256 &&
              hp->n_layer == 2 && hp->n_head == 8 && hp->n_ff == 768 && hp->n_vocab == 30522 &&
              hp->n_ctx_train == 256 && hp->pooling == HH_POOLING_MEAN;
    double eps = hp->norm_eps;
    hh_model_free(m);
    ASSERT_TRUE(ok);
    ASSERT_NEAR(eps, 1e-12, 1e-15);
}

/* Compares hidden states and pooled embeddings of the 4 reference texts
 * with the expected files; prints the measured differences. */
static void check_reference(bool exact)
{
    bert_ref_t *r = ref_load();
    ASSERT_TRUE(r != NULL);
    hh_model_t *m = load_bert();
    hh_embed_ctx_t *c = m ? make_ctx(m, exact, 0) : NULL;
    const size_t ne = (size_t)r->n_embd;
    float *hid = malloc(sizeof(float) * ne * (size_t)r->n_rows);
    float *emb = malloc(sizeof(float) * ne * (size_t)r->n_texts);
    bool ok = c != NULL && hid != NULL && emb != NULL;
    hh_err_t err;
    hh_err_clear(&err);
    int row = 0;
    for (int s = 0; ok && s < r->n_texts; s++) {
        ok = hh_embed_hidden(c, r->ids[s], r->n_ids[s], hid + (size_t)row * ne, &err) == 0 &&
             hh_embed(c, r->ids[s], r->n_ids[s], emb + (size_t)s * ne, &err) == 0;
        row += r->n_ids[s];
    }
    if (!ok) printf("    embed: %s\n", err.msg);
    double dh = 0, de = 0, mincos = 1;
    if (ok) {
        const float *want_h = exact ? r->hidden_deq : r->hidden, *want_e = exact ? r->embd_deq : r->embd;
        dh = max_abs(hid, want_h, ne * (size_t)r->n_rows);
        de = max_abs(emb, want_e, ne * (size_t)r->n_texts);
        for (int s = 0; s < r->n_texts; s++) {
            double cs = cosine(emb + (size_t)s * ne, want_e + (size_t)s * ne, ne);
            mincos = cs < mincos ? cs : mincos;
        }
        printf("    %s vs %s: hidden max abs %.3g, embd max abs %.3g, min cos %.9f\n",
               exact ? "exact" : "fast", exact ? "_deq" : "llama.cpp", dh, de, mincos);
    }
    double tol_h = exact ? r->tol_deq_hidden : r->tol_hidden, tol_e = exact ? r->tol_deq_embd : r->tol_embd;
    double tol_c = exact ? 0.99999 : r->tol_cos;
    free(hid);
    free(emb);
    hh_embed_ctx_free(c);
    hh_model_free(m);
    ref_free(r);
    ASSERT_TRUE(ok);
    ASSERT_LE(dh, tol_h);
    ASSERT_LE(de, tol_e);
    ASSERT_GE(mincos, tol_c);
}

TEST(bert_q8_0_fast_matches_llama_cpp) { check_reference(false); }
TEST(bert_q8_0_exact_matches_deq) { check_reference(true); }

TEST(bert_exact_vs_llama_cpp_within_tolerance)
{
    /* The exact path lands within tier B of llama.cpp's own numbers too. */
    bert_ref_t *r = ref_load();
    ASSERT_TRUE(r != NULL);
    hh_model_t *m = load_bert();
    hh_embed_ctx_t *c = m ? make_ctx(m, true, 0) : NULL;
    const size_t ne = (size_t)r->n_embd;
    float *emb = malloc(sizeof(float) * ne * (size_t)r->n_texts);
    bool ok = c != NULL && emb != NULL;
    for (int s = 0; ok && s < r->n_texts; s++)
        ok = hh_embed(c, r->ids[s], r->n_ids[s], emb + (size_t)s * ne, NULL) == 0;
    double de = ok ? max_abs(emb, r->embd, ne * (size_t)r->n_texts) : INFINITY, tol = r->tol_embd;
    free(emb);
    hh_embed_ctx_free(c);
    hh_model_free(m);
    ref_free(r);
    ASSERT_TRUE(ok);
    ASSERT_LE(de, tol);
}

TEST(bert_batch_equals_single_texts)
{
    bert_ref_t *r = ref_load();
    ASSERT_TRUE(r != NULL);
    hh_model_t *m = load_bert();
    /* max_batch 20 forces several passes (texts of 5, 12, 15, 16 tokens). */
    hh_embed_ctx_t *c = m ? make_ctx(m, true, 20) : NULL;
    hh_embed_ctx_t *big = m ? make_ctx(m, true, 0) : NULL;
    const size_t ne = (size_t)r->n_embd;
    int32_t ids[MAX_TEXTS * MAX_IDS], off[MAX_TEXTS + 1] = { 0 };
    for (int s = 0; s < r->n_texts; s++) {
        memcpy(ids + off[s], r->ids[s], sizeof(int32_t) * (size_t)r->n_ids[s]);
        off[s + 1] = off[s] + r->n_ids[s];
    }
    float *one = malloc(sizeof(float) * ne * (size_t)r->n_texts);
    float *many = malloc(sizeof(float) * ne * (size_t)r->n_texts);
    float *many2 = malloc(sizeof(float) * ne * (size_t)r->n_texts);
    bool ok = c && big && one && many && many2 && hh_embed_max_tokens(c) == 256;
    for (int s = 0; ok && s < r->n_texts; s++)
        ok = hh_embed(big, r->ids[s], r->n_ids[s], one + (size_t)s * ne, NULL) == 0;
    ok = ok && hh_embed_batch(c, ids, off, r->n_texts, many, NULL) == 0 &&
         hh_embed_batch(big, ids, off, r->n_texts, many2, NULL) == 0;
    double d1 = ok ? max_abs(one, many, ne * (size_t)r->n_texts) : INFINITY;
    double d2 = ok ? max_abs(one, many2, ne * (size_t)r->n_texts) : INFINITY;
    double dref = ok ? max_abs(many2, r->embd_deq, ne * (size_t)r->n_texts) : INFINITY, tol = r->tol_deq_embd;
    free(one);
    free(many);
    free(many2);
    hh_embed_ctx_free(c);
    hh_embed_ctx_free(big);
    hh_model_free(m);
    ref_free(r);
    ASSERT_TRUE(ok);
    ASSERT_LE(d1, 1e-5);
    ASSERT_LE(d2, 1e-5);
    ASSERT_LE(dref, tol);
}
