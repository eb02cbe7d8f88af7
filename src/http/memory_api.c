/* memory_api.c - the caller's own agent memory (agent/memory.h, store.h
 * "agent memory"):
 *
 *   GET    /api/me/memory?q=         the caller's facts, the most recent first
 *   POST   /api/me/memory {text}     store one (201)
 *   PUT    /api/me/memory/{id} {text} change its text
 *   DELETE /api/me/memory/{id}       delete it
 *
 * Only the caller's own facts, whatever the role: another user's id
 * answers exactly like a missing one (404 memory_not_found, the same body),
 * and so does a malformed id. The GDPR export is the admin's path to
 * another user's facts. Changes are "admin" audit records of the acting
 * user (the id, never the text). */
#include "http/http_int.h"
#include "base/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MEM_PREFIX "/api/me/memory/"

static enum MHD_Result not_found(struct MHD_Connection *c, ht_conn_t *cs)
{
    hh_api_error_t e;
    hh_api_error_set(&e, 404, "invalid_request_error", "memory_not_found", NULL, "No such memory");
    return ht_send_error(c, cs, &e);
}

static enum MHD_Result store_error(struct MHD_Connection *c, ht_conn_t *cs, int rc, const hh_err_t *err)
{
    if (rc == HH_ENOENT)
        return not_found(c, cs);
    hh_api_error_t e;
    if (rc == HH_EINVAL)
        hh_api_error_set(&e, 400, "invalid_request_error", NULL, "text", "%s", err->msg);
    else if (rc == HH_EFULL)
        hh_api_error_set(&e, 409, "invalid_request_error", "memory_limit", NULL, "%s", err->msg);
    else {
        hh_log(HH_LOG_ERROR, "memory: %s", err->msg);
        hh_api_error_set(&e, 500, "server_error", NULL, NULL, "the memory store failed");
    }
    return ht_send_error(c, cs, &e);
}

static cJSON *memory_json(const hh_store_memory_t *m)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "id", (double)m->id);
    cJSON_AddStringToObject(o, "text", m->text ? m->text : "");
    cJSON_AddNumberToObject(o, "created_at", (double)(m->created_at / 1000));
    cJSON_AddNumberToObject(o, "updated_at", (double)(m->updated_at / 1000));
    return o;
}

/* The body's "text"; NULL (and a 400 queued in *r) when it has none. */
static cJSON *body_text(struct MHD_Connection *c, ht_conn_t *cs, const char **text, enum MHD_Result *r)
{
    cJSON *root = cJSON_ParseWithLength(cs->body ? cs->body : "", cs->len);
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(root, "text");
    if (!cJSON_IsObject(root) || !cJSON_IsString(t)) {
        cJSON_Delete(root);
        hh_api_error_t e;
        hh_api_error_set(&e, 400, "invalid_request_error", NULL, "text", "The body must be {\"text\": \"...\"}");
        *r = ht_send_error(c, cs, &e);
        return NULL;
    }
    *text = t->valuestring;
    return root;
}

/* The reply: the fact id of user as it is now. */
static enum MHD_Result send_one(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, int64_t id, int status)
{
    hh_store_memory_t m;
    hh_err_t err;
    hh_err_clear(&err);
    int rc = hh_store_memory_get(s->store, cs->key.user_id, id, &m, &err);
    if (rc)
        return store_error(c, cs, rc, &err);
    cJSON *j = memory_json(&m);
    hh_store_memory_clear(&m);
    return ht_send_json(c, cs, status, j);
}

enum MHD_Result ht_handle_memory(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url)
{
    hh_err_t err;
    hh_err_clear(&err);
    enum MHD_Result r = MHD_NO;
    const char *text = NULL;
    if (!strcmp(url, "/api/me/memory")) {
        if (!strcmp(cs->method, "GET")) {
            const char *q = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "q");
            hh_store_memory_t *m = NULL;
            size_t n = 0;
            int rc = hh_store_memory_list(s->store, cs->key.user_id, q, 0, &m, &n, &err);
            if (rc)
                return store_error(c, cs, rc, &err);
            cJSON *j = cJSON_CreateObject();
            cJSON_AddStringToObject(j, "object", "list");
            cJSON *arr = cJSON_AddArrayToObject(j, "data");
            for (size_t i = 0; i < n; i++)
                cJSON_AddItemToArray(arr, memory_json(&m[i]));
            hh_store_memory_list_free(m, n);
            return ht_send_json(c, cs, 200, j);
        }
        cJSON *root = body_text(c, cs, &text, &r);
        if (!root)
            return r;
        int64_t id = 0;
        int rc = hh_store_memory_add(s->store, cs->key.user_id, text, &id, &err);
        cJSON_Delete(root);
        if (rc)
            return store_error(c, cs, rc, &err);
        ht_audit_action(s, cs, "done", "memory create %lld", (long long)id);
        return send_one(s, c, cs, id, 201);
    }
    /* /api/me/memory/{id}: digits only, else like a missing one */
    const char *v = url + strlen(MEM_PREFIX);
    char *end = NULL;
    errno = 0;
    long long id = (v[0] >= '1' && v[0] <= '9') ? strtoll(v, &end, 10) : 0;
    if (!end || *end || errno || id <= 0)
        return not_found(c, cs);
    if (!strcmp(cs->method, "DELETE")) {
        int rc = hh_store_memory_delete(s->store, cs->key.user_id, id, &err);
        if (rc)
            return store_error(c, cs, rc, &err);
        ht_audit_action(s, cs, "done", "memory delete %lld", id);
        cJSON *j = cJSON_CreateObject();
        cJSON_AddNumberToObject(j, "id", (double)id);
        cJSON_AddBoolToObject(j, "deleted", true);
        return ht_send_json(c, cs, 200, j);
    }
    cJSON *root = body_text(c, cs, &text, &r);
    if (!root)
        return r;
    int rc = hh_store_memory_update(s->store, cs->key.user_id, id, text, &err);
    cJSON_Delete(root);
    if (rc)
        return store_error(c, cs, rc, &err);
    ht_audit_action(s, cs, "done", "memory update %lld", id);
    return send_one(s, c, cs, id, 200);
}
