/* analyze.h - text analysis for the full-text index: words become index
 * terms, questions become weighted query terms.
 *
 * Index terms of a text (hh_analyzer_index_terms), per word (a run of
 * letters and digits as hh_kb_word_next finds them), in text order:
 *   - the word lowercased and stemmed (Snowball, libstemmer) in the text's
 *     language: "german" for German, "english" for English, both when the
 *     language is unknown (two terms when the stems differ);
 *   - for German (or unknown) text, the parts of a compound, each stemmed
 *     with the German stemmer, after the whole word: "Urlaubstage" ->
 *     urlaubstag urlaub tag, "Reisekostenabrechnung" -> ... reisekost
 *     abrechn reis kost. Splitting is dictionary-based (a German word list,
 *     Debian's wngerman /usr/share/dict/ngerman): a head of >= 4 letters
 *     that is a word (nouns first, then other words and verb stems whose
 *     infinitive is listed: "Abstell|raum"), an optional linking element
 *     (Fugen-s, -es, -n, -en), and a tail of >= 3 letters that is a word
 *     (also with a plural or case ending taken off: "tage" -> "tag") or
 *     splits again. A part is stemmed from its dictionary form ("kurse"
 *     -> kurs -> kur, as "kurs"), so parts meet whatever their form.
 * Terms are separated by one space; every term is made of word characters
 * only, so FTS5's unicode61 tokenizer keeps each one whole.
 *
 * Query terms of a question (hh_analyzer_query_terms): its language is
 * detected (kb/lang.h); each content word (function words dropped: also
 * question words, modal verbs, possessives, "gibts") is one group with
 * these terms, by weight:
 *   HH_AN_W_EXACT   1.0  the word's stems (German and English; a German
 *                        question's German stem only), a verb form's
 *                        infinitive stem ("bekommt" -> bekomm) and an
 *                        -eln/-ern verb's -ung noun stem ("umwandeln" ->
 *                        umwandl, as "Umwandlung")
 *   HH_AN_W_MEASURE 0.3  instead of 1.0 for the amount word after
 *                        "wie"/"how" ("lange", "many"; never expanded)
 *   HH_AN_W_PART    0.5  its compound parts
 *   HH_AN_W_SYN     0.3  synonyms from OpenThesaurus (German questions, or
 *                        unknown language), at most HH_AN_MAX_SYN per word:
 *                        of the word's class (noun when capitalized), the
 *                        sets where it is marked colloquial first
 *                        ("kriegen (ugs.)" -> bekommen), never to a
 *                        marked word
 *   HH_AN_W_TRANS   0.3  translations from the German-English dictionary
 *                        (Debian trans-de-en): English words of a question
 *                        to German, German ones to English, at most
 *                        HH_AN_MAX_TRANS per word (their stems only)
 * A question of unknown language with more than 3 content words gets at
 * most 2 synonyms and 1 translation each way per word, and every question at most HH_AN_MAX_EXPANSIONS
 * synonyms and translations in all: each is one more term to score at
 * every chunk that holds it (the p95 at 100k chunks).
 * A term reached twice keeps its highest weight. All of these come from the
 * question and corpus-independent files; nothing here reads the store.
 *
 * Resources: each file is optional. An absent or unreadable file turns its
 * feature off (logged once, at load); stemming needs no file. Files are read
 * at their first use: the word list at the first analysis, the thesaurus
 * and the dictionary at the first question (hh_analyzer_load reads all
 * now). Measured on this machine (2 shared cores): word list about 0.4 s,
 * 356k words; thesaurus and dictionary about 1.5-2.5 s; 49 MiB in all.
 * Only single-word entries are kept. An analyzer is read-only after
 * loading and safe to share between threads (stemmers are made per call).
 */
#ifndef HH_KB_ANALYZE_H
#define HH_KB_ANALYZE_H

#include "base/err.h"
#include "kb/lang.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HH_AN_W_EXACT 1.0f
#define HH_AN_W_PART  0.5f
#define HH_AN_W_SYN   0.3f
#define HH_AN_W_SYN_UGS 0.5f   /* a synonym of a word the thesaurus marks colloquial ("kriegen" -> bekommen) */
#define HH_AN_W_TRANS 0.3f
#define HH_AN_W_MEASURE 0.3f   /* "lange" in "wie lange", "many" in "how many" */

#define HH_AN_MAX_SYN    5
#define HH_AN_MAX_TRANS  2
#define HH_AN_MAX_WORDS  24    /* content words of a question used */
#define HH_AN_MAX_TERMS  64    /* query terms in all (each is scored at every matching chunk) */
#define HH_AN_MAX_EXPANSIONS 24  /* synonyms and translations in all, first words first */

/* The files; NULL = the Debian default path, "" = feature off. */
typedef struct hh_analyzer_params {
    const char *compounds;     /* German word list, one word a line (/usr/share/dict/ngerman) */
    const char *thesaurus;     /* OpenThesaurus text (/usr/share/openthesaurus-de/openthesaurus.txt) */
    const char *translations;  /* "German :: English" dictionary (/usr/share/trans/de-en) */
} hh_analyzer_params_t;

hh_analyzer_params_t hh_analyzer_default_params(void);

typedef struct hh_analyzer hh_analyzer_t;

/* Makes an analyzer and loads the word list (missing file: compounds off).
 * The paths are copied. *out owned by the caller: hh_analyzer_free.
 * HH_ENOMEM; HH_EUNSUPPORTED if libstemmer lacks german or english. */
int  hh_analyzer_create(hh_analyzer_t **out, const hh_analyzer_params_t *p, hh_err_t *err);
void hh_analyzer_free(hh_analyzer_t *a);

/* Loads the query-side files now (thesaurus, dictionary) if not yet tried;
 * the first hh_analyzer_query_terms does it otherwise. Thread-safe. */
void hh_analyzer_load(hh_analyzer_t *a);

/* What is loaded: each count is 0 when its file is off or not loaded yet;
 * bytes = memory held by the loaded resources; *_ms = load times. */
typedef struct hh_analyzer_stats {
    size_t compound_words, thesaurus_terms, translation_terms;
    size_t bytes;
    double compounds_ms, query_files_ms;
} hh_analyzer_stats_t;
void hh_analyzer_stats(hh_analyzer_t *a, hh_analyzer_stats_t *out);

/* The index level of this analyzer: 3 with the compound word list (2 was
 * the splitting before noun-first heads and dictionary-form parts), 1 with
 * stemming alone. Chunks analyzed at a lower level are analyzed again. */
int hh_analyzer_level(hh_analyzer_t *a);

/* The index terms of text[0..len) in lang (UNKNOWN: both stemmers), as a
 * malloc'd NUL-terminated string of space-separated terms (*out, caller
 * frees; "" for a text without words). a may be NULL: stemming alone.
 * HH_ENOMEM. */
int hh_analyzer_index_terms(hh_analyzer_t *a, const char *text, size_t len, hh_lang_t lang, char **out,
                            hh_err_t *err);

typedef enum hh_an_kind {
    HH_AN_EXACT = 0,   /* a stem of the question's word */
    HH_AN_PART,        /* a compound part of it */
    HH_AN_SYN,         /* a synonym */
    HH_AN_TRANS,       /* a translation */
} hh_an_kind_t;

typedef struct hh_qterm {
    char        *term;     /* index term (malloc'd) */
    float        weight;
    int32_t      group;    /* the question word it comes from (0-based) */
    hh_an_kind_t kind;
} hh_qterm_t;

/* A question as query terms. */
typedef struct hh_query_terms {
    hh_qterm_t *t;           /* (n) distinct terms: the words' own, groups ascending, then the expansions by rank */
    size_t      n;
    int32_t     n_groups;    /* content words */
    char      **words;       /* (n_groups) each group's word, lowercased (exact-form check) */
    hh_lang_t   lang;        /* detected language of the question */
} hh_query_terms_t;

/* Analyzes the question text (loads the query files on first use). a may
 * be NULL: stems alone. Function words are dropped unless the question has
 * nothing else. *out is filled (hh_query_terms_free); n may be 0.
 * HH_ENOMEM. */
int  hh_analyzer_query_terms(hh_analyzer_t *a, const char *text, hh_query_terms_t *out, hh_err_t *err);
void hh_query_terms_free(hh_query_terms_t *q);

/* Whether w[0..len) is an English or German function word ("the", "und"). */
bool hh_an_is_stopword(const char *w, size_t len);

#endif
