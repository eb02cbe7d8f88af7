/* engine.c - the engine's model registry (scan, load on first use, LRU
 * unload under the memory budget), request submission (prompt building,
 * limits, fair queue entry), handles and statistics. The scheduling loop
 * itself is in engine_sched.c. */
#include "engine/engine_int.h"
#include "base/log.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Bounds on request fields that come from the network. */
#define EM_MAX_STOP      16
#define EM_MAX_STOP_LEN  1024
/* Positions a forced tool call's reply needs at least (when max_tokens is
 * not given) before the tool list is left out of its prompt. */
#define EM_FORCED_CALL_ROOM 256

double em_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

hh_engine_params_t hh_engine_default_params(void)
{
    hh_engine_params_t p = {
        .models_dir = NULL, .n_slots = 4, .n_ctx = 0, .n_batch = 512, .n_prefill = 64, .n_draft = 8, .n_threads = 0,
        .mem_budget = 0, .max_queue = 64, .max_tokens_limit = 0, .request_timeout_s = 0,
        .load = HH_GGUF_LOAD_READ, .mlock = false,
    };
    return p;
}

static uint64_t default_mem_budget(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGE_SIZE);
    if (pages <= 0 || psize <= 0)
        return (uint64_t)8 << 30;
    return (uint64_t)pages * (uint64_t)psize / 4 * 3;
}

int hh_engine_create(hh_engine_t **out, const hh_engine_params_t *params, hh_err_t *err)
{
    if (out == NULL || params == NULL || params->models_dir == NULL)
        return hh_err_set(err, HH_EINVAL, -1, "engine: models_dir is required");
    *out = NULL;
    hh_engine_params_t p = *params;
    if (p.n_slots <= 0) p.n_slots = 4;
    if (p.n_batch <= 0) p.n_batch = 512;
    if (p.n_prefill <= 0) p.n_prefill = 64;
    if (p.n_prefill > p.n_batch) p.n_prefill = p.n_batch;
    if (p.n_draft == 0) p.n_draft = 8;
    if (p.n_draft > 64) p.n_draft = 64;
    if (p.max_queue <= 0) p.max_queue = 64;
    if (p.mem_budget == 0) p.mem_budget = default_mem_budget();
    if (p.n_slots > 1024 || p.n_batch > (1 << 20) || p.n_ctx < 0 || p.n_ctx > (1 << 24) || p.n_threads < 0 ||
        p.n_threads > 4096 || p.max_tokens_limit < 0 || !(p.request_timeout_s >= 0))
        return hh_err_set(err, HH_EINVAL, -1, "engine: bad parameters (n_slots %d, n_batch %d, n_ctx %d, n_threads %d)",
                          p.n_slots, p.n_batch, p.n_ctx, p.n_threads);
    struct stat st;
    if (stat(p.models_dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return hh_err_set(err, HH_ENOENT, -1, "engine: models directory %s does not exist", p.models_dir);
    hh_engine_t *e = calloc(1, sizeof *e);
    if (e == NULL || (e->models_dir = strdup(p.models_dir)) == NULL) {
        free(e);
        return hh_err_set(err, HH_ENOMEM, -1, "engine: out of memory");
    }
    p.models_dir = e->models_dir;
    e->p = p;
    pthread_mutex_init(&e->mu, NULL);
    pthread_mutex_init(&e->load_mu, NULL);
    pthread_cond_init(&e->drop_cv, NULL);
    atomic_init(&e->prompt_tokens, 0);
    atomic_init(&e->generated_tokens, 0);
    atomic_init(&e->draft_tokens, 0);
    atomic_init(&e->draft_accepted, 0);
    *out = e;
    return 0;
}

/* Frees a model's loaded state; its scheduler thread must have exited. */
static void model_unload_resources(em_model_t *m)
{
    if (m->slots != NULL) {
        for (int32_t i = 0; i < m->engine->p.n_slots; i++) {
            free(m->slots[i].cache);
            free(m->slots[i].text);
            hh_sampler_free(m->slots[i].smpl);
            hh_grammar_state_free(m->slots[i].gstate);
        }
    }
    free(m->slots);
    m->slots = NULL;
    hh_ctx_free(m->ctx);
    m->ctx = NULL;
    hh_grammar_vocab_free(m->gvocab);
    m->gvocab = NULL;
    hh_vocab_free(m->vocab);
    m->vocab = NULL;
    hh_model_free(m->model);
    m->model = NULL;
    atomic_store(&m->kv_used, 0);
}

/* Stops and joins a model's scheduler (which cancels what it holds). */
static void model_stop_thread(hh_engine_t *e, em_model_t *m)
{
    if (!m->thread_started)
        return;
    pthread_mutex_lock(&e->mu);
    m->stop = true;
    pthread_cond_signal(&m->cv);
    pthread_mutex_unlock(&e->mu);
    pthread_join(m->thread, NULL);
    m->thread_started = false;
}

void hh_engine_free(hh_engine_t *e)
{
    if (e == NULL)
        return;
    for (em_model_t *m = e->models; m != NULL; m = m->next)
        model_stop_thread(e, m);
    em_model_t *m = e->models;
    while (m != NULL) {
        em_model_t *next = m->next;
        model_unload_resources(m);
        for (em_user_t *u = m->users; u != NULL;) {
            em_user_t *un = u->next;
            free(u->name);
            free(u);
            u = un;
        }
        pthread_cond_destroy(&m->cv);
        free(m->path);
        free(m);
        m = next;
    }
    pthread_mutex_destroy(&e->mu);
    pthread_mutex_destroy(&e->load_mu);
    pthread_cond_destroy(&e->drop_cv);
    free(e->models_dir);
    free(e);
}

static em_model_t *find_model(hh_engine_t *e, const char *id)
{
    for (em_model_t *m = e->models; m != NULL; m = m->next)
        if (strcmp(m->id, id) == 0)
            return m;
    return NULL;
}

/* [mu held] Rescans the directory: adds new *.gguf files, refreshes sizes,
 * marks vanished ones absent (and drops them unless loaded). */
static int scan_models(hh_engine_t *e, hh_err_t *err)
{
    DIR *d = opendir(e->models_dir);
    if (d == NULL)
        return hh_err_set(err, HH_EIO, -1, "cannot read models directory %s: %s", e->models_dir, strerror(errno));
    for (em_model_t *m = e->models; m != NULL; m = m->next)
        m->present = false;
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        if (len <= 5 || strcmp(de->d_name + len - 5, ".gguf") != 0 || de->d_name[0] == '.')
            continue;
        if (len - 5 >= sizeof ((em_model_t *)0)->id)
            continue;
        size_t plen = strlen(e->models_dir) + 1 + len + 1;
        char *path = malloc(plen);
        if (path == NULL) {
            rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory scanning models");
            break;
        }
        snprintf(path, plen, "%s/%s", e->models_dir, de->d_name);
        struct stat st;
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
            free(path);
            continue;
        }
        char id[256];
        memcpy(id, de->d_name, len - 5);
        id[len - 5] = '\0';
        em_model_t *m = find_model(e, id);
        if (m == NULL) {
            m = calloc(1, sizeof *m);
            if (m == NULL) {
                free(path);
                rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory scanning models");
                break;
            }
            memcpy(m->id, id, len - 4);
            m->engine = e;
            pthread_cond_init(&m->cv, NULL);
            atomic_init(&m->kv_used, 0);
            m->next = e->models;
            e->models = m;
        }
        free(m->path);
        m->path = path;
        if (!m->loaded)
            m->size = (uint64_t)st.st_size;
        m->mtime = (int64_t)st.st_mtime;
        m->present = true;
    }
    closedir(d);
    /* Forget vanished models nobody uses. */
    for (em_model_t **pp = &e->models; *pp != NULL;) {
        em_model_t *m = *pp;
        if (!m->present && !m->loaded && m->pins == 0 && !m->thread_started && m->users == NULL) {
            *pp = m->next;
            pthread_cond_destroy(&m->cv);
            free(m->path);
            free(m);
        } else {
            pp = &m->next;
        }
    }
    return rc;
}

static int cmp_info(const void *a, const void *b)
{
    return strcmp(((const hh_engine_model_info_t *)a)->id, ((const hh_engine_model_info_t *)b)->id);
}

int hh_engine_list_models(hh_engine_t *e, hh_engine_model_info_t **out, size_t *n, hh_err_t *err)
{
    if (e == NULL || out == NULL || n == NULL)
        return hh_err_set(err, HH_EINVAL, -1, "engine: list_models needs e, out and n");
    *out = NULL;
    *n = 0;
    pthread_mutex_lock(&e->mu);
    int rc = scan_models(e, err);
    size_t cnt = 0;
    for (em_model_t *m = e->models; m != NULL; m = m->next)
        cnt += m->present;
    hh_engine_model_info_t *info = NULL;
    if (rc == 0 && cnt > 0) {
        info = calloc(cnt, sizeof *info);
        if (info == NULL)
            rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory listing models");
    }
    if (rc == 0) {
        size_t i = 0;
        for (em_model_t *m = e->models; m != NULL; m = m->next) {
            if (!m->present)
                continue;
            snprintf(info[i].id, sizeof info[i].id, "%s", m->id);
            info[i].size = m->size;
            info[i].mtime = m->mtime;
            info[i].loaded = m->loaded;
            i++;
        }
    }
    pthread_mutex_unlock(&e->mu);
    if (rc < 0) {
        free(info);
        return rc;
    }
    if (cnt > 1)
        qsort(info, cnt, sizeof *info, cmp_info);
    *out = info;
    *n = cnt;
    return 0;
}

/* Loads m's weights, tokenizer, context and slots (no lock held; load_mu
 * held). On failure everything loaded so far is freed. */
static int model_load_resources(hh_engine_t *e, em_model_t *m, hh_err_t *err)
{
    hh_model_params_t mp = hh_model_default_params();
    mp.load = e->p.load;
    mp.mlock = e->p.mlock;
    int rc = hh_model_load(&m->model, m->path, &mp, err);
    if (rc < 0)
        goto fail;
    if ((rc = hh_vocab_load(&m->vocab, hh_model_gguf(m->model), err)) < 0)
        goto fail;
    hh_ctx_params_t cp = hh_ctx_default_params();
    cp.n_ctx = e->p.n_ctx;
    cp.n_seq = e->p.n_slots;
    cp.n_batch = e->p.n_batch + e->p.n_slots;   /* one decode token per slot + the prefill budget */
    cp.n_threads = e->p.n_threads;
    if ((rc = hh_ctx_create(&m->ctx, m->model, &cp, err)) < 0)
        goto fail;
    m->n_ctx = hh_ctx_n_ctx(m->ctx);
    m->n_vocab = hh_model_hparams(m->model)->n_vocab;

    const char *tmpl = NULL;
    (void)hh_gguf_get_str(hh_model_gguf(m->model), "tokenizer.chat_template", &tmpl);
    hh_err_t cerr;
    hh_err_clear(&cerr);
    if (hh_chat_detect(tmpl, &m->fmt, &cerr) < 0) {
        /* A Gemma 3 / gpt-oss file without a template we know: its family's own turns. */
        if (hh_model_hparams(m->model)->arch == HH_ARCH_GEMMA3)
            m->fmt = HH_CHAT_GEMMA;
        else if (hh_model_hparams(m->model)->arch == HH_ARCH_GPTOSS)
            m->fmt = HH_CHAT_HARMONY;
        HH_LOGD("model %s: %s", m->id,
                m->fmt == HH_CHAT_GEMMA     ? "no known chat template; gemma3 file: using gemma"
                : m->fmt == HH_CHAT_HARMONY ? "no known chat template; gpt-oss file: using harmony"
                                            : cerr.msg);
    }

    m->slots = calloc((size_t)e->p.n_slots, sizeof *m->slots);
    if (m->slots == NULL) {
        rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory for %d slots", e->p.n_slots);
        goto fail;
    }
    for (int32_t i = 0; i < e->p.n_slots; i++) {
        m->slots[i].id = i;
        m->slots[i].cache = malloc((size_t)m->n_ctx * sizeof(int32_t));
        if (m->slots[i].cache == NULL) {
            rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory for slot caches");
            goto fail;
        }
    }
    return 0;
fail:
    model_unload_resources(m);
    return rc;
}

/* Finds model id and makes sure it is loaded; on success the model is
 * pinned (m->pins++) so it cannot be unloaded until the caller unpins it. */
static int model_acquire(hh_engine_t *e, const char *id, em_model_t **out, hh_err_t *err)
{
    pthread_mutex_lock(&e->mu);
    em_model_t *m = find_model(e, id);
    if (m == NULL || !m->present) {
        int rc = scan_models(e, err);
        m = rc == 0 ? find_model(e, id) : NULL;
        if (rc < 0) {
            pthread_mutex_unlock(&e->mu);
            return rc;
        }
    }
    if (m == NULL || (!m->present && !m->loaded)) {
        pthread_mutex_unlock(&e->mu);
        return hh_err_set(err, HH_ENOENT, -1, "model '%s' does not exist", id);
    }
    m->pins++;
    m->last_used = ++e->tick;
    if (m->loaded) {
        pthread_mutex_unlock(&e->mu);
        *out = m;
        return 0;
    }
    pthread_mutex_unlock(&e->mu);

    int rc = 0;
    em_model_t *victims[64];
    size_t n_victims = 0;
    pthread_mutex_lock(&e->load_mu);
    pthread_mutex_lock(&e->mu);
    bool loaded = m->loaded;
    pthread_mutex_unlock(&e->mu);
    if (!loaded) {
        double t0 = em_now();
        rc = model_load_resources(e, m, err);
        pthread_mutex_lock(&e->mu);
        if (rc == 0) {
            /* Unload least-recently-used idle models until this one fits. */
            while (e->loaded_bytes + m->size > e->p.mem_budget && n_victims < 64) {
                em_model_t *lru = NULL;
                for (em_model_t *v = e->models; v != NULL; v = v->next)
                    if (v != m && v->loaded && v->pins == 0 && v->n_queued == 0 && v->n_active == 0 &&
                        (lru == NULL || v->last_used < lru->last_used))
                        lru = v;
                if (lru == NULL)
                    break;
                lru->loaded = false;
                e->loaded_bytes -= lru->size;
                victims[n_victims++] = lru;
            }
            bool others = false;
            for (em_model_t *v = e->models; v != NULL; v = v->next)
                others |= v != m && v->loaded;
            if (e->loaded_bytes + m->size > e->p.mem_budget && others) {
                rc = hh_err_set(err, HH_EFULL, -1,
                                "model '%s' (%llu bytes) does not fit the memory budget next to busy models",
                                id, (unsigned long long)m->size);
            } else {
                m->stop = false;
                if (pthread_create(&m->thread, NULL, em_sched_main, m) != 0) {
                    rc = hh_err_set(err, HH_ENOMEM, -1, "cannot start the scheduler thread for '%s'", id);
                } else {
                    m->thread_started = true;
                    m->loaded = true;
                    e->loaded_bytes += m->size;
                    HH_LOGI("engine: loaded model %s (%llu bytes, n_ctx %d, %d slots) in %.2f s", id,
                            (unsigned long long)m->size, m->n_ctx, e->p.n_slots, em_now() - t0);
                }
            }
        }
        if (rc < 0)
            m->pins--;
        pthread_mutex_unlock(&e->mu);
        if (rc < 0)
            model_unload_resources(m);
    }
    /* Join and free the unloaded models outside mu (their threads take it). */
    for (size_t i = 0; i < n_victims; i++) {
        model_stop_thread(e, victims[i]);
        model_unload_resources(victims[i]);
        HH_LOGI("engine: unloaded model %s (least recently used)", victims[i]->id);
    }
    pthread_mutex_unlock(&e->load_mu);
    if (rc == 0)
        *out = m;
    return rc;
}

/* Builds the model's grammar vocabulary once (m is pinned by the caller). */
static int model_grammar_vocab(hh_engine_t *e, em_model_t *m, hh_err_t *err)
{
    pthread_mutex_lock(&e->load_mu);
    int rc = 0;
    if (m->gvocab == NULL)
        rc = hh_grammar_vocab_create(m->vocab, &m->gvocab, err);
    pthread_mutex_unlock(&e->load_mu);
    return rc;
}

static void model_unpin(hh_engine_t *e, em_model_t *m)
{
    pthread_mutex_lock(&e->mu);
    m->pins--;
    pthread_mutex_unlock(&e->mu);
}

/* [mu held] The user record for name on m, created with one reference. */
static em_user_t *user_get(em_model_t *m, const char *name)
{
    for (em_user_t *u = m->users; u != NULL; u = u->next)
        if (strcmp(u->name, name) == 0) {
            u->refs++;
            return u;
        }
    em_user_t *u = calloc(1, sizeof *u);
    if (u == NULL || (u->name = strdup(name)) == NULL) {
        free(u);
        return NULL;
    }
    u->refs = 1;
    u->next = m->users;
    m->users = u;
    return u;
}

void em_user_put(em_model_t *m, em_user_t *u)
{
    if (u == NULL || --u->refs > 0)
        return;
    for (em_user_t **pp = &m->users; *pp != NULL; pp = &(*pp)->next)
        if (*pp == u) {
            *pp = u->next;
            break;
        }
    free(u->name);
    free(u);
}

static void gen_free(hh_gen_t *g)
{
    if (g == NULL)
        return;
    for (size_t i = 0; i < g->n_stop; i++)
        free(g->stop[i]);
    free(g->stop);
    free(g->prompt);
    hh_grammar_free(g->grammar);
    free(g);
}

void em_gen_unref(hh_gen_t *g)
{
    if (g != NULL && atomic_fetch_sub(&g->refs, 1) == 1)
        gen_free(g);
}

/* Token ids of the request's prompt: raw text (BOS as the vocabulary says)
 * or the rendered conversation. *ids malloc'd. */
static int build_prompt(const em_model_t *m, const hh_gen_request_t *req, hh_chat_format_t fmt, bool with_tools,
                        int32_t **ids, size_t *n_ids, hh_err_t *err)
{
    const hh_vocab_t *v = m->vocab;
    int32_t bos = hh_vocab_bos(v);
    if (req->messages != NULL) {
        hh_chat_params_t cp = hh_chat_default_params();
        cp.tools_json = with_tools ? req->tools_json : NULL;
        cp.bos_text = bos >= 0 && hh_vocab_add_bos(v) ? hh_vocab_text(v, bos) : NULL;
        int32_t eos = hh_vocab_eos(v);
        cp.eos_text = eos >= 0 ? hh_vocab_text(v, eos) : NULL;
        char *text = NULL;
        size_t len = 0;
        int rc = hh_chat_render(fmt, req->messages, req->n_messages, &cp, &text, &len, err);
        if (rc < 0)
            return rc;
        rc = hh_tokenize(v, text, len, false, true, ids, n_ids, err);
        free(text);
        return rc;
    }
    int32_t *toks = NULL;
    size_t n = 0;
    int rc = hh_tokenize(v, req->prompt, strlen(req->prompt), false, true, &toks, &n, err);
    if (rc < 0)
        return rc;
    bool add_bos = bos >= 0 && hh_vocab_add_bos(v);
    int32_t *all = malloc((n + 1) * sizeof *all);
    if (all == NULL) {
        free(toks);
        return hh_err_set(err, HH_ENOMEM, -1, "out of memory for %zu prompt tokens", n);
    }
    if (add_bos)
        all[0] = bos;
    if (n > 0)
        memcpy(all + (add_bos ? 1 : 0), toks, n * sizeof *toks);
    free(toks);
    *ids = all;
    *n_ids = n + (add_bos ? 1 : 0);
    return 0;
}

/* Checks the request fields that do not need the model. */
static int check_request(const hh_gen_request_t *req, hh_err_t *err)
{
    if (req->model == NULL || req->cb == NULL)
        return hh_err_set(err, HH_EINVAL, -1, "request needs a model and a callback");
    if ((req->prompt == NULL) == (req->messages == NULL))
        return hh_err_set(err, HH_EINVAL, -1, "request needs exactly one of prompt and messages");
    if (req->messages != NULL && req->n_messages == 0)
        return hh_err_set(err, HH_EINVAL, -1, "messages is empty");
    if (req->n_logprobs < 0 || req->n_logprobs > HH_LOGPROBS_MAX)
        return hh_err_set(err, HH_EINVAL, -1, "top_logprobs %d outside [0, %d]", req->n_logprobs, HH_LOGPROBS_MAX);
    if (req->n_stop > EM_MAX_STOP)
        return hh_err_set(err, HH_EINVAL, -1, "at most %d stop strings (got %zu)", EM_MAX_STOP, req->n_stop);
    for (size_t i = 0; i < req->n_stop; i++) {
        size_t len = req->stop && req->stop[i] ? strlen(req->stop[i]) : 0;
        if (len == 0 || len > EM_MAX_STOP_LEN)
            return hh_err_set(err, HH_EINVAL, -1, "stop string %zu is empty or longer than %d bytes", i,
                              EM_MAX_STOP_LEN);
    }
    hh_sampler_params_t sp = req->sampling;
    sp.n_probs = req->n_logprobs;
    hh_sampler_t *s = NULL;
    int rc = hh_sampler_create(&s, &sp);
    hh_sampler_free(s);
    if (rc < 0)
        return hh_err_set(err, rc, -1, "bad sampling parameters (temperature, top_p, min_p or penalties)");
    if (req->tool_call_json && req->json_schema == NULL)
        return hh_err_set(err, HH_EINVAL, -1, "tool_call_json needs the tool call schema in json_schema");
    return 0;
}

int hh_engine_submit(hh_engine_t *e, const hh_gen_request_t *req, hh_gen_t **out, hh_err_t *err)
{
    if (out != NULL)
        *out = NULL;
    if (e == NULL || req == NULL)
        return hh_err_set(err, HH_EINVAL, -1, "engine: submit needs an engine and a request");
    int rc = check_request(req, err);
    if (rc < 0)
        return rc;
    double t_submit = em_now();
    em_model_t *m = NULL;
    if ((rc = model_acquire(e, req->model, &m, err)) < 0)
        return rc;

    hh_gen_t *g = calloc(1, sizeof *g);
    if (g == NULL) {
        rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory for a request");
        goto fail;
    }
    atomic_init(&g->refs, 1);
    atomic_init(&g->cancel, false);
    atomic_init(&g->finished, false);
    g->model = m;
    g->t_submit = t_submit;
    g->fmt = m->fmt;
    if (req->chat_template != NULL && (rc = hh_chat_format_from_name(req->chat_template, &g->fmt, err)) < 0)
        goto fail;
    /* A forced call (tool_call_json) is parsed from the grammar's object,
     * never from tool markup: no markup hold-back, no markup parsing. */
    g->has_tools = req->tools_json != NULL && req->messages != NULL && !req->tool_call_json;
    g->tool_call_json = req->tool_call_json;
    if (req->json_schema != NULL || req->json_object) {
        const char *schema = req->json_schema;
        if ((rc = hh_grammar_from_json_schema(schema, schema ? strlen(schema) : 0, &g->grammar, err)) < 0)
            goto fail;
        if ((rc = model_grammar_vocab(e, m, err)) < 0)
            goto fail;
    }

    size_t n_prompt = 0;
    if ((rc = build_prompt(m, req, g->fmt, true, &g->prompt, &n_prompt, err)) < 0)
        goto fail;
    if (req->tool_call_json && req->tools_json != NULL && req->messages != NULL) {
        /* The tool list only informs a forced call (the grammar enforces
         * it): keep it while the reply still has room, else drop it. */
        int64_t room = req->max_tokens > 0 ? req->max_tokens : EM_FORCED_CALL_ROOM;
        if (room > m->n_ctx / 2)
            room = m->n_ctx / 2;
        if ((int64_t)n_prompt + room > (int64_t)m->n_ctx) {
            free(g->prompt);
            g->prompt = NULL;
            n_prompt = 0;
            if ((rc = build_prompt(m, req, g->fmt, false, &g->prompt, &n_prompt, err)) < 0)
                goto fail;
        }
    }
    if (n_prompt == 0) {
        rc = hh_err_set(err, HH_EINVAL, -1, "the prompt is empty and the model adds no BOS token");
        goto fail;
    }
    if (n_prompt > (size_t)m->n_ctx - 1) {
        rc = hh_err_set(err, HH_ERANGE, -1, "prompt has %zu tokens, context is %d", n_prompt, m->n_ctx);
        goto fail;
    }
    g->n_prompt = (int32_t)n_prompt;
    g->cache_scope = req->cache_scope;
    int32_t limit = e->p.max_tokens_limit > 0 ? e->p.max_tokens_limit : m->n_ctx;
    if (req->max_tokens > limit) {
        rc = hh_err_set(err, HH_EINVAL, -1, "max_tokens %d exceeds the limit %d", req->max_tokens, limit);
        goto fail;
    }
    g->max_tokens = req->max_tokens > 0 ? req->max_tokens : limit;
    g->sampling = req->sampling;
    g->logprobs = req->logprobs || req->n_logprobs > 0;
    g->lookup = req->prompt_lookup && e->p.n_draft > 0 && g->grammar == NULL &&
                (req->sampling.temperature <= 0.0f || req->sampling.top_k == 1);
    g->sampling.n_probs = req->n_logprobs;
    if (req->n_stop > 0) {
        g->stop = calloc(req->n_stop, sizeof *g->stop);
        if (g->stop == NULL) {
            rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory for stop strings");
            goto fail;
        }
        for (size_t i = 0; i < req->n_stop; i++) {
            if ((g->stop[i] = strdup(req->stop[i])) == NULL) {
                rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory for stop strings");
                goto fail;
            }
            g->n_stop = i + 1;
            size_t l = strlen(req->stop[i]);
            if (l > g->max_stop_len)
                g->max_stop_len = l;
        }
    }
    g->cb = req->cb;
    g->cb_user = req->cb_user;
    g->deadline = e->p.request_timeout_s > 0 ? t_submit + e->p.request_timeout_s : 0;

    pthread_mutex_lock(&e->mu);
    if (m->n_queued >= e->p.max_queue) {
        pthread_mutex_unlock(&e->mu);
        rc = hh_err_set(err, HH_EFULL, -1, "queue for model '%s' is full (%d waiting)", m->id, e->p.max_queue);
        goto fail;
    }
    g->user = user_get(m, req->user ? req->user : "");
    if (g->user == NULL) {
        pthread_mutex_unlock(&e->mu);
        rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory for the user record");
        goto fail;
    }
    if (out != NULL) {
        atomic_fetch_add(&g->refs, 1);
        *out = g;
    }
    g->seq_no = ++e->gen_seq;
    if (m->q_tail != NULL)
        m->q_tail->next = g;
    else
        m->q_head = g;
    m->q_tail = g;
    m->n_queued++;
    m->pins--;
    m->last_used = ++e->tick;
    pthread_cond_signal(&m->cv);
    pthread_mutex_unlock(&e->mu);
    return 0;

fail:
    gen_free(g);
    model_unpin(e, m);
    return rc;
}

int hh_engine_prompt_tokens(hh_engine_t *e, const hh_gen_request_t *req, size_t *n_prompt, int32_t *n_ctx,
                            hh_err_t *err)
{
    *n_prompt = 0;
    *n_ctx = 0;
    if (e == NULL || req == NULL || req->model == NULL)
        return hh_err_set(err, HH_EINVAL, -1, "engine: counting needs an engine, a request and a model");
    em_model_t *m = NULL;
    int rc = model_acquire(e, req->model, &m, err);
    if (rc < 0)
        return rc;
    hh_chat_format_t fmt = m->fmt;
    int32_t *ids = NULL;
    if (req->chat_template != NULL && (rc = hh_chat_format_from_name(req->chat_template, &fmt, err)) < 0)
        goto done;
    if ((rc = build_prompt(m, req, fmt, true, &ids, n_prompt, err)) < 0)
        goto done;
    *n_ctx = m->n_ctx;
done:
    free(ids);
    model_unpin(e, m);
    return rc < 0 ? rc : 0;
}

void hh_gen_cancel(hh_gen_t *g)
{
    if (g == NULL)
        return;
    atomic_store(&g->cancel, true);
    if (atomic_load(&g->finished))
        return;
    /* Wake the scheduler in case it sleeps; while !finished (checked under
     * mu) the model holds g and cannot be unloaded. */
    em_model_t *m = g->model;
    hh_engine_t *e = m->engine;
    pthread_mutex_lock(&e->mu);
    if (!atomic_load(&g->finished))
        pthread_cond_signal(&m->cv);
    pthread_mutex_unlock(&e->mu);
}

void hh_gen_release(hh_gen_t *g)
{
    em_gen_unref(g);
}

void hh_engine_stats(hh_engine_t *e, hh_engine_stats_t *out)
{
    memset(out, 0, sizeof *out);
    if (e == NULL)
        return;
    pthread_mutex_lock(&e->mu);
    for (em_model_t *m = e->models; m != NULL; m = m->next) {
        out->queue_depth += m->n_queued;
        if (!m->loaded)
            continue;
        out->models_loaded++;
        out->slots_busy += m->n_active;
        out->slots_total += e->p.n_slots;
        out->kv_used += atomic_load(&m->kv_used);
        out->kv_total += (int64_t)m->n_ctx * e->p.n_slots;
    }
    pthread_mutex_unlock(&e->mu);
    out->prompt_tokens = atomic_load(&e->prompt_tokens);
    out->generated_tokens = atomic_load(&e->generated_tokens);
    out->draft_tokens = atomic_load(&e->draft_tokens);
    out->draft_accepted = atomic_load(&e->draft_accepted);
}

int hh_engine_drop_caches(hh_engine_t *e, hh_err_t *err)
{
    if (e == NULL)
        return hh_err_set(err, HH_EINVAL, -1, "engine: no engine");
    int rc = 0;
    pthread_mutex_lock(&e->mu);
    /* Ask every running scheduler first, then wait for each: they work in
     * parallel. A model without a thread has no context, so no cache. */
    for (em_model_t *m = e->models; m != NULL; m = m->next)
        if (m->loaded && m->thread_started && !m->stop) {
            m->drop_req++;
            pthread_cond_signal(&m->cv);
        }
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    for (em_model_t *m = e->models; m != NULL && rc == 0; m = m->next) {
        while (m->loaded && m->thread_started && !m->stop && m->drop_done < m->drop_req)
            if (pthread_cond_timedwait(&e->drop_cv, &e->mu, &until) != 0) {
                rc = hh_err_set(err, HH_ESTATE, -1, "engine: model %s did not drop its caches in time", m->id);
                break;
            }
    }
    pthread_mutex_unlock(&e->mu);
    return rc;
}
