/* tools.c - the built-in tools (tools.h): a calculator of our own (a
 * recursive-descent parser over doubles, no eval), the date in UTC and
 * Europe/Berlin, knowledge_search over the caller's readable collections
 * (kb/retrieve.h, the search /api/ask runs), and the checks around
 * sql_query (sqltool.h) and http_request (httptool.h): the connection or
 * endpoint must be one the agent names AND the admin configured. */
#include "agent/tools.h"
#include "agent/extract.h"
#include "agent/httptool.h"
#include "agent/sqltool.h"
#include "agent/memory.h"
#include "kb/retrieve.h"
#include "sample/grammar.h"

#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define KS_K 5            /* passages per search */
#define KS_TEXT_MAX 800   /* bytes of a passage given to the model */
#define EXTRACT_ENUM_MAX 16 /* extract: readable documents offered as an enum at most */

typedef struct tool_def {
    const char *name;
    const char *description;
    const char *schema;
} tool_def_t;

static const tool_def_t g_tools[] = {
    { "calculator", "Evaluates an arithmetic expression: numbers, + - * / % ^, parentheses, sqrt, abs, round, "
                    "floor, ceil. Returns {\"result\": number}.",
      "{\"type\":\"object\",\"properties\":{\"expression\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":64}},"
      "\"required\":[\"expression\"],\"additionalProperties\":false}" },
    { "date", "The current date and time in UTC and in Europe/Berlin.",
      "{\"type\":\"object\",\"properties\":{},\"additionalProperties\":false}" },
    { "knowledge_search",
      "Searches every collection of the knowledge base the user may read. Returns the best passages with "
      "their titles.",
      "{\"type\":\"object\",\"properties\":{\"query\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":200}},"
      "\"required\":[\"query\"],\"additionalProperties\":false}" },
    { "sql_query",
      "Runs one read-only SQL SELECT (SQLite dialect) on a company database connection. Returns "
      "{\"columns\", \"rows\", \"row_count\", \"truncated\"}; at most 200 rows and 2 seconds.",
      "{\"type\":\"object\",\"properties\":{\"connection\":{\"type\":\"string\",\"minLength\":1,"
      "\"maxLength\":63},\"sql\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":1000}},"
      "\"required\":[\"connection\",\"sql\"],\"additionalProperties\":false}" },
    { "http_request",
      "Sends an HTTP request to an allowed internal endpoint: its URL prefix plus path (relative, may "
      "hold a query). Returns {\"status\", \"content_type\", \"body\", \"bytes\", \"truncated\"}.",
      "{\"type\":\"object\",\"properties\":{\"endpoint\":{\"type\":\"string\",\"minLength\":1,"
      "\"maxLength\":63},\"method\":{\"enum\":[\"GET\",\"POST\"]},\"path\":{\"type\":\"string\","
      "\"maxLength\":300},\"body\":{\"type\":\"string\",\"maxLength\":2000}},"
      "\"required\":[\"endpoint\",\"method\",\"path\"],\"additionalProperties\":false}" },
    { "memory_save", HH_AGENT_MEMORY_SAVE_DESC, HH_AGENT_MEMORY_SAVE_SCHEMA },       /* agent/memory.h */
    { "memory_recall", HH_AGENT_MEMORY_RECALL_DESC, HH_AGENT_MEMORY_RECALL_SCHEMA },
    { "extract", HH_AGENT_EXTRACT_DESC, HH_AGENT_EXTRACT_SCHEMA },                   /* agent/extract.h */
};
#define N_TOOLS (sizeof g_tools / sizeof g_tools[0])

static const tool_def_t *find_tool(const char *name)
{
    for (size_t i = 0; name && i < N_TOOLS; i++)
        if (!strcmp(g_tools[i].name, name))
            return &g_tools[i];
    return NULL;
}

bool hh_agent_tool_known(const char *name)
{
    return find_tool(name) != NULL;
}

const char *hh_agent_tool_names(void)
{
    return "calculator, date, knowledge_search, sql_query, http_request, memory_save, memory_recall, extract";
}

const char *hh_agent_tool_schema(const char *name)
{
    const tool_def_t *t = find_tool(name);
    return t ? t->schema : NULL;
}

cJSON *hh_agent_tool_spec(const char *name)
{
    const tool_def_t *t = find_tool(name);
    if (!t)
        return NULL;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "function");
    cJSON *fn = cJSON_AddObjectToObject(o, "function");
    cJSON_AddStringToObject(fn, "name", t->name);
    cJSON_AddStringToObject(fn, "description", t->description);
    cJSON_AddItemToObject(fn, "parameters", cJSON_Parse(t->schema));
    return o;
}

bool hh_agent_name_listed(const char *list, const char *name)
{
    cJSON *a = list && name ? cJSON_Parse(list) : NULL;
    bool found = false;
    const cJSON *it;
    cJSON_ArrayForEach(it, a)
        found = found || (cJSON_IsString(it) && !strcmp(it->valuestring, name));
    cJSON_Delete(a);
    return found;
}

/* extract: document_id one of the caller's readable documents when they
 * are few (a small model then names a real one); otherwise any integer. */
static void narrow_documents(const hh_agent_env_t *env, cJSON *o)
{
    hh_store_doc_t *docs = NULL;
    size_t n = 0;
    if (!env->store || env->user_id <= 0 || hh_store_doc_list(env->store, env->user_id, 0, &docs, &n, NULL) != 0)
        return;
    if (n >= 1 && n <= EXTRACT_ENUM_MAX) {
        cJSON *props = cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "function"), "parameters"),
                                           "properties");
        cJSON *en = cJSON_CreateObject();
        cJSON *ids = cJSON_AddArrayToObject(en, "enum");
        for (size_t i = 0; i < n; i++)
            cJSON_AddItemToArray(ids, cJSON_CreateNumber((double)docs[i].id));
        cJSON_ReplaceItemInObject(props, "document_id", en);
    }
    free(docs);
}

cJSON *hh_agent_tool_spec_env(const hh_agent_env_t *env, const char *name)
{
    cJSON *o = hh_agent_tool_spec(name);
    if (o && env && name && !strcmp(name, "extract")) {
        narrow_documents(env, o);
        return o;
    }
    bool sql = name && !strcmp(name, "sql_query"), http = name && !strcmp(name, "http_request");
    if (!o || !env || (!sql && !http))
        return o;
    cJSON *names = cJSON_Parse(sql ? (env->connections ? env->connections : "[]")
                                   : (env->endpoints ? env->endpoints : "[]"));
    if (cJSON_GetArraySize(names) > 0) {
        cJSON *props = cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "function"), "parameters"),
                                           "properties");
        unsigned methods = 0;   /* http_request: the methods some endpoint of the agent takes */
        const cJSON *it;
        cJSON_ArrayForEach(it, names) {
            const hh_agent_endpoint_t *ep = http && cJSON_IsString(it) ? hh_agent_conf_endpoint(env->conf, it->valuestring)
                                                                       : NULL;
            methods |= ep ? ep->methods : 0;
        }
        if (env->read_only)
            methods &= HH_AGENT_HTTP_GET;
        cJSON *en = cJSON_CreateObject();
        cJSON_AddItemToObject(en, "enum", names);
        cJSON_ReplaceItemInObject(props, sql ? "connection" : "endpoint", en);
        if (http && (methods == HH_AGENT_HTTP_GET || methods == HH_AGENT_HTTP_POST)) {
            cJSON *me = cJSON_CreateObject();
            cJSON *one = cJSON_AddArrayToObject(me, "enum");
            cJSON_AddItemToArray(one, cJSON_CreateString(methods == HH_AGENT_HTTP_GET ? "GET" : "POST"));
            cJSON_ReplaceItemInObject(props, "method", me);
            if (methods == HH_AGENT_HTTP_GET)   /* a GET has no body: not even offered */
                cJSON_DeleteItemFromObject(props, "body");
        }
    } else {
        cJSON_Delete(names);
    }
    return o;
}

/* ---- calculator ------------------------------------------------------------ */

#define CALC_MAX_DEPTH 32

typedef struct calc {
    const char *p, *start;
    int         depth;
    hh_err_t   *err;
    int         rc;
} calc_t;

static double calc_expr(calc_t *c);

static void calc_fail(calc_t *c, const char *what)
{
    if (!c->rc)
        c->rc = hh_err_set(c->err, HH_EINVAL, c->p - c->start, "calculator: %s at position %ld", what,
                           (long)(c->p - c->start) + 1);
}

static void skip_ws(calc_t *c)
{
    while (*c->p == ' ' || *c->p == '\t')
        c->p++;
}

static double calc_primary(calc_t *c)
{
    skip_ws(c);
    if (c->rc)
        return 0;
    if (*c->p == '(') {
        c->p++;
        double v = calc_expr(c);
        skip_ws(c);
        if (*c->p != ')') {
            calc_fail(c, "')' expected");
            return 0;
        }
        c->p++;
        return v;
    }
    if ((*c->p >= '0' && *c->p <= '9') || *c->p == '.') {
        const char *s = c->p;
        while ((*c->p >= '0' && *c->p <= '9') || *c->p == '.')
            c->p++;
        if ((*c->p == 'e' || *c->p == 'E') &&
            ((c->p[1] >= '0' && c->p[1] <= '9') ||
             ((c->p[1] == '-' || c->p[1] == '+') && c->p[2] >= '0' && c->p[2] <= '9'))) {
            c->p += 2;
            while (*c->p >= '0' && *c->p <= '9')
                c->p++;
        }
        char buf[64];
        size_t n = (size_t)(c->p - s);
        if (n >= sizeof buf) {
            c->p = s;
            calc_fail(c, "number too long");
            return 0;
        }
        memcpy(buf, s, n);
        buf[n] = '\0';
        char *end = NULL;
        double v = strtod(buf, &end);
        if (!end || *end) {
            c->p = s;
            calc_fail(c, "malformed number");
            return 0;
        }
        return v;
    }
    static const char *const fns[] = { "sqrt", "abs", "round", "floor", "ceil" };
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
        size_t n = strlen(fns[i]);
        if (strncmp(c->p, fns[i], n) != 0)
            continue;
        c->p += n;
        skip_ws(c);
        if (*c->p != '(') {
            calc_fail(c, "'(' expected after a function name");
            return 0;
        }
        double v = calc_primary(c);
        if (c->rc)
            return 0;
        switch (i) {
        case 0:
            if (v < 0) {
                calc_fail(c, "square root of a negative number");
                return 0;
            }
            return sqrt(v);
        case 1: return fabs(v);
        case 2: return round(v);
        case 3: return floor(v);
        default: return ceil(v);
        }
    }
    calc_fail(c, *c->p ? "unexpected character" : "unexpected end");
    return 0;
}

/* unary minus binds looser than ^ (-2^2 = -4) */
static double calc_unary(calc_t *c)
{
    skip_ws(c);
    if (*c->p == '-' || *c->p == '+') {
        bool neg = *c->p == '-';
        c->p++;
        if (++c->depth > CALC_MAX_DEPTH) {
            calc_fail(c, "nested too deeply");
            return 0;
        }
        double v = calc_unary(c);
        c->depth--;
        return neg ? -v : v;
    }
    double b = calc_primary(c);
    skip_ws(c);
    if (!c->rc && *c->p == '^') {   /* right-associative */
        c->p++;
        if (++c->depth > CALC_MAX_DEPTH) {
            calc_fail(c, "nested too deeply");
            return 0;
        }
        double e = calc_unary(c);
        c->depth--;
        return pow(b, e);
    }
    return b;
}

static double calc_term(calc_t *c)
{
    double v = calc_unary(c);
    for (;;) {
        skip_ws(c);
        char op = *c->p;
        if (c->rc || (op != '*' && op != '/' && op != '%'))
            return v;
        c->p++;
        const char *at = c->p;
        double r = calc_unary(c);
        if (c->rc)
            return 0;
        if ((op == '/' || op == '%') && r == 0) {
            c->p = at;
            calc_fail(c, "division by zero");
            return 0;
        }
        v = op == '*' ? v * r : op == '/' ? v / r : fmod(v, r);
    }
}

static double calc_expr(calc_t *c)
{
    if (++c->depth > CALC_MAX_DEPTH) {
        calc_fail(c, "nested too deeply");
        return 0;
    }
    double v = calc_term(c);
    for (;;) {
        skip_ws(c);
        char op = *c->p;
        if (c->rc || (op != '+' && op != '-'))
            break;
        c->p++;
        double r = calc_term(c);
        v = op == '+' ? v + r : v - r;
    }
    c->depth--;
    return v;
}

int hh_agent_calc(const char *expr, double *out, hh_err_t *err)
{
    *out = 0;
    if (!expr || !expr[0])
        return hh_err_set(err, HH_EINVAL, 0, "calculator: empty expression");
    if (strlen(expr) > HH_AGENT_CALC_MAX)
        return hh_err_set(err, HH_EINVAL, -1, "calculator: expression longer than %d bytes", HH_AGENT_CALC_MAX);
    calc_t c = { .p = expr, .start = expr, .err = err };
    double v = calc_expr(&c);
    skip_ws(&c);
    if (!c.rc && *c.p)
        calc_fail(&c, "unexpected character");
    if (c.rc)
        return c.rc;
    if (!isfinite(v))
        return hh_err_set(err, HH_EINVAL, -1, "calculator: the result is not a finite number");
    *out = v;
    return 0;
}

/* ---- date ------------------------------------------------------------------ */

/* Days since 1970-01-01 of y-m-d (proleptic Gregorian). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* Unix time of the last Sunday of month m (March, October) of year y, 01:00 UTC. */
static int64_t last_sunday_1utc(int64_t y, int m)
{
    int64_t last = days_from_civil(y, m, 31);
    int64_t wd = ((last % 7) + 7 + 4) % 7;   /* 1970-01-01 was a Thursday: 0 = Sunday */
    return (last - wd) * 86400 + 3600;
}

static void fmt_time(int64_t t, int offset_h, char *buf, size_t cap, char *date, char *clock, int *wday)
{
    time_t tt = (time_t)(t + offset_h * 3600);
    struct tm tm;
    gmtime_r(&tt, &tm);
    if (offset_h == 0)
        strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
    else
        snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d+%02d:00", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                 tm.tm_hour, tm.tm_min, tm.tm_sec, offset_h);
    if (date)
        strftime(date, 11, "%Y-%m-%d", &tm);
    if (clock)
        strftime(clock, 9, "%H:%M:%S", &tm);
    if (wday)
        *wday = tm.tm_wday;
}

cJSON *hh_agent_date_json(int64_t t)
{
    time_t tt = (time_t)t;
    struct tm u;
    gmtime_r(&tt, &u);
    int64_t y = u.tm_year + 1900;
    int off = t >= last_sunday_1utc(y, 3) && t < last_sunday_1utc(y, 10) ? 2 : 1;
    static const char *const days[] = { "Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday" };
    char utc[64], berlin[96], date[16], clock[16];
    int wday = 0;
    fmt_time(t, 0, utc, sizeof utc, NULL, NULL, NULL);
    fmt_time(t, off, berlin, sizeof berlin, date, clock, &wday);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "utc", utc);
    cJSON_AddStringToObject(o, "europe_berlin", berlin);
    cJSON_AddStringToObject(o, "date", date);
    cJSON_AddStringToObject(o, "time", clock);
    cJSON_AddStringToObject(o, "weekday", days[wday]);
    cJSON_AddStringToObject(o, "utc_offset", off == 2 ? "+02:00" : "+01:00");
    return o;
}

/* ---- knowledge_search ------------------------------------------------------ */

static int knowledge_search(const hh_agent_env_t *env, const cJSON *args, cJSON **out, hh_err_t *err)
{
    const cJSON *q = cJSON_GetObjectItemCaseSensitive(args, "query");
    if (!cJSON_IsString(q) || !q->valuestring[0])
        return hh_err_set(err, HH_EINVAL, -1, "knowledge_search: query must be a non-empty string");
    hh_kb_query_t kq;
    memset(&kq, 0, sizeof kq);
    kq.analyzer = env->analyzer;
    kq.user = env->user;   /* the caller's departments decide what is read: the access filter is inside the search */
    kq.text = q->valuestring;   /* every collection the caller may read */
    kq.k = KS_K;
    hh_kb_embedder_t qe;
    memset(&qe, 0, sizeof qe);
    hh_vindex_t *ix = env->kb ? hh_kb_dense_query(env->kb, &qe) : NULL;
    hh_kb_hit_t *hits = NULL;
    size_t n = 0;
    hh_err_t e2;
    hh_err_clear(&e2);
    int rc = hh_kb_retrieve_mode(env->store, ix, ix ? &qe : NULL, &kq, HH_KB_HYBRID, &hits, &n, &e2);
    if (rc)
        return hh_err_set(err, rc, -1, "knowledge_search: %s", e2.msg);
    cJSON *o = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(o, "results");
    for (size_t i = 0; i < n; i++) {
        cJSON *h = cJSON_CreateObject();
        cJSON_AddNumberToObject(h, "n", (double)(i + 1));
        cJSON_AddNumberToObject(h, "document_id", (double)hits[i].document_id);
        cJSON_AddNumberToObject(h, "chunk_id", (double)hits[i].chunk_id);
        cJSON_AddStringToObject(h, "title", hits[i].title ? hits[i].title : "");
        cJSON_AddStringToObject(h, "heading_path", hits[i].heading_path ? hits[i].heading_path : "");
        const char *t = hits[i].text ? hits[i].text : "";
        size_t cut = strlen(t);
        if (cut > KS_TEXT_MAX) {
            cut = KS_TEXT_MAX;
            while (cut > 0 && ((unsigned char)t[cut] & 0xC0) == 0x80)
                cut--;
        }
        char *tx = strndup(t, cut);
        cJSON_AddStringToObject(h, "text", tx ? tx : "");
        free(tx);
        cJSON_AddItemToArray(arr, h);
    }
    hh_kb_hits_free(hits, n);
    *out = o;
    return 0;
}

/* ---- sql_query and http_request -------------------------------------------- */

/* The same refusal for a name the agent may not use and one not configured:
 * the model learns nothing about connections beyond its own. */
static int not_yours(const char *tool, const char *what, const char *name, const char *list, hh_err_t *err)
{
    return hh_err_set(err, HH_EINVAL, -1, "%s: no %s '%.63s' for this agent (it may use: %s)", tool, what, name,
                      list && strcmp(list, "[]") ? list : "none");
}

static int sql_query(const hh_agent_env_t *env, const cJSON *args, cJSON **out, char **record, hh_err_t *err)
{
    const cJSON *cn = cJSON_GetObjectItemCaseSensitive(args, "connection");
    const cJSON *q = cJSON_GetObjectItemCaseSensitive(args, "sql");
    if (!cJSON_IsString(cn) || !cJSON_IsString(q))
        return hh_err_set(err, HH_EINVAL, -1, "sql_query: connection and sql must be strings");
    const hh_agent_db_t *db = hh_agent_conf_db(env->conf, cn->valuestring);
    if (!db || !hh_agent_name_listed(env->connections, cn->valuestring))
        return not_yours("sql_query", "connection", cn->valuestring, env->connections, err);
    int rc = hh_agent_sql_query(db->path, q->valuestring, NULL, out, err);
    if (rc == HH_EIO)   /* the file's path is the admin's business, not the model's */
        hh_err_set(err, HH_EIO, -1, "sql_query: connection '%s' cannot be opened", db->name);
    if (rc)
        return rc;
    char *text = cJSON_PrintUnformatted(*out);
    cJSON *r = cJSON_CreateObject();
    if (text && r) {
        unsigned char h[crypto_hash_sha256_BYTES];
        crypto_hash_sha256(h, (const unsigned char *)text, strlen(text));
        char hex[2 * crypto_hash_sha256_BYTES + 1];
        sodium_bin2hex(hex, sizeof hex, h, sizeof h);
        cJSON_AddStringToObject(r, "connection", db->name);
        cJSON_AddNumberToObject(r, "columns", cJSON_GetArraySize(cJSON_GetObjectItem(*out, "columns")));
        cJSON_AddItemToObject(r, "row_count", cJSON_Duplicate(cJSON_GetObjectItem(*out, "row_count"), true));
        cJSON_AddItemToObject(r, "truncated", cJSON_Duplicate(cJSON_GetObjectItem(*out, "truncated"), true));
        cJSON_AddNumberToObject(r, "bytes", (double)strlen(text));
        cJSON_AddStringToObject(r, "sha256", hex);
        *record = cJSON_PrintUnformatted(r);
    }
    cJSON_Delete(r);
    cJSON_free(text);
    return *record ? 0 : hh_err_set(err, HH_ENOMEM, -1, "out of memory");
}

static int http_request(const hh_agent_env_t *env, const cJSON *args, cJSON **out, hh_err_t *err)
{
    const cJSON *en = cJSON_GetObjectItemCaseSensitive(args, "endpoint");
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(args, "method");
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(args, "path");
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(args, "body");
    if (!cJSON_IsString(en) || !cJSON_IsString(m) || !cJSON_IsString(p) || (b && !cJSON_IsString(b)))
        return hh_err_set(err, HH_EINVAL, -1, "http_request: endpoint, method, path (and body) must be strings");
    const hh_agent_endpoint_t *ep = hh_agent_conf_endpoint(env->conf, en->valuestring);
    if (!ep || !hh_agent_name_listed(env->endpoints, en->valuestring))
        return not_yours("http_request", "endpoint", en->valuestring, env->endpoints, err);
    if (env->read_only && strcmp(m->valuestring, "GET"))   /* Art. 14: nothing happens before the approval */
        return hh_err_set(err, HH_EINVAL, -1,
                          "http_request: this run waits for human approval; its tools may only read (GET)");
    return hh_agent_http_request(ep, m->valuestring, p->valuestring, b ? b->valuestring : NULL, out, err);
}

/* ---- dispatch -------------------------------------------------------------- */

int hh_agent_tool_run(const hh_agent_env_t *env, const char *name, const char *args_json, char **result,
                      hh_err_t *err)
{
    char *record = NULL;
    int rc = hh_agent_tool_run_rec(env, name, args_json, result, &record, err);
    free(record);
    return rc;
}

int hh_agent_tool_run_rec(const hh_agent_env_t *env, const char *name, const char *args_json, char **result,
                          char **record, hh_err_t *err)
{
    *result = NULL;
    *record = NULL;
    if (!find_tool(name))
        return hh_err_set(err, HH_EINVAL, -1, "unknown tool '%s'", name ? name : "");
    cJSON *args = cJSON_Parse(args_json ? args_json : "{}");
    if (!cJSON_IsObject(args)) {
        cJSON_Delete(args);
        return hh_err_set(err, HH_EINVAL, -1, "%s: the arguments must be a JSON object", name);
    }
    cJSON *out = NULL;
    int rc = 0;
    if (!strcmp(name, "calculator")) {
        const cJSON *ex = cJSON_GetObjectItemCaseSensitive(args, "expression");
        double v = 0;
        if (!cJSON_IsString(ex))
            rc = hh_err_set(err, HH_EINVAL, -1, "calculator: expression must be a string");
        else if (!(rc = hh_agent_calc(ex->valuestring, &v, err))) {
            out = cJSON_CreateObject();
            cJSON_AddStringToObject(out, "expression", ex->valuestring);
            cJSON_AddNumberToObject(out, "result", v);
        }
    } else if (!strcmp(name, "date")) {
        out = hh_agent_date_json(env->now_s ? env->now_s : (int64_t)time(NULL));
    } else if (!strcmp(name, "sql_query")) {
        rc = sql_query(env, args, &out, record, err);
    } else if (!strcmp(name, "http_request")) {
        rc = http_request(env, args, &out, err);
    } else if (!strncmp(name, "memory_", 7)) {
        rc = hh_agent_memory_tool(env, name, args, &out, err);
    } else if (!strcmp(name, "extract")) {
        rc = hh_agent_extract(env, args, &out, err);
    } else {
        rc = knowledge_search(env, args, &out, err);
    }
    cJSON_Delete(args);
    if (rc) {
        cJSON_Delete(out);
        free(*record);
        *record = NULL;
        return rc;
    }
    char *text = out ? cJSON_PrintUnformatted(out) : NULL;
    cJSON_Delete(out);
    if (!text) {
        free(*record);
        *record = NULL;
        return hh_err_set(err, HH_ENOMEM, -1, "out of memory");
    }
    if (strlen(text) > HH_AGENT_RESULT_MAX) {
        free(text);
        free(*record);
        *record = NULL;
        return hh_err_set(err, HH_EINVAL, -1, "%s: the result is larger than %d bytes; ask for less", name,
                          HH_AGENT_RESULT_MAX);
    }
    *result = text;
    return 0;
}

int hh_agent_args_valid(const char *schema_json, const char *args_json, hh_err_t *err)
{
    hh_grammar_t *g = NULL;
    int rc = hh_grammar_from_json_schema(schema_json, strlen(schema_json), &g, err);
    if (rc)
        return rc;
    hh_grammar_state_t *st = NULL;
    if ((rc = hh_grammar_state_create(g, NULL, &st, err))) {
        hh_grammar_free(g);
        return rc;
    }
    const char *a = args_json ? args_json : "";
    if (hh_grammar_accept_bytes(st, a, strlen(a)) != 0 || !hh_grammar_complete(st))
        rc = hh_err_set(err, HH_EINVAL, -1, "the arguments do not match the tool's JSON schema");
    hh_grammar_state_free(st);
    hh_grammar_free(g);
    return rc;
}
