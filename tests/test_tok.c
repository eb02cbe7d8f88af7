/* test_tok.c - tokenizers against llama.cpp's test vectors (every
 * vocab/NAME.gguf with its .inp/.out, plus llama-bpe built from the Llama 3.2
 * encoder.json + vocab.bpe), round trips over generated UTF-8, the
 * streaming detokenizer, special tokens, BERT reference ids, stories260K. */
#include "harness.h"
#include "tok/tok.h"

#include <cjson/cJSON.h>
#include <glob.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MARKER "\n__ggml_vocab_test__\n"

/* Loads a vocabulary: a GGUF path, or NULL gguf for llama-bpe from the
 * Llama 3.2 files (with its 256 special tokens when specials). */
static hh_vocab_t *load_gguf_vocab(const char *path)
{
    hh_gguf_params_t p = hh_gguf_default_params();
    p.no_data = true;
    hh_gguf_t *g = NULL;
    hh_err_t err;
    if (hh_gguf_open(&g, path, &p, &err)) {
        fprintf(stderr, "  open %s: %s\n", path, err.msg);
        return NULL;
    }
    hh_vocab_t *v = NULL;
    if (hh_vocab_load(&v, g, &err))
        fprintf(stderr, "  vocab %s: %s\n", path, err.msg);
    hh_gguf_close(g);
    return v;
}

static hh_vocab_t *load_llama3(void)
{
    static char names[256][40];
    const char *added[256];
    for (int i = 0; i < 256; i++) {
        static const char *const fixed[] = {
            "<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>",
            "<|reserved_special_token_1|>", "<|finetune_right_pad_id|>", "<|reserved_special_token_2|>",
            "<|start_header_id|>", "<|end_header_id|>", "<|eom_id|>", "<|eot_id|>", "<|python_tag|>",
        };
        if (i < 11)
            snprintf(names[i], sizeof names[i], "%s", fixed[i]);
        else
            snprintf(names[i], sizeof names[i], "<|reserved_special_token_%d|>", i - 8);
        added[i] = names[i];
    }
    char enc[1024], bpe[1024];
    snprintf(enc, sizeof enc, "%s", hh_test_data_path("tokenizers/llama3.2/encoder.json"));
    snprintf(bpe, sizeof bpe, "%s", hh_test_data_path("tokenizers/llama3.2/vocab.bpe"));
    hh_vocab_t *v = NULL;
    hh_err_t err;
    if (hh_vocab_load_bpe_files(&v, enc, bpe, "llama-bpe", added, 256, &err))
        fprintf(stderr, "  llama3.2 files: %s\n", err.msg);
    return v;
}

/* Runs every case of inp/out; returns the number of mismatches (or -1 if
 * the files cannot be read) and the case count in *n_cases. */
static int check_cases(const hh_vocab_t *v, const char *name, const char *inp_path, const char *out_path,
                       int *n_cases)
{
    size_t il, ol;
    char *inp = hh_test_read_file(inp_path, &il), *outs = hh_test_read_file(out_path, &ol);
    int bad = -1;
    *n_cases = 0;
    if (!inp || !outs)
        goto done;
    bad = 0;
    char *p = inp, *end = inp + il, *line = outs, *oend = outs + ol;
    while (p < end) {
        char *m = memmem(p, (size_t)(end - p), MARKER, strlen(MARKER));
        if (!m)
            break;
        char *nl = memchr(line, '\n', (size_t)(oend - line));
        if (!nl)
            nl = oend;
        int32_t exp[4096];
        size_t ne = 0;
        for (char *q = line; q < nl && ne < 4096;) {
            char *e;
            long x = strtol(q, &e, 10);
            if (e == q)
                break;
            exp[ne++] = (int32_t)x;
            q = e;
        }
        int32_t *ids = NULL;
        size_t n = 0;
        hh_err_t err;
        int rc = hh_tokenize(v, p, (size_t)(m - p), false, false, &ids, &n, &err);
        bool ok = rc == 0 && n == ne && (n == 0 || !memcmp(ids, exp, n * sizeof *ids));
        if (!ok) {
            bad++;
            if (bad <= 3) {
                fprintf(stderr, "  %s case %d \"%.*s\": rc %d\n    expected:", name, *n_cases, (int)(m - p), p, rc);
                for (size_t k = 0; k < ne; k++)
                    fprintf(stderr, " %d", exp[k]);
                fprintf(stderr, "\n    got:     ");
                for (size_t k = 0; k < n; k++)
                    fprintf(stderr, " %d", ids[k]);
                fprintf(stderr, "\n");
            }
        }
        free(ids);
        (*n_cases)++;
        p = m + strlen(MARKER);
        line = nl < oend ? nl + 1 : oend;
    }
done:
    free(inp);
    free(outs);
    return bad;
}

TEST(tok_vocab_vectors_all_match)
{
    char pat[1024];
    snprintf(pat, sizeof pat, "%s", hh_test_data_path("vocab/*.gguf.inp"));
    glob_t gl;
    ASSERT_EQ_INT(glob(pat, 0, NULL, &gl), 0);
    int total_bad = 0, n_vocabs = 0, skipped = 0;
    for (size_t i = 0; i < gl.gl_pathc; i++) {
        char gguf[1024], out[1100];
        const char *inp = gl.gl_pathv[i];
        size_t l = strlen(inp);
        snprintf(gguf, sizeof gguf, "%.*s", (int)(l - 4), inp);
        snprintf(out, sizeof out, "%s.out", gguf);
        const char *name = strrchr(gguf, '/') + 1;
        hh_vocab_t *v = NULL;
        FILE *f = fopen(gguf, "rb");
        if (f) {
            fclose(f);
            v = load_gguf_vocab(gguf);
        } else if (strstr(name, "llama-bpe")) {
            v = load_llama3();
        } else {
            fprintf(stderr, "  %s: no vocabulary shipped, skipped\n", name);
            skipped++;
            continue;
        }
        if (!v) {
            hh_test_fail(__FILE__, __LINE__, "%s: vocabulary did not load", name);
            total_bad++;
            continue;
        }
        int n_cases;
        int bad = check_cases(v, name, inp, out, &n_cases);
        fprintf(stderr, "  %s: %d/%d cases match\n", name, bad < 0 ? 0 : n_cases - bad, n_cases);
        if (bad != 0 || n_cases == 0) {
            hh_test_fail(__FILE__, __LINE__, "%s: %d of %d cases differ", name, bad, n_cases);
            total_bad++;
        }
        n_vocabs++;
        hh_vocab_free(v);
    }
    globfree(&gl);
    ASSERT_GE(n_vocabs, 11);
    ASSERT_LE(skipped, 1);
    ASSERT_EQ_INT(total_bad, 0);
}

/* ---- round trips ------------------------------------------------------------ */

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static size_t put_cp(char *o, uint32_t c)
{
    if (c < 0x80) { o[0] = (char)c; return 1; }
    if (c < 0x800) { o[0] = (char)(0xC0 | (c >> 6)); o[1] = (char)(0x80 | (c & 0x3F)); return 2; }
    if (c < 0x10000) {
        o[0] = (char)(0xE0 | (c >> 12)); o[1] = (char)(0x80 | ((c >> 6) & 0x3F)); o[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (c >> 18)); o[1] = (char)(0x80 | ((c >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((c >> 6) & 0x3F)); o[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

/* A random valid UTF-8 text of about max_len bytes from fragments that
 * stress tokenizers (no U+2581: SPM cannot tell it from a space). */
static size_t gen_text(uint64_t *rng, char *o, size_t max_len)
{
    static const char *const FRAG[] = {
        "Grüße aus München, die Straße ist schön. ", "ÄÖÜäöüß ẞ", "🦙🎉👨‍👩‍👧 ✅", "日本語のテキスト。", "中文测试，",
        "한국어 문장", "int main(void) {\n\treturn 0;\n}\n", "    ", "\n\n\n", "\t", " ", "  x  ", "y'all 're 'S",
        "1234567", "3.14159", "<s>", "</s>", "<|endoftext|>", "[CLS]", "e\xcc\x81 caf\xc3\xa9", "\xc2\xa0nbsp",
        "Ⅻ ﬁ ½", "Hello World!", " Hello", "\r\n", "ញុំ", "Привет, мир", "👍🏽", "<0x41>", "▅", "  \n  ",
        "for (i = 0; i < n; i++) x += a[i] * b[i];", "$$ \\frac{1}{2} $$", "ـــ", "\x01\x02\x7f",
    };
    size_t n = 0;
    while (n + 64 < max_len) {
        uint64_t r = rng_next(rng);
        if (r % 4 == 0) {
            /* a random code point from a random plane */
            static const uint32_t BASE[] = { 0x20, 0xA0, 0x370, 0x600, 0x900, 0x3040, 0x4E00, 0xAC00, 0xFF00,
                                             0x1F300, 0x20000, 0xE000 };
            uint32_t c = BASE[(r >> 8) % 12] + (uint32_t)((r >> 16) % 0x300);
            if (c == 0x2581)
                c = 0x2582;
            n += put_cp(o + n, c);
        } else {
            const char *f = FRAG[(r >> 8) % (sizeof FRAG / sizeof FRAG[0])];
            size_t fl = strlen(f);
            memcpy(o + n, f, fl);
            n += fl;
        }
    }
    return n;
}

static bool utf8_valid(const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        size_t need = c < 0x80 ? 1 : (c >= 0xC2 && c <= 0xDF) ? 2 : (c >= 0xE0 && c <= 0xEF) ? 3
                    : (c >= 0xF0 && c <= 0xF4) ? 4 : 0;
        if (!need || need > n - i)
            return false;
        for (size_t k = 1; k < need; k++)
            if (((unsigned char)s[i + k] & 0xC0) != 0x80)
                return false;
        i += need;
    }
    return true;
}

/* Round trip and streaming over n_texts generated texts; 0 or a failure
 * message already reported. */
static int check_round_trip(const hh_vocab_t *v, const char *name, int n_texts)
{
    uint64_t rng = 0x9E3779B97F4A7C15ull;
    char text[2048];
    char chunk[4096];
    char *streamed = malloc(1 << 16);
    if (!streamed)
        return -1;
    int bad = 0;
    for (int t = 0; t < n_texts && bad < 3; t++) {
        size_t len = gen_text(&rng, text, 64 + (size_t)(rng_next(&rng) % 1900));
        int32_t *ids = NULL;
        size_t n = 0;
        char *back = NULL;
        size_t bl = 0;
        if (hh_tokenize(v, text, len, false, false, &ids, &n, NULL) ||
            hh_detokenize(v, ids, n, false, &back, &bl)) {
            fprintf(stderr, "  %s: text %d: tokenize/detokenize failed\n", name, t);
            bad++;
        } else if (bl != len || memcmp(back, text, len)) {
            size_t k = 0;
            while (k < len && k < bl && back[k] == text[k])
                k++;
            fprintf(stderr, "  %s: text %d: round trip differs at byte %zu:\n    expected \"%.*s\"\n    got      \"%.*s\"\n",
                    name, t, k, (int)(len - k < 40 ? len - k : 40), text + k, (int)(bl - k < 40 ? bl - k : 40), back + k);
            bad++;
        } else {
            /* Streaming: every chunk valid UTF-8, concatenation equal. */
            hh_detok_t d;
            hh_detok_init(&d, v, false);
            size_t sl = 0;
            for (size_t i = 0; i < n; i++) {
                int c = hh_detok_push(&d, ids[i], chunk, sizeof chunk);
                if (c < 0 || !utf8_valid(chunk, (size_t)c) || sl + (size_t)c > (1 << 16)) {
                    fprintf(stderr, "  %s: text %d: token %zu: bad stream chunk (%d)\n", name, t, i, c);
                    bad++;
                    break;
                }
                memcpy(streamed + sl, chunk, (size_t)c);
                sl += (size_t)c;
            }
            int c = hh_detok_flush(&d, chunk, sizeof chunk);
            if (c != 0 || sl != len || memcmp(streamed, text, len)) {
                fprintf(stderr, "  %s: text %d: streamed text differs (flush %d, %zu vs %zu bytes)\n", name, t, c,
                        sl, len);
                bad++;
            }
        }
        free(ids);
        free(back);
    }
    free(streamed);
    return bad;
}

TEST(tok_round_trip_and_streaming_every_spm_bpe_vocab)
{
    char pat[1024];
    snprintf(pat, sizeof pat, "%s", hh_test_data_path("vocab/*.gguf"));
    glob_t gl;
    ASSERT_EQ_INT(glob(pat, 0, NULL, &gl), 0);
    int n_checked = 0, failed = 0;
    for (size_t i = 0; i <= gl.gl_pathc; i++) {
        hh_vocab_t *v = i < gl.gl_pathc ? load_gguf_vocab(gl.gl_pathv[i]) : load_llama3();
        const char *name = i < gl.gl_pathc ? strrchr(gl.gl_pathv[i], '/') + 1 : "llama3.2 files";
        if (!v) {
            hh_test_fail(__FILE__, __LINE__, "%s: vocabulary did not load", name);
            failed++;
            continue;
        }
        if (hh_vocab_kind(v) != HH_VOCAB_WPM) {
            int bad = check_round_trip(v, name, 40);
            fprintf(stderr, "  %s: round trip %s\n", name, bad ? "FAILED" : "ok (40 texts)");
            failed += bad != 0;
            n_checked++;
        }
        hh_vocab_free(v);
    }
    globfree(&gl);
    ASSERT_GE(n_checked, 10);
    ASSERT_EQ_INT(failed, 0);
}

/* ---- special tokens, reference ids, stories260K, CLI, speed ----------------- */

static bool has_id(const int32_t *ids, size_t n, int32_t id)
{
    for (size_t i = 0; i < n; i++)
        if (ids[i] == id)
            return true;
    return false;
}

TEST(tok_special_tokens_only_when_asked)
{
    hh_vocab_t *v = load_llama3();
    ASSERT_TRUE(v != NULL);
    ASSERT_EQ_INT(hh_vocab_n_tokens(v), 128256);
    ASSERT_EQ_INT(hh_vocab_bos(v), 128000);
    ASSERT_EQ_INT(hh_vocab_eot(v), 128009);
    ASSERT_TRUE(hh_vocab_add_bos(v));
    ASSERT_TRUE(hh_vocab_is_eog(v, 128009));   /* <|eot_id|> */
    ASSERT_TRUE(hh_vocab_is_eog(v, 128001));   /* <|end_of_text|> */
    ASSERT_TRUE(hh_vocab_is_eog(v, 128008));   /* <|eom_id|> */
    ASSERT_FALSE(hh_vocab_is_eog(v, 128000));
    ASSERT_FALSE(hh_vocab_is_eog(v, 9906));
    ASSERT_STREQ(hh_vocab_pre(v), "llama3");

    const char *t = "<|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|>";
    int32_t *ids = NULL;
    size_t n = 0;
    ASSERT_OK(hh_tokenize(v, t, strlen(t), true, true, &ids, &n, NULL));
    int32_t exp[] = { 128000, 128006, 882, 128007, 271, 9906, 128009 };
    ASSERT_EQ_INT(n, 7);
    for (size_t i = 0; i < n; i++)
        ASSERT_EQ_INT(ids[i], exp[i]);
    char *back = NULL;
    size_t bl = 0;
    /* Control tokens render only when asked. */
    ASSERT_OK(hh_detokenize(v, ids, n, false, &back, &bl));
    ASSERT_STREQ(back, "user\n\nHello");
    free(back);
    ASSERT_OK(hh_detokenize(v, ids + 1, n - 1, true, &back, &bl));
    ASSERT_STREQ(back, t);
    free(back);
    free(ids);
    /* Without parse_special the markers are plain text. */
    ASSERT_OK(hh_tokenize(v, t, strlen(t), false, false, &ids, &n, NULL));
    for (size_t i = 0; i < n; i++)
        ASSERT_TRUE(ids[i] < 128000);
    ASSERT_OK(hh_detokenize(v, ids, n, false, &back, &bl));
    ASSERT_STREQ(back, t);
    free(back);
    free(ids);
    hh_vocab_free(v);

    /* SPM: <s> is a control token; a space prefix follows it. */
    v = load_gguf_vocab(hh_test_data_path("vocab/ggml-vocab-llama-spm.gguf"));
    ASSERT_TRUE(v != NULL);
    ASSERT_EQ_INT(hh_vocab_kind(v), HH_VOCAB_SPM);
    /* "a<s>b" = tok("a") <s> tok("b"): both fragments get the prefix. */
    int32_t *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    ASSERT_OK(hh_tokenize(v, "a", 1, false, false, &a, &na, NULL));
    ASSERT_OK(hh_tokenize(v, "b", 1, false, false, &b, &nb, NULL));
    ASSERT_OK(hh_tokenize(v, "a<s>b", 5, false, true, &ids, &n, NULL));
    bool ok = na == 1 && nb == 1 && n == 3 && ids[0] == a[0] && ids[1] == 1 && ids[2] == b[0];
    int32_t first = a[0];
    free(a);
    free(b);
    free(ids);
    ASSERT_TRUE(ok);
    ASSERT_OK(hh_tokenize(v, "a<s>b", 5, false, false, &ids, &n, NULL));
    ok = !has_id(ids, n, 1) && n > 2 && ids[0] == first;
    free(ids);
    ASSERT_TRUE(ok);
    ASSERT_TRUE(hh_vocab_is_eog(v, 2));
    ASSERT_FALSE(hh_vocab_is_eog(v, 1));
    hh_vocab_free(v);

    /* Phi-3: <|end|> ends a turn. */
    v = load_gguf_vocab(hh_test_data_path("vocab/ggml-vocab-phi-3.gguf"));
    ASSERT_TRUE(v != NULL);
    int32_t end = hh_vocab_find(v, "<|end|>", 7);
    ASSERT_TRUE(end >= 0);
    ASSERT_TRUE(hh_vocab_is_eog(v, end));
    hh_vocab_free(v);
}

TEST(tok_bert_reference_ids_with_cls_sep)
{
    size_t jl;
    char *js = hh_test_read_file(hh_test_data_path("reference/bert-q8_0.tokens.json"), &jl);
    ASSERT_TRUE(js != NULL);
    cJSON *root = cJSON_ParseWithLength(js, jl);
    free(js);
    ASSERT_TRUE(root != NULL);
    hh_vocab_t *v = load_gguf_vocab(hh_test_data_path("vocab/ggml-vocab-bert-bge.gguf"));
    if (!v)
        cJSON_Delete(root);
    ASSERT_TRUE(v != NULL);
    int n_inputs = 0, bad = 0;
    cJSON *in;
    cJSON_ArrayForEach(in, cJSON_GetObjectItem(root, "inputs")) {
        const char *text = cJSON_GetStringValue(cJSON_GetObjectItem(in, "text"));
        cJSON *exp = cJSON_GetObjectItem(in, "ids");
        int32_t *ids = NULL;
        size_t n = 0;
        if (!text || hh_tokenize(v, text, strlen(text), true, false, &ids, &n, NULL)) {
            bad++;
            continue;
        }
        bool same = (int)n == cJSON_GetArraySize(exp);
        for (size_t i = 0; same && i < n; i++)
            same = ids[i] == (int32_t)cJSON_GetArrayItem(exp, (int)i)->valuedouble;
        if (!same) {
            fprintf(stderr, "  \"%s\": %zu ids, expected %d:", text, n, cJSON_GetArraySize(exp));
            for (size_t i = 0; i < n; i++)
                fprintf(stderr, " %d", ids[i]);
            fprintf(stderr, "\n");
            bad++;
        }
        free(ids);
        n_inputs++;
    }
    cJSON_Delete(root);
    ASSERT_EQ_INT(hh_vocab_bos(v), 101);
    ASSERT_EQ_INT(hh_vocab_eos(v), 102);
    hh_vocab_free(v);
    ASSERT_EQ_INT(n_inputs, 4);
    ASSERT_EQ_INT(bad, 0);
}

TEST(tok_stories260k_spm_byte_fallback)
{
    hh_vocab_t *v = load_gguf_vocab(hh_test_data_path("models/stories260K.gguf"));
    ASSERT_TRUE(v != NULL);
    ASSERT_EQ_INT(hh_vocab_n_tokens(v), 512);
    int32_t *ids = NULL;
    size_t n = 0;
    const char *t = "Once upon a time";
    ASSERT_OK(hh_tokenize(v, t, strlen(t), true, false, &ids, &n, NULL));
    /* BOS, then fewer tokens than characters, no byte tokens for ASCII words. */
    bool plausible = n >= 2 && n < 10 && ids[0] == 1 && !has_id(ids + 1, n - 1, 1);
    for (size_t i = 1; i < n; i++)
        plausible = plausible && ids[i] >= 259;
    char *back = NULL;
    size_t bl = 0;
    int rc = hh_detokenize(v, ids, n, false, &back, &bl);
    free(ids);
    ASSERT_TRUE(plausible);
    ASSERT_OK(rc);
    ASSERT_STREQ(back, t);
    free(back);
    /* Characters outside the 512 tokens fall back to <0xNN>. */
    const char *u = "Grüße 🦙";
    ASSERT_OK(hh_tokenize(v, u, strlen(u), false, false, &ids, &n, NULL));
    int n_bytes = 0;
    for (size_t i = 0; i < n; i++)
        n_bytes += !strncmp(hh_vocab_text(v, ids[i]), "<0x", 3);
    rc = hh_detokenize(v, ids, n, false, &back, &bl);
    free(ids);
    ASSERT_OK(rc);
    ASSERT_STREQ(back, u);
    free(back);
    ASSERT_GE(n_bytes, 4);
    /* The reference greedy story detokenizes to its recorded text. */
    size_t jl;
    char *js = hh_test_read_file(hh_test_data_path("models/stories260K.expected.json"), &jl);
    cJSON *root = js ? cJSON_ParseWithLength(js, jl) : NULL;
    free(js);
    cJSON *gen = cJSON_GetObjectItem(root, "generated_ids");
    const char *exp = cJSON_GetStringValue(cJSON_GetObjectItem(root, "generated_text"));
    int ng = cJSON_GetArraySize(gen);
    int32_t *gids = malloc(sizeof *gids * (size_t)(ng + 1));
    gids[0] = 1;
    for (int i = 0; i < ng; i++)
        gids[i + 1] = (int32_t)cJSON_GetArrayItem(gen, i)->valuedouble;
    rc = hh_detokenize(v, gids, (size_t)ng + 1, false, &back, &bl);
    free(gids);
    bool same = rc == 0 && exp && !strcmp(back, exp);
    if (!same)
        fprintf(stderr, "  expected \"%.80s\"\n  got      \"%.80s\"\n", exp ? exp : "(none)", back ? back : "");
    free(back);
    cJSON_Delete(root);
    hh_vocab_free(v);
    ASSERT_TRUE(ng > 0);
    ASSERT_TRUE(same);
}

TEST(tok_cli_tokenize_prints_ids)
{
    const char *bin = getenv("HOHEIT_BIN");
    if (!bin) SKIP("HOHEIT_BIN not set");
    const char *vocab = hh_test_data_path("vocab/ggml-vocab-gpt-2.gguf");
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' tokenize -m '%s' --ids ' Hello World!  \\n'", bin, vocab);
    FILE *p = popen(cmd, "r");
    ASSERT_TRUE(p != NULL);
    char line[512] = "";
    char *got = fgets(line, sizeof line, p);
    int st = pclose(p);
    ASSERT_TRUE(got != NULL);
    ASSERT_EQ_INT(st, 0);
    hh_vocab_t *v = load_gguf_vocab(vocab);
    ASSERT_TRUE(v != NULL);
    int32_t *ids = NULL;
    size_t n = 0;
    /* Verbatim: the backslash-n stays two characters. */
    int rc = hh_tokenize(v, " Hello World!  \\n", 17, false, false, &ids, &n, NULL);
    hh_vocab_free(v);
    ASSERT_OK(rc);
    char exp[512] = "[";
    for (size_t i = 0; i < n; i++)
        snprintf(exp + strlen(exp), sizeof exp - strlen(exp), "%s%d", i ? "," : "", ids[i]);
    strcat(exp, "]\n");
    free(ids);
    ASSERT_STREQ(line, exp);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Long inputs stay linear-ish: 1 MB of mixed text through SPM (one long
 * fragment, heap merges) and byte-level BPE. */
TEST(tok_long_text_throughput)
{
    size_t cap = 1 << 20;
    char *text = malloc(cap + 2048);
    ASSERT_TRUE(text != NULL);
    uint64_t rng = 42;
    size_t len = 0;
    while (len < cap)
        len += gen_text(&rng, text + len, 2000);
    static const char *const VOCABS[] = { "vocab/ggml-vocab-llama-spm.gguf", "vocab/ggml-vocab-gpt-2.gguf",
                                          "vocab/ggml-vocab-bert-bge.gguf" };
    for (int k = 0; k < 3; k++) {
        hh_vocab_t *v = load_gguf_vocab(hh_test_data_path(VOCABS[k]));
        if (!v)
            free(text);
        ASSERT_TRUE(v != NULL);
        int32_t *ids = NULL;
        size_t n = 0;
        double t0 = now_s();
        int rc = hh_tokenize(v, text, len, false, false, &ids, &n, NULL);
        double dt = now_s() - t0;
        free(ids);
        hh_vocab_free(v);
        fprintf(stderr, "  %s: %.2f MB in %.3f s = %.1f MB/s, %zu tokens\n", VOCABS[k], len / 1e6, dt,
                len / 1e6 / dt, n);
        if (rc || dt > 10.0)
            free(text);
        ASSERT_OK(rc);
        ASSERT_LE(dt, 10.0);
    }
    free(text);
}

/* True when every single byte tokenizes and detokenizes to itself (some
 * byte-level vocabularies have no tokens for bytes that valid UTF-8 never
 * holds: C0, C1, F5-FF). */
static bool covers_all_bytes(const hh_vocab_t *v)
{
    for (int b = 0; b < 256; b++) {
        char c = (char)b, *back = NULL;
        int32_t *ids = NULL;
        size_t n = 0, bl = 0;
        bool ok = !hh_tokenize(v, &c, 1, false, false, &ids, &n, NULL) &&
                  !hh_detokenize(v, ids, n, false, &back, &bl) && bl == 1 && back[0] == c;
        free(ids);
        free(back);
        if (!ok)
            return false;
    }
    return true;
}

/* Arbitrary bytes (invalid UTF-8 included): no failure anywhere; exact
 * round trip for every SPM/BPE vocabulary that covers all 256 bytes; stream
 * chunks stay valid UTF-8 (U+FFFD for bytes that never form a character). */
TEST(tok_random_bytes_every_family)
{
    static const char *const VOCABS[] = { "vocab/ggml-vocab-llama-spm.gguf", "vocab/ggml-vocab-gpt-2.gguf",
                                          "vocab/ggml-vocab-starcoder.gguf", "vocab/ggml-vocab-bert-bge.gguf",
                                          "vocab/ggml-vocab-deepseek-llm.gguf", "vocab/ggml-vocab-phi-3.gguf" };
    int n_exact = 0;
    uint64_t rng = 7;
    char text[512], chunk[4096];
    for (int k = 0; k < 6; k++) {
        hh_vocab_t *v = load_gguf_vocab(hh_test_data_path(VOCABS[k]));
        ASSERT_TRUE(v != NULL);
        bool exact = hh_vocab_kind(v) != HH_VOCAB_WPM && covers_all_bytes(v);
        n_exact += exact;
        int bad = 0;
        for (int t = 0; t < 100 && !bad; t++) {
            size_t len = rng_next(&rng) % sizeof text;
            for (size_t i = 0; i < len; i++) {
                text[i] = (char)rng_next(&rng);
                /* SPM cannot tell U+2581 from a space: keep its lead byte out. */
                if (hh_vocab_kind(v) == HH_VOCAB_SPM && (unsigned char)text[i] == 0xE2)
                    text[i] = 'x';
            }
            int32_t *ids = NULL;
            size_t n = 0;
            char *back = NULL;
            size_t bl = 0;
            if (hh_tokenize(v, text, len, true, true, &ids, &n, NULL) ||
                hh_detokenize(v, ids, n, false, &back, &bl)) {
                bad = 1;
            } else if (exact && (bl != len || memcmp(back, text, len))) {
                fprintf(stderr, "  %s: random text %d does not round-trip (%zu vs %zu bytes)\n", VOCABS[k], t, bl,
                        len);
                bad = 1;
            } else {
                hh_detok_t d;
                hh_detok_init(&d, v, true);
                for (size_t i = 0; i < n && !bad; i++) {
                    int c = hh_detok_push(&d, ids[i], chunk, sizeof chunk);
                    bad = c < 0 || !utf8_valid(chunk, (size_t)c);
                }
                int c = hh_detok_flush(&d, chunk, sizeof chunk);
                bad = bad || c < 0 || !utf8_valid(chunk, (size_t)c);
            }
            free(ids);
            free(back);
        }
        hh_vocab_free(v);
        ASSERT_EQ_INT(bad, 0);
    }
    ASSERT_GE(n_exact, 3);   /* llama-spm, phi-3 (byte fallback), gpt-2 */
}
