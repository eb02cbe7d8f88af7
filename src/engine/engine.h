/* engine.h - the inference service behind the API.
 *
 * An engine serves the GGUF models of one directory. A model is loaded on
 * first use and unloaded least-recently-used when the loaded files would
 * exceed the memory budget (never while it has requests). Every loaded model
 * has one scheduler thread and one hh_ctx_t with n_slots sequences: the
 * decode steps of all active requests go through the model as one batch
 * (continuous batching), prompts are prefilled in chunks between decode
 * steps, a new request reuses the KV of the slot whose cached tokens share
 * the longest prefix with its prompt (prefix cache; only a slot last used
 * with the same cache_scope, so nobody reuses, measures or evicts by content
 * what another scope computed), and waiting requests are served round-robin
 * across users (fair queue).
 *
 * Contract written by the lead; the engine owner may extend it. */
#ifndef HH_ENGINE_ENGINE_H
#define HH_ENGINE_ENGINE_H

#include "base/err.h"
#include "gguf/gguf.h"
#include "sample/sample.h"
#include "tok/chat.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct hh_engine_params {
    const char    *models_dir;        /* every *.gguf in it is a model; id = file name without .gguf */
    int32_t        n_slots;           /* parallel requests per model (default 4) */
    int32_t        n_ctx;             /* positions per slot (0 = min(n_ctx_train, 4096)) */
    int32_t        n_batch;           /* largest prompt chunk of one step (context batch size, default 512) */
    int32_t        n_prefill;         /* prompt tokens prefilled per scheduling step over all slots, next to one
                                       * decode token per running slot (default 64, at most n_batch) */
    int32_t        n_draft;           /* prompt-lookup decoding: draft tokens per step and request (default 8;
                                       * negative: off for every request) */
    int32_t        n_threads;         /* 0 = number of cores */
    uint64_t       mem_budget;        /* bytes of loaded model files (0 = 75 % of physical memory) */
    int32_t        max_queue;         /* waiting requests per model before HH_EFULL (default 64) */
    int32_t        max_tokens_limit;  /* upper bound for max_tokens (default n_ctx) */
    double         request_timeout_s; /* 0 = no timeout */
    hh_gguf_load_t load;              /* default HH_GGUF_LOAD_READ */
    bool           mlock;
} hh_engine_params_t;

typedef struct hh_engine hh_engine_t;

hh_engine_params_t hh_engine_default_params(void);

/* Creates an engine over params->models_dir (must exist). Loads nothing yet.
 * Caller owns *out. */
int  hh_engine_create(hh_engine_t **out, const hh_engine_params_t *params, hh_err_t *err);
/* Cancels everything running, joins the scheduler threads, frees models. */
void hh_engine_free(hh_engine_t *e);

typedef struct hh_engine_model_info {
    char     id[256];
    uint64_t size;        /* file bytes */
    int64_t  mtime;       /* file modification time (unix seconds), OpenAI's "created" */
    bool     loaded;
} hh_engine_model_info_t;

/* Lists the models in the directory (rescanned on every call). *out is
 * malloc'd; caller frees. */
int hh_engine_list_models(hh_engine_t *e, hh_engine_model_info_t **out, size_t *n, hh_err_t *err);

typedef enum hh_finish {
    HH_FINISH_NONE = 0,
    HH_FINISH_STOP,        /* end-of-generation token or a stop string */
    HH_FINISH_LENGTH,      /* max_tokens or the context end */
    HH_FINISH_TOOL_CALLS,  /* output parsed into tool calls */
    HH_FINISH_CANCELED,    /* hh_gen_cancel (client went away) */
    HH_FINISH_TIMEOUT,
} hh_finish_t;

typedef enum hh_gen_event_kind { HH_GEN_TEXT = 0, HH_GEN_DONE, HH_GEN_ERROR } hh_gen_event_kind_t;

/* An event of a running request. Pointers are valid during the callback only. */
typedef struct hh_gen_event {
    hh_gen_event_kind_t kind;
    /* TEXT: new text (complete UTF-8; text that may still become a stop
     * string is held back until it cannot). One TEXT event per generated
     * token when logprobs are requested (text may then be empty). */
    const char          *text;
    size_t               len;
    int32_t              token;
    const hh_logprobs_t *logprobs;          /* NULL unless requested */
    /* DONE */
    hh_finish_t          finish;
    const char          *content;           /* whole generated text (minus stop string / tool markup) */
    size_t               content_len;
    const hh_tool_call_t *tool_calls;       /* parsed when the request had tools */
    size_t               n_tool_calls;
    int32_t              prompt_tokens;
    int32_t              completion_tokens;
    int32_t              cached_tokens;     /* prompt tokens reused from the prefix cache */
    double               queue_s;           /* waiting time before a slot was free */
    double               ttft_s;            /* submit to first token */
    /* ERROR */
    int                  error_code;        /* HH_E* */
    const char          *error_msg;
} hh_gen_event_t;

/* Called on the model's scheduler thread: must return quickly (copy the
 * text into a queue; never block on the network). It may call
 * hh_gen_cancel. Engine notes (engine owner):
 *   - the slot is released (stats.slots_busy, fairness, unloading) just
 *     before DONE/ERROR is delivered, so a caller that saw DONE sees it free;
 *   - with tools_json, text from the start of tool-call markup on
 *     ("<tool_call>", "[TOOL_CALLS]", "<|python_tag|>", or a reply that opens
 *     with '{' for llama3.1) is held back; if DONE carries parsed calls that
 *     text is never sent as TEXT, otherwise it is flushed before DONE;
 *   - DONE for a request that never got a slot (canceled or timed out while
 *     waiting) has content "" and completion_tokens 0. */
typedef void (*hh_gen_cb)(void *user, const hh_gen_event_t *ev);

typedef struct hh_gen_request {
    const char          *model;       /* model id */
    const char          *user;        /* fairness key (user name or key id) */
    /* Exactly one of prompt (raw text completion; BOS as the vocabulary says)
     * and messages (rendered with the model's chat template). */
    const char          *prompt;
    const hh_chat_msg_t *messages;
    size_t               n_messages;
    const char          *tools_json;  /* OpenAI "tools" array as JSON text, or NULL */
    const char          *chat_template;/* override by name, or NULL */
    hh_sampler_params_t  sampling;
    int32_t              max_tokens;  /* <= 0: up to the context end */
    const char *const   *stop;
    size_t               n_stop;
    int32_t              n_logprobs;  /* 0: none; N: chosen token + top N alternatives */
    bool                 logprobs;    /* per-token logprobs requested */
    /* Constrained decoding: a JSON schema (JSON text), or json_object for
     * any JSON object; the output always parses (and validates). */
    const char          *json_schema;
    bool                 json_object;
    hh_gen_cb            cb;
    void                *cb_user;
    /* Added by the engine owner: json_schema describes a tool call object
     * {"name": ..., "arguments": {...}} (or an anyOf of such objects), as
     * built for tool_choice "required" or a named function. The DONE event
     * then reports the output as one tool call (finish TOOL_CALLS, content
     * ""), arguments as compact JSON text. With tools_json and messages,
     * the tool list is rendered into the prompt while the prompt then
     * leaves max_tokens (256 when not given; at most half the context)
     * positions free, and left out otherwise (the grammar still holds the
     * allowed calls). */
    bool                 tool_call_json;
    /* Added for issue 12 (prefix cache side channel, docs/SECURITY.md):
     * the prefix cache is partitioned by this key. A request reuses KV only
     * from a slot whose cached tokens were computed for a request with the
     * same cache_scope; for any other request such a slot counts as holding
     * nothing (cached_tokens 0, the whole prompt is prefilled), and slot
     * choice never looks at another scope's tokens. The HTTP layer passes
     * the authenticated user's id; 0 (requests from the command line and
     * tests) is a scope of its own, never mixed with a user's. */
    uint64_t             cache_scope;
    /* Added for issue 15: prompt-lookup (n-gram) speculative decoding. The
     * engine copies a draft from the request's own tokens (the continuation
     * of the latest earlier occurrence of the last 2-3 tokens: grounded
     * answers quote their sources), decodes it in the same batch as the
     * next token with logits at every position, and keeps the drafted
     * tokens while they equal the greedy choice; the first difference is
     * the next token, the rest of the draft leaves the KV. The output is
     * the one of plain greedy decoding, token for token. Used only when
     * the sampling is greedy (temperature <= 0 or top_k 1) and there is no
     * grammar; ignored otherwise (sampling with temperature > 0 would need
     * rejection sampling, not built), and when the engine's n_draft < 0. */
    bool                 prompt_lookup;
} hh_gen_request_t;

typedef struct hh_gen hh_gen_t;

/* Fair order: among waiting requests the engine admits the one whose user
 * was admitted longest ago (users with nothing queued or running start
 * fresh), FIFO within a user and among equals.
 *
 * Queues a request; strings are copied. On success the callback will see
 * TEXT events and then exactly one DONE or ERROR, after which the engine
 * never calls it again. Fails at once with HH_ENOENT (unknown model),
 * HH_EFULL (queue full: HTTP 429), HH_ERANGE (prompt does not fit the
 * context: HTTP 400), HH_EINVAL (bad parameters), or a load error. *out
 * (may be NULL) receives a handle the caller releases with hh_gen_release. */
int  hh_engine_submit(hh_engine_t *e, const hh_gen_request_t *req, hh_gen_t **out, hh_err_t *err);
/* The prompt of req as the engine would build it for submit (chat
 * template, BOS), counted: *n_prompt tokens against the model's *n_ctx
 * positions (a prompt fits when n_prompt <= n_ctx - 1). Loads the model
 * when needed; queues nothing. HH_ENOENT unknown model, HH_EINVAL, load
 * errors. Used to fit grounding sources to the context (kb/answer.c). */
int  hh_engine_prompt_tokens(hh_engine_t *e, const hh_gen_request_t *req, size_t *n_prompt, int32_t *n_ctx,
                             hh_err_t *err);
/* Asks the request to stop; its slot is free within one decode step and its
 * final event is DONE with HH_FINISH_CANCELED. Safe at any time before release. */
void hh_gen_cancel(hh_gen_t *g);
/* Drops the caller's reference (the engine drops its own after the final
 * event). Both calls stay safe after hh_engine_free, which ends every
 * request first. */
void hh_gen_release(hh_gen_t *g);

typedef struct hh_engine_stats {
    int32_t  models_loaded;
    int32_t  queue_depth;        /* waiting requests, all models */
    int32_t  slots_busy;
    int32_t  slots_total;
    int64_t  kv_used;            /* KV positions in use, all models (incl. prefixes kept for reuse) */
    int64_t  kv_total;
    uint64_t prompt_tokens;      /* counters since start */
    uint64_t generated_tokens;
    uint64_t draft_tokens;       /* prompt-lookup tokens drafted, and kept (issue 15) */
    uint64_t draft_accepted;
} hh_engine_stats_t;

void hh_engine_stats(hh_engine_t *e, hh_engine_stats_t *out);

/* Drops the prefix caches (added for GDPR erasure, docs/COMPLIANCE.md):
 * every loaded model keeps, per slot, the KV cache and the token ids of
 * the last prompt + answer it ran, for reuse by a later prompt with the
 * same start. After this call returns 0, no free slot of any loaded model
 * holds KV or cached tokens of earlier requests; a slot busy at the time
 * drops its cache as soon as its request ends (never reused for another
 * one). Unloaded models hold nothing. Waits for each model's scheduler
 * (at most about 10 s each); HH_ESTATE when one did not answer in time
 * (its caches are then dropped when it next runs). */
int hh_engine_drop_caches(hh_engine_t *e, hh_err_t *err);

#endif
