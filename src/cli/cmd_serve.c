/* cmd_serve.c - `hoheit serve`: the OpenAI-compatible HTTP server over the
 * models of a data directory, until SIGINT/SIGTERM; SIGHUP reopens the
 * access and error logs (logrotate). */
#include "cli/cmd.h"
#include "base/conf.h"
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
            "usage: hoheit serve [--config FILE] [--host 127.0.0.1] [--port 8080] [--data DIR] [--models DIR]\n"
            "                    [--slots N] [--ctx N] [--threads N] [--queue N] [--timeout S]\n"
            "                    [--prefill-budget N] [--prompt-lookup on|off]\n"
            "                    [--tls-cert FILE --tls-key FILE] [--embed-model ID|none]\n"
            "                    [--retention-interval S] [--conversation-retention-days N]\n"
            "                    [--access-log FILE|off] [--error-log FILE] [--web-dir DIR]\n"
            "                    [--kb-compounds FILE|off] [--kb-thesaurus FILE|off] [--kb-translations FILE|off]\n"
            "                    [--agent-db NAME=sqlite:/path.db]... [--agent-http NAME=http://host/prefix/[,...]]...\n"
            "  --config FILE  read options from FILE, `key = value` lines with the long option names\n"
            "                 below (e.g. `port = 8080`); default $HOHEIT_CONFIG; options given on the\n"
            "                 command line win over the file\n"
            "  --data DIR     data directory (default $HOHEIT_DATA or ./hoheit-data; created on first start)\n"
            "  --models DIR   GGUF models (default DATA/models); each file is a model named after it\n"
            "  --slots N      parallel requests per model (default 4)\n"
            "  --ctx N        context positions per slot (default min(training context, 4096))\n"
            "  --prefill-budget N  prompt tokens prefilled per scheduling step over all slots, next to\n"
            "                 the running requests' decode tokens (default 64, 1..512)\n"
            "  --prompt-lookup on|off  prompt-lookup (n-gram) speculative decoding for greedy grounded\n"
            "                 answers and requests that ask for it; off: never (default on)\n"
            "  --threads N, -t N  threads (default: all cores)\n"
            "  --queue N      waiting requests per model before 429 (default 64)\n"
            "  --timeout S    per-request time limit in seconds (default none)\n"
            "  --tls-cert/--tls-key  serve HTTPS with these PEM files\n"
            "  --embed-model ID  knowledge-base embedding model for dense retrieval (default: the\n"
            "                 first embedding model of the models dir by name; none: BM25 only)\n"
            "  --retention-interval S  run the retention sweep (collection TTLs, audit retention)\n"
            "                 every S seconds, the first shortly after start (default 3600; 0: off)\n"
            "  --conversation-retention-days N  the sweep deletes stored conversations with no new\n"
            "                 message for N days (default 365; 0: keep them)\n"
            "  --max-connections-per-address N  open connections one client address may hold\n"
            "                 (default 64; more are closed at once)\n"
            "  --header-timeout S  a request's line and headers must arrive within S seconds\n"
            "                 (default 30; bodies must then average 1 KiB/s)\n"
            "  --access-log FILE|off  one JSON line per request (default DATA/logs/access.log)\n"
            "  --error-log FILE  diagnostics with timestamps to FILE (default: stderr)\n"
            "                 SIGHUP reopens both logs (after logrotate moved them)\n"
            "  --web-dir DIR  serve the web UI (GET /) from DIR, read at each request, instead of\n"
            "                 the copy built into the binary (for UI development)\n"
            "  --kb-compounds FILE|off  German word list for compound splitting in the knowledge\n"
            "                 base's index (default /usr/share/dict/ngerman)\n"
            "  --kb-thesaurus FILE|off  OpenThesaurus text for synonyms in questions\n"
            "                 (default /usr/share/openthesaurus-de/openthesaurus.txt)\n"
            "  --kb-translations FILE|off  German-English dictionary for questions in the other\n"
            "                 language (default /usr/share/trans/de-en); a missing file turns its\n"
            "                 feature off (logged at start)\n"
            "  --agent-db NAME=sqlite:/path/file.db  a database the sql_query agent tool may read (read-only;\n"
            "                 repeatable, or several separated by ';'); agents name theirs in \"connections\".\n"
            "                 PostgreSQL (postgresql://) comes with issue 17\n"
            "  --agent-http NAME=http://host[:port]/prefix/[,methods=GET|POST][,max_body=N][,timeout=S]\n"
            "                 an internal endpoint the http_request agent tool may call (repeatable, or ';');\n"
            "                 agents name theirs in \"endpoints\"; https:// is not built yet\n"
            "Precedence: command line, then $HOHEIT_DATA (for the data dir), then the config file.\n"
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

/* What serve takes: the server's parameters and the error log (which
 * belongs to the process, not the server). */
typedef struct serve_opts {
    hh_http_params_t http;
    const char      *error_log;   /* NULL: stderr */
    hh_agent_conf_t  agent;       /* --agent-db, --agent-http (http.agent points here) */
    char             why[512];    /* why a value was refused, when serve_opt knows more than "bad value" */
} serve_opts_t;

/* What serve_opt made of one option. */
enum { OPT_OK = 0, OPT_UNKNOWN, OPT_BAD_VALUE };

/* THE option parser of `hoheit serve`: applies option a (as on the command
 * line: "--port", "-t") with its value v to p. The command line and the
 * config file (key "port" -> "--port") both go through here, so an option
 * added here is a config key too. Invariant that mapping relies on: every
 * option takes exactly one value (a switch would be `--x yes|no`). v is
 * borrowed and must outlive p. */
static int serve_opt(serve_opts_t *o, const char *a, const char *v)
{
    hh_http_params_t *p = &o->http;
    long n = 0;
    if (!strcmp(a, "--host"))
        p->host = v;
    else if (!strcmp(a, "--port")) {
        if (!parse_int(v, 0, 65535, &n))
            return OPT_BAD_VALUE;
        p->port = (int)n;
    } else if (!strcmp(a, "--data"))
        p->data_dir = v;
    else if (!strcmp(a, "--models"))
        p->models_dir = v;
    else if (!strcmp(a, "--slots")) {
        if (!parse_int(v, 1, 256, &n))
            return OPT_BAD_VALUE;
        p->engine.n_slots = (int32_t)n;
    } else if (!strcmp(a, "--prefill-budget")) {
        if (!parse_int(v, 1, 512, &n))
            return OPT_BAD_VALUE;
        p->engine.n_prefill = (int32_t)n;
    } else if (!strcmp(a, "--prompt-lookup")) {
        if (strcmp(v, "on") != 0 && strcmp(v, "off") != 0)
            return OPT_BAD_VALUE;
        p->engine.n_draft = !strcmp(v, "off") ? -1 : 0;
    } else if (!strcmp(a, "--ctx")) {
        if (!parse_int(v, 0, 1 << 20, &n))
            return OPT_BAD_VALUE;
        p->engine.n_ctx = (int32_t)n;
    } else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
        if (!parse_int(v, 0, 1024, &n))
            return OPT_BAD_VALUE;
        p->engine.n_threads = (int32_t)n;
    } else if (!strcmp(a, "--queue")) {
        if (!parse_int(v, 1, 1 << 20, &n))
            return OPT_BAD_VALUE;
        p->engine.max_queue = (int32_t)n;
    } else if (!strcmp(a, "--timeout")) {
        if (!parse_int(v, 0, 1 << 24, &n))
            return OPT_BAD_VALUE;
        p->engine.request_timeout_s = (double)n;
    } else if (!strcmp(a, "--retention-interval")) {
        if (!parse_int(v, 0, 366 * 86400, &n))
            return OPT_BAD_VALUE;
        p->retention_interval_s = (int)n;
    } else if (!strcmp(a, "--conversation-retention-days")) {
        if (!parse_int(v, 0, 36500, &n))
            return OPT_BAD_VALUE;
        p->conversation_retention_days = (int)n;
    } else if (!strcmp(a, "--max-connections-per-address")) {
        if (!parse_int(v, 1, 1 << 20, &n))
            return OPT_BAD_VALUE;
        p->max_conn_per_addr = (int)n;
    } else if (!strcmp(a, "--header-timeout")) {
        if (!parse_int(v, 1, 3600, &n))
            return OPT_BAD_VALUE;
        p->header_timeout_s = (int)n;
    } else if (!strcmp(a, "--embed-model"))
        p->embed_model = v;
    else if (!strcmp(a, "--tls-cert"))
        p->tls_cert = v;
    else if (!strcmp(a, "--tls-key"))
        p->tls_key = v;
    else if (!strcmp(a, "--access-log"))
        p->access_log = v;
    else if (!strcmp(a, "--web-dir"))
        p->web_dir = v;
    else if (!strcmp(a, "--kb-compounds"))
        p->kb_compounds = !strcmp(v, "off") ? "" : v;
    else if (!strcmp(a, "--kb-thesaurus"))
        p->kb_thesaurus = !strcmp(v, "off") ? "" : v;
    else if (!strcmp(a, "--kb-translations"))
        p->kb_translations = !strcmp(v, "off") ? "" : v;
    else if (!strcmp(a, "--error-log"))
        o->error_log = v;
    else if (!strcmp(a, "--agent-db") || !strcmp(a, "--agent-http")) {
        hh_err_t e;
        hh_err_clear(&e);
        int rc = !strcmp(a, "--agent-db") ? hh_agent_conf_add_db(&o->agent, v, &e)
                                          : hh_agent_conf_add_http(&o->agent, v, &e);
        if (rc) {
            snprintf(o->why, sizeof o->why, "%s", e.msg);
            return OPT_BAD_VALUE;
        }
        p->agent = &o->agent;
    } else
        return OPT_UNKNOWN;
    /* The string options: an empty value would only fail later, less clearly. */
    return v[0] ? OPT_OK : OPT_BAD_VALUE;
}

/* Applies the entries of config file c to p through serve_opt; prints
 * "serve: FILE:LINE: ..." and returns false on the first refused one. */
static bool serve_apply_conf(serve_opts_t *o, const hh_conf_t *c)
{
    for (size_t i = 0; i < c->n; i++) {
        const hh_conf_entry_t *e = &c->v[i];
        char opt[160];
        if (!strcmp(e->key, "config")) {
            fprintf(stderr, "serve: %s:%d: 'config' cannot be set inside a config file\n", c->path, e->line);
            return false;
        }
        if ((size_t)snprintf(opt, sizeof opt, "--%s", e->key) >= sizeof opt) {
            fprintf(stderr, "serve: %s:%d: unknown key '%.40s...'\n", c->path, e->line, e->key);
            return false;
        }
        int r = serve_opt(o, opt, e->value);
        if (r == OPT_UNKNOWN) {
            fprintf(stderr, "serve: %s:%d: unknown key '%s' (the keys are the long options of "
                            "`hoheit serve --help` without --)\n", c->path, e->line, e->key);
            return false;
        }
        if (r == OPT_BAD_VALUE) {
            if (o->why[0])
                fprintf(stderr, "serve: %s:%d: %s\n", c->path, e->line, o->why);
            else
                fprintf(stderr, "serve: %s:%d: bad value for %s: '%s'\n", c->path, e->line, e->key, e->value);
            return false;
        }
    }
    return true;
}

int hh_cmd_serve(int argc, char **argv)
{
    serve_opts_t o = { .http = hh_http_default_params(), .error_log = NULL };
    hh_http_params_t *pp = &o.http;
    /* Every option takes a value, so argv is a list of pairs; find
     * --config (and --help) first: the file is applied before the rest of
     * the command line, which therefore wins. */
    const char *conf_path = getenv("HOHEIT_CONFIG");
    if (conf_path && !conf_path[0])
        conf_path = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            serve_usage(stdout);
            return 0;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "serve: unknown option or missing value: %s\n", argv[i]);
            serve_usage(stderr);
            return 2;
        }
        if (!strcmp(argv[i], "--config"))
            conf_path = argv[i + 1];
        i++;
    }
    hh_conf_t conf = { 0 };   /* p points into it until the server stops */
    if (conf_path) {
        hh_err_t cerr;
        hh_err_clear(&cerr);
        if (hh_conf_read(&conf, conf_path, &cerr) != 0) {
            fprintf(stderr, "serve: %s\n", cerr.msg);
            return 2;
        }
        if (!serve_apply_conf(&o, &conf)) {
            hh_conf_free(&conf);
            return 2;
        }
    }
    const char *env = getenv("HOHEIT_DATA");
    if (env && env[0])
        pp->data_dir = env;
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *a = argv[i], *v = argv[i + 1];
        int r = strcmp(a, "--config") ? serve_opt(&o, a, v) : OPT_OK;
        if (r == OPT_BAD_VALUE && o.why[0]) {
            fprintf(stderr, "serve: %s %s: %s\n", a, v, o.why);
            hh_conf_free(&conf);
            return 2;
        }
        if (r != OPT_OK) {
            fprintf(stderr, "serve: %s: %s %s\n", r == OPT_UNKNOWN ? "unknown option" : "bad value", a, v);
            serve_usage(stderr);
            hh_conf_free(&conf);
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
    if (o.error_log && hh_log_open_file(o.error_log, &err) != 0) {
        fprintf(stderr, "serve: %s\n", err.msg);
        hh_conf_free(&conf);
        return 1;
    }
    hh_http_server_t *s = NULL;
    if (hh_http_start(&s, pp, &err) != 0) {
        HH_LOGE("serve: %s", err.msg[0] ? err.msg : hh_strerror(err.code));
        if (o.error_log)   /* whoever started it sees why too */
            fprintf(stderr, "serve: %s\n", err.msg[0] ? err.msg : hh_strerror(err.code));
        hh_conf_free(&conf);
        return 1;
    }
    int64_t users = 0;
    if (hh_store_user_count(hh_http_store(s), &users, NULL) == 0 && users == 0)
        HH_LOGI("no users yet. Create an API key with: hoheit keys create --user admin --role admin --data %s",
                pp->data_dir);
    hh_engine_model_info_t *ms = NULL;
    size_t nm = 0;
    if (hh_engine_list_models(hh_http_engine(s), &ms, &nm, NULL) == 0) {
        if (nm == 0)
            HH_LOGI("no models yet: put GGUF files into %s", pp->models_dir ? pp->models_dir : "DATA/models");
        for (size_t i = 0; i < nm; i++)
            HH_LOGI("model %s", ms[i].id);
        free(ms);
    }
    HH_LOGI("hoheit %s listening on %s://%s:%d (pid %d)", hh_version_string(), pp->tls_cert ? "https" : "http",
            pp->host, hh_http_port(s), (int)getpid());
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
    hh_conf_free(&conf);
    return 0;
}
