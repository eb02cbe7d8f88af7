/* gdpr.c - data-subject export and erasure, collection TTLs and the
 * retention sweeper of gdpr.h. Runs its own SQL on the store's database
 * (store_int.h) under s->mu. */
#include "govern/gdpr.h"

#include "govern/audit.h"
#include "govern/pii.h"
#include "govern/register.h"
#include "kb/ingest.h"
#include "store/store_int.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DAY_S 86400LL

/* ---- string helpers ------------------------------------------------------- */

static unsigned char lc(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

/* First ASCII case-insensitive occurrence of needle in hay at or after
 * from; -1 when none. */
static int64_t ci_find(const char *hay, size_t hlen, const char *needle, size_t nlen, size_t from)
{
    if (nlen == 0 || hlen < nlen)
        return -1;
    for (size_t i = from; i + nlen <= hlen; i++) {
        size_t k = 0;
        while (k < nlen && lc((unsigned char)hay[i + k]) == lc((unsigned char)needle[k]))
            k++;
        if (k == nlen)
            return (int64_t)i;
    }
    return -1;
}

/* hay with every occurrence of needle replaced by token: malloc'd (caller
 * frees), or NULL when there is none (or out of memory: *oom set). */
static char *replace_all(const char *hay, const char *needle, const char *token, bool *oom)
{
    size_t hlen = strlen(hay), nlen = strlen(needle), tlen = strlen(token);
    size_t count = 0;
    for (int64_t p = ci_find(hay, hlen, needle, nlen, 0); p >= 0; p = ci_find(hay, hlen, needle, nlen, (size_t)p + nlen))
        count++;
    if (count == 0)
        return NULL;
    size_t out_len = hlen - count * nlen + count * tlen;
    char *out = malloc(out_len + 1);
    if (!out) {
        *oom = true;
        return NULL;
    }
    size_t o = 0, at = 0;
    for (int64_t p = ci_find(hay, hlen, needle, nlen, 0); p >= 0; p = ci_find(hay, hlen, needle, nlen, at)) {
        memcpy(out + o, hay + at, (size_t)p - at);
        o += (size_t)p - at;
        memcpy(out + o, token, tlen);
        o += tlen;
        at = (size_t)p + nlen;
    }
    memcpy(out + o, hay + at, hlen - at);
    out[out_len] = '\0';
    return out;
}

/* The text around [pos, pos+nlen), cut at UTF-8 character starts, as a
 * cJSON string (control bytes become spaces). */
static cJSON *context_of(const char *hay, size_t hlen, size_t pos, size_t nlen)
{
    size_t a = pos > HH_GDPR_CONTEXT_BYTES ? pos - HH_GDPR_CONTEXT_BYTES : 0;
    size_t b = pos + nlen + HH_GDPR_CONTEXT_BYTES < hlen ? pos + nlen + HH_GDPR_CONTEXT_BYTES : hlen;
    while (a < pos && ((unsigned char)hay[a] & 0xC0) == 0x80)
        a++;
    while (b < hlen && b > pos + nlen && ((unsigned char)hay[b] & 0xC0) == 0x80)
        b--;
    char *buf = malloc(b - a + 1);
    if (!buf)
        return NULL;
    for (size_t i = a; i < b; i++)
        buf[i - a] = (unsigned char)hay[i] < 0x20 ? ' ' : hay[i];
    buf[b - a] = '\0';
    cJSON *s = cJSON_CreateString(buf);
    free(buf);
    return s;
}

static int64_t now_s(void)
{
    return (int64_t)time(NULL);
}

/* ---- pseudonyms --------------------------------------------------------- */

int hh_gdpr_pseudonym(hh_store_t *s, const char *subject, char *out, size_t cap, hh_err_t *err)
{
    if (!s || !subject || !*subject || !out || cap < HH_GDPR_PSEUDONYM_MAX)
        return hh_err_set(err, HH_EINVAL, -1, "gdpr: bad pseudonym arguments");
    unsigned char key[32];
    hh_store_pseudonym_key(s, key);
    hh_pii_config_t cfg;
    hh_pii_default_config(&cfg);
    const char *names[1] = { subject };
    if (strchr(subject, '@')) {
        cfg.kinds = 1u << HH_PII_EMAIL;
    } else {
        cfg.kinds = 1u << HH_PII_NAME;
        cfg.names = names;
        cfg.n_names = 1;
    }
    cfg.pseudonymize = 1;
    cfg.key = key;
    cfg.key_len = sizeof key;
    char *red = NULL;
    size_t rlen = 0;
    int rc = hh_pii_redact(subject, strlen(subject), &cfg, &red, &rlen);
    /* the whole subject must have become one token; else (an address the
     * detector does not take, a name that is no whole word) a token of the
     * same shape from the same key */
    if (rc == 0 && rlen > 2 && rlen < cap && red[0] == '[' && red[rlen - 1] == ']' && !strchr(red + 1, '[')) {
        memcpy(out, red, rlen + 1);
    } else {
        unsigned char h[3];
        crypto_generichash(h, sizeof h, (const unsigned char *)subject, strlen(subject), key, sizeof key);
        snprintf(out, cap, "[SUBJECT:%02x%02x%02x]", h[0], h[1], h[2]);
    }
    free(red);
    sodium_memzero(key, sizeof key);
    return 0;
}

static int check_subjects(const char *const *subjects, size_t n, hh_err_t *err)
{
    if (!subjects || n == 0)
        return hh_err_set(err, HH_EINVAL, -1, "gdpr: no subject given");
    for (size_t i = 0; i < n; i++)
        if (!subjects[i] || strlen(subjects[i]) < 3)
            return hh_err_set(err, HH_EINVAL, -1, "gdpr: a subject needs at least 3 characters");
    return 0;
}

/* "[EMAIL:..] [NAME:..]" for the audit record; malloc'd. */
static char *pseudonym_list(hh_store_t *s, const char *const *subjects, size_t n, hh_err_t *err)
{
    char *out = calloc(n, HH_GDPR_PSEUDONYM_MAX + 1);
    if (!out)
        return hh_err_set(err, HH_ENOMEM, -1, "gdpr: out of memory"), NULL;
    for (size_t i = 0; i < n; i++) {
        char p[HH_GDPR_PSEUDONYM_MAX];
        if (hh_gdpr_pseudonym(s, subjects[i], p, sizeof p, err)) {
            free(out);
            return NULL;
        }
        if (i)
            strcat(out, " ");
        strcat(out, p);
    }
    return out;
}

/* ---- SQL helpers (caller holds s->mu) ------------------------------------ */

static int prep(hh_store_t *s, const char *sql, sqlite3_stmt **st, hh_err_t *err)
{
    if (sqlite3_prepare_v2(s->db, sql, -1, st, NULL) != SQLITE_OK)
        return hh_store_db_fail(s, err, "gdpr: prepare");
    return 0;
}

static int exec(hh_store_t *s, const char *sql, hh_err_t *err)
{
    if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return hh_store_db_fail(s, err, sql);
    return 0;
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

/* Reads a stored original (at most HH_GDPR_MAX_FILE_BYTES); NULL when it
 * is missing or unreadable. */
static char *read_stored(hh_store_t *s, const char *sha, size_t *len)
{
    char path[4096];
    if (hh_ingest_file_path(s, sha, path, sizeof path, NULL))
        return NULL;
    FILE *f = fopen(path, "rbe");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n == cap) {
            if (cap >= (size_t)HH_GDPR_MAX_FILE_BYTES)
                break;
            size_t nc = cap ? cap * 2 : 65536;
            char *nb = realloc(buf, nc + 1);
            if (!nb)
                break;
            buf = nb;
            cap = nc;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        if (r == 0)
            break;
        n += r;
    }
    fclose(f);
    *len = n;
    return buf;
}

/* ---- export ---------------------------------------------------------------- */

static bool add_hit(cJSON *hits, const char *subject, const char *where, const char *id_key, int64_t id,
                    const char *id2_key, int64_t id2, const char *text, size_t tlen, size_t pos)
{
    cJSON *h = cJSON_CreateObject();
    if (!h || !cJSON_AddItemToArray(hits, h))
        return cJSON_Delete(h), false;
    bool ok = cJSON_AddStringToObject(h, "subject", subject) && cJSON_AddStringToObject(h, "where", where);
    if (ok && id_key)
        ok = cJSON_AddNumberToObject(h, id_key, (double)id) != NULL;
    if (ok && id2_key)
        ok = cJSON_AddNumberToObject(h, id2_key, (double)id2) != NULL;
    cJSON *c = ok ? context_of(text, tlen, pos, strlen(subject)) : NULL;
    return c && cJSON_AddItemToObject(h, "context", c);
}

/* Adds a hit when subj occurs in text. */
static bool hit_if(cJSON *hits, const char *subj, const char *where, const char *k1, int64_t v1, const char *k2,
                   int64_t v2, const char *text, size_t tlen)
{
    int64_t p = ci_find(text, tlen, subj, strlen(subj), 0);
    return p < 0 || add_hit(hits, subj, where, k1, v1, k2, v2, text, tlen, (size_t)p);
}

/* The usage counters of a user the subject names: one "usage" hit per
 * (UTC day, use case) with its counts. */
static int export_usage(hh_store_t *s, const char *subj, int64_t user_id, cJSON *hits, bool *ok, hh_err_t *err)
{
    hh_store_usage_day_t *u = NULL;
    size_t n = 0;
    int rc = hh_store_usage_of_user_locked(s, user_id, &u, &n, err);
    for (size_t i = 0; !rc && *ok && i < n; i++) {
        char day[11];
        hh_store_day_format(u[i].day, day);
        cJSON *h = cJSON_CreateObject();
        *ok = h && cJSON_AddItemToArray(hits, h) && cJSON_AddStringToObject(h, "subject", subj) &&
              cJSON_AddStringToObject(h, "where", "usage") && cJSON_AddNumberToObject(h, "user_id", (double)user_id) &&
              cJSON_AddStringToObject(h, "day", day) && cJSON_AddStringToObject(h, "use_case", u[i].use_case) &&
              cJSON_AddNumberToObject(h, "requests", (double)u[i].requests) &&
              cJSON_AddNumberToObject(h, "prompt_tokens", (double)u[i].prompt_tokens) &&
              cJSON_AddNumberToObject(h, "completion_tokens", (double)u[i].completion_tokens);
    }
    free(u);
    return rc;
}

/* The stored conversations of a user the subject names: one
 * "conversation" hit each, with the whole conversation (title, times, use
 * case, model, collections, every message with its sources). */
static int export_conversations(hh_store_t *s, const char *subj, int64_t user_id, cJSON *hits, bool *ok,
                                hh_err_t *err)
{
    hh_store_conv_t *cv = NULL;
    hh_store_conv_msg_t **msgs = NULL;
    size_t *nm = NULL, n = 0;
    int rc = hh_store_conv_of_user_locked(s, user_id, &cv, &msgs, &nm, &n, err);
    for (size_t i = 0; !rc && *ok && i < n; i++) {
        cJSON *h = cJSON_CreateObject();
        cJSON *c = cJSON_AddObjectToObject(h, "conversation");   /* owned by h from here on */
        cJSON *coll = cJSON_Parse(cv[i].collections);
        *ok = c && cJSON_AddStringToObject(h, "subject", subj) && cJSON_AddStringToObject(h, "where", "conversation") &&
              cJSON_AddNumberToObject(h, "user_id", (double)user_id) &&
              cJSON_AddNumberToObject(h, "conversation_id", (double)cv[i].id) &&
              cJSON_AddStringToObject(c, "title", cv[i].title) &&
              cJSON_AddNumberToObject(c, "created_at", (double)cv[i].created_at) &&
              cJSON_AddNumberToObject(c, "updated_at", (double)cv[i].updated_at) &&
              cJSON_AddStringToObject(c, "use_case", cv[i].use_case) && cJSON_AddStringToObject(c, "model", cv[i].model);
        if (*ok && cJSON_IsArray(coll))
            *ok = cJSON_AddItemToObject(c, "collections", coll);
        else
            cJSON_Delete(coll);
        cJSON *arr = *ok ? cJSON_AddArrayToObject(c, "messages") : NULL;
        *ok = *ok && arr;
        for (size_t k = 0; *ok && k < nm[i]; k++) {
            const hh_store_conv_msg_t *m = &msgs[i][k];
            cJSON *mj = cJSON_CreateObject();
            *ok = mj && cJSON_AddItemToArray(arr, mj) && cJSON_AddNumberToObject(mj, "seq", (double)m->seq) &&
                  cJSON_AddStringToObject(mj, "role", m->role) && cJSON_AddStringToObject(mj, "content", m->content) &&
                  cJSON_AddNumberToObject(mj, "created_at", (double)m->created_at);
            cJSON *g = *ok && m->grounding ? cJSON_Parse(m->grounding) : NULL;
            if (g && !cJSON_AddItemToObject(mj, "grounding", g)) {
                cJSON_Delete(g);
                *ok = false;
            }
            if (*ok && m->has_confidence)
                *ok = cJSON_AddNumberToObject(mj, "confidence", m->confidence) != NULL;
            if (*ok && m->approval_id > 0)
                *ok = cJSON_AddNumberToObject(mj, "approval_id", (double)m->approval_id) &&
                      cJSON_AddStringToObject(mj, "approval_status", m->approval_status);
        }
        if (!*ok || !cJSON_AddItemToArray(hits, h)) {
            cJSON_Delete(h);
            *ok = false;
        }
    }
    hh_store_conv_export_free(cv, msgs, nm, n);
    return rc;
}

/* The agent memory of a user the subject names (store_memory.c): one
 * "memory" hit per fact with its text and times. */
static int export_memories(hh_store_t *s, const char *subj, int64_t user_id, cJSON *hits, bool *ok, hh_err_t *err)
{
    hh_store_memory_t *m = NULL;
    size_t n = 0;
    int rc = hh_store_memory_of_user_locked(s, user_id, &m, &n, err);
    for (size_t i = 0; !rc && *ok && i < n; i++) {
        cJSON *h = cJSON_CreateObject();
        cJSON *mj = cJSON_AddObjectToObject(h, "memory");
        *ok = mj && cJSON_AddStringToObject(h, "subject", subj) && cJSON_AddStringToObject(h, "where", "memory") &&
              cJSON_AddNumberToObject(h, "user_id", (double)user_id) &&
              cJSON_AddNumberToObject(mj, "memory_id", (double)m[i].id) && cJSON_AddStringToObject(mj, "text", m[i].text) &&
              cJSON_AddNumberToObject(mj, "created_at", (double)m[i].created_at) &&
              cJSON_AddNumberToObject(mj, "updated_at", (double)m[i].updated_at);
        if (!*ok || !cJSON_AddItemToArray(hits, h)) {
            cJSON_Delete(h);
            *ok = false;
        }
    }
    hh_store_memory_list_free(m, n);
    return rc;
}

/* Conversation titles, messages and sources of any user that name the
 * subject: one hit each, with context. */
static int export_conversation_mentions(hh_store_t *s, const char *subj, cJSON *hits, bool *ok, hh_err_t *err)
{
    static const char *const where[3] = { "conversation.title", "conversation.message", "conversation.sources" };
    hh_store_conv_text_t *t = NULL;
    size_t n = 0;
    int rc = hh_store_conv_mentions_locked(s, subj, &t, &n, err);
    for (size_t i = 0; !rc && *ok && i < n; i++)
        *ok = hit_if(hits, subj, where[t[i].column], "conversation_id", t[i].conversation_id,
                     t[i].message_id ? "message_id" : NULL, t[i].message_id, t[i].text, strlen(t[i].text));
    hh_store_conv_texts_free(t, n);
    return rc;
}

static int export_subject(hh_store_t *s, const char *subj, cJSON *hits, hh_err_t *err)
{
    sqlite3_stmt *st = NULL;
    bool ok = true;
    int rc = prep(s, "SELECT d.id, d.title, d.source_path, d.sha256 FROM documents d ORDER BY d.ingested_at, d.id",
                  &st, err);
    if (rc)
        return rc;
    while (ok && sqlite3_step(st) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(st, 0);
        const char *t = col_text(st, 1), *p = col_text(st, 2);
        ok = hit_if(hits, subj, "document.title", "document_id", id, NULL, 0, t, strlen(t)) &&
             hit_if(hits, subj, "document.source_path", "document_id", id, NULL, 0, p, strlen(p));
        size_t flen = 0;
        char *fb = read_stored(s, col_text(st, 3), &flen);
        if (fb && ok)
            ok = hit_if(hits, subj, "file", "document_id", id, NULL, 0, fb, flen);
        free(fb);
    }
    sqlite3_finalize(st);
    if (ok && !(rc = prep(s, "SELECT id, document_id, text, heading_path FROM chunks WHERE instr(lower(text), "
                             "lower(?1)) > 0 OR instr(lower(heading_path), lower(?1)) > 0 ORDER BY document_id, ord", &st, err))) {
        sqlite3_bind_text(st, 1, subj, -1, SQLITE_STATIC);
        while (ok && sqlite3_step(st) == SQLITE_ROW) {
            int64_t id = sqlite3_column_int64(st, 0), doc = sqlite3_column_int64(st, 1);
            const char *t = col_text(st, 2), *h = col_text(st, 3);
            ok = hit_if(hits, subj, "chunk.text", "chunk_id", id, "document_id", doc, t, strlen(t)) &&
                 hit_if(hits, subj, "chunk.heading_path", "chunk_id", id, "document_id", doc, h, strlen(h));
        }
        sqlite3_finalize(st);
    }
    /* user records: the whole name, as erasure deletes them */
    if (!rc && ok && !(rc = prep(s, "SELECT id, name FROM users WHERE lower(name) = lower(?1) ORDER BY id", &st, err))) {
        sqlite3_bind_text(st, 1, subj, -1, SQLITE_STATIC);
        while (ok && !rc && sqlite3_step(st) == SQLITE_ROW) {
            const char *nm = col_text(st, 1);
            int64_t uid = sqlite3_column_int64(st, 0);
            ok = hit_if(hits, subj, "user", "user_id", uid, NULL, 0, nm, strlen(nm));
            if (ok)
                rc = export_usage(s, subj, uid, hits, &ok, err);
            if (ok && !rc)
                rc = export_conversations(s, subj, uid, hits, &ok, err);
            if (ok && !rc)
                rc = export_memories(s, subj, uid, hits, &ok, err);
        }
        sqlite3_finalize(st);
    }
    if (!rc && ok)
        rc = export_conversation_mentions(s, subj, hits, &ok, err);
    if (!rc && ok && !(rc = prep(s, "SELECT seq, prompt, output, CAST(record AS TEXT), user_name, detail FROM "
                                    "audit_log WHERE instr(lower(coalesce(prompt, '')), lower(?1)) > 0 OR "
                                    "instr(lower(coalesce(output, '')), lower(?1)) > 0 OR "
                                    "instr(lower(coalesce(user_name, '')), lower(?1)) > 0 OR "
                                    "instr(lower(coalesce(detail, '')), lower(?1)) > 0 OR "
                                    "instr(lower(CAST(record AS TEXT)), lower(?1)) > 0 ORDER BY seq", &st, err))) {
        sqlite3_bind_text(st, 1, subj, -1, SQLITE_STATIC);
        static const char *const where[] = { "audit.prompt", "audit.output", "audit.record", "audit.user",
                                             "audit.detail" };
        while (ok && sqlite3_step(st) == SQLITE_ROW)
            for (int c = 0; ok && c < 5; c++) {
                const char *t = col_text(st, 1 + c);
                ok = hit_if(hits, subj, where[c], "seq", sqlite3_column_int64(st, 0), NULL, 0, t, strlen(t));
            }
        sqlite3_finalize(st);
    }
    if (!rc && ok && table_exists(s, "approvals") &&
        sqlite3_prepare_v2(s->db, "SELECT id, coalesce(requester, '') || ' ' || coalesce(request, '') || ' ' || "
                                  "coalesce(output, '') || ' ' || coalesce(final_text, '') || ' ' || "
                                  "coalesce(reason, '') FROM approvals ORDER BY created_at, id", -1, &st, NULL) == SQLITE_OK) {
        while (ok && sqlite3_step(st) == SQLITE_ROW) {
            const char *t = col_text(st, 1);
            ok = hit_if(hits, subj, "approval", "approval_id", sqlite3_column_int64(st, 0), NULL, 0, t, strlen(t));
        }
        sqlite3_finalize(st);
    }
    if (!rc && !ok)
        rc = hh_err_set(err, HH_ENOMEM, -1, "gdpr: out of memory");
    return rc;
}

int hh_gdpr_export(hh_store_t *s, const char *const *subjects, size_t n, const char *actor, cJSON **out,
                   hh_err_t *err)
{
    if (out)
        *out = NULL;
    if (!s || !out)
        return hh_err_set(err, HH_EINVAL, -1, "gdpr: bad export arguments");
    int rc = check_subjects(subjects, n, err);
    if (rc)
        return rc;
    char *pseud = pseudonym_list(s, subjects, n, err);
    if (!pseud)
        return err ? err->code : HH_ENOMEM;
    cJSON *doc = cJSON_CreateObject();
    cJSON *subs = cJSON_CreateArray(), *hits = cJSON_CreateArray();
    bool ok = doc && subs && hits && cJSON_AddItemToObject(doc, "subjects", subs);
    if (!ok)
        cJSON_Delete(subs);
    subs = ok ? subs : NULL;
    ok = ok && cJSON_AddNumberToObject(doc, "generated_at", (double)now_s());
    for (size_t i = 0; ok && i < n; i++)
        ok = cJSON_AddItemToArray(subs, cJSON_CreateString(subjects[i]));
    if (!ok) {
        cJSON_Delete(hits);
        rc = hh_err_set(err, HH_ENOMEM, -1, "gdpr: out of memory");
        goto fail;
    }
    pthread_mutex_lock(&s->mu);
    rc = exec(s, "BEGIN", err);
    for (size_t i = 0; !rc && i < n; i++)
        rc = export_subject(s, subjects[i], hits, err);
    sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
    pthread_mutex_unlock(&s->mu);
    int n_hits = cJSON_GetArraySize(hits);
    if (!cJSON_AddNumberToObject(doc, "n_hits", n_hits) || !cJSON_AddItemToObject(doc, "hits", hits)) {
        cJSON_Delete(hits);
        if (!rc)
            rc = hh_err_set(err, HH_ENOMEM, -1, "gdpr: out of memory");
    }
    if (rc)
        goto fail;
    /* the Art. 15 copy: sections per subject, read after the hits' transaction */
    ok = cJSON_AddStringToObject(doc, "object", "gdpr.access_copy") && cJSON_AddStringToObject(doc, "subject", subjects[0]);
    cJSON *more = ok && n > 1 ? cJSON_AddArrayToObject(doc, "more_subjects") : NULL;
    for (size_t i = 0; ok && !rc && i < n; i++) {
        cJSON *sec = NULL;
        if ((rc = hh_gdpr_access_sections(s, subjects[i], hits, &sec, err)))
            break;
        cJSON *holder = doc;
        if (i > 0) {
            holder = cJSON_CreateObject();
            if (!holder || !cJSON_AddItemToArray(more, holder)) {
                cJSON_Delete(holder);
                holder = NULL;
            } else {
                ok = cJSON_AddStringToObject(holder, "subject", subjects[i]) != NULL;
            }
        }
        if (!holder || !ok || !cJSON_AddItemToObject(holder, "sections", sec)) {
            cJSON_Delete(sec);
            ok = false;
        }
    }
    if (!rc && (!ok || (n > 1 && !more)))
        rc = hh_err_set(err, HH_ENOMEM, -1, "gdpr: out of memory");
    if (rc)
        goto fail;
    char detail[512];
    snprintf(detail, sizeof detail, "data-subject export (Art. 15/20) of %s: %d hits", pseud, n_hits);
    hh_audit_entry_t e = { .kind = "export", .user = actor, .decision = "exported", .detail = detail };
    if ((rc = hh_audit_append(s, NULL, &e, NULL, err)))
        goto fail;
    free(pseud);
    *out = doc;
    return 0;
fail:
    free(pseud);
    cJSON_Delete(doc);
    return rc;
}

/* ---- erasure ----------------------------------------------------------------- */

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

/* Rewrites column col of table (key column key) in every row where it
 * holds subj; *changed counts the rows. */
static int rewrite_column(hh_store_t *s, const char *table, const char *key, const char *col, const char *subj,
                          const char *token, id_list_t *touched, int64_t *changed, hh_err_t *err)
{
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT %s, %s FROM %s WHERE instr(lower(%s), lower(?1)) > 0", key, col, table, col);
    sqlite3_stmt *st = NULL;
    int rc = prep(s, sql, &st, err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, subj, -1, SQLITE_STATIC);
    id_list_t ids = { 0 };
    char **texts = NULL;
    size_t n = 0, cap = 0;
    bool oom = false;
    while (!oom && sqlite3_step(st) == SQLITE_ROW) {
        char *t = replace_all(col_text(st, 1), subj, token, &oom);
        if (!t)
            continue;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            char **nt = realloc(texts, nc * sizeof *nt);
            if (!nt) {
                free(t);
                oom = true;
                break;
            }
            texts = nt;
            cap = nc;
        }
        texts[n++] = t;
        if (!ids_push(&ids, sqlite3_column_int64(st, 0)))
            oom = true;
    }
    sqlite3_finalize(st);
    if (oom)
        rc = hh_err_set(err, HH_ENOMEM, -1, "gdpr: out of memory");
    snprintf(sql, sizeof sql, "UPDATE %s SET %s = ? WHERE %s = ?", table, col, key);
    if (!rc && n && !(rc = prep(s, sql, &st, err))) {
        for (size_t i = 0; i < n && !rc; i++) {
            sqlite3_reset(st);
            sqlite3_bind_text(st, 1, texts[i], -1, SQLITE_STATIC);
            sqlite3_bind_int64(st, 2, ids.v[i]);
            if (sqlite3_step(st) != SQLITE_DONE)
                rc = hh_store_db_fail(s, err, "gdpr: rewrite");
            else if (touched && !ids_add(touched, ids.v[i]))
                rc = hh_err_set(err, HH_ENOMEM, -1, "gdpr: out of memory");
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

static int count_rows(hh_store_t *s, const char *sql, const char *subj, int64_t *n, hh_err_t *err)
{
    sqlite3_stmt *st = NULL;
    int rc = prep(s, sql, &st, err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, subj, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW)
        *n += sqlite3_column_int64(st, 0);
    else
        rc = hh_store_db_fail(s, err, "gdpr: count");
    sqlite3_finalize(st);
    return rc;
}

/* Runs sql (one ? for the seq) for every seq of rows and adds them to
 * all (the audit rows this erasure touched). */
static int mark_rows(hh_store_t *s, const char *sql, const id_list_t *rows, id_list_t *all, hh_err_t *err)
{
    if (!rows->n)
        return 0;
    sqlite3_stmt *st = NULL;
    int rc = prep(s, sql, &st, err);
    for (size_t i = 0; i < rows->n && !rc; i++) {
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, rows->v[i]);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = hh_store_db_fail(s, err, "gdpr: mark audit row");
        else if (!ids_add(all, rows->v[i]))
            rc = hh_err_set(err, HH_ENOMEM, -1, "gdpr: out of memory");
    }
    sqlite3_finalize(st);
    return rc;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Appends e (an "erasure" or "retention" record listing e->erased_seqs)
 * inside the caller's transaction, then marks every listed row as covered
 * by it (erased_by), so the verifier accepts their replaced texts. */
static int append_covering(hh_store_t *s, const hh_audit_entry_t *e, hh_err_t *err)
{
    int64_t seq = 0;
    sqlite3_stmt *st = NULL;
    int rc = hh_audit_append_locked(s, e, &seq, err);
    if (rc || e->n_erased_seqs == 0 || (rc = prep(s, "UPDATE audit_log SET erased_by = ? WHERE seq = ?", &st, err)))
        return rc;
    for (size_t i = 0; i < e->n_erased_seqs && !rc; i++) {
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, seq);
        sqlite3_bind_int64(st, 2, e->erased_seqs[i]);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = hh_store_db_fail(s, err, "gdpr: erased_by");
    }
    sqlite3_finalize(st);
    return rc;
}

/* The audit record of the erasure, inside its transaction: it lists the
 * rows marked erased for the first time (erased_by still NULL), which then
 * name it, so the verifier accepts their pseudonymized texts. */
static int audit_erasure_locked(hh_store_t *s, id_list_t *rows, const char *actor, const char *detail,
                                hh_err_t *err)
{
    id_list_t fresh = { 0 };
    sqlite3_stmt *st = NULL;
    int rc = 0;
    if (rows->n && !(rc = prep(s, "SELECT erased_by IS NULL FROM audit_log WHERE seq = ?", &st, err))) {
        for (size_t i = 0; i < rows->n && !rc; i++) {
            sqlite3_reset(st);
            sqlite3_bind_int64(st, 1, rows->v[i]);
            if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) && !ids_push(&fresh, rows->v[i]))
                rc = hh_err_set(err, HH_ENOMEM, -1, "gdpr: out of memory");
        }
        sqlite3_finalize(st);
    }
    if (fresh.n)
        qsort(fresh.v, fresh.n, sizeof *fresh.v, cmp_i64);
    hh_audit_entry_t e = { .kind = "erasure", .user = actor, .decision = "erased", .detail = detail,
                           .erased_seqs = fresh.v, .n_erased_seqs = fresh.n };
    if (!rc)
        rc = append_covering(s, &e, err);
    free(fresh.v);
    return rc;
}

/* One subject inside the erasure transaction. Documents whose original
 * file held the subject go to files (their sha256, for unlinking after the
 * commit). */
static int erase_subject(hh_store_t *s, const char *subj, const char *token, id_list_t *docs, char ***files,
                         size_t *n_files, id_list_t *audit_rows, hh_gdpr_erase_result_t *r, hh_err_t *err)
{
    id_list_t chunks = { 0 };
    int rc = rewrite_column(s, "chunks", "id", "text", subj, token, &chunks, &r->chunks, err);
    if (!rc)
        rc = rewrite_column(s, "chunks", "id", "heading_path", subj, token, &chunks, NULL, err);
    sqlite3_stmt *st = NULL;
    /* the vectors of rewritten chunks describe the old text */
    if (!rc && chunks.n && !(rc = prep(s, "DELETE FROM chunk_vectors WHERE chunk_id = ?", &st, err))) {
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
    if (!rc && chunks.n && !(rc = prep(s, "SELECT document_id FROM chunks WHERE id = ?", &st, err))) {
        for (size_t i = 0; i < chunks.n && !rc; i++) {
            sqlite3_reset(st);
            sqlite3_bind_int64(st, 1, chunks.v[i]);
            if (sqlite3_step(st) == SQLITE_ROW && !ids_add(docs, sqlite3_column_int64(st, 0)))
                rc = hh_err_set(err, HH_ENOMEM, -1, "gdpr: out of memory");
        }
        sqlite3_finalize(st);
    }
    free(chunks.v);
    if (!rc)
        rc = rewrite_column(s, "documents", "id", "title", subj, token, docs, NULL, err);
    if (!rc)
        rc = rewrite_column(s, "documents", "id", "source_path", subj, token, docs, NULL, err);
    /* stored originals: every file whose bytes hold the subject */
    if (!rc && !(rc = prep(s, "SELECT id, sha256 FROM documents WHERE erased_at IS NULL", &st, err))) {
        while (!rc && sqlite3_step(st) == SQLITE_ROW) {
            const char *sha = col_text(st, 1);
            size_t len = 0;
            char *fb = read_stored(s, sha, &len);
            if (fb && ci_find(fb, len, subj, strlen(subj), 0) >= 0) {
                char **nf = realloc(*files, (*n_files + 1) * sizeof *nf);
                char *dup = strdup(sha);
                if (!nf || !dup || !ids_add(docs, sqlite3_column_int64(st, 0))) {
                    free(dup);
                    if (nf)
                        *files = nf;
                    rc = hh_err_set(err, HH_ENOMEM, -1, "gdpr: out of memory");
                } else {
                    *files = nf;
                    nf[(*n_files)++] = dup;
                }
            }
            free(fb);
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
    /* their agent runs with every step (store_agents.c; issue 16) */
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
            bool oom = false;
            char *nt = replace_all(t[i].text, subj, token, &oom);
            if (oom)
                rc = hh_err_set(err, HH_ENOMEM, -1, "gdpr: out of memory");
            else if (nt && !(rc = hh_store_conv_text_set_locked(s, &t[i], nt, err)))
                r->conversation_texts++;
            free(nt);
        }
        hh_store_conv_texts_free(t, n);
    }
    /* the user record whose whole name is the subject (ignoring ASCII case;
     * "ann" never deletes "joanna"); its keys, memberships and quotas
     * cascade. keeps_an_admin has checked that an enabled admin stays. */
    if (!rc && !(rc = prep(s, "DELETE FROM users WHERE lower(name) = lower(?1)", &st, err))) {
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
        rc = rewrite_column(s, "audit_log", "seq", "prompt", subj, token, &seqs, &r->audit_texts, err);
    if (!rc)
        rc = rewrite_column(s, "audit_log", "seq", "output", subj, token, &seqs, &r->audit_texts, err);
    /* the verifier no longer compares these texts with their hashes */
    if (!rc)
        rc = mark_rows(s, "UPDATE audit_log SET texts_erased = 1 WHERE seq = ?", &seqs, audit_rows, err);
    free(seqs.v);
    /* user names and details: the text becomes the pseudonym and the salt
     * goes, so the commitment in the record can no longer be tested
     * against a list of names */
    static const char *const short_cols[2][2] = { { "user_name", "UPDATE audit_log SET user_salt = NULL WHERE seq = ?" },
                                                  { "detail", "UPDATE audit_log SET detail_salt = NULL WHERE seq = ?" } };
    for (int c = 0; c < 2 && !rc; c++) {
        id_list_t ss = { 0 };
        rc = rewrite_column(s, "audit_log", "seq", short_cols[c][0], subj, token, &ss, &r->audit_texts, err);
        if (!rc)
            rc = mark_rows(s, short_cols[c][1], &ss, audit_rows, err);
        free(ss.v);
    }
    /* records from before migration 8 hold user/detail inside the chain */
    if (!rc)
        rc = count_rows(s, "SELECT count(*) FROM audit_log WHERE instr(lower(CAST(record AS TEXT)), lower(?1)) > 0",
                        subj, &r->audit_kept, err);
    if (!rc && table_exists(s, "approvals")) {
        static const char *const cols[] = { "requester", "request", "output", "final_text", "reason" };
        for (size_t c = 0; !rc && c < sizeof cols / sizeof cols[0]; c++)
            rc = rewrite_column(s, "approvals", "id", cols[c], subj, token, NULL, &r->approvals, err);
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
    int rc = prep(s, "SELECT count(*) FROM users WHERE role = 'admin' AND disabled = 0", &st, err);
    if (!rc) {
        if (sqlite3_step(st) == SQLITE_ROW)
            admins = sqlite3_column_int64(st, 0);
        else
            rc = hh_store_db_fail(s, err, "gdpr: count admins");
        sqlite3_finalize(st);
    }
    if (!rc && !(rc = prep(s, "SELECT id, name FROM users WHERE role = 'admin' AND disabled = 0 AND "
                              "lower(name) = lower(?1)",
                           &st, err))) {
        for (size_t i = 0; i < n && !rc; i++) {
            sqlite3_reset(st);
            sqlite3_bind_text(st, 1, subjects[i], -1, SQLITE_STATIC);
            while (!rc && sqlite3_step(st) == SQLITE_ROW) {
                if (!ids_add(&named, sqlite3_column_int64(st, 0)))
                    rc = hh_err_set(err, HH_ENOMEM, -1, "gdpr: out of memory");
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

int hh_gdpr_erase(hh_store_t *s, const char *const *subjects, size_t n, const char *actor,
                  hh_gdpr_erase_result_t *res, hh_err_t *err)
{
    hh_gdpr_erase_result_t r = { 0 };
    if (res)
        *res = r;
    if (!s)
        return hh_err_set(err, HH_EINVAL, -1, "gdpr: bad erase arguments");
    int rc = check_subjects(subjects, n, err);
    if (rc)
        return rc;
    char *pseud = pseudonym_list(s, subjects, n, err);
    if (!pseud)
        return err ? err->code : HH_ENOMEM;
    char tok[HH_GDPR_PSEUDONYM_MAX];
    id_list_t docs = { 0 }, audit_rows = { 0 };
    char **files = NULL;
    size_t n_files = 0;
    pthread_mutex_lock(&s->mu);
    /* deleted content is overwritten with zeros, not left in free pages */
    if ((rc = exec(s, "PRAGMA secure_delete = ON", err)))
        goto out;
    if ((rc = exec(s, "BEGIN IMMEDIATE", err)))
        goto out;
    rc = keeps_an_admin(s, subjects, n, err);
    for (size_t i = 0; i < n && !rc; i++) {
        if (!(rc = hh_gdpr_pseudonym(s, subjects[i], tok, sizeof tok, err)))
            rc = erase_subject(s, subjects[i], tok, &docs, &files, &n_files, &audit_rows, &r, err);
    }
    sqlite3_stmt *st = NULL;
    if (!rc && docs.n && !(rc = prep(s, "UPDATE documents SET erased_at = ? WHERE id = ?", &st, err))) {
        for (size_t i = 0; i < docs.n && !rc; i++) {
            sqlite3_reset(st);
            sqlite3_bind_int64(st, 1, now_s());
            sqlite3_bind_int64(st, 2, docs.v[i]);
            if (sqlite3_step(st) != SQLITE_DONE)
                rc = hh_store_db_fail(s, err, "gdpr: mark document");
        }
        sqlite3_finalize(st);
    }
    r.documents = (int64_t)docs.n;
    /* the FTS index keeps deleted terms in its segments until merged:
     * rebuild it from the rewritten chunks */
    if (!rc && r.chunks)
        rc = exec(s, "INSERT INTO chunks_fts(chunks_fts) VALUES ('rebuild')", err);
    /* the analyzed terms of the rewritten chunks were emptied by trigger
     * (migration 14); the segments of that index are rebuilt too */
    if (!rc && r.chunks)
        rc = exec(s, "INSERT INTO chunks_terms(chunks_terms) VALUES ('rebuild')", err);
    /* audited in the same transaction: the record lists the audit rows it
     * pseudonymized (pseudonyms and counts only, no subject) */
    if (!rc) {
        char detail[896];
        snprintf(detail, sizeof detail,
                 "data-subject erasure (Art. 17) of %s: %" PRId64 " chunks rewritten, %" PRId64 " vectors, %" PRId64
                 " documents, %zu stored files to delete, %" PRId64 " users deleted, %" PRId64 " audit texts, %" PRId64
                 " approval fields rewritten, %" PRId64 " hashed audit records unchanged, %" PRId64
                 " usage rows pseudonymized, %" PRId64 " conversations deleted, %" PRId64
                 " conversation texts rewritten, %" PRId64 " agent memories deleted",
                 pseud, r.chunks, r.vectors, (int64_t)docs.n, n_files, r.users, r.audit_texts, r.approvals,
                 r.audit_kept, r.usage_rows, r.conversations, r.conversation_texts, r.memories);
        rc = audit_erasure_locked(s, &audit_rows, actor, detail, err);
    }
    if (!rc)
        rc = exec(s, "COMMIT", err);
    if (rc)
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
out:
    pthread_mutex_unlock(&s->mu);
    for (size_t i = 0; i < n_files; i++) {
        char path[4096];
        if (!rc && hh_ingest_file_path(s, files[i], path, sizeof path, NULL) == 0 && unlink(path) == 0)
            r.files++;
        free(files[i]);
    }
    free(files);
    free(docs.v);
    free(audit_rows.v);
    if (!rc) {
        /* no free page, no WAL frame keeps the old text */
        pthread_mutex_lock(&s->mu);
        rc = exec(s, "VACUUM", err);
        if (!rc)
            rc = exec(s, "PRAGMA wal_checkpoint(TRUNCATE)", err);
        sqlite3_exec(s->db, "PRAGMA secure_delete = OFF", NULL, NULL, NULL);
        pthread_mutex_unlock(&s->mu);
    } else {
        pthread_mutex_lock(&s->mu);
        sqlite3_exec(s->db, "PRAGMA secure_delete = OFF", NULL, NULL, NULL);
        pthread_mutex_unlock(&s->mu);
    }
    free(pseud);
    if (res)
        *res = r;
    return rc;
}

/* ---- retention ------------------------------------------------------------------ */

int hh_gdpr_collection_retention(hh_store_t *s, const char *collection, int days, hh_err_t *err)
{
    if (!s || !collection || days < 0 || days > 36500)
        return hh_err_set(err, HH_EINVAL, -1, "gdpr: retention days must be 0..36500");
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = NULL;
    int rc = prep(s, "UPDATE collections SET retention_days = ? WHERE name = ?", &st, err);
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

/* When records of each use case expire (time_ms < cut), one cut per entry
 * of ucs; records without a use case, or naming one that is no longer
 * registered, follow the longest retention of all (def_cut). INT64_MIN:
 * never. High-risk use cases (and the default, when any use case is high
 * risk) never cut later than HH_AUDIT_MIN_RETENTION_HIGH_RISK_MS before the
 * real clock, whatever now the caller passes. */
typedef struct ret_rules {
    const hh_usecase_t *ucs;
    size_t              n;
    int64_t            *cut;      /* n entries, owned */
    int64_t             def_cut;
    int64_t             max_cut;  /* the latest cut: nothing at or after it expires */
} ret_rules_t;

static int64_t cut_of(int days, bool high, int64_t now_ms, int64_t high_floor)
{
    if (days <= 0)
        return INT64_MIN;
    int64_t c = now_ms - (int64_t)days * DAY_S * 1000;
    return high && c > high_floor ? high_floor : c;
}

static int rules_init(ret_rules_t *rr, const hh_usecase_t *ucs, size_t n, int64_t now, hh_err_t *err)
{
    int64_t now_ms = now * 1000;
    int64_t high_floor = now_s() * 1000 - HH_AUDIT_MIN_RETENTION_HIGH_RISK_MS;
    *rr = (ret_rules_t){ .ucs = ucs, .n = n, .def_cut = INT64_MIN, .max_cut = INT64_MIN };
    if (n == 0)
        return 0;   /* nothing registered: nothing expires */
    if (!(rr->cut = calloc(n, sizeof *rr->cut)))
        return hh_err_set(err, HH_ENOMEM, -1, "gdpr: out of memory");
    int max_days = 0;
    bool any_high = false;
    for (size_t i = 0; i < n; i++) {
        bool high = ucs[i].policy.risk == HH_RISK_HIGH;
        rr->cut[i] = cut_of(ucs[i].policy.retention_days, high, now_ms, high_floor);
        if (rr->cut[i] > rr->max_cut)
            rr->max_cut = rr->cut[i];
        if (ucs[i].policy.retention_days > max_days)
            max_days = ucs[i].policy.retention_days;
        any_high = any_high || high;
    }
    rr->def_cut = cut_of(max_days, any_high, now_ms, high_floor);
    if (rr->def_cut > rr->max_cut)
        rr->max_cut = rr->def_cut;
    return 0;
}

static int64_t rules_cut(const ret_rules_t *rr, const char *use_case)
{
    for (size_t i = 0; use_case && i < rr->n; i++)
        if (!strcmp(rr->ucs[i].slug, use_case))
            return rr->cut[i];
    return rr->def_cut;
}

/* Rows of the audit log that still hold a text or a salt, after seq ?1,
 * older than ?2 (the latest cut), ?3 at most, ?4 = HH_AUDIT_EXPIRED_TEXT.
 * A record that is not valid JSON (damaged) has no time and is skipped:
 * the verifier reports it. */
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

/* One batch of the audit text expiry, in one transaction (the caller holds
 * s->mu): looks at up to HH_GDPR_SWEEP_BATCH candidates after *cursor,
 * expires the texts of those older than their use case's cut, and appends
 * the "retention" record that lists the rows expired for the first time
 * (erased_by still NULL; they then name it). Rows an erasure already
 * covers keep naming their erasure record. *done when the scan reached
 * the end; *n_out gets the rows expired. */
static int expire_texts_batch(hh_store_t *s, const ret_rules_t *rr, int64_t *cursor, bool *done, int64_t *n_out,
                              hh_err_t *err)
{
    id_list_t rows = { 0 }, fresh = { 0 };
    sqlite3_stmt *st = NULL;
    int64_t seen = 0;
    *n_out = 0;
    int rc = prep(s, EXPIRY_CANDIDATES_SQL, &st, err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, *cursor);
    sqlite3_bind_int64(st, 2, rr->max_cut);
    sqlite3_bind_int64(st, 3, HH_GDPR_SWEEP_BATCH);
    sqlite3_bind_text(st, 4, HH_AUDIT_EXPIRED_TEXT, -1, SQLITE_STATIC);
    int sr = SQLITE_DONE;
    while (!rc && (sr = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t seq = sqlite3_column_int64(st, 0);
        const char *uc = (const char *)sqlite3_column_text(st, 1);
        seen++;
        *cursor = seq;
        if (sqlite3_column_int64(st, 2) >= rules_cut(rr, uc))
            continue;
        if (!ids_push(&rows, seq) || (sqlite3_column_int(st, 3) && !ids_push(&fresh, seq)))
            rc = hh_err_set(err, HH_ENOMEM, -1, "gdpr: out of memory");
    }
    if (!rc && sr != SQLITE_DONE)
        rc = hh_store_db_fail(s, err, "gdpr: expiry scan");
    sqlite3_finalize(st);
    *done = seen < HH_GDPR_SWEEP_BATCH;
    if (!rc && rows.n && !(rc = prep(s, EXPIRE_ROW_SQL, &st, err))) {
        for (size_t i = 0; i < rows.n && !rc; i++) {
            sqlite3_reset(st);
            sqlite3_bind_int64(st, 1, rows.v[i]);
            sqlite3_bind_text(st, 2, HH_AUDIT_EXPIRED_TEXT, -1, SQLITE_STATIC);
            if (sqlite3_step(st) != SQLITE_DONE)
                rc = hh_store_db_fail(s, err, "gdpr: expire audit texts");
        }
        sqlite3_finalize(st);
    }
    if (!rc && rows.n) {
        /* rows come in seq order: fresh is increasing, as erased_seqs must be */
        char detail[256];
        snprintf(detail, sizeof detail,
                 "retention sweep: expired the texts of %zu audit records (seq %" PRId64 "..%" PRId64
                 ", %zu of them erased before) older than their use case's retention",
                 rows.n, rows.v[0], rows.v[rows.n - 1], rows.n - fresh.n);
        hh_audit_entry_t e = { .kind = "retention", .decision = "expired", .detail = detail,
                               .erased_seqs = fresh.v, .n_erased_seqs = fresh.n };
        rc = append_covering(s, &e, err);
    }
    if (!rc)
        *n_out = (int64_t)rows.n;
    free(rows.v);
    free(fresh.v);
    return rc;
}

/* One batch of the approvals retention, in one transaction (the caller
 * holds s->mu): decided approvals (never pending ones) whose decision is
 * older than their use case's cut are deleted, and one "retention" record
 * counts them and names their ids. */
static int expire_approvals_batch(hh_store_t *s, const ret_rules_t *rr, int64_t *cursor, bool *done, int64_t *n_out,
                                  hh_err_t *err)
{
    id_list_t ids = { 0 };
    sqlite3_stmt *st = NULL;
    int64_t seen = 0;
    *n_out = 0;
    int rc = prep(s, "SELECT id, use_case, decided_at FROM approvals WHERE id > ?1 AND status IN "
                     "('approved', 'edited', 'rejected') AND decided_at < ?2 ORDER BY id LIMIT ?3", &st, err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, *cursor);
    sqlite3_bind_int64(st, 2, rr->max_cut);
    sqlite3_bind_int64(st, 3, HH_GDPR_SWEEP_BATCH);
    int sr = SQLITE_DONE;
    while (!rc && (sr = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(st, 0);
        seen++;
        *cursor = id;
        if (sqlite3_column_int64(st, 2) < rules_cut(rr, (const char *)sqlite3_column_text(st, 1)) &&
            !ids_push(&ids, id))
            rc = hh_err_set(err, HH_ENOMEM, -1, "gdpr: out of memory");
    }
    if (!rc && sr != SQLITE_DONE)
        rc = hh_store_db_fail(s, err, "gdpr: approvals scan");
    sqlite3_finalize(st);
    *done = seen < HH_GDPR_SWEEP_BATCH;
    int64_t deleted = 0;
    char detail[512];
    int dl = snprintf(detail, sizeof detail, "retention sweep: deleted decided approvals older than their use case's "
                                             "retention:");
    if (!rc && ids.n && !(rc = prep(s, "DELETE FROM approvals WHERE id = ? AND status <> 'pending'", &st, err))) {
        for (size_t i = 0; i < ids.n && !rc; i++) {
            sqlite3_reset(st);
            sqlite3_bind_int64(st, 1, ids.v[i]);
            if (sqlite3_step(st) != SQLITE_DONE) {
                rc = hh_store_db_fail(s, err, "gdpr: delete approval");
            } else if (sqlite3_changes(s->db) > 0) {
                deleted++;
                /* ids while they fit, then the count says the rest */
                if (dl > 0 && (size_t)dl < sizeof detail - 64)
                    dl += snprintf(detail + dl, sizeof detail - (size_t)dl, " %" PRId64, ids.v[i]);
            }
        }
        sqlite3_finalize(st);
    }
    if (!rc && deleted) {
        if (dl > 0 && (size_t)dl < sizeof detail)
            snprintf(detail + dl, sizeof detail - (size_t)dl, " (%" PRId64 " in all)", deleted);
        hh_audit_entry_t e = { .kind = "retention", .decision = "deleted", .detail = detail };
        rc = hh_audit_append_locked(s, &e, NULL, err);
    }
    if (!rc)
        *n_out = deleted;
    free(ids.v);
    return rc;
}

typedef int (*batch_fn)(hh_store_t *, const ret_rules_t *, int64_t *, bool *, int64_t *, hh_err_t *);

/* Runs fn batch after batch, each in its own IMMEDIATE transaction with
 * secure_delete on, releasing the store between them so requests go on;
 * *total adds up what they expired. */
static int run_batches(hh_store_t *s, const ret_rules_t *rr, batch_fn fn, int64_t *total, hh_err_t *err)
{
    int64_t cursor = 0;
    bool done = false;
    int rc = 0;
    while (!rc && !done) {
        int64_t n = 0;
        pthread_mutex_lock(&s->mu);
        /* the expired texts are overwritten with zeros, not left in free pages */
        if (!(rc = exec(s, "PRAGMA secure_delete = ON", err)) && !(rc = exec(s, "BEGIN IMMEDIATE", err))) {
            rc = fn(s, rr, &cursor, &done, &n, err);
            if (!rc)
                rc = exec(s, "COMMIT", err);
            if (rc)
                sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        }
        pthread_mutex_unlock(&s->mu);
        if (!rc)
            *total += n;
    }
    return rc;
}

hh_gdpr_sweep_params_t hh_gdpr_sweep_default_params(void)
{
    return (hh_gdpr_sweep_params_t){ .conversation_retention_days = HH_GDPR_CONVERSATION_RETENTION_DAYS };
}

/* Step 6: conversations idle longer than days (0: none) go, with one
 * "retention" record that counts them and lists their ids. */
static int expire_conversations(hh_store_t *s, int64_t now, int days, FILE *log, int64_t *n_out, hh_err_t *err)
{
    if (days <= 0)
        return 0;
    int64_t *ids = NULL;
    size_t n = 0;
    int rc = hh_store_conv_expire(s, (now - (int64_t)days * DAY_S) * 1000, &ids, &n, err);
    if (!rc && n) {
        char detail[512];
        int dl = snprintf(detail, sizeof detail, "retention sweep: deleted %zu conversations with no activity for "
                                                 "%d days:", n, days);
        for (size_t i = 0; i < n && dl > 0 && (size_t)dl < sizeof detail - 24; i++)
            dl += snprintf(detail + dl, sizeof detail - (size_t)dl, " %" PRId64, ids[i]);
        hh_audit_entry_t e = { .kind = "retention", .decision = "deleted", .detail = detail };
        rc = hh_audit_append(s, NULL, &e, NULL, err);
        if (!rc && log)
            fprintf(log, "retention: deleted %zu conversations idle for more than %d days\n", n, days);
    }
    if (!rc)
        *n_out = (int64_t)n;
    free(ids);
    return rc;
}

/* Agent memory not changed for days (0: keep) goes, with one "retention"
 * record that counts it. */
static int expire_memories(hh_store_t *s, int64_t now, int days, FILE *log, int64_t *n_out, hh_err_t *err)
{
    if (days <= 0)
        return 0;
    int64_t n = 0;
    int rc = hh_store_memory_expire(s, (now - (int64_t)days * DAY_S) * 1000, &n, err);
    if (!rc && n) {
        char detail[160];
        snprintf(detail, sizeof detail, "retention sweep: deleted %" PRId64 " agent memories unchanged for %d days",
                 n, days);
        hh_audit_entry_t e = { .kind = "retention", .decision = "deleted", .detail = detail };
        rc = hh_audit_append(s, NULL, &e, NULL, err);
        if (!rc && log)
            fprintf(log, "retention: deleted %" PRId64 " agent memories unchanged for more than %d days\n", n, days);
    }
    if (!rc)
        *n_out = n;
    return rc;
}

int hh_gdpr_retention_sweep(hh_store_t *s, int64_t now, FILE *log, hh_gdpr_sweep_result_t *res, hh_err_t *err)
{
    return hh_gdpr_retention_sweep_with(s, now, NULL, log, res, err);
}

int hh_gdpr_retention_sweep_with(hh_store_t *s, int64_t now, const hh_gdpr_sweep_params_t *p, FILE *log,
                                 hh_gdpr_sweep_result_t *res, hh_err_t *err)
{
    hh_gdpr_sweep_result_t r = { 0 };
    if (res)
        *res = r;
    hh_gdpr_sweep_params_t dp = hh_gdpr_sweep_default_params();
    if (!p)
        p = &dp;
    if (!s || p->conversation_retention_days < 0 || p->conversation_retention_days > 36500)
        return hh_err_set(err, HH_EINVAL, -1, "gdpr: bad sweep arguments (conversation retention 0..36500 days)");
    if (now <= 0)
        now = now_s();
    id_list_t ids = { 0 };
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = NULL;
    int rc = prep(s, "SELECT d.id FROM documents d JOIN collections c ON c.id = d.collection_id "
                     "WHERE c.retention_days > 0 AND d.ingested_at < ? - c.retention_days * 86400 ORDER BY d.id",
                  &st, err);
    if (!rc) {
        sqlite3_bind_int64(st, 1, now);
        int sr;
        while ((sr = sqlite3_step(st)) == SQLITE_ROW && !rc)
            if (!ids_add(&ids, sqlite3_column_int64(st, 0)))
                rc = hh_err_set(err, HH_ENOMEM, -1, "gdpr: out of memory");
        if (!rc && sr != SQLITE_DONE)
            rc = hh_store_db_fail(s, err, "gdpr: sweep");
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&s->mu);
    char detail[512];
    int dl = snprintf(detail, sizeof detail, "retention sweep: expired documents");
    for (size_t i = 0; i < ids.n && !rc; i++) {
        hh_err_t e2;
        int dr = hh_ingest_delete(s, ids.v[i], &e2);
        if (dr == HH_ENOENT)
            continue;   /* deleted meanwhile */
        if (dr) {
            rc = dr;
            if (err)
                *err = e2;
            break;
        }
        r.documents++;
        if (log)
            fprintf(log, "retention: deleted expired document %" PRId64 "\n", ids.v[i]);
        if (dl > 0 && (size_t)dl < sizeof detail - 24)
            dl += snprintf(detail + dl, sizeof detail - (size_t)dl, " %" PRId64, ids.v[i]);
    }
    free(ids.v);
    if (!rc && r.documents) {
        hh_audit_entry_t e = { .kind = "retention", .decision = "deleted", .detail = detail };
        rc = hh_audit_append(s, NULL, &e, NULL, err);
    }
    hh_usecase_t *ucs = NULL;
    size_t n_uc = 0;
    ret_rules_t rr = { 0 };
    if (!rc && !(rc = hh_register_list(s, &ucs, &n_uc, err)))
        rc = rules_init(&rr, ucs, n_uc, now, err);
    /* audit records: the start of the chain goes at the longest retention
     * of any use case (a chain is cut only at its start), never under the
     * high-risk minimum */
    if (!rc && rr.def_cut != INT64_MIN) {
        bool high = false;
        int max_days = 0;
        for (size_t i = 0; i < n_uc; i++) {
            high = high || ucs[i].policy.risk == HH_RISK_HIGH;
            if (ucs[i].policy.retention_days > max_days)
                max_days = ucs[i].policy.retention_days;
        }
        int64_t n_del = 0;
        rc = hh_audit_expire(s, (now - (int64_t)max_days * DAY_S) * 1000,
                             high ? HH_AUDIT_MIN_RETENTION_HIGH_RISK_MS : 0, &n_del, err);
        r.audit_records = n_del;
        if (!rc && n_del && log)
            fprintf(log, "retention: expired %" PRId64 " audit records older than %d days\n", n_del, max_days);
    }
    /* the records that stay: texts of those older than their own use
     * case's retention; then decided approvals */
    if (!rc && rr.max_cut != INT64_MIN) {
        rc = run_batches(s, &rr, expire_texts_batch, &r.audit_texts, err);
        if (!rc && r.audit_texts && log)
            fprintf(log, "retention: expired the texts of %" PRId64 " audit records older than their use case's "
                         "retention\n", r.audit_texts);
        if (!rc)
            rc = run_batches(s, &rr, expire_approvals_batch, &r.approvals, err);
        if (!rc && r.approvals && log)
            fprintf(log, "retention: deleted %" PRId64 " decided approvals older than their use case's retention\n",
                    r.approvals);
    }
    /* usage counters (store_usage.c) name a user: pseudonymized at the
     * longest retention of any use case, never inside the current UTC
     * month (the monthly quota still counts them) */
    if (!rc && rr.def_cut != INT64_MIN) {
        int max_days = 0;
        for (size_t i = 0; i < n_uc; i++)
            if (ucs[i].policy.retention_days > max_days)
                max_days = ucs[i].policy.retention_days;
        int64_t today = now / DAY_S, cut = today - max_days, m0 = hh_store_month_start(today);
        if (max_days > 0) {
            pthread_mutex_lock(&s->mu);
            rc = hh_store_usage_expire_locked(s, cut < m0 ? cut : m0, &r.usage_rows, err);
            pthread_mutex_unlock(&s->mu);
            if (!rc && r.usage_rows && log)
                fprintf(log, "retention: pseudonymized %" PRId64 " usage rows older than %d days\n", r.usage_rows,
                        max_days);
        }
    }
    /* conversations (store_conv.c): their own retention, whatever is registered */
    if (!rc)
        rc = expire_conversations(s, now, p->conversation_retention_days, log, &r.conversations, err);
    /* agent memory (store_memory.c): the conversations' retention, by the last change */
    if (!rc)
        rc = expire_memories(s, now, p->conversation_retention_days, log, &r.memories, err);
    if (rr.max_cut != INT64_MIN || r.conversations || r.memories) {
        /* as erasure does: no free page and no WAL frame keeps an expired text */
        pthread_mutex_lock(&s->mu);
        if (!rc && (r.audit_texts || r.approvals || r.conversations || r.memories)) {
            rc = exec(s, "VACUUM", err);
            if (!rc)
                rc = exec(s, "PRAGMA wal_checkpoint(TRUNCATE)", err);
        }
        sqlite3_exec(s->db, "PRAGMA secure_delete = OFF", NULL, NULL, NULL);
        pthread_mutex_unlock(&s->mu);
    }
    free(rr.cut);
    for (size_t i = 0; i < n_uc; i++)
        hh_usecase_clear(&ucs[i]);
    free(ucs);
    if (res)
        *res = r;
    return rc;
}
