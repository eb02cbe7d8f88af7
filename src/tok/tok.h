/* tok.h - tokenizers: SentencePiece-style (llama, mistral, phi-3), byte-level
 * BPE with pre-tokenizer families (gpt-2, llama3, qwen2, deepseek, ...),
 * WordPiece (bert). Built from a GGUF file's tokenizer.* metadata.
 *
 * Contract (owner of src/tok/ may extend, not change, these). */
#ifndef HH_TOK_TOK_H
#define HH_TOK_TOK_H

#include "base/err.h"
#include "gguf/gguf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum hh_vocab_kind { HH_VOCAB_SPM = 0, HH_VOCAB_BPE = 1, HH_VOCAB_WPM = 2 } hh_vocab_kind_t;

typedef struct hh_vocab hh_vocab_t;

/* Builds the vocabulary from g's tokenizer.* keys; copies what it needs, so
 * g may be closed afterwards. Caller owns *out. */
int  hh_vocab_load(hh_vocab_t **out, const hh_gguf_t *g, hh_err_t *err);
void hh_vocab_free(hh_vocab_t *v);

hh_vocab_kind_t hh_vocab_kind(const hh_vocab_t *v);
int32_t hh_vocab_n_tokens(const hh_vocab_t *v);
int32_t hh_vocab_bos(const hh_vocab_t *v);      /* -1 if none */
int32_t hh_vocab_eos(const hh_vocab_t *v);      /* -1 if none */
bool    hh_vocab_add_bos(const hh_vocab_t *v);  /* per tokenizer.ggml.add_bos_token, else the family default */
/* True for tokens that end generation (EOS, EOT, <|im_end|>, <|eot_id|>, ...). */
bool    hh_vocab_is_eog(const hh_vocab_t *v, int32_t id);
/* The token's text as stored in the vocabulary (NUL-terminated), NULL if out of range. */
const char *hh_vocab_text(const hh_vocab_t *v, int32_t id);

/* Tokenizes len bytes of text. add_special: BOS (and EOS) as the vocabulary
 * says; parse_special: control tokens written in the text ("<|im_start|>")
 * become their ids, otherwise they are plain text. *ids is malloc'd; caller
 * frees. */
int hh_tokenize(const hh_vocab_t *v, const char *text, size_t len, bool add_special, bool parse_special,
                int32_t **ids, size_t *n_ids, hh_err_t *err);

/* Bytes of one token as it appears in text (byte tokens become their byte,
 * SPM's U+2581 a space, BPE's byte-to-unicode mapping undone). Control
 * tokens render as their text only when render_special. Writes up to size
 * bytes; returns the full length (may exceed size), or a negative code. */
int hh_token_to_piece(const hh_vocab_t *v, int32_t id, bool render_special, char *buf, size_t size);

/* Streaming detokenizer: emits only complete UTF-8 sequences, holding back
 * the bytes of a character split across tokens until it completes. */
typedef struct hh_detok {
    const hh_vocab_t *vocab;
    bool              render_special;
    bool              at_start;      /* drop SPM's leading space of the first piece */
    size_t            n_pending;
    char              pending[8];
} hh_detok_t;

void hh_detok_init(hh_detok_t *d, const hh_vocab_t *v, bool render_special);
/* Appends token id; writes the bytes now complete to out (cap >= 64 is
 * always enough for one token plus pending bytes when the longest piece is
 * shorter; returns the byte count, or a negative code if cap is too small). */
int hh_detok_push(hh_detok_t *d, int32_t id, char *out, size_t cap);
/* Flushes held-back bytes of an unfinished sequence (as U+FFFD). */
int hh_detok_flush(hh_detok_t *d, char *out, size_t cap);

#endif
