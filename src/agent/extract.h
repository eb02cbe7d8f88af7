/* extract.h - the `extract` agent tool (issue 16): the fields of an
 * uploaded document into a JSON schema the call names.
 *
 * Arguments {"document_id": N, "schema": {...JSON Schema...}}: the caller
 * (the model, guided by the agent's system prompt, which names the fields
 * an invoice or contract agent wants) gives the schema with each call, so
 * one agent serves several document kinds and no definition field or
 * migration is needed.
 *
 * 1. The schema: at most HH_AGENT_EXTRACT_SCHEMA_MAX bytes (compact JSON)
 *    and it must compile (sample/grammar.h); either failure is a tool
 *    error naming the problem, which the model reads and may correct.
 * 2. The document is read with the CALLER's rights (env->user_id: read on
 *    its collection, the check GET /api/documents/{id}/file makes); a
 *    document of a collection the caller may not read answers exactly
 *    like a missing one ("extract: no document N").
 * 3. Its chunks, in document order, go to the model with an instruction
 *    to fill the schema: whole while the prompt fits the model's context
 *    with room for the answer; the first that does not fit is cut after
 *    its last sentence that does, and ends the text ("passages_used" of
 *    "passages" says how much the model saw).
 * 4. The model's answer is decoded under the schema's grammar, so it is a
 *    value of the schema by construction (and checked once more). An
 *    answer cut off (HH_AGENT_EXTRACT_TOKENS, or the context's end) is a
 *    tool error.
 *
 * Result: {"document_id", "title", "data": {...}, "passages_used",
 * "passages", "truncated"}. The model call's tokens are not counted in the
 * run's token budget (open, docs/AGENTS.md). */
#ifndef HH_AGENT_EXTRACT_H
#define HH_AGENT_EXTRACT_H

#include "agent/tools.h"

#include <cjson/cJSON.h>

#define HH_AGENT_EXTRACT_SCHEMA_MAX 4096  /* bytes of the schema (compact JSON) */
#define HH_AGENT_EXTRACT_TOKENS     512   /* tokens of the extracted object */
#define HH_AGENT_EXTRACT_SECONDS    120   /* wall time of the model call */

#define HH_AGENT_EXTRACT_DESC                                                                                  \
    "Extracts fields of an uploaded document (by its id, e.g. from knowledge_search) into a JSON object "     \
    "that matches the JSON Schema you give. Returns {\"document_id\", \"title\", \"data\"}."
#define HH_AGENT_EXTRACT_SCHEMA                                                                                \
    "{\"type\":\"object\",\"properties\":{\"document_id\":{\"type\":\"integer\"},\"schema\":{\"type\":"       \
    "\"object\"}},\"required\":[\"document_id\",\"schema\"],\"additionalProperties\":false}"

/* Runs the tool for env (env->engine and env->model: the model that reads
 * the document) on args (valid under HH_AGENT_EXTRACT_SCHEMA). 0 and *out
 * (caller owns), or HH_EINVAL with the error the model gets back, HH_EIO,
 * HH_ENOMEM. */
int hh_agent_extract(const hh_agent_env_t *env, const cJSON *args, cJSON **out, hh_err_t *err);

#endif
