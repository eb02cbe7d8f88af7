/* dense.h - the knowledge base's live dense retrieval: the vector index of
 * every stored chunk vector of one embedding model (vector id = chunk id),
 * kept in memory from start to stop and following every document change,
 * with the lock that serializes those changes.
 *
 * A server makes one at start (hh_kb_dense_init) and frees it at stop
 * (hh_kb_dense_fini, before the store closes). Without an embedding model
 * it still exists: its lock serializes document changes, and retrieval is
 * BM25 only. Vectors are stored under the name "<id>.gguf" (what `hoheit
 * ingest --embed-model DIR/<id>.gguf` stores); the index is saved as
 * DATA/vindex-<id>.bin with the stored vectors' tag (hh_kb_vectors_tag). */
#ifndef HH_KB_DENSE_H
#define HH_KB_DENSE_H

#include "base/err.h"
#include "engine/embedders.h"
#include "kb/ingest.h"
#include "kb/retrieve.h"
#include "kb/vindex.h"
#include "store/store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct hh_kb_dense hh_kb_dense_t;

/* model: the embedding model id (NULL: the first embedding model of the
 * registry's directory, by name; "" or "none": none). Loads the saved
 * index when its tag equals the stored vectors', else rebuilds it from
 * chunk_vectors and saves it. store and embedders are borrowed and must
 * outlive *out. Errors: HH_EINVAL (the named model cannot be used; message
 * says why), HH_ENOMEM, the store's. */
int  hh_kb_dense_init(hh_kb_dense_t **out, hh_store_t *store, hh_embedders_t *embedders, const char *model,
                      hh_err_t *err);
/* Saves the index (the store must still be open), frees it, releases the
 * model. NULL is a no-op. */
void hh_kb_dense_fini(hh_kb_dense_t *d);

/* Serializes document changes with the index updates that follow them
 * (uploads, deletes, erasure, retention sweeps). */
void hh_kb_dense_lock(hh_kb_dense_t *d);
void hh_kb_dense_unlock(hh_kb_dense_t *d);

/* Whether there is a live index (an embedding model is in use). */
bool hh_kb_dense_on(const hh_kb_dense_t *d);

/* The embedding model id the index is made with; "" when BM25 only. */
const char *hh_kb_dense_model(const hh_kb_dense_t *d);

/* Fills *em with the query embedder and returns the index; NULL (em
 * zeroed) when there is none: BM25 only. */
hh_vindex_t *hh_kb_dense_query(hh_kb_dense_t *d, hh_kb_embedder_t *em);

/* A new embedder for an upload (caller frees it with
 * hh_ingest_embedder_free); NULL when there is no index. */
hh_ingest_embedder_t *hh_kb_dense_ingest_embedder(hh_kb_dense_t *d);

/* [locked] Drops old_ids from the index and adds the stored vectors of
 * doc_id (0: none). Failures are logged: the index then lacks vectors,
 * which only weakens dense ranking. */
void hh_kb_dense_update(hh_kb_dense_t *d, const int64_t *old_ids, size_t n_old, int64_t doc_id);

/* The index around a library call that deletes or rewrites chunks
 * (erasure, retention sweeps), with the lock held across all three:
 * snap_take notes the chunk ids of every document (nothing without an
 * index); snap_apply removes from the index the noted ids of documents
 * that are gone and, with check_vectors, the ids whose stored vector was
 * dropped, and returns how many left; snap_free frees the notes. */
typedef struct hh_kb_dense_snap {
    struct hh_kb_dense_doc *d;   /* owned */
    size_t                  n;
} hh_kb_dense_snap_t;

int    hh_kb_dense_snap_take(hh_kb_dense_t *d, hh_kb_dense_snap_t *sn, hh_err_t *err);
size_t hh_kb_dense_snap_apply(hh_kb_dense_t *d, const hh_kb_dense_snap_t *sn, bool check_vectors);
void   hh_kb_dense_snap_free(hh_kb_dense_snap_t *sn);

#endif
