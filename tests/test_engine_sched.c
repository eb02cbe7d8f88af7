/* test_engine_sched.c - the engine's scheduling of work (issue 15): chunked
 * prefill with a token budget per step (equal output, arrival order,
 * cancellation mid-prefill) and prompt-lookup decoding (output identical to
 * plain greedy decoding). Shared helpers: engine_helpers.c. */
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

/* ---- chunked prefill (issue 15) ------------------------------------------ */

/* A long prompt: the same story sentence n times (stories260K's vocabulary
 * makes each ~12 tokens). */
static void long_prompt(char *buf, size_t cap, int n)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && len + 64 < cap; i++)
        len += (size_t)snprintf(buf + len, cap - len, "Tom saw a big red ball in the park. ");
}

/* The same 4 requests (one long prompt) at once through engines whose
 * prefill budget per step is 1, 5 and 16 tokens give exactly the text and
 * tokens of one unchunked prefill step (budget = n_batch = 512: every
 * prompt in one step, the old behaviour), and the chosen tokens' logprobs
 * within 1e-3 (the F32 matmul sums in another order for another batch
 * size; the q8_0 model's integer dot products match bit for bit, 0 here too). */
static void chunked_equals_unchunked(const char *model, const char *tag)
{
    static char longp[4096];
    long_prompt(longp, sizeof longp, 12);
    const char *prompts[4] = { longp, "Once upon a time", "The little dog", "Lily and Ben went to the park" };
    enum { N = 4, TOK = 24 };
    static collector_t ref[N], got[N];
    const int budgets[3] = { 1, 5, 16 };
    for (int run = -1; run < 3; run++) {
        collector_t *cs = run < 0 ? ref : got;
        hh_engine_t *e = run < 0 ? make_engine_pf(tag, 4, 512, 512, 512) : make_engine_pf(tag, 4, 512, budgets[run], 64);
        ASSERT_TRUE(e != NULL);
        for (int i = 0; i < N; i++) {
            col_init(&cs[i]);
            hh_gen_request_t r = greedy_req(model, prompts[i], TOK, &cs[i]);
            r.logprobs = true;
            ASSERT_OK(hh_engine_submit(e, &r, NULL, NULL));
        }
        for (int i = 0; i < N; i++) {
            ASSERT_TRUE(col_wait(&cs[i], 120));
            ASSERT_EQ_INT(cs[i].kind, HH_GEN_DONE);
        }
        ASSERT_TRUE(ref[0].prompt_tokens > 100);
        if (run >= 0) {
            for (int i = 0; i < N; i++) {
                ASSERT_STREQ(got[i].content, ref[i].content);
                ASSERT_STREQ(got[i].text, ref[i].text);
                ASSERT_EQ_INT(got[i].completion_tokens, ref[i].completion_tokens);
                ASSERT_EQ_INT(got[i].n_lpv, ref[i].n_lpv);
                ASSERT_TRUE(got[i].n_lpv > 0);
                for (int k = 0; k < got[i].n_lpv; k++) {
                    if (fabsf(got[i].lp[k] - ref[i].lp[k]) > 1e-3f)
                        printf("    prompt %d token %d: logprob %.9g vs %.9g unchunked\n", i, k, got[i].lp[k], ref[i].lp[k]);
                    ASSERT_TRUE(fabsf(got[i].lp[k] - ref[i].lp[k]) <= 1e-3f);
                }
                col_destroy(&got[i]);
            }
        }
        hh_engine_free(e);
    }
    for (int i = 0; i < N; i++)
        col_destroy(&ref[i]);
}

TEST(engine_chunked_prefill_equals_unchunked_stories) { chunked_equals_unchunked(STORIES, "chunk-stories"); }
TEST(engine_chunked_prefill_equals_unchunked_q8_0) { chunked_equals_unchunked("llama-q8_0", "chunk-q8"); }

/* One long prompt alone, prefilled 7 tokens per step (over 20 steps), gives
 * the text of the model API's one-batch prefill and greedy decode. */
TEST(engine_long_prompt_split_over_steps)
{
    static char longp[4096];
    long_prompt(longp, sizeof longp, 12);
    static char expect[MAX_TEXT];
    ASSERT_OK(direct_greedy("models/stories260K.gguf", longp, 30, expect, sizeof expect));
    ASSERT_TRUE(strlen(expect) > 20);
    hh_engine_t *e = make_engine_pf("chunk-long", 1, 512, 7, 64);
    ASSERT_TRUE(e != NULL);
    collector_t c;
    col_init(&c);
    hh_gen_request_t r = greedy_req(STORIES, longp, 30, &c);
    ASSERT_OK(run_one(e, &r, &c));
    ASSERT_EQ_INT(c.kind, HH_GEN_DONE);
    ASSERT_TRUE(c.prompt_tokens > 7 * 20);
    ASSERT_STREQ(c.content, expect);
    ASSERT_EQ_INT(c.completion_tokens, 30);
    col_destroy(&c);
    hh_engine_free(e);
}

/* A blocker request holds the scheduler in its first callback while a long
 * prompt and then a short one queue up behind it; both are admitted in the
 * same iteration. With 8 prompt tokens per step the long prompt needs over
 * 20 steps, the short one gets a share of the first step: its first token
 * comes before the long prompt's (whose prefill then is still running). */
TEST(engine_short_request_behind_long_prompt_first)
{
    static char longp[8192];
    long_prompt(longp, sizeof longp, 24);
    hh_engine_t *e = make_engine_pf("chunk-behind", 3, 512, 8, 64);
    ASSERT_TRUE(e != NULL);
    gate_t gate = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };
    collector_t blk, lng, sht;
    col_init(&blk);
    col_init(&lng);
    col_init(&sht);
    blk.gate = &gate;
    hh_gen_request_t r = greedy_req(STORIES, "The sun was", 40, &blk);
    ASSERT_OK(hh_engine_submit(e, &r, NULL, NULL));
    gate_wait_entered(&gate);
    r = greedy_req(STORIES, longp, 4, &lng);
    ASSERT_OK(hh_engine_submit(e, &r, NULL, NULL));
    r = greedy_req(STORIES, "Once upon a time", 4, &sht);
    ASSERT_OK(hh_engine_submit(e, &r, NULL, NULL));
    gate_open(&gate);
    ASSERT_TRUE(col_wait(&lng, 60));
    ASSERT_TRUE(col_wait(&sht, 60));
    ASSERT_TRUE(col_wait(&blk, 60));
    ASSERT_TRUE(lng.prompt_tokens > 8 * 20);
    ASSERT_EQ_INT(lng.kind, HH_GEN_DONE);
    ASSERT_EQ_INT(sht.kind, HH_GEN_DONE);
    ASSERT_TRUE(sht.first_order >= 0 && lng.first_order >= 0);
    ASSERT_TRUE(sht.first_order < lng.first_order);
    /* ... and the short one ran to its end meanwhile: its 4 tokens need 4
     * steps, the long prefill over 20. */
    ASSERT_EQ_INT(sht.completion_tokens, 4);
    col_destroy(&blk);
    col_destroy(&lng);
    col_destroy(&sht);
    hh_engine_free(e);
}

/* A burst of 6 equal-length prompts queued at once, 4 prompt tokens per
 * step: first tokens come in arrival order (FIFO, none starves). */
TEST(engine_prefill_burst_in_arrival_order)
{
    static const char *prompts[6] = {
        "Tom had a red ball.", "Ann had a big dog.", "Sam saw a blue bird.",
        "Mia ate a red apple.", "Ben had a new car.", "Sue saw a big cat.",
    };
    hh_engine_t *e = make_engine_pf("chunk-fifo", 7, 256, 4, 64);
    ASSERT_TRUE(e != NULL);
    gate_t gate = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };
    collector_t blk, c[6];
    col_init(&blk);
    blk.gate = &gate;
    hh_gen_request_t r = greedy_req(STORIES, "The sun was", 30, &blk);
    ASSERT_OK(hh_engine_submit(e, &r, NULL, NULL));
    gate_wait_entered(&gate);
    for (int i = 0; i < 6; i++) {
        col_init(&c[i]);
        r = greedy_req(STORIES, prompts[i], 8, &c[i]);
        ASSERT_OK(hh_engine_submit(e, &r, NULL, NULL));
    }
    gate_open(&gate);
    for (int i = 0; i < 6; i++) {
        ASSERT_TRUE(col_wait(&c[i], 60));
        ASSERT_EQ_INT(c[i].kind, HH_GEN_DONE);
        ASSERT_TRUE(c[i].prompt_tokens > 4);
        if (i > 0)
            ASSERT_TRUE(c[i - 1].first_order < c[i].first_order);
    }
    ASSERT_TRUE(col_wait(&blk, 60));
    for (int i = 0; i < 6; i++)
        col_destroy(&c[i]);
    col_destroy(&blk);
    hh_engine_free(e);
}

/* A long prompt canceled in the middle of its prefill (from the callback of
 * a request decoding next to it, at its 3rd token, so after 2-3 chunks):
 * the request ends CANCELED without a token, its slot is free, the queue
 * empty; what it had prefilled stays only as a consistent prefix cache: the
 * same prompt afterwards reuses part of it and gives the text of a fresh
 * engine. */
TEST(engine_cancel_mid_prefill_frees_everything)
{
    static char longp[8192];
    long_prompt(longp, sizeof longp, 30);
    hh_engine_t *e = make_engine_pf("chunk-cancel", 2, 512, 4, 64);
    ASSERT_TRUE(e != NULL);
    gate_t gate = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };
    collector_t blk, lng;
    col_init(&blk);
    col_init(&lng);
    hh_gen_t *g_long = NULL;
    blk.gate = &gate;
    blk.cancel_other = &g_long;
    blk.cancel_other_at = 3;
    hh_gen_request_t r = greedy_req(STORIES, "The sun was", 20, &blk);
    ASSERT_OK(hh_engine_submit(e, &r, NULL, NULL));
    gate_wait_entered(&gate);
    r = greedy_req(STORIES, longp, 10, &lng);
    ASSERT_OK(hh_engine_submit(e, &r, &g_long, NULL));
    gate_open(&gate);
    ASSERT_TRUE(col_wait(&lng, 60));
    ASSERT_EQ_INT(lng.kind, HH_GEN_DONE);
    ASSERT_EQ_INT(lng.finish, HH_FINISH_CANCELED);
    ASSERT_EQ_INT(lng.n_text, 0);
    ASSERT_EQ_INT(lng.completion_tokens, 0);
    ASSERT_TRUE(lng.prompt_tokens > 4 * 30);
    ASSERT_TRUE(col_wait(&blk, 60));
    ASSERT_EQ_INT(blk.completion_tokens, 20);
    hh_engine_stats_t st;
    hh_engine_stats(e, &st);
    ASSERT_EQ_INT(st.slots_busy, 0);
    ASSERT_EQ_INT(st.queue_depth, 0);
    /* What stays: the blocker's KV and at most 3 chunks of the long prompt. */
    ASSERT_TRUE(st.kv_used <= (int64_t)(blk.prompt_tokens + 20 + 3 * 4));
    ASSERT_TRUE(st.kv_used > (int64_t)(blk.prompt_tokens + 20));
    hh_gen_release(g_long);

    collector_t again, fresh;
    col_init(&again);
    col_init(&fresh);
    r = greedy_req(STORIES, longp, 10, &again);
    ASSERT_OK(run_one(e, &r, &again));
    ASSERT_EQ_INT(again.kind, HH_GEN_DONE);
    ASSERT_TRUE(again.cached_tokens > 0 && again.cached_tokens <= 3 * 4);
    hh_engine_free(e);
    e = make_engine_pf("chunk-cancel2", 2, 512, 4, 64);
    ASSERT_TRUE(e != NULL);
    r = greedy_req(STORIES, longp, 10, &fresh);
    ASSERT_OK(run_one(e, &r, &fresh));
    ASSERT_STREQ(again.content, fresh.content);
    ASSERT_EQ_INT(fresh.cached_tokens, 0);
    col_destroy(&again);
    col_destroy(&fresh);
    col_destroy(&blk);
    col_destroy(&lng);
    hh_engine_free(e);
}

/* ---- prompt-lookup decoding (issue 15) ----------------------------------- */

/* Prompts that quote: a passage, then a request to repeat or continue it
 * (the output copies from the prompt, as grounded answers do). */
static const char *const k_quote_prompts[] = {
    "Tom saw a big red ball in the park. He ran to the ball and he was happy. Tom saw a big red ball",
    "Lily had a little cat. The cat was soft and white. Lily loved the cat. One day, Lily had a little",
    "Once upon a time, there was a little boy named Ben. Ben liked to play with his toy car. Once upon a time,",
    "The sun was hot. The dog was sad. The bird was happy. The sun was hot. The dog",
    "Once upon a time",
};

/* Every prompt through an engine without and one with prompt lookup (one
 * request at a time, then all at once next to each other): the same text
 * byte for byte, the same token count and finish; drafts were made and
 * some kept (otherwise the test would not test anything). */
static void lookup_case(const char *model, const char *tag, int max_tokens)
{
    enum { N = sizeof k_quote_prompts / sizeof k_quote_prompts[0] };
    static collector_t plain[N], spec[N], both[N];
    hh_engine_t *e = make_engine_pf(tag, 4, 512, 64, 64);
    ASSERT_TRUE(e != NULL);
    for (int i = 0; i < N; i++) {
        col_init(&plain[i]);
        hh_gen_request_t r = greedy_req(model, k_quote_prompts[i], max_tokens, &plain[i]);
        r.logprobs = true;
        ASSERT_OK(run_one(e, &r, &plain[i]));
        ASSERT_EQ_INT(plain[i].kind, HH_GEN_DONE);
    }
    hh_engine_stats_t st;
    hh_engine_stats(e, &st);
    ASSERT_EQ_INT((int)st.draft_tokens, 0);
    hh_engine_free(e);
    for (int round = 0; round < 2; round++) {
        collector_t *cs = round == 0 ? spec : both;
        e = make_engine_pf(tag, 4, 512, 64, 64);
        ASSERT_TRUE(e != NULL);
        for (int i = 0; i < N; i++) {
            col_init(&cs[i]);
            hh_gen_request_t r = greedy_req(model, k_quote_prompts[i], max_tokens, &cs[i]);
            r.logprobs = true;
            r.prompt_lookup = true;
            r.user = k_quote_prompts[i];
            if (round == 0)
                ASSERT_OK(run_one(e, &r, &cs[i]));
            else
                ASSERT_OK(hh_engine_submit(e, &r, NULL, NULL));
        }
        for (int i = 0; i < N; i++) {
            ASSERT_TRUE(col_wait(&cs[i], 60));
            ASSERT_EQ_INT(cs[i].kind, HH_GEN_DONE);
            if (strcmp(cs[i].content, plain[i].content) != 0)
                printf("    prompt %d:\n    plain: %s\n    spec:  %s\n", i, plain[i].content, cs[i].content);
            ASSERT_STREQ(cs[i].content, plain[i].content);
            ASSERT_STREQ(cs[i].text, plain[i].text);
            ASSERT_EQ_INT(cs[i].completion_tokens, plain[i].completion_tokens);
            ASSERT_EQ_INT(cs[i].finish, plain[i].finish);
            ASSERT_EQ_INT(cs[i].n_lpv, plain[i].n_lpv);
            for (int k = 0; k < cs[i].n_lpv; k++)
                ASSERT_TRUE(fabsf(cs[i].lp[k] - plain[i].lp[k]) <= 1e-3f);
        }
        hh_engine_stats(e, &st);
        printf("    %s round %d: %llu drafted, %llu kept\n", model, round, (unsigned long long)st.draft_tokens,
               (unsigned long long)st.draft_accepted);
        ASSERT_TRUE(st.draft_tokens > 0);
        ASSERT_TRUE(st.draft_accepted > 0);
        ASSERT_TRUE(st.draft_accepted <= st.draft_tokens);
        ASSERT_EQ_INT(st.slots_busy, 0);
        hh_engine_free(e);
    }
    for (int i = 0; i < N; i++) {
        col_destroy(&plain[i]);
        col_destroy(&spec[i]);
        col_destroy(&both[i]);
    }
}

TEST(engine_prompt_lookup_equals_greedy_stories) { lookup_case(STORIES, "lookup-stories", 120); }
TEST(engine_prompt_lookup_equals_greedy_q8_0) { lookup_case("llama-q8_0", "lookup-q8", 60); }

/* With temperature > 0 or a grammar the request decodes one token per step
 * (no drafts), even when it asks for prompt lookup. */
TEST(engine_prompt_lookup_off_when_sampling)
{
    hh_engine_t *e = make_engine_pf("lookup-off", 2, 512, 64, 64);
    ASSERT_TRUE(e != NULL);
    collector_t c, d;
    col_init(&c);
    col_init(&d);
    hh_gen_request_t r = greedy_req(STORIES, k_quote_prompts[0], 60, &c);
    r.prompt_lookup = true;
    r.sampling.temperature = 0.8f;
    ASSERT_OK(run_one(e, &r, &c));
    ASSERT_EQ_INT(c.kind, HH_GEN_DONE);
    r = greedy_req(STORIES, k_quote_prompts[0], 60, &d);
    r.prompt_lookup = true;
    r.json_object = true;
    ASSERT_OK(run_one(e, &r, &d));
    hh_engine_stats_t st;
    hh_engine_stats(e, &st);
    ASSERT_TRUE(c.completion_tokens > 10);
    ASSERT_EQ_INT((int)st.draft_tokens, 0);
    col_destroy(&c);
    col_destroy(&d);
    hh_engine_free(e);
}
