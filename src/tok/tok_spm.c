/* tok_spm.c - SentencePiece-style tokenizer (tokenizer.ggml.model "llama"):
 * spaces become U+2581 (plus one in front when the space prefix applies),
 * the text starts as one symbol per UTF-8 character, and the adjacent pair
 * whose concatenation is the highest-scoring vocabulary entry merges first
 * (leftmost on ties), through a heap of candidates so long texts stay
 * O(n log n). Symbols left without a token fall back to <0xNN> byte tokens,
 * or the unknown token when the vocabulary has none. */
#include "tok/tok_int.h"

#include <stdlib.h>
#include <string.h>

typedef struct spm_sym {
    int32_t start, len;
    int32_t prev, next;
} spm_sym_t;

/* Maps a float to an unsigned key with the same order. */
static uint32_t float_order(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

static int try_pair(const hh_vocab_t *v, const char *s, const spm_sym_t *syms, hh_heap_t *h, int32_t l, int32_t r)
{
    if (l < 0 || r < 0)
        return HH_OK;
    int32_t id = hh_tokmap_find(v, s + syms[l].start, (size_t)(syms[l].len + syms[r].len));
    if (id < 0)
        return HH_OK;
    /* Highest score first: invert the order key; then the leftmost. */
    uint64_t key = ((uint64_t)(~float_order(v->scores[id])) << 32) | (uint32_t)l;
    return hh_heap_push(h, (hh_cand_t){ key, l, r, syms[l].len, syms[r].len });
}

int hh_tok_spm_encode(const hh_vocab_t *v, const char *text, size_t len, bool space_prefix, hh_idvec_t *out)
{
    size_t n_sp = 0;
    for (size_t i = 0; i < len; i++)
        n_sp += text[i] == ' ';
    size_t elen = len + 2 * n_sp + (space_prefix ? 3 : 0);
    if (elen == 0)
        return HH_OK;
    if (elen > (size_t)INT32_MAX / 2)
        return HH_ERANGE;
    int rc = HH_OK;
    hh_heap_t h = { 0 };
    char *s = malloc(elen);
    spm_sym_t *syms = malloc(elen * sizeof *syms);
    if (!s || !syms) {
        rc = HH_ENOMEM;
        goto cleanup;
    }
    size_t o = 0;
    if (space_prefix) {
        memcpy(s, "\xe2\x96\x81", 3);
        o = 3;
    }
    for (size_t i = 0; i < len; i++) {
        if (text[i] == ' ') {
            memcpy(s + o, "\xe2\x96\x81", 3);
            o += 3;
        } else {
            s[o++] = text[i];
        }
    }
    int32_t n = 0;
    for (size_t i = 0; i < elen;) {
        /* One symbol per character; a byte that does not start a complete
         * sequence stands alone (so it cannot swallow the U+2581 of a
         * following space and break the round trip). */
        size_t cl = hh_utf8_len((unsigned char)s[i]);
        if (cl > elen - i)
            cl = 1;
        for (size_t k = 1; k < cl; k++)
            if (((unsigned char)s[i + k] & 0xC0) != 0x80)
                cl = 1;
        syms[n] = (spm_sym_t){ (int32_t)i, (int32_t)cl, n - 1, -1 };
        if (n > 0)
            syms[n - 1].next = n;
        n++;
        i += cl;
    }
    for (int32_t i = 1; i < n; i++)
        if ((rc = try_pair(v, s, syms, &h, i - 1, i)))
            goto cleanup;
    hh_cand_t c;
    while (hh_heap_pop(&h, &c)) {
        spm_sym_t *l = &syms[c.l], *r = &syms[c.r];
        if (l->len != c.a || r->len != c.b || l->next != c.r)
            continue;   /* stale: a side changed since the pair was queued */
        l->len += r->len;
        r->len = 0;
        l->next = r->next;
        if (r->next >= 0)
            syms[r->next].prev = c.l;
        if ((rc = try_pair(v, s, syms, &h, l->prev, c.l)) || (rc = try_pair(v, s, syms, &h, c.l, l->next)))
            goto cleanup;
    }
    for (int32_t i = 0; i >= 0; i = syms[i].next) {
        int32_t id = hh_tokmap_find(v, s + syms[i].start, (size_t)syms[i].len);
        if (id >= 0) {
            if ((rc = hh_idvec_push(out, id)))
                goto cleanup;
            continue;
        }
        for (int32_t k = 0; k < syms[i].len; k++) {
            int32_t b = v->byte_tok[(unsigned char)s[syms[i].start + k]];
            if (b < 0)
                b = v->unk;
            if (b >= 0 && (rc = hh_idvec_push(out, b)))
                goto cleanup;
        }
    }
cleanup:
    free(s);
    free(syms);
    free(h.v);
    return rc;
}
