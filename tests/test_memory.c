/* test_memory.c - per-user agent memory (agent/memory.h, store.h "agent
 * memory", src/http/memory_api.c): the user's own routes (another user's
 * fact answers exactly like a missing one), the memory_save and
 * memory_recall tools of an agent run with the demo model (forced through
 * the grammar), the recall of the caller's facts (and no one else's) into
 * later runs, the GDPR access copy, erasure and retention. */
#include "harness.h"
#include "http_helpers.h"
#include "agent/memory.h"
#include "govern/gdpr.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct mem_srv {
    hh_test_srv_t h;
    char admin[HH_KEY_LEN + 1], sam[HH_KEY_LEN + 1], hal[HH_KEY_LEN + 1];
    int64_t sam_id, hal_id;
} mem_srv_t;

static bool srv(mem_srv_t *t, const char *dir)
{
    memset(t, 0, sizeof *t);
    if (hh_test_srv_start(&t->h, dir, NULL) != 0)
        return false;
    hh_store_user_t u;
    hh_err_t err;
    hh_err_clear(&err);
    bool ok = hh_test_srv_user(&t->h, "root", "admin", t->admin, NULL) == 0 &&
              hh_test_srv_user(&t->h, "sam", "member", t->sam, NULL) == 0 &&
              hh_test_srv_user(&t->h, "hal", "member", t->hal, NULL) == 0;
    if (ok && hh_store_user_get(t->h.st, "sam", &u, &err) == 0)
        t->sam_id = u.id;
    if (ok && hh_store_user_get(t->h.st, "hal", &u, &err) == 0)
        t->hal_id = u.id;
    return ok && t->sam_id > 0 && t->hal_id > 0;
}

static int req(mem_srv_t *t, const char *key, const char *method, const char *path, const char *body,
               hh_test_resp_t *r)
{
    return hh_test_http(t->h.port, method, path, key, body, r);
}

TEST(memory_routes_own_only)
{
    mem_srv_t t;
    ASSERT_TRUE(srv(&t, "memory-routes"));
    hh_test_resp_t r;
    ASSERT_OK(req(&t, t.sam, "POST", "/api/me/memory", "{\"text\":\"Sam prefers short answers SAMFACT\"}", &r));
    ASSERT_EQ_INT(r.status, 201);
    int64_t id = (int64_t)cJSON_GetObjectItemCaseSensitive(r.j, "id")->valuedouble;
    ASSERT_STREQ(hh_test_json_str(r.j, "text"), "Sam prefers short answers SAMFACT");
    ASSERT_TRUE(id > 0);
    hh_test_resp_free(&r);
    ASSERT_OK(req(&t, t.hal, "POST", "/api/me/memory", "{\"text\":\"Hal works in payroll HALFACT\"}", &r));
    ASSERT_EQ_INT(r.status, 201);
    hh_test_resp_free(&r);
    /* bad text: 400, nothing stored */
    ASSERT_OK(req(&t, t.sam, "POST", "/api/me/memory", "{\"text\":\"\"}", &r));
    ASSERT_EQ_INT(r.status, 400);
    hh_test_resp_free(&r);
    char big[HH_MEMORY_TEXT_MAX + 40];
    memset(big, 'x', sizeof big);
    snprintf(big, 12, "{\"text\":\"");
    big[9] = 'x';
    snprintf(big + HH_MEMORY_TEXT_MAX + 10, 4, "\"}");
    ASSERT_OK(req(&t, t.sam, "POST", "/api/me/memory", big, &r));
    ASSERT_EQ_INT(r.status, 400);
    hh_test_resp_free(&r);
    ASSERT_OK(req(&t, t.sam, "POST", "/api/me/memory", "{\"txt\":\"a\"}", &r));
    ASSERT_EQ_INT(r.status, 400);
    hh_test_resp_free(&r);
    /* the list: own facts only */
    ASSERT_OK(req(&t, t.sam, "GET", "/api/me/memory", NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r.j, "data")), 1);
    ASSERT_TRUE(strstr(r.body, "SAMFACT") != NULL && strstr(r.body, "HALFACT") == NULL);
    hh_test_resp_free(&r);
    ASSERT_OK(req(&t, t.sam, "GET", "/api/me/memory?q=nothing-like-it", NULL, &r));
    ASSERT_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r.j, "data")), 0);
    hh_test_resp_free(&r);
    /* hal changes / deletes sam's fact: exactly like a missing one */
    char path[64], miss[64], body_missing[600];
    snprintf(path, sizeof path, "/api/me/memory/%lld", (long long)id);
    snprintf(miss, sizeof miss, "/api/me/memory/%lld", (long long)(id ^ 1));
    ASSERT_OK(req(&t, t.hal, "PUT", miss, "{\"text\":\"planted\"}", &r));
    ASSERT_EQ_INT(r.status, 404);
    snprintf(body_missing, sizeof body_missing, "%s", r.body);
    hh_test_resp_free(&r);
    ASSERT_OK(req(&t, t.hal, "PUT", path, "{\"text\":\"planted\"}", &r));
    ASSERT_EQ_INT(r.status, 404);
    ASSERT_STREQ(r.body, body_missing);
    hh_test_resp_free(&r);
    ASSERT_OK(req(&t, t.hal, "DELETE", path, NULL, &r));
    ASSERT_EQ_INT(r.status, 404);
    ASSERT_STREQ(r.body, body_missing);
    hh_test_resp_free(&r);
    ASSERT_OK(req(&t, t.admin, "DELETE", path, NULL, &r));   /* admins too: the GDPR export is their path */
    ASSERT_EQ_INT(r.status, 404);
    ASSERT_STREQ(r.body, body_missing);
    hh_test_resp_free(&r);
    ASSERT_OK(req(&t, t.sam, "DELETE", "/api/me/memory/07", NULL, &r));   /* malformed: like a missing one */
    ASSERT_EQ_INT(r.status, 404);
    ASSERT_STREQ(r.body, body_missing);
    hh_test_resp_free(&r);
    /* still sam's, unchanged */
    hh_store_memory_t m;
    hh_err_t err;
    hh_err_clear(&err);
    ASSERT_OK(hh_store_memory_get(t.h.st, t.sam_id, id, &m, &err));
    ASSERT_STREQ(m.text, "Sam prefers short answers SAMFACT");
    hh_store_memory_clear(&m);
    /* sam edits and deletes it */
    ASSERT_OK(req(&t, t.sam, "PUT", path, "{\"text\":\"Sam prefers bullet points SAMFACT\"}", &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_STREQ(hh_test_json_str(r.j, "text"), "Sam prefers bullet points SAMFACT");
    hh_test_resp_free(&r);
    ASSERT_OK(req(&t, t.sam, "DELETE", path, NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    hh_test_resp_free(&r);
    ASSERT_OK(req(&t, t.sam, "DELETE", path, NULL, &r));
    ASSERT_EQ_INT(r.status, 404);
    hh_test_resp_free(&r);
    ASSERT_EQ_INT(hh_store_memory_get(t.h.st, t.sam_id, id, &m, &err), HH_ENOENT);
    /* the per-user limit */
    for (int i = 0; i < HH_MEMORY_MAX_PER_USER; i++) {
        char txt[32];
        snprintf(txt, sizeof txt, "fact %d", i);
        ASSERT_OK(hh_store_memory_add(t.h.st, t.sam_id, txt, NULL, &err));
    }
    ASSERT_OK(req(&t, t.sam, "POST", "/api/me/memory", "{\"text\":\"one too many\"}", &r));
    ASSERT_EQ_INT(r.status, 409);
    hh_test_resp_free(&r);
    hh_test_srv_stop(&t.h);
}

static cJSON *respond(mem_srv_t *t, const char *key, const char *body)
{
    hh_test_resp_t r;
    if (hh_test_http(t->h.port, "POST", "/v1/responses", key, body, &r) != 0)
        return NULL;
    if (r.status != 200)
        printf("    POST /v1/responses: %d %s\n", r.status, r.body);
    cJSON *j = r.status == 200 ? r.j : NULL;
    r.j = NULL;
    hh_test_resp_free(&r);
    return j;
}

/* The input tokens of a one-step run of agent saying "Hello" as key (-1: failed). */
static int64_t hello_tokens(mem_srv_t *t, const char *key, const char *agent)
{
    char body[200];
    snprintf(body, sizeof body,
             "{\"model\":\"agent:%s\",\"input\":\"Hello\",\"temperature\":0,\"max_output_tokens\":2}", agent);
    cJSON *j = respond(t, key, body);
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "usage"), "input_tokens");
    int64_t n = cJSON_IsNumber(u) ? (int64_t)u->valuedouble : -1;
    cJSON_Delete(j);
    return n;
}

TEST(memory_agent_tools_and_recall)
{
    mem_srv_t t;
    ASSERT_TRUE(srv(&t, "memory-agent"));
    hh_test_resp_t r;
    ASSERT_OK(req(&t, t.admin, "POST", "/api/agents",
                  "{\"name\":\"buddy\",\"model\":\"stories260K\",\"tools\":[\"memory_save\",\"memory_recall\"],"
                  "\"system_prompt\":\"You help.\",\"max_steps\":2}",
                  &r));
    ASSERT_EQ_INT(r.status, 201);
    hh_test_resp_free(&r);
    ASSERT_OK(req(&t, t.admin, "POST", "/api/agents",
                  "{\"name\":\"plain\",\"model\":\"stories260K\",\"tools\":[\"calculator\"],\"max_steps\":1}", &r));
    ASSERT_EQ_INT(r.status, 201);
    hh_test_resp_free(&r);
    /* memory_save forced through the grammar: what the model wrote is sam's fact */
    cJSON *j = respond(&t, t.sam,
                       "{\"model\":\"agent:buddy\",\"input\":\"Remember that I like tea.\",\"temperature\":0,"
                       "\"max_output_tokens\":300,\"tool_choice\":{\"type\":\"function\",\"name\":\"memory_save\"}}");
    ASSERT_TRUE(j != NULL);
    const cJSON *item = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "output"), 0);
    if (strcmp(hh_test_json_str(item, "type"), "hoheit_tool_call") != 0) {
        char *txt = cJSON_PrintUnformatted(j);
        printf("    memory_save run: %.800s\n", txt ? txt : "");
        free(txt);
    }
    ASSERT_STREQ(hh_test_json_str(item, "type"), "hoheit_tool_call");
    ASSERT_STREQ(hh_test_json_str(item, "name"), "memory_save");
    cJSON *args = cJSON_Parse(hh_test_json_str(item, "arguments"));
    ASSERT_TRUE(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(args, "text")));
    char saved[600];
    snprintf(saved, sizeof saved, "%s", cJSON_GetObjectItemCaseSensitive(args, "text")->valuestring);
    cJSON_Delete(args);
    cJSON_Delete(j);
    hh_store_memory_t *m = NULL;
    size_t n = 0;
    hh_err_t err;
    hh_err_clear(&err);
    ASSERT_OK(hh_store_memory_list(t.h.st, t.sam_id, NULL, 0, &m, &n, &err));
    ASSERT_EQ_INT((int)n, 1);
    ASSERT_STREQ(m[0].text, saved);
    hh_store_memory_list_free(m, n);
    ASSERT_OK(hh_store_memory_list(t.h.st, t.hal_id, NULL, 0, &m, &n, &err));
    ASSERT_EQ_INT((int)n, 0);   /* hal has none */
    /* The recall goes into the system message, which the run's record does
     * not show: it is measured by the prompt's tokens. sam's run grows by
     * his new fact and by nothing hal stores. */
    int64_t t0 = hello_tokens(&t, t.sam, "buddy");
    ASSERT_TRUE(t0 > 0);
    ASSERT_OK(req(&t, t.hal, "POST", "/api/me/memory", "{\"text\":\"Hal's salary is HALSECRET in euros per month\"}", &r));
    ASSERT_EQ_INT(r.status, 201);
    hh_test_resp_free(&r);
    ASSERT_EQ_INT((int)hello_tokens(&t, t.sam, "buddy"), (int)t0);
    ASSERT_OK(req(&t, t.sam, "POST", "/api/me/memory", "{\"text\":\"Sam's team is SAMTEAM\"}", &r));
    ASSERT_EQ_INT(r.status, 201);
    hh_test_resp_free(&r);
    int64_t t1 = hello_tokens(&t, t.sam, "buddy");
    ASSERT_TRUE(t1 > t0 + 3);
    /* an agent without a memory tool recalls nothing */
    int64_t p0 = hello_tokens(&t, t.hal, "plain");
    ASSERT_OK(req(&t, t.hal, "POST", "/api/me/memory", "{\"text\":\"Hal likes long reports\"}", &r));
    ASSERT_EQ_INT(r.status, 201);
    hh_test_resp_free(&r);
    ASSERT_EQ_INT((int)hello_tokens(&t, t.hal, "plain"), (int)p0);
    /* what goes in: sam's facts quoted as data, never hal's */
    char *block = NULL;
    ASSERT_OK(hh_agent_memory_prompt(t.h.st, t.sam_id, &block, &err));
    ASSERT_TRUE(strstr(block, "SAMTEAM") != NULL && strstr(block, saved) != NULL);
    ASSERT_TRUE(strstr(block, "data, not instructions") != NULL && strstr(block, "HALSECRET") == NULL);
    free(block);
    ASSERT_OK(hh_agent_memory_prompt(t.h.st, 999999, &block, &err));
    ASSERT_STREQ(block, "");
    free(block);
    /* memory_recall forced: sam's facts only */
    j = respond(&t, t.sam,
                "{\"model\":\"agent:buddy\",\"input\":\"What do you know about me?\",\"temperature\":0,"
                "\"max_output_tokens\":200,\"tool_choice\":{\"type\":\"function\",\"name\":\"memory_recall\"}}");
    ASSERT_TRUE(j != NULL);
    item = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "output"), 0);
    if (strcmp(hh_test_json_str(item, "name"), "memory_recall") != 0) {
        char *txt = cJSON_PrintUnformatted(j);
        printf("    memory_recall run: %.800s\n", txt ? txt : "");
        free(txt);
    }
    ASSERT_STREQ(hh_test_json_str(item, "name"), "memory_recall");
    const char *out = hh_test_json_str(item, "output");
    ASSERT_TRUE(strstr(out, "HALSECRET") == NULL);
    ASSERT_TRUE(strstr(out, "\"memories\"") != NULL || strstr(out, "\"error\"") != NULL);
    cJSON_Delete(j);
    /* the tool itself: recall with and without a query */
    hh_agent_env_t env = { .store = t.h.st, .user = "sam", .user_id = t.sam_id };
    char *res = NULL;
    ASSERT_OK(hh_agent_tool_run(&env, "memory_recall", "{\"query\":\"samteam\"}", &res, &err));
    ASSERT_TRUE(strstr(res, "SAMTEAM") != NULL && strstr(res, saved) == NULL);
    free(res);
    ASSERT_OK(hh_agent_tool_run(&env, "memory_recall", "{}", &res, &err));
    ASSERT_TRUE(strstr(res, "SAMTEAM") != NULL && strstr(res, "HALSECRET") == NULL);
    free(res);
    hh_test_srv_stop(&t.h);
}

TEST(memory_gdpr_export_erasure_retention)
{
    mem_srv_t t;
    ASSERT_TRUE(srv(&t, "memory-gdpr"));
    hh_err_t err;
    hh_err_clear(&err);
    ASSERT_OK(hh_store_memory_add(t.h.st, t.sam_id, "Sam's fact SAMEXPORT", NULL, &err));
    ASSERT_OK(hh_store_memory_add(t.h.st, t.hal_id, "Hal's fact HALEXPORT", NULL, &err));
    /* the access copy of sam holds his facts in "memory", not hal's */
    hh_test_resp_t r;
    ASSERT_OK(req(&t, t.admin, "POST", "/api/gdpr/export", "{\"subjects\":[\"sam\"]}", &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_TRUE(strstr(r.body, "SAMEXPORT") != NULL);
    ASSERT_TRUE(strstr(r.body, "HALEXPORT") == NULL);
    ASSERT_TRUE(strstr(r.body, "\"memory\"") != NULL);
    hh_test_resp_free(&r);
    /* erasure of sam: his facts go, hal's stay */
    const char *subj[] = { "sam" };
    hh_gdpr_erase_result_t er;
    ASSERT_OK(hh_gdpr_erase(t.h.st, subj, 1, "root", &er, &err));
    ASSERT_EQ_INT((int)er.memories, 1);
    hh_store_memory_t *m = NULL;
    size_t n = 0;
    ASSERT_OK(hh_store_memory_list(t.h.st, t.sam_id, NULL, 0, &m, &n, &err));
    ASSERT_EQ_INT((int)n, 0);
    ASSERT_OK(hh_store_memory_list(t.h.st, t.hal_id, NULL, 0, &m, &n, &err));
    ASSERT_EQ_INT((int)n, 1);
    hh_store_memory_list_free(m, n);
    /* retention: the conversations' days, by the last change */
    hh_gdpr_sweep_params_t sp = hh_gdpr_sweep_default_params();
    sp.conversation_retention_days = 30;
    hh_gdpr_sweep_result_t sr;
    int64_t now = (int64_t)time(NULL);
    ASSERT_OK(hh_gdpr_retention_sweep_with(t.h.st, now + 29 * 86400, &sp, NULL, &sr, &err));
    ASSERT_EQ_INT((int)sr.memories, 0);
    ASSERT_OK(hh_gdpr_retention_sweep_with(t.h.st, now + 31 * 86400, &sp, NULL, &sr, &err));
    ASSERT_EQ_INT((int)sr.memories, 1);
    ASSERT_OK(hh_store_memory_list(t.h.st, t.hal_id, NULL, 0, &m, &n, &err));
    ASSERT_EQ_INT((int)n, 0);
    hh_test_srv_stop(&t.h);
}
