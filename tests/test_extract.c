/* test_extract.c - kb/extract: every format's blocks checked exactly (kind,
 * level, page, text, title), format detection by content, and hostile files
 * (zip bomb, a PDF that hangs pdftotext, 100k-deep HTML, invalid UTF-8, an
 * empty file, wrong extensions, memory and output limits) failing alone with
 * a clear error while the test process carries on. Sample PDF, DOCX, ODT and
 * e-mail files are written at run time into the test's temporary directory. */
#include "harness.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zip.h>

#include "kb/extract.h"

/* ---- helpers ------------------------------------------------------------- */

static const char *tmp_path(const char *name)
{
    static char buf[4][1024];
    static int slot;
    slot = (slot + 1) % 4;
    snprintf(buf[slot], sizeof buf[slot], "%s/%s", hh_test_tmpdir(), name);
    return buf[slot];
}

static bool write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return false;
    bool ok = fwrite(data, 1, len, f) == len;
    return fclose(f) == 0 && ok;
}

typedef struct zentry {
    const char *name;
    const char *data;
    size_t      len;    /* 0: strlen(data) */
    bool        store;  /* no compression (ODT's mimetype) */
} zentry_t;

static bool write_zip(const char *path, const zentry_t *e, int n)
{
    int zerr = 0;
    zip_t *za = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &zerr);
    if (za == NULL)
        return false;
    for (int i = 0; i < n; i++) {
        size_t len = e[i].len ? e[i].len : strlen(e[i].data);
        zip_source_t *s = zip_source_buffer(za, e[i].data, len, 0);
        zip_int64_t idx = s ? zip_file_add(za, e[i].name, s, ZIP_FL_OVERWRITE) : -1;
        if (idx < 0) {
            zip_source_free(s);
            zip_discard(za);
            return false;
        }
        zip_set_file_compression(za, (zip_uint64_t)idx, e[i].store ? ZIP_CM_STORE : ZIP_CM_DEFLATE, 9);
    }
    return zip_close(za) == 0;
}

/* A PDF written by hand: objects numbered from 1, offsets computed for the
 * xref table. bodies[i] is object i+1's text. */
static char *pdf_from_objects(const char *const *bodies, int n, size_t *out_len)
{
    size_t cap = 1 << 16, len = 0;
    if (n <= 0 || n > 1000)
        return NULL;
    for (int i = 0; i < n; i++)
        cap += strlen(bodies[i]) + 64;
    char *p = malloc(cap);
    size_t *off = calloc((size_t)n, sizeof *off);
    if (p == NULL || off == NULL) {
        free(p);
        free(off);
        return NULL;
    }
    len += (size_t)sprintf(p + len, "%%PDF-1.4\n");
    for (int i = 0; i < n; i++) {
        off[i] = len;
        len += (size_t)sprintf(p + len, "%d 0 obj\n%s\nendobj\n", i + 1, bodies[i]);
    }
    size_t xref = len;
    len += (size_t)sprintf(p + len, "xref\n0 %d\n0000000000 65535 f \n", n + 1);
    for (int i = 0; i < n; i++)
        len += (size_t)sprintf(p + len, "%010zu 00000 n \n", off[i]);
    len += (size_t)sprintf(p + len, "trailer\n<< /Size %d /Root 1 0 R /Info 3 0 R >>\nstartxref\n%zu\n%%%%EOF\n",
                           n + 1, xref);
    free(off);
    *out_len = len;
    return p;
}

static char *stream_obj(const char *dict_extra, const char *content)
{
    char *s = malloc(strlen(content) + strlen(dict_extra) + 128);
    if (s)
        sprintf(s, "<< /Length %zu %s >>\nstream\n%s\nendstream", strlen(content), dict_extra, content);
    return s;
}

/* Two pages of text; a blank line in a page's text leaves a paragraph gap. */
static char *make_two_page_pdf(size_t *len)
{
    const char *c1 = "BT /F1 12 Tf 14 TL 72 720 Td (Hello PDF page one.) Tj T* (Second line here.) Tj "
                     "T* T* T* (Another paragraph.) Tj ET";
    const char *c2 = "BT /F1 12 Tf 72 720 Td (Page two text.) Tj ET";
    char *s1 = stream_obj("", c1), *s2 = stream_obj("", c2);
    const char *objs[] = {
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [5 0 R 7 0 R] /Count 2 >>",
        "<< /Title (Test Manual) /Producer (hoheit tests) >>",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 4 0 R >> >> /Contents 6 0 R >>",
        s1,
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 4 0 R >> >> /Contents 8 0 R >>",
        s2,
    };
    char *pdf = (s1 && s2) ? pdf_from_objects(objs, 8, len) : NULL;
    free(s1);
    free(s2);
    return pdf;
}

/* A PDF whose page draws form X1, which draws X2 twice, ... down to X40:
 * 2^40 text draws from a file of a few KB, so pdftotext never finishes. */
static char *make_hanging_pdf(size_t *len)
{
    enum { LEVELS = 40 };
    char *objs[8 + LEVELS];
    int n = 0;
    objs[n++] = strdup("<< /Type /Catalog /Pages 2 0 R >>");
    objs[n++] = strdup("<< /Type /Pages /Kids [5 0 R] /Count 1 >>");
    objs[n++] = strdup("<< /Title (Hang) >>");
    objs[n++] = strdup("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>");
    objs[n++] = strdup("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
                       "/Resources << /XObject << /X1 6 0 R >> >> /Contents 7 0 R >>");
    /* 6: X1 .. ; object numbers: X_k is object 5 + 2k - 1? keep it simple:
     * object 6 = X1, 7 = page content, 8.. = X2..X40 */
    char dict[256];
    snprintf(dict, sizeof dict, "/Type /XObject /Subtype /Form /BBox [0 0 612 792] "
             "/Resources << /XObject << /X 8 0 R >> /Font << /F1 4 0 R >> >>");
    objs[n++] = stream_obj(dict, "/X Do /X Do");
    objs[n++] = stream_obj("", "/X1 Do");
    for (int k = 2; k <= LEVELS; k++) {
        int self = 8 + (k - 2);
        if (k < LEVELS) {
            snprintf(dict, sizeof dict, "/Type /XObject /Subtype /Form /BBox [0 0 612 792] "
                     "/Resources << /XObject << /X %d 0 R >> /Font << /F1 4 0 R >> >>", self + 1);
            objs[n++] = stream_obj(dict, "/X Do /X Do");
        } else {
            snprintf(dict, sizeof dict, "/Type /XObject /Subtype /Form /BBox [0 0 612 792] "
                     "/Resources << /Font << /F1 4 0 R >> >>");
            objs[n++] = stream_obj(dict, "BT /F1 12 Tf 72 720 Td (bomb) Tj ET");
        }
    }
    char *pdf = pdf_from_objects((const char *const *)objs, n, len);
    for (int i = 0; i < n; i++)
        free(objs[i]);
    return pdf;
}

/* Checks block i of d: kind, level, page, text. Returns false after
 * reporting a mismatch. */
static bool block_is(const hh_doc_t *d, size_t i, hh_block_kind_t kind, int level, int page,
                     const char *text, int line)
{
    if (i >= d->n_blocks) {
        hh_test_fail(__FILE__, line, "block %zu: expected \"%s\", document has %zu blocks", i, text, d->n_blocks);
        return false;
    }
    const hh_block_t *b = &d->blocks[i];
    if ((int)b->kind != (int)kind || b->level != level || b->page != page || strcmp(b->text, text) != 0 ||
        b->len != strlen(text)) {
        hh_test_fail(__FILE__, line, "block %zu: expected kind %d level %d page %d \"%s\", got kind %d level %d page %d \"%s\"",
                     i, (int)kind, level, page, text, (int)b->kind, b->level, b->page, b->text);
        return false;
    }
    return true;
}
#define BLOCK(d, i, kind, level, page, text) \
    do { if (!block_is((d), (i), (kind), (level), (page), (text), __LINE__)) { hh_doc_clear(d); return; } } while (0)

static bool contains(const char *s, const char *needle)
{
    return s != NULL && strstr(s, needle) != NULL;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- formats ---------------------------------------------------------------- */

TEST(extract_text_paragraphs)
{
    const char *txt = "\xef\xbb\xbf" "First line\nsecond   line.\n\n \t\nPara two\r\nstill two\r\n\n\nlast";
    const char *path = tmp_path("notes.txt");
    ASSERT_TRUE(write_file(path, txt, strlen(txt)));
    hh_doc_t d;
    hh_err_t e;
    ASSERT_OK(hh_extract_file(path, NULL, &d, &e));
    ASSERT_STREQ(d.mime, "text/plain");
    ASSERT_STREQ(d.title, "notes");
    ASSERT_EQ_INT(d.n_blocks, 3);
    ASSERT_EQ_INT(d.n_children, 0);
    BLOCK(&d, 0, HH_BLOCK_PARAGRAPH, 0, 0, "First line second line.");
    BLOCK(&d, 1, HH_BLOCK_PARAGRAPH, 0, 0, "Para two still two");
    BLOCK(&d, 2, HH_BLOCK_PARAGRAPH, 0, 0, "last");
    ASSERT_TRUE(d.name == NULL);
    hh_doc_clear(&d);
}

static const char MD_SAMPLE[] =
    "# Travel *policy*\n"
    "\n"
    "Intro with **bold**, `code`, a [link](http://x.example/a_(b)) and snake_case 2 * 3.\n"
    "Second line.\n"
    "\n"
    "## Hotels ##\n"
    "- first item\n"
    "  continued\n"
    "- second\n"
    "  - nested one\n"
    "    1. deeper\n"
    "- back to top\n"
    "\n"
    "```c\n"
    "int main(void) {\n"
    "\n"
    "    return 0;\n"
    "}\n"
    "```\n"
    "\n"
    "| City | Rate |\n"
    "|------|-----:|\n"
    "| Berlin | 120 EUR |\n"
    "| Bonn | 90 \\| 95 |\n"
    "\n"
    "> quoted text\n"
    "> more quote\n"
    "\n"
    "Setext Title\n"
    "============\n"
    "\n"
    "---\n"
    "    indented code\n";

TEST(extract_markdown_blocks)
{
    hh_doc_t d;
    hh_err_t e;
    ASSERT_OK(hh_extract_buffer(MD_SAMPLE, strlen(MD_SAMPLE), "travel.md", NULL, &d, &e));
    ASSERT_STREQ(d.mime, "text/markdown");
    ASSERT_STREQ(d.title, "Travel policy");
    BLOCK(&d, 0, HH_BLOCK_HEADING, 1, 0, "Travel policy");
    BLOCK(&d, 1, HH_BLOCK_PARAGRAPH, 0, 0, "Intro with bold, code, a link and snake_case 2 * 3. Second line.");
    BLOCK(&d, 2, HH_BLOCK_HEADING, 2, 0, "Hotels");
    BLOCK(&d, 3, HH_BLOCK_LIST_ITEM, 1, 0, "first item continued");
    BLOCK(&d, 4, HH_BLOCK_LIST_ITEM, 1, 0, "second");
    BLOCK(&d, 5, HH_BLOCK_LIST_ITEM, 2, 0, "nested one");
    BLOCK(&d, 6, HH_BLOCK_LIST_ITEM, 3, 0, "deeper");
    BLOCK(&d, 7, HH_BLOCK_LIST_ITEM, 1, 0, "back to top");
    BLOCK(&d, 8, HH_BLOCK_CODE, 0, 0, "int main(void) {\n\n    return 0;\n}");
    /* table rows carry their header (issue 14) */
    BLOCK(&d, 9, HH_BLOCK_TABLE_ROW, 0, 0, "City: Berlin | Rate: 120 EUR");
    BLOCK(&d, 10, HH_BLOCK_TABLE_ROW, 0, 0, "City: Bonn | Rate: 90 | 95");
    BLOCK(&d, 11, HH_BLOCK_QUOTE, 0, 0, "quoted text more quote");
    BLOCK(&d, 12, HH_BLOCK_HEADING, 1, 0, "Setext Title");
    BLOCK(&d, 13, HH_BLOCK_CODE, 0, 0, "indented code");
    ASSERT_EQ_INT(d.n_blocks, 14);
    hh_doc_clear(&d);
}

/* The wire format between the sandbox child and the parent loses nothing:
 * sandboxed and in-process extraction give the same document. */
TEST(extract_sandbox_matches_in_process)
{
    hh_extract_limits_t lim;
    hh_extract_default_limits(&lim);
    hh_doc_t a, b;
    hh_err_t e;
    ASSERT_OK(hh_extract_buffer(MD_SAMPLE, strlen(MD_SAMPLE), "travel.md", &lim, &a, &e));
    lim.sandbox = 0;
    ASSERT_OK(hh_extract_buffer(MD_SAMPLE, strlen(MD_SAMPLE), "travel.md", &lim, &b, &e));
    ASSERT_EQ_INT(a.n_blocks, b.n_blocks);
    ASSERT_STREQ(a.title, b.title);
    ASSERT_STREQ(a.mime, b.mime);
    for (size_t i = 0; i < a.n_blocks; i++) {
        ASSERT_EQ_INT(a.blocks[i].kind, b.blocks[i].kind);
        ASSERT_EQ_INT(a.blocks[i].level, b.blocks[i].level);
        ASSERT_EQ_INT(a.blocks[i].len, b.blocks[i].len);
        ASSERT_STREQ(a.blocks[i].text, b.blocks[i].text);
    }
    hh_doc_clear(&a);
    hh_doc_clear(&b);
}

static const char HTML_SAMPLE[] =
    "<!DOCTYPE html><html><head><title>Employee  Handbook</title>"
    "<style>p { color: red }</style><script>var x = 'no';</script></head><body>"
    "<h1>Welcome</h1>"
    "<p>First &amp; <b>bold</b><br>line</p>"
    "<ul><li>One</li><li>Two<ul><li>Two.a</li></ul></li></ul>"
    "<table><tr><th>Name</th><th>Room</th></tr><tr><td><p>Ada</p></td><td>4.12</td></tr></table>"
    "<pre>  code  line\n    indented</pre>"
    "<blockquote><p>Quoted words</p></blockquote>"
    "<div>Loose div text<h3>Sub</h3>tail text</div>"
    "</body></html>";

TEST(extract_html_blocks)
{
    hh_doc_t d;
    hh_err_t e;
    ASSERT_OK(hh_extract_buffer(HTML_SAMPLE, strlen(HTML_SAMPLE), "page.html", NULL, &d, &e));
    ASSERT_STREQ(d.mime, "text/html");
    ASSERT_STREQ(d.title, "Employee Handbook");
    BLOCK(&d, 0, HH_BLOCK_HEADING, 1, 0, "Welcome");
    BLOCK(&d, 1, HH_BLOCK_PARAGRAPH, 0, 0, "First & bold line");
    BLOCK(&d, 2, HH_BLOCK_LIST_ITEM, 1, 0, "One");
    BLOCK(&d, 3, HH_BLOCK_LIST_ITEM, 1, 0, "Two");
    BLOCK(&d, 4, HH_BLOCK_LIST_ITEM, 2, 0, "Two.a");
    BLOCK(&d, 5, HH_BLOCK_TABLE_ROW, 0, 0, "Name: Ada | Room: 4.12");
    BLOCK(&d, 6, HH_BLOCK_CODE, 0, 0, "  code  line\n    indented");
    BLOCK(&d, 7, HH_BLOCK_QUOTE, 0, 0, "Quoted words");
    BLOCK(&d, 8, HH_BLOCK_PARAGRAPH, 0, 0, "Loose div text");
    BLOCK(&d, 9, HH_BLOCK_HEADING, 3, 0, "Sub");
    BLOCK(&d, 10, HH_BLOCK_PARAGRAPH, 0, 0, "tail text");
    ASSERT_EQ_INT(d.n_blocks, 11);
    hh_doc_clear(&d);
}

TEST(extract_pdf_pages)
{
    size_t len;
    char *pdf = make_two_page_pdf(&len);
    ASSERT_TRUE(pdf != NULL);
    const char *path = tmp_path("manual.pdf");
    bool ok = write_file(path, pdf, len);
    hh_doc_t d, m;
    hh_err_t e;
    int rc_buf = hh_extract_buffer(pdf, len, "upload.pdf", NULL, &m, &e);
    free(pdf);
    ASSERT_TRUE(ok);
    ASSERT_OK(rc_buf);
    ASSERT_OK(hh_extract_file(path, NULL, &d, &e));
    ASSERT_STREQ(d.mime, "application/pdf");
    ASSERT_STREQ(d.title, "Test Manual");
    BLOCK(&d, 0, HH_BLOCK_PARAGRAPH, 0, 1, "Hello PDF page one. Second line here.");
    BLOCK(&d, 1, HH_BLOCK_PARAGRAPH, 0, 1, "Another paragraph.");
    BLOCK(&d, 2, HH_BLOCK_PARAGRAPH, 0, 2, "Page two text.");
    ASSERT_EQ_INT(d.n_blocks, 3);
    /* from memory (pdftotext reads stdin) the same */
    ASSERT_EQ_INT(m.n_blocks, 3);
    ASSERT_STREQ(m.title, "Test Manual");
    BLOCK(&m, 2, HH_BLOCK_PARAGRAPH, 0, 2, "Page two text.");
    hh_doc_clear(&m);
    hh_doc_clear(&d);
}

static const char DOCX_TYPES[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">"
    "<Default Extension=\"xml\" ContentType=\"application/xml\"/></Types>";

#define W_NS "xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\" " \
             "xmlns:mc=\"http://schemas.openxmlformats.org/markup-compatibility/2006\""

static const char DOCX_BODY[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>"
    "<w:document " W_NS "><w:body>"
    "<w:p><w:pPr><w:pStyle w:val=\"Title\"/></w:pPr><w:r><w:t>Quarterly </w:t></w:r><w:r><w:t>Report</w:t></w:r></w:p>"
    "<w:p><w:pPr><w:pStyle w:val=\"Heading1\"/></w:pPr><w:r><w:t>Summary</w:t></w:r></w:p>"
    "<w:p><w:r><w:t xml:space=\"preserve\">Sales rose </w:t></w:r><w:r><w:t>12 %</w:t><w:tab/><w:t>overall.</w:t></w:r>"
    "<w:r><w:instrText>PAGE</w:instrText></w:r></w:p>"
    "<w:p><w:pPr><w:pStyle w:val=\"Heading2\"/></w:pPr><w:r><w:t>Details</w:t></w:r></w:p>"
    "<w:p><w:pPr><w:numPr><w:ilvl w:val=\"0\"/><w:numId w:val=\"1\"/></w:numPr></w:pPr><w:r><w:t>North</w:t></w:r></w:p>"
    "<w:p><w:pPr><w:numPr><w:ilvl w:val=\"1\"/><w:numId w:val=\"1\"/></w:numPr></w:pPr><w:r><w:t>Hamburg</w:t></w:r></w:p>"
    "<w:tbl><w:tr><w:tc><w:p><w:r><w:t>Region</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>Sales</w:t></w:r></w:p></w:tc></w:tr>"
    "<w:tr><w:tc><w:p><w:r><w:t>South</w:t></w:r></w:p><w:p><w:r><w:t>(Bavaria)</w:t></w:r></w:p></w:tc>"
    "<w:tc><w:p><w:r><w:t>7</w:t></w:r></w:p></w:tc></w:tr></w:tbl>"
    "<w:p><w:r><mc:AlternateContent><mc:Choice Requires=\"wps\"><w:t>Choice</w:t></mc:Choice>"
    "<mc:Fallback><w:t>Fallback</w:t></mc:Fallback></mc:AlternateContent><w:t> end</w:t></w:r></w:p>"
    "</w:body></w:document>";

TEST(extract_docx_blocks)
{
    zentry_t z[] = { { "[Content_Types].xml", DOCX_TYPES, 0, false },
                     { "word/document.xml", DOCX_BODY, 0, false } };
    const char *path = tmp_path("report.docx");
    ASSERT_TRUE(write_zip(path, z, 2));
    hh_doc_t d;
    hh_err_t e;
    ASSERT_OK(hh_extract_file(path, NULL, &d, &e));
    ASSERT_STREQ(d.mime, "application/vnd.openxmlformats-officedocument.wordprocessingml.document");
    ASSERT_STREQ(d.title, "Quarterly Report");
    BLOCK(&d, 0, HH_BLOCK_HEADING, 1, 0, "Quarterly Report");
    BLOCK(&d, 1, HH_BLOCK_HEADING, 1, 0, "Summary");
    BLOCK(&d, 2, HH_BLOCK_PARAGRAPH, 0, 0, "Sales rose 12 % overall.");
    BLOCK(&d, 3, HH_BLOCK_HEADING, 2, 0, "Details");
    BLOCK(&d, 4, HH_BLOCK_LIST_ITEM, 1, 0, "North");
    BLOCK(&d, 5, HH_BLOCK_LIST_ITEM, 2, 0, "Hamburg");
    BLOCK(&d, 6, HH_BLOCK_TABLE_ROW, 0, 0, "Region: South (Bavaria) | Sales: 7");
    BLOCK(&d, 7, HH_BLOCK_PARAGRAPH, 0, 0, "Choice end");
    ASSERT_EQ_INT(d.n_blocks, 8);
    hh_doc_clear(&d);
}

#define ODT_NS "xmlns:office=\"urn:oasis:names:tc:opendocument:xmlns:office:1.0\" " \
               "xmlns:text=\"urn:oasis:names:tc:opendocument:xmlns:text:1.0\" " \
               "xmlns:table=\"urn:oasis:names:tc:opendocument:xmlns:table:1.0\""

static const char ODT_CONTENT[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
    "<office:document-content " ODT_NS " office:version=\"1.2\"><office:body><office:text>"
    "<text:h text:outline-level=\"1\">Einleitung</text:h>"
    "<text:p>Gr\xc3\xbc\xc3\x9f" "e<text:s text:c=\"3\"/>aus <text:span>Bonn</text:span>"
    "<text:note><text:note-body><text:p>footnote</text:p></text:note-body></text:note>.</text:p>"
    "<text:h text:outline-level=\"2\">Liste</text:h>"
    "<text:list><text:list-item><text:p>Eins</text:p>"
    "<text:list><text:list-item><text:p>Zwei</text:p></text:list-item></text:list></text:list-item></text:list>"
    "<table:table><table:table-row><table:table-cell><text:p>A1</text:p></table:table-cell>"
    "<table:table-cell><text:p>B1</text:p></table:table-cell></table:table-row></table:table>"
    "</office:text></office:body></office:document-content>";

static const char ODT_META[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
    "<office:document-meta xmlns:office=\"urn:oasis:names:tc:opendocument:xmlns:office:1.0\" "
    "xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><office:meta><dc:title>Handbuch</dc:title>"
    "</office:meta></office:document-meta>";

TEST(extract_odt_blocks)
{
    zentry_t z[] = { { "mimetype", "application/vnd.oasis.opendocument.text", 0, true },
                     { "content.xml", ODT_CONTENT, 0, false },
                     { "meta.xml", ODT_META, 0, false } };
    const char *path = tmp_path("handbuch.odt");
    ASSERT_TRUE(write_zip(path, z, 3));
    hh_doc_t d;
    hh_err_t e;
    ASSERT_OK(hh_extract_file(path, NULL, &d, &e));
    ASSERT_STREQ(d.mime, "application/vnd.oasis.opendocument.text");
    ASSERT_STREQ(d.title, "Handbuch");
    BLOCK(&d, 0, HH_BLOCK_HEADING, 1, 0, "Einleitung");
    BLOCK(&d, 1, HH_BLOCK_PARAGRAPH, 0, 0, "Gr\xc3\xbc\xc3\x9f" "e aus Bonn.");
    BLOCK(&d, 2, HH_BLOCK_HEADING, 2, 0, "Liste");
    BLOCK(&d, 3, HH_BLOCK_LIST_ITEM, 1, 0, "Eins");
    BLOCK(&d, 4, HH_BLOCK_LIST_ITEM, 2, 0, "Zwei");
    BLOCK(&d, 5, HH_BLOCK_TABLE_ROW, 0, 0, "A1 | B1");
    ASSERT_EQ_INT(d.n_blocks, 6);
    hh_doc_clear(&d);
}

/* base64 of "<html><body><h2>Attached</h2><p>Hello from HTML</p></body></html>" */
static const char EML_SAMPLE[] =
    "From: Alice Example <alice@example.com>\r\n"
    "To: Bob <bob@example.org>\r\n"
    "Subject: =?UTF-8?Q?Reise=C3=BCbersicht?= Q3\r\n"
    "Date: Tue, 02 Jan 2024 10:00:00 +0100\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"outer\"\r\n"
    "\r\n"
    "--outer\r\n"
    "Content-Type: multipart/alternative; boundary=\"alt\"\r\n"
    "\r\n"
    "--alt\r\n"
    "Content-Type: text/plain; charset=iso-8859-1\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n"
    "Hallo Bob,\r\n"
    "die =DCbersicht ist da.\r\n"
    "\r\n"
    "Gru=DF, Alice\r\n"
    "--alt\r\n"
    "Content-Type: text/html; charset=utf-8\r\n"
    "\r\n"
    "<p>HTML version must not be used</p>\r\n"
    "--alt--\r\n"
    "--outer\r\n"
    "Content-Type: text/html; name=\"note.html\"\r\n"
    "Content-Disposition: attachment; filename=\"note.html\"\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "PGh0bWw+PGJvZHk+PGgyPkF0dGFjaGVkPC9oMj48cD5IZWxsbyBmcm9tIEhUTUw8L3A+PC9ib2R5PjwvaHRtbD4=\r\n"
    "--outer\r\n"
    "Content-Type: application/octet-stream\r\n"
    "Content-Disposition: attachment; filename=\"blob.bin\"\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "AAECAwQFBgcICQ==\r\n"
    "--outer\r\n"
    "Content-Type: message/rfc822\r\n"
    "\r\n"
    "From: Carol <carol@example.net>\r\n"
    "Subject: Forwarded\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "Inner body.\r\n"
    "--outer--\r\n";

TEST(extract_eml_body_and_attachments)
{
    const char *path = tmp_path("mail.eml");
    ASSERT_TRUE(write_file(path, EML_SAMPLE, strlen(EML_SAMPLE)));
    hh_doc_t d;
    hh_err_t e;
    ASSERT_OK(hh_extract_file(path, NULL, &d, &e));
    ASSERT_STREQ(d.mime, "message/rfc822");
    ASSERT_STREQ(d.title, "Reise\xc3\xbc" "bersicht Q3");
    BLOCK(&d, 0, HH_BLOCK_PARAGRAPH, 0, 0,
          "From: Alice Example <alice@example.com>; To: Bob <bob@example.org>; Date: Tue, 02 Jan 2024 10:00:00 +0100");
    BLOCK(&d, 1, HH_BLOCK_PARAGRAPH, 0, 0, "Hallo Bob, die \xc3\x9c" "bersicht ist da.");
    BLOCK(&d, 2, HH_BLOCK_PARAGRAPH, 0, 0, "Gru\xc3\x9f, Alice");
    ASSERT_EQ_INT(d.n_blocks, 3);
    /* the HTML attachment and the forwarded message; the binary blob is left out */
    ASSERT_EQ_INT(d.n_children, 2);
    hh_doc_t *a = &d.children[0];
    ASSERT_STREQ(a->name, "note.html");
    ASSERT_STREQ(a->mime, "text/html");
    ASSERT_STREQ(a->title, "Attached");
    BLOCK(a, 0, HH_BLOCK_HEADING, 2, 0, "Attached");
    BLOCK(a, 1, HH_BLOCK_PARAGRAPH, 0, 0, "Hello from HTML");
    ASSERT_EQ_INT(a->n_blocks, 2);
    hh_doc_t *f = &d.children[1];
    ASSERT_STREQ(f->mime, "message/rfc822");
    ASSERT_STREQ(f->title, "Forwarded");
    BLOCK(f, 0, HH_BLOCK_PARAGRAPH, 0, 0, "From: Carol <carol@example.net>");
    BLOCK(f, 1, HH_BLOCK_PARAGRAPH, 0, 0, "Inner body.");
    ASSERT_EQ_INT(f->n_blocks, 2);
    hh_doc_clear(&d);

    /* attachment depth limit 0: the same mail keeps its body, no children */
    hh_extract_limits_t lim;
    hh_extract_default_limits(&lim);
    lim.max_attach_depth = 0;
    ASSERT_OK(hh_extract_file(path, &lim, &d, &e));
    ASSERT_EQ_INT(d.n_blocks, 3);
    ASSERT_EQ_INT(d.n_children, 0);
    hh_doc_clear(&d);
}

TEST(extract_eml_html_only_body)
{
    const char *eml =
        "From: a@example.com\nSubject: Only HTML\nContent-Type: text/html; charset=utf-8\n\n"
        "<html><body><h1>News</h1><ul><li>item</li></ul><script>x()</script></body></html>\n";
    hh_doc_t d;
    hh_err_t e;
    ASSERT_OK(hh_extract_buffer(eml, strlen(eml), "x.eml", NULL, &d, &e));
    ASSERT_STREQ(d.title, "Only HTML");
    BLOCK(&d, 0, HH_BLOCK_PARAGRAPH, 0, 0, "From: a@example.com");
    BLOCK(&d, 1, HH_BLOCK_HEADING, 1, 0, "News");
    BLOCK(&d, 2, HH_BLOCK_LIST_ITEM, 1, 0, "item");
    ASSERT_EQ_INT(d.n_blocks, 3);
    hh_doc_clear(&d);
}

TEST(extract_detect_by_content)
{
    ASSERT_STREQ(hh_extract_detect("%PDF-1.7\n", 9, "x.txt"), "application/pdf");
    ASSERT_STREQ(hh_extract_detect("<html><body>x</body></html>", 27, NULL), "text/html");
    ASSERT_STREQ(hh_extract_detect("  <!DOCTYPE html>\n<p>x", 22, "a.txt"), "text/html");
    ASSERT_STREQ(hh_extract_detect("From: a@b\nSubject: s\n\nbody", 26, "m.txt"), "message/rfc822");
    ASSERT_STREQ(hh_extract_detect("Title: x\nAuthor: y\n\nbody", 24, NULL), "text/plain");
    ASSERT_STREQ(hh_extract_detect("# Head\n\ntext", 12, NULL), "text/markdown");
    ASSERT_STREQ(hh_extract_detect("# Head\n\ntext", 12, "a.txt"), "text/plain");
    ASSERT_STREQ(hh_extract_detect("plain words", 11, "a.md"), "text/markdown");
    ASSERT_STREQ(hh_extract_detect("plain words", 11, NULL), "text/plain");
    ASSERT_STREQ(hh_extract_detect("Hi <b>there</b>", 15, "a.htm"), "text/html");
    ASSERT_STREQ(hh_extract_detect("Hi <b>there</b>", 15, "a.txt"), "text/plain");
    ASSERT_TRUE(hh_extract_detect("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16, "img.txt") == NULL);
    ASSERT_TRUE(hh_extract_detect("", 0, "a.txt") == NULL);
    ASSERT_TRUE(hh_extract_detect("PK\x03\x04garbage", 11, "a.docx") == NULL);
}

/* ---- hostile files ----------------------------------------------------------- */

TEST(extract_hostile_docx_zip_bomb)
{
    /* 64 MiB of one repeated paragraph: ~64 KiB compressed, ratio ~1000:1 */
    const size_t body = 64u << 20;
    const char *head = "<?xml version=\"1.0\"?><w:document " W_NS "><w:body><w:p><w:r><w:t>";
    const char *tail = "</w:t></w:r></w:p></w:body></w:document>";
    size_t hl = strlen(head), tl = strlen(tail);
    char *xml = malloc(hl + body + tl);
    ASSERT_TRUE(xml != NULL);
    memcpy(xml, head, hl);
    memset(xml + hl, 'a', body);
    memcpy(xml + hl + body, tail, tl);
    zentry_t z[] = { { "[Content_Types].xml", DOCX_TYPES, 0, false },
                     { "word/document.xml", xml, hl + body + tl, false } };
    const char *path = tmp_path("bomb.docx");
    bool ok = write_zip(path, z, 2);
    free(xml);
    ASSERT_TRUE(ok);
    hh_doc_t d;
    hh_err_t e;
    int rc = hh_extract_file(path, NULL, &d, &e);
    ASSERT_EQ_INT(rc, HH_ERANGE);
    ASSERT_TRUE(contains(e.msg, "zip bomb"));
    ASSERT_EQ_INT(d.n_blocks, 0);
    /* a declared size over the unpacked limit fails the same way, before inflating */
    hh_extract_limits_t lim;
    hh_extract_default_limits(&lim);
    lim.unpacked_bytes = 1u << 20;
    lim.max_ratio = 100000;
    rc = hh_extract_file(path, &lim, &d, &e);
    ASSERT_EQ_INT(rc, HH_ERANGE);
    ASSERT_TRUE(contains(e.msg, "unpacks to"));
    /* the process carries on: a good file right after */
    ASSERT_OK(hh_extract_buffer("still fine", 10, "ok.txt", NULL, &d, &e));
    ASSERT_EQ_INT(d.n_blocks, 1);
    hh_doc_clear(&d);
}

TEST(extract_hostile_pdf_hangs_timeout)
{
    size_t len;
    char *pdf = make_hanging_pdf(&len);
    ASSERT_TRUE(pdf != NULL);
    ASSERT_LE(len, 16384);
    const char *path = tmp_path("hang.pdf");
    bool ok = write_file(path, pdf, len);
    free(pdf);
    ASSERT_TRUE(ok);
    hh_extract_limits_t lim;
    hh_extract_default_limits(&lim);
    lim.wall_ms = 1000;
    hh_doc_t d;
    hh_err_t e;
    double t0 = now_s();
    int rc = hh_extract_file(path, &lim, &d, &e);
    double dt = now_s() - t0;
    ASSERT_EQ_INT(rc, HH_ERANGE);
    ASSERT_TRUE(contains(e.msg, "timed out after 1.0 s"));
    ASSERT_GE(dt, 0.9);
    ASSERT_LE(dt, 5.0);
    /* the CPU limit stops it as well when the wall clock is generous */
    lim.wall_ms = 20000;
    lim.cpu_seconds = 1;
    t0 = now_s();
    rc = hh_extract_file(path, &lim, &d, &e);
    dt = now_s() - t0;
    ASSERT_EQ_INT(rc, HH_ERANGE);
    ASSERT_TRUE(contains(e.msg, "killed"));
    ASSERT_LE(dt, 10.0);
    ASSERT_OK(hh_extract_buffer("after the hang", 14, "ok.txt", NULL, &d, &e));
    BLOCK(&d, 0, HH_BLOCK_PARAGRAPH, 0, 0, "after the hang");
    hh_doc_clear(&d);
}

TEST(extract_hostile_html_100k_deep)
{
    const int depth = 100000;
    size_t cap = (size_t)depth * 11 + 256, len = 0;
    char *h = malloc(cap);
    ASSERT_TRUE(h != NULL);
    len += (size_t)sprintf(h + len, "<html><body><p>before</p>");
    for (int i = 0; i < depth; i++)
        len += (size_t)sprintf(h + len, "<div>");
    len += (size_t)sprintf(h + len, "deep");
    for (int i = 0; i < depth; i++)
        len += (size_t)sprintf(h + len, "</div>");
    len += (size_t)sprintf(h + len, "</body></html>");
    hh_doc_t d;
    hh_err_t e;
    hh_extract_limits_t lim;
    hh_extract_default_limits(&lim);
    for (int sandbox = 1; sandbox >= 0; sandbox--) {
        /* in-process too: the walker itself must not recurse */
        lim.sandbox = sandbox;
        int rc = hh_extract_buffer(h, len, "deep.html", &lim, &d, &e);
        if (rc != 0) {
            free(h);
            ASSERT_OK(rc);
        }
        if (d.n_blocks < 1 || strcmp(d.blocks[0].text, "before") != 0) {
            free(h);
            hh_doc_clear(&d);
            ASSERT_TRUE(!"first block is \"before\"");
        }
        ASSERT_LE(d.n_blocks, 2);
        hh_doc_clear(&d);
    }
    free(h);
}

TEST(extract_hostile_invalid_utf8)
{
    const char txt[] = "caf\xe9 ok \xff\xfe end\n\nnul\x01here \xed\xa0\x80 surrogate \xc0\xaf overlong";
    hh_doc_t d;
    hh_err_t e;
    /* no valid UTF-8 sequence at all: read as Windows-1252 (issue 14) */
    ASSERT_OK(hh_extract_buffer(txt, sizeof txt - 1, "latin.txt", NULL, &d, &e));
    ASSERT_STREQ(d.encoding, "windows-1252");
    BLOCK(&d, 0, HH_BLOCK_PARAGRAPH, 0, 0, "caf\xc3\xa9 ok \xc3\xbf\xc3\xbe end");
    BLOCK(&d, 1, HH_BLOCK_PARAGRAPH, 0, 0, "nul here \xc3\xad \xe2\x82\xac surrogate \xc3\x80\xc2\xaf overlong");
    hh_doc_clear(&d);
    /* UTF-8 with broken bytes stays UTF-8: each bad byte becomes U+FFFD */
    const char u8[] = "Gr\xc3\xbc\xc3\x9f" "e \xff\xfe ok \xed\xa0\x80 surrogate \xc0\xaf overlong\x01!";
    ASSERT_OK(hh_extract_buffer(u8, sizeof u8 - 1, "u8.txt", NULL, &d, &e));
    ASSERT_STREQ(d.encoding, "utf-8");
    BLOCK(&d, 0, HH_BLOCK_PARAGRAPH, 0, 0, "Gr\xc3\xbc\xc3\x9f" "e \xef\xbf\xbd\xef\xbf\xbd ok "
          "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd surrogate \xef\xbf\xbd\xef\xbf\xbd overlong !");
    hh_doc_clear(&d);
    const char html[] = "<html><body><h1>bad \xff byte</h1><p>ok \xc3\xa4</p></body></html>";
    ASSERT_OK(hh_extract_buffer(html, sizeof html - 1, "bad.html", NULL, &d, &e));
    BLOCK(&d, 0, HH_BLOCK_HEADING, 1, 0, "bad \xef\xbf\xbd byte");
    BLOCK(&d, 1, HH_BLOCK_PARAGRAPH, 0, 0, "ok \xc3\xa4");
    hh_doc_clear(&d);
}

TEST(extract_hostile_empty_and_junk)
{
    const char *path = tmp_path("empty.txt");
    ASSERT_TRUE(write_file(path, "", 0));
    hh_doc_t d;
    hh_err_t e;
    ASSERT_EQ_INT(hh_extract_file(path, NULL, &d, &e), HH_EUNSUPPORTED);
    ASSERT_TRUE(contains(e.msg, "empty file"));
    ASSERT_EQ_INT(hh_extract_buffer("", 0, "x.txt", NULL, &d, &e), HH_EUNSUPPORTED);
    ASSERT_TRUE(contains(e.msg, "empty file"));
    ASSERT_EQ_INT(hh_extract_file(tmp_path("does-not-exist.txt"), NULL, &d, &e), HH_ENOENT);
    const char junk[] = "\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x10";
    ASSERT_EQ_INT(hh_extract_buffer(junk, sizeof junk - 1, "image.txt", NULL, &d, &e), HH_EUNSUPPORTED);
    ASSERT_TRUE(contains(e.msg, "no supported format"));
    /* a "PDF" that pdftotext rejects */
    const char badpdf[] = "%PDF-1.4\nthis is not really a pdf\n";
    ASSERT_EQ_INT(hh_extract_buffer(badpdf, sizeof badpdf - 1, "bad.pdf", NULL, &d, &e), HH_EFORMAT);
    ASSERT_TRUE(contains(e.msg, "PDF"));
    /* a broken zip that still says DOCX in its local header */
    const char badzip[] = "PK\x03\x04\x14\0\0\0\x08\0word/document.xml";
    ASSERT_EQ_INT(hh_extract_buffer(badzip, sizeof badzip - 1, "b.docx", NULL, &d, &e), HH_EUNSUPPORTED);
}

TEST(extract_hostile_wrong_extension)
{
    size_t len;
    char *pdf = make_two_page_pdf(&len);
    ASSERT_TRUE(pdf != NULL);
    const char *path = tmp_path("really-a-pdf.docx");
    bool ok = write_file(path, pdf, len);
    free(pdf);
    ASSERT_TRUE(ok);
    hh_doc_t d;
    hh_err_t e;
    ASSERT_OK(hh_extract_file(path, NULL, &d, &e));
    ASSERT_STREQ(d.mime, "application/pdf");
    BLOCK(&d, 2, HH_BLOCK_PARAGRAPH, 0, 2, "Page two text.");
    hh_doc_clear(&d);
    const char *tpath = tmp_path("text.pdf");
    ASSERT_TRUE(write_file(tpath, "just some text\n", 15));
    ASSERT_EQ_INT(hh_extract_file(tpath, NULL, &d, &e), HH_EFORMAT);
    ASSERT_TRUE(contains(e.msg, "named .pdf but the content is text/plain"));
    /* HTML named .txt is HTML */
    ASSERT_OK(hh_extract_buffer("<html><body><h2>T</h2></body></html>", 36, "a.txt", NULL, &d, &e));
    ASSERT_STREQ(d.mime, "text/html");
    BLOCK(&d, 0, HH_BLOCK_HEADING, 2, 0, "T");
    hh_doc_clear(&d);
}

TEST(extract_hostile_memory_and_output_limits)
{
    /* 24 MiB of text against 8 MiB of extra address space */
    size_t n = 24u << 20;
    char *big = malloc(n);
    ASSERT_TRUE(big != NULL);
    for (size_t i = 0; i < n; i++)
        big[i] = (i % 64 == 63) ? '\n' : (char)('a' + i % 26);
    const char *path = tmp_path("big.txt");
    bool ok = write_file(path, big, n);
    ASSERT_TRUE(ok);
    hh_extract_limits_t lim;
    hh_extract_default_limits(&lim);
    lim.mem_bytes = 8u << 20;
    hh_doc_t d;
    hh_err_t e, e2;
    int rc = hh_extract_file(path, &lim, &d, &e);
    /* output limit: 64 KiB of text against 4 KiB */
    hh_extract_default_limits(&lim);
    lim.output_bytes = 4096;
    int rc2 = hh_extract_buffer(big, 65536, "some.txt", &lim, &d, &e2);
    free(big);
#ifdef __SANITIZE_ADDRESS__
    /* ASan's allocator exits the child with status 1 instead of failing malloc */
    ASSERT_TRUE(rc == HH_ERANGE || rc == HH_EFORMAT);
#else
    ASSERT_EQ_INT(rc, HH_ERANGE);
    ASSERT_TRUE(contains(e.msg, "memory limit"));
#endif
    ASSERT_EQ_INT(rc2, HH_ERANGE);
    ASSERT_TRUE(contains(e2.msg, "output limit"));
    /* input limit */
    hh_extract_default_limits(&lim);
    lim.input_bytes = 1000;
    ASSERT_EQ_INT(hh_extract_file(path, &lim, &d, &e), HH_ERANGE);
    ASSERT_TRUE(contains(e.msg, "input limit"));
}
