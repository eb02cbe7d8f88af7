/* http_int.h - private to src/http: the server struct, per-connection state
 * and the shared core every handler file builds on: server.c (transport,
 * the route table, authentication, responses, metrics), accesslog.c,
 * conns.c, auth.c (sessions), quota.c and mark.c. The handler files
 * (approvals, ask, completions, compliance, documents, embeddings,
 * usecases; auth.c and quota.c hold a few routes too) take the route
 * table's one signature; server.c knows them only as the table's function
 * pointers, and they need nothing of server.c beyond what is declared
 * here. Where one area serves another (a grounded chat, a held answer,
 * a use case's selection) the function is declared here with its file. */
#ifndef HH_HTTP_INT_H
#define HH_HTTP_INT_H

#include "base/dirlock.h"
#include "engine/embedders.h"
#include "govern/pii.h"
#include "govern/sweeper.h"
#include "http/openai.h"
#include "http/server.h"
#include "kb/analyze.h"
#include "kb/dense.h"
#include "tok/tok.h"

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#define HT_N_TTFT_BUCKETS 12
#define HT_N_TPOT_BUCKETS 12
#define HT_MAX_STATUS_ROWS 128
#define HT_ADMIN_BODY_MAX (64 * 1024)   /* JSON bodies of the administration routes (admin.c) */
#define HT_MAX_VOCABS 16

/* Browser-login state: the failed-login counters (auth.c). */
typedef struct ht_auth ht_auth_t;

/* Quota counters and usage metrics (quota.c). */
typedef struct ht_quota ht_quota_t;

/* MCP sessions (mcp.c). */
typedef struct ht_mcp ht_mcp_t;

typedef struct ht_status_row {
    int      route;
    int      status;
    uint64_t count;
} ht_status_row_t;

typedef struct ht_hist {
    uint64_t buckets[HT_N_TTFT_BUCKETS];  /* cumulative at export, per-bucket here */
    uint64_t count;
    double   sum;
} ht_hist_t;

typedef struct ht_metrics {
    pthread_mutex_t mu;
    ht_status_row_t rows[HT_MAX_STATUS_ROWS];
    int             n_rows;
    ht_hist_t       ttft;
    ht_hist_t       tpot;   /* per-token latency after the first */
    uint64_t        canceled;
} ht_metrics_t;

typedef struct ht_vocab_entry {
    char        model[256];
    hh_vocab_t *vocab;
} ht_vocab_entry_t;

/* ---- connection deadlines (conns.c) ------------------------------------ */

typedef struct ht_conns ht_conns_t;

/* Where a request stands, reported by the dispatch (server.c). */
typedef enum ht_conn_phase {
    HT_CONN_HEADERS_DONE,   /* on_request's first call: the body deadline starts */
    HT_CONN_BODY_BYTES,     /* body_bytes more arrived */
    HT_CONN_BODY_DONE,      /* the handler runs / the response is sent: no deadline */
    HT_CONN_IDLE,           /* the response ended; the next request's header deadline starts */
} ht_conn_phase_t;

/* Starts the watchdog thread that cuts connections past their header
 * deadline (s->params.header_timeout_s from the connection's start or its
 * last response) or below the body rate (s->params.body_min_rate bytes/s
 * after a header_timeout_s grace). Sets s->conns. Call before MHD starts. */
int ht_conns_start(hh_http_server_t *s, hh_err_t *err);
/* Stops the watchdog and frees s->conns; call after MHD_stop_daemon. */
void ht_conns_stop(hh_http_server_t *s);
/* MHD_OPTION_NOTIFY_CONNECTION callback (cls: the server). */
void ht_conns_notify(void *cls, struct MHD_Connection *c, void **socket_context,
                     enum MHD_ConnectionNotificationCode toe);
/* Reports the request's phase on connection c (untracked: nothing). */
void ht_conns_phase(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_phase_t phase, size_t body_bytes);
/* Connections cut so far for their headers (body false) or body rate. */
uint64_t ht_conns_cut(hh_http_server_t *s, bool body);

struct hh_http_server {
    struct MHD_Daemon *d;
    hh_dirlock_t      *lock;         /* the data-directory lock, from start to stop */
    hh_engine_t       *engine;
    hh_store_t        *store;
    hh_http_params_t   params;
    char              *models_dir;   /* owned copy */
    char              *tls_cert_pem; /* owned; MHD reads them at start */
    char              *tls_key_pem;
    int                port;
    atomic_bool        stopping;
    ht_metrics_t       m;
    pthread_mutex_t    vocab_mu;
    ht_vocab_entry_t   vocabs[HT_MAX_VOCABS];
    int                n_vocabs;
    hh_embedders_t    *embedders;       /* owned; the embedding models (engine/embedders.h) */
    hh_kb_dense_t     *kb;              /* owned; the live vector index and the lock of document
                                         * changes (kb/dense.h) */
    hh_analyzer_t     *analyzer;        /* owned; index and question analysis (kb/analyze.h) */
    hh_kb_index_filler_t *filler;       /* owned; background index analysis (kb/retrieve.h) */
    ht_auth_t         *auth;            /* owned; login throttle (auth.c) */
    ht_quota_t        *quota;           /* owned; quota counters, usage metrics (quota.c) */
    hh_retention_sweeper_t *sweeper;    /* owned; NULL: off (govern/sweeper.h) */
    /* the access log (accesslog.c): one JSON line per request */
    bool               access_init;     /* access_mu initialized (ht_access_open ran) */
    pthread_mutex_t    access_mu;       /* guards access_f; one line per write */
    FILE              *access_f;        /* NULL: off */
    char              *access_path;     /* owned; for reopen */
    ht_conns_t        *conns;           /* owned; connection deadlines (conns.c) */
    atomic_ullong      audit_failures;  /* audit records that could not be written (audit_http.c) */
    hh_agent_conf_t   *agent_conf;      /* owned; the agents' connections and endpoints (agent/conf.h) */
    ht_mcp_t          *mcp;             /* owned; MCP sessions (mcp.c) */
};

/* The transparency marker (Art. 50) of a generated answer: set by
 * ht_usecase_select once a request may run (usecases.c). */
typedef struct ht_mark {
    bool on;
    char use_case[64];
    char model[256];
    bool held;   /* the policy requires approval: queue, answer 202 (approvals.c) */
    bool hr;     /* Annex III point 4: four-eyes always */
    bool redact_prompts;   /* the policy redacts PII in the prompt before the model (completions.c, ask.c) */
    bool prompt_redacted;  /* ht_redact_request / ht_redact_text ran: the model saw the redacted text */
    int  redacted[HH_PII_KIND_COUNT];   /* spans replaced, per kind (govern/pii.h) */
} ht_mark_t;

/* The marking itself (mark.c). ht_mark_json adds ai_generated / model /
 * use_case to j's "hoheit" object (made if missing); ht_mark_headers adds
 * X-AI-Generated: true. Both do nothing when !m->on.
 * ht_mark_redaction_json adds "prompt_redacted": true and "redactions":
 * {KIND: n} to the object h when m->prompt_redacted (ht_mark_json does this
 * for 200 answers). */
void ht_mark_redaction_json(const ht_mark_t *m, cJSON *h);
void ht_mark_json(const ht_mark_t *m, cJSON *j);
void ht_mark_headers(const ht_mark_t *m, struct MHD_Response *r);

/* What the access log says about one request (accesslog.c). Filled by
 * server.c (on_request, ht_queue), ht_send_json (a "usage" object's token
 * counts) and the handlers that produce tokens outside JSON (streams). */
#define HT_REQUEST_ID_MAX 64
#define HT_BYTES_UNKNOWN UINT64_MAX
typedef struct ht_log {
    char     request_id[HT_REQUEST_ID_MAX + 1];   /* X-Request-Id (taken when sane, else generated) */
    char     method[16];
    int64_t  start_ms;       /* wall clock, UTC ms */
    double   t0;             /* ht_now() at the request's first byte */
    uint64_t bytes_in;       /* request body bytes received */
    uint64_t bytes_out;      /* response body bytes (queued buffer/file, or streamed so far) */
    bool     has_tokens;
    int64_t  prompt_tokens, completion_tokens;
} ht_log_t;

/* Quotas and usage (quota.c). */
#define HT_USAGE_MAX_SERIES 256   /* (department, use case) series in /metrics, the last one "(other)" */

/* A request's place under the quotas, from ht_quota_begin to ht_quota_end. */
typedef struct ht_quota_ticket {
    bool              active;
    hh_store_quota_t *subj;      /* owned: [0] the user, then its departments */
    size_t            n_subj;
    int64_t           start;     /* quota clock at begin (unix s): the day charged */
    char              use_case[64];
    int64_t           prompt_tokens, completion_tokens;   /* added so far (ht_quota_add) */
} ht_quota_ticket_t;

/* Per-connection state (MHD's con_cls). */
typedef struct ht_conn {
    ht_log_t       log;          /* access log and request id (accesslog.c) */
    int            route;        /* index into the route table, -1 none */
    int            status;       /* status queued, for metrics */
    bool           first_done;
    bool           too_big;
    bool           responded;
    char          *body;
    size_t         len, cap;
    hh_store_key_t key;          /* authenticated key (route.auth) */
    void          *ext;          /* a streaming handler's state (documents.c) */
    void         (*ext_free)(void *ext);
    ht_mark_t      mark;         /* ai_generated marking of a 200 answer (usecases.c) */
    bool           session;      /* key came from a browser session cookie (auth.c) */
    char           csrf[HH_SESSION_TOKEN_LEN + 1];   /* that session's CSRF token */
    int64_t        session_expires_at;               /* ms; its absolute end */
    ht_quota_ticket_t quota;     /* a generating request's quota place (quota.c) */
    int            retry_after_s;   /* Retry-After of a 429 (0: 1 s) */
    int64_t        conv_id;      /* the caller's conversation this request is recorded in; 0 none (conversations.c) */
    const char    *method;       /* the route's method: what the handler serves (HEAD runs as GET) */
    /* A MULTIPART route's body, passed to its handler piece by piece:
     * piece_size NULL for the headers-only call, then each piece (the
     * handler sets *piece_size to what it consumed), *piece_size 0 at the
     * end (server.c). */
    const char    *piece;
    size_t        *piece_size;
} ht_conn_t;

/* Queues response r with status (adds X-Request-Id, records status and
 * the body's bytes, HT_BYTES_UNKNOWN for a stream, for the access log) and
 * drops the caller's reference to r. Every response goes through here. */
enum MHD_Result ht_queue(struct MHD_Connection *c, ht_conn_t *cs, int status, struct MHD_Response *r,
                         uint64_t bytes);

/* The access log and request ids (accesslog.c).
 * ht_access_open (at start): path NULL: DATA/logs/access.log (the folder
 * made 0700); "off": no log; else that file; appended, 0600.
 * ht_access_close (at stop). ht_access_write: one JSON line for a
 * finished request (on_completed): time, request_id, user, method, route
 * (the route table's pattern, never the URL), status, latency_ms, tokens
 * when known, bytes_in, bytes; never a body, query string or header.
 * ht_request_id: the request's X-Request-Id when it is 8..64 characters of
 * [A-Za-z0-9._:-], else 32 random hex characters.
 * ht_log_tokens: records a request's token counts (negative: ignored). */
int  ht_access_open(hh_http_server_t *s, const char *data_dir, const char *path, hh_err_t *err);
void ht_access_close(hh_http_server_t *s);
void ht_access_write(hh_http_server_t *s, const ht_conn_t *cs, bool completed);
void ht_request_id(struct MHD_Connection *c, char out[HT_REQUEST_ID_MAX + 1]);
void ht_log_tokens(ht_log_t *l, int64_t prompt_tokens, int64_t completion_tokens);
/* The route table's pattern of route ("/api/documents/{id}"); NULL when route < 0. */
const char *ht_route_pattern(int route);

/* The audit records of HTTP actions (audit_http.c; the record shapes are
 * in docs/COMPLIANCE.md, "Action records"). ht_audit: one record of kind
 * kind ("auth", "admin") for user (the authenticated user, or the name a
 * login tried; NULL/"" none) with decision ("done", "refused", "success",
 * "failure", "locked", "busy") and a printf-formatted detail, naming the
 * request id of cs (NULL: none). ht_audit_action: kind "admin" for the
 * authenticated user cs->key.user. Both return 0 or the append's error;
 * on an error the record is missing, which is logged as an error and
 * counted in hoheit_audit_write_failures_total; the caller answers as it
 * would have (the action is done or refused either way). */
int ht_audit(hh_http_server_t *s, const ht_conn_t *cs, const char *kind, const char *user, const char *decision,
             const char *fmt, ...) __attribute__((format(printf, 6, 7)));
int ht_audit_action(hh_http_server_t *s, const ht_conn_t *cs, const char *decision, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Queues a JSON response (takes ownership of j) / an OpenAI error. */
enum MHD_Result ht_send_json(struct MHD_Connection *c, ht_conn_t *cs, int status, cJSON *j);
enum MHD_Result ht_send_error(struct MHD_Connection *c, ht_conn_t *cs, const hh_api_error_t *e);

/* Every route's handler has the route table's signature (server.c):
 *   enum MHD_Result fn(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url)
 * It runs after the route's right and body checks; url is the path. */

/* POST /v1/chat/completions and /v1/completions (completions.c). */
enum MHD_Result ht_handle_chat(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url);
enum MHD_Result ht_handle_completions(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url);

/* Records a finished generation's latencies. */
void ht_metrics_generation(hh_http_server_t *s, double ttft_s, double per_token_s, bool canceled);

/* The vocabulary of a model (loaded from its GGUF once, metadata only), for
 * token strings in logprobs; NULL if it cannot be read. Owned by s. */
const hh_vocab_t *ht_vocab(hh_http_server_t *s, const char *model);

double ht_now(void);

/* POST /v1/embeddings (embeddings.c). */
enum MHD_Result ht_handle_embeddings(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url);

/* Knowledge-base answers (ask.c): POST /api/ask, and the chat extension
 * "hoheit": {"collections": [...]} (ht_is_grounded_chat tells a parsed
 * chat request that carries it; ht_handle_grounded_chat answers it). */
enum MHD_Result ht_handle_ask(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url);
bool            ht_is_grounded_chat(const hh_openai_req_t *req);
enum MHD_Result ht_handle_grounded_chat(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs,
                                        const hh_openai_req_t *req);
/* The MCP tool "ask" (mcp.c): /api/ask's answer to args (its body's
 * fields) for the caller, audited and counted as /api/ask does; 200 and
 * *out (caller owns: answer, sources, confidence, usage, the hoheit
 * marking), or an HTTP status with e (a use case that requires approval:
 * 403 approval_required before any work). */
int ht_ask_tool(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const cJSON *args, cJSON **out,
                hh_api_error_t *e);

/* The caller's own agent memory (memory_api.c): GET/POST /api/me/memory,
 * PUT/DELETE /api/me/memory/{id}; another user's fact reads like a missing one. */
enum MHD_Result ht_handle_memory(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url);

/* The MCP server (mcp.c): POST /mcp (JSON-RPC 2.0, streamable HTTP,
 * answers application/json), DELETE /mcp (ends the session). Sessions
 * live in memory, bound to the user who initialized them: init at start,
 * fini at stop (s->mcp). */
int  ht_mcp_init(hh_http_server_t *s, hh_err_t *err);
void ht_mcp_fini(hh_http_server_t *s);
enum MHD_Result ht_handle_mcp(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url);

/* Knowledge-base documents (documents.c). The upload route is MULTIPART:
 * its handler runs for the headers (cs->piece_size NULL: 415 for a body
 * that is no form, and the collection's 404/403 when the query string
 * names it (?collection=NAME), before any byte of the body is read), then
 * for every piece of the body and once more at its end. A file may have
 * HT_MAX_UPLOAD bytes; the route's body limit adds room for the form. */
#define HT_MAX_UPLOAD ((uint64_t)256 << 20)
#define HT_UPLOAD_BODY_MAX ((size_t)(HT_MAX_UPLOAD + 64 * 1024))
enum MHD_Result ht_handle_doc_upload(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url);
enum MHD_Result ht_handle_doc_list(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url);
enum MHD_Result ht_handle_doc_delete(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url);
enum MHD_Result ht_handle_doc_file(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url);

/* Use-case register (usecases.c). ht_handle_usecases: GET/POST
 * /api/usecases, GET/PUT/DELETE /api/usecases/{id|slug} (GET ?card=md|html:
 * the system card); everyone authenticated reads, admins change.
 * ht_usecase_select: the use case of a generation request (hoheit.use_case,
 * else the X-Hoheit-Use-Case header, else the key's / user's default, else
 * "general"); returns 0 and fills cs->mark (mark.held: the use case needs a
 * human approval), or an HTTP status with e filled (403 prohibited, model
 * not allowed; 404 unknown).
 * ht_hoheit_grounded: the request's hoheit object asks for a grounded
 * answer (anything but use_case in it, or empty). */
enum MHD_Result ht_handle_usecases(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url);
int  ht_usecase_select(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const hh_openai_req_t *req,
                       hh_api_error_t *e);
/* The same step for POST /api/ask: the body's "use_case" (else the header,
 * the defaults, "general"); model may be NULL (extractive: no model runs,
 * so the use case's model list is not checked). Also 403
 * use_case_forbidden when the user is in none of the use case's
 * departments (ht_usecase_select does that too). */
int  ht_usecase_select_ask(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const cJSON *body,
                           const char *model, hh_api_error_t *e);
bool ht_hoheit_grounded(const hh_openai_req_t *req);
/* PII redaction of the model input (policy redact_prompts; govern/pii.h
 * with every kind, placeholders, and the names of DATA/pii-names.txt when
 * that file exists). ht_redact_request: replaces req by the same request
 * with the text of every message (chat) or the prompt (completions)
 * redacted, so the engine, the approval queue and the audit record only
 * ever see the redacted text; ht_redact_text: one text, *out malloc'd
 * (caller frees). Both add the spans per kind to m->redacted and set
 * m->prompt_redacted. 0, or an HTTP status with e filled (500; for
 * ht_redact_request req is then empty but safe to free). */
int  ht_redact_request(hh_http_server_t *s, hh_openai_req_t *req, ht_mark_t *m, hh_api_error_t *e);
int  ht_redact_text(hh_http_server_t *s, const char *text, char **out, ht_mark_t *m, hh_api_error_t *e);

/* Human approvals (approvals.c). ht_handle_approvals: GET /api/approvals
 * (approver/admin/auditor; ?status=all for decided ones too), GET
 * /api/approvals/{id} (the requester or those roles), POST
 * /api/approvals/{id}/approve|edit|reject (approver/admin, four-eyes).
 * ht_approval_hold: queues a generated answer of a held request (request =
 * the parsed body, output = the text) and answers 202 with the pending id;
 * *id_out (may be NULL) gets the id, or 0 if it could not be queued (then
 * the answer is a 500 error, the text is never released). */
enum MHD_Result ht_handle_approvals(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url);
enum MHD_Result ht_approval_hold(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs,
                                 const hh_openai_req_t *req, const ht_mark_t *mark, const char *response_id,
                                 const char *output, int64_t *id_out);
/* The same for a grounded answer (ask.c): request (taken) is what the
 * approver judges ({"model", "messages"|"question", "collections"}),
 * grounding (taken) the answer's sources, citations and confidence; it is
 * kept as request.grounding, and hh_approval_json hands it to the
 * requester with the released text (approved or edited). */
enum MHD_Result ht_approval_hold_grounded(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs,
                                          cJSON *request, cJSON *grounding, const ht_mark_t *mark,
                                          const char *response_id, const char *output, int64_t *id_out);

/* Browser login (auth.c). The cookie is HT_SESSION_COOKIE; its rules are
 * in docs/SERVER.md ("Browser login").
 * ht_auth_init / ht_auth_fini: the throttle state, from start to stop.
 * ht_auth_session: authenticates a request without a Bearer key by its
 * session cookie: 0 and cs->key (the shape a key fills), cs->session,
 * cs->csrf set; or an HTTP status with e filled: 401 invalid_session (no
 * live session), 403 csrf_failed (state-changing method without the
 * session's X-CSRF-Token), 403 origin_mismatch (an Origin other than the
 * Host).
 * ht_handle_login: POST /api/login (no auth; throttled: 429 + Retry-After).
 * ht_handle_logout: POST /api/logout. ht_handle_me: GET /api/me. */
#define HT_SESSION_COOKIE "hoheit_session"
int  ht_auth_init(hh_http_server_t *s, hh_err_t *err);
void ht_auth_fini(hh_http_server_t *s);
int  ht_auth_session(hh_http_server_t *s, struct MHD_Connection *c, const char *method, const char *cookie,
                     ht_conn_t *cs, hh_api_error_t *e);
enum MHD_Result ht_handle_login(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url);
enum MHD_Result ht_handle_logout(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url);
enum MHD_Result ht_handle_me(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url);

/* The web UI's files (static.c): GET / and GET /assets/PATH, built in or
 * from params.web_dir; ht_web_headers adds the UI's security headers
 * (Content-Security-Policy, nosniff, no-referrer, no framing) to r. */
enum MHD_Result ht_handle_static(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url);
void            ht_web_headers(struct MHD_Response *r);

/* Compliance routes (compliance.c); roles and bodies in docs/SERVER.md.
 * ht_handle_gdpr_export: POST /api/gdpr/export (admin).
 * ht_handle_gdpr_erase: POST /api/gdpr/erase (admin, "confirm": true); the
 * live vector index drops the erased chunks and the engine its prefix
 * caches (hh_engine_drop_caches).
 * ht_handle_audit_verify / ht_handle_audit_export: GET /api/audit/verify,
 * GET /api/audit/export?from=SEQ (admin, auditor; each access audited as
 * an "admin" record; the export is JSONL sent from a temp file).
 * ht_handle_retention_sweep: POST /api/retention/sweep (admin; the
 * periodic sweeper is govern/sweeper.h's, started by server.c). */
enum MHD_Result ht_handle_gdpr_export(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url);
enum MHD_Result ht_handle_gdpr_erase(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url);
enum MHD_Result ht_handle_audit_verify(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url);
enum MHD_Result ht_handle_audit_export(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url);
enum MHD_Result ht_handle_retention_sweep(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs,
                                          const char *url);

/* Quotas (quota.c; rules in its header comment and docs/OPERATIONS.md).
 * init / fini: at start / stop. begin: before a generating request does
 * any work: 0 and cs->quota active, or 429 (cs->retry_after_s set) or 500
 * with e filled; a second begin on the same request is a no-op. end: the
 * request is over: releases its running count and records its tokens
 * (those passed plus those added); once, later calls do nothing; every
 * path out of a request must reach it (on_completed does for whatever is
 * still active in cs). move: hands a ticket to a stream that outlives the
 * handler (from becomes inactive). now: the quota clock (unix s).
 * metrics: the usage series as Prometheus text (malloc'd; NULL on no
 * memory); the department-labelled series only with with_departments
 * (admin and auditor keys), else just their HELP/TYPE lines. ht_handle_usage: GET /api/usage. */
int   ht_quota_init(hh_http_server_t *s, hh_err_t *err);
void  ht_quota_fini(hh_http_server_t *s);
int   ht_quota_begin(hh_http_server_t *s, ht_conn_t *cs, const char *use_case, hh_api_error_t *e);
void  ht_quota_end(hh_http_server_t *s, ht_quota_ticket_t *t, int64_t prompt_tokens, int64_t completion_tokens);
void  ht_quota_move(ht_quota_ticket_t *to, ht_quota_ticket_t *from);
int64_t ht_quota_now(hh_http_server_t *s);
char *ht_quota_metrics(hh_http_server_t *s, bool with_departments);
enum MHD_Result ht_handle_usage(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url);

/* Conversations stored on the server (conversations.c; routes and rules in
 * its header comment and docs/SERVER.md). The route handlers: */
enum MHD_Result ht_handle_conv_list(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url);
enum MHD_Result ht_handle_conv_create(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url);
enum MHD_Result ht_handle_conv_get(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url);
enum MHD_Result ht_handle_conv_rename(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url);
enum MHD_Result ht_handle_conv_delete(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url);
enum MHD_Result ht_handle_conv_export(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url);
/* Recording. target_chat / target_ask: before any generation, the
 * conversation the request names (chat: "hoheit": {"conversation_id"};
 * ask: "conversation_id") must be the caller's: 0 and cs->conv_id set (0
 * when none is named), or an HTTP status with e filled (404 not_found
 * exactly as the routes answer for a missing one, 400 bad id or a question
 * over HH_CONV_MESSAGE_MAX, 409 conversation_limit, 500). question: the
 * caller's last user message (ht_conv_question for a chat request).
 * record: appends the question and the answer (a held answer: its approval
 * id, no text, no sources); failures are logged, never answered. */
typedef struct ht_conv_turn {
    int64_t      user_id, conv_id;   /* nothing is recorded when conv_id <= 0 */
    const char  *question;
    const char  *answer;
    const cJSON *grounding;          /* sources, citations, confidence, ...; NULL none */
    int64_t      approval_id;        /* held: > 0 */
    const char  *use_case, *model;   /* NULL: unchanged */
    const cJSON *collections;        /* array of names; NULL: unchanged */
} ht_conv_turn_t;
const char *ht_conv_question(const hh_openai_req_t *req);
int  ht_conv_target_chat(hh_http_server_t *s, ht_conn_t *cs, const hh_openai_req_t *req, hh_api_error_t *e);
int  ht_conv_target_ask(hh_http_server_t *s, ht_conn_t *cs, const cJSON *body, const char *question,
                        hh_api_error_t *e);
void ht_conv_record(hh_http_server_t *s, const ht_conv_turn_t *t);
/* The administration API (admin.c; routes, roles and bodies in
 * docs/SERVER.md "Administration API"). Each has the route handler's
 * signature and reads the method from cs->log.method (HEAD = GET).
 * ht_handle_admin_users: /api/admin/users, /api/admin/users/{name},
 * /api/admin/users/{name}/keys|password. ht_handle_admin_keys: DELETE
 * /api/admin/keys/{id}. ht_handle_me_keys: /api/me/keys[/{id}] (own keys).
 * ht_handle_me_password: POST /api/me/password. ht_handle_admin_departments:
 * /api/admin/departments[/{name}]. ht_handle_collections: /api/collections,
 * /api/collections/{name}, /api/collections/{name}/rights/{dept}.
 * ht_handle_admin_models: GET /api/admin/models. ht_handle_admin_quotas:
 * GET /api/admin/quotas, PUT/DELETE /api/admin/quotas/users|departments/{name}. */
enum MHD_Result ht_handle_admin_users(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url);
enum MHD_Result ht_handle_admin_keys(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url);
enum MHD_Result ht_handle_me_keys(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url);
enum MHD_Result ht_handle_me_password(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs,
                                      const char *url);
enum MHD_Result ht_handle_admin_departments(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs,
                                            const char *url);
enum MHD_Result ht_handle_collections(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url);
enum MHD_Result ht_handle_admin_models(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs,
                                       const char *url);
enum MHD_Result ht_handle_admin_quotas(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs,
                                       const char *url);
/* The current password of the signed-in user name, checked like a login
 * (auth.c): counted against the login throttle's per-name and per-address
 * limits and hash slots. 0 when it matches; else the HTTP status with e
 * filled: 403 wrong_password, 429 (throttled or busy; *retry_after_s the
 * seconds to wait), 500. */
int ht_auth_check_password(hh_http_server_t *s, struct MHD_Connection *c, const char *name, const char *password,
                           int *retry_after_s, hh_api_error_t *e);

/* Agents (issue 16). ht_handle_agents: GET/POST /api/agents, GET/PUT/DELETE
 * /api/agents/{name} (agents_api.c; everyone lists and reads the agents
 * they may run, admins and auditors all; admins change). ht_handle_agent_run:
 * GET /api/agents/runs/{id} (the user who ran it, admins, auditors).
 * ht_agent_may_run: whether the caller may run agent a (its departments and
 * roles, and its use case's departments): 0 and *ok, or 500 with e.
 * ht_handle_responses: POST /v1/responses (responses.c). */
enum MHD_Result ht_handle_agents(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url);
enum MHD_Result ht_handle_agent_run(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url);
int ht_agent_may_run(hh_http_server_t *s, const ht_conn_t *cs, const hh_store_agent_t *a, bool *ok,
                     hh_api_error_t *e);
enum MHD_Result ht_handle_responses(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url);

#endif
