/* lexmap.c - string tables and key -> ranked values maps for the
 * analyzer (see lexmap.h). */
#include "kb/lexmap.h"
#include "base/err.h"

#include <stdlib.h>
#include <string.h>

/* ---- string tables -------------------------------------------------------- */

static uint32_t hash_bytes(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    return h;
}

void hh_strtab_free(hh_strtab_t *t)
{
    free(t->arena);
    free(t->slot);
    free(t->val);
    memset(t, 0, sizeof *t);
}

static int strtab_grow(hh_strtab_t *t)
{
    size_t nc = t->mask ? 2 * (t->mask + 1) : 1024;
    uint32_t *ns = calloc(nc, sizeof *ns), *nv = calloc(nc, sizeof *nv);
    if (!ns || !nv) {
        free(ns);
        free(nv);
        return HH_ENOMEM;
    }
    for (size_t i = 0; t->mask && i <= t->mask; i++) {
        if (!t->slot[i])
            continue;
        const char *k = t->arena + t->slot[i] - 1;
        size_t j = hash_bytes(k, strlen(k)) & (nc - 1);
        while (ns[j])
            j = (j + 1) & (nc - 1);
        ns[j] = t->slot[i];
        nv[j] = t->val[i];
    }
    free(t->slot);
    free(t->val);
    t->slot = ns;
    t->val = nv;
    t->mask = nc - 1;
    return 0;
}

/* The slot of k[0..n) or the empty slot where it would go. */
static size_t strtab_find(const hh_strtab_t *t, const char *k, size_t n)
{
    size_t j = hash_bytes(k, n) & t->mask;
    while (t->slot[j]) {
        const char *s = t->arena + t->slot[j] - 1;
        if (!strncmp(s, k, n) && s[n] == '\0')
            return j;
        j = (j + 1) & t->mask;
    }
    return j;
}

/* The value of k, or NULL. */
const uint32_t *hh_strtab_get(const hh_strtab_t *t, const char *k, size_t n)
{
    if (!t->n)
        return NULL;
    size_t j = strtab_find(t, k, n);
    return t->slot[j] ? &t->val[j] : NULL;
}

/* Adds k (if new, with value init); *val the value, *off its arena offset. */
int hh_strtab_put(hh_strtab_t *t, const char *k, size_t n, uint32_t init, uint32_t **val, uint32_t *off)
{
    if ((t->n + 1) * 2 > t->mask + 1 && strtab_grow(t))
        return HH_ENOMEM;
    size_t j = strtab_find(t, k, n);
    if (!t->slot[j]) {
        if (t->len + n + 1 > UINT32_MAX - 1)
            return HH_EOVERFLOW;
        if (t->len + n + 1 > t->cap) {
            size_t nc = t->cap ? t->cap * 2 : 65536;
            while (nc < t->len + n + 1)
                nc *= 2;
            char *na = realloc(t->arena, nc);
            if (!na)
                return HH_ENOMEM;
            t->arena = na;
            t->cap = nc;
        }
        memcpy(t->arena + t->len, k, n);
        t->arena[t->len + n] = '\0';
        t->slot[j] = (uint32_t)t->len + 1;
        t->val[j] = init;
        t->len += n + 1;
        t->n++;
    }
    if (val)
        *val = &t->val[j];
    if (off)
        *off = t->slot[j] - 1;
    return 0;
}

size_t hh_strtab_bytes(const hh_strtab_t *t)
{
    return t->cap + (t->mask ? (t->mask + 1) * 2 * sizeof(uint32_t) : 0);
}

/* A key -> short list of strings map (thesaurus, dictionary). */




void hh_lexmap_free(hh_lexmap_t *m)
{
    hh_strtab_free(&m->keys);
    hh_strtab_free(&m->strs);
    free(m->pairs);
    free(m->first);
    memset(m, 0, sizeof *m);
}

int hh_lexmap_add(hh_lexmap_t *m, const char *k, size_t kn, const char *v, size_t vn, uint32_t score)
{
    uint32_t *kid, voff;
    if (hh_strtab_put(&m->keys, k, kn, (uint32_t)m->keys.n, &kid, NULL) ||
        hh_strtab_put(&m->strs, v, vn, 0, NULL, &voff))
        return HH_ENOMEM;
    if (m->n_pairs == m->cap_pairs) {
        size_t nc = m->cap_pairs ? m->cap_pairs * 2 : 4096;
        hh_lexpair_t *np = realloc(m->pairs, nc * sizeof *np);
        if (!np)
            return HH_ENOMEM;
        m->pairs = np;
        m->cap_pairs = nc;
    }
    m->pairs[m->n_pairs++] = (hh_lexpair_t){ *kid, voff, score };
    return 0;
}

static int cmp_pair(const void *a, const void *b)
{
    const hh_lexpair_t *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    if (x->score != y->score)
        return x->score < y->score ? -1 : 1;
    return x->str < y->str ? -1 : x->str > y->str;
}

static int cmp_pair_str(const void *a, const void *b)
{
    const hh_lexpair_t *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    if (x->str != y->str)
        return x->str < y->str ? -1 : 1;
    return x->score < y->score ? -1 : x->score > y->score;
}

/* Groups the pairs by key, best first: a value listed several times for
 * a key keeps its best score less bonus per repeat (a translation
 * that many entries give is the common one); keeps at most per_key_max per
 * key. */
int hh_lexmap_finish(hh_lexmap_t *m, uint32_t repeat_bonus, size_t per_key_max)
{
    qsort(m->pairs, m->n_pairs, sizeof *m->pairs, cmp_pair_str);
    size_t o = 0;
    for (size_t i = 0; i < m->n_pairs;) {
        size_t j = i + 1;
        while (j < m->n_pairs && m->pairs[j].key == m->pairs[i].key && m->pairs[j].str == m->pairs[i].str)
            j++;
        hh_lexpair_t p = m->pairs[i];
        uint32_t bonus = (uint32_t)(j - i - 1) * repeat_bonus;
        p.score = p.score > bonus ? p.score - bonus : 0;
        m->pairs[o++] = p;
        i = j;
    }
    m->n_pairs = o;
    qsort(m->pairs, m->n_pairs, sizeof *m->pairs, cmp_pair);
    size_t nk = m->keys.n;
    o = 0;
    if (!(m->first = calloc(nk + 1, sizeof *m->first)))
        return HH_ENOMEM;
    for (size_t i = 0; i < m->n_pairs;) {
        uint32_t k = m->pairs[i].key;
        size_t kept = 0;
        for (; i < m->n_pairs && m->pairs[i].key == k; i++)
            if (kept < per_key_max) {
                m->pairs[o++] = m->pairs[i];
                kept++;
            }
        m->first[k + 1] = (uint32_t)kept;
    }
    for (size_t k = 0; k < nk; k++)
        m->first[k + 1] += m->first[k];
    m->n_pairs = o;
    hh_lexpair_t *np = realloc(m->pairs, (o ? o : 1) * sizeof *np);
    if (np)
        m->pairs = np;
    m->cap_pairs = o;
    return 0;
}

/* The values of key k: *n of them, best first (pointers into the map);
 * with sc their scores too. */
size_t hh_lexmap_get_scored(const hh_lexmap_t *m, const char *k, size_t kn, const char **v, uint32_t *sc, size_t cap)
{
    const uint32_t *id = m->first ? hh_strtab_get(&m->keys, k, kn) : NULL;
    if (!id)
        return 0;
    size_t n = 0;
    for (uint32_t i = m->first[*id]; i < m->first[*id + 1] && n < cap; i++) {
        if (sc)
            sc[n] = m->pairs[i].score;
        v[n++] = m->strs.arena + m->pairs[i].str;
    }
    return n;
}

size_t hh_lexmap_get(const hh_lexmap_t *m, const char *k, size_t kn, const char **v, size_t cap)
{
    return hh_lexmap_get_scored(m, k, kn, v, NULL, cap);
}

size_t hh_lexmap_bytes(const hh_lexmap_t *m)
{
    return hh_strtab_bytes(&m->keys) + hh_strtab_bytes(&m->strs) + m->cap_pairs * sizeof(hh_lexpair_t) +
           (m->first ? (m->keys.n + 1) * sizeof(uint32_t) : 0);
}

