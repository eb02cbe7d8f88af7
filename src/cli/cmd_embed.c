/* cmd_embed.c - `hoheit embed`: the L2-normalized embedding of one text (or
 * of given token ids) from an embedding model (bert), printed as a JSON
 * array on stdout. A text is tokenized with [CLS] ... [SEP]; one longer than
 * the model's context is cut to it (keeping [SEP]) with a warning on stderr;
 * --tokens longer than the context is an error. */
#include "cli/cmd.h"
#include "base/err.h"
#include "model/model.h"
#include "tok/tok.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void embed_usage(FILE *f)
{
    fprintf(f,
            "usage: hoheit embed -m MODEL [--tokens IDS | TEXT] [-t N] [--exact]\n"
            "  prints the normalized embedding of TEXT as a JSON array of floats.\n"
            "  --tokens IDS  embed these token ids (comma-separated, incl. [CLS]/[SEP])\n"
            "  -t N          threads (default: number of cores)\n"
            "  --exact       F32 math on the dequantized weights (default: 8-bit activations)\n");
}

/* Parses "1,2,3" into a malloc'd array; HH_EINVAL on anything else. */
static int parse_ids(const char *s, int32_t **out, int32_t *n)
{
    size_t cap = 1;
    for (const char *p = s; *p; p++)
        cap += *p == ',';
    int32_t *ids = malloc(sizeof *ids * cap);
    if (ids == NULL)
        return HH_ENOMEM;
    int32_t k = 0;
    const char *p = s;
    for (;;) {
        char *end = NULL;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno != 0 || v < 0 || v > INT32_MAX || (*end != ',' && *end != '\0')) {
            free(ids);
            return HH_EINVAL;
        }
        ids[k++] = (int32_t)v;
        if (*end == '\0')
            break;
        p = end + 1;
    }
    *out = ids;
    *n = k;
    return HH_OK;
}

int hh_cmd_embed(int argc, char **argv)
{
    const char *model = NULL, *tokens = NULL, *text = NULL;
    int n_threads = 0;
    bool exact = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if ((!strcmp(a, "-m") || !strcmp(a, "--model")) && i + 1 < argc) {
            model = argv[++i];
        } else if (!strcmp(a, "--tokens") && i + 1 < argc) {
            tokens = argv[++i];
        } else if (!strcmp(a, "-t") && i + 1 < argc) {
            n_threads = atoi(argv[++i]);
            if (n_threads < 1 || n_threads > 1024) {
                fprintf(stderr, "hoheit embed: -t must be 1..1024\n");
                return 2;
            }
        } else if (!strcmp(a, "--exact")) {
            exact = true;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            embed_usage(stdout);
            return 0;
        } else if (!strcmp(a, "--") && i + 2 == argc && !text) {
            text = argv[++i];
        } else if (a[0] == '-' && a[1] != 0) {
            fprintf(stderr, "hoheit embed: unknown option '%s'\n", a);
            embed_usage(stderr);
            return 2;
        } else if (!text) {
            text = a;
        } else {
            fprintf(stderr, "hoheit embed: give the text as one argument (quote it)\n");
            return 2;
        }
    }
    if (!model || (!tokens && !text) || (tokens && text)) {
        embed_usage(stderr);
        return 2;
    }

    int status = 1;
    hh_model_t *m = NULL;
    hh_vocab_t *v = NULL;
    hh_embed_ctx_t *c = NULL;
    int32_t *ids = NULL;
    float *vec = NULL;
    char *json_text = NULL;
    cJSON *arr = NULL;
    hh_err_t err;
    hh_err_clear(&err);
    char d[600];
    if (hh_model_load(&m, model, NULL, &err) != HH_OK) {
        fprintf(stderr, "hoheit embed: %s: %s\n", model, hh_err_describe(&err, d, sizeof d));
        goto cleanup;
    }
    hh_embed_params_t ep = hh_embed_default_params();
    ep.n_threads = n_threads;
    ep.exact = exact;
    if (hh_embed_ctx_create(&c, m, &ep, &err) != HH_OK) {
        fprintf(stderr, "hoheit embed: %s: %s\n", model, hh_err_describe(&err, d, sizeof d));
        goto cleanup;
    }
    int32_t n = 0;
    if (tokens) {
        if (parse_ids(tokens, &ids, &n) != HH_OK) {
            fprintf(stderr, "hoheit embed: --tokens wants comma-separated ids (got '%s')\n", tokens);
            status = 2;
            goto cleanup;
        }
    } else {
        size_t n_ids = 0;
        if (hh_vocab_load(&v, hh_model_gguf(m), &err) != HH_OK ||
            hh_tokenize(v, text, strlen(text), true, false, &ids, &n_ids, &err) != HH_OK) {
            fprintf(stderr, "hoheit embed: tokenizing: %s\n", hh_err_describe(&err, d, sizeof d));
            goto cleanup;
        }
        const int32_t max = hh_embed_max_tokens(c);
        if (n_ids > (size_t)max) {
            fprintf(stderr, "hoheit embed: warning: the text has %zu tokens; only the first %d are embedded\n",
                    n_ids, max);
            n = hh_embed_truncate(ids, (int32_t)(n_ids > INT32_MAX ? INT32_MAX : n_ids), max);
        } else {
            n = (int32_t)n_ids;
        }
    }
    vec = malloc(sizeof *vec * (size_t)hh_model_n_embd(m));
    if (vec == NULL) {
        fprintf(stderr, "hoheit embed: out of memory\n");
        goto cleanup;
    }
    if (hh_embed(c, ids, n, vec, &err) != HH_OK) {
        fprintf(stderr, "hoheit embed: %s\n", hh_err_describe(&err, d, sizeof d));
        goto cleanup;
    }
    arr = cJSON_CreateArray();
    for (int32_t i = 0; arr != NULL && i < hh_model_n_embd(m); i++) {
        cJSON *num = cJSON_CreateNumber((double)vec[i]);
        if (num == NULL || !cJSON_AddItemToArray(arr, num)) {
            cJSON_Delete(num);
            cJSON_Delete(arr);
            arr = NULL;
        }
    }
    json_text = arr ? cJSON_PrintUnformatted(arr) : NULL;
    if (json_text == NULL) {
        fprintf(stderr, "hoheit embed: out of memory\n");
        goto cleanup;
    }
    printf("%s\n", json_text);
    status = fflush(stdout) == 0 ? 0 : 1;
cleanup:
    cJSON_Delete(arr);
    free(json_text);
    free(vec);
    free(ids);
    hh_embed_ctx_free(c);
    hh_vocab_free(v);
    hh_model_free(m);
    return status;
}
