/* test_audit_actions.c - every security-relevant action lands in the audit
 * chain (issue 12; docs/COMPLIANCE.md "Action records"): logins (success,
 * failure naming the name tried, lockout, login_busy), logout, refused
 * session cookies, document uploads / replacements / deletions and their
 * refusals by rights, register changes, approval and GDPR refusals over
 * HTTP (each with the acting user and the request id); and from the
 * command line the administrative commands with the operating-system user
 * ("cli:ACCOUNT") and, for `approvals --as`, whom they acted as. After a
 * mix of them `hoheit audit verify` still passes. Records are read back
 * through the JSONL export (hh_audit_export / `hoheit audit export`). */
#include "harness.h"
#include "http_helpers.h"
#include "govern/approvals.h"
#include "govern/audit.h"
#include "govern/register.h"
#include "store/store.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdarg.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- reading the records back -------------------------------------------- */

/* The records of an exported JSONL text as an array of objects {seq, kind,
 * decision, request_id, user, detail} (strings "" when absent). */
static cJSON *records_of(const char *jsonl)
{
    cJSON *arr = cJSON_CreateArray();
    for (const char *p = jsonl; p && *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        cJSON *line = cJSON_ParseWithLength(p, n);
        const cJSON *rec = cJSON_GetObjectItemCaseSensitive(line, "record");
        if (cJSON_IsString(rec) && !strcmp(hh_test_json_str(line, "kind"), "record")) {
            cJSON *r = cJSON_Parse(rec->valuestring);
            cJSON *o = cJSON_CreateObject();
            const cJSON *seq = cJSON_GetObjectItemCaseSensitive(r, "seq");
            cJSON_AddNumberToObject(o, "seq", cJSON_IsNumber(seq) ? seq->valuedouble : 0);
            const char *keys[] = { "kind", "decision", "request_id" };
            for (int i = 0; i < 3; i++) {
                const cJSON *v = cJSON_GetObjectItemCaseSensitive(r, keys[i]);
                cJSON_AddStringToObject(o, keys[i], cJSON_IsString(v) ? v->valuestring : "");
            }
            const char *beside[] = { "user", "detail" };
            for (int i = 0; i < 2; i++) {
                const cJSON *v = cJSON_GetObjectItemCaseSensitive(line, beside[i]);
                cJSON_AddStringToObject(o, beside[i], cJSON_IsString(v) ? v->valuestring : "");
            }
            cJSON_AddItemToArray(arr, o);
            cJSON_Delete(r);
        }
        cJSON_Delete(line);
        p = nl ? nl + 1 : NULL;
    }
    return arr;
}

/* The records of a running test server's store. */
static cJSON *srv_records(hh_test_srv_t *t)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    hh_err_t err;
    hh_err_clear(&err);
    int rc = hh_audit_export(t->st, 1, f, &err);
    fclose(f);
    cJSON *arr = rc == 0 ? records_of(buf) : NULL;
    if (rc)
        printf("    export: %s\n", err.msg);
    free(buf);
    return arr;
}

/* The records of data directory dir through `hoheit audit export`. */
static cJSON *cli_records(const char *dir)
{
    size_t cap = 4u << 20;
    char *out = malloc(cap), args[700];
    if (!out)
        return NULL;
    snprintf(args, sizeof args, "audit export --data '%s'", dir);
    cJSON *arr = hh_test_run_cli(args, NULL, false, out, cap) == 0 ? records_of(out) : NULL;
    free(out);
    return arr;
}

/* How many records match: kind, decision, user exactly (NULL: any) and
 * detail containing detail_part (NULL: any); *last (may be NULL) gets the
 * last match. */
static int count_recs(const cJSON *arr, const char *kind, const char *decision, const char *user,
                      const char *detail_part, const cJSON **last)
{
    int n = 0;
    const cJSON *o;
    if (last)
        *last = NULL;
    cJSON_ArrayForEach(o, arr) {
        if ((kind && strcmp(hh_test_json_str(o, "kind"), kind)) ||
            (decision && strcmp(hh_test_json_str(o, "decision"), decision)) ||
            (user && strcmp(hh_test_json_str(o, "user"), user)) ||
            (detail_part && !strstr(hh_test_json_str(o, "detail"), detail_part)))
            continue;
        n++;
        if (last)
            *last = o;
    }
    return n;
}

/* Prints the records (when a test fails, what was there). */
static void dump_recs(const cJSON *arr)
{
    const cJSON *o;
    cJSON_ArrayForEach(o, arr)
        printf("    #%d %s %s user=%s rid=%s: %s\n", (int)cJSON_GetObjectItem(o, "seq")->valuedouble,
               hh_test_json_str(o, "kind"), hh_test_json_str(o, "decision"), hh_test_json_str(o, "user"),
               hh_test_json_str(o, "request_id"), hh_test_json_str(o, "detail"));
}

/* Asserts exactly one match of (kind, decision, user, detail part); fills
 * *rec with it. Returns from the test on failure. */
#define ASSERT_ONE(arr, kind, decision, user, part, rec)                                         \
    do {                                                                                         \
        const char *_u = (user), *_p = (part);                                                   \
        int _n = count_recs((arr), (kind), (decision), _u, _p, (rec));                           \
        if (_n != 1) {                                                                           \
            dump_recs(arr);                                                                      \
            hh_test_fail(__FILE__, __LINE__, "one %s/%s record of %s with '%s': got %d", (kind), \
                         (decision), _u ? _u : "*", _p ? _p : "*", _n);                          \
            return;                                                                              \
        }                                                                                        \
    } while (0)

/* The X-Request-Id of an answer. */
static const char *rid_of(const hh_test_resp_t *r, char *buf, size_t cap)
{
    return hh_test_resp_header(r, "X-Request-Id", buf, cap);
}

/* ---- logins ----------------------------------------------------------------- */

#define PW_LENA "correct horse battery"

static int login_req(int port, const char *user, const char *pw, hh_test_resp_t *r)
{
    char body[300];
    snprintf(body, sizeof body, "{\"username\":\"%s\",\"password\":\"%s\"}", user, pw);
    hh_test_req_t q = { .method = "POST", .path = "/api/login", .body = body };
    return hh_test_http_req(port, &q, r) == 0 ? r->status : -1;
}

/* On main no login, failure, lockout or logout reached the chain. */
TEST(audit_actions_http_login_failure_locked_success_logout)
{
    hh_test_srv_params_t p = { .http = hh_http_default_params() };
    p.http.embed_model = "none";
    p.http.engine.n_slots = 1;
    p.http.engine.n_threads = 1;
    p.http.retention_interval_s = 0;
    p.http.login_max_failures = 2;
    hh_test_srv_t t;
    ASSERT_OK(hh_test_srv_start(&t, "auditact-login", &p));
    hh_err_t err;
    hh_err_clear(&err);
    ASSERT_OK(hh_test_srv_user(&t, "lena", "member", NULL, NULL));
    ASSERT_OK(hh_store_user_set_password(t.st, "lena", PW_LENA, &err));
    hh_test_resp_t r;
    char rid[80];

    /* wrong password and unknown user: one "failure" shape, naming the name tried */
    ASSERT_EQ_INT(login_req(t.port, "lena", "wrong password!", &r), 401);
    hh_test_resp_free(&r);
    ASSERT_EQ_INT(login_req(t.port, "ghost", "wrong password!", &r), 401);
    rid_of(&r, rid, sizeof rid);
    hh_test_resp_free(&r);
    cJSON *recs = srv_records(&t);
    const cJSON *a = NULL, *b = NULL;
    ASSERT_ONE(recs, "auth", "failure", "lena", NULL, &a);
    ASSERT_ONE(recs, "auth", "failure", "ghost", NULL, &b);
    ASSERT_STREQ(hh_test_json_str(a, "detail"), "login failed from 127.0.0.1");
    ASSERT_STREQ(hh_test_json_str(b, "detail"), hh_test_json_str(a, "detail"));   /* nothing tells them apart */
    ASSERT_STREQ(hh_test_json_str(b, "request_id"), rid);
    cJSON_Delete(recs);

    /* the second failure locks ghost: one "locked" record, however often it knocks */
    ASSERT_EQ_INT(login_req(t.port, "ghost", "wrong password!", &r), 401);
    hh_test_resp_free(&r);
    for (int i = 0; i < 3; i++) {
        ASSERT_EQ_INT(login_req(t.port, "ghost", "wrong password!", &r), 429);
        ASSERT_STREQ(hh_test_resp_err_code(&r), "too_many_login_attempts");
        hh_test_resp_free(&r);
    }
    recs = srv_records(&t);
    ASSERT_ONE(recs, "auth", "locked", "ghost", "login refused from 127.0.0.1: too many failed logins", NULL);
    ASSERT_EQ_INT(count_recs(recs, "auth", "failure", "ghost", NULL, NULL), 2);
    cJSON_Delete(recs);

    /* success (lena has one failure left) and logout */
    ASSERT_EQ_INT(login_req(t.port, "lena", PW_LENA, &r), 200);
    rid_of(&r, rid, sizeof rid);
    char sc[512], cookie[HH_SESSION_TOKEN_LEN + 1], csrf[HH_SESSION_TOKEN_LEN + 1];
    hh_test_resp_header(&r, "Set-Cookie", sc, sizeof sc);
    ASSERT_TRUE(!strncmp(sc, "hoheit_session=", 15));
    snprintf(cookie, sizeof cookie, "%.*s", (int)strcspn(sc + 15, ";"), sc + 15);
    snprintf(csrf, sizeof csrf, "%s", hh_test_json_str(r.j, "csrf_token"));
    hh_test_resp_free(&r);
    recs = srv_records(&t);
    ASSERT_ONE(recs, "auth", "success", "lena", "login from 127.0.0.1", &a);
    ASSERT_STREQ(hh_test_json_str(a, "request_id"), rid);
    cJSON_Delete(recs);

    /* a session cookie without its CSRF token: refused and recorded */
    char headers[600];
    snprintf(headers, sizeof headers, "Cookie: hoheit_session=%s", cookie);
    hh_test_req_t q = { .method = "DELETE", .path = "/api/documents/1", .headers = headers };
    ASSERT_OK(hh_test_http_req(t.port, &q, &r));
    ASSERT_EQ_INT(r.status, 403);
    ASSERT_STREQ(hh_test_resp_err_code(&r), "csrf_failed");
    hh_test_resp_free(&r);
    snprintf(headers, sizeof headers, "Cookie: hoheit_session=%s\r\nX-CSRF-Token: %s", cookie, csrf);
    q = (hh_test_req_t){ .method = "POST", .path = "/api/logout", .headers = headers };
    ASSERT_OK(hh_test_http_req(t.port, &q, &r));
    ASSERT_EQ_INT(r.status, 200);
    rid_of(&r, rid, sizeof rid);
    hh_test_resp_free(&r);
    recs = srv_records(&t);
    ASSERT_ONE(recs, "auth", "refused", "lena", "session request refused: csrf_failed (DELETE /api/documents/{id})",
               NULL);
    ASSERT_ONE(recs, "auth", "done", "lena", "logout", &a);
    ASSERT_STREQ(hh_test_json_str(a, "request_id"), rid);
    cJSON_Delete(recs);
    hh_audit_verify_result_t vr;
    ASSERT_OK(hh_audit_verify_store(t.st, NULL, &vr, &err));
    ASSERT_TRUE(vr.ok);
    hh_test_srv_stop(&t);
}

typedef struct busy_arg {
    int              port;
    pthread_barrier_t *bar;
    int              status;
    char             code[48];
} busy_arg_t;

static void *busy_one(void *p)
{
    busy_arg_t *a = p;
    pthread_barrier_wait(a->bar);
    hh_test_resp_t r;
    a->status = login_req(a->port, "lena", "wrong password!", &r);
    snprintf(a->code, sizeof a->code, "%s", a->status > 0 ? hh_test_resp_err_code(&r) : "(none)");
    hh_test_resp_free(&r);
    return NULL;
}

/* login_busy: recorded, but at most once a second however many there are. */
TEST(audit_actions_http_login_busy_recorded_once_a_second)
{
    hh_test_srv_params_t p = { .http = hh_http_default_params() };
    p.http.embed_model = "none";
    p.http.engine.n_slots = 1;
    p.http.engine.n_threads = 1;
    p.http.retention_interval_s = 0;
    p.http.login_max_failures = 1000;
    p.http.login_max_failures_addr = 1000;
    p.http.login_hash_slots = 1;
    p.http.login_hash_wait_ms = 1;
    hh_test_srv_t t;
    ASSERT_OK(hh_test_srv_start(&t, "auditact-busy", &p));
    hh_err_t err;
    hh_err_clear(&err);
    ASSERT_OK(hh_test_srv_user(&t, "lena", "member", NULL, NULL));
    ASSERT_OK(hh_store_user_set_password(t.st, "lena", PW_LENA, &err));
    enum { N = 16 };
    busy_arg_t args[N];
    pthread_t th[N];
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, N);
    for (int i = 0; i < N; i++) {
        args[i] = (busy_arg_t){ .port = t.port, .bar = &bar };
        ASSERT_OK(pthread_create(&th[i], NULL, busy_one, &args[i]));
    }
    int busy = 0, failed = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        busy += args[i].status == 429 && !strcmp(args[i].code, "login_busy");
        failed += args[i].status == 401;
    }
    pthread_barrier_destroy(&bar);
    printf("    %d x 401, %d x login_busy\n", failed, busy);
    ASSERT_EQ_INT(busy + failed, N);
    ASSERT_GE(busy, 1);
    cJSON *recs = srv_records(&t);
    int n_busy = count_recs(recs, "auth", "busy", "lena", "login_busy from 127.0.0.1: no hash slot free in time", NULL);
    ASSERT_GE(n_busy, 1);
    ASSERT_LE(n_busy, busy);
    ASSERT_EQ_INT(count_recs(recs, "auth", "failure", "lena", NULL, NULL), failed);
    /* the burst took far less than N seconds: not one record per busy answer */
    if (busy >= 4)
        ASSERT_TRUE(n_busy < busy);
    cJSON_Delete(recs);
    hh_test_srv_stop(&t);
}

/* ---- documents -------------------------------------------------------------- */

/* Uploads, replacement, deletion with user and request id; refused
 * uploads and deletions (no right, read only, missing) recorded as
 * "refused" while the answers stay what they were (a foreign object and a
 * missing one answer alike). On main none of these were recorded. */
TEST(audit_actions_http_documents_upload_replace_delete_refused)
{
    hh_test_srv_params_t p = hh_test_srv_default_params();
    p.models[0] = NULL;
    p.http.embed_model = "none";
    hh_test_srv_t t;
    ASSERT_OK(hh_test_srv_start(&t, "auditact-docs", &p));
    hh_err_t err;
    hh_err_clear(&err);
    char sam[HH_KEY_LEN + 1], rita[HH_KEY_LEN + 1], eve[HH_KEY_LEN + 1];
    ASSERT_OK(hh_test_srv_user(&t, "sam", "member", sam, NULL));
    ASSERT_OK(hh_test_srv_user(&t, "rita", "member", rita, NULL));
    ASSERT_OK(hh_test_srv_user(&t, "eve", "member", eve, NULL));
    ASSERT_OK(hh_store_user_add_department(t.st, "sam", "Sales", &err));
    ASSERT_OK(hh_store_user_add_department(t.st, "rita", "Ops", &err));
    ASSERT_OK(hh_store_user_add_department(t.st, "eve", "Legal", &err));
    const char *depts[] = { "Sales", "Ops" };
    hh_store_collection_t c;
    ASSERT_OK(hh_store_collection_ensure(t.st, "kb", depts, 2, &c, &err));
    ASSERT_OK(hh_store_collection_grant(t.st, "kb", "Sales", HH_RIGHT_MANAGE, NULL, &err));
    hh_store_collection_t other;
    ASSERT_OK(hh_store_collection_ensure(t.st, "legal-only", (const char *[]){ "Legal" }, 1, &other, &err));

    hh_test_resp_t r;
    char rid[80], part[200];
    ASSERT_OK(hh_test_http_upload(t.port, sam, "kb", "memo.md", "# Memo\n\nThe first version.\n", &r));
    ASSERT_EQ_INT(r.status, 201);
    int64_t first = (int64_t)cJSON_GetObjectItem(r.j, "id")->valuedouble;
    rid_of(&r, rid, sizeof rid);
    hh_test_resp_free(&r);
    cJSON *recs = srv_records(&t);
    const cJSON *a = NULL;
    snprintf(part, sizeof part, "documents upload kb: upload:memo.md -> document %lld (added;", (long long)first);
    ASSERT_ONE(recs, "admin", "done", "sam", part, &a);
    ASSERT_STREQ(hh_test_json_str(a, "request_id"), rid);
    cJSON_Delete(recs);

    /* the same name again with other bytes: a replacement naming the one it replaced */
    ASSERT_OK(hh_test_http_upload(t.port, sam, "kb", "memo.md", "# Memo\n\nThe second version.\n", &r));
    ASSERT_EQ_INT(r.status, 201);
    int64_t second = (int64_t)cJSON_GetObjectItem(r.j, "id")->valuedouble;
    hh_test_resp_free(&r);
    recs = srv_records(&t);
    snprintf(part, sizeof part, "-> document %lld (replaces document %lld;", (long long)second, (long long)first);
    ASSERT_ONE(recs, "admin", "done", "sam", part, NULL);
    cJSON_Delete(recs);

    /* refused uploads: read only (403), foreign and missing collections (404, one answer) */
    ASSERT_OK(hh_test_http_upload(t.port, rita, "kb", "x.md", "# x\n", &r));
    ASSERT_EQ_INT(r.status, 403);
    hh_test_resp_free(&r);
    hh_test_resp_t r1, r2;
    ASSERT_OK(hh_test_http_upload(t.port, eve, "kb", "x.md", "# x\n", &r1));
    ASSERT_OK(hh_test_http_upload(t.port, eve, "nope", "x.md", "# x\n", &r2));
    ASSERT_EQ_INT(r1.status, 404);
    ASSERT_EQ_INT(r2.status, 404);
    ASSERT_STREQ(r1.body, r2.body);
    hh_test_resp_free(&r1);
    hh_test_resp_free(&r2);
    recs = srv_records(&t);
    ASSERT_ONE(recs, "admin", "refused", "rita", "documents upload to kb: read only (needs write)", NULL);
    ASSERT_ONE(recs, "admin", "refused", "eve", "documents upload to kb: no right on the collection", NULL);
    ASSERT_ONE(recs, "admin", "refused", "eve", "documents upload to nope: no such collection", NULL);
    cJSON_Delete(recs);

    /* refused deletions: foreign and missing alike (404), read only 403 */
    char path[64], path2[64];
    snprintf(path, sizeof path, "/api/documents/%lld", (long long)second);
    snprintf(path2, sizeof path2, "/api/documents/%lld", (long long)second + 1000);
    ASSERT_OK(hh_test_http(t.port, "DELETE", path, eve, NULL, &r1));
    ASSERT_OK(hh_test_http(t.port, "DELETE", path2, eve, NULL, &r2));
    ASSERT_EQ_INT(r1.status, 404);
    ASSERT_EQ_INT(r2.status, 404);
    ASSERT_STREQ(r1.body, r2.body);
    hh_test_resp_free(&r1);
    hh_test_resp_free(&r2);
    ASSERT_OK(hh_test_http(t.port, "DELETE", path, rita, NULL, &r));
    ASSERT_EQ_INT(r.status, 403);
    hh_test_resp_free(&r);
    /* sam deletes, naming his request id */
    hh_test_req_t q = { .method = "DELETE", .path = path, .key = sam, .headers = "X-Request-Id: audit-del-0001" };
    ASSERT_OK(hh_test_http_req(t.port, &q, &r));
    ASSERT_EQ_INT(r.status, 200);
    hh_test_resp_free(&r);
    recs = srv_records(&t);
    snprintf(part, sizeof part, "documents delete %lld (kb): no right on the collection", (long long)second);
    ASSERT_ONE(recs, "admin", "refused", "eve", part, NULL);
    snprintf(part, sizeof part, "documents delete %lld: no such document", (long long)second + 1000);
    ASSERT_ONE(recs, "admin", "refused", "eve", part, NULL);
    snprintf(part, sizeof part, "documents delete %lld (kb): read (needs manage)", (long long)second);
    ASSERT_ONE(recs, "admin", "refused", "rita", part, NULL);
    snprintf(part, sizeof part, "documents delete %lld (kb: upload:memo.md, sha256 ", (long long)second);
    ASSERT_ONE(recs, "admin", "done", "sam", part, &a);
    ASSERT_STREQ(hh_test_json_str(a, "request_id"), "audit-del-0001");
    cJSON_Delete(recs);
    hh_audit_verify_result_t vr;
    ASSERT_OK(hh_audit_verify_store(t.st, NULL, &vr, &err));
    ASSERT_TRUE(vr.ok);
    hh_test_srv_stop(&t);
}

/* ---- register, approvals, GDPR over HTTP ------------------------------------ */

#define UC_CREDIT "{\"slug\":\"credit\",\"purpose\":\"test purpose\",\"answers\":{}}"
#define UC_MEMO "{\"slug\":\"memo-drafts\",\"name\":\"Memo drafts\",\"purpose\":\"Draft internal memos\",\"answers\":{}}"

/* On main register changes over HTTP, refused register / GDPR / sweep
 * attempts, approval refusals and a manual sweep left no record, and the
 * decision record had no request id. */
TEST(audit_actions_http_register_approvals_gdpr)
{
    hh_test_srv_params_t p = hh_test_srv_default_params();
    p.models[0] = NULL;
    p.http.embed_model = "none";
    hh_test_srv_t t;
    ASSERT_OK(hh_test_srv_start(&t, "auditact-reg", &p));
    hh_err_t err;
    hh_err_clear(&err);
    char root[HH_KEY_LEN + 1], mia[HH_KEY_LEN + 1], anna[HH_KEY_LEN + 1];
    ASSERT_OK(hh_test_srv_user(&t, "root", "admin", root, NULL));
    ASSERT_OK(hh_test_srv_user(&t, "mia", "member", mia, NULL));
    ASSERT_OK(hh_test_srv_user(&t, "anna", "approver", anna, NULL));
    hh_test_resp_t r;
    char rid[80];

    ASSERT_OK(hh_test_http(t.port, "POST", "/api/usecases", mia, UC_MEMO, &r));
    ASSERT_EQ_INT(r.status, 403);
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(t.port, "POST", "/api/usecases", root, UC_MEMO, &r));
    ASSERT_EQ_INT(r.status, 201);
    rid_of(&r, rid, sizeof rid);
    hh_test_resp_free(&r);
    cJSON *recs = srv_records(&t);
    const cJSON *a = NULL;
    ASSERT_ONE(recs, "admin", "refused", "mia", "POST /api/usecases: role member (needs admins)", NULL);
    ASSERT_ONE(recs, "admin", "done", "root", "register add memo-drafts (risk ", &a);
    ASSERT_STREQ(hh_test_json_str(a, "request_id"), rid);
    cJSON_Delete(recs);
    ASSERT_OK(hh_test_http(t.port, "PUT", "/api/usecases/memo-drafts", root, "{\"disabled\":true}", &r));
    ASSERT_EQ_INT(r.status, 200);
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(t.port, "DELETE", "/api/usecases/memo-drafts", mia, NULL, &r));
    ASSERT_EQ_INT(r.status, 403);
    hh_test_resp_free(&r);

    /* approvals: a member may not decide; the requester may not decide her own;
     * an unknown id is refused as a foreign one would be; the decision names the request id */
    cJSON *ucj = cJSON_Parse(UC_CREDIT);
    ASSERT_OK(hh_register_create(t.st, ucj, "root", NULL, &err));
    cJSON_Delete(ucj);
    int64_t own = 0, other = 0;
    ASSERT_OK(hh_approvals_create(t.st, "credit", false, "anna", "{\"model\":\"m\",\"prompt\":\"a\"}", "draft", &own,
                                  &err));
    ASSERT_OK(hh_approvals_create(t.st, "credit", false, "mia", "{\"model\":\"m\",\"prompt\":\"b\"}", "draft", &other,
                                  &err));
    char path[80];
    snprintf(path, sizeof path, "/api/approvals/%lld/approve", (long long)other);
    ASSERT_OK(hh_test_http(t.port, "POST", path, mia, "{}", &r));
    ASSERT_EQ_INT(r.status, 403);
    hh_test_resp_free(&r);
    snprintf(path, sizeof path, "/api/approvals/%lld/approve", (long long)own);
    ASSERT_OK(hh_test_http(t.port, "POST", path, anna, "{}", &r));
    ASSERT_EQ_INT(r.status, 403);
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(t.port, "POST", "/api/approvals/99999/approve", anna, "{}", &r));
    ASSERT_EQ_INT(r.status, 404);
    hh_test_resp_free(&r);
    snprintf(path, sizeof path, "/api/approvals/%lld/approve", (long long)other);
    hh_test_req_t q = { .method = "POST", .path = path, .key = anna, .body = "{}",
                        .headers = "X-Request-Id: audit-approve-01" };
    ASSERT_OK(hh_test_http_req(t.port, &q, &r));
    ASSERT_EQ_INT(r.status, 200);
    hh_test_resp_free(&r);

    /* GDPR and the sweep: refused for a member, the admin's sweep recorded */
    ASSERT_OK(hh_test_http(t.port, "POST", "/api/gdpr/export", mia, "{\"subjects\":[\"mia\"]}", &r));
    ASSERT_EQ_INT(r.status, 403);
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(t.port, "POST", "/api/gdpr/erase", mia, "{\"subjects\":[\"anna\"],\"confirm\":true}", &r));
    ASSERT_EQ_INT(r.status, 403);
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(t.port, "POST", "/api/retention/sweep", root, NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(t.port, "DELETE", "/api/usecases/memo-drafts", root, NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    hh_test_resp_free(&r);

    recs = srv_records(&t);
    ASSERT_ONE(recs, "admin", "done", "root", "register update memo-drafts (risk ", &a);
    ASSERT_TRUE(strstr(hh_test_json_str(a, "detail"), "; disabled)") != NULL);
    ASSERT_ONE(recs, "admin", "refused", "mia", "DELETE /api/usecases/memo-drafts: role member (needs admins)", NULL);
    ASSERT_ONE(recs, "admin", "done", "root", "register delete memo-drafts", NULL);
    char part[160];
    snprintf(part, sizeof part, "POST /api/approvals/%lld/approve: role member", (long long)other);
    ASSERT_ONE(recs, "admin", "refused", "mia", part, NULL);
    snprintf(part, sizeof part, "approvals approve %lld: four-eyes", (long long)own);
    ASSERT_ONE(recs, "admin", "refused", "anna", part, NULL);
    ASSERT_ONE(recs, "admin", "refused", "anna", "approvals approve 99999: no such approval", NULL);
    ASSERT_ONE(recs, "approval", "approved", "anna", NULL, &a);
    ASSERT_STREQ(hh_test_json_str(a, "request_id"), "audit-approve-01");
    ASSERT_ONE(recs, "admin", "refused", "mia", "POST /api/gdpr/export: role member (needs admins)", NULL);
    ASSERT_ONE(recs, "admin", "refused", "mia", "POST /api/gdpr/erase: role member (needs admins)", NULL);
    ASSERT_ONE(recs, "admin", "done", "root", "retention sweep (HTTP): ", NULL);
    cJSON_Delete(recs);
    hh_audit_verify_result_t vr;
    ASSERT_OK(hh_audit_verify_store(t.st, NULL, &vr, &err));
    ASSERT_TRUE(vr.ok);
    hh_test_srv_stop(&t);
}

/* ---- the command line ------------------------------------------------------- */

/* "cli:ACCOUNT" as the binary computes it: SUDO_USER, else the euid's name. */
static void os_actor(char *out, size_t cap)
{
    const char *sudo = getenv("SUDO_USER");
    const struct passwd *pw = getpwuid(geteuid());
    snprintf(out, cap, "cli:%s", sudo && sudo[0] ? sudo : pw && pw->pw_name ? pw->pw_name : "unknown");
}

static int cli(const char *stdin_line, char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int cli(const char *stdin_line, char *out, size_t cap, const char *fmt, ...)
{
    char args[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    return hh_test_run_cli(args, stdin_line, true, out, cap);
}

/* Every administrative command records the OS user who ran it; on main
 * keys, passwords, collection creation, ingest, quota, retention,
 * register defaults and audit exports left no record and GDPR records
 * said "cli". Then `hoheit audit verify` passes. */
TEST(audit_actions_cli_admin_commands_name_the_os_user)
{
    if (!getenv("HOHEIT_BIN")) SKIP("HOHEIT_BIN is not set (run through `make test`)");
    char dir[512], file[700], out[8192], me[200], want[128];
    snprintf(dir, sizeof dir, "%s/auditact-cli", hh_test_tmpdir());
    mkdir(dir, 0700);
    snprintf(file, sizeof file, "%s/note.md", dir);
    FILE *f = fopen(file, "w");
    ASSERT_TRUE(f != NULL);
    fputs("# Note\n\nQuarterly numbers are in the shared folder.\n", f);
    fclose(f);
    os_actor(me, sizeof me);

    ASSERT_EQ_INT(cli(NULL, out, sizeof out, "keys create --user root --role admin --data '%s'", dir), 0);
    /* the key's id (random, issue 12): "key <id> (<prefix>) for root" */
    long long key_id = 0;
    const char *kl = strstr(out, "key ");
    ASSERT_TRUE(kl && sscanf(kl, "key %lld (", &key_id) == 1 && key_id > 0);
    ASSERT_EQ_INT(cli(PW_LENA, out, sizeof out, "users passwd lena --role member --password-stdin --data '%s'", dir), 0);
    ASSERT_EQ_INT(cli(PW_LENA, out, sizeof out, "users passwd lena --password-stdin --data '%s'", dir), 0);
    ASSERT_EQ_INT(cli(NULL, out, sizeof out, "users role lena approver --data '%s'", dir), 0);
    ASSERT_EQ_INT(cli(NULL, out, sizeof out, "users disable lena --data '%s'", dir), 0);
    ASSERT_EQ_INT(cli(NULL, out, sizeof out, "users enable lena --data '%s'", dir), 0);
    ASSERT_EQ_INT(cli(NULL, out, sizeof out, "departments add-user lena Sales --create --data '%s'", dir), 0);
    ASSERT_EQ_INT(cli(NULL, out, sizeof out, "collections create kb --departments Sales --data '%s'", dir), 0);
    ASSERT_EQ_INT(cli(NULL, out, sizeof out, "collections grant kb Ops write --create --data '%s'", dir), 0);
    ASSERT_EQ_INT(cli(NULL, out, sizeof out, "ingest '%s' --collection kb --data '%s'", file, dir), 0);
    /* the new document's id (random, issue 12): "added  <chunks> <id>  <path>" */
    long long doc = 0;
    ASSERT_EQ_INT(sscanf(out, "%*s %*u %lld", &doc), 1);
    ASSERT_TRUE(doc > 0);
    ASSERT_EQ_INT(cli(NULL, out, sizeof out, "documents delete %lld --yes --data '%s'", doc, dir), 0);
    ASSERT_EQ_INT(cli(NULL, out, sizeof out, "quota set --user lena --tokens-per-day 1000 --data '%s'", dir), 0);
    ASSERT_EQ_INT(cli(NULL, out, sizeof out, "quota clear --user lena --data '%s'", dir), 0);
    ASSERT_EQ_INT(cli(NULL, out, sizeof out, "retention set kb 30 --data '%s'", dir), 0);
    ASSERT_EQ_INT(cli(NULL, out, sizeof out, "register default - --user lena --data '%s'", dir), 0);
    ASSERT_EQ_INT(cli(NULL, out, sizeof out, "keys revoke %lld --data '%s'", key_id, dir), 0);
    ASSERT_EQ_INT(cli(NULL, out, sizeof out, "gdpr export --subject lena --out '%s/export.json' --data '%s'", dir, dir),
                  0);

    cJSON *recs = cli_records(dir);
    ASSERT_TRUE(recs != NULL);
    snprintf(want, sizeof want, "keys create %lld (hk_", key_id);
    ASSERT_ONE(recs, "admin", "done", me, want, NULL);
    ASSERT_ONE(recs, "admin", "done", me, "for root (admin); user created", NULL);
    ASSERT_ONE(recs, "admin", "done", me, "users passwd lena: user created (member), password set", NULL);
    ASSERT_ONE(recs, "admin", "done", me, "users passwd lena: password set, sessions ended", NULL);
    ASSERT_ONE(recs, "admin", "done", me, "users role lena: member -> approver", NULL);
    ASSERT_ONE(recs, "admin", "done", me, "users disable lena", NULL);
    ASSERT_ONE(recs, "admin", "done", me, "users enable lena", NULL);
    ASSERT_ONE(recs, "admin", "done", me, "departments add-user lena Sales; department created", NULL);
    ASSERT_ONE(recs, "admin", "done", me, "collections create kb: rights Sales:read", NULL);
    ASSERT_ONE(recs, "admin", "done", me, "collections grant kb Ops write (was none); department created", NULL);
    const cJSON *a = NULL;
    /* the stored source path is the absolute one; the test dir may hold a symlink */
    snprintf(want, sizeof want, "-> document %lld (added; ", doc);
    ASSERT_EQ_INT(count_recs(recs, "admin", "done", me, want, &a), 1);
    ASSERT_TRUE(!strncmp(hh_test_json_str(a, "detail"), "ingest kb: /", 12));
    snprintf(want, sizeof want, "note.md -> document %lld (added; 1 chunks, sha256 ", doc);
    ASSERT_TRUE(strstr(hh_test_json_str(a, "detail"), want) != NULL);
    snprintf(want, sizeof want, "documents delete %lld (kb: ", doc);
    ASSERT_ONE(recs, "admin", "done", me, want, NULL);
    ASSERT_ONE(recs, "admin", "done", me,
               "quota set user lena: tokens/day 1000, tokens/month kept, requests/minute kept, concurrent kept", NULL);
    ASSERT_ONE(recs, "admin", "done", me, "quota clear user lena", NULL);
    ASSERT_ONE(recs, "admin", "done", me, "retention set kb 30 days", NULL);
    ASSERT_ONE(recs, "admin", "done", me, "register default user lena: (none: general)", NULL);
    snprintf(want, sizeof want, "keys revoke %lld", key_id);
    ASSERT_ONE(recs, "admin", "done", me, want, NULL);
    ASSERT_ONE(recs, "export", "exported", me, "data-subject export", NULL);
    /* the export that read them is in its own output */
    ASSERT_ONE(recs, "admin", "done", me, "audit export from seq 1 (CLI)", NULL);
    cJSON_Delete(recs);
    ASSERT_EQ_INT(cli(NULL, out, sizeof out, "audit verify --data '%s'", dir), 0);
}

/* `approvals approve --as NAME`: the record names the OS user and whom
 * they acted as; the decision record names the --as user (already so on
 * main). A GDPR erasure from the command line names the OS user too (on
 * main: "cli"). */
TEST(audit_actions_cli_approvals_as_and_erasure_name_the_os_user)
{
    if (!getenv("HOHEIT_BIN")) SKIP("HOHEIT_BIN is not set (run through `make test`)");
    char dir[512], out[8192], me[200], part[300];
    snprintf(dir, sizeof dir, "%s/auditact-cli-as", hh_test_tmpdir());
    mkdir(dir, 0700);
    os_actor(me, sizeof me);
    hh_store_t *s = NULL;
    hh_err_t err;
    hh_err_clear(&err);
    ASSERT_OK(hh_store_open(&s, dir, &err));
    ASSERT_OK(hh_store_user_ensure(s, "mia", "member", NULL, NULL, &err));
    ASSERT_OK(hh_store_user_ensure(s, "anna", "approver", NULL, NULL, &err));
    cJSON *ucj = cJSON_Parse(UC_CREDIT);
    ASSERT_OK(hh_register_create(s, ucj, "root", NULL, &err));
    cJSON_Delete(ucj);
    int64_t id = 0;
    ASSERT_OK(hh_approvals_create(s, "credit", false, "mia", "{\"model\":\"m\",\"prompt\":\"a\"}", "draft", &id,
                                  &err));
    hh_store_close(s);
    ASSERT_EQ_INT(cli(NULL, out, sizeof out, "approvals approve %lld --as anna --data '%s'", (long long)id, dir), 0);
    ASSERT_EQ_INT(cli(NULL, out, sizeof out, "users role mia auditor --data '%s'", dir), 0);
    ASSERT_EQ_INT(cli(NULL, out, sizeof out, "gdpr erase --subject olaf@example.com --yes --data '%s'", dir), 0);
    cJSON *recs = cli_records(dir);
    ASSERT_TRUE(recs != NULL);
    snprintf(part, sizeof part, "approvals approve %lld as anna", (long long)id);
    ASSERT_ONE(recs, "admin", "done", me, part, NULL);
    ASSERT_ONE(recs, "approval", "approved", "anna", NULL, NULL);
    ASSERT_ONE(recs, "admin", "done", me, "users role mia: member -> auditor", NULL);
    ASSERT_ONE(recs, "erasure", "erased", me, NULL, NULL);
    cJSON_Delete(recs);
    ASSERT_EQ_INT(cli(NULL, out, sizeof out, "audit verify --data '%s'", dir), 0);
}
