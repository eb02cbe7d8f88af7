/* loop.c - the agent loop (loop.h): model calls through the engine, tool
 * calls decoded and checked under their schemas, built-in tools run here,
 * client tools handed back, budgets. */
#include "agent/loop.h"
#include "base/log.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define LOOP_DEFAULT_OUTPUT_TOKENS 512
#define LOOP_CANCEL_WAIT_S 10.0

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void make_id(char *buf, size_t cap, const char *prefix)
{
    unsigned char r[12];
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
        uint64_t t = (uint64_t)(now_s() * 1e9) ^ (uint64_t)(uintptr_t)buf;
        memcpy(r, &t, 8);
        memset(r + 8, 0x5a, 4);
    }
    size_t n = (size_t)snprintf(buf, cap, "%s", prefix);
    for (size_t i = 0; i < sizeof r && n + 2 < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%02x", r[i]);
}

hh_agent_loop_params_t hh_agent_loop_default_params(void)
{
    hh_agent_loop_params_t p;
    memset(&p, 0, sizeof p);
    p.max_steps = 8;
    p.max_tokens = 8192;
    p.max_seconds = 120;
    p.max_tool_errors = 3;
    p.max_output_tokens = LOOP_DEFAULT_OUTPUT_TOKENS;
    p.temperature = -1;
    return p;
}

void hh_agent_result_clear(hh_agent_result_t *r)
{
    if (!r)
        return;
    cJSON_Delete(r->output);
    memset(r, 0, sizeof *r);
}

/* ---- one model call, waited for ------------------------------------------ */

typedef struct call_out {
    char  *name, *arguments, *id;
} call_out_t;

typedef struct gen_wait {
    pthread_mutex_t mu;
    pthread_cond_t  cv;
    int             refs;
    bool            done, failed, oom;
    hh_finish_t     finish;
    char           *content;
    call_out_t     *calls;
    size_t          n_calls;
    int32_t         prompt_tokens, completion_tokens;
    int             err_code;
    char            err_msg[256];
} gen_wait_t;

static void wait_unref(gen_wait_t *w)
{
    pthread_mutex_lock(&w->mu);
    int left = --w->refs;
    pthread_mutex_unlock(&w->mu);
    if (left > 0)
        return;
    free(w->content);
    for (size_t i = 0; i < w->n_calls; i++) {
        free(w->calls[i].name);
        free(w->calls[i].arguments);
        free(w->calls[i].id);
    }
    free(w->calls);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w);
}

/* Engine callback (scheduler thread): copies the final event only. */
static void on_event(void *user, const hh_gen_event_t *ev)
{
    gen_wait_t *w = user;
    if (ev->kind == HH_GEN_TEXT)
        return;
    pthread_mutex_lock(&w->mu);
    w->done = true;
    if (ev->kind == HH_GEN_ERROR) {
        w->failed = true;
        w->err_code = ev->error_code;
        snprintf(w->err_msg, sizeof w->err_msg, "%s", ev->error_msg ? ev->error_msg : hh_strerror(ev->error_code));
    } else {
        w->finish = ev->finish;
        w->content = strndup(ev->content ? ev->content : "", ev->content ? ev->content_len : 0);
        w->oom = !w->content;
        w->prompt_tokens = ev->prompt_tokens;
        w->completion_tokens = ev->completion_tokens;
        if (ev->n_tool_calls && (w->calls = calloc(ev->n_tool_calls, sizeof *w->calls))) {
            w->n_calls = ev->n_tool_calls;
            for (size_t i = 0; i < ev->n_tool_calls; i++) {
                const hh_tool_call_t *c = &ev->tool_calls[i];
                w->calls[i].name = strdup(c->name ? c->name : "");
                w->calls[i].arguments = strdup(c->arguments_json ? c->arguments_json : "{}");
                w->calls[i].id = c->id && c->id[0] ? strdup(c->id) : NULL;
                w->oom = w->oom || !w->calls[i].name || !w->calls[i].arguments;
            }
        } else if (ev->n_tool_calls) {
            w->oom = true;
        }
    }
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    wait_unref(w);   /* the engine never calls again after DONE/ERROR */
}

/* Waits for w->done until deadline (monotonic seconds); then cancels g and
 * waits a bounded time more. Caller holds w->mu. Returns true when the
 * deadline passed. */
static bool wait_done(gen_wait_t *w, hh_gen_t *g, double deadline)
{
    bool late = false;
    while (!w->done) {
        double left = (late ? deadline + LOOP_CANCEL_WAIT_S : deadline) - now_s();
        if (left <= 0) {
            if (late)
                break;   /* a stuck engine must not hold the request forever */
            late = true;
            pthread_mutex_unlock(&w->mu);
            hh_gen_cancel(g);
            pthread_mutex_lock(&w->mu);
            continue;
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        double wait = left < 0.2 ? left : 0.2;
        long ns = ts.tv_nsec + (long)(wait * 1e9);
        ts.tv_sec += ns / 1000000000L;
        ts.tv_nsec = ns % 1000000000L;
        pthread_cond_timedwait(&w->cv, &w->mu, &ts);
    }
    return late;
}

/* ---- requests -------------------------------------------------------------- */

/* The chat messages of the engine request: borrowed from the cJSON tree. */
typedef struct msgs {
    hh_chat_msg_t  *v;
    size_t          n;
    hh_tool_call_t *calls;
} msgs_t;

static void msgs_free(msgs_t *m)
{
    free(m->v);
    free(m->calls);
    memset(m, 0, sizeof *m);
}

static const char *jstr(const cJSON *o, const char *k)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(j) ? j->valuestring : NULL;
}

static int msgs_build(const char *system, const cJSON *messages, msgs_t *m, hh_err_t *err)
{
    memset(m, 0, sizeof *m);
    size_t n = (size_t)cJSON_GetArraySize(messages) + 1, n_calls = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, messages)
        n_calls += (size_t)cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(it, "tool_calls"));
    m->v = calloc(n, sizeof *m->v);
    m->calls = n_calls ? calloc(n_calls, sizeof *m->calls) : NULL;
    if (!m->v || (n_calls && !m->calls)) {
        msgs_free(m);
        return hh_err_set(err, HH_ENOMEM, -1, "out of memory");
    }
    if (system && system[0])
        m->v[m->n++] = (hh_chat_msg_t){ .role = HH_ROLE_SYSTEM, .content = system };
    size_t ci = 0;
    cJSON_ArrayForEach(it, messages) {
        const char *role = jstr(it, "role");
        hh_chat_msg_t *cm = &m->v[m->n];
        memset(cm, 0, sizeof *cm);
        cm->role = !role                        ? HH_ROLE_USER
                   : !strcmp(role, "assistant") ? HH_ROLE_ASSISTANT
                   : !strcmp(role, "tool")      ? HH_ROLE_TOOL
                   : !strcmp(role, "system")    ? HH_ROLE_SYSTEM
                                                : HH_ROLE_USER;
        cm->content = jstr(it, "content");
        cm->tool_call_id = jstr(it, "tool_call_id");
        cm->name = jstr(it, "name");
        const cJSON *tc = cJSON_GetObjectItemCaseSensitive(it, "tool_calls");
        if (cJSON_GetArraySize(tc) > 0) {
            cm->tool_calls = &m->calls[ci];
            const cJSON *c;
            cJSON_ArrayForEach(c, tc) {
                const cJSON *fn = cJSON_GetObjectItemCaseSensitive(c, "function");
                m->calls[ci].id = jstr(c, "id");
                m->calls[ci].name = jstr(fn, "name") ? jstr(fn, "name") : "";
                m->calls[ci].arguments_json = jstr(fn, "arguments") ? jstr(fn, "arguments") : "{}";
                ci++;
                cm->n_tool_calls++;
            }
        }
        m->n++;
    }
    return 0;
}

/* Chat-shape tools: the built-in ones, then the client's. */
static cJSON *tools_build(const hh_agent_loop_params_t *p)
{
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; arr && i < p->n_builtin; i++) {
        cJSON *t = hh_agent_tool_spec_env(&p->env, p->builtin[i]);
        if (t)
            cJSON_AddItemToArray(arr, t);
    }
    const cJSON *t;
    cJSON_ArrayForEach(t, p->client_tools)
        cJSON_AddItemToArray(arr, cJSON_Duplicate(t, true));
    return arr;
}

/* The schema of one forced call: anyOf over the tools (only name, when set). */
static char *forced_schema(const cJSON *tools, const char *name)
{
    cJSON *any = cJSON_CreateArray();
    const cJSON *t;
    cJSON_ArrayForEach(t, tools) {
        const cJSON *fn = cJSON_GetObjectItemCaseSensitive(t, "function");
        const char *nm = jstr(fn, "name");
        if (!nm || (name && strcmp(nm, name)))
            continue;
        const cJSON *params = cJSON_GetObjectItemCaseSensitive(fn, "parameters");
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "type", "object");
        cJSON *props = cJSON_AddObjectToObject(o, "properties");
        cJSON_AddStringToObject(cJSON_AddObjectToObject(props, "name"), "const", nm);
        cJSON_AddItemToObject(props, "arguments",
                              params ? cJSON_Duplicate(params, true) : cJSON_Parse("{\"type\":\"object\"}"));
        cJSON *req = cJSON_AddArrayToObject(o, "required");
        cJSON_AddItemToArray(req, cJSON_CreateString("name"));
        cJSON_AddItemToArray(req, cJSON_CreateString("arguments"));
        cJSON_AddItemToArray(any, o);
    }
    char *s = NULL;
    if (cJSON_GetArraySize(any) > 0) {
        cJSON *schema = cJSON_CreateObject();
        cJSON_AddItemToObject(schema, "anyOf", any);
        s = cJSON_PrintUnformatted(schema);
        cJSON_Delete(schema);
    } else {
        cJSON_Delete(any);
    }
    return s;
}

/* The parameters schema (JSON text, owned) of tool name in tools; NULL when
 * the tool is not there. A tool without parameters takes any object. */
static char *tool_schema(const cJSON *tools, const char *name)
{
    const cJSON *t;
    cJSON_ArrayForEach(t, tools) {
        const cJSON *fn = cJSON_GetObjectItemCaseSensitive(t, "function");
        const char *nm = jstr(fn, "name");
        if (!nm || strcmp(nm, name))
            continue;
        const cJSON *params = cJSON_GetObjectItemCaseSensitive(fn, "parameters");
        return params ? cJSON_PrintUnformatted(params) : strdup("{\"type\":\"object\"}");
    }
    return NULL;
}

static bool is_builtin(const hh_agent_loop_params_t *p, const char *name)
{
    for (size_t i = 0; i < p->n_builtin; i++)
        if (!strcmp(p->builtin[i], name))
            return true;
    return false;
}

/* ---- output items ---------------------------------------------------------- */

static cJSON *message_item(const char *text)
{
    char id[48];
    make_id(id, sizeof id, "msg_");
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "message");
    cJSON_AddStringToObject(o, "id", id);
    cJSON_AddStringToObject(o, "status", "completed");
    cJSON_AddStringToObject(o, "role", "assistant");
    cJSON *content = cJSON_AddArrayToObject(o, "content");
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "type", "output_text");
    cJSON_AddStringToObject(c, "text", text ? text : "");
    cJSON_AddArrayToObject(c, "annotations");
    cJSON_AddItemToArray(content, c);
    return o;
}

static cJSON *call_item(const char *type, const char *call_id, const char *name, const char *args)
{
    char id[48];
    make_id(id, sizeof id, !strcmp(type, "function_call") ? "fc_" : "htc_");
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", type);
    cJSON_AddStringToObject(o, "id", id);
    cJSON_AddStringToObject(o, "call_id", call_id);
    cJSON_AddStringToObject(o, "name", name);
    cJSON_AddStringToObject(o, "arguments", args);
    cJSON_AddStringToObject(o, "status", "completed");
    return o;
}

static void report(const hh_agent_loop_params_t *p, const hh_agent_step_info_t *st)
{
    if (p->on_step)
        p->on_step(p->on_step_user, st);
}

/* ---- the loop ---------------------------------------------------------------- */

static void set_status(hh_agent_result_t *out, const char *status, const char *reason)
{
    snprintf(out->status, sizeof out->status, "%s", status);
    snprintf(out->reason, sizeof out->reason, "%s", reason ? reason : "");
}

/* One model call on messages. *w (caller unrefs) holds the outcome;
 * returns 0, or the submit's error (status failed is set by the caller). */
static int model_call(const hh_agent_loop_params_t *p, const cJSON *messages, const char *tools_json,
                      const char *schema, int32_t max_tokens, double deadline, gen_wait_t **wout, bool *late,
                      hh_err_t *err)
{
    *wout = NULL;
    *late = false;
    msgs_t m;
    int rc = msgs_build(p->system, messages, &m, err);
    if (rc)
        return rc;
    gen_wait_t *w = calloc(1, sizeof *w);
    if (!w) {
        msgs_free(&m);
        return hh_err_set(err, HH_ENOMEM, -1, "out of memory");
    }
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    w->refs = 2;   /* this side + the engine's callback */
    hh_gen_request_t g;
    memset(&g, 0, sizeof g);
    g.model = p->model;
    g.user = p->user;
    g.messages = m.v;
    g.n_messages = m.n;
    g.tools_json = tools_json;
    g.sampling = hh_sampler_default_params();
    if (p->temperature >= 0)
        g.sampling.temperature = p->temperature;
    g.max_tokens = max_tokens;
    g.json_schema = schema;
    g.tool_call_json = schema != NULL;
    g.cb = on_event;
    g.cb_user = w;
    g.cache_scope = p->cache_scope;
    hh_gen_t *h = NULL;
    rc = hh_engine_submit(p->engine, &g, &h, err);
    msgs_free(&m);   /* the engine copied what it needs */
    if (rc) {
        w->refs = 1;
        wait_unref(w);
        return rc;
    }
    pthread_mutex_lock(&w->mu);
    *late = wait_done(w, h, deadline);
    pthread_mutex_unlock(&w->mu);
    hh_gen_release(h);
    *wout = w;
    return 0;
}

/* Runs (or refuses) one call the model proposed; appends the tool message
 * to messages and the item to output. Returns true when the call is the
 * client's (handed back), false when it ran here; *failed when it failed. */
static bool one_call(const hh_agent_loop_params_t *p, const cJSON *tools, const call_out_t *c, const char *call_id,
                     cJSON *messages, cJSON *output, bool *failed)
{
    *failed = false;
    hh_err_t err;
    hh_err_clear(&err);
    double t0 = now_s();
    char *schema = tool_schema(tools, c->name);
    bool client = schema && !is_builtin(p, c->name);
    int rc = !schema ? hh_err_set(&err, HH_EINVAL, -1, "there is no tool '%s'", c->name)
                     : hh_agent_args_valid(schema, c->arguments, &err);
    free(schema);
    if (client && rc == 0) {
        cJSON_AddItemToArray(output, call_item("function_call", call_id, c->name, c->arguments));
        hh_agent_step_info_t st = { .kind = "client_tool", .name = c->name, .call_id = call_id,
                                    .arguments = c->arguments, .result = "" };
        report(p, &st);
        return true;
    }
    char *result = NULL, *record = NULL;
    if (rc == 0)
        rc = hh_agent_tool_run_rec(&p->env, c->name, c->arguments, &result, &record, &err);
    char *msg = result;
    if (rc) {   /* the error goes back to the model as the tool's answer: it may correct the call */
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "error", err.msg);
        msg = cJSON_PrintUnformatted(e);
        cJSON_Delete(e);
        *failed = true;
    }
    cJSON *tm = cJSON_CreateObject();
    cJSON_AddStringToObject(tm, "role", "tool");
    cJSON_AddStringToObject(tm, "tool_call_id", call_id);
    cJSON_AddStringToObject(tm, "name", c->name);
    cJSON_AddStringToObject(tm, "content", msg ? msg : "{\"error\":\"out of memory\"}");
    cJSON_AddItemToArray(messages, tm);
    cJSON *item = call_item("hoheit_tool_call", call_id, c->name, c->arguments);
    cJSON_AddStringToObject(item, "output", msg ? msg : "");
    if (rc) {
        cJSON_ReplaceItemInObject(item, "status", cJSON_CreateString("failed"));
        cJSON_AddStringToObject(item, "error", err.msg);
    }
    cJSON_AddItemToArray(output, item);
    hh_agent_step_info_t st = { .kind = "tool", .name = c->name, .call_id = call_id, .arguments = c->arguments,
                                .result = rc ? "" : result, .record = rc ? NULL : record,
                                .error = rc ? err.msg : NULL,
                                .duration_ms = (int64_t)((now_s() - t0) * 1000) };
    report(p, &st);
    if (msg != result)
        free(msg);
    free(result);
    free(record);
    return false;
}

int hh_agent_loop_run(const hh_agent_loop_params_t *params, cJSON *messages, hh_agent_result_t *out, hh_err_t *err)
{
    /* tools that call the model (extract) report their tokens here; they
     * join the run's usage after each call */
    hh_agent_usage_t spent = { 0, 0 };
    hh_agent_loop_params_t lp = *params;
    lp.env.usage = &spent;
    const hh_agent_loop_params_t *p = &lp;
    memset(out, 0, sizeof *out);
    if (!p->engine || !p->model || !cJSON_IsArray(messages))
        return hh_err_set(err, HH_EINVAL, -1, "agent loop: engine, model and messages are required");
    out->output = cJSON_CreateArray();
    cJSON *tools = tools_build(p);
    char *tools_json = cJSON_GetArraySize(tools) > 0 && p->choice != HH_AGENT_CHOICE_NONE
                           ? cJSON_PrintUnformatted(tools)
                           : NULL;
    if (!out->output || !tools) {
        cJSON_Delete(tools);
        hh_agent_result_clear(out);
        return hh_err_set(err, HH_ENOMEM, -1, "out of memory");
    }
    double t0 = now_s(), deadline = t0 + (p->max_seconds > 0 ? p->max_seconds : 120);
    int32_t steps = 0, tool_errors = 0;
    size_t fed = p->n_history;   /* messages the model has seen (loop.h: the step record's input) */
    int32_t per_call = p->max_output_tokens > 0 ? p->max_output_tokens : LOOP_DEFAULT_OUTPUT_TOKENS;
    int max_errors = p->max_tool_errors > 0 ? p->max_tool_errors : 3;
    bool forced = tools_json && (p->choice == HH_AGENT_CHOICE_REQUIRED || p->choice == HH_AGENT_CHOICE_NAMED);
    int rc = 0;
    for (;;) {
        int64_t used = out->prompt_tokens + out->completion_tokens;
        if (steps >= p->max_steps) {
            set_status(out, "incomplete", "max_steps");
            break;
        }
        if (used >= p->max_tokens) {
            set_status(out, "incomplete", "max_tokens");
            break;
        }
        if (now_s() >= deadline) {
            set_status(out, "incomplete", "max_seconds");
            break;
        }
        char *schema = forced ? forced_schema(tools, p->choice == HH_AGENT_CHOICE_NAMED ? p->choice_name : NULL)
                              : NULL;
        if (forced && !schema) {
            rc = hh_err_set(err, HH_EINVAL, -1, "tool_choice names function '%s', which is not in the tools",
                            p->choice_name ? p->choice_name : "");
            break;
        }
        forced = false;   /* the first call only (loop.h) */
        int64_t left = p->max_tokens - used;
        int32_t max_tokens = left < per_call ? (int32_t)left : per_call;
        gen_wait_t *w = NULL;
        bool late = false;
        hh_err_t gerr;
        hh_err_clear(&gerr);
        double ts = now_s();
        int grc = model_call(p, messages, tools_json, schema, max_tokens, deadline, &w, &late, &gerr);
        if (grc == HH_ERANGE && tools_json && !schema) {   /* loop.h: once more without the tool list */
            hh_err_clear(&gerr);
            grc = model_call(p, messages, NULL, NULL, max_tokens, deadline, &w, &late, &gerr);
        }
        free(schema);
        /* the messages new to the model since its previous call, for the step record */
        cJSON *fresh = cJSON_CreateArray();
        for (int i = (int)fed; i < cJSON_GetArraySize(messages); i++)
            cJSON_AddItemToArray(fresh, cJSON_Duplicate(cJSON_GetArrayItem(messages, i), true));
        char *input = cJSON_PrintUnformatted(fresh);
        cJSON_Delete(fresh);
        fed = (size_t)cJSON_GetArraySize(messages);
        steps++;
        if (grc || !w || !w->done || w->failed || w->oom) {
            const char *msg = grc ? gerr.msg : !w || !w->done ? "the model did not finish" : w->oom ? "out of memory"
                                                                                           : w->err_msg;
            set_status(out, "failed", "model_error");
            out->error_code = grc ? grc : w && w->failed ? w->err_code : HH_EIO;
            snprintf(out->error_msg, sizeof out->error_msg, "%s", msg);
            hh_agent_step_info_t st = { .kind = "model", .name = p->model, .arguments = input ? input : "",
                                        .result = "", .error = msg,
                                        .duration_ms = (int64_t)((now_s() - ts) * 1000) };
            report(p, &st);
            free(input);
            if (w)
                wait_unref(w);
            break;
        }
        out->prompt_tokens += w->prompt_tokens;
        out->completion_tokens += w->completion_tokens;
        /* the calls proposed, for the step record */
        cJSON *proposed = cJSON_CreateArray();
        char (*ids)[48] = w->n_calls ? calloc(w->n_calls, sizeof *ids) : NULL;
        for (size_t i = 0; i < w->n_calls; i++) {
            if (ids && w->calls[i].id && strlen(w->calls[i].id) < sizeof ids[i])
                snprintf(ids[i], sizeof ids[i], "%s", w->calls[i].id);
            else if (ids)
                make_id(ids[i], sizeof ids[i], "call_");
            cJSON *c = cJSON_CreateObject();
            cJSON_AddStringToObject(c, "name", w->calls[i].name);
            cJSON_AddStringToObject(c, "arguments", w->calls[i].arguments);
            cJSON_AddItemToArray(proposed, c);
        }
        char *ptext = w->n_calls ? cJSON_PrintUnformatted(proposed) : NULL;
        cJSON_Delete(proposed);
        hh_agent_step_info_t st = { .kind = "model", .name = p->model, .arguments = input ? input : "",
                                    .result = ptext ? ptext : w->content, .prompt_tokens = w->prompt_tokens,
                                    .completion_tokens = w->completion_tokens,
                                    .duration_ms = (int64_t)((now_s() - ts) * 1000) };
        report(p, &st);
        free(ptext);
        free(input);
        if (w->n_calls && !ids) {
            wait_unref(w);
            rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory");
            break;
        }
        if (late || w->finish == HH_FINISH_CANCELED || w->finish == HH_FINISH_TIMEOUT) {
            if (w->content && w->content[0])
                cJSON_AddItemToArray(out->output, message_item(w->content));
            set_status(out, "incomplete", "max_seconds");
            free(ids);
            wait_unref(w);
            break;
        }
        if (w->n_calls == 0) {
            cJSON_AddItemToArray(out->output, message_item(w->content));
            cJSON *am = cJSON_CreateObject();
            cJSON_AddStringToObject(am, "role", "assistant");
            cJSON_AddStringToObject(am, "content", w->content);
            cJSON_AddItemToArray(messages, am);
            if (w->finish == HH_FINISH_LENGTH)   /* cut by the run's token budget, or by the call's limit */
                set_status(out, "incomplete", max_tokens < per_call ? "max_tokens" : "max_output_tokens");
            else
                set_status(out, "completed", NULL);
            wait_unref(w);
            break;
        }
        /* the assistant's calls, then each call's result */
        cJSON *am = cJSON_CreateObject();
        cJSON_AddStringToObject(am, "role", "assistant");
        if (w->content && w->content[0])
            cJSON_AddStringToObject(am, "content", w->content);
        else
            cJSON_AddNullToObject(am, "content");
        cJSON *tcs = cJSON_AddArrayToObject(am, "tool_calls");
        for (size_t i = 0; i < w->n_calls; i++) {
            cJSON *c = cJSON_CreateObject();
            cJSON_AddStringToObject(c, "id", ids[i]);
            cJSON_AddStringToObject(c, "type", "function");
            cJSON *fn = cJSON_AddObjectToObject(c, "function");
            cJSON_AddStringToObject(fn, "name", w->calls[i].name);
            cJSON_AddStringToObject(fn, "arguments", w->calls[i].arguments);
            cJSON_AddItemToArray(tcs, c);
        }
        cJSON_AddItemToArray(messages, am);
        bool handed_back = false;
        for (size_t i = 0; i < w->n_calls; i++) {
            bool failed = false;
            handed_back |= one_call(p, tools, &w->calls[i], ids[i], messages, out->output, &failed);
            tool_errors += failed;
            out->prompt_tokens += spent.prompt_tokens;
            out->completion_tokens += spent.completion_tokens;
            spent.prompt_tokens = spent.completion_tokens = 0;
        }
        free(ids);
        wait_unref(w);
        if (handed_back) {   /* the client runs its tools and continues with previous_response_id */
            set_status(out, "completed", NULL);
            break;
        }
        if (tool_errors > max_errors) {
            set_status(out, "incomplete", "tool_errors");
            break;
        }
    }
    cJSON_Delete(tools);
    cJSON_free(tools_json);
    if (rc) {
        hh_agent_result_clear(out);
        return rc;
    }
    return 0;
}
