/* sqltool.c - read-only queries on external SQLite files (sqltool.h).
 * This is the one place outside src/store that calls SQLite: it opens the
 * company's files the admin configured, never hoheit's own database. */
#include "agent/sqltool.h"

#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SQL_DEFAULT_ROWS 200
#define SQL_DEFAULT_SECONDS 2.0
#define SQL_DEFAULT_BYTES (12 * 1024)
#define SQL_TEXT_MAX 1000
#define SQL_VALUE_MAX (1000 * 1000)
#define SQL_PROGRESS_OPS 1000

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Functions without side effects a query may call (lower case). */
static const char *const g_funcs[] = {
    "abs", "avg", "count", "max", "min", "sum", "total", "group_concat", "string_agg", "coalesce", "ifnull", "iif",
    "nullif", "length", "octet_length", "lower", "upper", "substr", "substring", "trim", "ltrim", "rtrim", "replace",
    "instr", "round", "typeof", "hex", "quote", "printf", "format", "char", "unicode", "like", "glob", "date", "time",
    "datetime", "julianday", "strftime", "unixepoch", "timediff", "random", "sign", "ceil", "ceiling", "floor",
    "trunc", "mod", "pow", "power", "sqrt", "exp", "ln", "log", "log10", "log2", "pi", "likely", "unlikely",
    "likelihood", "json", "json_extract", "json_array_length", "json_type", "json_valid", "json_quote",
    "json_array", "json_object", "json_group_array", "json_group_object", "row_number", "rank", "dense_rank",
    "percent_rank", "cume_dist", "ntile", "lag", "lead", "first_value", "last_value", "nth_value", "concat",
    "concat_ws", "median",
};

/* PRAGMAs that only read the schema. */
static const char *const g_pragmas[] = { "table_info", "table_xinfo", "index_list", "index_info", "index_xinfo",
                                         "foreign_key_list", "table_list" };

static bool in_list(const char *const *list, size_t n, const char *v)
{
    if (!v)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!strcasecmp(list[i], v))
            return true;
    return false;
}

typedef struct sql_ctx {
    double deadline;
    bool   timed_out;
    char   denied[160];   /* what the authorizer refused first */
} sql_ctx_t;

static int authorize(void *user, int action, const char *a1, const char *a2, const char *db, const char *trig)
{
    sql_ctx_t *x = user;
    (void)db;
    (void)trig;
    switch (action) {
    case SQLITE_SELECT:
    case SQLITE_READ:
    case SQLITE_RECURSIVE:
        return SQLITE_OK;
    case SQLITE_FUNCTION:   /* a2: the function's name */
        if (in_list(g_funcs, sizeof g_funcs / sizeof g_funcs[0], a2))
            return SQLITE_OK;
        if (!x->denied[0])
            snprintf(x->denied, sizeof x->denied, "the function %s()", a2 ? a2 : "?");
        return SQLITE_DENY;
    case SQLITE_PRAGMA:     /* a1: the pragma, a2: its argument */
        if (in_list(g_pragmas, sizeof g_pragmas / sizeof g_pragmas[0], a1))
            return SQLITE_OK;
        if (!x->denied[0])
            snprintf(x->denied, sizeof x->denied, "PRAGMA %s", a1 ? a1 : "?");
        return SQLITE_DENY;
    default:
        if (!x->denied[0]) {
            static const char *const names[] = {
                [SQLITE_INSERT] = "INSERT", [SQLITE_UPDATE] = "UPDATE", [SQLITE_DELETE] = "DELETE",
                [SQLITE_ATTACH] = "ATTACH", [SQLITE_DETACH] = "DETACH", [SQLITE_TRANSACTION] = "a transaction",
                [SQLITE_DROP_TABLE] = "DROP TABLE", [SQLITE_CREATE_TABLE] = "CREATE TABLE",
                [SQLITE_ANALYZE] = "ANALYZE", [SQLITE_SAVEPOINT] = "a savepoint",
            };
            const char *nm = action >= 0 && action < (int)(sizeof names / sizeof names[0]) && names[action]
                                 ? names[action]
                                 : "a statement that is not a SELECT";
            if ((action == SQLITE_INSERT || action == SQLITE_UPDATE || action == SQLITE_DELETE) && a1 &&
                !strncmp(a1, "sqlite_", 7))
                nm = "a change of the schema";   /* DROP, CREATE, ALTER write sqlite_master first */
            snprintf(x->denied, sizeof x->denied, "%s", nm);
        }
        return SQLITE_DENY;
    }
}

static int progress(void *user)
{
    sql_ctx_t *x = user;
    if (mono_s() > x->deadline) {
        x->timed_out = true;
        return 1;   /* interrupts the statement */
    }
    return 0;
}

/* Skips spaces, ';' and comments; returns where the next statement would start. */
static const char *skip_tail(const char *p)
{
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '\f' || *p == ';')
            p++;
        if (p[0] == '-' && p[1] == '-') {
            while (*p && *p != '\n')
                p++;
        } else if (p[0] == '/' && p[1] == '*') {
            const char *e = strstr(p + 2, "*/");
            if (!e)
                return p + strlen(p);   /* an unterminated comment ends the text */
            p = e + 2;
        } else {
            return p;
        }
    }
}

static cJSON *value_json(sqlite3_stmt *st, int col)
{
    switch (sqlite3_column_type(st, col)) {
    case SQLITE_INTEGER: {
        sqlite3_int64 v = sqlite3_column_int64(st, col);
        if (v > (1LL << 53) || v < -(1LL << 53)) {   /* beyond a double's exact integers: as text */
            char buf[32];
            snprintf(buf, sizeof buf, "%lld", (long long)v);
            return cJSON_CreateString(buf);
        }
        return cJSON_CreateNumber((double)v);
    }
    case SQLITE_FLOAT:
        return cJSON_CreateNumber(sqlite3_column_double(st, col));
    case SQLITE_NULL:
        return cJSON_CreateNull();
    case SQLITE_BLOB: {
        char buf[48];
        snprintf(buf, sizeof buf, "[blob, %d bytes]", sqlite3_column_bytes(st, col));
        return cJSON_CreateString(buf);
    }
    default: {
        const char *t = (const char *)sqlite3_column_text(st, col);
        size_t n = (size_t)sqlite3_column_bytes(st, col);
        if (!t)
            return cJSON_CreateString("");
        size_t eff = strnlen(t, n);   /* an embedded NUL ends the text */
        if (eff <= SQL_TEXT_MAX)
            return cJSON_CreateString(t);
        size_t cut = SQL_TEXT_MAX;
        while (cut > 0 && ((unsigned char)t[cut] & 0xC0) == 0x80)
            cut--;
        char *c = malloc(cut + 4);
        if (!c)
            return NULL;
        memcpy(c, t, cut);
        memcpy(c + cut, "...", 4);   /* cut here */
        cJSON *j = cJSON_CreateString(c);
        free(c);
        return j;
    }
    }
}

int hh_agent_sql_query(const char *path, const char *sql, const hh_agent_sql_limits_t *lim, cJSON **out,
                       hh_err_t *err)
{
    *out = NULL;
    int max_rows = lim && lim->max_rows > 0 ? lim->max_rows : SQL_DEFAULT_ROWS;
    double max_s = lim && lim->max_seconds > 0 ? lim->max_seconds : SQL_DEFAULT_SECONDS;
    size_t max_bytes = lim && lim->max_bytes ? lim->max_bytes : SQL_DEFAULT_BYTES;
    if (!sql || !sql[0] || strlen(sql) > HH_AGENT_SQL_MAX)
        return hh_err_set(err, HH_EINVAL, -1, "sql_query: the query must be 1..%d bytes", HH_AGENT_SQL_MAX);
    sqlite3 *db = NULL;
    int sr = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
    if (sr != SQLITE_OK) {
        sqlite3_close(db);
        return hh_err_set(err, HH_EIO, -1, "sql_query: the database cannot be opened");
    }
    sql_ctx_t x;
    memset(&x, 0, sizeof x);
    int rc = 0;
    sqlite3_stmt *st = NULL;
    cJSON *res = NULL;
    /* before the authorizer, which would deny this PRAGMA */
    sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, NULL);
    sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
#ifdef SQLITE_DBCONFIG_TRUSTED_SCHEMA
    sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
#endif
    sqlite3_limit(db, SQLITE_LIMIT_ATTACHED, 0);
    sqlite3_limit(db, SQLITE_LIMIT_LENGTH, SQL_VALUE_MAX);
    sqlite3_limit(db, SQLITE_LIMIT_SQL_LENGTH, HH_AGENT_SQL_MAX + 1);
    sqlite3_busy_timeout(db, 500);
    if (sqlite3_exec(db, "PRAGMA query_only=1", NULL, NULL, NULL) != SQLITE_OK) {
        rc = hh_err_set(err, HH_EIO, -1, "sql_query: the database cannot be made read-only");
        goto done;
    }
    sqlite3_set_authorizer(db, authorize, &x);
    x.deadline = mono_s() + max_s;
    sqlite3_progress_handler(db, SQL_PROGRESS_OPS, progress, &x);
    const char *tail = NULL;
    sr = sqlite3_prepare_v2(db, sql, -1, &st, &tail);
    if (sr != SQLITE_OK) {
        if (x.denied[0])
            rc = hh_err_set(err, HH_EINVAL, -1, "sql_query: not allowed: %s (read-only SELECT queries only)",
                            x.denied);
        else if (x.timed_out)
            rc = hh_err_set(err, HH_EINVAL, -1, "sql_query: the query ran longer than %g s", max_s);
        else
            rc = hh_err_set(err, HH_EINVAL, -1, "sql_query: %s", sqlite3_errmsg(db));
        goto done;
    }
    if (!st) {
        rc = hh_err_set(err, HH_EINVAL, -1, "sql_query: the text holds no statement");
        goto done;
    }
    if (*skip_tail(tail)) {
        rc = hh_err_set(err, HH_EINVAL, -1, "sql_query: one statement only (text follows the first one)");
        goto done;
    }
    if (!sqlite3_stmt_readonly(st)) {
        rc = hh_err_set(err, HH_EINVAL, -1, "sql_query: not allowed: a statement that writes");
        goto done;
    }
    res = cJSON_CreateObject();
    cJSON *cols = cJSON_AddArrayToObject(res, "columns");
    cJSON *rows = cJSON_AddArrayToObject(res, "rows");
    int nc = sqlite3_column_count(st);
    size_t bytes = 2;
    for (int i = 0; i < nc; i++) {
        const char *nm = sqlite3_column_name(st, i);
        cJSON_AddItemToArray(cols, cJSON_CreateString(nm ? nm : ""));
        bytes += (nm ? strlen(nm) : 0) + 3;
    }
    int n = 0;
    bool truncated = false;
    for (;;) {
        sr = sqlite3_step(st);
        if (sr == SQLITE_DONE)
            break;
        if (sr != SQLITE_ROW) {
            if (x.timed_out)
                rc = hh_err_set(err, HH_EINVAL, -1, "sql_query: the query ran longer than %g s", max_s);
            else
                rc = hh_err_set(err, HH_EINVAL, -1, "sql_query: %s", sqlite3_errmsg(db));
            goto done;
        }
        if (n >= max_rows) {
            truncated = true;
            break;
        }
        cJSON *row = cJSON_CreateArray();
        for (int i = 0; row && i < nc; i++) {
            cJSON *v = value_json(st, i);
            if (!v) {
                cJSON_Delete(row);
                row = NULL;
                break;
            }
            cJSON_AddItemToArray(row, v);
        }
        char *txt = row ? cJSON_PrintUnformatted(row) : NULL;
        if (!txt) {
            cJSON_Delete(row);
            rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory");
            goto done;
        }
        size_t len = strlen(txt) + 1;
        cJSON_free(txt);
        if (bytes + len > max_bytes) {
            cJSON_Delete(row);
            truncated = true;
            break;
        }
        bytes += len;
        cJSON_AddItemToArray(rows, row);
        n++;
    }
    cJSON_AddNumberToObject(res, "row_count", n);
    cJSON_AddBoolToObject(res, "truncated", truncated);
done:
    sqlite3_finalize(st);
    sqlite3_close(db);
    if (rc) {
        cJSON_Delete(res);
        return rc;
    }
    *out = res;
    return 0;
}
