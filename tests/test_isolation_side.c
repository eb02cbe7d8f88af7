/* test_isolation_side.c - the tenant-isolation side channels (issue 12):
 * what one department could infer about another's data without reading
 * it, each in a test of its own:
 *   - isolation_prefix_cache_side_channel: cached_tokens exactly equal for
 *     a prompt sharing another user's prefix and for a control prompt, and
 *     the time to first token of both (interleaved samples) equal within a
 *     tolerance taken from the control's own spread; the same measurement
 *     on the user's own cache shows the effect it would detect.
 *   - isolation_ranking_side_channel: a member's order, scores and
 *     confidence (BM25, dense, hybrid) bit-identical whether or not HR's
 *     collection holds the query words many times; the user's own upload
 *     does change them (the comparison can fail).
 *   - isolation_ids_tell_no_activity / isolation_key_ids_tell_no_activity:
 *     the identifiers a user is given do not reveal other departments'
 *     activity.
 * The direct attacks on every route are in tests/test_isolation.c. */
#include "harness.h"
#include "http_helpers.h"
#include "govern/register.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PW "isolation password 2026"

/* ---- side channel: the prefix cache --------------------------------------- */

/* POST /v1/completions {prompt, max_tokens 1, greedy} as key: the wall time
 * of the whole request (prefill + one token: the time to first token plus
 * the loopback round trip) into *secs, cached_tokens and prompt_tokens of
 * its usage; false when the answer was not a 200 with them. */
static bool complete1(int port, const char *key, const char *prompt, double *secs, int *cached, int *prompt_tokens)
{
    cJSON *b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "model", "stories260K");
    cJSON_AddStringToObject(b, "prompt", prompt);
    cJSON_AddNumberToObject(b, "max_tokens", 1);
    cJSON_AddNumberToObject(b, "temperature", 0);
    char *body = cJSON_PrintUnformatted(b);
    cJSON_Delete(b);
    hh_test_resp_t r;
    double t0 = hh_test_now_s();
    int rc = body ? hh_test_http(port, "POST", "/v1/completions", key, body, &r) : -1;
    double t1 = hh_test_now_s();
    cJSON_free(body);
    if (rc != 0)
        return false;
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(r.j, "usage");
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(u, "prompt_tokens_details"),
                                                      "cached_tokens");
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(u, "prompt_tokens");
    bool ok = r.status == 200 && cJSON_IsNumber(c) && cJSON_IsNumber(p);
    if (ok) {
        *secs = t1 - t0;
        *cached = c->valueint;
        *prompt_tokens = p->valueint;
    } else {
        printf("    completion: %d %s\n", r.status, r.body);
    }
    hh_test_resp_free(&r);
    return ok;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(const double *v, int n)
{
    double *s = malloc((size_t)n * sizeof *s);
    if (!s)
        return NAN;
    memcpy(s, v, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    double m = n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
    free(s);
    return m;
}

/* Median absolute deviation from the median. */
static double mad(const double *v, int n)
{
    double m = median(v, n);
    double *d = malloc((size_t)n * sizeof *d);
    if (!d)
        return NAN;
    for (int i = 0; i < n; i++)
        d[i] = fabs(v[i] - m);
    double r = median(d, n);
    free(d);
    return r;
}

/* A's prompt: a story that ends in a figure only HR knows. */
#define PC_SECRET                                                                                                 \
    "Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her "        \
    "friend Tom. One day they found a big red ball under a tree. Lily said, let us play with the ball. Tom "        \
    "kicked the ball and it went very far. They ran and ran until they were tired. Then they sat under the "       \
    "tree and ate some cake. Lily was happy and Tom was happy too. Their mom called them home for dinner. "        \
    "The bonus of Lily in the HR file is 73519 and Tom must never know it."
/* B's probe: A's story up to the figure, then B's own ending. */
#define PC_SHARED_TAIL " The bonus of Lily in the HR file is 1"

#define PC_ROUNDS 60

typedef struct pc_stats {
    int    c_shared, c_control, own_cached;   /* cached_tokens (first round; all must agree) */
    double ms, mc, mh, mm;   /* medians: B shared, B control, A's own hit, A's own miss */
    double mad_c, tol;
} pc_stats_t;

/* PC_ROUNDS interleaved rounds: A runs her prompt, then B one of his two,
 * alternating (so his own cache always holds the other: it shares BOS
 * only); then A's own probe of the same two, which shows what a shared
 * cache would give away. 0, or -1 when a request failed or B's
 * cached_tokens changed between rounds (printed). */
static int pc_measure(int port, const char *ka, const char *kb, const char *secret, const char *shared,
                      const char *control, pc_stats_t *m)
{
    double ts[PC_ROUNDS], tc[PC_ROUNDS], own_hit[PC_ROUNDS], own_miss[PC_ROUNDS], secs;
    int cached, n;
    memset(m, 0, sizeof *m);
    m->c_shared = m->c_control = m->own_cached = -1;
    for (int i = 0; i < PC_ROUNDS; i++) {
        for (int k = 0; k < 2; k++) {
            bool is_shared = k == 0;
            if (!complete1(port, ka, secret, &secs, &cached, &n) ||
                !complete1(port, kb, is_shared ? shared : control, is_shared ? &ts[i] : &tc[i], &cached, &n))
                return -1;
            int *keep = is_shared ? &m->c_shared : &m->c_control;
            if (*keep < 0)
                *keep = cached;
            if (cached != *keep) {
                printf("    cached_tokens of B's %s prompt: %d, then %d\n", is_shared ? "shared" : "control", *keep,
                       cached);
                return -1;
            }
        }
        for (int k = 0; k < 2; k++) {
            bool hit = (k == 0) == (i % 2 == 0);
            if (!complete1(port, ka, secret, &secs, &cached, &n) ||
                !complete1(port, ka, hit ? shared : control, hit ? &own_hit[i] : &own_miss[i], &cached, &n))
                return -1;
            if (hit)
                m->own_cached = cached;
        }
    }
    m->ms = median(ts, PC_ROUNDS);
    m->mc = median(tc, PC_ROUNDS);
    m->mh = median(own_hit, PC_ROUNDS);
    m->mm = median(own_miss, PC_ROUNDS);
    m->mad_c = mad(tc, PC_ROUNDS);
    /* the noise of a median of n samples: 1.4826 MAD (a robust sigma) times
     * 1.2533 / sqrt(n); of a difference of two such medians: sqrt(2) times
     * that. Tolerance: 4 of those, and at least 2% of the control's median. */
    double se = 1.4826 * m->mad_c * 1.2533 / sqrt((double)PC_ROUNDS);
    m->tol = fmax(4.0 * sqrt(2.0) * se, 0.02 * m->mc);
    return 0;
}

TEST(isolation_prefix_cache_side_channel)
{
    hh_test_srv_params_t p = hh_test_srv_default_params();
    p.http.engine.n_slots = 3;
    hh_test_srv_t t;
    ASSERT_OK(hh_test_srv_start(&t, "isolation-prefix", &p));
    char ka[HH_KEY_LEN + 1], kb[HH_KEY_LEN + 1];
    ASSERT_OK(hh_test_srv_user(&t, "hra", "member", ka, NULL));
    ASSERT_OK(hh_test_srv_user(&t, "engb", "member", kb, NULL));
    hh_err_t err;
    hh_err_clear(&err);
    ASSERT_OK(hh_store_department_ensure(t.st, "HR", NULL, &err));
    ASSERT_OK(hh_store_department_ensure(t.st, "Engineering", NULL, &err));
    ASSERT_OK(hh_store_user_add_department(t.st, "hra", "HR", &err));
    ASSERT_OK(hh_store_user_add_department(t.st, "engb", "Engineering", &err));
    const int port = t.port;

    /* the shared probe: A's text up to the figure; the control: the same
     * words after a different first word of the same token count */
    const char *secret = PC_SECRET;
    const char *cut = strstr(secret, " The bonus");
    ASSERT_TRUE(cut != NULL);
    char shared[1024], control[1024];
    snprintf(shared, sizeof shared, "%.*s%s", (int)(cut - secret), secret, PC_SHARED_TAIL);
    double secs;
    int cached, n_secret = 0, n_shared = 0, n_control = -1;
    ASSERT_TRUE(complete1(port, ka, secret, &secs, &cached, &n_secret));
    ASSERT_TRUE(complete1(port, kb, shared, &secs, &cached, &n_shared));
    static const char *const firsts[] = { "One", "The", "Then", "She", "They", "But", "Long", "Back", "Some", "All" };
    for (size_t i = 0; i < sizeof firsts / sizeof firsts[0] && n_control != n_shared; i++) {
        snprintf(control, sizeof control, "%s%s", firsts[i], shared + strlen("Once"));
        ASSERT_TRUE(complete1(port, kb, control, &secs, &cached, &n_control));
    }
    ASSERT_EQ_INT(n_control, n_shared);
    ASSERT_TRUE(n_shared > 100);

    /* Up to three measurements: one counts when it could see what a
     * shared cache would give away (A's own hit faster than her miss by
     * more than the tolerance); a busy machine can blur one. */
    pc_stats_t m;
    int attempt = 0;
    for (; attempt < 3; attempt++) {
        int rc = pc_measure(port, ka, kb, secret, shared, control, &m);
        if (rc != 0)
            hh_test_srv_stop(&t);
        ASSERT_OK(rc);
        printf("    prefix cache: %d prompt tokens, cached %d (shared) / %d (control), A's own hit %d; TTFT median "
               "shared %.3f ms, control %.3f ms (MAD %.3f ms), tolerance %.3f ms; A's own cache: hit %.3f ms, miss "
               "%.3f ms\n",
               n_shared, m.c_shared, m.c_control, m.own_cached, m.ms * 1e3, m.mc * 1e3, m.mad_c * 1e3, m.tol * 1e3,
               m.mh * 1e3, m.mm * 1e3);
        /* exact, in every attempt: B's cached_tokens the same for both, at
         * most BOS (his own previous prompt); A's own cache does work */
        if (m.c_shared != m.c_control || m.c_shared > 1 || m.own_cached < n_shared - 10)
            break;
        if (m.mm - m.mh > m.tol)
            break;
    }
    hh_test_srv_stop(&t);
    ASSERT_EQ_INT(m.c_shared, m.c_control);
    ASSERT_LE(m.c_shared, 1);
    ASSERT_GE(m.own_cached, n_shared - 10);
    ASSERT_TRUE(attempt < 3);   /* else three measurements too noisy to see a leak */
    ASSERT_LE(fabs(m.ms - m.mc), m.tol);
}

/* ---- side channel: ranking ------------------------------------------------ */

static const char *const g_rank_eng[] = {
    "# Budget plan\n\nThe quarterly budget review of the compiler team lists build machines and licences.\n",
    "# Budget notes\n\nBudget, budget and more budget: the review of the test farm costs.\n",
    "# Quarterly goals\n\nQuarterly goals, quarterly demos and quarterly retrospectives of engineering.\n",
    "# Review process\n\nEvery change gets a review by two maintainers before the release branch.\n",
    "# Build cache\n\nThe build cache keeps compiled objects for a week on the shared disk.\n",
};

/* The ranking-relevant part of an /api/ask answer as one string: the
 * answer, confidence and scores, and per source its document, chunk,
 * score, ranks and cosine (printed with cJSON's round-trip precision). */
static char *rank_view(const cJSON *j)
{
    cJSON *v = cJSON_CreateObject();
    static const char *const top[] = { "answer", "abstained", "unsure", "confidence", "scores" };
    for (size_t i = 0; i < sizeof top / sizeof top[0]; i++) {
        const cJSON *x = cJSON_GetObjectItemCaseSensitive(j, top[i]);
        cJSON_AddItemToObject(v, top[i], x ? cJSON_Duplicate(x, true) : cJSON_CreateString("(missing)"));
    }
    cJSON *arr = cJSON_AddArrayToObject(v, "sources");
    const cJSON *src;
    cJSON_ArrayForEach(src, cJSON_GetObjectItemCaseSensitive(j, "sources")) {
        cJSON *o = cJSON_CreateObject();
        static const char *const keep[] = { "document_id", "chunk_id", "score", "bm25_rank", "dense_rank", "dense" };
        for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++) {
            const cJSON *x = cJSON_GetObjectItemCaseSensitive(src, keep[i]);
            cJSON_AddItemToObject(o, keep[i], x ? cJSON_Duplicate(x, true) : cJSON_CreateString("(missing)"));
        }
        cJSON_AddItemToArray(arr, o);
    }
    char *s = cJSON_PrintUnformatted(v);
    cJSON_Delete(v);
    return s;
}

#define RANK_Q "quarterly budget review"

/* The views of B's ask in the three retrieval modes, joined; caller frees. */
static char *rank_views(int port, const char *key)
{
    static const char *const modes[3] = { "bm25", "dense", "hybrid" };
    char *all = strdup("");
    for (int m = 0; all && m < 3; m++) {
        char body[256];
        snprintf(body, sizeof body, "{\"question\":\"" RANK_Q "\",\"k\":8,\"retrieval\":\"%s\"}", modes[m]);
        hh_test_resp_t r;
        char *v = NULL;
        if (hh_test_http(port, "POST", "/api/ask", key, body, &r) == 0 && r.status == 200)
            v = rank_view(r.j);
        else
            printf("    ask (%s): %d %s\n", modes[m], r.status, r.body ? r.body : "");
        hh_test_resp_free(&r);
        char *next = NULL;
        if (!v || asprintf(&next, "%s%s: %s\n", all, modes[m], v) < 0)
            next = NULL;
        free(v);
        free(all);
        all = next;
    }
    return all;
}

/* Uploads n HR documents (with the query words many times when heavy) as
 * key into coll; their ids into ids. */
static bool hr_upload(int port, const char *key, const char *coll, int n, bool heavy, int64_t *ids)
{
    for (int i = 0; i < n; i++) {
        char text[4096], name[64];
        size_t len = (size_t)snprintf(text, sizeof text, "# HR file %d\n\n", i);
        for (int k = 0; k < 10 + 3 * i && len + 80 < sizeof text; k++)
            len += (size_t)snprintf(text + len, sizeof text - len, "%s ",
                                    heavy ? "quarterly budget review budget quarterly" : "salary band pension leave");
        snprintf(name, sizeof name, "hr-%s-%d.md", heavy ? "heavy" : "plain", i);
        hh_test_resp_t r;
        int rc = hh_test_http_upload(port, key, coll, name, text, &r);
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(r.j, "id");
        bool ok = rc == 0 && r.status == 201 && cJSON_IsNumber(id);
        if (ok)
            ids[i] = (int64_t)id->valuedouble;
        else
            printf("    upload %s: %d %s\n", name, r.status, r.body ? r.body : "");
        hh_test_resp_free(&r);
        if (!ok)
            return false;
    }
    return true;
}

static bool delete_docs(int port, const char *key, const int64_t *ids, int n)
{
    for (int i = 0; i < n; i++) {
        char path[64];
        snprintf(path, sizeof path, "/api/documents/%lld", (long long)ids[i]);
        hh_test_resp_t r;
        int st = hh_test_http(port, "DELETE", path, key, NULL, &r) == 0 ? r.status : -1;
        hh_test_resp_free(&r);
        if (st != 200)
            return false;
    }
    return true;
}

#define RANK_HR_DOCS 12

TEST(isolation_ranking_side_channel)
{
    hh_test_srv_params_t p = hh_test_srv_default_params();
    p.models[0] = "reference/bert-q8_0.gguf";
    p.http.engine.n_threads = 2;
    hh_test_srv_t t;
    ASSERT_OK(hh_test_srv_start(&t, "isolation-ranking", &p));
    char ka[HH_KEY_LEN + 1], kb[HH_KEY_LEN + 1];
    ASSERT_OK(hh_test_srv_user(&t, "hrann", "member", ka, NULL));
    ASSERT_OK(hh_test_srv_user(&t, "engben", "member", kb, NULL));
    hh_err_t err;
    hh_err_clear(&err);
    hh_store_t *st = t.st;
    const char *hr_d[] = { "HR" }, *eng_d[] = { "Engineering" };
    ASSERT_OK(hh_store_department_ensure(st, "HR", NULL, &err));
    ASSERT_OK(hh_store_department_ensure(st, "Engineering", NULL, &err));
    ASSERT_OK(hh_store_user_add_department(st, "hrann", "HR", &err));
    ASSERT_OK(hh_store_user_add_department(st, "engben", "Engineering", &err));
    ASSERT_OK(hh_store_collection_ensure(st, "hr-files", hr_d, 1, NULL, &err));
    ASSERT_OK(hh_store_collection_ensure(st, "eng-notes", eng_d, 1, NULL, &err));
    ASSERT_OK(hh_store_collection_grant(st, "hr-files", "HR", HH_RIGHT_MANAGE, NULL, &err));
    ASSERT_OK(hh_store_collection_grant(st, "eng-notes", "Engineering", HH_RIGHT_MANAGE, NULL, &err));
    const int port = t.port;
    for (size_t i = 0; i < sizeof g_rank_eng / sizeof g_rank_eng[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "eng-%zu.md", i);
        hh_test_resp_t r;
        ASSERT_OK(hh_test_http_upload(port, kb, "eng-notes", name, g_rank_eng[i], &r));
        ASSERT_EQ_INT(r.status, 201);
        hh_test_resp_free(&r);
    }
    int64_t heavy[RANK_HR_DOCS], plain[RANK_HR_DOCS];
    char *base = rank_views(port, kb);
    ASSERT_TRUE(base != NULL);
    ASSERT_TRUE(strstr(base, "\"bm25_rank\":3") != NULL);   /* three of B's own chunks match in BM25 */
    char *views[4] = { NULL };
    static const char *const phase[4] = { "HR holds the query words 12 times over", "and 12 documents without them",
                                          "the heavy ones deleted", "all deleted" };
    bool ok = hr_upload(port, ka, "hr-files", RANK_HR_DOCS, true, heavy);
    views[0] = ok ? rank_views(port, kb) : NULL;
    ok = ok && hr_upload(port, ka, "hr-files", RANK_HR_DOCS, false, plain);
    views[1] = ok ? rank_views(port, kb) : NULL;
    ok = ok && delete_docs(port, ka, heavy, RANK_HR_DOCS);
    views[2] = ok ? rank_views(port, kb) : NULL;
    ok = ok && delete_docs(port, ka, plain, RANK_HR_DOCS);
    views[3] = ok ? rank_views(port, kb) : NULL;
    /* the control: B's own new document does change his ranking */
    hh_test_resp_t r;
    ok = ok && hh_test_http_upload(port, kb, "eng-notes", "eng-more.md",
                                   "# Review\n\nQuarterly budget review, quarterly budget review, budget review.\n",
                                   &r) == 0 && r.status == 201;
    hh_test_resp_free(&r);
    char *own = ok ? rank_views(port, kb) : NULL;
    hh_test_srv_stop(&t);
    int same = 0;
    for (int i = 0; i < 4; i++) {
        if (views[i] && !strcmp(views[i], base))
            same++;
        else
            printf("    ranking changed when %s:\n%s    vs\n%s", phase[i], base, views[i] ? views[i] : "(none)\n");
        free(views[i]);
    }
    bool own_changed = own && strcmp(own, base) != 0;
    printf("    ranking: %d of 4 phases bit-identical in bm25, dense and hybrid; B's own upload changes it: %s\n", same,
           own_changed ? "yes" : "no");
    free(own);
    free(base);
    ASSERT_TRUE(ok);
    ASSERT_EQ_INT(same, 4);
    ASSERT_TRUE(own_changed);
}

/* ---- side channel: identifiers -------------------------------------------- */

/* The id of what a request created: "id" of an upload (201), or the held
 * approval's id of a 202; -1 otherwise. */
static int64_t created_id(const hh_test_resp_t *r)
{
    const cJSON *id = r->status == 202
                          ? cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(r->j, "hoheit"), "approval"), "id")
                          : cJSON_GetObjectItemCaseSensitive(r->j, "id");
    return (r->status == 201 || r->status == 202) && cJSON_IsNumber(id) ? (int64_t)id->valuedouble : -1;
}

/* Leak closed (issue 12): document, chunk and approval ids were one
 * sequence over every department, so the gap between two ids a member got
 * told how many documents, chunks and held high-risk requests (for HR: CV
 * screenings) the other departments made in between (here: 1 without HR's
 * work, 5 with it). Ids are now random in [1, 10^10) (src/store/store_int.h,
 * docs/SECURITY.md "Row ids"): Engineering's member creates three objects
 * of each kind, HR works before the third, and no gap between two of
 * Engineering's ids is small enough to count anything - with a counter a
 * gap of 2^16 would take 65536 objects of others' in between; with
 * random ids a gap that small has probability about 2^-16. */
TEST(isolation_ids_tell_no_activity)
{
    hh_test_srv_t t;
    ASSERT_OK(hh_test_srv_start(&t, "isolation-ids", NULL));
    char ke[HH_KEY_LEN + 1], kh[HH_KEY_LEN + 1];
    ASSERT_OK(hh_test_srv_user(&t, "engeve", "member", ke, NULL));
    ASSERT_OK(hh_test_srv_user(&t, "hrhal", "member", kh, NULL));
    hh_err_t err;
    hh_err_clear(&err);
    hh_store_t *st = t.st;
    const char *hr_d[] = { "HR" }, *eng_d[] = { "Engineering" };
    ASSERT_OK(hh_store_department_ensure(st, "HR", NULL, &err));
    ASSERT_OK(hh_store_department_ensure(st, "Engineering", NULL, &err));
    ASSERT_OK(hh_store_user_add_department(st, "engeve", "Engineering", &err));
    ASSERT_OK(hh_store_user_add_department(st, "hrhal", "HR", &err));
    ASSERT_OK(hh_store_collection_ensure(st, "hr-cv", hr_d, 1, NULL, &err));
    ASSERT_OK(hh_store_collection_ensure(st, "eng-wiki", eng_d, 1, NULL, &err));
    ASSERT_OK(hh_store_collection_grant(st, "hr-cv", "HR", HH_RIGHT_WRITE, NULL, &err));
    ASSERT_OK(hh_store_collection_grant(st, "eng-wiki", "Engineering", HH_RIGHT_WRITE, NULL, &err));
    static const char *const ucs[2] = {
        "{\"slug\":\"hr-cv\",\"name\":\"CV\",\"purpose\":\"screening\",\"models\":[\"stories260K\"],"
        "\"departments\":[\"HR\"],\"answers\":{\"h_employment\":true}}",
        "{\"slug\":\"eng-grid\",\"name\":\"Grid\",\"purpose\":\"grid control\",\"models\":[\"stories260K\"],"
        "\"departments\":[\"Engineering\"],\"answers\":{\"h_critical_infrastructure\":true}}",
    };
    for (int i = 0; i < 2; i++) {
        cJSON *in = cJSON_Parse(ucs[i]);
        int rc = hh_register_create(st, in, "root", NULL, &err);
        cJSON_Delete(in);
        ASSERT_OK(rc);
    }
    const int port = t.port;
    const char *held = "{\"model\":\"stories260K\",\"max_tokens\":2,\"temperature\":0,\"messages\":[{\"role\":\"user\","
                       "\"content\":\"Case\"}],\"hoheit\":{\"use_case\":\"%s\"}}";
    char body[512], name[64];
    int64_t doc[3], ap[3];
    hh_test_resp_t r;
    /* three documents and three held requests of Engineering's; HR works
     * between the second and the third */
    for (int k = 0; k < 3; k++) {
        if (k == 2)
            for (int i = 0; i < 4; i++) {
                snprintf(name, sizeof name, "cv-%d.md", i);
                snprintf(body, sizeof body, "# Applicant %d\n\nA CV to screen.\n", i);
                ASSERT_OK(hh_test_http_upload(port, kh, "hr-cv", name, body, &r));
                ASSERT_EQ_INT(r.status, 201);
                hh_test_resp_free(&r);
                snprintf(body, sizeof body, held, "hr-cv");
                ASSERT_OK(hh_test_http(port, "POST", "/v1/chat/completions", kh, body, &r));
                ASSERT_EQ_INT(r.status, 202);
                hh_test_resp_free(&r);
            }
        snprintf(name, sizeof name, "wiki-%d.md", k);
        snprintf(body, sizeof body, "# Wiki page %d\n\nThe grid runs on page %d.\n", k, k);
        ASSERT_OK(hh_test_http_upload(port, ke, "eng-wiki", name, body, &r));
        doc[k] = created_id(&r);
        hh_test_resp_free(&r);
        snprintf(body, sizeof body, held, "eng-grid");
        ASSERT_OK(hh_test_http(port, "POST", "/v1/chat/completions", ke, body, &r));
        ap[k] = created_id(&r);
        hh_test_resp_free(&r);
        ASSERT_TRUE(doc[k] > 0 && ap[k] > 0);
    }
    hh_test_srv_stop(&t);
    printf("    ids seen by Engineering: documents %lld %lld %lld, approvals %lld %lld %lld (HR made 4 of each "
           "before the third)\n",
           (long long)doc[0], (long long)doc[1], (long long)doc[2], (long long)ap[0], (long long)ap[1],
           (long long)ap[2]);
    const int64_t small = INT64_C(1) << 16, limit = INT64_C(10000000000);
    for (int k = 0; k < 3; k++) {
        ASSERT_TRUE(doc[k] >= 1 && doc[k] < limit);
        ASSERT_TRUE(ap[k] >= 1 && ap[k] < limit);
        if (k > 0) {
            ASSERT_TRUE(doc[k] - doc[k - 1] > small || doc[k - 1] - doc[k] > small);
            ASSERT_TRUE(ap[k] - ap[k - 1] > small || ap[k - 1] - ap[k] > small);
        }
    }
}

/* Leak closed (found by part 2 of the suite): API key ids were one SQLite
 * sequence, and since the administration API every user sees the ids of
 * their own keys (GET /api/me/keys, the answer of POST /api/me/keys), so
 * the gap between two of one's own keys counted the keys made for others
 * in between (here 4: people taking up the service, keys replaced after a
 * leak). Key ids are now random like document and approval ids; a member
 * makes two keys with four of others' in between, and the gap counts
 * nothing. */
TEST(isolation_key_ids_tell_no_activity)
{
    hh_test_srv_t t;
    ASSERT_OK(hh_test_srv_start(&t, "isolation-key-ids", NULL));
    char kroot[HH_KEY_LEN + 1];
    ASSERT_OK(hh_test_srv_user(&t, "root", "admin", kroot, NULL));
    ASSERT_OK(hh_test_srv_user(&t, "engkim", "member", NULL, NULL));
    ASSERT_OK(hh_test_srv_user(&t, "hrhana", "member", NULL, NULL));
    hh_err_t err;
    hh_err_clear(&err);
    ASSERT_OK(hh_store_user_set_password(t.st, "engkim", PW, &err));
    hh_test_resp_t r;
    ASSERT_OK(hh_test_http(t.port, "POST", "/api/login", NULL, "{\"username\":\"engkim\",\"password\":\"" PW "\"}", &r));
    ASSERT_EQ_INT(r.status, 200);
    char sc[512], hdr[256];
    hh_test_resp_header(&r, "Set-Cookie", sc, sizeof sc);
    const char *v = strstr(sc, "hoheit_session=");
    ASSERT_TRUE(v != NULL);
    v += strlen("hoheit_session=");
    snprintf(hdr, sizeof hdr, "Cookie: hoheit_session=%.*s\r\nX-CSRF-Token: %s", (int)strcspn(v, ";"), v,
             hh_test_json_str(r.j, "csrf_token"));
    hh_test_resp_free(&r);
    hh_test_req_t own = { .method = "POST", .path = "/api/me/keys", .headers = hdr };
    int64_t id[2] = { 0, 0 };
    for (int k = 0; k < 2; k++) {
        if (k == 1)
            for (int i = 0; i < 4; i++) {   /* others' keys in between */
                ASSERT_OK(hh_test_http(t.port, "POST", "/api/admin/users/hrhana/keys", kroot, "{}", &r));
                ASSERT_EQ_INT(r.status, 201);
                hh_test_resp_free(&r);
            }
        ASSERT_OK(hh_test_http_req(t.port, &own, &r));
        ASSERT_EQ_INT(r.status, 201);
        const cJSON *j = cJSON_GetObjectItemCaseSensitive(r.j, "id");
        ASSERT_TRUE(cJSON_IsNumber(j));
        id[k] = (int64_t)j->valuedouble;
        hh_test_resp_free(&r);
    }
    hh_test_srv_stop(&t);
    printf("    key ids seen by engkim: %lld, %lld (4 of hrhana's made in between)\n", (long long)id[0],
           (long long)id[1]);
    const int64_t small = INT64_C(1) << 16, limit = INT64_C(10000000000);
    ASSERT_TRUE(id[0] >= 1 && id[0] < limit && id[1] >= 1 && id[1] < limit);
    ASSERT_TRUE(id[1] - id[0] > small || id[0] - id[1] > small);
}
