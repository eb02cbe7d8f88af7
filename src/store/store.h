/* store.h - hoheit's persistent state behind one interface: users, their
 * roles, and API keys; the knowledge base's departments, collections,
 * documents, chunks, FTS5 index and vectors (second half of this file);
 * sessions, conversations, quotas and usage; the approval queue and the
 * audit chain (the last sections).
 *
 * The embedded backend is SQLite (DATA_DIR/hoheit.db, WAL, foreign keys,
 * synchronous=FULL; schema migrations versioned in code and applied in one
 * transaction at open). Every query is a prepared statement with bound
 * parameters. Nothing here exposes SQLite types or SQL text, so another
 * backend (PostgreSQL, issue 17) can stand behind the same functions
 * later. The rule that makes that possible: every statement lives in
 * src/store, and the layers above (govern, kb, http, cli) call only the
 * functions declared here. A function that must do work between reading
 * and writing (the audit chain: a record names its seq and hashes its
 * predecessor) takes callbacks and runs them inside its own transaction;
 * the transaction boundary is always inside the store function.
 * tests/test_layers.c checks the rule; the files still waiting to move
 * (kb/retrieve*.c) include the private store_int.h until they do.
 *
 * API keys look like "hk_" + 43 base64url characters (32 random bytes from
 * libsodium). Only a keyed BLAKE2b-256 hash of the key is stored; the key
 * for that hash (the per-install secret) lives in DATA_DIR/secret.key, mode
 * 0600. A key is found by its first HH_KEY_PREFIX_LEN characters and then
 * compared by hash in constant time.
 *
 * A store handle may be used from many threads at once (calls are
 * serialized by an internal mutex).
 *
 * Ids a member may see - of documents, chunks, approvals and use cases -
 * are random, uniform in [1, 10^10), drawn by the OS CSPRNG when the row is
 * made (issue 12: a shared counter let one department count another's
 * uploads and held requests by the gaps between its own ids; ten digits
 * are never taken for a card number or tax id by the PII redaction of an
 * audit detail, and stay exact in JSON and JavaScript). They are
 * neither small nor increasing nor in insertion order; rows made before
 * keep their old small ids. Order by time (lists here do) or, for chunks,
 * by ord. Ids only admins and auditors see (users, API keys, departments,
 * collections) stay counters. See store_int.h (hh_store_insert_new_id)
 * and docs/SECURITY.md "Row ids". */
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
 * store in data_dir and applies pending migrations, all in one transaction,
 * then puts the database in WAL mode. Caller owns *out and closes it with
 * hh_store_close. Errors: HH_EIO (directory, file or SQLite failure,
 * message in err; a failed migration leaves the database file exactly as it
 * was, at its old version), HH_EFORMAT (database newer than this program:
 * refused before anything writes, the file is left as it was; the message
 * names both versions and what to do), HH_ENOMEM. */
int  hh_store_open(hh_store_t **out, const char *data_dir, hh_err_t *err);
void hh_store_close(hh_store_t *s);

/* The data directory the store was opened in (owned by s). */
const char *hh_store_data_dir(const hh_store_t *s);

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

/* ---- knowledge base: departments, collections, documents, chunks -------
 *
 * Access rule: an admin reads every collection; any other user (member,
 * auditor, approver) reads a collection when they share at least one
 * department with it. A collection with no department is readable by
 * admins only.
 *
 * Rights (migration 11): each owning department holds one right on the
 * collection - read; write (also upload and replace documents); manage
 * (also delete documents). A user's right is the highest over the
 * departments they share with it; admins manage every collection;
 * auditors never get more than read; a disabled or unknown user has none.
 * Rights are set with hh_store_collection_grant (the admin CLI).
 *
 * Tables (schema version 2), for code that queries them directly through
 * store_int.h (retrieval):
 *   departments(id, name UNIQUE; also unique ignoring ASCII case: index
 *               departments_name_nocase, migration 9; look names up with
 *               "name = ? COLLATE NOCASE")
 *   user_departments(user_id -> users, department_id -> departments)   PK both
 *   collections(id, name UNIQUE, created_at)
 *   collection_departments(collection_id -> collections, department_id,
 *          access 'read'|'write'|'manage' (migration 11))       PK both ids
 *   documents(id, collection_id -> collections, title, source_path, mime,
 *             sha256 (64 hex), size, ingested_at, ingested_by -> users
 *             (NULL if the user was deleted), status = 'complete')
 *             UNIQUE(collection_id, source_path)
 *   (document and chunk ids: random in [1, 10^10) for new rows (above); the
 *   column is still AUTOINCREMENT, which only matters for rows inserted
 *   without an id - none are)
 *   chunks(id, document_id -> documents, ord (0..), text, heading_path
 *          (" › "-joined, "" when none), page (1-based, 0 = no pages),
 *          n_tokens)                                   UNIQUE(document_id, ord)
 *   (migration 13: chunks.lang 'de' | 'en' | ''; migration 14: chunks.terms,
 *   the analyzed index terms, and chunks.terms_level, 0 = not analyzed yet)
 *   chunks_fts  FTS5 external-content table over chunks(text, heading_path),
 *          content_rowid = chunks.id, tokenize 'unicode61 remove_diacritics 2';
 *          kept in sync by triggers inside the writing transaction.
 *   chunks_terms  FTS5 external-content table over chunks(terms) (migration
 *          14), the one retrieval ranks with; a change of text or
 *          heading_path empties terms and sets terms_level 0.
 *   chunk_vectors(chunk_id -> chunks, model, dim, vec BLOB = dim float32
 *          little-endian, L2-normalized)                PK(chunk_id, model)
 * Every reference is ON DELETE CASCADE (ingested_by: SET NULL), so deleting
 * a document or collection removes its chunks, FTS rows and vectors in the
 * same transaction. A document row exists only with all its chunks (one
 * transaction per document).
 *
 * A search filters by the readable collections in the query itself, before
 * ranking, and ranks with statistics over readable chunks only (not FTS5's
 * table-wide bm25()): src/kb/retrieve.c, docs/KB.md "Ranking".            */

#define HH_SHA256_HEX_LEN 64
#define HH_STORE_PATH_MAX 1024   /* stored source paths: 1..1023 bytes */
#define HH_STORE_TITLE_MAX 256   /* longer titles are cut (UTF-8 safe) */

typedef struct hh_store_collection {
    int64_t id;
    char    name[HH_STORE_NAME_MAX];
    int64_t created_at;
    char    departments[512];  /* names, comma-joined, sorted; cut if longer */
    char    rights[640];       /* "NAME:right" per department, same order */
    int64_t n_documents;
} hh_store_collection_t;

typedef struct hh_store_doc {
    int64_t id;
    int64_t collection_id;
    char    collection[HH_STORE_NAME_MAX];
    char    title[HH_STORE_TITLE_MAX];
    char    source_path[HH_STORE_PATH_MAX];
    char    mime[64];
    char    sha256[HH_SHA256_HEX_LEN + 1];
    int64_t size;              /* bytes of the original file */
    int64_t ingested_at;       /* unix seconds */
    char    ingested_by[HH_STORE_NAME_MAX];   /* "" if unknown */
    int64_t n_chunks;
    char    encoding[32];      /* text encoding the original was read in ("utf-8",
                                * "windows-1252", ...); "" when the format fixes it */
} hh_store_doc_t;

/* One chunk to store (borrowed pointers; nothing is kept after the call). */
typedef struct hh_store_chunk_in {
    const char  *text;          /* UTF-8, NUL-terminated */
    const char  *heading_path;  /* NULL or "" when none */
    int32_t      page;
    int32_t      n_tokens;
    const float *vec;           /* NULL: no vector; else vec_dim floats */
    const char  *lang;          /* "de", "en", "" or NULL (unknown) */
    const char  *terms;         /* analyzed index terms (kb/analyze.h); NULL: not analyzed (level 0) */
    int32_t      terms_level;   /* hh_analyzer_level of terms; ignored when terms is NULL */
} hh_store_chunk_in_t;

/* A document with its chunks, for hh_store_doc_replace. */
typedef struct hh_store_doc_in {
    int64_t                    collection_id;
    const char                *title;
    const char                *source_path;  /* unique within the collection */
    const char                *mime;
    const char                *sha256;       /* 64 lowercase hex */
    int64_t                    size;
    int64_t                    user_id;      /* ingested_by; 0 = none */
    const hh_store_chunk_in_t *chunks;
    size_t                     n_chunks;
    const char                *vec_model;    /* name of the embedding model; NULL when no vectors */
    int32_t                    vec_dim;
    const char                *encoding;     /* the text encoding read (kb/doc.h); NULL or "" when none */
} hh_store_doc_in_t;

/* Chunks to (re)analyze: analyzed below a level (hh_store_chunks_to_analyze).
 * text and heading_path malloc'd: hh_store_chunk_texts_free. */
typedef struct hh_store_chunk_text {
    int64_t id;
    char   *text;
    char   *heading_path;
} hh_store_chunk_text_t;

/* A chunk's analysis (hh_store_chunks_set_terms; borrowed pointers). */
typedef struct hh_store_chunk_terms {
    int64_t     id;
    const char *lang;    /* "de", "en" or "" */
    const char *terms;
} hh_store_chunk_terms_t;

/* Up to max chunks whose terms_level is below level (through the index on
 * terms_level: no scan when there are none). *out is
 * malloc'd (NULL when *n == 0). HH_EIO, HH_ENOMEM. */
int  hh_store_chunks_to_analyze(hh_store_t *s, int level, size_t max, hh_store_chunk_text_t **out, size_t *n,
                                hh_err_t *err);
void hh_store_chunk_texts_free(hh_store_chunk_text_t *v, size_t n);

/* Sets lang, terms and terms_level of the n chunks in one transaction (the
 * FTS index over terms follows by trigger); a chunk that is gone is
 * skipped. HH_EIO. */
int  hh_store_chunks_set_terms(hh_store_t *s, const hh_store_chunk_terms_t *v, size_t n, int level, hh_err_t *err);

/* A stored chunk with its document (hh_store_chunk_get). text and
 * heading_path are malloc'd and owned by the struct: hh_store_chunk_clear. */
typedef struct hh_store_chunk {
    int64_t id;
    int64_t document_id;
    int64_t collection_id;
    int32_t ord;
    int32_t page;
    int32_t n_tokens;
    char   *text;
    char   *heading_path;
    char    title[HH_STORE_TITLE_MAX];
    char    source_path[HH_STORE_PATH_MAX];
} hh_store_chunk_t;

/* Creates the department if missing; *id (may be NULL) its id. A name
 * that differs only in ASCII case from an existing one IS that department
 * (migration 9): no second one is made. HH_EINVAL for an empty or too long
 * (>= HH_STORE_NAME_MAX) name. */
int  hh_store_department_ensure(hh_store_t *s, const char *name, int64_t *id, hh_err_t *err);

/* Makes the user a member of the department (created if missing; found
 * ignoring case). Idempotent. HH_ENOENT for an unknown user. The CLI
 * refuses an unknown department unless --create (hh_store_department_get
 * first). */
int  hh_store_user_add_department(hh_store_t *s, const char *user, const char *department, hh_err_t *err);

/* Removes the membership; HH_ENOENT if there was none. */
int  hh_store_user_remove_department(hh_store_t *s, const char *user, const char *department, hh_err_t *err);

/* Creates the collection if missing and adds the departments (created if
 * missing) to its owners; existing owners stay. n_departments may be 0.
 * *out (may be NULL) receives the row. HH_EINVAL for a bad name. */
int  hh_store_collection_ensure(hh_store_t *s, const char *name, const char *const *departments,
                                size_t n_departments, hh_store_collection_t *out, hh_err_t *err);

/* Finds a collection by name: 0, or HH_ENOENT. */
int  hh_store_collection_get(hh_store_t *s, const char *name, hh_store_collection_t *out, hh_err_t *err);

/* Collections the user may read (user_id 0: all, for the admin CLI), by
 * name. *out is malloc'd (NULL when *n == 0); caller frees. */
int  hh_store_collection_list(hh_store_t *s, int64_t user_id, hh_store_collection_t **out, size_t *n,
                              hh_err_t *err);

/* Deletes a collection with all its documents, chunks and vectors. The
 * sha256 of every removed document goes to *shas (malloc'd array of
 * malloc'd strings, may be NULL to skip; free with hh_store_strings_free)
 * so the caller can drop stored files no longer referenced. */
int  hh_store_collection_delete(hh_store_t *s, int64_t collection_id, char ***shas, size_t *n_shas,
                                hh_err_t *err);

/* Ids of the collections the user may read (admin: all), ascending.
 * *ids is malloc'd (NULL when *n == 0); caller frees. An unknown or
 * disabled user has none. */
int  hh_store_readable_collections(hh_store_t *s, int64_t user_id, int64_t **ids, size_t *n, hh_err_t *err);

/* *ok = whether user_id may read the collection. */
int  hh_store_user_can_read(hh_store_t *s, int64_t user_id, int64_t collection_id, bool *ok, hh_err_t *err);

/* A right on a collection, ordered: each includes the ones below it. */
typedef enum hh_right {
    HH_RIGHT_NONE = 0,
    HH_RIGHT_READ,
    HH_RIGHT_WRITE,   /* upload, replace */
    HH_RIGHT_MANAGE,  /* also delete */
} hh_right_t;

/* "none", "read", "write", "manage". */
const char *hh_right_name(hh_right_t r);
/* Parses "read" | "write" | "manage": 0, or HH_EINVAL. */
int  hh_right_parse(const char *s, hh_right_t *out, hh_err_t *err);

/* *right = user_id's right on the collection (see "Rights" above);
 * HH_RIGHT_NONE for user ids <= 0 and for unreadable collections. */
int  hh_store_user_collection_right(hh_store_t *s, int64_t user_id, int64_t collection_id, hh_right_t *right,
                                    hh_err_t *err);

/* A document of the collection with this sha256 (content already stored):
 * 0 and *out filled (may be NULL; the earliest stored of several), or
 * HH_ENOENT. */
int  hh_store_doc_find_by_hash(hh_store_t *s, int64_t collection_id, const char *sha256, hh_store_doc_t *out,
                               hh_err_t *err);

/* The document of the collection with this source path: 0, or HH_ENOENT. */
int  hh_store_doc_find_by_path(hh_store_t *s, int64_t collection_id, const char *source_path, hh_store_doc_t *out,
                               hh_err_t *err);

/* A document by id: 0, or HH_ENOENT. */
int  hh_store_doc_get(hh_store_t *s, int64_t doc_id, hh_store_doc_t *out, hh_err_t *err);

/* In ONE transaction: deletes the collection's document with the same
 * source path if any (its chunks, FTS rows and vectors go with it), then
 * inserts the document, its chunks (ord = index), their FTS rows and the
 * vectors. Nothing is written on failure. *doc_id (may be NULL) the new
 * id (random, as are the chunks' ids: see the top of this file); old_sha256 (may be NULL, HH_SHA256_HEX_LEN + 1 bytes) receives the
 * replaced document's hash, "" when none was replaced. HH_EINVAL for a
 * missing field, a bad hash, a too long path, vec_dim <= 0 with vectors. */
int  hh_store_doc_replace(hh_store_t *s, const hh_store_doc_in_t *in, int64_t *doc_id, char *old_sha256,
                          hh_err_t *err);

/* Deletes a document with its chunks, FTS rows and vectors. sha256 (may be
 * NULL, HH_SHA256_HEX_LEN + 1 bytes) receives its hash. HH_ENOENT if none. */
int  hh_store_doc_delete(hh_store_t *s, int64_t doc_id, char *sha256, hh_err_t *err);

/* Documents the user may read (user_id 0: all), newest first by
 * ingested_at (seconds; documents of the same second by id, which is
 * random: in no particular order); collection_id 0 = every readable
 * collection. *out is malloc'd (NULL when
 * *n == 0); caller frees. */
int  hh_store_doc_list(hh_store_t *s, int64_t user_id, int64_t collection_id, hh_store_doc_t **out, size_t *n,
                       hh_err_t *err);

/* *used = whether any document (any collection) has this sha256: a stored
 * file may be removed only when none does. */
int  hh_store_sha_in_use(hh_store_t *s, const char *sha256, bool *used, hh_err_t *err);

/* A chunk by id with its document's title and path: 0, or HH_ENOENT.
 * No access check here: callers filter by hh_store_readable_collections. */
int  hh_store_chunk_get(hh_store_t *s, int64_t chunk_id, hh_store_chunk_t *out, hh_err_t *err);
void hh_store_chunk_clear(hh_store_chunk_t *c);

/* Frees an array of n malloc'd strings and the array. */
void hh_store_strings_free(char **v, size_t n);

/* ---- browser login: passwords and sessions (store_auth.c) ---------------
 *
 * Passwords are kept as argon2id strings (libsodium crypto_pwhash_str,
 * interactive limits: 2 passes, 64 MiB) in users.password_hash; NULL means
 * the user has no password and signs in with API keys only. A login always
 * spends one argon2id verification, also for an unknown, password-less or
 * disabled user (against a fixed dummy hash), so the answer time does not
 * tell which user names exist.
 *
 * A session is 32 random bytes, given to the browser as 43 base64url
 * characters (the cookie value). The sessions table keeps only the keyed
 * BLAKE2b-256 of that value (keyed with the install secret, like API keys)
 * and a random CSRF token (43 base64url characters) that the browser must
 * send back in X-CSRF-Token on state-changing requests. Times are unix ms.
 * A session ends at the first of: idle_ms without a request (sliding: each
 * lookup moves it on), max_ms after login (absolute), logout, a password
 * change, or the user being disabled. */

#define HH_PASSWORD_MIN_LEN   10     /* bytes */
#define HH_PASSWORD_MAX_LEN   1024   /* bytes; longer is refused, not cut */
#define HH_SESSION_TOKEN_LEN  43     /* cookie value and CSRF token: base64url of 32 bytes */
#define HH_SESSION_IDLE_MS    (30LL * 60 * 1000)        /* default idle timeout: 30 minutes */
#define HH_SESSION_MAX_MS     (12LL * 60 * 60 * 1000)   /* default absolute lifetime: 12 hours */
#define HH_STORE_SESSION_KEY_ID (-1)  /* hh_store_key_t.id of a cookie session */

typedef struct hh_store_session_params {
    int64_t idle_ms;   /* <= 0: HH_SESSION_IDLE_MS */
    int64_t max_ms;    /* <= 0: HH_SESSION_MAX_MS */
} hh_store_session_params_t;

hh_store_session_params_t hh_store_session_default_params(void);

typedef struct hh_store_session {
    hh_store_key_t key;    /* the shape the API-key path fills: id = HH_STORE_SESSION_KEY_ID,
                            * user_id, user, role; prefix "session"; created_at (unix s) */
    char    csrf[HH_SESSION_TOKEN_LEN + 1];
    int64_t created_at;    /* ms */
    int64_t expires_at;    /* ms: absolute end (created_at + max_ms) */
    int64_t idle_until;    /* ms: ends earlier than expires_at without a request by then */
} hh_store_session_t;

/* A user with what `users list` and /api/me show. */
typedef struct hh_store_user_info {
    hh_store_user_t user;
    bool            has_password;
    char            departments[512];   /* names, comma-joined, sorted; cut if longer */
} hh_store_user_info_t;

/* Sets (replaces) the user's password and ends all their sessions, in one
 * transaction. HH_EINVAL for a password shorter than HH_PASSWORD_MIN_LEN or
 * longer than HH_PASSWORD_MAX_LEN bytes (message says which), HH_ENOENT for
 * an unknown user, HH_ENOMEM when argon2id cannot get its memory. */
int  hh_store_user_set_password(hh_store_t *s, const char *name, const char *password, hh_err_t *err);

/* Removes the password (API keys only again) and ends all sessions. */
int  hh_store_user_clear_password(hh_store_t *s, const char *name, hh_err_t *err);

/* Disables or enables a user. Disabling ends all their sessions; their API
 * keys stop working too (hh_store_key_verify checks the flag). HH_ESTATE
 * when disabling the last enabled admin (as hh_store_user_set_role and
 * hh_store_user_delete), HH_ENOENT for an unknown name. */
int  hh_store_user_set_disabled(hh_store_t *s, const char *name, bool disabled, hh_err_t *err);

/* All users by name with departments and whether they have a password.
 * *out is malloc'd (NULL when *n == 0); caller frees. */
int  hh_store_user_list(hh_store_t *s, hh_store_user_info_t **out, size_t *n, hh_err_t *err);

/* One user by id, as in the list: 0, or HH_ENOENT. */
int  hh_store_user_info(hh_store_t *s, int64_t user_id, hh_store_user_info_t *out, hh_err_t *err);

/* Checks a name and password: 0 and *out (may be NULL) filled for an
 * enabled user whose password matches; HH_ENOENT ("invalid user name or
 * password") for everything else, after the same argon2id work. A hash made
 * with weaker limits than today's is replaced on success. HH_EIO, HH_ENOMEM
 * for failures of the store itself. */
int  hh_store_login_verify(hh_store_t *s, const char *name, const char *password, hh_store_user_t *out,
                           hh_err_t *err);

/* Starts a session for user_id (params may be NULL: defaults). cookie_out
 * (cap >= HH_SESSION_TOKEN_LEN + 1) receives the cookie value: the only
 * time it exists outside the caller. *out (may be NULL) the session.
 * Expired sessions of every user are swept on the way. */
int  hh_store_session_create(hh_store_t *s, int64_t user_id, const hh_store_session_params_t *params,
                             char *cookie_out, size_t cap, hh_store_session_t *out, hh_err_t *err);

/* Finds the session of a cookie value: 0 and *out filled for a live
 * session of an enabled user (its idle deadline moves on); HH_ENOENT for
 * anything else (malformed, unknown, idle too long, past its lifetime,
 * disabled user); a dead session's row is deleted. */
int  hh_store_session_lookup(hh_store_t *s, const char *cookie, const hh_store_session_params_t *params,
                             hh_store_session_t *out, hh_err_t *err);

/* Ends the session of a cookie value (logout): 0, or HH_ENOENT if none. */
int  hh_store_session_delete(hh_store_t *s, const char *cookie, hh_err_t *err);

/* Ends every session of a user; *n (may be NULL) how many. */
int  hh_store_session_delete_user(hh_store_t *s, int64_t user_id, int64_t *n, hh_err_t *err);


/* ---- admin lifecycle (store_admin.c) -------------------------------------
 * Roles, user deletion, departments and collection owners, changed by the
 * admin CLI. Each function is one transaction. Department names are found
 * ignoring ASCII case (migration 9). */

/* What hh_store_user_delete removed or left behind. */
typedef struct hh_store_user_removal {
    int64_t keys;          /* API keys deleted with the user (they stop working at once) */
    int64_t sessions;      /* browser sessions ended */
    int64_t departments;   /* memberships removed */
    int64_t documents;     /* documents they ingested: kept, ingested_by becomes NULL */
    int64_t approvals;     /* approvals they requested or decided: kept, the name in them stays */
    int64_t conversations; /* their stored conversations: deleted with their messages */
} hh_store_user_removal_t;

/* Changes the user's role and ends all their sessions (rights changed).
 * old_role (may be NULL, 16 bytes) receives the role it had. HH_EINVAL for
 * an unknown role, HH_ENOENT for an unknown user, HH_ESTATE (message says
 * so) when it would leave no enabled admin. */
int  hh_store_user_set_role(hh_store_t *s, const char *name, const char *role, char *old_role, hh_err_t *err);

/* Deletes the user: API keys and sessions and memberships go with the row
 * (ON DELETE CASCADE), documents they ingested stay with ingested_by NULL,
 * approvals keep the requester/decider name (they are records of human
 * oversight; hoheit gdpr erase pseudonymizes them), audit records are not
 * touched (append-only chain). *out (may be NULL) counts what happened.
 * HH_ENOENT for an unknown user, HH_ESTATE for the last enabled admin. */
int  hh_store_user_delete(hh_store_t *s, const char *name, hh_store_user_removal_t *out, hh_err_t *err);

/* A department with its members and collections (names comma-joined,
 * sorted; cut if longer). */
typedef struct hh_store_department {
    int64_t id;
    char    name[HH_STORE_NAME_MAX];
    int64_t n_members, n_collections;
    char    members[512];
    char    collections[512];
} hh_store_department_t;

/* Finds a department by name ignoring ASCII case: 0 and *out (may be
 * NULL) filled with its stored spelling, or HH_ENOENT. */
int  hh_store_department_get(hh_store_t *s, const char *name, hh_store_department_t *out, hh_err_t *err);

/* All departments by name. *out malloc'd (NULL when *n == 0); caller frees. */
int  hh_store_department_list(hh_store_t *s, hh_store_department_t **out, size_t *n, hh_err_t *err);

/* Renames a department (a change of case only is allowed). HH_ENOENT for
 * an unknown one, HH_EINVAL for a bad new name or one another department
 * has (ignoring case). */
int  hh_store_department_rename(hh_store_t *s, const char *old_name, const char *new_name, hh_err_t *err);

/* Deletes a department with its memberships and collection ownerships.
 * *orphans (may be NULL; malloc'd array of malloc'd names, free with
 * hh_store_strings_free) receives the collections it leaves without any
 * department (now readable by admins only). HH_ENOENT if unknown. */
int  hh_store_department_delete(hh_store_t *s, const char *name, char ***orphans, size_t *n_orphans,
                                hh_err_t *err);

/* Adds / removes a department as owner of a collection; both must exist
 * (HH_ENOENT names the missing one). Adding is idempotent; removing one
 * that is not an owner is HH_ENOENT. *now_orphan (may be NULL) tells
 * whether the collection has no department left after a removal. */
int  hh_store_collection_add_department(hh_store_t *s, const char *collection, const char *department,
                                        hh_err_t *err);
int  hh_store_collection_remove_department(hh_store_t *s, const char *collection, const char *department,
                                           bool *now_orphan, hh_err_t *err);
/* Gives the department `right` (READ..MANAGE) on the collection, adding
 * it as owner or changing its right; both must exist (HH_ENOENT).
 * *before (may be NULL) receives the right it had (NONE if it was not an
 * owner). Revoking is hh_store_collection_remove_department. */
int  hh_store_collection_grant(hh_store_t *s, const char *collection, const char *department, hh_right_t right,
                               hh_right_t *before, hh_err_t *err);

/* What still refers to a use case by its slug: audit records (their
 * "use_case") and approvals. The register refuses to delete a use case
 * that is referenced (it is disabled instead). */
int  hh_store_usecase_references(hh_store_t *s, const char *slug, int64_t *n_audit, int64_t *n_approvals,
                                 hh_err_t *err);
/* ---- use-case register (store_register.c, migration 4) --------------------
 *
 * The rows behind govern/register.c: each use case's JSON document as the
 * register validated it (the store does not interpret it), its change
 * history, and the default use case of API keys and users. */

#define HH_STORE_SLUG_MAX 64   /* = HH_REG_SLUG_MAX: slugs are 1..63 bytes */

typedef struct hh_store_usecase_row {
    int64_t id;
    char    slug[HH_STORE_SLUG_MAX];
    char   *doc;                 /* owned: the stored JSON document text */
    int64_t created_at, updated_at;
} hh_store_usecase_row_t;

void hh_store_usecase_row_clear(hh_store_usecase_row_t *r);
void hh_store_usecase_rows_free(hh_store_usecase_row_t *rows, size_t n);

/* The use case whose id (key all decimal digits) or slug is key: 0, or
 * HH_ENOENT "unknown use case 'key'". */
int  hh_store_usecase_get(hh_store_t *s, const char *key, hh_store_usecase_row_t *out, hh_err_t *err);
/* All use cases ordered by slug (free with hh_store_usecase_rows_free). */
int  hh_store_usecase_list(hh_store_t *s, hh_store_usecase_row_t **out, size_t *n, hh_err_t *err);

typedef struct hh_store_usecase_write {
    int64_t     id;           /* 0: insert a new row; else update row id */
    const char *expect_doc;   /* update: the document the change was made from */
    const char *slug;         /* the use case's slug (insert: the new row's) */
    const char *risk_class;
    const char *doc;          /* the new document text */
    const char *actor;        /* history: who ("unknown" when NULL or empty) */
    const char *detail;       /* history: JSON text ("{}" when NULL) */
} hh_store_usecase_write_t;

/* Inserts (w->id 0, with a new random id) or updates a use case and
 * appends its history row ("create"/"update") in one transaction. *id
 * (may be NULL) receives the row's id, *at (may be NULL) the time written.
 * An update applies only while the row still holds w->expect_doc: a change
 * made meanwhile is HH_ESTATE (nothing written; read again and retry).
 * HH_EINVAL "a use case with slug ... exists" on insert. */
int  hh_store_usecase_write(hh_store_t *s, const hh_store_usecase_write_t *w, int64_t *id, int64_t *at,
                            hh_err_t *err);

/* Deletes use case id (whose slug is slug), clears the keys' and users'
 * defaults naming it and appends a "delete" history row with detail (JSON
 * text, may be NULL), in one transaction. HH_ENOENT when the row is gone. */
int  hh_store_usecase_delete(hh_store_t *s, int64_t id, const char *slug, const char *actor, const char *detail,
                             hh_err_t *err);

typedef struct hh_store_usecase_event {
    int64_t at;
    char   *actor, *action, *detail;   /* owned; detail is JSON text */
} hh_store_usecase_event_t;

/* The history of use case id, oldest first (free with
 * hh_store_usecase_events_free). A deleted use case keeps its history. */
int  hh_store_usecase_history(hh_store_t *s, int64_t id, hh_store_usecase_event_t **out, size_t *n,
                              hh_err_t *err);
void hh_store_usecase_events_free(hh_store_usecase_event_t *ev, size_t n);

/* *ok: whether user_id is an enabled user and a member of one of the n
 * departments named (names compared without case, as department names are). */
int  hh_store_user_in_department(hh_store_t *s, int64_t user_id, const char *const *names, size_t n, bool *ok,
                                 hh_err_t *err);
/* The id of user (a name) or, when user is NULL, of the user owning API key
 * key_id: 0, or HH_ENOENT "unknown user" / "unknown key". */
int  hh_store_owner_id(hh_store_t *s, int64_t key_id, const char *user, int64_t *user_id, hh_err_t *err);
/* Sets (slug) or clears (slug NULL) the default use case of user (a name)
 * or, when user is NULL, of API key key_id. HH_ENOENT for an unknown one. */
int  hh_store_default_usecase_set(hh_store_t *s, int64_t key_id, const char *user, const char *slug,
                                  hh_err_t *err);
/* The default use case for a request: the key's, else its user's, into
 * slug (cap bytes; "" when neither has one). */
int  hh_store_default_usecase(hh_store_t *s, int64_t key_id, int64_t user_id, char *slug, size_t cap,
                              hh_err_t *err);

/* ---- conversations (store_conv.c, migration 12) ---------------------------
 *
 * A conversation belongs to exactly one user (its owner) and is deleted
 * with them. Every function below takes the caller's user id and finds
 * only that user's conversations: another user's conversation is
 * HH_ENOENT exactly like a missing one, there is no "any owner" lookup
 * (GDPR export and erasure use the *_locked functions in store_int.h).
 *
 * Tables: conversations(id, user_id -> users ON DELETE CASCADE, title,
 * titled (1 once the owner named it), use_case, model, collections (JSON
 * array of names), created_at, updated_at (UTC ms; updated_at = the last
 * message or rename)); conversation_messages(id, conversation_id ->
 * conversations ON DELETE CASCADE, seq (1..), role 'user'|'assistant',
 * content, grounding (JSON: sources, citations, confidence, scores; NULL
 * when none), confidence (NULL when none), approval_id (a held answer's
 * approval; no foreign key: decided approvals expire by retention, the
 * released text is copied here first), approval_status, created_at).
 *
 * Search (hh_store_conv_list with a query) is a substring match, ASCII
 * case-insensitive (SQLite lower()), over the titles and message texts of
 * the caller's own conversations; no FTS index (bounded by the limits
 * below; an erased text leaves no index segment behind). */

#define HH_CONV_TITLE_MAX        200          /* bytes of a title (longer: HH_EINVAL) */
#define HH_CONV_AUTO_TITLE       60           /* characters of the first question used as title */
#define HH_CONV_MESSAGE_MAX      (256 * 1024) /* bytes of one message (longer: HH_EINVAL) */
#define HH_CONV_MAX_PER_USER     1000         /* conversations per user (more: HH_EFULL) */
#define HH_CONV_MAX_MESSAGES     2000         /* messages per conversation (more: HH_EFULL) */
#define HH_CONV_META_MAX         256          /* use case / model text */
#define HH_CONV_COLLECTIONS_MAX  4608         /* bytes of the collections JSON */
#define HH_CONV_LIST_MAX         100          /* rows per page of a listing */
#define HH_CONV_QUERY_MAX        256          /* bytes of a search text */

typedef struct hh_store_conv {
    int64_t id;
    int64_t user_id;
    char    title[HH_CONV_TITLE_MAX + 1];
    bool    titled;                        /* named by the owner (no automatic title) */
    char    use_case[HH_CONV_META_MAX];
    char    model[HH_CONV_META_MAX];
    char    collections[HH_CONV_COLLECTIONS_MAX];   /* JSON array text, "[]" when none */
    int64_t created_at, updated_at;        /* UTC ms */
    int64_t n_messages;
} hh_store_conv_t;

/* A stored message; content and grounding are malloc'd and owned by the
 * struct (hh_store_conv_msgs_free). */
typedef struct hh_store_conv_msg {
    int64_t id;
    int64_t seq;
    char    role[16];            /* "user" | "assistant" */
    char   *content;
    char   *grounding;           /* JSON text, NULL when none */
    bool    has_confidence;
    double  confidence;
    int64_t approval_id;         /* 0: not held */
    char    approval_status[16]; /* "" | pending | approved | edited | rejected */
    int64_t created_at;
} hh_store_conv_msg_t;

/* A message to append (borrowed pointers). */
typedef struct hh_store_conv_msg_in {
    const char *role;            /* "user" | "assistant" */
    const char *content;         /* UTF-8, <= HH_CONV_MESSAGE_MAX bytes ("" for a held answer) */
    const char *grounding;       /* JSON text or NULL */
    bool        has_confidence;
    double      confidence;
    int64_t     approval_id;     /* 0: none; else approval_status starts "pending" */
} hh_store_conv_msg_in_t;

/* What the conversation ran with last (appends update it; NULL fields are
 * left as they are). */
typedef struct hh_store_conv_meta {
    const char *use_case;
    const char *model;
    const char *collections;     /* JSON array text */
} hh_store_conv_meta_t;

/* Creates a conversation of user_id. title NULL or "": none yet (the first
 * question's first HH_CONV_AUTO_TITLE characters become it); else the
 * owner's title (1..HH_CONV_TITLE_MAX bytes, valid as given). meta may be
 * NULL. *out (may be NULL) the row. HH_EINVAL (title or meta too long,
 * user id <= 0), HH_ENOENT (unknown user), HH_EFULL (the user has
 * HH_CONV_MAX_PER_USER conversations). */
int  hh_store_conv_create(hh_store_t *s, int64_t user_id, const char *title, const hh_store_conv_meta_t *meta,
                          hh_store_conv_t *out, hh_err_t *err);

/* The user's conversation id: 0 and *out (may be NULL) filled, or
 * HH_ENOENT (missing or another user's: the same answer). */
int  hh_store_conv_get(hh_store_t *s, int64_t user_id, int64_t id, hh_store_conv_t *out, hh_err_t *err);

/* The user's conversations, most recently updated first (then by id,
 * newest first), offset/limit (limit 1..HH_CONV_LIST_MAX) applied after
 * the filter; query (NULL or "": all) keeps those whose title or any
 * message holds it (see "Search" above; > HH_CONV_QUERY_MAX bytes:
 * HH_EINVAL). *total (may be NULL) the count before paging. *out is
 * malloc'd (NULL when *n == 0); caller frees. */
int  hh_store_conv_list(hh_store_t *s, int64_t user_id, const char *query, int64_t offset, int64_t limit,
                        hh_store_conv_t **out, size_t *n, int64_t *total, hh_err_t *err);

/* Renames the user's conversation (title 1..HH_CONV_TITLE_MAX bytes:
 * else HH_EINVAL); it keeps the name. HH_ENOENT as hh_store_conv_get. */
int  hh_store_conv_rename(hh_store_t *s, int64_t user_id, int64_t id, const char *title, hh_err_t *err);

/* Deletes the user's conversation with its messages. HH_ENOENT as get. */
int  hh_store_conv_delete(hh_store_t *s, int64_t user_id, int64_t id, hh_err_t *err);

/* The messages of the user's conversation by seq. *out malloc'd (NULL when
 * *n == 0): hh_store_conv_msgs_free. HH_ENOENT as get. */
int  hh_store_conv_messages(hh_store_t *s, int64_t user_id, int64_t id, hh_store_conv_msg_t **out, size_t *n,
                            hh_err_t *err);
void hh_store_conv_msgs_free(hh_store_conv_msg_t *m, size_t n);

/* Appends n (1..8) messages to the user's conversation in one transaction
 * (seq continues), sets the automatic title from the first user message
 * when it has none, updates meta (may be NULL) and updated_at. HH_ENOENT
 * as get; HH_EINVAL (bad role, content too long or NULL, grounding not
 * JSON); HH_EFULL (HH_CONV_MAX_MESSAGES reached; nothing appended). */
int  hh_store_conv_append(hh_store_t *s, int64_t user_id, int64_t id, const hh_store_conv_msg_in_t *msgs, size_t n,
                          const hh_store_conv_meta_t *meta, hh_err_t *err);

/* A held answer was decided: the message msg_id (of the user's
 * conversation) gets status ("approved" | "edited" | "rejected") and, when
 * released, its text (content; NULL keeps "") and the sources it was held
 * with (grounding JSON text, its "confidence" too; NULL: none). Only a
 * message still "pending" changes. HH_ENOENT when none matches. */
int  hh_store_conv_resolve(hh_store_t *s, int64_t user_id, int64_t msg_id, const char *status, const char *content,
                           const char *grounding, hh_err_t *err);

/* Retention: deletes every conversation (of any user) whose updated_at is
 * before before_ms, with its messages; *ids (may be NULL; malloc'd,
 * ascending, caller frees) and *n the deleted ids. */
int  hh_store_conv_expire(hh_store_t *s, int64_t before_ms, int64_t **ids, size_t *n, hh_err_t *err);

/* Tests only: sets the times of conversation id (any owner). */
int  hh_store_conv_set_times(hh_store_t *s, int64_t id, int64_t created_ms, int64_t updated_ms, hh_err_t *err);

/* ---- upgrade and health checks (store_check.c) -------------------------- */

/* The newest schema version this program knows (the migration count): a
 * database at a higher version is refused by hh_store_open. */
int  hh_store_schema_newest(void);

/* Runs SQLite's integrity_check and foreign_key_check. 0 with *report NULL
 * when both are clean, or 0 with *report a malloc'd text (caller frees),
 * one line per problem ("integrity: ...", "foreign key: T row N has no P
 * row"). HH_EIO when the checks could not run, HH_ENOMEM. */
int  hh_store_check(hh_store_t *s, char **report, hh_err_t *err);

/* The schema as text (caller frees *out): one line per sqlite_master entry
 * (type, name, table, SQL with white space runs as one space), sorted by
 * type and name, statistics tables left out. Two databases with the same
 * text have the same tables, columns, indexes and triggers, so a migrated
 * database can be compared with a fresh one. HH_EIO, HH_ENOMEM. */
int  hh_store_schema_text(hh_store_t *s, char **out, hh_err_t *err);

/* The number of rows of table (an existing table; names of letters, digits
 * and '_' only). HH_EINVAL (bad name), HH_ENOENT (no such table), HH_EIO. */
int  hh_store_row_count(hh_store_t *s, const char *table, int64_t *n, hh_err_t *err);
/* ---- backup and restore (store_backup.c) --------------------------------
 *
 * A consistent copy of the database while a server keeps writing to it:
 * SQLite's online backup API copies every page inside ONE read transaction
 * of the source (WAL: writers go on, the copy is the state of one commit).
 * The read-only handle changes nothing in the source: no migration, no
 * secret created, no lock taken. Only the functions of this section (and
 * hh_store_schema_version, hh_store_close) may be used on it. */

/* Opens DIR/hoheit.db read-only (no directory, secret or database is
 * created; no migration runs). Caller closes with hh_store_close. HH_ENOENT
 * when there is no database, HH_EIO for SQLite failures. */
int  hh_store_open_readonly(hh_store_t **out, const char *dir, hh_err_t *err);

/* Writes a consistent copy of s's database to path, which must not exist
 * (HH_EINVAL otherwise): created 0600, one self-contained file (rollback
 * journal mode, no -wal beside it), fsync'ed. On failure path is removed. */
int  hh_store_backup_to(hh_store_t *s, const char *path, hh_err_t *err);

/* PRAGMA integrity_check: *ok, and the first problem SQLite names in msg
 * (cap bytes; "ok" when none). A database too damaged to be read at all is
 * *ok == false with SQLite's message, not an error. */
int  hh_store_integrity_check(hh_store_t *s, bool *ok, char *msg, size_t cap, hh_err_t *err);

/* The distinct sha256 of every document whose stored original is kept
 * (not erased), ascending: the files DATA/files must hold. *shas is a
 * malloc'd array of malloc'd strings (NULL when *n == 0): free with
 * hh_store_strings_free. */
int  hh_store_doc_file_hashes(hh_store_t *s, char ***shas, size_t *n, hh_err_t *err);

/* What a backup and a restore report. Tables the schema does not have yet
 * count 0. */
typedef struct hh_store_counts {
    int64_t users, api_keys, active_api_keys, collections, documents, chunks, vectors;
    int64_t audit_records, audit_last_seq;
} hh_store_counts_t;

int  hh_store_counts(hh_store_t *s, hh_store_counts_t *out, hh_err_t *err);
/* ---- quotas and usage (store_usage.c, migration 10) ---------------------
 *
 * A quota belongs to one user or one department and holds up to four
 * limits; 0 here means "no limit" (NULL in the table). Usage is counted in
 * UTC days (day = unix seconds / 86400, days since 1970-01-01): one row per
 * (user, day, use case) in `usage` and one per (department, day, use case)
 * in `usage_departments`, each with requests, prompt and completion tokens.
 * A request is charged to its user and to every department the user is in
 * when it starts. Department rows name no person; a user row's user_id
 * becomes NULL when the user is deleted or erased (GDPR) or when retention
 * expires it, so totals stay while the person goes. */

typedef enum hh_store_usage_by {
    HH_USAGE_BY_USER = 0,
    HH_USAGE_BY_DEPARTMENT,
    HH_USAGE_BY_USE_CASE,
} hh_store_usage_by_t;

typedef struct hh_store_quota {
    bool    department;               /* false: a user's quota */
    int64_t subject_id;               /* users.id or departments.id */
    char    subject[HH_STORE_NAME_MAX];
    int64_t tokens_per_day;           /* 0: no limit (also below) */
    int64_t tokens_per_month;
    int64_t requests_per_minute;
    int64_t concurrent;
    int64_t updated_at;               /* unix seconds; 0 when no quota row exists */
} hh_store_quota_t;

/* A limit left as it is by hh_store_quota_set. */
#define HH_QUOTA_KEEP (-1)
/* The largest limit accepted (tokens or requests). */
#define HH_QUOTA_MAX  1000000000000000LL

/* One usage group over a period (hh_store_usage_report). */
typedef struct hh_store_usage_row {
    char    group[HH_STORE_NAME_MAX];  /* user / department name or use case; "" for a
                                        * pseudonymized user or a request without use case */
    int64_t requests;
    int64_t prompt_tokens;
    int64_t completion_tokens;
} hh_store_usage_row_t;

/* One (day, use case) counter of a user (GDPR export). */
typedef struct hh_store_usage_day {
    int64_t day;
    char    use_case[HH_STORE_NAME_MAX];
    int64_t requests;
    int64_t prompt_tokens;
    int64_t completion_tokens;
} hh_store_usage_day_t;

/* Sets limits of the quota of user or department name (department: true);
 * each of the four fields of q (subject fields ignored) is a new limit
 * (> 0), 0 to remove that limit, or HH_QUOTA_KEEP to leave it. A quota left
 * with no limit is deleted. HH_ENOENT for an unknown user or department,
 * HH_EINVAL for a value < -1 or > HH_QUOTA_MAX. */
int  hh_store_quota_set(hh_store_t *s, bool department, const char *name, const hh_store_quota_t *q,
                        hh_err_t *err);

/* Removes the quota of the user or department; HH_ENOENT if it has none
 * (or the name is unknown; the message says which). */
int  hh_store_quota_clear(hh_store_t *s, bool department, const char *name, hh_err_t *err);

/* Every quota: users first, then departments, by name. *out is malloc'd
 * (NULL when *n == 0); caller frees. */
int  hh_store_quota_list(hh_store_t *s, hh_store_quota_t **out, size_t *n, hh_err_t *err);

/* What a request of user_id is charged to and limited by: element 0 the
 * user (limits 0 when it has no quota), then every department the user is
 * in by name (limits 0 where none). *out is malloc'd (*n >= 1); caller
 * frees. HH_ENOENT for an unknown user. */
int  hh_store_quota_subjects(hh_store_t *s, int64_t user_id, hh_store_quota_t **out, size_t *n, hh_err_t *err);

/* Prompt + completion tokens charged to the user (department: false) or
 * department subject_id on days from..to (inclusive). */
int  hh_store_usage_tokens(hh_store_t *s, bool department, int64_t subject_id, int64_t day_from, int64_t day_to,
                           int64_t *tokens, hh_err_t *err);

/* Adds one request with its tokens on day to the user's counter (user_id
 * 0: none) and to each of the n_dept departments, in one transaction.
 * use_case NULL = "". */
int  hh_store_usage_add(hh_store_t *s, int64_t day, int64_t user_id, const int64_t *dept_ids, size_t n_dept,
                        const char *use_case, int64_t prompt_tokens, int64_t completion_tokens, hh_err_t *err);

/* Totals per group over days from..to (inclusive), largest total first.
 * user_id > 0 limits BY_USER and BY_USE_CASE to that user's rows (for a
 * member's own view); BY_DEPARTMENT ignores it. *out is malloc'd (NULL
 * when *n == 0); caller frees. */
int  hh_store_usage_report(hh_store_t *s, hh_store_usage_by_t by, int64_t day_from, int64_t day_to, int64_t user_id,
                           hh_store_usage_row_t **out, size_t *n, hh_err_t *err);

/* "YYYY-MM-DD" <-> UTC day number. parse: HH_EINVAL for anything else
 * (also 2026-02-30). format: out needs 11 bytes. */
int  hh_store_day_parse(const char *text, int64_t *day);
void hh_store_day_format(int64_t day, char *out);
/* The first day of the UTC month day lies in, and of the month after. */
int64_t hh_store_month_start(int64_t day);
int64_t hh_store_next_month_start(int64_t day);

/* ---- admin HTTP API (store_admin_api.c; change_password in store_auth.c)
 * What src/http/admin.c needs beyond the CLI's functions. */

/* One user's keys (revoked ones too), oldest first. *out is malloc'd
 * (NULL when *n == 0); caller frees. */
int  hh_store_key_list_user(hh_store_t *s, int64_t user_id, hh_store_key_t **out, size_t *n, hh_err_t *err);

/* Revokes key key_id when it is active and, with owner_id > 0, belongs to
 * that user (owner_id 0: anyone's). *out (may be NULL) the key as revoked.
 * HH_ENOENT alike for an unknown key, another user's key and a revoked
 * one, so a caller can answer all three the same. */
int  hh_store_key_revoke_owned(hh_store_t *s, int64_t key_id, int64_t owner_id, hh_store_key_t *out,
                               hh_err_t *err);

/* Replaces the user's departments by exactly these (found ignoring case;
 * n may be 0), in one transaction: HH_ENOENT names an unknown user or
 * department and changes nothing; HH_EINVAL for a bad name. */
int  hh_store_user_set_departments(hh_store_t *s, const char *name, const char *const *departments, size_t n,
                                   hh_err_t *err);

/* When the user was last seen, as far as the store still knows: the start
 * of their newest live browser session (unix ms; sessions are deleted when
 * they end, so 0 = none live) and the newest use of any of their API keys
 * (unix s, written at most once a minute; 0 = never). */
int  hh_store_user_last_seen(hh_store_t *s, int64_t user_id, int64_t *last_login_ms, int64_t *last_key_use,
                             hh_err_t *err);

/* Sets the user's password (HH_PASSWORD_MIN_LEN..MAX_LEN bytes, else
 * HH_EINVAL) and ends all their sessions except the one of keep_cookie
 * (NULL or unknown: all end), in one transaction; *ended (may be NULL) how
 * many ended. The caller has checked the current password. HH_ENOENT for an
 * unknown user id. */
int  hh_store_user_change_password(hh_store_t *s, int64_t user_id, const char *password, const char *keep_cookie,
                                   int64_t *ended, hh_err_t *err);

/* Gives department `right` on the collection (READ..MANAGE: adds it as
 * owner or changes its right) or, with HH_RIGHT_NONE, removes it (HH_ENOENT
 * when it held none). Both must exist (HH_ENOENT names the missing one;
 * the department is found ignoring case). keep_manager (a collection
 * manager acting, not an admin): HH_ESTATE when the change would take
 * manage from the only department holding it. Check and change are one
 * transaction. *before (may be NULL) the right it had (NONE: not an
 * owner); *now_orphan (may be NULL) whether no department is left. */
int  hh_store_collection_set_right(hh_store_t *s, const char *collection, const char *department, hh_right_t right,
                                   bool keep_manager, hh_right_t *before, bool *now_orphan, hh_err_t *err);

/* ---- GDPR access copy (store_access.c; hh_store_doc_list_uploaded in
 * store_kb.c): what govern/gdpr.c's Art. 15 copy reads about one user.
 * Names match as the erasure's user match does: the whole name, ASCII
 * case-insensitively. None of these returns a secret (no key or session
 * hash, no CSRF token, no password hash). */

/* A browser session's times (unix ms), never its id or CSRF token. */
typedef struct hh_store_session_times {
    int64_t created_at, expires_at, last_seen_at;
} hh_store_session_times_t;

/* The user's live sessions, oldest first. *out malloc'd (NULL when *n ==
 * 0); caller frees. */
int  hh_store_session_list_user(hh_store_t *s, int64_t user_id, hh_store_session_times_t **out, size_t *n,
                                hh_err_t *err);

/* Documents uploaded by user_id (documents.ingested_by), oldest first,
 * in every collection. *out malloc'd (NULL when *n == 0); caller frees. */
int  hh_store_doc_list_uploaded(hh_store_t *s, int64_t user_id, hh_store_doc_t **out, size_t *n, hh_err_t *err);

/* One audit row made by a user, with the texts kept beside the record. */
typedef struct hh_store_audit_row {
    int64_t seq, time_ms;
    char    kind[32], use_case[128], model[256], decision[32];   /* "" when null */
    bool    hash_only;       /* the record says "text":"hash": no prompt/output kept */
    bool    texts_erased;    /* pseudonymized or expired (texts_erased or erased_by) */
    char   *prompt, *output, *detail;   /* malloc'd; NULL when none is kept */
} hh_store_audit_row_t;

/* The audit rows whose user (the text kept beside the record, or for
 * records from before migration 8 the "user" inside it) is name, by seq.
 * Free with hh_store_audit_rows_free. HH_EINVAL for an empty name. */
int  hh_store_audit_rows_of_user(hh_store_t *s, const char *name, hh_store_audit_row_t **out, size_t *n,
                                 hh_err_t *err);
void hh_store_audit_rows_free(hh_store_audit_row_t *rows, size_t n);

/* One approval (govern/approvals.h) a user requested or decided. */
typedef struct hh_store_approval_row {
    int64_t id;
    char    use_case[128], status[16];
    int64_t created_at, decided_at;    /* unix ms; decided_at 0 while pending */
    bool    requested, decided;         /* the user is the requester / the decider */
    char   *request, *output, *final_text, *reason;   /* malloc'd; NULL when null */
} hh_store_approval_row_t;

/* The approvals name requested or decided, oldest first. Free with
 * hh_store_approval_rows_free. HH_EINVAL for an empty name. */
int  hh_store_approvals_of_user(hh_store_t *s, const char *name, hh_store_approval_row_t **out, size_t *n,
                                hh_err_t *err);
void hh_store_approval_rows_free(hh_store_approval_row_t *rows, size_t n);

/* ---- agents (store_agents.c, migration 15; issue 16) ---------------------
 *   agents(id, name UNIQUE, model, system_prompt, tools (JSON array of
 *          built-in tool names), max_steps, max_tokens, max_seconds,
 *          use_case (slug), departments, roles (JSON arrays of names: who
 *          may run it; empty: no restriction), created_by, created_at,
 *          updated_at)
 *   agent_runs(id "resp_..." (random), user_id -> users ON DELETE CASCADE,
 *          agent ('' for a plain model), model, use_case, previous_id,
 *          status, reason, request, messages (chat messages after the run,
 *          for previous_response_id), output (Responses output items),
 *          tokens, created_at, finished_at)
 *   agent_steps(run_id -> agent_runs, seq, kind model|tool|client_tool,
 *          name, call_id, arguments, result, result_bytes, error, tokens,
 *          duration_ms, created_at)
 * The JSON texts are checked by the agent layer (agent/def.h); the store
 * keeps them as given. Times are UTC ms. An agent's connections and
 * endpoints (issue 16, later slice) live in the tools column beside the
 * tools ({"tools", "connections", "endpoints"} when it names any; the plain
 * tools array otherwise): no migration. */
#define HH_AGENT_NAME_MAX 64

typedef struct hh_store_agent {
    int64_t id;
    char    name[HH_AGENT_NAME_MAX];
    char    model[256];
    char    use_case[64];
    char   *system_prompt;   /* owned (hh_store_agent_clear) */
    char   *tools;           /* owned; JSON array text */
    char   *departments;     /* owned; JSON array text */
    char   *roles;           /* owned; JSON array text */
    char   *connections;     /* owned; JSON array text: sql_query's connections (agent/conf.h) */
    char   *endpoints;       /* owned; JSON array text: http_request's endpoints */
    int64_t max_steps, max_tokens, max_seconds;
    char    created_by[HH_STORE_NAME_MAX];
    int64_t created_at, updated_at;
} hh_store_agent_t;

/* Frees the owned texts of a and zeroes it (safe on a zeroed struct). */
void hh_store_agent_clear(hh_store_agent_t *a);
/* Stores a (its texts NULL: "" / "[]"). create: a new row (HH_ESTATE when
 * the name is taken); else replaces the row of a->name (HH_ENOENT when
 * there is none; created_by and created_at stay). */
int  hh_store_agent_put(hh_store_t *s, const hh_store_agent_t *a, bool create, hh_err_t *err);
/* The agent named name: 0 and *out (clear it), or HH_ENOENT. */
int  hh_store_agent_get(hh_store_t *s, const char *name, hh_store_agent_t *out, hh_err_t *err);
/* Every agent by name. *out malloc'd (NULL when *n == 0); free with
 * hh_store_agent_list_free. */
int  hh_store_agent_list(hh_store_t *s, hh_store_agent_t **out, size_t *n, hh_err_t *err);
void hh_store_agent_list_free(hh_store_agent_t *a, size_t n);
/* Removes the definition (its runs stay). HH_ENOENT if unknown. */
int  hh_store_agent_delete(hh_store_t *s, const char *name, hh_err_t *err);

#define HH_AGENT_RUN_ID_MAX 64

typedef struct hh_store_agent_run {
    char    id[HH_AGENT_RUN_ID_MAX];
    int64_t user_id;
    char    agent[HH_AGENT_NAME_MAX];
    char    model[256];
    char    use_case[64];
    char    previous_id[HH_AGENT_RUN_ID_MAX];
    char    status[16];        /* in_progress | completed | incomplete | failed | held (approval) */
    char    reason[64];        /* incomplete/failed: why */
    char   *request;           /* owned; JSON texts (NULL when storing: "{}" / "[]") */
    char   *messages;
    char   *output;
    int64_t prompt_tokens, completion_tokens;
    int64_t created_at, finished_at;
} hh_store_agent_run_t;

void hh_store_agent_run_clear(hh_store_agent_run_t *r);
/* Inserts the run, or replaces the row with the same id (its user stays:
 * HH_EINVAL when r->user_id differs from the stored one). */
int  hh_store_agent_run_put(hh_store_t *s, const hh_store_agent_run_t *r, hh_err_t *err);
/* The run id: 0 and *out (clear it), or HH_ENOENT. */
int  hh_store_agent_run_get(hh_store_t *s, const char *id, hh_store_agent_run_t *out, hh_err_t *err);

typedef struct hh_store_agent_step {
    int64_t seq;               /* 1, 2, ... within the run */
    char    kind[16];          /* model | tool | client_tool */
    char    name[128];         /* the tool, or the model id */
    char    call_id[64];
    char   *arguments;         /* owned when read; borrowed when stored (NULL: "") */
    char   *result;
    char   *error;
    int64_t result_bytes;
    int64_t prompt_tokens, completion_tokens;
    int64_t duration_ms;
    int64_t created_at;
} hh_store_agent_step_t;

/* Appends one step to run_id (the run must exist). */
int  hh_store_agent_step_add(hh_store_t *s, const char *run_id, const hh_store_agent_step_t *st, hh_err_t *err);
/* The steps of run_id by seq. *out malloc'd (NULL when *n == 0); free with
 * hh_store_agent_steps_free. */
int  hh_store_agent_steps(hh_store_t *s, const char *run_id, hh_store_agent_step_t **out, size_t *n,
                          hh_err_t *err);
void hh_store_agent_steps_free(hh_store_agent_step_t *st, size_t n);

/* ---- file hashes (store_files.c; table model_hashes) --------------------- */

/* The cached lowercase hex SHA-256 of the file at path as it was when it
 * had size bytes and mtime_ns: *found false (hex untouched) when none is
 * cached for exactly that state. */
int  hh_store_model_hash_get(hh_store_t *s, const char *path, int64_t size, int64_t mtime_ns,
                             char hex[HH_SHA256_HEX_LEN + 1], bool *found, hh_err_t *err);
/* Caches hex (64 hex digits) for path at size and mtime_ns, replacing what
 * was cached for path. */
int  hh_store_model_hash_put(hh_store_t *s, const char *path, int64_t size, int64_t mtime_ns, const char *hex,
                             hh_err_t *err);

/* ---- agent memory (store_memory.c, migration 16; issue 16) -----------------
 *   agent_memory(id (random), user_id -> users ON DELETE CASCADE, text,
 *                created_at, updated_at)   times UTC ms
 * Every function takes the owner: another user's fact is HH_ENOENT exactly
 * like a missing one. */

#define HH_MEMORY_TEXT_MAX     1000   /* bytes of one fact */
#define HH_MEMORY_MAX_PER_USER 200

typedef struct hh_store_memory {
    int64_t id;
    int64_t user_id;
    char   *text;   /* owned */
    int64_t created_at, updated_at;
} hh_store_memory_t;

/* Stores text (1..HH_MEMORY_TEXT_MAX bytes, HH_EINVAL otherwise) for
 * user_id: 0 and *id (may be NULL) its id; HH_EFULL at
 * HH_MEMORY_MAX_PER_USER facts, HH_ENOENT for no such user. */
int  hh_store_memory_add(hh_store_t *s, int64_t user_id, const char *text, int64_t *id, hh_err_t *err);
/* Replaces the text of user_id's fact id (HH_ENOENT: none of theirs). */
int  hh_store_memory_update(hh_store_t *s, int64_t user_id, int64_t id, const char *text, hh_err_t *err);
/* Deletes user_id's fact id (HH_ENOENT: none of theirs). */
int  hh_store_memory_delete(hh_store_t *s, int64_t user_id, int64_t id, hh_err_t *err);
/* user_id's fact id: 0 and *out (hh_store_memory_clear), or HH_ENOENT. */
int  hh_store_memory_get(hh_store_t *s, int64_t user_id, int64_t id, hh_store_memory_t *out, hh_err_t *err);
void hh_store_memory_clear(hh_store_memory_t *m);
/* user_id's facts, the most recently changed first; query (NULL: all)
 * keeps those holding it (ASCII case ignored); at most limit (0: all).
 * *out malloc'd (NULL when *n == 0); hh_store_memory_list_free. */
int  hh_store_memory_list(hh_store_t *s, int64_t user_id, const char *query, size_t limit, hh_store_memory_t **out,
                          size_t *n, hh_err_t *err);
void hh_store_memory_list_free(hh_store_memory_t *m, size_t n);
/* Deletes every fact not changed since before_ms (retention); *n deleted. */
int  hh_store_memory_expire(hh_store_t *s, int64_t before_ms, int64_t *n, hh_err_t *err);

/* The rows behind govern/ (approvals, audit chain, GDPR): store_govern.h. */
#include "store/store_govern.h"

#endif
