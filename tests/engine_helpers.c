/* engine_helpers.c - the shared part of the engine tests (see
 * engine_helpers.h). */
#include "engine_helpers.h"

#include "harness.h"
#include "model/model.h"
#include "tok/tok.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

atomic_int g_event_order;

void gate_wait_entered(gate_t *g)
{
    pthread_mutex_lock(&g->mu);
    while (!g->entered)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

void gate_open(gate_t *g)
{
    pthread_mutex_lock(&g->mu);
    g->open = true;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

void col_init(collector_t *c)
{
    memset(c, 0, sizeof *c);
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    c->first_order = -1;
}

void col_destroy(collector_t *c)
{
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
}

void col_cb(void *user, const hh_gen_event_t *ev)
{
    collector_t *c = user;
    pthread_mutex_lock(&c->mu);
    bool first = c->first_order < 0;
    if (first)
        c->first_order = atomic_fetch_add(&g_event_order, 1);
    if (first && c->gate != NULL) {
        pthread_mutex_unlock(&c->mu);
        pthread_mutex_lock(&c->gate->mu);
        c->gate->entered = true;
        pthread_cond_broadcast(&c->gate->cv);
        while (!c->gate->open)
            pthread_cond_wait(&c->gate->cv, &c->gate->mu);
        pthread_mutex_unlock(&c->gate->mu);
        pthread_mutex_lock(&c->mu);
    }
    if (ev->kind == HH_GEN_TEXT && c->cancel_on_text != NULL && c->n_text == 0)
        hh_gen_cancel(*c->cancel_on_text);
    if (ev->kind == HH_GEN_TEXT && c->cancel_other != NULL && c->n_text + 1 == c->cancel_other_at)
        hh_gen_cancel(*c->cancel_other);
    if (ev->kind == HH_GEN_TEXT && ev->logprobs != NULL && c->n_lpv < 64)
        c->lp[c->n_lpv++] = ev->logprobs->logprob;
    if (ev->kind == HH_GEN_TEXT) {
        if (c->len + ev->len < MAX_TEXT) {
            memcpy(c->text + c->len, ev->text, ev->len);
            c->len += ev->len;
            c->text[c->len] = '\0';
        }
        c->n_text++;
        c->n_lp += ev->logprobs != NULL;
    } else {
        c->n_final++;
        c->kind = ev->kind;
        c->finish = ev->finish;
        c->error_code = ev->error_code;
        if (ev->kind == HH_GEN_DONE) {
            size_t n = ev->content_len < MAX_TEXT - 1 ? ev->content_len : MAX_TEXT - 1;
            memcpy(c->content, ev->content, n);
            c->content[n] = '\0';
            c->prompt_tokens = ev->prompt_tokens;
            c->completion_tokens = ev->completion_tokens;
            c->cached_tokens = ev->cached_tokens;
            c->n_tool_calls = (int)ev->n_tool_calls;
            if (ev->n_tool_calls > 0) {
                snprintf(c->tool_name, sizeof c->tool_name, "%s", ev->tool_calls[0].name);
                snprintf(c->tool_args, sizeof c->tool_args, "%s", ev->tool_calls[0].arguments_json);
            }
        }
        c->done = true;
        pthread_cond_broadcast(&c->cv);
    }
    pthread_mutex_unlock(&c->mu);
}

/* Waits up to secs for the final event; true if it came. */
bool col_wait(collector_t *c, double secs)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    long long ns = ts.tv_nsec + (long long)(secs * 1e9);
    ts.tv_sec += (time_t)(ns / 1000000000LL);
    ts.tv_nsec = (long)(ns % 1000000000LL);
    pthread_mutex_lock(&c->mu);
    while (!c->done)
        if (pthread_cond_timedwait(&c->cv, &c->mu, &ts) != 0)
            break;
    bool done = c->done;
    pthread_mutex_unlock(&c->mu);
    return done;
}

/* Waits until the request produced some text. */
bool col_wait_text(collector_t *c, double secs)
{
    for (int i = 0; i < (int)(secs * 1000); i++) {
        pthread_mutex_lock(&c->mu);
        bool got = c->n_text > 0 || c->done;
        pthread_mutex_unlock(&c->mu);
        if (got)
            return true;
        usleep(1000);
    }
    return false;
}

/* A fresh models directory under the test tmpdir holding symlinks to the
 * named test models (names relative to testdata, NULL-terminated). */
const char *make_models_dir(const char *tag, const char *const *files)
{
    static char dirs[8][512];
    static int slot;
    char *dir = dirs[slot++ % 8];
    snprintf(dir, 512, "%s/engine-%s", hh_test_tmpdir(), tag);
    mkdir(dir, 0700);
    for (size_t i = 0; files[i] != NULL; i++) {
        char real[PATH_MAX], link[1024];
        if (realpath(hh_test_data_path(files[i]), real) == NULL)
            return NULL;
        const char *base = strrchr(files[i], '/');
        snprintf(link, sizeof link, "%s/%s", dir, base ? base + 1 : files[i]);
        unlink(link);
        if (symlink(real, link) != 0)
            return NULL;
    }
    return dir;
}

/* An engine with a chosen prefill budget per step and chunk size. */
hh_engine_t *make_engine_pf(const char *tag, int n_slots, int n_ctx, int n_prefill, int n_batch)
{
    const char *files[] = { "models/stories260K.gguf", "reference/llama-q8_0.gguf", NULL };
    const char *dir = make_models_dir(tag, files);
    if (dir == NULL)
        return NULL;
    hh_engine_params_t p = hh_engine_default_params();
    p.models_dir = dir;
    p.n_slots = n_slots;
    p.n_ctx = n_ctx;
    p.n_batch = n_batch;
    p.n_prefill = n_prefill;
    p.n_threads = 1;
    p.max_queue = 16;
    hh_engine_t *e = NULL;
    hh_err_t err;
    if (hh_engine_create(&e, &p, &err) < 0) {
        printf("    engine create: %s\n", err.msg);
        return NULL;
    }
    return e;
}

hh_engine_t *make_engine(const char *tag, int n_slots, int n_ctx, int max_queue)
{
    const char *files[] = { "models/stories260K.gguf", "reference/llama-q8_0.gguf", NULL };
    const char *dir = make_models_dir(tag, files);
    if (dir == NULL)
        return NULL;
    hh_engine_params_t p = hh_engine_default_params();
    p.models_dir = dir;
    p.n_slots = n_slots;
    p.n_ctx = n_ctx;
    p.n_batch = 64;
    p.n_threads = 1;
    p.max_queue = max_queue;
    hh_engine_t *e = NULL;
    hh_err_t err;
    if (hh_engine_create(&e, &p, &err) < 0) {
        printf("    engine create: %s\n", err.msg);
        return NULL;
    }
    return e;
}

hh_gen_request_t greedy_req(const char *model, const char *prompt, int max_tokens, collector_t *c)
{
    hh_gen_request_t r;
    memset(&r, 0, sizeof r);
    r.model = model;
    r.user = "u";
    r.prompt = prompt;
    r.sampling = hh_sampler_default_params();
    r.sampling.temperature = 0;
    r.sampling.seed = 1;
    r.max_tokens = max_tokens;
    r.cb = col_cb;
    r.cb_user = c;
    return r;
}

/* Runs one request to its end; returns the submit code. */
int run_one(hh_engine_t *e, const hh_gen_request_t *req, collector_t *c)
{
    hh_err_t err;
    int rc = hh_engine_submit(e, req, NULL, &err);
    if (rc < 0)
        return rc;
    return col_wait(c, 60) ? 0 : HH_ESTATE;
}

/* Reference: the prompt (BOS + text) prefilled in one batch, then greedy
 * one token per hh_ctx_decode with the model API directly. */
int direct_greedy(const char *rel, const char *prompt, int max_tokens, char *out, size_t cap)
{
    hh_model_t *m = NULL;
    hh_vocab_t *v = NULL;
    hh_ctx_t *ctx = NULL;
    int32_t *toks = NULL, *all = NULL;
    size_t n = 0, len = 0;
    int rc;
    if ((rc = hh_model_load(&m, hh_test_data_path(rel), NULL, NULL)) < 0) goto done;
    if ((rc = hh_vocab_load(&v, hh_model_gguf(m), NULL)) < 0) goto done;
    hh_ctx_params_t cp = hh_ctx_default_params();
    cp.n_ctx = 256;
    cp.n_threads = 1;
    if ((rc = hh_ctx_create(&ctx, m, &cp, NULL)) < 0) goto done;
    if ((rc = hh_tokenize(v, prompt, strlen(prompt), false, true, &toks, &n, NULL)) < 0) goto done;
    all = malloc((n + 1) * sizeof *all);
    if (all == NULL) { rc = HH_ENOMEM; goto done; }
    all[0] = hh_vocab_bos(v);
    memcpy(all + 1, toks, n * sizeof *toks);
    hh_batch_t b = { .n_tokens = (int32_t)n + 1, .tokens = all };
    if ((rc = hh_ctx_decode(ctx, &b, NULL)) < 0) goto done;
    hh_detok_t dt;
    char piece[256];
    hh_detok_init(&dt, v, false);
    for (size_t i = 0; i <= n; i++)
        (void)hh_detok_push(&dt, all[i], piece, sizeof piece);
    int32_t last = (int32_t)n;
    const int32_t n_vocab = hh_model_hparams(m)->n_vocab;
    for (int k = 0; k < max_tokens; k++) {
        const float *lg = hh_ctx_logits(ctx, last);
        int32_t best = 0;
        for (int32_t t = 1; t < n_vocab; t++)
            if (lg[t] > lg[best])
                best = t;
        if (hh_vocab_is_eog(v, best))
            break;
        int pn = hh_detok_push(&dt, best, piece, sizeof piece);
        if (pn > 0 && len + (size_t)pn < cap) {
            memcpy(out + len, piece, (size_t)pn);
            len += (size_t)pn;
        }
        hh_batch_t b1 = { .n_tokens = 1, .tokens = &best };
        if ((rc = hh_ctx_decode(ctx, &b1, NULL)) < 0) goto done;
        last = 0;
    }
    int pn = hh_detok_flush(&dt, piece, sizeof piece);
    if (pn > 0 && len + (size_t)pn < cap) {
        memcpy(out + len, piece, (size_t)pn);
        len += (size_t)pn;
    }
    out[len] = '\0';
    rc = 0;
done:
    free(all);
    free(toks);
    hh_ctx_free(ctx);
    hh_vocab_free(v);
    hh_model_free(m);
    return rc;
}
