/* tools.h - the built-in tools of agent runs (issue 16): calculator, date,
 * knowledge_search, sql_query (read-only SQL on the connections the admin
 * configured and the agent names; agent/sqltool.h) and http_request (the
 * allowlisted internal endpoints the agent names; agent/httptool.h). Each
 * has a name, a description and a JSON schema for its arguments (for an
 * agent, sql_query's connection and http_request's endpoint are narrowed
 * to the names it may use: hh_agent_tool_spec_env); the loop
 * (agent/loop.h) decodes a call under that schema (grammar) and checks the
 * arguments against it again (hh_agent_args_valid) before the tool runs. A
 * tool's result is a JSON text the model gets back as data (a tool
 * message), never as instructions. extract (agent/extract.h) reads an
 * uploaded document into a JSON schema. Not built yet: MCP tools
 * (docs/AGENTS.md). */
#ifndef HH_AGENT_TOOLS_H
#define HH_AGENT_TOOLS_H

#include "agent/conf.h"
#include "base/err.h"
#include "engine/engine.h"
#include "kb/analyze.h"
#include "kb/dense.h"
#include "store/store.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#define HH_AGENT_CALC_MAX 256          /* bytes of a calculator expression */
#define HH_AGENT_RESULT_MAX (16 * 1024) /* bytes of a tool result given to the model */

/* Whom and what a tool runs for: the caller's rights, never the agent's. */
/* Model tokens a tool spent itself (extract's model call): the loop adds
 * them to the run's usage, so they count against its max_tokens budget and
 * the caller's quota like the run's own calls. */
typedef struct hh_agent_usage {
    int64_t prompt_tokens, completion_tokens;
} hh_agent_usage_t;

typedef struct hh_agent_env {
    hh_store_t    *store;      /* borrowed */
    hh_analyzer_t *analyzer;   /* borrowed; may be NULL */
    hh_kb_dense_t *kb;         /* borrowed; may be NULL (BM25 only) */
    const char    *user;       /* the caller: knowledge_search reads what this user may read */
    int64_t        user_id;    /* the caller's id: memory_save / memory_recall (agent/memory.h) use their memory */
    int64_t        now_s;      /* the date tool's clock (unix s); 0: time(NULL) */
    const hh_agent_conf_t *conf; /* borrowed; the configured connections and endpoints (NULL: none) */
    const char    *connections; /* the agent's: JSON array of connection names sql_query may use (NULL: none) */
    const char    *endpoints;   /* the agent's: JSON array of endpoint names http_request may use (NULL: none) */
    bool           read_only;   /* the run is held for approval: its tools may only read (http_request: no POST) */
    hh_engine_t   *engine;      /* borrowed; extract's model call (NULL: extract refuses) */
    const char    *model;       /* the run's model id: extract reads the document with it */
    uint64_t       cache_scope; /* engine.h: the caller's user id */
    hh_agent_usage_t *usage;    /* may be NULL; tools that call the model add their tokens here */
} hh_agent_env_t;

/* Whether name is a built-in tool. */
bool hh_agent_tool_known(const char *name);
/* The built-in tool names, comma-separated ("calculator, date, knowledge_search, ..."). */
const char *hh_agent_tool_names(void);
/* The JSON schema text of the tool's arguments; NULL for an unknown tool. */
const char *hh_agent_tool_schema(const char *name);
/* The tool in chat-completions shape {"type":"function","function":{"name",
 * "description","parameters"}} (caller owns); NULL for an unknown tool. */
cJSON *hh_agent_tool_spec(const char *name);
/* The same for a run under env: sql_query's "connection" and http_request's
 * "endpoint" are an enum of the names env lets it use (when there are any),
 * and http_request's "method" the one method its endpoints take when they
 * take only one (GET only in a read-only run; then without "body");
 * extract's "document_id" an enum of the caller's readable documents when
 * there are 1..16 of them. */
cJSON *hh_agent_tool_spec_env(const hh_agent_env_t *env, const char *name);

/* Runs the tool on arguments args_json (already valid under its schema).
 * 0 and *result (malloc'd JSON text, at most HH_AGENT_RESULT_MAX bytes;
 * caller frees); or HH_EINVAL with err->msg the error the model gets back
 * (a bad expression, an unknown collection, ...), HH_ENOMEM, HH_EIO. */
int hh_agent_tool_run(const hh_agent_env_t *env, const char *name, const char *args_json, char **result,
                      hh_err_t *err);
/* hh_agent_tool_run, and *record (NULL or malloc'd; caller frees): what the
 * run's step record and audit keep instead of the result when that differs.
 * sql_query keeps {"connection", "columns", "row_count", "truncated",
 * "bytes", "sha256"} (the SHA-256 of the result the model got), never the
 * rows; the other tools keep their result (*record NULL). */
int hh_agent_tool_run_rec(const hh_agent_env_t *env, const char *name, const char *args_json, char **result,
                          char **record, hh_err_t *err);

/* Whether name is in the JSON array text list (NULL: empty). */
bool hh_agent_name_listed(const char *list, const char *name);

/* The calculator alone: numbers, + - * / % ^, parentheses, unary minus,
 * sqrt(), abs(), round(), floor(), ceil(). No variables, no eval. 0 and
 * *out (finite), or HH_EINVAL with the position and what was wrong. */
int hh_agent_calc(const char *expr, double *out, hh_err_t *err);

/* The date tool's answer for unix time t: {"utc","europe_berlin",
 * "date","time","weekday","utc_offset"} (caller owns; NULL on no memory).
 * Europe/Berlin: CET, CEST from the last Sunday of March 01:00 UTC to the
 * last Sunday of October 01:00 UTC. */
cJSON *hh_agent_date_json(int64_t t);

/* Whether args_json is a value of schema_json: the text must be accepted
 * whole by the schema's grammar (sample/grammar.h). 0, or HH_EINVAL with
 * what is wrong (err->msg), or the grammar's error for a bad schema. */
int hh_agent_args_valid(const char *schema_json, const char *args_json, hh_err_t *err);

#endif
