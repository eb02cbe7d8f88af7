/* extract_ooxml.c - spreadsheets and slides in Office Open XML zips.
 *
 * XLSX: xl/workbook.xml (or the part [Content_Types].xml names as the
 * workbook) names the sheets in their order; the workbook's relationships
 * (xl/_rels/workbook.xml.rels) give each sheet's part. Each
 * sheet becomes a level-1 heading with its name, then its rows through the
 * table builder (extract_table.c): the first row of two or more filled
 * cells is the header, and every further row carries it ("Reiseziel:
 * München | Hotel pro Nacht: 150"). Cells: shared strings
 * (xl/sharedStrings.xml, rich text runs joined, phonetic runs skipped),
 * inline strings, formula results as cached, booleans as TRUE/FALSE, numbers
 * as written in the file (no number formats applied). A cell naming a
 * shared string that does not exist is empty. Sheets and shared strings are
 * read with libxml2's streaming reader: a 200 MiB sheet costs no tree.
 *
 * PPTX: ppt/presentation.xml lists the slides in order (p:sldIdLst), the
 * presentation's relationships give their parts. Each slide's page is its
 * number; its title placeholder (title / ctrTitle) becomes a level-1
 * heading, the text frames' paragraphs become paragraphs in shape order,
 * tables go through the table builder (a:tblPr firstRow marks the header).
 * Speaker notes are not read. A slide list entry whose part is missing or
 * broken is skipped (the others are kept); no readable slide at all is
 * HH_EFORMAT.
 *
 * Every member goes through hh_x_zip_read (declared size and ratio checked
 * before inflating); XML is parsed without network, DTD or entities, at
 * most 256 deep (deeper fails with HH_ERANGE). */
#include "kb/extract_int.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlreader.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>

#define NS_SS   "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
#define NS_REL  "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
#define NS_PKG  "http://schemas.openxmlformats.org/package/2006/relationships"
#define NS_P    "http://schemas.openxmlformats.org/presentationml/2006/main"
#define NS_A    "http://schemas.openxmlformats.org/drawingml/2006/main"

/* Shared strings past this count fail (HH_ERANGE): the offsets alone would
 * take more memory than the text. */
#define MAX_SHARED_STRINGS (16u << 20)
/* Sheets and slides read at most. */
#define MAX_PARTS 10000

static bool is_el(const xmlNode *n, const char *ns, const char *name)
{
    return n->type == XML_ELEMENT_NODE && n->ns != NULL && n->ns->href != NULL &&
           strcmp((const char *)n->ns->href, ns) == 0 && strcmp((const char *)n->name, name) == 0;
}

/* ---- relationships ------------------------------------------------------- */

typedef struct rel {
    char *id, *target;       /* target resolved to a member name */
} rel_t;

typedef struct rels {
    rel_t *v;
    size_t n;
} rels_t;

static void rels_free(rels_t *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->v[i].id);
        free(r->v[i].target);
    }
    free(r->v);
    memset(r, 0, sizeof *r);
}

/* base ("xl/") + target, with a leading '/' meaning the zip root and "../"
 * climbing one folder; NULL when out of memory. */
static char *resolve(const char *base, const char *target)
{
    hh_xstr_t s = { 0 };
    if (target[0] == '/') {
        target++;
    } else if (hh_xstr_append(&s, base, strlen(base)) != 0) {
        return NULL;
    }
    while (strncmp(target, "../", 3) == 0) {
        target += 3;
        if (s.len > 0)
            s.len--;                            /* the trailing '/' */
        while (s.len > 0 && s.data[s.len - 1] != '/')
            s.len--;
    }
    if (hh_xstr_append(&s, target, strlen(target)) != 0) {
        hh_xstr_free(&s);
        return NULL;
    }
    return s.data;
}

/* The relationships of a part (rels member), targets resolved against
 * base. A missing member gives none (HH_ENOENT). */
static int read_rels(hh_xb_t *b, zip_t *za, const char *member, const char *base, rels_t *out, hh_err_t *err)
{
    memset(out, 0, sizeof *out);
    char *buf = NULL;
    size_t len = 0;
    xmlDocPtr doc = NULL;
    int rc = hh_x_zip_read(za, member, b->lim, &buf, &len, err);
    if (rc != 0)
        return rc;
    if ((rc = hh_x_xml_parse(buf, len, member, &doc, err)) != 0)
        goto done;
    xmlNode *root = xmlDocGetRootElement(doc);
    size_t cap = 0;
    for (xmlNode *n = root ? root->children : NULL; n != NULL && out->n < 4 * MAX_PARTS; n = n->next) {
        if (!is_el(n, NS_PKG, "Relationship"))
            continue;
        xmlChar *id = xmlGetProp(n, (const xmlChar *)"Id");
        xmlChar *tg = xmlGetProp(n, (const xmlChar *)"Target");
        xmlChar *mode = xmlGetProp(n, (const xmlChar *)"TargetMode");
        bool ok = id != NULL && tg != NULL && !(mode != NULL && strcmp((const char *)mode, "External") == 0);
        if (ok && out->n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            rel_t *v = realloc(out->v, nc * sizeof *v);
            if (v == NULL)
                ok = false, rc = HH_ENOMEM;
            else
                out->v = v, cap = nc;
        }
        if (ok) {
            rel_t *r = &out->v[out->n];
            r->id = strdup((const char *)id);
            r->target = resolve(base, (const char *)tg);
            if (r->id == NULL || r->target == NULL) {
                free(r->id);
                free(r->target);
                rc = HH_ENOMEM;
            } else {
                out->n++;
            }
        }
        xmlFree(id);
        xmlFree(tg);
        xmlFree(mode);
        if (rc != 0) {
            rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory");
            break;
        }
    }
done:
    if (doc != NULL)
        xmlFreeDoc(doc);
    free(buf);
    if (rc != 0)
        rels_free(out);
    return rc;
}

static const char *rel_target(const rels_t *r, const char *id)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->v[i].id, id) == 0)
            return r->v[i].target;
    return NULL;
}

#define CT_XLSX "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
#define CT_PPTX "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml"

/* "xl/workbook.xml" -> base "xl/", relationships "xl/_rels/workbook.xml.rels" */
static void part_names(const char *part, char *base, size_t bcap, char *rels, size_t rcap)
{
    const char *slash = strrchr(part, '/');
    size_t bl = slash ? (size_t)(slash - part) + 1 : 0;
    snprintf(base, bcap, "%.*s", (int)bl, part);
    snprintf(rels, rcap, "%s_rels/%s.rels", base, part + bl);
}

/* ---- streaming reader helpers ------------------------------------------- */

static xmlTextReaderPtr reader_open(const char *buf, size_t len, const char *name, hh_err_t *err)
{
    if (len > INT32_MAX) {
        hh_err_set(err, HH_ERANGE, -1, "%s larger than 2 GiB", name);
        return NULL;
    }
    xmlTextReaderPtr r = xmlReaderForMemory(buf, (int)len, name, NULL,
                                            XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (r == NULL)
        hh_err_set(err, HH_ENOMEM, -1, "out of memory");
    return r;
}

static int reader_error(const char *name, hh_err_t *err)
{
    const xmlError *e = xmlGetLastError();
    const char *msg = e && e->message ? e->message : "not well-formed";
    size_t ml = strlen(msg);
    while (ml > 0 && msg[ml - 1] == '\n')
        ml--;
    return hh_err_set(err, strstr(msg, "depth") ? HH_ERANGE : HH_EFORMAT, -1, "%s: malformed XML at line %d: %.*s",
                      name, e ? e->line : 0, (int)ml, msg);
}

static bool r_is(xmlTextReaderPtr r, const char *ns, const char *name)
{
    const xmlChar *u = xmlTextReaderConstNamespaceUri(r);
    const xmlChar *l = xmlTextReaderConstLocalName(r);
    return u != NULL && l != NULL && strcmp((const char *)u, ns) == 0 && strcmp((const char *)l, name) == 0;
}

/* ---- XLSX ------------------------------------------------------------------ */

typedef struct sst {
    hh_xstr_t text;      /* every string, NUL-separated */
    uint32_t *off;
    size_t    n, cap;
} sst_t;

static void sst_free(sst_t *s)
{
    hh_xstr_free(&s->text);
    free(s->off);
    memset(s, 0, sizeof *s);
}

static int sst_push(sst_t *s, const char *p, size_t n, hh_err_t *err)
{
    if (s->n >= MAX_SHARED_STRINGS)
        return hh_err_set(err, HH_ERANGE, -1, "xl/sharedStrings.xml: more than %u shared strings",
                          MAX_SHARED_STRINGS);
    if (s->text.len + n + 1 > UINT32_MAX)
        return hh_err_set(err, HH_ERANGE, -1, "xl/sharedStrings.xml: shared strings larger than 4 GiB");
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 256;
        uint32_t *o = realloc(s->off, nc * sizeof *o);
        if (o == NULL)
            return hh_err_set(err, HH_ENOMEM, -1, "out of memory");
        s->off = o;
        s->cap = nc;
    }
    s->off[s->n++] = (uint32_t)s->text.len;
    if (hh_xstr_append(&s->text, p, n) != 0 || hh_xstr_putc(&s->text, '\0') != 0)
        return hh_err_set(err, HH_ENOMEM, -1, "out of memory");
    return 0;
}

static const char *sst_get(const sst_t *s, const char *idx)
{
    char *end;
    unsigned long long i = strtoull(idx, &end, 10);
    if (end == idx || idx[0] == '-' || i >= s->n)
        return "";                              /* a missing string: empty */
    return s->text.data + s->off[i];
}

static int read_shared_strings(hh_xb_t *b, zip_t *za, sst_t *sst, hh_err_t *err)
{
    static const char member[] = "xl/sharedStrings.xml";
    char *buf = NULL;
    size_t len = 0;
    int rc = hh_x_zip_read(za, member, b->lim, &buf, &len, err);
    if (rc == HH_ENOENT) {
        if (err)
            hh_err_clear(err);
        return 0;                               /* a workbook of numbers only */
    }
    if (rc != 0)
        return rc;
    xmlTextReaderPtr r = reader_open(buf, len, member, err);
    if (r == NULL) {
        free(buf);
        return HH_ENOMEM;
    }
    hh_xstr_t cur = { 0 };
    bool in_si = false;
    int in_t = 0, in_rph = 0, ret;
    while ((ret = xmlTextReaderRead(r)) == 1) {
        int type = xmlTextReaderNodeType(r);
        if (type == XML_READER_TYPE_ELEMENT) {
            bool empty = xmlTextReaderIsEmptyElement(r) == 1;
            if (r_is(r, NS_SS, "si")) {
                cur.len = 0;
                in_si = !empty;
                if (empty && (rc = sst_push(sst, "", 0, err)) != 0)
                    break;
            } else if (r_is(r, NS_SS, "rPh") && !empty) {
                in_rph++;
            } else if (r_is(r, NS_SS, "t") && in_si && !empty) {
                in_t++;
            }
        } else if (type == XML_READER_TYPE_END_ELEMENT) {
            if (r_is(r, NS_SS, "si") && in_si) {
                in_si = false;
                if ((rc = sst_push(sst, cur.data ? cur.data : "", cur.len, err)) != 0)
                    break;
            } else if (r_is(r, NS_SS, "rPh") && in_rph > 0) {
                in_rph--;
            } else if (r_is(r, NS_SS, "t") && in_t > 0) {
                in_t--;
            }
        } else if ((type == XML_READER_TYPE_TEXT || type == XML_READER_TYPE_CDATA ||
                    type == XML_READER_TYPE_SIGNIFICANT_WHITESPACE) && in_t > 0 && in_rph == 0) {
            const xmlChar *v = xmlTextReaderConstValue(r);
            if (v != NULL && hh_xstr_append(&cur, (const char *)v, strlen((const char *)v)) != 0) {
                rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory");
                break;
            }
        }
    }
    if (rc == 0 && ret < 0)
        rc = reader_error(member, err);
    xmlFreeTextReader(r);
    hh_xstr_free(&cur);
    free(buf);
    return rc;
}

/* Column index of a cell reference ("C7" -> 2), or -1. */
static long ref_col(const char *ref)
{
    long col = 0;
    size_t k = 0;
    for (; ref[k] >= 'A' && ref[k] <= 'Z' && k < 4; k++)
        col = col * 26 + (ref[k] - 'A' + 1);
    return k == 0 || k == 4 ? -1 : col - 1;
}

typedef enum { CELL_NUM, CELL_SHARED, CELL_INLINE, CELL_STR, CELL_BOOL, CELL_ERR } cell_type_t;

static int read_sheet(hh_xb_t *b, zip_t *za, const char *member, const sst_t *sst, hh_err_t *err)
{
    char *buf = NULL;
    size_t len = 0;
    int rc = hh_x_zip_read(za, member, b->lim, &buf, &len, err);
    if (rc != 0)
        return rc;
    xmlTextReaderPtr r = reader_open(buf, len, member, err);
    if (r == NULL) {
        free(buf);
        return HH_ENOMEM;
    }
    hh_xt_t t = { 0 };
    hh_xstr_t val = { 0 };
    bool in_row = false, in_cell = false;
    int in_v = 0, in_is = 0, in_t = 0, in_rph = 0, ret;
    long col = -1;
    cell_type_t ct = CELL_NUM;
    while ((ret = xmlTextReaderRead(r)) == 1 && rc == 0) {
        int type = xmlTextReaderNodeType(r);
        if (type == XML_READER_TYPE_ELEMENT) {
            bool empty = xmlTextReaderIsEmptyElement(r) == 1;
            if (r_is(r, NS_SS, "row")) {
                in_row = !empty;
            } else if (r_is(r, NS_SS, "c") && in_row) {
                xmlChar *ref = xmlTextReaderGetAttribute(r, (const xmlChar *)"r");
                xmlChar *ty = xmlTextReaderGetAttribute(r, (const xmlChar *)"t");
                col = ref ? ref_col((const char *)ref) : (long)t.n;
                const char *ts = ty ? (const char *)ty : "n";
                ct = strcmp(ts, "s") == 0 ? CELL_SHARED : strcmp(ts, "inlineStr") == 0 ? CELL_INLINE
                   : strcmp(ts, "str") == 0 ? CELL_STR : strcmp(ts, "b") == 0 ? CELL_BOOL
                   : strcmp(ts, "e") == 0 ? CELL_ERR : CELL_NUM;
                xmlFree(ref);
                xmlFree(ty);
                val.len = 0;
                in_cell = !empty;
            } else if (in_cell && !empty && r_is(r, NS_SS, "v")) {
                in_v++;
            } else if (in_cell && !empty && r_is(r, NS_SS, "is")) {
                in_is++;
            } else if (in_is > 0 && !empty && r_is(r, NS_SS, "rPh")) {
                in_rph++;
            } else if (in_is > 0 && !empty && r_is(r, NS_SS, "t")) {
                in_t++;
            }
        } else if (type == XML_READER_TYPE_END_ELEMENT) {
            if (r_is(r, NS_SS, "c") && in_cell) {
                in_cell = false;
                in_v = in_is = in_t = in_rph = 0;
                if (val.data == NULL && hh_xstr_append(&val, "", 0) != 0) {
                    rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory");
                    break;
                }
                const char *text = val.data;
                if (ct == CELL_SHARED)
                    text = sst_get(sst, val.data);
                else if (ct == CELL_BOOL)
                    text = val.len == 0 ? "" : strcmp(val.data, "0") == 0 ? "FALSE" : "TRUE";
                if (col < 0 || col >= HH_XT_MAX_CELLS) {
                    b->truncated = b->truncated || col >= HH_XT_MAX_CELLS;
                    continue;
                }
                /* columns left out of the file are empty cells */
                while (rc == 0 && t.n < (size_t)col)
                    rc = hh_xt_cell(&t, b, "", 0, err);
                if (rc == 0)
                    rc = hh_xt_cell(&t, b, text, strlen(text), err);
            } else if (r_is(r, NS_SS, "row") && in_row) {
                in_row = false;
                rc = hh_xt_row_end(&t, b, true, err);
            } else if (r_is(r, NS_SS, "v") && in_v > 0) {
                in_v--;
            } else if (r_is(r, NS_SS, "is") && in_is > 0) {
                in_is--;
            } else if (r_is(r, NS_SS, "rPh") && in_rph > 0) {
                in_rph--;
            } else if (r_is(r, NS_SS, "t") && in_t > 0) {
                in_t--;
            }
        } else if (type == XML_READER_TYPE_TEXT || type == XML_READER_TYPE_CDATA ||
                   type == XML_READER_TYPE_SIGNIFICANT_WHITESPACE) {
            bool take = in_cell && ((in_v > 0 && ct != CELL_INLINE) || (in_t > 0 && in_rph == 0));
            const xmlChar *v = xmlTextReaderConstValue(r);
            if (take && v != NULL && hh_xstr_append(&val, (const char *)v, strlen((const char *)v)) != 0)
                rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory");
        }
    }
    if (rc == 0 && ret < 0)
        rc = reader_error(member, err);
    if (rc == 0)
        rc = hh_xt_end(&t, b, err);
    hh_xt_reset(&t);
    hh_xstr_free(&val);
    xmlFreeTextReader(r);
    free(buf);
    return rc;
}

int hh_x_xlsx(hh_xb_t *b, const uint8_t *data, size_t len, hh_err_t *err)
{
    zip_t *za = hh_x_zip_open(data, len);
    if (za == NULL)
        return hh_err_set(err, HH_EFORMAT, -1, "XLSX: not a readable zip archive");
    char *buf = NULL;
    size_t blen = 0;
    xmlDocPtr doc = NULL;
    rels_t rels = { 0 };
    sst_t sst = { 0 };
    int rc;
    char part[256], base[256], relname[600];
    b->no_heading_title = true;
    hh_x_ooxml_main(za, CT_XLSX, "xl/workbook.xml", part, sizeof part);
    part_names(part, base, sizeof base, relname, sizeof relname);
    if ((rc = hh_x_zip_read(za, part, b->lim, &buf, &blen, err)) != 0 ||
        (rc = hh_x_xml_parse(buf, blen, part, &doc, err)) != 0)
        goto cleanup;
    rc = read_rels(b, za, relname, base, &rels, err);
    if (rc == HH_ENOENT) {
        hh_err_clear(err);
        rc = 0;
    }
    if (rc != 0 || (rc = read_shared_strings(b, za, &sst, err)) != 0 ||
        (rc = hh_x_zip_meta_title(b, za, "docProps/core.xml")) != 0)
        goto cleanup;
    xmlNode *root = xmlDocGetRootElement(doc), *sheets = NULL;
    for (xmlNode *n = root ? root->children : NULL; n != NULL; n = n->next)
        if (is_el(n, NS_SS, "sheets"))
            sheets = n;
    size_t k = 0;
    for (xmlNode *n = sheets ? sheets->children : NULL; n != NULL && k < MAX_PARTS; n = n->next) {
        if (!is_el(n, NS_SS, "sheet"))
            continue;
        k++;
        xmlChar *name = xmlGetProp(n, (const xmlChar *)"name");
        xmlChar *rid = xmlGetNsProp(n, (const xmlChar *)"id", (const xmlChar *)NS_REL);
        char fallback[300];
        const char *sheet = rid ? rel_target(&rels, (const char *)rid) : NULL;
        if (sheet == NULL) {
            /* no relationship: the conventional part name */
            snprintf(fallback, sizeof fallback, "%sworksheets/sheet%zu.xml", base, k);
            sheet = fallback;
        }
        if (name != NULL)
            rc = hh_xb_add(b, HH_BLOCK_HEADING, 1, (const char *)name, strlen((const char *)name), err);
        if (rc == 0) {
            rc = read_sheet(b, za, sheet, &sst, err);
            if (rc == HH_ENOENT) {              /* a sheet without its part: skipped */
                b->truncated = true;
                hh_err_clear(err);
                rc = 0;
            }
        }
        xmlFree(name);
        xmlFree(rid);
        if (rc != 0)
            goto cleanup;
    }
    if (k == 0)
        rc = hh_err_set(err, HH_EFORMAT, -1, "XLSX: xl/workbook.xml names no sheet");
cleanup:
    sst_free(&sst);
    rels_free(&rels);
    if (doc != NULL)
        xmlFreeDoc(doc);
    free(buf);
    zip_discard(za);
    return rc;
}

/* ---- PPTX ------------------------------------------------------------------ */

typedef struct slide {
    hh_xb_t   *b;
    hh_err_t  *err;
    bool       titles;        /* this pass: title shapes only (else all others) */
    int        sp_depth;      /* open p:sp */
    bool       sp_title;      /* the open (outermost) shape is a title */
    hh_xstr_t  para, cell, title;
    int        in_p;
    int        tbl_depth, tr_depth, tc_depth;
    bool       first_row_header, row_is_first;
    hh_xt_t    table;
} slide_t;

/* The placeholder type of a shape: p:sp/p:nvSpPr/p:nvPr/p:ph@type. */
static bool shape_is_title(xmlNode *sp)
{
    for (xmlNode *a = sp->children; a != NULL; a = a->next) {
        if (!is_el(a, NS_P, "nvSpPr"))
            continue;
        for (xmlNode *c = a->children; c != NULL; c = c->next) {
            if (!is_el(c, NS_P, "nvPr"))
                continue;
            for (xmlNode *ph = c->children; ph != NULL; ph = ph->next) {
                if (!is_el(ph, NS_P, "ph"))
                    continue;
                xmlChar *t = xmlGetProp(ph, (const xmlChar *)"type");
                bool title = t != NULL && (strcmp((const char *)t, "title") == 0 ||
                                           strcmp((const char *)t, "ctrTitle") == 0);
                xmlFree(t);
                return title;
            }
        }
    }
    return false;
}

static int sl_put(slide_t *s, hh_xstr_t *x, const char *p, size_t n)
{
    if (hh_xstr_append(x, p, n) != 0)
        return hh_err_set(s->err, HH_ENOMEM, -1, "out of memory");
    return 0;
}

static int slide_enter(void *ctx, xmlNode *n)
{
    slide_t *s = ctx;
    if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
        if (s->in_p > 0 && n->content != NULL && n->parent != NULL && is_el(n->parent, NS_A, "t"))
            return sl_put(s, &s->para, (const char *)n->content, strlen((const char *)n->content));
        return 0;
    }
    if (n->type != XML_ELEMENT_NODE)
        return 1;
    if (is_el(n, NS_P, "sp")) {
        if (s->sp_depth++ == 0)
            s->sp_title = shape_is_title(n);
        /* this pass reads only one kind of shape */
        if (s->sp_depth == 1 && s->sp_title != s->titles) {
            s->sp_depth--;
            return 1;
        }
    } else if (is_el(n, NS_P, "graphicFrame") || is_el(n, NS_P, "pic")) {
        if (s->titles)
            return 1;                           /* tables are no titles */
    } else if (is_el(n, NS_A, "p")) {
        if (s->in_p++ == 0)
            s->para.len = 0;
    } else if (is_el(n, NS_A, "br") && s->in_p > 0) {
        return sl_put(s, &s->para, "\n", 1);
    } else if (is_el(n, NS_A, "tbl")) {
        s->tbl_depth++;
        s->first_row_header = false;
        s->row_is_first = true;
    } else if (is_el(n, NS_A, "tblPr") && s->tbl_depth == 1) {
        xmlChar *v = xmlGetProp(n, (const xmlChar *)"firstRow");
        s->first_row_header = v != NULL && (strcmp((const char *)v, "1") == 0 || strcmp((const char *)v, "true") == 0);
        xmlFree(v);
    } else if (is_el(n, NS_A, "tr") && s->tbl_depth == 1) {
        s->tr_depth++;
    } else if (is_el(n, NS_A, "tc") && s->tbl_depth == 1 && s->tr_depth == 1) {
        if (s->tc_depth++ == 0)
            s->cell.len = 0;
    } else if (is_el(n, NS_A, "extLst")) {
        return 1;
    }
    return 0;
}

static int slide_leave(void *ctx, xmlNode *n)
{
    slide_t *s = ctx;
    int rc = 0;
    if (is_el(n, NS_P, "sp")) {
        if (--s->sp_depth == 0 && s->sp_title && s->title.len > 0) {
            rc = hh_xb_add(s->b, HH_BLOCK_HEADING, 1, s->title.data, s->title.len, s->err);
            s->title.len = 0;
        }
    } else if (is_el(n, NS_A, "p") && s->in_p > 0) {
        if (--s->in_p > 0)
            return 0;
        if (s->tc_depth > 0) {
            if ((s->cell.len == 0 || (rc = sl_put(s, &s->cell, " ", 1)) == 0) && s->para.len > 0)
                rc = sl_put(s, &s->cell, s->para.data, s->para.len);
        } else if (s->sp_title && s->sp_depth > 0) {
            if ((s->title.len == 0 || (rc = sl_put(s, &s->title, " ", 1)) == 0) && s->para.len > 0)
                rc = sl_put(s, &s->title, s->para.data, s->para.len);
        } else if (s->para.len > 0) {
            rc = hh_xb_add(s->b, HH_BLOCK_PARAGRAPH, 0, s->para.data, s->para.len, s->err);
        }
        s->para.len = 0;
    } else if (is_el(n, NS_A, "tc") && s->tbl_depth == 1 && s->tr_depth == 1 && s->tc_depth > 0) {
        if (--s->tc_depth == 0) {
            rc = hh_xt_cell(&s->table, s->b, s->cell.data ? s->cell.data : "", s->cell.len, s->err);
            s->cell.len = 0;
        }
    } else if (is_el(n, NS_A, "tr") && s->tbl_depth == 1 && s->tr_depth > 0) {
        s->tr_depth--;
        rc = hh_xt_row_end(&s->table, s->b, s->row_is_first && s->first_row_header, s->err);
        s->row_is_first = false;
    } else if (is_el(n, NS_A, "tbl") && s->tbl_depth > 0) {
        if (--s->tbl_depth == 0)
            rc = hh_xt_end(&s->table, s->b, s->err);
    }
    return rc;
}

/* One slide: titles first, then the other shapes in order. HH_ENOENT
 * (missing part) and HH_EFORMAT (broken XML) let the caller skip it. */
static int read_slide(hh_xb_t *b, zip_t *za, const char *member, hh_err_t *err)
{
    char *buf = NULL;
    size_t len = 0;
    xmlDocPtr doc = NULL;
    int rc = hh_x_zip_read(za, member, b->lim, &buf, &len, err);
    if (rc == 0)
        rc = hh_x_xml_parse(buf, len, member, &doc, err);
    if (rc != 0) {
        free(buf);
        return rc;
    }
    slide_t s = { .b = b, .err = err };
    xmlNode *root = xmlDocGetRootElement(doc);
    for (int pass = 0; pass < 2 && rc == 0 && root != NULL; pass++) {
        s.titles = pass == 0;
        s.sp_depth = s.in_p = s.tbl_depth = s.tr_depth = s.tc_depth = 0;
        rc = hh_x_walk(root, b->lim->max_depth, &b->truncated, slide_enter, slide_leave, &s);
        if (rc > 0)
            rc = 0;
        /* a table the walk cut short still gives its rows */
        if (rc == 0 && s.tbl_depth > 0)
            rc = hh_xt_end(&s.table, b, err);
    }
    hh_xt_reset(&s.table);
    hh_xstr_free(&s.para);
    hh_xstr_free(&s.cell);
    hh_xstr_free(&s.title);
    xmlFreeDoc(doc);
    free(buf);
    return rc;
}

int hh_x_pptx(hh_xb_t *b, const uint8_t *data, size_t len, hh_err_t *err)
{
    zip_t *za = hh_x_zip_open(data, len);
    if (za == NULL)
        return hh_err_set(err, HH_EFORMAT, -1, "PPTX: not a readable zip archive");
    char *buf = NULL;
    size_t blen = 0;
    xmlDocPtr doc = NULL;
    rels_t rels = { 0 };
    int rc;
    size_t listed = 0, read = 0;
    char part[256], base[256], relname[600];
    hh_x_ooxml_main(za, CT_PPTX, "ppt/presentation.xml", part, sizeof part);
    part_names(part, base, sizeof base, relname, sizeof relname);
    if ((rc = hh_x_zip_read(za, part, b->lim, &buf, &blen, err)) != 0 ||
        (rc = hh_x_xml_parse(buf, blen, part, &doc, err)) != 0)
        goto cleanup;
    rc = read_rels(b, za, relname, base, &rels, err);
    if (rc == HH_ENOENT) {
        hh_err_clear(err);
        rc = 0;
    }
    if (rc != 0 || (rc = hh_x_zip_meta_title(b, za, "docProps/core.xml")) != 0)
        goto cleanup;
    xmlNode *root = xmlDocGetRootElement(doc), *list = NULL;
    for (xmlNode *n = root ? root->children : NULL; n != NULL; n = n->next)
        if (is_el(n, NS_P, "sldIdLst"))
            list = n;
    for (xmlNode *n = list ? list->children : NULL; n != NULL && listed < MAX_PARTS; n = n->next) {
        if (!is_el(n, NS_P, "sldId"))
            continue;
        listed++;
        xmlChar *rid = xmlGetNsProp(n, (const xmlChar *)"id", (const xmlChar *)NS_REL);
        const char *slide = rid ? rel_target(&rels, (const char *)rid) : NULL;
        char fallback[300];
        if (slide == NULL) {
            snprintf(fallback, sizeof fallback, "%sslides/slide%zu.xml", base, listed);
            slide = fallback;
        }
        b->page = (int32_t)listed;
        hh_err_t e;
        hh_err_clear(&e);
        rc = read_slide(b, za, slide, &e);
        xmlFree(rid);
        if (rc == HH_ENOENT || rc == HH_EFORMAT) {
            /* a listed slide that is missing or broken: the others are kept
             * (blocks the broken one gave before failing stay too) */
            b->truncated = true;
            rc = 0;
            continue;
        }
        if (rc != 0) {
            if (err)
                *err = e;
            goto cleanup;
        }
        read++;
    }
    if (listed == 0)
        rc = hh_err_set(err, HH_EFORMAT, -1, "PPTX: ppt/presentation.xml lists no slides");
    else if (read == 0)
        rc = hh_err_set(err, HH_EFORMAT, -1, "PPTX: none of the %zu listed slides could be read", listed);
cleanup:
    b->page = 0;
    rels_free(&rels);
    if (doc != NULL)
        xmlFreeDoc(doc);
    free(buf);
    zip_discard(za);
    return rc;
}
