/* bench_swa.c - memory of a long context on a Gemma-3-shape model: KV cache
 * bytes and resident memory after filling n_ctx positions, with the
 * sliding-window cache (local layers keep 2 * window + n_batch - 1 rows)
 * and with the window cache off (swa_full: every layer keeps every
 * position). Each configuration runs in its own process so resident
 * memory is not carried over.
 *
 * Model (written by tests/synth_model.c, random F32 weights): Gemma 3 4B's
 * attention shape, 8 query heads, 4 KV heads, head dim 256, window 1024,
 * every 6th layer global; 6 layers (5 local, 1 global), n_embd 256, n_ff
 * 512, vocabulary 512 (the weights are small so the KV cache dominates).
 *
 * build and run (docs/BENCHMARKS.md):
 *   make all && cc -O2 -std=c11 -D_GNU_SOURCE -Isrc -Itests bench/bench_swa.c tests/synth_model.c \
 *      build/libhoheit.a $(pkg-config --libs ...) -lm -pthread -o build/bench_swa
 *   build/bench_swa [-t THREADS] [--window-only | --full-only] [CTX ...]   (default 1024 4096 16384) */
#include "synth_model.h"
#include "model/model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define N_BATCH 512

/* VmRSS or VmHWM of this process in KiB (-1 unknown). */
static long status_kib(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL) return -1;
    char line[256];
    long v = -1;
    size_t n = strlen(field);
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, field, n) && line[n] == ':') v = strtol(line + n + 1, NULL, 10);
    fclose(f);
    return v;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* One configuration; prints a table row. Exit status 0 or 1. */
static int run_one(const char *path, int n_ctx, bool swa_full, int threads)
{
    hh_err_t e;
    hh_model_t *m = NULL;
    hh_model_params_t mp = hh_model_default_params();
    mp.load = HH_GGUF_LOAD_READ;
    if (hh_model_load(&m, path, &mp, &e) != HH_OK) { fprintf(stderr, "load: %s\n", e.msg); return 1; }
    long rss_model = status_kib("VmRSS");
    hh_ctx_params_t cp = hh_ctx_default_params();
    cp.n_ctx = n_ctx;
    cp.n_batch = N_BATCH;
    cp.n_threads = threads;
    cp.kv_type = HH_KV_F16;
    cp.swa_full = swa_full;
    hh_ctx_t *c = NULL;
    if (hh_ctx_create(&c, m, &cp, &e) != HH_OK) { fprintf(stderr, "ctx: %s\n", e.msg); return 1; }
    int32_t ids[N_BATCH];
    double t0 = now_s();
    for (int pos = 0; pos < n_ctx; pos += N_BATCH) {
        int n = n_ctx - pos < N_BATCH ? n_ctx - pos : N_BATCH;
        for (int i = 0; i < n; i++) ids[i] = 3 + (int32_t)((pos + i) * 7919u % 509u);
        hh_batch_t b = { .n_tokens = n, .tokens = ids };
        if (hh_ctx_decode(c, &b, &e) != HH_OK) { fprintf(stderr, "decode: %s\n", e.msg); return 1; }
    }
    double secs = now_s() - t0;
    long rss = status_kib("VmRSS"), hwm = status_kib("VmHWM");
    printf("| %6d | %-13s | %9.1f | %13.1f | %8.1f | %6.1f |\n", n_ctx, swa_full ? "off (full)" : "on",
           hh_ctx_kv_bytes(c) / 1048576.0, (rss - rss_model) / 1024.0, hwm / 1024.0, secs);
    fflush(stdout);
    hh_ctx_free(c);
    hh_model_free(m);
    return 0;
}

int main(int argc, char **argv)
{
    int threads = 2, ctxs[8], n_ctxs = 0, full_lo = 0, full_hi = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-t") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--window-only")) full_hi = 0;
        else if (!strcmp(argv[i], "--full-only")) full_lo = 1;
        else if (n_ctxs < 8 && atoi(argv[i]) > 0) ctxs[n_ctxs++] = atoi(argv[i]);
        else { fprintf(stderr, "usage: bench_swa [-t THREADS] [--window-only | --full-only] [CTX ...]\n"); return 2; }
    }
    if (n_ctxs == 0) { ctxs[0] = 1024; ctxs[1] = 4096; ctxs[2] = 16384; n_ctxs = 3; }

    char path[] = "/tmp/bench_swa_XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) { perror("mkstemp"); return 1; }
    close(fd);
    synth_model_t s = synth_model_defaults("gemma3");
    s.n_embd = 256;
    s.n_ff = 512;
    s.n_head = 8;
    s.n_head_kv = 4;
    s.head_dim = 256;
    s.n_layer = 6;
    s.n_ctx_train = 131072;
    s.swa = 1024;
    s.swa_period = 6;
    hh_err_t e;
    if (synth_model_write(&s, path, &e) != HH_OK) { fprintf(stderr, "write: %s\n", e.msg); remove(path); return 1; }

    printf("Gemma-3-shape: 6 layers (5 local, window 1024, 1 global), 8 heads / 4 KV heads x 256, F16 KV, "
           "batch %d, %d threads\n\n", N_BATCH, threads);
    printf("| n_ctx  | window cache  | KV MiB    | RSS growth MiB | peak MiB | fill s |\n");
    printf("|--------|---------------|-----------|----------------|----------|--------|\n");
    fflush(stdout);
    int fails = 0;
    for (int k = 0; k < n_ctxs; k++) {
        for (int full = full_lo; full <= full_hi; full++) {
            pid_t pid = fork();
            if (pid == 0) _exit(run_one(path, ctxs[k], full, threads));
            int st = 0;
            if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) fails++;
        }
    }
    remove(path);
    return fails ? 1 : 0;
}
