/* sweeper.c - retention sweeps of a running server (sweeper.h). */
#include "govern/sweeper.h"
#include "base/log.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SWEEP_FIRST_S 10   /* first periodic sweep after min(interval, this) */

struct hh_retention_sweeper {
    hh_store_t     *store;   /* borrowed */
    hh_kb_dense_t  *kb;      /* borrowed */
    int             interval_s;
    hh_gdpr_sweep_params_t sp;
    pthread_t       thread;
    pthread_mutex_t mu;      /* guards stop */
    pthread_cond_t  cv;      /* CLOCK_MONOTONIC; signaled at stop */
    bool            stop;
};

int hh_retention_sweep_live(hh_store_t *store, hh_kb_dense_t *kb, const hh_gdpr_sweep_params_t *sp,
                            hh_gdpr_sweep_result_t *res, size_t *removed, char **log_text, hh_err_t *err)
{
    *removed = 0;
    if (log_text)
        *log_text = NULL;
    char *buf = NULL;
    size_t len = 0;
    FILE *log = open_memstream(&buf, &len);
    if (!log)
        return hh_err_set(err, HH_ENOMEM, -1, "out of memory");
    hh_kb_dense_snap_t sn;
    hh_kb_dense_lock(kb);
    int rc = hh_kb_dense_snap_take(kb, &sn, err);
    if (rc == 0) {
        hh_gdpr_sweep_params_t def = hh_gdpr_sweep_default_params();
        rc = hh_gdpr_retention_sweep_with(store, 0, sp ? sp : &def, log, res, err);
        *removed = hh_kb_dense_snap_apply(kb, &sn, false);   /* also after a partial sweep */
        hh_kb_dense_snap_free(&sn);
    }
    hh_kb_dense_unlock(kb);
    fclose(log);
    for (const char *line = buf; line && *line;) {
        int n = (int)strcspn(line, "\n");
        HH_LOGI("%.*s", n, line);
        line = line[n] ? line + n + 1 : NULL;
    }
    if (log_text)
        *log_text = buf;
    else
        free(buf);
    if (*removed)
        HH_LOGI("retention: %zu vectors left the live index", *removed);
    return rc;
}

static void *sweeper_main(void *arg)
{
    hh_retention_sweeper_t *sw = arg;
    const int interval = sw->interval_s;
    struct timespec at;
    clock_gettime(CLOCK_MONOTONIC, &at);
    at.tv_sec += interval < SWEEP_FIRST_S ? interval : SWEEP_FIRST_S;
    pthread_mutex_lock(&sw->mu);
    while (!sw->stop) {
        int w = pthread_cond_timedwait(&sw->cv, &sw->mu, &at);
        if (sw->stop)
            break;
        if (w != ETIMEDOUT)
            continue;   /* woken early (spuriously): the deadline stands */
        pthread_mutex_unlock(&sw->mu);
        hh_gdpr_sweep_result_t r = { 0 };
        size_t removed = 0;
        hh_err_t err;
        hh_err_clear(&err);
        if (hh_retention_sweep_live(sw->store, sw->kb, &sw->sp, &r, &removed, NULL, &err) != 0)
            HH_LOGW("retention: periodic sweep failed: %s", err.msg[0] ? err.msg : hh_strerror(err.code));
        else if (r.documents || r.audit_records || r.audit_texts || r.approvals || r.conversations)
            HH_LOGI("retention: periodic sweep deleted %" PRId64 " documents and %" PRId64
                    " decided approvals, expired %" PRId64 " audit records and the texts of %" PRId64 " more, "
                    "deleted %" PRId64 " idle conversations",
                    r.documents, r.approvals, r.audit_records, r.audit_texts, r.conversations);
        clock_gettime(CLOCK_MONOTONIC, &at);
        at.tv_sec += interval;
        pthread_mutex_lock(&sw->mu);
    }
    pthread_mutex_unlock(&sw->mu);
    return NULL;
}

int hh_retention_sweeper_start(hh_retention_sweeper_t **out, hh_store_t *store, hh_kb_dense_t *kb, int interval_s,
                               const hh_gdpr_sweep_params_t *sp, hh_err_t *err)
{
    *out = NULL;
    if (interval_s <= 0) {
        HH_LOGI("retention: periodic sweep off");
        return 0;
    }
    hh_retention_sweeper_t *sw = calloc(1, sizeof *sw);
    if (!sw)
        return hh_err_set(err, HH_ENOMEM, -1, "out of memory");
    sw->store = store;
    sw->kb = kb;
    sw->interval_s = interval_s;
    sw->sp = sp ? *sp : hh_gdpr_sweep_default_params();
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&sw->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&sw->mu, NULL);
    int pr = pthread_create(&sw->thread, NULL, sweeper_main, sw);
    if (pr != 0) {
        pthread_cond_destroy(&sw->cv);
        pthread_mutex_destroy(&sw->mu);
        free(sw);
        return hh_err_set(err, HH_ENOMEM, -1, "cannot start the retention sweeper: %s", strerror(pr));
    }
    HH_LOGI("retention: periodic sweep every %d s", interval_s);
    *out = sw;
    return 0;
}

void hh_retention_sweeper_stop(hh_retention_sweeper_t *sw)
{
    if (!sw)
        return;
    pthread_mutex_lock(&sw->mu);
    sw->stop = true;
    pthread_cond_broadcast(&sw->cv);
    pthread_mutex_unlock(&sw->mu);
    pthread_join(sw->thread, NULL);   /* a sweep under way finishes first */
    pthread_cond_destroy(&sw->cv);
    pthread_mutex_destroy(&sw->mu);
    free(sw);
}
