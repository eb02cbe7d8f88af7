/* ingest.h - puts files into the knowledge base: hash, store the original,
 * extract (sandboxed, kb/extract), chunk (kb/chunk), embed (when a model is
 * given), and write the document with its chunks in one transaction.
 *
 * Per file:
 *  1. sha256 of the bytes (libsodium). The same hash already in the
 *     collection: "unchanged", nothing is written.
 *  2. The original is stored content-addressed in
 *     DATA/files/<sha[0:2]>/<sha> (temp name, fsync, rename, fsync of the
 *     folder) BEFORE the database commit, so a committed document always
 *     has its file. A crash between the two leaves only an unreferenced
 *     file, which hh_ingest_gc removes.
 *  3. extraction, chunking, embedding; then hh_store_doc_replace: a file
 *     with the same source path and a new hash replaces the old document
 *     (its chunks, FTS rows, vectors) in the same transaction; the old
 *     stored file is removed when no document references it any more.
 * A failing file is reported through the callback and skipped; the other
 * files go on. Folders are walked recursively in name order; hidden
 * entries (".name") are skipped and symlinks are followed only to files
 * (never to directories, so no loops). */
#ifndef HH_KB_INGEST_H
#define HH_KB_INGEST_H

#include "base/err.h"
#include "kb/analyze.h"
#include "kb/chunk.h"
#include "kb/extract.h"
#include "store/store.h"
#include "tok/tok.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A loaded embedding model with its WordPiece vocabulary and context.
 * Thread-safe (calls are serialized); shared by every ingestion that is
 * given it. */
typedef struct hh_ingest_embedder hh_ingest_embedder_t;

/* Loads the GGUF embedding model at path. Caller owns *out:
 * hh_ingest_embedder_free. HH_EUNSUPPORTED if it is no embedding model. */
int  hh_ingest_embedder_open(hh_ingest_embedder_t **out, const char *path, int threads, hh_err_t *err);
void hh_ingest_embedder_free(hh_ingest_embedder_t *e);
/* An embedder whose model lives elsewhere (e.g. the HTTP server's shared
 * embedding models): ingestion tokenizes with vocab (WordPiece, borrowed;
 * must outlive the embedder) and calls embed with one text's ids (with
 * [CLS]/[SEP], at most max_tokens) to get its L2-normalized vector of dim
 * floats. name is copied: the model name stored with the vectors. */
typedef struct hh_ingest_embed_hook {
    const char       *name;
    int32_t           dim;
    int32_t           max_tokens;
    const hh_vocab_t *vocab;
    int             (*embed)(void *user, const int32_t *ids, int32_t n_ids, float *out, hh_err_t *err);
    void             *user;
} hh_ingest_embed_hook_t;

/* Makes an embedder that calls the hook (calls are serialized like a
 * loaded model's). Caller owns *out: hh_ingest_embedder_free (which frees
 * nothing of the hook's). HH_EINVAL for a missing field, HH_ENOMEM. */
int hh_ingest_embedder_from_hook(hh_ingest_embedder_t **out, const hh_ingest_embed_hook_t *hook, hh_err_t *err);

/* Vector width and the name stored with vectors (the file's base name). */
int32_t     hh_ingest_embedder_dim(const hh_ingest_embedder_t *e);
const char *hh_ingest_embedder_name(const hh_ingest_embedder_t *e);

typedef struct hh_ingest_params {
    hh_chunk_params_t          chunk;
    const hh_extract_limits_t *limits;          /* NULL: extractor defaults */
    hh_ingest_embedder_t      *embedder;        /* borrowed; NULL: no vectors (unless embed_model) */
    const char                *embed_model;     /* hh_ingest_paths opens it when embedder is NULL */
    int64_t                    max_file_bytes;  /* larger files fail alone (default 256 MiB) */
    int                        threads;         /* for embedding (default 2) */
    hh_analyzer_t             *analyzer;        /* borrowed: each chunk's language and index terms
                                                 * (kb/analyze.h); NULL: hh_ingest_paths makes one
                                                 * with the default files for its run, the other
                                                 * calls analyze with stemming alone */
} hh_ingest_params_t;

typedef enum hh_ingest_status {
    HH_INGEST_ADDED = 0,
    HH_INGEST_UPDATED,     /* replaced the document of the same path */
    HH_INGEST_UNCHANGED,   /* same hash already in the collection */
    HH_INGEST_FAILED,
} hh_ingest_status_t;

/* One file's outcome (valid during the callback only). */
typedef struct hh_ingest_file {
    const char        *path;
    hh_ingest_status_t status;
    int64_t            doc_id;     /* 0 when failed */
    size_t             n_chunks;
    int64_t            bytes;
    double             seconds;
    hh_err_t           err;        /* when failed */
    char               encoding[32]; /* text encoding the file was read in ("utf-8",
                                      * "windows-1252", ...; kb/doc.h); "" when the
                                      * format fixes it or the file failed */
} hh_ingest_file_t;

/* The note to show with an ingested file read in encoding (an
 * hh_ingest_file_t's): a sentence saying the text was converted to UTF-8
 * from a legacy encoding, or NULL when there is nothing to note (UTF-8,
 * none). Static string. */
const char *hh_ingest_encoding_note(const char *encoding);

typedef void (*hh_ingest_progress_fn)(void *ctx, const hh_ingest_file_t *f);

typedef struct hh_ingest_totals {
    size_t  files, added, updated, unchanged, failed;
    size_t  chunks;
    int64_t bytes;     /* of the files extracted (added + updated) */
    double  seconds;
} hh_ingest_totals_t;

hh_ingest_params_t hh_ingest_default_params(void);

/* Ingests files and folders into the collection (which must exist) as
 * user_id (0: the admin CLI, no access check; else the user must be able to
 * read the collection). With an embedder (or embed_model), chunks are
 * budgeted in the model's WordPiece tokens (at most its max tokens) and
 * every chunk gets a vector. Per-file failures go to cb (may be NULL) and
 * totals; the return is an error only for what stops everything (no such
 * collection or no access to it: both HH_ENOENT, embedding model unreadable, store failure). */
int hh_ingest_paths(hh_store_t *s, const char *const *paths, size_t n_paths, const char *collection,
                    int64_t user_id, const hh_ingest_params_t *p, hh_ingest_progress_fn cb, void *ctx,
                    hh_ingest_totals_t *totals, hh_err_t *err);

/* Ingests one file whose stored source path is source_path (an upload's
 * file name; NULL: path itself). *out (may be NULL) receives the outcome;
 * a failed file returns its error code. */
int hh_ingest_file(hh_store_t *s, const char *path, const char *source_path, int64_t collection_id,
                   int64_t user_id, const hh_ingest_params_t *p, hh_ingest_file_t *out, hh_err_t *err);

/* The two halves of hh_ingest_file, for a caller that serializes document
 * changes with a lock (the HTTP server): hh_ingest_prepare does the slow
 * part (hash, sandboxed extraction, chunking, embedding, the stored
 * original's copy) and may run outside that lock, in parallel with other
 * uploads; hh_ingest_commit does the short part under it (the dedup check
 * by sha256, the replace by source path in one transaction), so two
 * uploads of the same path at once end as one document, and two of the
 * same bytes as one "added" and one "unchanged". The crash order stays:
 * the original is on disk before the commit (commit puts it back if a
 * concurrent delete removed it). The file at path must stay until the
 * commit; p's embedder is borrowed until then too. Caller owns *out:
 * hh_ingest_prepared_free (also after commit). A failed prepare returns
 * the file's error like hh_ingest_file. Without extract, prepare skips the
 * extraction when the collection already holds these bytes; commit then
 * answers HH_ESTATE if they were replaced or deleted meanwhile, and the
 * caller prepares again with extract = true (which always extracts). */
typedef struct hh_ingest_prepared hh_ingest_prepared_t;
int  hh_ingest_prepare(hh_store_t *s, const char *path, const char *source_path, int64_t collection_id,
                       const hh_ingest_params_t *p, bool extract, hh_ingest_prepared_t **out, hh_err_t *err);
int  hh_ingest_commit(hh_store_t *s, hh_ingest_prepared_t *pr, int64_t user_id, hh_ingest_file_t *out,
                      hh_err_t *err);
void hh_ingest_prepared_free(hh_ingest_prepared_t *pr);

/* Re-extracts a stored document from its original (DATA/files/<sha>, with
 * its source path as the file name) and replaces it: new chunks, FTS rows
 * and (with p's embedder) vectors in one transaction, e.g. after an
 * extractor upgrade. The document gets a new id (ids are never reused;
 * out->doc_id); collection, source path, hash and ingested_by stay.
 * HH_ENOENT for an unknown document or a missing original; extraction
 * errors as hh_ingest_file. */
int hh_ingest_reingest(hh_store_t *s, int64_t doc_id, const hh_ingest_params_t *p, hh_ingest_file_t *out,
                       hh_err_t *err);

/* Deletes a document and, when no other document has its hash, its stored
 * file. HH_ENOENT if there is no such document. */
int hh_ingest_delete(hh_store_t *s, int64_t doc_id, hh_err_t *err);

/* Removes stored files (and leftover temp files) that no document
 * references and that are at least min_age_s seconds old: what a crash
 * between file write and commit leaves. The age guard keeps a file that a
 * concurrent ingestion wrote but has not committed yet. *removed (may be
 * NULL) counts them. */
int hh_ingest_gc(hh_store_t *s, int64_t min_age_s, size_t *removed, hh_err_t *err);

/* The path of a stored file: DATA/files/<sha[0:2]>/<sha>. */
int hh_ingest_file_path(const hh_store_t *s, const char *sha256, char *buf, size_t cap, hh_err_t *err);

#endif
