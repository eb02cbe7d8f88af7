/* gdpr_access.c - the GDPR Art. 15 access copy of gdpr.h: the "sections"
 * of one subject (account, own conversations, requests and answers from
 * the audit texts, approvals requested and decided, uploaded documents,
 * usage counters, mentions in the texts of others) built from the
 * export's hits and the store's typed queries (store.h, "GDPR access
 * copy"), and the readable HTML report of a whole export document. No
 * secret ever enters a section: keys and sessions appear with their
 * prefix and times only. */
#include "govern/gdpr.h"

#include "base/strbuf.h"
#include "govern/audit.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* ---- JSON helpers ------------------------------------------------------------ */

/* t (unix seconds) as "YYYY-MM-DDTHH:MM:SSZ", or JSON null for t <= 0. */
static cJSON *iso_s(int64_t t)
{
    if (t <= 0)
        return cJSON_CreateNull();
    time_t tt = (time_t)t;
    struct tm tm;
    char buf[32];
    if (!gmtime_r(&tt, &tm) || !strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm))
        return cJSON_CreateNull();
    return cJSON_CreateString(buf);
}

static cJSON *iso_ms(int64_t ms)
{
    return iso_s(ms > 0 ? ms / 1000 : 0);
}

static cJSON *str_or_null(const char *s)
{
    return s ? cJSON_CreateString(s) : cJSON_CreateNull();
}

/* Adds item to o under key; false (item freed) when item is NULL or out of memory. */
static bool put(cJSON *o, const char *key, cJSON *item)
{
    if (!item)
        return false;
    if (!cJSON_AddItemToObject(o, key, item)) {
        cJSON_Delete(item);
        return false;
    }
    return true;
}

/* A new object appended to arr, or NULL (out of memory). */
static cJSON *push_obj(cJSON *arr)
{
    cJSON *o = cJSON_CreateObject();
    if (o && !cJSON_AddItemToArray(arr, o)) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* Replaces the number at key (unix ms) by its ISO string. */
static bool ms_to_iso(cJSON *o, const char *key)
{
    cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v))
        return true;
    cJSON *iso = iso_ms((int64_t)v->valuedouble);
    return iso && cJSON_ReplaceItemInObjectCaseSensitive(o, key, iso);
}

static bool hit_is(const cJSON *h, const char *subject, const char *where)
{
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(h, "subject"), *w = cJSON_GetObjectItemCaseSensitive(h, "where");
    return cJSON_IsString(s) && cJSON_IsString(w) && !strcmp(s->valuestring, subject) &&
           (!where || !strcmp(w->valuestring, where));
}

static int64_t hit_num(const cJSON *h, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(h, key);
    return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : 0;
}

/* ---- sections ---------------------------------------------------------------- */

/* One account: the user record, departments, keys and sessions without secrets. */
static int add_account(hh_store_t *s, int64_t uid, cJSON *arr, hh_err_t *err)
{
    hh_store_user_info_t u;
    int rc = hh_store_user_info(s, uid, &u, err);
    if (rc == HH_ENOENT)
        return 0;   /* deleted since the hits were read */
    if (rc)
        return rc;
    int64_t last_login_ms = 0, last_key_use = 0;
    if ((rc = hh_store_user_last_seen(s, uid, &last_login_ms, &last_key_use, err)))
        return rc;
    hh_store_key_t *keys = NULL;
    hh_store_session_times_t *ses = NULL;
    size_t nk = 0, ns = 0;
    if ((rc = hh_store_key_list_user(s, uid, &keys, &nk, err)) ||
        (rc = hh_store_session_list_user(s, uid, &ses, &ns, err))) {
        free(keys);
        return rc;
    }
    cJSON *a = push_obj(arr);
    bool ok = a && put(a, "user_id", cJSON_CreateNumber((double)uid)) && put(a, "name", cJSON_CreateString(u.user.name)) &&
              put(a, "role", cJSON_CreateString(u.user.role));
    cJSON *deps = ok ? cJSON_AddArrayToObject(a, "departments") : NULL;
    ok = ok && deps;
    /* departments: comma-joined names (store.h) */
    for (char *p = u.departments; ok && *p;) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        ok = cJSON_AddItemToArray(deps, cJSON_CreateString(p));
        p = comma ? comma + 1 : p + strlen(p);
    }
    ok = ok && put(a, "created_at", iso_s(u.user.created_at)) && put(a, "disabled", cJSON_CreateBool(u.user.disabled)) &&
         put(a, "has_password", cJSON_CreateBool(u.has_password)) && put(a, "last_login_at", iso_ms(last_login_ms)) &&
         put(a, "last_key_use_at", iso_s(last_key_use));
    cJSON *ka = ok ? cJSON_AddArrayToObject(a, "api_keys") : NULL;
    ok = ok && ka;
    for (size_t i = 0; ok && i < nk; i++) {
        cJSON *k = push_obj(ka);
        ok = k && put(k, "prefix", cJSON_CreateString(keys[i].prefix)) && put(k, "created_at", iso_s(keys[i].created_at)) &&
             put(k, "last_used_at", iso_s(keys[i].last_used_at)) && put(k, "revoked_at", iso_s(keys[i].revoked_at));
    }
    cJSON *sa = ok ? cJSON_AddArrayToObject(a, "sessions") : NULL;
    ok = ok && sa;
    for (size_t i = 0; ok && i < ns; i++) {
        cJSON *o = push_obj(sa);
        ok = o && put(o, "created_at", iso_ms(ses[i].created_at)) && put(o, "expires_at", iso_ms(ses[i].expires_at)) &&
             put(o, "last_seen_at", iso_ms(ses[i].last_seen_at));
    }
    free(keys);
    free(ses);
    return ok ? 0 : hh_err_set(err, HH_ENOMEM, -1, "gdpr: out of memory");
}

/* The conversation hits of the user as they are, times as ISO strings. */
static bool add_conversations(const cJSON *hits, const char *subj, int64_t uid, cJSON *arr)
{
    const cJSON *h;
    cJSON_ArrayForEach(h, hits) {
        if (!hit_is(h, subj, "conversation") || hit_num(h, "user_id") != uid)
            continue;
        cJSON *c = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(h, "conversation"), 1);
        if (!c || !cJSON_AddItemToArray(arr, c)) {
            cJSON_Delete(c);
            return false;
        }
        if (!cJSON_AddNumberToObject(c, "conversation_id", (double)hit_num(h, "conversation_id")) ||
            !ms_to_iso(c, "created_at") || !ms_to_iso(c, "updated_at"))
            return false;
        cJSON *m;
        cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(c, "messages"))
            if (!ms_to_iso(m, "created_at"))
                return false;
    }
    return true;
}

/* The agent memory hits of the user, times as ISO strings. */
static bool add_memories(const cJSON *hits, const char *subj, int64_t uid, cJSON *arr)
{
    const cJSON *h;
    cJSON_ArrayForEach(h, hits) {
        if (!hit_is(h, subj, "memory") || hit_num(h, "user_id") != uid)
            continue;
        cJSON *m = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(h, "memory"), 1);
        if (!m || !cJSON_AddItemToArray(arr, m)) {
            cJSON_Delete(m);
            return false;
        }
        if (!ms_to_iso(m, "created_at") || !ms_to_iso(m, "updated_at"))
            return false;
    }
    return true;
}

static bool add_usage(const cJSON *hits, const char *subj, int64_t uid, cJSON *arr)
{
    static const char *const keys[] = { "day", "use_case", "requests", "prompt_tokens", "completion_tokens" };
    const cJSON *h;
    cJSON_ArrayForEach(h, hits) {
        if (!hit_is(h, subj, "usage") || hit_num(h, "user_id") != uid)
            continue;
        cJSON *o = push_obj(arr);
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
            if (!o || !put(o, keys[k], cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(h, keys[k]), 1)))
                return false;
    }
    return true;
}

/* What became of an audit row's prompt/output texts. */
static const char *texts_state(const hh_store_audit_row_t *r)
{
    if (r->hash_only)
        return "hash_only";
    bool expired = (r->prompt && !strcmp(r->prompt, HH_AUDIT_EXPIRED_TEXT)) ||
                   (r->output && !strcmp(r->output, HH_AUDIT_EXPIRED_TEXT));
    if (r->texts_erased)
        return expired ? "expired" : "pseudonymized";
    return r->prompt || r->output ? "kept" : "none";
}

static int add_requests(hh_store_t *s, const char *name, cJSON *arr, hh_err_t *err)
{
    hh_store_audit_row_t *r = NULL;
    size_t n = 0;
    int rc = hh_store_audit_rows_of_user(s, name, &r, &n, err);
    bool ok = true;
    for (size_t i = 0; !rc && ok && i < n; i++) {
        const char *state = texts_state(&r[i]);
        bool show = strcmp(state, "kept") == 0 || strcmp(state, "pseudonymized") == 0;
        /* the record of an approval the subject decided: its prompt is the
         * requester's question and its detail names the requester, data of
         * another person (Art. 15(4)); the decision and the released text
         * are the subject's */
        bool decided = !strcmp(r[i].kind, "approval");
        cJSON *o = push_obj(arr);
        ok = o && put(o, "seq", cJSON_CreateNumber((double)r[i].seq)) && put(o, "time", iso_ms(r[i].time_ms)) &&
             put(o, "kind", cJSON_CreateString(r[i].kind)) && put(o, "use_case", cJSON_CreateString(r[i].use_case)) &&
             put(o, "model", cJSON_CreateString(r[i].model)) && put(o, "decision", cJSON_CreateString(r[i].decision)) &&
             put(o, "texts", cJSON_CreateString(state)) && put(o, "prompt", str_or_null(show && !decided ? r[i].prompt : NULL)) &&
             put(o, "output", str_or_null(show ? r[i].output : NULL)) &&
             put(o, "detail", str_or_null(decided || (r[i].texts_erased && r[i].detail &&
                                                      !strcmp(r[i].detail, HH_AUDIT_EXPIRED_TEXT)) ? NULL : r[i].detail));
    }
    hh_store_audit_rows_free(r, n);
    return rc ? rc : ok ? 0 : hh_err_set(err, HH_ENOMEM, -1, "gdpr: out of memory");
}

/* Approvals the subject requested (with the request and answer) and
 * decided (their decision, reason and edited text; the request is the
 * requester's, not theirs). */
static int add_approvals(hh_store_t *s, const char *name, cJSON *requested, cJSON *decided, hh_err_t *err)
{
    hh_store_approval_row_t *a = NULL;
    size_t n = 0;
    int rc = hh_store_approvals_of_user(s, name, &a, &n, err);
    bool ok = true;
    for (size_t i = 0; !rc && ok && i < n; i++) {
        if (a[i].requested) {
            cJSON *o = push_obj(requested);
            ok = o && put(o, "approval_id", cJSON_CreateNumber((double)a[i].id)) &&
                 put(o, "use_case", cJSON_CreateString(a[i].use_case)) && put(o, "status", cJSON_CreateString(a[i].status)) &&
                 put(o, "created_at", iso_ms(a[i].created_at)) && put(o, "decided_at", iso_ms(a[i].decided_at)) &&
                 put(o, "request", str_or_null(a[i].request)) && put(o, "output", str_or_null(a[i].output)) &&
                 put(o, "final_text", str_or_null(a[i].final_text)) && put(o, "reason", str_or_null(a[i].reason));
        }
        if (ok && a[i].decided) {
            cJSON *o = push_obj(decided);
            ok = o && put(o, "approval_id", cJSON_CreateNumber((double)a[i].id)) &&
                 put(o, "use_case", cJSON_CreateString(a[i].use_case)) && put(o, "status", cJSON_CreateString(a[i].status)) &&
                 put(o, "decided_at", iso_ms(a[i].decided_at)) && put(o, "reason", str_or_null(a[i].reason)) &&
                 put(o, "final_text", str_or_null(!strcmp(a[i].status, "edited") ? a[i].final_text : NULL));
        }
    }
    hh_store_approval_rows_free(a, n);
    return rc ? rc : ok ? 0 : hh_err_set(err, HH_ENOMEM, -1, "gdpr: out of memory");
}

static int add_documents(hh_store_t *s, int64_t uid, cJSON *arr, hh_err_t *err)
{
    hh_store_doc_t *d = NULL;
    size_t n = 0;
    int rc = hh_store_doc_list_uploaded(s, uid, &d, &n, err);
    bool ok = true;
    for (size_t i = 0; !rc && ok && i < n; i++) {
        cJSON *o = push_obj(arr);
        ok = o && put(o, "document_id", cJSON_CreateNumber((double)d[i].id)) &&
             put(o, "title", cJSON_CreateString(d[i].title)) && put(o, "collection", cJSON_CreateString(d[i].collection)) &&
             put(o, "source_path", cJSON_CreateString(d[i].source_path)) && put(o, "mime", cJSON_CreateString(d[i].mime)) &&
             put(o, "size", cJSON_CreateNumber((double)d[i].size)) && put(o, "uploaded_at", iso_s(d[i].ingested_at));
    }
    free(d);
    return rc ? rc : ok ? 0 : hh_err_set(err, HH_ENOMEM, -1, "gdpr: out of memory");
}

/* The hits that are the subject's own data have their sections; every
 * other hit names the subject in a text (their own or someone else's). */
static bool add_mentions(const cJSON *hits, const char *subj, cJSON *arr)
{
    const cJSON *h;
    cJSON_ArrayForEach(h, hits) {
        if (!hit_is(h, subj, NULL) || hit_is(h, subj, "user") || hit_is(h, subj, "usage") ||
            hit_is(h, subj, "conversation") || hit_is(h, subj, "memory"))
            continue;
        /* a record whose user is the whole name is one of "requests" */
        const cJSON *ctx = cJSON_GetObjectItemCaseSensitive(h, "context");
        if (hit_is(h, subj, "audit.user") && cJSON_IsString(ctx) && !strcasecmp(ctx->valuestring, subj))
            continue;
        cJSON *c = cJSON_Duplicate(h, 1);
        if (!c || !cJSON_AddItemToArray(arr, c)) {
            cJSON_Delete(c);
            return false;
        }
        cJSON_DeleteItemFromObjectCaseSensitive(c, "subject");
    }
    return true;
}

int hh_gdpr_access_sections(hh_store_t *s, const char *subject, const cJSON *hits, cJSON **out, hh_err_t *err)
{
    *out = NULL;
    cJSON *sec = cJSON_CreateObject();
    cJSON *acc = cJSON_AddArrayToObject(sec, "account"), *conv = cJSON_AddArrayToObject(sec, "conversations");
    cJSON *req = cJSON_AddArrayToObject(sec, "requests"), *apr = cJSON_AddArrayToObject(sec, "approvals_requested");
    cJSON *apd = cJSON_AddArrayToObject(sec, "approvals_decided"), *docs = cJSON_AddArrayToObject(sec, "documents");
    cJSON *use = cJSON_AddArrayToObject(sec, "usage"), *men = cJSON_AddArrayToObject(sec, "mentions");
    cJSON *mem = cJSON_AddArrayToObject(sec, "memory");
    if (!sec || !acc || !conv || !req || !apr || !apd || !docs || !use || !men || !mem) {
        cJSON_Delete(sec);
        return hh_err_set(err, HH_ENOMEM, -1, "gdpr: out of memory");
    }
    int rc = 0;
    bool ok = true;
    /* the accounts whose whole name is the subject: the export's "user" hits */
    const cJSON *h;
    cJSON_ArrayForEach(h, hits) {
        if (rc || !ok)
            break;
        if (!hit_is(h, subject, "user"))
            continue;
        int64_t uid = hit_num(h, "user_id");
        if (!(rc = add_account(s, uid, acc, err)) && !(rc = add_documents(s, uid, docs, err)))
            ok = add_conversations(hits, subject, uid, conv) && add_usage(hits, subject, uid, use) &&
                 add_memories(hits, subject, uid, mem);
    }
    /* requests and approvals are kept under the name, also of a deleted account */
    if (!rc && ok)
        rc = add_requests(s, subject, req, err);
    if (!rc && ok)
        rc = add_approvals(s, subject, apr, apd, err);
    if (!rc && ok)
        ok = add_mentions(hits, subject, men);
    if (!rc && !ok)
        rc = hh_err_set(err, HH_ENOMEM, -1, "gdpr: out of memory");
    if (rc) {
        cJSON_Delete(sec);
        return rc;
    }
    *out = sec;
    return 0;
}

/* ---- HTML report ------------------------------------------------------------- */

typedef struct label {
    const char *key, *de, *en;
} label_t;

/* Section headings and field names, German and English. */
static const label_t g_labels[] = {
    { "account", "Benutzerkonto", "Account" },
    { "conversations", "Eigene Gespräche", "Own conversations" },
    { "memory", "Gespeicherte Fakten (Agenten-Gedächtnis)", "Stored facts (agent memory)" },
    { "memory_id", "Fakt-Nr.", "Fact id" },
    { "text", "Text", "Text" },
    { "requests", "Anfragen und Antworten (Audit-Protokoll)", "Requests and answers (audit log)" },
    { "approvals_requested", "Beantragte Freigaben", "Approvals requested" },
    { "approvals_decided", "Entschiedene Freigaben", "Approvals decided" },
    { "documents", "Hochgeladene Dokumente", "Uploaded documents" },
    { "usage", "Nutzung", "Usage" },
    { "mentions", "Erwähnungen in anderen Texten", "Mentions in other texts" },
    { "user_id", "Benutzer-Nr.", "User id" },
    { "name", "Name", "Name" },
    { "role", "Rolle", "Role" },
    { "departments", "Abteilungen", "Departments" },
    { "created_at", "Angelegt", "Created" },
    { "updated_at", "Geändert", "Updated" },
    { "disabled", "Gesperrt", "Disabled" },
    { "has_password", "Passwort gesetzt", "Password set" },
    { "last_login_at", "Letzte Anmeldung", "Last login" },
    { "last_key_use_at", "Letzte Schlüsselnutzung", "Last key use" },
    { "api_keys", "API-Schlüssel", "API keys" },
    { "prefix", "Präfix", "Prefix" },
    { "last_used_at", "Zuletzt benutzt", "Last used" },
    { "revoked_at", "Widerrufen", "Revoked" },
    { "sessions", "Sitzungen", "Sessions" },
    { "expires_at", "Läuft ab", "Expires" },
    { "last_seen_at", "Zuletzt aktiv", "Last seen" },
    { "conversation_id", "Gesprächs-Nr.", "Conversation id" },
    { "title", "Titel", "Title" },
    { "use_case", "Anwendungsfall", "Use case" },
    { "model", "Modell", "Model" },
    { "collections", "Sammlungen", "Collections" },
    { "messages", "Nachrichten", "Messages" },
    { "seq", "Nr.", "No." },
    { "content", "Inhalt", "Content" },
    { "grounding", "Quellen", "Sources" },
    { "confidence", "Konfidenz", "Confidence" },
    { "approval_id", "Freigabe-Nr.", "Approval id" },
    { "approval_status", "Freigabestatus", "Approval status" },
    { "time", "Zeit", "Time" },
    { "kind", "Art", "Kind" },
    { "decision", "Entscheidung", "Decision" },
    { "texts", "Texte", "Texts" },
    { "prompt", "Anfrage", "Prompt" },
    { "output", "Antwort", "Answer" },
    { "detail", "Detail", "Detail" },
    { "status", "Status", "Status" },
    { "decided_at", "Entschieden", "Decided" },
    { "request", "Anfrage", "Request" },
    { "final_text", "Endgültiger Text", "Final text" },
    { "reason", "Begründung", "Reason" },
    { "document_id", "Dokument-Nr.", "Document id" },
    { "collection", "Sammlung", "Collection" },
    { "source_path", "Quelle", "Source" },
    { "mime", "Dateityp", "File type" },
    { "size", "Größe (Bytes)", "Size (bytes)" },
    { "uploaded_at", "Hochgeladen", "Uploaded" },
    { "day", "Tag", "Day" },
    { "requests_n", "Anfragen", "Requests" },
    { "prompt_tokens", "Eingabe-Token", "Prompt tokens" },
    { "completion_tokens", "Ausgabe-Token", "Completion tokens" },
    { "where", "Fundort", "Found in" },
    { "context", "Textstelle", "Passage" },
    { "chunk_id", "Abschnitt-Nr.", "Chunk id" },
    { "message_id", "Nachrichten-Nr.", "Message id" },
    /* values of "texts" */
    { "texts.kept", "gespeichert", "kept" },
    { "texts.hash_only", "nur als Hash (SHA-256) gespeichert, der Text wurde nicht aufbewahrt",
      "kept as hash (SHA-256) only; the text was not stored" },
    { "texts.expired", "nach Ablauf der Aufbewahrungsfrist gelöscht", "deleted when its retention period ended" },
    { "texts.pseudonymized", "pseudonymisiert", "pseudonymized" },
    { "texts.none", "keine", "none" },
    /* values of "where" (mentions) */
    { "where.document.title", "Dokumenttitel", "document title" },
    { "where.document.source_path", "Dateiname eines Dokuments", "document file name" },
    { "where.chunk.text", "Textabschnitt eines Dokuments", "passage of a document" },
    { "where.chunk.heading_path", "Überschrift eines Dokuments", "heading of a document" },
    { "where.file", "gespeicherte Originaldatei", "stored original file" },
    { "where.audit.prompt", "Anfrage im Audit-Protokoll", "prompt in the audit log" },
    { "where.audit.output", "Antwort im Audit-Protokoll", "answer in the audit log" },
    { "where.audit.record", "Eintrag im Audit-Protokoll", "audit log record" },
    { "where.audit.user", "Benutzer im Audit-Protokoll", "user in the audit log" },
    { "where.audit.detail", "Detail im Audit-Protokoll", "detail in the audit log" },
    { "where.approval", "Freigabe", "approval" },
    { "where.conversation.title", "Titel eines Gesprächs", "title of a conversation" },
    { "where.conversation.message", "Nachricht in einem Gespräch", "message in a conversation" },
    { "where.conversation.sources", "Quellen in einem Gespräch", "sources in a conversation" },
};

static const char *L(const char *key, bool de)
{
    for (size_t i = 0; i < sizeof g_labels / sizeof g_labels[0]; i++)
        if (!strcmp(g_labels[i].key, key))
            return de ? g_labels[i].de : g_labels[i].en;
    return key;
}

/* Appends text with &, <, >, " and ' as character references. */
static void esc(hh_strbuf_t *b, const char *t)
{
    for (const char *p = t; p && *p; p++) {
        switch (*p) {
        case '&': hh_strbuf_str(b, "&amp;"); break;
        case '<': hh_strbuf_str(b, "&lt;"); break;
        case '>': hh_strbuf_str(b, "&gt;"); break;
        case '"': hh_strbuf_str(b, "&quot;"); break;
        case '\'': hh_strbuf_str(b, "&#39;"); break;
        default: hh_strbuf_add(b, p, 1);
        }
    }
}

static void value_html(hh_strbuf_t *b, const char *key, const cJSON *v, bool de, int depth);

/* An object as a two-column table: field name, value. */
static void object_html(hh_strbuf_t *b, const cJSON *o, bool de, int depth)
{
    hh_strbuf_str(b, "<table>");
    const cJSON *f;
    cJSON_ArrayForEach(f, o) {
        hh_strbuf_str(b, "<tr><th scope=\"row\">");
        /* "requests" is a section heading and, in usage rows, a count */
        esc(b, L(!strcmp(f->string, "requests") ? "requests_n" : f->string, de));
        hh_strbuf_str(b, "</th><td>");
        value_html(b, f->string, f, de, depth + 1);
        hh_strbuf_str(b, "</td></tr>");
    }
    hh_strbuf_str(b, "</table>");
}

static void value_html(hh_strbuf_t *b, const char *key, const cJSON *v, bool de, int depth)
{
    if (depth > 16) {   /* the export's own shapes are shallow; stop anything deeper */
        hh_strbuf_str(b, "&hellip;");
    } else if (cJSON_IsNull(v) || !v) {
        hh_strbuf_str(b, "&mdash;");
    } else if (cJSON_IsBool(v)) {
        hh_strbuf_str(b, cJSON_IsTrue(v) ? (de ? "ja" : "yes") : (de ? "nein" : "no"));
    } else if (cJSON_IsNumber(v)) {
        char num[64];
        if (v->valuedouble == (double)(int64_t)v->valuedouble)
            snprintf(num, sizeof num, "%" PRId64, (int64_t)v->valuedouble);
        else
            snprintf(num, sizeof num, "%.4f", v->valuedouble);
        hh_strbuf_str(b, num);
    } else if (cJSON_IsString(v)) {
        char lk[96];
        bool coded = key && (!strcmp(key, "texts") || !strcmp(key, "where"));   /* values with labels */
        snprintf(lk, sizeof lk, "%s.%s", coded ? key : "", v->valuestring);
        if (coded && strcmp(L(lk, de), lk)) {
            esc(b, L(lk, de));
        } else {
            hh_strbuf_str(b, strchr(v->valuestring, '\n') || strlen(v->valuestring) > 80 ? "<div class=\"text\">" : "<span>");
            esc(b, v->valuestring);
            hh_strbuf_str(b, strchr(v->valuestring, '\n') || strlen(v->valuestring) > 80 ? "</div>" : "</span>");
        }
    } else if (cJSON_IsArray(v)) {
        if (!cJSON_GetArraySize(v)) {
            hh_strbuf_str(b, "&mdash;");
            return;
        }
        hh_strbuf_str(b, "<ol>");
        const cJSON *e;
        cJSON_ArrayForEach(e, v) {
            hh_strbuf_str(b, "<li>");
            value_html(b, NULL, e, de, depth + 1);
            hh_strbuf_str(b, "</li>");
        }
        hh_strbuf_str(b, "</ol>");
    } else if (cJSON_IsObject(v)) {
        object_html(b, v, de, depth);
    }
}

static const char *const g_sections[] = { "account", "conversations", "memory", "requests", "approvals_requested",
                                          "approvals_decided", "documents", "usage", "mentions" };

static void copy_html(hh_strbuf_t *b, const char *subject, const cJSON *sections, bool de, int *id)
{
    hh_strbuf_str(b, "<h2>");
    hh_strbuf_str(b, de ? "Betroffene Person: " : "Data subject: ");
    esc(b, subject);
    hh_strbuf_str(b, "</h2>");
    for (size_t i = 0; i < sizeof g_sections / sizeof g_sections[0]; i++) {
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(sections, g_sections[i]);
        char hid[32];
        snprintf(hid, sizeof hid, "s%d", (*id)++);
        hh_strbuf_str(b, "<section aria-labelledby=\"");
        hh_strbuf_str(b, hid);
        hh_strbuf_str(b, "\"><h3 id=\"");
        hh_strbuf_str(b, hid);
        hh_strbuf_str(b, "\">");
        esc(b, L(g_sections[i], de));
        char cnt[32];
        snprintf(cnt, sizeof cnt, " (%d)", cJSON_GetArraySize(arr));
        hh_strbuf_str(b, cnt);
        hh_strbuf_str(b, "</h3>");
        if (!strcmp(g_sections[i], "mentions"))
            hh_strbuf_str(b, de ? "<p>Stellen in Dokumenten, Gesprächen, Protokollen und Freigaben, die die Person "
                                  "nennen (Textausschnitte; die Texte stammen von anderen oder aus eigenen "
                                  "Einträgen).</p>"
                                : "<p>Places in documents, conversations, logs and approvals that name the person "
                                  "(passages; the texts come from others or from the person's own entries).</p>");
        if (!cJSON_GetArraySize(arr)) {
            hh_strbuf_str(b, de ? "<p>Keine Daten.</p>" : "<p>No data.</p>");
        } else {
            hh_strbuf_str(b, "<ol class=\"items\">");
            const cJSON *e;
            cJSON_ArrayForEach(e, arr) {
                hh_strbuf_str(b, "<li>");
                value_html(b, NULL, e, de, 0);
                hh_strbuf_str(b, "</li>");
            }
            hh_strbuf_str(b, "</ol>");
        }
        hh_strbuf_str(b, "</section>");
    }
}

bool hh_gdpr_lang_ok(const char *lang)
{
    return lang && (!strcmp(lang, "de") || !strcmp(lang, "en"));
}

int hh_gdpr_access_html(const cJSON *doc, const char *lang, char **out, size_t *len, hh_err_t *err)
{
    *out = NULL;
    if (len)
        *len = 0;
    if (!lang)
        lang = "de";
    if (!hh_gdpr_lang_ok(lang))
        return hh_err_set(err, HH_EINVAL, -1, "gdpr: lang must be \"de\" or \"en\"");
    const cJSON *subj = cJSON_GetObjectItemCaseSensitive(doc, "subject");
    const cJSON *sec = cJSON_GetObjectItemCaseSensitive(doc, "sections");
    if (!cJSON_IsString(subj) || !cJSON_IsObject(sec))
        return hh_err_set(err, HH_EINVAL, -1, "gdpr: not an access copy");
    bool de = !strcmp(lang, "de");
    hh_strbuf_t b = { 0 };
    hh_strbuf_str(&b, "<!DOCTYPE html>\n<html lang=\"");
    hh_strbuf_str(&b, lang);
    hh_strbuf_str(&b, "\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">"
                      "<title>");
    hh_strbuf_str(&b, de ? "Auskunft nach Art. 15 DSGVO" : "Copy of personal data (GDPR Art. 15)");
    hh_strbuf_str(&b, "</title><style>"
                      "body{font:15px/1.45 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#111}"
                      "h1{font-size:1.6rem}h2{font-size:1.3rem;border-bottom:2px solid #333}h3{font-size:1.1rem;"
                      "margin-top:2rem}table{border-collapse:collapse;margin:.25rem 0;width:100%}th,td{border:1px "
                      "solid #bbb;padding:.2rem .4rem;text-align:left;vertical-align:top}th{width:12rem;background:"
                      "#f1f1f1;font-weight:600}.text{white-space:pre-wrap;overflow-wrap:anywhere}ol.items>li{margin:"
                      ".5rem 0}</style></head><body><h1>");
    hh_strbuf_str(&b, de ? "Auskunft nach Art. 15 DSGVO" : "Copy of personal data (GDPR Art. 15)");
    hh_strbuf_str(&b, "</h1><p>");
    hh_strbuf_str(&b, de ? "Erstellt am " : "Generated at ");
    cJSON *gen = iso_s(hit_num(doc, "generated_at"));
    if (cJSON_IsString(gen))
        esc(&b, gen->valuestring);
    cJSON_Delete(gen);
    hh_strbuf_str(&b, de ? " (UTC). Diese Auskunft enthält die gespeicherten Daten der Person: Benutzerkonto "
                           "(ohne Passwörter und Schlüssel), eigene Gespräche, Anfragen und Antworten aus dem "
                           "Audit-Protokoll, Freigaben, hochgeladene Dokumente (ohne Volltext), Nutzungszähler und "
                           "Stellen in anderen Texten, die die Person nennen.</p>"
                         : " (UTC). This copy holds the data stored about the person: account (without passwords "
                           "and keys), own conversations, requests and answers from the audit log, approvals, "
                           "uploaded documents (without their full text), usage counters, and places in other texts "
                           "that name the person.</p>");
    int id = 1;
    copy_html(&b, subj->valuestring, sec, de, &id);
    const cJSON *more;
    cJSON_ArrayForEach(more, cJSON_GetObjectItemCaseSensitive(doc, "more_subjects")) {
        const cJSON *ms = cJSON_GetObjectItemCaseSensitive(more, "subject");
        if (cJSON_IsString(ms))
            copy_html(&b, ms->valuestring, cJSON_GetObjectItemCaseSensitive(more, "sections"), de, &id);
    }
    hh_strbuf_str(&b, "</body></html>\n");
    if (b.oom) {
        free(b.p);
        return hh_err_set(err, HH_ENOMEM, -1, "gdpr: out of memory");
    }
    *out = b.p;
    if (len)
        *len = b.len;
    return 0;
}
