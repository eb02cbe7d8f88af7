/* memory.h - per-user agent memory (issue 16): the tools memory_save and
 * memory_recall, which an agent may call when its definition lists them,
 * and the recall of a user's facts into the system message of their later
 * runs. Facts belong to the CALLER (env->user_id), never to the agent or
 * its creator; the user lists, edits and deletes them (GET/POST
 * /api/me/memory, PUT/DELETE /api/me/memory/{id}); they are in the GDPR
 * access copy, deleted by erasure and under the conversations' retention
 * (store.h "agent memory"). A recalled fact is data, quoted as such, never
 * an instruction. */
#ifndef HH_AGENT_MEMORY_H
#define HH_AGENT_MEMORY_H

#include "agent/tools.h"

#define HH_AGENT_MEMORY_RECALL_MAX   20     /* facts per recall (tool or system message) */
#define HH_AGENT_MEMORY_PROMPT_MAX   4000   /* bytes of facts in a system message */

#define HH_AGENT_MEMORY_SAVE_DESC                                                                              \
    "Stores a fact about the user (a preference, a detail of their work) so later conversations with them " \
    "can use it. Returns {\"id\", \"text\"}."
#define HH_AGENT_MEMORY_SAVE_SCHEMA                                                                         \
    "{\"type\":\"object\",\"properties\":{\"text\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":500}}," \
    "\"required\":[\"text\"],\"additionalProperties\":false}"
#define HH_AGENT_MEMORY_RECALL_DESC                                                                          \
    "Recalls the facts stored about the user, the most recent first; a query keeps those that contain it. " \
    "Returns {\"memories\": [{\"id\", \"text\", \"updated_at\"}]}."
#define HH_AGENT_MEMORY_RECALL_SCHEMA                                                                    \
    "{\"type\":\"object\",\"properties\":{\"query\":{\"type\":\"string\",\"maxLength\":200}},"          \
    "\"additionalProperties\":false}"

/* Runs memory_save or memory_recall for env->user_id with args (checked
 * against the schema already): 0 and *out (caller owns), or HH_EINVAL /
 * HH_EFULL with err->msg the error the model gets back, HH_EIO, HH_ENOMEM. */
int hh_agent_memory_tool(const hh_agent_env_t *env, const char *name, const cJSON *args, cJSON **out,
                         hh_err_t *err);

/* Whether a definition's tools (JSON array of names) include a memory tool. */
bool hh_agent_memory_enabled(const char *tools_json);

/* The recall block for user_id's later runs: "" when they have no facts,
 * else a paragraph that quotes the HH_AGENT_MEMORY_RECALL_MAX most recent
 * facts (at most HH_AGENT_MEMORY_PROMPT_MAX bytes) as data. *out malloc'd.
 * 0, HH_EIO, HH_ENOMEM. */
int hh_agent_memory_prompt(hh_store_t *s, int64_t user_id, char **out, hh_err_t *err);

#endif
