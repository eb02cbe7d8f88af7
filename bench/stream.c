/* stream.c - memory bandwidth ceiling, STREAM-like: read (sum), copy and
 * triad over arrays far larger than the caches, with 1..T threads. Prints
 * one JSON object per thread count: {"threads":T,"read_gbs":..,"copy_gbs":..,"triad_gbs":..}.
 * Decode speed is bounded by weight bytes per token / read bandwidth. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define N (64L * 1024 * 1024)   /* doubles per array: 512 MiB each */
#define REPS 5

static double *a, *b, *c;

struct job { int op, ith, nth; double sum; pthread_barrier_t *bar; };

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static void *work(void *arg)
{
    struct job *j = arg;
    long lo = N / j->nth * j->ith, hi = j->ith == j->nth - 1 ? N : N / j->nth * (j->ith + 1);
    double s = 0;
    if (j->op == 0) {
        /* eight independent sums: the loop is bound by loads, not by the add latency */
        double s8[8] = { 0 };
        long i = lo;
        for (; i + 8 <= hi; i += 8)
            for (int k = 0; k < 8; k++) s8[k] += a[i + k];
        for (; i < hi; i++) s8[0] += a[i];
        for (int k = 0; k < 8; k++) s += s8[k];
    } else if (j->op == 1) {
        memcpy(c + lo, a + lo, (size_t)(hi - lo) * sizeof(double));
    } else {
        for (long i = lo; i < hi; i++) a[i] = b[i] + 3.0 * c[i];
    }
    j->sum = s;
    return NULL;
}

static double run(int op, int nth)
{
    double best = 1e30;
    for (int r = 0; r < REPS; r++) {
        pthread_t th[64];
        struct job jobs[64];
        double t0 = now();
        for (int i = 0; i < nth; i++) {
            jobs[i] = (struct job){ op, i, nth, 0, NULL };
            pthread_create(&th[i], NULL, work, &jobs[i]);
        }
        double s = 0;
        for (int i = 0; i < nth; i++) { pthread_join(th[i], NULL); s += jobs[i].sum; }
        double t = now() - t0;
        if (s == 12345.678) printf(" ");   /* keep the read loop alive */
        if (t < best) best = t;
    }
    double bytes = (op == 0 ? 1 : op == 1 ? 2 : 3) * (double)N * sizeof(double);
    return bytes / best / 1e9;
}

int main(int argc, char **argv)
{
    int max_t = argc > 1 ? atoi(argv[1]) : 2;
    if (max_t < 1 || max_t > 64) max_t = 2;
    a = malloc(N * sizeof(double));
    b = malloc(N * sizeof(double));
    c = malloc(N * sizeof(double));
    if (!a || !b || !c) { fprintf(stderr, "stream: out of memory\n"); return 1; }
    for (long i = 0; i < N; i++) { a[i] = 1.0; b[i] = 2.0; c[i] = 0.5; }
    for (int t = 1; t <= max_t; t++)
        printf("{\"threads\":%d,\"read_gbs\":%.2f,\"copy_gbs\":%.2f,\"triad_gbs\":%.2f}\n",
               t, run(0, t), run(1, t), run(2, t));
    return 0;
}
