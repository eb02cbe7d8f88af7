/* engine_helpers.h - what the engine tests share: a collector of one
 * request's events, a gate that holds the scheduler thread, engines over
 * the test models and a direct greedy decode to compare against. */
#ifndef HH_TEST_ENGINE_HELPERS_H
#define HH_TEST_ENGINE_HELPERS_H

#include "engine/engine.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#define STORIES "stories260K"
#define MAX_TEXT 8192

extern atomic_int g_event_order;   /* order of first events across requests */

/* Collects the events of one request (callback on the scheduler thread). */
typedef struct collector {
    pthread_mutex_t mu;
    pthread_cond_t  cv;
    char            text[MAX_TEXT];  /* concatenated TEXT events */
    size_t          len;
    int             n_text;
    int             n_lp;            /* TEXT events carrying logprobs */
    bool            done;
    int             kind;            /* DONE or ERROR */
    hh_finish_t     finish;
    char            content[MAX_TEXT];
    int32_t         prompt_tokens, completion_tokens, cached_tokens;
    int             error_code;
    char            tool_name[64];   /* first tool call of DONE */
    char            tool_args[1024];
    int             n_tool_calls;
    int             first_order;     /* -1 until the first event */
    int             n_final;         /* DONE/ERROR events seen (must be 1) */
    struct gate    *gate;            /* if set: the first event waits until it opens */
    hh_gen_t      **cancel_on_text;  /* if set: cancel *it at the first TEXT event */
    hh_gen_t      **cancel_other;    /* if set: cancel *it at TEXT event number cancel_other_at */
    int             cancel_other_at;
    float           lp[64];          /* logprobs of the first chosen tokens (requests with logprobs) */
    int             n_lpv;
} collector_t;

/* Holds the scheduler thread inside a callback until the test opens it, so
 * a test can line up requests behind a running one deterministically. */
typedef struct gate {
    pthread_mutex_t mu;
    pthread_cond_t  cv;
    bool            open;
    bool            entered;   /* a callback is waiting in it */
} gate_t;

void gate_wait_entered(gate_t *g);
void gate_open(gate_t *g);
void col_init(collector_t *c);
void col_destroy(collector_t *c);
void col_cb(void *user, const hh_gen_event_t *ev);
bool col_wait(collector_t *c, double secs);
bool col_wait_text(collector_t *c, double secs);
const char *make_models_dir(const char *tag, const char *const *files);
hh_engine_t *make_engine_pf(const char *tag, int n_slots, int n_ctx, int n_prefill, int n_batch);
hh_engine_t *make_engine(const char *tag, int n_slots, int n_ctx, int max_queue);
hh_gen_request_t greedy_req(const char *model, const char *prompt, int max_tokens, collector_t *c);
int run_one(hh_engine_t *e, const hh_gen_request_t *req, collector_t *c);
int direct_greedy(const char *rel, const char *prompt, int max_tokens, char *out, size_t cap);

#endif
