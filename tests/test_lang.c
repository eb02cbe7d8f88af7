/* test_lang.c - German / English detection of questions and passages. */
#include "harness.h"
#include "kb/lang.h"

#include <string.h>

#define DETECT(s) hh_lang_detect((s), strlen(s))

TEST(lang_detects_questions)
{
    ASSERT_EQ_INT(DETECT("Wie viele Urlaubstage habe ich?"), HH_LANG_DE);
    ASSERT_EQ_INT(DETECT("Was krieg ich, wenn ich mit meinem eigenen Auto fahre?"), HH_LANG_DE);
    ASSERT_EQ_INT(DETECT("Reisekosten für Übernachtungen"), HH_LANG_DE);   /* no function word: the umlaut */
    ASSERT_EQ_INT(DETECT("How many vacation days do I have?"), HH_LANG_EN);
    ASSERT_EQ_INT(DETECT("What is the mileage allowance for my own car?"), HH_LANG_EN);
    ASSERT_EQ_INT(DETECT("DIE ARBEITSZEIT BETRÄGT 38 STUNDEN"), HH_LANG_DE);   /* capitals */
}

TEST(lang_detects_passages)
{
    const char *de = "Der Erholungsurlaub beträgt 30 Arbeitstage im Kalenderjahr. Resturlaub muss bis zum 31. März "
                     "des Folgejahres genommen werden, sonst verfällt er.";
    const char *en = "The annual leave is 30 working days per calendar year. Remaining leave must be taken by "
                     "31 March of the following year, otherwise it lapses. Jürgen Müller approves it.";
    ASSERT_EQ_INT(DETECT(de), HH_LANG_DE);
    ASSERT_EQ_INT(DETECT(en), HH_LANG_EN);   /* a German name does not outweigh English text */
}

TEST(lang_unknown_without_evidence)
{
    ASSERT_EQ_INT(DETECT(""), HH_LANG_UNKNOWN);
    ASSERT_EQ_INT(DETECT("12.03.2026 -- 4711"), HH_LANG_UNKNOWN);
    ASSERT_EQ_INT(DETECT("Kubernetes Cluster Upgrade"), HH_LANG_UNKNOWN);
    ASSERT_EQ_INT(hh_lang_detect(NULL, 5), HH_LANG_UNKNOWN);
    ASSERT_EQ_INT(DETECT("\xff\xfe und \xc3"), HH_LANG_DE);   /* invalid bytes are skipped, not read past */
}

TEST(lang_codes)
{
    ASSERT_STREQ(hh_lang_code(HH_LANG_DE), "de");
    ASSERT_STREQ(hh_lang_code(HH_LANG_EN), "en");
    ASSERT_STREQ(hh_lang_code(HH_LANG_UNKNOWN), "");
    ASSERT_EQ_INT(hh_lang_from_code("de-DE"), HH_LANG_DE);
    ASSERT_EQ_INT(hh_lang_from_code("EN"), HH_LANG_EN);
    ASSERT_EQ_INT(hh_lang_from_code("en_GB"), HH_LANG_EN);
    ASSERT_EQ_INT(hh_lang_from_code("fr"), HH_LANG_UNKNOWN);
    ASSERT_EQ_INT(hh_lang_from_code("dex"), HH_LANG_UNKNOWN);
    ASSERT_EQ_INT(hh_lang_from_code(NULL), HH_LANG_UNKNOWN);
}
