/* extract.h - turns a file (plain text, Markdown, CSV, HTML, PDF, DOCX, ODT,
 * XLSX, PPTX, e-mail) into an hh_doc_t (kb/doc.h): blocks with kind, level
 * and page; docs/KB.md "Ingestion: formats and encodings" has the rules.
 *
 * The format is detected by content, not by the file name: %PDF, a zip with
 * word/document.xml (DOCX), mimetype + content.xml (ODT), xl/workbook.xml
 * (XLSX) or ppt/presentation.xml (PPTX), MIME headers (e-mail), HTML tags,
 * lines with a steady count of ';' or tabs (CSV), else text; the name only
 * tells Markdown (.md), CSV (.csv, .tsv) and plain text apart. A file whose
 * content matches no format fails with HH_EUNSUPPORTED.
 *
 * Text formats (text, Markdown, CSV, HTML without a charset) are decoded to
 * UTF-8 first: UTF-8 (a BOM dropped), UTF-16 with a BOM, else Windows-1252 or
 * ISO-8859-15 (extract_enc.c); doc->encoding names what was read. Table
 * rows carry their header ("Reiseziel: München | Hotel pro Nacht: 150 EUR").
 *
 * Extraction runs in a forked child process (the sandbox) with limits on CPU
 * time, address space, file writes and open files, and a wall-clock timeout
 * after which the parent kills the child's whole process group. The child
 * sends the document back over a pipe; the parent checks every size against
 * the output limit before it allocates. A broken or hostile file therefore
 * fails alone with a clear error and the calling process is never harmed:
 *   HH_EFORMAT       malformed file (bad zip, bad PDF, bad MIME, malformed XML)
 *   HH_EUNSUPPORTED  content of no known format (also: a 0-byte file, "empty file")
 *   HH_ERANGE        a limit was hit: "timed out after N s", "CPU time limit",
 *                    "killed: memory limit", output too large, zip bomb,
 *                    nesting too deep, attachments nested too deep
 *   HH_EIO / HH_ENOENT  the file cannot be read
 * Bytes that stay invalid UTF-8 (a UTF-8 file with a few broken bytes) are
 * passed on with each bad byte replaced by U+FFFD, never raw. */
#ifndef HH_KB_EXTRACT_H
#define HH_KB_EXTRACT_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "kb/doc.h"

typedef struct hh_extract_limits {
    uint32_t cpu_seconds;     /* RLIMIT_CPU of the child (and pdftotext); default 30 */
    uint32_t wall_ms;         /* wall clock before SIGKILL; default 60000 */
    uint64_t mem_bytes;       /* RLIMIT_AS of the child; default 1 GiB */
    uint64_t output_bytes;    /* largest serialized document accepted; default 64 MiB */
    uint64_t input_bytes;     /* largest input file; default 512 MiB */
    uint64_t unpacked_bytes;  /* largest uncompressed zip member (DOCX/ODT/XLSX/PPTX); default 256 MiB */
    uint32_t max_ratio;       /* largest uncompressed/compressed ratio of a zip member; default 200 */
    uint32_t max_depth;       /* element nesting kept by the HTML/XML walkers; default 256 */
    uint32_t max_attach_depth;/* e-mail attachments nested deeper fail; default 4 */
    int      sandbox;         /* 1 (default): run in a forked child; 0: in this process
                               * (fuzzing, debugging; no CPU/memory/time limits then) */
} hh_extract_limits_t;

/* Fills lim with the defaults written above. */
void hh_extract_default_limits(hh_extract_limits_t *lim);

/* Extracts the file at path into *out (zeroed first; on success the caller
 * owns it and frees it with hh_doc_clear; on failure it is left empty).
 * lim may be NULL for the defaults. The file name gives the title when the
 * format has none, and tells Markdown (.md/.markdown) from plain text.
 * Returns 0 or a negative HH_E* code with details in err (may be NULL). */
int hh_extract_file(const char *path, const hh_extract_limits_t *lim,
                    hh_doc_t *out, hh_err_t *err);

/* Same, with name_hint (NULL: path) in the file name's role: a stored
 * original (DATA/files/<sha>) re-extracted under its source path. */
int hh_extract_file_named(const char *path, const char *name_hint, const hh_extract_limits_t *lim,
                          hh_doc_t *out, hh_err_t *err);

/* Same for bytes in memory (an upload, an attachment). name_hint (may be
 * NULL) plays the role of the file name. data is only read. */
int hh_extract_buffer(const void *data, size_t len, const char *name_hint,
                      const hh_extract_limits_t *lim, hh_doc_t *out, hh_err_t *err);

/* The MIME type detected for data by content (and name_hint for Markdown
 * and CSV): "application/pdf", "application/vnd.openxmlformats-officedocument.
 * wordprocessingml.document", "...spreadsheetml.sheet", "...presentationml.
 * presentation", "application/vnd.oasis.opendocument.text",
 * "message/rfc822", "text/html", "text/markdown", "text/csv", "text/plain",
 * or NULL when no format matches (binary data, an unknown zip, empty input).
 * Static string. Raw single-byte text with many accented letters may give
 * NULL here and still extract (extraction decodes before it detects). */
const char *hh_extract_detect(const void *data, size_t len, const char *name_hint);

#endif
