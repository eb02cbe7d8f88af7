/* cmd_pii.c - `hoheit pii`: redact personal data in a text (stdout gets
 * the redacted text) and evaluate the detectors on a labeled JSONL set
 * (exact-span precision and recall per kind). */
#include "cli/cmd.h"
#include "base/err.h"
#include "govern/pii.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void pii_usage(FILE *f)
{
    fprintf(f,
            "usage: hoheit pii redact [--kinds K,K] [--names FILE] [--listed-only] [--key FILE] [--list] [FILE|-]\n"
            "       hoheit pii eval LABELED.jsonl [--names FILE] [--listed-only]\n"
            "  redact   prints the text with each finding replaced by [KIND]\n"
            "  --list   prints one finding a line instead: KIND<TAB>start<TAB>end<TAB>text\n"
            "  --listed-only  persons only from --names (no names found by context)\n"
            "  eval     exact-span precision/recall per kind; names default to\n"
            "           names.txt next to the labeled file\n"
            "  --kinds  comma list of EMAIL,PHONE,IBAN,CARD,TAX_ID,SSN,DOB,NAME,ADDRESS,ID_CARD\n"
            "           (default all)\n"
            "  --names  person names, one per line (UTF-8, case-sensitive whole words)\n"
            "  --key    pseudonyms [KIND:xxxxxx] keyed with this file's bytes (16..64)\n");
}

/* Reads a whole stream; caller frees. NULL on error. */
static char *read_stream(FILE *f, size_t *len)
{
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap);
    while (b) {
        n += fread(b + n, 1, cap - n, f);
        if (n < cap)
            break;
        if (cap > SIZE_MAX / 2) {
            free(b);
            return NULL;
        }
        char *nb = realloc(b, cap * 2);
        if (!nb) {
            free(b);
            return NULL;
        }
        b = nb;
        cap *= 2;
    }
    if (b && ferror(f)) {
        free(b);
        return NULL;
    }
    *len = n;
    return b;
}

static char *read_path(const char *path, size_t *len)
{
    if (!strcmp(path, "-"))
        return read_stream(stdin, len);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *b = read_stream(f, len);
    fclose(f);
    return b;
}

static int parse_kinds(const char *list, unsigned *kinds)
{
    char *copy = strdup(list);
    if (!copy)
        return HH_ENOMEM;
    unsigned k = 0;
    int rc = 0;
    char *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        hh_pii_kind_t kind;
        if (hh_pii_kind_parse(tok, &kind)) {
            fprintf(stderr, "hoheit pii: unknown kind '%s'\n", tok);
            rc = HH_EINVAL;
            break;
        }
        k |= 1u << kind;
    }
    free(copy);
    *kinds = k;
    return rc;
}

static int pii_eval(const char *path, const char *names_path, int listed_only)
{
    char **names = NULL;
    size_t n_names = 0, len = 0;
    char *buf = NULL, *def_names = NULL;
    int status = 1;
    hh_err_t err = { 0 };
    if (!names_path) {
        /* names.txt next to the labeled file, when there is one */
        const char *slash = strrchr(path, '/');
        size_t dir = slash ? (size_t)(slash - path) + 1 : 0;
        def_names = malloc(dir + sizeof "names.txt");
        if (!def_names)
            goto cleanup;
        memcpy(def_names, path, dir);
        memcpy(def_names + dir, "names.txt", sizeof "names.txt");
        FILE *probe = fopen(def_names, "rb");
        if (probe) {
            fclose(probe);
            names_path = def_names;
        }
    }
    if (names_path && hh_pii_names_load(names_path, &names, &n_names, &err)) {
        fprintf(stderr, "hoheit pii: %s\n", err.msg);
        goto cleanup;
    }
    buf = read_path(path, &len);
    if (!buf) {
        fprintf(stderr, "hoheit pii: cannot read %s\n", path);
        goto cleanup;
    }
    hh_pii_config_t cfg;
    hh_pii_default_config(&cfg);
    cfg.names = (const char *const *)names;
    cfg.n_names = n_names;
    cfg.names_listed_only = listed_only;
    hh_pii_eval_t ev;
    if (hh_pii_eval_jsonl(buf, len, &cfg, &ev, &err)) {
        fprintf(stderr, "hoheit pii: %s\n", err.msg);
        goto cleanup;
    }
    printf("%zu documents, %zu names\n", ev.n_docs, n_names);
    printf("%-7s %5s %5s %5s %9s %7s\n", "kind", "tp", "fp", "fn", "precision", "recall");
    size_t ttp = 0, tfp = 0, tfn = 0;
    for (int k = 0; k < HH_PII_KIND_COUNT; k++) {
        size_t tp = ev.tp[k], fp = ev.fp[k], fn = ev.fn[k];
        ttp += tp;
        tfp += fp;
        tfn += fn;
        printf("%-7s %5zu %5zu %5zu %9.3f %7.3f\n", hh_pii_kind_name((hh_pii_kind_t)k), tp, fp, fn,
               tp + fp ? (double)tp / (double)(tp + fp) : 1.0, tp + fn ? (double)tp / (double)(tp + fn) : 1.0);
    }
    printf("%-7s %5zu %5zu %5zu %9.3f %7.3f\n", "all", ttp, tfp, tfn,
           ttp + tfp ? (double)ttp / (double)(ttp + tfp) : 1.0, ttp + tfn ? (double)ttp / (double)(ttp + tfn) : 1.0);
    status = 0;
cleanup:
    hh_pii_names_free(names, n_names);
    free(buf);
    free(def_names);
    return status;
}

static int pii_redact(int argc, char **argv)
{
    hh_pii_config_t cfg;
    hh_pii_default_config(&cfg);
    const char *names_path = NULL, *key_path = NULL, *in_path = "-";
    char **names = NULL;
    size_t n_names = 0, len = 0, key_len = 0, out_len = 0;
    char *text = NULL, *key = NULL, *out = NULL;
    hh_pii_span_t *spans = NULL;
    int status = 2, list = 0;
    hh_err_t err = { 0 };
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--kinds") && i + 1 < argc) {
            if (parse_kinds(argv[++i], &cfg.kinds))
                goto cleanup;
        } else if (!strcmp(argv[i], "--names") && i + 1 < argc) {
            names_path = argv[++i];
        } else if (!strcmp(argv[i], "--key") && i + 1 < argc) {
            key_path = argv[++i];
        } else if (!strcmp(argv[i], "--list")) {
            list = 1;
        } else if (!strcmp(argv[i], "--listed-only")) {
            cfg.names_listed_only = 1;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            pii_usage(stderr);
            goto cleanup;
        } else {
            in_path = argv[i];
        }
    }
    status = 1;
    if (names_path && hh_pii_names_load(names_path, &names, &n_names, &err)) {
        fprintf(stderr, "hoheit pii: %s\n", err.msg);
        goto cleanup;
    }
    if (key_path) {
        key = read_path(key_path, &key_len);
        if (!key || key_len < 16 || key_len > 64) {
            fprintf(stderr, "hoheit pii: key file %s must hold 16..64 bytes\n", key_path);
            goto cleanup;
        }
        cfg.pseudonymize = 1;
        cfg.key = (const unsigned char *)key;
        cfg.key_len = key_len;
    }
    cfg.names = (const char *const *)names;
    cfg.n_names = n_names;
    text = read_path(in_path, &len);
    if (!text) {
        fprintf(stderr, "hoheit pii: cannot read %s\n", in_path);
        goto cleanup;
    }
    if (list) {
        size_t n = 0;
        int rc = hh_pii_find(text, len, &cfg, &spans, &n);
        if (rc) {
            fprintf(stderr, "hoheit pii: %s\n", hh_strerror(rc));
            goto cleanup;
        }
        for (size_t k = 0; k < n; k++) {
            printf("%s\t%zu\t%zu\t", hh_pii_kind_name(spans[k].kind), spans[k].start, spans[k].end);
            for (size_t b = spans[k].start; b < spans[k].end; b++)
                putchar(text[b] == '\n' || text[b] == '\t' ? ' ' : text[b]);
            putchar('\n');
        }
        status = fflush(stdout) ? 1 : 0;
        goto cleanup;
    }
    int rc = hh_pii_redact(text, len, &cfg, &out, &out_len);
    if (rc) {
        fprintf(stderr, "hoheit pii: %s\n", hh_strerror(rc));
        goto cleanup;
    }
    if (fwrite(out, 1, out_len, stdout) != out_len || fflush(stdout)) {
        fprintf(stderr, "hoheit pii: write error\n");
        goto cleanup;
    }
    status = 0;
cleanup:
    hh_pii_names_free(names, n_names);
    if (key)
        memset(key, 0, key_len);
    free(key);
    free(text);
    free(out);
    free(spans);
    return status;
}

int hh_cmd_pii(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        pii_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "redact"))
        return pii_redact(argc - 1, argv + 1);
    if (!strcmp(argv[1], "eval")) {
        const char *path = NULL, *names = NULL;
        int listed_only = 0;
        for (int i = 2; i < argc; i++) {
            if (!strcmp(argv[i], "--names") && i + 1 < argc)
                names = argv[++i];
            else if (!strcmp(argv[i], "--listed-only"))
                listed_only = 1;
            else if (!path && argv[i][0] != '-')
                path = argv[i];
            else {
                pii_usage(stderr);
                return 2;
            }
        }
        if (!path) {
            pii_usage(stderr);
            return 2;
        }
        return pii_eval(path, names, listed_only);
    }
    pii_usage(stderr);
    return 2;
}
