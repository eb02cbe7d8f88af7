/* embedders.c - the registry of loaded embedding models (embedders.h). */
#include "engine/embedders.h"
#include "base/log.h"
#include "model/model.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct hh_embedder {
    char            id[HH_EMBEDDER_ID_MAX];
    hh_model_t     *model;     /* owned */
    hh_vocab_t     *vocab;     /* owned */
    hh_embed_ctx_t *ctx;       /* owned; used under mu */
    pthread_mutex_t mu;
    int             refs;      /* acquired and not released (under the registry's mu) */
    uint64_t        last_used; /* the registry's tick at the last acquire */
};

struct hh_embedders {
    hh_engine_t    *engine;       /* borrowed: lists the directory */
    char           *models_dir;   /* owned copy */
    int             n_threads;
    pthread_mutex_t mu;           /* guards slots[], their refs, tick */
    hh_embedder_t  *slots[HH_EMBEDDERS_MAX];   /* owned, NULL = free slot */
    uint64_t        tick;
};

static void embedder_free(hh_embedder_t *em)
{
    if (em == NULL)
        return;
    hh_embed_ctx_free(em->ctx);
    hh_vocab_free(em->vocab);
    hh_model_free(em->model);
    pthread_mutex_destroy(&em->mu);
    free(em);
}

int hh_embedders_create(hh_embedders_t **out, hh_engine_t *engine, const char *models_dir, int n_threads,
                        hh_err_t *err)
{
    *out = NULL;
    hh_embedders_t *r = calloc(1, sizeof *r);
    if (r == NULL || (r->models_dir = strdup(models_dir)) == NULL) {
        free(r);
        return hh_err_set(err, HH_ENOMEM, -1, "out of memory");
    }
    r->engine = engine;
    r->n_threads = n_threads;
    pthread_mutex_init(&r->mu, NULL);
    *out = r;
    return 0;
}

const char *hh_embedders_dir(const hh_embedders_t *r)
{
    return r->models_dir;
}

void hh_embedders_free(hh_embedders_t *r)
{
    if (r == NULL)
        return;
    for (int i = 0; i < HH_EMBEDDERS_MAX; i++)
        embedder_free(r->slots[i]);
    pthread_mutex_destroy(&r->mu);
    free(r->models_dir);
    free(r);
}

/* True if id names a model file of the engine's directory. */
static bool model_listed(hh_embedders_t *r, const char *id)
{
    hh_engine_model_info_t *ms = NULL;
    size_t n = 0;
    bool found = false;
    if (hh_engine_list_models(r->engine, &ms, &n, NULL) == 0)
        for (size_t i = 0; i < n && !found; i++)
            found = strcmp(ms[i].id, id) == 0;
    free(ms);
    return found;
}

/* Loads model id (listed) into a new embedder. */
static int embedder_load(hh_embedders_t *r, const char *id, hh_embedder_t **out, hh_err_t *err)
{
    *out = NULL;
    hh_embedder_t *em = calloc(1, sizeof *em);
    if (em == NULL)
        return hh_err_set(err, HH_ENOMEM, -1, "out of memory");
    pthread_mutex_init(&em->mu, NULL);
    snprintf(em->id, sizeof em->id, "%s", id);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.gguf", r->models_dir, id);
    hh_err_t e;
    hh_err_clear(&e);
    int rc;
    if (hh_model_load(&em->model, path, NULL, &e) != 0) {
        rc = hh_err_set(err, HH_EIO, -1, "cannot load model '%s': %s", id, e.msg);
        goto fail;
    }
    if (!hh_model_is_embedding(em->model)) {
        rc = hh_err_set(err, HH_EINVAL, -1, "The model '%s' is a generative model, not an embedding model", id);
        goto fail;
    }
    if (hh_model_hparams(em->model)->pooling == HH_POOLING_NONE) {
        rc = hh_err_set(err, HH_EINVAL, -1, "The model '%s' has no pooling (per-token outputs only)", id);
        goto fail;
    }
    hh_embed_params_t ep = hh_embed_default_params();
    ep.n_threads = r->n_threads;
    if (hh_vocab_load(&em->vocab, hh_model_gguf(em->model), &e) != 0 ||
        hh_embed_ctx_create(&em->ctx, em->model, &ep, &e) != 0) {
        rc = hh_err_set(err, HH_EIO, -1, "cannot prepare model '%s': %s", id, e.msg);
        goto fail;
    }
    HH_LOGI("embeddings: loaded %s (%d dims, %d tokens per text)", id, hh_model_n_embd(em->model),
            hh_embed_max_tokens(em->ctx));
    *out = em;
    return 0;
fail:
    embedder_free(em);
    return rc;
}

int hh_embedders_acquire(hh_embedders_t *r, const char *model, hh_embedder_t **out, hh_err_t *err)
{
    *out = NULL;
    if (model == NULL || !model[0] || strlen(model) >= HH_EMBEDDER_ID_MAX || strchr(model, '/') ||
        model[0] == '.' || !model_listed(r, model))
        return hh_err_set(err, HH_ENOENT, -1, "The model '%s' does not exist", model ? model : "");
    pthread_mutex_lock(&r->mu);
    int rc = 0, free_slot = -1, lru = -1;
    hh_embedder_t *em = NULL;
    for (int i = 0; i < HH_EMBEDDERS_MAX; i++) {
        hh_embedder_t *x = r->slots[i];
        if (x != NULL && !strcmp(x->id, model)) {
            em = x;
            break;
        }
        if (x == NULL && free_slot < 0)
            free_slot = i;
        if (x != NULL && x->refs == 0 && (lru < 0 || x->last_used < r->slots[lru]->last_used))
            lru = i;
    }
    if (em == NULL) {
        if (free_slot < 0 && lru < 0) {
            rc = hh_err_set(err, HH_EFULL, -1, "All %d embedding model slots are busy; retry shortly",
                            HH_EMBEDDERS_MAX);
            goto done;
        }
        /* Loading is quick (the file is mapped, not read), so it happens
         * under the lock: two callers never load the same model twice. */
        if ((rc = embedder_load(r, model, &em, err)) != 0)
            goto done;
        if (free_slot < 0) {
            HH_LOGI("embeddings: unloading %s", r->slots[lru]->id);
            embedder_free(r->slots[lru]);
            free_slot = lru;
        }
        r->slots[free_slot] = em;
    }
    em->refs++;
    em->last_used = ++r->tick;
    *out = em;
done:
    pthread_mutex_unlock(&r->mu);
    return rc;
}

void hh_embedders_acquire_first(hh_embedders_t *r, hh_embedder_t **out)
{
    *out = NULL;
    hh_engine_model_info_t *ms = NULL;
    size_t n = 0;
    if (hh_engine_list_models(r->engine, &ms, &n, NULL) != 0)
        return;
    for (size_t i = 0; i < n && !*out; i++) {
        for (size_t j = i + 1; j < n; j++)   /* by name, whatever order the listing has */
            if (strcmp(ms[j].id, ms[i].id) < 0) {
                hh_engine_model_info_t t = ms[i];
                ms[i] = ms[j];
                ms[j] = t;
            }
        if (hh_embedders_acquire(r, ms[i].id, out, NULL) != 0)
            *out = NULL;
    }
    free(ms);
}

void hh_embedders_release(hh_embedders_t *r, hh_embedder_t *em)
{
    if (em == NULL)
        return;
    pthread_mutex_lock(&r->mu);
    em->refs--;
    pthread_mutex_unlock(&r->mu);
}

const char *hh_embedder_id(const hh_embedder_t *em) { return em->id; }
const hh_vocab_t *hh_embedder_vocab(const hh_embedder_t *em) { return em->vocab; }
int32_t hh_embedder_n_embd(const hh_embedder_t *em) { return hh_model_n_embd(em->model); }
int32_t hh_embedder_max_tokens(const hh_embedder_t *em) { return hh_embed_max_tokens(em->ctx); }

int hh_embedder_run(hh_embedder_t *em, const int32_t *ids, const int32_t *offsets, int32_t n_texts, float *out,
                    hh_err_t *err)
{
    pthread_mutex_lock(&em->mu);
    int rc = hh_embed_batch(em->ctx, ids, offsets, n_texts, out, err);
    pthread_mutex_unlock(&em->mu);
    return rc;
}

int hh_embedder_run_text(hh_embedder_t *em, const char *text, float *out, hh_err_t *err)
{
    int32_t *ids = NULL;
    size_t n = 0;
    int rc = hh_tokenize(em->vocab, text, strlen(text), true, false, &ids, &n, err);
    if (rc)
        return rc;
    if (n == 0 || n > INT32_MAX) {
        free(ids);
        return hh_err_set(err, HH_EINVAL, -1, "query has no tokens");
    }
    int32_t m = (int32_t)n;
    if (m > hh_embed_max_tokens(em->ctx))
        m = hh_embed_truncate(ids, m, hh_embed_max_tokens(em->ctx));
    int32_t off[2] = { 0, m };
    rc = hh_embedder_run(em, ids, off, 1, out, err);
    free(ids);
    return rc;
}
