/* bench_tok.c - tokenizer throughput: tokenizes text files with one
 * vocabulary per tokenizer family (SPM, byte-level BPE pre-tokenizers,
 * WordPiece) and prints a markdown table of MB/s and tokens/s.
 *
 *   bench_tok [-r REPS] TESTDATA_DIR LABEL=FILE [LABEL=FILE ...]
 *
 * Each file is tokenized in chunks of at most 64 KiB cut after a newline
 * (prompt-sized pieces, as a server sees them), without BOS/EOS or special
 * parsing. Time is the best of REPS passes (default 3). A hash of all ids
 * goes to stderr, so a speed change can be checked not to change results.
 * BENCH_TOK_ONLY=SUBSTRING limits the run to vocabularies whose name holds it. */
#include "tok/tok.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHUNK_MAX (64u << 10)
#define MAX_FILES 8

typedef struct bench_file {
    const char *label;
    char       *text;
    size_t      len;
} bench_file_t;

typedef struct bench_vocab {
    const char *name;     /* row label */
    const char *family;   /* tokenizer family shown in the table */
    const char *gguf;     /* vocab/ggml-vocab-NAME.gguf, or NULL: Llama 3.2 files */
    const char *pre;      /* pre-tokenizer for the Llama 3.2 files */
} bench_vocab_t;

static const bench_vocab_t VOCABS[] = {
    { "llama-spm", "SPM", "llama-spm", NULL },
    { "phi-3", "SPM", "phi-3", NULL },
    { "gpt-2", "BPE gpt-2", "gpt-2", NULL },
    { "llama3.2 (files)", "BPE llama3", NULL, "llama-bpe" },
    { "llama3.2 vocab, qwen2 pre", "BPE qwen2", NULL, "qwen2" },
    { "deepseek-llm", "BPE deepseek-llm", "deepseek-llm", NULL },
    { "deepseek-coder", "BPE deepseek-coder", "deepseek-coder", NULL },
    { "falcon", "BPE falcon", "falcon", NULL },
    { "starcoder", "BPE starcoder", "starcoder", NULL },
    { "bert-bge", "WordPiece", "bert-bge", NULL },
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    long n;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = malloc((size_t)n + 1)) != NULL) {
        if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
            free(buf);
            buf = NULL;
        } else {
            buf[n] = '\0';
            *len = (size_t)n;
        }
    }
    fclose(f);
    return buf;
}

static hh_vocab_t *load_vocab(const char *root, const bench_vocab_t *bv)
{
    char p1[4096], p2[4096];
    hh_vocab_t *v = NULL;
    hh_err_t err;
    if (bv->gguf) {
        snprintf(p1, sizeof p1, "%s/vocab/ggml-vocab-%s.gguf", root, bv->gguf);
        hh_gguf_params_t gp = hh_gguf_default_params();
        gp.no_data = true;
        hh_gguf_t *g = NULL;
        if (hh_gguf_open(&g, p1, &gp, &err)) {
            fprintf(stderr, "bench_tok: %s: %s\n", p1, err.msg);
            return NULL;
        }
        if (hh_vocab_load(&v, g, &err))
            fprintf(stderr, "bench_tok: %s: %s\n", p1, err.msg);
        hh_gguf_close(g);
        return v;
    }
    snprintf(p1, sizeof p1, "%s/tokenizers/llama3.2/encoder.json", root);
    snprintf(p2, sizeof p2, "%s/tokenizers/llama3.2/vocab.bpe", root);
    if (hh_vocab_load_bpe_files(&v, p1, p2, bv->pre, NULL, 0, &err))
        fprintf(stderr, "bench_tok: %s: %s\n", p1, err.msg);
    return v;
}

/* One pass over a file; adds the token count to *n_tok and the ids to *hash. */
static int tokenize_file(const hh_vocab_t *v, const bench_file_t *f, size_t *n_tok, uint64_t *hash)
{
    for (size_t off = 0; off < f->len;) {
        size_t n = f->len - off;
        if (n > CHUNK_MAX) {
            n = CHUNK_MAX;
            while (n > 1 && f->text[off + n - 1] != '\n')
                n--;
            if (n == 1)
                n = CHUNK_MAX;
        }
        int32_t *ids = NULL;
        size_t n_ids = 0;
        hh_err_t err;
        int rc = hh_tokenize(v, f->text + off, n, false, false, &ids, &n_ids, &err);
        if (rc) {
            fprintf(stderr, "bench_tok: tokenize: %s\n", err.msg);
            return rc;
        }
        for (size_t i = 0; i < n_ids; i++)
            *hash = (*hash ^ (uint32_t)ids[i]) * 0x100000001b3ull;
        *n_tok += n_ids;
        free(ids);
        off += n;
    }
    return 0;
}

int main(int argc, char **argv)
{
    int reps = 3, a = 1;
    if (argc > 2 && !strcmp(argv[1], "-r")) {
        reps = atoi(argv[2]);
        a = 3;
    }
    if (reps < 1 || argc - a < 2 || argc - a - 1 > MAX_FILES) {
        fprintf(stderr, "usage: bench_tok [-r REPS] TESTDATA_DIR LABEL=FILE [LABEL=FILE ...] (at most %d files)\n",
                MAX_FILES);
        return 2;
    }
    const char *root = argv[a++];
    bench_file_t files[MAX_FILES];
    int n_files = 0, status = 1;
    for (; a < argc; a++) {
        bench_file_t *f = &files[n_files];
        char *eq = strchr(argv[a], '=');
        if (!eq) {
            fprintf(stderr, "bench_tok: expected LABEL=FILE, got %s\n", argv[a]);
            goto cleanup;
        }
        *eq = '\0';
        f->label = argv[a];
        if (!(f->text = read_file(eq + 1, &f->len))) {
            fprintf(stderr, "bench_tok: cannot read %s\n", eq + 1);
            goto cleanup;
        }
        n_files++;
    }

    printf("| vocabulary | family | text | MB | tokens | bytes/token | MB/s | tokens/s |\n");
    printf("|---|---|---|---:|---:|---:|---:|---:|\n");
    const char *only = getenv("BENCH_TOK_ONLY");
    for (size_t k = 0; k < sizeof VOCABS / sizeof VOCABS[0]; k++) {
        if (only && !strstr(VOCABS[k].name, only))
            continue;
        hh_vocab_t *v = load_vocab(root, &VOCABS[k]);
        if (!v)
            goto cleanup;
        for (int i = 0; i < n_files; i++) {
            double best = 1e30;
            size_t n_tok = 0;
            uint64_t hash = 0xcbf29ce484222325ull;
            for (int r = 0; r < reps; r++) {
                size_t nt = 0;
                uint64_t h = 0xcbf29ce484222325ull;
                double t0 = now_s();
                if (tokenize_file(v, &files[i], &nt, &h)) {
                    hh_vocab_free(v);
                    goto cleanup;
                }
                double dt = now_s() - t0;
                best = dt < best ? dt : best;
                n_tok = nt;
                hash = h;
            }
            double mb = (double)files[i].len / 1e6;
            printf("| %s | %s | %s | %.2f | %zu | %.2f | %.1f | %.0f |\n", VOCABS[k].name, VOCABS[k].family,
                   files[i].label, mb, n_tok, n_tok ? (double)files[i].len / (double)n_tok : 0.0, mb / best,
                   (double)n_tok / best);
            fprintf(stderr, "bench_tok: %-26s %-8s %zu tokens, ids hash %016llx\n", VOCABS[k].name, files[i].label,
                    n_tok, (unsigned long long)hash);
            fflush(stdout);
        }
        hh_vocab_free(v);
    }
    status = 0;
cleanup:
    for (int i = 0; i < n_files; i++)
        free(files[i].text);
    return status;
}
