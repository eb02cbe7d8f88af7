/* chat.c - built-in chat formats: detection from template markers, rendering
 * byte-exact to each family's official Jinja template, and tool-call
 * parsing of model output. No template text is ever evaluated. */
#include "tok/chat.h"
#include "base/strbuf.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* ---- growable output string -------------------------------------------- */

typedef struct sb {
    char  *p;
    size_t len, cap;
    bool   oom;
} sb_t;

static void sb_put(sb_t *b, const char *s, size_t n)
{
    if (b->oom || n == 0)
        return;
    /* Catch size_t overflow before growing. */
    if (n > SIZE_MAX - b->len - 1) {
        b->oom = true;
        return;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap = cap > SIZE_MAX / 2 ? b->len + n + 1 : cap * 2;
        char *np = realloc(b->p, cap);
        if (np == NULL) {
            b->oom = true;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_puts(sb_t *b, const char *s)
{
    if (s != NULL)
        sb_put(b, s, strlen(s));
}

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Appends s with leading and trailing whitespace removed (Jinja's trim,
 * Python's strip; ASCII whitespace only). */
static void sb_put_trim(sb_t *b, const char *s)
{
    if (s == NULL)
        return;
    size_t n = strlen(s), a = 0;
    while (a < n && is_ws(s[a]))
        a++;
    while (n > a && is_ws(s[n - 1]))
        n--;
    sb_put(b, s + a, n - a);
}

static const char *nz(const char *s) { return s ? s : ""; }

/* ---- Python-style JSON dump ---------------------------------------------
 * The templates write JSON with transformers' tojson, i.e. Python's
 * json.dumps(ensure_ascii=False): ", " and ": " separators, or with indent=N
 * one item per line. cJSON's printers use other spacing, so the structure is
 * walked here while every scalar (string escaping, numbers) is printed by
 * cJSON itself. Known difference: a float written 1.0 prints as 1. */

static void pyjson_scalar(sb_t *b, const cJSON *v)
{
    char *s = cJSON_PrintUnformatted(v);
    if (s == NULL) {
        b->oom = true;
        return;
    }
    sb_puts(b, s);
    cJSON_free(s);
}

static void pyjson_key(sb_t *b, const char *key)
{
    cJSON *k = cJSON_CreateStringReference(key);
    if (k == NULL) {
        b->oom = true;
        return;
    }
    pyjson_scalar(b, k);
    cJSON_Delete(k);
}

static void pyjson_indent(sb_t *b, int indent, int depth)
{
    sb_put(b, "\n", 1);
    for (int i = 0; i < indent * depth; i++)
        sb_put(b, " ", 1);
}

static void pyjson(sb_t *b, const cJSON *v, int indent, int depth)
{
    bool obj = cJSON_IsObject(v);
    if (!obj && !cJSON_IsArray(v)) {
        pyjson_scalar(b, v);
        return;
    }
    if (v->child == NULL) {
        sb_puts(b, obj ? "{}" : "[]");
        return;
    }
    sb_puts(b, obj ? "{" : "[");
    for (const cJSON *c = v->child; c != NULL; c = c->next) {
        if (indent > 0) {
            if (c != v->child)
                sb_puts(b, ",");
            pyjson_indent(b, indent, depth + 1);
        } else if (c != v->child) {
            sb_puts(b, ", ");
        }
        if (obj) {
            pyjson_key(b, nz(c->string));
            sb_puts(b, ": ");
        }
        pyjson(b, c, indent, depth + 1);
    }
    if (indent > 0)
        pyjson_indent(b, indent, depth);
    sb_puts(b, obj ? "}" : "]");
}

/* Writes a C string as a JSON string literal (tojson of a str). */
static void pyjson_string(sb_t *b, const char *s)
{
    pyjson_key(b, nz(s));
}

/* ---- names and detection ----------------------------------------------- */

static const char *const k_names[HH_CHAT_FORMAT_COUNT] = {
    [HH_CHAT_CHATML] = "chatml",
    [HH_CHAT_QWEN2] = "qwen2",
    [HH_CHAT_QWEN25] = "qwen2.5",
    [HH_CHAT_LLAMA3] = "llama3",
    [HH_CHAT_LLAMA31] = "llama3.1",
    [HH_CHAT_LLAMA2] = "llama2",
    [HH_CHAT_MISTRAL_V1] = "mistral-v1",
    [HH_CHAT_MISTRAL_V3] = "mistral-v3",
    [HH_CHAT_MISTRAL_V3_TEKKEN] = "mistral-v3-tekken",
    [HH_CHAT_MISTRAL_V7] = "mistral-v7",
    [HH_CHAT_MISTRAL_V7_TEKKEN] = "mistral-v7-tekken",
    [HH_CHAT_GEMMA] = "gemma",
    [HH_CHAT_PHI3] = "phi3",
    [HH_CHAT_PHI3_LEGACY] = "phi3-legacy",
    [HH_CHAT_PHI4] = "phi4",
    [HH_CHAT_MISTRAL_LEGACY] = "mistral-legacy",
    [HH_CHAT_HARMONY] = "harmony",
};

static const struct { const char *alias; hh_chat_format_t f; } k_aliases[] = {
    { "mistral", HH_CHAT_MISTRAL_V3 },
    { "llama3.2", HH_CHAT_LLAMA31 },
    { "llama3.3", HH_CHAT_LLAMA31 },
    { "qwen", HH_CHAT_QWEN25 },
    { "phi3.5", HH_CHAT_PHI3 },
    { "gpt-oss", HH_CHAT_HARMONY },
};

const char *hh_chat_format_name(hh_chat_format_t f)
{
    if ((int)f < 0 || f >= HH_CHAT_FORMAT_COUNT)
        return "unknown";
    return k_names[f];
}

int hh_chat_format_from_name(const char *name, hh_chat_format_t *out, hh_err_t *err)
{
    if (name == NULL || out == NULL)
        return hh_err_set(err, HH_EINVAL, -1, "chat template name missing");
    for (int i = 0; i < HH_CHAT_FORMAT_COUNT; i++) {
        if (strcmp(name, k_names[i]) == 0) {
            *out = (hh_chat_format_t)i;
            return 0;
        }
    }
    for (size_t i = 0; i < sizeof k_aliases / sizeof k_aliases[0]; i++) {
        if (strcmp(name, k_aliases[i].alias) == 0) {
            *out = k_aliases[i].f;
            return 0;
        }
    }
    char list[400] = "";
    size_t used = 0;
    for (int i = 0; i < HH_CHAT_FORMAT_COUNT; i++) {
        size_t l = strlen(k_names[i]);
        if (used + l + 3 >= sizeof list)
            break;
        if (i > 0) {
            memcpy(list + used, ", ", 2);
            used += 2;
        }
        memcpy(list + used, k_names[i], l);
        used += l;
        list[used] = '\0';
    }
    return hh_err_set(err, HH_ENOENT, -1, "unknown chat template '%.64s' (known: %s)", name, list);
}

bool hh_chat_format_supports_tools(hh_chat_format_t f)
{
    switch (f) {
    case HH_CHAT_CHATML: case HH_CHAT_QWEN2: case HH_CHAT_QWEN25: case HH_CHAT_LLAMA31:
    case HH_CHAT_MISTRAL_V3: case HH_CHAT_MISTRAL_V3_TEKKEN: case HH_CHAT_MISTRAL_V7:
    case HH_CHAT_MISTRAL_V7_TEKKEN:
        return true;
    default:
        return false;
    }
}

static bool has(const char *t, const char *s) { return strstr(t, s) != NULL; }

/* A template literal as written inside a Jinja string in either quote
 * style: has_q(t, "[INST]", "'") finds "[INST]'" or "[INST]\"" when
 * quote_after, and "'[INST]" or "\"[INST]" otherwise. */
static bool has_quoted(const char *t, const char *lit, bool quote_after)
{
    char buf[64];
    size_t l = strlen(lit);
    if (l + 2 > sizeof buf)
        return false;
    for (int q = 0; q < 2; q++) {
        char qc = q ? '"' : '\'';
        if (quote_after) {
            memcpy(buf, lit, l);
            buf[l] = qc;
        } else {
            buf[0] = qc;
            memcpy(buf + 1, lit, l);
        }
        buf[l + 1] = '\0';
        if (has(t, buf))
            return true;
    }
    return false;
}

static bool detect_family(const char *t, hh_chat_format_t *f)
{
    if (has(t, "<|start|>") && has(t, "<|channel|>")) {
        *f = HH_CHAT_HARMONY;
        return true;
    }
    if (has(t, "<|start_header_id|>")) {
        *f = has(t, "Cutting Knowledge Date") || has(t, "ipython") ? HH_CHAT_LLAMA31 : HH_CHAT_LLAMA3;
        return true;
    }
    if (has(t, "<|im_start|>")) {
        if (has(t, "<|im_sep|>"))
            *f = HH_CHAT_PHI4;
        else if (has(t, "You are Qwen, created by Alibaba Cloud"))
            *f = HH_CHAT_QWEN25;
        else if (has(t, "You are a helpful assistant."))
            *f = HH_CHAT_QWEN2;
        else
            *f = HH_CHAT_CHATML;
        return true;
    }
    if (has(t, "<start_of_turn>")) {
        *f = HH_CHAT_GEMMA;
        return true;
    }
    if (has(t, "<|user|>") && has(t, "<|end|>")) {
        *f = has(t, "<|system|>") ? HH_CHAT_PHI3 : HH_CHAT_PHI3_LEGACY;
        return true;
    }
    if (has(t, "[INST]")) {
        if (has(t, "[SYSTEM_PROMPT]"))
            *f = has_quoted(t, "[SYSTEM_PROMPT] ", true) ? HH_CHAT_MISTRAL_V7 : HH_CHAT_MISTRAL_V7_TEKKEN;
        else if (has(t, "<<SYS>>"))
            *f = HH_CHAT_LLAMA2;
        else if (has_quoted(t, " [INST]", false))
            *f = HH_CHAT_MISTRAL_V1;
        else if (has_quoted(t, " [/INST]", false))
            *f = HH_CHAT_MISTRAL_LEGACY; /* '[INST] ' ... ' [/INST]' without the leading space */
        else if (has_quoted(t, "[INST]", true))
            *f = HH_CHAT_MISTRAL_V3_TEKKEN;
        else
            *f = HH_CHAT_MISTRAL_V3;
        return true;
    }
    return false;
}

int hh_chat_detect(const char *jinja_template, hh_chat_format_t *out, hh_err_t *err)
{
    if (out == NULL)
        return hh_err_set(err, HH_EINVAL, -1, "hh_chat_detect: out is NULL");
    *out = HH_CHAT_CHATML;
    if (jinja_template == NULL || jinja_template[0] == '\0')
        return hh_err_set(err, HH_ENOENT, -1, "model has no chat template; using chatml");
    if (detect_family(jinja_template, out))
        return 0;
    return hh_err_set(err, HH_EUNSUPPORTED, -1,
                      "chat template not recognized; using chatml (choose one with --chat-template NAME)");
}

/* ---- rendering ----------------------------------------------------------- */

typedef struct render {
    sb_t                    b;
    const hh_chat_params_t *p;
    cJSON                  *tools; /* NULL when none were given */
    const hh_chat_msg_t    *m;
    size_t                  n;
    hh_err_t               *err;
    int                     rc;    /* first error, 0 while fine */
} render_t;

static const char *role_name(hh_role_t r)
{
    switch (r) {
    case HH_ROLE_SYSTEM: return "system";
    case HH_ROLE_USER: return "user";
    case HH_ROLE_ASSISTANT: return "assistant";
    default: return "tool";
    }
}

static int fail(render_t *r, int code, size_t msg, const char *what)
{
    if (r->rc == 0)
        r->rc = hh_err_set(r->err, code, -1, "message %zu: %s", msg, what);
    return r->rc;
}

/* Writes a tool call's arguments as tojson would. */
static void put_args(render_t *r, size_t mi, const hh_tool_call_t *tc)
{
    const char *a = tc->arguments_json ? tc->arguments_json : "{}";
    cJSON *j = cJSON_Parse(a);
    if (j == NULL) {
        fail(r, HH_EINVAL, mi, "tool call arguments are not valid JSON");
        return;
    }
    pyjson(&r->b, j, 0, 0);
    cJSON_Delete(j);
}

static void put_tool_compact_list(render_t *r, const char *before_each)
{
    for (const cJSON *t = r->tools->child; t != NULL; t = t->next) {
        sb_puts(&r->b, before_each);
        pyjson(&r->b, t, 0, 0);
    }
}

/* Llama 3.0: header, trimmed content, eot; BOS glued to the first message. */
static void render_llama3(render_t *r)
{
    for (size_t i = 0; i < r->n; i++) {
        if (i == 0)
            sb_puts(&r->b, r->p->bos_text);
        sb_puts(&r->b, "<|start_header_id|>");
        sb_puts(&r->b, role_name(r->m[i].role));
        sb_puts(&r->b, "<|end_header_id|>\n\n");
        sb_put_trim(&r->b, r->m[i].content);
        sb_puts(&r->b, "<|eot_id|>");
    }
    if (r->p->add_generation_prompt)
        sb_puts(&r->b, "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

/* Llama 3.1 (also 3.2/3.3) with tools_in_user_message left at its default
 * (true): the tool list goes into the first user message. */
static void render_llama31(render_t *r)
{
    sb_t *b = &r->b;
    size_t i = 0;
    const char *sys = "";
    if (r->n > 0 && r->m[0].role == HH_ROLE_SYSTEM) {
        sys = nz(r->m[0].content);
        i = 1;
    }
    sb_puts(b, r->p->bos_text);
    sb_puts(b, "<|start_header_id|>system<|end_header_id|>\n\n");
    if (r->tools)
        sb_puts(b, "Environment: ipython\n");
    sb_puts(b, "Cutting Knowledge Date: December 2023\n");
    sb_puts(b, "Today Date: ");
    sb_puts(b, r->p->date_string ? r->p->date_string : "26 Jul 2024");
    sb_puts(b, "\n\n");
    sb_put_trim(b, sys);
    sb_puts(b, "<|eot_id|>");
    if (r->tools) {
        if (i >= r->n) {
            fail(r, HH_EINVAL, i, "llama3.1 puts the tools into the first user message, but there is none");
            return;
        }
        sb_puts(b, "<|start_header_id|>user<|end_header_id|>\n\n");
        sb_puts(b, "Given the following functions, please respond with a JSON for a function call "
                   "with its proper arguments that best answers the given prompt.\n\n");
        sb_puts(b, "Respond in the format {\"name\": function name, \"parameters\": dictionary of argument "
                   "name and its value}.");
        sb_puts(b, "Do not use variables.\n\n");
        for (const cJSON *t = r->tools->child; t != NULL; t = t->next) {
            pyjson(b, t, 4, 0);
            sb_puts(b, "\n\n");
        }
        sb_put_trim(b, r->m[i].content);
        sb_puts(b, "<|eot_id|>");
        i++;
    }
    for (; i < r->n; i++) {
        const hh_chat_msg_t *m = &r->m[i];
        if (m->role == HH_ROLE_TOOL) {
            /* The template tojson's the content: a string is iterable in
             * Jinja, so it arrives quoted. */
            sb_puts(b, "<|start_header_id|>ipython<|end_header_id|>\n\n");
            pyjson_string(b, m->content);
            sb_puts(b, "<|eot_id|>");
        } else if (m->role == HH_ROLE_ASSISTANT && m->n_tool_calls > 0) {
            if (m->n_tool_calls != 1) {
                fail(r, HH_EUNSUPPORTED, i, "llama3.1 supports one tool call per message");
                return;
            }
            sb_puts(b, "<|start_header_id|>assistant<|end_header_id|>\n\n{\"name\": \"");
            sb_puts(b, nz(m->tool_calls[0].name));
            sb_puts(b, "\", \"parameters\": ");
            put_args(r, i, &m->tool_calls[0]);
            sb_puts(b, "}<|eot_id|>");
        } else {
            sb_puts(b, "<|start_header_id|>");
            sb_puts(b, role_name(m->role));
            sb_puts(b, "<|end_header_id|>\n\n");
            sb_put_trim(b, m->content);
            sb_puts(b, "<|eot_id|>");
        }
    }
    if (r->p->add_generation_prompt)
        sb_puts(b, "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

/* ChatML family. Tools, tool calls and tool results follow the Qwen2.5
 * (Hermes-style) template for every member; the members differ only in
 * the default system prompt. */
static void render_chatml(render_t *r, const char *default_sys)
{
    sb_t *b = &r->b;
    bool first_sys = r->n > 0 && r->m[0].role == HH_ROLE_SYSTEM;
    if (r->tools) {
        const char *prefix = first_sys ? nz(r->m[0].content) : default_sys;
        sb_puts(b, "<|im_start|>system\n");
        if (prefix) {
            sb_puts(b, prefix);
            sb_puts(b, "\n\n");
        }
        sb_puts(b, "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
                   "You are provided with function signatures within <tools></tools> XML tags:\n<tools>");
        put_tool_compact_list(r, "\n");
        sb_puts(b, "\n</tools>\n\nFor each function call, return a json object with function name and "
                   "arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": "
                   "<function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n");
    } else if (first_sys) {
        sb_puts(b, "<|im_start|>system\n");
        sb_puts(b, r->m[0].content);
        sb_puts(b, "<|im_end|>\n");
    } else if (default_sys && r->n > 0) {
        sb_puts(b, "<|im_start|>system\n");
        sb_puts(b, default_sys);
        sb_puts(b, "<|im_end|>\n");
    }
    for (size_t i = first_sys ? 1 : 0; i < r->n; i++) {
        const hh_chat_msg_t *m = &r->m[i];
        if (m->role == HH_ROLE_TOOL) {
            if (i == 0 || r->m[i - 1].role != HH_ROLE_TOOL)
                sb_puts(b, "<|im_start|>user");
            sb_puts(b, "\n<tool_response>\n");
            sb_puts(b, m->content);
            sb_puts(b, "\n</tool_response>");
            if (i + 1 == r->n || r->m[i + 1].role != HH_ROLE_TOOL)
                sb_puts(b, "<|im_end|>\n");
        } else if (m->role == HH_ROLE_ASSISTANT && m->n_tool_calls > 0) {
            sb_puts(b, "<|im_start|>assistant");
            if (m->content && m->content[0]) {
                sb_puts(b, "\n");
                sb_puts(b, m->content);
            }
            for (int k = 0; k < m->n_tool_calls; k++) {
                sb_puts(b, "\n<tool_call>\n{\"name\": \"");
                sb_puts(b, nz(m->tool_calls[k].name));
                sb_puts(b, "\", \"arguments\": ");
                put_args(r, i, &m->tool_calls[k]);
                sb_puts(b, "}\n</tool_call>");
            }
            sb_puts(b, "<|im_end|>\n");
        } else {
            sb_puts(b, "<|im_start|>");
            sb_puts(b, role_name(m->role));
            sb_puts(b, "\n");
            sb_puts(b, m->content);
            sb_puts(b, "<|im_end|>\n");
        }
    }
    if (r->p->add_generation_prompt)
        sb_puts(b, "<|im_start|>assistant\n");
}

static void render_phi4(render_t *r)
{
    for (size_t i = 0; i < r->n; i++) {
        sb_puts(&r->b, "<|im_start|>");
        sb_puts(&r->b, role_name(r->m[i].role));
        sb_puts(&r->b, "<|im_sep|>");
        sb_puts(&r->b, r->m[i].content);
        sb_puts(&r->b, "<|im_end|>");
    }
    if (r->p->add_generation_prompt)
        sb_puts(&r->b, "<|im_start|>assistant<|im_sep|>");
}

/* Llama 2: BOS before every [INST]; the system block joins the first user
 * message and the whole is stripped. */
static void render_llama2(render_t *r)
{
    size_t i = 0;
    const char *sys = NULL;
    if (r->n > 0 && r->m[0].role == HH_ROLE_SYSTEM) {
        sys = nz(r->m[0].content);
        i = 1;
    }
    for (size_t j = 0; i < r->n; i++, j++) {
        const hh_chat_msg_t *m = &r->m[i];
        sb_t c = { 0 };
        if (j == 0 && sys) {
            sb_puts(&c, "<<SYS>>\n");
            sb_puts(&c, sys);
            sb_puts(&c, "\n<</SYS>>\n\n");
        }
        sb_puts(&c, m->content);
        if (c.oom) {
            free(c.p);
            r->b.oom = true;
            return;
        }
        if (m->role == HH_ROLE_USER) {
            sb_puts(&r->b, r->p->bos_text);
            sb_puts(&r->b, "[INST] ");
            sb_put_trim(&r->b, c.p);
            sb_puts(&r->b, " [/INST]");
        } else if (m->role == HH_ROLE_ASSISTANT) {
            sb_puts(&r->b, " ");
            sb_put_trim(&r->b, c.p);
            sb_puts(&r->b, " ");
            sb_puts(&r->b, r->p->eos_text);
        } else {
            free(c.p);
            fail(r, HH_EINVAL, i, "llama2 accepts a system message only first");
            return;
        }
        free(c.p);
    }
}

static void render_mistral_v1(render_t *r)
{
    size_t i = 0;
    const char *sys = NULL;
    if (r->n > 0 && r->m[0].role == HH_ROLE_SYSTEM) {
        sys = nz(r->m[0].content);
        i = 1;
    }
    sb_puts(&r->b, r->p->bos_text);
    for (size_t j = 0; i < r->n; i++, j++) {
        const hh_chat_msg_t *m = &r->m[i];
        if (m->role == HH_ROLE_USER) {
            sb_puts(&r->b, " [INST] ");
            if (j == 0 && sys) {
                sb_puts(&r->b, sys);
                sb_puts(&r->b, "\n\n");
            }
            sb_puts(&r->b, m->content);
            sb_puts(&r->b, " [/INST]");
        } else if (m->role == HH_ROLE_ASSISTANT) {
            sb_puts(&r->b, " ");
            sb_puts(&r->b, m->content);
            sb_puts(&r->b, r->p->eos_text);
        } else {
            fail(r, HH_EINVAL, i, "mistral-v1 accepts a system message only first");
            return;
        }
    }
}

/* The first Mistral 7B / Mixtral v0.1 template: no space before [INST] or
 * the answer; it rejects system messages, which are folded into the first
 * user turn here as v1 does. */
static void render_mistral_legacy(render_t *r)
{
    size_t i = 0;
    const char *sys = NULL;
    if (r->n > 0 && r->m[0].role == HH_ROLE_SYSTEM) {
        sys = nz(r->m[0].content);
        i = 1;
    }
    sb_puts(&r->b, r->p->bos_text);
    for (size_t j = 0; i < r->n; i++, j++) {
        const hh_chat_msg_t *m = &r->m[i];
        if (m->role == HH_ROLE_USER) {
            sb_puts(&r->b, "[INST] ");
            if (j == 0 && sys) {
                sb_puts(&r->b, sys);
                sb_puts(&r->b, "\n\n");
            }
            sb_puts(&r->b, m->content);
            sb_puts(&r->b, " [/INST]");
        } else if (m->role == HH_ROLE_ASSISTANT) {
            sb_puts(&r->b, m->content);
            sb_puts(&r->b, r->p->eos_text);
        } else {
            fail(r, HH_EINVAL, i, "mistral-legacy accepts a system message only first");
            return;
        }
    }
}

/* [AVAILABLE_TOOLS] block of the v3 template: each tool's function object
 * re-emitted key by key, string values pasted raw (as the template does),
 * "return" left out. */
static void put_mistral_tools(render_t *r, size_t mi, bool tekken)
{
    sb_t *b = &r->b;
    sb_puts(b, tekken ? "[AVAILABLE_TOOLS][" : "[AVAILABLE_TOOLS] [");
    for (const cJSON *t = r->tools->child; t != NULL; t = t->next) {
        const cJSON *fn = cJSON_GetObjectItemCaseSensitive(t, "function");
        if (!cJSON_IsObject(fn)) {
            fail(r, HH_EINVAL, mi, "a tool has no \"function\" object");
            return;
        }
        sb_puts(b, "{\"type\": \"function\", \"function\": {");
        bool first = true;
        for (const cJSON *kv = fn->child; kv != NULL; kv = kv->next) {
            if (kv->string == NULL || strcmp(kv->string, "return") == 0)
                continue;
            if (!first)
                sb_puts(b, ", ");
            first = false;
            sb_puts(b, "\"");
            sb_puts(b, kv->string);
            if (cJSON_IsString(kv)) {
                sb_puts(b, "\": \"");
                sb_puts(b, kv->valuestring);
                sb_puts(b, "\"");
            } else {
                sb_puts(b, "\": ");
                pyjson(b, kv, 0, 0);
            }
        }
        sb_puts(b, "}}");
        sb_puts(b, t->next ? ", " : "]");
    }
    sb_puts(b, "[/AVAILABLE_TOOLS]");
}

static void put_mistral_calls(render_t *r, size_t mi, bool tekken)
{
    const hh_chat_msg_t *m = &r->m[mi];
    sb_puts(&r->b, tekken ? "[TOOL_CALLS][" : "[TOOL_CALLS] [");
    for (int k = 0; k < m->n_tool_calls; k++) {
        sb_puts(&r->b, "{\"name\": ");
        pyjson_string(&r->b, m->tool_calls[k].name);
        sb_puts(&r->b, ", \"arguments\": ");
        put_args(r, mi, &m->tool_calls[k]);
        sb_puts(&r->b, ", \"id\": \"");
        sb_puts(&r->b, m->tool_calls[k].id);
        sb_puts(&r->b, "\"}");
        sb_puts(&r->b, k + 1 < m->n_tool_calls ? ", " : "]");
    }
    sb_puts(&r->b, r->p->eos_text);
}

static void put_mistral_result(render_t *r, const hh_chat_msg_t *m, bool tekken)
{
    sb_puts(&r->b, tekken ? "[TOOL_RESULTS]{\"content\": " : "[TOOL_RESULTS] {\"content\": ");
    sb_puts(&r->b, m->content);
    sb_puts(&r->b, ", \"call_id\": \"");
    sb_puts(&r->b, m->tool_call_id);
    sb_puts(&r->b, "\"}[/TOOL_RESULTS]");
}

static size_t last_user(const render_t *r, size_t from)
{
    size_t last = SIZE_MAX;
    for (size_t i = from; i < r->n; i++)
        if (r->m[i].role == HH_ROLE_USER)
            last = i;
    return last;
}

/* Mistral v0.3 / Nemo: the system prompt joins the user message only when
 * that message is the last of the conversation (the official template's
 * loop.last test); the tools precede the last user message. */
static void render_mistral_v3(render_t *r, bool tekken)
{
    size_t i = 0;
    const char *sys = NULL;
    if (r->n > 0 && r->m[0].role == HH_ROLE_SYSTEM) {
        sys = nz(r->m[0].content);
        i = 1;
    }
    size_t lu = last_user(r, i);
    const char *inst = tekken ? "[INST]" : "[INST] ";
    sb_puts(&r->b, r->p->bos_text);
    for (; i < r->n && r->rc == 0; i++) {
        const hh_chat_msg_t *m = &r->m[i];
        if (m->role == HH_ROLE_USER) {
            if (r->tools && i == lu)
                put_mistral_tools(r, i, tekken);
            sb_puts(&r->b, inst);
            if (i + 1 == r->n && sys) {
                sb_puts(&r->b, sys);
                sb_puts(&r->b, "\n\n");
            }
            sb_puts(&r->b, m->content);
            sb_puts(&r->b, "[/INST]");
        } else if (m->role == HH_ROLE_ASSISTANT && m->n_tool_calls > 0) {
            put_mistral_calls(r, i, tekken);
        } else if (m->role == HH_ROLE_ASSISTANT) {
            if (tekken) {
                sb_puts(&r->b, m->content);
            } else {
                sb_puts(&r->b, " ");
                sb_put_trim(&r->b, m->content);
            }
            sb_puts(&r->b, r->p->eos_text);
        } else if (m->role == HH_ROLE_TOOL) {
            put_mistral_result(r, m, tekken);
        } else {
            fail(r, HH_EINVAL, i, "mistral accepts a system message only first");
        }
    }
}

/* Mistral v7 (Large 2411; tekken: Small 3): system prompts stay where they
 * are, in [SYSTEM_PROMPT] blocks. Tool markup as in v3. */
static void render_mistral_v7(render_t *r, bool tekken)
{
    size_t lu = last_user(r, 0);
    sb_puts(&r->b, r->p->bos_text);
    for (size_t i = 0; i < r->n && r->rc == 0; i++) {
        const hh_chat_msg_t *m = &r->m[i];
        switch (m->role) {
        case HH_ROLE_SYSTEM:
            sb_puts(&r->b, tekken ? "[SYSTEM_PROMPT]" : "[SYSTEM_PROMPT] ");
            sb_puts(&r->b, m->content);
            sb_puts(&r->b, "[/SYSTEM_PROMPT]");
            break;
        case HH_ROLE_USER:
            if (r->tools && i == lu)
                put_mistral_tools(r, i, tekken);
            sb_puts(&r->b, tekken ? "[INST]" : "[INST] ");
            sb_puts(&r->b, m->content);
            sb_puts(&r->b, "[/INST]");
            break;
        case HH_ROLE_ASSISTANT:
            if (m->n_tool_calls > 0) {
                put_mistral_calls(r, i, tekken);
            } else {
                if (!tekken)
                    sb_puts(&r->b, " ");
                sb_puts(&r->b, m->content);
                sb_puts(&r->b, r->p->eos_text);
            }
            break;
        case HH_ROLE_TOOL:
            put_mistral_result(r, m, tekken);
            break;
        }
    }
}

/* Gemma: no system role (Gemma 3 folds it into the first turn); assistant
 * is "model"; content trimmed. */
static void render_gemma(render_t *r)
{
    size_t i = 0;
    const char *sys = NULL;
    if (r->n > 0 && r->m[0].role == HH_ROLE_SYSTEM) {
        sys = nz(r->m[0].content);
        i = 1;
    }
    sb_puts(&r->b, r->p->bos_text);
    for (size_t j = 0; i < r->n; i++, j++) {
        const hh_chat_msg_t *m = &r->m[i];
        if (m->role == HH_ROLE_SYSTEM) {
            fail(r, HH_EINVAL, i, "gemma accepts a system message only first");
            return;
        }
        sb_puts(&r->b, "<start_of_turn>");
        sb_puts(&r->b, m->role == HH_ROLE_ASSISTANT ? "model" : "user");
        sb_puts(&r->b, "\n");
        if (j == 0 && sys) {
            sb_puts(&r->b, sys);
            sb_puts(&r->b, "\n\n");
        }
        sb_put_trim(&r->b, m->content);
        sb_puts(&r->b, "<end_of_turn>\n");
    }
    if (r->p->add_generation_prompt)
        sb_puts(&r->b, "<start_of_turn>model\n");
}

/* Harmony (gpt-oss's template without tools, reasoning effort "medium",
 * the default model identity): the system block, then a first system
 * message as the developer's "# Instructions", then user turns and the
 * final-channel answers (an earlier turn's reasoning is never rendered);
 * content untrimmed. The last assistant message ends with <|return|> when
 * no generation prompt follows (the template's training form). */
static void render_harmony(render_t *r)
{
    sb_t *b = &r->b;
    char today[16];
    const char *date = r->p->date_string;
    if (date == NULL) {
        time_t now = time(NULL);
        struct tm tm;
        if (gmtime_r(&now, &tm) == NULL || strftime(today, sizeof today, "%Y-%m-%d", &tm) == 0)
            snprintf(today, sizeof today, "1970-01-01");
        date = today;
    }
    sb_puts(b, "<|start|>system<|message|>You are ChatGPT, a large language model trained by OpenAI.\n"
               "Knowledge cutoff: 2024-06\nCurrent date: ");
    sb_puts(b, date);
    sb_puts(b, "\n\nReasoning: medium\n\n"
               "# Valid channels: analysis, commentary, final. Channel must be included for every message.<|end|>");
    size_t i = 0;
    if (r->n > 0 && r->m[0].role == HH_ROLE_SYSTEM) {
        if (r->m[0].content && r->m[0].content[0]) {
            sb_puts(b, "<|start|>developer<|message|># Instructions\n\n");
            sb_puts(b, r->m[0].content);
            sb_puts(b, "\n\n<|end|>");
        }
        i = 1;
    }
    for (; i < r->n; i++) {
        const hh_chat_msg_t *m = &r->m[i];
        if (m->role == HH_ROLE_SYSTEM) {
            fail(r, HH_EINVAL, i, "harmony accepts a system message only first");
            return;
        }
        if (m->role == HH_ROLE_USER) {
            sb_puts(b, "<|start|>user<|message|>");
            sb_puts(b, m->content);
            sb_puts(b, "<|end|>");
            continue;
        }
        sb_puts(b, "<|start|>assistant<|channel|>final<|message|>");
        sb_puts(b, m->content);
        sb_puts(b, i + 1 == r->n && !r->p->add_generation_prompt ? "<|return|>" : "<|end|>");
    }
    if (r->p->add_generation_prompt)
        sb_puts(b, "<|start|>assistant");
}

/* Phi-3 / Phi-3.5: empty system messages are skipped; without the
 * generation prompt the template ends with EOS. */
static void render_phi3(render_t *r)
{
    for (size_t i = 0; i < r->n; i++) {
        const hh_chat_msg_t *m = &r->m[i];
        if (m->role == HH_ROLE_SYSTEM && !(m->content && m->content[0]))
            continue;
        sb_puts(&r->b, "<|");
        sb_puts(&r->b, role_name(m->role));
        sb_puts(&r->b, "|>\n");
        sb_puts(&r->b, m->content);
        sb_puts(&r->b, "<|end|>\n");
    }
    sb_puts(&r->b, r->p->add_generation_prompt ? "<|assistant|>\n" : nz(r->p->eos_text));
}

/* The first Phi-3 mini template: system messages are dropped and every user
 * turn is followed by the assistant header, whatever add_generation_prompt. */
static void render_phi3_legacy(render_t *r)
{
    sb_puts(&r->b, r->p->bos_text);
    for (size_t i = 0; i < r->n; i++) {
        const hh_chat_msg_t *m = &r->m[i];
        if (m->role == HH_ROLE_USER) {
            sb_puts(&r->b, "<|user|>\n");
            sb_puts(&r->b, m->content);
            sb_puts(&r->b, "<|end|>\n<|assistant|>\n");
        } else if (m->role == HH_ROLE_ASSISTANT) {
            sb_puts(&r->b, m->content);
            sb_puts(&r->b, "<|end|>\n");
        }
    }
}

hh_chat_params_t hh_chat_default_params(void)
{
    hh_chat_params_t p = { .tools_json = NULL, .add_generation_prompt = true,
                           .bos_text = NULL, .eos_text = NULL, .date_string = NULL };
    return p;
}

/* Rejects what a format cannot express before anything is written. */
static int render_check(render_t *r, hh_chat_format_t f)
{
    bool tools_ok = hh_chat_format_supports_tools(f);
    if (r->tools && !tools_ok)
        return hh_err_set(r->err, HH_EUNSUPPORTED, -1, "chat format %s has no tool syntax", hh_chat_format_name(f));
    for (size_t i = 0; i < r->n; i++) {
        const hh_chat_msg_t *m = &r->m[i];
        if ((int)m->role < HH_ROLE_SYSTEM || m->role > HH_ROLE_TOOL)
            return hh_err_set(r->err, HH_EINVAL, -1, "message %zu: role %d out of range", i, (int)m->role);
        if (m->n_tool_calls < 0 || (m->n_tool_calls > 0 && m->tool_calls == NULL))
            return hh_err_set(r->err, HH_EINVAL, -1, "message %zu: bad tool_calls", i);
        bool uses_tools = m->role == HH_ROLE_TOOL || (m->role == HH_ROLE_ASSISTANT && m->n_tool_calls > 0);
        if (uses_tools && !tools_ok)
            return hh_err_set(r->err, HH_EUNSUPPORTED, -1, "message %zu: chat format %s has no tool syntax", i,
                              hh_chat_format_name(f));
    }
    return 0;
}

int hh_chat_render(hh_chat_format_t f, const hh_chat_msg_t *msgs, size_t n, const hh_chat_params_t *params,
                   char **out, size_t *out_len, hh_err_t *err)
{
    if (out == NULL || (msgs == NULL && n > 0))
        return hh_err_set(err, HH_EINVAL, -1, "hh_chat_render: NULL argument");
    *out = NULL;
    if ((int)f < 0 || f >= HH_CHAT_FORMAT_COUNT)
        return hh_err_set(err, HH_EINVAL, -1, "chat format %d out of range", (int)f);
    hh_chat_params_t defaults = hh_chat_default_params();
    render_t r = { .p = params ? params : &defaults, .m = msgs, .n = n, .err = err };
    int rc = 0;
    if (r.p->tools_json != NULL) {
        r.tools = cJSON_Parse(r.p->tools_json);
        if (!cJSON_IsArray(r.tools)) {
            rc = hh_err_set(err, HH_EINVAL, -1, "tools is not a JSON array");
            goto cleanup;
        }
        if (r.tools->child == NULL) { /* [] counts as no tools, as `if tools` does */
            cJSON_Delete(r.tools);
            r.tools = NULL;
        }
    }
    rc = render_check(&r, f);
    if (rc != 0)
        goto cleanup;
    switch (f) {
    case HH_CHAT_CHATML: render_chatml(&r, NULL); break;
    case HH_CHAT_QWEN2: render_chatml(&r, "You are a helpful assistant."); break;
    case HH_CHAT_QWEN25: render_chatml(&r, "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."); break;
    case HH_CHAT_LLAMA3: render_llama3(&r); break;
    case HH_CHAT_LLAMA31: render_llama31(&r); break;
    case HH_CHAT_LLAMA2: render_llama2(&r); break;
    case HH_CHAT_MISTRAL_V1: render_mistral_v1(&r); break;
    case HH_CHAT_MISTRAL_V3: render_mistral_v3(&r, false); break;
    case HH_CHAT_MISTRAL_V3_TEKKEN: render_mistral_v3(&r, true); break;
    case HH_CHAT_MISTRAL_V7: render_mistral_v7(&r, false); break;
    case HH_CHAT_MISTRAL_V7_TEKKEN: render_mistral_v7(&r, true); break;
    case HH_CHAT_GEMMA: render_gemma(&r); break;
    case HH_CHAT_PHI3: render_phi3(&r); break;
    case HH_CHAT_PHI3_LEGACY: render_phi3_legacy(&r); break;
    case HH_CHAT_PHI4: render_phi4(&r); break;
    case HH_CHAT_MISTRAL_LEGACY: render_mistral_legacy(&r); break;
    case HH_CHAT_HARMONY: render_harmony(&r); break;
    case HH_CHAT_FORMAT_COUNT: break;
    }
    if (r.rc != 0) {
        rc = r.rc;
        goto cleanup;
    }
    if (r.b.oom) {
        rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory rendering the chat");
        goto cleanup;
    }
    if (r.b.p == NULL) { /* nothing written: still hand back an empty string */
        r.b.p = calloc(1, 1);
        if (r.b.p == NULL) {
            rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory rendering the chat");
            goto cleanup;
        }
    }
    *out = r.b.p;
    r.b.p = NULL;
    if (out_len)
        *out_len = r.b.len;
cleanup:
    free(r.b.p);
    cJSON_Delete(r.tools);
    return rc;
}

/* ---- tool-call parsing --------------------------------------------------- */

typedef struct calls {
    hh_tool_call_t *v;
    size_t          n, cap;
} calls_t;

void hh_chat_tool_calls_free(hh_tool_call_t *calls, size_t n)
{
    if (calls == NULL)
        return;
    for (size_t i = 0; i < n; i++) {
        /* Parsed calls own their strings (see chat.h). */
        free((void *)calls[i].name);
        free((void *)calls[i].arguments_json);
        free((void *)calls[i].id);
    }
    free(calls);
}

/* Adds the call described by obj ({"name", "arguments"|"parameters", "id"?}).
 * Returns 0, HH_ENOENT when obj is not a call (no string name), HH_ENOMEM. */
static int calls_add(calls_t *c, const cJSON *obj)
{
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(obj, "name");
    if (!cJSON_IsObject(obj) || !cJSON_IsString(name) || name->valuestring[0] == '\0')
        return HH_ENOENT;
    const cJSON *args = cJSON_GetObjectItemCaseSensitive(obj, "arguments");
    if (args == NULL)
        args = cJSON_GetObjectItemCaseSensitive(obj, "parameters");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(obj, "id");
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 4;
        hh_tool_call_t *nv = realloc(c->v, cap * sizeof *nv);
        if (nv == NULL)
            return HH_ENOMEM;
        c->v = nv;
        c->cap = cap;
    }
    hh_tool_call_t *t = &c->v[c->n];
    t->name = hh_strdup_n(name->valuestring, strlen(name->valuestring));
    if (args == NULL)
        t->arguments_json = hh_strdup_n("{}", 2);
    else if (cJSON_IsString(args)) /* already JSON text, as OpenAI sends it */
        t->arguments_json = hh_strdup_n(args->valuestring, strlen(args->valuestring));
    else
        t->arguments_json = cJSON_PrintUnformatted(args);
    t->id = cJSON_IsString(id) ? hh_strdup_n(id->valuestring, strlen(id->valuestring)) : NULL;
    c->n++;
    if (t->name == NULL || t->arguments_json == NULL || (cJSON_IsString(id) && t->id == NULL))
        return HH_ENOMEM;
    return 0;
}

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && is_ws(*p))
        p++;
    return p;
}

static const char *find(const char *p, const char *end, const char *needle)
{
    return memmem(p, (size_t)(end - p), needle, strlen(needle));
}

static int bad_json(hh_err_t *err, const char *text, const char *at, const char *what)
{
    return hh_err_set(err, HH_EFORMAT, (int64_t)(at - text), "malformed tool call: %s", what);
}

/* Llama 3.1: {"name": ..., "parameters": ...} objects, ';'-separated. */
static int parse_llama31(const char *text, const char *end, calls_t *c, sb_t *content, hh_err_t *err)
{
    const char *p = skip_ws(text, end);
    static const char tag[] = "<|python_tag|>";
    bool tagged = (size_t)(end - p) >= sizeof tag - 1 && memcmp(p, tag, sizeof tag - 1) == 0;
    if (tagged)
        p = skip_ws(p + sizeof tag - 1, end);
    if (p == end || *p != '{') {
        sb_put(content, text, (size_t)(end - text));
        return 0;
    }
    bool looks_like_call = tagged || find(p, end, "\"name\"") != NULL;
    while (p < end && *p == '{') {
        const char *stop = NULL;
        cJSON *j = cJSON_ParseWithLengthOpts(p, (size_t)(end - p), &stop, 0);
        if (j == NULL) {
            if (c->n == 0 && !looks_like_call) { /* plain JSON-ish answer, not a call */
                sb_put(content, text, (size_t)(end - text));
                return 0;
            }
            return bad_json(err, text, stop ? stop : p, "invalid JSON");
        }
        int rc = calls_add(c, j);
        cJSON_Delete(j);
        if (rc == HH_ENOENT) {
            if (c->n == 0) { /* a JSON answer without "name": content */
                sb_put(content, text, (size_t)(end - text));
                return 0;
            }
            return bad_json(err, text, p, "object has no \"name\"");
        }
        if (rc != 0)
            return rc;
        p = stop;
        while (p < end && (is_ws(*p) || *p == ';'))
            p++;
    }
    sb_put(content, p, (size_t)(end - p));
    return 0;
}

/* Hermes / Qwen: <tool_call>JSON</tool_call> blocks anywhere in the text. */
static int parse_hermes(const char *text, const char *end, calls_t *c, sb_t *content, hh_err_t *err)
{
    static const char open[] = "<tool_call>", close[] = "</tool_call>";
    const char *p = text;
    for (;;) {
        const char *s = find(p, end, open);
        if (s == NULL)
            break;
        sb_put(content, p, (size_t)(s - p));
        const char *body = s + sizeof open - 1;
        const char *e = find(body, end, close);
        const char *body_end = e ? e : end; /* generation may stop before the closing tag */
        const char *stop = NULL;
        const char *j0 = skip_ws(body, body_end);
        cJSON *j = cJSON_ParseWithLengthOpts(j0, (size_t)(body_end - j0), &stop, 0);
        if (j == NULL)
            return bad_json(err, text, stop ? stop : j0, "invalid JSON in <tool_call>");
        if (skip_ws(stop, body_end) != body_end) {
            cJSON_Delete(j);
            return bad_json(err, text, stop, "text after the JSON in <tool_call>");
        }
        int rc = calls_add(c, j);
        cJSON_Delete(j);
        if (rc == HH_ENOENT)
            return bad_json(err, text, j0, "<tool_call> object has no string \"name\"");
        if (rc != 0)
            return rc;
        p = e ? e + sizeof close - 1 : end;
    }
    sb_put(content, p, (size_t)(end - p));
    return 0;
}

/* Mistral: [TOOL_CALLS] [{...}, ...] (v3) or [TOOL_CALLS]name[ARGS]{...}. */
static int parse_mistral(const char *text, const char *end, calls_t *c, sb_t *content, hh_err_t *err)
{
    static const char tag[] = "[TOOL_CALLS]", args_tag[] = "[ARGS]";
    const char *s = find(text, end, tag);
    if (s == NULL) {
        sb_put(content, text, (size_t)(end - text));
        return 0;
    }
    sb_put(content, text, (size_t)(s - text));
    const char *p = skip_ws(s + sizeof tag - 1, end);
    if (p < end && *p == '[') {
        const char *stop = NULL;
        cJSON *arr = cJSON_ParseWithLengthOpts(p, (size_t)(end - p), &stop, 0);
        if (arr == NULL)
            return bad_json(err, text, stop ? stop : p, "invalid JSON after [TOOL_CALLS]");
        if (!cJSON_IsArray(arr)) {
            cJSON_Delete(arr);
            return bad_json(err, text, p, "[TOOL_CALLS] is not followed by an array");
        }
        int rc = 0;
        for (const cJSON *o = arr->child; o != NULL && rc == 0; o = o->next)
            rc = calls_add(c, o);
        cJSON_Delete(arr);
        if (rc == HH_ENOENT)
            return bad_json(err, text, p, "a [TOOL_CALLS] entry has no string \"name\"");
        if (rc != 0)
            return rc;
        sb_put(content, stop, (size_t)(end - stop));
        return 0;
    }
    for (;;) {
        const char *a = find(p, end, args_tag);
        if (a == NULL || a == p)
            return bad_json(err, text, p, "[TOOL_CALLS] without a name and [ARGS]");
        for (const char *q = p; q < a; q++)
            if (is_ws(*q))
                return bad_json(err, text, q, "tool name contains whitespace");
        const char *j0 = skip_ws(a + sizeof args_tag - 1, end);
        const char *stop = NULL;
        cJSON *args = cJSON_ParseWithLengthOpts(j0, (size_t)(end - j0), &stop, 0);
        if (args == NULL)
            return bad_json(err, text, stop ? stop : j0, "invalid JSON after [ARGS]");
        cJSON *obj = cJSON_CreateObject();
        char *name = hh_strdup_n(p, (size_t)(a - p));
        int rc = HH_ENOMEM;
        if (obj && name && cJSON_AddStringToObject(obj, "name", name)) {
            cJSON_AddItemToObject(obj, "arguments", args);
            args = NULL;
            rc = calls_add(c, obj);
        }
        free(name);
        cJSON_Delete(args);
        cJSON_Delete(obj);
        if (rc != 0)
            return rc;
        p = skip_ws(stop, end);
        if ((size_t)(end - p) >= sizeof tag - 1 && memcmp(p, tag, sizeof tag - 1) == 0)
            p += sizeof tag - 1;
        else
            break;
    }
    sb_put(content, p, (size_t)(end - p));
    return 0;
}

int hh_chat_parse_tool_calls(hh_chat_format_t f, const char *text, size_t len, hh_tool_call_t **calls, size_t *n,
                             char **content_rest, hh_err_t *err)
{
    if (calls == NULL || n == NULL || (text == NULL && len > 0))
        return hh_err_set(err, HH_EINVAL, -1, "hh_chat_parse_tool_calls: NULL argument");
    *calls = NULL;
    *n = 0;
    if (content_rest)
        *content_rest = NULL;
    if (text == NULL)
        text = "";
    const char *end = text + len;
    calls_t c = { 0 };
    sb_t content = { 0 };
    int rc;
    switch (f) {
    case HH_CHAT_LLAMA31:
        rc = parse_llama31(text, end, &c, &content, err);
        break;
    case HH_CHAT_CHATML: case HH_CHAT_QWEN2: case HH_CHAT_QWEN25:
        rc = parse_hermes(text, end, &c, &content, err);
        break;
    case HH_CHAT_MISTRAL_V3: case HH_CHAT_MISTRAL_V3_TEKKEN: case HH_CHAT_MISTRAL_V7:
    case HH_CHAT_MISTRAL_V7_TEKKEN:
        rc = parse_mistral(text, end, &c, &content, err);
        break;
    default:
        sb_put(&content, text, len);
        rc = 0;
        break;
    }
    if (rc == 0 && content.oom)
        rc = HH_ENOMEM;
    if (rc == HH_ENOMEM)
        hh_err_set(err, HH_ENOMEM, -1, "out of memory parsing tool calls");
    if (rc != 0)
        goto cleanup;
    if (content_rest) {
        const char *s = content.p ? content.p : "";
        size_t a = 0, z = content.len;
        while (a < z && is_ws(s[a]))
            a++;
        while (z > a && is_ws(s[z - 1]))
            z--;
        *content_rest = hh_strdup_n(s + a, z - a);
        if (*content_rest == NULL) {
            rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory parsing tool calls");
            goto cleanup;
        }
    }
    *calls = c.v;
    *n = c.n;
    c.v = NULL;
    c.n = 0;
cleanup:
    hh_chat_tool_calls_free(c.v, c.n);
    free(content.p);
    return rc;
}
