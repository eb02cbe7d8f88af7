/* approvals.c - human oversight over HTTP (govern/approvals.h): the 202
 * answer of a request whose use case requires approval, and
 * /api/approvals for approvers (list, approve, edit-and-approve, reject),
 * auditors (read) and requesters (their own request's decision).
 * Approvers see and decide only approvals of use cases of their own
 * departments (hh_approvals_may_review); any other approval answers 404
 * like an unknown id, with the same message. Members read only their own
 * requests; anyone else's is 404 like an unknown id too. */
#include "govern/approvals.h"
#include "http/http_int.h"
#include "kb/msg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define AP_PREFIX "/api/approvals/"

static bool role_is(const ht_conn_t *cs, const char *role)
{
    return strcmp(cs->key.role, role) == 0;
}

/* approver and admin decide; auditors only read. */
static bool may_review(const ht_conn_t *cs)
{
    return role_is(cs, "approver") || role_is(cs, "admin") || role_is(cs, "auditor");
}

/* The one answer for an approval the caller may not see, whatever the
 * reason (no such id, another department's, another member's request):
 * the store's own HH_ENOENT message, so no word of it tells them apart
 * (tests/test_isolation.c compares them byte for byte). */
static void hide(hh_err_t *err, int64_t id)
{
    hh_err_set(err, HH_ENOENT, -1, "approval %lld not found", (long long)id);
}

static enum MHD_Result send_ap_error(struct MHD_Connection *c, ht_conn_t *cs, int rc, const hh_err_t *err)
{
    hh_api_error_t e;
    if (rc == HH_ENOENT)
        hh_api_error_set(&e, 404, "invalid_request_error", "approval_not_found", NULL, "%s", err->msg);
    else if (rc == HH_ESTATE)
        hh_api_error_set(&e, 409, "invalid_request_error", "approval_decided", NULL, "%s", err->msg);
    else if (rc == HH_EINVAL)
        hh_api_error_set(&e, 400, "invalid_request_error", "invalid_decision", NULL, "%s", err->msg);
    else
        hh_api_error_set(&e, 500, "server_error", NULL, NULL, "%s", err->msg);
    return ht_send_error(c, cs, &e);
}

/* Queues (request rj, taken; output) and answers 202 with the pending id. */
static enum MHD_Result hold(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, cJSON *rj,
                            const ht_mark_t *mark, const char *response_id, const char *output, int64_t *id_out)
{
    hh_api_error_t e;
    hh_err_t err;
    hh_err_clear(&err);
    if (id_out)
        *id_out = 0;
    /* the text for the user in the language of their question (kb/msg.h) */
    const char *q = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rj, "question"));
    const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(rj, "messages");
    for (int i = cJSON_GetArraySize(msgs); !q && i-- > 0;) {
        const cJSON *m = cJSON_GetArrayItem(msgs, i);
        const char *role = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "role"));
        if (role && !strcmp(role, "user"))
            q = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "content"));
    }
    if (!q)
        q = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rj, "prompt"));
    hh_lang_t lang = hh_kb_answer_lang(q, MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept-Language"));
    char *rtext = rj ? cJSON_PrintUnformatted(rj) : NULL;
    cJSON_Delete(rj);
    int64_t id = 0;
    int rc = rtext ? hh_approvals_create(s->store, mark->use_case, mark->hr, cs->key.user, rtext, output, &id, &err)
                   : hh_err_set(&err, HH_ENOMEM, -1, "out of memory");
    cJSON_free(rtext);
    if (rc) {
        hh_api_error_set(&e, 500, "server_error", NULL, NULL, "the answer could not be queued for approval: %s",
                         err.msg);
        return ht_send_error(c, cs, &e);
    }
    if (id_out)
        *id_out = id;
    char url[64];
    snprintf(url, sizeof url, AP_PREFIX "%lld", (long long)id);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "id", response_id);
    cJSON_AddStringToObject(j, "object", "hoheit.approval.pending");
    cJSON_AddNumberToObject(j, "created", (double)time(NULL));
    cJSON_AddStringToObject(j, "model", mark->model);
    cJSON_AddArrayToObject(j, "choices");   /* nothing is released yet */
    char msg[512];
    snprintf(msg, sizeof msg, hh_kb_msg(HH_MSG_HELD, lang), mark->use_case, url);
    cJSON_AddStringToObject(j, "message", msg);
    cJSON *h = cJSON_AddObjectToObject(j, "hoheit");
    cJSON *a = cJSON_AddObjectToObject(h, "approval");
    cJSON_AddNumberToObject(a, "id", (double)id);
    cJSON_AddStringToObject(a, "status", "pending");
    cJSON_AddStringToObject(a, "url", url);
    cJSON_AddStringToObject(h, "use_case", mark->use_case);
    ht_mark_redaction_json(mark, h);
    return ht_send_json(c, cs, 202, j);
}

enum MHD_Result ht_approval_hold(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs,
                                 const hh_openai_req_t *req, const ht_mark_t *mark, const char *response_id,
                                 const char *output, int64_t *id_out)
{
    /* What the approver needs to judge the answer: the model and the input. */
    bool chat = req->kind == HH_OPENAI_CHAT;
    const char *field = chat ? "messages" : "prompt";
    cJSON *rj = cJSON_CreateObject();
    cJSON_AddStringToObject(rj, "model", req->gen.model ? req->gen.model : "");
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(req->root, field);
    cJSON *copy = in ? cJSON_Duplicate(in, true) : NULL;
    if (copy)
        cJSON_AddItemToObject(rj, field, copy);
    return hold(s, c, cs, rj, mark, response_id, output, id_out);
}

enum MHD_Result ht_approval_hold_grounded(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs,
                                          cJSON *request, cJSON *grounding, const ht_mark_t *mark,
                                          const char *response_id, const char *output, int64_t *id_out)
{
    if (request && grounding)
        cJSON_AddItemToObject(request, "grounding", grounding);
    else
        cJSON_Delete(grounding);
    return hold(s, c, cs, request, mark, response_id, output, id_out);
}

/* "123" -> 123; false for anything else (sign, junk, overflow, 0). */
static bool parse_id(const char *p, size_t n, int64_t *out)
{
    if (n == 0 || n > 18)
        return false;
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        v = v * 10 + (p[i] - '0');
    }
    *out = v;
    return v > 0;
}

static enum MHD_Result handle_list(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs)
{
    hh_api_error_t e;
    hh_err_t err;
    hh_err_clear(&err);
    const char *st = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "status");
    if (st && strcmp(st, "all") != 0 && strcmp(st, "pending") != 0) {
        hh_api_error_set(&e, 400, "invalid_request_error", NULL, "status", "status must be pending or all");
        return ht_send_error(c, cs, &e);
    }
    bool pending_only = !st || !strcmp(st, "pending");
    hh_approval_t *list = NULL;
    size_t n = 0;
    int rc = hh_approvals_list(s->store, pending_only, &list, &n, &err);
    if (rc)
        return send_ap_error(c, cs, rc, &err);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "object", "list");
    cJSON *data = cJSON_AddArrayToObject(j, "data");
    for (size_t i = 0; i < n; i++) {
        bool ok = false;   /* approvers: only their departments' use cases */
        if (hh_approvals_may_review(s->store, &list[i], cs->key.user_id, cs->key.role, &ok, NULL) == 0 && ok)
            cJSON_AddItemToArray(data, hh_approval_json(&list[i], true));
        hh_approval_clear(&list[i]);
    }
    free(list);
    return ht_send_json(c, cs, 200, j);
}

static enum MHD_Result handle_get(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, int64_t id)
{
    hh_err_t err;
    hh_err_clear(&err);
    hh_approval_t a;
    int rc = hh_approvals_get(s->store, id, &a, &err);
    if (rc)
        return send_ap_error(c, cs, rc, &err);
    bool reviewer = false;
    if (may_review(cs) && (rc = hh_approvals_may_review(s->store, &a, cs->key.user_id, cs->key.role, &reviewer,
                                                         &err)) != 0) {
        hh_approval_clear(&a);
        return send_ap_error(c, cs, rc, &err);
    }
    if (!reviewer && strcmp(a.requester, cs->key.user) != 0) {
        /* another department's approval, or another member's request: as
         * if unknown (a 403 told members which ids exist) */
        hh_approval_clear(&a);
        hide(&err, id);
        return send_ap_error(c, cs, HH_ENOENT, &err);
    }
    cJSON *j = hh_approval_json(&a, reviewer);
    hh_approval_clear(&a);
    return ht_send_json(c, cs, 200, j);
}

static enum MHD_Result handle_decide(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, int64_t id,
                                     const char *action)
{
    hh_api_error_t e;
    hh_err_t err;
    hh_err_clear(&err);
    hh_approval_status_t d;
    if (!strcmp(action, "approve"))
        d = HH_APPROVAL_APPROVED;
    else if (!strcmp(action, "edit"))
        d = HH_APPROVAL_EDITED;
    else if (!strcmp(action, "reject"))
        d = HH_APPROVAL_REJECTED;
    else {
        hh_api_error_set(&e, 404, "invalid_request_error", "not_found", NULL,
                         "unknown action '%s' (approve, edit, reject)", action);
        return ht_send_error(c, cs, &e);
    }
    cJSON *in = cs->len ? cJSON_ParseWithLength(cs->body, cs->len) : cJSON_CreateObject();
    if (!cJSON_IsObject(in)) {
        cJSON_Delete(in);
        hh_api_error_set(&e, 400, "invalid_request_error", "invalid_json", NULL,
                         "the body must be a JSON object ({\"text\": ...} / {\"reason\": ...})");
        return ht_send_error(c, cs, &e);
    }
    const cJSON *tj = cJSON_GetObjectItemCaseSensitive(in, "text");
    const cJSON *rj = cJSON_GetObjectItemCaseSensitive(in, "reason");
    if ((tj && !cJSON_IsString(tj)) || (rj && !cJSON_IsString(rj) && !cJSON_IsNull(rj))) {
        cJSON_Delete(in);
        hh_api_error_set(&e, 400, "invalid_request_error", NULL, tj && !cJSON_IsString(tj) ? "text" : "reason",
                         "text and reason must be strings");
        return ht_send_error(c, cs, &e);
    }
    const char *text = cJSON_IsString(tj) ? tj->valuestring : NULL;
    const char *reason = cJSON_IsString(rj) ? rj->valuestring : NULL;
    /* Four-eyes first, so a requester hears 403 whatever else is wrong. */
    hh_approval_t a;
    int rc = hh_approvals_get(s->store, id, &a, &err);
    if (rc) {
        cJSON_Delete(in);
        if (rc == HH_ENOENT)   /* recorded as a foreign one is: the same work for both */
            ht_audit_action(s, cs, "refused", "approvals %s %lld: no such approval", action, (long long)id);
        return send_ap_error(c, cs, rc, &err);
    }
    bool visible = false;
    if ((rc = hh_approvals_may_review(s->store, &a, cs->key.user_id, cs->key.role, &visible, &err)) != 0 ||
        !visible) {
        if (!rc)
            ht_audit_action(s, cs, "refused", "approvals %s %lld (use case %s): not of the decider's departments",
                            action, (long long)id, a.use_case);
        hh_approval_clear(&a);
        cJSON_Delete(in);
        if (!rc) {   /* another department's approval: as if unknown */
            hide(&err, id);
            rc = HH_ENOENT;
        }
        return send_ap_error(c, cs, rc, &err);
    }
    hh_approvals_params_t p = hh_approvals_default_params();
    p.allow_self_decision = s->params.approvals_allow_self;
    p.request_id = cs->log.request_id[0] ? cs->log.request_id : NULL;   /* for the decision's audit record */
    bool allowed = hh_approvals_may_decide(&a, cs->key.user, &p, &err);
    hh_approval_clear(&a);
    if (!allowed) {
        cJSON_Delete(in);
        ht_audit_action(s, cs, "refused", "approvals %s %lld: four-eyes (the requester may not decide)", action,
                        (long long)id);
        hh_api_error_set(&e, 403, "permission_error", "four_eyes", NULL, "%s", err.msg);
        return ht_send_error(c, cs, &e);
    }
    rc = hh_approvals_decide(s->store, &p, id, cs->key.user, d, text, reason, &a, &err);
    cJSON_Delete(in);
    if (rc)
        return send_ap_error(c, cs, rc, &err);
    cJSON *j = hh_approval_json(&a, true);
    hh_approval_clear(&a);
    return ht_send_json(c, cs, 200, j);
}

enum MHD_Result ht_handle_approvals(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url)
{
    const char *method = cs->method;
    hh_api_error_t e;
    if (strncmp(url, AP_PREFIX, strlen(AP_PREFIX)) != 0) {   /* "/api/approvals" */
        if (strcmp(method, "GET") != 0) {
            hh_api_error_set(&e, 405, "invalid_request_error", "method_not_allowed", NULL, "method not allowed");
            return ht_send_error(c, cs, &e);
        }
        return handle_list(s, c, cs);
    }
    const char *rest = url + strlen(AP_PREFIX);
    const char *slash = strchr(rest, '/');
    int64_t id = 0;
    if (!parse_id(rest, slash ? (size_t)(slash - rest) : strlen(rest), &id)) {
        hh_api_error_set(&e, 404, "invalid_request_error", "approval_not_found", NULL,
                         "approval ids are positive integers");
        return ht_send_error(c, cs, &e);
    }
    if (!strcmp(method, "GET") && !slash)
        return handle_get(s, c, cs, id);
    if (!strcmp(method, "POST") && slash)
        return handle_decide(s, c, cs, id, slash + 1);
    hh_api_error_set(&e, 405, "invalid_request_error", "method_not_allowed", NULL, "method not allowed");
    return ht_send_error(c, cs, &e);
}
