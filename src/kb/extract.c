/* extract.c - format detection, the document builder, and the sandbox:
 * extraction runs in a forked child under resource limits and sends the
 * document back over a pipe in a small length-prefixed binary format, which
 * the parent decodes with every size checked before it allocates.
 *
 * Wire format (little-endian host order; parent and child are one binary):
 *   "HHX1" i32 rc, then rc != 0: str message | rc == 0: doc
 *   doc  = str title, str mime, str name, str encoding, u32 n_blocks, block*, u32 n_children, doc*
 *   block= u32 kind, i32 level, i32 page, str text
 *   str  = u32 len (0xffffffff = NULL), len bytes */
#include "kb/extract_int.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

void hh_extract_default_limits(hh_extract_limits_t *lim)
{
    memset(lim, 0, sizeof *lim);
    lim->cpu_seconds      = 30;
    lim->wall_ms          = 60000;
    lim->mem_bytes        = 1ull << 30;
    lim->output_bytes     = 64ull << 20;
    lim->input_bytes      = 512ull << 20;
    lim->unpacked_bytes   = 256ull << 20;
    lim->max_ratio        = 200;
    lim->max_depth        = 256;
    lim->max_attach_depth = 4;
    lim->sandbox          = 1;
}

/* ---- strings and the builder -------------------------------------------- */

int hh_xstr_append(hh_xstr_t *s, const char *p, size_t n)
{
    if (n > SIZE_MAX / 2 - s->len - 1)     /* catch size_t overflow */
        return HH_ENOMEM;
    if (s->len + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 64;
        while (cap < s->len + n + 1)
            cap *= 2;
        char *d = realloc(s->data, cap);
        if (d == NULL)
            return HH_ENOMEM;
        s->data = d;
        s->cap = cap;
    }
    if (n > 0)
        memcpy(s->data + s->len, p, n);
    s->len += n;
    s->data[s->len] = '\0';
    return 0;
}

int hh_xstr_putc(hh_xstr_t *s, char c)
{
    return hh_xstr_append(s, &c, 1);
}

void hh_xstr_free(hh_xstr_t *s)
{
    free(s->data);
    memset(s, 0, sizeof *s);
}

/* Decodes one UTF-8 sequence at p (n bytes left). Returns its length and the
 * code point in *cp, or 0 when the bytes are not a valid, shortest-form
 * sequence of a scalar value. */
static size_t utf8_decode(const uint8_t *p, size_t n, uint32_t *cp)
{
    uint8_t c = p[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t need;
    uint32_t v, min;
    if (c >= 0xc2 && c <= 0xdf) { need = 2; v = c & 0x1f; min = 0x80; }
    else if (c >= 0xe0 && c <= 0xef) { need = 3; v = c & 0x0f; min = 0x800; }
    else if (c >= 0xf0 && c <= 0xf4) { need = 4; v = c & 0x07; min = 0x10000; }
    else return 0;
    if (n < need)
        return 0;
    for (size_t i = 1; i < need; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        v = (v << 6) | (p[i] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *cp = v;
    return need;
}

static bool is_space_cp(uint32_t cp)
{
    return cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' || cp == '\f' ||
           cp == '\v' || cp == 0xa0;
}

char *hh_x_clean(const char *text, size_t len, bool collapse, size_t *out_len)
{
    static const char repl[3] = { (char)0xef, (char)0xbf, (char)0xbd };
    const uint8_t *p = (const uint8_t *)text;
    hh_xstr_t s = { 0 };
    bool pending_space = false;
    if (hh_xstr_append(&s, "", 0) != 0)
        return NULL;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t n = utf8_decode(p + i, len - i, &cp);
        const char *emit = (const char *)p + i;
        size_t emit_len = n;
        if (n == 0 || cp == 0) {            /* invalid byte or NUL: U+FFFD */
            emit = repl;
            emit_len = 3;
            n = 1;
            cp = 0xfffd;
        } else if (!collapse && (cp == '\r' || cp == '\f' || cp == '\v')) {
            /* code keeps lines: CR LF and lone CR become LF */
            if (cp == '\r' && i + 1 < len && p[i + 1] == '\n')
                n = 2;
            emit = "\n";
            emit_len = 1;
            cp = '\n';
        } else if ((cp < 0x20 && cp != '\t' && cp != '\n') || cp == 0x7f ||
                   (cp >= 0x80 && cp < 0xa0)) {
            emit = " ";
            emit_len = 1;
            cp = ' ';
        }
        i += n;
        if (collapse && is_space_cp(cp)) {
            pending_space = s.len > 0;
            continue;
        }
        if (pending_space) {
            pending_space = false;
            if (hh_xstr_putc(&s, ' ') != 0)
                goto oom;
        }
        if (hh_xstr_append(&s, emit, emit_len) != 0)
            goto oom;
    }
    if (!collapse) {
        /* drop blank lines at the start and white space at the end */
        size_t start = 0, line = 0;
        while (start < s.len && (s.data[start] == ' ' || s.data[start] == '\t' ||
                                 s.data[start] == '\n')) {
            if (s.data[start] == '\n')
                line = start + 1;
            start++;
        }
        start = start < s.len ? line : s.len;
        size_t end = s.len;
        while (end > start && (s.data[end - 1] == ' ' || s.data[end - 1] == '\t' ||
                               s.data[end - 1] == '\n'))
            end--;
        memmove(s.data, s.data + start, end - start);
        s.len = end - start;
        s.data[s.len] = '\0';
    }
    *out_len = s.len;
    return s.data;
oom:
    hh_xstr_free(&s);
    return NULL;
}

int hh_xb_add(hh_xb_t *b, hh_block_kind_t kind, int32_t level,
              const char *text, size_t len, hh_err_t *err)
{
    size_t n;
    char *t = hh_x_clean(text, len, kind != HH_BLOCK_CODE, &n);
    if (t == NULL)
        return hh_err_set(err, HH_ENOMEM, -1, "out of memory");
    if (n == 0) {
        free(t);
        return 0;
    }
    /* 16 bytes of framing per block on the wire, counted here too */
    if (b->out_bytes + n + 16 > b->lim->output_bytes) {
        free(t);
        return hh_err_set(err, HH_ERANGE, -1, "extracted text larger than the output limit of %llu bytes",
                          (unsigned long long)b->lim->output_bytes);
    }
    hh_doc_t *d = b->doc;
    if (d->n_blocks == b->cap_blocks) {
        size_t cap = b->cap_blocks ? b->cap_blocks * 2 : 16;
        hh_block_t *nb = realloc(d->blocks, cap * sizeof *nb);
        if (nb == NULL) {
            free(t);
            return hh_err_set(err, HH_ENOMEM, -1, "out of memory");
        }
        d->blocks = nb;
        b->cap_blocks = cap;
    }
    hh_block_t *blk = &d->blocks[d->n_blocks++];
    blk->kind = kind;
    blk->level = level;
    blk->page = b->page;
    blk->text = t;
    blk->len = n;
    b->out_bytes += n + 16;
    return 0;
}

int hh_xb_title(hh_xb_t *b, const char *text, size_t len)
{
    if (b->doc->title != NULL || text == NULL)
        return 0;
    size_t n;
    char *t = hh_x_clean(text, len, true, &n);
    if (t == NULL)
        return HH_ENOMEM;
    if (n == 0) {
        free(t);
        return 0;
    }
    b->doc->title = t;
    return 0;
}

/* ---- detection ----------------------------------------------------------- */

static const char *name_ext(const char *name)
{
    if (name == NULL)
        return "";
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    const char *dot = strrchr(base, '.');
    return dot && dot != base ? dot + 1 : "";
}

static bool ci_find(const uint8_t *p, size_t n, const char *needle)
{
    size_t m = strlen(needle);
    for (size_t i = 0; i + m <= n; i++)
        if (strncasecmp((const char *)p + i, needle, m) == 0)
            return true;
    return false;
}

/* An RFC 5322 header block: every line up to the first blank line is a field
 * ("Name: value", name printable ASCII without colon) or a continuation, with
 * a From field and at least one other well-known field. */
static bool looks_like_mail(const uint8_t *p, size_t n)
{
    size_t i = 0, fields = 0;
    bool from = false, other = false;
    if (n >= 5 && memcmp(p, "From ", 5) == 0) {       /* mbox separator line */
        while (i < n && p[i] != '\n')
            i++;
        i++;
    }
    while (i < n) {
        size_t e = i;
        while (e < n && p[e] != '\n')
            e++;
        size_t le = e > i && p[e - 1] == '\r' ? e - 1 : e;
        if (le == i)
            break;                                     /* end of headers */
        if (p[i] == ' ' || p[i] == '\t') {
            if (fields == 0)
                return false;
        } else {
            size_t c = i;
            while (c < le && p[c] > 32 && p[c] < 127 && p[c] != ':')
                c++;
            if (c == i || c >= le || p[c] != ':')
                return false;
            size_t fl = c - i;
            const char *f = (const char *)p + i;
            if (fl == 4 && strncasecmp(f, "From", 4) == 0)
                from = true;
            else if ((fl == 7 && strncasecmp(f, "Subject", 7) == 0) ||
                     (fl == 4 && strncasecmp(f, "Date", 4) == 0) ||
                     (fl == 2 && strncasecmp(f, "To", 2) == 0) ||
                     (fl == 10 && strncasecmp(f, "Message-ID", 10) == 0) ||
                     (fl == 12 && strncasecmp(f, "MIME-Version", 12) == 0))
                other = true;
            fields++;
        }
        if (e >= n)
            break;
        i = e + 1;
        if (i > 64 * 1024)
            break;
    }
    return from && other && fields >= 2;
}

/* Text: no NUL, few control bytes, mostly valid UTF-8 (Latin-1 text passes
 * and gets U+FFFD for its accented letters). */
static bool looks_like_text(const uint8_t *p, size_t n)
{
    size_t m = n < 8192 ? n : 8192, ctrl = 0, bad = 0;
    for (size_t i = 0; i < m;) {
        uint32_t cp;
        size_t k = utf8_decode(p + i, m - i, &cp);
        if (k == 0) {
            /* a sequence cut by the 8 KiB window is not an error */
            if (m < n && m - i < 4 && p[i] >= 0xc2)
                break;
            bad++;
            i++;
            continue;
        }
        if (cp == 0)
            return false;
        if (cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r' && cp != '\f' && cp != 0x1b && cp != 0x08)
            ctrl++;
        i += k;
    }
    return ctrl * 20 <= m && bad * 4 <= m;
}

static bool looks_like_html(const uint8_t *p, size_t n)
{
    size_t i = 0;
    if (n >= 3 && p[0] == 0xef && p[1] == 0xbb && p[2] == 0xbf)
        i = 3;
    while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
        i++;
    if (i >= n || p[i] != '<')
        return false;
    size_t m = n - i < 4096 ? n - i : 4096;
    static const char *const tags[] = { "<!doctype html", "<html", "<head", "<body", "<title",
                                        "<p>", "<div", "<h1", "<h2", "<table", "<ul", "<meta" };
    for (size_t t = 0; t < sizeof tags / sizeof tags[0]; t++)
        if (ci_find(p + i, m, tags[t]))
            return true;
    return false;
}

/* Markdown by content: an ATX heading or a code fence at a line start. */
static bool looks_like_markdown(const uint8_t *p, size_t n)
{
    size_t m = n < 65536 ? n : 65536;
    for (size_t i = 0; i < m;) {
        size_t s = i;
        while (s < m && s - i < 3 && p[s] == ' ')
            s++;
        if (s + 3 <= m && (memcmp(p + s, "```", 3) == 0 || memcmp(p + s, "~~~", 3) == 0))
            return true;
        size_t h = s;
        while (h < m && p[h] == '#' && h - s < 7)
            h++;
        if (h > s && h - s <= 6 && h < m && p[h] == ' ')
            return true;
        while (i < m && p[i] != '\n')
            i++;
        i++;
    }
    return false;
}

bool hh_x_zip_mime(const char *mime)
{
    return mime != NULL && (strcmp(mime, HH_MIME_DOCX) == 0 || strcmp(mime, HH_MIME_ODT) == 0 ||
                            strcmp(mime, HH_MIME_XLSX) == 0 || strcmp(mime, HH_MIME_PPTX) == 0);
}

/* Delimited data by content: the first lines (up to 10, at least 3) all have
 * the same number (>= 1) of ';' or of tabs outside quotes, and the first
 * does not end in the delimiter (code: "int a;"); prose rarely keeps such a
 * count line after line. Comma-separated files need their
 * .csv name (prose is full of commas). */
static bool looks_like_csv(const uint8_t *p, size_t n)
{
    static const char delims[] = { ';', '\t' };   /* commas: prose has them too */
    size_t m = n < 65536 ? n : 65536;
    for (size_t d = 0; d < sizeof delims; d++) {
        size_t lines = 0, want = 0, cnt = 0;
        bool quoted = false, ok = true;
        for (size_t i = 0; i < m && lines < 10 && ok; i++) {
            if (p[i] == '"')
                quoted = !quoted;
            else if (!quoted && p[i] == (uint8_t)delims[d])
                cnt++;
            else if (!quoted && (p[i] == '\n' || i + 1 == m)) {
                if (lines == 0) {
                    /* "int a;" lines are code, not one field and an empty one */
                    size_t e = i;
                    while (e > 0 && (p[e - 1] == '\r' || p[e - 1] == ' '))
                        e--;
                    if (e > 0 && p[e - 1] == (uint8_t)delims[d])
                        break;
                    want = cnt;
                }
                ok = want >= 1 && cnt == want;
                lines++;
                cnt = 0;
            }
        }
        if (ok && lines >= 3)
            return true;
    }
    return false;
}

const char *hh_extract_detect(const void *data, size_t len, const char *name_hint)
{
    const uint8_t *p = data;
    if (p == NULL || len == 0)
        return NULL;
    if (len >= 2 && ((p[0] == 0xff && p[1] == 0xfe) || (p[0] == 0xfe && p[1] == 0xff))) {
        /* UTF-16 text: detected on its UTF-8 form */
        const uint8_t *t;
        size_t tl;
        uint8_t *owned = NULL;
        const char *enc, *mime = NULL;
        if (hh_x_decode_text(p, len, &t, &tl, &owned, &enc) == 0 && owned != NULL &&
            !(tl >= 2 && ((t[0] == 0xff && t[1] == 0xfe) || (t[0] == 0xfe && t[1] == 0xff))))
            mime = hh_extract_detect(t, tl, name_hint);
        free(owned);
        return mime;
    }
    size_t head = len < 1024 ? len : 1024;
    for (size_t i = 0; i + 5 <= head; i++)
        if (memcmp(p + i, "%PDF-", 5) == 0)
            return HH_MIME_PDF;
    if (len >= 4 && memcmp(p, "PK\x03\x04", 4) == 0)
        return hh_x_zip_kind(p, len);
    if (!looks_like_text(p, len))
        return NULL;
    if (looks_like_mail(p, len))
        return HH_MIME_EML;
    const char *ext = name_ext(name_hint);
    if (looks_like_html(p, len) ||
        ((strcasecmp(ext, "html") == 0 || strcasecmp(ext, "htm") == 0 || strcasecmp(ext, "xhtml") == 0) &&
         memchr(p, '<', len) != NULL))
        return HH_MIME_HTML;
    if (strcasecmp(ext, "md") == 0 || strcasecmp(ext, "markdown") == 0 ||
        strcasecmp(ext, "mdown") == 0 || strcasecmp(ext, "mkd") == 0)
        return HH_MIME_MD;
    if (strcasecmp(ext, "csv") == 0 || strcasecmp(ext, "tsv") == 0)
        return HH_MIME_CSV;
    if (strcasecmp(ext, "txt") == 0 || strcasecmp(ext, "text") == 0)
        return HH_MIME_TEXT;
    if (looks_like_markdown(p, len))
        return HH_MIME_MD;
    return looks_like_csv(p, len) ? HH_MIME_CSV : HH_MIME_TEXT;
}

/* Extensions that promise a binary container: text content under such a name
 * is a mislabeled or broken file, reported instead of indexed as text. */
static bool ext_is_binary_format(const char *ext)
{
    static const char *const exts[] = { "pdf", "docx", "odt", "doc", "xlsx", "pptx", "ods", "odp", "zip" };
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++)
        if (strcasecmp(ext, exts[i]) == 0)
            return true;
    return false;
}

/* ---- in-process dispatch ------------------------------------------------- */

static int set_name_title(hh_doc_t *d, const char *name)
{
    if (name == NULL || d->title != NULL)
        return 0;
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    const char *dot = strrchr(base, '.');
    size_t n = dot && dot != base ? (size_t)(dot - base) : strlen(base);
    size_t cl;
    char *t = hh_x_clean(base, n, true, &cl);
    if (t == NULL)
        return HH_ENOMEM;
    if (cl == 0) {
        free(t);
        return 0;
    }
    d->title = t;
    return 0;
}

int hh_x_extract_mem(const uint8_t *data, size_t len, const char *path, const char *name,
                     const hh_extract_limits_t *lim, uint32_t depth,
                     hh_doc_t *out, hh_err_t *err)
{
    memset(out, 0, sizeof *out);
    const char *shown = name ? name : "input";
    if (len == 0)
        return hh_err_set(err, HH_EUNSUPPORTED, -1, "%s: empty file", shown);
    if (len > lim->input_bytes)
        return hh_err_set(err, HH_ERANGE, -1, "%s: %zu bytes, larger than the input limit of %llu",
                          shown, len, (unsigned long long)lim->input_bytes);
    const char *mime = hh_extract_detect(data, len, name);
    /* Text formats are decoded to UTF-8 first (and detected again on the
     * decoded text: single-byte text with many umlauts fails the raw text
     * test); not an e-mail (its parts carry their own charsets) nor HTML
     * that declares a charset (libxml2 converts it). */
    const char *enc = NULL;
    uint8_t *decoded = NULL;
    char html_cs[32];
    bool zip_magic = len >= 4 && memcmp(data, "PK\x03\x04", 4) == 0;
    if ((mime == NULL && zip_magic) || (mime != NULL && (strcmp(mime, HH_MIME_PDF) == 0 ||
                                                         strcmp(mime, HH_MIME_EML) == 0 || hh_x_zip_mime(mime)))) {
        /* binary, or a format with its own encoding rules */
    } else if (mime != NULL && strcmp(mime, HH_MIME_HTML) == 0 &&
               hh_x_html_charset(data, len, html_cs, sizeof html_cs)) {
        enc = html_cs;
    } else {
        const uint8_t *t;
        size_t tl;
        if (hh_x_decode_text(data, len, &t, &tl, &decoded, &enc) != 0)
            return hh_err_set(err, HH_ENOMEM, -1, "%s: out of memory converting the text to UTF-8", shown);
        data = t;
        len = tl;
        mime = hh_extract_detect(data, len, name);
    }
    int rc;
    if (mime == NULL) {
        rc = hh_err_set(err, HH_EUNSUPPORTED, -1, "%s: content is of no supported format "
                        "(text, Markdown, CSV, HTML, PDF, DOCX, ODT, XLSX, PPTX, e-mail)", shown);
        goto fail;
    }
    const char *ext = name_ext(name);
    if (ext_is_binary_format(ext) &&
        (strcmp(mime, HH_MIME_TEXT) == 0 || strcmp(mime, HH_MIME_MD) == 0 ||
         strcmp(mime, HH_MIME_HTML) == 0 || strcmp(mime, HH_MIME_CSV) == 0)) {
        rc = hh_err_set(err, HH_EFORMAT, -1, "%s: named .%s but the content is %s, not a .%s file",
                        shown, ext, mime, ext);
        goto fail;
    }

    hh_xb_t b = { .doc = out, .lim = lim, .csv_delim = strcasecmp(ext, "tsv") == 0 ? '\t' : 0 };
    if (strcmp(mime, HH_MIME_PDF) == 0)
        rc = hh_x_pdf(&b, data, len, path, err);
    else if (strcmp(mime, HH_MIME_DOCX) == 0)
        rc = hh_x_docx(&b, data, len, err);
    else if (strcmp(mime, HH_MIME_ODT) == 0)
        rc = hh_x_odt(&b, data, len, err);
    else if (strcmp(mime, HH_MIME_XLSX) == 0)
        rc = hh_x_xlsx(&b, data, len, err);
    else if (strcmp(mime, HH_MIME_PPTX) == 0)
        rc = hh_x_pptx(&b, data, len, err);
    else if (strcmp(mime, HH_MIME_EML) == 0)
        rc = hh_x_mail(&b, data, len, depth, err);
    else if (strcmp(mime, HH_MIME_HTML) == 0)
        rc = hh_x_html(&b, data, len, decoded != NULL, err);
    else if (strcmp(mime, HH_MIME_MD) == 0)
        rc = hh_x_markdown(&b, data, len, err);
    else if (strcmp(mime, HH_MIME_CSV) == 0)
        rc = hh_x_csv(&b, data, len, err);
    else
        rc = hh_x_text(&b, data, len, err);
    if (rc != 0) {
        /* name the file in the extractor's message */
        if (err != NULL && strncmp(err->msg, shown, strlen(shown)) != 0) {
            char msg[sizeof err->msg];
            size_t cap = sizeof msg - 1, sl = strlen(shown), ml = strnlen(err->msg, cap);
            if (sl > cap / 2)
                sl = cap / 2;
            if (ml > cap - sl - 2)
                ml = cap - sl - 2;
            memcpy(msg, shown, sl);
            memcpy(msg + sl, ": ", 2);
            memcpy(msg + sl + 2, err->msg, ml);
            msg[sl + 2 + ml] = '\0';
            memcpy(err->msg, msg, sizeof msg);
        }
        goto fail;
    }
    /* title fallback: first heading, then the file name */
    for (size_t i = 0; i < out->n_blocks && out->title == NULL && !b.no_heading_title; i++)
        if (out->blocks[i].kind == HH_BLOCK_HEADING &&
            (rc = hh_xb_title(&b, out->blocks[i].text, out->blocks[i].len)) != 0)
            goto oom;
    if ((rc = set_name_title(out, name)) != 0)
        goto oom;
    if ((out->mime = strdup(mime)) == NULL)
        goto oom;
    if (enc != NULL && (out->encoding = strdup(enc)) == NULL)
        goto oom;
    if (name != NULL && depth > 0) {
        size_t nl;
        if ((out->name = hh_x_clean(name, strlen(name), true, &nl)) == NULL)
            goto oom;
    }
    free(decoded);
    return 0;
oom:
    rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory");
fail:
    free(decoded);
    hh_doc_clear(out);
    return rc;
}

static int read_whole_file(const char *path, uint64_t max, uint8_t **out, size_t *out_len, hh_err_t *err)
{
    *out = NULL;
    *out_len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return hh_err_set(err, errno == ENOENT ? HH_ENOENT : HH_EIO, -1, "%s: %s", path, strerror(errno));
    int rc = 0;
    uint8_t *buf = NULL;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = hh_err_set(err, HH_EIO, -1, "%s: not a regular file", path);
        goto cleanup;
    }
    if ((uint64_t)st.st_size > max) {
        rc = hh_err_set(err, HH_ERANGE, -1, "%s: %lld bytes, larger than the input limit of %llu",
                        path, (long long)st.st_size, (unsigned long long)max);
        goto cleanup;
    }
    size_t size = (size_t)st.st_size;
    buf = malloc(size + 1);
    if (buf == NULL) {
        rc = hh_err_set(err, HH_ENOMEM, -1, "%s: out of memory for %zu bytes", path, size);
        goto cleanup;
    }
    size_t got = 0;
    while (got < size) {
        ssize_t r = read(fd, buf + got, size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = hh_err_set(err, HH_EIO, -1, "%s: %s", path, strerror(errno));
            goto cleanup;
        }
        if (r == 0)
            break;                    /* shrank while reading: take what is there */
        got += (size_t)r;
    }
    buf[got] = 0;
    *out = buf;
    *out_len = got;
    buf = NULL;
cleanup:
    free(buf);
    close(fd);
    return rc;
}

/* ---- wire format --------------------------------------------------------- */

static int put_u32(hh_xstr_t *s, uint32_t v)
{
    return hh_xstr_append(s, (const char *)&v, 4);
}

static int put_str(hh_xstr_t *s, const char *p, size_t n)
{
    if (p == NULL)
        return put_u32(s, UINT32_MAX);
    if (n >= UINT32_MAX)
        return HH_ERANGE;
    int rc = put_u32(s, (uint32_t)n);
    return rc ? rc : hh_xstr_append(s, p, n);
}

static int put_doc(hh_xstr_t *s, const hh_doc_t *d)
{
    int rc;
    if ((rc = put_str(s, d->title, d->title ? strlen(d->title) : 0)) ||
        (rc = put_str(s, d->mime, d->mime ? strlen(d->mime) : 0)) ||
        (rc = put_str(s, d->name, d->name ? strlen(d->name) : 0)) ||
        (rc = put_str(s, d->encoding, d->encoding ? strlen(d->encoding) : 0)) ||
        (rc = put_u32(s, (uint32_t)d->n_blocks)))
        return rc;
    for (size_t i = 0; i < d->n_blocks; i++) {
        const hh_block_t *bl = &d->blocks[i];
        if ((rc = put_u32(s, (uint32_t)bl->kind)) || (rc = put_u32(s, (uint32_t)bl->level)) ||
            (rc = put_u32(s, (uint32_t)bl->page)) || (rc = put_str(s, bl->text, bl->len)))
            return rc;
    }
    if ((rc = put_u32(s, (uint32_t)d->n_children)))
        return rc;
    for (size_t i = 0; i < d->n_children; i++)
        if ((rc = put_doc(s, &d->children[i])))
            return rc;
    return 0;
}

typedef struct rd {
    const uint8_t *p, *end;
} rd_t;

static int get_u32(rd_t *r, uint32_t *v)
{
    if (r->end - r->p < 4)
        return HH_ETRUNC;
    memcpy(v, r->p, 4);
    r->p += 4;
    return 0;
}

/* A string: the length is checked against the bytes left before allocating. */
static int get_str(rd_t *r, char **out, size_t *out_len)
{
    uint32_t n;
    *out = NULL;
    if (get_u32(r, &n))
        return HH_ETRUNC;
    if (n == UINT32_MAX)
        return 0;
    if ((size_t)(r->end - r->p) < n)
        return HH_ETRUNC;
    char *s = malloc((size_t)n + 1);
    if (s == NULL)
        return HH_ENOMEM;
    memcpy(s, r->p, n);
    s[n] = '\0';
    r->p += n;
    *out = s;
    if (out_len)
        *out_len = n;
    return 0;
}

static int get_doc(rd_t *r, hh_doc_t *d, int depth)
{
    uint32_t n, v;
    int rc;
    if (depth > 64)
        return HH_EFORMAT;
    if ((rc = get_str(r, &d->title, NULL)) || (rc = get_str(r, &d->mime, NULL)) ||
        (rc = get_str(r, &d->name, NULL)) || (rc = get_str(r, &d->encoding, NULL)) ||
        (rc = get_u32(r, &n)))
        return rc;
    /* a block takes at least 16 bytes on the wire */
    if (n > (size_t)(r->end - r->p) / 16)
        return HH_ETRUNC;
    if (n > 0 && (d->blocks = calloc(n, sizeof *d->blocks)) == NULL)
        return HH_ENOMEM;
    for (uint32_t i = 0; i < n; i++) {
        hh_block_t *bl = &d->blocks[i];
        d->n_blocks = i + 1;
        if ((rc = get_u32(r, &v)))
            return rc;
        if (v > HH_BLOCK_QUOTE)
            return HH_EFORMAT;
        bl->kind = (hh_block_kind_t)v;
        if ((rc = get_u32(r, &v)))
            return rc;
        bl->level = (int32_t)v;
        if ((rc = get_u32(r, &v)))
            return rc;
        bl->page = (int32_t)v;
        if ((rc = get_str(r, &bl->text, &bl->len)))
            return rc;
        if (bl->text == NULL)
            return HH_EFORMAT;
    }
    if ((rc = get_u32(r, &n)))
        return rc;
    /* a child takes at least 24 bytes on the wire */
    if (n > (size_t)(r->end - r->p) / 24)
        return HH_ETRUNC;
    if (n > 0 && (d->children = calloc(n, sizeof *d->children)) == NULL)
        return HH_ENOMEM;
    for (uint32_t i = 0; i < n; i++) {
        d->n_children = i + 1;
        if ((rc = get_doc(r, &d->children[i], depth + 1)))
            return rc;
    }
    return 0;
}

/* ---- the sandbox --------------------------------------------------------- */

static int write_all(int fd, const void *p, size_t n)
{
    const uint8_t *q = p;
    while (n > 0) {
        ssize_t w = write(fd, q, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        q += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Bytes of address space the process holds now (the child inherits the
 * parent's mappings, e.g. a model; the memory limit is added on top). */
static uint64_t current_vm_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "re");
    unsigned long long pages = 0;
    if (f != NULL) {
        if (fscanf(f, "%llu", &pages) != 1)
            pages = 0;
        fclose(f);
    }
    return (uint64_t)pages * (uint64_t)sysconf(_SC_PAGESIZE);
}

static void child_limits(const hh_extract_limits_t *lim)
{
    struct rlimit rl;
    if (lim->cpu_seconds > 0) {
        rl.rlim_cur = lim->cpu_seconds;
        rl.rlim_max = (rlim_t)lim->cpu_seconds + 1;
        setrlimit(RLIMIT_CPU, &rl);
    }
    if (lim->mem_bytes > 0) {
        rl.rlim_cur = rl.rlim_max = current_vm_bytes() + lim->mem_bytes;
        setrlimit(RLIMIT_AS, &rl);
    }
    rl.rlim_cur = rl.rlim_max = 0;          /* the extractor writes no files */
    setrlimit(RLIMIT_FSIZE, &rl);
    rl.rlim_cur = rl.rlim_max = 64;
    setrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max = 0;
    setrlimit(RLIMIT_CORE, &rl);
}

/* The child: extract, serialize, write to fd 3, exit. Never returns. */
static void __attribute__((noreturn))
child_main(int wfd, const uint8_t *data, size_t len, const char *path, const char *name,
           const hh_extract_limits_t *lim, pid_t parent)
{
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(111);
    signal(SIGPIPE, SIG_DFL);
    signal(SIGXCPU, SIG_DFL);
    if (wfd != 3) {
        if (dup2(wfd, 3) < 0)
            _exit(112);
    }
    int nul = open("/dev/null", O_RDWR);
    if (nul >= 0 && nul != 0) {
        dup2(nul, 0);
    }
    /* The parent's other descriptors (sockets, the database) are not the
     * extractor's business. */
    if (close_range(4, ~0u, 0) != 0)
        for (int fd = 4; fd < 4096; fd++)
            close(fd);
    child_limits(lim);

    hh_err_t err;
    hh_err_clear(&err);
    hh_doc_t doc;
    memset(&doc, 0, sizeof doc);
    uint8_t *buf = NULL;
    int rc = 0;
    if (path != NULL)
        rc = read_whole_file(path, lim->input_bytes, &buf, &len, &err);
    if (rc == 0)
        rc = hh_x_extract_mem(path ? buf : data, len, path, name, lim, 0, &doc, &err);
    hh_xstr_t s = { 0 };
    int32_t wrc = rc;
    if (hh_xstr_append(&s, "HHX1", 4) != 0)
        _exit(113);
    if (rc == 0) {
        if (put_u32(&s, 0) || put_doc(&s, &doc))
            wrc = HH_ENOMEM;
    }
    if (wrc != 0) {
        s.len = 4;
        if (wrc == HH_ENOMEM && rc == 0)
            hh_err_set(&err, HH_ENOMEM, -1, "out of memory while sending the document");
        if (put_u32(&s, (uint32_t)wrc) || put_str(&s, err.msg, strlen(err.msg)))
            _exit(113);
    }
    if (write_all(3, s.data, s.len) != 0)
        _exit(114);
    _exit(0);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int run_sandboxed(const uint8_t *data, size_t len, const char *path, const char *name,
                         const hh_extract_limits_t *lim, hh_doc_t *out, hh_err_t *err)
{
    const char *shown = name ? name : (path ? path : "input");
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        return hh_err_set(err, HH_EIO, -1, "pipe: %s", strerror(errno));
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(fds[0]);
        close(fds[1]);
        return hh_err_set(err, HH_EIO, -1, "fork: %s", strerror(e));
    }
    if (pid == 0) {
        close(fds[0]);
        child_main(fds[1], data, len, path, name, lim, parent);
    }
    setpgid(pid, pid);               /* so a kill reaches pdftotext too */
    close(fds[1]);

    int rc = 0;
    bool killed_by_us = false, too_big = false;
    hh_xstr_t buf = { 0 };
    /* the wire adds framing to the text the limit counts; allow for it */
    uint64_t cap = lim->output_bytes + lim->output_bytes / 4 + 65536;
    int64_t deadline = now_ms() + (lim->wall_ms ? lim->wall_ms : 60000);
    char chunk[65536];
    for (;;) {
        int64_t left = deadline - now_ms();
        if (left <= 0) {
            killed_by_us = true;
            break;
        }
        struct pollfd pfd = { .fd = fds[0], .events = POLLIN };
        int pr = poll(&pfd, 1, (int)(left > 1000 ? 1000 : left));
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0)
            continue;
        ssize_t r = read(fds[0], chunk, sizeof chunk);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        if (buf.len + (uint64_t)r > cap) {
            too_big = true;
            break;
        }
        if (hh_xstr_append(&buf, chunk, (size_t)r) != 0) {
            too_big = true;
            break;
        }
    }
    close(fds[0]);
    int status = 0;
    if (killed_by_us || too_big) {
        kill(-pid, SIGKILL);
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    } else {
        /* EOF: the child is exiting; still bounded by the deadline */
        for (;;) {
            pid_t w = waitpid(pid, &status, WNOHANG);
            if (w == pid || (w < 0 && errno != EINTR))
                break;
            if (now_ms() >= deadline) {
                killed_by_us = true;
                kill(-pid, SIGKILL);
                waitpid(pid, &status, 0);
                break;
            }
            struct timespec ts = { 0, 2 * 1000 * 1000 };
            nanosleep(&ts, NULL);
        }
    }
    /* pdftotext and other grandchildren die with the group */
    kill(-pid, SIGKILL);

    if (killed_by_us) {
        rc = hh_err_set(err, HH_ERANGE, -1, "%s: extraction timed out after %.1f s",
                        shown, (lim->wall_ms ? lim->wall_ms : 60000) / 1000.0);
        goto cleanup;
    }
    if (too_big) {
        rc = hh_err_set(err, HH_ERANGE, -1, "%s: extracted document larger than the output limit of %llu bytes",
                        shown, (unsigned long long)lim->output_bytes);
        goto cleanup;
    }
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        if (sig == SIGXCPU || sig == SIGKILL)
            rc = hh_err_set(err, HH_ERANGE, -1, "%s: killed: CPU time limit of %u s exceeded (signal %d)",
                            shown, lim->cpu_seconds, sig);
        else if (sig == SIGABRT)
            /* glib (and ASan) abort when an allocation fails: in the child
             * that is almost always RLIMIT_AS */
            rc = hh_err_set(err, HH_ERANGE, -1, "%s: killed: extractor aborted (signal %d), "
                            "most likely at the memory limit of %llu bytes",
                            shown, sig, (unsigned long long)lim->mem_bytes);
        else if (sig == SIGXFSZ)
            rc = hh_err_set(err, HH_ERANGE, -1, "%s: killed: the extractor tried to write a file", shown);
        else
            rc = hh_err_set(err, HH_EFORMAT, -1, "%s: extractor crashed on this file (signal %d, %s)",
                            shown, sig, strsignal(sig));
        goto cleanup;
    }
    rd_t r = { (const uint8_t *)buf.data, (const uint8_t *)buf.data + buf.len };
    uint32_t crc = 0;
    if (buf.len < 8 || memcmp(buf.data, "HHX1", 4) != 0) {
        rc = hh_err_set(err, HH_EFORMAT, -1, "%s: extractor ended without a result (exit status %d)",
                        shown, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        goto cleanup;
    }
    r.p += 4;
    get_u32(&r, &crc);
    if ((int32_t)crc != 0) {
        char *msg = NULL;
        int code = (int32_t)crc;
        if (code > 0 || code < HH_ESTATE)
            code = HH_EFORMAT;
        if (get_str(&r, &msg, NULL) != 0 || msg == NULL) {
            rc = hh_err_set(err, code, -1, "%s: extraction failed", shown);
        } else if (code == HH_ENOMEM) {
            rc = hh_err_set(err, HH_ERANGE, -1, "%s: killed: memory limit of %llu bytes exceeded (%s)",
                            shown, (unsigned long long)lim->mem_bytes, msg);
        } else {
            rc = hh_err_set(err, code, -1, "%s", msg);
        }
        free(msg);
        goto cleanup;
    }
    int drc = get_doc(&r, out, 0);
    if (drc != 0 || r.p != r.end) {
        hh_doc_clear(out);
        rc = hh_err_set(err, HH_EFORMAT, -1, "%s: malformed result from the extractor", shown);
        goto cleanup;
    }
cleanup:
    hh_xstr_free(&buf);
    return rc;
}

int hh_extract_buffer(const void *data, size_t len, const char *name_hint,
                      const hh_extract_limits_t *lim, hh_doc_t *out, hh_err_t *err)
{
    hh_extract_limits_t def;
    if (out == NULL || (data == NULL && len > 0))
        return hh_err_set(err, HH_EINVAL, -1, "hh_extract_buffer: no data or no output");
    memset(out, 0, sizeof *out);
    if (lim == NULL) {
        hh_extract_default_limits(&def);
        lim = &def;
    }
    hh_err_clear(err);
    if (len == 0)
        return hh_err_set(err, HH_EUNSUPPORTED, -1, "%s: empty file", name_hint ? name_hint : "input");
    if (!lim->sandbox)
        return hh_x_extract_mem(data, len, NULL, name_hint, lim, 0, out, err);
    return run_sandboxed(data, len, NULL, name_hint, lim, out, err);
}

int hh_extract_file(const char *path, const hh_extract_limits_t *lim,
                    hh_doc_t *out, hh_err_t *err)
{
    return hh_extract_file_named(path, path, lim, out, err);
}

int hh_extract_file_named(const char *path, const char *name_hint, const hh_extract_limits_t *lim,
                          hh_doc_t *out, hh_err_t *err)
{
    hh_extract_limits_t def;
    if (out == NULL || path == NULL)
        return hh_err_set(err, HH_EINVAL, -1, "hh_extract_file: no path or no output");
    memset(out, 0, sizeof *out);
    if (lim == NULL) {
        hh_extract_default_limits(&def);
        lim = &def;
    }
    hh_err_clear(err);
    struct stat st;
    if (stat(path, &st) != 0)
        return hh_err_set(err, errno == ENOENT ? HH_ENOENT : HH_EIO, -1, "%s: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return hh_err_set(err, HH_EIO, -1, "%s: not a regular file", path);
    if (st.st_size == 0)
        return hh_err_set(err, HH_EUNSUPPORTED, -1, "%s: empty file", path);
    if (!lim->sandbox) {
        uint8_t *buf;
        size_t len;
        int rc = read_whole_file(path, lim->input_bytes, &buf, &len, err);
        if (rc != 0)
            return rc;
        rc = hh_x_extract_mem(buf, len, path, name_hint ? name_hint : path, lim, 0, out, err);
        free(buf);
        return rc;
    }
    return run_sandboxed(NULL, 0, path, name_hint ? name_hint : path, lim, out, err);
}
