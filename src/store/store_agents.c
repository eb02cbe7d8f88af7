/* store_agents.c - agent definitions, the runs of /v1/responses and their
 * steps (migration 15; contracts in store.h "agents").
 *
 * The connections and endpoints an agent may use (issue 16, no migration
 * of their own) share the tools column: a definition that names any is
 * stored there as {"tools": [...], "connections": [...], "endpoints":
 * [...]}; one that names none as the plain tools array, as before. */
#include "store/store_int.h"
#include "base/log.h"

#include <cjson/cJSON.h>

#include <stdlib.h>
#include <string.h>

static char *col_dup(sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    return strdup(t ? (const char *)t : "");
}

static void bind_text(sqlite3_stmt *st, int i, const char *v, const char *dflt)
{
    sqlite3_bind_text(st, i, v ? v : dflt, -1, SQLITE_TRANSIENT);
}

/* ---- definitions --------------------------------------------------------- */

void hh_store_agent_clear(hh_store_agent_t *a)
{
    if (!a)
        return;
    free(a->system_prompt);
    free(a->tools);
    free(a->departments);
    free(a->roles);
    free(a->connections);
    free(a->endpoints);
    memset(a, 0, sizeof *a);
}

void hh_store_agent_list_free(hh_store_agent_t *a, size_t n)
{
    for (size_t i = 0; a && i < n; i++)
        hh_store_agent_clear(&a[i]);
    free(a);
}

#define AGENT_COLS                                                                                            \
    "id, name, model, system_prompt, tools, max_steps, max_tokens, max_seconds, use_case, departments, roles, " \
    "created_by, created_at, updated_at"

/* An array member k of the packed tools column o, as text ("[]" when absent). */
static char *packed_part(const cJSON *o, const char *k)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsArray(a) ? cJSON_PrintUnformatted(a) : strdup("[]");
}

/* The tools column: the tools array, or the packed object (file comment). */
static void read_tools(sqlite3_stmt *st, int col, hh_store_agent_t *a)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    if (t && t[0] == '{') {
        cJSON *o = cJSON_Parse((const char *)t);
        if (o) {
            a->tools = packed_part(o, "tools");
            a->connections = packed_part(o, "connections");
            a->endpoints = packed_part(o, "endpoints");
            cJSON_Delete(o);
            return;
        }
    }
    a->tools = strdup(t ? (const char *)t : "[]");
    a->connections = strdup("[]");
    a->endpoints = strdup("[]");
}

/* The text stored in the tools column (malloc'd), NULL on no memory. */
static char *tools_column(const hh_store_agent_t *a)
{
    bool none = (!a->connections || !strcmp(a->connections, "[]")) && (!a->endpoints || !strcmp(a->endpoints, "[]"));
    if (none)
        return strdup(a->tools ? a->tools : "[]");
    cJSON *o = cJSON_CreateObject();
    cJSON *t = cJSON_Parse(a->tools ? a->tools : "[]"), *c = cJSON_Parse(a->connections ? a->connections : "[]"),
          *e = cJSON_Parse(a->endpoints ? a->endpoints : "[]");
    cJSON_AddItemToObject(o, "tools", t ? t : cJSON_CreateArray());
    cJSON_AddItemToObject(o, "connections", c ? c : cJSON_CreateArray());
    cJSON_AddItemToObject(o, "endpoints", e ? e : cJSON_CreateArray());
    char *txt = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return txt;
}

static void read_agent(sqlite3_stmt *st, void *out)
{
    hh_store_agent_t *a = out;
    memset(a, 0, sizeof *a);
    a->id = sqlite3_column_int64(st, 0);
    hh_store_copy_col(a->name, sizeof a->name, st, 1);
    hh_store_copy_col(a->model, sizeof a->model, st, 2);
    a->system_prompt = col_dup(st, 3);
    read_tools(st, 4, a);
    a->max_steps = sqlite3_column_int64(st, 5);
    a->max_tokens = sqlite3_column_int64(st, 6);
    a->max_seconds = sqlite3_column_int64(st, 7);
    hh_store_copy_col(a->use_case, sizeof a->use_case, st, 8);
    a->departments = col_dup(st, 9);
    a->roles = col_dup(st, 10);
    hh_store_copy_col(a->created_by, sizeof a->created_by, st, 11);
    a->created_at = sqlite3_column_int64(st, 12);
    a->updated_at = sqlite3_column_int64(st, 13);
}

static bool agent_oom(const hh_store_agent_t *a)
{
    return !a->system_prompt || !a->tools || !a->departments || !a->roles || !a->connections || !a->endpoints;
}

int hh_store_agent_put(hh_store_t *s, const hh_store_agent_t *a, bool create, hh_err_t *err)
{
    if (!a->name[0] || !a->model[0])
        return hh_err_set(err, HH_EINVAL, -1, "store: an agent needs a name and a model");
    const char *sql =
        create ? "INSERT INTO agents (name, model, system_prompt, tools, max_steps, max_tokens, max_seconds, use_case,"
                 " departments, roles, created_by, created_at, updated_at)"
                 " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12)"
               : "UPDATE agents SET model = ?2, system_prompt = ?3, tools = ?4, max_steps = ?5, max_tokens = ?6,"
                 " max_seconds = ?7, use_case = ?8, departments = ?9, roles = ?10, updated_at = ?12 WHERE name = ?1";
    char *tools = tools_column(a);
    if (!tools)
        return hh_err_set(err, HH_ENOMEM, -1, "out of memory");
    sqlite3_stmt *st = NULL;
    pthread_mutex_lock(&s->mu);
    int rc = hh_store_prepare(s, &st, sql, err);
    if (rc)
        goto done;
    bind_text(st, 1, a->name, "");
    bind_text(st, 2, a->model, "");
    bind_text(st, 3, a->system_prompt, "");
    bind_text(st, 4, tools, "[]");
    sqlite3_bind_int64(st, 5, a->max_steps);
    sqlite3_bind_int64(st, 6, a->max_tokens);
    sqlite3_bind_int64(st, 7, a->max_seconds);
    bind_text(st, 8, a->use_case[0] ? a->use_case : "general", "general");
    bind_text(st, 9, a->departments, "[]");
    bind_text(st, 10, a->roles, "[]");
    bind_text(st, 11, a->created_by, "");
    sqlite3_bind_int64(st, 12, hh_log_now_ms());
    int sr = sqlite3_step(st);
    if ((sr & 0xff) == SQLITE_CONSTRAINT)
        rc = hh_err_set(err, HH_ESTATE, -1, "agent '%s' exists", a->name);
    else if (sr != SQLITE_DONE)
        rc = hh_store_db_fail(s, err, "store agent");
    else if (!create && sqlite3_changes(s->db) == 0)
        rc = hh_err_set(err, HH_ENOENT, -1, "no agent '%s'", a->name);
done:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    free(tools);
    return rc;
}

int hh_store_agent_get(hh_store_t *s, const char *name, hh_store_agent_t *out, hh_err_t *err)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&s->mu);
    int rc = hh_store_row_by_name_locked(s, "SELECT " AGENT_COLS " FROM agents WHERE name = ?", "agent", name,
                                         read_agent, out, err);
    pthread_mutex_unlock(&s->mu);
    if (rc == HH_ENOENT)
        hh_err_set(err, HH_ENOENT, -1, "no agent '%s'", name);
    if (rc == 0 && agent_oom(out)) {
        hh_store_agent_clear(out);
        rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory");
    }
    return rc;
}

int hh_store_agent_list(hh_store_t *s, hh_store_agent_t **out, size_t *n, hh_err_t *err)
{
    *out = NULL;
    *n = 0;
    hh_store_rows_t g = { .elem = sizeof(hh_store_agent_t) };
    sqlite3_stmt *st = NULL;
    pthread_mutex_lock(&s->mu);
    int rc = hh_store_prepare(s, &st, "SELECT " AGENT_COLS " FROM agents ORDER BY name", err);
    if (!rc)
        rc = hh_store_collect_rows(s, st, &g, read_agent, "list agents", err);
    for (size_t i = 0; !rc && i < g.n; i++)
        if (agent_oom(&((hh_store_agent_t *)g.v)[i]))
            rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory");
    if (rc) {   /* rows_end frees only the array: the texts first */
        for (size_t i = 0; i < g.n; i++)
            hh_store_agent_clear(&((hh_store_agent_t *)g.v)[i]);
    }
    return hh_store_rows_end(s, st, &g, rc, out, n);
}

int hh_store_agent_delete(hh_store_t *s, const char *name, hh_err_t *err)
{
    sqlite3_stmt *st = NULL;
    pthread_mutex_lock(&s->mu);
    int rc = hh_store_prepare(s, &st, "DELETE FROM agents WHERE name = ?", err);
    if (!rc) {
        bind_text(st, 1, name, "");
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = hh_store_db_fail(s, err, "delete agent");
        else if (sqlite3_changes(s->db) == 0)
            rc = hh_err_set(err, HH_ENOENT, -1, "no agent '%s'", name);
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* ---- runs ------------------------------------------------------------------ */

void hh_store_agent_run_clear(hh_store_agent_run_t *r)
{
    if (!r)
        return;
    free(r->request);
    free(r->messages);
    free(r->output);
    memset(r, 0, sizeof *r);
}

int hh_store_agent_run_put(hh_store_t *s, const hh_store_agent_run_t *r, hh_err_t *err)
{
    if (!r->id[0] || r->user_id <= 0)
        return hh_err_set(err, HH_EINVAL, -1, "store: a run needs an id and a user");
    sqlite3_stmt *st = NULL;
    pthread_mutex_lock(&s->mu);
    /* an existing row keeps its user: the conflict update only matches it */
    int rc = hh_store_prepare(
        s, &st,
        "INSERT INTO agent_runs (id, user_id, agent, model, use_case, previous_id, status, reason, request, messages,"
        " output, prompt_tokens, completion_tokens, created_at, finished_at)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"
        " ON CONFLICT (id) DO UPDATE SET status = excluded.status, reason = excluded.reason,"
        " messages = excluded.messages, output = excluded.output, prompt_tokens = excluded.prompt_tokens,"
        " completion_tokens = excluded.completion_tokens, finished_at = excluded.finished_at"
        " WHERE agent_runs.user_id = excluded.user_id",
        err);
    if (rc)
        goto done;
    bind_text(st, 1, r->id, "");
    sqlite3_bind_int64(st, 2, r->user_id);
    bind_text(st, 3, r->agent, "");
    bind_text(st, 4, r->model, "");
    bind_text(st, 5, r->use_case, "");
    bind_text(st, 6, r->previous_id, "");
    bind_text(st, 7, r->status[0] ? r->status : "in_progress", "");
    bind_text(st, 8, r->reason, "");
    bind_text(st, 9, r->request, "{}");
    bind_text(st, 10, r->messages, "[]");
    bind_text(st, 11, r->output, "[]");
    sqlite3_bind_int64(st, 12, r->prompt_tokens);
    sqlite3_bind_int64(st, 13, r->completion_tokens);
    sqlite3_bind_int64(st, 14, r->created_at ? r->created_at : hh_log_now_ms());
    sqlite3_bind_int64(st, 15, r->finished_at);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = hh_store_db_fail(s, err, "store run");
    else if (sqlite3_changes(s->db) == 0)
        rc = hh_err_set(err, HH_EINVAL, -1, "store: run '%s' belongs to another user", r->id);
done:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

static void read_run(sqlite3_stmt *st, void *out)
{
    hh_store_agent_run_t *r = out;
    memset(r, 0, sizeof *r);
    hh_store_copy_col(r->id, sizeof r->id, st, 0);
    r->user_id = sqlite3_column_int64(st, 1);
    hh_store_copy_col(r->agent, sizeof r->agent, st, 2);
    hh_store_copy_col(r->model, sizeof r->model, st, 3);
    hh_store_copy_col(r->use_case, sizeof r->use_case, st, 4);
    hh_store_copy_col(r->previous_id, sizeof r->previous_id, st, 5);
    hh_store_copy_col(r->status, sizeof r->status, st, 6);
    hh_store_copy_col(r->reason, sizeof r->reason, st, 7);
    r->request = col_dup(st, 8);
    r->messages = col_dup(st, 9);
    r->output = col_dup(st, 10);
    r->prompt_tokens = sqlite3_column_int64(st, 11);
    r->completion_tokens = sqlite3_column_int64(st, 12);
    r->created_at = sqlite3_column_int64(st, 13);
    r->finished_at = sqlite3_column_int64(st, 14);
}

int hh_store_agent_run_get(hh_store_t *s, const char *id, hh_store_agent_run_t *out, hh_err_t *err)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&s->mu);
    int rc = hh_store_row_by_name_locked(s,
                                         "SELECT id, user_id, agent, model, use_case, previous_id, status, reason,"
                                         " request, messages, output, prompt_tokens, completion_tokens, created_at,"
                                         " finished_at FROM agent_runs WHERE id = ?",
                                         "run", id, read_run, out, err);
    pthread_mutex_unlock(&s->mu);
    if (rc == 0 && (!out->request || !out->messages || !out->output)) {
        hh_store_agent_run_clear(out);
        rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory");
    }
    return rc;
}

/* ---- steps ----------------------------------------------------------------- */

int hh_store_agent_step_add(hh_store_t *s, const char *run_id, const hh_store_agent_step_t *x, hh_err_t *err)
{
    sqlite3_stmt *st = NULL;
    pthread_mutex_lock(&s->mu);
    int rc = hh_store_prepare(s, &st,
                              "INSERT INTO agent_steps (run_id, seq, kind, name, call_id, arguments, result,"
                              " result_bytes, error, prompt_tokens, completion_tokens, duration_ms, created_at)"
                              " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                              err);
    if (!rc) {
        bind_text(st, 1, run_id, "");
        sqlite3_bind_int64(st, 2, x->seq);
        bind_text(st, 3, x->kind, "");
        bind_text(st, 4, x->name, "");
        bind_text(st, 5, x->call_id, "");
        bind_text(st, 6, x->arguments, "");
        bind_text(st, 7, x->result, "");
        sqlite3_bind_int64(st, 8, x->result_bytes);
        bind_text(st, 9, x->error, "");
        sqlite3_bind_int64(st, 10, x->prompt_tokens);
        sqlite3_bind_int64(st, 11, x->completion_tokens);
        sqlite3_bind_int64(st, 12, x->duration_ms);
        sqlite3_bind_int64(st, 13, x->created_at ? x->created_at : hh_log_now_ms());
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = hh_store_db_fail(s, err, "store step");
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

static void read_step(sqlite3_stmt *st, void *out)
{
    hh_store_agent_step_t *x = out;
    memset(x, 0, sizeof *x);
    x->seq = sqlite3_column_int64(st, 0);
    hh_store_copy_col(x->kind, sizeof x->kind, st, 1);
    hh_store_copy_col(x->name, sizeof x->name, st, 2);
    hh_store_copy_col(x->call_id, sizeof x->call_id, st, 3);
    x->arguments = col_dup(st, 4);
    x->result = col_dup(st, 5);
    x->result_bytes = sqlite3_column_int64(st, 6);
    x->error = col_dup(st, 7);
    x->prompt_tokens = sqlite3_column_int64(st, 8);
    x->completion_tokens = sqlite3_column_int64(st, 9);
    x->duration_ms = sqlite3_column_int64(st, 10);
    x->created_at = sqlite3_column_int64(st, 11);
}

void hh_store_agent_steps_free(hh_store_agent_step_t *x, size_t n)
{
    for (size_t i = 0; x && i < n; i++) {
        free(x[i].arguments);
        free(x[i].result);
        free(x[i].error);
    }
    free(x);
}

int hh_store_agent_steps(hh_store_t *s, const char *run_id, hh_store_agent_step_t **out, size_t *n, hh_err_t *err)
{
    *out = NULL;
    *n = 0;
    hh_store_rows_t g = { .elem = sizeof(hh_store_agent_step_t) };
    sqlite3_stmt *st = NULL;
    pthread_mutex_lock(&s->mu);
    int rc = hh_store_prepare(s, &st,
                              "SELECT seq, kind, name, call_id, arguments, result, result_bytes, error,"
                              " prompt_tokens, completion_tokens, duration_ms, created_at"
                              " FROM agent_steps WHERE run_id = ? ORDER BY seq",
                              err);
    if (!rc) {
        bind_text(st, 1, run_id, "");
        rc = hh_store_collect_rows(s, st, &g, read_step, "list steps", err);
    }
    hh_store_agent_step_t *v = g.v;
    for (size_t i = 0; !rc && i < g.n; i++)
        if (!v[i].arguments || !v[i].result || !v[i].error)
            rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory");
    if (rc) {
        for (size_t i = 0; i < g.n; i++) {
            free(v[i].arguments);
            free(v[i].result);
            free(v[i].error);
        }
    }
    return hh_store_rows_end(s, st, &g, rc, out, n);
}

int hh_store_agent_runs_forget_subject_locked(hh_store_t *s, const char *subject, int64_t *n, hh_err_t *err)
{
    sqlite3_stmt *st = NULL;
    int rc = hh_store_prepare(s, &st, "DELETE FROM agent_runs WHERE user_id IN (SELECT id FROM users WHERE "
                                      "lower(name) = lower(?1))", err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, subject, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = hh_store_db_fail(s, err, "erase agent runs");
    else if (n)
        *n += sqlite3_changes(s->db);
    sqlite3_finalize(st);
    return rc;
}
