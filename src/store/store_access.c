/* store_access.c - the rows a GDPR Art. 15 access copy (govern/gdpr.c,
 * hh_gdpr_export's "sections") reads about one user: their sessions (times
 * only, never the cookie hash or CSRF token), the audit rows they made
 * (with the prompt/output texts kept beside the hashed record), the
 * approvals they requested or decided, and the documents they uploaded.
 * See store.h, "GDPR access copy". */
#include "store/store_int.h"

#include <stdlib.h>
#include <string.h>

/* ---- sessions ----------------------------------------------------------- */

static void read_session(sqlite3_stmt *st, void *out)
{
    hh_store_session_times_t *t = out;
    t->created_at = sqlite3_column_int64(st, 0);
    t->expires_at = sqlite3_column_int64(st, 1);
    t->last_seen_at = sqlite3_column_int64(st, 2);
}

int hh_store_session_list_user(hh_store_t *s, int64_t user_id, hh_store_session_times_t **out, size_t *n,
                               hh_err_t *err)
{
    *out = NULL;
    *n = 0;
    hh_store_rows_t g = { .elem = sizeof(hh_store_session_times_t) };
    sqlite3_stmt *st = NULL;
    pthread_mutex_lock(&s->mu);
    int rc = hh_store_prepare(s, &st,
                              "SELECT created_at, expires_at, last_seen_at FROM sessions WHERE user_id = ? "
                              "ORDER BY created_at", err);
    if (rc == 0) {
        sqlite3_bind_int64(st, 1, user_id);
        rc = hh_store_collect_rows(s, st, &g, read_session, "list sessions", err);
    }
    return hh_store_rows_end(s, st, &g, rc, out, n);
}

/* ---- texts ---------------------------------------------------------------- */

/* A malloc'd copy of text column col, NULL for SQL NULL; *oom set when the
 * copy failed. */
static char *dup_col(sqlite3_stmt *st, int col, bool *oom)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    if (!t)
        return NULL;
    char *c = strdup((const char *)t);
    if (!c)
        *oom = true;
    return c;
}

/* ---- audit rows of a user ------------------------------------------------- */

void hh_store_audit_rows_free(hh_store_audit_row_t *rows, size_t n)
{
    for (size_t i = 0; rows && i < n; i++) {
        free(rows[i].prompt);
        free(rows[i].output);
        free(rows[i].detail);
    }
    free(rows);
}

/* The user of a row: the text kept beside the record (migration 8) or,
 * for older rows, the "user" inside it. lower() folds ASCII only: the
 * erasure's whole-name match. */
#define AUDIT_USER "lower(coalesce(user_name, json_extract(CAST(record AS TEXT), '$.user')))"

int hh_store_audit_rows_of_user(hh_store_t *s, const char *name, hh_store_audit_row_t **out, size_t *n,
                                hh_err_t *err)
{
    *out = NULL;
    *n = 0;
    if (!name || !*name)
        return hh_err_set(err, HH_EINVAL, -1, "store: no user name");
    hh_store_rows_t g = { .elem = sizeof(hh_store_audit_row_t) };
    sqlite3_stmt *st = NULL;
    bool oom = false;
    pthread_mutex_lock(&s->mu);
    int rc = hh_store_prepare(s, &st,
                              "SELECT seq, json_extract(r, '$.time_ms'), json_extract(r, '$.kind'), "
                              "json_extract(r, '$.use_case'), json_extract(r, '$.model'), "
                              "json_extract(r, '$.decision'), json_extract(r, '$.text'), prompt, output, detail, "
                              "texts_erased, erased_by IS NOT NULL "
                              "FROM (SELECT seq, CAST(record AS TEXT) AS r, prompt, output, detail, texts_erased, "
                              "erased_by, user_name, record FROM audit_log) WHERE " AUDIT_USER " = lower(?1) "
                              "ORDER BY seq", err);
    if (rc)
        goto done;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int sr;
    while (!oom && (sr = sqlite3_step(st)) == SQLITE_ROW) {
        hh_store_audit_row_t *a = hh_store_rows_next(&g);
        if (!a) {
            oom = true;
            break;
        }
        memset(a, 0, sizeof *a);
        a->seq = sqlite3_column_int64(st, 0);
        a->time_ms = sqlite3_column_int64(st, 1);
        hh_store_copy_col(a->kind, sizeof a->kind, st, 2);
        hh_store_copy_col(a->use_case, sizeof a->use_case, st, 3);
        hh_store_copy_col(a->model, sizeof a->model, st, 4);
        hh_store_copy_col(a->decision, sizeof a->decision, st, 5);
        const unsigned char *mode = sqlite3_column_text(st, 6);
        a->hash_only = mode && !strcmp((const char *)mode, "hash");
        a->prompt = dup_col(st, 7, &oom);
        a->output = dup_col(st, 8, &oom);
        a->detail = dup_col(st, 9, &oom);
        a->texts_erased = sqlite3_column_int(st, 10) != 0 || sqlite3_column_int(st, 11) != 0;
    }
    if (oom)
        rc = hh_err_set(err, HH_ENOMEM, -1, "store: out of memory");
    else if (sr != SQLITE_DONE)
        rc = hh_store_db_fail(s, err, "audit rows of a user");
done:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    if (rc) {
        hh_store_audit_rows_free(g.v, g.n);
        return rc;
    }
    *out = g.v;
    *n = g.n;
    return 0;
}

/* ---- approvals of a user -------------------------------------------------- */

void hh_store_approval_rows_free(hh_store_approval_row_t *rows, size_t n)
{
    for (size_t i = 0; rows && i < n; i++) {
        free(rows[i].request);
        free(rows[i].output);
        free(rows[i].final_text);
        free(rows[i].reason);
    }
    free(rows);
}

int hh_store_approvals_of_user(hh_store_t *s, const char *name, hh_store_approval_row_t **out, size_t *n,
                               hh_err_t *err)
{
    *out = NULL;
    *n = 0;
    if (!name || !*name)
        return hh_err_set(err, HH_EINVAL, -1, "store: no user name");
    hh_store_rows_t g = { .elem = sizeof(hh_store_approval_row_t) };
    sqlite3_stmt *st = NULL;
    bool oom = false;
    pthread_mutex_lock(&s->mu);
    int rc = hh_store_prepare(s, &st,
                              "SELECT id, use_case, status, created_at, coalesce(decided_at, 0), "
                              "lower(requester) = lower(?1), lower(coalesce(decided_by, '')) = lower(?1), "
                              "request, output, final_text, reason FROM approvals "
                              "WHERE lower(requester) = lower(?1) OR lower(coalesce(decided_by, '')) = lower(?1) "
                              "ORDER BY created_at, id", err);
    if (rc)
        goto done;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int sr;
    while (!oom && (sr = sqlite3_step(st)) == SQLITE_ROW) {
        hh_store_approval_row_t *a = hh_store_rows_next(&g);
        if (!a) {
            oom = true;
            break;
        }
        memset(a, 0, sizeof *a);
        a->id = sqlite3_column_int64(st, 0);
        hh_store_copy_col(a->use_case, sizeof a->use_case, st, 1);
        hh_store_copy_col(a->status, sizeof a->status, st, 2);
        a->created_at = sqlite3_column_int64(st, 3);
        a->decided_at = sqlite3_column_int64(st, 4);
        a->requested = sqlite3_column_int(st, 5) != 0;
        a->decided = sqlite3_column_int(st, 6) != 0;
        a->request = dup_col(st, 7, &oom);
        a->output = dup_col(st, 8, &oom);
        a->final_text = dup_col(st, 9, &oom);
        a->reason = dup_col(st, 10, &oom);
    }
    if (oom)
        rc = hh_err_set(err, HH_ENOMEM, -1, "store: out of memory");
    else if (sr != SQLITE_DONE)
        rc = hh_store_db_fail(s, err, "approvals of a user");
done:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    if (rc) {
        hh_store_approval_rows_free(g.v, g.n);
        return rc;
    }
    *out = g.v;
    *n = g.n;
    return 0;
}
