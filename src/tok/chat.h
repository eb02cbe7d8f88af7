/* chat.h - chat templates: turning a conversation into the exact prompt text
 * a model was trained on, and reading tool calls back out of its output.
 *
 * A GGUF file carries its chat template as a Jinja2 string
 * (tokenizer.chat_template). hoheit never executes or interprets that text:
 * hh_chat_detect() only looks for distinctive markers in it and maps it to
 * one of the built-in formats below, each of which reproduces, byte for
 * byte, what the family's official template renders. Unknown or absent
 * templates fall back to ChatML with a warning the caller can log.
 *
 * BOS convention (avoids a double BOS): the renderer writes params.bos_text
 * wherever the official template writes bos_token (Llama 2: before every
 * [INST]; Llama 3, Mistral, Gemma: once at the start; ChatML: nowhere).
 * Callers pass the vocabulary's BOS text here and tokenize the result with
 * add_special = false and parse_special = true. A caller whose tokenizer adds
 * BOS itself passes bos_text = NULL instead (then Llama 2's later BOS tokens
 * are missing, which is why the first convention is the recommended one).
 *
 * Depends only on base and cJSON. */
#ifndef HH_TOK_CHAT_H
#define HH_TOK_CHAT_H

#include "base/err.h"

#include <stdbool.h>
#include <stddef.h>

typedef enum hh_role { HH_ROLE_SYSTEM = 0, HH_ROLE_USER, HH_ROLE_ASSISTANT, HH_ROLE_TOOL } hh_role_t;

/* One tool call. As input (an assistant message's calls) the strings are
 * borrowed from the caller; as output of hh_chat_parse_tool_calls() they are
 * malloc'd and freed by hh_chat_tool_calls_free(). arguments_json is a JSON
 * text (an object, as in OpenAI's function.arguments); id may be NULL. */
typedef struct hh_tool_call {
    const char *name;
    const char *arguments_json;
    const char *id;
} hh_tool_call_t;

/* One message; all strings are borrowed. content NULL renders as "" (e.g.
 * an assistant message that only calls tools). tool_call_id (role tool) names
 * the call answered; name (role tool) the tool, may be NULL. */
typedef struct hh_chat_msg {
    hh_role_t             role;
    const char           *content;
    const hh_tool_call_t *tool_calls;
    int                   n_tool_calls;
    const char           *tool_call_id;
    const char           *name;
} hh_chat_msg_t;

/* Built-in formats. Names (hh_chat_format_name) in brackets. */
typedef enum hh_chat_format {
    HH_CHAT_CHATML = 0,        /* [chatml] <|im_start|>role\n...<|im_end|>\n; Hermes-style tools */
    HH_CHAT_QWEN2,             /* [qwen2] chatml + default system "You are a helpful assistant." */
    HH_CHAT_QWEN25,            /* [qwen2.5] chatml + "You are Qwen, created by Alibaba Cloud..." + tools */
    HH_CHAT_LLAMA3,            /* [llama3] Llama 3.0 header/eot format, no tools */
    HH_CHAT_LLAMA31,           /* [llama3.1] 3.1/3.2/3.3: knowledge-date system block, JSON tools, ipython */
    HH_CHAT_LLAMA2,            /* [llama2] <s>[INST] <<SYS>>...<</SYS>> ... [/INST] */
    HH_CHAT_MISTRAL_V1,        /* [mistral-v1] " [INST] ... [/INST]", system into the first user turn */
    HH_CHAT_MISTRAL_V3,        /* [mistral-v3] "[INST] ...[/INST]", system into the last user turn, tools */
    HH_CHAT_MISTRAL_V3_TEKKEN, /* [mistral-v3-tekken] as v3 without the spaces (Nemo) */
    HH_CHAT_MISTRAL_V7,        /* [mistral-v7] [SYSTEM_PROMPT] ...[/SYSTEM_PROMPT] [INST] ...[/INST] */
    HH_CHAT_MISTRAL_V7_TEKKEN, /* [mistral-v7-tekken] as v7 without the spaces (Small 3) */
    HH_CHAT_GEMMA,             /* [gemma] <start_of_turn>user/model, system folded into the first turn */
    HH_CHAT_PHI3,              /* [phi3] <|system|>/<|user|>/<|assistant|> ... <|end|> */
    HH_CHAT_PHI3_LEGACY,       /* [phi3-legacy] first Phi-3 template: no system, prompt after each user turn */
    HH_CHAT_PHI4,              /* [phi4] <|im_start|>role<|im_sep|>...<|im_end|> */
    HH_CHAT_MISTRAL_LEGACY,    /* [mistral-legacy] first Mistral/Mixtral v0.1 template: "[INST] ... [/INST]answer</s>" */
    HH_CHAT_HARMONY,           /* [harmony] gpt-oss: <|start|>role<|message|>...<|end|>, the system block, a first
                                  system message as the developer's instructions, answers in <|channel|>final */
    HH_CHAT_FORMAT_COUNT
} hh_chat_format_t;

/* Picks the format for a model's chat template string (NULL or "" when the
 * GGUF has none). Only substring matching is done; the text is never
 * evaluated. Always sets *out: the recognized family, or HH_CHAT_CHATML.
 * Returns 0 when recognized; HH_ENOENT (no template) or HH_EUNSUPPORTED (not
 * recognized) when it fell back to ChatML, with a message in err that the
 * caller should log as a warning; HH_EINVAL if out is NULL. */
int hh_chat_detect(const char *jinja_template, hh_chat_format_t *out, hh_err_t *err);

/* Format for a --chat-template NAME (the names above, plus aliases "mistral"
 * = mistral-v3, "llama3.2"/"llama3.3" = llama3.1, "qwen" = qwen2.5,
 * "phi3.5" = phi3). Returns 0, or HH_ENOENT with the list of valid names in
 * err. */
int hh_chat_format_from_name(const char *name, hh_chat_format_t *out, hh_err_t *err);

/* Canonical name of a format ("unknown" outside the enum); static string. */
const char *hh_chat_format_name(hh_chat_format_t f);

/* True if the format has a native tool-calling syntax (tools_json, assistant
 * tool_calls and tool messages can be rendered and parsed). */
bool hh_chat_format_supports_tools(hh_chat_format_t f);

typedef struct hh_chat_params {
    const char *tools_json;            /* OpenAI "tools" array as JSON text, or NULL; [] counts as none */
    bool        add_generation_prompt; /* end with the assistant header (formats that have one) */
    const char *bos_text;              /* written where the template writes bos_token; NULL = "" */
    const char *eos_text;              /* written where the template writes eos_token; NULL = "" */
    const char *date_string;           /* llama3.1 "Today Date: "; NULL = "26 Jul 2024" (template default);
                                          harmony "Current date: " (YYYY-MM-DD); NULL = today (UTC) */
} hh_chat_params_t;

/* tools_json NULL, add_generation_prompt true, bos/eos/date NULL. */
hh_chat_params_t hh_chat_default_params(void);

/* Renders n messages in format f. params may be NULL (defaults). On success
 * *out is a malloc'd NUL-terminated string the caller frees, *out_len its
 * length (out_len may be NULL). Errors: HH_EINVAL (role out of range, a
 * tool call's arguments not valid JSON, tools_json not a JSON array, a
 * system message where the family's template rejects one), HH_EUNSUPPORTED (tools, tool calls or tool messages for a
 * format without tool syntax; more than one call per message for llama3.1),
 * HH_ENOMEM; err says which message. */
int hh_chat_render(hh_chat_format_t f, const hh_chat_msg_t *msgs, size_t n, const hh_chat_params_t *params,
                   char **out, size_t *out_len, hh_err_t *err);

/* Splits len bytes of model output in format f into tool calls and the
 * remaining content. llama3.1: a JSON object {"name", "parameters"} (or
 * several, separated by ';' or whitespace), optionally after <|python_tag|>;
 * chatml/qwen: <tool_call>{"name", "arguments"}</tool_call> blocks;
 * mistral v3/v7: [TOOL_CALLS] followed by a JSON array, or
 * [TOOL_CALLS]name[ARGS]{...}. Formats without tool syntax return content
 * only. On success *calls (malloc'd array, NULL when *n == 0; free with
 * hh_chat_tool_calls_free) and *content_rest (malloc'd, the text outside the
 * calls with surrounding whitespace trimmed; caller frees; content_rest may
 * be NULL if unwanted). Returns HH_EFORMAT with the byte position in err for
 * a call whose JSON is malformed or lacks a string "name". */
int hh_chat_parse_tool_calls(hh_chat_format_t f, const char *text, size_t len, hh_tool_call_t **calls, size_t *n,
                             char **content_rest, hh_err_t *err);

/* Frees an array returned by hh_chat_parse_tool_calls (its strings too). */
void hh_chat_tool_calls_free(hh_tool_call_t *calls, size_t n);

#endif
