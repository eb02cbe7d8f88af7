/* test_threat.c - the security leftovers of issue 12 found while writing
 * the threat model (docs/SECURITY.md "Leftovers found while writing this
 * threat model"), each run as the attack or the mistake itself; every test
 * here but the two checks failed on the code before its fix:
 *   - a GDPR erasure of "ann" deleted the user "joanna" (substring match)
 *     and could delete the last enabled admin;
 *   - `collections create --departments Slaes` made a department "Slaes";
 *   - POST/PUT /api/usecases stored departments and collections that do
 *     not exist;
 *   - /metrics (every department's counters) answered any key;
 *   - a department's quota refusal told a member the department's total;
 *   - (a check, no fix) `documents delete` from the command line beside a
 *     running server: the deleted document is gone from every retrieval at
 *     once, also from the dense search of the server's stale vector index;
 *   - (a check, no fix) a DOCX or ODT with an external entity naming a local
 *     file, or a billion-laughs entity: the file is not read, nothing
 *     expands. */
#include "harness.h"
#include "http_helpers.h"
#include "govern/audit.h"
#include "govern/gdpr.h"
#include "http/server.h"
#include "kb/extract.h"
#include "store/store_int.h"

#include <cjson/cJSON.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <zip.h>

#define NEED_BIN()                                                                                        \
    do {                                                                                                  \
        if (!getenv("HOHEIT_BIN")) {                                                                      \
            hh_test_fail(__FILE__, __LINE__, "HOHEIT_BIN is not set (run through `make test`)");          \
            return;                                                                                       \
        }                                                                                                 \
    } while (0)

static int64_t sql_int(hh_store_t *s, const char *sql, const char *arg)
{
    sqlite3_stmt *st = NULL;
    int64_t v = -1;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) == SQLITE_OK) {
        if (arg)
            sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW)
            v = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    return v;
}

/* `$HOHEIT_BIN ARGS --data DIR`, stdout and stderr into out. */
static int cli(char *out, size_t cap, const char *dir, const char *args)
{
    char line[2048];
    snprintf(line, sizeof line, "%s --data %s", args, dir);
    return hh_test_run_cli(line, NULL, true, out, cap);
}

static const char *err_field(const hh_test_resp_t *r, const char *k)
{
    return hh_test_json_str(cJSON_GetObjectItemCaseSensitive(r->j, "error"), k);
}

/* ---- a. GDPR erasure: whole user names, never the last admin ------------- */

TEST(threat_gdpr_erase_user_is_whole_name)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/threat-gdpr-substring", hh_test_tmpdir());
    hh_store_t *st = NULL;
    hh_err_t err;
    hh_err_clear(&err);
    ASSERT_OK(hh_store_open(&st, dir, &err));
    hh_store_user_t u;
    ASSERT_OK(hh_store_user_ensure(st, "root", "admin", &u, NULL, &err));
    ASSERT_OK(hh_store_user_ensure(st, "ann", "member", &u, NULL, &err));
    ASSERT_OK(hh_store_user_ensure(st, "joanna", "member", &u, NULL, &err));
    ASSERT_OK(hh_store_user_ensure(st, "hannah", "approver", &u, NULL, &err));
    /* the export lists exactly the account erasure will delete */
    const char *subj[1] = { "ANN" };
    cJSON *doc = NULL;
    ASSERT_OK(hh_gdpr_export(st, subj, 1, "root", &doc, &err));
    ASSERT_EQ_INT(hh_test_count_hits(doc, "user", -1), 1);
    cJSON_Delete(doc);
    hh_gdpr_erase_result_t r;
    ASSERT_OK(hh_gdpr_erase(st, subj, 1, "root", &r, &err));
    ASSERT_EQ_INT(r.users, 1);   /* was 3: ann, joanna, hannah */
    ASSERT_EQ_INT(sql_int(st, "SELECT count(*) FROM users WHERE name = ?1", "ann"), 0);
    ASSERT_EQ_INT(sql_int(st, "SELECT count(*) FROM users WHERE name = ?1", "joanna"), 1);
    ASSERT_EQ_INT(sql_int(st, "SELECT count(*) FROM users WHERE name = ?1", "hannah"), 1);
    hh_store_close(st);
}

TEST(threat_gdpr_erase_last_admin_refused)
{
    NEED_BIN();
    char dir[512], out[8192];
    snprintf(dir, sizeof dir, "%s/threat-gdpr-admin", hh_test_tmpdir());
    hh_store_t *st = NULL;
    hh_err_t err;
    hh_err_clear(&err);
    ASSERT_OK(hh_store_open(&st, dir, &err));
    hh_store_user_t u;
    ASSERT_OK(hh_store_user_ensure(st, "Erika.Admin", "admin", &u, NULL, &err));
    ASSERT_OK(hh_store_user_ensure(st, "olaf", "admin", &u, NULL, &err));
    ASSERT_OK(hh_store_user_set_disabled(st, "olaf", true, &err));   /* a disabled admin administers nothing */
    ASSERT_OK(hh_store_user_ensure(st, "max", "member", &u, NULL, &err));
    hh_audit_entry_t e = { .kind = "request", .user = "Erika.Admin", .prompt = "note for erika.admin",
                           .decision = "released" };
    ASSERT_OK(hh_audit_append(st, NULL, &e, NULL, &err));
    int64_t records = sql_int(st, "SELECT count(*) FROM audit_log", NULL);
    /* the library: HH_ESTATE, nothing erased */
    const char *subj[2] = { "max", "erika.admin" };
    hh_gdpr_erase_result_t r;
    ASSERT_EQ_INT(hh_gdpr_erase(st, subj, 2, "root", &r, &err), HH_ESTATE);
    ASSERT_TRUE(strstr(err.msg, "'Erika.Admin' is the last enabled admin") != NULL);
    ASSERT_EQ_INT(sql_int(st, "SELECT count(*) FROM users", NULL), 3);
    ASSERT_EQ_INT(sql_int(st, "SELECT count(*) FROM audit_log WHERE prompt = ?1", "note for erika.admin"), 1);
    ASSERT_EQ_INT(sql_int(st, "SELECT count(*) FROM audit_log", NULL), records);
    hh_store_close(st);
    /* the command line: exit 1 with the way out in the message */
    ASSERT_EQ_INT(cli(out, sizeof out, dir, "gdpr erase --subject Erika.Admin --yes"), 1);
    ASSERT_TRUE(strstr(out, "last enabled admin") != NULL);
    ASSERT_TRUE(strstr(out, "hoheit users role NAME admin") != NULL);
    ASSERT_TRUE(strstr(out, "nothing was erased") != NULL);
    ASSERT_EQ_INT(cli(out, sizeof out, dir, "users list"), 0);
    ASSERT_TRUE(strstr(out, "Erika.Admin") != NULL);
    /* with another enabled admin the erasure goes through (one account
     * named twice is still one admin of two) */
    ASSERT_EQ_INT(cli(out, sizeof out, dir, "users enable olaf"), 0);
    ASSERT_EQ_INT(cli(out, sizeof out, dir, "gdpr erase --subject Erika.Admin --subject ERIKA.ADMIN --yes"), 0);
    ASSERT_TRUE(strstr(out, "users deleted 1") != NULL);
    ASSERT_OK(hh_store_open(&st, dir, &err));
    ASSERT_EQ_INT(sql_int(st, "SELECT count(*) FROM users WHERE role = 'admin'", NULL), 1);
    ASSERT_EQ_INT(sql_int(st, "SELECT count(*) FROM users WHERE name = ?1", "max"), 1);
    hh_store_close(st);
}

TEST(threat_gdpr_http_erase_last_admin_409)
{
    hh_test_srv_t t;
    ASSERT_OK(hh_test_srv_start(&t, "threat-gdpr-http", NULL));
    char root[HH_KEY_LEN + 1], jo[HH_KEY_LEN + 1];
    ASSERT_OK(hh_test_srv_user(&t, "rootadmin", "admin", root, NULL));
    ASSERT_OK(hh_test_srv_user(&t, "joanna", "member", jo, NULL));
    hh_test_resp_t r;
    /* the only admin erases their own name: refused, the account stays */
    ASSERT_OK(hh_test_http(t.port, "POST", "/api/gdpr/erase", root,
                           "{\"subjects\":[\"rootadmin\"],\"confirm\":true}", &r));
    ASSERT_EQ_INT(r.status, 409);
    ASSERT_STREQ(err_field(&r, "code"), "last_admin");
    ASSERT_STREQ(err_field(&r, "param"), "subjects");
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(t.port, "GET", "/v1/models", root, NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    hh_test_resp_free(&r);
    /* "ann" is in "joanna": joanna keeps her account and key */
    ASSERT_OK(hh_test_http(t.port, "POST", "/api/gdpr/erase", root, "{\"subjects\":[\"ann\"],\"confirm\":true}", &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_EQ_INT(cJSON_GetObjectItemCaseSensitive(r.j, "users")->valuedouble, 0);
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(t.port, "GET", "/v1/models", jo, NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    hh_test_resp_free(&r);
    hh_test_srv_stop(&t);
}

/* ---- b. collections create: no department by typo ------------------------ */

TEST(threat_collections_create_unknown_department_refused)
{
    NEED_BIN();
    char dir[512], out[8192];
    snprintf(dir, sizeof dir, "%s/threat-coll-dept", hh_test_tmpdir());
    /* a fresh directory knows no department: refused, nothing made */
    ASSERT_EQ_INT(cli(out, sizeof out, dir, "collections create sales-docs --departments Sales"), 1);
    ASSERT_TRUE(strstr(out, "no department 'Sales'") != NULL);
    ASSERT_TRUE(strstr(out, "--create") != NULL);
    ASSERT_TRUE(strstr(out, "hoheit departments list") != NULL);
    ASSERT_EQ_INT(cli(out, sizeof out, dir, "collections create sales-docs --departments Sales --create"), 0);
    /* the typo: both unknown names in one message, no collection, no department */
    ASSERT_EQ_INT(cli(out, sizeof out, dir, "collections create offers --departments Slaes,sales,Markting"), 1);
    ASSERT_TRUE(strstr(out, "no department 'Slaes', 'Markting'") != NULL);
    hh_store_t *st = NULL;
    hh_err_t err;
    hh_err_clear(&err);
    ASSERT_OK(hh_store_open(&st, dir, &err));
    ASSERT_EQ_INT(sql_int(st, "SELECT count(*) FROM departments", NULL), 1);
    ASSERT_EQ_INT(sql_int(st, "SELECT count(*) FROM collections WHERE name = ?1", "offers"), 0);
    hh_store_close(st);
    /* a known one in another case is that department */
    ASSERT_EQ_INT(cli(out, sizeof out, dir, "collections create offers --departments sales"), 0);
    ASSERT_TRUE(strstr(out, "departments: Sales") != NULL);
    ASSERT_OK(hh_store_open(&st, dir, &err));
    ASSERT_EQ_INT(sql_int(st, "SELECT count(*) FROM departments", NULL), 1);
    hh_store_close(st);
}

/* ---- c. the register over HTTP: departments and collections must exist --- */

TEST(threat_usecases_http_unknown_names_400)
{
    hh_test_srv_t t;
    ASSERT_OK(hh_test_srv_start(&t, "threat-uc-names", NULL));
    char root[HH_KEY_LEN + 1];
    ASSERT_OK(hh_test_srv_user(&t, "root", "admin", root, NULL));
    hh_err_t err;
    hh_err_clear(&err);
    const char *sales[1] = { "Sales" };
    ASSERT_OK(hh_store_collection_ensure(t.st, "offers", sales, 1, NULL, &err));
    hh_test_resp_t r;
    ASSERT_OK(hh_test_http(t.port, "POST", "/api/usecases", root,
                           "{\"slug\":\"offer-drafts\",\"purpose\":\"drafts offers\",\"departments\":[\"Sales\","
                           "\"Salse\",\"Ops\"]}",
                           &r));
    ASSERT_EQ_INT(r.status, 400);
    ASSERT_STREQ(err_field(&r, "code"), "unknown_department");
    ASSERT_STREQ(err_field(&r, "param"), "departments");
    ASSERT_TRUE(strstr(err_field(&r, "message"), "'Salse', 'Ops'") != NULL);
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(t.port, "POST", "/api/usecases", root,
                           "{\"slug\":\"offer-drafts\",\"purpose\":\"drafts offers\",\"collections\":[\"ofers\"]}", &r));
    ASSERT_EQ_INT(r.status, 400);
    ASSERT_STREQ(err_field(&r, "code"), "unknown_collection");
    ASSERT_STREQ(err_field(&r, "param"), "collections");
    ASSERT_TRUE(strstr(err_field(&r, "message"), "'ofers'") != NULL);
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(t.port, "GET", "/api/usecases/offer-drafts", root, NULL, &r));
    ASSERT_EQ_INT(r.status, 404);   /* nothing was stored */
    hh_test_resp_free(&r);
    /* known names (any case) are accepted; an update naming an unknown one is refused */
    ASSERT_OK(hh_test_http(t.port, "POST", "/api/usecases", root,
                           "{\"slug\":\"offer-drafts\",\"purpose\":\"drafts offers\",\"departments\":[\"sales\"],"
                           "\"collections\":[\"offers\"]}",
                           &r));
    ASSERT_EQ_INT(r.status, 201);
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(t.port, "PUT", "/api/usecases/offer-drafts", root, "{\"departments\":[\"Slaes\"]}", &r));
    ASSERT_EQ_INT(r.status, 400);
    ASSERT_STREQ(err_field(&r, "code"), "unknown_department");
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(t.port, "GET", "/api/usecases/offer-drafts", root, NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_TRUE(strstr(r.body, "\"sales\"") != NULL && strstr(r.body, "Slaes") == NULL);
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(t.port, "PUT", "/api/usecases/offer-drafts", root, "{\"purpose\":\"better offers\"}", &r));
    ASSERT_EQ_INT(r.status, 200);
    hh_test_resp_free(&r);
    hh_test_srv_stop(&t);
}

/* ---- d. /metrics: admins and auditors only -------------------------------- */

TEST(threat_metrics_member_403)
{
    hh_test_srv_t t;
    ASSERT_OK(hh_test_srv_start(&t, "threat-metrics", NULL));
    const char *roles[4] = { "member", "approver", "auditor", "admin" };
    const int want[4] = { 403, 403, 200, 200 };
    char keys[4][HH_KEY_LEN + 1];
    for (int i = 0; i < 4; i++) {
        char name[32];
        snprintf(name, sizeof name, "u-%s", roles[i]);
        ASSERT_OK(hh_test_srv_user(&t, name, roles[i], keys[i], NULL));
    }
    /* some traffic for the counters */
    hh_test_resp_t r;
    ASSERT_OK(hh_test_http(t.port, "GET", "/v1/models", keys[0], NULL, &r));
    hh_test_resp_free(&r);
    for (int i = 0; i < 4; i++) {
        ASSERT_OK(hh_test_http(t.port, "GET", "/metrics", keys[i], NULL, &r));
        if (r.status != want[i])
            printf("    role %s: %d\n", roles[i], r.status);
        ASSERT_EQ_INT(r.status, want[i]);
        if (want[i] == 403) {
            ASSERT_STREQ(err_field(&r, "code"), "forbidden");
            ASSERT_TRUE(strstr(r.body, "hoheit_http_requests_total") == NULL);
        } else {
            ASSERT_TRUE(strstr(r.body, "hoheit_http_requests_total{method=\"GET\",route=\"/v1/models\",status=\"200\"} 1")
                        != NULL);
        }
        hh_test_resp_free(&r);
    }
    hh_test_srv_stop(&t);
}

/* ---- e. a department's quota: the member learns it is reached, not its total */

#define COMPLETION_1 "{\"model\":\"stories260K\",\"prompt\":\"Once upon a time\",\"max_tokens\":%d,\"temperature\":0}"

static int complete(int port, const char *key, int max_tokens, hh_test_resp_t *keep)
{
    char body[256];
    snprintf(body, sizeof body, COMPLETION_1, max_tokens);
    hh_test_resp_t r;
    if (hh_test_http(port, "POST", "/v1/completions", key, body, &r) != 0)
        return -1;
    int status = r.status;
    if (keep)
        *keep = r;
    else
        hh_test_resp_free(&r);
    return status;
}

TEST(threat_quota_department_totals_hidden_from_member)
{
    hh_test_srv_t t;
    ASSERT_OK(hh_test_srv_start(&t, "threat-quota", NULL));
    char ann[HH_KEY_LEN + 1], cem[HH_KEY_LEN + 1], aud[HH_KEY_LEN + 1];
    ASSERT_OK(hh_test_srv_user(&t, "ann", "member", ann, NULL));
    ASSERT_OK(hh_test_srv_user(&t, "cem", "member", cem, NULL));
    ASSERT_OK(hh_test_srv_user(&t, "audrey", "auditor", aud, NULL));
    hh_err_t err;
    hh_err_clear(&err);
    ASSERT_OK(hh_store_user_add_department(t.st, "ann", "Sales", &err));
    ASSERT_OK(hh_store_user_add_department(t.st, "cem", "Sales", &err));
    ASSERT_OK(hh_store_user_add_department(t.st, "audrey", "Sales", &err));
    hh_store_quota_t q = { .tokens_per_day = 30, .tokens_per_month = HH_QUOTA_KEEP,
                           .requests_per_minute = HH_QUOTA_KEEP, .concurrent = HH_QUOTA_KEEP };
    ASSERT_OK(hh_store_quota_set(t.st, true, "Sales", &q, &err));
    /* ann spends the department's day; cem learns that the limit is
     * reached and when it frees, not what ann spent */
    hh_test_resp_t r;
    ASSERT_EQ_INT(complete(t.port, ann, 40, &r), 200);
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(r.j, "usage");
    int total = (int)cJSON_GetObjectItemCaseSensitive(u, "total_tokens")->valuedouble;
    hh_test_resp_free(&r);
    ASSERT_GE(total, 30);
    char spent[32];
    snprintf(spent, sizeof spent, "%d", total);
    ASSERT_EQ_INT(complete(t.port, cem, 1, &r), 429);
    const char *msg = err_field(&r, "message");
    printf("    member sees: %s\n", msg);
    ASSERT_STREQ(err_field(&r, "code"), "quota_exceeded");
    ASSERT_STREQ(err_field(&r, "param"), "tokens_per_day");
    ASSERT_TRUE(strstr(msg, "the tokens_per_day limit of your department 'Sales' is reached; it frees at 00:00 UTC")
                != NULL);
    ASSERT_TRUE(strstr(msg, spent) == NULL);   /* was: "is 30 (<total> tokens in this UTC day)" */
    ASSERT_TRUE(strstr(msg, " 30 ") == NULL && strstr(msg, "tokens in this") == NULL);
    char ra[32];
    hh_test_resp_header(&r, "Retry-After", ra, sizeof ra);
    ASSERT_TRUE(ra[0] != '\0');
    hh_test_resp_free(&r);
    /* an auditor (who reads /api/usage?by=department anyway) gets the figures */
    ASSERT_EQ_INT(complete(t.port, aud, 1, &r), 429);
    ASSERT_TRUE(strstr(err_field(&r, "message"), "tokens_per_day limit of department 'Sales' is 30") != NULL);
    ASSERT_TRUE(strstr(err_field(&r, "message"), spent) != NULL);
    hh_test_resp_free(&r);
    hh_test_srv_stop(&t);
}

/* ---- f. documents delete from the command line beside a running server --- */

static int ask(int port, const char *key, const char *question, const char *mode, cJSON **j)
{
    cJSON *b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "question", question);
    cJSON_AddStringToObject(b, "retrieval", mode);
    cJSON_AddNumberToObject(b, "k", 10);
    char *body = cJSON_PrintUnformatted(b);
    cJSON_Delete(b);
    hh_test_resp_t r;
    int st = body && hh_test_http(port, "POST", "/api/ask", key, body, &r) == 0 ? r.status : -1;
    cJSON_free(body);
    *j = NULL;
    if (st >= 0) {
        *j = r.j;
        r.j = NULL;
        hh_test_resp_free(&r);
    }
    return st;
}

/* How many sources of an /api/ask answer quote needle. */
static int sources_quoting(const cJSON *j, const char *needle)
{
    int n = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(j, "sources")) {
        const cJSON *q = cJSON_GetObjectItemCaseSensitive(it, "quote");
        n += cJSON_IsString(q) && strstr(q->valuestring, needle) != NULL;
    }
    return n;
}

TEST(threat_cli_documents_delete_beside_server)
{
    NEED_BIN();
    hh_test_srv_params_t p = hh_test_srv_default_params();
    p.models[0] = "reference/bert-q8_0.gguf";   /* uploads are embedded: dense search runs */
    p.http = hh_http_default_params();
    p.http.engine.n_slots = 1;
    p.http.engine.n_threads = 2;
    hh_test_srv_t t;
    ASSERT_OK(hh_test_srv_start(&t, "threat-cli-delete", &p));
    char hr[HH_KEY_LEN + 1];
    ASSERT_OK(hh_test_srv_user(&t, "hanna", "member", hr, NULL));
    hh_err_t err;
    hh_err_clear(&err);
    const char *hr_d[1] = { "HR" };
    ASSERT_OK(hh_store_collection_ensure(t.st, "hr", hr_d, 1, NULL, &err));
    ASSERT_OK(hh_store_collection_grant(t.st, "hr", "HR", HH_RIGHT_WRITE, NULL, &err));
    ASSERT_OK(hh_store_user_add_department(t.st, "hanna", "HR", &err));
    hh_test_resp_t r;
    ASSERT_OK(hh_test_http_upload(t.port, hr, "hr", "bonus.md",
                                  "# Bonus\n\nHRBONUS the bonus pool for the sales director is 48213 euros this year.\n",
                                  &r));
    ASSERT_EQ_INT(r.status, 201);
    int64_t doc = (int64_t)cJSON_GetObjectItemCaseSensitive(r.j, "id")->valuedouble;
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http_upload(t.port, hr, "hr", "leave.md",
                                  "# Leave\n\nHRLEAVE every employee has thirty days of paid leave a year.\n", &r));
    ASSERT_EQ_INT(r.status, 201);
    hh_test_resp_free(&r);
    const char *question = "HRBONUS the bonus pool for the sales director is 48213 euros this year.";
    const char *modes[3] = { "dense", "bm25", "hybrid" };
    for (int m = 0; m < 3; m++) {
        cJSON *j = NULL;
        ASSERT_EQ_INT(ask(t.port, hr, question, modes[m], &j), 200);
        ASSERT_EQ_INT(sources_quoting(j, "48213"), 1);
        cJSON_Delete(j);
    }
    /* the command line deletes it while the server runs (the server's
     * vector index in memory still holds the document's vectors) */
    char args[1024], out[4096];
    snprintf(args, sizeof args, "documents delete %lld --yes", (long long)doc);
    ASSERT_EQ_INT(cli(out, sizeof out, t.data, args), 0);
    ASSERT_TRUE(strstr(out, "deleted document") != NULL);
    ASSERT_EQ_INT(sql_int(t.st, "SELECT count(*) FROM chunks WHERE text LIKE '%48213%'", NULL), 0);
    /* no retrieval of the running server finds it any more, dense included */
    for (int m = 0; m < 3; m++) {
        cJSON *j = NULL;
        ASSERT_EQ_INT(ask(t.port, hr, question, modes[m], &j), 200);
        if (sources_quoting(j, "48213"))
            printf("    mode %s still finds the deleted document\n", modes[m]);
        ASSERT_EQ_INT(sources_quoting(j, "48213"), 0);
        if (m != 1)   /* the other document is still found densely */
            ASSERT_EQ_INT(sources_quoting(j, "HRLEAVE"), 1);
        cJSON_Delete(j);
    }
    hh_test_srv_stop(&t);
}

/* ---- hostile documents: XML entities (a check, no fix) --------------------- */

/* A zip file at path with the members names[i] = data[i]; the first member
 * stored (ODT's mimetype must be), the rest deflated. */
static bool zip_of(const char *path, const char *const *names, const char *const *data, int n)
{
    int zerr = 0;
    zip_t *za = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &zerr);
    if (!za)
        return false;
    for (int i = 0; i < n; i++) {
        zip_source_t *src = zip_source_buffer(za, data[i], strlen(data[i]), 0);
        zip_int64_t idx = src ? zip_file_add(za, names[i], src, ZIP_FL_OVERWRITE) : -1;
        if (idx < 0) {
            zip_source_free(src);
            zip_discard(za);
            return false;
        }
        zip_set_file_compression(za, (zip_uint64_t)idx, i == 0 ? ZIP_CM_STORE : ZIP_CM_DEFLATE, 9);
    }
    return zip_close(za) == 0;
}

/* The internal subsets of the two attacks: an external entity naming a
 * local file (XXE), and nine levels of ten-fold expansion (a billion "ha"s). */
#define XXE_FILE(root) "<!DOCTYPE " root " [<!ENTITY xxe SYSTEM \"file://%s\">]>"
#define XXE_LAUGHS(root)                                                                                        \
    "<!DOCTYPE " root " [<!ENTITY a \"ha\">"                                                                    \
    "<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\"><!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\">"               \
    "<!ENTITY d \"&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;\"><!ENTITY e \"&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;\">"               \
    "<!ENTITY f \"&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;\"><!ENTITY g \"&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;\">"               \
    "<!ENTITY h \"&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;\"><!ENTITY i \"&h;&h;&h;&h;&h;&h;&h;&h;&h;&h;\">]>"
#define W_DOC "<w:document xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\"><w:body>"
#define W_END "<w:p><w:r><w:t>Visible text</w:t></w:r></w:p></w:body></w:document>"
#define O_DOC                                                                                                   \
    "<office:document-content xmlns:office=\"urn:oasis:names:tc:opendocument:xmlns:office:1.0\" "               \
    "xmlns:text=\"urn:oasis:names:tc:opendocument:xmlns:text:1.0\"><office:body><office:text>"
#define O_END "<text:p>Visible text</text:p></office:text></office:body></office:document-content>"
#define XML_HEAD "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"

/* Extracts path: HH_E* refusals are fine (no secret in the message); a
 * success must show "Visible text" and neither the secret nor a billion
 * laughs. */
static void extract_safely(const char *path, const char *what)
{
    hh_doc_t d;
    hh_err_t e;
    hh_err_clear(&e);
    time_t t0 = time(NULL);
    int rc = hh_extract_file(path, NULL, &d, &e);
    ASSERT_LE(time(NULL) - t0, 10);   /* no billion-fold expansion */
    if (rc != 0) {
        printf("    %s: refused: %s\n", what, e.msg);
        ASSERT_TRUE(strstr(e.msg, "SECRETFILE") == NULL);
        return;
    }
    size_t total = 0;
    bool visible = false;
    for (size_t i = 0; i < d.n_blocks; i++) {
        const char *t = d.blocks[i].text ? d.blocks[i].text : "";
        total += strlen(t);
        if (strstr(t, "SECRETFILE"))
            printf("    %s: block %zu: %s\n", what, i, t);
        ASSERT_TRUE(strstr(t, "SECRETFILE") == NULL);   /* the local file was not read */
        visible = visible || strstr(t, "Visible text") != NULL;
    }
    printf("    %s: %zu blocks, %zu bytes of text\n", what, d.n_blocks, total);
    hh_doc_clear(&d);
    ASSERT_LE(total, 4096);   /* the laughs were not expanded */
    ASSERT_TRUE(visible);
}

TEST(threat_extract_xml_entities_not_loaded)
{
    char secret[600], path[700], xml[4096];
    snprintf(secret, sizeof secret, "%s/threat-xxe-secret.txt", hh_test_tmpdir());
    FILE *f = fopen(secret, "w");
    ASSERT_TRUE(f != NULL);
    fputs("SECRETFILE7731 the payroll password\n", f);
    ASSERT_EQ_INT(fclose(f), 0);
    const char *types = "<?xml version=\"1.0\"?><Types xmlns=\"http://schemas.openxmlformats.org/package/2006/"
                        "content-types\"><Default Extension=\"xml\" ContentType=\"application/xml\"/></Types>";
    const char *dn[2] = { "[Content_Types].xml", "word/document.xml" };
    const char *on[2] = { "mimetype", "content.xml" };
    for (int k = 0; k < 4; k++) {
        bool odt = k >= 2, laughs = k % 2;
        if (!odt && !laughs)
            snprintf(xml, sizeof xml, XML_HEAD XXE_FILE("w:document") W_DOC
                     "<w:p><w:r><w:t>before &xxe; after</w:t></w:r></w:p>" W_END, secret);
        else if (!odt)
            snprintf(xml, sizeof xml, "%s", XML_HEAD XXE_LAUGHS("w:document") W_DOC
                     "<w:p><w:r><w:t>laughs &i;</w:t></w:r></w:p>" W_END);
        else if (!laughs)
            snprintf(xml, sizeof xml, XML_HEAD XXE_FILE("office:document-content") O_DOC
                     "<text:p>before &xxe; after</text:p>" O_END, secret);
        else
            snprintf(xml, sizeof xml, "%s", XML_HEAD XXE_LAUGHS("office:document-content") O_DOC
                     "<text:p>laughs &i;</text:p>" O_END);
        const char *data[2] = { odt ? "application/vnd.oasis.opendocument.text" : types, xml };
        snprintf(path, sizeof path, "%s/threat-xxe-%d.%s", hh_test_tmpdir(), k, odt ? "odt" : "docx");
        ASSERT_TRUE(zip_of(path, odt ? on : dn, data, 2));
        char what[32];
        snprintf(what, sizeof what, "%s %s", odt ? "odt" : "docx", laughs ? "laughs" : "file entity");
        extract_safely(path, what);
    }
}
