/* test_conversations.c - conversations stored on the server (store.h
 * "conversations", src/http/conversations.c): the store's owner-scoped
 * CRUD, search, limits, automatic titles and retention; over HTTP with an
 * in-process server and stories260K: create / list / search / rename /
 * delete / export (md, json), another user's conversation answering byte
 * for byte like a missing one (admins included), chat turns recorded
 * (plain and streamed, grounded with their sources, /api/ask), a held
 * answer shown as held and then with its released text, the GDPR export
 * and erasure, the retention sweep (its audit record), and `hoheit users
 * delete` taking a user's conversations with them. The upgrade from the
 * v11 fixture is test_upgrade's (it scans tests/fixtures/schema). */
#include "harness.h"
#include "http_helpers.h"
#include "govern/audit.h"
#include "govern/gdpr.h"
#include "govern/register.h"
#include "kb/ingest.h"
#include "store/store.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- helpers ------------------------------------------------------------ */

static int64_t user_id(hh_store_t *s, const char *name)
{
    hh_store_user_t u;
    return hh_store_user_get(s, name, &u, NULL) == 0 ? u.id : 0;
}

/* A body with a string field of n bytes 'x' ("{\"<field>\":\"xxx...\"}"). */
static char *big_field(const char *prefix, size_t n, const char *suffix)
{
    size_t lp = strlen(prefix), ls = strlen(suffix);
    char *b = malloc(lp + n + ls + 1);
    if (!b)
        return NULL;
    memcpy(b, prefix, lp);
    memset(b + lp, 'x', n);
    memcpy(b + lp + n, suffix, ls + 1);
    return b;
}

static bool write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    bool ok = f && fputs(text, f) >= 0;
    if (f)
        ok = fclose(f) == 0 && ok;
    return ok;
}

/* Creates a conversation over HTTP; returns its id (0 on failure). */
static int64_t http_create(int port, const char *key, const char *body)
{
    hh_test_resp_t r;
    if (hh_test_http(port, "POST", "/api/conversations", key, body, &r) != 0)
        return 0;
    const cJSON *id = cJSON_GetObjectItem(r.j, "id");
    int64_t v = r.status == 201 && cJSON_IsNumber(id) ? (int64_t)id->valuedouble : 0;
    if (!v)
        printf("    create: status %d body %s\n", r.status, r.body);
    hh_test_resp_free(&r);
    return v;
}

/* GET /api/conversations/{id} as key into *r (caller frees). */
static int http_get(int port, const char *key, int64_t id, hh_test_resp_t *r)
{
    char path[96];
    snprintf(path, sizeof path, "/api/conversations/%lld", (long long)id);
    return hh_test_http(port, "GET", path, key, NULL, r);
}

static const cJSON *message(const hh_test_resp_t *r, int i)
{
    return cJSON_GetArrayItem(cJSON_GetObjectItem(r->j, "messages"), i);
}

/* ---- the store ------------------------------------------------------------ */

TEST(conversations_store_owner_search_limits)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/conv-store", hh_test_tmpdir());
    hh_store_t *s = NULL;
    hh_err_t err;
    hh_err_clear(&err);
    ASSERT_OK(hh_store_open(&s, dir, &err));
    ASSERT_OK(hh_store_user_ensure(s, "mia", "member", NULL, NULL, &err));
    ASSERT_OK(hh_store_user_ensure(s, "max", "member", NULL, NULL, &err));
    int64_t mia = user_id(s, "mia"), max = user_id(s, "max");

    hh_store_conv_t a, b, c;
    ASSERT_OK(hh_store_conv_create(s, mia, NULL, NULL, &a, &err));
    ASSERT_STREQ(a.title, "");
    ASSERT_FALSE(a.titled);
    ASSERT_STREQ(a.collections, "[]");
    ASSERT_OK(hh_store_conv_create(s, mia, "Reisekosten", NULL, &b, &err));
    ASSERT_TRUE(b.titled);
    ASSERT_OK(hh_store_conv_create(s, max, "Urlaubsplanung Sommer", NULL, &c, &err));

    /* automatic title: the first question's first 60 characters, one line (umlauts count once) */
    const char *q = "Wie beantrage ich  Urlaub\nfür die Woche nach Ostern, wenn mein Team schon ausgebucht ist?";
    hh_store_conv_msg_in_t turn[2] = { { .role = "user", .content = q },
                                       { .role = "assistant", .content = "Über das Portal.",
                                         .grounding = "{\"sources\":[],\"confidence\":0.5}", .has_confidence = true,
                                         .confidence = 0.5 } };
    hh_store_conv_meta_t meta = { .use_case = "general", .model = "stories260K", .collections = "[\"handbook\"]" };
    ASSERT_OK(hh_store_conv_append(s, mia, a.id, turn, 2, &meta, &err));
    ASSERT_OK(hh_store_conv_get(s, mia, a.id, &a, &err));
    ASSERT_STREQ(a.title, "Wie beantrage ich Urlaub für die Woche nach Ostern, wenn");
    ASSERT_EQ_INT(a.n_messages, 2);
    ASSERT_STREQ(a.use_case, "general");
    ASSERT_STREQ(a.collections, "[\"handbook\"]");
    /* a named conversation keeps its name */
    usleep(5000);   /* b's message is the newer (ids are random: the order is by time) */
    ASSERT_OK(hh_store_conv_append(s, mia, b.id, turn, 2, NULL, &err));
    ASSERT_OK(hh_store_conv_get(s, mia, b.id, &b, &err));
    ASSERT_STREQ(b.title, "Reisekosten");
    hh_store_conv_msg_t *m = NULL;
    size_t n = 0;
    ASSERT_OK(hh_store_conv_messages(s, mia, a.id, &m, &n, &err));
    ASSERT_EQ_INT(n, 2);
    ASSERT_EQ_INT(m[0].seq, 1);
    ASSERT_STREQ(m[0].role, "user");
    ASSERT_STREQ(m[0].content, q);
    ASSERT_STREQ(m[1].content, "Über das Portal.");
    ASSERT_TRUE(m[1].has_confidence);
    ASSERT_NEAR(m[1].confidence, 0.5, 1e-9);
    ASSERT_STREQ(m[1].grounding, "{\"sources\":[],\"confidence\":0.5}");
    hh_store_conv_msgs_free(m, n);

    /* another owner: exactly "not found", for every function */
    ASSERT_EQ_INT(hh_store_conv_get(s, max, a.id, NULL, &err), HH_ENOENT);
    ASSERT_EQ_INT(hh_store_conv_messages(s, max, a.id, &m, &n, &err), HH_ENOENT);
    ASSERT_EQ_INT(hh_store_conv_rename(s, max, a.id, "mine now", &err), HH_ENOENT);
    ASSERT_EQ_INT(hh_store_conv_delete(s, max, a.id, &err), HH_ENOENT);
    ASSERT_EQ_INT(hh_store_conv_append(s, max, a.id, turn, 2, NULL, &err), HH_ENOENT);

    /* search: titles and message texts, case-insensitive, own rows only */
    hh_store_conv_t *l = NULL;
    int64_t total = 0;
    ASSERT_OK(hh_store_conv_list(s, mia, "OSTERN", 0, 10, &l, &n, &total, &err));
    ASSERT_EQ_INT(n, 2);   /* a's title and b's messages */
    ASSERT_EQ_INT(total, 2);
    free(l);
    ASSERT_OK(hh_store_conv_list(s, mia, "reisekosten", 0, 10, &l, &n, &total, &err));
    ASSERT_EQ_INT(n, 1);
    ASSERT_EQ_INT(l[0].id, b.id);
    free(l);
    ASSERT_OK(hh_store_conv_list(s, mia, "Urlaubsplanung", 0, 10, &l, &n, &total, &err));
    ASSERT_EQ_INT(n, 0);   /* max's title */
    ASSERT_TRUE(l == NULL);
    ASSERT_OK(hh_store_conv_list(s, max, "Ostern", 0, 10, &l, &n, &total, &err));
    ASSERT_EQ_INT(n, 0);   /* mia's messages */
    /* paging: newest first */
    ASSERT_OK(hh_store_conv_list(s, mia, NULL, 0, 1, &l, &n, &total, &err));
    ASSERT_EQ_INT(n, 1);
    ASSERT_EQ_INT(total, 2);
    ASSERT_EQ_INT(l[0].id, b.id);
    free(l);
    ASSERT_OK(hh_store_conv_list(s, mia, NULL, 1, 1, &l, &n, &total, &err));
    ASSERT_EQ_INT(l[0].id, a.id);
    free(l);
    ASSERT_EQ_INT(hh_store_conv_list(s, mia, NULL, 0, HH_CONV_LIST_MAX + 1, &l, &n, NULL, &err), HH_EINVAL);

    /* limits: title, message, grounding, role */
    char title[HH_CONV_TITLE_MAX + 2];
    memset(title, 't', sizeof title - 1);
    title[sizeof title - 1] = '\0';
    ASSERT_EQ_INT(hh_store_conv_rename(s, mia, a.id, title, &err), HH_EINVAL);
    ASSERT_EQ_INT(hh_store_conv_create(s, mia, title, NULL, NULL, &err), HH_EINVAL);
    title[HH_CONV_TITLE_MAX] = '\0';
    ASSERT_OK(hh_store_conv_rename(s, mia, a.id, title, &err));
    ASSERT_EQ_INT(hh_store_conv_rename(s, mia, a.id, "", &err), HH_EINVAL);
    char *big = big_field("", HH_CONV_MESSAGE_MAX + 1, "");
    ASSERT_TRUE(big != NULL);
    hh_store_conv_msg_in_t bad = { .role = "user", .content = big };
    ASSERT_EQ_INT(hh_store_conv_append(s, mia, a.id, &bad, 1, NULL, &err), HH_EINVAL);
    big[HH_CONV_MESSAGE_MAX] = '\0';
    ASSERT_OK(hh_store_conv_append(s, mia, a.id, &bad, 1, NULL, &err));   /* exactly the limit */
    free(big);
    bad = (hh_store_conv_msg_in_t){ .role = "system", .content = "x" };
    ASSERT_EQ_INT(hh_store_conv_append(s, mia, a.id, &bad, 1, NULL, &err), HH_EINVAL);
    bad = (hh_store_conv_msg_in_t){ .role = "assistant", .content = "x", .grounding = "[1,2" };
    ASSERT_EQ_INT(hh_store_conv_append(s, mia, a.id, &bad, 1, NULL, &err), HH_EINVAL);
    ASSERT_OK(hh_store_conv_get(s, mia, a.id, &a, &err));
    ASSERT_EQ_INT(a.n_messages, 3);   /* nothing of the refused appends */

    /* messages per conversation: HH_CONV_MAX_MESSAGES, then HH_EFULL */
    hh_store_conv_msg_in_t eight[8];
    for (int i = 0; i < 8; i++)
        eight[i] = (hh_store_conv_msg_in_t){ .role = i % 2 ? "assistant" : "user", .content = "hallo" };
    int64_t have = 2;
    while (have + 8 <= HH_CONV_MAX_MESSAGES) {
        ASSERT_OK(hh_store_conv_append(s, mia, b.id, eight, 8, NULL, &err));
        have += 8;
    }
    ASSERT_EQ_INT(hh_store_conv_append(s, mia, b.id, eight, (size_t)(HH_CONV_MAX_MESSAGES - have), NULL, &err), 0);
    ASSERT_EQ_INT(hh_store_conv_append(s, mia, b.id, eight, 1, NULL, &err), HH_EFULL);
    ASSERT_OK(hh_store_conv_get(s, mia, b.id, &b, &err));
    ASSERT_EQ_INT(b.n_messages, HH_CONV_MAX_MESSAGES);

    /* conversations per user: HH_CONV_MAX_PER_USER, then HH_EFULL */
    for (int i = 2; i < HH_CONV_MAX_PER_USER; i++)
        ASSERT_OK(hh_store_conv_create(s, mia, "many", NULL, NULL, &err));
    ASSERT_EQ_INT(hh_store_conv_create(s, mia, "one more", NULL, NULL, &err), HH_EFULL);
    ASSERT_OK(hh_store_conv_create(s, max, "max may", NULL, NULL, &err));   /* per user */

    /* retention: idle conversations go, recent ones stay */
    int64_t now = (int64_t)time(NULL) * 1000, day = 86400000;
    ASSERT_OK(hh_store_conv_set_times(s, c.id, now - 400 * day, now - 400 * day, &err));
    ASSERT_OK(hh_store_conv_set_times(s, a.id, now - 400 * day, now - 10 * day, &err));
    int64_t *ids = NULL;
    ASSERT_OK(hh_store_conv_expire(s, now - 365 * day, &ids, &n, &err));
    ASSERT_EQ_INT(n, 1);
    ASSERT_EQ_INT(ids[0], c.id);
    free(ids);
    ASSERT_EQ_INT(hh_store_conv_get(s, max, c.id, NULL, &err), HH_ENOENT);
    ASSERT_OK(hh_store_conv_get(s, mia, a.id, NULL, &err));

    /* deleting a conversation takes its messages; deleting the user takes all of theirs */
    ASSERT_OK(hh_store_conv_delete(s, mia, a.id, &err));
    ASSERT_EQ_INT(hh_store_conv_get(s, mia, a.id, NULL, &err), HH_ENOENT);
    int64_t rows = -1;
    ASSERT_OK(hh_store_row_count(s, "conversation_messages", &rows, &err));
    ASSERT_EQ_INT(rows, HH_CONV_MAX_MESSAGES);   /* b's */
    hh_store_user_removal_t rm;
    ASSERT_OK(hh_store_user_delete(s, "mia", &rm, &err));
    ASSERT_EQ_INT(rm.conversations, HH_CONV_MAX_PER_USER - 1);
    ASSERT_OK(hh_store_row_count(s, "conversation_messages", &rows, &err));
    ASSERT_EQ_INT(rows, 0);
    ASSERT_OK(hh_store_row_count(s, "conversations", &rows, &err));
    ASSERT_EQ_INT(rows, 1);   /* max's */
    hh_store_close(s);
}

/* ---- HTTP ---------------------------------------------------------------- */

typedef struct cv_srv {
    hh_test_srv_t h;
    char          mia[HH_KEY_LEN + 1], max[HH_KEY_LEN + 1], admin[HH_KEY_LEN + 1], approver[HH_KEY_LEN + 1];
} cv_srv_t;

/* <tmp>/conv-<name> with stories260K; members mia and max, admin root,
 * approver anna. */
static bool srv_start(cv_srv_t *t, const char *name)
{
    memset(t, 0, sizeof *t);
    char dir[256];
    snprintf(dir, sizeof dir, "conv-%s", name);
    return hh_test_srv_start(&t->h, dir, NULL) == 0 && hh_test_srv_user(&t->h, "mia", "member", t->mia, NULL) == 0 &&
           hh_test_srv_user(&t->h, "max", "member", t->max, NULL) == 0 &&
           hh_test_srv_user(&t->h, "root", "admin", t->admin, NULL) == 0 &&
           hh_test_srv_user(&t->h, "anna", "approver", t->approver, NULL) == 0;
}

/* Status and body of method path as key, with the request id taken out
 * of nothing (bodies carry none): compared byte for byte. */
static bool same_answer(int port, const char *method, const char *p1, const char *p2, const char *key,
                        const char *body)
{
    hh_test_resp_t a, b;
    if (hh_test_http(port, method, p1, key, body, &a) != 0)
        return false;
    if (hh_test_http(port, method, p2, key, body, &b) != 0) {
        hh_test_resp_free(&a);
        return false;
    }
    bool same = a.status == 404 && a.status == b.status && a.body_len == b.body_len && a.body_len > 0 &&
                !memcmp(a.body, b.body, a.body_len);
    if (!same)
        printf("    %s %s -> %d %s\n    %s %s -> %d %s\n", method, p1, a.status, a.body, method, p2, b.status, b.body);
    hh_test_resp_free(&a);
    hh_test_resp_free(&b);
    return same;
}

TEST(conversations_http_crud_isolation_export)
{
    cv_srv_t t;
    ASSERT_TRUE(srv_start(&t, "crud"));
    int port = t.h.port;
    hh_test_resp_t r;

    /* ids are random (they tell nothing of others' activity); the list is
     * newest first by time, so the two are made a few ms apart */
    int64_t a = http_create(port, t.mia, "{\"title\":\"Dienstreise Hamburg\"}");
    usleep(5000);
    int64_t b = http_create(port, t.mia, "{}");   /* untitled */
    int64_t c = http_create(port, t.max, "{\"title\":\"Geheimprojekt\"}");
    ASSERT_TRUE(a > 0 && b > 0 && c > 0 && a != b && b != c && a != c);

    /* bad bodies and titles: 400, nothing made */
    char *long_title = big_field("{\"title\":\"", HH_CONV_TITLE_MAX + 1, "\"}");
    ASSERT_OK(hh_test_http(port, "POST", "/api/conversations", t.mia, long_title, &r));
    ASSERT_EQ_INT(r.status, 400);
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(port, "POST", "/api/conversations", t.mia, "{\"title\":7}", &r));
    ASSERT_EQ_INT(r.status, 400);
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(port, "POST", "/api/conversations", t.mia, "[1]", &r));
    ASSERT_EQ_INT(r.status, 400);
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(port, "POST", "/api/conversations", NULL, "{}", &r));
    ASSERT_EQ_INT(r.status, 401);
    hh_test_resp_free(&r);

    /* list: own only, newest first */
    ASSERT_OK(hh_test_http(port, "GET", "/api/conversations", t.mia, NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_EQ_INT(cJSON_GetObjectItem(r.j, "total")->valuedouble, 2);
    const cJSON *d = cJSON_GetObjectItem(r.j, "data");
    ASSERT_EQ_INT(cJSON_GetArraySize(d), 2);
    ASSERT_EQ_INT(cJSON_GetObjectItem(cJSON_GetArrayItem(d, 0), "id")->valuedouble, b);
    ASSERT_STREQ(hh_test_json_str(cJSON_GetArrayItem(d, 1), "title"), "Dienstreise Hamburg");
    ASSERT_TRUE(strstr(r.body, "Geheimprojekt") == NULL);
    hh_test_resp_free(&r);
    /* paging */
    ASSERT_OK(hh_test_http(port, "GET", "/api/conversations?limit=1&offset=1", t.mia, NULL, &r));
    ASSERT_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(r.j, "data")), 1);
    ASSERT_EQ_INT(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(r.j, "data"), 0), "id")->valuedouble, a);
    ASSERT_FALSE(cJSON_IsTrue(cJSON_GetObjectItem(r.j, "has_more")));
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(port, "GET", "/api/conversations?limit=0", t.mia, NULL, &r));
    ASSERT_EQ_INT(r.status, 400);
    hh_test_resp_free(&r);
    /* search: own titles, never another's */
    ASSERT_OK(hh_test_http(port, "GET", "/api/conversations?q=hamburg", t.mia, NULL, &r));
    ASSERT_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(r.j, "data")), 1);
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(port, "GET", "/api/conversations?q=Geheim", t.mia, NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(r.j, "data")), 0);
    ASSERT_EQ_INT(cJSON_GetObjectItem(r.j, "total")->valuedouble, 0);
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(port, "GET", "/api/conversations?q=Geheim", t.admin, NULL, &r));
    ASSERT_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(r.j, "data")), 0);   /* admins too */
    hh_test_resp_free(&r);

    /* rename */
    char pa[96], pc[96], pmiss[96], pbad[96];
    snprintf(pa, sizeof pa, "/api/conversations/%lld", (long long)a);
    snprintf(pc, sizeof pc, "/api/conversations/%lld", (long long)c);
    snprintf(pmiss, sizeof pmiss, "/api/conversations/%lld", (long long)(c + 1000));
    snprintf(pbad, sizeof pbad, "/api/conversations/abc");
    ASSERT_OK(hh_test_http(port, "PATCH", pa, t.mia, "{\"title\":\"Dienstreise Berlin\"}", &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_STREQ(hh_test_json_str(r.j, "title"), "Dienstreise Berlin");
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(port, "PATCH", pa, t.mia, long_title, &r));
    ASSERT_EQ_INT(r.status, 400);
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(port, "PATCH", pa, t.mia, "{\"title\":\"\"}", &r));
    ASSERT_EQ_INT(r.status, 400);
    hh_test_resp_free(&r);
    free(long_title);
    ASSERT_OK(http_get(port, t.mia, a, &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_STREQ(hh_test_json_str(r.j, "title"), "Dienstreise Berlin");
    ASSERT_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(r.j, "messages")), 0);
    hh_test_resp_free(&r);

    /* another user's conversation answers byte for byte like a missing one:
     * every route, every role (the admin included) */
    char ec[128], emiss[128];
    snprintf(ec, sizeof ec, "%s/export?format=md", pc);
    snprintf(emiss, sizeof emiss, "%s/export?format=md", pmiss);
    const char *keys[2] = { t.mia, t.admin };
    for (int k = 0; k < 2; k++) {
        ASSERT_TRUE(same_answer(port, "GET", pc, pmiss, keys[k], NULL));
        ASSERT_TRUE(same_answer(port, "GET", pc, pbad, keys[k], NULL));
        ASSERT_TRUE(same_answer(port, "PATCH", pc, pmiss, keys[k], "{\"title\":\"taken\"}"));
        ASSERT_TRUE(same_answer(port, "DELETE", pc, pmiss, keys[k], NULL));
        ASSERT_TRUE(same_answer(port, "GET", ec, emiss, keys[k], NULL));
    }
    ASSERT_OK(http_get(port, t.max, c, &r));   /* still there, unchanged */
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_STREQ(hh_test_json_str(r.j, "title"), "Geheimprojekt");
    hh_test_resp_free(&r);

    /* a chat naming another's conversation: the same 404, before any generation */
    char body[512], body_miss[512];
    snprintf(body, sizeof body,
             "{\"model\":\"stories260K\",\"max_tokens\":4,\"temperature\":0,\"messages\":[{\"role\":\"user\","
             "\"content\":\"Once upon\"}],\"hoheit\":{\"conversation_id\":%lld}}", (long long)c);
    snprintf(body_miss, sizeof body_miss,
             "{\"model\":\"stories260K\",\"max_tokens\":4,\"temperature\":0,\"messages\":[{\"role\":\"user\","
             "\"content\":\"Once upon\"}],\"hoheit\":{\"conversation_id\":%lld}}", (long long)(c + 1000));
    hh_test_resp_t r1, r2;
    ASSERT_OK(hh_test_http(port, "POST", "/v1/chat/completions", t.mia, body, &r1));
    ASSERT_OK(hh_test_http(port, "POST", "/v1/chat/completions", t.mia, body_miss, &r2));
    ASSERT_EQ_INT(r1.status, 404);
    ASSERT_EQ_INT(r2.status, 404);
    ASSERT_STREQ(r1.body, r2.body);
    hh_test_resp_free(&r1);
    hh_test_resp_free(&r2);
    ASSERT_OK(http_get(port, t.max, c, &r));
    ASSERT_EQ_INT(cJSON_GetObjectItem(r.j, "n_messages")->valuedouble, 0);
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(port, "POST", "/api/ask", t.mia, "{\"question\":\"x\",\"conversation_id\":-3}", &r));
    ASSERT_EQ_INT(r.status, 400);
    hh_test_resp_free(&r);

    /* export: Markdown and JSON downloads of a conversation with a turn */
    snprintf(body, sizeof body,
             "{\"model\":\"stories260K\",\"max_tokens\":6,\"temperature\":0,\"messages\":[{\"role\":\"user\","
             "\"content\":\"Once upon a time\"}],\"hoheit\":{\"conversation_id\":%lld}}", (long long)a);
    ASSERT_OK(hh_test_http(port, "POST", "/v1/chat/completions", t.mia, body, &r));
    ASSERT_EQ_INT(r.status, 200);
    const cJSON *msg = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(r.j, "choices"), 0), "message");
    char *answer = strdup(hh_test_json_str(msg, "content"));
    hh_test_resp_free(&r);
    ASSERT_TRUE(answer && answer[0]);
    char path[160], hv[160];
    snprintf(path, sizeof path, "%s/export?format=md", pa);
    ASSERT_OK(hh_test_http(port, "GET", path, t.mia, NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_STREQ(hh_test_resp_header(&r, "Content-Type", hv, sizeof hv), "text/markdown; charset=utf-8");
    char want[96];
    snprintf(want, sizeof want, "attachment; filename=\"conversation-%lld.md\"", (long long)a);
    ASSERT_STREQ(hh_test_resp_header(&r, "Content-Disposition", hv, sizeof hv), want);
    ASSERT_TRUE(strncmp(r.body, "# Dienstreise Berlin\n", 21) == 0);
    ASSERT_TRUE(strstr(r.body, "\n## You (") != NULL);
    ASSERT_TRUE(strstr(r.body, "\n\nOnce upon a time\n") != NULL);
    ASSERT_TRUE(strstr(r.body, "\n## Assistant (") != NULL);
    ASSERT_TRUE(strstr(r.body, answer) != NULL);
    ASSERT_TRUE(strstr(r.body, "- Model: stories260K\n") != NULL);
    hh_test_resp_free(&r);
    snprintf(path, sizeof path, "%s/export?format=json", pa);
    ASSERT_OK(hh_test_http(port, "GET", path, t.mia, NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    snprintf(want, sizeof want, "attachment; filename=\"conversation-%lld.json\"", (long long)a);
    ASSERT_STREQ(hh_test_resp_header(&r, "Content-Disposition", hv, sizeof hv), want);
    ASSERT_STREQ(hh_test_json_str(r.j, "title"), "Dienstreise Berlin");
    ASSERT_TRUE(cJSON_IsNumber(cJSON_GetObjectItem(r.j, "exported_at")));
    ASSERT_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(r.j, "messages")), 2);
    ASSERT_STREQ(hh_test_json_str(message(&r, 0), "content"), "Once upon a time");
    ASSERT_STREQ(hh_test_json_str(message(&r, 1), "role"), "assistant");
    ASSERT_STREQ(hh_test_json_str(message(&r, 1), "content"), answer);
    hh_test_resp_free(&r);
    snprintf(path, sizeof path, "%s/export?format=pdf", pa);
    ASSERT_OK(hh_test_http(port, "GET", path, t.mia, NULL, &r));
    ASSERT_EQ_INT(r.status, 400);
    hh_test_resp_free(&r);
    free(answer);

    /* delete: gone, then 404; audited */
    ASSERT_OK(hh_test_http(port, "DELETE", pa, t.mia, NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_TRUE(cJSON_IsTrue(cJSON_GetObjectItem(r.j, "deleted")));
    hh_test_resp_free(&r);
    ASSERT_OK(http_get(port, t.mia, a, &r));
    ASSERT_EQ_INT(r.status, 404);
    hh_test_resp_free(&r);
    hh_audit_verify_result_t vr;
    hh_err_t err;
    hh_err_clear(&err);
    ASSERT_OK(hh_audit_verify_store(t.h.st, NULL, &vr, &err));
    ASSERT_TRUE(vr.ok);
    hh_test_srv_stop(&t.h);
}

TEST(conversations_http_chat_stream_grounded_ask)
{
    cv_srv_t t;
    ASSERT_TRUE(srv_start(&t, "record"));
    int port = t.h.port;
    hh_store_t *st = t.h.st;
    hh_err_t err;
    hh_err_clear(&err);
    char docs[600], file[700];
    snprintf(docs, sizeof docs, "%s/docs", t.h.data);
    mkdir(docs, 0700);
    snprintf(file, sizeof file, "%s/travel.txt", docs);
    ASSERT_TRUE(write_text(file, "Travel policy\n\nEmployees travel by train for trips under 500 kilometres. "
                                 "Flights need the written approval of the department head.\n"));
    const char *depts[1] = { "sales" };
    ASSERT_OK(hh_store_collection_ensure(st, "handbook", depts, 1, NULL, &err));
    ASSERT_OK(hh_store_user_add_department(st, "mia", "sales", &err));
    const char *paths[1] = { docs };
    hh_ingest_params_t ip = hh_ingest_default_params();
    hh_ingest_totals_t tot;
    ASSERT_OK(hh_ingest_paths(st, paths, 1, "handbook", 0, &ip, NULL, NULL, &tot, &err));

    int64_t a = http_create(port, t.mia, "{}");
    ASSERT_TRUE(a > 0);
    hh_test_resp_t r;
    char body[768];

    /* plain chat: both messages, the title from the question */
    snprintf(body, sizeof body,
             "{\"model\":\"stories260K\",\"max_tokens\":6,\"temperature\":0,\"messages\":[{\"role\":\"user\","
             "\"content\":\"Once upon a time\"}],\"hoheit\":{\"conversation_id\":%lld}}", (long long)a);
    ASSERT_OK(hh_test_http(port, "POST", "/v1/chat/completions", t.mia, body, &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_TRUE(cJSON_GetObjectItem(r.j, "hoheit") == NULL || !cJSON_GetObjectItem(cJSON_GetObjectItem(r.j, "hoheit"),
                                                                                   "sources"));   /* not grounded */
    char *plain = strdup(hh_test_json_str(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(r.j, "choices"),
                                                                                 0), "message"), "content"));
    hh_test_resp_free(&r);
    /* streamed: the same greedy answer, stored before [DONE] reaches the client */
    snprintf(body, sizeof body,
             "{\"model\":\"stories260K\",\"max_tokens\":6,\"temperature\":0,\"stream\":true,\"messages\":[{\"role\":"
             "\"user\",\"content\":\"Once upon a time\"}],\"hoheit\":{\"conversation_id\":%lld}}", (long long)a);
    ASSERT_OK(hh_test_http(port, "POST", "/v1/chat/completions", t.mia, body, &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_TRUE(strstr(r.body, "data: [DONE]") != NULL);
    hh_test_resp_free(&r);
    ASSERT_OK(http_get(port, t.mia, a, &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_STREQ(hh_test_json_str(r.j, "title"), "Once upon a time");
    ASSERT_STREQ(hh_test_json_str(r.j, "model"), "stories260K");
    ASSERT_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(r.j, "messages")), 4);
    ASSERT_STREQ(hh_test_json_str(message(&r, 0), "role"), "user");
    ASSERT_STREQ(hh_test_json_str(message(&r, 0), "content"), "Once upon a time");
    ASSERT_STREQ(hh_test_json_str(message(&r, 1), "content"), plain);
    ASSERT_STREQ(hh_test_json_str(message(&r, 3), "content"), plain);
    ASSERT_EQ_INT(cJSON_GetObjectItem(message(&r, 3), "seq")->valuedouble, 4);
    ASSERT_TRUE(cJSON_GetObjectItem(message(&r, 1), "grounding") == NULL);
    hh_test_resp_free(&r);
    free(plain);

    /* grounded chat: the sources and the confidence are stored with the answer */
    int64_t g = http_create(port, t.mia, "{\"title\":\"Reisen\"}");
    snprintf(body, sizeof body,
             "{\"model\":\"stories260K\",\"max_tokens\":8,\"temperature\":0,\"messages\":[{\"role\":\"user\","
             "\"content\":\"Who approves flights?\"}],\"hoheit\":{\"conversation_id\":%lld,"
             "\"collections\":[\"handbook\"]}}", (long long)g);
    ASSERT_OK(hh_test_http(port, "POST", "/v1/chat/completions", t.mia, body, &r));
    ASSERT_EQ_INT(r.status, 200);
    const cJSON *hs = cJSON_GetObjectItem(cJSON_GetObjectItem(r.j, "hoheit"), "sources");
    int n_src = cJSON_GetArraySize(hs);
    int64_t chunk0 = (int64_t)cJSON_GetObjectItem(cJSON_GetArrayItem(hs, 0), "chunk_id")->valuedouble;
    double conf = cJSON_GetObjectItem(cJSON_GetObjectItem(r.j, "hoheit"), "confidence")->valuedouble;
    hh_test_resp_free(&r);
    ASSERT_TRUE(n_src >= 1);
    /* /api/ask into the same conversation */
    snprintf(body, sizeof body,
             "{\"question\":\"Which trips go by train?\",\"collections\":[\"handbook\"],\"conversation_id\":%lld}",
             (long long)g);
    ASSERT_OK(hh_test_http(port, "POST", "/api/ask", t.mia, body, &r));
    ASSERT_EQ_INT(r.status, 200);
    char *ask_answer = strdup(hh_test_json_str(r.j, "answer"));
    hh_test_resp_free(&r);
    ASSERT_OK(http_get(port, t.mia, g, &r));
    ASSERT_STREQ(hh_test_json_str(r.j, "title"), "Reisen");
    ASSERT_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(r.j, "messages")), 4);
    ASSERT_STREQ(cJSON_GetArrayItem(cJSON_GetObjectItem(r.j, "collections"), 0)->valuestring, "handbook");
    const cJSON *m1 = message(&r, 1);
    const cJSON *src = cJSON_GetObjectItem(cJSON_GetObjectItem(m1, "grounding"), "sources");
    ASSERT_EQ_INT(cJSON_GetArraySize(src), n_src);
    ASSERT_EQ_INT(cJSON_GetObjectItem(cJSON_GetArrayItem(src, 0), "chunk_id")->valuedouble, chunk0);
    ASSERT_TRUE(strstr(hh_test_json_str(cJSON_GetArrayItem(src, 0), "quote"), "Travel") != NULL ||
                strstr(hh_test_json_str(cJSON_GetArrayItem(src, 0), "quote"), "train") != NULL);
    ASSERT_NEAR(cJSON_GetObjectItem(m1, "confidence")->valuedouble, conf, 1e-9);
    ASSERT_STREQ(hh_test_json_str(message(&r, 2), "content"), "Which trips go by train?");
    ASSERT_STREQ(hh_test_json_str(message(&r, 3), "content"), ask_answer);
    ASSERT_TRUE(cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetObjectItem(message(&r, 3), "grounding"), "sources")) >=
                1);
    hh_test_resp_free(&r);
    free(ask_answer);
    /* search finds message text */
    ASSERT_OK(hh_test_http(port, "GET", "/api/conversations?q=trips%20go", t.mia, NULL, &r));
    ASSERT_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(r.j, "data")), 1);
    ASSERT_EQ_INT(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(r.j, "data"), 0), "id")->valuedouble, g);
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(port, "GET", "/api/conversations?q=trips%20go", t.max, NULL, &r));
    ASSERT_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(r.j, "data")), 0);
    hh_test_resp_free(&r);

    /* a question too long to store: 400 before any generation, nothing stored */
    char *big = big_field("{\"model\":\"stories260K\",\"max_tokens\":2,\"messages\":[{\"role\":\"user\",\"content\":\"",
                          HH_CONV_MESSAGE_MAX + 1, "\"}],\"hoheit\":{\"conversation_id\":");
    size_t bl = strlen(big);
    char *big2 = malloc(bl + 32);
    snprintf(big2, bl + 32, "%s%lld}}", big, (long long)g);
    ASSERT_OK(hh_test_http(port, "POST", "/v1/chat/completions", t.mia, big2, &r));
    ASSERT_EQ_INT(r.status, 400);
    ASSERT_TRUE(strstr(hh_test_json_str(cJSON_GetObjectItem(r.j, "error"), "message"), "cannot be stored") != NULL);
    hh_test_resp_free(&r);
    free(big);
    free(big2);
    ASSERT_OK(http_get(port, t.mia, g, &r));
    ASSERT_EQ_INT(cJSON_GetObjectItem(r.j, "n_messages")->valuedouble, 4);
    hh_test_resp_free(&r);
    hh_test_srv_stop(&t.h);
}

#define HR_UC                                                                                                     \
    "{\"slug\":\"cv-screening\",\"name\":\"CV screening\",\"purpose\":\"Pre-sort job applications\","                \
    "\"models\":[\"stories260K\"],\"answers\":{\"h_employment\":true}}"

TEST(conversations_http_held_then_released)
{
    cv_srv_t t;
    ASSERT_TRUE(srv_start(&t, "held"));
    int port = t.h.port;
    hh_err_t err;
    hh_err_clear(&err);
    cJSON *in = cJSON_Parse(HR_UC);
    ASSERT_OK(hh_register_create(t.h.st, in, "root", NULL, &err));
    cJSON_Delete(in);
    int64_t a = http_create(port, t.mia, "{}");
    hh_test_resp_t r;
    char body[512], path[128];
    snprintf(body, sizeof body,
             "{\"model\":\"stories260K\",\"max_tokens\":6,\"temperature\":0,\"messages\":[{\"role\":\"user\","
             "\"content\":\"Once upon\"}],\"hoheit\":{\"use_case\":\"cv-screening\",\"conversation_id\":%lld}}",
             (long long)a);
    ASSERT_OK(hh_test_http(port, "POST", "/v1/chat/completions", t.mia, body, &r));
    ASSERT_EQ_INT(r.status, 202);
    int64_t aid = (int64_t)cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(r.j, "hoheit"), "approval"),
                                               "id")->valuedouble;
    hh_test_resp_free(&r);
    snprintf(body, sizeof body,
             "{\"model\":\"stories260K\",\"max_tokens\":6,\"temperature\":0,\"messages\":[{\"role\":\"user\","
             "\"content\":\"Once upon a time\"}],\"hoheit\":{\"use_case\":\"cv-screening\",\"conversation_id\":%lld}}",
             (long long)a);
    ASSERT_OK(hh_test_http(port, "POST", "/v1/chat/completions", t.mia, body, &r));
    ASSERT_EQ_INT(r.status, 202);
    int64_t aid2 = (int64_t)cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(r.j, "hoheit"), "approval"),
                                                "id")->valuedouble;
    hh_test_resp_free(&r);
    ASSERT_TRUE(aid > 0 && aid2 > 0 && aid2 != aid);

    /* held: the question is there, the answer is not */
    ASSERT_OK(http_get(port, t.mia, a, &r));
    ASSERT_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(r.j, "messages")), 4);
    const cJSON *m1 = message(&r, 1);
    ASSERT_STREQ(hh_test_json_str(m1, "content"), "");
    ASSERT_TRUE(cJSON_IsTrue(cJSON_GetObjectItem(m1, "held")));
    ASSERT_EQ_INT(cJSON_GetObjectItem(cJSON_GetObjectItem(m1, "approval"), "id")->valuedouble, aid);
    ASSERT_STREQ(hh_test_json_str(cJSON_GetObjectItem(m1, "approval"), "status"), "pending");
    hh_test_resp_free(&r);
    snprintf(path, sizeof path, "/api/conversations/%lld/export?format=md", (long long)a);
    ASSERT_OK(hh_test_http(port, "GET", path, t.mia, NULL, &r));
    ASSERT_TRUE(strstr(r.body, "Held for human approval; not released yet.") != NULL);
    hh_test_resp_free(&r);

    /* the approver edits the first and rejects the second */
    snprintf(path, sizeof path, "/api/approvals/%lld/edit", (long long)aid);
    ASSERT_OK(hh_test_http(port, "POST", path, t.approver, "{\"text\":\"A released answer.\"}", &r));
    ASSERT_EQ_INT(r.status, 200);
    hh_test_resp_free(&r);
    snprintf(path, sizeof path, "/api/approvals/%lld/reject", (long long)aid2);
    ASSERT_OK(hh_test_http(port, "POST", path, t.approver, "{\"reason\":\"not needed\"}", &r));
    ASSERT_EQ_INT(r.status, 200);
    hh_test_resp_free(&r);
    for (int round = 0; round < 2; round++) {   /* resolved once, then read from the store */
        ASSERT_OK(http_get(port, t.mia, a, &r));
        m1 = message(&r, 1);
        ASSERT_STREQ(hh_test_json_str(m1, "content"), "A released answer.");
        ASSERT_FALSE(cJSON_IsTrue(cJSON_GetObjectItem(m1, "held")));
        ASSERT_STREQ(hh_test_json_str(cJSON_GetObjectItem(m1, "approval"), "status"), "edited");
        const cJSON *m3 = message(&r, 3);
        ASSERT_STREQ(hh_test_json_str(m3, "content"), "");
        ASSERT_STREQ(hh_test_json_str(cJSON_GetObjectItem(m3, "approval"), "status"), "rejected");
        hh_test_resp_free(&r);
    }
    /* a held grounded answer: no sources while held, text and sources once approved */
    char docs[600], file[700];
    snprintf(docs, sizeof docs, "%s/docs", t.h.data);
    mkdir(docs, 0700);
    snprintf(file, sizeof file, "%s/travel.txt", docs);
    ASSERT_TRUE(write_text(file, "Travel policy\n\nFlights need the written approval of the department head.\n"));
    const char *depts[1] = { "hr" };
    ASSERT_OK(hh_store_collection_ensure(t.h.st, "handbook", depts, 1, NULL, &err));
    ASSERT_OK(hh_store_user_add_department(t.h.st, "mia", "hr", &err));
    const char *paths[1] = { docs };
    hh_ingest_params_t ip = hh_ingest_default_params();
    hh_ingest_totals_t tot;
    ASSERT_OK(hh_ingest_paths(t.h.st, paths, 1, "handbook", 0, &ip, NULL, NULL, &tot, &err));
    int64_t g = http_create(port, t.mia, "{}");
    snprintf(body, sizeof body,
             "{\"question\":\"Who approves flights?\",\"use_case\":\"cv-screening\",\"collections\":[\"handbook\"],"
             "\"conversation_id\":%lld}", (long long)g);
    ASSERT_OK(hh_test_http(port, "POST", "/api/ask", t.mia, body, &r));
    ASSERT_EQ_INT(r.status, 202);
    int64_t aid3 = (int64_t)cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(r.j, "hoheit"), "approval"),
                                                "id")->valuedouble;
    hh_test_resp_free(&r);
    ASSERT_OK(http_get(port, t.mia, g, &r));
    ASSERT_STREQ(hh_test_json_str(r.j, "title"), "Who approves flights?");
    m1 = message(&r, 1);
    ASSERT_TRUE(cJSON_IsTrue(cJSON_GetObjectItem(m1, "held")));
    ASSERT_TRUE(cJSON_GetObjectItem(m1, "grounding") == NULL && cJSON_GetObjectItem(m1, "confidence") == NULL);
    ASSERT_TRUE(strstr(r.body, "department head") == NULL);
    hh_test_resp_free(&r);
    snprintf(path, sizeof path, "/api/approvals/%lld/approve", (long long)aid3);
    ASSERT_OK(hh_test_http(port, "POST", path, t.approver, "{}", &r));
    ASSERT_EQ_INT(r.status, 200);
    hh_test_resp_free(&r);
    ASSERT_OK(http_get(port, t.mia, g, &r));
    m1 = message(&r, 1);
    ASSERT_STREQ(hh_test_json_str(cJSON_GetObjectItem(m1, "approval"), "status"), "approved");
    ASSERT_TRUE(strstr(hh_test_json_str(m1, "content"), "department head") != NULL);   /* extractive */
    const cJSON *src0 = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(m1, "grounding"), "sources"), 0);
    ASSERT_TRUE(strstr(hh_test_json_str(src0, "quote"), "department head") != NULL);
    ASSERT_TRUE(cJSON_IsNumber(cJSON_GetObjectItem(m1, "confidence")));
    hh_test_resp_free(&r);

    /* max cannot see it, and the approver cannot read mia's conversation */
    ASSERT_OK(http_get(port, t.approver, a, &r));
    ASSERT_EQ_INT(r.status, 404);
    hh_test_resp_free(&r);
    hh_test_srv_stop(&t.h);
}

TEST(conversations_gdpr_export_erase_retention)
{
    cv_srv_t t;
    ASSERT_TRUE(srv_start(&t, "gdpr"));
    int port = t.h.port;
    hh_store_t *st = t.h.st;
    hh_err_t err;
    hh_err_clear(&err);
    int64_t mia = user_id(st, "mia"), max = user_id(st, "max");
    hh_store_conv_t a, b, old;
    ASSERT_OK(hh_store_conv_create(st, mia, "Bewerbung", NULL, &a, &err));
    hh_store_conv_msg_in_t turn[2] = { { .role = "user", .content = "Wann beginnt mein Vertrag?" },
                                       { .role = "assistant", .content = "Am ersten März." } };
    ASSERT_OK(hh_store_conv_append(st, mia, a.id, turn, 2, NULL, &err));
    /* max's conversation names mia */
    ASSERT_OK(hh_store_conv_create(st, max, "Notizen", NULL, &b, &err));
    hh_store_conv_msg_in_t mention[2] = { { .role = "user", .content = "Schreib eine Mail an mia wegen Montag" },
                                          { .role = "assistant", .content = "Hallo Mia, ..." } };
    ASSERT_OK(hh_store_conv_append(st, max, b.id, mention, 2, NULL, &err));

    /* Art. 15: the export holds mia's whole conversation */
    hh_test_resp_t r;
    ASSERT_OK(hh_test_http(port, "POST", "/api/gdpr/export", t.admin, "{\"subjects\":[\"mia\"]}", &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_EQ_INT(hh_test_count_hits(r.j, "conversation", -1), 1);
    const cJSON *h, *conv = NULL;
    cJSON_ArrayForEach(h, cJSON_GetObjectItem(r.j, "hits"))
        if (!strcmp(hh_test_json_str(h, "where"), "conversation"))
            conv = cJSON_GetObjectItem(h, "conversation");
    ASSERT_TRUE(conv != NULL);
    ASSERT_STREQ(hh_test_json_str(conv, "title"), "Bewerbung");
    const cJSON *msgs = cJSON_GetObjectItem(conv, "messages");
    ASSERT_EQ_INT(cJSON_GetArraySize(msgs), 2);
    ASSERT_STREQ(hh_test_json_str(cJSON_GetArrayItem(msgs, 0), "content"), "Wann beginnt mein Vertrag?");
    ASSERT_STREQ(hh_test_json_str(cJSON_GetArrayItem(msgs, 1), "content"), "Am ersten März.");
    ASSERT_EQ_INT(hh_test_count_hits(r.j, "conversation.message", -1), 2);   /* max's two messages name her */
    ASSERT_TRUE(strstr(r.body, "Notizen") == NULL);   /* max's conversation itself is not handed out */
    hh_test_resp_free(&r);

    /* Art. 17: her conversations go, the mentions become the pseudonym */
    ASSERT_OK(hh_test_http(port, "POST", "/api/gdpr/erase", t.admin, "{\"subjects\":[\"mia\"],\"confirm\":true}", &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_EQ_INT(cJSON_GetObjectItem(r.j, "conversations")->valuedouble, 1);
    ASSERT_EQ_INT(cJSON_GetObjectItem(r.j, "conversation_texts")->valuedouble, 2);
    hh_test_resp_free(&r);
    int64_t rows = -1;
    ASSERT_OK(hh_store_row_count(st, "conversations", &rows, &err));
    ASSERT_EQ_INT(rows, 1);
    hh_store_conv_msg_t *m = NULL;
    size_t n = 0;
    ASSERT_OK(hh_store_conv_messages(st, max, b.id, &m, &n, &err));
    ASSERT_EQ_INT(n, 2);
    char pseud[HH_GDPR_PSEUDONYM_MAX], want[256];
    ASSERT_OK(hh_gdpr_pseudonym(st, "mia", pseud, sizeof pseud, &err));
    snprintf(want, sizeof want, "Schreib eine Mail an %s wegen Montag", pseud);
    ASSERT_STREQ(m[0].content, want);
    snprintf(want, sizeof want, "Hallo %s, ...", pseud);
    ASSERT_STREQ(m[1].content, want);
    hh_store_conv_msgs_free(m, n);
    /* no page of the file keeps her chat */
    char dbp[700];
    snprintf(dbp, sizeof dbp, "%s/hoheit.db", t.h.data);
    size_t dbn = 0;
    char *db = hh_test_read_file(dbp, &dbn);
    ASSERT_TRUE(db != NULL);
    ASSERT_TRUE(memmem(db, dbn, "Wann beginnt mein Vertrag", 25) == NULL);
    ASSERT_TRUE(memmem(db, dbn, "Am ersten M", 11) == NULL);
    free(db);

    /* retention: an idle conversation goes at the sweep, counted in a retention record */
    ASSERT_OK(hh_store_conv_create(st, max, "Alt", NULL, &old, &err));
    int64_t now = (int64_t)time(NULL) * 1000;
    ASSERT_OK(hh_store_conv_set_times(st, old.id, now - 400 * 86400000LL, now - 366 * 86400000LL, &err));
    ASSERT_OK(hh_test_http(port, "POST", "/api/retention/sweep", t.admin, NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_EQ_INT(cJSON_GetObjectItem(r.j, "conversations")->valuedouble, 1);
    hh_test_resp_free(&r);
    ASSERT_EQ_INT(hh_store_conv_get(st, max, old.id, NULL, &err), HH_ENOENT);
    ASSERT_OK(hh_store_conv_get(st, max, b.id, NULL, &err));   /* active: kept */
    /* with 0 days nothing goes */
    ASSERT_OK(hh_store_conv_set_times(st, b.id, now - 4000 * 86400000LL, now - 4000 * 86400000LL, &err));
    hh_gdpr_sweep_params_t sp = hh_gdpr_sweep_default_params();
    ASSERT_EQ_INT(sp.conversation_retention_days, 365);
    sp.conversation_retention_days = 0;
    hh_gdpr_sweep_result_t sr;
    ASSERT_OK(hh_gdpr_retention_sweep_with(st, 0, &sp, NULL, &sr, &err));
    ASSERT_EQ_INT(sr.conversations, 0);
    sp.conversation_retention_days = 36501;
    ASSERT_EQ_INT(hh_gdpr_retention_sweep_with(st, 0, &sp, NULL, &sr, &err), HH_EINVAL);
    sp.conversation_retention_days = 3650;
    ASSERT_OK(hh_gdpr_retention_sweep_with(st, 0, &sp, NULL, &sr, &err));
    ASSERT_EQ_INT(sr.conversations, 1);
    /* both sweeps' records name the ids, and the chain verifies */
    char *recs = NULL;
    size_t rl = 0;
    FILE *f = open_memstream(&recs, &rl);
    ASSERT_OK(hh_audit_export(st, 0, f, &err));
    fclose(f);
    char needle[128];
    snprintf(needle, sizeof needle, "deleted 1 conversations with no activity for 365 days: %lld", (long long)old.id);
    ASSERT_TRUE(strstr(recs, needle) != NULL);
    snprintf(needle, sizeof needle, "deleted 1 conversations with no activity for 3650 days: %lld", (long long)b.id);
    ASSERT_TRUE(strstr(recs, needle) != NULL);
    free(recs);
    hh_audit_verify_result_t vr;
    ASSERT_OK(hh_audit_verify_store(st, NULL, &vr, &err));
    ASSERT_TRUE(vr.ok);
    hh_test_srv_stop(&t.h);
}

TEST(conversations_cli_user_delete_takes_them)
{
    if (!getenv("HOHEIT_BIN")) {
        hh_test_fail(__FILE__, __LINE__, "HOHEIT_BIN is not set");
        return;
    }
    char dir[512];
    snprintf(dir, sizeof dir, "%s/conv-cli", hh_test_tmpdir());
    hh_store_t *s = NULL;
    hh_err_t err;
    hh_err_clear(&err);
    ASSERT_OK(hh_store_open(&s, dir, &err));
    ASSERT_OK(hh_store_user_ensure(s, "root", "admin", NULL, NULL, &err));
    ASSERT_OK(hh_store_user_ensure(s, "mia", "member", NULL, NULL, &err));
    int64_t mia = user_id(s, "mia");
    for (int i = 0; i < 3; i++)
        ASSERT_OK(hh_store_conv_create(s, mia, "Chat", NULL, NULL, &err));
    hh_store_close(s);
    char args[700], out[2048];
    snprintf(args, sizeof args, "users delete mia --yes --data %s", dir);
    ASSERT_EQ_INT(hh_test_run_cli(args, NULL, false, out, sizeof out), 0);
    ASSERT_TRUE(strstr(out, "3 conversations deleted") != NULL);
    ASSERT_OK(hh_store_open(&s, dir, &err));
    int64_t rows = -1;
    ASSERT_OK(hh_store_row_count(s, "conversations", &rows, &err));
    ASSERT_EQ_INT(rows, 0);
    hh_store_close(s);
    /* the sweep's option is checked */
    snprintf(args, sizeof args, "retention sweep --conversation-retention-days 99999 --data %s", dir);
    ASSERT_EQ_INT(hh_test_run_cli(args, NULL, false, NULL, 0), 2);
    snprintf(args, sizeof args, "retention sweep --conversation-retention-days 30 --data %s", dir);
    ASSERT_EQ_INT(hh_test_run_cli(args, NULL, false, out, sizeof out), 0);
    ASSERT_TRUE(strstr(out, "idle conversations deleted 0") != NULL);
}
