/* store_audit.c - the audit chain's statements (store.h, "the audit chain";
 * tables audit_log, audit_checkpoints, audit_anchor, audit_meta). The
 * bytes of a record, its hash and the signatures come from govern/audit.c
 * through callbacks called inside the transaction; this file only reads
 * and writes them, unchanged. audit_meta holds "public_key" (32 bytes),
 * "head" (seq as u64 big-endian, hash, signature: 8 + 32 + 64 bytes) and
 * the file hash cache ("sha256:..." keys, 32 bytes). */
#include "store/store_int.h"

#include <pthread.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HASH_LEN HH_STORE_AUDIT_HASH_LEN
#define SIG_LEN  HH_STORE_AUDIT_SIG_LEN
#define HEAD_LEN (8 + HASH_LEN + SIG_LEN)

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int prep(hh_store_t *s, const char *sql, sqlite3_stmt **st, hh_err_t *err)
{
    if (sqlite3_prepare_v2(s->db, sql, -1, st, NULL) != SQLITE_OK)
        return hh_store_db_fail(s, err, "audit: prepare");
    return 0;
}

/* Copies column i when it is a blob of exactly n bytes. */
static bool col_blob(sqlite3_stmt *st, int i, unsigned char *out, int n)
{
    if (sqlite3_column_bytes(st, i) != n)
        return false;
    const void *p = sqlite3_column_blob(st, i);
    if (!p)
        return false;
    memcpy(out, p, (size_t)n);
    return true;
}

/* ---- audit_meta (caller holds s->mu) ------------------------------------ */

static int meta_put(hh_store_t *s, const char *key, const void *v, int n, bool replace, hh_err_t *err)
{
    sqlite3_stmt *st = NULL;
    int rc = prep(s, replace ? "INSERT OR REPLACE INTO audit_meta (key, value) VALUES (?, ?)"
                             : "INSERT OR IGNORE INTO audit_meta (key, value) VALUES (?, ?)", &st, err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, v, n, SQLITE_STATIC);
    int r = sqlite3_step(st);
    sqlite3_finalize(st);
    return r == SQLITE_DONE ? 0 : hh_store_db_fail(s, err, "audit: meta");
}

/* Copies a meta value of exactly n bytes; *found false when absent,
 * HH_EFORMAT when it has another size. */
static int meta_get(hh_store_t *s, const char *key, void *v, int n, bool *found, hh_err_t *err)
{
    sqlite3_stmt *st = NULL;
    int rc = prep(s, "SELECT value FROM audit_meta WHERE key = ?", &st, err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int r = sqlite3_step(st);
    *found = false;
    if (r == SQLITE_ROW) {
        if (!col_blob(st, 0, v, n))
            rc = hh_err_set(err, HH_EFORMAT, -1, "audit: meta value %s has the wrong size", key);
        *found = rc == 0;
    } else if (r != SQLITE_DONE) {
        rc = hh_store_db_fail(s, err, "audit: meta");
    }
    sqlite3_finalize(st);
    return rc;
}

static int64_t be64(const unsigned char *p)
{
    uint64_t u = 0;
    for (int i = 0; i < 8; i++)
        u = (u << 8) | p[i];
    return (int64_t)u;
}

/* ---- reading ----------------------------------------------------------------- */

static int last_locked(hh_store_t *s, int64_t *seq, unsigned char hash[HASH_LEN], hh_err_t *err)
{
    sqlite3_stmt *st = NULL;
    int rc = prep(s, "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1", &st, err);
    if (rc)
        return rc;
    *seq = 0;
    memset(hash, 0, HASH_LEN);
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
        *seq = sqlite3_column_int64(st, 0);
        col_blob(st, 1, hash, HASH_LEN);
    }
    sqlite3_finalize(st);
    return (r == SQLITE_ROW || r == SQLITE_DONE) ? 0 : hh_store_db_fail(s, err, "audit: last record");
}

int hh_store_audit_last(hh_store_t *s, int64_t *seq, unsigned char hash[HASH_LEN], hh_err_t *err)
{
    pthread_mutex_lock(&s->mu);
    int rc = last_locked(s, seq, hash, err);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* Column i as text, NULL when null. */
static const char *col_text(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? NULL : (const char *)sqlite3_column_text(st, i);
}

/* Column i as bytes (*len), NULL when null. */
static const unsigned char *col_bytes(sqlite3_stmt *st, int i, size_t *len)
{
    *len = 0;
    if (sqlite3_column_type(st, i) == SQLITE_NULL)
        return NULL;
    const unsigned char *p = sqlite3_column_blob(st, i);
    *len = (size_t)sqlite3_column_bytes(st, i);
    return p ? p : (const unsigned char *)"";
}

/* A mark row (seq, 32-byte value, signature) of st. */
static void read_mark(sqlite3_stmt *st, hh_store_audit_mark_t *m)
{
    m->seq = sqlite3_column_int64(st, 0);
    m->hash = col_bytes(st, 1, &m->hash_len);
    m->sig = col_bytes(st, 2, &m->sig_len);
}

static void read_rec(sqlite3_stmt *st, hh_store_audit_rec_t *r)
{
    r->seq = sqlite3_column_int64(st, 0);
    size_t n;
    const unsigned char *rec = col_bytes(st, 1, &n);
    r->record = rec ? (const char *)rec : "";
    r->record_len = n;
    r->prev_hash = col_bytes(st, 2, &r->prev_hash_len);
    r->hash = col_bytes(st, 3, &r->hash_len);
    r->prompt = col_text(st, 4);
    r->output = col_text(st, 5);
    r->texts_erased = sqlite3_column_int(st, 6) != 0;
    r->user_name = col_text(st, 7);
    r->user_salt = col_bytes(st, 8, &r->user_salt_len);
    r->detail = col_text(st, 9);
    r->detail_salt = col_bytes(st, 10, &r->detail_salt_len);
    r->erased_by = sqlite3_column_int64(st, 11);
}

/* The walk proper; caller holds s->mu inside a read transaction. */
static int walk_locked(hh_store_t *s, int64_t from_seq, hh_store_audit_visit_fn visit, void *ctx, hh_err_t *err)
{
    sqlite3_stmt *as = NULL, *rs = NULL, *cs = NULL;
    int rc;
    if ((rc = prep(s, "SELECT seq, prev_hash, sig FROM audit_anchor WHERE id = 1", &as, err)) ||
        (rc = prep(s, "SELECT seq, record, prev_hash, hash, prompt, output, texts_erased, user_name, user_salt, "
                      "detail, detail_salt, erased_by FROM audit_log WHERE seq >= ? ORDER BY seq", &rs, err)) ||
        (rc = prep(s, "SELECT seq, hash, sig FROM audit_checkpoints WHERE seq >= ? ORDER BY seq", &cs, err)))
        goto out;
    sqlite3_bind_int64(rs, 1, from_seq);
    sqlite3_bind_int64(cs, 1, from_seq);
    hh_store_audit_item_t it;
    int r = sqlite3_step(as);
    if (r == SQLITE_ROW) {
        memset(&it, 0, sizeof it);
        it.kind = HH_STORE_AUDIT_ANCHOR;
        read_mark(as, &it.mark);
        if ((rc = visit(ctx, &it, err)))
            goto out;
    } else if (r != SQLITE_DONE) {
        rc = hh_store_db_fail(s, err, "audit: read anchor");
        goto out;
    }
    int rr = sqlite3_step(rs), cr = sqlite3_step(cs);
    while (rr == SQLITE_ROW || cr == SQLITE_ROW) {
        memset(&it, 0, sizeof it);
        /* a checkpoint goes before every record of a higher seq */
        if (cr == SQLITE_ROW && (rr != SQLITE_ROW || sqlite3_column_int64(cs, 0) < sqlite3_column_int64(rs, 0))) {
            it.kind = HH_STORE_AUDIT_CHECKPOINT;
            read_mark(cs, &it.mark);
            it.records_after = rr == SQLITE_ROW;
            if ((rc = visit(ctx, &it, err)))
                goto out;
            cr = sqlite3_step(cs);
        } else {
            it.kind = HH_STORE_AUDIT_RECORD;
            read_rec(rs, &it.rec);
            if ((rc = visit(ctx, &it, err)))
                goto out;
            rr = sqlite3_step(rs);
        }
    }
    if (rr != SQLITE_DONE || cr != SQLITE_DONE) {
        rc = hh_store_db_fail(s, err, "audit: read");
        goto out;
    }
    unsigned char head[HEAD_LEN];
    bool have = false;
    if ((rc = meta_get(s, "head", head, HEAD_LEN, &have, err)) || !have)
        goto out;
    memset(&it, 0, sizeof it);
    it.kind = HH_STORE_AUDIT_HEAD;
    it.mark = (hh_store_audit_mark_t){ .seq = be64(head), .hash = head + 8, .hash_len = HASH_LEN,
                                       .sig = head + 8 + HASH_LEN, .sig_len = SIG_LEN };
    rc = visit(ctx, &it, err);
out:
    sqlite3_finalize(as);
    sqlite3_finalize(rs);
    sqlite3_finalize(cs);
    return rc > 0 ? 0 : rc;
}

int hh_store_audit_walk(hh_store_t *s, int64_t from_seq, hh_store_audit_visit_fn visit, void *ctx, hh_err_t *err)
{
    if (!s || !visit)
        return hh_err_set(err, HH_EINVAL, -1, "audit: bad walk arguments");
    pthread_mutex_lock(&s->mu);
    /* one snapshot: an append meanwhile (another process) is not half seen */
    int rc = hh_store_exec(s, "BEGIN", err);
    if (!rc) {
        rc = walk_locked(s, from_seq, visit, ctx, err);
        sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* ---- writing -------------------------------------------------------------------- */

static int insert_checkpoint(hh_store_t *s, int64_t seq, const unsigned char hash[HASH_LEN],
                             const unsigned char sig[SIG_LEN], hh_err_t *err)
{
    sqlite3_stmt *st = NULL;
    int rc = prep(s, "INSERT OR IGNORE INTO audit_checkpoints (seq, hash, sig, created_at) VALUES (?, ?, ?, ?)", &st,
                  err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, seq);
    sqlite3_bind_blob(st, 2, hash, HASH_LEN, SQLITE_STATIC);
    sqlite3_bind_blob(st, 3, sig, SIG_LEN, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, now_ms());
    int r = sqlite3_step(st);
    sqlite3_finalize(st);
    return r == SQLITE_DONE ? 0 : hh_store_db_fail(s, err, "audit: checkpoint");
}

int hh_store_audit_append_locked(hh_store_t *s, const hh_store_audit_appender_t *a, int64_t *first_seq,
                                 hh_err_t *err)
{
    if (!s || !a || !a->build || !a->sign_head || !a->public_key || a->n == 0)
        return hh_err_set(err, HH_EINVAL, -1, "audit: bad append arguments");
    int rc = meta_put(s, "public_key", a->public_key, HH_STORE_AUDIT_PK_LEN, false, err);
    if (rc)
        return rc;
    int64_t seq = 0;
    unsigned char prev[HASH_LEN], hash[HASH_LEN];
    if ((rc = last_locked(s, &seq, prev, err)))
        return rc;
    int64_t first = seq + 1;
    sqlite3_stmt *st = NULL;
    if ((rc = prep(s, "INSERT INTO audit_log (seq, record, prev_hash, hash, prompt, output, user_name, user_salt, "
                      "detail, detail_salt) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", &st, err)))
        return rc;
    for (size_t i = 0; i < a->n && !rc; i++) {
        seq++;
        hh_store_audit_new_t q;
        memset(&q, 0, sizeof q);
        if ((rc = a->build(a->ctx, i, seq, prev, &q, err))) {
            free(q.record);
            break;
        }
        if (!q.record || q.record_len > (size_t)INT32_MAX) {
            free(q.record);
            rc = hh_err_set(err, HH_EINVAL, -1, "audit: record %lld has no text", (long long)seq);
            break;
        }
        memcpy(hash, q.hash, HASH_LEN);
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        sqlite3_bind_int64(st, 1, seq);
        sqlite3_bind_blob(st, 2, q.record, (int)q.record_len, SQLITE_STATIC);
        sqlite3_bind_blob(st, 3, prev, HASH_LEN, SQLITE_STATIC);
        sqlite3_bind_blob(st, 4, hash, HASH_LEN, SQLITE_STATIC);
        if (q.prompt)
            sqlite3_bind_text(st, 5, q.prompt, -1, SQLITE_STATIC);
        if (q.output)
            sqlite3_bind_text(st, 6, q.output, -1, SQLITE_STATIC);
        if (q.user_name)
            sqlite3_bind_text(st, 7, q.user_name, -1, SQLITE_STATIC);
        if (q.user_salt)
            sqlite3_bind_blob(st, 8, q.user_salt, HH_STORE_AUDIT_SALT_LEN, SQLITE_STATIC);
        if (q.detail)
            sqlite3_bind_text(st, 9, q.detail, -1, SQLITE_STATIC);
        if (q.detail_salt)
            sqlite3_bind_blob(st, 10, q.detail_salt, HH_STORE_AUDIT_SALT_LEN, SQLITE_STATIC);
        int r = sqlite3_step(st);
        free(q.record);
        if (r != SQLITE_DONE)
            rc = hh_store_db_fail(s, err, "audit: insert");
        else if (q.checkpoint)
            rc = insert_checkpoint(s, seq, hash, q.checkpoint_sig, err);
        memcpy(prev, hash, HASH_LEN);
    }
    sqlite3_finalize(st);
    if (rc)
        return rc;
    unsigned char head[HEAD_LEN];
    for (int i = 0; i < 8; i++)
        head[i] = (unsigned char)((uint64_t)seq >> (56 - 8 * i));
    memcpy(head + 8, hash, HASH_LEN);
    a->sign_head(a->ctx, seq, hash, head + 8 + HASH_LEN);
    if ((rc = meta_put(s, "head", head, HEAD_LEN, true, err)))
        return rc;
    if (first_seq)
        *first_seq = first;
    return 0;
}

int hh_store_audit_append(hh_store_t *s, const hh_store_audit_appender_t *a, int64_t *first_seq, hh_err_t *err)
{
    if (!s)
        return hh_err_set(err, HH_EINVAL, -1, "audit: bad append arguments");
    int rc = hh_store_tx_begin(s, err);
    if (rc)
        return rc;
    rc = hh_store_audit_append_locked(s, a, first_seq, err);
    return hh_store_tx_end(s, rc, err);
}

int hh_store_audit_checkpoint_last(hh_store_t *s,
                                   void (*sign)(void *ctx, int64_t seq, const unsigned char hash[HASH_LEN],
                                                unsigned char sig[SIG_LEN]),
                                   void *ctx, hh_err_t *err)
{
    if (!s || !sign)
        return hh_err_set(err, HH_EINVAL, -1, "audit: bad checkpoint arguments");
    int rc = hh_store_tx_begin(s, err);
    if (rc)
        return rc;
    int64_t last = 0;
    unsigned char hash[HASH_LEN], sig[SIG_LEN];
    if (!(rc = last_locked(s, &last, hash, err)) && last > 0) {
        sign(ctx, last, hash, sig);
        rc = insert_checkpoint(s, last, hash, sig, err);
    }
    return hh_store_tx_end(s, rc, err);
}

/* Runs a statement with one integer parameter; *changes the rows it changed. */
static int exec_int(hh_store_t *s, const char *sql, int64_t v, int64_t *changes, hh_err_t *err)
{
    sqlite3_stmt *st = NULL;
    int rc = prep(s, sql, &st, err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, v);
    int r = sqlite3_step(st);
    sqlite3_finalize(st);
    if (r != SQLITE_DONE)
        return hh_store_db_fail(s, err, "audit: expire");
    if (changes)
        *changes = sqlite3_changes(s->db);
    return 0;
}

int hh_store_audit_cut(hh_store_t *s, const hh_store_audit_cutter_t *c, int64_t *first_out, int64_t *keep_out,
                       int64_t *deleted_out, hh_err_t *err)
{
    *first_out = *keep_out = *deleted_out = 0;
    if (!s || !c || !c->expired || !c->sign_anchor)
        return hh_err_set(err, HH_EINVAL, -1, "audit: bad expire arguments");
    int rc = hh_store_tx_begin(s, err);
    if (rc)
        return rc;
    int64_t first = 0, keep = 0, deleted = 0;
    sqlite3_stmt *st = NULL;
    unsigned char prev[HASH_LEN];
    memset(prev, 0, sizeof prev);
    if ((rc = prep(s, "SELECT seq, record, prev_hash FROM audit_log ORDER BY seq", &st, err)))
        goto end;
    int r;
    /* the first record that is not expired, or the last one */
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t seq = sqlite3_column_int64(st, 0);
        if (!first)
            first = seq;
        keep = seq;
        col_blob(st, 2, prev, HASH_LEN);
        const void *rec = sqlite3_column_blob(st, 1);
        if (!c->expired(c->ctx, rec ? rec : "", (size_t)sqlite3_column_bytes(st, 1)))
            break;
    }
    sqlite3_finalize(st);
    if (r != SQLITE_ROW && r != SQLITE_DONE) {
        rc = hh_store_db_fail(s, err, "audit: expire scan");
        goto end;
    }
    if (keep > first) {
        if ((rc = exec_int(s, "DELETE FROM audit_log WHERE seq < ?", keep, &deleted, err)) ||
            (rc = exec_int(s, "DELETE FROM audit_checkpoints WHERE seq < ?", keep, NULL, err)))
            goto end;
        unsigned char sig[SIG_LEN];
        c->sign_anchor(c->ctx, keep, prev, sig);
        if ((rc = prep(s, "INSERT OR REPLACE INTO audit_anchor (id, seq, prev_hash, sig, created_at) "
                          "VALUES (1, ?, ?, ?, ?)", &st, err)))
            goto end;
        sqlite3_bind_int64(st, 1, keep);
        sqlite3_bind_blob(st, 2, prev, HASH_LEN, SQLITE_STATIC);
        sqlite3_bind_blob(st, 3, sig, SIG_LEN, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, now_ms());
        r = sqlite3_step(st);
        sqlite3_finalize(st);
        if (r != SQLITE_DONE)
            rc = hh_store_db_fail(s, err, "audit: expire");
    }
end:
    rc = hh_store_tx_end(s, rc, err);
    if (rc == 0) {
        *first_out = first;
        *keep_out = keep;
        *deleted_out = deleted;
    }
    return rc;
}

/* ---- keys and the file hash cache ---------------------------------------------- */

int hh_store_audit_public_key(hh_store_t *s, unsigned char pk[HH_STORE_AUDIT_PK_LEN], bool *found, hh_err_t *err)
{
    pthread_mutex_lock(&s->mu);
    int rc = meta_get(s, "public_key", pk, HH_STORE_AUDIT_PK_LEN, found, err);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int hh_store_file_hash_get(hh_store_t *s, const char *key, unsigned char hash[32], bool *found, hh_err_t *err)
{
    pthread_mutex_lock(&s->mu);
    int rc = meta_get(s, key, hash, 32, found, err);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int hh_store_file_hash_put(hh_store_t *s, const char *key, const unsigned char hash[32], hh_err_t *err)
{
    pthread_mutex_lock(&s->mu);
    int rc = meta_put(s, key, hash, 32, true, err);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

void hh_store_pseudonym_key(const hh_store_t *s, unsigned char key[32])
{
    static const char ctx[] = "hoheit-gdpr-pseudonym-v1";
    crypto_generichash(key, 32, (const unsigned char *)ctx, sizeof ctx - 1, s->secret, HH_STORE_SECRET_LEN);
}
