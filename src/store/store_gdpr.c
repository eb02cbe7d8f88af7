/* store_gdpr.c - the statements of data-subject export and erasure and of
 * the retention sweep (contracts in store.h "GDPR"). govern/gdpr.c keeps
 * the policy and reaches these rows only through the callbacks. */
#include "store/store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- small helpers (caller holds s->mu) ------------------------------------ */

typedef struct id_list {
    int64_t *v;
    size_t   n, cap;
} id_list_t;

static bool ids_has(const id_list_t *l, int64_t id)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i] == id)
            return true;
    return false;
}

/* Appends id (also when present). */
static bool ids_push(id_list_t *l, int64_t id)
{
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 16;
        int64_t *nv = realloc(l->v, nc * sizeof *nv);
        if (!nv)
            return false;
        l->v = nv;
        l->cap = nc;
    }
    l->v[l->n++] = id;
    return true;
}

/* Appends id unless present. */
static bool ids_add(id_list_t *l, int64_t id)
{
    return ids_has(l, id) || ids_push(l, id);
}

static int oom(hh_err_t *err)
{
    return hh_err_set(err, HH_ENOMEM, -1, "gdpr: out of memory");
}

static bool table_exists(hh_store_t *s, const char *name)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", -1, &st, NULL) !=
        SQLITE_OK)
        return false;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    bool ok = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    return ok;
}

static const char *col_text(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? (const char *)t : "";
}

/* ---- export ------------------------------------------------------------------ */

static int collect_user(hh_store_t *s, const char *subj, int64_t uid, const char *name, hh_store_gdpr_visit_fn visit,
                        void *ctx, bool *ok, hh_err_t *err)
{
    hh_store_gdpr_row_t r = { .kind = HH_STORE_GDPR_USER, .id = uid, .text = { name, "", "", "", "" } };
    hh_store_usage_day_t *u = NULL;
    hh_store_conv_t *cv = NULL;
    hh_store_conv_msg_t **msgs = NULL;
    size_t *nm = NULL, nc = 0;
    hh_store_memory_t *m = NULL;
    int rc = hh_store_usage_of_user_locked(s, uid, &u, &r.n_usage, err);
    if (!rc)
        rc = hh_store_conv_of_user_locked(s, uid, &cv, &msgs, &nm, &nc, err);
    if (!rc)
        rc = hh_store_memory_of_user_locked(s, uid, &m, &r.n_memories, err);
    if (!rc) {
        r.usage = u;
        r.convs = cv;
        r.msgs = msgs;
        r.n_msgs = nm;
        r.n_convs = nc;
        r.memories = m;
        *ok = visit(ctx, subj, &r);
    }
    free(u);
    hh_store_conv_export_free(cv, msgs, nm, nc);
    hh_store_memory_list_free(m, r.n_memories);
    return rc;
}

static int collect_subject(hh_store_t *s, const char *subj, hh_store_gdpr_visit_fn visit, void *ctx, hh_err_t *err)
{
    sqlite3_stmt *st = NULL;
    bool ok = true;
    hh_store_gdpr_row_t r = { .kind = HH_STORE_GDPR_DOCUMENT };
    int rc = hh_store_prepare(s, &st, "SELECT d.id, d.title, d.source_path, d.sha256 FROM documents d "
                                      "ORDER BY d.ingested_at, d.id", err);
    if (rc)
        return rc;
    while (ok && sqlite3_step(st) == SQLITE_ROW) {
        r = (hh_store_gdpr_row_t){ .kind = HH_STORE_GDPR_DOCUMENT, .id = sqlite3_column_int64(st, 0),
                                   .text = { col_text(st, 1), col_text(st, 2), col_text(st, 3), "", "" } };
        ok = visit(ctx, subj, &r);
    }
    sqlite3_finalize(st);
    if (ok && !(rc = hh_store_prepare(s, &st, "SELECT id, document_id, text, heading_path FROM chunks WHERE "
                                              "instr(lower(text), lower(?1)) > 0 OR instr(lower(heading_path), "
                                              "lower(?1)) > 0 ORDER BY document_id, ord", err))) {
        sqlite3_bind_text(st, 1, subj, -1, SQLITE_STATIC);
        while (ok && sqlite3_step(st) == SQLITE_ROW) {
            r = (hh_store_gdpr_row_t){ .kind = HH_STORE_GDPR_CHUNK, .id = sqlite3_column_int64(st, 0),
                                       .id2 = sqlite3_column_int64(st, 1),
                                       .text = { col_text(st, 2), col_text(st, 3), "", "", "" } };
            ok = visit(ctx, subj, &r);
        }
        sqlite3_finalize(st);
    }
    /* user records: the whole name, as erasure deletes them */
    if (!rc && ok &&
        !(rc = hh_store_prepare(s, &st, "SELECT id, name FROM users WHERE lower(name) = lower(?1) ORDER BY id", err))) {
        sqlite3_bind_text(st, 1, subj, -1, SQLITE_STATIC);
        while (ok && !rc && sqlite3_step(st) == SQLITE_ROW)
            rc = collect_user(s, subj, sqlite3_column_int64(st, 0), col_text(st, 1), visit, ctx, &ok, err);
        sqlite3_finalize(st);
    }
    if (!rc && ok) {
        hh_store_conv_text_t *t = NULL;
        size_t n = 0;
        rc = hh_store_conv_mentions_locked(s, subj, &t, &n, err);
        for (size_t i = 0; !rc && ok && i < n; i++) {
            r = (hh_store_gdpr_row_t){ .kind = HH_STORE_GDPR_CONV_TEXT, .id = t[i].conversation_id,
                                       .id2 = t[i].message_id, .column = t[i].column,
                                       .text = { t[i].text ? t[i].text : "", "", "", "", "" } };
            ok = visit(ctx, subj, &r);
        }
        hh_store_conv_texts_free(t, n);
    }
    if (!rc && ok &&
        !(rc = hh_store_prepare(s, &st, "SELECT seq, prompt, output, CAST(record AS TEXT), user_name, detail FROM "
                                        "audit_log WHERE instr(lower(coalesce(prompt, '')), lower(?1)) > 0 OR "
                                        "instr(lower(coalesce(output, '')), lower(?1)) > 0 OR "
                                        "instr(lower(coalesce(user_name, '')), lower(?1)) > 0 OR "
                                        "instr(lower(coalesce(detail, '')), lower(?1)) > 0 OR "
                                        "instr(lower(CAST(record AS TEXT)), lower(?1)) > 0 ORDER BY seq", err))) {
        sqlite3_bind_text(st, 1, subj, -1, SQLITE_STATIC);
        while (ok && sqlite3_step(st) == SQLITE_ROW) {
            r = (hh_store_gdpr_row_t){ .kind = HH_STORE_GDPR_AUDIT, .id = sqlite3_column_int64(st, 0),
                                       .text = { col_text(st, 1), col_text(st, 2), col_text(st, 3), col_text(st, 4),
                                                 col_text(st, 5) } };
            ok = visit(ctx, subj, &r);
        }
        sqlite3_finalize(st);
    }
    if (!rc && ok && table_exists(s, "approvals") &&
        sqlite3_prepare_v2(s->db, "SELECT id, coalesce(requester, '') || ' ' || coalesce(request, '') || ' ' || "
                                  "coalesce(output, '') || ' ' || coalesce(final_text, '') || ' ' || "
                                  "coalesce(reason, '') FROM approvals ORDER BY created_at, id", -1, &st, NULL) == SQLITE_OK) {
        while (ok && sqlite3_step(st) == SQLITE_ROW) {
            r = (hh_store_gdpr_row_t){ .kind = HH_STORE_GDPR_APPROVAL, .id = sqlite3_column_int64(st, 0),
                                       .text = { col_text(st, 1), "", "", "", "" } };
            ok = visit(ctx, subj, &r);
        }
        sqlite3_finalize(st);
    }
    if (!rc && !ok)
        rc = oom(err);
    return rc;
}

int hh_store_gdpr_collect(hh_store_t *s, const char *const *subjects, size_t n, hh_store_gdpr_visit_fn visit,
                          void *ctx, hh_err_t *err)
{
    if (!s || !subjects || !visit)
        return hh_err_set(err, HH_EINVAL, -1, "gdpr: bad export arguments");
    pthread_mutex_lock(&s->mu);
    int rc = hh_store_exec(s, "BEGIN", err);
    for (size_t i = 0; !rc && i < n; i++)
        rc = collect_subject(s, subjects[i], visit, ctx, err);
    sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* ---- erasure ------------------------------------------------------------------- */

/* Rewrites column col of table (key column key) through e->rewrite for
 * subject i in every row where it holds the subject; touched gets the
 * keys, *changed counts the rows. */
static int rewrite_column(hh_store_t *s, const hh_store_gdpr_eraser_t *e, size_t si, const char *table,
                          const char *key, const char *col, id_list_t *touched, int64_t *changed, hh_err_t *err)
{
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT %s, %s FROM %s WHERE instr(lower(%s), lower(?1)) > 0", key, col, table, col);
    sqlite3_stmt *st = NULL;
    int rc = hh_store_prepare(s, &st, sql, err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, e->subjects[si], -1, SQLITE_STATIC);
    id_list_t ids = { 0 };
    char **texts = NULL;
    size_t n = 0, cap = 0;
    bool no_mem = false;
    while (!no_mem && sqlite3_step(st) == SQLITE_ROW) {
        char *t = e->rewrite(e->ctx, si, col_text(st, 1), &no_mem);
        if (!t)
            continue;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            char **nt = realloc(texts, nc * sizeof *nt);
            if (!nt) {
                free(t);
                no_mem = true;
                break;
            }
            texts = nt;
            cap = nc;
        }
        texts[n++] = t;
        if (!ids_push(&ids, sqlite3_column_int64(st, 0)))
            no_mem = true;
    }
    sqlite3_finalize(st);
    if (no_mem)
        rc = oom(err);
    snprintf(sql, sizeof sql, "UPDATE %s SET %s = ? WHERE %s = ?", table, col, key);
    if (!rc && n && !(rc = hh_store_prepare(s, &st, sql, err))) {
        for (size_t i = 0; i < n && !rc; i++) {
            sqlite3_reset(st);
            sqlite3_bind_text(st, 1, texts[i], -1, SQLITE_STATIC);
            sqlite3_bind_int64(st, 2, ids.v[i]);
            if (sqlite3_step(st) != SQLITE_DONE)
                rc = hh_store_db_fail(s, err, "gdpr: rewrite");
            else if (touched && !ids_add(touched, ids.v[i]))
                rc = oom(err);
        }
        sqlite3_finalize(st);
    }
    if (!rc && changed)
        *changed += (int64_t)n;
    for (size_t i = 0; i < n; i++)
        free(texts[i]);
    free(texts);
    free(ids.v);
    return rc;
}

/* Runs sql (one ? for an id) for every id of rows; all (may be NULL) gets
 * them too. */
static int run_for_ids(hh_store_t *s, const char *sql, const id_list_t *rows, id_list_t *all, const char *what,
                       hh_err_t *err)
{
    if (!rows->n)
        return 0;
    sqlite3_stmt *st = NULL;
    int rc = hh_store_prepare(s, &st, sql, err);
    for (size_t i = 0; i < rows->n && !rc; i++) {
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, rows->v[i]);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = hh_store_db_fail(s, err, what);
        else if (all && !ids_add(all, rows->v[i]))
            rc = oom(err);
    }
    sqlite3_finalize(st);
    return rc;
}

/* Every audit row of rows, given ?2, now names erased_by ?1 = seq. */
static int mark_erased_by(hh_store_t *s, int64_t seq, const int64_t *rows, size_t n, hh_err_t *err)
{
    if (!n)
        return 0;
    sqlite3_stmt *st = NULL;
    int rc = hh_store_prepare(s, &st, "UPDATE audit_log SET erased_by = ? WHERE seq = ?", err);
    for (size_t i = 0; i < n && !rc; i++) {
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, seq);
        sqlite3_bind_int64(st, 2, rows[i]);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = hh_store_db_fail(s, err, "gdpr: erased_by");
    }
    sqlite3_finalize(st);
    return rc;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

typedef struct erase_state {
    id_list_t docs, audit_rows;
    char    **files;
    size_t    n_files;
} erase_state_t;

/* One subject inside the erasure transaction. */
static int erase_subject(hh_store_t *s, const hh_store_gdpr_eraser_t *e, size_t si, erase_state_t *es,
                         hh_store_gdpr_erased_t *r, hh_err_t *err)
{
    const char *subj = e->subjects[si];
    id_list_t chunks = { 0 };
    int rc = rewrite_column(s, e, si, "chunks", "id", "text", &chunks, &r->chunks, err);
    if (!rc)
        rc = rewrite_column(s, e, si, "chunks", "id", "heading_path", &chunks, NULL, err);
    sqlite3_stmt *st = NULL;
    /* the vectors of rewritten chunks describe the old text */
    if (!rc && chunks.n && !(rc = hh_store_prepare(s, &st, "DELETE FROM chunk_vectors WHERE chunk_id = ?", err))) {
        for (size_t i = 0; i < chunks.n && !rc; i++) {
            sqlite3_reset(st);
            sqlite3_bind_int64(st, 1, chunks.v[i]);
            if (sqlite3_step(st) != SQLITE_DONE)
                rc = hh_store_db_fail(s, err, "gdpr: vectors");
            else
                r->vectors += sqlite3_changes(s->db);
        }
        sqlite3_finalize(st);
    }
    /* their documents */
    if (!rc && chunks.n && !(rc = hh_store_prepare(s, &st, "SELECT document_id FROM chunks WHERE id = ?", err))) {
        for (size_t i = 0; i < chunks.n && !rc; i++) {
            sqlite3_reset(st);
            sqlite3_bind_int64(st, 1, chunks.v[i]);
            if (sqlite3_step(st) == SQLITE_ROW && !ids_add(&es->docs, sqlite3_column_int64(st, 0)))
                rc = oom(err);
        }
        sqlite3_finalize(st);
    }
    free(chunks.v);
    if (!rc)
        rc = rewrite_column(s, e, si, "documents", "id", "title", &es->docs, NULL, err);
    if (!rc)
        rc = rewrite_column(s, e, si, "documents", "id", "source_path", &es->docs, NULL, err);
    /* stored originals: every file whose bytes hold the subject */
    if (!rc && !(rc = hh_store_prepare(s, &st, "SELECT id, sha256 FROM documents WHERE erased_at IS NULL", err))) {
        while (!rc && sqlite3_step(st) == SQLITE_ROW) {
            const char *sha = col_text(st, 1);
            if (!e->file_holds(e->ctx, si, sha))
                continue;
            char **nf = realloc(es->files, (es->n_files + 1) * sizeof *nf);
            char *dup = strdup(sha);
            if (nf)
                es->files = nf;
            if (!nf || !dup || !ids_add(&es->docs, sqlite3_column_int64(st, 0))) {
                free(dup);
                rc = oom(err);
            } else {
                nf[es->n_files++] = dup;
            }
        }
        sqlite3_finalize(st);
    }
    /* their usage counters stay as totals without a name (store_usage.c) */
    if (!rc)
        rc = hh_store_usage_forget_subject_locked(s, subj, &r->usage_rows, err);
    /* their own chat history goes (store_conv.c); where other users'
     * conversations name them, the name becomes the pseudonym */
    if (!rc)
        rc = hh_store_conv_forget_subject_locked(s, subj, &r->conversations, err);
    /* their agent runs with every step (store_agents.c) */
    if (!rc)
        rc = hh_store_agent_runs_forget_subject_locked(s, subj, NULL, err);
    /* their agent memory (store_memory.c) */
    if (!rc)
        rc = hh_store_memory_forget_subject_locked(s, subj, &r->memories, err);
    if (!rc) {
        hh_store_conv_text_t *t = NULL;
        size_t n = 0;
        rc = hh_store_conv_mentions_locked(s, subj, &t, &n, err);
        for (size_t i = 0; !rc && i < n; i++) {
            bool no_mem = false;
            char *nt = e->rewrite(e->ctx, si, t[i].text ? t[i].text : "", &no_mem);
            if (no_mem)
                rc = oom(err);
            else if (nt && !(rc = hh_store_conv_text_set_locked(s, &t[i], nt, err)))
                r->conversation_texts++;
            free(nt);
        }
        hh_store_conv_texts_free(t, n);
    }
    /* the user record whose whole name is the subject (ignoring ASCII case;
     * "ann" never deletes "joanna"); its keys, memberships and quotas
     * cascade. keeps_an_admin has checked that an enabled admin stays. */
    if (!rc && !(rc = hh_store_prepare(s, &st, "DELETE FROM users WHERE lower(name) = lower(?1)", err))) {
        sqlite3_bind_text(st, 1, subj, -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = hh_store_db_fail(s, err, "gdpr: users");
        else
            r->users += sqlite3_changes(s->db);
        sqlite3_finalize(st);
    }
    /* audit texts live outside the hashed record */
    id_list_t seqs = { 0 };
    if (!rc)
        rc = rewrite_column(s, e, si, "audit_log", "seq", "prompt", &seqs, &r->audit_texts, err);
    if (!rc)
        rc = rewrite_column(s, e, si, "audit_log", "seq", "output", &seqs, &r->audit_texts, err);
    /* the verifier no longer compares these texts with their hashes */
    if (!rc)
        rc = run_for_ids(s, "UPDATE audit_log SET texts_erased = 1 WHERE seq = ?", &seqs, &es->audit_rows,
                         "gdpr: mark audit row", err);
    free(seqs.v);
    /* user names and details: the text becomes the pseudonym and the salt
     * goes, so the commitment in the record can no longer be tested
     * against a list of names */
    static const char *const short_cols[2][2] = { { "user_name", "UPDATE audit_log SET user_salt = NULL WHERE seq = ?" },
                                                  { "detail", "UPDATE audit_log SET detail_salt = NULL WHERE seq = ?" } };
    for (int c = 0; c < 2 && !rc; c++) {
        id_list_t ss = { 0 };
        rc = rewrite_column(s, e, si, "audit_log", "seq", short_cols[c][0], &ss, &r->audit_texts, err);
        if (!rc)
            rc = run_for_ids(s, short_cols[c][1], &ss, &es->audit_rows, "gdpr: mark audit row", err);
        free(ss.v);
    }
    /* records from before migration 8 hold user/detail inside the chain */
    if (!rc && !(rc = hh_store_prepare(s, &st, "SELECT count(*) FROM audit_log WHERE "
                                               "instr(lower(CAST(record AS TEXT)), lower(?1)) > 0", err))) {
        sqlite3_bind_text(st, 1, subj, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW)
            r->audit_kept += sqlite3_column_int64(st, 0);
        else
            rc = hh_store_db_fail(s, err, "gdpr: count");
        sqlite3_finalize(st);
    }
    if (!rc && table_exists(s, "approvals")) {
        static const char *const cols[] = { "requester", "request", "output", "final_text", "reason" };
        for (size_t c = 0; !rc && c < sizeof cols / sizeof cols[0]; c++)
            rc = rewrite_column(s, e, si, "approvals", "id", cols[c], NULL, &r->approvals, err);
    }
    return rc;
}

/* HH_ESTATE when the user records the subjects name hold every enabled
 * admin: the erasure would leave nobody to administer hoheit (as `users
 * delete` refuses for the last admin). Runs inside the erasure's
 * transaction, before anything is changed. */
static int keeps_an_admin(hh_store_t *s, const char *const *subjects, size_t n, hh_err_t *err)
{
    int64_t admins = 0;
    id_list_t named = { 0 };   /* distinct: "root" and "ROOT" name one account */
    char who[HH_STORE_NAME_MAX] = "";
    sqlite3_stmt *st = NULL;
    int rc = hh_store_prepare(s, &st, "SELECT count(*) FROM users WHERE role = 'admin' AND disabled = 0", err);
    if (!rc) {
        if (sqlite3_step(st) == SQLITE_ROW)
            admins = sqlite3_column_int64(st, 0);
        else
            rc = hh_store_db_fail(s, err, "gdpr: count admins");
        sqlite3_finalize(st);
    }
    if (!rc && !(rc = hh_store_prepare(s, &st, "SELECT id, name FROM users WHERE role = 'admin' AND disabled = 0 "
                                               "AND lower(name) = lower(?1)", err))) {
        for (size_t i = 0; i < n && !rc; i++) {
            sqlite3_reset(st);
            sqlite3_bind_text(st, 1, subjects[i], -1, SQLITE_STATIC);
            while (!rc && sqlite3_step(st) == SQLITE_ROW) {
                if (!ids_add(&named, sqlite3_column_int64(st, 0)))
                    rc = oom(err);
                snprintf(who, sizeof who, "%s", col_text(st, 1));
            }
        }
        sqlite3_finalize(st);
    }
    bool last = named.n > 0 && (int64_t)named.n >= admins;
    free(named.v);
    if (!rc && last)
        rc = hh_err_set(err, HH_ESTATE, -1,
                        "gdpr: refused: '%s' is the last enabled admin and erasing the subject would delete that "
                        "account, leaving nobody to administer hoheit; make another user admin first (hoheit users "
                        "role NAME admin), then erase again; nothing was erased",
                        who);
    return rc;
}

/* The erasure's audit record, inside its transaction: it lists the rows
 * marked erased for the first time (erased_by still NULL), which then name
 * it, so the verifier accepts their pseudonymized texts. */
static int record_erasure(hh_store_t *s, const hh_store_gdpr_eraser_t *e, const erase_state_t *es,
                          const hh_store_gdpr_erased_t *r, hh_err_t *err)
{
    id_list_t fresh = { 0 };
    sqlite3_stmt *st = NULL;
    int rc = 0;
    if (es->audit_rows.n &&
        !(rc = hh_store_prepare(s, &st, "SELECT erased_by IS NULL FROM audit_log WHERE seq = ?", err))) {
        for (size_t i = 0; i < es->audit_rows.n && !rc; i++) {
            sqlite3_reset(st);
            sqlite3_bind_int64(st, 1, es->audit_rows.v[i]);
            if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) && !ids_push(&fresh, es->audit_rows.v[i]))
                rc = oom(err);
        }
        sqlite3_finalize(st);
    }
    if (fresh.n)
        qsort(fresh.v, fresh.n, sizeof *fresh.v, cmp_i64);
    int64_t seq = 0;
    if (!rc)
        rc = e->record(e->ctx, r, es->n_files, fresh.v, fresh.n, &seq, err);
    if (!rc)
        rc = mark_erased_by(s, seq, fresh.v, fresh.n, err);
    free(fresh.v);
    return rc;
}

int hh_store_gdpr_erase(hh_store_t *s, const hh_store_gdpr_eraser_t *e, int64_t now, hh_store_gdpr_erased_t *counts,
                        char ***files, size_t *n_files, hh_err_t *err)
{
    hh_store_gdpr_erased_t r = { 0 };
    erase_state_t es = { 0 };
    if (counts)
        *counts = r;
    if (files)
        *files = NULL;
    if (n_files)
        *n_files = 0;
    if (!s || !e || !e->subjects || !e->rewrite || !e->file_holds || !e->record || !files || !n_files)
        return hh_err_set(err, HH_EINVAL, -1, "gdpr: bad erase arguments");
    pthread_mutex_lock(&s->mu);
    /* deleted content is overwritten with zeros, not left in free pages */
    int rc = hh_store_exec(s, "PRAGMA secure_delete = ON", err);
    if (rc)
        goto out;
    if ((rc = hh_store_exec(s, "BEGIN IMMEDIATE", err)))
        goto out;
    rc = keeps_an_admin(s, e->subjects, e->n, err);
    for (size_t i = 0; i < e->n && !rc; i++)
        rc = erase_subject(s, e, i, &es, &r, err);
    sqlite3_stmt *st = NULL;
    if (!rc && es.docs.n && !(rc = hh_store_prepare(s, &st, "UPDATE documents SET erased_at = ? WHERE id = ?", err))) {
        for (size_t i = 0; i < es.docs.n && !rc; i++) {
            sqlite3_reset(st);
            sqlite3_bind_int64(st, 1, now);
            sqlite3_bind_int64(st, 2, es.docs.v[i]);
            if (sqlite3_step(st) != SQLITE_DONE)
                rc = hh_store_db_fail(s, err, "gdpr: mark document");
        }
        sqlite3_finalize(st);
    }
    r.documents = (int64_t)es.docs.n;
    /* the FTS index keeps deleted terms in its segments until merged:
     * rebuild it from the rewritten chunks */
    if (!rc && r.chunks)
        rc = hh_store_exec(s, "INSERT INTO chunks_fts(chunks_fts) VALUES ('rebuild')", err);
    /* the analyzed terms of the rewritten chunks were emptied by trigger
     * (migration 14); the segments of that index are rebuilt too */
    if (!rc && r.chunks)
        rc = hh_store_exec(s, "INSERT INTO chunks_terms(chunks_terms) VALUES ('rebuild')", err);
    /* audited in the same transaction */
    if (!rc)
        rc = record_erasure(s, e, &es, &r, err);
    if (!rc)
        rc = hh_store_exec(s, "COMMIT", err);
    if (rc)
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
out:
    if (rc)
        sqlite3_exec(s->db, "PRAGMA secure_delete = OFF", NULL, NULL, NULL);
    pthread_mutex_unlock(&s->mu);
    free(es.docs.v);
    free(es.audit_rows.v);
    if (rc) {
        for (size_t i = 0; i < es.n_files; i++)
            free(es.files[i]);
        free(es.files);
    } else {
        *files = es.files;
        *n_files = es.n_files;
    }
    if (counts)
        *counts = r;
    return rc;
}

int hh_store_gdpr_scrub(hh_store_t *s, bool vacuum, hh_err_t *err)
{
    if (!s)
        return hh_err_set(err, HH_EINVAL, -1, "gdpr: no store");
    pthread_mutex_lock(&s->mu);
    int rc = 0;
    if (vacuum) {
        rc = hh_store_exec(s, "VACUUM", err);
        if (!rc)
            rc = hh_store_exec(s, "PRAGMA wal_checkpoint(TRUNCATE)", err);
    }
    sqlite3_exec(s->db, "PRAGMA secure_delete = OFF", NULL, NULL, NULL);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* ---- retention ------------------------------------------------------------------ */

int hh_store_gdpr_collection_retention(hh_store_t *s, const char *collection, int days, hh_err_t *err)
{
    if (!s || !collection)
        return hh_err_set(err, HH_EINVAL, -1, "gdpr: bad retention arguments");
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = NULL;
    int rc = hh_store_prepare(s, &st, "UPDATE collections SET retention_days = ? WHERE name = ?", err);
    if (!rc) {
        if (days > 0)
            sqlite3_bind_int(st, 1, days);
        else
            sqlite3_bind_null(st, 1);
        sqlite3_bind_text(st, 2, collection, -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = hh_store_db_fail(s, err, "gdpr: retention");
        else if (sqlite3_changes(s->db) == 0)
            rc = hh_err_set(err, HH_ENOENT, -1, "gdpr: no collection %s", collection);
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int hh_store_gdpr_expired_documents(hh_store_t *s, int64_t now, int64_t **ids, size_t *n, hh_err_t *err)
{
    *ids = NULL;
    *n = 0;
    id_list_t l = { 0 };
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = NULL;
    int rc = hh_store_prepare(s, &st, "SELECT d.id FROM documents d JOIN collections c ON c.id = d.collection_id "
                                      "WHERE c.retention_days > 0 AND d.ingested_at < ? - c.retention_days * 86400 "
                                      "ORDER BY d.id", err);
    if (!rc) {
        sqlite3_bind_int64(st, 1, now);
        int sr;
        while ((sr = sqlite3_step(st)) == SQLITE_ROW && !rc)
            if (!ids_add(&l, sqlite3_column_int64(st, 0)))
                rc = oom(err);
        if (!rc && sr != SQLITE_DONE)
            rc = hh_store_db_fail(s, err, "gdpr: sweep");
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&s->mu);
    if (rc) {
        free(l.v);
        return rc;
    }
    *ids = l.v;
    *n = l.n;
    return 0;
}

/* Rows of the audit log that still hold a text or a salt, after seq ?1,
 * older than ?2 (the latest cut), ?3 at most, ?4 = the expired text. A
 * record that is not valid JSON (damaged) has no time and is skipped: the
 * verifier reports it. */
#define EXPIRY_CANDIDATES_SQL                                                                                     \
    "SELECT seq, use_case, time_ms, erased_by IS NULL FROM (SELECT seq, erased_by, "                            \
    "CASE WHEN json_valid(CAST(record AS TEXT)) THEN json_extract(CAST(record AS TEXT), '$.use_case') END "      \
    "AS use_case, CASE WHEN json_valid(CAST(record AS TEXT)) THEN json_extract(CAST(record AS TEXT), "           \
    "'$.time_ms') END AS time_ms FROM audit_log WHERE seq > ?1 AND ((prompt IS NOT NULL AND prompt <> ?4) OR "    \
    "(output IS NOT NULL AND output <> ?4) OR (user_name IS NOT NULL AND user_name <> ?4) OR "                   \
    "(detail IS NOT NULL AND detail <> ?4) OR user_salt IS NOT NULL OR detail_salt IS NOT NULL)) "               \
    "WHERE typeof(time_ms) = 'integer' AND time_ms < ?2 ORDER BY seq LIMIT ?3"

#define EXPIRE_ROW_SQL                                                                                            \
    "UPDATE audit_log SET prompt = CASE WHEN prompt IS NULL THEN NULL ELSE ?2 END, "                             \
    "output = CASE WHEN output IS NULL THEN NULL ELSE ?2 END, "                                                 \
    "user_name = CASE WHEN user_name IS NULL THEN NULL ELSE ?2 END, "                                           \
    "detail = CASE WHEN detail IS NULL THEN NULL ELSE ?2 END, "                                                 \
    "user_salt = NULL, detail_salt = NULL, texts_erased = 1 WHERE seq = ?1"

/* One batch of the audit text expiry (caller holds s->mu and the
 * transaction): up to x->batch candidates after *cursor; rows an erasure
 * already covers keep naming their erasure record. */
static int expire_texts_batch(hh_store_t *s, const hh_store_gdpr_expirer_t *x, int64_t *cursor, bool *done,
                              int64_t *n_out, hh_err_t *err)
{
    id_list_t rows = { 0 }, fresh = { 0 };
    sqlite3_stmt *st = NULL;
    int64_t seen = 0;
    *n_out = 0;
    int rc = hh_store_prepare(s, &st, EXPIRY_CANDIDATES_SQL, err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, *cursor);
    sqlite3_bind_int64(st, 2, x->max_cut);
    sqlite3_bind_int64(st, 3, x->batch);
    sqlite3_bind_text(st, 4, x->expired_text, -1, SQLITE_STATIC);
    int sr = SQLITE_DONE;
    while (!rc && (sr = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t seq = sqlite3_column_int64(st, 0);
        const char *uc = (const char *)sqlite3_column_text(st, 1);
        seen++;
        *cursor = seq;
        if (sqlite3_column_int64(st, 2) >= x->cut(x->ctx, uc))
            continue;
        if (!ids_push(&rows, seq) || (sqlite3_column_int(st, 3) && !ids_push(&fresh, seq)))
            rc = oom(err);
    }
    if (!rc && sr != SQLITE_DONE)
        rc = hh_store_db_fail(s, err, "gdpr: expiry scan");
    sqlite3_finalize(st);
    *done = seen < x->batch;
    if (!rc && rows.n && !(rc = hh_store_prepare(s, &st, EXPIRE_ROW_SQL, err))) {
        for (size_t i = 0; i < rows.n && !rc; i++) {
            sqlite3_reset(st);
            sqlite3_bind_int64(st, 1, rows.v[i]);
            sqlite3_bind_text(st, 2, x->expired_text, -1, SQLITE_STATIC);
            if (sqlite3_step(st) != SQLITE_DONE)
                rc = hh_store_db_fail(s, err, "gdpr: expire audit texts");
        }
        sqlite3_finalize(st);
    }
    if (!rc && rows.n) {
        /* rows come in seq order: fresh is increasing, as erased_seqs must be */
        int64_t seq = 0;
        rc = x->record(x->ctx, rows.v, rows.n, fresh.v, fresh.n, &seq, err);
        if (!rc)
            rc = mark_erased_by(s, seq, fresh.v, fresh.n, err);
    }
    if (!rc)
        *n_out = (int64_t)rows.n;
    free(rows.v);
    free(fresh.v);
    return rc;
}

/* One batch of the approvals retention (caller holds s->mu and the
 * transaction). */
static int expire_approvals_batch(hh_store_t *s, const hh_store_gdpr_expirer_t *x, int64_t *cursor, bool *done,
                                  int64_t *n_out, hh_err_t *err)
{
    id_list_t ids = { 0 }, deleted = { 0 };
    sqlite3_stmt *st = NULL;
    int64_t seen = 0;
    *n_out = 0;
    int rc = hh_store_prepare(s, &st, "SELECT id, use_case, decided_at FROM approvals WHERE id > ?1 AND status IN "
                                      "('approved', 'edited', 'rejected') AND decided_at < ?2 ORDER BY id LIMIT ?3",
                              err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, *cursor);
    sqlite3_bind_int64(st, 2, x->max_cut);
    sqlite3_bind_int64(st, 3, x->batch);
    int sr = SQLITE_DONE;
    while (!rc && (sr = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(st, 0);
        seen++;
        *cursor = id;
        if (sqlite3_column_int64(st, 2) < x->cut(x->ctx, (const char *)sqlite3_column_text(st, 1)) &&
            !ids_push(&ids, id))
            rc = oom(err);
    }
    if (!rc && sr != SQLITE_DONE)
        rc = hh_store_db_fail(s, err, "gdpr: approvals scan");
    sqlite3_finalize(st);
    *done = seen < x->batch;
    if (!rc && ids.n &&
        !(rc = hh_store_prepare(s, &st, "DELETE FROM approvals WHERE id = ? AND status <> 'pending'", err))) {
        for (size_t i = 0; i < ids.n && !rc; i++) {
            sqlite3_reset(st);
            sqlite3_bind_int64(st, 1, ids.v[i]);
            if (sqlite3_step(st) != SQLITE_DONE)
                rc = hh_store_db_fail(s, err, "gdpr: delete approval");
            else if (sqlite3_changes(s->db) > 0 && !ids_push(&deleted, ids.v[i]))
                rc = oom(err);
        }
        sqlite3_finalize(st);
    }
    if (!rc && deleted.n) {
        int64_t seq = 0;
        rc = x->record(x->ctx, deleted.v, deleted.n, NULL, 0, &seq, err);
    }
    if (!rc)
        *n_out = (int64_t)deleted.n;
    free(ids.v);
    free(deleted.v);
    return rc;
}

typedef int (*batch_fn)(hh_store_t *, const hh_store_gdpr_expirer_t *, int64_t *, bool *, int64_t *, hh_err_t *);

/* Runs fn batch after batch, each in its own IMMEDIATE transaction with
 * secure_delete on, releasing the store between them so requests go on;
 * *total adds up what they expired. */
static int run_batches(hh_store_t *s, const hh_store_gdpr_expirer_t *x, batch_fn fn, int64_t *total, hh_err_t *err)
{
    if (!s || !x || !x->cut || !x->record || x->batch <= 0 || !x->expired_text)
        return hh_err_set(err, HH_EINVAL, -1, "gdpr: bad retention arguments");
    int64_t cursor = 0;
    bool done = false;
    int rc = 0;
    while (!rc && !done) {
        int64_t n = 0;
        pthread_mutex_lock(&s->mu);
        /* the expired texts are overwritten with zeros, not left in free pages */
        if (!(rc = hh_store_exec(s, "PRAGMA secure_delete = ON", err)) &&
            !(rc = hh_store_exec(s, "BEGIN IMMEDIATE", err))) {
            rc = fn(s, x, &cursor, &done, &n, err);
            if (!rc)
                rc = hh_store_exec(s, "COMMIT", err);
            if (rc)
                sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        }
        pthread_mutex_unlock(&s->mu);
        if (!rc)
            *total += n;
    }
    return rc;
}

int hh_store_gdpr_expire_audit_texts(hh_store_t *s, const hh_store_gdpr_expirer_t *x, int64_t *n, hh_err_t *err)
{
    return run_batches(s, x, expire_texts_batch, n, err);
}

int hh_store_gdpr_expire_approvals(hh_store_t *s, const hh_store_gdpr_expirer_t *x, int64_t *n, hh_err_t *err)
{
    return run_batches(s, x, expire_approvals_batch, n, err);
}

int hh_store_gdpr_expire_usage(hh_store_t *s, int64_t before_day, int64_t *n, hh_err_t *err)
{
    if (!s || !n)
        return hh_err_set(err, HH_EINVAL, -1, "gdpr: bad retention arguments");
    pthread_mutex_lock(&s->mu);
    int rc = hh_store_usage_expire_locked(s, before_day, n, err);
    pthread_mutex_unlock(&s->mu);
    return rc;
}
