/* conversations.c - conversations stored on the server (store.h,
 * "conversations"), per user:
 *
 *   GET    /api/conversations?q=&limit=&offset=   the caller's own, newest first
 *   POST   /api/conversations {title?}            create (201)
 *   GET    /api/conversations/{id}                with its messages
 *   PATCH  /api/conversations/{id} {title}        rename
 *   DELETE /api/conversations/{id}                delete with its messages
 *   GET    /api/conversations/{id}/export?format=md|json   a download
 *
 * Every route finds only the caller's own conversations: another user's id
 * answers exactly like a missing one (404 not_found, the same body). No
 * role reads another user's conversations here, admins included; the GDPR
 * export (compliance.c, govern/gdpr.c) is the admin's path.
 *
 * Recording: a chat request ("hoheit": {"conversation_id": N}) or an ask
 * ("conversation_id": N) names a conversation of the caller; ht_conv_target_*
 * checks it before any generation (404 as above, 409 when it is full, 400
 * for a question too long to store) and sets cs->conv_id; ht_conv_record
 * appends the question and the answer afterwards. A held answer is stored
 * with its approval id and no text; GET resolves it through the approval
 * once decided (the released text and sources are copied in). */
#include "http/http_int.h"
#include "base/log.h"
#include "base/strbuf.h"
#include "govern/approvals.h"
#include "govern/audit.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CONV_PREFIX "/api/conversations/"
#define CONV_DEFAULT_LIMIT 50

/* ---- small pieces --------------------------------------------------------- */

/* The one audit record of a conversation action (a deletion, an export):
 * kind "admin", the acting user, "done". One function, so the common audit
 * helpers can replace it at merge. */
static void audit_conv(hh_http_server_t *s, const ht_conn_t *cs, const char *detail)
{
    ht_audit_action(s, cs, "done", "%s", detail);
}

/* The one "not found" answer: the same for a missing id, another user's
 * conversation and a malformed id. */
static enum MHD_Result not_found(struct MHD_Connection *c, ht_conn_t *cs)
{
    hh_api_error_t e;
    hh_api_error_set(&e, 404, "invalid_request_error", "not_found", NULL, "No such conversation");
    return ht_send_error(c, cs, &e);
}

static enum MHD_Result bad_request(struct MHD_Connection *c, ht_conn_t *cs, const char *param, const char *msg)
{
    hh_api_error_t e;
    hh_api_error_set(&e, 400, "invalid_request_error", NULL, param, "%s", msg);
    return ht_send_error(c, cs, &e);
}

static enum MHD_Result store_error(struct MHD_Connection *c, ht_conn_t *cs, int rc, const hh_err_t *err)
{
    if (rc == HH_ENOENT)
        return not_found(c, cs);
    hh_api_error_t e;
    if (rc == HH_EINVAL)
        hh_api_error_set(&e, 400, "invalid_request_error", NULL, NULL, "%s", err->msg);
    else if (rc == HH_EFULL)
        hh_api_error_set(&e, 409, "invalid_request_error", "conversation_limit", NULL, "%s", err->msg);
    else {
        hh_log(HH_LOG_ERROR, "conversations: %s", err->msg);
        hh_api_error_set(&e, 500, "server_error", NULL, NULL, "the conversation store failed");
    }
    return ht_send_error(c, cs, &e);
}

/* The decimal id after the prefix, up to the next '/' or the end;
 * 0 when it is not a positive number. *rest the text after it. */
static int64_t url_id(const char *url, const char **rest)
{
    const char *p = url + strlen(CONV_PREFIX);
    int64_t v = 0;
    const char *q = p;
    for (; *q >= '0' && *q <= '9'; q++) {
        if (v > (INT64_MAX - 9) / 10)
            return 0;
        v = v * 10 + (*q - '0');
    }
    if (q == p || (*q && *q != '/') || *p == '0')
        return 0;
    *rest = q;
    return v;
}

static cJSON *parse_object(const ht_conn_t *cs)
{
    if (!cs->body || !cs->len)
        return cJSON_CreateObject();
    cJSON *j = cJSON_ParseWithLength(cs->body, cs->len);
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return NULL;
    }
    return j;
}

/* A query-string integer in lo..hi; def when absent; false when bad. */
static bool query_int(struct MHD_Connection *c, const char *name, int64_t def, int64_t lo, int64_t hi, int64_t *out)
{
    const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
    if (!v) {
        *out = def;
        return true;
    }
    char *end = NULL;
    long long n = strtoll(v, &end, 10);
    if (!*v || *end || n < lo || n > hi)
        return false;
    *out = n;
    return true;
}

static void iso_time(int64_t ms, char out[32])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- JSON ------------------------------------------------------------------- */

static cJSON *conv_json(const hh_store_conv_t *v)
{
    cJSON *j = cJSON_CreateObject();
    if (!j)
        return NULL;
    cJSON_AddNumberToObject(j, "id", (double)v->id);
    cJSON_AddStringToObject(j, "object", "hoheit.conversation");
    cJSON_AddStringToObject(j, "title", v->title);
    cJSON_AddBoolToObject(j, "titled", v->titled);
    cJSON_AddNumberToObject(j, "created_at", (double)v->created_at);
    cJSON_AddNumberToObject(j, "updated_at", (double)v->updated_at);
    cJSON_AddStringToObject(j, "use_case", v->use_case);
    cJSON_AddStringToObject(j, "model", v->model);
    cJSON *coll = cJSON_Parse(v->collections);
    cJSON_AddItemToObject(j, "collections", cJSON_IsArray(coll) ? coll : cJSON_CreateArray());
    if (!cJSON_IsArray(coll))
        cJSON_Delete(coll);
    cJSON_AddNumberToObject(j, "n_messages", (double)v->n_messages);
    return j;
}

static cJSON *msg_json(const hh_store_conv_msg_t *m)
{
    cJSON *j = cJSON_CreateObject();
    if (!j)
        return NULL;
    cJSON_AddNumberToObject(j, "seq", (double)m->seq);
    cJSON_AddStringToObject(j, "role", m->role);
    cJSON_AddStringToObject(j, "content", m->content ? m->content : "");
    cJSON_AddNumberToObject(j, "created_at", (double)m->created_at);
    if (m->has_confidence)
        cJSON_AddNumberToObject(j, "confidence", m->confidence);
    if (m->grounding) {
        cJSON *g = cJSON_Parse(m->grounding);
        if (g)
            cJSON_AddItemToObject(j, "grounding", g);
    }
    if (m->approval_id > 0) {
        cJSON *a = cJSON_AddObjectToObject(j, "approval");
        cJSON_AddNumberToObject(a, "id", (double)m->approval_id);
        cJSON_AddStringToObject(a, "status", m->approval_status);
        cJSON_AddBoolToObject(j, "held", !strcmp(m->approval_status, "pending"));
    }
    return j;
}

/* Held answers whose approval was decided get their outcome: the released
 * text (and the sources a grounded answer was held with), or "rejected"
 * with no text. Only approvals the caller requested count (the id came
 * from their own request, this checks it again). Failures leave the
 * message pending; the next GET tries again. */
static void resolve_held(hh_http_server_t *s, const ht_conn_t *cs, hh_store_conv_msg_t *m, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (m[i].approval_id <= 0 || strcmp(m[i].approval_status, "pending"))
            continue;
        hh_approval_t a;
        memset(&a, 0, sizeof a);
        hh_err_t err;
        hh_err_clear(&err);
        if (hh_approvals_get(s->store, m[i].approval_id, &a, &err) != 0 || strcmp(a.requester, cs->key.user) ||
            a.status == HH_APPROVAL_PENDING) {
            hh_approval_clear(&a);
            continue;
        }
        const char *st = hh_approval_status_name(a.status);
        bool released = a.status == HH_APPROVAL_APPROVED || a.status == HH_APPROVAL_EDITED;
        char *grounding = NULL;
        if (released) {
            cJSON *aj = hh_approval_json(&a, false);
            const cJSON *g = cJSON_GetObjectItemCaseSensitive(aj, "grounding");
            if (cJSON_IsObject(g))
                grounding = cJSON_PrintUnformatted(g);
            cJSON_Delete(aj);
        }
        const char *text = released && a.final_text ? a.final_text : NULL;
        if (hh_store_conv_resolve(s->store, cs->key.user_id, m[i].id, st, text, grounding, &err) == 0) {
            snprintf(m[i].approval_status, sizeof m[i].approval_status, "%s", st);
            if (text) {
                char *t = strdup(text);
                if (t) {
                    free(m[i].content);
                    m[i].content = t;
                }
            }
            if (grounding) {
                free(m[i].grounding);
                m[i].grounding = strdup(grounding);
                const cJSON *cf = NULL;
                cJSON *g = cJSON_Parse(grounding);
                if ((cf = cJSON_GetObjectItemCaseSensitive(g, "confidence")) && cJSON_IsNumber(cf)) {
                    m[i].has_confidence = true;
                    m[i].confidence = cf->valuedouble;
                }
                cJSON_Delete(g);
            }
        }
        cJSON_free(grounding);
        hh_approval_clear(&a);
    }
}

/* The conversation id of the caller with its messages as JSON (held ones
 * resolved); NULL with *rc set when it cannot be read. */
static cJSON *full_json(hh_http_server_t *s, const ht_conn_t *cs, int64_t id, int *rc, hh_err_t *err)
{
    hh_store_conv_t v;
    hh_store_conv_msg_t *m = NULL;
    size_t n = 0;
    if ((*rc = hh_store_conv_get(s->store, cs->key.user_id, id, &v, err)) ||
        (*rc = hh_store_conv_messages(s->store, cs->key.user_id, id, &m, &n, err)))
        return NULL;
    resolve_held(s, cs, m, n);
    cJSON *j = conv_json(&v);
    cJSON *arr = j ? cJSON_AddArrayToObject(j, "messages") : NULL;
    for (size_t i = 0; arr && i < n; i++)
        cJSON_AddItemToArray(arr, msg_json(&m[i]));
    hh_store_conv_msgs_free(m, n);
    if (!arr) {
        cJSON_Delete(j);
        *rc = hh_err_set(err, HH_ENOMEM, -1, "conversations: out of memory");
        return NULL;
    }
    return j;
}

/* ---- routes ------------------------------------------------------------------ */

enum MHD_Result ht_handle_conv_list(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url)
{
    (void)url;
    int64_t limit = 0, offset = 0;
    if (!query_int(c, "limit", CONV_DEFAULT_LIMIT, 1, HH_CONV_LIST_MAX, &limit))
        return bad_request(c, cs, "limit", "limit must be an integer 1..100");
    if (!query_int(c, "offset", 0, 0, INT32_MAX, &offset))
        return bad_request(c, cs, "offset", "offset must be a non-negative integer");
    const char *q = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "q");
    if (q && strlen(q) > HH_CONV_QUERY_MAX)
        return bad_request(c, cs, "q", "the search text is longer than 256 bytes");
    hh_store_conv_t *v = NULL;
    size_t n = 0;
    int64_t total = 0;
    hh_err_t err;
    hh_err_clear(&err);
    int rc = hh_store_conv_list(s->store, cs->key.user_id, q, offset, limit, &v, &n, &total, &err);
    if (rc)
        return store_error(c, cs, rc, &err);
    cJSON *j = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(j, "data");
    cJSON_AddStringToObject(j, "object", "list");
    for (size_t i = 0; arr && i < n; i++)
        cJSON_AddItemToArray(arr, conv_json(&v[i]));
    cJSON_AddNumberToObject(j, "total", (double)total);
    cJSON_AddNumberToObject(j, "offset", (double)offset);
    cJSON_AddNumberToObject(j, "limit", (double)limit);
    cJSON_AddBoolToObject(j, "has_more", offset + (int64_t)n < total);
    free(v);
    return ht_send_json(c, cs, 200, j);
}

enum MHD_Result ht_handle_conv_create(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url)
{
    (void)url;
    cJSON *body = parse_object(cs);
    if (!body)
        return bad_request(c, cs, NULL, "The body must be a JSON object");
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(body, "title");
    if (t && !cJSON_IsNull(t) && !cJSON_IsString(t)) {
        cJSON_Delete(body);
        return bad_request(c, cs, "title", "title must be a string");
    }
    if (cJSON_IsString(t) && strlen(t->valuestring) > HH_CONV_TITLE_MAX) {
        cJSON_Delete(body);
        return bad_request(c, cs, "title", "title is longer than 200 bytes");
    }
    hh_store_conv_t v;
    hh_err_t err;
    hh_err_clear(&err);
    int rc = hh_store_conv_create(s->store, cs->key.user_id, cJSON_IsString(t) ? t->valuestring : NULL, NULL, &v,
                                  &err);
    cJSON_Delete(body);
    if (rc)
        return store_error(c, cs, rc, &err);
    cJSON *j = conv_json(&v);
    if (j)
        cJSON_AddItemToObject(j, "messages", cJSON_CreateArray());
    return ht_send_json(c, cs, 201, j);
}

enum MHD_Result ht_handle_conv_get(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url)
{
    const char *rest = NULL;
    int64_t id = url_id(url, &rest);
    if (!id || *rest)
        return not_found(c, cs);
    hh_err_t err;
    hh_err_clear(&err);
    int rc = 0;
    cJSON *j = full_json(s, cs, id, &rc, &err);
    if (!j)
        return store_error(c, cs, rc, &err);
    return ht_send_json(c, cs, 200, j);
}

enum MHD_Result ht_handle_conv_rename(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url)
{
    const char *rest = NULL;
    int64_t id = url_id(url, &rest);
    if (!id || *rest)
        return not_found(c, cs);
    cJSON *body = parse_object(cs);
    if (!body)
        return bad_request(c, cs, NULL, "The body must be a JSON object");
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(body, "title");
    enum MHD_Result r;
    if (!cJSON_IsString(t) || !t->valuestring[0] || strlen(t->valuestring) > HH_CONV_TITLE_MAX) {
        r = bad_request(c, cs, "title", "title must be a string of 1..200 bytes");
    } else {
        hh_err_t err;
        hh_err_clear(&err);
        int rc = hh_store_conv_rename(s->store, cs->key.user_id, id, t->valuestring, &err);
        hh_store_conv_t v;
        if (!rc)
            rc = hh_store_conv_get(s->store, cs->key.user_id, id, &v, &err);
        r = rc ? store_error(c, cs, rc, &err) : ht_send_json(c, cs, 200, conv_json(&v));
    }
    cJSON_Delete(body);
    return r;
}

enum MHD_Result ht_handle_conv_delete(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url)
{
    const char *rest = NULL;
    int64_t id = url_id(url, &rest);
    if (!id || *rest)
        return not_found(c, cs);
    hh_err_t err;
    hh_err_clear(&err);
    int rc = hh_store_conv_delete(s->store, cs->key.user_id, id, &err);
    if (rc)
        return store_error(c, cs, rc, &err);
    char detail[96];
    snprintf(detail, sizeof detail, "conversations delete %" PRId64, id);
    audit_conv(s, cs, detail);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "id", (double)id);
    cJSON_AddStringToObject(j, "object", "hoheit.conversation");
    cJSON_AddBoolToObject(j, "deleted", true);
    return ht_send_json(c, cs, 200, j);
}

/* ---- export ------------------------------------------------------------------ */

/* A short formatted piece (numbers, times) appended to b. */
static void sb_printf(hh_strbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(hh_strbuf_t *b, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n > 0)
        hh_strbuf_add(b, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

/* One line of text for a Markdown list item: line breaks become spaces. */
static void md_inline(hh_strbuf_t *b, const char *t)
{
    for (; t && *t; t++)
        hh_strbuf_add(b, *t == '\n' || *t == '\r' ? " " : t, 1);
}

/* The conversation as Markdown: a heading, its facts, then each message
 * under "You" / "Assistant" with the sources of a grounded answer. The
 * text of the messages is written as it is (it is the user's own text
 * and the model's answer; a Markdown reader renders it). */
static char *conv_markdown(const cJSON *j, size_t *len)
{
    hh_strbuf_t b = { 0 };
    char when[32];
    const char *title = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "title"));
    hh_strbuf_str(&b, "# ");
    md_inline(&b, title && title[0] ? title : "Conversation");
    hh_strbuf_str(&b, "\n\n");
    iso_time((int64_t)cJSON_GetObjectItemCaseSensitive(j, "created_at")->valuedouble, when);
    sb_printf(&b, "- Conversation: %.0f\n- Started: %s\n",
                     cJSON_GetObjectItemCaseSensitive(j, "id")->valuedouble, when);
    const char *uc = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "use_case"));
    const char *model = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "model"));
    if (uc && uc[0]) {
        hh_strbuf_str(&b, "- Use case: ");
        md_inline(&b, uc);
        hh_strbuf_str(&b, "\n");
    }
    if (model && model[0]) {
        hh_strbuf_str(&b, "- Model: ");
        md_inline(&b, model);
        hh_strbuf_str(&b, "\n");
    }
    iso_time(hh_log_now_ms(), when);
    sb_printf(&b, "- Exported: %s\n- Answers marked \"Assistant\" are AI-generated.\n", when);
    const cJSON *m;
    cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(j, "messages"))
    {
        const char *role = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "role"));
        bool user = role && !strcmp(role, "user");
        iso_time((int64_t)cJSON_GetObjectItemCaseSensitive(m, "created_at")->valuedouble, when);
        sb_printf(&b, "\n## %s (%s)\n\n", user ? "You" : "Assistant", when);
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(m, "approval");
        const char *ast = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a, "status"));
        if (ast && !strcmp(ast, "pending"))
            hh_strbuf_str(&b, "_Held for human approval; not released yet._\n");
        else if (ast && !strcmp(ast, "rejected"))
            hh_strbuf_str(&b, "_Held for human approval and rejected; not released._\n");
        else
        {
            hh_strbuf_str(&b, cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "content")));
            hh_strbuf_str(&b, "\n");
        }
        const cJSON *cf = cJSON_GetObjectItemCaseSensitive(m, "confidence");
        if (cJSON_IsNumber(cf))
            sb_printf(&b, "\nConfidence: %.0f %%\n", cf->valuedouble * 100.0);
        const cJSON *src = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(m, "grounding"), "sources");
        if (cJSON_GetArraySize(src) > 0) {
            hh_strbuf_str(&b, "\nSources:\n\n");
            const cJSON *h;
            cJSON_ArrayForEach(h, src)
            {
                sb_printf(&b, "%.0f. ", cJSON_GetObjectItemCaseSensitive(h, "n")->valuedouble);
                md_inline(&b, cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(h, "title")));
                const char *hp = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(h, "heading_path"));
                if (hp && hp[0]) {
                    hh_strbuf_str(&b, " - ");
                    md_inline(&b, hp);
                }
                const cJSON *pg = cJSON_GetObjectItemCaseSensitive(h, "page");
                if (cJSON_IsNumber(pg))
                    sb_printf(&b, ", p. %.0f", pg->valuedouble);
                hh_strbuf_str(&b, "\n");
            }
        }
    }
    if (b.oom || !b.p) {
        free(b.p);
        return NULL;
    }
    *len = b.len;
    return b.p;
}

enum MHD_Result ht_handle_conv_export(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url)
{
    const char *rest = NULL;
    int64_t id = url_id(url, &rest);
    if (!id || strcmp(rest, "/export"))
        return not_found(c, cs);
    const char *fmt = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "format");
    bool md = fmt && !strcmp(fmt, "md");
    if (fmt && !md && strcmp(fmt, "json"))
        return bad_request(c, cs, "format", "format must be md or json");
    hh_err_t err;
    hh_err_clear(&err);
    int rc = 0;
    cJSON *j = full_json(s, cs, id, &rc, &err);
    if (!j)
        return store_error(c, cs, rc, &err);
    size_t len = 0;
    char *text = NULL;
    if (md) {
        text = conv_markdown(j, &len);
    } else {
        cJSON_AddNumberToObject(j, "exported_at", (double)hh_log_now_ms());
        text = cJSON_Print(j);
        len = text ? strlen(text) : 0;
    }
    cJSON_Delete(j);
    if (!text)
        return MHD_NO;
    char detail[96];
    snprintf(detail, sizeof detail, "conversations export %" PRId64 " %s", id, md ? "md" : "json");
    audit_conv(s, cs, detail);
    struct MHD_Response *r = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(text);
        return MHD_NO;
    }
    char disp[96];
    snprintf(disp, sizeof disp, "attachment; filename=\"conversation-%" PRId64 ".%s\"", id, md ? "md" : "json");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                            md ? "text/markdown; charset=utf-8" : "application/json");
    MHD_add_response_header(r, "Content-Disposition", disp);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    return ht_queue(c, cs, 200, r, len);
}

/* ---- recording ---------------------------------------------------------------- */

/* Checks the conversation named by idj (absent/null: none) for a request
 * of the caller with this question. */
static int target(hh_http_server_t *s, ht_conn_t *cs, const cJSON *idj, const char *param, const char *question,
                  hh_api_error_t *e)
{
    cs->conv_id = 0;
    if (!idj || cJSON_IsNull(idj))
        return 0;
    if (!cJSON_IsNumber(idj) || idj->valuedouble < 1 || idj->valuedouble > 9007199254740991.0 ||
        idj->valuedouble != (double)(int64_t)idj->valuedouble)
        return hh_api_error_set(e, 400, "invalid_request_error", NULL, param, "%s must be a positive integer", param);
    if (question && strlen(question) > HH_CONV_MESSAGE_MAX)
        return hh_api_error_set(e, 400, "invalid_request_error", NULL, param,
                                "the question is longer than %d bytes and cannot be stored in a conversation",
                                HH_CONV_MESSAGE_MAX);
    hh_store_conv_t v;
    hh_err_t err;
    hh_err_clear(&err);
    int rc = hh_store_conv_get(s->store, cs->key.user_id, (int64_t)idj->valuedouble, &v, &err);
    if (rc == HH_ENOENT)
        return hh_api_error_set(e, 404, "invalid_request_error", "not_found", NULL, "No such conversation");
    if (rc)
        return hh_api_error_set(e, 500, "server_error", NULL, NULL, "the conversation store failed");
    if (v.n_messages + 2 > HH_CONV_MAX_MESSAGES)
        return hh_api_error_set(e, 409, "invalid_request_error", "conversation_limit", param,
                                "the conversation holds %d messages, the most it may; start a new one",
                                HH_CONV_MAX_MESSAGES);
    cs->conv_id = v.id;
    return 0;
}

const char *ht_conv_question(const hh_openai_req_t *req)
{
    for (size_t i = req->gen.n_messages; i-- > 0;)
        if (req->gen.messages[i].role == HH_ROLE_USER)
            return req->gen.messages[i].content ? req->gen.messages[i].content : "";
    return "";
}

int ht_conv_target_chat(hh_http_server_t *s, ht_conn_t *cs, const hh_openai_req_t *req, hh_api_error_t *e)
{
    cs->conv_id = 0;
    if (req->kind != HH_OPENAI_CHAT)
        return 0;
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(req->root, "hoheit");
    return target(s, cs, cJSON_GetObjectItemCaseSensitive(h, "conversation_id"), "hoheit.conversation_id",
                  ht_conv_question(req), e);
}

int ht_conv_target_ask(hh_http_server_t *s, ht_conn_t *cs, const cJSON *body, const char *question,
                       hh_api_error_t *e)
{
    return target(s, cs, cJSON_GetObjectItemCaseSensitive(body, "conversation_id"), "conversation_id", question, e);
}

void ht_conv_record(hh_http_server_t *s, const ht_conv_turn_t *t)
{
    if (!t || t->conv_id <= 0 || t->user_id <= 0)
        return;
    char *grounding = t->grounding ? cJSON_PrintUnformatted(t->grounding) : NULL;
    char *colls = t->collections ? cJSON_PrintUnformatted(t->collections) : NULL;
    const cJSON *cf = cJSON_GetObjectItemCaseSensitive(t->grounding, "confidence");
    const char *answer = t->answer ? t->answer : "";
    char *cut = NULL;
    if (strlen(answer) > HH_CONV_MESSAGE_MAX) {   /* the question was checked before; an answer is cut */
        size_t n = HH_CONV_MESSAGE_MAX;
        while (n > 0 && ((unsigned char)answer[n] & 0xC0) == 0x80)
            n--;
        cut = hh_strdup_n(answer, n);
        answer = cut ? cut : "";
    }
    hh_store_conv_msg_in_t m[2] = {
        { .role = "user", .content = t->question ? t->question : "" },
        { .role = "assistant", .content = t->approval_id > 0 ? "" : answer,
          .grounding = t->approval_id > 0 ? NULL : grounding,
          .has_confidence = t->approval_id <= 0 && cJSON_IsNumber(cf), .confidence = cJSON_IsNumber(cf) ? cf->valuedouble : 0,
          .approval_id = t->approval_id },
    };
    hh_store_conv_meta_t meta = { .use_case = t->use_case, .model = t->model, .collections = colls };
    hh_err_t err;
    hh_err_clear(&err);
    if (hh_store_conv_append(s->store, t->user_id, t->conv_id, m, 2, &meta, &err) != 0)
        hh_log(HH_LOG_WARN, "conversations: the turn was not stored in conversation %" PRId64 ": %s", t->conv_id,
               err.msg);
    cJSON_free(grounding);
    cJSON_free(colls);
    free(cut);
}
