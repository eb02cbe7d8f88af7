/* mark.c - the transparency marking (Art. 50) of generated answers: every
 * 200 answer of a request ht_usecase_select marked (usecases.c) carries
 * "hoheit": {"ai_generated": true, "model", "use_case"} (JSON, added by
 * ht_send_json) or X-AI-Generated: true (any response, added by send_text;
 * streams add both themselves). Part of the shared core: server.c's
 * responses call it, so it lives apart from the handler files. */
#include "http/http_int.h"

void ht_mark_redaction_json(const ht_mark_t *m, cJSON *h)
{
    if (!m || !m->prompt_redacted || !cJSON_IsObject(h))
        return;
    cJSON_DeleteItemFromObjectCaseSensitive(h, "prompt_redacted");
    cJSON_DeleteItemFromObjectCaseSensitive(h, "redactions");
    cJSON_AddBoolToObject(h, "prompt_redacted", true);
    cJSON *r = cJSON_AddObjectToObject(h, "redactions");
    for (int k = 0; r && k < HH_PII_KIND_COUNT; k++)
        if (m->redacted[k])
            cJSON_AddNumberToObject(r, hh_pii_kind_name((hh_pii_kind_t)k), m->redacted[k]);
}

void ht_mark_json(const ht_mark_t *m, cJSON *j)
{
    if (!m || !m->on || !cJSON_IsObject(j))
        return;
    cJSON *h = cJSON_GetObjectItemCaseSensitive(j, "hoheit");
    if (!cJSON_IsObject(h)) {
        cJSON_DeleteItemFromObjectCaseSensitive(j, "hoheit");
        h = cJSON_AddObjectToObject(j, "hoheit");
        if (!h)
            return;
    }
    static const char *const keys[] = { "ai_generated", "model", "use_case" };
    for (size_t i = 0; i < 3; i++)
        cJSON_DeleteItemFromObjectCaseSensitive(h, keys[i]);
    cJSON_AddBoolToObject(h, "ai_generated", true);
    cJSON_AddStringToObject(h, "model", m->model);
    cJSON_AddStringToObject(h, "use_case", m->use_case);
    ht_mark_redaction_json(m, h);
}

void ht_mark_headers(const ht_mark_t *m, struct MHD_Response *r)
{
    if (m && m->on)
        MHD_add_response_header(r, "X-AI-Generated", "true");
}
