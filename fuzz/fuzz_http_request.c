/* fuzz_http_request.c - libFuzzer target for the OpenAI request parser: the
 * first byte picks chat or completions, the rest is the body. Accepted
 * requests are walked (every message, call, stop string, schema) so a
 * dangling pointer into the freed JSON tree shows up under ASan; rejected
 * ones must carry a 4xx status and an error JSON that parses. */
#include "http/openai.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t touch(const char *s)
{
    return s ? strlen(s) : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    hh_openai_kind_t kind = (data[0] & 1) ? HH_OPENAI_COMPLETION : HH_OPENAI_CHAT;
    /* A private copy without a terminating NUL, so reads past the end trap. */
    size_t n = size - 1;
    char *body = malloc(n ? n : 1);
    if (!body)
        return 0;
    memcpy(body, data + 1, n);
    hh_openai_req_t r;
    hh_api_error_t e;
    memset(&e, 0, sizeof e);
    int rc = hh_openai_parse(kind, body, n, &r, &e);
    volatile size_t sink = 0;
    if (rc == 0) {
        sink += touch(r.gen.model) + touch(r.gen.prompt) + touch(r.gen.tools_json) + touch(r.gen.json_schema);
        for (size_t i = 0; i < r.gen.n_messages; i++) {
            const hh_chat_msg_t *m = &r.gen.messages[i];
            sink += touch(m->content) + touch(m->tool_call_id) + touch(m->name) + (size_t)m->role;
            for (int k = 0; k < m->n_tool_calls; k++)
                sink += touch(m->tool_calls[k].name) + touch(m->tool_calls[k].arguments_json) +
                        touch(m->tool_calls[k].id);
        }
        for (size_t i = 0; i < r.gen.n_stop; i++)
            sink += touch(r.gen.stop[i]);
        if (r.gen.max_tokens < 0 || r.gen.n_logprobs < 0 || r.gen.n_logprobs > 20 || r.gen.n_stop > HH_OPENAI_MAX_STOP)
            abort();   /* validation let an out-of-range value through */
        hh_openai_req_free(&r);
    } else {
        if (rc < 400 || rc > 599 || e.status != rc)
            abort();
        char *j = hh_api_error_json(&e);
        cJSON *p = j ? cJSON_Parse(j) : NULL;
        if (j && !p)
            abort();   /* the error JSON must always parse */
        cJSON_Delete(p);
        free(j);
    }
    (void)sink;
    free(body);
    return 0;
}
