/* chunk.h - splits an extracted document (kb/doc.h) into retrieval chunks
 * that follow its structure.
 *
 * Rules, in order:
 *  - a heading closes the current chunk and updates the heading path
 *    ("Handbook › Travel › Hotels": the text of the enclosing headings by
 *    level); headings themselves are not chunk text (the path carries them);
 *  - blocks (paragraph, list item, table row, code, quote) are packed whole
 *    into a chunk while the chunk stays within max_tokens;
 *  - a table row longer than max_tokens is split between cells (runs of
 *    whole "Header: value" cells), never inside one;
 *  - another block longer than max_tokens is split at sentence ends (". ", "! ",
 *    "? " followed by an upper-case letter or digit, or a newline), and a
 *    sentence longer than max_tokens at word boundaries (hard cut for a
 *    word longer than the budget);
 *  - when a chunk is closed because it is full (not at a heading), the
 *    next one starts with the previous chunk's trailing units (blocks or
 *    sentences) that fit in overlap_pct percent of max_tokens: overlap;
 *  - a chunk's page is the page of its first block; blocks are joined with
 *    "\n" (list items keep a "- " mark indented two spaces per level
 *    beyond 1).
 * An e-mail's attachments (doc->children) are chunked after the body with
 * the attachment's name (or title) as the top of their heading path.
 * Empty blocks are skipped; a document with no text gives zero chunks. */
#ifndef HH_KB_CHUNK_H
#define HH_KB_CHUNK_H

#include "base/err.h"
#include "kb/doc.h"

#include <stddef.h>
#include <stdint.h>

/* Counts the tokens of text[0..len). Returns >= 0. */
typedef int (*hh_token_count_fn)(void *ctx, const char *text, size_t len);

typedef struct hh_chunk_params {
    int               max_tokens;   /* budget per chunk (default 256; >= 8) */
    int               overlap_pct;  /* 0..50 (default 15) */
    hh_token_count_fn count;        /* NULL: hh_chunk_estimate_tokens */
    void             *count_ctx;
} hh_chunk_params_t;

typedef struct hh_chunk {
    char   *text;          /* UTF-8, owned */
    char   *heading_path;  /* " › "-joined, "" when none; owned */
    int32_t page;          /* first page of the content, 0 = no pages */
    int32_t n_tokens;      /* by the params' counter */
} hh_chunk_t;

hh_chunk_params_t hh_chunk_default_params(void);

/* Token estimate without a tokenizer: ceil(words * 1.3), where a word is a
 * maximal run of non-space bytes. */
int hh_chunk_estimate_tokens(void *ctx, const char *text, size_t len);

/* Chunks doc. *out is malloc'd (NULL when *n == 0) and owned by the caller:
 * hh_chunks_free. Errors: HH_EINVAL (bad params), HH_ENOMEM. */
int  hh_chunk_doc(const hh_doc_t *doc, const hh_chunk_params_t *p, hh_chunk_t **out, size_t *n, hh_err_t *err);
void hh_chunks_free(hh_chunk_t *v, size_t n);

#endif
