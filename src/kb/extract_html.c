/* extract_html.c - HTML through libxml2's forgiving HTML parser (no network,
 * errors recovered and silenced), walked without recursion: headings,
 * paragraphs, list items (depth = enclosing lists), table rows (cells joined
 * with " | "), pre as code, block quotes; script/style skipped; <title> is
 * the document title. Also the shared iterative tree walker. */
#include "kb/extract_int.h"

#include <libxml/HTMLparser.h>
#include <libxml/tree.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int hh_x_walk(xmlNode *root, uint32_t max_depth, bool *truncated,
              int (*enter)(void *ctx, xmlNode *n),
              int (*leave)(void *ctx, xmlNode *n), void *ctx)
{
    xmlNode *n = root;
    uint32_t depth = 0;
    while (n != NULL) {
        int r = enter(ctx, n);
        if (r < 0)
            return r;
        bool descend = r == 0 && n->type == XML_ELEMENT_NODE;
        if (descend && n->children != NULL) {
            if (depth + 1 <= max_depth) {
                n = n->children;
                depth++;
                continue;
            }
            *truncated = true;
        }
        if (descend && (r = leave(ctx, n)) < 0)
            return r;
        /* climb until a node with a next sibling; each parent left is an
         * element we descended into */
        for (;;) {
            if (n == root)
                return 0;
            if (n->next != NULL) {
                n = n->next;
                break;
            }
            n = n->parent;
            depth--;
            if ((r = leave(ctx, n)) < 0)
                return r;
        }
    }
    return 0;
}

/* ---- HTML ------------------------------------------------------------------ */

typedef struct html {
    hh_xb_t   *b;
    hh_err_t  *err;
    hh_xstr_t  text;       /* text since the last block boundary */
    int        in_row;     /* inside a row of the outermost table */
    int        table_depth;/* open <table> elements */
    int        active;     /* depth of the table whose rows are read (a table
                            * inside a cell is text of that cell) */
    int        in_thead;   /* open <thead> of the outermost table */
    int        row_th, row_td; /* header / data cells of the open row */
    hh_xt_t    table;      /* the outermost table's rows */
} html_t;

static bool name_is(const xmlNode *n, const char *name)
{
    return n->type == XML_ELEMENT_NODE && n->name != NULL && strcasecmp((const char *)n->name, name) == 0;
}

static bool name_in(const xmlNode *n, const char *const *names)
{
    for (; *names; names++)
        if (name_is(n, *names))
            return true;
    return false;
}

static const char *const SKIP[] = { "script", "style", "noscript", "template", "iframe", "object",
                                    "select", "button", "svg", "math", NULL };
static const char *const BLOCK[] = { "p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "li", "ul", "ol",
                                     "dl", "dt", "dd", "tr", "table", "thead", "tbody", "tfoot", "pre",
                                     "blockquote", "section", "article", "header", "footer", "nav",
                                     "aside", "main", "figure", "figcaption", "form", "address", "hr",
                                     "caption", "details", "summary", "fieldset", "center", "body",
                                     "html", "head", NULL };
static const char *const LISTS[] = { "ul", "ol", "dl", "menu", NULL };

static int heading_level(const xmlNode *n)
{
    if (n->type != XML_ELEMENT_NODE || n->name == NULL)
        return 0;
    const char *s = (const char *)n->name;
    if ((s[0] == 'h' || s[0] == 'H') && s[1] >= '1' && s[1] <= '6' && s[2] == '\0')
        return s[1] - '0';
    return 0;
}

/* The kind of text ending at a boundary inside ctx: from the nearest
 * enclosing heading, pre, row, list item or quote. */
static hh_block_kind_t context_kind(const xmlNode *ctx, int32_t *level)
{
    *level = 0;
    for (const xmlNode *a = ctx; a != NULL && a->type == XML_ELEMENT_NODE; a = a->parent) {
        int h = heading_level(a);
        if (h > 0) {
            *level = h;
            return HH_BLOCK_HEADING;
        }
        if (name_is(a, "pre"))
            return HH_BLOCK_CODE;
        if (name_is(a, "tr"))
            return HH_BLOCK_TABLE_ROW;
        if (name_is(a, "li") || name_is(a, "dt") || name_is(a, "dd")) {
            int32_t lv = 0;
            for (const xmlNode *p = a->parent; p != NULL && p->type == XML_ELEMENT_NODE; p = p->parent)
                if (name_in(p, LISTS))
                    lv++;
            *level = lv > 0 ? lv : 1;
            return HH_BLOCK_LIST_ITEM;
        }
        if (name_is(a, "blockquote"))
            return HH_BLOCK_QUOTE;
    }
    return HH_BLOCK_PARAGRAPH;
}

static int html_flush(html_t *h, const xmlNode *ctx)
{
    if (h->text.len == 0)
        return 0;
    int32_t level;
    hh_block_kind_t kind = context_kind(ctx, &level);
    int rc = hh_xb_add(h->b, kind, level, h->text.data, h->text.len, h->err);
    h->text.len = 0;
    return rc;
}

/* Inside a row no element ends a block: a <p> or a nested table in a cell
 * is part of the cell (the table builder takes the row). */
static bool is_boundary(const html_t *h, const xmlNode *n)
{
    return h->in_row == 0 && name_in(n, BLOCK);
}

static bool is_cell(const xmlNode *n)
{
    return name_is(n, "td") || name_is(n, "th");
}

static int html_enter(void *vctx, xmlNode *n)
{
    html_t *h = vctx;
    if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
        if (n->content != NULL && hh_xstr_append(&h->text, (const char *)n->content,
                                                 strlen((const char *)n->content)))
            return hh_err_set(h->err, HH_ENOMEM, -1, "out of memory");
        return 0;
    }
    if (n->type != XML_ELEMENT_NODE)
        return 1;
    if (name_in(n, SKIP))
        return 1;
    if (name_is(n, "title")) {
        xmlChar *t = xmlNodeGetContent(n);
        int rc = t ? hh_xb_title(h->b, (const char *)t, strlen((const char *)t)) : 0;
        xmlFree(t);
        return rc ? hh_err_set(h->err, HH_ENOMEM, -1, "out of memory") : 1;
    }
    if (name_is(n, "br")) {
        if (hh_xstr_putc(&h->text, '\n'))
            return hh_err_set(h->err, HH_ENOMEM, -1, "out of memory");
        return 1;
    }
    if (is_boundary(h, n)) {
        int rc = html_flush(h, n->parent);
        if (rc)
            return rc;
    }
    if (name_is(n, "table")) {
        /* libxml2 may put a table that follows another inside it (after
         * its rows): not in a cell, it is a table of its own */
        if (h->table_depth == 0 || !h->in_row) {
            int rc = h->table_depth > 0 ? hh_xt_end(&h->table, h->b, h->err) : 0;
            if (rc)
                return rc;
            h->active = h->table_depth + 1;
            h->in_thead = 0;
        }
        h->table_depth++;
    } else if (h->table_depth == h->active && name_is(n, "thead")) {
        h->in_thead++;
    } else if (h->table_depth == h->active && name_is(n, "tr")) {
        h->in_row = 1;
        h->row_th = h->row_td = 0;
    } else if (h->table_depth == h->active && h->in_row && is_cell(n)) {
        h->text.len = 0;                 /* white space between cells */
        if (name_is(n, "th"))
            h->row_th++;
        else
            h->row_td++;
    } else if (h->in_row && (name_is(n, "tr") || is_cell(n))) {
        /* a nested table's rows and cells inside a cell: separated text */
        if (hh_xstr_putc(&h->text, ' '))
            return hh_err_set(h->err, HH_ENOMEM, -1, "out of memory");
    }
    return 0;
}

static int html_leave(void *vctx, xmlNode *n)
{
    html_t *h = vctx;
    int rc = 0;
    if (h->table_depth == h->active && h->in_row && is_cell(n)) {
        rc = hh_xt_cell(&h->table, h->b, h->text.data ? h->text.data : "", h->text.len, h->err);
        h->text.len = 0;
    } else if (h->table_depth == h->active && name_is(n, "tr") && h->in_row) {
        h->in_row = 0;
        h->text.len = 0;                 /* text in a row outside any cell */
        rc = hh_xt_row_end(&h->table, h->b, h->in_thead > 0 || (h->row_th > 0 && h->row_td == 0), h->err);
    } else if (h->table_depth == h->active && name_is(n, "thead") && h->in_thead > 0) {
        h->in_thead--;
    } else if (name_is(n, "table") && h->table_depth > 0) {
        if (h->table_depth == h->active) {
            h->in_row = 0;
            rc = hh_xt_end(&h->table, h->b, h->err);
            h->active = h->table_depth - 1;   /* the enclosing table's later rows */
        }
        h->table_depth--;
    } else if (is_boundary(h, n)) {
        rc = html_flush(h, n);
    }
    return rc;
}

int hh_x_html(hh_xb_t *b, const uint8_t *data, size_t len, bool utf8, hh_err_t *err)
{
    html_t h = { .b = b, .err = err };
    char *clean = NULL;
    const char *src = (const char *)data;
    size_t src_len = len;
    const char *enc = "UTF-8";
    int rc = 0;
    htmlDocPtr doc = NULL;
    if (len > INT32_MAX)
        return hh_err_set(err, HH_ERANGE, -1, "HTML larger than 2 GiB");
    char cs[32];
    if (!utf8 && hh_x_html_charset(data, len, cs, sizeof cs)) {
        enc = NULL;
    } else {
        /* invalid UTF-8 becomes U+FFFD before the parser sees it */
        clean = hh_x_clean((const char *)data, len, false, &src_len);
        if (clean == NULL)
            return hh_err_set(err, HH_ENOMEM, -1, "out of memory");
        src = clean;
    }
    doc = htmlReadMemory(src, (int)src_len, NULL, enc,
                         HTML_PARSE_NONET | HTML_PARSE_RECOVER | HTML_PARSE_NOERROR |
                         HTML_PARSE_NOWARNING | HTML_PARSE_NOIMPLIED);
    if (doc == NULL) {
        rc = hh_err_set(err, HH_EFORMAT, -1, "HTML could not be parsed");
        goto cleanup;
    }
    for (xmlNode *top = doc->children; top != NULL; top = top->next) {
        if (top->type != XML_ELEMENT_NODE && top->type != XML_TEXT_NODE)
            continue;
        if ((rc = hh_x_walk(top, b->lim->max_depth, &b->truncated, html_enter, html_leave, &h)) < 0)
            goto cleanup;
        /* a table the walk did not close (truncated) still gives its rows */
        if (h.table_depth > 0 && (rc = hh_xt_end(&h.table, b, err)) < 0)
            goto cleanup;
        h.table_depth = h.in_row = h.in_thead = h.active = 0;
        if ((rc = html_flush(&h, NULL)) < 0)
            goto cleanup;
    }
    rc = 0;
cleanup:
    if (doc != NULL)
        xmlFreeDoc(doc);
    hh_xstr_free(&h.text);
    hh_xt_reset(&h.table);
    free(clean);
    return rc;
}
