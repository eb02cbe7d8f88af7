/* gdpr.c - data-subject export and erasure, collection TTLs and the
 * retention sweeper of gdpr.h: the policy (what counts as the subject, the
 * pseudonym, what the access copy and the audit records say). The
 * statements are the store's (store.h "GDPR", store_gdpr.c). */
#include "govern/gdpr.h"

#include "govern/audit.h"
#include "govern/pii.h"
#include "govern/register.h"
#include "kb/ingest.h"
#include "store/store.h"

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
static bool export_usage(const char *subj, const hh_store_gdpr_row_t *r, cJSON *hits)
{
    bool ok = true;
    for (size_t i = 0; ok && i < r->n_usage; i++) {
        const hh_store_usage_day_t *u = &r->usage[i];
        char day[11];
        hh_store_day_format(u->day, day);
        cJSON *h = cJSON_CreateObject();
        ok = h && cJSON_AddItemToArray(hits, h) && cJSON_AddStringToObject(h, "subject", subj) &&
             cJSON_AddStringToObject(h, "where", "usage") && cJSON_AddNumberToObject(h, "user_id", (double)r->id) &&
             cJSON_AddStringToObject(h, "day", day) && cJSON_AddStringToObject(h, "use_case", u->use_case) &&
             cJSON_AddNumberToObject(h, "requests", (double)u->requests) &&
             cJSON_AddNumberToObject(h, "prompt_tokens", (double)u->prompt_tokens) &&
             cJSON_AddNumberToObject(h, "completion_tokens", (double)u->completion_tokens);
    }
    return ok;
}

/* The stored conversations of a user the subject names: one
 * "conversation" hit each, with the whole conversation (title, times, use
 * case, model, collections, every message with its sources). */
static bool export_conversations(const char *subj, const hh_store_gdpr_row_t *r, cJSON *hits)
{
    bool ok = true;
    for (size_t i = 0; ok && i < r->n_convs; i++) {
        const hh_store_conv_t *cv = &r->convs[i];
        cJSON *h = cJSON_CreateObject();
        cJSON *c = cJSON_AddObjectToObject(h, "conversation");   /* owned by h from here on */
        cJSON *coll = cJSON_Parse(cv->collections);
        ok = c && cJSON_AddStringToObject(h, "subject", subj) && cJSON_AddStringToObject(h, "where", "conversation") &&
             cJSON_AddNumberToObject(h, "user_id", (double)r->id) &&
             cJSON_AddNumberToObject(h, "conversation_id", (double)cv->id) &&
             cJSON_AddStringToObject(c, "title", cv->title) &&
             cJSON_AddNumberToObject(c, "created_at", (double)cv->created_at) &&
             cJSON_AddNumberToObject(c, "updated_at", (double)cv->updated_at) &&
             cJSON_AddStringToObject(c, "use_case", cv->use_case) && cJSON_AddStringToObject(c, "model", cv->model);
        if (ok && cJSON_IsArray(coll))
            ok = cJSON_AddItemToObject(c, "collections", coll);
        else
            cJSON_Delete(coll);
        cJSON *arr = ok ? cJSON_AddArrayToObject(c, "messages") : NULL;
        ok = ok && arr;
        for (size_t k = 0; ok && k < r->n_msgs[i]; k++) {
            const hh_store_conv_msg_t *m = &r->msgs[i][k];
            cJSON *mj = cJSON_CreateObject();
            ok = mj && cJSON_AddItemToArray(arr, mj) && cJSON_AddNumberToObject(mj, "seq", (double)m->seq) &&
                 cJSON_AddStringToObject(mj, "role", m->role) && cJSON_AddStringToObject(mj, "content", m->content) &&
                 cJSON_AddNumberToObject(mj, "created_at", (double)m->created_at);
            cJSON *g = ok && m->grounding ? cJSON_Parse(m->grounding) : NULL;
            if (g && !cJSON_AddItemToObject(mj, "grounding", g)) {
                cJSON_Delete(g);
                ok = false;
            }
            if (ok && m->has_confidence)
                ok = cJSON_AddNumberToObject(mj, "confidence", m->confidence) != NULL;
            if (ok && m->approval_id > 0)
                ok = cJSON_AddNumberToObject(mj, "approval_id", (double)m->approval_id) &&
                     cJSON_AddStringToObject(mj, "approval_status", m->approval_status);
        }
        if (!ok || !cJSON_AddItemToArray(hits, h)) {
            cJSON_Delete(h);
            ok = false;
        }
    }
    return ok;
}

/* The agent memory of a user the subject names (store_memory.c): one
 * "memory" hit per fact with its text and times. */
static bool export_memories(const char *subj, const hh_store_gdpr_row_t *r, cJSON *hits)
{
    bool ok = true;
    for (size_t i = 0; ok && i < r->n_memories; i++) {
        const hh_store_memory_t *m = &r->memories[i];
        cJSON *h = cJSON_CreateObject();
        cJSON *mj = cJSON_AddObjectToObject(h, "memory");
        ok = mj && cJSON_AddStringToObject(h, "subject", subj) && cJSON_AddStringToObject(h, "where", "memory") &&
             cJSON_AddNumberToObject(h, "user_id", (double)r->id) &&
             cJSON_AddNumberToObject(mj, "memory_id", (double)m->id) && cJSON_AddStringToObject(mj, "text", m->text) &&
             cJSON_AddNumberToObject(mj, "created_at", (double)m->created_at) &&
             cJSON_AddNumberToObject(mj, "updated_at", (double)m->updated_at);
        if (!ok || !cJSON_AddItemToArray(hits, h)) {
            cJSON_Delete(h);
            ok = false;
        }
    }
    return ok;
}

typedef struct export_ctx {
    hh_store_t *s;
    cJSON      *hits;
} export_ctx_t;

/* hh_store_gdpr_visit_fn: the hits one row holds for subj. */
static bool export_row(void *ctx, const char *subj, const hh_store_gdpr_row_t *r)
{
    export_ctx_t *x = ctx;
    cJSON *hits = x->hits;
    const char *const *t = r->text;
    bool ok = true;
    switch (r->kind) {
    case HH_STORE_GDPR_DOCUMENT: {
        ok = hit_if(hits, subj, "document.title", "document_id", r->id, NULL, 0, t[0], strlen(t[0])) &&
             hit_if(hits, subj, "document.source_path", "document_id", r->id, NULL, 0, t[1], strlen(t[1]));
        size_t flen = 0;
        char *fb = read_stored(x->s, t[2], &flen);
        if (fb && ok)
            ok = hit_if(hits, subj, "file", "document_id", r->id, NULL, 0, fb, flen);
        free(fb);
        break;
    }
    case HH_STORE_GDPR_CHUNK:
        ok = hit_if(hits, subj, "chunk.text", "chunk_id", r->id, "document_id", r->id2, t[0], strlen(t[0])) &&
             hit_if(hits, subj, "chunk.heading_path", "chunk_id", r->id, "document_id", r->id2, t[1], strlen(t[1]));
        break;
    case HH_STORE_GDPR_USER:
        ok = hit_if(hits, subj, "user", "user_id", r->id, NULL, 0, t[0], strlen(t[0])) &&
             export_usage(subj, r, hits) && export_conversations(subj, r, hits) && export_memories(subj, r, hits);
        break;
    case HH_STORE_GDPR_CONV_TEXT: {
        /* conversation titles, messages and sources of any user */
        static const char *const where[3] = { "conversation.title", "conversation.message", "conversation.sources" };
        int c = r->column >= 0 && r->column < 3 ? r->column : 1;
        ok = hit_if(hits, subj, where[c], "conversation_id", r->id, r->id2 ? "message_id" : NULL, r->id2, t[0],
                    strlen(t[0]));
        break;
    }
    case HH_STORE_GDPR_AUDIT: {
        static const char *const where[] = { "audit.prompt", "audit.output", "audit.record", "audit.user",
                                             "audit.detail" };
        for (int c = 0; ok && c < 5; c++)
            ok = hit_if(hits, subj, where[c], "seq", r->id, NULL, 0, t[c], strlen(t[c]));
        break;
    }
    case HH_STORE_GDPR_APPROVAL:
        ok = hit_if(hits, subj, "approval", "approval_id", r->id, NULL, 0, t[0], strlen(t[0]));
        break;
    }
    return ok;
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
    export_ctx_t ex = { .s = s, .hits = hits };
    rc = hh_store_gdpr_collect(s, subjects, n, export_row, &ex, err);
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

/* The policy the store's erasure (store_gdpr.c) calls back into. */
typedef struct erase_ctx {
    hh_store_t        *s;
    const char *const *subjects;
    char             (*tokens)[HH_GDPR_PSEUDONYM_MAX];   /* the subjects' pseudonyms */
    const char        *actor, *pseud;
} erase_ctx_t;

/* Every occurrence of subject i (ASCII case ignored) becomes its pseudonym. */
static char *erase_rewrite(void *ctx, size_t i, const char *text, bool *oom)
{
    erase_ctx_t *x = ctx;
    return replace_all(text, x->subjects[i], x->tokens[i], oom);
}

/* A stored original holds subject i when its bytes do. */
static bool erase_file_holds(void *ctx, size_t i, const char *sha256)
{
    erase_ctx_t *x = ctx;
    size_t len = 0;
    char *fb = read_stored(x->s, sha256, &len);
    bool holds = fb && ci_find(fb, len, x->subjects[i], strlen(x->subjects[i]), 0) >= 0;
    free(fb);
    return holds;
}

/* The erasure's audit record, inside its transaction: pseudonyms and
 * counts only, no subject; it lists the audit rows pseudonymized for the
 * first time. */
static int erase_record(void *ctx, const hh_store_gdpr_erased_t *r, size_t n_files, const int64_t *erased_seqs,
                        size_t n_erased, int64_t *seq, hh_err_t *err)
{
    erase_ctx_t *x = ctx;
    char detail[896];
    snprintf(detail, sizeof detail,
             "data-subject erasure (Art. 17) of %s: %" PRId64 " chunks rewritten, %" PRId64 " vectors, %" PRId64
             " documents, %zu stored files to delete, %" PRId64 " users deleted, %" PRId64 " audit texts, %" PRId64
             " approval fields rewritten, %" PRId64 " hashed audit records unchanged, %" PRId64
             " usage rows pseudonymized, %" PRId64 " conversations deleted, %" PRId64
             " conversation texts rewritten, %" PRId64 " agent memories deleted",
             x->pseud, r->chunks, r->vectors, r->documents, n_files, r->users, r->audit_texts, r->approvals,
             r->audit_kept, r->usage_rows, r->conversations, r->conversation_texts, r->memories);
    hh_audit_entry_t e = { .kind = "erasure", .user = x->actor, .decision = "erased", .detail = detail,
                           .erased_seqs = erased_seqs, .n_erased_seqs = n_erased };
    return hh_audit_append_locked(x->s, &e, seq, err);
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
    char(*tokens)[HH_GDPR_PSEUDONYM_MAX] = calloc(n, sizeof *tokens);
    if (!tokens) {
        free(pseud);
        return hh_err_set(err, HH_ENOMEM, -1, "gdpr: out of memory");
    }
    for (size_t i = 0; i < n && !rc; i++)
        rc = hh_gdpr_pseudonym(s, subjects[i], tokens[i], sizeof tokens[i], err);
    erase_ctx_t x = { .s = s, .subjects = subjects, .tokens = tokens, .actor = actor, .pseud = pseud };
    hh_store_gdpr_eraser_t e = { .subjects = subjects, .n = n, .rewrite = erase_rewrite,
                                 .file_holds = erase_file_holds, .record = erase_record, .ctx = &x };
    hh_store_gdpr_erased_t c = { 0 };
    char **files = NULL;
    size_t n_files = 0;
    if (!rc)
        rc = hh_store_gdpr_erase(s, &e, now_s(), &c, &files, &n_files, err);
    r = (hh_gdpr_erase_result_t){ .chunks = c.chunks, .vectors = c.vectors, .documents = c.documents,
                                  .users = c.users, .audit_texts = c.audit_texts, .audit_kept = c.audit_kept,
                                  .approvals = c.approvals, .usage_rows = c.usage_rows,
                                  .conversations = c.conversations, .conversation_texts = c.conversation_texts,
                                  .memories = c.memories };
    for (size_t i = 0; i < n_files; i++) {
        char path[4096];
        if (!rc && hh_ingest_file_path(s, files[i], path, sizeof path, NULL) == 0 && unlink(path) == 0)
            r.files++;
        free(files[i]);
    }
    free(files);
    /* no free page, no WAL frame keeps the old text */
    if (!rc)
        rc = hh_store_gdpr_scrub(s, true, err);
    free(tokens);
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
    return hh_store_gdpr_collection_retention(s, collection, days, err);
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

/* The context of the store's retention batches (store_gdpr.c). */
typedef struct sweep_ctx {
    hh_store_t        *s;
    const ret_rules_t *rr;
} sweep_ctx_t;

/* hh_store_gdpr_expirer_t.cut: the rules' cut of use_case. */
static int64_t expiry_cut(void *ctx, const char *use_case)
{
    const sweep_ctx_t *x = ctx;
    return rules_cut(x->rr, use_case);
}

/* The "retention" record of one batch of expired audit texts: it lists
 * the rows expired for the first time (erased_by still NULL; they then
 * name it); rows an erasure already covers keep naming their erasure
 * record. */
static int texts_record(void *ctx, const int64_t *rows, size_t n_rows, const int64_t *erased_seqs, size_t n_erased,
                        int64_t *seq, hh_err_t *err)
{
    hh_store_t *s = ((sweep_ctx_t *)ctx)->s;
    char detail[256];
    snprintf(detail, sizeof detail,
             "retention sweep: expired the texts of %zu audit records (seq %" PRId64 "..%" PRId64
             ", %zu of them erased before) older than their use case's retention",
             n_rows, rows[0], rows[n_rows - 1], n_rows - n_erased);
    hh_audit_entry_t e = { .kind = "retention", .decision = "expired", .detail = detail,
                           .erased_seqs = erased_seqs, .n_erased_seqs = n_erased };
    return hh_audit_append_locked(s, &e, seq, err);
}

/* The "retention" record of one batch of deleted approvals: it counts
 * them and names their ids while they fit. */
static int approvals_record(void *ctx, const int64_t *rows, size_t n_rows, const int64_t *erased_seqs,
                            size_t n_erased, int64_t *seq, hh_err_t *err)
{
    hh_store_t *s = ((sweep_ctx_t *)ctx)->s;
    char detail[512];
    int dl = snprintf(detail, sizeof detail, "retention sweep: deleted decided approvals older than their use case's "
                                             "retention:");
    for (size_t i = 0; i < n_rows && dl > 0 && (size_t)dl < sizeof detail - 64; i++)
        dl += snprintf(detail + dl, sizeof detail - (size_t)dl, " %" PRId64, rows[i]);
    if (dl > 0 && (size_t)dl < sizeof detail)
        snprintf(detail + dl, sizeof detail - (size_t)dl, " (%zu in all)", n_rows);
    hh_audit_entry_t e = { .kind = "retention", .decision = "deleted", .detail = detail };
    return hh_audit_append_locked(s, &e, seq, err);
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
    int64_t *ids = NULL;
    size_t n_ids = 0;
    int rc = hh_store_gdpr_expired_documents(s, now, &ids, &n_ids, err);
    char detail[512];
    int dl = snprintf(detail, sizeof detail, "retention sweep: expired documents");
    for (size_t i = 0; i < n_ids && !rc; i++) {
        hh_err_t e2;
        int dr = hh_ingest_delete(s, ids[i], &e2);
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
            fprintf(log, "retention: deleted expired document %" PRId64 "\n", ids[i]);
        if (dl > 0 && (size_t)dl < sizeof detail - 24)
            dl += snprintf(detail + dl, sizeof detail - (size_t)dl, " %" PRId64, ids[i]);
    }
    free(ids);
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
        sweep_ctx_t sx = { .s = s, .rr = &rr };
        hh_store_gdpr_expirer_t x = { .max_cut = rr.max_cut, .batch = HH_GDPR_SWEEP_BATCH,
                                      .expired_text = HH_AUDIT_EXPIRED_TEXT, .cut = expiry_cut,
                                      .record = texts_record, .ctx = &sx };
        rc = hh_store_gdpr_expire_audit_texts(s, &x, &r.audit_texts, err);
        if (!rc && r.audit_texts && log)
            fprintf(log, "retention: expired the texts of %" PRId64 " audit records older than their use case's "
                         "retention\n", r.audit_texts);
        if (!rc)
            x.record = approvals_record;
        if (!rc)
            rc = hh_store_gdpr_expire_approvals(s, &x, &r.approvals, err);
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
            rc = hh_store_gdpr_expire_usage(s, cut < m0 ? cut : m0, &r.usage_rows, err);
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
        int sr = hh_store_gdpr_scrub(s, !rc && (r.audit_texts || r.approvals || r.conversations || r.memories), err);
        if (!rc)
            rc = sr;
    }
    free(rr.cut);
    for (size_t i = 0; i < n_uc; i++)
        hh_usecase_clear(&ucs[i]);
    free(ucs);
    if (res)
        *res = r;
    return rc;
}
