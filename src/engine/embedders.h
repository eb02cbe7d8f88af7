/* embedders.h - the embedding models (bert) of an engine's models
 * directory, loaded on demand and shared: /v1/embeddings and the knowledge
 * base's dense retrieval (kb/dense.h) take theirs from one registry.
 *
 * Embedding models are GGUF files of the models directory like any other;
 * the generative engine does not run them. A registry keeps up to
 * HH_EMBEDDERS_MAX of them loaded (mmapped, one embedding context each),
 * loads one on first use and unloads the least recently used idle one when
 * a new one needs room. A context serves one caller at a time (its mutex);
 * callers of the same model queue on it. Thread-safe. */
#ifndef HH_ENGINE_EMBEDDERS_H
#define HH_ENGINE_EMBEDDERS_H

#include "base/err.h"
#include "engine/engine.h"
#include "tok/tok.h"

#include <stddef.h>
#include <stdint.h>

#define HH_EMBEDDERS_MAX 4
#define HH_EMBEDDER_ID_MAX 256   /* bytes of a model id, NUL included */

typedef struct hh_embedders hh_embedders_t;
typedef struct hh_embedder hh_embedder_t;

/* A registry for the models of engine's directory models_dir (both
 * borrowed, must outlive it); contexts run on n_threads threads (0: the
 * embedding default). HH_ENOMEM. */
int  hh_embedders_create(hh_embedders_t **out, hh_engine_t *engine, const char *models_dir, int n_threads,
                         hh_err_t *err);
/* The models directory it serves. */
const char *hh_embedders_dir(const hh_embedders_t *r);
/* Unloads every model; call when no embedder is acquired any more. NULL is
 * a no-op. */
void hh_embedders_free(hh_embedders_t *r);

/* The embedder of model id (loaded on first use); *out stays loaded until
 * it is released, once per acquire. Errors, message in err: HH_ENOENT no
 * such model in the directory; HH_EINVAL a generative model or one without
 * pooling; HH_EFULL every slot holds a model in use; HH_EIO the file
 * cannot be loaded or prepared (the message says why); HH_ENOMEM. */
int  hh_embedders_acquire(hh_embedders_t *r, const char *model, hh_embedder_t **out, hh_err_t *err);
/* The first model of the directory, by name, that loads as an embedding
 * model, acquired into *out; *out NULL when there is none. */
void hh_embedders_acquire_first(hh_embedders_t *r, hh_embedder_t **out);
/* Gives back an acquired embedder (NULL: nothing). */
void hh_embedders_release(hh_embedders_t *r, hh_embedder_t *em);

/* hh_embed_batch on the embedder's context, one caller at a time: n_texts
 * texts, text i = ids[offsets[i] .. offsets[i+1]), into out (n_texts x
 * n_embd floats). */
int  hh_embedder_run(hh_embedder_t *em, const int32_t *ids, const int32_t *offsets, int32_t n_texts, float *out,
                     hh_err_t *err);
/* Embeds one text ([CLS] text [SEP], cut to the model's context) into out
 * (n_embd floats). HH_EINVAL for a text without tokens. */
int  hh_embedder_run_text(hh_embedder_t *em, const char *text, float *out, hh_err_t *err);
const char       *hh_embedder_id(const hh_embedder_t *em);
const hh_vocab_t *hh_embedder_vocab(const hh_embedder_t *em);
int32_t           hh_embedder_n_embd(const hh_embedder_t *em);
int32_t           hh_embedder_max_tokens(const hh_embedder_t *em);   /* per text, [CLS]/[SEP] included */

#endif
