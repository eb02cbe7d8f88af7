/* lexmap.h - the analyzer's lexical tables (kb/analyze.c): string tables
 * (open addressing over one byte arena) and key -> ranked values maps,
 * filled once while loading, read-only afterwards (lookups need no lock).
 * Private to src/kb. */
#ifndef HH_KB_LEXMAP_H
#define HH_KB_LEXMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct hh_strtab {
    char     *arena;   /* NUL-terminated strings back to back */
    size_t    len, cap;
    uint32_t *slot;    /* (mask + 1) arena offset + 1; 0 = empty */
    uint32_t *val;     /* (mask + 1) value per slot */
    size_t    n, mask;
} hh_strtab_t;

typedef struct hh_lexpair {
    uint32_t key, str, score;
} hh_lexpair_t;

typedef struct hh_lexmap {
    hh_strtab_t   keys;    /* key -> key id */
    hh_strtab_t   strs;    /* values, interned */
    hh_lexpair_t *pairs;   /* while loading: all; after hh_lexmap_finish: grouped by key, best first */
    size_t        n_pairs, cap_pairs;
    uint32_t     *first;   /* (n_keys + 1) after finish */
} hh_lexmap_t;

/* String tables: a zeroed hh_strtab_t is empty. */
void            hh_strtab_free(hh_strtab_t *t);
/* The value of k[0..n), NULL when absent. */
const uint32_t *hh_strtab_get(const hh_strtab_t *t, const char *k, size_t n);
/* Adds k (if new, with value init); *val its value, *off its arena
 * offset (each may be NULL). HH_ENOMEM, HH_EOVERFLOW. */
int             hh_strtab_put(hh_strtab_t *t, const char *k, size_t n, uint32_t init, uint32_t **val, uint32_t *off);
size_t          hh_strtab_bytes(const hh_strtab_t *t);

/* Maps: a zeroed hh_lexmap_t is empty; pairs are added while loading
 * (lower score = better), then hh_lexmap_finish groups them by key. */
void   hh_lexmap_free(hh_lexmap_t *m);
int    hh_lexmap_add(hh_lexmap_t *m, const char *k, size_t kn, const char *v, size_t vn, uint32_t score);
/* A value listed n times for a key keeps its best score less (n - 1) *
 * repeat_bonus; at most per_key_max values per key, best first. */
int    hh_lexmap_finish(hh_lexmap_t *m, uint32_t repeat_bonus, size_t per_key_max);
/* Up to cap values of key k, best first (pointers into the map); with sc
 * their scores too. */
size_t hh_lexmap_get_scored(const hh_lexmap_t *m, const char *k, size_t kn, const char **v, uint32_t *sc, size_t cap);
size_t hh_lexmap_get(const hh_lexmap_t *m, const char *k, size_t kn, const char **v, size_t cap);
size_t hh_lexmap_bytes(const hh_lexmap_t *m);

#endif
