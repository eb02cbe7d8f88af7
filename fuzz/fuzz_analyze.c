/* fuzz_analyze.c - libFuzzer target for the knowledge base's text analysis
 * (src/kb/analyze.c): the input bytes as a chunk's text in each language
 * (index terms) and as a question (query terms), with Debian's word list,
 * thesaurus and dictionary loaded once in LLVMFuzzerInitialize (absent
 * files: those features off). Checks, beyond what ASan/UBSan catch:
 *   - no call fails;
 *   - every index term is non-empty, at most 64 bytes and made of word
 *     characters only (one FTS5 token each), separated by single spaces;
 *   - every query term likewise, with a weight in (0, 1] and a group below
 *     the number of groups; at most HH_AN_MAX_TERMS terms. */
#include "kb/analyze.h"
#include "kb/retrieve.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static hh_analyzer_t *g_an;   /* the target's fixture: loaded once, read-only after */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    hh_err_t err;
    if (hh_analyzer_create(&g_an, NULL, &err) != 0) {
        fprintf(stderr, "fuzz_analyze: %s\n", err.msg);
        abort();
    }
    hh_analyzer_load(g_an);
    return 0;
}

/* One term: non-empty, <= 64 bytes, exactly one word. */
static void check_term(const char *t, size_t n)
{
    size_t pos = 0, st, wl;
    if (n == 0 || n > 64 || !hh_kb_word_next(t, n, &pos, &st, &wl) || st != 0 || wl != n)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 16384)
        return 0;
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    static const hh_lang_t langs[] = { HH_LANG_DE, HH_LANG_EN, HH_LANG_UNKNOWN };
    for (size_t l = 0; l < 3; l++) {
        char *terms = NULL;
        if (hh_analyzer_index_terms(g_an, text, size, langs[l], &terms, NULL) != 0)
            abort();
        size_t tl = strlen(terms);
        if (tl && (terms[0] == ' ' || terms[tl - 1] == ' ' || strstr(terms, "  ")))
            abort();
        for (char *p = terms, *e; *p; p = *e ? e + 1 : e) {
            e = strchr(p, ' ');
            if (!e)
                e = p + strlen(p);
            check_term(p, (size_t)(e - p));
        }
        free(terms);
    }
    /* as a question: NUL ends it, as in a C string */
    hh_query_terms_t q;
    if (hh_analyzer_query_terms(g_an, text, &q, NULL) != 0)
        abort();
    if (q.n > HH_AN_MAX_TERMS)
        abort();
    for (size_t i = 0; i < q.n; i++) {
        check_term(q.t[i].term, strlen(q.t[i].term));
        if (!(q.t[i].weight > 0.0f && q.t[i].weight <= 1.0f) || q.t[i].group < 0 || q.t[i].group >= q.n_groups)
            abort();
    }
    hh_query_terms_free(&q);
    free(text);
    return 0;
}
