/* store_sqlite.c - the SQLite backend of store.h: schema migrations, users,
 * API keys (keyed BLAKE2b hashes, lookup by prefix). */
#include "store/store_int.h"
#include "base/fs.h"
#include "base/log.h"

#include <errno.h>
#include <ftw.h>
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SECRET_LEN HH_STORE_SECRET_LEN
#define HASH_LEN   32

/* Migrations in order; version i+1 is reached by running g_migrations[i].
 * Append only: a released migration is never edited. */
static const char *const g_migrations[] = {
    /* 1: users and API keys */
    "CREATE TABLE users ("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE,"
    "  role TEXT NOT NULL CHECK (role IN ('admin','member','auditor','approver')),"
    "  created_at INTEGER NOT NULL,"
    "  disabled INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE api_keys ("
    "  id INTEGER PRIMARY KEY,"
    "  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    "  prefix TEXT NOT NULL,"
    "  hash TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  revoked_at INTEGER,"
    "  last_used_at INTEGER);"
    "CREATE INDEX api_keys_prefix ON api_keys(prefix);",
    /* 2: knowledge base (see store.h for the access rule and the columns) */
    "CREATE TABLE departments ("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE);"
    "CREATE TABLE user_departments ("
    "  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    "  department_id INTEGER NOT NULL REFERENCES departments(id) ON DELETE CASCADE,"
    "  PRIMARY KEY (user_id, department_id));"
    "CREATE INDEX user_departments_dept ON user_departments(department_id);"
    "CREATE TABLE collections ("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE,"
    "  created_at INTEGER NOT NULL);"
    "CREATE TABLE collection_departments ("
    "  collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,"
    "  department_id INTEGER NOT NULL REFERENCES departments(id) ON DELETE CASCADE,"
    "  PRIMARY KEY (collection_id, department_id));"
    "CREATE INDEX collection_departments_dept ON collection_departments(department_id);"
    /* AUTOINCREMENT: document and chunk ids are never reused, so an id
     * cached elsewhere (vector index, a citation) cannot name new content. */
    "CREATE TABLE documents ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,"
    "  title TEXT NOT NULL,"
    "  source_path TEXT NOT NULL,"
    "  mime TEXT NOT NULL,"
    "  sha256 TEXT NOT NULL CHECK (length(sha256) = 64),"
    "  size INTEGER NOT NULL,"
    "  ingested_at INTEGER NOT NULL,"
    "  ingested_by INTEGER REFERENCES users(id) ON DELETE SET NULL,"
    "  status TEXT NOT NULL DEFAULT 'complete' CHECK (status = 'complete'),"
    "  UNIQUE (collection_id, source_path));"
    "CREATE INDEX documents_sha ON documents(sha256);"
    "CREATE INDEX documents_coll_sha ON documents(collection_id, sha256);"
    "CREATE TABLE chunks ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,"
    "  ord INTEGER NOT NULL,"
    "  text TEXT NOT NULL,"
    "  heading_path TEXT NOT NULL DEFAULT '',"
    "  page INTEGER NOT NULL DEFAULT 0,"
    "  n_tokens INTEGER NOT NULL DEFAULT 0,"
    "  UNIQUE (document_id, ord));"
    "CREATE VIRTUAL TABLE chunks_fts USING fts5(text, heading_path, content='chunks', content_rowid='id',"
    "  tokenize='unicode61 remove_diacritics 2');"
    "CREATE TRIGGER chunks_ai AFTER INSERT ON chunks BEGIN"
    "  INSERT INTO chunks_fts(rowid, text, heading_path) VALUES (new.id, new.text, new.heading_path);"
    " END;"
    "CREATE TRIGGER chunks_ad AFTER DELETE ON chunks BEGIN"
    "  INSERT INTO chunks_fts(chunks_fts, rowid, text, heading_path) VALUES ('delete', old.id, old.text, old.heading_path);"
    " END;"
    "CREATE TRIGGER chunks_au AFTER UPDATE ON chunks BEGIN"
    "  INSERT INTO chunks_fts(chunks_fts, rowid, text, heading_path) VALUES ('delete', old.id, old.text, old.heading_path);"
    "  INSERT INTO chunks_fts(rowid, text, heading_path) VALUES (new.id, new.text, new.heading_path);"
    " END;"
    "CREATE TABLE chunk_vectors ("
    "  chunk_id INTEGER NOT NULL REFERENCES chunks(id) ON DELETE CASCADE,"
    "  model TEXT NOT NULL,"
    "  dim INTEGER NOT NULL CHECK (dim > 0),"
    "  vec BLOB NOT NULL CHECK (length(vec) = 4 * dim),"
    "  PRIMARY KEY (chunk_id, model));",
    /* 3: audit log (src/govern/audit.h: hash chain, signed checkpoints,
     * retention anchor, the signing public key) */
    "CREATE TABLE audit_log ("
    "  seq INTEGER PRIMARY KEY,"
    "  record BLOB NOT NULL,"
    "  prev_hash BLOB NOT NULL CHECK (length(prev_hash) = 32),"
    "  hash BLOB NOT NULL CHECK (length(hash) = 32));"
    "CREATE TABLE audit_checkpoints ("
    "  seq INTEGER PRIMARY KEY,"
    "  hash BLOB NOT NULL CHECK (length(hash) = 32),"
    "  sig BLOB NOT NULL CHECK (length(sig) = 64),"
    "  created_at INTEGER NOT NULL);"
    "CREATE TABLE audit_anchor ("
    "  id INTEGER PRIMARY KEY CHECK (id = 1),"
    "  seq INTEGER NOT NULL,"
    "  prev_hash BLOB NOT NULL CHECK (length(prev_hash) = 32),"
    "  sig BLOB NOT NULL CHECK (length(sig) = 64),"
    "  created_at INTEGER NOT NULL);"
    "CREATE TABLE audit_meta ("
    "  key TEXT PRIMARY KEY,"
    "  value BLOB NOT NULL);",
    /* 4: use-case register (src/govern/register.h): use cases (doc = the
     * validated JSON), their change history (kept after a delete), default
     * use cases per key and per user, and model file hashes cached by
     * size + mtime for system cards */
    "CREATE TABLE usecases ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  slug TEXT NOT NULL UNIQUE,"
    "  risk_class TEXT NOT NULL CHECK (risk_class IN ('prohibited','high','limited','minimal')),"
    "  doc TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL);"
    "CREATE TABLE usecase_history ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  usecase_id INTEGER NOT NULL,"
    "  slug TEXT NOT NULL,"
    "  at INTEGER NOT NULL,"
    "  actor TEXT NOT NULL,"
    "  action TEXT NOT NULL CHECK (action IN ('create','update','delete')),"
    "  detail TEXT NOT NULL);"
    "CREATE INDEX usecase_history_uc ON usecase_history(usecase_id);"
    "ALTER TABLE api_keys ADD COLUMN default_use_case TEXT;"
    "ALTER TABLE users ADD COLUMN default_use_case TEXT;"
    "CREATE TABLE model_hashes ("
    "  path TEXT PRIMARY KEY,"
    "  size INTEGER NOT NULL,"
    "  mtime_ns INTEGER NOT NULL,"
    "  sha256 TEXT NOT NULL CHECK (length(sha256) = 64));",
    /* 5: human approvals (src/govern/approvals.h): generated answers held
     * until a human decides (Art. 14) */
    "CREATE TABLE approvals ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  use_case TEXT NOT NULL,"
    "  hr INTEGER NOT NULL DEFAULT 0,"
    "  requester TEXT NOT NULL,"
    "  request TEXT NOT NULL,"
    "  output TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  status TEXT NOT NULL CHECK (status IN ('pending','approved','edited','rejected')),"
    "  decided_by TEXT,"
    "  decided_at INTEGER,"
    "  reason TEXT,"
    "  final_text TEXT);"
    "CREATE INDEX approvals_status ON approvals(status, id);",
    /* 6: data-subject rights and retention (src/govern/gdpr.h): audit
     * prompt/output texts outside the hashed record (the chain covers their
     * SHA-256, so erasure can overwrite them), a retention TTL per
     * collection (days, NULL = keep), and a mark on documents whose stored
     * original was erased */
    "ALTER TABLE audit_log ADD COLUMN prompt TEXT;"
    "ALTER TABLE audit_log ADD COLUMN output TEXT;"
    "ALTER TABLE audit_log ADD COLUMN texts_erased INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE collections ADD COLUMN retention_days INTEGER;"
    "ALTER TABLE documents ADD COLUMN erased_at INTEGER;",
    /* 7: browser login (src/store/store_auth.c): an argon2id password hash
     * per user (NULL: no password, API keys only) and sessions, kept as
     * the BLAKE2b hash of the cookie value with their CSRF token */
    "ALTER TABLE users ADD COLUMN password_hash TEXT;"
    "CREATE TABLE sessions ("
    "  id_hash BLOB PRIMARY KEY CHECK (length(id_hash) = 32),"
    "  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    "  csrf TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  expires_at INTEGER NOT NULL,"
    "  last_seen_at INTEGER NOT NULL);"
    "CREATE INDEX sessions_user ON sessions(user_id);",
    /* 8: pseudonymizable audit user/detail (src/govern/audit.h): the hashed
     * record holds salted commitments BLAKE2b-256(salt || text), the texts
     * and their 16-byte salts live here (erasure rewrites the text and
     * deletes the salt), and erased_by names the "erasure" record that
     * covers a pseudonymized row */
    "ALTER TABLE audit_log ADD COLUMN user_name TEXT;"
    "ALTER TABLE audit_log ADD COLUMN user_salt BLOB;"
    "ALTER TABLE audit_log ADD COLUMN detail TEXT;"
    "ALTER TABLE audit_log ADD COLUMN detail_salt BLOB;"
    "ALTER TABLE audit_log ADD COLUMN erased_by INTEGER;",
    /* 9 (admin lifecycle, issue 11): department names unique regardless
     * of ASCII case. Departments whose names differ only in case are
     * merged into the one with the lowest id first: their memberships and
     * collection ownerships move to it (duplicates ignored), then the
     * others are deleted (their remaining rows go by ON DELETE CASCADE).
     * Every lookup by name compares with COLLATE NOCASE (store_kb.c,
     * store_admin.c; govern/register.c matches use-case departments with
     * strcasecmp, the same ASCII folding). */
    "INSERT OR IGNORE INTO user_departments (user_id, department_id)"
    "  SELECT ud.user_id, (SELECT MIN(k.id) FROM departments k WHERE k.name = d.name COLLATE NOCASE)"
    "    FROM user_departments ud JOIN departments d ON d.id = ud.department_id;"
    "INSERT OR IGNORE INTO collection_departments (collection_id, department_id)"
    "  SELECT cd.collection_id, (SELECT MIN(k.id) FROM departments k WHERE k.name = d.name COLLATE NOCASE)"
    "    FROM collection_departments cd JOIN departments d ON d.id = cd.department_id;"
    "DELETE FROM departments WHERE id > (SELECT MIN(k.id) FROM departments k"
    "  WHERE k.name = departments.name COLLATE NOCASE);"
    "CREATE UNIQUE INDEX departments_name_nocase ON departments(name COLLATE NOCASE);",
    /* 10: quotas and usage (src/store/store_usage.c; issue 11, migration
     * number 10 assigned to the quota work): limits per user or department
     * (NULL = no limit), token counters per (user, UTC day, use case) -
     * user_id NULL once erased or expired - and per (department, day, use
     * case), which name no person */
    "CREATE TABLE quotas ("
    "  id INTEGER PRIMARY KEY,"
    "  user_id INTEGER UNIQUE REFERENCES users(id) ON DELETE CASCADE,"
    "  department_id INTEGER UNIQUE REFERENCES departments(id) ON DELETE CASCADE,"
    "  tokens_per_day INTEGER CHECK (tokens_per_day > 0),"
    "  tokens_per_month INTEGER CHECK (tokens_per_month > 0),"
    "  requests_per_minute INTEGER CHECK (requests_per_minute > 0),"
    "  concurrent INTEGER CHECK (concurrent > 0),"
    "  updated_at INTEGER NOT NULL,"
    "  CHECK ((user_id IS NULL) <> (department_id IS NULL)));"
    "CREATE TABLE usage ("
    "  day INTEGER NOT NULL,"
    "  user_id INTEGER REFERENCES users(id) ON DELETE SET NULL,"
    "  use_case TEXT NOT NULL DEFAULT '',"
    "  requests INTEGER NOT NULL DEFAULT 0,"
    "  prompt_tokens INTEGER NOT NULL DEFAULT 0,"
    "  completion_tokens INTEGER NOT NULL DEFAULT 0);"
    "CREATE UNIQUE INDEX usage_key ON usage(user_id, day, use_case);"
    "CREATE INDEX usage_day ON usage(day);"
    "CREATE TABLE usage_departments ("
    "  day INTEGER NOT NULL,"
    "  department_id INTEGER NOT NULL REFERENCES departments(id) ON DELETE CASCADE,"
    "  use_case TEXT NOT NULL DEFAULT '',"
    "  requests INTEGER NOT NULL DEFAULT 0,"
    "  prompt_tokens INTEGER NOT NULL DEFAULT 0,"
    "  completion_tokens INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (department_id, day, use_case));",
    /* 11: rights per collection (issue 12, migration number 11 assigned to
     * the rights work): each owning department holds 'read', 'write'
     * (upload, replace) or 'manage' (also delete). New grants default to
     * 'read' (`collections create --departments` keeps meaning read).
     * Rows that existed before this migration become 'write': up to now
     * they allowed read, write and delete. 'manage' would keep the hole
     * the review found (any reader could delete); 'read' would stop every
     * department's uploads on upgrade day. 'write' keeps uploads working
     * and takes deletion away from non-admins until an admin grants
     * 'manage' (or lowers a department to 'read') deliberately. */
    "ALTER TABLE collection_departments ADD COLUMN access TEXT NOT NULL DEFAULT 'read'"
    "  CHECK (access IN ('read','write','manage'));"
    "UPDATE collection_departments SET access = 'write';",
    /* 12: conversations stored on the server (issue 13, migration number 12
     * assigned to the conversations work; store.h "conversations"): one
     * row per conversation of its owner (deleted with the user), its
     * messages in order (seq); a held answer names its approval and gets
     * its text when released. Times are UTC ms. No FTS table: search is a
     * substring scan over the owner's own rows only (bounded by the
     * per-user limits), so an erasure leaves no index segment behind. */
    "CREATE TABLE conversations ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    "  title TEXT NOT NULL DEFAULT '',"
    "  titled INTEGER NOT NULL DEFAULT 0,"
    "  use_case TEXT NOT NULL DEFAULT '',"
    "  model TEXT NOT NULL DEFAULT '',"
    "  collections TEXT NOT NULL DEFAULT '[]',"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL);"
    "CREATE INDEX conversations_user ON conversations(user_id, updated_at);"
    "CREATE INDEX conversations_updated ON conversations(updated_at);"
    "CREATE TABLE conversation_messages ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,"
    "  seq INTEGER NOT NULL,"
    "  role TEXT NOT NULL CHECK (role IN ('user','assistant')),"
    "  content TEXT NOT NULL,"
    "  grounding TEXT,"
    "  confidence REAL,"
    "  approval_id INTEGER,"
    "  approval_status TEXT CHECK (approval_status IN ('pending','approved','edited','rejected')),"
    "  created_at INTEGER NOT NULL,"
    "  UNIQUE (conversation_id, seq));",
    /* 13 (German retrieval, issue 14): the text encoding a document was
     * read in ('' = UTF-8 as given, else e.g. 'windows-1252', noted when
     * it was converted) and each chunk's language ('de', 'en' or '' when
     * unknown, src/kb/lang.h) */
    "ALTER TABLE documents ADD COLUMN encoding TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE chunks ADD COLUMN lang TEXT NOT NULL DEFAULT '';",
    /* 14 (German retrieval, issue 14): the analyzed index terms of each
     * chunk (kb/analyze.h: stems, compound parts; heading path then text)
     * and the analysis level they were made with (0 = not analyzed yet:
     * every chunk stored before this migration; kb/retrieve.h
     * hh_kb_index_fill analyzes them: a server at its start and in the
     * background, never a search), and the FTS5 table retrieval ranks with, over those terms.
     * A changed text or heading path (GDPR erasure rewrites them) empties
     * the terms, so no term of the old text stays in the index. */
    "ALTER TABLE chunks ADD COLUMN terms TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE chunks ADD COLUMN terms_level INTEGER NOT NULL DEFAULT 0;"
    "CREATE INDEX chunks_terms_level ON chunks(terms_level);"
    "CREATE VIRTUAL TABLE chunks_terms USING fts5(terms, content='chunks', content_rowid='id',"
    "  tokenize='unicode61 remove_diacritics 2');"
    "CREATE TRIGGER chunks_terms_ai AFTER INSERT ON chunks BEGIN"
    "  INSERT INTO chunks_terms(rowid, terms) VALUES (new.id, new.terms);"
    " END;"
    "CREATE TRIGGER chunks_terms_ad AFTER DELETE ON chunks BEGIN"
    "  INSERT INTO chunks_terms(chunks_terms, rowid, terms) VALUES ('delete', old.id, old.terms);"
    " END;"
    "CREATE TRIGGER chunks_terms_au AFTER UPDATE OF terms ON chunks BEGIN"
    "  INSERT INTO chunks_terms(chunks_terms, rowid, terms) VALUES ('delete', old.id, old.terms);"
    "  INSERT INTO chunks_terms(rowid, terms) VALUES (new.id, new.terms);"
    " END;"
    "DROP TRIGGER chunks_au;"
    "CREATE TRIGGER chunks_au AFTER UPDATE OF text, heading_path ON chunks BEGIN"
    "  INSERT INTO chunks_fts(chunks_fts, rowid, text, heading_path) VALUES ('delete', old.id, old.text, old.heading_path);"
    "  INSERT INTO chunks_fts(rowid, text, heading_path) VALUES (new.id, new.text, new.heading_path);"
    "  UPDATE chunks SET terms = '', terms_level = 0 WHERE id = new.id;"
    " END;"
    "INSERT INTO chunks_terms(chunks_terms) VALUES ('rebuild');",
    /* 15 (agents, issue 16; store_agents.c): agent definitions (tools,
     * departments and roles as JSON arrays of names), the runs of
     * /v1/responses (the caller's; deleted with the user; the chat messages
     * kept for previous_response_id) and every step of a run in order.
     * Times are UTC ms. */
    "CREATE TABLE agents ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  name TEXT NOT NULL UNIQUE,"
    "  model TEXT NOT NULL,"
    "  system_prompt TEXT NOT NULL DEFAULT '',"
    "  tools TEXT NOT NULL DEFAULT '[]',"
    "  max_steps INTEGER NOT NULL,"
    "  max_tokens INTEGER NOT NULL,"
    "  max_seconds INTEGER NOT NULL,"
    "  use_case TEXT NOT NULL DEFAULT 'general',"
    "  departments TEXT NOT NULL DEFAULT '[]',"
    "  roles TEXT NOT NULL DEFAULT '[]',"
    "  created_by TEXT NOT NULL DEFAULT '',"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL);"
    "CREATE TABLE agent_runs ("
    "  id TEXT PRIMARY KEY,"
    "  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    "  agent TEXT NOT NULL DEFAULT '',"
    "  model TEXT NOT NULL,"
    "  use_case TEXT NOT NULL DEFAULT '',"
    "  previous_id TEXT NOT NULL DEFAULT '',"
    "  status TEXT NOT NULL,"
    "  reason TEXT NOT NULL DEFAULT '',"
    "  request TEXT NOT NULL DEFAULT '{}',"
    "  messages TEXT NOT NULL DEFAULT '[]',"
    "  output TEXT NOT NULL DEFAULT '[]',"
    "  prompt_tokens INTEGER NOT NULL DEFAULT 0,"
    "  completion_tokens INTEGER NOT NULL DEFAULT 0,"
    "  created_at INTEGER NOT NULL,"
    "  finished_at INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX agent_runs_user ON agent_runs(user_id, created_at);"
    "CREATE TABLE agent_steps ("
    "  run_id TEXT NOT NULL REFERENCES agent_runs(id) ON DELETE CASCADE,"
    "  seq INTEGER NOT NULL,"
    "  kind TEXT NOT NULL CHECK (kind IN ('model','tool','client_tool')),"
    "  name TEXT NOT NULL DEFAULT '',"
    "  call_id TEXT NOT NULL DEFAULT '',"
    "  arguments TEXT NOT NULL DEFAULT '',"
    "  result TEXT NOT NULL DEFAULT '',"
    "  result_bytes INTEGER NOT NULL DEFAULT 0,"
    "  error TEXT NOT NULL DEFAULT '',"
    "  prompt_tokens INTEGER NOT NULL DEFAULT 0,"
    "  completion_tokens INTEGER NOT NULL DEFAULT 0,"
    "  duration_ms INTEGER NOT NULL DEFAULT 0,"
    "  created_at INTEGER NOT NULL,"
    "  PRIMARY KEY (run_id, seq));",
    /* 16 (agent memory, issue 16; store_memory.c): facts a user or their
     * agent stored, recalled into the user's later runs; the user lists,
     * edits and deletes them. Random ids (a counter would tell a user how
     * many facts others stored); deleted with the user, by erasure and by
     * the conversations' retention. Times are UTC ms. */
    "CREATE TABLE agent_memory ("
    "  id INTEGER PRIMARY KEY,"
    "  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    "  text TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL);"
    "CREATE INDEX agent_memory_user ON agent_memory(user_id, updated_at);"
    "CREATE INDEX agent_memory_updated ON agent_memory(updated_at);",
};
#define N_MIGRATIONS ((int)(sizeof g_migrations / sizeof g_migrations[0]))

const char *hh_store_migration_sql(int version)
{
    return version >= 1 && version <= N_MIGRATIONS ? g_migrations[version - 1] : NULL;
}

int hh_store_db_fail(hh_store_t *s, hh_err_t *err, const char *what)
{
    return hh_err_set(err, HH_EIO, -1, "store: %s: %s", what, s->db ? sqlite3_errmsg(s->db) : "no database");
}

#define ID_TRIES 8

/* A uniform draw from [1, HH_STORE_ID_LIMIT): 34 random bits (2^34 >
 * 10^10), drawn again when 0 or past the limit (rejection: no bias). */
static int64_t csprng_id(void *ctx)
{
    (void)ctx;
    uint64_t v;
    do {
        randombytes_buf(&v, sizeof v);
        v &= (UINT64_C(1) << 34) - 1;
    } while (v == 0 || v >= (uint64_t)HH_STORE_ID_LIMIT);
    return (int64_t)v;
}

int hh_store_insert_id_drawn(hh_store_t *s, sqlite3_stmt *st, int param, int64_t (*draw)(void *), void *ctx,
                             const char *what, int64_t *id, hh_err_t *err)
{
    for (int i = 0; i < ID_TRIES; i++) {
        int64_t v = draw(ctx);
        if (v < 1 || v >= HH_STORE_ID_LIMIT)
            continue;
        sqlite3_bind_int64(st, param, v);
        int sr = sqlite3_step(st);
        if (sr == SQLITE_DONE) {
            sqlite3_reset(st);
            *id = v;
            return 0;
        }
        /* only a taken id is drawn again; a conflict on another column
         * (a name, a path) is the caller's error */
        int ext = sqlite3_extended_errcode(s->db);
        if (ext != SQLITE_CONSTRAINT_PRIMARYKEY && ext != SQLITE_CONSTRAINT_ROWID) {
            int rc = hh_store_db_fail(s, err, what);
            sqlite3_reset(st);
            return rc;
        }
        sqlite3_reset(st);
    }
    return hh_err_set(err, HH_EIO, -1, "store: %s: no free id after %d draws", what, ID_TRIES);
}

int hh_store_insert_new_id(hh_store_t *s, sqlite3_stmt *st, int param, const char *what, int64_t *id,
                           hh_err_t *err)
{
    return hh_store_insert_id_drawn(s, st, param, csprng_id, NULL, what, id, err);
}

int hh_store_prepare(hh_store_t *s, sqlite3_stmt **st, const char *sql, hh_err_t *err)
{
    if (sqlite3_prepare_v2(s->db, sql, -1, st, NULL) != SQLITE_OK)
        return hh_store_db_fail(s, err, "prepare");
    return 0;
}

int hh_store_exec(hh_store_t *s, const char *sql, hh_err_t *err)
{
    if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return hh_store_db_fail(s, err, sql);
    return 0;
}

int hh_store_tx_begin(hh_store_t *s, hh_err_t *err)
{
    pthread_mutex_lock(&s->mu);
    int rc = hh_store_exec(s, "BEGIN IMMEDIATE", err);
    if (rc)
        pthread_mutex_unlock(&s->mu);
    return rc;
}

int hh_store_tx_end(hh_store_t *s, int rc, hh_err_t *err)
{
    if (rc == 0)
        rc = hh_store_exec(s, "COMMIT", err);
    if (rc)
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int hh_store_name_ok(const char *name, const char *what, hh_err_t *err)
{
    if (!name || !name[0] || strlen(name) >= HH_STORE_NAME_MAX)
        return hh_err_set(err, HH_EINVAL, -1, "store: %s name must be 1..%d bytes", what, HH_STORE_NAME_MAX - 1);
    return 0;
}

void hh_store_copy_col(char *dst, size_t cap, sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    size_t n = t ? strlen((const char *)t) : 0;
    if (n >= cap) {
        n = cap - 1;
        while (n > 0 && (t[n] & 0xC0) == 0x80)   /* cut at a UTF-8 character start */
            n--;
    }
    if (n)
        memcpy(dst, t, n);
    dst[n] = '\0';
}

int hh_store_row_by_name_locked(hh_store_t *s, const char *sql, const char *what, const char *name,
                                void (*read)(sqlite3_stmt *, void *), void *out, hh_err_t *err)
{
    sqlite3_stmt *st = NULL;
    int rc = hh_store_prepare(s, &st, sql, err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    int sr = sqlite3_step(st);
    if (sr == SQLITE_ROW) {
        if (out)
            read(st, out);
    } else if (sr == SQLITE_DONE) {
        rc = hh_err_set(err, HH_ENOENT, -1, "store: no %s '%s'", what, name);
    } else {
        char msg[64];
        snprintf(msg, sizeof msg, "find %s", what);
        rc = hh_store_db_fail(s, err, msg);
    }
    sqlite3_finalize(st);
    return rc;
}

void hh_store_read_id(sqlite3_stmt *st, void *out)
{
    *(int64_t *)out = sqlite3_column_int64(st, 0);
}

int hh_store_id_by_name_locked(hh_store_t *s, const char *sql, const char *what, const char *name, int64_t *id,
                               hh_err_t *err)
{
    return hh_store_row_by_name_locked(s, sql, what, name, hh_store_read_id, id, err);
}

static int db_fail(hh_store_t *s, hh_err_t *err, const char *what)
{
    return hh_store_db_fail(s, err, what);
}

void *hh_store_rows_next(hh_store_rows_t *g)
{
    if (g->n == g->cap) {
        size_t nc = g->cap ? g->cap * 2 : 16;
        void *nv = realloc(g->v, nc * g->elem);
        if (!nv)
            return NULL;
        g->v = nv;
        g->cap = nc;
    }
    return (char *)g->v + g->elem * g->n++;
}

int hh_store_collect_rows(hh_store_t *s, sqlite3_stmt *st, hh_store_rows_t *g,
                          void (*read)(sqlite3_stmt *, void *), const char *what, hh_err_t *err)
{
    int sr;
    while ((sr = sqlite3_step(st)) == SQLITE_ROW) {
        void *elem = hh_store_rows_next(g);
        if (!elem)
            return hh_err_set(err, HH_ENOMEM, -1, "store: out of memory");
        read(st, elem);
    }
    return sr == SQLITE_DONE ? 0 : hh_store_db_fail(s, err, what);
}

int hh_store_rows_end(hh_store_t *s, sqlite3_stmt *st, hh_store_rows_t *g, int rc, void *out, size_t *n)
{
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    if (rc) {
        free(g->v);
        g->v = NULL;
        return rc;
    }
    memcpy(out, &g->v, sizeof g->v);   /* out is a T ** of the caller's element type */
    *n = g->n;
    return 0;
}

const char *hh_store_data_dir(const hh_store_t *s)
{
    return s->data_dir;
}

bool hh_store_role_valid(const char *role)
{
    static const char *const roles[] = { "admin", "member", "auditor", "approver" };
    if (!role)
        return false;
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++)
        if (!strcmp(role, roles[i]))
            return true;
    return false;
}

/* Reads DATA/secret.key, or creates it (0600) with fresh random bytes. */
static int load_secret(hh_store_t *s, const char *dir, hh_err_t *err)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s/secret.key", dir) >= (int)sizeof path)
        return hh_err_set(err, HH_EINVAL, -1, "store: data directory path too long");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t r = read(fd, s->secret, SECRET_LEN);
        close(fd);
        if (r != SECRET_LEN)
            return hh_err_set(err, HH_EFORMAT, -1, "store: %s is not %d bytes", path, SECRET_LEN);
        return 0;
    }
    if (errno != ENOENT)
        return hh_err_set(err, HH_EIO, -1, "store: cannot read %s: %s", path, strerror(errno));
    randombytes_buf(s->secret, SECRET_LEN);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return hh_err_set(err, HH_EIO, -1, "store: cannot create %s: %s", path, strerror(errno));
    ssize_t w = write(fd, s->secret, SECRET_LEN);
    int rc = (w == SECRET_LEN && fsync(fd) == 0) ? 0 : -1;
    close(fd);
    if (rc)
        return hh_err_set(err, HH_EIO, -1, "store: cannot write %s", path);
    return 0;
}

static int exec_sql(hh_store_t *s, const char *sql, hh_err_t *err)
{
    char *msg = NULL;
    if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        int rc = hh_err_set(err, HH_EIO, -1, "store: %s", msg ? msg : "exec failed");
        sqlite3_free(msg);
        return rc;
    }
    return 0;
}

static int read_version(hh_store_t *s, int *version, hh_err_t *err)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, "SELECT COALESCE(MAX(version), 0) FROM schema_version", -1, &st, NULL) != SQLITE_OK)
        return db_fail(s, err, "schema_version");
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : db_fail(s, err, "schema_version");
}

/* The refusal of a database written by a newer program: both versions and
 * what the operator can do (this program never downgrades a schema). */
static int newer_schema(hh_store_t *s, int v, hh_err_t *err)
{
    return hh_err_set(err, HH_EFORMAT, -1,
                      "store: database schema version %d is newer than this program's %d (it was written by a "
                      "newer hoheit). Downgrades are not supported: install that newer hoheit again, or restore "
                      "the backup taken before the upgrade (docs/OPERATIONS.md, Upgrades). The database in %s "
                      "was not changed.",
                      v, N_MIGRATIONS, s->data_dir);
}

/* Refuses a database from a newer program before anything writes to it
 * (hh_store_open switches to WAL only after this and the migrations: the
 * switch rewrites the file header). Reads only: the schema_version table
 * if it exists. */
static int refuse_newer(hh_store_t *s, hh_err_t *err)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'", -1,
                           &st, NULL) != SQLITE_OK)
        return db_fail(s, err, "schema_version");
    int sr = sqlite3_step(st);
    sqlite3_finalize(st);
    if (sr == SQLITE_DONE)
        return 0;   /* a new database */
    if (sr != SQLITE_ROW)
        return db_fail(s, err, "schema_version");
    int v = 0;
    int rc = read_version(s, &v, err);
    if (rc)
        return rc;
    return v > N_MIGRATIONS ? newer_schema(s, v, err) : 0;
}

int hh_store_schema_newest(void)
{
    return N_MIGRATIONS;
}

/* Rewords the error of migration to (which failed) so the operator learns
 * that nothing changed: the database stays at version from. */
static int migration_failed(hh_err_t *err, int rc, int to, int from)
{
    if (!err)
        return rc;
    char why[sizeof err->msg];
    const char *m = err->msg;
    if (!strncmp(m, "store: ", 7))
        m += 7;
    snprintf(why, sizeof why, "%s", m);
    return hh_err_set(err, rc, -1,
                      "store: the upgrade to schema version %d failed (%s); the database stays at version %d, "
                      "unchanged (the whole upgrade is one transaction). Fix the cause, or restore the backup "
                      "taken before the upgrade (docs/OPERATIONS.md, Upgrades)",
                      to, why, from);
}

/* Brings the schema to N_MIGRATIONS inside one transaction (BEGIN
 * IMMEDIATE, so two processes opening at once do not both migrate): a
 * migration that fails leaves the database at its old version, unchanged. */
static int migrate(hh_store_t *s, hh_err_t *err)
{
    int rc = exec_sql(s, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)", err);
    if (rc)
        return rc;
    if ((rc = exec_sql(s, "BEGIN IMMEDIATE", err)))
        return rc;
    int v = 0;
    if ((rc = read_version(s, &v, err)))
        goto fail;
    if (v > N_MIGRATIONS) {
        rc = newer_schema(s, v, err);
        goto fail;
    }
    const int from = v;
    for (; v < N_MIGRATIONS; v++) {
        if ((rc = exec_sql(s, g_migrations[v], err))) {
            rc = migration_failed(err, rc, v + 1, from);
            goto fail;
        }
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(s->db, "INSERT INTO schema_version (version, applied_at) VALUES (?, ?)", -1, &st,
                               NULL) != SQLITE_OK) {
            rc = db_fail(s, err, "schema_version");
            goto fail;
        }
        sqlite3_bind_int(st, 1, v + 1);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)time(NULL));
        int sr = sqlite3_step(st);
        sqlite3_finalize(st);
        if (sr != SQLITE_DONE) {
            rc = db_fail(s, err, "schema_version");
            goto fail;
        }
    }
    return exec_sql(s, "COMMIT", err);
fail:
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

/* nftw callback of tighten_tree: directories 0700, files 0600; links are
 * not followed (FTW_PHYS) and keep their modes. */
static int tighten_one(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    mode_t want = type == FTW_D || type == FTW_DP ? 0700 : type == FTW_F ? 0600 : 0;
    if (want && (sb->st_mode & 07777) != want && (sb->st_mode & 077))
        chmod(path, want);   /* best effort: a file we do not own stays as it was */
    return 0;
}

/* Data safety (docs/OPERATIONS.md "Files, permissions and the data-directory
 * lock"): the data directory is 0700 and what it holds 0600, whatever the
 * umask. A directory a version before 0.11 created (0755, files 0644) is
 * tightened once, with a log line; the key files and the database are
 * checked at every open. */
static void tighten_modes(const char *dir)
{
    struct stat sb;
    if (stat(dir, &sb) != 0)
        return;
    if (sb.st_mode & 077) {
        HH_LOGW("store: %s was open to other users (mode %04o); setting it to 0700 and what it holds to 0600",
                dir, (unsigned)(sb.st_mode & 07777));
        nftw(dir, tighten_one, 16, FTW_PHYS);
        chmod(dir, 0700);
    }
    static const char *const files[] = { "hoheit.db", "hoheit.db-wal", "hoheit.db-shm", "secret.key", "audit.key" };
    char path[4096];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        if (snprintf(path, sizeof path, "%s/%s", dir, files[i]) >= (int)sizeof path)
            continue;
        if (lstat(path, &sb) == 0 && S_ISREG(sb.st_mode) && (sb.st_mode & 077)) {
            HH_LOGW("store: %s was open to other users (mode %04o); setting it to 0600", path,
                    (unsigned)(sb.st_mode & 07777));
            chmod(path, 0600);
        }
    }
}

int hh_store_open(hh_store_t **out, const char *data_dir, hh_err_t *err)
{
    *out = NULL;
    if (sodium_init() < 0)
        return hh_err_set(err, HH_EIO, -1, "store: libsodium failed to initialize");
    int rc = hh_mkdir_p(data_dir, "store: ", err);
    if (rc)
        return rc;
    tighten_modes(data_dir);
    hh_store_t *s = calloc(1, sizeof *s);
    if (!s)
        return hh_err_set(err, HH_ENOMEM, -1, "store: out of memory");
    pthread_mutex_init(&s->mu, NULL);
    if (!(s->data_dir = strdup(data_dir))) {
        rc = hh_err_set(err, HH_ENOMEM, -1, "store: out of memory");
        goto fail;
    }
    if ((rc = load_secret(s, data_dir, err)))
        goto fail;
    char path[4096];
    if (snprintf(path, sizeof path, "%s/hoheit.db", data_dir) >= (int)sizeof path) {
        rc = hh_err_set(err, HH_EINVAL, -1, "store: data directory path too long");
        goto fail;
    }
    /* Created here 0600 so SQLite (which gives -wal and -shm the mode of
     * the database file) never makes a file other users can read. */
    int dbfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (dbfd < 0) {
        rc = hh_err_set(err, HH_EIO, -1, "store: cannot open %s: %s", path, strerror(errno));
        goto fail;
    }
    close(dbfd);
    if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL) !=
        SQLITE_OK) {
        rc = db_fail(s, err, path);
        goto fail;
    }
    sqlite3_busy_timeout(s->db, 5000);
    /* Order: refuse a newer schema and migrate first, then WAL. A refused
     * or failed open leaves the file byte for byte as it was (switching a
     * rollback-journal file to WAL rewrites its header); hoheit's own
     * databases are WAL from their first open on, so they migrate in WAL. */
    if ((rc = refuse_newer(s, err)))
        goto fail;
    if ((rc = exec_sql(s, "PRAGMA foreign_keys=ON; PRAGMA synchronous=FULL;", err)))
        goto fail;
    if ((rc = migrate(s, err)))
        goto fail;
    if ((rc = exec_sql(s, "PRAGMA journal_mode=WAL;", err)))
        goto fail;
    *out = s;
    return 0;
fail:
    hh_store_close(s);
    return rc;
}

void hh_store_close(hh_store_t *s)
{
    if (!s)
        return;
    if (s->db)
        sqlite3_close(s->db);
    sodium_memzero(s->secret, sizeof s->secret);
    free(s->data_dir);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

int hh_store_schema_version(hh_store_t *s, int *version, hh_err_t *err)
{
    pthread_mutex_lock(&s->mu);
    int rc = read_version(s, version, err);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int hh_store_user_count(hh_store_t *s, int64_t *n, hh_err_t *err)
{
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = NULL;
    int rc = 0;
    if (sqlite3_prepare_v2(s->db, "SELECT COUNT(*) FROM users", -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW)
        rc = db_fail(s, err, "count users");
    else
        *n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

static void copy_text(char *dst, size_t cap, const unsigned char *src)
{
    snprintf(dst, cap, "%s", src ? (const char *)src : "");
}

static void read_user(sqlite3_stmt *st, void *p)
{
    hh_store_user_t *out = p;
    memset(out, 0, sizeof *out);
    out->id = sqlite3_column_int64(st, 0);
    copy_text(out->name, sizeof out->name, sqlite3_column_text(st, 1));
    copy_text(out->role, sizeof out->role, sqlite3_column_text(st, 2));
    out->created_at = sqlite3_column_int64(st, 3);
    out->disabled = sqlite3_column_int(st, 4) != 0;
}

/* Caller holds the mutex. */
static int user_get_locked(hh_store_t *s, const char *name, hh_store_user_t *out, hh_err_t *err)
{
    return hh_store_row_by_name_locked(s, "SELECT id, name, role, created_at, disabled FROM users WHERE name = ?",
                                       "user", name, read_user, out, err);
}

int hh_store_user_get(hh_store_t *s, const char *name, hh_store_user_t *out, hh_err_t *err)
{
    pthread_mutex_lock(&s->mu);
    int rc = user_get_locked(s, name, out, err);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int hh_store_user_ensure(hh_store_t *s, const char *name, const char *role, hh_store_user_t *out, bool *created,
                         hh_err_t *err)
{
    if (created)
        *created = false;
    if (!name || !name[0] || strlen(name) >= HH_STORE_NAME_MAX)
        return hh_err_set(err, HH_EINVAL, -1, "store: user name must be 1..%d bytes", HH_STORE_NAME_MAX - 1);
    if (!hh_store_role_valid(role))
        return hh_err_set(err, HH_EINVAL, -1, "store: unknown role '%s' (admin, member, auditor, approver)",
                          role ? role : "");
    hh_store_user_t u;
    pthread_mutex_lock(&s->mu);
    int rc = user_get_locked(s, name, &u, NULL);
    if (rc == 0) {
        if (strcmp(u.role, role) != 0)
            rc = hh_err_set(err, HH_EINVAL, -1, "store: user '%s' exists with role %s", name, u.role);
        goto done;
    }
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, "INSERT INTO users (name, role, created_at) VALUES (?, ?, ?)", -1, &st, NULL) !=
        SQLITE_OK) {
        rc = db_fail(s, err, "create user");
        goto done;
    }
    sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, role, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)time(NULL));
    int sr = sqlite3_step(st);
    sqlite3_finalize(st);
    if (sr != SQLITE_DONE) {
        rc = db_fail(s, err, "create user");
        goto done;
    }
    if (created)
        *created = true;
    rc = user_get_locked(s, name, &u, err);
done:
    pthread_mutex_unlock(&s->mu);
    if (rc == 0 && out)
        *out = u;
    return rc;
}

/* Hex of the keyed BLAKE2b-256 of key. hex needs 2 * HASH_LEN + 1 bytes. */
static void key_hash(const hh_store_t *s, const char *key, char *hex)
{
    unsigned char h[HASH_LEN];
    crypto_generichash(h, sizeof h, (const unsigned char *)key, strlen(key), s->secret, sizeof s->secret);
    sodium_bin2hex(hex, 2 * HASH_LEN + 1, h, sizeof h);
    sodium_memzero(h, sizeof h);
}

#define KEY_COLS                                                                                           \
    "k.id, k.user_id, u.name, u.role, k.prefix, k.created_at, COALESCE(k.revoked_at, 0), "                 \
    "COALESCE(k.last_used_at, 0)"

static void read_key_row(sqlite3_stmt *st, hh_store_key_t *k)
{
    memset(k, 0, sizeof *k);
    k->id = sqlite3_column_int64(st, 0);
    k->user_id = sqlite3_column_int64(st, 1);
    copy_text(k->user, sizeof k->user, sqlite3_column_text(st, 2));
    copy_text(k->role, sizeof k->role, sqlite3_column_text(st, 3));
    copy_text(k->prefix, sizeof k->prefix, sqlite3_column_text(st, 4));
    k->created_at = sqlite3_column_int64(st, 5);
    k->revoked_at = sqlite3_column_int64(st, 6);
    k->last_used_at = sqlite3_column_int64(st, 7);
}

int hh_store_key_create(hh_store_t *s, int64_t user_id, char *key_out, size_t cap, hh_store_key_t *info,
                        hh_err_t *err)
{
    if (!key_out || cap < HH_KEY_LEN + 1)
        return hh_err_set(err, HH_EINVAL, -1, "store: key buffer needs %d bytes", HH_KEY_LEN + 1);
    unsigned char raw[32];
    randombytes_buf(raw, sizeof raw);
    memcpy(key_out, "hk_", 3);
    sodium_bin2base64(key_out + 3, cap - 3, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof raw);
    char prefix[HH_KEY_PREFIX_LEN + 1];
    memcpy(prefix, key_out, HH_KEY_PREFIX_LEN);
    prefix[HH_KEY_PREFIX_LEN] = '\0';
    char hex[2 * HASH_LEN + 1];
    key_hash(s, key_out, hex);

    pthread_mutex_lock(&s->mu);
    int rc = 0;
    sqlite3_stmt *st = NULL;
    /* A random id, as documents' (store_int.h): every user sees their own
     * keys' ids (/api/me/keys), and a sequence would count the keys made
     * for everyone else between two of one's own. */
    if (sqlite3_prepare_v2(s->db,
                           "INSERT INTO api_keys (id, user_id, prefix, hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5)", -1,
                           &st, NULL) != SQLITE_OK) {
        rc = db_fail(s, err, "create key");
        goto done;
    }
    sqlite3_bind_int64(st, 2, user_id);
    sqlite3_bind_text(st, 3, prefix, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, hex, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)time(NULL));
    int64_t id = 0;
    if ((rc = hh_store_insert_new_id(s, st, 1, "create key (does the user exist?)", &id, err)))
        goto done;
    sqlite3_finalize(st);
    st = NULL;
    if (info) {
        if (sqlite3_prepare_v2(s->db, "SELECT " KEY_COLS " FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.id = ?",
                               -1, &st, NULL) != SQLITE_OK) {
            rc = db_fail(s, err, "read key");
            goto done;
        }
        sqlite3_bind_int64(st, 1, id);
        if (sqlite3_step(st) != SQLITE_ROW) {
            rc = db_fail(s, err, "read key");
            goto done;
        }
        read_key_row(st, info);
    }
done:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    if (rc)
        sodium_memzero(key_out, cap);
    return rc;
}

static bool key_well_formed(const char *key)
{
    if (!key || strncmp(key, "hk_", 3) != 0 || strlen(key) != HH_KEY_LEN)
        return false;
    for (const char *p = key + 3; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
            return false;
    }
    return true;
}

int hh_store_key_verify(hh_store_t *s, const char *key, hh_store_key_t *out, hh_err_t *err)
{
    if (!key_well_formed(key))
        return hh_err_set(err, HH_ENOENT, -1, "invalid API key");
    char prefix[HH_KEY_PREFIX_LEN + 1];
    memcpy(prefix, key, HH_KEY_PREFIX_LEN);
    prefix[HH_KEY_PREFIX_LEN] = '\0';
    char hex[2 * HASH_LEN + 1];
    key_hash(s, key, hex);

    pthread_mutex_lock(&s->mu);
    int rc = hh_err_set(err, HH_ENOENT, -1, "invalid API key");
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT " KEY_COLS ", k.hash, u.disabled FROM api_keys k JOIN users u ON u.id = k.user_id "
                           "WHERE k.prefix = ?",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = db_fail(s, err, "verify key");
        goto done;
    }
    sqlite3_bind_text(st, 1, prefix, -1, SQLITE_TRANSIENT);
    hh_store_key_t k;
    bool found = false;
    int sr;
    while ((sr = sqlite3_step(st)) == SQLITE_ROW) {
        const unsigned char *h = sqlite3_column_text(st, 8);
        if (!h || strlen((const char *)h) != 2 * HASH_LEN)
            continue;
        if (sodium_memcmp(h, hex, 2 * HASH_LEN) != 0)
            continue;
        read_key_row(st, &k);
        if (k.revoked_at == 0 && sqlite3_column_int(st, 9) == 0)
            found = true;
        break;
    }
    sqlite3_finalize(st);
    st = NULL;
    if (!found)
        goto done;
    hh_err_clear(err);
    rc = 0;
    /* last_used_at is written at most once a minute: every write is an
     * fsync (synchronous=FULL), too dear for each request. */
    int64_t now = (int64_t)time(NULL);
    if (now - k.last_used_at >= 60 &&
        sqlite3_prepare_v2(s->db, "UPDATE api_keys SET last_used_at = ? WHERE id = ?", -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, now);
        sqlite3_bind_int64(st, 2, k.id);
        if (sqlite3_step(st) == SQLITE_DONE)
            k.last_used_at = now;
    }
    if (out)
        *out = k;
done:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

static void read_key_any(sqlite3_stmt *st, void *k)
{
    read_key_row(st, k);
}

int hh_store_key_list(hh_store_t *s, hh_store_key_t **out, size_t *n, hh_err_t *err)
{
    *out = NULL;
    *n = 0;
    hh_store_rows_t g = { .elem = sizeof(hh_store_key_t) };
    pthread_mutex_lock(&s->mu);
    int rc = 0;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT " KEY_COLS " FROM api_keys k JOIN users u ON u.id = k.user_id "
                           "ORDER BY k.created_at, k.id",
                           -1, &st, NULL) != SQLITE_OK)
        rc = db_fail(s, err, "list keys");
    else
        rc = hh_store_collect_rows(s, st, &g, read_key_any, "list keys", err);
    return hh_store_rows_end(s, st, &g, rc, out, n);
}

int hh_store_key_revoke(hh_store_t *s, const char *id_or_prefix, hh_err_t *err)
{
    if (!id_or_prefix || !id_or_prefix[0])
        return hh_err_set(err, HH_EINVAL, -1, "store: no key named");
    bool by_id = true;
    for (const char *p = id_or_prefix; *p; p++)
        if (*p < '0' || *p > '9')
            by_id = false;
    if (by_id && strlen(id_or_prefix) > 18)
        return hh_err_set(err, HH_ENOENT, -1, "store: no key %s", id_or_prefix);
    pthread_mutex_lock(&s->mu);
    int rc = 0;
    sqlite3_stmt *st = NULL;
    const char *sql = by_id ? "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL"
                            : "UPDATE api_keys SET revoked_at = ? WHERE prefix = ? AND revoked_at IS NULL";
    if (!by_id) {
        /* A prefix must name one key. */
        if (sqlite3_prepare_v2(s->db, "SELECT COUNT(*) FROM api_keys WHERE prefix = ?", -1, &st, NULL) != SQLITE_OK) {
            rc = db_fail(s, err, "revoke key");
            goto done;
        }
        sqlite3_bind_text(st, 1, id_or_prefix, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(st) != SQLITE_ROW) {
            rc = db_fail(s, err, "revoke key");
            goto done;
        }
        int64_t cnt = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        st = NULL;
        if (cnt > 1) {
            rc = hh_err_set(err, HH_EINVAL, -1, "store: prefix %s names %lld keys; revoke by id", id_or_prefix,
                            (long long)cnt);
            goto done;
        }
    }
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
        rc = db_fail(s, err, "revoke key");
        goto done;
    }
    sqlite3_bind_int64(st, 1, (sqlite3_int64)time(NULL));
    if (by_id)
        sqlite3_bind_int64(st, 2, strtoll(id_or_prefix, NULL, 10));
    else
        sqlite3_bind_text(st, 2, id_or_prefix, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) != SQLITE_DONE) {
        rc = db_fail(s, err, "revoke key");
        goto done;
    }
    if (sqlite3_changes(s->db) == 0)
        rc = hh_err_set(err, HH_ENOENT, -1, "store: no active key %s", id_or_prefix);
done:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    return rc;
}
