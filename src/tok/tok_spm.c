/* tok_spm.c - SentencePiece-style tokenizer (tokenizer.ggml.model "llama"):
 * spaces become U+2581 (plus one in front when the space prefix applies),
 * the text starts as one symbol per UTF-8 character, and the adjacent pair
 * whose concatenation is the highest-scoring vocabulary entry merges first
 * (leftmost on ties), through a heap of candidates so long texts stay
 * O(n log n). Symbols left without a token fall back to <0xNN> byte tokens,
 * or the unknown token when the vocabulary has none. When no token spans
 * the start of a U+2581 run (every llama-style vocabulary), the text merges
 * word by word with a per-call cache of repeated words: same result, small
 * heaps, no repeated work. */
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

/* Reusable buffers of one encode call. */
typedef struct spm_work {
    spm_sym_t  *syms;      /* (cap) one per character of the longest word so far */
    hh_heap_t   heap;
    hh_wcache_t cache;
} spm_work_t;

/* Merges one word s[0..len) (the whole text, or one U+2581 run with the
 * characters after it) and appends its ids. */
static int spm_word(const hh_vocab_t *v, spm_work_t *w, const char *s, size_t len, hh_idvec_t *out)
{
    spm_sym_t *syms = w->syms;
    hh_heap_t *h = &w->heap;
    int rc;
    h->n = 0;
    int32_t n = 0;
    for (size_t i = 0; i < len;) {
        /* One symbol per character; a byte that does not start a complete
         * sequence stands alone (so it cannot swallow the U+2581 of a
         * following space and break the round trip). */
        size_t cl = hh_utf8_len((unsigned char)s[i]);
        if (cl > len - i)
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
        if ((rc = try_pair(v, s, syms, h, i - 1, i)))
            return rc;
    hh_cand_t c;
    while (hh_heap_pop(h, &c)) {
        spm_sym_t *l = &syms[c.l], *r = &syms[c.r];
        if (l->len != c.a || r->len != c.b || l->next != c.r)
            continue;   /* stale: a side changed since the pair was queued */
        l->len += r->len;
        r->len = 0;
        l->next = r->next;
        if (r->next >= 0)
            syms[r->next].prev = c.l;
        if ((rc = try_pair(v, s, syms, h, l->prev, c.l)) || (rc = try_pair(v, s, syms, h, c.l, l->next)))
            return rc;
    }
    for (int32_t i = 0; i >= 0 && n > 0; i = syms[i].next) {
        int32_t id = hh_tokmap_find(v, s + syms[i].start, (size_t)syms[i].len);
        if (id >= 0) {
            if ((rc = hh_idvec_push(out, id)))
                return rc;
            continue;
        }
        for (int32_t k = 0; k < syms[i].len; k++) {
            int32_t b = v->byte_tok[(unsigned char)s[syms[i].start + k]];
            if (b < 0)
                b = v->unk;
            if (b >= 0 && (rc = hh_idvec_push(out, b)))
                return rc;
        }
    }
    return HH_OK;
}

static bool is_2581(const char *s)
{
    return s[0] == '\xe2' && s[1] == '\x96' && s[2] == '\x81';
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
    spm_work_t w = { 0 };
    char *s = malloc(elen);
    if (!s) {
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
    if (!v->spm_word_split) {
        if (!(w.syms = malloc(elen * sizeof *w.syms))) {
            rc = HH_ENOMEM;
            goto cleanup;
        }
        rc = spm_word(v, &w, s, elen, out);
        goto cleanup;
    }
    /* Words start where a U+2581 run follows another character; no token
     * spans that point (v->spm_word_split), so each word merges alone and
     * repeated words come from the cache. */
    size_t syms_cap = 0;
    for (size_t ws = 0; ws < elen;) {
        size_t we = ws + 1;
        while (we < elen && !(we + 3 <= elen && is_2581(s + we) && !(we >= ws + 3 && is_2581(s + we - 3))))
            we++;
        size_t wl = we - ws;
        uint64_t hash;
        if ((rc = hh_wcache_get(&w.cache, s + ws, wl, &hash, out)) < 0)
            goto cleanup;
        if (rc == 0) {
            if (wl > syms_cap) {
                size_t nc = wl > 2 * syms_cap ? wl : 2 * syms_cap;
                spm_sym_t *ns = realloc(w.syms, nc * sizeof *ns);
                if (!ns) {
                    rc = HH_ENOMEM;
                    goto cleanup;
                }
                w.syms = ns;
                syms_cap = nc;
            }
            size_t from = out->n;
            if ((rc = spm_word(v, &w, s + ws, wl, out)) || (rc = hh_wcache_put(&w.cache, s + ws, wl, hash, out, from)))
                goto cleanup;
        }
        rc = HH_OK;
        ws = we;
    }
cleanup:
    free(s);
    free(w.syms);
    free(w.heap.v);
    hh_wcache_free(&w.cache);
    return rc;
}
