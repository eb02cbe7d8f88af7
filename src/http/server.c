/* server.c - the HTTP transport: libmicrohttpd daemon, route table,
 * authentication, body limits, /health, /metrics, /v1/models, errors. */
#include "http/http_int.h"
#include "base/log.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef enum MHD_Result (*ht_handler)(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs,
                                      const char *url);

typedef struct ht_route {
    hh_http_route_info_t info;
    bool                 prefix;   /* path ends with '/', matches anything below */
    bool                 body;     /* takes a JSON body */
    ht_handler           fn;
    const char          *match;    /* the path (or prefix) matched */
} ht_route_t;

static enum MHD_Result h_health(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url);
static enum MHD_Result h_metrics(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url);
static enum MHD_Result h_models(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url);
static enum MHD_Result h_model(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url);
static enum MHD_Result h_chat(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url);
static enum MHD_Result h_completions(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs,
                                     const char *url);
static enum MHD_Result h_embeddings(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url);

static enum MHD_Result h_ask(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url)
{
    return ht_handle_ask(s, c, cs);
}

/* The upload route streams its body (see the dispatch); this runs only for
 * a request that ends without one. */
static enum MHD_Result h_doc_upload(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url)
{
    size_t none = 0;
    return ht_handle_doc_upload(s, c, cs, NULL, &none);
}

static enum MHD_Result h_doc_list(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url)
{
    return ht_handle_doc_list(s, c, cs);
}

static enum MHD_Result h_doc_delete(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url)
{
    return ht_handle_doc_delete(s, c, cs, url);
}

static enum MHD_Result h_uc_list(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url)
{
    return ht_handle_usecases(s, c, cs, "GET", url);
}

static enum MHD_Result h_uc_create(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url)
{
    return ht_handle_usecases(s, c, cs, "POST", url);
}

static enum MHD_Result h_uc_get(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url)
{
    return ht_handle_usecases(s, c, cs, "GET", url);
}

static enum MHD_Result h_uc_put(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url)
{
    return ht_handle_usecases(s, c, cs, "PUT", url);
}

static enum MHD_Result h_uc_delete(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url)
{
    return ht_handle_usecases(s, c, cs, "DELETE", url);
}

static enum MHD_Result h_ap_get(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url)
{
    return ht_handle_approvals(s, c, cs, "GET", url);
}

static enum MHD_Result h_ap_decide(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url)
{
    return ht_handle_approvals(s, c, cs, "POST", url);
}

static enum MHD_Result h_login(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url)
{
    return ht_handle_login(s, c, cs);
}

static enum MHD_Result h_logout(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url)
{
    return ht_handle_logout(s, c, cs);
}

static enum MHD_Result h_me(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url)
{
    return ht_handle_me(s, c, cs);
}

static enum MHD_Result h_gdpr_export(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url)
{
    return ht_handle_gdpr_export(s, c, cs);
}

static enum MHD_Result h_gdpr_erase(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url)
{
    return ht_handle_gdpr_erase(s, c, cs);
}

static enum MHD_Result h_audit_verify(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url)
{
    return ht_handle_audit_verify(s, c, cs);
}

static enum MHD_Result h_audit_export(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url)
{
    return ht_handle_audit_export(s, c, cs);
}

static enum MHD_Result h_retention_sweep(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs,
                                         const char *url)
{
    return ht_handle_retention_sweep(s, c, cs);
}

static enum MHD_Result h_usage(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url)
{
    return ht_handle_usage(s, c, cs);
}

static enum MHD_Result h_web(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url)
{
    return ht_handle_static(s, c, cs, url);
}

static const ht_route_t g_routes[] = {
    { { "GET", "/health", false }, false, false, h_health, "/health" },
    { { "GET", "/metrics", true }, false, false, h_metrics, "/metrics" },
    { { "GET", "/v1/models", true }, false, false, h_models, "/v1/models" },
    { { "GET", "/v1/models/stories260K", true }, true, false, h_model, "/v1/models/" },
    { { "POST", "/v1/chat/completions", true }, false, true, h_chat, "/v1/chat/completions" },
    { { "POST", "/v1/completions", true }, false, true, h_completions, "/v1/completions" },
    { { "POST", "/v1/embeddings", true }, false, true, h_embeddings, "/v1/embeddings" },
    { { "POST", "/api/documents", true }, false, false, h_doc_upload, "/api/documents" },
    { { "GET", "/api/documents", true }, false, false, h_doc_list, "/api/documents" },
    { { "DELETE", "/api/documents/1", true }, true, false, h_doc_delete, "/api/documents/" },
    { { "POST", "/api/ask", true }, false, true, h_ask, "/api/ask" },
    { { "GET", "/api/usecases", true }, false, false, h_uc_list, "/api/usecases" },
    { { "POST", "/api/usecases", true }, false, true, h_uc_create, "/api/usecases" },
    { { "GET", "/api/usecases/support", true }, true, false, h_uc_get, "/api/usecases/" },
    { { "PUT", "/api/usecases/support", true }, true, true, h_uc_put, "/api/usecases/" },
    { { "DELETE", "/api/usecases/support", true }, true, false, h_uc_delete, "/api/usecases/" },
    { { "GET", "/api/approvals", true }, false, false, h_ap_get, "/api/approvals" },
    { { "GET", "/api/approvals/1", true }, true, false, h_ap_get, "/api/approvals/" },
    { { "POST", "/api/approvals/1/approve", true }, true, true, h_ap_decide, "/api/approvals/" },
    { { "POST", "/api/login", false }, false, true, h_login, "/api/login" },
    { { "POST", "/api/logout", true }, false, false, h_logout, "/api/logout" },
    { { "GET", "/api/me", true }, false, false, h_me, "/api/me" },
    { { "POST", "/api/gdpr/export", true }, false, true, h_gdpr_export, "/api/gdpr/export" },
    { { "POST", "/api/gdpr/erase", true }, false, true, h_gdpr_erase, "/api/gdpr/erase" },
    { { "GET", "/api/audit/verify", true }, false, false, h_audit_verify, "/api/audit/verify" },
    { { "GET", "/api/audit/export", true }, false, false, h_audit_export, "/api/audit/export" },
    { { "POST", "/api/retention/sweep", true }, false, false, h_retention_sweep, "/api/retention/sweep" },
    { { "GET", "/api/usage", true }, false, false, h_usage, "/api/usage" },
    { { "GET", "/", false }, false, false, h_web, "/" },
    { { "GET", "/assets/app.js", false }, true, false, h_web, "/assets/" },
    { { "GET", "/assets/screens/chat.js", false }, true, false, h_web, "/assets/" },
};
#define N_ROUTES ((int)(sizeof g_routes / sizeof g_routes[0]))

const hh_http_route_info_t *hh_http_route(size_t i)
{
    return i < (size_t)N_ROUTES ? &g_routes[i].info : NULL;
}

/* A prefix route's example path with its segments below the prefix named:
 * the first "{id}", any further one "{action}" ("/api/approvals/{id}/{action}"). */
const char *ht_route_pattern(int route, char *buf, size_t cap)
{
    if (route < 0 || route >= N_ROUTES)
        return NULL;
    const ht_route_t *r = &g_routes[route];
    if (!r->prefix)
        return r->info.path;
    size_t n = (size_t)snprintf(buf, cap, "%s{id}", r->match);
    for (const char *p = r->info.path + strlen(r->match); (p = strchr(p, '/')) != NULL && n < cap; p++)
        n += (size_t)snprintf(buf + n, cap - n, "/{action}");
    return buf;
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
        const char *path = m.rows[i].route >= 0 ? g_routes[m.rows[i].route].match : "other";
        const char *method = m.rows[i].route >= 0 ? g_routes[m.rows[i].route].info.method : "";
        sb_printf(&b, "hoheit_http_requests_total{method=\"%s\",route=\"%s\",status=\"%d\"} %llu\n", method, path,
                  m.rows[i].status, (unsigned long long)m.rows[i].count);
    }
    sb_printf(&b,
              "# HELP hoheit_prompt_tokens_total Prompt tokens processed.\n# TYPE hoheit_prompt_tokens_total counter\n"
              "hoheit_prompt_tokens_total %llu\n"
              "# HELP hoheit_generated_tokens_total Tokens generated.\n# TYPE hoheit_generated_tokens_total counter\n"
              "hoheit_generated_tokens_total %llu\n"
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
              (unsigned long long)m.canceled, st.queue_depth, st.slots_busy, st.slots_total, (long long)st.kv_used,
              (long long)st.kv_total, st.models_loaded);
    sb_hist(&b, "hoheit_time_to_first_token_seconds", "Submit to first generated token.", &m.ttft, g_ttft_le,
            HT_N_TTFT_BUCKETS - 1);
    sb_hist(&b, "hoheit_time_per_output_token_seconds", "Mean time between generated tokens of a request.", &m.tpot,
            g_tpot_le, HT_N_TPOT_BUCKETS - 1);
    /* usage by department and use case (quota.c): department labels are for
     * admins and auditors only, as /api/usage?by=department is */
    bool all = !strcmp(cs->key.role, "admin") || !strcmp(cs->key.role, "auditor");
    char *usage = ht_quota_metrics(s, all);
    if (usage)
        sb_printf(&b, "%s", usage);
    else
        b.oom = true;
    free(usage);
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

static enum MHD_Result h_chat(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url)
{
    return ht_handle_generate(s, c, cs, HH_OPENAI_CHAT);
}

static enum MHD_Result h_completions(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url)
{
    return ht_handle_generate(s, c, cs, HH_OPENAI_COMPLETION);
}

static enum MHD_Result h_embeddings(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url)
{
    return ht_handle_embeddings(s, c, cs);
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

static size_t count_slashes(const char *p)
{
    size_t n = 0;
    for (; *p; p++)
        n += *p == '/';
    return n;
}

/* A prefix route matches paths below its prefix with as many segments as
 * its example path (so "/api/approvals/" serves both {id} and {id}/{action}
 * routes, told apart by their examples). */
static int find_route(const char *method, const char *url, bool *method_mismatch)
{
    *method_mismatch = false;
    for (int i = 0; i < N_ROUTES; i++) {
        const ht_route_t *r = &g_routes[i];
        size_t pl = strlen(r->match);
        bool match = r->prefix ? (strncmp(url, r->match, pl) == 0 && url[pl] != '\0' && url[pl] != '/' &&
                                  url[strlen(url) - 1] != '/' &&
                                  count_slashes(url + pl) == count_slashes(r->info.path + pl))
                               : strcmp(url, r->match) == 0;
        if (!match)
            continue;
        if (!strcmp(method, r->info.method) || (!strcmp(method, "HEAD") && !strcmp(r->info.method, "GET")))
            return i;
        *method_mismatch = true;
    }
    return -1;
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
        if (r->info.auth) {
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
        }
        if (r->body) {
            const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
            if (!is_json_type(ct))
                return send_err(c, cs, 415, "invalid_request_error", "unsupported_media_type",
                                "Content-Type must be application/json (got '%s')", ct ? ct : "");
            const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
            if (cl) {
                char *end = NULL;
                errno = 0;
                unsigned long long n = strtoull(cl, &end, 10);
                if (errno == 0 && end != cl && n > s->params.max_body) {
                    hh_api_error_t e;
                    hh_api_error_set(&e, 413, "invalid_request_error", "request_too_large", NULL,
                                     "The request body is larger than %zu bytes", s->params.max_body);
                    return ht_send_error(c, cs, &e);
                }
            }
        }
        if (r->fn == h_doc_upload) /* the collection is checked before the body is read */
            return ht_doc_upload_begin(s, c, cs);
        return MHD_YES;
    }
    cs->log.bytes_in += *upload_data_size;
    ht_conns_phase(s, c, *upload_data_size ? HT_CONN_BODY_BYTES : HT_CONN_BODY_DONE, *upload_data_size);
    if (g_routes[cs->route].fn == h_doc_upload && !cs->responded) /* multipart, streamed */
        return ht_handle_doc_upload(s, c, cs, upload_data, upload_data_size);
    if (cs->responded) {
        /* An early error was queued; drop whatever body still arrives. */
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (cs->too_big)
            return MHD_YES;
        if (n > s->params.max_body - cs->len) {   /* chunked uploads have no Content-Length */
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
    if (cs->too_big) {
        hh_api_error_t e;
        hh_api_error_set(&e, 413, "invalid_request_error", "request_too_large", NULL,
                         "The request body is larger than %zu bytes", s->params.max_body);
        return ht_send_error(c, cs, &e);
    }
    if (g_routes[cs->route].body && cs->len) {
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
    return g_routes[cs->route].fn(s, c, cs, url);
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
    pthread_mutex_init(&s->embed_mu, NULL);
    pthread_mutex_init(&s->kb_mu, NULL);
    atomic_init(&s->stopping, false);
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
    if (p.tls_cert) {
        if (!(s->tls_cert_pem = read_file(p.tls_cert, err)) || !(s->tls_key_pem = read_file(p.tls_key, err))) {
            rc = err ? err->code : HH_EIO;
            goto fail;
        }
    }
    p.data_dir = NULL;   /* borrowed strings are not kept past start */
    p.models_dir = NULL;
    p.host = NULL;
    p.tls_cert = p.tls_key = NULL;
    p.embed_model = NULL;
    p.access_log = NULL;
    s->params = p;
    if ((rc = ht_kb_dense_init(s, params ? params->embed_model : NULL, err)))
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
    if ((rc = ht_sweeper_start(s, err)))
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
    ht_sweeper_stop(s);   /* a sweep under way ends while the index and store are up */
    if (s->d)
        MHD_stop_daemon(s->d);   /* joins connection threads; their streams end on `stopping` */
    ht_conns_stop(s);
    ht_kb_dense_fini(s);   /* saves the vector index while the store is open */
    hh_engine_free(s->engine);
    hh_store_close(s->store);
    ht_auth_fini(s);
    ht_quota_fini(s);
    for (int i = 0; i < s->n_vocabs; i++)
        hh_vocab_free(s->vocabs[i].vocab);
    ht_embedders_free(s);
    free(s->models_dir);
    free(s->tls_cert_pem);
    free(s->tls_key_pem);
    pthread_mutex_destroy(&s->m.mu);
    pthread_mutex_destroy(&s->vocab_mu);
    pthread_mutex_destroy(&s->embed_mu);
    pthread_mutex_destroy(&s->kb_mu);
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
