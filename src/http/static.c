/* static.c - the web UI's files: GET / (index.html) and GET /assets/PATH
 * (PATH relative to web/, at most one folder deep), without a key. The
 * files are built into the binary (scripts/webgen.c writes them from web/
 * at build time; src/http/web_assets.h); `hoheit serve --web-dir DIR`
 * reads them from DIR at each request instead, for UI development.
 *
 * Every answer, a 304 included, carries the UI's security headers: a
 * strict Content-Security-Policy (only this server's own scripts, styles,
 * images and connections; no inline script or style; no framing, no
 * <base>, forms post only here), X-Content-Type-Options nosniff,
 * Referrer-Policy no-referrer. File names are not hashed, so every file is
 * `Cache-Control: no-cache` with a strong ETag (BLAKE2b-128 of the bytes):
 * the browser asks each time and gets 304 while the file is unchanged.
 * A path that names no file answers the API's JSON 404 (the UI routes by
 * the URL's #fragment, so no deep link reaches the server). */
#include "http/http_int.h"
#include "http/web_assets.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define WEB_FILE_MAX (16u << 20)   /* --web-dir: larger files are not served */

static const char k_csp[] = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                            "connect-src 'self'; font-src 'self'; object-src 'none'; frame-ancestors 'none'; "
                            "base-uri 'none'; form-action 'self'";

/* A name the UI may use: [A-Za-z0-9._-] segments, none starting with '.'
 * (so no "..", no hidden file), at most one '/'. */
static bool name_ok(const char *p)
{
    int slashes = 0;
    bool seg_start = true;
    if (!*p)
        return false;
    for (; *p; p++) {
        if (*p == '/') {
            if (seg_start || ++slashes > 1)
                return false;
            seg_start = true;
            continue;
        }
        if (seg_start && *p == '.')
            return false;
        seg_start = false;
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '.' ||
              *p == '_' || *p == '-'))
            return false;
    }
    return !seg_start;
}

/* --web-dir: the file's bytes (malloc'd) and ETag, or -1 when it is not a
 * regular file of at most WEB_FILE_MAX bytes (a link is not followed). */
static int read_disk(const char *dir, const char *name, unsigned char **data, size_t *len, char etag[35])
{
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path)
        return -1;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct stat st;
    unsigned char *b = NULL;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > WEB_FILE_MAX ||
        !(b = malloc((size_t)st.st_size + 1))) {
        close(fd);
        return -1;
    }
    size_t n = 0;
    while (n < (size_t)st.st_size) {
        ssize_t got = read(fd, b + n, (size_t)st.st_size - n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        n += (size_t)got;
    }
    close(fd);
    unsigned char h[16];
    crypto_generichash(h, sizeof h, b, n, NULL, 0);
    etag[0] = '"';
    sodium_bin2hex(etag + 1, 33, h, sizeof h);
    etag[33] = '"';
    etag[34] = '\0';
    *data = b;
    *len = n;
    return 0;
}

static const hh_web_asset_t *find_builtin(const char *name)
{
    for (size_t i = 0; i < hh_web_assets_n; i++)
        if (!strcmp(hh_web_assets[i].path, name))
            return &hh_web_assets[i];
    return NULL;
}

/* If-None-Match names etag (or is "*"): a comma-separated list, W/ allowed. */
static bool etag_matches(const char *inm, const char *etag)
{
    if (!inm)
        return false;
    size_t el = strlen(etag);
    for (const char *p = inm; *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        if (!strncmp(p, "W/", 2))
            p += 2;
        if (*p == '*')
            return true;
        if (!strncmp(p, etag, el) && (p[el] == '\0' || p[el] == ',' || p[el] == ' '))
            return true;
        while (*p && *p != ',')
            p++;
    }
    return false;
}

void ht_web_headers(struct MHD_Response *r)
{
    MHD_add_response_header(r, "Content-Security-Policy", k_csp);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(r, "X-Frame-Options", "DENY");
    MHD_add_response_header(r, "Cross-Origin-Opener-Policy", "same-origin");
    MHD_add_response_header(r, "Cross-Origin-Resource-Policy", "same-origin");
}

enum MHD_Result ht_handle_static(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url)
{
    const char *name = !strcmp(url, "/") ? "index.html" : url + strlen("/assets/");
    const char *type = hh_web_type(name);
    hh_api_error_t e;
    if (strncmp(url, "/assets/", 8) && strcmp(url, "/"))
        name = "";
    if (!name_ok(name) || !type) {
        hh_api_error_set(&e, 404, "invalid_request_error", "not_found", NULL, "Unknown path %s", url);
        return ht_send_error(c, cs, &e);
    }
    const unsigned char *data = NULL;
    unsigned char *owned = NULL;
    size_t len = 0;
    char etag[35];
    if (s->params.web_dir) {
        if (read_disk(s->params.web_dir, name, &owned, &len, etag) == 0)
            data = owned;
    } else {
        const hh_web_asset_t *a = find_builtin(name);
        if (a) {
            data = a->data;
            len = a->len;
            snprintf(etag, sizeof etag, "%s", a->etag);
        }
    }
    if (!data) {
        hh_api_error_set(&e, 404, "invalid_request_error", "not_found", NULL, "Unknown path %s", url);
        return ht_send_error(c, cs, &e);
    }
    int status = 200;
    struct MHD_Response *r;
    if (etag_matches(MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH), etag)) {
        free(owned);
        status = 304;
        len = 0;
        r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    } else if (owned) {
        r = MHD_create_response_from_buffer(len, owned, MHD_RESPMEM_MUST_FREE);
        if (!r)
            free(owned);
    } else {
        r = MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_PERSISTENT);
    }
    if (!r)
        return MHD_NO;
    if (status == 200)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, etag);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    ht_web_headers(r);
    return ht_queue(c, cs, status, r, len);
}
