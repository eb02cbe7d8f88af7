/* store_auth.c - browser login in the SQLite store: argon2id password
 * hashes in users.password_hash, sessions kept as keyed BLAKE2b hashes of
 * the cookie value with their CSRF token (schema: migration 7). The rules
 * are in store.h ("browser login"). */
#include "store/store_int.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PW_OPS crypto_pwhash_OPSLIMIT_INTERACTIVE
#define PW_MEM crypto_pwhash_MEMLIMIT_INTERACTIVE
#define SESSION_RAW_LEN 32
#define ID_HASH_LEN     32

/* An argon2id hash of a random password nobody knows, made with the same
 * limits as real ones (m=64 MiB, t=2): a login for a user without a usable
 * hash verifies against it, so it costs what a real one costs. */
static const char DUMMY_HASH[crypto_pwhash_STRBYTES] =
    "$argon2id$v=19$m=65536,t=2,p=1$1YVWmzH1FLJKDr2xFMXFLQ$zIdJ5bJnYnYYhHoSVwOMaYmVC1jmi5y1ai1k47uNrJk";

static const char GENERIC_LOGIN_ERROR[] = "invalid user name or password";

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

hh_store_session_params_t hh_store_session_default_params(void)
{
    hh_store_session_params_t p = { HH_SESSION_IDLE_MS, HH_SESSION_MAX_MS };
    return p;
}

static hh_store_session_params_t params_or_default(const hh_store_session_params_t *p)
{
    hh_store_session_params_t d = hh_store_session_default_params();
    if (p && p->idle_ms > 0)
        d.idle_ms = p->idle_ms;
    if (p && p->max_ms > 0)
        d.max_ms = p->max_ms;
    return d;
}

static void copy_text(char *dst, size_t cap, const unsigned char *src)
{
    snprintf(dst, cap, "%s", src ? (const char *)src : "");
}

static int prepare(hh_store_t *s, sqlite3_stmt **st, const char *sql, const char *what, hh_err_t *err)
{
    if (sqlite3_prepare_v2(s->db, sql, -1, st, NULL) != SQLITE_OK)
        return hh_store_db_fail(s, err, what);
    return 0;
}

/* Runs a statement that returns no rows; *changes (may be NULL) the rows
 * it changed. Finalizes st. */
static int step_done(hh_store_t *s, sqlite3_stmt *st, const char *what, int64_t *changes, hh_err_t *err)
{
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : hh_store_db_fail(s, err, what);
    sqlite3_finalize(st);
    if (rc == 0 && changes)
        *changes = sqlite3_changes(s->db);
    return rc;
}

static int password_ok(const char *password, hh_err_t *err)
{
    size_t n = password ? strlen(password) : 0;
    if (n < HH_PASSWORD_MIN_LEN)
        return hh_err_set(err, HH_EINVAL, -1, "the password must have at least %d characters", HH_PASSWORD_MIN_LEN);
    if (n > HH_PASSWORD_MAX_LEN)
        return hh_err_set(err, HH_EINVAL, -1, "the password must have at most %d bytes", HH_PASSWORD_MAX_LEN);
    return 0;
}

/* Caller holds the mutex. */
static int delete_user_sessions_locked(hh_store_t *s, int64_t user_id, int64_t *n, hh_err_t *err)
{
    sqlite3_stmt *st = NULL;
    int rc = prepare(s, &st, "DELETE FROM sessions WHERE user_id = ?", "end sessions", err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, user_id);
    return step_done(s, st, "end sessions", n, err);
}

/* Caller holds the mutex. hash NULL clears the password. */
static int store_hash_locked(hh_store_t *s, const char *name, const char *hash, hh_err_t *err)
{
    char *msg = NULL;
    if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, &msg) != SQLITE_OK) {
        int rc = hh_err_set(err, HH_EIO, -1, "store: %s", msg ? msg : "begin failed");
        sqlite3_free(msg);
        return rc;
    }
    sqlite3_stmt *st = NULL;
    int64_t user_id = 0;
    int rc = prepare(s, &st, "SELECT id FROM users WHERE name = ?", "set password", err);
    if (rc)
        goto fail;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    int sr = sqlite3_step(st);
    if (sr == SQLITE_ROW)
        user_id = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (sr == SQLITE_DONE) {
        rc = hh_err_set(err, HH_ENOENT, -1, "store: no user '%s'", name);
        goto fail;
    }
    if (sr != SQLITE_ROW) {
        rc = hh_store_db_fail(s, err, "set password");
        goto fail;
    }
    if ((rc = prepare(s, &st, "UPDATE users SET password_hash = ? WHERE id = ?", "set password", err)))
        goto fail;
    if (hash)
        sqlite3_bind_text(st, 1, hash, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, 1);
    sqlite3_bind_int64(st, 2, user_id);
    if ((rc = step_done(s, st, "set password", NULL, err)))
        goto fail;
    /* A changed password must lock out whoever held the old one. */
    if ((rc = delete_user_sessions_locked(s, user_id, NULL, err)))
        goto fail;
    if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        rc = hh_store_db_fail(s, err, "set password (commit)");
        goto fail;
    }
    return 0;
fail:
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

int hh_store_user_set_password(hh_store_t *s, const char *name, const char *password, hh_err_t *err)
{
    if (!name || !name[0])
        return hh_err_set(err, HH_EINVAL, -1, "store: no user name");
    int rc = password_ok(password, err);
    if (rc)
        return rc;
    char hash[crypto_pwhash_STRBYTES];
    /* argon2id runs outside the store mutex: it takes tens of ms. */
    if (crypto_pwhash_str(hash, password, strlen(password), PW_OPS, PW_MEM) != 0)
        return hh_err_set(err, HH_ENOMEM, -1, "store: argon2id could not get %zu bytes", (size_t)PW_MEM);
    pthread_mutex_lock(&s->mu);
    rc = store_hash_locked(s, name, hash, err);
    pthread_mutex_unlock(&s->mu);
    sodium_memzero(hash, sizeof hash);
    return rc;
}

int hh_store_user_clear_password(hh_store_t *s, const char *name, hh_err_t *err)
{
    if (!name || !name[0])
        return hh_err_set(err, HH_EINVAL, -1, "store: no user name");
    pthread_mutex_lock(&s->mu);
    int rc = store_hash_locked(s, name, NULL, err);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int hh_store_user_set_disabled(hh_store_t *s, const char *name, bool disabled, hh_err_t *err)
{
    if (!name || !name[0])
        return hh_err_set(err, HH_EINVAL, -1, "store: no user name");
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = NULL;
    int64_t changed = 0;
    /* Never the last enabled admin (as role and delete, store_admin.c): the
     * check is part of the one UPDATE, so two processes disabling the two
     * last admins at once cannot both pass it. */
    int rc = prepare(s, &st,
                     "UPDATE users SET disabled = ?1 WHERE name = ?2 AND NOT (?1 = 1 AND role = 'admin' AND "
                     "disabled = 0 AND NOT EXISTS (SELECT 1 FROM users o WHERE o.role = 'admin' AND o.disabled = 0 "
                     "AND o.name <> ?2))",
                     "disable user", err);
    if (rc)
        goto done;
    sqlite3_bind_int(st, 1, disabled ? 1 : 0);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_TRANSIENT);
    if ((rc = step_done(s, st, "disable user", &changed, err)))
        goto done;
    if (changed == 0) {
        bool exists = false;
        if ((rc = prepare(s, &st, "SELECT 1 FROM users WHERE name = ?", "disable user", err)))
            goto done;
        sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
        exists = sqlite3_step(st) == SQLITE_ROW;
        sqlite3_finalize(st);
        if (exists)
            rc = hh_err_set(err, HH_ESTATE, -1,
                            "store: '%s' is the last enabled admin; disabling them would leave nobody to "
                            "administer hoheit (make another user admin first)", name);
        else
            rc = hh_err_set(err, HH_ENOENT, -1, "store: no user '%s'", name);
        goto done;
    }
    if (disabled) {
        if ((rc = prepare(s, &st, "DELETE FROM sessions WHERE user_id = (SELECT id FROM users WHERE name = ?)",
                          "end sessions", err)))
            goto done;
        sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
        rc = step_done(s, st, "end sessions", NULL, err);
    }
done:
    pthread_mutex_unlock(&s->mu);
    return rc;
}

#define INFO_COLS                                                                                          \
    "u.id, u.name, u.role, u.created_at, u.disabled, u.password_hash IS NOT NULL, "                        \
    "COALESCE((SELECT group_concat(name, ',') FROM (SELECT d.name FROM user_departments ud "               \
    "JOIN departments d ON d.id = ud.department_id WHERE ud.user_id = u.id ORDER BY d.name)), '')"

static void read_info(sqlite3_stmt *st, hh_store_user_info_t *u)
{
    memset(u, 0, sizeof *u);
    u->user.id = sqlite3_column_int64(st, 0);
    copy_text(u->user.name, sizeof u->user.name, sqlite3_column_text(st, 1));
    copy_text(u->user.role, sizeof u->user.role, sqlite3_column_text(st, 2));
    u->user.created_at = sqlite3_column_int64(st, 3);
    u->user.disabled = sqlite3_column_int(st, 4) != 0;
    u->has_password = sqlite3_column_int(st, 5) != 0;
    copy_text(u->departments, sizeof u->departments, sqlite3_column_text(st, 6));
}

static void read_info_any(sqlite3_stmt *st, void *u)
{
    read_info(st, u);
}

int hh_store_user_list(hh_store_t *s, hh_store_user_info_t **out, size_t *n, hh_err_t *err)
{
    *out = NULL;
    *n = 0;
    hh_store_rows_t g = { .elem = sizeof(hh_store_user_info_t) };
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = NULL;
    int rc = prepare(s, &st, "SELECT " INFO_COLS " FROM users u ORDER BY u.name", "list users", err);
    if (!rc)
        rc = hh_store_collect_rows(s, st, &g, read_info_any, "list users", err);
    return hh_store_rows_end(s, st, &g, rc, out, n);
}

int hh_store_user_info(hh_store_t *s, int64_t user_id, hh_store_user_info_t *out, hh_err_t *err)
{
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = NULL;
    int rc = prepare(s, &st, "SELECT " INFO_COLS " FROM users u WHERE u.id = ?", "get user", err);
    if (rc)
        goto done;
    sqlite3_bind_int64(st, 1, user_id);
    int sr = sqlite3_step(st);
    if (sr == SQLITE_ROW)
        read_info(st, out);
    else if (sr == SQLITE_DONE)
        rc = hh_err_set(err, HH_ENOENT, -1, "store: no user %lld", (long long)user_id);
    else
        rc = hh_store_db_fail(s, err, "get user");
done:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int hh_store_login_verify(hh_store_t *s, const char *name, const char *password, hh_store_user_t *out,
                          hh_err_t *err)
{
    hh_store_user_t u;
    memset(&u, 0, sizeof u);
    char hash[crypto_pwhash_STRBYTES] = "";
    bool found = false;
    size_t plen = password ? strlen(password) : 0;
    size_t nlen = name ? strlen(name) : 0;

    if (nlen > 0 && nlen < HH_STORE_NAME_MAX) {
        pthread_mutex_lock(&s->mu);
        sqlite3_stmt *st = NULL;
        int rc = prepare(s, &st,
                         "SELECT id, name, role, created_at, disabled, password_hash FROM users WHERE name = ?",
                         "login", err);
        if (rc) {
            pthread_mutex_unlock(&s->mu);
            return rc;
        }
        sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
        int sr = sqlite3_step(st);
        if (sr == SQLITE_ROW) {
            u.id = sqlite3_column_int64(st, 0);
            copy_text(u.name, sizeof u.name, sqlite3_column_text(st, 1));
            copy_text(u.role, sizeof u.role, sqlite3_column_text(st, 2));
            u.created_at = sqlite3_column_int64(st, 3);
            u.disabled = sqlite3_column_int(st, 4) != 0;
            const unsigned char *h = sqlite3_column_text(st, 5);
            if (h && strlen((const char *)h) < sizeof hash) {
                memcpy(hash, h, strlen((const char *)h) + 1);
                found = true;
            }
        } else if (sr != SQLITE_DONE) {
            rc = hh_store_db_fail(s, err, "login");
        }
        sqlite3_finalize(st);
        pthread_mutex_unlock(&s->mu);
        if (rc)
            return rc;
    }
    /* Exactly one argon2id verification on every path (see DUMMY_HASH). A
     * too long password is checked against the dummy too. */
    bool use_real = found && plen <= HH_PASSWORD_MAX_LEN;
    const char *against = use_real ? hash : DUMMY_HASH;
    bool match = crypto_pwhash_str_verify(against, password ? password : "", plen) == 0;
    bool ok = match && use_real && !u.disabled;
    if (!ok) {
        sodium_memzero(hash, sizeof hash);
        return hh_err_set(err, HH_ENOENT, -1, "%s", GENERIC_LOGIN_ERROR);
    }
    /* Limits raised since the hash was made: store a fresh one now that the
     * password is at hand (only if nobody changed it meanwhile). */
    if (crypto_pwhash_str_needs_rehash(hash, PW_OPS, PW_MEM) != 0) {
        char fresh[crypto_pwhash_STRBYTES];
        if (crypto_pwhash_str(fresh, password, plen, PW_OPS, PW_MEM) == 0) {
            pthread_mutex_lock(&s->mu);
            sqlite3_stmt *st = NULL;
            if (prepare(s, &st, "UPDATE users SET password_hash = ? WHERE id = ? AND password_hash = ?", "rehash",
                        NULL) == 0) {
                sqlite3_bind_text(st, 1, fresh, -1, SQLITE_TRANSIENT);
                sqlite3_bind_int64(st, 2, u.id);
                sqlite3_bind_text(st, 3, hash, -1, SQLITE_TRANSIENT);
                step_done(s, st, "rehash", NULL, NULL);   /* best effort: the login stands */
            }
            pthread_mutex_unlock(&s->mu);
            sodium_memzero(fresh, sizeof fresh);
        }
    }
    sodium_memzero(hash, sizeof hash);
    if (out)
        *out = u;
    return 0;
}

static bool token_well_formed(const char *t)
{
    if (!t || strlen(t) != HH_SESSION_TOKEN_LEN)
        return false;
    for (const char *p = t; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
            return false;
    }
    return true;
}

static void random_token(char *out, size_t cap)
{
    unsigned char raw[SESSION_RAW_LEN];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2base64(out, cap, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof raw);
}

/* The stored form of a cookie value: keyed BLAKE2b-256. */
static void cookie_hash(const hh_store_t *s, const char *cookie, unsigned char h[ID_HASH_LEN])
{
    crypto_generichash(h, ID_HASH_LEN, (const unsigned char *)cookie, strlen(cookie), s->secret, sizeof s->secret);
}

int hh_store_session_create(hh_store_t *s, int64_t user_id, const hh_store_session_params_t *params,
                            char *cookie_out, size_t cap, hh_store_session_t *out, hh_err_t *err)
{
    if (!cookie_out || cap < HH_SESSION_TOKEN_LEN + 1)
        return hh_err_set(err, HH_EINVAL, -1, "store: cookie buffer needs %d bytes", HH_SESSION_TOKEN_LEN + 1);
    hh_store_session_params_t p = params_or_default(params);
    hh_store_session_t sess;
    memset(&sess, 0, sizeof sess);
    random_token(cookie_out, cap);
    random_token(sess.csrf, sizeof sess.csrf);
    unsigned char h[ID_HASH_LEN];
    cookie_hash(s, cookie_out, h);
    int64_t now = now_ms();
    sess.created_at = now;
    sess.expires_at = now + p.max_ms;
    sess.idle_until = now + p.idle_ms < sess.expires_at ? now + p.idle_ms : sess.expires_at;

    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = NULL;
    /* Sweep dead sessions first so the table does not grow with old logins. */
    int rc = prepare(s, &st, "DELETE FROM sessions WHERE expires_at <= ?1 OR last_seen_at <= ?1 - ?2",
                     "sweep sessions", err);
    if (rc)
        goto done;
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_int64(st, 2, p.idle_ms);
    if ((rc = step_done(s, st, "sweep sessions", NULL, err)))
        goto done;
    if ((rc = prepare(s, &st,
                      "INSERT INTO sessions (id_hash, user_id, csrf, created_at, expires_at, last_seen_at) "
                      "VALUES (?, ?, ?, ?, ?, ?)",
                      "create session", err)))
        goto done;
    sqlite3_bind_blob(st, 1, h, sizeof h, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, user_id);
    sqlite3_bind_text(st, 3, sess.csrf, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 4, now);
    sqlite3_bind_int64(st, 5, sess.expires_at);
    sqlite3_bind_int64(st, 6, now);
    if ((rc = step_done(s, st, "create session (does the user exist?)", NULL, err)))
        goto done;
    if ((rc = prepare(s, &st, "SELECT name, role, created_at FROM users WHERE id = ?", "create session", err)))
        goto done;
    sqlite3_bind_int64(st, 1, user_id);
    if (sqlite3_step(st) == SQLITE_ROW) {
        copy_text(sess.key.user, sizeof sess.key.user, sqlite3_column_text(st, 0));
        copy_text(sess.key.role, sizeof sess.key.role, sqlite3_column_text(st, 1));
    }
    sqlite3_finalize(st);
    sess.key.id = HH_STORE_SESSION_KEY_ID;
    sess.key.user_id = user_id;
    snprintf(sess.key.prefix, sizeof sess.key.prefix, "session");
    sess.key.created_at = now / 1000;
done:
    pthread_mutex_unlock(&s->mu);
    sodium_memzero(h, sizeof h);
    if (rc) {
        sodium_memzero(cookie_out, cap);
        return rc;
    }
    if (out)
        *out = sess;
    return 0;
}

int hh_store_session_lookup(hh_store_t *s, const char *cookie, const hh_store_session_params_t *params,
                            hh_store_session_t *out, hh_err_t *err)
{
    if (!token_well_formed(cookie))
        return hh_err_set(err, HH_ENOENT, -1, "no such session");
    hh_store_session_params_t p = params_or_default(params);
    unsigned char h[ID_HASH_LEN];
    cookie_hash(s, cookie, h);
    int64_t now = now_ms();

    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = NULL;
    int rc = prepare(s, &st,
                     "SELECT s.user_id, u.name, u.role, s.csrf, s.created_at, s.expires_at, s.last_seen_at, "
                     "u.disabled FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id_hash = ?",
                     "find session", err);
    if (rc)
        goto done;
    sqlite3_bind_blob(st, 1, h, sizeof h, SQLITE_TRANSIENT);
    int sr = sqlite3_step(st);
    if (sr == SQLITE_DONE) {
        sqlite3_finalize(st);
        st = NULL;
        rc = hh_err_set(err, HH_ENOENT, -1, "no such session");
        goto done;
    }
    if (sr != SQLITE_ROW) {
        rc = hh_store_db_fail(s, err, "find session");
        goto done;
    }
    hh_store_session_t sess;
    memset(&sess, 0, sizeof sess);
    sess.key.id = HH_STORE_SESSION_KEY_ID;
    sess.key.user_id = sqlite3_column_int64(st, 0);
    copy_text(sess.key.user, sizeof sess.key.user, sqlite3_column_text(st, 1));
    copy_text(sess.key.role, sizeof sess.key.role, sqlite3_column_text(st, 2));
    copy_text(sess.csrf, sizeof sess.csrf, sqlite3_column_text(st, 3));
    sess.created_at = sqlite3_column_int64(st, 4);
    sess.expires_at = sqlite3_column_int64(st, 5);
    int64_t last_seen = sqlite3_column_int64(st, 6);
    bool disabled = sqlite3_column_int(st, 7) != 0;
    sqlite3_finalize(st);
    st = NULL;
    snprintf(sess.key.prefix, sizeof sess.key.prefix, "session");
    sess.key.created_at = sess.created_at / 1000;
    sess.key.last_used_at = now / 1000;

    if (disabled || now >= sess.expires_at || now - last_seen >= p.idle_ms) {
        if (prepare(s, &st, "DELETE FROM sessions WHERE id_hash = ?", "end session", NULL) == 0) {
            sqlite3_bind_blob(st, 1, h, sizeof h, SQLITE_TRANSIENT);
            step_done(s, st, "end session", NULL, NULL);
            st = NULL;
        }
        rc = hh_err_set(err, HH_ENOENT, -1, "no such session");
        goto done;
    }
    /* Sliding idle deadline. Each write is an fsync, so last_seen_at moves
     * only when a tenth of the idle time (at most a minute) has passed. */
    int64_t step = p.idle_ms / 10 < 60000 ? p.idle_ms / 10 : 60000;
    if (now - last_seen >= step && prepare(s, &st, "UPDATE sessions SET last_seen_at = ? WHERE id_hash = ?",
                                           "touch session", NULL) == 0) {
        sqlite3_bind_int64(st, 1, now);
        sqlite3_bind_blob(st, 2, h, sizeof h, SQLITE_TRANSIENT);
        if (step_done(s, st, "touch session", NULL, NULL) == 0)
            last_seen = now;
        st = NULL;
    }
    sess.idle_until = last_seen + p.idle_ms < sess.expires_at ? last_seen + p.idle_ms : sess.expires_at;
    if (out)
        *out = sess;
    hh_err_clear(err);
done:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    sodium_memzero(h, sizeof h);
    return rc;
}

int hh_store_session_delete(hh_store_t *s, const char *cookie, hh_err_t *err)
{
    if (!token_well_formed(cookie))
        return hh_err_set(err, HH_ENOENT, -1, "no such session");
    unsigned char h[ID_HASH_LEN];
    cookie_hash(s, cookie, h);
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = NULL;
    int64_t changed = 0;
    int rc = prepare(s, &st, "DELETE FROM sessions WHERE id_hash = ?", "end session", err);
    if (rc == 0) {
        sqlite3_bind_blob(st, 1, h, sizeof h, SQLITE_TRANSIENT);
        rc = step_done(s, st, "end session", &changed, err);
    }
    pthread_mutex_unlock(&s->mu);
    if (rc == 0 && changed == 0)
        rc = hh_err_set(err, HH_ENOENT, -1, "no such session");
    return rc;
}

int hh_store_session_delete_user(hh_store_t *s, int64_t user_id, int64_t *n, hh_err_t *err)
{
    pthread_mutex_lock(&s->mu);
    int rc = delete_user_sessions_locked(s, user_id, n, err);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int hh_store_user_change_password(hh_store_t *s, int64_t user_id, const char *password, const char *keep_cookie,
                                  int64_t *ended, hh_err_t *err)
{
    if (ended)
        *ended = 0;
    int rc = password_ok(password, err);
    if (rc)
        return rc;
    char hash[crypto_pwhash_STRBYTES];
    if (crypto_pwhash_str(hash, password, strlen(password), PW_OPS, PW_MEM) != 0)
        return hh_err_set(err, HH_ENOMEM, -1, "store: argon2id could not get %zu bytes", (size_t)PW_MEM);
    /* An unknown or malformed cookie keeps nothing: every session ends. */
    unsigned char keep[ID_HASH_LEN];
    memset(keep, 0, sizeof keep);
    if (token_well_formed(keep_cookie))
        cookie_hash(s, keep_cookie, keep);
    int64_t changed = 0;
    sqlite3_stmt *st = NULL;
    if ((rc = hh_store_tx_begin(s, err)))
        goto out;
    if ((rc = prepare(s, &st, "UPDATE users SET password_hash = ? WHERE id = ?", "change password", err)))
        goto done;
    sqlite3_bind_text(st, 1, hash, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, user_id);
    if ((rc = step_done(s, st, "change password", &changed, err)))
        goto done;
    if (changed == 0) {
        rc = hh_err_set(err, HH_ENOENT, -1, "store: no user %lld", (long long)user_id);
        goto done;
    }
    if ((rc = prepare(s, &st, "DELETE FROM sessions WHERE user_id = ? AND id_hash <> ?", "end sessions", err)))
        goto done;
    sqlite3_bind_int64(st, 1, user_id);
    sqlite3_bind_blob(st, 2, keep, sizeof keep, SQLITE_TRANSIENT);
    rc = step_done(s, st, "end sessions", ended, err);
done:
    rc = hh_store_tx_end(s, rc, err);
out:
    sodium_memzero(hash, sizeof hash);
    return rc;
}
