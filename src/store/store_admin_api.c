/* store_admin_api.c - what the admin HTTP API (src/http/admin.c) needs
 * beyond the CLI's store functions (store.h, "admin HTTP API"): one user's
 * keys, revoking a key only when it belongs to a given user, replacing a
 * user's departments in one transaction, when a user was last seen, and
 * setting or removing a department's right on a collection with the guard
 * that a collection manager cannot take away the last manage right. */
#include "store/store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- keys ----------------------------------------------------------------- */

#define OWN_KEY_COLS                                                                                       \
    "k.id, k.user_id, u.name, u.role, k.prefix, k.created_at, COALESCE(k.revoked_at, 0), "                 \
    "COALESCE(k.last_used_at, 0)"

static void read_key(sqlite3_stmt *st, void *out)
{
    hh_store_key_t *k = out;
    memset(k, 0, sizeof *k);
    k->id = sqlite3_column_int64(st, 0);
    k->user_id = sqlite3_column_int64(st, 1);
    hh_store_copy_col(k->user, sizeof k->user, st, 2);
    hh_store_copy_col(k->role, sizeof k->role, st, 3);
    hh_store_copy_col(k->prefix, sizeof k->prefix, st, 4);
    k->created_at = sqlite3_column_int64(st, 5);
    k->revoked_at = sqlite3_column_int64(st, 6);
    k->last_used_at = sqlite3_column_int64(st, 7);
}

int hh_store_key_list_user(hh_store_t *s, int64_t user_id, hh_store_key_t **out, size_t *n, hh_err_t *err)
{
    *out = NULL;
    *n = 0;
    hh_store_rows_t g = { .elem = sizeof(hh_store_key_t) };
    sqlite3_stmt *st = NULL;
    pthread_mutex_lock(&s->mu);
    int rc = hh_store_prepare(s, &st,
                              "SELECT " OWN_KEY_COLS " FROM api_keys k JOIN users u ON u.id = k.user_id "
                              "WHERE k.user_id = ? ORDER BY k.created_at, k.id", err);
    if (rc == 0) {
        sqlite3_bind_int64(st, 1, user_id);
        rc = hh_store_collect_rows(s, st, &g, read_key, "list keys", err);
    }
    return hh_store_rows_end(s, st, &g, rc, out, n);
}

int hh_store_key_revoke_owned(hh_store_t *s, int64_t key_id, int64_t owner_id, hh_store_key_t *out, hh_err_t *err)
{
    if (key_id <= 0 || owner_id < 0)
        return hh_err_set(err, HH_ENOENT, -1, "store: no such key");
    int rc = hh_store_tx_begin(s, err);
    if (rc)
        return rc;
    sqlite3_stmt *st = NULL;
    hh_store_key_t k;
    /* One message for "no such key", "someone else's" and "already
     * revoked": the caller answers all three alike. */
    if ((rc = hh_store_prepare(s, &st,
                               "SELECT " OWN_KEY_COLS " FROM api_keys k JOIN users u ON u.id = k.user_id "
                               "WHERE k.id = ?1 AND (?2 = 0 OR k.user_id = ?2) AND k.revoked_at IS NULL", err)))
        goto done;
    sqlite3_bind_int64(st, 1, key_id);
    sqlite3_bind_int64(st, 2, owner_id);
    int sr = sqlite3_step(st);
    if (sr == SQLITE_ROW)
        read_key(st, &k);
    sqlite3_finalize(st);
    st = NULL;
    if (sr == SQLITE_DONE) {
        rc = hh_err_set(err, HH_ENOENT, -1, "store: no such key");
        goto done;
    }
    if (sr != SQLITE_ROW) {
        rc = hh_store_db_fail(s, err, "find key");
        goto done;
    }
    if ((rc = hh_store_prepare(s, &st, "UPDATE api_keys SET revoked_at = ?2 WHERE id = ?1", err)))
        goto done;
    k.revoked_at = (int64_t)time(NULL);
    sqlite3_bind_int64(st, 1, key_id);
    sqlite3_bind_int64(st, 2, k.revoked_at);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = hh_store_db_fail(s, err, "revoke key");
    sqlite3_finalize(st);
done:
    rc = hh_store_tx_end(s, rc, err);
    if (rc == 0 && out)
        *out = k;
    return rc;
}

/* ---- users -------------------------------------------------------------- */

/* The id of department name (ignoring ASCII case) and its stored spelling
 * (spelled, HH_STORE_NAME_MAX bytes). Caller holds s->mu. */
static int dept_id_locked(hh_store_t *s, const char *name, int64_t *id, char *spelled, hh_err_t *err)
{
    sqlite3_stmt *st = NULL;
    int rc = hh_store_prepare(s, &st, "SELECT id, name FROM departments WHERE name = ? COLLATE NOCASE", err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    int sr = sqlite3_step(st);
    if (sr == SQLITE_ROW) {
        *id = sqlite3_column_int64(st, 0);
        if (spelled)
            hh_store_copy_col(spelled, HH_STORE_NAME_MAX, st, 1);
    } else if (sr == SQLITE_DONE) {
        rc = hh_err_set(err, HH_ENOENT, -1, "no department '%s'", name);
    } else {
        rc = hh_store_db_fail(s, err, "find department");
    }
    sqlite3_finalize(st);
    return rc;
}

/* Runs sql with int64s a (?1) and b (?2); no rows expected. */
static int exec2(hh_store_t *s, const char *sql, int64_t a, int64_t b, hh_err_t *err)
{
    sqlite3_stmt *st = NULL;
    int rc = hh_store_prepare(s, &st, sql, err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, a);
    sqlite3_bind_int64(st, 2, b);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = hh_store_db_fail(s, err, "change");
    sqlite3_finalize(st);
    return rc;
}

int hh_store_user_set_departments(hh_store_t *s, const char *name, const char *const *departments, size_t n,
                                  hh_err_t *err)
{
    int rc = hh_store_name_ok(name, "user", err);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++)
        if ((rc = hh_store_name_ok(departments[i], "department", err)))
            return rc;
    if ((rc = hh_store_tx_begin(s, err)))
        return rc;
    int64_t uid = 0;
    if ((rc = hh_store_id_by_name_locked(s, "SELECT id FROM users WHERE name = ?", "user", name, &uid, err)) ||
        (rc = exec2(s, "DELETE FROM user_departments WHERE user_id = ?1", uid, 0, err)))
        goto done;
    for (size_t i = 0; i < n; i++) {
        int64_t did = 0;
        if ((rc = dept_id_locked(s, departments[i], &did, NULL, err)) ||
            (rc = exec2(s, "INSERT OR IGNORE INTO user_departments (user_id, department_id) VALUES (?1, ?2)", uid,
                        did, err)))
            goto done;
    }
done:
    return hh_store_tx_end(s, rc, err);
}

int hh_store_user_last_seen(hh_store_t *s, int64_t user_id, int64_t *last_login_ms, int64_t *last_key_use,
                            hh_err_t *err)
{
    *last_login_ms = *last_key_use = 0;
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = NULL;
    int rc = hh_store_prepare(s, &st,
                              "SELECT COALESCE((SELECT MAX(created_at) FROM sessions WHERE user_id = ?1), 0), "
                              "COALESCE((SELECT MAX(last_used_at) FROM api_keys WHERE user_id = ?1), 0)", err);
    if (rc == 0) {
        sqlite3_bind_int64(st, 1, user_id);
        if (sqlite3_step(st) == SQLITE_ROW) {
            *last_login_ms = sqlite3_column_int64(st, 0);
            *last_key_use = sqlite3_column_int64(st, 1);
        } else {
            rc = hh_store_db_fail(s, err, "last seen");
        }
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* ---- collection rights ---------------------------------------------------- */

#define RIGHT_CASE "CASE access WHEN 'manage' THEN 3 WHEN 'write' THEN 2 ELSE 1 END"

int hh_store_collection_set_right(hh_store_t *s, const char *collection, const char *department, hh_right_t right,
                                  bool keep_manager, hh_right_t *before, bool *now_orphan, hh_err_t *err)
{
    if (before)
        *before = HH_RIGHT_NONE;
    if (now_orphan)
        *now_orphan = false;
    if (right < HH_RIGHT_NONE || right > HH_RIGHT_MANAGE)
        return hh_err_set(err, HH_EINVAL, -1, "store: right must be none, read, write or manage");
    int rc = hh_store_name_ok(collection, "collection", err);
    if (rc || (rc = hh_store_name_ok(department, "department", err)))
        return rc;
    if ((rc = hh_store_tx_begin(s, err)))
        return rc;
    int64_t cid = 0, did = 0, old = 0, other_managers = 0, left = 0;
    char spelled[HH_STORE_NAME_MAX];
    sqlite3_stmt *st = NULL;
    if ((rc = hh_store_id_by_name_locked(s, "SELECT id FROM collections WHERE name = ?", "collection", collection,
                                         &cid, err)) ||
        (rc = dept_id_locked(s, department, &did, spelled, err)))
        goto done;
    if ((rc = hh_store_prepare(s, &st,
                               "SELECT COALESCE((SELECT " RIGHT_CASE " FROM collection_departments "
                               "WHERE collection_id = ?1 AND department_id = ?2), 0), "
                               "(SELECT COUNT(*) FROM collection_departments WHERE collection_id = ?1 "
                               "AND department_id <> ?2 AND access = 'manage')", err)))
        goto done;
    sqlite3_bind_int64(st, 1, cid);
    sqlite3_bind_int64(st, 2, did);
    if (sqlite3_step(st) == SQLITE_ROW) {
        old = sqlite3_column_int64(st, 0);
        other_managers = sqlite3_column_int64(st, 1);
    } else {
        rc = hh_store_db_fail(s, err, "read right");
    }
    sqlite3_finalize(st);
    st = NULL;
    if (rc)
        goto done;
    if (right == HH_RIGHT_NONE && old == 0) {
        rc = hh_err_set(err, HH_ENOENT, -1, "department '%s' holds no right on collection '%s'", spelled,
                        collection);
        goto done;
    }
    /* The check and the change are in one transaction: two managers cannot
     * each take away the other's manage right at once. */
    if (keep_manager && old == HH_RIGHT_MANAGE && right != HH_RIGHT_MANAGE && other_managers == 0) {
        rc = hh_err_set(err, HH_ESTATE, -1,
                        "department '%s' holds the last manage right on collection '%s'; give another department "
                        "manage first", spelled, collection);
        goto done;
    }
    if (right == HH_RIGHT_NONE) {
        if ((rc = exec2(s, "DELETE FROM collection_departments WHERE collection_id = ?1 AND department_id = ?2", cid,
                        did, err)))
            goto done;
        if ((rc = hh_store_prepare(s, &st, "SELECT COUNT(*) FROM collection_departments WHERE collection_id = ?",
                                   err)))
            goto done;
        sqlite3_bind_int64(st, 1, cid);
        if (sqlite3_step(st) == SQLITE_ROW)
            left = sqlite3_column_int64(st, 0);
        else
            rc = hh_store_db_fail(s, err, "count owners");
        sqlite3_finalize(st);
        st = NULL;
        if (rc == 0 && now_orphan)
            *now_orphan = left == 0;
        goto done;
    }
    rc = hh_store_right_set_locked(s, cid, did, right, err);
done:
    rc = hh_store_tx_end(s, rc, err);
    if (rc == 0 && before)
        *before = (hh_right_t)old;
    return rc;
}
