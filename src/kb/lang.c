/* lang.c - German / English detection from function words and letters.
 * See lang.h.
 *
 * Why function words: they are the most frequent words of each language,
 * occur in every sentence, and the two lists below share none ("die" is
 * German only; "in", "man", "was", "will" etc. occur in both languages and
 * are left out). A question of three or four words holds one or two of them.
 * Letters only German writes (ä ö ü ß) add evidence for names and nouns. */
#include "kb/lang.h"

#include <stdbool.h>
#include <string.h>

static const char *const g_de_words[] = {
    "aber", "alle", "als", "auch", "auf", "aus", "bei", "bin", "bis", "bitte", "das", "dass", "dem", "den",
    "der", "des", "die", "dies", "diese", "dieser", "doch", "durch", "ein", "eine", "einem", "einen", "einer",
    "eines", "er", "es", "etwas", "für", "gibt", "habe", "haben", "hat", "ich", "ihr", "ihre", "im", "ist",
    "jede", "jeder", "kann", "kein", "keine", "können", "mein", "meine", "meinem", "meinen", "mich", "mir",
    "mit", "muss", "müssen", "nach", "nicht", "noch", "nur", "oder", "sich", "sie", "sind", "soll", "sowie",
    "über", "um", "und", "uns", "unter", "viele", "vom", "von", "vor", "wann", "warum", "welche",
    "welcher", "welches", "wenn", "werden", "wer", "wie", "wieviel", "wird", "wo", "wurde", "zu", "zum",
    "zur", "zwischen",
};

static const char *const g_en_words[] = {
    "about", "after", "all", "and", "any", "are", "be", "been", "but", "by", "can", "could", "did",
    "do", "does", "for", "from", "get", "had", "has", "have", "how", "i", "if", "into", "is", "it", "its",
    "many", "may", "me", "much", "must", "my", "not", "of", "on", "or", "our", "should", "than", "that",
    "the", "their", "there", "these", "they", "this", "those", "to", "we", "were", "what", "when", "where",
    "which", "who", "why", "with", "would", "you", "your",
};

static bool in_list(const char *w, size_t n, const char *const *list, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (strlen(list[i]) == n && memcmp(list[i], w, n) == 0)
            return true;
    return false;
}

/* Lower-cases ASCII and the German capitals Ä Ö Ü into out (at most cap
 * bytes); false when the word does not fit (it is then no function word). */
static bool lower_word(const unsigned char *w, size_t n, char *out, size_t cap, size_t *outn)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (o + 2 > cap)
            return false;
        unsigned char ch = w[i];
        if (ch >= 'A' && ch <= 'Z') {
            out[o++] = (char)(ch + 32);
        } else if (ch == 0xC3 && i + 1 < n && (w[i + 1] == 0x84 || w[i + 1] == 0x96 || w[i + 1] == 0x9C)) {
            out[o++] = (char)0xC3;   /* Ä Ö Ü -> ä ö ü: second byte + 0x20 */
            out[o++] = (char)(w[i + 1] + 0x20);
            i++;
        } else {
            out[o++] = (char)ch;
        }
    }
    *outn = o;
    return true;
}

static bool is_letter_byte(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch >= 0x80 || ch == '\'';
}

hh_lang_t hh_lang_detect(const char *s, size_t n)
{
    if (!s)
        return HH_LANG_UNKNOWN;
    const unsigned char *u = (const unsigned char *)s;
    int de = 0, en = 0, letters_de = 0;
    size_t i = 0;
    while (i < n) {
        while (i < n && !is_letter_byte(u[i]))
            i++;
        size_t st = i;
        while (i < n && is_letter_byte(u[i])) {
            /* ä ö ü ß Ä Ö Ü in UTF-8: C3 A4 / B6 / BC / 9F / 84 / 96 / 9C */
            if (u[i] == 0xC3 && i + 1 < n) {
                unsigned char b = u[i + 1];
                if (b == 0xA4 || b == 0xB6 || b == 0xBC || b == 0x9F || b == 0x84 || b == 0x96 || b == 0x9C)
                    letters_de++;
            }
            i++;
        }
        if (i == st)
            continue;
        char w[24];
        size_t wn;
        if (!lower_word(u + st, i - st, w, sizeof w, &wn))
            continue;
        if (in_list(w, wn, g_de_words, sizeof g_de_words / sizeof g_de_words[0]))
            de += 2;
        else if (in_list(w, wn, g_en_words, sizeof g_en_words / sizeof g_en_words[0]))
            en += 2;
    }
    /* A German letter counts half a function word, and at most as much as
     * three: a long English text quoting a German name stays English. */
    de += letters_de > 3 ? 3 : letters_de;
    if (de > en)
        return HH_LANG_DE;
    if (en > de)
        return HH_LANG_EN;
    return HH_LANG_UNKNOWN;
}

const char *hh_lang_code(hh_lang_t lang)
{
    switch (lang) {
    case HH_LANG_DE: return "de";
    case HH_LANG_EN: return "en";
    default: return "";
    }
}

hh_lang_t hh_lang_from_code(const char *code)
{
    if (!code)
        return HH_LANG_UNKNOWN;
    if ((code[0] == 'd' || code[0] == 'D') && (code[1] == 'e' || code[1] == 'E') && (code[2] == 0 || code[2] == '-' || code[2] == '_'))
        return HH_LANG_DE;
    if ((code[0] == 'e' || code[0] == 'E') && (code[1] == 'n' || code[1] == 'N') && (code[2] == 0 || code[2] == '-' || code[2] == '_'))
        return HH_LANG_EN;
    return HH_LANG_UNKNOWN;
}
