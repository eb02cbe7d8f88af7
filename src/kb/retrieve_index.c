/* retrieve_index.c - the analyzed full-text index (retrieve.h): one chunk's
 * language and index terms, the pass that analyzes the chunks whose terms
 * are older than the analyzer, and the background thread that runs that
 * pass in a server (never a search: a search ranks what is analyzed). */
#include "kb/retrieve.h"
#include "base/log.h"
#include "kb/lang.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- the chunk analysis ---------------------------------------------------- */

int hh_kb_chunk_terms(hh_analyzer_t *a, const char *text, const char *heading_path, const char **lang,
                      char **terms, hh_err_t *err)
{
    *terms = NULL;
    size_t tl = text ? strlen(text) : 0, hl = heading_path ? strlen(heading_path) : 0;
    hh_lang_t lg = hh_lang_detect(text ? text : "", tl);
    *lang = hh_lang_code(lg);
    char *ht = NULL, *tt = NULL;
    int rc = hh_analyzer_index_terms(a, heading_path, hl, lg, &ht, err);
    if (!rc)
        rc = hh_analyzer_index_terms(a, text, tl, lg, &tt, err);
    if (!rc) {
        size_t a1 = strlen(ht), a2 = strlen(tt);
        char *t = malloc(a1 + a2 + 2);
        if (!t) {
            rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory");
        } else {
            memcpy(t, ht, a1);
            size_t o = a1;
            if (a1 && a2)
                t[o++] = ' ';
            memcpy(t + o, tt, a2);
            t[o + a2] = '\0';
            *terms = t;
        }
    }
    free(ht);
    free(tt);
    return rc;
}

#define FILL_BATCH 256

/* One pass over at most max chunks (0: all); with stop (may be NULL) set,
 * it ends after the batch under way. */
static int index_fill(hh_store_t *s, hh_analyzer_t *a, const atomic_bool *stop, size_t max, size_t *n_done,
                      hh_err_t *err)
{
    if (n_done)
        *n_done = 0;
    int level = hh_analyzer_level(a), rc = 0;
    size_t total = 0;
    for (;;) {
        if ((stop && atomic_load(stop)) || (max && total >= max))
            return 0;
        hh_store_chunk_text_t *v = NULL;
        size_t n = 0;
        if ((rc = hh_store_chunks_to_analyze(s, level, FILL_BATCH, &v, &n, err)) || n == 0)
            return rc;
        hh_store_chunk_terms_t *t = calloc(n, sizeof *t);
        char **owned = calloc(n, sizeof *owned);
        if (!t || !owned)
            rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory");
        for (size_t i = 0; i < n && !rc; i++) {
            t[i].id = v[i].id;
            rc = hh_kb_chunk_terms(a, v[i].text, v[i].heading_path, &t[i].lang, &owned[i], err);
            t[i].terms = owned[i];
        }
        if (!rc)
            rc = hh_store_chunks_set_terms(s, t, n, level, err);
        for (size_t i = 0; owned && i < n; i++)
            free(owned[i]);
        free(owned);
        free(t);
        hh_store_chunk_texts_free(v, n);
        if (rc)
            return rc;
        total += n;
        if (n_done)
            *n_done += n;
        if (n < FILL_BATCH)
            return 0;
    }
}

int hh_kb_index_fill(hh_store_t *s, hh_analyzer_t *a, size_t *n_done, hh_err_t *err)
{
    return index_fill(s, a, NULL, 0, n_done, err);
}

/* ---- the background pass ----------------------------------------------- */

struct hh_kb_index_filler {
    hh_store_t     *store;      /* borrowed */
    hh_analyzer_t  *analyzer;   /* borrowed */
    int             interval_s;
    pthread_t       thread;
    pthread_mutex_t mu;         /* guards passes, kicked */
    pthread_cond_t  cv;         /* CLOCK_MONOTONIC; signaled at kick and stop */
    atomic_bool     stop;
    bool            kicked;     /* a pass wanted now */
    uint64_t        started;    /* passes begun */
    uint64_t        passes;     /* passes finished */
};

static void *filler_main(void *arg)
{
    hh_kb_index_filler_t *f = arg;
    for (;;) {
        pthread_mutex_lock(&f->mu);
        f->started++;
        f->kicked = false;
        pthread_mutex_unlock(&f->mu);
        size_t done = 0;
        hh_err_t err;
        hh_err_clear(&err);
        if (index_fill(f->store, f->analyzer, &f->stop, 0, &done, &err) != 0)
            HH_LOGW("kb: analyzing chunks for the full-text index failed: %s",
                    err.msg[0] ? err.msg : hh_strerror(err.code));
        else if (done)
            HH_LOGI("kb: analyzed %zu chunks for the full-text index", done);
        struct timespec at;
        clock_gettime(CLOCK_MONOTONIC, &at);
        at.tv_sec += f->interval_s;
        pthread_mutex_lock(&f->mu);
        f->passes++;
        pthread_cond_broadcast(&f->cv);
        while (!atomic_load(&f->stop) && !f->kicked)
            if (pthread_cond_timedwait(&f->cv, &f->mu, &at) == ETIMEDOUT)
                break;
        bool stop = atomic_load(&f->stop);
        pthread_mutex_unlock(&f->mu);
        if (stop)
            return NULL;
    }
}

int hh_kb_index_filler_start(hh_kb_index_filler_t **out, hh_store_t *s, hh_analyzer_t *a, int interval_s,
                             hh_err_t *err)
{
    *out = NULL;
    /* a small backlog (a small store, a few rewritten chunks) before the
     * first request, so such a store is complete from the start */
    size_t now = 0;
    int rc = index_fill(s, a, NULL, HH_KB_FILL_AT_START, &now, err);
    if (rc)
        return rc;
    if (now)
        HH_LOGI("kb: analyzed %zu chunks for the full-text index", now);
    hh_kb_index_filler_t *f = calloc(1, sizeof *f);
    if (!f)
        return hh_err_set(err, HH_ENOMEM, -1, "out of memory");
    f->store = s;
    f->analyzer = a;
    f->interval_s = interval_s > 0 ? interval_s : HH_KB_FILL_INTERVAL_S;
    atomic_init(&f->stop, false);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&f->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&f->mu, NULL);
    int pr = pthread_create(&f->thread, NULL, filler_main, f);
    if (pr != 0) {
        pthread_cond_destroy(&f->cv);
        pthread_mutex_destroy(&f->mu);
        free(f);
        return hh_err_set(err, HH_ENOMEM, -1, "cannot start the index analysis thread: %s", strerror(pr));
    }
    *out = f;
    return 0;
}

void hh_kb_index_filler_kick(hh_kb_index_filler_t *f)
{
    if (!f)
        return;
    pthread_mutex_lock(&f->mu);
    f->kicked = true;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

void hh_kb_index_filler_wait(hh_kb_index_filler_t *f)
{
    if (!f)
        return;
    pthread_mutex_lock(&f->mu);
    uint64_t want = f->started + 1;   /* a pass that begins after this call */
    f->kicked = true;
    pthread_cond_broadcast(&f->cv);
    while (f->passes < want && !atomic_load(&f->stop))
        pthread_cond_wait(&f->cv, &f->mu);
    pthread_mutex_unlock(&f->mu);
}

void hh_kb_index_filler_stop(hh_kb_index_filler_t *f)
{
    if (!f)
        return;
    pthread_mutex_lock(&f->mu);
    atomic_store(&f->stop, true);
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    pthread_join(f->thread, NULL);   /* the batch under way is committed first */
    pthread_cond_destroy(&f->cv);
    pthread_mutex_destroy(&f->mu);
    free(f);
}
