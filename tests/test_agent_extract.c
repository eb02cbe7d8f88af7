/* test_agent_extract.c - the extract agent tool (issue 16): an uploaded
 * invoice into a JSON schema with stories260K on a real server (the
 * values are the tiny model's nonsense: the structure is asserted, not the
 * content); another department's document answers exactly like a missing
 * one (the attack: both results compared byte for byte after replacing
 * the id); a schema that does not compile and an oversized schema are tool
 * errors naming the problem; a forced extract call through /v1/responses
 * names a document the caller may read and gets what the tool gives for
 * those arguments, and the step record keeps the arguments and result. */
#include "harness.h"
#include "http_helpers.h"
#include "agent/extract.h"
#include "agent/tools.h"
#include "http/server.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INVOICE_SCHEMA                                                                                     \
    "{\"type\":\"object\",\"properties\":{\"no\":{\"type\":\"string\",\"maxLength\":8},"                 \
    "\"paid\":{\"type\":\"boolean\"}},\"required\":[\"no\",\"paid\"]}"

typedef struct ex_srv {
    hh_test_srv_t h;
    char          admin[HH_KEY_LEN + 1], sam[HH_KEY_LEN + 1];
    int64_t       sam_id;
    long long     invoice, hr_doc;
} ex_srv_t;

static long long upload(ex_srv_t *t, const char *coll, const char *name, const char *text)
{
    hh_test_resp_t r;
    if (hh_test_http_upload(t->h.port, t->admin, coll, name, text, &r) != 0)
        return 0;
    long long id = r.status == 201 ? (long long)cJSON_GetObjectItem(r.j, "id")->valuedouble : 0;
    if (r.status != 201)
        printf("    upload %s: %d %s\n", name, r.status, r.body);
    hh_test_resp_free(&r);
    return id;
}

/* Admin "root", Sales member "sam"; an invoice in sales-docs, a document in hr-docs. */
static bool srv(ex_srv_t *t, const char *dir)
{
    memset(t, 0, sizeof *t);
    if (hh_test_srv_start(&t->h, dir, NULL) != 0)
        return false;
    hh_err_t err;
    hh_err_clear(&err);
    const char *sales[] = { "Sales" }, *hr[] = { "HR" };
    hh_store_user_t u;
    bool ok = hh_test_srv_user(&t->h, "root", "admin", t->admin, NULL) == 0 &&
              hh_test_srv_user(&t->h, "sam", "member", t->sam, NULL) == 0 &&
              hh_store_department_ensure(t->h.st, "Sales", NULL, &err) == 0 &&
              hh_store_department_ensure(t->h.st, "HR", NULL, &err) == 0 &&
              hh_store_user_add_department(t->h.st, "sam", "Sales", &err) == 0 &&
              hh_store_collection_ensure(t->h.st, "sales-docs", sales, 1, NULL, &err) == 0 &&
              hh_store_collection_ensure(t->h.st, "hr-docs", hr, 1, NULL, &err) == 0 &&
              hh_store_user_get(t->h.st, "sam", &u, &err) == 0;
    if (!ok)
        return false;
    t->sam_id = u.id;
    t->invoice = upload(t, "sales-docs", "invoice.txt",
                        "Invoice RE-2026-117. Acme GmbH, Berlin. Consulting, 10 hours at 95 EUR. "
                        "Total 950.00 EUR. Paid on 3 March 2026.");
    t->hr_doc = upload(t, "hr-docs", "contract.txt",
                       "Employment contract HRSECRET. Salary 98000 EUR a year. Start 1 April 2026.");
    return t->invoice > 0 && t->hr_doc > 0;
}

/* The tool as sam on the server's own store and engine; the model tokens
 * it spent into *spent (may be NULL). */
static int run_as_sam_spent(ex_srv_t *t, const char *args, char **result, hh_agent_usage_t *spent, hh_err_t *err)
{
    hh_agent_env_t env = { .store = t->h.st, .user = "sam", .user_id = t->sam_id,
                           .engine = hh_http_engine(t->h.s), .model = "stories260K",
                           .cache_scope = (uint64_t)t->sam_id, .usage = spent };
    hh_err_clear(err);
    return hh_agent_tool_run(&env, "extract", args, result, err);
}

static int run_as_sam(ex_srv_t *t, const char *args, char **result, hh_err_t *err)
{
    return run_as_sam_spent(t, args, result, NULL, err);
}


/* The invoice into the schema: an object that parses, every required
 * field there with its type, nothing else; the document's id and title. */
TEST(agent_extract_invoice_fields)
{
    ex_srv_t t;
    ASSERT_TRUE(srv(&t, "agent-extract"));
    char args[1024];
    snprintf(args, sizeof args, "{\"document_id\":%lld,\"schema\":%s}", t.invoice, INVOICE_SCHEMA);
    char *res = NULL;
    hh_err_t err;
    hh_agent_usage_t spent = { 0, 0 };
    int rc = run_as_sam_spent(&t, args, &res, &spent, &err);
    if (rc)
        printf("    extract: %s\n", err.msg);
    ASSERT_OK(rc);
    /* the extraction's model call is reported for the run's budget and quota */
    ASSERT_GE(spent.prompt_tokens, 20);
    ASSERT_GE(spent.completion_tokens, 1);
    printf("    result: %s\n", res);
    cJSON *o = cJSON_Parse(res);
    ASSERT_TRUE(cJSON_IsObject(o));
    ASSERT_EQ_INT((long long)cJSON_GetObjectItem(o, "document_id")->valuedouble, t.invoice);
    ASSERT_STREQ(hh_test_json_str(o, "title"), "invoice");
    const cJSON *d = cJSON_GetObjectItem(o, "data");
    ASSERT_TRUE(cJSON_IsObject(d));
    ASSERT_TRUE(cJSON_IsString(cJSON_GetObjectItem(d, "no")));
    ASSERT_LE(strlen(cJSON_GetObjectItem(d, "no")->valuestring), 8);
    ASSERT_TRUE(cJSON_IsBool(cJSON_GetObjectItem(d, "paid")));
    ASSERT_EQ_INT(cJSON_GetObjectItem(o, "passages")->valueint, 1);
    ASSERT_EQ_INT(cJSON_GetObjectItem(o, "passages_used")->valueint, 1);
    ASSERT_FALSE(cJSON_IsTrue(cJSON_GetObjectItem(o, "truncated")));
    char *dtext = cJSON_PrintUnformatted(d);
    ASSERT_OK(hh_agent_args_valid(INVOICE_SCHEMA, dtext, NULL));   /* a value of the schema */
    free(dtext);
    cJSON_Delete(o);
    free(res);
    hh_test_srv_stop(&t.h);
}

/* The attack: sam names the HR document's id. The error is the one a
 * missing id gets, byte for byte once the id is replaced; nothing of the
 * HR document comes back. */
TEST(agent_extract_other_department_like_missing)
{
    ex_srv_t t;
    ASSERT_TRUE(srv(&t, "agent-extract-rights"));
    long long missing = t.hr_doc + 1;
    while (missing == t.invoice)
        missing++;
    char a1[1024], a2[1024], e1[512], e2[512], ids[32];
    snprintf(a1, sizeof a1, "{\"document_id\":%lld,\"schema\":%s}", t.hr_doc, INVOICE_SCHEMA);
    snprintf(a2, sizeof a2, "{\"document_id\":%lld,\"schema\":%s}", missing, INVOICE_SCHEMA);
    char *res = NULL;
    hh_err_t err;
    ASSERT_EQ_INT(run_as_sam(&t, a1, &res, &err), HH_EINVAL);
    ASSERT_TRUE(res == NULL);
    snprintf(e1, sizeof e1, "%s", err.msg);
    ASSERT_EQ_INT(run_as_sam(&t, a2, &res, &err), HH_EINVAL);
    snprintf(e2, sizeof e2, "%s", err.msg);
    printf("    foreign: %s\n    missing: %s\n", e1, e2);
    /* replace the ids by a placeholder: the texts are then identical */
    snprintf(ids, sizeof ids, "%lld", t.hr_doc);
    char *p = strstr(e1, ids);
    ASSERT_TRUE(p != NULL);
    char n1[512], n2[512];
    snprintf(n1, sizeof n1, "%.*sID%s", (int)(p - e1), e1, p + strlen(ids));
    snprintf(ids, sizeof ids, "%lld", missing);
    p = strstr(e2, ids);
    ASSERT_TRUE(p != NULL);
    snprintf(n2, sizeof n2, "%.*sID%s", (int)(p - e2), e2, p + strlen(ids));
    ASSERT_STREQ(n1, n2);
    ASSERT_TRUE(strstr(e1, "HRSECRET") == NULL && strstr(e1, "contract") == NULL);
    /* control: an HR member reads it */
    hh_store_user_t u;
    hh_err_t se;
    ASSERT_OK(hh_test_srv_user(&t.h, "hal", "member", NULL, NULL));
    ASSERT_OK(hh_store_user_add_department(t.h.st, "hal", "HR", &se));
    ASSERT_OK(hh_store_user_get(t.h.st, "hal", &u, &se));
    hh_agent_env_t env = { .store = t.h.st, .user = "hal", .user_id = u.id, .engine = hh_http_engine(t.h.s),
                           .model = "stories260K" };
    hh_err_clear(&err);
    int rc = hh_agent_tool_run(&env, "extract", a1, &res, &err);
    if (rc)
        printf("    hal: %s\n", err.msg);
    ASSERT_OK(rc);
    ASSERT_TRUE(strstr(res, "\"title\":\"contract\"") != NULL);
    free(res);
    hh_test_srv_stop(&t.h);
}

/* A schema that does not compile and one over the size limit: tool
 * errors naming the problem (the model reads them and may correct). */
TEST(agent_extract_bad_and_oversized_schema)
{
    ex_srv_t t;
    ASSERT_TRUE(srv(&t, "agent-extract-schema"));
    char args[1024];
    snprintf(args, sizeof args,
             "{\"document_id\":%lld,\"schema\":{\"type\":\"object\",\"properties\":{\"x\":{\"$ref\":"
             "\"#/definitions/nowhere\"}},\"required\":[\"x\"]}}",
             t.invoice);
    char *res = NULL;
    hh_err_t err;
    ASSERT_EQ_INT(run_as_sam(&t, args, &res, &err), HH_EINVAL);
    printf("    bad schema: %s\n", err.msg);
    ASSERT_TRUE(strstr(err.msg, "extract: the schema does not compile: ") != NULL);
    ASSERT_TRUE(strlen(err.msg) > strlen("extract: the schema does not compile: "));
    /* over HH_AGENT_EXTRACT_SCHEMA_MAX bytes */
    size_t cap = HH_AGENT_EXTRACT_SCHEMA_MAX + 1024;
    char *big = malloc(cap);
    ASSERT_TRUE(big != NULL);
    size_t o = (size_t)snprintf(big, cap, "{\"document_id\":%lld,\"schema\":{\"type\":\"object\",\"properties\":{",
                                t.invoice);
    for (int i = 0; o < HH_AGENT_EXTRACT_SCHEMA_MAX + 100; i++)
        o += (size_t)snprintf(big + o, cap - o, "%s\"field_%03d\":{\"type\":\"string\"}", i ? "," : "", i);
    snprintf(big + o, cap - o, "}}}");
    ASSERT_EQ_INT(run_as_sam(&t, big, &res, &err), HH_EINVAL);
    printf("    big schema: %s\n", err.msg);
    ASSERT_TRUE(strstr(err.msg, "extract: the schema has ") != NULL);
    ASSERT_TRUE(strstr(err.msg, "at most 4096 are allowed") != NULL);
    free(big);
    hh_test_srv_stop(&t.h);
}

/* A forced extract call through /v1/responses: document_id can only be a
 * document sam may read (the invoice: the schema's enum), the item's
 * output is what the tool gives for the model's arguments, and the step
 * record keeps the arguments and the result. */
TEST(agent_extract_forced_call)
{
    ex_srv_t t;
    ASSERT_TRUE(srv(&t, "agent-extract-run"));
    hh_test_resp_t r;
    ASSERT_OK(hh_test_http(t.h.port, "POST", "/api/agents", t.admin,
                           "{\"name\":\"invoices\",\"model\":\"stories260K\",\"tools\":[\"extract\"],\"max_steps\":1,"
                           "\"system_prompt\":\"Extract invoice fields.\"}",
                           &r));
    ASSERT_EQ_INT(r.status, 201);
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(t.h.port, "POST", "/v1/responses", t.sam,
                           "{\"model\":\"agent:invoices\",\"input\":\"Extract the invoice.\",\"temperature\":0,"
                           "\"max_output_tokens\":200,\"tool_choice\":{\"type\":\"function\",\"name\":\"extract\"}}",
                           &r));
    ASSERT_EQ_INT(r.status, 200);
    const cJSON *item = cJSON_GetArrayItem(cJSON_GetObjectItem(r.j, "output"), 0);
    if (!strcmp(hh_test_json_str(item, "type"), "message")) {
        /* the tiny model does not close a free-form schema object within
         * max_output_tokens: the call is cut off before it runs. What it
         * decoded so far is still the forced call on sam's only document. */
        ASSERT_STREQ(hh_test_json_str(r.j, "status"), "incomplete");
        ASSERT_STREQ(hh_test_json_str(cJSON_GetObjectItem(r.j, "incomplete_details"), "reason"), "max_output_tokens");
        const char *text = hh_test_json_str(cJSON_GetArrayItem(cJSON_GetObjectItem(item, "content"), 0), "text");
        char flat[512], want[128];
        size_t k = 0;
        for (const char *q = text; *q && k + 1 < sizeof flat; q++)
            if (*q != ' ' && *q != '\n')
                flat[k++] = *q;
        flat[k] = '\0';
        snprintf(want, sizeof want, "{\"name\":\"extract\",\"arguments\":{\"document_id\":%lld,\"schema\":{",
                 t.invoice);
        printf("    cut off: %.200s\n", flat);
        ASSERT_TRUE(strncmp(flat, want, strlen(want)) == 0);
        hh_test_resp_free(&r);
        hh_test_srv_stop(&t.h);
        return;
    }
    ASSERT_STREQ(hh_test_json_str(item, "type"), "hoheit_tool_call");
    ASSERT_STREQ(hh_test_json_str(item, "name"), "extract");
    char args[4096];
    snprintf(args, sizeof args, "%s", hh_test_json_str(item, "arguments"));
    printf("    the model's call: %.300s\n", args);
    cJSON *a = cJSON_Parse(args);
    ASSERT_TRUE(cJSON_IsObject(cJSON_GetObjectItem(a, "schema")));
    /* the only document sam reads: the schema's enum */
    ASSERT_EQ_INT((long long)cJSON_GetObjectItem(a, "document_id")->valuedouble, t.invoice);
    cJSON_Delete(a);
    char *res = NULL;
    hh_err_t err;
    int crc = run_as_sam(&t, args, &res, &err);
    const char *out = hh_test_json_str(item, "output");
    printf("    its output: %.300s\n", out);
    if (crc) {
        ASSERT_STREQ(hh_test_json_str(item, "status"), "failed");
        ASSERT_STREQ(hh_test_json_str(item, "error"), err.msg);
        ASSERT_TRUE(strncmp(err.msg, "extract: ", 9) == 0);
    } else {
        ASSERT_STREQ(out, res);
        cJSON *o = cJSON_Parse(res);
        ASSERT_STREQ(hh_test_json_str(o, "title"), "invoice");
        cJSON_Delete(o);
    }
    char id[96];
    snprintf(id, sizeof id, "%s", hh_test_json_str(r.j, "id"));
    hh_test_resp_free(&r);
    char path[160];
    snprintf(path, sizeof path, "/api/agents/runs/%s", id);
    ASSERT_OK(hh_test_http(t.h.port, "GET", path, t.sam, NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    const cJSON *st = cJSON_GetArrayItem(cJSON_GetObjectItem(r.j, "steps"), 1);
    ASSERT_STREQ(hh_test_json_str(st, "name"), "extract");
    ASSERT_STREQ(hh_test_json_str(st, "arguments"), args);
    if (crc)
        ASSERT_STREQ(hh_test_json_str(st, "error"), err.msg);
    else
        ASSERT_STREQ(hh_test_json_str(st, "result"), res);
    hh_test_resp_free(&r);
    free(res);
    hh_test_srv_stop(&t.h);
}
