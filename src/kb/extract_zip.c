/* extract_zip.c - office documents in zip containers: DOCX
 * (word/document.xml: w:p with Heading/Title styles and outline levels, w:numPr
 * lists, w:tr table rows) and ODT (content.xml: text:h outline levels, text:p,
 * text:list-item depth, table:table-row). A member's declared size and
 * compression ratio are checked BEFORE it is inflated (zip bombs fail with
 * HH_ERANGE), and inflation stops at the declared size. The XML is parsed
 * without network, DTD loading or entity expansion, and walked iteratively. */
#include "kb/extract_int.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zip.h>

#define NS_W     "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
#define NS_MC    "http://schemas.openxmlformats.org/markup-compatibility/2006"
#define NS_TEXT  "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
#define NS_TABLE "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
#define NS_OFFICE "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
#define NS_DC    "http://purl.org/dc/elements/1.1/"

/* Members below this size may compress as well as they like. */
#define RATIO_FLOOR (1u << 20)

zip_t *hh_x_zip_open(const uint8_t *data, size_t len)
{
    zip_error_t ze;
    zip_error_init(&ze);
    zip_source_t *src = zip_source_buffer_create(data, len, 0, &ze);
    zip_error_fini(&ze);
    if (src == NULL)
        return NULL;
    zip_error_init(&ze);
    zip_t *za = zip_open_from_source(src, ZIP_RDONLY, &ze);
    zip_error_fini(&ze);
    if (za == NULL)
        zip_source_free(src);
    return za;
}

/* Reads member name (NUL-terminated copy in *out, caller frees). HH_ENOENT
 * when absent; HH_ERANGE for a size or ratio over the limits. */
int hh_x_zip_read(zip_t *za, const char *name, const hh_extract_limits_t *lim,
                       char **out, size_t *out_len, hh_err_t *err)
{
    *out = NULL;
    *out_len = 0;
    zip_int64_t idx = zip_name_locate(za, name, 0);
    if (idx < 0)
        return hh_err_set(err, HH_ENOENT, -1, "%s missing in the zip", name);
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(za, (zip_uint64_t)idx, 0, &st) != 0 ||
        !(st.valid & ZIP_STAT_SIZE) || !(st.valid & ZIP_STAT_COMP_SIZE))
        return hh_err_set(err, HH_EFORMAT, -1, "%s: no sizes in the zip directory", name);
    if (st.size > lim->unpacked_bytes)
        return hh_err_set(err, HH_ERANGE, -1, "zip bomb: %s unpacks to %llu bytes, over the limit of %llu",
                          name, (unsigned long long)st.size, (unsigned long long)lim->unpacked_bytes);
    if (st.size > RATIO_FLOOR &&
        (st.comp_size == 0 || st.size / st.comp_size > lim->max_ratio))
        return hh_err_set(err, HH_ERANGE, -1, "zip bomb: %s compressed %llu:1 (%llu -> %llu bytes), over the limit of %u:1",
                          name, (unsigned long long)(st.comp_size ? st.size / st.comp_size : 0),
                          (unsigned long long)st.comp_size, (unsigned long long)st.size, lim->max_ratio);
    char *buf = malloc((size_t)st.size + 1);
    if (buf == NULL)
        return hh_err_set(err, HH_ENOMEM, -1, "out of memory for %s (%llu bytes)", name,
                          (unsigned long long)st.size);
    zip_file_t *zf = zip_fopen_index(za, (zip_uint64_t)idx, 0);
    if (zf == NULL) {
        free(buf);
        return hh_err_set(err, HH_EFORMAT, -1, "%s: %s", name, zip_strerror(za));
    }
    int rc = 0;
    size_t got = 0;
    for (;;) {
        /* ask for one byte more than declared: inflating past the size the
         * directory promised is an inconsistency, not more text */
        char extra;
        zip_int64_t r = got < st.size ? zip_fread(zf, buf + got, st.size - got) : zip_fread(zf, &extra, 1);
        if (r < 0) {
            rc = hh_err_set(err, HH_EFORMAT, -1, "%s: %s", name, zip_file_strerror(zf));
            break;
        }
        if (r == 0)
            break;
        if (got >= st.size) {
            rc = hh_err_set(err, HH_EFORMAT, -1, "%s inflates past its declared %llu bytes", name,
                            (unsigned long long)st.size);
            break;
        }
        got += (size_t)r;
    }
    zip_fclose(zf);
    if (rc != 0) {
        free(buf);
        return rc;
    }
    buf[got] = '\0';
    *out = buf;
    *out_len = got;
    return 0;
}

int hh_x_ooxml_main(zip_t *za, const char *ctype, const char *def, char *out, size_t cap)
{
    snprintf(out, cap, "%s", def);
    if (zip_name_locate(za, def, 0) >= 0)
        return 1;
    /* [Content_Types].xml is small; a huge one is not read */
    hh_extract_limits_t lim;
    hh_extract_default_limits(&lim);
    lim.unpacked_bytes = 1u << 20;
    char *buf = NULL;
    size_t len = 0;
    xmlDocPtr doc = NULL;
    int found = 0;
    if (hh_x_zip_read(za, "[Content_Types].xml", &lim, &buf, &len, NULL) != 0 ||
        hh_x_xml_parse(buf, len, "[Content_Types].xml", &doc, NULL) != 0) {
        free(buf);
        return 0;
    }
    xmlNode *root = xmlDocGetRootElement(doc);
    for (xmlNode *n = root ? root->children : NULL; n != NULL && !found; n = n->next) {
        if (n->type != XML_ELEMENT_NODE || strcmp((const char *)n->name, "Override") != 0)
            continue;
        xmlChar *ct = xmlGetProp(n, (const xmlChar *)"ContentType");
        xmlChar *pn = xmlGetProp(n, (const xmlChar *)"PartName");
        if (ct != NULL && pn != NULL && strcmp((const char *)ct, ctype) == 0) {
            const char *name = (const char *)pn + (pn[0] == '/');
            if (strlen(name) < cap && zip_name_locate(za, name, 0) >= 0) {
                snprintf(out, cap, "%s", name);
                found = 1;
            }
        }
        xmlFree(ct);
        xmlFree(pn);
    }
    xmlFreeDoc(doc);
    free(buf);
    return found;
}

#define CT_DOCX "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
#define CT_XLSX "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
#define CT_PPTX "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml"

const char *hh_x_zip_kind(const uint8_t *data, size_t len)
{
    zip_t *za = hh_x_zip_open(data, len);
    if (za == NULL)
        return NULL;
    const char *kind = NULL;
    if (zip_name_locate(za, "word/document.xml", 0) >= 0) {
        kind = HH_MIME_DOCX;
    } else if (zip_name_locate(za, "xl/workbook.xml", 0) >= 0) {
        kind = HH_MIME_XLSX;
    } else if (zip_name_locate(za, "ppt/presentation.xml", 0) >= 0) {
        kind = HH_MIME_PPTX;
    } else if (zip_name_locate(za, "content.xml", 0) >= 0) {
        hh_extract_limits_t lim;
        hh_extract_default_limits(&lim);
        lim.unpacked_bytes = 256;
        char *mt = NULL;
        size_t n = 0;
        if (hh_x_zip_read(za, "mimetype", &lim, &mt, &n, NULL) == 0 &&
            n >= strlen(HH_MIME_ODT) && strncmp(mt, HH_MIME_ODT, strlen(HH_MIME_ODT)) == 0)
            kind = HH_MIME_ODT;
        free(mt);
    }
    if (kind == NULL) {
        /* an Office package whose main part has another name: its content
         * types say which it is */
        char part[256];
        if (hh_x_ooxml_main(za, CT_DOCX, "word/document.xml", part, sizeof part))
            kind = HH_MIME_DOCX;
        else if (hh_x_ooxml_main(za, CT_XLSX, "xl/workbook.xml", part, sizeof part))
            kind = HH_MIME_XLSX;
        else if (hh_x_ooxml_main(za, CT_PPTX, "ppt/presentation.xml", part, sizeof part))
            kind = HH_MIME_PPTX;
    }
    zip_discard(za);
    return kind;
}

/* Parses an XML member: no network, no DTD, no entity substitution; the
 * parser's own depth limit (256) applies. */
int hh_x_xml_parse(const char *buf, size_t len, const char *name, xmlDocPtr *out, hh_err_t *err)
{
    *out = NULL;
    if (len > INT32_MAX)
        return hh_err_set(err, HH_ERANGE, -1, "%s larger than 2 GiB", name);
    xmlParserCtxtPtr ctxt = xmlNewParserCtxt();
    if (ctxt == NULL)
        return hh_err_set(err, HH_ENOMEM, -1, "out of memory");
    xmlDocPtr doc = xmlCtxtReadMemory(ctxt, buf, (int)len, name, NULL,
                                      XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    int rc = 0;
    if (doc == NULL || !ctxt->wellFormed) {
        const char *msg = ctxt->lastError.message ? ctxt->lastError.message : "not well-formed\n";
        size_t ml = strlen(msg);
        while (ml > 0 && msg[ml - 1] == '\n')
            ml--;
        rc = hh_err_set(err, strstr(msg, "depth") ? HH_ERANGE : HH_EFORMAT, -1, "%s: malformed XML at line %d: %.*s",
                        name, ctxt->lastError.line, (int)ml, msg);
        if (doc)
            xmlFreeDoc(doc);
        doc = NULL;
    }
    xmlFreeParserCtxt(ctxt);
    *out = doc;
    return rc;
}

static bool el(const xmlNode *n, const char *ns, const char *name)
{
    return n->type == XML_ELEMENT_NODE && n->ns != NULL && n->ns->href != NULL &&
           strcmp((const char *)n->ns->href, ns) == 0 && strcmp((const char *)n->name, name) == 0;
}

/* dc:title from a metadata member (docProps/core.xml, meta.xml), if any. */
int hh_x_zip_meta_title(hh_xb_t *b, zip_t *za, const char *member)
{
    char *buf = NULL;
    size_t len = 0;
    xmlDocPtr doc = NULL;
    hh_extract_limits_t lim = *b->lim;
    if (lim.unpacked_bytes > (4u << 20))
        lim.unpacked_bytes = 4u << 20;   /* metadata is small; a huge one is ignored */
    if (hh_x_zip_read(za, member, &lim, &buf, &len, NULL) != 0 || hh_x_xml_parse(buf, len, member, &doc, NULL) != 0) {
        free(buf);
        return 0;
    }
    int rc = 0;
    xmlNode *root = xmlDocGetRootElement(doc);
    /* dc:title sits one or two levels down (cp:coreProperties/dc:title,
     * office:document-meta/office:meta/dc:title) */
    xmlNode *title = NULL;
    for (xmlNode *a = root ? root->children : NULL; a != NULL && title == NULL; a = a->next) {
        if (el(a, NS_DC, "title")) {
            title = a;
            break;
        }
        for (xmlNode *c = a->type == XML_ELEMENT_NODE ? a->children : NULL; c != NULL; c = c->next)
            if (el(c, NS_DC, "title")) {
                title = c;
                break;
            }
    }
    if (title != NULL) {
        xmlChar *t = xmlNodeGetContent(title);
        if (t != NULL)
            rc = hh_xb_title(b, (const char *)t, strlen((const char *)t));
        xmlFree(t);
    }
    xmlFreeDoc(doc);
    free(buf);
    return rc;
}

/* ---- the shared paragraph / table state ---------------------------------- */

typedef struct office {
    hh_xb_t        *b;
    hh_err_t       *err;
    hh_xstr_t       para, cell;
    hh_xt_t         table;       /* the outermost table's rows */
    bool            row_header;  /* the open row is marked as the header */
    int             table_depth;
    int             p_depth;     /* open paragraphs (text boxes nest them) */
    hh_block_kind_t kind;
    int32_t         level;
    bool            is_title;
    int             row_depth, cell_depth, cells;
    int             list_depth;  /* ODT: open text:list */
    int             in_header_rows; /* ODT: inside table:table-header-rows */
} office_t;

static int put(office_t *o, hh_xstr_t *s, const char *p, size_t n)
{
    if (hh_xstr_append(s, p, n))
        return hh_err_set(o->err, HH_ENOMEM, -1, "out of memory");
    return 0;
}

static void para_begin(office_t *o, hh_block_kind_t kind, int32_t level)
{
    if (o->p_depth++ == 0) {
        o->para.len = 0;
        o->kind = kind;
        o->level = level;
        o->is_title = false;
    }
}

static int para_end(office_t *o)
{
    if (--o->p_depth > 0)
        return put(o, &o->para, " ", 1);
    int rc = 0;
    if (o->cell_depth > 0) {
        if (o->cell.len > 0)
            rc = put(o, &o->cell, " ", 1);
        if (rc == 0)
            rc = put(o, &o->cell, o->para.data ? o->para.data : "", o->para.len);
    } else {
        if (o->is_title && (rc = hh_xb_title(o->b, o->para.data, o->para.len)) != 0)
            return hh_err_set(o->err, HH_ENOMEM, -1, "out of memory");
        rc = hh_xb_add(o->b, o->kind, o->level, o->para.data ? o->para.data : "", o->para.len, o->err);
    }
    o->para.len = 0;
    return rc;
}

static void row_begin(office_t *o)
{
    if (o->row_depth++ == 0)
        o->cells = 0;
}

static int row_end(office_t *o)
{
    if (--o->row_depth > 0)
        return 0;
    int rc = hh_xt_row_end(&o->table, o->b, o->row_header, o->err);
    o->row_header = false;
    return rc;
}

static void table_begin(office_t *o)
{
    o->table_depth++;
}

static int table_end(office_t *o)
{
    if (--o->table_depth > 0)
        return 0;
    return hh_xt_end(&o->table, o->b, o->err);
}

static void cell_begin(office_t *o)
{
    if (o->cell_depth++ == 0)
        o->cell.len = 0;
}

static int cell_end(office_t *o)
{
    if (--o->cell_depth > 0 || o->row_depth != 1)
        return 0;
    o->cells++;
    int rc = hh_xt_cell(&o->table, o->b, o->cell.data ? o->cell.data : "", o->cell.len, o->err);
    o->cell.len = 0;
    return rc;
}

static long attr_long(xmlNode *n, const char *ns, const char *name, long def)
{
    xmlChar *v = xmlGetNsProp(n, (const xmlChar *)name, (const xmlChar *)ns);
    if (v == NULL)
        return def;
    char *end;
    long x = strtol((const char *)v, &end, 10);
    if (end == (char *)v)
        x = def;
    xmlFree(v);
    return x;
}

/* ---- DOCX ------------------------------------------------------------------ */

/* Heading level of a paragraph style id: "Heading1".."Heading9" (and the
 * German "berschrift1" Word writes for "Überschrift 1"); 0 if none. */
static int style_heading(const char *s)
{
    size_t n = strlen(s);
    if (n < 2 || s[n - 1] < '1' || s[n - 1] > '9' || (n >= 3 && s[n - 2] >= '0' && s[n - 2] <= '9'))
        return 0;
    if (strncasecmp(s, "heading", 7) == 0 || strstr(s, "berschrift") != NULL)
        return s[n - 1] - '0' > 6 ? 6 : s[n - 1] - '0';
    return 0;
}

static int docx_enter(void *vctx, xmlNode *n)
{
    office_t *o = vctx;
    if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
        if (o->p_depth > 0 && n->parent != NULL && el(n->parent, NS_W, "t") && n->content != NULL)
            return put(o, &o->para, (const char *)n->content, strlen((const char *)n->content));
        return 0;
    }
    if (n->type != XML_ELEMENT_NODE)
        return 1;
    if (n->ns != NULL && n->ns->href != NULL && strcmp((const char *)n->ns->href, NS_MC) == 0 &&
        strcmp((const char *)n->name, "Fallback") == 0)
        return 1;                       /* a copy of mc:Choice for old readers */
    if (n->ns == NULL || n->ns->href == NULL || strcmp((const char *)n->ns->href, NS_W) != 0)
        return 0;
    const char *name = (const char *)n->name;
    if (strcmp(name, "p") == 0) {
        para_begin(o, HH_BLOCK_PARAGRAPH, 0);
    } else if (strcmp(name, "tab") == 0 && o->p_depth > 0 && !(n->parent && el(n->parent, NS_W, "tabs"))) {
        return put(o, &o->para, "\t", 1);
    } else if ((strcmp(name, "br") == 0 || strcmp(name, "cr") == 0) && o->p_depth > 0) {
        return put(o, &o->para, "\n", 1);
    } else if (strcmp(name, "noBreakHyphen") == 0 && o->p_depth > 0) {
        return put(o, &o->para, "-", 1);
    } else if (strcmp(name, "pStyle") == 0 && o->p_depth == 1) {
        xmlChar *v = xmlGetNsProp(n, (const xmlChar *)"val", (const xmlChar *)NS_W);
        if (v != NULL) {
            const char *s = (const char *)v;
            int h = style_heading(s);
            if (h > 0) {
                o->kind = HH_BLOCK_HEADING;
                o->level = h;
            } else if (strcasecmp(s, "Title") == 0) {
                o->kind = HH_BLOCK_HEADING;
                o->level = 1;
                o->is_title = true;
            } else if (strcasecmp(s, "Quote") == 0 || strcasecmp(s, "IntenseQuote") == 0) {
                o->kind = HH_BLOCK_QUOTE;
            } else if (strcasecmp(s, "ListParagraph") == 0 && o->kind == HH_BLOCK_PARAGRAPH) {
                o->kind = HH_BLOCK_LIST_ITEM;
                o->level = 1;
            }
            xmlFree(v);
        }
    } else if (strcmp(name, "outlineLvl") == 0 && o->p_depth == 1 && o->kind == HH_BLOCK_PARAGRAPH) {
        long lv = attr_long(n, NS_W, "val", 9);
        if (lv >= 0 && lv < 9) {
            o->kind = HH_BLOCK_HEADING;
            o->level = lv >= 5 ? 6 : (int32_t)lv + 1;
        }
    } else if (strcmp(name, "numPr") == 0 && o->p_depth == 1 && o->kind != HH_BLOCK_HEADING) {
        o->kind = HH_BLOCK_LIST_ITEM;
        o->level = 1;
    } else if (strcmp(name, "ilvl") == 0 && o->p_depth == 1 && o->kind == HH_BLOCK_LIST_ITEM) {
        long lv = attr_long(n, NS_W, "val", 0);
        o->level = lv < 0 ? 1 : lv > 8 ? 9 : (int32_t)lv + 1;
    } else if (strcmp(name, "tbl") == 0) {
        table_begin(o);
    } else if (strcmp(name, "tr") == 0) {
        row_begin(o);
    } else if (strcmp(name, "tblHeader") == 0 && o->row_depth == 1 && o->table_depth == 1) {
        o->row_header = true;
    } else if (strcmp(name, "tc") == 0) {
        cell_begin(o);
    } else if (strcmp(name, "instrText") == 0 || strcmp(name, "delText") == 0) {
        return 1;
    }
    return 0;
}

static int docx_leave(void *vctx, xmlNode *n)
{
    office_t *o = vctx;
    if (!(n->ns != NULL && n->ns->href != NULL && strcmp((const char *)n->ns->href, NS_W) == 0))
        return 0;
    const char *name = (const char *)n->name;
    if (strcmp(name, "p") == 0)
        return para_end(o);
    if (strcmp(name, "tc") == 0)
        return cell_end(o);
    if (strcmp(name, "tr") == 0)
        return row_end(o);
    if (strcmp(name, "tbl") == 0)
        return table_end(o);
    return 0;
}

/* ---- ODT ------------------------------------------------------------------- */

static int odt_enter(void *vctx, xmlNode *n)
{
    office_t *o = vctx;
    if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
        if (o->p_depth > 0 && n->content != NULL)
            return put(o, &o->para, (const char *)n->content, strlen((const char *)n->content));
        return 0;
    }
    if (n->type != XML_ELEMENT_NODE)
        return 1;
    if (el(n, NS_TEXT, "h")) {
        long lv = attr_long(n, NS_TEXT, "outline-level", 1);
        para_begin(o, HH_BLOCK_HEADING, lv < 1 ? 1 : lv > 6 ? 6 : (int32_t)lv);
    } else if (el(n, NS_TEXT, "p")) {
        if (o->list_depth > 0)
            para_begin(o, HH_BLOCK_LIST_ITEM, o->list_depth);
        else
            para_begin(o, HH_BLOCK_PARAGRAPH, 0);
    } else if (el(n, NS_TEXT, "s") && o->p_depth > 0) {
        long c = attr_long(n, NS_TEXT, "c", 1);
        for (long i = 0; i < (c < 1 ? 1 : c > 64 ? 64 : c); i++)
            if (put(o, &o->para, " ", 1))
                return HH_ENOMEM;
    } else if (el(n, NS_TEXT, "tab") && o->p_depth > 0) {
        return put(o, &o->para, "\t", 1);
    } else if (el(n, NS_TEXT, "line-break") && o->p_depth > 0) {
        return put(o, &o->para, "\n", 1);
    } else if (el(n, NS_TEXT, "list")) {
        o->list_depth++;
    } else if (el(n, NS_TABLE, "table")) {
        table_begin(o);
    } else if (el(n, NS_TABLE, "table-header-rows")) {
        if (o->table_depth == 1)
            o->in_header_rows++;
    } else if (el(n, NS_TABLE, "table-row")) {
        row_begin(o);
        if (o->row_depth == 1 && o->in_header_rows > 0)
            o->row_header = true;
    } else if (el(n, NS_TABLE, "table-cell")) {
        cell_begin(o);
    } else if (el(n, NS_TEXT, "note") || el(n, NS_OFFICE, "annotation") ||
               el(n, NS_TEXT, "tracked-changes") || el(n, NS_TABLE, "covered-table-cell")) {
        return 1;
    }
    return 0;
}

static int odt_leave(void *vctx, xmlNode *n)
{
    office_t *o = vctx;
    if (el(n, NS_TEXT, "h") || el(n, NS_TEXT, "p"))
        return para_end(o);
    if (el(n, NS_TEXT, "list")) {
        o->list_depth--;
        return 0;
    }
    if (el(n, NS_TABLE, "table-cell"))
        return cell_end(o);
    if (el(n, NS_TABLE, "table-row"))
        return row_end(o);
    if (el(n, NS_TABLE, "table-header-rows") && o->table_depth == 1 && o->in_header_rows > 0)
        o->in_header_rows--;
    if (el(n, NS_TABLE, "table"))
        return table_end(o);
    return 0;
}

/* ---- common driver ------------------------------------------------------- */

static int office_extract(hh_xb_t *b, const uint8_t *data, size_t len, const char *what,
                          const char *member, const char *meta,
                          int (*enter)(void *, xmlNode *), int (*leave)(void *, xmlNode *),
                          hh_err_t *err)
{
    office_t o = { .b = b, .err = err };
    char *buf = NULL;
    size_t blen = 0;
    xmlDocPtr doc = NULL;
    int rc = 0;
    zip_t *za = hh_x_zip_open(data, len);
    if (za == NULL)
        return hh_err_set(err, HH_EFORMAT, -1, "%s: not a readable zip archive", what);
    if ((rc = hh_x_zip_read(za, member, b->lim, &buf, &blen, err)) != 0) {
        if (rc == HH_ENOENT)
            rc = hh_err_set(err, HH_EFORMAT, -1, "%s: %s missing", what, member);
        goto cleanup;
    }
    if ((rc = hh_x_xml_parse(buf, blen, member, &doc, err)) != 0)
        goto cleanup;
    if ((rc = hh_x_zip_meta_title(b, za, meta)) != 0) {
        rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory");
        goto cleanup;
    }
    xmlNode *root = xmlDocGetRootElement(doc);
    if (root == NULL) {
        rc = hh_err_set(err, HH_EFORMAT, -1, "%s: %s has no root element", what, member);
        goto cleanup;
    }
    rc = hh_x_walk(root, b->lim->max_depth, &b->truncated, enter, leave, &o);
    if (rc > 0)
        rc = 0;
cleanup:
    if (doc != NULL)
        xmlFreeDoc(doc);
    free(buf);
    hh_xstr_free(&o.para);
    hh_xstr_free(&o.cell);
    hh_xt_reset(&o.table);
    if (za != NULL)
        zip_discard(za);
    return rc;
}

int hh_x_docx(hh_xb_t *b, const uint8_t *data, size_t len, hh_err_t *err)
{
    char part[256] = "word/document.xml";
    zip_t *za = hh_x_zip_open(data, len);
    if (za != NULL) {
        hh_x_ooxml_main(za, CT_DOCX, "word/document.xml", part, sizeof part);
        zip_discard(za);
    }
    return office_extract(b, data, len, "DOCX", part, "docProps/core.xml", docx_enter, docx_leave, err);
}

int hh_x_odt(hh_xb_t *b, const uint8_t *data, size_t len, hh_err_t *err)
{
    return office_extract(b, data, len, "ODT", "content.xml", "meta.xml", odt_enter, odt_leave, err);
}
