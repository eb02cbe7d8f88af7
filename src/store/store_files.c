/* store_files.c - the model file hash cache (store.h, "file hashes"; table
 * model_hashes): the SHA-256 of a model file by path, size and mtime, so a
 * system card (govern/syscard.c) hashes a multi-gigabyte file once. */
#include "store/store_int.h"

#include <pthread.h>
#include <sqlite3.h>
#include <string.h>

int hh_store_model_hash_get(hh_store_t *s, const char *path, int64_t size, int64_t mtime_ns,
                            char hex[HH_SHA256_HEX_LEN + 1], bool *found, hh_err_t *err)
{
    *found = false;
    if (!s || !path)
        return hh_err_set(err, HH_EINVAL, -1, "store: model hash needs a path");
    sqlite3_stmt *st = NULL;
    pthread_mutex_lock(&s->mu);
    int rc = hh_store_prepare(s, &st, "SELECT sha256 FROM model_hashes WHERE path = ? AND size = ? AND mtime_ns = ?",
                              err);
    if (rc == 0) {
        sqlite3_bind_text(st, 1, path, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 2, size);
        sqlite3_bind_int64(st, 3, mtime_ns);
        int r = sqlite3_step(st);
        /* a cached value of another length is no hash: hash the file again */
        if (r == SQLITE_ROW && sqlite3_column_bytes(st, 0) == HH_SHA256_HEX_LEN) {
            memcpy(hex, sqlite3_column_text(st, 0), HH_SHA256_HEX_LEN + 1);
            *found = true;
        } else if (r != SQLITE_ROW && r != SQLITE_DONE) {
            rc = hh_store_db_fail(s, err, "model_hashes");
        }
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int hh_store_model_hash_put(hh_store_t *s, const char *path, int64_t size, int64_t mtime_ns, const char *hex,
                            hh_err_t *err)
{
    if (!s || !path || !hex || strlen(hex) != HH_SHA256_HEX_LEN)
        return hh_err_set(err, HH_EINVAL, -1, "store: model hash needs a path and 64 hex digits");
    sqlite3_stmt *st = NULL;
    pthread_mutex_lock(&s->mu);
    int rc = hh_store_prepare(s, &st,
                              "INSERT OR REPLACE INTO model_hashes (path, size, mtime_ns, sha256) VALUES (?,?,?,?)", err);
    if (rc == 0) {
        sqlite3_bind_text(st, 1, path, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 2, size);
        sqlite3_bind_int64(st, 3, mtime_ns);
        sqlite3_bind_text(st, 4, hex, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = hh_store_db_fail(s, err, "model_hashes");
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    return rc;
}
