/* fuzz_tok.c - libFuzzer target for the tokenizers: the input bytes are
 * tokenized with one vocabulary of every family (SPM llama and phi-3,
 * byte-level BPE gpt-2 / llama3 / deepseek / falcon / starcoder, WordPiece
 * bert), with special-token parsing off and on, and detokenized in one piece
 * and as a stream. Checks, beyond what ASan/UBSan catch:
 *   - every id is in range, no call fails;
 *   - detok(tok(x)) == x where the round trip is defined: SPM and BPE
 *     vocabularies, special parsing off, and every input byte one that the
 *     vocabulary can represent (a byte that alone round-trips: deepseek and
 *     starcoder have no tokens for C0, C1, F5-FF, falcon none for some
 *     control bytes, and the reference tokenizers drop such bytes too);
 *     SPM only without a literal U+2581, which it cannot tell from a space;
 *   - every streamed chunk is valid UTF-8, and for exact round trips of
 *     valid UTF-8 the stream concatenates to x.
 * Vocabularies load once in LLVMFuzzerInitialize from HOHEIT_TESTDATA or
 * ../shared/testdata (make fuzz runs from the repository root). */
#include "tok/tok.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct fz_vocab {
    const char *name;
    hh_vocab_t *v;
    bool        byte_ok[256]; /* this byte alone round-trips (has a token) */
    int         n_byte_ok;
    size_t      chunk_cap;   /* enough for any hh_detok_push (tok.h) */
} fz_vocab_t;

static const char *const GGUF_NAMES[] = {
    "llama-spm", "phi-3", "gpt-2", "deepseek-llm", "deepseek-coder", "falcon", "starcoder", "bert-bge",
};
#define N_GGUF (sizeof GGUF_NAMES / sizeof GGUF_NAMES[0])

/* Filled once at start, read-only afterwards (STYLE 6: start-up tables). */
static fz_vocab_t g_vocabs[N_GGUF + 1];
static size_t     g_n_vocabs;

static void die(const char *what, const char *detail)
{
    /* Only at start-up: a fuzz run without its vocabularies tests nothing. */
    fprintf(stderr, "fuzz_tok: %s: %s\n", what, detail);
    exit(1);
}

static hh_vocab_t *load_gguf(const char *path)
{
    hh_gguf_params_t p = hh_gguf_default_params();
    p.no_data = true;
    hh_gguf_t *g = NULL;
    hh_err_t err;
    if (hh_gguf_open(&g, path, &p, &err))
        die(path, err.msg);
    hh_vocab_t *v = NULL;
    if (hh_vocab_load(&v, g, &err))
        die(path, err.msg);
    hh_gguf_close(g);
    return v;
}

/* Llama 3 from encoder.json + vocab.bpe, with a few of its control tokens. */
static hh_vocab_t *load_llama3(const char *root)
{
    static const char *const added[] = { "<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>",
                                         "<|end_header_id|>", "<|eot_id|>" };
    char enc[4096], bpe[4096];
    snprintf(enc, sizeof enc, "%s/tokenizers/llama3.2/encoder.json", root);
    snprintf(bpe, sizeof bpe, "%s/tokenizers/llama3.2/vocab.bpe", root);
    hh_vocab_t *v = NULL;
    hh_err_t err;
    if (hh_vocab_load_bpe_files(&v, enc, bpe, "llama-bpe", added, sizeof added / sizeof added[0], &err))
        die(enc, err.msg);
    return v;
}

static bool single_byte_round_trips(const hh_vocab_t *v, unsigned char b)
{
    char c = (char)b, *back = NULL;
    int32_t *ids = NULL;
    size_t n = 0, bl = 0;
    bool ok = !hh_tokenize(v, &c, 1, false, false, &ids, &n, NULL) &&
              !hh_detokenize(v, ids, n, false, &back, &bl) && bl == 1 && back[0] == c;
    free(ids);
    free(back);
    return ok;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *root = getenv("HOHEIT_TESTDATA");
    if (!root || !*root)
        root = "../shared/testdata";
    for (size_t i = 0; i <= N_GGUF; i++) {
        fz_vocab_t *f = &g_vocabs[g_n_vocabs++];
        if (i < N_GGUF) {
            char path[4096];
            snprintf(path, sizeof path, "%s/vocab/ggml-vocab-%s.gguf", root, GGUF_NAMES[i]);
            f->name = GGUF_NAMES[i];
            f->v = load_gguf(path);
        } else {
            f->name = "llama3.2 files";
            f->v = load_llama3(root);
        }
        for (int b = 0; b < 256 && hh_vocab_kind(f->v) != HH_VOCAB_WPM; b++) {
            f->byte_ok[b] = single_byte_round_trips(f->v, (unsigned char)b);
            f->n_byte_ok += f->byte_ok[b];
        }
        f->chunk_cap = 3 * ((size_t)hh_vocab_max_token_len(f->v) + 3);
        fprintf(stderr, "fuzz_tok: %s loaded, %d of 256 bytes round-trip alone\n", f->name, f->n_byte_ok);
    }
    return 0;
}

/* Strict UTF-8 (no overlongs, surrogates or code points past U+10FFFF). */
static bool utf8_valid(const uint8_t *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        uint8_t c = s[i];
        size_t need = c < 0x80 ? 1 : (c >= 0xC2 && c <= 0xDF) ? 2 : (c >= 0xE0 && c <= 0xEF) ? 3
                    : (c >= 0xF0 && c <= 0xF4) ? 4 : 0;
        if (!need || need > n - i)
            return false;
        for (size_t k = 1; k < need; k++)
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
        if (need >= 3) {
            uint8_t c1 = s[i + 1];
            if ((c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 >= 0xA0) || (c == 0xF0 && c1 < 0x90) ||
                (c == 0xF4 && c1 >= 0x90))
                return false;
        }
        i += need;
    }
    return true;
}

static void fail(const fz_vocab_t *f, const char *what, size_t a, size_t b)
{
    fprintf(stderr, "fuzz_tok: %s: %s (%zu, %zu)\n", f->name, what, a, b);
    __builtin_trap();
}

/* One vocabulary, one mode: tokenize, check ids, detokenize, stream. */
static void check(const fz_vocab_t *f, const uint8_t *data, size_t size, bool parse_special, bool text_utf8,
                  bool has_2581, char *chunk)
{
    const hh_vocab_t *v = f->v;
    int32_t *ids = NULL;
    size_t n = 0;
    char *back = NULL;
    size_t bl = 0;
    if (hh_tokenize(v, (const char *)data, size, parse_special, parse_special, &ids, &n, NULL))
        fail(f, "tokenize failed", size, 0);
    int32_t n_tok = hh_vocab_n_tokens(v);
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= n_tok)
            fail(f, "id out of range", i, (size_t)ids[i]);
    if (hh_detokenize(v, ids, n, false, &back, &bl) || back[bl] != '\0')
        fail(f, "detokenize failed", n, 0);

    bool exact = !parse_special && hh_vocab_kind(v) != HH_VOCAB_WPM && !(hh_vocab_kind(v) == HH_VOCAB_SPM && has_2581);
    for (size_t i = 0; i < size && exact; i++)
        exact = f->byte_ok[data[i]];
    if (exact && (bl != size || memcmp(back, data, size)))
        fail(f, "round trip differs (input, output bytes)", size, bl);

    hh_detok_t d;
    hh_detok_init(&d, v, parse_special);
    /* Invalid bytes stream as U+FFFD, so only valid UTF-8 streams back as is. */
    bool stream_exact = exact && text_utf8;
    size_t sl = 0;
    for (size_t i = 0; i <= n; i++) {
        int c = i < n ? hh_detok_push(&d, ids[i], chunk, f->chunk_cap) : hh_detok_flush(&d, chunk, f->chunk_cap);
        if (c < 0)
            fail(f, "stream push failed (token, code)", i, (size_t)-c);
        if (!utf8_valid((const uint8_t *)chunk, (size_t)c))
            fail(f, "stream chunk is not valid UTF-8 (token, bytes)", i, (size_t)c);
        if (stream_exact && (sl + (size_t)c > size || memcmp(data + sl, chunk, (size_t)c) != 0))
            fail(f, "stream differs from input (token, offset)", i, sl);
        sl += (size_t)c;
    }
    if (stream_exact && sl != size)
        fail(f, "stream length differs (input, streamed)", size, sl);
    free(ids);
    free(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t cap = 0;
    for (size_t i = 0; i < g_n_vocabs; i++)
        if (g_vocabs[i].chunk_cap > cap)
            cap = g_vocabs[i].chunk_cap;
    char *chunk = malloc(cap);
    if (!chunk)
        return 0;
    bool text_utf8 = utf8_valid(data, size);
    bool has_2581 = size >= 3 && memmem(data, size, "\xe2\x96\x81", 3) != NULL;
    for (size_t i = 0; i < g_n_vocabs; i++)
        for (int ps = 0; ps < 2; ps++)
            check(&g_vocabs[i], data, size, ps != 0, text_utf8, has_2581, chunk);
    free(chunk);
    return 0;
}
