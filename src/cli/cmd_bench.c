/* cmd_bench.c - `hoheit bench`: prefill (pp) and decode (tg) speed, measured
 * like llama-bench: each test runs once to warm up, then REPS times on a
 * fresh sequence; tokens per second as mean ± sample stddev. */
#include "cli/cmd.h"
#include "base/cpu.h"
#include "base/log.h"
#include "model/model.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define MAX_LIST 16

struct bench_opts {
    const char *models[MAX_LIST];
    int         n_models;
    int         pp[MAX_LIST], n_pp;
    int         tg[MAX_LIST], n_tg;
    int         threads[MAX_LIST], n_threads;
    int         reps;
    bool        json;
    hh_model_params_t mparams;
    hh_kv_type_t kv;
};

static void bench_usage(FILE *f)
{
    fprintf(f,
        "usage: hoheit bench -m MODEL [-m MODEL...] [options]\n"
        "  -p N[,N...]     prompt lengths for prefill tests (default 512; 0 skips)\n"
        "  -n N[,N...]     generated tokens for decode tests (default 128; 0 skips)\n"
        "  -t T[,T...]     thread counts (default: number of cores)\n"
        "  -r REPS         repetitions per test (default 5)\n"
        "  --json          one JSON object per line and test\n"
        "  --mmap          map the weights (default: read into memory)\n"
        "  --mlock         lock the weights in memory\n"
        "  --kv f16|f32    KV cache type (default f16)\n");
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Parses "1,2,4" into out; returns count or -1. Values must be in [lo, hi]. */
static int parse_list(const char *s, int *out, int lo, int hi)
{
    int n = 0;
    while (*s) {
        char *end;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (end == s || errno || v < lo || v > hi || n >= MAX_LIST)
            return -1;
        out[n++] = (int)v;
        s = end;
        if (*s == ',') s++;
        else if (*s) return -1;
    }
    return n;
}

static long peak_rss_kb(void)
{
    struct rusage ru;
    return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss : -1;
}

/* Runs one test once: n_prompt tokens in one batch (pp) or n_gen single-token
 * decodes (tg), on a cleared sequence. Returns seconds or a negative code. */
static double run_once(hh_ctx_t *c, int n_vocab, int n_prompt, int n_gen, int32_t *toks, hh_err_t *err)
{
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    int n = n_prompt > 0 ? n_prompt : n_gen;
    for (int i = 0; i < n; i++) {
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        toks[i] = (int32_t)((rng >> 33) % (uint64_t)n_vocab);
    }
    if (hh_ctx_seq_truncate(c, 0, 0) != 0)
        return HH_ESTATE;
    double t0 = now_s();
    if (n_prompt > 0) {
        hh_batch_t b = { .n_tokens = n_prompt, .tokens = toks };
        int rc = hh_ctx_decode(c, &b, err);
        if (rc) return rc;
    } else {
        for (int i = 0; i < n_gen; i++) {
            hh_batch_t b = { .n_tokens = 1, .tokens = &toks[i] };
            int rc = hh_ctx_decode(c, &b, err);
            if (rc) return rc;
        }
    }
    return now_s() - t0;
}

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

static int bench_model(const struct bench_opts *o, const char *path)
{
    hh_err_t err;
    hh_err_clear(&err);
    char ebuf[700];
    hh_model_t *m = NULL;
    int rc = hh_model_load(&m, path, &o->mparams, &err);
    if (rc) {
        fprintf(stderr, "hoheit bench: %s: %s\n", path, hh_err_describe(&err, ebuf, sizeof ebuf));
        return 1;
    }
    const hh_hparams_t *hp = hh_model_hparams(m);
    int max_pp = 1, max_tg = 1;
    for (int i = 0; i < o->n_pp; i++) if (o->pp[i] > max_pp) max_pp = o->pp[i];
    for (int i = 0; i < o->n_tg; i++) if (o->tg[i] > max_tg) max_tg = o->tg[i];
    int n_ctx = (max_pp > max_tg ? max_pp : max_tg) + 8;
    int32_t *toks = malloc(sizeof(int32_t) * (size_t)(max_pp > max_tg ? max_pp : max_tg));
    if (toks == NULL) {
        hh_model_free(m);
        fprintf(stderr, "hoheit bench: out of memory\n");
        return 1;
    }
    int status = 0;
    for (int ti = 0; ti < o->n_threads && status == 0; ti++) {
        hh_ctx_params_t cp = hh_ctx_default_params();
        cp.n_ctx = n_ctx;
        cp.n_batch = max_pp;
        cp.n_threads = o->threads[ti];
        cp.kv_type = o->kv;
        hh_ctx_t *c = NULL;
        if ((rc = hh_ctx_create(&c, m, &cp, &err)) != 0) {
            fprintf(stderr, "hoheit bench: %s\n", hh_err_describe(&err, ebuf, sizeof ebuf));
            status = 1;
            break;
        }
        for (int kind = 0; kind < 2 && status == 0; kind++) {
            int n_tests = kind == 0 ? o->n_pp : o->n_tg;
            for (int k = 0; k < n_tests && status == 0; k++) {
                int np = kind == 0 ? o->pp[k] : 0, ng = kind == 0 ? 0 : o->tg[k];
                if (np + ng == 0) continue;
                double sum = 0, sum2 = 0;
                for (int r = -1; r < o->reps; r++) {   /* r = -1: warm-up */
                    double s = run_once(c, hp->n_vocab, np, ng, toks, &err);
                    if (s < 0) {
                        fprintf(stderr, "hoheit bench: %s\n", hh_err_describe(&err, ebuf, sizeof ebuf));
                        status = 1;
                        break;
                    }
                    if (r < 0) continue;
                    double ts = (np + ng) / s;
                    sum += ts;
                    sum2 += ts * ts;
                }
                if (status) break;
                double avg = sum / o->reps;
                double sd = o->reps > 1 ? sqrt(fmax(0.0, (sum2 - sum * avg) / (o->reps - 1))) : 0.0;
                char test[32];
                snprintf(test, sizeof test, "%s%d", np ? "pp" : "tg", np ? np : ng);
                if (o->json) {
                    cJSON *j = cJSON_CreateObject();
                    cJSON_AddStringToObject(j, "model", base_name(path));
                    cJSON_AddNumberToObject(j, "model_size", (double)hh_gguf_file_size(hh_model_gguf(m)));
                    cJSON_AddNumberToObject(j, "threads", o->threads[ti]);
                    cJSON_AddStringToObject(j, "test", test);
                    cJSON_AddNumberToObject(j, "avg_ts", avg);
                    cJSON_AddNumberToObject(j, "stddev_ts", sd);
                    cJSON_AddNumberToObject(j, "reps", o->reps);
                    cJSON_AddStringToObject(j, "isa", hh_isa_name(hh_cpu_isa()));
                    cJSON_AddNumberToObject(j, "weight_bytes", (double)hh_model_weight_bytes(m));
                    cJSON_AddNumberToObject(j, "peak_rss_kb", (double)peak_rss_kb());
                    char *s = cJSON_PrintUnformatted(j);
                    if (s) puts(s);
                    free(s);
                    cJSON_Delete(j);
                } else {
                    printf("| %-32s | %8.2f MiB | %-6s | %7d | %8s | %9.2f ± %6.2f |\n", base_name(path),
                           hh_gguf_file_size(hh_model_gguf(m)) / 1048576.0, hh_isa_name(hh_cpu_isa()),
                           o->threads[ti], test, avg, sd);
                }
                fflush(stdout);
            }
        }
        hh_ctx_free(c);
    }
    if (!o->json && status == 0)
        fprintf(stderr, "hoheit bench: peak RSS %.1f MiB\n", peak_rss_kb() / 1024.0);
    free(toks);
    hh_model_free(m);
    return status;
}

int hh_cmd_bench(int argc, char **argv)
{
    struct bench_opts o;
    memset(&o, 0, sizeof o);
    o.pp[0] = 512; o.n_pp = 1;
    o.tg[0] = 128; o.n_tg = 1;
    o.threads[0] = hh_cpu()->n_cores; o.n_threads = 1;
    o.reps = 5;
    o.mparams = hh_model_default_params();
    o.mparams.load = HH_GGUF_LOAD_READ;
    o.kv = HH_KV_F16;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { bench_usage(stdout); return 0; }
        else if (!strcmp(a, "--json")) o.json = true;
        else if (!strcmp(a, "--mmap")) o.mparams.load = HH_GGUF_LOAD_MMAP;
        else if (!strcmp(a, "--no-mmap")) o.mparams.load = HH_GGUF_LOAD_READ;
        else if (!strcmp(a, "--mlock")) o.mparams.mlock = true;
        else if (v == NULL) { fprintf(stderr, "hoheit bench: %s needs a value\n", a); return 2; }
        else if (!strcmp(a, "-m")) {
            if (o.n_models >= MAX_LIST) { fprintf(stderr, "hoheit bench: too many models\n"); return 2; }
            o.models[o.n_models++] = v; i++;
        } else if (!strcmp(a, "-p") || !strcmp(a, "-n") || !strcmp(a, "-t")) {
            int *dst = a[1] == 'p' ? o.pp : a[1] == 'n' ? o.tg : o.threads;
            int *cnt = a[1] == 'p' ? &o.n_pp : a[1] == 'n' ? &o.n_tg : &o.n_threads;
            int n = parse_list(v, dst, a[1] == 't' ? 1 : 0, a[1] == 't' ? 1024 : 1 << 20);
            if (n <= 0) { fprintf(stderr, "hoheit bench: bad list for %s: '%s'\n", a, v); return 2; }
            *cnt = n; i++;
        } else if (!strcmp(a, "-r")) {
            int r[1];
            if (parse_list(v, r, 1, 1000) != 1) { fprintf(stderr, "hoheit bench: bad -r '%s'\n", v); return 2; }
            o.reps = r[0]; i++;
        } else if (!strcmp(a, "--kv")) {
            if (!strcmp(v, "f16")) o.kv = HH_KV_F16;
            else if (!strcmp(v, "f32")) o.kv = HH_KV_F32;
            else { fprintf(stderr, "hoheit bench: --kv takes f16 or f32\n"); return 2; }
            i++;
        } else {
            fprintf(stderr, "hoheit bench: unknown option '%s'\n", a);
            bench_usage(stderr);
            return 2;
        }
    }
    if (o.n_models == 0) {
        bench_usage(stderr);
        return 2;
    }
    if (!o.json) {
        printf("| %-32s | %12s | %-6s | %7s | %8s | %18s |\n", "model", "size", "isa", "threads", "test", "t/s");
        printf("|%s|%s|%s|%s|%s|%s|\n", "----------------------------------", "--------------", "--------",
               "---------", "----------", "--------------------");
    }
    for (int i = 0; i < o.n_models; i++)
        if (bench_model(&o, o.models[i]) != 0)
            return 1;
    return 0;
}
