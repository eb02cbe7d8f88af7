/* retrieve.h - hybrid retrieval over the knowledge base: BM25 through the
 * store's FTS5 index, dense search through the vector index, fused by
 * reciprocal rank.
 *
 * Access control comes first: the set of collections the user may read
 * (through their departments) is part of the SQL WHERE clause of the BM25
 * query and the allowed-id filter of the dense search, so a chunk the user
 * may not read is never ranked, never counted and never returned.
 *
 * BM25 ranks over the analyzed index (chunks_terms: stems, compound parts;
 * kb/analyze.h). The question is analyzed the same way into weighted terms
 * (its stems 1.0, compound parts 0.5, synonyms and translations 0.3); a
 * term's BM25 contribution is its weight times its IDF, and the IDF of an
 * expansion is capped at that of the question's own word, so a synonym
 * never outweighs the word itself. The query text is never passed to FTS5
 * as query syntax: every term becomes a double-quoted FTS5 string, joined
 * with OR. Operators, column filters, NEAR(), '*' and parentheses in user
 * text are therefore plain characters. Common English and German function
 * words ("the", "und", ...) are left out unless the text has no other word:
 * their BM25 weight is near zero, but they match most chunks, and scoring
 * those dominated the search time at 100k chunks.
 *
 * Fusion: score(c) = sum over the lists that contain c of 1 / (60 + rank),
 * rank 1-based (reciprocal rank fusion, k = 60). Without an embedder (no
 * embedding model installed) or a vector index, BM25 alone.
 *
 * Reranking: the first HH_KB_RERANK_DEPTH fused candidates are scored again
 * from the chunk itself and the question (nothing else): the first-stage
 * score relative to the best, how many question words the chunk covers (by
 * their best-weighted term), the words found in their exact form, how close
 * together they stand, question word pairs found next to each other, and
 * words in the heading path (weights HH_KB_RR_*). Hits come in the order
 * of that score (hit.rerank); hit.score, bm25 and the ranks stay the first
 * stage's. */
#ifndef HH_KB_RETRIEVE_H
#define HH_KB_RETRIEVE_H

#include "base/err.h"
#include "kb/analyze.h"
#include "kb/vindex.h"
#include "store/store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HH_KB_RRF_K 60

#define HH_KB_RERANK_DEPTH 50
#define HH_KB_RR_BASE    1.0   /* first-stage score / best first-stage score */
#define HH_KB_RR_COVER   0.6   /* sum over question words of their best matched term weight / words */
#define HH_KB_RR_EXACT   0.25  /* question words found in their exact (lowercased) form / words */
#define HH_KB_RR_PROX    0.25  /* matched words / the shortest span of terms holding them all */
#define HH_KB_RR_PHRASE  0.15  /* consecutive question words found within 2 terms / pairs */
#define HH_KB_RR_HEADING 0.2   /* question words in the heading path / words */

/* An embedding function (e.g. the bert model behind the engine): writes the
 * L2-normalized embedding of text (dim floats) into out. Returns 0 or a
 * negative HH_E* code. Must be safe to call from the calling thread. */
typedef struct hh_kb_embedder {
    int32_t dim;
    int   (*embed)(void *user, const char *text, float *out, hh_err_t *err);
    void   *user;
} hh_kb_embedder_t;

/* One retrieved chunk. Strings are owned by the hit (freed by
 * hh_kb_hits_free). */
typedef struct hh_kb_hit {
    int64_t chunk_id;
    int64_t document_id;
    int64_t collection_id;
    char   *title;          /* document title */
    char   *heading_path;   /* "Handbook › Travel › Hotels", "" when none */
    int32_t page;           /* 1-based, 0 when the format has no pages */
    char   *text;           /* the chunk's passage */
    double  bm25;           /* -bm25() (higher = better); 0 when not in the BM25 list */
    int32_t bm25_rank;      /* 1-based rank in the BM25 list, 0 when absent */
    double  dense;          /* cosine similarity; 0 when not in the dense list */
    int32_t dense_rank;     /* 1-based rank in the dense list, 0 when absent */
    double  score;          /* fused RRF score (of the first stage's ranks) */
    double  rerank;         /* the second stage's score (hits are in its order); 0 when not reranked */
    int32_t n_lists;        /* lists that took part in the fusion (1 or 2) */
} hh_kb_hit_t;

/* Frees the strings of n hits and the array itself (NULL is a no-op). */
void hh_kb_hits_free(hh_kb_hit_t *hits, size_t n);

typedef struct hh_kb_query {
    hh_analyzer_t     *analyzer;        /* borrowed; NULL: stemming alone (no compounds, synonyms, translations) */
    bool               no_rerank;       /* first stage only (for evaluation) */
    const char        *user;            /* user name: their departments decide what they may read */
    const char *const *collections;     /* optional subset by name (NULL/0: every readable one) */
    size_t             n_collections;
    const char        *text;            /* the question, any UTF-8 */
    int32_t            k;               /* results wanted (1..HH_KB_MAX_K) */
    int32_t            depth;           /* candidates per list before fusion (0: max(4k, 50)) */
} hh_kb_query_t;

#define HH_KB_MAX_K 100

/* Which lists to use (for evaluation): both when available, or one. */
typedef enum hh_kb_mode { HH_KB_HYBRID = 0, HH_KB_BM25_ONLY, HH_KB_DENSE_ONLY } hh_kb_mode_t;

/* Retrieves up to q->k chunks the user may read, best first. Vector ids in
 * vindex are chunk ids. vindex and
 * embedder may be NULL (BM25 alone). A collection named in q->collections
 * that the user may not read or that does not exist is HH_ENOENT (the
 * message names it; the two cases read alike so existence does not leak) -
 * never silently widened or narrowed. A user with no
 * readable collection gets 0 hits. On success *out is malloc'd (NULL when
 * *n == 0); the caller frees it with hh_kb_hits_free. Errors: HH_EINVAL (k
 * out of range, NULL text), HH_ENOENT (unknown user or collection), HH_EIO
 * (SQLite), HH_ENOMEM, the embedder's and index's errors. */
int hh_kb_retrieve(hh_store_t *store, hh_vindex_t *vindex, const hh_kb_embedder_t *embedder,
                   const hh_kb_query_t *q, hh_kb_hit_t **out, size_t *n, hh_err_t *err);

/* As hh_kb_retrieve, with the list(s) chosen by mode (HH_KB_DENSE_ONLY
 * needs vindex and embedder: HH_EINVAL otherwise). */
int hh_kb_retrieve_mode(hh_store_t *store, hh_vindex_t *vindex, const hh_kb_embedder_t *embedder,
                        const hh_kb_query_t *q, hh_kb_mode_t mode, hh_kb_hit_t **out, size_t *n, hh_err_t *err);

/* Analyzes the chunks whose terms are older than the analyzer's level
 * (hh_analyzer_level; a NULL analyzer is level 1): every chunk of a store
 * made before migration 14, and chunks whose text was rewritten. Sets
 * chunks.lang (hh_lang_detect of the text) and chunks.terms (index terms of
 * the heading path and the text), in transactions of 256 chunks. Never
 * called by retrieval (a search ranks what is analyzed: a chunk not
 * analyzed yet is found by the dense list alone until it is); ingestion
 * analyzes new chunks itself, and a server runs this pass in the
 * background (hh_kb_index_filler_start) for the rest. *n_done (may be
 * NULL) counts the analyzed chunks. HH_EIO, HH_ENOMEM. */
int hh_kb_index_fill(hh_store_t *s, hh_analyzer_t *a, size_t *n_done, hh_err_t *err);

/* ---- the background analysis of a server ----------------------------------
 * hh_kb_index_filler_start analyzes up to HH_KB_FILL_AT_START chunks
 * itself (a small backlog is done before the first request; about a second
 * of work), then starts a thread that runs hh_kb_index_fill at once (the
 * rest of a large backlog), then every interval_s
 * seconds (0: HH_KB_FILL_INTERVAL_S) and whenever kicked: the chunks of a
 * store from before migration 14 after an upgrade, chunks whose text was
 * rewritten (GDPR erasure), chunks ingested without the analyzer's files.
 * Each batch of 256 is its own transaction, so searches run between them.
 * s and a are borrowed and must outlive the filler. */
#define HH_KB_FILL_INTERVAL_S 60
#define HH_KB_FILL_AT_START   2048
typedef struct hh_kb_index_filler hh_kb_index_filler_t;

/* Starts the thread (after the first HH_KB_FILL_AT_START). HH_ENOMEM, HH_EIO. */
int hh_kb_index_filler_start(hh_kb_index_filler_t **out, hh_store_t *s, hh_analyzer_t *a, int interval_s,
                             hh_err_t *err);

/* Asks for a pass now (NULL is a no-op). */
void hh_kb_index_filler_kick(hh_kb_index_filler_t *f);

/* Waits until a pass that began after this call has finished (for tests and
 * the command line; NULL is a no-op). */
void hh_kb_index_filler_wait(hh_kb_index_filler_t *f);

/* Stops the thread after the batch under way and frees f (NULL: no-op). */
void hh_kb_index_filler_stop(hh_kb_index_filler_t *f);

/* The language and index terms of one chunk, as hh_kb_index_fill and
 * ingestion store them: *lang "de"/"en"/"", *terms malloc'd (caller
 * frees). HH_ENOMEM. */
int hh_kb_chunk_terms(hh_analyzer_t *a, const char *text, const char *heading_path, const char **lang,
                      char **terms, hh_err_t *err);

/* Words of free text, as retrieval and the citation check see them: runs of
 * Unicode letters, numbers and combining marks (invalid UTF-8 bytes end a
 * word and are skipped). Starting at *pos, finds the next word of s[0..len):
 * returns true with *start / *wlen set and *pos moved past it, or false at
 * the end. */
bool hh_kb_word_next(const char *s, size_t len, size_t *pos, size_t *start, size_t *wlen);

/* Turns free text into a safe FTS5 query: each word (a run of letters,
 * as hh_kb_word_next finds them) as a double-quoted string, joined
 * with " OR ", at most 64 words, duplicates dropped. Writes the
 * NUL-terminated query into a malloc'd *out (caller frees); "" when the
 * text has no word. HH_ENOMEM. */
int hh_kb_fts_query(const char *text, char **out);

/* ---- the vector index of one embedding model's stored vectors ----------
 * chunk_vectors rows carry the model's name (hh_ingest_embedder_name: the
 * GGUF file's base name). A server keeps one hh_vindex_t per model, built
 * from these rows at start and updated on every document change. */

/* A fingerprint of the model's stored vectors (their count, dims, and the
 * sum modulo 2^64 and maximum of their chunk ids: chunk ids are random in
 * [1, 2^53) and a new one equals a deleted one with probability about
 * 2^-53, so any insert or delete changes it), for hh_vindex_save's tag. *n_vectors (may
 * be NULL) their number. HH_EIO (SQLite). */
int hh_kb_vectors_tag(hh_store_t *s, const char *model, uint64_t *tag, size_t *n_vectors, hh_err_t *err);

/* Adds the model's stored vectors to ix (vector id = chunk id): every one
 * when doc_id is 0, else those of that document. Rows whose dim differs
 * from the index's are skipped. *n_added (may be NULL) counts the added
 * ones. HH_EIO, HH_ENOMEM, the index's errors. */
int hh_kb_vindex_fill(hh_store_t *s, const char *model, int64_t doc_id, hh_vindex_t *ix, size_t *n_added,
                      hh_err_t *err);

/* The chunk ids of a document in document order (ord; to drop them from an index
 * before the document is replaced or deleted). *ids is malloc'd (NULL when
 * *n == 0); caller frees. HH_EIO, HH_ENOMEM. */
int hh_kb_doc_chunk_ids(hh_store_t *s, int64_t doc_id, int64_t **ids, size_t *n, hh_err_t *err);

#endif
