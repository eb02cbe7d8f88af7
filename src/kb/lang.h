/* lang.h - which language a text is written in (German or English), from
 * its function words and letters. Used per chunk at ingestion and per
 * question at retrieval and answer time (the answer's fixed texts follow the
 * question's language). */
#ifndef HH_KB_LANG_H
#define HH_KB_LANG_H

#include <stddef.h>

typedef enum {
    HH_LANG_UNKNOWN = 0,   /* too little evidence either way */
    HH_LANG_DE,
    HH_LANG_EN,
} hh_lang_t;

/* The language of s[0..n) (UTF-8; invalid bytes are skipped). Counts
 * distinctive German and English function words ("und", "nicht", "ich",
 * "wie" against "the", "and", "not", "how", ...) and German letters
 * (ä ö ü ß). UNKNOWN when neither side has evidence or the two are even.
 * Works from a question of three words up; never allocates. */
hh_lang_t hh_lang_detect(const char *s, size_t n);

/* "de", "en" or "" for UNKNOWN. */
const char *hh_lang_code(hh_lang_t lang);

/* The language named by a code ("de", "de-DE", "EN", ...); UNKNOWN for
 * anything else or NULL. */
hh_lang_t hh_lang_from_code(const char *code);

#endif
