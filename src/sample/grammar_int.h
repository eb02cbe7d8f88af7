/* grammar_int.h - private to the grammar module (grammar.c, json_schema.c):
 * the compiled grammar layout and the builder the schema compiler uses.
 *
 * A grammar is a set of rules; a rule is a list of alternatives; an
 * alternative is a sequence of elements, each a byte set (matches one byte)
 * or a reference to a rule. Flattened, every alternative is a run of
 * elements closed by an END element, so a position in elems[] is a program
 * counter. Element encoding: kind in the top 2 bits, argument below. */
#ifndef HH_SAMPLE_GRAMMAR_INT_H
#define HH_SAMPLE_GRAMMAR_INT_H

#include "base/err.h"
#include "sample/grammar.h"

#include <stddef.h>
#include <stdint.h>

#define GE_END   0u
#define GE_BYTES 1u
#define GE_REF   2u
#define GE_KIND(e) ((e) >> 30)
#define GE_ARG(e)  ((e) & 0x3fffffffu)
#define GE_MAKE(k, a) (((uint32_t)(k) << 30) | (uint32_t)(a))

/* Builder bounds: a schema that needs more is refused (HH_ERANGE). */
#define GB_MAX_RULES  (1u << 20)
#define GB_MAX_ELEMS  (1u << 23)

typedef struct gb_byteset {
    uint64_t w[4];
} gb_byteset_t;

struct hh_grammar {
    uint32_t     *elems;       /* n_elems; elems[0..1] = REF root, END (the start program) */
    size_t        n_elems;
    uint32_t     *alt_start;   /* n_alts: index into elems of each alternative's first element */
    uint32_t     *rule_alt;    /* n_rules + 1: alternatives of rule r are alt_start[rule_alt[r] .. rule_alt[r+1]) */
    size_t        n_rules;
    gb_byteset_t *sets;        /* n_sets; a GE_BYTES element's argument indexes this */
    size_t        n_sets;
};

/* One alternative being built (a growable element array). */
typedef struct gb_seq {
    uint32_t *e;
    size_t    n, cap;
} gb_seq_t;

typedef struct gb_rule {
    gb_seq_t *alts;
    size_t    n, cap;
} gb_rule_t;

/* Builder. Errors are sticky: after the first failure (rc < 0, details in
 * err) every call is a no-op, so callers check rc where convenient. */
typedef struct gb {
    gb_rule_t    *rules;
    size_t        n_rules, cap_rules;
    gb_byteset_t *sets;
    size_t        n_sets, cap_sets;
    int32_t       single[256];   /* set index of each one-byte set, -1 if none yet */
    size_t        n_elems;       /* total elements so far (limit) */
    int           rc;
    hh_err_t     *err;
} gb_t;

void     gb_init(gb_t *b, hh_err_t *err);
void     gb_free(gb_t *b);
/* Records the first error (returns b->rc). */
int      gb_fail(gb_t *b, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* New empty rule (no alternatives: matches nothing until some are added). */
uint32_t gb_rule_new(gb_t *b);
void     gb_seq_byte(gb_t *b, gb_seq_t *s, uint8_t c);
void     gb_seq_range(gb_t *b, gb_seq_t *s, uint8_t lo, uint8_t hi);
void     gb_seq_set(gb_t *b, gb_seq_t *s, const gb_byteset_t *set);
void     gb_seq_lit(gb_t *b, gb_seq_t *s, const char *lit, size_t len);
void     gb_seq_ref(gb_t *b, gb_seq_t *s, uint32_t rule);
/* Moves s (possibly empty = epsilon) into rule as a new alternative; s is
 * left empty and reusable. */
void     gb_alt(gb_t *b, uint32_t rule, gb_seq_t *s);
void     gb_seq_free(gb_seq_t *s);

/* Finishes: drops alternatives that can never produce a finite string,
 * refuses a root that produces nothing and cycles of rules that consume no
 * input, flattens into *out (caller owns). Frees the builder's contents. */
int      gb_finish(gb_t *b, uint32_t root, hh_grammar_t **out);

#endif
