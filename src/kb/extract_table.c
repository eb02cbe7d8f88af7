/* extract_table.c - tables kept as rows with their header, and CSV.
 *
 * Every format's table reader (HTML, Markdown, DOCX, ODT, CSV, XLSX) hands
 * its rows cell by cell to one table builder, which emits each data row as
 * an HH_BLOCK_TABLE_ROW whose cells carry their column's header:
 *   "Reiseziel: München | Hotel pro Nacht: 150 EUR"
 * so a row retrieved alone still says what its numbers are. The header is
 * the row the format marks as one (<th>/<thead>, Markdown's row above the
 * delimiter, w:tblHeader, table:table-header-rows, a CSV's first record);
 * without a mark, the first row of a table of two or more rows when it looks
 * like one (at least two cells, all filled, short, none a bare number).
 * A table of one row, or a header without data rows, is emitted as a plain
 * row. A row with only one filled cell before any header (a sheet's title
 * line) is a paragraph. Empty rows are dropped. Cells past HH_XT_MAX_CELLS
 * in a row are dropped (and b->truncated set): a 10^6-column line costs no
 * more than that.
 *
 * CSV (RFC 4180): the delimiter is sniffed from the first lines (',' ';'
 * or tab: the one whose count is the same on most lines; .tsv files use
 * tabs); fields may be quoted with '"' ("" is a quote; delimiters and line
 * breaks inside quotes are data); the first record is the header. A quote
 * that never closes is taken as a literal character from where it opened,
 * so a broken file still gives its rows. */
#include "kb/extract_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

void hh_xt_reset(hh_xt_t *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->cells[i]);
    for (size_t i = 0; i < t->n_header; i++)
        free(t->header[i]);
    for (size_t i = 0; i < t->n_first; i++)
        free(t->first[i]);
    free(t->cells);
    free(t->header);
    free(t->first);
    memset(t, 0, sizeof *t);
}

static void free_cells(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

int hh_xt_cell(hh_xt_t *t, hh_xb_t *b, const char *text, size_t len, hh_err_t *err)
{
    if (t->n >= HH_XT_MAX_CELLS) {
        b->truncated = true;
        return 0;
    }
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        char **v = realloc(t->cells, cap * sizeof *v);
        if (v == NULL)
            return hh_err_set(err, HH_ENOMEM, -1, "out of memory");
        t->cells = v;
        t->cap = cap;
    }
    size_t n;
    char *c = hh_x_clean(text ? text : "", text ? len : 0, true, &n);
    if (c == NULL)
        return hh_err_set(err, HH_ENOMEM, -1, "out of memory");
    t->cells[t->n++] = c;
    return 0;
}

static size_t filled(char *const *v, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += v[i][0] != '\0';
    return k;
}

/* A number, amount or date: digits with separators, signs, currency. */
static bool is_number(const char *s)
{
    bool digit = false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p >= '0' && *p <= '9')
            digit = true;
        else if (!strchr(" .,:;+-/%()'", *p) && *p != 0xe2 && *p != 0x82 && *p != 0xac && *p != '$')
            return false;
    }
    return digit;
}

static bool header_like(char *const *v, size_t n)
{
    if (n < 2 || filled(v, n) != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (strlen(v[i]) > 80 || is_number(v[i]))
            return false;
    return true;
}

/* Emits cells as one row; with a header, each filled cell as "Header: value". */
static int emit(hh_xb_t *b, char *const *v, size_t n, char *const *hdr, size_t n_hdr, hh_err_t *err)
{
    hh_xstr_t row = { 0 };
    int rc = 0;
    bool first = true;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (v[i][0] == '\0')
            continue;
        if (!first)
            rc = hh_xstr_append(&row, " | ", 3);
        first = false;
        if (rc == 0 && hdr != NULL && i < n_hdr && hdr[i][0] != '\0' && strcmp(hdr[i], v[i]) != 0) {
            rc = hh_xstr_append(&row, hdr[i], strlen(hdr[i]));
            if (rc == 0)
                rc = hh_xstr_append(&row, ": ", 2);
        }
        if (rc == 0)
            rc = hh_xstr_append(&row, v[i], strlen(v[i]));
    }
    if (rc != 0)
        rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory");
    else if (row.len > 0)
        rc = hh_xb_add(b, HH_BLOCK_TABLE_ROW, 0, row.data, row.len, err);
    hh_xstr_free(&row);
    return rc;
}

int hh_xt_row_end(hh_xt_t *t, hh_xb_t *b, bool is_header, hh_err_t *err)
{
    char **row = t->cells;
    size_t n = t->n;
    t->cells = NULL;
    t->n = t->cap = 0;
    int rc = 0;
    /* trailing empty cells say nothing */
    while (n > 0 && row[n - 1][0] == '\0')
        free(row[--n]);
    if (n == 0)
        goto done;
    if (!t->decided) {
        if (t->first == NULL && filled(row, n) == 1) {
            /* a title line above the table (or a one-column table: its
             * cells are paragraphs) */
            for (size_t i = 0; i < n; i++)
                if (row[i][0])
                    rc = hh_xb_add(b, HH_BLOCK_PARAGRAPH, 0, row[i], strlen(row[i]), err);
            goto done;
        }
        if (is_header) {
            t->header = row;
            t->n_header = n;
            t->decided = true;
            return 0;
        }
        if (t->first == NULL) {
            t->first = row;
            t->n_first = n;
            return 0;
        }
        t->decided = true;
        if (header_like(t->first, t->n_first)) {
            t->header = t->first;
            t->n_header = t->n_first;
        } else if ((rc = emit(b, t->first, t->n_first, NULL, 0, err)) != 0) {
            goto done;
        } else {
            free_cells(t->first, t->n_first);
        }
        t->first = NULL;
        t->n_first = 0;
    }
    rc = emit(b, row, n, t->header, t->n_header, err);
    if (rc == 0)
        t->data_rows++;
done:
    free_cells(row, n);
    return rc;
}

int hh_xt_end(hh_xt_t *t, hh_xb_t *b, hh_err_t *err)
{
    int rc = 0;
    /* cells of an unfinished row belong to no row */
    if (t->first != NULL)
        rc = emit(b, t->first, t->n_first, NULL, 0, err);
    else if (t->header != NULL && t->data_rows == 0)
        rc = emit(b, t->header, t->n_header, NULL, 0, err);
    hh_xt_reset(t);
    return rc;
}

/* ---- CSV ------------------------------------------------------------------ */

/* Count of delim outside quotes on each of the first lines; the delimiter
 * whose first-line count (>= 1) recurs on most lines wins. */
static char sniff_delim(const char *s, size_t n)
{
    static const char cand[] = { ';', '\t', ',' };
    char best = ',';
    long best_score = -1;
    size_t m = n < 65536 ? n : 65536;
    for (size_t c = 0; c < sizeof cand; c++) {
        size_t counts[10], lines = 0, cnt = 0;
        bool quoted = false;
        for (size_t i = 0; i <= m && lines < 10; i++) {
            if (i == m || (!quoted && (s[i] == '\n' || s[i] == '\r'))) {
                if (i < m && s[i] == '\r' && i + 1 < m && s[i + 1] == '\n')
                    i++;
                counts[lines++] = cnt;
                cnt = 0;
            } else if (s[i] == '"') {
                quoted = !quoted;
            } else if (!quoted && s[i] == cand[c]) {
                cnt++;
            }
        }
        if (lines == 0 || counts[0] == 0)
            continue;
        long same = 0;
        for (size_t l = 0; l < lines; l++)
            same += counts[l] == counts[0];
        long score = same * 100000 + (long)(counts[0] < 99999 ? counts[0] : 99999);
        if (score > best_score) {
            best_score = score;
            best = cand[c];
        }
    }
    return best;
}

int hh_x_csv_delim(hh_xb_t *b, const uint8_t *data, size_t len, char delim, hh_err_t *err)
{
    const char *s = (const char *)data;
    if (delim == 0)
        delim = sniff_delim(s, len);
    hh_xt_t t = { 0 };
    hh_xstr_t field = { 0 };
    int rc = 0;
    size_t i = 0;
    bool header = true;
    while (i < len && rc == 0) {
        /* one field */
        field.len = 0;
        size_t start = i;
        bool quoted = i < len && s[i] == '"';
        if (quoted) {
            size_t j = i + 1;
            bool closed = false;
            while (j < len) {
                const char *q = memchr(s + j, '"', len - j);
                if (q == NULL)
                    break;
                size_t k = (size_t)(q - s);
                if (hh_xstr_append(&field, s + j, k - j) != 0)
                    goto oom;
                if (k + 1 < len && s[k + 1] == '"') {
                    if (hh_xstr_putc(&field, '"') != 0)
                        goto oom;
                    j = k + 2;
                    continue;
                }
                j = k + 1;
                closed = true;
                break;
            }
            if (!closed) {
                /* never closed: the quote is a character, the field plain */
                quoted = false;
                field.len = 0;
                i = start;
            } else {
                i = j;
            }
        }
        /* unquoted part (or what follows a closing quote, kept leniently) */
        size_t e = i;
        while (e < len && s[e] != delim && s[e] != '\n' && s[e] != '\r')
            e++;
        if (hh_xstr_append(&field, s + i, e - i) != 0)
            goto oom;
        i = e;
        if ((rc = hh_xt_cell(&t, b, field.data ? field.data : "", field.len, err)) != 0)
            break;
        if (i < len && s[i] == delim) {
            i++;
            if (i == len && (rc = hh_xt_cell(&t, b, "", 0, err)) != 0)
                break;
            continue;
        }
        /* end of record */
        if (i < len && s[i] == '\r')
            i++;
        if (i < len && s[i] == '\n')
            i++;
        bool had_cells = filled(t.cells, t.n) > 0;
        if ((rc = hh_xt_row_end(&t, b, header && had_cells, err)) != 0)
            break;
        if (had_cells)
            header = false;
    }
    if (rc == 0 && t.n > 0)
        rc = hh_xt_row_end(&t, b, header, err);
    if (rc == 0)
        rc = hh_xt_end(&t, b, err);
    hh_xt_reset(&t);
    hh_xstr_free(&field);
    return rc;
oom:
    hh_xt_reset(&t);
    hh_xstr_free(&field);
    return hh_err_set(err, HH_ENOMEM, -1, "out of memory");
}

int hh_x_csv(hh_xb_t *b, const uint8_t *data, size_t len, hh_err_t *err)
{
    return hh_x_csv_delim(b, data, len, b->csv_delim, err);
}
