/* http_helpers.c - the shared in-process test server (temp data dir, model
 * copies, users and keys) and a small blocking HTTP/1.1 client over
 * loopback sockets that splits answers into status, headers and a
 * de-chunked body. Contracts in http_helpers.h. No TEST() lives here. */
#include "http_helpers.h"

#include "harness.h"
#include "govern/audit.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- the server ---------------------------------------------------------- */

hh_test_srv_params_t hh_test_srv_default_params(void)
{
    hh_test_srv_params_t p;
    memset(&p, 0, sizeof p);
    p.models[0] = "models/stories260K.gguf";
    p.http = hh_http_default_params();
    p.http.max_body = 1u << 20;
    p.http.engine.n_slots = 1;
    p.http.engine.n_threads = 1;
    p.http.retention_interval_s = 0;   /* no background sweep unless a test asks for one */
    return p;
}

bool hh_test_copy_data(const char *rel, const char *dst)
{
    size_t n = 0;
    void *d = hh_test_read_file(hh_test_data_path(rel), &n);
    if (!d)
        return false;
    FILE *f = fopen(dst, "wb");
    bool ok = f && fwrite(d, 1, n, f) == n;
    if (f)
        ok = fclose(f) == 0 && ok;
    free(d);
    return ok;
}

int hh_test_srv_start(hh_test_srv_t *t, const char *dir_name, const hh_test_srv_params_t *p)
{
    memset(t, 0, sizeof *t);
    hh_test_srv_params_t def = hh_test_srv_default_params();
    if (!p)
        p = &def;
    char models[600];
    int n = snprintf(t->data, sizeof t->data, "%s/%s", hh_test_tmpdir(), dir_name);
    if (n < 0 || (size_t)n >= sizeof t->data)
        return HH_EOVERFLOW;
    snprintf(models, sizeof models, "%s/models", t->data);
    mkdir(t->data, 0700);
    mkdir(models, 0700);
    for (int i = 0; i < HH_TEST_MAX_MODELS && p->models[i]; i++) {
        const char *slash = strrchr(p->models[i], '/');
        char dst[800];
        snprintf(dst, sizeof dst, "%s/%s", models, slash ? slash + 1 : p->models[i]);
        if (!hh_test_copy_data(p->models[i], dst)) {
            printf("    start: cannot copy %s to %s\n", p->models[i], dst);
            return HH_EIO;
        }
    }
    hh_http_params_t hp = p->http;
    hp.port = 0;
    hp.data_dir = t->data;
    hh_err_t err;
    hh_err_clear(&err);
    int rc = hh_http_start(&t->s, &hp, &err);
    if (rc != 0) {
        printf("    start: %s\n", err.msg);
        t->s = NULL;
        return rc;
    }
    t->port = hh_http_port(t->s);
    t->st = hh_http_store(t->s);
    return 0;
}

void hh_test_srv_stop(hh_test_srv_t *t)
{
    if (t->s)
        hh_http_stop(t->s);
    t->s = NULL;
    t->st = NULL;
}

int hh_test_srv_user(hh_test_srv_t *t, const char *name, const char *role, char *key, int64_t *key_id)
{
    hh_err_t err;
    hh_err_clear(&err);
    hh_store_user_t u;
    hh_store_key_t ki;
    int rc = hh_store_user_ensure(t->st, name, role, &u, NULL, &err);
    if (rc == 0 && key)
        rc = hh_store_key_create(t->st, u.id, key, HH_KEY_LEN + 1, &ki, &err);
    if (rc != 0) {
        printf("    user %s (%s): %s\n", name, role, err.msg);
        return rc;
    }
    if (key && key_id)
        *key_id = ki.id;
    return 0;
}

/* ---- the client ---------------------------------------------------------- */

int hh_test_http_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = { 0 };
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

bool hh_test_http_send_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
        if (w <= 0)
            return false;
        c += w;
        n -= (size_t)w;
    }
    return true;
}

void hh_test_resp_free(hh_test_resp_t *r)
{
    free(r->headers);
    free(r->body);
    cJSON_Delete(r->j);
    memset(r, 0, sizeof *r);
}

/* Decodes a chunked body of n bytes into out (malloc'd, NUL-terminated);
 * false if a chunk size or CRLF is missing or a chunk runs past n. */
static bool dechunk(const char *p, size_t n, char **out, size_t *out_len)
{
    char *b = malloc(n + 1);
    size_t o = 0, i = 0;
    if (!b)
        return false;
    for (;;) {
        char *end = NULL;
        if (i >= n)
            goto bad;
        unsigned long sz = strtoul(p + i, &end, 16);
        if (end == p + i)
            goto bad;
        const char *crlf = memmem(end, n - (size_t)(end - p), "\r\n", 2);
        if (!crlf)
            goto bad;
        i = (size_t)(crlf - p) + 2;
        if (sz == 0)
            break;
        if (sz > n || i + sz + 2 > n)   /* the chunk and its CRLF must be there */
            goto bad;
        memcpy(b + o, p + i, sz);
        o += sz;
        i += sz;
        if (p[i] != '\r' || p[i + 1] != '\n')
            goto bad;
        i += 2;
    }
    b[o] = '\0';
    *out = b;
    *out_len = o;
    return true;
bad:
    free(b);
    return false;
}

int hh_test_http_read(int fd, hh_test_resp_t *out)
{
    memset(out, 0, sizeof *out);
    size_t cap = 1 << 16, n = 0;
    char *raw = malloc(cap);
    if (!raw)
        return HH_ENOMEM;
    for (;;) {
        if (n + 1 == cap) {
            char *nr = realloc(raw, cap * 2);
            if (!nr) {
                free(raw);
                return HH_ENOMEM;
            }
            raw = nr;
            cap *= 2;
        }
        ssize_t k = recv(fd, raw + n, cap - n - 1, 0);
        if (k <= 0)
            break;
        n += (size_t)k;
    }
    raw[n] = '\0';
    int rc = HH_EFORMAT;
    char *sep = strstr(raw, "\r\n\r\n");
    if (!sep || sscanf(raw, "HTTP/1.%*d %d", &out->status) != 1)
        goto cleanup;
    *sep = '\0';
    const char *b = sep + 4;
    size_t blen = n - (size_t)(b - raw);
    out->headers = strdup(raw);
    if (!out->headers) {
        rc = HH_ENOMEM;
        goto cleanup;
    }
    if (strcasestr(out->headers, "transfer-encoding: chunked")) {
        if (!dechunk(b, blen, &out->body, &out->body_len))
            goto cleanup;
    } else {
        out->body = malloc(blen + 1);
        if (!out->body) {
            rc = HH_ENOMEM;
            goto cleanup;
        }
        memcpy(out->body, b, blen);
        out->body[blen] = '\0';
        out->body_len = blen;
    }
    out->j = cJSON_ParseWithLength(out->body, out->body_len);
    rc = 0;
cleanup:
    free(raw);
    if (rc != 0)
        hh_test_resp_free(out);
    return rc;
}

int hh_test_http_req(int port, const hh_test_req_t *q, hh_test_resp_t *out)
{
    memset(out, 0, sizeof *out);
    size_t blen = q->body ? (q->body_len ? q->body_len : strlen(q->body)) : 0;
    char *head = NULL;
    size_t hlen = 0;
    FILE *f = open_memstream(&head, &hlen);
    if (!f)
        return HH_ENOMEM;
    fprintf(f, "%s %s HTTP/1.1\r\nHost: localhost:%d\r\nConnection: close\r\n", q->method ? q->method : "GET",
            q->path, port);
    if (q->key)
        fprintf(f, "Authorization: Bearer %s\r\n", q->key);
    if (q->headers && q->headers[0]) {
        size_t l = strlen(q->headers);
        fprintf(f, "%s%s", q->headers, l >= 2 && !strcmp(q->headers + l - 2, "\r\n") ? "" : "\r\n");
    }
    if (q->body)
        fprintf(f, "Content-Type: %s\r\n", q->ctype ? q->ctype : "application/json");
    fprintf(f, "Content-Length: %zu\r\n\r\n", blen);
    if (fclose(f) != 0 || !head) {
        free(head);
        return HH_ENOMEM;
    }
    int fd = hh_test_http_connect(port);
    if (fd < 0) {
        free(head);
        return HH_EIO;
    }
    bool sent = hh_test_http_send_all(fd, head, hlen) && (blen == 0 || hh_test_http_send_all(fd, q->body, blen));
    free(head);
    int rc = sent ? hh_test_http_read(fd, out) : HH_EIO;
    close(fd);
    return rc;
}

int hh_test_http(int port, const char *method, const char *path, const char *key, const char *body,
                 hh_test_resp_t *out)
{
    hh_test_req_t q = { .method = method, .path = path, .key = key, .body = body };
    return hh_test_http_req(port, &q, out);
}

int hh_test_http_upload(int port, const char *key, const char *coll, const char *name, const char *text,
                        hh_test_resp_t *out)
{
    memset(out, 0, sizeof *out);
    char *body = NULL;
    int n = asprintf(&body,
                     "--hhB0undary\r\nContent-Disposition: form-data; name=\"collection\"\r\n\r\n%s\r\n"
                     "--hhB0undary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"%s\"\r\n"
                     "Content-Type: text/markdown\r\n\r\n%s\r\n--hhB0undary--\r\n",
                     coll, name, text);
    if (n < 0)
        return HH_ENOMEM;
    /* The collection in the query string too (names of plain characters):
     * the server checks it before the body, so a refusal is an answer; a
     * refusal known only from the form field closes the connection. */
    char path[256] = "/api/documents";
    bool plain = strlen(coll) < 128;
    for (const char *c = coll; plain && *c; c++)
        plain = isalnum((unsigned char)*c) || *c == '-' || *c == '_' || *c == '.';
    if (plain)
        snprintf(path, sizeof path, "/api/documents?collection=%s", coll);
    hh_test_req_t q = { .method = "POST", .path = path, .key = key,
                        .ctype = "multipart/form-data; boundary=hhB0undary", .body = body, .body_len = (size_t)n };
    int rc = hh_test_http_req(port, &q, out);
    free(body);
    return rc;
}

int hh_test_http_status(int port, const hh_test_req_t *q, char **body)
{
    *body = NULL;
    hh_test_resp_t r;
    int rc = hh_test_http_req(port, q, &r);
    if (rc != 0)
        return rc;
    *body = r.body;   /* handed over to the caller */
    r.body = NULL;
    rc = r.status;
    hh_test_resp_free(&r);
    return rc;
}

const char *hh_test_resp_header(const hh_test_resp_t *r, const char *name, char *out, size_t cap)
{
    out[0] = '\0';
    size_t nl = strlen(name);
    for (const char *p = r->headers; p && *p;) {
        const char *eol = strstr(p, "\r\n");
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        if (len > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (*v == ' ')
                v++;
            snprintf(out, cap, "%.*s", (int)(len - (size_t)(v - p)), v);
            return out;
        }
        p = eol ? eol + 2 : NULL;
    }
    return out;
}

const char *hh_test_json_str(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItem(o, k);
    return cJSON_IsString(v) ? v->valuestring : "(none)";
}

const char *hh_test_resp_err_code(const hh_test_resp_t *r)
{
    return hh_test_json_str(cJSON_GetObjectItem(r->j, "error"), "code");
}

int hh_test_count_hits(const cJSON *doc, const char *where, double document_id)
{
    int n = 0;
    const cJSON *h;
    cJSON_ArrayForEach(h, cJSON_GetObjectItemCaseSensitive(doc, "hits")) {
        const cJSON *w = cJSON_GetObjectItemCaseSensitive(h, "where");
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(h, "document_id");
        if (cJSON_IsString(w) && !strcmp(w->valuestring, where) &&
            (document_id < 0 || (cJSON_IsNumber(d) && d->valuedouble == document_id)))
            n++;
    }
    return n;
}

int hh_test_run_cli(const char *args, const char *stdin_line, bool err_too, char *out, size_t cap)
{
    const char *bin = getenv("HOHEIT_BIN");
    if (out && cap)
        out[0] = '\0';
    if (!bin)
        return -1;
    char cmd[8192];
    const char *errs = err_too ? "2>&1" : "2>/dev/null";
    int w = stdin_line ? snprintf(cmd, sizeof cmd, "printf '%%s\\n' '%s' | %s %s %s", stdin_line, bin, args, errs)
                       : snprintf(cmd, sizeof cmd, "%s %s %s </dev/null", bin, args, errs);
    if (w < 0 || (size_t)w >= sizeof cmd)
        return -2;
    FILE *p = popen(cmd, "r");
    if (!p)
        return -2;
    size_t n = 0;
    if (out && cap) {
        size_t r;
        while (n + 1 < cap && (r = fread(out + n, 1, cap - 1 - n, p)) > 0)
            n += r;
        out[n] = '\0';
    }
    char sink[256];
    while (fread(sink, 1, sizeof sink, p) > 0) {
    }
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -2;
}

double hh_test_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int hh_test_db_exec(const char *data_dir, const char *sql)
{
    char path[600];
    snprintf(path, sizeof path, "%s/hoheit.db", data_dir);
    sqlite3 *db = NULL;
    int rc = sqlite3_open(path, &db);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    sqlite3_close(db);
    return rc;
}

char *hh_test_audit_text(hh_store_t *st)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    if (!f)
        return NULL;
    hh_err_t err;
    hh_err_clear(&err);
    int rc = hh_audit_export(st, 1, f, &err);
    fclose(f);
    if (rc) {
        free(buf);
        return NULL;
    }
    return buf;
}
