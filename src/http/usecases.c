/* usecases.c - the use-case register over HTTP (/api/usecases) and the
 * governance step of every generation request: which use case it runs
 * under, refusal of prohibited ones and of models the use case does not
 * list, whether the answer is held for a human approval (approvals.c), and
 * the transparency marking (Art. 50) of the answer. */
#include "govern/register.h"
#include "http/http_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UC_PREFIX "/api/usecases/"

static enum MHD_Result send_body(struct MHD_Connection *c, ht_conn_t *cs, int status, const char *ctype, char *text)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    enum MHD_Result ok = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    cs->status = status;
    cs->responded = true;
    return ok;
}

/* Maps a register error to an API error. */
static enum MHD_Result send_reg_error(struct MHD_Connection *c, ht_conn_t *cs, int rc, const hh_err_t *err)
{
    hh_api_error_t e;
    if (rc == HH_ENOENT)
        hh_api_error_set(&e, 404, "invalid_request_error", "use_case_not_found", NULL, "%s", err->msg);
    else if (rc == HH_EINVAL)
        hh_api_error_set(&e, 400, "invalid_request_error", "invalid_use_case", NULL, "%s", err->msg);
    else
        hh_api_error_set(&e, 500, "server_error", NULL, NULL, "%s", err->msg);
    return ht_send_error(c, cs, &e);
}

static cJSON *questionnaire_json(void)
{
    size_t n = 0;
    const hh_reg_question_t *q = hh_register_questions(&n);
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "id", q[i].id);
        cJSON_AddStringToObject(o, "article", q[i].article);
        cJSON_AddStringToObject(o, "text", q[i].text);
        cJSON_AddItemToArray(arr, o);
    }
    return arr;
}

/* The use case with its change history. */
static cJSON *usecase_full(hh_store_t *st, const hh_usecase_t *u)
{
    cJSON *j = hh_usecase_json(u);
    cJSON *h = NULL;
    if (j && u->id && hh_register_history(st, u->id, &h, NULL) == 0)
        cJSON_AddItemToObject(j, "history", h);
    return j;
}

enum MHD_Result ht_handle_usecases(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *method,
                                   const char *url)
{
    hh_api_error_t e;
    hh_err_t err;
    hh_err_clear(&err);
    bool write = strcmp(method, "GET") != 0;
    if (write && strcmp(cs->key.role, "admin") != 0) {
        hh_api_error_set(&e, 403, "permission_error", "forbidden", NULL,
                         "only admins may change the use-case register (role %s)", cs->key.role);
        return ht_send_error(c, cs, &e);
    }
    const char *id = !strncmp(url, UC_PREFIX, strlen(UC_PREFIX)) ? url + strlen(UC_PREFIX) : NULL;
    cJSON *in = NULL;
    if (!strcmp(method, "POST") || !strcmp(method, "PUT")) {
        in = cJSON_ParseWithLength(cs->body ? cs->body : "", cs->len);
        if (!cJSON_IsObject(in)) {
            cJSON_Delete(in);
            hh_api_error_set(&e, 400, "invalid_request_error", "invalid_json", NULL,
                             "the body must be a JSON object describing a use case");
            return ht_send_error(c, cs, &e);
        }
    }
    hh_usecase_t u;
    memset(&u, 0, sizeof u);
    int rc;
    enum MHD_Result ok;
    if (!id && !strcmp(method, "GET")) {
        hh_usecase_t *list = NULL;
        size_t n = 0;
        if ((rc = hh_register_list(s->store, &list, &n, &err)))
            return send_reg_error(c, cs, rc, &err);
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "object", "list");
        cJSON *data = cJSON_AddArrayToObject(j, "data");
        for (size_t i = 0; i < n; i++) {
            cJSON_AddItemToArray(data, hh_usecase_json(&list[i]));
            hh_usecase_clear(&list[i]);
        }
        free(list);
        cJSON_AddItemToObject(j, "questionnaire", questionnaire_json());
        return ht_send_json(c, cs, 200, j);
    }
    if (!id && !strcmp(method, "POST")) {
        rc = hh_register_create(s->store, in, cs->key.user, &u, &err);
        cJSON_Delete(in);
        if (rc)
            return send_reg_error(c, cs, rc, &err);
        ok = ht_send_json(c, cs, 201, usecase_full(s->store, &u));
        hh_usecase_clear(&u);
        return ok;
    }
    if (!id) {   /* the route table sends only GET/POST here */
        cJSON_Delete(in);
        hh_api_error_set(&e, 405, "invalid_request_error", "method_not_allowed", NULL, "method not allowed");
        return ht_send_error(c, cs, &e);
    }
    if (!strcmp(method, "GET")) {
        const char *card = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "card");
        if (card) {
            bool html = !strcmp(card, "html");
            if (!html && strcmp(card, "md") != 0) {
                hh_api_error_set(&e, 400, "invalid_request_error", NULL, "card", "card must be md or html");
                return ht_send_error(c, cs, &e);
            }
            char *text = NULL;
            if ((rc = hh_register_card(s->store, id, s->models_dir, html ? HH_CARD_HTML : HH_CARD_MD, &text, &err)))
                return send_reg_error(c, cs, rc, &err);
            return send_body(c, cs, 200, html ? "text/html; charset=utf-8" : "text/markdown; charset=utf-8", text);
        }
        if ((rc = hh_register_get(s->store, id, &u, &err)))
            return send_reg_error(c, cs, rc, &err);
        ok = ht_send_json(c, cs, 200, usecase_full(s->store, &u));
        hh_usecase_clear(&u);
        return ok;
    }
    if (!strcmp(method, "PUT")) {
        rc = hh_register_update(s->store, id, in, cs->key.user, &u, &err);
        cJSON_Delete(in);
        if (rc)
            return send_reg_error(c, cs, rc, &err);
        ok = ht_send_json(c, cs, 200, usecase_full(s->store, &u));
        hh_usecase_clear(&u);
        return ok;
    }
    cJSON_Delete(in);
    if ((rc = hh_register_delete(s->store, id, cs->key.user, &err)))
        return send_reg_error(c, cs, rc, &err);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "id", id);
    cJSON_AddStringToObject(j, "object", "use_case");
    cJSON_AddBoolToObject(j, "deleted", true);
    return ht_send_json(c, cs, 200, j);
}

/* ---- the governance step of a generation request ----------------------- */

bool ht_hoheit_grounded(const hh_openai_req_t *req)
{
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(req->root, "hoheit");
    if (!cJSON_IsObject(h))
        return false;
    if (!h->child)
        return true;   /* "hoheit": {} asks for every readable collection */
    const cJSON *it;
    cJSON_ArrayForEach(it, h)
        if (strcmp(it->string, "use_case") != 0)
            return true;
    return false;
}

int ht_usecase_select(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const hh_openai_req_t *req,
                      hh_api_error_t *e)
{
    memset(&cs->mark, 0, sizeof cs->mark);
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(req->root, "hoheit");
    const cJSON *ucj = cJSON_GetObjectItemCaseSensitive(h, "use_case");
    const char *name = NULL;
    if (ucj && !cJSON_IsNull(ucj)) {
        if (!cJSON_IsString(ucj) || !ucj->valuestring[0])
            return hh_api_error_set(e, 400, "invalid_request_error", NULL, "hoheit.use_case",
                                    "hoheit.use_case must be a non-empty string");
        name = ucj->valuestring;
    } else {
        name = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Hoheit-Use-Case");
    }
    hh_usecase_t u;
    hh_err_t err;
    hh_err_clear(&err);
    int rc = hh_register_resolve(s->store, name, cs->key.id, cs->key.user_id, &u, &err);
    if (rc == HH_ENOENT || rc == HH_EINVAL)
        return hh_api_error_set(e, 404, "invalid_request_error", "use_case_not_found", "hoheit.use_case", "%s",
                                err.msg);
    if (rc)
        return hh_api_error_set(e, 500, "server_error", NULL, NULL, "%s", err.msg);
    const char *model = req->gen.model ? req->gen.model : "";
    int st = 0;
    if (u.policy.refused)
        st = hh_api_error_set(e, 403, "permission_error", "use_case_prohibited", "hoheit.use_case",
                              "Use case '%s' is a prohibited AI practice under Art. 5 of the EU AI Act; requests "
                              "under it are refused",
                              u.slug);
    else if (!hh_usecase_allows_model(&u, model))
        st = hh_api_error_set(e, 403, "permission_error", "model_not_allowed", "model",
                              "Use case '%s' does not allow model '%s'", u.slug, model);
    if (st == 0) {
        /* Art. 14: the answer is generated but held for a human (approvals.c) */
        cs->mark.held = u.policy.approval_required;
        cs->mark.hr = u.cls.annex_iii_4 || u.policy.approval_locked;
        cs->mark.on = true;
        snprintf(cs->mark.use_case, sizeof cs->mark.use_case, "%s", u.slug);
        snprintf(cs->mark.model, sizeof cs->mark.model, "%s", model);
    }
    hh_usecase_clear(&u);
    return st;
}

void ht_mark_json(const ht_mark_t *m, cJSON *j)
{
    if (!m || !m->on || !cJSON_IsObject(j))
        return;
    cJSON *h = cJSON_GetObjectItemCaseSensitive(j, "hoheit");
    if (!cJSON_IsObject(h)) {
        cJSON_DeleteItemFromObjectCaseSensitive(j, "hoheit");
        h = cJSON_AddObjectToObject(j, "hoheit");
        if (!h)
            return;
    }
    static const char *const keys[] = { "ai_generated", "model", "use_case" };
    for (size_t i = 0; i < 3; i++)
        cJSON_DeleteItemFromObjectCaseSensitive(h, keys[i]);
    cJSON_AddBoolToObject(h, "ai_generated", true);
    cJSON_AddStringToObject(h, "model", m->model);
    cJSON_AddStringToObject(h, "use_case", m->use_case);
}

void ht_mark_headers(const ht_mark_t *m, struct MHD_Response *r)
{
    if (m && m->on)
        MHD_add_response_header(r, "X-AI-Generated", "true");
}
