/* store.h - hoheit's persistent state behind one interface: users, their
 * roles, and API keys.
 *
 * The embedded backend is SQLite (DATA_DIR/hoheit.db, WAL, foreign keys,
 * synchronous=FULL; schema migrations versioned in code and applied in one
 * transaction at open). Every query is a prepared statement with bound
 * parameters. Nothing here exposes SQLite types, so another backend
 * (PostgreSQL) can stand behind the same functions later.
 *
 * API keys look like "hk_" + 43 base64url characters (32 random bytes from
 * libsodium). Only a keyed BLAKE2b-256 hash of the key is stored; the key
 * for that hash (the per-install secret) lives in DATA_DIR/secret.key, mode
 * 0600. A key is found by its first HH_KEY_PREFIX_LEN characters and then
 * compared by hash in constant time.
 *
 * A store handle may be used from many threads at once (calls are
 * serialized by an internal mutex). */
#ifndef HH_STORE_STORE_H
#define HH_STORE_STORE_H

#include "base/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HH_KEY_LEN        46   /* "hk_" + 43 base64url characters */
#define HH_KEY_PREFIX_LEN 11   /* "hk_" + 8 characters, shown in listings */
#define HH_STORE_NAME_MAX 128  /* user names: 1..127 bytes */

typedef struct hh_store hh_store_t;

typedef struct hh_store_user {
    int64_t id;
    char    name[HH_STORE_NAME_MAX];
    char    role[16];          /* admin | member | auditor | approver */
    int64_t created_at;        /* unix seconds */
    bool    disabled;
} hh_store_user_t;

typedef struct hh_store_key {
    int64_t id;
    int64_t user_id;
    char    user[HH_STORE_NAME_MAX];
    char    role[16];          /* the user's role */
    char    prefix[HH_KEY_PREFIX_LEN + 1];
    int64_t created_at;
    int64_t revoked_at;        /* 0: active */
    int64_t last_used_at;      /* 0: never; updated at most once a minute */
} hh_store_key_t;

/* True for the roles the store accepts: admin, member, auditor, approver. */
bool hh_store_role_valid(const char *role);

/* Opens (creating the directory, database and secret on first use) the
 * store in data_dir and applies pending migrations. Caller owns *out and
 * closes it with hh_store_close. Errors: HH_EIO (directory, file or SQLite
 * failure, message in err), HH_EFORMAT (database newer than this program),
 * HH_ENOMEM. */
int  hh_store_open(hh_store_t **out, const char *data_dir, hh_err_t *err);
void hh_store_close(hh_store_t *s);

/* The schema version the database is at (after open: the newest one). */
int  hh_store_schema_version(hh_store_t *s, int *version, hh_err_t *err);

/* Number of users (to tell a first start apart). */
int  hh_store_user_count(hh_store_t *s, int64_t *n, hh_err_t *err);

/* Finds a user by name: 0, or HH_ENOENT. */
int  hh_store_user_get(hh_store_t *s, const char *name, hh_store_user_t *out, hh_err_t *err);

/* Creates the user if missing. An existing user keeps its row; asking for
 * another role than it has is HH_EINVAL (roles are not changed silently).
 * *created (may be NULL) tells whether a row was added. HH_EINVAL also for
 * an empty or too long name or an unknown role. */
int  hh_store_user_ensure(hh_store_t *s, const char *name, const char *role, hh_store_user_t *out,
                          bool *created, hh_err_t *err);

/* Makes a new key for user_id. key_out (cap >= HH_KEY_LEN + 1) receives the
 * key text: the only time it exists outside the caller. info (may be NULL)
 * the stored row. */
int  hh_store_key_create(hh_store_t *s, int64_t user_id, char *key_out, size_t cap, hh_store_key_t *info,
                         hh_err_t *err);

/* Checks a presented key: 0 and *out filled for an active key of an
 * enabled user; HH_ENOENT for anything else (malformed, unknown, revoked,
 * disabled user). Constant-time in the hash comparison. */
int  hh_store_key_verify(hh_store_t *s, const char *key, hh_store_key_t *out, hh_err_t *err);

/* All keys, oldest first. *out is malloc'd (NULL when *n == 0); caller frees. */
int  hh_store_key_list(hh_store_t *s, hh_store_key_t **out, size_t *n, hh_err_t *err);

/* Revokes a key named by its numeric id or its prefix ("hk_xxxxxxxx").
 * HH_ENOENT if none matches or it is already revoked; HH_EINVAL when a
 * prefix matches more than one key. */
int  hh_store_key_revoke(hh_store_t *s, const char *id_or_prefix, hh_err_t *err);

#endif
