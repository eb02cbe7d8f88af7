/* test_login.c - browser login: passwords (argon2id) and sessions in the
 * store (hashes only, lifetimes, password change and disabling end
 * sessions, same work for unknown users), and over HTTP with an in-process
 * server: cookie flags, one 401 for every bad login, the cookie on
 * authenticated routes, CSRF token and Origin checks, Bearer keys winning
 * over cookies, logout, expiry, throttling (429 + Retry-After), bursts of
 * parallel logins (bounded memory, a throttle a burst cannot race, 429
 * login_busy giving the attempt back); and
 * `hoheit users` (password from stdin, minimum length, list, disable). */
#include "harness.h"
#include "http_helpers.h"
#include "http/server.h"
#include "store/store_int.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- helpers ------------------------------------------------------------ */

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* Runs one SQL statement with an int64 result on the store's database
 * (tests only: reads what the store kept, or ages a session). */
static int64_t sql_int(hh_store_t *s, const char *sql)
{
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = NULL;
    int64_t v = -1;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) == SQLITE_OK) {
        int sr = sqlite3_step(st);
        v = sr == SQLITE_ROW ? sqlite3_column_int64(st, 0) : sr == SQLITE_DONE ? sqlite3_changes(s->db) : -1;
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    return v;
}

/* users.password_hash of name, copied into out ("" when NULL). */
static void stored_hash(hh_store_t *s, const char *name, char *out, size_t cap)
{
    out[0] = '\0';
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, "SELECT password_hash FROM users WHERE name = ?", -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
            snprintf(out, cap, "%s", (const char *)sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
}

/* Runs one statement on the store's connection; 0 when it succeeded. */
static int sql_exec(hh_store_t *s, const char *sql)
{
    pthread_mutex_lock(&s->mu);
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
    pthread_mutex_unlock(&s->mu);
    return rc == SQLITE_OK ? 0 : -1;
}

/* Whether any stored session row holds the raw cookie value: as its id
 * (text or bytes) or as its CSRF token. */
static bool cookie_stored_raw(hh_store_t *s, const char *cookie)
{
    bool found = false;
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, "SELECT id_hash, csrf FROM sessions", -1, &st, NULL) == SQLITE_OK) {
        while (sqlite3_step(st) == SQLITE_ROW) {
            const void *id = sqlite3_column_blob(st, 0);
            int n = sqlite3_column_bytes(st, 0);
            const unsigned char *csrf = sqlite3_column_text(st, 1);
            if ((id && memmem(id, (size_t)n, cookie, strlen(cookie))) ||
                (csrf && strstr((const char *)csrf, cookie)))
                found = true;
        }
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    return found;
}

/* Whether the file contains needle anywhere (a missing file does not). */
static bool file_contains(const char *path, const char *needle)
{
    size_t n = 0;
    char *d = hh_test_read_file(path, &n);
    bool hit = d && memmem(d, n, needle, strlen(needle)) != NULL;
    free(d);
    return hit;
}

/* Request options: every field may be NULL. */
typedef struct req_opt {
    const char *key;      /* Authorization: Bearer */
    const char *cookie;   /* hoheit_session value */
    const char *csrf;     /* X-CSRF-Token */
    const char *origin;   /* Origin */
    const char *body;     /* JSON */
} req_opt_t;

/* One request with the options o (may be NULL) as headers. */
static bool http(int port, const char *method, const char *path, const req_opt_t *o, hh_test_resp_t *out)
{
    static const req_opt_t none;
    memset(out, 0, sizeof *out);
    if (!o)
        o = &none;
    char headers[1024] = "";
    size_t n = 0;
    if (o->cookie)
        n += (size_t)snprintf(headers + n, sizeof headers - n, "Cookie: theme=dark; hoheit_session=%s\r\n", o->cookie);
    if (o->csrf && n < sizeof headers)
        n += (size_t)snprintf(headers + n, sizeof headers - n, "X-CSRF-Token: %s\r\n", o->csrf);
    if (o->origin && n < sizeof headers)
        n += (size_t)snprintf(headers + n, sizeof headers - n, "Origin: %s\r\n", o->origin);
    if (n >= sizeof headers)
        return false;
    hh_test_req_t q = { .method = method, .path = path, .key = o->key, .body = o->body, .headers = headers };
    return hh_test_http_req(port, &q, out) == 0;
}

/* The hoheit_session value from a Set-Cookie header into out. */
static bool session_cookie(const hh_test_resp_t *r, char *out, size_t cap)
{
    char sc[512];
    hh_test_resp_header(r, "Set-Cookie", sc, sizeof sc);
    if (strncmp(sc, "hoheit_session=", 15) != 0)
        return false;
    const char *v = sc + 15;
    size_t n = strcspn(v, ";");
    snprintf(out, cap, "%.*s", (int)n, v);
    return n > 0;
}

#define PW_LENA "correct horse battery"
#define PW_ADA  "admin password 2026"

typedef struct login_srv {
    hh_test_srv_t h;
    char          ada_key[HH_KEY_LEN + 1];
} login_srv_t;

/* <tmp>/login-<name>, no model, no embedder; admin ada (key and
 * password), member lena (password, department legal), member keyonly.
 * over: the server parameters to start from (NULL: defaults). */
static bool srv_start(login_srv_t *t, const char *name, const hh_http_params_t *over)
{
    memset(t, 0, sizeof *t);
    hh_test_srv_params_t p = { .http = over ? *over : hh_http_default_params() };
    p.http.embed_model = "none";
    p.http.engine.n_slots = 1;
    p.http.engine.n_threads = 1;
    char dir[256];
    snprintf(dir, sizeof dir, "login-%s", name);
    if (hh_test_srv_start(&t->h, dir, &p) != 0)
        return false;
    hh_err_t err;
    hh_err_clear(&err);
    bool ok = hh_test_srv_user(&t->h, "ada", "admin", t->ada_key, NULL) == 0 &&
              hh_store_user_set_password(t->h.st, "ada", PW_ADA, &err) == 0 &&
              hh_test_srv_user(&t->h, "lena", "member", NULL, NULL) == 0 &&
              hh_store_user_set_password(t->h.st, "lena", PW_LENA, &err) == 0 &&
              hh_store_user_add_department(t->h.st, "lena", "legal", &err) == 0 &&
              hh_test_srv_user(&t->h, "keyonly", "member", NULL, NULL) == 0;
    if (!ok)
        printf("    setup: %s\n", err.msg);
    return ok;
}

/* Logs in; on 200 fills cookie and csrf (cap HH_SESSION_TOKEN_LEN + 1). */
static int login(const login_srv_t *t, const char *user, const char *pw, char *cookie, char *csrf, hh_test_resp_t *keep)
{
    char body[512];
    snprintf(body, sizeof body, "{\"username\":\"%s\",\"password\":\"%s\"}", user, pw);
    req_opt_t o = { .body = body };
    hh_test_resp_t r;
    if (!http(t->h.port, "POST", "/api/login", &o, &r))
        return -1;
    int status = r.status;
    if (status == 200) {
        if (!session_cookie(&r, cookie, HH_SESSION_TOKEN_LEN + 1))
            status = -2;
        snprintf(csrf, HH_SESSION_TOKEN_LEN + 1, "%s", hh_test_json_str(r.j, "csrf_token"));
    }
    if (keep)
        *keep = r;
    else
        hh_test_resp_free(&r);
    return status;
}

/* ---- the store ------------------------------------------------------------ */

TEST(login_store_passwords_and_sessions)
{
    char dir[512], path[700];
    snprintf(dir, sizeof dir, "%s/login-store", hh_test_tmpdir());
    mkdir(dir, 0700);
    hh_store_t *s = NULL;
    hh_err_t err;
    hh_err_clear(&err);
    ASSERT_OK(hh_store_open(&s, dir, &err));
    hh_store_user_t u, got;
    ASSERT_OK(hh_store_user_ensure(s, "mia", "approver", &u, NULL, &err));
    ASSERT_OK(hh_store_user_ensure(s, "nopw", "member", NULL, NULL, &err));
    ASSERT_OK(hh_store_user_add_department(s, "mia", "hr", &err));
    ASSERT_OK(hh_store_user_add_department(s, "mia", "finance", &err));

    /* length rules, unknown user */
    ASSERT_EQ_INT(hh_store_user_set_password(s, "mia", "short pw1", &err), HH_EINVAL);   /* 9 bytes */
    ASSERT_TRUE(strstr(err.msg, "at least 10") != NULL);
    ASSERT_EQ_INT(hh_store_user_set_password(s, "nobody", "long enough pw", &err), HH_ENOENT);
    ASSERT_OK(hh_store_user_set_password(s, "mia", "exactly10!", &err));
    char hash[256];
    stored_hash(s, "mia", hash, sizeof hash);
    ASSERT_TRUE(strncmp(hash, "$argon2id$", 10) == 0);
    ASSERT_TRUE(strstr(hash, "exactly10!") == NULL);

    ASSERT_OK(hh_store_login_verify(s, "mia", "exactly10!", &got, &err));
    ASSERT_EQ_INT(got.id, u.id);
    ASSERT_STREQ(got.role, "approver");
    ASSERT_EQ_INT(hh_store_login_verify(s, "mia", "exactly10?", NULL, &err), HH_ENOENT);
    char wrong_msg[512];
    snprintf(wrong_msg, sizeof wrong_msg, "%s", err.msg);
    ASSERT_EQ_INT(hh_store_login_verify(s, "ghost", "exactly10!", NULL, &err), HH_ENOENT);
    ASSERT_STREQ(err.msg, wrong_msg);
    ASSERT_EQ_INT(hh_store_login_verify(s, "nopw", "", NULL, &err), HH_ENOENT);
    ASSERT_EQ_INT(hh_store_login_verify(s, "", "exactly10!", NULL, &err), HH_ENOENT);

    /* an unknown user costs an argon2id verification too: the fastest of
     * three unknown-user logins is not far below the fastest wrong one */
    double t_wrong = 1e9, t_ghost = 1e9;
    for (int i = 0; i < 3; i++) {
        double t0 = mono_s();
        hh_store_login_verify(s, "mia", "wrong password", NULL, NULL);
        double t1 = mono_s();
        hh_store_login_verify(s, "ghost", "wrong password", NULL, NULL);
        double t2 = mono_s();
        t_wrong = t1 - t0 < t_wrong ? t1 - t0 : t_wrong;
        t_ghost = t2 - t1 < t_ghost ? t2 - t1 : t_ghost;
    }
    ASSERT_GE(t_wrong, 0.005);             /* argon2id with 64 MiB is not instant */
    ASSERT_GE(t_ghost, 0.5 * t_wrong);

    /* sessions: the cookie is 43 base64url chars; lookup gives the key shape */
    char cookie[HH_SESSION_TOKEN_LEN + 1], cookie2[HH_SESSION_TOKEN_LEN + 1];
    hh_store_session_t sess, look;
    ASSERT_EQ_INT(hh_store_session_create(s, u.id, NULL, cookie, 10, NULL, &err), HH_EINVAL);
    ASSERT_OK(hh_store_session_create(s, u.id, NULL, cookie, sizeof cookie, &sess, &err));
    ASSERT_EQ_INT(strlen(cookie), HH_SESSION_TOKEN_LEN);
    ASSERT_EQ_INT(strlen(sess.csrf), HH_SESSION_TOKEN_LEN);
    ASSERT_TRUE(strcmp(cookie, sess.csrf) != 0);
    ASSERT_EQ_INT(sess.expires_at - sess.created_at, HH_SESSION_MAX_MS);
    ASSERT_OK(hh_store_session_lookup(s, cookie, NULL, &look, &err));
    ASSERT_EQ_INT(look.key.id, HH_STORE_SESSION_KEY_ID);
    ASSERT_EQ_INT(look.key.user_id, u.id);
    ASSERT_STREQ(look.key.user, "mia");
    ASSERT_STREQ(look.key.role, "approver");
    ASSERT_STREQ(look.csrf, sess.csrf);
    ASSERT_EQ_INT(look.expires_at, sess.expires_at);
    ASSERT_LE(look.idle_until, look.expires_at);
    /* only a hash of the cookie is kept: not in the row, not in the files */
    ASSERT_EQ_INT(sql_int(s, "SELECT COUNT(*) FROM sessions"), 1);
    ASSERT_EQ_INT(sql_int(s, "SELECT length(id_hash) FROM sessions"), 32);
    ASSERT_FALSE(cookie_stored_raw(s, cookie));
    snprintf(path, sizeof path, "%s/hoheit.db", dir);
    ASSERT_FALSE(file_contains(path, cookie));
    snprintf(path, sizeof path, "%s/hoheit.db-wal", dir);
    ASSERT_FALSE(file_contains(path, cookie));
    ASSERT_TRUE(file_contains(path, sess.csrf));   /* the scan itself works: the CSRF token is stored */

    /* malformed and unknown cookies */
    ASSERT_EQ_INT(hh_store_session_lookup(s, "short", NULL, &look, &err), HH_ENOENT);
    char forged[HH_SESSION_TOKEN_LEN + 1];
    memcpy(forged, cookie, sizeof forged);
    forged[0] = forged[0] == 'A' ? 'B' : 'A';
    ASSERT_EQ_INT(hh_store_session_lookup(s, forged, NULL, &look, &err), HH_ENOENT);

    /* absolute lifetime and idle timeout, with the clock moved by rewriting
     * the newest session's times (no sleeps: a loaded machine cannot make
     * this flaky) */
    hh_store_session_params_t lim = { .idle_ms = 60000, .max_ms = 600000 };
    ASSERT_OK(hh_store_session_create(s, u.id, &lim, cookie2, sizeof cookie2, NULL, &err));
    ASSERT_OK(hh_store_session_lookup(s, cookie2, &lim, &look, &err));
    ASSERT_OK(sql_exec(s, "UPDATE sessions SET expires_at = expires_at - 600001 "
                          "WHERE rowid = (SELECT max(rowid) FROM sessions)"));
    ASSERT_EQ_INT(hh_store_session_lookup(s, cookie2, &lim, &look, &err), HH_ENOENT);
    ASSERT_OK(hh_store_session_create(s, u.id, &lim, cookie2, sizeof cookie2, NULL, &err));
    for (int i = 0; i < 3; i++) {   /* 3 x 50 s apart: each request slides the 60 s idle deadline */
        ASSERT_OK(sql_exec(s, "UPDATE sessions SET last_seen_at = last_seen_at - 50000 "
                              "WHERE rowid = (SELECT max(rowid) FROM sessions)"));
        ASSERT_OK(hh_store_session_lookup(s, cookie2, &lim, &look, &err));
    }
    ASSERT_OK(sql_exec(s, "UPDATE sessions SET last_seen_at = last_seen_at - 60001 "
                          "WHERE rowid = (SELECT max(rowid) FROM sessions)"));
    ASSERT_EQ_INT(hh_store_session_lookup(s, cookie2, &lim, &look, &err), HH_ENOENT);
    ASSERT_EQ_INT(sql_int(s, "SELECT COUNT(*) FROM sessions"), 1);   /* dead rows were deleted */

    /* logout */
    ASSERT_OK(hh_store_session_create(s, u.id, NULL, cookie2, sizeof cookie2, NULL, &err));
    ASSERT_OK(hh_store_session_delete(s, cookie2, &err));
    ASSERT_EQ_INT(hh_store_session_delete(s, cookie2, &err), HH_ENOENT);
    ASSERT_EQ_INT(hh_store_session_lookup(s, cookie2, NULL, &look, &err), HH_ENOENT);

    /* a password change ends every session; the old password stops working */
    ASSERT_OK(hh_store_session_create(s, u.id, NULL, cookie2, sizeof cookie2, NULL, &err));
    ASSERT_EQ_INT(sql_int(s, "SELECT COUNT(*) FROM sessions"), 2);
    ASSERT_OK(hh_store_user_set_password(s, "mia", "a new password", &err));
    ASSERT_EQ_INT(sql_int(s, "SELECT COUNT(*) FROM sessions"), 0);
    ASSERT_EQ_INT(hh_store_session_lookup(s, cookie, NULL, &look, &err), HH_ENOENT);
    ASSERT_EQ_INT(hh_store_login_verify(s, "mia", "exactly10!", NULL, &err), HH_ENOENT);
    ASSERT_OK(hh_store_login_verify(s, "mia", "a new password", NULL, &err));

    /* disabling ends sessions and refuses logins; enabling restores logins */
    ASSERT_OK(hh_store_session_create(s, u.id, NULL, cookie, sizeof cookie, NULL, &err));
    ASSERT_OK(hh_store_user_set_disabled(s, "mia", true, &err));
    ASSERT_EQ_INT(hh_store_session_lookup(s, cookie, NULL, &look, &err), HH_ENOENT);
    ASSERT_EQ_INT(hh_store_login_verify(s, "mia", "a new password", NULL, &err), HH_ENOENT);
    ASSERT_STREQ(err.msg, wrong_msg);
    ASSERT_EQ_INT(hh_store_user_set_disabled(s, "ghost", true, &err), HH_ENOENT);
    ASSERT_OK(hh_store_user_set_disabled(s, "mia", false, &err));
    ASSERT_OK(hh_store_login_verify(s, "mia", "a new password", NULL, &err));

    /* the user list */
    hh_store_user_info_t *list = NULL;
    size_t n = 0;
    ASSERT_OK(hh_store_user_list(s, &list, &n, &err));
    ASSERT_EQ_INT(n, 2);
    ASSERT_STREQ(list[0].user.name, "mia");
    ASSERT_TRUE(list[0].has_password);
    ASSERT_STREQ(list[0].departments, "finance,hr");
    ASSERT_STREQ(list[1].user.name, "nopw");
    ASSERT_FALSE(list[1].has_password);
    ASSERT_STREQ(list[1].departments, "");
    free(list);

    /* clearing the password: API keys only again */
    ASSERT_OK(hh_store_user_clear_password(s, "mia", &err));
    stored_hash(s, "mia", hash, sizeof hash);
    ASSERT_STREQ(hash, "");
    ASSERT_EQ_INT(hh_store_login_verify(s, "mia", "a new password", NULL, &err), HH_ENOENT);
    hh_store_close(s);
}

/* ---- HTTP ---------------------------------------------------------------- */

TEST(login_http_cookie_csrf_origin_logout)
{
    login_srv_t t;
    ASSERT_TRUE(srv_start(&t, "flow", NULL));
    char cookie[HH_SESSION_TOKEN_LEN + 1], csrf[HH_SESSION_TOKEN_LEN + 1];
    char ada_cookie[HH_SESSION_TOKEN_LEN + 1], ada_csrf[HH_SESSION_TOKEN_LEN + 1];
    hh_test_resp_t r;

    /* login: cookie flags, body */
    ASSERT_EQ_INT(login(&t, "lena", PW_LENA, cookie, csrf, &r), 200);
    char sc[512];
    hh_test_resp_header(&r, "Set-Cookie", sc, sizeof sc);
    ASSERT_TRUE(strstr(sc, "; HttpOnly") != NULL);
    ASSERT_TRUE(strstr(sc, "; SameSite=Strict") != NULL);
    ASSERT_TRUE(strstr(sc, "; Path=/") != NULL);
    ASSERT_TRUE(strstr(sc, "; Max-Age=43200") != NULL);   /* HH_SESSION_MAX_MS */
    ASSERT_TRUE(strstr(sc, "Secure") == NULL);           /* plain HTTP */
    ASSERT_EQ_INT(strlen(cookie), HH_SESSION_TOKEN_LEN);
    ASSERT_STREQ(hh_test_json_str(r.j, "user"), "lena");
    ASSERT_STREQ(hh_test_json_str(r.j, "role"), "member");
    ASSERT_EQ_INT(strlen(csrf), HH_SESSION_TOKEN_LEN);
    double exp_at = cJSON_GetNumberValue(cJSON_GetObjectItem(r.j, "expires_at"));
    ASSERT_GE(exp_at, (double)time(NULL) * 1000 + HH_SESSION_MAX_MS - 60000);
    ASSERT_TRUE(strstr(r.body, cookie) == NULL);   /* the cookie value is only in the header */
    hh_test_resp_free(&r);
    ASSERT_FALSE(cookie_stored_raw(t.h.st, cookie));

    /* wrong password and unknown user: same status, same body */
    hh_test_resp_t bad1, bad2, bad3;
    ASSERT_EQ_INT(login(&t, "lena", "not the password", NULL, NULL, &bad1), 401);
    ASSERT_EQ_INT(login(&t, "nobody-here", PW_LENA, NULL, NULL, &bad2), 401);
    ASSERT_EQ_INT(login(&t, "keyonly", "whatever it is", NULL, NULL, &bad3), 401);
    ASSERT_STREQ(hh_test_resp_err_code(&bad1), "invalid_credentials");
    ASSERT_STREQ(bad2.body, bad1.body);
    ASSERT_STREQ(bad3.body, bad1.body);
    char sc_bad[256];
    hh_test_resp_header(&bad1, "Set-Cookie", sc_bad, sizeof sc_bad);
    ASSERT_STREQ(sc_bad, "");
    hh_test_resp_free(&bad1);
    hh_test_resp_free(&bad2);
    hh_test_resp_free(&bad3);
    req_opt_t bad_body = { .body = "{\"username\":\"lena\"}" };
    ASSERT_TRUE(http(t.h.port, "POST", "/api/login", &bad_body, &r));
    ASSERT_EQ_INT(r.status, 400);
    hh_test_resp_free(&r);

    /* the cookie on authenticated GET routes */
    req_opt_t oc = { .cookie = cookie };
    ASSERT_TRUE(http(t.h.port, "GET", "/api/me", &oc, &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_STREQ(hh_test_json_str(r.j, "user"), "lena");
    ASSERT_STREQ(hh_test_json_str(r.j, "auth"), "session");
    ASSERT_STREQ(hh_test_json_str(r.j, "csrf_token"), csrf);
    const cJSON *deps = cJSON_GetObjectItem(r.j, "departments");
    ASSERT_EQ_INT(cJSON_GetArraySize(deps), 1);
    ASSERT_STREQ(cJSON_GetArrayItem(deps, 0)->valuestring, "legal");
    hh_test_resp_free(&r);
    ASSERT_TRUE(http(t.h.port, "GET", "/api/usecases", &oc, &r));
    ASSERT_EQ_INT(r.status, 200);
    hh_test_resp_free(&r);
    ASSERT_TRUE(http(t.h.port, "GET", "/api/me", NULL, &r));
    ASSERT_EQ_INT(r.status, 401);
    ASSERT_STREQ(hh_test_resp_err_code(&r), "invalid_api_key");
    hh_test_resp_free(&r);

    /* a Bearer key wins over a cookie, and needs no CSRF token */
    req_opt_t both = { .key = t.ada_key, .cookie = cookie };
    ASSERT_TRUE(http(t.h.port, "GET", "/api/me", &both, &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_STREQ(hh_test_json_str(r.j, "user"), "ada");
    ASSERT_STREQ(hh_test_json_str(r.j, "auth"), "api_key");
    ASSERT_TRUE(cJSON_GetObjectItem(r.j, "csrf_token") == NULL);
    hh_test_resp_free(&r);
    both.body = "{\"slug\":\"by-key\",\"name\":\"By key\",\"purpose\":\"test\",\"answers\":{}}";
    ASSERT_TRUE(http(t.h.port, "POST", "/api/usecases", &both, &r));
    ASSERT_EQ_INT(r.status, 201);
    hh_test_resp_free(&r);

    /* CSRF: state-changing requests with a cookie need the session's token */
    ASSERT_EQ_INT(login(&t, "ada", PW_ADA, ada_cookie, ada_csrf, NULL), 200);
    const char *uc = "{\"slug\":\"by-cookie\",\"name\":\"By cookie\",\"purpose\":\"test\",\"answers\":{}}";
    req_opt_t post = { .cookie = ada_cookie, .body = uc };
    ASSERT_TRUE(http(t.h.port, "POST", "/api/usecases", &post, &r));
    ASSERT_EQ_INT(r.status, 403);
    ASSERT_STREQ(hh_test_resp_err_code(&r), "csrf_failed");
    hh_test_resp_free(&r);
    post.csrf = "wrong-token";
    ASSERT_TRUE(http(t.h.port, "POST", "/api/usecases", &post, &r));
    ASSERT_EQ_INT(r.status, 403);
    ASSERT_STREQ(hh_test_resp_err_code(&r), "csrf_failed");
    hh_test_resp_free(&r);
    post.csrf = csrf;   /* another session's token (same length) */
    ASSERT_TRUE(http(t.h.port, "POST", "/api/usecases", &post, &r));
    ASSERT_EQ_INT(r.status, 403);
    ASSERT_STREQ(hh_test_resp_err_code(&r), "csrf_failed");
    hh_test_resp_free(&r);
    req_opt_t get_uc = { .cookie = ada_cookie };
    ASSERT_TRUE(http(t.h.port, "GET", "/api/usecases/by-cookie", &get_uc, &r));
    ASSERT_EQ_INT(r.status, 404);   /* none of the refused requests wrote anything */
    hh_test_resp_free(&r);
    /* the right token, but a foreign Origin */
    post.csrf = ada_csrf;
    post.origin = "http://evil.example";
    ASSERT_TRUE(http(t.h.port, "POST", "/api/usecases", &post, &r));
    ASSERT_EQ_INT(r.status, 403);
    ASSERT_STREQ(hh_test_resp_err_code(&r), "origin_mismatch");
    hh_test_resp_free(&r);
    /* the right token and this server's Origin */
    char self_origin[64];
    snprintf(self_origin, sizeof self_origin, "http://localhost:%d", t.h.port);
    post.origin = self_origin;
    ASSERT_TRUE(http(t.h.port, "POST", "/api/usecases", &post, &r));
    ASSERT_EQ_INT(r.status, 201);
    hh_test_resp_free(&r);
    ASSERT_TRUE(http(t.h.port, "GET", "/api/usecases/by-cookie", &get_uc, &r));
    ASSERT_EQ_INT(r.status, 200);
    hh_test_resp_free(&r);
    /* a foreign Origin on a GET with a cookie, and on a login */
    req_opt_t evil_get = { .cookie = cookie, .origin = "https://localhost:1" };
    ASSERT_TRUE(http(t.h.port, "GET", "/api/me", &evil_get, &r));
    ASSERT_EQ_INT(r.status, 403);
    hh_test_resp_free(&r);
    req_opt_t evil_login = { .origin = "http://evil.example",
                             .body = "{\"username\":\"lena\",\"password\":\"" PW_LENA "\"}" };
    ASSERT_TRUE(http(t.h.port, "POST", "/api/login", &evil_login, &r));
    ASSERT_EQ_INT(r.status, 403);
    hh_test_resp_free(&r);

    /* logout: needs the token too, expires the cookie, ends the session */
    req_opt_t out = { .cookie = cookie };
    ASSERT_TRUE(http(t.h.port, "POST", "/api/logout", &out, &r));
    ASSERT_EQ_INT(r.status, 403);
    hh_test_resp_free(&r);
    out.csrf = csrf;
    ASSERT_TRUE(http(t.h.port, "POST", "/api/logout", &out, &r));
    ASSERT_EQ_INT(r.status, 200);
    hh_test_resp_header(&r, "Set-Cookie", sc, sizeof sc);
    ASSERT_TRUE(strstr(sc, "hoheit_session=;") != NULL);
    ASSERT_TRUE(strstr(sc, "Max-Age=0") != NULL);
    hh_test_resp_free(&r);
    ASSERT_TRUE(http(t.h.port, "GET", "/api/me", &oc, &r));
    ASSERT_EQ_INT(r.status, 401);
    ASSERT_STREQ(hh_test_resp_err_code(&r), "invalid_session");
    hh_test_resp_free(&r);
    /* ada's session is untouched by lena's logout */
    ASSERT_TRUE(http(t.h.port, "GET", "/api/me", &get_uc, &r));
    ASSERT_EQ_INT(r.status, 200);
    hh_test_resp_free(&r);

    /* an expired session (its end written into the past) is refused */
    ASSERT_EQ_INT(sql_int(t.h.st, "UPDATE sessions SET expires_at = 1"), 1);
    ASSERT_TRUE(http(t.h.port, "GET", "/api/me", &get_uc, &r));
    ASSERT_EQ_INT(r.status, 401);
    ASSERT_STREQ(hh_test_resp_err_code(&r), "invalid_session");
    hh_test_resp_free(&r);
    ASSERT_EQ_INT(sql_int(t.h.st, "SELECT COUNT(*) FROM sessions"), 0);

    /* a password change ends the sessions; the old password stops working */
    ASSERT_EQ_INT(login(&t, "lena", PW_LENA, cookie, csrf, NULL), 200);
    ASSERT_TRUE(http(t.h.port, "GET", "/api/me", &oc, &r));
    ASSERT_EQ_INT(r.status, 200);
    hh_test_resp_free(&r);
    hh_err_t err;
    ASSERT_OK(hh_store_user_set_password(t.h.st, "lena", "brand new password", &err));
    ASSERT_TRUE(http(t.h.port, "GET", "/api/me", &oc, &r));
    ASSERT_EQ_INT(r.status, 401);
    hh_test_resp_free(&r);
    ASSERT_EQ_INT(login(&t, "lena", PW_LENA, NULL, NULL, NULL), 401);
    ASSERT_EQ_INT(login(&t, "lena", "brand new password", cookie, csrf, NULL), 200);

    /* a disabled user: the session stops, the login fails like any other */
    ASSERT_OK(hh_store_user_set_disabled(t.h.st, "lena", true, &err));
    ASSERT_TRUE(http(t.h.port, "GET", "/api/me", &oc, &r));
    ASSERT_EQ_INT(r.status, 401);
    hh_test_resp_free(&r);
    ASSERT_EQ_INT(login(&t, "lena", "brand new password", NULL, NULL, &r), 401);
    ASSERT_STREQ(hh_test_resp_err_code(&r), "invalid_credentials");
    hh_test_resp_free(&r);

    /* garbage cookies */
    req_opt_t junk = { .cookie = "x" };
    ASSERT_TRUE(http(t.h.port, "GET", "/api/me", &junk, &r));
    ASSERT_EQ_INT(r.status, 401);
    hh_test_resp_free(&r);
    hh_test_srv_stop(&t.h);
}

TEST(login_http_throttle_and_idle_timeout)
{
    hh_http_params_t p = hh_http_default_params();
    p.login_max_failures = 3;
    p.login_max_failures_addr = 6;
    p.login_window_s = 60;
    p.session_idle_ms = 1000;
    login_srv_t t;
    ASSERT_TRUE(srv_start(&t, "throttle", &p));
    hh_test_resp_t r;
    char cookie[HH_SESSION_TOKEN_LEN + 1], csrf[HH_SESSION_TOKEN_LEN + 1];

    /* the idle timeout (1 s here): requests 0.4 s apart keep the session
     * alive past it (0.6 s of slack each for a loaded machine), silence
     * ends it */
    ASSERT_EQ_INT(login(&t, "ada", PW_ADA, cookie, csrf, NULL), 200);
    req_opt_t oc = { .cookie = cookie };
    for (int i = 0; i < 3; i++) {
        sleep_ms(400);
        ASSERT_TRUE(http(t.h.port, "GET", "/api/me", &oc, &r));
        ASSERT_EQ_INT(r.status, 200);
        hh_test_resp_free(&r);
    }
    sleep_ms(1300);
    ASSERT_TRUE(http(t.h.port, "GET", "/api/me", &oc, &r));
    ASSERT_EQ_INT(r.status, 401);
    ASSERT_STREQ(hh_test_resp_err_code(&r), "invalid_session");
    hh_test_resp_free(&r);

    for (int i = 0; i < 3; i++)
        ASSERT_EQ_INT(login(&t, "lena", "guess number one", NULL, NULL, NULL), 401);
    /* the user name is locked now, even with the right password */
    ASSERT_EQ_INT(login(&t, "lena", PW_LENA, NULL, NULL, &r), 429);
    ASSERT_STREQ(hh_test_resp_err_code(&r), "too_many_login_attempts");
    char ra[32];
    hh_test_resp_header(&r, "Retry-After", ra, sizeof ra);
    int retry = atoi(ra);
    ASSERT_TRUE(retry >= 1 && retry <= 60);
    hh_test_resp_free(&r);
    /* another user from the same address still gets in (3 < 6 failures) */
    ASSERT_EQ_INT(login(&t, "ada", PW_ADA, cookie, csrf, NULL), 200);
    /* three more failures under other names reach the address limit */
    ASSERT_EQ_INT(login(&t, "ghost1", "guess number two", NULL, NULL, NULL), 401);
    ASSERT_EQ_INT(login(&t, "ghost2", "guess number two", NULL, NULL, NULL), 401);
    ASSERT_EQ_INT(login(&t, "ada", "guess number two", NULL, NULL, NULL), 401);
    ASSERT_EQ_INT(login(&t, "ada", PW_ADA, NULL, NULL, &r), 429);
    hh_test_resp_header(&r, "Retry-After", ra, sizeof ra);
    ASSERT_TRUE(atoi(ra) >= 1 && atoi(ra) <= 60);
    hh_test_resp_free(&r);

    hh_test_srv_stop(&t.h);
}

/* ---- bursts: memory and the throttle under parallel logins ---------------- */

/* Released together: the attacker threads wait for go. */
typedef struct burst_gate {
    pthread_mutex_t mu;
    pthread_cond_t  cv;
    bool            go;
} burst_gate_t;

/* One attacker thread: a login with its own user name and password. */
typedef struct burst_arg {
    int           port;
    burst_gate_t *gate;
    char          user[64];
    const char   *pw;
    int           status;   /* HTTP status, negative: no answer */
    char          code[48]; /* error.code of the answer */
} burst_arg_t;

static void *burst_one(void *p)
{
    burst_arg_t *a = p;
    char body[256];
    snprintf(body, sizeof body, "{\"username\":\"%s\",\"password\":\"%s\"}", a->user, a->pw);
    hh_test_req_t q = { .method = "POST", .path = "/api/login", .body = body };
    pthread_mutex_lock(&a->gate->mu);
    while (!a->gate->go)
        pthread_cond_wait(&a->gate->cv, &a->gate->mu);
    pthread_mutex_unlock(&a->gate->mu);
    hh_test_resp_t r;
    a->status = hh_test_http_req(a->port, &q, &r) == 0 ? r.status : -1;
    snprintf(a->code, sizeof a->code, "%s", a->status > 0 ? hh_test_resp_err_code(&r) : "(no answer)");
    hh_test_resp_free(&r);
    return NULL;
}

/* Sends n logins at once (released together) from 127.0.0.1: user name
 * user_fmt with %d = i (without %d: the same name each time), password
 * pw. Counts the answers by status into n200/n401/n429 and the rest into
 * *other; *busy (may be NULL) gets how many of the 429s were login_busy. False when not every thread could start (those that did still
 * ran and are counted). */
static bool burst(int port, int n, const char *user_fmt, const char *pw, int *n200, int *n401, int *n429, int *other,
                  int *busy)
{
    burst_arg_t *args = calloc((size_t)n, sizeof *args);
    pthread_t *th = calloc((size_t)n, sizeof *th);
    burst_gate_t gate = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false };
    bool ok = args && th;
    int started = 0;
    for (int i = 0; ok && i < n; i++) {
        args[i].port = port;
        args[i].gate = &gate;
        args[i].pw = pw;
        snprintf(args[i].user, sizeof args[i].user, user_fmt, i);
        if (pthread_create(&th[i], NULL, burst_one, &args[i]) != 0)
            ok = false;
        else
            started++;
    }
    pthread_mutex_lock(&gate.mu);
    gate.go = true;
    pthread_cond_broadcast(&gate.cv);
    pthread_mutex_unlock(&gate.mu);
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    *n200 = *n401 = *n429 = *other = 0;
    if (busy)
        *busy = 0;
    for (int i = 0; i < started; i++) {
        int st = args[i].status;
        if (st == 200)
            (*n200)++;
        else if (st == 401)
            (*n401)++;
        else if (st == 429) {
            (*n429)++;
            if (busy && !strcmp(args[i].code, "login_busy"))
                (*busy)++;
        }
        else {
            if (*other < 3)
                printf("    answer %d: %d %s\n", i, st, args[i].code);
            (*other)++;
        }
    }
    free(args);
    free(th);
    return ok;
}

/* A "Vm...:" line of /proc/self/status in KiB, -1 when missing. */
static long proc_kib(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    while (f && v < 0 && fgets(line, sizeof line, f))
        if (!strncmp(line, field, strlen(field)))
            v = strtol(line + strlen(field), NULL, 10);
    if (f)
        fclose(f);
    return v;
}

/* Resets the peak resident set (VmHWM) to the current one (Linux >= 4.0). */
static bool reset_peak_rss(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f)
        return false;
    bool ok = fputs("5", f) >= 0;
    return fclose(f) == 0 && ok;
}

/* Issue 12 finding 2: every login hashed at once with 64 MiB each (30
 * parallel logins took a server from 58 MB to 1.68 GB). 200 parallel
 * logins without a key, once with the defaults (one hash per address) and
 * once with the per-address bound lifted (the global bound alone), must
 * leave the peak resident set of this process (the server runs in it)
 * less than RSS_BOUND_MIB above where it started, and every login gets
 * 200, 401 or 429. The throttle limits are raised so that it is the hash bound
 * that holds the memory, not the lockout. */
#define NBURST 200   /* parallel logins of the memory test */
/* Peak RSS growth allowed: 2 hash slots x 64 MiB plus the 200 client
 * threads and connections of this process (measured: +75 / +139 MiB, +131 /
 * +176 MiB under ASan); 4 hashes at once would already exceed it, and 40
 * unbounded logins took +772 MiB. With a server's own ~60 MB that keeps it
 * under 300 MB. */
#define RSS_BOUND_MIB 240
TEST(login_http_parallel_logins_bounded_memory)
{
    hh_http_params_t p = hh_http_default_params();
    p.login_max_failures = 10000;
    p.login_max_failures_addr = 10000;
    /* all 200 come from 127.0.0.1: let every one reach the login handler
     * (the per-address connection cap would refuse most of them at connect) */
    p.max_conn_per_addr = NBURST + 16;
    login_srv_t t;
    ASSERT_TRUE(srv_start(&t, "burst-mem", &p));
    int n200, n401, n429, other;
    if (!reset_peak_rss())
        SKIP("cannot reset the peak RSS through /proc/self/clear_refs");
    long base = proc_kib("VmRSS:");
    ASSERT_TRUE(base > 0);
    double t0 = mono_s();
    ASSERT_TRUE(burst(t.h.port, NBURST, "ghost%d", "wrong password", &n200, &n401, &n429, &other, NULL));
    long peak = proc_kib("VmHWM:");
    printf("    defaults: %d x 401, %d x 429 in %.1f s; peak RSS %ld MiB above %ld MiB\n", n401, n429,
           mono_s() - t0, (peak - base) / 1024, base / 1024);
    ASSERT_EQ_INT(other, 0);
    ASSERT_EQ_INT(n200, 0);
    ASSERT_EQ_INT(n401 + n429, NBURST);
    ASSERT_GE(n401, 1);
    ASSERT_LE(peak - base, RSS_BOUND_MIB * 1024);
    hh_test_srv_stop(&t.h);

    /* the global bound alone: any number per address, the default in total */
    p.login_hash_per_addr = 1000;
    ASSERT_TRUE(srv_start(&t, "burst-mem-global", &p));
    ASSERT_TRUE(reset_peak_rss());
    base = proc_kib("VmRSS:");
    t0 = mono_s();
    ASSERT_TRUE(burst(t.h.port, NBURST, "lena", "wrong password", &n200, &n401, &n429, &other, NULL));
    peak = proc_kib("VmHWM:");
    printf("    global bound only: %d x 401, %d x 429 in %.1f s; peak RSS %ld MiB above %ld MiB\n", n401, n429,
           mono_s() - t0, (peak - base) / 1024, base / 1024);
    ASSERT_EQ_INT(other, 0);
    ASSERT_EQ_INT(n200, 0);
    ASSERT_EQ_INT(n401 + n429, NBURST);
    ASSERT_GE(n401, 1);
    ASSERT_LE(peak - base, RSS_BOUND_MIB * 1024);
    /* the burst is over: a real login gets its hash at once */
    char cookie[HH_SESSION_TOKEN_LEN + 1], csrf[HH_SESSION_TOKEN_LEN + 1];
    ASSERT_EQ_INT(login(&t, "ada", PW_ADA, cookie, csrf, NULL), 200);
    hh_test_srv_stop(&t.h);
}

/* Issue 12 finding 3: the throttle was checked before the hash and counted
 * after it, so a burst of 40 got 28 guesses at an account limited to 5
 * and 41 past an address limited to 20. Counted before the hash, a burst
 * gets exactly the limit as 401s (each one argon2 verification) and the
 * rest 429. A long hash wait so that no reserved attempt is refunded for
 * want of a hash slot on a slow machine. */
TEST(login_http_throttle_burst_cannot_race)
{
    hh_http_params_t p = hh_http_default_params();
    p.login_max_failures = 5;
    p.login_max_failures_addr = 10000;
    p.login_hash_wait_ms = 60000;
    login_srv_t t;
    ASSERT_TRUE(srv_start(&t, "burst-user", &p));
    int n200, n401, n429, other;
    ASSERT_TRUE(burst(t.h.port, 40, "lena", "wrong password", &n200, &n401, &n429, &other, NULL));
    printf("    one account, limit 5: %d x 401, %d x 429\n", n401, n429);
    ASSERT_EQ_INT(other, 0);
    ASSERT_EQ_INT(n200, 0);
    ASSERT_EQ_INT(n401, 5);
    ASSERT_EQ_INT(n429, 35);
    /* locked: even the right password waits for the window */
    ASSERT_EQ_INT(login(&t, "lena", PW_LENA, NULL, NULL, NULL), 429);
    hh_test_srv_stop(&t.h);

    p.login_max_failures = 10000;
    p.login_max_failures_addr = 20;
    ASSERT_TRUE(srv_start(&t, "burst-addr", &p));
    ASSERT_TRUE(burst(t.h.port, 40, "ghost%d", "wrong password", &n200, &n401, &n429, &other, NULL));
    printf("    one address, limit 20: %d x 401, %d x 429\n", n401, n429);
    ASSERT_EQ_INT(other, 0);
    ASSERT_EQ_INT(n200, 0);
    ASSERT_EQ_INT(n401, 20);
    ASSERT_EQ_INT(n429, 20);
    ASSERT_EQ_INT(login(&t, "ada", PW_ADA, NULL, NULL, NULL), 429);
    hh_test_srv_stop(&t.h);
}

/* A login that waited in vain for a hash slot gets 429 login_busy with
 * Retry-After and its throttle attempt back: with one slot and a 1 ms
 * wait, a burst at one name leaves that name as many attempts as the
 * burst's 401s did not use. */
TEST(login_http_busy_gives_attempt_back)
{
    hh_http_params_t p = hh_http_default_params();
    p.login_max_failures = 5;
    p.login_max_failures_addr = 10000;
    p.login_hash_slots = 1;
    p.login_hash_wait_ms = 1;
    login_srv_t t;
    ASSERT_TRUE(srv_start(&t, "busy", &p));
    int n200, n401, n429, other, busy;
    ASSERT_TRUE(burst(t.h.port, 30, "lena", "wrong password", &n200, &n401, &n429, &other, &busy));
    printf("    %d x 401, %d x 429 (%d login_busy)\n", n401, n429, busy);
    ASSERT_EQ_INT(other, 0);
    ASSERT_EQ_INT(n401 + n429, 30);
    ASSERT_GE(n401, 1);
    ASSERT_LE(n401, 5);
    ASSERT_GE(busy, 1);
    /* the busy ones were given back: exactly 5 - n401 more failures fit */
    hh_test_resp_t r;
    for (int i = n401; i < 5; i++)
        ASSERT_EQ_INT(login(&t, "lena", "wrong password", NULL, NULL, NULL), 401);
    ASSERT_EQ_INT(login(&t, "lena", PW_LENA, NULL, NULL, &r), 429);
    ASSERT_STREQ(hh_test_resp_err_code(&r), "too_many_login_attempts");
    hh_test_resp_free(&r);
    hh_test_srv_stop(&t.h);
}

/* ---- the CLI ------------------------------------------------------------ */

/* Runs "[printf STDIN |] $HOHEIT_BIN users ARGS", stdout into out (may be
 * NULL); returns the exit status (-1: no binary). */
static int run_users(const char *stdin_text, const char *args, char *out, size_t cap)
{
    char a[2048];
    snprintf(a, sizeof a, "users %s", args);
    return hh_test_run_cli(a, stdin_text, false, out, cap);
}

TEST(login_cli_users_passwd_list_disable)
{
    if (!getenv("HOHEIT_BIN")) SKIP("HOHEIT_BIN is not set (run through `make test`)");
    char dir[512], args[1024], out[4096];
    snprintf(dir, sizeof dir, "%s/login-cli", hh_test_tmpdir());
    hh_err_t err;
    hh_store_t *s = NULL;
    /* too short: refused, and no user is created */
    snprintf(args, sizeof args, "passwd kim --role member --password-stdin --data %s", dir);
    ASSERT_EQ_INT(run_users("only9char", args, NULL, 0), 1);
    ASSERT_OK(hh_store_open(&s, dir, &err));
    ASSERT_EQ_INT(hh_store_user_get(s, "kim", NULL, &err), HH_ENOENT);
    hh_store_close(s);
    ASSERT_EQ_INT(run_users("a fine password", args, NULL, 0), 0);
    /* a password as an argument is refused; without a terminal, so is the prompt */
    snprintf(args, sizeof args, "passwd kim 'a fine password' --data %s", dir);
    ASSERT_EQ_INT(run_users(NULL, args, NULL, 0), 2);
    snprintf(args, sizeof args, "passwd kim --data %s", dir);
    ASSERT_EQ_INT(run_users(NULL, args, NULL, 0), 2);
    /* an unknown user without --role */
    snprintf(args, sizeof args, "passwd nobody --password-stdin --data %s", dir);
    ASSERT_EQ_INT(run_users("a fine password", args, NULL, 0), 1);

    ASSERT_OK(hh_store_open(&s, dir, &err));
    char hash[256];
    stored_hash(s, "kim", hash, sizeof hash);
    ASSERT_TRUE(strncmp(hash, "$argon2id$", 10) == 0);
    ASSERT_OK(hh_store_login_verify(s, "kim", "a fine password", NULL, &err));
    ASSERT_OK(hh_store_user_ensure(s, "lou", "auditor", NULL, NULL, &err));
    ASSERT_OK(hh_store_user_add_department(s, "kim", "sales", &err));
    hh_store_close(s);

    snprintf(args, sizeof args, "list --data %s", dir);
    ASSERT_EQ_INT(run_users(NULL, args, out, sizeof out), 0);
    char name[64], role[32], deps[64], pw[8], dis[8];
    const char *kim = strstr(out, "\nkim ");
    const char *lou = strstr(out, "\nlou ");
    ASSERT_TRUE(kim != NULL && lou != NULL);
    ASSERT_EQ_INT(sscanf(kim, "%63s %31s %63s %7s %7s", name, role, deps, pw, dis), 5);
    ASSERT_STREQ(role, "member");
    ASSERT_STREQ(deps, "sales");
    ASSERT_STREQ(pw, "yes");
    ASSERT_STREQ(dis, "no");
    ASSERT_EQ_INT(sscanf(lou, "%63s %31s %63s %7s %7s", name, role, deps, pw, dis), 5);
    ASSERT_STREQ(role, "auditor");
    ASSERT_STREQ(deps, "-");
    ASSERT_STREQ(pw, "no");

    snprintf(args, sizeof args, "disable kim --data %s", dir);
    ASSERT_EQ_INT(run_users(NULL, args, NULL, 0), 0);
    ASSERT_OK(hh_store_open(&s, dir, &err));
    ASSERT_EQ_INT(hh_store_login_verify(s, "kim", "a fine password", NULL, &err), HH_ENOENT);
    hh_store_close(s);
}
