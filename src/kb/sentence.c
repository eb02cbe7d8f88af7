/* sentence.c - a sentence splitter that knows German and English
 * abbreviations, ordinals, dates, decimals and list numbering, and the
 * boilerplate lines of mails and letters (sentence.h). */
#include "kb/sentence.h"
#include "base/err.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <utf8proc.h>

/* Abbreviations that take a period (lowercase, without it). A word with
 * inner periods ("z.B", "e.g") and single letters are abbreviations
 * without being listed. Words that also end sentences as plain words
 * ("no", "art", "min") are left out: before a number ("Art. 30", "No. 5")
 * the digit rule keeps the sentence whole anyway. */
static const char *const g_abbr[] = {
    "abb", "abs", "abschn", "abt", "allg", "anh", "anl", "anm", "approx", "aufl", "bd", "betr", "bsp",
    "bspw", "bzgl", "bzw", "ca", "co", "corp", "dept", "dez", "dipl", "dr", "dt", "ebd", "engl", "erg", "etc",
    "evtl", "feb", "ff", "fig", "fr", "gem", "geb", "ges", "gez", "ggf", "gg\xC3\xBC", "hr", "hrn", "hrsg",
    "inc", "inkl", "ing", "jan", "jh", "jr", "kap", "kfm", "lfd", "lt", "ltd", "mio", "mr", "mrd",
    "mrs", "mwst", "nov", "nr", "okt", "pp", "prof", "rd", "sep", "sept", "sog", "sr", "st", "std",
    "str", "tel", "tsd", "usw", "ust", "vgl", "vs", "zit", "ziff", "zzgl", "zzt", "zz",
};

/* Abbreviations that often close a sentence: they end one when a typical
 * sentence start follows. */
static const char *const g_abbr_end[] = { "etc", "usw", "ff" };

/* Words that typically start a sentence (case-sensitive, capitalised).
 * Nouns are capitalised in German, so "die 1. Klasse" must not end at
 * "1.": only these words after a number or "usw." make it a sentence end. */
static const char *const g_starters[] = {
    "Alle", "Als", "Also", "Anschlie\xC3\x9F" "end", "Auch", "Au\xC3\x9F" "erdem", "Bei", "Bitte", "Da", "Dabei",
    "Dadurch", "Daf\xC3\xBCr", "Daher", "Danach", "Dann", "Darin", "Das", "Dazu", "Dem", "Den", "Denn", "Der",
    "Deshalb", "Die", "Dies", "Diese", "Dieser", "Dieses", "Doch", "Du", "Ein", "Eine", "Einer", "Er", "Es",
    "Falls", "F\xC3\xBCr", "Hier", "Ich", "Ihr", "Im", "In", "Jede", "Jeder", "Jedes", "Kein", "Keine", "Man",
    "Mit", "Nach", "Nur", "Ob", "Sie", "So", "Somit", "Um", "Und", "Was", "Wenn", "Wer", "Wie", "Wir", "Wo",
    "Zudem", "Zus\xC3\xA4tzlich",
    "A", "After", "All", "Also", "An", "And", "Any", "As", "At", "But", "Each", "For", "He", "However", "I", "If",
    "In", "It", "Its", "No", "Note", "On", "Our", "Please", "She", "So", "That", "The", "Then", "There", "These",
    "They", "This", "Those", "To", "We", "What", "When", "Where", "Which", "Who", "With", "You", "Your",
};

static bool in_list(const char *const *list, size_t n, const char *w, size_t wl, bool fold)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(list[i]) == wl && (fold ? !strncasecmp(list[i], w, wl) : !memcmp(list[i], w, wl)))
            return true;
    return false;
}

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* The code point at s[i] (0 at the end or on an invalid byte) and its length. */
static int32_t cp_at(const char *s, size_t len, size_t i, size_t *n)
{
    utf8proc_int32_t cp = 0;
    utf8proc_ssize_t r = i < len ? utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(len - i), &cp)
                                 : 0;
    *n = r > 0 ? (size_t)r : 1;
    return r > 0 ? cp : 0;
}

/* Length of a closing quote or bracket at s[i] (0 when none). */
static size_t closer_at(const char *s, size_t len, size_t i)
{
    if (i >= len)
        return 0;
    if (s[i] == '"' || s[i] == '\'' || s[i] == ')')
        return 1;
    size_t n;
    int32_t cp = cp_at(s, len, i, &n);
    if (cp == 0x201C || cp == 0x201D || cp == 0x2019 || cp == 0x00BB || cp == 0x00AB || cp == 0x2018)
        return n;
    return 0;
}

/* The next word after white space from j: *w, *wl (letters only); false
 * at the end of the text. */
static bool next_word(const char *t, size_t len, size_t j, const char **w, size_t *wl)
{
    while (j < len && isspace((unsigned char)t[j]))
        j++;
    if (j >= len)
        return false;
    size_t k = j;
    while (k < len) {
        size_t n;
        int32_t cp = cp_at(t, len, k, &n);
        if (!cp || !(utf8proc_category(cp) <= UTF8PROC_CATEGORY_LO))
            break;
        k += n;
    }
    *w = t + j;
    *wl = k - j;
    return true;
}

/* Whether the period at t[i] (followed by white space or the end at j)
 * ends a sentence. */
static bool period_ends(const char *t, size_t len, size_t i, size_t j)
{
    /* the next word: lower case or a digit never starts a sentence */
    size_t nx = j;
    while (nx < len && isspace((unsigned char)t[nx]))
        nx++;
    if (nx >= len)
        return true;
    size_t cn;
    int32_t c = cp_at(t, len, nx, &cn);
    utf8proc_category_t cat = utf8proc_category(c);
    if (cat == UTF8PROC_CATEGORY_LL || (c >= '0' && c <= '9'))
        return false;
    const char *nw = NULL;
    size_t nwl = 0;
    bool starter = next_word(t, len, j, &nw, &nwl) && nwl > 0 && in_list(g_starters, N_OF(g_starters), nw, nwl, false);

    /* the token before the period: back to white space or an opening bracket / quote */
    size_t k = i;
    while (k > 0 && !isspace((unsigned char)t[k - 1]) && t[k - 1] != '(' && t[k - 1] != '"' && t[k - 1] != '[')
        k--;
    const char *tok = t + k;
    size_t tl = i - k;
    if (tl == 0 || tok[tl - 1] == '.')   /* "..." or a lone period */
        return true;
    bool digits_dots = true, inner_dot = false;
    for (size_t m = 0; m < tl; m++) {
        if (tok[m] == '.')
            inner_dot = true;
        else if (!(tok[m] >= '0' && tok[m] <= '9'))
            digits_dots = false;
    }
    if (digits_dots) {
        size_t last = tl;   /* digits after the last inner period */
        while (last > 0 && tok[last - 1] != '.')
            last--;
        size_t d = tl - last;
        /* list numbering: "1." first on its line */
        size_t ls = k;
        while (ls > 0 && (t[ls - 1] == ' ' || t[ls - 1] == '\t'))
            ls--;
        if (!inner_dot && d <= 3 && (ls == 0 || t[ls - 1] == '\n'))
            return false;
        if (d <= 2)   /* an ordinal or a day / month: "am 1. Mai", "die 1. Klasse" */
            return starter;
        return true;
    }
    if (inner_dot) {   /* "z.B", "e.g", "u.a": every part short. "example.com" ends. */
        size_t seg = 0;
        for (size_t m = 0; m <= tl; m++) {
            if (m == tl || tok[m] == '.') {
                if (seg > 4)
                    return true;
                seg = 0;
            } else {
                seg++;
            }
        }
        return false;
    }
    /* a single letter: "z. B.", "S. 4", "Anna M. Schulz" */
    size_t n1;
    int32_t c1 = cp_at(tok, tl, 0, &n1);
    if (n1 == tl && utf8proc_category(c1) <= UTF8PROC_CATEGORY_LO && c1 != 0)
        return false;
    if (in_list(g_abbr_end, N_OF(g_abbr_end), tok, tl, true))
        return starter;
    if (in_list(g_abbr, N_OF(g_abbr), tok, tl, true))
        return false;
    return true;
}

int hh_kb_sentences(const char *t, size_t len, hh_kb_span_t **out, size_t *n)
{
    hh_kb_span_t *v = NULL;
    size_t nv = 0, cap = 0;
    size_t st = 0;
    *out = NULL;
    *n = 0;
    for (size_t i = 0; i <= len; i++) {
        size_t end = SIZE_MAX;
        if (i == len) {
            end = len;
        } else if (t[i] == '\n') {
            end = i;
        } else if (t[i] == '.' || t[i] == '!' || t[i] == '?') {
            size_t j = i + 1, cl;
            while ((cl = closer_at(t, len, j)) > 0)
                j += cl;
            if (j < len && !isspace((unsigned char)t[j]))
                continue;   /* "0.30", "z.B", "31.12.2026", "Hinweis!)." */
            if (t[i] == '.' && !period_ends(t, len, i, j))
                continue;
            end = j;
        }
        if (end == SIZE_MAX)
            continue;
        while (st < end && isspace((unsigned char)t[st]))
            st++;
        if (end > st) {
            if (nv == cap) {
                size_t nc = cap ? cap * 2 : 16;
                hh_kb_span_t *nvp = realloc(v, nc * sizeof *nvp);
                if (!nvp) {
                    free(v);
                    return HH_ENOMEM;
                }
                v = nvp;
                cap = nc;
            }
            v[nv++] = (hh_kb_span_t){ st, end - st };
        }
        st = end;
        if (st < len && t[st] == '\n')
            st++;
        if (end > i)
            i = end - 1;
    }
    *out = v;
    *n = nv;
    return 0;
}

/* ---- boilerplate -------------------------------------------------------- */

static bool starts_ci(const char *s, size_t len, const char *p)
{
    size_t pl = strlen(p);
    return len >= pl && !strncasecmp(s, p, pl);
}

/* p occurs in s[0..len) at the start of a word (not "Hotel." for "Tel."). */
static bool has_ci(const char *s, size_t len, const char *p)
{
    size_t pl = strlen(p);
    for (size_t i = 0; i + pl <= len; i++)
        if ((i == 0 || !isalpha((unsigned char)s[i - 1])) && !strncasecmp(s + i, p, pl))
            return true;
    return false;
}

static const char *const g_headers[] = {
    "Von:", "An:", "Cc:", "Bcc:", "Kopie:", "Betreff:", "Gesendet:", "Datum:", "Antwort an:", "From:", "To:",
    "Subject:", "Date:", "Sent:", "Reply-To:", "Message-ID:",
};

static const char *const g_closings[] = {
    "Mit freundlichen Gr\xC3\xBC\xC3\x9F" "en", "Mit freundlichem Gru\xC3\x9F", "Freundliche Gr\xC3\xBC\xC3\x9F" "e",
    "Viele Gr\xC3\xBC\xC3\x9F" "e", "Beste Gr\xC3\xBC\xC3\x9F" "e", "Liebe Gr\xC3\xBC\xC3\x9F" "e",
    "Herzliche Gr\xC3\xBC\xC3\x9F" "e", "Sch\xC3\xB6ne Gr\xC3\xBC\xC3\x9F" "e", "Gru\xC3\x9F", "MfG",
    "Vielen Dank", "Danke", "Best regards", "Kind regards", "Warm regards", "Regards", "Best wishes", "Best",
    "Sincerely", "Yours sincerely", "Yours faithfully", "Cheers", "Thanks", "Thank you", "Many thanks", "--",
};

/* Salutations: a short line of its own that ends in a comma ("Hallo zusammen,"). */
static const char *const g_salutations[] = {
    "Hallo", "Hi", "Hey", "Liebe", "Lieber", "Sehr geehrte", "Guten Tag", "Moin", "Servus", "Hello", "Dear",
    "Good morning", "Good afternoon",
};

static const char *const g_contact[] = {
    "Tel.", "Tel:", "Telefon:", "Fon:", "Fax:", "Mobil:", "Handy:", "E-Mail:",
    "Email:", "Mail:", "Phone:", "Mobile:", "Web:", "Internet:", "www.", "http://", "https://", "Durchwahl",
};

/* A run of at least 7 digits with only phone separators between them. */
static bool phone_like(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (!(s[i] == '+' || (s[i] >= '0' && s[i] <= '9')))
            continue;
        size_t d = 0, j = i;
        while (j < len && ((s[j] >= '0' && s[j] <= '9') || s[j] == ' ' || s[j] == '/' || s[j] == '-' ||
                           s[j] == '+' || s[j] == '(' || s[j] == ')')) {
            d += s[j] >= '0' && s[j] <= '9';
            j++;
        }
        if (d >= 7)
            return true;
        i = j;
    }
    return false;
}

/* An e-mail address: letters@letters.letters */
static bool has_email(const char *s, size_t len)
{
    for (size_t i = 1; i + 1 < len; i++)
        if (s[i] == '@' && isalnum((unsigned char)s[i - 1]) && isalnum((unsigned char)s[i + 1]))
            for (size_t j = i + 2; j + 1 < len && !isspace((unsigned char)s[j]); j++)
                if (s[j] == '.' && isalpha((unsigned char)s[j + 1]))
                    return true;
    return false;
}

/* A postcode and town ("10115 Berlin") or a street and number
 * ("Hauptstraße 5", "Am Markt 3") on a short line. */
static bool address_like(const char *s, size_t len)
{
    for (size_t i = 0; i + 6 < len; i++) {
        if ((i == 0 || !isdigit((unsigned char)s[i - 1])) && isdigit((unsigned char)s[i]) &&
            isdigit((unsigned char)s[i + 1]) && isdigit((unsigned char)s[i + 2]) && isdigit((unsigned char)s[i + 3]) &&
            isdigit((unsigned char)s[i + 4]) && s[i + 5] == ' ' && isupper((unsigned char)s[i + 6]))
            return true;
    }
    static const char *const streets[] = { "stra\303\237e ", "str. ", "weg ", "platz ", "allee ", "gasse ",
                                           "ring ", "damm ", "street ", "road " };
    for (size_t k = 0; k < N_OF(streets); k++) {
        size_t pl = strlen(streets[k]);
        for (size_t i = 0; i + pl < len; i++)
            if (!strncasecmp(s + i, streets[k], pl) && isdigit((unsigned char)s[i + pl]))
                return true;
    }
    return false;
}

void hh_kb_boilerplate_mark(const char *t, const hh_kb_span_t *s, size_t n, bool *boiler)
{
    bool signed_off = false;
    for (size_t i = 0; i < n; i++) {
        /* the whole line the sentence is on */
        size_t ls = s[i].off, le = s[i].off + s[i].len;
        while (ls > 0 && t[ls - 1] != '\n')
            ls--;
        while (t[le] && t[le] != '\n')
            le++;
        while (ls < le && isspace((unsigned char)t[ls]))
            ls++;
        const char *line = t + ls;
        size_t ll = le - ls;
        bool b = signed_off;
        for (size_t k = 0; !b && k < N_OF(g_headers); k++)
            b = starts_ci(line, ll, g_headers[k]);
        for (size_t k = 0; !b && k < N_OF(g_closings); k++)
            if (starts_ci(line, ll, g_closings[k])) {
                size_t cl = strlen(g_closings[k]);
                /* the closing alone on its line (with a comma): not "Regards to the ..." */
                size_t r = cl;
                while (r < ll && (line[r] == ',' || line[r] == '.' || line[r] == '!' || isspace((unsigned char)line[r])))
                    r++;
                if (r == ll)
                    b = signed_off = true;
            }
        for (size_t k = 0; !b && ll <= 60 && line[ll - 1] == ',' && k < N_OF(g_salutations); k++)
            b = starts_ci(line, ll, g_salutations[k]);
        if (!b && ll <= 160) {
            for (size_t k = 0; !b && k < N_OF(g_contact); k++)
                b = has_ci(line, ll, g_contact[k]);
            b = b || has_email(line, ll) || phone_like(line, ll) || (ll <= 80 && address_like(line, ll));
        }
        boiler[i] = b;
    }
}

bool hh_kb_question_wants_contact(const char *q)
{
    static const char *const asks[] = {
        "telefon", "tel.", "durchwahl", "handy", "mobil", "fax", "e-mail", "email", "mail", "adresse", "anschrift",
        "kontakt", "ansprechp", "erreich", "absender", "betreff", "geschickt", "geschrieben", "unterschrieben",
        "phone", "contact", "address", "reach", "sender", "subject", "who sent", "who wrote", "signed",
    };
    size_t ql = q ? strlen(q) : 0;
    for (size_t k = 0; k < N_OF(asks); k++)
        if (has_ci(q, ql, asks[k]))
            return true;
    return false;
}
