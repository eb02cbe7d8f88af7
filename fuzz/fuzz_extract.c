/* fuzz_extract.c - libFuzzer target for the in-process parsers of kb/extract:
 * text (with its encoding detection), Markdown, HTML, CSV, DOCX/ODT/XLSX/
 * PPTX (zip + XML) and e-mail (the first input
 * byte picks the file-name hint, the rest is the file). PDF inputs are
 * skipped (they run pdftotext, a separate program). Checks, beyond what
 * ASan/UBSan catch: a success yields a MIME type and every block's text is
 * valid UTF-8 of the length recorded, with no NUL inside; a failure yields
 * no blocks. */
#include "kb/extract.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool valid_utf8(const char *s, size_t n)
{
    const uint8_t *p = (const uint8_t *)s;
    for (size_t i = 0; i < n;) {
        uint8_t c = p[i];
        size_t k = c < 0x80 ? 1 : (c >= 0xc2 && c <= 0xdf) ? 2 : (c >= 0xe0 && c <= 0xef) ? 3
                 : (c >= 0xf0 && c <= 0xf4) ? 4 : 0;
        if (k == 0 || c == 0 || i + k > n)
            return false;
        for (size_t j = 1; j < k; j++)
            if ((p[i + j] & 0xc0) != 0x80)
                return false;
        i += k;
    }
    return true;
}

static void check_doc(const hh_doc_t *d, int depth)
{
    if (d->mime == NULL && depth == 0)
        abort();
    for (size_t i = 0; i < d->n_blocks; i++) {
        const hh_block_t *b = &d->blocks[i];
        if (b->text == NULL || strlen(b->text) != b->len || !valid_utf8(b->text, b->len) || b->len == 0)
            abort();
    }
    for (size_t i = 0; i < d->n_children; i++)
        check_doc(&d->children[i], depth + 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[] = { "a.txt", "a.md", "a.html", "a.docx", "a.odt", "a.eml", "noext",
                                         "a.csv", "a.xlsx", "a.pptx" };
    if (size < 1)
        return 0;
    const char *name = names[data[0] % (sizeof names / sizeof names[0])];
    const char *mime = hh_extract_detect(data + 1, size - 1, name);
    if (mime != NULL && strcmp(mime, "application/pdf") == 0)
        return 0;
    hh_extract_limits_t lim;
    hh_extract_default_limits(&lim);
    lim.sandbox = 0;
    lim.unpacked_bytes = 4u << 20;
    hh_doc_t d;
    hh_err_t e;
    int rc = hh_extract_buffer(data + 1, size - 1, name, &lim, &d, &e);
    if (rc == 0)
        check_doc(&d, 0);
    else if (d.n_blocks != 0 || d.blocks != NULL)
        abort();
    hh_doc_clear(&d);
    return 0;
}
