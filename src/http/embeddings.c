/* embeddings.c - POST /v1/embeddings and the server's embedding models.
 *
 * Embedding models (bert) are GGUF files in the engine's models directory
 * like any other; the generative engine does not run them. The server keeps
 * up to HT_EMBED_MAX_MODELS of them loaded (mmapped, one embedding context
 * each), loads one on first use and unloads the least recently used idle
 * one when a new one needs room. A context serves one request at a time
 * (its mutex); requests for the same model queue on it.
 *
 * Request (OpenAI): {"model", "input": string | [string] | [int] | [[int]],
 * "encoding_format": "float" | "base64", "dimensions" (must equal the
 * model's width), "user" (ignored)}. Strings are tokenized with [CLS] ...
 * [SEP]; token arrays are embedded as given. An input longer than the
 * model's context is a 400 (context_length_exceeded), never silently cut.
 * Response: {"object":"list","data":[{"object":"embedding","index",
 * "embedding"}],"model","usage":{"prompt_tokens","total_tokens"}}; base64 is
 * the little-endian float32 bytes, as OpenAI sends them. */
#include "http/http_int.h"
#include "base/log.h"
#include "model/model.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* OpenAI's own limit on inputs per request. */
#define MAX_INPUTS 2048

struct ht_embedder {
    char            id[256];
    hh_model_t     *model;     /* owned */
    hh_vocab_t     *vocab;     /* owned */
    hh_embed_ctx_t *ctx;       /* owned; used under mu */
    pthread_mutex_t mu;
    int             refs;      /* acquired and not released (under s->embed_mu) */
    uint64_t        last_used; /* s->embed_tick at the last acquire */
};

static void embedder_free(ht_embedder_t *em)
{
    if (em == NULL)
        return;
    hh_embed_ctx_free(em->ctx);
    hh_vocab_free(em->vocab);
    hh_model_free(em->model);
    pthread_mutex_destroy(&em->mu);
    free(em);
}

void ht_embedders_free(hh_http_server_t *s)
{
    for (int i = 0; i < HT_EMBED_MAX_MODELS; i++) {
        embedder_free(s->embedders[i]);
        s->embedders[i] = NULL;
    }
}

/* True if id names a model file of the engine's directory. */
static bool model_listed(hh_http_server_t *s, const char *id)
{
    hh_engine_model_info_t *ms = NULL;
    size_t n = 0;
    bool found = false;
    if (hh_engine_list_models(s->engine, &ms, &n, NULL) == 0)
        for (size_t i = 0; i < n && !found; i++)
            found = strcmp(ms[i].id, id) == 0;
    free(ms);
    return found;
}

/* Loads model id (listed) into a new embedder; HTTP status + e on failure. */
static int embedder_load(hh_http_server_t *s, const char *id, ht_embedder_t **out, hh_api_error_t *e)
{
    *out = NULL;
    ht_embedder_t *em = calloc(1, sizeof *em);
    if (em == NULL)
        return hh_api_error_set(e, 500, "server_error", NULL, NULL, "out of memory");
    pthread_mutex_init(&em->mu, NULL);
    snprintf(em->id, sizeof em->id, "%s", id);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.gguf", s->models_dir, id);
    hh_err_t err;
    hh_err_clear(&err);
    int status = 500;
    if (hh_model_load(&em->model, path, NULL, &err) != 0) {
        hh_api_error_set(e, 500, "server_error", NULL, "model", "cannot load model '%s': %s", id, err.msg);
        goto fail;
    }
    if (!hh_model_is_embedding(em->model)) {
        status = hh_api_error_set(e, 400, "invalid_request_error", "model_not_embedding", "model",
                                  "The model '%s' is a generative model, not an embedding model", id);
        goto fail;
    }
    if (hh_model_hparams(em->model)->pooling == HH_POOLING_NONE) {
        status = hh_api_error_set(e, 400, "invalid_request_error", "model_not_embedding", "model",
                                  "The model '%s' has no pooling (per-token outputs only)", id);
        goto fail;
    }
    hh_embed_params_t ep = hh_embed_default_params();
    ep.n_threads = s->params.engine.n_threads;
    if (hh_vocab_load(&em->vocab, hh_model_gguf(em->model), &err) != 0 ||
        hh_embed_ctx_create(&em->ctx, em->model, &ep, &err) != 0) {
        hh_api_error_set(e, 500, "server_error", NULL, "model", "cannot prepare model '%s': %s", id, err.msg);
        goto fail;
    }
    HH_LOGI("embeddings: loaded %s (%d dims, %d tokens per text)", id, hh_model_n_embd(em->model),
            hh_embed_max_tokens(em->ctx));
    *out = em;
    return 200;
fail:
    embedder_free(em);
    return status;
}

int ht_embedder_acquire(hh_http_server_t *s, const char *model, ht_embedder_t **out, hh_api_error_t *e)
{
    *out = NULL;
    if (model == NULL || !model[0] || strlen(model) >= sizeof((ht_embedder_t *)0)->id || strchr(model, '/') ||
        model[0] == '.' || !model_listed(s, model))
        return hh_api_error_set(e, 404, "invalid_request_error", "model_not_found", "model",
                                "The model '%s' does not exist", model ? model : "");
    pthread_mutex_lock(&s->embed_mu);
    int status = 200, free_slot = -1, lru = -1;
    ht_embedder_t *em = NULL;
    for (int i = 0; i < HT_EMBED_MAX_MODELS; i++) {
        ht_embedder_t *x = s->embedders[i];
        if (x != NULL && !strcmp(x->id, model)) {
            em = x;
            break;
        }
        if (x == NULL && free_slot < 0)
            free_slot = i;
        if (x != NULL && x->refs == 0 && (lru < 0 || x->last_used < s->embedders[lru]->last_used))
            lru = i;
    }
    if (em == NULL) {
        if (free_slot < 0 && lru < 0) {
            status = hh_api_error_set(e, 429, "rate_limit_exceeded", "too_many_models", "model",
                                      "All %d embedding model slots are busy; retry shortly", HT_EMBED_MAX_MODELS);
            goto done;
        }
        /* Loading is quick (the file is mapped, not read), so it happens
         * under the lock: two requests never load the same model twice. */
        if ((status = embedder_load(s, model, &em, e)) != 200)
            goto done;
        if (free_slot < 0) {
            HH_LOGI("embeddings: unloading %s", s->embedders[lru]->id);
            embedder_free(s->embedders[lru]);
            free_slot = lru;
        }
        s->embedders[free_slot] = em;
    }
    em->refs++;
    em->last_used = ++s->embed_tick;
    *out = em;
done:
    pthread_mutex_unlock(&s->embed_mu);
    return status;
}

void ht_embedder_release(hh_http_server_t *s, ht_embedder_t *em)
{
    if (em == NULL)
        return;
    pthread_mutex_lock(&s->embed_mu);
    em->refs--;
    pthread_mutex_unlock(&s->embed_mu);
}

const hh_vocab_t *ht_embedder_vocab(const ht_embedder_t *em) { return em->vocab; }
int32_t ht_embedder_n_embd(const ht_embedder_t *em) { return hh_model_n_embd(em->model); }
int32_t ht_embedder_max_tokens(const ht_embedder_t *em) { return hh_embed_max_tokens(em->ctx); }

int ht_embedder_run(ht_embedder_t *em, const int32_t *ids, const int32_t *offsets, int32_t n_texts, float *out,
                    hh_err_t *err)
{
    pthread_mutex_lock(&em->mu);
    int rc = hh_embed_batch(em->ctx, ids, offsets, n_texts, out, err);
    pthread_mutex_unlock(&em->mu);
    return rc;
}

/* ---- request ------------------------------------------------------------ */

/* Growing token list of all inputs: input i is ids[off[i] .. off[i+1]). */
typedef struct tokens {
    int32_t *ids;
    size_t   n, cap;
    int32_t  off[MAX_INPUTS + 1];
    int32_t  n_inputs;
} tokens_t;

static bool tokens_push(tokens_t *t, const int32_t *ids, size_t n)
{
    if (n > INT32_MAX - t->n)
        return false;
    if (t->n + n > t->cap) {
        size_t nc = t->cap ? t->cap : 1024;
        while (nc < t->n + n)
            nc *= 2;
        int32_t *g = realloc(t->ids, nc * sizeof *g);
        if (g == NULL)
            return false;
        t->ids = g;
        t->cap = nc;
    }
    memcpy(t->ids + t->n, ids, n * sizeof *ids);
    t->n += n;
    t->off[++t->n_inputs] = (int32_t)t->n;
    return true;
}

/* Adds one input (string or token array). HTTP status + e on failure. */
static int add_input(ht_embedder_t *em, const cJSON *in, int index, tokens_t *t, hh_api_error_t *e)
{
    const int32_t max = ht_embedder_max_tokens(em);
    int32_t *ids = NULL;
    size_t n = 0;
    if (cJSON_IsString(in)) {
        const char *text = in->valuestring;
        if (!text[0])
            return hh_api_error_set(e, 400, "invalid_request_error", NULL, "input",
                                    "input[%d] is an empty string", index);
        hh_err_t err;
        hh_err_clear(&err);
        if (hh_tokenize(em->vocab, text, strlen(text), true, false, &ids, &n, &err) != 0)
            return hh_api_error_set(e, 400, "invalid_request_error", NULL, "input",
                                    "cannot tokenize input: %s", err.msg);
    } else if (cJSON_IsArray(in)) {
        int na = cJSON_GetArraySize(in);
        if (na < 1 || na > max)
            return hh_api_error_set(e, 400, "invalid_request_error",
                                    na < 1 ? NULL : "context_length_exceeded", "input",
                                    "token input %d must have 1..%d tokens", index, max);
        ids = malloc(sizeof *ids * (size_t)na);
        if (ids == NULL)
            return hh_api_error_set(e, 500, "server_error", NULL, NULL, "out of memory");
        const cJSON *it;
        cJSON_ArrayForEach(it, in) {
            double v = cJSON_IsNumber(it) ? it->valuedouble : -1.0;
            if (v < 0 || v >= hh_vocab_n_tokens(em->vocab) || v != (double)(int32_t)v) {
                free(ids);
                return hh_api_error_set(e, 400, "invalid_request_error", NULL, "input",
                                        "token input %d holds something other than a token id", index);
            }
            ids[n++] = (int32_t)v;
        }
    } else {
        return hh_api_error_set(e, 400, "invalid_request_error", NULL, "input",
                                "input must be a string, an array of strings, or token arrays");
    }
    int status = 200;
    if (n > (size_t)max)
        status = hh_api_error_set(e, 400, "invalid_request_error", "context_length_exceeded", "input",
                                  "input[%d] has %zu tokens; this model's maximum is %d", index, n, max);
    else if (!tokens_push(t, ids, n))
        status = hh_api_error_set(e, 500, "server_error", NULL, NULL, "out of memory");
    free(ids);
    return status;
}

/* True for a non-empty array of numbers only (one token array). */
static bool is_token_array(const cJSON *a)
{
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) < 1)
        return false;
    const cJSON *it;
    cJSON_ArrayForEach(it, a)
        if (!cJSON_IsNumber(it))
            return false;
    return true;
}

/* Builds the response (NULL on no memory). */
static cJSON *response_json(const char *model, const float *vecs, int32_t n_inputs, int32_t n_embd, bool b64,
                            size_t n_tokens)
{
    cJSON *j = cJSON_CreateObject();
    cJSON *data = cJSON_AddArrayToObject(j, "data");
    if (j == NULL || data == NULL || !cJSON_AddStringToObject(j, "object", "list"))
        goto fail;
    for (int32_t i = 0; i < n_inputs; i++) {
        const float *v = vecs + (size_t)i * (size_t)n_embd;
        cJSON *o = cJSON_CreateObject();
        if (o == NULL || !cJSON_AddItemToArray(data, o) || !cJSON_AddStringToObject(o, "object", "embedding") ||
            !cJSON_AddNumberToObject(o, "index", i))
            goto fail;
        if (b64) {
            /* The wire format is little-endian float32, as OpenAI's. */
            uint8_t bytes[4];
            size_t nb = (size_t)n_embd * 4, len = sodium_base64_encoded_len(nb, sodium_base64_VARIANT_ORIGINAL);
            uint8_t *raw = malloc(nb);
            char *text = malloc(len);
            if (raw != NULL && text != NULL) {
                for (int32_t k = 0; k < n_embd; k++) {
                    uint32_t u;
                    memcpy(&u, &v[k], 4);
                    bytes[0] = (uint8_t)u;
                    bytes[1] = (uint8_t)(u >> 8);
                    bytes[2] = (uint8_t)(u >> 16);
                    bytes[3] = (uint8_t)(u >> 24);
                    memcpy(raw + (size_t)k * 4, bytes, 4);
                }
                sodium_bin2base64(text, len, raw, nb, sodium_base64_VARIANT_ORIGINAL);
            }
            bool ok = raw != NULL && text != NULL && cJSON_AddStringToObject(o, "embedding", text) != NULL;
            free(raw);
            free(text);
            if (!ok)
                goto fail;
        } else {
            cJSON *arr = cJSON_AddArrayToObject(o, "embedding");
            if (arr == NULL)
                goto fail;
            for (int32_t k = 0; k < n_embd; k++) {
                cJSON *num = cJSON_CreateNumber((double)v[k]);
                if (num == NULL || !cJSON_AddItemToArray(arr, num)) {
                    cJSON_Delete(num);
                    goto fail;
                }
            }
        }
    }
    cJSON *usage = cJSON_CreateObject();
    if (!cJSON_AddStringToObject(j, "model", model) || usage == NULL || !cJSON_AddItemToObject(j, "usage", usage)) {
        cJSON_Delete(usage);
        goto fail;
    }
    cJSON_AddNumberToObject(usage, "prompt_tokens", (double)n_tokens);
    cJSON_AddNumberToObject(usage, "total_tokens", (double)n_tokens);
    return j;
fail:
    cJSON_Delete(j);
    return NULL;
}

enum MHD_Result ht_handle_embeddings(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url)
{
    hh_api_error_t e;
    memset(&e, 0, sizeof e);
    ht_embedder_t *em = NULL;
    tokens_t *t = NULL;
    float *vecs = NULL;
    cJSON *resp = NULL;
    cJSON *req = cs->body ? cJSON_ParseWithLength(cs->body, cs->len) : NULL;
    int status = 200;
    if (!cJSON_IsObject(req)) {
        status = hh_api_error_set(&e, 400, "invalid_request_error", NULL, NULL,
                                  "The request body is not a JSON object");
        goto done;
    }
    const cJSON *jm = cJSON_GetObjectItemCaseSensitive(req, "model");
    const cJSON *jin = cJSON_GetObjectItemCaseSensitive(req, "input");
    const cJSON *jfmt = cJSON_GetObjectItemCaseSensitive(req, "encoding_format");
    const cJSON *jdim = cJSON_GetObjectItemCaseSensitive(req, "dimensions");
    if (!cJSON_IsString(jm)) {
        status = hh_api_error_set(&e, 400, "invalid_request_error", NULL, "model", "model must be a string");
        goto done;
    }
    if (jin == NULL || (!cJSON_IsString(jin) && !cJSON_IsArray(jin))) {
        status = hh_api_error_set(&e, 400, "invalid_request_error", NULL, "input",
                                  "input must be a string, an array of strings, or token arrays");
        goto done;
    }
    bool b64 = false;
    if (jfmt != NULL && !cJSON_IsNull(jfmt)) {
        if (!cJSON_IsString(jfmt) || (strcmp(jfmt->valuestring, "float") && strcmp(jfmt->valuestring, "base64"))) {
            status = hh_api_error_set(&e, 400, "invalid_request_error", NULL, "encoding_format",
                                      "encoding_format must be 'float' or 'base64'");
            goto done;
        }
        b64 = !strcmp(jfmt->valuestring, "base64");
    }
    /* quotas (quota.c): embeddings spend tokens too; no use case here */
    if ((status = ht_quota_begin(s, cs, NULL, &e)) != 0)
        goto done;
    if ((status = ht_embedder_acquire(s, jm->valuestring, &em, &e)) != 200)
        goto done;
    const int32_t n_embd = ht_embedder_n_embd(em);
    if (jdim != NULL && !cJSON_IsNull(jdim) && !(cJSON_IsNumber(jdim) && jdim->valuedouble == n_embd)) {
        status = hh_api_error_set(&e, 400, "invalid_request_error", NULL, "dimensions",
                                  "this model's embeddings have %d dimensions (no other size is offered)", n_embd);
        goto done;
    }
    t = calloc(1, sizeof *t);
    if (t == NULL) {
        status = hh_api_error_set(&e, 500, "server_error", NULL, NULL, "out of memory");
        goto done;
    }
    if (cJSON_IsString(jin) || is_token_array(jin)) {
        status = add_input(em, jin, 0, t, &e);
    } else {
        int n_in = cJSON_GetArraySize(jin);
        if (n_in < 1 || n_in > MAX_INPUTS) {
            status = hh_api_error_set(&e, 400, "invalid_request_error", NULL, "input",
                                      "input must hold 1..%d items", MAX_INPUTS);
            goto done;
        }
        const cJSON *it;
        int i = 0;
        cJSON_ArrayForEach(it, jin) {
            if ((status = add_input(em, it, i++, t, &e)) != 200)
                break;
        }
    }
    if (status != 200)
        goto done;
    vecs = malloc(sizeof *vecs * (size_t)n_embd * (size_t)t->n_inputs);
    if (vecs == NULL) {
        status = hh_api_error_set(&e, 500, "server_error", NULL, NULL, "out of memory");
        goto done;
    }
    hh_err_t err;
    hh_err_clear(&err);
    if (ht_embedder_run(em, t->ids, t->off, t->n_inputs, vecs, &err) != 0) {
        status = hh_api_error_set(&e, 500, "server_error", NULL, NULL, "embedding failed: %s", err.msg);
        goto done;
    }
    resp = response_json(jm->valuestring, vecs, t->n_inputs, n_embd, b64, t->n);
    if (resp == NULL)
        status = hh_api_error_set(&e, 500, "server_error", NULL, NULL, "out of memory");
done:
    ht_quota_end(s, &cs->quota, status == 200 && t ? t->n : 0, 0);
    ht_embedder_release(s, em);
    cJSON_Delete(req);
    free(vecs);
    if (t != NULL)
        free(t->ids);
    free(t);
    if (status != 200) {
        cJSON_Delete(resp);
        return ht_send_error(c, cs, &e);
    }
    return ht_send_json(c, cs, 200, resp);
}

/* ---- knowledge-base dense retrieval ------------------------------------- */

/* Embeds one text's ids (hh_ingest_embed_hook_t.embed). */
static int kb_embed_ids(void *user, const int32_t *ids, int32_t n_ids, float *out, hh_err_t *err)
{
    int32_t off[2] = { 0, n_ids };
    return ht_embedder_run(user, ids, off, 1, out, err);
}

/* Embeds a query text (hh_kb_embedder_t.embed): [CLS] text [SEP], cut to
 * the model's context. */
static int kb_embed_text(void *user, const char *text, float *out, hh_err_t *err)
{
    ht_embedder_t *em = user;
    int32_t *ids = NULL;
    size_t n = 0;
    int rc = hh_tokenize(em->vocab, text, strlen(text), true, false, &ids, &n, err);
    if (rc)
        return rc;
    if (n == 0 || n > INT32_MAX) {
        free(ids);
        return hh_err_set(err, HH_EINVAL, -1, "query has no tokens");
    }
    int32_t m = (int32_t)n;
    if (m > hh_embed_max_tokens(em->ctx))
        m = hh_embed_truncate(ids, m, hh_embed_max_tokens(em->ctx));
    rc = kb_embed_ids(em, ids, m, out, err);
    free(ids);
    return rc;
}

/* DATA/vindex-<id>.bin */
static void kb_index_path(hh_http_server_t *s, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/vindex-%s.bin", hh_store_data_dir(s->store), s->kb_model);
}

static void kb_vec_name(hh_http_server_t *s, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s.gguf", s->kb_model);
}

/* The first model of the directory (by name) that loads as an embedding
 * model: acquired into *out. 0 when there is none. */
static void kb_pick_model(hh_http_server_t *s, ht_embedder_t **out)
{
    *out = NULL;
    hh_engine_model_info_t *ms = NULL;
    size_t n = 0;
    if (hh_engine_list_models(s->engine, &ms, &n, NULL) != 0)
        return;
    for (size_t i = 0; i < n && !*out; i++) {
        for (size_t j = i + 1; j < n; j++)   /* by name, whatever order the listing has */
            if (strcmp(ms[j].id, ms[i].id) < 0) {
                hh_engine_model_info_t t = ms[i];
                ms[i] = ms[j];
                ms[j] = t;
            }
        hh_api_error_t e;
        if (ht_embedder_acquire(s, ms[i].id, out, &e) != 200)
            *out = NULL;
    }
    free(ms);
}

int ht_kb_dense_init(hh_http_server_t *s, const char *model, hh_err_t *err)
{
    s->kb_model[0] = '\0';
    if (model && (!model[0] || !strcmp(model, "none")))
        return 0;
    ht_embedder_t *em = NULL;
    if (model) {
        hh_api_error_t e;
        if (ht_embedder_acquire(s, model, &em, &e) != 200)
            return hh_err_set(err, HH_EINVAL, -1, "embedding model: %s", e.message);
    } else {
        kb_pick_model(s, &em);
        if (!em) {
            HH_LOGI("kb: no embedding model in %s: retrieval is BM25 only", s->models_dir);
            return 0;
        }
    }
    snprintf(s->kb_model, sizeof s->kb_model, "%s", em->id);
    s->kb_em = em;
    char path[4096], name[300];
    kb_index_path(s, path, sizeof path);
    kb_vec_name(s, name, sizeof name);
    uint64_t tag = 0, saved = 0;
    size_t n_vec = 0;
    hh_err_t e2;
    hh_err_clear(&e2);
    int rc = hh_kb_vectors_tag(s->store, name, &tag, &n_vec, err);
    if (rc)
        goto fail;
    const int dim = hh_model_n_embd(em->model);
    hh_vindex_t *ix = NULL;
    if (hh_vindex_load(path, NULL, &ix, &saved, &e2) == 0) {
        if (saved == tag && hh_vindex_dim(ix) == dim && hh_vindex_size(ix) == n_vec) {
            s->kb_index = ix;
            HH_LOGI("kb: dense retrieval with %s: %zu vectors (loaded %s)", s->kb_model, n_vec, path);
            return 0;
        }
        HH_LOGI("kb: %s is stale; rebuilding the vector index", path);
        hh_vindex_free(ix);
        ix = NULL;
    } else if (e2.code != HH_ENOENT) {
        HH_LOGW("kb: %s: %s; rebuilding the vector index", path, e2.msg);
    }
    if ((rc = hh_vindex_create(&ix, dim, NULL))) {
        rc = hh_err_set(err, rc, -1, "kb: cannot create the vector index");
        goto fail;
    }
    size_t added = 0;
    if ((rc = hh_kb_vindex_fill(s->store, name, 0, ix, &added, err))) {
        hh_vindex_free(ix);
        goto fail;
    }
    s->kb_index = ix;
    hh_err_clear(&e2);
    if (hh_vindex_save(ix, path, tag, &e2) != 0)
        HH_LOGW("kb: cannot save %s: %s", path, e2.msg);
    HH_LOGI("kb: dense retrieval with %s: %zu vectors (built)", s->kb_model, added);
    return 0;
fail:
    ht_embedder_release(s, em);
    s->kb_em = NULL;
    s->kb_model[0] = '\0';
    return rc;
}

void ht_kb_dense_fini(hh_http_server_t *s)
{
    if (s->kb_index && s->store) {
        char path[4096], name[300];
        kb_index_path(s, path, sizeof path);
        kb_vec_name(s, name, sizeof name);
        uint64_t tag = 0;
        hh_err_t err;
        hh_err_clear(&err);
        if (hh_kb_vectors_tag(s->store, name, &tag, NULL, &err) != 0 || hh_vindex_save(s->kb_index, path, tag, &err) != 0)
            HH_LOGW("kb: vector index not saved: %s", err.msg);
    }
    hh_vindex_free(s->kb_index);
    s->kb_index = NULL;
    ht_embedder_release(s, s->kb_em);
    s->kb_em = NULL;
}

hh_vindex_t *ht_kb_dense_query(hh_http_server_t *s, hh_kb_embedder_t *em)
{
    memset(em, 0, sizeof *em);
    if (!s->kb_index || !s->kb_em)
        return NULL;
    em->dim = hh_model_n_embd(s->kb_em->model);
    em->embed = kb_embed_text;
    em->user = s->kb_em;
    return s->kb_index;
}

hh_ingest_embedder_t *ht_kb_ingest_embedder(hh_http_server_t *s)
{
    if (!s->kb_index || !s->kb_em)
        return NULL;
    char name[300];
    kb_vec_name(s, name, sizeof name);
    hh_ingest_embed_hook_t h = { .name = name, .dim = hh_model_n_embd(s->kb_em->model),
                                 .max_tokens = hh_embed_max_tokens(s->kb_em->ctx), .vocab = s->kb_em->vocab,
                                 .embed = kb_embed_ids, .user = s->kb_em };
    hh_ingest_embedder_t *ie = NULL;
    hh_err_t err;
    if (hh_ingest_embedder_from_hook(&ie, &h, &err) != 0) {
        HH_LOGW("kb: no upload embedder: %s", err.msg);
        return NULL;
    }
    return ie;
}

void ht_kb_dense_update(hh_http_server_t *s, const int64_t *old_ids, size_t n_old, int64_t doc_id)
{
    if (!s->kb_index)
        return;
    for (size_t i = 0; i < n_old; i++)
        hh_vindex_remove(s->kb_index, old_ids[i]);   /* HH_ENOENT: had no vector */
    if (doc_id <= 0)
        return;
    char name[300];
    kb_vec_name(s, name, sizeof name);
    hh_err_t err;
    hh_err_clear(&err);
    if (hh_kb_vindex_fill(s->store, name, doc_id, s->kb_index, NULL, &err) != 0)
        HH_LOGW("kb: vectors of document %lld not indexed: %s", (long long)doc_id, err.msg);
}
