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
#define HH_MIME_CSV  "text/csv"
#define HH_MIME_XLSX "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#define HH_MIME_PPTX "application/vnd.openxmlformats-officedocument.presentationml.presentation"

/* True for the zip-based office types (DOCX, ODT, XLSX, PPTX). */
bool hh_x_zip_mime(const char *mime);

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
    char                       csv_delim;   /* CSV: 0 = sniff, else this delimiter (.tsv: tab) */
    bool                       no_heading_title; /* headings are no title (XLSX sheet names):
                                                  * without one the file name is */
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

/* A table read row by row (extract_table.c has the rules): cells are added
 * with hh_xt_cell, each row closed with hh_xt_row_end (is_header: the format
 * marks this row as the header), the table with hh_xt_end, which also frees
 * everything; hh_xt_reset frees without emitting (error paths). Start from
 * a zeroed struct. */
#define HH_XT_MAX_CELLS 4096
typedef struct hh_xt {
    char  **cells;             /* the open row's cleaned cells */
    size_t  n, cap;
    char  **header;            /* the header row, once decided */
    size_t  n_header;
    char  **first;             /* the first row while it may still be the header */
    size_t  n_first;
    bool    decided;
    size_t  data_rows;
} hh_xt_t;

int  hh_xt_cell(hh_xt_t *t, hh_xb_t *b, const char *text, size_t len, hh_err_t *err);
int  hh_xt_row_end(hh_xt_t *t, hh_xb_t *b, bool is_header, hh_err_t *err);
int  hh_xt_end(hh_xt_t *t, hh_xb_t *b, hh_err_t *err);
void hh_xt_reset(hh_xt_t *t);

/* CSV with a given delimiter (0: sniffed). */
int hh_x_csv_delim(hh_xb_t *b, const uint8_t *data, size_t len, char delim, hh_err_t *err);

/* Per-format extractors: fill b->doc's blocks (and title when the format has
 * one); the dispatcher sets mime, name and the file-name title fallback. */
int hh_x_text(hh_xb_t *b, const uint8_t *data, size_t len, hh_err_t *err);
int hh_x_markdown(hh_xb_t *b, const uint8_t *data, size_t len, hh_err_t *err);
/* HTML in memory; utf8 says the bytes are already UTF-8 (e-mail bodies). */
int hh_x_html(hh_xb_t *b, const uint8_t *data, size_t len, bool utf8, hh_err_t *err);
int hh_x_pdf(hh_xb_t *b, const uint8_t *data, size_t len, const char *path, hh_err_t *err);
int hh_x_docx(hh_xb_t *b, const uint8_t *data, size_t len, hh_err_t *err);
int hh_x_odt(hh_xb_t *b, const uint8_t *data, size_t len, hh_err_t *err);
int hh_x_xlsx(hh_xb_t *b, const uint8_t *data, size_t len, hh_err_t *err);
int hh_x_pptx(hh_xb_t *b, const uint8_t *data, size_t len, hh_err_t *err);
int hh_x_csv(hh_xb_t *b, const uint8_t *data, size_t len, hh_err_t *err);
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

/* The text of a text file as UTF-8 (extract_enc.c has the rules): *text
 * and *text_len point into data (valid UTF-8 as it is, or with a UTF-8 BOM
 * skipped) or into *owned, a converted copy the caller frees (NULL when
 * nothing was converted). *enc gets the encoding's name (static):
 * "utf-8", "windows-1252", "iso-8859-15", "utf-16le", "utf-16be". Invalid
 * bytes left in UTF-8 stay (hh_xb_add makes them U+FFFD). HH_ENOMEM. */
int hh_x_decode_text(const uint8_t *data, size_t len, const uint8_t **text, size_t *text_len,
                     uint8_t **owned, const char **enc);

/* True when an HTML file declares a charset other than UTF-8 in its first
 * 4 KiB (libxml2 then converts); buf (cap bytes) gets the name, lower case. */
bool hh_x_html_charset(const uint8_t *data, size_t len, char *buf, size_t cap);

/* Appends a PDF text line to a paragraph, undoing end-of-line hyphenation
 * (extract_pdf.c has the rule): "Ken-" + "nung" -> "Kennung", "E-" + "Mail"
 * -> "E-Mail", "Ein-" + "und Ausgang" -> "Ein- und Ausgang"; else one space
 * between. HH_ENOMEM. */
int hh_x_pdf_join(hh_xstr_t *para, const char *line, size_t n);

/* Zip access shared by the office readers (extract_zip.c). hh_x_zip_open:
 * a read-only archive over data (borrowed; NULL when not a zip), closed with
 * zip_discard. hh_x_zip_read: member name as a NUL-terminated malloc'd copy;
 * HH_ENOENT when absent, HH_ERANGE for a size or compression ratio over
 * lim (checked before inflating), HH_EFORMAT when it inflates past its
 * declared size. hh_x_xml_parse: no network, DTD or entities; HH_EFORMAT /
 * HH_ERANGE (too deep) with the line in err. */
struct zip;
struct _xmlDoc;
struct zip *hh_x_zip_open(const uint8_t *data, size_t len);
int hh_x_zip_read(struct zip *za, const char *name, const hh_extract_limits_t *lim,
                  char **out, size_t *out_len, hh_err_t *err);
int hh_x_xml_parse(const char *buf, size_t len, const char *name, struct _xmlDoc **out, hh_err_t *err);

/* The main part of an Office Open XML package: def when the zip has it,
 * else the [Content_Types].xml Override whose ContentType is ctype (its
 * PartName without the leading '/', when that member exists). out (cap
 * bytes) gets the name (def when none is found). Returns 1 when found. */
int hh_x_ooxml_main(struct zip *za, const char *ctype, const char *def, char *out, size_t cap);

/* Sets the title from dc:title in a metadata member (docProps/core.xml,
 * meta.xml) when there is one; a missing or broken member is ignored.
 * HH_ENOMEM only. */
int hh_x_zip_meta_title(hh_xb_t *b, struct zip *za, const char *member);

/* Zip member names present in data (detection): which of the office formats
 * this zip is, or NULL. */
const char *hh_x_zip_kind(const uint8_t *data, size_t len);

#endif
