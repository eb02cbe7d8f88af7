/* openai.h - OpenAI request bodies -> engine requests, and OpenAI's error
 * shape.
 *
 * Parsing is pure (no engine, no network), so the fuzz target and unit
 * tests drive it directly. Unknown fields are ignored, as OpenAI does; a
 * known field of the wrong type or out of range is a 400 that names the
 * field in "param". */
#ifndef HH_HTTP_OPENAI_H
#define HH_HTTP_OPENAI_H

#include "base/utf8.h"
#include "engine/engine.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

/* An API error in OpenAI's shape: {"error":{"message","type","param","code"}}. */
typedef struct hh_api_error {
    int  status;         /* HTTP status */
    char type[48];       /* invalid_request_error, authentication_error, ... */
    char code[48];       /* "" = null */
    char param[64];      /* "" = null */
    char message[512];
} hh_api_error_t;

/* Fills e (returns status so callers can `return hh_api_error_set(...)`).
 * Every path-like word of the message (two or more '/', not an /v1/ or
 * /api/ path, not a URL) is shortened to its file name: no server path
 * reaches a client. */
int hh_api_error_set(hh_api_error_t *e, int status, const char *type, const char *code, const char *param,
                     const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* The error as a JSON text (malloc'd; caller frees; NULL on no memory). */
char *hh_api_error_json(const hh_api_error_t *e);

typedef enum hh_openai_kind { HH_OPENAI_CHAT = 0, HH_OPENAI_COMPLETION } hh_openai_kind_t;

#define HH_OPENAI_MAX_STOP 4

/* A parsed request. gen points into storage owned by this struct (the
 * parsed JSON tree and the arrays below); free with hh_openai_req_free. */
typedef struct hh_openai_req {
    hh_openai_kind_t kind;
    hh_gen_request_t gen;          /* cb / cb_user / user left for the caller */
    bool             stream;
    bool             include_usage;  /* stream_options.include_usage */
    bool             logprobs;       /* chat: logprobs true; completions: logprobs given */
    int              top_logprobs;
    bool             tool_choice_none;
    /* storage */
    cJSON           *root;
    hh_chat_msg_t   *msgs;
    hh_tool_call_t  *calls;          /* all messages' tool calls, one array */
    char           **texts;          /* concatenated content parts */
    size_t           n_texts;
    const char      *stops[HH_OPENAI_MAX_STOP];
    char            *tools_json;
    char            *schema_json;
} hh_openai_req_t;

/* Parses and validates a request body of the given kind. On success
 * returns 0 and fills *out (free with hh_openai_req_free). On failure
 * returns the HTTP status (400) with e filled, and *out needs no free.
 * max_body bounds nothing here (the server checks the size first). */
int  hh_openai_parse(hh_openai_kind_t kind, const char *body, size_t len, hh_openai_req_t *out, hh_api_error_t *e);
void hh_openai_req_free(hh_openai_req_t *r);

/* Finish reason as OpenAI writes it ("stop", "length", "tool_calls");
 * canceled and timeout map to "stop" and "length". */
const char *hh_openai_finish_name(hh_finish_t f);

/* Maps an engine submit error to an API error (404 model_not_found, 429,
 * 400 context_length_exceeded, ...). Returns the status. */
int hh_openai_submit_error(int code, const hh_err_t *err, const char *model, hh_api_error_t *e);

#endif
