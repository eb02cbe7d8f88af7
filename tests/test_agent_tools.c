/* test_agent_tools.c - the sql_query and http_request agent tools (issue
 * 16): their configuration (--agent-db, --agent-http), sql_query on a real
 * SQLite file the test makes, every refusal as the attack itself (writes,
 * ATTACH, PRAGMA writable_schema, a second statement, load_extension, a
 * query that runs forever, a huge result, a connection the agent may not
 * use, an unknown one) with the file's bytes unchanged afterwards;
 * http_request against real HTTP listeners the test starts (the allowed
 * path; '..', an absolute URL, another host, a disallowed method, an
 * oversize body, a redirect elsewhere and a slow server all refused, and
 * the other listener never reached); forced sql_query and http_request
 * calls through /v1/responses (the schema offers only the agent's
 * connection / endpoint; the sql_query step keeps a summary, not the
 * rows); and a connection into hoheit's own data directory refused at
 * start. */
#include "harness.h"
#include "http_helpers.h"
#include "agent/conf.h"
#include "agent/httptool.h"
#include "agent/sqltool.h"
#include "agent/tools.h"
#include "govern/audit.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- the company database ---------------------------------------------------- */

/* Makes <tmp>/<name>: orders(id, customer, amount) with 5 rows. */
static bool make_db(const char *name, char *path, size_t cap)
{
    snprintf(path, cap, "%s/%s", hh_test_tmpdir(), name);
    unlink(path);
    sqlite3 *db = NULL;
    if (sqlite3_open(path, &db) != SQLITE_OK)
        return false;
    int rc = sqlite3_exec(db,
                          "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer TEXT NOT NULL, amount REAL);"
                          "INSERT INTO orders VALUES (1, 'Acme GmbH', 120.5), (2, 'Bertel KG', 99),"
                          " (3, 'Carla AG', NULL), (4, 'Dora OHG', 7), (5, 'Emil SE', 3000);"
                          "CREATE TABLE secrets (k TEXT);",
                          NULL, NULL, NULL);
    sqlite3_close(db);
    return rc == SQLITE_OK;
}

/* The SHA-256 of the file's bytes as hex; false when unreadable. */
static bool file_hash(const char *path, char hex[65])
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    unsigned char buf[8192];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        crypto_hash_sha256_update(&st, buf, n);
    fclose(f);
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(&st, h);
    sodium_bin2hex(hex, 65, h, sizeof h);
    return true;
}

static bool exists(const char *path)
{
    return access(path, F_OK) == 0;
}

/* ---- configuration ----------------------------------------------------------- */

TEST(agent_tools_conf_parse)
{
    hh_agent_conf_t c;
    memset(&c, 0, sizeof c);
    hh_err_t err;
    hh_err_clear(&err);
    ASSERT_OK(hh_agent_conf_add_db(&c, "sales=sqlite:/srv/sales.db; hr=sqlite:rel/hr.db", &err));
    ASSERT_EQ_INT(c.n_db, 2);
    ASSERT_STREQ(hh_agent_conf_db(&c, "hr")->path, "rel/hr.db");
    ASSERT_TRUE(hh_agent_conf_db(&c, "nope") == NULL);
    /* PostgreSQL: not built (no libpq); a clear refusal naming issue 17 */
    ASSERT_EQ_INT(hh_agent_conf_add_db(&c, "pg=postgresql://u@db/x", &err), HH_EUNSUPPORTED);
    ASSERT_TRUE(strstr(err.msg, "issue 17") != NULL);
    static const char *const bad_db[] = { "sales=sqlite:/other.db", "Bad Name=sqlite:/x.db", "x=mysql://h/db",
                                          "x=sqlite:", "x=sqlite:file:/x.db?mode=rwc", "=sqlite:/x.db", "x" };
    for (size_t i = 0; i < sizeof bad_db / sizeof bad_db[0]; i++)
        ASSERT_EQ_INT(hh_agent_conf_add_db(&c, bad_db[i], &err), HH_EINVAL);
    ASSERT_EQ_INT(c.n_db, 2);

    ASSERT_OK(hh_agent_conf_add_http(&c, "tickets=http://10.0.0.5:8081/api/v1,methods=GET|POST,max_body=100", &err));
    ASSERT_OK(hh_agent_conf_add_http(&c, "wiki=http://wiki.intern", &err));
    const hh_agent_endpoint_t *t = hh_agent_conf_endpoint(&c, "tickets");
    ASSERT_STREQ(t->host, "10.0.0.5");
    ASSERT_EQ_INT(t->port, 8081);
    ASSERT_STREQ(t->base, "/api/v1/");
    ASSERT_EQ_INT(t->methods, HH_AGENT_HTTP_GET | HH_AGENT_HTTP_POST);
    ASSERT_EQ_INT(t->max_body, 100);
    ASSERT_EQ_INT(t->timeout_s, 10);
    const hh_agent_endpoint_t *w = hh_agent_conf_endpoint(&c, "wiki");
    ASSERT_STREQ(w->base, "/");
    ASSERT_EQ_INT(w->port, 80);
    ASSERT_EQ_INT(w->methods, HH_AGENT_HTTP_GET);
    ASSERT_EQ_INT(hh_agent_conf_add_http(&c, "sec=https://h/x/", &err), HH_EUNSUPPORTED);
    ASSERT_TRUE(strstr(err.msg, "https") != NULL);
    static const char *const bad_http[] = {
        "x=ftp://h/", "x=http://user:pw@h/", "x=http://h/a/../b/", "x=http://h/,methods=DELETE", "x=http://h/,max_body=-1",
        "x=http://h/,timeout=60", "x=http://h:99999/", "x=http://h/,colour=red", "tickets=http://h/", "x=http://h/a b/",
    };
    for (size_t i = 0; i < sizeof bad_http / sizeof bad_http[0]; i++) {
        int rc = hh_agent_conf_add_http(&c, bad_http[i], &err);
        if (rc != HH_EINVAL)
            printf("    '%s' -> %d\n", bad_http[i], rc);
        ASSERT_EQ_INT(rc, HH_EINVAL);
    }
    ASSERT_EQ_INT(c.n_ep, 2);

    /* the command line says the same before anything starts */
    if (!getenv("HOHEIT_BIN")) {
        hh_test_fail(__FILE__, __LINE__, "HOHEIT_BIN is not set (run through `make test`)");
        return;
    }
    char out[4096], line[1400];
    snprintf(line, sizeof line, "serve --data %s/agent-tools-conf --port 0 --agent-db pg=postgresql://db/x",
             hh_test_tmpdir());
    ASSERT_EQ_INT(hh_test_run_cli(line, NULL, true, out, sizeof out), 2);
    ASSERT_TRUE(strstr(out, "issue 17") != NULL);
    snprintf(line, sizeof line, "serve --data %s/agent-tools-conf --port 0 --agent-http w=https://h/", hh_test_tmpdir());
    ASSERT_EQ_INT(hh_test_run_cli(line, NULL, true, out, sizeof out), 2);
    ASSERT_TRUE(strstr(out, "https") != NULL);
    /* the config file: the same parser, with the file and line */
    char cf[600];
    snprintf(cf, sizeof cf, "%s/agent-tools.conf", hh_test_tmpdir());
    FILE *f = fopen(cf, "w");
    ASSERT_TRUE(f != NULL);
    fprintf(f, "port = 0\nagent-db = sales=sqlite:/srv/sales.db; crm=postgresql://db/crm\n");
    fclose(f);
    snprintf(line, sizeof line, "serve --data %s/agent-tools-conf --config %s", hh_test_tmpdir(), cf);
    ASSERT_EQ_INT(hh_test_run_cli(line, NULL, true, out, sizeof out), 2);
    ASSERT_TRUE(strstr(out, "agent-tools.conf:2: agent-db 'crm'") != NULL);
    ASSERT_TRUE(strstr(out, "issue 17") != NULL);
    /* hoheit agent: connections and endpoints from the command line (names
     * only: the command does not know the server's flags) */
    snprintf(line, sizeof line, "agent add rep --model m1 --tools sql_query --data %s/agent-tools-conf", hh_test_tmpdir());
    ASSERT_EQ_INT(hh_test_run_cli(line, NULL, true, out, sizeof out), 1);
    ASSERT_TRUE(strstr(out, "sql_query needs connections") != NULL);
    snprintf(line, sizeof line,
             "agent add rep --model m1 --tools sql_query,http_request --connections sales,hr --endpoints tickets "
             "--data %s/agent-tools-conf",
             hh_test_tmpdir());
    ASSERT_EQ_INT(hh_test_run_cli(line, NULL, true, out, sizeof out), 0);
    snprintf(line, sizeof line, "agent show rep --data %s/agent-tools-conf", hh_test_tmpdir());
    ASSERT_EQ_INT(hh_test_run_cli(line, NULL, false, out, sizeof out), 0);
    cJSON *j = cJSON_Parse(out);
    ASSERT_TRUE(j != NULL);
    ASSERT_STREQ(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "connections"), 1)->valuestring, "hr");
    ASSERT_STREQ(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "endpoints"), 0)->valuestring, "tickets");
    ASSERT_STREQ(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "tools"), 1)->valuestring, "http_request");
    cJSON_Delete(j);
}

/* ---- sql_query ---------------------------------------------------------------- */

typedef struct sql_fix {
    char            path[512], path2[512];
    hh_agent_conf_t conf;
    hh_agent_env_t  env;
} sql_fix_t;

/* Connections sales and hr configured; the agent may use sales only. */
static bool sql_fix(sql_fix_t *f)
{
    memset(f, 0, sizeof f->conf);
    memset(&f->conf, 0, sizeof f->conf);
    memset(&f->env, 0, sizeof f->env);
    if (!make_db("agent-tools-sales.db", f->path, sizeof f->path) ||
        !make_db("agent-tools-hr.db", f->path2, sizeof f->path2))
        return false;
    char spec[1200];
    snprintf(spec, sizeof spec, "sales=sqlite:%s;hr=sqlite:%s", f->path, f->path2);
    if (hh_agent_conf_add_db(&f->conf, spec, NULL))
        return false;
    f->env.conf = &f->conf;
    f->env.connections = "[\"sales\"]";
    return true;
}

/* Runs sql_query with connection conn and sql; *result and *record: the caller frees. */
static int run_sql(const sql_fix_t *f, const char *conn, const char *sql, char **result, char **record, hh_err_t *err)
{
    cJSON *a = cJSON_CreateObject();
    cJSON_AddStringToObject(a, "connection", conn);
    cJSON_AddStringToObject(a, "sql", sql);
    char *args = cJSON_PrintUnformatted(a);
    cJSON_Delete(a);
    hh_err_clear(err);
    int rc = hh_agent_tool_run_rec(&f->env, "sql_query", args, result, record, err);
    free(args);
    return rc;
}

TEST(agent_tools_sql_query_rows)
{
    sql_fix_t f;
    ASSERT_TRUE(sql_fix(&f));
    char *res = NULL, *rec = NULL;
    hh_err_t err;
    ASSERT_OK(run_sql(&f, "sales", "SELECT customer, amount FROM orders WHERE id <= 3 ORDER BY id", &res, &rec, &err));
    cJSON *j = cJSON_Parse(res);
    ASSERT_TRUE(j != NULL);
    ASSERT_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(j, "columns")), 2);
    ASSERT_STREQ(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "columns"), 0)->valuestring, "customer");
    cJSON *rows = cJSON_GetObjectItem(j, "rows");
    ASSERT_EQ_INT(cJSON_GetArraySize(rows), 3);
    ASSERT_STREQ(cJSON_GetArrayItem(cJSON_GetArrayItem(rows, 0), 0)->valuestring, "Acme GmbH");
    ASSERT_NEAR(cJSON_GetArrayItem(cJSON_GetArrayItem(rows, 0), 1)->valuedouble, 120.5, 1e-9);
    ASSERT_TRUE(cJSON_IsNull(cJSON_GetArrayItem(cJSON_GetArrayItem(rows, 2), 1)));
    ASSERT_EQ_INT(cJSON_GetObjectItem(j, "row_count")->valueint, 3);
    ASSERT_TRUE(cJSON_IsFalse(cJSON_GetObjectItem(j, "truncated")));
    cJSON_Delete(j);
    /* the record: size, row count and the result's SHA-256, never the rows */
    cJSON *r = cJSON_Parse(rec);
    ASSERT_TRUE(r != NULL);
    ASSERT_STREQ(hh_test_json_str(r, "connection"), "sales");
    ASSERT_EQ_INT(cJSON_GetObjectItem(r, "row_count")->valueint, 3);
    ASSERT_EQ_INT(cJSON_GetObjectItem(r, "bytes")->valueint, (int)strlen(res));
    unsigned char h[32];
    char hex[65];
    crypto_hash_sha256(h, (const unsigned char *)res, strlen(res));
    sodium_bin2hex(hex, sizeof hex, h, sizeof h);
    ASSERT_STREQ(hh_test_json_str(r, "sha256"), hex);
    ASSERT_TRUE(strstr(rec, "Acme") == NULL);
    cJSON_Delete(r);
    free(res);
    free(rec);
    /* aggregates, a CTE, a read-only PRAGMA, comments and a trailing ';' are fine */
    static const char *const ok[] = {
        "SELECT count(*) AS n, sum(amount) FROM orders",
        "WITH big AS (SELECT * FROM orders WHERE amount > 50) SELECT customer FROM big ORDER BY 1",
        "PRAGMA table_info(orders)",
        "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name; -- the tables\n",
        "/* lead */ SELECT upper(customer), round(amount) FROM orders LIMIT 2;;",
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int rc = run_sql(&f, "sales", ok[i], &res, &rec, &err);
        if (rc)
            printf("    '%s': %s\n", ok[i], err.msg);
        ASSERT_OK(rc);
        free(res);
        free(rec);
    }
    ASSERT_OK(run_sql(&f, "sales", "SELECT count(*) FROM orders", &res, &rec, &err));
    ASSERT_TRUE(strstr(res, "[[5]]") != NULL);
    free(res);
    free(rec);
}

TEST(agent_tools_sql_query_attacks_refused)
{
    sql_fix_t f;
    ASSERT_TRUE(sql_fix(&f));
    char before[65], after[65], before2[65], after2[65], evil[600], copy[600], jr[600];
    ASSERT_TRUE(file_hash(f.path, before));
    ASSERT_TRUE(file_hash(f.path2, before2));
    snprintf(evil, sizeof evil, "%s/agent-tools-evil.db", hh_test_tmpdir());
    snprintf(copy, sizeof copy, "%s/agent-tools-copy.db", hh_test_tmpdir());
    unlink(evil);
    unlink(copy);
    char attach[800], vacuum[800];
    snprintf(attach, sizeof attach, "ATTACH DATABASE '%s' AS evil", evil);
    snprintf(vacuum, sizeof vacuum, "VACUUM INTO '%s'", copy);
    const struct {
        const char *sql, *word;   /* word: in the error */
    } bad[] = {
        { "INSERT INTO orders VALUES (9, 'Mallory', 1)", "INSERT" },
        { "UPDATE orders SET amount = 0", "UPDATE" },
        { "DELETE FROM orders", "DELETE" },
        { "DROP TABLE orders", "schema" },
        { "CREATE TABLE t (x)", "schema" },
        { "ALTER TABLE orders ADD COLUMN y", "" },
        { "REPLACE INTO orders VALUES (1, 'Mallory', 0)", "INSERT" },
        { attach, "" },
        { "PRAGMA writable_schema = 1", "PRAGMA writable_schema" },
        { "PRAGMA writable_schema", "PRAGMA writable_schema" },
        { "PRAGMA query_only = 0", "PRAGMA query_only" },
        { "PRAGMA journal_mode = DELETE", "PRAGMA journal_mode" },
        { "SELECT 1; DELETE FROM orders", "one statement" },
        { "SELECT 1; SELECT 2", "one statement" },
        { "SELECT load_extension('/tmp/evil.so')", "load_extension" },
        { "SELECT fts3_tokenizer('simple')", "" },
        { "BEGIN IMMEDIATE", "transaction" },
        { "SAVEPOINT s", "" },
        { vacuum, "" },
        { "ANALYZE", "" },
        { "DETACH DATABASE main", "" },
        { "", "" },
        { "-- only a comment", "no statement" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *res = NULL, *rec = NULL;
        hh_err_t err;
        int rc = run_sql(&f, "sales", bad[i].sql, &res, &rec, &err);
        if (rc != HH_EINVAL || !strstr(err.msg, bad[i].word))
            printf("    '%s' -> %d '%s' (%s)\n", bad[i].sql, rc, err.msg, res ? res : "");
        ASSERT_EQ_INT(rc, HH_EINVAL);
        ASSERT_TRUE(strstr(err.msg, bad[i].word) != NULL);
        ASSERT_TRUE(res == NULL && rec == NULL);
    }
    /* a query that runs forever: the time limit (2 s) ends it */
    double t0 = now_s();
    char *res = NULL, *rec = NULL;
    hh_err_t err;
    int rc = run_sql(&f, "sales", "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c",
                     &res, &rec, &err);
    double took = now_s() - t0;
    printf("    endless CTE ended after %.2f s: %s\n", took, err.msg);
    ASSERT_EQ_INT(rc, HH_EINVAL);
    ASSERT_TRUE(strstr(err.msg, "longer than 2 s") != NULL);
    ASSERT_GE(took, 1.9);
    ASSERT_LE(took, 4.0);
    /* a huge result: 200 rows, cut, marked */
    ASSERT_OK(run_sql(&f, "sales", "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c",
                      &res, &rec, &err));
    cJSON *j = cJSON_Parse(res);
    ASSERT_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(j, "rows")), 200);
    ASSERT_TRUE(cJSON_IsTrue(cJSON_GetObjectItem(j, "truncated")));
    ASSERT_TRUE(strstr(rec, "\"truncated\":true") != NULL);
    cJSON_Delete(j);
    free(res);
    free(rec);
    /* wide rows: cut by size before the row limit; long texts cut too */
    ASSERT_OK(run_sql(&f, "sales",
                      "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 100)"
                      " SELECT x, printf('%.*c', 3000, 'y') FROM c",
                      &res, &rec, &err));
    j = cJSON_Parse(res);
    ASSERT_LE(strlen(res), HH_AGENT_RESULT_MAX);
    ASSERT_LE(cJSON_GetArraySize(cJSON_GetObjectItem(j, "rows")), 12);
    ASSERT_GE(cJSON_GetArraySize(cJSON_GetObjectItem(j, "rows")), 1);
    ASSERT_TRUE(cJSON_IsTrue(cJSON_GetObjectItem(j, "truncated")));
    ASSERT_LE(strlen(cJSON_GetArrayItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "rows"), 0), 1)->valuestring), 1003);
    cJSON_Delete(j);
    free(res);
    free(rec);
    /* a connection the agent may not use answers exactly like one that does not exist */
    hh_err_t e1, e2;
    char *r1 = NULL, *r2 = NULL, *c1 = NULL, *c2 = NULL;
    ASSERT_EQ_INT(run_sql(&f, "hr", "SELECT * FROM orders", &r1, &c1, &e1), HH_EINVAL);
    ASSERT_EQ_INT(run_sql(&f, "hx", "SELECT * FROM orders", &r2, &c2, &e2), HH_EINVAL);
    ASSERT_TRUE(strstr(e1.msg, "no connection 'hr' for this agent") != NULL);
    char *want = strdup(e2.msg);
    char *p = strstr(want, "'hx'");
    ASSERT_TRUE(p != NULL);
    p[2] = 'r';
    ASSERT_STREQ(e1.msg, want);
    free(want);
    /* an agent that names none, and a name configured nowhere even if the agent lists it */
    f.env.connections = NULL;
    ASSERT_EQ_INT(run_sql(&f, "sales", "SELECT 1", &r1, &c1, &e1), HH_EINVAL);
    f.env.connections = "[\"sales\",\"ghost\"]";
    ASSERT_EQ_INT(run_sql(&f, "ghost", "SELECT 1", &r1, &c1, &e1), HH_EINVAL);
    ASSERT_TRUE(strstr(e1.msg, "no connection 'ghost'") != NULL);
    /* the files' bytes are unchanged; nothing was created beside them */
    ASSERT_TRUE(file_hash(f.path, after));
    ASSERT_TRUE(file_hash(f.path2, after2));
    ASSERT_STREQ(after, before);
    ASSERT_STREQ(after2, before2);
    ASSERT_FALSE(exists(evil));
    ASSERT_FALSE(exists(copy));
    snprintf(jr, sizeof jr, "%s-journal", f.path);
    ASSERT_FALSE(exists(jr));
    snprintf(jr, sizeof jr, "%s-wal", f.path);
    ASSERT_FALSE(exists(jr));
    /* and the rows are all still there */
    ASSERT_OK(run_sql(&f, "sales", "SELECT count(*) FROM orders WHERE customer <> 'Mallory'", &res, &rec, &err));
    ASSERT_TRUE(strstr(res, "[[5]]") != NULL);
    free(res);
    free(rec);
}

/* ---- a tiny HTTP server ------------------------------------------------------- */

typedef struct lsn {
    int         fd, port;
    pthread_t   th;
    atomic_int  hits;
    atomic_bool stop;
    char        last[2048];   /* the last request's head and body */
    int         other_port;   /* where /api/redirect points */
} lsn_t;

static void lsn_answer(lsn_t *l, int c)
{
    char buf[8192];
    size_t n = 0;
    char *he = NULL;
    while (n < sizeof buf - 1) {
        ssize_t r = recv(c, buf + n, sizeof buf - 1 - n, 0);
        if (r <= 0)
            return;
        n += (size_t)r;
        buf[n] = '\0';
        if ((he = strstr(buf, "\r\n\r\n"))) {
            const char *cl = strcasestr(buf, "Content-Length:");
            size_t want = cl ? (size_t)atol(cl + 15) : 0;
            if (n - (size_t)(he + 4 - buf) >= want)
                break;
        }
    }
    atomic_fetch_add(&l->hits, 1);
    snprintf(l->last, sizeof l->last, "%.2047s", buf);
    char line[512];
    snprintf(line, sizeof line, "%.*s", (int)strcspn(buf, "\r\n"), buf);
    char out[1024];
    const char *body = NULL;
    if (strstr(line, " /api/items/7 ")) {
        body = "{\"id\":7,\"name\":\"Widget\"}";
    } else if (strstr(line, "POST /api/echo ")) {
        body = he ? he + 4 : "";
    } else if (strstr(line, " /api/redirect ")) {
        snprintf(out, sizeof out,
                 "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:%d/stolen\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                 l->other_port);
        send(c, out, strlen(out), MSG_NOSIGNAL);
        return;
    } else if (strstr(line, " /api/slow ")) {
        for (int i = 0; i < 30 && !atomic_load(&l->stop); i++)
            usleep(100 * 1000);   /* 3 s, unless the test ends */
        body = "late";
    } else if (strstr(line, " /api/big ")) {
        const char *h = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 400000\r\n\r\n";
        send(c, h, strlen(h), MSG_NOSIGNAL);
        char *big = malloc(400000);
        if (big) {
            memset(big, 'b', 400000);
            send(c, big, 400000, MSG_NOSIGNAL);
            free(big);
        }
        return;
    } else if (strstr(line, " /api/chunked ")) {
        const char *h = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
                        "5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n";
        send(c, h, strlen(h), MSG_NOSIGNAL);
        return;
    } else {
        snprintf(out, sizeof out, "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot found");
        send(c, out, strlen(out), MSG_NOSIGNAL);
        return;
    }
    snprintf(out, sizeof out,
             "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
             strlen(body), body);
    send(c, out, strlen(out), MSG_NOSIGNAL);
}

static void *lsn_main(void *arg)
{
    lsn_t *l = arg;
    while (!atomic_load(&l->stop)) {
        int c = accept(l->fd, NULL, NULL);
        if (c < 0)
            continue;
        if (!atomic_load(&l->stop))
            lsn_answer(l, c);
        close(c);
    }
    return NULL;
}

static bool lsn_start(lsn_t *l)
{
    memset(l, 0, sizeof *l);
    l->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t al = sizeof a;
    if (l->fd < 0 || bind(l->fd, (struct sockaddr *)&a, sizeof a) || listen(l->fd, 16) ||
        getsockname(l->fd, (struct sockaddr *)&a, &al))
        return false;
    l->port = ntohs(a.sin_port);
    return pthread_create(&l->th, NULL, lsn_main, l) == 0;
}

static void lsn_stop(lsn_t *l)
{
    atomic_store(&l->stop, true);
    int c = socket(AF_INET, SOCK_STREAM, 0);   /* wakes accept */
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)l->port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    if (c >= 0) {
        connect(c, (struct sockaddr *)&a, sizeof a);
        close(c);
    }
    pthread_join(l->th, NULL);
    close(l->fd);
}

/* ---- http_request ------------------------------------------------------------- */

static int run_http(const hh_agent_env_t *env, const char *ep, const char *method, const char *path,
                    const char *body, char **result, hh_err_t *err)
{
    cJSON *a = cJSON_CreateObject();
    cJSON_AddStringToObject(a, "endpoint", ep);
    cJSON_AddStringToObject(a, "method", method);
    cJSON_AddStringToObject(a, "path", path);
    if (body)
        cJSON_AddStringToObject(a, "body", body);
    char *args = cJSON_PrintUnformatted(a);
    cJSON_Delete(a);
    hh_err_clear(err);
    *result = NULL;
    char *rec = NULL;
    int rc = hh_agent_tool_run_rec(env, "http_request", args, result, &rec, err);
    free(rec);
    free(args);
    return rc;
}

TEST(agent_tools_http_request_allowlist)
{
    lsn_t api, other;
    ASSERT_TRUE(lsn_start(&api));
    ASSERT_TRUE(lsn_start(&other));
    api.other_port = other.port;
    hh_agent_conf_t conf;
    memset(&conf, 0, sizeof conf);
    char spec[512];
    snprintf(spec, sizeof spec, "tickets=http://127.0.0.1:%d/api/,methods=GET|POST,max_body=32,timeout=1;"
                                "readonly=http://127.0.0.1:%d/api/;elsewhere=http://127.0.0.1:%d/",
             api.port, api.port, other.port);
    hh_err_t err;
    hh_err_clear(&err);
    ASSERT_OK(hh_agent_conf_add_http(&conf, spec, &err));
    hh_agent_env_t env;
    memset(&env, 0, sizeof env);
    env.conf = &conf;
    env.endpoints = "[\"tickets\",\"readonly\"]";
    char *res = NULL;
    /* the allowed path: prefix + path, the prefix's host */
    ASSERT_OK(run_http(&env, "tickets", "GET", "items/7", NULL, &res, &err));
    cJSON *j = cJSON_Parse(res);
    ASSERT_EQ_INT(cJSON_GetObjectItem(j, "status")->valueint, 200);
    ASSERT_STREQ(hh_test_json_str(j, "body"), "{\"id\":7,\"name\":\"Widget\"}");
    ASSERT_STREQ(hh_test_json_str(j, "content_type"), "application/json");
    cJSON_Delete(j);
    free(res);
    ASSERT_TRUE(!strncmp(api.last, "GET /api/items/7 HTTP/1.1\r\n", 27));
    char host[64];
    snprintf(host, sizeof host, "Host: 127.0.0.1:%d\r\n", api.port);
    ASSERT_TRUE(strstr(api.last, host) != NULL);
    /* a leading '/' is relative to the prefix too; a query passes; POST with a body */
    ASSERT_OK(run_http(&env, "tickets", "GET", "/items/7?full=1", NULL, &res, &err));
    free(res);
    ASSERT_TRUE(!strncmp(api.last, "GET /api/items/7?full=1 HTTP/1.1", 32));
    ASSERT_OK(run_http(&env, "tickets", "POST", "echo", "{\"q\":\"status\"}", &res, &err));
    j = cJSON_Parse(res);
    ASSERT_STREQ(hh_test_json_str(j, "body"), "{\"q\":\"status\"}");
    cJSON_Delete(j);
    free(res);
    ASSERT_TRUE(strstr(api.last, "Content-Type: application/json") != NULL);
    ASSERT_OK(run_http(&env, "tickets", "GET", "chunked", NULL, &res, &err));
    j = cJSON_Parse(res);
    ASSERT_STREQ(hh_test_json_str(j, "body"), "hello, world");
    cJSON_Delete(j);
    free(res);
    ASSERT_OK(run_http(&env, "tickets", "GET", "missing", NULL, &res, &err));   /* a 404 is an answer */
    ASSERT_TRUE(strstr(res, "\"status\":404") != NULL);
    free(res);
    int api_hits = atomic_load(&api.hits);

    /* the attacks */
    snprintf(spec, sizeof spec, "http://127.0.0.1:%d/stolen", other.port);
    char other_path[128];
    snprintf(other_path, sizeof other_path, "//127.0.0.1:%d/stolen", other.port);
    char at_host[128];
    snprintf(at_host, sizeof at_host, "@127.0.0.1:%d/stolen", other.port);
    const struct {
        const char *ep, *method, *path, *body, *word;
    } bad[] = {
        { "tickets", "GET", "../secret", NULL, "'..'" },
        { "tickets", "GET", "items/../../secret", NULL, "'..'" },
        { "tickets", "GET", "%2e%2e/secret", NULL, "'..'" },
        { "tickets", "GET", "items/%2E%2e", NULL, "'..'" },
        { "tickets", "GET", "items%2f..%2fsecret", NULL, "encoded" },
        { "tickets", "GET", "./items/7", NULL, "'.'" },
        { "tickets", "GET", "items//7", NULL, "empty segment" },
        { "tickets", "GET", spec, NULL, "relative" },
        { "tickets", "GET", other_path, NULL, "relative" },
        { "tickets", "GET", "http:items", NULL, "relative" },
        { "tickets", "GET", "items/7 HTTP/1.1\r\nHost: evil", NULL, "spaces" },
        { "tickets", "GET", "items/7#frag", NULL, "#" },
        { "tickets", "GET", "items\\7", NULL, "\\" },
        { "tickets", "GET", "%zz", NULL, "percent" },
        { "readonly", "POST", "echo", "{}", "does not allow the method POST" },
        { "tickets", "DELETE", "items/7", NULL, "" },
        { "tickets", "GET", "items/7", "x", "GET carries no body" },
        { "tickets", "POST", "echo", "{\"q\":\"0123456789012345678901234567\"}", "larger" },
        { "tickets", "GET", "redirect", NULL, "redirect" },
        { "tickets", "GET", "big", NULL, "larger than" },
        { "elsewhere", "GET", "stolen", NULL, "no endpoint 'elsewhere' for this agent" },
        { "nowhere", "GET", "stolen", NULL, "no endpoint 'nowhere' for this agent" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = run_http(&env, bad[i].ep, bad[i].method, bad[i].path, bad[i].body, &res, &err);
        if (rc == 0 || !strstr(err.msg, bad[i].word))
            printf("    %s %s %s -> %d '%s' %s\n", bad[i].ep, bad[i].method, bad[i].path, rc, err.msg, res ? res : "");
        ASSERT_NE_INT(rc, 0);
        ASSERT_TRUE(strstr(err.msg, bad[i].word) != NULL);
        ASSERT_TRUE(res == NULL);
    }
    /* only the redirect and the big answer reached the allowed server at all */
    ASSERT_EQ_INT(atomic_load(&api.hits), api_hits + 2);
    /* a run held for approval only reads: no POST before the decision */
    env.read_only = true;
    ASSERT_EQ_INT(run_http(&env, "tickets", "POST", "echo", "{}", &res, &err), HH_EINVAL);
    ASSERT_TRUE(strstr(err.msg, "approval") != NULL);
    ASSERT_OK(run_http(&env, "tickets", "GET", "items/7", NULL, &res, &err));
    free(res);
    env.read_only = false;
    api_hits++;
    ASSERT_EQ_INT(atomic_load(&api.hits), api_hits + 2);
    /* a slow server: the endpoint's timeout (1 s) ends the call */
    double t0 = now_s();
    int rc = run_http(&env, "tickets", "GET", "slow", NULL, &res, &err);
    double took = now_s() - t0;
    printf("    slow endpoint: %.2f s: %s\n", took, err.msg);
    ASSERT_EQ_INT(rc, HH_EIO);
    ASSERT_TRUE(strstr(err.msg, "did not answer within 1 s") != NULL);
    ASSERT_LE(took, 2.5);
    /* the other listener was never reached: not by an absolute URL, not by
     * '//host', not by the redirect, not by the endpoint the agent may not use */
    ASSERT_EQ_INT(atomic_load(&other.hits), 0);
    (void)at_host;
    lsn_stop(&api);
    lsn_stop(&other);
    /* a closed port: a connection error, quickly */
    t0 = now_s();
    ASSERT_EQ_INT(run_http(&env, "readonly", "GET", "items/7", NULL, &res, &err), HH_EIO);
    ASSERT_LE(now_s() - t0, 2.5);
}

/* ---- through /v1/responses ------------------------------------------------------ */

TEST(agent_tools_definitions_and_forced_sql_call)
{
    sql_fix_t f;
    ASSERT_TRUE(sql_fix(&f));
    char before[65], after[65];
    ASSERT_TRUE(file_hash(f.path, before));
    hh_test_srv_params_t p = hh_test_srv_default_params();
    p.http.agent = &f.conf;
    hh_test_srv_t t;
    ASSERT_OK(hh_test_srv_start(&t, "agent-tools-run", &p));
    char admin[HH_KEY_LEN + 1], sam[HH_KEY_LEN + 1];
    ASSERT_OK(hh_test_srv_user(&t, "root", "admin", admin, NULL));
    ASSERT_OK(hh_test_srv_user(&t, "sam", "member", sam, NULL));
    hh_test_resp_t r;
    /* definitions: sql_query needs connections; each must be configured */
    const struct {
        const char *body, *word;
    } bad[] = {
        { "{\"name\":\"q\",\"model\":\"stories260K\",\"tools\":[\"sql_query\"]}", "sql_query needs connections" },
        { "{\"name\":\"q\",\"model\":\"stories260K\",\"tools\":[\"sql_query\"],\"connections\":[\"crm\"]}",
          "no connection 'crm' is configured" },
        { "{\"name\":\"q\",\"model\":\"stories260K\",\"tools\":[\"http_request\"],\"endpoints\":[\"x\"]}",
          "no endpoint 'x' is configured" },
        { "{\"name\":\"q\",\"model\":\"stories260K\",\"tools\":[\"http_request\"]}", "http_request needs endpoints" },
        { "{\"name\":\"q\",\"model\":\"stories260K\",\"connections\":[\"Sales DB\"]}", "not a name" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ASSERT_OK(hh_test_http(t.port, "POST", "/api/agents", admin, bad[i].body, &r));
        if (r.status != 400 || !strstr(r.body, bad[i].word))
            printf("    %s -> %d %s\n", bad[i].body, r.status, r.body);
        ASSERT_EQ_INT(r.status, 400);
        ASSERT_TRUE(strstr(r.body, bad[i].word) != NULL);
        hh_test_resp_free(&r);
    }
    ASSERT_OK(hh_test_http(t.port, "POST", "/api/agents", admin,
                           "{\"name\":\"reports\",\"model\":\"stories260K\",\"tools\":[\"sql_query\",\"date\"],"
                           "\"connections\":[\"sales\"],\"max_steps\":2}",
                           &r));
    ASSERT_EQ_INT(r.status, 201);
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(t.port, "GET", "/api/agents/reports", admin, NULL, &r));
    ASSERT_STREQ(cJSON_GetArrayItem(cJSON_GetObjectItem(r.j, "connections"), 0)->valuestring, "sales");
    ASSERT_STREQ(cJSON_GetArrayItem(cJSON_GetObjectItem(r.j, "tools"), 0)->valuestring, "sql_query");
    ASSERT_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(r.j, "endpoints")), 0);
    hh_test_resp_free(&r);
    char *abuf = NULL;
    size_t an = 0;
    FILE *af = open_memstream(&abuf, &an);
    ASSERT_TRUE(af != NULL);
    ASSERT_OK(hh_audit_export(t.st, 1, af, NULL));
    fclose(af);
    ASSERT_TRUE(strstr(abuf, "agent create reports") != NULL && strstr(abuf, "connections=[\\\"sales\\\"]") != NULL);
    free(abuf);
    /* an update that leaves connections out keeps them (stored beside the tools) */
    ASSERT_OK(hh_test_http(t.port, "PUT", "/api/agents/reports", admin, "{\"max_steps\":3}", &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_STREQ(cJSON_GetArrayItem(cJSON_GetObjectItem(r.j, "connections"), 0)->valuestring, "sales");
    hh_test_resp_free(&r);

    /* a forced call: the connection can only be the agent's (the schema's enum) */
    ASSERT_OK(hh_test_http(t.port, "POST", "/v1/responses", sam,
                           "{\"model\":\"agent:reports\",\"input\":\"How many orders?\",\"temperature\":0,"
                           "\"max_output_tokens\":120,\"tool_choice\":{\"type\":\"function\",\"name\":\"sql_query\"}}",
                           &r));
    ASSERT_EQ_INT(r.status, 200);
    const cJSON *item = cJSON_GetArrayItem(cJSON_GetObjectItem(r.j, "output"), 0);
    ASSERT_STREQ(hh_test_json_str(item, "type"), "hoheit_tool_call");
    ASSERT_STREQ(hh_test_json_str(item, "name"), "sql_query");
    char args[2048];
    snprintf(args, sizeof args, "%s", hh_test_json_str(item, "arguments"));
    printf("    the model's call: %s\n", args);
    cJSON *a = cJSON_Parse(args);
    ASSERT_STREQ(hh_test_json_str(a, "connection"), "sales");
    /* what the tool says of those arguments is what the run got */
    char *res = NULL, *rec = NULL;
    hh_err_t err;
    int crc = run_sql(&f, "sales", hh_test_json_str(a, "sql"), &res, &rec, &err);
    const char *out = hh_test_json_str(item, "output");
    printf("    its output: %.300s\n", out);
    if (crc) {
        ASSERT_STREQ(hh_test_json_str(item, "status"), "failed");
        ASSERT_STREQ(hh_test_json_str(item, "error"), err.msg);
    } else {
        ASSERT_STREQ(out, res);
    }
    char id[96];
    snprintf(id, sizeof id, "%s", hh_test_json_str(r.j, "id"));
    hh_test_resp_free(&r);
    cJSON_Delete(a);
    /* the step record: the arguments; the summary (never the rows) or the error */
    char path[160];
    snprintf(path, sizeof path, "/api/agents/runs/%s", id);
    ASSERT_OK(hh_test_http(t.port, "GET", path, sam, NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    const cJSON *st = cJSON_GetArrayItem(cJSON_GetObjectItem(r.j, "steps"), 1);
    ASSERT_STREQ(hh_test_json_str(st, "name"), "sql_query");
    ASSERT_STREQ(hh_test_json_str(st, "arguments"), args);
    if (crc) {
        ASSERT_STREQ(hh_test_json_str(st, "error"), err.msg);
    } else {
        ASSERT_STREQ(hh_test_json_str(st, "result"), rec);
        ASSERT_EQ_INT(cJSON_GetObjectItem(st, "result_bytes")->valueint, (int)strlen(res));
    }
    hh_test_resp_free(&r);
    free(res);
    free(rec);
    /* the step is an audit record */
    char *buf = NULL;
    size_t n = 0;
    FILE *mf = open_memstream(&buf, &n);
    ASSERT_TRUE(mf != NULL);
    ASSERT_OK(hh_audit_export(t.st, 1, mf, &err));
    fclose(mf);
    char want[200];
    snprintf(want, sizeof want, "run %s step 2 tool sql_query", id);
    ASSERT_TRUE(strstr(buf, want) != NULL);
    free(buf);
    hh_test_srv_stop(&t);
    ASSERT_TRUE(file_hash(f.path, after));
    ASSERT_STREQ(after, before);
}

/* A forced http_request call: the endpoint can only be the agent's, the
 * request reaches the allowed listener or is refused, and the step keeps
 * the arguments and the result. */
TEST(agent_tools_forced_http_call)
{
    lsn_t api;
    ASSERT_TRUE(lsn_start(&api));
    hh_agent_conf_t conf;
    memset(&conf, 0, sizeof conf);
    char spec[256];
    snprintf(spec, sizeof spec, "tickets=http://127.0.0.1:%d/api/,timeout=2", api.port);
    ASSERT_OK(hh_agent_conf_add_http(&conf, spec, NULL));
    ASSERT_OK(hh_agent_conf_add_http(&conf, "wiki=http://127.0.0.1:1/", NULL));
    hh_test_srv_params_t p = hh_test_srv_default_params();
    p.http.agent = &conf;
    hh_test_srv_t t;
    ASSERT_OK(hh_test_srv_start(&t, "agent-tools-http-run", &p));
    char admin[HH_KEY_LEN + 1], sam[HH_KEY_LEN + 1];
    ASSERT_OK(hh_test_srv_user(&t, "root", "admin", admin, NULL));
    ASSERT_OK(hh_test_srv_user(&t, "sam", "member", sam, NULL));
    hh_test_resp_t r;
    ASSERT_OK(hh_test_http(t.port, "POST", "/api/agents", admin,
                           "{\"name\":\"desk\",\"model\":\"stories260K\",\"tools\":[\"http_request\"],"
                           "\"endpoints\":[\"tickets\"],\"max_steps\":1}",
                           &r));
    ASSERT_EQ_INT(r.status, 201);
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(t.port, "POST", "/v1/responses", sam,
                           "{\"model\":\"agent:desk\",\"input\":\"Open ticket 7\",\"temperature\":0,"
                           "\"max_output_tokens\":480,\"tool_choice\":{\"type\":\"function\",\"name\":\"http_request\"}}",
                           &r));
    ASSERT_EQ_INT(r.status, 200);
    const cJSON *item = cJSON_GetArrayItem(cJSON_GetObjectItem(r.j, "output"), 0);
    if (strcmp(hh_test_json_str(item, "name"), "http_request"))
        printf("    %.800s\n", r.body);
    ASSERT_STREQ(hh_test_json_str(item, "name"), "http_request");
    char args[2048], out[4096], id[96];
    snprintf(args, sizeof args, "%s", hh_test_json_str(item, "arguments"));
    snprintf(out, sizeof out, "%s", hh_test_json_str(item, "output"));
    snprintf(id, sizeof id, "%s", hh_test_json_str(r.j, "id"));
    bool failed = !strcmp(hh_test_json_str(item, "status"), "failed");
    hh_test_resp_free(&r);
    printf("    the model's call: %s\n    its output: %.300s\n", args, out);
    cJSON *a = cJSON_Parse(args);
    ASSERT_STREQ(hh_test_json_str(a, "endpoint"), "tickets");   /* the schema offers only the agent's */
    ASSERT_STREQ(hh_test_json_str(a, "method"), "GET");   /* the only method its endpoint takes */
    cJSON_Delete(a);
    /* a call that passed the checks reached the allowed listener under /api/ */
    if (!failed) {
        ASSERT_TRUE(strstr(api.last, " /api/") != NULL);
        ASSERT_TRUE(strstr(out, "\"status\":") != NULL);
    }
    char path[160];
    snprintf(path, sizeof path, "/api/agents/runs/%s", id);
    ASSERT_OK(hh_test_http(t.port, "GET", path, sam, NULL, &r));
    const cJSON *st = cJSON_GetArrayItem(cJSON_GetObjectItem(r.j, "steps"), 1);
    ASSERT_STREQ(hh_test_json_str(st, "name"), "http_request");
    ASSERT_STREQ(hh_test_json_str(st, "arguments"), args);
    if (!failed)
        ASSERT_STREQ(hh_test_json_str(st, "result"), out);   /* http_request keeps its result */
    else
        ASSERT_TRUE(hh_test_json_str(st, "error")[0] != '\0');
    hh_test_resp_free(&r);
    hh_test_srv_stop(&t);
    lsn_stop(&api);
}

/* The attack by configuration: a connection to hoheit's own database (or
 * a symlink to it) would hand agents users, keys and audit; the server
 * refuses to start with one. */
TEST(agent_tools_own_database_refused)
{
    hh_test_srv_t t;
    ASSERT_OK(hh_test_srv_start(&t, "agent-tools-own", NULL));   /* makes the data directory and its database */
    char own[600], link[600], spec[1400];
    snprintf(own, sizeof own, "%s/hoheit.db", t.data);
    hh_test_srv_stop(&t);
    snprintf(link, sizeof link, "%s/agent-tools-innocent.db", hh_test_tmpdir());
    unlink(link);
    ASSERT_OK(symlink(own, link));
    const char *paths[] = { own, link };
    for (int i = 0; i < 2; i++) {
        hh_agent_conf_t conf;
        memset(&conf, 0, sizeof conf);
        snprintf(spec, sizeof spec, "own=sqlite:%s", paths[i]);
        ASSERT_OK(hh_agent_conf_add_db(&conf, spec, NULL));
        hh_test_srv_params_t p = hh_test_srv_default_params();
        p.http.agent = &conf;
        int rc = hh_test_srv_start(&t, "agent-tools-own", &p);
        if (rc == 0)
            hh_test_srv_stop(&t);
        ASSERT_EQ_INT(rc, HH_EINVAL);
    }
    unlink(link);
}
