/* test_access_copy.c - the GDPR Art. 15 access copy (govern/gdpr.h
 * "sections", gdpr_access.c): a subject with an account, departments, two
 * API keys (one revoked), a browser session, two conversations, audited
 * requests (one under a hash-only policy), approvals requested and
 * decided, an uploaded document, usage counters, and a mention in another
 * user's document. The JSON holds each with its values and no secret; the
 * other user's data is absent; the HTML report escapes text, is German by
 * default and English with lang en; the CLI writes both files; the API
 * answers format html with text/html. */
#include "harness.h"
#include "http_helpers.h"
#include "govern/approvals.h"
#include "govern/audit.h"
#include "govern/gdpr.h"
#include "kb/ingest.h"
#include "store/store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define SUBJ  "ikramer"
#define OTHER "ottoweber"
#define OWN_DOC "# Checkliste\n\nReisekosten werden monatlich abgerechnet.\n"

/* Text column 0 of sql's first row (one text parameter arg, may be NULL)
 * as lowercase hex when hex, else as text; "" when none. */
static void q_text(hh_store_t *s, const char *sql, const char *arg, bool hex, char *out, size_t cap)
{
    sqlite3_stmt *st = NULL;
    out[0] = '\0';
    pthread_mutex_lock(&s->mu);
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) == SQLITE_OK) {
        if (arg)
            sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW) {
            const unsigned char *b = sqlite3_column_blob(st, 0);
            int n = sqlite3_column_bytes(st, 0);
            if (hex)
                for (int i = 0; b && i < n && (size_t)(2 * i + 2) < cap; i++)
                    snprintf(out + 2 * i, 3, "%02x", b[i]);
            else
                snprintf(out, cap, "%.*s", n, b ? (const char *)b : "");
        }
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static const cJSON *section(const cJSON *doc, const char *name)
{
    return cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(doc, "sections"), name);
}

/* The secrets the copy must never hold. */
typedef struct secrets {
    char key[HH_KEY_LEN + 1], key_hash[256], cookie[128], csrf[128], session_hash[80], password_hash[256];
} secrets_t;

typedef struct fixture {
    hh_test_srv_t h;
    char          admin[HH_KEY_LEN + 1];
    secrets_t     sec;
    int64_t       approval_requested, approval_decided, doc_own, doc_other;
} fixture_t;

/* The server with the subject's data (and the other user's) in its store. */
static bool setup(fixture_t *f, const char *dir)
{
    memset(f, 0, sizeof *f);
    if (hh_test_srv_start(&f->h, dir, NULL))
        return false;
    hh_store_t *st = f->h.st;
    hh_err_t err;
    hh_store_user_t subj, other;
    int64_t kid = 0;
    char other_key[HH_KEY_LEN + 1], approver_key[HH_KEY_LEN + 1];
    if (hh_test_srv_user(&f->h, "root", "admin", f->admin, NULL) ||
        hh_test_srv_user(&f->h, SUBJ, "approver", f->sec.key, &kid) ||
        hh_test_srv_user(&f->h, OTHER, "member", other_key, NULL) ||
        hh_test_srv_user(&f->h, "petra", "approver", approver_key, NULL) ||
        hh_store_user_get(st, SUBJ, &subj, &err) || hh_store_user_get(st, OTHER, &other, &err))
        return false;
    /* a second key, revoked */
    char k2[HH_KEY_LEN + 1];
    hh_store_key_t k2i;
    if (hh_store_key_create(st, subj.id, k2, sizeof k2, &k2i, &err) || hh_store_key_revoke(st, k2i.prefix, &err))
        return false;
    if (hh_store_department_ensure(st, "Personal", NULL, &err) || hh_store_department_ensure(st, "Einkauf", NULL, &err) ||
        hh_store_user_add_department(st, SUBJ, "Personal", &err) || hh_store_user_add_department(st, SUBJ, "Einkauf", &err))
        return false;
    if (hh_store_user_set_password(st, SUBJ, "correct horse battery staple", &err))
        return false;
    hh_store_session_t ses;
    if (hh_store_session_create(st, subj.id, NULL, f->sec.cookie, sizeof f->sec.cookie, &ses, &err))
        return false;
    snprintf(f->sec.csrf, sizeof f->sec.csrf, "%s", ses.csrf);
    q_text(st, "SELECT hash FROM api_keys WHERE user_id = (SELECT id FROM users WHERE name = ?) ORDER BY created_at",
           SUBJ, false, f->sec.key_hash, sizeof f->sec.key_hash);
    q_text(st, "SELECT id_hash FROM sessions WHERE user_id = (SELECT id FROM users WHERE name = ?)", SUBJ, true,
           f->sec.session_hash, sizeof f->sec.session_hash);
    q_text(st, "SELECT password_hash FROM users WHERE name = ?", SUBJ, false, f->sec.password_hash,
           sizeof f->sec.password_hash);

    /* two conversations of the subject, one of the other user */
    hh_store_conv_t c1, c2, c3;
    hh_store_conv_msg_in_t t1[2] = { { .role = "user", .content = "Wie beantrage ich Urlaub?" },
                                     { .role = "assistant", .content = "Im Portal unter Abwesenheit." } };
    hh_store_conv_msg_in_t t2[1] = { { .role = "user", .content = "Reisekosten fuer Hamburg" } };
    hh_store_conv_msg_in_t t3[1] = { { .role = "user", .content = "Geheimprojekt Nordlicht" } };
    if (hh_store_conv_create(st, subj.id, "Urlaub", NULL, &c1, &err) ||
        hh_store_conv_append(st, subj.id, c1.id, t1, 2, NULL, &err) ||
        hh_store_conv_create(st, subj.id, "Reise", NULL, &c2, &err) ||
        hh_store_conv_append(st, subj.id, c2.id, t2, 1, NULL, &err) ||
        hh_store_conv_create(st, other.id, "Nordlicht", NULL, &c3, &err) ||
        hh_store_conv_append(st, other.id, c3.id, t3, 1, NULL, &err))
        return false;

    /* audited requests: one kept, one hash-only, one of the other user */
    hh_audit_entry_t recs[3] = {
        { .kind = "request", .user = SUBJ, .use_case = "faq", .model = "stories260K",
          .prompt = "Was ist <script>alert(1)</script> im Handbuch?", .output = "Ein Beispiel fuer Markup.",
          .decision = "released" },
        { .kind = "request", .user = SUBJ, .use_case = "cv-screening", .model = "stories260K",
          .prompt = "Bewerbung Lebenslauf Vertraulich", .output = "Eignung hoch", .decision = "released",
          .hash_only = true },
        { .kind = "request", .user = OTHER, .use_case = "faq", .model = "stories260K",
          .prompt = "Budget Nordlicht Quartal", .output = "Siehe Plan.", .decision = "released" },
    };
    if (hh_audit_append_batch(st, NULL, recs, 3, NULL, &err))
        return false;

    /* approvals: the subject requests one (petra rejects it), and decides one of the other user's */
    hh_approval_t a;
    if (hh_approvals_create(st, "hr-letters", false, SUBJ, "{\"question\":\"Zeugnis entwerfen\"}", "Entwurf A",
                            &f->approval_requested, &err) ||
        hh_approvals_decide(st, NULL, f->approval_requested, "petra", HH_APPROVAL_REJECTED, NULL, "zu knapp", &a,
                            &err))
        return false;
    hh_approval_clear(&a);
    if (hh_approvals_create(st, "hr-letters", false, OTHER, "{\"question\":\"Nordlicht Vertrag\"}", "Entwurf B",
                            &f->approval_decided, &err) ||
        hh_approvals_decide(st, NULL, f->approval_decided, SUBJ, HH_APPROVAL_EDITED, "Entwurf B, gekuerzt", NULL, &a,
                            &err))
        return false;
    hh_approval_clear(&a);

    /* documents: one uploaded by the subject, one by the other user naming the subject */
    hh_store_collection_t coll;
    if (hh_store_collection_ensure(st, "handbuch", NULL, 0, &coll, &err))
        return false;
    char p1[700], p2[700];
    snprintf(p1, sizeof p1, "%s/own.md", f->h.data);
    snprintf(p2, sizeof p2, "%s/other.md", f->h.data);
    write_text(p1, OWN_DOC);
    write_text(p2, "# Protokoll Nordlicht\n\nDen Antrag hat " SUBJ " gestellt, das Budget steht.\n");
    hh_ingest_params_t ip = hh_ingest_default_params();
    hh_ingest_file_t o1, o2;
    if (hh_ingest_file(st, p1, "checkliste.md", coll.id, subj.id, &ip, &o1, &err) ||
        hh_ingest_file(st, p2, "protokoll-nordlicht.md", coll.id, other.id, &ip, &o2, &err))
        return false;
    f->doc_own = o1.doc_id;
    f->doc_other = o2.doc_id;

    /* usage counters */
    int64_t today = (int64_t)(time(NULL) / 86400);
    return hh_store_usage_add(st, today, subj.id, NULL, 0, "faq", 120, 30, &err) == 0 && f->doc_own > 0 &&
           f->doc_other > 0 && f->sec.key_hash[0] && f->sec.session_hash[0] && f->sec.password_hash[0];
}

/* No secret of the subject anywhere in text. */
static bool no_secret(const secrets_t *s, const char *text)
{
    const char *all[] = { s->key, s->key_hash, s->cookie, s->csrf, s->session_hash, s->password_hash, "$argon2" };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (!all[i][0] || strstr(text, all[i])) {
            fprintf(stderr, "    secret %zu (%s) %s\n", i, all[i], all[i][0] ? "found" : "empty");
            return false;
        }
    return true;
}

static const cJSON *find_by(const cJSON *arr, const char *key, const char *val)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, arr)
        if (!strcmp(hh_test_json_str(e, key), val))
            return e;
    return NULL;
}

TEST(access_copy_sections)
{
    fixture_t f;
    ASSERT_TRUE(setup(&f, "access-sections"));
    hh_store_t *st = f.h.st;
    hh_err_t err;
    const char *subj[1] = { SUBJ };
    cJSON *doc = NULL;
    ASSERT_OK(hh_gdpr_export(st, subj, 1, "root", &doc, &err));
    char *text = cJSON_Print(doc);
    ASSERT_TRUE(text != NULL);
    ASSERT_STREQ(hh_test_json_str(doc, "object"), "gdpr.access_copy");
    ASSERT_STREQ(hh_test_json_str(doc, "subject"), SUBJ);
    ASSERT_TRUE(cJSON_IsNumber(cJSON_GetObjectItem(doc, "generated_at")));
    ASSERT_TRUE(cJSON_IsArray(cJSON_GetObjectItem(doc, "hits")));   /* the old fields stay */

    /* account: values, keys and sessions without secrets */
    const cJSON *acc = section(doc, "account");
    ASSERT_EQ_INT(cJSON_GetArraySize(acc), 1);
    const cJSON *a = cJSON_GetArrayItem(acc, 0);
    ASSERT_STREQ(hh_test_json_str(a, "name"), SUBJ);
    ASSERT_STREQ(hh_test_json_str(a, "role"), "approver");
    const cJSON *deps = cJSON_GetObjectItem(a, "departments");
    ASSERT_EQ_INT(cJSON_GetArraySize(deps), 2);
    ASSERT_STREQ(cJSON_GetArrayItem(deps, 0)->valuestring, "Einkauf");
    ASSERT_STREQ(cJSON_GetArrayItem(deps, 1)->valuestring, "Personal");
    ASSERT_TRUE(cJSON_IsFalse(cJSON_GetObjectItem(a, "disabled")));
    ASSERT_TRUE(cJSON_IsTrue(cJSON_GetObjectItem(a, "has_password")));
    ASSERT_EQ_INT(strlen(hh_test_json_str(a, "created_at")), 20);   /* 2026-12-07T17:53:00Z */
    ASSERT_EQ_INT(strlen(hh_test_json_str(a, "last_login_at")), 20);
    const cJSON *keys = cJSON_GetObjectItem(a, "api_keys");
    ASSERT_EQ_INT(cJSON_GetArraySize(keys), 2);
    char prefix[HH_KEY_PREFIX_LEN + 1];
    snprintf(prefix, sizeof prefix, "%.*s", HH_KEY_PREFIX_LEN, f.sec.key);
    const cJSON *k0 = find_by(keys, "prefix", prefix);
    ASSERT_TRUE(k0 != NULL);
    ASSERT_TRUE(cJSON_IsNull(cJSON_GetObjectItem(k0, "revoked_at")));
    int revoked = 0;
    const cJSON *k;
    cJSON_ArrayForEach(k, keys) {
        revoked += cJSON_IsString(cJSON_GetObjectItem(k, "revoked_at"));
        ASSERT_EQ_INT(cJSON_GetArraySize(k), 4);   /* prefix, created_at, last_used_at, revoked_at: nothing else */
    }
    ASSERT_EQ_INT(revoked, 1);
    const cJSON *ses = cJSON_GetObjectItem(a, "sessions");
    ASSERT_EQ_INT(cJSON_GetArraySize(ses), 1);
    ASSERT_EQ_INT(cJSON_GetArraySize(cJSON_GetArrayItem(ses, 0)), 3);   /* created_at, expires_at, last_seen_at */
    ASSERT_EQ_INT(strlen(hh_test_json_str(cJSON_GetArrayItem(ses, 0), "expires_at")), 20);
    ASSERT_TRUE(no_secret(&f.sec, text));

    /* conversations: both of the subject's, whole; the other user's absent */
    const cJSON *conv = section(doc, "conversations");
    ASSERT_EQ_INT(cJSON_GetArraySize(conv), 2);
    const cJSON *urlaub = find_by(conv, "title", "Urlaub");
    ASSERT_TRUE(urlaub != NULL && find_by(conv, "title", "Reise") != NULL);
    const cJSON *msgs = cJSON_GetObjectItem(urlaub, "messages");
    ASSERT_EQ_INT(cJSON_GetArraySize(msgs), 2);
    ASSERT_STREQ(hh_test_json_str(cJSON_GetArrayItem(msgs, 1), "content"), "Im Portal unter Abwesenheit.");
    ASSERT_EQ_INT(strlen(hh_test_json_str(cJSON_GetArrayItem(msgs, 1), "created_at")), 20);
    ASSERT_TRUE(strstr(text, "Nordlicht\"") == NULL && strstr(text, "Geheimprojekt") == NULL);

    /* requests: the kept texts, the hash-only one marked and without text */
    const cJSON *req = section(doc, "requests");
    const cJSON *faq = find_by(req, "use_case", "faq"), *cv = find_by(req, "use_case", "cv-screening");
    ASSERT_TRUE(faq != NULL && cv != NULL);
    ASSERT_STREQ(hh_test_json_str(faq, "texts"), "kept");
    ASSERT_STREQ(hh_test_json_str(faq, "prompt"), "Was ist <script>alert(1)</script> im Handbuch?");
    ASSERT_STREQ(hh_test_json_str(faq, "output"), "Ein Beispiel fuer Markup.");
    ASSERT_STREQ(hh_test_json_str(faq, "model"), "stories260K");
    ASSERT_STREQ(hh_test_json_str(faq, "decision"), "released");
    ASSERT_STREQ(hh_test_json_str(faq, "kind"), "request");
    ASSERT_EQ_INT(strlen(hh_test_json_str(faq, "time")), 20);
    ASSERT_STREQ(hh_test_json_str(cv, "texts"), "hash_only");
    ASSERT_TRUE(cJSON_IsNull(cJSON_GetObjectItem(cv, "prompt")) && cJSON_IsNull(cJSON_GetObjectItem(cv, "output")));
    ASSERT_TRUE(strstr(text, "Bewerbung Lebenslauf") == NULL);
    /* the approval decided by the subject is audited under their name too */
    const cJSON *r;
    int n_req = 0;
    cJSON_ArrayForEach(r, req) {
        n_req++;
        ASSERT_TRUE(strcmp(hh_test_json_str(r, "prompt"), "Budget Nordlicht Quartal") != 0);
    }
    ASSERT_EQ_INT(n_req, 3);   /* faq, cv-screening, the "approval" record of the decision */
    ASSERT_TRUE(find_by(req, "kind", "approval") != NULL);
    ASSERT_STREQ(hh_test_json_str(find_by(req, "kind", "approval"), "decision"), "edited");

    /* approvals */
    const cJSON *apr = section(doc, "approvals_requested"), *apd = section(doc, "approvals_decided");
    ASSERT_EQ_INT(cJSON_GetArraySize(apr), 1);
    ASSERT_EQ_INT(cJSON_GetArraySize(apd), 1);
    const cJSON *ar = cJSON_GetArrayItem(apr, 0), *ad = cJSON_GetArrayItem(apd, 0);
    ASSERT_EQ_INT(cJSON_GetObjectItem(ar, "approval_id")->valuedouble, f.approval_requested);
    ASSERT_STREQ(hh_test_json_str(ar, "status"), "rejected");
    ASSERT_STREQ(hh_test_json_str(ar, "reason"), "zu knapp");
    ASSERT_STREQ(hh_test_json_str(ar, "output"), "Entwurf A");
    ASSERT_TRUE(strstr(hh_test_json_str(ar, "request"), "Zeugnis entwerfen") != NULL);
    ASSERT_EQ_INT(cJSON_GetObjectItem(ad, "approval_id")->valuedouble, f.approval_decided);
    ASSERT_STREQ(hh_test_json_str(ad, "status"), "edited");
    ASSERT_STREQ(hh_test_json_str(ad, "final_text"), "Entwurf B, gekuerzt");
    ASSERT_TRUE(cJSON_GetObjectItem(ad, "request") == NULL);   /* the requester's text is not theirs */
    ASSERT_TRUE(strstr(text, "Nordlicht Vertrag") == NULL);

    /* documents: the own upload (metadata, not the text) */
    const cJSON *docs = section(doc, "documents");
    ASSERT_EQ_INT(cJSON_GetArraySize(docs), 1);
    const cJSON *d = cJSON_GetArrayItem(docs, 0);
    ASSERT_EQ_INT(cJSON_GetObjectItem(d, "document_id")->valuedouble, f.doc_own);
    ASSERT_STREQ(hh_test_json_str(d, "collection"), "handbuch");
    ASSERT_STREQ(hh_test_json_str(d, "source_path"), "checkliste.md");
    ASSERT_EQ_INT(cJSON_GetObjectItem(d, "size")->valuedouble, strlen(OWN_DOC));
    ASSERT_EQ_INT(strlen(hh_test_json_str(d, "uploaded_at")), 20);
    ASSERT_TRUE(strstr(text, "monatlich abgerechnet") == NULL);

    /* usage */
    const cJSON *use = section(doc, "usage");
    ASSERT_EQ_INT(cJSON_GetArraySize(use), 1);
    ASSERT_EQ_INT(cJSON_GetObjectItem(cJSON_GetArrayItem(use, 0), "prompt_tokens")->valuedouble, 120);
    ASSERT_EQ_INT(cJSON_GetObjectItem(cJSON_GetArrayItem(use, 0), "completion_tokens")->valuedouble, 30);

    /* mentions: the other user's document naming the subject, as passages */
    const cJSON *men = section(doc, "mentions");
    const cJSON *chunk = find_by(men, "where", "chunk.text");
    ASSERT_TRUE(chunk != NULL);
    ASSERT_EQ_INT(cJSON_GetObjectItem(chunk, "document_id")->valuedouble, f.doc_other);
    ASSERT_TRUE(strstr(hh_test_json_str(chunk, "context"), "Den Antrag hat " SUBJ " gestellt") != NULL);
    ASSERT_TRUE(find_by(men, "where", "user") == NULL && find_by(men, "where", "conversation") == NULL);
    ASSERT_TRUE(find_by(men, "where", "audit.user") == NULL);   /* their own records are "requests" */
    ASSERT_TRUE(find_by(men, "where", "approval") != NULL);     /* the queue row naming them stays a mention */
    free(text);
    cJSON_Delete(doc);

    /* another subject's copy holds none of this subject's data */
    const char *other[1] = { OTHER };
    ASSERT_OK(hh_gdpr_export(st, other, 1, "root", &doc, &err));
    text = cJSON_Print(doc);
    ASSERT_TRUE(text && strstr(text, "Urlaub") == NULL && strstr(text, "Im Portal") == NULL &&
                strstr(text, "<script>") == NULL && strstr(text, "zu knapp") == NULL && no_secret(&f.sec, text));
    ASSERT_EQ_INT(cJSON_GetArraySize(section(doc, "conversations")), 1);
    ASSERT_EQ_INT(cJSON_GetArraySize(section(doc, "documents")), 1);
    free(text);
    cJSON_Delete(doc);
    hh_test_srv_stop(&f.h);
}

/* The section headings of the HTML report in one language. */
static const char *const g_de[] = { "Benutzerkonto", "Eigene Gespräche", "Anfragen und Antworten", "Beantragte Freigaben",
                                    "Entschiedene Freigaben", "Hochgeladene Dokumente", "Nutzung",
                                    "Erwähnungen in anderen Texten" };
static const char *const g_en[] = { "Account", "Own conversations", "Requests and answers", "Approvals requested",
                                    "Approvals decided", "Uploaded documents", "Usage", "Mentions in other texts" };

static bool headings(const char *html, const char *const *h)
{
    for (int i = 0; i < 8; i++) {
        char want[128];
        snprintf(want, sizeof want, "\">%s", h[i]);   /* <h3 id="sN">Heading (n)</h3> */
        if (!strstr(html, want)) {
            fprintf(stderr, "    heading missing: %s\n", h[i]);
            return false;
        }
    }
    return true;
}

TEST(access_copy_html_cli_api)
{
    fixture_t f;
    ASSERT_TRUE(setup(&f, "access-html"));
    hh_err_t err;
    const char *subj[1] = { SUBJ };
    cJSON *doc = NULL;
    ASSERT_OK(hh_gdpr_export(f.h.st, subj, 1, "root", &doc, &err));
    char *de = NULL, *en = NULL;
    ASSERT_OK(hh_gdpr_access_html(doc, NULL, &de, NULL, &err));
    ASSERT_OK(hh_gdpr_access_html(doc, "en", &en, NULL, &err));
    char *fr = NULL;
    ASSERT_EQ_INT(hh_gdpr_access_html(doc, "fr", &fr, NULL, &err), HH_EINVAL);
    ASSERT_TRUE(fr == NULL);
    cJSON_Delete(doc);
    /* German by default, English with en; every section heading */
    ASSERT_TRUE(strstr(de, "<html lang=\"de\">") != NULL && strstr(de, "Auskunft nach Art. 15 DSGVO") != NULL);
    ASSERT_TRUE(strstr(en, "<html lang=\"en\">") != NULL && strstr(en, "Copy of personal data (GDPR Art. 15)") != NULL);
    ASSERT_TRUE(headings(de, g_de));
    ASSERT_TRUE(headings(en, g_en));
    ASSERT_TRUE(strstr(de, "Auskunft") && !strstr(en, "Auskunft"));
    /* escaped, no script of any kind, nothing loaded from elsewhere */
    ASSERT_TRUE(strstr(de, "Was ist &lt;script&gt;alert(1)&lt;/script&gt; im Handbuch?") != NULL);
    ASSERT_TRUE(strstr(de, "<script") == NULL && strstr(en, "<script") == NULL);
    ASSERT_TRUE(strstr(de, "src=") == NULL && strstr(de, "href=") == NULL && strstr(de, "@import") == NULL);
    /* the hash-only request says so */
    ASSERT_TRUE(strstr(de, "nur als Hash (SHA-256) gespeichert") != NULL);
    ASSERT_TRUE(strstr(en, "kept as hash (SHA-256) only") != NULL);
    ASSERT_TRUE(no_secret(&f.sec, de) && no_secret(&f.sec, en));
    free(de);
    free(en);

    /* the API: JSON by default, the report with format html, lang checked */
    char body[256];
    hh_test_resp_t r;
    snprintf(body, sizeof body, "{\"subjects\":[\"%s\"]}", SUBJ);
    ASSERT_OK(hh_test_http(f.h.port, "POST", "/api/gdpr/export", f.admin, body, &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_STREQ(hh_test_json_str(r.j, "object"), "gdpr.access_copy");
    ASSERT_EQ_INT(cJSON_GetArraySize(section(r.j, "conversations")), 2);
    ASSERT_TRUE(no_secret(&f.sec, r.body));
    hh_test_resp_free(&r);
    snprintf(body, sizeof body, "{\"subjects\":[\"%s\"],\"format\":\"html\",\"lang\":\"en\"}", SUBJ);
    ASSERT_OK(hh_test_http(f.h.port, "POST", "/api/gdpr/export", f.admin, body, &r));
    ASSERT_EQ_INT(r.status, 200);
    char ct[128], csp[256];
    ASSERT_STREQ(hh_test_resp_header(&r, "Content-Type", ct, sizeof ct), "text/html; charset=utf-8");
    ASSERT_TRUE(strstr(hh_test_resp_header(&r, "Content-Security-Policy", csp, sizeof csp), "sandbox") != NULL);
    ASSERT_TRUE(r.j == NULL && headings(r.body, g_en) && strstr(r.body, "&lt;script&gt;") != NULL);
    ASSERT_TRUE(no_secret(&f.sec, r.body));
    hh_test_resp_free(&r);
    snprintf(body, sizeof body, "{\"subjects\":[\"%s\"],\"format\":\"html\"}", SUBJ);
    ASSERT_OK(hh_test_http(f.h.port, "POST", "/api/gdpr/export", f.admin, body, &r));
    ASSERT_TRUE(r.status == 200 && headings(r.body, g_de));
    hh_test_resp_free(&r);
    snprintf(body, sizeof body, "{\"subjects\":[\"%s\"],\"format\":\"pdf\"}", SUBJ);
    ASSERT_OK(hh_test_http(f.h.port, "POST", "/api/gdpr/export", f.admin, body, &r));
    ASSERT_EQ_INT(r.status, 400);
    ASSERT_STREQ(hh_test_resp_err_code(&r), "invalid_format");
    hh_test_resp_free(&r);
    snprintf(body, sizeof body, "{\"subjects\":[\"%s\"],\"lang\":\"fr\"}", SUBJ);
    ASSERT_OK(hh_test_http(f.h.port, "POST", "/api/gdpr/export", f.admin, body, &r));
    ASSERT_EQ_INT(r.status, 400);
    ASSERT_STREQ(hh_test_resp_err_code(&r), "invalid_lang");
    hh_test_resp_free(&r);

    /* the CLI writes both files into --out DIR */
    char data[512];
    snprintf(data, sizeof data, "%s", f.h.data);
    hh_test_srv_stop(&f.h);
    char args[2048], out[600], path[700];
    snprintf(out, sizeof out, "%s/copy/", data);
    snprintf(args, sizeof args, "gdpr export --subject %s --lang en --out '%s' --data '%s'", SUBJ, out, data);
    ASSERT_EQ_INT(hh_test_run_cli(args, NULL, false, NULL, 0), 0);
    snprintf(path, sizeof path, "%s/copy/access-copy.json", data);
    size_t n = 0;
    char *json = hh_test_read_file(path, &n);
    ASSERT_TRUE(json != NULL);
    cJSON *j = cJSON_Parse(json);
    ASSERT_STREQ(hh_test_json_str(j, "object"), "gdpr.access_copy");
    ASSERT_EQ_INT(cJSON_GetArraySize(section(j, "approvals_requested")), 1);
    ASSERT_TRUE(no_secret(&f.sec, json));
    cJSON_Delete(j);
    free(json);
    snprintf(path, sizeof path, "%s/copy/access-copy.html", data);
    struct stat sb;
    ASSERT_EQ_INT(stat(path, &sb), 0);
    ASSERT_EQ_INT(sb.st_mode & 0777, 0600);
    char *html = hh_test_read_file(path, &n);
    ASSERT_TRUE(html != NULL && headings(html, g_en) && no_secret(&f.sec, html));
    free(html);
    /* the same directory again, German; a bad language is refused */
    snprintf(args, sizeof args, "gdpr export --subject %s --out '%s/copy' --data '%s'", SUBJ, data, data);
    ASSERT_EQ_INT(hh_test_run_cli(args, NULL, false, NULL, 0), 0);
    html = hh_test_read_file(path, &n);
    ASSERT_TRUE(html != NULL && headings(html, g_de));
    free(html);
    snprintf(args, sizeof args, "gdpr export --subject %s --lang fr --out '%s/copy' --data '%s'", SUBJ, data, data);
    ASSERT_EQ_INT(hh_test_run_cli(args, NULL, false, NULL, 0), 2);
}
