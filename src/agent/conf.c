/* conf.c - the agents' connections and endpoints (conf.h). */
#include "agent/conf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool hh_agent_conf_name_ok(const char *n)
{
    size_t len = n ? strlen(n) : 0;
    if (len == 0 || len >= HH_AGENT_CONF_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = n[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || (c != '-' && c != '_')))
            return false;
    }
    return true;
}

const hh_agent_db_t *hh_agent_conf_db(const hh_agent_conf_t *c, const char *name)
{
    for (size_t i = 0; c && name && i < c->n_db; i++)
        if (!strcmp(c->db[i].name, name))
            return &c->db[i];
    return NULL;
}

const hh_agent_endpoint_t *hh_agent_conf_endpoint(const hh_agent_conf_t *c, const char *name)
{
    for (size_t i = 0; c && name && i < c->n_ep; i++)
        if (!strcmp(c->ep[i].name, name))
            return &c->ep[i];
    return NULL;
}

/* Splits one "NAME=VALUE" at '=' into name (checked) and *value. */
static int split_name(const char *one, char *name, const char **value, const char *what, hh_err_t *err)
{
    const char *eq = strchr(one, '=');
    size_t n = eq ? (size_t)(eq - one) : 0;
    if (!eq || n == 0 || n >= HH_AGENT_CONF_NAME_MAX)
        return hh_err_set(err, HH_EINVAL, -1, "%s '%s': NAME=... expected", what, one);
    memcpy(name, one, n);
    name[n] = '\0';
    if (!hh_agent_conf_name_ok(name))
        return hh_err_set(err, HH_EINVAL, -1, "%s '%s': the name must be 1..63 of a-z, 0-9, '-' and '_'", what, name);
    *value = eq + 1;
    return 0;
}

/* Calls add on every ';'-separated part of spec (spaces around trimmed). */
static int each_part(hh_agent_conf_t *c, const char *spec, int (*add)(hh_agent_conf_t *, const char *, hh_err_t *),
                     hh_err_t *err)
{
    if (!spec || !spec[0])
        return hh_err_set(err, HH_EINVAL, -1, "empty value");
    char *copy = strdup(spec);
    if (!copy)
        return hh_err_set(err, HH_ENOMEM, -1, "out of memory");
    int rc = 0;
    char *save = NULL;
    for (char *part = strtok_r(copy, ";", &save); part && !rc; part = strtok_r(NULL, ";", &save)) {
        while (*part == ' ' || *part == '\t')
            part++;
        size_t n = strlen(part);
        while (n > 0 && (part[n - 1] == ' ' || part[n - 1] == '\t'))
            part[--n] = '\0';
        if (n)
            rc = add(c, part, err);
    }
    free(copy);
    return rc;
}

static int add_db(hh_agent_conf_t *c, const char *one, hh_err_t *err)
{
    char name[HH_AGENT_CONF_NAME_MAX];
    const char *v = NULL;
    int rc = split_name(one, name, &v, "agent-db", err);
    if (rc)
        return rc;
    if (!strncmp(v, "postgresql://", 13) || !strncmp(v, "postgres://", 11))
        return hh_err_set(err, HH_EUNSUPPORTED, -1,
                          "agent-db '%s': PostgreSQL connections are not built yet (hoheit is built without "
                          "libpq; they come with issue 17); use NAME=sqlite:/path/file.db", name);
    if (strncmp(v, "sqlite:", 7))
        return hh_err_set(err, HH_EINVAL, -1, "agent-db '%s': NAME=sqlite:/path/file.db expected", name);
    v += 7;
    if (!v[0] || strlen(v) >= sizeof c->db[0].path || !strncmp(v, "file:", 5))
        return hh_err_set(err, HH_EINVAL, -1, "agent-db '%s': a file path (not a URI) expected after sqlite:", name);
    if (hh_agent_conf_db(c, name))
        return hh_err_set(err, HH_EINVAL, -1, "agent-db '%s' is given twice", name);
    if (c->n_db >= HH_AGENT_CONF_MAX)
        return hh_err_set(err, HH_EINVAL, -1, "agent-db: at most %d connections", HH_AGENT_CONF_MAX);
    hh_agent_db_t *d = &c->db[c->n_db++];
    snprintf(d->name, sizeof d->name, "%s", name);
    snprintf(d->path, sizeof d->path, "%s", v);
    return 0;
}

int hh_agent_conf_add_db(hh_agent_conf_t *c, const char *spec, hh_err_t *err)
{
    return each_part(c, spec, add_db, err);
}

/* Host and port of "host[:port]" or "[v6]:port"; *port 80 when absent. */
static bool parse_authority(const char *a, size_t n, char *host, size_t cap, int *port)
{
    *port = 80;
    const char *colon = NULL;
    if (n && a[0] == '[') {
        const char *close = memchr(a, ']', n);
        if (!close || (size_t)(close - a) + 1 > cap)
            return false;
        memcpy(host, a + 1, (size_t)(close - a) - 1);
        host[close - a - 1] = '\0';
        colon = (size_t)(close - a) + 1 < n ? close + 1 : NULL;
        if (colon && *colon != ':')
            return false;
    } else {
        colon = memchr(a, ':', n);
        size_t hl = colon ? (size_t)(colon - a) : n;
        if (hl == 0 || hl >= cap)
            return false;
        memcpy(host, a, hl);
        host[hl] = '\0';
        for (size_t i = 0; i < hl; i++) {
            char ch = host[i];
            if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
                  ch == '.'))
                return false;
        }
    }
    if (!host[0])
        return false;
    if (colon) {
        const char *p = colon + 1, *end = a + n;
        long v = 0;
        if (p == end)
            return false;
        for (; p < end; p++) {
            if (*p < '0' || *p > '9' || (v = v * 10 + (*p - '0')) > 65535)
                return false;
        }
        if (v == 0)
            return false;
        *port = (int)v;
    }
    return true;
}

static int add_http(hh_agent_conf_t *c, const char *one, hh_err_t *err)
{
    char name[HH_AGENT_CONF_NAME_MAX];
    const char *v = NULL;
    int rc = split_name(one, name, &v, "agent-http", err);
    if (rc)
        return rc;
    hh_agent_endpoint_t e;
    memset(&e, 0, sizeof e);
    snprintf(e.name, sizeof e.name, "%s", name);
    e.methods = HH_AGENT_HTTP_GET;
    e.max_body = HH_AGENT_HTTP_BODY_DEFAULT;
    e.timeout_s = HH_AGENT_HTTP_TIMEOUT_S;
    const char *comma = strchr(v, ',');
    size_t ul = comma ? (size_t)(comma - v) : strlen(v);
    if (!strncmp(v, "https://", 8))
        return hh_err_set(err, HH_EUNSUPPORTED, -1,
                          "agent-http '%s': https:// is not built yet (hoheit has no TLS client); use http:// "
                          "inside the company network", name);
    if (strncmp(v, "http://", 7) || ul >= sizeof e.prefix - 1)
        return hh_err_set(err, HH_EINVAL, -1, "agent-http '%s': an http://host[:port]/path/ prefix expected", name);
    const char *auth = v + 7, *end = v + ul;
    const char *slash = memchr(auth, '/', (size_t)(end - auth));
    const char *aend = slash ? slash : end;
    if (memchr(auth, '@', (size_t)(aend - auth)) || !parse_authority(auth, (size_t)(aend - auth), e.host,
                                                                    sizeof e.host, &e.port))
        return hh_err_set(err, HH_EINVAL, -1, "agent-http '%s': bad host[:port] in the prefix", name);
    size_t bl = slash ? (size_t)(end - slash) : 0;
    if (bl + 2 >= sizeof e.base)
        return hh_err_set(err, HH_EINVAL, -1, "agent-http '%s': the prefix's path is too long", name);
    if (bl)
        memcpy(e.base, slash, bl);
    else
        e.base[bl++] = '/';
    if (e.base[bl - 1] != '/')
        e.base[bl++] = '/';
    e.base[bl] = '\0';
    for (size_t i = 0; i < bl; i++) {
        unsigned char ch = (unsigned char)e.base[i];
        if (ch <= ' ' || ch >= 0x7f || ch == '?' || ch == '#' || ch == '\\' || ch == '%')
            return hh_err_set(err, HH_EINVAL, -1, "agent-http '%s': the prefix's path may not hold '%c'", name, ch);
    }
    if (strstr(e.base, "/../") || strstr(e.base, "/./") || strstr(e.base, "//"))
        return hh_err_set(err, HH_EINVAL, -1, "agent-http '%s': the prefix's path must be normalized", name);
    snprintf(e.prefix, sizeof e.prefix, "http://%.*s%s", (int)(aend - auth), auth, e.base);
    /* options */
    while (comma) {
        const char *o = comma + 1;
        comma = strchr(o, ',');
        size_t ol = comma ? (size_t)(comma - o) : strlen(o);
        char opt[128];
        if (ol >= sizeof opt)
            return hh_err_set(err, HH_EINVAL, -1, "agent-http '%s': option too long", name);
        memcpy(opt, o, ol);
        opt[ol] = '\0';
        char *endp = NULL;
        if (!strncmp(opt, "methods=", 8)) {
            e.methods = 0;
            char *save = NULL;
            for (char *m = strtok_r(opt + 8, "|", &save); m; m = strtok_r(NULL, "|", &save)) {
                if (!strcmp(m, "GET"))
                    e.methods |= HH_AGENT_HTTP_GET;
                else if (!strcmp(m, "POST"))
                    e.methods |= HH_AGENT_HTTP_POST;
                else
                    return hh_err_set(err, HH_EINVAL, -1, "agent-http '%s': method '%s' (GET and POST only)", name, m);
            }
            if (!e.methods)
                return hh_err_set(err, HH_EINVAL, -1, "agent-http '%s': methods=GET|POST expected", name);
        } else if (!strncmp(opt, "max_body=", 9)) {
            long n = strtol(opt + 9, &endp, 10);
            if (!opt[9] || *endp || n < 0 || n > HH_AGENT_HTTP_BODY_MAX)
                return hh_err_set(err, HH_EINVAL, -1, "agent-http '%s': max_body must be 0..%d", name,
                                  HH_AGENT_HTTP_BODY_MAX);
            e.max_body = (size_t)n;
        } else if (!strncmp(opt, "timeout=", 8)) {
            long n = strtol(opt + 8, &endp, 10);
            if (!opt[8] || *endp || n < 1 || n > HH_AGENT_HTTP_TIMEOUT_S)
                return hh_err_set(err, HH_EINVAL, -1, "agent-http '%s': timeout must be 1..%d seconds", name,
                                  HH_AGENT_HTTP_TIMEOUT_S);
            e.timeout_s = (int)n;
        } else {
            return hh_err_set(err, HH_EINVAL, -1,
                              "agent-http '%s': unknown option '%s' (methods=, max_body=, timeout=)", name, opt);
        }
    }
    if (hh_agent_conf_endpoint(c, name))
        return hh_err_set(err, HH_EINVAL, -1, "agent-http '%s' is given twice", name);
    if (c->n_ep >= HH_AGENT_CONF_MAX)
        return hh_err_set(err, HH_EINVAL, -1, "agent-http: at most %d endpoints", HH_AGENT_CONF_MAX);
    c->ep[c->n_ep++] = e;
    return 0;
}

int hh_agent_conf_add_http(hh_agent_conf_t *c, const char *spec, hh_err_t *err)
{
    return each_part(c, spec, add_http, err);
}
