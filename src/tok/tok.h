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

/* Builds a byte-level BPE vocabulary from GPT-2 style files: encoder_json
 * maps token text -> id, vocab_bpe lists "left right" merges, highest
 * priority first (an optional "#version" line is skipped). pre_name picks
 * the pre-tokenizer family as tokenizer.ggml.pre would ("llama-bpe",
 * "qwen2", NULL for gpt-2). added (n_added texts) become CONTROL tokens with
 * the ids after the largest id in encoder_json (e.g. Llama 3's
 * <|begin_of_text|> ...). Caller owns *out. */
int hh_vocab_load_bpe_files(hh_vocab_t **out, const char *encoder_json, const char *vocab_bpe,
                            const char *pre_name, const char *const *added, size_t n_added, hh_err_t *err);

hh_vocab_kind_t hh_vocab_kind(const hh_vocab_t *v);
int32_t hh_vocab_n_tokens(const hh_vocab_t *v);
int32_t hh_vocab_bos(const hh_vocab_t *v);      /* -1 if none */
int32_t hh_vocab_eos(const hh_vocab_t *v);      /* -1 if none */
bool    hh_vocab_add_bos(const hh_vocab_t *v);  /* per tokenizer.ggml.add_bos_token, else the family default */
int32_t hh_vocab_eot(const hh_vocab_t *v);      /* tokenizer.ggml.eot_token_id, -1 if none */
bool    hh_vocab_add_eos(const hh_vocab_t *v);  /* per tokenizer.ggml.add_eos_token, else the family default (bert: [SEP]) */
/* Pre-tokenizer family in use for BPE ("gpt-2", "llama3", "qwen2", ...); "" otherwise. */
const char *hh_vocab_pre(const hh_vocab_t *v);
/* Byte length of the longest token text (sizes detokenizer buffers: a
 * piece is at most this long, plus 3 held-back bytes, or 3x for U+FFFD). */
uint32_t hh_vocab_max_token_len(const hh_vocab_t *v);
/* True for CONTROL tokens (rendered only with render_special). */
bool    hh_vocab_is_control(const hh_vocab_t *v, int32_t id);
/* Id of the token whose text is exactly text[0..len), -1 if none. */
int32_t hh_vocab_find(const hh_vocab_t *v, const char *text, size_t len);
/* True for tokens that end generation (EOS, EOT, <|im_end|>, <|eot_id|>, ...). */
bool    hh_vocab_is_eog(const hh_vocab_t *v, int32_t id);
/* The token's text as stored in the vocabulary (NUL-terminated), NULL if out of range. */
const char *hh_vocab_text(const hh_vocab_t *v, int32_t id);

/* Tokenizes len bytes of text. add_special: BOS (and EOS) as the vocabulary
 * says; parse_special: control tokens written in the text ("<|im_start|>")
 * become their ids, otherwise they are plain text. USER_DEFINED tokens
 * (added tokens that are not special) are always matched, as the reference
 * tokenizers (HF, llama.cpp) do. *ids is malloc'd; caller
 * frees. */
int hh_tokenize(const hh_vocab_t *v, const char *text, size_t len, bool add_special, bool parse_special,
                int32_t **ids, size_t *n_ids, hh_err_t *err);

/* Bytes of one token as it appears in text (byte tokens become their byte,
 * SPM's U+2581 a space, BPE's byte-to-unicode mapping undone). Control
 * tokens render as their text only when render_special. Writes up to size
 * bytes; returns the full length (may exceed size), or a negative code. */
int hh_token_to_piece(const hh_vocab_t *v, int32_t id, bool render_special, char *buf, size_t size);

/* Detokenizes n ids into one malloc'd, NUL-terminated string (*out, caller
 * frees; *out_len excludes the NUL). Bytes are concatenated exactly (no
 * UTF-8 repair), so detok(tok(x)) == x; SPM with the space prefix and
 * WordPiece drop the leading space of the first non-empty piece and of the
 * first piece after a special token (where the tokenizer inserted one). */
int hh_detokenize(const hh_vocab_t *v, const int32_t *ids, size_t n, bool render_special, char **out,
                  size_t *out_len);

/* Streaming detokenizer: emits only complete UTF-8 sequences, holding back
 * the bytes of a character split across tokens until it completes. */
typedef struct hh_detok {
    const hh_vocab_t *vocab;
    bool              render_special;
    bool              at_start;      /* drop the space prefix of the next piece (start, after specials) */
    size_t            n_pending;
    char              pending[8];
} hh_detok_t;

void hh_detok_init(hh_detok_t *d, const hh_vocab_t *v, bool render_special);
/* Appends token id; writes the bytes now complete to out and returns their
 * count, or HH_EFULL (state unchanged) if cap is too small. Bytes that can
 * never form a character become U+FFFD, so cap >= 3 * (hh_vocab_max_token_len
 * + 3) is always enough; 64 suffices for pieces of up to ~18 bytes. */
int hh_detok_push(hh_detok_t *d, int32_t id, char *out, size_t cap);
/* Flushes held-back bytes of an unfinished sequence (as U+FFFD). */
int hh_detok_flush(hh_detok_t *d, char *out, size_t cap);

#endif
