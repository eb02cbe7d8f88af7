/* def.c - agent definitions: checking, JSON, who may run them (def.h). */
#include "agent/def.h"
#include "agent/tools.h"
#include "govern/register.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool name_ok(const char *n)
{
    size_t len = strlen(n);
    if (len == 0 || len >= HH_AGENT_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = n[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || (c != '-' && c != '_')))
            return false;
    }
    return true;
}

/* An optional integer field lo..hi into *v (unchanged when missing). */
static int get_int(const cJSON *in, const char *k, int64_t lo, int64_t hi, int64_t *v, hh_err_t *err)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(in, k);
    if (!j || cJSON_IsNull(j))
        return 0;
    if (!cJSON_IsNumber(j) || !(j->valuedouble >= (double)lo && j->valuedouble <= (double)hi) ||
        j->valuedouble != (double)(int64_t)j->valuedouble)
        return hh_err_set(err, HH_EINVAL, -1, "%s must be a whole number %lld..%lld", k, (long long)lo,
                          (long long)hi);
    *v = (int64_t)j->valuedouble;
    return 0;
}

/* An optional array of distinct names, each checked by ok (what: the
 * message's word for a bad one), as compact JSON text into *out (owned):
 * the given one, else dflt copied. */
static int get_names(hh_store_t *s, const hh_agent_conf_t *conf, const cJSON *in, const char *k, const char *dflt,
                     char **out, hh_err_t *err)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(in, k);
    if (!j || cJSON_IsNull(j)) {
        *out = strdup(dflt ? dflt : "[]");
        return *out ? 0 : hh_err_set(err, HH_ENOMEM, -1, "out of memory");
    }
    if (!cJSON_IsArray(j) || cJSON_GetArraySize(j) > 32)
        return hh_err_set(err, HH_EINVAL, -1, "%s must be an array of at most 32 names", k);
    cJSON *norm = cJSON_CreateArray();
    const cJSON *it;
    int rc = 0;
    cJSON_ArrayForEach(it, j) {
        if (!cJSON_IsString(it) || !it->valuestring[0] || strlen(it->valuestring) >= HH_STORE_NAME_MAX) {
            rc = hh_err_set(err, HH_EINVAL, -1, "%s must hold non-empty names", k);
            break;
        }
        const char *v = it->valuestring;
        for (const cJSON *p = j->child; p != it; p = p->next)
            if (!strcmp(p->valuestring, v))
                rc = hh_err_set(err, HH_EINVAL, -1, "%s names '%s' twice", k, v);
        if (rc)
            break;
        if (!strcmp(k, "tools") && !hh_agent_tool_known(v)) {
            rc = hh_err_set(err, HH_EINVAL, -1, "tools: '%s' is not a built-in tool (%s)", v, hh_agent_tool_names());
        } else if ((!strcmp(k, "connections") || !strcmp(k, "endpoints")) && !hh_agent_conf_name_ok(v)) {
            rc = hh_err_set(err, HH_EINVAL, -1, "%s: '%s' is not a name (a-z, 0-9, '-', '_')", k, v);
        } else if (conf && !strcmp(k, "connections") && !hh_agent_conf_db(conf, v)) {
            rc = hh_err_set(err, HH_EINVAL, -1, "connections: no connection '%s' is configured (hoheit serve --agent-db)",
                            v);
        } else if (conf && !strcmp(k, "endpoints") && !hh_agent_conf_endpoint(conf, v)) {
            rc = hh_err_set(err, HH_EINVAL, -1, "endpoints: no endpoint '%s' is configured (hoheit serve --agent-http)",
                            v);
        } else if (!strcmp(k, "roles") && !hh_store_role_valid(v)) {
            rc = hh_err_set(err, HH_EINVAL, -1, "roles: '%s' is not a role (admin, member, auditor, approver)", v);
        } else if (!strcmp(k, "departments")) {
            hh_store_department_t d;
            hh_err_t e2;
            int r2 = hh_store_department_get(s, v, &d, &e2);
            if (r2 == HH_ENOENT)
                rc = hh_err_set(err, HH_EINVAL, -1, "departments: no department '%s'", v);
            else if (r2)
                rc = hh_err_set(err, r2, -1, "%s", e2.msg);
            else
                v = d.name;   /* the department's own spelling */
            if (!rc)
                cJSON_AddItemToArray(norm, cJSON_CreateString(v));
            continue;
        }
        if (rc)
            break;
        cJSON_AddItemToArray(norm, cJSON_CreateString(v));
    }
    if (!rc && !(*out = cJSON_PrintUnformatted(norm)))
        rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory");
    cJSON_Delete(norm);
    return rc;
}

int hh_agent_def_check(hh_store_t *s, const hh_agent_conf_t *conf, const cJSON *in, const hh_store_agent_t *base,
                       const char *name_in_path, hh_store_agent_t *out, hh_err_t *err)
{
    memset(out, 0, sizeof *out);
    if (!cJSON_IsObject(in))
        return hh_err_set(err, HH_EINVAL, -1, "the agent must be a JSON object");
    static const char *const known[] = { "name", "model", "system_prompt", "tools", "max_steps", "max_tokens",
                                         "max_seconds", "use_case", "departments", "roles", "connections",
                                         "endpoints",
                                         /* read-only fields a client may send back unchanged */
                                         "created_by", "created_at", "updated_at" };
    const cJSON *it;
    cJSON_ArrayForEach(it, in) {
        bool ok = false;
        for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
            ok = ok || !strcmp(it->string, known[i]);
        if (!ok)
            return hh_err_set(err, HH_EINVAL, -1, "unknown field '%s'", it->string);
    }
    const cJSON *nj = cJSON_GetObjectItemCaseSensitive(in, "name");
    const char *name = name_in_path;
    if (nj && !cJSON_IsNull(nj)) {
        if (!cJSON_IsString(nj))
            return hh_err_set(err, HH_EINVAL, -1, "name must be a string");
        if (name_in_path && strcmp(nj->valuestring, name_in_path))
            return hh_err_set(err, HH_EINVAL, -1, "name '%s' differs from the agent named '%s' (names cannot change)",
                              nj->valuestring, name_in_path);
        name = nj->valuestring;
    }
    if (!name)
        return hh_err_set(err, HH_EINVAL, -1, "name is required");
    if (!name_ok(name))
        return hh_err_set(err, HH_EINVAL, -1,
                          "name must be 1..%d of a-z, 0-9, '-' and '_', starting with a letter or digit",
                          HH_AGENT_NAME_MAX - 1);
    snprintf(out->name, sizeof out->name, "%s", name);

    const cJSON *mj = cJSON_GetObjectItemCaseSensitive(in, "model");
    if (mj && !cJSON_IsNull(mj)) {
        if (!cJSON_IsString(mj) || !mj->valuestring[0] || strlen(mj->valuestring) >= sizeof out->model ||
            strchr(mj->valuestring, '/'))
            return hh_err_set(err, HH_EINVAL, -1, "model must be a model id (1..255 bytes, no '/')");
        snprintf(out->model, sizeof out->model, "%s", mj->valuestring);
    } else if (base) {
        snprintf(out->model, sizeof out->model, "%s", base->model);
    } else {
        return hh_err_set(err, HH_EINVAL, -1, "model is required");
    }

    int rc = 0;
    const cJSON *sp = cJSON_GetObjectItemCaseSensitive(in, "system_prompt");
    if (sp && !cJSON_IsNull(sp)) {
        if (!cJSON_IsString(sp) || strlen(sp->valuestring) > HH_AGENT_PROMPT_MAX)
            return hh_err_set(err, HH_EINVAL, -1, "system_prompt must be a string of at most %d bytes",
                              HH_AGENT_PROMPT_MAX);
        out->system_prompt = strdup(sp->valuestring);
    } else {
        out->system_prompt = strdup(base && base->system_prompt ? base->system_prompt : "");
    }
    if (!out->system_prompt) {
        rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory");
        goto fail;
    }
    out->max_steps = base ? base->max_steps : HH_AGENT_DEFAULT_STEPS;
    out->max_tokens = base ? base->max_tokens : HH_AGENT_DEFAULT_TOKENS;
    out->max_seconds = base ? base->max_seconds : HH_AGENT_DEFAULT_SECONDS;
    if ((rc = get_int(in, "max_steps", 1, HH_AGENT_MAX_STEPS, &out->max_steps, err)) ||
        (rc = get_int(in, "max_tokens", 1, HH_AGENT_MAX_TOKENS, &out->max_tokens, err)) ||
        (rc = get_int(in, "max_seconds", 1, HH_AGENT_MAX_SECONDS, &out->max_seconds, err)))
        goto fail;
    if ((rc = get_names(s, conf, in, "tools", base ? base->tools : NULL, &out->tools, err)) ||
        (rc = get_names(s, conf, in, "departments", base ? base->departments : NULL, &out->departments, err)) ||
        (rc = get_names(s, conf, in, "roles", base ? base->roles : NULL, &out->roles, err)) ||
        (rc = get_names(s, conf, in, "connections", base ? base->connections : NULL, &out->connections, err)) ||
        (rc = get_names(s, conf, in, "endpoints", base ? base->endpoints : NULL, &out->endpoints, err)))
        goto fail;
    /* a tool that reaches out needs something to reach */
    if (hh_agent_name_listed(out->tools, "sql_query") && !strcmp(out->connections, "[]")) {
        rc = hh_err_set(err, HH_EINVAL, -1, "tools: sql_query needs connections (the database connections it may use)");
        goto fail;
    }
    if (hh_agent_name_listed(out->tools, "http_request") && !strcmp(out->endpoints, "[]")) {
        rc = hh_err_set(err, HH_EINVAL, -1, "tools: http_request needs endpoints (the HTTP endpoints it may use)");
        goto fail;
    }

    const cJSON *uj = cJSON_GetObjectItemCaseSensitive(in, "use_case");
    const char *uc = base ? base->use_case : "general";
    if (uj && !cJSON_IsNull(uj)) {
        if (!cJSON_IsString(uj) || !uj->valuestring[0]) {
            rc = hh_err_set(err, HH_EINVAL, -1, "use_case must be the slug of a use case");
            goto fail;
        }
        uc = uj->valuestring;
    }
    hh_usecase_t u;
    memset(&u, 0, sizeof u);
    hh_err_t e2;
    int r2 = hh_register_get(s, uc, &u, &e2);
    if (r2 == HH_ENOENT) {
        rc = hh_err_set(err, HH_EINVAL, -1, "use_case: no use case '%s' in the register", uc);
        goto fail;
    }
    if (r2) {
        rc = hh_err_set(err, r2, -1, "%s", e2.msg);
        goto fail;
    }
    snprintf(out->use_case, sizeof out->use_case, "%s", u.slug);
    hh_usecase_clear(&u);
    if (base) {
        snprintf(out->created_by, sizeof out->created_by, "%s", base->created_by);
        out->created_at = base->created_at;
        out->id = base->id;
    }
    return 0;
fail:
    hh_store_agent_clear(out);
    return rc;
}

cJSON *hh_agent_def_json(const hh_store_agent_t *a)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "name", a->name);
    cJSON_AddStringToObject(o, "model", a->model);
    cJSON_AddStringToObject(o, "system_prompt", a->system_prompt ? a->system_prompt : "");
    cJSON *t = cJSON_Parse(a->tools ? a->tools : "[]");
    cJSON_AddItemToObject(o, "tools", t ? t : cJSON_CreateArray());
    cJSON_AddNumberToObject(o, "max_steps", (double)a->max_steps);
    cJSON_AddNumberToObject(o, "max_tokens", (double)a->max_tokens);
    cJSON_AddNumberToObject(o, "max_seconds", (double)a->max_seconds);
    cJSON_AddStringToObject(o, "use_case", a->use_case);
    cJSON *d = cJSON_Parse(a->departments ? a->departments : "[]");
    cJSON_AddItemToObject(o, "departments", d ? d : cJSON_CreateArray());
    cJSON *r = cJSON_Parse(a->roles ? a->roles : "[]");
    cJSON_AddItemToObject(o, "roles", r ? r : cJSON_CreateArray());
    cJSON *cn = cJSON_Parse(a->connections ? a->connections : "[]");
    cJSON_AddItemToObject(o, "connections", cn ? cn : cJSON_CreateArray());
    cJSON *ep = cJSON_Parse(a->endpoints ? a->endpoints : "[]");
    cJSON_AddItemToObject(o, "endpoints", ep ? ep : cJSON_CreateArray());
    cJSON_AddStringToObject(o, "created_by", a->created_by);
    cJSON_AddNumberToObject(o, "created_at", (double)a->created_at);
    cJSON_AddNumberToObject(o, "updated_at", (double)a->updated_at);
    return o;
}

int hh_agent_may_run(hh_store_t *s, const hh_store_agent_t *a, int64_t user_id, const char *role, bool *ok,
                     hh_err_t *err)
{
    *ok = false;
    cJSON *roles = cJSON_Parse(a->roles ? a->roles : "[]");
    cJSON *depts = cJSON_Parse(a->departments ? a->departments : "[]");
    int rc = 0;
    bool role_ok = cJSON_GetArraySize(roles) == 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, roles)
        role_ok = role_ok || (cJSON_IsString(it) && role && !strcmp(it->valuestring, role));
    int nd = cJSON_GetArraySize(depts);
    bool dept_ok = nd == 0;
    if (!dept_ok) {
        const char **names = calloc((size_t)nd, sizeof *names);
        size_t k = 0;
        cJSON_ArrayForEach(it, depts)
            if (names && cJSON_IsString(it))
                names[k++] = it->valuestring;
        rc = names ? hh_store_user_in_department(s, user_id, names, k, &dept_ok, err)
                   : hh_err_set(err, HH_ENOMEM, -1, "out of memory");
        free(names);
    }
    cJSON_Delete(roles);
    cJSON_Delete(depts);
    if (!rc)
        *ok = role_ok && dept_ok;
    return rc;
}
