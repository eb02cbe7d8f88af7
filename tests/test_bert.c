/* test_bert.c - the bert architecture and embeddings: bert-q8_0 against
 * llama.cpp's reference hidden states and pooled embeddings (fast path vs
 * the llama.cpp files, exact path vs the `_deq` files, with the README's
 * bert tolerances), WordPiece ids of the reference texts, batching,
 * errors, the `hoheit embed` command and /v1/embeddings over a socket. */
#include "harness.h"
#include "http_helpers.h"
#include "http/server.h"
#include "model/model.h"
#include "tok/tok.h"

#include <cjson/cJSON.h>
#include <sodium.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sys/wait.h>

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

TEST(bert_wordpiece_ids_of_reference_texts)
{
    bert_ref_t *r = ref_load();
    ASSERT_TRUE(r != NULL);
    hh_model_t *m = load_bert();
    hh_vocab_t *v = NULL;
    bool ok = m != NULL && hh_vocab_load(&v, hh_model_gguf(m), NULL) == 0;
    int bad = -1;
    for (int s = 0; ok && s < r->n_texts; s++) {
        int32_t *ids = NULL;
        size_t n = 0;
        ok = r->text[s] != NULL && hh_tokenize(v, r->text[s], strlen(r->text[s]), true, false, &ids, &n, NULL) == 0;
        if (ok && (n != (size_t)r->n_ids[s] || memcmp(ids, r->ids[s], n * sizeof *ids) != 0)) {
            printf("    text %d \"%s\": %zu ids, expected %d; first %d vs %d\n", s, r->text[s], n, r->n_ids[s],
                   n ? ids[0] : -1, r->ids[s][0]);
            bad = s;
        }
        free(ids);
    }
    hh_vocab_free(v);
    hh_model_free(m);
    ref_free(r);
    ASSERT_TRUE(ok);
    ASSERT_EQ_INT(bad, -1);
}

TEST(bert_read_load_matches_mmap)
{
    /* Weights read into memory (the engine's default) may be repacked for
     * faster kernels: the embeddings must not change beyond rounding. */
    bert_ref_t *r = ref_load();
    ASSERT_TRUE(r != NULL);
    hh_model_t *mm = load_bert(), *mr = NULL;
    hh_model_params_t mp = hh_model_default_params();
    mp.load = HH_GGUF_LOAD_READ;
    bool ok = mm != NULL && hh_model_load(&mr, hh_test_data_path("reference/bert-q8_0.gguf"), &mp, NULL) == 0;
    hh_embed_ctx_t *a = ok ? make_ctx(mm, false, 0) : NULL, *b = ok ? make_ctx(mr, false, 0) : NULL;
    const size_t ne = (size_t)r->n_embd;
    float ea[256], eb[256];
    double d = INFINITY, dref = INFINITY;
    ok = ok && a && b && hh_embed(a, r->ids[2], r->n_ids[2], ea, NULL) == 0 &&
         hh_embed(b, r->ids[2], r->n_ids[2], eb, NULL) == 0;
    if (ok) {
        d = max_abs(ea, eb, ne);
        dref = max_abs(eb, r->embd + 2 * ne, ne);
    }
    double tol = r->tol_embd;
    hh_embed_ctx_free(a);
    hh_embed_ctx_free(b);
    hh_model_free(mm);
    hh_model_free(mr);
    ref_free(r);
    ASSERT_TRUE(ok);
    ASSERT_LE(d, 1e-5);
    ASSERT_LE(dref, tol);
}

TEST(bert_errors)
{
    hh_model_t *m = load_bert();
    ASSERT_TRUE(m != NULL);
    hh_embed_ctx_t *c = make_ctx(m, true, 0);
    hh_ctx_t *gen = NULL;
    hh_err_t err;
    hh_err_clear(&err);
    /* a generative context on an embedding model */
    int rc_gen = hh_ctx_create(&gen, m, NULL, &err);
    bool msg_gen = strstr(err.msg, "embedding model") != NULL;
    float out[256];
    int32_t ids[300];
    for (int i = 0; i < 300; i++)
        ids[i] = 1000 + i;
    ids[0] = 101;
    int rc_long = c ? hh_embed(c, ids, 257, out, NULL) : 0;
    int rc_fit = c ? hh_embed(c, ids, 256, out, NULL) : -1;
    int32_t bad[3] = { 101, 30522, 102 };
    int rc_vocab = c ? hh_embed(c, bad, 3, out, NULL) : 0;
    int rc_empty = c ? hh_embed(c, ids, 0, out, NULL) : 0;
    int32_t off[3] = { 0, 5, 3 };
    int rc_off = c ? hh_embed_batch(c, ids, off, 2, out, NULL) : 0;
    /* truncation keeps the last id */
    int32_t t[6] = { 101, 1, 2, 3, 4, 102 };
    int32_t nt = hh_embed_truncate(t, 6, 4);
    hh_embed_ctx_free(c);
    hh_model_free(m);

    /* an embedding context on a generative model */
    hh_model_t *g = NULL;
    hh_embed_ctx_t *cg = NULL;
    int rc_load = hh_model_load(&g, hh_test_data_path("reference/llama-q8_0.gguf"), NULL, NULL);
    hh_err_clear(&err);
    int rc_emb = rc_load == 0 ? hh_embed_ctx_create(&cg, g, NULL, &err) : 0;
    bool msg_emb = strstr(err.msg, "not an embedding model") != NULL;
    bool is_emb = g ? hh_model_is_embedding(g) : true;
    hh_embed_ctx_free(cg);
    hh_model_free(g);

    ASSERT_EQ_INT(rc_gen, HH_EUNSUPPORTED);
    ASSERT_TRUE(msg_gen);
    ASSERT_TRUE(gen == NULL);
    ASSERT_EQ_INT(rc_long, HH_ERANGE);
    ASSERT_EQ_INT(rc_fit, 0);
    ASSERT_EQ_INT(rc_vocab, HH_ERANGE);
    ASSERT_EQ_INT(rc_empty, HH_EINVAL);
    ASSERT_EQ_INT(rc_off, HH_EINVAL);
    ASSERT_EQ_INT(nt, 4);
    ASSERT_EQ_INT(t[3], 102);
    ASSERT_EQ_INT(rc_load, 0);
    ASSERT_EQ_INT(rc_emb, HH_EUNSUPPORTED);
    ASSERT_TRUE(msg_emb);
    ASSERT_FALSE(is_emb);
}

/* Runs "$HOHEIT_BIN embed ARGS" and parses stdout as a JSON array of n
 * floats into out. Returns the exit status, or -1 if it could not run. */
static int run_embed(const char *args, float *out, int n, int *n_got)
{
    *n_got = -1;
    const char *bin = getenv("HOHEIT_BIN");
    if (bin == NULL || bin[0] == '\0') {
        printf("    HOHEIT_BIN is not set (run through `make test`)\n");
        return -1;
    }
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s' embed %s 2>/dev/null", bin, args);
    FILE *p = popen(cmd, "r");
    if (p == NULL)
        return -1;
    size_t cap = 1 << 16, len = 0, got;
    char *buf = malloc(cap);
    while (buf != NULL && len + 1 < cap && (got = fread(buf + len, 1, cap - 1 - len, p)) > 0)
        len += got;
    int ws = pclose(p);
    if (buf == NULL)
        return -1;
    buf[len] = '\0';
    cJSON *j = cJSON_Parse(buf);
    free(buf);
    if (cJSON_IsArray(j)) {
        int k = 0;
        const cJSON *it;
        cJSON_ArrayForEach(it, j) {
            if (k < n && cJSON_IsNumber(it)) out[k] = (float)it->valuedouble;
            k++;
        }
        *n_got = k;
    }
    cJSON_Delete(j);
    return WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
}

TEST(bert_cli_embed_equals_library)
{
    if (!getenv("HOHEIT_BIN")) SKIP("HOHEIT_BIN is not set (run through `make test`)");
    bert_ref_t *r = ref_load();
    ASSERT_TRUE(r != NULL);
    hh_model_t *m = load_bert();
    hh_embed_ctx_t *c = m ? make_ctx(m, false, 0) : NULL;
    float lib[256], by_text[256], by_ids[256];
    bool ok = c != NULL && hh_embed(c, r->ids[1], r->n_ids[1], lib, NULL) == 0;
    char args[2048], ids[1024];
    size_t o = 0;
    for (int i = 0; i < r->n_ids[1]; i++)
        o += (size_t)snprintf(ids + o, sizeof ids - o, "%s%d", i ? "," : "", r->ids[1][i]);
    const char *model = hh_test_data_path("reference/bert-q8_0.gguf");
    int n1 = 0, n2 = 0, n3 = 0;
    snprintf(args, sizeof args, "-m '%s' -t 2 '%s'", model, r->text[1]);
    int st1 = run_embed(args, by_text, 256, &n1);
    snprintf(args, sizeof args, "-m '%s' -t 2 --tokens %s", model, ids);
    int st2 = run_embed(args, by_ids, 256, &n2);
    float dummy[4];
    snprintf(args, sizeof args, "-m '%s' hello", hh_test_data_path("reference/llama-q8_0.gguf"));
    int st3 = run_embed(args, dummy, 4, &n3);
    double d1 = n1 == 256 ? max_abs(lib, by_text, 256) : INFINITY;
    double d2 = n2 == 256 ? max_abs(lib, by_ids, 256) : INFINITY;
    hh_embed_ctx_free(c);
    hh_model_free(m);
    ref_free(r);
    ASSERT_TRUE(ok);
    ASSERT_EQ_INT(st1, 0);
    ASSERT_EQ_INT(n1, 256);
    ASSERT_EQ_INT(st2, 0);
    ASSERT_EQ_INT(n2, 256);
    /* JSON carries every float exactly (17 significant digits). */
    ASSERT_LE(d1, 0.0);
    ASSERT_LE(d2, 0.0);
    ASSERT_EQ_INT(st3, 1);
    ASSERT_EQ_INT(n3, -1);
}

/* ---- /v1/embeddings over a real socket ---------------------------------- */

/* POSTs body to path (Connection: close); returns the status, body in *out
 * (malloc'd), or a negative code. */
static int http_post(int port, const char *path, const char *key, const char *body, char **out)
{
    hh_test_req_t q = { .method = "POST", .path = path, .key = key, .body = body };
    return hh_test_http_status(port, &q, out);
}

/* data[i].embedding (float array) of a response, into out (n floats). */
static bool response_vec(const cJSON *resp, int i, float *out, int n)
{
    const cJSON *d = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(resp, "data"), i);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(d, "embedding");
    if (cJSON_GetArraySize(e) != n || jnum(d, "index") != i || !jstr(d, "object") ||
        strcmp(jstr(d, "object"), "embedding") != 0)
        return false;
    int k = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, e) out[k++] = (float)it->valuedouble;
    return true;
}

TEST(bert_http_embeddings_end_to_end)
{
    bert_ref_t *r = ref_load();
    ASSERT_TRUE(r != NULL);
    hh_test_srv_params_t p = hh_test_srv_default_params();
    p.models[0] = "reference/bert-q8_0.gguf";
    p.models[1] = "models/stories260K.gguf";
    p.http = hh_http_default_params();
    p.http.engine.n_slots = 1;
    p.http.engine.n_threads = 2;
    hh_test_srv_t t;
    char key[HH_KEY_LEN + 1] = "";
    bool ok = hh_test_srv_start(&t, "bert-http", &p) == 0 &&
              hh_test_srv_user(&t, "embedder", "member", key, NULL) == 0;
    const int port = ok ? t.port : 0;

    /* the library's vectors (same default fast path) */
    hh_model_t *m = load_bert();
    hh_embed_ctx_t *c = m ? make_ctx(m, false, 0) : NULL;
    float lib[4][256];
    for (int i = 0; ok && i < 4; i++)
        ok = c && hh_embed(c, r->ids[i], r->n_ids[i], lib[i], NULL) == 0;

    char body[4096], *out = NULL;
    cJSON *texts = cJSON_CreateArray();
    for (int i = 0; i < 4; i++) cJSON_AddItemToArray(texts, cJSON_CreateString(r->text[i]));
    char *texts_json = cJSON_PrintUnformatted(texts);
    cJSON_Delete(texts);

    /* 1: no key */
    int st_noauth = ok ? http_post(port, "/v1/embeddings", NULL, "{\"model\":\"bert-q8_0\",\"input\":\"x\"}", &out) : 0;
    free(out);
    out = NULL;
    /* 2: four strings, floats */
    snprintf(body, sizeof body, "{\"model\":\"bert-q8_0\",\"input\":%s}", texts_json ? texts_json : "null");
    int st_list = ok ? http_post(port, "/v1/embeddings", key, body, &out) : 0;
    cJSON *resp = out ? cJSON_Parse(out) : NULL;
    free(out);
    out = NULL;
    float got[256];
    double d_lib = 0, d_ref = 0;
    bool shape = resp && jstr(resp, "object") && !strcmp(jstr(resp, "object"), "list") && jstr(resp, "model") &&
                 !strcmp(jstr(resp, "model"), "bert-q8_0") &&
                 cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(resp, "data")) == 4;
    for (int i = 0; shape && i < 4; i++) {
        shape = response_vec(resp, i, got, 256);
        if (!shape) break;
        double a = max_abs(got, lib[i], 256), b = max_abs(got, r->embd + (size_t)i * 256, 256);
        d_lib = a > d_lib ? a : d_lib;
        d_ref = b > d_ref ? b : d_ref;
    }
    const cJSON *usage = cJSON_GetObjectItemCaseSensitive(resp, "usage");
    double prompt_tokens = jnum(usage, "prompt_tokens"), total_tokens = jnum(usage, "total_tokens");
    cJSON_Delete(resp);
    free(texts_json);

    /* 3: one token array, base64 */
    char ids[512];
    size_t o = 0;
    for (int i = 0; i < r->n_ids[3]; i++)
        o += (size_t)snprintf(ids + o, sizeof ids - o, "%s%d", i ? "," : "", r->ids[3][i]);
    snprintf(body, sizeof body, "{\"model\":\"bert-q8_0\",\"input\":[%s],\"encoding_format\":\"base64\"}", ids);
    int st_b64 = ok ? http_post(port, "/v1/embeddings", key, body, &out) : 0;
    resp = out ? cJSON_Parse(out) : NULL;
    free(out);
    out = NULL;
    const cJSON *d0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(resp, "data"), 0);
    const char *b64 = jstr(d0, "embedding");
    unsigned char raw[1024];
    size_t raw_len = 0;
    bool b64_ok = b64 && sodium_base642bin(raw, sizeof raw, b64, strlen(b64), NULL, &raw_len, NULL,
                                           sodium_base64_VARIANT_ORIGINAL) == 0 && raw_len == 1024;
    double d_b64 = INFINITY;
    if (b64_ok) {
        for (int k = 0; k < 256; k++) {   /* little-endian float32 */
            uint32_t w = (uint32_t)raw[4 * k] | (uint32_t)raw[4 * k + 1] << 8 | (uint32_t)raw[4 * k + 2] << 16 |
                         (uint32_t)raw[4 * k + 3] << 24;
            memcpy(&got[k], &w, 4);
        }
        d_b64 = max_abs(got, lib[3], 256);
    }
    cJSON_Delete(resp);

    /* 4: errors */
    int st_gen = ok ? http_post(port, "/v1/embeddings", key, "{\"model\":\"stories260K\",\"input\":\"hi\"}", &out) : 0;
    bool gen_msg = out && strstr(out, "not an embedding model");
    free(out);
    out = NULL;
    int st_unknown = ok ? http_post(port, "/v1/embeddings", key, "{\"model\":\"nope\",\"input\":\"hi\"}", &out) : 0;
    free(out);
    out = NULL;
    int st_fmt = ok ? http_post(port, "/v1/embeddings", key,
                                "{\"model\":\"bert-q8_0\",\"input\":\"hi\",\"encoding_format\":\"int8\"}", &out) : 0;
    free(out);
    out = NULL;
    char *longb = malloc(8192);
    o = (size_t)snprintf(longb, 8192, "{\"model\":\"bert-q8_0\",\"input\":[[101");
    for (int i = 0; i < 256; i++) o += (size_t)snprintf(longb + o, 8192 - o, ",2000");
    snprintf(longb + o, 8192 - o, "]]}");
    int st_long = ok ? http_post(port, "/v1/embeddings", key, longb, &out) : 0;
    bool long_code = out && strstr(out, "context_length_exceeded");
    free(out);
    out = NULL;
    free(longb);

    hh_embed_ctx_free(c);
    hh_model_free(m);
    hh_test_srv_stop(&t);
    ref_free(r);
    printf("    http vs library: max abs %.3g (base64 %.3g); vs llama.cpp %.3g\n", d_lib, d_b64, d_ref);
    ASSERT_TRUE(ok);
    ASSERT_EQ_INT(st_noauth, 401);
    ASSERT_EQ_INT(st_list, 200);
    ASSERT_TRUE(shape);
    ASSERT_LE(d_lib, 0.0);
    ASSERT_LE(d_ref, 0.003);
    ASSERT_EQ_INT(prompt_tokens, 48);
    ASSERT_EQ_INT(total_tokens, 48);
    ASSERT_EQ_INT(st_b64, 200);
    ASSERT_TRUE(b64_ok);
    ASSERT_LE(d_b64, 0.0);
    ASSERT_EQ_INT(st_gen, 400);
    ASSERT_TRUE(gen_msg);
    ASSERT_EQ_INT(st_unknown, 404);
    ASSERT_EQ_INT(st_fmt, 400);
    ASSERT_EQ_INT(st_long, 400);
    ASSERT_TRUE(long_code);
}

/* Writes a copy of bert-q8_0.gguf whose bert.pooling_type is `pooling`
 * (the u32 value after the key and its type tag) to the temp dir. */
static bool write_pooling_variant(uint32_t pooling, char *path, size_t cap)
{
    size_t n = 0;
    unsigned char *d = hh_test_read_file(hh_test_data_path("reference/bert-q8_0.gguf"), &n);
    const char *key = "bert.pooling_type";
    const size_t kl = strlen(key);
    bool found = false;
    for (size_t i = 0; d && !found && i + kl + 8 <= n && i < 1u << 20; i++) {
        if (memcmp(d + i, key, kl) == 0) {
            uint32_t type;
            memcpy(&type, d + i + kl, 4);
            found = type == 4;   /* GGUF UINT32 */
            if (found) memcpy(d + i + kl + 4, &pooling, 4);
        }
    }
    snprintf(path, cap, "%s/bert-pool%u.gguf", hh_test_tmpdir(), pooling);
    FILE *f = found ? fopen(path, "wb") : NULL;
    bool ok = f && fwrite(d, 1, n, f) == n;
    if (f) fclose(f);
    free(d);
    return ok;
}

TEST(bert_pooling_cls_none_and_unsupported)
{
    bert_ref_t *r = ref_load();
    ASSERT_TRUE(r != NULL);
    char p_cls[1024], p_none[1024], p_bad[1024];
    bool ok = write_pooling_variant(2, p_cls, sizeof p_cls) && write_pooling_variant(0, p_none, sizeof p_none) &&
              write_pooling_variant(7, p_bad, sizeof p_bad);
    hh_model_t *mc = NULL, *mn = NULL, *mb = NULL;
    hh_err_t err;
    hh_err_clear(&err);
    ok = ok && hh_model_load(&mc, p_cls, NULL, NULL) == 0 && hh_model_load(&mn, p_none, NULL, NULL) == 0;
    int rc_bad = ok ? hh_model_load(&mb, p_bad, NULL, &err) : 0;
    bool bad_msg = strstr(err.msg, "pooling_type") != NULL;
    hh_embed_ctx_t *cc = ok ? make_ctx(mc, true, 0) : NULL, *cn = ok ? make_ctx(mn, true, 0) : NULL;
    float hid[MAX_IDS * 256], emb[256], cls[256];
    const int s = 1, n = r->n_ids[s];
    ok = ok && cc && cn && hh_model_hparams(mc)->pooling == HH_POOLING_CLS &&
         hh_embed_hidden(cc, r->ids[s], n, hid, NULL) == 0 && hh_embed(cc, r->ids[s], n, emb, NULL) == 0;
    /* CLS pooling = the first row, normalized */
    double ss = 0;
    for (int i = 0; i < 256; i++) ss += (double)hid[i] * hid[i];
    for (int i = 0; i < 256; i++) cls[i] = (float)(hid[i] / sqrt(ss));
    double d_cls = ok ? max_abs(emb, cls, 256) : INFINITY;
    /* pooling none: hidden states only; they equal the mean model's */
    int rc_none = cn ? hh_embed(cn, r->ids[s], n, emb, NULL) : 0;
    float hid_n[MAX_IDS * 256];
    ok = ok && hh_embed_hidden(cn, r->ids[s], n, hid_n, NULL) == 0;
    double d_hid = ok ? max_abs(hid, hid_n, (size_t)n * 256) : INFINITY;
    /* the hidden states match the reference rows of text 1 */
    double d_ref = ok ? max_abs(hid, r->hidden_deq + (size_t)r->n_ids[0] * 256, (size_t)n * 256) : INFINITY;
    double tol = r->tol_deq_hidden;
    hh_embed_ctx_free(cc);
    hh_embed_ctx_free(cn);
    hh_model_free(mc);
    hh_model_free(mn);
    hh_model_free(mb);
    ref_free(r);
    ASSERT_TRUE(ok);
    ASSERT_LE(d_cls, 1e-6);
    ASSERT_EQ_INT(rc_none, HH_EUNSUPPORTED);
    ASSERT_LE(d_hid, 0.0);
    ASSERT_LE(d_ref, tol);
    ASSERT_EQ_INT(rc_bad, HH_EUNSUPPORTED);
    ASSERT_TRUE(bad_msg);
}
