/* test_admin_api.c - the administration API (src/http/admin.c) against a
 * real server and store: every route's happy path with its values, the
 * roles (member, approver and auditor keys refused on admin changes), a
 * collection manager who may set rights on their collection but not on
 * another department's (which answers exactly like a missing one), own
 * keys (another user's key cannot be revoked: 404), a new key shown once,
 * password reset and change ending sessions, the last-admin guard and the
 * audit records each change and refusal leaves. */
#include "harness.h"
#include "http_helpers.h"
#include "store/store_int.h"

#include <cjson/cJSON.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- helpers ---------------------------------------------------------------- */

/* "admin" audit records whose detail is LIKE pattern, by user (NULL: any)
 * with decision ("done" / "refused"). */
static int64_t audit_count(hh_store_t *s, const char *user, const char *pattern, const char *decision)
{
    sqlite3_stmt *st = NULL;
    int64_t v = -1;
    char dec[64];
    snprintf(dec, sizeof dec, "\"decision\":\"%s\"", decision);
    pthread_mutex_lock(&s->mu);
    if (sqlite3_prepare_v2(s->db,
                           "SELECT COUNT(*) FROM audit_log WHERE detail LIKE ?1 AND (?2 IS NULL OR user_name = ?2) "
                           "AND instr(CAST(record AS TEXT), ?3) > 0 "
                           "AND instr(CAST(record AS TEXT), '\"kind\":\"admin\"') > 0",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, pattern, -1, SQLITE_TRANSIENT);
        if (user)
            sqlite3_bind_text(st, 2, user, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 3, dec, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(st) == SQLITE_ROW)
            v = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    return v;
}

/* The element of array data[] (of r->j) whose key k equals v, or NULL. */
static const cJSON *find_by(const cJSON *arr, const char *k, const char *v)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, arr) {
        const cJSON *x = cJSON_GetObjectItemCaseSensitive(it, k);
        if (cJSON_IsString(x) && !strcmp(x->valuestring, v))
            return it;
    }
    return NULL;
}

static const cJSON *data_of(const hh_test_resp_t *r)
{
    return cJSON_GetObjectItemCaseSensitive(r->j, "data");
}

/* An array of strings joined by ',' into out. */
static const char *joined(const cJSON *arr, char *out, size_t cap)
{
    size_t n = 0;
    out[0] = '\0';
    const cJSON *it;
    cJSON_ArrayForEach(it, arr) {
        if (n < cap)
            n += (size_t)snprintf(out + n, cap - n, "%s%s", n ? "," : "", cJSON_IsString(it) ? it->valuestring : "?");
    }
    return out;
}

static double num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

static int status_of(int port, const char *method, const char *path, const char *key, const char *body)
{
    hh_test_resp_t r;
    if (hh_test_http(port, method, path, key, body, &r) != 0)
        return -1;
    int st = r.status;
    hh_test_resp_free(&r);
    return st;
}

/* A request with a session cookie (and its CSRF token for changes). */
static int session_req(int port, const char *method, const char *path, const char *cookie, const char *csrf,
                       const char *body, hh_test_resp_t *out)
{
    char headers[512];
    snprintf(headers, sizeof headers, "Cookie: hoheit_session=%s\r\nX-CSRF-Token: %s", cookie, csrf ? csrf : "");
    hh_test_req_t q = { .method = method, .path = path, .body = body, .headers = headers };
    return hh_test_http_req(port, &q, out);
}

/* Logs user in with pw; 200 fills cookie and csrf (HH_SESSION_TOKEN_LEN + 1). */
static int login(int port, const char *user, const char *pw, char *cookie, char *csrf)
{
    char body[300];
    snprintf(body, sizeof body, "{\"username\":\"%s\",\"password\":\"%s\"}", user, pw);
    hh_test_resp_t r;
    if (hh_test_http(port, "POST", "/api/login", NULL, body, &r) != 0)
        return -1;
    int st = r.status;
    if (st == 200) {
        char sc[512];
        hh_test_resp_header(&r, "Set-Cookie", sc, sizeof sc);
        const char *v = strncmp(sc, "hoheit_session=", 15) == 0 ? sc + 15 : "";
        snprintf(cookie, HH_SESSION_TOKEN_LEN + 1, "%.*s", (int)strcspn(v, ";"), v);
        snprintf(csrf, HH_SESSION_TOKEN_LEN + 1, "%s", hh_test_json_str(r.j, "csrf_token"));
    }
    hh_test_resp_free(&r);
    return st;
}

/* A server with admin root, auditor aud, member mia, approver apu (keys),
 * departments Sales and IT. */
typedef struct admin_srv {
    hh_test_srv_t h;
    char root[HH_KEY_LEN + 1], aud[HH_KEY_LEN + 1], mia[HH_KEY_LEN + 1], apu[HH_KEY_LEN + 1];
} admin_srv_t;

static bool srv_start(admin_srv_t *t, const char *name)
{
    memset(t, 0, sizeof *t);
    char dir[128];
    snprintf(dir, sizeof dir, "admin-%s", name);
    if (hh_test_srv_start(&t->h, dir, NULL) != 0)
        return false;
    hh_err_t err;
    hh_err_clear(&err);
    bool ok = hh_test_srv_user(&t->h, "root", "admin", t->root, NULL) == 0 &&
              hh_test_srv_user(&t->h, "aud", "auditor", t->aud, NULL) == 0 &&
              hh_test_srv_user(&t->h, "mia", "member", t->mia, NULL) == 0 &&
              hh_test_srv_user(&t->h, "apu", "approver", t->apu, NULL) == 0 &&
              hh_store_department_ensure(t->h.st, "Sales", NULL, &err) == 0 &&
              hh_store_department_ensure(t->h.st, "IT", NULL, &err) == 0;
    if (!ok)
        printf("    setup: %s\n", err.msg);
    return ok;
}

/* ---- users ------------------------------------------------------------------ */

TEST(admin_api_users_create_patch_delete)
{
    admin_srv_t t;
    ASSERT_TRUE(srv_start(&t, "users"));
    int port = t.h.port;
    hh_test_resp_t r;
    ASSERT_OK(hh_test_http(port, "POST", "/api/admin/users", t.root,
                           "{\"name\":\"bob\",\"role\":\"member\",\"departments\":[\"sales\"],"
                           "\"password\":\"long enough pw\"}", &r));
    ASSERT_EQ_INT(r.status, 201);
    char buf[256];
    ASSERT_STREQ(hh_test_json_str(r.j, "name"), "bob");
    ASSERT_STREQ(hh_test_json_str(r.j, "role"), "member");
    ASSERT_STREQ(joined(cJSON_GetObjectItem(r.j, "departments"), buf, sizeof buf), "Sales");   /* stored spelling */
    ASSERT_TRUE(cJSON_IsTrue(cJSON_GetObjectItem(r.j, "has_password")));
    ASSERT_TRUE(cJSON_IsFalse(cJSON_GetObjectItem(r.j, "disabled")));
    ASSERT_TRUE(num(r.j, "created_at") > 1.7e9);
    ASSERT_TRUE(cJSON_IsNull(cJSON_GetObjectItem(r.j, "last_login")));
    char cc[64];
    ASSERT_STREQ(hh_test_resp_header(&r, "Cache-Control", cc, sizeof cc), "no-store");
    hh_test_resp_free(&r);
    char cookie[HH_SESSION_TOKEN_LEN + 1], csrf[HH_SESSION_TOKEN_LEN + 1];
    ASSERT_EQ_INT(login(port, "bob", "long enough pw", cookie, csrf), 200);   /* the password works */

    /* refusals: nothing is created */
    ASSERT_OK(hh_test_http(port, "POST", "/api/admin/users", t.root, "{\"name\":\"bob\",\"role\":\"member\"}", &r));
    ASSERT_EQ_INT(r.status, 409);
    ASSERT_STREQ(hh_test_resp_err_code(&r), "user_exists");
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(port, "POST", "/api/admin/users", t.root, "{\"name\":\"cy\",\"role\":\"boss\"}", &r));
    ASSERT_EQ_INT(r.status, 400);
    ASSERT_STREQ(hh_test_json_str(cJSON_GetObjectItem(r.j, "error"), "param"), "role");
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(port, "POST", "/api/admin/users", t.root, "{\"name\":\"c/y\",\"role\":\"member\"}", &r));
    ASSERT_EQ_INT(r.status, 400);
    ASSERT_STREQ(hh_test_json_str(cJSON_GetObjectItem(r.j, "error"), "param"), "name");
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(port, "POST", "/api/admin/users", t.root,
                           "{\"name\":\"cy\",\"role\":\"member\",\"departement\":[\"IT\"]}", &r));
    ASSERT_EQ_INT(r.status, 400);
    ASSERT_STREQ(hh_test_resp_err_code(&r), "unknown_field");
    ASSERT_STREQ(hh_test_json_str(cJSON_GetObjectItem(r.j, "error"), "param"), "departement");
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(port, "POST", "/api/admin/users", t.root,
                           "{\"name\":\"cy\",\"role\":\"member\",\"departments\":[\"Nowhere\"]}", &r));
    ASSERT_EQ_INT(r.status, 400);
    ASSERT_STREQ(hh_test_resp_err_code(&r), "unknown_department");
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(port, "POST", "/api/admin/users", t.root,
                           "{\"name\":\"cy\",\"role\":\"member\",\"password\":\"short\"}", &r));
    ASSERT_EQ_INT(r.status, 400);
    ASSERT_STREQ(hh_test_json_str(cJSON_GetObjectItem(r.j, "error"), "param"), "password");
    hh_test_resp_free(&r);
    ASSERT_EQ_INT(status_of(port, "POST", "/api/admin/users", t.root, "[1,2]"), 400);
    hh_store_user_t u;
    ASSERT_EQ_INT(hh_store_user_get(t.h.st, "cy", &u, NULL), HH_ENOENT);

    /* the list */
    ASSERT_OK(hh_test_http(port, "GET", "/api/admin/users", t.root, NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_EQ_INT(cJSON_GetArraySize(data_of(&r)), 5);   /* apu aud bob mia root */
    const cJSON *bob = find_by(data_of(&r), "name", "bob");
    ASSERT_TRUE(bob != NULL);
    ASSERT_STREQ(hh_test_json_str(bob, "role"), "member");
    ASSERT_TRUE(num(bob, "last_login") > 1.7e9);   /* logged in above */
    ASSERT_TRUE(cJSON_IsNull(cJSON_GetObjectItem(bob, "last_key_use")));
    const cJSON *mia = find_by(data_of(&r), "name", "mia");
    ASSERT_TRUE(cJSON_IsFalse(cJSON_GetObjectItem(mia, "has_password")));
    hh_test_resp_free(&r);

    /* patch: role, departments, disabled */
    ASSERT_OK(hh_test_http(port, "PATCH", "/api/admin/users/bob", t.root,
                           "{\"role\":\"approver\",\"departments\":[\"IT\",\"Sales\"],\"disabled\":true}", &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_STREQ(hh_test_json_str(r.j, "role"), "approver");
    ASSERT_STREQ(joined(cJSON_GetObjectItem(r.j, "departments"), buf, sizeof buf), "IT,Sales");
    ASSERT_TRUE(cJSON_IsTrue(cJSON_GetObjectItem(r.j, "disabled")));
    hh_test_resp_free(&r);
    ASSERT_OK(hh_store_user_get(t.h.st, "bob", &u, NULL));
    ASSERT_STREQ(u.role, "approver");
    ASSERT_TRUE(u.disabled);
    ASSERT_EQ_INT(login(port, "bob", "long enough pw", cookie, csrf), 401);   /* disabled */
    ASSERT_OK(hh_test_http(port, "PATCH", "/api/admin/users/bob", t.root, "{\"departments\":[],\"disabled\":false}",
                           &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(r.j, "departments")), 0);
    ASSERT_TRUE(cJSON_IsFalse(cJSON_GetObjectItem(r.j, "disabled")));
    hh_test_resp_free(&r);
    ASSERT_EQ_INT(status_of(port, "PATCH", "/api/admin/users/bob", t.root, "{}"), 400);
    ASSERT_EQ_INT(status_of(port, "PATCH", "/api/admin/users/bob", t.root, "{\"disabled\":\"yes\"}"), 400);
    ASSERT_EQ_INT(status_of(port, "PATCH", "/api/admin/users/nobody", t.root, "{\"role\":\"member\"}"), 404);

    /* delete: names what goes */
    ASSERT_EQ_INT(status_of(port, "POST", "/api/admin/users/bob/keys", t.root, "{}"), 201);
    ASSERT_OK(hh_test_http(port, "DELETE", "/api/admin/users/bob", t.root, NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_STREQ(hh_test_json_str(r.j, "deleted"), "bob");
    ASSERT_STREQ(hh_test_json_str(r.j, "role"), "approver");
    ASSERT_EQ_INT(num(cJSON_GetObjectItem(r.j, "removed"), "api_keys"), 1);
    ASSERT_EQ_INT(num(cJSON_GetObjectItem(r.j, "removed"), "department_memberships"), 0);
    ASSERT_EQ_INT(num(cJSON_GetObjectItem(r.j, "kept"), "documents"), 0);
    hh_test_resp_free(&r);
    ASSERT_EQ_INT(hh_store_user_get(t.h.st, "bob", &u, NULL), HH_ENOENT);
    ASSERT_EQ_INT(status_of(port, "DELETE", "/api/admin/users/bob", t.root, NULL), 404);

    /* the audit trail */
    ASSERT_EQ_INT(audit_count(t.h.st, "root", "users create bob (member) departments [Sales] password set", "done"), 1);
    ASSERT_EQ_INT(audit_count(t.h.st, "root", "users role bob: member -> approver", "done"), 1);
    ASSERT_EQ_INT(audit_count(t.h.st, "root", "users departments bob: [Sales] -> [IT,Sales]", "done"), 1);
    ASSERT_EQ_INT(audit_count(t.h.st, "root", "users disable bob", "done"), 1);
    ASSERT_EQ_INT(audit_count(t.h.st, "root", "users enable bob", "done"), 1);
    ASSERT_EQ_INT(audit_count(t.h.st, "root", "users delete bob (approver): 1 keys%", "done"), 1);
    hh_test_srv_stop(&t.h);
}

TEST(admin_api_last_admin_guard)
{
    admin_srv_t t;
    ASSERT_TRUE(srv_start(&t, "lastadmin"));
    int port = t.h.port;
    hh_test_resp_t r;
    ASSERT_OK(hh_test_http(port, "DELETE", "/api/admin/users/root", t.root, NULL, &r));
    ASSERT_EQ_INT(r.status, 409);
    ASSERT_STREQ(hh_test_resp_err_code(&r), "last_admin");
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(port, "PATCH", "/api/admin/users/root", t.root, "{\"role\":\"member\"}", &r));
    ASSERT_EQ_INT(r.status, 409);
    ASSERT_STREQ(hh_test_resp_err_code(&r), "last_admin");
    hh_test_resp_free(&r);
    ASSERT_EQ_INT(status_of(port, "PATCH", "/api/admin/users/root", t.root, "{\"disabled\":true}"), 409);
    hh_store_user_t u;
    ASSERT_OK(hh_store_user_get(t.h.st, "root", &u, NULL));
    ASSERT_STREQ(u.role, "admin");
    ASSERT_FALSE(u.disabled);
    ASSERT_EQ_INT(audit_count(t.h.st, "root", "users delete root: last enabled admin", "refused"), 1);
    ASSERT_EQ_INT(audit_count(t.h.st, "root", "users change root: last enabled admin", "refused"), 2);
    /* with a second admin the first may go */
    ASSERT_EQ_INT(status_of(port, "PATCH", "/api/admin/users/mia", t.root, "{\"role\":\"admin\"}"), 200);
    ASSERT_EQ_INT(status_of(port, "PATCH", "/api/admin/users/root", t.root, "{\"role\":\"member\"}"), 200);
    ASSERT_OK(hh_store_user_get(t.h.st, "root", &u, NULL));
    ASSERT_STREQ(u.role, "member");
    hh_test_srv_stop(&t.h);
}

/* ---- roles ---------------------------------------------------------------- */

TEST(admin_api_roles_forbidden)
{
    admin_srv_t t;
    ASSERT_TRUE(srv_start(&t, "roles"));
    int port = t.h.port;
    const char *changes[][3] = {
        { "POST", "/api/admin/users", "{\"name\":\"eve\",\"role\":\"admin\"}" },
        { "PATCH", "/api/admin/users/mia", "{\"role\":\"admin\"}" },
        { "DELETE", "/api/admin/users/root", NULL },
        { "POST", "/api/admin/users/root/keys", "{}" },
        { "POST", "/api/admin/users/root/password", "{\"password\":\"taken over 123\"}" },
        { "DELETE", "/api/admin/keys/1", NULL },
        { "POST", "/api/admin/departments", "{\"name\":\"Evil\"}" },
        { "PATCH", "/api/admin/departments/Sales", "{\"name\":\"Evil\"}" },
        { "DELETE", "/api/admin/departments/IT", NULL },
        { "POST", "/api/collections", "{\"name\":\"evil\"}" },
    };
    const char *reads[] = { "/api/admin/users", "/api/admin/users/root/keys", "/api/admin/departments",
                            "/api/admin/models" };
    const char *who[3][2] = { { "mia", t.mia }, { "apu", t.apu }, { "aud", t.aud } };
    for (int w = 0; w < 3; w++) {
        for (size_t i = 0; i < sizeof changes / sizeof changes[0]; i++) {
            hh_test_resp_t r;
            ASSERT_OK(hh_test_http(port, changes[i][0], changes[i][1], who[w][1], changes[i][2], &r));
            if (r.status != 403)
                printf("    %s %s %s -> %d\n", who[w][0], changes[i][0], changes[i][1], r.status);
            ASSERT_EQ_INT(r.status, 403);
            ASSERT_STREQ(hh_test_resp_err_code(&r), "forbidden");
            hh_test_resp_free(&r);
        }
        /* each refused change is an audit record of who tried */
        ASSERT_EQ_INT(audit_count(t.h.st, who[w][0], "%/api/%", "refused"), (int64_t)(sizeof changes / sizeof changes[0]));
        /* auditors read the admin lists (access review); the others do not */
        for (size_t i = 0; i < sizeof reads / sizeof reads[0]; i++)
            ASSERT_EQ_INT(status_of(port, "GET", reads[i], who[w][1], NULL), w == 2 ? 200 : 403);
    }
    /* nothing changed */
    hh_store_user_t u;
    ASSERT_EQ_INT(hh_store_user_get(t.h.st, "eve", &u, NULL), HH_ENOENT);
    ASSERT_OK(hh_store_user_get(t.h.st, "mia", &u, NULL));
    ASSERT_STREQ(u.role, "member");
    hh_store_department_t d;
    ASSERT_OK(hh_store_department_get(t.h.st, "IT", &d, NULL));
    ASSERT_EQ_INT(hh_store_department_get(t.h.st, "Evil", &d, NULL), HH_ENOENT);
    ASSERT_EQ_INT(status_of(port, "GET", "/api/me", t.root, NULL), 200);   /* root's key still works */
    hh_test_srv_stop(&t.h);
}

/* ---- keys ------------------------------------------------------------------- */

TEST(admin_api_key_shown_once_and_revoked)
{
    admin_srv_t t;
    ASSERT_TRUE(srv_start(&t, "keys"));
    int port = t.h.port;
    hh_test_resp_t r;
    ASSERT_OK(hh_test_http(port, "POST", "/api/admin/users/mia/keys", t.root, "{}", &r));
    ASSERT_EQ_INT(r.status, 201);
    char key[HH_KEY_LEN + 1], prefix[32];
    snprintf(key, sizeof key, "%s", hh_test_json_str(r.j, "key"));
    snprintf(prefix, sizeof prefix, "%s", hh_test_json_str(r.j, "prefix"));
    int64_t id = (int64_t)num(r.j, "id");
    ASSERT_EQ_INT(strlen(key), HH_KEY_LEN);
    ASSERT_EQ_INT(strncmp(key, prefix, HH_KEY_PREFIX_LEN), 0);
    ASSERT_STREQ(hh_test_json_str(r.j, "user"), "mia");
    char cc[64];
    ASSERT_STREQ(hh_test_resp_header(&r, "Cache-Control", cc, sizeof cc), "no-store");
    hh_test_resp_free(&r);
    /* the key works */
    ASSERT_OK(hh_test_http(port, "GET", "/api/me", key, NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_STREQ(hh_test_json_str(r.j, "user"), "mia");
    hh_test_resp_free(&r);
    /* a later list has the prefix, never the key */
    ASSERT_OK(hh_test_http(port, "GET", "/api/admin/users/mia/keys", t.root, NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_EQ_INT(cJSON_GetArraySize(data_of(&r)), 2);   /* the setup's and the new one */
    const cJSON *k = find_by(data_of(&r), "prefix", prefix);
    ASSERT_TRUE(k != NULL);
    ASSERT_TRUE(cJSON_IsTrue(cJSON_GetObjectItem(k, "active")));
    ASSERT_TRUE(cJSON_GetObjectItem(k, "key") == NULL);
    ASSERT_TRUE(strstr(r.body, key) == NULL);
    ASSERT_TRUE(strstr(r.body, key + HH_KEY_PREFIX_LEN) == NULL);
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(port, "GET", "/api/me/keys", key, NULL, &r));
    ASSERT_TRUE(strstr(r.body, key + HH_KEY_PREFIX_LEN) == NULL);
    hh_test_resp_free(&r);
    ASSERT_EQ_INT(status_of(port, "GET", "/api/admin/users/nobody/keys", t.root, NULL), 404);
    /* revoke */
    char path[64];
    snprintf(path, sizeof path, "/api/admin/keys/%lld", (long long)id);
    ASSERT_OK(hh_test_http(port, "DELETE", path, t.root, NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_TRUE(cJSON_IsFalse(cJSON_GetObjectItem(r.j, "active")));
    ASSERT_TRUE(num(r.j, "revoked_at") > 1.7e9);
    hh_test_resp_free(&r);
    ASSERT_EQ_INT(status_of(port, "GET", "/api/me", key, NULL), 401);
    ASSERT_EQ_INT(status_of(port, "DELETE", path, t.root, NULL), 404);   /* already revoked */
    ASSERT_EQ_INT(status_of(port, "DELETE", "/api/admin/keys/abc", t.root, NULL), 404);
    char detail[128];
    snprintf(detail, sizeof detail, "keys create %lld (%s) for mia", (long long)id, prefix);
    ASSERT_EQ_INT(audit_count(t.h.st, "root", detail, "done"), 1);
    snprintf(detail, sizeof detail, "keys revoke %lld (%s of mia)", (long long)id, prefix);
    ASSERT_EQ_INT(audit_count(t.h.st, "root", detail, "done"), 1);
    hh_test_srv_stop(&t.h);
}

TEST(admin_api_own_keys)
{
    admin_srv_t t;
    ASSERT_TRUE(srv_start(&t, "ownkeys"));
    int port = t.h.port;
    hh_test_resp_t r;
    ASSERT_OK(hh_store_user_set_password(t.h.st, "mia", "mia password 1", NULL));
    ASSERT_OK(hh_store_user_set_password(t.h.st, "apu", "apu password 1", NULL));
    char mc[HH_SESSION_TOKEN_LEN + 1], mx[HH_SESSION_TOKEN_LEN + 1];
    char ac[HH_SESSION_TOKEN_LEN + 1], ax[HH_SESSION_TOKEN_LEN + 1];
    ASSERT_EQ_INT(login(port, "mia", "mia password 1", mc, mx), 200);
    ASSERT_EQ_INT(login(port, "apu", "apu password 1", ac, ax), 200);
    /* a key cannot make more keys (a leaked one would outlive its revocation) */
    ASSERT_OK(hh_test_http(port, "POST", "/api/me/keys", t.mia, NULL, &r));
    ASSERT_EQ_INT(r.status, 403);
    ASSERT_STREQ(hh_test_resp_err_code(&r), "session_required");
    hh_test_resp_free(&r);
    ASSERT_EQ_INT(audit_count(t.h.st, "mia", "keys create (own) for mia with an API key", "refused"), 1);
    /* everyone logged in makes their own keys; no body needed */
    ASSERT_OK(session_req(port, "POST", "/api/me/keys", mc, mx, NULL, &r));
    ASSERT_EQ_INT(r.status, 201);
    char mia2[HH_KEY_LEN + 1];
    snprintf(mia2, sizeof mia2, "%s", hh_test_json_str(r.j, "key"));
    int64_t mia2_id = (int64_t)num(r.j, "id");
    hh_test_resp_free(&r);
    ASSERT_OK(session_req(port, "POST", "/api/me/keys", ac, ax, NULL, &r));
    ASSERT_EQ_INT(r.status, 201);
    char apu2[HH_KEY_LEN + 1];
    snprintf(apu2, sizeof apu2, "%s", hh_test_json_str(r.j, "key"));
    int64_t apu2_id = (int64_t)num(r.j, "id");
    ASSERT_STREQ(hh_test_json_str(r.j, "user"), "apu");
    hh_test_resp_free(&r);
    /* the list has only one's own */
    ASSERT_OK(hh_test_http(port, "GET", "/api/me/keys", mia2, NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_EQ_INT(cJSON_GetArraySize(data_of(&r)), 2);
    const cJSON *it;
    cJSON_ArrayForEach(it, data_of(&r))
        ASSERT_STREQ(hh_test_json_str(it, "user"), "mia");
    hh_test_resp_free(&r);
    /* another's key answers like a missing one, and stays */
    char path[64], body_other[512], body_missing[512];
    snprintf(path, sizeof path, "/api/me/keys/%lld", (long long)apu2_id);
    ASSERT_OK(hh_test_http(port, "DELETE", path, t.mia, NULL, &r));
    ASSERT_EQ_INT(r.status, 404);
    snprintf(body_other, sizeof body_other, "%s", r.body);
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(port, "DELETE", "/api/me/keys/999999", t.mia, NULL, &r));
    ASSERT_EQ_INT(r.status, 404);
    snprintf(body_missing, sizeof body_missing, "%s", r.body);
    hh_test_resp_free(&r);
    ASSERT_STREQ(body_other, body_missing);
    ASSERT_EQ_INT(status_of(port, "GET", "/api/me", apu2, NULL), 200);
    char detail[128];
    snprintf(detail, sizeof detail, "keys revoke %lld (own): not an active key of mia", (long long)apu2_id);
    ASSERT_EQ_INT(audit_count(t.h.st, "mia", detail, "refused"), 1);
    /* one's own goes */
    snprintf(path, sizeof path, "/api/me/keys/%lld", (long long)mia2_id);
    ASSERT_EQ_INT(status_of(port, "DELETE", path, t.mia, NULL), 200);
    ASSERT_EQ_INT(status_of(port, "GET", "/api/me", mia2, NULL), 401);
    ASSERT_EQ_INT(status_of(port, "GET", "/api/me", t.mia, NULL), 200);
    ASSERT_EQ_INT(audit_count(t.h.st, "mia", "keys create % for mia (own)", "done"), 1);
    ASSERT_EQ_INT(audit_count(t.h.st, "mia", "keys revoke %own)", "done"), 1);
    hh_test_srv_stop(&t.h);
}

/* ---- passwords ---------------------------------------------------------------- */

TEST(admin_api_password_reset_and_change_end_sessions)
{
    admin_srv_t t;
    ASSERT_TRUE(srv_start(&t, "passwords"));
    int port = t.h.port;
    ASSERT_OK(hh_store_user_set_password(t.h.st, "mia", "first password", NULL));
    char c1[HH_SESSION_TOKEN_LEN + 1], x1[HH_SESSION_TOKEN_LEN + 1];
    char c2[HH_SESSION_TOKEN_LEN + 1], x2[HH_SESSION_TOKEN_LEN + 1];
    ASSERT_EQ_INT(login(port, "mia", "first password", c1, x1), 200);
    hh_test_resp_t r;
    ASSERT_OK(session_req(port, "GET", "/api/me", c1, NULL, NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    hh_test_resp_free(&r);
    /* an admin's reset ends the sessions */
    ASSERT_OK(hh_test_http(port, "POST", "/api/admin/users/mia/password", t.root,
                           "{\"password\":\"second password\"}", &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_TRUE(cJSON_IsTrue(cJSON_GetObjectItem(r.j, "sessions_ended")));
    hh_test_resp_free(&r);
    ASSERT_OK(session_req(port, "GET", "/api/me", c1, NULL, NULL, &r));
    ASSERT_EQ_INT(r.status, 401);
    hh_test_resp_free(&r);
    ASSERT_EQ_INT(login(port, "mia", "first password", c1, x1), 401);
    ASSERT_EQ_INT(status_of(port, "POST", "/api/admin/users/mia/password", t.root, "{\"password\":\"short\"}"), 400);
    ASSERT_EQ_INT(audit_count(t.h.st, "root", "users passwd mia (reset by an admin%", "done"), 1);

    /* own change: the current password is required, other sessions end */
    ASSERT_EQ_INT(login(port, "mia", "second password", c1, x1), 200);
    ASSERT_EQ_INT(login(port, "mia", "second password", c2, x2), 200);
    ASSERT_OK(session_req(port, "POST", "/api/me/password", c1, x1,
                          "{\"current_password\":\"wrong guess\",\"new_password\":\"third password\"}", &r));
    ASSERT_EQ_INT(r.status, 403);
    ASSERT_STREQ(hh_test_resp_err_code(&r), "wrong_password");
    hh_test_resp_free(&r);
    ASSERT_EQ_INT(audit_count(t.h.st, "mia", "users passwd mia (own): wrong current password", "refused"), 1);
    ASSERT_OK(session_req(port, "POST", "/api/me/password", c1, x1,
                          "{\"current_password\":\"second password\",\"new_password\":\"x\"}", &r));
    ASSERT_EQ_INT(r.status, 400);
    ASSERT_STREQ(hh_test_json_str(cJSON_GetObjectItem(r.j, "error"), "param"), "new_password");
    hh_test_resp_free(&r);
    ASSERT_OK(session_req(port, "POST", "/api/me/password", c1, x1,
                          "{\"current_password\":\"second password\",\"new_password\":\"third password\"}", &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_EQ_INT(num(r.j, "other_sessions_ended"), 1);
    hh_test_resp_free(&r);
    ASSERT_OK(session_req(port, "GET", "/api/me", c1, NULL, NULL, &r));
    ASSERT_EQ_INT(r.status, 200);   /* this session stays */
    hh_test_resp_free(&r);
    ASSERT_OK(session_req(port, "GET", "/api/me", c2, NULL, NULL, &r));
    ASSERT_EQ_INT(r.status, 401);   /* the other one ended */
    hh_test_resp_free(&r);
    ASSERT_EQ_INT(login(port, "mia", "third password", c2, x2), 200);
    ASSERT_EQ_INT(audit_count(t.h.st, "mia", "users passwd mia (own; 1 other sessions ended)", "done"), 1);

    /* throttled like a login: 5 wrong guesses per name, then 429 */
    for (int i = 0; i < 5; i++)
        ASSERT_EQ_INT(status_of(port, "POST", "/api/me/password", t.mia,
                                "{\"current_password\":\"guess guess\",\"new_password\":\"fourth password\"}"),
                      403);
    ASSERT_OK(hh_test_http(port, "POST", "/api/me/password", t.mia,
                           "{\"current_password\":\"third password\",\"new_password\":\"fourth password\"}", &r));
    ASSERT_EQ_INT(r.status, 429);
    char ra[16];
    ASSERT_TRUE(atoi(hh_test_resp_header(&r, "Retry-After", ra, sizeof ra)) > 0);
    hh_test_resp_free(&r);
    ASSERT_EQ_INT(login(port, "mia", "third password", c2, x2), 429);   /* the same counter */
    hh_test_srv_stop(&t.h);
}

/* ---- departments ------------------------------------------------------------ */

TEST(admin_api_departments)
{
    admin_srv_t t;
    ASSERT_TRUE(srv_start(&t, "departments"));
    int port = t.h.port;
    hh_test_resp_t r;
    ASSERT_OK(hh_test_http(port, "POST", "/api/admin/departments", t.root, "{\"name\":\"HR\"}", &r));
    ASSERT_EQ_INT(r.status, 201);
    ASSERT_STREQ(hh_test_json_str(r.j, "name"), "HR");
    ASSERT_EQ_INT(num(r.j, "n_members"), 0);
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(port, "POST", "/api/admin/departments", t.root, "{\"name\":\"hr\"}", &r));
    ASSERT_EQ_INT(r.status, 409);
    ASSERT_STREQ(hh_test_resp_err_code(&r), "department_exists");
    hh_test_resp_free(&r);
    ASSERT_EQ_INT(status_of(port, "POST", "/api/admin/departments", t.root, "{\"name\":\"\"}"), 400);
    ASSERT_EQ_INT(status_of(port, "POST", "/api/admin/departments", t.root, "{\"name\":\"a,b\"}"), 400);
    hh_err_t err;
    hh_err_clear(&err);
    ASSERT_OK(hh_store_user_add_department(t.h.st, "mia", "HR", &err));
    const char *d1[] = { "HR" };
    ASSERT_OK(hh_store_collection_ensure(t.h.st, "hr-docs", d1, 1, NULL, &err));
    const char *d2[] = { "HR", "IT" };
    ASSERT_OK(hh_store_collection_ensure(t.h.st, "shared", d2, 2, NULL, &err));
    /* rename (found ignoring case) */
    ASSERT_OK(hh_test_http(port, "PATCH", "/api/admin/departments/hr", t.root, "{\"name\":\"People\"}", &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_STREQ(hh_test_json_str(r.j, "name"), "People");
    ASSERT_STREQ(hh_test_json_str(r.j, "was"), "HR");
    hh_test_resp_free(&r);
    ASSERT_EQ_INT(status_of(port, "PATCH", "/api/admin/departments/People", t.root, "{\"name\":\"it\"}"), 409);
    ASSERT_EQ_INT(status_of(port, "PATCH", "/api/admin/departments/Nope", t.root, "{\"name\":\"X\"}"), 404);
    /* the list */
    ASSERT_OK(hh_test_http(port, "GET", "/api/admin/departments", t.aud, NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_EQ_INT(cJSON_GetArraySize(data_of(&r)), 3);
    const cJSON *p = find_by(data_of(&r), "name", "People");
    char buf[256];
    ASSERT_STREQ(joined(cJSON_GetObjectItem(p, "members"), buf, sizeof buf), "mia");
    ASSERT_STREQ(joined(cJSON_GetObjectItem(p, "collections"), buf, sizeof buf), "hr-docs,shared");
    hh_test_resp_free(&r);
    /* delete, as the CLI: memberships and rights go, orphans are named */
    ASSERT_OK(hh_test_http(port, "DELETE", "/api/admin/departments/people", t.root, NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_STREQ(hh_test_json_str(r.j, "deleted"), "People");
    ASSERT_EQ_INT(num(r.j, "memberships_removed"), 1);
    ASSERT_EQ_INT(num(r.j, "collection_rights_removed"), 2);
    ASSERT_STREQ(joined(cJSON_GetObjectItem(r.j, "orphaned_collections"), buf, sizeof buf), "hr-docs");
    hh_test_resp_free(&r);
    hh_store_department_t d;
    ASSERT_EQ_INT(hh_store_department_get(t.h.st, "People", &d, NULL), HH_ENOENT);
    ASSERT_EQ_INT(status_of(port, "DELETE", "/api/admin/departments/people", t.root, NULL), 404);
    ASSERT_EQ_INT(audit_count(t.h.st, "root", "departments create HR", "done"), 1);
    ASSERT_EQ_INT(audit_count(t.h.st, "root", "departments rename HR People", "done"), 1);
    ASSERT_EQ_INT(audit_count(t.h.st, "root", "departments delete People: 1 memberships, 2 collections", "done"), 1);
    hh_test_srv_stop(&t.h);
}

/* ---- collections ------------------------------------------------------------ */

TEST(admin_api_collections_and_rights)
{
    admin_srv_t t;
    ASSERT_TRUE(srv_start(&t, "collections"));
    int port = t.h.port;
    hh_err_t err;
    hh_err_clear(&err);
    char sam[HH_KEY_LEN + 1], ivy[HH_KEY_LEN + 1];
    ASSERT_OK(hh_test_srv_user(&t.h, "sam", "member", sam, NULL));   /* Sales: manages sales-docs */
    ASSERT_OK(hh_test_srv_user(&t.h, "ivy", "member", ivy, NULL));   /* IT: manages it-docs, reads sales-docs */
    ASSERT_OK(hh_store_user_add_department(t.h.st, "sam", "Sales", &err));
    ASSERT_OK(hh_store_user_add_department(t.h.st, "ivy", "IT", &err));
    hh_test_resp_t r;
    /* create (admin) with departments and rights */
    ASSERT_OK(hh_test_http(port, "POST", "/api/collections", t.root,
                           "{\"name\":\"sales-docs\",\"departments\":{\"sales\":\"manage\",\"IT\":\"read\"}}", &r));
    ASSERT_EQ_INT(r.status, 201);
    ASSERT_STREQ(hh_test_json_str(r.j, "name"), "sales-docs");
    const cJSON *rights = cJSON_GetObjectItem(r.j, "rights");
    ASSERT_EQ_INT(cJSON_GetArraySize(rights), 2);
    ASSERT_STREQ(hh_test_json_str(find_by(rights, "department", "Sales"), "right"), "manage");
    ASSERT_STREQ(hh_test_json_str(find_by(rights, "department", "IT"), "right"), "read");
    hh_test_resp_free(&r);
    ASSERT_EQ_INT(status_of(port, "POST", "/api/collections", t.root,
                            "{\"name\":\"it-docs\",\"departments\":{\"IT\":\"manage\"}}"), 201);
    ASSERT_EQ_INT(status_of(port, "POST", "/api/collections", t.root, "{\"name\":\"it-docs\"}"), 409);
    ASSERT_OK(hh_test_http(port, "POST", "/api/collections", t.root,
                           "{\"name\":\"x\",\"departments\":{\"IT\":\"owner\"}}", &r));
    ASSERT_EQ_INT(r.status, 400);
    ASSERT_STREQ(hh_test_json_str(cJSON_GetObjectItem(r.j, "error"), "param"), "departments");
    hh_test_resp_free(&r);
    ASSERT_EQ_INT(status_of(port, "POST", "/api/collections", t.root,
                            "{\"name\":\"x\",\"departments\":{\"Nowhere\":\"read\"}}"), 400);
    ASSERT_EQ_INT(status_of(port, "POST", "/api/collections", sam, "{\"name\":\"mine\"}"), 403);
    hh_store_collection_t co;
    ASSERT_EQ_INT(hh_store_collection_get(t.h.st, "x", &co, NULL), HH_ENOENT);
    ASSERT_EQ_INT(hh_store_collection_get(t.h.st, "mine", &co, NULL), HH_ENOENT);

    /* the lists: own right; the rights of others only where one manages */
    ASSERT_OK(hh_test_http(port, "GET", "/api/collections", sam, NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_EQ_INT(cJSON_GetArraySize(data_of(&r)), 1);
    const cJSON *c0 = find_by(data_of(&r), "name", "sales-docs");
    ASSERT_STREQ(hh_test_json_str(c0, "right"), "manage");
    ASSERT_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(c0, "rights")), 2);
    ASSERT_EQ_INT(num(c0, "documents"), 0);
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(port, "GET", "/api/collections", ivy, NULL, &r));
    ASSERT_EQ_INT(cJSON_GetArraySize(data_of(&r)), 2);
    c0 = find_by(data_of(&r), "name", "sales-docs");
    ASSERT_STREQ(hh_test_json_str(c0, "right"), "read");
    ASSERT_TRUE(cJSON_GetObjectItem(c0, "rights") == NULL);
    ASSERT_STREQ(hh_test_json_str(find_by(data_of(&r), "name", "it-docs"), "right"), "manage");
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(port, "GET", "/api/collections", t.mia, NULL, &r));
    ASSERT_EQ_INT(cJSON_GetArraySize(data_of(&r)), 0);   /* no department, nothing */
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(port, "GET", "/api/collections", t.root, NULL, &r));
    ASSERT_EQ_INT(cJSON_GetArraySize(data_of(&r)), 2);
    ASSERT_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(find_by(data_of(&r), "name", "it-docs"), "rights")), 1);
    hh_test_resp_free(&r);

    /* a manager sets rights on their collection */
    ASSERT_OK(hh_test_http(port, "PUT", "/api/collections/sales-docs/rights/it", sam, "{\"right\":\"write\"}", &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_STREQ(hh_test_json_str(r.j, "department"), "IT");
    ASSERT_STREQ(hh_test_json_str(r.j, "right"), "write");
    ASSERT_STREQ(hh_test_json_str(r.j, "was"), "read");
    hh_test_resp_free(&r);
    hh_store_user_t ivy_u;
    ASSERT_OK(hh_store_user_get(t.h.st, "ivy", &ivy_u, NULL));
    ASSERT_OK(hh_store_collection_get(t.h.st, "sales-docs", &co, NULL));
    hh_right_t rt = HH_RIGHT_NONE;
    ASSERT_OK(hh_store_user_collection_right(t.h.st, ivy_u.id, co.id, &rt, NULL));
    ASSERT_EQ_INT(rt, HH_RIGHT_WRITE);
    /* ... but not on another department's: it answers like a missing one */
    char b_other[512], b_missing[512];
    ASSERT_OK(hh_test_http(port, "PUT", "/api/collections/it-docs/rights/Sales", sam, "{\"right\":\"manage\"}", &r));
    ASSERT_EQ_INT(r.status, 404);
    ASSERT_STREQ(hh_test_resp_err_code(&r), "collection_not_found");
    snprintf(b_other, sizeof b_other, "%s", r.body);
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(port, "PUT", "/api/collections/no-such/rights/Sales", sam, "{\"right\":\"manage\"}", &r));
    ASSERT_EQ_INT(r.status, 404);
    snprintf(b_missing, sizeof b_missing, "%s", r.body);
    hh_test_resp_free(&r);
    ASSERT_STREQ(b_other, b_missing);
    ASSERT_EQ_INT(status_of(port, "DELETE", "/api/collections/it-docs/rights/IT", sam, NULL), 404);
    ASSERT_OK(hh_store_collection_get(t.h.st, "it-docs", &co, NULL));
    ASSERT_STREQ(co.rights, "IT:manage");   /* unchanged */
    /* read or write is not enough */
    ASSERT_EQ_INT(status_of(port, "PUT", "/api/collections/sales-docs/rights/IT", ivy, "{\"right\":\"manage\"}"), 403);
    ASSERT_EQ_INT(audit_count(t.h.st, "ivy", "collections grant sales-docs IT: needs manage, has write", "refused"), 1);
    /* the last manage right stays */
    ASSERT_OK(hh_test_http(port, "PUT", "/api/collections/sales-docs/rights/Sales", sam, "{\"right\":\"read\"}", &r));
    ASSERT_EQ_INT(r.status, 409);
    ASSERT_STREQ(hh_test_resp_err_code(&r), "last_manager");
    hh_test_resp_free(&r);
    ASSERT_EQ_INT(status_of(port, "DELETE", "/api/collections/sales-docs/rights/Sales", sam, NULL), 409);
    ASSERT_EQ_INT(status_of(port, "PUT", "/api/collections/sales-docs/rights/IT", sam, "{\"right\":\"all\"}"), 400);
    ASSERT_EQ_INT(status_of(port, "PUT", "/api/collections/sales-docs/rights/Nope", sam, "{\"right\":\"read\"}"), 404);
    /* revoke */
    ASSERT_OK(hh_test_http(port, "DELETE", "/api/collections/sales-docs/rights/IT", sam, NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_STREQ(hh_test_json_str(r.j, "was"), "write");
    ASSERT_TRUE(cJSON_IsFalse(cJSON_GetObjectItem(r.j, "orphaned")));
    hh_test_resp_free(&r);
    ASSERT_OK(hh_store_collection_get(t.h.st, "sales-docs", &co, NULL));
    ASSERT_STREQ(co.rights, "Sales:manage");
    ASSERT_EQ_INT(audit_count(t.h.st, "sam", "collections grant sales-docs IT write (was read)", "done"), 1);
    ASSERT_EQ_INT(audit_count(t.h.st, "sam", "collections revoke sales-docs IT (was write)", "done"), 1);
    ASSERT_EQ_INT(audit_count(t.h.st, "sam", "collections grant sales-docs Sales: the last manage right", "refused"),
                  1);

    /* delete: the manager's own collection with its documents and files */
    ASSERT_OK(hh_test_http_upload(port, sam, "sales-docs", "offer.txt", "Sales offer template for 2027.", &r));
    ASSERT_EQ_INT(r.status, 201);
    char sha[80];
    snprintf(sha, sizeof sha, "%s", hh_test_json_str(r.j, "sha256"));
    hh_test_resp_free(&r);
    char file[1024];
    snprintf(file, sizeof file, "%s/files/%.2s/%s", t.h.data, sha, sha);
    struct stat sb;
    ASSERT_EQ_INT(stat(file, &sb), 0);
    ASSERT_EQ_INT(status_of(port, "DELETE", "/api/collections/it-docs", sam, NULL), 404);   /* not his */
    ASSERT_OK(hh_test_http(port, "DELETE", "/api/collections/sales-docs", sam, NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_STREQ(hh_test_json_str(r.j, "deleted"), "sales-docs");
    ASSERT_EQ_INT(num(r.j, "documents"), 1);
    ASSERT_EQ_INT(num(r.j, "stored_files_removed"), 1);
    hh_test_resp_free(&r);
    ASSERT_TRUE(stat(file, &sb) != 0);
    ASSERT_EQ_INT(hh_store_collection_get(t.h.st, "sales-docs", &co, NULL), HH_ENOENT);
    ASSERT_EQ_INT(audit_count(t.h.st, "sam", "collections delete sales-docs: 1 documents", "done"), 1);
    ASSERT_EQ_INT(status_of(port, "DELETE", "/api/collections/it-docs", t.root, NULL), 200);
    ASSERT_EQ_INT(audit_count(t.h.st, "root", "collections create sales-docs [Sales:manage,IT:read]", "done") +
                  audit_count(t.h.st, "root", "collections create sales-docs [IT:read,Sales:manage]", "done"), 1);
    hh_test_srv_stop(&t.h);
}

/* ---- models ------------------------------------------------------------------- */

TEST(admin_api_models)
{
    admin_srv_t t;
    ASSERT_TRUE(srv_start(&t, "models"));
    int port = t.h.port;
    hh_test_resp_t r;
    ASSERT_OK(hh_test_http(port, "GET", "/api/admin/models", t.root, NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_EQ_INT(cJSON_GetArraySize(data_of(&r)), 1);
    const cJSON *m = find_by(data_of(&r), "id", "stories260K");
    ASSERT_TRUE(m != NULL);
    size_t size = 0;
    void *d = hh_test_read_file(hh_test_data_path("models/stories260K.gguf"), &size);
    free(d);
    ASSERT_TRUE(size > 0);
    ASSERT_EQ_INT(num(m, "size"), size);
    ASSERT_STREQ(hh_test_json_str(m, "architecture"), "llama");
    ASSERT_STREQ(hh_test_json_str(m, "quant_type"), "f32");
    ASSERT_TRUE(num(m, "parameters") > 200000 && num(m, "parameters") < 400000);
    ASSERT_TRUE(cJSON_IsFalse(cJSON_GetObjectItem(m, "loaded")));
    ASSERT_EQ_INT(num(cJSON_GetObjectItem(r.j, "memory"), "models_loaded"), 0);
    hh_test_resp_free(&r);
    /* after a request the model is loaded */
    ASSERT_EQ_INT(status_of(port, "POST", "/v1/completions", t.mia,
                            "{\"model\":\"stories260K\",\"prompt\":\"Once\",\"max_tokens\":1}"), 200);
    ASSERT_OK(hh_test_http(port, "GET", "/api/admin/models", t.aud, NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_TRUE(cJSON_IsTrue(cJSON_GetObjectItem(find_by(data_of(&r), "id", "stories260K"), "loaded")));
    const cJSON *mem = cJSON_GetObjectItem(r.j, "memory");
    ASSERT_EQ_INT(num(mem, "models_loaded"), 1);
    ASSERT_EQ_INT(num(mem, "loaded_model_bytes"), size);
    ASSERT_TRUE(num(mem, "kv_total") > 0);
    hh_test_resp_free(&r);
    hh_test_srv_stop(&t.h);
}
