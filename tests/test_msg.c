/* test_msg.c - the German/English catalog of answer texts, the answer's
 * language (question, else Accept-Language), and "not found" in both. */
#include "harness.h"
#include "kb/msg.h"

#include <string.h>

TEST(msg_catalog_both_languages)
{
    ASSERT_STREQ(hh_kb_msg(HH_MSG_NOT_FOUND, HH_LANG_EN), "not found in the knowledge base.");
    ASSERT_STREQ(hh_kb_msg(HH_MSG_NOT_FOUND, HH_LANG_DE), "nicht in den Dokumenten gefunden.");
    ASSERT_STREQ(hh_kb_msg(HH_MSG_UNSURE, HH_LANG_UNKNOWN), "I am not sure: ");
    ASSERT_STREQ(hh_kb_msg(HH_MSG_UNSURE, HH_LANG_DE), "Ich bin nicht sicher: ");
    /* every message has both texts, and the format ones the same conversions */
    for (int i = 0; i < HH_MSG_COUNT_; i++) {
        const char *en = hh_kb_msg((hh_kb_msg_id_t)i, HH_LANG_EN), *de = hh_kb_msg((hh_kb_msg_id_t)i, HH_LANG_DE);
        ASSERT_TRUE(en[0] && de[0]);
        ASSERT_TRUE(strcmp(en, de) != 0);
        int pe = 0, pd = 0;
        for (const char *p = en; (p = strchr(p, '%')); p += 2)
            pe++;
        for (const char *p = de; (p = strchr(p, '%')); p += 2)
            pd++;
        ASSERT_EQ_INT(pe, pd);
    }
    ASSERT_STREQ(hh_kb_msg(HH_MSG_COUNT_, HH_LANG_DE), "");
}

TEST(msg_answer_language)
{
    ASSERT_EQ_INT(hh_kb_answer_lang("Wie viele Urlaubstage habe ich?", "en-US"), HH_LANG_DE);
    ASSERT_EQ_INT(hh_kb_answer_lang("How many days of leave do I get?", "de-DE"), HH_LANG_EN);
    /* ambiguous: the Accept-Language decides, its first de/en range with q > 0 */
    ASSERT_EQ_INT(hh_kb_answer_lang("PKW?", "de-DE,de;q=0.9,en;q=0.8"), HH_LANG_DE);
    ASSERT_EQ_INT(hh_kb_answer_lang("PKW?", "fr-FR, en;q=0.5, de;q=0.4"), HH_LANG_EN);
    ASSERT_EQ_INT(hh_kb_answer_lang("PKW?", "de;q=0, en"), HH_LANG_EN);
    ASSERT_EQ_INT(hh_kb_answer_lang("PKW?", "de"), HH_LANG_DE);
    ASSERT_EQ_INT(hh_kb_answer_lang("PKW?", NULL), HH_LANG_EN);
    ASSERT_EQ_INT(hh_kb_answer_lang(NULL, "fr"), HH_LANG_EN);
    ASSERT_EQ_INT(hh_kb_lang_from_accept("dex, deutsch"), HH_LANG_UNKNOWN);
    ASSERT_EQ_INT(hh_kb_lang_from_accept("EN-gb"), HH_LANG_EN);
    ASSERT_EQ_INT(hh_kb_lang_from_accept(""), HH_LANG_UNKNOWN);
}

TEST(msg_not_found_both_languages)
{
    ASSERT_TRUE(hh_kb_is_not_found("not found in the knowledge base."));
    ASSERT_TRUE(hh_kb_is_not_found("Sorry, that is Not Found in the knowledge base"));
    ASSERT_TRUE(hh_kb_is_not_found("nicht in den Dokumenten gefunden."));
    ASSERT_TRUE(hh_kb_is_not_found("Das ist nicht in der Wissensbasis gefunden."));
    ASSERT_TRUE(hh_kb_is_not_found("  NOT FOUND."));
    ASSERT_TRUE(hh_kb_is_not_found("NICHT GEFUNDEN"));
    ASSERT_TRUE(hh_kb_is_not_found("Nicht gefunden!"));
    /* "not found" inside a real answer is an answer */
    ASSERT_FALSE(hh_kb_is_not_found("A lost badge that is not found within a week is replaced [1]."));
    ASSERT_FALSE(hh_kb_is_not_found("Nicht gefundene Belege werden nicht erstattet [1]."));
    ASSERT_FALSE(hh_kb_is_not_found(""));
    ASSERT_FALSE(hh_kb_is_not_found(NULL));
}
