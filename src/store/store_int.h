/* store_int.h - private to the SQLite store: the handle's layout, shared by
 * store_sqlite.c (open, migrations, users, keys) and store_kb.c (knowledge
 * base). Code outside src/store that must run its own SQL (kb/retrieve:
 * FTS5 queries with the ACL join) may include it; it then holds s->mu
 * around its statements, like every store function does, and never writes. */
#ifndef HH_STORE_STORE_INT_H
#define HH_STORE_STORE_INT_H

#include "store/store.h"

#include <pthread.h>
#include <sqlite3.h>

#define HH_STORE_SECRET_LEN 32

struct hh_store {
    sqlite3        *db;
    pthread_mutex_t mu;            /* serializes every use of db */
    unsigned char   secret[HH_STORE_SECRET_LEN];
    char           *data_dir;      /* owned copy */
};

/* The SQL of migration version (1-based), NULL when there is none: for
 * tests that run one migration on a database they prepared. */
const char *hh_store_migration_sql(int version);

/* Records SQLite's current error as HH_EIO "store: <what>: <message>". */
int hh_store_db_fail(hh_store_t *s, hh_err_t *err, const char *what);

/* A growing array of elem-byte elements (v owned by the caller; free it). */
typedef struct hh_store_rows {
    void  *v;
    size_t n, cap, elem;
} hh_store_rows_t;

/* Room for one more element at the end (NULL on no memory; g unchanged). */
void *hh_store_rows_next(hh_store_rows_t *g);

/* Steps st to its end, appending one element per row, filled by read, to
 * g. Returns 0, HH_ENOMEM, or the database error (what names the query). */
int hh_store_collect_rows(hh_store_t *s, sqlite3_stmt *st, hh_store_rows_t *g,
                          void (*read)(sqlite3_stmt *, void *), const char *what, hh_err_t *err);

/* Ends a list query run under s->mu: finalizes st (may be NULL), releases
 * s->mu, and when rc is 0 hands g's elements to the caller (out: the
 * address of the caller's element pointer, n: the count), else frees them.
 * Returns rc. */
int hh_store_rows_end(hh_store_t *s, sqlite3_stmt *st, hh_store_rows_t *g, int rc, void *out, size_t *n);

/* ---- usage rows inside another module's transaction (govern/gdpr.c); the
 * caller holds s->mu ---- */

/* Every (day, use case) counter of user_id, oldest first; *out malloc'd. */
int hh_store_usage_of_user_locked(hh_store_t *s, int64_t user_id, hh_store_usage_day_t **out, size_t *n,
                                  hh_err_t *err);
/* Pseudonymizes (user_id = NULL) the usage rows of every user whose name
 * contains subject (ASCII case-insensitive, the erasure's match); *n rows. */
int hh_store_usage_forget_subject_locked(hh_store_t *s, const char *subject, int64_t *n, hh_err_t *err);
/* Pseudonymizes the usage rows of days before before_day; *n rows. */
int hh_store_usage_expire_locked(hh_store_t *s, int64_t before_day, int64_t *n, hh_err_t *err);

#endif
