/* retrieve_int.h - the parts of retrieval (kb/retrieve.h) shared by its
 * files: retrieve.c (the search: fusion, loading, reranking order),
 * retrieve_acl.c (the access set), retrieve_fts.c (the BM25 list),
 * retrieve_dense.c (the dense list), retrieve_rerank.c (the second-stage
 * features), retrieve_index.c (the chunk analysis). Not for other modules. */
#ifndef HH_KB_RETRIEVE_INT_H
#define HH_KB_RETRIEVE_INT_H

#include "kb/retrieve.h"
#include "store/store_int.h"

#include <stddef.h>
#include <stdint.h>

#define HH_RT_MAX_FTS_WORDS 64

/* One candidate of a list, and of the fusion. */
typedef struct hh_rt_cand {
    int64_t id;
    double  bm25;
    double  dense;
    int32_t bm25_rank, dense_rank;
    double  score;
} hh_rt_cand_t;

/* The access filter: the allowed chunk ids, sorted (see "the access
 * filter" in retrieve_acl.c). A sorted list, not a bitmap over the id range:
 * chunk ids are random in [1, 2^53) (store_int.h), so their range spans
 * everything. */
typedef struct hh_rt_acl {
    int64_t  *ids;      /* (n_ids) ascending, unique; owned */
    int32_t  *lens;     /* (n_ids) each one's FTS5 length, all columns; owned */
    size_t    n_ids;    /* allowed chunks */
    int64_t   n_tokens; /* their FTS5 tokens, all columns (BM25's lengths) */
} hh_rt_acl_t;

/* ---- retrieve_acl.c ---- */

/* The collections of this search: the user's readable ones, narrowed to
 * q->collections when given. *json is a malloc'd JSON array of ids. */
int hh_rt_allowed_collections(hh_store_t *s, const hh_kb_query_t *q, char **json, size_t *n_allowed,
                              hh_err_t *err);

/* The allowed chunks of coll_json as a set (*out owned by the caller:
 * hh_rt_acl_free); registers hh_kb_allowed and hh_kb_tf on the
 * connection. Takes s->mu. */
int hh_rt_acl_get(hh_store_t *s, const char *coll_json, hh_rt_acl_t *out, hh_err_t *err);

void hh_rt_acl_free(hh_rt_acl_t *b);

/* id's index in the set, or -1 (binary search). */
ptrdiff_t hh_rt_acl_find(const hh_rt_acl_t *a, int64_t id);

/* ---- retrieve_fts.c ---- */

/* Registers the FTS5 auxiliary function hh_kb_tf on db. SQLITE_OK or an
 * SQLite error code. */
int hh_rt_fts5_register_tf(sqlite3 *db);

/* The FTS5 query of analyzed terms: each quoted, joined with OR, in the
 * order of q->t (phrase i of the query is term i). HH_ENOMEM. */
int hh_rt_terms_fts_query(const hh_query_terms_t *q, char **out);

/* BM25: the best `depth` chunks matching fts that acl allows, best first
 * (*out malloc'd, *n of them). See retrieve_fts.c. */
int hh_rt_bm25_list(hh_store_t *s, const char *fts, const hh_query_terms_t *qt, const hh_rt_acl_t *acl,
                    int32_t depth, hh_rt_cand_t **out, size_t *n, hh_err_t *err);

/* ---- retrieve_dense.c ---- */

/* The dense list: the best `depth` chunks of acl for text's embedding
 * (*out malloc'd, NULL when *n == 0). */
int hh_rt_dense_list(hh_vindex_t *ix, const hh_kb_embedder_t *em, const char *text, const hh_rt_acl_t *acl,
                     int32_t depth, hh_rt_cand_t **out, size_t *n, hh_err_t *err);

/* ---- retrieve_rerank.c ---- */

/* The question's terms by hash (term -> index into qt->t). */
#define QMAP_SLOTS 256
typedef struct hh_rt_qmap {
    int16_t slot[QMAP_SLOTS];   /* term index + 1; 0 = empty */
} hh_rt_qmap_t;

void hh_rt_qmap_build(hh_rt_qmap_t *m, const hh_query_terms_t *qt);

/* The second-stage score of one candidate h, whose index terms are terms
 * and whose heading path's are heading_terms; base is its first-stage
 * score relative to the best (see retrieve.h "Reranking"). */
double hh_rt_rerank_score(const hh_kb_hit_t *h, const char *terms, const char *heading_terms,
                          const hh_query_terms_t *qt, const hh_rt_qmap_t *qm, double base);

#endif
