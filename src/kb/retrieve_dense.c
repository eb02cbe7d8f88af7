/* retrieve_dense.c - the dense list of retrieval (retrieve_int.h): the
 * question's embedding searched in the vector index with the access set as
 * its id filter; and the stored vectors behind that index (their tag, the
 * index filled from them, a document's chunk ids). */
#include "kb/retrieve.h"
#include "kb/retrieve_int.h"
#include "store/store_int.h"

#include <stdlib.h>
#include <string.h>

int hh_rt_dense_list(hh_vindex_t *ix, const hh_kb_embedder_t *em, const char *text, const hh_rt_acl_t *acl,
                      int32_t depth, hh_rt_cand_t **out, size_t *n, hh_err_t *err)
{
    *out = NULL;
    *n = 0;
    if (em->dim != hh_vindex_dim(ix))
        return hh_err_set(err, HH_EINVAL, -1, "embedding width %d does not match the vector index (%d)", em->dim,
                          hh_vindex_dim(ix));
    float *qv = malloc((size_t)em->dim * sizeof *qv);
    int64_t *ids = calloc((size_t)depth, sizeof *ids);
    float *scores = calloc((size_t)depth, sizeof *scores);
    hh_rt_cand_t *v = calloc((size_t)depth, sizeof *v);
    int rc = 0;
    if (!qv || !ids || !scores || !v) {
        rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory");
        goto cleanup;
    }
    rc = em->embed(em->user, text, qv, err);
    if (rc)
        goto cleanup;
    if (acl->n_ids == 0)
        goto cleanup;
    hh_vindex_filter_t f;
    memset(&f, 0, sizeof f);
    f.kind = HH_VINDEX_FILTER_IDS;
    f.ids = acl->ids;
    f.n_ids = acl->n_ids;
    /* scoped: which readable chunks come back must not depend on the
     * vectors of collections the user cannot read (docs/SECURITY.md) */
    hh_vindex_search_opts_t so = { .mode = HH_VINDEX_SCOPED };
    int found = 0;
    rc = hh_vindex_search_ex(ix, qv, depth, &f, &so, ids, scores, &found);
    if (rc) {
        hh_err_set(err, rc, -1, "vector search failed");
        goto cleanup;
    }
    for (int i = 0; i < found; i++) {
        v[i].id = ids[i];
        v[i].dense = scores[i];
        v[i].dense_rank = i + 1;
    }
    *n = (size_t)found;
cleanup:
    free(qv);
    free(ids);
    free(scores);
    if (rc || *n == 0) {
        free(v);
        *n = 0;
    } else {
        *out = v;
    }
    return rc;
}

/* ---- the vector index of stored vectors --------------------------------- */

int hh_kb_vectors_tag(hh_store_t *s, const char *model, uint64_t *tag, size_t *n_vectors, hh_err_t *err)
{
    static const char sql[] =
        "SELECT count(*), coalesce(sum(chunk_id & 4294967295), 0), coalesce(sum(chunk_id >> 32), 0),"
        " coalesce(max(chunk_id), 0), coalesce(sum(dim), 0) FROM chunk_vectors WHERE model = ?1";
    *tag = 0;
    if (n_vectors)
        *n_vectors = 0;
    if (!s || !model)
        return hh_err_set(err, HH_EINVAL, -1, "vectors tag: missing store or model");
    sqlite3_stmt *st = NULL;
    int rc = 0;
    pthread_mutex_lock(&s->mu);
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
        rc = hh_store_db_fail(s, err, "vectors tag prepare");
        goto cleanup;
    }
    sqlite3_bind_text(st, 1, model, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_ROW) {
        rc = hh_store_db_fail(s, err, "vectors tag");
        goto cleanup;
    }
    /* the sum of the ids modulo 2^64 from its two 32-bit halves: a plain
     * sum() fails with "integer overflow" once ids are random up to 2^53
     * (store_int.h); for ids below 2^32 the tag is the one it always was */
    uint64_t v[4];
    v[0] = (uint64_t)sqlite3_column_int64(st, 0);
    v[1] = (uint64_t)sqlite3_column_int64(st, 1) + ((uint64_t)sqlite3_column_int64(st, 2) << 32);
    v[2] = (uint64_t)sqlite3_column_int64(st, 3);
    v[3] = (uint64_t)sqlite3_column_int64(st, 4);
    /* FNV-1a over the four numbers' bytes */
    uint64_t h = 0xcbf29ce484222325ull;
    for (int i = 0; i < 4; i++)
        for (int b = 0; b < 8; b++) {
            h ^= (v[i] >> (8 * b)) & 0xff;
            h *= 0x100000001b3ull;
        }
    *tag = h;
    if (n_vectors)
        *n_vectors = (size_t)v[0];
cleanup:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int hh_kb_vindex_fill(hh_store_t *s, const char *model, int64_t doc_id, hh_vindex_t *ix, size_t *n_added,
                      hh_err_t *err)
{
    static const char sql_all[] = "SELECT chunk_id, dim, vec FROM chunk_vectors WHERE model = ?1 ORDER BY chunk_id";
    static const char sql_doc[] =
        "SELECT v.chunk_id, v.dim, v.vec FROM chunk_vectors v JOIN chunks c ON c.id = v.chunk_id"
        " WHERE v.model = ?1 AND c.document_id = ?2 ORDER BY v.chunk_id";
    if (n_added)
        *n_added = 0;
    if (!s || !model || !ix)
        return hh_err_set(err, HH_EINVAL, -1, "vindex fill: missing store, model or index");
    const int dim = hh_vindex_dim(ix);
    float *vec = malloc((size_t)dim * sizeof *vec);
    if (!vec)
        return hh_err_set(err, HH_ENOMEM, -1, "out of memory");
    sqlite3_stmt *st = NULL;
    size_t added = 0;
    int rc = 0;
    pthread_mutex_lock(&s->mu);
    if (sqlite3_prepare_v2(s->db, doc_id ? sql_doc : sql_all, -1, &st, NULL) != SQLITE_OK) {
        rc = hh_store_db_fail(s, err, "vindex fill prepare");
        goto cleanup;
    }
    sqlite3_bind_text(st, 1, model, -1, SQLITE_STATIC);
    if (doc_id)
        sqlite3_bind_int64(st, 2, doc_id);
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(st, 0);
        const void *blob = sqlite3_column_blob(st, 2);
        int bytes = sqlite3_column_bytes(st, 2);
        if (sqlite3_column_int(st, 1) != dim || !blob || bytes != dim * (int)sizeof(float))
            continue;
        memcpy(vec, blob, (size_t)bytes);   /* stored little-endian: the host order here */
        int r = hh_vindex_add(ix, id, vec);
        if (r == HH_EINVAL)
            continue;   /* a non-finite stored vector is skipped, never searched */
        if (r) {
            rc = hh_err_set(err, r, -1, "vindex fill: cannot add chunk %lld", (long long)id);
            goto cleanup;
        }
        added++;
    }
    if (step != SQLITE_DONE)
        rc = hh_store_db_fail(s, err, "vindex fill");
cleanup:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    free(vec);
    if (n_added)
        *n_added = added;
    return rc;
}

int hh_kb_doc_chunk_ids(hh_store_t *s, int64_t doc_id, int64_t **ids, size_t *n, hh_err_t *err)
{
    static const char sql[] = "SELECT id FROM chunks WHERE document_id = ?1 ORDER BY ord";
    *ids = NULL;
    *n = 0;
    int64_t *v = NULL;
    size_t nv = 0, cap = 0;
    int rc = 0;
    sqlite3_stmt *st = NULL;
    pthread_mutex_lock(&s->mu);
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
        rc = hh_store_db_fail(s, err, "doc chunk ids prepare");
        goto cleanup;
    }
    sqlite3_bind_int64(st, 1, doc_id);
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (nv == cap) {
            size_t nc = cap ? cap * 2 : 64;
            int64_t *np = realloc(v, nc * sizeof *np);
            if (!np) {
                rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory");
                goto cleanup;
            }
            v = np;
            cap = nc;
        }
        v[nv++] = sqlite3_column_int64(st, 0);
    }
    if (step != SQLITE_DONE)
        rc = hh_store_db_fail(s, err, "doc chunk ids");
cleanup:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    if (rc) {
        free(v);
        return rc;
    }
    *ids = v;
    *n = nv;
    return 0;
}
