/* loop.h - one agent run (issue 16): the model proposes a tool call,
 * the call is decoded under the tool's JSON schema (a grammar when the
 * call is forced, the engine's tool-call parser otherwise), its arguments
 * are checked against the schema again, the tool runs, and its result goes
 * back to the model as a tool message (data, never instructions); until the
 * model answers in text, calls a tool the client runs, or a budget ends the
 * run.
 *
 * Budgets: max_steps model calls, max_tokens prompt + completion tokens
 * over those calls, max_seconds of wall time (a model call running past it
 * is canceled), and max_tool_errors failed tool calls (bad arguments, a
 * tool's error) - each error goes back to the model so it can correct the
 * call. A budget that ends a run makes it "incomplete" with the budget's
 * name as the reason.
 *
 * tool_choice "required" or a named function forces the FIRST model call
 * of the run to call a tool (through the grammar); later calls run with
 * "auto", so a run that got a tool's result can answer (the OpenAI Agents
 * SDK resets tool_choice after a tool call the same way: a forced choice on
 * every call would never end).
 *
 * A model call whose prompt with the tool list does not fit the context
 * (HH_ERANGE) runs once more without the tool descriptions in the prompt,
 * as the engine does for a forced call (engine.h): a small model can then
 * still answer with the results it got.
 *
 * Threads: runs on the caller's thread and blocks on the engine. */
#ifndef HH_AGENT_LOOP_H
#define HH_AGENT_LOOP_H

#include "agent/tools.h"
#include "engine/engine.h"

#include <cjson/cJSON.h>

typedef enum hh_agent_choice {
    HH_AGENT_CHOICE_AUTO = 0,
    HH_AGENT_CHOICE_NONE,
    HH_AGENT_CHOICE_REQUIRED,
    HH_AGENT_CHOICE_NAMED,
} hh_agent_choice_t;

/* One step, as the loop reports it (pointers valid during the callback). */
typedef struct hh_agent_step_info {
    const char *kind;        /* "model", "tool" (built in, ran here) or "client_tool" (returned to the client) */
    const char *name;        /* the model id, or the tool */
    const char *call_id;     /* tools: the call's id */
    const char *arguments;   /* tools: the arguments (JSON text); model: the messages it got that are new
                              * since its previous call (the input, then the tools' results), JSON array */
    const char *result;      /* tools: the result given to the model; model: its text, or the calls it
                              * proposed as [{"name","arguments"}] */
    const char *record;      /* tools: what the step record and audit keep instead of result (sql_query:
                              * a summary with the result's size, row count and SHA-256); NULL: result */
    const char *error;       /* NULL: none */
    int64_t     prompt_tokens, completion_tokens;
    int64_t     duration_ms;
} hh_agent_step_info_t;

typedef void (*hh_agent_step_cb)(void *user, const hh_agent_step_info_t *step);

typedef struct hh_agent_loop_params {
    hh_engine_t        *engine;
    hh_agent_env_t      env;             /* whom the built-in tools run for */
    const char         *model;
    const char         *system;          /* system message (agent prompt + instructions); NULL none */
    const char *const  *builtin;         /* built-in tools the model may call */
    size_t              n_builtin;
    const cJSON        *client_tools;    /* chat-shape function tools the client runs; NULL none */
    hh_agent_choice_t   choice;
    const char         *choice_name;     /* HH_AGENT_CHOICE_NAMED */
    int32_t             max_steps;
    int64_t             max_tokens;
    double              max_seconds;
    int32_t             max_tool_errors; /* default 3 */
    int32_t             max_output_tokens;   /* per model call; <= 0: 512 */
    float               temperature;     /* < 0: the sampler's default */
    uint64_t            cache_scope;     /* engine.h: the caller's user id */
    const char         *user;            /* fairness key */
    size_t              n_history;       /* messages[0, n_history) came from earlier runs (previous_response_id) */
    hh_agent_step_cb    on_step;         /* NULL: none */
    void               *on_step_user;
} hh_agent_loop_params_t;

hh_agent_loop_params_t hh_agent_loop_default_params(void);

typedef struct hh_agent_result {
    char    status[16];    /* "completed", "incomplete", "failed" */
    char    reason[64];    /* incomplete: max_steps, max_tokens, max_seconds, max_output_tokens, tool_errors */
    cJSON  *output;        /* owned: Responses API output items */
    int64_t prompt_tokens, completion_tokens;
    int     error_code;    /* failed: the engine's HH_E* */
    char    error_msg[512];
} hh_agent_result_t;

void hh_agent_result_clear(hh_agent_result_t *r);

/* Runs the loop on messages (chat-completions messages without the
 * system message; appended to as the run goes: assistant calls, tool
 * results, the final answer). 0 with *out filled (status may be failed:
 * the engine refused or failed a call), or HH_EINVAL / HH_ENOMEM for bad
 * parameters. */
int hh_agent_loop_run(const hh_agent_loop_params_t *p, cJSON *messages, hh_agent_result_t *out, hh_err_t *err);

#endif
