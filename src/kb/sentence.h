/* sentence.h - sentences of German and English text, and the boilerplate
 * among them (e-mail headers, signatures, contact blocks), for extractive
 * answers and for cutting passages on sentence boundaries (kb/answer.c).
 *
 * A sentence ends after . ! ? (optionally followed by a closing quote or
 * bracket) before white space or the end, and at a line break. A period
 * does not end a sentence after
 *   - an abbreviation: a single letter ("z. B.", "S. 4", "Anna M."), a word
 *     with inner periods ("z.B.", "e.g.", "i.e.", "u.a."), or one of the
 *     list in sentence.c ("bzw.", "ca.", "Nr.", "Dr.", "Prof.", "Abs.",
 *     "vgl.", "ggf.", "inkl.", "Mr.", ...); "usw." and "etc." end one only
 *     when a typical sentence start follows;
 *   - a number of one or two digits, or a date ending in one ("am 1. Mai",
 *     "bis zum 15. des Monats", "die 1. Klasse", "31.12. 2026"), unless a
 *     typical sentence start follows ("Es sind 30. Danach ...");
 *   - list numbering at the start of a line ("1. Antrag stellen");
 *   - anything when the next word starts in lower case or with a digit.
 * Decimals ("3,5 %", "0.30 EUR") and dates ("31.12.2026") never end one,
 * as the period is not followed by white space. */
#ifndef HH_KB_SENTENCE_H
#define HH_KB_SENTENCE_H

#include <stdbool.h>
#include <stddef.h>

typedef struct hh_kb_span {
    size_t off, len;   /* byte range in the text; leading white space trimmed */
} hh_kb_span_t;

/* Sentence spans of t[0..len) in order. *out malloc'd (NULL when none);
 * caller frees. HH_ENOMEM. */
int hh_kb_sentences(const char *t, size_t len, hh_kb_span_t **out, size_t *n);

/* Marks in boiler[0..n) the sentences of t that are boilerplate: e-mail
 * header lines ("Von:", "An:", "Betreff:", "From:", "To:", "Subject:",
 * "Date:", ...), a signature (from a closing alone on its line: "Mit
 * freundlichen Grüßen", "Viele Grüße", "Danke", "Best regards", "Thanks",
 * "--", ... to the end of the passage), a salutation line ("Hallo
 * zusammen,", "Dear all,") and contact lines (Tel./Fax:/Mobil:/E-Mail:/
 * Phone:/www., an e-mail address, a phone number, a postcode and town, a
 * street and number, on a short line). t must be NUL-terminated. */
void hh_kb_boilerplate_mark(const char *t, const hh_kb_span_t *s, size_t n, bool *boiler);

/* True when the question asks for what boilerplate holds: a phone or fax
 * number, an e-mail or postal address, a contact person, the sender or
 * subject of a message ("Telefonnummer", "Kontakt", "Ansprechpartner",
 * "erreiche", "Absender", "phone", "contact", "address", "sender", ...). */
bool hh_kb_question_wants_contact(const char *question);

#endif
