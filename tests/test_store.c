/* test_store.c - the SQLite store: migrations, users, API keys. */
#include "harness.h"
#include "store/store.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

static const char *fresh_dir(const char *name)
{
    static char buf[4][512];
    static int slot;
    char *b = buf[slot++ % 4];
    snprintf(b, 512, "%s/store-%s", hh_test_tmpdir(), name);
    return b;
}

/* Counts rows of a query run directly against the database file. */
static long long db_count(const char *dir, const char *sql)
{
    char path[600];
    snprintf(path, sizeof path, "%s/hoheit.db", dir);
    sqlite3 *db = NULL;
    long long n = -1;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
            n = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return n;
}

TEST(store_migrations_idempotent)
{
    const char *dir = fresh_dir("mig");
    hh_err_t err;
    hh_store_t *s = NULL;
    ASSERT_OK(hh_store_open(&s, dir, &err));
    int v = 0;
    ASSERT_OK(hh_store_schema_version(s, &v, &err));
    /* Every migration applied (at least the audit log's, number 3); later
     * opens keep exactly this version. */
    ASSERT_GE(v, 3);
    const int v0 = v;
    hh_store_user_t u;
    ASSERT_OK(hh_store_user_ensure(s, "alice", "member", &u, NULL, &err));
    hh_store_close(s);
    /* Second and third opens apply nothing and keep the data. */
    for (int i = 0; i < 2; i++) {
        ASSERT_OK(hh_store_open(&s, dir, &err));
        ASSERT_OK(hh_store_schema_version(s, &v, &err));
        ASSERT_EQ_INT(v, v0);
        int64_t n = 0;
        ASSERT_OK(hh_store_user_count(s, &n, &err));
        ASSERT_EQ_INT(n, 1);
        hh_store_close(s);
    }
    ASSERT_EQ_INT(db_count(dir, "SELECT COUNT(*) FROM schema_version"), v0);
    /* WAL mode persisted in the file. */
    char path[600];
    snprintf(path, sizeof path, "%s/hoheit.db", dir);
    sqlite3 *db = NULL;
    ASSERT_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    ASSERT_EQ_INT(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    ASSERT_EQ_INT(sqlite3_step(st), SQLITE_ROW);
    char mode[16];
    snprintf(mode, sizeof mode, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(db);
    ASSERT_STREQ(mode, "wal");
    struct stat sb;
    snprintf(path, sizeof path, "%s/secret.key", dir);
    ASSERT_OK(stat(path, &sb));
    ASSERT_EQ_INT(sb.st_size, 32);
    ASSERT_EQ_INT(sb.st_mode & 0777, 0600);
}

TEST(store_refuses_newer_schema)
{
    const char *dir = fresh_dir("newer");
    hh_err_t err;
    hh_store_t *s = NULL;
    ASSERT_OK(hh_store_open(&s, dir, &err));
    hh_store_close(s);
    char path[600];
    snprintf(path, sizeof path, "%s/hoheit.db", dir);
    sqlite3 *db = NULL;
    ASSERT_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
    ASSERT_EQ_INT(sqlite3_exec(db, "INSERT INTO schema_version VALUES (99, 0)", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    ASSERT_EQ_INT(hh_store_open(&s, dir, &err), HH_EFORMAT);
    ASSERT_TRUE(s == NULL);
}

TEST(store_users_roles)
{
    hh_err_t err;
    hh_store_t *s = NULL;
    ASSERT_OK(hh_store_open(&s, fresh_dir("users"), &err));
    hh_store_user_t u;
    bool created = false;
    ASSERT_OK(hh_store_user_ensure(s, "bob", "auditor", &u, &created, &err));
    ASSERT_TRUE(created);
    ASSERT_STREQ(u.name, "bob");
    ASSERT_STREQ(u.role, "auditor");
    int64_t id = u.id;
    ASSERT_OK(hh_store_user_ensure(s, "bob", "auditor", &u, &created, &err));
    ASSERT_FALSE(created);
    ASSERT_EQ_INT(u.id, id);
    ASSERT_EQ_INT(hh_store_user_ensure(s, "bob", "admin", &u, NULL, &err), HH_EINVAL);
    ASSERT_EQ_INT(hh_store_user_ensure(s, "carol", "root", &u, NULL, &err), HH_EINVAL);
    ASSERT_EQ_INT(hh_store_user_ensure(s, "", "member", &u, NULL, &err), HH_EINVAL);
    ASSERT_EQ_INT(hh_store_user_get(s, "nobody", &u, &err), HH_ENOENT);
    /* A name that looks like SQL is just a name (bound parameters). */
    ASSERT_OK(hh_store_user_ensure(s, "x'); DROP TABLE users; --", "member", &u, &created, &err));
    ASSERT_TRUE(created);
    int64_t n = 0;
    ASSERT_OK(hh_store_user_count(s, &n, &err));
    ASSERT_EQ_INT(n, 2);
    hh_store_close(s);
}

TEST(store_keys_create_verify_revoke)
{
    const char *dir = fresh_dir("keys");
    hh_err_t err;
    hh_store_t *s = NULL;
    ASSERT_OK(hh_store_open(&s, dir, &err));
    hh_store_user_t u;
    ASSERT_OK(hh_store_user_ensure(s, "admin", "admin", &u, NULL, &err));
    char key[HH_KEY_LEN + 1], key2[HH_KEY_LEN + 1];
    hh_store_key_t info;
    ASSERT_OK(hh_store_key_create(s, u.id, key, sizeof key, &info, &err));
    ASSERT_EQ_INT(strlen(key), HH_KEY_LEN);
    ASSERT_TRUE(strncmp(key, "hk_", 3) == 0);
    ASSERT_EQ_INT(strncmp(info.prefix, key, HH_KEY_PREFIX_LEN), 0);
    ASSERT_EQ_INT(strlen(info.prefix), HH_KEY_PREFIX_LEN);
    ASSERT_OK(hh_store_key_create(s, u.id, key2, sizeof key2, NULL, &err));
    ASSERT_TRUE(strcmp(key, key2) != 0);

    hh_store_key_t k;
    ASSERT_OK(hh_store_key_verify(s, key, &k, &err));
    ASSERT_EQ_INT(k.id, info.id);
    ASSERT_STREQ(k.user, "admin");
    ASSERT_STREQ(k.role, "admin");
    ASSERT_TRUE(k.last_used_at > 0);
    /* One changed character, a truncated key, garbage: all unknown. */
    char bad[HH_KEY_LEN + 1];
    memcpy(bad, key, sizeof bad);
    bad[HH_KEY_LEN - 1] = bad[HH_KEY_LEN - 1] == 'A' ? 'B' : 'A';
    ASSERT_EQ_INT(hh_store_key_verify(s, bad, &k, &err), HH_ENOENT);
    bad[20] = '\0';
    ASSERT_EQ_INT(hh_store_key_verify(s, bad, &k, &err), HH_ENOENT);
    ASSERT_EQ_INT(hh_store_key_verify(s, "", &k, &err), HH_ENOENT);
    ASSERT_EQ_INT(hh_store_key_verify(s, NULL, &k, &err), HH_ENOENT);

    hh_store_key_t *list = NULL;
    size_t n = 0;
    ASSERT_OK(hh_store_key_list(s, &list, &n, &err));
    ASSERT_EQ_INT(n, 2);
    /* ids are random (issue 12) and both keys were made in the same
     * second: the first key is either one */
    int first = list[0].id == info.id ? 0 : 1;
    ASSERT_EQ_INT(list[first].id, info.id);
    ASSERT_EQ_INT(list[first].revoked_at, 0);
    free(list);

    /* Revoke by prefix: the first key stops working, the second does not. */
    ASSERT_OK(hh_store_key_revoke(s, info.prefix, &err));
    ASSERT_EQ_INT(hh_store_key_verify(s, key, &k, &err), HH_ENOENT);
    ASSERT_OK(hh_store_key_verify(s, key2, &k, &err));
    ASSERT_EQ_INT(hh_store_key_revoke(s, info.prefix, &err), HH_ENOENT);
    /* Revoke by id. */
    char idbuf[32];
    snprintf(idbuf, sizeof idbuf, "%lld", (long long)k.id);
    ASSERT_OK(hh_store_key_revoke(s, idbuf, &err));
    ASSERT_EQ_INT(hh_store_key_verify(s, key2, &k, &err), HH_ENOENT);
    ASSERT_EQ_INT(hh_store_key_revoke(s, "999999", &err), HH_ENOENT);
    ASSERT_OK(hh_store_key_list(s, &list, &n, &err));
    ASSERT_EQ_INT(n, 2);
    ASSERT_TRUE(list[0].revoked_at > 0 && list[1].revoked_at > 0);
    free(list);
    hh_store_close(s);

    /* Only the hash is stored: the key text appears nowhere in the table,
     * and the hash column holds 64 hex digits. */
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM api_keys WHERE hash = '%s' OR hash LIKE '%%%s%%'", key, key + 3);
    ASSERT_EQ_INT(db_count(dir, sql), 0);
    ASSERT_EQ_INT(db_count(dir, "SELECT COUNT(*) FROM api_keys WHERE length(hash) = 64"), 2);
}

TEST(store_key_survives_reopen)
{
    const char *dir = fresh_dir("reopen");
    hh_err_t err;
    hh_store_t *s = NULL;
    ASSERT_OK(hh_store_open(&s, dir, &err));
    hh_store_user_t u;
    ASSERT_OK(hh_store_user_ensure(s, "m", "member", &u, NULL, &err));
    char key[HH_KEY_LEN + 1];
    ASSERT_OK(hh_store_key_create(s, u.id, key, sizeof key, NULL, &err));
    hh_store_close(s);
    ASSERT_OK(hh_store_open(&s, dir, &err));
    hh_store_key_t k;
    ASSERT_OK(hh_store_key_verify(s, key, &k, &err));
    ASSERT_STREQ(k.role, "member");
    hh_store_close(s);
    /* Another install (other secret) does not accept it even with the same
     * rows: the hash is keyed. */
    const char *dir2 = fresh_dir("reopen2");
    ASSERT_OK(mkdir(dir2, 0700));
    char src[600], dst[600];
    snprintf(src, sizeof src, "%s/hoheit.db", dir);
    snprintf(dst, sizeof dst, "%s/hoheit.db", dir2);
    size_t sz = 0;
    void *db = hh_test_read_file(src, &sz);
    ASSERT_TRUE(db != NULL);
    FILE *f = fopen(dst, "wb");
    ASSERT_TRUE(f != NULL);
    ASSERT_EQ_INT(fwrite(db, 1, sz, f), sz);
    fclose(f);
    free(db);
    ASSERT_OK(hh_store_open(&s, dir2, &err));
    hh_store_key_t *list = NULL;
    size_t n = 0;
    ASSERT_OK(hh_store_key_list(s, &list, &n, &err));
    free(list);
    ASSERT_EQ_INT(n, 1);
    ASSERT_EQ_INT(hh_store_key_verify(s, key, &k, &err), HH_ENOENT);
    hh_store_close(s);
}
