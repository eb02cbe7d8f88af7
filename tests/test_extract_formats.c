/* test_extract_formats.c - issue 14 ingestion: text encodings (Windows-1252,
 * ISO-8859-15, UTF-8 with BOM, UTF-16) detected, converted and stored;
 * table rows carrying their header; CSV, XLSX and PPTX; PDF headings from
 * font sizes, page headers/footers dropped, de-hyphenation; hostile files
 * of the new formats. Real byte files, real zips (libzip), real PDFs typeset
 * by groff, a real store, the built binary and a real HTTP server. */
#include "harness.h"
#include "http_helpers.h"
#include "kb/chunk.h"
#include "kb/extract_int.h"
#include "kb/ingest.h"
#include "kb/retrieve.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>


static const char *tmp(const char *name)
{
    static char buf[4][1024];
    static int slot;
    char *p = buf[slot++ % 4];
    snprintf(p, sizeof buf[0], "%s/fmt-%s", hh_test_tmpdir(), name);
    return p;
}

static bool put_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return false;
    bool ok = fwrite(data, 1, len, f) == len;
    return fclose(f) == 0 && ok;
}

typedef struct zent {
    const char *name;
    const char *data;
    size_t      len;      /* 0: strlen(data) */
} zent_t;

static bool make_zip(const char *path, const zent_t *e, int n)
{
    int zerr = 0;
    unlink(path);
    zip_t *za = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &zerr);
    if (za == NULL)
        return false;
    for (int i = 0; i < n; i++) {
        size_t len = e[i].len ? e[i].len : strlen(e[i].data);
        zip_source_t *src = zip_source_buffer(za, e[i].data, len, 0);
        if (src == NULL || zip_file_add(za, e[i].name, src, ZIP_FL_ENC_UTF_8) < 0) {
            zip_source_free(src);
            zip_discard(za);
            return false;
        }
    }
    return zip_close(za) == 0;
}

static bool block_is(const hh_doc_t *d, size_t i, hh_block_kind_t kind, int level, int page, const char *text)
{
    if (i >= d->n_blocks) {
        printf("    block %zu: only %zu blocks\n", i, d->n_blocks);
        for (size_t k = 0; k < d->n_blocks; k++)
            printf("      [%zu] kind %d level %d page %d \"%s\"\n", k, d->blocks[k].kind, d->blocks[k].level,
                   d->blocks[k].page, d->blocks[k].text);
        return false;
    }
    const hh_block_t *b = &d->blocks[i];
    if (b->kind != kind || b->level != level || b->page != page || strcmp(b->text, text) != 0) {
        printf("    block %zu: expected kind %d level %d page %d \"%s\", got kind %d level %d page %d \"%s\"\n", i,
               kind, level, page, text, b->kind, b->level, b->page, b->text);
        return false;
    }
    return true;
}
#define BLOCK(d, i, k, l, p, t) ASSERT_TRUE(block_is((d), (i), (k), (l), (p), (t)))

static hh_extract_limits_t in_process(void)
{
    hh_extract_limits_t lim;
    hh_extract_default_limits(&lim);
    lim.sandbox = 0;
    return lim;
}

/* ---- encodings ---------------------------------------------------------- */

TEST(extract_encoding_windows1252_text)
{
    /* Notepad "ANSI": umlauts, sharp s, German quotes and the euro sign
     * (0x80, 0x84, 0x93 exist in Windows-1252 only) */
    const char txt[] = "Herr M\xfcller z\xe4hlt \x84Gr\xfc\xdf" "e\x93 f\xfcr 30 \x80.\n\nZweiter Absatz \x96 Ende.\n";
    const char *path = tmp("ansi.txt");
    ASSERT_TRUE(put_file(path, txt, sizeof txt - 1));
    hh_doc_t d;
    hh_err_t e;
    ASSERT_OK(hh_extract_file(path, NULL, &d, &e));     /* through the sandbox and its wire */
    ASSERT_STREQ(d.mime, "text/plain");
    ASSERT_STREQ(d.encoding, "windows-1252");
    ASSERT_EQ_INT(d.n_blocks, 2);
    BLOCK(&d, 0, HH_BLOCK_PARAGRAPH, 0, 0,
          "Herr M\xc3\xbcller z\xc3\xa4hlt \xe2\x80\x9eGr\xc3\xbc\xc3\x9f" "e\xe2\x80\x9c f\xc3\xbcr 30 \xe2\x82\xac.");
    BLOCK(&d, 1, HH_BLOCK_PARAGRAPH, 0, 0, "Zweiter Absatz \xe2\x80\x93 Ende.");
    hh_doc_clear(&d);
}

TEST(extract_encoding_iso8859_15_markdown)
{
    /* 0xA4 is the euro sign in ISO-8859-15; no byte in 0x80-0x9F */
    const char md[] = "# Preisliste f\xfcr B\xfcros\n\nDas Zimmer kostet 150 \xa4 pro Nacht, \xbd Tag 80 \xa4.\n";
    hh_extract_limits_t lim = in_process();
    hh_doc_t d;
    hh_err_t e;
    ASSERT_OK(hh_extract_buffer(md, sizeof md - 1, "preise.md", &lim, &d, &e));
    ASSERT_STREQ(d.mime, "text/markdown");
    ASSERT_STREQ(d.encoding, "iso-8859-15");
    ASSERT_STREQ(d.title, "Preisliste f\xc3\xbcr B\xc3\xbcros");
    BLOCK(&d, 0, HH_BLOCK_HEADING, 1, 0, "Preisliste f\xc3\xbcr B\xc3\xbcros");
    /* 0xBD is oe-ligature in 8859-15 (not one half): the byte's meaning there */
    BLOCK(&d, 1, HH_BLOCK_PARAGRAPH, 0, 0,
          "Das Zimmer kostet 150 \xe2\x82\xac pro Nacht, \xc5\x93 Tag 80 \xe2\x82\xac.");
    hh_doc_clear(&d);
}

TEST(extract_encoding_bom_and_utf16)
{
    hh_extract_limits_t lim = in_process();
    hh_doc_t d;
    hh_err_t e;
    const char bom[] = "\xef\xbb\xbf# \xc3\x9c" "bersicht\n\nText mit \xc3\xa4.\n";
    ASSERT_OK(hh_extract_buffer(bom, sizeof bom - 1, "bom.md", &lim, &d, &e));
    ASSERT_STREQ(d.encoding, "utf-8");
    BLOCK(&d, 0, HH_BLOCK_HEADING, 1, 0, "\xc3\x9c" "bersicht");
    BLOCK(&d, 1, HH_BLOCK_PARAGRAPH, 0, 0, "Text mit \xc3\xa4.");
    hh_doc_clear(&d);
    /* UTF-16LE with BOM ("Unicode" in Notepad): "# Größe\n\nÄrger 😀\n" */
    static const uint16_t units[] = { 0xfeff, '#', ' ', 'G', 'r', 0xf6, 0xdf, 'e', '\n', '\n',
                                      0xc4, 'r', 'g', 'e', 'r', ' ', 0xd83d, 0xde00, '\n' };
    uint8_t le[sizeof units];
    for (size_t i = 0; i < sizeof units / 2; i++) {
        le[2 * i] = (uint8_t)(units[i] & 0xff);
        le[2 * i + 1] = (uint8_t)(units[i] >> 8);
    }
    ASSERT_STREQ(hh_extract_detect(le, sizeof le, "u16.md"), "text/markdown");
    ASSERT_OK(hh_extract_buffer(le, sizeof le, "u16.md", &lim, &d, &e));
    ASSERT_STREQ(d.encoding, "utf-16le");
    BLOCK(&d, 0, HH_BLOCK_HEADING, 1, 0, "Gr\xc3\xb6\xc3\x9f" "e");
    BLOCK(&d, 1, HH_BLOCK_PARAGRAPH, 0, 0, "\xc3\x84rger \xf0\x9f\x98\x80");
    hh_doc_clear(&d);
}

TEST(extract_encoding_html_charset)
{
    hh_extract_limits_t lim = in_process();
    hh_doc_t d;
    hh_err_t e;
    /* no charset, Windows-1252 bytes: detected and converted */
    const char h1[] = "<html><body><h1>Gr\xfc\xdf" "e</h1><p>M\xfcller \x80</p></body></html>";
    ASSERT_OK(hh_extract_buffer(h1, sizeof h1 - 1, "a.html", &lim, &d, &e));
    ASSERT_STREQ(d.encoding, "windows-1252");
    BLOCK(&d, 0, HH_BLOCK_HEADING, 1, 0, "Gr\xc3\xbc\xc3\x9f" "e");
    BLOCK(&d, 1, HH_BLOCK_PARAGRAPH, 0, 0, "M\xc3\xbcller \xe2\x82\xac");
    hh_doc_clear(&d);
    /* a declared charset: libxml2 converts, the declared name is noted */
    const char h2[] = "<html><head><meta charset=\"ISO-8859-1\"></head><body><p>K\xf6ln</p></body></html>";
    ASSERT_OK(hh_extract_buffer(h2, sizeof h2 - 1, "b.html", &lim, &d, &e));
    ASSERT_STREQ(d.encoding, "iso-8859-1");
    BLOCK(&d, 0, HH_BLOCK_PARAGRAPH, 0, 0, "K\xc3\xb6ln");
    hh_doc_clear(&d);
    /* formats whose encoding the format fixes carry none */
    const char eml[] = "From: a@example.org\r\nTo: b@example.org\r\nSubject: Hi\r\n\r\nHallo\r\n";
    ASSERT_OK(hh_extract_buffer(eml, sizeof eml - 1, "m.eml", &lim, &d, &e));
    ASSERT_TRUE(d.encoding == NULL);
    hh_doc_clear(&d);
}

/* ---- tables ------------------------------------------------------------- */

TEST(extract_table_rows_carry_header)
{
    hh_extract_limits_t lim = in_process();
    hh_doc_t d;
    hh_err_t e;
    const char md[] = "| Reiseziel | Hotel pro Nacht |\n|---|---|\n| M\xc3\xbcnchen | 150 EUR |\n| Bonn |  |\n";
    ASSERT_OK(hh_extract_buffer(md, sizeof md - 1, "t.md", &lim, &d, &e));
    ASSERT_EQ_INT(d.n_blocks, 2);
    BLOCK(&d, 0, HH_BLOCK_TABLE_ROW, 0, 0, "Reiseziel: M\xc3\xbcnchen | Hotel pro Nacht: 150 EUR");
    BLOCK(&d, 1, HH_BLOCK_TABLE_ROW, 0, 0, "Reiseziel: Bonn");
    hh_doc_clear(&d);
    /* HTML: <thead> marks the header; a layout table of numbers has none */
    const char html[] = "<table><thead><tr><td>Stadt</td><td>Satz</td></tr></thead>"
                        "<tbody><tr><td>Berlin</td><td>120</td></tr></tbody></table>"
                        "<table><tr><td>1</td><td>2</td></tr><tr><td>3</td><td>4</td></tr></table>"
                        "<table><tr><th>Nur</th><th>Kopf</th></tr></table>";
    ASSERT_OK(hh_extract_buffer(html, sizeof html - 1, "t.html", &lim, &d, &e));
    BLOCK(&d, 0, HH_BLOCK_TABLE_ROW, 0, 0, "Stadt: Berlin | Satz: 120");
    BLOCK(&d, 1, HH_BLOCK_TABLE_ROW, 0, 0, "1 | 2");
    BLOCK(&d, 2, HH_BLOCK_TABLE_ROW, 0, 0, "3 | 4");
    BLOCK(&d, 3, HH_BLOCK_TABLE_ROW, 0, 0, "Nur | Kopf");
    ASSERT_EQ_INT(d.n_blocks, 4);
    hh_doc_clear(&d);
}

/* A row never split inside: chunks end between rows, each row whole. */
TEST(extract_table_rows_chunked_whole)
{
    hh_extract_limits_t lim = in_process();
    hh_xstr_t csv = { 0 };
    ASSERT_OK(hh_xstr_append(&csv, "Mitarbeiter;Abteilung;Standort;Telefon\n", 39));
    for (int i = 0; i < 60; i++) {
        char row[128];
        int n = snprintf(row, sizeof row, "Person %d;Vertrieb Nord;Hamburg Hafen;040 %04d\n", i, i);
        ASSERT_OK(hh_xstr_append(&csv, row, (size_t)n));
    }
    hh_doc_t d;
    hh_err_t e;
    ASSERT_OK(hh_extract_buffer(csv.data, csv.len, "team.csv", &lim, &d, &e));
    ASSERT_EQ_INT(d.n_blocks, 60);
    hh_chunk_params_t p = hh_chunk_default_params();
    p.max_tokens = 64;
    p.overlap_pct = 0;
    hh_chunk_t *c = NULL;
    size_t n = 0;
    ASSERT_OK(hh_chunk_doc(&d, &p, &c, &n, &e));
    ASSERT_TRUE(n > 5);
    size_t rows = 0;
    for (size_t i = 0; i < n; i++) {
        /* every line of a chunk is one whole row */
        for (char *line = c[i].text; line && *line;) {
            char *nl = strchr(line, '\n');
            size_t ll = nl ? (size_t)(nl - line) : strlen(line);
            ASSERT_TRUE(ll > 20 && strncmp(line, "Mitarbeiter: Person ", 20) == 0);
            ASSERT_TRUE(memmem(line, ll, "| Telefon: 040 ", 15) != NULL);
            rows++;
            line = nl ? nl + 1 : NULL;
        }
    }
    ASSERT_EQ_INT(rows, 60);
    hh_chunks_free(c, n);
    /* a row longer than a chunk is cut between cells, never inside one */
    hh_doc_clear(&d);
    hh_xstr_t wide = { 0 };
    ASSERT_OK(hh_xstr_append(&wide, "A", 1));
    for (int i = 1; i < 40; i++) {
        char h[16];
        int k = snprintf(h, sizeof h, ",Spalte%d", i);
        ASSERT_OK(hh_xstr_append(&wide, h, (size_t)k));
    }
    ASSERT_OK(hh_xstr_append(&wide, "\nx", 2));
    for (int i = 1; i < 40; i++) {
        char v[32];
        int k = snprintf(v, sizeof v, ",Wert Nummer %d", i);
        ASSERT_OK(hh_xstr_append(&wide, v, (size_t)k));
    }
    ASSERT_OK(hh_extract_buffer(wide.data, wide.len, "wide.csv", &lim, &d, &e));
    ASSERT_EQ_INT(d.n_blocks, 1);
    ASSERT_OK(hh_chunk_doc(&d, &p, &c, &n, &e));
    ASSERT_TRUE(n >= 3);
    for (size_t i = 0; i < n; i++) {
        ASSERT_LE(c[i].n_tokens, 64);
        /* each piece starts at a cell: "SpalteN: Wert Nummer N" pairs intact */
        ASSERT_TRUE(strncmp(c[i].text, "Spalte", 6) == 0 || strncmp(c[i].text, "A: x", 4) == 0);
        size_t tl = strlen(c[i].text);
        ASSERT_TRUE(c[i].text[tl - 1] >= '0' && c[i].text[tl - 1] <= '9');
    }
    hh_chunks_free(c, n);
    hh_doc_clear(&d);
    hh_xstr_free(&wide);
    hh_xstr_free(&csv);
}

/* ---- CSV ------------------------------------------------------------------ */

TEST(extract_csv_delimiters_quotes_encoding)
{
    hh_extract_limits_t lim = in_process();
    hh_doc_t d;
    hh_err_t e;
    /* Excel's German export: semicolons, Windows-1252, CRLF, quoted fields
     * with the delimiter, "" and a line break inside */
    const char xl[] = "Reiseziel;Hotel pro Nacht;Hinweis\r\n"
                      "M\xfcnchen;150 \x80;\"Messe; fr\xfch buchen\"\r\n"
                      "K\xf6ln;120 \x80;\"sagt \"\"ok\"\"\r\nzweite Zeile\"\r\n"
                      ";;\r\n";
    ASSERT_STREQ(hh_extract_detect(xl, sizeof xl - 1, "reisen.csv"), "text/csv");
    ASSERT_OK(hh_extract_buffer(xl, sizeof xl - 1, "reisen.csv", &lim, &d, &e));
    ASSERT_STREQ(d.mime, "text/csv");
    ASSERT_STREQ(d.encoding, "windows-1252");
    ASSERT_STREQ(d.title, "reisen");
    ASSERT_EQ_INT(d.n_blocks, 2);
    BLOCK(&d, 0, HH_BLOCK_TABLE_ROW, 0, 0,
          "Reiseziel: M\xc3\xbcnchen | Hotel pro Nacht: 150 \xe2\x82\xac | Hinweis: Messe; fr\xc3\xbch buchen");
    BLOCK(&d, 1, HH_BLOCK_TABLE_ROW, 0, 0,
          "Reiseziel: K\xc3\xb6ln | Hotel pro Nacht: 120 \xe2\x82\xac | Hinweis: sagt \"ok\" zweite Zeile");
    hh_doc_clear(&d);
    /* tabs, found by content without a .csv name */
    const char tsv[] = "Name\tRaum\tDurchwahl\nAda\t4.12\t-12\nBob\t1.01\t-34\nCem\t2.20\t-56\n";
    ASSERT_STREQ(hh_extract_detect(tsv, sizeof tsv - 1, "liste"), "text/csv");
    ASSERT_OK(hh_extract_buffer(tsv, sizeof tsv - 1, "liste", &lim, &d, &e));
    ASSERT_EQ_INT(d.n_blocks, 3);
    BLOCK(&d, 2, HH_BLOCK_TABLE_ROW, 0, 0, "Name: Cem | Raum: 2.20 | Durchwahl: -56");
    hh_doc_clear(&d);
    /* commas; prose with commas stays text */
    const char com[] = "a,b,c\n1,2,3\n";
    ASSERT_OK(hh_extract_buffer(com, sizeof com - 1, "x.csv", &lim, &d, &e));
    BLOCK(&d, 0, HH_BLOCK_TABLE_ROW, 0, 0, "a: 1 | b: 2 | c: 3");
    hh_doc_clear(&d);
    const char prose[] = "Wir kommen, sehen, und gehen.\nDann, später, wieder.\nUnd so, weiter, fort.\n";
    ASSERT_STREQ(hh_extract_detect(prose, sizeof prose - 1, "notiz"), "text/plain");
    const char code[] = "int a;\nint b;\nint c;\nint d;\n";     /* one ';' a line, but code */
    ASSERT_STREQ(hh_extract_detect(code, sizeof code - 1, "snippet"), "text/plain");
}

TEST(extract_hostile_csv_broken_quotes_and_wide)
{
    hh_extract_limits_t lim = in_process();
    hh_doc_t d;
    hh_err_t e;
    /* a quote that never closes: taken literally, the rows still come */
    const char bad[] = "Name;Notiz\nAda;\"offen\nBob;zu\n";
    ASSERT_OK(hh_extract_buffer(bad, sizeof bad - 1, "bad.csv", &lim, &d, &e));
    ASSERT_EQ_INT(d.n_blocks, 2);
    BLOCK(&d, 0, HH_BLOCK_TABLE_ROW, 0, 0, "Name: Ada | Notiz: \"offen");
    BLOCK(&d, 1, HH_BLOCK_TABLE_ROW, 0, 0, "Name: Bob | Notiz: zu");
    hh_doc_clear(&d);
    /* 10^6 columns in the header and a row: bounded (HH_XT_MAX_CELLS), no
     * blow-up, the first cells kept */
    size_t cols = 1000000;
    size_t len = cols * 4 * 2 + 16;
    char *w = malloc(len), *p = w;
    ASSERT_TRUE(w != NULL);
    for (int r = 0; r < 2; r++) {
        for (size_t i = 0; i < cols; i++) {
            memcpy(p, r ? "v;" : "h;", 2);
            p += 2;
        }
        *p++ = '\n';
    }
    hh_extract_limits_t sl;
    hh_extract_default_limits(&sl);      /* in the sandbox, with its limits */
    ASSERT_OK(hh_extract_buffer(w, (size_t)(p - w), "wide.csv", &sl, &d, &e));
    ASSERT_EQ_INT(d.n_blocks, 1);
    ASSERT_EQ_INT(d.blocks[0].len, (size_t)HH_XT_MAX_CELLS * 7 - 3);   /* "h: v" joined by " | " */
    ASSERT_TRUE(strncmp(d.blocks[0].text, "h: v | h: v", 11) == 0);
    hh_doc_clear(&d);
    free(w);
    /* invalid UTF-8 in a CSV: read as Windows-1252, never raw bytes */
    const char inv[] = "K\xf6pfe;Z\xe4hler\n\xff\xfe;\x81\n";
    ASSERT_OK(hh_extract_buffer(inv, sizeof inv - 1, "inv.csv", &lim, &d, &e));
    ASSERT_STREQ(d.encoding, "windows-1252");
    BLOCK(&d, 0, HH_BLOCK_TABLE_ROW, 0, 0, "K\xc3\xb6pfe: \xc3\xbf\xc3\xbe | Z\xc3\xa4hler: \xef\xbf\xbd");
    hh_doc_clear(&d);
}

/* ---- XLSX ----------------------------------------------------------------- */

#define SS_NS "xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\" " \
              "xmlns:r=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships\""

static const char XL_WORKBOOK[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?><workbook " SS_NS "><sheets>"
    "<sheet name=\"Reisekosten\" sheetId=\"1\" r:id=\"rId1\"/>"
    "<sheet name=\"Leer\" sheetId=\"2\" r:id=\"rId2\"/>"
    "<sheet name=\"Fehlt\" sheetId=\"3\" r:id=\"rId9\"/>"
    "</sheets></workbook>";

static const char XL_RELS[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
    "<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">"
    "<Relationship Id=\"rId1\" Type=\"x\" Target=\"worksheets/sheet1.xml\"/>"
    "<Relationship Id=\"rId2\" Type=\"x\" Target=\"/xl/worksheets/sheet2.xml\"/>"
    "<Relationship Id=\"rId9\" Type=\"x\" Target=\"worksheets/missing.xml\"/>"
    "</Relationships>";

static const char XL_SST[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?><sst " SS_NS " count=\"6\" uniqueCount=\"6\">"
    "<si><t>Reiseziel</t></si><si><t>Hotel pro Nacht</t></si>"
    "<si><r><t>M\xc3\xbc</t></r><r><t>nchen</t></r><rPh><t>PHON</t></rPh></si>"
    "<si><t>Kilometer</t></si><si><t>Reisekosten 2026</t></si><si/></sst>";

static const char XL_SHEET1[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?><worksheet " SS_NS "><sheetData>"
    "<row r=\"1\"><c r=\"A1\" t=\"s\"><v>4</v></c></row>"
    "<row r=\"3\"><c r=\"A3\" t=\"s\"><v>0</v></c><c r=\"B3\" t=\"s\"><v>1</v></c><c r=\"D3\" t=\"s\"><v>3</v></c></row>"
    "<row r=\"4\"><c r=\"A4\" t=\"s\"><v>2</v></c><c r=\"B4\"><v>150.5</v></c><c r=\"C4\" t=\"b\"><v>1</v></c>"
    "<c r=\"D4\"><f>SUM(X1)</f><v>42</v></c></row>"
    "<row r=\"5\"><c r=\"A5\" t=\"inlineStr\"><is><t>Bonn</t></is></c><c r=\"B5\" t=\"s\"><v>999</v></c>"
    "<c r=\"D5\" t=\"str\"><v>viel</v></c></row>"
    "<row r=\"6\"><c r=\"A6\" t=\"s\"><v>-1</v></c></row>"
    "</sheetData></worksheet>";

static const char XL_SHEET2[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?><worksheet " SS_NS "><sheetData/></worksheet>";

TEST(extract_xlsx_sheets_rows_header)
{
    zent_t z[] = { { "[Content_Types].xml", "<Types/>", 0 }, { "xl/workbook.xml", XL_WORKBOOK, 0 },
                   { "xl/_rels/workbook.xml.rels", XL_RELS, 0 }, { "xl/sharedStrings.xml", XL_SST, 0 },
                   { "xl/worksheets/sheet1.xml", XL_SHEET1, 0 }, { "xl/worksheets/sheet2.xml", XL_SHEET2, 0 } };
    const char *path = tmp("reisen.xlsx");
    ASSERT_TRUE(make_zip(path, z, 6));
    hh_doc_t d;
    hh_err_t e;
    ASSERT_OK(hh_extract_file(path, NULL, &d, &e));
    ASSERT_STREQ(d.mime, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet");
    ASSERT_STREQ(d.title, "fmt-reisen");      /* sheet names are no title: the file name */
    ASSERT_TRUE(d.encoding == NULL);
    BLOCK(&d, 0, HH_BLOCK_HEADING, 1, 0, "Reisekosten");
    BLOCK(&d, 1, HH_BLOCK_PARAGRAPH, 0, 0, "Reisekosten 2026");
    /* the header has an empty C3: C's values stand alone */
    BLOCK(&d, 2, HH_BLOCK_TABLE_ROW, 0, 0, "Reiseziel: M\xc3\xbcnchen | Hotel pro Nacht: 150.5 | TRUE | Kilometer: 42");
    /* shared string 999 does not exist: an empty cell, no crash */
    BLOCK(&d, 3, HH_BLOCK_TABLE_ROW, 0, 0, "Reiseziel: Bonn | Kilometer: viel");
    BLOCK(&d, 4, HH_BLOCK_HEADING, 1, 0, "Leer");
    BLOCK(&d, 5, HH_BLOCK_HEADING, 1, 0, "Fehlt");  /* its part is missing: skipped */
    ASSERT_EQ_INT(d.n_blocks, 6);
    hh_doc_clear(&d);
}

/* A workbook whose main part is not xl/workbook.xml: [Content_Types].xml
 * names it, detection and extraction follow it (and its relationships). */
TEST(extract_xlsx_main_part_from_content_types)
{
    static const char types[] =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
        "<Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">"
        "<Default Extension=\"xml\" ContentType=\"application/xml\"/>"
        "<Override PartName=\"/daten/mappe.xml\" "
        "ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml\"/></Types>";
    static const char rels[] =
        "<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">"
        "<Relationship Id=\"rId1\" Type=\"x\" Target=\"blatt/eins.xml\"/></Relationships>";
    static const char book[] = "<workbook " SS_NS "><sheets><sheet name=\"Kosten\" sheetId=\"1\" r:id=\"rId1\"/>"
                               "</sheets></workbook>";
    static const char sheet[] =
        "<worksheet " SS_NS "><sheetData><row><c t=\"inlineStr\"><is><t>Ziel</t></is></c>"
        "<c t=\"inlineStr\"><is><t>Satz</t></is></c></row><row><c t=\"inlineStr\"><is><t>Rom</t></is></c>"
        "<c><v>99</v></c></row></sheetData></worksheet>";
    zent_t z[] = { { "[Content_Types].xml", types, 0 }, { "daten/mappe.xml", book, 0 },
                   { "daten/_rels/mappe.xml.rels", rels, 0 }, { "daten/blatt/eins.xml", sheet, 0 } };
    const char *path = tmp("mappe.xlsx");
    ASSERT_TRUE(make_zip(path, z, 4));
    size_t len = 0;
    void *buf = hh_test_read_file(path, &len);
    ASSERT_TRUE(buf != NULL);
    ASSERT_STREQ(hh_extract_detect(buf, len, "mappe.bin"),
                 "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet");
    free(buf);
    hh_doc_t d;
    hh_err_t e;
    ASSERT_OK(hh_extract_file(path, NULL, &d, &e));
    BLOCK(&d, 0, HH_BLOCK_HEADING, 1, 0, "Kosten");
    BLOCK(&d, 1, HH_BLOCK_TABLE_ROW, 0, 0, "Ziel: Rom | Satz: 99");
    ASSERT_EQ_INT(d.n_blocks, 2);
    hh_doc_clear(&d);
}

TEST(extract_hostile_xlsx)
{
    hh_extract_limits_t lim = in_process();
    hh_doc_t d;
    hh_err_t e;
    /* huge sharedStrings: over the unpacked limit before inflating */
    size_t big = 3u << 20;
    char *sst = malloc(big + 200);
    ASSERT_TRUE(sst != NULL);
    int h = snprintf(sst, 200, "<sst " SS_NS ">");
    size_t n = (size_t)h;
    while (n + 20 < big) {
        memcpy(sst + n, "<si><t>a</t></si>", 17);
        n += 17;
    }
    memcpy(sst + n, "</sst>", 7);
    n += 6;
    zent_t z[] = { { "xl/workbook.xml", XL_WORKBOOK, 0 }, { "xl/_rels/workbook.xml.rels", XL_RELS, 0 },
                   { "xl/sharedStrings.xml", sst, n }, { "xl/worksheets/sheet1.xml", XL_SHEET1, 0 } };
    const char *path = tmp("bomb.xlsx");
    ASSERT_TRUE(make_zip(path, z, 4));
    size_t zl = 0;
    void *zb = hh_test_read_file(path, &zl);
    ASSERT_TRUE(zb != NULL);
    lim.unpacked_bytes = 1u << 20;
    ASSERT_EQ_INT(hh_extract_buffer(zb, zl, "bomb.xlsx", &lim, &d, &e), HH_ERANGE);
    ASSERT_TRUE(strstr(e.msg, "zip bomb") != NULL && strstr(e.msg, "sharedStrings") != NULL);
    ASSERT_EQ_INT(d.n_blocks, 0);
    /* the same with the limits raised: 190k shared strings are read fine */
    lim.unpacked_bytes = 256u << 20;
    lim.max_ratio = 100000;
    ASSERT_OK(hh_extract_buffer(zb, zl, "bomb.xlsx", &lim, &d, &e));
    hh_doc_clear(&d);
    free(zb);
    free(sst);
    /* 100k-deep XML in a sheet: the parser's depth limit, a clear error */
    size_t depth = 100000;
    char *deep = malloc(depth * 7 + 400);
    ASSERT_TRUE(deep != NULL);
    n = (size_t)snprintf(deep, 400, "<worksheet " SS_NS "><sheetData>");
    for (size_t i = 0; i < depth; i++, n += 3)
        memcpy(deep + n, "<a>", 3);
    for (size_t i = 0; i < depth; i++, n += 4)
        memcpy(deep + n, "</a>", 4);
    n += (size_t)sprintf(deep + n, "</sheetData></worksheet>");
    zent_t z2[] = { { "xl/workbook.xml", XL_WORKBOOK, 0 }, { "xl/_rels/workbook.xml.rels", XL_RELS, 0 },
                    { "xl/worksheets/sheet1.xml", deep, n } };
    path = tmp("deep.xlsx");
    ASSERT_TRUE(make_zip(path, z2, 3));
    int rc = hh_extract_file(path, NULL, &d, &e);
    printf("    100k-deep sheet: %d %s\n", rc, rc ? e.msg : "");
    ASSERT_EQ_INT(rc, HH_ERANGE);
    ASSERT_TRUE(strstr(e.msg, "sheet1.xml") != NULL);
    free(deep);
    /* invalid UTF-8 inside the XML: not well-formed, said so */
    const char badsst[] = "<sst " SS_NS "><si><t>M\xfcller</t></si></sst>";
    zent_t z3[] = { { "xl/workbook.xml", XL_WORKBOOK, 0 }, { "xl/_rels/workbook.xml.rels", XL_RELS, 0 },
                    { "xl/sharedStrings.xml", badsst, 0 }, { "xl/worksheets/sheet1.xml", XL_SHEET1, 0 } };
    path = tmp("badutf.xlsx");
    ASSERT_TRUE(make_zip(path, z3, 4));
    rc = hh_extract_file(path, NULL, &d, &e);
    ASSERT_EQ_INT(rc, HH_EFORMAT);
    ASSERT_TRUE(strstr(e.msg, "sharedStrings.xml: malformed XML") != NULL);
    /* a workbook without sheets */
    zent_t z4[] = { { "xl/workbook.xml", "<workbook " SS_NS "><sheets/></workbook>", 0 } };
    path = tmp("nosheet.xlsx");
    ASSERT_TRUE(make_zip(path, z4, 1));
    ASSERT_EQ_INT(hh_extract_file(path, NULL, &d, &e), HH_EFORMAT);
    ASSERT_TRUE(strstr(e.msg, "names no sheet") != NULL);
}

/* ---- PPTX ----------------------------------------------------------------- */

#define P_NS "xmlns:p=\"http://schemas.openxmlformats.org/presentationml/2006/main\" " \
             "xmlns:a=\"http://schemas.openxmlformats.org/drawingml/2006/main\" " \
             "xmlns:r=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships\""

static const char PPT_PRES[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?><p:presentation " P_NS "><p:sldIdLst>"
    "<p:sldId id=\"256\" r:id=\"rId2\"/><p:sldId id=\"257\" r:id=\"rId3\"/><p:sldId id=\"258\" r:id=\"rId4\"/>"
    "</p:sldIdLst></p:presentation>";

static const char PPT_RELS[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
    "<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">"
    "<Relationship Id=\"rId3\" Type=\"x\" Target=\"slides/slide7.xml\"/>"
    "<Relationship Id=\"rId2\" Type=\"x\" Target=\"slides/slide1.xml\"/>"
    "<Relationship Id=\"rId4\" Type=\"x\" Target=\"slides/slide2.xml\"/>"
    "</Relationships>";

#define SP(ph, body) "<p:sp><p:nvSpPr><p:cNvPr id=\"1\" name=\"s\"/><p:cNvSpPr/><p:nvPr>" ph "</p:nvPr></p:nvSpPr>" \
                     "<p:txBody>" body "</p:txBody></p:sp>"

static const char PPT_SLIDE1[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?><p:sld " P_NS "><p:cSld><p:spTree>"
    SP("", "<a:p><a:r><a:t>Erster Punkt</a:t></a:r></a:p><a:p><a:r><a:t>Zweiter </a:t></a:r>"
           "<a:r><a:t>Punkt</a:t></a:r><a:br/><a:r><a:t>neue Zeile</a:t></a:r></a:p>")
    SP("<p:ph type=\"title\"/>", "<a:p><a:r><a:t>Reise</a:t></a:r></a:p><a:p><a:r><a:t>richtlinie</a:t></a:r></a:p>")
    "<p:graphicFrame><a:graphic><a:graphicData><a:tbl><a:tblPr firstRow=\"1\"/>"
    "<a:tr><a:tc><a:txBody><a:p><a:r><a:t>Ziel</a:t></a:r></a:p></a:txBody></a:tc>"
    "<a:tc><a:txBody><a:p><a:r><a:t>Satz</a:t></a:r></a:p></a:txBody></a:tc></a:tr>"
    "<a:tr><a:tc><a:txBody><a:p><a:r><a:t>Rom</a:t></a:r></a:p></a:txBody></a:tc>"
    "<a:tc><a:txBody><a:p><a:r><a:t>99</a:t></a:r></a:p></a:txBody></a:tc></a:tr>"
    "</a:tbl></a:graphicData></a:graphic></p:graphicFrame>"
    "</p:spTree></p:cSld></p:sld>";

static const char PPT_SLIDE2[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?><p:sld " P_NS "><p:cSld><p:spTree>"
    SP("<p:ph type=\"ctrTitle\"/>", "<a:p><a:r><a:t>Fragen?</a:t></a:r></a:p>")
    SP("<p:ph type=\"subTitle\" idx=\"1\"/>", "<a:p><a:r><a:t>Danke f\xc3\xbcr Ihre Zeit</a:t></a:r></a:p>")
    "</p:spTree></p:cSld></p:sld>";

TEST(extract_pptx_slides_titles_pages)
{
    zent_t z[] = { { "[Content_Types].xml", "<Types/>", 0 }, { "ppt/presentation.xml", PPT_PRES, 0 },
                   { "ppt/_rels/presentation.xml.rels", PPT_RELS, 0 }, { "ppt/slides/slide1.xml", PPT_SLIDE1, 0 },
                   { "ppt/slides/slide2.xml", PPT_SLIDE2, 0 } };
    const char *path = tmp("vortrag.pptx");
    ASSERT_TRUE(make_zip(path, z, 5));
    hh_doc_t d;
    hh_err_t e;
    ASSERT_OK(hh_extract_file(path, NULL, &d, &e));
    ASSERT_STREQ(d.mime, "application/vnd.openxmlformats-officedocument.presentationml.presentation");
    ASSERT_STREQ(d.title, "Reise richtlinie");
    /* slide 1: title first, then the text frames and the table */
    BLOCK(&d, 0, HH_BLOCK_HEADING, 1, 1, "Reise richtlinie");
    BLOCK(&d, 1, HH_BLOCK_PARAGRAPH, 0, 1, "Erster Punkt");
    BLOCK(&d, 2, HH_BLOCK_PARAGRAPH, 0, 1, "Zweiter Punkt neue Zeile");
    BLOCK(&d, 3, HH_BLOCK_TABLE_ROW, 0, 1, "Ziel: Rom | Satz: 99");
    /* slide 2 names a missing part (slide7.xml): skipped; slide 3 keeps its number */
    BLOCK(&d, 4, HH_BLOCK_HEADING, 1, 3, "Fragen?");
    BLOCK(&d, 5, HH_BLOCK_PARAGRAPH, 0, 3, "Danke f\xc3\xbcr Ihre Zeit");
    ASSERT_EQ_INT(d.n_blocks, 6);
    hh_doc_clear(&d);
}

/* A PPTX written by a real tool (pandoc): slide titles, bullets, a table. */
TEST(extract_pptx_from_pandoc)
{
    if (system("command -v pandoc >/dev/null 2>&1") != 0)
        SKIP("pandoc not installed (scripts/deps.sh installs it)");
    const char *md = tmp("deck.md"), *pptx = tmp("deck.pptx");
    const char text[] = "# Reiserichtlinie\n\n## Hotels\n\n- Bis 150 EUR pro Nacht\n- Fr\xc3\xbchst\xc3\xbc" "ck inklusive\n\n"
                        "## Tabelle\n\n| Ziel | Satz |\n|---|---|\n| Rom | 99 |\n| K\xc3\xb6ln | 80 |\n";
    ASSERT_TRUE(put_file(md, text, sizeof text - 1));
    char cmd[2200];
    snprintf(cmd, sizeof cmd, "pandoc '%s' -o '%s' 2>/dev/null", md, pptx);
    ASSERT_EQ_INT(system(cmd), 0);
    hh_doc_t d;
    hh_err_t e;
    ASSERT_OK(hh_extract_file(pptx, NULL, &d, &e));
    ASSERT_STREQ(d.title, "Reiserichtlinie");
    BLOCK(&d, 0, HH_BLOCK_HEADING, 1, 1, "Reiserichtlinie");
    BLOCK(&d, 1, HH_BLOCK_HEADING, 1, 2, "Hotels");
    BLOCK(&d, 2, HH_BLOCK_PARAGRAPH, 0, 2, "Bis 150 EUR pro Nacht");
    BLOCK(&d, 3, HH_BLOCK_PARAGRAPH, 0, 2, "Fr\xc3\xbchst\xc3\xbc" "ck inklusive");
    BLOCK(&d, 4, HH_BLOCK_HEADING, 1, 3, "Tabelle");
    BLOCK(&d, 5, HH_BLOCK_TABLE_ROW, 0, 3, "Ziel: Rom | Satz: 99");
    BLOCK(&d, 6, HH_BLOCK_TABLE_ROW, 0, 3, "Ziel: K\xc3\xb6ln | Satz: 80");
    ASSERT_EQ_INT(d.n_blocks, 7);
    hh_doc_clear(&d);
}

TEST(extract_hostile_pptx)
{
    hh_doc_t d;
    hh_err_t e;
    /* every listed slide missing: a clear error */
    zent_t z[] = { { "ppt/presentation.xml", PPT_PRES, 0 }, { "ppt/_rels/presentation.xml.rels", PPT_RELS, 0 } };
    const char *path = tmp("hollow.pptx");
    ASSERT_TRUE(make_zip(path, z, 2));
    ASSERT_EQ_INT(hh_extract_file(path, NULL, &d, &e), HH_EFORMAT);
    ASSERT_TRUE(strstr(e.msg, "none of the 3 listed slides") != NULL);
    ASSERT_EQ_INT(d.n_blocks, 0);
    /* a broken slide (invalid UTF-8, not well-formed) is skipped, the good one kept */
    const char bad[] = "<p:sld " P_NS "><p:cSld><p:spTree>" SP("", "<a:p><a:r><a:t>M\xfcll</a:t></a:r></a:p>")
                       "</p:spTree></p:cSld></p:sld>";
    zent_t z2[] = { { "ppt/presentation.xml", PPT_PRES, 0 }, { "ppt/_rels/presentation.xml.rels", PPT_RELS, 0 },
                    { "ppt/slides/slide1.xml", bad, 0 }, { "ppt/slides/slide2.xml", PPT_SLIDE2, 0 } };
    path = tmp("half.pptx");
    ASSERT_TRUE(make_zip(path, z2, 4));
    ASSERT_OK(hh_extract_file(path, NULL, &d, &e));
    ASSERT_EQ_INT(d.n_blocks, 2);
    BLOCK(&d, 0, HH_BLOCK_HEADING, 1, 3, "Fragen?");
    hh_doc_clear(&d);
    /* a slide bomb: declared size over the limit, refused before inflating */
    size_t big = 4u << 20;
    char *fill = malloc(big);
    ASSERT_TRUE(fill != NULL);
    memset(fill, ' ', big);
    memcpy(fill, "<p:sld " P_NS ">", strlen("<p:sld " P_NS ">"));
    memcpy(fill + big - 8, "</p:sld>", 8);
    zent_t z3[] = { { "ppt/presentation.xml", PPT_PRES, 0 }, { "ppt/_rels/presentation.xml.rels", PPT_RELS, 0 },
                    { "ppt/slides/slide1.xml", fill, big } };
    path = tmp("bomb.pptx");
    ASSERT_TRUE(make_zip(path, z3, 3));
    hh_extract_limits_t lim;
    hh_extract_default_limits(&lim);
    ASSERT_EQ_INT(hh_extract_file(path, &lim, &d, &e), HH_ERANGE);  /* ratio ~ 1000:1 */
    ASSERT_TRUE(strstr(e.msg, "zip bomb") != NULL);
    free(fill);
    /* no slide list at all */
    zent_t z4[] = { { "ppt/presentation.xml", "<p:presentation " P_NS "/>", 0 } };
    path = tmp("empty.pptx");
    ASSERT_TRUE(make_zip(path, z4, 1));
    ASSERT_EQ_INT(hh_extract_file(path, NULL, &d, &e), HH_EFORMAT);
    ASSERT_TRUE(strstr(e.msg, "lists no slides") != NULL);
}

/* ---- PDF ------------------------------------------------------------------ */

TEST(extract_pdf_join_dehyphenates)
{
    static const struct { const char *a, *b, *want; } cases[] = {
        { "nach der Ken-", "nung des", "nach der Kennung des" },
        { "f\xc3\xbcr das Ein-", "und Ausgangsbuch", "f\xc3\xbcr das Ein- und Ausgangsbuch" },
        { "die E-", "Mail Adresse", "die E-Mail Adresse" },
        { "Gr\xc3\xb6\xc3\x9f" "en-", "\xc3\xa4nderung", "Gr\xc3\xb6\xc3\x9f" "en\xc3\xa4nderung" },
        { "Seite 3 -", "weiter", "Seite 3 - weiter" },
        { "Betrag 10-", "20 EUR", "Betrag 10- 20 EUR" },
        { "Dienst\xc2\xad", "reise", "Dienstreise" },
        { "Schluss.", "Neuer Satz", "Schluss. Neuer Satz" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        hh_xstr_t p = { 0 };
        ASSERT_OK(hh_x_pdf_join(&p, cases[i].a, strlen(cases[i].a)));
        ASSERT_OK(hh_x_pdf_join(&p, cases[i].b, strlen(cases[i].b)));
        ASSERT_STREQ(p.data, cases[i].want);
        hh_xstr_free(&p);
    }
}

/* groff typesets a three-page policy: a running header and page numbers
 * on every page, an 18-point and a 14-point bold heading, hyphenated line
 * ends; the blocks come back with levels, pages and whole words. */
static const char GROFF_POLICY[] =
    ".ll 3i\n.hy 0\n"
    ".de HE\n'sp 0.5i\n.ps 9\nVertraulich \\(en Reiserichtlinie\n.br\n.ps 11\n'sp 0.5i\n..\n"
    ".de FO\n'sp 0.3i\n.ps 9\n\\\\n%\n.br\n.ps 11\n'bp\n..\n"
    ".wh 0 HE\n.wh -0.8i FO\n"
    ".de HD\n.sp 1\n.ps 18\n.vs 22\n\\\\$1\n.br\n.ps 11\n.vs 13\n..\n"
    ".HD \"Reisekosten\"\n"
    "Die Erstattung richtet sich nach der Ken-\n.br\n"
    "nung des Mitarbeiters, f\xc3\xbcr das Ein-\n.br\n"
    "und Ausgangsbuch und die E-\n.br\n"
    "Mail Adresse.\n"
    ".sp\nZweiter Absatz hier.\n"
    ".sp\n.ps 14\n\\fBHotels\\fP\n.br\n.ps 11\n.sp 0.5\n"
    "Hotel pro Nacht bis 150 EUR.\n"
    ".bp\n.HD \"Fahrten\"\n"
    "Fahrten mit dem privaten PKW werden mit 0,30 EUR erstattet.\n"
    ".bp\n.ft B\nAnhang\n.ft R\n.br\nLetzte Seite.\n";

TEST(extract_pdf_headings_pages_dehyphenation)
{
    if (system("command -v groff >/dev/null 2>&1 && command -v pdftohtml >/dev/null 2>&1") != 0)
        SKIP("groff or pdftohtml not installed (scripts/deps.sh installs them)");
    const char *src = tmp("policy.tr"), *pdf = tmp("policy.pdf");
    ASSERT_TRUE(put_file(src, GROFF_POLICY, strlen(GROFF_POLICY)));
    char cmd[2200];
    snprintf(cmd, sizeof cmd, "groff -k -Tpdf '%s' > '%s' 2>/dev/null", src, pdf);
    ASSERT_EQ_INT(system(cmd), 0);
    hh_doc_t d;
    hh_err_t e;
    ASSERT_OK(hh_extract_file(pdf, NULL, &d, &e));
    ASSERT_STREQ(d.mime, "application/pdf");
    ASSERT_TRUE(d.encoding == NULL);
    ASSERT_STREQ(d.title, "Reisekosten");      /* the larger heading on page 1 */
    BLOCK(&d, 0, HH_BLOCK_HEADING, 1, 1, "Reisekosten");
    BLOCK(&d, 1, HH_BLOCK_PARAGRAPH, 0, 1,
          "Die Erstattung richtet sich nach der Kennung des Mitarbeiters, f\xc3\xbcr das Ein- und "
          "Ausgangsbuch und die E-Mail Adresse.");
    BLOCK(&d, 2, HH_BLOCK_PARAGRAPH, 0, 1, "Zweiter Absatz hier.");
    BLOCK(&d, 3, HH_BLOCK_HEADING, 2, 1, "Hotels");
    BLOCK(&d, 4, HH_BLOCK_PARAGRAPH, 0, 1, "Hotel pro Nacht bis 150 EUR.");
    BLOCK(&d, 5, HH_BLOCK_HEADING, 1, 2, "Fahrten");
    BLOCK(&d, 6, HH_BLOCK_PARAGRAPH, 0, 2, "Fahrten mit dem privaten PKW werden mit 0,30 EUR erstattet.");
    BLOCK(&d, 7, HH_BLOCK_HEADING, 3, 3, "Anhang");
    BLOCK(&d, 8, HH_BLOCK_PARAGRAPH, 0, 3, "Letzte Seite.");
    /* the running header and the page numbers are gone */
    ASSERT_EQ_INT(d.n_blocks, 9);
    hh_doc_clear(&d);
    /* a man page: bold section names at body size are headings, but no
     * title ("NAME" would name every page): the file name is */
    const char man[] = ".TH TEST 1\n.SH NAME\ntest \\- eine Testseite\n.SH BESCHREIBUNG\nDer Text der Seite.\n";
    const char *msrc = tmp("man.1"), *mpdf = tmp("man.pdf");
    ASSERT_TRUE(put_file(msrc, man, sizeof man - 1));
    snprintf(cmd, sizeof cmd, "groff -k -man -Tpdf '%s' > '%s' 2>/dev/null", msrc, mpdf);
    ASSERT_EQ_INT(system(cmd), 0);
    ASSERT_OK(hh_extract_file(mpdf, NULL, &d, &e));
    ASSERT_STREQ(d.title, "fmt-man");
    /* one page: its running header cannot be told from text; the lone page
     * number at the bottom is dropped */
    BLOCK(&d, 0, HH_BLOCK_PARAGRAPH, 0, 1, "TEST(1) General Commands Manual TEST(1)");
    BLOCK(&d, 1, HH_BLOCK_HEADING, 1, 1, "NAME");
    BLOCK(&d, 2, HH_BLOCK_PARAGRAPH, 0, 1, "test - eine Testseite");
    BLOCK(&d, 3, HH_BLOCK_HEADING, 1, 1, "BESCHREIBUNG");
    BLOCK(&d, 4, HH_BLOCK_PARAGRAPH, 0, 1, "Der Text der Seite.");
    ASSERT_EQ_INT(d.n_blocks, 5);
    hh_doc_clear(&d);
    /* the same bytes from memory (an attachment) still give the text */
    size_t len = 0;
    void *buf = hh_test_read_file(pdf, &len);
    ASSERT_TRUE(buf != NULL);
    ASSERT_OK(hh_extract_buffer(buf, len, "policy.pdf", NULL, &d, &e));
    ASSERT_TRUE(d.n_blocks >= 3);
    ASSERT_EQ_INT(d.blocks[d.n_blocks - 1].page, 3);
    hh_doc_clear(&d);
    free(buf);
}

/* ---- ingestion: the encoding stored and reported ------------------------ */

static const char ANSI_TEXT[] = "Herr M\xfcller bestellt B\xfcromaterial f\xfcr 30 \x80.\n";

TEST(ingest_encoding_stored_and_noted)
{
    char data[512], file[600];
    snprintf(data, sizeof data, "%s/fmt-ingest-data", hh_test_tmpdir());
    snprintf(file, sizeof file, "%s/fmt-bestellung.txt", hh_test_tmpdir());
    ASSERT_TRUE(put_file(file, ANSI_TEXT, sizeof ANSI_TEXT - 1));
    hh_store_t *s = NULL;
    hh_err_t err;
    ASSERT_OK(hh_store_open(&s, data, &err));
    hh_store_collection_t c;
    ASSERT_OK(hh_store_collection_ensure(s, "einkauf", NULL, 0, &c, &err));
    hh_ingest_file_t r;
    ASSERT_OK(hh_ingest_file(s, file, NULL, c.id, 0, NULL, &r, &err));
    ASSERT_EQ_INT(r.status, HH_INGEST_ADDED);
    ASSERT_STREQ(r.encoding, "windows-1252");
    ASSERT_TRUE(hh_ingest_encoding_note(r.encoding) != NULL);
    ASSERT_TRUE(hh_ingest_encoding_note("utf-8") == NULL);
    hh_store_doc_t d;
    ASSERT_OK(hh_store_doc_get(s, r.doc_id, &d, &err));
    ASSERT_STREQ(d.encoding, "windows-1252");
    hh_store_chunk_t ch;
    int64_t *ids = NULL;
    size_t n = 0;
    ASSERT_OK(hh_kb_doc_chunk_ids(s, r.doc_id, &ids, &n, &err));
    ASSERT_EQ_INT(n, 1);
    ASSERT_OK(hh_store_chunk_get(s, ids[0], &ch, &err));
    ASSERT_STREQ(ch.text, "Herr M\xc3\xbcller bestellt B\xc3\xbcromaterial f\xc3\xbcr 30 \xe2\x82\xac.");
    hh_store_chunk_clear(&ch);
    free(ids);
    /* the same bytes again: unchanged, the stored encoding reported */
    ASSERT_OK(hh_ingest_file(s, file, NULL, c.id, 0, NULL, &r, &err));
    ASSERT_EQ_INT(r.status, HH_INGEST_UNCHANGED);
    ASSERT_STREQ(r.encoding, "windows-1252");
    hh_store_close(s);

    /* the command line says it */
    char args[2048], out[4096];
    snprintf(args, sizeof args, "collections create kb2 --data '%s'", data);
    if (hh_test_run_cli(args, NULL, true, out, sizeof out) == -1)
        SKIP("HOHEIT_BIN not set");
    snprintf(args, sizeof args, "ingest '%s' --collection kb2 --data '%s'", file, data);
    ASSERT_EQ_INT(hh_test_run_cli(args, NULL, false, out, sizeof out), 0);
    ASSERT_TRUE(strstr(out, "added") != NULL);
    ASSERT_TRUE(strstr(out, "note") != NULL && strstr(out, "Windows-1252") != NULL);
    snprintf(args, sizeof args, "documents list --collection kb2 --json --data '%s'", data);
    ASSERT_EQ_INT(hh_test_run_cli(args, NULL, false, out, sizeof out), 0);
    cJSON *j = cJSON_Parse(out);
    ASSERT_TRUE(cJSON_IsArray(j) && cJSON_GetArraySize(j) == 1);
    ASSERT_STREQ(hh_test_json_str(cJSON_GetArrayItem(j, 0), "encoding"), "windows-1252");
    cJSON_Delete(j);
    /* re-extraction from the stored original says it again */
    snprintf(args, sizeof args, "documents reingest --collection kb2 --data '%s'", data);
    ASSERT_EQ_INT(hh_test_run_cli(args, NULL, false, out, sizeof out), 0);
    ASSERT_TRUE(strstr(out, "note: the text was not UTF-8: read as Windows-1252") != NULL);
}

TEST(ingest_http_upload_reports_encoding)
{
    hh_test_srv_t t;
    ASSERT_OK(hh_test_srv_start(&t, "fmt_upload", NULL));
    hh_err_t err;
    char key[HH_KEY_LEN + 1];
    const char *dep[] = { "Einkauf" };
    ASSERT_OK(hh_test_srv_user(&t, "eva", "member", key, NULL));
    ASSERT_OK(hh_store_user_add_department(t.st, "eva", "Einkauf", &err));
    ASSERT_OK(hh_store_collection_ensure(t.st, "einkauf", dep, 1, NULL, &err));
    ASSERT_OK(hh_store_collection_grant(t.st, "einkauf", "Einkauf", HH_RIGHT_WRITE, NULL, &err));
    hh_test_resp_t r;
    ASSERT_OK(hh_test_http_upload(t.port, key, "einkauf", "bestellung.txt", ANSI_TEXT, &r));
    ASSERT_EQ_INT(r.status, 201);
    ASSERT_STREQ(hh_test_json_str(r.j, "encoding"), "windows-1252");
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(r.j, "warnings");
    ASSERT_TRUE(cJSON_IsArray(w));
    ASSERT_EQ_INT(cJSON_GetArraySize(w), 1);
    ASSERT_TRUE(strstr(cJSON_GetArrayItem(w, 0)->valuestring, "Windows-1252") != NULL);
    hh_test_resp_free(&r);
    /* UTF-8: no warning */
    ASSERT_OK(hh_test_http_upload(t.port, key, "einkauf", "utf8.txt", "Gr\xc3\xbc\xc3\x9f" "e aus K\xc3\xb6ln\n", &r));
    ASSERT_EQ_INT(r.status, 201);
    ASSERT_STREQ(hh_test_json_str(r.j, "encoding"), "utf-8");
    ASSERT_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r.j, "warnings")), 0);
    hh_test_resp_free(&r);
    hh_test_srv_stop(&t);
}
