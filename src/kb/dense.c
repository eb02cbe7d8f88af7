/* dense.c - the live vector index of the knowledge base (dense.h). */
#include "kb/dense.h"
#include "base/log.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct hh_kb_dense {
    hh_store_t     *store;       /* borrowed */
    hh_embedders_t *embedders;   /* borrowed */
    char            model[HH_EMBEDDER_ID_MAX];   /* embedding model id; "" = BM25 only */
    hh_embedder_t  *em;          /* acquired from init to fini */
    hh_vindex_t    *index;       /* owned; vector id = chunk id */
    pthread_mutex_t mu;          /* serializes document changes + index updates */
};

struct hh_kb_dense_doc {
    int64_t  doc;
    int64_t *ids;    /* owned: its chunk ids */
    size_t   n;
};

/* Embeds one text's ids (hh_ingest_embed_hook_t.embed). */
static int embed_ids(void *user, const int32_t *ids, int32_t n_ids, float *out, hh_err_t *err)
{
    int32_t off[2] = { 0, n_ids };
    return hh_embedder_run(user, ids, off, 1, out, err);
}

/* Embeds a query text (hh_kb_embedder_t.embed). */
static int embed_text(void *user, const char *text, float *out, hh_err_t *err)
{
    return hh_embedder_run_text(user, text, out, err);
}

/* DATA/vindex-<id>.bin */
static void index_path(const hh_kb_dense_t *d, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/vindex-%s.bin", hh_store_data_dir(d->store), d->model);
}

/* The name the model's vectors are stored under. */
static void vec_name(const hh_kb_dense_t *d, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s.gguf", d->model);
}

/* Loads the saved index or builds it (d->em set); 0 with d->index set. */
static int index_open(hh_kb_dense_t *d, hh_err_t *err)
{
    char path[4096], name[300];
    index_path(d, path, sizeof path);
    vec_name(d, name, sizeof name);
    uint64_t tag = 0, saved = 0;
    size_t n_vec = 0;
    hh_err_t e2;
    hh_err_clear(&e2);
    int rc = hh_kb_vectors_tag(d->store, name, &tag, &n_vec, err);
    if (rc)
        return rc;
    const int dim = hh_embedder_n_embd(d->em);
    hh_vindex_t *ix = NULL;
    if (hh_vindex_load(path, NULL, &ix, &saved, &e2) == 0) {
        if (saved == tag && hh_vindex_dim(ix) == dim && hh_vindex_size(ix) == n_vec) {
            d->index = ix;
            HH_LOGI("kb: dense retrieval with %s: %zu vectors (loaded %s)", d->model, n_vec, path);
            return 0;
        }
        HH_LOGI("kb: %s is stale; rebuilding the vector index", path);
        hh_vindex_free(ix);
        ix = NULL;
    } else if (e2.code != HH_ENOENT) {
        HH_LOGW("kb: %s: %s; rebuilding the vector index", path, e2.msg);
    }
    if ((rc = hh_vindex_create(&ix, dim, NULL)))
        return hh_err_set(err, rc, -1, "kb: cannot create the vector index");
    size_t added = 0;
    if ((rc = hh_kb_vindex_fill(d->store, name, 0, ix, &added, err))) {
        hh_vindex_free(ix);
        return rc;
    }
    d->index = ix;
    hh_err_clear(&e2);
    if (hh_vindex_save(ix, path, tag, &e2) != 0)
        HH_LOGW("kb: cannot save %s: %s", path, e2.msg);
    HH_LOGI("kb: dense retrieval with %s: %zu vectors (built)", d->model, added);
    return 0;
}

int hh_kb_dense_init(hh_kb_dense_t **out, hh_store_t *store, hh_embedders_t *embedders, const char *model,
                     hh_err_t *err)
{
    *out = NULL;
    hh_kb_dense_t *d = calloc(1, sizeof *d);
    if (!d)
        return hh_err_set(err, HH_ENOMEM, -1, "out of memory");
    d->store = store;
    d->embedders = embedders;
    pthread_mutex_init(&d->mu, NULL);
    *out = d;
    if (model && (!model[0] || !strcmp(model, "none")))
        return 0;
    if (model) {
        hh_err_t e;
        hh_err_clear(&e);
        if (hh_embedders_acquire(embedders, model, &d->em, &e) != 0) {
            hh_kb_dense_fini(d);
            *out = NULL;
            return hh_err_set(err, HH_EINVAL, -1, "embedding model: %s", e.msg);
        }
    } else {
        hh_embedders_acquire_first(embedders, &d->em);
        if (!d->em) {
            HH_LOGI("kb: no embedding model in %s: retrieval is BM25 only", hh_embedders_dir(embedders));
            return 0;
        }
    }
    snprintf(d->model, sizeof d->model, "%s", hh_embedder_id(d->em));
    int rc = index_open(d, err);
    if (rc) {
        hh_kb_dense_fini(d);
        *out = NULL;
    }
    return rc;
}

void hh_kb_dense_fini(hh_kb_dense_t *d)
{
    if (!d)
        return;
    if (d->index) {
        char path[4096], name[300];
        index_path(d, path, sizeof path);
        vec_name(d, name, sizeof name);
        uint64_t tag = 0;
        hh_err_t err;
        hh_err_clear(&err);
        if (hh_kb_vectors_tag(d->store, name, &tag, NULL, &err) != 0 || hh_vindex_save(d->index, path, tag, &err) != 0)
            HH_LOGW("kb: vector index not saved: %s", err.msg);
    }
    hh_vindex_free(d->index);
    hh_embedders_release(d->embedders, d->em);
    pthread_mutex_destroy(&d->mu);
    free(d);
}

void hh_kb_dense_lock(hh_kb_dense_t *d)
{
    pthread_mutex_lock(&d->mu);
}

void hh_kb_dense_unlock(hh_kb_dense_t *d)
{
    pthread_mutex_unlock(&d->mu);
}

bool hh_kb_dense_on(const hh_kb_dense_t *d)
{
    return d->index != NULL;
}

const char *hh_kb_dense_model(const hh_kb_dense_t *d)
{
    return d->model;
}

hh_vindex_t *hh_kb_dense_query(hh_kb_dense_t *d, hh_kb_embedder_t *em)
{
    memset(em, 0, sizeof *em);
    if (!d->index || !d->em)
        return NULL;
    em->dim = hh_embedder_n_embd(d->em);
    em->embed = embed_text;
    em->user = d->em;
    return d->index;
}

hh_ingest_embedder_t *hh_kb_dense_ingest_embedder(hh_kb_dense_t *d)
{
    if (!d->index || !d->em)
        return NULL;
    char name[300];
    vec_name(d, name, sizeof name);
    hh_ingest_embed_hook_t h = { .name = name, .dim = hh_embedder_n_embd(d->em),
                                 .max_tokens = hh_embedder_max_tokens(d->em), .vocab = hh_embedder_vocab(d->em),
                                 .embed = embed_ids, .user = d->em };
    hh_ingest_embedder_t *ie = NULL;
    hh_err_t err;
    if (hh_ingest_embedder_from_hook(&ie, &h, &err) != 0) {
        HH_LOGW("kb: no upload embedder: %s", err.msg);
        return NULL;
    }
    return ie;
}

void hh_kb_dense_update(hh_kb_dense_t *d, const int64_t *old_ids, size_t n_old, int64_t doc_id)
{
    if (!d->index)
        return;
    for (size_t i = 0; i < n_old; i++)
        hh_vindex_remove(d->index, old_ids[i]);   /* HH_ENOENT: had no vector */
    if (doc_id <= 0)
        return;
    char name[300];
    vec_name(d, name, sizeof name);
    hh_err_t err;
    hh_err_clear(&err);
    if (hh_kb_vindex_fill(d->store, name, doc_id, d->index, NULL, &err) != 0)
        HH_LOGW("kb: vectors of document %lld not indexed: %s", (long long)doc_id, err.msg);
}

/* ---- around erasure and sweeps ------------------------------------------- */

void hh_kb_dense_snap_free(hh_kb_dense_snap_t *sn)
{
    for (size_t i = 0; i < sn->n; i++)
        free(sn->d[i].ids);
    free(sn->d);
    memset(sn, 0, sizeof *sn);
}

int hh_kb_dense_snap_take(hh_kb_dense_t *d, hh_kb_dense_snap_t *sn, hh_err_t *err)
{
    memset(sn, 0, sizeof *sn);
    if (!d->index)
        return 0;
    hh_store_doc_t *docs = NULL;
    size_t n = 0;
    int rc = hh_store_doc_list(d->store, 0, 0, &docs, &n, err);
    if (rc)
        return rc;
    if (n && !(sn->d = calloc(n, sizeof *sn->d))) {
        free(docs);
        return hh_err_set(err, HH_ENOMEM, -1, "out of memory");
    }
    for (size_t i = 0; i < n && !rc; i++) {
        sn->d[i].doc = docs[i].id;
        rc = hh_kb_doc_chunk_ids(d->store, docs[i].id, &sn->d[i].ids, &sn->d[i].n, err);
        sn->n = i + 1;
    }
    free(docs);
    if (rc)
        hh_kb_dense_snap_free(sn);
    return rc;
}

size_t hh_kb_dense_snap_apply(hh_kb_dense_t *d, const hh_kb_dense_snap_t *sn, bool check_vectors)
{
    if (!d->index)
        return 0;
    char name[300];
    vec_name(d, name, sizeof name);
    const int dim = hh_vindex_dim(d->index);
    float *vec = malloc((size_t)dim * sizeof *vec);
    size_t removed = 0;
    for (size_t i = 0; i < sn->n; i++) {
        const struct hh_kb_dense_doc *doc_ids = &sn->d[i];
        hh_store_doc_t doc;
        bool gone = hh_store_doc_get(d->store, doc_ids->doc, &doc, NULL) == HH_ENOENT;
        hh_vindex_t *kept = NULL;
        hh_err_t err;
        hh_err_clear(&err);
        if (!gone && check_vectors) {
            /* the document's stored vectors, to tell which chunks lost theirs */
            if (!vec || hh_vindex_create(&kept, dim, NULL) != 0 ||
                hh_kb_vindex_fill(d->store, name, doc_ids->doc, kept, NULL, &err) != 0) {
                /* cannot tell: drop them all rather than keep an erased one */
                HH_LOGW("kb: vectors of document %" PRId64 " unreadable (%s); dropped from the index", doc_ids->doc,
                        err.msg);
                hh_vindex_free(kept);
                kept = NULL;
                gone = true;
            }
        }
        if (!gone && !kept)
            continue;
        for (size_t k = 0; k < doc_ids->n; k++)
            if ((gone || hh_vindex_get(kept, doc_ids->ids[k], vec) != 0) &&
                hh_vindex_remove(d->index, doc_ids->ids[k]) == 0)
                removed++;
        hh_vindex_free(kept);
    }
    free(vec);
    return removed;
}
