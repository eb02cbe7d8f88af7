/* openai.c - validation of OpenAI chat/completions request bodies into
 * hh_gen_request_t, OpenAI's error JSON, and engine error mapping. */
#include "http/openai.h"
#include "sample/grammar.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_MESSAGES   4096
#define MAX_TOKENS_CAP 1000000   /* engine clamps further to its limit */

/* Whether the token at p (up to a delimiter) is a server file path to
 * shorten: two or more '/' and not one of the API's own URL paths (the
 * client sent those) nor a URL. */
static bool is_server_path(const char *p, size_t n)
{
    if ((n >= 4 && !memcmp(p, "/v1/", 4)) || (n >= 5 && !memcmp(p, "/api/", 5)))
        return false;
    size_t slashes = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == ':' && i + 2 < n && p[i + 1] == '/' && p[i + 2] == '/')
            return false;
        slashes += p[i] == '/';
    }
    return slashes >= 2;
}

/* Rewrites msg in place so that every file path in it keeps only its file
 * name: error messages from the store, the extractors and the model loader
 * name files by their full server path (data directory, upload folder),
 * which no client is to learn. A token ends at white space, quotes,
 * brackets, ',', ';' and ':'. */
static void strip_server_paths(char *msg)
{
    static const char delim[] = " \t\r\n'\"`()[],;:";
    char *w = msg;
    const char *r = msg;
    while (*r) {
        if (strchr(delim, *r)) {
            *w++ = *r++;
            continue;
        }
        size_t n = strcspn(r, delim);
        const char *keep = r;
        if (is_server_path(r, n)) {
            const char *slash = r + n;
            while (slash > r && slash[-1] != '/')
                slash--;
            keep = slash;
        }
        size_t k = (size_t)(r + n - keep);
        memmove(w, keep, k);
        w += k;
        r += n;
    }
    *w = '\0';
}

int hh_api_error_set(hh_api_error_t *e, int status, const char *type, const char *code, const char *param,
                     const char *fmt, ...)
{
    if (!e)
        return status;
    e->status = status;
    snprintf(e->type, sizeof e->type, "%s", type ? type : "invalid_request_error");
    snprintf(e->code, sizeof e->code, "%s", code ? code : "");
    snprintf(e->param, sizeof e->param, "%s", param ? param : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    strip_server_paths(e->message);
    return status;
}

char *hh_api_error_json(const hh_api_error_t *e)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *o = cJSON_AddObjectToObject(root, "error");
    if (!o) {
        cJSON_Delete(root);
        return NULL;
    }
    cJSON_AddStringToObject(o, "message", e->message);
    cJSON_AddStringToObject(o, "type", e->type);
    if (e->param[0])
        cJSON_AddStringToObject(o, "param", e->param);
    else
        cJSON_AddNullToObject(o, "param");
    if (e->code[0])
        cJSON_AddStringToObject(o, "code", e->code);
    else
        cJSON_AddNullToObject(o, "code");
    char *s = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return s;
}

static int bad(hh_api_error_t *e, const char *param, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int bad(hh_api_error_t *e, const char *param, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return hh_api_error_set(e, 400, "invalid_request_error", NULL, param, "%s", msg);
}

/* Optional number field in [lo, hi]; absent or null keeps *out. */
static int get_number(const cJSON *o, const char *name, double lo, double hi, double *out, hh_api_error_t *e)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!v || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsNumber(v))
        return bad(e, name, "'%s' must be a number", name);
    double d = v->valuedouble;
    if (!isfinite(d) || d < lo || d > hi)
        return bad(e, name, "'%s' must be between %g and %g (got %g)", name, lo, hi, d);
    *out = d;
    return 0;
}

/* Optional integer field in [lo, hi]. */
static int get_int(const cJSON *o, const char *name, double lo, double hi, int64_t *out, bool *present,
                   hh_api_error_t *e)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    if (present)
        *present = false;
    if (!v || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble != floor(v->valuedouble))
        return bad(e, name, "'%s' must be an integer", name);
    double d = v->valuedouble;
    if (d < lo || d > hi)
        return bad(e, name, "'%s' must be between %.0f and %.0f (got %.0f)", name, lo, hi, d);
    *out = (int64_t)d;
    if (present)
        *present = true;
    return 0;
}

static int get_bool(const cJSON *o, const char *name, bool *out, hh_api_error_t *e)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!v || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsBool(v))
        return bad(e, name, "'%s' must be a boolean", name);
    *out = cJSON_IsTrue(v);
    return 0;
}

/* Keeps a malloc'd string in r->texts (freed with the request). */
static char *keep_text(hh_openai_req_t *r, char *s)
{
    if (!s)
        return NULL;
    char **nt = realloc(r->texts, (r->n_texts + 1) * sizeof *nt);
    if (!nt) {
        free(s);
        return NULL;
    }
    r->texts = nt;
    r->texts[r->n_texts++] = s;
    return s;
}

/* Message content: a string, null, or an array of {type:"text", text}. */
static int parse_content(hh_openai_req_t *r, const cJSON *c, const char **out, bool allow_null, hh_api_error_t *e)
{
    *out = NULL;
    if (!c || cJSON_IsNull(c)) {
        if (!allow_null)
            return bad(e, "messages", "message content is required");
        return 0;
    }
    if (cJSON_IsString(c)) {
        *out = c->valuestring;
        return 0;
    }
    if (!cJSON_IsArray(c))
        return bad(e, "messages", "message content must be a string or an array of content parts");
    size_t total = 0;
    const cJSON *p;
    cJSON_ArrayForEach(p, c) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(p, "type");
        const cJSON *tx = cJSON_GetObjectItemCaseSensitive(p, "text");
        if (!cJSON_IsObject(p) || !cJSON_IsString(t))
            return bad(e, "messages", "each content part must be an object with a string 'type'");
        if (strcmp(t->valuestring, "text") != 0)
            return bad(e, "messages", "content part type '%s' is not supported (only 'text')", t->valuestring);
        if (!cJSON_IsString(tx))
            return bad(e, "messages", "a text content part needs a string 'text'");
        total += strlen(tx->valuestring);
    }
    char *buf = malloc(total + 1);
    if (!keep_text(r, buf))
        return hh_api_error_set(e, 500, "server_error", NULL, NULL, "out of memory");
    size_t n = 0;
    cJSON_ArrayForEach(p, c) {
        const char *s = cJSON_GetObjectItemCaseSensitive(p, "text")->valuestring;
        size_t l = strlen(s);
        memcpy(buf + n, s, l);
        n += l;
    }
    buf[n] = '\0';
    *out = buf;
    return 0;
}

static int parse_messages(hh_openai_req_t *r, const cJSON *msgs, hh_api_error_t *e)
{
    if (!msgs)
        return bad(e, "messages", "'messages' is required");
    if (!cJSON_IsArray(msgs))
        return bad(e, "messages", "'messages' must be an array");
    int n = cJSON_GetArraySize(msgs);
    if (n < 1)
        return bad(e, "messages", "'messages' must not be empty");
    if (n > MAX_MESSAGES)
        return bad(e, "messages", "too many messages (%d, at most %d)", n, MAX_MESSAGES);
    /* All tool calls in one array: count first. */
    size_t n_calls = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, msgs) {
        const cJSON *tc = cJSON_GetObjectItemCaseSensitive(m, "tool_calls");
        if (cJSON_IsArray(tc))
            n_calls += (size_t)cJSON_GetArraySize(tc);
    }
    r->msgs = calloc((size_t)n, sizeof *r->msgs);
    r->calls = n_calls ? calloc(n_calls, sizeof *r->calls) : NULL;
    if (!r->msgs || (n_calls && !r->calls))
        return hh_api_error_set(e, 500, "server_error", NULL, NULL, "out of memory");
    size_t ci = 0;
    int i = 0;
    cJSON_ArrayForEach(m, msgs) {
        hh_chat_msg_t *cm = &r->msgs[i];
        if (!cJSON_IsObject(m))
            return bad(e, "messages", "messages[%d] must be an object", i);
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
        if (!cJSON_IsString(role))
            return bad(e, "messages", "messages[%d].role must be a string", i);
        const char *rs = role->valuestring;
        if (!strcmp(rs, "system") || !strcmp(rs, "developer"))
            cm->role = HH_ROLE_SYSTEM;
        else if (!strcmp(rs, "user"))
            cm->role = HH_ROLE_USER;
        else if (!strcmp(rs, "assistant"))
            cm->role = HH_ROLE_ASSISTANT;
        else if (!strcmp(rs, "tool"))
            cm->role = HH_ROLE_TOOL;
        else
            return bad(e, "messages", "messages[%d].role '%s' is not one of system, developer, user, assistant, tool",
                       i, rs);
        const cJSON *tc = cJSON_GetObjectItemCaseSensitive(m, "tool_calls");
        bool has_calls = false;
        if (tc && !cJSON_IsNull(tc)) {
            if (cm->role != HH_ROLE_ASSISTANT || !cJSON_IsArray(tc))
                return bad(e, "messages", "messages[%d].tool_calls must be an array on an assistant message", i);
            cm->tool_calls = r->calls ? &r->calls[ci] : NULL;
            const cJSON *c;
            cJSON_ArrayForEach(c, tc) {
                const cJSON *fn = cJSON_GetObjectItemCaseSensitive(c, "function");
                const cJSON *nm = cJSON_GetObjectItemCaseSensitive(fn, "name");
                const cJSON *args = cJSON_GetObjectItemCaseSensitive(fn, "arguments");
                const cJSON *id = cJSON_GetObjectItemCaseSensitive(c, "id");
                if (!cJSON_IsObject(c) || !cJSON_IsObject(fn) || !cJSON_IsString(nm) || !cJSON_IsString(args))
                    return bad(e, "messages",
                               "messages[%d].tool_calls entries need function.name and function.arguments strings", i);
                r->calls[ci].name = nm->valuestring;
                r->calls[ci].arguments_json = args->valuestring;
                r->calls[ci].id = cJSON_IsString(id) ? id->valuestring : NULL;
                ci++;
                cm->n_tool_calls++;
            }
            has_calls = cm->n_tool_calls > 0;
        }
        int rc = parse_content(r, cJSON_GetObjectItemCaseSensitive(m, "content"), &cm->content,
                               cm->role == HH_ROLE_ASSISTANT && has_calls, e);
        if (rc)
            return rc;
        if (cm->role == HH_ROLE_ASSISTANT && !cm->content && !has_calls)
            cm->content = "";
        const cJSON *tcid = cJSON_GetObjectItemCaseSensitive(m, "tool_call_id");
        if (tcid && !cJSON_IsNull(tcid)) {
            if (!cJSON_IsString(tcid))
                return bad(e, "messages", "messages[%d].tool_call_id must be a string", i);
            cm->tool_call_id = tcid->valuestring;
        }
        if (cm->role == HH_ROLE_TOOL && !cm->tool_call_id)
            return bad(e, "messages", "messages[%d] (role tool) needs tool_call_id", i);
        const cJSON *nm = cJSON_GetObjectItemCaseSensitive(m, "name");
        if (nm && !cJSON_IsNull(nm)) {
            if (!cJSON_IsString(nm))
                return bad(e, "messages", "messages[%d].name must be a string", i);
            cm->name = nm->valuestring;
        }
        i++;
    }
    r->gen.messages = r->msgs;
    r->gen.n_messages = (size_t)n;
    return 0;
}

static int parse_stop(hh_openai_req_t *r, const cJSON *root, hh_api_error_t *e)
{
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(root, "stop");
    if (!s || cJSON_IsNull(s))
        return 0;
    size_t n = 0;
    if (cJSON_IsString(s)) {
        r->stops[n++] = s->valuestring;
    } else if (cJSON_IsArray(s)) {
        if (cJSON_GetArraySize(s) > HH_OPENAI_MAX_STOP)
            return bad(e, "stop", "'stop' takes at most %d sequences", HH_OPENAI_MAX_STOP);
        const cJSON *x;
        cJSON_ArrayForEach(x, s) {
            if (!cJSON_IsString(x))
                return bad(e, "stop", "'stop' entries must be strings");
            r->stops[n++] = x->valuestring;
        }
    } else {
        return bad(e, "stop", "'stop' must be a string or an array of strings");
    }
    for (size_t i = 0; i < n; i++)
        if (!r->stops[i][0])
            return bad(e, "stop", "'stop' sequences must not be empty");
    r->gen.stop = r->stops;
    r->gen.n_stop = n;
    return 0;
}

static int parse_response_format(hh_openai_req_t *r, const cJSON *root, hh_api_error_t *e)
{
    const cJSON *rf = cJSON_GetObjectItemCaseSensitive(root, "response_format");
    if (!rf || cJSON_IsNull(rf))
        return 0;
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(rf, "type");
    if (!cJSON_IsObject(rf) || !cJSON_IsString(t))
        return bad(e, "response_format", "'response_format' must be an object with a string 'type'");
    if (!strcmp(t->valuestring, "text"))
        return 0;
    if (!strcmp(t->valuestring, "json_object")) {
        r->gen.json_object = true;
        return 0;
    }
    if (strcmp(t->valuestring, "json_schema") != 0)
        return bad(e, "response_format.type", "response_format type '%s' is not one of text, json_object, json_schema",
                   t->valuestring);
    const cJSON *js = cJSON_GetObjectItemCaseSensitive(rf, "json_schema");
    const cJSON *schema = cJSON_GetObjectItemCaseSensitive(js, "schema");
    if (!cJSON_IsObject(js))
        return bad(e, "response_format.json_schema", "'response_format.json_schema' must be an object");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(js, "name");
    if (name && !cJSON_IsString(name))
        return bad(e, "response_format.json_schema.name", "'json_schema.name' must be a string");
    if (!schema || cJSON_IsNull(schema)) {
        r->gen.json_object = true;
        return 0;
    }
    if (!cJSON_IsObject(schema) && !cJSON_IsBool(schema))
        return bad(e, "response_format.json_schema.schema", "'json_schema.schema' must be a JSON Schema object");
    r->schema_json = cJSON_PrintUnformatted(schema);
    if (!r->schema_json)
        return hh_api_error_set(e, 500, "server_error", NULL, NULL, "out of memory");
    r->gen.json_schema = r->schema_json;
    return 0;
}

/* tools + tool_choice. "required" and a named function are enforced by a
 * schema for the call object {"name", "arguments"} (see grammar.h); the
 * server turns such constrained output into tool_calls. */
static int parse_tools(hh_openai_req_t *r, const cJSON *root, hh_api_error_t *e)
{
    const cJSON *tools = cJSON_GetObjectItemCaseSensitive(root, "tools");
    const cJSON *choice = cJSON_GetObjectItemCaseSensitive(root, "tool_choice");
    if (tools && !cJSON_IsNull(tools)) {
        if (!cJSON_IsArray(tools))
            return bad(e, "tools", "'tools' must be an array");
        const cJSON *t;
        cJSON_ArrayForEach(t, tools) {
            const cJSON *type = cJSON_GetObjectItemCaseSensitive(t, "type");
            const cJSON *fn = cJSON_GetObjectItemCaseSensitive(t, "function");
            const cJSON *nm = cJSON_GetObjectItemCaseSensitive(fn, "name");
            const cJSON *params = cJSON_GetObjectItemCaseSensitive(fn, "parameters");
            if (!cJSON_IsObject(t) || !cJSON_IsString(type) || strcmp(type->valuestring, "function") != 0 ||
                !cJSON_IsObject(fn) || !cJSON_IsString(nm))
                return bad(e, "tools", "each tool must be {\"type\":\"function\",\"function\":{\"name\":...}}");
            if (params && !cJSON_IsObject(params))
                return bad(e, "tools", "function.parameters must be a JSON Schema object");
        }
    }
    int n_tools = cJSON_IsArray(tools) ? cJSON_GetArraySize(tools) : 0;
    const char *forced = NULL;
    bool required = false;
    if (choice && !cJSON_IsNull(choice)) {
        if (cJSON_IsString(choice)) {
            const char *c = choice->valuestring;
            if (!strcmp(c, "none"))
                r->tool_choice_none = true;
            else if (!strcmp(c, "required"))
                required = true;
            else if (strcmp(c, "auto") != 0)
                return bad(e, "tool_choice", "'tool_choice' must be none, auto, required or a named function");
        } else if (cJSON_IsObject(choice)) {
            const cJSON *fn = cJSON_GetObjectItemCaseSensitive(choice, "function");
            const cJSON *nm = cJSON_GetObjectItemCaseSensitive(fn, "name");
            if (!cJSON_IsString(nm))
                return bad(e, "tool_choice", "'tool_choice' object needs function.name");
            forced = nm->valuestring;
        } else {
            return bad(e, "tool_choice", "'tool_choice' must be a string or an object");
        }
    }
    if ((required || forced) && n_tools == 0)
        return bad(e, "tool_choice", "'tool_choice' requires 'tools'");
    if (n_tools == 0 || r->tool_choice_none)
        return 0;
    r->tools_json = cJSON_PrintUnformatted(tools);
    if (!r->tools_json)
        return hh_api_error_set(e, 500, "server_error", NULL, NULL, "out of memory");
    r->gen.tools_json = r->tools_json;
    if (!required && !forced)
        return 0;
    if (r->gen.json_schema || r->gen.json_object)
        return bad(e, "tool_choice", "a forced tool call cannot be combined with response_format json");
    /* Schema of one call: anyOf over the allowed tools. */
    cJSON *any = cJSON_CreateArray();
    const cJSON *t;
    bool found = false;
    cJSON_ArrayForEach(t, tools) {
        const cJSON *fn = cJSON_GetObjectItemCaseSensitive(t, "function");
        const char *nm = cJSON_GetObjectItemCaseSensitive(fn, "name")->valuestring;
        if (forced && strcmp(nm, forced) != 0)
            continue;
        found = true;
        const cJSON *params = cJSON_GetObjectItemCaseSensitive(fn, "parameters");
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "type", "object");
        cJSON *props = cJSON_AddObjectToObject(o, "properties");
        cJSON *name_s = cJSON_AddObjectToObject(props, "name");
        cJSON_AddStringToObject(name_s, "const", nm);
        if (params)
            cJSON_AddItemToObject(props, "arguments", cJSON_Duplicate(params, true));
        else
            cJSON_AddItemToObject(props, "arguments", cJSON_Parse("{\"type\":\"object\"}"));
        cJSON *req = cJSON_AddArrayToObject(o, "required");
        cJSON_AddItemToArray(req, cJSON_CreateString("name"));
        cJSON_AddItemToArray(req, cJSON_CreateString("arguments"));
        cJSON_AddItemToArray(any, o);
    }
    if (!found) {
        cJSON_Delete(any);
        return bad(e, "tool_choice", "tool_choice names function '%s', which is not in 'tools'", forced);
    }
    cJSON *schema = cJSON_CreateObject();
    cJSON_AddItemToObject(schema, "anyOf", any);
    r->schema_json = cJSON_PrintUnformatted(schema);
    cJSON_Delete(schema);
    if (!r->schema_json)
        return hh_api_error_set(e, 500, "server_error", NULL, NULL, "out of memory");
    r->gen.json_schema = r->schema_json;
    r->gen.tool_call_json = true;   /* the engine reports the output as one tool call */
    /* tools_json stays: the engine renders the tool descriptions into the
     * prompt when the context has room for them and the reply (the grammar
     * alone enforces the call's shape). */
    return 0;
}

static int parse_common(hh_openai_req_t *r, const cJSON *root, hh_api_error_t *e)
{
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    if (!model)
        return bad(e, "model", "'model' is required");
    if (!cJSON_IsString(model) || !model->valuestring[0])
        return bad(e, "model", "'model' must be a non-empty string");
    r->gen.model = model->valuestring;

    hh_sampler_params_t *sp = &r->gen.sampling;
    *sp = hh_sampler_default_params();
    /* OpenAI's defaults: temperature 1, top_p 1, no top-k/min-p truncation
     * and no repetition penalty beyond what the request asks. */
    sp->temperature = 1.0f;
    sp->top_p = 1.0f;
    sp->top_k = 0;
    sp->min_p = 0.0f;
    sp->repeat_penalty = 1.0f;
    double d;
    int rc;
    d = sp->temperature;
    if ((rc = get_number(root, "temperature", 0, 2, &d, e)))
        return rc;
    sp->temperature = (float)d;
    d = sp->top_p;
    if ((rc = get_number(root, "top_p", 0, 1, &d, e)))
        return rc;
    sp->top_p = (float)d;
    d = 0;
    if ((rc = get_number(root, "presence_penalty", -2, 2, &d, e)))
        return rc;
    sp->presence_penalty = (float)d;
    d = 0;
    if ((rc = get_number(root, "frequency_penalty", -2, 2, &d, e)))
        return rc;
    sp->frequency_penalty = (float)d;
    if (sp->presence_penalty != 0 || sp->frequency_penalty != 0)
        sp->repeat_last_n = -1;
    int64_t seed = 0;
    bool has_seed = false;
    if ((rc = get_int(root, "seed", -9007199254740991.0, 9007199254740991.0, &seed, &has_seed, e)))
        return rc;
    if (has_seed)
        sp->seed = (uint64_t)seed;

    int64_t mt = 0;
    bool has_mt = false;
    if ((rc = get_int(root, "max_tokens", 1, MAX_TOKENS_CAP, &mt, &has_mt, e)))
        return rc;
    int64_t mct = 0;
    bool has_mct = false;
    if ((rc = get_int(root, "max_completion_tokens", 1, MAX_TOKENS_CAP, &mct, &has_mct, e)))
        return rc;
    r->gen.max_tokens = has_mct ? (int32_t)mct : has_mt ? (int32_t)mt : (r->kind == HH_OPENAI_COMPLETION ? 16 : 0);
    /* hoheit extension (issue 15): prompt-lookup decoding for a greedy
     * request (engine.h; default off here, on for grounded answers). */
    if ((rc = get_bool(root, "prompt_lookup", &r->gen.prompt_lookup, e)))
        return rc;

    int64_t n = 1;
    if ((rc = get_int(root, "n", 1, 128, &n, NULL, e)))
        return rc;
    if (n != 1)
        return bad(e, "n", "only n = 1 is supported");

    if ((rc = get_bool(root, "stream", &r->stream, e)))
        return rc;
    const cJSON *so = cJSON_GetObjectItemCaseSensitive(root, "stream_options");
    if (so && !cJSON_IsNull(so)) {
        if (!cJSON_IsObject(so))
            return bad(e, "stream_options", "'stream_options' must be an object");
        if ((rc = get_bool(so, "include_usage", &r->include_usage, e)))
            return rc;
    }
    const cJSON *user = cJSON_GetObjectItemCaseSensitive(root, "user");
    if (user && !cJSON_IsNull(user) && !cJSON_IsString(user))
        return bad(e, "user", "'user' must be a string");
    if ((rc = parse_stop(r, root, e)))
        return rc;
    return 0;
}

static int parse_chat(hh_openai_req_t *r, const cJSON *root, hh_api_error_t *e)
{
    int rc = parse_messages(r, cJSON_GetObjectItemCaseSensitive(root, "messages"), e);
    if (rc)
        return rc;
    if ((rc = get_bool(root, "logprobs", &r->logprobs, e)))
        return rc;
    int64_t tl = 0;
    bool has_tl = false;
    if ((rc = get_int(root, "top_logprobs", 0, 20, &tl, &has_tl, e)))
        return rc;
    if (has_tl && !r->logprobs)
        return bad(e, "top_logprobs", "'top_logprobs' requires 'logprobs': true");
    r->top_logprobs = (int)tl;
    if ((rc = parse_response_format(r, root, e)))
        return rc;
    return parse_tools(r, root, e);
}

static int parse_completion(hh_openai_req_t *r, const cJSON *root, hh_api_error_t *e)
{
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(root, "prompt");
    if (!p)
        return bad(e, "prompt", "'prompt' is required");
    if (cJSON_IsString(p)) {
        r->gen.prompt = p->valuestring;
    } else if (cJSON_IsArray(p) && cJSON_GetArraySize(p) == 1 && cJSON_IsString(cJSON_GetArrayItem(p, 0))) {
        r->gen.prompt = cJSON_GetArrayItem(p, 0)->valuestring;
    } else if (cJSON_IsArray(p)) {
        return bad(e, "prompt", "'prompt' must be a string (one prompt per request; token arrays are not supported)");
    } else {
        return bad(e, "prompt", "'prompt' must be a string");
    }
    int64_t lp = 0;
    bool has_lp = false;
    int rc;
    if ((rc = get_int(root, "logprobs", 0, 20, &lp, &has_lp, e)))
        return rc;
    r->logprobs = has_lp;
    r->top_logprobs = (int)lp;
    bool echo = false;
    if ((rc = get_bool(root, "echo", &echo, e)))
        return rc;
    if (echo)
        return bad(e, "echo", "'echo' is not supported");
    const cJSON *suffix = cJSON_GetObjectItemCaseSensitive(root, "suffix");
    if (suffix && !cJSON_IsNull(suffix))
        return bad(e, "suffix", "'suffix' is not supported");
    int64_t best_of = 1;
    if ((rc = get_int(root, "best_of", 1, 20, &best_of, NULL, e)))
        return rc;
    if (best_of != 1)
        return bad(e, "best_of", "only best_of = 1 is supported");
    return 0;
}

/* Compiles the output schema (response_format or a forced tool call) once
 * here, so that its limits (nesting depth, size, properties, grammar size:
 * sample/grammar.h) answer 400 schema_too_complex, not the engine's
 * HH_ERANGE, which the API reports as context_length_exceeded. The engine
 * compiles it again for the request; the limits bound both. */
static int check_schema(hh_openai_req_t *r, hh_api_error_t *e)
{
    if (!r->gen.json_schema)
        return 0;
    const char *param = r->gen.tool_call_json ? "tools" : "response_format";
    hh_grammar_t *g = NULL;
    hh_err_t err;
    hh_err_clear(&err);
    int rc = hh_grammar_from_json_schema(r->gen.json_schema, strlen(r->gen.json_schema), &g, &err);
    hh_grammar_free(g);
    if (rc == 0)
        return 0;
    if (rc == HH_ERANGE)
        return hh_api_error_set(e, 400, "invalid_request_error", "schema_too_complex", param,
                                "The JSON schema is beyond this server's limits: %s", err.msg);
    if (rc == HH_ENOMEM)
        return hh_api_error_set(e, 500, "server_error", NULL, NULL, "out of memory");
    return hh_api_error_set(e, 400, "invalid_request_error", "invalid_schema", param, "%s",
                            err.msg[0] ? err.msg : hh_strerror(rc));
}

int hh_openai_parse(hh_openai_kind_t kind, const char *body, size_t len, hh_openai_req_t *out, hh_api_error_t *e)
{
    memset(out, 0, sizeof *out);
    out->kind = kind;
    if (!hh_utf8_valid(body, len))
        return bad(e, NULL, "the request body is not valid UTF-8");
    const char *end = NULL;
    out->root = cJSON_ParseWithLengthOpts(body, len, &end, false);
    if (!out->root) {
        const char *at = cJSON_GetErrorPtr();
        long pos = (at && at >= body && at <= body + len) ? (long)(at - body) : -1;
        return bad(e, NULL, "the request body is not valid JSON (near byte %ld)", pos);
    }
    /* Trailing garbage after the value (whitespace aside) is malformed too. */
    for (const char *p = end; p && p < body + len; p++)
        if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n' && *p != '\0') {
            hh_openai_req_free(out);
            out->kind = kind;
            return bad(e, NULL, "the request body has data after the JSON value");
        }
    int rc;
    if (!cJSON_IsObject(out->root)) {
        rc = bad(e, NULL, "the request body must be a JSON object");
        goto fail;
    }
    if ((rc = parse_common(out, out->root, e)))
        goto fail;
    rc = kind == HH_OPENAI_CHAT ? parse_chat(out, out->root, e) : parse_completion(out, out->root, e);
    if (rc)
        goto fail;
    if ((rc = check_schema(out, e)))
        goto fail;
    out->gen.logprobs = out->logprobs;
    out->gen.n_logprobs = out->top_logprobs;
    out->gen.sampling.n_probs = out->top_logprobs;
    return 0;
fail:
    hh_openai_req_free(out);
    out->kind = kind;
    return rc;
}

void hh_openai_req_free(hh_openai_req_t *r)
{
    if (!r)
        return;
    cJSON_Delete(r->root);
    free(r->msgs);
    free(r->calls);
    for (size_t i = 0; i < r->n_texts; i++)
        free(r->texts[i]);
    free(r->texts);
    cJSON_free(r->tools_json);
    cJSON_free(r->schema_json);
    memset(r, 0, sizeof *r);
}

const char *hh_openai_finish_name(hh_finish_t f)
{
    switch (f) {
    case HH_FINISH_LENGTH:
    case HH_FINISH_TIMEOUT: return "length";
    case HH_FINISH_TOOL_CALLS: return "tool_calls";
    default: return "stop";
    }
}

int hh_openai_submit_error(int code, const hh_err_t *err, const char *model, hh_api_error_t *e)
{
    const char *msg = err && err->msg[0] ? err->msg : hh_strerror(code);
    switch (code) {
    case HH_ENOENT:
        return hh_api_error_set(e, 404, "invalid_request_error", "model_not_found", "model",
                                "The model '%s' does not exist", model ? model : "");
    case HH_EFULL:
        return hh_api_error_set(e, 429, "requests", "rate_limit_exceeded", NULL,
                                "The server is busy (request queue full); retry later. %s", msg);
    case HH_ERANGE:
        return hh_api_error_set(e, 400, "invalid_request_error", "context_length_exceeded", "messages",
                                "This model's context is too small for the request: %s", msg);
    case HH_EINVAL:
    case HH_EUNSUPPORTED:
    case HH_EFORMAT:
        return hh_api_error_set(e, 400, "invalid_request_error", NULL, NULL, "%s", msg);
    default:
        return hh_api_error_set(e, 500, "server_error", NULL, NULL, "%s", msg);
    }
}
