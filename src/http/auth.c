/* auth.c - browser login over HTTP: POST /api/login (password -> session
 * cookie + CSRF token, throttled per user name and per client address),
 * POST /api/logout, GET /api/me, and the cookie check on_request runs for
 * requests without a Bearer key (CSRF token on state-changing methods,
 * Origin against Host). Passwords and sessions live in the store
 * (store_auth.c); the throttle is in memory and starts empty at each start. */
#include "http/http_int.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#define THROTTLE_SLOTS   1024   /* distinct user names + addresses tracked at once */
#define THROTTLE_KEY_MAX (HH_STORE_NAME_MAX + 8)
#define DEFAULT_MAX_FAILURES      5
#define DEFAULT_MAX_FAILURES_ADDR 20
#define DEFAULT_WINDOW_S          900

/* Failed logins of one user name ("u:NAME") or client address ("a:ADDR")
 * since window_start; the counter starts over when the window has passed. */
typedef struct throttle_slot {
    char    key[THROTTLE_KEY_MAX];   /* "" = free */
    int     failures;
    int64_t window_start;            /* ms */
} throttle_slot_t;

struct ht_auth {
    pthread_mutex_t mu;
    throttle_slot_t slots[THROTTLE_SLOTS];
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int ht_auth_init(hh_http_server_t *s, hh_err_t *err)
{
    ht_auth_t *a = calloc(1, sizeof *a);
    if (!a)
        return hh_err_set(err, HH_ENOMEM, -1, "out of memory");
    pthread_mutex_init(&a->mu, NULL);
    s->auth = a;
    return 0;
}

void ht_auth_fini(hh_http_server_t *s)
{
    if (!s->auth)
        return;
    pthread_mutex_destroy(&s->auth->mu);
    free(s->auth);
    s->auth = NULL;
}

static int64_t window_ms(const hh_http_server_t *s)
{
    return (int64_t)(s->params.login_window_s > 0 ? s->params.login_window_s : DEFAULT_WINDOW_S) * 1000;
}

/* Caller holds a->mu. The slot of key, or NULL. */
static throttle_slot_t *slot_find(ht_auth_t *a, const char *key)
{
    for (int i = 0; i < THROTTLE_SLOTS; i++)
        if (a->slots[i].key[0] && !strcmp(a->slots[i].key, key))
            return &a->slots[i];
    return NULL;
}

/* Caller holds a->mu. A slot for key: its own, else a free or expired one,
 * else the one whose window started first (the table is bounded). */
static throttle_slot_t *slot_get(ht_auth_t *a, const char *key, int64_t now, int64_t win)
{
    throttle_slot_t *sl = slot_find(a, key), *oldest = NULL;
    if (sl)
        return sl;
    for (int i = 0; i < THROTTLE_SLOTS && !sl; i++) {
        throttle_slot_t *t = &a->slots[i];
        if (!t->key[0] || now - t->window_start >= win)
            sl = t;
        else if (!oldest || t->window_start < oldest->window_start)
            oldest = t;
    }
    if (!sl)
        sl = oldest;
    memset(sl, 0, sizeof *sl);
    snprintf(sl->key, sizeof sl->key, "%s", key);
    sl->window_start = now;
    return sl;
}

/* Seconds until key may try again, 0 when it may now. */
static int throttle_wait_s(hh_http_server_t *s, const char *key, int max_failures)
{
    int64_t now = now_ms(), win = window_ms(s);
    int wait = 0;
    pthread_mutex_lock(&s->auth->mu);
    throttle_slot_t *sl = slot_find(s->auth, key);
    if (sl && now - sl->window_start < win && sl->failures >= max_failures)
        wait = (int)((sl->window_start + win - now + 999) / 1000);
    pthread_mutex_unlock(&s->auth->mu);
    return wait;
}

static void throttle_fail(hh_http_server_t *s, const char *key)
{
    int64_t now = now_ms(), win = window_ms(s);
    pthread_mutex_lock(&s->auth->mu);
    throttle_slot_t *sl = slot_get(s->auth, key, now, win);
    if (now - sl->window_start >= win) {
        sl->failures = 0;
        sl->window_start = now;
    }
    sl->failures++;
    pthread_mutex_unlock(&s->auth->mu);
}

static void throttle_clear(hh_http_server_t *s, const char *key)
{
    pthread_mutex_lock(&s->auth->mu);
    throttle_slot_t *sl = slot_find(s->auth, key);
    if (sl)
        memset(sl, 0, sizeof *sl);
    pthread_mutex_unlock(&s->auth->mu);
}

/* "a:" + the peer's numeric address ("a:?" when unknown). */
static void client_key(struct MHD_Connection *c, char *out, size_t cap)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;
    if (sa && sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, ip, sizeof ip);
    else if (sa && sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, ip, sizeof ip);
    snprintf(out, cap, "a:%s", ip);
}

/* ---- responses with extra headers --------------------------------------- */

/* Queues text (malloc'd; taken) with status and up to two extra headers
 * (name/value pairs, NULL to skip). */
static enum MHD_Result send_with(struct MHD_Connection *c, ht_conn_t *cs, int status, char *text, const char *h1,
                                 const char *v1, const char *h2, const char *v2)
{
    if (!text)
        return MHD_NO;
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (h1)
        MHD_add_response_header(r, h1, v1);
    if (h2)
        MHD_add_response_header(r, h2, v2);
    return ht_queue(c, cs, status, r, strlen(text));
}

static enum MHD_Result send_json_with(struct MHD_Connection *c, ht_conn_t *cs, int status, cJSON *j, const char *h1,
                                      const char *v1)
{
    char *text = j ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    return send_with(c, cs, status, text, h1, v1, NULL, NULL);
}

/* The Set-Cookie value: max_age_s 0 expires it. */
static void cookie_header(const hh_http_server_t *s, const char *value, int64_t max_age_s, char *out, size_t cap)
{
    snprintf(out, cap, HT_SESSION_COOKIE "=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%lld%s", value,
             (long long)max_age_s, s->tls_cert_pem ? "; Secure" : "");
}

static hh_store_session_params_t session_params(const hh_http_server_t *s)
{
    hh_store_session_params_t p = hh_store_session_default_params();
    if (s->params.session_idle_ms > 0)
        p.idle_ms = s->params.session_idle_ms;
    if (s->params.session_max_ms > 0)
        p.max_ms = s->params.session_max_ms;
    return p;
}

/* ---- the cookie check --------------------------------------------------- */

static bool state_changing(const char *method)
{
    return !strcmp(method, "POST") || !strcmp(method, "PUT") || !strcmp(method, "PATCH") ||
           !strcmp(method, "DELETE");
}

/* An Origin header, when present, must name this server: the scheme it
 * serves and the Host the request was sent to. */
static bool origin_ok(const hh_http_server_t *s, struct MHD_Connection *c)
{
    const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
    if (!origin)
        return true;
    const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
    if (!host || !host[0])
        return false;
    const char *scheme = s->tls_cert_pem ? "https://" : "http://";
    size_t sl = strlen(scheme);
    if (strncasecmp(origin, scheme, sl) != 0)
        return false;
    const char *rest = origin + sl;
    size_t rl = strlen(rest);
    if (rl && rest[rl - 1] == '/')   /* tolerate one trailing slash */
        rl--;
    return rl == strlen(host) && strncasecmp(rest, host, rl) == 0;
}

int ht_auth_session(hh_http_server_t *s, struct MHD_Connection *c, const char *method, const char *cookie,
                    ht_conn_t *cs, hh_api_error_t *e)
{
    hh_store_session_params_t p = session_params(s);
    hh_store_session_t sess;
    if (hh_store_session_lookup(s->store, cookie, &p, &sess, NULL) != 0)
        return hh_api_error_set(e, 401, "invalid_request_error", "invalid_session", NULL,
                                "Your session has ended or is not valid; log in again");
    if (!origin_ok(s, c))
        return hh_api_error_set(e, 403, "invalid_request_error", "origin_mismatch", NULL,
                                "The Origin of this request is not this server");
    if (state_changing(method)) {
        const char *tok = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-CSRF-Token");
        size_t want = strlen(sess.csrf);
        /* Lengths are public (always HH_SESSION_TOKEN_LEN); the bytes are
         * compared in constant time. */
        if (!tok || strlen(tok) != want || want == 0 || sodium_memcmp(tok, sess.csrf, want) != 0)
            return hh_api_error_set(e, 403, "invalid_request_error", "csrf_failed", NULL,
                                    "A request with a session cookie must send the session's X-CSRF-Token");
    }
    cs->key = sess.key;
    cs->session = true;
    snprintf(cs->csrf, sizeof cs->csrf, "%s", sess.csrf);
    cs->session_expires_at = sess.expires_at;
    return 0;
}

/* ---- POST /api/login ---------------------------------------------------- */

enum MHD_Result ht_handle_login(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs)
{
    hh_api_error_t e;
    if (!origin_ok(s, c)) {
        hh_api_error_set(&e, 403, "invalid_request_error", "origin_mismatch", NULL,
                         "The Origin of this request is not this server");
        return ht_send_error(c, cs, &e);
    }
    cJSON *body = cs->body ? cJSON_ParseWithLength(cs->body, cs->len) : NULL;
    const cJSON *ju = cJSON_GetObjectItemCaseSensitive(body, "username");
    const cJSON *jp = cJSON_GetObjectItemCaseSensitive(body, "password");
    if (!cJSON_IsObject(body) || !cJSON_IsString(ju) || !cJSON_IsString(jp) || !ju->valuestring[0]) {
        cJSON_Delete(body);
        hh_api_error_set(&e, 400, "invalid_request_error", "invalid_body", NULL,
                         "Send {\"username\": \"...\", \"password\": \"...\"}");
        return ht_send_error(c, cs, &e);
    }
    char ukey[THROTTLE_KEY_MAX], akey[THROTTLE_KEY_MAX];
    snprintf(ukey, sizeof ukey, "u:%.*s", HH_STORE_NAME_MAX - 1, ju->valuestring);
    client_key(c, akey, sizeof akey);
    int max_u = s->params.login_max_failures > 0 ? s->params.login_max_failures : DEFAULT_MAX_FAILURES;
    int max_a = s->params.login_max_failures_addr > 0 ? s->params.login_max_failures_addr : DEFAULT_MAX_FAILURES_ADDR;
    int wait_u = throttle_wait_s(s, ukey, max_u), wait_a = throttle_wait_s(s, akey, max_a);
    int wait = wait_u > wait_a ? wait_u : wait_a;
    if (wait > 0) {
        cJSON_Delete(body);
        hh_api_error_set(&e, 429, "invalid_request_error", "too_many_login_attempts", NULL,
                         "Too many failed logins; try again in %d seconds", wait);
        char ra[32];
        snprintf(ra, sizeof ra, "%d", wait);
        return send_with(c, cs, 429, hh_api_error_json(&e), MHD_HTTP_HEADER_RETRY_AFTER, ra, NULL, NULL);
    }

    hh_store_user_t u;
    hh_err_t err;
    hh_err_clear(&err);
    int rc = hh_store_login_verify(s->store, ju->valuestring, jp->valuestring, &u, &err);
    cJSON_Delete(body);   /* the password is not needed past here */
    if (rc == HH_ENOENT) {
        throttle_fail(s, ukey);
        throttle_fail(s, akey);
        /* One message for unknown user, wrong password, no password and
         * disabled user: the answer must not tell them apart. */
        hh_api_error_set(&e, 401, "invalid_request_error", "invalid_credentials", NULL,
                         "Invalid user name or password");
        return send_with(c, cs, 401, hh_api_error_json(&e), NULL, NULL, NULL, NULL);
    }
    if (rc) {
        hh_api_error_set(&e, 500, "server_error", NULL, NULL, "login failed: %s", err.msg);
        return ht_send_error(c, cs, &e);
    }
    throttle_clear(s, ukey);

    hh_store_session_params_t p = session_params(s);
    char cookie[HH_SESSION_TOKEN_LEN + 1];
    hh_store_session_t sess;
    if ((rc = hh_store_session_create(s->store, u.id, &p, cookie, sizeof cookie, &sess, &err))) {
        hh_api_error_set(&e, 500, "server_error", NULL, NULL, "could not start a session: %s", err.msg);
        return ht_send_error(c, cs, &e);
    }
    char set_cookie[256];
    cookie_header(s, cookie, p.max_ms / 1000, set_cookie, sizeof set_cookie);
    sodium_memzero(cookie, sizeof cookie);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "user", u.name);
    cJSON_AddStringToObject(j, "role", u.role);
    cJSON_AddStringToObject(j, "csrf_token", sess.csrf);
    cJSON_AddNumberToObject(j, "expires_at", (double)sess.expires_at);
    cJSON_AddNumberToObject(j, "idle_timeout_s", (double)(p.idle_ms / 1000));
    enum MHD_Result res = send_json_with(c, cs, 200, j, MHD_HTTP_HEADER_SET_COOKIE, set_cookie);
    sodium_memzero(set_cookie, sizeof set_cookie);
    return res;
}

/* ---- POST /api/logout --------------------------------------------------- */

enum MHD_Result ht_handle_logout(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs)
{
    hh_api_error_t e;
    if (!cs->session) {
        hh_api_error_set(&e, 400, "invalid_request_error", "not_a_session", NULL,
                         "Logout ends a browser session; API keys are revoked with `hoheit keys revoke`");
        return ht_send_error(c, cs, &e);
    }
    const char *cookie = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, HT_SESSION_COOKIE);
    hh_err_t err;
    hh_err_clear(&err);
    int rc = cookie ? hh_store_session_delete(s->store, cookie, &err) : HH_ENOENT;
    if (rc && rc != HH_ENOENT) {
        hh_api_error_set(&e, 500, "server_error", NULL, NULL, "logout failed: %s", err.msg);
        return ht_send_error(c, cs, &e);
    }
    char set_cookie[256];
    cookie_header(s, "", 0, set_cookie, sizeof set_cookie);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddBoolToObject(j, "logged_out", true);
    return send_json_with(c, cs, 200, j, MHD_HTTP_HEADER_SET_COOKIE, set_cookie);
}

/* ---- GET /api/me -------------------------------------------------------- */

enum MHD_Result ht_handle_me(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs)
{
    hh_store_user_info_t info;
    hh_err_t err;
    hh_err_clear(&err);
    if (hh_store_user_info(s->store, cs->key.user_id, &info, &err) != 0) {
        hh_api_error_t e;
        hh_api_error_set(&e, 500, "server_error", NULL, NULL, "%s", err.msg);
        return ht_send_error(c, cs, &e);
    }
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "user", info.user.name);
    cJSON_AddStringToObject(j, "role", info.user.role);
    cJSON *deps = cJSON_AddArrayToObject(j, "departments");
    for (char *p = info.departments; deps && *p;) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        cJSON_AddItemToArray(deps, cJSON_CreateString(p));
        p = comma ? comma + 1 : p + strlen(p);
    }
    cJSON_AddStringToObject(j, "auth", cs->session ? "session" : "api_key");
    cJSON_AddBoolToObject(j, "has_password", info.has_password);
    if (cs->session) {
        cJSON_AddStringToObject(j, "csrf_token", cs->csrf);
        cJSON_AddNumberToObject(j, "expires_at", (double)cs->session_expires_at);
    } else {
        cJSON_AddStringToObject(j, "key_prefix", cs->key.prefix);
    }
    return send_json_with(c, cs, 200, j, NULL, NULL);
}
