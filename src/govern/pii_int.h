/* pii_int.h - internals shared by the personal-data detectors: pii.c
 * (checksummed numbers, e-mail, phone, dates of birth, listed names,
 * resolution, redaction) and pii_de.c (German person names found without
 * a list, postal addresses, Personalausweis numbers). Not a public API. */
#ifndef HH_GOVERN_PII_INT_H
#define HH_GOVERN_PII_INT_H

#include "govern/pii.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct hh_pii_span_list {
    hh_pii_span_t *v;
    size_t n, cap;
} hh_pii_span_list_t;

/* Appends a candidate span. 0, HH_ENOMEM or HH_EOVERFLOW. */
int hh_pii_span_push(hh_pii_span_list_t *l, hh_pii_kind_t kind, size_t start, size_t end);

/* Is the character that starts at t[i] (ends just before t[i]) a letter,
 * digit, mark or '_'? Invalid UTF-8 is not. */
bool hh_pii_word_at(const char *t, size_t len, size_t i);
bool hh_pii_word_before(const char *t, size_t len, size_t i);

/* pii_de.c: candidates for HH_PII_NAME (persons by context, name lists
 * shipped in data/pii and capitalisation), HH_PII_ADDRESS and
 * HH_PII_ID_CARD. Linear in len; 0 or HH_ENOMEM/HH_EOVERFLOW. */
int hh_pii_find_de(const char *t, size_t len, unsigned kinds, bool guess_names, hh_pii_span_list_t *out);

#endif
