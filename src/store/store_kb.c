/* store_kb.c - the knowledge-base half of the SQLite store: departments,
 * collections and their access rule, documents with their chunks, FTS rows
 * and vectors (one transaction per document). */
#include "store/store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static bool sha_ok(const char *sha)
{
    if (!sha || strlen(sha) != HH_SHA256_HEX_LEN)
        return false;
    for (const char *p = sha; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return false;
    return true;
}

/* ---- departments ------------------------------------------------------ */

/* Caller holds the mutex. */
static int dept_ensure_locked(hh_store_t *s, const char *name, int64_t *id, hh_err_t *err)
{
    sqlite3_stmt *st = NULL;
    int rc = hh_store_prepare(s, &st, "INSERT OR IGNORE INTO departments (name) VALUES (?)", err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    int sr = sqlite3_step(st);
    sqlite3_finalize(st);
    if (sr != SQLITE_DONE)
        return hh_store_db_fail(s, err, "create department");
    if ((rc = hh_store_prepare(s, &st, "SELECT id FROM departments WHERE name = ? COLLATE NOCASE", err)))
        return rc;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) == SQLITE_ROW) {
        if (id)
            *id = sqlite3_column_int64(st, 0);
    } else {
        rc = hh_store_db_fail(s, err, "find department");
    }
    sqlite3_finalize(st);
    return rc;
}

int hh_store_department_ensure(hh_store_t *s, const char *name, int64_t *id, hh_err_t *err)
{
    int rc = hh_store_name_ok(name, "department", err);
    if (rc)
        return rc;
    pthread_mutex_lock(&s->mu);
    rc = dept_ensure_locked(s, name, id, err);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int hh_store_user_add_department(hh_store_t *s, const char *user, const char *department, hh_err_t *err)
{
    int rc = hh_store_name_ok(department, "department", err);
    if (rc || (rc = hh_store_name_ok(user, "user", err)))
        return rc;
    pthread_mutex_lock(&s->mu);
    int64_t uid = 0, did = 0;
    sqlite3_stmt *st = NULL;
    if ((rc = hh_store_id_by_name_locked(s, "SELECT id FROM users WHERE name = ?", "user", user, &uid, err)) ||
        (rc = dept_ensure_locked(s, department, &did, err)))
        goto done;
    if ((rc = hh_store_prepare(s, &st, "INSERT OR IGNORE INTO user_departments (user_id, department_id) VALUES (?, ?)",
                               err)))
        goto done;
    sqlite3_bind_int64(st, 1, uid);
    sqlite3_bind_int64(st, 2, did);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = hh_store_db_fail(s, err, "add user to department");
done:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int hh_store_user_remove_department(hh_store_t *s, const char *user, const char *department, hh_err_t *err)
{
    int rc = hh_store_name_ok(department, "department", err);
    if (rc || (rc = hh_store_name_ok(user, "user", err)))
        return rc;
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = NULL;
    if ((rc = hh_store_prepare(s, &st,
                               "DELETE FROM user_departments WHERE user_id = (SELECT id FROM users WHERE name = ?) AND "
                               "department_id = (SELECT id FROM departments WHERE name = ? COLLATE NOCASE)",
                               err)))
        goto done;
    sqlite3_bind_text(st, 1, user, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, department, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = hh_store_db_fail(s, err, "remove user from department");
    else if (sqlite3_changes(s->db) == 0)
        rc = hh_err_set(err, HH_ENOENT, -1, "store: '%s' is not in department '%s'", user, department);
done:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* ---- collections ------------------------------------------------------ */

#define COLL_COLS                                                                                          \
    "c.id, c.name, c.created_at, "                                                                        \
    "COALESCE((SELECT group_concat(name, ',') FROM (SELECT d.name FROM collection_departments cd "        \
    "  JOIN departments d ON d.id = cd.department_id WHERE cd.collection_id = c.id ORDER BY d.name)), ''), " \
    "(SELECT COUNT(*) FROM documents WHERE collection_id = c.id), "                                       \
    "COALESCE((SELECT group_concat(r, ',') FROM (SELECT d.name || ':' || cd.access AS r "                 \
    "  FROM collection_departments cd JOIN departments d ON d.id = cd.department_id "                     \
    "  WHERE cd.collection_id = c.id ORDER BY d.name)), '')"

static void read_coll(sqlite3_stmt *st, void *out)
{
    hh_store_collection_t *c = out;
    memset(c, 0, sizeof *c);
    c->id = sqlite3_column_int64(st, 0);
    hh_store_copy_col(c->name, sizeof c->name, st, 1);
    c->created_at = sqlite3_column_int64(st, 2);
    hh_store_copy_col(c->departments, sizeof c->departments, st, 3);
    c->n_documents = sqlite3_column_int64(st, 4);
    hh_store_copy_col(c->rights, sizeof c->rights, st, 5);
}

static int coll_get_locked(hh_store_t *s, const char *name, hh_store_collection_t *out, hh_err_t *err)
{
    return hh_store_row_by_name_locked(s, "SELECT " COLL_COLS " FROM collections c WHERE c.name = ?", "collection",
                                       name, read_coll, out, err);
}

int hh_store_collection_get(hh_store_t *s, const char *name, hh_store_collection_t *out, hh_err_t *err)
{
    int rc = hh_store_name_ok(name, "collection", err);
    if (rc)
        return rc;
    pthread_mutex_lock(&s->mu);
    rc = coll_get_locked(s, name, out, err);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int hh_store_collection_ensure(hh_store_t *s, const char *name, const char *const *departments,
                               size_t n_departments, hh_store_collection_t *out, hh_err_t *err)
{
    int rc = hh_store_name_ok(name, "collection", err);
    if (rc)
        return rc;
    for (size_t i = 0; i < n_departments; i++)
        if ((rc = hh_store_name_ok(departments[i], "department", err)))
            return rc;
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = NULL;
    hh_store_collection_t c;
    if ((rc = hh_store_exec(s, "BEGIN IMMEDIATE", err)))
        goto done;
    if ((rc = hh_store_prepare(s, &st,
                               "INSERT INTO collections (name, created_at) VALUES (?, ?) ON CONFLICT(name) DO NOTHING",
                               err)))
        goto fail;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)time(NULL));
    if (sqlite3_step(st) != SQLITE_DONE) {
        rc = hh_store_db_fail(s, err, "create collection");
        goto fail;
    }
    sqlite3_finalize(st);
    st = NULL;
    if ((rc = coll_get_locked(s, name, &c, err)))
        goto fail;
    for (size_t i = 0; i < n_departments; i++) {
        int64_t did = 0;
        if ((rc = dept_ensure_locked(s, departments[i], &did, err)))
            goto fail;
        if ((rc = hh_store_prepare(s, &st,
                "INSERT OR IGNORE INTO collection_departments (collection_id, department_id) VALUES (?, ?)",
                err)))
            goto fail;
        sqlite3_bind_int64(st, 1, c.id);
        sqlite3_bind_int64(st, 2, did);
        if (sqlite3_step(st) != SQLITE_DONE) {
            rc = hh_store_db_fail(s, err, "add department to collection");
            goto fail;
        }
        sqlite3_finalize(st);
        st = NULL;
    }
    if ((rc = coll_get_locked(s, name, &c, err)) || (rc = hh_store_exec(s, "COMMIT", err)))
        goto fail;
    if (out)
        *out = c;
    goto done;
fail:
    sqlite3_finalize(st);
    st = NULL;
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
done:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* The readable-collections predicate for user ?N (0 = everyone's view).
 * An admin reads all; others through a shared department; a disabled or
 * unknown user reads nothing. */
#define READABLE(p)                                                                                        \
    "(" p " = 0 OR EXISTS (SELECT 1 FROM users u WHERE u.id = " p " AND u.disabled = 0 AND u.role = 'admin') " \
    "OR EXISTS (SELECT 1 FROM collection_departments cd JOIN user_departments ud "                         \
    "ON ud.department_id = cd.department_id JOIN users u ON u.id = ud.user_id "                            \
    "WHERE cd.collection_id = c.id AND ud.user_id = " p " AND u.disabled = 0))"

int hh_store_collection_list(hh_store_t *s, int64_t user_id, hh_store_collection_t **out, size_t *n,
                             hh_err_t *err)
{
    *out = NULL;
    *n = 0;
    hh_store_rows_t g = { .elem = sizeof(hh_store_collection_t) };
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = NULL;
    int rc = hh_store_prepare(s, &st,
                              "SELECT " COLL_COLS " FROM collections c WHERE " READABLE("?1") " ORDER BY c.name", err);
    if (rc)
        goto done;
    sqlite3_bind_int64(st, 1, user_id);
    rc = hh_store_collect_rows(s, st, &g, read_coll, "list collections", err);
done:
    return hh_store_rows_end(s, st, &g, rc, out, n);
}

void hh_store_strings_free(char **v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

int hh_store_collection_delete(hh_store_t *s, int64_t collection_id, char ***shas, size_t *n_shas, hh_err_t *err)
{
    if (shas) {
        *shas = NULL;
        *n_shas = 0;
    }
    hh_store_rows_t g = { .elem = sizeof(char *) };
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = NULL;
    int rc = hh_store_exec(s, "BEGIN IMMEDIATE", err);
    if (rc)
        goto done;
    if ((rc = hh_store_prepare(s, &st, "SELECT DISTINCT sha256 FROM documents WHERE collection_id = ?", err)))
        goto fail;
    sqlite3_bind_int64(st, 1, collection_id);
    int sr;
    while ((sr = sqlite3_step(st)) == SQLITE_ROW) {
        char **slot = hh_store_rows_next(&g);
        if (!slot || !(*slot = strdup((const char *)sqlite3_column_text(st, 0)))) {
            if (slot)
                g.n--;
            rc = hh_err_set(err, HH_ENOMEM, -1, "store: out of memory");
            goto fail;
        }
    }
    if (sr != SQLITE_DONE) {
        rc = hh_store_db_fail(s, err, "delete collection");
        goto fail;
    }
    sqlite3_finalize(st);
    st = NULL;
    if ((rc = hh_store_prepare(s, &st, "DELETE FROM collections WHERE id = ?", err)))
        goto fail;
    sqlite3_bind_int64(st, 1, collection_id);
    if (sqlite3_step(st) != SQLITE_DONE) {
        rc = hh_store_db_fail(s, err, "delete collection");
        goto fail;
    }
    if (sqlite3_changes(s->db) == 0) {
        rc = hh_err_set(err, HH_ENOENT, -1, "store: no collection %lld", (long long)collection_id);
        goto fail;
    }
    sqlite3_finalize(st);
    st = NULL;
    if ((rc = hh_store_exec(s, "COMMIT", err)))
        goto fail;
    goto done;
fail:
    sqlite3_finalize(st);
    st = NULL;
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
done:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    if (rc || !shas) {
        hh_store_strings_free(g.v, g.n);
        return rc;
    }
    *shas = g.v;
    *n_shas = g.n;
    return 0;
}

int hh_store_readable_collections(hh_store_t *s, int64_t user_id, int64_t **ids, size_t *n, hh_err_t *err)
{
    *ids = NULL;
    *n = 0;
    if (user_id <= 0) /* user 0 is the admin CLI's view; here only real users */
        return 0;
    hh_store_rows_t g = { .elem = sizeof(int64_t) };
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = NULL;
    int rc = hh_store_prepare(s, &st, "SELECT c.id FROM collections c WHERE " READABLE("?1") " ORDER BY c.id", err);
    if (rc)
        goto done;
    sqlite3_bind_int64(st, 1, user_id);
    rc = hh_store_collect_rows(s, st, &g, hh_store_read_id, "readable collections", err);
done:
    return hh_store_rows_end(s, st, &g, rc, ids, n);
}

static const char *const g_right_names[] = { "none", "read", "write", "manage" };

const char *hh_right_name(hh_right_t r)
{
    return r >= HH_RIGHT_NONE && r <= HH_RIGHT_MANAGE ? g_right_names[r] : "none";
}

int hh_right_parse(const char *s, hh_right_t *out, hh_err_t *err)
{
    for (int r = HH_RIGHT_READ; r <= HH_RIGHT_MANAGE; r++)
        if (s && !strcmp(s, g_right_names[r])) {
            *out = (hh_right_t)r;
            return 0;
        }
    return hh_err_set(err, HH_EINVAL, -1, "right must be read, write or manage (not '%s')", s ? s : "");
}

int hh_store_user_collection_right(hh_store_t *s, int64_t user_id, int64_t collection_id, hh_right_t *right,
                                   hh_err_t *err)
{
    *right = HH_RIGHT_NONE;
    if (user_id <= 0)
        return 0;
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = NULL;
    /* 3 = manage, 2 = write, 1 = read; auditors capped at read. */
    int rc = hh_store_prepare(s, &st,
        "SELECT CASE WHEN u.role = 'admin' THEN 3 ELSE "
        "  MIN(CASE WHEN u.role = 'auditor' THEN 1 ELSE 3 END, COALESCE((SELECT MAX(CASE cd.access "
        "    WHEN 'manage' THEN 3 WHEN 'write' THEN 2 ELSE 1 END) FROM collection_departments cd "
        "    JOIN user_departments ud ON ud.department_id = cd.department_id "
        "    WHERE cd.collection_id = c.id AND ud.user_id = u.id), 0)) END "
        "FROM users u, collections c WHERE u.id = ?1 AND u.disabled = 0 AND c.id = ?2", err);
    if (rc)
        goto done;
    sqlite3_bind_int64(st, 1, user_id);
    sqlite3_bind_int64(st, 2, collection_id);
    int sr = sqlite3_step(st);
    if (sr == SQLITE_ROW) {
        int v = sqlite3_column_int(st, 0);
        *right = v >= HH_RIGHT_READ && v <= HH_RIGHT_MANAGE ? (hh_right_t)v : HH_RIGHT_NONE;
    } else if (sr != SQLITE_DONE) {
        rc = hh_store_db_fail(s, err, "rights check");
    }
done:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int hh_store_user_can_read(hh_store_t *s, int64_t user_id, int64_t collection_id, bool *ok, hh_err_t *err)
{
    *ok = false;
    if (user_id <= 0)
        return 0;
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = NULL;
    int rc = hh_store_prepare(s, &st, "SELECT 1 FROM collections c WHERE c.id = ?2 AND " READABLE("?1"), err);
    if (rc)
        goto done;
    sqlite3_bind_int64(st, 1, user_id);
    sqlite3_bind_int64(st, 2, collection_id);
    int sr = sqlite3_step(st);
    if (sr == SQLITE_ROW)
        *ok = true;
    else if (sr != SQLITE_DONE)
        rc = hh_store_db_fail(s, err, "access check");
done:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* ---- documents -------------------------------------------------------- */

#define DOC_COLS                                                                                           \
    "d.id, d.collection_id, c.name, d.title, d.source_path, d.mime, d.sha256, d.size, d.ingested_at, "     \
    "COALESCE(u.name, ''), (SELECT COUNT(*) FROM chunks WHERE document_id = d.id), d.encoding"
#define DOC_FROM                                                                                           \
    " FROM documents d JOIN collections c ON c.id = d.collection_id LEFT JOIN users u ON u.id = d.ingested_by "

static void read_doc(sqlite3_stmt *st, void *out)
{
    hh_store_doc_t *d = out;
    memset(d, 0, sizeof *d);
    d->id = sqlite3_column_int64(st, 0);
    d->collection_id = sqlite3_column_int64(st, 1);
    hh_store_copy_col(d->collection, sizeof d->collection, st, 2);
    hh_store_copy_col(d->title, sizeof d->title, st, 3);
    hh_store_copy_col(d->source_path, sizeof d->source_path, st, 4);
    hh_store_copy_col(d->mime, sizeof d->mime, st, 5);
    hh_store_copy_col(d->sha256, sizeof d->sha256, st, 6);
    d->size = sqlite3_column_int64(st, 7);
    d->ingested_at = sqlite3_column_int64(st, 8);
    hh_store_copy_col(d->ingested_by, sizeof d->ingested_by, st, 9);
    d->n_chunks = sqlite3_column_int64(st, 10);
    hh_store_copy_col(d->encoding, sizeof d->encoding, st, 11);
}

/* Runs a one-row document query: WHERE clause with ?1 = a and ?2 = b (when b). */
static int doc_one(hh_store_t *s, const char *where, int64_t a, const char *b, hh_store_doc_t *out, hh_err_t *err)
{
    char sql[1024];
    snprintf(sql, sizeof sql, "SELECT " DOC_COLS DOC_FROM "WHERE %s", where);
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = NULL;
    int rc = hh_store_prepare(s, &st, sql, err);
    if (rc)
        goto done;
    sqlite3_bind_int64(st, 1, a);
    if (b)
        sqlite3_bind_text(st, 2, b, -1, SQLITE_TRANSIENT);
    int sr = sqlite3_step(st);
    if (sr == SQLITE_ROW) {
        if (out)
            read_doc(st, out);
    } else if (sr == SQLITE_DONE) {
        rc = hh_err_set(err, HH_ENOENT, -1, "store: no such document");
    } else {
        rc = hh_store_db_fail(s, err, "find document");
    }
done:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int hh_store_doc_find_by_hash(hh_store_t *s, int64_t collection_id, const char *sha256, hh_store_doc_t *out,
                              hh_err_t *err)
{
    if (!sha_ok(sha256))
        return hh_err_set(err, HH_EINVAL, -1, "store: sha256 must be 64 lowercase hex digits");
    /* the earliest stored (ids are random: not an order) */
    return doc_one(s, "d.collection_id = ?1 AND d.sha256 = ?2 ORDER BY d.ingested_at, d.id LIMIT 1", collection_id,
                   sha256, out, err);
}

int hh_store_doc_find_by_path(hh_store_t *s, int64_t collection_id, const char *source_path, hh_store_doc_t *out,
                              hh_err_t *err)
{
    if (!source_path)
        return hh_err_set(err, HH_EINVAL, -1, "store: no source path");
    return doc_one(s, "d.collection_id = ?1 AND d.source_path = ?2", collection_id, source_path, out, err);
}

int hh_store_doc_get(hh_store_t *s, int64_t doc_id, hh_store_doc_t *out, hh_err_t *err)
{
    return doc_one(s, "d.id = ?1", doc_id, NULL, out, err);
}

static int step_done(hh_store_t *s, sqlite3_stmt *st, const char *what, hh_err_t *err)
{
    int sr = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return sr == SQLITE_DONE ? 0 : hh_store_db_fail(s, err, what);
}

int hh_store_doc_replace(hh_store_t *s, const hh_store_doc_in_t *in, int64_t *doc_id, char *old_sha256,
                         hh_err_t *err)
{
    if (old_sha256)
        old_sha256[0] = '\0';
    if (!in || !in->title || !in->source_path || !in->source_path[0] || !in->mime)
        return hh_err_set(err, HH_EINVAL, -1, "store: document needs title, source path and mime type");
    if (strlen(in->source_path) >= HH_STORE_PATH_MAX)
        return hh_err_set(err, HH_EINVAL, -1, "store: source path longer than %d bytes", HH_STORE_PATH_MAX - 1);
    if (!sha_ok(in->sha256))
        return hh_err_set(err, HH_EINVAL, -1, "store: sha256 must be 64 lowercase hex digits");
    if (in->n_chunks && !in->chunks)
        return hh_err_set(err, HH_EINVAL, -1, "store: chunks missing");
    bool any_vec = false;
    for (size_t i = 0; i < in->n_chunks; i++) {
        if (!in->chunks[i].text)
            return hh_err_set(err, HH_EINVAL, -1, "store: chunk %zu has no text", i);
        any_vec |= in->chunks[i].vec != NULL;
    }
    if (any_vec && (in->vec_dim <= 0 || in->vec_dim > (1 << 16) || !in->vec_model || !in->vec_model[0]))
        return hh_err_set(err, HH_EINVAL, -1, "store: vectors need a model name and 1..65536 dimensions");

    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = NULL, *ins_chunk = NULL, *ins_vec = NULL;
    int rc = hh_store_exec(s, "BEGIN IMMEDIATE", err);
    if (rc)
        goto done;
    /* The old document of this path (its chunks, FTS rows, vectors cascade). */
    if ((rc = hh_store_prepare(s, &st,
                               "DELETE FROM documents WHERE collection_id = ? AND source_path = ? RETURNING sha256",
                               err)))
        goto fail;
    sqlite3_bind_int64(st, 1, in->collection_id);
    sqlite3_bind_text(st, 2, in->source_path, -1, SQLITE_TRANSIENT);
    int sr;
    while ((sr = sqlite3_step(st)) == SQLITE_ROW)
        if (old_sha256)
            hh_store_copy_col(old_sha256, HH_SHA256_HEX_LEN + 1, st, 0);
    if (sr != SQLITE_DONE) {
        rc = hh_store_db_fail(s, err, "replace document");
        goto fail;
    }
    sqlite3_finalize(st);
    st = NULL;
    if ((rc = hh_store_prepare(s, &st,
            "INSERT INTO documents (collection_id, title, source_path, mime, sha256, size, ingested_at, "
            "ingested_by, status, encoding, id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'complete', ?, ?)",
            err)))
        goto fail;
    sqlite3_bind_int64(st, 1, in->collection_id);
    sqlite3_bind_text(st, 2, in->title, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, in->source_path, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, in->mime, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 5, in->sha256, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 6, in->size);
    sqlite3_bind_int64(st, 7, (sqlite3_int64)time(NULL));
    if (in->user_id > 0)
        sqlite3_bind_int64(st, 8, in->user_id);
    else
        sqlite3_bind_null(st, 8);
    /* document and chunk ids are random, not a shared counter (store_int.h) */
    sqlite3_bind_text(st, 9, in->encoding ? in->encoding : "", -1, SQLITE_TRANSIENT);
    int64_t id = 0;
    if ((rc = hh_store_insert_new_id(s, st, 10, "insert document (does the collection exist?)", &id, err)))
        goto fail;
    if ((rc = hh_store_prepare(s, &ins_chunk,
            "INSERT INTO chunks (document_id, ord, text, heading_path, page, n_tokens, id, lang, terms, terms_level)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            err)))
        goto fail;
    if (any_vec &&
        (rc = hh_store_prepare(s, &ins_vec,
                               "INSERT INTO chunk_vectors (chunk_id, model, dim, vec) VALUES (?, ?, ?, ?)", err)))
        goto fail;
    for (size_t i = 0; i < in->n_chunks; i++) {
        const hh_store_chunk_in_t *c = &in->chunks[i];
        sqlite3_bind_int64(ins_chunk, 1, id);
        sqlite3_bind_int64(ins_chunk, 2, (sqlite3_int64)i);
        sqlite3_bind_text(ins_chunk, 3, c->text, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins_chunk, 4, c->heading_path ? c->heading_path : "", -1, SQLITE_STATIC);
        sqlite3_bind_int(ins_chunk, 5, c->page);
        sqlite3_bind_int(ins_chunk, 6, c->n_tokens);
        sqlite3_bind_text(ins_chunk, 8, c->lang ? c->lang : "", -1, SQLITE_STATIC);
        sqlite3_bind_text(ins_chunk, 9, c->terms ? c->terms : "", -1, SQLITE_STATIC);
        sqlite3_bind_int(ins_chunk, 10, c->terms ? c->terms_level : 0);
        int64_t chunk_id = 0;
        if ((rc = hh_store_insert_new_id(s, ins_chunk, 7, "insert chunk", &chunk_id, err)))
            goto fail;
        sqlite3_clear_bindings(ins_chunk);
        if (c->vec) {
            sqlite3_bind_int64(ins_vec, 1, chunk_id);
            sqlite3_bind_text(ins_vec, 2, in->vec_model, -1, SQLITE_STATIC);
            sqlite3_bind_int(ins_vec, 3, in->vec_dim);
            sqlite3_bind_blob(ins_vec, 4, c->vec, in->vec_dim * (int)sizeof(float), SQLITE_STATIC);
            if ((rc = step_done(s, ins_vec, "insert vector", err)))
                goto fail;
        }
    }
    if ((rc = hh_store_exec(s, "COMMIT", err)))
        goto fail;
    if (doc_id)
        *doc_id = id;
    goto done;
fail:
    sqlite3_finalize(st);
    st = NULL;
    sqlite3_finalize(ins_chunk);
    ins_chunk = NULL;
    sqlite3_finalize(ins_vec);
    ins_vec = NULL;
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    if (old_sha256)
        old_sha256[0] = '\0';
done:
    sqlite3_finalize(st);
    sqlite3_finalize(ins_chunk);
    sqlite3_finalize(ins_vec);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int hh_store_doc_delete(hh_store_t *s, int64_t doc_id, char *sha256, hh_err_t *err)
{
    if (sha256)
        sha256[0] = '\0';
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = NULL;
    int rc = hh_store_prepare(s, &st, "DELETE FROM documents WHERE id = ? RETURNING sha256", err);
    if (rc)
        goto done;
    sqlite3_bind_int64(st, 1, doc_id);
    int sr = sqlite3_step(st);
    if (sr == SQLITE_ROW) {
        if (sha256)
            hh_store_copy_col(sha256, HH_SHA256_HEX_LEN + 1, st, 0);
        sr = sqlite3_step(st);
        if (sr != SQLITE_DONE)
            rc = hh_store_db_fail(s, err, "delete document");
    } else if (sr == SQLITE_DONE) {
        rc = hh_err_set(err, HH_ENOENT, -1, "store: no document %lld", (long long)doc_id);
    } else {
        rc = hh_store_db_fail(s, err, "delete document");
    }
done:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int hh_store_doc_list(hh_store_t *s, int64_t user_id, int64_t collection_id, hh_store_doc_t **out, size_t *n,
                      hh_err_t *err)
{
    *out = NULL;
    *n = 0;
    hh_store_rows_t g = { .elem = sizeof(hh_store_doc_t) };
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = NULL;
    int rc = hh_store_prepare(s, &st,
                              "SELECT " DOC_COLS DOC_FROM "WHERE (?2 = 0 OR d.collection_id = ?2) AND " READABLE("?1")
                              " ORDER BY d.ingested_at DESC, d.id DESC",
                              err);
    if (rc)
        goto done;
    sqlite3_bind_int64(st, 1, user_id);
    sqlite3_bind_int64(st, 2, collection_id);
    rc = hh_store_collect_rows(s, st, &g, read_doc, "list documents", err);
done:
    return hh_store_rows_end(s, st, &g, rc, out, n);
}

int hh_store_doc_list_uploaded(hh_store_t *s, int64_t user_id, hh_store_doc_t **out, size_t *n, hh_err_t *err)
{
    *out = NULL;
    *n = 0;
    hh_store_rows_t g = { .elem = sizeof(hh_store_doc_t) };
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = NULL;
    int rc = hh_store_prepare(s, &st, "SELECT " DOC_COLS DOC_FROM "WHERE d.ingested_by = ?1 ORDER BY d.ingested_at, d.id",
                              err);
    if (rc == 0) {
        sqlite3_bind_int64(st, 1, user_id);
        rc = hh_store_collect_rows(s, st, &g, read_doc, "list uploaded documents", err);
    }
    return hh_store_rows_end(s, st, &g, rc, out, n);
}

int hh_store_sha_in_use(hh_store_t *s, const char *sha256, bool *used, hh_err_t *err)
{
    *used = false;
    if (!sha_ok(sha256))
        return hh_err_set(err, HH_EINVAL, -1, "store: sha256 must be 64 lowercase hex digits");
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = NULL;
    int rc = hh_store_prepare(s, &st, "SELECT 1 FROM documents WHERE sha256 = ? LIMIT 1", err);
    if (rc)
        goto done;
    sqlite3_bind_text(st, 1, sha256, -1, SQLITE_TRANSIENT);
    int sr = sqlite3_step(st);
    if (sr == SQLITE_ROW)
        *used = true;
    else if (sr != SQLITE_DONE)
        rc = hh_store_db_fail(s, err, "hash lookup");
done:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* ---- chunks ----------------------------------------------------------- */

int hh_store_chunk_get(hh_store_t *s, int64_t chunk_id, hh_store_chunk_t *out, hh_err_t *err)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = NULL;
    int rc = hh_store_prepare(s, &st,
            "SELECT c.id, c.document_id, d.collection_id, c.ord, c.page, c.n_tokens, c.text, c.heading_path, "
            "d.title, d.source_path FROM chunks c JOIN documents d ON d.id = c.document_id WHERE c.id = ?",
            err);
    if (rc)
        goto done;
    sqlite3_bind_int64(st, 1, chunk_id);
    int sr = sqlite3_step(st);
    if (sr == SQLITE_ROW) {
        out->id = sqlite3_column_int64(st, 0);
        out->document_id = sqlite3_column_int64(st, 1);
        out->collection_id = sqlite3_column_int64(st, 2);
        out->ord = sqlite3_column_int(st, 3);
        out->page = sqlite3_column_int(st, 4);
        out->n_tokens = sqlite3_column_int(st, 5);
        const char *t = (const char *)sqlite3_column_text(st, 6);
        const char *h = (const char *)sqlite3_column_text(st, 7);
        out->text = strdup(t ? t : "");
        out->heading_path = strdup(h ? h : "");
        hh_store_copy_col(out->title, sizeof out->title, st, 8);
        hh_store_copy_col(out->source_path, sizeof out->source_path, st, 9);
        if (!out->text || !out->heading_path) {
            hh_store_chunk_clear(out);
            rc = hh_err_set(err, HH_ENOMEM, -1, "store: out of memory");
        }
    } else if (sr == SQLITE_DONE) {
        rc = hh_err_set(err, HH_ENOENT, -1, "store: no chunk %lld", (long long)chunk_id);
    } else {
        rc = hh_store_db_fail(s, err, "get chunk");
    }
done:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

void hh_store_chunk_clear(hh_store_chunk_t *c)
{
    if (!c)
        return;
    free(c->text);
    free(c->heading_path);
    c->text = NULL;
    c->heading_path = NULL;
}

int hh_store_chunks_to_analyze(hh_store_t *s, int level, size_t max, hh_store_chunk_text_t **out, size_t *n,
                               hh_err_t *err)
{
    *out = NULL;
    *n = 0;
    if (max == 0)
        return 0;
    hh_store_chunk_text_t *v = calloc(max, sizeof *v);
    if (!v)
        return hh_err_set(err, HH_ENOMEM, -1, "out of memory");
    size_t nv = 0;
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = NULL;
    int rc = hh_store_prepare(s, &st,
                              "SELECT id, text, heading_path FROM chunks WHERE terms_level < ?1 LIMIT ?2",
                              err);
    if (!rc) {
        sqlite3_bind_int(st, 1, level);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)max);
        int sr;
        while ((sr = sqlite3_step(st)) == SQLITE_ROW && nv < max) {
            const unsigned char *t = sqlite3_column_text(st, 1), *h = sqlite3_column_text(st, 2);
            v[nv].id = sqlite3_column_int64(st, 0);
            v[nv].text = strdup(t ? (const char *)t : "");
            v[nv].heading_path = strdup(h ? (const char *)h : "");
            nv++;
            if (!v[nv - 1].text || !v[nv - 1].heading_path) {
                rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory");
                break;
            }
        }
        if (!rc && sr != SQLITE_DONE && sr != SQLITE_ROW)
            rc = hh_store_db_fail(s, err, "chunks to analyze");
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    if (rc || nv == 0) {
        hh_store_chunk_texts_free(v, nv);
        return rc;
    }
    *out = v;
    *n = nv;
    return 0;
}

void hh_store_chunk_texts_free(hh_store_chunk_text_t *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++) {
        free(v[i].text);
        free(v[i].heading_path);
    }
    free(v);
}

int hh_store_chunks_set_terms(hh_store_t *s, const hh_store_chunk_terms_t *v, size_t n, int level, hh_err_t *err)
{
    int rc = hh_store_tx_begin(s, err);
    if (rc)
        return rc;
    sqlite3_stmt *st = NULL;
    rc = hh_store_prepare(s, &st, "UPDATE chunks SET lang = ?1, terms = ?2, terms_level = ?3 WHERE id = ?4", err);
    for (size_t i = 0; i < n && !rc; i++) {
        sqlite3_bind_text(st, 1, v[i].lang ? v[i].lang : "", -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, v[i].terms ? v[i].terms : "", -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 3, level);
        sqlite3_bind_int64(st, 4, v[i].id);
        rc = step_done(s, st, "set chunk terms", err);
    }
    sqlite3_finalize(st);
    return hh_store_tx_end(s, rc, err);
}
