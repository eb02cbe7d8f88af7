/* embeddings.c - POST /v1/embeddings on the server's embedding models
 * (engine/embedders.h: up to HH_EMBEDDERS_MAX loaded, least recently used
 * unloaded; requests for the same model queue on its context).
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

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* OpenAI's own limit on inputs per request. */
#define MAX_INPUTS 2048

/* The embedder of model from the server's registry: 200 and *out, or the
 * HTTP status with e filled (404 unknown model, 400 not an embedding model,
 * 429 every slot busy, 500). */
static int embedder_acquire(hh_http_server_t *s, const char *model, hh_embedder_t **out, hh_api_error_t *e)
{
    hh_err_t err;
    hh_err_clear(&err);
    switch (hh_embedders_acquire(s->embedders, model, out, &err)) {
    case 0:
        return 200;
    case HH_ENOENT:
        return hh_api_error_set(e, 404, "invalid_request_error", "model_not_found", "model", "%s", err.msg);
    case HH_EINVAL:
        return hh_api_error_set(e, 400, "invalid_request_error", "model_not_embedding", "model", "%s", err.msg);
    case HH_EFULL:
        return hh_api_error_set(e, 429, "rate_limit_exceeded", "too_many_models", "model", "%s", err.msg);
    case HH_ENOMEM:
        return hh_api_error_set(e, 500, "server_error", NULL, NULL, "out of memory");
    default:
        return hh_api_error_set(e, 500, "server_error", NULL, "model", "%s", err.msg);
    }
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
static int add_input(hh_embedder_t *em, const cJSON *in, int index, tokens_t *t, hh_api_error_t *e)
{
    const int32_t max = hh_embedder_max_tokens(em);
    int32_t *ids = NULL;
    size_t n = 0;
    if (cJSON_IsString(in)) {
        const char *text = in->valuestring;
        if (!text[0])
            return hh_api_error_set(e, 400, "invalid_request_error", NULL, "input",
                                    "input[%d] is an empty string", index);
        hh_err_t err;
        hh_err_clear(&err);
        if (hh_tokenize(hh_embedder_vocab(em), text, strlen(text), true, false, &ids, &n, &err) != 0)
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
            if (v < 0 || v >= hh_vocab_n_tokens(hh_embedder_vocab(em)) || v != (double)(int32_t)v) {
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
    hh_embedder_t *em = NULL;
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
    if ((status = embedder_acquire(s, jm->valuestring, &em, &e)) != 200)
        goto done;
    const int32_t n_embd = hh_embedder_n_embd(em);
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
    if (hh_embedder_run(em, t->ids, t->off, t->n_inputs, vecs, &err) != 0) {
        status = hh_api_error_set(&e, 500, "server_error", NULL, NULL, "embedding failed: %s", err.msg);
        goto done;
    }
    resp = response_json(jm->valuestring, vecs, t->n_inputs, n_embd, b64, t->n);
    if (resp == NULL)
        status = hh_api_error_set(&e, 500, "server_error", NULL, NULL, "out of memory");
done:
    ht_quota_end(s, &cs->quota, status == 200 && t ? t->n : 0, 0);
    hh_embedders_release(s->embedders, em);
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
