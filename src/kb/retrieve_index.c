/* retrieve_index.c - the analyzed full-text index (retrieve.h): one chunk's
 * language and index terms, and the pass that analyzes the chunks whose
 * terms are older than the analyzer. */
#include "kb/retrieve.h"
#include "kb/lang.h"

#include <stdlib.h>
#include <string.h>

/* ---- the chunk analysis ---------------------------------------------------- */

int hh_kb_chunk_terms(hh_analyzer_t *a, const char *text, const char *heading_path, const char **lang,
                      char **terms, hh_err_t *err)
{
    *terms = NULL;
    size_t tl = text ? strlen(text) : 0, hl = heading_path ? strlen(heading_path) : 0;
    hh_lang_t lg = hh_lang_detect(text ? text : "", tl);
    *lang = hh_lang_code(lg);
    char *ht = NULL, *tt = NULL;
    int rc = hh_analyzer_index_terms(a, heading_path, hl, lg, &ht, err);
    if (!rc)
        rc = hh_analyzer_index_terms(a, text, tl, lg, &tt, err);
    if (!rc) {
        size_t a1 = strlen(ht), a2 = strlen(tt);
        char *t = malloc(a1 + a2 + 2);
        if (!t) {
            rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory");
        } else {
            memcpy(t, ht, a1);
            size_t o = a1;
            if (a1 && a2)
                t[o++] = ' ';
            memcpy(t + o, tt, a2);
            t[o + a2] = '\0';
            *terms = t;
        }
    }
    free(ht);
    free(tt);
    return rc;
}

#define FILL_BATCH 256

int hh_kb_index_fill(hh_store_t *s, hh_analyzer_t *a, size_t *n_done, hh_err_t *err)
{
    if (n_done)
        *n_done = 0;
    int level = hh_analyzer_level(a), rc = 0;
    for (;;) {
        hh_store_chunk_text_t *v = NULL;
        size_t n = 0;
        if ((rc = hh_store_chunks_to_analyze(s, level, FILL_BATCH, &v, &n, err)) || n == 0)
            return rc;
        hh_store_chunk_terms_t *t = calloc(n, sizeof *t);
        char **owned = calloc(n, sizeof *owned);
        if (!t || !owned)
            rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory");
        for (size_t i = 0; i < n && !rc; i++) {
            t[i].id = v[i].id;
            rc = hh_kb_chunk_terms(a, v[i].text, v[i].heading_path, &t[i].lang, &owned[i], err);
            t[i].terms = owned[i];
        }
        if (!rc)
            rc = hh_store_chunks_set_terms(s, t, n, level, err);
        for (size_t i = 0; owned && i < n; i++)
            free(owned[i]);
        free(owned);
        free(t);
        hh_store_chunk_texts_free(v, n);
        if (rc)
            return rc;
        if (n_done)
            *n_done += n;
        if (n < FILL_BATCH)
            return 0;
    }
}
