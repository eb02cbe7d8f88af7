/* test_agents.c - agents (issue 16): the calculator and date tools and the
 * argument check on their own; agent definitions over HTTP (rights, 404 for
 * an agent one may not run, audit) and on the command line; /v1/responses
 * with an in-process server and stories260K: a forced calculator call whose
 * result reaches the next model call, the step budget, knowledge_search
 * under the caller's rights (the attack: a Sales user's run must not see HR
 * chunks), previous_response_id with a client function tool, streaming
 * events, runs hidden from other users, a run held for approval. */
#include "harness.h"
#include "http_helpers.h"
#include "agent/tools.h"
#include "govern/audit.h"
#include "govern/register.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the tools alone ------------------------------------------------------- */

TEST(agents_calculator)
{
    static const struct {
        const char *expr;
        double      want;
    } ok[] = {
        { "2+3*4", 14 }, { "(2+3)*4", 20 }, { "-2^2", -4 }, { "2^3^2", 512 }, { "10 % 4", 2 },
        { "sqrt(16) + abs(-3)", 7 }, { "7/2", 3.5 }, { " 1.5e2 - 50 ", 100 }, { "round(2.5)+floor(1.9)+ceil(0.1)", 5 },
        { "--3", 3 },
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        double v = 0;
        hh_err_t err;
        hh_err_clear(&err);
        ASSERT_OK(hh_agent_calc(ok[i].expr, &v, &err));
        ASSERT_NEAR(v, ok[i].want, 1e-12);
    }
    static const char *const bad[] = { "", "2+", "1/0", "5 % 0", "foo", "2 3", "(1+2", "sqrt(-1)", "1e999*1e999",
                                       "system(\"rm\")", "2**3" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        double v = 0;
        hh_err_t err;
        hh_err_clear(&err);
        int rc = hh_agent_calc(bad[i], &v, &err);
        if (rc != HH_EINVAL)
            printf("    '%s' -> %d (%g)\n", bad[i], rc, v);
        ASSERT_EQ_INT(rc, HH_EINVAL);
        ASSERT_TRUE(strstr(err.msg, "calculator") != NULL);
    }
    /* nesting and length are bounded */
    char deep[200] = "";
    for (int i = 0; i < 60; i++)
        strcat(deep, "(");
    strcat(deep, "1");
    for (int i = 0; i < 60; i++)
        strcat(deep, ")");
    double v = 0;
    ASSERT_EQ_INT(hh_agent_calc(deep, &v, NULL), HH_EINVAL);
    char lng[400];
    memset(lng, '1', sizeof lng - 1);
    lng[sizeof lng - 1] = '\0';
    ASSERT_EQ_INT(hh_agent_calc(lng, &v, NULL), HH_EINVAL);
}

TEST(agents_date_berlin)
{
    static const struct {
        int64_t     t;
        const char *berlin, *offset;
    } cases[] = {
        { 1796680800, "2026-12-07T23:00:00+01:00", "+01:00" },   /* 2026-12-07 22:00 UTC */
        { 1782907200, "2026-07-01T14:00:00+02:00", "+02:00" },   /* 2026-07-01 12:00 UTC */
        { 1774745999, "2026-03-29T01:59:59+01:00", "+01:00" },   /* last Sunday of March, 00:59:59 UTC */
        { 1774746000, "2026-03-29T03:00:00+02:00", "+02:00" },   /* 01:00 UTC: summer time */
        { 1792889999, "2026-10-25T02:59:59+02:00", "+02:00" },   /* last Sunday of October, 00:59:59 UTC */
        { 1792890000, "2026-10-25T02:00:00+01:00", "+01:00" },   /* 01:00 UTC: winter time */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cJSON *j = hh_agent_date_json(cases[i].t);
        ASSERT_TRUE(j != NULL);
        ASSERT_STREQ(hh_test_json_str(j, "europe_berlin"), cases[i].berlin);
        ASSERT_STREQ(hh_test_json_str(j, "utc_offset"), cases[i].offset);
        cJSON_Delete(j);
    }
    cJSON *j = hh_agent_date_json(1796680800);
    ASSERT_STREQ(hh_test_json_str(j, "utc"), "2026-12-07T22:00:00Z");
    ASSERT_STREQ(hh_test_json_str(j, "weekday"), "Monday");
    ASSERT_STREQ(hh_test_json_str(j, "date"), "2026-12-07");
    cJSON_Delete(j);
}

TEST(agents_arguments_checked_against_schema)
{
    const char *calc = hh_agent_tool_schema("calculator");
    ASSERT_TRUE(calc != NULL);
    ASSERT_OK(hh_agent_args_valid(calc, "{\"expression\":\"1+1\"}", NULL));
    ASSERT_EQ_INT(hh_agent_args_valid(calc, "{\"expr\":\"1+1\"}", NULL), HH_EINVAL);
    ASSERT_EQ_INT(hh_agent_args_valid(calc, "{\"expression\":5}", NULL), HH_EINVAL);
    ASSERT_EQ_INT(hh_agent_args_valid(calc, "{\"expression\":\"1\"} x", NULL), HH_EINVAL);
    ASSERT_EQ_INT(hh_agent_args_valid(calc, "", NULL), HH_EINVAL);
    ASSERT_OK(hh_agent_args_valid(hh_agent_tool_schema("date"), "{}", NULL));
    ASSERT_OK(hh_agent_args_valid(hh_agent_tool_schema("knowledge_search"), "{\"query\":\"travel\"}", NULL));
    ASSERT_EQ_INT(hh_agent_args_valid(hh_agent_tool_schema("knowledge_search"), "{\"query\":\"\"}", NULL), HH_EINVAL);
    ASSERT_TRUE(hh_agent_tool_schema("sql_query") != NULL);   /* tests/test_agent_tools.c */
    ASSERT_TRUE(hh_agent_tool_known("http_request"));
    ASSERT_FALSE(hh_agent_tool_known("send_email"));   /* not a built-in tool */
}

/* ---- helpers --------------------------------------------------------------- */

static int post(int port, const char *key, const char *path, const char *body, hh_test_resp_t *r)
{
    return hh_test_http(port, "POST", path, key, body, r);
}

/* a copy of body with every from replaced by to */
static char *replace_all(const char *body, const char *from, const char *to)
{
    size_t fl = strlen(from), tl = strlen(to), n = 0;
    for (const char *p = body; (p = strstr(p, from)); p += fl)
        n++;
    char *out = malloc(strlen(body) + n * (tl + 1) + 1), *o = out;
    if (!out)
        return NULL;
    for (const char *p = body;;) {
        const char *q = strstr(p, from);
        if (!q) {
            strcpy(o, p);
            break;
        }
        memcpy(o, p, (size_t)(q - p));
        o += q - p;
        memcpy(o, to, tl);
        o += tl;
        p = q + fl;
    }
    return out;
}

typedef struct ag_srv {
    hh_test_srv_t h;
    char admin[HH_KEY_LEN + 1], aud[HH_KEY_LEN + 1], sam[HH_KEY_LEN + 1], hal[HH_KEY_LEN + 1];
} ag_srv_t;

/* A server with admin "root", auditor "aud", Sales member "sam", HR member "hal". */
static bool srv(ag_srv_t *t, const char *dir)
{
    memset(t, 0, sizeof *t);
    if (hh_test_srv_start(&t->h, dir, NULL) != 0)
        return false;
    hh_err_t err;
    hh_err_clear(&err);
    return hh_test_srv_user(&t->h, "root", "admin", t->admin, NULL) == 0 &&
           hh_test_srv_user(&t->h, "aud", "auditor", t->aud, NULL) == 0 &&
           hh_test_srv_user(&t->h, "sam", "member", t->sam, NULL) == 0 &&
           hh_test_srv_user(&t->h, "hal", "member", t->hal, NULL) == 0 &&
           hh_store_department_ensure(t->h.st, "Sales", NULL, &err) == 0 &&
           hh_store_department_ensure(t->h.st, "HR", NULL, &err) == 0 &&
           hh_store_user_add_department(t->h.st, "sam", "Sales", &err) == 0 &&
           hh_store_user_add_department(t->h.st, "hal", "HR", &err) == 0;
}

static bool add_agent(ag_srv_t *t, const char *json)
{
    hh_test_resp_t r;
    if (post(t->h.port, t->admin, "/api/agents", json, &r) != 0)
        return false;
    bool ok = r.status == 201;
    if (!ok)
        printf("    POST /api/agents: %d %s\n", r.status, r.body);
    hh_test_resp_free(&r);
    return ok;
}

/* GET /api/agents/runs/{id} as key; caller frees. */
static cJSON *run_record(ag_srv_t *t, const char *key, const char *id)
{
    char path[160];
    snprintf(path, sizeof path, "/api/agents/runs/%s", id);
    hh_test_resp_t r;
    if (hh_test_http(t->h.port, "GET", path, key, NULL, &r) != 0)
        return NULL;
    cJSON *j = r.status == 200 ? r.j : NULL;
    if (r.status != 200)
        printf("    GET %s: %d %s\n", path, r.status, r.body);
    r.j = NULL;
    hh_test_resp_free(&r);
    return j;
}

/* ---- definitions ------------------------------------------------------------- */

TEST(agents_definitions_http_rights_audit)
{
    ag_srv_t t;
    ASSERT_TRUE(srv(&t, "agents-defs"));
    int port = t.h.port;
    hh_test_resp_t r;
    /* a member cannot define agents; the refusal is a 403 */
    ASSERT_OK(post(port, t.sam, "/api/agents", "{\"name\":\"x\",\"model\":\"stories260K\"}", &r));
    ASSERT_EQ_INT(r.status, 403);
    hh_test_resp_free(&r);
    ASSERT_TRUE(add_agent(&t, "{\"name\":\"sales-helper\",\"model\":\"stories260K\",\"tools\":[\"calculator\"],"
                              "\"departments\":[\"sales\"],\"max_steps\":3}"));
    ASSERT_TRUE(add_agent(&t, "{\"name\":\"hr-helper\",\"model\":\"stories260K\",\"departments\":[\"HR\"]}"));
    ASSERT_TRUE(add_agent(&t, "{\"name\":\"admins-only\",\"model\":\"stories260K\",\"roles\":[\"admin\"]}"));
    /* bad definitions: 400 naming the field; a taken name: 409 */
    static const struct {
        const char *body, *word;
    } bad[] = {
        { "{\"name\":\"y\",\"model\":\"stories260K\",\"tools\":[\"send_email\"]}", "send_email" },
        { "{\"name\":\"y\",\"model\":\"stories260K\",\"departments\":[\"Nowhere\"]}", "Nowhere" },
        { "{\"name\":\"y\",\"model\":\"stories260K\",\"use_case\":\"no-such\"}", "no-such" },
        { "{\"name\":\"y\",\"model\":\"stories260K\",\"max_steps\":0}", "max_steps" },
        { "{\"name\":\"Y Z\",\"model\":\"stories260K\"}", "name" },
        { "{\"name\":\"y\"}", "model" },
        { "{\"name\":\"y\",\"model\":\"stories260K\",\"roles\":[\"boss\"]}", "boss" },
        { "{\"name\":\"y\",\"model\":\"stories260K\",\"colour\":1}", "colour" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ASSERT_OK(post(port, t.admin, "/api/agents", bad[i].body, &r));
        ASSERT_EQ_INT(r.status, 400);
        ASSERT_STREQ(hh_test_resp_err_code(&r), "invalid_agent");
        ASSERT_TRUE(strstr(r.body, bad[i].word) != NULL);
        hh_test_resp_free(&r);
    }
    ASSERT_OK(post(port, t.admin, "/api/agents", "{\"name\":\"hr-helper\",\"model\":\"stories260K\"}", &r));
    ASSERT_EQ_INT(r.status, 409);
    hh_test_resp_free(&r);
    /* the department's own spelling is kept */
    ASSERT_OK(hh_test_http(port, "GET", "/api/agents/sales-helper", t.admin, NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_STREQ(cJSON_GetArrayItem(cJSON_GetObjectItem(r.j, "departments"), 0)->valuestring, "Sales");
    ASSERT_EQ_INT(cJSON_GetObjectItem(r.j, "max_steps")->valueint, 3);
    ASSERT_STREQ(hh_test_json_str(r.j, "created_by"), "root");
    hh_test_resp_free(&r);

    /* lists: sam sees the Sales agent only; admins and auditors all three */
    const struct {
        const char *key;
        int         n;
        const char *first;
    } lists[] = { { t.sam, 1, "sales-helper" }, { t.hal, 1, "hr-helper" }, { t.admin, 3, "admins-only" },
                  { t.aud, 3, "admins-only" } };
    for (size_t i = 0; i < 4; i++) {
        ASSERT_OK(hh_test_http(port, "GET", "/api/agents", lists[i].key, NULL, &r));
        ASSERT_EQ_INT(r.status, 200);
        cJSON *d = cJSON_GetObjectItem(r.j, "data");
        ASSERT_EQ_INT(cJSON_GetArraySize(d), lists[i].n);
        ASSERT_STREQ(hh_test_json_str(cJSON_GetArrayItem(d, 0), "name"), lists[i].first);
        hh_test_resp_free(&r);
    }
    /* the attack: another department's agent reads exactly like a missing one */
    char *missing = NULL, *foreign = NULL;
    ASSERT_EQ_INT(hh_test_http_status(port, &(hh_test_req_t){ .path = "/api/agents/hr-helpex", .key = t.sam },
                                      &missing),
                  404);
    ASSERT_EQ_INT(hh_test_http_status(port, &(hh_test_req_t){ .path = "/api/agents/hr-helper", .key = t.sam },
                                      &foreign),
                  404);
    char *expect = replace_all(missing, "hr-helpex", "hr-helper");
    ASSERT_STREQ(foreign, expect);
    free(expect);
    free(missing);
    free(foreign);
    /* so does running it (model agent:NAME) */
    missing = foreign = NULL;
    const char *run_missing = "{\"model\":\"agent:hr-helpex\",\"input\":\"hi\"}";
    const char *run_foreign = "{\"model\":\"agent:hr-helper\",\"input\":\"hi\"}";
    ASSERT_EQ_INT(hh_test_http_status(port, &(hh_test_req_t){ .method = "POST", .path = "/v1/responses",
                                                              .key = t.sam, .body = run_missing },
                                      &missing),
                  404);
    ASSERT_EQ_INT(hh_test_http_status(port, &(hh_test_req_t){ .method = "POST", .path = "/v1/responses",
                                                              .key = t.sam, .body = run_foreign },
                                      &foreign),
                  404);
    expect = replace_all(missing, "hr-helpex", "hr-helper");
    ASSERT_STREQ(foreign, expect);
    free(expect);
    free(missing);
    free(foreign);

    /* PUT changes the named fields; members may not; DELETE */
    ASSERT_OK(hh_test_http(port, "PUT", "/api/agents/sales-helper", t.admin, "{\"max_steps\":5,\"tools\":[\"date\"]}",
                           &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_EQ_INT(cJSON_GetObjectItem(r.j, "max_steps")->valueint, 5);
    ASSERT_STREQ(cJSON_GetArrayItem(cJSON_GetObjectItem(r.j, "tools"), 0)->valuestring, "date");
    ASSERT_STREQ(cJSON_GetArrayItem(cJSON_GetObjectItem(r.j, "departments"), 0)->valuestring, "Sales");
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(port, "PUT", "/api/agents/sales-helper", t.sam, "{\"max_steps\":9}", &r));
    ASSERT_EQ_INT(r.status, 403);
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(port, "DELETE", "/api/agents/sales-helper", t.aud, NULL, &r));
    ASSERT_EQ_INT(r.status, 403);
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(port, "DELETE", "/api/agents/sales-helper", t.admin, NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(port, "GET", "/api/agents/sales-helper", t.admin, NULL, &r));
    ASSERT_EQ_INT(r.status, 404);
    hh_test_resp_free(&r);

    /* every change is in the audit chain */
    char *audit = hh_test_audit_text(t.h.st);
    ASSERT_TRUE(audit != NULL);
    ASSERT_TRUE(strstr(audit, "agent create sales-helper") != NULL);
    ASSERT_TRUE(strstr(audit, "agent update sales-helper") != NULL);
    ASSERT_TRUE(strstr(audit, "agent delete sales-helper") != NULL);
    ASSERT_TRUE(strstr(audit, "agent create y: tools: 'send_email'") != NULL);   /* a refused one too */
    free(audit);
    hh_test_srv_stop(&t.h);
}

TEST(agents_cli_add_list_show_remove)
{
    if (!getenv("HOHEIT_BIN")) {
        hh_test_fail(__FILE__, __LINE__, "HOHEIT_BIN is not set (run through `make test`)");
        return;
    }
    char dir[512], line[1024], out[8192];
    snprintf(dir, sizeof dir, "%s/agents-cli", hh_test_tmpdir());
#define CLI(args) (snprintf(line, sizeof line, "%s --data %s", args, dir), hh_test_run_cli(line, NULL, true, out, sizeof out))
    ASSERT_EQ_INT(CLI("agent add triage --model m1 --tools knowledge_search,date --max-steps 4 --roles member"), 0);
    ASSERT_TRUE(strstr(out, "added agent triage") != NULL);
    ASSERT_EQ_INT(CLI("agent add triage --model m1"), 1);   /* taken */
    ASSERT_TRUE(strstr(out, "exists") != NULL);
    ASSERT_EQ_INT(CLI("agent add other --model m1 --tools http_request"), 1);
    ASSERT_TRUE(strstr(out, "http_request") != NULL);
    ASSERT_EQ_INT(CLI("agent add other --model m1 --max-steps many"), 2);
    ASSERT_EQ_INT(CLI("agent update triage --max-seconds 30"), 0);
    ASSERT_EQ_INT(CLI("agent show triage"), 0);
    cJSON *j = cJSON_Parse(out);
    ASSERT_TRUE(j != NULL);
    ASSERT_EQ_INT(cJSON_GetObjectItem(j, "max_steps")->valueint, 4);
    ASSERT_EQ_INT(cJSON_GetObjectItem(j, "max_seconds")->valueint, 30);
    ASSERT_STREQ(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "tools"), 1)->valuestring, "date");
    ASSERT_STREQ(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "roles"), 0)->valuestring, "member");
    cJSON_Delete(j);
    ASSERT_EQ_INT(CLI("agent list --json"), 0);
    j = cJSON_Parse(out);
    ASSERT_EQ_INT(cJSON_GetArraySize(j), 1);
    cJSON_Delete(j);
    /* destructive: refused without --yes (no terminal), kept */
    ASSERT_NE_INT(CLI("agent remove triage"), 0);
    ASSERT_TRUE(strstr(out, "--yes") != NULL);
    ASSERT_EQ_INT(CLI("agent show triage"), 0);
    ASSERT_EQ_INT(CLI("agent remove triage --yes"), 0);
    ASSERT_EQ_INT(CLI("agent show triage"), 1);
    ASSERT_TRUE(strstr(out, "no agent 'triage'") != NULL);
    ASSERT_EQ_INT(CLI("audit export"), 0);
    ASSERT_TRUE(strstr(out, "agent add triage") != NULL);
    ASSERT_TRUE(strstr(out, "agent update triage") != NULL);
    ASSERT_TRUE(strstr(out, "agent remove triage") != NULL);
#undef CLI
}

/* ---- runs ---------------------------------------------------------------------- */

/* POSTs body to /v1/responses as key; 200 expected; returns the response (caller deletes). */
static cJSON *respond(ag_srv_t *t, const char *key, const char *body)
{
    hh_test_resp_t r;
    if (post(t->h.port, key, "/v1/responses", body, &r) != 0)
        return NULL;
    if (r.status != 200)
        printf("    POST /v1/responses: %d %s\n", r.status, r.body);
    cJSON *j = r.status == 200 ? r.j : NULL;
    r.j = NULL;
    hh_test_resp_free(&r);
    return j;
}

static const cJSON *step(const cJSON *run, int i)
{
    return cJSON_GetArrayItem(cJSON_GetObjectItem(run, "steps"), i);
}

/* The calculator forced by tool_choice: its arguments parse under the
 * schema, it runs, and its result (or its error) is in the input of the
 * next model call. */
TEST(agents_run_forced_calculator_result_reaches_next_step)
{
    ag_srv_t t;
    ASSERT_TRUE(srv(&t, "agents-calc"));
    ASSERT_TRUE(add_agent(&t, "{\"name\":\"calc\",\"model\":\"stories260K\",\"tools\":[\"calculator\",\"date\"],"
                              "\"system_prompt\":\"You compute.\",\"max_steps\":4}"));
    cJSON *j = respond(&t, t.sam,
                       "{\"model\":\"agent:calc\",\"input\":\"What is 2+3?\",\"temperature\":0,"
                       "\"max_output_tokens\":160,\"tool_choice\":{\"type\":\"function\",\"name\":\"calculator\"}}");
    ASSERT_TRUE(j != NULL);
    ASSERT_STREQ(hh_test_json_str(j, "object"), "response");
    ASSERT_TRUE(!strncmp(hh_test_json_str(j, "id"), "resp_", 5));
    const char *status = hh_test_json_str(j, "status");
    ASSERT_TRUE(!strcmp(status, "completed") || !strcmp(status, "incomplete"));
    const cJSON *item = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "output"), 0);
    ASSERT_STREQ(hh_test_json_str(item, "type"), "hoheit_tool_call");
    ASSERT_STREQ(hh_test_json_str(item, "name"), "calculator");
    const char *args = hh_test_json_str(item, "arguments");
    ASSERT_OK(hh_agent_args_valid(hh_agent_tool_schema("calculator"), args, NULL));
    cJSON *a = cJSON_Parse(args);
    ASSERT_TRUE(cJSON_IsObject(a) && cJSON_GetArraySize(a) == 1);
    ASSERT_TRUE(cJSON_IsString(cJSON_GetObjectItem(a, "expression")));
    /* what the calculator says of that expression is what the run got */
    double v = 0;
    hh_err_t err;
    hh_err_clear(&err);
    int crc = hh_agent_calc(cJSON_GetObjectItem(a, "expression")->valuestring, &v, &err);
    const char *tool_out = hh_test_json_str(item, "output");
    ASSERT_TRUE(strstr(tool_out, crc ? "\"error\"" : "\"result\"") != NULL);
    ASSERT_STREQ(hh_test_json_str(item, "status"), crc ? "failed" : "completed");
    cJSON_Delete(a);
    const cJSON *u = cJSON_GetObjectItem(j, "usage");
    ASSERT_GE(cJSON_GetObjectItem(u, "input_tokens")->valuedouble, 1);
    ASSERT_EQ_INT(cJSON_GetObjectItem(u, "total_tokens")->valueint,
                  cJSON_GetObjectItem(u, "input_tokens")->valueint + cJSON_GetObjectItem(u, "output_tokens")->valueint);

    /* the run's record: model call, tool call, the next model call with the result as input */
    cJSON *run = run_record(&t, t.sam, hh_test_json_str(j, "id"));
    ASSERT_TRUE(run != NULL);
    ASSERT_GE(cJSON_GetArraySize(cJSON_GetObjectItem(run, "steps")), 3);
    ASSERT_STREQ(hh_test_json_str(step(run, 0), "kind"), "model");
    ASSERT_TRUE(strstr(hh_test_json_str(step(run, 0), "arguments"), "What is 2+3?") != NULL);
    ASSERT_STREQ(hh_test_json_str(step(run, 1), "kind"), "tool");
    ASSERT_STREQ(hh_test_json_str(step(run, 1), "name"), "calculator");
    ASSERT_STREQ(hh_test_json_str(step(run, 1), "arguments"), args);
    ASSERT_STREQ(hh_test_json_str(step(run, 1), "call_id"), hh_test_json_str(item, "call_id"));
    ASSERT_STREQ(hh_test_json_str(step(run, 2), "kind"), "model");
    cJSON *in = cJSON_Parse(hh_test_json_str(step(run, 2), "arguments"));
    const cJSON *tm = cJSON_GetArrayItem(in, cJSON_GetArraySize(in) - 1);
    ASSERT_STREQ(hh_test_json_str(tm, "role"), "tool");
    ASSERT_STREQ(hh_test_json_str(tm, "tool_call_id"), hh_test_json_str(item, "call_id"));
    ASSERT_STREQ(hh_test_json_str(tm, "content"), tool_out);
    cJSON_Delete(in);
    ASSERT_STREQ(hh_test_json_str(run, "agent"), "calc");
    ASSERT_STREQ(hh_test_json_str(run, "status"), status);

    /* every step is an "agent" audit record naming the run */
    char *audit = hh_test_audit_text(t.h.st);
    char want[160];
    snprintf(want, sizeof want, "run %s step 2 tool calculator call %s", hh_test_json_str(j, "id"),
             hh_test_json_str(item, "call_id"));
    ASSERT_TRUE(audit && strstr(audit, want) != NULL);
    snprintf(want, sizeof want, "run %s step 3 model", hh_test_json_str(j, "id"));
    ASSERT_TRUE(strstr(audit, want) != NULL);
    free(audit);
    cJSON_Delete(run);
    cJSON_Delete(j);
    hh_test_srv_stop(&t.h);
}

TEST(agents_run_step_budget_incomplete)
{
    ag_srv_t t;
    ASSERT_TRUE(srv(&t, "agents-budget"));
    ASSERT_TRUE(add_agent(&t, "{\"name\":\"one\",\"model\":\"stories260K\",\"tools\":[\"date\"],\"max_steps\":1}"));
    cJSON *j = respond(&t, t.sam,
                       "{\"model\":\"agent:one\",\"input\":\"What day is it?\",\"temperature\":0,"
                       "\"max_output_tokens\":64,\"tool_choice\":\"required\"}");
    ASSERT_TRUE(j != NULL);
    ASSERT_STREQ(hh_test_json_str(j, "status"), "incomplete");
    ASSERT_STREQ(hh_test_json_str(cJSON_GetObjectItem(j, "incomplete_details"), "reason"), "max_steps");
    const cJSON *item = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "output"), 0);
    ASSERT_STREQ(hh_test_json_str(item, "name"), "date");
    ASSERT_STREQ(hh_test_json_str(item, "arguments"), "{}");
    cJSON *out = cJSON_Parse(hh_test_json_str(item, "output"));
    ASSERT_TRUE(strstr(hh_test_json_str(out, "europe_berlin"), "+0") != NULL);
    cJSON_Delete(out);
    cJSON *run = run_record(&t, t.sam, hh_test_json_str(j, "id"));
    ASSERT_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(run, "steps")), 2);   /* one model call, one tool call */
    ASSERT_STREQ(hh_test_json_str(run, "reason"), "max_steps");
    cJSON_Delete(run);
    cJSON_Delete(j);
    /* a token budget below the first call's prompt stops after it */
    hh_test_resp_t r;
    ASSERT_OK(hh_test_http(t.h.port, "PUT", "/api/agents/one", t.admin, "{\"max_steps\":5,\"max_tokens\":10}", &r));
    ASSERT_EQ_INT(r.status, 200);
    hh_test_resp_free(&r);
    j = respond(&t, t.sam, "{\"model\":\"agent:one\",\"input\":\"What day is it?\",\"temperature\":0}");
    ASSERT_TRUE(j != NULL);
    ASSERT_STREQ(hh_test_json_str(j, "status"), "incomplete");
    ASSERT_STREQ(hh_test_json_str(cJSON_GetObjectItem(j, "incomplete_details"), "reason"), "max_tokens");
    ASSERT_LE(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "usage"), "output_tokens")->valueint, 10);
    cJSON_Delete(j);
    hh_test_srv_stop(&t.h);
}

/* The query of a forced knowledge_search call as sam / hal, and the tool's output. */
static bool ks_run(ag_srv_t *t, const char *key, char *query, size_t qcap, char **output)
{
    cJSON *j = respond(t, key,
                       "{\"model\":\"agent:kb\",\"input\":\"Where do I find the travel policy?\",\"temperature\":0,"
                       "\"max_output_tokens\":120,\"tool_choice\":{\"type\":\"function\",\"name\":\"knowledge_search\"}}");
    const cJSON *item = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "output"), 0);
    cJSON *args = cJSON_Parse(hh_test_json_str(item, "arguments"));
    bool ok = j && !strcmp(hh_test_json_str(item, "name"), "knowledge_search") && cJSON_IsObject(args);
    if (!ok && j) {
        char *txt = cJSON_PrintUnformatted(j);
        printf("    knowledge_search run: %.600s\n", txt ? txt : "");
        free(txt);
    }
    if (ok) {
        snprintf(query, qcap, "%s", hh_test_json_str(args, "query"));
        *output = strdup(hh_test_json_str(item, "output"));
    }
    cJSON_Delete(args);
    cJSON_Delete(j);
    return ok;
}

/* The attack: knowledge_search runs with the CALLER's rights. A Sales
 * member's run gets exactly the tool output it got before an HR document
 * matching its query existed; an HR member's identical run finds that
 * document (so it would have been found). */
TEST(agents_knowledge_search_caller_rights)
{
    ag_srv_t t;
    ASSERT_TRUE(srv(&t, "agents-kb"));
    hh_err_t err;
    hh_err_clear(&err);
    const char *sales[] = { "Sales" }, *hr[] = { "HR" };
    ASSERT_OK(hh_store_collection_ensure(t.h.st, "sales-docs", sales, 1, NULL, &err));
    ASSERT_OK(hh_store_collection_ensure(t.h.st, "hr-docs", hr, 1, NULL, &err));
    ASSERT_TRUE(add_agent(&t, "{\"name\":\"kb\",\"model\":\"stories260K\",\"tools\":[\"knowledge_search\"],"
                              "\"max_steps\":1}"));
    char q[512], q2[512];
    char *before = NULL, *after = NULL, *hr_out = NULL;
    ASSERT_TRUE(ks_run(&t, t.sam, q, sizeof q, &before));
    printf("    query: %s\n", q);
    free(before);
    /* documents whose text is the model's query: one for Sales, one for HR */
    char text[1200];
    hh_test_resp_t r;
    snprintf(text, sizeof text, "Sales price list SALESMARK. %s", q);
    ASSERT_OK(hh_test_http_upload(t.h.port, t.admin, "sales-docs", "prices.txt", text, &r));
    ASSERT_EQ_INT(r.status, 201);
    hh_test_resp_free(&r);
    ASSERT_TRUE(ks_run(&t, t.sam, q2, sizeof q2, &before));
    ASSERT_STREQ(q2, q);
    ASSERT_TRUE(strstr(before, "SALESMARK") != NULL);   /* the search does find what sam may read */
    snprintf(text, sizeof text, "Salaries of the board HRSECRET. %s %s", q, q);
    ASSERT_OK(hh_test_http_upload(t.h.port, t.admin, "hr-docs", "salaries.txt", text, &r));
    ASSERT_EQ_INT(r.status, 201);
    hh_test_resp_free(&r);
    ASSERT_TRUE(ks_run(&t, t.sam, q2, sizeof q2, &after));
    ASSERT_STREQ(q2, q);
    ASSERT_STREQ(after, before);   /* identical: the HR document changed nothing */
    ASSERT_TRUE(strstr(after, "HRSECRET") == NULL);
    ASSERT_TRUE(strstr(after, "salaries") == NULL);
    ASSERT_TRUE(ks_run(&t, t.hal, q2, sizeof q2, &hr_out));   /* control: HR finds it */
    ASSERT_STREQ(q2, q);
    ASSERT_TRUE(strstr(hr_out, "HRSECRET") != NULL);
    ASSERT_TRUE(strstr(hr_out, "SALESMARK") == NULL);
    free(before);
    free(after);
    free(hr_out);
    hh_test_srv_stop(&t.h);
}

/* A client function tool: returned as a function_call; the client's
 * function_call_output comes back with previous_response_id and is the
 * next model call's input. Another user cannot continue the run, nor read
 * it: both read exactly like a missing one. */
TEST(agents_previous_response_and_run_isolation)
{
    ag_srv_t t;
    ASSERT_TRUE(srv(&t, "agents-prev"));
    const char *first = "{\"model\":\"stories260K\",\"input\":\"Weather in Berlin?\",\"temperature\":0,"
                        "\"max_output_tokens\":100,\"tool_choice\":\"required\",\"tools\":[{\"type\":\"function\","
                        "\"name\":\"get_weather\",\"description\":\"Weather of a city\",\"parameters\":{\"type\":"
                        "\"object\",\"properties\":{\"city\":{\"type\":\"string\",\"maxLength\":20}},"
                        "\"required\":[\"city\"],\"additionalProperties\":false}}]}";
    cJSON *j = respond(&t, t.sam, first);
    ASSERT_TRUE(j != NULL);
    ASSERT_STREQ(hh_test_json_str(j, "status"), "completed");
    const cJSON *fc = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "output"), 0);
    ASSERT_STREQ(hh_test_json_str(fc, "type"), "function_call");
    ASSERT_STREQ(hh_test_json_str(fc, "name"), "get_weather");
    cJSON *args = cJSON_Parse(hh_test_json_str(fc, "arguments"));
    ASSERT_TRUE(cJSON_IsString(cJSON_GetObjectItem(args, "city")));
    ASSERT_LE(strlen(cJSON_GetObjectItem(args, "city")->valuestring), 20 * 4);
    cJSON_Delete(args);
    char id[96], call_id[96];
    snprintf(id, sizeof id, "%s", hh_test_json_str(j, "id"));
    snprintf(call_id, sizeof call_id, "%s", hh_test_json_str(fc, "call_id"));
    cJSON_Delete(j);

    char body[1024];
    snprintf(body, sizeof body,
             "{\"model\":\"stories260K\",\"previous_response_id\":\"%s\",\"temperature\":0,\"max_output_tokens\":16,"
             "\"input\":[{\"type\":\"function_call_output\",\"call_id\":\"%s\",\"output\":\"{\\\"temp_c\\\":21}\"}]}",
             id, call_id);
    j = respond(&t, t.sam, body);
    ASSERT_TRUE(j != NULL);
    ASSERT_STREQ(hh_test_json_str(j, "previous_response_id"), id);
    ASSERT_STREQ(hh_test_json_str(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "output"), 0), "type"), "message");
    cJSON *run = run_record(&t, t.sam, hh_test_json_str(j, "id"));
    ASSERT_TRUE(run != NULL);
    ASSERT_STREQ(hh_test_json_str(run, "previous_response_id"), id);
    cJSON *in = cJSON_Parse(hh_test_json_str(step(run, 0), "arguments"));
    ASSERT_EQ_INT(cJSON_GetArraySize(in), 1);   /* only what is new: the tool's output */
    ASSERT_STREQ(hh_test_json_str(cJSON_GetArrayItem(in, 0), "role"), "tool");
    ASSERT_STREQ(hh_test_json_str(cJSON_GetArrayItem(in, 0), "tool_call_id"), call_id);
    ASSERT_STREQ(hh_test_json_str(cJSON_GetArrayItem(in, 0), "content"), "{\"temp_c\":21}");
    cJSON_Delete(in);
    cJSON_Delete(run);
    cJSON_Delete(j);

    /* the attack: hal continues or reads sam's run */
    char fake[96];
    snprintf(fake, sizeof fake, "%s", id);
    fake[strlen(fake) - 1] = fake[strlen(fake) - 1] == '0' ? '1' : '0';
    char *missing = NULL, *foreign = NULL, *expect = NULL;
    char *fake_body = replace_all(body, id, fake);
    ASSERT_EQ_INT(hh_test_http_status(t.h.port, &(hh_test_req_t){ .method = "POST", .path = "/v1/responses",
                                                                 .key = t.hal, .body = fake_body },
                                      &missing),
                  404);
    ASSERT_EQ_INT(hh_test_http_status(t.h.port, &(hh_test_req_t){ .method = "POST", .path = "/v1/responses",
                                                                 .key = t.hal, .body = body },
                                      &foreign),
                  404);
    expect = replace_all(missing, fake, id);
    ASSERT_STREQ(foreign, expect);
    ASSERT_TRUE(strstr(foreign, "previous_response_not_found") != NULL);
    free(fake_body);
    free(missing);
    free(foreign);
    free(expect);
    char path[160], fpath[160];
    snprintf(path, sizeof path, "/api/agents/runs/%s", id);
    snprintf(fpath, sizeof fpath, "/api/agents/runs/%s", fake);
    missing = foreign = NULL;
    ASSERT_EQ_INT(hh_test_http_status(t.h.port, &(hh_test_req_t){ .path = fpath, .key = t.hal }, &missing), 404);
    ASSERT_EQ_INT(hh_test_http_status(t.h.port, &(hh_test_req_t){ .path = path, .key = t.hal }, &foreign), 404);
    expect = replace_all(missing, fake, id);
    ASSERT_STREQ(foreign, expect);
    free(missing);
    free(foreign);
    free(expect);
    /* the owner, admins and auditors read it */
    const char *readers[] = { t.sam, t.admin, t.aud };
    for (int i = 0; i < 3; i++) {
        run = run_record(&t, readers[i], id);
        ASSERT_TRUE(run != NULL);
        ASSERT_STREQ(hh_test_json_str(step(run, 1), "kind"), "client_tool");
        ASSERT_STREQ(hh_test_json_str(step(run, 1), "call_id"), call_id);
        cJSON_Delete(run);
    }
    hh_test_srv_stop(&t.h);
}

/* stream: true answers the Responses API's events in order. */
TEST(agents_run_stream_events)
{
    ag_srv_t t;
    ASSERT_TRUE(srv(&t, "agents-stream"));
    hh_test_resp_t r;
    ASSERT_OK(post(t.h.port, t.sam, "/v1/responses",
                   "{\"model\":\"stories260K\",\"input\":\"Weather?\",\"temperature\":0,\"stream\":true,"
                   "\"max_output_tokens\":100,\"tool_choice\":\"required\",\"tools\":[{\"type\":\"function\","
                   "\"name\":\"get_weather\",\"parameters\":{\"type\":\"object\",\"properties\":{\"city\":"
                   "{\"type\":\"string\",\"maxLength\":10}},\"required\":[\"city\"]}}]}",
                   &r));
    ASSERT_EQ_INT(r.status, 200);
    char ct[128];
    ASSERT_TRUE(strstr(hh_test_resp_header(&r, "Content-Type", ct, sizeof ct), "text/event-stream") != NULL);
    static const char *const order[] = { "response.created", "response.in_progress", "response.output_item.added",
                                         "response.function_call_arguments.delta",
                                         "response.function_call_arguments.done", "response.output_item.done",
                                         "response.completed" };
    const char *p = r.body;
    int seq = 0;
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        char ev[128];
        snprintf(ev, sizeof ev, "event: %s\ndata: ", order[i]);
        const char *q = strstr(p, ev);
        if (!q)
            printf("    missing after offset %ld: %s\n", (long)(p - r.body), order[i]);
        ASSERT_TRUE(q != NULL);
        cJSON *d = cJSON_Parse(q + strlen(ev));   /* one line of JSON, parsed up to its end */
        if (!d) {
            const char *nl = strchr(q + strlen(ev), '\n');
            char *line = strndup(q + strlen(ev), (size_t)(nl - q - strlen(ev)));
            d = cJSON_Parse(line);
            free(line);
        }
        ASSERT_TRUE(d != NULL);
        ASSERT_STREQ(hh_test_json_str(d, "type"), order[i]);
        ASSERT_GE(cJSON_GetObjectItem(d, "sequence_number")->valueint, seq);
        seq = cJSON_GetObjectItem(d, "sequence_number")->valueint;
        if (!strcmp(order[i], "response.completed")) {
            const cJSON *resp = cJSON_GetObjectItem(d, "response");
            ASSERT_STREQ(hh_test_json_str(resp, "status"), "completed");
            const cJSON *fc = cJSON_GetArrayItem(cJSON_GetObjectItem(resp, "output"), 0);
            ASSERT_STREQ(hh_test_json_str(fc, "type"), "function_call");
        }
        cJSON_Delete(d);
        p = q + strlen(ev);
    }
    hh_test_resp_free(&r);
    hh_test_srv_stop(&t.h);
}

/* A use case that requires approval (Art. 14): the run is held like a
 * grounded /api/ask answer: 202 with the pending approval, no text; its
 * owner reads neither output nor steps of the run and cannot continue it;
 * an approver sees the conversation with the tool results and approves;
 * then the owner gets the text and the output items. */
TEST(agents_run_held_for_approval)
{
    ag_srv_t t;
    ASSERT_TRUE(srv(&t, "agents-approval"));
    char anna[HH_KEY_LEN + 1];
    ASSERT_OK(hh_test_srv_user(&t.h, "anna", "approver", anna, NULL));
    hh_err_t err;
    hh_err_clear(&err);
    cJSON *in = cJSON_Parse("{\"slug\":\"cv-screening\",\"name\":\"CV screening\",\"purpose\":\"Pre-sort job "
                            "applications\",\"models\":[\"stories260K\"],\"answers\":{\"h_employment\":true}}");
    ASSERT_OK(hh_register_create(t.h.st, in, "root", NULL, &err));
    cJSON_Delete(in);
    ASSERT_TRUE(add_agent(&t, "{\"name\":\"cv\",\"model\":\"stories260K\",\"use_case\":\"cv-screening\","
                              "\"tools\":[\"date\"]}"));
    hh_test_resp_t r;
    ASSERT_OK(post(t.h.port, t.sam, "/v1/responses",
                   "{\"model\":\"agent:cv\",\"input\":\"Rank these CVs\",\"temperature\":0,\"stream\":true,"
                   "\"max_output_tokens\":64,\"tool_choice\":\"required\"}",
                   &r));
    ASSERT_EQ_INT(r.status, 202);
    ASSERT_STREQ(hh_test_json_str(r.j, "object"), "hoheit.approval.pending");
    char id[96];
    snprintf(id, sizeof id, "%s", hh_test_json_str(r.j, "id"));
    ASSERT_TRUE(!strncmp(id, "resp_", 5));
    const cJSON *ap = cJSON_GetObjectItem(cJSON_GetObjectItem(r.j, "hoheit"), "approval");
    int64_t aid = (int64_t)cJSON_GetObjectItem(ap, "id")->valuedouble;
    ASSERT_TRUE(aid > 0);
    hh_test_resp_free(&r);
    /* the owner: status held, no output, no steps; admins see the steps */
    cJSON *run = run_record(&t, t.sam, id);
    ASSERT_TRUE(run != NULL);
    ASSERT_STREQ(hh_test_json_str(run, "status"), "held");
    char want[64];
    snprintf(want, sizeof want, "approval %lld", (long long)aid);
    ASSERT_STREQ(hh_test_json_str(run, "reason"), want);
    ASSERT_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(run, "output")), 0);
    ASSERT_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(run, "steps")), 0);
    cJSON_Delete(run);
    run = run_record(&t, t.admin, id);
    if (cJSON_GetArraySize(cJSON_GetObjectItem(run, "steps")) < 3) {
        char *dump = cJSON_PrintUnformatted(run);
        printf("    %.1500s\n", dump ? dump : "");
        free(dump);
    }
    ASSERT_GE(cJSON_GetArraySize(cJSON_GetObjectItem(run, "steps")), 3);   /* model, date, model */
    const cJSON *out = cJSON_GetObjectItem(run, "output");
    const cJSON *last = cJSON_GetArrayItem(out, cJSON_GetArraySize(out) - 1);
    ASSERT_STREQ(hh_test_json_str(last, "type"), "message");
    char *text = strdup(hh_test_json_str(cJSON_GetArrayItem(cJSON_GetObjectItem(last, "content"), 0), "text"));
    cJSON_Delete(run);
    /* nothing continues a held run */
    char body[256];
    snprintf(body, sizeof body, "{\"model\":\"stories260K\",\"previous_response_id\":\"%s\",\"input\":\"go on\"}", id);
    ASSERT_OK(post(t.h.port, t.sam, "/v1/responses", body, &r));
    ASSERT_EQ_INT(r.status, 409);
    ASSERT_STREQ(hh_test_resp_err_code(&r), "response_held");
    hh_test_resp_free(&r);
    /* the approver judges the conversation with the tool's result */
    char path[96];
    snprintf(path, sizeof path, "/api/approvals/%lld", (long long)aid);
    ASSERT_OK(hh_test_http(t.h.port, "GET", path, anna, NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_TRUE(strstr(r.body, "europe_berlin") != NULL);
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(t.h.port, "GET", path, t.sam, NULL, &r));
    ASSERT_STREQ(hh_test_json_str(r.j, "status"), "pending");
    ASSERT_TRUE(cJSON_GetObjectItem(r.j, "text") == NULL);
    hh_test_resp_free(&r);
    snprintf(path, sizeof path, "/api/approvals/%lld/approve", (long long)aid);
    ASSERT_OK(hh_test_http(t.h.port, "POST", path, anna, "{}", &r));
    ASSERT_EQ_INT(r.status, 200);
    hh_test_resp_free(&r);
    snprintf(path, sizeof path, "/api/approvals/%lld", (long long)aid);
    ASSERT_OK(hh_test_http(t.h.port, "GET", path, t.sam, NULL, &r));
    ASSERT_STREQ(hh_test_json_str(r.j, "status"), "approved");
    ASSERT_STREQ(hh_test_json_str(r.j, "text"), text);
    ASSERT_TRUE(strstr(r.body, "\"run_id\"") != NULL);
    hh_test_resp_free(&r);
    free(text);
    char *audit = hh_test_audit_text(t.h.st);
    snprintf(want, sizeof want, "approval %lld", (long long)aid);
    ASSERT_TRUE(audit && strstr(audit, want) != NULL);
    free(audit);
    hh_test_srv_stop(&t.h);
}

/* GDPR erasure of a user takes their runs with every step. */
TEST(agents_runs_erased_with_subject)
{
    ag_srv_t t;
    ASSERT_TRUE(srv(&t, "agents-erase"));
    cJSON *j = respond(&t, t.sam, "{\"model\":\"stories260K\",\"input\":\"Hello\",\"max_output_tokens\":4}");
    ASSERT_TRUE(j != NULL);
    char id[96];
    snprintf(id, sizeof id, "%s", hh_test_json_str(j, "id"));
    cJSON_Delete(j);
    cJSON *run = run_record(&t, t.admin, id);
    ASSERT_TRUE(run != NULL);
    ASSERT_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(run, "steps")), 1);
    cJSON_Delete(run);
    hh_test_resp_t r;
    ASSERT_OK(post(t.h.port, t.admin, "/api/gdpr/erase", "{\"subjects\":[\"sam\"],\"confirm\":true}", &r));
    ASSERT_EQ_INT(r.status, 200);
    hh_test_resp_free(&r);
    char path[160];
    snprintf(path, sizeof path, "/api/agents/runs/%s", id);
    ASSERT_OK(hh_test_http(t.h.port, "GET", path, t.admin, NULL, &r));
    ASSERT_EQ_INT(r.status, 404);
    hh_test_resp_free(&r);
    hh_store_agent_step_t *st = NULL;
    size_t n = 9;
    hh_err_t err;
    ASSERT_OK(hh_store_agent_steps(t.h.st, id, &st, &n, &err));
    ASSERT_EQ_INT(n, 0);
    hh_store_agent_steps_free(st, n);
    hh_test_srv_stop(&t.h);
}
