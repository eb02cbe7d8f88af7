/* store_conv.c - conversations stored on the server (store.h,
 * "conversations"; schema migration 12): a user's chats with their
 * messages, found only through their owner's id. */
#include "store/store_int.h"
#include "base/log.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONV_COLS                                                                                               \
    "SELECT c.id, c.user_id, c.title, c.titled, c.use_case, c.model, c.collections, c.created_at, "           \
    "c.updated_at, (SELECT COUNT(*) FROM conversation_messages m WHERE m.conversation_id = c.id) "            \
    "FROM conversations c "

#define MSG_COLS                                                                                                \
    "SELECT id, seq, role, content, grounding, confidence, approval_id, approval_status, created_at "        \
    "FROM conversation_messages "

static void read_conv(sqlite3_stmt *st, void *out)
{
    hh_store_conv_t *c = out;
    memset(c, 0, sizeof *c);
    c->id = sqlite3_column_int64(st, 0);
    c->user_id = sqlite3_column_int64(st, 1);
    hh_store_copy_col(c->title, sizeof c->title, st, 2);
    c->titled = sqlite3_column_int(st, 3) != 0;
    hh_store_copy_col(c->use_case, sizeof c->use_case, st, 4);
    hh_store_copy_col(c->model, sizeof c->model, st, 5);
    hh_store_copy_col(c->collections, sizeof c->collections, st, 6);
    c->created_at = sqlite3_column_int64(st, 7);
    c->updated_at = sqlite3_column_int64(st, 8);
    c->n_messages = sqlite3_column_int64(st, 9);
}

/* A message row; content/grounding malloc'd (left NULL on no memory: the
 * caller checks content). */
static void read_msg(sqlite3_stmt *st, void *out)
{
    hh_store_conv_msg_t *m = out;
    memset(m, 0, sizeof *m);
    m->id = sqlite3_column_int64(st, 0);
    m->seq = sqlite3_column_int64(st, 1);
    hh_store_copy_col(m->role, sizeof m->role, st, 2);
    const unsigned char *t = sqlite3_column_text(st, 3);
    m->content = strdup(t ? (const char *)t : "");
    if (sqlite3_column_type(st, 4) != SQLITE_NULL)
        m->grounding = strdup((const char *)sqlite3_column_text(st, 4));
    m->has_confidence = sqlite3_column_type(st, 5) != SQLITE_NULL;
    m->confidence = m->has_confidence ? sqlite3_column_double(st, 5) : 0.0;
    m->approval_id = sqlite3_column_int64(st, 6);
    hh_store_copy_col(m->approval_status, sizeof m->approval_status, st, 7);
    m->created_at = sqlite3_column_int64(st, 8);
}

void hh_store_conv_msgs_free(hh_store_conv_msg_t *m, size_t n)
{
    for (size_t i = 0; m && i < n; i++) {
        free(m[i].content);
        free(m[i].grounding);
    }
    free(m);
}

static int meta_ok(const hh_store_conv_meta_t *meta, hh_err_t *err)
{
    if (!meta)
        return 0;
    if ((meta->use_case && strlen(meta->use_case) >= HH_CONV_META_MAX) ||
        (meta->model && strlen(meta->model) >= HH_CONV_META_MAX))
        return hh_err_set(err, HH_EINVAL, -1, "store: conversation use case / model longer than %d bytes",
                          HH_CONV_META_MAX - 1);
    if (meta->collections) {
        if (strlen(meta->collections) >= HH_CONV_COLLECTIONS_MAX)
            return hh_err_set(err, HH_EINVAL, -1, "store: conversation collections longer than %d bytes",
                              HH_CONV_COLLECTIONS_MAX - 1);
        cJSON *j = cJSON_Parse(meta->collections);
        bool ok = cJSON_IsArray(j);
        cJSON_Delete(j);
        if (!ok)
            return hh_err_set(err, HH_EINVAL, -1, "store: conversation collections must be a JSON array");
    }
    return 0;
}

static int title_ok(const char *title, hh_err_t *err)
{
    if (!title || !title[0] || strlen(title) > HH_CONV_TITLE_MAX)
        return hh_err_set(err, HH_EINVAL, -1, "store: a conversation title must be 1..%d bytes", HH_CONV_TITLE_MAX);
    return 0;
}

/* One integer from sql with ?1 = a, ?2 = b; HH_ENOENT when no row. */
static int query_i64(hh_store_t *s, const char *sql, int64_t a, int64_t b, int64_t *v, hh_err_t *err)
{
    sqlite3_stmt *st = NULL;
    int rc = hh_store_prepare(s, &st, sql, err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, a);
    sqlite3_bind_int64(st, 2, b);
    int sr = sqlite3_step(st);
    if (sr == SQLITE_ROW)
        *v = sqlite3_column_int64(st, 0);
    else if (sr == SQLITE_DONE)
        rc = HH_ENOENT;
    else
        rc = hh_store_db_fail(s, err, "conversations");
    sqlite3_finalize(st);
    return rc;
}

static int not_found(hh_err_t *err, int64_t id)
{
    return hh_err_set(err, HH_ENOENT, -1, "store: no conversation %lld", (long long)id);
}

/* Whether conversation id is user_id's (caller holds s->mu). */
static int owned_locked(hh_store_t *s, int64_t user_id, int64_t id, hh_err_t *err)
{
    int64_t v = 0;
    int rc = query_i64(s, "SELECT id FROM conversations WHERE id = ?1 AND user_id = ?2", id, user_id, &v, err);
    return rc == HH_ENOENT ? not_found(err, id) : rc;
}

static int get_locked(hh_store_t *s, int64_t user_id, int64_t id, hh_store_conv_t *out, hh_err_t *err)
{
    sqlite3_stmt *st = NULL;
    int rc = hh_store_prepare(s, &st, CONV_COLS "WHERE c.id = ?1 AND c.user_id = ?2", err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, user_id);
    int sr = sqlite3_step(st);
    if (sr == SQLITE_ROW) {
        if (out)
            read_conv(st, out);
    } else {
        rc = sr == SQLITE_DONE ? not_found(err, id) : hh_store_db_fail(s, err, "conversation");
    }
    sqlite3_finalize(st);
    return rc;
}

int hh_store_conv_create(hh_store_t *s, int64_t user_id, const char *title, const hh_store_conv_meta_t *meta,
                         hh_store_conv_t *out, hh_err_t *err)
{
    bool titled = title && title[0];
    int rc = user_id > 0 ? 0 : hh_err_set(err, HH_EINVAL, -1, "store: a conversation needs its owner");
    if (!rc && titled)
        rc = title_ok(title, err);
    if (!rc)
        rc = meta_ok(meta, err);
    if (rc)
        return rc;
    if ((rc = hh_store_tx_begin(s, err)))
        return rc;
    int64_t n = 0, one = 0;
    if ((rc = query_i64(s, "SELECT 1 FROM users WHERE id = ?1", user_id, 0, &one, err))) {
        if (rc == HH_ENOENT)
            rc = hh_err_set(err, HH_ENOENT, -1, "store: no user %lld", (long long)user_id);
        goto done;
    }
    if ((rc = query_i64(s, "SELECT COUNT(*) FROM conversations WHERE user_id = ?1", user_id, 0, &n,
                        err)))
        goto done;
    if (n >= HH_CONV_MAX_PER_USER) {
        rc = hh_err_set(err, HH_EFULL, -1, "store: a user keeps at most %d conversations; delete old ones first",
                        HH_CONV_MAX_PER_USER);
        goto done;
    }
    sqlite3_stmt *st = NULL;
    /* a random id (hh_store_insert_new_id): a counter would tell a user how
     * many conversations others started between two of theirs */
    if ((rc = hh_store_prepare(s, &st, "INSERT INTO conversations (user_id, title, titled, use_case, model, "
                                       "collections, created_at, updated_at, id) "
                                       "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8)",
                               err)))
        goto done;
    int64_t now = hh_log_now_ms();
    sqlite3_bind_int64(st, 1, user_id);
    sqlite3_bind_text(st, 2, titled ? title : "", -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, titled);
    sqlite3_bind_text(st, 4, meta && meta->use_case ? meta->use_case : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, meta && meta->model ? meta->model : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, meta && meta->collections ? meta->collections : "[]", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 7, now);
    int64_t id = 0;
    rc = hh_store_insert_new_id(s, st, 8, "create conversation", &id, err);
    sqlite3_finalize(st);
    if (!rc && out)
        rc = get_locked(s, user_id, id, out, err);
done:
    return hh_store_tx_end(s, rc, err);
}

int hh_store_conv_get(hh_store_t *s, int64_t user_id, int64_t id, hh_store_conv_t *out, hh_err_t *err)
{
    pthread_mutex_lock(&s->mu);
    int rc = get_locked(s, user_id, id, out, err);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* The filter of a listing: the owner, and with ?3 the search text. */
#define LIST_WHERE                                                                                              \
    "WHERE c.user_id = ?1 AND (?3 IS NULL OR instr(lower(c.title), lower(?3)) > 0 OR EXISTS (SELECT 1 FROM "  \
    "conversation_messages m WHERE m.conversation_id = c.id AND instr(lower(m.content), lower(?3)) > 0)) "

int hh_store_conv_list(hh_store_t *s, int64_t user_id, const char *query, int64_t offset, int64_t limit,
                       hh_store_conv_t **out, size_t *n, int64_t *total, hh_err_t *err)
{
    *out = NULL;
    *n = 0;
    if (total)
        *total = 0;
    if (query && strlen(query) > HH_CONV_QUERY_MAX)
        return hh_err_set(err, HH_EINVAL, -1, "store: a search text is at most %d bytes", HH_CONV_QUERY_MAX);
    if (offset < 0 || limit < 1 || limit > HH_CONV_LIST_MAX)
        return hh_err_set(err, HH_EINVAL, -1, "store: offset >= 0 and limit 1..%d", HH_CONV_LIST_MAX);
    bool q = query && query[0];
    hh_store_rows_t g = { .elem = sizeof(hh_store_conv_t) };
    sqlite3_stmt *st = NULL;
    pthread_mutex_lock(&s->mu);
    int rc = 0;
    if (total) {
        if (!(rc = hh_store_prepare(s, &st, "SELECT COUNT(*) FROM conversations c " LIST_WHERE "", err))) {
            sqlite3_bind_int64(st, 1, user_id);
            if (q)
                sqlite3_bind_text(st, 3, query, -1, SQLITE_STATIC);
            if (sqlite3_step(st) == SQLITE_ROW)
                *total = sqlite3_column_int64(st, 0);
            else
                rc = hh_store_db_fail(s, err, "count conversations");
            sqlite3_finalize(st);
            st = NULL;
        }
    }
    if (!rc && !(rc = hh_store_prepare(s, &st, CONV_COLS LIST_WHERE "ORDER BY c.updated_at DESC, c.id DESC "
                                                                    "LIMIT ?2 OFFSET ?4", err))) {
        sqlite3_bind_int64(st, 1, user_id);
        sqlite3_bind_int64(st, 2, limit);
        if (q)
            sqlite3_bind_text(st, 3, query, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, offset);
        rc = hh_store_collect_rows(s, st, &g, read_conv, "list conversations", err);
    }
    return hh_store_rows_end(s, st, &g, rc, out, n);
}

int hh_store_conv_rename(hh_store_t *s, int64_t user_id, int64_t id, const char *title, hh_err_t *err)
{
    int rc = title_ok(title, err);
    if (rc)
        return rc;
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = NULL;
    if (!(rc = hh_store_prepare(s, &st, "UPDATE conversations SET title = ?3, titled = 1, updated_at = ?4 "
                                        "WHERE id = ?1 AND user_id = ?2", err))) {
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int64(st, 2, user_id);
        sqlite3_bind_text(st, 3, title, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, hh_log_now_ms());
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = hh_store_db_fail(s, err, "rename conversation");
        else if (sqlite3_changes(s->db) == 0)
            rc = not_found(err, id);
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int hh_store_conv_delete(hh_store_t *s, int64_t user_id, int64_t id, hh_err_t *err)
{
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = NULL;
    /* a deleted chat is overwritten with zeros, not left in free pages */
    sqlite3_exec(s->db, "PRAGMA secure_delete = ON", NULL, NULL, NULL);
    /* the messages go by ON DELETE CASCADE, in the same statement */
    int rc = hh_store_prepare(s, &st, "DELETE FROM conversations WHERE id = ?1 AND user_id = ?2", err);
    if (!rc) {
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int64(st, 2, user_id);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = hh_store_db_fail(s, err, "delete conversation");
        else if (sqlite3_changes(s->db) == 0)
            rc = not_found(err, id);
        sqlite3_finalize(st);
    }
    sqlite3_exec(s->db, "PRAGMA secure_delete = OFF", NULL, NULL, NULL);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* The messages of conversation id (ownership checked by the caller). */
static int messages_locked(hh_store_t *s, int64_t id, hh_store_conv_msg_t **out, size_t *n, hh_err_t *err)
{
    hh_store_rows_t g = { .elem = sizeof(hh_store_conv_msg_t) };
    sqlite3_stmt *st = NULL;
    int rc = hh_store_prepare(s, &st, MSG_COLS "WHERE conversation_id = ?1 ORDER BY seq", err);
    if (!rc) {
        sqlite3_bind_int64(st, 1, id);
        rc = hh_store_collect_rows(s, st, &g, read_msg, "conversation messages", err);
        sqlite3_finalize(st);
    }
    hh_store_conv_msg_t *m = g.v;
    for (size_t i = 0; !rc && i < g.n; i++)
        if (!m[i].content)
            rc = hh_err_set(err, HH_ENOMEM, -1, "store: out of memory");
    if (rc) {
        hh_store_conv_msgs_free(m, g.n);
        return rc;
    }
    *out = m;
    *n = g.n;
    return 0;
}

int hh_store_conv_messages(hh_store_t *s, int64_t user_id, int64_t id, hh_store_conv_msg_t **out, size_t *n,
                           hh_err_t *err)
{
    *out = NULL;
    *n = 0;
    pthread_mutex_lock(&s->mu);
    int rc = owned_locked(s, user_id, id, err);
    if (!rc)
        rc = messages_locked(s, id, out, n, err);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* The first HH_CONV_AUTO_TITLE characters of text on one line (runs of
 * white space become one space), cut at a UTF-8 character start and, when
 * a word would be cut and a space lies in its second half, at that space;
 * into out (HH_CONV_TITLE_MAX + 1 bytes). */
static void auto_title(const char *text, char *out)
{
    size_t o = 0, chars = 0, last_space = 0;
    bool space = false, cut = false;
    const unsigned char *p = (const unsigned char *)text;
    for (; *p; p++) {
        if (*p == '\n' || *p == '\r' || *p == '\t' || *p == ' ') {
            space = o > 0;
            continue;
        }
        bool lead = (*p & 0xC0) != 0x80;
        size_t len = !lead ? 1 : *p >= 0xF0 ? 4 : *p >= 0xE0 ? 3 : *p >= 0xC0 ? 2 : 1;
        if (lead && (chars + (space ? 1 : 0) >= HH_CONV_AUTO_TITLE || o + len + (space ? 1 : 0) > HH_CONV_TITLE_MAX)) {
            cut = !space;   /* stopped inside a word */
            break;
        }
        if (space) {
            last_space = o;
            out[o++] = ' ';
            chars++;
            space = false;
        }
        out[o++] = (char)*p;
        chars += lead;
    }
    if (cut && last_space >= HH_CONV_AUTO_TITLE / 2)
        o = last_space;
    out[o] = '\0';
}

static int msg_in_ok(const hh_store_conv_msg_in_t *m, hh_err_t *err)
{
    if (!m->role || (strcmp(m->role, "user") && strcmp(m->role, "assistant")))
        return hh_err_set(err, HH_EINVAL, -1, "store: a message role is user or assistant");
    if (!m->content || strlen(m->content) > HH_CONV_MESSAGE_MAX)
        return hh_err_set(err, HH_EINVAL, -1, "store: a stored message is at most %d bytes", HH_CONV_MESSAGE_MAX);
    if (m->grounding) {
        cJSON *j = cJSON_Parse(m->grounding);
        bool ok = cJSON_IsObject(j);
        cJSON_Delete(j);
        if (!ok)
            return hh_err_set(err, HH_EINVAL, -1, "store: a message's grounding must be a JSON object");
    }
    return 0;
}

int hh_store_conv_append(hh_store_t *s, int64_t user_id, int64_t id, const hh_store_conv_msg_in_t *msgs, size_t n,
                         const hh_store_conv_meta_t *meta, hh_err_t *err)
{
    if (!msgs || n < 1 || n > 8)
        return hh_err_set(err, HH_EINVAL, -1, "store: append 1..8 messages");
    int rc = meta_ok(meta, err);
    for (size_t i = 0; !rc && i < n; i++)
        rc = msg_in_ok(&msgs[i], err);
    if (rc)
        return rc;
    if ((rc = hh_store_tx_begin(s, err)))
        return rc;
    hh_store_conv_t c;
    int64_t last = 0, count = 0;
    sqlite3_stmt *st = NULL;
    if ((rc = get_locked(s, user_id, id, &c, err)))
        goto done;
    if ((rc = query_i64(s, "SELECT COALESCE(MAX(seq), 0), COUNT(*) FROM conversation_messages "
                           "WHERE conversation_id = ?1", id, 0, &last, err)))
        goto done;
    count = c.n_messages;
    if (count + (int64_t)n > HH_CONV_MAX_MESSAGES) {
        rc = hh_err_set(err, HH_EFULL, -1, "store: a conversation holds at most %d messages; start a new one",
                        HH_CONV_MAX_MESSAGES);
        goto done;
    }
    int64_t now = hh_log_now_ms();
    if ((rc = hh_store_prepare(s, &st, "INSERT INTO conversation_messages (conversation_id, seq, role, content, "
                                       "grounding, confidence, approval_id, approval_status, created_at, id) "
                                       "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)", err)))
        goto done;
    const char *first_user = NULL;
    for (size_t i = 0; i < n && !rc; i++) {
        const hh_store_conv_msg_in_t *m = &msgs[i];
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int64(st, 2, last + 1 + (int64_t)i);
        sqlite3_bind_text(st, 3, m->role, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, m->content, -1, SQLITE_STATIC);
        if (m->grounding)
            sqlite3_bind_text(st, 5, m->grounding, -1, SQLITE_STATIC);
        if (m->has_confidence)
            sqlite3_bind_double(st, 6, m->confidence);
        if (m->approval_id > 0) {
            sqlite3_bind_int64(st, 7, m->approval_id);
            sqlite3_bind_text(st, 8, "pending", -1, SQLITE_STATIC);
        }
        sqlite3_bind_int64(st, 9, now);
        int64_t msg_id = 0;
        rc = hh_store_insert_new_id(s, st, 10, "append message", &msg_id, err);
        if (!first_user && !strcmp(m->role, "user") && m->content[0])
            first_user = m->content;
    }
    sqlite3_finalize(st);
    st = NULL;
    if (rc)
        goto done;
    char title[HH_CONV_TITLE_MAX + 1];
    title[0] = '\0';
    if (!c.titled && !c.title[0] && first_user)
        auto_title(first_user, title);
    if ((rc = hh_store_prepare(s, &st, "UPDATE conversations SET updated_at = ?2, "
                                       "title = CASE WHEN ?3 <> '' THEN ?3 ELSE title END, "
                                       "use_case = COALESCE(?4, use_case), model = COALESCE(?5, model), "
                                       "collections = COALESCE(?6, collections) WHERE id = ?1", err)))
        goto done;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, now);
    sqlite3_bind_text(st, 3, title, -1, SQLITE_STATIC);
    if (meta && meta->use_case)
        sqlite3_bind_text(st, 4, meta->use_case, -1, SQLITE_STATIC);
    if (meta && meta->model)
        sqlite3_bind_text(st, 5, meta->model, -1, SQLITE_STATIC);
    if (meta && meta->collections)
        sqlite3_bind_text(st, 6, meta->collections, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = hh_store_db_fail(s, err, "update conversation");
    sqlite3_finalize(st);
done:
    return hh_store_tx_end(s, rc, err);
}

int hh_store_conv_resolve(hh_store_t *s, int64_t user_id, int64_t msg_id, const char *status, const char *content,
                          const char *grounding, hh_err_t *err)
{
    if (!status || (strcmp(status, "approved") && strcmp(status, "edited") && strcmp(status, "rejected")))
        return hh_err_set(err, HH_EINVAL, -1, "store: a decided status is approved, edited or rejected");
    if (content && strlen(content) > HH_CONV_MESSAGE_MAX)
        content = NULL;   /* an approver's edit longer than a message: the approval keeps it */
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = NULL;
    int rc = hh_store_prepare(s, &st, "UPDATE conversation_messages SET approval_status = ?3, "
                                      "content = COALESCE(?4, content), grounding = COALESCE(?5, grounding), "
                                      "confidence = COALESCE(json_extract(?5, '$.confidence'), confidence) WHERE id = ?1 AND approval_status = 'pending' "
                                      "AND conversation_id IN (SELECT id FROM conversations WHERE user_id = ?2)", err);
    if (!rc) {
        sqlite3_bind_int64(st, 1, msg_id);
        sqlite3_bind_int64(st, 2, user_id);
        sqlite3_bind_text(st, 3, status, -1, SQLITE_STATIC);
        if (content)
            sqlite3_bind_text(st, 4, content, -1, SQLITE_STATIC);
        if (grounding)
            sqlite3_bind_text(st, 5, grounding, -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = hh_store_db_fail(s, err, "resolve message");
        else if (sqlite3_changes(s->db) == 0)
            rc = hh_err_set(err, HH_ENOENT, -1, "store: no pending message %lld", (long long)msg_id);
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int hh_store_conv_expire(hh_store_t *s, int64_t before_ms, int64_t **ids, size_t *n, hh_err_t *err)
{
    if (ids)
        *ids = NULL;
    *n = 0;
    hh_store_rows_t g = { .elem = sizeof(int64_t) };
    sqlite3_stmt *st = NULL;
    int rc = hh_store_tx_begin(s, err);
    if (rc)
        return rc;
    sqlite3_exec(s->db, "PRAGMA secure_delete = ON", NULL, NULL, NULL);
    if (!(rc = hh_store_prepare(s, &st, "SELECT id FROM conversations WHERE updated_at < ?1 ORDER BY id", err))) {
        sqlite3_bind_int64(st, 1, before_ms);
        rc = hh_store_collect_rows(s, st, &g, hh_store_read_id, "expired conversations", err);
        sqlite3_finalize(st);
        st = NULL;
    }
    if (!rc && g.n && !(rc = hh_store_prepare(s, &st, "DELETE FROM conversations WHERE id = ?1", err))) {
        const int64_t *v = g.v;
        for (size_t i = 0; i < g.n && !rc; i++) {
            sqlite3_reset(st);
            sqlite3_bind_int64(st, 1, v[i]);
            if (sqlite3_step(st) != SQLITE_DONE)
                rc = hh_store_db_fail(s, err, "expire conversation");
        }
        sqlite3_finalize(st);
    }
    sqlite3_exec(s->db, "PRAGMA secure_delete = OFF", NULL, NULL, NULL);
    rc = hh_store_tx_end(s, rc, err);
    if (rc || !ids)
        free(g.v);
    else
        *ids = g.v;
    if (!rc)
        *n = g.n;
    return rc;
}

int hh_store_conv_set_times(hh_store_t *s, int64_t id, int64_t created_ms, int64_t updated_ms, hh_err_t *err)
{
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = NULL;
    int rc = hh_store_prepare(s, &st, "UPDATE conversations SET created_at = ?2, updated_at = ?3 WHERE id = ?1", err);
    if (!rc) {
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int64(st, 2, created_ms);
        sqlite3_bind_int64(st, 3, updated_ms);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = hh_store_db_fail(s, err, "conversation times");
        else if (sqlite3_changes(s->db) == 0)
            rc = not_found(err, id);
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* ---- GDPR (store_int.h) ---------------------------------------------------- */

void hh_store_conv_export_free(hh_store_conv_t *convs, hh_store_conv_msg_t **msgs, size_t *n_msgs, size_t n)
{
    for (size_t i = 0; msgs && i < n; i++)
        hh_store_conv_msgs_free(msgs[i], n_msgs ? n_msgs[i] : 0);
    free(msgs);
    free(n_msgs);
    free(convs);
}

int hh_store_conv_of_user_locked(hh_store_t *s, int64_t user_id, hh_store_conv_t **convs,
                                 hh_store_conv_msg_t ***msgs, size_t **n_msgs, size_t *n, hh_err_t *err)
{
    *convs = NULL;
    *msgs = NULL;
    *n_msgs = NULL;
    *n = 0;
    hh_store_rows_t g = { .elem = sizeof(hh_store_conv_t) };
    sqlite3_stmt *st = NULL;
    int rc = hh_store_prepare(s, &st, CONV_COLS "WHERE c.user_id = ?1 ORDER BY c.created_at, c.id", err);
    if (!rc) {
        sqlite3_bind_int64(st, 1, user_id);
        rc = hh_store_collect_rows(s, st, &g, read_conv, "conversations of user", err);
        sqlite3_finalize(st);
    }
    if (rc) {
        free(g.v);
        return rc;
    }
    hh_store_conv_t *c = g.v;
    hh_store_conv_msg_t **m = g.n ? calloc(g.n, sizeof *m) : NULL;
    size_t *nm = g.n ? calloc(g.n, sizeof *nm) : NULL;
    if (g.n && (!m || !nm))
        rc = hh_err_set(err, HH_ENOMEM, -1, "store: out of memory");
    for (size_t i = 0; !rc && i < g.n; i++)
        rc = messages_locked(s, c[i].id, &m[i], &nm[i], err);
    if (rc) {
        hh_store_conv_export_free(c, m, nm, g.n);
        return rc;
    }
    *convs = c;
    *msgs = m;
    *n_msgs = nm;
    *n = g.n;
    return 0;
}

int hh_store_conv_forget_subject_locked(hh_store_t *s, const char *subject, int64_t *n, hh_err_t *err)
{
    sqlite3_stmt *st = NULL;
    int rc = hh_store_prepare(s, &st, "DELETE FROM conversations WHERE user_id IN (SELECT id FROM users WHERE "
                                      "lower(name) = lower(?1))", err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, subject, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = hh_store_db_fail(s, err, "erase conversations");
    else if (n)
        *n += sqlite3_changes(s->db);
    sqlite3_finalize(st);
    return rc;
}

static void read_text(sqlite3_stmt *st, void *out)
{
    hh_store_conv_text_t *t = out;
    t->conversation_id = sqlite3_column_int64(st, 0);
    t->message_id = sqlite3_column_int64(st, 1);
    t->user_id = sqlite3_column_int64(st, 2);
    t->column = sqlite3_column_int(st, 3);
    const unsigned char *v = sqlite3_column_text(st, 4);
    t->text = strdup(v ? (const char *)v : "");
}

void hh_store_conv_texts_free(hh_store_conv_text_t *t, size_t n)
{
    for (size_t i = 0; t && i < n; i++)
        free(t[i].text);
    free(t);
}

int hh_store_conv_mentions_locked(hh_store_t *s, const char *subject, hh_store_conv_text_t **out, size_t *n,
                                  hh_err_t *err)
{
    *out = NULL;
    *n = 0;
    hh_store_rows_t g = { .elem = sizeof(hh_store_conv_text_t) };
    sqlite3_stmt *st = NULL;
    int rc = hh_store_prepare(s, &st,
                              "SELECT id, 0, user_id, 0, title FROM conversations WHERE instr(lower(title), lower(?1)) > 0 "
                              "UNION ALL SELECT m.conversation_id, m.id, c.user_id, 1, m.content FROM "
                              "conversation_messages m JOIN conversations c ON c.id = m.conversation_id WHERE "
                              "instr(lower(m.content), lower(?1)) > 0 "
                              "UNION ALL SELECT m.conversation_id, m.id, c.user_id, 2, m.grounding FROM "
                              "conversation_messages m JOIN conversations c ON c.id = m.conversation_id WHERE "
                              "m.grounding IS NOT NULL AND instr(lower(m.grounding), lower(?1)) > 0 "
                              "ORDER BY 1, 2, 4", err);
    if (!rc) {
        sqlite3_bind_text(st, 1, subject, -1, SQLITE_STATIC);
        rc = hh_store_collect_rows(s, st, &g, read_text, "conversation mentions", err);
        sqlite3_finalize(st);
    }
    hh_store_conv_text_t *t = g.v;
    for (size_t i = 0; !rc && i < g.n; i++)
        if (!t[i].text)
            rc = hh_err_set(err, HH_ENOMEM, -1, "store: out of memory");
    if (rc) {
        hh_store_conv_texts_free(t, g.n);
        return rc;
    }
    *out = t;
    *n = g.n;
    return 0;
}

int hh_store_conv_text_set_locked(hh_store_t *s, const hh_store_conv_text_t *t, const char *text, hh_err_t *err)
{
    static const char *const sql[3] = {
        "UPDATE conversations SET title = ?2 WHERE id = ?1",
        "UPDATE conversation_messages SET content = ?2 WHERE id = ?1",
        "UPDATE conversation_messages SET grounding = ?2 WHERE id = ?1",
    };
    if (t->column < 0 || t->column > 2)
        return hh_err_set(err, HH_EINVAL, -1, "store: no such conversation text");
    bool json_ok = true;
    if (t->column == 2) {
        cJSON *j = cJSON_Parse(text);
        json_ok = cJSON_IsObject(j);
        cJSON_Delete(j);
    }
    sqlite3_stmt *st = NULL;
    int rc = hh_store_prepare(s, &st, sql[t->column], err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, t->column == 0 ? t->conversation_id : t->message_id);
    if (json_ok)
        sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = hh_store_db_fail(s, err, "rewrite conversation text");
    sqlite3_finalize(st);
    return rc;
}
