/* msg.c - German and English texts of answers and user-facing errors
 * (msg.h). One row per message: English, German. */
#include "kb/msg.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const g_msgs[HH_MSG_COUNT_][2] = {
    [HH_MSG_NOT_FOUND] = { "not found in the knowledge base.", "nicht in den Dokumenten gefunden." },
    [HH_MSG_UNSURE] = { "I am not sure: ", "Ich bin nicht sicher: " },
    [HH_MSG_HELD] = { "The answer is held for human approval (EU AI Act Art. 14) under use case '%s'. Fetch the "
                      "decision with GET %s.",
                      "Die Antwort wurde zur Freigabe vorgelegt (EU AI Act Art. 14, KI-Anwendung '%s'). Die "
                      "Entscheidung steht unter GET %s bereit." },
    [HH_MSG_QUESTION_EMPTY] = { "question must be a non-empty string", "Bitte eine Frage eingeben." },
    [HH_MSG_QUESTION_LONG] = { "question is longer than %d bytes", "Die Frage ist l\xC3\xA4nger als %d Bytes." },
    [HH_MSG_COLLECTION_GONE] = { "no readable collection named '%s'", "Keine lesbare Sammlung namens '%s'." },
    [HH_MSG_BUSY] = { "The server is busy; please try again shortly.",
                      "Der Server ist ausgelastet; bitte gleich noch einmal versuchen." },
    [HH_MSG_QUESTION_TOO_LONG_FOR_MODEL] = { "The question alone is too long for this model's context.",
                                             "Die Frage allein ist zu lang f\xC3\xBCr den Kontext dieses Modells." },
};

const char *hh_kb_msg(hh_kb_msg_id_t id, hh_lang_t lang)
{
    if ((int)id < 0 || id >= HH_MSG_COUNT_)
        return "";
    return g_msgs[id][lang == HH_LANG_DE ? 1 : 0];
}

hh_lang_t hh_kb_lang_from_accept(const char *accept)
{
    if (!accept)
        return HH_LANG_UNKNOWN;
    const char *p = accept;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *tag = p;
        while (*p && *p != ',' && *p != ';' && *p != ' ')
            p++;
        size_t tl = (size_t)(p - tag);
        double q = 1;
        /* parameters of this range: only q matters */
        while (*p && *p != ',') {
            if (*p == ';') {
                p++;
                while (*p == ' ')
                    p++;
                if ((p[0] == 'q' || p[0] == 'Q') && p[1] == '=')
                    q = strtod(p + 2, NULL);
            } else {
                p++;
            }
        }
        if (tl >= 2 && q > 0 && (tl == 2 || tag[2] == '-' || tag[2] == '_')) {
            if (!strncasecmp(tag, "de", 2))
                return HH_LANG_DE;
            if (!strncasecmp(tag, "en", 2))
                return HH_LANG_EN;
        }
    }
    return HH_LANG_UNKNOWN;
}

hh_lang_t hh_kb_answer_lang(const char *question, const char *fallback)
{
    hh_lang_t l = question ? hh_lang_detect(question, strlen(question)) : HH_LANG_UNKNOWN;
    if (l == HH_LANG_UNKNOWN)
        l = hh_kb_lang_from_accept(fallback);
    return l == HH_LANG_UNKNOWN ? HH_LANG_EN : l;
}

/* Case-insensitive (ASCII) substring. */
static bool has_ci(const char *hay, const char *needle)
{
    size_t nl = strlen(needle);
    for (const char *h = hay; *h; h++)
        if (!strncasecmp(h, needle, nl))
            return true;
    return false;
}

bool hh_kb_is_not_found(const char *text)
{
    if (!text)
        return false;
    /* the catalog's texts without the final period, then the short forms */
    static const char *const forms[] = {
        "not found in the knowledge base", "nicht in den Dokumenten gefunden", "nicht in der Wissensbasis gefunden",
        "NOT FOUND", "NICHT GEFUNDEN",
    };
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        if (i < 3) {
            if (has_ci(text, forms[i]))
                return true;
            continue;
        }
        /* the short forms only as the whole reply (a sentence may say "not found" for other reasons) */
        const char *t = text;
        while (*t && isspace((unsigned char)*t))
            t++;
        size_t fl = strlen(forms[i]);
        if (strncasecmp(t, forms[i], fl))
            continue;
        t += fl;
        while (*t && (isspace((unsigned char)*t) || *t == '.' || *t == '!'))
            t++;
        if (!*t)
            return true;
    }
    return false;
}
