/* store_admin.c - the admin lifecycle half of the SQLite store (store.h,
 * "admin lifecycle"): role changes and user deletion with the last-admin
 * guard, departments (list, rename, delete) and collection owners, and
 * what still refers to a use case. Department names are matched with
 * COLLATE NOCASE, the collation of their unique index (migration 9). */
#include "store/store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Runs sql binding int64 a to ?1 and text to ?2 (or, when text is NULL,
 * int64 b; a parameter the SQL does not name is left alone). A query
 * (row) returns its one integer result in *out; a change the number of rows
 * it changed (out may be NULL then). */
static int run(hh_store_t *s, const char *sql, int64_t a, int64_t b, const char *text, bool row, int64_t *out,
               hh_err_t *err)
{
    sqlite3_stmt *st = NULL;
    int rc = hh_store_prepare(s, &st, sql, err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, a);
    if (text)
        sqlite3_bind_text(st, 2, text, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_int64(st, 2, b);
    int sr = sqlite3_step(st);
    if (row && sr == SQLITE_ROW)
        *out = sqlite3_column_int64(st, 0);
    else if (!row && sr == SQLITE_DONE && out)
        *out = sqlite3_changes(s->db);
    else if (sr != (row ? SQLITE_ROW : SQLITE_DONE))
        rc = hh_store_db_fail(s, err, row ? "count" : "change");
    sqlite3_finalize(st);
    return rc;
}

/* The integer that sql returns, binding a to ?1 and text (may be NULL) to ?2. */
static int query_int(hh_store_t *s, const char *sql, int64_t a, const char *text, int64_t *v, hh_err_t *err)
{
    return run(s, sql, a, 0, text, true, v, err);
}

/* A change binding a to ?1 and text (may be NULL) to ?2; *changed (may be
 * NULL) the number of rows. */
static int change(hh_store_t *s, const char *sql, int64_t a, const char *text, int64_t *changed, hh_err_t *err)
{
    return run(s, sql, a, 0, text, false, changed, err);
}

/* The user's id, role and disabled flag; HH_ENOENT when unknown. */
static int user_locked(hh_store_t *s, const char *name, int64_t *id, char role[16], bool *disabled, hh_err_t *err)
{
    sqlite3_stmt *st = NULL;
    int rc = hh_store_prepare(s, &st, "SELECT id, role, disabled FROM users WHERE name = ?", err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    int sr = sqlite3_step(st);
    if (sr == SQLITE_ROW) {
        *id = sqlite3_column_int64(st, 0);
        hh_store_copy_col(role, 16, st, 1);
        *disabled = sqlite3_column_int(st, 2) != 0;
    } else if (sr == SQLITE_DONE) {
        rc = hh_err_set(err, HH_ENOENT, -1, "store: no user '%s'", name);
    } else {
        rc = hh_store_db_fail(s, err, "find user");
    }
    sqlite3_finalize(st);
    return rc;
}

/* HH_ESTATE when user id (an enabled admin) is the only enabled admin. */
static int not_last_admin(hh_store_t *s, int64_t id, const char *name, const char *doing, hh_err_t *err)
{
    int64_t others = 0;
    int rc = query_int(s, "SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled = 0 AND id <> ?1", id, NULL,
                       &others, err);
    if (rc == 0 && others == 0)
        rc = hh_err_set(err, HH_ESTATE, -1,
                        "store: '%s' is the last enabled admin; %s them would leave nobody to administer hoheit "
                        "(make another user admin first)", name, doing);
    return rc;
}

/* Starts a change of user name: checks the name, begins the transaction
 * (hh_store_tx_begin) and finds the user (*id, its role). When the change
 * takes the admin role away (leaves_admin) from an enabled admin who is the
 * last one, refuses it (doing: "demoting", "deleting"). On an error the
 * transaction is ended again; on success the caller ends it. */
static int user_change_begin(hh_store_t *s, const char *name, bool leaves_admin, const char *doing, int64_t *id,
                             char role[16], hh_err_t *err)
{
    bool disabled = false;
    int rc = hh_store_name_ok(name, "user", err);
    if (rc || (rc = hh_store_tx_begin(s, err)))
        return rc;
    if ((rc = user_locked(s, name, id, role, &disabled, err)) == 0 && leaves_admin && !strcmp(role, "admin") &&
        !disabled)
        rc = not_last_admin(s, *id, name, doing, err);
    if (rc)
        hh_store_tx_end(s, rc, err);
    return rc;
}

int hh_store_user_set_role(hh_store_t *s, const char *name, const char *role, char *old_role, hh_err_t *err)
{
    if (!hh_store_role_valid(role))
        return hh_err_set(err, HH_EINVAL, -1, "store: unknown role '%s' (admin, member, auditor, approver)",
                          role ? role : "");
    int64_t id = 0;
    char was[16] = "";
    int rc = user_change_begin(s, name, strcmp(role, "admin") != 0, "demoting", &id, was, err);
    if (rc)
        return rc;
    if ((rc = change(s, "UPDATE users SET role = ?2 WHERE id = ?1", id, role, NULL, err)) == 0)
        rc = change(s, "DELETE FROM sessions WHERE user_id = ?1", id, NULL, NULL, err);
    rc = hh_store_tx_end(s, rc, err);
    if (rc == 0 && old_role)
        snprintf(old_role, 16, "%s", was);
    return rc;
}

int hh_store_user_delete(hh_store_t *s, const char *name, hh_store_user_removal_t *out, hh_err_t *err)
{
    hh_store_user_removal_t r = { 0 };
    int64_t id = 0;
    char role[16] = "";
    int rc = user_change_begin(s, name, true, "deleting", &id, role, err);
    if (rc)
        return rc;
    if ((rc = query_int(s, "SELECT COUNT(*) FROM api_keys WHERE user_id = ?1", id, NULL, &r.keys, err)) ||
        (rc = query_int(s, "SELECT COUNT(*) FROM sessions WHERE user_id = ?1", id, NULL, &r.sessions, err)) ||
        (rc = query_int(s, "SELECT COUNT(*) FROM user_departments WHERE user_id = ?1", id, NULL, &r.departments,
                        err)) ||
        (rc = query_int(s, "SELECT COUNT(*) FROM documents WHERE ingested_by = ?1", id, NULL, &r.documents, err)) ||
        (rc = query_int(s, "SELECT COUNT(*) FROM approvals WHERE requester = ?2 OR decided_by = ?2", 0, name,
                        &r.approvals, err)) ||
        (rc = query_int(s, "SELECT COUNT(*) FROM conversations WHERE user_id = ?1", id, NULL, &r.conversations,
                        err)))
        goto done;
    /* keys, sessions, memberships, conversations: ON DELETE CASCADE; documents: SET NULL */
    rc = change(s, "DELETE FROM users WHERE id = ?1", id, NULL, NULL, err);
done:
    rc = hh_store_tx_end(s, rc, err);
    if (rc == 0 && out)
        *out = r;
    return rc;
}

/* ---- departments ------------------------------------------------------ */

#define DEPT_COLS                                                                                            \
    "SELECT d.id, d.name,"                                                                                    \
    " (SELECT COUNT(*) FROM user_departments ud WHERE ud.department_id = d.id),"                             \
    " (SELECT COUNT(*) FROM collection_departments cd WHERE cd.department_id = d.id),"                       \
    " COALESCE((SELECT group_concat(name, ',') FROM (SELECT u.name FROM user_departments ud"                  \
    "   JOIN users u ON u.id = ud.user_id WHERE ud.department_id = d.id ORDER BY u.name)), ''),"              \
    " COALESCE((SELECT group_concat(name, ',') FROM (SELECT c.name FROM collection_departments cd"           \
    "   JOIN collections c ON c.id = cd.collection_id WHERE cd.department_id = d.id ORDER BY c.name)), '')"  \
    " FROM departments d "

static void read_dept(sqlite3_stmt *st, void *out)
{
    hh_store_department_t *d = out;
    memset(d, 0, sizeof *d);
    d->id = sqlite3_column_int64(st, 0);
    hh_store_copy_col(d->name, sizeof d->name, st, 1);
    d->n_members = sqlite3_column_int64(st, 2);
    d->n_collections = sqlite3_column_int64(st, 3);
    hh_store_copy_col(d->members, sizeof d->members, st, 4);
    hh_store_copy_col(d->collections, sizeof d->collections, st, 5);
}

static int dept_get_locked(hh_store_t *s, const char *name, hh_store_department_t *out, hh_err_t *err)
{
    return hh_store_row_by_name_locked(s, DEPT_COLS "WHERE d.name = ? COLLATE NOCASE", "department", name, read_dept,
                                       out, err);
}

int hh_store_department_get(hh_store_t *s, const char *name, hh_store_department_t *out, hh_err_t *err)
{
    int rc = hh_store_name_ok(name, "department", err);
    if (rc)
        return rc;
    pthread_mutex_lock(&s->mu);
    rc = dept_get_locked(s, name, out, err);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int hh_store_department_list(hh_store_t *s, hh_store_department_t **out, size_t *n, hh_err_t *err)
{
    *out = NULL;
    *n = 0;
    hh_store_rows_t g = { .elem = sizeof(hh_store_department_t) };
    sqlite3_stmt *st = NULL;
    pthread_mutex_lock(&s->mu);
    int rc = hh_store_prepare(s, &st, DEPT_COLS "ORDER BY d.name COLLATE NOCASE", err);
    if (rc == 0)
        rc = hh_store_collect_rows(s, st, &g, read_dept, "list departments", err);
    return hh_store_rows_end(s, st, &g, rc, out, n);
}

int hh_store_department_rename(hh_store_t *s, const char *old_name, const char *new_name, hh_err_t *err)
{
    int rc = hh_store_name_ok(old_name, "department", err);
    if (rc || (rc = hh_store_name_ok(new_name, "department", err)))
        return rc;
    hh_store_department_t d, other;
    if ((rc = hh_store_tx_begin(s, err)))
        return rc;
    if ((rc = dept_get_locked(s, old_name, &d, err)))
        goto done;
    rc = dept_get_locked(s, new_name, &other, err);
    if (rc == 0 && other.id != d.id) {
        rc = hh_err_set(err, HH_EINVAL, -1, "store: a department '%s' exists (names are compared ignoring case)",
                        other.name);
        goto done;
    }
    if (rc != 0 && rc != HH_ENOENT)
        goto done;
    rc = change(s, "UPDATE departments SET name = ?2 WHERE id = ?1", d.id, new_name, NULL, err);
done:
    rc = hh_store_tx_end(s, rc, err);
    return rc;
}

/* Names of the collections that department id owns and no other does. */
static int sole_owned_locked(hh_store_t *s, int64_t dept_id, char ***names, size_t *n, hh_err_t *err)
{
    *names = NULL;
    *n = 0;
    sqlite3_stmt *st = NULL;
    int rc = hh_store_prepare(s, &st,
            "SELECT c.name FROM collections c JOIN collection_departments cd ON cd.collection_id = c.id "
            "WHERE cd.department_id = ?1 AND NOT EXISTS (SELECT 1 FROM collection_departments o "
            "WHERE o.collection_id = c.id AND o.department_id <> ?1) ORDER BY c.name",
            err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, dept_id);
    char **v = NULL;
    size_t cnt = 0;
    int sr;
    while ((sr = sqlite3_step(st)) == SQLITE_ROW) {
        char **nv = realloc(v, (cnt + 1) * sizeof *nv);
        char *name = strdup((const char *)sqlite3_column_text(st, 0));
        if (!nv || !name) {
            free(name);
            if (nv)
                v = nv;
            rc = hh_err_set(err, HH_ENOMEM, -1, "store: out of memory");
            break;
        }
        v = nv;
        v[cnt++] = name;
    }
    if (rc == 0 && sr != SQLITE_DONE)
        rc = hh_store_db_fail(s, err, "collections of department");
    sqlite3_finalize(st);
    if (rc) {
        hh_store_strings_free(v, cnt);
        return rc;
    }
    *names = v;
    *n = cnt;
    return 0;
}

int hh_store_department_delete(hh_store_t *s, const char *name, char ***orphans, size_t *n_orphans, hh_err_t *err)
{
    char **names = NULL;
    size_t n = 0;
    if (orphans) {
        *orphans = NULL;
        *n_orphans = 0;
    }
    int rc = hh_store_name_ok(name, "department", err);
    if (rc)
        return rc;
    hh_store_department_t d;
    if ((rc = hh_store_tx_begin(s, err)))
        return rc;
    if ((rc = dept_get_locked(s, name, &d, err)) || (rc = sole_owned_locked(s, d.id, &names, &n, err)))
        goto done;
    /* memberships and ownerships: ON DELETE CASCADE */
    rc = change(s, "DELETE FROM departments WHERE id = ?1", d.id, NULL, NULL, err);
done:
    rc = hh_store_tx_end(s, rc, err);
    if (rc == 0 && orphans) {
        *orphans = names;
        *n_orphans = n;
    } else {
        hh_store_strings_free(names, n);
    }
    return rc;
}

/* A change binding two int64s; *changed (may be NULL) rows changed. */
static int change2(hh_store_t *s, const char *sql, int64_t a, int64_t b, int64_t *changed, hh_err_t *err)
{
    return run(s, sql, a, b, NULL, false, changed, err);
}

static int coll_dept(hh_store_t *s, const char *collection, const char *department, bool add, bool *now_orphan,
                     hh_err_t *err)
{
    int rc = hh_store_name_ok(collection, "collection", err);
    if (rc || (rc = hh_store_name_ok(department, "department", err)))
        return rc;
    int64_t cid = 0, changed = 0, left = 0;
    hh_store_department_t d;
    pthread_mutex_lock(&s->mu);
    if ((rc = hh_store_id_by_name_locked(s, "SELECT id FROM collections WHERE name = ?", "collection", collection,
                                               &cid, err)) || (rc = dept_get_locked(s, department, &d, err)))
        goto done;
    if (add) {
        rc = change2(s, "INSERT OR IGNORE INTO collection_departments (collection_id, department_id) VALUES (?1, ?2)",
                     cid, d.id, NULL, err);
        goto done;
    }
    if ((rc = change2(s, "DELETE FROM collection_departments WHERE collection_id = ?1 AND department_id = ?2", cid,
                      d.id, &changed, err)))
        goto done;
    if (changed == 0) {
        rc = hh_err_set(err, HH_ENOENT, -1, "store: department '%s' does not own collection '%s'", d.name,
                        collection);
        goto done;
    }
    if ((rc = query_int(s, "SELECT COUNT(*) FROM collection_departments WHERE collection_id = ?1", cid, NULL, &left,
                        err)))
        goto done;
    if (now_orphan)
        *now_orphan = left == 0;
done:
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int hh_store_collection_add_department(hh_store_t *s, const char *collection, const char *department,
                                       hh_err_t *err)
{
    return coll_dept(s, collection, department, true, NULL, err);
}

int hh_store_collection_remove_department(hh_store_t *s, const char *collection, const char *department,
                                          bool *now_orphan, hh_err_t *err)
{
    return coll_dept(s, collection, department, false, now_orphan, err);
}

int hh_store_right_set_locked(hh_store_t *s, int64_t collection_id, int64_t department_id, hh_right_t right,
                              hh_err_t *err)
{
    sqlite3_stmt *st = NULL;
    int rc = hh_store_prepare(s, &st,
                              "INSERT INTO collection_departments (collection_id, department_id, access) "
                              "VALUES (?1, ?2, ?3) ON CONFLICT (collection_id, department_id) "
                              "DO UPDATE SET access = excluded.access", err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, collection_id);
    sqlite3_bind_int64(st, 2, department_id);
    sqlite3_bind_text(st, 3, hh_right_name(right), -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = hh_store_db_fail(s, err, "set a collection right");
    sqlite3_finalize(st);
    return rc;
}

int hh_store_collection_grant(hh_store_t *s, const char *collection, const char *department, hh_right_t right,
                              hh_right_t *before, hh_err_t *err)
{
    if (before)
        *before = HH_RIGHT_NONE;
    if (right < HH_RIGHT_READ || right > HH_RIGHT_MANAGE)
        return hh_err_set(err, HH_EINVAL, -1, "store: right must be read, write or manage");
    int rc = hh_store_name_ok(collection, "collection", err);
    if (rc || (rc = hh_store_name_ok(department, "department", err)))
        return rc;
    int64_t cid = 0, old = 0;
    hh_store_department_t d;
    if ((rc = hh_store_tx_begin(s, err)))
        return rc;
    if ((rc = hh_store_id_by_name_locked(s, "SELECT id FROM collections WHERE name = ?", "collection", collection,
                                         &cid, err)) || (rc = dept_get_locked(s, department, &d, err)))
        goto done;
    if ((rc = run(s, "SELECT COALESCE((SELECT CASE access WHEN 'manage' THEN 3 WHEN 'write' THEN 2 ELSE 1 END "
                     "FROM collection_departments WHERE collection_id = ?1 AND department_id = ?2), 0)",
                  cid, d.id, NULL, true, &old, err)))
        goto done;
    rc = hh_store_right_set_locked(s, cid, d.id, right, err);
done:
    rc = hh_store_tx_end(s, rc, err);
    if (rc == 0 && before)
        *before = (hh_right_t)old;
    return rc;
}

/* ---- use cases -------------------------------------------------------- */

int hh_store_usecase_references(hh_store_t *s, const char *slug, int64_t *n_audit, int64_t *n_approvals,
                                hh_err_t *err)
{
    *n_audit = *n_approvals = 0;
    if (!slug || !slug[0])
        return hh_err_set(err, HH_EINVAL, -1, "store: no use case named");
    pthread_mutex_lock(&s->mu);
    /* record is canonical JSON stored as a BLOB: read it as text (a BLOB
     * would be taken for JSONB by newer SQLite). A full scan: an admin
     * command, not a request path. */
    int rc = query_int(s, "SELECT COUNT(*) FROM audit_log WHERE "
                          "json_extract(CAST(record AS TEXT), '$.use_case') = ?2",
                       0, slug, n_audit, err);
    if (rc == 0)
        rc = query_int(s, "SELECT COUNT(*) FROM approvals WHERE use_case = ?2", 0, slug, n_approvals,
                       err);
    pthread_mutex_unlock(&s->mu);
    return rc;
}
