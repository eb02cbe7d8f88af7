/* store_register.c - the use-case register's rows (store.h, "use-case
 * register"): use cases with their JSON document, their change history,
 * and the default use case of keys and users (tables of migration 4). The
 * register's policy (questionnaire, classification, validation) is
 * govern/register.c; this file only reads and writes. */
#include "store/store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define UC_COLS "SELECT id, slug, doc, created_at, updated_at FROM usecases "

void hh_store_usecase_row_clear(hh_store_usecase_row_t *r)
{
    if (!r)
        return;
    free(r->doc);
    memset(r, 0, sizeof *r);
}

void hh_store_usecase_rows_free(hh_store_usecase_row_t *rows, size_t n)
{
    for (size_t i = 0; rows && i < n; i++)
        hh_store_usecase_row_clear(&rows[i]);
    free(rows);
}

void hh_store_usecase_events_free(hh_store_usecase_event_t *ev, size_t n)
{
    for (size_t i = 0; ev && i < n; i++) {
        free(ev[i].actor);
        free(ev[i].action);
        free(ev[i].detail);
    }
    free(ev);
}

static char *dup_col(sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    return strdup(t ? (const char *)t : "");
}

/* The row st points at (UC_COLS order). */
static int read_row(sqlite3_stmt *st, hh_store_usecase_row_t *r, hh_err_t *err)
{
    memset(r, 0, sizeof *r);
    r->id = sqlite3_column_int64(st, 0);
    const unsigned char *slug = sqlite3_column_text(st, 1);
    snprintf(r->slug, sizeof r->slug, "%s", slug ? (const char *)slug : "");
    r->doc = dup_col(st, 2);
    r->created_at = sqlite3_column_int64(st, 3);
    r->updated_at = sqlite3_column_int64(st, 4);
    return r->doc ? 0 : hh_err_set(err, HH_ENOMEM, -1, "out of memory");
}

/* Finds a use case by a decimal id or a slug; caller holds s->mu. */
static int get_locked(hh_store_t *s, const char *key, hh_store_usecase_row_t *out, hh_err_t *err)
{
    char *end = NULL;
    long long id = strtoll(key, &end, 10);
    bool numeric = key[0] && *end == '\0';
    sqlite3_stmt *st = NULL;
    int rc = hh_store_prepare(s, &st, numeric ? UC_COLS "WHERE id = ?" : UC_COLS "WHERE slug = ?", err);
    if (rc)
        return rc;
    if (numeric)
        sqlite3_bind_int64(st, 1, id);
    else
        sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
    int sr = sqlite3_step(st);
    if (sr == SQLITE_ROW)
        rc = read_row(st, out, err);
    else if (sr == SQLITE_DONE)
        rc = hh_err_set(err, HH_ENOENT, -1, "unknown use case '%s'", key);
    else
        rc = hh_store_db_fail(s, err, "usecases");
    sqlite3_finalize(st);
    return rc;
}

int hh_store_usecase_get(hh_store_t *s, const char *key, hh_store_usecase_row_t *out, hh_err_t *err)
{
    memset(out, 0, sizeof *out);
    if (!key || !key[0])
        return hh_err_set(err, HH_EINVAL, -1, "no use case named");
    pthread_mutex_lock(&s->mu);
    int rc = get_locked(s, key, out, err);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int hh_store_usecase_list(hh_store_t *s, hh_store_usecase_row_t **out, size_t *n, hh_err_t *err)
{
    *out = NULL;
    *n = 0;
    hh_store_usecase_row_t *arr = NULL;
    size_t cnt = 0, cap = 0;
    sqlite3_stmt *st = NULL;
    pthread_mutex_lock(&s->mu);
    int rc = hh_store_prepare(s, &st, UC_COLS "ORDER BY slug", err);
    int sr = SQLITE_DONE;
    while (rc == 0 && (sr = sqlite3_step(st)) == SQLITE_ROW) {
        if (cnt == cap) {
            size_t nc = cap ? cap * 2 : 8;
            hh_store_usecase_row_t *na = realloc(arr, nc * sizeof *na);
            if (!na) {
                rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory");
                break;
            }
            arr = na;
            cap = nc;
        }
        if ((rc = read_row(st, &arr[cnt], err)) == 0)
            cnt++;
    }
    if (rc == 0 && sr != SQLITE_DONE)
        rc = hh_store_db_fail(s, err, "usecases");
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    if (rc) {
        hh_store_usecase_rows_free(arr, cnt);
        return rc;
    }
    *out = arr;
    *n = cnt;
    return 0;
}

/* Appends a history row; caller holds s->mu and the transaction. */
static int history_add(hh_store_t *s, int64_t id, const char *slug, int64_t at, const char *actor,
                       const char *action, const char *detail, hh_err_t *err)
{
    sqlite3_stmt *st = NULL;
    int rc = hh_store_prepare(s, &st,
                              "INSERT INTO usecase_history (usecase_id, slug, at, actor, action, detail) "
                              "VALUES (?, ?, ?, ?, ?, ?)",
                              err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, slug, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 3, at);
    sqlite3_bind_text(st, 4, actor && actor[0] ? actor : "unknown", -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 5, action, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 6, detail && detail[0] ? detail : "{}", -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = hh_store_db_fail(s, err, "usecase_history");
    sqlite3_finalize(st);
    return rc;
}

/* The update half of hh_store_usecase_write; caller holds the transaction. */
static int update_locked(hh_store_t *s, const hh_store_usecase_write_t *w, int64_t now, hh_err_t *err)
{
    sqlite3_stmt *st = NULL;
    int rc = hh_store_prepare(s, &st,
                              "UPDATE usecases SET doc = ?1, risk_class = ?2, updated_at = ?3 "
                              "WHERE id = ?4 AND CAST(doc AS TEXT) = ?5",
                              err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, w->doc, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, w->risk_class, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 3, now);
    sqlite3_bind_int64(st, 4, w->id);
    sqlite3_bind_text(st, 5, w->expect_doc ? w->expect_doc : "", -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = hh_store_db_fail(s, err, "usecases");
    else if (sqlite3_changes(s->db) == 0)
        rc = hh_err_set(err, HH_ESTATE, -1, "use case '%s' changed meanwhile", w->slug);
    sqlite3_finalize(st);
    return rc;
}

/* The insert half; *id receives the new random id. */
static int insert_locked(hh_store_t *s, const hh_store_usecase_write_t *w, int64_t now, int64_t *id, hh_err_t *err)
{
    sqlite3_stmt *st = NULL;
    int rc = hh_store_prepare(s, &st,
                              "INSERT INTO usecases (slug, risk_class, doc, created_at, updated_at, id) "
                              "VALUES (?, ?, ?, ?, ?, ?)",
                              err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, w->slug, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, w->risk_class, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, w->doc, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 4, now);
    sqlite3_bind_int64(st, 5, now);
    /* a random id: members see the ids of their use cases, and a counter
     * would count the use cases of other departments */
    if (hh_store_insert_new_id(s, st, 6, "usecases", id, err)) {
        rc = sqlite3_errcode(s->db) == SQLITE_CONSTRAINT
                 ? hh_err_set(err, HH_EINVAL, -1, "a use case with slug '%s' exists", w->slug)
                 : HH_EIO;
    }
    sqlite3_finalize(st);
    return rc;
}

int hh_store_usecase_write(hh_store_t *s, const hh_store_usecase_write_t *w, int64_t *id, int64_t *at,
                           hh_err_t *err)
{
    if (!w->slug || !w->slug[0] || !w->doc || !w->risk_class)
        return hh_err_set(err, HH_EINVAL, -1, "store: use case without slug, document or risk class");
    int64_t now = (int64_t)time(NULL), nid = w->id;
    pthread_mutex_lock(&s->mu);
    int rc = hh_store_exec(s, "BEGIN IMMEDIATE", err);
    if (rc == 0) {
        rc = w->id ? update_locked(s, w, now, err) : insert_locked(s, w, now, &nid, err);
        if (rc == 0)
            rc = history_add(s, nid, w->slug, now, w->actor, w->id ? "update" : "create", w->detail, err);
        if (rc == 0)
            rc = hh_store_exec(s, "COMMIT", err);
        if (rc)
            sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    }
    pthread_mutex_unlock(&s->mu);
    if (rc == 0) {
        if (id)
            *id = nid;
        if (at)
            *at = now;
    }
    return rc;
}

int hh_store_usecase_delete(hh_store_t *s, int64_t id, const char *slug, const char *actor, const char *detail,
                            hh_err_t *err)
{
    static const char *const sqls[] = {
        "DELETE FROM usecases WHERE id = ?1 AND slug = ?2",
        "UPDATE api_keys SET default_use_case = NULL WHERE default_use_case = ?2",
        "UPDATE users SET default_use_case = NULL WHERE default_use_case = ?2",
    };
    if (!slug || !slug[0])
        return hh_err_set(err, HH_EINVAL, -1, "no use case named");
    pthread_mutex_lock(&s->mu);
    int rc = hh_store_exec(s, "BEGIN IMMEDIATE", err);
    for (size_t i = 0; rc == 0 && i < sizeof sqls / sizeof sqls[0]; i++) {
        sqlite3_stmt *st = NULL;
        if ((rc = hh_store_prepare(s, &st, sqls[i], err)))
            break;
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_text(st, 2, slug, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = hh_store_db_fail(s, err, "usecases");
        else if (i == 0 && sqlite3_changes(s->db) == 0)
            rc = hh_err_set(err, HH_ENOENT, -1, "unknown use case '%s'", slug);
        sqlite3_finalize(st);
    }
    if (rc == 0)
        rc = history_add(s, id, slug, (int64_t)time(NULL), actor, "delete", detail, err);
    if (rc == 0)
        rc = hh_store_exec(s, "COMMIT", err);
    else
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int hh_store_usecase_history(hh_store_t *s, int64_t id, hh_store_usecase_event_t **out, size_t *n, hh_err_t *err)
{
    *out = NULL;
    *n = 0;
    hh_store_usecase_event_t *arr = NULL;
    size_t cnt = 0, cap = 0;
    sqlite3_stmt *st = NULL;
    pthread_mutex_lock(&s->mu);
    int rc = hh_store_prepare(s, &st,
                              "SELECT at, actor, action, detail FROM usecase_history WHERE usecase_id = ? ORDER BY id",
                              err);
    int sr = SQLITE_DONE;
    if (rc == 0)
        sqlite3_bind_int64(st, 1, id);
    while (rc == 0 && (sr = sqlite3_step(st)) == SQLITE_ROW) {
        if (cnt == cap) {
            size_t nc = cap ? cap * 2 : 8;
            hh_store_usecase_event_t *na = realloc(arr, nc * sizeof *na);
            if (!na) {
                rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory");
                break;
            }
            arr = na;
            cap = nc;
        }
        hh_store_usecase_event_t *e = &arr[cnt++];
        e->at = sqlite3_column_int64(st, 0);
        e->actor = dup_col(st, 1);
        e->action = dup_col(st, 2);
        e->detail = dup_col(st, 3);
        if (!e->actor || !e->action || !e->detail)
            rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory");
    }
    if (rc == 0 && sr != SQLITE_DONE)
        rc = hh_store_db_fail(s, err, "usecase_history");
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    if (rc) {
        hh_store_usecase_events_free(arr, cnt);
        return rc;
    }
    *out = arr;
    *n = cnt;
    return 0;
}

int hh_store_user_in_department(hh_store_t *s, int64_t user_id, const char *const *names, size_t n, bool *ok,
                                hh_err_t *err)
{
    *ok = false;
    sqlite3_stmt *st = NULL;
    pthread_mutex_lock(&s->mu);
    int rc = hh_store_prepare(s, &st,
                              "SELECT d.name FROM user_departments ud JOIN departments d ON d.id = ud.department_id "
                              "JOIN users u ON u.id = ud.user_id WHERE ud.user_id = ? AND u.disabled = 0",
                              err);
    int sr = SQLITE_DONE;
    if (rc == 0)
        sqlite3_bind_int64(st, 1, user_id);
    while (rc == 0 && !*ok && (sr = sqlite3_step(st)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        for (size_t i = 0; name && i < n && !*ok; i++)
            *ok = names[i] && !strcasecmp(names[i], name);   /* like departments.name NOCASE */
    }
    if (rc == 0 && !*ok && sr != SQLITE_DONE)
        rc = hh_store_db_fail(s, err, "user departments");
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int hh_store_owner_id(hh_store_t *s, int64_t key_id, const char *user, int64_t *user_id, hh_err_t *err)
{
    *user_id = 0;
    sqlite3_stmt *st = NULL;
    pthread_mutex_lock(&s->mu);
    int rc = hh_store_prepare(s, &st, user ? "SELECT id FROM users WHERE name = ?" :
                                             "SELECT user_id FROM api_keys WHERE id = ?", err);
    if (rc == 0) {
        if (user)
            sqlite3_bind_text(st, 1, user, -1, SQLITE_TRANSIENT);
        else
            sqlite3_bind_int64(st, 1, key_id);
        int sr = sqlite3_step(st);
        if (sr == SQLITE_ROW)
            *user_id = sqlite3_column_int64(st, 0);
        else if (sr == SQLITE_DONE)
            rc = hh_err_set(err, HH_ENOENT, -1, "unknown %s", user ? "user" : "key");
        else
            rc = hh_store_db_fail(s, err, "default use case");
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int hh_store_default_usecase_set(hh_store_t *s, int64_t key_id, const char *user, const char *slug, hh_err_t *err)
{
    sqlite3_stmt *st = NULL;
    pthread_mutex_lock(&s->mu);
    int rc = hh_store_prepare(s, &st, user ? "UPDATE users SET default_use_case = ? WHERE name = ?" :
                                             "UPDATE api_keys SET default_use_case = ? WHERE id = ?", err);
    if (rc == 0) {
        if (slug)
            sqlite3_bind_text(st, 1, slug, -1, SQLITE_TRANSIENT);
        else
            sqlite3_bind_null(st, 1);
        if (user)
            sqlite3_bind_text(st, 2, user, -1, SQLITE_TRANSIENT);
        else
            sqlite3_bind_int64(st, 2, key_id);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = hh_store_db_fail(s, err, "default use case");
        else if (sqlite3_changes(s->db) == 0)
            rc = hh_err_set(err, HH_ENOENT, -1, "unknown %s", user ? "user" : "key");
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int hh_store_default_usecase(hh_store_t *s, int64_t key_id, int64_t user_id, char *slug, size_t cap, hh_err_t *err)
{
    if (cap)
        slug[0] = '\0';
    sqlite3_stmt *st = NULL;
    pthread_mutex_lock(&s->mu);
    int rc = hh_store_prepare(s, &st,
                              "SELECT COALESCE((SELECT default_use_case FROM api_keys WHERE id = ?1),"
                              "                (SELECT default_use_case FROM users WHERE id = ?2))",
                              err);
    if (rc == 0) {
        sqlite3_bind_int64(st, 1, key_id);
        sqlite3_bind_int64(st, 2, user_id);
        int sr = sqlite3_step(st);
        if (sr == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_TEXT)
            snprintf(slug, cap, "%s", (const char *)sqlite3_column_text(st, 0));
        else if (sr != SQLITE_ROW)
            rc = hh_store_db_fail(s, err, "default use case");
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    return rc;
}
