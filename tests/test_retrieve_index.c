/* test_retrieve_index.c - the analyzed full-text index is filled off the
 * search path (kb/retrieve.h hh_kb_index_fill, hh_kb_index_filler_start): a
 * search over a store from before migration 14 analyzes nothing, and the
 * background pass of a server analyzes the backlog (the first
 * HH_KB_FILL_AT_START chunks before it returns, the rest on its thread) and
 * what is stored later, when kicked. */
#include "harness.h"
#include "kb_fill.h"
#include "kb/analyze.h"
#include "kb/retrieve.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/* The chunks still to analyze for the analyzer's level (at most 5000). */
static long pending(hh_store_t *s)
{
    hh_store_chunk_text_t *v = NULL;
    size_t n = 0;
    hh_err_t err;
    if (hh_store_chunks_to_analyze(s, hh_analyzer_level(hh_test_analyzer()), 5000, &v, &n, &err) != 0)
        return -1;
    hh_store_chunk_texts_free(v, n);
    return (long)n;
}

/* The title of the first BM25 hit of text for user ("" when none; NULL on
 * error), into buf. */
static const char *top_title(hh_store_t *s, const char *user, const char *text, char *buf, size_t cap)
{
    hh_kb_query_t q = { .analyzer = hh_test_analyzer(), .user = user, .text = text, .k = 3 };
    hh_kb_hit_t *h = NULL;
    size_t n = 0;
    hh_err_t err;
    if (hh_kb_retrieve_mode(s, NULL, NULL, &q, HH_KB_BM25_ONLY, &h, &n, &err) != 0)
        return NULL;
    snprintf(buf, cap, "%s", n ? h[0].title : "");
    hh_kb_hits_free(h, n);
    return buf;
}

/* A schema 13 store (tests/fixtures/schema/v13): none of its 5 chunks is
 * analyzed after the upgrade. Searching leaves them so (the search pays
 * nothing for the upgrade); the filler's start analyzes the small backlog
 * before it returns, and the search then finds the fixture's answer. */
TEST(retrieve_index_search_after_upgrade_does_not_fill)
{
    ASSERT_TRUE(hh_test_analyzer() != NULL);
    char root[512], cmd[2048];
    snprintf(root, sizeof root, "%s/retrieve_index_upgrade", hh_test_tmpdir());
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s' && cp -a tests/fixtures/schema/v13 '%s/data'", root, root,
             root);
    ASSERT_EQ_INT(system(cmd), 0);
    char data[600], buf[256];
    snprintf(data, sizeof data, "%s/data", root);
    hh_store_t *s = NULL;
    hh_err_t err;
    ASSERT_OK(hh_store_open(&s, data, &err));
    ASSERT_EQ_INT(pending(s), 5);
    for (int i = 0; i < 3; i++) {
        const char *t = top_title(s, "bob", "hotel reimbursed per night", buf, sizeof buf);
        ASSERT_TRUE(t != NULL);
        ASSERT_STREQ(t, "");   /* not analyzed yet: not in the analyzed index */
        ASSERT_EQ_INT(pending(s), 5);
    }
    hh_kb_index_filler_t *f = NULL;
    ASSERT_OK(hh_kb_index_filler_start(&f, s, hh_test_analyzer(), 3600, &err));
    ASSERT_EQ_INT(pending(s), 0);   /* 5 <= HH_KB_FILL_AT_START: done before start returned */
    ASSERT_STREQ(top_title(s, "bob", "hotel reimbursed per night", buf, sizeof buf), "Travel policy");
    hh_kb_index_filler_stop(f);
    hh_store_close(s);
}

/* More than HH_KB_FILL_AT_START chunks stored without analysis: the start
 * analyzes the first HH_KB_FILL_AT_START, the thread the rest; a document
 * stored later is analyzed when the filler is kicked (wait). Another
 * department's document is analyzed too but never found by this user. */
TEST(retrieve_index_background_pass)
{
    ASSERT_TRUE(hh_test_analyzer() != NULL);
    char dir[512];
    snprintf(dir, sizeof dir, "%s/retrieve_index_bg", hh_test_tmpdir());
    char cmd[1100];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ASSERT_EQ_INT(system(cmd), 0);
    hh_store_t *s = NULL;
    hh_err_t err;
    hh_store_user_t u;
    ASSERT_OK(hh_store_open(&s, dir, &err));
    ASSERT_OK(hh_store_user_ensure(s, "ann", "member", &u, NULL, &err));
    ASSERT_OK(hh_store_user_add_department(s, "ann", "ENG", &err));
    const char *eng[] = { "ENG" }, *hr[] = { "HR" };
    hh_store_collection_t ce, ch;
    ASSERT_OK(hh_store_collection_ensure(s, "eng", eng, 1, &ce, &err));
    ASSERT_OK(hh_store_collection_ensure(s, "hr", hr, 1, &ch, &err));
    enum { PER_DOC = 100, N_DOCS = HH_KB_FILL_AT_START / PER_DOC + 3 };
    static char texts[PER_DOC][160];
    hh_store_chunk_in_t c[PER_DOC];
    for (int d = 0; d < N_DOCS; d++) {
        for (int i = 0; i < PER_DOC; i++) {
            /* the last document's last chunk holds the words searched */
            bool last = d == N_DOCS - 1 && i == PER_DOC - 1;
            snprintf(texts[i], sizeof texts[i], "Abschnitt %d von Dokument %d: %s", i, d,
                     last ? "Die Dienstwagenregelung gilt ab Januar." : "Allgemeine Hinweise zur Ablage.");
            c[i] = (hh_store_chunk_in_t){ .text = texts[i] };
        }
        char title[32], sha[65];
        snprintf(title, sizeof title, "doc %d", d);
        snprintf(sha, sizeof sha, "%064x", d + 1);
        hh_store_doc_in_t in = { .collection_id = ce.id, .title = title, .source_path = title, .mime = "text/plain",
                                 .sha256 = sha, .size = 1, .chunks = c, .n_chunks = PER_DOC };
        ASSERT_OK(hh_store_doc_replace(s, &in, NULL, NULL, &err));
    }
    ASSERT_EQ_INT(pending(s), N_DOCS * PER_DOC);
    char buf[256];
    ASSERT_STREQ(top_title(s, "ann", "Dienstwagen", buf, sizeof buf), "");
    ASSERT_EQ_INT(pending(s), N_DOCS * PER_DOC);   /* the search analyzed nothing */

    hh_kb_index_filler_t *f = NULL;
    ASSERT_OK(hh_kb_index_filler_start(&f, s, hh_test_analyzer(), 3600, &err));
    ASSERT_LE(pending(s), N_DOCS * PER_DOC - HH_KB_FILL_AT_START);   /* the rest may be under way */
    hh_kb_index_filler_wait(f);
    ASSERT_EQ_INT(pending(s), 0);
    /* "Dienstwagen" is a part of "Dienstwagenregelung" (compound split) */
    char want[32];
    snprintf(want, sizeof want, "doc %d", N_DOCS - 1);
    ASSERT_STREQ(top_title(s, "ann", "Dienstwagen", buf, sizeof buf), want);

    /* stored later, in both departments: analyzed at the next pass */
    hh_store_chunk_in_t one = { .text = "Die Kantine schließt freitags um 14 Uhr." };
    hh_store_doc_in_t in = { .collection_id = ce.id, .title = "Kantine", .source_path = "kantine", .mime = "text/plain",
                             .sha256 = "aa00000000000000000000000000000000000000000000000000000000000000", .size = 1,
                             .chunks = &one, .n_chunks = 1 };
    ASSERT_OK(hh_store_doc_replace(s, &in, NULL, NULL, &err));
    in.collection_id = ch.id;
    in.title = "HR Kantine";
    in.source_path = "hr-kantine";
    in.sha256 = "bb00000000000000000000000000000000000000000000000000000000000000";
    ASSERT_OK(hh_store_doc_replace(s, &in, NULL, NULL, &err));
    ASSERT_EQ_INT(pending(s), 2);
    hh_kb_index_filler_wait(f);
    ASSERT_EQ_INT(pending(s), 0);
    ASSERT_STREQ(top_title(s, "ann", "Kantine freitags", buf, sizeof buf), "Kantine");
    hh_kb_index_filler_stop(f);
    hh_store_close(s);
}
