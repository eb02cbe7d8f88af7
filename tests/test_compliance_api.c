/* test_compliance_api.c - the compliance routes of a running server, over
 * real HTTP against an in-process server (src/http/compliance.c): role
 * checks (member 403, auditor verifies and exports the audit log but may
 * not erase, admin may all; a cookie session without the CSRF token is
 * refused), data-subject export finds the subject's document and audit
 * record, erasure takes the subject out of search results, out of the live
 * vector index (bert embeddings: dense search no longer returns the erased
 * chunk) and out of the engine's prefix cache (stories260K: a repeated
 * prompt reuses no cached tokens), the audit log verifies through the API
 * and as exported JSONL; the sweep route and the periodic sweeper delete an
 * expired document (and its vectors). */
#include "harness.h"
#include "http_helpers.h"
#include "govern/audit.h"
#include "govern/gdpr.h"
#include "http/server.h"
#include "store/store_int.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define EMAIL "erika.mustermann@example.com"
#define NAME  "Erika Mustermann"

/* ---- helpers ------------------------------------------------------------ */

typedef struct cp_srv {
    hh_test_srv_t srv;
    char          admin[HH_KEY_LEN + 1], member[HH_KEY_LEN + 1], auditor[HH_KEY_LEN + 1];
} cp_srv_t;

/* A server on a fresh data dir <tmp>/compliance-<name>; bert (dense
 * retrieval) and stories260K (generation) in its models dir when asked; a
 * retention sweep every sweep_s seconds (0: none); users root (admin), mia
 * (member), aud (auditor); collection "hr" (admins only). */
static bool srv_start(cp_srv_t *t, const char *name, bool bert, bool stories, int sweep_s)
{
    memset(t, 0, sizeof *t);
    hh_test_srv_params_t p = hh_test_srv_default_params();
    int m = 0;
    memset(p.models, 0, sizeof p.models);
    if (bert)
        p.models[m++] = "reference/bert-q8_0.gguf";
    if (stories)
        p.models[m++] = "models/stories260K.gguf";
    p.http = hh_http_default_params();
    p.http.embed_model = bert ? "bert-q8_0" : "none";
    p.http.engine.n_slots = 1;
    p.http.engine.n_threads = 2;
    p.http.retention_interval_s = sweep_s;
    char dir[128];
    snprintf(dir, sizeof dir, "compliance-%s", name);
    if (hh_test_srv_start(&t->srv, dir, &p) != 0)
        return false;
    hh_err_t err;
    return hh_test_srv_user(&t->srv, "root", "admin", t->admin, NULL) == 0 &&
           hh_test_srv_user(&t->srv, "mia", "member", t->member, NULL) == 0 &&
           hh_test_srv_user(&t->srv, "aud", "auditor", t->auditor, NULL) == 0 &&
           hh_store_collection_ensure(t->srv.st, "hr", NULL, 0, NULL, &err) == 0;
}

static bool get(const cp_srv_t *t, const char *path, const char *key, hh_test_resp_t *r)
{
    return hh_test_http(t->srv.port, "GET", path, key, NULL, r) == 0;
}

static bool post(const cp_srv_t *t, const char *path, const char *key, const char *body, hh_test_resp_t *r)
{
    return hh_test_http(t->srv.port, "POST", path, key, body, r) == 0;
}

/* A request with extra header lines hdr (a session cookie, a CSRF token). */
static bool http_hdr(const cp_srv_t *t, const char *method, const char *path, const char *hdr, const char *body,
                     hh_test_resp_t *r)
{
    hh_test_req_t q = { .method = method, .path = path, .headers = hdr, .body = body };
    return hh_test_http_req(t->srv.port, &q, r) == 0;
}

static double num_of(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

static const char *err_type(const hh_test_resp_t *r)
{
    return hh_test_json_str(cJSON_GetObjectItemCaseSensitive(r->j, "error"), "type");
}

/* POST /api/documents (multipart) of one text file into coll as key;
 * returns the status (or a negative HH_E* code), *doc_id and *chunks. */
static int upload(const cp_srv_t *t, const char *key, const char *coll, const char *name, const char *text,
                  double *doc_id, double *chunks)
{
    hh_test_resp_t r;
    int rc = hh_test_http_upload(t->srv.port, key, coll, name, text, &r);
    if (rc != 0)
        return rc;
    *doc_id = num_of(r.j, "id");
    *chunks = num_of(r.j, "chunks");
    rc = r.status;
    hh_test_resp_free(&r);
    return rc;
}

/* POST /api/ask {question, retrieval: mode, k: 10} as key. */
static bool ask(const cp_srv_t *t, const char *key, const char *question, const char *mode, hh_test_resp_t *r)
{
    cJSON *b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "question", question);
    cJSON_AddStringToObject(b, "retrieval", mode);
    cJSON_AddNumberToObject(b, "k", 10);
    char *body = cJSON_PrintUnformatted(b);
    cJSON_Delete(b);
    bool ok = body && post(t, "/api/ask", key, body, r);
    cJSON_free(body);
    return ok;
}

/* Whether an /api/ask answer has a source with chunk_id (or, chunk_id < 0,
 * a quote containing needle); *first: the first source's chunk id. */
static bool sources_have(const cJSON *j, double chunk_id, const char *needle, double *first)
{
    const cJSON *it;
    bool found = false;
    *first = -1;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(j, "sources")) {
        if (*first < 0)
            *first = num_of(it, "chunk_id");
        if (chunk_id >= 0 ? num_of(it, "chunk_id") == chunk_id : strstr(hh_test_json_str(it, "quote"), needle) != NULL)
            found = true;
    }
    return found;
}

static long long q_int(hh_store_t *s, const char *sql)
{
    sqlite3_stmt *st = NULL;
    long long v = -1;
    pthread_mutex_lock(&s->mu);
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    return v;
}

static int q_exec(hh_store_t *s, const char *sql)
{
    pthread_mutex_lock(&s->mu);
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* The completion's usage.prompt_tokens_details.cached_tokens (-1: none). */
static double cached_tokens(const hh_test_resp_t *r)
{
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(r->j, "usage");
    return num_of(cJSON_GetObjectItemCaseSensitive(u, "prompt_tokens_details"), "cached_tokens");
}

#define COMPLETION                                                                                                \
    "{\"model\":\"stories260K\",\"max_tokens\":4,\"temperature\":0,"                                              \
    "\"prompt\":\"Once upon a time " NAME " wrote to " EMAIL " about the contract\"}"

static const char *g_contract =
    "# Contract\n\nThe employment contract of " NAME " (" EMAIL ") starts in March with six months probation.\n\n"
    "# Holidays\n\nThe holiday plan of the team is decided every January by the works council.\n";
static const char *g_other = "# Canteen\n\nThe canteen serves lentil soup on Fridays and fish on Thursdays.\n";

/* ---- roles ------------------------------------------------------------- */

TEST(compliance_api_roles)
{
    cp_srv_t t;
    ASSERT_TRUE(srv_start(&t, "roles", false, false, 0));
    static const struct { const char *method, *path, *body; bool auditor_ok; } routes[] = {
        { "POST", "/api/gdpr/export", "{\"subjects\":[\"" EMAIL "\"]}", false },
        { "POST", "/api/gdpr/erase", "{\"subjects\":[\"nobody@example.com\"],\"confirm\":true}", false },
        { "POST", "/api/retention/sweep", NULL, false },
        { "GET", "/api/audit/verify", NULL, true },
        { "GET", "/api/audit/export", NULL, true },
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        const char *keys[3] = { t.member, t.auditor, t.admin };
        for (int k = 0; k < 3; k++) {
            hh_test_resp_t r;
            const char *b = routes[i].body;
            ASSERT_OK(hh_test_http(t.srv.port, routes[i].method, routes[i].path, keys[k], b, &r));
            int want = k == 2 || (k == 1 && routes[i].auditor_ok) ? 200 : 403;
            if (r.status != want)
                printf("    %s %s as %s: %d %s\n", routes[i].method, routes[i].path, k == 0 ? "member" : k == 1 ?
                       "auditor" : "admin", r.status, r.body);
            ASSERT_EQ_INT(r.status, want);
            if (want == 403) {
                ASSERT_STREQ(err_type(&r), "permission_error");
                ASSERT_STREQ(hh_test_resp_err_code(&r), "forbidden");
            }
            hh_test_resp_free(&r);
        }
    }
    /* bad bodies */
    hh_test_resp_t r;
    ASSERT_TRUE(post(&t, "/api/gdpr/erase", t.admin, "{\"subjects\":[\"" EMAIL "\"]}", &r));
    ASSERT_EQ_INT(r.status, 400);
    ASSERT_STREQ(hh_test_resp_err_code(&r), "confirm_required");
    hh_test_resp_free(&r);
    ASSERT_TRUE(post(&t, "/api/gdpr/erase", t.admin, "{\"subjects\":[\"" EMAIL "\"],\"confirm\":\"yes\"}", &r));
    ASSERT_EQ_INT(r.status, 400);
    ASSERT_STREQ(hh_test_resp_err_code(&r), "confirm_required");
    hh_test_resp_free(&r);
    static const char *const bad[] = { "{}", "{\"subjects\":[]}", "{\"subjects\":[\"ab\"]}", "{\"subjects\":[1]}",
                                       "{\"subjects\":\"" EMAIL "\"}", "[1]" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ASSERT_TRUE(post(&t, "/api/gdpr/export", t.admin, bad[i], &r));
        if (r.status != 400)
            printf("    body %s: %d\n", bad[i], r.status);
        ASSERT_EQ_INT(r.status, 400);
        ASSERT_STREQ(hh_test_resp_err_code(&r), "invalid_subjects");
        hh_test_resp_free(&r);
    }
    ASSERT_TRUE(get(&t, "/api/audit/export?from=0", t.auditor, &r));
    ASSERT_EQ_INT(r.status, 400);
    ASSERT_STREQ(hh_test_resp_err_code(&r), "invalid_from");
    hh_test_resp_free(&r);
    ASSERT_TRUE(get(&t, "/api/audit/export?from=x1", t.auditor, &r));
    ASSERT_EQ_INT(r.status, 400);
    hh_test_resp_free(&r);

    /* a browser session: state-changing routes need the CSRF token */
    hh_err_t err;
    ASSERT_OK(hh_store_user_set_password(t.srv.st, "root", "admin password 2026", &err));
    ASSERT_TRUE(post(&t, "/api/login", NULL, "{\"username\":\"root\",\"password\":\"admin password 2026\"}", &r));
    ASSERT_EQ_INT(r.status, 200);
    char csrf[HH_SESSION_TOKEN_LEN + 1], cookie[HH_SESSION_TOKEN_LEN + 64] = "";
    snprintf(csrf, sizeof csrf, "%s", hh_test_json_str(r.j, "csrf_token"));
    const char *sc = strcasestr(r.headers, "Set-Cookie: hoheit_session=");
    ASSERT_TRUE(sc != NULL);
    sc += strlen("Set-Cookie: hoheit_session=");
    snprintf(cookie, sizeof cookie, "%.*s", (int)strcspn(sc, ";\r\n"), sc);
    hh_test_resp_free(&r);
    ASSERT_GE(strlen(cookie), 16);
    char hdr[512];
    snprintf(hdr, sizeof hdr, "Cookie: hoheit_session=%s\r\n", cookie);
    const char *sweep_body = NULL;   /* the route takes no body */
    ASSERT_TRUE(http_hdr(&t, "POST", "/api/retention/sweep", hdr, sweep_body, &r));
    ASSERT_EQ_INT(r.status, 403);
    ASSERT_STREQ(hh_test_resp_err_code(&r), "csrf_failed");
    hh_test_resp_free(&r);
    const char *erase_body = "{\"subjects\":[\"nobody@example.com\"],\"confirm\":true}";
    ASSERT_TRUE(http_hdr(&t, "POST", "/api/gdpr/erase", hdr, erase_body, &r));
    ASSERT_EQ_INT(r.status, 403);
    ASSERT_STREQ(hh_test_resp_err_code(&r), "csrf_failed");
    hh_test_resp_free(&r);
    snprintf(hdr, sizeof hdr, "Cookie: hoheit_session=%s\r\nX-CSRF-Token: %s\r\n", cookie, csrf);
    ASSERT_TRUE(http_hdr(&t, "POST", "/api/retention/sweep", hdr, sweep_body, &r));
    ASSERT_EQ_INT(r.status, 200);
    hh_test_resp_free(&r);
    /* reads need no token */
    snprintf(hdr, sizeof hdr, "Cookie: hoheit_session=%s\r\n", cookie);
    ASSERT_TRUE(http_hdr(&t, "GET", "/api/audit/verify", hdr, NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_TRUE(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r.j, "ok")));
    hh_test_resp_free(&r);
    hh_test_srv_stop(&t.srv);
}

/* ---- export, erasure, audit ------------------------------------------------ */

TEST(compliance_api_erase_reaches_server_memory)
{
    cp_srv_t t;
    ASSERT_TRUE(srv_start(&t, "erase", true, true, 0));
    double doc = 0, chunks = 0, other = 0, other_chunks = 0;
    ASSERT_EQ_INT(upload(&t, t.admin, "hr", "contract.md", g_contract, &doc, &chunks), 201);
    ASSERT_EQ_INT(upload(&t, t.admin, "hr", "canteen.md", g_other, &other, &other_chunks), 201);
    ASSERT_GE(chunks, 1);
    ASSERT_GE(other_chunks, 1);

    /* the subject's chunk: BM25 finds it; dense search with its own text
     * ranks it first (its vector is in the live index) */
    hh_test_resp_t r;
    double first = -1;
    ASSERT_TRUE(ask(&t, t.admin, "Mustermann contract", "bm25", &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_TRUE(sources_have(r.j, -1, "Mustermann", &first));
    const cJSON *s0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r.j, "sources"), 0);
    char *chunk_text = strdup(hh_test_json_str(s0, "quote"));
    double chunk_id = num_of(s0, "chunk_id");
    hh_test_resp_free(&r);
    ASSERT_TRUE(chunk_text && strstr(chunk_text, EMAIL) != NULL);
    ASSERT_TRUE(ask(&t, t.admin, chunk_text, "dense", &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_TRUE(sources_have(r.j, chunk_id, NULL, &first));
    ASSERT_EQ_INT(first, chunk_id);
    hh_test_resp_free(&r);

    /* the prompt cache: the same prompt twice reuses cached tokens; the
     * subject herself asks (her address is her user name) */
    hh_store_user_t her;
    char her_key[HH_KEY_LEN + 1];
    hh_err_t err;
    ASSERT_OK(hh_store_user_ensure(t.srv.st, EMAIL, "member", &her, NULL, &err));
    ASSERT_OK(hh_store_key_create(t.srv.st, her.id, her_key, sizeof her_key, NULL, &err));
    ASSERT_TRUE(post(&t, "/v1/completions", her_key, COMPLETION, &r));
    ASSERT_EQ_INT(r.status, 200);
    hh_test_resp_free(&r);
    ASSERT_TRUE(post(&t, "/v1/completions", her_key, COMPLETION, &r));
    ASSERT_EQ_INT(r.status, 200);
    double cached_before = cached_tokens(&r);
    hh_test_resp_free(&r);
    ASSERT_GE(cached_before, 5);
    /* the prefix cache is per user (issue 12): the member reuses nothing of
     * hers, then his own; his is what the erasure below must drop */
    ASSERT_TRUE(post(&t, "/v1/completions", t.member, COMPLETION, &r));
    ASSERT_EQ_INT(cached_tokens(&r), 0);
    hh_test_resp_free(&r);
    ASSERT_TRUE(post(&t, "/v1/completions", t.member, COMPLETION, &r));
    ASSERT_EQ_INT(cached_tokens(&r), cached_before);
    hh_test_resp_free(&r);

    /* export: the document's chunk and the audited completion prompt */
    const char *subjects = "{\"subjects\":[\"" EMAIL "\",\"" NAME "\"]}";
    ASSERT_TRUE(post(&t, "/api/gdpr/export", t.admin, subjects, &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_GE(hh_test_count_hits(r.j, "chunk.text", doc), 2);      /* both subjects in the contract chunk */
    ASSERT_EQ_INT(hh_test_count_hits(r.j, "chunk.text", other), 0);
    ASSERT_GE(hh_test_count_hits(r.j, "file", doc), 2);
    ASSERT_EQ_INT(hh_test_count_hits(r.j, "audit.user", -1), 2);    /* her two completions */
    ASSERT_EQ_INT(hh_test_count_hits(r.j, "user", -1), 1);
    ASSERT_EQ_INT(num_of(r.j, "n_hits"), cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r.j, "hits")));
    hh_test_resp_free(&r);
    long long vec_before = q_int(t.srv.st, "SELECT count(*) FROM chunk_vectors");
    ASSERT_EQ_INT(vec_before, chunks + other_chunks);

    /* erase */
    char body[256];
    snprintf(body, sizeof body, "{\"subjects\":[\"%s\",\"%s\"],\"confirm\":true}", EMAIL, NAME);
    ASSERT_TRUE(post(&t, "/api/gdpr/erase", t.admin, body, &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_TRUE(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r.j, "erased")));
    ASSERT_GE(num_of(r.j, "chunks"), 2);
    ASSERT_GE(num_of(r.j, "vectors"), 1);
    ASSERT_EQ_INT(num_of(r.j, "documents"), 1);
    ASSERT_GE(num_of(r.j, "audit_texts"), 2);
    ASSERT_EQ_INT(num_of(r.j, "users"), 1);
    /* what left the store's vectors left the live index, nothing else */
    long long vec_after = q_int(t.srv.st, "SELECT count(*) FROM chunk_vectors");
    ASSERT_EQ_INT(num_of(r.j, "index_vectors_removed"), vec_before - vec_after);
    ASSERT_EQ_INT(num_of(r.j, "vectors"), vec_before - vec_after);
    ASSERT_TRUE(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r.j, "caches_dropped")));
    hh_test_resp_free(&r);

    /* search: neither string in BM25 results, documents, nor dense results */
    static const char *const needles[] = { EMAIL, NAME, "Mustermann" };
    for (size_t i = 0; i < 3; i++) {
        ASSERT_TRUE(ask(&t, t.admin, needles[i], "bm25", &r));
        ASSERT_EQ_INT(r.status, 200);
        ASSERT_FALSE(sources_have(r.j, -1, "Mustermann", &first));
        ASSERT_TRUE(strstr(r.body, "Mustermann") == NULL);
        hh_test_resp_free(&r);
    }
    ASSERT_TRUE(get(&t, "/api/documents", t.admin, &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r.j, "data")), 2);
    ASSERT_TRUE(strstr(r.body, "Mustermann") == NULL);
    hh_test_resp_free(&r);
    ASSERT_TRUE(ask(&t, t.admin, chunk_text, "dense", &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_FALSE(sources_have(r.j, chunk_id, NULL, &first));
    ASSERT_TRUE(strstr(r.body, "Mustermann") == NULL);
    /* the other document's vectors stay */
    ASSERT_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r.j, "sources")), vec_after);
    hh_test_resp_free(&r);
    ASSERT_TRUE(ask(&t, t.admin, "The canteen serves lentil soup on Fridays and fish on Thursdays.", "dense", &r));
    ASSERT_TRUE(sources_have(r.j, -1, "lentil", &first));
    hh_test_resp_free(&r);
    free(chunk_text);

    /* her key went with her user record */
    ASSERT_TRUE(post(&t, "/v1/completions", her_key, COMPLETION, &r));
    ASSERT_EQ_INT(r.status, 401);
    hh_test_resp_free(&r);
    /* the prefix cache was dropped: the same prompt reuses nothing */
    ASSERT_TRUE(post(&t, "/v1/completions", t.member, COMPLETION, &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_EQ_INT(cached_tokens(&r), 0);
    hh_test_resp_free(&r);
    ASSERT_TRUE(post(&t, "/v1/completions", t.member, COMPLETION, &r));
    ASSERT_EQ_INT(cached_tokens(&r), cached_before);   /* and fills again */
    hh_test_resp_free(&r);

    /* the audit log verifies through the API, as the auditor */
    ASSERT_TRUE(get(&t, "/api/audit/verify", t.auditor, &r));
    ASSERT_EQ_INT(r.status, 200);
    if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r.j, "ok")))
        printf("    verify: %s\n", r.body);
    ASSERT_TRUE(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r.j, "ok")));
    ASSERT_TRUE(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(r.j, "bad_seq")));
    double records = num_of(r.j, "records");
    ASSERT_GE(records, 8);   /* 4 completions, 6 asks, export, erasure, this access ... */
    ASSERT_EQ_INT(num_of(r.j, "last_seq"), records);
    hh_test_resp_free(&r);

    /* JSONL export: verifies with hh_audit_verify_jsonl, holds the access
     * records of both reads, no trace of the subject */
    ASSERT_TRUE(get(&t, "/api/audit/export", t.auditor, &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_TRUE(strcasestr(r.headers, "Content-Type: application/x-ndjson") != NULL);
    unsigned char pk[HH_AUDIT_PK_LEN];
    ASSERT_OK(hh_audit_public_key(t.srv.st, pk, &err));
    hh_audit_verify_result_t vr;
    hh_audit_verify_jsonl(r.body, r.body_len, pk, &vr);
    if (!vr.ok)
        printf("    jsonl: bad seq %lld: %s\n", (long long)vr.bad_seq, vr.why);
    ASSERT_TRUE(vr.ok);
    ASSERT_EQ_INT(vr.n_records, records + 1);
    ASSERT_TRUE(strstr(r.body, "audit verify (HTTP)") != NULL);
    ASSERT_TRUE(strstr(r.body, "audit export from seq 1 (HTTP)") != NULL);
    ASSERT_TRUE(strstr(r.body, "\\\"kind\\\":\\\"erasure\\\"") != NULL);
    ASSERT_TRUE(strstr(r.body, "Mustermann") == NULL);
    ASSERT_TRUE(strstr(r.body, "mustermann") == NULL);
    size_t full_len = r.body_len;
    hh_test_resp_free(&r);
    /* a partial export starts behind a signed anchor and verifies too */
    ASSERT_TRUE(get(&t, "/api/audit/export?from=5", t.admin, &r));
    ASSERT_EQ_INT(r.status, 200);
    hh_audit_verify_jsonl(r.body, r.body_len, pk, &vr);
    ASSERT_TRUE(vr.ok);
    ASSERT_TRUE(vr.anchored);
    ASSERT_EQ_INT(vr.first_seq, 5);
    ASSERT_TRUE(r.body_len < full_len);
    hh_test_resp_free(&r);
    /* one byte changed: the verifier notices */
    ASSERT_TRUE(get(&t, "/api/audit/export", t.admin, &r));
    char *p = strstr(r.body, "audit verify (HTTP)");
    ASSERT_TRUE(p != NULL);
    p[0] = 'A';
    hh_audit_verify_jsonl(r.body, r.body_len, pk, &vr);
    ASSERT_FALSE(vr.ok);
    hh_test_resp_free(&r);
    hh_test_srv_stop(&t.srv);
}

/* ---- retention ------------------------------------------------------------- */

/* Gives collection hr a 30-day TTL and back-dates the document doc by 40
 * days. */
static bool expire_doc(cp_srv_t *t, double doc)
{
    hh_err_t err;
    if (hh_gdpr_collection_retention(t->srv.st, "hr", 30, &err) != 0)
        return false;
    char sql[160];
    snprintf(sql, sizeof sql, "UPDATE documents SET ingested_at = ingested_at - 40 * 86400 WHERE id = %.0f", doc);
    return q_exec(t->srv.st, sql) == SQLITE_OK;
}

TEST(compliance_api_sweep_route)
{
    cp_srv_t t;
    ASSERT_TRUE(srv_start(&t, "sweep", true, false, 0));
    double old_doc = 0, old_chunks = 0, new_doc = 0, new_chunks = 0;
    ASSERT_EQ_INT(upload(&t, t.admin, "hr", "old.md", g_contract, &old_doc, &old_chunks), 201);
    ASSERT_EQ_INT(upload(&t, t.admin, "hr", "new.md", g_other, &new_doc, &new_chunks), 201);
    hh_test_resp_t r;
    /* nothing expired yet */
    ASSERT_TRUE(post(&t, "/api/retention/sweep", t.admin, NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_EQ_INT(num_of(r.j, "documents"), 0);
    hh_test_resp_free(&r);
    ASSERT_TRUE(expire_doc(&t, old_doc));
    ASSERT_TRUE(post(&t, "/api/retention/sweep", t.auditor, NULL, &r));
    ASSERT_EQ_INT(r.status, 403);
    hh_test_resp_free(&r);
    ASSERT_TRUE(post(&t, "/api/retention/sweep", t.admin, NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_EQ_INT(num_of(r.j, "documents"), 1);
    ASSERT_EQ_INT(num_of(r.j, "index_vectors_removed"), old_chunks);
    const cJSON *log = cJSON_GetObjectItemCaseSensitive(r.j, "log");
    ASSERT_EQ_INT(cJSON_GetArraySize(log), 1);
    char want[96];
    snprintf(want, sizeof want, "retention: deleted expired document %.0f", old_doc);
    ASSERT_STREQ(cJSON_GetArrayItem(log, 0)->valuestring, want);
    hh_test_resp_free(&r);
    ASSERT_EQ_INT(q_int(t.srv.st, "SELECT count(*) FROM documents"), 1);
    /* its vectors left the live index: dense search finds only the other */
    ASSERT_TRUE(ask(&t, t.admin, "The employment contract starts in March with six months probation.", "dense", &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r.j, "sources")), new_chunks);
    double first = -1;
    ASSERT_FALSE(sources_have(r.j, -1, "probation", &first));
    hh_test_resp_free(&r);
    ASSERT_TRUE(get(&t, "/api/audit/verify", t.admin, &r));
    ASSERT_TRUE(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r.j, "ok")));
    hh_test_resp_free(&r);
    ASSERT_EQ_INT(q_int(t.srv.st, "SELECT count(*) FROM audit_log WHERE instr(record, '\"kind\":\"retention\"') > 0"), 1);
    hh_test_srv_stop(&t.srv);
}

TEST(compliance_api_periodic_sweeper)
{
    cp_srv_t t;
    ASSERT_TRUE(srv_start(&t, "sweeper", false, false, 1));
    double doc = 0, chunks = 0, keep = 0;
    ASSERT_EQ_INT(upload(&t, t.admin, "hr", "old.md", g_contract, &doc, &chunks), 201);
    ASSERT_EQ_INT(upload(&t, t.admin, "hr", "new.md", g_other, &keep, &chunks), 201);
    ASSERT_TRUE(expire_doc(&t, doc));
    /* the sweeper runs every second: the document goes within a few, and
     * its retention record follows the deletion */
    const char *ret_sql = "SELECT count(*) FROM audit_log WHERE instr(record, '\"kind\":\"retention\"') > 0";
    long long n = -1, n_ret = -1;
    for (int i = 0; i < 80 && (n != 1 || n_ret != 1); i++) {
        usleep(100 * 1000);
        n = q_int(t.srv.st, "SELECT count(*) FROM documents");
        n_ret = q_int(t.srv.st, ret_sql);
    }
    ASSERT_EQ_INT(n, 1);
    ASSERT_EQ_INT(n_ret, 1);
    char sql[96];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM documents WHERE id = %.0f", keep);
    ASSERT_EQ_INT(q_int(t.srv.st, sql), 1);
    /* later sweeps find nothing more to delete */
    usleep(1200 * 1000);
    ASSERT_EQ_INT(q_int(t.srv.st, ret_sql), 1);
    ASSERT_EQ_INT(q_int(t.srv.st, "SELECT count(*) FROM documents"), 1);
    /* stop joins the sweeper promptly (it sleeps on a condition variable) */
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    hh_test_srv_stop(&t.srv);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double dt = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) * 1e-9;
    ASSERT_LE(dt, 2.0);
}
