/* cmd_tokenize.c - `hoheit tokenize`: prints the tokens of a text, one
 * `id 'piece'` line each, or only the ids as a JSON array. Works on
 * vocabulary-only GGUF files (tensor data is never mapped). */
#include "cli/cmd.h"
#include "base/err.h"
#include "gguf/gguf.h"
#include "tok/tok.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void tokenize_usage(FILE *f)
{
    fprintf(f,
            "usage: hoheit tokenize -m MODEL [--ids] [--bos] [--special] [--file F | TEXT]\n"
            "  prints one line per token: id 'piece'. The text is taken verbatim.\n"
            "  --ids      only the ids, as a JSON array\n"
            "  --bos      add BOS (and EOS where the vocabulary asks) as the model expects\n"
            "  --special  parse control tokens written in the text (<|im_start|>, <s>, ...)\n"
            "  --file F   read the text from F instead of the argument\n");
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap);
    while (b) {
        n += fread(b + n, 1, cap - n, f);
        if (n < cap)
            break;
        char *nb = realloc(b, cap * 2);
        if (!nb) {
            free(b);
            b = NULL;
            break;
        }
        b = nb;
        cap *= 2;
    }
    if (b && ferror(f)) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *len = n;
    return b;
}

/* Prints a piece between quotes: control bytes and bytes that are not
 * part of a complete UTF-8 character inside the piece as escapes. */
static void print_piece(const char *p, size_t n)
{
    putchar('\'');
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)p[i];
        size_t need = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
        bool ok = need > 0 && need <= n - i;
        for (size_t k = 1; ok && k < need; k++)
            ok = ((unsigned char)p[i + k] & 0xC0) == 0x80;
        if (!ok) {
            printf("\\x%02x", c);
            i++;
        } else if (c == '\n') {
            fputs("\\n", stdout);
            i++;
        } else if (c == '\t') {
            fputs("\\t", stdout);
            i++;
        } else if (c == '\r') {
            fputs("\\r", stdout);
            i++;
        } else if (c == '\\' || c == '\'') {
            printf("\\%c", c);
            i++;
        } else if (c < 0x20 || c == 0x7F) {
            printf("\\x%02x", c);
            i++;
        } else {
            fwrite(p + i, 1, need, stdout);
            i += need;
        }
    }
    putchar('\'');
}

int hh_cmd_tokenize(int argc, char **argv)
{
    const char *model = NULL, *file = NULL, *text = NULL;
    bool ids_only = false, bos = false, special = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if ((!strcmp(a, "-m") || !strcmp(a, "--model")) && i + 1 < argc) {
            model = argv[++i];
        } else if (!strcmp(a, "--file") && i + 1 < argc) {
            file = argv[++i];
        } else if (!strcmp(a, "--ids")) {
            ids_only = true;
        } else if (!strcmp(a, "--bos")) {
            bos = true;
        } else if (!strcmp(a, "--special")) {
            special = true;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            tokenize_usage(stdout);
            return 0;
        } else if (!strcmp(a, "--")) {
            if (i + 1 < argc && !text && i + 2 == argc) {
                text = argv[++i];
            } else {
                tokenize_usage(stderr);
                return 2;
            }
        } else if (a[0] == '-' && a[1] != 0) {
            fprintf(stderr, "hoheit tokenize: unknown option '%s'\n", a);
            tokenize_usage(stderr);
            return 2;
        } else if (!text) {
            text = a;
        } else {
            fprintf(stderr, "hoheit tokenize: give the text as one argument (quote it)\n");
            return 2;
        }
    }
    if (!model || (!file && !text) || (file && text)) {
        tokenize_usage(stderr);
        return 2;
    }

    int status = 1;
    hh_gguf_t *g = NULL;
    hh_vocab_t *v = NULL;
    char *buf = NULL, *piece = NULL;
    int32_t *ids = NULL;
    size_t n_ids = 0, len = 0;
    hh_err_t err;
    hh_err_clear(&err);
    hh_gguf_params_t gp = hh_gguf_default_params();
    gp.no_data = true;
    if (hh_gguf_open(&g, model, &gp, &err) || hh_vocab_load(&v, g, &err)) {
        char d[600];
        fprintf(stderr, "hoheit tokenize: %s: %s\n", model, hh_err_describe(&err, d, sizeof d));
        goto cleanup;
    }
    hh_gguf_close(g);
    g = NULL;
    if (file) {
        buf = read_all(file, &len);
        if (!buf) {
            fprintf(stderr, "hoheit tokenize: cannot read %s\n", file);
            goto cleanup;
        }
        text = buf;
    } else {
        len = strlen(text);
    }
    if (hh_tokenize(v, text, len, bos, special, &ids, &n_ids, &err)) {
        fprintf(stderr, "hoheit tokenize: %s\n", err.msg);
        goto cleanup;
    }
    if (ids_only) {
        cJSON *arr = cJSON_CreateArray();
        for (size_t i = 0; arr && i < n_ids; i++) {
            cJSON *num = cJSON_CreateNumber(ids[i]);
            if (!num || !cJSON_AddItemToArray(arr, num)) {
                cJSON_Delete(num);
                cJSON_Delete(arr);
                arr = NULL;
            }
        }
        char *js = arr ? cJSON_PrintUnformatted(arr) : NULL;
        cJSON_Delete(arr);
        if (!js) {
            fprintf(stderr, "hoheit tokenize: out of memory\n");
            goto cleanup;
        }
        puts(js);
        cJSON_free(js);
    } else {
        size_t cap = (size_t)hh_vocab_max_token_len(v) + 16;
        piece = malloc(cap);
        if (!piece) {
            fprintf(stderr, "hoheit tokenize: out of memory\n");
            goto cleanup;
        }
        for (size_t i = 0; i < n_ids; i++) {
            int n = hh_token_to_piece(v, ids[i], true, piece, cap);
            printf("%d ", ids[i]);
            print_piece(piece, n > 0 ? ((size_t)n < cap ? (size_t)n : cap) : 0);
            putchar('\n');
        }
    }
    status = fflush(stdout) == 0 ? 0 : 1;
cleanup:
    free(piece);
    free(ids);
    free(buf);
    hh_vocab_free(v);
    hh_gguf_close(g);
    return status;
}
