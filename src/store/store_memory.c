/* store_memory.c - per-user agent memory (migration 16; contracts in
 * store.h "agent memory"). Every statement names the owner, so another
 * user's fact is never found, changed or deleted. */
#include "store/store_int.h"
#include "base/log.h"

#include <stdlib.h>
#include <string.h>

static int text_ok(const char *text, hh_err_t *err)
{
    size_t n = text ? strlen(text) : 0;
    if (n == 0 || n > HH_MEMORY_TEXT_MAX)
        return hh_err_set(err, HH_EINVAL, -1, "a memory holds 1..%d bytes of text", HH_MEMORY_TEXT_MAX);
    return 0;
}

static int count_locked(hh_store_t *s, const char *sql, int64_t user_id, int64_t *n, hh_err_t *err)
{
    sqlite3_stmt *st = NULL;
    int rc = hh_store_prepare(s, &st, sql, err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, user_id);
    int sr = sqlite3_step(st);
    if (sr == SQLITE_ROW)
        *n = sqlite3_column_int64(st, 0);
    else
        rc = hh_store_db_fail(s, err, "count memories");
    sqlite3_finalize(st);
    return rc;
}

int hh_store_memory_add(hh_store_t *s, int64_t user_id, const char *text, int64_t *id, hh_err_t *err)
{
    int rc = text_ok(text, err);
    if (rc)
        return rc;
    if ((rc = hh_store_tx_begin(s, err)))
        return rc;
    int64_t users = 0, n = 0;
    if (!(rc = count_locked(s, "SELECT COUNT(*) FROM users WHERE id = ?1", user_id, &users, err)) && users == 0)
        rc = hh_err_set(err, HH_ENOENT, -1, "store: no user %lld", (long long)user_id);
    if (!rc && !(rc = count_locked(s, "SELECT COUNT(*) FROM agent_memory WHERE user_id = ?1", user_id, &n, err)) &&
        n >= HH_MEMORY_MAX_PER_USER)
        rc = hh_err_set(err, HH_EFULL, -1, "a user keeps at most %d memories; delete old ones first",
                        HH_MEMORY_MAX_PER_USER);
    sqlite3_stmt *st = NULL;
    if (!rc && !(rc = hh_store_prepare(s, &st, "INSERT INTO agent_memory (user_id, text, created_at, updated_at, id)"
                                                 " VALUES (?1, ?2, ?3, ?3, ?4)", err))) {
        sqlite3_bind_int64(st, 1, user_id);
        sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, hh_log_now_ms());
        int64_t nid = 0;
        rc = hh_store_insert_new_id(s, st, 4, "store memory", &nid, err);
        if (!rc && id)
            *id = nid;
    }
    sqlite3_finalize(st);
    return hh_store_tx_end(s, rc, err);
}

/* One UPDATE or DELETE of user_id's fact id; HH_ENOENT when none changed. */
static int change_one(hh_store_t *s, const char *sql, int64_t user_id, int64_t id, const char *text,
                      const char *what, hh_err_t *err)
{
    sqlite3_stmt *st = NULL;
    pthread_mutex_lock(&s->mu);
    int rc = hh_store_prepare(s, &st, sql, err);
    if (!rc) {
        sqlite3_bind_int64(st, 1, user_id);
        sqlite3_bind_int64(st, 2, id);
        if (text) {
            sqlite3_bind_text(st, 3, text, -1, SQLITE_STATIC);
            sqlite3_bind_int64(st, 4, hh_log_now_ms());
        }
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = hh_store_db_fail(s, err, what);
        else if (sqlite3_changes(s->db) == 0)
            rc = hh_err_set(err, HH_ENOENT, -1, "no memory %lld", (long long)id);
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int hh_store_memory_update(hh_store_t *s, int64_t user_id, int64_t id, const char *text, hh_err_t *err)
{
    int rc = text_ok(text, err);
    if (rc)
        return rc;
    return change_one(s, "UPDATE agent_memory SET text = ?3, updated_at = ?4 WHERE user_id = ?1 AND id = ?2",
                      user_id, id, text, "update memory", err);
}

int hh_store_memory_delete(hh_store_t *s, int64_t user_id, int64_t id, hh_err_t *err)
{
    return change_one(s, "DELETE FROM agent_memory WHERE user_id = ?1 AND id = ?2", user_id, id, NULL,
                      "delete memory", err);
}

void hh_store_memory_clear(hh_store_memory_t *m)
{
    if (!m)
        return;
    free(m->text);
    memset(m, 0, sizeof *m);
}

void hh_store_memory_list_free(hh_store_memory_t *m, size_t n)
{
    for (size_t i = 0; m && i < n; i++)
        free(m[i].text);
    free(m);
}

#define MEM_COLS "id, user_id, text, created_at, updated_at"

static void read_memory(sqlite3_stmt *st, void *out)
{
    hh_store_memory_t *m = out;
    memset(m, 0, sizeof *m);
    m->id = sqlite3_column_int64(st, 0);
    m->user_id = sqlite3_column_int64(st, 1);
    const unsigned char *t = sqlite3_column_text(st, 2);
    m->text = strdup(t ? (const char *)t : "");
    m->created_at = sqlite3_column_int64(st, 3);
    m->updated_at = sqlite3_column_int64(st, 4);
}

/* Runs st (bound by the caller, s->mu held) into *out; releases s->mu. */
static int collect(hh_store_t *s, sqlite3_stmt *st, int rc, hh_store_memory_t **out, size_t *n, hh_err_t *err)
{
    hh_store_rows_t g = { .elem = sizeof(hh_store_memory_t) };
    if (!rc)
        rc = hh_store_collect_rows(s, st, &g, read_memory, "list memories", err);
    hh_store_memory_t *v = g.v;
    for (size_t i = 0; !rc && i < g.n; i++)
        if (!v[i].text)
            rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory");
    if (rc)
        for (size_t i = 0; i < g.n; i++)
            free(v[i].text);
    return hh_store_rows_end(s, st, &g, rc, out, n);
}

int hh_store_memory_list(hh_store_t *s, int64_t user_id, const char *query, size_t limit, hh_store_memory_t **out,
                         size_t *n, hh_err_t *err)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st = NULL;
    pthread_mutex_lock(&s->mu);
    int rc = hh_store_prepare(s, &st,
                              "SELECT " MEM_COLS " FROM agent_memory WHERE user_id = ?1 AND (?2 IS NULL OR "
                              "instr(lower(text), lower(?2)) > 0) ORDER BY updated_at DESC, id LIMIT ?3",
                              err);
    if (!rc) {
        sqlite3_bind_int64(st, 1, user_id);
        if (query && query[0])
            sqlite3_bind_text(st, 2, query, -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(st, 2);
        sqlite3_bind_int64(st, 3, limit ? (int64_t)limit : -1);
    }
    return collect(s, st, rc, out, n, err);
}

int hh_store_memory_get(hh_store_t *s, int64_t user_id, int64_t id, hh_store_memory_t *out, hh_err_t *err)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = NULL;
    pthread_mutex_lock(&s->mu);
    int rc = hh_store_prepare(s, &st, "SELECT " MEM_COLS " FROM agent_memory WHERE user_id = ?1 AND id = ?2", err);
    if (!rc) {
        sqlite3_bind_int64(st, 1, user_id);
        sqlite3_bind_int64(st, 2, id);
        int sr = sqlite3_step(st);
        if (sr == SQLITE_ROW) {
            read_memory(st, out);
            if (!out->text)
                rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory");
        } else if (sr == SQLITE_DONE) {
            rc = hh_err_set(err, HH_ENOENT, -1, "no memory %lld", (long long)id);
        } else {
            rc = hh_store_db_fail(s, err, "get memory");
        }
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int hh_store_memory_of_user_locked(hh_store_t *s, int64_t user_id, hh_store_memory_t **out, size_t *n, hh_err_t *err)
{
    *out = NULL;
    *n = 0;
    hh_store_rows_t g = { .elem = sizeof(hh_store_memory_t) };
    sqlite3_stmt *st = NULL;
    int rc = hh_store_prepare(s, &st, "SELECT " MEM_COLS " FROM agent_memory WHERE user_id = ?1 ORDER BY created_at, id",
                              err);
    if (!rc) {
        sqlite3_bind_int64(st, 1, user_id);
        rc = hh_store_collect_rows(s, st, &g, read_memory, "export memories", err);
    }
    sqlite3_finalize(st);
    hh_store_memory_t *v = g.v;
    for (size_t i = 0; !rc && i < g.n; i++)
        if (!v[i].text)
            rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory");
    if (rc) {
        hh_store_memory_list_free(v, g.n);
        return rc;
    }
    *out = v;
    *n = g.n;
    return 0;
}

int hh_store_memory_forget_subject_locked(hh_store_t *s, const char *subject, int64_t *n, hh_err_t *err)
{
    sqlite3_stmt *st = NULL;
    int rc = hh_store_prepare(s, &st, "DELETE FROM agent_memory WHERE user_id IN (SELECT id FROM users WHERE "
                                      "lower(name) = lower(?1))", err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, subject, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = hh_store_db_fail(s, err, "erase memories");
    else if (n)
        *n += sqlite3_changes(s->db);
    sqlite3_finalize(st);
    return rc;
}

int hh_store_memory_expire(hh_store_t *s, int64_t before_ms, int64_t *n, hh_err_t *err)
{
    *n = 0;
    sqlite3_stmt *st = NULL;
    pthread_mutex_lock(&s->mu);
    sqlite3_exec(s->db, "PRAGMA secure_delete = ON", NULL, NULL, NULL);
    int rc = hh_store_prepare(s, &st, "DELETE FROM agent_memory WHERE updated_at < ?1", err);
    if (!rc) {
        sqlite3_bind_int64(st, 1, before_ms);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = hh_store_db_fail(s, err, "expire memories");
        else
            *n = sqlite3_changes(s->db);
    }
    sqlite3_finalize(st);
    sqlite3_exec(s->db, "PRAGMA secure_delete = OFF", NULL, NULL, NULL);
    pthread_mutex_unlock(&s->mu);
    return rc;
}
