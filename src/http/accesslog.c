/* accesslog.c - the access log: one JSON line per request, and request ids.
 *
 * A line (docs/OPERATIONS.md "Logs"):
 *   {"time":"2026-01-31T12:00:00.123Z","request_id":"...","user":"mia"|null,
 *    "method":"POST","route":"/v1/chat/completions"|null,"status":200,
 *    "latency_ms":12.3,"prompt_tokens":9,"completion_tokens":20,
 *    "bytes_in":120,"bytes":512[,"completed":false]}
 * It never holds a request or response body (prompts, answers, documents),
 * the raw URL (ids, query strings) or a header (keys, cookies): the route
 * is the route table's pattern, the user the authenticated user's name.
 * One fputs of a whole line under a mutex into a line-buffered stream, so
 * concurrent requests never interleave and a line is on disk (in the page
 * cache) when the request ends. */
#include "http/http_int.h"
#include "base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int ht_access_open(hh_http_server_t *s, const char *data_dir, const char *path, hh_err_t *err)
{
    pthread_mutex_init(&s->access_mu, NULL);
    s->access_init = true;
    if (path && !strcmp(path, "off"))
        return 0;
    char *p = NULL;
    if (path && path[0]) {
        p = strdup(path);
    } else {
        char dir[4096];
        if (snprintf(dir, sizeof dir, "%s/logs", data_dir) >= (int)sizeof dir)
            return hh_err_set(err, HH_EINVAL, -1, "data directory path too long");
        if (mkdir(dir, 0700) != 0 && errno != EEXIST)
            return hh_err_set(err, HH_EIO, -1, "cannot create %s: %s", dir, strerror(errno));
        if (asprintf(&p, "%s/access.log", dir) < 0)
            p = NULL;
    }
    if (!p)
        return hh_err_set(err, HH_ENOMEM, -1, "out of memory");
    if (!(s->access_f = hh_log_open_append(p, "the access log", err))) {
        free(p);
        return HH_EIO;
    }
    s->access_path = p;
    return 0;
}

void ht_access_close(hh_http_server_t *s)
{
    if (s->access_f)
        fclose(s->access_f);
    s->access_f = NULL;
    free(s->access_path);
    s->access_path = NULL;
    pthread_mutex_destroy(&s->access_mu);
}

int hh_http_reopen_logs(hh_http_server_t *s, hh_err_t *err)
{
    int rc = 0;
    pthread_mutex_lock(&s->access_mu);
    if (s->access_path) {
        FILE *f = hh_log_open_append(s->access_path, "the access log", err);
        if (f) {
            fclose(s->access_f);
            s->access_f = f;
        } else {
            rc = HH_EIO;   /* the old file stays in use */
        }
    }
    pthread_mutex_unlock(&s->access_mu);
    return rc;
}

void ht_log_tokens(ht_log_t *l, int64_t prompt_tokens, int64_t completion_tokens)
{
    if (prompt_tokens < 0 || completion_tokens < 0)
        return;
    l->has_tokens = true;
    l->prompt_tokens = prompt_tokens;
    l->completion_tokens = completion_tokens;
}

static bool sane_id(const char *v)
{
    size_t n = v ? strlen(v) : 0;
    if (n < 8 || n > HT_REQUEST_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = v[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                  c == '_' || c == '.' || c == ':';
        if (!ok)
            return false;
    }
    return true;
}

void ht_request_id(struct MHD_Connection *c, char out[HT_REQUEST_ID_MAX + 1])
{
    const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Request-Id");
    if (sane_id(v)) {
        memcpy(out, v, strlen(v) + 1);
        return;
    }
    unsigned char rnd[16];
    randombytes_buf(rnd, sizeof rnd);
    sodium_bin2hex(out, HT_REQUEST_ID_MAX + 1, rnd, sizeof rnd);
}

static bool add_int(cJSON *o, const char *k, double v)
{
    return cJSON_AddNumberToObject(o, k, v) != NULL;
}

void ht_access_write(hh_http_server_t *s, const ht_conn_t *cs, bool completed)
{
    if (!s->access_path)   /* set at start, before any request; constant until stop */
        return;
    const ht_log_t *l = &cs->log;
    char ts[32];
    hh_log_iso_time(l->start_ms, ts, sizeof ts);
    double ms = (ht_now() - l->t0) * 1000.0;
    ms = (double)(int64_t)(ms * 10.0 + 0.5) / 10.0;   /* 0.1 ms */
    const char *route = ht_route_pattern(cs->route);
    cJSON *o = cJSON_CreateObject();
    bool ok = o && cJSON_AddStringToObject(o, "time", ts) && cJSON_AddStringToObject(o, "request_id", l->request_id);
    ok = ok && (cs->key.user[0] ? cJSON_AddStringToObject(o, "user", cs->key.user) != NULL
                                : cJSON_AddNullToObject(o, "user") != NULL);
    ok = ok && cJSON_AddStringToObject(o, "method", l->method);
    ok = ok && (route ? cJSON_AddStringToObject(o, "route", route) != NULL : cJSON_AddNullToObject(o, "route") != NULL);
    ok = ok && add_int(o, "status", cs->status) && add_int(o, "latency_ms", ms);
    if (ok && l->has_tokens)
        ok = add_int(o, "prompt_tokens", (double)l->prompt_tokens) &&
             add_int(o, "completion_tokens", (double)l->completion_tokens);
    ok = ok && add_int(o, "bytes_in", (double)l->bytes_in) && add_int(o, "bytes", (double)l->bytes_out);
    if (ok && !completed)   /* the client went away, a timeout, the server stopping */
        ok = cJSON_AddFalseToObject(o, "completed") != NULL;
    char *line = ok ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (!line) {
        HH_LOGW("access log: out of memory");
        return;
    }
    pthread_mutex_lock(&s->access_mu);
    if (s->access_f && (fputs(line, s->access_f) < 0 || fputc('\n', s->access_f) == EOF))
        HH_LOGW("access log: write failed: %s", strerror(errno));
    pthread_mutex_unlock(&s->access_mu);
    free(line);
}
