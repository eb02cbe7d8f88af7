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
