/* msg.h - the fixed texts of answers and of the errors end users see, in
 * German and English (issue 14). The language of an answer is the
 * question's (kb/lang.h); where the question is too short or mixed to tell,
 * the caller's fallback (the request's Accept-Language, the user's UI
 * language), else English.
 *
 * Machine-readable fields never change with the language: "abstained" and
 * "unsure" flags stay the contract; only the human text follows the
 * question. */
#ifndef HH_KB_MSG_H
#define HH_KB_MSG_H

#include "kb/lang.h"

#include <stdbool.h>
#include <stddef.h>

typedef enum hh_kb_msg_id {
    HH_MSG_NOT_FOUND = 0,     /* the abstention text */
    HH_MSG_UNSURE,            /* prefix of an answer below the threshold, ends with ": " */
    HH_MSG_HELD,              /* "held for approval ... use case '%s' ... GET %s" (two %s: use case, url) */
    HH_MSG_QUESTION_EMPTY,    /* question missing or empty */
    HH_MSG_QUESTION_LONG,     /* "%d": the byte limit */
    HH_MSG_COLLECTION_GONE,   /* "%s": the collection name (missing and unreadable alike) */
    HH_MSG_BUSY,              /* queue full, retry later */
    HH_MSG_QUESTION_TOO_LONG_FOR_MODEL, /* the question alone does not fit the model's context */
    HH_MSG_COUNT_
} hh_kb_msg_id_t;

/* The text of id in lang (UNKNOWN: English). Static; never NULL. */
const char *hh_kb_msg(hh_kb_msg_id_t id, hh_lang_t lang);

/* The language an answer to question is written in: hh_lang_detect of the
 * question, else fallback (an Accept-Language header value such as
 * "de-DE,de;q=0.9,en;q=0.8", or a bare code "de"/"en"; the first de or en
 * range with q > 0 wins), else English. Never UNKNOWN. */
hh_lang_t hh_kb_answer_lang(const char *question, const char *fallback);

/* The language named by an Accept-Language value or a bare code (as above);
 * UNKNOWN when it names neither German nor English. */
hh_lang_t hh_kb_lang_from_accept(const char *accept);

/* True when text is a model's "not found" reply in either language (the
 * prompt asks for exactly HH_MSG_NOT_FOUND in the question's language; a
 * small model may answer in the other one, or say "NOT FOUND" /
 * "NICHT GEFUNDEN"). */
bool hh_kb_is_not_found(const char *text);

#endif
