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
