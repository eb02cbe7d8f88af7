/* test_routes.c - the one route table (src/http/server.c g_routes, read
 * through hh_http_route): every route is walked against a running server.
 *   - every route but the open ones answers 401 without a key;
 *   - a role-restricted route answers 403 forbidden to every role it does
 *     not name and something else to the roles it names;
 *   - a body over a route's limit answers 413 (a route without a body
 *     refuses one byte), decided before the body is read;
 *   - docs/SERVER.md "Routes" lists exactly the table: its rows start with
 *     the columns this test makes of each route, in the table's order, and
 *     may add a "does" column (the test prints the lines it expects when
 *     they differ). */
#include "harness.h"
#include "http_helpers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define TEST_MAX_BODY ((size_t)1 << 20)   /* hh_test_srv_default_params() */

/* A path that pattern pat matches: each "{name}" segment a value. */
static const char *example_path(const char *pat, char *buf, size_t cap)
{
    size_t n = 0;
    for (const char *p = pat; *p && n + 2 < cap; p++) {
        if (*p == '{') {
            /* {id} is 0, an id nothing has (so DELETE /api/me/keys/{id}
             * never revokes the caller's own key); a web UI file a real one */
            const char *v = !strncmp(p, "{id}", 4)     ? "0"
                          : !strncmp(p, "{file}", 6) ? (strstr(pat, "{dir}") ? "chat.js" : "app.js")
                          : !strncmp(p, "{dir}", 5) ? "screens" : "1";
            while (*v && n + 2 < cap)
                buf[n++] = *v++;
            p = strchr(p, '}');
        } else {
            buf[n++] = *p;
        }
    }
    buf[n] = '\0';
    return buf;
}

static const char *body_kind(hh_http_body_t b)
{
    return b == HH_HTTP_BODY_NONE ? "none" : b == HH_HTTP_BODY_JSON ? "JSON" : "multipart, streamed";
}

static const char *ctype_of(hh_http_body_t b)
{
    return b == HH_HTTP_BODY_MULTIPART ? "multipart/form-data; boundary=xyz" : "application/json";
}

/* The limit a route enforces on the test server. */
static size_t limit_of(const hh_http_route_info_t *rt)
{
    return rt->body == HH_HTTP_BODY_JSON && rt->body_limit == 0 ? TEST_MAX_BODY : rt->body_limit;
}

/* Sends only the headers of a request that declares a body of declared
 * bytes (Content-Length) and reads the answer: a limit decided before the
 * body is read answers at once. */
static bool request_declared(int port, const hh_http_route_info_t *rt, const char *path, const char *key,
                             size_t declared, hh_test_resp_t *r)
{
    memset(r, 0, sizeof *r);
    int fd = hh_test_http_connect(port);
    if (fd < 0)
        return false;
    char head[1024];
    int hn = snprintf(head, sizeof head,
                      "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nAuthorization: Bearer %s\r\n"
                      "Content-Type: %s\r\nContent-Length: %zu\r\n\r\n",
                      rt->method, path, key, ctype_of(rt->body), declared);
    bool ok = hh_test_http_send_all(fd, head, (size_t)hn);
    shutdown(fd, SHUT_WR);
    ok = ok && hh_test_http_read(fd, r) == 0;
    close(fd);
    return ok;
}

static const struct {
    const char *role;
    unsigned    bit;   /* its HH_HTTP_RIGHT_* (0: no right names it) */
} g_roles[] = {
    { "member", 0 },
    { "auditor", HH_HTTP_RIGHT_AUDITOR & ~HH_HTTP_RIGHT_KEY },
    { "approver", HH_HTTP_RIGHT_APPROVER & ~HH_HTTP_RIGHT_KEY },
    { "admin", HH_HTTP_RIGHT_ADMIN & ~HH_HTTP_RIGHT_KEY },
};
#define N_ROLES (sizeof g_roles / sizeof g_roles[0])

/* Whether a key of role i may call a route of right (by the table). */
static bool role_allowed(unsigned right, size_t i)
{
    unsigned roles = right & ~HH_HTTP_RIGHT_KEY;
    return roles == 0 || (roles & g_roles[i].bit) != 0;
}

typedef struct rt_srv {
    hh_test_srv_t h;
    char          keys[N_ROLES][HH_KEY_LEN + 1];
} rt_srv_t;

static bool srv_start(rt_srv_t *t, const char *name)
{
    if (hh_test_srv_start(&t->h, name, NULL) != 0)
        return false;
    for (size_t i = 0; i < N_ROLES; i++) {
        char user[32];
        snprintf(user, sizeof user, "rt-%s", g_roles[i].role);
        if (hh_test_srv_user(&t->h, user, g_roles[i].role, t->keys[i], NULL) != 0)
            return false;
    }
    return true;
}

static int admin_index(void)
{
    for (size_t i = 0; i < N_ROLES; i++)
        if (!strcmp(g_roles[i].role, "admin"))
            return (int)i;
    return -1;
}

TEST(routes_table_shape)
{
    size_t n = 0, open = 0, restricted = 0;
    for (const hh_http_route_info_t *rt; (rt = hh_http_route(n)) != NULL; n++) {
        ASSERT_TRUE(rt->path[0] == '/');
        ASSERT_TRUE(!strcmp(rt->method, "GET") || !strcmp(rt->method, "POST") || !strcmp(rt->method, "PUT") ||
                    !strcmp(rt->method, "PATCH") || !strcmp(rt->method, "DELETE"));
        if (rt->right == HH_HTTP_RIGHT_OPEN)
            open++;
        else
            ASSERT_TRUE((rt->right & HH_HTTP_RIGHT_KEY) != 0);
        restricted += (rt->right & ~HH_HTTP_RIGHT_KEY) != 0;
        /* a route without a body has no limit; the others have one or the server's */
        if (rt->body == HH_HTTP_BODY_NONE)
            ASSERT_EQ_INT(rt->body_limit, 0);
        if (rt->body == HH_HTTP_BODY_MULTIPART)
            ASSERT_GE(rt->body_limit, 1);
        /* admins pass every right (they are the fallback of every role set) */
        ASSERT_TRUE(role_allowed(rt->right, (size_t)admin_index()));
        /* one line per (method, pattern) */
        for (size_t k = 0; k < n; k++)
            ASSERT_TRUE(strcmp(hh_http_route(k)->method, rt->method) || strcmp(hh_http_route(k)->path, rt->path));
    }
    ASSERT_GE(n, 28);
    ASSERT_EQ_INT(open, 5);   /* /health, /api/login, the web UI: /, /assets/{file}, /assets/{dir}/{file} */
    ASSERT_GE(restricted, 9);
    ASSERT_TRUE(hh_http_route(n) == NULL);
    char buf[64];
    ASSERT_STREQ(hh_http_right_roles(HH_HTTP_RIGHT_ADMIN, buf, sizeof buf), "admins");
    ASSERT_STREQ(hh_http_right_roles(HH_HTTP_RIGHT_ADMIN | HH_HTTP_RIGHT_AUDITOR, buf, sizeof buf),
                 "admins and auditors");
    ASSERT_STREQ(hh_http_right_roles(HH_HTTP_RIGHT_APPROVER | HH_HTTP_RIGHT_ADMIN | HH_HTTP_RIGHT_AUDITOR, buf,
                                     sizeof buf),
                 "approvers, admins and auditors");
    ASSERT_STREQ(hh_http_right_roles(HH_HTTP_RIGHT_KEY, buf, sizeof buf), "");
}

TEST(routes_rights_every_route)
{
    rt_srv_t t;
    ASSERT_TRUE(srv_start(&t, "routes-rights"));
    int n_403 = 0, n_401 = 0;
    for (size_t i = 0; hh_http_route(i); i++) {
        const hh_http_route_info_t *rt = hh_http_route(i);
        char path[256];
        example_path(rt->path, path, sizeof path);
        const char *body = rt->body == HH_HTTP_BODY_JSON ? "{}" : NULL;
        hh_test_req_t q = { .method = rt->method, .path = path, .body = body, .ctype = ctype_of(rt->body) };
        hh_test_resp_t r;
        if (rt->right != HH_HTTP_RIGHT_OPEN) {
            ASSERT_OK(hh_test_http_req(t.h.port, &q, &r));
            if (r.status != 401)
                printf("    %s %s without a key: %d %s\n", rt->method, rt->path, r.status, r.body);
            ASSERT_EQ_INT(r.status, 401);
            ASSERT_STREQ(hh_test_resp_err_code(&r), "invalid_api_key");
            hh_test_resp_free(&r);
            n_401++;
        }
        for (size_t k = 0; k < N_ROLES; k++) {
            q.key = t.keys[k];
            ASSERT_OK(hh_test_http_req(t.h.port, &q, &r));
            bool refused = r.status == 403 && !strcmp(hh_test_resp_err_code(&r), "forbidden");
            bool want_refused = rt->right != HH_HTTP_RIGHT_OPEN && !role_allowed(rt->right, k);
            if (refused != want_refused || r.status == 401)
                printf("    %s %s as %s: %d %s\n", rt->method, rt->path, g_roles[k].role, r.status, r.body);
            ASSERT_NE_INT(r.status, 401);
            ASSERT_EQ_INT(refused, want_refused);
            if (want_refused) {
                /* the table's answer: who may, and the caller's role */
                const cJSON *e = cJSON_GetObjectItemCaseSensitive(r.j, "error");
                ASSERT_STREQ(hh_test_json_str(e, "type"), "permission_error");
                char who[64], want[128];
                hh_http_right_roles(rt->right, who, sizeof who);
                snprintf(want, sizeof want, "only %s may ", who);
                ASSERT_TRUE(strncmp(hh_test_json_str(e, "message"), want, strlen(want)) == 0);
                snprintf(want, sizeof want, "(role %s)", g_roles[k].role);
                ASSERT_TRUE(strstr(hh_test_json_str(e, "message"), want) != NULL);
                n_403++;
            }
            hh_test_resp_free(&r);
        }
    }
    ASSERT_GE(n_401, 26);
    ASSERT_GE(n_403, 20);
    hh_test_srv_stop(&t.h);
}

static char g_blanks[TEST_MAX_BODY + 1];

TEST(routes_body_limits)
{
    memset(g_blanks, ' ', TEST_MAX_BODY);
    rt_srv_t t;
    ASSERT_TRUE(srv_start(&t, "routes-limits"));
    const char *admin = t.keys[admin_index()];
    for (size_t i = 0; hh_http_route(i); i++) {
        const hh_http_route_info_t *rt = hh_http_route(i);
        char path[256];
        example_path(rt->path, path, sizeof path);
        hh_test_resp_t r;
        if (rt->body == HH_HTTP_BODY_NONE) {
            /* one byte is too many; sent in full, answered before it is read */
            hh_test_req_t q = { .method = rt->method, .path = path, .key = admin, .body = "x" };
            ASSERT_OK(hh_test_http_req(t.h.port, &q, &r));
        } else {
            ASSERT_TRUE(request_declared(t.h.port, rt, path, admin, limit_of(rt) + 1, &r));
        }
        if (r.status != 413)
            printf("    %s %s over its limit: %d %s\n", rt->method, rt->path, r.status, r.body);
        ASSERT_EQ_INT(r.status, 413);
        ASSERT_STREQ(hh_test_resp_err_code(&r), "request_too_large");
        hh_test_resp_free(&r);
        if (rt->body == HH_HTTP_BODY_JSON) {
            /* exactly the limit passes the size check: blanks, so the
             * handler's parser refuses them (400) and nothing runs */
            hh_test_req_t q = { .method = rt->method, .path = path, .key = admin, .body = g_blanks,
                                .body_len = limit_of(rt) };
            ASSERT_OK(hh_test_http_req(t.h.port, &q, &r));
            if (r.status == 413)
                printf("    %s %s at its limit: %d %s\n", rt->method, rt->path, r.status, r.body);
            ASSERT_NE_INT(r.status, 413);
            hh_test_resp_free(&r);
        }
    }
    /* a chunked body (no Content-Length) over a JSON route's limit: 413 at its end */
    int fd = hh_test_http_connect(t.h.port);
    ASSERT_TRUE(fd >= 0);
    char head[512];
    int hn = snprintf(head, sizeof head,
                      "POST /api/gdpr/export HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                      "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
                      "Transfer-Encoding: chunked\r\n\r\n",
                      admin);
    ASSERT_TRUE(hh_test_http_send_all(fd, head, (size_t)hn));
    static char chunk[64 * 1024];
    memset(chunk, ' ', sizeof chunk);
    char size_line[32];
    int sn = snprintf(size_line, sizeof size_line, "%zx\r\n", sizeof chunk);
    for (size_t sent = 0; sent <= TEST_MAX_BODY; sent += sizeof chunk)
        ASSERT_TRUE(hh_test_http_send_all(fd, size_line, (size_t)sn) &&
                    hh_test_http_send_all(fd, chunk, sizeof chunk) && hh_test_http_send_all(fd, "\r\n", 2));
    ASSERT_TRUE(hh_test_http_send_all(fd, "0\r\n\r\n", 5));
    hh_test_resp_t r;
    ASSERT_OK(hh_test_http_read(fd, &r));
    close(fd);
    ASSERT_EQ_INT(r.status, 413);
    hh_test_resp_free(&r);
    /* a chunked body on a route that takes none: refused at the headers */
    fd = hh_test_http_connect(t.h.port);
    ASSERT_TRUE(fd >= 0);
    hn = snprintf(head, sizeof head,
                  "POST /api/retention/sweep HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                  "Authorization: Bearer %s\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n",
                  admin);
    ASSERT_TRUE(hh_test_http_send_all(fd, head, (size_t)hn));
    ASSERT_OK(hh_test_http_read(fd, &r));
    close(fd);
    ASSERT_EQ_INT(r.status, 413);
    ASSERT_STREQ(hh_test_resp_err_code(&r), "request_too_large");
    hh_test_resp_free(&r);
    /* the server is still fine */
    ASSERT_OK(hh_test_http(t.h.port, "GET", "/health", NULL, NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    hh_test_resp_free(&r);
    hh_test_srv_stop(&t.h);
}

/* The docs line of route rt. */
static void doc_line(const hh_http_route_info_t *rt, char *out, size_t cap)
{
    char who[64], limit[32];
    if (rt->right == HH_HTTP_RIGHT_OPEN)
        snprintf(who, sizeof who, "anyone, no key");
    else if (!*hh_http_right_roles(rt->right, who, sizeof who))
        snprintf(who, sizeof who, "any key");
    if (rt->body == HH_HTTP_BODY_NONE)
        snprintf(limit, sizeof limit, "-");
    else if (rt->body_limit == 0)
        snprintf(limit, sizeof limit, "max_body");
    else
        snprintf(limit, sizeof limit, "%zu", rt->body_limit);
    snprintf(out, cap, "| %s | `%s` | %s | %s | %s |", rt->method, rt->path, who, body_kind(rt->body), limit);
}

TEST(routes_docs_match_table)
{
    size_t size = 0;
    char *doc = hh_test_read_file("docs/SERVER.md", &size);
    if (!doc)
        printf("    docs/SERVER.md not found: run the tests from the repository root\n");
    ASSERT_TRUE(doc != NULL);
    const char *sec = strstr(doc, "\n## Routes\n");
    ASSERT_TRUE(sec != NULL);
    sec++;
    const char *end = strstr(sec + 3, "\n## ");
    /* the table rows: lines starting "| " after the header and rule */
    size_t i = 0;
    bool ok = true, past_rule = false;
    for (const char *p = sec; p && (!end || p < end); p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        size_t len = strcspn(p, "\n");
        if (!strncmp(p, "|---", 4)) {
            past_rule = true;
            continue;
        }
        if (!past_rule || strncmp(p, "| ", 2) != 0)
            continue;
        char want[256];
        const hh_http_route_info_t *rt = hh_http_route(i++);
        if (!rt) {
            printf("    docs line %.*s: no such route in the table\n", (int)len, p);
            ok = false;
            continue;
        }
        doc_line(rt, want, sizeof want);
        size_t wl = strlen(want);   /* then, optionally, the "does" column */
        if (len < wl || strncmp(p, want, wl) != 0 || (len > wl && (p[wl] != ' ' || p[len - 1] != '|'))) {
            printf("    docs: %.*s\n    table: %s\n", (int)len, p, want);
            ok = false;
        }
    }
    if (hh_http_route(i)) {
        ok = false;
        printf("    the docs list %zu routes, the table more\n", i);
    }
    if (!ok) {
        printf("    docs/SERVER.md \"Routes\" should read:\n");
        for (size_t k = 0; hh_http_route(k); k++) {
            char line[256];
            doc_line(hh_http_route(k), line, sizeof line);
            printf("%s\n", line);
        }
    }
    free(doc);
    ASSERT_TRUE(ok);
}
