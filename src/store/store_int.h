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

/* Records SQLite's current error as HH_EIO "store: <what>: <message>". */
int hh_store_db_fail(hh_store_t *s, hh_err_t *err, const char *what);

#endif
