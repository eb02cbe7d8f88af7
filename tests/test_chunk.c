/* test_chunk.c - structure-following chunking: heading paths, whole
 * blocks, sentence and word splits, overlap, pages, attachments. */
#include "harness.h"
#include "kb/chunk.h"

#include <stdlib.h>

#define B(k, lv, pg, t) { (k), (lv), (pg), (char *)(t), sizeof(t) - 1 }

static void check_chunk(const hh_chunk_t *c, const char *text, const char *path, int page, int tokens, int line)
{
    if (strcmp(c->text, text) != 0 || strcmp(c->heading_path, path) != 0 || c->page != page ||
        (tokens >= 0 && c->n_tokens != tokens))
        hh_test_fail(__FILE__, line, "chunk: expected [%s] path [%s] page %d tokens %d, got [%s] path [%s] page %d tokens %d",
                     text, path, page, tokens, c->text, c->heading_path, c->page, c->n_tokens);
}
#define CHECK(c, text, path, page, tokens) check_chunk((c), (text), (path), (page), (tokens), __LINE__)

TEST(chunk_estimate_tokens)
{
    ASSERT_EQ_INT(hh_chunk_estimate_tokens(NULL, "", 0), 0);
    ASSERT_EQ_INT(hh_chunk_estimate_tokens(NULL, "  \n ", 4), 0);
    ASSERT_EQ_INT(hh_chunk_estimate_tokens(NULL, "one", 3), 2);          /* ceil(1.3) */
    ASSERT_EQ_INT(hh_chunk_estimate_tokens(NULL, "a b c", 5), 4);        /* ceil(3.9) */
    ASSERT_EQ_INT(hh_chunk_estimate_tokens(NULL, "a  b\tc\nd e f g h i j", 20), 13);
}

TEST(chunk_follows_headings_and_blocks)
{
    hh_block_t b[] = {
        B(HH_BLOCK_HEADING, 1, 1, "Handbook"),
        B(HH_BLOCK_HEADING, 2, 1, "Travel"),
        B(HH_BLOCK_PARAGRAPH, 0, 1, "  Book early.\n"),
        B(HH_BLOCK_HEADING, 3, 2, "Hotels"),
        B(HH_BLOCK_PARAGRAPH, 0, 2, "Hotels are booked by the travel desk."),
        B(HH_BLOCK_LIST_ITEM, 1, 2, "Max 120 EUR per night"),
        B(HH_BLOCK_LIST_ITEM, 2, 3, "Breakfast included"),
        B(HH_BLOCK_TABLE_ROW, 0, 3, "Munich | 150"),
        B(HH_BLOCK_PARAGRAPH, 0, 3, "   "),
        B(HH_BLOCK_HEADING, 2, 4, "Expenses"),
        B(HH_BLOCK_CODE, 0, 4, "  form = A7\n  sign();\n\n"),
        B(HH_BLOCK_HEADING, 1, 5, "Appendix"),
    };
    hh_doc_t d = { .title = "Handbook", .blocks = b, .n_blocks = sizeof b / sizeof b[0] };
    hh_chunk_t *c = NULL;
    size_t n = 0;
    hh_err_t err;
    ASSERT_OK(hh_chunk_doc(&d, NULL, &c, &n, &err));
    ASSERT_EQ_INT(n, 3);
    CHECK(&c[0], "Book early.", "Handbook \xE2\x80\xBA Travel", 1, 3);
    CHECK(&c[1], "Hotels are booked by the travel desk.\n- Max 120 EUR per night\n  - Breakfast included\nMunich | 150",
          "Handbook \xE2\x80\xBA Travel \xE2\x80\xBA Hotels", 2, 25); /* 19 words */
    CHECK(&c[2], "  form = A7\n  sign();", "Handbook \xE2\x80\xBA Expenses", 4, 6);
    hh_chunks_free(c, n);
}

TEST(chunk_packs_with_overlap)
{
    hh_block_t b[] = {
        B(HH_BLOCK_PARAGRAPH, 0, 1, "one two"),   /* 3 tokens each */
        B(HH_BLOCK_PARAGRAPH, 0, 1, "three four"),
        B(HH_BLOCK_PARAGRAPH, 0, 2, "five six"),
        B(HH_BLOCK_PARAGRAPH, 0, 2, "seven eight"),
        B(HH_BLOCK_PARAGRAPH, 0, 3, "nine ten"),
        B(HH_BLOCK_PARAGRAPH, 0, 3, "eleven twelve"),
    };
    hh_doc_t d = { .blocks = b, .n_blocks = 6 };
    hh_chunk_params_t p = hh_chunk_default_params();
    p.max_tokens = 10;
    p.overlap_pct = 30; /* budget 3: one block */
    hh_chunk_t *c = NULL;
    size_t n = 0;
    hh_err_t err;
    ASSERT_OK(hh_chunk_doc(&d, &p, &c, &n, &err));
    ASSERT_EQ_INT(n, 3);
    CHECK(&c[0], "one two\nthree four\nfive six", "", 1, 8); /* 6 words */
    CHECK(&c[1], "five six\nseven eight\nnine ten", "", 2, 8);
    CHECK(&c[2], "nine ten\neleven twelve", "", 3, 6);
    hh_chunks_free(c, n);
    /* Without overlap: plain packing. */
    p.overlap_pct = 0;
    ASSERT_OK(hh_chunk_doc(&d, &p, &c, &n, &err));
    ASSERT_EQ_INT(n, 2);
    CHECK(&c[0], "one two\nthree four\nfive six", "", 1, 8); /* 6 words */
    CHECK(&c[1], "seven eight\nnine ten\neleven twelve", "", 2, 8);
    hh_chunks_free(c, n);
}

TEST(chunk_splits_sentences_then_words)
{
    hh_block_t b[] = {
        B(HH_BLOCK_PARAGRAPH, 0, 7,
          "Alpha beta gamma. Delta epsilon zeta. Eta theta iota kappa lambda mu nu xi omicron pi rho."),
    };
    hh_doc_t d = { .blocks = b, .n_blocks = 1 };
    hh_chunk_params_t p = hh_chunk_default_params();
    p.max_tokens = 8;
    p.overlap_pct = 0;
    hh_chunk_t *c = NULL;
    size_t n = 0;
    hh_err_t err;
    ASSERT_OK(hh_chunk_doc(&d, &p, &c, &n, &err));
    ASSERT_EQ_INT(n, 3);
    CHECK(&c[0], "Alpha beta gamma. Delta epsilon zeta.", "", 7, 8);
    CHECK(&c[1], "Eta theta iota kappa lambda mu", "", 7, 8);
    CHECK(&c[2], "nu xi omicron pi rho.", "", 7, 7);
    hh_chunks_free(c, n);
    /* "e.g. the" is no sentence end (lower case after the dot). */
    hh_block_t b2[] = { B(HH_BLOCK_PARAGRAPH, 0, 0, "Use e.g. the form. Then sign it here now please ok.") };
    d.blocks = b2;
    ASSERT_OK(hh_chunk_doc(&d, &p, &c, &n, &err));
    /* second sentence: 7 words = 10 tokens > 8, so cut after 6 words */
    ASSERT_EQ_INT(n, 3);
    CHECK(&c[0], "Use e.g. the form.", "", 0, 6);
    CHECK(&c[1], "Then sign it here now please", "", 0, 8);
    CHECK(&c[2], "ok.", "", 0, 2);
    hh_chunks_free(c, n);
}

/* Token counter for the test: one token per two bytes, rounded up. */
static int half_bytes(void *ctx, const char *s, size_t len)
{
    (*(int *)ctx)++;
    return (int)((len + 1) / 2);
}

TEST(chunk_custom_counter_cuts_long_word)
{
    hh_block_t b[] = { B(HH_BLOCK_PARAGRAPH, 0, 0, "abcdefghijklmnopqrstuvwxyz") };
    hh_doc_t d = { .blocks = b, .n_blocks = 1 };
    int calls = 0;
    hh_chunk_params_t p = hh_chunk_default_params();
    p.max_tokens = 8;
    p.count = half_bytes;
    p.count_ctx = &calls;
    hh_chunk_t *c = NULL;
    size_t n = 0;
    hh_err_t err;
    ASSERT_OK(hh_chunk_doc(&d, &p, &c, &n, &err));
    ASSERT_EQ_INT(n, 2);
    CHECK(&c[0], "abcdefghijklmnop", "", 0, 8);
    CHECK(&c[1], "qrstuvwxyz", "", 0, 5);
    ASSERT_GE(calls, 3);
    hh_chunks_free(c, n);
}

TEST(chunk_attachments_and_edges)
{
    hh_block_t inv[] = {
        B(HH_BLOCK_HEADING, 1, 1, "Invoice"),
        B(HH_BLOCK_PARAGRAPH, 0, 1, "Total 12 EUR"),
    };
    hh_doc_t child = { .title = "Invoice 7", .name = "invoice.pdf", .blocks = inv, .n_blocks = 2 };
    hh_block_t body[] = {
        B(HH_BLOCK_HEADING, 1, 0, "Re: invoice"),
        B(HH_BLOCK_QUOTE, 0, 0, "Please pay."),
    };
    hh_doc_t mail = { .title = "Re: invoice", .blocks = body, .n_blocks = 2, .children = &child, .n_children = 1 };
    hh_chunk_t *c = NULL;
    size_t n = 0;
    hh_err_t err;
    ASSERT_OK(hh_chunk_doc(&mail, NULL, &c, &n, &err));
    ASSERT_EQ_INT(n, 2);
    CHECK(&c[0], "Please pay.", "Re: invoice", 0, 3);
    CHECK(&c[1], "Total 12 EUR", "invoice.pdf \xE2\x80\xBA Invoice", 1, 4);
    hh_chunks_free(c, n);

    hh_doc_t empty = { 0 };
    ASSERT_OK(hh_chunk_doc(&empty, NULL, &c, &n, &err));
    ASSERT_EQ_INT(n, 0);
    ASSERT_TRUE(c == NULL);
    hh_chunk_params_t p = hh_chunk_default_params();
    p.max_tokens = 4;
    ASSERT_EQ_INT(hh_chunk_doc(&mail, &p, &c, &n, &err), HH_EINVAL);
    p.max_tokens = 100;
    p.overlap_pct = 51;
    ASSERT_EQ_INT(hh_chunk_doc(&mail, &p, &c, &n, &err), HH_EINVAL);
}
