/* pii.h - detection and redaction of personal data in text.
 *
 * Finds e-mail addresses, phone numbers, IBANs (mod-97), payment card
 * numbers (Luhn + issuer prefix), German tax ids (Steuer-IdNr, ISO 7064
 * MOD 11,10 + digit-repetition rule), German pension insurance numbers
 * (Rentenversicherungsnummer, its check digit), German identity card
 * numbers (Personalausweis, 7-3-1 check digit), dates of birth (a date
 * right after a context word such as "geb." or "born"), German postal
 * addresses (street and number, postcode and city, Postfach) and person
 * names: by context (Herr/Frau, titles, salutations, signatures, form
 * fields, role words), by the first-name and surname lists shipped in
 * data/pii, and from a configured list. Every detector is a linear scan over bytes; the
 * text is UTF-8 but need not be valid: invalid bytes are never part of a
 * span and are copied through unchanged by redaction.
 *
 * Offsets are byte offsets into the text. Spans come back sorted by start
 * and never overlap; where candidates overlap, the checksummed kinds win
 * (IBAN, card, SSN, tax id, id card), then e-mail, date of birth, phone,
 * address, name, and among equals the longer span. See docs/PII.md. */
#ifndef HH_GOVERN_PII_H
#define HH_GOVERN_PII_H

#include "base/err.h"

#include <stddef.h>
#include <stdint.h>

typedef enum hh_pii_kind {
    HH_PII_EMAIL = 0,
    HH_PII_PHONE,
    HH_PII_IBAN,
    HH_PII_CARD,
    HH_PII_TAX_ID,
    HH_PII_SSN,
    HH_PII_DOB,
    HH_PII_NAME,
    HH_PII_ADDRESS,   /* street and number, postcode and city, Postfach */
    HH_PII_ID_CARD,   /* Personalausweis number with its check digit */
    HH_PII_KIND_COUNT
} hh_pii_kind_t;

#define HH_PII_ALL_KINDS ((1u << HH_PII_KIND_COUNT) - 1u)

typedef struct hh_pii_span {
    hh_pii_kind_t kind;
    size_t start; /* first byte */
    size_t end;   /* one past the last byte */
} hh_pii_span_t;

typedef struct hh_pii_config {
    unsigned kinds;                /* bit (1u << kind) enables a kind */
    const char *const *names;      /* borrowed: person names, UTF-8, matched
                                      case-sensitively as whole words */
    size_t n_names;
    /* 0 (the default): persons are also found without a list, by
     * context, the name lists in data/pii and capitalisation (see
     * docs/PII.md); 1: only the listed names count as NAME. */
    int names_listed_only;
    /* Redaction: 0 writes "[EMAIL]", 1 writes a keyed pseudonym
     * "[EMAIL:ab12cd]" (BLAKE2b keyed with key over kind and span text,
     * so the same value always maps to the same token under one key). */
    int pseudonymize;
    const unsigned char *key;      /* borrowed; 16..64 bytes when pseudonymize */
    size_t key_len;
} hh_pii_config_t;

/* Fills cfg with every kind enabled, no names, placeholders. */
void hh_pii_default_config(hh_pii_config_t *cfg);

/* "EMAIL", "PHONE", "IBAN", "CARD", "TAX_ID", "SSN", "DOB", "NAME",
 * "ADDRESS", "ID_CARD";
 * "?" for a value out of range. Static string. */
const char *hh_pii_kind_name(hh_pii_kind_t kind);

/* Parses a kind name (case-insensitive, as hh_pii_kind_name writes it).
 * 0 and *kind set, or HH_EINVAL. */
int hh_pii_kind_parse(const char *name, hh_pii_kind_t *kind);

/* Finds the personal data in text[0..len). On success *spans is a
 * malloc'ed array of *n spans (caller frees; NULL when *n is 0), sorted
 * by start, non-overlapping. Errors: HH_EINVAL (NULL arguments, a name
 * that is empty), HH_ENOMEM. */
int hh_pii_find(const char *text, size_t len, const hh_pii_config_t *cfg,
                hh_pii_span_t **spans, size_t *n);

/* Copies text with every span found by hh_pii_find replaced by its
 * placeholder or pseudonym (see hh_pii_config_t). *out is malloc'ed and
 * NUL-terminated (caller frees), *out_len its length without the NUL.
 * Errors: those of hh_pii_find; HH_EINVAL when pseudonymize is set
 * without a key of 16..64 bytes; HH_EOVERFLOW. */
int hh_pii_redact(const char *text, size_t len, const hh_pii_config_t *cfg,
                  char **out, size_t *out_len);

/* Reads a name list: one name per line, UTF-8, blank lines and lines
 * starting with '#' skipped, surrounding spaces and CR trimmed. On
 * success *names is a malloc'ed array of *n malloc'ed strings; free with
 * hh_pii_names_free. Errors: HH_EIO (unreadable), HH_EFORMAT (invalid
 * UTF-8, with the line in err->pos), HH_ENOMEM. */
int hh_pii_names_load(const char *path, char ***names, size_t *n, hh_err_t *err);

/* Frees what hh_pii_names_load returned. NULL is fine. */
void hh_pii_names_free(char **names, size_t n);

/* Exact-span evaluation counts per kind. */
typedef struct hh_pii_eval {
    size_t tp[HH_PII_KIND_COUNT]; /* found with exact kind, start and end */
    size_t fp[HH_PII_KIND_COUNT]; /* found, not labeled */
    size_t fn[HH_PII_KIND_COUNT]; /* labeled, not found */
    size_t n_docs;
} hh_pii_eval_t;

/* Runs hh_pii_find over a labeled set in JSONL: one object per line,
 * {"text": "...", "spans": [{"kind": "EMAIL", "start": 10, "end": 25}]}
 * (byte offsets; other fields ignored; blank lines skipped) and counts
 * exact matches into *res. Errors: HH_EFORMAT (bad line, its 1-based
 * number in err->pos), HH_ENOMEM, those of hh_pii_find. */
int hh_pii_eval_jsonl(const char *buf, size_t len, const hh_pii_config_t *cfg,
                      hh_pii_eval_t *res, hh_err_t *err);

#endif
