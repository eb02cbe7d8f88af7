/* extract_int.h - private interface between the extractor's files:
 * the document builder (text clean-up, limits), the in-process dispatcher
 * and the per-format extractors. Everything here runs inside the sandboxed
 * child (or in-process when lim->sandbox is 0). */
#ifndef HH_KB_EXTRACT_INT_H
#define HH_KB_EXTRACT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kb/extract.h"

#define HH_MIME_PDF  "application/pdf"
#define HH_MIME_DOCX "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
#define HH_MIME_ODT  "application/vnd.oasis.opendocument.text"
#define HH_MIME_EML  "message/rfc822"
#define HH_MIME_HTML "text/html"
#define HH_MIME_MD   "text/markdown"
#define HH_MIME_TEXT "text/plain"

/* A growable byte string; owns data (NUL-terminated when cap > 0). */
typedef struct hh_xstr {
    char  *data;
    size_t len, cap;
} hh_xstr_t;

int  hh_xstr_append(hh_xstr_t *s, const char *p, size_t n);
int  hh_xstr_putc(hh_xstr_t *s, char c);
void hh_xstr_free(hh_xstr_t *s);

/* Builds a document block by block. doc is borrowed; out_bytes counts the
 * text kept so far against lim->output_bytes. */
typedef struct hh_xb {
    hh_doc_t                  *doc;
    size_t                     cap_blocks;
    const hh_extract_limits_t *lim;
    uint64_t                   out_bytes;
    int32_t                    page;        /* page given to new blocks */
    bool                       truncated;   /* nesting beyond lim->max_depth was dropped */
} hh_xb_t;

/* Appends a block. The text is cleaned first: invalid UTF-8 and NUL bytes
 * become U+FFFD, other control characters a space; for every kind but
 * HH_BLOCK_CODE runs of white space collapse to one space and the ends are
 * trimmed (CODE keeps its lines, minus blank lines at both ends). A block
 * that is empty after cleaning is dropped (returns 0). HH_ERANGE when the
 * document would exceed lim->output_bytes. */
int hh_xb_add(hh_xb_t *b, hh_block_kind_t kind, int32_t level,
              const char *text, size_t len, hh_err_t *err);

/* Cleans text as hh_xb_add does (collapse: white space runs -> one space,
 * trimmed). Returns a new NUL-terminated string (caller frees) or NULL when
 * out of memory; *out_len gets its length. */
char *hh_x_clean(const char *text, size_t len, bool collapse, size_t *out_len);

/* Sets doc->title from text (cleaned, collapsed) unless a title is set or the
 * cleaned text is empty. */
int hh_xb_title(hh_xb_t *b, const char *text, size_t len);

/* In-process extraction of bytes already in memory. path (may be NULL) is the
 * file the bytes came from, so pdftotext can read it directly; name (may be
 * NULL) gives the title fallback and the extension; depth counts e-mail
 * attachment nesting (0 at the top). */
int hh_x_extract_mem(const uint8_t *data, size_t len, const char *path, const char *name,
                     const hh_extract_limits_t *lim, uint32_t depth,
                     hh_doc_t *out, hh_err_t *err);

/* Per-format extractors: fill b->doc's blocks (and title when the format has
 * one); the dispatcher sets mime, name and the file-name title fallback. */
int hh_x_text(hh_xb_t *b, const uint8_t *data, size_t len, hh_err_t *err);
int hh_x_markdown(hh_xb_t *b, const uint8_t *data, size_t len, hh_err_t *err);
/* HTML in memory; utf8 says the bytes are already UTF-8 (e-mail bodies). */
int hh_x_html(hh_xb_t *b, const uint8_t *data, size_t len, bool utf8, hh_err_t *err);
int hh_x_pdf(hh_xb_t *b, const uint8_t *data, size_t len, const char *path, hh_err_t *err);
int hh_x_docx(hh_xb_t *b, const uint8_t *data, size_t len, hh_err_t *err);
int hh_x_odt(hh_xb_t *b, const uint8_t *data, size_t len, hh_err_t *err);
int hh_x_mail(hh_xb_t *b, const uint8_t *data, size_t len, uint32_t depth, hh_err_t *err);

/* Paragraphs of plain text (split at blank lines) appended with b->page;
 * a form feed starts the next page when pages is true (pdftotext output). */
int hh_x_text_paragraphs(hh_xb_t *b, const char *text, size_t len, bool pages, hh_err_t *err);

/* Visits the element tree under root in document order without recursion
 * (a 100k-deep tree costs no stack). enter(ctx, node) returns 0 to descend,
 * 1 to skip the node's children (leave is then not called), or a negative
 * code to stop; leave(ctx, node) follows an enter that returned 0. Elements
 * deeper than max_depth are skipped and *truncated is set. Text and CDATA
 * nodes are passed to enter as well (their return value only stops). */
struct _xmlNode;
int hh_x_walk(struct _xmlNode *root, uint32_t max_depth, bool *truncated,
              int (*enter)(void *ctx, struct _xmlNode *n),
              int (*leave)(void *ctx, struct _xmlNode *n), void *ctx);

/* Zip member names present in data (detection): which of the office formats
 * this zip is, or NULL. */
const char *hh_x_zip_kind(const uint8_t *data, size_t len);

#endif
