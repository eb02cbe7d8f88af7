/* retrieve_rerank.c - the second stage of retrieval (retrieve.h
 * "Reranking"): each candidate scored again from its own text, heading and
 * index terms and the question's terms alone - coverage, exact words,
 * proximity, adjacent pairs, heading words. */
#include "kb/retrieve.h"
#include "kb/retrieve_int.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

/* ---- reranking --------------------------------------------------------------- */

static uint32_t term_hash(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    return h;
}

void hh_rt_qmap_build(hh_rt_qmap_t *m, const hh_query_terms_t *qt)
{
    memset(m, 0, sizeof *m);
    for (size_t i = 0; i < qt->n && i < QMAP_SLOTS / 2; i++) {
        const char *t = qt->t[i].term;
        uint32_t j = term_hash(t, strlen(t)) & (QMAP_SLOTS - 1);
        while (m->slot[j])
            j = (j + 1) & (QMAP_SLOTS - 1);
        m->slot[j] = (int16_t)(i + 1);
    }
}

static int qmap_get(const hh_rt_qmap_t *m, const hh_query_terms_t *qt, const char *t, size_t n)
{
    uint32_t j = term_hash(t, n) & (QMAP_SLOTS - 1);
    while (m->slot[j]) {
        const char *q = qt->t[m->slot[j] - 1].term;
        if (!strncmp(q, t, n) && q[n] == '\0')
            return m->slot[j] - 1;
        j = (j + 1) & (QMAP_SLOTS - 1);
    }
    return -1;
}

#define RR_MAX_GROUPS HH_AN_MAX_WORDS
#define RR_MAX_POS    4096   /* matched positions looked at per chunk */

/* Marks in found[g] the question words (qt->words, lowercased) that occur
 * as words of text: one pass over the text; ASCII letters are lowercased
 * on the fly, a word with other bytes is lowercased through utf8proc. */
static void exact_words(const char *text, const hh_query_terms_t *qt, int32_t ng, bool *found)
{
    size_t len = strlen(text), pos = 0, st, wl;
    size_t wlen[RR_MAX_GROUPS];
    for (int32_t g = 0; g < ng; g++)
        wlen[g] = strlen(qt->words[g]);
    char low[72];
    while (hh_kb_word_next(text, len, &pos, &st, &wl)) {
        if (wl >= sizeof low - 4)
            continue;
        size_t k = 0;
        bool ascii = true;
        for (size_t i = 0; i < wl; i++) {
            char c = text[st + i];
            ascii &= (unsigned char)c < 0x80;
            low[k++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
        }
        if (!ascii) {
            k = 0;
            for (size_t b = 0; b < wl && k + 4 < sizeof low;) {
                utf8proc_int32_t cp;
                utf8proc_ssize_t r = utf8proc_iterate((const utf8proc_uint8_t *)text + st + b,
                                                      (utf8proc_ssize_t)(wl - b), &cp);
                if (r <= 0)
                    break;
                b += (size_t)r;
                k += (size_t)utf8proc_encode_char(utf8proc_tolower(cp), (utf8proc_uint8_t *)low + k);
            }
        }
        for (int32_t g = 0; g < ng; g++)
            if (!found[g] && wlen[g] == k && !memcmp(low, qt->words[g], k))
                found[g] = true;
    }
}

/* The second-stage score of one candidate (see retrieve.h "Reranking"). */
double hh_rt_rerank_score(const hh_kb_hit_t *h, const char *terms, const char *heading_terms,
                           const hh_query_terms_t *qt, const hh_rt_qmap_t *qm, double base)
{
    int32_t ng = qt->n_groups < RR_MAX_GROUPS ? qt->n_groups : RR_MAX_GROUPS;
    if (ng <= 0)
        return HH_KB_RR_BASE * base;
    float best[RR_MAX_GROUPS] = { 0 };
    bool in_head[RR_MAX_GROUPS] = { false };
    /* positions of matched terms, with their group */
    static const int32_t none = -1;
    int32_t pos_g[RR_MAX_POS];
    int32_t pos_i[RR_MAX_POS];
    size_t np = 0;
    int32_t idx = 0;
    for (const char *p = terms; *p;) {
        while (*p == ' ')
            p++;
        const char *e = p;
        while (*e && *e != ' ')
            e++;
        if (e > p) {
            int t = qmap_get(qm, qt, p, (size_t)(e - p));
            if (t >= 0 && qt->t[t].group < ng) {
                int32_t g = qt->t[t].group;
                if (qt->t[t].weight > best[g])
                    best[g] = qt->t[t].weight;
                if (np < RR_MAX_POS) {
                    pos_g[np] = g;
                    pos_i[np++] = idx;
                }
            }
            idx++;
        }
        p = e;
    }
    for (const char *p = heading_terms; *p;) {
        while (*p == ' ')
            p++;
        const char *e = p;
        while (*e && *e != ' ')
            e++;
        int t = e > p ? qmap_get(qm, qt, p, (size_t)(e - p)) : none;
        if (t >= 0 && qt->t[t].group < ng)
            in_head[qt->t[t].group] = true;
        p = e;
    }
    double cover = 0, exact = 0, head = 0;
    int32_t matched = 0;
    bool found[RR_MAX_GROUPS] = { false };
    exact_words(h->text, qt, ng, found);
    exact_words(h->heading_path, qt, ng, found);
    for (int32_t g = 0; g < ng; g++) {
        cover += best[g];
        matched += best[g] > 0;
        head += in_head[g];
        exact += best[g] > 0 && found[g];
    }
    /* proximity: the shortest window of positions that holds every matched
     * group (sliding window over the match positions, in order) */
    double prox = 0;
    if (matched >= 2) {
        int32_t cnt[RR_MAX_GROUPS] = { 0 }, have = 0, bestw = INT32_MAX;
        size_t lo = 0;
        for (size_t hi = 0; hi < np; hi++) {
            if (cnt[pos_g[hi]]++ == 0)
                have++;
            while (have == matched) {
                int32_t w = pos_i[hi] - pos_i[lo] + 1;
                if (w < bestw)
                    bestw = w;
                if (--cnt[pos_g[lo]] == 0)
                    have--;
                lo++;
            }
        }
        if (bestw != INT32_MAX)
            prox = (double)matched / (double)(bestw > matched ? bestw : matched);
    }
    /* phrases: question words g, g+1 (both matched) within 2 terms, in order */
    double phrase = 0;
    for (int32_t g = 0; g + 1 < ng; g++) {
        if (!(best[g] > 0 && best[g + 1] > 0))
            continue;
        bool near = false;
        for (size_t i = 0; i < np && !near; i++)
            if (pos_g[i] == g)
                for (size_t j = i + 1; j < np && pos_i[j] <= pos_i[i] + 2 && !near; j++)
                    near = pos_g[j] == g + 1;
        phrase += near;
    }
    return HH_KB_RR_BASE * base + HH_KB_RR_COVER * cover / ng + HH_KB_RR_EXACT * exact / ng +
           HH_KB_RR_PROX * prox + HH_KB_RR_PHRASE * (ng > 1 ? phrase / (ng - 1) : 0) + HH_KB_RR_HEADING * head / ng;
}
