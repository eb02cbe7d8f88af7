/* test_web.c - the web UI's files over HTTP (src/http/static.c): the
 * built-in copy with its security headers, ETag and 304, JSON 404s for
 * every path that names no file (traversal, hidden, too deep, unknown
 * type), the API's 404s unchanged, `--web-dir` from disk without following
 * links, and the built-in table itself (types, ETags, German and English
 * catalogs with the same keys). The browser tests are tests/ui. */
#include "harness.h"
#include "http_helpers.h"
#include "http/web_assets.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The value of header name in r (first one), copied into buf; "" if none. */
static const char *hdr(const hh_test_resp_t *r, const char *name, char *buf, size_t cap)
{
    size_t nl = strlen(name);
    buf[0] = '\0';
    for (const char *p = r->headers; p && (p = strstr(p, "\r\n")) != NULL;) {
        p += 2;
        if (!strncasecmp(p, name, nl) && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (*v == ' ')
                v++;
            size_t n = strcspn(v, "\r\n");
            snprintf(buf, cap, "%.*s", (int)(n < cap ? n : cap - 1), v);
            return buf;
        }
    }
    return buf;
}

static int get(int port, const char *path, const char *extra, hh_test_resp_t *r)
{
    hh_test_req_t q = { .method = "GET", .path = path, .headers = extra };
    return hh_test_http_req(port, &q, r);
}

static bool is_not_found(const hh_test_resp_t *r)
{
    const cJSON *e = r->j ? cJSON_GetObjectItemCaseSensitive(r->j, "error") : NULL;
    const cJSON *code = e ? cJSON_GetObjectItemCaseSensitive(e, "code") : NULL;
    return r->status == 404 && cJSON_IsString(code) && !strcmp(code->valuestring, "not_found");
}

static void check_ui_headers(const hh_test_resp_t *r, bool *ok)
{
    char b[512];
    *ok = strstr(hdr(r, "Content-Security-Policy", b, sizeof b), "default-src 'self'") &&
          strstr(b, "script-src 'self'") && strstr(b, "style-src 'self'") && strstr(b, "frame-ancestors 'none'") &&
          strstr(b, "base-uri 'none'") && strstr(b, "connect-src 'self'") && !strstr(b, "unsafe") &&
          !strcmp(hdr(r, "X-Content-Type-Options", b, sizeof b), "nosniff") &&
          !strcmp(hdr(r, "Referrer-Policy", b, sizeof b), "no-referrer") &&
          !strcmp(hdr(r, "Cache-Control", b, sizeof b), "no-cache");
}

TEST(web_builtin_index_assets_headers_etag_304)
{
    hh_test_srv_t t;
    ASSERT_OK(hh_test_srv_start(&t, "web-builtin", NULL));
    hh_test_resp_t r;
    char b[512], etag[64];
    bool ok = false;

    ASSERT_OK(get(t.port, "/", NULL, &r));   /* no key, no cookie */
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_STREQ(hdr(&r, "Content-Type", b, sizeof b), "text/html; charset=utf-8");
    check_ui_headers(&r, &ok);
    ASSERT_TRUE(ok);
    ASSERT_TRUE(!strncmp(r.body, "<!doctype html>", 15));
    ASSERT_TRUE(strstr(r.body, "<script type=\"module\" src=\"/assets/app.js\"></script>") != NULL);
    ASSERT_TRUE(strstr(r.body, "style=") == NULL);
    hh_test_resp_free(&r);

    ASSERT_OK(get(t.port, "/assets/app.js", NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_STREQ(hdr(&r, "Content-Type", b, sizeof b), "text/javascript; charset=utf-8");
    snprintf(etag, sizeof etag, "%s", hdr(&r, "ETag", b, sizeof b));
    ASSERT_EQ_INT(strlen(etag), 34);
    check_ui_headers(&r, &ok);
    ASSERT_TRUE(ok);
    size_t js_len = r.body_len;
    ASSERT_TRUE(js_len > 1000);
    hh_test_resp_free(&r);

    char inm[128];
    snprintf(inm, sizeof inm, "If-None-Match: \"0000\", %s", etag);
    ASSERT_OK(get(t.port, "/assets/app.js", inm, &r));
    ASSERT_EQ_INT(r.status, 304);
    ASSERT_EQ_INT(r.body_len, 0);
    ASSERT_STREQ(hdr(&r, "ETag", b, sizeof b), etag);
    check_ui_headers(&r, &ok);
    ASSERT_TRUE(ok);
    hh_test_resp_free(&r);

    ASSERT_OK(get(t.port, "/assets/app.js", "If-None-Match: \"0123456789abcdef0123456789abcdef\"", &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_EQ_INT(r.body_len, js_len);
    hh_test_resp_free(&r);

    ASSERT_OK(get(t.port, "/assets/i18n/de.json", NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_STREQ(hdr(&r, "Content-Type", b, sizeof b), "application/json; charset=utf-8");
    ASSERT_TRUE(r.j != NULL && cJSON_IsString(cJSON_GetObjectItemCaseSensitive(r.j, "shell.logout")));
    hh_test_resp_free(&r);

    ASSERT_OK(get(t.port, "/assets/screens/chat.js", NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    hh_test_resp_free(&r);
    hh_test_srv_stop(&t);
}

TEST(web_paths_without_a_file_are_json_404s)
{
    hh_test_srv_t t;
    ASSERT_OK(hh_test_srv_start(&t, "web-404", NULL));
    const char *paths[] = {
        "/assets/nope.js",         "/assets/.hidden.js",     "/assets/../README.md",       "/assets/%2e%2e/x.js",
        "/assets/screens/../app.js", "/assets/a/b/c.js",    "/assets/app",                "/assets/app.exe",
        "/assets/i18n/",           "/assets/screens//x.js",  "/index.html",                "/foo",
        "/api/nope",               "/v1/nope",
    };
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        hh_test_resp_t r;
        ASSERT_OK(get(t.port, paths[i], NULL, &r));
        if (!is_not_found(&r))
            printf("    %s -> %d %.80s\n", paths[i], r.status, r.body);
        ASSERT_TRUE(is_not_found(&r));
        hh_test_resp_free(&r);
    }
    hh_test_resp_t r;
    ASSERT_OK(hh_test_http(t.port, "POST", "/", NULL, "{}", &r));
    ASSERT_EQ_INT(r.status, 405);
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(t.port, "GET", "/api/me", NULL, NULL, &r));   /* the API still wants a key */
    ASSERT_EQ_INT(r.status, 401);
    hh_test_resp_free(&r);
    hh_test_srv_stop(&t);
}

static int write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fputs(text, f);
    return fclose(f);
}

TEST(web_dir_serves_from_disk_without_following_links)
{
    char dir[600], p[700];
    snprintf(dir, sizeof dir, "%s/web-dir-ui", hh_test_tmpdir());
    mkdir(dir, 0700);
    snprintf(p, sizeof p, "%s/screens", dir);
    mkdir(p, 0700);
    snprintf(p, sizeof p, "%s/index.html", dir);
    ASSERT_OK(write_file(p, "<!doctype html><p>one</p>"));
    snprintf(p, sizeof p, "%s/screens/x.js", dir);
    ASSERT_OK(write_file(p, "export default 1;"));
    char secret[700];
    snprintf(secret, sizeof secret, "%s/secret.txt", hh_test_tmpdir());
    ASSERT_OK(write_file(secret, "do not serve"));
    snprintf(p, sizeof p, "%s/link.txt", dir);
    unlink(p);
    ASSERT_OK(symlink(secret, p));

    hh_test_srv_params_t sp = hh_test_srv_default_params();
    sp.http.web_dir = dir;
    hh_test_srv_t t;
    ASSERT_OK(hh_test_srv_start(&t, "web-dir", &sp));
    hh_test_resp_t r;
    char b[256], etag1[64];
    bool ok = false;
    ASSERT_OK(get(t.port, "/", NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_STREQ(r.body, "<!doctype html><p>one</p>");
    check_ui_headers(&r, &ok);
    ASSERT_TRUE(ok);
    snprintf(etag1, sizeof etag1, "%s", hdr(&r, "ETag", b, sizeof b));
    hh_test_resp_free(&r);

    snprintf(p, sizeof p, "%s/index.html", dir);   /* an edit shows at once, with a new ETag */
    ASSERT_OK(write_file(p, "<!doctype html><p>two</p>"));
    ASSERT_OK(get(t.port, "/", NULL, &r));
    ASSERT_STREQ(r.body, "<!doctype html><p>two</p>");
    ASSERT_TRUE(strcmp(hdr(&r, "ETag", b, sizeof b), etag1) != 0);
    hh_test_resp_free(&r);

    ASSERT_OK(get(t.port, "/assets/screens/x.js", NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_STREQ(r.body, "export default 1;");
    hh_test_resp_free(&r);

    ASSERT_OK(get(t.port, "/assets/link.txt", NULL, &r));   /* a link is not followed */
    ASSERT_TRUE(is_not_found(&r));
    ASSERT_TRUE(strstr(r.body, "do not serve") == NULL);
    hh_test_resp_free(&r);
    ASSERT_OK(get(t.port, "/assets/app.js", NULL, &r));   /* not on disk: not the built-in one either */
    ASSERT_TRUE(is_not_found(&r));
    hh_test_resp_free(&r);
    hh_test_srv_stop(&t);
}

/* The keys of catalog `name` ("de.json", "chat.en.json") in the built-in table. */
static cJSON *catalog(const char *name)
{
    char path[160];
    snprintf(path, sizeof path, "i18n/%s", name);
    for (size_t i = 0; i < hh_web_assets_n; i++)
        if (!strcmp(hh_web_assets[i].path, path))
            return cJSON_ParseWithLength((const char *)hh_web_assets[i].data, hh_web_assets[i].len);
    return NULL;
}

TEST(web_builtin_table_types_etags_and_catalogs_match)
{
    ASSERT_TRUE(sodium_init() >= 0);
    ASSERT_GE(hh_web_assets_n, 8);
    int n_de = 0;
    bool have_index = false;
    for (size_t i = 0; i < hh_web_assets_n; i++) {
        const hh_web_asset_t *a = &hh_web_assets[i];
        ASSERT_TRUE(a->path && a->type && a->data && a->etag);
        ASSERT_STREQ(a->type, hh_web_type(a->path));
        unsigned char h[16];
        char hex[33], want[40];
        crypto_generichash(h, sizeof h, a->data, a->len, NULL, 0);
        sodium_bin2hex(hex, sizeof hex, h, sizeof h);
        snprintf(want, sizeof want, "\"%s\"", hex);
        ASSERT_STREQ(a->etag, want);
        have_index |= !strcmp(a->path, "index.html");
        /* every German catalog has an English twin with the same keys */
        size_t pl = strlen(a->path);
        if (strncmp(a->path, "i18n/", 5) || pl < 8 || strcmp(a->path + pl - 7, "de.json"))
            continue;
        char en[128];
        snprintf(en, sizeof en, "%.*sen.json", (int)(pl - 7 - 5), a->path + 5);
        cJSON *d = cJSON_ParseWithLength((const char *)a->data, a->len);
        cJSON *e = catalog(en);
        if (!e)
            printf("    no English twin for %s\n", a->path);
        ASSERT_TRUE(d != NULL && e != NULL);
        ASSERT_EQ_INT(cJSON_GetArraySize(d), cJSON_GetArraySize(e));
        const cJSON *it;
        cJSON_ArrayForEach(it, d)
        {
            const cJSON *other = cJSON_GetObjectItemCaseSensitive(e, it->string);
            if (!cJSON_IsString(other) || !other->valuestring[0])
                printf("    %s: %s has no English text\n", a->path, it->string);
            ASSERT_TRUE(cJSON_IsString(it) && cJSON_IsString(other) && other->valuestring[0]);
        }
        cJSON_Delete(d);
        cJSON_Delete(e);
        n_de++;
    }
    ASSERT_TRUE(have_index);
    ASSERT_GE(n_de, 4);   /* shell, login, chat, documents */
}
