/* cmd_serve.c - `hoheit serve`: the OpenAI-compatible HTTP server over the
 * models of a data directory, until SIGINT/SIGTERM. */
#include "cli/cmd.h"
#include "base/log.h"
#include "http/server.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void serve_usage(FILE *f)
{
    fprintf(f,
            "usage: hoheit serve [--host 127.0.0.1] [--port 8080] [--data DIR] [--models DIR]\n"
            "                    [--slots N] [--ctx N] [-t N] [--queue N] [--timeout S]\n"
            "                    [--tls-cert FILE --tls-key FILE] [--embed-model ID|none]\n"
            "                    [--retention-interval S]\n"
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
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    hh_err_t err;
    hh_err_clear(&err);
    hh_http_server_t *s = NULL;
    if (hh_http_start(&s, &p, &err) != 0) {
        fprintf(stderr, "serve: %s\n", err.msg[0] ? err.msg : hh_strerror(err.code));
        return 1;
    }
    int64_t users = 0;
    if (hh_store_user_count(hh_http_store(s), &users, NULL) == 0 && users == 0)
        fprintf(stderr,
                "hoheit: no users yet. Create an API key with:\n"
                "  hoheit keys create --user admin --role admin --data %s\n",
                p.data_dir);
    hh_engine_model_info_t *ms = NULL;
    size_t nm = 0;
    if (hh_engine_list_models(hh_http_engine(s), &ms, &nm, NULL) == 0) {
        if (nm == 0)
            fprintf(stderr, "hoheit: no models yet: put GGUF files into %s\n",
                    p.models_dir ? p.models_dir : "DATA/models");
        for (size_t i = 0; i < nm; i++)
            fprintf(stderr, "hoheit: model %s\n", ms[i].id);
        free(ms);
    }
    fprintf(stderr, "hoheit: listening on %s://%s:%d\n", p.tls_cert ? "https" : "http", p.host, hh_http_port(s));
    /* A parent (tests, scripts) reads the port from this line. */
    printf("listening %d\n", hh_http_port(s));
    fflush(stdout);

    int sig = 0;
    sigwait(&set, &sig);
    fprintf(stderr, "hoheit: %s, shutting down\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    hh_http_stop(s);
    return 0;
}
