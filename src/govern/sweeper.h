/* sweeper.h - retention sweeps of a running server (gdpr.h's
 * hh_gdpr_retention_sweep with the live vector index following): one now
 * (hh_retention_sweep_live, for POST /api/retention/sweep) or one every
 * interval on a thread of its own (hh_retention_sweeper_t). */
#ifndef HH_GOVERN_SWEEPER_H
#define HH_GOVERN_SWEEPER_H

#include "base/err.h"
#include "govern/gdpr.h"
#include "kb/dense.h"
#include "store/store.h"

#include <stddef.h>

/* One sweep under the index's lock (kb/dense.h): the chunk ids of every
 * document are noted, hh_gdpr_retention_sweep runs, and the vectors of the
 * documents it deleted leave the live index (also after a partial sweep;
 * *removed: how many). Each log line of the sweep goes to base/log.h;
 * *log_text (may be NULL) gets them all, malloc'd, "\n"-separated (caller
 * frees; NULL when none could be kept). *res: the sweep's counts. sp:
 * the sweep's settings (NULL: hh_gdpr_sweep_default_params()). The
 * sweep's errors. */
int hh_retention_sweep_live(hh_store_t *store, hh_kb_dense_t *kb, const hh_gdpr_sweep_params_t *sp,
                            hh_gdpr_sweep_result_t *res, size_t *removed, char **log_text, hh_err_t *err);

typedef struct hh_retention_sweeper hh_retention_sweeper_t;

/* Starts a thread that runs hh_retention_sweep_live every interval_s
 * seconds, the first after min(interval_s, 10 s), with settings sp
 * (copied; NULL: the defaults); store and kb are borrowed and must
 * outlive it. interval_s <= 0: no thread (*out NULL,
 * 0). HH_ENOMEM when the thread cannot start. */
int  hh_retention_sweeper_start(hh_retention_sweeper_t **out, hh_store_t *store, hh_kb_dense_t *kb, int interval_s,
                                const hh_gdpr_sweep_params_t *sp, hh_err_t *err);
/* Wakes and joins the thread (a sweep under way finishes first) and frees
 * it. NULL is a no-op. */
void hh_retention_sweeper_stop(hh_retention_sweeper_t *sw);

#endif
