/* pii.c - personal-data detectors (e-mail, phone, IBAN, card, tax id,
 * pension insurance number, date of birth, listed names; German persons
 * found without a list, addresses and ID cards are in pii_de.c), overlap
 * resolution, redaction with placeholders or keyed pseudonyms, and the
 * exact-span evaluation over a labeled JSONL set. Each detector walks the
 * bytes once and looks a bounded distance ahead, so the whole scan is
 * linear in the text length (times the name count for names). */
#include "govern/pii.h"
#include "govern/pii_int.h"

#include <cjson/cJSON.h>
#include <sodium.h>
#include <utf8proc.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const g_kind_names[HH_PII_KIND_COUNT] = {
    "EMAIL", "PHONE", "IBAN", "CARD", "TAX_ID", "SSN", "DOB", "NAME", "ADDRESS", "ID_CARD",
};

/* Overlap priority: lower wins. Checksummed kinds are the most certain. */
static const int g_kind_prio[HH_PII_KIND_COUNT] = {
    [HH_PII_IBAN] = 0, [HH_PII_CARD] = 1, [HH_PII_SSN] = 2, [HH_PII_TAX_ID] = 3,
    [HH_PII_ID_CARD] = 4, [HH_PII_EMAIL] = 5, [HH_PII_DOB] = 6, [HH_PII_PHONE] = 7,
    [HH_PII_ADDRESS] = 8, [HH_PII_NAME] = 9,
};

void hh_pii_default_config(hh_pii_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->kinds = HH_PII_ALL_KINDS;
}

const char *hh_pii_kind_name(hh_pii_kind_t kind)
{
    if ((unsigned)kind >= HH_PII_KIND_COUNT)
        return "?";
    return g_kind_names[kind];
}

int hh_pii_kind_parse(const char *name, hh_pii_kind_t *kind)
{
    if (!name || !kind)
        return HH_EINVAL;
    for (int k = 0; k < HH_PII_KIND_COUNT; k++) {
        if (!strcasecmp(name, g_kind_names[k])) {
            *kind = (hh_pii_kind_t)k;
            return 0;
        }
    }
    return HH_EINVAL;
}

/* ---- character helpers ------------------------------------------------ */

static bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
static bool is_upper(unsigned char c) { return c >= 'A' && c <= 'Z'; }
static bool is_alpha(unsigned char c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; }
static bool is_alnum(unsigned char c) { return is_digit(c) || is_alpha(c); }

static bool is_word_cp(utf8proc_int32_t cp)
{
    if (cp == '_')
        return true;
    switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
        return true;
    default:
        return false;
    }
}

/* Is the character that starts at t[i] a letter, digit, mark or '_'?
 * Invalid UTF-8 counts as not a word character. */
bool hh_pii_word_at(const char *t, size_t len, size_t i)
{
    if (i >= len)
        return false;
    unsigned char c = (unsigned char)t[i];
    if (c < 0x80)
        return is_alnum(c) || c == '_';
    utf8proc_int32_t cp;
    size_t avail = len - i < 4 ? len - i : 4;
    utf8proc_ssize_t r = utf8proc_iterate((const utf8proc_uint8_t *)t + i, (utf8proc_ssize_t)avail, &cp);
    return r > 0 && is_word_cp(cp);
}

/* Is the character that ends just before t[i] a word character? */
bool hh_pii_word_before(const char *t, size_t len, size_t i)
{
    if (i == 0 || i > len)
        return false;
    unsigned char c = (unsigned char)t[i - 1];
    if (c < 0x80)
        return is_alnum(c) || c == '_';
    size_t s = i - 1;
    while (s > 0 && i - s < 4 && ((unsigned char)t[s] & 0xC0) == 0x80)
        s--;
    utf8proc_int32_t cp;
    utf8proc_ssize_t r = utf8proc_iterate((const utf8proc_uint8_t *)t + s, (utf8proc_ssize_t)(i - s), &cp);
    return r == (utf8proc_ssize_t)(i - s) && is_word_cp(cp);
}

/* Case-insensitive (ASCII) prefix test of word at t[i..len). */
static bool has_ci(const char *t, size_t len, size_t i, const char *word)
{
    size_t n = strlen(word);
    if (n > len - i)
        return false;
    for (size_t k = 0; k < n; k++) {
        unsigned char a = (unsigned char)t[i + k], b = (unsigned char)word[k];
        if (a >= 'A' && a <= 'Z')
            a = (unsigned char)(a | 0x20);
        if (a != b)
            return false;
    }
    return true;
}

/* Does one of words (lower case, NULL-terminated list) start a word
 * somewhere in t[from..to)? */
static bool context_in(const char *t, size_t len, size_t from, size_t to, const char *const *words)
{
    for (size_t i = from; i < to; i++) {
        if (!is_alpha((unsigned char)t[i]) || hh_pii_word_before(t, len, i))
            continue;
        for (const char *const *w = words; *w; w++)
            if (has_ci(t, len, i, *w))
                return true;
    }
    return false;
}

/* ---- span list -------------------------------------------------------- */

typedef hh_pii_span_list_t span_list_t;

int hh_pii_span_push(span_list_t *l, hh_pii_kind_t kind, size_t start, size_t end)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        if (cap > SIZE_MAX / sizeof *l->v)
            return HH_EOVERFLOW;
        hh_pii_span_t *v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return HH_ENOMEM;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = (hh_pii_span_t){ kind, start, end };
    return 0;
}

/* ---- e-mail ----------------------------------------------------------- */

static bool is_local_char(unsigned char c)
{
    return is_alnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-';
}

/* "icon@2x.png" is a file name, not an address. */
static bool is_file_ext(const char *e, size_t n)
{
    static const char *const ext[] = {
        "png", "jpg", "jpeg", "gif", "svg", "webp", "bmp", "pdf", "txt", "zip", "gz",
        "tar", "json", "xml", "html", "htm", "js", "css", "md", "csv", "log", "exe", "dll", NULL,
    };
    for (const char *const *x = ext; *x; x++)
        if (strlen(*x) == n && !strncasecmp(e, *x, n))
            return true;
    return false;
}

static int find_email(const char *t, size_t len, span_list_t *out)
{
    size_t floor = 0; /* nothing left of this is scanned again: linear */
    for (size_t a = 0; a < len; a++) {
        if (t[a] != '@')
            continue;
        size_t l = a;
        while (l > floor && is_local_char((unsigned char)t[l - 1]))
            l--;
        while (l < a && t[l] == '.')
            l++;
        floor = a + 1;
        if (l == a || t[a - 1] == '.')
            continue;
        size_t r = a + 1;
        while (r < len && (is_alnum((unsigned char)t[r]) || t[r] == '.' || t[r] == '-'))
            r++;
        while (r > a + 1 && (t[r - 1] == '.' || t[r - 1] == '-'))
            r--;
        /* labels non-empty, at least one dot, alphabetic TLD of 2+ */
        size_t last_dot = 0;
        bool ok = r > a + 1 && t[a + 1] != '.' && t[a + 1] != '-';
        for (size_t k = a + 1; ok && k < r; k++) {
            if (t[k] == '.') {
                if (t[k - 1] == '.')
                    ok = false;
                last_dot = k;
            }
        }
        if (!ok || last_dot == 0 || r - last_dot - 1 < 2)
            continue;
        for (size_t k = last_dot + 1; k < r && ok; k++)
            ok = is_alpha((unsigned char)t[k]);
        if (!ok || hh_pii_word_at(t, len, r) || is_file_ext(t + last_dot + 1, r - last_dot - 1))
            continue;
        int rc = hh_pii_span_push(out, HH_PII_EMAIL, l, r);
        if (rc)
            return rc;
        floor = r;
        a = r - 1;
    }
    return 0;
}

/* ---- phone ------------------------------------------------------------ */

static const char *const g_phone_ctx[] = {
    "tel", "phone", "fon", "fax", "mobil", "handy", "call", "ruf", "cell",
    "whatsapp", "durchwahl", "hotline", "erreichbar", "reach", "nummer:", NULL,
};
static const char *const g_phone_neg_ctx[] = {
    "bestell", "auftrag", "rechnung", "kunden", "order", "invoice", "ticket",
    "artikel", "vertrag", "referenz", "ref.", "ref:", "nr", "no.", "id:", "id ", "vorgang",
    "case", "aktenzeichen", "az", "plz", "serial", "seriennummer", "version", NULL,
};

/* A phone number that starts at t[i] ('+', "00", "0" or "(0"); on success
 * *end is one past its last digit. */
static bool phone_at(const char *t, size_t len, size_t i, size_t *end)
{
    size_t j = i;
    bool plus = t[j] == '+';
    if (plus)
        j++;
    int nd = 0, first_group = -1, slashes = 0, parens = 0;
    bool sep_seen = false;
    size_t last = j;
    if (j < len && t[j] == '(') {
        parens++;
        j++;
    }
    while (j < len) {
        unsigned char c = (unsigned char)t[j];
        if (is_digit(c)) {
            nd++;
            if (nd > 17)
                return false;
            j++;
            last = j;
            continue;
        }
        if (nd == 0)
            return false;
        /* a separator run between digit groups: at most 3 bytes of
         * " -/()", no two spaces, at most one '-' or '/' */
        size_t s = j;
        int spaces = 0, dash = 0;
        while (s < len && s - j < 4) {
            unsigned char d = (unsigned char)t[s];
            if (d == ' ') {
                if (s > j && t[s - 1] == ' ')
                    break;
                spaces++;
            } else if (d == '-' || d == '/') {
                dash++;
                if (d == '/')
                    slashes++;
            } else if (d == '(') {
                parens++;
            } else if (d == ')') {
                parens--;
            } else {
                break;
            }
            s++;
        }
        if (s == j || s - j > 3 || dash > 1 || s >= len || !is_digit((unsigned char)t[s]))
            break;
        if (first_group < 0)
            first_group = nd;
        sep_seen = true;
        j = s;
    }
    if (first_group < 0)
        first_group = nd;
    if (slashes > 1 || hh_pii_word_at(t, len, last))
        return false;
    /* "030 123.45" or "0171,5": the digits continue after a dot/comma */
    if (last + 1 < len && (t[last] == '.' || t[last] == ',') && is_digit((unsigned char)t[last + 1]))
        return false;
    bool ctx = context_in(t, len, i > 32 ? i - 32 : 0, i, g_phone_ctx);
    if (plus) {
        if (nd < 8 || nd > 15)
            return false;
    } else {
        size_t d0 = t[i] == '(' ? i + 1 : i;
        bool intl = d0 + 1 < len && t[d0 + 1] == '0';
        if (intl) {
            if (nd < 10 || nd > 17 || d0 + 2 >= len || t[d0 + 2] == '0')
                return false;
        } else {
            if (nd < 7 || nd > 12)
                return false;
            /* area code first: rules out 01/02/1990 and 05-12-90 */
            bool zero_paren = i + 3 < len && !memcmp(t + i, "(0)", 3); /* "(0)30 1234567" */
            if (sep_seen && first_group < 3 && !zero_paren)
                return false;
            if (!sep_seen && !ctx)
                return false;
        }
    }
    if (!ctx && context_in(t, len, i > 24 ? i - 24 : 0, i, g_phone_neg_ctx))
        return false;
    (void)parens;
    *end = last;
    return true;
}

/* Is the token of 1..4 alphanumerics ending at t[e] (exclusive) one with
 * a digit, i.e. the group before this one in "DE27 0070 7245"? */
static bool prev_token_has_digit(const char *t, size_t e)
{
    size_t s = e;
    bool digit = false;
    while (s > 0 && e - s < 5 && is_alnum((unsigned char)t[s - 1])) {
        digit |= is_digit((unsigned char)t[s - 1]);
        s--;
    }
    return s < e && e - s <= 4 && digit && (s == 0 || !is_alnum((unsigned char)t[s - 1]));
}

/* Is the '(' at t[i] closed within the next 7 bytes, as in "(030)"? */
static bool phone_has_close(const char *t, size_t len, size_t i)
{
    for (size_t k = i + 1; k < len && k < i + 8; k++)
        if (t[k] == ')')
            return true;
    return false;
}

static int find_phone(const char *t, size_t len, span_list_t *out)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)t[i];
        bool start = (c == '+' && i + 1 < len && is_digit((unsigned char)t[i + 1])) ||
                     (c == '(' && i + 1 < len && t[i + 1] == '0') || c == '0';
        if (!start || hh_pii_word_before(t, len, i))
            continue;
        if (i > 0) {
            unsigned char p = (unsigned char)t[i - 1];
            if (p == '+' || is_digit(p) || (p == '(' && phone_has_close(t, len, i - 1)))
                continue;
            /* the next group of a longer digit sequence (IBAN, card) */
            if (c != '+' && p == ' ' && prev_token_has_digit(t, i - 1))
                continue;
            /* part of a number like 3.05 or 12/0123 */
            if ((p == '.' || p == ',' || p == '/' || p == '-' || p == ':') && i > 1 &&
                is_digit((unsigned char)t[i - 2]))
                continue;
        }
        size_t end;
        if (c == '(' && !phone_has_close(t, len, i))
            continue; /* "(089 1234 5678)": the number starts after the '(' */
        if (phone_at(t, len, i, &end)) {
            int rc = hh_pii_span_push(out, HH_PII_PHONE, i, end);
            if (rc)
                return rc;
            i = end - 1;
        }
    }
    return 0;
}

/* ---- IBAN ------------------------------------------------------------- */

static const struct { char cc[3]; unsigned char len; } g_iban_len[] = {
    {"AD", 24}, {"AT", 20}, {"BE", 16}, {"BG", 22}, {"CH", 21}, {"CY", 28}, {"CZ", 24},
    {"DE", 22}, {"DK", 18}, {"EE", 20}, {"ES", 24}, {"FI", 18}, {"FO", 18}, {"FR", 27},
    {"GB", 22}, {"GI", 23}, {"GL", 18}, {"GR", 27}, {"HR", 21}, {"HU", 28}, {"IE", 22},
    {"IS", 26}, {"IT", 27}, {"LI", 21}, {"LT", 20}, {"LU", 20}, {"LV", 21}, {"MC", 27},
    {"MT", 31}, {"NL", 18}, {"NO", 15}, {"PL", 28}, {"PT", 25}, {"RO", 24}, {"SE", 24},
    {"SI", 19}, {"SK", 24}, {"SM", 27}, {"VA", 22},
};

static int iban_length(const char *cc)
{
    for (size_t k = 0; k < sizeof g_iban_len / sizeof g_iban_len[0]; k++)
        if (cc[0] == g_iban_len[k].cc[0] && cc[1] == g_iban_len[k].cc[1])
            return g_iban_len[k].len;
    return 0;
}

/* ISO 13616: the country code and check digits move to the end, letters
 * become 10..35, and the number mod 97 must be 1. */
static bool iban_checksum_ok(const char *s, int n)
{
    unsigned r = 0;
    for (int k = 0; k < n; k++) {
        unsigned char c = (unsigned char)s[(k + 4) % n];
        if (is_digit(c))
            r = (r * 10 + (unsigned)(c - '0')) % 97;
        else
            r = (r * 100 + (unsigned)(c - 'A' + 10)) % 97;
    }
    return r == 1;
}

static int find_iban(const char *t, size_t len, span_list_t *out)
{
    for (size_t i = 0; i + 4 <= len; i++) {
        if (!is_upper((unsigned char)t[i]) || !is_upper((unsigned char)t[i + 1]) ||
            !is_digit((unsigned char)t[i + 2]) || !is_digit((unsigned char)t[i + 3]) ||
            hh_pii_word_before(t, len, i))
            continue;
        int L = iban_length(t + i);
        if (!L)
            continue;
        char buf[34];
        int k = 0;
        size_t j = i;
        while (j < len && k < L) {
            unsigned char c = (unsigned char)t[j];
            if (is_upper(c) || is_digit(c)) {
                buf[k++] = (char)c;
                j++;
            } else if (c == ' ' && k % 4 == 0 && j + 1 < len && is_alnum((unsigned char)t[j + 1])) {
                j++; /* print format: groups of four */
            } else {
                break;
            }
        }
        if (k != L || hh_pii_word_at(t, len, j) || !iban_checksum_ok(buf, L))
            continue;
        int rc = hh_pii_span_push(out, HH_PII_IBAN, i, j);
        if (rc)
            return rc;
        i = j - 1;
    }
    return 0;
}

/* ---- card ------------------------------------------------------------- */

static bool luhn_ok(const unsigned char *d, int n)
{
    int sum = 0;
    for (int k = 0; k < n; k++) {
        int v = d[n - 1 - k];
        if (k & 1) {
            v *= 2;
            if (v > 9)
                v -= 9;
        }
        sum += v;
    }
    return sum % 10 == 0;
}

/* Issuer prefix and the lengths it uses. */
static bool card_prefix_ok(const unsigned char *d, int n)
{
    int p2 = d[0] * 10 + d[1], p3 = p2 * 10 + d[2], p4 = p3 * 10 + d[3];
    if (d[0] == 4)
        return n == 13 || n == 16 || n == 19;                    /* Visa */
    if ((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720))
        return n == 16;                                           /* Mastercard */
    if (p2 == 34 || p2 == 37)
        return n == 15;                                           /* Amex */
    if (p4 == 6011 || p2 == 65 || (p3 >= 644 && p3 <= 649))
        return n >= 16 && n <= 19;                                /* Discover */
    if (p2 == 36 || p2 == 38 || (p3 >= 300 && p3 <= 305))
        return n >= 14 && n <= 19;                                /* Diners */
    if (p4 >= 3528 && p4 <= 3589)
        return n >= 16 && n <= 19;                                /* JCB */
    if (p2 == 62)
        return n >= 16 && n <= 19;                                /* UnionPay */
    return false;
}

static int find_card(const char *t, size_t len, span_list_t *out)
{
    for (size_t i = 0; i < len; i++) {
        if (!is_digit((unsigned char)t[i]) || hh_pii_word_before(t, len, i))
            continue;
        /* starts a digit group: not preceded by "<digit><sep>" of a
         * longer run unless that run is tried from its own start too */
        unsigned char d[19];
        int n = 0;
        size_t j = i, best_end = 0;
        while (j < len && n < 19) {
            unsigned char c = (unsigned char)t[j];
            if (is_digit(c)) {
                d[n++] = (unsigned char)(c - '0');
                j++;
                if (n >= 13 && !is_digit((unsigned char)(j < len ? t[j] : 0)) && !hh_pii_word_at(t, len, j) &&
                    card_prefix_ok(d, n) && luhn_ok(d, n))
                    best_end = j;
            } else if ((c == ' ' || c == '-') && j + 1 < len && is_digit((unsigned char)t[j + 1])) {
                j++;
            } else {
                break;
            }
        }
        if (best_end) {
            int rc = hh_pii_span_push(out, HH_PII_CARD, i, best_end);
            if (rc)
                return rc;
            i = best_end - 1;
        } else {
            while (i + 1 < len && is_digit((unsigned char)t[i + 1]))
                i++; /* next try at the next group */
        }
    }
    return 0;
}

/* ---- German tax id ---------------------------------------------------- */

/* Steuer-IdNr: 11 digits, no leading 0; among the first ten exactly one
 * digit occurs twice or three times (three not in a row), the others at
 * most once; the eleventh is the ISO 7064 MOD 11,10 check digit. */
static bool tax_id_ok(const unsigned char *d)
{
    if (d[0] == 0)
        return false;
    int count[10] = { 0 };
    for (int k = 0; k < 10; k++)
        count[d[k]]++;
    int multi = 0, multi_digit = -1;
    for (int v = 0; v < 10; v++) {
        if (count[v] > 3)
            return false;
        if (count[v] >= 2) {
            multi++;
            multi_digit = v;
        }
    }
    if (multi != 1)
        return false;
    if (count[multi_digit] == 3)
        for (int k = 0; k + 2 < 10; k++)
            if (d[k] == multi_digit && d[k + 1] == multi_digit && d[k + 2] == multi_digit)
                return false;
    int product = 10;
    for (int k = 0; k < 10; k++) {
        int sum = (d[k] + product) % 10;
        if (sum == 0)
            sum = 10;
        product = (sum * 2) % 11;
    }
    int check = 11 - product;
    if (check == 10)
        check = 0;
    return check == d[10];
}

static int find_tax_id(const char *t, size_t len, span_list_t *out)
{
    /* plain 11 digits, or grouped 2-3-3-3 with single spaces */
    static const int groups[] = { 2, 3, 3, 3 };
    for (size_t i = 0; i < len; i++) {
        if (!is_digit((unsigned char)t[i]) || hh_pii_word_before(t, len, i))
            continue;
        unsigned char d[11];
        size_t j = i;
        int n = 0;
        while (j < len && n < 11 && is_digit((unsigned char)t[j]))
            d[n++] = (unsigned char)(t[j++] - '0');
        if (n == 2) {
            for (int g = 1; g < 4; g++) {
                if (j + 1 >= len || t[j] != ' ')
                    break;
                size_t s = j + 1;
                int m = 0;
                while (s < len && m < groups[g] && is_digit((unsigned char)t[s]))
                    d[n + m++] = (unsigned char)(t[s++] - '0');
                if (m != groups[g])
                    break;
                n += m;
                j = s;
            }
        }
        bool ok = n == 11 && !hh_pii_word_at(t, len, j) && tax_id_ok(d);
        /* the grouped form must not continue as a longer digit group */
        if (ok && j + 1 < len && (t[j] == ' ' || t[j] == '-') && is_digit((unsigned char)t[j + 1]))
            ok = false;
        if (ok) {
            int rc = hh_pii_span_push(out, HH_PII_TAX_ID, i, j);
            if (rc)
                return rc;
        }
        while (i + 1 < len && is_digit((unsigned char)t[i + 1]))
            i++;
    }
    return 0;
}

/* ---- German pension insurance number ---------------------------------- */

/* 2-digit area, DDMMYY, letter, 2-digit serial, check digit; the letter
 * becomes its alphabet position as two digits, and the twelve digits are
 * weighted 2,1,2,5,7,1,2,1,2,1,2,1, each product reduced to its digit sum;
 * the sum mod 10 is the check digit. */
static bool ssn_ok(const unsigned char *d8, int letter, const unsigned char *d3)
{
    static const int w[12] = { 2, 1, 2, 5, 7, 1, 2, 1, 2, 1, 2, 1 };
    int day = d8[2] * 10 + d8[3], month = d8[4] * 10 + d8[5];
    if (day < 1 || day > 31 || month < 1 || month > 12)
        return false;
    unsigned char v[12];
    memcpy(v, d8, 8);
    v[8] = (unsigned char)(letter / 10);
    v[9] = (unsigned char)(letter % 10);
    v[10] = d3[0];
    v[11] = d3[1];
    int sum = 0;
    for (int k = 0; k < 12; k++) {
        int p = v[k] * w[k];
        sum += p / 10 + p % 10;
    }
    return sum % 10 == d3[2];
}

/* Reads count digits at t[*j], after an optional single space when
 * space_ok; advances *j. */
static bool read_digits(const char *t, size_t len, size_t *j, int count, bool space_ok, unsigned char *d)
{
    size_t s = *j;
    if (space_ok && s < len && t[s] == ' ')
        s++;
    for (int k = 0; k < count; k++, s++) {
        if (s >= len || !is_digit((unsigned char)t[s]))
            return false;
        d[k] = (unsigned char)(t[s] - '0');
    }
    *j = s;
    return true;
}

static int find_ssn(const char *t, size_t len, span_list_t *out)
{
    for (size_t i = 0; i + 12 <= len; i++) {
        if (!is_digit((unsigned char)t[i]) || hh_pii_word_before(t, len, i))
            continue;
        unsigned char d8[8], d3[3];
        size_t j = i;
        if (!read_digits(t, len, &j, 2, false, d8) || !read_digits(t, len, &j, 6, true, d8 + 2))
            continue;
        if (j < len && t[j] == ' ')
            j++;
        if (j >= len || !is_upper((unsigned char)t[j]))
            continue;
        int letter = t[j] - 'A' + 1;
        j++;
        if (!read_digits(t, len, &j, 3, true, d3) || hh_pii_word_at(t, len, j) || !ssn_ok(d8, letter, d3))
            continue;
        int rc = hh_pii_span_push(out, HH_PII_SSN, i, j);
        if (rc)
            return rc;
        i = j - 1;
    }
    return 0;
}

/* ---- date of birth ---------------------------------------------------- */

static const char *const g_dob_ctx[] = {
    "geb.", "geb ", "geboren", "geburtsdatum", "geburtstag", "born", "dob", "d.o.b",
    "date of birth", "birth date", "birthdate", "birthday", NULL,
};

static const struct { const char *name; int month; } g_months[] = {
    {"januar", 1}, {"j\xc3\xa4nner", 1}, {"january", 1}, {"februar", 2}, {"february", 2},
    {"m\xc3\xa4rz", 3}, {"march", 3}, {"april", 4}, {"mai", 5}, {"may", 5}, {"juni", 6},
    {"june", 6}, {"juli", 7}, {"july", 7}, {"august", 8}, {"september", 9},
    {"oktober", 10}, {"october", 10}, {"november", 11}, {"dezember", 12}, {"december", 12},
    {"jan", 1}, {"feb", 2}, {"m\xc3\xa4r", 3}, {"mar", 3}, {"apr", 4}, {"jun", 6}, {"jul", 7},
    {"aug", 8}, {"sept", 9}, {"sep", 9}, {"okt", 10}, {"oct", 10}, {"nov", 11}, {"dez", 12},
    {"dec", 12},
};

/* A month name at t[*j] (full or abbreviated, optional '.'); its number or 0. */
static int month_at(const char *t, size_t len, size_t *j)
{
    for (size_t k = 0; k < sizeof g_months / sizeof g_months[0]; k++) {
        const char *m = g_months[k].name;
        size_t n = strlen(m);
        if (!has_ci(t, len, *j, m))
            continue;
        /* "März" arrives capitalized: has_ci folds only ASCII, so "M" ok */
        if (hh_pii_word_at(t, len, *j + n))
            continue;
        *j += n;
        if (*j < len && t[*j] == '.')
            (*j)++;
        return g_months[k].month;
    }
    return 0;
}

static int read_num(const char *t, size_t len, size_t *j, int min_d, int max_d)
{
    int v = 0, n = 0;
    while (*j < len && n < max_d && is_digit((unsigned char)t[*j])) {
        v = v * 10 + (t[*j] - '0');
        (*j)++;
        n++;
    }
    if (n < min_d || (*j < len && is_digit((unsigned char)t[*j])))
        return -1;
    return v;
}

static bool day_month_ok(int day, int month) { return day >= 1 && day <= 31 && month >= 1 && month <= 12; }
static bool year_ok(int y, int digits) { return digits == 2 || (y >= 1900 && y <= 2099); }

/* A date at t[i]: 12.03.1985, 12/03/85, 03/12/1985, 1985-03-12,
 * 12. März 1985, 12 March 1985, 12th of March 1985, March 12, 1985. */
static bool date_at(const char *t, size_t len, size_t i, size_t *end)
{
    size_t j = i;
    if (is_digit((unsigned char)t[i])) {
        size_t y0 = j;
        int a = read_num(t, len, &j, 1, 4);
        if (a < 0)
            return false;
        if (j - y0 == 4) { /* ISO */
            if (j >= len || t[j] != '-')
                return false;
            j++;
            int m = read_num(t, len, &j, 2, 2);
            if (m < 0 || j >= len || t[j] != '-')
                return false;
            j++;
            int d = read_num(t, len, &j, 2, 2);
            if (d < 0 || !day_month_ok(d, m) || !year_ok(a, 4) || hh_pii_word_at(t, len, j))
                return false;
            *end = j;
            return true;
        }
        if (j - y0 > 2 || j >= len)
            return false;
        char sep = t[j];
        if (sep == '.' || sep == '/' || sep == '-') {
            size_t k = j + 1;
            int b = read_num(t, len, &k, 1, 2);
            if (b >= 0 && k < len && t[k] == sep) {
                k++;
                size_t ys = k;
                int y = read_num(t, len, &k, 2, 4);
                int yd = (int)(k - ys);
                if (y >= 0 && yd != 3 && year_ok(y, yd) && !hh_pii_word_at(t, len, k) &&
                    (day_month_ok(a, b) || (sep == '/' && day_month_ok(b, a)))) {
                    *end = k;
                    return true;
                }
            }
        }
        /* day then month name */
        if (a < 1 || a > 31)
            return false;
        if (t[j] == '.')
            j++;
        else if (has_ci(t, len, j, "st") || has_ci(t, len, j, "nd") || has_ci(t, len, j, "rd") ||
                 has_ci(t, len, j, "th"))
            j += 2;
        if (j >= len || t[j] != ' ')
            return false;
        j++;
        if (has_ci(t, len, j, "of "))
            j += 3;
        if (!month_at(t, len, &j) || j >= len || t[j] != ' ')
            return false;
        j++;
        size_t ys = j;
        int y = read_num(t, len, &j, 4, 4);
        if (y < 0 || !year_ok(y, (int)(j - ys)) || hh_pii_word_at(t, len, j))
            return false;
        *end = j;
        return true;
    }
    if (!is_alpha((unsigned char)t[i]))
        return false;
    if (!month_at(t, len, &j) || j >= len || t[j] != ' ')
        return false;
    j++;
    int d = read_num(t, len, &j, 1, 2);
    if (d < 1 || d > 31)
        return false;
    if (has_ci(t, len, j, "st") || has_ci(t, len, j, "nd") || has_ci(t, len, j, "rd") || has_ci(t, len, j, "th"))
        j += 2;
    if (j < len && t[j] == ',')
        j++;
    if (j >= len || t[j] != ' ')
        return false;
    j++;
    size_t ys = j;
    int y = read_num(t, len, &j, 4, 4);
    if (y < 0 || !year_ok(y, (int)(j - ys)) || hh_pii_word_at(t, len, j))
        return false;
    *end = j;
    return true;
}

static int dob_before(const char *t, size_t len, size_t w, size_t done, span_list_t *out)
{
    size_t lo = w > 40 ? w - 40 : 0;
    if (lo < done)
        lo = done;
    for (size_t s = w; s-- > lo;) {
        size_t end;
        if (!is_alnum((unsigned char)t[s]) || hh_pii_word_before(t, len, s) || !date_at(t, len, s, &end) ||
            end > w || w - end > 24)
            continue;
        for (size_t k = end; k < w; k++)
            if (t[k] == '.' || t[k] == '!' || t[k] == '?' || t[k] == ';' || t[k] == '\n')
                return 0;
        return hh_pii_span_push(out, HH_PII_DOB, s, end);
    }
    return 0;
}

/* The first date that starts within 40 bytes after a context word, in
 * the same sentence (or, for "geboren"/"born", one just before it). */
static int find_dob(const char *t, size_t len, span_list_t *out)
{
    size_t done = 0;
    for (size_t i = 0; i < len; i++) {
        if (!is_alpha((unsigned char)t[i]) || hh_pii_word_before(t, len, i))
            continue;
        size_t wl = 0;
        for (const char *const *w = g_dob_ctx; *w; w++)
            if (has_ci(t, len, i, *w)) {
                wl = strlen(*w);
                break;
            }
        if (!wl)
            continue;
        /* "am 1. März 1978 geboren", "1978-03-01 born": the closest date
         * that ends within 24 bytes before the word, same sentence */
        if (has_ci(t, len, i, "geboren") || has_ci(t, len, i, "born")) {
            int rc = dob_before(t, len, i, done, out);
            if (rc)
                return rc;
        }
        size_t from = i + wl, to = from + 40 < len ? from + 40 : len;
        if (from < done)
            from = done;
        for (size_t s = from; s < to; s++) {
            size_t end;
            /* the date must be in the same sentence as the context word */
            if (s > from && (t[s] == '.' || t[s] == '!' || t[s] == '?' || t[s] == ';') &&
                (s + 1 >= len || t[s + 1] == ' ' || t[s + 1] == '\n'))
                break;
            if (t[s] == '\n')
                break;
            if (!is_alnum((unsigned char)t[s]) || hh_pii_word_before(t, len, s) || !date_at(t, len, s, &end))
                continue;
            int rc = hh_pii_span_push(out, HH_PII_DOB, s, end);
            if (rc)
                return rc;
            done = end;
            break;
        }
    }
    return 0;
}

/* ---- names ------------------------------------------------------------ */

static int find_names(const char *t, size_t len, const hh_pii_config_t *cfg, span_list_t *out)
{
    if (cfg->n_names == 0)
        return 0;
    /* names bucketed by first byte; next[] chains the bucket */
    size_t head[256];
    size_t *next = malloc(cfg->n_names * sizeof *next);
    size_t *nlen = malloc(cfg->n_names * sizeof *nlen);
    int rc = 0;
    if (!next || !nlen) {
        rc = HH_ENOMEM;
        goto cleanup;
    }
    for (size_t b = 0; b < 256; b++)
        head[b] = SIZE_MAX;
    for (size_t k = cfg->n_names; k-- > 0;) {
        const char *nm = cfg->names[k];
        if (!nm || !nm[0]) {
            rc = HH_EINVAL;
            goto cleanup;
        }
        nlen[k] = strlen(nm);
        unsigned char b = (unsigned char)nm[0];
        next[k] = head[b];
        head[b] = k;
    }
    for (size_t i = 0; i < len; i++) {
        size_t k = head[(unsigned char)t[i]];
        if (k == SIZE_MAX || hh_pii_word_before(t, len, i))
            continue;
        size_t best = 0;
        for (; k != SIZE_MAX; k = next[k]) {
            if (nlen[k] <= len - i && nlen[k] > best && !memcmp(t + i, cfg->names[k], nlen[k]) &&
                !hh_pii_word_at(t, len, i + nlen[k]))
                best = nlen[k];
        }
        if (best) {
            rc = hh_pii_span_push(out, HH_PII_NAME, i, i + best);
            if (rc)
                goto cleanup;
            i += best - 1;
        }
    }
cleanup:
    free(next);
    free(nlen);
    return rc;
}

/* ---- resolution ------------------------------------------------------- */

static int cmp_priority(const void *pa, const void *pb)
{
    const hh_pii_span_t *a = pa, *b = pb;
    if (g_kind_prio[a->kind] != g_kind_prio[b->kind])
        return g_kind_prio[a->kind] - g_kind_prio[b->kind];
    size_t la = a->end - a->start, lb = b->end - b->start;
    if (la != lb)
        return la > lb ? -1 : 1;
    return a->start < b->start ? -1 : a->start > b->start;
}

static int cmp_start(const void *pa, const void *pb)
{
    const hh_pii_span_t *a = pa, *b = pb;
    return a->start < b->start ? -1 : a->start > b->start;
}

int hh_pii_find(const char *text, size_t len, const hh_pii_config_t *cfg,
                hh_pii_span_t **spans, size_t *n)
{
    if ((!text && len) || !cfg || !spans || !n || (cfg->n_names && !cfg->names))
        return HH_EINVAL;
    *spans = NULL;
    *n = 0;
    span_list_t c = { 0 };
    unsigned char *taken = NULL;
    int rc = 0;
    unsigned on = cfg->kinds;
    if ((on & (1u << HH_PII_EMAIL)) && (rc = find_email(text, len, &c)))
        goto cleanup;
    if ((on & (1u << HH_PII_PHONE)) && (rc = find_phone(text, len, &c)))
        goto cleanup;
    if ((on & (1u << HH_PII_IBAN)) && (rc = find_iban(text, len, &c)))
        goto cleanup;
    if ((on & (1u << HH_PII_CARD)) && (rc = find_card(text, len, &c)))
        goto cleanup;
    if ((on & (1u << HH_PII_TAX_ID)) && (rc = find_tax_id(text, len, &c)))
        goto cleanup;
    if ((on & (1u << HH_PII_SSN)) && (rc = find_ssn(text, len, &c)))
        goto cleanup;
    if ((on & (1u << HH_PII_DOB)) && (rc = find_dob(text, len, &c)))
        goto cleanup;
    if ((on & (1u << HH_PII_NAME)) && (rc = find_names(text, len, cfg, &c)))
        goto cleanup;
    if ((on & ((1u << HH_PII_NAME) | (1u << HH_PII_ADDRESS) | (1u << HH_PII_ID_CARD))) &&
        (rc = hh_pii_find_de(text, len, on, !cfg->names_listed_only, &c)))
        goto cleanup;
    if (c.n == 0)
        goto cleanup;

    /* Greedy by priority; a byte map keeps the check linear in span bytes. */
    qsort(c.v, c.n, sizeof *c.v, cmp_priority);
    taken = calloc(len, 1);
    if (!taken) {
        rc = HH_ENOMEM;
        goto cleanup;
    }
    size_t kept = 0;
    for (size_t k = 0; k < c.n; k++) {
        hh_pii_span_t s = c.v[k];
        bool free_run = true;
        for (size_t b = s.start; b < s.end && free_run; b++)
            free_run = !taken[b];
        if (!free_run)
            continue;
        memset(taken + s.start, 1, s.end - s.start);
        c.v[kept++] = s;
    }
    qsort(c.v, kept, sizeof *c.v, cmp_start);
    *spans = c.v;
    *n = kept;
    c.v = NULL;
cleanup:
    free(c.v);
    free(taken);
    return rc;
}

/* ---- redaction -------------------------------------------------------- */

int hh_pii_redact(const char *text, size_t len, const hh_pii_config_t *cfg,
                  char **out, size_t *out_len)
{
    if (!out || !out_len || !cfg)
        return HH_EINVAL;
    *out = NULL;
    *out_len = 0;
    if (cfg->pseudonymize && (!cfg->key || cfg->key_len < crypto_generichash_KEYBYTES_MIN ||
                              cfg->key_len > crypto_generichash_KEYBYTES_MAX))
        return HH_EINVAL;
    hh_pii_span_t *sp = NULL;
    size_t n = 0;
    int rc = hh_pii_find(text, len, cfg, &sp, &n);
    if (rc)
        return rc;
    /* a token is at most "[ADDRESS:xxxxxx]" (16 bytes) */
    enum { TOKEN_MAX = 24 };
    char *buf = NULL;
    if (n > (SIZE_MAX - len - 1) / TOKEN_MAX) {
        rc = HH_EOVERFLOW;
        goto cleanup;
    }
    buf = malloc(len + n * TOKEN_MAX + 1);
    if (!buf) {
        rc = HH_ENOMEM;
        goto cleanup;
    }
    size_t o = 0, pos = 0;
    for (size_t k = 0; k < n; k++) {
        memcpy(buf + o, text + pos, sp[k].start - pos);
        o += sp[k].start - pos;
        const char *kn = hh_pii_kind_name(sp[k].kind);
        int w;
        if (cfg->pseudonymize) {
            unsigned char h[16];
            crypto_generichash_state st;
            crypto_generichash_init(&st, cfg->key, cfg->key_len, sizeof h);
            crypto_generichash_update(&st, (const unsigned char *)kn, strlen(kn) + 1);
            crypto_generichash_update(&st, (const unsigned char *)text + sp[k].start, sp[k].end - sp[k].start);
            crypto_generichash_final(&st, h, sizeof h);
            w = snprintf(buf + o, TOKEN_MAX + 1, "[%s:%02x%02x%02x]", kn, h[0], h[1], h[2]);
        } else {
            w = snprintf(buf + o, TOKEN_MAX + 1, "[%s]", kn);
        }
        o += (size_t)w;
        pos = sp[k].end;
    }
    if (len > pos) { /* text may be NULL when len is 0 */
        memcpy(buf + o, text + pos, len - pos);
        o += len - pos;
    }
    buf[o] = '\0';
    *out = buf;
    *out_len = o;
    buf = NULL;
cleanup:
    free(buf);
    free(sp);
    return rc;
}

/* ---- name lists ------------------------------------------------------- */

void hh_pii_names_free(char **names, size_t n)
{
    if (!names)
        return;
    for (size_t k = 0; k < n; k++)
        free(names[k]);
    free(names);
}

int hh_pii_names_load(const char *path, char ***names, size_t *n, hh_err_t *err)
{
    if (!path || !names || !n)
        return hh_err_set(err, HH_EINVAL, -1, "pii names: NULL argument");
    *names = NULL;
    *n = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return hh_err_set(err, HH_EIO, -1, "pii names: cannot open %s", path);
    char **v = NULL;
    size_t cnt = 0, cap = 0, lineno = 0;
    char *line = NULL;
    size_t lcap = 0;
    ssize_t got;
    int rc = 0;
    while ((got = getline(&line, &lcap, f)) >= 0) {
        lineno++;
        size_t s = 0, e = (size_t)got;
        while (e > 0 && (line[e - 1] == '\n' || line[e - 1] == '\r' || line[e - 1] == ' ' || line[e - 1] == '\t'))
            e--;
        while (s < e && (line[s] == ' ' || line[s] == '\t'))
            s++;
        if (s == e || line[s] == '#')
            continue;
        /* valid UTF-8 only: a name that cannot be matched is an error */
        for (size_t p = s; p < e;) {
            utf8proc_int32_t cp;
            utf8proc_ssize_t r = utf8proc_iterate((const utf8proc_uint8_t *)line + p, (utf8proc_ssize_t)(e - p), &cp);
            if (r <= 0) {
                rc = hh_err_set(err, HH_EFORMAT, (int64_t)lineno, "pii names: %s line %zu is not UTF-8", path, lineno);
                goto cleanup;
            }
            p += (size_t)r;
        }
        if (cnt == cap) {
            size_t nc = cap ? cap * 2 : 16;
            char **nv = realloc(v, nc * sizeof *nv);
            if (!nv) {
                rc = hh_err_set(err, HH_ENOMEM, -1, "pii names: out of memory");
                goto cleanup;
            }
            v = nv;
            cap = nc;
        }
        v[cnt] = strndup(line + s, e - s);
        if (!v[cnt]) {
            rc = hh_err_set(err, HH_ENOMEM, -1, "pii names: out of memory");
            goto cleanup;
        }
        cnt++;
    }
    if (ferror(f))
        rc = hh_err_set(err, HH_EIO, -1, "pii names: read error on %s", path);
cleanup:
    free(line);
    fclose(f);
    if (rc) {
        hh_pii_names_free(v, cnt);
        return rc;
    }
    *names = v;
    *n = cnt;
    return 0;
}

/* ---- evaluation ------------------------------------------------------- */

static int eval_line(const char *line, size_t ll, size_t lineno, const hh_pii_config_t *cfg,
                     hh_pii_eval_t *res, hh_err_t *err)
{
    cJSON *doc = cJSON_ParseWithLength(line, ll);
    hh_pii_span_t *lab = NULL, *found = NULL;
    size_t nlab = 0, nfound = 0;
    int rc = 0;
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(doc, "text");
    const cJSON *spans = cJSON_GetObjectItemCaseSensitive(doc, "spans");
    if (!doc || !cJSON_IsString(text) || !cJSON_IsArray(spans)) {
        rc = hh_err_set(err, HH_EFORMAT, (int64_t)lineno, "pii eval: line %zu: need text and spans", lineno);
        goto cleanup;
    }
    size_t tl = strlen(text->valuestring);
    int ns = cJSON_GetArraySize(spans);
    if (ns > 0) {
        lab = calloc((size_t)ns, sizeof *lab);
        if (!lab) {
            rc = HH_ENOMEM;
            goto cleanup;
        }
    }
    const cJSON *s;
    cJSON_ArrayForEach(s, spans) {
        const cJSON *k = cJSON_GetObjectItemCaseSensitive(s, "kind");
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(s, "start");
        const cJSON *b = cJSON_GetObjectItemCaseSensitive(s, "end");
        hh_pii_kind_t kind;
        if (!cJSON_IsString(k) || !cJSON_IsNumber(a) || !cJSON_IsNumber(b) ||
            hh_pii_kind_parse(k->valuestring, &kind) || a->valuedouble < 0 ||
            a->valuedouble > b->valuedouble || b->valuedouble > (double)tl) {
            rc = hh_err_set(err, HH_EFORMAT, (int64_t)lineno, "pii eval: line %zu: bad span", lineno);
            goto cleanup;
        }
        lab[nlab++] = (hh_pii_span_t){ kind, (size_t)a->valuedouble, (size_t)b->valuedouble };
    }
    rc = hh_pii_find(text->valuestring, tl, cfg, &found, &nfound);
    if (rc) {
        hh_err_set(err, rc, (int64_t)lineno, "pii eval: line %zu: %s", lineno, hh_strerror(rc));
        goto cleanup;
    }
    for (size_t f = 0; f < nfound; f++) {
        bool hit = false;
        for (size_t l = 0; l < nlab && !hit; l++)
            hit = lab[l].kind == found[f].kind && lab[l].start == found[f].start && lab[l].end == found[f].end;
        if (hit)
            res->tp[found[f].kind]++;
        else
            res->fp[found[f].kind]++;
    }
    for (size_t l = 0; l < nlab; l++) {
        if (!(cfg->kinds & (1u << lab[l].kind)))
            continue;
        bool hit = false;
        for (size_t f = 0; f < nfound && !hit; f++)
            hit = lab[l].kind == found[f].kind && lab[l].start == found[f].start && lab[l].end == found[f].end;
        if (!hit)
            res->fn[lab[l].kind]++;
    }
    res->n_docs++;
cleanup:
    free(lab);
    free(found);
    cJSON_Delete(doc);
    return rc;
}

int hh_pii_eval_jsonl(const char *buf, size_t len, const hh_pii_config_t *cfg,
                      hh_pii_eval_t *res, hh_err_t *err)
{
    if ((!buf && len) || !cfg || !res)
        return hh_err_set(err, HH_EINVAL, -1, "pii eval: NULL argument");
    memset(res, 0, sizeof *res);
    size_t pos = 0, lineno = 0;
    while (pos < len) {
        const char *nl = memchr(buf + pos, '\n', len - pos);
        size_t e = nl ? (size_t)(nl - buf) : len;
        lineno++;
        size_t s = pos;
        while (s < e && (buf[s] == ' ' || buf[s] == '\t' || buf[s] == '\r'))
            s++;
        if (s < e) {
            int rc = eval_line(buf + s, e - s, lineno, cfg, res, err);
            if (rc)
                return rc;
        }
        pos = e + 1;
    }
    return 0;
}
