/* test_refcheck.c - `hoheit logits --exact` and `hoheit logits --check
 * REF.tokens.json`, run through the built binary ($HOHEIT_BIN) on reference
 * models of ../shared/testdata/reference: the exit code, the rows compared
 * (mixture-of-experts rows llama.cpp rerouted are left out and named), the
 * printed max abs / rel L2 (checked against the tolerance and, for --exact,
 * against the same comparison made here in-process), and a tampered
 * reference that must fail. */
#include "harness.h"
#include "model/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* One CLI run: exit status and stdout. */
typedef struct run {
    int  status;       /* exit code; -1 when it did not exit normally */
    char out[8192];
} run_t;

static bool cli(run_t *r, const char *args)
{
    const char *bin = getenv("HOHEIT_BIN");
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s' logits %s -t 1 2>&1", bin, args);
    FILE *p = popen(cmd, "r");
    if (p == NULL) return false;
    size_t n = fread(r->out, 1, sizeof r->out - 1, p);
    r->out[n] = '\0';
    int st = pclose(p);
    r->status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    printf("    $ hoheit logits %s -> %d\n%s", args, r->status, r->out);
    return true;
}

/* The figures of the line starting with "  WHAT rows 0-": rows compared,
 * total, max abs, rel L2; false when there is no such line. */
static bool figures(const run_t *r, const char *what, int *rows, int *total, double *max_abs, double *rel_l2)
{
    char key[128];
    snprintf(key, sizeof key, "\n  %s rows 0-", what);
    const char *p = strstr(r->out, key);
    if (p == NULL) return false;
    int last;
    if (sscanf(p + strlen(key), "%d of %d: max abs %lf rel L2 %lf", &last, total, max_abs, rel_l2) != 4)
        return false;
    *rows = last + 1;
    return true;
}

static const char *ref(const char *file) { return hh_test_data_path(file); }

static bool has(const run_t *r, const char *s) { return strstr(r->out, s) != NULL; }

#define NEED_BIN() do { if (getenv("HOHEIT_BIN") == NULL) SKIP("HOHEIT_BIN not set"); } while (0)

/* llama-q4_k_m: tier A (--exact against logits_deq.f32) matches to ~1e-5
 * and the printed max abs is the one computed here with the engine's exact
 * path; tier B (llama.cpp's logits.f32) is within its 1.5 / 0.07. */
TEST(refcheck_llama_q4_k_m_tiers)
{
    NEED_BIN();
    run_t a, b;
    char args[2048];
    snprintf(args, sizeof args, "--check '%s' --exact", ref("reference/llama-q4_k_m.tokens.json"));
    ASSERT_TRUE(cli(&a, args));
    ASSERT_EQ_INT(a.status, 0);
    int rows, total;
    double mx, rl;
    ASSERT_TRUE(figures(&a, "inputs", &rows, &total, &mx, &rl));
    ASSERT_EQ_INT(rows, 24);
    ASSERT_EQ_INT(total, 24);
    ASSERT_LE(mx, 1e-4);
    ASSERT_LE(rl, 1e-5);
    ASSERT_TRUE(has(&a, "  greedy: 5 of 5 ids match (greedy_prefix 5) pass"));
    ASSERT_TRUE(has(&a, "kv f32"));
    double tmx, trl;
    ASSERT_TRUE(figures(&a, "teacher-forced greedy", &rows, &total, &tmx, &trl));
    ASSERT_EQ_INT(rows, 32);
    ASSERT_LE(tmx, 1e-4);
    ASSERT_TRUE(has(&a, "refcheck: pass"));

    /* the same comparison in-process: exact F32 context against logits_deq */
    hh_model_t *m = NULL;
    hh_err_t e;
    ASSERT_OK(hh_model_load(&m, ref("reference/llama-q4_k_m.gguf"), NULL, &e));
    hh_ctx_params_t cp = hh_ctx_default_params();
    cp.n_ctx = 64;
    cp.n_batch = 24;
    cp.n_threads = 1;
    cp.kv_type = HH_KV_F32;
    cp.exact = true;
    hh_ctx_t *c = NULL;
    ASSERT_OK(hh_ctx_create(&c, m, &cp, &e));
    const int32_t ids[24] = { 1,   501, 500, 505, 196, 90,  472, 56,  136, 73,  165, 275,
                              63,  408, 126, 403, 165, 406, 493, 490, 137, 285, 227, 132 };   /* input_ids */
    bool want[24];
    for (int i = 0; i < 24; i++) want[i] = true;
    hh_batch_t batch = { .n_tokens = 24, .tokens = ids, .logits = want };
    size_t size = 0;
    float *deq = hh_test_read_file(ref("reference/llama-q4_k_m.logits_deq.f32"), &size);
    int rc = hh_ctx_decode(c, &batch, &e);
    double here = 0;
    for (int i = 0; rc == HH_OK && deq && size == 24 * 512 * sizeof(float) && i < 24; i++)
        for (int v = 0; v < 512; v++)
            here = fmax(here, fabs((double)hh_ctx_logits(c, i)[v] - deq[i * 512 + v]));
    free(deq);
    hh_ctx_free(c);
    hh_model_free(m);
    ASSERT_OK(rc);
    ASSERT_EQ_INT(size, 24 * 512 * sizeof(float));
    ASSERT_NEAR(mx, here, here * 0.01);   /* printed with 3 digits */

    snprintf(args, sizeof args, "--check '%s'", ref("reference/llama-q4_k_m.tokens.json"));
    ASSERT_TRUE(cli(&b, args));
    ASSERT_EQ_INT(b.status, 0);
    ASSERT_TRUE(figures(&b, "inputs", &rows, &total, &mx, &rl));
    ASSERT_EQ_INT(rows, 24);
    ASSERT_LE(mx, 1.5);
    ASSERT_LE(rl, 0.07);
    ASSERT_TRUE(has(&b, "(limit 1.5 / 0.07) pass"));
    ASSERT_TRUE(has(&b, "tier B"));
}

/* qwen3moe-q8_0: llama.cpp rerouted inputs 9, 17, 18, so tier B compares
 * rows 0-8 and names the rest; the exact path routes as the _deq run and
 * compares all 24; with an F16 KV cache only f16kv_compare_positions (1). */
TEST(refcheck_qwen3moe_rerouted_rows)
{
    NEED_BIN();
    run_t r;
    char args[2048];
    int rows, total;
    double mx, rl;
    snprintf(args, sizeof args, "--check '%s'", ref("reference/qwen3moe-q8_0.tokens.json"));
    ASSERT_TRUE(cli(&r, args));
    ASSERT_EQ_INT(r.status, 0);
    ASSERT_TRUE(figures(&r, "inputs", &rows, &total, &mx, &rl));
    ASSERT_EQ_INT(rows, 9);
    ASSERT_EQ_INT(total, 24);
    ASSERT_LE(mx, 1.5);
    ASSERT_TRUE(has(&r, "llama.cpp rerouted input positions: 9 17 18; greedy rows: 14"));
    ASSERT_TRUE(has(&r, "skipped input rows 9-23: from llama.cpp's first rerouted position on"));
    ASSERT_TRUE(has(&r, "  teacher-forced greedy: none of 32 compared"));

    snprintf(args, sizeof args, "--check '%s' --exact", ref("reference/qwen3moe-q8_0.tokens.json"));
    ASSERT_TRUE(cli(&r, args));
    ASSERT_EQ_INT(r.status, 0);
    ASSERT_TRUE(figures(&r, "inputs", &rows, &total, &mx, &rl));
    ASSERT_EQ_INT(rows, 24);
    ASSERT_LE(mx, 1e-4);
    ASSERT_TRUE(has(&r, "every row compared"));

    snprintf(args, sizeof args, "--check '%s' --exact --kv f16", ref("reference/qwen3moe-q8_0.tokens.json"));
    ASSERT_TRUE(cli(&r, args));
    ASSERT_EQ_INT(r.status, 0);
    ASSERT_TRUE(figures(&r, "inputs", &rows, &total, &mx, &rl));
    ASSERT_EQ_INT(rows, 1);
    ASSERT_LE(mx, 0.03);
    ASSERT_TRUE(has(&r, "skipped input rows 1-23: from the first router margin <= 0.003 on"));

    /* q4_k_m: no reroute, every row in both tiers, 30 greedy ids exact */
    snprintf(args, sizeof args, "--check '%s'", ref("reference/qwen3moe-q4_k_m.tokens.json"));
    ASSERT_TRUE(cli(&r, args));
    ASSERT_EQ_INT(r.status, 0);
    ASSERT_TRUE(figures(&r, "inputs", &rows, &total, &mx, &rl));
    ASSERT_EQ_INT(rows, 24);
    ASSERT_LE(mx, 1.5);
    ASSERT_TRUE(has(&r, "rerouted input positions: none; greedy rows: none"));
    snprintf(args, sizeof args, "--check '%s' --exact", ref("reference/qwen3moe-q4_k_m.tokens.json"));
    ASSERT_TRUE(cli(&r, args));
    ASSERT_EQ_INT(r.status, 0);
    ASSERT_TRUE(has(&r, "  greedy: 30 of 30 ids match"));
}

/* gemma3-q8_0: 40 inputs (past the window of 8), both tiers. */
TEST(refcheck_gemma3_q8_0)
{
    NEED_BIN();
    run_t r;
    char args[2048];
    int rows, total;
    double mx, rl;
    snprintf(args, sizeof args, "--check '%s' --exact", ref("reference/gemma3-q8_0.tokens.json"));
    ASSERT_TRUE(cli(&r, args));
    ASSERT_EQ_INT(r.status, 0);
    ASSERT_TRUE(figures(&r, "inputs", &rows, &total, &mx, &rl));
    ASSERT_EQ_INT(rows, 40);
    ASSERT_LE(mx, 0.05);
    ASSERT_LE(rl, 0.002);
    ASSERT_TRUE(has(&r, "(gemma3)"));
    snprintf(args, sizeof args, "--check '%s'", ref("reference/gemma3-q8_0.tokens.json"));
    ASSERT_TRUE(cli(&r, args));
    ASSERT_EQ_INT(r.status, 0);
    ASSERT_TRUE(figures(&r, "inputs", &rows, &total, &mx, &rl));
    ASSERT_EQ_INT(rows, 40);
    ASSERT_LE(mx, 2.0);
    ASSERT_LE(rl, 0.1);
}

/* Copies reference/NAME.* (JSON and logits) into dir. */
static bool copy_ref(const char *dir, const char *name, const char *suffix)
{
    char src[1024], dst[1024];
    snprintf(src, sizeof src, "reference/%s%s", name, suffix);
    snprintf(dst, sizeof dst, "%s/%s%s", dir, name, suffix);
    size_t size;
    char *d = hh_test_read_file(hh_test_data_path(src), &size);
    FILE *f = d ? fopen(dst, "wb") : NULL;
    bool ok = f && fwrite(d, 1, size, f) == size;
    if (f && fclose(f) != 0) ok = false;
    free(d);
    return ok;
}

/* Adds delta to float idx of dir/file. */
static bool tamper(const char *dir, const char *file, size_t idx, float delta)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    FILE *f = fopen(path, "r+b");
    float v;
    bool ok = f && fseek(f, (long)(idx * 4), SEEK_SET) == 0 && fread(&v, 4, 1, f) == 1;
    v += delta;
    ok = ok && fseek(f, (long)(idx * 4), SEEK_SET) == 0 && fwrite(&v, 4, 1, f) == 1;
    if (f && fclose(f) != 0) ok = false;
    return ok;
}

/* A reference whose logits file has one value moved by 40 fails the check
 * (exit 1, the printed max abs is that 40); moved in a row that tier B skips
 * because llama.cpp rerouted it, it does not matter. Missing files and
 * mixed options are refused. */
TEST(refcheck_tampered_reference_fails)
{
    NEED_BIN();
    const char *dir = hh_test_tmpdir();
    static const char *const sfx[] = { ".tokens.json", ".logits.f32", ".greedy_logits.f32", ".logits_deq.f32",
                                       ".greedy_logits_deq.f32" };
    for (size_t i = 0; i < sizeof sfx / sizeof sfx[0]; i++) {
        ASSERT_TRUE(copy_ref(dir, "llama-q4_k_m", sfx[i]));
        ASSERT_TRUE(copy_ref(dir, "qwen3moe-q8_0", sfx[i]));
    }
    run_t r;
    char args[4096];
    int rows, total;
    double mx, rl;
    /* intact copy with -m: passes */
    snprintf(args, sizeof args, "--check '%s/llama-q4_k_m.tokens.json' -m '%s' --exact", dir,
             ref("reference/llama-q4_k_m.gguf"));
    ASSERT_TRUE(cli(&r, args));
    ASSERT_EQ_INT(r.status, 0);

    ASSERT_TRUE(tamper(dir, "llama-q4_k_m.logits_deq.f32", 7 * 512 + 100, 40.0f));
    ASSERT_TRUE(cli(&r, args));
    ASSERT_EQ_INT(r.status, 1);
    ASSERT_TRUE(figures(&r, "inputs", &rows, &total, &mx, &rl));
    ASSERT_NEAR(mx, 40.0, 0.1);
    ASSERT_TRUE(has(&r, "(limit 0.03 / 0.0015) FAIL"));
    ASSERT_TRUE(has(&r, "refcheck: FAIL"));
    /* tier B reads logits.f32, still intact */
    snprintf(args, sizeof args, "--check '%s/llama-q4_k_m.tokens.json' -m '%s'", dir,
             ref("reference/llama-q4_k_m.gguf"));
    ASSERT_TRUE(cli(&r, args));
    ASSERT_EQ_INT(r.status, 0);
    ASSERT_TRUE(tamper(dir, "llama-q4_k_m.greedy_logits.f32", 3 * 512 + 9, -40.0f));
    ASSERT_TRUE(cli(&r, args));
    ASSERT_EQ_INT(r.status, 1);
    ASSERT_TRUE(has(&r, "teacher-forced greedy rows 0-31 of 32: max abs 40"));

    /* qwen3moe-q8_0 tier B: row 20 is skipped (rerouted at 9), row 3 is not */
    snprintf(args, sizeof args, "--check '%s/qwen3moe-q8_0.tokens.json' -m '%s'", dir,
             ref("reference/qwen3moe-q8_0.gguf"));
    ASSERT_TRUE(tamper(dir, "qwen3moe-q8_0.logits.f32", 20 * 512 + 5, 40.0f));
    ASSERT_TRUE(cli(&r, args));
    ASSERT_EQ_INT(r.status, 0);
    ASSERT_TRUE(tamper(dir, "qwen3moe-q8_0.logits.f32", 3 * 512 + 5, 40.0f));
    ASSERT_TRUE(cli(&r, args));
    ASSERT_EQ_INT(r.status, 1);
    ASSERT_TRUE(figures(&r, "inputs", &rows, &total, &mx, &rl));
    ASSERT_EQ_INT(rows, 9);
    ASSERT_GE(mx, 39.0);

    /* the JSON names a model that is not next to it: a clear error, 1 */
    snprintf(args, sizeof args, "--check '%s/llama-q4_k_m.tokens.json' --exact", dir);
    ASSERT_TRUE(cli(&r, args));
    ASSERT_EQ_INT(r.status, 1);
    ASSERT_TRUE(has(&r, "llama-q4_k_m.gguf"));
    /* a truncated logits file */
    char path[1024];
    snprintf(path, sizeof path, "%s/llama-q4_k_m.logits.f32", dir);
    ASSERT_EQ_INT(truncate(path, 1000), 0);
    snprintf(args, sizeof args, "--check '%s/llama-q4_k_m.tokens.json' -m '%s'", dir,
             ref("reference/llama-q4_k_m.gguf"));
    ASSERT_TRUE(cli(&r, args));
    ASSERT_EQ_INT(r.status, 1);
    ASSERT_TRUE(has(&r, "does not hold 12288 floats"));
    /* --check with --tokens: usage error */
    snprintf(args, sizeof args, "--check '%s' --tokens 1,2", ref("reference/llama-q4_k_m.tokens.json"));
    ASSERT_TRUE(cli(&r, args));
    ASSERT_EQ_INT(r.status, 2);
}

/* `hoheit logits --exact` writes the exact path's logits: llama-q4_k_m
 * against logits_deq.f32 within 1e-4, where the default path is ~0.01 off. */
TEST(refcheck_logits_exact_writes_deq_logits)
{
    NEED_BIN();
    char out[1024], args[4096];
    snprintf(out, sizeof out, "%s/exact.f32", hh_test_tmpdir());
    const char *ids = "1,501,500,505,196,90,472,56,136,73,165,275,63,408,126,403,165,406,493,490,137,285,227,132";
    size_t size = 0, dsize = 0;
    float *deq = hh_test_read_file(ref("reference/llama-q4_k_m.logits_deq.f32"), &dsize);
    ASSERT_TRUE(deq != NULL);
    double worst[2] = { 0, 0 };
    for (int k = 0; k < 2; k++) {
        run_t r;
        snprintf(args, sizeof args, "-m '%s' --tokens %s --out '%s'%s", ref("reference/llama-q4_k_m.gguf"), ids, out,
                 k == 0 ? " --exact" : "");
        if (!cli(&r, args) || r.status != 0) { free(deq); ASSERT_TRUE(false); }
        if (k == 0 && !has(&r, "exact, kv f32")) { free(deq); ASSERT_TRUE(false); }
        float *got = hh_test_read_file(out, &size);
        for (size_t i = 0; got && size == dsize && i < size / 4; i++)
            worst[k] = fmax(worst[k], fabs((double)got[i] - deq[i]));
        free(got);
        if (size != dsize) { free(deq); ASSERT_EQ_INT(size, dsize); }
    }
    free(deq);
    remove(out);
    printf("    exact vs logits_deq max abs %.3g, default math %.3g\n", worst[0], worst[1]);
    ASSERT_LE(worst[0], 1e-4);
    ASSERT_GE(worst[1], 1e-3);
}
