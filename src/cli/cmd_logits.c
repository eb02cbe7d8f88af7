/* cmd_logits.c - `hoheit logits`: evaluates token ids as one batch and
 * writes every position's logits, little-endian float32 [n_tokens x n_vocab]
 * (for evaluation against other engines and for tests); --exact computes in
 * F32 on the dequantized weights (tier A of the reference tests), --check
 * compares with a reference set (refcheck.c). */
#include "cli/cmd.h"
#include "cli/refcheck.h"
#include "base/err.h"
#include "model/model.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void logits_usage(FILE *f)
{
    fprintf(f,
            "usage: hoheit logits -m MODEL --tokens ID,ID,... --out FILE [-t THREADS] [--kv f16|f32] [--exact]\n"
            "       hoheit logits --check REF.tokens.json [-m MODEL] [-t THREADS] [--kv f16|f32] [--exact]\n"
            "  evaluates the ids as one batch and writes the logits of every position\n"
            "  as little-endian float32 [n_tokens x n_vocab] to FILE.\n"
            "  --exact   F32 math on the exact dequantized weights (tier A of the\n"
            "            reference tests), F32 KV cache unless --kv says otherwise;\n"
            "            default: 8-bit activations and integer dots, as llama.cpp\n"
            "  --check   run a reference set's input ids (model: the JSON's, next to\n"
            "            it, or -m) and compare with llama.cpp's logits.f32 (tier B)\n"
            "            or, with --exact, logits_deq.f32 (tier A); mixture-of-experts\n"
            "            rows llama.cpp rerouted are left out and named. KV cache f32\n"
            "            unless --kv. Exit 0 within the JSON's tolerance, 1 outside.\n");
}

/* Parses "1,2,3" into a malloc'd array; returns count or -1. */
static int parse_ids(const char *s, int32_t **out)
{
    int cap = 16, n = 0;
    int32_t *ids = malloc(sizeof *ids * (size_t)cap);
    if (ids == NULL) return -1;
    const char *p = s;
    while (*p) {
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno != 0 || v < INT32_MIN || v > INT32_MAX || (*end != ',' && *end != '\0'))
            goto fail;
        if (n == cap) {
            if (cap > (1 << 24)) goto fail;
            int32_t *grown = realloc(ids, sizeof *ids * (size_t)cap * 2);
            if (grown == NULL) goto fail;
            ids = grown;
            cap *= 2;
        }
        ids[n++] = (int32_t)v;
        p = *end == ',' ? end + 1 : end;
    }
    if (n == 0) goto fail;
    *out = ids;
    return n;
fail:
    free(ids);
    return -1;
}

/* Writes n floats little-endian, independent of the host's byte order. */
static int write_f32_le(FILE *f, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &x[i], 4);
        unsigned char b[4] = { (unsigned char)u, (unsigned char)(u >> 8), (unsigned char)(u >> 16),
                               (unsigned char)(u >> 24) };
        if (fwrite(b, 1, 4, f) != 4) return -1;
    }
    return 0;
}

int hh_cmd_logits(int argc, char **argv)
{
    const char *model_path = NULL, *tokens = NULL, *out_path = NULL, *check = NULL;
    int threads = 0;
    hh_kv_type_t kv = HH_KV_F16;
    bool kv_given = false, exact = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has_val = i + 1 < argc;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            logits_usage(stdout);
            return 0;
        } else if ((!strcmp(a, "-m") || !strcmp(a, "--model")) && has_val) {
            model_path = argv[++i];
        } else if (!strcmp(a, "--tokens") && has_val) {
            tokens = argv[++i];
        } else if ((!strcmp(a, "--out") || !strcmp(a, "-o")) && has_val) {
            out_path = argv[++i];
        } else if ((!strcmp(a, "-t") || !strcmp(a, "--threads")) && has_val) {
            char *end;
            long v = strtol(argv[++i], &end, 10);
            if (*end != '\0' || v < 1 || v > 1024) {
                fprintf(stderr, "hoheit logits: bad thread count '%s'\n", argv[i]);
                return 2;
            }
            threads = (int)v;
        } else if (!strcmp(a, "--kv") && has_val) {
            const char *k = argv[++i];
            if (!strcmp(k, "f16")) kv = HH_KV_F16;
            else if (!strcmp(k, "f32")) kv = HH_KV_F32;
            else {
                fprintf(stderr, "hoheit logits: --kv takes f16 or f32, not '%s'\n", k);
                return 2;
            }
            kv_given = true;
        } else if (!strcmp(a, "--exact")) {
            exact = true;
        } else if (!strcmp(a, "--check") && has_val) {
            check = argv[++i];
        } else {
            fprintf(stderr, "hoheit logits: unknown or incomplete option '%s'\n", a);
            logits_usage(stderr);
            return 2;
        }
    }
    /* exact math and reference checks default to an F32 KV cache (the
     * reference runs used one) */
    if (!kv_given && (exact || check != NULL)) kv = HH_KV_F32;
    if (check != NULL) {
        if (tokens != NULL || out_path != NULL) {
            fprintf(stderr, "hoheit logits: --check takes its ids from the reference; drop --tokens/--out\n");
            return 2;
        }
        hh_refcheck_opts_t o = { .json_path = check, .model_path = model_path, .threads = threads,
                                 .exact = exact, .kv = kv };
        return hh_refcheck_run(&o);
    }
    if (model_path == NULL || tokens == NULL || out_path == NULL) {
        logits_usage(stderr);
        return 2;
    }
    int32_t *ids = NULL;
    int n = parse_ids(tokens, &ids);
    if (n < 0) {
        fprintf(stderr, "hoheit logits: --tokens must be comma-separated integers\n");
        return 2;
    }

    int status = 1;
    hh_model_t *m = NULL;
    hh_ctx_t *c = NULL;
    bool *want = NULL;
    FILE *f = NULL;
    hh_err_t e;
    hh_err_clear(&e);
    char buf[640];
    if (hh_model_load(&m, model_path, NULL, &e) != HH_OK) {
        fprintf(stderr, "hoheit logits: %s: %s\n", model_path, hh_err_describe(&e, buf, sizeof buf));
        goto cleanup;
    }
    hh_ctx_params_t cp = hh_ctx_default_params();
    cp.n_ctx = n;
    cp.n_batch = n;
    cp.n_threads = threads;
    cp.kv_type = kv;
    cp.exact = exact;
    if (hh_ctx_create(&c, m, &cp, &e) != HH_OK) {
        fprintf(stderr, "hoheit logits: %s\n", hh_err_describe(&e, buf, sizeof buf));
        goto cleanup;
    }
    want = malloc(sizeof *want * (size_t)n);
    if (want == NULL) {
        fprintf(stderr, "hoheit logits: out of memory\n");
        goto cleanup;
    }
    for (int i = 0; i < n; i++) want[i] = true;
    hh_batch_t b = { .n_tokens = n, .tokens = ids, .seq = NULL, .logits = want };
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (hh_ctx_decode(c, &b, &e) != HH_OK) {
        fprintf(stderr, "hoheit logits: %s\n", hh_err_describe(&e, buf, sizeof buf));
        goto cleanup;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;

    const int32_t n_vocab = hh_model_hparams(m)->n_vocab;
    f = fopen(out_path, "wb");
    if (f == NULL) {
        fprintf(stderr, "hoheit logits: cannot create %s: %s\n", out_path, strerror(errno));
        goto cleanup;
    }
    for (int i = 0; i < n; i++) {
        if (write_f32_le(f, hh_ctx_logits(c, i), (size_t)n_vocab) != 0) {
            fprintf(stderr, "hoheit logits: write to %s failed\n", out_path);
            goto cleanup;
        }
    }
    if (fclose(f) != 0) {
        f = NULL;
        fprintf(stderr, "hoheit logits: write to %s failed: %s\n", out_path, strerror(errno));
        goto cleanup;
    }
    f = NULL;
    fprintf(stderr, "logits: %d tokens x %d vocab -> %s (%s, %s, kv %s, %.1f ms, %.1f tok/s)\n",
            n, n_vocab, out_path, hh_model_hparams(m)->arch_name, exact ? "exact" : "default math",
            kv == HH_KV_F16 ? "f16" : "f32",
            ms, ms > 0 ? n * 1e3 / ms : 0.0);
    status = 0;
cleanup:
    if (f != NULL) fclose(f);
    free(want);
    free(ids);
    hh_ctx_free(c);
    hh_model_free(m);
    return status;
}
