/* kb_fill.h - retrieval for tests that store chunks directly (through
 * hh_store_doc_replace, not ingestion): the chunks are analyzed for the
 * full-text index first, with the query's analyzer, as ingestion or a
 * server's background pass would have done (a search never analyzes:
 * kb/retrieve.h hh_kb_index_fill). Not a test file: it registers no TEST(). */
#ifndef HH_TESTS_KB_FILL_H
#define HH_TESTS_KB_FILL_H

#include "kb/analyze.h"
#include "kb/retrieve.h"

/* One analyzer with the Debian files for the whole test run (loading
 * takes a few seconds), freed at exit (kb_fill.c); NULL when it cannot be
 * made. */
hh_analyzer_t *hh_test_analyzer(void);

static inline int kb_retrieve_mode_filled(hh_store_t *s, hh_vindex_t *ix, const hh_kb_embedder_t *em,
                                          const hh_kb_query_t *q, hh_kb_mode_t mode, hh_kb_hit_t **out, size_t *n,
                                          hh_err_t *err)
{
    *out = NULL;
    *n = 0;
    int rc = s && q ? hh_kb_index_fill(s, q->analyzer, NULL, err) : 0;
    return rc ? rc : hh_kb_retrieve_mode(s, ix, em, q, mode, out, n, err);
}

static inline int kb_retrieve_filled(hh_store_t *s, hh_vindex_t *ix, const hh_kb_embedder_t *em,
                                     const hh_kb_query_t *q, hh_kb_hit_t **out, size_t *n, hh_err_t *err)
{
    return kb_retrieve_mode_filled(s, ix, em, q, HH_KB_HYBRID, out, n, err);
}

#endif
