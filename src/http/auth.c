/* auth.c - browser login over HTTP: POST /api/login (password -> session
 * cookie + CSRF token, throttled per user name and per client address),
 * POST /api/logout, GET /api/me, and the cookie check on_request runs for
 * requests without a Bearer key (CSRF token on state-changing methods,
 * Origin against Host). Passwords and sessions live in the store
 * (store_auth.c); the throttle is in memory and starts empty at each start.
 *
 * A login costs one argon2id verification of 64 MiB, and anyone can ask
 * for one, so two bounds sit in front of it (issue 12, findings 2 and 3):
 *  - the attempt is counted against the user name's and the address's
 *    limits BEFORE the hash, check and count under one lock, so a burst
 *    gets exactly the limit and no more; a success clears the name's count
 *    and gives the address its attempt back (failures only count there);
 *  - at most login_hash_slots hashes run at once in the server, at most
 *    login_hash_per_addr for one client address; a login waits up to
 *    login_hash_wait_ms for its turn, then gets 429 login_busy and its
 *    attempt back (no password was tried).
 * A login that gets its turn does exactly one verification whatever the
 * outcome (store_auth.c), so the answer time tells nothing.
 *
 * Audit (audit_http.c; docs/COMPLIANCE.md "Action records"): every login
 * that got its turn is recorded, kind "auth", as "success" (the user) or
 * "failure" (the name tried, one shape for every reason); a throttled one
 * as "locked" once per locked name or address and window; login_busy as
 * "busy" at most once a second (with the count left out); a logout as
 * "done"; a session cookie refused for its Origin or CSRF token as
 * "refused". */
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
#define DEFAULT_HASH_SLOTS        2
#define DEFAULT_HASH_PER_ADDR     1
#define DEFAULT_HASH_WAIT_MS      3000

/* Failed logins of one user name ("u:NAME") or client address ("a:ADDR")
 * since window_start; the counter starts over when the window has passed. */
typedef struct throttle_slot {
    char    key[THROTTLE_KEY_MAX];   /* "" = free */
    int     failures;
    int64_t window_start;            /* ms */
    bool    lock_recorded;           /* this window's lockout has its audit record */
} throttle_slot_t;

/* A client address with hashes running; key "" = free. At most one entry
 * per running hash exists, so HH_HTTP_LOGIN_HASH_SLOTS_MAX entries do. */
typedef struct hash_user {
    char key[THROTTLE_KEY_MAX];
    int  running;
} hash_user_t;

struct ht_auth {
    pthread_mutex_t mu;
    pthread_cond_t  hash_done;   /* signalled when a hash slot frees (CLOCK_MONOTONIC) */
    throttle_slot_t slots[THROTTLE_SLOTS];
    int             hashing;     /* hashes running now */
    hash_user_t     hash_users[HH_HTTP_LOGIN_HASH_SLOTS_MAX];
    int64_t         busy_recorded_ms;   /* mono ms of the last login_busy audit record, 0 none */
    uint64_t        busy_unrecorded;    /* login_busy answers since then without a record */
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

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
    pthread_condattr_t ca;
    if (pthread_condattr_init(&ca) != 0) {
        free(a);
        return hh_err_set(err, HH_ENOMEM, -1, "out of memory");
    }
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(&a->hash_done, &ca);
    pthread_condattr_destroy(&ca);
    if (rc != 0) {
        free(a);
        return hh_err_set(err, HH_ENOMEM, -1, "out of memory");
    }
    pthread_mutex_init(&a->mu, NULL);
    s->auth = a;
    return 0;
}

void ht_auth_fini(hh_http_server_t *s)
{
    if (!s->auth)
        return;
    pthread_cond_destroy(&s->auth->hash_done);
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
 * else the one whose window started first (the table is bounded); never
 * the slot keep (may be NULL). */
static throttle_slot_t *slot_get(ht_auth_t *a, const char *key, int64_t now, int64_t win,
                                 const throttle_slot_t *keep)
{
    throttle_slot_t *sl = slot_find(a, key), *oldest = NULL;
    if (sl)
        return sl;
    for (int i = 0; i < THROTTLE_SLOTS && !sl; i++) {
        throttle_slot_t *t = &a->slots[i];
        if (t == keep)
            continue;
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

/* Caller holds a->mu. Seconds until sl's key may try again (limit max),
 * 0 when it may now; a passed window starts over. */
static int slot_wait_s(throttle_slot_t *sl, int max, int64_t now, int64_t win)
{
    if (now - sl->window_start >= win) {
        sl->failures = 0;
        sl->window_start = now;
        sl->lock_recorded = false;
    }
    if (sl->failures < max)
        return 0;
    return (int)((sl->window_start + win - now + 999) / 1000);
}

/* Counts one attempt against the user name (ukey, limit max_u) and the
 * address (akey, limit max_a) unless either is at its limit: check and
 * count under one lock, so parallel logins cannot all pass the check
 * before any is counted. Returns 0 when counted, else the seconds until
 * the later of the two may try again (nothing counted); then *record says
 * whether this is the first refusal of a locked name or address in its
 * window (only that one gets an audit record: a locked-out attacker's
 * every further try would otherwise grow the chain without bound). */
static int throttle_reserve(hh_http_server_t *s, const char *ukey, int max_u, const char *akey, int max_a,
                            bool *record)
{
    int64_t now = now_ms(), win = window_ms(s);
    ht_auth_t *a = s->auth;
    pthread_mutex_lock(&a->mu);
    throttle_slot_t *su = slot_get(a, ukey, now, win, NULL);
    throttle_slot_t *sa = slot_get(a, akey, now, win, su);
    int wu = slot_wait_s(su, max_u, now, win), wa = slot_wait_s(sa, max_a, now, win);
    int wait = wu > wa ? wu : wa;
    *record = false;
    if (wait == 0) {
        su->failures++;
        sa->failures++;
    }
    if (wu > 0 && !su->lock_recorded)
        *record = su->lock_recorded = true;
    if (wa > 0 && !sa->lock_recorded)
        *record = sa->lock_recorded = true;
    pthread_mutex_unlock(&a->mu);
    return wait;
}

/* Gives back an attempt throttle_reserve counted against key. */
static void throttle_refund(hh_http_server_t *s, const char *key)
{
    pthread_mutex_lock(&s->auth->mu);
    throttle_slot_t *sl = slot_find(s->auth, key);
    if (sl && sl->failures > 0)
        sl->failures--;
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

/* ---- the hash slots ----------------------------------------------------- */

static int param_or(int v, int def)
{
    return v > 0 ? v : def;
}

/* Caller holds a->mu. The entry of address key, or NULL. */
static hash_user_t *hash_user_find(ht_auth_t *a, const char *key)
{
    for (int i = 0; i < HH_HTTP_LOGIN_HASH_SLOTS_MAX; i++)
        if (a->hash_users[i].key[0] && !strcmp(a->hash_users[i].key, key))
            return &a->hash_users[i];
    return NULL;
}

/* Takes one of the server's hash slots for address akey, waiting up to
 * login_hash_wait_ms for one to free (a slot in total and one within the
 * address's share). true when taken: the caller hashes and then calls
 * hash_release; false when the wait ran out. */
static bool hash_acquire(hh_http_server_t *s, const char *akey)
{
    ht_auth_t *a = s->auth;
    int slots = param_or(s->params.login_hash_slots, DEFAULT_HASH_SLOTS);
    if (slots > HH_HTTP_LOGIN_HASH_SLOTS_MAX)
        slots = HH_HTTP_LOGIN_HASH_SLOTS_MAX;
    int per_addr = param_or(s->params.login_hash_per_addr, DEFAULT_HASH_PER_ADDR);
    int64_t deadline = mono_ms() + param_or(s->params.login_hash_wait_ms, DEFAULT_HASH_WAIT_MS);
    struct timespec dl = { (time_t)(deadline / 1000), (long)(deadline % 1000) * 1000000L };
    bool taken = false;
    pthread_mutex_lock(&a->mu);
    for (;;) {
        hash_user_t *hu = hash_user_find(a, akey);
        if (a->hashing < slots && (!hu || hu->running < per_addr)) {
            /* a free entry exists: entries in use <= a->hashing < slots <= the table */
            for (int i = 0; !hu && i < HH_HTTP_LOGIN_HASH_SLOTS_MAX; i++)
                if (!a->hash_users[i].key[0]) {
                    hu = &a->hash_users[i];
                    snprintf(hu->key, sizeof hu->key, "%s", akey);
                    hu->running = 0;
                }
            hu->running++;
            a->hashing++;
            taken = true;
            break;
        }
        if (pthread_cond_timedwait(&a->hash_done, &a->mu, &dl) != 0 && mono_ms() >= deadline)
            break;
    }
    pthread_mutex_unlock(&a->mu);
    return taken;
}

/* Whether a login_busy answer gets an audit record: at most one a second
 * (a crowd of waiting logins would otherwise write one each); *skipped
 * gets how many went unrecorded since the last record. */
static bool busy_record(hh_http_server_t *s, uint64_t *skipped)
{
    ht_auth_t *a = s->auth;
    int64_t now = mono_ms();
    pthread_mutex_lock(&a->mu);
    bool rec = a->busy_recorded_ms == 0 || now - a->busy_recorded_ms >= 1000;
    *skipped = a->busy_unrecorded;
    if (rec) {
        a->busy_recorded_ms = now;
        a->busy_unrecorded = 0;
    } else {
        a->busy_unrecorded++;
    }
    pthread_mutex_unlock(&a->mu);
    return rec;
}

/* Frees the slot hash_acquire took for akey and wakes the waiters. */
static void hash_release(hh_http_server_t *s, const char *akey)
{
    ht_auth_t *a = s->auth;
    pthread_mutex_lock(&a->mu);
    hash_user_t *hu = hash_user_find(a, akey);
    if (hu && --hu->running <= 0)
        memset(hu, 0, sizeof *hu);
    a->hashing--;
    pthread_cond_broadcast(&a->hash_done);
    pthread_mutex_unlock(&a->mu);
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
    /* A live session's cookie sent from another origin or without its
     * CSRF token is what a cross-site request forgery looks like: recorded
     * (for the session's user) as well as refused. */
    const char *route = ht_route_pattern(cs->route);
    if (!origin_ok(s, c)) {
        ht_audit(s, cs, "auth", sess.key.user, "refused", "session request refused: origin_mismatch (%s %s)", method,
                 route ? route : "?");
        return hh_api_error_set(e, 403, "invalid_request_error", "origin_mismatch", NULL,
                                "The Origin of this request is not this server");
    }
    if (state_changing(method)) {
        const char *tok = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-CSRF-Token");
        size_t want = strlen(sess.csrf);
        /* Lengths are public (always HH_SESSION_TOKEN_LEN); the bytes are
         * compared in constant time. */
        if (!tok || strlen(tok) != want || want == 0 || sodium_memcmp(tok, sess.csrf, want) != 0) {
            ht_audit(s, cs, "auth", sess.key.user, "refused", "session request refused: csrf_failed (%s %s)",
                     method, route ? route : "?");
            return hh_api_error_set(e, 403, "invalid_request_error", "csrf_failed", NULL,
                                    "A request with a session cookie must send the session's X-CSRF-Token");
        }
    }
    cs->key = sess.key;
    cs->session = true;
    snprintf(cs->csrf, sizeof cs->csrf, "%s", sess.csrf);
    cs->session_expires_at = sess.expires_at;
    return 0;
}

/* ---- POST /api/login ---------------------------------------------------- */

enum MHD_Result ht_handle_login(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url)
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
    /* The audit records name the user name tried (a salted commitment in
     * the chain, its text erasable) and the address; a failure's record is
     * the same whether the name is unknown, the password wrong or the user
     * disabled, as the answer is. */
    const char *tried = ukey + 2, *addr = akey + 2;
    int max_u = param_or(s->params.login_max_failures, DEFAULT_MAX_FAILURES);
    int max_a = param_or(s->params.login_max_failures_addr, DEFAULT_MAX_FAILURES_ADDR);
    bool record = false;
    int wait = throttle_reserve(s, ukey, max_u, akey, max_a, &record);
    if (wait > 0) {
        cJSON_Delete(body);
        if (record)
            ht_audit(s, cs, "auth", tried, "locked",
                     "login refused from %s: too many failed logins, retry in %d s (further refusals of this name "
                     "or address in this window are not recorded)", addr, wait);
        hh_api_error_set(&e, 429, "invalid_request_error", "too_many_login_attempts", NULL,
                         "Too many failed logins; try again in %d seconds", wait);
        char ra[32];
        snprintf(ra, sizeof ra, "%d", wait);
        return send_with(c, cs, 429, hh_api_error_json(&e), MHD_HTTP_HEADER_RETRY_AFTER, ra, NULL, NULL);
    }
    /* From here the attempt is counted; every way out but a failed
     * password gives it back. */
    if (!hash_acquire(s, akey)) {
        cJSON_Delete(body);
        throttle_refund(s, ukey);
        throttle_refund(s, akey);
        uint64_t skipped = 0;
        if (busy_record(s, &skipped))
            ht_audit(s, cs, "auth", tried, "busy",
                     "login_busy from %s: no hash slot free in time (%llu more login_busy since the last record)",
                     addr, (unsigned long long)skipped);
        hh_api_error_set(&e, 429, "invalid_request_error", "login_busy", NULL,
                         "Too many logins at once; try again in a moment");
        return send_with(c, cs, 429, hh_api_error_json(&e), MHD_HTTP_HEADER_RETRY_AFTER, "1", NULL, NULL);
    }

    hh_store_user_t u;
    hh_err_t err;
    hh_err_clear(&err);
    int rc = hh_store_login_verify(s->store, ju->valuestring, jp->valuestring, &u, &err);
    hash_release(s, akey);
    cJSON_Delete(body);   /* the password is not needed past here */
    if (rc == HH_ENOENT) {
        /* One message for unknown user, wrong password, no password and
         * disabled user: the answer must not tell them apart. */
        ht_audit(s, cs, "auth", tried, "failure", "login failed from %s", addr);
        hh_api_error_set(&e, 401, "invalid_request_error", "invalid_credentials", NULL,
                         "Invalid user name or password");
        return send_with(c, cs, 401, hh_api_error_json(&e), NULL, NULL, NULL, NULL);
    }
    throttle_refund(s, akey);
    if (rc) {
        throttle_refund(s, ukey);
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
    ht_audit(s, cs, "auth", u.name, "success", "login from %s", addr);
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

enum MHD_Result ht_handle_logout(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url)
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
    ht_audit(s, cs, "auth", cs->key.user, "done", "logout");
    char set_cookie[256];
    cookie_header(s, "", 0, set_cookie, sizeof set_cookie);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddBoolToObject(j, "logged_out", true);
    return send_json_with(c, cs, 200, j, MHD_HTTP_HEADER_SET_COOKIE, set_cookie);
}

/* ---- GET /api/me -------------------------------------------------------- */

enum MHD_Result ht_handle_me(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url)
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

/* ---- the current password of a signed-in user (admin.c) ----------------- */

int ht_auth_check_password(hh_http_server_t *s, struct MHD_Connection *c, const char *name, const char *password,
                           int *retry_after_s, hh_api_error_t *e)
{
    *retry_after_s = 0;
    char ukey[THROTTLE_KEY_MAX], akey[THROTTLE_KEY_MAX];
    snprintf(ukey, sizeof ukey, "u:%.*s", HH_STORE_NAME_MAX - 1, name);
    client_key(c, akey, sizeof akey);
    bool locked_first = false;   /* the refusal is audited by the caller (admin.c) */
    int wait = throttle_reserve(s, ukey, param_or(s->params.login_max_failures, DEFAULT_MAX_FAILURES), akey,
                                param_or(s->params.login_max_failures_addr, DEFAULT_MAX_FAILURES_ADDR),
                                &locked_first);
    if (wait > 0) {
        *retry_after_s = wait;
        return hh_api_error_set(e, 429, "invalid_request_error", "too_many_login_attempts", NULL,
                                "Too many wrong passwords; try again in %d seconds", wait);
    }
    if (!hash_acquire(s, akey)) {
        throttle_refund(s, ukey);
        throttle_refund(s, akey);
        *retry_after_s = 1;
        return hh_api_error_set(e, 429, "invalid_request_error", "login_busy", NULL,
                                "Too many password checks at once; try again in a moment");
    }
    hh_err_t err;
    hh_err_clear(&err);
    int rc = hh_store_login_verify(s->store, name, password, NULL, &err);
    hash_release(s, akey);
    if (rc == HH_ENOENT)
        return hh_api_error_set(e, 403, "invalid_request_error", "wrong_password", "current_password",
                                "The current password is not correct");
    throttle_refund(s, akey);
    if (rc) {
        throttle_refund(s, ukey);
        return hh_api_error_set(e, 500, "server_error", NULL, NULL, "password check failed: %s", err.msg);
    }
    throttle_clear(s, ukey);
    return 0;
}
