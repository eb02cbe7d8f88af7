/* def.h - agent definitions (issue 16): checked documents in, stored rows
 * out (store.h "agents"), and who may run an agent.
 *
 * The document (API body, `hoheit agent add --file`):
 *   {"name": "triage",                 1..63 of [a-z0-9_-], starting with a letter or digit
 *    "model": "qwen2.5-3b",            a model id (1..255 bytes, no '/')
 *    "system_prompt": "...",           0..HH_AGENT_PROMPT_MAX bytes
 *    "tools": ["knowledge_search"],    built-in tool names (agent/tools.h), no repeats
 *    "max_steps": 8,                   model calls per run, 1..HH_AGENT_MAX_STEPS
 *    "max_tokens": 8192,               prompt + completion tokens over a run's model calls
 *    "max_seconds": 120,               wall time of a run, 1..HH_AGENT_MAX_SECONDS
 *    "use_case": "general",            a use case of the register: its risk class,
 *                                      departments and approval rules apply to every run
 *    "departments": ["support"],       who may run it: members of one of them (empty: anyone
 *    "roles": ["member", "admin"],       the use case admits) with one of these roles (empty: any)
 *    "connections": ["sales"],         database connections sql_query may use (agent/conf.h)
 *    "endpoints": ["tickets"]}         HTTP endpoints http_request may use
 * sql_query in tools needs connections, http_request endpoints; each name
 * must be configured (when the check is given the configuration).
 * Missing fields get the defaults below (an update: the stored values). */
#ifndef HH_AGENT_DEF_H
#define HH_AGENT_DEF_H

#include "agent/conf.h"
#include "base/err.h"
#include "store/store.h"

#include <cjson/cJSON.h>
#include <stdbool.h>

#define HH_AGENT_PROMPT_MAX     (32 * 1024)
#define HH_AGENT_MAX_STEPS      64
#define HH_AGENT_MAX_TOKENS     1000000
#define HH_AGENT_MAX_SECONDS    3600
#define HH_AGENT_DEFAULT_STEPS   8
#define HH_AGENT_DEFAULT_TOKENS  8192
#define HH_AGENT_DEFAULT_SECONDS 120

/* Checks in (and, for an update, takes what it leaves out from base, NULL
 * for a new agent) into *out (clear it). name_in_path: the name the route
 * or command names (NULL: in's "name" is required); a different "name" in
 * in is HH_EINVAL. The use case and departments must exist in s; the
 * connections and endpoints in conf (NULL: not checked here, as on the
 * command line, which does not know the server's flags; the tool refuses
 * a name that is not configured at the call). HH_EINVAL with the field
 * named in err->msg; HH_ENOMEM; HH_EIO. */
int hh_agent_def_check(hh_store_t *s, const hh_agent_conf_t *conf, const cJSON *in, const hh_store_agent_t *base,
                       const char *name_in_path, hh_store_agent_t *out, hh_err_t *err);

/* The definition as API JSON (the document's fields plus created_by,
 * created_at, updated_at); caller owns; NULL on no memory. */
cJSON *hh_agent_def_json(const hh_store_agent_t *a);

/* Whether user user_id with role may run a: a member of one of its
 * departments (none listed: anyone) and a role it lists (none: any).
 * Admins are no exception: who runs an agent is the definition's choice.
 * *ok gets the answer; HH_EIO on a store failure. */
int hh_agent_may_run(hh_store_t *s, const hh_store_agent_t *a, int64_t user_id, const char *role, bool *ok,
                     hh_err_t *err);

#endif
