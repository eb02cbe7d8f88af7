/* engine_int.h - private state shared by engine.c (registry, submit, stats)
 * and engine_sched.c (the per-model scheduler thread).
 *
 * Locking: one engine mutex (hh_engine.mu) guards the registry, every
 * model's queue, slot assignment (slot.g), the user table and the counters
 * below marked [mu]. The scheduler thread alone touches a model's context,
 * its slots' caches, samplers and text buffers, and never holds mu during
 * a decode or a callback. */
#ifndef HH_ENGINE_ENGINE_INT_H
#define HH_ENGINE_ENGINE_INT_H

#include "engine/engine.h"
#include "model/model.h"
#include "sample/grammar.h"
#include "tok/tok.h"

#include <pthread.h>
#include <stdatomic.h>

typedef struct em_model em_model_t;

/* A user with queued or running requests on one model: fairness state. */
typedef struct em_user {
    char           *name;
    uint64_t        last_admit;  /* admission tick of its latest request (0: never) */
    int32_t         refs;        /* queued + running requests */
    struct em_user *next;
} em_user_t;

struct hh_gen {
    atomic_int      refs;        /* engine's + caller's */
    atomic_bool     cancel;
    atomic_bool     finished;    /* final event delivered */
    em_model_t     *model;       /* valid while !finished */
    em_user_t      *user;        /* [mu] */
    struct hh_gen  *next;        /* [mu] queue link */
    uint64_t        seq_no;      /* submission order */

    int32_t        *prompt;      /* owned: prompt token ids */
    int32_t         n_prompt;
    int32_t         max_tokens;  /* resolved, > 0 */
    hh_sampler_params_t sampling;
    char          **stop;        /* owned copies */
    size_t          n_stop;
    size_t          max_stop_len;
    bool            logprobs;
    bool            lookup;      /* prompt-lookup drafts (greedy, no grammar) */
    bool            has_tools;
    bool            tool_call_json;  /* output is a {"name","arguments"} object */
    uint64_t        cache_scope; /* hh_gen_request_t.cache_scope */
    hh_grammar_t   *grammar;     /* owned; NULL: unconstrained */
    hh_chat_format_t fmt;
    hh_gen_cb       cb;
    void           *cb_user;

    double          t_submit;
    double          t_admit;
    double          deadline;    /* 0: none */
};

typedef enum em_slot_state { EM_SLOT_FREE = 0, EM_SLOT_PREFILL, EM_SLOT_DECODE } em_slot_state_t;

/* One sequence of the model's context. */
typedef struct em_slot {
    int32_t         id;
    hh_gen_t       *g;           /* [mu] NULL when free */
    em_slot_state_t state;
    int32_t        *cache;       /* (n_ctx) tokens whose KV the sequence holds */
    int32_t         n_cache;
    int32_t         n_fed;       /* prompt tokens in the KV (prefill progress) */
    int32_t         n_cached;    /* prompt tokens reused from the prefix cache */
    int32_t         pf_take;     /* prompt tokens this step's batch takes (scheduler scratch) */
    uint64_t        scope;       /* [mu] cache_scope of the request that filled cache */
    uint64_t        last_admit;  /* [mu] admit_tick of its latest request (0: never used) */
    int32_t         batch_i;     /* batch index of the token whose logits we sample, -1 */
    int32_t         next_tok;    /* sampled, not yet decoded */
    int32_t         n_draft;     /* prompt-lookup draft tokens after next_tok in this step's batch */
    int32_t         draft_i;     /* batch index of the first of them */
    int32_t         draft_max;   /* current draft length limit: doubles after a fully kept draft,
                                  * drops to one more than was kept otherwise */
    int32_t         n_gen;
    hh_sampler_t   *smpl;
    hh_grammar_state_t *gstate;  /* when the request has a grammar */
    hh_detok_t      dt;
    char           *text;        /* generated text so far */
    size_t          text_len, text_cap;
    size_t          n_emitted;   /* bytes of text already sent */
    size_t          stream_end;  /* bytes that may ever be streamed (tool markup held) */
    double          t_first;     /* first token time, 0 before */
    bool            drop_on_free;/* hh_engine_drop_caches came while busy: drop the KV when free */
} em_slot_t;

struct em_model {
    char            id[256];
    char           *path;
    uint64_t        size;
    int64_t         mtime;
    bool            present;     /* seen in the last scan */
    /* loaded state; set under mu by the loader, read-only afterwards */
    bool            loaded;
    hh_model_t     *model;
    hh_vocab_t     *vocab;
    hh_ctx_t       *ctx;
    hh_chat_format_t fmt;
    hh_grammar_vocab_t *gvocab;  /* built on the first constrained request (under load_mu) */
    int32_t         n_ctx;
    int32_t         n_vocab;
    pthread_t       thread;
    bool            thread_started;
    pthread_cond_t  cv;          /* scheduler waits here when idle */
    bool            stop;        /* [mu] scheduler should exit */
    hh_gen_t       *q_head, *q_tail;  /* [mu] waiting requests, submission order */
    int32_t         n_queued;    /* [mu] */
    int32_t         n_active;    /* [mu] slots with a request */
    int32_t         pins;        /* [mu] submitters between load and enqueue */
    uint64_t        last_used;   /* [mu] LRU tick */
    em_user_t      *users;       /* [mu] */
    uint64_t        admit_tick;  /* [mu] */
    em_slot_t      *slots;       /* (n_slots) */
    atomic_llong    kv_used;
    uint64_t        drop_req;    /* [mu] hh_engine_drop_caches requests */
    uint64_t        drop_done;   /* [mu] requests the scheduler has carried out */
    struct hh_engine *engine;
    em_model_t     *next;
};

struct hh_engine {
    hh_engine_params_t p;
    char              *models_dir;
    pthread_mutex_t    mu;
    pthread_mutex_t    load_mu;   /* serializes model loads */
    pthread_cond_t     drop_cv;   /* with mu: a scheduler carried out a cache drop */
    em_model_t        *models;    /* [mu] registry */
    uint64_t           tick;      /* [mu] LRU clock */
    uint64_t           gen_seq;   /* [mu] */
    uint64_t           loaded_bytes; /* [mu] */
    atomic_ullong      prompt_tokens;
    atomic_ullong      generated_tokens;
    atomic_ullong      draft_tokens;     /* prompt-lookup tokens drafted */
    atomic_ullong      draft_accepted;   /* ... and kept */
};

/* Monotonic seconds. */
double em_now(void);
/* Scheduler thread entry (arg: em_model_t *). */
void *em_sched_main(void *arg);
/* Drops a reference; frees g at zero. */
void em_gen_unref(hh_gen_t *g);
/* [mu held] Removes one reference of g's user; frees the record at zero. */
void em_user_put(em_model_t *m, em_user_t *u);

#endif
