/* sqltool.h - read-only SQL against a company's own SQLite file (the
 * sql_query agent tool, issue 16).
 *
 * Layering: all SQL on hoheit's OWN database lives in src/store. This
 * module queries EXTERNAL databases the admin configured (agent/conf.h
 * --agent-db), so it opens those files itself and never touches the store.
 *
 * Safety, each independent of the others:
 *   - the file is opened SQLITE_OPEN_READONLY (no create, no URI) and
 *     PRAGMA query_only=1 is set; defensive mode on, untrusted schema,
 *     extension loading off, no ATTACH (limit 0);
 *   - an authorizer allows only SELECT, reads, recursive CTEs, a list of
 *     side-effect-free functions and a few read-only PRAGMAs (table_info,
 *     table_xinfo, index_list, index_info, index_xinfo, foreign_key_list,
 *     table_list); everything else (writes, DDL, ATTACH, other PRAGMAs,
 *     transactions, load_extension, ...) is denied;
 *   - one statement: text after the first statement other than spaces,
 *     ';' and comments is refused; the statement must be read-only
 *     (SQLite's own read-only check of the prepared statement);
 *   - limits: rows (default 200: the rest is cut, "truncated": true), time
 *     (default 2 s, a progress handler interrupts the query), bytes of the
 *     result (default 12 KiB: rows past it are cut), 1000 bytes per text
 *     value (cut at a UTF-8 boundary), 1 MB per value inside SQLite. */
#ifndef HH_AGENT_SQLTOOL_H
#define HH_AGENT_SQLTOOL_H

#include "base/err.h"

#include <cjson/cJSON.h>
#include <stddef.h>

#define HH_AGENT_SQL_MAX 4000             /* bytes of a query */

typedef struct hh_agent_sql_limits {
    int    max_rows;       /* <= 0: 200 */
    double max_seconds;    /* <= 0: 2 */
    size_t max_bytes;      /* 0: 12 KiB (the JSON of the rows) */
} hh_agent_sql_limits_t;

/* Runs sql on the SQLite file at path under the rules above. 0 and *out
 * (caller deletes) {"columns": [names], "rows": [[values]], "row_count",
 * "truncated"}: values are numbers, strings, null, or "[blob, N bytes]".
 * HH_EINVAL with the reason in err->msg (not authorized, more than one
 * statement, syntax, the time limit, ...), HH_EIO when the file cannot be
 * opened, HH_ENOMEM. lim NULL: the defaults. */
int hh_agent_sql_query(const char *path, const char *sql, const hh_agent_sql_limits_t *lim, cJSON **out,
                       hh_err_t *err);

#endif
