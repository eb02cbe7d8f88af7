/* threadpool.c - spin-then-sleep worker pool (see threadpool.h). */
#include "base/threadpool.h"
#include "base/err.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#elif defined(__aarch64__)
#define CPU_RELAX() __asm__ volatile("yield")
#else
#define CPU_RELAX() ((void)0)
#endif

/* Iterations a worker polls for the next job before it sleeps. About 50-100
 * microseconds: longer than the gap between two matrix ops of a decode step,
 * short enough that idle workers go to sleep at once. */
#define SPIN_ITERS 20000

struct worker {
    hh_pool_t *pool;
    int        ith;
    pthread_t  thread;
};

struct hh_pool {
    int            n_threads;
    struct worker *workers;           /* n_threads - 1 */
    hh_pool_fn     fn;
    void          *ctx;
    /* Cache-line separated: written by the caller vs. by the workers. */
    _Alignas(64) atomic_uint generation;   /* bumped once per job */
    _Alignas(64) atomic_int  pending;      /* workers still running the job */
    _Alignas(64) pthread_mutex_t mu;
    pthread_cond_t  cv;
    int             sleepers;
    bool            stop;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    hh_pool_t *p = w->pool;
    unsigned seen = 0;
    for (;;) {
        unsigned gen = atomic_load_explicit(&p->generation, memory_order_acquire);
        for (int i = 0; gen == seen && i < SPIN_ITERS; i++) {
            CPU_RELAX();
            gen = atomic_load_explicit(&p->generation, memory_order_acquire);
        }
        if (gen == seen) {
            pthread_mutex_lock(&p->mu);
            p->sleepers++;
            while ((gen = atomic_load_explicit(&p->generation, memory_order_acquire)) == seen && !p->stop)
                pthread_cond_wait(&p->cv, &p->mu);
            p->sleepers--;
            bool stop = p->stop;
            pthread_mutex_unlock(&p->mu);
            if (stop)
                return NULL;
        }
        seen = gen;
        p->fn(p->ctx, w->ith, p->n_threads);
        atomic_fetch_sub_explicit(&p->pending, 1, memory_order_acq_rel);
    }
}

int hh_pool_create(hh_pool_t **out, int n_threads)
{
    *out = NULL;
    if (n_threads < 1 || n_threads > 1024)
        return HH_EINVAL;
    hh_pool_t *p = calloc(1, sizeof *p);
    if (p == NULL)
        return HH_ENOMEM;
    p->n_threads = n_threads;
    atomic_init(&p->generation, 0);
    atomic_init(&p->pending, 0);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    if (n_threads > 1) {
        p->workers = calloc((size_t)n_threads - 1, sizeof *p->workers);
        if (p->workers == NULL) {
            hh_pool_free(p);
            return HH_ENOMEM;
        }
    }
    for (int i = 1; i < n_threads; i++) {
        struct worker *w = &p->workers[i - 1];
        w->pool = p;
        w->ith = i;
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
            p->n_threads = i;   /* only join what started */
            hh_pool_free(p);
            return HH_ENOMEM;
        }
    }
    *out = p;
    return HH_OK;
}

void hh_pool_free(hh_pool_t *p)
{
    if (p == NULL)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->n_threads; i++)
        pthread_join(p->workers[i - 1].thread, NULL);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p->workers);
    free(p);
}

int hh_pool_size(const hh_pool_t *p) { return p ? p->n_threads : 1; }

void hh_pool_run(hh_pool_t *p, hh_pool_fn fn, void *ctx)
{
    if (p == NULL || p->n_threads == 1) {
        fn(ctx, 0, 1);
        return;
    }
    p->fn = fn;
    p->ctx = ctx;
    atomic_store_explicit(&p->pending, p->n_threads - 1, memory_order_relaxed);
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add_explicit(&p->generation, 1, memory_order_release);
    if (p->sleepers > 0)
        pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    fn(ctx, 0, p->n_threads);
    /* Spin while the workers are likely running; when the machine is
     * oversubscribed a worker may be waiting for this very core, so yield. */
    for (int i = 0; atomic_load_explicit(&p->pending, memory_order_acquire) > 0; i++) {
        if (i < SPIN_ITERS)
            CPU_RELAX();
        else
            sched_yield();
    }
}

void hh_pool_split(long n, int ith, int nth, long align, long *lo, long *hi)
{
    if (align < 1) align = 1;
    long units = (n + align - 1) / align;
    long per = units / nth, extra = units % nth;
    long u0 = ith * per + (ith < extra ? ith : extra);
    long u1 = u0 + per + (ith < extra ? 1 : 0);
    *lo = u0 * align < n ? u0 * align : n;
    *hi = u1 * align < n ? u1 * align : n;
}
