/* vindex.h - dense vector index for L2-normalized embeddings (cosine = dot).
 *
 * Holds (int64 id, float[dim]) pairs. Search returns the k ids with the
 * highest dot product with the query:
 *   - exact: a SIMD dot scan over a contiguous F32 matrix with a top-k heap,
 *     used while the index holds fewer than params.exact_threshold vectors,
 *     and whenever a filter allows only a few ids (then only the allowed ids
 *     are scanned);
 *   - approximate: an HNSW graph (maintained on every add), used at or above
 *     the threshold. Level generation is seeded, so the same adds in the
 *     same order build the same graph.
 *
 * Filtering (the access-control filter of retrieval) is applied DURING the
 * search, before ranking: a disallowed id is never scored into the result
 * set. In the graph search, disallowed nodes are still traversed (they keep
 * the graph connected) but never returned.
 *
 * Removal marks a vector dead (it is never returned again); dead vectors are
 * dropped and the graph rebuilt when they reach half of the stored ones.
 *
 * Threads: any number of concurrent searches (readers); add/remove/compact
 * take a writer lock (writer-preferring, so a steady stream of searches does
 * not starve ingestion). hh_vindex_free must not race with anything.
 *
 * Persistence: hh_vindex_save writes a versioned, BLAKE2b-checksummed file
 * (atomically: temp file + fsync + rename); hh_vindex_load rejects a corrupt,
 * truncated or foreign file with HH_EFORMAT / HH_ETRUNC and a message; the
 * caller then rebuilds the index from the database (the source of truth).
 * The caller-chosen 64-bit tag stored with the file (e.g. a DB change
 * counter) lets the caller tell a stale file from a current one. */
#ifndef HH_KB_VINDEX_H
#define HH_KB_VINDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

typedef struct hh_vindex hh_vindex_t;

typedef struct hh_vindex_params {
    int32_t  exact_threshold;   /* below this many live vectors: exact scan (default 20000) */
    int32_t  M;                 /* HNSW links per node on upper layers; 2*M on layer 0 (default 16) */
    int32_t  ef_construction;   /* candidate list size while inserting (default 200) */
    int32_t  ef_search;         /* candidate list size while searching; max(ef_search, k) is used (default 128) */
    uint64_t seed;              /* seed of the level generator (default 0x686f68656974) */
    /* A filtered search scans the allowed ids exactly when they are fewer
     * than filter_exact_fraction of the live vectors or fewer than
     * filter_exact_min (defaults 0.10 and 4096). */
    float    filter_exact_fraction;
    int32_t  filter_exact_min;
} hh_vindex_params_t;

/* The defaults above. */
hh_vindex_params_t hh_vindex_default_params(void);

typedef enum hh_vindex_filter_kind {
    HH_VINDEX_FILTER_IDS = 1,   /* ids[0..n_ids): sorted ascending (duplicates allowed); n_ids 0 allows nothing */
    HH_VINDEX_FILTER_BITMAP,    /* id allowed iff base <= id < base + n_bits and bit (id - base) of bits is set
                                 * (bit i is bits[i / 64] >> (i % 64) & 1) */
    HH_VINDEX_FILTER_FN,        /* allow(id, ctx) returns true for allowed ids */
} hh_vindex_filter_kind_t;

/* Allowed ids of one search. Borrowed for the duration of the call. The
 * callback runs on the searching thread while the index is read-locked: it
 * must be thread-safe if searches run concurrently and must not call into
 * the same index. It may be called once per stored vector. */
typedef struct hh_vindex_filter {
    hh_vindex_filter_kind_t kind;
    const int64_t  *ids;                        /* IDS */
    size_t          n_ids;
    const uint64_t *bits;                       /* BITMAP: (n_bits + 63) / 64 words */
    int64_t         base;
    size_t          n_bits;
    bool          (*allow)(int64_t id, void *ctx);  /* FN */
    void           *ctx;
} hh_vindex_filter_t;

typedef enum hh_vindex_mode {
    HH_VINDEX_AUTO = 0,         /* exact below the threshold or for selective filters, else graph */
    HH_VINDEX_EXACT,            /* always the exact scan (benchmarks, reference) */
    HH_VINDEX_GRAPH,            /* always the graph (benchmarks, recall tests) */
    /* Results that depend only on the vectors the filter allows (access
     * control): with a filter always the exact scan over the allowed
     * vectors, since the graph's paths (and the choice of graph or scan)
     * depend on every stored vector; without one as HH_VINDEX_AUTO. */
    HH_VINDEX_SCOPED,
} hh_vindex_mode_t;

typedef struct hh_vindex_search_opts {
    hh_vindex_mode_t mode;
    int32_t          ef_search;  /* 0: the index's params.ef_search */
} hh_vindex_search_opts_t;

/* Creates an empty index for vectors of dim floats (1..65536). params may be
 * NULL (defaults). On success *out is a new index owned by the caller (free
 * with hh_vindex_free). Returns 0, HH_EINVAL (bad dim or params), HH_ENOMEM. */
int hh_vindex_create(hh_vindex_t **out, int dim, const hh_vindex_params_t *params);

/* Frees the index and everything it owns. NULL is a no-op. */
void hh_vindex_free(hh_vindex_t *ix);

/* Adds vec (dim floats, copied; should be L2-normalized) under id. An id
 * already present is replaced. Returns 0, HH_EINVAL (NULL or non-finite
 * vector), HH_EFULL (more than 2^31-1 stored vectors), HH_ENOMEM (the index
 * is unchanged then). Takes the writer lock. */
int hh_vindex_add(hh_vindex_t *ix, int64_t id, const float *vec);

/* Removes id. Returns 0 or HH_ENOENT if it is not present. Takes the writer
 * lock; may compact the index (drop dead vectors, rebuild the graph). */
int hh_vindex_remove(hh_vindex_t *ix, int64_t id);

/* Drops dead vectors and rebuilds the graph now. Returns 0 or HH_ENOMEM
 * (the index is unchanged then). Takes the writer lock. */
int hh_vindex_compact(hh_vindex_t *ix);

/* Number of live (searchable) vectors. */
size_t hh_vindex_size(hh_vindex_t *ix);

/* The vector dimension given at create. */
int hh_vindex_dim(const hh_vindex_t *ix);

/* Copies the vector stored under id into out (dim floats). Returns 0 or
 * HH_ENOENT. */
int hh_vindex_get(hh_vindex_t *ix, int64_t id, float *out);

/* The k (1..4096) ids with the highest dot product with q (dim floats),
 * restricted to the ids filter allows (filter NULL: all). Writes up to k ids
 * and scores to ids[] / scores[] (each k long), best first (ties: smaller id
 * first in the exact scan), and their number to *n_found (< k when fewer ids
 * are allowed). Returns 0, HH_EINVAL (bad arguments, non-finite query),
 * HH_ENOMEM. Takes the reader lock. */
int hh_vindex_search(hh_vindex_t *ix, const float *q, int k, const hh_vindex_filter_t *filter,
                     int64_t *ids, float *scores, int *n_found);

/* hh_vindex_search with options (opts NULL: defaults). */
int hh_vindex_search_ex(hh_vindex_t *ix, const float *q, int k, const hh_vindex_filter_t *filter,
                        const hh_vindex_search_opts_t *opts, int64_t *ids, float *scores, int *n_found);

/* Writes the index to path (atomically: path.tmp, fsync, rename) with the
 * caller's tag. Returns 0 or HH_EIO / HH_ENOMEM with details in err. Takes
 * the reader lock (searches continue meanwhile). Saves to one path must not
 * run concurrently (they share path.tmp). */
int hh_vindex_save(hh_vindex_t *ix, const char *path, uint64_t tag, hh_err_t *err);

/* Reads an index written by hh_vindex_save. params may be NULL: the graph
 * shape (M, seed) always comes from the file; the search-time fields
 * (exact_threshold, ef_search, filter_*) come from params when given, else
 * from the file. On success *out is a new index owned by the caller and *tag
 * (may be NULL) the saved tag. Returns 0, HH_ENOENT (no file), HH_EIO,
 * HH_EFORMAT (bad magic, version, checksum, structure), HH_ETRUNC,
 * HH_ENOMEM, with details in err; then the caller rebuilds from the DB. */
int hh_vindex_load(const char *path, const hh_vindex_params_t *params, hh_vindex_t **out,
                   uint64_t *tag, hh_err_t *err);

#endif
