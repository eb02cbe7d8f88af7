/* test_mcp.c - the MCP server at /mcp (src/http/mcp.c) over real HTTP:
 * initialize with version negotiation and the session id, the protocol
 * errors (-32700, -32600, -32601, -32602, missing and unknown session,
 * another user's session, a wrong MCP-Protocol-Version), tools/list,
 * tools/call of knowledge_search and ask with the caller's rights (a Sales
 * member never sees an HR document; HR does), the audit record of a
 * call, DELETE ending the session, GET answering 405. The official SDK
 * client's test is tests/node/mcp.mjs. */
#include "harness.h"
#include "http_helpers.h"
#include "govern/audit.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct mcp_srv {
    hh_test_srv_t h;
    char admin[HH_KEY_LEN + 1], sam[HH_KEY_LEN + 1], hal[HH_KEY_LEN + 1];
} mcp_srv_t;

/* admin "root", Sales member "sam", HR member "hal"; collections sales-docs
 * (Sales) and hr-docs (HR) with one document each */
static bool srv(mcp_srv_t *t, const char *dir)
{
    memset(t, 0, sizeof *t);
    if (hh_test_srv_start(&t->h, dir, NULL) != 0)
        return false;
    hh_err_t err;
    hh_err_clear(&err);
    const char *sales[] = { "Sales" }, *hr[] = { "HR" };
    if (!(hh_test_srv_user(&t->h, "root", "admin", t->admin, NULL) == 0 &&
          hh_test_srv_user(&t->h, "sam", "member", t->sam, NULL) == 0 &&
          hh_test_srv_user(&t->h, "hal", "member", t->hal, NULL) == 0 &&
          hh_store_department_ensure(t->h.st, "Sales", NULL, &err) == 0 &&
          hh_store_department_ensure(t->h.st, "HR", NULL, &err) == 0 &&
          hh_store_user_add_department(t->h.st, "sam", "Sales", &err) == 0 &&
          hh_store_user_add_department(t->h.st, "hal", "HR", &err) == 0 &&
          hh_store_collection_ensure(t->h.st, "sales-docs", sales, 1, NULL, &err) == 0 &&
          hh_store_collection_ensure(t->h.st, "hr-docs", hr, 1, NULL, &err) == 0))
        return false;
    hh_test_resp_t r;
    bool ok = hh_test_http_upload(t->h.port, t->admin, "sales-docs", "travel.txt",
                                  "Travel policy SALESMARK. Travel expenses are refunded within 30 days "
                                  "after the trip when the receipts are attached.",
                                  &r) == 0 &&
              r.status == 201;
    hh_test_resp_free(&r);
    ok = ok && hh_test_http_upload(t->h.port, t->admin, "hr-docs", "salaries.txt",
                                   "Salaries HRSECRET. Travel expenses of the board are refunded within 30 days "
                                   "after the trip; the travel expenses budget is 90000 euros.",
                                   &r) == 0 &&
         r.status == 201;
    hh_test_resp_free(&r);
    return ok;
}

/* POST /mcp as key with session sid (NULL: none) and extra header lines. */
static int rpc(mcp_srv_t *t, const char *key, const char *sid, const char *extra, const char *body,
               hh_test_resp_t *r)
{
    char headers[400];
    snprintf(headers, sizeof headers, "Accept: application/json, text/event-stream%s%s%s%s",
             sid ? "\r\nMcp-Session-Id: " : "", sid ? sid : "", extra ? "\r\n" : "", extra ? extra : "");
    hh_test_req_t q = { .method = "POST", .path = "/mcp", .key = key, .body = body, .headers = headers };
    return hh_test_http_req(t->h.port, &q, r);
}

/* initialize as key asking for version; sid gets the session id. The
 * negotiated version is returned in ver. */
static bool init_session(mcp_srv_t *t, const char *key, const char *version, char sid[64], char ver[32])
{
    char body[300];
    snprintf(body, sizeof body,
             "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"%s\","
             "\"capabilities\":{},\"clientInfo\":{\"name\":\"test\",\"version\":\"1\"}}}",
             version);
    hh_test_resp_t r;
    if (rpc(t, key, NULL, NULL, body, &r) != 0)
        return false;
    const cJSON *res = cJSON_GetObjectItemCaseSensitive(r.j, "result");
    bool ok = r.status == 200 && hh_test_resp_header(&r, "Mcp-Session-Id", sid, 64) != NULL &&
              strlen(sid) == 32 && cJSON_IsString(cJSON_GetObjectItemCaseSensitive(res, "protocolVersion"));
    if (ok)
        snprintf(ver, 32, "%s", hh_test_json_str(res, "protocolVersion"));
    else
        printf("    initialize: %d %s\n", r.status, r.body);
    hh_test_resp_free(&r);
    if (!ok)
        return false;
    if (rpc(t, key, sid, NULL, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}", &r) != 0)
        return false;
    ok = r.status == 202 && r.body_len == 0;
    hh_test_resp_free(&r);
    return ok;
}

static int err_code(const hh_test_resp_t *r)
{
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r->j, "error"), "code");
    return cJSON_IsNumber(c) ? c->valueint : 0;
}

TEST(mcp_initialize_versions_and_protocol_errors)
{
    mcp_srv_t t;
    ASSERT_TRUE(srv(&t, "mcp-proto"));
    char sid[64], ver[32], sid2[64];
    /* every revision the SDK speaks is echoed; any other gets ours */
    ASSERT_TRUE(init_session(&t, t.sam, "2024-11-05", sid, ver));
    ASSERT_STREQ(ver, "2024-11-05");
    ASSERT_TRUE(init_session(&t, t.sam, "2025-03-26", sid, ver));
    ASSERT_STREQ(ver, "2025-03-26");
    ASSERT_TRUE(init_session(&t, t.sam, "2099-01-01", sid, ver));
    ASSERT_STREQ(ver, "2025-06-18");
    ASSERT_TRUE(init_session(&t, t.sam, "2025-06-18", sid, ver));
    ASSERT_STREQ(ver, "2025-06-18");
    hh_test_resp_t r;
    /* bad JSON: -32700, HTTP 400 */
    ASSERT_OK(rpc(&t, t.sam, sid, NULL, "{\"jsonrpc\":\"2.0\",", &r));
    ASSERT_EQ_INT(r.status, 400);
    ASSERT_EQ_INT(err_code(&r), -32700);
    ASSERT_TRUE(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(r.j, "id")));
    hh_test_resp_free(&r);
    /* not JSON-RPC 2.0, and a batch: -32600 */
    ASSERT_OK(rpc(&t, t.sam, sid, NULL, "{\"jsonrpc\":\"1.0\",\"id\":3,\"method\":\"ping\"}", &r));
    ASSERT_EQ_INT(r.status, 400);
    ASSERT_EQ_INT(err_code(&r), -32600);
    hh_test_resp_free(&r);
    ASSERT_OK(rpc(&t, t.sam, sid, NULL, "[{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"ping\"}]", &r));
    ASSERT_EQ_INT(r.status, 400);
    ASSERT_EQ_INT(err_code(&r), -32600);
    hh_test_resp_free(&r);
    /* ping */
    ASSERT_OK(rpc(&t, t.sam, sid, "MCP-Protocol-Version: 2025-06-18", "{\"jsonrpc\":\"2.0\",\"id\":\"p\",\"method\":\"ping\"}", &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_STREQ(hh_test_json_str(r.j, "id"), "p");
    ASSERT_TRUE(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(r.j, "result")));
    hh_test_resp_free(&r);
    /* unknown method: -32601 with the request's id */
    ASSERT_OK(rpc(&t, t.sam, sid, NULL, "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"resources/list\"}", &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_EQ_INT(err_code(&r), -32601);
    ASSERT_EQ_INT(cJSON_GetObjectItemCaseSensitive(r.j, "id")->valueint, 7);
    hh_test_resp_free(&r);
    /* invalid params: unknown tool, arguments outside the schema, no name */
    const char *bad[] = {
        "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"tools/call\",\"params\":{\"name\":\"sql_query\",\"arguments\":{}}}",
        "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"tools/call\",\"params\":{\"name\":\"knowledge_search\","
        "\"arguments\":{\"query\":\"\"}}}",
        "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"tools/call\",\"params\":{\"name\":\"ask\","
        "\"arguments\":{\"question\":\"x\",\"evil\":1}}}",
        "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"tools/call\",\"params\":{\"arguments\":{}}}",
        "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"tools/call\"}",
        "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"initialize\",\"params\":{}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ASSERT_OK(rpc(&t, t.sam, sid, NULL, bad[i], &r));
        ASSERT_EQ_INT(r.status, 200);
        ASSERT_EQ_INT(err_code(&r), -32602);
        hh_test_resp_free(&r);
    }
    /* no session: 400 -32000; an unknown one: 404 -32001 */
    ASSERT_OK(rpc(&t, t.sam, NULL, NULL, "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"tools/list\"}", &r));
    ASSERT_EQ_INT(r.status, 400);
    ASSERT_EQ_INT(err_code(&r), -32000);
    hh_test_resp_free(&r);
    char missing[512];
    ASSERT_OK(rpc(&t, t.sam, "0123456789abcdef0123456789abcdef", NULL,
                  "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"tools/list\"}", &r));
    ASSERT_EQ_INT(r.status, 404);
    ASSERT_EQ_INT(err_code(&r), -32001);
    snprintf(missing, sizeof missing, "%s", r.body);
    hh_test_resp_free(&r);
    /* another user's live session answers exactly like a missing one */
    ASSERT_OK(rpc(&t, t.hal, sid, NULL, "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"tools/list\"}", &r));
    ASSERT_EQ_INT(r.status, 404);
    ASSERT_STREQ(r.body, missing);
    hh_test_resp_free(&r);
    /* a protocol version other than the session's: 400 */
    ASSERT_OK(rpc(&t, t.sam, sid, "MCP-Protocol-Version: 2025-03-26",
                  "{\"jsonrpc\":\"2.0\",\"id\":10,\"method\":\"tools/list\"}", &r));
    ASSERT_EQ_INT(r.status, 400);
    ASSERT_TRUE(strstr(r.body, "protocol version") != NULL);
    hh_test_resp_free(&r);
    ASSERT_OK(rpc(&t, t.sam, sid, "MCP-Protocol-Version: 1999-01-01",
                  "{\"jsonrpc\":\"2.0\",\"id\":10,\"method\":\"tools/list\"}", &r));
    ASSERT_EQ_INT(r.status, 400);
    hh_test_resp_free(&r);
    /* no key: 401 */
    ASSERT_OK(rpc(&t, NULL, sid, NULL, "{\"jsonrpc\":\"2.0\",\"id\":10,\"method\":\"tools/list\"}", &r));
    ASSERT_EQ_INT(r.status, 401);
    hh_test_resp_free(&r);
    /* GET: 405 (no server stream) */
    ASSERT_OK(hh_test_http(t.h.port, "GET", "/mcp", t.sam, NULL, &r));
    ASSERT_EQ_INT(r.status, 405);
    hh_test_resp_free(&r);
    /* DELETE by another user: like a missing one, and the session lives on */
    hh_test_req_t del = { .method = "DELETE", .path = "/mcp", .key = t.hal, .headers = NULL };
    char hdr[100];
    snprintf(hdr, sizeof hdr, "Mcp-Session-Id: %s", sid);
    del.headers = hdr;
    ASSERT_OK(hh_test_http_req(t.h.port, &del, &r));
    ASSERT_EQ_INT(r.status, 404);
    ASSERT_STREQ(r.body, missing);
    hh_test_resp_free(&r);
    ASSERT_OK(rpc(&t, t.sam, sid, NULL, "{\"jsonrpc\":\"2.0\",\"id\":11,\"method\":\"ping\"}", &r));
    ASSERT_EQ_INT(r.status, 200);
    hh_test_resp_free(&r);
    /* DELETE by its user ends it */
    del.key = t.sam;
    ASSERT_OK(hh_test_http_req(t.h.port, &del, &r));
    ASSERT_EQ_INT(r.status, 200);
    hh_test_resp_free(&r);
    ASSERT_OK(rpc(&t, t.sam, sid, NULL, "{\"jsonrpc\":\"2.0\",\"id\":12,\"method\":\"ping\"}", &r));
    ASSERT_EQ_INT(r.status, 404);
    hh_test_resp_free(&r);
    /* a second session of the same user is independent */
    ASSERT_TRUE(init_session(&t, t.sam, "2025-06-18", sid2, ver));
    ASSERT_TRUE(strcmp(sid2, sid) != 0);
    hh_test_srv_stop(&t.h);
}

/* tools/call as key in a fresh session; *out gets the result (caller frees). */
static cJSON *call_tool(mcp_srv_t *t, const char *key, const char *name, const char *args)
{
    char sid[64], ver[32];
    if (!init_session(t, key, "2025-06-18", sid, ver))
        return NULL;
    char body[1024];
    snprintf(body, sizeof body,
             "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/call\",\"params\":{\"name\":\"%s\",\"arguments\":%s}}",
             name, args);
    hh_test_resp_t r;
    if (rpc(t, key, sid, "MCP-Protocol-Version: 2025-06-18", body, &r) != 0)
        return NULL;
    cJSON *res = r.status == 200 ? cJSON_DetachItemFromObject(r.j, "result") : NULL;
    if (!res)
        printf("    tools/call %s: %d %s\n", name, r.status, r.body);
    hh_test_resp_free(&r);
    return res;
}

static const char *text_of(const cJSON *res)
{
    const cJSON *c = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(res, "content"), 0);
    return hh_test_json_str(c, "text");
}

TEST(mcp_tools_list_and_call_with_callers_rights)
{
    mcp_srv_t t;
    ASSERT_TRUE(srv(&t, "mcp-tools"));
    char sid[64], ver[32];
    ASSERT_TRUE(init_session(&t, t.sam, "2025-06-18", sid, ver));
    hh_test_resp_t r;
    ASSERT_OK(rpc(&t, t.sam, sid, NULL, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\"}", &r));
    ASSERT_EQ_INT(r.status, 200);
    const cJSON *tools = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r.j, "result"), "tools");
    ASSERT_EQ_INT(cJSON_GetArraySize(tools), 2);
    ASSERT_STREQ(hh_test_json_str(cJSON_GetArrayItem(tools, 0), "name"), "knowledge_search");
    ASSERT_STREQ(hh_test_json_str(cJSON_GetArrayItem(tools, 1), "name"), "ask");
    ASSERT_TRUE(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(tools, 1), "inputSchema")));
    hh_test_resp_free(&r);

    /* knowledge_search: sam reads Sales, never HR; hal the other way round */
    cJSON *s1 = call_tool(&t, t.sam, "knowledge_search", "{\"query\":\"travel expenses refunded\"}");
    ASSERT_TRUE(s1 != NULL);
    ASSERT_TRUE(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(s1, "isError")));
    ASSERT_TRUE(strstr(text_of(s1), "SALESMARK") != NULL);
    ASSERT_TRUE(strstr(text_of(s1), "HRSECRET") == NULL);
    ASSERT_TRUE(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(s1,
                                                                                               "structuredContent"),
                                                               "results")));
    cJSON *h1 = call_tool(&t, t.hal, "knowledge_search", "{\"query\":\"travel expenses refunded\"}");
    ASSERT_TRUE(h1 != NULL);
    ASSERT_TRUE(strstr(text_of(h1), "HRSECRET") != NULL);
    ASSERT_TRUE(strstr(text_of(h1), "SALESMARK") == NULL);

    /* ask (extractive: no model named): answer, sources, confidence; sam's from Sales only */
    cJSON *a1 = call_tool(&t, t.sam, "ask", "{\"question\":\"When are travel expenses refunded?\"}");
    ASSERT_TRUE(a1 != NULL);
    ASSERT_TRUE(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(a1, "isError")));
    const cJSON *sc = cJSON_GetObjectItemCaseSensitive(a1, "structuredContent");
    ASSERT_TRUE(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(sc, "answer")));
    ASSERT_TRUE(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(sc, "confidence")));
    const cJSON *src = cJSON_GetObjectItemCaseSensitive(sc, "sources");
    ASSERT_TRUE(cJSON_GetArraySize(src) >= 1);
    ASSERT_STREQ(hh_test_json_str(cJSON_GetArrayItem(src, 0), "title"), "travel");
    ASSERT_TRUE(strstr(text_of(a1), "HRSECRET") == NULL);
    ASSERT_TRUE(strstr(text_of(a1), "SALESMARK") != NULL);
    /* naming HR's collection reads like a missing one: a tool error, the same text */
    cJSON *a2 = call_tool(&t, t.sam, "ask", "{\"question\":\"salaries\",\"collections\":[\"hr-docs\"]}");
    cJSON *a3 = call_tool(&t, t.sam, "ask", "{\"question\":\"salaries\",\"collections\":[\"no-such-docs\"]}");
    ASSERT_TRUE(a2 != NULL && a3 != NULL);
    ASSERT_TRUE(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(a2, "isError")));
    char t2[600], t3[600];
    snprintf(t2, sizeof t2, "%s", text_of(a2));
    snprintf(t3, sizeof t3, "%s", text_of(a3));
    char *p = strstr(t2, "hr-docs"), *q = strstr(t3, "no-such-docs");
    ASSERT_TRUE(p != NULL && q != NULL);
    ASSERT_EQ_INT((int)(p - t2), (int)(q - t3));
    ASSERT_STREQ(p + strlen("hr-docs"), q + strlen("no-such-docs"));

    /* on record: the search's chunk ids and the ask's request record */
    char *audit = hh_test_audit_text(t.h.st);
    ASSERT_TRUE(audit != NULL);
    ASSERT_TRUE(strstr(audit, "mcp knowledge_search: ") != NULL);
    int n_req = 0;
    for (const char *x = audit; (x = strstr(x, "\\\"kind\\\":\\\"request\\\"")); x++)
        n_req++;
    ASSERT_EQ_INT(n_req, 5);   /* two searches, three asks (two refused) */
    ASSERT_TRUE(strstr(audit, "travel expenses refunded") == NULL);   /* the query as its hash only */
    free(audit);
    cJSON_Delete(s1);
    cJSON_Delete(h1);
    cJSON_Delete(a1);
    cJSON_Delete(a2);
    cJSON_Delete(a3);
    hh_test_srv_stop(&t.h);
}
