/* test_chat.c - chat formats: exact rendering per family (expected strings
 * are what the official Jinja templates render for the same conversation),
 * detection from real template text (never evaluated), --chat-template
 * names, and tool-call parsing per family. */
#include "harness.h"
#include "tok/chat.h"

#include <cjson/cJSON.h>
#include <stdlib.h>

/* The shared 4-message conversation. "Hello! " keeps its trailing space so
 * the families that trim can be told from those that do not. */
static const hh_chat_msg_t k_chat[] = {
    { .role = HH_ROLE_SYSTEM, .content = "You are terse." },
    { .role = HH_ROLE_USER, .content = "Hello! " },
    { .role = HH_ROLE_ASSISTANT, .content = "Hi there." },
    { .role = HH_ROLE_USER, .content = "What is 2+2?" },
};

static const char k_tools[] =
    "[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"description\":\"Current weather for a city.\","
    "\"parameters\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\",\"description\":\"City name\"}},"
    "\"required\":[\"city\"]}}}]";

static const hh_tool_call_t k_call = { .name = "get_weather", .arguments_json = "{\"city\":\"Paris\",\"days\":2}",
                                       .id = "call00001" };

static const hh_chat_msg_t k_tool_chat[] = {
    { .role = HH_ROLE_SYSTEM, .content = "Use tools." },
    { .role = HH_ROLE_USER, .content = "Weather in Paris?" },
    { .role = HH_ROLE_ASSISTANT, .content = "", .tool_calls = &k_call, .n_tool_calls = 1 },
    { .role = HH_ROLE_TOOL, .content = "{\"temp\": 21}", .tool_call_id = "call00001", .name = "get_weather" },
};

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* Renders msgs in format f with the given BOS/EOS text; NULL on error
 * (the error is printed). Caller frees. */
static char *render(hh_chat_format_t f, const hh_chat_msg_t *m, size_t n, const char *tools, bool gen,
                    const char *bos, const char *eos)
{
    hh_chat_params_t p = hh_chat_default_params();
    p.tools_json = tools;
    p.add_generation_prompt = gen;
    p.bos_text = bos;
    p.eos_text = eos;
    char *out = NULL;
    size_t len = 0;
    hh_err_t err;
    hh_err_clear(&err);
    int rc = hh_chat_render(f, m, n, &p, &out, &len, &err);
    if (rc != 0) {
        fprintf(stderr, "render %s failed: %d %s\n", hh_chat_format_name(f), rc, err.msg);
        return NULL;
    }
    if (len != strlen(out)) {
        fprintf(stderr, "render %s: out_len %zu != strlen %zu\n", hh_chat_format_name(f), len, strlen(out));
        free(out);
        return NULL;
    }
    return out;
}

#define ASSERT_RENDER(f, msgs, n, tools, gen, bos, eos, expected) do {                     \
    char *_s = render((f), (msgs), (n), (tools), (gen), (bos), (eos));                    \
    ASSERT_TRUE(_s != NULL);                                                              \
    int _eq = strcmp(_s, (expected)) == 0;                                                \
    if (!_eq) hh_test_fail(__FILE__, __LINE__, "format %s:\nexpected \"%s\"\n     got \"%s\"", \
                           hh_chat_format_name(f), (expected), _s);                       \
    free(_s);                                                                             \
    if (!_eq) return;                                                                     \
} while (0)

/* ---- rendering ---------------------------------------------------------- */

TEST(chat_render_llama3)
{
    ASSERT_RENDER(HH_CHAT_LLAMA3, k_chat, 4, NULL, true, "<|begin_of_text|>", "<|eot_id|>",
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are terse.<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nHello!<|eot_id|><|start_header_id|>assistant<|end_header_id|>"
        "\n\nHi there.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nWhat is 2+2?<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n");
    /* Without a system message; BOS left to the tokenizer (bos_text NULL). */
    ASSERT_RENDER(HH_CHAT_LLAMA3, k_chat + 1, 2, NULL, false, NULL, NULL,
        "<|start_header_id|>user<|end_header_id|>\n\nHello!<|eot_id|><|start_header_id|>assistant<|end_header_id|>"
        "\n\nHi there.<|eot_id|>");
}

TEST(chat_render_llama31)
{
    ASSERT_RENDER(HH_CHAT_LLAMA31, k_chat, 4, NULL, true, "<|begin_of_text|>", "<|eot_id|>",
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\n"
        "Today Date: 26 Jul 2024\n\nYou are terse.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHello!"
        "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHi there.<|eot_id|><|start_header_id|>user"
        "<|end_header_id|>\n\nWhat is 2+2?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n");
}

TEST(chat_render_llama31_tools)
{
    ASSERT_RENDER(HH_CHAT_LLAMA31, k_tool_chat, 4, k_tools, true, "<|begin_of_text|>", "<|eot_id|>",
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nEnvironment: ipython\nCutting Knowledge "
        "Date: December 2023\nToday Date: 26 Jul 2024\n\nUse tools.<|eot_id|><|start_header_id|>user<|end_header_id|>"
        "\n\nGiven the following functions, please respond with a JSON for a function call with its proper arguments "
        "that best answers the given prompt.\n\nRespond in the format {\"name\": function name, \"parameters\": "
        "dictionary of argument name and its value}.Do not use variables.\n\n{\n    \"type\": \"function\",\n    "
        "\"function\": {\n        \"name\": \"get_weather\",\n        \"description\": \"Current weather for a city.\""
        ",\n        \"parameters\": {\n            \"type\": \"object\",\n            \"properties\": {\n          "
        "      \"city\": {\n                    \"type\": \"string\",\n                    \"description\": \"City "
        "name\"\n                }\n            },\n            \"required\": [\n                \"city\"\n         "
        "   ]\n        }\n    }\n}\n\nWeather in Paris?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
        "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\", \"days\": 2}}<|eot_id|><|start_header_id|>"
        "ipython<|end_header_id|>\n\n\"{\\\"temp\\\": 21}\"<|eot_id|><|start_header_id|>assistant<|end_header_id|>"
        "\n\n");
}

TEST(chat_render_chatml_and_qwen)
{
    const char *with_sys =
        "<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nHello! <|im_end|>\n<|im_start|>assistant\n"
        "Hi there.<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n";
    ASSERT_RENDER(HH_CHAT_CHATML, k_chat, 4, NULL, true, "<s>", "</s>", with_sys);
    ASSERT_RENDER(HH_CHAT_QWEN2, k_chat, 4, NULL, true, NULL, NULL, with_sys);
    ASSERT_RENDER(HH_CHAT_QWEN25, k_chat, 4, NULL, true, NULL, NULL, with_sys);
    const char *tail = "<|im_start|>user\nHello! <|im_end|>\n<|im_start|>assistant\nHi there.<|im_end|>\n"
                       "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n";
    char want[1024];
    ASSERT_RENDER(HH_CHAT_CHATML, k_chat + 1, 3, NULL, true, NULL, NULL, tail);
    snprintf(want, sizeof want, "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n%s", tail);
    ASSERT_RENDER(HH_CHAT_QWEN2, k_chat + 1, 3, NULL, true, NULL, NULL, want);
    snprintf(want, sizeof want, "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful "
             "assistant.<|im_end|>\n%s", tail);
    ASSERT_RENDER(HH_CHAT_QWEN25, k_chat + 1, 3, NULL, true, NULL, NULL, want);
}

TEST(chat_render_qwen25_tools)
{
    ASSERT_RENDER(HH_CHAT_QWEN25, k_tool_chat, 4, k_tools, true, NULL, NULL,
        "<|im_start|>system\nUse tools.\n\n# Tools\n\nYou may call one or more functions to assist with the user "
        "query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>\n{\"type\": "
        "\"function\", \"function\": {\"name\": \"get_weather\", \"description\": \"Current weather for a city.\", "
        "\"parameters\": {\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\", \"description\": "
        "\"City name\"}}, \"required\": [\"city\"]}}}\n</tools>\n\nFor each function call, return a json object "
        "with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": "
        "<function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n<|im_start|>user\nWeather in "
        "Paris?<|im_end|>\n<|im_start|>assistant\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": "
        "\"Paris\", \"days\": 2}}\n</tool_call><|im_end|>\n<|im_start|>user\n<tool_response>\n{\"temp\": 21}\n"
        "</tool_response><|im_end|>\n<|im_start|>assistant\n");
    /* Two consecutive tool results share one user turn. */
    const hh_chat_msg_t two[] = {
        { .role = HH_ROLE_TOOL, .content = "a" },
        { .role = HH_ROLE_TOOL, .content = "b" },
    };
    ASSERT_RENDER(HH_CHAT_CHATML, two, 2, NULL, false, NULL, NULL,
        "<|im_start|>user\n<tool_response>\na\n</tool_response>\n<tool_response>\nb\n</tool_response><|im_end|>\n");
}

TEST(chat_render_llama2)
{
    ASSERT_RENDER(HH_CHAT_LLAMA2, k_chat, 4, NULL, true, "<s>", "</s>",
        "<s>[INST] <<SYS>>\nYou are terse.\n<</SYS>>\n\nHello! [/INST] Hi there. </s><s>[INST] What is 2+2? [/INST]");
}

TEST(chat_render_mistral)
{
    ASSERT_RENDER(HH_CHAT_MISTRAL_V1, k_chat, 4, NULL, true, "<s>", "</s>",
        "<s> [INST] You are terse.\n\nHello!  [/INST] Hi there.</s> [INST] What is 2+2? [/INST]");
    /* What the Mixtral v0.1 template renders for the same turns minus the system message. */
    ASSERT_RENDER(HH_CHAT_MISTRAL_LEGACY, k_chat + 1, 3, NULL, true, "<s>", "</s>",
        "<s>[INST] Hello!  [/INST]Hi there.</s>[INST] What is 2+2? [/INST]");
    /* v3 / Nemo put the system prompt into the last message, when it is a user one. */
    ASSERT_RENDER(HH_CHAT_MISTRAL_V3, k_chat, 4, NULL, true, "<s>", "</s>",
        "<s>[INST] Hello! [/INST] Hi there.</s>[INST] You are terse.\n\nWhat is 2+2?[/INST]");
    ASSERT_RENDER(HH_CHAT_MISTRAL_V3, k_chat, 3, NULL, false, "<s>", "</s>", "<s>[INST] Hello! [/INST] Hi there.</s>");
    ASSERT_RENDER(HH_CHAT_MISTRAL_V3_TEKKEN, k_chat, 4, NULL, true, "<s>", "</s>",
        "<s>[INST]Hello! [/INST]Hi there.</s>[INST]You are terse.\n\nWhat is 2+2?[/INST]");
    ASSERT_RENDER(HH_CHAT_MISTRAL_V7, k_chat, 4, NULL, true, "<s>", "</s>",
        "<s>[SYSTEM_PROMPT] You are terse.[/SYSTEM_PROMPT][INST] Hello! [/INST] Hi there.</s>[INST] What is 2+2?"
        "[/INST]");
    ASSERT_RENDER(HH_CHAT_MISTRAL_V7_TEKKEN, k_chat, 4, NULL, true, "<s>", "</s>",
        "<s>[SYSTEM_PROMPT]You are terse.[/SYSTEM_PROMPT][INST]Hello! [/INST]Hi there.</s>[INST]What is 2+2?[/INST]");
}

TEST(chat_render_mistral_tools)
{
    const char *tools_json =
        "[{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": \"Current weather for "
        "a city.\", \"parameters\": {\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\", "
        "\"description\": \"City name\"}}, \"required\": [\"city\"]}}}]";
    const char *call = "{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"days\": 2}, \"id\": "
                       "\"call00001\"}]</s>";
    char want[2048];
    snprintf(want, sizeof want, "<s>[AVAILABLE_TOOLS] %s[/AVAILABLE_TOOLS][INST] Weather in Paris?[/INST]"
             "[TOOL_CALLS] [%s[TOOL_RESULTS] {\"content\": {\"temp\": 21}, \"call_id\": \"call00001\"}"
             "[/TOOL_RESULTS]", tools_json, call);
    ASSERT_RENDER(HH_CHAT_MISTRAL_V3, k_tool_chat, 4, k_tools, true, "<s>", "</s>", want);
    snprintf(want, sizeof want, "<s>[AVAILABLE_TOOLS]%s[/AVAILABLE_TOOLS][INST]Weather in Paris?[/INST]"
             "[TOOL_CALLS][%s[TOOL_RESULTS]{\"content\": {\"temp\": 21}, \"call_id\": \"call00001\"}"
             "[/TOOL_RESULTS]", tools_json, call);
    ASSERT_RENDER(HH_CHAT_MISTRAL_V3_TEKKEN, k_tool_chat, 4, k_tools, true, "<s>", "</s>", want);
}

TEST(chat_render_gemma_phi)
{
    ASSERT_RENDER(HH_CHAT_GEMMA, k_chat, 4, NULL, true, "<bos>", "<eos>",
        "<bos><start_of_turn>user\nYou are terse.\n\nHello!<end_of_turn>\n<start_of_turn>model\nHi there.<end_of_turn>\n"
        "<start_of_turn>user\nWhat is 2+2?<end_of_turn>\n<start_of_turn>model\n");
    ASSERT_RENDER(HH_CHAT_PHI3, k_chat, 4, NULL, true, "<s>", "<|endoftext|>",
        "<|system|>\nYou are terse.<|end|>\n<|user|>\nHello! <|end|>\n<|assistant|>\nHi there.<|end|>\n<|user|>\n"
        "What is 2+2?<|end|>\n<|assistant|>\n");
    ASSERT_RENDER(HH_CHAT_PHI3, k_chat + 1, 2, NULL, false, "<s>", "<|endoftext|>",
        "<|user|>\nHello! <|end|>\n<|assistant|>\nHi there.<|end|>\n<|endoftext|>");
    ASSERT_RENDER(HH_CHAT_PHI3_LEGACY, k_chat, 4, NULL, true, "<s>", "<|endoftext|>",
        "<s><|user|>\nHello! <|end|>\n<|assistant|>\nHi there.<|end|>\n<|user|>\nWhat is 2+2?<|end|>\n<|assistant|>\n");
    ASSERT_RENDER(HH_CHAT_PHI4, k_chat, 4, NULL, true, NULL, NULL,
        "<|im_start|>system<|im_sep|>You are terse.<|im_end|><|im_start|>user<|im_sep|>Hello! <|im_end|><|im_start|>"
        "assistant<|im_sep|>Hi there.<|im_end|><|im_start|>user<|im_sep|>What is 2+2?<|im_end|><|im_start|>assistant"
        "<|im_sep|>");
}

TEST(chat_render_rejects_what_a_format_cannot_say)
{
    hh_chat_params_t p = hh_chat_default_params();
    char *out = (char *)1;
    hh_err_t err;
    p.tools_json = k_tools;
    ASSERT_EQ_INT(hh_chat_render(HH_CHAT_GEMMA, k_chat, 4, &p, &out, NULL, &err), HH_EUNSUPPORTED);
    ASSERT_TRUE(out == NULL);
    ASSERT_TRUE(strstr(err.msg, "gemma") != NULL);
    p.tools_json = NULL;
    ASSERT_EQ_INT(hh_chat_render(HH_CHAT_LLAMA2, k_tool_chat, 4, &p, &out, NULL, &err), HH_EUNSUPPORTED);
    p.tools_json = "{\"not\": \"an array\"}";
    ASSERT_EQ_INT(hh_chat_render(HH_CHAT_CHATML, k_chat, 4, &p, &out, NULL, &err), HH_EINVAL);
    /* [] means no tools, as the templates' `if tools` does. */
    p.tools_json = "[]";
    ASSERT_OK(hh_chat_render(HH_CHAT_GEMMA, k_chat + 1, 1, &p, &out, NULL, &err));
    ASSERT_STREQ(out, "<start_of_turn>user\nHello!<end_of_turn>\n<start_of_turn>model\n");
    free(out);
    p.tools_json = NULL;
    hh_tool_call_t bad = { .name = "f", .arguments_json = "{oops", .id = "x" };
    hh_chat_msg_t m = { .role = HH_ROLE_ASSISTANT, .tool_calls = &bad, .n_tool_calls = 1 };
    ASSERT_EQ_INT(hh_chat_render(HH_CHAT_QWEN25, &m, 1, &p, &out, NULL, &err), HH_EINVAL);
    ASSERT_TRUE(strstr(err.msg, "not valid JSON") != NULL);
    hh_tool_call_t two[2] = { k_call, k_call };
    m.tool_calls = two;
    m.n_tool_calls = 2;
    ASSERT_EQ_INT(hh_chat_render(HH_CHAT_LLAMA31, &m, 1, &p, &out, NULL, &err), HH_EUNSUPPORTED);
    hh_chat_msg_t late_sys[] = { { .role = HH_ROLE_USER, .content = "a" }, { .role = HH_ROLE_SYSTEM, .content = "b" } };
    ASSERT_EQ_INT(hh_chat_render(HH_CHAT_GEMMA, late_sys, 2, &p, &out, NULL, &err), HH_EINVAL);
    hh_chat_msg_t bad_role = { .role = (hh_role_t)9, .content = "x" };
    ASSERT_EQ_INT(hh_chat_render(HH_CHAT_CHATML, &bad_role, 1, &p, &out, NULL, &err), HH_EINVAL);
    /* No messages: an empty string, not NULL. */
    p.add_generation_prompt = false;
    ASSERT_OK(hh_chat_render(HH_CHAT_CHATML, NULL, 0, &p, &out, NULL, &err));
    ASSERT_STREQ(out, "");
    free(out);
}

/* ---- detection ----------------------------------------------------------- */

static hh_chat_format_t detect_ok(const char *t, int *rc)
{
    hh_chat_format_t f = HH_CHAT_FORMAT_COUNT;
    hh_err_t err;
    *rc = hh_chat_detect(t, &f, &err);
    return f;
}

#define ASSERT_DETECT(tmpl, want) do { int _rc; hh_chat_format_t _f = detect_ok((tmpl), &_rc);          \
    ASSERT_EQ_INT(_rc, 0);                                                                              \
    ASSERT_STREQ(hh_chat_format_name(_f), hh_chat_format_name(want)); } while (0)

TEST(chat_detect_real_templates)
{
    /* Llama 3 Instruct (complete template). */
    ASSERT_DETECT("{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = "
                  "'<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + "
                  "'<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}"
                  "{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant"
                  "<|end_header_id|>\n\n' }}{% endif %}", HH_CHAT_LLAMA3);
    /* Llama 3.1 excerpt. */
    ASSERT_DETECT("{{- \"<|start_header_id|>system<|end_header_id|>\\n\\n\" }}\n{%- if builtin_tools is defined "
                  "or tools is not none %}\n    {{- \"Environment: ipython\\n\" }}\n{%- endif %}\n{{- \"Cutting "
                  "Knowledge Date: December 2023\\n\" }}", HH_CHAT_LLAMA31);
    /* Qwen2 Instruct (complete). */
    ASSERT_DETECT("{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ "
                  "'<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + "
                  "message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if "
                  "add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}", HH_CHAT_QWEN2);
    /* Qwen2.5 excerpt. */
    ASSERT_DETECT("{%- else %}\n        {{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' "
                  "}}\n    {%- endif %}\n    {{- \"\\n\\n# Tools\\n\\nYou may call one or more functions\" }}{{- "
                  "'<|im_start|>' + message.role }}", HH_CHAT_QWEN25);
    /* Generic ChatML (e.g. OpenHermes). */
    ASSERT_DETECT("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + "
                  "'<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}"
                  "{% endif %}", HH_CHAT_CHATML);
    ASSERT_DETECT("{% for message in messages %}{% if (message['role'] == 'system') %}{{'<|im_start|>system"
                  "<|im_sep|>' + message['content'] + '<|im_end|>'}}{% endif %}{% endfor %}", HH_CHAT_PHI4);
    /* Llama 2 chat. */
    ASSERT_DETECT("{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\\n' + "
                  "system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}{% endif %}{% if message['role'] == "
                  "'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}", HH_CHAT_LLAMA2);
    /* Mistral 7B v0.1/v0.2 (updated), v0.3, Nemo, Large 2411, Small 3. */
    ASSERT_DETECT("{%- if loop.first and system_message is defined %}\n            {{- ' [INST] ' + "
                  "system_message + '\\n\\n' + message['content'] + ' [/INST]' }}", HH_CHAT_MISTRAL_V1);
    /* Mixtral 8x7B Instruct v0.1 (complete). */
    ASSERT_DETECT("{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 "
                  "== 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
                  "{% endif %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% "
                  "elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}{% else %}{{ "
                  "raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}",
                  HH_CHAT_MISTRAL_LEGACY);
    ASSERT_DETECT("{%- if loop.last and system_message is defined %}\n            {{- \"[INST] \" + "
                  "system_message + \"\\n\\n\" + message[\"content\"] + \"[/INST]\" }}", HH_CHAT_MISTRAL_V3);
    ASSERT_DETECT("{%- if loop.last and system_message is defined %}\n            {{- \"[INST]\" + "
                  "system_message + \"\\n\\n\" + message[\"content\"] + \"[/INST]\" }}", HH_CHAT_MISTRAL_V3_TEKKEN);
    ASSERT_DETECT("{{- '[SYSTEM_PROMPT] ' + message['content'] + '[/SYSTEM_PROMPT]' }}{{- '[INST] ' + "
                  "message['content'] + '[/INST]' }}", HH_CHAT_MISTRAL_V7);
    ASSERT_DETECT("{{- '[SYSTEM_PROMPT]' + system_message + '[/SYSTEM_PROMPT]' }}{{- '[INST]' + "
                  "message['content'] + '[/INST]' }}", HH_CHAT_MISTRAL_V7_TEKKEN);
    /* Gemma. */
    ASSERT_DETECT("{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not "
                  "supported') }}{% endif %}{{ '<start_of_turn>' + role + '\n' + message['content'] | trim + "
                  "'<end_of_turn>\n' }}", HH_CHAT_GEMMA);
    /* Phi-3.5 mini. */
    ASSERT_DETECT("{% for message in messages %}{% if message['role'] == 'system' and message['content'] %}{{'"
                  "<|system|>\n' + message['content'] + '<|end|>\n'}}{% elif message['role'] == 'user' %}{{'<|user|>"
                  "\n' + message['content'] + '<|end|>\n'}}{% endif %}{% endfor %}", HH_CHAT_PHI3);
}

/* Reads the string value of key from a GGUF file by scanning for the key
 * (test helper; the real reader lives in src/gguf). NULL if absent. */
static char *gguf_string_value(const char *path, const char *key)
{
    size_t size = 0;
    unsigned char *d = hh_test_read_file(path, &size);
    if (d == NULL)
        return NULL;
    char *res = NULL;
    size_t kl = strlen(key);
    for (size_t i = 8; i + kl + 12 <= size; i++) {
        uint64_t klen;
        memcpy(&klen, d + i - 8, 8);
        if (klen != kl || memcmp(d + i, key, kl) != 0)
            continue;
        uint32_t type;
        uint64_t len;
        memcpy(&type, d + i + kl, 4);
        memcpy(&len, d + i + kl + 4, 8);
        size_t at = i + kl + 12;
        if (type != 8 || len > size - at)
            break;
        res = malloc(len + 1);
        if (res) {
            memcpy(res, d + at, len);
            res[len] = '\0';
        }
        break;
    }
    free(d);
    return res;
}

TEST(chat_detect_gguf_template)
{
    char *t = gguf_string_value(hh_test_data_path("vocab/ggml-vocab-phi-3.gguf"), "tokenizer.chat_template");
    ASSERT_TRUE(t != NULL);
    int rc;
    hh_chat_format_t f = detect_ok(t, &rc);
    free(t);
    ASSERT_EQ_INT(rc, 0);
    ASSERT_STREQ(hh_chat_format_name(f), "phi3-legacy");
    /* A GGUF without a template. */
    t = gguf_string_value(hh_test_data_path("vocab/ggml-vocab-gpt-2.gguf"), "tokenizer.chat_template");
    f = detect_ok(t, &rc);
    free(t);
    ASSERT_EQ_INT(rc, HH_ENOENT);
    ASSERT_EQ_INT(f, HH_CHAT_CHATML);
}

TEST(chat_detect_falls_back_and_never_evaluates)
{
    hh_err_t err;
    hh_chat_format_t f = HH_CHAT_GEMMA;
    ASSERT_EQ_INT(hh_chat_detect(NULL, &f, &err), HH_ENOENT);
    ASSERT_EQ_INT(f, HH_CHAT_CHATML);
    ASSERT_TRUE(strstr(err.msg, "chatml") != NULL);
    f = HH_CHAT_GEMMA;
    ASSERT_EQ_INT(hh_chat_detect("", &f, &err), HH_ENOENT);
    ASSERT_EQ_INT(f, HH_CHAT_CHATML);
    /* An attack template (CVE-2024-34359 style): matched as text, never run. */
    const char *evil = "{{ cycler.__init__.__globals__.os.popen('touch /tmp/hoheit-pwned').read() }}"
                       "{% for m in messages %}### {{ m['role'] }}: {{ m['content'] }}{% endfor %}";
    f = HH_CHAT_GEMMA;
    ASSERT_EQ_INT(hh_chat_detect(evil, &f, &err), HH_EUNSUPPORTED);
    ASSERT_EQ_INT(f, HH_CHAT_CHATML);
    ASSERT_TRUE(strstr(err.msg, "not recognized") != NULL);
    /* The same payload inside a ChatML template: still only ChatML. */
    char buf[512];
    snprintf(buf, sizeof buf, "%s{{ '<|im_start|>' + message['role'] }}", evil);
    ASSERT_EQ_INT(hh_chat_detect(buf, &f, &err), 0);
    ASSERT_EQ_INT(f, HH_CHAT_CHATML);
    ASSERT_EQ_INT(hh_chat_detect(buf, NULL, &err), HH_EINVAL);
}

/* gpt-oss's harmony format: markers of its template (the lines that open
 * the system block and write a final answer) are detected as harmony; the
 * rendering follows openai/gpt-oss's template without tools: the fixed
 * system block with the date, a first system message as the developer's
 * instructions, user turns, earlier answers in the final channel, and the
 * generation prompt "<|start|>assistant" (the model then picks its
 * channel). Without a generation prompt the last answer ends <|return|>. */
static const char k_harmony_markers[] =
    "{{- \"<|start|>system<|message|>\" }}\n{{- build_system_message() }}\n{{- \"<|end|>\" }}\n"
    "{{- \"<|start|>assistant<|channel|>final<|message|>\" + message.content + \"<|end|>\" }}\n";

static char *render_dated(hh_chat_format_t f, const hh_chat_msg_t *m, size_t n, bool gen, const char *date)
{
    hh_chat_params_t p = hh_chat_default_params();
    p.add_generation_prompt = gen;
    p.date_string = date;
    char *s = NULL;
    hh_err_t err;
    return hh_chat_render(f, m, n, &p, &s, NULL, &err) == 0 ? s : NULL;
}

TEST(chat_harmony_detected_and_rendered)
{
    int rc;
    hh_chat_format_t f = detect_ok(k_harmony_markers, &rc);
    ASSERT_EQ_INT(rc, 0);
    ASSERT_EQ_INT(f, HH_CHAT_HARMONY);
    ASSERT_STREQ(hh_chat_format_name(f), "harmony");
    ASSERT_OK(hh_chat_format_from_name("gpt-oss", &f, NULL));
    ASSERT_EQ_INT(f, HH_CHAT_HARMONY);
    const char *sys_block =
        "<|start|>system<|message|>You are ChatGPT, a large language model trained by OpenAI.\n"
        "Knowledge cutoff: 2024-06\nCurrent date: 2026-12-07\n\nReasoning: medium\n\n"
        "# Valid channels: analysis, commentary, final. Channel must be included for every message.<|end|>";
    char want[2048];
    char *s = render_dated(HH_CHAT_HARMONY, k_chat, 4, true, "2026-12-07");
    snprintf(want, sizeof want, "%s%s", sys_block,
             "<|start|>developer<|message|># Instructions\n\nYou are terse.\n\n<|end|>"
             "<|start|>user<|message|>Hello! <|end|>"
             "<|start|>assistant<|channel|>final<|message|>Hi there.<|end|>"
             "<|start|>user<|message|>What is 2+2?<|end|><|start|>assistant");
    ASSERT_TRUE(s != NULL);
    if (strcmp(s, want) != 0) hh_test_fail(__FILE__, __LINE__, "harmony:\nexpected \"%s\"\n     got \"%s\"", want, s);
    free(s);
    /* no system message: no developer block; content untrimmed; the last answer ends <|return|> */
    s = render_dated(HH_CHAT_HARMONY, k_chat + 1, 2, false, "2026-12-07");
    snprintf(want, sizeof want, "%s%s", sys_block,
             "<|start|>user<|message|>Hello! <|end|><|start|>assistant<|channel|>final<|message|>Hi there.<|return|>");
    ASSERT_TRUE(s != NULL);
    if (strcmp(s, want) != 0) hh_test_fail(__FILE__, __LINE__, "harmony:\nexpected \"%s\"\n     got \"%s\"", want, s);
    free(s);
    /* without a date: today's, as YYYY-MM-DD */
    s = render_dated(HH_CHAT_HARMONY, k_chat + 1, 1, true, NULL);
    ASSERT_TRUE(s != NULL);
    const char *d = strstr(s, "Current date: ");
    ASSERT_TRUE(d != NULL);
    d += strlen("Current date: ");
    ASSERT_TRUE(strlen(d) > 10 && d[4] == '-' && d[7] == '-' && d[10] == '\n' && d[0] == '2');
    free(s);
    /* a system message later in the conversation and tools are refused */
    const hh_chat_msg_t late[] = { { .role = HH_ROLE_USER, .content = "a" }, { .role = HH_ROLE_SYSTEM, .content = "b" } };
    hh_chat_params_t p = hh_chat_default_params();
    hh_err_t err;
    ASSERT_EQ_INT(hh_chat_render(HH_CHAT_HARMONY, late, 2, &p, &s, NULL, &err), HH_EINVAL);
    ASSERT_TRUE(strstr(err.msg, "harmony") != NULL);
    p.tools_json = "[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}]";
    ASSERT_EQ_INT(hh_chat_render(HH_CHAT_HARMONY, k_chat + 1, 1, &p, &s, NULL, &err), HH_EUNSUPPORTED);
}

TEST(chat_format_names)
{
    for (int i = 0; i < HH_CHAT_FORMAT_COUNT; i++) {
        hh_chat_format_t f;
        ASSERT_OK(hh_chat_format_from_name(hh_chat_format_name((hh_chat_format_t)i), &f, NULL));
        ASSERT_EQ_INT(f, i);
    }
    static const struct { const char *n; hh_chat_format_t f; } want[] = {
        { "llama3", HH_CHAT_LLAMA3 }, { "chatml", HH_CHAT_CHATML }, { "mistral", HH_CHAT_MISTRAL_V3 },
        { "llama2", HH_CHAT_LLAMA2 }, { "gemma", HH_CHAT_GEMMA }, { "phi3", HH_CHAT_PHI3 },
        { "llama3.2", HH_CHAT_LLAMA31 }, { "qwen", HH_CHAT_QWEN25 },
    };
    for (size_t i = 0; i < N_OF(want); i++) {
        hh_chat_format_t f;
        ASSERT_OK(hh_chat_format_from_name(want[i].n, &f, NULL));
        ASSERT_STREQ(hh_chat_format_name(f), hh_chat_format_name(want[i].f));
    }
    hh_err_t err;
    hh_chat_format_t f;
    ASSERT_EQ_INT(hh_chat_format_from_name("vicuna-9000", &f, &err), HH_ENOENT);
    ASSERT_TRUE(strstr(err.msg, "unknown chat template 'vicuna-9000'") != NULL);
    ASSERT_TRUE(strstr(err.msg, "mistral-v7-tekken") != NULL);
    ASSERT_EQ_INT(hh_chat_format_from_name("", &f, &err), HH_ENOENT);
    ASSERT_STREQ(hh_chat_format_name((hh_chat_format_t)99), "unknown");
    ASSERT_TRUE(hh_chat_format_supports_tools(HH_CHAT_QWEN25));
    ASSERT_FALSE(hh_chat_format_supports_tools(HH_CHAT_GEMMA));
}

/* ---- tool-call parsing ----------------------------------------------------- */

/* JSON equality of two texts (key order and spacing ignored). */
static bool json_same(const char *a, const char *b)
{
    cJSON *ja = cJSON_Parse(a), *jb = cJSON_Parse(b);
    bool same = ja && jb && cJSON_Compare(ja, jb, 1);
    cJSON_Delete(ja);
    cJSON_Delete(jb);
    return same;
}

typedef struct parsed {
    int             rc;
    hh_tool_call_t *calls;
    size_t          n;
    char           *content;
    hh_err_t        err;
} parsed_t;

static parsed_t parse(hh_chat_format_t f, const char *text)
{
    parsed_t p = { 0 };
    p.rc = hh_chat_parse_tool_calls(f, text, strlen(text), &p.calls, &p.n, &p.content, &p.err);
    return p;
}

static void parsed_free(parsed_t *p)
{
    hh_chat_tool_calls_free(p->calls, p->n);
    free(p->content);
}

#define ASSERT_CALL(p, i, nm, args) do {                                                          \
    ASSERT_STREQ((p).calls[i].name, (nm));                                                        \
    if (!json_same((p).calls[i].arguments_json, (args))) {                                        \
        hh_test_fail(__FILE__, __LINE__, "arguments: expected %s, got %s", (args),                \
                     (p).calls[i].arguments_json);                                                \
        parsed_free(&(p)); return; } } while (0)

TEST(chat_parse_hermes)
{
    parsed_t p = parse(HH_CHAT_QWEN25, "Let me check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": "
                                       "{\"city\": \"Paris\"}}\n</tool_call>\n<tool_call>\n{\"name\": \"get_time\", "
                                       "\"arguments\": {\"tz\": \"CET\"}}\n</tool_call>");
    ASSERT_OK(p.rc);
    ASSERT_EQ_INT(p.n, 2);
    ASSERT_CALL(p, 0, "get_weather", "{\"city\":\"Paris\"}");
    ASSERT_CALL(p, 1, "get_time", "{\"tz\":\"CET\"}");
    ASSERT_TRUE(p.calls[0].id == NULL);
    ASSERT_STREQ(p.content, "Let me check.");
    parsed_free(&p);

    p = parse(HH_CHAT_CHATML, "  Just an answer.\n");
    ASSERT_OK(p.rc);
    ASSERT_EQ_INT(p.n, 0);
    ASSERT_TRUE(p.calls == NULL);
    ASSERT_STREQ(p.content, "Just an answer.");
    parsed_free(&p);

    p = parse(HH_CHAT_QWEN25, "ok <tool_call>\n{\"name\": \"f\", \"arguments\": {\"a\": }\n</tool_call>");
    ASSERT_EQ_INT(p.rc, HH_EFORMAT);
    ASSERT_TRUE(strstr(p.err.msg, "invalid JSON") != NULL);
    ASSERT_GE(p.err.pos, 16);
    ASSERT_TRUE(p.calls == NULL && p.content == NULL);

    p = parse(HH_CHAT_QWEN25, "<tool_call>{\"arguments\": {}}</tool_call>");
    ASSERT_EQ_INT(p.rc, HH_EFORMAT);
    ASSERT_TRUE(strstr(p.err.msg, "name") != NULL);

    /* Generation stopped before the closing tag: the JSON still counts. */
    p = parse(HH_CHAT_QWEN25, "<tool_call>\n{\"name\": \"f\", \"arguments\": {\"x\": 1}}\n");
    ASSERT_OK(p.rc);
    ASSERT_EQ_INT(p.n, 1);
    ASSERT_CALL(p, 0, "f", "{\"x\":1}");
    parsed_free(&p);
}

TEST(chat_parse_llama31)
{
    parsed_t p = parse(HH_CHAT_LLAMA31, "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}");
    ASSERT_OK(p.rc);
    ASSERT_EQ_INT(p.n, 1);
    ASSERT_CALL(p, 0, "get_weather", "{\"city\":\"Paris\"}");
    ASSERT_STREQ(p.content, "");
    parsed_free(&p);

    p = parse(HH_CHAT_LLAMA31, "<|python_tag|>{\"name\": \"a\", \"parameters\": {}}; {\"name\": \"b\", "
                               "\"parameters\": {\"k\": [1, 2]}}");
    ASSERT_OK(p.rc);
    ASSERT_EQ_INT(p.n, 2);
    ASSERT_CALL(p, 0, "a", "{}");
    ASSERT_CALL(p, 1, "b", "{\"k\":[1,2]}");
    parsed_free(&p);

    p = parse(HH_CHAT_LLAMA31, "The answer is 4.");
    ASSERT_OK(p.rc);
    ASSERT_EQ_INT(p.n, 0);
    ASSERT_STREQ(p.content, "The answer is 4.");
    parsed_free(&p);

    /* JSON that is not a call stays content. */
    p = parse(HH_CHAT_LLAMA31, "{\"result\": 4}");
    ASSERT_OK(p.rc);
    ASSERT_EQ_INT(p.n, 0);
    ASSERT_STREQ(p.content, "{\"result\": 4}");
    parsed_free(&p);

    p = parse(HH_CHAT_LLAMA31, "{\"name\": \"get_weather\", \"parameters\": {\"city\": ");
    ASSERT_EQ_INT(p.rc, HH_EFORMAT);
    ASSERT_TRUE(strstr(p.err.msg, "malformed tool call") != NULL);
}

TEST(chat_parse_mistral)
{
    parsed_t p = parse(HH_CHAT_MISTRAL_V3, "[TOOL_CALLS] [{\"name\": \"get_weather\", \"arguments\": {\"city\": "
                                           "\"Paris\"}, \"id\": \"abcdef123\"}, {\"name\": \"get_time\", "
                                           "\"arguments\": {}}]");
    ASSERT_OK(p.rc);
    ASSERT_EQ_INT(p.n, 2);
    ASSERT_CALL(p, 0, "get_weather", "{\"city\":\"Paris\"}");
    ASSERT_STREQ(p.calls[0].id, "abcdef123");
    ASSERT_CALL(p, 1, "get_time", "{}");
    ASSERT_TRUE(p.calls[1].id == NULL);
    ASSERT_STREQ(p.content, "");
    parsed_free(&p);

    /* Newer form: [TOOL_CALLS]name[ARGS]{...}, repeated. */
    p = parse(HH_CHAT_MISTRAL_V7_TEKKEN, "[TOOL_CALLS]get_weather[ARGS]{\"city\": \"Paris\"}[TOOL_CALLS]get_time"
                                         "[ARGS]{\"tz\": \"CET\"}");
    ASSERT_OK(p.rc);
    ASSERT_EQ_INT(p.n, 2);
    ASSERT_CALL(p, 0, "get_weather", "{\"city\":\"Paris\"}");
    ASSERT_CALL(p, 1, "get_time", "{\"tz\":\"CET\"}");
    parsed_free(&p);

    p = parse(HH_CHAT_MISTRAL_V3, "No tools needed: 4.");
    ASSERT_OK(p.rc);
    ASSERT_EQ_INT(p.n, 0);
    ASSERT_STREQ(p.content, "No tools needed: 4.");
    parsed_free(&p);

    p = parse(HH_CHAT_MISTRAL_V3, "[TOOL_CALLS] [{\"name\": \"f\", \"arguments\": {]");
    ASSERT_EQ_INT(p.rc, HH_EFORMAT);
    p = parse(HH_CHAT_MISTRAL_V3, "[TOOL_CALLS] [{\"arguments\": {}}]");
    ASSERT_EQ_INT(p.rc, HH_EFORMAT);
    p = parse(HH_CHAT_MISTRAL_V3, "[TOOL_CALLS] {\"name\": \"f\"}");
    ASSERT_EQ_INT(p.rc, HH_EFORMAT);

    /* A format without tool syntax: everything is content. */
    p = parse(HH_CHAT_GEMMA, "[TOOL_CALLS] [] <tool_call>");
    ASSERT_OK(p.rc);
    ASSERT_EQ_INT(p.n, 0);
    ASSERT_STREQ(p.content, "[TOOL_CALLS] [] <tool_call>");
    parsed_free(&p);
}

/* What a family renders for an assistant tool-call turn parses back into the
 * same calls. */
TEST(chat_tool_calls_round_trip)
{
    hh_tool_call_t two[2] = {
        { .name = "get_weather", .arguments_json = "{\"city\": \"Zürich\", \"note\": \"a \\\"quoted\\\" word\"}",
          .id = "abcdef123" },
        { .name = "add", .arguments_json = "{\"a\": 1.5, \"b\": [true, null]}", .id = "abcdef124" },
    };
    const struct { hh_chat_format_t f; const char *strip_before; int n; } fam[] = {
        { HH_CHAT_QWEN25, "<|im_start|>assistant", 2 },
        { HH_CHAT_CHATML, "<|im_start|>assistant", 2 },
        { HH_CHAT_MISTRAL_V3, "[/INST]", 2 },
        { HH_CHAT_MISTRAL_V3_TEKKEN, "[/INST]", 2 },
        { HH_CHAT_MISTRAL_V7, "[/INST]", 2 },
        { HH_CHAT_LLAMA31, "<|start_header_id|>assistant<|end_header_id|>\n\n", 1 },
    };
    for (size_t k = 0; k < N_OF(fam); k++) {
        hh_chat_msg_t m[2] = {
            { .role = HH_ROLE_USER, .content = "go" },
            { .role = HH_ROLE_ASSISTANT, .content = NULL, .tool_calls = two, .n_tool_calls = fam[k].n },
        };
        char *s = render(fam[k].f, m, 2, NULL, false, NULL, NULL);
        ASSERT_TRUE(s != NULL);
        const char *at = strstr(s, fam[k].strip_before);
        ASSERT_TRUE(at != NULL);
        at += strlen(at == NULL ? "" : fam[k].strip_before);
        /* Drop the turn terminator the template appended after the calls. */
        size_t len = strlen(at);
        static const char *const ends[] = { "<|im_end|>\n", "<|eot_id|>" };
        for (size_t e = 0; e < N_OF(ends); e++) {
            size_t el = strlen(ends[e]);
            if (len >= el && strcmp(at + len - el, ends[e]) == 0)
                len -= el;
        }
        parsed_t p = { 0 };
        p.rc = hh_chat_parse_tool_calls(fam[k].f, at, len, &p.calls, &p.n, &p.content, &p.err);
        free(s);
        if (p.rc != 0)
            hh_test_fail(__FILE__, __LINE__, "%s: parse failed: %s", hh_chat_format_name(fam[k].f), p.err.msg);
        ASSERT_OK(p.rc);
        ASSERT_EQ_INT(p.n, fam[k].n);
        for (int i = 0; i < fam[k].n; i++)
            ASSERT_CALL(p, i, two[i].name, two[i].arguments_json);
        ASSERT_STREQ(p.content, "");
        parsed_free(&p);
    }
}

/* Gemma 3's own template (google/gemma-3-*-it tokenizer_config.json, as
 * converted into GGUF files): detected as gemma, and the system message is
 * folded into the first user turn, the assistant is "model", contents are
 * trimmed; a conversation without a system message starts plainly. */
static const char k_gemma3_template[] =
    "{{ bos_token }}\n"
    "{%- if messages[0]['role'] == 'system' -%}\n"
    "    {%- if messages[0]['content'] is string -%}\n"
    "        {%- set first_user_prefix = messages[0]['content'] + '\\n\\n' -%}\n"
    "    {%- else -%}\n"
    "        {%- set first_user_prefix = messages[0]['content'][0]['text'] + '\\n\\n' -%}\n"
    "    {%- endif -%}\n"
    "    {%- set loop_messages = messages[1:] -%}\n"
    "{%- else -%}\n"
    "    {%- set first_user_prefix = \"\" -%}\n"
    "    {%- set loop_messages = messages -%}\n"
    "{%- endif -%}\n"
    "{%- for message in loop_messages -%}\n"
    "    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}\n"
    "        {{ raise_exception(\"Conversation roles must alternate user/assistant/user/assistant/...\") }}\n"
    "    {%- endif -%}\n"
    "    {%- if (message['role'] == 'assistant') -%}\n"
    "        {%- set role = \"model\" -%}\n"
    "    {%- else -%}\n"
    "        {%- set role = message['role'] -%}\n"
    "    {%- endif -%}\n"
    "    {{ '<start_of_turn>' + role + '\\n' + (first_user_prefix if loop.first else \"\") }}\n"
    "    {%- if message['content'] is string -%}\n"
    "        {{ message['content'] | trim }}\n"
    "    {%- elif message['content'] is iterable -%}\n"
    "        {%- for item in message['content'] -%}\n"
    "            {%- if item['type'] == 'image' -%}\n"
    "                {{ '<start_of_image>' }}\n"
    "            {%- elif item['type'] == 'text' -%}\n"
    "                {{ item['text'] | trim }}\n"
    "            {%- endif -%}\n"
    "        {%- endfor -%}\n"
    "    {%- else -%}\n"
    "        {{ raise_exception(\"Invalid content type\") }}\n"
    "    {%- endif -%}\n"
    "    {{ '<end_of_turn>\\n' }}\n"
    "{%- endfor -%}\n"
    "{%- if add_generation_prompt -%}\n"
    "    {{'<start_of_turn>model\\n'}}\n"
    "{%- endif -%}\n";

TEST(chat_gemma3_template_detected_and_rendered)
{
    int rc;
    hh_chat_format_t f = detect_ok(k_gemma3_template, &rc);
    ASSERT_EQ_INT(rc, 0);
    ASSERT_STREQ(hh_chat_format_name(f), "gemma");
    const hh_chat_msg_t de[] = {
        { .role = HH_ROLE_SYSTEM, .content = "Antworte kurz." },
        { .role = HH_ROLE_USER, .content = "  Wie viele Urlaubstage habe ich?\n" },
    };
    ASSERT_RENDER(f, de, 2, NULL, true, "<bos>", "<eos>",
        "<bos><start_of_turn>user\nAntworte kurz.\n\nWie viele Urlaubstage habe ich?<end_of_turn>\n"
        "<start_of_turn>model\n");
    ASSERT_RENDER(f, de + 1, 1, NULL, false, "<bos>", "<eos>",
        "<bos><start_of_turn>user\nWie viele Urlaubstage habe ich?<end_of_turn>\n");
}
