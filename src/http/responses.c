/* responses.c - POST /v1/responses: OpenAI's Responses API shape over the
 * agent loop (agent/loop.h; issue 16, docs/AGENTS.md).
 *
 *   {"model": "ID" | "agent:NAME", "input": "text" | [items], "instructions",
 *    "tools": [{"type": "function", "name", "description", "parameters"}],
 *    "tool_choice": "auto" | "none" | "required" | {"type": "function", "name"},
 *    "max_output_tokens", "temperature", "previous_response_id", "stream",
 *    "hoheit": {"use_case"}}
 *   -> {"id": "resp_...", "object": "response", "status", "output": [items],
 *       "usage", "incomplete_details", "error", ...}
 *
 * Input items: messages ({"role", "content": text | [{"type": "input_text",
 * "text"}]}), "function_call" (an earlier call, echoed back) and
 * "function_call_output" ({"call_id", "output"}: the client's result of a
 * function call). Output items: "message" (output_text), "function_call"
 * (a function tool of the client: run it, send a function_call_output
 * with previous_response_id), "hoheit_tool_call" (a built-in tool the
 * server ran: name, arguments, output).
 *
 * An agent (model "agent:NAME") brings its model, system prompt, built-in
 * tools, budgets and use case; who may run it is its definition's and its
 * use case's rule (a caller who may not gets the answer of a missing
 * model). A plain model id runs the loop with the client's function tools
 * only, under the request's use case (hoheit.use_case, X-Hoheit-Use-Case,
 * the defaults).
 *
 * Every run is stored (agent_runs) with every step (agent_steps) and each
 * step is an "agent" audit record; GET /api/agents/runs/{id} shows them.
 * previous_response_id continues one of the caller's own runs (another's
 * answers like a missing one).
 *
 * A use case that requires approval holds the run (Art. 14, approvals.c):
 * it runs, its answer is queued for a human and the client gets 202 with
 * the pending approval id, never streamed; its record shows its owner no
 * step or output until then, and it cannot be continued.
 *
 * Not built here yet: streaming sends the events of a run when it ends
 * (the event sequence of the API, not yet token by token); MCP tools. */
#include "http/http_int.h"
#include "agent/memory.h"
#include "agent/def.h"
#include "agent/loop.h"
#include "base/log.h"
#include "govern/audit.h"
#include "govern/register.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define RESP_MAX_OUTPUT_TOKENS 32768
#define RESP_MAX_TOOLS 64
#define RESP_AGENT_PREFIX "agent:"

/* ---- request ---------------------------------------------------------------- */

typedef struct resp_req {
    cJSON             *root;            /* owned: the parsed body */
    const char        *model;           /* as requested */
    const char        *instructions;
    cJSON             *messages;        /* owned: chat messages from input */
    cJSON             *client_tools;    /* owned: chat-shape function tools */
    hh_agent_choice_t  choice;
    const char        *choice_name;
    int32_t            max_output_tokens;
    float              temperature;
    const char        *previous_id;
    bool               stream;
} resp_req_t;

static void req_free(resp_req_t *r)
{
    cJSON_Delete(r->root);
    cJSON_Delete(r->messages);
    cJSON_Delete(r->client_tools);
    memset(r, 0, sizeof *r);
}

static int bad(hh_api_error_t *e, const char *param, const char *msg)
{
    return hh_api_error_set(e, 400, "invalid_request_error", NULL, param, "%s", msg);
}

/* The text of a content value: a string, or an array of input_text /
 * output_text parts (joined). Owned result; NULL when not such a value. */
static char *content_text(const cJSON *c)
{
    if (cJSON_IsString(c))
        return strdup(c->valuestring);
    if (!cJSON_IsArray(c))
        return NULL;
    size_t len = 0;
    const cJSON *p;
    cJSON_ArrayForEach(p, c) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(p, "text");
        const cJSON *ty = cJSON_GetObjectItemCaseSensitive(p, "type");
        if (!cJSON_IsString(t) || !cJSON_IsString(ty) ||
            (strcmp(ty->valuestring, "input_text") && strcmp(ty->valuestring, "output_text")))
            return NULL;
        len += strlen(t->valuestring);
    }
    char *out = malloc(len + 1);
    if (!out)
        return NULL;
    out[0] = '\0';
    cJSON_ArrayForEach(p, c)
        strcat(out, cJSON_GetObjectItemCaseSensitive(p, "text")->valuestring);
    return out;
}

static int add_message(cJSON *msgs, const char *role, char *text, hh_api_error_t *e)
{
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "role", role);
    cJSON_AddStringToObject(m, "content", text);
    free(text);
    cJSON_AddItemToArray(msgs, m);
    return 0;
}

/* input -> chat messages (appended to r->messages). */
static int parse_input(resp_req_t *r, const cJSON *in, hh_api_error_t *e)
{
    if (cJSON_IsString(in))
        return add_message(r->messages, "user", strdup(in->valuestring), e);
    if (!cJSON_IsArray(in))
        return bad(e, "input", "'input' must be a string or an array of input items");
    const cJSON *it;
    int i = 0;
    cJSON_ArrayForEach(it, in) {
        const cJSON *ty = cJSON_GetObjectItemCaseSensitive(it, "type");
        const char *type = cJSON_IsString(ty) ? ty->valuestring : "message";
        char msg[160];
        if (!cJSON_IsObject(it))
            return bad(e, "input", "each input item must be an object");
        if (!strcmp(type, "message")) {
            const cJSON *role = cJSON_GetObjectItemCaseSensitive(it, "role");
            const char *rs = cJSON_IsString(role) ? role->valuestring : "";
            if (strcmp(rs, "user") && strcmp(rs, "assistant") && strcmp(rs, "system") && strcmp(rs, "developer")) {
                snprintf(msg, sizeof msg, "input[%d].role must be user, assistant, system or developer", i);
                return bad(e, "input", msg);
            }
            char *text = content_text(cJSON_GetObjectItemCaseSensitive(it, "content"));
            if (!text) {
                snprintf(msg, sizeof msg, "input[%d].content must be a string or input_text parts", i);
                return bad(e, "input", msg);
            }
            add_message(r->messages, !strcmp(rs, "developer") ? "system" : rs, text, e);
        } else if (!strcmp(type, "function_call_output")) {
            const cJSON *cid = cJSON_GetObjectItemCaseSensitive(it, "call_id");
            const cJSON *out = cJSON_GetObjectItemCaseSensitive(it, "output");
            if (!cJSON_IsString(cid) || !cid->valuestring[0] || !cJSON_IsString(out)) {
                snprintf(msg, sizeof msg, "input[%d] (function_call_output) needs call_id and output strings", i);
                return bad(e, "input", msg);
            }
            cJSON *m = cJSON_CreateObject();
            cJSON_AddStringToObject(m, "role", "tool");
            cJSON_AddStringToObject(m, "tool_call_id", cid->valuestring);
            cJSON_AddStringToObject(m, "content", out->valuestring);
            cJSON_AddItemToArray(r->messages, m);
        } else if (!strcmp(type, "function_call")) {
            const cJSON *cid = cJSON_GetObjectItemCaseSensitive(it, "call_id");
            const cJSON *nm = cJSON_GetObjectItemCaseSensitive(it, "name");
            const cJSON *args = cJSON_GetObjectItemCaseSensitive(it, "arguments");
            if (!cJSON_IsString(cid) || !cJSON_IsString(nm) || !cJSON_IsString(args)) {
                snprintf(msg, sizeof msg, "input[%d] (function_call) needs call_id, name and arguments strings", i);
                return bad(e, "input", msg);
            }
            /* an earlier call echoed back: joins the assistant message before it when that one has calls */
            cJSON *last = cJSON_GetArrayItem(r->messages, cJSON_GetArraySize(r->messages) - 1);
            cJSON *tcs = cJSON_GetObjectItemCaseSensitive(last, "tool_calls");
            if (!tcs) {
                last = cJSON_CreateObject();
                cJSON_AddStringToObject(last, "role", "assistant");
                cJSON_AddNullToObject(last, "content");
                tcs = cJSON_AddArrayToObject(last, "tool_calls");
                cJSON_AddItemToArray(r->messages, last);
            }
            cJSON *c = cJSON_CreateObject();
            cJSON_AddStringToObject(c, "id", cid->valuestring);
            cJSON_AddStringToObject(c, "type", "function");
            cJSON *fn = cJSON_AddObjectToObject(c, "function");
            cJSON_AddStringToObject(fn, "name", nm->valuestring);
            cJSON_AddStringToObject(fn, "arguments", args->valuestring);
            cJSON_AddItemToArray(tcs, c);
        } else {
            snprintf(msg, sizeof msg, "input[%d].type '%.40s' is not one of message, function_call, "
                                      "function_call_output", i, type);
            return bad(e, "input", msg);
        }
        i++;
    }
    return 0;
}

static int parse_tools(resp_req_t *r, hh_api_error_t *e)
{
    const cJSON *tools = cJSON_GetObjectItemCaseSensitive(r->root, "tools");
    r->client_tools = cJSON_CreateArray();
    if (!tools || cJSON_IsNull(tools))
        return 0;
    if (!cJSON_IsArray(tools) || cJSON_GetArraySize(tools) > RESP_MAX_TOOLS)
        return bad(e, "tools", "'tools' must be an array of at most 64 function tools");
    const cJSON *t;
    cJSON_ArrayForEach(t, tools) {
        const cJSON *ty = cJSON_GetObjectItemCaseSensitive(t, "type");
        const cJSON *nm = cJSON_GetObjectItemCaseSensitive(t, "name");
        const cJSON *ds = cJSON_GetObjectItemCaseSensitive(t, "description");
        const cJSON *pa = cJSON_GetObjectItemCaseSensitive(t, "parameters");
        if (!cJSON_IsString(ty) || strcmp(ty->valuestring, "function"))
            return bad(e, "tools", "only tools of type 'function' are supported (MCP tools are not built yet)");
        if (!cJSON_IsString(nm) || !nm->valuestring[0] || strlen(nm->valuestring) > 64)
            return bad(e, "tools", "each function tool needs a name (1..64 bytes)");
        if (pa && !cJSON_IsNull(pa) && !cJSON_IsObject(pa))
            return bad(e, "tools", "a function tool's parameters must be a JSON Schema object");
        const cJSON *o;
        cJSON_ArrayForEach(o, r->client_tools)
            if (!strcmp(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "function"), "name")->valuestring, nm->valuestring))
                return bad(e, "tools", "two tools have the same name");
        cJSON *ct = cJSON_CreateObject();
        cJSON_AddStringToObject(ct, "type", "function");
        cJSON *fn = cJSON_AddObjectToObject(ct, "function");
        cJSON_AddStringToObject(fn, "name", nm->valuestring);
        if (cJSON_IsString(ds))
            cJSON_AddStringToObject(fn, "description", ds->valuestring);
        cJSON_AddItemToObject(fn, "parameters",
                              cJSON_IsObject(pa) ? cJSON_Duplicate(pa, true) : cJSON_Parse("{\"type\":\"object\"}"));
        cJSON_AddItemToArray(r->client_tools, ct);
    }
    return 0;
}

static int parse_request(const char *body, size_t len, resp_req_t *r, hh_api_error_t *e)
{
    memset(r, 0, sizeof *r);
    r->temperature = -1;
    r->root = cJSON_ParseWithLength(body, len);
    r->messages = cJSON_CreateArray();
    if (!cJSON_IsObject(r->root))
        return bad(e, NULL, "The body must be a JSON object");
    const cJSON *mj = cJSON_GetObjectItemCaseSensitive(r->root, "model");
    if (!cJSON_IsString(mj) || !mj->valuestring[0] || strlen(mj->valuestring) > 255)
        return bad(e, "model", "'model' is required: a model id or agent:NAME");
    r->model = mj->valuestring;
    const cJSON *ins = cJSON_GetObjectItemCaseSensitive(r->root, "instructions");
    if (ins && !cJSON_IsNull(ins) && !cJSON_IsString(ins))
        return bad(e, "instructions", "'instructions' must be a string");
    r->instructions = cJSON_IsString(ins) ? ins->valuestring : NULL;
    const cJSON *pid = cJSON_GetObjectItemCaseSensitive(r->root, "previous_response_id");
    if (pid && !cJSON_IsNull(pid) && (!cJSON_IsString(pid) || strlen(pid->valuestring) >= HH_AGENT_RUN_ID_MAX))
        return bad(e, "previous_response_id", "'previous_response_id' must be a response id");
    r->previous_id = cJSON_IsString(pid) ? pid->valuestring : NULL;
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(r->root, "stream");
    if (st && !cJSON_IsNull(st) && !cJSON_IsBool(st))
        return bad(e, "stream", "'stream' must be a boolean");
    r->stream = cJSON_IsTrue(st);
    const cJSON *mo = cJSON_GetObjectItemCaseSensitive(r->root, "max_output_tokens");
    if (mo && !cJSON_IsNull(mo)) {
        if (!cJSON_IsNumber(mo) || !(mo->valuedouble >= 1 && mo->valuedouble <= RESP_MAX_OUTPUT_TOKENS) ||
            mo->valuedouble != (double)(int)mo->valuedouble)
            return bad(e, "max_output_tokens", "'max_output_tokens' must be an integer 1..32768");
        r->max_output_tokens = mo->valueint;
    }
    const cJSON *te = cJSON_GetObjectItemCaseSensitive(r->root, "temperature");
    if (te && !cJSON_IsNull(te)) {
        if (!cJSON_IsNumber(te) || !(te->valuedouble >= 0 && te->valuedouble <= 2))
            return bad(e, "temperature", "'temperature' must be a number 0..2");
        r->temperature = (float)te->valuedouble;
    }
    int rc = parse_tools(r, e);
    if (rc)
        return rc;
    const cJSON *tc = cJSON_GetObjectItemCaseSensitive(r->root, "tool_choice");
    if (cJSON_IsString(tc)) {
        const char *v = tc->valuestring;
        if (!strcmp(v, "auto"))
            r->choice = HH_AGENT_CHOICE_AUTO;
        else if (!strcmp(v, "none"))
            r->choice = HH_AGENT_CHOICE_NONE;
        else if (!strcmp(v, "required"))
            r->choice = HH_AGENT_CHOICE_REQUIRED;
        else
            return bad(e, "tool_choice", "'tool_choice' must be auto, none, required or {\"type\":\"function\",\"name\"}");
    } else if (cJSON_IsObject(tc)) {
        const cJSON *ty = cJSON_GetObjectItemCaseSensitive(tc, "type");
        const cJSON *nm = cJSON_GetObjectItemCaseSensitive(tc, "name");
        if (!cJSON_IsString(ty) || strcmp(ty->valuestring, "function") || !cJSON_IsString(nm))
            return bad(e, "tool_choice", "a tool_choice object must be {\"type\":\"function\",\"name\":NAME}");
        r->choice = HH_AGENT_CHOICE_NAMED;
        r->choice_name = nm->valuestring;
    } else if (tc && !cJSON_IsNull(tc)) {
        return bad(e, "tool_choice", "'tool_choice' must be a string or an object");
    }
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(r->root, "input");
    if (!in && !r->previous_id)
        return bad(e, "input", "'input' is required");
    if (in && (rc = parse_input(r, in, e)))
        return rc;
    return 0;
}

/* ---- one run ------------------------------------------------------------------ */

typedef struct run_ctx {
    hh_http_server_t *s;
    const ht_conn_t  *cs;
    char              id[HH_AGENT_RUN_ID_MAX];
    int64_t           seq;
    const char       *use_case;
    const char       *model;
    bool              hash_only;
} run_ctx_t;

/* Every step: stored with its run, and an "agent" audit record (the use
 * case's policy decides full text or hashes). */
static void on_step(void *user, const hh_agent_step_info_t *st)
{
    run_ctx_t *x = user;
    hh_store_agent_step_t row;
    memset(&row, 0, sizeof row);
    row.seq = ++x->seq;
    snprintf(row.kind, sizeof row.kind, "%s", st->kind);
    snprintf(row.name, sizeof row.name, "%s", st->name ? st->name : "");
    snprintf(row.call_id, sizeof row.call_id, "%s", st->call_id ? st->call_id : "");
    row.arguments = (char *)(st->arguments ? st->arguments : "");
    row.result = (char *)(st->record ? st->record : st->result ? st->result : "");   /* loop.h: sql_query's summary */
    row.error = (char *)(st->error ? st->error : "");
    row.result_bytes = st->result ? (int64_t)strlen(st->result) : 0;
    row.prompt_tokens = st->prompt_tokens;
    row.completion_tokens = st->completion_tokens;
    row.duration_ms = st->duration_ms;
    hh_err_t err;
    hh_err_clear(&err);
    if (hh_store_agent_step_add(x->s->store, x->id, &row, &err))
        hh_log(HH_LOG_ERROR, "agents: step %lld of %s not stored: %s", (long long)row.seq, x->id, err.msg);
    char detail[512];
    snprintf(detail, sizeof detail, "run %s step %lld %s %s%s%s result_bytes=%lld duration_ms=%lld%s%.200s", x->id,
             (long long)row.seq, row.kind, row.name, row.call_id[0] ? " call " : "", row.call_id,
             (long long)row.result_bytes, (long long)row.duration_ms, st->error ? " error: " : "",
             st->error ? st->error : "");
    hh_audit_entry_t ae = { .kind = "agent", .user = x->cs->key.user, .use_case = x->use_case, .model = x->model,
                            .prompt = row.arguments, .output = row.result,
                            .decision = st->error ? "error" : "done", .detail = detail, .hash_only = x->hash_only,
                            .request_id = x->cs->log.request_id[0] ? x->cs->log.request_id : NULL };
    if (hh_audit_append(x->s->store, NULL, &ae, NULL, &err) != 0)
        hh_log(HH_LOG_ERROR, "audit: agent step not recorded: %s", err.msg);
}

static void make_run_id(char *buf, size_t cap)
{
    unsigned char r[16];
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
        memset(r, 0x5a, sizeof r);   /* the store refuses a second row with the same id */
    size_t n = (size_t)snprintf(buf, cap, "resp_");
    for (size_t i = 0; i < sizeof r && n + 2 < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%02x", r[i]);
}

static cJSON *response_json(const char *id, int64_t created, const resp_req_t *q, const hh_agent_result_t *res,
                            const char *status)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "id", id);
    cJSON_AddStringToObject(j, "object", "response");
    cJSON_AddNumberToObject(j, "created_at", (double)created);
    cJSON_AddStringToObject(j, "status", status);
    if (res && !strcmp(res->status, "failed")) {
        cJSON *er = cJSON_AddObjectToObject(j, "error");
        cJSON_AddStringToObject(er, "code", "server_error");
        cJSON_AddStringToObject(er, "message", res->error_msg);
    } else {
        cJSON_AddNullToObject(j, "error");
    }
    if (res && !strcmp(res->status, "incomplete")) {
        cJSON *d = cJSON_AddObjectToObject(j, "incomplete_details");
        cJSON_AddStringToObject(d, "reason", res->reason);
    } else {
        cJSON_AddNullToObject(j, "incomplete_details");
    }
    if (q->instructions)
        cJSON_AddStringToObject(j, "instructions", q->instructions);
    else
        cJSON_AddNullToObject(j, "instructions");
    if (q->max_output_tokens)
        cJSON_AddNumberToObject(j, "max_output_tokens", q->max_output_tokens);
    else
        cJSON_AddNullToObject(j, "max_output_tokens");
    cJSON_AddStringToObject(j, "model", q->model);
    cJSON_AddItemToObject(j, "output", res && res->output ? cJSON_Duplicate(res->output, true) : cJSON_CreateArray());
    cJSON_AddBoolToObject(j, "parallel_tool_calls", true);
    if (q->previous_id)
        cJSON_AddStringToObject(j, "previous_response_id", q->previous_id);
    else
        cJSON_AddNullToObject(j, "previous_response_id");
    cJSON_AddNumberToObject(j, "temperature", q->temperature >= 0 ? q->temperature : 1);
    const cJSON *tc = cJSON_GetObjectItemCaseSensitive(q->root, "tool_choice");
    cJSON_AddItemToObject(j, "tool_choice", tc && !cJSON_IsNull(tc) ? cJSON_Duplicate(tc, true)
                                                                   : cJSON_CreateString("auto"));
    const cJSON *tools = cJSON_GetObjectItemCaseSensitive(q->root, "tools");
    cJSON_AddItemToObject(j, "tools", cJSON_IsArray(tools) ? cJSON_Duplicate(tools, true) : cJSON_CreateArray());
    cJSON_AddNumberToObject(j, "top_p", 1);
    cJSON_AddStringToObject(j, "truncation", "disabled");
    cJSON_AddBoolToObject(j, "store", true);
    cJSON *text = cJSON_AddObjectToObject(j, "text");
    cJSON_AddStringToObject(cJSON_AddObjectToObject(text, "format"), "type", "text");
    cJSON_AddObjectToObject(j, "metadata");
    if (res) {
        cJSON *u = cJSON_AddObjectToObject(j, "usage");
        cJSON_AddNumberToObject(u, "input_tokens", (double)res->prompt_tokens);
        cJSON_AddNumberToObject(cJSON_AddObjectToObject(u, "input_tokens_details"), "cached_tokens", 0);
        cJSON_AddNumberToObject(u, "output_tokens", (double)res->completion_tokens);
        cJSON_AddNumberToObject(cJSON_AddObjectToObject(u, "output_tokens_details"), "reasoning_tokens", 0);
        cJSON_AddNumberToObject(u, "total_tokens", (double)(res->prompt_tokens + res->completion_tokens));
    } else {
        cJSON_AddNullToObject(j, "usage");
    }
    return j;
}

/* ---- streaming: the events of a finished run ----------------------------------- */

typedef struct sse {
    char  *p;
    size_t len;
    FILE  *f;
    int    seq;
} sse_t;

static void sse_event(sse_t *b, const char *type, cJSON *data)
{
    cJSON_AddStringToObject(data, "type", type);
    cJSON_AddNumberToObject(data, "sequence_number", b->seq++);
    char *t = cJSON_PrintUnformatted(data);
    cJSON_Delete(data);
    if (t && b->f)
        fprintf(b->f, "event: %s\ndata: %s\n\n", type, t);
    free(t);
}

static cJSON *ev_with(const char *k, cJSON *v)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, k, v);
    return o;
}

static void sse_item(sse_t *b, int idx, const cJSON *item)
{
    const char *type = cJSON_GetObjectItem(item, "type")->valuestring;
    const char *item_id = cJSON_GetObjectItem(item, "id")->valuestring;
    cJSON *added = cJSON_Duplicate(item, true);
    cJSON_ReplaceItemInObject(added, "status", cJSON_CreateString("in_progress"));
    bool msg = !strcmp(type, "message");
    if (msg)
        cJSON_ReplaceItemInObject(added, "content", cJSON_CreateArray());
    else if (!strcmp(type, "function_call"))
        cJSON_ReplaceItemInObject(added, "arguments", cJSON_CreateString(""));
    cJSON *ev = ev_with("item", added);
    cJSON_AddNumberToObject(ev, "output_index", idx);
    sse_event(b, "response.output_item.added", ev);
    if (msg) {
        const cJSON *part = cJSON_GetArrayItem(cJSON_GetObjectItem(item, "content"), 0);
        const char *text = cJSON_GetObjectItem(part, "text")->valuestring;
        cJSON *empty = cJSON_Duplicate(part, true);
        cJSON_ReplaceItemInObject(empty, "text", cJSON_CreateString(""));
        ev = ev_with("part", empty);
        cJSON_AddStringToObject(ev, "item_id", item_id);
        cJSON_AddNumberToObject(ev, "output_index", idx);
        cJSON_AddNumberToObject(ev, "content_index", 0);
        sse_event(b, "response.content_part.added", ev);
        ev = ev_with("delta", cJSON_CreateString(text));
        cJSON_AddStringToObject(ev, "item_id", item_id);
        cJSON_AddNumberToObject(ev, "output_index", idx);
        cJSON_AddNumberToObject(ev, "content_index", 0);
        sse_event(b, "response.output_text.delta", ev);
        ev = ev_with("text", cJSON_CreateString(text));
        cJSON_AddStringToObject(ev, "item_id", item_id);
        cJSON_AddNumberToObject(ev, "output_index", idx);
        cJSON_AddNumberToObject(ev, "content_index", 0);
        sse_event(b, "response.output_text.done", ev);
        ev = ev_with("part", cJSON_Duplicate(part, true));
        cJSON_AddStringToObject(ev, "item_id", item_id);
        cJSON_AddNumberToObject(ev, "output_index", idx);
        cJSON_AddNumberToObject(ev, "content_index", 0);
        sse_event(b, "response.content_part.done", ev);
    } else if (!strcmp(type, "function_call")) {
        const char *args = cJSON_GetObjectItem(item, "arguments")->valuestring;
        ev = ev_with("delta", cJSON_CreateString(args));
        cJSON_AddStringToObject(ev, "item_id", item_id);
        cJSON_AddNumberToObject(ev, "output_index", idx);
        sse_event(b, "response.function_call_arguments.delta", ev);
        ev = ev_with("arguments", cJSON_CreateString(args));
        cJSON_AddStringToObject(ev, "item_id", item_id);
        cJSON_AddNumberToObject(ev, "output_index", idx);
        sse_event(b, "response.function_call_arguments.done", ev);
    }
    ev = ev_with("item", cJSON_Duplicate(item, true));
    cJSON_AddNumberToObject(ev, "output_index", idx);
    sse_event(b, "response.output_item.done", ev);
}

static enum MHD_Result send_stream(struct MHD_Connection *c, ht_conn_t *cs, const char *id, int64_t created,
                                   const resp_req_t *q, const hh_agent_result_t *res)
{
    sse_t b = { 0 };
    b.f = open_memstream(&b.p, &b.len);
    if (!b.f)
        return MHD_NO;
    cJSON *start = response_json(id, created, q, NULL, "in_progress");
    sse_event(&b, "response.created", ev_with("response", cJSON_Duplicate(start, true)));
    sse_event(&b, "response.in_progress", ev_with("response", start));
    cJSON *fin = response_json(id, created, q, res, res->status);
    ht_mark_json(&cs->mark, fin);
    int idx = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, res->output)
        sse_item(&b, idx++, item);
    const char *done = !strcmp(res->status, "completed")    ? "response.completed"
                       : !strcmp(res->status, "incomplete") ? "response.incomplete"
                                                             : "response.failed";
    sse_event(&b, done, ev_with("response", fin));
    fclose(b.f);
    if (!b.p)
        return MHD_NO;
    ht_log_tokens(&cs->log, res->prompt_tokens, res->completion_tokens);
    struct MHD_Response *r = MHD_create_response_from_buffer(b.len, b.p, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(b.p);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    ht_mark_headers(&cs->mark, r);
    return ht_queue(c, cs, 200, r, b.len);
}

/* ---- handler ---------------------------------------------------------------------- */

/* The audit record of a refused or finished run. */
static void audit_run(hh_http_server_t *s, const ht_conn_t *cs, const char *model, const char *decision,
                      const char *detail)
{
    const char *uc = cs->mark.use_case[0] ? cs->mark.use_case : NULL;
    hh_audit_entry_t ae = { .kind = "agent", .user = cs->key.user, .use_case = uc, .model = model,
                            .decision = decision, .detail = detail,
                            .request_id = cs->log.request_id[0] ? cs->log.request_id : NULL };
    hh_err_t err;
    if (hh_audit_append(s->store, NULL, &ae, NULL, &err) != 0)
        hh_log(HH_LOG_ERROR, "audit: agent run not recorded: %s", err.msg);
}

static bool model_exists(hh_http_server_t *s, const char *id)
{
    hh_engine_model_info_t *ms = NULL;
    size_t n = 0;
    bool found = false;
    if (hh_engine_list_models(s->engine, &ms, &n, NULL) == 0)
        for (size_t i = 0; i < n && !found; i++)
            found = !strcmp(ms[i].id, id);
    free(ms);
    return found;
}

/* Queues a held run's answer (approvals.c) and answers 202; *aid the
 * approval's id (0: could not be queued, then a 500 went out). */
static enum MHD_Result hold_run(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const resp_req_t *q,
                                const hh_store_agent_run_t *run, const hh_agent_result_t *res, int64_t *aid)
{
    /* the text: the messages of the output, joined */
    size_t len = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, res->output) {
        const cJSON *part = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(it, "content"), 0);
        const char *t = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(part, "text"));
        len += t ? strlen(t) + 1 : 0;
    }
    char *text = calloc(1, len + 1);
    cJSON_ArrayForEach(it, res->output) {
        const cJSON *part = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(it, "content"), 0);
        const char *t = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(part, "text"));
        if (t && text) {
            if (text[0])
                strcat(text, "\n");
            strcat(text, t);
        }
    }
    cJSON *rq = cJSON_CreateObject();
    cJSON_AddStringToObject(rq, "model", q->model);
    cJSON_AddStringToObject(rq, "run_id", run->id);
    if (q->instructions)
        cJSON_AddStringToObject(rq, "instructions", q->instructions);
    cJSON_AddItemToObject(rq, "messages", cJSON_Duplicate(q->messages, true));
    cJSON *g = cJSON_CreateObject();
    cJSON_AddStringToObject(g, "run_id", run->id);
    cJSON_AddStringToObject(g, "status", res->status);
    cJSON_AddItemToObject(g, "output", cJSON_Duplicate(res->output, true));
    enum MHD_Result r = ht_approval_hold_grounded(s, c, cs, rq, g, &cs->mark, run->id, text ? text : "", aid);
    free(text);
    return r;
}

enum MHD_Result ht_handle_responses(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url)
{
    hh_api_error_t e;
    enum MHD_Result r = MHD_NO;
    resp_req_t q;
    hh_store_agent_t agent;
    memset(&agent, 0, sizeof agent);
    hh_store_agent_run_t prev, run;
    memset(&prev, 0, sizeof prev);
    memset(&run, 0, sizeof run);
    hh_agent_result_t res;
    memset(&res, 0, sizeof res);
    cJSON *ucbody = NULL, *history = NULL;
    char *system = NULL;
    const char **builtin = NULL;
    size_t n_builtin = 0;
    hh_err_t err;
    hh_err_clear(&err);
    int st = parse_request(cs->body ? cs->body : "", cs->len, &q, &e);
    bool is_agent = !st && !strncmp(q.model, RESP_AGENT_PREFIX, strlen(RESP_AGENT_PREFIX));
    const char *model = is_agent ? NULL : q.model;
    if (!st && is_agent) {
        /* an agent the caller may not run answers like a missing model (admins and auditors see it: 403) */
        const char *name = q.model + strlen(RESP_AGENT_PREFIX);
        bool ok = false;
        int rc = hh_store_agent_get(s->store, name, &agent, &err);
        if (rc && rc != HH_ENOENT)
            st = hh_api_error_set(&e, 500, "server_error", NULL, NULL, "%s", err.msg);
        else if (!rc)
            st = ht_agent_may_run(s, cs, &agent, &ok, &e);
        bool admin = !strcmp(cs->key.role, "admin") || !strcmp(cs->key.role, "auditor");
        if (!st && (rc == HH_ENOENT || (!ok && !admin)))
            st = hh_api_error_set(&e, 404, "invalid_request_error", "model_not_found", "model",
                                  "The model '%s' does not exist", q.model);
        else if (!st && !ok)
            st = hh_api_error_set(&e, 403, "permission_error", "agent_forbidden", "model",
                                  "Agent '%s' may be run only by the departments and roles its definition names",
                                  name);
        model = agent.model;
    }
    if (!st && !model_exists(s, model))
        st = hh_api_error_set(&e, 404, "invalid_request_error", "model_not_found", "model",
                              "The model '%s' does not exist", is_agent ? model : q.model);
    if (!st && q.previous_id) {
        /* the caller's own run only: another's reads like a missing one */
        int rc = hh_store_agent_run_get(s->store, q.previous_id, &prev, &err);
        if (rc == HH_ENOENT || (!rc && prev.user_id != cs->key.user_id))
            st = hh_api_error_set(&e, 404, "invalid_request_error", "previous_response_not_found",
                                  "previous_response_id", "Previous response with id '%s' not found.",
                                  q.previous_id);
        else if (rc)
            st = hh_api_error_set(&e, 500, "server_error", NULL, NULL, "%s", err.msg);
        else if (!(history = cJSON_Parse(prev.messages)) || !cJSON_IsArray(history))
            st = hh_api_error_set(&e, 500, "server_error", NULL, NULL, "the previous run's messages are unreadable");
    }
    /* governance (usecases.c): the agent's use case, else the request's */
    if (!st) {
        ucbody = cJSON_CreateObject();
        const cJSON *h = cJSON_GetObjectItemCaseSensitive(q.root, "hoheit");
        const cJSON *uc = cJSON_GetObjectItemCaseSensitive(h, "use_case");
        if (is_agent)
            cJSON_AddStringToObject(ucbody, "use_case", agent.use_case);
        else if (uc)
            cJSON_AddItemToObject(ucbody, "use_case", cJSON_Duplicate(uc, true));
        st = ht_usecase_select_ask(s, c, cs, ucbody, model, &e);
    }
    /* a held run's text is not released: nothing may continue it before a decision */
    if (!st && q.previous_id && !strcmp(prev.status, "held"))
        st = hh_api_error_set(&e, 409, "invalid_request_error", "response_held", "previous_response_id",
                              "Response '%s' is held for human approval (%s); it cannot be continued",
                              q.previous_id, prev.reason);
    if (!st && cs->mark.redact_prompts) {   /* the model sees only redacted user text */
        cJSON *m;
        cJSON_ArrayForEach(m, q.messages) {
            cJSON *ct = cJSON_GetObjectItemCaseSensitive(m, "content");
            char *red = NULL;
            if (st || !cJSON_IsString(ct))
                continue;
            if (!(st = ht_redact_text(s, ct->valuestring, &red, &cs->mark, &e)))
                cJSON_ReplaceItemInObject(m, "content", cJSON_CreateString(red));
            free(red);
        }
    }
    if (!st)
        st = ht_quota_begin(s, cs, cs->mark.use_case, &e);   /* quota.c: before any work */
    if (st) {
        audit_run(s, cs, model ? model : q.model, "refused", e.message);
        r = ht_send_error(c, cs, &e);
        goto out;
    }
    /* the chat history: the previous run's, then this input */
    size_t n_history = (size_t)cJSON_GetArraySize(history);
    if (history) {
        cJSON *m;
        while ((m = cJSON_DetachItemFromArray(q.messages, 0)))
            cJSON_AddItemToArray(history, m);
        cJSON_Delete(q.messages);
        q.messages = history;
        history = NULL;
    }
    const char *sp = is_agent && agent.system_prompt ? agent.system_prompt : "";
    /* an agent with a memory tool recalls the caller's facts (agent/memory.h) */
    char *recall = NULL;
    if (is_agent && hh_agent_memory_enabled(agent.tools) &&
        hh_agent_memory_prompt(s->store, cs->key.user_id, &recall, &err) != 0)
        hh_log(HH_LOG_ERROR, "agents: memory of %s not recalled: %s", cs->key.user, err.msg);
    const char *ins = q.instructions ? q.instructions : "";
    if (asprintf(&system, "%s%s%s%s%s", sp, sp[0] && ins[0] ? "\n\n" : "", ins,
                 recall && recall[0] && (sp[0] || ins[0]) ? "\n\n" : "", recall ? recall : "") < 0)
        system = NULL;
    free(recall);
    cJSON *bt = is_agent ? cJSON_Parse(agent.tools) : NULL;
    n_builtin = (size_t)cJSON_GetArraySize(bt);
    builtin = n_builtin ? calloc(n_builtin, sizeof *builtin) : NULL;
    for (size_t i = 0; builtin && i < n_builtin; i++)
        builtin[i] = cJSON_GetArrayItem(bt, (int)i)->valuestring;
    const cJSON *ct;
    cJSON_ArrayForEach(ct, q.client_tools)
        for (size_t i = 0; i < n_builtin; i++)
            if (!strcmp(cJSON_GetObjectItem(cJSON_GetObjectItem(ct, "function"), "name")->valuestring, builtin[i]))
                st = hh_api_error_set(&e, 400, "invalid_request_error", NULL, "tools",
                                      "tool '%s' is a built-in tool of this agent; give the function another name",
                                      builtin[i]);
    if (!st && q.choice == HH_AGENT_CHOICE_NAMED) {
        bool found = false;
        for (size_t i = 0; i < n_builtin; i++)
            found = found || !strcmp(builtin[i], q.choice_name);
        cJSON_ArrayForEach(ct, q.client_tools)
            found = found ||
                    !strcmp(cJSON_GetObjectItem(cJSON_GetObjectItem(ct, "function"), "name")->valuestring, q.choice_name);
        if (!found)
            st = hh_api_error_set(&e, 400, "invalid_request_error", NULL, "tool_choice",
                                  "tool_choice names function '%s', which is not among the tools", q.choice_name);
    }
    if (!st && (q.choice == HH_AGENT_CHOICE_REQUIRED) && n_builtin + (size_t)cJSON_GetArraySize(q.client_tools) == 0)
        st = hh_api_error_set(&e, 400, "invalid_request_error", NULL, "tool_choice", "'tool_choice' requires tools");
    if (st || !system) {
        cJSON_Delete(bt);
        ht_quota_end(s, &cs->quota, 0, 0);
        if (!st)
            hh_api_error_set(&e, 500, "server_error", NULL, NULL, "out of memory");
        audit_run(s, cs, model, "refused", e.message);
        r = ht_send_error(c, cs, &e);
        goto out;
    }
    /* the run's record, before its first step */
    int64_t created = (int64_t)time(NULL);
    make_run_id(run.id, sizeof run.id);
    run.user_id = cs->key.user_id;
    snprintf(run.agent, sizeof run.agent, "%s", is_agent ? agent.name : "");
    snprintf(run.model, sizeof run.model, "%s", model);
    snprintf(run.use_case, sizeof run.use_case, "%s", cs->mark.use_case);
    snprintf(run.previous_id, sizeof run.previous_id, "%s", q.previous_id ? q.previous_id : "");
    /* Art. 14: a held run is "held" from its start, so its owner never reads
     * its steps or output before a decision (agents_api.c) */
    snprintf(run.status, sizeof run.status, "%s", cs->mark.held ? "held" : "in_progress");
    run.request = cJSON_PrintUnformatted(q.root);
    run.created_at = hh_log_now_ms();
    if (hh_store_agent_run_put(s->store, &run, &err)) {
        cJSON_Delete(bt);
        ht_quota_end(s, &cs->quota, 0, 0);
        hh_api_error_set(&e, 500, "server_error", NULL, NULL, "%s", err.msg);
        r = ht_send_error(c, cs, &e);
        goto out;
    }
    hh_reg_policy_t pol;
    run_ctx_t rx = { .s = s, .cs = cs, .use_case = cs->mark.use_case, .model = model };
    snprintf(rx.id, sizeof rx.id, "%s", run.id);
    rx.hash_only = hh_register_policy_for(s->store, cs->mark.use_case, &pol, NULL) == 0 &&
                   pol.audit_detail == HH_AUDIT_HASHES;
    hh_agent_loop_params_t lp = hh_agent_loop_default_params();
    lp.engine = s->engine;
    lp.env = (hh_agent_env_t){ .store = s->store, .analyzer = s->analyzer, .kb = s->kb, .user = cs->key.user,
                               .conf = s->agent_conf, .connections = is_agent ? agent.connections : NULL,
                               .endpoints = is_agent ? agent.endpoints : NULL, .read_only = cs->mark.held,
                               .user_id = cs->key.user_id, .engine = s->engine, .model = model,
                               .cache_scope = (uint64_t)cs->key.user_id };
    lp.model = model;
    lp.system = system[0] ? system : NULL;
    lp.builtin = builtin;
    lp.n_builtin = n_builtin;
    lp.client_tools = q.client_tools;
    lp.choice = q.choice;
    lp.choice_name = q.choice_name;
    if (is_agent) {
        lp.max_steps = (int32_t)agent.max_steps;
        lp.max_tokens = agent.max_tokens;
        lp.max_seconds = (double)agent.max_seconds;
    }
    if (q.max_output_tokens)
        lp.max_output_tokens = q.max_output_tokens;
    lp.temperature = q.temperature;
    lp.cache_scope = (uint64_t)cs->key.user_id;   /* prefix cache per user (issue 12) */
    lp.user = cs->key.user;
    lp.n_history = n_history;
    lp.on_step = on_step;
    lp.on_step_user = &rx;
    int rc = hh_agent_loop_run(&lp, q.messages, &res, &err);
    cJSON_Delete(bt);
    ht_quota_end(s, &cs->quota, res.prompt_tokens, res.completion_tokens);
    if (rc) {
        snprintf(res.status, sizeof res.status, "failed");
        snprintf(res.error_msg, sizeof res.error_msg, "%s", err.msg);
    }
    /* the run's end: status, output, the messages for previous_response_id */
    if (!cs->mark.held || !strcmp(res.status, "failed"))
        snprintf(run.status, sizeof run.status, "%s", res.status);
    snprintf(run.reason, sizeof run.reason, "%s", !strcmp(res.status, "failed") ? "model_error" : res.reason);
    run.messages = cJSON_PrintUnformatted(q.messages);
    run.output = res.output ? cJSON_PrintUnformatted(res.output) : NULL;
    run.prompt_tokens = res.prompt_tokens;
    run.completion_tokens = res.completion_tokens;
    run.finished_at = hh_log_now_ms();
    if (cs->mark.held && strcmp(res.status, "failed")) {
        /* Art. 14: the run's answer is queued for a human, not released
         * (approvals.c, as /api/ask holds a grounded answer): 202 with the
         * pending id; the approver sees the conversation with every tool
         * result, the requester gets the text and the output items once
         * approved (GET /api/approvals/{id}) */
        int64_t aid = 0;
        r = hold_run(s, c, cs, &q, &run, &res, &aid);
        snprintf(run.reason, sizeof run.reason, "approval %lld", (long long)aid);
    }
    if (hh_store_agent_run_put(s->store, &run, &err))
        hh_log(HH_LOG_ERROR, "agents: run %s not stored: %s", run.id, err.msg);
    char detail[256];
    snprintf(detail, sizeof detail, "run %s %s%s%s steps=%lld tokens=%lld", run.id, res.status,
             res.reason[0] ? " " : "", res.reason, (long long)rx.seq,
             (long long)(res.prompt_tokens + res.completion_tokens));
    audit_run(s, cs, model, cs->mark.held && strcmp(res.status, "failed") ? "pending" : res.status,
              cs->mark.held ? run.reason : detail);
    if (cs->mark.held && strcmp(res.status, "failed")) {
        ;   /* answered by hold_run */
    } else if (!strcmp(res.status, "failed") && rx.seq <= 1 && res.error_code) {
        /* the engine refused the first call (busy, too long): its HTTP error */
        hh_openai_submit_error(res.error_code, &(hh_err_t){ .code = res.error_code }, model, &e);
        snprintf(e.message, sizeof e.message, "%s", res.error_msg);
        r = ht_send_error(c, cs, &e);
    } else if (q.stream) {
        r = send_stream(c, cs, run.id, created, &q, &res);
    } else {
        cJSON *j = response_json(run.id, created, &q, &res, res.status);
        ht_log_tokens(&cs->log, res.prompt_tokens, res.completion_tokens);
        r = ht_send_json(c, cs, 200, j);
    }
out:
    hh_agent_result_clear(&res);
    hh_store_agent_run_clear(&run);
    hh_store_agent_run_clear(&prev);
    hh_store_agent_clear(&agent);
    cJSON_Delete(ucbody);
    cJSON_Delete(history);
    free(system);
    free(builtin);
    req_free(&q);
    return r;
}
