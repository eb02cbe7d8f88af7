/* agents_api.c - agent definitions over HTTP and the record of a run
 * (issue 16; docs/SERVER.md "Agents"):
 *
 *   GET    /api/agents              the agents the caller may run (admins and
 *                                   auditors: all)
 *   POST   /api/agents              admin: a new definition (agent/def.h) -> 201
 *   GET    /api/agents/{name}       one (another's agent answers like a missing one)
 *   PUT    /api/agents/{name}       admin: replaces the fields the body names
 *   DELETE /api/agents/{name}       admin: removes it (its runs stay)
 *   GET    /api/agents/runs/{id}    a run of /v1/responses with every step:
 *                                   the user who ran it, admins and auditors;
 *                                   anyone else gets exactly the answer of a
 *                                   missing run; a run held for approval
 *                                   shows its owner no output or step
 *
 * Every change and every refused change is an "admin" audit record. */
#include "http/http_int.h"
#include "agent/def.h"
#include "govern/register.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AGENTS_PREFIX "/api/agents/"
#define RUNS_PREFIX "/api/agents/runs/"

static bool sees_all(const ht_conn_t *cs)
{
    return !strcmp(cs->key.role, "admin") || !strcmp(cs->key.role, "auditor");
}

static enum MHD_Result fail(struct MHD_Connection *c, ht_conn_t *cs, int status, const char *code, const char *param,
                            const char *msg)
{
    hh_api_error_t e;
    hh_api_error_set(&e, status, status >= 500 ? "server_error" : status == 403 ? "permission_error"
                                                                                : "invalid_request_error",
                     code, param, "%s", msg);
    return ht_send_error(c, cs, &e);
}

static enum MHD_Result not_found(struct MHD_Connection *c, ht_conn_t *cs, const char *name)
{
    char msg[160];
    snprintf(msg, sizeof msg, "no agent '%.100s'", name);
    return fail(c, cs, 404, "agent_not_found", NULL, msg);
}

int ht_agent_may_run(hh_http_server_t *s, const ht_conn_t *cs, const hh_store_agent_t *a, bool *ok,
                     hh_api_error_t *e)
{
    *ok = false;
    hh_err_t err;
    hh_err_clear(&err);
    bool by_def = false, by_uc = false;
    if (hh_agent_may_run(s->store, a, cs->key.user_id, cs->key.role, &by_def, &err))
        return hh_api_error_set(e, 500, "server_error", NULL, NULL, "%s", err.msg);
    /* the use case's departments apply as well (the run is refused under it otherwise) */
    hh_usecase_t u;
    memset(&u, 0, sizeof u);
    int rc = hh_register_get(s->store, a->use_case, &u, &err);
    if (rc == 0)
        rc = hh_register_user_may_use(s->store, &u, cs->key.user_id, &by_uc, &err);
    hh_usecase_clear(&u);
    if (rc && rc != HH_ENOENT)
        return hh_api_error_set(e, 500, "server_error", NULL, NULL, "%s", err.msg);
    *ok = by_def && by_uc;
    return 0;
}

/* Whether the caller sees agent a (lists it, reads it): admins and
 * auditors all, others those they may run. */
static int visible(hh_http_server_t *s, const ht_conn_t *cs, const hh_store_agent_t *a, bool *ok, hh_api_error_t *e)
{
    if (sees_all(cs)) {
        *ok = true;
        return 0;
    }
    return ht_agent_may_run(s, cs, a, ok, e);
}

static enum MHD_Result list_agents(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs)
{
    hh_store_agent_t *a = NULL;
    size_t n = 0;
    hh_err_t err;
    hh_err_clear(&err);
    if (hh_store_agent_list(s->store, &a, &n, &err))
        return fail(c, cs, 500, NULL, NULL, err.msg);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "object", "list");
    cJSON *arr = cJSON_AddArrayToObject(j, "data");
    for (size_t i = 0; i < n; i++) {
        bool ok = false;
        hh_api_error_t e;
        if (visible(s, cs, &a[i], &ok, &e)) {
            hh_store_agent_list_free(a, n);
            cJSON_Delete(j);
            return ht_send_error(c, cs, &e);
        }
        if (ok)
            cJSON_AddItemToArray(arr, hh_agent_def_json(&a[i]));
    }
    hh_store_agent_list_free(a, n);
    return ht_send_json(c, cs, 200, j);
}

/* POST (name NULL) or PUT name: check, store, audit. */
static enum MHD_Result put_agent(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *name)
{
    bool create = name == NULL;
    cJSON *in = cJSON_ParseWithLength(cs->body ? cs->body : "", cs->len);
    hh_store_agent_t base, a;
    memset(&base, 0, sizeof base);
    memset(&a, 0, sizeof a);
    hh_err_t err;
    hh_err_clear(&err);
    enum MHD_Result r;
    int rc = 0;
    if (!cJSON_IsObject(in)) {
        r = fail(c, cs, 400, "invalid_json", NULL, "the body must be a JSON object");
        goto done;
    }
    if (!create && (rc = hh_store_agent_get(s->store, name, &base, &err))) {
        r = rc == HH_ENOENT ? not_found(c, cs, name) : fail(c, cs, 500, NULL, NULL, err.msg);
        goto done;
    }
    if ((rc = hh_agent_def_check(s->store, s->agent_conf, in, create ? NULL : &base, name, &a, &err))) {
        const cJSON *nj = cJSON_GetObjectItemCaseSensitive(in, "name");
        ht_audit_action(s, cs, "refused", "agent %s %.64s: %s", create ? "create" : "update",
                        name ? name : cJSON_IsString(nj) ? nj->valuestring : "", err.msg);
        r = fail(c, cs, rc == HH_EINVAL ? 400 : 500, rc == HH_EINVAL ? "invalid_agent" : NULL, NULL, err.msg);
        goto done;
    }
    if (create)
        snprintf(a.created_by, sizeof a.created_by, "%s", cs->key.user);
    if ((rc = hh_store_agent_put(s->store, &a, create, &err))) {
        ht_audit_action(s, cs, "refused", "agent %s %s: %s", create ? "create" : "update", a.name, err.msg);
        r = rc == HH_ESTATE ? fail(c, cs, 409, "agent_exists", "name", err.msg)
                            : fail(c, cs, rc == HH_ENOENT ? 404 : 500, NULL, NULL, err.msg);
        goto done;
    }
    ht_audit_action(s, cs, "done",
                    "agent %s %s model=%s use_case=%s tools=%s departments=%s roles=%s connections=%s endpoints=%s",
                    create ? "create" : "update", a.name, a.model, a.use_case, a.tools, a.departments, a.roles,
                    a.connections, a.endpoints);
    char stored[HH_AGENT_NAME_MAX];
    snprintf(stored, sizeof stored, "%s", a.name);
    hh_store_agent_clear(&a);
    if ((rc = hh_store_agent_get(s->store, stored, &a, &err)))
        r = fail(c, cs, 500, NULL, NULL, err.msg);
    else
        r = ht_send_json(c, cs, create ? 201 : 200, hh_agent_def_json(&a));
done:
    hh_store_agent_clear(&base);
    hh_store_agent_clear(&a);
    cJSON_Delete(in);
    return r;
}

/* ---- a run's record ---------------------------------------------------------- */

static cJSON *parse_or(const char *text, bool array)
{
    cJSON *j = cJSON_Parse(text ? text : "");
    return j ? j : array ? cJSON_CreateArray() : cJSON_CreateObject();
}

static enum MHD_Result get_run(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *id)
{
    hh_store_agent_run_t run;
    hh_err_t err;
    hh_err_clear(&err);
    int rc = hh_store_agent_run_get(s->store, id, &run, &err);
    /* another user's run answers exactly like a missing one */
    if (rc == HH_ENOENT || (rc == 0 && run.user_id != cs->key.user_id && !sees_all(cs))) {
        if (rc == 0)
            hh_store_agent_run_clear(&run);
        char msg[160];
        snprintf(msg, sizeof msg, "no run '%.100s'", id);
        return fail(c, cs, 404, "run_not_found", NULL, msg);
    }
    if (rc)
        return fail(c, cs, 500, NULL, NULL, err.msg);
    hh_store_agent_step_t *st = NULL;
    size_t n = 0;
    if ((rc = hh_store_agent_steps(s->store, id, &st, &n, &err))) {
        hh_store_agent_run_clear(&run);
        return fail(c, cs, 500, NULL, NULL, err.msg);
    }
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "id", run.id);
    cJSON_AddStringToObject(j, "object", "agent.run");
    if (run.agent[0])
        cJSON_AddStringToObject(j, "agent", run.agent);
    else
        cJSON_AddNullToObject(j, "agent");
    cJSON_AddStringToObject(j, "model", run.model);
    cJSON_AddStringToObject(j, "use_case", run.use_case);
    if (run.previous_id[0])
        cJSON_AddStringToObject(j, "previous_response_id", run.previous_id);
    else
        cJSON_AddNullToObject(j, "previous_response_id");
    cJSON_AddStringToObject(j, "status", run.status);
    if (run.reason[0])
        cJSON_AddStringToObject(j, "reason", run.reason);
    else
        cJSON_AddNullToObject(j, "reason");
    cJSON_AddNumberToObject(j, "created_at", (double)run.created_at);
    cJSON_AddNumberToObject(j, "finished_at", (double)run.finished_at);
    cJSON *u = cJSON_AddObjectToObject(j, "usage");
    cJSON_AddNumberToObject(u, "input_tokens", (double)run.prompt_tokens);
    cJSON_AddNumberToObject(u, "output_tokens", (double)run.completion_tokens);
    cJSON_AddNumberToObject(u, "total_tokens", (double)(run.prompt_tokens + run.completion_tokens));
    cJSON_AddItemToObject(j, "request", parse_or(run.request, false));
    /* a held run's answer is the approval's to release (approvals.c): its
     * owner sees neither the output nor the steps that hold it */
    bool hidden = !strcmp(run.status, "held") && !sees_all(cs);
    cJSON_AddItemToObject(j, "output", hidden ? cJSON_CreateArray() : parse_or(run.output, true));
    cJSON *steps = cJSON_AddArrayToObject(j, "steps");
    for (size_t i = 0; !hidden && i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "seq", (double)st[i].seq);
        cJSON_AddStringToObject(o, "kind", st[i].kind);
        cJSON_AddStringToObject(o, "name", st[i].name);
        if (st[i].call_id[0])
            cJSON_AddStringToObject(o, "call_id", st[i].call_id);
        cJSON_AddStringToObject(o, "arguments", st[i].arguments);
        cJSON_AddStringToObject(o, "result", st[i].result);
        cJSON_AddNumberToObject(o, "result_bytes", (double)st[i].result_bytes);
        if (st[i].error[0])
            cJSON_AddStringToObject(o, "error", st[i].error);
        else
            cJSON_AddNullToObject(o, "error");
        cJSON_AddNumberToObject(o, "prompt_tokens", (double)st[i].prompt_tokens);
        cJSON_AddNumberToObject(o, "completion_tokens", (double)st[i].completion_tokens);
        cJSON_AddNumberToObject(o, "duration_ms", (double)st[i].duration_ms);
        cJSON_AddNumberToObject(o, "created_at", (double)st[i].created_at);
        cJSON_AddItemToArray(steps, o);
    }
    hh_store_agent_steps_free(st, n);
    hh_store_agent_run_clear(&run);
    return ht_send_json(c, cs, 200, j);
}

enum MHD_Result ht_handle_agent_run(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url)
{
    return get_run(s, c, cs, url + strlen(RUNS_PREFIX));
}

enum MHD_Result ht_handle_agents(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url)
{
    const char *m = !strcmp(cs->method, "HEAD") ? "GET" : cs->method;
    bool one = !strncmp(url, AGENTS_PREFIX, strlen(AGENTS_PREFIX));
    const char *name = one ? url + strlen(AGENTS_PREFIX) : NULL;
    if (!one)
        return !strcmp(m, "GET") ? list_agents(s, c, cs) : put_agent(s, c, cs, NULL);
    if (!strcmp(m, "PUT"))
        return put_agent(s, c, cs, name);
    hh_store_agent_t a;
    hh_err_t err;
    hh_err_clear(&err);
    int rc = hh_store_agent_get(s->store, name, &a, &err);
    if (rc == HH_ENOENT)
        return not_found(c, cs, name);
    if (rc)
        return fail(c, cs, 500, NULL, NULL, err.msg);
    enum MHD_Result r;
    if (!strcmp(m, "DELETE")) {
        if ((rc = hh_store_agent_delete(s->store, name, &err))) {
            r = fail(c, cs, rc == HH_ENOENT ? 404 : 500, NULL, NULL, err.msg);
        } else {
            ht_audit_action(s, cs, "done", "agent delete %s", name);
            cJSON *j = cJSON_CreateObject();
            cJSON_AddStringToObject(j, "name", name);
            cJSON_AddBoolToObject(j, "deleted", true);
            r = ht_send_json(c, cs, 200, j);
        }
    } else {
        bool ok = false;
        hh_api_error_t e;
        if (visible(s, cs, &a, &ok, &e))
            r = ht_send_error(c, cs, &e);
        else if (!ok)   /* exactly the missing agent's answer */
            r = not_found(c, cs, name);
        else
            r = ht_send_json(c, cs, 200, hh_agent_def_json(&a));
    }
    hh_store_agent_clear(&a);
    return r;
}
