/* doc.h - a document's text as extracted, with its structure: the hand-off
 * from the extractors (kb/extract) to the chunker (kb/chunk).
 *
 * Contract written by the lead; the extract and ingest owners may extend. */
#ifndef HH_KB_DOC_H
#define HH_KB_DOC_H

#include <stddef.h>
#include <stdint.h>

typedef enum hh_block_kind {
    HH_BLOCK_HEADING = 0,   /* level 1..6 */
    HH_BLOCK_PARAGRAPH,
    HH_BLOCK_LIST_ITEM,     /* level = nesting depth (1 = top) */
    HH_BLOCK_TABLE_ROW,     /* cells joined with " | " */
    HH_BLOCK_CODE,          /* preformatted text, kept verbatim */
    HH_BLOCK_QUOTE,
} hh_block_kind_t;

typedef struct hh_block {
    hh_block_kind_t kind;
    int32_t         level;    /* heading level / list depth; 0 otherwise */
    int32_t         page;     /* 1-based page (PDF), 0 when the format has no pages */
    char           *text;     /* UTF-8, NUL-terminated, owned by the document */
    size_t          len;
} hh_block_t;

/* An extracted document. Owns every string. An e-mail's attachments are
 * separate documents (children), extracted recursively. */
typedef struct hh_doc hh_doc_t;
struct hh_doc {
    char       *title;        /* from metadata / first heading / file name; owned */
    char       *mime;         /* detected type, e.g. "application/pdf"; owned */
    hh_block_t *blocks;
    size_t      n_blocks;
    hh_doc_t   *children;     /* attachments (e-mail); owned */
    size_t      n_children;
    char       *name;         /* file name of an attachment, else NULL; owned */
    char       *encoding;     /* the text encoding the bytes were read in, for
                               * text formats (text, Markdown, CSV, HTML, mail
                               * bodies): "utf-8", "windows-1252",
                               * "iso-8859-15", "utf-16le", "utf-16be", or an
                               * HTML file's declared charset; NULL for formats
                               * whose encoding the format fixes (PDF, zip/XML
                               * office files); owned */
};

/* Frees everything a document owns (not the struct itself when embedded). */
void hh_doc_clear(hh_doc_t *d);

#endif
