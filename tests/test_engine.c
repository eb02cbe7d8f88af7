/* test_engine.c - the engine with real models: registry, greedy output equal
 * to a direct decode, continuous batching that keeps sequences apart, prefix
 * cache, cancellation, limits, stop strings, fairness, timeouts, LRU.
 * Chunked prefill and prompt-lookup decoding: test_engine_sched.c; shared
 * helpers: engine_helpers.c. */
#include "harness.h"
#include "engine_helpers.h"
#include "engine/engine.h"
#include "model/model.h"
#include "tok/tok.h"

#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

TEST(engine_lists_models)
{
    hh_engine_t *e = make_engine("list", 1, 128, 8);
    ASSERT_TRUE(e != NULL);
    hh_engine_model_info_t *info = NULL;
    size_t n = 0;
    ASSERT_OK(hh_engine_list_models(e, &info, &n, NULL));
    ASSERT_EQ_INT(n, 2);
    ASSERT_STREQ(info[0].id, "llama-q8_0");
    ASSERT_STREQ(info[1].id, STORIES);
    ASSERT_EQ_INT(info[1].size, 1185312);
    ASSERT_EQ_INT(info[0].size, 1897824);
    ASSERT_FALSE(info[1].loaded);
    ASSERT_TRUE(info[1].mtime > 0);
    free(info);

    collector_t c;
    col_init(&c);
    hh_gen_request_t r = greedy_req(STORIES, "Once", 2, &c);
    ASSERT_OK(run_one(e, &r, &c));
    ASSERT_OK(hh_engine_list_models(e, &info, &n, NULL));
    ASSERT_EQ_INT(n, 2);
    ASSERT_TRUE(info[1].loaded);
    ASSERT_FALSE(info[0].loaded);
    free(info);
    hh_engine_stats_t st;
    hh_engine_stats(e, &st);
    ASSERT_EQ_INT(st.models_loaded, 1);
    ASSERT_EQ_INT(st.slots_total, 1);
    col_destroy(&c);
    hh_engine_free(e);
}

TEST(engine_unknown_model_and_bad_requests)
{
    hh_engine_t *e = make_engine("unknown", 1, 128, 8);
    ASSERT_TRUE(e != NULL);
    collector_t c;
    col_init(&c);
    hh_err_t err;
    hh_gen_request_t r = greedy_req("no-such-model", "Once", 2, &c);
    ASSERT_EQ_INT(hh_engine_submit(e, &r, NULL, &err), HH_ENOENT);
    ASSERT_TRUE(strstr(err.msg, "no-such-model") != NULL);
    r = greedy_req(STORIES, "Once", 2, &c);
    r.sampling.top_p = 2.0f;
    ASSERT_EQ_INT(hh_engine_submit(e, &r, NULL, &err), HH_EINVAL);
    r = greedy_req(STORIES, "Once", 2, &c);
    r.cb = NULL;
    ASSERT_EQ_INT(hh_engine_submit(e, &r, NULL, &err), HH_EINVAL);
    r = greedy_req(STORIES, "Once", 1000, &c);   /* over the limit (n_ctx 128) */
    ASSERT_EQ_INT(hh_engine_submit(e, &r, NULL, &err), HH_EINVAL);
    hh_engine_stats_t st;
    hh_engine_stats(e, &st);
    ASSERT_EQ_INT(st.queue_depth, 0);
    ASSERT_EQ_INT(c.first_order, -1);   /* no callback for refused requests */
    col_destroy(&c);
    hh_engine_free(e);
}

TEST(engine_greedy_equals_direct_decode)
{
    const char *prompt = "Once upon a time";
    char expect[MAX_TEXT];
    ASSERT_OK(direct_greedy("models/stories260K.gguf", prompt, 30, expect, sizeof expect));
    ASSERT_TRUE(strlen(expect) > 20);
    hh_engine_t *e = make_engine("greedy", 2, 256, 8);
    ASSERT_TRUE(e != NULL);
    collector_t c;
    col_init(&c);
    hh_gen_request_t r = greedy_req(STORIES, prompt, 30, &c);
    ASSERT_OK(run_one(e, &r, &c));
    ASSERT_EQ_INT(c.kind, HH_GEN_DONE);
    ASSERT_EQ_INT(c.n_final, 1);
    ASSERT_STREQ(c.content, expect);
    ASSERT_STREQ(c.text, expect);             /* streamed text == final content */
    ASSERT_EQ_INT(c.prompt_tokens, 5);        /* BOS + 4 */
    ASSERT_EQ_INT(c.completion_tokens, 30);
    ASSERT_EQ_INT(c.finish, HH_FINISH_LENGTH);
    hh_engine_stats_t st;
    hh_engine_stats(e, &st);
    ASSERT_EQ_INT(st.generated_tokens, 30);
    ASSERT_EQ_INT(st.prompt_tokens, 5);
    ASSERT_EQ_INT(st.slots_busy, 0);
    ASSERT_EQ_INT(st.kv_used, 5 + 29);        /* the last token is sampled, not decoded */
    col_destroy(&c);
    hh_engine_free(e);
}

/* 6 different prompts through 4 slots at once (batched decode steps, two
 * requests waiting for a slot) give exactly the text each gives alone. */
static void concurrent_case(const char *model, const char *tag)
{
    static const char *prompts[6] = {
        "Once upon a time", "The little dog", "Lily and Ben went to the park",
        "One day, a big bird", "Tom had a red ball. He", "The sun was",
    };
    enum { N = 6, TOK = 20 };
    hh_engine_t *e = make_engine(tag, 4, 256, 16);
    ASSERT_TRUE(e != NULL);
    static collector_t alone[N], together[N];
    for (int i = 0; i < N; i++) {
        col_init(&alone[i]);
        hh_gen_request_t r = greedy_req(model, prompts[i], TOK, &alone[i]);
        ASSERT_OK(run_one(e, &r, &alone[i]));
        ASSERT_EQ_INT(alone[i].kind, HH_GEN_DONE);
    }
    /* Fresh engine: no prefix cache shared with the solo runs. */
    hh_engine_free(e);
    e = make_engine(tag, 4, 256, 16);
    ASSERT_TRUE(e != NULL);
    for (int i = 0; i < N; i++) {
        col_init(&together[i]);
        hh_gen_request_t r = greedy_req(model, prompts[i], TOK, &together[i]);
        r.user = prompts[i];
        ASSERT_OK(hh_engine_submit(e, &r, NULL, NULL));
    }
    for (int i = 0; i < N; i++) {
        ASSERT_TRUE(col_wait(&together[i], 60));
        ASSERT_EQ_INT(together[i].kind, HH_GEN_DONE);
        ASSERT_STREQ(together[i].content, alone[i].content);
        ASSERT_STREQ(together[i].text, alone[i].text);
        ASSERT_EQ_INT(together[i].completion_tokens, alone[i].completion_tokens);
    }
    /* The answers differ between prompts (otherwise mixing would not show). */
    ASSERT_TRUE(strcmp(alone[0].content, alone[1].content) != 0);
    for (int i = 0; i < N; i++) {
        col_destroy(&alone[i]);
        col_destroy(&together[i]);
    }
    hh_engine_free(e);
}

TEST(engine_concurrent_equals_alone_stories) { concurrent_case(STORIES, "conc-stories"); }
TEST(engine_concurrent_equals_alone_q8_0) { concurrent_case("llama-q8_0", "conc-q8"); }

TEST(engine_prefix_cache_reuses_kv)
{
    const char *prompt = "Once upon a time, there was a little girl named Lily. She loved to play outside "
                         "in the park with her friends. One day, she saw a big red ball";
    hh_engine_t *e = make_engine("prefix", 2, 256, 8);
    ASSERT_TRUE(e != NULL);
    collector_t a, b, c;
    col_init(&a);
    col_init(&b);
    col_init(&c);
    hh_gen_request_t r = greedy_req(STORIES, prompt, 12, &a);
    ASSERT_OK(run_one(e, &r, &a));
    ASSERT_EQ_INT(a.cached_tokens, 0);
    ASSERT_TRUE(a.prompt_tokens > 30);
    r = greedy_req(STORIES, prompt, 12, &b);
    ASSERT_OK(run_one(e, &r, &b));
    /* All but the last prompt token (re-evaluated for its logits). */
    ASSERT_EQ_INT(b.cached_tokens, b.prompt_tokens - 1);
    ASSERT_STREQ(b.content, a.content);
    /* A prompt sharing only the beginning reuses that beginning. */
    r = greedy_req(STORIES, "Once upon a time, there was a little girl named Lily. She had a cat", 12, &c);
    ASSERT_OK(run_one(e, &r, &c));
    ASSERT_TRUE(c.cached_tokens >= 10);
    ASSERT_TRUE(c.cached_tokens < c.prompt_tokens - 1);
    char expect[MAX_TEXT];
    ASSERT_OK(direct_greedy("models/stories260K.gguf",
                            "Once upon a time, there was a little girl named Lily. She had a cat", 12, expect,
                            sizeof expect));
    ASSERT_STREQ(c.content, expect);
    col_destroy(&a);
    col_destroy(&b);
    col_destroy(&c);
    hh_engine_free(e);
}

/* ---- prefix cache scoped per user (issue 12, finding 1) ------------------- */

#define SCOPE_A 101u   /* "user A": the HTTP layer passes user ids */
#define SCOPE_B 202u

/* Runs prompt greedily as scope; fills *c (caller destroys). */
static int run_scoped(hh_engine_t *e, uint64_t scope, const char *prompt, collector_t *c)
{
    col_init(c);
    hh_gen_request_t r = greedy_req(STORIES, prompt, 4, c);
    r.user = scope == SCOPE_A ? "a" : "b";   /* fairness only; the scope is what counts */
    r.cache_scope = scope;
    return run_one(e, &r, c);
}

/* cached_tokens of one scoped run (-1: it failed). */
static int32_t cached_of(hh_engine_t *e, uint64_t scope, const char *prompt, int32_t *prompt_tokens)
{
    collector_t c;
    int rc = run_scoped(e, scope, prompt, &c);
    int32_t v = rc == 0 && c.kind == HH_GEN_DONE ? c.cached_tokens : -1;
    if (prompt_tokens)
        *prompt_tokens = c.prompt_tokens;
    col_destroy(&c);
    return v;
}

#define SCOPED_P "Once upon a time, there was a little girl named Lily. She loved to play outside"

/* A's prompt P: B sending P, C sending P plus some words, D sending P less
 * its last word: none reuses any of it (cached_tokens 0: the whole prompt is prefilled, exactly the
 * work of a cold run, and the answer is the cold one), while A sending P
 * again reuses all but its last token. With one slot A refreshes P before
 * each probe (B's probe takes the slot); with several slots B's probes go
 * to other slots and A's KV survives them. */
static void scoped_case(int n_slots)
{
    char tag[32];
    snprintf(tag, sizeof tag, "scope-%d", n_slots);
    hh_engine_t *e = make_engine(tag, n_slots, 256, 8);
    ASSERT_TRUE(e != NULL);
    static const char *const probes[] = { SCOPED_P, SCOPED_P " in the park", "Once upon a time, there was a "
                                          "little girl named Lily. She loved to play" };
    collector_t cold;
    ASSERT_OK(run_scoped(e, SCOPE_A, SCOPED_P, &cold));
    ASSERT_EQ_INT(cold.cached_tokens, 0);
    ASSERT_TRUE(cold.prompt_tokens > 15);
    for (size_t i = 0; i < 3; i++) {
        if (n_slots == 1 && i > 0)
            ASSERT_EQ_INT(cached_of(e, SCOPE_A, SCOPED_P, NULL), 0);   /* B's probe had the slot */
        collector_t b;
        ASSERT_OK(run_scoped(e, SCOPE_B + i, probes[i], &b));   /* a user per probe: none reuses another's */
        ASSERT_EQ_INT(b.kind, HH_GEN_DONE);
        ASSERT_EQ_INT(b.cached_tokens, 0);
        if (i == 0)
            ASSERT_STREQ(b.content, cold.content);   /* the same work, the same answer */
        col_destroy(&b);
        if (n_slots > 1) {
            /* A's KV survived B's probe (B took another slot) */
            int32_t n_prompt = 0;
            ASSERT_EQ_INT(cached_of(e, SCOPE_A, SCOPED_P, &n_prompt), cold.prompt_tokens - 1);
            ASSERT_EQ_INT(n_prompt, cold.prompt_tokens);
            /* and B's prefix cache works for B's own P */
            if (i == 0)
                ASSERT_EQ_INT(cached_of(e, SCOPE_B, SCOPED_P, NULL), cold.prompt_tokens - 1);
        }
    }
    /* the cache still works for A */
    ASSERT_EQ_INT(cached_of(e, SCOPE_A, SCOPED_P, NULL), n_slots == 1 ? 0 : cold.prompt_tokens - 1);
    ASSERT_EQ_INT(cached_of(e, SCOPE_A, SCOPED_P, NULL), cold.prompt_tokens - 1);
    /* scope 0 (command line, tests) is a scope of its own */
    ASSERT_EQ_INT(cached_of(e, 0, SCOPED_P, NULL), 0);
    col_destroy(&cold);
    hh_engine_free(e);
}

TEST(engine_prefix_cache_scoped_one_slot) { scoped_case(1); }
TEST(engine_prefix_cache_scoped_three_slots) { scoped_case(3); }

/* The attack in miniature: A's prompt holds a secret digit; B, after
 * each of A's requests, sends a prompt shaped like A's ending in a guessed
 * digit and the words after it, and compares cached_tokens. Before the fix
 * the right digit reused A's KV past the digit (cached_tokens several
 * higher) and stood out; now every guess reuses the same (nothing of A's). */
static void digit_attack_case(int n_slots)
{
    char tag[32];
    snprintf(tag, sizeof tag, "digits-%d", n_slots);
    hh_engine_t *e = make_engine(tag, n_slots, 256, 8);
    ASSERT_TRUE(e != NULL);
    const char *secret = "Lily said the secret number is 7 and Tom must never know it.";
    char guess[128];
    /* B primes its own slot with the shape once, so that with several slots
     * every guess finds B's own earlier guess and not a cold slot. */
    snprintf(guess, sizeof guess, "Lily said the secret number is x and Tom must");
    ASSERT_TRUE(cached_of(e, SCOPE_B, guess, NULL) >= 0);
    int32_t seen[10];
    for (int d = 0; d < 10; d++) {
        ASSERT_TRUE(cached_of(e, SCOPE_A, secret, NULL) >= 0);
        snprintf(guess, sizeof guess, "Lily said the secret number is %d and Tom must", d);
        seen[d] = cached_of(e, SCOPE_B, guess, NULL);
        ASSERT_TRUE(seen[d] >= 0);
    }
    for (int d = 1; d < 10; d++)
        ASSERT_EQ_INT(seen[d], seen[0]);
    hh_engine_free(e);
}

TEST(engine_prefix_cache_digit_attack_one_slot) { digit_attack_case(1); }
TEST(engine_prefix_cache_digit_attack_three_slots) { digit_attack_case(3); }

TEST(engine_cancel_frees_slot)
{
    hh_engine_t *e = make_engine("cancel", 2, 512, 8);
    ASSERT_TRUE(e != NULL);
    collector_t c, d;
    col_init(&c);
    col_init(&d);
    /* Canceled from the test thread while it streams. */
    hh_gen_request_t r = greedy_req(STORIES, "Once upon a time", 0, &c);   /* to the context end */
    r.sampling.temperature = 1.0f;
    r.sampling.seed = 7;
    hh_gen_t *g = NULL;
    ASSERT_OK(hh_engine_submit(e, &r, &g, NULL));
    ASSERT_TRUE(col_wait_text(&c, 30));
    hh_gen_cancel(g);
    ASSERT_TRUE(col_wait(&c, 5));
    ASSERT_EQ_INT(c.n_final, 1);
    ASSERT_TRUE(c.finish == HH_FINISH_CANCELED || c.finish == HH_FINISH_STOP);
    hh_engine_stats_t st;
    hh_engine_stats(e, &st);
    ASSERT_EQ_INT(st.slots_busy, 0);   /* released before DONE is delivered */
    hh_gen_cancel(g);   /* after the end: harmless */
    hh_gen_release(g);

    /* Canceled at its first token (inside the callback): the slot leaves
     * before the next decode step, so exactly one token was generated. */
    hh_gen_t *g2 = NULL;
    d.cancel_on_text = &g2;
    r = greedy_req(STORIES, "Once upon a time", 0, &d);
    ASSERT_OK(hh_engine_submit(e, &r, &g2, NULL));
    ASSERT_TRUE(col_wait(&d, 5));
    ASSERT_EQ_INT(d.finish, HH_FINISH_CANCELED);
    ASSERT_EQ_INT(d.completion_tokens, 1);
    hh_engine_stats(e, &st);
    ASSERT_EQ_INT(st.slots_busy, 0);
    hh_gen_release(g2);
    col_destroy(&c);
    col_destroy(&d);
    hh_engine_free(e);
}

TEST(engine_queue_full_and_queued_cancel)
{
    hh_engine_t *e = make_engine("qfull", 1, 512, 2);
    ASSERT_TRUE(e != NULL);
    collector_t c[4];
    hh_gen_t *g[4] = { 0 };
    for (int i = 0; i < 4; i++)
        col_init(&c[i]);
    hh_gen_request_t r = greedy_req(STORIES, "Once upon a time", 0, &c[0]);
    r.sampling.temperature = 1.0f;
    ASSERT_OK(hh_engine_submit(e, &r, &g[0], NULL));
    ASSERT_TRUE(col_wait_text(&c[0], 30));   /* running in the only slot */
    for (int i = 1; i <= 2; i++) {
        r.cb_user = &c[i];
        ASSERT_OK(hh_engine_submit(e, &r, &g[i], NULL));
    }
    hh_engine_stats_t st;
    hh_engine_stats(e, &st);
    ASSERT_EQ_INT(st.queue_depth, 2);
    r.cb_user = &c[3];
    hh_err_t err;
    ASSERT_EQ_INT(hh_engine_submit(e, &r, &g[3], &err), HH_EFULL);
    ASSERT_TRUE(g[3] == NULL);
    /* A waiting request canceled never starts. */
    hh_gen_cancel(g[2]);
    ASSERT_TRUE(col_wait(&c[2], 5));
    ASSERT_EQ_INT(c[2].finish, HH_FINISH_CANCELED);
    ASSERT_EQ_INT(c[2].n_text, 0);
    hh_gen_cancel(g[0]);
    hh_gen_cancel(g[1]);
    ASSERT_TRUE(col_wait(&c[0], 5));
    ASSERT_TRUE(col_wait(&c[1], 5));
    for (int i = 0; i < 3; i++)
        hh_gen_release(g[i]);
    for (int i = 0; i < 4; i++)
        col_destroy(&c[i]);
    hh_engine_free(e);
}

TEST(engine_prompt_too_long)
{
    hh_engine_t *e = make_engine("long", 1, 32, 8);
    ASSERT_TRUE(e != NULL);
    char prompt[2048] = "";
    for (int i = 0; i < 40; i++)
        strcat(prompt, "Once upon a time ");
    collector_t c;
    col_init(&c);
    hh_gen_request_t r = greedy_req(STORIES, prompt, 4, &c);
    hh_err_t err;
    ASSERT_EQ_INT(hh_engine_submit(e, &r, NULL, &err), HH_ERANGE);
    ASSERT_TRUE(strstr(err.msg, "context is 32") != NULL);
    ASSERT_TRUE(strstr(err.msg, "prompt has ") != NULL);

    /* A prompt of n_ctx - 1 tokens (BOS + 30) fits: it gets its one free
     * position and one more token sampled from it, then LENGTH. */
    hh_model_t *m = NULL;
    hh_vocab_t *v = NULL;
    ASSERT_OK(hh_model_load(&m, hh_test_data_path("models/stories260K.gguf"), NULL, NULL));
    ASSERT_OK(hh_vocab_load(&v, hh_model_gguf(m), NULL));
    prompt[0] = '\0';
    size_t n = 0;
    while (n < 30) {
        strcat(prompt, " a");
        int32_t *ids = NULL;
        ASSERT_OK(hh_tokenize(v, prompt, strlen(prompt), false, true, &ids, &n, NULL));
        free(ids);
    }
    hh_vocab_free(v);
    hh_model_free(m);
    ASSERT_EQ_INT(n, 30);
    r = greedy_req(STORIES, prompt, 0, &c);
    ASSERT_OK(run_one(e, &r, &c));
    ASSERT_EQ_INT(c.prompt_tokens, 31);
    ASSERT_EQ_INT(c.finish, HH_FINISH_LENGTH);
    ASSERT_EQ_INT(c.completion_tokens, 2);
    col_destroy(&c);
    hh_engine_free(e);
}

TEST(engine_stop_strings_cut_exactly)
{
    hh_engine_t *e = make_engine("stop", 1, 256, 8);
    ASSERT_TRUE(e != NULL);
    collector_t full, cut, cut2;
    col_init(&full);
    col_init(&cut);
    col_init(&cut2);
    hh_gen_request_t r = greedy_req(STORIES, "Once upon a time", 40, &full);
    ASSERT_OK(run_one(e, &r, &full));
    /* Stop at the second word boundary's text: pick a stop string from
     * the middle of the full output. */
    const char *mid = full.content + strlen(full.content) / 2;
    char stop[8];
    memcpy(stop, mid, 5);
    stop[5] = '\0';
    const char *first = strstr(full.content, stop);
    ASSERT_TRUE(first != NULL);
    size_t expect_len = (size_t)(first - full.content);
    const char *stops[2] = { "zzzz-never", stop };
    r = greedy_req(STORIES, "Once upon a time", 40, &cut);
    r.stop = stops;
    r.n_stop = 2;
    ASSERT_OK(run_one(e, &r, &cut));
    ASSERT_EQ_INT(cut.finish, HH_FINISH_STOP);
    ASSERT_EQ_INT(strlen(cut.content), expect_len);
    ASSERT_TRUE(strncmp(cut.content, full.content, expect_len) == 0);
    ASSERT_STREQ(cut.text, cut.content);      /* nothing of the stop string was streamed */
    ASSERT_TRUE(cut.completion_tokens < full.completion_tokens);
    /* A stop string that spans tokens ("a t" from "a time"-like text). */
    const char *stops2[1] = { ", " };
    r = greedy_req(STORIES, "Once upon a time", 40, &cut2);
    r.stop = stops2;
    r.n_stop = 1;
    ASSERT_OK(run_one(e, &r, &cut2));
    const char *hit = strstr(full.content, ", ");
    ASSERT_TRUE(hit != NULL);
    ASSERT_EQ_INT(strlen(cut2.content), (size_t)(hit - full.content));
    ASSERT_STREQ(cut2.text, cut2.content);
    col_destroy(&full);
    col_destroy(&cut);
    col_destroy(&cut2);
    hh_engine_free(e);
}

TEST(engine_max_tokens_and_logprobs)
{
    hh_engine_t *e = make_engine("maxtok", 1, 256, 8);
    ASSERT_TRUE(e != NULL);
    collector_t c;
    col_init(&c);
    hh_gen_request_t r = greedy_req(STORIES, "Once upon a time", 7, &c);
    r.logprobs = true;
    r.n_logprobs = 3;
    ASSERT_OK(run_one(e, &r, &c));
    ASSERT_EQ_INT(c.finish, HH_FINISH_LENGTH);
    ASSERT_EQ_INT(c.completion_tokens, 7);
    ASSERT_EQ_INT(c.n_lp, 7);   /* one TEXT event with logprobs per token */
    col_destroy(&c);
    hh_engine_free(e);
}

TEST(engine_fair_order_across_users)
{
    hh_engine_t *e = make_engine("fair", 1, 256, 16);
    ASSERT_TRUE(e != NULL);
    static collector_t a[5], b;
    for (int i = 0; i < 5; i++)
        col_init(&a[i]);
    col_init(&b);
    atomic_store(&g_event_order, 0);
    /* alice's first request holds the slot until all six are queued. */
    static gate_t gate = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, false };
    a[0].gate = &gate;
    for (int i = 0; i < 5; i++) {
        hh_gen_request_t r = greedy_req(STORIES, "Once upon a time", 6, &a[i]);
        r.user = "alice";
        ASSERT_OK(hh_engine_submit(e, &r, NULL, NULL));
        if (i == 0)
            gate_wait_entered(&gate);
    }
    hh_gen_request_t r = greedy_req(STORIES, "The little dog", 6, &b);
    r.user = "bob";
    ASSERT_OK(hh_engine_submit(e, &r, NULL, NULL));
    hh_engine_stats_t st;
    hh_engine_stats(e, &st);
    gate_open(&gate);
    ASSERT_EQ_INT(st.queue_depth, 5);
    ASSERT_EQ_INT(st.slots_busy, 1);
    for (int i = 0; i < 5; i++)
        ASSERT_TRUE(col_wait(&a[i], 60));
    ASSERT_TRUE(col_wait(&b, 60));
    ASSERT_EQ_INT(a[0].first_order, 0);
    ASSERT_EQ_INT(b.first_order, 1);
    for (int i = 1; i < 5; i++)
        ASSERT_EQ_INT(a[i].first_order, i + 1);   /* FIFO within alice */
    for (int i = 0; i < 5; i++)
        col_destroy(&a[i]);
    col_destroy(&b);
    hh_engine_free(e);
}

TEST(engine_timeout_and_free_with_running)
{
    const char *files[] = { "models/stories260K.gguf", NULL };
    hh_engine_params_t p = hh_engine_default_params();
    p.models_dir = make_models_dir("timeout", files);
    ASSERT_TRUE(p.models_dir != NULL);
    p.n_slots = 1;
    p.n_ctx = 512;
    p.n_threads = 1;
    /* 2 ms: stories260K writes its whole 512-token context in under 50 ms
     * on a fast core, so a longer limit could end in "length" instead */
    p.request_timeout_s = 0.002;
    hh_engine_t *e = NULL;
    ASSERT_OK(hh_engine_create(&e, &p, NULL));
    collector_t c, d;
    col_init(&c);
    col_init(&d);
    hh_gen_request_t r = greedy_req(STORIES, "Once upon a time", 0, &c);
    r.sampling.temperature = 1.0f;
    r.sampling.seed = 3;
    ASSERT_OK(run_one(e, &r, &c));
    if (c.finish != HH_FINISH_TIMEOUT && c.finish != HH_FINISH_STOP)
        printf("    finish %d after %d tokens\n", (int)c.finish, (int)c.completion_tokens);
    ASSERT_TRUE(c.finish == HH_FINISH_TIMEOUT || c.finish == HH_FINISH_STOP);
    if (c.finish == HH_FINISH_TIMEOUT)
        ASSERT_TRUE(c.completion_tokens < 511);
    hh_engine_free(e);

    /* A deadline that passes before admission: TIMEOUT, nothing generated. */
    collector_t t;
    col_init(&t);
    p.request_timeout_s = 1e-9;
    ASSERT_OK(hh_engine_create(&e, &p, NULL));
    r = greedy_req(STORIES, "Once upon a time", 20, &t);
    ASSERT_OK(run_one(e, &r, &t));
    ASSERT_EQ_INT(t.finish, HH_FINISH_TIMEOUT);
    ASSERT_EQ_INT(t.completion_tokens, 0);
    ASSERT_EQ_INT(t.n_text, 0);
    col_destroy(&t);
    hh_engine_free(e);

    /* Freeing an engine with a running request ends it with CANCELED. */
    p.request_timeout_s = 0;
    ASSERT_OK(hh_engine_create(&e, &p, NULL));
    r = greedy_req(STORIES, "Once upon a time", 0, &d);
    r.sampling.temperature = 1.0f;
    ASSERT_OK(hh_engine_submit(e, &r, NULL, NULL));
    ASSERT_TRUE(col_wait_text(&d, 30));
    hh_engine_free(e);
    ASSERT_TRUE(d.done);
    ASSERT_EQ_INT(d.n_final, 1);
    col_destroy(&c);
    col_destroy(&d);
}

TEST(engine_lru_unload_under_budget)
{
    const char *files[] = { "models/stories260K.gguf", "reference/llama-q8_0.gguf", NULL };
    hh_engine_params_t p = hh_engine_default_params();
    p.models_dir = make_models_dir("lru", files);
    ASSERT_TRUE(p.models_dir != NULL);
    p.n_slots = 1;
    p.n_ctx = 64;
    p.n_threads = 1;
    p.mem_budget = 2000000;   /* either model fits, not both */
    hh_engine_t *e = NULL;
    ASSERT_OK(hh_engine_create(&e, &p, NULL));
    collector_t c1, c2;
    col_init(&c1);
    col_init(&c2);
    hh_gen_request_t r = greedy_req(STORIES, "Once", 3, &c1);
    ASSERT_OK(run_one(e, &r, &c1));
    r = greedy_req("llama-q8_0", "Once", 3, &c2);
    ASSERT_OK(run_one(e, &r, &c2));
    ASSERT_EQ_INT(c2.kind, HH_GEN_DONE);
    hh_engine_model_info_t *info = NULL;
    size_t n = 0;
    ASSERT_OK(hh_engine_list_models(e, &info, &n, NULL));
    ASSERT_EQ_INT(n, 2);
    ASSERT_TRUE(info[0].loaded);     /* llama-q8_0 */
    ASSERT_FALSE(info[1].loaded);    /* stories260K unloaded */
    free(info);
    hh_engine_stats_t st;
    hh_engine_stats(e, &st);
    ASSERT_EQ_INT(st.models_loaded, 1);
    col_destroy(&c1);
    col_destroy(&c2);
    hh_engine_free(e);
}

/* Grammar-constrained requests: the output always parses and has the
 * schema's shape, even from a model that has never seen JSON. */
#include <cjson/cJSON.h>

TEST(engine_json_schema_output_parses)
{
    hh_engine_t *e = make_engine("json", 2, 512, 8);
    ASSERT_TRUE(e != NULL);
    collector_t c, o, t;
    col_init(&c);
    col_init(&o);
    col_init(&t);
    hh_gen_request_t r = greedy_req(STORIES, "Once upon a time", 300, &c);
    r.json_schema = "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\",\"maxLength\":12},"
                    "\"age\":{\"type\":\"integer\"},\"happy\":{\"type\":\"boolean\"}},"
                    "\"required\":[\"name\",\"age\",\"happy\"]}";
    r.sampling.temperature = 0.8f;
    r.sampling.seed = 42;
    ASSERT_OK(run_one(e, &r, &c));
    ASSERT_EQ_INT(c.kind, HH_GEN_DONE);
    ASSERT_EQ_INT(c.finish, HH_FINISH_STOP);
    ASSERT_STREQ(c.text, c.content);
    cJSON *j = cJSON_Parse(c.content);
    if (j == NULL)
        printf("    output: %s\n", c.content);
    ASSERT_TRUE(j != NULL);
    ASSERT_TRUE(cJSON_IsString(cJSON_GetObjectItem(j, "name")));
    ASSERT_TRUE(strlen(cJSON_GetObjectItem(j, "name")->valuestring) <= 12 * 4);
    ASSERT_TRUE(cJSON_IsNumber(cJSON_GetObjectItem(j, "age")));
    ASSERT_TRUE(cJSON_IsBool(cJSON_GetObjectItem(j, "happy")));
    cJSON_Delete(j);

    /* json_object: any object. This model never closes one on its own
     * (it keeps writing story text into strings), so the check is: the
     * output opens an object, and either parses or ran into max_tokens. */
    r = greedy_req(STORIES, "The little dog", 60, &o);
    r.json_object = true;
    ASSERT_OK(run_one(e, &r, &o));
    ASSERT_EQ_INT(o.kind, HH_GEN_DONE);
    const char *p = o.content;
    while (*p == ' ' || *p == '\n')
        p++;
    ASSERT_EQ_INT(*p, '{');
    if (o.finish == HH_FINISH_STOP) {
        j = cJSON_Parse(o.content);
        ASSERT_TRUE(cJSON_IsObject(j));
        cJSON_Delete(j);
    } else {
        ASSERT_EQ_INT(o.finish, HH_FINISH_LENGTH);
        ASSERT_EQ_INT(o.completion_tokens, 60);
    }

    /* A forced tool call is reported as one parsed call. */
    r = greedy_req(STORIES, "Once upon a time", 300, &t);
    r.json_schema = "{\"type\":\"object\",\"properties\":{\"name\":{\"const\":\"get_weather\"},"
                    "\"arguments\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\","
                    "\"maxLength\":10}},\"required\":[\"city\"]}},\"required\":[\"name\",\"arguments\"]}";
    r.tool_call_json = true;
    ASSERT_OK(run_one(e, &r, &t));
    ASSERT_EQ_INT(t.finish, HH_FINISH_TOOL_CALLS);
    ASSERT_STREQ(t.content, "");
    ASSERT_STREQ(t.tool_name, "get_weather");
    j = cJSON_Parse(t.tool_args);
    ASSERT_TRUE(j != NULL);
    ASSERT_TRUE(cJSON_IsString(cJSON_GetObjectItem(j, "city")));
    cJSON_Delete(j);

    /* A schema outside the subset is refused at submit. */
    hh_err_t err;
    r = greedy_req(STORIES, "x", 5, &t);
    r.json_schema = "{\"type\":\"number\",\"minimum\":3}";
    ASSERT_EQ_INT(hh_engine_submit(e, &r, NULL, &err), HH_EUNSUPPORTED);
    col_destroy(&c);
    col_destroy(&o);
    col_destroy(&t);
    hh_engine_free(e);
}

TEST(engine_chat_messages)
{
    hh_engine_t *e = make_engine("chat", 1, 256, 8);
    ASSERT_TRUE(e != NULL);
    collector_t c;
    col_init(&c);
    hh_chat_msg_t msgs[2] = { { .role = HH_ROLE_SYSTEM, .content = "Be short." },
                              { .role = HH_ROLE_USER, .content = "Tell a story." } };
    hh_gen_request_t r = greedy_req(STORIES, NULL, 8, &c);
    r.prompt = NULL;
    r.messages = msgs;
    r.n_messages = 2;
    ASSERT_OK(run_one(e, &r, &c));
    ASSERT_EQ_INT(c.kind, HH_GEN_DONE);
    /* stories260K has no template: ChatML text, tokenized without BOS. */
    hh_model_t *m = NULL;
    hh_vocab_t *v = NULL;
    ASSERT_OK(hh_model_load(&m, hh_test_data_path("models/stories260K.gguf"), NULL, NULL));
    ASSERT_OK(hh_vocab_load(&v, hh_model_gguf(m), NULL));
    char *text = NULL;
    size_t len = 0;
    hh_chat_params_t cp = hh_chat_default_params();
    cp.bos_text = hh_vocab_text(v, hh_vocab_bos(v));
    cp.eos_text = hh_vocab_text(v, hh_vocab_eos(v));
    ASSERT_OK(hh_chat_render(HH_CHAT_CHATML, msgs, 2, &cp, &text, &len, NULL));
    int32_t *ids = NULL;
    size_t n = 0;
    ASSERT_OK(hh_tokenize(v, text, len, false, true, &ids, &n, NULL));
    ASSERT_EQ_INT(c.prompt_tokens, n);
    free(ids);
    free(text);
    hh_vocab_free(v);
    hh_model_free(m);
    /* An unknown template name is refused. */
    r.chat_template = "no-such-template";
    hh_err_t err;
    ASSERT_EQ_INT(hh_engine_submit(e, &r, NULL, &err), HH_ENOENT);
    col_destroy(&c);
    hh_engine_free(e);
}

/* A request that runs into the end of the context finishes with LENGTH,
 * also when it is constrained (a forced tool call cut off mid-object is no
 * call and no STOP): one token per free position plus the one sampled from
 * the last, so prompt + completion = n_ctx + 1. */
TEST(engine_context_end_is_length)
{
    hh_engine_t *e = make_engine("ctxend", 1, 512, 8);
    ASSERT_TRUE(e != NULL);
    static char prompt[8192];
    prompt[0] = '\0';
    for (int i = 0; i < 150; i++)
        strcat(prompt, " a dog");
    for (int mode = 0; mode < 3; mode++) {
        collector_t c;
        col_init(&c);
        hh_gen_request_t r = greedy_req(STORIES, prompt, 0, &c);
        if (mode == 1)
            r.json_object = true;
        if (mode == 2) {
            r.json_schema = "{\"type\":\"object\",\"properties\":{\"name\":{\"const\":\"get_weather\"},"
                            "\"arguments\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}},"
                            "\"required\":[\"city\"]}},\"required\":[\"name\",\"arguments\"]}";
            r.tool_call_json = true;
        }
        ASSERT_OK(run_one(e, &r, &c));
        ASSERT_EQ_INT(c.kind, HH_GEN_DONE);
        ASSERT_TRUE(c.prompt_tokens > 400);
        ASSERT_EQ_INT(c.prompt_tokens + c.completion_tokens, 513);
        ASSERT_EQ_INT(c.finish, HH_FINISH_LENGTH);
        ASSERT_EQ_INT(c.n_tool_calls, 0);
        if (mode == 2) {
            /* The cut-off call object is the content, not a parsed call. */
            const char *p = c.content + strspn(c.content, " \n\t");
            cJSON *j = cJSON_Parse(c.content);
            bool parses = j != NULL;
            cJSON_Delete(j);
            if (*p != '{' || parses)
                printf("    content: %s\n", c.content);
            ASSERT_EQ_INT(*p, '{');
            ASSERT_FALSE(parses);
        }
        col_destroy(&c);
    }
    hh_engine_free(e);
}

/* prompt_tokens of one chat request (run to its end). */
static int32_t chat_prompt_tokens(hh_engine_t *e, const char *user_text, const char *tools, bool forced,
                                  int max_tokens)
{
    static const char *schema = "{\"type\":\"object\",\"properties\":{\"name\":{\"const\":\"get_weather\"},"
                                "\"arguments\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\","
                                "\"maxLength\":8}},\"required\":[\"city\"]}},\"required\":[\"name\",\"arguments\"]}";
    collector_t c;
    col_init(&c);
    hh_chat_msg_t msg = { .role = HH_ROLE_USER, .content = user_text };
    hh_gen_request_t r = greedy_req(STORIES, NULL, max_tokens, &c);
    r.prompt = NULL;
    r.messages = &msg;
    r.n_messages = 1;
    r.tools_json = tools;
    if (forced) {
        r.json_schema = schema;
        r.tool_call_json = true;
    }
    int32_t n = run_one(e, &r, &c) == 0 && c.kind == HH_GEN_DONE ? c.prompt_tokens : -1;
    col_destroy(&c);
    return n;
}

/* A forced tool call sees the tool descriptions in its prompt (as an
 * auto-tools request does) while the context leaves the reply room:
 * max_tokens, or 256 positions when it is not given; otherwise the list is
 * left out and the call still runs on the grammar alone. */
TEST(engine_forced_tool_call_prompt_has_tools)
{
    hh_engine_t *e = make_engine("ftools", 1, 512, 8);
    ASSERT_TRUE(e != NULL);
    const char *tools = "[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"description\":"
                        "\"Current weather of a city\",\"parameters\":{\"type\":\"object\",\"properties\":"
                        "{\"city\":{\"type\":\"string\"}},\"required\":[\"city\"]}}}]";
    int32_t with = chat_prompt_tokens(e, "Weather in Bonn?", tools, false, 1);
    int32_t without = chat_prompt_tokens(e, "Weather in Bonn?", NULL, true, 1);
    ASSERT_TRUE(without > 0);
    ASSERT_TRUE(with > without);
    ASSERT_TRUE(with + 16 <= 512);   /* stories260K's vocabulary makes the tool preamble long */
    ASSERT_EQ_INT(chat_prompt_tokens(e, "Weather in Bonn?", tools, true, 16), with);
    /* No max_tokens: 256 positions wanted, fewer left next to the list. */
    ASSERT_TRUE(with + 256 > 512);
    ASSERT_EQ_INT(chat_prompt_tokens(e, "Weather in Bonn?", tools, true, 0), without);
    /* A longer message leaves no 16 positions next to the list. */
    static char longmsg[1024];
    snprintf(longmsg, sizeof longmsg, "Weather in Bonn?");
    for (int i = 0; i < 7; i++)   /* ~3 tokens each */
        strcat(longmsg, " a dog");
    int32_t long_with = chat_prompt_tokens(e, longmsg, tools, false, 1);
    int32_t long_without = chat_prompt_tokens(e, longmsg, NULL, true, 1);
    if (!(long_with + 16 > 512 && long_with < 512))
        printf("    prompt tokens: short %d/%d, long %d/%d\n", with, without, long_with, long_without);
    ASSERT_TRUE(long_with + 16 > 512);
    ASSERT_TRUE(long_with < 512);
    ASSERT_EQ_INT(chat_prompt_tokens(e, longmsg, tools, true, 16), long_without);
    hh_engine_free(e);
}

/* hh_engine_prompt_tokens counts what submit would prefill: the same number
 * for a chat request (template included) and a plain prompt; the context
 * size; an unknown model is HH_ENOENT and nothing is queued. */
TEST(engine_prompt_tokens_matches_submit)
{
    hh_engine_t *e = make_engine("ptok", 1, 256, 4);
    ASSERT_TRUE(e != NULL);
    hh_chat_msg_t msgs[2];
    memset(msgs, 0, sizeof msgs);
    msgs[0].role = HH_ROLE_SYSTEM;
    msgs[0].content = "Answer from the sources.";
    msgs[1].role = HH_ROLE_USER;
    msgs[1].content = "Sources:\n\n[1] Lily had a red ball.\n\nQuestion: What did Lily have?\n";
    collector_t c;
    col_init(&c);
    hh_gen_request_t r = greedy_req(STORIES, NULL, 2, &c);
    r.messages = msgs;
    r.n_messages = 2;
    size_t n = 0;
    int32_t ctx = 0;
    ASSERT_OK(hh_engine_prompt_tokens(e, &r, &n, &ctx, NULL));
    ASSERT_EQ_INT(ctx, 256);
    ASSERT_TRUE(n > 20);
    ASSERT_OK(run_one(e, &r, &c));
    ASSERT_EQ_INT(c.prompt_tokens, (int32_t)n);
    col_destroy(&c);
    col_init(&c);
    hh_gen_request_t p = greedy_req(STORIES, "Once upon a time", 1, &c);
    ASSERT_OK(hh_engine_prompt_tokens(e, &p, &n, &ctx, NULL));
    ASSERT_OK(run_one(e, &p, &c));
    ASSERT_EQ_INT(c.prompt_tokens, (int32_t)n);
    col_destroy(&c);
    p.model = "no-such-model";
    ASSERT_EQ_INT(hh_engine_prompt_tokens(e, &p, &n, &ctx, NULL), HH_ENOENT);
    hh_engine_stats_t st;
    hh_engine_stats(e, &st);
    ASSERT_EQ_INT(st.queue_depth, 0);
    hh_engine_free(e);
}

/* gemma3 through the engine, with its sliding-window cache (window 8; the
 * engine's context keeps 2 * 8 + n_batch - 1 rows on local layers): a
 * prompt longer than that gives the text of a direct decode that keeps
 * every position; the same prompt again reuses all but its last token (the
 * window still holds what that position needs: 3 tokens were generated
 * since); a prompt sharing only its first words cannot reuse them (the
 * window no longer holds what position 10 needs), so the engine prefills
 * it whole (cached_tokens 0) and gives what a fresh engine gives. */
TEST(engine_gemma3_window_cache_prefix_reuse)
{
    const char *files[] = { "reference/gemma3-q8_0.gguf", NULL };
    const char *dir = make_models_dir("gemma3", files);
    ASSERT_TRUE(dir != NULL);
    hh_engine_params_t p = hh_engine_default_params();
    p.models_dir = dir;
    p.n_slots = 1;
    p.n_ctx = 256;
    p.n_batch = 64;
    p.n_threads = 1;
    p.max_queue = 4;
    hh_engine_t *e = NULL;
    hh_err_t err;
    ASSERT_OK(hh_engine_create(&e, &p, &err));
    const char *longp = "Once upon a time, there was a little girl named Lily. She loved to play outside "
                        "in the park with her friends. One day, she saw a big red ball in the grass. "
                        "She ran to the ball and kicked it high into the sky. Her friend Tom laughed and "
                        "ran after it. They played all day until the sun went down and it was time to go home.";
    const char *shortp = "Once upon a time, there was a little girl named Anna who had a cat";
    collector_t a, b, c;
    col_init(&a);
    col_init(&b);
    col_init(&c);
    hh_gen_request_t r = greedy_req("gemma3-q8_0", longp, 3, &a);
    ASSERT_OK(run_one(e, &r, &a));
    ASSERT_EQ_INT(a.kind, HH_GEN_DONE);
    ASSERT_TRUE(a.prompt_tokens > 2 * 8 + 64 + 1);
    char expect[MAX_TEXT];
    ASSERT_OK(direct_greedy("reference/gemma3-q8_0.gguf", longp, 3, expect, sizeof expect));
    ASSERT_STREQ(a.content, expect);

    r = greedy_req("gemma3-q8_0", longp, 3, &b);
    ASSERT_OK(run_one(e, &r, &b));
    ASSERT_EQ_INT(b.cached_tokens, b.prompt_tokens - 1);
    ASSERT_STREQ(b.content, a.content);

    r = greedy_req("gemma3-q8_0", shortp, 12, &c);
    ASSERT_OK(run_one(e, &r, &c));
    ASSERT_EQ_INT(c.cached_tokens, 0);
    hh_engine_free(e);
    /* what a fresh engine says to it (the same text path: random weights
     * emit byte tokens that direct_greedy would pass on unchecked) */
    collector_t d;
    col_init(&d);
    ASSERT_OK(hh_engine_create(&e, &p, &err));
    r = greedy_req("gemma3-q8_0", shortp, 12, &d);
    ASSERT_OK(run_one(e, &r, &d));
    ASSERT_EQ_INT(d.cached_tokens, 0);
    ASSERT_EQ_INT(d.completion_tokens, 12);
    ASSERT_STREQ(c.content, d.content);
    col_destroy(&a);
    col_destroy(&b);
    col_destroy(&c);
    col_destroy(&d);
    hh_engine_free(e);
}

/* A gemma3 file without a chat template (the reference model has none) is
 * rendered in Gemma's turns, not chatml: the same prompt tokens as with
 * chat_template "gemma", other than "chatml". */
TEST(engine_gemma3_without_template_uses_gemma_turns)
{
    const char *files[] = { "reference/gemma3-q8_0.gguf", NULL };
    const char *dir = make_models_dir("gemma3-chat", files);
    ASSERT_TRUE(dir != NULL);
    hh_engine_params_t p = hh_engine_default_params();
    p.models_dir = dir;
    p.n_slots = 1;
    p.n_ctx = 256;
    p.n_threads = 1;
    hh_engine_t *e = NULL;
    hh_err_t err;
    ASSERT_OK(hh_engine_create(&e, &p, &err));
    const hh_chat_msg_t msgs[2] = {
        { .role = HH_ROLE_SYSTEM, .content = "Antworte kurz." },
        { .role = HH_ROLE_USER, .content = "Wie viele Urlaubstage habe ich?" },
    };
    collector_t c;
    col_init(&c);
    hh_gen_request_t r = greedy_req("gemma3-q8_0", NULL, 2, &c);
    r.messages = msgs;
    r.n_messages = 2;
    size_t n_default = 0, n_gemma = 0, n_chatml = 0;
    int32_t ctx = 0;
    ASSERT_OK(hh_engine_prompt_tokens(e, &r, &n_default, &ctx, NULL));
    r.chat_template = "gemma";
    ASSERT_OK(hh_engine_prompt_tokens(e, &r, &n_gemma, &ctx, NULL));
    r.chat_template = "chatml";
    ASSERT_OK(hh_engine_prompt_tokens(e, &r, &n_chatml, &ctx, NULL));
    ASSERT_EQ_INT((long long)n_default, (long long)n_gemma);
    ASSERT_NE_INT((long long)n_default, (long long)n_chatml);
    r.chat_template = NULL;
    ASSERT_OK(run_one(e, &r, &c));
    ASSERT_EQ_INT(c.kind, HH_GEN_DONE);
    ASSERT_EQ_INT(c.prompt_tokens, (int32_t)n_gemma);
    col_destroy(&c);
    hh_engine_free(e);
}

/* A gpt-oss file without a chat template is rendered in harmony, not
 * chatml: the same prompt tokens as with chat_template "harmony". */
TEST(engine_gptoss_without_template_uses_harmony)
{
    const char *files[] = { "reference/gpt-oss-mxfp4.gguf", NULL };
    const char *dir = make_models_dir("gptoss-chat", files);
    ASSERT_TRUE(dir != NULL);
    hh_engine_params_t p = hh_engine_default_params();
    p.models_dir = dir;
    p.n_slots = 1;
    p.n_ctx = 256;
    p.n_threads = 1;
    hh_engine_t *e = NULL;
    hh_err_t err;
    ASSERT_OK(hh_engine_create(&e, &p, &err));
    const hh_chat_msg_t msgs[2] = {
        { .role = HH_ROLE_SYSTEM, .content = "Antworte kurz." },
        { .role = HH_ROLE_USER, .content = "Wie viele Urlaubstage habe ich?" },
    };
    collector_t c;
    col_init(&c);
    hh_gen_request_t r = greedy_req("gpt-oss-mxfp4", NULL, 2, &c);
    r.messages = msgs;
    r.n_messages = 2;
    size_t n_default = 0, n_harmony = 0, n_chatml = 0;
    int32_t ctx = 0;
    ASSERT_OK(hh_engine_prompt_tokens(e, &r, &n_default, &ctx, NULL));
    r.chat_template = "harmony";
    ASSERT_OK(hh_engine_prompt_tokens(e, &r, &n_harmony, &ctx, NULL));
    r.chat_template = "chatml";
    ASSERT_OK(hh_engine_prompt_tokens(e, &r, &n_chatml, &ctx, NULL));
    printf("    prompt tokens: %zu default, %zu harmony, %zu chatml (n_ctx %d)\n", n_default, n_harmony, n_chatml, ctx);
    ASSERT_EQ_INT((long long)n_default, (long long)n_harmony);
    ASSERT_NE_INT((long long)n_default, (long long)n_chatml);
    /* harmony's system block alone outgrows this toy tokenizer's 256
     * positions (real gpt-oss files have one token per marker); the engine
     * generates from the model through the shorter chatml prompt */
    ASSERT_OK(run_one(e, &r, &c));
    ASSERT_EQ_INT(c.kind, HH_GEN_DONE);
    ASSERT_EQ_INT(c.completion_tokens, 2);
    col_destroy(&c);
    hh_engine_free(e);
}
