/* extract_text.c - plain text (paragraphs at blank lines, pages at form
 * feeds for pdftotext output) and a small line-based Markdown parser:
 * ATX and setext headings, fenced and indented code, nested lists,
 * block quotes, pipe tables (one block per row), inline markup removed. */
#include "kb/extract_int.h"

#include <stdlib.h>
#include <string.h>

/* A line of input: [p, p + n) without the line end. */
typedef struct line {
    const char *p;
    size_t      n;
} line_t;

/* Next line from *pos; false at the end. A form feed also ends a line so
 * that pdftotext's page breaks are seen (*ff set). */
static bool next_line(const char *text, size_t len, size_t *pos, line_t *ln, bool *ff)
{
    if (*pos >= len)
        return false;
    size_t s = *pos, e = s;
    while (e < len && text[e] != '\n' && text[e] != '\f')
        e++;
    *ff = e < len && text[e] == '\f';
    *pos = e < len ? e + 1 : e;
    size_t n = e - s;
    if (n > 0 && text[s + n - 1] == '\r')
        n--;
    ln->p = text + s;
    ln->n = n;
    return true;
}

static bool is_blank(line_t ln)
{
    for (size_t i = 0; i < ln.n; i++)
        if (ln.p[i] != ' ' && ln.p[i] != '\t' && ln.p[i] != '\r' && ln.p[i] != '\v')
            return false;
    return true;
}

int hh_x_text_paragraphs(hh_xb_t *b, const char *text, size_t len, bool pages, hh_err_t *err)
{
    hh_xstr_t para = { 0 };
    size_t pos = 0;
    line_t ln;
    bool ff = false;
    int rc = 0;
    if (pages)
        b->page = 1;
    while (next_line(text, len, &pos, &ln, &ff)) {
        if (is_blank(ln)) {
            if ((rc = hh_xb_add(b, HH_BLOCK_PARAGRAPH, 0, para.data, para.len, err)) != 0)
                goto cleanup;
            para.len = 0;
        } else if (hh_xstr_append(&para, ln.p, ln.n) != 0 || hh_xstr_putc(&para, '\n') != 0) {
            rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory");
            goto cleanup;
        }
        if (ff) {
            if ((rc = hh_xb_add(b, HH_BLOCK_PARAGRAPH, 0, para.data, para.len, err)) != 0)
                goto cleanup;
            para.len = 0;
            if (pages)
                b->page++;
        }
    }
    rc = hh_xb_add(b, HH_BLOCK_PARAGRAPH, 0, para.data, para.len, err);
cleanup:
    hh_xstr_free(&para);
    return rc;
}

static size_t skip_bom(const uint8_t *data, size_t len)
{
    return len >= 3 && data[0] == 0xef && data[1] == 0xbb && data[2] == 0xbf ? 3 : 0;
}

int hh_x_text(hh_xb_t *b, const uint8_t *data, size_t len, hh_err_t *err)
{
    size_t o = skip_bom(data, len);
    return hh_x_text_paragraphs(b, (const char *)data + o, len - o, false, err);
}

/* ---- Markdown inline markup ---------------------------------------------- */

static bool is_punct(char c)
{
    return (c >= '!' && c <= '/') || (c >= ':' && c <= '@') || (c >= '[' && c <= '`') ||
           (c >= '{' && c <= '~');
}

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Finds the ')' closing a link destination starting after '(' at i. */
static size_t find_paren_close(const char *s, size_t n, size_t i)
{
    int depth = 1;
    for (; i < n; i++) {
        if (s[i] == '\\' && i + 1 < n) {
            i++;
            continue;
        }
        if (s[i] == '(')
            depth++;
        else if (s[i] == ')' && --depth == 0)
            return i;
    }
    return n;
}

/* Removes inline markup: backslash escapes, code spans (kept as text),
 * images (alt text), links (link text), autolinks, emphasis and
 * strike-through markers that open or close a span. */
static int md_inline(const char *s, size_t n, hh_xstr_t *out)
{
    for (size_t i = 0; i < n;) {
        char c = s[i];
        if (c == '\\' && i + 1 < n && is_punct(s[i + 1])) {
            if (hh_xstr_putc(out, s[i + 1]))
                return HH_ENOMEM;
            i += 2;
            continue;
        }
        if (c == '`') {
            size_t run = 0;
            while (i + run < n && s[i + run] == '`')
                run++;
            /* closing run of the same length */
            size_t j = i + run, close = n;
            while (j < n) {
                if (s[j] == '`') {
                    size_t r2 = 0;
                    while (j + r2 < n && s[j + r2] == '`')
                        r2++;
                    if (r2 == run) {
                        close = j;
                        break;
                    }
                    j += r2;
                } else {
                    j++;
                }
            }
            if (close < n) {
                if (hh_xstr_append(out, s + i + run, close - i - run))
                    return HH_ENOMEM;
                i = close + run;
            } else {
                if (hh_xstr_append(out, s + i, run))
                    return HH_ENOMEM;
                i += run;
            }
            continue;
        }
        if (c == '[' || (c == '!' && i + 1 < n && s[i + 1] == '[')) {
            size_t open = c == '!' ? i + 1 : i;
            size_t j = open + 1;
            int depth = 1;
            while (j < n && depth > 0) {
                if (s[j] == '\\' && j + 1 < n)
                    j++;
                else if (s[j] == '[')
                    depth++;
                else if (s[j] == ']')
                    depth--;
                j++;
            }
            /* [text](dest) or [text][ref]: keep text (itself with markup) */
            if (depth == 0 && j < n && (s[j] == '(' || s[j] == '[')) {
                size_t end;
                if (s[j] == '(') {
                    end = find_paren_close(s, n, j + 1);
                } else {
                    const char *rb = memchr(s + j, ']', n - j);
                    end = rb ? (size_t)(rb - s) : n;
                }
                if (end < n) {
                    int rc = md_inline(s + open + 1, j - 1 - (open + 1), out);
                    if (rc)
                        return rc;
                    i = end + 1;
                    continue;
                }
            }
        }
        if (c == '<') {
            size_t j = i + 1;
            while (j < n && s[j] != '>' && !is_ws(s[j]))
                j++;
            if (j < n && s[j] == '>' && (memmem(s + i, j - i, "://", 3) || memchr(s + i, '@', j - i))) {
                if (hh_xstr_append(out, s + i + 1, j - i - 1))
                    return HH_ENOMEM;
                i = j + 1;
                continue;
            }
        }
        if (c == '*' || c == '_' || (c == '~' && i + 1 < n && s[i + 1] == '~')) {
            size_t run = 0;
            while (i + run < n && s[i + run] == c)
                run++;
            char prev = i > 0 ? s[i - 1] : ' ';
            char next = i + run < n ? s[i + run] : ' ';
            bool left = !is_ws(next) && (is_ws(prev) || is_punct(prev));
            bool right = !is_ws(prev) && (is_ws(next) || is_punct(next));
            if (left || right) {
                i += run;
                continue;
            }
            if (hh_xstr_append(out, s + i, run))
                return HH_ENOMEM;
            i += run;
            continue;
        }
        if (hh_xstr_putc(out, c))
            return HH_ENOMEM;
        i++;
    }
    return 0;
}

/* ---- Markdown blocks ------------------------------------------------------ */

#define MD_MAX_LIST 16

typedef struct md {
    hh_xb_t        *b;
    hh_err_t       *err;
    hh_xstr_t       buf;        /* pending block text (raw markdown) */
    hh_block_kind_t kind;
    int32_t         level;
    bool            pending;
    size_t          list_indent[MD_MAX_LIST];
    int             list_n;     /* open list levels */
    bool            list_active;
    hh_xt_t         table;      /* the open pipe table's rows */
} md_t;

static int md_flush(md_t *m)
{
    if (!m->pending)
        return 0;
    m->pending = false;
    int rc;
    if (m->kind == HH_BLOCK_CODE) {
        rc = hh_xb_add(m->b, HH_BLOCK_CODE, 0, m->buf.data, m->buf.len, m->err);
    } else {
        hh_xstr_t t = { 0 };
        if (md_inline(m->buf.data ? m->buf.data : "", m->buf.len, &t) != 0) {
            hh_xstr_free(&t);
            return hh_err_set(m->err, HH_ENOMEM, -1, "out of memory");
        }
        rc = hh_xb_add(m->b, m->kind, m->level, t.data, t.len, m->err);
        hh_xstr_free(&t);
    }
    m->buf.len = 0;
    return rc;
}

static int md_start(md_t *m, hh_block_kind_t kind, int32_t level)
{
    int rc = md_flush(m);
    if (rc)
        return rc;
    m->kind = kind;
    m->level = level;
    m->pending = true;
    m->buf.len = 0;
    return 0;
}

static int md_add(md_t *m, const char *p, size_t n, char sep)
{
    if ((m->buf.len > 0 && hh_xstr_putc(&m->buf, sep)) || hh_xstr_append(&m->buf, p, n))
        return hh_err_set(m->err, HH_ENOMEM, -1, "out of memory");
    return 0;
}

/* Leading indentation in columns (tab = 4) and the byte offset after it. */
static size_t indent_of(line_t ln, size_t *off)
{
    size_t col = 0, i = 0;
    for (; i < ln.n && (ln.p[i] == ' ' || ln.p[i] == '\t'); i++)
        col = ln.p[i] == '\t' ? (col / 4 + 1) * 4 : col + 1;
    *off = i;
    return col;
}

/* A fence line: up to 3 spaces, then 3+ ` or ~. Returns the run length. */
static size_t fence_run(line_t ln, char *ch)
{
    size_t off, ind = indent_of(ln, &off);
    if (ind > 3 || off >= ln.n || (ln.p[off] != '`' && ln.p[off] != '~'))
        return 0;
    size_t r = 0;
    while (off + r < ln.n && ln.p[off + r] == ln.p[off])
        r++;
    if (r < 3)
        return 0;
    *ch = ln.p[off];
    return r;
}

/* Setext underline of '=' (1) or '-' (2), or 0. */
static int setext_level(line_t ln)
{
    size_t off, ind = indent_of(ln, &off);
    if (ind > 3 || off >= ln.n || (ln.p[off] != '=' && ln.p[off] != '-'))
        return 0;
    char c = ln.p[off];
    size_t i = off;
    while (i < ln.n && ln.p[i] == c)
        i++;
    while (i < ln.n && (ln.p[i] == ' ' || ln.p[i] == '\t'))
        i++;
    return i == ln.n ? (c == '=' ? 1 : 2) : 0;
}

static bool is_hrule(line_t ln)
{
    size_t off, ind = indent_of(ln, &off);
    if (ind > 3 || off >= ln.n)
        return false;
    char c = ln.p[off];
    if (c != '-' && c != '*' && c != '_')
        return false;
    size_t cnt = 0;
    for (size_t i = off; i < ln.n; i++) {
        if (ln.p[i] == c)
            cnt++;
        else if (ln.p[i] != ' ' && ln.p[i] != '\t')
            return false;
    }
    return cnt >= 3;
}

/* A list marker after the indentation: returns the offset of the item text,
 * or 0 when the line is no list item. */
static size_t list_marker(line_t ln, size_t off)
{
    if (off >= ln.n)
        return 0;
    size_t i = off;
    if (ln.p[i] == '-' || ln.p[i] == '*' || ln.p[i] == '+') {
        i++;
    } else {
        size_t d = 0;
        while (i < ln.n && ln.p[i] >= '0' && ln.p[i] <= '9' && d < 9) {
            i++;
            d++;
        }
        if (d == 0 || i >= ln.n || (ln.p[i] != '.' && ln.p[i] != ')'))
            return 0;
        i++;
    }
    if (i == ln.n)
        return i;
    if (ln.p[i] != ' ' && ln.p[i] != '\t')
        return 0;
    while (i < ln.n && (ln.p[i] == ' ' || ln.p[i] == '\t'))
        i++;
    return i;
}

/* A table delimiter row: cells of -, : and spaces between pipes. */
static bool is_table_delim(line_t ln)
{
    size_t dashes = 0;
    bool pipe = false;
    for (size_t i = 0; i < ln.n; i++) {
        char c = ln.p[i];
        if (c == '-')
            dashes++;
        else if (c == '|')
            pipe = true;
        else if (c != ':' && c != ' ' && c != '\t')
            return false;
    }
    return pipe && dashes >= 1;
}

/* One pipe-table line: its cells (inline markup removed) as a row of the
 * open table; header: the line above the delimiter row. */
static int md_table_row(md_t *m, line_t ln, bool header)
{
    size_t s = 0, e = ln.n;
    while (s < e && (ln.p[s] == ' ' || ln.p[s] == '\t'))
        s++;
    while (e > s && (ln.p[e - 1] == ' ' || ln.p[e - 1] == '\t'))
        e--;
    if (s < e && ln.p[s] == '|')
        s++;
    if (e > s && ln.p[e - 1] == '|' && !(e - 1 > s && ln.p[e - 2] == '\\'))
        e--;
    int rc = 0;
    size_t cs = s;
    for (size_t i = s; i <= e && rc == 0; i++) {
        if (i < e && ln.p[i] == '\\' && i + 1 < e) {
            i++;
            continue;
        }
        if (i == e || ln.p[i] == '|') {
            hh_xstr_t cell = { 0 };
            if (md_inline(ln.p + cs, i - cs, &cell) != 0)
                rc = hh_err_set(m->err, HH_ENOMEM, -1, "out of memory");
            else
                rc = hh_xt_cell(&m->table, m->b, cell.data ? cell.data : "", cell.len, m->err);
            hh_xstr_free(&cell);
            cs = i + 1;
        }
    }
    return rc ? rc : hh_xt_row_end(&m->table, m->b, header, m->err);
}

int hh_x_markdown(hh_xb_t *b, const uint8_t *data, size_t len, hh_err_t *err)
{
    size_t o = skip_bom(data, len);
    const char *text = (const char *)data + o;
    len -= o;
    md_t m = { .b = b, .err = err };
    size_t pos = 0;
    line_t ln;
    bool ff;
    int rc = 0;
    char fence_ch = 0;
    size_t fence_len = 0, fence_indent = 0;
    bool in_fence = false, in_icode = false, in_table = false;

    while (next_line(text, len, &pos, &ln, &ff)) {
        size_t off, ind = indent_of(ln, &off);
        if (in_fence) {
            char ch;
            size_t r = fence_run(ln, &ch);
            if (r >= fence_len && ch == fence_ch) {
                size_t k = off + r;
                while (k < ln.n && (ln.p[k] == ' ' || ln.p[k] == '\t'))
                    k++;
                if (k == ln.n) {
                    in_fence = false;
                    if ((rc = md_flush(&m)))
                        goto cleanup;
                    continue;
                }
            }
            size_t drop = 0;
            while (drop < fence_indent && drop < ln.n && ln.p[drop] == ' ')
                drop++;
            if ((rc = md_add(&m, ln.p + drop, ln.n - drop, '\n')))
                goto cleanup;
            continue;
        }
        if (in_icode) {
            if (is_blank(ln) || ind >= 4) {
                size_t drop = 0, col = 0;
                while (drop < ln.n && col < 4 && (ln.p[drop] == ' ' || ln.p[drop] == '\t')) {
                    col = ln.p[drop] == '\t' ? 4 : col + 1;
                    drop++;
                }
                if ((rc = md_add(&m, ln.p + drop, ln.n - drop, '\n')))
                    goto cleanup;
                continue;
            }
            in_icode = false;
            if ((rc = md_flush(&m)))
                goto cleanup;
        }
        if (is_blank(ln)) {
            if ((rc = md_flush(&m)))
                goto cleanup;
            if (in_table && (rc = hh_xt_end(&m.table, b, err)))
                goto cleanup;
            in_table = false;
            continue;
        }
        if (in_table) {
            if (memchr(ln.p, '|', ln.n) != NULL) {
                if ((rc = md_table_row(&m, ln, false)))
                    goto cleanup;
                continue;
            }
            in_table = false;
            if ((rc = hh_xt_end(&m.table, b, err)))
                goto cleanup;
        }
        char ch;
        size_t r = fence_run(ln, &ch);
        if (r > 0 && !(ch == '`' && memchr(ln.p + off + r, '`', ln.n - off - r))) {
            if ((rc = md_start(&m, HH_BLOCK_CODE, 0)))
                goto cleanup;
            in_fence = true;
            fence_ch = ch;
            fence_len = r;
            fence_indent = ind;
            continue;
        }
        /* ATX heading */
        if (ind <= 3) {
            size_t h = off;
            while (h < ln.n && ln.p[h] == '#')
                h++;
            size_t lv = h - off;
            if (lv >= 1 && lv <= 6 && (h == ln.n || ln.p[h] == ' ' || ln.p[h] == '\t')) {
                size_t e = ln.n;
                while (e > h && (ln.p[e - 1] == ' ' || ln.p[e - 1] == '\t'))
                    e--;
                size_t e2 = e;
                while (e2 > h && ln.p[e2 - 1] == '#')
                    e2--;
                if (e2 == h || ln.p[e2 - 1] == ' ' || ln.p[e2 - 1] == '\t')
                    e = e2;            /* closing #s */
                if ((rc = md_start(&m, HH_BLOCK_HEADING, (int32_t)lv)) ||
                    (rc = md_add(&m, ln.p + h, e - h, ' ')) || (rc = md_flush(&m)))
                    goto cleanup;
                m.list_active = false;
                m.list_n = 0;
                continue;
            }
        }
        /* setext underline below a paragraph */
        int sl = setext_level(ln);
        if (sl > 0 && m.pending && m.kind == HH_BLOCK_PARAGRAPH) {
            m.kind = HH_BLOCK_HEADING;
            m.level = sl;
            if ((rc = md_flush(&m)))
                goto cleanup;
            continue;
        }
        if (is_hrule(ln)) {
            if ((rc = md_flush(&m)))
                goto cleanup;
            m.list_active = false;
            m.list_n = 0;
            continue;
        }
        /* a table: this line has pipes and the next is a delimiter row */
        if (memchr(ln.p, '|', ln.n) != NULL && !(m.pending && m.kind == HH_BLOCK_LIST_ITEM)) {
            size_t p2 = pos;
            line_t nx;
            bool ff2;
            if (next_line(text, len, &p2, &nx, &ff2) && is_table_delim(nx)) {
                if ((rc = md_flush(&m)) || (rc = md_table_row(&m, ln, true)))
                    goto cleanup;
                pos = p2;
                in_table = true;
                continue;
            }
        }
        /* block quote */
        if (ind <= 3 && off < ln.n && ln.p[off] == '>') {
            size_t t = off + 1;
            if (t < ln.n && ln.p[t] == ' ')
                t++;
            if (!(m.pending && m.kind == HH_BLOCK_QUOTE) && (rc = md_start(&m, HH_BLOCK_QUOTE, 0)))
                goto cleanup;
            if ((rc = md_add(&m, ln.p + t, ln.n - t, '\n')))
                goto cleanup;
            m.list_active = false;
            m.list_n = 0;
            continue;
        }
        /* list item */
        size_t it = list_marker(ln, off);
        if (it > 0 && !(ind >= 4 && !m.list_active)) {
            while (m.list_n > 0 && m.list_indent[m.list_n - 1] > ind)
                m.list_n--;
            if (m.list_n == 0 || ind > m.list_indent[m.list_n - 1]) {
                if (m.list_n < MD_MAX_LIST)
                    m.list_indent[m.list_n++] = ind;
                else
                    m.list_indent[m.list_n - 1] = ind;
            }
            m.list_active = true;
            if ((rc = md_start(&m, HH_BLOCK_LIST_ITEM, m.list_n)) ||
                (rc = md_add(&m, ln.p + it, ln.n - it, ' ')))
                goto cleanup;
            continue;
        }
        /* indented code (not inside a list, not continuing a paragraph) */
        if (ind >= 4 && !m.pending && !m.list_active) {
            if ((rc = md_start(&m, HH_BLOCK_CODE, 0)) ||
                (rc = md_add(&m, ln.p + off, ln.n - off, '\n')))
                goto cleanup;
            in_icode = true;
            continue;
        }
        /* text: continues the pending block, or starts a paragraph (or a
         * further paragraph of the last list item when indented) */
        if (!m.pending) {
            if (m.list_active && ind >= 2 && m.list_n > 0) {
                if ((rc = md_start(&m, HH_BLOCK_LIST_ITEM, m.list_n)))
                    goto cleanup;
            } else {
                m.list_active = false;
                m.list_n = 0;
                if ((rc = md_start(&m, HH_BLOCK_PARAGRAPH, 0)))
                    goto cleanup;
            }
        }
        if ((rc = md_add(&m, ln.p + off, ln.n - off, '\n')))
            goto cleanup;
    }
    rc = md_flush(&m);
    if (rc == 0 && in_table)
        rc = hh_xt_end(&m.table, b, err);
cleanup:
    hh_xstr_free(&m.buf);
    hh_xt_reset(&m.table);
    return rc;
}
