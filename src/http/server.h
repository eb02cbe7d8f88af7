/* server.h - hoheit's HTTP server: libmicrohttpd (a thread per connection,
 * so a streaming or slow client never blocks another), a route table,
 * API-key authentication on every route but /health and /api/login, and the
 * OpenAI-compatible /v1 endpoints on top of the engine.
 *
 * Routes: ONE table in server.c (method, path pattern, who may call,
 * body kind and limit, handler), read through hh_http_route(); the list
 * with what each route does is docs/SERVER.md "Routes" (a test keeps the
 * two equal). The key, the role and the body's size are checked from the
 * table before any handler runs.
 * Generating routes (chat, completions, embeddings, /api/ask) are limited by
 * quotas (quota.c): 429 code quota_exceeded with Retry-After.
 * A request without a Bearer key may authenticate with the hoheit_session
 * cookie instead (CSRF token and Origin rules in docs/SERVER.md).
 * Every error is OpenAI's {"error":{"message","type","param","code"}}.
 * Every response carries X-Request-Id (the request's own when it sent a
 * sane one, else a generated one); the access log and the audit records
 * of the request name the same id. The data directory is locked
 * (base/dirlock.h) from start to stop: a second server on it is refused. */
#ifndef HH_HTTP_SERVER_H
#define HH_HTTP_SERVER_H

#include "agent/conf.h"
#include "base/err.h"
#include "engine/engine.h"
#include "store/store.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The most password hashes a server runs at once, whatever login_hash_slots says. */
#define HH_HTTP_LOGIN_HASH_SLOTS_MAX 64

typedef struct hh_http_params {
    const char *host;            /* default "127.0.0.1" */
    int         port;            /* default 8080; 0 = any free port (see hh_http_port) */
    const char *data_dir;        /* default "./hoheit-data"; created if missing */
    const char *models_dir;      /* default DATA/models; created if missing */
    const char *tls_cert;        /* PEM files; both or neither */
    const char *tls_key;
    size_t      max_body;        /* request body limit, default 4 MiB (413 above) */
    int         max_connections; /* default 1024 */
    int         conn_timeout_s;  /* idle connection timeout, default 120 */
    int         max_conn_per_addr; /* open connections per client address, default 64 (more: refused at
                                    * accept) */
    int         header_timeout_s;  /* request line + headers complete within this of the connection's
                                    * start (or its last response), default 30; also the body's grace */
    int         body_min_rate;     /* bytes/s a body must average after the grace, default 1024
                                    * (conns.c); a trickle cannot extend either deadline */
    const char *embed_model;     /* knowledge-base embedding model id; NULL: the first
                                  * embedding model of models_dir; "none": BM25 only */
    hh_engine_params_t engine;   /* models_dir is filled from models_dir above */
    bool        approvals_allow_self; /* four-eyes off for non-HR use cases (default false; HR: always on) */
    /* browser login (docs/SERVER.md "Browser login"); 0 = the default */
    int64_t     session_idle_ms;      /* idle timeout, default HH_SESSION_IDLE_MS (30 min) */
    int64_t     session_max_ms;       /* absolute lifetime, default HH_SESSION_MAX_MS (12 h) */
    int         login_max_failures;   /* failed logins per user name per window, default 5 */
    int         login_max_failures_addr; /* failed logins per client address per window, default 20 */
    int         login_window_s;       /* throttle window, default 900 (15 min) */
    int         login_hash_slots;     /* password hashes (argon2id, 64 MiB each) at once server-wide,
                                       * default 2, at most HH_HTTP_LOGIN_HASH_SLOTS_MAX */
    int         login_hash_per_addr;  /* of those, at once per client address, default 1 */
    int         login_hash_wait_ms;   /* how long a login waits for a hash slot before 429
                                       * login_busy, default 3000 */
    int         retention_interval_s; /* periodic retention sweep (govern/gdpr.h), default 3600;
                                       * <= 0: off; the first runs after min(interval, 10) s */
    int         conversation_retention_days; /* the sweep deletes stored conversations idle this
                                       * long (govern/gdpr.h), default 365; 0: keep */
    const char *access_log;           /* JSON lines, one per request (docs/OPERATIONS.md "Logs"):
                                       * NULL = DATA/logs/access.log; "off" = none; else this file */
    const char *web_dir;              /* the web UI from this folder on disk (development; files are
                                       * read at each request); NULL = the copy built into the binary */
    /* the knowledge base's text analysis (kb/analyze.h): NULL = the Debian
     * file, "" = that feature off; an absent file turns it off too (logged) */
    const char *kb_compounds;         /* German word list (compound splitting) */
    const char *kb_thesaurus;         /* OpenThesaurus text (synonyms) */
    const char *kb_translations;      /* German-English dictionary (cross-lingual search) */
    const hh_agent_conf_t *agent;     /* the agents' database connections and HTTP endpoints
                                       * (agent/conf.h); copied at start; NULL: none */
} hh_http_params_t;

hh_http_params_t hh_http_default_params(void);

typedef struct hh_http_server hh_http_server_t;

/* Opens the store in data_dir, creates the engine and starts listening.
 * Caller owns *out and stops it with hh_http_stop. Errors: HH_EIO (bind,
 * TLS files), HH_EUNSUPPORTED (TLS asked but libmicrohttpd lacks it), the
 * store's and engine's errors; message in err. */
int  hh_http_start(hh_http_server_t **out, const hh_http_params_t *params, hh_err_t *err);
/* Stops accepting, ends running streams (their generations are canceled),
 * joins every thread, frees the engine and the store. NULL is a no-op. */
void hh_http_stop(hh_http_server_t *s);

/* Reopens the access log under its name (SIGHUP after logrotate moved
 * it; the error log is base/log.h's hh_log_reopen). HH_EIO when it cannot
 * be opened: the old file stays in use. Safe while requests run. */
int  hh_http_reopen_logs(hh_http_server_t *s, hh_err_t *err);

/* The port actually bound (useful with port 0). */
int          hh_http_port(const hh_http_server_t *s);
/* The server's engine and store (owned by the server). */
hh_engine_t *hh_http_engine(hh_http_server_t *s);
hh_store_t  *hh_http_store(hh_http_server_t *s);

/* Waits until the background analysis of the knowledge-base index
 * (kb/retrieve.h hh_kb_index_filler_start) has passed over every chunk
 * stored before the call: for tests and tools that store chunks directly
 * rather than through ingestion (which analyzes them itself). */
void hh_http_kb_index_wait(hh_http_server_t *s);

/* Moves the clock of the quota windows (minute, UTC day, UTC month) and of
 * the day usage is recorded on forward by seconds (negative: back). For
 * tests and drills; a server starts with the real clock. */
void hh_http_quota_clock_advance(hh_http_server_t *s, int64_t seconds);

/* GET /api/usage and `hoheit usage` share these. parse: by ("user"
 * (default, also NULL), "department", "use-case"), from / to ("YYYY-MM-DD",
 * NULL: the first day of today's UTC month / today) into day numbers;
 * HH_EINVAL with a message in msg. json: {"object": "usage", "by", "from",
 * "to", "timezone": "UTC", "data": [{<by>: name (null: an erased user, no
 * use case), "requests", "prompt_tokens", "completion_tokens",
 * "total_tokens"}]}; caller owns it. */
int    hh_http_usage_parse(const char *by, const char *from, const char *to, int64_t today,
                           hh_store_usage_by_t *by_out, int64_t *d_from, int64_t *d_to, char *msg, size_t cap);
cJSON *hh_http_usage_json(hh_store_usage_by_t by, int64_t d_from, int64_t d_to, const hh_store_usage_row_t *rows,
                          size_t n);

/* Who may call a route (hh_http_route_info_t.right): HH_HTTP_RIGHT_OPEN
 * needs no key; every other value needs a valid key (or session) and, when
 * it names roles, a key of one of them: HH_HTTP_RIGHT_ADMIN |
 * HH_HTTP_RIGHT_AUDITOR is "admins and auditors". A key of another role
 * gets 403 permission_error / forbidden before the body is read. Checks
 * that depend on the object (own vs. others', a collection's right) stay
 * in the handlers. */
#define HH_HTTP_RIGHT_OPEN     0u
#define HH_HTTP_RIGHT_KEY      (1u << 0)   /* any valid key */
#define HH_HTTP_RIGHT_ADMIN    (HH_HTTP_RIGHT_KEY | 1u << 1)
#define HH_HTTP_RIGHT_AUDITOR  (HH_HTTP_RIGHT_KEY | 1u << 2)
#define HH_HTTP_RIGHT_APPROVER (HH_HTTP_RIGHT_KEY | 1u << 3)

/* What a route takes as its body. NONE: any body (Content-Length > 0 or
 * a Transfer-Encoding) is refused with 413 before a byte is read. JSON:
 * application/json (else 415), buffered up to the limit, checked for raw
 * control bytes in strings (400). MULTIPART: multipart/form-data streamed
 * to the handler piece by piece. */
typedef enum hh_http_body {
    HH_HTTP_BODY_NONE,
    HH_HTTP_BODY_JSON,
    HH_HTTP_BODY_MULTIPART,
} hh_http_body_t;

typedef struct hh_http_route_info {
    const char    *method;
    const char    *path;        /* pattern: a "{name}" segment matches one non-empty segment */
    unsigned       right;       /* HH_HTTP_RIGHT_* */
    hh_http_body_t body;
    size_t         body_limit;  /* bytes; a JSON route's 0: the server's max_body; over it: 413 */
} hh_http_route_info_t;

/* The route table, for tests and docs: route i, or NULL past the end. */
const hh_http_route_info_t *hh_http_route(size_t i);

/* The roles right allows, as "admins and auditors" (into buf, cap bytes);
 * "" when it allows every key or needs none. */
const char *hh_http_right_roles(unsigned right, char *buf, size_t cap);

#endif
