/* test_sentence.c - the sentence splitter (German and English
 * abbreviations, ordinals, dates, decimals, list numbering) and the
 * boilerplate marks (headers, signatures, contact lines). */
#include "harness.h"
#include "kb/sentence.h"

#include <stdlib.h>
#include <string.h>

/* Splits t and compares with the expected sentences (NULL-terminated). */
static bool split_is(const char *t, const char *const *want)
{
    hh_kb_span_t *s = NULL;
    size_t n = 0;
    if (hh_kb_sentences(t, strlen(t), &s, &n) != 0)
        return false;
    size_t nw = 0;
    while (want[nw])
        nw++;
    bool ok = n == nw;
    for (size_t i = 0; i < n; i++) {
        bool same = i < nw && s[i].len == strlen(want[i]) && !memcmp(t + s[i].off, want[i], s[i].len);
        if (!same)
            fprintf(stderr, "    sentence %zu: \"%.*s\" (want \"%s\")\n", i, (int)s[i].len, t + s[i].off,
                    i < nw ? want[i] : "(none)");
        ok = ok && same;
    }
    if (n != nw)
        fprintf(stderr, "    %zu sentences, want %zu\n", n, nw);
    free(s);
    return ok;
}

TEST(sentence_german_abbreviations)
{
    const char *t = "Reisekosten, z. B. Bahn und Hotel, werden erstattet, d. h. gegen Beleg. Das gilt u. a. "
                    "f\xC3\xBCr Dienstreisen bzw. Fortbildungen, vgl. Abs. 3 und Nr. 4 der Richtlinie. Dr. M\xC3\xBCller "
                    "und Prof. Weber pr\xC3\xBC" "fen ggf. die Belege inkl. Quittungen, s. S. 12 ff. Danach wird gezahlt.";
    const char *w[] = {
        "Reisekosten, z. B. Bahn und Hotel, werden erstattet, d. h. gegen Beleg.",
        "Das gilt u. a. f\xC3\xBCr Dienstreisen bzw. Fortbildungen, vgl. Abs. 3 und Nr. 4 der Richtlinie.",
        "Dr. M\xC3\xBCller und Prof. Weber pr\xC3\xBC" "fen ggf. die Belege inkl. Quittungen, s. S. 12 ff.",
        "Danach wird gezahlt.", NULL,
    };
    ASSERT_TRUE(split_is(t, w));
    const char *t2 = "Erstattet werden z.B. Taxi, Bahn usw. Die Abrechnung erfolgt monatlich. Es gibt ca. 30 "
                     "Formulare etc. und mehr.";
    const char *w2[] = { "Erstattet werden z.B. Taxi, Bahn usw.", "Die Abrechnung erfolgt monatlich.",
                         "Es gibt ca. 30 Formulare etc. und mehr.", NULL };
    ASSERT_TRUE(split_is(t2, w2));
}

TEST(sentence_ordinals_dates_decimals)
{
    /* the finding: "...ist die 1. [2]" must not happen */
    const char *t = "Die Abgabe ist am 1. Mai, sp\xC3\xA4testens bis zum 15. des Monats. Stichtag ist der "
                    "31.12.2026. Sieger ist die 1. Klasse der Schule. Der Satz betr\xC3\xA4gt 3,5 % bzw. 0.30 EUR "
                    "je km. Es sind 30. Danach endet die Frist. Das Budget betr\xC3\xA4gt 500. Mehr gibt es nicht.";
    const char *w[] = {
        "Die Abgabe ist am 1. Mai, sp\xC3\xA4testens bis zum 15. des Monats.",
        "Stichtag ist der 31.12.2026.",
        "Sieger ist die 1. Klasse der Schule.",
        "Der Satz betr\xC3\xA4gt 3,5 % bzw. 0.30 EUR je km.",
        "Es sind 30.",
        "Danach endet die Frist.",
        "Das Budget betr\xC3\xA4gt 500.",
        "Mehr gibt es nicht.",
        NULL,
    };
    ASSERT_TRUE(split_is(t, w));
}

TEST(sentence_lists_english_quotes)
{
    const char *t = "Vorgehen:\n1. Antrag stellen.\n2. Vorgesetzte Person zeichnet ab.\n10. Personalabteilung "
                    "bucht.\nMr. Smith said \"Done.\" Then he left, e.g. to Berlin, i.e. home! Was it late? Yes.";
    const char *w[] = {
        "Vorgehen:", "1. Antrag stellen.", "2. Vorgesetzte Person zeichnet ab.", "10. Personalabteilung bucht.",
        "Mr. Smith said \"Done.\"", "Then he left, e.g. to Berlin, i.e. home!", "Was it late?", "Yes.", NULL,
    };
    ASSERT_TRUE(split_is(t, w));
    /* "no." and "art." are words too; before a number they stay inside the sentence */
    const char *t2 = "The answer is no. The rule in Art. 30 and No. 5 stays. It is art. Fine.";
    const char *w2[] = { "The answer is no.", "The rule in Art. 30 and No. 5 stays.", "It is art.", "Fine.", NULL };
    ASSERT_TRUE(split_is(t2, w2));
    const char *none[] = { NULL };
    ASSERT_TRUE(split_is("", none));
    ASSERT_TRUE(split_is("  \n \n", none));
}

TEST(sentence_boilerplate_marks)
{
    const char *t = "Von: Anna Schulz <anna.schulz@example.de>\nAn: Team Personal\nBetreff: Urlaub 2027\n"
                    "Hallo zusammen,\nder Urlaubsanspruch betr\xC3\xA4gt 30 Arbeitstage im Jahr.\n"
                    "Telefonkosten im Homeoffice werden erstattet.\n"
                    "Mit freundlichen Gr\xC3\xBC\xC3\x9F" "en\nAnna Schulz\nPersonalabteilung\n"
                    "Tel. +49 30 1234567\nHauptstra\xC3\x9F" "e 5, 10115 Berlin";
    hh_kb_span_t *s = NULL;
    size_t n = 0;
    ASSERT_OK(hh_kb_sentences(t, strlen(t), &s, &n));
    ASSERT_EQ_INT(n, 11);
    bool b[11];
    hh_kb_boilerplate_mark(t, s, n, b);
    bool want[11] = { true, true, true, true, false, false, true, true, true, true, true };   /* "Hallo zusammen," too */
    for (size_t i = 0; i < n; i++) {
        if (b[i] != want[i])
            fprintf(stderr, "    \"%.*s\": %d\n", (int)s[i].len, t + s[i].off, b[i]);
        ASSERT_EQ_INT(b[i], want[i]);
    }
    free(s);
    /* a contact line without a signature before it; an English signature */
    const char *e = "Hotels are booked by the travel office.\nPhone: 030 555 0199\nBest regards,\nJohn";
    ASSERT_OK(hh_kb_sentences(e, strlen(e), &s, &n));
    ASSERT_EQ_INT(n, 4);
    hh_kb_boilerplate_mark(e, s, n, b);
    ASSERT_FALSE(b[0]);
    ASSERT_TRUE(b[1] && b[2] && b[3]);
    free(s);
    /* an English mail: salutation, "Thanks," and the "--" block; the U.S. / i.e. / Sec. / Mr. sentences whole */
    const char *m = "Hi all,\nPer the U.S. guidelines, meals are paid up to $75.50 a day, i.e. three meals. See Sec. "
                    "4.2, e.g. for trips abroad. Mr. Brown approves.\nThanks,\nJohn\n--\nJohn Smith | Travel Office";
    ASSERT_OK(hh_kb_sentences(m, strlen(m), &s, &n));
    ASSERT_EQ_INT(n, 8);
    hh_kb_boilerplate_mark(m, s, n, b);
    bool want_m[8] = { true, false, false, false, true, true, true, true };
    for (size_t i = 0; i < n; i++)
        ASSERT_EQ_INT(b[i], want_m[i]);
    ASSERT_EQ_INT(s[1].len, strlen("Per the U.S. guidelines, meals are paid up to $75.50 a day, i.e. three meals."));
    free(s);
    ASSERT_TRUE(hh_kb_question_wants_contact("Wie lautet die Telefonnummer der Personalabteilung?"));
    ASSERT_TRUE(hh_kb_question_wants_contact("Who is the contact for travel?"));
    ASSERT_TRUE(hh_kb_question_wants_contact("An welche E-Mail-Adresse schicke ich den Antrag?"));
    ASSERT_FALSE(hh_kb_question_wants_contact("Wie viele Urlaubstage habe ich?"));
    ASSERT_FALSE(hh_kb_question_wants_contact("Which hotel may I book?"));
}
