/* threadpool.h - a fixed pool of worker threads for data-parallel kernels.
 *
 * hh_pool_run(pool, fn, ctx) calls fn(ctx, ith, nth) once for every ith in
 * [0, nth) — the caller runs ith 0 itself — and returns when all calls have
 * finished. Workers spin briefly after a job (decode steps come back-to-back)
 * and then sleep on a condition variable, so an idle server burns no CPU.
 * A pool serves one hh_pool_run at a time; callers serialize. */
#ifndef HH_BASE_THREADPOOL_H
#define HH_BASE_THREADPOOL_H

typedef struct hh_pool hh_pool_t;
typedef void (*hh_pool_fn)(void *ctx, int ith, int nth);

/* Creates a pool of n_threads (>= 1; the caller counts as one, so
 * n_threads - 1 workers are started). Caller owns *out; free with
 * hh_pool_free. Returns 0 or HH_EINVAL / HH_ENOMEM. */
int  hh_pool_create(hh_pool_t **out, int n_threads);
void hh_pool_free(hh_pool_t *pool);
int  hh_pool_size(const hh_pool_t *pool);

/* Runs fn on all threads and waits. pool may be NULL: fn(ctx, 0, 1). */
void hh_pool_run(hh_pool_t *pool, hh_pool_fn fn, void *ctx);

/* Splits [0, n) into nth near-equal contiguous ranges, aligned to `align`
 * items (>= 1); writes thread ith's range to [*lo, *hi). */
void hh_pool_split(long n, int ith, int nth, long align, long *lo, long *hi);

#endif
