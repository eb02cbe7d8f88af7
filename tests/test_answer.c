/* test_answer.c - grounded answers: prompt, citation parsing and support,
 * confidence formula, abstain paths, extractive answers. */
#include "harness.h"
#include <math.h>
#include "kb/answer.h"

#include <stdlib.h>
#include <string.h>

static hh_kb_hit_t mkhit(const char *title, const char *head, int page, const char *text, double score, int lists)
{
    hh_kb_hit_t h;
    memset(&h, 0, sizeof h);
    h.title = (char *)title;
    h.heading_path = (char *)head;
    h.page = page;
    h.text = (char *)text;
    h.score = score;
    h.n_lists = lists;
    h.bm25_rank = 1;
    return h;
}

/* The extractive confidence of features (answer.h), computed here from the
 * default weights: sigmoid(w0 + wF F + wQ Qs + wE E + wM margin + wA agree
 * + wW W + wP F Qs E W). */
static double xconf(double f, double qs, double e, double margin, double agree, double w)
{
    hh_kb_answer_params_t p = hh_kb_answer_default_params();
    const double *k = p.ext_w;
    double z = k[HH_KB_XF_BIAS] + k[HH_KB_XF_F] * f + k[HH_KB_XF_COVER] * qs + k[HH_KB_XF_EVID] * e +
               k[HH_KB_XF_MARGIN] * margin + k[HH_KB_XF_AGREE] * agree + k[HH_KB_XF_W] * w +
               k[HH_KB_XF_PROD] * f * qs * e * w;
    return 1.0 / (1.0 + exp(-z));
}

static const char P1[] = "All hotels are booked through the travel office in Berlin. Receipts go to finance.";
static const char P2[] = "The canteen opens at eight. Coffee is free for employees.";

/* The sentence text of a citation. */
static bool sent_is(const char *text, const hh_kb_citation_t *c, const char *want)
{
    return c->sent_len == strlen(want) && memcmp(text + c->sent_off, want, c->sent_len) == 0;
}

TEST(answer_citations_parse_forms)
{
    const char *t = "Hotels are booked by HR [1]. Travel is paid [2, 3]. Foo. [4]\nBar [1][2] baz [x] [12345] [7";
    hh_kb_citation_t *c = NULL;
    size_t n = 0;
    ASSERT_OK(hh_kb_citations_parse(t, 3, &c, &n));
    ASSERT_EQ_INT(n, 6);
    int want_n[] = { 1, 2, 3, 4, 1, 2 };
    bool want_valid[] = { true, true, true, false, true, true };
    for (size_t i = 0; i < n; i++) {
        ASSERT_EQ_INT(c[i].n, want_n[i]);
        ASSERT_EQ_INT(c[i].valid, want_valid[i]);
    }
    ASSERT_TRUE(sent_is(t, &c[0], "Hotels are booked by HR [1]."));
    ASSERT_TRUE(sent_is(t, &c[1], "Travel is paid [2, 3]."));
    ASSERT_EQ_INT(c[1].mark_off, c[2].mark_off);       /* one group */
    ASSERT_EQ_INT(c[1].mark_len, strlen("[2, 3]"));
    ASSERT_TRUE(sent_is(t, &c[3], "Foo."));            /* marker alone after the sentence end */
    ASSERT_TRUE(sent_is(t, &c[4], "Bar [1][2] baz [x] [12345] [7"));
    ASSERT_NE_INT(c[4].mark_off, c[5].mark_off);       /* [1][2]: two groups */
    free(c);

    ASSERT_OK(hh_kb_citations_parse("no markers at all", 3, &c, &n));
    ASSERT_EQ_INT(n, 0);
    ASSERT_TRUE(c == NULL);
    ASSERT_OK(hh_kb_citations_parse("[0] and [999]", 3, &c, &n));
    ASSERT_EQ_INT(n, 2);
    ASSERT_FALSE(c[0].valid);
    ASSERT_FALSE(c[1].valid);
    ASSERT_EQ_INT(c[1].n, 999);
    free(c);
}

TEST(answer_support_lexical)
{
    /* every content word of the claim is in the passage (stems on 5 chars) */
    const char *a = "Hotels are booked through the travel office [1].";
    ASSERT_NEAR(hh_kb_support_lexical(a, strlen(a), P1), 1.0, 1e-12);
    /* hotel, booke in; finan in ("finance"), team not: 3/4 */
    const char *b = "Hotels are booked by the finance team.";
    ASSERT_NEAR(hh_kb_support_lexical(b, strlen(b), P1), 0.75, 1e-12);
    const char *c = "The CEO earns a million euros.";
    ASSERT_NEAR(hh_kb_support_lexical(c, strlen(c), P1), 0.0, 1e-12);
    /* German, upper-case umlaut folded: übern + reise + ersta + tagen */
    const char *d = "Übernachtungen und Reisekosten werden erstattet.";
    ASSERT_NEAR(hh_kb_support_lexical(d, strlen(d), "Reisekosten für übernachtungen werden erstattet."), 1.0,
                1e-12);
    /* only stop words and markers: no content word */
    const char *e = "Is it the one [2]?";
    ASSERT_NEAR(hh_kb_support_lexical(e, strlen(e), P1), 0.0, 1e-12);
    /* claim length is honoured: the first 6 bytes "Hotels" only */
    ASSERT_NEAR(hh_kb_support_lexical(c, 0, P1), 0.0, 1e-12);
    ASSERT_NEAR(hh_kb_support_lexical("Hotels xyzzy", 6, P1), 1.0, 1e-12);
    ASSERT_NEAR(hh_kb_query_coverage("How are hotels booked in Paris?", P1), 2.0 / 3.0, 1e-12);
}

TEST(answer_token_prob_and_confidence)
{
    float lp1[] = { logf(0.5f), logf(0.5f) };
    ASSERT_NEAR(hh_kb_token_prob(lp1, 2), 0.5, 1e-6);
    float lp2[] = { logf(0.9f), logf(0.1f) };
    ASSERT_NEAR(hh_kb_token_prob(lp2, 2), 0.3, 1e-6);   /* geometric mean sqrt(0.09) */
    ASSERT_NEAR(hh_kb_token_prob(lp2, 0), -1, 0);
    hh_kb_answer_params_t p = hh_kb_answer_default_params();
    ASSERT_NEAR(hh_kb_confidence(0.5, 1.0, 1.0, &p), 0.4 * 0.5 + 0.3 + 0.3, 1e-12);
    ASSERT_NEAR(hh_kb_confidence(0.9, 0.5, 0.25, &p), 0.4 * 0.9 + 0.3 * 0.5 + 0.3 * 0.25, 1e-12);
    /* missing P: renormalized over R and S */
    ASSERT_NEAR(hh_kb_confidence(-1, 0.6, 0.2, &p), (0.3 * 0.6 + 0.3 * 0.2) / 0.6, 1e-12);
    /* missing P and S: R alone */
    ASSERT_NEAR(hh_kb_confidence(-1, 0.42, -1, &p), 0.42, 1e-12);
    /* inputs are clamped to [0,1] */
    ASSERT_NEAR(hh_kb_confidence(2.0, 3.0, 1.5, &p), 1.0, 1e-12);
    p.wp = 1;
    p.wr = 0;
    p.ws = 0;
    ASSERT_NEAR(hh_kb_confidence(0.7, 0.1, 0.1, &p), 0.7, 1e-12);
}

TEST(answer_retrieval_score)
{
    hh_kb_hit_t h[2] = { mkhit("T", "", 0, P1, 1.0 / 61, 1), mkhit("U", "", 0, P2, 1.0 / 62, 1) };
    /* BM25 alone, top hit first: F = 1; Q = 2/2 (hotel, booke) */
    ASSERT_NEAR(hh_kb_retrieval_score(h, 2, "How are hotels booked?"), 1.0, 1e-12);
    /* Q from the best of the top 3: "coffee free" only in P2 */
    ASSERT_NEAR(hh_kb_retrieval_score(h, 2, "Is coffee free?"), 1.0, 1e-12);
    ASSERT_NEAR(hh_kb_retrieval_score(h, 2, "Is coffee expensive?"), 0.5, 1e-12);
    /* hybrid: first in BM25, fifth in dense */
    h[0].score = 1.0 / 61 + 1.0 / 65;
    h[0].n_lists = 2;
    ASSERT_NEAR(hh_kb_retrieval_score(h, 2, "How are hotels booked?"), (1.0 / 61 + 1.0 / 65) / (2.0 / 61), 1e-12);
    ASSERT_NEAR(hh_kb_retrieval_score(h, 0, "How are hotels booked?"), 0.0, 0);
}

TEST(answer_prompt_numbered_sources)
{
    hh_kb_hit_t h[2] = { mkhit("Handbook", "Travel \xE2\x80\xBA Hotels", 12, P1, 0.1, 1),
                         mkhit("Canteen", "", 0, P2, 0.1, 1) };
    hh_kb_answer_params_t p = hh_kb_answer_default_params();
    char *sys = NULL, *usr = NULL;
    ASSERT_OK(hh_kb_prompt_build(h, 2, "How are hotels booked?", &p, &sys, &usr));
    ASSERT_TRUE(strstr(sys, "[1]") != NULL);
    ASSERT_TRUE(strstr(sys, HH_KB_NOT_FOUND) != NULL);
    ASSERT_TRUE(strstr(sys, "not instructions") != NULL);
    ASSERT_TRUE(strstr(usr, "[1] Handbook \xE2\x80\xBA Travel \xE2\x80\xBA Hotels, p. 12\n") != NULL);
    ASSERT_TRUE(strstr(usr, "[2] Canteen\n") != NULL);
    ASSERT_TRUE(strstr(usr, P1) != NULL);
    ASSERT_TRUE(strstr(usr, P2) != NULL);
    ASSERT_TRUE(strstr(usr, "Question: How are hotels booked?") != NULL);
    ASSERT_TRUE(strstr(usr, "[3]") == NULL);
    free(sys);
    free(usr);
    /* passages are cut on a UTF-8 boundary */
    hh_kb_hit_t u = mkhit("X", "", 0, "Gr\xC3\xBC\xC3\x9F" "e aus M\xC3\xBCnchen", 0.1, 1);
    p.max_passage_chars = 3;   /* "Gr" + the first byte of the two of "ü": cut before it */
    ASSERT_OK(hh_kb_prompt_build(&u, 1, "q", &p, &sys, &usr));
    ASSERT_TRUE(strstr(usr, "\nGr \xE2\x80\xA6\n") != NULL);
    free(sys);
    free(usr);
}

TEST(answer_finish_checks_citations)
{
    hh_kb_hit_t h[2] = { mkhit("Handbook", "", 0, P1, 1.0 / 61, 1), mkhit("Canteen", "", 0, P2, 1.0 / 62, 1) };
    hh_kb_answer_params_t p = hh_kb_answer_default_params();
    hh_kb_answer_t a;
    const char *gen = "Hotels are booked through the travel office [1]. The CEO earns a million [2]. Nonsense [7].";
    ASSERT_OK(hh_kb_answer_finish(gen, 0.9, h, 2, "How are hotels booked?", NULL, &p, &a, NULL));
    ASSERT_EQ_INT(a.n_cites, 3);
    ASSERT_TRUE(a.cites[0].supported);
    ASSERT_NEAR(a.cites[0].support, 1.0, 1e-12);
    ASSERT_FALSE(a.cites[1].supported);
    ASSERT_TRUE(a.cites[1].valid);
    ASSERT_NEAR(a.cites[1].support, 0.0, 1e-12);
    ASSERT_FALSE(a.cites[2].valid);
    ASSERT_STREQ(a.text, "Hotels are booked through the travel office [1]. The CEO earns a million. Nonsense.");
    ASSERT_NEAR(a.support, 1.0 / 3.0, 1e-12);
    ASSERT_NEAR(a.retrieval, 1.0, 1e-12);
    ASSERT_NEAR(a.confidence, 0.4 * 0.9 + 0.3 * 1.0 + 0.3 / 3.0, 1e-12);
    ASSERT_FALSE(a.abstained);
    ASSERT_FALSE(a.unsure);
    hh_kb_answer_clear(&a);

    /* keep unsupported markers when asked; a group keeps its valid numbers */
    p.remove_unsupported = false;
    ASSERT_OK(hh_kb_answer_finish("Hotels are booked [1, 3] and coffee [2].", 0.9, h, 2, "hotels", NULL, &p, &a,
                                  NULL));
    ASSERT_STREQ(a.text, "Hotels are booked [1] and coffee [2].");
    hh_kb_answer_clear(&a);
}

TEST(answer_abstain_paths)
{
    hh_kb_hit_t h[1] = { mkhit("Handbook", "", 0, P1, 1.0 / 61, 1) };
    hh_kb_answer_params_t p = hh_kb_answer_default_params();
    hh_kb_answer_t a;
    /* the model says the sources do not hold the answer */
    ASSERT_OK(hh_kb_answer_finish("Sorry, this is Not found in the knowledge base.", 0.95, h, 1, "salary?", NULL, &p,
                                  &a, NULL));
    ASSERT_TRUE(a.abstained);
    ASSERT_STREQ(a.text, HH_KB_NOT_FOUND);
    hh_kb_answer_clear(&a);
    /* empty output */
    ASSERT_OK(hh_kb_answer_finish("  \n", 0.95, h, 1, "hotels booked", NULL, &p, &a, NULL));
    ASSERT_TRUE(a.abstained);
    hh_kb_answer_clear(&a);
    /* below the threshold: unsure prefix (default) ... */
    const char *gen = "The CEO earns a million [1].";   /* unsupported: S = 0 */
    ASSERT_OK(hh_kb_answer_finish(gen, 0.2, h, 1, "What does the CEO earn?", NULL, &p, &a, NULL));
    ASSERT_NEAR(a.confidence, 0.4 * 0.2, 1e-12);   /* R = 1 * 0 (no question word in P1), S = 0 */
    ASSERT_TRUE(a.unsure);
    ASSERT_FALSE(a.abstained);
    ASSERT_STREQ(a.text, HH_KB_UNSURE "The CEO earns a million.");
    hh_kb_answer_clear(&a);
    /* ... or abstention */
    p.abstain = true;
    ASSERT_OK(hh_kb_answer_finish(gen, 0.2, h, 1, "What does the CEO earn?", NULL, &p, &a, NULL));
    ASSERT_TRUE(a.abstained);
    ASSERT_STREQ(a.text, HH_KB_NOT_FOUND);
    hh_kb_answer_clear(&a);
    /* no passages: abstain without calling the model (an engine over an
     * empty directory would fail the submit with HH_ENOENT) */
    char dir[512];
    snprintf(dir, sizeof dir, "%s/answer_empty_models", hh_test_tmpdir());
    char cmd[600];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", dir);
    ASSERT_EQ_INT(system(cmd), 0);
    hh_engine_params_t ep = hh_engine_default_params();
    ep.models_dir = dir;
    hh_engine_t *e = NULL;
    ASSERT_OK(hh_engine_create(&e, &ep, NULL));
    hh_err_t err;
    int rc = hh_kb_answer(e, "no-such-model", "u", "Where is the CEO?", NULL, 0, NULL, &p, &a, &err);
    ASSERT_EQ_INT(rc, 0);
    ASSERT_TRUE(a.abstained);
    ASSERT_STREQ(a.text, HH_KB_NOT_FOUND);
    ASSERT_EQ_INT(a.completion_tokens, 0);
    hh_kb_answer_clear(&a);
    /* with passages the model is called: the unknown model is the submit error */
    rc = hh_kb_answer(e, "no-such-model", "u", "hotels?", h, 1, NULL, &p, &a, &err);
    ASSERT_EQ_INT(rc, HH_ENOENT);
    hh_engine_free(e);
}

TEST(answer_extractive)
{
    hh_kb_hit_t h[2] = { mkhit("Handbook", "", 0, P1, 1.0 / 61, 1), mkhit("Canteen", "", 0, P2, 1.0 / 62, 1) };
    hh_kb_answer_params_t p = hh_kb_answer_default_params();
    hh_kb_answer_t a;
    ASSERT_OK(hh_kb_answer_extractive(h, 2, "When does the canteen open?", &p, &a, NULL));
    ASSERT_TRUE(a.extractive);
    ASSERT_FALSE(a.abstained);
    /* P1 has no question word: nothing of it; of P2 only the sentence that
     * answers (marked unsure exactly when C is below the fitted threshold) */
    ASSERT_EQ_INT(a.unsure, a.confidence < p.ext_unsure);
    ASSERT_STREQ(a.text + (a.unsure ? strlen(HH_KB_UNSURE) : 0), "The canteen opens at eight. [2]");
    ASSERT_EQ_INT(a.n_cites, 1);
    ASSERT_TRUE(a.cites[0].supported);
    /* F 1, Qs 1, E = 1 - 0.5^2 (canteen, open: two words), margin 0 (no
     * BM25 scores), agree 1 (both hits document 0), W 1 */
    ASSERT_NEAR(a.xfeat[HH_KB_XF_COVER], 1.0, 1e-12);
    ASSERT_NEAR(a.xfeat[HH_KB_XF_EVID], 0.75, 1e-12);
    ASSERT_NEAR(a.confidence, xconf(1, 1, 0.75, 0, 1, 1), 1e-12);
    ASSERT_NEAR(a.retrieval, 1.0, 1e-12);
    ASSERT_NEAR(a.token_prob, -1, 0);
    hh_kb_answer_clear(&a);
    /* low retrieval score: unsure */
    ASSERT_OK(hh_kb_answer_extractive(h, 2, "salary of the CEO", &p, &a, NULL));
    ASSERT_NEAR(a.xfeat[HH_KB_XF_COVER], 0.0, 1e-12);
    ASSERT_NEAR(a.xfeat[HH_KB_XF_EVID], 0.0, 1e-12);
    /* nothing of the question covered: below the abstain threshold */
    ASSERT_TRUE(a.confidence < p.ext_abstain);
    ASSERT_TRUE(a.abstained);
    ASSERT_STREQ(a.text, HH_KB_NOT_FOUND);
    hh_kb_answer_clear(&a);
    ASSERT_OK(hh_kb_answer_extractive(NULL, 0, "anything", &p, &a, NULL));
    ASSERT_TRUE(a.abstained);
    ASSERT_STREQ(a.text, HH_KB_NOT_FOUND);
    hh_kb_answer_clear(&a);
}

/* A crafted embedder: texts mentioning hotels point one way, others the other. */
static int fake_embed(void *user, const char *text, float *out, hh_err_t *err)
{
    int *calls = user;
    (*calls)++;
    bool hotel = strstr(text, "otel") != NULL;
    out[0] = hotel ? 1.0f : 0.0f;
    out[1] = hotel ? 0.0f : 1.0f;
    return 0;
}

TEST(answer_semantic_support)
{
    hh_kb_hit_t h[2] = { mkhit("Handbook", "", 0, P1, 1.0 / 61, 1), mkhit("Canteen", "", 0, P2, 1.0 / 62, 1) };
    hh_kb_answer_params_t p = hh_kb_answer_default_params();
    int calls = 0;
    hh_kb_embedder_t em = { 2, fake_embed, &calls };
    const char *t = "Hotels need receipts [1]. Hotel rooms are cheap [2].";
    hh_kb_citation_t *c = NULL;
    size_t n = 0;
    ASSERT_OK(hh_kb_citations_parse(t, 2, &c, &n));
    ASSERT_EQ_INT(n, 2);
    ASSERT_OK(hh_kb_citations_check(t, c, n, h, 2, &em, &p, NULL));
    /* [1]: lexical hotel+recei of hotel,need,recei = 2/3; cos 1 -> semantic 1 */
    ASSERT_NEAR(c[0].lexical, 2.0 / 3.0, 1e-12);
    ASSERT_NEAR(c[0].semantic, 1.0, 1e-12);
    ASSERT_NEAR(c[0].support, 0.5 * (2.0 / 3.0 + 1.0), 1e-12);
    ASSERT_TRUE(c[0].supported);
    /* [2]: cos 0 -> mapped below the floor 0.3 -> 0; lexical 0 */
    ASSERT_NEAR(c[1].semantic, 0.0, 1e-12);
    ASSERT_NEAR(c[1].support, 0.0, 1e-12);
    ASSERT_FALSE(c[1].supported);
    ASSERT_EQ_INT(calls, 4);   /* two passages, two claims */
    free(c);
}

/* ---- over HTTP: POST /api/ask and the chat extension -------------------- */

#include "http_helpers.h"
#include "http/server.h"
#include "store/store.h"

#include <cjson/cJSON.h>

/* POSTs a JSON body (Connection: close, through http_helpers); returns the
 * status and the body (malloc'd, de-chunked) or a negative HH_E* code. */
static int http_post(int port, const char *path, const char *key, const char *body, char **out)
{
    hh_test_req_t q = { .method = "POST", .path = path, .key = key, .body = body };
    return hh_test_http_status(port, &q, out);
}

static double jnum(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : -1e9;
}

TEST(answer_http_ask_and_grounded_chat)
{
    hh_test_srv_t t;
    ASSERT_OK(hh_test_srv_start(&t, "answer_http", NULL));   /* stories260K, one slot, one thread */
    int port = t.port;
    hh_store_t *st = t.st;
    hh_err_t err;
    hh_store_user_t u;
    char key[HH_KEY_LEN + 1];
    const char *eng[] = { "ENG" }, *hr[] = { "HR" };
    hh_store_collection_t ce, ch;
    ASSERT_OK(hh_store_user_ensure(st, "bob", "member", &u, NULL, &err));
    ASSERT_OK(hh_store_key_create(st, u.id, key, sizeof key, NULL, &err));
    ASSERT_OK(hh_store_user_add_department(st, "bob", "ENG", &err));
    ASSERT_OK(hh_store_collection_ensure(st, "eng", eng, 1, &ce, &err));
    ASSERT_OK(hh_store_collection_ensure(st, "hr", hr, 1, &ch, &err));
    const char *sha_e = "1111111111111111111111111111111111111111111111111111111111111111";
    const char *sha_h = "2222222222222222222222222222222222222222222222222222222222222222";
    hh_store_chunk_in_t c1 = { .text = P1, .heading_path = "Travel \xE2\x80\xBA Hotels", .page = 12 };
    hh_store_chunk_in_t c2 = { .text = "HRSECRET hotels for managers are booked by HR directly at five stars." };
    hh_store_doc_in_t d = { .collection_id = ce.id, .title = "Handbook", .source_path = "handbook.txt",
                            .mime = "text/plain", .sha256 = sha_e, .size = 10, .chunks = &c1, .n_chunks = 1 };
    int64_t doc_e = 0;
    ASSERT_OK(hh_store_doc_replace(st, &d, &doc_e, NULL, &err));
    d.collection_id = ch.id;
    d.title = "HR hotels";
    d.source_path = "hr.txt";
    d.sha256 = sha_h;
    d.chunks = &c2;
    ASSERT_OK(hh_store_doc_replace(st, &d, NULL, NULL, &err));
    hh_http_kb_index_wait(t.s);   /* stored directly, not ingested: the server analyzes them in the background */

    /* extractive (no model) */
    char *body = NULL;
    ASSERT_EQ_INT(http_post(port, "/api/ask", key, "{\"question\":\"How are hotels booked?\"}", &body), 200);
    cJSON *j = cJSON_Parse(body);
    ASSERT_TRUE(j != NULL);
    ASSERT_TRUE(strstr(body, "HRSECRET") == NULL);
    const cJSON *ans = cJSON_GetObjectItemCaseSensitive(j, "answer");
    ASSERT_TRUE(cJSON_IsString(ans) && strstr(ans->valuestring, "travel office") && strstr(ans->valuestring, "[1]"));
    ASSERT_TRUE(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(j, "abstained")));
    ASSERT_TRUE(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "extractive")));
    /* F 1, Qs 1 (hotel, book through the server's analyzer), E 1 - 0.5^2,
     * margin 1 (one hit), agree 0, W 1 */
    ASSERT_NEAR(jnum(j, "confidence"), xconf(1, 1, 0.75, 1, 0, 1), 1e-9);
    const cJSON *src = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "sources"), 0);
    ASSERT_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "sources")), 1);
    ASSERT_NEAR(jnum(src, "n"), 1, 0);
    ASSERT_NEAR(jnum(src, "document_id"), (double)doc_e, 0);
    ASSERT_NEAR(jnum(src, "page"), 12, 0);
    ASSERT_STREQ(cJSON_GetObjectItemCaseSensitive(src, "title")->valuestring, "Handbook");
    ASSERT_STREQ(cJSON_GetObjectItemCaseSensitive(src, "heading_path")->valuestring, "Travel \xE2\x80\xBA Hotels");
    ASSERT_STREQ(cJSON_GetObjectItemCaseSensitive(src, "quote")->valuestring, P1);
    const cJSON *cit = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "citations"), 0);
    ASSERT_TRUE(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cit, "supported")));
    cJSON_Delete(j);
    free(body);

    /* nothing readable matches: abstain */
    ASSERT_EQ_INT(http_post(port, "/api/ask", key, "{\"question\":\"HRSECRET managers five stars\"}", &body), 200);
    ASSERT_TRUE(strstr(body, "HRSECRET") == NULL);
    j = cJSON_Parse(body);
    ASSERT_TRUE(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "abstained")));
    ASSERT_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "sources")), 0);
    cJSON_Delete(j);
    free(body);

    /* errors: another department's collection, bad body, no key */
    ASSERT_EQ_INT(http_post(port, "/api/ask", key, "{\"question\":\"hotels\",\"collections\":[\"hr\"]}", &body), 404);
    free(body);
    ASSERT_EQ_INT(http_post(port, "/api/ask", key, "{\"question\":\"hotels\",\"k\":0}", &body), 400);
    free(body);
    ASSERT_EQ_INT(http_post(port, "/api/ask", key, "{\"collections\":[]}", &body), 400);
    free(body);
    ASSERT_EQ_INT(http_post(port, "/api/ask", NULL, "{\"question\":\"hotels\"}", &body), 401);
    free(body);

    /* the chat extension with a (tiny, random-story) model: OpenAI shape +
     * hoheit object; the model's text is checked like any answer */
    const char *chat = "{\"model\":\"stories260K\",\"max_tokens\":16,\"messages\":[{\"role\":\"user\",\"content\":"
                       "\"How are hotels booked?\"}],\"hoheit\":{\"collections\":[\"eng\"]}}";
    ASSERT_EQ_INT(http_post(port, "/v1/chat/completions", key, chat, &body), 200);
    ASSERT_TRUE(strstr(body, "HRSECRET") == NULL);
    j = cJSON_Parse(body);
    ASSERT_STREQ(cJSON_GetObjectItemCaseSensitive(j, "object")->valuestring, "chat.completion");
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j,
                                                                                               "choices"), 0),
                                                        "message");
    ASSERT_TRUE(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(msg, "content")));
    const cJSON *hj = cJSON_GetObjectItemCaseSensitive(j, "hoheit");
    ASSERT_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(hj, "sources")), 1);
    double conf = jnum(hj, "confidence"), tp = jnum(cJSON_GetObjectItemCaseSensitive(hj, "scores"), "token_prob");
    ASSERT_TRUE(conf >= 0 && conf <= 1);
    ASSERT_TRUE(tp > 0 && tp <= 1);   /* logprobs came back from the engine */
    ASSERT_TRUE(jnum(cJSON_GetObjectItemCaseSensitive(j, "usage"), "completion_tokens") >= 1);
    cJSON_Delete(j);
    free(body);
    /* streamed: one content chunk, a finish chunk with hoheit, [DONE] */
    const char *chat_s = "{\"model\":\"stories260K\",\"stream\":true,\"max_tokens\":8,\"messages\":[{\"role\":\"user\","
                         "\"content\":\"hotels booked\"}],\"hoheit\":{}}";
    ASSERT_EQ_INT(http_post(port, "/v1/chat/completions", key, chat_s, &body), 200);
    ASSERT_TRUE(strstr(body, "\"hoheit\":{") != NULL);
    ASSERT_TRUE(strstr(body, "data: [DONE]\n\n") != NULL);
    ASSERT_TRUE(strstr(body, "HRSECRET") == NULL);
    free(body);
    hh_test_srv_stop(&t);
}

/* POST /v1/chat/completions {system, user} as key (plain, not grounded):
 * usage.prompt_tokens_details.cached_tokens, -1 when not a 200 with one. */
static int chat_cached_tokens(int port, const char *key, const char *system, const char *user)
{
    cJSON *b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "model", "stories260K");
    cJSON_AddNumberToObject(b, "max_tokens", 2);
    cJSON_AddNumberToObject(b, "temperature", 0);
    cJSON *msgs = cJSON_AddArrayToObject(b, "messages");
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "role", "system");
    cJSON_AddStringToObject(m, "content", system);
    cJSON_AddItemToArray(msgs, m);
    m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "role", "user");
    cJSON_AddStringToObject(m, "content", user);
    cJSON_AddItemToArray(msgs, m);
    char *body = cJSON_PrintUnformatted(b);
    cJSON_Delete(b);
    char *out = NULL;
    int v = -1;
    if (body != NULL && http_post(port, "/v1/chat/completions", key, body, &out) == 200) {
        cJSON *j = cJSON_Parse(out);
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "usage"),
                                                          "prompt_tokens_details");
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(d, "cached_tokens");
        v = cJSON_IsNumber(c) ? c->valueint : -1;
        cJSON_Delete(j);
    }
    free(out);
    cJSON_free(body);
    return v;
}

/* Issue 12, finding 1, for grounded prompts: the KV of a grounded chat
 * (system instructions + the sources bob may read + his question) is
 * bob's alone. A plain chat shaped like the grounding prompt (its system
 * text, then "Sources:") reuses it for bob (so the grounded request ran in
 * his scope, not in a shared one) and not for eve, although she reads the
 * same collection: nothing of another user's grounded prompt, question or
 * sources can be measured. One slot: bob refreshes it before eve tries. */
TEST(answer_http_grounded_cache_per_user)
{
    hh_test_srv_t t;
    ASSERT_OK(hh_test_srv_start(&t, "answer_http_cache", NULL));   /* stories260K, one slot */
    hh_err_t err;
    const char *eng[] = { "ENG" };
    hh_store_collection_t ce;
    char bob[HH_KEY_LEN + 1], eve[HH_KEY_LEN + 1];
    ASSERT_OK(hh_test_srv_user(&t, "bob", "member", bob, NULL));
    ASSERT_OK(hh_test_srv_user(&t, "eve", "member", eve, NULL));
    ASSERT_OK(hh_store_user_add_department(t.st, "bob", "ENG", &err));
    ASSERT_OK(hh_store_user_add_department(t.st, "eve", "ENG", &err));
    ASSERT_OK(hh_store_collection_ensure(t.st, "eng", eng, 1, &ce, &err));
    hh_store_chunk_in_t c1 = { .text = P1 };
    hh_store_doc_in_t d = { .collection_id = ce.id, .title = "Handbook", .source_path = "handbook.txt",
                            .mime = "text/plain", .size = 10, .chunks = &c1, .n_chunks = 1,
                            .sha256 = "3333333333333333333333333333333333333333333333333333333333333333" };
    ASSERT_OK(hh_store_doc_replace(t.st, &d, NULL, NULL, &err));
    hh_http_kb_index_wait(t.s);   /* stored directly, not ingested: the server analyzes them in the background */
    const char *grounded = "{\"model\":\"stories260K\",\"max_tokens\":4,\"messages\":[{\"role\":\"user\","
                           "\"content\":\"How are hotels booked?\"}],\"hoheit\":{\"collections\":[\"eng\"]}}";
    /* the start of the answer module's system instructions (kb/answer.c) */
    const char *sys = "You answer questions using only the numbered sources given in the user message.";
    char *body = NULL;
    ASSERT_EQ_INT(http_post(t.port, "/v1/chat/completions", bob, grounded, &body), 200);
    free(body);
    int bob_cached = chat_cached_tokens(t.port, bob, sys, "Sources:");
    ASSERT_GE(bob_cached, 20);   /* the chat template's head and the sentence */
    ASSERT_EQ_INT(http_post(t.port, "/v1/chat/completions", bob, grounded, &body), 200);
    free(body);
    ASSERT_EQ_INT(chat_cached_tokens(t.port, eve, sys, "Sources:"), 0);
    hh_test_srv_stop(&t);
}

/* ---- extractive answers on realistic passages (issue 14) ---------------- */

/* A forwarded HR mail: header, the answer, padding, a signature with contact block. */
static const char MAIL_DE[] =
    "Von: Anna Schulz <anna.schulz@example.de>\n"
    "An: Alle Mitarbeitenden\n"
    "Betreff: Urlaubsregelung 2027\n"
    "Hallo zusammen,\n"
    "ab dem 1. Januar gilt die neue Regelung. Der Urlaubsanspruch betr\xC3\xA4gt 30 Arbeitstage "
    "Erholungsurlaub pro Kalenderjahr, z. B. bei einer F\xC3\xBC" "nftagewoche. Resturlaub verf\xC3\xA4llt am "
    "31.03. des Folgejahres. Die Kantine hat ab Montag neue \xC3\x96" "ffnungszeiten.\n"
    "Mit freundlichen Gr\xC3\xBC\xC3\x9F" "en\n"
    "Anna Schulz\n"
    "Personalabteilung\n"
    "Tel. +49 30 1234567\n"
    "Hauptstra\xC3\x9F" "e 5, 10115 Berlin";

static const char TRAVEL_DE[] =
    "Reisekosten\n"
    "Fahrten mit dem privaten PKW werden mit 0,30 EUR je gefahrenem Kilometer erstattet. Die Erstattung "
    "erfolgt nach Vorlage des Fahrtenbuchs, d. h. sp\xC3\xA4testens bis zum 15. des Folgemonats.";

TEST(answer_extractive_german_mail)
{
    hh_kb_hit_t h[2] = { mkhit("Urlaub 2027", "", 0, MAIL_DE, 1.0 / 61, 1),
                         mkhit("Reiserichtlinie", "", 0, TRAVEL_DE, 1.0 / 62, 1) };
    h[0].bm25 = 8;
    h[1].bm25 = 2;
    h[1].document_id = 2;
    hh_kb_answer_params_t p = hh_kb_answer_default_params();
    hh_kb_answer_t a;
    ASSERT_OK(hh_kb_answer_extractive(h, 2, "Wie viele Urlaubstage habe ich?", &p, &a, NULL));
    /* the answering sentence whole (z. B. does not cut it), nothing of the
     * header, the canteen or the signature; the travel passage has no question word */
    /* marked unsure (in German) exactly when C is below the fitted threshold */
    const char *sent = "Der Urlaubsanspruch betr\xC3\xA4gt 30 Arbeitstage Erholungsurlaub pro Kalenderjahr, z. B. "
                       "bei einer F\xC3\xBC" "nftagewoche. [1]";
    ASSERT_EQ_INT(a.unsure, a.confidence < p.ext_unsure);
    ASSERT_STREQ(a.text + (a.unsure ? 22 : 0), sent);
    ASSERT_TRUE(!a.unsure || strncmp(a.text, "Ich bin nicht sicher: ", 22) == 0);
    ASSERT_EQ_INT(a.lang, HH_LANG_DE);
    /* one question word (urlau): Qs 1, E = 0.5; the hits' BM25 scores 8 and 2: margin 0.75 */
    ASSERT_NEAR(a.xfeat[HH_KB_XF_COVER], 1.0, 1e-12);
    ASSERT_NEAR(a.xfeat[HH_KB_XF_EVID], 0.5, 1e-12);
    ASSERT_NEAR(a.xfeat[HH_KB_XF_MARGIN], 0.75, 1e-12);
    ASSERT_NEAR(a.confidence, xconf(1, 1, 0.5, 0.75, 0, 1), 1e-12);
    hh_kb_answer_clear(&a);

    /* a question that asks for the contact: the contact block may be used */
    ASSERT_OK(hh_kb_answer_extractive(h, 1, "Unter welcher Telefonnummer erreiche ich die Personalabteilung?", &p,
                                      &a, NULL));
    ASSERT_TRUE(strstr(a.text, "+49 30 1234567") != NULL);
    hh_kb_answer_clear(&a);

    /* two passages: the Kilometer sentence whole, the date sentence of the
     * travel passage not repeated, the mail not used */
    hh_kb_hit_t h2[2] = { mkhit("Reiserichtlinie", "", 0, TRAVEL_DE, 1.0 / 61, 1),
                          mkhit("Urlaub 2027", "", 0, MAIL_DE, 1.0 / 62, 1) };
    ASSERT_OK(hh_kb_answer_extractive(h2, 2, "Was bekomme ich pro Kilometer mit dem privaten PKW?", &p, &a, NULL));
    ASSERT_EQ_INT(a.unsure, a.confidence < p.ext_unsure);
    ASSERT_STREQ(a.text + (a.unsure ? 22 : 0),
                 "Fahrten mit dem privaten PKW werden mit 0,30 EUR je gefahrenem Kilometer erstattet. [1]");
    /* privat, pkw, kilom: Qs 1, E = 1 - 0.5^3; no BM25 scores: margin 0; document 0 both: agree 1 */
    ASSERT_NEAR(a.xfeat[HH_KB_XF_EVID], 0.875, 1e-12);
    ASSERT_NEAR(a.confidence, xconf(1, 1, 0.875, 0, 1, 1), 1e-12);
    ASSERT_FALSE(a.abstained);
    hh_kb_answer_clear(&a);
}

/* With the analyzer (as /api/ask passes the server's) an English question
 * covers a German passage through translations and compound parts; the
 * answer's own word match finds nothing of it. */
TEST(answer_extractive_analyzer)
{
    hh_analyzer_t *an = NULL;
    ASSERT_OK(hh_analyzer_create(&an, NULL, NULL));
    const char *de = "Urlaub\nDer Urlaubsanspruch betr\xC3\xA4gt 30 Arbeitstage Erholungsurlaub pro Kalenderjahr. "
                     "Die Kantine \xC3\xB6" "ffnet um acht Uhr.";
    hh_kb_hit_t h[1] = { mkhit("Urlaub", "", 0, de, 1.0 / 61, 1) };
    h[0].bm25 = 5;
    hh_kb_answer_params_t p = hh_kb_answer_default_params();
    hh_kb_answer_t a, b;
    ASSERT_OK(hh_kb_answer_extractive(h, 1, "How many vacation days do I get?", &p, &a, NULL));
    p.analyzer = an;
    ASSERT_OK(hh_kb_answer_extractive(h, 1, "How many vacation days do I get?", &p, &b, NULL));
    /* without: no question word in the passage */
    ASSERT_NEAR(a.xfeat[HH_KB_XF_COVER], 0, 0);
    /* with: vacation -> urlaub (translation 0.3) and days -> tag (the
     * compound part of Arbeitstage, as a translation) both covered by the
     * sentence that answers, the canteen sentence left out */
    ASSERT_TRUE(b.xfeat[HH_KB_XF_COVER] > 0.25);
    ASSERT_NEAR(b.xfeat[HH_KB_XF_EVID], 0.75, 1e-12);
    ASSERT_TRUE(strstr(b.text, "30 Arbeitstage") != NULL);
    ASSERT_TRUE(strstr(b.text, "Kantine") == NULL);
    ASSERT_TRUE(b.confidence > a.confidence);
    hh_kb_answer_clear(&a);
    hh_kb_answer_clear(&b);
    /* German: the compound of the question (Urlaubstage) against its parts
     * in the passage: exact stem or parts, weight >= 0.5 */
    ASSERT_OK(hh_kb_answer_extractive(h, 1, "Wie viele Urlaubstage habe ich?", &p, &b, NULL));
    ASSERT_TRUE(b.xfeat[HH_KB_XF_COVER] >= 0.5);
    ASSERT_TRUE(strstr(b.text, "30 Arbeitstage") != NULL);
    hh_kb_answer_clear(&b);
    hh_analyzer_free(an);
}

TEST(answer_extractive_table_line_and_english)
{
    /* a jumbled price-table line shares one word with the question: never confidence 1 */
    const char *table = "Kilometer | 0,30 | 12 | 5,00 | 7 | 19 % | 3,50\nPkw | 2 | 0,20 | 14 | 1";
    hh_kb_hit_t h[1] = { mkhit("Preise", "", 0, table, 1.0 / 61, 1) };
    hh_kb_answer_params_t p = hh_kb_answer_default_params();
    hh_kb_answer_t a;
    ASSERT_OK(hh_kb_answer_extractive(h, 1, "Kilometer?", &p, &a, NULL));
    ASSERT_NEAR(a.xfeat[HH_KB_XF_EVID], 0.5, 1e-12);
    ASSERT_TRUE(a.xfeat[HH_KB_XF_W] < 0.25);   /* mostly numbers and bars */
    ASSERT_NEAR(a.xfeat[HH_KB_XF_MARGIN], 0, 0);   /* no BM25 score */
    /* the defaults: declined, abstained below ext_abstain, else unsure */
    ASSERT_TRUE(a.confidence < p.ext_unsure);
    ASSERT_EQ_INT(a.abstained, a.confidence < p.ext_abstain);
    ASSERT_EQ_INT(a.unsure, !a.abstained);
    hh_kb_answer_clear(&a);
    p.ext_abstain = 0;   /* unsure only: the prefix in the question's language */
    ASSERT_OK(hh_kb_answer_extractive(h, 1, "Kilometer?", &p, &a, NULL));
    ASSERT_TRUE(a.unsure);
    ASSERT_TRUE(strncmp(a.text, HH_KB_UNSURE, strlen(HH_KB_UNSURE)) == 0);   /* an English question */
    hh_kb_answer_clear(&a);
    ASSERT_OK(hh_kb_answer_extractive(h, 1, "Wie viel kostet ein Kilometer?", &p, &a, NULL));
    ASSERT_TRUE(a.unsure);
    ASSERT_TRUE(strncmp(a.text, "Ich bin nicht sicher: ", 22) == 0);   /* a German question */
    hh_kb_answer_clear(&a);

    /* English: coverage picks two complementary sentences, the signature stays out */
    const char *en = "Travel policy. Hotels are booked through the travel office in Berlin. The travel office "
                     "also books trains. Receipts for taxis go to finance within 30 days, e.g. by e-mail. "
                     "The canteen opens at eight.\nBest regards,\nJohn Smith\nPhone: 030 555 0199";
    hh_kb_hit_t he[1] = { mkhit("Handbook", "", 0, en, 1.0 / 61, 1) };
    p.ext_unsure = 0;   /* the sentence choice only, whatever the fitted thresholds say */
    ASSERT_OK(hh_kb_answer_extractive(he, 1, "Where are hotels booked and where do taxi receipts go?", &p, &a, NULL));
    ASSERT_STREQ(a.text, "Hotels are booked through the travel office in Berlin. Receipts for taxis go to finance "
                         "within 30 days, e.g. by e-mail. [1]");
    ASSERT_EQ_INT(a.lang, HH_LANG_EN);
    hh_kb_answer_clear(&a);
    p.ext_unsure = hh_kb_answer_default_params().ext_unsure;
    /* the finding "...ist die 1. [2]": an ordinal does not end the sentence */
    const char *ord = "Antragsfristen\n1. Allgemeines\nDie Frist f\xC3\xBCr den Antrag auf Bildungsurlaub ist die 1. "
                      "Woche des Quartals, sp\xC3\xA4testens der 15. des ersten Monats. Die Kantine hat am 1. Mai "
                      "geschlossen.";
    hh_kb_hit_t ho[2] = { mkhit("Urlaub", "", 0, P2, 1.0 / 61, 1), mkhit("Fristen", "", 0, ord, 1.0 / 62, 1) };
    ASSERT_OK(hh_kb_answer_extractive(ho, 2, "Bis wann muss der Antrag auf Bildungsurlaub gestellt werden?", &p, &a,
                                      NULL));
    /* (the answering passage is only the second hit: marked unsure) */
    ASSERT_STREQ(a.text, "Ich bin nicht sicher: Die Frist f\xC3\xBCr den Antrag auf Bildungsurlaub ist die 1. Woche "
                         "des Quartals, sp\xC3\xA4testens der 15. des ersten Monats. [2]");
    hh_kb_answer_clear(&a);
    /* a passage that is nothing but a signature and contact block: nothing to quote */
    const char *sig = "Mit freundlichen Gr\xC3\xBC\xC3\x9F" "en\nAnna Schulz\nTel. +49 30 1234567";
    hh_kb_hit_t hs[1] = { mkhit("Mail", "", 0, sig, 1.0 / 61, 1) };
    ASSERT_OK(hh_kb_answer_extractive(hs, 1, "Wie viele Urlaubstage habe ich?", &p, &a, NULL));
    ASSERT_TRUE(a.abstained);
    ASSERT_STREQ(a.text, "nicht in den Dokumenten gefunden.");
    ASSERT_EQ_INT(a.n_cites, 0);
    hh_kb_answer_clear(&a);
    /* abstention text in the question's language */
    p.lang = HH_LANG_UNKNOWN;
    ASSERT_OK(hh_kb_answer_extractive(NULL, 0, "Wie viele Urlaubstage habe ich?", &p, &a, NULL));
    ASSERT_STREQ(a.text, "nicht in den Dokumenten gefunden.");
    ASSERT_TRUE(a.abstained);
    hh_kb_answer_clear(&a);
}

/* A long German policy passage of about n bytes about travel costs. */
static char *long_passage(int which, size_t n)
{
    static const char *const s[] = {
        "Reisekosten werden nach der Reiserichtlinie erstattet. ",
        "Fahrten mit dem privaten PKW werden mit 0,30 EUR je Kilometer erstattet, z. B. zum Kunden. ",
        "Die Abrechnung der Reisekosten erfolgt bis zum 15. des Folgemonats. ",
        "Hotelkosten werden bis 120 EUR je Nacht als Reisekosten anerkannt. ",
    };
    char *b = malloc(n + 200);
    size_t o = 0;
    o += (size_t)snprintf(b, n + 200, "Abschnitt %d. ", which);
    for (int i = 0; o < n; i++)
        o += (size_t)snprintf(b + o, n + 200 - o, "%s", s[(i + which) % 4]);
    return b;
}

/* Issue 14: /api/ask with the demo model (512-token context) and long
 * sources: 200 with as many passages as fit, best first, the listed
 * sources the ones given to the model, citations numbered against them;
 * a 400 context_length_exceeded only when the question alone is too long. */
TEST(answer_http_sources_fit_context)
{
    hh_test_srv_t t;
    ASSERT_OK(hh_test_srv_start(&t, "answer_http_fit", NULL));   /* stories260K, n_ctx 512 */
    hh_err_t err;
    const char *eng[] = { "ENG" };
    hh_store_collection_t ce;
    char key[HH_KEY_LEN + 1];
    ASSERT_OK(hh_test_srv_user(&t, "bob", "member", key, NULL));
    ASSERT_OK(hh_store_user_add_department(t.st, "bob", "ENG", &err));
    ASSERT_OK(hh_store_collection_ensure(t.st, "eng", eng, 1, &ce, &err));
    for (int i = 0; i < 5; i++) {
        char *text = long_passage(i, 1400);
        hh_store_chunk_in_t c1 = { .text = text };
        char sha[65], title[32];
        memset(sha, 'a' + i, 64);
        sha[64] = '\0';
        snprintf(title, sizeof title, "Richtlinie %d", i + 1);
        hh_store_doc_in_t d = { .collection_id = ce.id, .title = title, .source_path = title, .mime = "text/plain",
                                .size = 10, .chunks = &c1, .n_chunks = 1, .sha256 = sha };
        ASSERT_OK(hh_store_doc_replace(t.st, &d, NULL, NULL, &err));
        free(text);
    }
    hh_http_kb_index_wait(t.s);   /* stored directly, not ingested: the server analyzes them in the background */
    hh_test_resp_t r;
    hh_test_req_t q = { .method = "POST", .path = "/api/ask", .key = key,
                        .body = "{\"question\":\"Wie werden Reisekosten mit dem privaten PKW erstattet?\","
                                "\"model\":\"stories260K\",\"collections\":[\"eng\"]}" };
    ASSERT_OK(hh_test_http_req(t.port, &q, &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_TRUE(r.j != NULL);
    const cJSON *src = cJSON_GetObjectItemCaseSensitive(r.j, "sources");
    int ns = cJSON_GetArraySize(src);
    ASSERT_GE(ns, 1);
    ASSERT_TRUE(ns < 5);   /* five passages of 1400 bytes never fit 512 tokens */
    for (int i = 0; i < ns; i++)
        ASSERT_NEAR(jnum(cJSON_GetArrayItem(src, i), "n"), i + 1, 0);
    const cJSON *cit;
    cJSON_ArrayForEach(cit, cJSON_GetObjectItemCaseSensitive(r.j, "citations")) {
        double n = jnum(cit, "n");
        ASSERT_EQ_INT(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cit, "valid")), n >= 1 && n <= ns);
    }
    ASSERT_TRUE(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(r.j, "answer")));
    ASSERT_STREQ(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r.j, "lang")), "de");
    ASSERT_FALSE(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r.j, "extractive")));
    hh_test_resp_free(&r);

    /* max_tokens: bounds the answer, reported in usage; bad values are a 400 naming the field */
    hh_test_req_t qm = { .method = "POST", .path = "/api/ask", .key = key,
                         .body = "{\"question\":\"Wie werden Reisekosten mit dem privaten PKW erstattet?\","
                                 "\"model\":\"stories260K\",\"collections\":[\"eng\"],\"max_tokens\":3}" };
    ASSERT_OK(hh_test_http_req(t.port, &qm, &r));
    ASSERT_EQ_INT(r.status, 200);
    const cJSON *usage = cJSON_GetObjectItemCaseSensitive(r.j, "usage");
    ASSERT_GE(jnum(usage, "completion_tokens"), 1);
    ASSERT_LE(jnum(usage, "completion_tokens"), 3);
    ASSERT_GE(jnum(usage, "prompt_tokens"), 20);
    ASSERT_NEAR(jnum(usage, "total_tokens"), jnum(usage, "prompt_tokens") + jnum(usage, "completion_tokens"), 0);
    hh_test_resp_free(&r);
    const char *bad[] = { "0", "-1", "1.5", "\"3\"", "true", "1e300", "32769" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char body[256];
        snprintf(body, sizeof body, "{\"question\":\"PKW?\",\"model\":\"stories260K\",\"max_tokens\":%s}", bad[i]);
        hh_test_req_t qb = { .method = "POST", .path = "/api/ask", .key = key, .body = body };
        ASSERT_OK(hh_test_http_req(t.port, &qb, &r));
        ASSERT_EQ_INT(r.status, 400);
        ASSERT_TRUE(strstr(r.body, "max_tokens") != NULL);
        hh_test_resp_free(&r);
    }

    /* the question alone beyond the context: the one 400 left */
    size_t ql = 4000;
    char *big = malloc(ql + 100);
    size_t o = (size_t)snprintf(big, ql + 100, "{\"model\":\"stories260K\",\"question\":\"");
    while (o < ql)
        o += (size_t)snprintf(big + o, ql + 100 - o, "Reisekosten PKW ");
    snprintf(big + o, ql + 100 - o, "\"}");
    hh_test_req_t q2 = { .method = "POST", .path = "/api/ask", .key = key, .body = big };
    ASSERT_OK(hh_test_http_req(t.port, &q2, &r));
    ASSERT_EQ_INT(r.status, 400);
    ASSERT_TRUE(strstr(r.body, "context_length_exceeded") != NULL);
    hh_test_resp_free(&r);
    free(big);

    /* extractive, German question: German fixed texts; an English Accept-Language does not override a clear question */
    hh_test_req_t q3 = { .method = "POST", .path = "/api/ask", .key = key, .headers = "Accept-Language: en-US,en",
                         .body = "{\"question\":\"Wie viel Gehalt bekommt die Gesch\xC3\xA4" "ftsf\xC3\xBChrung?\"}" };
    ASSERT_OK(hh_test_http_req(t.port, &q3, &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_STREQ(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r.j, "lang")), "de");
    ASSERT_TRUE(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r.j, "abstained")));
    ASSERT_STREQ(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r.j, "answer")),
                 "nicht in den Dokumenten gefunden.");
    hh_test_resp_free(&r);
    /* a collection the user cannot read: the same 404 as a missing one, in German for a German question */
    hh_test_req_t q5 = { .method = "POST", .path = "/api/ask", .key = key,
                         .body = "{\"question\":\"Wie werden Reisekosten erstattet?\",\"collections\":[\"geheim\"]}" };
    ASSERT_OK(hh_test_http_req(t.port, &q5, &r));
    ASSERT_EQ_INT(r.status, 404);
    ASSERT_TRUE(strstr(r.body, "\"collection_not_found\"") != NULL);
    ASSERT_TRUE(strstr(r.body, "Keine lesbare Sammlung namens 'geheim'.") != NULL);
    hh_test_resp_free(&r);
    /* an ambiguous question ("PKW?") takes the Accept-Language */
    hh_test_req_t q4 = { .method = "POST", .path = "/api/ask", .key = key, .headers = "Accept-Language: de-DE",
                         .body = "{\"question\":\"Gehalt?\"}" };
    ASSERT_OK(hh_test_http_req(t.port, &q4, &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_STREQ(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r.j, "answer")),
                 "nicht in den Dokumenten gefunden.");
    hh_test_resp_free(&r);
    q4.headers = NULL;
    ASSERT_OK(hh_test_http_req(t.port, &q4, &r));
    ASSERT_STREQ(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r.j, "answer")), HH_KB_NOT_FOUND);
    ASSERT_STREQ(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r.j, "lang")), "en");
    hh_test_resp_free(&r);
    hh_test_srv_stop(&t);
}

/* GET /metrics value of a counter (admin key); -1 when missing. */
static double metric(int port, const char *key, const char *name)
{
    char *body = NULL;
    double v = -1;
    hh_test_req_t q = { .method = "GET", .path = "/metrics", .key = key };
    if (hh_test_http_status(port, &q, &body) == 200) {
        char pat[128];
        snprintf(pat, sizeof pat, "\n%s ", name);
        const char *p = strstr(body, pat);
        if (p != NULL)
            v = strtod(p + strlen(pat), NULL);
    }
    free(body);
    return v;
}

/* Issue 15: a grounded answer is decoded with prompt lookup by default
 * (drafts copied from the prompt with its sources, /metrics counts them),
 * "prompt_lookup": false turns it off for the request, and the answer is
 * the same text either way; a non-boolean value is a 400. */
TEST(answer_http_prompt_lookup_default_and_switch)
{
    hh_test_srv_t t;
    ASSERT_OK(hh_test_srv_start(&t, "answer_lookup", NULL));
    int port = t.port;
    hh_store_t *st = t.st;
    hh_err_t err;
    hh_store_user_t u, a;
    char key[HH_KEY_LEN + 1], akey[HH_KEY_LEN + 1];
    const char *eng[] = { "ENG" };
    hh_store_collection_t ce;
    ASSERT_OK(hh_store_user_ensure(st, "bob", "member", &u, NULL, &err));
    ASSERT_OK(hh_store_key_create(st, u.id, key, sizeof key, NULL, &err));
    ASSERT_OK(hh_store_user_ensure(st, "ada", "admin", &a, NULL, &err));
    ASSERT_OK(hh_store_key_create(st, a.id, akey, sizeof akey, NULL, &err));
    ASSERT_OK(hh_store_user_add_department(st, "bob", "ENG", &err));
    ASSERT_OK(hh_store_collection_ensure(st, "eng", eng, 1, &ce, &err));
    hh_store_chunk_in_t c1 = { .text = P1, .heading_path = "Travel", .page = 1 };
    hh_store_doc_in_t d = { .collection_id = ce.id, .title = "Story", .source_path = "story.txt",
                            .mime = "text/plain", .sha256 = "3333333333333333333333333333333333333333333333333333333333333333",
                            .size = 10, .chunks = &c1, .n_chunks = 1 };
    ASSERT_OK(hh_store_doc_replace(st, &d, NULL, NULL, &err));
    hh_store_chunk_in_t c2 = { .text = P2 };   /* a second document: BM25 needs more than one */
    d.title = "Canteen";
    d.source_path = "canteen.txt";
    d.sha256 = "4444444444444444444444444444444444444444444444444444444444444444";
    d.chunks = &c2;
    ASSERT_OK(hh_store_doc_replace(st, &d, NULL, NULL, &err));
    hh_http_kb_index_wait(t.s);   /* stored directly, not ingested: the server analyzes them in the background */
    char *off = NULL, *on = NULL, *body = NULL;
    const char *q_off = "{\"model\":\"stories260K\",\"max_tokens\":16,\"prompt_lookup\":false,\"messages\":[{\"role\":"
                        "\"user\",\"content\":\"How are hotels booked?\"}],\"hoheit\":{\"collections\":[\"eng\"]}}";
    const char *q_on = "{\"model\":\"stories260K\",\"max_tokens\":16,\"messages\":[{\"role\":"
                       "\"user\",\"content\":\"How are hotels booked?\"}],\"hoheit\":{\"collections\":[\"eng\"]}}";
    ASSERT_EQ_INT(http_post(port, "/v1/chat/completions", key, q_off, &off), 200);
    ASSERT_TRUE(metric(port, akey, "hoheit_draft_tokens_total") == 0);
    ASSERT_EQ_INT(http_post(port, "/v1/chat/completions", key, q_on, &on), 200);
    double drafted = metric(port, akey, "hoheit_draft_tokens_total");
    printf("    drafted %.0f, kept %.0f\n", drafted, metric(port, akey, "hoheit_draft_accepted_total"));
    ASSERT_TRUE(drafted > 0);
    cJSON *jo = cJSON_Parse(off), *jn = cJSON_Parse(on);
    const cJSON *ao = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(jo, "choices"), 0), "message"),
        "content");
    const cJSON *an = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(jn, "choices"), 0), "message"),
        "content");
    ASSERT_TRUE(cJSON_IsString(ao) && cJSON_IsString(an));
    ASSERT_TRUE(strlen(ao->valuestring) > 0);
    ASSERT_STREQ(an->valuestring, ao->valuestring);
    cJSON_Delete(jo);
    cJSON_Delete(jn);
    ASSERT_EQ_INT(http_post(port, "/api/ask", key, "{\"question\":\"Lily\",\"prompt_lookup\":\"yes\"}", &body), 400);
    free(body);
    ASSERT_EQ_INT(http_post(port, "/v1/completions", key,
                            "{\"model\":\"stories260K\",\"prompt\":\"Lily\",\"prompt_lookup\":1}", &body), 400);
    free(body);
    free(off);
    free(on);
    hh_test_srv_stop(&t);
}
