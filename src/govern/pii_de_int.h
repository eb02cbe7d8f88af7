/* pii_de_int.h - shared between the German person/address finder
 * (pii_de.c) and its lexicon (pii_de_lex.c). Not a public API. */
#ifndef HH_GOVERN_PII_DE_INT_H
#define HH_GOVERN_PII_DE_INT_H

#include <stddef.h>
#include <stdint.h>

/* Word classes of the lexicon (flags, a word may have several). */
enum {
    L_FIRST = 1u << 0,    /* known first name */
    L_AMBIG = 1u << 1,    /* first name that is also a word */
    L_SUR = 1u << 2,      /* known surname */
    L_STOP = 1u << 3,     /* never part of a name */
    L_HONOR = 1u << 4,    /* Herr, Frau, Mr */
    L_TITLE = 1u << 5,    /* Dr, Prof */
    L_SALUT = 1u << 6,    /* Hallo, Liebe */
    L_CLOSE = 1u << 7,    /* Grüße, Gruß, MfG, regards */
    L_FIELD = 1u << 8,    /* a label before ':' */
    L_ROLE = 1u << 9,     /* Kunde, Kollegin */
    L_DEPT = 1u << 10,    /* Vertrieb, Buchhaltung */
    L_FIRM = 1u << 11,    /* GmbH, AG */
    L_FIRMCTX = 1u << 12, /* Firma, Autohaus: a firm name follows */
    L_PART = 1u << 13,    /* von, van, de (lower case) */
    L_STREET = 1u << 14,  /* Straße, Allee, Weg as a word of its own */
    L_SPREP = 1u << 15,   /* Am, An, Im, Auf: a street may start here */
    L_UNIT = 1u << 16,    /* Uhr, Euro, Minuten: a number, not an address */
    L_ADDRCTX = 1u << 17, /* Adresse, Anschrift, wohnhaft */
    L_POSS = 1u << 18,    /* Ihr, Ihre, Dein before a signature */
    L_STRONGF = 1u << 19, /* a field whose value is a name whatever it is */
    L_IDCTX = 1u << 20,   /* Ausweis, Personalausweis */
};

/* A word and its length, for suffix tests without strlen. */
typedef struct lit {
    const char *s;
    size_t n;
} lit_t;
#define LIT(x) { x, sizeof x - 1 }

/* Suffixes that mark a capitalised noun, never a surname ({ NULL, 0 } ends). */
extern const lit_t hh_pii_de_noun_suffix[];

/* Builds the lexicon once (thread-safe); 0 or HH_ENOMEM. */
int hh_pii_de_lex_ready(void);
/* The flags of the word w[0..n) (exact bytes), 0 when unknown or before
 * hh_pii_de_lex_ready succeeded. */
uint32_t hh_pii_de_lex_get(const char *w, size_t n);

#endif
