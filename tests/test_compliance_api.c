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
#include "govern/audit.h"
#include "govern/gdpr.h"
#include "http/server.h"
#include "store/store_int.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define EMAIL "erika.mustermann@example.com"
#define NAME  "Erika Mustermann"

/* ---- helpers ------------------------------------------------------------ */

static bool copy_file(const char *src, const char *dst)
{
    size_t n = 0;
    void *d = hh_test_read_file(src, &n);
    if (!d)
        return false;
    FILE *f = fopen(dst, "wb");
    bool ok = f && fwrite(d, 1, n, f) == n;
    if (f)
        ok = fclose(f) == 0 && ok;
    free(d);
    return ok;
}

typedef struct cp_srv {
    hh_http_server_t *s;
    hh_store_t       *st;
    int               port;
    char              admin[HH_KEY_LEN + 1], member[HH_KEY_LEN + 1], auditor[HH_KEY_LEN + 1];
    char              data[512];
} cp_srv_t;

/* A server on a fresh data dir; bert (dense retrieval) and stories260K
 * (generation) in its models dir when asked; users root (admin), mia
 * (member), aud (auditor); collection "hr" (admins only). */
static bool srv_start(cp_srv_t *t, const char *name, bool bert, bool stories, int sweep_s)
{
    memset(t, 0, sizeof *t);
    char models[600], dst[700];
    snprintf(t->data, sizeof t->data, "%s/compliance-%s", hh_test_tmpdir(), name);
    snprintf(models, sizeof models, "%s/models", t->data);
    mkdir(t->data, 0700);
    mkdir(models, 0700);
    snprintf(dst, sizeof dst, "%s/bert-q8_0.gguf", models);
    if (bert && !copy_file(hh_test_data_path("reference/bert-q8_0.gguf"), dst))
        return false;
    snprintf(dst, sizeof dst, "%s/stories260K.gguf", models);
    if (stories && !copy_file(hh_test_data_path("models/stories260K.gguf"), dst))
        return false;
    hh_http_params_t p = hh_http_default_params();
    p.port = 0;
    p.data_dir = t->data;
    p.embed_model = bert ? "bert-q8_0" : "none";
    p.engine.n_slots = 1;
    p.engine.n_threads = 2;
    p.retention_interval_s = sweep_s;
    hh_err_t err;
    hh_err_clear(&err);
    if (hh_http_start(&t->s, &p, &err) != 0) {
        printf("    start: %s\n", err.msg);
        return false;
    }
    t->port = hh_http_port(t->s);
    t->st = hh_http_store(t->s);
    hh_store_user_t u;
    return hh_store_user_ensure(t->st, "root", "admin", &u, NULL, &err) == 0 &&
           hh_store_key_create(t->st, u.id, t->admin, sizeof t->admin, NULL, &err) == 0 &&
           hh_store_user_ensure(t->st, "mia", "member", &u, NULL, &err) == 0 &&
           hh_store_key_create(t->st, u.id, t->member, sizeof t->member, NULL, &err) == 0 &&
           hh_store_user_ensure(t->st, "aud", "auditor", &u, NULL, &err) == 0 &&
           hh_store_key_create(t->st, u.id, t->auditor, sizeof t->auditor, NULL, &err) == 0 &&
           hh_store_collection_ensure(t->st, "hr", NULL, 0, NULL, &err) == 0;
}

typedef struct resp {
    int    status;
    char  *head;   /* malloc'd header block */
    char  *body;   /* malloc'd */
    size_t len;
    cJSON *j;      /* the body parsed, or NULL */
} resp_t;

static void resp_free(resp_t *r)
{
    free(r->head);
    free(r->body);
    cJSON_Delete(r->j);
    memset(r, 0, sizeof *r);
}

/* One request over a fresh connection (Connection: close), read to EOF.
 * key: Bearer key or NULL; extra: more header lines ("Name: v\r\n") or
 * NULL; ctype NULL: application/json. */
static bool http(int port, const char *method, const char *path, const char *key, const char *extra,
                 const char *ctype, const char *body, size_t blen, resp_t *out)
{
    memset(out, 0, sizeof *out);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return false;
    struct sockaddr_in a = { 0 };
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return false;
    }
    char *req = NULL;
    size_t rlen = 0;
    FILE *f = open_memstream(&req, &rlen);
    fprintf(f, "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n", method, path);
    if (key)
        fprintf(f, "Authorization: Bearer %s\r\n", key);
    if (extra)
        fputs(extra, f);
    if (body) {
        fprintf(f, "Content-Type: %s\r\nContent-Length: %zu\r\n\r\n", ctype ? ctype : "application/json", blen);
        fwrite(body, 1, blen, f);
    } else {
        fprintf(f, "\r\n");
    }
    fclose(f);
    bool ok = send(fd, req, rlen, MSG_NOSIGNAL) == (ssize_t)rlen;
    free(req);
    char *raw = NULL;
    size_t n = 0, cap = 0;
    while (ok) {
        if (n + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 16384;
            char *nr = realloc(raw, cap);
            if (!nr) {
                ok = false;
                break;
            }
            raw = nr;
        }
        ssize_t r = recv(fd, raw + n, cap - n - 1, 0);
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    if (!ok || !raw) {
        free(raw);
        return false;
    }
    raw[n] = '\0';
    char *sep = strstr(raw, "\r\n\r\n");
    if (!sep || sscanf(raw, "HTTP/1.%*d %d", &out->status) != 1) {
        free(raw);
        return false;
    }
    out->head = strndup(raw, (size_t)(sep - raw));
    out->len = n - (size_t)(sep + 4 - raw);
    out->body = malloc(out->len + 1);
    if (out->body) {
        memcpy(out->body, sep + 4, out->len);
        out->body[out->len] = '\0';
        out->j = cJSON_Parse(out->body);
    }
    free(raw);
    return out->body != NULL && out->head != NULL;
}

static bool get(const cp_srv_t *t, const char *path, const char *key, resp_t *r)
{
    return http(t->port, "GET", path, key, NULL, NULL, NULL, 0, r);
}

static bool post(const cp_srv_t *t, const char *path, const char *key, const char *body, resp_t *r)
{
    return http(t->port, "POST", path, key, NULL, NULL, body, body ? strlen(body) : 0, r);
}

static const char *str_of(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : "(none)";
}

static double num_of(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

static const char *err_code(const resp_t *r)
{
    return str_of(cJSON_GetObjectItemCaseSensitive(r->j, "error"), "code");
}

static const char *err_type(const resp_t *r)
{
    return str_of(cJSON_GetObjectItemCaseSensitive(r->j, "error"), "type");
}

/* POST /api/documents (multipart) of one text file into coll as key;
 * returns the status, *doc_id and *chunks. */
static int upload(const cp_srv_t *t, const char *key, const char *coll, const char *name, const char *text,
                  double *doc_id, double *chunks)
{
    char *body = NULL;
    int n = asprintf(&body,
                     "--hhB0undary\r\nContent-Disposition: form-data; name=\"collection\"\r\n\r\n%s\r\n"
                     "--hhB0undary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"%s\"\r\n"
                     "Content-Type: text/markdown\r\n\r\n%s\r\n--hhB0undary--\r\n",
                     coll, name, text);
    if (n < 0)
        return -1;
    resp_t r;
    bool ok = http(t->port, "POST", "/api/documents", key, NULL, "multipart/form-data; boundary=hhB0undary", body,
                   (size_t)n, &r);
    free(body);
    if (!ok)
        return -1;
    *doc_id = num_of(r.j, "id");
    *chunks = num_of(r.j, "chunks");
    int st = r.status;
    resp_free(&r);
    return st;
}

/* POST /api/ask {question, retrieval: mode, k: 10} as key. */
static bool ask(const cp_srv_t *t, const char *key, const char *question, const char *mode, resp_t *r)
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
        if (chunk_id >= 0 ? num_of(it, "chunk_id") == chunk_id : strstr(str_of(it, "quote"), needle) != NULL)
            found = true;
    }
    return found;
}

/* hits of an export document at where (and document_id when >= 0) */
static int count_hits(const cJSON *doc, const char *where, double document_id)
{
    int n = 0;
    const cJSON *h;
    cJSON_ArrayForEach(h, cJSON_GetObjectItemCaseSensitive(doc, "hits"))
        if (!strcmp(str_of(h, "where"), where) && (document_id < 0 || num_of(h, "document_id") == document_id))
            n++;
    return n;
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
static double cached_tokens(const resp_t *r)
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
            resp_t r;
            const char *b = routes[i].body;
            ASSERT_TRUE(http(t.port, routes[i].method, routes[i].path, keys[k], NULL, NULL, b, b ? strlen(b) : 0, &r));
            int want = k == 2 || (k == 1 && routes[i].auditor_ok) ? 200 : 403;
            if (r.status != want)
                printf("    %s %s as %s: %d %s\n", routes[i].method, routes[i].path, k == 0 ? "member" : k == 1 ?
                       "auditor" : "admin", r.status, r.body);
            ASSERT_EQ_INT(r.status, want);
            if (want == 403) {
                ASSERT_STREQ(err_type(&r), "permission_error");
                ASSERT_STREQ(err_code(&r), "forbidden");
            }
            resp_free(&r);
        }
    }
    /* bad bodies */
    resp_t r;
    ASSERT_TRUE(post(&t, "/api/gdpr/erase", t.admin, "{\"subjects\":[\"" EMAIL "\"]}", &r));
    ASSERT_EQ_INT(r.status, 400);
    ASSERT_STREQ(err_code(&r), "confirm_required");
    resp_free(&r);
    ASSERT_TRUE(post(&t, "/api/gdpr/erase", t.admin, "{\"subjects\":[\"" EMAIL "\"],\"confirm\":\"yes\"}", &r));
    ASSERT_EQ_INT(r.status, 400);
    ASSERT_STREQ(err_code(&r), "confirm_required");
    resp_free(&r);
    static const char *const bad[] = { "{}", "{\"subjects\":[]}", "{\"subjects\":[\"ab\"]}", "{\"subjects\":[1]}",
                                       "{\"subjects\":\"" EMAIL "\"}", "[1]" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ASSERT_TRUE(post(&t, "/api/gdpr/export", t.admin, bad[i], &r));
        if (r.status != 400)
            printf("    body %s: %d\n", bad[i], r.status);
        ASSERT_EQ_INT(r.status, 400);
        ASSERT_STREQ(err_code(&r), "invalid_subjects");
        resp_free(&r);
    }
    ASSERT_TRUE(get(&t, "/api/audit/export?from=0", t.auditor, &r));
    ASSERT_EQ_INT(r.status, 400);
    ASSERT_STREQ(err_code(&r), "invalid_from");
    resp_free(&r);
    ASSERT_TRUE(get(&t, "/api/audit/export?from=x1", t.auditor, &r));
    ASSERT_EQ_INT(r.status, 400);
    resp_free(&r);

    /* a browser session: state-changing routes need the CSRF token */
    hh_err_t err;
    ASSERT_OK(hh_store_user_set_password(t.st, "root", "admin password 2026", &err));
    ASSERT_TRUE(post(&t, "/api/login", NULL, "{\"username\":\"root\",\"password\":\"admin password 2026\"}", &r));
    ASSERT_EQ_INT(r.status, 200);
    char csrf[HH_SESSION_TOKEN_LEN + 1], cookie[HH_SESSION_TOKEN_LEN + 64] = "";
    snprintf(csrf, sizeof csrf, "%s", str_of(r.j, "csrf_token"));
    const char *sc = strcasestr(r.head, "Set-Cookie: hoheit_session=");
    ASSERT_TRUE(sc != NULL);
    sc += strlen("Set-Cookie: hoheit_session=");
    snprintf(cookie, sizeof cookie, "%.*s", (int)strcspn(sc, ";\r\n"), sc);
    resp_free(&r);
    ASSERT_GE(strlen(cookie), 16);
    char hdr[512];
    snprintf(hdr, sizeof hdr, "Cookie: hoheit_session=%s\r\n", cookie);
    const char *sweep_body = "{}";
    ASSERT_TRUE(http(t.port, "POST", "/api/retention/sweep", NULL, hdr, NULL, sweep_body, 2, &r));
    ASSERT_EQ_INT(r.status, 403);
    ASSERT_STREQ(err_code(&r), "csrf_failed");
    resp_free(&r);
    const char *erase_body = "{\"subjects\":[\"nobody@example.com\"],\"confirm\":true}";
    ASSERT_TRUE(http(t.port, "POST", "/api/gdpr/erase", NULL, hdr, NULL, erase_body, strlen(erase_body), &r));
    ASSERT_EQ_INT(r.status, 403);
    ASSERT_STREQ(err_code(&r), "csrf_failed");
    resp_free(&r);
    snprintf(hdr, sizeof hdr, "Cookie: hoheit_session=%s\r\nX-CSRF-Token: %s\r\n", cookie, csrf);
    ASSERT_TRUE(http(t.port, "POST", "/api/retention/sweep", NULL, hdr, NULL, sweep_body, 2, &r));
    ASSERT_EQ_INT(r.status, 200);
    resp_free(&r);
    /* reads need no token */
    snprintf(hdr, sizeof hdr, "Cookie: hoheit_session=%s\r\n", cookie);
    ASSERT_TRUE(http(t.port, "GET", "/api/audit/verify", NULL, hdr, NULL, NULL, 0, &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_TRUE(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r.j, "ok")));
    resp_free(&r);
    hh_http_stop(t.s);
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
    resp_t r;
    double first = -1;
    ASSERT_TRUE(ask(&t, t.admin, "Mustermann contract", "bm25", &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_TRUE(sources_have(r.j, -1, "Mustermann", &first));
    const cJSON *s0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r.j, "sources"), 0);
    char *chunk_text = strdup(str_of(s0, "quote"));
    double chunk_id = num_of(s0, "chunk_id");
    resp_free(&r);
    ASSERT_TRUE(chunk_text && strstr(chunk_text, EMAIL) != NULL);
    ASSERT_TRUE(ask(&t, t.admin, chunk_text, "dense", &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_TRUE(sources_have(r.j, chunk_id, NULL, &first));
    ASSERT_EQ_INT(first, chunk_id);
    resp_free(&r);

    /* the prompt cache: the same prompt twice reuses cached tokens; the
     * subject herself asks (her address is her user name) */
    hh_store_user_t her;
    char her_key[HH_KEY_LEN + 1];
    hh_err_t err;
    ASSERT_OK(hh_store_user_ensure(t.st, EMAIL, "member", &her, NULL, &err));
    ASSERT_OK(hh_store_key_create(t.st, her.id, her_key, sizeof her_key, NULL, &err));
    ASSERT_TRUE(post(&t, "/v1/completions", her_key, COMPLETION, &r));
    ASSERT_EQ_INT(r.status, 200);
    resp_free(&r);
    ASSERT_TRUE(post(&t, "/v1/completions", her_key, COMPLETION, &r));
    ASSERT_EQ_INT(r.status, 200);
    double cached_before = cached_tokens(&r);
    resp_free(&r);
    ASSERT_GE(cached_before, 5);

    /* export: the document's chunk and the audited completion prompt */
    const char *subjects = "{\"subjects\":[\"" EMAIL "\",\"" NAME "\"]}";
    ASSERT_TRUE(post(&t, "/api/gdpr/export", t.admin, subjects, &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_GE(count_hits(r.j, "chunk.text", doc), 2);      /* both subjects in the contract chunk */
    ASSERT_EQ_INT(count_hits(r.j, "chunk.text", other), 0);
    ASSERT_GE(count_hits(r.j, "file", doc), 2);
    ASSERT_EQ_INT(count_hits(r.j, "audit.user", -1), 2);    /* her two completions */
    ASSERT_EQ_INT(count_hits(r.j, "user", -1), 1);
    ASSERT_EQ_INT(num_of(r.j, "n_hits"), cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r.j, "hits")));
    resp_free(&r);
    long long vec_before = q_int(t.st, "SELECT count(*) FROM chunk_vectors");
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
    long long vec_after = q_int(t.st, "SELECT count(*) FROM chunk_vectors");
    ASSERT_EQ_INT(num_of(r.j, "index_vectors_removed"), vec_before - vec_after);
    ASSERT_EQ_INT(num_of(r.j, "vectors"), vec_before - vec_after);
    ASSERT_TRUE(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r.j, "caches_dropped")));
    resp_free(&r);

    /* search: neither string in BM25 results, documents, nor dense results */
    static const char *const needles[] = { EMAIL, NAME, "Mustermann" };
    for (size_t i = 0; i < 3; i++) {
        ASSERT_TRUE(ask(&t, t.admin, needles[i], "bm25", &r));
        ASSERT_EQ_INT(r.status, 200);
        ASSERT_FALSE(sources_have(r.j, -1, "Mustermann", &first));
        ASSERT_TRUE(strstr(r.body, "Mustermann") == NULL);
        resp_free(&r);
    }
    ASSERT_TRUE(get(&t, "/api/documents", t.admin, &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r.j, "data")), 2);
    ASSERT_TRUE(strstr(r.body, "Mustermann") == NULL);
    resp_free(&r);
    ASSERT_TRUE(ask(&t, t.admin, chunk_text, "dense", &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_FALSE(sources_have(r.j, chunk_id, NULL, &first));
    ASSERT_TRUE(strstr(r.body, "Mustermann") == NULL);
    /* the other document's vectors stay */
    ASSERT_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r.j, "sources")), vec_after);
    resp_free(&r);
    ASSERT_TRUE(ask(&t, t.admin, "The canteen serves lentil soup on Fridays and fish on Thursdays.", "dense", &r));
    ASSERT_TRUE(sources_have(r.j, -1, "lentil", &first));
    resp_free(&r);
    free(chunk_text);

    /* her key went with her user record */
    ASSERT_TRUE(post(&t, "/v1/completions", her_key, COMPLETION, &r));
    ASSERT_EQ_INT(r.status, 401);
    resp_free(&r);
    /* the prefix cache was dropped: the same prompt reuses nothing */
    ASSERT_TRUE(post(&t, "/v1/completions", t.member, COMPLETION, &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_EQ_INT(cached_tokens(&r), 0);
    resp_free(&r);
    ASSERT_TRUE(post(&t, "/v1/completions", t.member, COMPLETION, &r));
    ASSERT_EQ_INT(cached_tokens(&r), cached_before);   /* and fills again */
    resp_free(&r);

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
    resp_free(&r);

    /* JSONL export: verifies with hh_audit_verify_jsonl, holds the access
     * records of both reads, no trace of the subject */
    ASSERT_TRUE(get(&t, "/api/audit/export", t.auditor, &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_TRUE(strcasestr(r.head, "Content-Type: application/x-ndjson") != NULL);
    unsigned char pk[HH_AUDIT_PK_LEN];
    ASSERT_OK(hh_audit_public_key(t.st, pk, &err));
    hh_audit_verify_result_t vr;
    hh_audit_verify_jsonl(r.body, r.len, pk, &vr);
    if (!vr.ok)
        printf("    jsonl: bad seq %lld: %s\n", (long long)vr.bad_seq, vr.why);
    ASSERT_TRUE(vr.ok);
    ASSERT_EQ_INT(vr.n_records, records + 1);
    ASSERT_TRUE(strstr(r.body, "audit verify (HTTP)") != NULL);
    ASSERT_TRUE(strstr(r.body, "audit export from seq 1 (HTTP)") != NULL);
    ASSERT_TRUE(strstr(r.body, "\\\"kind\\\":\\\"erasure\\\"") != NULL);
    ASSERT_TRUE(strstr(r.body, "Mustermann") == NULL);
    ASSERT_TRUE(strstr(r.body, "mustermann") == NULL);
    size_t full_len = r.len;
    resp_free(&r);
    /* a partial export starts behind a signed anchor and verifies too */
    ASSERT_TRUE(get(&t, "/api/audit/export?from=5", t.admin, &r));
    ASSERT_EQ_INT(r.status, 200);
    hh_audit_verify_jsonl(r.body, r.len, pk, &vr);
    ASSERT_TRUE(vr.ok);
    ASSERT_TRUE(vr.anchored);
    ASSERT_EQ_INT(vr.first_seq, 5);
    ASSERT_TRUE(r.len < full_len);
    resp_free(&r);
    /* one byte changed: the verifier notices */
    ASSERT_TRUE(get(&t, "/api/audit/export", t.admin, &r));
    char *p = strstr(r.body, "audit verify (HTTP)");
    ASSERT_TRUE(p != NULL);
    p[0] = 'A';
    hh_audit_verify_jsonl(r.body, r.len, pk, &vr);
    ASSERT_FALSE(vr.ok);
    resp_free(&r);
    hh_http_stop(t.s);
}

/* ---- retention ------------------------------------------------------------- */

/* Gives collection hr a 30-day TTL and back-dates the document doc by 40
 * days. */
static bool expire_doc(cp_srv_t *t, double doc)
{
    hh_err_t err;
    if (hh_gdpr_collection_retention(t->st, "hr", 30, &err) != 0)
        return false;
    char sql[160];
    snprintf(sql, sizeof sql, "UPDATE documents SET ingested_at = ingested_at - 40 * 86400 WHERE id = %.0f", doc);
    return q_exec(t->st, sql) == SQLITE_OK;
}

TEST(compliance_api_sweep_route)
{
    cp_srv_t t;
    ASSERT_TRUE(srv_start(&t, "sweep", true, false, 0));
    double old_doc = 0, old_chunks = 0, new_doc = 0, new_chunks = 0;
    ASSERT_EQ_INT(upload(&t, t.admin, "hr", "old.md", g_contract, &old_doc, &old_chunks), 201);
    ASSERT_EQ_INT(upload(&t, t.admin, "hr", "new.md", g_other, &new_doc, &new_chunks), 201);
    resp_t r;
    /* nothing expired yet */
    ASSERT_TRUE(post(&t, "/api/retention/sweep", t.admin, NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_EQ_INT(num_of(r.j, "documents"), 0);
    resp_free(&r);
    ASSERT_TRUE(expire_doc(&t, old_doc));
    ASSERT_TRUE(post(&t, "/api/retention/sweep", t.auditor, NULL, &r));
    ASSERT_EQ_INT(r.status, 403);
    resp_free(&r);
    ASSERT_TRUE(post(&t, "/api/retention/sweep", t.admin, NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_EQ_INT(num_of(r.j, "documents"), 1);
    ASSERT_EQ_INT(num_of(r.j, "index_vectors_removed"), old_chunks);
    const cJSON *log = cJSON_GetObjectItemCaseSensitive(r.j, "log");
    ASSERT_EQ_INT(cJSON_GetArraySize(log), 1);
    char want[96];
    snprintf(want, sizeof want, "retention: deleted expired document %.0f", old_doc);
    ASSERT_STREQ(cJSON_GetArrayItem(log, 0)->valuestring, want);
    resp_free(&r);
    ASSERT_EQ_INT(q_int(t.st, "SELECT count(*) FROM documents"), 1);
    /* its vectors left the live index: dense search finds only the other */
    ASSERT_TRUE(ask(&t, t.admin, "The employment contract starts in March with six months probation.", "dense", &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r.j, "sources")), new_chunks);
    double first = -1;
    ASSERT_FALSE(sources_have(r.j, -1, "probation", &first));
    resp_free(&r);
    ASSERT_TRUE(get(&t, "/api/audit/verify", t.admin, &r));
    ASSERT_TRUE(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r.j, "ok")));
    resp_free(&r);
    ASSERT_EQ_INT(q_int(t.st, "SELECT count(*) FROM audit_log WHERE instr(record, '\"kind\":\"retention\"') > 0"), 1);
    hh_http_stop(t.s);
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
        n = q_int(t.st, "SELECT count(*) FROM documents");
        n_ret = q_int(t.st, ret_sql);
    }
    ASSERT_EQ_INT(n, 1);
    ASSERT_EQ_INT(n_ret, 1);
    char sql[96];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM documents WHERE id = %.0f", keep);
    ASSERT_EQ_INT(q_int(t.st, sql), 1);
    /* later sweeps find nothing more to delete */
    usleep(1200 * 1000);
    ASSERT_EQ_INT(q_int(t.st, ret_sql), 1);
    ASSERT_EQ_INT(q_int(t.st, "SELECT count(*) FROM documents"), 1);
    /* stop joins the sweeper promptly (it sleeps on a condition variable) */
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    hh_http_stop(t.s);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double dt = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) * 1e-9;
    ASSERT_LE(dt, 2.0);
}
