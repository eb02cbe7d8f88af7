/* cmd_serve.c - `hoheit serve`: the OpenAI-compatible HTTP server over the
 * models of a data directory, until SIGINT/SIGTERM; SIGHUP reopens the
 * access and error logs (logrotate). */
#include "cli/cmd.h"
#include "base/log.h"
#include "http/server.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void serve_usage(FILE *f)
{
    fprintf(f,
            "usage: hoheit serve [--host 127.0.0.1] [--port 8080] [--data DIR] [--models DIR]\n"
            "                    [--slots N] [--ctx N] [-t N] [--queue N] [--timeout S]\n"
            "                    [--tls-cert FILE --tls-key FILE] [--embed-model ID|none]\n"
            "                    [--retention-interval S] [--access-log FILE|off] [--error-log FILE]\n"
            "  --data DIR     data directory (default $HOHEIT_DATA or ./hoheit-data; created on first start)\n"
            "  --models DIR   GGUF models (default DATA/models); each file is a model named after it\n"
            "  --slots N      parallel requests per model (default 4)\n"
            "  --ctx N        context positions per slot (default min(training context, 4096))\n"
            "  -t N           threads (default: all cores)\n"
            "  --queue N      waiting requests per model before 429 (default 64)\n"
            "  --timeout S    per-request time limit in seconds (default none)\n"
            "  --tls-cert/--tls-key  serve HTTPS with these PEM files\n"
            "  --embed-model ID  knowledge-base embedding model for dense retrieval (default: the\n"
            "                 first embedding model of the models dir by name; none: BM25 only)\n"
            "  --retention-interval S  run the retention sweep (collection TTLs, audit retention)\n"
            "                 every S seconds, the first shortly after start (default 3600; 0: off)\n"
            "  --access-log FILE|off  one JSON line per request (default DATA/logs/access.log)\n"
            "  --error-log FILE  diagnostics with timestamps to FILE (default: stderr)\n"
            "                 SIGHUP reopens both logs (after logrotate moved them)\n"
            "One server per data directory: a second one is refused (DATA/hoheit.lock).\n"
            "API keys: hoheit keys create --user NAME --role ROLE [--data DIR]\n");
}

static bool parse_int(const char *s, long lo, long hi, long *out)
{
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (!s[0] || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

int hh_cmd_serve(int argc, char **argv)
{
    hh_http_params_t p = hh_http_default_params();
    const char *error_log = NULL;
    const char *env = getenv("HOHEIT_DATA");
    if (env && env[0])
        p.data_dir = env;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        long n = 0;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            serve_usage(stdout);
            return 0;
        }
        if (!v) {
            fprintf(stderr, "serve: unknown option or missing value: %s\n", a);
            serve_usage(stderr);
            return 2;
        }
        i++;
        if (!strcmp(a, "--host"))
            p.host = v;
        else if (!strcmp(a, "--port") && parse_int(v, 0, 65535, &n))
            p.port = (int)n;
        else if (!strcmp(a, "--data"))
            p.data_dir = v;
        else if (!strcmp(a, "--models"))
            p.models_dir = v;
        else if (!strcmp(a, "--slots") && parse_int(v, 1, 256, &n))
            p.engine.n_slots = (int32_t)n;
        else if (!strcmp(a, "--ctx") && parse_int(v, 0, 1 << 20, &n))
            p.engine.n_ctx = (int32_t)n;
        else if (!strcmp(a, "-t") && parse_int(v, 0, 1024, &n))
            p.engine.n_threads = (int32_t)n;
        else if (!strcmp(a, "--queue") && parse_int(v, 1, 1 << 20, &n))
            p.engine.max_queue = (int32_t)n;
        else if (!strcmp(a, "--timeout") && parse_int(v, 0, 1 << 24, &n))
            p.engine.request_timeout_s = (double)n;
        else if (!strcmp(a, "--retention-interval") && parse_int(v, 0, 366 * 86400, &n))
            p.retention_interval_s = (int)n;
        else if (!strcmp(a, "--embed-model"))
            p.embed_model = v;
        else if (!strcmp(a, "--tls-cert"))
            p.tls_cert = v;
        else if (!strcmp(a, "--tls-key"))
            p.tls_key = v;
        else if (!strcmp(a, "--access-log"))
            p.access_log = v;
        else if (!strcmp(a, "--error-log"))
            error_log = v;
        else {
            fprintf(stderr, "serve: bad option or value: %s %s\n", a, v);
            serve_usage(stderr);
            return 2;
        }
    }

    /* Block the stop signals before any thread starts, so every thread
     * inherits the mask and only sigwait below sees them. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    hh_err_t err;
    hh_err_clear(&err);
    if (error_log && hh_log_open_file(error_log, &err) != 0) {
        fprintf(stderr, "serve: %s\n", err.msg);
        return 1;
    }
    hh_http_server_t *s = NULL;
    if (hh_http_start(&s, &p, &err) != 0) {
        HH_LOGE("serve: %s", err.msg[0] ? err.msg : hh_strerror(err.code));
        if (error_log)   /* whoever started it sees why too */
            fprintf(stderr, "serve: %s\n", err.msg[0] ? err.msg : hh_strerror(err.code));
        return 1;
    }
    int64_t users = 0;
    if (hh_store_user_count(hh_http_store(s), &users, NULL) == 0 && users == 0)
        HH_LOGI("no users yet. Create an API key with: hoheit keys create --user admin --role admin --data %s",
                p.data_dir);
    hh_engine_model_info_t *ms = NULL;
    size_t nm = 0;
    if (hh_engine_list_models(hh_http_engine(s), &ms, &nm, NULL) == 0) {
        if (nm == 0)
            HH_LOGI("no models yet: put GGUF files into %s", p.models_dir ? p.models_dir : "DATA/models");
        for (size_t i = 0; i < nm; i++)
            HH_LOGI("model %s", ms[i].id);
        free(ms);
    }
    HH_LOGI("hoheit %s listening on %s://%s:%d (pid %d)", hh_version_string(), p.tls_cert ? "https" : "http",
            p.host, hh_http_port(s), (int)getpid());
    /* A parent (tests, scripts) reads the port from this line. */
    printf("listening %d\n", hh_http_port(s));
    fflush(stdout);

    int sig = 0;
    for (;;) {
        sigwait(&set, &sig);
        if (sig != SIGHUP)
            break;
        /* logrotate moved the files: continue in new ones under the old names */
        hh_err_t e1, e2;
        hh_err_clear(&e1);
        hh_err_clear(&e2);
        int r1 = hh_log_reopen(&e1), r2 = hh_http_reopen_logs(s, &e2);   /* each on its own */
        if (r1)
            HH_LOGE("SIGHUP: %s", e1.msg);
        if (r2)
            HH_LOGE("SIGHUP: %s", e2.msg);
        if (!r1 && !r2)
            HH_LOGI("SIGHUP: logs reopened");
    }
    HH_LOGI("%s, shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
    hh_http_stop(s);
    return 0;
}
