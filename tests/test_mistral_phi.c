/* test_mistral_phi.c - Mistral and Phi files on the existing forward passes.
 *
 * Mistral GGUFs declare general.architecture "llama": the llama forward
 * runs them; what differs is the chat template, detected from the file and
 * rendered end to end here (the formats' exact strings: test_chat.c).
 * Phi-3 / Phi-4 declare "phi3": the llama block with NEOX RoPE and fused
 * attn_qkv / ffn_up (gate rows then up rows), bound as row slices. A phi3
 * file must give exactly the logits of the same weights written split as
 * qwen2 with zero biases (llama + NEOX RoPE), on both math paths, also
 * quantized and repacked; LongRoPE (128k) files and bias tensors are
 * refused with a message naming them, by the loader and `hoheit inspect`. */
#include "harness.h"
#include "synth_model.h"
#include "model/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

static synth_model_t phi3_shape(const char *arch, bool fused)
{
    synth_model_t s = synth_model_defaults(arch);
    s.n_embd = 128;
    s.n_ff = 256;
    s.n_head = 4;
    s.n_head_kv = 2;
    s.head_dim = 32;
    s.n_layer = 2;
    s.seed = 77;
    s.fused = fused;
    return s;
}

static const char *tmp(const char *name)
{
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", hh_test_tmpdir(), name);
    return buf[k];
}

/* Logits of 16 fixed ids, every position, into out (16 x 512). */
static int logits16(const char *path, hh_gguf_load_t mode, bool exact, float *out)
{
    hh_model_t *m = NULL;
    hh_err_t e;
    hh_model_params_t mp = hh_model_default_params();
    mp.load = mode;
    int rc = hh_model_load(&m, path, &mp, &e);
    if (rc != HH_OK) { printf("    load %s: %s\n", path, e.msg); return rc; }
    hh_ctx_params_t cp = hh_ctx_default_params();
    cp.n_ctx = 32;
    cp.n_batch = 16;
    cp.n_threads = 1;
    cp.exact = exact;
    hh_ctx_t *c = NULL;
    if ((rc = hh_ctx_create(&c, m, &cp, &e)) == HH_OK) {
        int32_t ids[16];
        bool all[16];
        for (int i = 0; i < 16; i++) ids[i] = 1 + (i * 97) % 511, all[i] = true;
        hh_batch_t b = { .n_tokens = 16, .tokens = ids, .logits = all };
        rc = hh_ctx_decode(c, &b, &e);
        for (int i = 0; rc == HH_OK && i < 16; i++)
            memcpy(out + i * 512, hh_ctx_logits(c, i), 512 * sizeof(float));
    }
    if (rc != HH_OK) printf("    %s: %s\n", path, e.msg);
    hh_ctx_free(c);
    hh_model_free(m);
    return rc;
}

static double max_abs(const float *a, const float *b, size_t n)
{
    double mx = 0;
    for (size_t i = 0; i < n; i++)
        if (!(fabs((double)a[i] - b[i]) <= mx)) mx = fabs((double)a[i] - b[i]);
    return mx;
}

/* Runs `hoheit ARGS`; exit status, output (stdout and stderr) into out. */
static int hoheit(const char *args, char *out, size_t cap)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s' %s 2>&1", getenv("HOHEIT_BIN"), args);
    FILE *p = popen(cmd, "r");
    if (p == NULL) return -1;
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

TEST(phi3_fused_matches_split_weights)
{
    synth_model_t phi = phi3_shape("phi3", true), split = phi3_shape("qwen2", false), norm = phi3_shape("llama", false);
    phi.swa = 2047;   /* Phi-3-mini-4k declares one; ignored as llama.cpp does */
    hh_err_t e;
    ASSERT_OK(synth_model_write(&phi, tmp("phi3.gguf"), &e));
    ASSERT_OK(synth_model_write(&split, tmp("phi3-split.gguf"), &e));
    ASSERT_OK(synth_model_write(&norm, tmp("phi3-llama.gguf"), &e));
    static float a[16 * 512], b[16 * 512];
    for (int exact = 0; exact < 2; exact++) {
        ASSERT_OK(logits16(tmp("phi3.gguf"), HH_GGUF_LOAD_MMAP, exact, a));
        ASSERT_OK(logits16(tmp("phi3-split.gguf"), HH_GGUF_LOAD_MMAP, exact, b));
        double d = max_abs(a, b, 16 * 512);
        printf("    f32 %s: phi3 fused vs split max abs %g\n", exact ? "exact" : "default", d);
        ASSERT_LE(d, 0.0);
    }
    /* NEOX RoPE matters: the llama (pairwise RoPE) reading of the weights differs */
    ASSERT_OK(logits16(tmp("phi3-llama.gguf"), HH_GGUF_LOAD_MMAP, true, b));
    double dn = max_abs(a, b, 16 * 512);
    printf("    phi3 vs the same weights with llama's RoPE: max abs %.3g\n", dn);
    ASSERT_GE(dn, 1e-3);

    /* Q8_0 (--pure), read into memory: fused parts repacked slice by slice */
    if (getenv("HOHEIT_BIN") == NULL) SKIP("HOHEIT_BIN not set (quantized half)");
    char out[8192], args[2048];
    snprintf(args, sizeof args, "quantize '%s' '%s' q8_0 --pure -t 1", tmp("phi3.gguf"), tmp("phi3-q8.gguf"));
    ASSERT_EQ_INT(hoheit(args, out, sizeof out), 0);
    snprintf(args, sizeof args, "quantize '%s' '%s' q8_0 --pure -t 1", tmp("phi3-split.gguf"),
             tmp("phi3-split-q8.gguf"));
    ASSERT_EQ_INT(hoheit(args, out, sizeof out), 0);
    for (int exact = 0; exact < 2; exact++) {
        ASSERT_OK(logits16(tmp("phi3-q8.gguf"), HH_GGUF_LOAD_READ, exact, a));
        ASSERT_OK(logits16(tmp("phi3-split-q8.gguf"), HH_GGUF_LOAD_READ, exact, b));
        double d = max_abs(a, b, 16 * 512);
        printf("    q8_0 %s: phi3 fused vs split max abs %g\n", exact ? "exact" : "default", d);
        ASSERT_LE(d, 0.0);
    }
}

TEST(phi3_refuses_longrope_and_biases)
{
    synth_model_t s = phi3_shape("phi3", true);
    s.extra_tensor = "rope_factors_long.weight";
    hh_err_t e;
    ASSERT_OK(synth_model_write(&s, tmp("phi3-128k.gguf"), &e));
    hh_model_t *m = NULL;
    ASSERT_EQ_INT(hh_model_load(&m, tmp("phi3-128k.gguf"), NULL, &e), HH_EUNSUPPORTED);
    printf("    %s\n", e.msg);
    ASSERT_TRUE(strstr(e.msg, "LongRoPE") != NULL && strstr(e.msg, "rope_factors_long.weight") != NULL);

    s.extra_tensor = "blk.1.attn_qkv.bias";
    ASSERT_OK(synth_model_write(&s, tmp("phi3-bias.gguf"), &e));
    ASSERT_EQ_INT(hh_model_load(&m, tmp("phi3-bias.gguf"), NULL, &e), HH_EUNSUPPORTED);
    ASSERT_TRUE(strstr(e.msg, "blk.1.attn_qkv.bias") != NULL);

    if (getenv("HOHEIT_BIN") == NULL) SKIP("HOHEIT_BIN not set (inspect half)");
    char out[65536], args[1024];
    snprintf(args, sizeof args, "inspect '%s'", tmp("phi3-128k.gguf"));
    ASSERT_EQ_INT(hoheit(args, out, sizeof out), 0);
    ASSERT_TRUE(strstr(out, "general.architecture") != NULL || strstr(out, "'phi3'") != NULL);
    ASSERT_TRUE(strstr(out, "  runs                  no: phi3: LongRoPE scaling (rope_factors_long.weight") != NULL);
}

/* A Phi-3 file with the real Phi-3 tokenizer and template (from the vocab
 * test file): inspect names the format and says it runs; `hoheit run
 * --chat` renders the Phi-3 turns around the prompt. */
TEST(phi3_inspect_and_chat_end_to_end)
{
    if (getenv("HOHEIT_BIN") == NULL) SKIP("HOHEIT_BIN not set");
    synth_model_t s = phi3_shape("phi3", true);
    s.n_vocab = 32064;
    s.n_embd = 64;
    s.head_dim = 16;
    s.donor = hh_test_data_path("vocab/ggml-vocab-phi-3.gguf");
    hh_err_t e;
    ASSERT_OK(synth_model_write(&s, tmp("phi3-tok.gguf"), &e));
    static char out[65536];
    char args[1024];
    snprintf(args, sizeof args, "inspect '%s'", tmp("phi3-tok.gguf"));
    ASSERT_EQ_INT(hoheit(args, out, sizeof out), 0);
    ASSERT_TRUE(strstr(out, "  chat format           phi3-legacy\n") != NULL);
    ASSERT_TRUE(strstr(out, "  runs                  yes\n") != NULL);
    snprintf(args, sizeof args, "inspect --json '%s'", tmp("phi3-tok.gguf"));
    ASSERT_EQ_INT(hoheit(args, out, sizeof out), 0);
    ASSERT_TRUE(strstr(out, "\"chat_format\":\t\"phi3-legacy\"") != NULL);
    ASSERT_TRUE(strstr(out, "\"runs\":\ttrue") != NULL);

    snprintf(args, sizeof args, "run -m '%s' --chat -p 'Hello' -n 2 --temp 0 -t 1 -v", tmp("phi3-tok.gguf"));
    int st = hoheit(args, out, sizeof out);
    if (st != 0) printf("%s\n", out);
    ASSERT_EQ_INT(st, 0);
    ASSERT_TRUE(strstr(out, "chat format phi3-legacy") != NULL);
    ASSERT_TRUE(strstr(out, "chat prompt: <s><|user|>\nHello<|end|>\n<|assistant|>\n") != NULL);
}

/* Mistral files are llama files with Mistral's template: the v7 tekken
 * (Small 3) and v3 templates are detected from the GGUF and `hoheit run
 * --chat --system` renders their turns; inspect says the file runs. */
TEST(mistral_llama_file_chat_end_to_end)
{
    if (getenv("HOHEIT_BIN") == NULL) SKIP("HOHEIT_BIN not set");
    static const struct { const char *tmpl, *format, *prompt; } cases[] = {
        { "{{- '[SYSTEM_PROMPT]' + system_message + '[/SYSTEM_PROMPT]' }}{{- '[INST]' + message['content'] + "
          "'[/INST]' }}",
          "mistral-v7-tekken", "chat prompt: <s>[SYSTEM_PROMPT]Be brief.[/SYSTEM_PROMPT][INST]Hello[/INST]" },
        { "{%- if loop.last and system_message is defined %}\n            {{- \"[INST] \" + system_message + "
          "\"\\n\\n\" + message[\"content\"] + \"[/INST]\" }}",
          "mistral-v3", "chat prompt: <s>[INST] Be brief.\n\nHello[/INST]" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        synth_model_t s = phi3_shape("llama", false);
        s.donor = hh_test_data_path("models/stories260K.gguf");
        s.chat_template = cases[i].tmpl;
        hh_err_t e;
        ASSERT_OK(synth_model_write(&s, tmp("mistral.gguf"), &e));
        static char out[65536];
        char args[1024], want[128];
        snprintf(args, sizeof args, "inspect '%s'", tmp("mistral.gguf"));
        ASSERT_EQ_INT(hoheit(args, out, sizeof out), 0);
        snprintf(want, sizeof want, "  chat format           %s\n", cases[i].format);
        ASSERT_TRUE(strstr(out, want) != NULL);
        ASSERT_TRUE(strstr(out, "  runs                  yes\n") != NULL);
        snprintf(args, sizeof args, "run -m '%s' --system 'Be brief.' -p 'Hello' -n 2 --temp 0 -t 1 -v",
                 tmp("mistral.gguf"));
        int st = hoheit(args, out, sizeof out);
        if (st != 0 || strstr(out, cases[i].prompt) == NULL) printf("%s\n", out);
        ASSERT_EQ_INT(st, 0);
        ASSERT_TRUE(strstr(out, cases[i].prompt) != NULL);
    }
}
