/* pii_de.c - German person names without a names file, postal addresses
 * and Personalausweis numbers.
 *
 * The text is cut into tokens (runs of letters and digits, joined across
 * a '-' or an apostrophe between two word characters, so "Karl-Heinz",
 * "Müller-Lüdenscheidt" and "O'Brien" are one token each). Every
 * capitalised token is looked up once in a lexicon (pii_de_lex.c): the
 * first names and surnames shipped in data/pii, and word classes
 * (honorifics, titles, salutations, closings, form fields, role words,
 * departments, firm suffixes, street words, and capitalised words that
 * are never part of a name: articles, months, cities, brands, frequent
 * nouns). The rules then look at a few tokens
 * around each trigger, so the scan stays linear in the text length.
 *
 * A name is found
 *  - after Herr/Frau/Hr./Fr./Mr/Mrs and titles (Dr., Prof., Dipl.-Ing.),
 *  - after a salutation (Hallo, Liebe, Hi, Dear) when a known first name
 *    follows, in a signature after a closing (Viele Grüße, Mit
 *    freundlichen Grüßen, Best regards),
 *  - after a form field label (Name:, Ansprechpartner:, Bewerber:, Von:),
 *  - after a role word (Kunde, Kollegin, Mitarbeiter) when a known first
 *    name or surname follows, in "von X aus der ..." and "X (Vertrieb)",
 *  - where a known first name starts a run of capitalised words (the
 *    ambiguous ones such as Mark, Ernst or Kai only before a known
 *    surname).
 * The span is the name itself: honorifics and titles stay in the text.
 * A run followed by a firm suffix (GmbH, AG, & Co.) is a firm, not a
 * person. See docs/PII.md for the rules and their limits. */
#include "govern/pii_int.h"
#include "govern/pii_de_int.h"

#include <utf8proc.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- tokens ----------------------------------------------------------- */

enum {
    T_CAP = 1u << 0,   /* Titlecase: upper-case letter, then a lower-case one */
    T_LOWER = 1u << 1, /* starts with a lower-case letter */
    T_DIGITS = 1u << 2, /* only ASCII digits */
    T_UPPER = 1u << 3, /* starts upper case, no lower case (GmbH is not: has lower) */
    T_NOUN = 1u << 4,  /* ends like a common noun (-ung, -heit, ...) */
};

typedef struct tok {
    size_t s, e;
    uint32_t t;    /* T_* */
    uint32_t lex;  /* L_* */
} tok_t;

static utf8proc_int32_t cp_at(const char *t, size_t len, size_t i, size_t *n)
{
    unsigned char c = (unsigned char)t[i];
    if (c < 0x80) {
        *n = 1;
        return c;
    }
    utf8proc_int32_t cp;
    size_t avail = len - i < 4 ? len - i : 4;
    utf8proc_ssize_t r = utf8proc_iterate((const utf8proc_uint8_t *)t + i, (utf8proc_ssize_t)avail, &cp);
    if (r <= 0) {
        *n = 1;
        return -1;
    }
    *n = (size_t)r;
    return cp;
}

static bool is_letter_cp(utf8proc_int32_t cp)
{
    if (cp < 0)
        return false;
    if (cp < 0x80)
        return (cp | 0x20) >= 'a' && (cp | 0x20) <= 'z';
    utf8proc_category_t c = utf8proc_category(cp);
    return c == UTF8PROC_CATEGORY_LU || c == UTF8PROC_CATEGORY_LL || c == UTF8PROC_CATEGORY_LT ||
           c == UTF8PROC_CATEGORY_LO || c == UTF8PROC_CATEGORY_LM || c == UTF8PROC_CATEGORY_MN;
}

static bool is_upper_cp(utf8proc_int32_t cp)
{
    if (cp < 0)
        return false;
    if (cp < 0x80)
        return cp >= 'A' && cp <= 'Z';
    return utf8proc_category(cp) == UTF8PROC_CATEGORY_LU || utf8proc_category(cp) == UTF8PROC_CATEGORY_LT;
}

static bool is_lower_cp(utf8proc_int32_t cp)
{
    if (cp < 0)
        return false;
    if (cp < 0x80)
        return cp >= 'a' && cp <= 'z';
    return utf8proc_category(cp) == UTF8PROC_CATEGORY_LL;
}

/* Does the token end with one of the noun suffixes (and is longer)? */
static bool noun_like(const char *w, size_t n)
{
    for (const lit_t *s = hh_pii_de_noun_suffix; s->s; s++)
        if (n >= s->n + 3 && !memcmp(w + n - s->n, s->s, s->n))
            return true;
    return false;
}

/* Case-insensitive (ASCII letters) test of the end of w[0..n). */
static bool ends_with_n(const char *w, size_t n, const char *suf, size_t k)
{
    if (n < k)
        return false;
    for (size_t q = 0; q < k; q++) {
        unsigned char a = (unsigned char)w[n - k + q];
        if (a >= 'A' && a <= 'Z')
            a = (unsigned char)(a | 0x20);
        if (a != (unsigned char)suf[q])
            return false;
    }
    return true;
}

static bool ends_with_ci(const char *w, size_t n, const char *suf)
{
    return ends_with_n(w, n, suf, strlen(suf));
}

/* Lexicon flags of a token; a hyphenated token is a first name when every
 * part is one (Karl-Heinz), a surname when a part is (Müller-Lüdenscheidt),
 * and never a name when a part is a stop word (Vertriebs-Team). */
static uint32_t token_lex(const char *w, size_t n)
{
    uint32_t f = hh_pii_de_lex_get(w, n);
    if (f || !memchr(w, '-', n))
        return f;
    uint32_t all = L_FIRST, any = 0;
    size_t p = 0;
    int parts = 0;
    while (p <= n) {
        const char *h = memchr(w + p, '-', n - p);
        size_t q = h ? (size_t)(h - w) : n;
        uint32_t pf = hh_pii_de_lex_get(w + p, q - p);
        if (q > p && !is_upper_cp((unsigned char)w[p]) && (unsigned char)w[p] < 0x80)
            all = 0; /* a lower-case part */
        all &= pf;
        any |= pf;
        parts++;
        p = q + 1;
    }
    if (any & (L_STOP | L_STREET))
        return L_STOP | (any & L_STREET);
    return (all & L_FIRST) | (any & L_SUR) | ((any & L_FIRST) && !(all & L_FIRST) ? L_SUR : 0);
}

/* Cuts t into tokens. Word characters (hh_pii_word_at) joined by '-' or
 * an apostrophe between two of them. */
static int tokenize(const char *t, size_t len, tok_t **out, size_t *nout)
{
    size_t cap = 256, n = 0;
    tok_t *v = malloc(cap * sizeof *v);
    if (!v)
        return HH_ENOMEM;
    size_t i = 0;
    while (i < len) {
        if (!hh_pii_word_at(t, len, i)) {
            i++;
            continue;
        }
        size_t s = i, cl;
        bool digits = true, has_lower = false;
        utf8proc_int32_t first = cp_at(t, len, i, &cl);
        while (i < len) {
            unsigned char b = (unsigned char)t[i];
            if (b < 0x80) { /* ASCII: no decoding */
                if ((b >= '0' && b <= '9') || ((b | 0x20) >= 'a' && (b | 0x20) <= 'z') || b == '_') {
                    digits &= b <= '9';
                    has_lower |= i > s && b >= 'a';
                    i++;
                    continue;
                }
            } else if (hh_pii_word_at(t, len, i)) {
                size_t k;
                utf8proc_int32_t cp = cp_at(t, len, i, &k);
                digits = false;
                if (i > s && is_lower_cp(cp))
                    has_lower = true;
                i += k;
                continue;
            }
            /* '-' or an apostrophe (' or U+2019) inside a word */
            size_t j = i;
            if (t[i] == '-' || t[i] == '\'')
                j = i + 1;
            else if (i + 2 < len && !memcmp(t + i, "\xE2\x80\x99", 3))
                j = i + 3;
            if (j > i && hh_pii_word_before(t, len, i) && hh_pii_word_at(t, len, j) &&
                (t[i] == '-' || is_letter_cp(cp_at(t, len, j, &cl)))) {
                digits = false;
                i = j;
                continue;
            }
            break;
        }
        if (n == cap) {
            if (cap > SIZE_MAX / 2 / sizeof *v) {
                free(v);
                return HH_EOVERFLOW;
            }
            tok_t *nv = realloc(v, cap * 2 * sizeof *v);
            if (!nv) {
                free(v);
                return HH_ENOMEM;
            }
            v = nv;
            cap *= 2;
        }
        tok_t *k = &v[n++];
        k->s = s;
        k->e = i;
        k->t = 0;
        if (digits)
            k->t |= T_DIGITS;
        else if (is_upper_cp(first))
            k->t |= has_lower ? T_CAP : T_UPPER;
        else if (is_lower_cp(first))
            k->t |= T_LOWER;
        /* lower-case words in the lexicon are short (von, hallo, wohnhaft) */
        bool look = (k->t & (T_CAP | T_UPPER)) || ((k->t & T_LOWER) && i - s <= 10);
        k->lex = look ? token_lex(t + s, i - s) : 0;
        if ((k->t & T_CAP) && !(k->lex & (L_FIRST | L_SUR)) && noun_like(t + s, i - s))
            k->t |= T_NOUN;
    }
    *out = v;
    *nout = n;
    return 0;
}

/* ---- helpers over tokens ---------------------------------------------- */

typedef struct ctx {
    const char *t;
    size_t len;
    const tok_t *k;
    size_t n;
    hh_pii_span_list_t *out;
} ctx_t;

/* Are tokens a and a+1 separated by exactly one space? */
static bool one_space(const ctx_t *c, size_t a)
{
    return a + 1 < c->n && c->k[a + 1].s == c->k[a].e + 1 && c->t[c->k[a].e] == ' ';
}

/* Only spaces and tabs between tokens a and b (a < b)? */
static bool blank_between(const ctx_t *c, size_t a, size_t b)
{
    for (size_t p = c->k[a].e; p < c->k[b].s; p++)
        if (c->t[p] != ' ' && c->t[p] != '\t')
            return false;
    return true;
}

/* No line break between tokens a and b (a < b)? */
static bool same_line(const ctx_t *c, size_t a, size_t b)
{
    return !memchr(c->t + c->k[a].e, '\n', c->k[b].s - c->k[a].e);
}

/* Is the gap after token a exactly "X" followed by optional spaces (X a
 * single byte such as '.' or ':')? */
static bool gap_is(const ctx_t *c, size_t a, char x)
{
    if (a + 1 >= c->n)
        return c->k[a].e < c->len && c->t[c->k[a].e] == x;
    size_t p = c->k[a].e;
    if (p >= c->k[a + 1].s || c->t[p] != x)
        return false;
    for (p++; p < c->k[a + 1].s; p++)
        if (c->t[p] != ' ')
            return false;
    return true;
}

static bool tok_is(const ctx_t *c, size_t a, const char *w)
{
    if (a >= c->n || c->t[c->k[a].s] != w[0])
        return false;
    size_t n = strlen(w);
    return a < c->n && c->k[a].e - c->k[a].s == n && !memcmp(c->t + c->k[a].s, w, n);
}

/* Can token a be a word of a name? */
static bool name_word(const ctx_t *c, size_t a)
{
    const tok_t *k = &c->k[a];
    return (k->t & T_CAP) && !(k->lex & L_STOP) && !(k->t & T_NOUN);
}

/* Skips titles after token a ("Dr.", "Prof. Dr.", "Dr. med.", "Dipl.-Ing.")
 * and returns the first token after them. */
static size_t skip_titles(const ctx_t *c, size_t a)
{
    while (a < c->n && (c->k[a].lex & L_TITLE) && (gap_is(c, a, '.') || one_space(c, a)))
        a++;
    return a;
}

/* A capitalised particle of a surname: "Di Stefano", "De Luca". */
static bool cap_particle(const ctx_t *c, size_t a)
{
    static const char *const p[] = { "De", "Di", "Da", "Del", "Della", "Dal", "La", "Le", "Lo", "Van",
                                     "Von", "Al", "El", "Mac", "Mc", "Ten", "Ter", "Dos", NULL };
    for (const char *const *x = p; *x; x++)
        if (tok_is(c, a, *x))
            return true;
    return false;
}

/* von, van, de (lower case) or De, Di, Van (capitalised). */
static bool particle(const ctx_t *c, size_t a)
{
    return ((c->k[a].lex & L_PART) && (c->k[a].t & T_LOWER)) || cap_particle(c, a);
}

/* The name run starting at token a: name words and particles joined by
 * single spaces, at most 4 name words. Returns one past its last token, a
 * when there is none. Particles ("von der", "van", "de") may come first
 * when lead_part, or after first names only ("Ursula von der Leyen", but
 * not "Frau Bergmann von der Hotelkette"). */
static size_t name_run(const ctx_t *c, size_t a, bool lead_part)
{
    size_t b = a, words = 0;
    bool all_first = true;
    while (b < c->n && words < 4) {
        if (b > a && !one_space(c, b - 1))
            break;
        /* an initial: "Herr A. Schmidt", "Donald E. Knuth" */
        if ((c->k[b].t & T_UPPER) && c->k[b].e - c->k[b].s == 1 && b + 1 < c->n && c->t[c->k[b].e] == '.' &&
            c->k[b + 1].s == c->k[b].e + 2 && c->t[c->k[b].e + 1] == ' ' && name_word(c, b + 1) && words < 3) {
            all_first = false;
            b += 2;
            words += 2;
            continue;
        }
        if (name_word(c, b) && !(words == 0 && cap_particle(c, b) && lead_part)) {
            all_first &= (c->k[b].lex & L_FIRST) != 0;
            b++;
            words++;
            continue;
        }
        /* a particle group starts with von, van, de, ...; never with the
         * article der/den/des ("Herr der Ringe") */
        bool part_ok = (words ? all_first : lead_part) && !tok_is(c, b, "der") && !tok_is(c, b, "den") &&
                       !tok_is(c, b, "des");
        if (part_ok && particle(c, b)) {
            size_t p = b;
            while (p < c->n && p < b + 3 && particle(c, p) && one_space(c, p))
                p++;
            if (p < c->n && p > b && name_word(c, p) && !cap_particle(c, p) && one_space(c, p - 1)) {
                b = p + 1;
                words++;
                all_first = false;
                continue;
            }
        }
        break;
    }
    return b;
}

/* A firm: a firm word right after the run (Müller GmbH, Weber & Co.),
 * or a firm word right before it (Firma Schmidt). */
static bool is_firm(const ctx_t *c, size_t a, size_t b)
{
    if (a > 0 && (c->k[a - 1].lex & (L_FIRMCTX)) && blank_between(c, a - 1, a))
        return true;
    if (b < c->n && (c->k[b].lex & L_FIRM) && blank_between(c, b - 1, b))
        return true;
    size_t p = c->k[b - 1].e;
    while (p < c->len && c->t[p] == ' ')
        p++;
    return p < c->len && (c->t[p] == '&' || c->t[p] == '+');
}

static bool any_known(const ctx_t *c, size_t a, size_t b)
{
    for (size_t k = a; k < b; k++)
        if ((c->k[k].lex & L_SUR) || ((c->k[k].lex & L_FIRST) && !(c->k[k].lex & L_AMBIG)))
            return true;
    return false;
}

static int push_name(const ctx_t *c, size_t a, size_t b)
{
    if (b <= a || is_firm(c, a, b))
        return 0;
    return hh_pii_span_push(c->out, HH_PII_NAME, c->k[a].s, c->k[b - 1].e);
}

/* ---- person rules ----------------------------------------------------- */

/* After Herr/Frau/Mr (and titles, role words): any name run. */
static int rule_honorific(const ctx_t *c, size_t i)
{
    const tok_t *k = &c->k[i];
    if (!(k->lex & L_HONOR) && !((k->lex & L_TITLE) && (k->t & T_CAP)))
        return 0;
    /* Hr./Fr./Dr. need their dot; Herr/Frau a space */
    bool dot = gap_is(c, i, '.');
    if (!dot && !one_space(c, i))
        return 0;
    if (tok_is(c, i, "Fr") && !dot)
        return 0;
    size_t a = skip_titles(c, i + 1);
    while (a < c->n && (c->k[a].lex & L_ROLE) && (c->k[a].t & T_CAP) && one_space(c, a))
        a++; /* "Frau Kollegin Meier" */
    a = skip_titles(c, a);
    if (a >= c->n || !same_line(c, a - 1, a))
        return 0;
    size_t b = name_run(c, a, true);
    if (b == a)
        return 0;
    return push_name(c, a, b);
}

/* "Hallo Jürgen", "Liebe Frau Meier" (Frau is its own rule), "Hi Tom":
 * a known first name (ambiguous ones too) after a salutation. */
static int rule_salutation(const ctx_t *c, size_t i)
{
    if (!(c->k[i].lex & L_SALUT))
        return 0;
    /* Morgen/Tag/Abend only after "Guten" */
    if ((tok_is(c, i, "Morgen") || tok_is(c, i, "Tag") || tok_is(c, i, "Abend")) &&
        !(i > 0 && (tok_is(c, i - 1, "Guten") || tok_is(c, i - 1, "guten"))))
        return 0;
    size_t a = i + 1;
    if (a >= c->n)
        return 0;
    /* "Hallo Jürgen", "Hallo, Jürgen" is rare: a blank gap only */
    if (!blank_between(c, i, a) || !(c->k[a].lex & L_FIRST) || !(c->k[a].t & T_CAP))
        return 0;
    size_t b = name_run(c, a, false);
    return push_name(c, a, b);
}

/* A signature: after a closing (Grüße, Gruß, MfG, regards), past commas,
 * line breaks and Ihr/Ihre, a run whose line holds nothing else, or that
 * starts with a known name. */
static int rule_signature(const ctx_t *c, size_t i)
{
    if (!(c->k[i].lex & L_CLOSE))
        return 0;
    size_t a = i + 1;
    if (a >= c->n)
        return 0;
    int lines = 0;
    for (size_t p = c->k[i].e; p < c->k[a].s; p++) {
        char ch = c->t[p];
        if (ch == '\n')
            lines++;
        else if (ch != ' ' && ch != ',' && ch != '!' && ch != '.' && ch != '\r' && ch != '\t' && ch != '-')
            return 0;
    }
    if (lines > 3)
        return 0;
    if ((c->k[a].lex & L_POSS) && a + 1 < c->n && blank_between(c, a, a + 1))
        a++;
    a = skip_titles(c, a);
    if (a >= c->n || !(c->k[a].t & T_CAP))
        return 0;
    size_t b = name_run(c, a, false);
    if (b == a)
        return 0;
    /* what follows the run on its line: nothing, a comma, or a role */
    size_t p = c->k[b - 1].e;
    while (p < c->len && (c->t[p] == ' ' || c->t[p] == '\r' || c->t[p] == '\t'))
        p++;
    bool alone = p >= c->len || c->t[p] == '\n' || c->t[p] == ',' || c->t[p] == '(' || c->t[p] == '|';
    bool known = any_known(c, a, b) || ((c->k[a].lex & L_FIRST) && b > a);
    if (known || (alone && b - a >= 2))
        return push_name(c, a, b);
    return 0;
}

/* "Name: Anna Schmidt", "Teilnehmer: Frau Meier, Jürgen Weber": each
 * value of a field label until the end of the line. */
static int rule_field(const ctx_t *c, size_t i)
{
    if (!(c->k[i].lex & L_FIELD) || !(c->k[i].t & T_CAP) || !gap_is(c, i, ':'))
        return 0;
    bool strong = c->k[i].lex & L_STRONGF;
    size_t a = i + 1;
    for (int items = 0; a < c->n && items < 12; items++) {
        /* the value must be on the same line */
        for (size_t p = c->k[a - 1].e; p < c->k[a].s; p++)
            if (c->t[p] == '\n')
                return 0;
        size_t v = a;
        if (c->k[v].lex & L_HONOR) {
            /* "Frau Meier": the honorific rule finds it; skip past it */
            size_t w = skip_titles(c, v + 1);
            size_t b = w < c->n ? name_run(c, w, true) : w;
            v = b > w ? b : v + 1;
        } else {
            v = skip_titles(c, v);
            if (v >= c->n)
                return 0;
            size_t b = name_run(c, v, true);
            if (b > v && (strong || any_known(c, v, b))) {
                int rc = push_name(c, v, b);
                if (rc)
                    return rc;
            }
            v = b > v ? b : v + 1;
        }
        /* the next item after ',', ';', '/', 'und', 'and' on this line */
        if (v >= c->n)
            return 0;
        size_t p = c->k[v - 1].e;
        bool sep = false;
        for (; p < c->k[v].s; p++) {
            char ch = c->t[p];
            if (ch == '\n')
                return 0;
            if (ch == ',' || ch == ';' || ch == '/')
                sep = true;
            else if (ch != ' ')
                break;
        }
        if (!sep && (tok_is(c, v, "und") || tok_is(c, v, "and")) && v + 1 < c->n) {
            sep = true;
            v++;
        }
        if (!sep || c->k[v].s < p)
            return 0;
        a = v;
    }
    return 0;
}

/* "Der Kunde Thomas Schmidt", "Kollegin Meier": a role word, then a run
 * that starts with a known first name or surname. */
static int rule_role(const ctx_t *c, size_t i)
{
    if (!(c->k[i].lex & L_ROLE) || !one_space(c, i))
        return 0;
    size_t a = skip_titles(c, i + 1);
    if (a >= c->n || (c->k[a].lex & L_HONOR) || !(c->k[a].lex & (L_FIRST | L_SUR)))
        return 0;
    size_t b = name_run(c, a, false);
    if (b == a)
        return 0;
    return push_name(c, a, b);
}

/* "von Weber aus der Buchhaltung", "Petrov (Vertrieb)". */
static int rule_department(const ctx_t *c, size_t i)
{
    if (!(c->k[i].t & T_CAP) || !name_word(c, i))
        return 0;
    if (i > 0 && name_word(c, i - 1) && one_space(c, i - 1))
        return 0; /* start at the first word of a run only */
    size_t b = name_run(c, i, false);
    if (b == i || b >= c->n)
        return 0;
    bool dept = false;
    size_t p = c->k[b - 1].e;
    if (p + 2 < c->len && c->t[p] == ' ' && c->t[p + 1] == '(' && c->k[b].s == p + 2 &&
        (c->k[b].lex & (L_DEPT | L_ROLE)))
        dept = true; /* "X (Vertrieb)" */
    if (!dept && tok_is(c, b, "aus") && one_space(c, b - 1) && b + 2 < c->n) {
        size_t d = b + 1;
        if (tok_is(c, d, "der") || tok_is(c, d, "dem"))
            d++;
        dept = d < c->n && (c->k[d].lex & L_DEPT);
    }
    if (!dept)
        return 0;
    bool von = i > 0 && (tok_is(c, i - 1, "von") || tok_is(c, i - 1, "Von")) && one_space(c, i - 1);
    if (!von && !any_known(c, i, b))
        return 0;
    return push_name(c, i, b);
}

/* Is token a the first word of a sentence or line (after . ! ? : or a
 * line break, opening quotes and brackets skipped)? */
static bool sentence_start(const ctx_t *c, size_t a)
{
    size_t p = c->k[a].s;
    while (p > 0) {
        unsigned char ch = (unsigned char)c->t[p - 1];
        if (ch == ' ' || ch == '\t' || ch == '"' || ch == '(' || ch == '\'')
            p--;
        else if (p >= 3 && !memcmp(c->t + p - 3, "\xE2\x80\x9E", 3)) /* „ */
            p -= 3;
        else
            break;
    }
    if (p == 0)
        return true;
    char ch = c->t[p - 1];
    return ch == '.' || ch == '!' || ch == '?' || ch == ':' || ch == '\n' || ch == '\r' || ch == ';';
}

/* A known first name starts a run: "Jürgen Müller", "Karl-Heinz Weber",
 * "Anna-Lena". An ambiguous first name (Mark, Kai) counts only before a
 * known surname. */
static int rule_first_name(const ctx_t *c, size_t i)
{
    const tok_t *k = &c->k[i];
    if (!(k->lex & L_FIRST) || (k->lex & L_STOP) || !(k->t & T_CAP))
        return 0;
    size_t b = name_run(c, i, false);
    if (b == i)
        return 0;
    if (k->lex & L_AMBIG) {
        /* before a known surname; or inside a sentence (not its first
         * word, where "Ernst", "Anders" or "Per" are ordinary words)
         * before another name word: "gestern hat Kai Brüggenkamp" */
        bool sur = false;
        for (size_t q = i + 1; q < b; q++)
            sur |= (c->k[q].lex & L_SUR) != 0;
        if (!sur && !(b > i + 1 && !sentence_start(c, i)))
            return 0;
    }
    return push_name(c, i, b);
}

/* ---- addresses -------------------------------------------------------- */

static const lit_t g_street_suffix[] = {
    LIT("straße"), LIT("strasse"), LIT("str"), LIT("weg"), LIT("allee"), LIT("platz"), LIT("gasse"),
    LIT("ring"), LIT("damm"), LIT("ufer"), LIT("chaussee"), LIT("steig"), LIT("pfad"),
    LIT("promenade"), LIT("markt"), LIT("graben"), LIT("wall"), LIT("kamp"), LIT("stieg"),
    LIT("twiete"), LIT("zeile"),
    { NULL, 0 },
};
/* Compounds with a street word that are no street. */
static const lit_t g_not_street[] = {
    LIT("arbeitsplatz"), LIT("parkplatz"), LIT("stellplatz"), LIT("sitzplatz"),
    LIT("speicherplatz"), LIT("ausbildungsplatz"), LIT("studienplatz"), LIT("praktikumsplatz"),
    LIT("kitaplatz"), LIT("lagerplatz"), LIT("firewall"), LIT("lösungsweg"), LIT("dienstweg"),
    LIT("rechtsweg"), LIT("zahlungsweg"), LIT("versandweg"), LIT("rückweg"), LIT("arbeitsweg"),
    LIT("heimweg"), LIT("arbeitsmarkt"), LIT("wohnungsmarkt"), LIT("binnenmarkt"),
    LIT("supermarkt"), LIT("baumarkt"), LIT("messeplatz"), LIT("schulweg"), LIT("fluchtweg"),
    LIT("rettungsweg"), LIT("ausweg"), LIT("umweg"), LIT("lieferweg"), LIT("bildungsweg"),
    LIT("kommunikationsweg"), LIT("stehplatz"), LIT("tabellenplatz"), LIT("ehering"),
    LIT("schlüsselring"), LIT("hering"),
    { NULL, 0 },
};

/* Is token a a street name ending in a street word (Hauptstraße,
 * Karl-Marx-Allee, Industriestr)? */
static bool street_token(const ctx_t *c, size_t a)
{
    const tok_t *k = &c->k[a];
    if (!(k->t & T_CAP) || ((k->lex & L_STOP) && !(k->lex & L_STREET)))
        return false;
    const char *w = c->t + k->s;
    size_t n = k->e - k->s;
    bool street = false;
    for (const lit_t *x = g_street_suffix; x->s && !street; x++)
        street = n > x->n + 1 && ends_with_n(w, n, x->s, x->n);
    if (!street)
        return false;
    for (const lit_t *x = g_not_street; x->s; x++)
        if (ends_with_n(w, n, x->s, x->n))
            return false;
    return true;
}

/* A house number at token a: 1-4 digits not starting with 0, an optional
 * letter ("3a", "12 b"), an optional range ("5-7", "12/14", "5 - 7").
 * Returns one past its end (a byte offset) or 0. */
static size_t house_number(const ctx_t *c, size_t a)
{
    if (a >= c->n)
        return 0;
    const tok_t *k = &c->k[a];
    const char *w = c->t + k->s;
    size_t n = k->e - k->s, d = 0;
    while (d < n && w[d] >= '0' && w[d] <= '9')
        d++;
    if (d == 0 || d > 4 || w[0] == '0')
        return 0;
    size_t end = k->s + d;
    if (d < n) {
        /* "3a", "5-7" (a range is inside the token), "3a-c" */
        size_t q = d;
        if (q < n && ((w[q] | 0x20) >= 'a' && (w[q] | 0x20) <= 'z'))
            q++;
        if (q < n && w[q] == '-') {
            q++;
            size_t r = q;
            while (q < n && w[q] >= '0' && w[q] <= '9')
                q++;
            if (q == r && q < n && ((w[q] | 0x20) >= 'a' && (w[q] | 0x20) <= 'z'))
                q++;
            if (q == r)
                return 0;
            if (q < n && ((w[q] | 0x20) >= 'a' && (w[q] | 0x20) <= 'z'))
                q++;
        }
        if (q != n)
            return 0;
        end = k->e;
    }
    size_t p = end;
    /* "12/14", "5 - 7", "12 b" */
    if (p + 1 < c->len && c->t[p] == '/' && a + 1 < c->n && c->k[a + 1].s == p + 1 && (c->k[a + 1].t & T_DIGITS) &&
        c->k[a + 1].e - c->k[a + 1].s <= 4) {
        end = c->k[a + 1].e;
        a++;
    } else if (p + 3 < c->len && !memcmp(c->t + p, " - ", 3) && a + 1 < c->n && c->k[a + 1].s == p + 3 &&
               (c->k[a + 1].t & T_DIGITS) && c->k[a + 1].e - c->k[a + 1].s <= 4) {
        end = c->k[a + 1].e;
        a++;
    } else if (p + 1 < c->len && c->t[p] == ' ' && a + 1 < c->n && c->k[a + 1].s == p + 1 &&
               c->k[a + 1].e == p + 2 && ((c->t[p + 1] | 0x20) >= 'a' && (c->t[p + 1] | 0x20) <= 'h') &&
               c->t[p + 1] >= 'a') {
        end = c->k[a + 1].e;
        a++;
    }
    /* not a decimal, a time, a percentage or a count */
    if (end < c->len) {
        char x = c->t[end];
        if ((x == '.' || x == ',' || x == ':') && end + 1 < c->len && c->t[end + 1] >= '0' && c->t[end + 1] <= '9')
            return 0;
        if (x == '%' || x == '\xE2' /* € */)
            return 0;
        if (x == ' ' && end + 1 < c->len && (!memcmp(c->t + end + 1, "\xE2\x82\xAC", end + 4 <= c->len ? 3 : 0) ||
                                               c->t[end + 1] == '%'))
            return 0;
    }
    if (a + 1 < c->n && (c->k[a + 1].lex & L_UNIT) && blank_between(c, a, a + 1))
        return 0;
    return end;
}

/* The token index whose start is at or after byte p. */
static size_t tok_from(const ctx_t *c, size_t from, size_t p)
{
    while (from < c->n && c->k[from].s < p)
        from++;
    return from;
}

/* "80331 München", "D-10115 Berlin", "A-1010 Wien", "Frankfurt am Main".
 * Returns the span end (byte) or 0; *next the token after it. */
static size_t postcode_city(const ctx_t *c, size_t a, size_t *next)
{
    const tok_t *k = &c->k[a];
    const char *w = c->t + k->s;
    size_t n = k->e - k->s, d0 = 0;
    bool prefixed = false;
    if (n >= 6 && (w[0] == 'D' || w[0] == 'A') && w[1] == '-')
        d0 = 2, prefixed = true;
    else if (n >= 7 && w[2] == '-' && (!memcmp(w, "DE", 2) || !memcmp(w, "CH", 2) || !memcmp(w, "AT", 2)))
        d0 = 3, prefixed = true;
    size_t digits = 0;
    while (d0 + digits < n && w[d0 + digits] >= '0' && w[d0 + digits] <= '9')
        digits++;
    if (d0 + digits != n)
        return 0;
    if (!(digits == 5 || (prefixed && digits == 4 && w[0] != 'D')))
        return 0;
    if (!prefixed && !memcmp(w, "00", 2))
        return 0;
    size_t b = a + 1;
    if (b >= c->n || !one_space(c, a))
        return 0;
    /* "Bad Homburg", "St. Ingbert" */
    if ((tok_is(c, b, "Bad") || tok_is(c, b, "Sankt") || tok_is(c, b, "St")) && b + 1 < c->n &&
        (one_space(c, b) || gap_is(c, b, '.')) && (c->k[b + 1].t & T_CAP))
        b++;
    const tok_t *city = &c->k[b];
    if (!(city->t & T_CAP) || (city->t & T_NOUN) || (city->lex & (L_UNIT | L_DEPT | L_ROLE | L_FIELD)))
        return 0;
    static const char *const months[] = { "Januar", "Februar", "März", "April", "Mai", "Juni", "Juli",
                                          "August", "September", "Oktober", "November", "Dezember", NULL };
    for (const char *const *m = months; *m; m++)
        if (tok_is(c, b, *m))
            return 0;
    size_t end = city->e;
    b++;
    /* "am Main", "an der Oder", "im Breisgau", "(Oder)", "(Saale)", "/ Saale" */
    if (b + 1 < c->n && one_space(c, b - 1) &&
        (tok_is(c, b, "am") || tok_is(c, b, "an") || tok_is(c, b, "im") || tok_is(c, b, "ob") ||
         tok_is(c, b, "in"))) {
        size_t q = b + 1;
        if ((tok_is(c, q, "der") || tok_is(c, q, "dem")) && one_space(c, b))
            q++;
        if (q < c->n && one_space(c, q - 1) && (c->k[q].t & T_CAP) && !(c->k[q].lex & L_STOP)) {
            end = c->k[q].e;
            b = q + 1;
        }
    } else if (b < c->n && end + 2 <= c->len && c->t[end] == ' ' && c->t[end + 1] == '(' &&
               c->k[b].s == end + 2 && (c->k[b].t & T_CAP) && c->k[b].e < c->len && c->t[c->k[b].e] == ')') {
        end = c->k[b].e + 1;
        b++;
    }
    *next = b;
    return end;
}

/* Does an address context word (Adresse, wohnhaft) come within the 6
 * tokens before a, on the same or the previous line? */
static bool addr_context(const ctx_t *c, size_t a)
{
    for (size_t q = a; q-- > 0 && a - q <= 6;)
        if (c->k[q].lex & L_ADDRCTX)
            return true;
    return false;
}

/* Is the line of token a otherwise empty from its start to a? */
static bool line_start(const ctx_t *c, size_t a)
{
    size_t p = c->k[a].s;
    while (p > 0 && (c->t[p - 1] == ' ' || c->t[p - 1] == '\t'))
        p--;
    return p == 0 || c->t[p - 1] == '\n';
}

static int find_addresses(const ctx_t *c)
{
    size_t last_street_end = 0; /* byte end of the last street found */
    bool have_street = false;
    for (size_t i = 0; i < c->n; i++) {
        const tok_t *k = &c->k[i];
        /* Postfach 12 34 */
        if (tok_is(c, i, "Postfach") && i + 1 < c->n && one_space(c, i) && (c->k[i + 1].t & T_DIGITS)) {
            size_t j = i + 1, digits = c->k[j].e - c->k[j].s;
            while (j + 1 < c->n && one_space(c, j) && (c->k[j + 1].t & T_DIGITS) &&
                   digits + (c->k[j + 1].e - c->k[j + 1].s) <= 8 && c->k[j + 1].e - c->k[j + 1].s <= 3)
            {
                j++;
                digits += c->k[j].e - c->k[j].s;
            }
            if (digits >= 2 && digits <= 8) {
                int rc = hh_pii_span_push(c->out, HH_PII_ADDRESS, k->s, c->k[j].e);
                if (rc)
                    return rc;
                i = j;
                continue;
            }
        }
        /* street + number */
        size_t s = i, numtok = 0;
        bool cand = false, prep = false;
        if (street_token(c, i)) {
            numtok = i + 1;
            cand = true;
            /* "Alte Landstraße", "Neuen Weg": an inflected adjective before */
            if (i > 0 && one_space(c, i - 1) && (c->k[i - 1].t & T_CAP) &&
                !(c->k[i - 1].lex & (L_STOP | L_FIRST | L_SUR)) &&
                (ends_with_ci(c->t + c->k[i - 1].s, c->k[i - 1].e - c->k[i - 1].s, "e") ||
                 ends_with_ci(c->t + c->k[i - 1].s, c->k[i - 1].e - c->k[i - 1].s, "en")) &&
                c->k[i - 1].e - c->k[i - 1].s <= 9)
                s = i - 1;
        } else if ((k->lex & L_STREET) && (k->t & T_CAP) && i > 0 && one_space(c, i - 1) &&
                   (c->k[i - 1].t & T_CAP) && !(c->k[i - 1].lex & L_STOP) &&
                   (ends_with_ci(c->t + c->k[i - 1].s, c->k[i - 1].e - c->k[i - 1].s, "er") ||
                    ends_with_ci(c->t + c->k[i - 1].s, c->k[i - 1].e - c->k[i - 1].s, "e") ||
                    ends_with_ci(c->t + c->k[i - 1].s, c->k[i - 1].e - c->k[i - 1].s, "en"))) {
            /* "Berliner Straße", "Alte Allee", "Frankfurter Str." */
            s = i - 1;
            numtok = i + 1;
            cand = true;
        } else if ((k->lex & L_SPREP) && (k->t & T_CAP) && i + 2 < c->n && one_space(c, i)) {
            /* "Am Markt 3a", "An der Alster 12", "Unter den Linden 77" */
            static const char *const bad[] = { "Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag",
                                               "Samstag", "Sonntag", "Wochenende", "Ende", "Anfang", "Jahr",
                                               "Tag", "Morgen", "Abend", "Nachmittag", "Vormittag", "Lager",
                                               "Büro", "Standort", "Raum", "Projekt", "Team", "Kapitel",
                                               "Punkt", "Schritt", "Stand", "Termin", "Moment", "Durchschnitt",
                                               "Jahre", "Zeitraum", "Vergleich", "Monat", "Quartal", NULL };
            size_t q = i + 1;
            if ((tok_is(c, q, "der") || tok_is(c, q, "den") || tok_is(c, q, "dem") || tok_is(c, q, "die")) &&
                one_space(c, q))
                q++;
            size_t nw = 0;
            while (q < c->n && nw < 2 && (c->k[q].t & T_CAP) && one_space(c, q) &&
                   !(c->k[q].lex & (L_UNIT | L_ROLE | L_DEPT)) && !(c->k[q].t & T_NOUN)) {
                bool bd = false;
                for (const char *const *x = bad; *x && !bd; x++)
                    bd = tok_is(c, q, *x);
                if (bd)
                    break;
                q++;
                nw++;
            }
            if (nw > 0) {
                numtok = q;
                cand = true;
                prep = true;
            }
        }
        /* between the street and its number: spaces, or ". " after "str" */
        if (cand && numtok < c->n && numtok > 0) {
            const tok_t *st = &c->k[numtok - 1];
            bool gap_ok = blank_between(c, numtok - 1, numtok) && c->k[numtok].s > st->e;
            if (!gap_ok && ends_with_ci(c->t + st->s, st->e - st->s, "str") && c->t[st->e] == '.')
                gap_ok = c->k[numtok].s > st->e + 1 && c->k[numtok].s <= st->e + 3 &&
                         c->t[c->k[numtok].s - 1] == ' ';
            cand = gap_ok;
        }
        if (cand && numtok < c->n) {
            size_t end = house_number(c, numtok);
            if (end && prep) {
                /* a preposition street needs support: a postcode after it,
                 * its own line, or an address word before it */
                size_t nt = tok_from(c, numtok, end), dummy;
                bool pc = false;
                if (nt < c->n) {
                    size_t p = end;
                    while (p < c->k[nt].s && (c->t[p] == ',' || c->t[p] == ' ' || c->t[p] == '\n' || c->t[p] == '\r'))
                        p++;
                    pc = p == c->k[nt].s && postcode_city(c, nt, &dummy);
                }
                size_t p = end;
                while (p < c->len && (c->t[p] == ' ' || c->t[p] == '\r' || c->t[p] == ','))
                    p++;
                bool own_line = line_start(c, i) && (p >= c->len || c->t[p] == '\n');
                if (!pc && !own_line && !addr_context(c, i))
                    end = 0;
            }
            if (end) {
                int rc = hh_pii_span_push(c->out, HH_PII_ADDRESS, c->k[s].s, end);
                if (rc)
                    return rc;
                last_street_end = end;
                have_street = true;
                i = tok_from(c, i, end);
                if (i > 0)
                    i--;
                continue;
            }
        }
        /* postcode + city */
        if ((k->t & T_DIGITS) || (k->t & T_UPPER) || (k->t & T_CAP)) {
            size_t nx, end = postcode_city(c, i, &nx);
            if (end) {
                bool near_street = have_street && k->s >= last_street_end && k->s - last_street_end <= 4;
                bool prefixed = !(k->t & T_DIGITS);
                /* a count ("12000 Kunden") was rejected by postcode_city;
                 * an order or customer number right before is not a postcode */
                bool neg = false;
                if (!near_street && !prefixed && i > 0) {
                    static const char *const numw[] = { "Nr", "Nummer", "Kundennummer", "Bestellnummer",
                                                        "Rechnungsnummer", "Auftragsnummer", "Ticket", "Vorgang",
                                                        "ID", "Id", "Artikel", "Az", "Aktenzeichen", "Personalnummer",
                                                        "Order", "No", "Konto", "Kontonummer", "BLZ", "Pin", "PIN",
                                                        "Code", "TAN", "Version", NULL };
                    for (size_t q = i; q-- > 0 && i - q <= 3 && !neg;)
                        for (const char *const *x = numw; *x && !neg; x++)
                            neg = tok_is(c, q, *x) || ends_with_ci(c->t + c->k[q].s, c->k[q].e - c->k[q].s, "nummer");
                }
                if (!neg) {
                    int rc = hh_pii_span_push(c->out, HH_PII_ADDRESS, k->s, end);
                    if (rc)
                        return rc;
                    i = nx - 1;
                    continue;
                }
            }
        }
    }
    return 0;
}

/* ---- Personalausweis -------------------------------------------------- */

/* Serial characters of the German identity card since 2010: digits and
 * C F G H J K L M N P R T V W X Y Z; the 10th character is the check
 * digit with weights 7, 3, 1 (letters count 10..35). */
static int id_value(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'A' && ch <= 'Z' && strchr("CFGHJKLMNPRTVWXYZ", ch))
        return ch - 'A' + 10;
    return -1;
}

static int find_id_cards(const ctx_t *c)
{
    static const int weight[3] = { 7, 3, 1 };
    for (size_t i = 0; i < c->n; i++) {
        const tok_t *k = &c->k[i];
        if (k->e - k->s != 10)
            continue;
        const char *w = c->t + k->s;
        int sum = 0, letters = 0;
        bool ok = true;
        for (int q = 0; q < 9 && ok; q++) {
            int v = id_value(w[q]);
            ok = v >= 0;
            letters += v >= 10;
            sum += (v < 0 ? 0 : v) * weight[q % 3];
        }
        if (!ok || w[9] < '0' || w[9] > '9' || sum % 10 != w[9] - '0')
            continue;
        /* all digits: only after Ausweis, Personalausweis, Dokumentennummer */
        if (letters == 0) {
            bool ctx = false;
            for (size_t q = i; q-- > 0 && i - q <= 6 && !ctx;)
                ctx = (c->k[q].lex & L_IDCTX) != 0;
            if (!ctx)
                continue;
        } else if (letters == 9) {
            continue;
        }
        int rc = hh_pii_span_push(c->out, HH_PII_ID_CARD, k->s, k->e);
        if (rc)
            return rc;
    }
    return 0;
}

/* ---- entry ------------------------------------------------------------ */

int hh_pii_find_de(const char *t, size_t len, unsigned kinds, bool guess_names, hh_pii_span_list_t *out)
{
    int lrc = hh_pii_de_lex_ready();
    if (lrc)
        return lrc;
    bool names = guess_names && (kinds & (1u << HH_PII_NAME));
    if (!names && !(kinds & ((1u << HH_PII_ADDRESS) | (1u << HH_PII_ID_CARD))))
        return 0;
    tok_t *k = NULL;
    size_t n = 0;
    int rc = tokenize(t, len, &k, &n);
    if (rc)
        return rc;
    ctx_t c = { t, len, k, n, out };
    if (names) {
        for (size_t i = 0; i < n && !rc; i++) {
            if ((rc = rule_honorific(&c, i)) || (rc = rule_salutation(&c, i)) || (rc = rule_signature(&c, i)) ||
                (rc = rule_field(&c, i)) || (rc = rule_role(&c, i)) || (rc = rule_department(&c, i)) ||
                (rc = rule_first_name(&c, i)))
                break;
        }
    }
    if (!rc && (kinds & (1u << HH_PII_ADDRESS)))
        rc = find_addresses(&c);
    if (!rc && (kinds & (1u << HH_PII_ID_CARD)))
        rc = find_id_cards(&c);
    free(k);
    return rc;
}
