/* usecases.c - the use-case register over HTTP (/api/usecases) and the
 * governance step of every generation request: which use case it runs
 * under, refusal of prohibited ones and of models the use case does not
 * list, whether the answer is held for a human approval (approvals.c), and
 * the transparency marking (Art. 50) of the answer. */
#include "govern/register.h"
#include "http/http_int.h"
#include "kb/msg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define UC_PREFIX "/api/usecases/"
#define UC_PII_NAMES "pii-names.txt"   /* in the data dir: person names to redact, one per line */

static enum MHD_Result send_body(struct MHD_Connection *c, ht_conn_t *cs, int status, const char *ctype, char *text)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    return ht_queue(c, cs, status, r, strlen(text));
}

/* Maps a register error to an API error. */
static enum MHD_Result send_reg_error(struct MHD_Connection *c, ht_conn_t *cs, int rc, const hh_err_t *err)
{
    hh_api_error_t e;
    if (rc == HH_ENOENT)
        hh_api_error_set(&e, 404, "invalid_request_error", "use_case_not_found", NULL, "%s", err->msg);
    else if (rc == HH_EINVAL)
        hh_api_error_set(&e, 400, "invalid_request_error", "invalid_use_case", NULL, "%s", err->msg);
    else if (rc == HH_ESTATE)   /* delete of a use case that audit records or approvals name */
        hh_api_error_set(&e, 409, "invalid_request_error", "use_case_in_use", NULL, "%s", err->msg);
    else
        hh_api_error_set(&e, 500, "server_error", NULL, NULL, "%s", err->msg);
    return ht_send_error(c, cs, &e);
}

/* Whether the caller reviews the whole register (admins manage it,
 * auditors review it). */
static bool sees_register(const ht_conn_t *cs)
{
    return !strcmp(cs->key.role, "admin") || !strcmp(cs->key.role, "auditor");
}

/* A use case of other departments is, for anyone else, exactly a use case
 * that does not exist (as in the list): 404 with the message of an unknown
 * name asked, so no error tells another department's use cases (or their
 * state) apart from a typo. 0: the caller may see u; 404 (e filled): hidden;
 * 500 (e filled): the check failed. */
static int hide_foreign(hh_http_server_t *s, const ht_conn_t *cs, const hh_usecase_t *u, const char *asked,
                        const char *param, hh_api_error_t *e)
{
    if (sees_register(cs))
        return 0;
    bool may_use = false;
    hh_err_t err;
    hh_err_clear(&err);
    if (hh_register_user_may_use(s->store, u, cs->key.user_id, &may_use, &err) != 0)
        return hh_api_error_set(e, 500, "server_error", NULL, NULL, "%s", err.msg);
    if (may_use)
        return 0;
    return hh_api_error_set(e, 404, "invalid_request_error", "use_case_not_found", param, "unknown use case '%s'",
                            asked);
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

/* POST /api/usecases?classify=true (admin): the class, reasons and
 * effective policy that the body's "answers" and "policy" would give, with
 * nothing stored and nothing else of the document checked, so a
 * questionnaire form shows the class while it is being answered. The
 * answers must be an object of booleans (a missing answer is "no"); a
 * policy the class does not allow is the 400 a save would get. */
static enum MHD_Result send_classification(struct MHD_Connection *c, ht_conn_t *cs, const cJSON *in)
{
    hh_api_error_t e;
    hh_err_t err;
    hh_err_clear(&err);
    const cJSON *answers = cJSON_GetObjectItemCaseSensitive(in, "answers");
    const cJSON *it;
    if (answers && !cJSON_IsObject(answers)) {
        hh_api_error_set(&e, 400, "invalid_request_error", "invalid_use_case", "answers",
                         "answers must be an object of booleans");
        return ht_send_error(c, cs, &e);
    }
    cJSON_ArrayForEach(it, answers) {
        if (!cJSON_IsBool(it)) {
            hh_api_error_set(&e, 400, "invalid_request_error", "invalid_use_case", "answers",
                             "answer '%s' must be true or false", it->string);
            return ht_send_error(c, cs, &e);
        }
    }
    hh_reg_class_t cls;
    hh_register_classify(answers, &cls);
    hh_reg_policy_t pol;
    if (hh_register_policy_apply(&cls, cJSON_GetObjectItemCaseSensitive(in, "policy"), &pol, &err) != 0)
        return send_reg_error(c, cs, HH_EINVAL, &err);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "object", "use_case.classification");
    cJSON_AddStringToObject(j, "risk_class", hh_risk_name(cls.risk));
    cJSON *r = cJSON_AddArrayToObject(j, "reasons");
    for (size_t i = 0; i < cls.n_reasons; i++)
        cJSON_AddItemToArray(r, cJSON_CreateString(cls.reasons[i]));
    cJSON_AddBoolToObject(j, "hr", cls.annex_iii_4);
    cJSON_AddItemToObject(j, "effective_policy", hh_register_policy_json(&pol));
    return ht_send_json(c, cs, 200, j);
}

/* GET /api/usecases?records=md|html (admin, auditor): the GDPR Art. 30
 * records of processing of every stored use case (hh_register_ropa), the
 * document `hoheit register export` writes as records-of-processing.*. It
 * names every department's use cases, so only the roles that see the
 * whole register get it. */
/* The language of a generated document: ?lang=de|en, else the request's
 * Accept-Language (German when it names German first), else English.
 * 0, or 400 with e for another lang value. */
static int doc_lang(struct MHD_Connection *c, const char **lang, hh_api_error_t *e)
{
    const char *q = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "lang");
    if (q) {
        if (strcmp(q, "de") != 0 && strcmp(q, "en") != 0)
            return hh_api_error_set(e, 400, "invalid_request_error", "invalid_lang", "lang", "lang must be de or en");
        *lang = q;
        return 0;
    }
    hh_lang_t l = hh_kb_lang_from_accept(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept-Language"));
    *lang = l == HH_LANG_DE ? "de" : "en";
    return 0;
}

static enum MHD_Result send_records(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs,
                                    const char *format)
{
    hh_api_error_t e;
    hh_err_t err;
    hh_err_clear(&err);
    if (!sees_register(cs)) {
        hh_api_error_set(&e, 403, "permission_error", "forbidden", NULL,
                         "only admins and auditors may read the records of processing (role %s)", cs->key.role);
        return ht_send_error(c, cs, &e);
    }
    bool html = !strcmp(format, "html");
    if (!html && strcmp(format, "md") != 0) {
        hh_api_error_set(&e, 400, "invalid_request_error", NULL, "records", "records must be md or html");
        return ht_send_error(c, cs, &e);
    }
    const char *lang = "en";
    if (doc_lang(c, &lang, &e))
        return ht_send_error(c, cs, &e);
    char *text = NULL;
    int rc = hh_register_ropa(s->store, html ? HH_CARD_HTML : HH_CARD_MD, lang, &text, &err);
    if (rc)
        return send_reg_error(c, cs, rc, &err);
    return send_body(c, cs, 200, html ? "text/html; charset=utf-8" : "text/markdown; charset=utf-8", text);
}

/* The departments and collections a use-case body names must exist (as
 * `hoheit register add` checks): a typo would otherwise restrict the use
 * case to a department nobody is in, or name a collection that is not
 * there. Only the fields present in the body are checked (an update that
 * does not touch them is not refused for names deleted since). 0, or 400
 * (e filled: code unknown_department / unknown_collection, param the
 * field, every unknown name in the message), or 500. */
static int names_exist(hh_http_server_t *s, const cJSON *in, hh_api_error_t *e)
{
    static const char *const fields[2] = { "departments", "collections" };
    static const char *const codes[2] = { "unknown_department", "unknown_collection" };
    static const char *const lists[2] = { "hoheit departments list", "hoheit collections list" };
    for (int f = 0; f < 2; f++) {
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(in, fields[f]), *it;
        if (!cJSON_IsArray(arr))
            continue;   /* absent, or refused by hh_register_validate */
        char names[512] = "";
        size_t used = 0, n_unknown = 0;
        cJSON_ArrayForEach(it, arr) {
            if (!cJSON_IsString(it) || !it->valuestring[0])
                continue;   /* hh_register_validate refuses those */
            hh_err_t err;
            hh_err_clear(&err);
            hh_store_collection_t coll;
            int rc = f == 0 ? hh_store_department_get(s->store, it->valuestring, NULL, &err)
                            : hh_store_collection_get(s->store, it->valuestring, &coll, &err);
            if (rc == HH_ENOENT) {
                int w = snprintf(names + used, sizeof names - used, "%s'%s'", n_unknown ? ", " : "", it->valuestring);
                if (w > 0 && (size_t)w < sizeof names - used)
                    used += (size_t)w;
                n_unknown++;
            } else if (rc) {
                return hh_api_error_set(e, 500, "server_error", NULL, NULL, "%s", err.msg);
            }
        }
        if (n_unknown)
            return hh_api_error_set(e, 400, "invalid_request_error", codes[f], fields[f],
                                    "%s names %s that do%s not exist: %s (`%s` shows them; nothing was changed)",
                                    fields[f], n_unknown == 1 ? (f ? "a collection" : "a department")
                                                              : (f ? "collections" : "departments"),
                                    n_unknown == 1 ? "es" : "", names, lists[f]);
    }
    return 0;
}

enum MHD_Result ht_handle_usecases(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url)
{
    const char *method = cs->method;   /* changes are for admins (the route table) */
    hh_api_error_t e;
    hh_err_t err;
    hh_err_clear(&err);
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
        if (names_exist(s, in, &e)) {
            cJSON_Delete(in);
            return ht_send_error(c, cs, &e);
        }
    }
    hh_usecase_t u;
    memset(&u, 0, sizeof u);
    int rc;
    enum MHD_Result ok;
    if (!id && !strcmp(method, "POST") && MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "classify")) {
        ok = send_classification(c, cs, in);
        cJSON_Delete(in);
        return ok;
    }
    const char *records = !id && !strcmp(method, "GET")
                              ? MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "records")
                              : NULL;
    if (records)
        return send_records(s, c, cs, records);
    if (!id && !strcmp(method, "GET")) {
        hh_usecase_t *list = NULL;
        size_t n = 0;
        if ((rc = hh_register_list(s->store, &list, &n, &err)))
            return send_reg_error(c, cs, rc, &err);
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "object", "list");
        cJSON *data = cJSON_AddArrayToObject(j, "data");
        /* Admins manage and auditors review the whole register; everyone
         * else sees the use cases their departments let them use. */
        bool all = !strcmp(cs->key.role, "admin") || !strcmp(cs->key.role, "auditor");
        for (size_t i = 0; i < n; i++) {
            bool may_use = all;
            if (!all && (rc = hh_register_user_may_use(s->store, &list[i], cs->key.user_id, &may_use, &err))) {
                for (size_t k = i; k < n; k++)
                    hh_usecase_clear(&list[k]);
                free(list);
                cJSON_Delete(j);
                return send_reg_error(c, cs, rc, &err);
            }
            if (may_use)
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
        ht_audit_action(s, cs, "done", "register add %s (risk %s%s)", u.slug, hh_risk_name(u.cls.risk),
                        u.disabled ? "; disabled" : "");
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
        if ((rc = hh_register_get(s->store, id, &u, &err)))
            return send_reg_error(c, cs, rc, &err);
        int hidden = hide_foreign(s, cs, &u, id, NULL, &e);
        if (hidden) {
            hh_usecase_clear(&u);
            return ht_send_error(c, cs, &e);
        }
        const char *card = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "card");
        if (card) {
            hh_usecase_clear(&u);
            bool html = !strcmp(card, "html");
            if (!html && strcmp(card, "md") != 0) {
                hh_api_error_set(&e, 400, "invalid_request_error", NULL, "card", "card must be md or html");
                return ht_send_error(c, cs, &e);
            }
            const char *lang = "en";
            if (doc_lang(c, &lang, &e))
                return ht_send_error(c, cs, &e);
            char *text = NULL;
            if ((rc = hh_register_card(s->store, id, s->models_dir, html ? HH_CARD_HTML : HH_CARD_MD, lang, &text,
                                       &err)))
                return send_reg_error(c, cs, rc, &err);
            return send_body(c, cs, 200, html ? "text/html; charset=utf-8" : "text/markdown; charset=utf-8", text);
        }
        ok = ht_send_json(c, cs, 200, usecase_full(s->store, &u));
        hh_usecase_clear(&u);
        return ok;
    }
    if (!strcmp(method, "PUT")) {
        rc = hh_register_update(s->store, id, in, cs->key.user, &u, &err);
        cJSON_Delete(in);
        if (rc)
            return send_reg_error(c, cs, rc, &err);
        ht_audit_action(s, cs, "done", "register update %s (risk %s%s)", u.slug, hh_risk_name(u.cls.risk),
                        u.disabled ? "; disabled" : "");
        ok = ht_send_json(c, cs, 200, usecase_full(s->store, &u));
        hh_usecase_clear(&u);
        return ok;
    }
    cJSON_Delete(in);
    char slug[HH_REG_SLUG_MAX + 1];   /* the record names the slug also when the URL gave the id */
    snprintf(slug, sizeof slug, "%s", id);
    if (hh_register_get(s->store, id, &u, NULL) == 0) {
        snprintf(slug, sizeof slug, "%s", u.slug);
        hh_usecase_clear(&u);
    }
    if ((rc = hh_register_delete(s->store, id, cs->key.user, &err)))
        return send_reg_error(c, cs, rc, &err);
    ht_audit_action(s, cs, "done", "register delete %s", slug);
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
    cJSON_ArrayForEach(it, h)   /* use_case and conversation_id (conversations.c) ask for no grounding */
        if (strcmp(it->string, "use_case") != 0 && strcmp(it->string, "conversation_id") != 0)
            return true;
    return false;
}

/* The governance step shared by the generation routes: ucj is the
 * request's use-case field (param names it in errors), model NULL when no
 * model runs (extractive answers). */
static int select_use_case(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const cJSON *ucj,
                           const char *param, const char *model, hh_api_error_t *e)
{
    memset(&cs->mark, 0, sizeof cs->mark);
    const char *name = NULL;
    if (ucj && !cJSON_IsNull(ucj)) {
        if (!cJSON_IsString(ucj) || !ucj->valuestring[0])
            return hh_api_error_set(e, 400, "invalid_request_error", NULL, param, "%s must be a non-empty string",
                                    param);
        name = ucj->valuestring;
    } else {
        name = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Hoheit-Use-Case");
    }
    hh_usecase_t u;
    hh_err_t err;
    hh_err_clear(&err);
    int rc = hh_register_resolve(s->store, name, cs->key.id, cs->key.user_id, &u, &err);
    if (rc == HH_ENOENT || rc == HH_EINVAL)
        return hh_api_error_set(e, 404, "invalid_request_error", "use_case_not_found", param, "%s", err.msg);
    if (rc)
        return hh_api_error_set(e, 500, "server_error", NULL, NULL, "%s", err.msg);
    /* a name the client gave, of another department's use case: unknown
     * (a default set for this key or user is named as what it is) */
    int st = name ? hide_foreign(s, cs, &u, name, param, e) : 0;
    if (st) {
        snprintf(cs->mark.use_case, sizeof cs->mark.use_case, "%s", u.slug);   /* the audit names it */
        hh_usecase_clear(&u);
        return st;
    }
    bool may_use = false;
    if ((rc = hh_register_user_may_use(s->store, &u, cs->key.user_id, &may_use, &err))) {
        hh_usecase_clear(&u);
        return hh_api_error_set(e, 500, "server_error", NULL, NULL, "%s", err.msg);
    }
    if (u.policy.refused)
        st = hh_api_error_set(e, 403, "permission_error", "use_case_prohibited", param,
                              "Use case '%s' is a prohibited AI practice under Art. 5 of the EU AI Act; requests "
                              "under it are refused",
                              u.slug);
    else if (u.disabled)
        st = hh_api_error_set(e, 403, "permission_error", "use_case_disabled", param,
                              "Use case '%s' is disabled by the administrator; requests under it are refused",
                              u.slug);
    else if (!may_use)   /* admins too: departments decide who uses a use case */
        st = hh_api_error_set(e, 403, "permission_error", "use_case_forbidden", "hoheit.use_case",
                              "Use case '%s' is restricted to departments that user '%s' is not a member of",
                              u.slug, cs->key.user);
    else if (model && !hh_usecase_allows_model(&u, model))
        st = hh_api_error_set(e, 403, "permission_error", "model_not_allowed", "model",
                              "Use case '%s' does not allow model '%s'", u.slug, model);
    /* named even on a refusal: the audit record says which use case was refused */
    snprintf(cs->mark.use_case, sizeof cs->mark.use_case, "%s", u.slug);
    if (st == 0) {
        /* Art. 14: the answer is generated but held for a human (approvals.c) */
        cs->mark.held = u.policy.approval_required;
        cs->mark.hr = u.cls.annex_iii_4 || u.policy.approval_locked;
        cs->mark.redact_prompts = u.policy.redact_prompts;
        cs->mark.on = true;
        snprintf(cs->mark.model, sizeof cs->mark.model, "%s", model ? model : "");
    }
    hh_usecase_clear(&u);
    return st;
}

int ht_usecase_select(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const hh_openai_req_t *req,
                      hh_api_error_t *e)
{
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(req->root, "hoheit");
    return select_use_case(s, c, cs, cJSON_GetObjectItemCaseSensitive(h, "use_case"), "hoheit.use_case",
                           req->gen.model ? req->gen.model : "", e);
}

int ht_usecase_select_ask(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const cJSON *body,
                          const char *model, hh_api_error_t *e)
{
    return select_use_case(s, c, cs, cJSON_GetObjectItemCaseSensitive(body, "use_case"), "use_case", model, e);
}

/* ---- PII redaction of prompts ------------------------------------------ */

/* The redaction settings: every kind, placeholders, and the names list of
 * the data dir if there is one (*names: caller frees with hh_pii_names_free). */
static int redact_config(hh_http_server_t *s, hh_pii_config_t *cfg, char ***names, size_t *n_names,
                         hh_api_error_t *e)
{
    hh_pii_default_config(cfg);
    *names = NULL;
    *n_names = 0;
    const char *dir = s->store ? hh_store_data_dir(s->store) : NULL;
    char path[4096];
    struct stat sb;
    if (!dir || snprintf(path, sizeof path, "%s/%s", dir, UC_PII_NAMES) >= (int)sizeof path || stat(path, &sb) != 0)
        return 0;
    hh_err_t err;
    hh_err_clear(&err);
    if (hh_pii_names_load(path, names, n_names, &err) != 0)
        return hh_api_error_set(e, 500, "server_error", NULL, NULL, "PII names list %s: %s", path, err.msg);
    cfg->names = (const char *const *)*names;
    cfg->n_names = *n_names;
    return 0;
}

/* Redacts text with cfg and counts the spans into m. */
static int redact_one(const hh_pii_config_t *cfg, const char *text, char **out, ht_mark_t *m, hh_api_error_t *e)
{
    size_t len = strlen(text), n = 0, out_len = 0;
    hh_pii_span_t *spans = NULL;
    int rc = hh_pii_find(text, len, cfg, &spans, &n);
    if (rc == 0)
        rc = hh_pii_redact(text, len, cfg, out, &out_len);
    if (rc) {
        free(spans);
        return hh_api_error_set(e, 500, "server_error", NULL, NULL, "PII redaction failed: %s", hh_strerror(rc));
    }
    for (size_t i = 0; i < n; i++)
        if ((unsigned)spans[i].kind < HH_PII_KIND_COUNT)
            m->redacted[spans[i].kind]++;
    free(spans);
    m->prompt_redacted = true;
    return 0;
}

/* Replaces the string item j (in its parent) by its redaction. */
static int redact_item(const hh_pii_config_t *cfg, cJSON *j, ht_mark_t *m, hh_api_error_t *e)
{
    if (!cJSON_IsString(j))
        return 0;
    char *red = NULL;
    int st = redact_one(cfg, j->valuestring, &red, m, e);
    if (st)
        return st;
    bool ok = cJSON_SetValuestring(j, red) != NULL;
    free(red);
    return ok ? 0 : hh_api_error_set(e, 500, "server_error", NULL, NULL, "out of memory");
}

int ht_redact_text(hh_http_server_t *s, const char *text, char **out, ht_mark_t *m, hh_api_error_t *e)
{
    *out = NULL;
    hh_pii_config_t cfg;
    char **names = NULL;
    size_t n_names = 0;
    int st = redact_config(s, &cfg, &names, &n_names, e);
    if (st == 0)
        st = redact_one(&cfg, text ? text : "", out, m, e);
    hh_pii_names_free(names, n_names);
    return st;
}

int ht_redact_request(hh_http_server_t *s, hh_openai_req_t *req, ht_mark_t *m, hh_api_error_t *e)
{
    hh_pii_config_t cfg;
    char **names = NULL;
    size_t n_names = 0;
    cJSON *root = NULL;
    char *text = NULL;
    int st = redact_config(s, &cfg, &names, &n_names, e);
    if (st)
        goto cleanup;
    root = cJSON_Duplicate(req->root, true);
    if (!root) {
        st = hh_api_error_set(e, 500, "server_error", NULL, NULL, "out of memory");
        goto cleanup;
    }
    cJSON *it;
    if (req->kind == HH_OPENAI_CHAT) {
        /* every message: personal data the user typed comes back in
         * assistant turns and tool results too */
        cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(root, "messages")) {
            cJSON *content = cJSON_GetObjectItemCaseSensitive(it, "content");
            if (cJSON_IsString(content)) {
                st = redact_item(&cfg, content, m, e);
            } else if (cJSON_IsArray(content)) {
                cJSON *part;
                cJSON_ArrayForEach(part, content) {
                    if ((st = redact_item(&cfg, cJSON_GetObjectItemCaseSensitive(part, "text"), m, e)))
                        break;
                }
            }
            if (st)
                goto cleanup;
        }
    } else {
        cJSON *p = cJSON_GetObjectItemCaseSensitive(root, "prompt");
        if (cJSON_IsString(p))
            st = redact_item(&cfg, p, m, e);
        else
            cJSON_ArrayForEach(it, p) {
                if ((st = redact_item(&cfg, it, m, e)))
                    break;
            }
        if (st)
            goto cleanup;
    }
    text = cJSON_PrintUnformatted(root);
    if (!text) {
        st = hh_api_error_set(e, 500, "server_error", NULL, NULL, "out of memory");
        goto cleanup;
    }
    /* Parsed in place: the request points into itself (gen.stop). */
    hh_openai_kind_t kind = req->kind;
    hh_openai_req_free(req);
    if (hh_openai_parse(kind, text, strlen(text), req, e) != 0)
        st = e->status;
cleanup:
    cJSON_free(text);
    cJSON_Delete(root);
    hh_pii_names_free(names, n_names);
    return st;
}
