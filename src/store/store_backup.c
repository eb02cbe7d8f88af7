/* store_backup.c - the store's part of `hoheit backup` / `hoheit restore`:
 * a read-only handle on a live (or restored) database, a consistent copy
 * through SQLite's online backup API, the integrity check, and the counts
 * and document hashes the backup manifest and the restore summary need. */
#include "store/store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int hh_store_open_readonly(hh_store_t **out, const char *dir, hh_err_t *err)
{
    *out = NULL;
    char path[4096];
    if (snprintf(path, sizeof path, "%s/hoheit.db", dir) >= (int)sizeof path)
        return hh_err_set(err, HH_EINVAL, -1, "store: data directory path too long");
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
        return hh_err_set(err, HH_ENOENT, -1, "store: no database at %s", path);
    hh_store_t *s = calloc(1, sizeof *s);
    if (!s)
        return hh_err_set(err, HH_ENOMEM, -1, "store: out of memory");
    pthread_mutex_init(&s->mu, NULL);
    int rc = 0;
    if (!(s->data_dir = strdup(dir))) {
        rc = hh_err_set(err, HH_ENOMEM, -1, "store: out of memory");
        goto fail;
    }
    if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_FULLMUTEX, NULL) != SQLITE_OK) {
        rc = hh_store_db_fail(s, err, path);
        goto fail;
    }
    /* a live server may hold the write lock for a moment; WAL readers wait
     * only for recovery or a checkpoint restart */
    sqlite3_busy_timeout(s->db, 10000);
    *out = s;
    return 0;
fail:
    hh_store_close(s);
    return rc;
}

int hh_store_backup_to(hh_store_t *s, const char *path, hh_err_t *err)
{
    /* Create the file ourselves: O_EXCL refuses an existing one, and the
     * mode is 0600 whatever the umask (SQLite would use 0644). An empty
     * file is a valid empty database for SQLite. */
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return hh_err_set(err, errno == EEXIST ? HH_EINVAL : HH_EIO, -1, "store: cannot create %s: %s", path,
                          strerror(errno));
    close(fd);
    sqlite3 *dst = NULL;
    int rc = 0;
    if (sqlite3_open_v2(path, &dst, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        rc = hh_err_set(err, HH_EIO, -1, "store: cannot open %s: %s", path, dst ? sqlite3_errmsg(dst) : "no memory");
        goto done;
    }
    pthread_mutex_lock(&s->mu);
    sqlite3_backup *b = sqlite3_backup_init(dst, "main", s->db, "main");
    if (!b) {
        pthread_mutex_unlock(&s->mu);
        rc = hh_err_set(err, HH_EIO, -1, "store: backup: %s", sqlite3_errmsg(dst));
        goto done;
    }
    /* All pages in one step: one read transaction on the source, so the
     * copy is exactly one committed state even while another process
     * writes (in steps, a write by another connection restarts the copy).
     * BUSY/LOCKED only when the source cannot start reading yet: retry. */
    int sr;
    for (int tries = 0;; tries++) {
        sr = sqlite3_backup_step(b, -1);
        if ((sr != SQLITE_BUSY && sr != SQLITE_LOCKED) || tries >= 200)
            break;
        sqlite3_sleep(50);
    }
    int fr = sqlite3_backup_finish(b);
    pthread_mutex_unlock(&s->mu);
    if (sr != SQLITE_DONE || fr != SQLITE_OK) {
        rc = hh_err_set(err, HH_EIO, -1, "store: backup of the database failed: %s (%s)", sqlite3_errstr(sr),
                        sqlite3_errmsg(dst));
        goto done;
    }
    /* The copy carries the source's WAL flag; one self-contained file is
     * what a backup should be (restore's open switches WAL on again). */
    char *msg = NULL;
    if (sqlite3_exec(dst, "PRAGMA journal_mode=DELETE", NULL, NULL, &msg) != SQLITE_OK) {
        rc = hh_err_set(err, HH_EIO, -1, "store: %s: journal mode: %s", path, msg ? msg : "failed");
        sqlite3_free(msg);
        goto done;
    }
done:
    if (dst && sqlite3_close(dst) != SQLITE_OK && !rc)
        rc = hh_err_set(err, HH_EIO, -1, "store: cannot close %s", path);
    if (!rc) {
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || fsync(fd) != 0)
            rc = hh_err_set(err, HH_EIO, -1, "store: cannot fsync %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
    }
    if (rc)
        unlink(path);
    return rc;
}

int hh_store_integrity_check(hh_store_t *s, bool *ok, char *msg, size_t cap, hh_err_t *err)
{
    (void)err;
    *ok = false;
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = NULL;
    int sr = sqlite3_prepare_v2(s->db, "PRAGMA integrity_check(1)", -1, &st, NULL);
    if (sr == SQLITE_OK)
        sr = sqlite3_step(st);
    if (sr == SQLITE_ROW) {
        const unsigned char *t = sqlite3_column_text(st, 0);
        snprintf(msg, cap, "%s", t ? (const char *)t : "(no answer)");
        *ok = t && !strcmp((const char *)t, "ok");
    } else {
        /* not readable at all (not a database, truncated header): a verdict */
        snprintf(msg, cap, "%s", sqlite3_errmsg(s->db));
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    return 0;
}

/* Caller holds s->mu. */
static int version_locked(hh_store_t *s, int *v)
{
    sqlite3_stmt *st = NULL;
    *v = 0;
    if (sqlite3_prepare_v2(s->db, "SELECT COALESCE(MAX(version), 0) FROM schema_version", -1, &st, NULL) != SQLITE_OK)
        return -1;
    int sr = sqlite3_step(st);
    if (sr == SQLITE_ROW)
        *v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return sr == SQLITE_ROW ? 0 : -1;
}

static void read_sha(sqlite3_stmt *st, void *elem)
{
    const unsigned char *t = sqlite3_column_text(st, 0);
    *(char **)elem = strdup(t ? (const char *)t : "");
}

int hh_store_doc_file_hashes(hh_store_t *s, char ***shas, size_t *n, hh_err_t *err)
{
    *shas = NULL;
    *n = 0;
    hh_store_rows_t g = { .elem = sizeof(char *) };
    sqlite3_stmt *st = NULL;
    int v = 0, rc = 0;
    pthread_mutex_lock(&s->mu);
    if (version_locked(s, &v) != 0) {
        rc = hh_store_db_fail(s, err, "schema_version");
        goto done;
    }
    if (v < 2)   /* no knowledge base yet */
        goto done;
    /* erased_at (migration 6): a GDPR erasure removed the original and kept the row */
    const char *sql = v >= 6 ? "SELECT DISTINCT sha256 FROM documents WHERE erased_at IS NULL ORDER BY sha256"
                             : "SELECT DISTINCT sha256 FROM documents ORDER BY sha256";
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
        rc = hh_store_db_fail(s, err, "document hashes");
        goto done;
    }
    rc = hh_store_collect_rows(s, st, &g, read_sha, "document hashes", err);
    for (size_t i = 0; !rc && i < g.n; i++)
        if (!((char **)g.v)[i])
            rc = hh_err_set(err, HH_ENOMEM, -1, "store: out of memory");
    if (rc) {
        for (size_t i = 0; i < g.n; i++)
            free(((char **)g.v)[i]);
    }
done:
    return hh_store_rows_end(s, st, &g, rc, shas, n);
}

/* One COUNT-like query; *out untouched when the table is missing. Caller holds s->mu. */
static int count_locked(hh_store_t *s, const char *sql, int64_t *out, hh_err_t *err)
{
    sqlite3_stmt *st = NULL;
    int rc = 0;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW)
        rc = hh_store_db_fail(s, err, sql);
    else
        *out = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc;
}

int hh_store_counts(hh_store_t *s, hh_store_counts_t *out, hh_err_t *err)
{
    memset(out, 0, sizeof *out);
    /* (minimum schema version, query, field) */
    const struct {
        int         min_v;
        const char *sql;
        int64_t    *dst;
    } q[] = {
        { 1, "SELECT COUNT(*) FROM users", &out->users },
        { 1, "SELECT COUNT(*) FROM api_keys", &out->api_keys },
        { 1, "SELECT COUNT(*) FROM api_keys WHERE revoked_at IS NULL", &out->active_api_keys },
        { 2, "SELECT COUNT(*) FROM collections", &out->collections },
        { 2, "SELECT COUNT(*) FROM documents", &out->documents },
        { 2, "SELECT COUNT(*) FROM chunks", &out->chunks },
        { 2, "SELECT COUNT(*) FROM chunk_vectors", &out->vectors },
        { 3, "SELECT COUNT(*) FROM audit_log", &out->audit_records },
        { 3, "SELECT COALESCE(MAX(seq), 0) FROM audit_log", &out->audit_last_seq },
    };
    int v = 0, rc = 0;
    pthread_mutex_lock(&s->mu);
    /* one read transaction: the counts describe one state */
    if (sqlite3_exec(s->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
        rc = hh_store_db_fail(s, err, "begin");
        goto done;
    }
    if (version_locked(s, &v) != 0)
        rc = hh_store_db_fail(s, err, "schema_version");
    for (size_t i = 0; !rc && i < sizeof q / sizeof q[0]; i++)
        if (v >= q[i].min_v)
            rc = count_locked(s, q[i].sql, q[i].dst, err);
    sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
done:
    pthread_mutex_unlock(&s->mu);
    return rc;
}
