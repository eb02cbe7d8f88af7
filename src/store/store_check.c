/* store_check.c - read-only checks of the database for upgrades and
 * operations: SQLite's integrity and foreign-key checks, the schema as
 * normalized text (a migrated database must read like a fresh one) and
 * row counts per table (migrations keep every record). */
#include "store/store_int.h"
#include "base/strbuf.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- text ---------------------------------------------------------------- */

/* Appends s with every run of white space as one space, none at the ends
 * (statements written over several C string pieces differ only there). */
static void tb_norm(hh_strbuf_t *b, const char *s)
{
    bool space = false, any = false;
    for (; s && *s; s++) {
        if (isspace((unsigned char)*s)) {
            space = any;
            continue;
        }
        if (space)
            hh_strbuf_add(b, " ", 1);
        hh_strbuf_add(b, s, 1);
        space = false;
        any = true;
    }
}

static int tb_finish(hh_strbuf_t *b, char **out, hh_err_t *err)
{
    if (b->oom) {
        free(b->p);
        return hh_err_set(err, HH_ENOMEM, -1, "store: out of memory");
    }
    *out = b->p;
    return 0;
}

/* ---- checks --------------------------------------------------------------- */

/* Caller holds s->mu. Appends one line per problem the pragma reports
 * (integrity_check says "ok" when clean). */
static int run_check(hh_store_t *s, const char *sql, bool fk, hh_strbuf_t *b, hh_err_t *err)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return hh_store_db_fail(s, err, sql);
    int sr;
    char line[512];
    while ((sr = sqlite3_step(st)) == SQLITE_ROW) {
        if (fk) {
            /* foreign_key_check: table, rowid, parent, fkid */
            snprintf(line, sizeof line, "foreign key: %s row %lld has no %s row\n",
                     (const char *)sqlite3_column_text(st, 0), (long long)sqlite3_column_int64(st, 1),
                     (const char *)sqlite3_column_text(st, 2));
        } else {
            const char *msg = (const char *)sqlite3_column_text(st, 0);
            if (msg && !strcmp(msg, "ok"))
                continue;
            snprintf(line, sizeof line, "integrity: %s\n", msg ? msg : "(null)");
        }
        hh_strbuf_str(b, line);
    }
    sqlite3_finalize(st);
    return sr == SQLITE_DONE ? 0 : hh_store_db_fail(s, err, sql);
}

int hh_store_check(hh_store_t *s, char **report, hh_err_t *err)
{
    *report = NULL;
    hh_strbuf_t b = { 0 };
    pthread_mutex_lock(&s->mu);
    int rc = run_check(s, "PRAGMA integrity_check", false, &b, err);
    if (!rc)
        rc = run_check(s, "PRAGMA foreign_key_check", true, &b, err);
    pthread_mutex_unlock(&s->mu);
    if (rc) {
        free(b.p);
        return rc;
    }
    return tb_finish(&b, report, err);   /* NULL when nothing was found */
}

int hh_store_schema_text(hh_store_t *s, char **out, hh_err_t *err)
{
    *out = NULL;
    hh_strbuf_t b = { 0 };
    sqlite3_stmt *st = NULL;
    pthread_mutex_lock(&s->mu);
    /* sqlite_stat* tables appear only after ANALYZE: statistics, not schema */
    int rc = 0;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT type, name, tbl_name, sql FROM sqlite_master "
                           "WHERE name NOT LIKE 'sqlite_stat%' ORDER BY type, name",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = hh_store_db_fail(s, err, "schema");
    } else {
        int sr;
        while ((sr = sqlite3_step(st)) == SQLITE_ROW) {
            for (int i = 0; i < 3; i++) {
                hh_strbuf_str(&b, (const char *)sqlite3_column_text(st, i));
                hh_strbuf_str(&b, " ");
            }
            tb_norm(&b, (const char *)sqlite3_column_text(st, 3));
            hh_strbuf_str(&b, "\n");
        }
        if (sr != SQLITE_DONE)
            rc = hh_store_db_fail(s, err, "schema");
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    if (rc) {
        free(b.p);
        return rc;
    }
    if ((rc = tb_finish(&b, out, err)))
        return rc;
    if (!*out && !(*out = strdup("")))
        return hh_err_set(err, HH_ENOMEM, -1, "store: out of memory");
    return 0;
}

/* A table name as hh_store_row_count accepts it: letters, digits, '_'. */
static bool plain_name(const char *name)
{
    if (!name || !*name || strlen(name) > 64)
        return false;
    for (const char *p = name; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_')
            return false;
    return true;
}

int hh_store_row_count(hh_store_t *s, const char *table, int64_t *n, hh_err_t *err)
{
    if (!plain_name(table))
        return hh_err_set(err, HH_EINVAL, -1, "store: bad table name");
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = NULL;
    int rc = 0;
    bool found = false;
    if (sqlite3_prepare_v2(s->db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", -1, &st, NULL) !=
        SQLITE_OK) {
        rc = hh_store_db_fail(s, err, "row count");
        goto out;
    }
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    int sr = sqlite3_step(st);
    if (sr == SQLITE_ROW)
        found = true;
    else if (sr != SQLITE_DONE)
        rc = hh_store_db_fail(s, err, "row count");
    sqlite3_finalize(st);
    st = NULL;
    if (rc)
        goto out;
    if (!found) {
        rc = hh_err_set(err, HH_ENOENT, -1, "store: no table %s", table);
        goto out;
    }
    /* A table name cannot be a bound parameter; it is an existing table
     * (looked up above) made only of letters, digits and '_', quoted. */
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM \"%s\"", table);
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW)
        rc = hh_store_db_fail(s, err, "row count");
    else
        *n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
out:
    pthread_mutex_unlock(&s->mu);
    return rc;
}
