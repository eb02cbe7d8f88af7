/* test_http.c - the HTTP server in-process on an ephemeral port with a temp
 * data dir and stories260K, spoken to over raw sockets: auth on every
 * route, OpenAI shapes, SSE framing byte by byte, malformed requests,
 * unknown model, client disconnect freeing the slot. */
#include "harness.h"
#include "http_helpers.h"
#include "http/openai.h"
#include "http/server.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef struct test_srv {
    hh_test_srv_t h;
    char          key[HH_KEY_LEN + 1];
    char          revoked[HH_KEY_LEN + 1];
} test_srv_t;

/* A server over <tmp>/http-<name> holding stories260K, with one valid and
 * one revoked member key; HTTPS when tls_cert / tls_key are given. */
static bool srv_start_tls(test_srv_t *t, const char *name, int n_slots, const char *tls_cert, const char *tls_key)
{
    memset(t, 0, sizeof *t);
    hh_test_srv_params_t p = hh_test_srv_default_params();
    p.http.engine.n_slots = n_slots;
    p.http.tls_cert = tls_cert;
    p.http.tls_key = tls_key;
    char dir[256];
    snprintf(dir, sizeof dir, "http-%s", name);
    if (hh_test_srv_start(&t->h, dir, &p) != 0 || hh_test_srv_user(&t->h, "tester", "member", t->key, NULL) != 0 ||
        hh_test_srv_user(&t->h, "tester", "member", t->revoked, NULL) != 0)
        return false;
    char prefix[HH_KEY_PREFIX_LEN + 1];
    memcpy(prefix, t->revoked, HH_KEY_PREFIX_LEN);
    prefix[HH_KEY_PREFIX_LEN] = '\0';
    hh_err_t err;
    return hh_store_key_revoke(t->h.st, prefix, &err) == 0;
}

static bool srv_start(test_srv_t *t, const char *name, int n_slots)
{
    return srv_start_tls(t, name, n_slots, NULL, NULL);
}

/* Sends POST headers declaring a body of declared bytes, sends none of it,
 * half-closes, and reads the answer (for limits decided from the headers). */
static bool request_declared(int port, const char *path, const char *auth, size_t declared, hh_test_resp_t *r)
{
    memset(r, 0, sizeof *r);
    int fd = hh_test_http_connect(port);
    if (fd < 0)
        return false;
    char head[1024];
    int hn = snprintf(head, sizeof head,
                      "POST %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nAuthorization: Bearer %s\r\n"
                      "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                      path, auth, declared);
    bool ok = hh_test_http_send_all(fd, head, (size_t)hn);
    shutdown(fd, SHUT_WR);
    ok = ok && hh_test_http_read(fd, r) == 0;
    close(fd);
    return ok;
}

/* Opens a connection and sends a POST /v1/completions with body (no
 * Connection: close); returns the socket (caller closes) or -1. */
static int open_completion(const test_srv_t *t, const char *body)
{
    int fd = hh_test_http_connect(t->h.port);
    if (fd < 0)
        return -1;
    char head[512];
    int hn = snprintf(head, sizeof head,
                      "POST /v1/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                      "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                      t->key, strlen(body));
    if (!hh_test_http_send_all(fd, head, (size_t)hn) || !hh_test_http_send_all(fd, body, strlen(body))) {
        close(fd);
        return -1;
    }
    return fd;
}

static bool post(const test_srv_t *t, const char *path, const char *json, hh_test_resp_t *r)
{
    return hh_test_http(t->h.port, "POST", path, t->key, json, r) == 0;
}

/* Checks OpenAI's error shape; returns the parsed body (caller deletes) or NULL. */
static cJSON *error_body(const hh_test_resp_t *r)
{
    cJSON *j = cJSON_Parse(r->body);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
    if (!cJSON_IsObject(e) || !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(e, "message")) ||
        !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(e, "type")) ||
        !cJSON_GetObjectItemCaseSensitive(e, "param") || !cJSON_GetObjectItemCaseSensitive(e, "code")) {
        cJSON_Delete(j);
        return NULL;
    }
    return j;
}

static const char *err_field(const cJSON *j, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "error"), k);
    return cJSON_IsString(v) ? v->valuestring : "(null)";
}

TEST(http_health_needs_no_key)
{
    test_srv_t t;
    ASSERT_TRUE(srv_start(&t, "health", 2));
    hh_test_resp_t r;
    ASSERT_OK(hh_test_http(t.h.port, "GET", "/health", NULL, NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_STREQ(r.body, "{\"status\":\"ok\"}");
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(t.h.port, "GET", "/nope", NULL, NULL, &r));
    ASSERT_EQ_INT(r.status, 404);
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(t.h.port, "DELETE", "/v1/models", t.key, NULL, &r));
    ASSERT_EQ_INT(r.status, 405);
    hh_test_resp_free(&r);
    hh_test_srv_stop(&t.h);
}

/* A path that route pattern pat matches: each "{name}" segment becomes "1". */
static const char *route_example(const char *pat, char *buf, size_t cap)
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

TEST(http_auth_every_route)
{
    test_srv_t t;
    ASSERT_TRUE(srv_start(&t, "auth", 2));
    const char *body = "{\"model\":\"stories260K\",\"prompt\":\"a\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"}],"
                       "\"max_tokens\":1,\"input\":\"a\"}";
    int n_auth = 0;
    for (size_t i = 0; hh_http_route(i); i++) {
        const hh_http_route_info_t *rt = hh_http_route(i);
        bool is_post = !strcmp(rt->method, "POST");
        bool auth = rt->right != HH_HTTP_RIGHT_OPEN;
        char path[128];
        route_example(rt->path, path, sizeof path);
        const char *keys[3] = { NULL, t.revoked, "hk_not_a_key_at_all_but_long_enough_123456" };
        for (int k = 0; k < 3; k++) {
            hh_test_resp_t r;
            ASSERT_OK(hh_test_http(t.h.port, rt->method, path, keys[k], is_post ? body : NULL, &r));
            if (!auth) {
                /* /api/login needs no key; this body has no user name */
                ASSERT_EQ_INT(r.status, strcmp(path, "/api/login") ? 200 : 400);
            } else {
                if (r.status != 401)
                    printf("    route %s %s key %d\n", rt->method, path, k);
                ASSERT_EQ_INT(r.status, 401);
                cJSON *j = error_body(&r);
                ASSERT_TRUE(j != NULL);
                ASSERT_STREQ(err_field(j, "code"), "invalid_api_key");
                cJSON_Delete(j);
                ASSERT_TRUE(strcasestr(r.headers, "WWW-Authenticate: Bearer") != NULL);
            }
            hh_test_resp_free(&r);
        }
        /* With the valid key the route is reachable (never 401). */
        hh_test_resp_t r;
        ASSERT_OK(hh_test_http(t.h.port, rt->method, path, t.key, is_post ? body : NULL, &r));
        ASSERT_NE_INT(r.status, 401);
        hh_test_resp_free(&r);
        n_auth += auth;
    }
    ASSERT_GE(n_auth, 6);
    hh_test_srv_stop(&t.h);
}

TEST(http_models_shape)
{
    test_srv_t t;
    ASSERT_TRUE(srv_start(&t, "models", 2));
    hh_test_resp_t r;
    ASSERT_OK(hh_test_http(t.h.port, "GET", "/v1/models", t.key, NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_TRUE(strcasestr(r.headers, "Content-Type: application/json") != NULL);
    cJSON *j = cJSON_Parse(r.body);
    ASSERT_STREQ(cJSON_GetObjectItem(j, "object")->valuestring, "list");
    cJSON *data = cJSON_GetObjectItem(j, "data");
    ASSERT_EQ_INT(cJSON_GetArraySize(data), 1);
    cJSON *m = cJSON_GetArrayItem(data, 0);
    ASSERT_STREQ(cJSON_GetObjectItem(m, "id")->valuestring, "stories260K");
    ASSERT_STREQ(cJSON_GetObjectItem(m, "object")->valuestring, "model");
    ASSERT_STREQ(cJSON_GetObjectItem(m, "owned_by")->valuestring, "hoheit");
    ASSERT_TRUE(cJSON_GetObjectItem(m, "created")->valuedouble > 1.0e9);
    cJSON_Delete(j);
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(t.h.port, "GET", "/v1/models/stories260K", t.key, NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    j = cJSON_Parse(r.body);
    ASSERT_STREQ(cJSON_GetObjectItem(j, "id")->valuestring, "stories260K");
    cJSON_Delete(j);
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(t.h.port, "GET", "/v1/models/gpt-4", t.key, NULL, &r));
    ASSERT_EQ_INT(r.status, 404);
    j = error_body(&r);
    ASSERT_TRUE(j != NULL);
    ASSERT_STREQ(err_field(j, "code"), "model_not_found");
    cJSON_Delete(j);
    hh_test_resp_free(&r);
    hh_test_srv_stop(&t.h);
}

static const char *CHAT = "{\"model\":\"stories260K\",\"messages\":[{\"role\":\"system\",\"content\":\"Tell a story.\"},"
                          "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Once upon\"},"
                          "{\"type\":\"text\",\"text\":\" a time\"}]}],\"temperature\":0,\"max_tokens\":12%s}";

/* Splits an SSE body into events, checking the framing: every event is one
 * "data: ..." line followed by a blank line; returns the count, -1 if bad. */
static int sse_events(const char *body, char **events, int cap)
{
    int n = 0;
    const char *p = body;
    while (*p) {
        if (strncmp(p, "data: ", 6) != 0)
            return -1;
        const char *end = strstr(p, "\n\n");
        if (!end || n == cap)
            return -1;
        const char *nl = strchr(p, '\n');
        if (nl != end)   /* one line per event */
            return -1;
        size_t len = (size_t)(end - p - 6);
        events[n] = malloc(len + 1);
        memcpy(events[n], p + 6, len);
        events[n][len] = '\0';
        n++;
        p = end + 2;
    }
    return n;
}

TEST(http_chat_nonstream_and_stream_agree)
{
    test_srv_t t;
    ASSERT_TRUE(srv_start(&t, "chat", 2));
    char body[1024];
    snprintf(body, sizeof body, CHAT, "");
    hh_test_resp_t r;
    ASSERT_TRUE(post(&t, "/v1/chat/completions", body, &r));
    ASSERT_EQ_INT(r.status, 200);
    cJSON *j = cJSON_Parse(r.body);
    ASSERT_TRUE(j != NULL);
    ASSERT_STREQ(cJSON_GetObjectItem(j, "object")->valuestring, "chat.completion");
    ASSERT_TRUE(strncmp(cJSON_GetObjectItem(j, "id")->valuestring, "chatcmpl-", 9) == 0);
    ASSERT_STREQ(cJSON_GetObjectItem(j, "model")->valuestring, "stories260K");
    cJSON *ch = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "choices"), 0);
    ASSERT_EQ_INT(cJSON_GetObjectItem(ch, "index")->valueint, 0);
    cJSON *msg = cJSON_GetObjectItem(ch, "message");
    ASSERT_STREQ(cJSON_GetObjectItem(msg, "role")->valuestring, "assistant");
    char content[2048];
    snprintf(content, sizeof content, "%s", cJSON_GetObjectItem(msg, "content")->valuestring);
    ASSERT_TRUE(strlen(content) > 0);
    ASSERT_STREQ(cJSON_GetObjectItem(ch, "finish_reason")->valuestring, "length");
    ASSERT_TRUE(cJSON_IsNull(cJSON_GetObjectItem(ch, "logprobs")));
    cJSON *u = cJSON_GetObjectItem(j, "usage");
    int pt = cJSON_GetObjectItem(u, "prompt_tokens")->valueint;
    ASSERT_EQ_INT(cJSON_GetObjectItem(u, "completion_tokens")->valueint, 12);
    ASSERT_GE(pt, 5);
    ASSERT_EQ_INT(cJSON_GetObjectItem(u, "total_tokens")->valueint, pt + 12);
    cJSON_Delete(j);
    hh_test_resp_free(&r);

    /* The same request streamed: byte-level SSE framing, role first,
     * content deltas, finish chunk, usage chunk, [DONE]; same text. */
    snprintf(body, sizeof body, CHAT, ",\"stream\":true,\"stream_options\":{\"include_usage\":true}");
    ASSERT_TRUE(post(&t, "/v1/chat/completions", body, &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_TRUE(strcasestr(r.headers, "Content-Type: text/event-stream") != NULL);
    char *ev[64];
    int n = sse_events(r.body, ev, 64);
    ASSERT_GE(n, 4);
    ASSERT_STREQ(ev[n - 1], "[DONE]");
    char text[2048] = "";
    int finish_at = -1;
    bool ok = true;
    for (int i = 0; i < n - 1 && ok; i++) {
        cJSON *c = cJSON_Parse(ev[i]);
        ok = c && !strcmp(cJSON_GetObjectItem(c, "object")->valuestring, "chat.completion.chunk");
        cJSON *choices = cJSON_GetObjectItem(c, "choices");
        if (ok && i == n - 2) {   /* usage chunk: empty choices */
            ok = cJSON_GetArraySize(choices) == 0 &&
                 cJSON_GetObjectItem(cJSON_GetObjectItem(c, "usage"), "completion_tokens")->valueint == 12 &&
                 cJSON_GetObjectItem(cJSON_GetObjectItem(c, "usage"), "prompt_tokens")->valueint == pt;
        } else if (ok) {
            cJSON *c0 = cJSON_GetArrayItem(choices, 0);
            cJSON *d = cJSON_GetObjectItem(c0, "delta");
            if (i == 0)
                ok = cJSON_IsString(cJSON_GetObjectItem(d, "role")) &&
                     !strcmp(cJSON_GetObjectItem(d, "role")->valuestring, "assistant");
            cJSON *dc = cJSON_GetObjectItem(d, "content");
            if (cJSON_IsString(dc))
                strncat(text, dc->valuestring, sizeof text - strlen(text) - 1);
            cJSON *fr = cJSON_GetObjectItem(c0, "finish_reason");
            if (cJSON_IsString(fr)) {
                finish_at = i;
                ok = !strcmp(fr->valuestring, "length");
            }
            ok = ok && cJSON_IsNull(cJSON_GetObjectItem(c, "usage"));
        }
        cJSON_Delete(c);
    }
    for (int i = 0; i < n; i++)
        free(ev[i]);
    hh_test_resp_free(&r);
    ASSERT_TRUE(ok);
    ASSERT_EQ_INT(finish_at, n - 3);
    ASSERT_STREQ(text, content);
    hh_test_srv_stop(&t.h);
}

TEST(http_completions_logprobs)
{
    test_srv_t t;
    ASSERT_TRUE(srv_start(&t, "compl", 2));
    hh_test_resp_t r;
    ASSERT_TRUE(post(&t, "/v1/completions",
                     "{\"model\":\"stories260K\",\"prompt\":\"Once upon a time\",\"max_tokens\":6,\"temperature\":0,"
                     "\"logprobs\":3}",
                     &r));
    ASSERT_EQ_INT(r.status, 200);
    cJSON *j = cJSON_Parse(r.body);
    ASSERT_STREQ(cJSON_GetObjectItem(j, "object")->valuestring, "text_completion");
    cJSON *ch = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "choices"), 0);
    const char *text = cJSON_GetObjectItem(ch, "text")->valuestring;
    cJSON *lp = cJSON_GetObjectItem(ch, "logprobs");
    cJSON *toks = cJSON_GetObjectItem(lp, "tokens");
    ASSERT_EQ_INT(cJSON_GetArraySize(toks), 6);
    /* The tokens spell the text; greedy: each token is its top-1 and has
     * the highest logprob of the alternatives. */
    char joined[512] = "";
    for (int i = 0; i < 6; i++) {
        strncat(joined, cJSON_GetArrayItem(toks, i)->valuestring, sizeof joined - strlen(joined) - 1);
        double tl = cJSON_GetArrayItem(cJSON_GetObjectItem(lp, "token_logprobs"), i)->valuedouble;
        cJSON *top = cJSON_GetArrayItem(cJSON_GetObjectItem(lp, "top_logprobs"), i);
        ASSERT_EQ_INT(cJSON_GetArraySize(top), 3);
        ASSERT_LE(tl, 0.0);
        cJSON *alt;
        cJSON_ArrayForEach(alt, top) ASSERT_LE(alt->valuedouble, tl + 1e-6);
        ASSERT_EQ_INT(cJSON_GetArrayItem(cJSON_GetObjectItem(lp, "text_offset"), i)->valueint,
                      (int)(strlen(joined) - strlen(cJSON_GetArrayItem(toks, i)->valuestring)));
    }
    ASSERT_STREQ(joined, text);
    cJSON_Delete(j);
    hh_test_resp_free(&r);
    hh_test_srv_stop(&t.h);
}

struct bad_case {
    const char *body;
    const char *ctype;
    int         status;
    const char *param;   /* expected error.param, NULL = don't care */
};

TEST(http_malformed_requests)
{
    test_srv_t t;
    ASSERT_TRUE(srv_start(&t, "bad", 2));
    static const struct bad_case cases[] = {
        { "{\"model\":\"stories260K\",\"messages\":[", NULL, 400, NULL },
        { "{\"model\":\"stories260K\",\"messages\":[]} trailing", NULL, 400, NULL },
        { "[1,2,3]", NULL, 400, NULL },
        { "", NULL, 400, NULL },
        { "{\"model\":7,\"messages\":[{\"role\":\"user\",\"content\":\"a\"}]}", NULL, 400, "model" },
        { "{\"model\":\"stories260K\",\"messages\":\"hi\"}", NULL, 400, "messages" },
        { "{\"model\":\"stories260K\",\"messages\":[]}", NULL, 400, "messages" },
        { "{\"model\":\"stories260K\",\"messages\":[{\"role\":\"wizard\",\"content\":\"a\"}]}", NULL, 400, "messages" },
        { "{\"model\":\"stories260K\",\"messages\":[{\"role\":\"user\",\"content\":5}]}", NULL, 400, "messages" },
        { "{\"model\":\"stories260K\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"}],\"temperature\":\"hot\"}",
          NULL, 400, "temperature" },
        { "{\"model\":\"stories260K\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"}],\"temperature\":-1}", NULL,
          400, "temperature" },
        { "{\"model\":\"stories260K\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"}],\"max_tokens\":-5}", NULL,
          400, "max_tokens" },
        { "{\"model\":\"stories260K\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"}],\"max_tokens\":1e300}",
          NULL, 400, "max_tokens" },
        { "{\"model\":\"stories260K\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"}],\"max_tokens\":2.5}", NULL,
          400, "max_tokens" },
        { "{\"model\":\"stories260K\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"}],\"top_p\":7}", NULL, 400,
          "top_p" },
        { "{\"model\":\"stories260K\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"}],\"n\":2}", NULL, 400, "n" },
        { "{\"model\":\"stories260K\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"}],\"stop\":[1]}", NULL, 400,
          "stop" },
        { "{\"model\":\"stories260K\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"}],\"stream\":\"yes\"}", NULL,
          400, "stream" },
        { "{\"model\":\"stories260K\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"}],\"top_logprobs\":3}", NULL,
          400, "top_logprobs" },
        { "{\"model\":\"stories260K\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"}],"
          "\"response_format\":{\"type\":\"xml\"}}", NULL, 400, "response_format.type" },
        { "{\"model\":\"stories260K\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"}],\"tool_choice\":\"required\"}",
          NULL, 400, "tool_choice" },
        { "{\"model\":\"stories260K\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"}]}", "text/plain", 415, NULL },
        { "{\"model\":\"stories260K\",\"messages\":[{\"role\":\"user\",\"content\":\"\xff\xfe\"}]}", NULL, 400, NULL },
        { "{\"model\":\"stories260K\",\"messages\":[{\"role\":\"user\",\"content\":\"\xed\xa0\x80\"}]}", NULL, 400,
          NULL },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        hh_test_req_t q = { .method = "POST", .path = "/v1/chat/completions", .key = t.key, .ctype = cases[i].ctype,
                            .body = cases[i].body };
        hh_test_resp_t r;
        ASSERT_OK(hh_test_http_req(t.h.port, &q, &r));
        if (r.status != cases[i].status)
            printf("    case %zu: %s -> %s\n", i, cases[i].body, r.body);
        ASSERT_EQ_INT(r.status, cases[i].status);
        cJSON *j = error_body(&r);
        ASSERT_TRUE(j != NULL);
        if (cases[i].param)
            ASSERT_STREQ(err_field(j, "param"), cases[i].param);
        ASSERT_STREQ(err_field(j, "type"), "invalid_request_error");
        cJSON_Delete(j);
        hh_test_resp_free(&r);
    }
    /* A body over the limit (1 MiB in this server) -> 413, decided from
     * Content-Length before the body is read. Only the headers are sent:
     * had the client kept sending the megabyte, the server's close after
     * its early answer could reset the connection and drop that answer
     * (a race that made this test flaky on a loaded machine). */
    size_t big = (1u << 20) + 100;
    hh_test_resp_t r;
    ASSERT_TRUE(request_declared(t.h.port, "/v1/chat/completions", t.key, big, &r));
    ASSERT_EQ_INT(r.status, 413);
    cJSON *j = error_body(&r);
    ASSERT_TRUE(j != NULL);
    cJSON_Delete(j);
    hh_test_resp_free(&r);
    /* Unknown fields are ignored: the request succeeds. */
    ASSERT_TRUE(post(&t, "/v1/chat/completions",
                     "{\"model\":\"stories260K\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"}],\"max_tokens\":2,"
                     "\"frobnicate\":{\"x\":[1,2]},\"metadata\":null}",
                     &r));
    ASSERT_EQ_INT(r.status, 200);
    hh_test_resp_free(&r);
    /* Still alive after all that. */
    ASSERT_OK(hh_test_http(t.h.port, "GET", "/health", NULL, NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    hh_test_resp_free(&r);
    hh_test_srv_stop(&t.h);
}

TEST(http_unknown_model_and_context_overflow)
{
    test_srv_t t;
    ASSERT_TRUE(srv_start(&t, "unknown", 2));
    hh_test_resp_t r;
    ASSERT_TRUE(post(&t, "/v1/chat/completions",
                     "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"}]}", &r));
    ASSERT_EQ_INT(r.status, 404);
    cJSON *j = error_body(&r);
    ASSERT_TRUE(j != NULL);
    ASSERT_STREQ(err_field(j, "code"), "model_not_found");
    ASSERT_STREQ(err_field(j, "param"), "model");
    cJSON_Delete(j);
    hh_test_resp_free(&r);
    /* stories260K has 512 positions: a prompt of ~2000 tokens cannot fit. */
    size_t n = 8000;
    char *body = malloc(n + 200);
    int o = snprintf(body, 200, "{\"model\":\"stories260K\",\"prompt\":\"");
    for (size_t i = 0; i < n / 4; i++)
        memcpy(body + o + 4 * i, "cat ", 4);
    snprintf(body + o + n, 200, "\"}");
    ASSERT_TRUE(post(&t, "/v1/completions", body, &r));
    free(body);
    ASSERT_EQ_INT(r.status, 400);
    j = error_body(&r);
    ASSERT_TRUE(j != NULL);
    ASSERT_STREQ(err_field(j, "code"), "context_length_exceeded");
    cJSON_Delete(j);
    hh_test_resp_free(&r);
    hh_test_srv_stop(&t.h);
}

/* A forced tool call that runs into the end of the context (512
 * positions) is cut off: finish_reason "length" (not "stop"), no
 * tool_calls, in both the JSON and the streamed response. */
TEST(http_forced_tool_call_at_context_end)
{
    test_srv_t t;
    ASSERT_TRUE(srv_start(&t, "toolend", 1));
    char words[1024] = "";
    for (int i = 0; i < 150; i++)
        strcat(words, " a dog");
    for (int stream = 0; stream < 2; stream++) {
        char body[2048];
        snprintf(body, sizeof body,
                 "{\"model\":\"stories260K\",\"temperature\":0,\"messages\":[{\"role\":\"user\",\"content\":\"%s\"}],"
                 "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"parameters\":"
                 "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}},\"required\":[\"city\"]}}}],"
                 "\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"get_weather\"}}%s}",
                 words, stream ? ",\"stream\":true,\"stream_options\":{\"include_usage\":true}" : "");
        hh_test_resp_t r;
        ASSERT_TRUE(post(&t, "/v1/chat/completions", body, &r));
        ASSERT_EQ_INT(r.status, 200);
        cJSON *fin = NULL, *usage = NULL, *j = NULL;
        char *ev[600];
        int n = 0;
        if (!stream) {
            j = cJSON_Parse(r.body);
            ASSERT_TRUE(j != NULL);
            cJSON *ch = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "choices"), 0);
            fin = cJSON_GetObjectItem(ch, "finish_reason");
            ASSERT_TRUE(cJSON_GetObjectItem(cJSON_GetObjectItem(ch, "message"), "tool_calls") == NULL);
            usage = cJSON_GetObjectItem(j, "usage");
        } else {
            n = sse_events(r.body, ev, 600);
            ASSERT_GE(n, 3);
            ASSERT_STREQ(ev[n - 1], "[DONE]");
            j = cJSON_CreateArray();
            for (int i = 0; i < n - 1; i++) {
                cJSON *c = cJSON_Parse(ev[i]);
                ASSERT_TRUE(c != NULL);
                cJSON_AddItemToArray(j, c);
                cJSON *c0 = cJSON_GetArrayItem(cJSON_GetObjectItem(c, "choices"), 0);
                cJSON *fr = cJSON_GetObjectItem(c0, "finish_reason");
                if (cJSON_IsString(fr))
                    fin = fr;
                ASSERT_TRUE(cJSON_GetObjectItem(cJSON_GetObjectItem(c0, "delta"), "tool_calls") == NULL);
                if (cJSON_IsObject(cJSON_GetObjectItem(c, "usage")))
                    usage = cJSON_GetObjectItem(c, "usage");
            }
            for (int i = 0; i < n; i++)
                free(ev[i]);
        }
        ASSERT_TRUE(cJSON_IsString(fin));
        ASSERT_STREQ(fin->valuestring, "length");
        ASSERT_TRUE(usage != NULL);
        ASSERT_EQ_INT(cJSON_GetObjectItem(usage, "total_tokens")->valueint, 513);
        cJSON_Delete(j);
        hh_test_resp_free(&r);
    }
    hh_test_srv_stop(&t.h);
}

static long long metric(const char *text, const char *name)
{
    const char *p = text;
    size_t n = strlen(name);
    while ((p = strstr(p, name))) {
        if ((p == text || p[-1] == '\n') && p[n] == ' ')
            return atoll(p + n + 1);
        p += n;
    }
    return -1;
}

TEST(http_disconnect_frees_slot)
{
    test_srv_t t;
    ASSERT_TRUE(srv_start(&t, "disc", 2));
    const char *body = "{\"model\":\"stories260K\",\"prompt\":\"Once upon a time\",\"max_tokens\":400,\"stream\":true,"
                       "\"temperature\":0.8,\"seed\":1}";
    int fd = open_completion(&t, body);
    ASSERT_TRUE(fd >= 0);
    /* Read until the first data event, then vanish with a reset. */
    char buf[4096];
    size_t got = 0;
    while (got < sizeof buf - 1) {
        ssize_t k = recv(fd, buf + got, sizeof buf - 1 - got, 0);
        ASSERT_TRUE(k > 0);
        got += (size_t)k;
        buf[got] = '\0';
        if (strstr(buf, "data: "))
            break;
    }
    struct linger lg = { 1, 0 };
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(fd);
    hh_engine_stats_t st;
    int busy = -1;
    for (int i = 0; i < 200; i++) {
        hh_engine_stats(hh_http_engine(t.h.s), &st);
        busy = st.slots_busy;
        if (busy == 0 && st.queue_depth == 0)
            break;
        usleep(10000);
    }
    ASSERT_EQ_INT(busy, 0);   /* (kv_used may stay: the prefix cache keeps the slot's tokens) */
    /* It was canceled, not finished: fewer than max_tokens generated and
     * the cancel counter shows it. */
    ASSERT_LE(st.generated_tokens, 399);
    hh_test_resp_t r;
    char aud[HH_KEY_LEN + 1];   /* /metrics: admin and auditor keys only */
    ASSERT_OK(hh_test_srv_user(&t.h, "prom", "auditor", aud, NULL));
    ASSERT_OK(hh_test_http(t.h.port, "GET", "/metrics", aud, NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_EQ_INT(metric(r.body, "hoheit_canceled_requests_total"), 1);
    ASSERT_EQ_INT(metric(r.body, "hoheit_slots_busy"), 0);
    ASSERT_TRUE(strstr(r.body, "hoheit_time_to_first_token_seconds_count 1") != NULL);
    ASSERT_TRUE(strstr(r.body, "hoheit_http_requests_total{method=\"POST\",route=\"/v1/completions\",status=\"200\"} 1")
                != NULL);
    hh_test_resp_free(&r);
    hh_test_srv_stop(&t.h);
}

TEST(http_idle_connections_do_not_stall)
{
    test_srv_t t;
    ASSERT_TRUE(srv_start(&t, "idle", 2));
    /* Below the per-address cap (64; the request below comes from the same
     * address): the cap is http_one_address_cannot_take_every_connection's. */
    enum { N_IDLE = 60 };
    int fds[N_IDLE];
    for (int i = 0; i < N_IDLE; i++) {
        fds[i] = hh_test_http_connect(t.h.port);
        ASSERT_TRUE(fds[i] >= 0);
        /* half a request line, never finished */
        hh_test_http_send_all(fds[i], "GET /hea", 8);
    }
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    hh_test_resp_t r;
    ASSERT_TRUE(post(&t, "/v1/completions", "{\"model\":\"stories260K\",\"prompt\":\"Once\",\"max_tokens\":4}", &r));
    clock_gettime(CLOCK_MONOTONIC, &b);
    ASSERT_EQ_INT(r.status, 200);
    hh_test_resp_free(&r);
    double dt = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) * 1e-9;
    ASSERT_LE(dt, 2.0);
    for (int i = 0; i < N_IDLE; i++)
        close(fds[i]);
    hh_test_srv_stop(&t.h);
}

TEST(http_openai_parse_unit)
{
    hh_openai_req_t q;
    hh_api_error_t e;
    const char *ok = "{\"model\":\"m\",\"messages\":[{\"role\":\"developer\",\"content\":\"s\"},"
                     "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"c1\",\"type\":\"function\","
                     "\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}]},"
                     "{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":\"r\"}],"
                     "\"stop\":\"END\",\"seed\":42,\"max_completion_tokens\":7,\"presence_penalty\":0.5,"
                     "\"logprobs\":true,\"top_logprobs\":2,\"response_format\":{\"type\":\"json_object\"}}";
    ASSERT_OK(hh_openai_parse(HH_OPENAI_CHAT, ok, strlen(ok), &q, &e));
    ASSERT_EQ_INT(q.gen.n_messages, 3);
    ASSERT_EQ_INT(q.gen.messages[0].role, HH_ROLE_SYSTEM);
    ASSERT_EQ_INT(q.gen.messages[1].n_tool_calls, 1);
    ASSERT_STREQ(q.gen.messages[1].tool_calls[0].name, "f");
    ASSERT_STREQ(q.gen.messages[2].tool_call_id, "c1");
    ASSERT_EQ_INT(q.gen.n_stop, 1);
    ASSERT_STREQ(q.gen.stop[0], "END");
    ASSERT_EQ_INT(q.gen.sampling.seed, 42);
    ASSERT_EQ_INT(q.gen.max_tokens, 7);
    ASSERT_NEAR(q.gen.sampling.presence_penalty, 0.5, 1e-6);
    ASSERT_TRUE(q.gen.logprobs);
    ASSERT_EQ_INT(q.gen.n_logprobs, 2);
    ASSERT_TRUE(q.gen.json_object);
    hh_openai_req_free(&q);
    /* A named tool choice becomes a schema over the call object. */
    const char *tc = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"w\"}],"
                     "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"parameters\":"
                     "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}}}}],"
                     "\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"get_weather\"}}}";
    ASSERT_OK(hh_openai_parse(HH_OPENAI_CHAT, tc, strlen(tc), &q, &e));
    ASSERT_TRUE(q.gen.json_schema != NULL);
    ASSERT_TRUE(strstr(q.gen.json_schema, "{\"const\":\"get_weather\"}") != NULL);
    hh_openai_req_free(&q);
    const char *toks = "{\"model\":\"m\",\"prompt\":[1,2]}";
    ASSERT_EQ_INT(hh_openai_parse(HH_OPENAI_COMPLETION, toks, strlen(toks), &q, &e), 400);
    ASSERT_STREQ(e.param, "prompt");
    ASSERT_TRUE(hh_utf8_valid("h\xc3\xa9llo \xf0\x9f\x98\x80", 11));
    ASSERT_FALSE(hh_utf8_valid("\xc0\xaf", 2));            /* overlong */
    ASSERT_FALSE(hh_utf8_valid("\xf4\x90\x80\x80", 4));    /* > U+10FFFF */
    ASSERT_FALSE(hh_utf8_valid("\xe2\x82", 2));            /* truncated */
}

TEST(http_queue_full_429)
{
    /* One slot, one queue place: with two long generations running and
     * waiting, a third request is refused with 429 and Retry-After. */
    test_srv_t t;
    memset(&t, 0, sizeof t);
    hh_test_srv_params_t p = hh_test_srv_default_params();
    p.http = hh_http_default_params();   /* its own body limit, not the helper's 1 MiB */
    p.http.engine.n_slots = 1;
    p.http.engine.max_queue = 1;
    p.http.engine.n_threads = 1;
    ASSERT_OK(hh_test_srv_start(&t.h, "http-queue", &p));
    ASSERT_OK(hh_test_srv_user(&t.h, "q", "member", t.key, NULL));
    /* Load the model first so the long requests start at once. */
    hh_test_resp_t r;
    ASSERT_TRUE(post(&t, "/v1/completions", "{\"model\":\"stories260K\",\"prompt\":\"a\",\"max_tokens\":1}", &r));
    ASSERT_EQ_INT(r.status, 200);
    hh_test_resp_free(&r);
    const char *body = "{\"model\":\"stories260K\",\"prompt\":\"Once upon a time\",\"max_tokens\":480,\"stream\":true,"
                       "\"temperature\":1,\"seed\":3}";
    /* Eight long requests sent back to back (a few ms, less than one
     * generation): at most two fit (slot + queue place), so at least one
     * is refused; the others stream with 200. */
    int fds[8];
    for (int i = 0; i < 8; i++) {
        fds[i] = open_completion(&t, body);
        ASSERT_TRUE(fds[i] >= 0);
    }
    int n429 = 0, n200 = 0;
    for (int i = 0; i < 8; i++) {
        char buf[2048] = "";
        size_t got = 0;
        while (got < sizeof buf - 1 && !strstr(buf, "\r\n\r\n")) {
            ssize_t k = recv(fds[i], buf + got, sizeof buf - 1 - got, 0);
            if (k <= 0)
                break;
            got += (size_t)k;
            buf[got] = '\0';
        }
        buf[got] = '\0';
        int status = 0;
        sscanf(buf, "HTTP/1.%*d %d", &status);
        if (status == 429) {
            n429++;
            ASSERT_TRUE(strcasestr(buf, "Retry-After: ") != NULL);
        } else if (status == 200) {
            n200++;
        }
    }
    ASSERT_GE(n429, 1);
    ASSERT_GE(n200, 1);
    ASSERT_EQ_INT(n429 + n200, 8);
    for (int i = 0; i < 8; i++)
        close(fds[i]);
    hh_test_srv_stop(&t.h);
}

/* Runs a shell command and returns the first line of its stdout ("" if none). */
static void first_line(const char *cmd, char *out, size_t cap)
{
    out[0] = '\0';
    FILE *f = popen(cmd, "r");
    if (f == NULL)
        return;
    if (fgets(out, (int)cap, f) == NULL)
        out[0] = '\0';
    out[strcspn(out, "\r\n")] = '\0';
    pclose(f);
}

/* --tls-cert/--tls-key: the server speaks HTTPS (a self-signed certificate
 * made with openssl), /health answers without a key, /v1/models needs one,
 * and plain HTTP on the same port gets no HTTP answer. */
TEST(http_tls_serves_https)
{
    char dir[512], cert[600], key[600], cmd[2048], line[256];
    snprintf(dir, sizeof dir, "%s/tls", hh_test_tmpdir());
    mkdir(dir, 0700);
    snprintf(cert, sizeof cert, "%s/cert.pem", dir);
    snprintf(key, sizeof key, "%s/key.pem", dir);
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey rsa:2048 -nodes -keyout '%s' -out '%s' -days 2 -subj /CN=localhost "
             ">/dev/null 2>&1 && echo made", key, cert);
    first_line(cmd, line, sizeof line);
    ASSERT_STREQ(line, "made");

    test_srv_t t;
    ASSERT_TRUE(srv_start_tls(&t, "tls", 1, cert, key));
    snprintf(cmd, sizeof cmd, "curl -s -o /dev/null -w '%%{http_code}' --cacert '%s' https://localhost:%d/health", cert,
             t.h.port);
    first_line(cmd, line, sizeof line);
    ASSERT_STREQ(line, "200");
    snprintf(cmd, sizeof cmd, "curl -s -o /dev/null -w '%%{http_code}' --cacert '%s' https://localhost:%d/v1/models",
             cert, t.h.port);
    first_line(cmd, line, sizeof line);
    ASSERT_STREQ(line, "401");
    snprintf(cmd, sizeof cmd,
             "curl -s -o /dev/null -w '%%{http_code}' --cacert '%s' -H 'Authorization: Bearer %s' "
             "https://localhost:%d/v1/models", cert, t.key, t.h.port);
    first_line(cmd, line, sizeof line);
    ASSERT_STREQ(line, "200");
    /* plain HTTP to the TLS port: no HTTP status comes back */
    snprintf(cmd, sizeof cmd, "curl -s -m 5 -o /dev/null -w '%%{http_code}' http://localhost:%d/health", t.h.port);
    first_line(cmd, line, sizeof line);
    ASSERT_STREQ(line, "000");
    hh_test_srv_stop(&t.h);
}

/* ---- the prefix cache per user (issue 12, finding 1) ---------------------- */

/* POST /v1/completions {prompt, 2 tokens, greedy} as key: its
 * usage.prompt_tokens_details.cached_tokens, -1 when the answer was not a
 * 200 with one; *prompt_tokens (may be NULL) its usage.prompt_tokens. */
static int cached_tokens_of(int port, const char *key, const char *prompt, int *prompt_tokens)
{
    cJSON *b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "model", "stories260K");
    cJSON_AddStringToObject(b, "prompt", prompt);
    cJSON_AddNumberToObject(b, "max_tokens", 2);
    cJSON_AddNumberToObject(b, "temperature", 0);
    char *body = cJSON_PrintUnformatted(b);
    cJSON_Delete(b);
    hh_test_resp_t r;
    int v = -1;
    if (body != NULL && hh_test_http(port, "POST", "/v1/completions", key, body, &r) == 0) {
        const cJSON *u = cJSON_GetObjectItemCaseSensitive(r.j, "usage");
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(u, "prompt_tokens_details");
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(d, "cached_tokens");
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(u, "prompt_tokens");
        if (r.status == 200 && cJSON_IsNumber(c))
            v = c->valueint;
        if (prompt_tokens)
            *prompt_tokens = cJSON_IsNumber(p) ? p->valueint : -1;
        hh_test_resp_free(&r);
    }
    cJSON_free(body);
    return v;
}

#define PC_P "Once upon a time, there was a little girl named Lily. She loved to play outside"

/* Users ann (two keys), ben, cid, dan on a server with n_slots slots. Other
 * users sending ann's prompt P, P plus words, P less a word reuse nothing of
 * hers (cached_tokens 0, so also no time saved: the whole prompt is
 * prefilled); ann's other key does (the scope is the user, not the key);
 * ben guessing the digit that ends ann's secret prompt sees the same
 * cached_tokens for every digit. */
static void prefix_per_user_case(int n_slots)
{
    test_srv_t t;
    char name[32];
    snprintf(name, sizeof name, "prefix-user-%d", n_slots);
    ASSERT_TRUE(srv_start(&t, name, n_slots));
    const int port = t.h.port;
    char ann[HH_KEY_LEN + 1], ann2[HH_KEY_LEN + 1], ben[HH_KEY_LEN + 1], cid[HH_KEY_LEN + 1], dan[HH_KEY_LEN + 1];
    ASSERT_OK(hh_test_srv_user(&t.h, "ann", "member", ann, NULL));
    ASSERT_OK(hh_test_srv_user(&t.h, "ann", "member", ann2, NULL));
    ASSERT_OK(hh_test_srv_user(&t.h, "ben", "member", ben, NULL));
    ASSERT_OK(hh_test_srv_user(&t.h, "cid", "member", cid, NULL));
    ASSERT_OK(hh_test_srv_user(&t.h, "dan", "member", dan, NULL));
    int n_p = 0;
    ASSERT_EQ_INT(cached_tokens_of(port, ann, PC_P, &n_p), 0);
    ASSERT_TRUE(n_p > 15);
    ASSERT_EQ_INT(cached_tokens_of(port, ann2, PC_P, NULL), n_p - 1);   /* her other key: her cache */
    const char *probe_key[] = { ben, cid, dan };
    static const char *const probes[] = { PC_P, PC_P " in the park",
                                          "Once upon a time, there was a little girl named Lily. She loved to play" };
    for (int i = 0; i < 3; i++) {
        /* she has P cached (one slot: again, the last probe took the slot) */
        ASSERT_EQ_INT(cached_tokens_of(port, ann, PC_P, NULL), i == 0 || n_slots > 1 ? n_p - 1 : 0);
        ASSERT_EQ_INT(cached_tokens_of(port, probe_key[i], probes[i], NULL), 0);
    }
    /* the attack: ann's prompt ends in a secret digit and goes on; ben sends
     * the same shape with each digit after each of her requests (once
     * before with a non-digit, so that with several slots every guess finds
     * his own earlier one) */
    const char *secret = "Lily said the secret number is 7 and Tom must never know it.";
    char guess[128];
    ASSERT_TRUE(cached_tokens_of(port, ben, "Lily said the secret number is x and Tom must", NULL) >= 0);
    int seen[10];
    for (int d = 0; d < 10; d++) {
        ASSERT_TRUE(cached_tokens_of(port, ann, secret, NULL) >= 0);
        snprintf(guess, sizeof guess, "Lily said the secret number is %d and Tom must", d);
        seen[d] = cached_tokens_of(port, ben, guess, NULL);
        ASSERT_TRUE(seen[d] >= 0);
    }
    for (int d = 1; d < 10; d++)
        ASSERT_EQ_INT(seen[d], seen[0]);
    /* and ann's cache still works for ann (one slot: once ben's last guess
     * is out of it) */
    int n_secret = 0;
    ASSERT_TRUE(cached_tokens_of(port, ann, secret, &n_secret) >= 0);
    ASSERT_EQ_INT(cached_tokens_of(port, ann, secret, NULL), n_secret - 1);
    hh_test_srv_stop(&t.h);
}

TEST(http_prefix_cache_per_user_one_slot) { prefix_per_user_case(1); }
TEST(http_prefix_cache_per_user_three_slots) { prefix_per_user_case(3); }
/* Issue 12 finding 8: JSON strings with a raw control byte or an escaped
 * NUL are rejected with 400 before any handler parses the body. Before,
 * cJSON accepted both and "bob\u0000x" logged in as bob (the NUL ended the
 * C string). Checked on /api/login (no key) and /v1/chat/completions. */
TEST(http_json_control_bytes_rejected)
{
    test_srv_t t;
    ASSERT_TRUE(srv_start(&t, "ctl", 1));
    ASSERT_OK(hh_test_srv_user(&t.h, "bob", "member", NULL, NULL));
    hh_err_t err;
    ASSERT_OK(hh_store_user_set_password(t.h.st, "bob", "bob password 2026", &err));
    hh_test_resp_t r;
    /* the control: bob's own name logs in */
    ASSERT_OK(hh_test_http(t.h.port, "POST", "/api/login", NULL,
                           "{\"username\":\"bob\",\"password\":\"bob password 2026\"}", &r));
    ASSERT_EQ_INT(r.status, 200);
    hh_test_resp_free(&r);
    static const char *const logins[] = {
        "{\"username\":\"bob\\u0000x\",\"password\":\"bob password 2026\"}",
        "{\"username\":\"bob\",\"password\":\"bob password 2026\\u0000tail\"}",
        "{\"username\":\"bob\x01\",\"password\":\"bob password 2026\"}",
        "{\"username\":\"b\nob\",\"password\":\"bob password 2026\"}",
    };
    for (size_t i = 0; i < sizeof logins / sizeof logins[0]; i++) {
        ASSERT_OK(hh_test_http(t.h.port, "POST", "/api/login", NULL, logins[i], &r));
        if (r.status != 400)
            printf("    login %zu -> %d %s\n", i, r.status, r.body);
        ASSERT_EQ_INT(r.status, 400);
        ASSERT_STREQ(hh_test_resp_err_code(&r), "invalid_json");
        hh_test_resp_free(&r);
    }
    static const char *const chats[] = {
        "{\"model\":\"stories260K\",\"messages\":[{\"role\":\"user\",\"content\":\"a\\u0000b\"}],\"max_tokens\":2}",
        "{\"model\":\"stories260K\",\"messages\":[{\"role\":\"user\",\"content\":\"a\x1f\"}],\"max_tokens\":2}",
        "{\"model\":\"stories260K\\u0000\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"}],\"max_tokens\":2}",
    };
    for (size_t i = 0; i < sizeof chats / sizeof chats[0]; i++) {
        ASSERT_TRUE(post(&t, "/v1/chat/completions", chats[i], &r));
        if (r.status != 400)
            printf("    chat %zu -> %d %s\n", i, r.status, r.body);
        ASSERT_EQ_INT(r.status, 400);
        ASSERT_STREQ(hh_test_resp_err_code(&r), "invalid_json");
        hh_test_resp_free(&r);
    }
    /* What JSON allows still passes: escaped controls other than NUL, a
     * backslash before a quote, tabs and newlines between tokens. */
    ASSERT_TRUE(post(&t, "/v1/chat/completions",
                     "{\n\t\"model\":\"stories260K\",\"messages\":[{\"role\":\"user\",\"content\":"
                     "\"a\\u0001\\n\\\\\\\"\\u00e9\"}],\"max_tokens\":2}",
                     &r));
    ASSERT_EQ_INT(r.status, 200);
    hh_test_resp_free(&r);
    hh_test_srv_stop(&t.h);
}

/* ---- connections: per-address cap, deadlines (issue 12 finding 5) ------- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* A TCP connection from the loopback address src (e.g. "127.0.0.2"; every
 * 127/8 address is local on Linux) to 127.0.0.1:port, connect bounded by
 * 2 s; -1 on failure. */
static int connect_from(const char *src, int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = { .sin_family = AF_INET };
    inet_pton(AF_INET, src, &a.sin_addr);
    struct timeval tv = { .tv_sec = 2 };
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    struct sockaddr_in d = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    inet_pton(AF_INET, "127.0.0.1", &d.sin_addr);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || connect(fd, (struct sockaddr *)&d, sizeof d) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* GET /health from src with Connection: close; the status, or -1 when no
 * complete answer came within timeout_s. */
static int health_from(const char *src, int port, double timeout_s)
{
    int fd = connect_from(src, port);
    if (fd < 0)
        return -1;
    const char *req = "GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    if (send(fd, req, strlen(req), MSG_NOSIGNAL) != (ssize_t)strlen(req)) {
        close(fd);
        return -1;
    }
    char buf[4096];
    size_t n = 0;
    double until = now_s() + timeout_s;
    for (;;) {
        int left_ms = (int)((until - now_s()) * 1000);
        struct pollfd pf = { .fd = fd, .events = POLLIN };
        if (left_ms <= 0 || poll(&pf, 1, left_ms) <= 0)
            break;
        ssize_t k = recv(fd, buf + n, sizeof buf - 1 - n, 0);
        if (k <= 0)
            break;
        n += (size_t)k;
        if (n >= sizeof buf - 1)
            break;
    }
    close(fd);
    buf[n] = '\0';
    int status = -1;
    if (sscanf(buf, "HTTP/1.1 %d", &status) != 1)
        return -1;
    return status;
}

/* Sends prefix, then one byte of filler every 0.2 s for up to max_s; the
 * seconds until the server cut the connection (send fails, or the peer
 * closed), or -1 when it was still open at the end. */
static double trickle(int port, const char *prefix, double max_s)
{
    int fd = connect_from("127.0.0.1", port);
    if (fd < 0)
        return -2;
    double t0 = now_s();
    double cut = -1;
    if (send(fd, prefix, strlen(prefix), MSG_NOSIGNAL) != (ssize_t)strlen(prefix))
        cut = now_s() - t0;
    while (cut < 0 && now_s() - t0 < max_s) {
        struct pollfd pf = { .fd = fd, .events = POLLIN };
        if (poll(&pf, 1, 200) > 0) {
            char b[512];
            if (recv(fd, b, sizeof b, MSG_DONTWAIT) <= 0) {   /* EOF or reset: cut */
                cut = now_s() - t0;
                break;
            }
        }
        if (send(fd, "a", 1, MSG_NOSIGNAL) != 1)
            cut = now_s() - t0;
    }
    close(fd);
    return cut;
}

/* 1000 slow connections from one address (127.0.0.1; each holds a
 * half-sent request) leave /health answering, within a second, for another
 * address (127.0.0.2). The server allows 256 connections in all (the
 * attack fills that on main, where no per-address cap existed) and 64 per
 * address (the default). */
TEST(http_one_address_cannot_take_every_connection)
{
    struct rlimit rl;
    ASSERT_OK(getrlimit(RLIMIT_NOFILE, &rl));
    if (rl.rlim_cur < rl.rlim_max) {   /* 1000 client sockets + the server's */
        rl.rlim_cur = rl.rlim_max;
        ASSERT_OK(setrlimit(RLIMIT_NOFILE, &rl));
    }
    ASSERT_GE((double)rl.rlim_cur, 1200);
    test_srv_t t;
    memset(&t, 0, sizeof t);
    hh_test_srv_params_t p = hh_test_srv_default_params();
    p.http.max_connections = 256;
    ASSERT_OK(hh_test_srv_start(&t.h, "http-conncap", &p));
    enum { N_ATTACK = 1000 };
    static int fds[N_ATTACK];
    int opened = 0;
    const char *part = "GET /health HTTP/1.1\r\nHost: localhost\r\nX-Slow: ";
    for (int i = 0; i < N_ATTACK; i++) {
        fds[i] = connect_from("127.0.0.1", t.h.port);
        if (fds[i] >= 0) {
            opened++;
            send(fds[i], part, strlen(part), MSG_NOSIGNAL);
        }
    }
    ASSERT_GE(opened, N_ATTACK / 2);   /* the attack really connected */
    usleep(300 * 1000);       /* the server has taken them in */
    double t0 = now_s();
    int status = health_from("127.0.0.2", t.h.port, 1.0);
    double took = now_s() - t0;
    printf("    victim /health from 127.0.0.2: %d in %.3f s (%d attacker connections)\n", status, took, opened);
    ASSERT_EQ_INT(status, 200);
    ASSERT_LE(took, 1.0);
    /* the attacker's own address is capped: a fresh request of its own
     * gets no answer while its 64 slow ones are held */
    ASSERT_EQ_INT(health_from("127.0.0.1", t.h.port, 0.5), -1);
    for (int i = 0; i < N_ATTACK; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    usleep(300 * 1000);
    ASSERT_EQ_INT(health_from("127.0.0.1", t.h.port, 2.0), 200);   /* freed again */
    hh_test_srv_stop(&t.h);
}

/* A trickle (one byte per 0.2 s) cannot extend the header or body deadline
 * the way it extends MHD's idle timeout: with header_timeout_s 1 the
 * headers are cut about 1 s after connect, and a body trickling at 5
 * bytes/s (below body_min_rate) about 1 s after its headers. */
TEST(http_trickle_cut_by_deadlines)
{
    test_srv_t t;
    memset(&t, 0, sizeof t);
    hh_test_srv_params_t p = hh_test_srv_default_params();
    p.http.header_timeout_s = 1;
    p.http.body_min_rate = 100;
    ASSERT_OK(hh_test_srv_start(&t.h, "http-trickle", &p));
    ASSERT_OK(hh_test_srv_user(&t.h, "tester", "member", t.key, NULL));
    double cut = trickle(t.h.port, "GET /health HTTP/1.1\r\nHost: localhost\r\nX-Slow: ", 4.0);
    printf("    header trickle cut after %.2f s\n", cut);
    ASSERT_GE(cut, 0.8);
    ASSERT_LE(cut, 2.0);
    char head[512];
    snprintf(head, sizeof head,
             "POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer %s\r\n"
             "Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{\"model\":\"",
             t.key);
    cut = trickle(t.h.port, head, 5.0);
    printf("    body trickle cut after %.2f s\n", cut);
    ASSERT_GE(cut, 0.8);
    ASSERT_LE(cut, 2.5);
    /* a request at normal speed is untouched, also after the cuts */
    hh_test_resp_t r;
    ASSERT_OK(hh_test_http(t.h.port, "GET", "/health", NULL, NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    hh_test_resp_free(&r);
    hh_test_srv_stop(&t.h);
}

/* ---- DATA/tmp (issue 12 finding 7) --------------------------------------- */

static bool write_bytes(const char *path, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return false;
    for (size_t i = 0; i < n; i++)
        fputc('x', f);
    return fclose(f) == 0;
}

/* Upload folders and audit exports left in DATA/tmp by a crash (kill -9
 * mid-upload left 55 MB there, unseen by GDPR export) are removed when the
 * server starts; links in there are removed, never followed. */
TEST(http_start_cleans_data_tmp)
{
    char data[512], p[800], outside[512];
    snprintf(data, sizeof data, "%s/http-tmpclean", hh_test_tmpdir());
    mkdir(data, 0700);
    snprintf(p, sizeof p, "%s/tmp", data);
    ASSERT_OK(mkdir(p, 0700));
    snprintf(p, sizeof p, "%s/tmp/up-Ab12Cd", data);
    ASSERT_OK(mkdir(p, 0700));
    snprintf(p, sizeof p, "%s/tmp/up-Ab12Cd/salaries.pdf", data);
    ASSERT_TRUE(write_bytes(p, 2u << 20));
    snprintf(p, sizeof p, "%s/tmp/audit-Xy34Zw", data);
    ASSERT_TRUE(write_bytes(p, 1000));
    /* a file and a folder outside, linked from DATA/tmp: must survive */
    snprintf(outside, sizeof outside, "%s/http-tmpclean-outside", hh_test_tmpdir());
    mkdir(outside, 0700);
    snprintf(p, sizeof p, "%s/keep.txt", outside);
    ASSERT_TRUE(write_bytes(p, 10));
    snprintf(p, sizeof p, "%s/tmp/up-link", data);
    ASSERT_OK(symlink(outside, p));
    test_srv_t t;
    memset(&t, 0, sizeof t);
    hh_test_srv_params_t sp = hh_test_srv_default_params();
    ASSERT_OK(hh_test_srv_start(&t.h, "http-tmpclean", &sp));
    int left = 0;
    snprintf(p, sizeof p, "%s/tmp", data);
    DIR *d = opendir(p);
    ASSERT_TRUE(d != NULL);
    for (struct dirent *de; (de = readdir(d));)
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
            printf("    left in DATA/tmp: %s\n", de->d_name);
            left++;
        }
    closedir(d);
    ASSERT_EQ_INT(left, 0);
    snprintf(p, sizeof p, "%s/keep.txt", outside);
    struct stat st;
    ASSERT_OK(stat(p, &st));
    ASSERT_EQ_INT(st.st_size, 10);
    hh_test_resp_t r;
    ASSERT_OK(hh_test_http(t.h.port, "GET", "/health", NULL, NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    hh_test_resp_free(&r);
    hh_test_srv_stop(&t.h);
}

/* Issue 12 finding 8: a JSON schema past the server's limits (nesting
 * deeper than HH_GRAMMAR_MAX_DEPTH) answered 400 context_length_exceeded,
 * which tells a client to shorten its prompt; it is schema_too_complex. */
TEST(http_schema_limits_have_their_own_code)
{
    test_srv_t t;
    ASSERT_TRUE(srv_start(&t, "schema", 1));
    enum { DEPTH = 80 };   /* > HH_GRAMMAR_MAX_DEPTH (64) */
    char schema[DEPTH * 64 + 64];
    size_t o = 0;
    for (int i = 0; i < DEPTH; i++)
        o += (size_t)snprintf(schema + o, sizeof schema - o, "{\"type\":\"object\",\"properties\":{\"a\":");
    o += (size_t)snprintf(schema + o, sizeof schema - o, "{\"type\":\"string\"}");
    for (int i = 0; i < DEPTH; i++)
        o += (size_t)snprintf(schema + o, sizeof schema - o, "}}");
    size_t cap = o + 512;
    char *body = malloc(cap);
    ASSERT_TRUE(body != NULL);
    snprintf(body, cap,
             "{\"model\":\"stories260K\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"}],\"max_tokens\":2,"
             "\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"deep\",\"schema\":%s}}}",
             schema);
    hh_test_resp_t r;
    ASSERT_TRUE(post(&t, "/v1/chat/completions", body, &r));
    printf("    deep schema -> %d %s\n", r.status, hh_test_resp_err_code(&r));
    ASSERT_EQ_INT(r.status, 400);
    ASSERT_STREQ(hh_test_resp_err_code(&r), "schema_too_complex");
    cJSON *j = error_body(&r);
    ASSERT_TRUE(j != NULL);
    ASSERT_STREQ(err_field(j, "param"), "response_format");
    cJSON_Delete(j);
    hh_test_resp_free(&r);
    /* the same schema as a forced tool's parameters */
    snprintf(body, cap,
             "{\"model\":\"stories260K\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"}],\"max_tokens\":2,"
             "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\",\"parameters\":%s}}],"
             "\"tool_choice\":\"required\"}",
             schema);
    ASSERT_TRUE(post(&t, "/v1/chat/completions", body, &r));
    printf("    deep tool schema -> %d %s\n", r.status, hh_test_resp_err_code(&r));
    ASSERT_EQ_INT(r.status, 400);
    ASSERT_STREQ(hh_test_resp_err_code(&r), "schema_too_complex");
    hh_test_resp_free(&r);
    free(body);
    /* a schema within the limits still runs */
    ASSERT_TRUE(post(&t, "/v1/chat/completions",
                     "{\"model\":\"stories260K\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"}],\"max_tokens\":4,"
                     "\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"s\",\"schema\":"
                     "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\"}}}}}}",
                     &r));
    ASSERT_EQ_INT(r.status, 200);
    hh_test_resp_free(&r);
    hh_test_srv_stop(&t.h);
}

/* Issue 12 finding 8: error messages named files by their server path (the
 * data directory and the upload folder in it). An upload that fails to
 * ingest (an empty file) now names only the file; so does a model that
 * cannot be loaded. */
TEST(http_error_messages_hold_no_server_paths)
{
    test_srv_t t;
    ASSERT_TRUE(srv_start(&t, "paths", 1));
    hh_err_t err;
    hh_err_clear(&err);
    ASSERT_OK(hh_store_collection_ensure(t.h.st, "open", NULL, 0, NULL, &err));
    char admin[HH_KEY_LEN + 1];
    ASSERT_OK(hh_test_srv_user(&t.h, "root", "admin", admin, NULL));
    hh_test_resp_t r;
    ASSERT_OK(hh_test_http_upload(t.h.port, admin, "open", "empty-notes.md", "", &r));
    printf("    empty upload -> %d %s\n", r.status, r.body);
    ASSERT_GE(r.status, 400);
    ASSERT_TRUE(strstr(r.body, "empty-notes.md") != NULL);
    ASSERT_TRUE(strstr(r.body, t.h.data) == NULL);
    ASSERT_TRUE(strstr(r.body, "/tmp/") == NULL);
    ASSERT_TRUE(strstr(r.body, "up-") == NULL);
    hh_test_resp_free(&r);
    /* a model file that is not a GGUF: the loader names the file */
    char p[800];
    snprintf(p, sizeof p, "%s/models/broken.gguf", t.h.data);
    FILE *f = fopen(p, "wb");
    ASSERT_TRUE(f != NULL);
    fputs("not a gguf at all, just text that is long enough to be read", f);
    fclose(f);
    ASSERT_TRUE(post(&t, "/v1/chat/completions",
                     "{\"model\":\"broken\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"}],\"max_tokens\":2}", &r));
    printf("    broken model -> %d %s\n", r.status, r.body);
    ASSERT_GE(r.status, 400);
    ASSERT_TRUE(strstr(r.body, t.h.data) == NULL);
    hh_test_resp_free(&r);
    /* the API's own paths stay readable in messages */
    ASSERT_OK(hh_test_http(t.h.port, "GET", "/v1/nothing/here", t.key, NULL, &r));
    ASSERT_EQ_INT(r.status, 404);
    ASSERT_TRUE(strstr(r.body, "/v1/nothing/here") != NULL);
    hh_test_resp_free(&r);
    hh_test_srv_stop(&t.h);
}
