/* httptool.c - a small HTTP/1.1 client for the http_request tool
 * (httptool.h): one request per connection, deadlines by poll(). */
#include "agent/httptool.h"
#include "base/utf8.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HTTP_CONNECT_S 2.0
#define HTTP_HEAD_MAX (16 * 1024)
#define HTTP_BODY_GIVEN 12000   /* bytes of the body the model gets */

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

int hh_agent_http_target(const hh_agent_endpoint_t *ep, const char *path, char *out, size_t cap, hh_err_t *err)
{
    if (!path)
        path = "";
    size_t n = strlen(path);
    if (n > HH_AGENT_HTTP_PATH_MAX)
        return hh_err_set(err, HH_EINVAL, -1, "http_request: the path is longer than %d bytes", HH_AGENT_HTTP_PATH_MAX);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)path[i];
        if (c <= ' ' || c >= 0x7f || strchr("\\#\"<>`{}|^", c))
            return hh_err_set(err, HH_EINVAL, -1, "http_request: the path may not hold %s",
                              c <= ' ' || c >= 0x7f ? "spaces, control or non-ASCII bytes" : "\\ # \" < > ` { } | ^");
    }
    if (!strncmp(path, "//", 2) || strstr(path, "://"))
        return hh_err_set(err, HH_EINVAL, -1, "http_request: the path must be relative to the endpoint (no URL, no host)");
    const char *p = path[0] == '/' ? path + 1 : path;
    size_t plen = strcspn(p, "?");
    /* a scheme ("http:", "mailto:") before the first '/' is an absolute URL */
    size_t seg0 = strcspn(p, "/?");
    if (memchr(p, ':', seg0))
        return hh_err_set(err, HH_EINVAL, -1, "http_request: the path must be relative to the endpoint (no URL, no host)");
    /* the segments: no empty, "." or ".." (also encoded), no encoded separators */
    for (size_t s = 0; s < plen || (s == 0 && plen == 0);) {
        size_t e = s;
        while (e < plen && p[e] != '/')
            e++;
        char dec[HH_AGENT_HTTP_PATH_MAX + 1];
        size_t dn = 0;
        for (size_t i = s; i < e; i++) {
            if (p[i] == '%') {
                int h = i + 2 < e ? hexval(p[i + 1]) : -1;
                int l = h >= 0 ? hexval(p[i + 2]) : -1;
                if (h < 0 || l < 0)
                    return hh_err_set(err, HH_EINVAL, -1, "http_request: a bad percent escape in the path");
                char c = (char)(h * 16 + l);
                if (c == '/' || c == '\\' || c == '\0')
                    return hh_err_set(err, HH_EINVAL, -1, "http_request: an encoded '/', '\\' or NUL in the path");
                dec[dn++] = c;
                i += 2;
            } else {
                dec[dn++] = p[i];
            }
        }
        dec[dn] = '\0';
        bool last = e >= plen;
        if (!strcmp(dec, ".") || !strcmp(dec, ".."))
            return hh_err_set(err, HH_EINVAL, -1, "http_request: '.' and '..' are not allowed in the path");
        if (dn == 0 && !last && plen > 0)
            return hh_err_set(err, HH_EINVAL, -1, "http_request: an empty segment ('//') in the path");
        if (last)
            break;
        s = e + 1;
    }
    if ((size_t)snprintf(out, cap, "%s%s", ep->base, p) >= cap)
        return hh_err_set(err, HH_EINVAL, -1, "http_request: the path is too long");
    return 0;
}

/* ---- the socket ------------------------------------------------------------ */

static int wait_fd(int fd, short ev, double deadline)
{
    for (;;) {
        double left = deadline - mono_s();
        if (left <= 0)
            return 0;
        struct pollfd pf = { .fd = fd, .events = ev };
        int r = poll(&pf, 1, (int)(left * 1000) + 1);
        if (r < 0 && errno == EINTR)
            continue;
        return r;
    }
}

static int connect_to(const hh_agent_endpoint_t *ep, double deadline, hh_err_t *err)
{
    char port[16];
    snprintf(port, sizeof port, "%d", ep->port);
    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    if (getaddrinfo(ep->host, port, &hints, &ai) != 0 || !ai)
        return hh_err_set(err, HH_EIO, -1, "http_request: endpoint '%s': its host cannot be resolved", ep->name);
    int fd = -1;
    double cdead = mono_s() + HTTP_CONNECT_S;
    if (cdead > deadline)
        cdead = deadline;
    for (struct addrinfo *a = ai; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0)
            continue;
        int r = connect(fd, a->ai_addr, a->ai_addrlen);
        if (r != 0 && errno == EINPROGRESS && wait_fd(fd, POLLOUT, cdead) > 0) {
            int soerr = 0;
            socklen_t sl = sizeof soerr;
            r = getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr == 0 ? 0 : -1;
        }
        if (r != 0) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(ai);
    if (fd < 0)
        return hh_err_set(err, HH_EIO, -1, "http_request: endpoint '%s' cannot be reached (connect within %g s)",
                          ep->name, HTTP_CONNECT_S);
    return fd;
}

static int send_all(int fd, const char *b, size_t n, double deadline)
{
    while (n) {
        if (wait_fd(fd, POLLOUT, deadline) <= 0)
            return -1;
        ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
        if (w < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (w <= 0)
            return -1;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

/* ---- the response ------------------------------------------------------------ */

/* The value of header name (case ignored) in the head, into v. */
static bool header(const char *head, const char *name, char *v, size_t cap)
{
    size_t nl = strlen(name);
    for (const char *l = strstr(head, "\r\n"); l; l = strstr(l, "\r\n")) {
        l += 2;
        if (!strncasecmp(l, name, nl) && l[nl] == ':') {
            const char *s = l + nl + 1;
            while (*s == ' ' || *s == '\t')
                s++;
            size_t n = strcspn(s, "\r\n");
            while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
                n--;
            snprintf(v, cap, "%.*s", (int)n, s);
            return true;
        }
    }
    return false;
}

/* Decodes a chunked body in place; its length, or -1 when malformed. */
static long dechunk(char *b, size_t n)
{
    size_t r = 0, w = 0;
    for (;;) {
        char *end = NULL;
        if (r >= n)
            return -1;
        unsigned long len = strtoul(b + r, &end, 16);
        if (end == b + r)
            return -1;
        char *crlf = memmem(end, n - (size_t)(end - b), "\r\n", 2);
        if (!crlf)
            return -1;
        r = (size_t)(crlf - b) + 2;
        if (len == 0)
            return (long)w;
        if (len > n - r || n - r - len < 2)
            return -1;
        memmove(b + w, b + r, len);
        w += len;
        r += len + 2;
    }
}

int hh_agent_http_request(const hh_agent_endpoint_t *ep, const char *method, const char *path, const char *body,
                          cJSON **out, hh_err_t *err)
{
    *out = NULL;
    unsigned m = !method ? 0 : !strcmp(method, "GET") ? HH_AGENT_HTTP_GET : !strcmp(method, "POST") ? HH_AGENT_HTTP_POST : 0;
    if (!m || !(ep->methods & m))
        return hh_err_set(err, HH_EINVAL, -1, "http_request: endpoint '%s' does not allow the method %s (it allows %s%s%s)",
                          ep->name, method ? method : "(none)", ep->methods & HH_AGENT_HTTP_GET ? "GET" : "",
                          ep->methods == (HH_AGENT_HTTP_GET | HH_AGENT_HTTP_POST) ? ", " : "",
                          ep->methods & HH_AGENT_HTTP_POST ? "POST" : "");
    size_t blen = body ? strlen(body) : 0;
    if (m == HH_AGENT_HTTP_GET && blen)
        return hh_err_set(err, HH_EINVAL, -1, "http_request: a GET carries no body");
    if (blen > ep->max_body)
        return hh_err_set(err, HH_EINVAL, -1, "http_request: the body is larger than endpoint '%s' takes (%zu bytes)",
                          ep->name, ep->max_body);
    char target[HH_AGENT_HTTP_PATH_MAX + 800];
    int rc = hh_agent_http_target(ep, path, target, sizeof target, err);
    if (rc)
        return rc;
    double deadline = mono_s() + ep->timeout_s;
    int fd = connect_to(ep, deadline, err);
    if (fd < 0)
        return fd;
    char hostport[300];
    bool v6 = strchr(ep->host, ':') != NULL;
    if (ep->port == 80)
        snprintf(hostport, sizeof hostport, v6 ? "[%s]" : "%s", ep->host);
    else
        snprintf(hostport, sizeof hostport, v6 ? "[%s]:%d" : "%s:%d", ep->host, ep->port);
    cJSON *bj = blen ? cJSON_Parse(body) : NULL;
    const char *ctype = bj ? "application/json" : "text/plain; charset=utf-8";
    cJSON_Delete(bj);
    char head[HH_AGENT_HTTP_PATH_MAX + 1400];
    int hl = blen || m == HH_AGENT_HTTP_POST
                 ? snprintf(head, sizeof head,
                            "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: hoheit-agent\r\nAccept: */*\r\n"
                            "Connection: close\r\nContent-Type: %s\r\nContent-Length: %zu\r\n\r\n",
                            method, target, hostport, ctype, blen)
                 : snprintf(head, sizeof head,
                            "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: hoheit-agent\r\nAccept: */*\r\n"
                            "Connection: close\r\n\r\n",
                            method, target, hostport);
    char *buf = NULL;
    if (hl < 0 || (size_t)hl >= sizeof head) {
        rc = hh_err_set(err, HH_EINVAL, -1, "http_request: the request is too long");
        goto done;
    }
    if (send_all(fd, head, (size_t)hl, deadline) || (blen && send_all(fd, body, blen, deadline))) {
        rc = hh_err_set(err, HH_EIO, -1, "http_request: endpoint '%s': sending failed or timed out (%d s)", ep->name,
                        ep->timeout_s);
        goto done;
    }
    size_t cap = HTTP_HEAD_MAX + HH_AGENT_HTTP_RESPONSE_MAX + 1, n = 0;
    if (!(buf = malloc(cap + 1))) {
        rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory");
        goto done;
    }
    bool too_big = false;
    for (;;) {
        int w = wait_fd(fd, POLLIN, deadline);
        if (w <= 0) {
            rc = hh_err_set(err, HH_EIO, -1, "http_request: endpoint '%s' did not answer within %d s", ep->name,
                            ep->timeout_s);
            goto done;
        }
        ssize_t r = recv(fd, buf + n, cap - n, 0);
        if (r < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (r < 0) {
            rc = hh_err_set(err, HH_EIO, -1, "http_request: endpoint '%s': the connection failed", ep->name);
            goto done;
        }
        if (r == 0)
            break;
        n += (size_t)r;
        buf[n] = '\0';
        char *he = memmem(buf, n, "\r\n\r\n", 4);
        if (!he && n > HTTP_HEAD_MAX) {
            rc = hh_err_set(err, HH_EIO, -1, "http_request: endpoint '%s': the response head is too long", ep->name);
            goto done;
        }
        if (he) {
            char cl[32];
            size_t hlen = (size_t)(he - buf) + 4;
            *he = '\0';
            bool have_cl = header(buf, "Content-Length", cl, sizeof cl);
            *he = '\r';
            if (have_cl && n - hlen >= (size_t)strtoull(cl, NULL, 10))
                break;   /* the whole body is here */
            char te[64];
            *he = '\0';
            bool chunked = header(buf, "Transfer-Encoding", te, sizeof te) && strcasestr(te, "chunked");
            *he = '\r';
            if (chunked && n - hlen >= 5 && !memcmp(buf + n - 5, "0\r\n\r\n", 5))
                break;   /* the last chunk (a server that keeps the connection open anyway) */
            if (n - hlen > HH_AGENT_HTTP_RESPONSE_MAX) {
                too_big = true;
                break;
            }
        }
        if (n == cap) {
            too_big = true;
            break;
        }
    }
    buf[n] = '\0';
    char *he = memmem(buf, n, "\r\n\r\n", 4);
    int status = 0;
    if (!he || sscanf(buf, "HTTP/1.%*1[01] %3d", &status) != 1 || status < 100 || status > 599) {
        rc = hh_err_set(err, HH_EIO, -1, "http_request: endpoint '%s' answered no HTTP response", ep->name);
        goto done;
    }
    *he = '\0';
    char *bstart = he + 4;
    size_t bn = n - (size_t)(bstart - buf);
    char v[512];
    if (status >= 300 && status < 400) {
        rc = hh_err_set(err, HH_EINVAL, -1, "http_request: endpoint '%s' answered %d, a redirect%s%.300s; redirects "
                                            "are not followed",
                        ep->name, status, header(buf, "Location", v, sizeof v) ? " to " : "", v);
        goto done;
    }
    if (too_big) {
        rc = hh_err_set(err, HH_EINVAL, -1, "http_request: the response of endpoint '%s' is larger than %d bytes",
                        ep->name, HH_AGENT_HTTP_RESPONSE_MAX);
        goto done;
    }
    if (header(buf, "Transfer-Encoding", v, sizeof v) && strcasestr(v, "chunked")) {
        long dn = dechunk(bstart, bn);
        if (dn < 0) {
            rc = hh_err_set(err, HH_EIO, -1, "http_request: endpoint '%s': a malformed chunked body", ep->name);
            goto done;
        }
        bn = (size_t)dn;
    } else if (header(buf, "Content-Length", v, sizeof v)) {
        unsigned long long want = strtoull(v, NULL, 10);
        if (want > bn) {
            rc = hh_err_set(err, HH_EIO, -1, "http_request: endpoint '%s': the body ended early", ep->name);
            goto done;
        }
        bn = (size_t)want;
    }
    bstart[bn] = '\0';
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "status", status);
    cJSON_AddStringToObject(o, "content_type", header(buf, "Content-Type", v, sizeof v) ? v : "");
    cJSON_AddNumberToObject(o, "bytes", (double)bn);
    bool text = hh_utf8_valid(bstart, bn) && strlen(bstart) == bn;
    bool cut = text && bn > HTTP_BODY_GIVEN;
    if (!text) {
        snprintf(v, sizeof v, "[binary, %zu bytes]", bn);
        cJSON_AddStringToObject(o, "body", v);
    } else {
        size_t k = cut ? HTTP_BODY_GIVEN : bn;
        while (k > 0 && k < bn && ((unsigned char)bstart[k] & 0xC0) == 0x80)
            k--;
        bstart[k] = '\0';
        cJSON_AddStringToObject(o, "body", bstart);
    }
    cJSON_AddBoolToObject(o, "truncated", cut);
    *out = o;
done:
    free(buf);
    close(fd);
    return rc;
}
