/* grammar.h - grammar-constrained decoding: JSON Schema -> byte grammar ->
 * per-request matcher that masks the logits of tokens that cannot continue
 * a valid output.
 *
 * Three objects, three lifetimes:
 *   hh_grammar_t        compiled from a schema; immutable, shareable across
 *                       threads and requests.
 *   hh_grammar_vocab_t  each token's bytes and a trie over them, built once
 *                       per vocabulary (per loaded model); immutable,
 *                       shareable; independent of the hh_vocab_t after
 *                       creation.
 *   hh_grammar_state_t  one per request; used by one thread at a time.
 *
 * Typical decode step (cheap path first):
 *   tok = sample(logits);
 *   if (!hh_grammar_token_allowed(st, tok)) {     // walks tok's bytes only
 *       hh_grammar_apply(st, logits, n_vocab);    // full mask (trie walk)
 *       tok = sample(logits);
 *   }
 *   hh_grammar_accept(st, tok);
 *   if (hh_grammar_finished(st)) stop;            // nothing may follow
 *
 * Output language. The root is: optional leading whitespace, then one JSON
 * value matching the schema, and nothing after it (so hh_grammar_finished()
 * becomes true right after the closing brace of an object; for a bare number
 * at the root, more digits could follow, so an end-of-generation token ends
 * it). Whitespace between tokens of the value is limited to "", " ", or a
 * newline followed by up to 20 spaces/tabs, so a model cannot loop forever
 * on whitespace. Strings: valid UTF-8, no raw control characters, escapes
 * \" \\ \/ \b \f \n \r \t and \uXXXX outside the surrogate range (so the
 * decoded text is always valid UTF-8). Numbers: at most 20 integer digits,
 * 20 fraction digits and 3 exponent digits.
 *
 * Supported JSON Schema subset (anything else is HH_EUNSUPPORTED with the
 * keyword and its location in err->msg; nothing is silently ignored except
 * the annotations title, description, $schema, $id, $comment, default,
 * examples, format, deprecated, readOnly, writeOnly):
 *   - boolean schemas: true = any JSON value, false = no value
 *   - type: "object" | "array" | "string" | "number" | "integer" |
 *     "boolean" | "null", or an array of them (["string","null"]);
 *     "nullable": true (OpenAPI style) adds null. No type: inferred from
 *     properties/items/enum/const/anyOf/$ref, else any JSON value.
 *   - object: properties (emitted in the order written), required (always
 *     emitted; a required name missing from properties gets schema true),
 *     additionalProperties false / true / schema. Without
 *     additionalProperties, an object that has properties emits only those
 *     (a valid subset of what the schema allows); an object without
 *     properties accepts any members (or those of additionalProperties).
 *     Extra members (additionalProperties true/schema beside properties)
 *     come after the listed ones, with unescaped printable-ASCII names that
 *     never equal a listed name. Extra members may repeat each other's
 *     names, as may members of free-form objects (json_object mode): a
 *     grammar cannot remember an unbounded set of names; every value still
 *     matches its schema.
 *   - array: items (schema), minItems, maxItems (<= HH_GRAMMAR_MAX_REPEAT)
 *   - string: minLength, maxLength (code points, <= HH_GRAMMAR_MAX_REPEAT)
 *   - number, integer (no minimum/maximum/multipleOf: unsupported), boolean, null
 *   - enum, const: any JSON values; the output is the value exactly as
 *     cJSON prints it unformatted (e.g. {"a":1}, 1.5, "x")
 *   - anyOf, oneOf (both as alternatives: for oneOf with overlapping
 *     alternatives the output satisfies at least one), allOf with exactly
 *     one member
 *   - $ref to "#", "#/$defs/NAME", "#/definitions/NAME" or any JSON
 *     pointer into the document, recursion allowed; $ref may have only
 *     annotations beside it.
 * Tool calls: build {"type":"object","properties":{"name":{"const":NAME},
 * "arguments":PARAMS},"required":["name","arguments"]} (or an anyOf of such
 * objects for tool_choice "required") and compile it like any schema.
 *
 * Limits against hostile schemas: text <= HH_GRAMMAR_MAX_SCHEMA_BYTES,
 * nesting <= HH_GRAMMAR_MAX_DEPTH, grammar size bounded, $ref cycles that
 * consume no input rejected, schemas that admit no value rejected. At run
 * time the matcher keeps at most HH_GRAMMAR_MAX_STACKS parse stacks of at
 * most HH_GRAMMAR_MAX_STACK_DEPTH frames; beyond that, the continuations
 * that do not fit are dropped (output stays valid, it only gets narrower). */
#ifndef HH_SAMPLE_GRAMMAR_H
#define HH_SAMPLE_GRAMMAR_H

#include "base/err.h"
#include "tok/tok.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HH_GRAMMAR_MAX_SCHEMA_BYTES (4u << 20)
#define HH_GRAMMAR_MAX_DEPTH        64     /* nested schema objects */
#define HH_GRAMMAR_MAX_REPEAT       4096   /* minItems/maxItems/minLength/maxLength bound */
#define HH_GRAMMAR_MAX_STACKS       512
#define HH_GRAMMAR_MAX_STACK_DEPTH  2048

typedef struct hh_grammar hh_grammar_t;
typedef struct hh_grammar_vocab hh_grammar_vocab_t;
typedef struct hh_grammar_state hh_grammar_state_t;

/* Compiles a JSON Schema (len bytes of JSON text, not NUL-terminated
 * necessarily) into a grammar. schema_json NULL: any JSON object
 * (response_format json_object). Errors: HH_EFORMAT (not JSON, or a keyword
 * of the wrong type), HH_EUNSUPPORTED (keyword outside the subset above),
 * HH_EINVAL (no value satisfies the schema, bad $ref, $ref cycle without
 * content), HH_ERANGE (a limit), HH_ENOMEM. Caller owns *out. */
int  hh_grammar_from_json_schema(const char *schema_json, size_t len, hh_grammar_t **out, hh_err_t *err);
void hh_grammar_free(hh_grammar_t *g);

/* Number of rules of the compiled grammar (for tests and logs). */
size_t hh_grammar_n_rules(const hh_grammar_t *g);

/* Precomputes each token's bytes (hh_token_to_piece without special
 * rendering), its end-of-generation flag, and a byte trie over all tokens.
 * Control tokens that are not EOG, and tokens with no bytes, are never
 * allowed by a grammar. Copies what it needs: v may be freed afterwards.
 * Cost: O(total token bytes); ~tens of ms for a 150k vocabulary, so build
 * once per model. Caller owns *out. */
int  hh_grammar_vocab_create(const hh_vocab_t *v, hh_grammar_vocab_t **out, hh_err_t *err);
void hh_grammar_vocab_free(hh_grammar_vocab_t *gv);
int32_t hh_grammar_vocab_n_tokens(const hh_grammar_vocab_t *gv);

/* Starts matching g from its beginning. gv may be NULL if only the byte
 * level functions (hh_grammar_accept_bytes) are used. g and gv must outlive
 * the state. Caller owns *out. */
int  hh_grammar_state_create(const hh_grammar_t *g, const hh_grammar_vocab_t *gv, hh_grammar_state_t **out,
                             hh_err_t *err);
void hh_grammar_state_free(hh_grammar_state_t *s);

/* Sets logits[t] = -INFINITY for every token t < n_vocab that cannot
 * continue a valid output from the current state (tokens >= the grammar
 * vocabulary's size too). EOG tokens stay allowed only when the value is
 * complete. If nothing at all is allowed (cannot happen for a grammar that
 * compiled, barring dropped continuations), all logits become -INFINITY
 * except the EOG tokens. Returns the number of allowed tokens (>= 0),
 * HH_EINVAL (no vocab, n_vocab <= 0), HH_ESTATE (already ended), HH_ENOMEM. */
int  hh_grammar_apply(hh_grammar_state_t *s, float *logits, int32_t n_vocab);

/* Same computation as hh_grammar_apply, as a byte mask: allowed[t] = 1 or 0
 * for t < n (n <= vocabulary size is fine). Returns the allowed count. */
int  hh_grammar_fill_mask(hh_grammar_state_t *s, uint8_t *allowed, int32_t n);

/* True if token may be accepted now (walks only its own bytes; a few
 * microseconds). Out-of-range tokens are false. */
bool hh_grammar_token_allowed(hh_grammar_state_t *s, int32_t token);

/* Advances by one token. An EOG token is accepted only when the value is
 * complete and ends the state (hh_grammar_ended). Returns 0, HH_EINVAL if
 * the token is not allowed (state unchanged), HH_ESTATE if already ended,
 * HH_ENOMEM. */
int  hh_grammar_accept(hh_grammar_state_t *s, int32_t token);

/* Advances by raw bytes (tests, or callers that force text such as a prefix
 * of the answer). All or nothing: on HH_EINVAL the state is unchanged. */
int  hh_grammar_accept_bytes(hh_grammar_state_t *s, const char *bytes, size_t len);

/* A whole value has been produced (an EOG token would be accepted now). */
bool hh_grammar_complete(const hh_grammar_state_t *s);
/* Complete and no byte can follow: the caller may stop without waiting for EOG. */
bool hh_grammar_finished(const hh_grammar_state_t *s);
/* An EOG token was accepted. */
bool hh_grammar_ended(const hh_grammar_state_t *s);

/* Back to the beginning (same grammar and vocab). */
void hh_grammar_state_reset(hh_grammar_state_t *s);

#endif
