/* extract_enc.c - the text encoding of a text file (plain text, Markdown,
 * CSV, HTML without a charset) and its conversion to UTF-8.
 *
 * Office PCs still write Windows-1252 (Notepad "ANSI", Excel's CSV export)
 * and ISO-8859-15; read as UTF-8 their umlauts turn into U+FFFD ("M\uFFFDller").
 * The decision, on the whole file:
 *   - a UTF-8 byte order mark: UTF-8 (the mark is dropped);
 *   - a UTF-16 byte order mark: UTF-16LE/BE, converted;
 *   - valid UTF-8 (ASCII included): UTF-8, nothing converted;
 *   - otherwise, when the file has valid multi-byte UTF-8 sequences, at
 *     least one for every four invalid bytes, it is UTF-8 with some broken
 *     bytes (they become U+FFFD later): in single-byte text a valid
 *     multi-byte sequence is an accident (an upper-case accented letter
 *     followed by a symbol), and converting real UTF-8 would garble every
 *     correct umlaut into "Ã¼";
 *   - else a single-byte code. Bytes 0x80-0x9F are printable characters in
 *     Windows-1252 only (C1 controls in ISO-8859-x, which never occur in
 *     text): any of them means Windows-1252. Without them the two differ
 *     only in 0xA4, 0xA6, 0xA8, 0xB4, 0xB8, 0xBC-0xBE; 0xA4 is the euro sign
 *     in ISO-8859-15 and the rarely written currency sign in 1252, so 0xA4
 *     means ISO-8859-15. Text in neither reading's distinct bytes is the
 *     same in both and is called Windows-1252. */
#include "kb/extract_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Windows-1252 0x80-0x9F; 0 = undefined there (becomes U+FFFD). */
static const uint16_t CP1252_80[32] = {
    0x20ac, 0,      0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021,
    0x02c6, 0x2030, 0x0160, 0x2039, 0x0152, 0,      0x017d, 0,
    0,      0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014,
    0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0,      0x017e, 0x0178,
};

static uint32_t iso885915(uint8_t c)
{
    switch (c) {
    case 0xa4: return 0x20ac;
    case 0xa6: return 0x0160;
    case 0xa8: return 0x0161;
    case 0xb4: return 0x017d;
    case 0xb8: return 0x017e;
    case 0xbc: return 0x0152;
    case 0xbd: return 0x0153;
    case 0xbe: return 0x0178;
    default:   return c;
    }
}

static size_t put_utf8(uint8_t *o, uint32_t cp)
{
    if (cp < 0x80) {
        o[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (uint8_t)(0xc0 | (cp >> 6));
        o[1] = (uint8_t)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (uint8_t)(0xe0 | (cp >> 12));
        o[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (uint8_t)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (uint8_t)(0xf0 | (cp >> 18));
    o[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (uint8_t)(0x80 | (cp & 0x3f));
    return 4;
}

/* Length of a valid UTF-8 sequence at p (shortest form, scalar value), or 0. */
static size_t utf8_len(const uint8_t *p, size_t n)
{
    uint8_t c = p[0];
    size_t need;
    uint32_t v, min;
    if (c < 0x80)
        return 1;
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
    return need;
}

static int decode_utf16(const uint8_t *p, size_t n, bool le, uint8_t **out, size_t *out_len)
{
    /* a unit gives at most 3 bytes, a surrogate pair (2 units) 4 */
    if (n / 2 > (SIZE_MAX - 8) / 3)
        return HH_ENOMEM;
    uint8_t *o = malloc(n / 2 * 3 + 8);
    if (o == NULL)
        return HH_ENOMEM;
    size_t w = 0;
    for (size_t i = 0; i + 1 < n; i += 2) {
        uint32_t u = le ? (uint32_t)(p[i] | p[i + 1] << 8) : (uint32_t)(p[i] << 8 | p[i + 1]);
        if (u >= 0xd800 && u <= 0xdbff && i + 3 < n) {
            uint32_t u2 = le ? (uint32_t)(p[i + 2] | p[i + 3] << 8) : (uint32_t)(p[i + 2] << 8 | p[i + 3]);
            if (u2 >= 0xdc00 && u2 <= 0xdfff) {
                w += put_utf8(o + w, 0x10000 + ((u - 0xd800) << 10) + (u2 - 0xdc00));
                i += 2;
                continue;
            }
        }
        if ((u >= 0xd800 && u <= 0xdfff) || u == 0)
            u = 0xfffd;                        /* lone surrogate, NUL */
        w += put_utf8(o + w, u);
    }
    if (n % 2)
        w += put_utf8(o + w, 0xfffd);          /* a cut last unit */
    o[w] = 0;
    *out = o;
    *out_len = w;
    return 0;
}

int hh_x_decode_text(const uint8_t *data, size_t len, const uint8_t **text, size_t *text_len,
                     uint8_t **owned, const char **enc)
{
    *owned = NULL;
    *text = data;
    *text_len = len;
    if (len >= 3 && data[0] == 0xef && data[1] == 0xbb && data[2] == 0xbf) {
        *text = data + 3;
        *text_len = len - 3;
        *enc = "utf-8";
        return 0;
    }
    if (len >= 2 && ((data[0] == 0xff && data[1] == 0xfe) || (data[0] == 0xfe && data[1] == 0xff))) {
        bool le = data[0] == 0xff;
        int rc = decode_utf16(data + 2, len - 2, le, owned, text_len);
        if (rc != 0)
            return rc;
        *text = *owned;
        *enc = le ? "utf-16le" : "utf-16be";
        return 0;
    }
    size_t valid_multi = 0, invalid = 0;
    bool c1 = false, a4 = false;
    for (size_t i = 0; i < len;) {
        size_t k = utf8_len(data + i, len - i);
        if (k == 0) {
            invalid++;
            c1 |= data[i] >= 0x80 && data[i] <= 0x9f;
            a4 |= data[i] == 0xa4;
            i++;
            continue;
        }
        if (k > 1)
            valid_multi++;
        i += k;
    }
    *enc = "utf-8";
    if (invalid == 0 || (valid_multi > 0 && valid_multi * 4 >= invalid))
        return 0;
    bool cp1252 = c1 || !a4;
    /* a byte >= 0x80 becomes at most 3 bytes (the euro sign, U+FFFD) */
    size_t high = 0;
    for (size_t i = 0; i < len; i++)
        high += data[i] >= 0x80;
    if (high > (SIZE_MAX - 1 - len) / 2)
        return HH_ENOMEM;
    uint8_t *o = malloc(len + 2 * high + 1);
    if (o == NULL)
        return HH_ENOMEM;
    size_t w = 0;
    for (size_t i = 0; i < len; i++) {
        uint8_t c = data[i];
        uint32_t cp;
        if (c < 0x80)
            cp = c;
        else if (cp1252)
            cp = c < 0xa0 ? (CP1252_80[c - 0x80] ? CP1252_80[c - 0x80] : 0xfffd) : c;
        else
            cp = c < 0xa0 ? 0xfffd : iso885915(c);
        w += put_utf8(o + w, cp);
    }
    o[w] = 0;
    *owned = o;
    *text = o;
    *text_len = w;
    *enc = cp1252 ? "windows-1252" : "iso-8859-15";
    return 0;
}

bool hh_x_html_charset(const uint8_t *data, size_t len, char *buf, size_t cap)
{
    size_t m = len < 4096 ? len : 4096;
    for (size_t i = 0; i + 8 <= m; i++) {
        if (strncasecmp((const char *)data + i, "charset=", 8) != 0)
            continue;
        size_t j = i + 8;
        while (j < m && (data[j] == '"' || data[j] == '\'' || data[j] == ' '))
            j++;
        size_t k = 0;
        while (j + k < m && k + 1 < cap &&
               ((data[j + k] >= 'a' && data[j + k] <= 'z') || (data[j + k] >= 'A' && data[j + k] <= 'Z') ||
                (data[j + k] >= '0' && data[j + k] <= '9') || data[j + k] == '-' || data[j + k] == '_' ||
                data[j + k] == '.' || data[j + k] == ':')) {
            char c = (char)data[j + k];
            buf[k++] = c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
        }
        buf[k] = '\0';
        if (k == 0 || strcmp(buf, "utf-8") == 0 || strcmp(buf, "utf8") == 0)
            return false;
        return true;
    }
    return false;
}
