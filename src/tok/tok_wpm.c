/* tok_wpm.c - WordPiece (tokenizer.ggml.model "bert"): NFD, lowercasing,
 * accent stripping, splitting on whitespace, punctuation, ASCII symbols and
 * CJK ideographs, then greedy longest-match-first per word. GGUF stores
 * BERT's vocabulary with word-initial pieces as "\u2581piece" and "##piece"
 * continuations as plain "piece", so a word is matched as "\u2581word". A
 * word that cannot be covered becomes the unknown token. */
#include "tok/tok_int.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

static bool is_ws(int32_t c)
{
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
           c == 0x3000;
}

static bool is_cjk(int32_t c)
{
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
           (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

typedef struct strbuf {
    char  *p;
    size_t n, cap;
} strbuf_t;

static int sb_put(strbuf_t *b, const void *s, size_t n)
{
    if (b->n + n > b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 256;
        while (nc < b->n + n)
            nc *= 2;
        char *np = realloc(b->p, nc);
        if (!np)
            return HH_ENOMEM;
        b->p = np;
        b->cap = nc;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    return HH_OK;
}

/* Greedy longest match of "\u2581" + word (in b->p[0..b->n)). */
static int wpm_word(const hh_vocab_t *v, const strbuf_t *w, hh_idvec_t *out)
{
    size_t n = w->n, before = out->n;
    int rc;
    for (size_t i = 0; i < n;) {
        size_t j = n - i > v->max_token_len ? i + v->max_token_len : n;
        int32_t id = -1;
        for (; j > i; j--)
            if ((id = hh_tokmap_find(v, w->p + i, j - i)) >= 0)
                break;
        if (id < 0) {
            out->n = before;
            break;
        }
        if ((rc = hh_idvec_push(out, id)))
            return rc;
        i = j;
    }
    if (out->n == before && v->unk >= 0)
        return hh_idvec_push(out, v->unk);
    return HH_OK;
}

int hh_tok_wpm_encode(const hh_vocab_t *v, const char *text, size_t len, hh_idvec_t *out)
{
    int rc = HH_OK;
    strbuf_t w = { 0 };
    static const char PREFIX[] = "\xe2\x96\x81";
    const utf8proc_uint8_t *s = (const utf8proc_uint8_t *)text;
    size_t i = 0;
    if ((rc = sb_put(&w, PREFIX, 3)))
        goto cleanup;
    while (i < len) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t cl = utf8proc_iterate(s + i, (utf8proc_ssize_t)(len - i), &cp);
        if (cl <= 0) {
            i++;
            continue;   /* invalid byte: dropped, like U+FFFD below */
        }
        i += (size_t)cl;
        utf8proc_int32_t dec[32];
        int lbc = 0;
        utf8proc_ssize_t nd = utf8proc_decompose_char(cp, dec, 32, UTF8PROC_DECOMPOSE, &lbc);
        if (nd < 0 || nd > 32) {
            dec[0] = cp;
            nd = 1;
        }
        for (utf8proc_ssize_t k = 0; k < nd; k++) {
            int32_t c = dec[k];
            if (is_ws(c)) {
                if (w.n > 3 && (rc = wpm_word(v, &w, out)))
                    goto cleanup;
                w.n = 3;
                continue;
            }
            utf8proc_category_t cat = utf8proc_category(c);
            if (c == 0 || c == 0xFFFD || cat == UTF8PROC_CATEGORY_CC || cat == UTF8PROC_CATEGORY_CF ||
                cat == UTF8PROC_CATEGORY_CO || cat == UTF8PROC_CATEGORY_CS || cat == UTF8PROC_CATEGORY_MN)
                continue;   /* controls, and accents once NFD split them off */
            utf8proc_uint8_t u[4];
            utf8proc_ssize_t ul = utf8proc_encode_char(utf8proc_tolower(c), u);
            bool punct = (cat >= UTF8PROC_CATEGORY_PC && cat <= UTF8PROC_CATEGORY_PO) ||
                         (c < 0x7F && cat >= UTF8PROC_CATEGORY_SM && cat <= UTF8PROC_CATEGORY_SO) || is_cjk(c);
            if (punct) {
                if (w.n > 3 && (rc = wpm_word(v, &w, out)))
                    goto cleanup;
                w.n = 3;
                if ((rc = sb_put(&w, u, (size_t)ul)) || (rc = wpm_word(v, &w, out)))
                    goto cleanup;
                w.n = 3;
            } else if ((rc = sb_put(&w, u, (size_t)ul))) {
                goto cleanup;
            }
        }
    }
    if (w.n > 3)
        rc = wpm_word(v, &w, out);
cleanup:
    free(w.p);
    return rc;
}
