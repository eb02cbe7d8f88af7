/* server.c - the HTTP transport: libmicrohttpd daemon, route table,
 * authentication, body limits, /health, /metrics, /v1/models, errors. */
#include "http/http_int.h"
#include "base/log.h"
#include "govern/gdpr.h"   /* the default conversation retention */

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* One signature for every handler. A JSON route's handler runs once, with
 * the body in cs->body / cs->len; a MULTIPART route's handler runs for the
 * headers (cs->piece_size NULL), for every piece of the body and at its end
 * (*cs->piece_size 0). url is the request's path. */
typedef enum MHD_Result (*ht_handler_fn)(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs,
                                         const char *url);

typedef struct ht_route {
    hh_http_route_info_t info;   /* method, path pattern, right, body kind, body limit */
    ht_handler_fn        fn;
    const char          *deny;   /* what another role may not do ("decide approvals"); NULL: "use this route" */
} ht_route_t;

static enum MHD_Result h_health(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url);
static enum MHD_Result h_metrics(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url);
static enum MHD_Result h_models(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url);
static enum MHD_Result h_model(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url);

/* Shorthands for the table only. */
#define OPEN      HH_HTTP_RIGHT_OPEN
#define KEY       HH_HTTP_RIGHT_KEY
#define ADMIN     HH_HTTP_RIGHT_ADMIN
#define AUDITOR   HH_HTTP_RIGHT_AUDITOR
#define APPROVER  HH_HTTP_RIGHT_APPROVER
#define NONE      HH_HTTP_BODY_NONE
#define JSON      HH_HTTP_BODY_JSON
#define MULTIPART HH_HTTP_BODY_MULTIPART
#define DENY_REGISTER "change the use-case register"
#define DENY_AGENTS "change agent definitions"
#define DENY_METRICS "read /metrics (Prometheus scrapes with an auditor key)"

/* Every route, once: method, path pattern, who may call it, its body and
 * the body's limit (0 with JSON: the server's max_body), the handler. The
 * right is checked (401, then 403) before the body is read; finer checks
 * (own vs. others', a collection's right) are the handler's. docs/SERVER.md
 * "Routes" lists the same table (tests/test_routes.c compares them). */
static const ht_route_t g_routes[] = {
    { { "GET",    "/health",                      OPEN, NONE, 0 }, h_health, NULL },
    { { "GET",    "/metrics",                     ADMIN | AUDITOR, NONE, 0 }, h_metrics, DENY_METRICS },
    { { "GET",    "/v1/models",                   KEY, NONE, 0 }, h_models, NULL },
    { { "GET",    "/v1/models/{id}",              KEY, NONE, 0 }, h_model, NULL },
    { { "POST",   "/v1/chat/completions",         KEY, JSON, 0 }, ht_handle_chat, NULL },
    { { "POST",   "/v1/completions",              KEY, JSON, 0 }, ht_handle_completions, NULL },
    { { "POST",   "/v1/embeddings",               KEY, JSON, 0 }, ht_handle_embeddings, NULL },
    { { "POST",   "/v1/responses",                KEY, JSON, 0 }, ht_handle_responses, NULL },
    { { "POST",   "/api/documents",               KEY, MULTIPART, HT_UPLOAD_BODY_MAX }, ht_handle_doc_upload, NULL },
    { { "GET",    "/api/documents",               KEY, NONE, 0 }, ht_handle_doc_list, NULL },
    { { "DELETE", "/api/documents/{id}",          KEY, NONE, 0 }, ht_handle_doc_delete, NULL },
    { { "GET",    "/api/documents/{id}/file",     KEY, NONE, 0 }, ht_handle_doc_file, NULL },
    { { "POST",   "/api/ask",                     KEY, JSON, 0 }, ht_handle_ask, NULL },
    { { "GET",    "/api/usecases",                KEY, NONE, 0 }, ht_handle_usecases, NULL },
    { { "POST",   "/api/usecases",                ADMIN, JSON, 0 }, ht_handle_usecases, DENY_REGISTER },
    { { "GET",    "/api/usecases/{id}",           KEY, NONE, 0 }, ht_handle_usecases, NULL },
    { { "PUT",    "/api/usecases/{id}",           ADMIN, JSON, 0 }, ht_handle_usecases, DENY_REGISTER },
    { { "DELETE", "/api/usecases/{id}",           ADMIN, NONE, 0 }, ht_handle_usecases, DENY_REGISTER },
    { { "GET",    "/api/approvals",               APPROVER | ADMIN | AUDITOR, NONE, 0 }, ht_handle_approvals,
      "list approvals" },
    { { "GET",    "/api/approvals/{id}",          KEY, NONE, 0 }, ht_handle_approvals, NULL },
    { { "POST",   "/api/approvals/{id}/{action}", APPROVER | ADMIN, JSON, 0 }, ht_handle_approvals,
      "decide approvals" },
    { { "POST",   "/api/login",                   OPEN, JSON, 0 }, ht_handle_login, NULL },
    { { "POST",   "/api/logout",                  KEY, NONE, 0 }, ht_handle_logout, NULL },
    { { "GET",    "/api/me",                      KEY, NONE, 0 }, ht_handle_me, NULL },
    { { "POST",   "/api/gdpr/export",             ADMIN, JSON, 0 }, ht_handle_gdpr_export, NULL },
    { { "POST",   "/api/gdpr/erase",              ADMIN, JSON, 0 }, ht_handle_gdpr_erase, NULL },
    { { "GET",    "/api/audit/verify",            ADMIN | AUDITOR, NONE, 0 }, ht_handle_audit_verify, NULL },
    { { "GET",    "/api/audit/export",            ADMIN | AUDITOR, NONE, 0 }, ht_handle_audit_export, NULL },
    { { "POST",   "/api/retention/sweep",         ADMIN, NONE, 0 }, ht_handle_retention_sweep, NULL },
    { { "GET",    "/api/usage",                   KEY, NONE, 0 }, ht_handle_usage, NULL },
    /* conversations (conversations.c): own ones only, whatever the role */
    { { "GET",    "/api/conversations",           KEY, NONE, 0 }, ht_handle_conv_list, NULL },
    { { "POST",   "/api/conversations",           KEY, JSON, 0 }, ht_handle_conv_create, NULL },
    { { "GET",    "/api/conversations/{id}",      KEY, NONE, 0 }, ht_handle_conv_get, NULL },
    { { "PATCH",  "/api/conversations/{id}",      KEY, JSON, 0 }, ht_handle_conv_rename, NULL },
    { { "DELETE", "/api/conversations/{id}",      KEY, NONE, 0 }, ht_handle_conv_delete, NULL },
    { { "GET",    "/api/conversations/{id}/export", KEY, NONE, 0 }, ht_handle_conv_export, NULL },
    /* administration (admin.c); auditors read the lists (an access review).
     * Own keys and password: everyone; a collection's rights: admins and
     * departments holding manage on it (checked by the handler). */
    { { "GET",    "/api/admin/users",             ADMIN | AUDITOR, NONE, 0 }, ht_handle_admin_users, NULL },
    { { "POST",   "/api/admin/users",             ADMIN, JSON, HT_ADMIN_BODY_MAX }, ht_handle_admin_users, NULL },
    { { "PATCH",  "/api/admin/users/{name}",      ADMIN, JSON, HT_ADMIN_BODY_MAX }, ht_handle_admin_users, NULL },
    { { "DELETE", "/api/admin/users/{name}",      ADMIN, NONE, 0 }, ht_handle_admin_users, NULL },
    { { "GET",    "/api/admin/users/{name}/keys", ADMIN | AUDITOR, NONE, 0 }, ht_handle_admin_users, NULL },
    { { "POST",   "/api/admin/users/{name}/keys", ADMIN, JSON, HT_ADMIN_BODY_MAX }, ht_handle_admin_users, NULL },
    { { "POST",   "/api/admin/users/{name}/password", ADMIN, JSON, HT_ADMIN_BODY_MAX }, ht_handle_admin_users, NULL },
    { { "DELETE", "/api/admin/keys/{id}",         ADMIN, NONE, 0 }, ht_handle_admin_keys, NULL },
    { { "GET",    "/api/me/keys",                 KEY, NONE, 0 }, ht_handle_me_keys, NULL },
    { { "POST",   "/api/me/keys",                 KEY, NONE, 0 }, ht_handle_me_keys, NULL },
    { { "DELETE", "/api/me/keys/{id}",            KEY, NONE, 0 }, ht_handle_me_keys, NULL },
    { { "POST",   "/api/me/password",             KEY, JSON, HT_ADMIN_BODY_MAX }, ht_handle_me_password, NULL },
    /* the caller's own agent memory (memory_api.c), whatever the role */
    { { "GET",    "/api/me/memory",               KEY, NONE, 0 }, ht_handle_memory, NULL },
    { { "POST",   "/api/me/memory",               KEY, JSON, HT_ADMIN_BODY_MAX }, ht_handle_memory, NULL },
    { { "PUT",    "/api/me/memory/{id}",          KEY, JSON, HT_ADMIN_BODY_MAX }, ht_handle_memory, NULL },
    { { "DELETE", "/api/me/memory/{id}",          KEY, NONE, 0 }, ht_handle_memory, NULL },
    { { "GET",    "/api/admin/departments",       ADMIN | AUDITOR, NONE, 0 }, ht_handle_admin_departments, NULL },
    { { "POST",   "/api/admin/departments",       ADMIN, JSON, HT_ADMIN_BODY_MAX }, ht_handle_admin_departments, NULL },
    { { "PATCH",  "/api/admin/departments/{name}", ADMIN, JSON, HT_ADMIN_BODY_MAX }, ht_handle_admin_departments,
      NULL },
    { { "DELETE", "/api/admin/departments/{name}", ADMIN, NONE, 0 }, ht_handle_admin_departments, NULL },
    { { "GET",    "/api/admin/models",            ADMIN | AUDITOR, NONE, 0 }, ht_handle_admin_models, NULL },
    { { "GET",    "/api/admin/quotas",            ADMIN | AUDITOR, NONE, 0 }, ht_handle_admin_quotas, NULL },
    { { "PUT",    "/api/admin/quotas/users/{name}", ADMIN, JSON, HT_ADMIN_BODY_MAX }, ht_handle_admin_quotas, NULL },
    { { "DELETE", "/api/admin/quotas/users/{name}", ADMIN, NONE, 0 }, ht_handle_admin_quotas, NULL },
    { { "PUT",    "/api/admin/quotas/departments/{name}", ADMIN, JSON, HT_ADMIN_BODY_MAX }, ht_handle_admin_quotas,
      NULL },
    { { "DELETE", "/api/admin/quotas/departments/{name}", ADMIN, NONE, 0 }, ht_handle_admin_quotas, NULL },
    { { "GET",    "/api/collections",             KEY, NONE, 0 }, ht_handle_collections, NULL },
    { { "POST",   "/api/collections",             ADMIN, JSON, HT_ADMIN_BODY_MAX }, ht_handle_collections, NULL },
    { { "DELETE", "/api/collections/{name}",      KEY, NONE, 0 }, ht_handle_collections, NULL },
    { { "PUT",    "/api/collections/{name}/rights/{dept}", KEY, JSON, HT_ADMIN_BODY_MAX }, ht_handle_collections, NULL },
    { { "DELETE", "/api/collections/{name}/rights/{dept}", KEY, NONE, 0 }, ht_handle_collections, NULL },
    /* agents (agents_api.c): definitions; a run's steps (the user who ran it, admins, auditors) */
    { { "GET",    "/api/agents",                  KEY, NONE, 0 }, ht_handle_agents, NULL },
    { { "POST",   "/api/agents",                  ADMIN, JSON, HT_ADMIN_BODY_MAX }, ht_handle_agents, DENY_AGENTS },
    { { "GET",    "/api/agents/runs/{id}",        KEY, NONE, 0 }, ht_handle_agent_run, NULL },
    { { "GET",    "/api/agents/{name}",           KEY, NONE, 0 }, ht_handle_agents, NULL },
    { { "PUT",    "/api/agents/{name}",           ADMIN, JSON, HT_ADMIN_BODY_MAX }, ht_handle_agents, DENY_AGENTS },
    { { "DELETE", "/api/agents/{name}",           ADMIN, NONE, 0 }, ht_handle_agents, DENY_AGENTS },
    /* the MCP server (mcp.c): JSON-RPC over streamable HTTP, the caller's rights; GET answers 405 */
    { { "POST",   "/mcp",                         KEY, JSON, 0 }, ht_handle_mcp, NULL },
    { { "DELETE", "/mcp",                         KEY, NONE, 0 }, ht_handle_mcp, NULL },
    /* the web UI (static.c), no key: the page itself holds nothing */
    { { "GET",    "/",                            OPEN, NONE, 0 }, ht_handle_static, NULL },
    { { "GET",    "/assets/{file}",               OPEN, NONE, 0 }, ht_handle_static, NULL },
    { { "GET",    "/assets/{dir}/{file}",         OPEN, NONE, 0 }, ht_handle_static, NULL },
};
#define N_ROUTES ((int)(sizeof g_routes / sizeof g_routes[0]))

#undef OPEN
#undef KEY
#undef ADMIN
#undef AUDITOR
#undef APPROVER
#undef NONE
#undef JSON
#undef MULTIPART
#undef DENY_REGISTER
#undef DENY_METRICS
#undef DENY_AGENTS

const hh_http_route_info_t *hh_http_route(size_t i)
{
    return i < (size_t)N_ROUTES ? &g_routes[i].info : NULL;
}

const char *ht_route_pattern(int route)
{
    return route >= 0 && route < N_ROUTES ? g_routes[route].info.path : NULL;
}

/* The roles a right can name, in the order messages list them. */
static const struct {
    unsigned    bit;
    const char *role, *plural;
} g_right_roles[] = {
    { HH_HTTP_RIGHT_APPROVER & ~HH_HTTP_RIGHT_KEY, "approver", "approvers" },
    { HH_HTTP_RIGHT_ADMIN & ~HH_HTTP_RIGHT_KEY, "admin", "admins" },
    { HH_HTTP_RIGHT_AUDITOR & ~HH_HTTP_RIGHT_KEY, "auditor", "auditors" },
};
#define N_RIGHT_ROLES (sizeof g_right_roles / sizeof g_right_roles[0])

const char *hh_http_right_roles(unsigned right, char *buf, size_t cap)
{
    size_t n = 0, len = 0, total = 0;
    for (size_t i = 0; i < N_RIGHT_ROLES; i++)
        total += (right & g_right_roles[i].bit) != 0;
    if (cap)
        buf[0] = '\0';
    for (size_t i = 0; i < N_RIGHT_ROLES && len < cap; i++) {
        if (!(right & g_right_roles[i].bit))
            continue;
        n++;
        len += (size_t)snprintf(buf + len, cap - len, "%s%s", n == 1 ? "" : n == total ? " and " : ", ",
                                g_right_roles[i].plural);
    }
    return buf;
}

/* Whether a key of role passes right (the key itself was checked before):
 * a right that names no role lets every key pass. */
static bool right_allows(unsigned right, const char *role)
{
    bool any_role = false;
    for (size_t i = 0; i < N_RIGHT_ROLES; i++) {
        if (!(right & g_right_roles[i].bit))
            continue;
        any_role = true;
        if (!strcmp(role, g_right_roles[i].role))
            return true;
    }
    return !any_role;
}

double ht_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

hh_http_params_t hh_http_default_params(void)
{
    hh_http_params_t p;
    memset(&p, 0, sizeof p);
    p.host = "127.0.0.1";
    p.port = 8080;
    p.data_dir = "./hoheit-data";
    p.max_body = 4u << 20;
    p.max_connections = 1024;
    p.conn_timeout_s = 120;
    p.max_conn_per_addr = 64;
    p.header_timeout_s = 30;
    p.body_min_rate = 1024;
    p.engine = hh_engine_default_params();
    p.session_idle_ms = HH_SESSION_IDLE_MS;
    p.session_max_ms = HH_SESSION_MAX_MS;
    p.login_max_failures = 5;
    p.login_max_failures_addr = 20;
    p.login_window_s = 900;
    p.login_hash_slots = 2;
    p.login_hash_per_addr = 1;
    p.login_hash_wait_ms = 3000;
    p.retention_interval_s = 3600;
    p.conversation_retention_days = HH_GDPR_CONVERSATION_RETENTION_DAYS;
    return p;
}

/* ---- responses -------------------------------------------------------- */

static enum MHD_Result send_text(struct MHD_Connection *c, ht_conn_t *cs, int status, const char *ctype, char *text,
                                 size_t len)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    if (status == 401)
        MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    if (status == 429) {   /* quota.c sets the seconds until its window frees; the queue says 1 */
        char ra[24];
        snprintf(ra, sizeof ra, "%d", cs && cs->retry_after_s > 0 ? cs->retry_after_s : 1);
        MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, ra);
    }
    if (cs && status == 200)
        ht_mark_headers(&cs->mark, r);   /* a generated answer (usecases.c) */
    return ht_queue(c, cs, status, r, len);
}

enum MHD_Result ht_queue(struct MHD_Connection *c, ht_conn_t *cs, int status, struct MHD_Response *r,
                         uint64_t bytes)
{
    if (cs && cs->log.request_id[0])
        MHD_add_response_header(r, "X-Request-Id", cs->log.request_id);
    enum MHD_Result ok = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    if (cs) {
        cs->status = status;
        cs->responded = true;
        if (bytes != HT_BYTES_UNKNOWN)
            cs->log.bytes_out = bytes;
    }
    return ok;
}

enum MHD_Result ht_send_json(struct MHD_Connection *c, ht_conn_t *cs, int status, cJSON *j)
{
    if (cs && status == 200)
        ht_mark_json(&cs->mark, j);   /* merges into an existing "hoheit" object */
    const cJSON *u = cs ? cJSON_GetObjectItemCaseSensitive(j, "usage") : NULL;
    if (cJSON_IsObject(u)) {   /* the access log's token counts (completions, embeddings, grounded chat) */
        const cJSON *pt = cJSON_GetObjectItemCaseSensitive(u, "prompt_tokens");
        const cJSON *ct = cJSON_GetObjectItemCaseSensitive(u, "completion_tokens");
        if (cJSON_IsNumber(pt))
            ht_log_tokens(&cs->log, (int64_t)pt->valuedouble, cJSON_IsNumber(ct) ? (int64_t)ct->valuedouble : 0);
    }
    char *s = j ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    if (!s)
        return MHD_NO;
    /* cJSON allocates with malloc by default, so MHD may free() it. */
    return send_text(c, cs, status, "application/json", s, strlen(s));
}

enum MHD_Result ht_send_error(struct MHD_Connection *c, ht_conn_t *cs, const hh_api_error_t *e)
{
    char *s = hh_api_error_json(e);
    if (!s)
        return MHD_NO;
    return send_text(c, cs, e->status, "application/json", s, strlen(s));
}

static enum MHD_Result send_err(struct MHD_Connection *c, ht_conn_t *cs, int status, const char *type,
                                const char *code, const char *fmt, const char *arg)
{
    hh_api_error_t e;
    hh_api_error_set(&e, status, type, code, NULL, fmt, arg);
    return ht_send_error(c, cs, &e);
}

/* ---- metrics ---------------------------------------------------------- */

static const double g_ttft_le[HT_N_TTFT_BUCKETS - 1] = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10 };
static const double g_tpot_le[HT_N_TPOT_BUCKETS - 1] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                        0.25,  0.5,    1,     2.5 };

static void hist_add(ht_hist_t *h, const double *le, int n_le, double v)
{
    int b = 0;
    while (b < n_le && v > le[b])
        b++;
    h->buckets[b]++;
    h->count++;
    h->sum += v;
}

void ht_metrics_generation(hh_http_server_t *s, double ttft_s, double per_token_s, bool canceled)
{
    pthread_mutex_lock(&s->m.mu);
    if (ttft_s >= 0)
        hist_add(&s->m.ttft, g_ttft_le, HT_N_TTFT_BUCKETS - 1, ttft_s);
    if (per_token_s >= 0)
        hist_add(&s->m.tpot, g_tpot_le, HT_N_TPOT_BUCKETS - 1, per_token_s);
    if (canceled)
        s->m.canceled++;
    pthread_mutex_unlock(&s->m.mu);
}

static void metrics_request(hh_http_server_t *s, int route, int status)
{
    pthread_mutex_lock(&s->m.mu);
    int i;
    for (i = 0; i < s->m.n_rows; i++)
        if (s->m.rows[i].route == route && s->m.rows[i].status == status)
            break;
    if (i == s->m.n_rows && i < HT_MAX_STATUS_ROWS) {
        s->m.rows[i] = (ht_status_row_t){ route, status, 0 };
        s->m.n_rows++;
    }
    if (i < s->m.n_rows)
        s->m.rows[i].count++;
    pthread_mutex_unlock(&s->m.mu);
}

/* Growable text for the Prometheus page. */
typedef struct sbuf { char *p; size_t len, cap; bool oom; } sbuf_t;

static void sb_printf(sbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf_t *b, const char *fmt, ...)
{
    if (b->oom)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = true;
            return;
        }
        if (b->p && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        size_t nc = (b->cap ? b->cap * 2 : 4096) + (size_t)n;
        char *np = realloc(b->p, nc);
        if (!np) {
            b->oom = true;
            return;
        }
        b->p = np;
        b->cap = nc;
    }
}

static void sb_hist(sbuf_t *b, const char *name, const char *help, const ht_hist_t *h, const double *le, int n_le)
{
    sb_printf(b, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    uint64_t cum = 0;
    for (int i = 0; i < n_le; i++) {
        cum += h->buckets[i];
        sb_printf(b, "%s_bucket{le=\"%g\"} %llu\n", name, le[i], (unsigned long long)cum);
    }
    cum += h->buckets[n_le];
    sb_printf(b, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.6f\n%s_count %llu\n", name, (unsigned long long)cum, name,
              h->sum, name, (unsigned long long)h->count);
}

static enum MHD_Result h_metrics(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url)
{
    /* The counters are global (every department's requests, latencies and
     * usage): admins and auditors only (the route table); Prometheus
     * scrapes with an auditor key (docs/OPERATIONS.md). */
    hh_engine_stats_t st;
    memset(&st, 0, sizeof st);
    hh_engine_stats(s->engine, &st);
    sbuf_t b = { 0 };
    sb_printf(&b, "# HELP hoheit_http_requests_total HTTP requests by route and status.\n"
                  "# TYPE hoheit_http_requests_total counter\n");
    pthread_mutex_lock(&s->m.mu);
    ht_metrics_t m = s->m;   /* snapshot (the mutex copy is never used) */
    pthread_mutex_unlock(&s->m.mu);
    for (int i = 0; i < m.n_rows; i++) {
        const char *path = m.rows[i].route >= 0 ? g_routes[m.rows[i].route].info.path : "other";
        const char *method = m.rows[i].route >= 0 ? g_routes[m.rows[i].route].info.method : "";
        sb_printf(&b, "hoheit_http_requests_total{method=\"%s\",route=\"%s\",status=\"%d\"} %llu\n", method, path,
                  m.rows[i].status, (unsigned long long)m.rows[i].count);
    }
    sb_printf(&b,
              "# HELP hoheit_prompt_tokens_total Prompt tokens processed.\n# TYPE hoheit_prompt_tokens_total counter\n"
              "hoheit_prompt_tokens_total %llu\n"
              "# HELP hoheit_generated_tokens_total Tokens generated.\n# TYPE hoheit_generated_tokens_total counter\n"
              "hoheit_generated_tokens_total %llu\n"
              "# HELP hoheit_draft_tokens_total Prompt-lookup draft tokens decoded.\n"
              "# TYPE hoheit_draft_tokens_total counter\nhoheit_draft_tokens_total %llu\n"
              "# HELP hoheit_draft_accepted_total Prompt-lookup draft tokens kept (equal to the greedy choice).\n"
              "# TYPE hoheit_draft_accepted_total counter\nhoheit_draft_accepted_total %llu\n"
              "# HELP hoheit_canceled_requests_total Generations canceled (client went away).\n"
              "# TYPE hoheit_canceled_requests_total counter\nhoheit_canceled_requests_total %llu\n"
              "# HELP hoheit_queue_depth Requests waiting for a slot.\n# TYPE hoheit_queue_depth gauge\n"
              "hoheit_queue_depth %d\n"
              "# HELP hoheit_slots_busy Slots generating.\n# TYPE hoheit_slots_busy gauge\nhoheit_slots_busy %d\n"
              "# HELP hoheit_slots_total Slots of loaded models.\n# TYPE hoheit_slots_total gauge\n"
              "hoheit_slots_total %d\n"
              "# HELP hoheit_kv_cache_used KV cache positions in use.\n# TYPE hoheit_kv_cache_used gauge\n"
              "hoheit_kv_cache_used %lld\n"
              "# HELP hoheit_kv_cache_total KV cache positions.\n# TYPE hoheit_kv_cache_total gauge\n"
              "hoheit_kv_cache_total %lld\n"
              "# HELP hoheit_models_loaded Models in memory.\n# TYPE hoheit_models_loaded gauge\n"
              "hoheit_models_loaded %d\n",
              (unsigned long long)st.prompt_tokens, (unsigned long long)st.generated_tokens,
              (unsigned long long)st.draft_tokens, (unsigned long long)st.draft_accepted, (unsigned long long)m.canceled, st.queue_depth, st.slots_busy, st.slots_total, (long long)st.kv_used,
              (long long)st.kv_total, st.models_loaded);
    sb_hist(&b, "hoheit_time_to_first_token_seconds", "Submit to first generated token.", &m.ttft, g_ttft_le,
            HT_N_TTFT_BUCKETS - 1);
    sb_hist(&b, "hoheit_time_per_output_token_seconds", "Mean time between generated tokens of a request.", &m.tpot,
            g_tpot_le, HT_N_TPOT_BUCKETS - 1);
    /* usage by department and use case (quota.c): department labels are for
     * admins and auditors only, as /api/usage?by=department is (the only
     * roles that get here) */
    char *usage = ht_quota_metrics(s, true);
    if (usage)
        sb_printf(&b, "%s", usage);
    else
        b.oom = true;
    free(usage);
    sb_printf(&b, "# HELP hoheit_audit_write_failures_total Audit records of HTTP actions that could not be written.\n"
                  "# TYPE hoheit_audit_write_failures_total counter\nhoheit_audit_write_failures_total %llu\n",
              (unsigned long long)atomic_load(&s->audit_failures));
    if (b.oom) {
        free(b.p);
        return MHD_NO;
    }
    return send_text(c, cs, 200, "text/plain; version=0.0.4", b.p, b.len);
}

/* ---- simple routes ---------------------------------------------------- */

static enum MHD_Result h_health(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "status", "ok");
    return ht_send_json(c, cs, 200, j);
}

static cJSON *model_json(const hh_engine_model_info_t *m)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", m->id);
    cJSON_AddStringToObject(o, "object", "model");
    cJSON_AddNumberToObject(o, "created", (double)m->mtime);
    cJSON_AddStringToObject(o, "owned_by", "hoheit");
    return o;
}

static enum MHD_Result h_models(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url)
{
    hh_engine_model_info_t *ms = NULL;
    size_t n = 0;
    hh_err_t err;
    hh_err_clear(&err);
    int rc = hh_engine_list_models(s->engine, &ms, &n, &err);
    if (rc) {
        hh_api_error_t e;
        hh_api_error_set(&e, 500, "server_error", NULL, NULL, "cannot list models: %s", err.msg);
        return ht_send_error(c, cs, &e);
    }
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "object", "list");
    cJSON *arr = cJSON_AddArrayToObject(j, "data");
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(arr, model_json(&ms[i]));
    free(ms);
    return ht_send_json(c, cs, 200, j);
}

static enum MHD_Result h_model(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url)
{
    const char *id = url + strlen("/v1/models/");
    hh_engine_model_info_t *ms = NULL;
    size_t n = 0;
    hh_err_t err;
    if (hh_engine_list_models(s->engine, &ms, &n, &err) == 0) {
        for (size_t i = 0; i < n; i++) {
            if (!strcmp(ms[i].id, id)) {
                cJSON *j = model_json(&ms[i]);
                free(ms);
                return ht_send_json(c, cs, 200, j);
            }
        }
    }
    free(ms);
    hh_api_error_t e;
    hh_api_error_set(&e, 404, "invalid_request_error", "model_not_found", "model", "The model '%s' does not exist",
                     id);
    return ht_send_error(c, cs, &e);
}

/* ---- vocabularies for logprob token strings ---------------------------- */

const hh_vocab_t *ht_vocab(hh_http_server_t *s, const char *model)
{
    if (strlen(model) >= sizeof s->vocabs[0].model || strchr(model, '/'))
        return NULL;
    pthread_mutex_lock(&s->vocab_mu);
    const hh_vocab_t *v = NULL;
    for (int i = 0; i < s->n_vocabs; i++)
        if (!strcmp(s->vocabs[i].model, model)) {
            v = s->vocabs[i].vocab;
            goto done;
        }
    if (s->n_vocabs < HT_MAX_VOCABS) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s.gguf", s->models_dir, model);
        hh_gguf_params_t gp = hh_gguf_default_params();
        gp.no_data = true;
        hh_gguf_t *g = NULL;
        hh_vocab_t *nv = NULL;
        if (hh_gguf_open(&g, path, &gp, NULL) == 0 && hh_vocab_load(&nv, g, NULL) == 0) {
            snprintf(s->vocabs[s->n_vocabs].model, sizeof s->vocabs[0].model, "%s", model);
            s->vocabs[s->n_vocabs++].vocab = nv;
            v = nv;
        }
        hh_gguf_close(g);
    }
done:
    pthread_mutex_unlock(&s->vocab_mu);
    return v;
}

/* ---- request dispatch ------------------------------------------------- */

/* Whether url matches the route pattern pat: literal characters equal, a
 * "{name}" segment any non-empty segment (no '/'). */
static bool path_matches(const char *pat, const char *url)
{
    while (*pat && *url) {
        if (*pat == '{') {
            const char *end = strchr(pat, '}');
            size_t n = strcspn(url, "/");
            if (!end || n == 0)
                return false;
            pat = end + 1;
            url += n;
        } else if (*pat++ != *url++) {
            return false;
        }
    }
    return !*pat && !*url;
}

static int find_route(const char *method, const char *url, bool *method_mismatch)
{
    *method_mismatch = false;
    for (int i = 0; i < N_ROUTES; i++) {
        const ht_route_t *r = &g_routes[i];
        if (!path_matches(r->info.path, url))
            continue;
        if (!strcmp(method, r->info.method) || (!strcmp(method, "HEAD") && !strcmp(r->info.method, "GET")))
            return i;
        *method_mismatch = true;
    }
    return -1;
}

/* The body limit of route r on server s. */
static size_t route_body_limit(const hh_http_server_t *s, const ht_route_t *r)
{
    if (r->info.body == HH_HTTP_BODY_JSON && r->info.body_limit == 0)
        return s->params.max_body;
    return r->info.body_limit;
}

static enum MHD_Result send_too_large(struct MHD_Connection *c, ht_conn_t *cs, const ht_route_t *r, size_t limit)
{
    hh_api_error_t e;
    if (r->info.body == HH_HTTP_BODY_NONE)
        hh_api_error_set(&e, 413, "invalid_request_error", "request_too_large", NULL, "%s takes no request body",
                         r->info.path);
    else
        hh_api_error_set(&e, 413, "invalid_request_error", "request_too_large", NULL,
                         "The request body is larger than %zu bytes", limit);
    return ht_send_error(c, cs, &e);
}

static bool is_json_type(const char *ct)
{
    if (!ct)
        return false;
    while (*ct == ' ')
        ct++;
    size_t n = strlen("application/json");
    return strncasecmp(ct, "application/json", n) == 0 && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

/* Where the JSON text body[0, len) holds a string that JSON forbids or that
 * C would cut short: a raw control byte (< 0x20) inside a string, or the
 * escape \u0000 (which cJSON turns into a NUL that ends the C string, so
 * "bob\u0000x" would read as "bob"). Returns the byte offset of the first
 * such character, or -1 when there is none. Lexical only: whether the body
 * is otherwise valid JSON is the parser's business. */
static long json_string_bad_byte(const char *body, size_t len)
{
    bool in_str = false;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)body[i];
        if (!in_str) {
            in_str = ch == '"';
            continue;
        }
        if (ch < 0x20)
            return (long)i;
        if (ch == '"') {
            in_str = false;
        } else if (ch == '\\') {
            if (i + 1 >= len)
                return -1;
            if (body[i + 1] == 'u' && i + 5 < len && !memcmp(body + i + 2, "0000", 4))
                return (long)i;
            i++;   /* the escaped character; \uXXXX's hex digits are plain bytes */
        }
    }
    return -1;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    hh_http_server_t *s = cls;
    ht_conn_t *cs = *con_cls;
    if (!cs) {
        cs = calloc(1, sizeof *cs);
        if (!cs)
            return MHD_NO;
        cs->route = -1;
        *con_cls = cs;
        cs->log.t0 = ht_now();
        cs->log.start_ms = hh_log_now_ms();
        snprintf(cs->log.method, sizeof cs->log.method, "%s", method);
        ht_request_id(c, cs->log.request_id);
        bool mismatch = false;
        ht_conns_phase(s, c, HT_CONN_HEADERS_DONE, 0);
        cs->route = find_route(method, url, &mismatch);
        if (cs->route < 0) {
            if (mismatch)
                return send_err(c, cs, 405, "invalid_request_error", "method_not_allowed",
                                "Method %s is not allowed on this path", method);
            return send_err(c, cs, 404, "invalid_request_error", "not_found", "Unknown path %s", url);
        }
        const ht_route_t *r = &g_routes[cs->route];
        cs->method = r->info.method;
        if (r->info.right != HH_HTTP_RIGHT_OPEN) {
            const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
            const char *key = NULL;
            if (auth && strncasecmp(auth, "Bearer ", 7) == 0) {
                key = auth + 7;
                while (*key == ' ')
                    key++;
            }
            /* No Bearer key: a browser session cookie may stand in (with
             * CSRF and Origin checks, auth.c). A key always wins. */
            const char *cookie = (!key || !*key) ? MHD_lookup_connection_value(c, MHD_COOKIE_KIND, HT_SESSION_COOKIE)
                                                 : NULL;
            if (cookie) {
                hh_api_error_t e;
                if (ht_auth_session(s, c, method, cookie, cs, &e) != 0)
                    return ht_send_error(c, cs, &e);
            } else if (!key || !*key) {
                return send_err(c, cs, 401, "invalid_request_error", "invalid_api_key",
                                "You didn't provide an API key. Send it as 'Authorization: Bearer KEY'%s", "");
            } else if (hh_store_key_verify(s->store, key, &cs->key, NULL) != 0)
                return send_err(c, cs, 401, "invalid_request_error", "invalid_api_key",
                                "Incorrect API key provided%s", "");
            if (!right_allows(r->info.right, cs->key.role)) {
                char who[64];
                hh_api_error_t e;
                hh_http_right_roles(r->info.right, who, sizeof who);
                hh_api_error_set(&e, 403, "permission_error", "forbidden", NULL, "only %s may %s (role %s)", who,
                                 r->deny ? r->deny : "use this route", cs->key.role);
                /* a state-changing attempt beyond one's role is an attack
                 * signal: on record (reads are not, as before) */
                if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
                    ht_audit_action(s, cs, "refused", "%s %.200s: role %s (needs %s)", r->info.method, url,
                                    cs->key.role, who);
                return ht_send_error(c, cs, &e);
            }
        }
        size_t limit = route_body_limit(s, r);
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        unsigned long long cl_n = 0;
        if (cl) {
            char *end = NULL;
            errno = 0;
            cl_n = strtoull(cl, &end, 10);
            if (errno != 0 || end == cl)
                cl_n = 0;   /* libmicrohttpd refuses a malformed length itself */
        }
        if (r->info.body == HH_HTTP_BODY_NONE &&
            (cl_n > 0 || MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING)))
            return send_too_large(c, cs, r, 0);
        if (r->info.body == HH_HTTP_BODY_JSON) {
            const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
            if (!is_json_type(ct))
                return send_err(c, cs, 415, "invalid_request_error", "unsupported_media_type",
                                "Content-Type must be application/json (got '%s')", ct ? ct : "");
        }
        if (cl_n > limit)
            return send_too_large(c, cs, r, limit);
        if (r->info.body == HH_HTTP_BODY_MULTIPART)   /* the handler checks what it can before the body */
            return r->fn(s, c, cs, url);
        return MHD_YES;
    }
    cs->log.bytes_in += *upload_data_size;
    ht_conns_phase(s, c, *upload_data_size ? HT_CONN_BODY_BYTES : HT_CONN_BODY_DONE, *upload_data_size);
    if (cs->responded) {
        /* An early error was queued; drop whatever body still arrives. */
        *upload_data_size = 0;
        return MHD_YES;
    }
    const ht_route_t *r = &g_routes[cs->route];
    if (r->info.body == HH_HTTP_BODY_MULTIPART) {   /* streamed to the handler */
        cs->piece = upload_data;
        cs->piece_size = upload_data_size;
        return r->fn(s, c, cs, url);
    }
    size_t limit = route_body_limit(s, r);
    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (cs->too_big)
            return MHD_YES;
        if (n > limit - cs->len) {   /* chunked uploads have no Content-Length */
            cs->too_big = true;
            free(cs->body);
            cs->body = NULL;
            cs->len = cs->cap = 0;
            return MHD_YES;
        }
        if (cs->len + n + 1 > cs->cap) {
            size_t nc = cs->cap ? cs->cap : 4096;
            while (nc < cs->len + n + 1)
                nc *= 2;
            char *nb = realloc(cs->body, nc);
            if (!nb)
                return MHD_NO;
            cs->body = nb;
            cs->cap = nc;
        }
        memcpy(cs->body + cs->len, upload_data, n);
        cs->len += n;
        cs->body[cs->len] = '\0';
        return MHD_YES;
    }
    if (cs->too_big)
        return send_too_large(c, cs, r, limit);
    if (r->info.body == HH_HTTP_BODY_JSON && cs->len) {
        /* Every JSON body passes here before any handler parses it. */
        long at = json_string_bad_byte(cs->body, cs->len);
        if (at >= 0) {
            hh_api_error_t e;
            hh_api_error_set(&e, 400, "invalid_request_error", "invalid_json", NULL,
                             "the request body has a control character or \\u0000 inside a JSON string (byte %ld)",
                             at);
            return ht_send_error(c, cs, &e);
        }
    }
    return r->fn(s, c, cs, url);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    hh_http_server_t *s = cls;
    ht_conn_t *cs = *con_cls;
    ht_conns_phase(s, c, HT_CONN_IDLE, 0);   /* a kept-alive connection: the next header deadline */
    if (!cs)
        return;
    ht_quota_end(s, &cs->quota, 0, 0);   /* a request that left on any other path (quota.c) */
    if (cs->status)
        metrics_request(s, cs->route, cs->status);
    ht_access_write(s, cs, toe == MHD_REQUEST_TERMINATED_COMPLETED_OK);
    if (cs->ext_free)
        cs->ext_free(cs->ext);
    free(cs->body);
    free(cs);
    *con_cls = NULL;
}

/* ---- lifecycle -------------------------------------------------------- */

static char *read_file(const char *path, hh_err_t *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        hh_err_set(err, HH_EIO, -1, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            size_t nc = cap ? cap * 2 : 8192;
            if (nc > (16u << 20)) {
                hh_err_set(err, HH_ERANGE, -1, "%s is too large for a PEM file", path);
                goto fail;
            }
            char *nb = realloc(buf, nc);
            if (!nb) {
                hh_err_set(err, HH_ENOMEM, -1, "out of memory");
                goto fail;
            }
            buf = nb;
            cap = nc;
        }
        size_t r = fread(buf + len, 1, cap - len - 1, f);
        len += r;
        if (r == 0)
            break;
    }
    buf[len] = '\0';
    fclose(f);
    return buf;
fail:
    free(buf);
    fclose(f);
    return NULL;
}

static void log_mhd(void *cls, const char *fmt, va_list ap)
{
    char buf[512];
    vsnprintf(buf, sizeof buf, fmt, ap);
    size_t n = strlen(buf);
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    HH_LOGD("http: %s", buf);
}

/* Empties the folder open as dfd (taken over and closed): files and links
 * removed, never followed; sub-folders emptied (up to depth 16) and removed.
 * Counts what went into *files and *bytes. Errors are skipped: what stays is
 * tried again at the next start. */
static void tmp_clear(int dfd, int depth, uint64_t *files, uint64_t *bytes)
{
    DIR *d = fdopendir(dfd);
    if (!d) {
        close(dfd);
        return;
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        struct stat st;
        if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            int sub = depth < 16 ? openat(dfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;
            if (sub >= 0)
                tmp_clear(sub, depth + 1, files, bytes);
            unlinkat(dfd, de->d_name, AT_REMOVEDIR);
        } else if (unlinkat(dfd, de->d_name, 0) == 0) {
            (*files)++;
            *bytes += S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
        }
    }
    closedir(d);
}

/* DATA/tmp holds only this server's upload folders (documents.c) and audit
 * exports (compliance.c), all in use only while a request runs. After a
 * crash they stay, unseen by GDPR export and erasure: a start (under the
 * data-directory lock, so no other server uses them) removes them. */
static void tmp_clean_at_start(const char *data_dir)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s/tmp", data_dir) >= (int)sizeof path)
        return;
    int dfd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0)
        return;
    uint64_t files = 0, bytes = 0;
    tmp_clear(dfd, 0, &files, &bytes);
    if (files)
        HH_LOGI("http: removed %llu leftover temporary files (%llu bytes) from DATA/tmp",
                (unsigned long long)files, (unsigned long long)bytes);
}

/* An agent's sql_query reads the files --agent-db names: none of them may
 * be hoheit's own database or any other file of the data directory (keys,
 * users, audit), also not through a symlink. HH_EINVAL naming the
 * connection. */
static int agent_dbs_outside(const hh_agent_conf_t *ac, const char *data_dir, hh_err_t *err)
{
    char dd[PATH_MAX], db[PATH_MAX];
    if (!ac || !ac->n_db || !realpath(data_dir, dd))
        return 0;
    size_t dl = strlen(dd);
    for (size_t i = 0; i < ac->n_db; i++) {
        if (!realpath(ac->db[i].path, db))
            continue;   /* missing now: logged below; checked again at the call by opening it */
        if (!strncmp(db, dd, dl) && (db[dl] == '/' || db[dl] == '\0'))
            return hh_err_set(err, HH_EINVAL, -1,
                              "agent-db '%s': %s is inside the data directory %s; agents may not read hoheit's own "
                              "files", ac->db[i].name, ac->db[i].path, dd);
    }
    return 0;
}

int hh_http_start(hh_http_server_t **out, const hh_http_params_t *params, hh_err_t *err)
{
    *out = NULL;
    hh_http_params_t p = params ? *params : hh_http_default_params();
    if (!p.data_dir || !p.data_dir[0])
        p.data_dir = "./hoheit-data";
    if (!p.host || !p.host[0])
        p.host = "127.0.0.1";
    if (p.port < 0 || p.port > 65535)
        return hh_err_set(err, HH_EINVAL, -1, "port %d out of range", p.port);
    if (p.max_body == 0)
        p.max_body = 4u << 20;
    if (p.max_connections <= 0)
        p.max_connections = 1024;
    if (p.conn_timeout_s <= 0)
        p.conn_timeout_s = 120;
    if (p.max_conn_per_addr <= 0)
        p.max_conn_per_addr = 64;
    if (p.header_timeout_s <= 0)
        p.header_timeout_s = 30;
    if (p.body_min_rate <= 0)
        p.body_min_rate = 1024;
    if (!p.tls_cert != !p.tls_key)
        return hh_err_set(err, HH_EINVAL, -1, "TLS needs both --tls-cert and --tls-key");
    if (p.tls_cert && MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
        return hh_err_set(err, HH_EUNSUPPORTED, -1, "this libmicrohttpd was built without TLS (GnuTLS) support");

    hh_http_server_t *s = calloc(1, sizeof *s);
    if (!s)
        return hh_err_set(err, HH_ENOMEM, -1, "out of memory");
    pthread_mutex_init(&s->m.mu, NULL);
    pthread_mutex_init(&s->vocab_mu, NULL);
    atomic_init(&s->stopping, false);
    atomic_init(&s->audit_failures, 0);
    /* Before the store opens, so a refused second server writes nothing. */
    int rc = hh_dirlock_acquire(&s->lock, p.data_dir, "hoheit serve", NULL, err);
    if (rc)
        goto fail;
    if ((rc = hh_store_open(&s->store, p.data_dir, err)))
        goto fail;
    tmp_clean_at_start(p.data_dir);
    if ((rc = ht_access_open(s, p.data_dir, p.access_log, err)))
        goto fail;
    if ((rc = ht_auth_init(s, err)))
        goto fail;
    if ((rc = ht_quota_init(s, err)))
        goto fail;
    if ((rc = ht_mcp_init(s, err)))
        goto fail;
    if (p.models_dir && p.models_dir[0]) {
        s->models_dir = strdup(p.models_dir);
    } else if (asprintf(&s->models_dir, "%s/models", p.data_dir) < 0) {
        s->models_dir = NULL;
    }
    if (!s->models_dir) {
        rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory");
        goto fail;
    }
    if (mkdir(s->models_dir, 0700) != 0 && errno != EEXIST) {
        rc = hh_err_set(err, HH_EIO, -1, "cannot create %s: %s", s->models_dir, strerror(errno));
        goto fail;
    }
    p.engine.models_dir = s->models_dir;
    if ((rc = hh_engine_create(&s->engine, &p.engine, err)))
        goto fail;
    if ((rc = hh_embedders_create(&s->embedders, s->engine, s->models_dir, p.engine.n_threads, err)))
        goto fail;
    if (p.tls_cert) {
        if (!(s->tls_cert_pem = read_file(p.tls_cert, err)) || !(s->tls_key_pem = read_file(p.tls_key, err))) {
            rc = err ? err->code : HH_EIO;
            goto fail;
        }
    }
    if ((rc = agent_dbs_outside(params ? params->agent : NULL, p.data_dir, err)))
        goto fail;
    p.data_dir = NULL;   /* borrowed strings are not kept past start */
    p.models_dir = NULL;
    p.host = NULL;
    p.tls_cert = p.tls_key = NULL;
    p.embed_model = NULL;
    p.access_log = NULL;
    p.kb_compounds = p.kb_thesaurus = p.kb_translations = NULL;
    p.agent = NULL;
    s->params = p;
    if (!(s->agent_conf = calloc(1, sizeof *s->agent_conf))) {
        rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory");
        goto fail;
    }
    if (params && params->agent) {
        *s->agent_conf = *params->agent;
        for (size_t i = 0; i < s->agent_conf->n_db; i++)   /* a missing file is the admin's to fix, not fatal */
            if (access(s->agent_conf->db[i].path, R_OK) != 0)
                HH_LOGW("agent-db %s: %s is not readable now (%s); sql_query on it fails until it is",
                        s->agent_conf->db[i].name, s->agent_conf->db[i].path, strerror(errno));
    }
    if ((rc = hh_kb_dense_init(&s->kb, s->store, s->embedders, params ? params->embed_model : NULL, err)))
        goto fail;
    /* the text analysis (its files are read at their first use), and
     * every chunk not analyzed yet (a store from before migration 14,
     * rewritten texts) analyzed in the background: no start and no search
     * waits for it */
    hh_analyzer_params_t ap = hh_analyzer_default_params();
    if (params && params->kb_compounds)
        ap.compounds = params->kb_compounds;
    if (params && params->kb_thesaurus)
        ap.thesaurus = params->kb_thesaurus;
    if (params && params->kb_translations)
        ap.translations = params->kb_translations;
    if ((rc = hh_analyzer_create(&s->analyzer, &ap, err)))
        goto fail;
    if ((rc = hh_kb_index_filler_start(&s->filler, s->store, s->analyzer, 0, err)))
        goto fail;

    struct addrinfo hints = { 0 }, *ai = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", params ? params->port : 8080);
    const char *host = params && params->host && params->host[0] ? params->host : "127.0.0.1";
    int gai = getaddrinfo(host, portstr, &hints, &ai);
    if (gai != 0 || !ai) {
        rc = hh_err_set(err, HH_EINVAL, -1, "cannot resolve host '%s': %s", host, gai_strerror(gai));
        goto fail;
    }
    if ((rc = ht_conns_start(s, err))) {
        freeaddrinfo(ai);
        goto fail;
    }
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    /* poll(), not select(): select cannot watch a descriptor >= FD_SETSIZE
     * (1024), so with many open descriptors every new connection was
     * closed at once, whoever sent it. */
    if (MHD_is_feature_supported(MHD_FEATURE_POLL) == MHD_YES)
        flags |= MHD_USE_POLL;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    if (s->tls_cert_pem)
        flags |= MHD_USE_TLS;
    struct MHD_OptionItem opts[] = {
        { MHD_OPTION_SOCK_ADDR, 0, ai->ai_addr },
        { MHD_OPTION_CONNECTION_LIMIT, (intptr_t)p.max_connections, NULL },
        { MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)p.conn_timeout_s, NULL },
        { MHD_OPTION_PER_IP_CONNECTION_LIMIT, (intptr_t)p.max_conn_per_addr, NULL },
        { MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)ht_conns_notify, s },
        { MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, s },
        { MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)log_mhd, NULL },
        { s->tls_cert_pem ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, s->tls_cert_pem },
        { s->tls_key_pem ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END, 0, s->tls_key_pem },
        { MHD_OPTION_END, 0, NULL },
    };
    s->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!s->d) {
        rc = hh_err_set(err, HH_EIO, -1, "cannot listen on %s:%s (in use, or TLS files invalid?)", host, portstr);
        goto fail;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : (params ? params->port : 8080);
    hh_gdpr_sweep_params_t sweep = hh_gdpr_sweep_default_params();
    sweep.conversation_retention_days = p.conversation_retention_days;
    if ((rc = hh_retention_sweeper_start(&s->sweeper, s->store, s->kb, p.retention_interval_s, &sweep, err)))
        goto fail;
    *out = s;
    return 0;
fail:
    hh_http_stop(s);
    return rc;
}

void hh_http_stop(hh_http_server_t *s)
{
    if (!s)
        return;
    atomic_store(&s->stopping, true);
    hh_retention_sweeper_stop(s->sweeper);   /* a sweep under way ends while the index and store are up */
    hh_kb_index_filler_stop(s->filler);      /* the batch under way is committed first */
    if (s->d)
        MHD_stop_daemon(s->d);   /* joins connection threads; their streams end on `stopping` */
    ht_conns_stop(s);
    hh_kb_dense_fini(s->kb);   /* saves the vector index while the store is open */
    hh_analyzer_free(s->analyzer);
    hh_engine_free(s->engine);
    hh_store_close(s->store);
    ht_auth_fini(s);
    ht_quota_fini(s);
    ht_mcp_fini(s);
    for (int i = 0; i < s->n_vocabs; i++)
        hh_vocab_free(s->vocabs[i].vocab);
    hh_embedders_free(s->embedders);
    free(s->models_dir);
    free(s->agent_conf);
    free(s->tls_cert_pem);
    free(s->tls_key_pem);
    pthread_mutex_destroy(&s->m.mu);
    pthread_mutex_destroy(&s->vocab_mu);
    if (s->access_init)
        ht_access_close(s);
    hh_dirlock_release(s->lock);   /* last: everything written is closed */
    free(s);
}

int hh_http_port(const hh_http_server_t *s)
{
    return s->port;
}

hh_engine_t *hh_http_engine(hh_http_server_t *s)
{
    return s->engine;
}

hh_store_t *hh_http_store(hh_http_server_t *s)
{
    return s->store;
}

void hh_http_kb_index_wait(hh_http_server_t *s)
{
    hh_kb_index_filler_wait(s->filler);
}
