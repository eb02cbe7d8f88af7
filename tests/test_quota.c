/* test_quota.c - quotas and usage: the store functions (limits, counters,
 * reports, UTC days), the 429s of the real server with the stories260K
 * model (tokens per day, requests per minute, concurrent streams, a
 * department shared by two users) and service again after the window (the
 * server's quota clock moved, no sleeping), GET /api/usage by role,
 * /metrics, the CLI (`hoheit quota`, `hoheit usage`) and GDPR export /
 * erasure / retention of the usage rows, and the admin API that sets quotas
 * (GET /api/admin/quotas, PUT/DELETE /api/admin/quotas/users|departments/N). */
#include "harness.h"
#include "http_helpers.h"
#include "govern/gdpr.h"
#include "govern/register.h"
#include "store/store_int.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int64_t today(void)
{
    return (int64_t)time(NULL) / 86400;
}

/* ---- store ------------------------------------------------------------------ */

TEST(quota_store_days)
{
    int64_t d = 0;
    ASSERT_OK(hh_store_day_parse("1970-01-02", &d));
    ASSERT_EQ_INT(d, 1);
    ASSERT_OK(hh_store_day_parse("2024-02-29", &d));
    char buf[11];
    hh_store_day_format(d, buf);
    ASSERT_STREQ(buf, "2024-02-29");
    ASSERT_EQ_INT(hh_store_month_start(d), d - 28);
    int64_t m1 = 0;
    ASSERT_OK(hh_store_day_parse("2024-03-01", &m1));
    ASSERT_EQ_INT(hh_store_next_month_start(d), m1);
    ASSERT_OK(hh_store_day_parse("2026-12-31", &d));
    ASSERT_OK(hh_store_day_parse("2027-01-01", &m1));
    ASSERT_EQ_INT(hh_store_next_month_start(d), m1);   /* December carries into January */
    const char *bad[] = { "2023-02-29", "2026-13-01", "2026-1-01", "2026-01-01x", "", "yesterday", "1969-12-31" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ASSERT_EQ_INT(hh_store_day_parse(bad[i], &d), HH_EINVAL);
}

TEST(quota_store_limits_and_counters)
{
    char data[512];
    snprintf(data, sizeof data, "%s/quota-store", hh_test_tmpdir());
    hh_store_t *st = NULL;
    hh_err_t err;
    ASSERT_OK(hh_store_open(&st, data, &err));
    int v = 0;
    ASSERT_OK(hh_store_schema_version(st, &v, &err));
    ASSERT_GE(v, 10);   /* 10: quotas and usage; later migrations may follow */
    hh_store_user_t mia, bob;
    ASSERT_OK(hh_store_user_ensure(st, "mia", "member", &mia, NULL, &err));
    ASSERT_OK(hh_store_user_ensure(st, "bob", "admin", &bob, NULL, &err));
    ASSERT_OK(hh_store_user_add_department(st, "mia", "Sales", &err));
    ASSERT_OK(hh_store_user_add_department(st, "mia", "Ops", &err));
    ASSERT_OK(hh_store_user_add_department(st, "bob", "Sales", &err));

    /* set: only named limits change, 0 removes one, KEEP keeps it */
    hh_store_quota_t q = { .tokens_per_day = 1000, .tokens_per_month = HH_QUOTA_KEEP,
                           .requests_per_minute = HH_QUOTA_KEEP, .concurrent = 2 };
    ASSERT_OK(hh_store_quota_set(st, false, "mia", &q, &err));
    q = (hh_store_quota_t){ .tokens_per_day = HH_QUOTA_KEEP, .tokens_per_month = 20000,
                            .requests_per_minute = HH_QUOTA_KEEP, .concurrent = 0 };
    ASSERT_OK(hh_store_quota_set(st, false, "mia", &q, &err));
    q = (hh_store_quota_t){ .tokens_per_day = HH_QUOTA_KEEP, .tokens_per_month = HH_QUOTA_KEEP,
                            .requests_per_minute = 5, .concurrent = HH_QUOTA_KEEP };
    ASSERT_OK(hh_store_quota_set(st, true, "Sales", &q, &err));
    /* refusals: unknown names, values out of range; nothing changes */
    ASSERT_EQ_INT(hh_store_quota_set(st, false, "nobody", &q, &err), HH_ENOENT);
    ASSERT_TRUE(strstr(err.msg, "no user 'nobody'") != NULL);
    ASSERT_EQ_INT(hh_store_quota_set(st, true, "Nowhere", &q, &err), HH_ENOENT);
    ASSERT_TRUE(strstr(err.msg, "no department 'Nowhere'") != NULL);
    q.concurrent = -2;
    ASSERT_EQ_INT(hh_store_quota_set(st, false, "mia", &q, &err), HH_EINVAL);
    q.concurrent = HH_QUOTA_MAX + 1;
    ASSERT_EQ_INT(hh_store_quota_set(st, false, "mia", &q, &err), HH_EINVAL);

    hh_store_quota_t *l = NULL;
    size_t n = 0;
    ASSERT_OK(hh_store_quota_list(st, &l, &n, &err));
    ASSERT_EQ_INT(n, 2);
    ASSERT_FALSE(l[0].department);
    ASSERT_STREQ(l[0].subject, "mia");
    ASSERT_EQ_INT(l[0].tokens_per_day, 1000);
    ASSERT_EQ_INT(l[0].tokens_per_month, 20000);
    ASSERT_EQ_INT(l[0].requests_per_minute, 0);
    ASSERT_EQ_INT(l[0].concurrent, 0);
    ASSERT_TRUE(l[1].department);
    ASSERT_STREQ(l[1].subject, "Sales");
    ASSERT_EQ_INT(l[1].requests_per_minute, 5);
    ASSERT_EQ_INT(l[1].tokens_per_day, 0);
    free(l);

    /* subjects: the user first, then each department by name, limits or 0 */
    ASSERT_OK(hh_store_quota_subjects(st, mia.id, &l, &n, &err));
    ASSERT_EQ_INT(n, 3);
    ASSERT_STREQ(l[0].subject, "mia");
    ASSERT_EQ_INT(l[0].tokens_per_day, 1000);
    ASSERT_STREQ(l[1].subject, "Ops");
    ASSERT_EQ_INT(l[1].requests_per_minute, 0);
    ASSERT_STREQ(l[2].subject, "Sales");
    ASSERT_EQ_INT(l[2].requests_per_minute, 5);
    int64_t sales = l[2].subject_id, ops = l[1].subject_id;
    free(l);
    ASSERT_EQ_INT(hh_store_quota_subjects(st, 9999, &l, &n, &err), HH_ENOENT);

    /* a quota with every limit removed is gone; clear of none is ENOENT */
    q = (hh_store_quota_t){ .tokens_per_day = 0, .tokens_per_month = 0, .requests_per_minute = HH_QUOTA_KEEP,
                            .concurrent = HH_QUOTA_KEEP };
    ASSERT_OK(hh_store_quota_set(st, false, "mia", &q, &err));
    ASSERT_OK(hh_store_quota_list(st, &l, &n, &err));
    ASSERT_EQ_INT(n, 1);
    free(l);
    ASSERT_EQ_INT(hh_store_quota_clear(st, false, "mia", &err), HH_ENOENT);
    ASSERT_OK(hh_store_quota_clear(st, true, "Sales", &err));
    ASSERT_EQ_INT(hh_store_quota_clear(st, true, "Sales", &err), HH_ENOENT);
    ASSERT_EQ_INT(hh_store_quota_clear(st, true, "Nowhere", &err), HH_ENOENT);

    /* counters: per (user, day, use case), departments beside */
    int64_t d = today(), m0 = hh_store_month_start(d);
    int64_t both[2] = { ops, sales }, one[1] = { sales };
    ASSERT_OK(hh_store_usage_add(st, d, mia.id, both, 2, "general", 10, 5, &err));
    ASSERT_OK(hh_store_usage_add(st, d, mia.id, both, 2, "general", 7, 3, &err));
    ASSERT_OK(hh_store_usage_add(st, d, mia.id, both, 2, NULL, 4, 0, &err));
    ASSERT_OK(hh_store_usage_add(st, d - 1, mia.id, both, 2, "general", 100, 0, &err));
    ASSERT_OK(hh_store_usage_add(st, d, bob.id, one, 1, "letters", 1, 1, &err));
    ASSERT_EQ_INT(hh_store_usage_add(st, d, bob.id, one, 1, "x", -1, 0, &err), HH_EINVAL);
    int64_t tok = -1;
    ASSERT_OK(hh_store_usage_tokens(st, false, mia.id, d, d, &tok, &err));
    ASSERT_EQ_INT(tok, 29);
    ASSERT_OK(hh_store_usage_tokens(st, false, mia.id, d - 1, d, &tok, &err));
    ASSERT_EQ_INT(tok, 129);
    ASSERT_OK(hh_store_usage_tokens(st, true, sales, d, d, &tok, &err));
    ASSERT_EQ_INT(tok, 31);
    ASSERT_OK(hh_store_usage_tokens(st, true, ops, m0, d, &tok, &err));
    ASSERT_EQ_INT(tok, d - 1 >= m0 ? 129 : 29);

    hh_store_usage_row_t *r = NULL;
    ASSERT_OK(hh_store_usage_report(st, HH_USAGE_BY_USER, d, d, 0, &r, &n, &err));
    ASSERT_EQ_INT(n, 2);
    ASSERT_STREQ(r[0].group, "mia");   /* largest total first */
    ASSERT_EQ_INT(r[0].requests, 3);
    ASSERT_EQ_INT(r[0].prompt_tokens, 21);
    ASSERT_EQ_INT(r[0].completion_tokens, 8);
    ASSERT_STREQ(r[1].group, "bob");
    ASSERT_EQ_INT(r[1].requests, 1);
    free(r);
    ASSERT_OK(hh_store_usage_report(st, HH_USAGE_BY_USE_CASE, d - 1, d, mia.id, &r, &n, &err));
    ASSERT_EQ_INT(n, 2);
    ASSERT_STREQ(r[0].group, "general");
    ASSERT_EQ_INT(r[0].requests, 3);
    ASSERT_EQ_INT(r[0].prompt_tokens, 117);
    ASSERT_STREQ(r[1].group, "");
    ASSERT_EQ_INT(r[1].prompt_tokens, 4);
    free(r);
    ASSERT_OK(hh_store_usage_report(st, HH_USAGE_BY_DEPARTMENT, d, d, 0, &r, &n, &err));
    ASSERT_EQ_INT(n, 2);
    ASSERT_STREQ(r[0].group, "Sales");
    ASSERT_EQ_INT(r[0].requests, 4);
    ASSERT_EQ_INT(r[0].prompt_tokens + r[0].completion_tokens, 31);
    ASSERT_STREQ(r[1].group, "Ops");
    ASSERT_EQ_INT(r[1].prompt_tokens + r[1].completion_tokens, 29);
    free(r);
    ASSERT_OK(hh_store_usage_report(st, HH_USAGE_BY_USER, d + 1, d + 5, 0, &r, &n, &err));
    ASSERT_EQ_INT(n, 0);
    ASSERT_TRUE(r == NULL);
    hh_store_close(st);
}

/* ---- the server -------------------------------------------------------------- */

#define COMPLETION "{\"model\":\"stories260K\",\"prompt\":\"Once upon a time\",\"max_tokens\":%d,\"temperature\":0}"

static void set_quota(hh_store_t *st, bool dept, const char *name, int64_t tpd, int64_t rpm, int64_t conc)
{
    hh_store_quota_t q = { .tokens_per_day = tpd, .tokens_per_month = HH_QUOTA_KEEP, .requests_per_minute = rpm,
                           .concurrent = conc };
    hh_err_t err;
    ASSERT_OK(hh_store_quota_set(st, dept, name, &q, &err));
}

/* POST /v1/completions with max_tokens; the status, *total (may be NULL)
 * the answer's usage.total_tokens (0 when none); r kept for the caller
 * when not NULL. */
static int complete(int port, const char *key, int max_tokens, int64_t *total, hh_test_resp_t *keep)
{
    char body[256];
    snprintf(body, sizeof body, COMPLETION, max_tokens);
    hh_test_resp_t r;
    if (hh_test_http(port, "POST", "/v1/completions", key, body, &r) != 0)
        return -1;
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(r.j, "usage");
    const cJSON *tt = cJSON_GetObjectItemCaseSensitive(u, "total_tokens");
    if (total)
        *total = cJSON_IsNumber(tt) ? (int64_t)tt->valuedouble : 0;
    int status = r.status;
    if (keep)
        *keep = r;
    else
        hh_test_resp_free(&r);
    return status;
}

static const char *err_str(const hh_test_resp_t *r, const char *k)
{
    return hh_test_json_str(cJSON_GetObjectItemCaseSensitive(r->j, "error"), k);
}

static long retry_after(const hh_test_resp_t *r)
{
    char v[32];
    hh_test_resp_header(r, "Retry-After", v, sizeof v);
    return v[0] ? strtol(v, NULL, 10) : -1;
}

/* A metric line's value (exact series text before the space), -1 if absent. */
static double metric(const char *page, const char *series)
{
    size_t n = strlen(series);
    for (const char *p = page; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (!strncmp(p, series, n) && p[n] == ' ')
            return strtod(p + n + 1, NULL);
    return -1;
}

TEST(quota_http_tokens_per_day_then_next_day)
{
    hh_test_srv_t t;
    ASSERT_OK(hh_test_srv_start(&t, "quota-tpd", NULL));
    char key[HH_KEY_LEN + 1], admin[HH_KEY_LEN + 1];
    ASSERT_OK(hh_test_srv_user(&t, "mia", "member", key, NULL));
    ASSERT_OK(hh_test_srv_user(&t, "root", "admin", admin, NULL));
    set_quota(t.st, false, "mia", 60, HH_QUOTA_KEEP, HH_QUOTA_KEEP);
    /* requests run while the recorded total is under 60; the one after the
     * total reached it is refused (a request may end above the limit once) */
    int64_t used = 0, prompt_sum = 0;
    int ok = 0;
    hh_test_resp_t r = { 0 };
    for (int i = 0; i < 20; i++) {
        int64_t tot = 0;
        int status = complete(t.port, key, 8, &tot, &r);
        if (status != 200)
            break;
        ASSERT_TRUE(used < 60);
        ASSERT_GE(tot, 9);
        prompt_sum += (int64_t)cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r.j, "usage"),
                                                                "prompt_tokens")->valuedouble;
        used += tot;
        ok++;
        hh_test_resp_free(&r);
    }
    ASSERT_GE(used, 60);
    ASSERT_GE(ok, 1);
    ASSERT_LE(ok, 7);
    ASSERT_EQ_INT(r.status, 429);
    ASSERT_STREQ(err_str(&r, "code"), "quota_exceeded");
    ASSERT_STREQ(err_str(&r, "param"), "tokens_per_day");
    ASSERT_STREQ(err_str(&r, "type"), "tokens");
    const char *msg = err_str(&r, "message");
    ASSERT_TRUE(strstr(msg, "tokens_per_day limit of user 'mia' is 60") != NULL);
    char used_txt[64];
    snprintf(used_txt, sizeof used_txt, "(%lld tokens in this UTC day)", (long long)used);
    ASSERT_TRUE(strstr(msg, used_txt) != NULL);
    /* Retry-After: seconds to the next UTC midnight */
    long ra = retry_after(&r), to_midnight = 86400 - (long)(time(NULL) % 86400);
    ASSERT_NEAR(ra, to_midnight, 3);
    hh_test_resp_free(&r);
    /* the refusal is cheap and repeatable; the usage does not grow */
    ASSERT_EQ_INT(complete(t.port, key, 8, NULL, NULL), 429);
    ASSERT_OK(hh_test_http(t.port, "GET", "/api/usage", key, NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    const cJSON *row = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r.j, "data"), 0);
    ASSERT_STREQ(hh_test_json_str(row, "user"), "mia");
    ASSERT_EQ_INT(cJSON_GetObjectItemCaseSensitive(row, "total_tokens")->valuedouble, used);
    ASSERT_EQ_INT(cJSON_GetObjectItemCaseSensitive(row, "requests")->valuedouble, ok);
    hh_test_resp_free(&r);
    /* an admin is not limited by mia's quota (it has none) */
    ASSERT_EQ_INT(complete(t.port, admin, 2, NULL, NULL), 200);
    /* /metrics: tokens by department ("(none)") and use case ("general") */
    ASSERT_OK(hh_test_http(t.port, "GET", "/metrics", admin, NULL, &r));
    ASSERT_EQ_INT(metric(r.body, "hoheit_quota_rejections_total{limit=\"tokens_per_day\",scope=\"user\"}"), 2);
    ASSERT_EQ_INT(metric(r.body, "hoheit_usage_requests_total{department=\"(none)\",use_case=\"general\"}"), ok + 1);
    ASSERT_GE(metric(r.body, "hoheit_usage_tokens_total{department=\"(none)\",use_case=\"general\",type=\"prompt\"}"),
              (double)prompt_sum + 1);
    hh_test_resp_free(&r);
    /* the next UTC day: served again */
    hh_http_quota_clock_advance(t.s, 86400);
    ASSERT_EQ_INT(complete(t.port, key, 8, NULL, NULL), 200);
    hh_test_srv_stop(&t);
}

typedef struct racer {
    int         port;
    const char *key;
    int         status;
    char        code[48];
} racer_t;

static void *race_one(void *arg)
{
    racer_t *r = arg;
    hh_test_resp_t resp;
    char body[256];
    snprintf(body, sizeof body, COMPLETION, 1);
    r->status = hh_test_http(r->port, "POST", "/v1/completions", r->key, body, &resp) == 0 ? resp.status : -1;
    if (r->status > 0) {
        snprintf(r->code, sizeof r->code, "%s", err_str(&resp, "code"));
        hh_test_resp_free(&resp);
    }
    return NULL;
}

TEST(quota_http_requests_per_minute_then_next_minute)
{
    hh_test_srv_t t;
    ASSERT_OK(hh_test_srv_start(&t, "quota-rpm", NULL));
    char key[HH_KEY_LEN + 1];
    ASSERT_OK(hh_test_srv_user(&t, "mia", "member", key, NULL));
    set_quota(t.st, false, "mia", HH_QUOTA_KEEP, 3, HH_QUOTA_KEEP);
    /* start at second 1 of a quota-clock minute: 59 s for 4 requests */
    hh_http_quota_clock_advance(t.s, 61 - (int64_t)(time(NULL) % 60));
    for (int i = 0; i < 3; i++)
        ASSERT_EQ_INT(complete(t.port, key, 1, NULL, NULL), 200);
    hh_test_resp_t r;
    ASSERT_EQ_INT(complete(t.port, key, 1, NULL, &r), 429);
    ASSERT_STREQ(err_str(&r, "code"), "quota_exceeded");
    ASSERT_STREQ(err_str(&r, "param"), "requests_per_minute");
    ASSERT_STREQ(err_str(&r, "type"), "requests");
    ASSERT_TRUE(strstr(err_str(&r, "message"), "requests_per_minute limit of user 'mia' is 3") != NULL);
    long ra = retry_after(&r);
    ASSERT_GE(ra, 1);
    ASSERT_LE(ra, 59);
    hh_test_resp_free(&r);
    /* every generating route is limited, checked before any work (the
     * embeddings model does not even exist here: 429, not 404) */
    static const char *const routes[][2] = {
        { "/v1/chat/completions", "{\"model\":\"stories260K\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}" },
        { "/api/ask", "{\"question\":\"what is the travel policy?\"}" },
        { "/v1/embeddings", "{\"model\":\"no-such-embedder\",\"input\":\"hello\"}" },
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        ASSERT_OK(hh_test_http(t.port, "POST", routes[i][0], key, routes[i][1], &r));
        ASSERT_EQ_INT(r.status, 429);
        ASSERT_STREQ(err_str(&r, "code"), "quota_exceeded");
        hh_test_resp_free(&r);
    }
    /* the refused request was not counted: after the minute, 3 again */
    hh_http_quota_clock_advance(t.s, 60);
    for (int i = 0; i < 3; i++)
        ASSERT_EQ_INT(complete(t.port, key, 1, NULL, NULL), 200);
    ASSERT_EQ_INT(complete(t.port, key, 1, NULL, NULL), 429);
    /* exact under concurrency: 12 requests at once against 5 places */
    hh_http_quota_clock_advance(t.s, 60);
    set_quota(t.st, false, "mia", HH_QUOTA_KEEP, 5, HH_QUOTA_KEEP);
    enum { N_RACE = 12 };
    racer_t rs[N_RACE];
    pthread_t th[N_RACE];
    for (int i = 0; i < N_RACE; i++) {
        rs[i] = (racer_t){ .port = t.port, .key = key };
        ASSERT_EQ_INT(pthread_create(&th[i], NULL, race_one, &rs[i]), 0);
    }
    int n200 = 0, n429 = 0;
    for (int i = 0; i < N_RACE; i++) {
        pthread_join(th[i], NULL);
        n200 += rs[i].status == 200;
        n429 += rs[i].status == 429 && !strcmp(rs[i].code, "quota_exceeded");
    }
    ASSERT_EQ_INT(n200, 5);
    ASSERT_EQ_INT(n429, N_RACE - 5);
    /* a quota removed by the CLI's store function applies to the next request */
    set_quota(t.st, false, "mia", HH_QUOTA_KEEP, 0, HH_QUOTA_KEEP);
    ASSERT_EQ_INT(complete(t.port, key, 1, NULL, NULL), 200);
    hh_test_srv_stop(&t);
}

/* Opens a streamed completion and reads until its first data event; the
 * socket (caller closes), or -1. On a refusal *status gets it. */
static int open_stream(int port, const char *key, int *status)
{
    *status = 0;
    int fd = hh_test_http_connect(port);
    if (fd < 0)
        return -1;
    const char *body = "{\"model\":\"stories260K\",\"prompt\":\"Once upon a time\",\"max_tokens\":480,\"stream\":true,"
                       "\"temperature\":0.8,\"seed\":1}";
    char head[512];
    int hn = snprintf(head, sizeof head,
                      "POST /v1/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                      "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                      key, strlen(body));
    if (!hh_test_http_send_all(fd, head, (size_t)hn) || !hh_test_http_send_all(fd, body, strlen(body))) {
        close(fd);
        return -1;
    }
    char buf[4096];
    size_t got = 0;
    while (got < sizeof buf - 1) {
        ssize_t k = recv(fd, buf + got, sizeof buf - 1 - got, 0);
        if (k <= 0)
            break;
        got += (size_t)k;
        buf[got] = '\0';
        if (strstr(buf, "data: "))
            return fd;
        if (!strncmp(buf, "HTTP/1.1 ", 9) && strncmp(buf, "HTTP/1.1 200", 12) && strstr(buf, "\r\n\r\n")) {
            *status = atoi(buf + 9);
            break;
        }
    }
    close(fd);
    return -1;
}

static void reset_close(int fd)
{
    struct linger lg = { 1, 0 };
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(fd);
}

TEST(quota_http_concurrent_streams)
{
    hh_test_srv_params_t p = hh_test_srv_default_params();
    p.http.engine.n_slots = 3;
    hh_test_srv_t t;
    ASSERT_OK(hh_test_srv_start(&t, "quota-conc", &p));
    char key[HH_KEY_LEN + 1];
    ASSERT_OK(hh_test_srv_user(&t, "mia", "member", key, NULL));
    set_quota(t.st, false, "mia", HH_QUOTA_KEEP, HH_QUOTA_KEEP, 2);
    int st = 0;
    int a = open_stream(t.port, key, &st);
    ASSERT_TRUE(a >= 0);
    int b = open_stream(t.port, key, &st);
    ASSERT_TRUE(b >= 0);
    /* the third, stream or not, is refused while two run */
    hh_test_resp_t r;
    ASSERT_EQ_INT(complete(t.port, key, 1, NULL, &r), 429);
    ASSERT_STREQ(err_str(&r, "code"), "quota_exceeded");
    ASSERT_STREQ(err_str(&r, "param"), "concurrent");
    ASSERT_TRUE(strstr(err_str(&r, "message"), "concurrent limit of user 'mia' is 2 (2 requests running)") != NULL);
    ASSERT_EQ_INT(retry_after(&r), 1);
    hh_test_resp_free(&r);
    int c = open_stream(t.port, key, &st);
    ASSERT_EQ_INT(c, -1);
    ASSERT_EQ_INT(st, 429);
    /* one client goes away: its place frees once the server notices */
    reset_close(a);
    int status = 0;
    for (int i = 0; i < 300 && status != 200; i++) {
        status = complete(t.port, key, 1, NULL, NULL);
        if (status != 200)
            usleep(10000);
    }
    ASSERT_EQ_INT(status, 200);
    /* the canceled stream was charged what it processed before the cancel */
    hh_test_resp_t u;
    ASSERT_OK(hh_test_http(t.port, "GET", "/api/usage", key, NULL, &u));
    const cJSON *row = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(u.j, "data"), 0);
    ASSERT_GE(cJSON_GetObjectItemCaseSensitive(row, "requests")->valuedouble, 2);
    ASSERT_GE(cJSON_GetObjectItemCaseSensitive(row, "completion_tokens")->valuedouble, 2);
    hh_test_resp_free(&u);
    reset_close(b);
    /* a stream read to its end frees its place before [DONE] reaches the
     * client: the next request right after it is served */
    set_quota(t.st, false, "mia", HH_QUOTA_KEEP, HH_QUOTA_KEEP, 1);
    for (int i = 0; i < 300; i++) {   /* b's cancel may still be under way */
        status = complete(t.port, key, 1, NULL, NULL);
        if (status == 200)
            break;
        usleep(10000);
    }
    ASSERT_EQ_INT(status, 200);
    /* a request that fails after its check (unknown model) frees its place too */
    for (int i = 0; i < 3; i++) {
        ASSERT_OK(hh_test_http(t.port, "POST", "/v1/completions", key, "{\"model\":\"nope\",\"prompt\":\"a\"}", &r));
        ASSERT_EQ_INT(r.status, 404);
        hh_test_resp_free(&r);
    }
    const char *sb = "{\"model\":\"stories260K\",\"prompt\":\"Once\",\"max_tokens\":6,\"stream\":true}";
    for (int i = 0; i < 5; i++) {
        ASSERT_OK(hh_test_http(t.port, "POST", "/v1/completions", key, sb, &r));
        ASSERT_EQ_INT(r.status, 200);
        ASSERT_TRUE(strstr(r.body, "data: [DONE]") != NULL);
        hh_test_resp_free(&r);
    }
    hh_test_srv_stop(&t);
}

TEST(quota_http_department_shared_by_two_users)
{
    hh_test_srv_t t;
    ASSERT_OK(hh_test_srv_start(&t, "quota-dept", NULL));
    char ann[HH_KEY_LEN + 1], ben[HH_KEY_LEN + 1], cal[HH_KEY_LEN + 1];
    ASSERT_OK(hh_test_srv_user(&t, "ann", "member", ann, NULL));
    ASSERT_OK(hh_test_srv_user(&t, "ben", "admin", ben, NULL));   /* admins are limited too */
    ASSERT_OK(hh_test_srv_user(&t, "cal", "member", cal, NULL));
    hh_err_t err;
    ASSERT_OK(hh_store_user_add_department(t.st, "ann", "Sales", &err));
    ASSERT_OK(hh_store_user_add_department(t.st, "ben", "Sales", &err));
    ASSERT_OK(hh_store_user_add_department(t.st, "cal", "Ops", &err));
    set_quota(t.st, true, "Sales", 30, HH_QUOTA_KEEP, HH_QUOTA_KEEP);
    /* ann spends the department's day in one request (it may end above) */
    int64_t tot = 0;
    ASSERT_EQ_INT(complete(t.port, ann, 40, &tot, NULL), 200);
    ASSERT_GE(tot, 30);
    /* ben, same department, is refused; the message names the department */
    hh_test_resp_t r;
    ASSERT_EQ_INT(complete(t.port, ben, 1, NULL, &r), 429);
    ASSERT_STREQ(err_str(&r, "param"), "tokens_per_day");
    ASSERT_TRUE(strstr(err_str(&r, "message"), "tokens_per_day limit of department 'Sales' is 30") != NULL);
    hh_test_resp_free(&r);
    ASSERT_EQ_INT(complete(t.port, ann, 1, NULL, NULL), 429);
    /* cal (Ops) is not touched */
    ASSERT_EQ_INT(complete(t.port, cal, 1, NULL, NULL), 200);
    /* usage by department: Sales has ann's tokens, Ops cal's */
    ASSERT_OK(hh_test_http(t.port, "GET", "/api/usage?by=department", ben, NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    const cJSON *d0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r.j, "data"), 0);
    ASSERT_STREQ(hh_test_json_str(d0, "department"), "Sales");
    ASSERT_EQ_INT(cJSON_GetObjectItemCaseSensitive(d0, "total_tokens")->valuedouble, tot);
    ASSERT_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r.j, "data")), 2);
    hh_test_resp_free(&r);
    /* a month quota of the department: the next month is free again for the
     * day limit, but 200 tokens a month hold across days */
    set_quota(t.st, true, "Sales", 0, HH_QUOTA_KEEP, HH_QUOTA_KEEP);
    hh_store_quota_t q = { .tokens_per_day = HH_QUOTA_KEEP, .tokens_per_month = tot, .requests_per_minute = HH_QUOTA_KEEP,
                           .concurrent = HH_QUOTA_KEEP };
    ASSERT_OK(hh_store_quota_set(t.st, true, "Sales", &q, &err));
    ASSERT_EQ_INT(complete(t.port, ben, 1, NULL, &r), 429);
    ASSERT_STREQ(err_str(&r, "param"), "tokens_per_month");
    int64_t now = (int64_t)time(NULL), next_month = hh_store_next_month_start(now / 86400) * 86400;
    ASSERT_NEAR(retry_after(&r), (double)(next_month - now), 3);
    hh_test_resp_free(&r);
    hh_http_quota_clock_advance(t.s, next_month - now + 5);
    ASSERT_EQ_INT(complete(t.port, ben, 1, NULL, NULL), 200);
    hh_test_srv_stop(&t);
}

TEST(quota_http_usage_api_by_role)
{
    hh_test_srv_t t;
    ASSERT_OK(hh_test_srv_start(&t, "quota-api", NULL));
    char admin[HH_KEY_LEN + 1], mia[HH_KEY_LEN + 1], bob[HH_KEY_LEN + 1], aud[HH_KEY_LEN + 1];
    ASSERT_OK(hh_test_srv_user(&t, "root", "admin", admin, NULL));
    ASSERT_OK(hh_test_srv_user(&t, "mia", "member", mia, NULL));
    ASSERT_OK(hh_test_srv_user(&t, "bob", "member", bob, NULL));
    ASSERT_OK(hh_test_srv_user(&t, "audrey", "auditor", aud, NULL));
    int64_t tm = 0, tb = 0, x = 0;
    ASSERT_EQ_INT(complete(t.port, mia, 3, &x, NULL), 200);
    tm += x;
    ASSERT_EQ_INT(complete(t.port, mia, 5, &x, NULL), 200);
    tm += x;
    ASSERT_EQ_INT(complete(t.port, bob, 4, &tb, NULL), 200);
    hh_test_resp_t r;
    ASSERT_OK(hh_test_http(t.port, "GET", "/api/usage", admin, NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_STREQ(hh_test_json_str(r.j, "by"), "user");
    ASSERT_STREQ(hh_test_json_str(r.j, "timezone"), "UTC");
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(r.j, "data");
    ASSERT_EQ_INT(cJSON_GetArraySize(data), 2);
    int64_t seen_m = -1, seen_b = -1;
    const cJSON *row;
    cJSON_ArrayForEach(row, data) {
        int64_t v = (int64_t)cJSON_GetObjectItemCaseSensitive(row, "total_tokens")->valuedouble;
        if (!strcmp(hh_test_json_str(row, "user"), "mia"))
            seen_m = v;
        if (!strcmp(hh_test_json_str(row, "user"), "bob"))
            seen_b = v;
    }
    ASSERT_EQ_INT(seen_m, tm);
    ASSERT_EQ_INT(seen_b, tb);
    hh_test_resp_free(&r);
    /* the auditor sees all too */
    ASSERT_OK(hh_test_http(t.port, "GET", "/api/usage?by=use-case", aud, NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    row = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r.j, "data"), 0);
    ASSERT_STREQ(hh_test_json_str(row, "use_case"), "general");
    ASSERT_EQ_INT(cJSON_GetObjectItemCaseSensitive(row, "total_tokens")->valuedouble, tm + tb);
    hh_test_resp_free(&r);
    /* a member: only its own row, whatever it asks for */
    ASSERT_OK(hh_test_http(t.port, "GET", "/api/usage?by=user", mia, NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    data = cJSON_GetObjectItemCaseSensitive(r.j, "data");
    ASSERT_EQ_INT(cJSON_GetArraySize(data), 1);
    ASSERT_STREQ(hh_test_json_str(cJSON_GetArrayItem(data, 0), "user"), "mia");
    ASSERT_EQ_INT(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(data, 0), "total_tokens")->valuedouble, tm);
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(t.port, "GET", "/api/usage?by=use-case", bob, NULL, &r));
    ASSERT_EQ_INT(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r.j, "data"), 0),
                                                   "total_tokens")->valuedouble, tb);
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(t.port, "GET", "/api/usage?by=department", mia, NULL, &r));
    ASSERT_EQ_INT(r.status, 403);
    hh_test_resp_free(&r);
    /* a period without usage; bad parameters */
    ASSERT_OK(hh_test_http(t.port, "GET", "/api/usage?from=2020-01-01&to=2020-01-31", admin, NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r.j, "data")), 0);
    ASSERT_STREQ(hh_test_json_str(r.j, "from"), "2020-01-01");
    hh_test_resp_free(&r);
    const char *bad[] = { "/api/usage?from=2020-02-30", "/api/usage?by=team", "/api/usage?from=2020-02-02&to=2020-02-01",
                          "/api/usage?to=tomorrow" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ASSERT_OK(hh_test_http(t.port, "GET", bad[i], admin, NULL, &r));
        ASSERT_EQ_INT(r.status, 400);
        hh_test_resp_free(&r);
    }
    ASSERT_OK(hh_test_http(t.port, "GET", "/api/usage", NULL, NULL, &r));
    ASSERT_EQ_INT(r.status, 401);
    hh_test_resp_free(&r);
    hh_test_srv_stop(&t);
}

/* ---- CLI ----------------------------------------------------------------------- */

static int run_cli(const char *args)
{
    return hh_test_run_cli(args, NULL, false, NULL, 0);
}

/* Runs the CLI and returns its stdout (malloc'd) or NULL. */
static char *cli_out(const char *args, int *status)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s %s 2>/dev/null", getenv("HOHEIT_BIN"), args);
    FILE *f = popen(cmd, "r");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    char tmp[4096];
    size_t k;
    while ((k = fread(tmp, 1, sizeof tmp, f)) > 0)
        fwrite(tmp, 1, k, m);
    fclose(m);
    int st = pclose(f);
    *status = WIFEXITED(st) ? WEXITSTATUS(st) : -2;
    return buf;
}

TEST(quota_cli_set_list_clear_and_usage)
{
    if (!getenv("HOHEIT_BIN")) {
        printf("    HOHEIT_BIN is not set (run through `make test`)\n");
        return;
    }
    char data[512], a[1024];
    snprintf(data, sizeof data, "%s/quota-cli", hh_test_tmpdir());
    hh_store_t *st = NULL;
    hh_err_t err;
    ASSERT_OK(hh_store_open(&st, data, &err));
    hh_store_user_t mia;
    ASSERT_OK(hh_store_user_ensure(st, "mia", "member", &mia, NULL, &err));
    ASSERT_OK(hh_store_user_add_department(st, "mia", "Sales", &err));
    int64_t dept = 0;
    ASSERT_OK(hh_store_department_ensure(st, "Sales", &dept, &err));
    int64_t d = 0;
    ASSERT_OK(hh_store_day_parse("2026-03-10", &d));
    ASSERT_OK(hh_store_usage_add(st, d, mia.id, &dept, 1, "letters", 120, 30, &err));
    ASSERT_OK(hh_store_usage_add(st, d + 1, mia.id, &dept, 1, "letters", 5, 5, &err));
    ASSERT_OK(hh_store_usage_add(st, d + 40, mia.id, &dept, 1, "letters", 999, 0, &err));
    hh_store_close(st);

    /* refusals: no subject, both, unknown names, negative / bad numbers, no limit */
    ASSERT_EQ_INT(run_cli("quota"), 2);
    snprintf(a, sizeof a, "quota set --tokens-per-day 5 --data %s", data);
    ASSERT_EQ_INT(run_cli(a), 2);
    snprintf(a, sizeof a, "quota set --user mia --department Sales --concurrent 1 --data %s", data);
    ASSERT_EQ_INT(run_cli(a), 2);
    snprintf(a, sizeof a, "quota set --user nobody --concurrent 1 --data %s", data);
    ASSERT_EQ_INT(run_cli(a), 1);
    snprintf(a, sizeof a, "quota set --department Nowhere --concurrent 1 --data %s", data);
    ASSERT_EQ_INT(run_cli(a), 1);
    snprintf(a, sizeof a, "quota set --user mia --tokens-per-day -5 --data %s", data);
    ASSERT_EQ_INT(run_cli(a), 2);
    snprintf(a, sizeof a, "quota set --user mia --tokens-per-day 12abc --data %s", data);
    ASSERT_EQ_INT(run_cli(a), 2);
    snprintf(a, sizeof a, "quota set --user mia --data %s", data);
    ASSERT_EQ_INT(run_cli(a), 2);
    snprintf(a, sizeof a, "quota clear --user mia --data %s", data);
    ASSERT_EQ_INT(run_cli(a), 1);   /* has none */
    /* set, change, list */
    snprintf(a, sizeof a, "quota set --user mia --tokens-per-day 5000 --concurrent 2 --data %s", data);
    ASSERT_EQ_INT(run_cli(a), 0);
    snprintf(a, sizeof a, "quota set --user mia --concurrent none --tokens-per-month 90000 --data %s", data);
    ASSERT_EQ_INT(run_cli(a), 0);
    snprintf(a, sizeof a, "quota set --department Sales --requests-per-minute 30 --data %s", data);
    ASSERT_EQ_INT(run_cli(a), 0);
    int status = -1;
    snprintf(a, sizeof a, "quota list --json --data %s", data);
    char *out = cli_out(a, &status);
    ASSERT_EQ_INT(status, 0);
    cJSON *j = cJSON_Parse(out);
    free(out);
    ASSERT_EQ_INT(cJSON_GetArraySize(j), 2);
    const cJSON *q0 = cJSON_GetArrayItem(j, 0), *q1 = cJSON_GetArrayItem(j, 1);
    ASSERT_STREQ(hh_test_json_str(q0, "scope"), "user");
    ASSERT_STREQ(hh_test_json_str(q0, "name"), "mia");
    ASSERT_EQ_INT(cJSON_GetObjectItemCaseSensitive(q0, "tokens_per_day")->valuedouble, 5000);
    ASSERT_EQ_INT(cJSON_GetObjectItemCaseSensitive(q0, "tokens_per_month")->valuedouble, 90000);
    ASSERT_TRUE(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(q0, "concurrent")));
    ASSERT_STREQ(hh_test_json_str(q1, "scope"), "department");
    ASSERT_EQ_INT(cJSON_GetObjectItemCaseSensitive(q1, "requests_per_minute")->valuedouble, 30);
    cJSON_Delete(j);
    snprintf(a, sizeof a, "quota list --data %s", data);
    out = cli_out(a, &status);
    ASSERT_EQ_INT(status, 0);
    ASSERT_TRUE(out && strstr(out, "user        mia") && strstr(out, "5000") && strstr(out, "90000"));
    free(out);
    snprintf(a, sizeof a, "quota clear --department Sales --data %s", data);
    ASSERT_EQ_INT(run_cli(a), 0);
    snprintf(a, sizeof a, "quota list --json --data %s", data);
    out = cli_out(a, &status);
    j = cJSON_Parse(out);
    free(out);
    ASSERT_EQ_INT(cJSON_GetArraySize(j), 1);
    cJSON_Delete(j);

    /* usage: the period picks the rows; values per group */
    snprintf(a, sizeof a, "usage --by department --from 2026-03-01 --to 2026-03-31 --json --data %s", data);
    out = cli_out(a, &status);
    ASSERT_EQ_INT(status, 0);
    j = cJSON_Parse(out);
    free(out);
    const cJSON *row = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "data"), 0);
    ASSERT_STREQ(hh_test_json_str(row, "department"), "Sales");
    ASSERT_EQ_INT(cJSON_GetObjectItemCaseSensitive(row, "requests")->valuedouble, 2);
    ASSERT_EQ_INT(cJSON_GetObjectItemCaseSensitive(row, "prompt_tokens")->valuedouble, 125);
    ASSERT_EQ_INT(cJSON_GetObjectItemCaseSensitive(row, "completion_tokens")->valuedouble, 35);
    ASSERT_EQ_INT(cJSON_GetObjectItemCaseSensitive(row, "total_tokens")->valuedouble, 160);
    cJSON_Delete(j);
    snprintf(a, sizeof a, "usage --by use-case --from 2026-03-10 --to 2026-03-10 --data %s", data);
    out = cli_out(a, &status);
    ASSERT_EQ_INT(status, 0);
    ASSERT_TRUE(out && strstr(out, "usage 2026-03-10 .. 2026-03-10 (UTC)"));
    ASSERT_TRUE(strstr(out, "letters                            1             120                 30             150")
                != NULL);
    free(out);
    snprintf(a, sizeof a, "usage --from 2026-04-31 --data %s", data);
    ASSERT_EQ_INT(run_cli(a), 2);
    snprintf(a, sizeof a, "usage --by team --data %s", data);
    ASSERT_EQ_INT(run_cli(a), 2);
    snprintf(a, sizeof a, "usage --from 2026-03-02 --to 2026-03-01 --data %s", data);
    ASSERT_EQ_INT(run_cli(a), 2);
}

/* ---- GDPR ------------------------------------------------------------------------ */

TEST(quota_gdpr_export_erase_retention_of_usage)
{
    char data[512];
    snprintf(data, sizeof data, "%s/quota-gdpr", hh_test_tmpdir());
    hh_store_t *st = NULL;
    hh_err_t err;
    ASSERT_OK(hh_store_open(&st, data, &err));
    hh_store_user_t erika, otto;
    ASSERT_OK(hh_store_user_ensure(st, "erika.mustermann", "member", &erika, NULL, &err));
    ASSERT_OK(hh_store_user_ensure(st, "otto", "member", &otto, NULL, &err));
    int64_t dept = 0;
    ASSERT_OK(hh_store_user_add_department(st, "erika.mustermann", "Sales", &err));
    ASSERT_OK(hh_store_department_ensure(st, "Sales", &dept, &err));
    int64_t d = today();
    ASSERT_OK(hh_store_usage_add(st, d, erika.id, &dept, 1, "general", 40, 2, &err));
    ASSERT_OK(hh_store_usage_add(st, d - 400, erika.id, &dept, 1, "letters", 7, 1, &err));
    ASSERT_OK(hh_store_usage_add(st, d - 400, otto.id, NULL, 0, "letters", 3, 3, &err));
    hh_store_quota_t q = { .tokens_per_day = 100, .tokens_per_month = HH_QUOTA_KEEP,
                           .requests_per_minute = HH_QUOTA_KEEP, .concurrent = HH_QUOTA_KEEP };
    ASSERT_OK(hh_store_quota_set(st, false, "erika.mustermann", &q, &err));

    /* export: one "usage" hit per (day, use case) with its counts */
    const char *subj[1] = { "Erika.Mustermann" };
    cJSON *doc = NULL;
    ASSERT_OK(hh_gdpr_export(st, subj, 1, "admin", &doc, &err));
    ASSERT_EQ_INT(hh_test_count_hits(doc, "usage", -1), 2);
    char day[11];
    hh_store_day_format(d, day);
    bool found = false;
    const cJSON *h;
    cJSON_ArrayForEach(h, cJSON_GetObjectItemCaseSensitive(doc, "hits")) {
        if (strcmp(hh_test_json_str(h, "where"), "usage") || strcmp(hh_test_json_str(h, "day"), day))
            continue;
        found = true;
        ASSERT_STREQ(hh_test_json_str(h, "use_case"), "general");
        ASSERT_EQ_INT(cJSON_GetObjectItemCaseSensitive(h, "prompt_tokens")->valuedouble, 40);
        ASSERT_EQ_INT(cJSON_GetObjectItemCaseSensitive(h, "completion_tokens")->valuedouble, 2);
        ASSERT_EQ_INT(cJSON_GetObjectItemCaseSensitive(h, "user_id")->valuedouble, erika.id);
    }
    ASSERT_TRUE(found);
    cJSON_Delete(doc);

    /* retention: with a 30-day use case registered, rows older than 30 days
     * (and not in this month) lose their user; this month's stay */
    cJSON *uc = cJSON_Parse("{\"slug\":\"faq\",\"purpose\":\"answers\",\"answers\":{},"
                            "\"policy\":{\"retention_days\":30}}");
    ASSERT_OK(hh_register_create(st, uc, "admin", NULL, &err));
    cJSON_Delete(uc);
    hh_gdpr_sweep_result_t sw;
    ASSERT_OK(hh_gdpr_retention_sweep(st, 0, NULL, &sw, &err));
    ASSERT_EQ_INT(sw.usage_rows, 2);   /* erika's and otto's of 400 days ago */
    hh_store_usage_row_t *r = NULL;
    size_t n = 0;
    ASSERT_OK(hh_store_usage_report(st, HH_USAGE_BY_USER, d - 400, d - 400, 0, &r, &n, &err));
    ASSERT_EQ_INT(n, 1);
    ASSERT_STREQ(r[0].group, "");
    ASSERT_EQ_INT(r[0].prompt_tokens, 10);
    free(r);
    ASSERT_OK(hh_gdpr_export(st, subj, 1, "admin", &doc, &err));
    ASSERT_EQ_INT(hh_test_count_hits(doc, "usage", -1), 1);
    cJSON_Delete(doc);

    /* erasure: today's row loses its user too, the user and its quota go;
     * department and use-case totals stay */
    hh_gdpr_erase_result_t er;
    ASSERT_OK(hh_gdpr_erase(st, subj, 1, "admin", &er, &err));
    ASSERT_EQ_INT(er.usage_rows, 1);
    ASSERT_EQ_INT(er.users, 1);
    ASSERT_OK(hh_store_usage_report(st, HH_USAGE_BY_USER, d, d, 0, &r, &n, &err));
    ASSERT_EQ_INT(n, 1);
    ASSERT_STREQ(r[0].group, "");
    ASSERT_EQ_INT(r[0].prompt_tokens, 40);
    free(r);
    ASSERT_OK(hh_store_usage_report(st, HH_USAGE_BY_DEPARTMENT, d - 400, d, 0, &r, &n, &err));
    ASSERT_EQ_INT(n, 1);
    ASSERT_EQ_INT(r[0].prompt_tokens, 47);
    free(r);
    hh_store_quota_t *ql = NULL;
    ASSERT_OK(hh_store_quota_list(st, &ql, &n, &err));
    ASSERT_EQ_INT(n, 0);
    free(ql);
    sqlite3_stmt *s1 = NULL;
    long long named = -1;
    pthread_mutex_lock(&st->mu);
    if (sqlite3_prepare_v2(st->db, "SELECT count(*) FROM usage WHERE user_id = ?", -1, &s1, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(s1, 1, erika.id);
        if (sqlite3_step(s1) == SQLITE_ROW)
            named = sqlite3_column_int64(s1, 0);
    }
    sqlite3_finalize(s1);
    pthread_mutex_unlock(&st->mu);
    ASSERT_EQ_INT(named, 0);
    hh_store_close(st);
}

/* Attack: a member of Sales reads /metrics (any valid key may) to learn
 * which use cases HR runs and how many tokens HR spends. The usage series
 * carry department labels, so they are for admins and auditors only (as
 * /api/usage?by=department is); a member sees the metric names, no series. */
TEST(quota_metrics_usage_series_hidden_from_members)
{
    hh_test_srv_t t;
    ASSERT_OK(hh_test_srv_start(&t, "quota-metrics-leak", NULL));
    char hr[HH_KEY_LEN + 1], spy[HH_KEY_LEN + 1], admin[HH_KEY_LEN + 1], aud[HH_KEY_LEN + 1];
    ASSERT_OK(hh_test_srv_user(&t, "hanna", "member", hr, NULL));
    ASSERT_OK(hh_test_srv_user(&t, "spy", "member", spy, NULL));
    ASSERT_OK(hh_test_srv_user(&t, "root", "admin", admin, NULL));
    ASSERT_OK(hh_test_srv_user(&t, "audrey", "auditor", aud, NULL));
    hh_err_t err;
    ASSERT_OK(hh_store_user_add_department(t.st, "hanna", "HR-Layoffs", &err));
    ASSERT_OK(hh_store_user_add_department(t.st, "spy", "Sales", &err));
    int64_t tot = 0;
    ASSERT_EQ_INT(complete(t.port, hr, 4, &tot, NULL), 200);
    ASSERT_GE(tot, 1);
    hh_test_resp_t r;
    /* a member gets no metrics at all (issue 12: the global counters are
     * for admins and auditors; threat_metrics_member_403) */
    ASSERT_OK(hh_test_http(t.port, "GET", "/metrics", spy, NULL, &r));
    ASSERT_EQ_INT(r.status, 403);
    ASSERT_TRUE(strstr(r.body, "HR-Layoffs") == NULL);
    ASSERT_TRUE(strstr(r.body, "hoheit_usage") == NULL);
    hh_test_resp_free(&r);
    const char *readers[] = { admin, aud };
    for (int i = 0; i < 2; i++) {
        ASSERT_OK(hh_test_http(t.port, "GET", "/metrics", readers[i], NULL, &r));
        ASSERT_EQ_INT(r.status, 200);
        ASSERT_EQ_INT(metric(r.body, "hoheit_usage_requests_total{department=\"HR-Layoffs\",use_case=\"general\"}"), 1);
        hh_test_resp_free(&r);
    }
    hh_test_srv_stop(&t);
}

/* Department names are compared ignoring case everywhere (migration 9):
 * `hoheit quota set --department sales` limits the department "Sales"
 * (it said "no department 'sales'", while `users add-department` and
 * `departments rename` accept any case). */
TEST(quota_store_department_name_ignores_case)
{
    char data[512];
    snprintf(data, sizeof data, "%s/quota-nocase", hh_test_tmpdir());
    hh_store_t *st = NULL;
    hh_err_t err;
    ASSERT_OK(hh_store_open(&st, data, &err));
    hh_store_user_t mia;
    ASSERT_OK(hh_store_user_ensure(st, "mia", "member", &mia, NULL, &err));
    ASSERT_OK(hh_store_user_add_department(st, "mia", "Sales", &err));
    hh_store_quota_t q = { .tokens_per_day = 77, .tokens_per_month = HH_QUOTA_KEEP,
                           .requests_per_minute = HH_QUOTA_KEEP, .concurrent = HH_QUOTA_KEEP };
    ASSERT_OK(hh_store_quota_set(st, true, "sales", &q, &err));
    hh_store_quota_t *subj = NULL;
    size_t n = 0;
    ASSERT_OK(hh_store_quota_subjects(st, mia.id, &subj, &n, &err));
    ASSERT_EQ_INT(n, 2);
    ASSERT_STREQ(subj[1].subject, "Sales");
    ASSERT_EQ_INT(subj[1].tokens_per_day, 77);
    free(subj);
    ASSERT_OK(hh_store_quota_clear(st, true, "SALES", &err));
    ASSERT_EQ_INT(hh_store_quota_clear(st, true, "Sales", &err), HH_ENOENT);   /* gone, whatever the case */
    hh_store_close(st);
}

/* ---- the admin API (admin.c: /api/admin/quotas) ----------------------------------- */

/* "admin" audit records with decision whose detail is LIKE pattern, by user. */
static int64_t quota_audits(hh_store_t *s, const char *user, const char *pattern, const char *decision)
{
    sqlite3_stmt *st = NULL;
    int64_t v = -1;
    char dec[64];
    snprintf(dec, sizeof dec, "\"decision\":\"%s\"", decision);
    pthread_mutex_lock(&s->mu);
    if (sqlite3_prepare_v2(s->db,
                           "SELECT COUNT(*) FROM audit_log WHERE detail LIKE ?1 AND user_name = ?2 "
                           "AND instr(CAST(record AS TEXT), ?3) > 0 "
                           "AND instr(CAST(record AS TEXT), '\"kind\":\"admin\"') > 0",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, pattern, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, user, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 3, dec, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(st) == SQLITE_ROW)
            v = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    return v;
}

/* The element of GET /api/admin/quotas's data for scope/name, or NULL. */
static const cJSON *quota_row(const hh_test_resp_t *r, const char *scope, const char *name)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(r->j, "data"))
        if (!strcmp(hh_test_json_str(it, "scope"), scope) && !strcmp(hh_test_json_str(it, "name"), name))
            return it;
    return NULL;
}

/* A number member (-1 when null, -2 when absent or anything else). */
static int64_t num_or_null(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : cJSON_IsNull(v) ? -1 : -2;
}

/* GET /api/admin/quotas as root: the body (caller frees). */
static char *quota_list_body(int port, const char *key)
{
    hh_test_resp_t r;
    if (hh_test_http(port, "GET", "/api/admin/quotas", key, NULL, &r) != 0 || r.status != 200) {
        hh_test_resp_free(&r);
        return NULL;
    }
    char *b = strdup(r.body);
    hh_test_resp_free(&r);
    return b;
}

TEST(quota_admin_api_set_read_enforce_clear)
{
    hh_test_srv_t t;
    ASSERT_OK(hh_test_srv_start(&t, "quota-admin-api", NULL));
    char mia[HH_KEY_LEN + 1], root[HH_KEY_LEN + 1], aud[HH_KEY_LEN + 1];
    ASSERT_OK(hh_test_srv_user(&t, "mia", "member", mia, NULL));
    ASSERT_OK(hh_test_srv_user(&t, "root", "admin", root, NULL));
    ASSERT_OK(hh_test_srv_user(&t, "pruef", "auditor", aud, NULL));
    hh_err_t err;
    ASSERT_OK(hh_store_user_add_department(t.st, "mia", "Sales", &err));
    hh_test_resp_t r;
    /* none yet; the day is the server's UTC day */
    ASSERT_OK(hh_test_http(t.port, "GET", "/api/admin/quotas", root, NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r.j, "data")), 0);
    char day[11];
    hh_store_day_format(today(), day);
    ASSERT_STREQ(hh_test_json_str(r.j, "day"), day);
    day[7] = '\0';
    ASSERT_STREQ(hh_test_json_str(r.j, "month"), day);
    hh_test_resp_free(&r);

    /* set: 201 for a new quota, the limits as sent, null for the others */
    ASSERT_OK(hh_test_http(t.port, "PUT", "/api/admin/quotas/users/mia", root, "{\"tokens_per_day\":30}", &r));
    ASSERT_EQ_INT(r.status, 201);
    ASSERT_TRUE(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r.j, "created")));
    ASSERT_STREQ(hh_test_json_str(r.j, "scope"), "user");
    ASSERT_STREQ(hh_test_json_str(r.j, "name"), "mia");
    ASSERT_EQ_INT(num_or_null(r.j, "tokens_per_day"), 30);
    ASSERT_EQ_INT(num_or_null(r.j, "tokens_per_month"), -1);
    ASSERT_EQ_INT(num_or_null(r.j, "requests_per_minute"), -1);
    ASSERT_EQ_INT(num_or_null(r.j, "concurrent"), -1);
    ASSERT_EQ_INT(num_or_null(cJSON_GetObjectItemCaseSensitive(r.j, "usage"), "tokens_today"), 0);
    hh_test_resp_free(&r);
    /* the store (what `hoheit quota list` and enforcement read) has it */
    hh_store_quota_t *q = NULL;
    size_t n = 0;
    ASSERT_OK(hh_store_quota_list(t.st, &q, &n, &err));
    ASSERT_EQ_INT(n, 1);
    ASSERT_EQ_INT(q[0].tokens_per_day, 30);
    ASSERT_EQ_INT(q[0].tokens_per_month, 0);
    free(q);
    /* a department, named in another case, and the auditor reads both */
    ASSERT_OK(hh_test_http(t.port, "PUT", "/api/admin/quotas/departments/sales", root,
                           "{\"tokens_per_month\":500000,\"requests_per_minute\":50,\"concurrent\":4}", &r));
    ASSERT_EQ_INT(r.status, 201);
    ASSERT_STREQ(hh_test_json_str(r.j, "name"), "Sales");
    ASSERT_EQ_INT(num_or_null(r.j, "tokens_per_day"), -1);
    ASSERT_EQ_INT(num_or_null(r.j, "concurrent"), 4);
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(t.port, "GET", "/api/admin/quotas", aud, NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r.j, "data")), 2);
    ASSERT_EQ_INT(num_or_null(quota_row(&r, "user", "mia"), "tokens_per_day"), 30);
    ASSERT_EQ_INT(num_or_null(quota_row(&r, "department", "Sales"), "requests_per_minute"), 50);
    hh_test_resp_free(&r);

    /* enforce: mia runs until the day's 30 tokens are used, then 429 */
    int64_t used = 0;
    int status = 0;
    for (int i = 0; i < 10; i++) {
        int64_t tot = 0;
        status = complete(t.port, mia, 8, &tot, NULL);
        if (status != 200)
            break;
        used += tot;
    }
    ASSERT_EQ_INT(status, 429);
    ASSERT_GE(used, 30);
    ASSERT_OK(hh_test_http(t.port, "POST", "/v1/completions", mia,
                           "{\"model\":\"stories260K\",\"prompt\":\"Once\",\"max_tokens\":2}", &r));
    ASSERT_EQ_INT(r.status, 429);
    ASSERT_STREQ(err_str(&r, "code"), "quota_exceeded");
    ASSERT_STREQ(err_str(&r, "param"), "tokens_per_day");
    ASSERT_TRUE(strstr(err_str(&r, "message"), "tokens_per_day limit of user 'mia' is 30") != NULL);
    hh_test_resp_free(&r);
    /* the list shows the usage next to the limits (user and department) */
    ASSERT_OK(hh_test_http(t.port, "GET", "/api/admin/quotas", root, NULL, &r));
    const cJSON *um = cJSON_GetObjectItemCaseSensitive(quota_row(&r, "user", "mia"), "usage");
    const cJSON *ud = cJSON_GetObjectItemCaseSensitive(quota_row(&r, "department", "Sales"), "usage");
    ASSERT_EQ_INT(num_or_null(um, "tokens_today"), used);
    ASSERT_EQ_INT(num_or_null(um, "tokens_this_month"), used);
    ASSERT_EQ_INT(num_or_null(ud, "tokens_today"), used);
    hh_test_resp_free(&r);

    /* bad input: 400 with the field, nothing changes */
    char *before = quota_list_body(t.port, root);
    ASSERT_TRUE(before != NULL);
    static const struct {
        const char *body, *code, *param;
    } bad[] = {
        { "{\"tokens_per_day\":0}", "invalid_field", "tokens_per_day" },
        { "{\"tokens_per_day\":-5}", "invalid_field", "tokens_per_day" },
        { "{\"tokens_per_month\":1.5}", "invalid_field", "tokens_per_month" },
        { "{\"requests_per_minute\":\"100\"}", "invalid_field", "requests_per_minute" },
        { "{\"concurrent\":true}", "invalid_field", "concurrent" },
        { "{\"tokens_per_day\":1e16}", "invalid_field", "tokens_per_day" },
        { "{\"tokens_per_day\":1000,\"tokens_per_dya\":5}", "unknown_field", "tokens_per_dya" },
        { "{}", "no_limit", "(none)" },
        { "{\"tokens_per_day\":null,\"concurrent\":null}", "no_limit", "(none)" },
        { "[1000]", "invalid_body", "(none)" },
        { "tokens_per_day=1000", "invalid_body", "(none)" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        for (int dept = 0; dept < 2; dept++) {
            ASSERT_OK(hh_test_http(t.port, "PUT", dept ? "/api/admin/quotas/departments/Sales"
                                                        : "/api/admin/quotas/users/mia", root, bad[i].body, &r));
            ASSERT_EQ_INT(r.status, 400);
            ASSERT_STREQ(err_str(&r, "code"), bad[i].code);
            ASSERT_STREQ(err_str(&r, "param"), bad[i].param);
            hh_test_resp_free(&r);
        }
    }
    ASSERT_OK(hh_test_http(t.port, "PUT", "/api/admin/quotas/users/mia", root, "{\"tokens_per_day\":0}", &r));
    ASSERT_TRUE(strstr(err_str(&r, "message"), "tokens_per_day must be a whole number from 1 to") != NULL);
    hh_test_resp_free(&r);
    /* unknown subjects and paths: 404, nothing made */
    static const struct {
        const char *method, *path, *body, *code;
    } missing[] = {
        { "PUT", "/api/admin/quotas/users/nobody", "{\"tokens_per_day\":5}", "user_not_found" },
        { "PUT", "/api/admin/quotas/users/MIA", "{\"tokens_per_day\":5}", "user_not_found" },
        { "DELETE", "/api/admin/quotas/users/nobody", NULL, "user_not_found" },
        { "PUT", "/api/admin/quotas/departments/Nowhere", "{\"tokens_per_day\":5}", "department_not_found" },
        { "DELETE", "/api/admin/quotas/departments/Nowhere", NULL, "department_not_found" },
        { "DELETE", "/api/admin/quotas/users/root", NULL, "quota_not_found" },
    };
    for (size_t i = 0; i < sizeof missing / sizeof missing[0]; i++) {
        ASSERT_OK(hh_test_http(t.port, missing[i].method, missing[i].path, root, missing[i].body, &r));
        ASSERT_EQ_INT(r.status, 404);
        ASSERT_STREQ(err_str(&r, "code"), missing[i].code);
        hh_test_resp_free(&r);
    }
    ASSERT_OK(hh_test_http(t.port, "PUT", "/api/admin/quotas/groups/mia", root, "{\"tokens_per_day\":5}", &r));
    ASSERT_EQ_INT(r.status, 404);
    hh_test_resp_free(&r);
    /* members may not, auditors only read: 403, audited as refused */
    ASSERT_OK(hh_test_http(t.port, "PUT", "/api/admin/quotas/users/mia", mia, "{\"tokens_per_day\":1000000}", &r));
    ASSERT_EQ_INT(r.status, 403);
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(t.port, "DELETE", "/api/admin/quotas/users/mia", aud, NULL, &r));
    ASSERT_EQ_INT(r.status, 403);
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(t.port, "GET", "/api/admin/quotas", mia, NULL, &r));
    ASSERT_EQ_INT(r.status, 403);
    hh_test_resp_free(&r);
    char *after = quota_list_body(t.port, root);
    ASSERT_TRUE(after != NULL);
    ASSERT_STREQ(after, before);
    free(before);
    free(after);
    ASSERT_EQ_INT(complete(t.port, mia, 2, NULL, NULL), 429);

    /* edit: a PUT replaces the whole quota (200, not created); mia is served */
    ASSERT_OK(hh_test_http(t.port, "PUT", "/api/admin/quotas/users/mia", root,
                           "{\"tokens_per_day\":100000,\"concurrent\":2}", &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_TRUE(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(r.j, "created")));
    ASSERT_EQ_INT(num_or_null(r.j, "tokens_per_day"), 100000);
    ASSERT_EQ_INT(num_or_null(r.j, "concurrent"), 2);
    ASSERT_EQ_INT(num_or_null(cJSON_GetObjectItemCaseSensitive(r.j, "usage"), "tokens_today"), used);
    hh_test_resp_free(&r);
    ASSERT_EQ_INT(complete(t.port, mia, 2, NULL, NULL), 200);
    /* a day limit below today's usage refuses at once; then clear: served */
    ASSERT_OK(hh_test_http(t.port, "PUT", "/api/admin/quotas/users/mia", root, "{\"tokens_per_day\":10}", &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_EQ_INT(num_or_null(r.j, "concurrent"), -1);   /* replaced, not merged */
    hh_test_resp_free(&r);
    ASSERT_EQ_INT(complete(t.port, mia, 2, NULL, NULL), 429);
    ASSERT_OK(hh_test_http(t.port, "DELETE", "/api/admin/quotas/users/mia", root, NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_STREQ(hh_test_json_str(r.j, "deleted"), "mia");
    ASSERT_STREQ(hh_test_json_str(r.j, "scope"), "user");
    hh_test_resp_free(&r);
    ASSERT_EQ_INT(complete(t.port, mia, 2, NULL, NULL), 200);
    ASSERT_OK(hh_test_http(t.port, "GET", "/api/admin/quotas", root, NULL, &r));
    ASSERT_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r.j, "data")), 1);
    ASSERT_TRUE(quota_row(&r, "user", "mia") == NULL);
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(t.port, "DELETE", "/api/admin/quotas/users/mia", root, NULL, &r));
    ASSERT_EQ_INT(r.status, 404);
    ASSERT_STREQ(err_str(&r, "code"), "quota_not_found");
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(t.port, "DELETE", "/api/admin/quotas/departments/SALES", root, NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_STREQ(hh_test_json_str(r.j, "deleted"), "Sales");
    hh_test_resp_free(&r);
    ASSERT_OK(hh_store_quota_list(t.st, &q, &n, &err));
    ASSERT_EQ_INT(n, 0);
    free(q);

    /* the audit trail: each change once, with the limits; the refusals */
    ASSERT_EQ_INT(quota_audits(t.st, "root", "quota set user mia: tokens/day 30, tokens/month none, "
                                             "requests/minute none, concurrent none (new quota)", "done"), 1);
    ASSERT_EQ_INT(quota_audits(t.st, "root", "quota set department Sales: tokens/day none, tokens/month 500000, "
                                             "requests/minute 50, concurrent 4 (new quota)", "done"), 1);
    ASSERT_EQ_INT(quota_audits(t.st, "root", "quota set user mia: tokens/day 100000, tokens/month none, "
                                             "requests/minute none, concurrent 2", "done"), 1);
    ASSERT_EQ_INT(quota_audits(t.st, "root", "quota clear user mia (was tokens/day 10, %", "done"), 1);
    ASSERT_EQ_INT(quota_audits(t.st, "root", "quota clear department Sales (was %concurrent 4)", "done"), 1);
    ASSERT_EQ_INT(quota_audits(t.st, "root", "quota %", "done"), 6);   /* nothing for the 400s and 404s */
    ASSERT_EQ_INT(quota_audits(t.st, "mia", "PUT /api/admin/quotas/users/mia: role member (needs admins)", "refused"), 1);
    ASSERT_EQ_INT(quota_audits(t.st, "pruef", "DELETE /api/admin/quotas/users/mia: role auditor (needs admins)", "refused"), 1);
    hh_test_srv_stop(&t);
}
