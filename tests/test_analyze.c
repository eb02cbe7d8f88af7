/* test_analyze.c - the language-aware index (kb/analyze, issue 14): index
 * terms (stems, German compounds), query terms (synonyms, translations,
 * weights), the store's analyzed index (migration 14: ingestion, filling,
 * the upgrade of a schema 12 store, rewritten text), and retrieval over
 * German company documents written for this test: colloquial, compound,
 * synonym and English questions, exact matches above synonym matches, and
 * the isolation of ranking from another department's words. Uses Debian's
 * wngerman, openthesaurus-de-text and trans-de-en (scripts/deps.sh). */
#include "harness.h"
#include "kb_fill.h"
#include "kb/analyze.h"
#include "kb/ingest.h"
#include "kb/retrieve.h"
#include "store/store.h"
#include "store/store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- helpers --------------------------------------------------------------- */


/* Whether the space-separated term list holds term t. */
static bool has_term(const char *terms, const char *t)
{
    size_t n = strlen(t);
    for (const char *p = terms; (p = strstr(p, t)) != NULL; p++)
        if ((p == terms || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
            return true;
    return false;
}

static char *index_terms(const char *text, hh_lang_t lang)
{
    char *t = NULL;
    hh_err_t err;
    if (hh_analyzer_index_terms(hh_test_analyzer(), text, strlen(text), lang, &t, &err) != 0)
        return NULL;
    return t;
}

/* The query term t: its weight and kind, or weight -1 when absent. */
static float qweight(const hh_query_terms_t *q, const char *t, hh_an_kind_t *kind)
{
    for (size_t i = 0; i < q->n; i++)
        if (!strcmp(q->t[i].term, t)) {
            if (kind)
                *kind = q->t[i].kind;
            return q->t[i].weight;
        }
    return -1;
}

#define ASSERT_TERM(terms, t) do { if (!has_term((terms), (t))) { \
    hh_test_fail(__FILE__, __LINE__, "term '%s' missing from '%s'", (t), (terms)); free(terms); return; } } while (0)
#define ASSERT_NO_TERM(terms, t) do { if (has_term((terms), (t))) { \
    hh_test_fail(__FILE__, __LINE__, "term '%s' unexpected in '%s'", (t), (terms)); free(terms); return; } } while (0)

/* ---- index terms ------------------------------------------------------------- */

TEST(analyze_stems_by_language)
{
    ASSERT_TRUE(hh_test_analyzer() != NULL);
    char *t = index_terms("Die Mitarbeiterinnen erhalten ihre Gehälter monatlich.", HH_LANG_DE);
    ASSERT_TRUE(t != NULL);
    ASSERT_TERM(t, "mitarbeiterinn");
    ASSERT_TERM(t, "gehalt");       /* German Snowball: umlaut folded, plural ending off */
    ASSERT_TERM(t, "monat");
    ASSERT_NO_TERM(t, "monatlich"); /* the English stemmer did not run */
    free(t);
    t = index_terms("Employees are running the holidays booking.", HH_LANG_EN);
    ASSERT_TRUE(t != NULL);
    ASSERT_TERM(t, "employe");
    ASSERT_TERM(t, "run");
    ASSERT_TERM(t, "holiday");
    ASSERT_TERM(t, "book");
    free(t);
    /* unknown language: both stemmers (two terms when they differ) */
    t = index_terms("Fahrten", HH_LANG_UNKNOWN);
    ASSERT_TRUE(t != NULL);
    ASSERT_TERM(t, "fahrt");
    ASSERT_TERM(t, "fahrten");
    free(t);
    /* no words, no terms */
    t = index_terms("  ... !!! ", HH_LANG_DE);
    ASSERT_STREQ(t, "");
    free(t);
    /* a word longer than 64 bytes: its first 64, lowercased, unstemmed, on
     * both sides (so it is still found) */
    char longw[101];
    memset(longw, 'X', 100);
    longw[100] = '\0';
    t = index_terms(longw, HH_LANG_DE);
    ASSERT_TRUE(t != NULL);
    ASSERT_EQ_INT(strlen(t), 64);
    ASSERT_TRUE(t[0] == 'x' && t[63] == 'x');
    hh_query_terms_t q;
    hh_err_t err;
    ASSERT_OK(hh_analyzer_query_terms(hh_test_analyzer(), longw, &q, &err));
    ASSERT_EQ_INT(q.n, 1);
    ASSERT_STREQ(q.t[0].term, t);
    hh_query_terms_free(&q);
    free(t);
}

TEST(analyze_german_compounds)
{
    ASSERT_TRUE(hh_test_analyzer() != NULL);
    char *t = index_terms("Urlaubstage", HH_LANG_DE);   /* Fugen-s, plural tail */
    ASSERT_TRUE(t != NULL);
    ASSERT_STREQ(t, "urlaubstag urlaub tag");
    free(t);
    t = index_terms("Erholungsurlaub", HH_LANG_DE);
    ASSERT_STREQ(t, "erholungsurlaub erhol urlaub");
    free(t);
    t = index_terms("Reisekostenabrechnung", HH_LANG_DE);   /* three parts, the head splits again */
    ASSERT_TERM(t, "reisekostenabrechn");
    ASSERT_TERM(t, "reisekost");
    ASSERT_TERM(t, "abrechn");
    ASSERT_TERM(t, "reis");
    ASSERT_TERM(t, "kost");
    free(t);
    t = index_terms("Arbeitnehmerinnen Kundendienst Dienstwagen", HH_LANG_DE);   /* Fugen-n before "dienst" etc. */
    ASSERT_TERM(t, "arbeitnehmerinn");
    ASSERT_TERM(t, "arbeit");
    ASSERT_TERM(t, "kundendien");
    ASSERT_TERM(t, "kund");
    ASSERT_TERM(t, "dienstwag");
    ASSERT_TERM(t, "wag");
    free(t);
    /* words that are no compounds stay whole */
    t = index_terms("Verwaltung Mitarbeiter Gesundheit Abteilung", HH_LANG_DE);
    ASSERT_STREQ(t, "verwalt mitarbeit gesund abteil");
    free(t);
    /* English text is not split */
    t = index_terms("Handbook", HH_LANG_EN);
    ASSERT_STREQ(t, "handbook");
    free(t);
}

TEST(analyze_query_weights_synonyms_translations)
{
    hh_analyzer_t *a = hh_test_analyzer();
    ASSERT_TRUE(a != NULL);
    hh_query_terms_t q;
    hh_err_t err;
    ASSERT_OK(hh_analyzer_query_terms(a, "Was krieg ich, wenn ich mit meinem eigenen Auto fahre?", &q, &err));
    ASSERT_EQ_INT(q.lang, HH_LANG_DE);
    hh_an_kind_t kind = HH_AN_EXACT;
    ASSERT_NEAR(qweight(&q, "auto", &kind), HH_AN_W_EXACT, 1e-6);
    ASSERT_EQ_INT(kind, HH_AN_EXACT);
    ASSERT_NEAR(qweight(&q, "pkw", &kind), HH_AN_W_SYN, 1e-6);   /* OpenThesaurus: Auto;...;Pkw */
    ASSERT_EQ_INT(kind, HH_AN_SYN);
    ASSERT_NEAR(qweight(&q, "car", &kind), HH_AN_W_TRANS, 1e-6);   /* trans-de-en: Auto :: car */
    ASSERT_EQ_INT(kind, HH_AN_TRANS);
    ASSERT_TRUE(qweight(&q, "ich", NULL) < 0);   /* function words dropped */
    ASSERT_TRUE(qweight(&q, "wenn", NULL) < 0);
    ASSERT_TRUE(q.n <= HH_AN_MAX_TERMS);
    /* each word's expansions stay within their caps */
    for (int32_t g = 0; g < q.n_groups; g++) {
        int syn = 0, tr = 0;
        for (size_t i = 0; i < q.n; i++)
            if (q.t[i].group == g) {
                syn += q.t[i].kind == HH_AN_SYN;
                tr += q.t[i].kind == HH_AN_TRANS && q.t[i].weight == HH_AN_W_TRANS;
            }
        ASSERT_TRUE(syn <= HH_AN_MAX_SYN);
        ASSERT_TRUE(tr <= 2 * HH_AN_MAX_TRANS);
    }
    hh_query_terms_free(&q);

    ASSERT_OK(hh_analyzer_query_terms(a, "Wie viele Urlaubstage habe ich?", &q, &err));
    ASSERT_NEAR(qweight(&q, "urlaubstag", NULL), HH_AN_W_EXACT, 1e-6);
    ASSERT_NEAR(qweight(&q, "urlaub", &kind), HH_AN_W_PART, 1e-6);
    ASSERT_EQ_INT(kind, HH_AN_PART);
    ASSERT_NEAR(qweight(&q, "tag", NULL), HH_AN_W_PART, 1e-6);
    hh_query_terms_free(&q);

    /* English question: English stems first, German translations lower */
    ASSERT_OK(hh_analyzer_query_terms(a, "How many vacation days do I get?", &q, &err));
    ASSERT_EQ_INT(q.lang, HH_LANG_EN);
    ASSERT_NEAR(qweight(&q, "vacat", NULL), HH_AN_W_EXACT, 1e-6);
    ASSERT_NEAR(qweight(&q, "urlaub", &kind), HH_AN_W_TRANS, 1e-6);
    ASSERT_EQ_INT(kind, HH_AN_TRANS);
    ASSERT_NEAR(qweight(&q, "tag", NULL), HH_AN_W_TRANS, 1e-6);
    ASSERT_TRUE(qweight(&q, "pkw", NULL) < 0);   /* no German synonyms for English words */
    hh_query_terms_free(&q);

    /* a question of function words only still searches them */
    ASSERT_OK(hh_analyzer_query_terms(a, "was ist das", &q, &err));
    ASSERT_EQ_INT(q.n_groups, 3);
    hh_query_terms_free(&q);
}

/* How staff phrase questions (s14-recall): function words of questions,
 * verb forms the stemmer keeps whole, colloquial words, the word class of
 * a thesaurus entry, and compound parts that meet whichever form they
 * take. Examples written for this test, not from the labeled set. */
TEST(analyze_question_phrasing)
{
    hh_analyzer_t *a = hh_test_analyzer();
    ASSERT_TRUE(a != NULL);
    hh_query_terms_t q;
    hh_err_t err;
    hh_an_kind_t kind = HH_AN_SYN;

    /* modal verbs, possessives and "gibts" are no query terms; the word
     * after "wie" is searched low and never expanded */
    ASSERT_OK(hh_analyzer_query_terms(a, "Wie lange darf ich mein Fahrrad im Keller lassen, gibts Regeln?", &q, &err));
    ASSERT_EQ_INT(q.lang, HH_LANG_DE);
    ASSERT_TRUE(qweight(&q, "darf", NULL) < 0);
    ASSERT_TRUE(qweight(&q, "mein", NULL) < 0);
    ASSERT_TRUE(qweight(&q, "gibt", NULL) < 0);
    ASSERT_TRUE(qweight(&q, "gibts", NULL) < 0);
    ASSERT_NEAR(qweight(&q, "lang", &kind), HH_AN_W_MEASURE, 1e-6);
    ASSERT_EQ_INT(kind, HH_AN_EXACT);
    ASSERT_TRUE(qweight(&q, "ellenlang", NULL) < 0);   /* a synonym of "lang": not for "wie lange" */
    ASSERT_NEAR(qweight(&q, "fahrrad", NULL), HH_AN_W_EXACT, 1e-6);
    /* a German question gets German stems only: not also the English
     * stemmer's "lassen" */
    ASSERT_TRUE(qweight(&q, "lassen", NULL) < 0);
    ASSERT_NEAR(qweight(&q, "lass", NULL), HH_AN_W_EXACT, 1e-6);
    hh_query_terms_free(&q);
    /* "lang" outside "wie lange" is an ordinary word */
    ASSERT_OK(hh_analyzer_query_terms(a, "Ist der Flur lang genug?", &q, &err));
    ASSERT_NEAR(qweight(&q, "lang", NULL), HH_AN_W_EXACT, 1e-6);
    hh_query_terms_free(&q);

    /* a verb form Snowball keeps whole is searched as its infinitive's
     * stem, and expanded as the verb (not as the homograph noun "Zahl") */
    ASSERT_OK(hh_analyzer_query_terms(a, "Wer bezahlt die Miete?", &q, &err));
    ASSERT_NEAR(qweight(&q, "bezahlt", NULL), HH_AN_W_EXACT, 1e-6);
    ASSERT_NEAR(qweight(&q, "bezahl", &kind), HH_AN_W_EXACT, 1e-6);
    ASSERT_EQ_INT(kind, HH_AN_EXACT);
    ASSERT_NEAR(qweight(&q, "begleich", &kind), HH_AN_W_SYN, 1e-6);   /* OpenThesaurus: bezahlen;begleichen */
    ASSERT_EQ_INT(kind, HH_AN_SYN);
    hh_query_terms_free(&q);
    ASSERT_OK(hh_analyzer_query_terms(a, "Wer zahlt die Miete?", &q, &err));
    ASSERT_NEAR(qweight(&q, "zahl", NULL), HH_AN_W_EXACT, 1e-6);
    ASSERT_TRUE(qweight(&q, "ziff", NULL) < 0);       /* Zahl;Ziffer is the noun */
    ASSERT_TRUE(qweight(&q, "zahlzeich", NULL) < 0);
    hh_query_terms_free(&q);
    /* a verb in -eln/-ern meets its -ung noun ("verwandeln", "Verwandlung") */
    ASSERT_OK(hh_analyzer_query_terms(a, "Kann man Resturlaub verwandeln?", &q, &err));
    char *t = index_terms("Verwandlung", HH_LANG_DE);
    ASSERT_TRUE(t != NULL);
    ASSERT_NEAR(qweight(&q, t, NULL), HH_AN_W_EXACT, 1e-6);
    free(t);
    hh_query_terms_free(&q);

    /* a colloquial word ("kriegen (ugs.)") expands to the standard words of
     * its colloquial sense first, not to those of "Krieg", and they weigh
     * more than other synonyms: they are what a document says */
    ASSERT_OK(hh_analyzer_query_terms(a, "Wann kriegt man das Zeugnis?", &q, &err));
    ASSERT_NEAR(qweight(&q, "bekomm", &kind), HH_AN_W_SYN_UGS, 1e-6);
    ASSERT_EQ_INT(kind, HH_AN_SYN);
    ASSERT_NEAR(qweight(&q, "erhalt", NULL), HH_AN_W_SYN_UGS, 1e-6);
    ASSERT_TRUE(qweight(&q, "soldat", NULL) < 0);
    ASSERT_TRUE(qweight(&q, "kampf", NULL) < 0);
    hh_query_terms_free(&q);

    /* compound parts: a verb stem as the first part ("Abstell|raum": abstellen),
     * and a part stemmed from its dictionary form, so that "Tanzkurs" and
     * "Sprachkurse" share the part (Snowball: kurs -> kur, kurse -> kurs) */
    t = index_terms("Abstellraum", HH_LANG_DE);
    ASSERT_STREQ(t, "abstellraum abstell raum");
    free(t);
    t = index_terms("Tanzkurs Sprachkurse", HH_LANG_DE);
    ASSERT_STREQ(t, "tanzkur tanz kur sprachkurs sprach kur");
    free(t);
    ASSERT_OK(hh_analyzer_query_terms(a, "Gibt es einen Tanzkurs?", &q, &err));
    ASSERT_NEAR(qweight(&q, "kur", &kind), HH_AN_W_PART, 1e-6);
    ASSERT_EQ_INT(kind, HH_AN_PART);
    hh_query_terms_free(&q);
}

/* Question forms (issue 14, synonym and colloquial questions): an
 * abbreviation in capitals is searched; a strong verb's umlaut and a
 * participle's "ge" are undone for the infinitive; a standard word with
 * a colloquial sense keeps its standard synonyms at the plain weight; the
 * expansion budget reaches the last words of a long question. */
TEST(analyze_question_forms_and_budget)
{
    hh_analyzer_t *a = hh_test_analyzer();
    ASSERT_TRUE(a != NULL);
    hh_query_terms_t q;
    hh_err_t err;
    hh_an_kind_t kind;
    /* "IT" is not the English "it" */
    ASSERT_OK(hh_analyzer_query_terms(a, "Wann ist die IT erreichbar?", &q, &err));
    ASSERT_NEAR(qweight(&q, "it", &kind), HH_AN_W_EXACT, 1e-6);
    ASSERT_EQ_INT(kind, HH_AN_EXACT);
    hh_query_terms_free(&q);
    ASSERT_OK(hh_analyzer_query_terms(a, "what is it used for", &q, &err));
    ASSERT_TRUE(qweight(&q, "it", NULL) < 0);
    hh_query_terms_free(&q);
    /* läuft -> laufen, fährt -> fahren */
    ASSERT_OK(hh_analyzer_query_terms(a, "Wann läuft die Frist ab und wer fährt?", &q, &err));
    ASSERT_NEAR(qweight(&q, "lauf", NULL), HH_AN_W_EXACT, 1e-6);
    ASSERT_NEAR(qweight(&q, "fahr", NULL), HH_AN_W_EXACT, 1e-6);
    hh_query_terms_free(&q);
    /* participles: ausgezahlt -> auszahlen, gemeldet -> melden; a noun in
     * ge- stays ("Gedanken" is no form of "danken") */
    ASSERT_OK(hh_analyzer_query_terms(a, "Wird der Resturlaub ausgezahlt?", &q, &err));
    ASSERT_NEAR(qweight(&q, "auszahl", NULL), HH_AN_W_EXACT, 1e-6);
    hh_query_terms_free(&q);
    ASSERT_OK(hh_analyzer_query_terms(a, "Wem wird der Unfall gemeldet?", &q, &err));
    ASSERT_NEAR(qweight(&q, "meld", NULL), HH_AN_W_EXACT, 1e-6);
    hh_query_terms_free(&q);
    ASSERT_OK(hh_analyzer_query_terms(a, "Welche Gedanken gibt es?", &q, &err));
    ASSERT_TRUE(qweight(&q, "dank", NULL) < 0);
    hh_query_terms_free(&q);
    /* "Chef" is marked colloquial in one set (Präsident) and plain in
     * another: a standard word, its synonyms at the plain weight */
    ASSERT_OK(hh_analyzer_query_terms(a, "Wer ist mein Chef?", &q, &err));
    size_t n_syn = 0;
    for (size_t i = 0; i < q.n; i++)
        if (q.t[i].kind == HH_AN_SYN) {
            ASSERT_NEAR(q.t[i].weight, HH_AN_W_SYN, 1e-6);
            n_syn++;
        }
    ASSERT_TRUE(n_syn > 0);
    ASSERT_NEAR(qweight(&q, "vorgesetzt", NULL), HH_AN_W_SYN, 1e-6);
    hh_query_terms_free(&q);
    /* the budget is shared: every word of a long question gets its first
     * expansion before any gets a second */
    ASSERT_OK(hh_analyzer_query_terms(
        a, "Was zahlt die Firma, wenn ich einen Bekannten als neuen Kollegen vermittle?", &q, &err));
    bool got[HH_AN_MAX_WORDS] = { false };
    size_t n_exp = 0;
    for (size_t i = 0; i < q.n; i++)
        if (q.t[i].kind == HH_AN_SYN || q.t[i].kind == HH_AN_TRANS) {
            got[q.t[i].group] = true;
            n_exp++;
        }
    ASSERT_TRUE(n_exp <= HH_AN_MAX_EXPANSIONS);
    for (int32_t g = 0; g < q.n_groups; g++)
        if (!got[g]) {
            hh_test_fail(__FILE__, __LINE__, "word '%s' got no expansion", q.words[g]);
            break;
        }
    hh_query_terms_free(&q);
}

TEST(analyze_without_files_is_stemming_only)
{
    hh_analyzer_params_t p = { .compounds = "", .thesaurus = "", .translations = "" };
    hh_analyzer_t *a = NULL;
    hh_err_t err;
    ASSERT_OK(hh_analyzer_create(&a, &p, &err));
    hh_analyzer_params_t missing = { .compounds = "/nonexistent/ngerman", .thesaurus = "/nonexistent/th",
                                     .translations = "/nonexistent/de-en" };
    hh_analyzer_t *b = NULL;
    ASSERT_OK(hh_analyzer_create(&b, &missing, &err));   /* absent files: features off, no error */
    hh_analyzer_t *both[] = { a, b, NULL };   /* NULL: the analyzer-less path of retrieval */
    for (int i = 0; i < 3; i++) {
        ASSERT_EQ_INT(hh_analyzer_level(both[i]), 1);
        char *t = NULL;
        ASSERT_OK(hh_analyzer_index_terms(both[i], "Urlaubstage", 11, HH_LANG_DE, &t, &err));
        ASSERT_STREQ(t, "urlaubstag");
        free(t);
        hh_query_terms_t q;
        ASSERT_OK(hh_analyzer_query_terms(both[i], "Wie viele Urlaubstage habe ich mit dem Auto?", &q, &err));
        for (size_t k = 0; k < q.n; k++)
            ASSERT_EQ_INT(q.t[k].kind, HH_AN_EXACT);
        ASSERT_NEAR(qweight(&q, "urlaubstag", NULL), 1.0, 1e-6);
        hh_query_terms_free(&q);
        hh_analyzer_stats_t st;
        hh_analyzer_stats(both[i], &st);
        ASSERT_EQ_INT(st.compound_words + st.thesaurus_terms + st.translation_terms, 0);
    }
    hh_analyzer_free(a);
    hh_analyzer_free(b);
    /* with the files: loaded, counted, measured */
    hh_analyzer_stats_t st;
    hh_analyzer_stats(hh_test_analyzer(), &st);
    ASSERT_EQ_INT(hh_analyzer_level(hh_test_analyzer()), 3);
    ASSERT_GE(st.compound_words, 300000);
    ASSERT_GE(st.thesaurus_terms, 30000);
    ASSERT_GE(st.translation_terms, 100000);
    ASSERT_LE(st.bytes, 96u << 20);
    printf("    analyzer: %zu words (%.0f ms), %zu thesaurus + %zu dictionary keys (%.0f ms), %.1f MiB\n",
           st.compound_words, st.compounds_ms, st.thesaurus_terms, st.translation_terms, st.query_files_ms,
           (double)st.bytes / 1048576.0);
}

/* ---- retrieval over German company documents -------------------------------- */

typedef struct kb {
    hh_store_t *s;
    int64_t     hr, it, secret;
} kb_t;

static int add_doc(hh_store_t *s, int64_t coll, const char *path, const char *title, const char *const *texts,
                   const char *const *headings, size_t n)
{
    hh_store_chunk_in_t ch[16];
    if (n > 16)
        return HH_EINVAL;
    memset(ch, 0, sizeof ch);
    for (size_t i = 0; i < n; i++) {
        ch[i].text = texts[i];
        ch[i].heading_path = headings ? headings[i] : title;
        ch[i].page = (int32_t)i + 1;
    }
    char sha[65];
    uint32_t h = 5381;
    for (const char *p = path; *p; p++)
        h = h * 33 + (unsigned char)*p;
    for (int i = 0; i < 64; i++)
        sha[i] = "0123456789abcdef"[(h >> (i % 8 * 4)) & 15];
    sha[64] = '\0';
    hh_store_doc_in_t d = { .collection_id = coll, .title = title, .source_path = path, .mime = "text/plain",
                            .sha256 = sha, .size = 100, .chunks = ch, .n_chunks = n };
    hh_err_t err;
    int rc = hh_store_doc_replace(s, &d, NULL, NULL, &err);
    if (rc)
        fprintf(stderr, "doc_replace: %s\n", err.msg);
    return rc;
}

/* The company handbook (written for this test): HR, travel, IT, canteen. */
static const char *const g_urlaub[] = {
    "Beschäftigte in Vollzeit haben Anspruch auf 30 Arbeitstage Erholungsurlaub im Kalenderjahr bei einer "
    "Fünftagewoche. Schwerbehinderte Beschäftigte erhalten fünf zusätzliche Tage.",
    "Der Urlaubsantrag ist spätestens zwei Wochen vor Beginn über das Personalportal zu stellen. Die "
    "Führungskraft entscheidet innerhalb von drei Werktagen.",
    "Nicht genommener Resturlaub verfällt am 31. März des Folgejahres, sofern er nicht aus betrieblichen "
    "Gründen verschoben wurde.",
};
static const char *const g_urlaub_h[] = {
    "Personalhandbuch › Urlaub › Anspruch", "Personalhandbuch › Urlaub › Antrag", "Personalhandbuch › Urlaub › Übertrag",
};
static const char *const g_reise[] = {
    "Dienstreisen sind vorab im Reiseportal zu beantragen. Bahnfahrten erfolgen in der zweiten Klasse, bei mehr "
    "als vier Stunden Fahrzeit in der ersten Klasse.",
    "Fahrten mit dem privaten PKW werden mit 0,30 Euro je gefahrenem Kilometer erstattet, wenn kein Dienstwagen "
    "verfügbar ist. Parkgebühren werden gegen Beleg ersetzt.",
    "Die Reisekostenabrechnung ist innerhalb von sechs Monaten nach Reiseende mit allen Belegen einzureichen. "
    "Verpflegungsmehraufwand wird nach den steuerlichen Pauschalen gezahlt.",
    "Hotelübernachtungen werden bis 120 Euro pro Nacht übernommen; in München, Frankfurt und Hamburg bis 150 Euro.",
};
static const char *const g_reise_h[] = {
    "Reiserichtlinie › Genehmigung", "Reiserichtlinie › Fahrtkosten › Privatfahrzeug", "Reiserichtlinie › Abrechnung",
    "Reiserichtlinie › Übernachtung",
};
static const char *const g_it[] = {
    "Passwörter müssen mindestens zwölf Zeichen lang sein und werden alle zwölf Monate geändert. Die "
    "Zwei-Faktor-Anmeldung ist für den Fernzugriff Pflicht.",
    "Der Dienstwagen der IT-Bereitschaft steht in der Tiefgarage, Stellplatz 14; das Auto wird über das "
    "Buchungssystem reserviert.",
    "Verlorene Laptops sind sofort dem Servicedesk zu melden, damit das Gerät gesperrt werden kann.",
};
static const char *const g_kantine[] = {
    "Die Kantine ist montags bis freitags von 11:30 bis 14:00 Uhr geöffnet. Es gibt täglich ein vegetarisches "
    "Gericht.",
    "Abgerechnet wird über den Mitarbeiterausweis; der Arbeitgeber bezuschusst jede Mahlzeit mit 3,10 Euro.",
};

static int kb_open(kb_t *k, const char *name)
{
    memset(k, 0, sizeof *k);
    char dir[512];
    snprintf(dir, sizeof dir, "%s/%s", hh_test_tmpdir(), name);
    hh_err_t err;
    int rc = hh_store_open(&k->s, dir, &err);
    hh_store_user_t u;
    hh_store_collection_t c;
    const char *all[] = { "STAFF" }, *sec[] = { "BOARD" };
    if (!rc)
        rc = hh_store_user_ensure(k->s, "anna", "member", &u, NULL, &err);
    if (!rc)
        rc = hh_store_user_add_department(k->s, "anna", "STAFF", &err);
    if (!rc && !(rc = hh_store_collection_ensure(k->s, "handbuch", all, 1, &c, &err)))
        k->hr = c.id;
    if (!rc && !(rc = hh_store_collection_ensure(k->s, "it", all, 1, &c, &err)))
        k->it = c.id;
    if (!rc && !(rc = hh_store_collection_ensure(k->s, "vorstand", sec, 1, &c, &err)))
        k->secret = c.id;
    if (!rc)
        rc = add_doc(k->s, k->hr, "hb/urlaub.txt", "Urlaubsregelung", g_urlaub, g_urlaub_h, 3);
    if (!rc)
        rc = add_doc(k->s, k->hr, "hb/reise.txt", "Reiserichtlinie", g_reise, g_reise_h, 4);
    if (!rc)
        rc = add_doc(k->s, k->it, "it/it.txt", "IT-Regeln", g_it, NULL, 3);
    if (!rc)
        rc = add_doc(k->s, k->hr, "hb/kantine.txt", "Kantine", g_kantine, NULL, 2);
    return rc;
}

/* The 1-based rank of the first hit whose text holds needle (0: not in k). */
static int rank_of(hh_store_t *s, hh_analyzer_t *a, const char *user, const char *text, const char *needle,
                   int k, bool rerank)
{
    hh_kb_query_t q = { .analyzer = a, .no_rerank = !rerank, .user = user, .text = text, .k = k };
    hh_kb_hit_t *h = NULL;
    size_t n = 0;
    hh_err_t err;
    if (kb_retrieve_mode_filled(s, NULL, NULL, &q, HH_KB_BM25_ONLY, &h, &n, &err) != 0) {
        printf("    retrieve: %s\n", err.msg);
        return -1;
    }
    int r = 0;
    for (size_t i = 0; i < n && !r; i++)
        if (strstr(h[i].text, needle))
            r = (int)i + 1;
    hh_kb_hits_free(h, n);
    return r;
}

#define ASSERT_RANK1(s, a, q, needle) do { int _r = rank_of((s), (a), "anna", (q), (needle), 5, true); \
    if (_r != 1) { hh_test_fail(__FILE__, __LINE__, "\"%s\": \"%s\" at rank %d, expected 1", (q), (needle), _r); return; } } while (0)

TEST(analyze_retrieval_german_questions)
{
    kb_t k;
    ASSERT_OK(kb_open(&k, "analyze_german"));
    hh_analyzer_t *a = hh_test_analyzer();
    ASSERT_TRUE(a != NULL);
    /* the examples */
    ASSERT_RANK1(k.s, a, "Wie viele Urlaubstage habe ich?", "30 Arbeitstage Erholungsurlaub");
    ASSERT_RANK1(k.s, a, "Was krieg ich, wenn ich mit meinem eigenen Auto fahre?", "Fahrten mit dem privaten PKW");
    ASSERT_RANK1(k.s, a, "How many vacation days do I get?", "30 Arbeitstage Erholungsurlaub");
    /* compounds both ways, inflection, English */
    ASSERT_RANK1(k.s, a, "Bis wann muss ich die Reisekosten abrechnen?", "Reisekostenabrechnung");
    ASSERT_RANK1(k.s, a, "Wann verfällt mein Urlaub?", "Resturlaub verfällt");
    ASSERT_RANK1(k.s, a, "Wie lang muss ein Passwort sein?", "Passwörter müssen");
    ASSERT_RANK1(k.s, a, "How long must a password be?", "Passwörter müssen");
    ASSERT_RANK1(k.s, a, "Wann hat die Kantine offen?", "Kantine ist montags");
    ASSERT_RANK1(k.s, a, "hotel costs per night", "Hotelübernachtungen");

    /* without the analyzer's files (stems alone) the colloquial and
     * English questions are not found first: the files do the work */
    int r1 = rank_of(k.s, NULL, "anna", "Was krieg ich, wenn ich mit meinem eigenen Auto fahre?",
                     "Fahrten mit dem privaten PKW", 5, true);
    int r2 = rank_of(k.s, NULL, "anna", "How many vacation days do I get?", "30 Arbeitstage Erholungsurlaub", 5, true);
    ASSERT_TRUE(r1 != 1);
    ASSERT_TRUE(r2 != 1);

    /* chunks.lang and terms are set for every chunk */
    sqlite3_stmt *st = NULL;
    ASSERT_EQ_INT(sqlite3_prepare_v2(k.s->db, "SELECT count(*), sum(lang = 'de'), sum(terms_level = 3) FROM chunks",
                                     -1, &st, NULL), SQLITE_OK);
    ASSERT_EQ_INT(sqlite3_step(st), SQLITE_ROW);
    ASSERT_EQ_INT(sqlite3_column_int(st, 0), 12);
    ASSERT_EQ_INT(sqlite3_column_int(st, 1), 12);
    ASSERT_EQ_INT(sqlite3_column_int(st, 2), 12);
    sqlite3_finalize(st);
    hh_store_close(k.s);
}

TEST(analyze_exact_match_ranks_above_synonym)
{
    kb_t k;
    ASSERT_OK(kb_open(&k, "analyze_exact"));
    hh_analyzer_t *a = hh_test_analyzer();
    /* "Auto" stands in the IT chunk, its synonym "PKW" in the travel chunk */
    ASSERT_RANK1(k.s, a, "Auto", "das Auto wird");
    int syn = rank_of(k.s, a, "anna", "Auto", "Fahrten mit dem privaten PKW", 5, true);
    ASSERT_TRUE(syn > 1);
    /* and the other way round */
    ASSERT_RANK1(k.s, a, "PKW", "Fahrten mit dem privaten PKW");
    syn = rank_of(k.s, a, "anna", "PKW", "das Auto wird", 5, true);
    ASSERT_TRUE(syn > 1);
    /* also in the first stage alone */
    ASSERT_EQ_INT(rank_of(k.s, a, "anna", "Auto", "das Auto wird", 5, false), 1);
    ASSERT_EQ_INT(rank_of(k.s, a, "anna", "PKW", "Fahrten mit dem privaten PKW", 5, false), 1);
    hh_store_close(k.s);
}

/* The attacker (anna) may read the handbook and IT; the board's collection
 * holds words she may search for. Her results, their order and every score
 * must be the same whether the board's documents hold the word, its
 * synonym, both or neither. */
typedef struct snap {
    size_t  n;
    int64_t id[8];
    double  bm25[8], rerank[8];
} snap_t;

static int take_snap(hh_store_t *s, hh_analyzer_t *a, const char *text, snap_t *r)
{
    hh_kb_query_t q = { .analyzer = a, .user = "anna", .text = text, .k = 8 };
    hh_kb_hit_t *h = NULL;
    size_t n = 0;
    hh_err_t err;
    memset(r, 0, sizeof *r);
    int rc = kb_retrieve_mode_filled(s, NULL, NULL, &q, HH_KB_BM25_ONLY, &h, &n, &err);
    if (rc)
        return rc;
    r->n = n;
    for (size_t i = 0; i < n && i < 8; i++) {
        r->id[i] = h[i].chunk_id;
        r->bm25[i] = h[i].bm25;
        r->rerank[i] = h[i].rerank;
    }
    hh_kb_hits_free(h, n);
    return 0;
}

TEST(analyze_isolation_synonyms_and_stats_scoped)
{
    kb_t k;
    ASSERT_OK(kb_open(&k, "analyze_isolation"));
    hh_analyzer_t *a = hh_test_analyzer();
    static const char *const queries[] = {
        "Auto Kilometer erstattet", "PKW Dienstwagen", "Fusion mit der Konkurrenz", "merger car",
    };
    /* what the board's collection holds in each round */
    static const char *const board[][4] = {
        { "Vertraulich: keine Angaben.", "Sitzung am Montag.", "Protokoll folgt.", "Ende." },
        { "Vertraulich: Das Auto des Vorstands, ein PKW der Oberklasse, kostet 1 Euro pro Kilometer.",
          "Fusion mit der Konkurrenz: Fusion, Fusion, Übernahme der Konkurrenz geplant.",
          "Geheim: Automobil, Wagen, Kraftfahrzeug und Dienstwagen in großer Zahl erstattet.",
          "merger merger car car car" },
        { "Vertraulich: Personenkraftwagen und Auto; Auto; Auto.", "Zusammenschluss und Fusion.", "PKW PKW PKW",
          "Kilometer Kilometer erstattet erstattet" },
    };
    snap_t before[4], after[4];
    for (int r = 0; r < 3; r++) {
        ASSERT_OK(add_doc(k.s, k.secret, "board/minutes.txt", "Protokoll", board[r], NULL, 4));
        for (int q = 0; q < 4; q++) {
            snap_t *sn = r == 0 ? &before[q] : &after[q];
            ASSERT_OK(take_snap(k.s, a, queries[q], sn));
            if (r == 0) {
                if (q < 2)
                    ASSERT_TRUE(sn->n >= 2);   /* the queries find something of anna's */
                continue;
            }
            ASSERT_EQ_INT(after[q].n, before[q].n);
            for (size_t i = 0; i < before[q].n; i++) {
                ASSERT_EQ_INT(after[q].id[i], before[q].id[i]);
                if (memcmp(&after[q].bm25[i], &before[q].bm25[i], sizeof(double)) ||
                    memcmp(&after[q].rerank[i], &before[q].rerank[i], sizeof(double)))
                    hh_test_fail(__FILE__, __LINE__, "\"%s\" hit %zu: bm25 %.17g / %.17g, rerank %.17g / %.17g "
                                 "(board round %d / without)", queries[q], i, after[q].bm25[i], before[q].bm25[i],
                                 after[q].rerank[i], before[q].rerank[i], r);
                ASSERT_TRUE(!memcmp(&after[q].bm25[i], &before[q].bm25[i], sizeof(double)));
                ASSERT_TRUE(!memcmp(&after[q].rerank[i], &before[q].rerank[i], sizeof(double)));
            }
        }
    }
    /* and never a board chunk */
    hh_kb_query_t q = { .analyzer = a, .user = "anna", .text = "Fusion Konkurrenz Vorstand Auto", .k = 20 };
    hh_kb_hit_t *h = NULL;
    size_t n = 0;
    hh_err_t err;
    ASSERT_OK(kb_retrieve_filled(k.s, NULL, NULL, &q, &h, &n, &err));
    for (size_t i = 0; i < n; i++)
        ASSERT_TRUE(h[i].collection_id != k.secret);
    hh_kb_hits_free(h, n);
    hh_store_close(k.s);
}

/* ---- the store's analyzed index ------------------------------------------------ */

static int q_int(hh_store_t *s, const char *sql, const char *arg)
{
    sqlite3_stmt *st = NULL;
    int v = -1;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return -2;
    if (arg)
        sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return v;
}

TEST(analyze_ingest_stores_lang_and_terms)
{
    char dir[512], src[600], path[700];
    snprintf(dir, sizeof dir, "%s/analyze_ingest", hh_test_tmpdir());
    snprintf(src, sizeof src, "%s/src", dir);
    mkdir(dir, 0700);
    mkdir(src, 0700);
    static const char *const files[][2] = {
        { "urlaub.txt", "Urlaubsregelung\n\nDer Erholungsurlaub beträgt 30 Arbeitstage im Jahr. Die Urlaubstage "
                        "werden über das Portal beantragt und von der Führungskraft genehmigt.\n" },
        { "travel.txt", "Travel policy\n\nAll business trips must be approved by the manager before the booking "
                        "is made. The travel desk books the hotels and the trains.\n" },
    };
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/%s", src, files[i][0]);
        FILE *f = fopen(path, "w");
        ASSERT_TRUE(f != NULL);
        fputs(files[i][1], f);
        fclose(f);
    }
    hh_store_t *s = NULL;
    hh_err_t err;
    ASSERT_OK(hh_store_open(&s, dir, &err));
    ASSERT_OK(hh_store_collection_ensure(s, "docs", NULL, 0, NULL, &err));
    hh_ingest_params_t ip = hh_ingest_default_params();
    ip.analyzer = hh_test_analyzer();
    hh_ingest_totals_t tot;
    const char *paths[] = { src };
    ASSERT_OK(hh_ingest_paths(s, paths, 1, "docs", 0, &ip, NULL, NULL, &tot, &err));
    ASSERT_EQ_INT(tot.added, 2);
    ASSERT_EQ_INT(q_int(s, "SELECT count(*) FROM chunks WHERE lang = 'de'", NULL), 1);
    ASSERT_EQ_INT(q_int(s, "SELECT count(*) FROM chunks WHERE lang = 'en'", NULL), 1);
    ASSERT_EQ_INT(q_int(s, "SELECT count(*) FROM chunks WHERE terms_level <> 3", NULL), 0);
    /* the analyzed index holds stems and parts, not the surface forms */
    static const char m[] = "SELECT count(*) FROM chunks_terms WHERE chunks_terms MATCH ?1";
    ASSERT_EQ_INT(q_int(s, m, "urlaub"), 1);   /* a part of Urlaubstage / Erholungsurlaub */
    ASSERT_EQ_INT(q_int(s, m, "tag"), 1);
    ASSERT_EQ_INT(q_int(s, m, "busi"), 1);     /* English stem of business */
    ASSERT_EQ_INT(q_int(s, m, "urlaubstage"), 0);
    ASSERT_EQ_INT(q_int(s, m, "hotels"), 0);
    ASSERT_EQ_INT(q_int(s, m, "hotel"), 1);

    /* a rewritten text (as the GDPR erasure does) empties the terms: no
     * term of the old text stays in the analyzed index */
    ASSERT_EQ_INT(sqlite3_exec(s->db, "UPDATE chunks SET text = 'Die Person [erased] ist weg.' WHERE lang = 'de'",
                               NULL, NULL, NULL), SQLITE_OK);
    ASSERT_EQ_INT(q_int(s, "SELECT count(*) FROM chunks WHERE terms = '' AND terms_level = 0", NULL), 1);
    ASSERT_EQ_INT(q_int(s, m, "urlaub"), 0);
    ASSERT_EQ_INT(sqlite3_exec(s->db, "INSERT INTO chunks_terms(chunks_terms) VALUES ('integrity-check')", NULL, NULL,
                               NULL), SQLITE_OK);
    size_t done = 0;
    ASSERT_OK(hh_kb_index_fill(s, hh_test_analyzer(), &done, &err));
    ASSERT_EQ_INT(done, 1);
    ASSERT_EQ_INT(q_int(s, m, "person"), 1);
    ASSERT_EQ_INT(q_int(s, m, "urlaub"), 0);
    /* deleting documents leaves no row of the index behind */
    hh_store_doc_t *docs = NULL;
    size_t nd = 0;
    ASSERT_OK(hh_store_doc_list(s, 0, 0, &docs, &nd, &err));
    for (size_t i = 0; i < nd; i++)
        ASSERT_OK(hh_store_doc_delete(s, docs[i].id, NULL, &err));
    free(docs);
    ASSERT_EQ_INT(q_int(s, "SELECT count(*) FROM chunks_terms_docsize", NULL), 0);
    ASSERT_EQ_INT(q_int(s, m, "hotel"), 0);
    hh_store_close(s);
}

/* A schema 12 store (tests/fixtures/schema/v12, made by an earlier build):
 * its chunks come without terms; the first open migrates, the fill (never
 * a search) analyzes them, and a stemmed search finds them. */
TEST(analyze_upgrade_v12_reindexes)
{
    char root[512], cmd[2048];
    snprintf(root, sizeof root, "%s/analyze_upgrade", hh_test_tmpdir());
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s' && cp -a tests/fixtures/schema/v12 '%s/data'", root, root,
             root);
    ASSERT_EQ_INT(system(cmd), 0);
    char data[600];
    snprintf(data, sizeof data, "%s/data", root);
    hh_store_t *s = NULL;
    hh_err_t err;
    ASSERT_OK(hh_store_open(&s, data, &err));
    int total = q_int(s, "SELECT count(*) FROM chunks", NULL);
    ASSERT_GE(total, 1);
    ASSERT_EQ_INT(q_int(s, "SELECT count(*) FROM chunks WHERE terms_level = 0", NULL), total);
    ASSERT_EQ_INT(q_int(s, "SELECT count(*) FROM chunks_terms_docsize", NULL), total);
    size_t done = 0;
    ASSERT_OK(hh_kb_index_fill(s, hh_test_analyzer(), &done, &err));
    ASSERT_EQ_INT(done, total);
    ASSERT_EQ_INT(q_int(s, "SELECT count(*) FROM chunks WHERE terms_level = 3", NULL), total);
    ASSERT_GE(q_int(s, "SELECT count(*) FROM chunks WHERE lang <> ''", NULL), 1);
    ASSERT_EQ_INT(q_int(s, "SELECT count(*) FROM chunks WHERE terms = ''", NULL), 0);
    /* filling again does nothing */
    ASSERT_OK(hh_kb_index_fill(s, hh_test_analyzer(), &done, &err));
    ASSERT_EQ_INT(done, 0);
    ASSERT_EQ_INT(sqlite3_exec(s->db, "INSERT INTO chunks_terms(chunks_terms) VALUES ('integrity-check')", NULL, NULL,
                               NULL), SQLITE_OK);
    hh_store_close(s);
}
