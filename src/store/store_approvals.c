/* store_approvals.c - the rows of the human-approval queue (store.h,
 * "approvals"; table approvals, migration 5). Policy - who may decide,
 * four-eyes, the audit record of a decision - is govern/approvals.c's;
 * here are only the statements: insert with a random id, read one or a
 * list, and the decision as one conditional UPDATE, so two deciders
 * racing for one request cannot both win. */
#include "store/store_int.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SELECT_COLS                                                                                               \
    "SELECT id, use_case, hr, requester, request, output, created_at, status, decided_by, decided_at, reason, "  \
    "final_text FROM approvals "

void hh_store_approval_clear(hh_store_approval_t *a)
{
    if (!a)
        return;
    free(a->request);
    free(a->output);
    free(a->reason);
    free(a->final_text);
    memset(a, 0, sizeof *a);
}

static char *col_dup(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? strdup((const char *)t) : NULL;
}

/* One row of SELECT_COLS into *a. false on no memory (a is cleared). */
static bool row_read(sqlite3_stmt *st, hh_store_approval_t *a)
{
    memset(a, 0, sizeof *a);
    a->id = sqlite3_column_int64(st, 0);
    hh_store_copy_col(a->use_case, sizeof a->use_case, st, 1);
    a->hr = sqlite3_column_int(st, 2) != 0;
    hh_store_copy_col(a->requester, sizeof a->requester, st, 3);
    a->request = col_dup(st, 4);
    a->output = col_dup(st, 5);
    a->created_at = sqlite3_column_int64(st, 6);
    hh_store_copy_col(a->status, sizeof a->status, st, 7);
    hh_store_copy_col(a->decided_by, sizeof a->decided_by, st, 8);
    a->decided_at = sqlite3_column_int64(st, 9);
    a->reason = col_dup(st, 10);
    a->final_text = col_dup(st, 11);
    bool ok = a->request && a->output && (sqlite3_column_type(st, 10) == SQLITE_NULL || a->reason) &&
              (sqlite3_column_type(st, 11) == SQLITE_NULL || a->final_text);
    if (!ok)
        hh_store_approval_clear(a);
    return ok;
}

int hh_store_approval_insert(hh_store_t *s, const hh_store_approval_t *a, int64_t *id_out, hh_err_t *err)
{
    if (!s || !a || !a->request)
        return hh_err_set(err, HH_EINVAL, -1, "store: approval without a request");
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = NULL;
    int rc = hh_store_prepare(s, &st,
                              "INSERT INTO approvals (use_case, hr, requester, request, output, created_at, status, id) "
                              "VALUES (?, ?, ?, ?, ?, ?, 'pending', ?)",
                              err);
    if (rc)
        goto cleanup;
    sqlite3_bind_text(st, 1, a->use_case, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, a->hr ? 1 : 0);
    sqlite3_bind_text(st, 3, a->requester, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, a->request, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, a->output ? a->output : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, a->created_at);
    /* a random id: a counter would tell a requester how many requests
     * other departments had held in between (store_int.h) */
    int64_t id = 0;
    if ((rc = hh_store_insert_new_id(s, st, 7, "approvals: insert", &id, err)))
        goto cleanup;
    if (id_out)
        *id_out = id;
cleanup:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int hh_store_approval_get(hh_store_t *s, int64_t id, hh_store_approval_t *out, hh_err_t *err)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = NULL;
    int rc = hh_store_prepare(s, &st, SELECT_COLS "WHERE id = ?", err);
    if (rc)
        goto cleanup;
    sqlite3_bind_int64(st, 1, id);
    int step = sqlite3_step(st);
    if (step == SQLITE_DONE)
        rc = hh_err_set(err, HH_ENOENT, -1, "approval %lld not found", (long long)id);
    else if (step != SQLITE_ROW)
        rc = hh_store_db_fail(s, err, "approvals: get");
    else if (!row_read(st, out))
        rc = hh_err_set(err, HH_ENOMEM, -1, "approvals: out of memory");
cleanup:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int hh_store_approval_list(hh_store_t *s, bool pending_only, hh_store_approval_t **out, size_t *n, hh_err_t *err)
{
    *out = NULL;
    *n = 0;
    hh_store_approval_t *arr = NULL;
    size_t len = 0, cap = 0;
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = NULL;
    const char *sql = pending_only ? SELECT_COLS "WHERE status = 'pending' ORDER BY created_at, id"
                                   : SELECT_COLS "ORDER BY created_at, id";
    int rc = hh_store_prepare(s, &st, sql, err);
    if (rc)
        goto cleanup;
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (len == cap) {
            size_t nc = cap ? cap * 2 : 16;
            hh_store_approval_t *na = realloc(arr, nc * sizeof *na);
            if (!na) {
                rc = hh_err_set(err, HH_ENOMEM, -1, "approvals: out of memory");
                goto cleanup;
            }
            arr = na;
            cap = nc;
        }
        if (!row_read(st, &arr[len])) {
            rc = hh_err_set(err, HH_ENOMEM, -1, "approvals: out of memory");
            goto cleanup;
        }
        len++;
    }
    if (step != SQLITE_DONE)
        rc = hh_store_db_fail(s, err, "approvals: list");
cleanup:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    if (rc) {
        for (size_t i = 0; i < len; i++)
            hh_store_approval_clear(&arr[i]);
        free(arr);
        return rc;
    }
    *out = arr;
    *n = len;
    return 0;
}

/* The decision's UPDATE: set (undo false) or back to pending (undo true). */
static int write_decision(hh_store_t *s, const hh_store_approval_t *a, bool undo, hh_err_t *err)
{
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = NULL;
    const char *sql = undo ? "UPDATE approvals SET status = 'pending', decided_by = NULL, decided_at = NULL, "
                             "reason = NULL, final_text = NULL WHERE id = ?6 AND status = ?1"
                           : "UPDATE approvals SET status = ?1, decided_by = ?2, decided_at = ?3, reason = ?4, "
                             "final_text = ?5 WHERE id = ?6 AND status = 'pending'";
    int rc = hh_store_prepare(s, &st, sql, err);
    if (rc)
        goto cleanup;
    sqlite3_bind_text(st, 1, a->status, -1, SQLITE_STATIC);
    if (!undo) {
        sqlite3_bind_text(st, 2, a->decided_by, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, a->decided_at);
        if (a->reason)
            sqlite3_bind_text(st, 4, a->reason, -1, SQLITE_STATIC);
        if (a->final_text)
            sqlite3_bind_text(st, 5, a->final_text, -1, SQLITE_STATIC);
    }
    sqlite3_bind_int64(st, 6, a->id);
    if (sqlite3_step(st) != SQLITE_DONE) {
        rc = hh_store_db_fail(s, err, "approvals: decide");
        goto cleanup;
    }
    if (!undo && sqlite3_changes(s->db) == 0)
        rc = hh_err_set(err, HH_ESTATE, -1, "approval %lld was decided meanwhile", (long long)a->id);
cleanup:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int hh_store_approval_decide(hh_store_t *s, const hh_store_approval_t *a, hh_err_t *err)
{
    if (!s || !a || !a->status[0] || !strcmp(a->status, "pending"))
        return hh_err_set(err, HH_EINVAL, -1, "store: a decision needs a status other than pending");
    return write_decision(s, a, false, err);
}

int hh_store_approval_undecide(hh_store_t *s, const hh_store_approval_t *a, hh_err_t *err)
{
    if (!s || !a || !a->status[0])
        return hh_err_set(err, HH_EINVAL, -1, "store: undo needs the decided status");
    return write_decision(s, a, true, err);
}
