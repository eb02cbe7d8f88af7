/* http_helpers.h - the one in-process test server and HTTP client shared by
 * the tests that speak to hoheit over a socket (test_http, test_register,
 * test_approvals, test_bert, test_retrieve, test_login, test_compliance_api,
 * test_audit, test_answer):
 *
 *   hh_test_srv_params_t p = hh_test_srv_default_params();   // stories260K
 *   hh_test_srv_t t;
 *   ASSERT_OK(hh_test_srv_start(&t, "http-health", &p));     // <tmpdir>/http-health
 *   char key[HH_KEY_LEN + 1];
 *   ASSERT_OK(hh_test_srv_user(&t, "mia", "member", key, NULL));
 *   hh_test_resp_t r;
 *   ASSERT_OK(hh_test_http(t.port, "GET", "/v1/models", key, NULL, &r));
 *   ... r.status, r.headers, r.body, r.j ...
 *   hh_test_resp_free(&r);
 *   hh_test_srv_stop(&t);
 *
 * Every request goes over a fresh loopback connection with "Connection:
 * close" and is read to EOF. Not a test file: it registers no TEST(). */
#ifndef HH_TESTS_HTTP_HELPERS_H
#define HH_TESTS_HTTP_HELPERS_H

#include "http/server.h"
#include "store/store.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- the server ---------------------------------------------------------- */

#define HH_TEST_MAX_MODELS 4

/* What hh_test_srv_start sets up. */
typedef struct hh_test_srv_params {
    /* Shared test data files (relative to hh_test_data_path, e.g.
     * "models/stories260K.gguf") copied into <data>/models under their base
     * names; the list ends at the first NULL. */
    const char      *models[HH_TEST_MAX_MODELS];
    /* The server's own parameters; start overwrites port (0: ephemeral)
     * and data_dir. */
    hh_http_params_t http;
} hh_test_srv_params_t;

/* stories260K; hh_http_default_params() with a 1 MiB body limit, one slot
 * and one thread. */
hh_test_srv_params_t hh_test_srv_default_params(void);

/* A running in-process server. */
typedef struct hh_test_srv {
    hh_http_server_t *s;          /* owned; hh_test_srv_stop frees it */
    hh_store_t       *st;         /* the server's store (borrowed from s) */
    int               port;       /* the loopback port it listens on */
    char              data[512];  /* its data directory */
} hh_test_srv_t;

/* Makes <hh_test_tmpdir()>/<dir_name> and its models/ folder, copies
 * p->models there and starts the server on an ephemeral port. On failure
 * prints why and returns a negative HH_E* code; *t then holds no server.
 * p NULL: hh_test_srv_default_params(). */
int hh_test_srv_start(hh_test_srv_t *t, const char *dir_name, const hh_test_srv_params_t *p);

/* Stops the server (t->s NULL: nothing); t->s and t->st become NULL. */
void hh_test_srv_stop(hh_test_srv_t *t);

/* Makes sure user name exists with role and, when key is not NULL, creates
 * an API key for it into key (HH_KEY_LEN + 1 bytes) and its id into
 * *key_id (may be NULL). Prints the store's message and returns a negative
 * HH_E* code on failure. */
int hh_test_srv_user(hh_test_srv_t *t, const char *name, const char *role, char *key, int64_t *key_id);

/* ---- the client ---------------------------------------------------------- */

/* One request; only path is required. */
typedef struct hh_test_req {
    const char *method;    /* NULL: GET */
    const char *path;
    const char *key;       /* Authorization: Bearer <key>; NULL: none */
    const char *ctype;     /* Content-Type of the body; NULL: application/json */
    const char *body;      /* NULL: no body (Content-Length: 0) */
    size_t      body_len;  /* 0: strlen(body) */
    const char *headers;   /* extra header lines, "Name: value" joined by
                            * "\r\n" (a final "\r\n" is optional); NULL: none */
} hh_test_req_t;

/* A parsed response; every pointer is owned, hh_test_resp_free frees them. */
typedef struct hh_test_resp {
    int    status;
    char  *headers;   /* status line and header lines, NUL-terminated */
    char  *body;      /* the body (de-chunked), NUL-terminated */
    size_t body_len;
    cJSON *j;         /* body parsed as JSON, or NULL when it is not JSON */
} hh_test_resp_t;

/* Sends q to 127.0.0.1:port (Host: localhost:<port>, Connection: close)
 * and reads the whole answer into *out. Returns 0, or a negative HH_E*
 * code (connection refused, short send, malformed answer) with *out empty. */
int hh_test_http_req(int port, const hh_test_req_t *q, hh_test_resp_t *out);

/* The common case: method + path, Bearer key (NULL: none) and a JSON
 * body (NULL: none). Same results as hh_test_http_req. */
int hh_test_http(int port, const char *method, const char *path, const char *key, const char *body,
                 hh_test_resp_t *out);

/* Sends q like hh_test_http_req and returns the answer's status, its body
 * in *body (malloc'd, NUL-terminated, caller frees); or a negative HH_E*
 * code with *body NULL. */
int hh_test_http_status(int port, const hh_test_req_t *q, char **body);

/* Frees what r owns and zeroes it (safe on a zeroed or freed r). */
void hh_test_resp_free(hh_test_resp_t *r);

/* The value of header name (case-insensitive) copied into out (cap bytes),
 * "" when absent; returns out. */
const char *hh_test_resp_header(const hh_test_resp_t *r, const char *name, char *out, size_t cap);

/* error.code of a JSON error answer, "(none)" when there is none; points
 * into r->j. */
const char *hh_test_resp_err_code(const hh_test_resp_t *r);

/* The string member k of object o (case-insensitive), "(none)" when o is
 * not an object with a string there; points into o. */
const char *hh_test_json_str(const cJSON *o, const char *k);

/* The number of "hits" of a GDPR export document doc whose "where" is
 * where (and, when document_id >= 0, whose "document_id" is that). */
int hh_test_count_hits(const cJSON *doc, const char *where, double document_id);
/* Seconds on the monotonic clock. */
double hh_test_now_s(void);
/* Runs sql on DIR/hoheit.db directly (an attacker with the file, or a
 * damaged row): SQLite's result code, SQLITE_OK (0) on success. */
int hh_test_db_exec(const char *data_dir, const char *sql);
/* The whole audit export of st from record 1 as text (records and what
 * is kept beside them); caller frees. NULL on an error. */
char *hh_test_audit_text(hh_store_t *st);

/* POSTs one text file to /api/documents as multipart/form-data: a
 * "collection" field coll and a "file" part with filename name, Content-Type
 * text/markdown and the bytes of text; a collection name of plain
 * characters also goes into the query string (?collection=), so a refusal
 * comes back as an answer. key: Bearer key (NULL: none). Same
 * results as hh_test_http_req (out->j: the answer, {id, chunks, ...} on
 * 201). */
int hh_test_http_upload(int port, const char *key, const char *coll, const char *name, const char *text,
                        hh_test_resp_t *out);

/* ---- raw sockets (for tests that shape the bytes themselves) ------------- */

/* A connected loopback TCP socket to port (caller closes), or -1. */
int hh_test_http_connect(int port);

/* Sends all n bytes of p (no SIGPIPE); false on error. */
bool hh_test_http_send_all(int fd, const void *p, size_t n);

/* Reads fd to EOF (without closing it) and parses the answer into *out
 * like hh_test_http_req. */
int hh_test_http_read(int fd, hh_test_resp_t *out);

/* ---- the built binary ------------------------------------------------------ */

/* Runs `$HOHEIT_BIN ARGS` and returns its exit status: -1 when HOHEIT_BIN
 * is not set, -2 when it could not run or did not exit. stdin: the line
 * stdin_line (written with printf '%s\n' in single quotes), or /dev/null
 * when NULL. out (cap bytes, may be NULL) gets its stdout, with err_too
 * its stderr as well (else stderr is dropped), cut to fit; the rest is read
 * and dropped. */
int hh_test_run_cli(const char *args, const char *stdin_line, bool err_too, char *out, size_t cap);

/* Copies the shared test data file rel to dst; false on any error. */
bool hh_test_copy_data(const char *rel, const char *dst);

#endif
