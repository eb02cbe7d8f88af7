/* cmd_run.c - `hoheit run`: load a model, tokenize a prompt (or take ids),
 * prefill it in batches and stream the sampled continuation to stdout token
 * by token. The prompt is not echoed; logs, logprobs and timings go to
 * stderr. Exit status: 0 ok, 1 runtime error, 2 usage. */
#include "cli/cmd.h"
#include "base/err.h"
#include "base/log.h"
#include "model/model.h"
#include "sample/sample.h"
#include "tok/chat.h"
#include "tok/tok.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Largest prompt file accepted (bytes); far beyond any context window. */
#define RUN_MAX_PROMPT_FILE (64u << 20)
/* Output buffer for one token's text beyond what the vocabulary needs
 * (tok.h: 3 * (longest token + 3) bytes); also holds " <id>" without one. */
#define RUN_PIECE_SLACK 64

struct run_opts {
    const char *model;
    const char *prompt;      /* -p */
    const char *tokens;      /* --tokens */
    const char *file;        /* -f */
    bool        chat;        /* --chat: the prompt is a user message in the model's chat format */
    const char *system;      /* --system: system message (implies --chat) */
    const char *chat_template; /* --chat-template NAME (implies --chat) */
    int         n_predict;   /* -1: until EOG or the context end */
    int         n_threads;
    int         n_ctx;
    int         n_batch;
    int         n_logprobs;
    bool        ignore_eos;
    bool        verbose;
    hh_model_params_t   mparams;
    hh_sampler_params_t sparams;
};

static void run_usage(FILE *f)
{
    fprintf(f,
        "usage: hoheit run -m MODEL (-p PROMPT | -f FILE | --tokens ID,ID,...) [options]\n"
        "  -m, --model PATH        GGUF model\n"
        "  -p, --prompt TEXT       prompt (BOS added as the model's tokenizer says)\n"
        "  -f, --file PATH         read the prompt from a file\n"
        "  --tokens ID,ID,...      prompt as token ids (no BOS added)\n"
        "  --chat                  the prompt is a user message, rendered with the model's chat template\n"
        "  --system TEXT           system message (implies --chat)\n"
        "  --chat-template NAME    override the detected format: llama3, llama3.1, chatml, qwen2.5,\n"
        "                          mistral, llama2, gemma, phi3, ... (implies --chat)\n"
        "  -n, --n-predict N       tokens to generate (default 128; -1: until EOS or context end)\n"
        "  --temp T                temperature (default 0.8; 0: greedy)\n"
        "  --top-k K               (default 40; 0: off)\n"
        "  --top-p P               (default 0.95; 1: off)\n"
        "  --min-p P               (default 0.05; 0: off)\n"
        "  --repeat-penalty R      (default 1.0: off)\n"
        "  --repeat-last-n N       penalty window (default 64; -1: everything)\n"
        "  --frequency-penalty F   (default 0)\n"
        "  --presence-penalty F    (default 0)\n"
        "  --seed S                (default: random, reported with -v; -1: random)\n"
        "  -t, --threads N         (default: number of cores)\n"
        "  -c, --ctx-size N        context length (default: min(trained, 4096))\n"
        "  -b, --batch-size N      prompt tokens per forward pass (default 512)\n"
        "  --mmap | --no-mmap      map the weights or read them into memory\n"
        "  --mlock                 lock the weights in memory\n"
        "  --logprobs N            print each token's logprob and N (<= 20) alternatives to stderr\n"
        "  --ignore-eos            do not stop at end-of-generation tokens\n"
        "  -v, --verbose           log loading details\n");
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static bool parse_int(const char *s, long lo, long hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end != '\0' || errno != 0 || v < lo || v > hi)
        return false;
    *out = (int)v;
    return true;
}

static bool parse_float(const char *s, float lo, float hi, float *out)
{
    char *end;
    errno = 0;
    float v = strtof(s, &end);
    if (end == s || *end != '\0' || errno != 0 || !(v >= lo && v <= hi))
        return false;
    *out = v;
    return true;
}

/* Seed: a non-negative integer, or -1 for a random seed. */
static bool parse_seed(const char *s, uint64_t *out)
{
    if (!strcmp(s, "-1")) {
        *out = HH_SEED_RANDOM;
        return true;
    }
    if (*s < '0' || *s > '9')
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end != '\0' || errno != 0 || v == HH_SEED_RANDOM)
        return false;
    *out = v;
    return true;
}

/* Parses argv into o. Returns 0, 1 for --help (usage printed), or 2 for a
 * usage error (message printed). */
static int parse_args(int argc, char **argv, struct run_opts *o)
{
    memset(o, 0, sizeof *o);
    o->n_predict = 128;
    o->n_batch = 512;
    o->mparams = hh_model_default_params();
    o->sparams = hh_sampler_default_params();
    o->sparams.repeat_penalty = 1.0f;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            run_usage(stdout);
            return 1;
        }
        /* flags without a value */
        if (!strcmp(a, "--mmap")) { o->mparams.load = HH_GGUF_LOAD_MMAP; continue; }
        if (!strcmp(a, "--no-mmap")) { o->mparams.load = HH_GGUF_LOAD_READ; continue; }
        if (!strcmp(a, "--mlock")) { o->mparams.mlock = true; continue; }
        if (!strcmp(a, "--ignore-eos")) { o->ignore_eos = true; continue; }
        if (!strcmp(a, "--chat")) { o->chat = true; continue; }
        if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) { o->verbose = true; continue; }

        if (i + 1 >= argc) {
            fprintf(stderr, "hoheit run: %s needs a value (or is unknown)\n", a);
            return 2;
        }
        const char *v = argv[++i];
        bool ok = true;
        hh_sampler_params_t *sp = &o->sparams;
        if (!strcmp(a, "-m") || !strcmp(a, "--model")) o->model = v;
        else if (!strcmp(a, "-p") || !strcmp(a, "--prompt")) o->prompt = v;
        else if (!strcmp(a, "-f") || !strcmp(a, "--file")) o->file = v;
        else if (!strcmp(a, "--tokens")) o->tokens = v;
        else if (!strcmp(a, "--system")) { o->system = v; o->chat = true; }
        else if (!strcmp(a, "--chat-template")) { o->chat_template = v; o->chat = true; }
        else if (!strcmp(a, "-n") || !strcmp(a, "--n-predict")) ok = parse_int(v, -1, INT_MAX, &o->n_predict);
        else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) ok = parse_int(v, 0, 4096, &o->n_threads);
        else if (!strcmp(a, "-c") || !strcmp(a, "--ctx-size")) ok = parse_int(v, 0, 1 << 24, &o->n_ctx);
        else if (!strcmp(a, "-b") || !strcmp(a, "--batch-size")) ok = parse_int(v, 1, 1 << 20, &o->n_batch);
        else if (!strcmp(a, "--logprobs")) ok = parse_int(v, 0, HH_LOGPROBS_MAX, &o->n_logprobs);
        else if (!strcmp(a, "--temp")) ok = parse_float(v, 0.0f, 1e6f, &sp->temperature);
        else if (!strcmp(a, "--top-k")) ok = parse_int(v, 0, INT_MAX, &sp->top_k);
        else if (!strcmp(a, "--top-p")) ok = parse_float(v, 0.0f, 1.0f, &sp->top_p);
        else if (!strcmp(a, "--min-p")) ok = parse_float(v, 0.0f, 1.0f, &sp->min_p);
        else if (!strcmp(a, "--repeat-penalty")) ok = parse_float(v, 1e-6f, 1e6f, &sp->repeat_penalty);
        else if (!strcmp(a, "--repeat-last-n")) ok = parse_int(v, -1, INT_MAX, &sp->repeat_last_n);
        else if (!strcmp(a, "--frequency-penalty")) ok = parse_float(v, -1e6f, 1e6f, &sp->frequency_penalty);
        else if (!strcmp(a, "--presence-penalty")) ok = parse_float(v, -1e6f, 1e6f, &sp->presence_penalty);
        else if (!strcmp(a, "--seed")) ok = parse_seed(v, &sp->seed);
        else {
            fprintf(stderr, "hoheit run: unknown option '%s'\n", a);
            return 2;
        }
        if (!ok) {
            fprintf(stderr, "hoheit run: bad value '%s' for %s\n", v, a);
            return 2;
        }
    }
    if (o->model == NULL) {
        fprintf(stderr, "hoheit run: -m MODEL is required\n");
        return 2;
    }
    int n_src = (o->prompt != NULL) + (o->tokens != NULL) + (o->file != NULL);
    if (n_src != 1) {
        fprintf(stderr, "hoheit run: give exactly one of -p PROMPT, -f FILE, --tokens IDS\n");
        return 2;
    }
    if (o->chat && o->tokens != NULL) {
        fprintf(stderr, "hoheit run: --chat needs a text prompt (-p or -f), not --tokens\n");
        return 2;
    }
    o->sparams.n_probs = o->n_logprobs;
    return 0;
}

/* Renders the prompt as one user turn (after an optional system turn) in
 * the model's chat format, ready for the assistant's answer. The template
 * text from the GGUF is only matched against known families, never run.
 * *out is malloc'd. BOS is written by the renderer where the format wants
 * it, so the caller must not add another. */
static int render_chat(const struct run_opts *o, const hh_gguf_t *g, const hh_vocab_t *vocab, const char *text,
                       char **out, size_t *out_len, hh_err_t *err)
{
    hh_chat_format_t fmt;
    int rc;
    if (o->chat_template != NULL) {
        if ((rc = hh_chat_format_from_name(o->chat_template, &fmt, err)) < 0)
            return rc;
    } else {
        const char *tmpl = NULL;
        (void)hh_gguf_get_str(g, "tokenizer.chat_template", &tmpl);
        hh_err_t why;
        hh_err_clear(&why);
        const char *arch = NULL;
        (void)hh_gguf_get_str(g, "general.architecture", &arch);
        if (hh_chat_detect(tmpl, &fmt, &why) != 0) {
            /* as the engine: a Gemma 3 / gpt-oss file without a known template gets its family's turns */
            if (arch != NULL && !strcmp(arch, "gemma3"))
                fmt = HH_CHAT_GEMMA;
            else if (arch != NULL && !strcmp(arch, "gpt-oss"))
                fmt = HH_CHAT_HARMONY;
            HH_LOGW("%s", fmt == HH_CHAT_GEMMA     ? "no known chat template; gemma3 file: using gemma"
                          : fmt == HH_CHAT_HARMONY ? "no known chat template; gpt-oss file: using harmony"
                                                   : why.msg);
        }
    }
    HH_LOGI("chat format %s", hh_chat_format_name(fmt));
    hh_chat_msg_t msgs[2];
    size_t n = 0;
    memset(msgs, 0, sizeof msgs);
    if (o->system != NULL)
        msgs[n++] = (hh_chat_msg_t){ .role = HH_ROLE_SYSTEM, .content = o->system };
    msgs[n++] = (hh_chat_msg_t){ .role = HH_ROLE_USER, .content = text };
    hh_chat_params_t cp = hh_chat_default_params();
    int32_t bos = hh_vocab_bos(vocab), eos = hh_vocab_eos(vocab);
    cp.bos_text = bos >= 0 ? hh_vocab_text(vocab, bos) : NULL;
    cp.eos_text = eos >= 0 ? hh_vocab_text(vocab, eos) : NULL;
    return hh_chat_render(fmt, msgs, n, &cp, out, out_len, err);
}

/* Parses "1,2,3" into a malloc'd array; ids must lie in [0, n_vocab). */
static int parse_token_list(const char *s, int32_t n_vocab, int32_t **out, size_t *n_out, hh_err_t *err)
{
    size_t cap = 1;
    for (const char *p = s; *p; p++)
        cap += *p == ',';
    int32_t *ids = malloc(cap * sizeof *ids);
    if (ids == NULL)
        return hh_err_set(err, HH_ENOMEM, -1, "out of memory for %zu token ids", cap);
    size_t n = 0;
    const char *p = s;
    while (*p) {
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno != 0 || (*end != ',' && *end != '\0')) {
            free(ids);
            return hh_err_set(err, HH_EINVAL, p - s, "--tokens: expected comma-separated integers");
        }
        if (v < 0 || v >= n_vocab) {
            free(ids);
            return hh_err_set(err, HH_ERANGE, p - s, "--tokens: id %ld outside the vocabulary [0, %d)", v,
                              (int)n_vocab);
        }
        ids[n++] = (int32_t)v;
        p = *end == ',' ? end + 1 : end;
    }
    if (n == 0) {
        free(ids);
        return hh_err_set(err, HH_EINVAL, -1, "--tokens: no ids given");
    }
    *out = ids;
    *n_out = n;
    return 0;
}

/* Reads a whole prompt file (malloc'd, NUL-terminated). */
static int read_prompt_file(const char *path, char **out, size_t *len, hh_err_t *err)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return hh_err_set(err, HH_EIO, -1, "cannot open prompt file %s: %s", path, strerror(errno));
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    int rc = 0;
    if (buf == NULL) {
        rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory reading %s", path);
        goto cleanup;
    }
    for (;;) {
        if (n + 1 >= cap) {
            if (cap >= RUN_MAX_PROMPT_FILE) {
                rc = hh_err_set(err, HH_EFULL, -1, "prompt file %s is larger than %u bytes", path,
                                RUN_MAX_PROMPT_FILE);
                goto cleanup;
            }
            char *nb = realloc(buf, cap * 2);
            if (nb == NULL) {
                rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory reading %s", path);
                goto cleanup;
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - 1 - n, f);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        rc = hh_err_set(err, HH_EIO, -1, "cannot read prompt file %s", path);
        goto cleanup;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    buf = NULL;
cleanup:
    free(buf);
    fclose(f);
    return rc;
}

/* Builds the prompt's token ids: --tokens as given; text tokenized with
 * parse_special and BOS prepended when the vocabulary asks for it. */
static int prompt_tokens(const struct run_opts *o, const hh_gguf_t *g, const hh_vocab_t *vocab, int32_t n_vocab,
                         int32_t **ids, size_t *n_ids, hh_err_t *err)
{
    if (o->tokens != NULL)
        return parse_token_list(o->tokens, n_vocab, ids, n_ids, err);

    char *filebuf = NULL, *chatbuf = NULL;
    const char *text = o->prompt;
    size_t len = text ? strlen(text) : 0;
    int32_t *toks = NULL, *all = NULL;
    size_t n_toks = 0;
    int rc;
    if (o->file != NULL) {
        if ((rc = read_prompt_file(o->file, &filebuf, &len, err)) < 0)
            return rc;
        text = filebuf;
    }
    if (o->chat) {
        if ((rc = render_chat(o, g, vocab, text, &chatbuf, &len, err)) < 0)
            goto cleanup;
        text = chatbuf;
        HH_LOGD("chat prompt: %s", chatbuf);
    }
    if ((rc = hh_tokenize(vocab, text, len, false, true, &toks, &n_toks, err)) < 0)
        goto cleanup;
    int32_t bos = hh_vocab_bos(vocab);
    bool add_bos = !o->chat && hh_vocab_add_bos(vocab) && bos >= 0;
    size_t n = n_toks + (add_bos ? 1 : 0);
    if (n == 0) {
        rc = hh_err_set(err, HH_EINVAL, -1, "the prompt is empty and the model adds no BOS token");
        goto cleanup;
    }
    all = malloc(n * sizeof *all);
    if (all == NULL) {
        rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory for %zu prompt tokens", n);
        goto cleanup;
    }
    if (add_bos)
        all[0] = bos;
    if (n_toks > 0)
        memcpy(all + (add_bos ? 1 : 0), toks, n_toks * sizeof *toks);
    *ids = all;
    *n_ids = n;
    all = NULL;
cleanup:
    free(all);
    free(toks);
    free(filebuf);
    free(chatbuf);
    return rc;
}

/* Writes bytes as a double-quoted string with C-style escapes. */
static void fput_quoted(FILE *f, const char *s, int n)
{
    fputc('"', f);
    for (int i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\') fprintf(f, "\\%c", ch);
        else if (ch == '\n') fputs("\\n", f);
        else if (ch == '\t') fputs("\\t", f);
        else if (ch < 0x20 || ch == 0x7f) fprintf(f, "\\x%02x", ch);
        else fputc(ch, f);
    }
    fputc('"', f);
}

static void fput_piece(FILE *f, const hh_vocab_t *vocab, int32_t id)
{
    char buf[256];
    int n = vocab ? hh_token_to_piece(vocab, id, true, buf, sizeof buf) : -1;
    if (n < 0) {
        fputs("\"?\"", f);
        return;
    }
    fput_quoted(f, buf, n < (int)sizeof buf ? n : (int)sizeof buf);
}

/* One stderr line per generated token: position, id, piece, logprob, then
 * the alternatives. */
static void print_logprobs(const hh_logprobs_t *lp, const hh_vocab_t *vocab, int pos)
{
    fprintf(stderr, "[logprobs] %d: %d ", pos, (int)lp->token);
    fput_piece(stderr, vocab, lp->token);
    fprintf(stderr, " %.4f |", (double)lp->logprob);
    for (int i = 0; i < lp->n_top; i++) {
        fprintf(stderr, " %d ", (int)lp->top_ids[i]);
        fput_piece(stderr, vocab, lp->top_ids[i]);
        fprintf(stderr, " %.4f", (double)lp->top_logprobs[i]);
    }
    fputc('\n', stderr);
}

/* Writes n bytes of generated text to stdout and flushes (streaming). */
static int emit(const char *s, int n)
{
    if (n > 0 && fwrite(s, 1, (size_t)n, stdout) != (size_t)n)
        return HH_EIO;
    return fflush(stdout) == 0 ? 0 : HH_EIO;
}

int hh_cmd_run(int argc, char **argv)
{
    struct run_opts o;
    int prc = parse_args(argc, argv, &o);
    if (prc == 1)
        return 0;
    if (prc != 0) {
        run_usage(stderr);
        return 2;
    }
    if (o.verbose)
        hh_log_set_level(HH_LOG_DEBUG);
    else if (getenv("HOHEIT_LOG") == NULL)
        hh_log_set_level(HH_LOG_WARN);

    int status = 1;
    hh_err_t err;
    hh_err_clear(&err);
    char ebuf[700];
    const char *stage = "";
    hh_model_t *model = NULL;
    hh_vocab_t *vocab = NULL;
    hh_ctx_t *ctx = NULL;
    hh_sampler_t *smpl = NULL;
    int32_t *prompt = NULL;
    size_t n_prompt = 0;
    char *piece = NULL;      /* (piece_cap) one token's text for the streaming detokenizer */
    size_t piece_cap = 0;
    int rc;

    stage = "loading the model";
    double t_load = now_s();
    if ((rc = hh_model_load(&model, o.model, &o.mparams, &err)) < 0)
        goto fail;
    const hh_hparams_t *hp = hh_model_hparams(model);
    const int32_t n_vocab = hp->n_vocab;
    stage = "loading the tokenizer";
    /* Without a usable tokenizer, --tokens still runs: ids are printed
     * instead of text, and EOS comes from the metadata. */
    int32_t eos_id = -1;
    if ((rc = hh_vocab_load(&vocab, hh_model_gguf(model), &err)) < 0) {
        if (o.tokens == NULL)
            goto fail;
        HH_LOGW("no usable tokenizer (%s); printing token ids", hh_err_describe(&err, ebuf, sizeof ebuf));
        hh_err_clear(&err);
        vocab = NULL;
        uint32_t e;
        if (hh_gguf_get_u32(hh_model_gguf(model), "tokenizer.ggml.eos_token_id", &e) == 0 && e < INT32_MAX)
            eos_id = (int32_t)e;
    }
    t_load = now_s() - t_load;
    HH_LOGI("model %s: %s, %d layers, n_embd %d, n_vocab %d, loaded in %.2f s", o.model, hp->arch_name,
            (int)hp->n_layer, (int)hp->n_embd, (int)n_vocab, t_load);

    stage = "reading the prompt";
    if ((rc = prompt_tokens(&o, hh_model_gguf(model), vocab, n_vocab, &prompt, &n_prompt, &err)) < 0)
        goto fail;

    stage = "creating the context";
    hh_ctx_params_t cp = hh_ctx_default_params();
    cp.n_ctx = o.n_ctx;
    cp.n_batch = o.n_batch;
    cp.n_threads = o.n_threads;
    if ((rc = hh_ctx_create(&ctx, model, &cp, &err)) < 0)
        goto fail;
    const int32_t n_ctx = hh_ctx_n_ctx(ctx);
    if (n_prompt >= (size_t)n_ctx) {
        rc = hh_err_set(&err, HH_EFULL, -1, "the prompt has %zu tokens; the context holds %d", n_prompt,
                        (int)n_ctx);
        stage = "reading the prompt";
        goto fail;
    }

    stage = "creating the sampler";
    if ((rc = hh_sampler_create(&smpl, &o.sparams)) < 0) {
        hh_err_set(&err, rc, -1, "bad sampling parameters");
        goto fail;
    }
    for (size_t i = 0; i < n_prompt; i++)
        if ((rc = hh_sampler_accept(smpl, prompt[i])) < 0)
            goto fail;
    HH_LOGI("prompt %zu tokens, n_ctx %d, seed %llu, temp %.3g, top_k %d, top_p %.3g, min_p %.3g",
            n_prompt, (int)n_ctx, (unsigned long long)hh_sampler_seed(smpl), (double)o.sparams.temperature,
            (int)o.sparams.top_k, (double)o.sparams.top_p, (double)o.sparams.min_p);

    /* Prefill in batches; logits only for the last prompt token. */
    stage = "evaluating the prompt";
    double t0 = now_s();
    int32_t last_i = 0;
    for (size_t off = 0; off < n_prompt; off += (size_t)o.n_batch) {
        size_t nb = n_prompt - off < (size_t)o.n_batch ? n_prompt - off : (size_t)o.n_batch;
        hh_batch_t b = { .n_tokens = (int32_t)nb, .tokens = prompt + off };
        if ((rc = hh_ctx_decode(ctx, &b, &err)) < 0)
            goto fail;
        last_i = (int32_t)nb - 1;
    }
    double t_prompt = now_s() - t0;

    /* Generate: sample, stop on EOG, print, stop at -n or the context end,
     * evaluate the new token. */
    stage = "generating";
    hh_detok_t dt;
    /* Sized from the vocabulary: a fixed buffer makes hh_detok_push fail
     * with HH_EFULL on tokens longer than it. */
    piece_cap = RUN_PIECE_SLACK + (vocab ? 3 * ((size_t)hh_vocab_max_token_len(vocab) + 3) : 0);
    if ((piece = malloc(piece_cap)) == NULL) {
        rc = hh_err_set(&err, HH_ENOMEM, -1, "output buffer of %zu bytes", piece_cap);
        goto fail;
    }
    if (vocab != NULL) {
        /* Feed the prompt through the detokenizer, discarding its text, so
         * the output is exactly what the continuation adds: SPM's leading
         * space is dropped only when the prompt holds no text (BOS only). */
        hh_detok_init(&dt, vocab, false);
        for (size_t i = 0; i < n_prompt; i++)
            (void)hh_detok_push(&dt, prompt[i], piece, piece_cap);
    }
    int n_gen = 0;
    int32_t pos = (int32_t)n_prompt;
    const char *stop = "n_predict reached";
    t0 = now_s();
    while (o.n_predict < 0 || n_gen < o.n_predict) {
        const float *logits = hh_ctx_logits(ctx, last_i);
        if (logits == NULL) {
            rc = hh_err_set(&err, HH_ESTATE, -1, "the model returned no logits");
            goto fail;
        }
        hh_logprobs_t lp;
        int32_t tok = hh_sampler_sample(smpl, logits, n_vocab, o.n_logprobs > 0 ? &lp : NULL);
        if (tok < 0) {
            rc = hh_err_set(&err, tok, -1, "sampling failed (logits are all NaN or -inf?)");
            goto fail;
        }
        if ((rc = hh_sampler_accept(smpl, tok)) < 0)
            goto fail;
        if (!o.ignore_eos && (vocab ? hh_vocab_is_eog(vocab, tok) : tok == eos_id)) {
            stop = "end of generation token";
            break;
        }
        n_gen++;
        if (o.n_logprobs > 0)
            print_logprobs(&lp, vocab, pos);
        int n = vocab ? hh_detok_push(&dt, tok, piece, piece_cap)
                      : snprintf(piece, piece_cap, "%s%d", n_gen > 1 ? " " : "", (int)tok);
        if (n < 0)
            HH_LOGW("token %d has no printable text (%s)", (int)tok, hh_strerror(n));
        else if ((rc = emit(piece, n)) < 0) {
            hh_err_set(&err, rc, -1, "cannot write to stdout");
            goto fail;
        }
        if (o.n_predict >= 0 && n_gen >= o.n_predict)
            break;
        if (pos >= n_ctx) {
            stop = "context full";
            break;
        }
        hh_batch_t b = { .n_tokens = 1, .tokens = &tok };
        if ((rc = hh_ctx_decode(ctx, &b, &err)) < 0)
            goto fail;
        last_i = 0;
        pos++;
    }
    double t_gen = now_s() - t0;
    int n = vocab ? hh_detok_flush(&dt, piece, piece_cap) : 0;
    if (n > 0 && (rc = emit(piece, n)) < 0) {
        hh_err_set(&err, rc, -1, "cannot write to stdout");
        goto fail;
    }

    fprintf(stderr, "\n\nhoheit run: stopped: %s; seed %llu\n", stop,
            (unsigned long long)hh_sampler_seed(smpl));
    fprintf(stderr, "hoheit run: load   %8.2f ms\n", t_load * 1e3);
    fprintf(stderr, "hoheit run: prompt %8.2f ms / %5zu tokens (%8.2f ms per token, %8.2f tokens per second)\n",
            t_prompt * 1e3, n_prompt, n_prompt ? t_prompt * 1e3 / (double)n_prompt : 0.0,
            t_prompt > 0 ? (double)n_prompt / t_prompt : 0.0);
    fprintf(stderr, "hoheit run: eval   %8.2f ms / %5d tokens (%8.2f ms per token, %8.2f tokens per second)\n",
            t_gen * 1e3, n_gen, n_gen ? t_gen * 1e3 / n_gen : 0.0, t_gen > 0 ? n_gen / t_gen : 0.0);
    status = 0;
    goto cleanup;

fail:
    if (err.code == HH_OK)
        hh_err_set(&err, rc, -1, "%s", hh_strerror(rc));
    fflush(stdout);
    fprintf(stderr, "hoheit run: error %s: %s\n", stage, hh_err_describe(&err, ebuf, sizeof ebuf));
    status = 1;
cleanup:
    hh_sampler_free(smpl);
    hh_ctx_free(ctx);
    free(piece);
    free(prompt);
    hh_vocab_free(vocab);
    hh_model_free(model);
    return status;
}
