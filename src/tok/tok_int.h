/* tok_int.h - private to src/tok/: the vocabulary record, its hash tables,
 * the growable id vector and the per-family encoders that tok.c dispatches
 * to. Nothing here is part of the public contract (tok.h). */
#ifndef HH_TOK_TOK_INT_H
#define HH_TOK_TOK_INT_H

#include "tok/tok.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

/* GGUF token types (tokenizer.ggml.token_type). */
enum {
    HH_TOKTYPE_UNDEFINED = 0, HH_TOKTYPE_NORMAL = 1, HH_TOKTYPE_UNKNOWN = 2, HH_TOKTYPE_CONTROL = 3,
    HH_TOKTYPE_USER_DEFINED = 4, HH_TOKTYPE_UNUSED = 5, HH_TOKTYPE_BYTE = 6,
};

/* Most regexes one pre-tokenizer family applies in sequence. */
#define HH_TOK_MAX_REGEX 8

/* Open-addressing table from token text to id. slots[i] is a token id or
 * -1; capacity is a power of two at least twice the token count. */
typedef struct hh_tokmap {
    int32_t *slots;
    uint64_t mask;
} hh_tokmap_t;

/* Open-addressing table from a merge pair (left id, right id) to its rank
 * and the id of the merged token. key 0 marks an empty slot (pairs are
 * stored as key+1 so pair (0,0) stays representable). */
typedef struct hh_mergeslot {
    uint64_t key;
    int32_t  rank;
    int32_t  result;
} hh_mergeslot_t;

typedef struct hh_mergemap {
    hh_mergeslot_t *slots;
    uint64_t        mask;
} hh_mergemap_t;

struct hh_vocab {
    hh_vocab_kind_t kind;
    int32_t   n_tokens;
    char     *blob;        /* every token text, NUL-terminated, back to back */
    uint64_t *text_off;    /* (n_tokens) offset of each text in blob */
    uint32_t *text_len;    /* (n_tokens) byte length (texts may hold NUL) */
    float    *scores;      /* (n_tokens) SPM merge scores, 0 when absent */
    int32_t  *types;       /* (n_tokens) HH_TOKTYPE_* */
    uint8_t  *eog;         /* (n_tokens) 1 for end-of-generation tokens */
    hh_tokmap_t   map;
    hh_mergemap_t merges;  /* BPE only */
    uint32_t  max_token_len;

    int32_t bos, eos, unk, eot, sep, pad;
    bool    add_bos, add_eos, add_space_prefix, ignore_merges;
    /* SPM: no token holds U+2581 right after another character, so no merge
     * crosses the start of a U+2581 run and each such word merges alone. */
    bool    spm_word_split;

    /* Ids of CONTROL / USER_DEFINED / UNKNOWN tokens that may appear in
     * text, sorted by first byte, then longest text first (partitioning
     * tries the longest match at each position). */
    int32_t *specials;
    int32_t  n_specials;

    int32_t byte_tok[256];       /* SPM: id of <0xNN>; BPE: id of the byte's mapped char; -1 if none */
    uint16_t byte_to_cp[256];    /* BPE byte-to-unicode mapping */
    int16_t  cp_to_byte[324];    /* inverse for code points < 324, -1 elsewhere */

    /* BPE pre-tokenizer: regexes applied one after another. */
    char        pre_name[64];
    int         n_regex;
    pcre2_code *regex[HH_TOK_MAX_REGEX];
    bool        regex_jit[HH_TOK_MAX_REGEX];
};

/* Growable vector of token ids. */
typedef struct hh_idvec {
    int32_t *v;
    size_t   n, cap;
} hh_idvec_t;

int hh_idvec_push(hh_idvec_t *iv, int32_t id);

/* Token id for text[0..len), -1 if the vocabulary has no such token. */
int32_t hh_tokmap_find(const hh_vocab_t *v, const char *text, size_t len);
/* Merge rank and result for the pair, -1 rank if the pair never merges. */
const hh_mergeslot_t *hh_mergemap_find(const hh_vocab_t *v, int32_t left, int32_t right);

/* Byte length of the UTF-8 sequence that starts with lead byte c (1 for
 * continuation or invalid bytes, so every byte advances). */
static inline size_t hh_utf8_len(unsigned char c)
{
    if (c < 0x80) return 1;
    if ((c & 0xE0) == 0xC0) return 2;
    if ((c & 0xF0) == 0xE0) return 3;
    if ((c & 0xF8) == 0xF0) return 4;
    return 1;
}

/* Per-call cache from a word's bytes to its token ids: real text repeats
 * its words, and a hit skips the merge work. Word pointers point into the
 * caller's text, which must outlive the cache; cached ids live in ids.
 * Zero-initialize; hh_wcache_free releases. */
typedef struct hh_wcache_slot {
    const char *word;   /* NULL: empty slot */
    uint32_t    len;
    uint32_t    off, n; /* ids.v[off .. off+n) */
    uint64_t    hash;
} hh_wcache_slot_t;

typedef struct hh_wcache {
    hh_wcache_slot_t *slots;
    size_t            mask, used;
    hh_idvec_t        ids;
} hh_wcache_t;

/* Words longer than this are not cached (they seldom repeat). */
#define HH_WCACHE_MAX_WORD 64

/* Looks word up; on a hit appends its ids to out and returns 1, else 0 (or
 * a negative code when out cannot grow). *hash is set for hh_wcache_put. */
int  hh_wcache_get(const hh_wcache_t *c, const char *word, size_t len, uint64_t *hash, hh_idvec_t *out);
/* Records out->v[from .. out->n) as word's ids (a no-op for long words or a
 * full cache). 0 or HH_ENOMEM. */
int  hh_wcache_put(hh_wcache_t *c, const char *word, size_t len, uint64_t hash, const hh_idvec_t *out, size_t from);
void hh_wcache_free(hh_wcache_t *c);

/* Candidate merge in a min-heap: key orders the candidates (lower first;
 * the encoders put rank or negated score in the high half and the left
 * symbol index in the low half, so ties go to the leftmost pair); l, r are
 * the symbol indices, a, b what the encoder needs to detect a stale entry. */
typedef struct hh_cand {
    uint64_t key;
    int32_t  l, r;
    int32_t  a, b;
} hh_cand_t;

typedef struct hh_heap {
    hh_cand_t *v;
    size_t     n, cap;
} hh_heap_t;

int  hh_heap_push(hh_heap_t *h, hh_cand_t c);
/* Removes the smallest candidate into *c; false when empty. */
bool hh_heap_pop(hh_heap_t *h, hh_cand_t *c);

/* Family encoders: append the ids for one fragment of plain text (no
 * special tokens in it) to out. spm: space_prefix prepends U+2581 (the
 * fragment starts the text or follows a special token). Return 0 or a negative HH_E* code. */
int hh_tok_spm_encode(const hh_vocab_t *v, const char *text, size_t len, bool space_prefix, hh_idvec_t *out);
int hh_tok_bpe_encode(const hh_vocab_t *v, const char *text, size_t len, hh_idvec_t *out);
int hh_tok_wpm_encode(const hh_vocab_t *v, const char *text, size_t len, hh_idvec_t *out);

/* BPE setup: byte mapping tables, pre-tokenizer regexes for v->pre_name,
 * merge table from "left right" strings. */
void hh_tok_bpe_init_bytes(hh_vocab_t *v);
int  hh_tok_bpe_init_pre(hh_vocab_t *v, const char *pre_name, hh_err_t *err);
void hh_tok_bpe_free_pre(hh_vocab_t *v);
int  hh_tok_bpe_init_merges(hh_vocab_t *v, const char *const *merges, const uint64_t *lens, uint64_t n,
                            hh_err_t *err);

#endif
