/* retrieve.c - ACL-first hybrid retrieval: BM25 (FTS5) and dense (vindex)
 * lists, each restricted to the collections the user may read inside the
 * search itself, fused by reciprocal rank, the first candidates reranked,
 * the hits loaded. See retrieve.h. The parts live beside it (retrieve_int.h):
 * retrieve_acl.c (the access set and its cache), retrieve_fts.c (the BM25
 * list over FTS5), retrieve_dense.c (the dense list and the stored vectors),
 * retrieve_rerank.c (the feature reranker), retrieve_index.c (the chunk
 * analysis that fills the index).
 *
 * BM25 statistics (the number of chunks, their average length, each query
 * word's document frequency) are computed over the chunks of the searched
 * collections only, never over the whole FTS5 table: FTS5's own bm25()
 * takes them from every collection, so the order of two of a user's own
 * chunks would tell whether a word occurs in another department's
 * documents (issue 12, finding 4). FTS5 finds the matching chunks and an
 * auxiliary function (hh_kb_tf) reports each one's per-word counts; the
 * chunks' lengths come with the access set (read once from the index's
 * per-row sizes and cached with it: FTS5's own per-row length lookup was
 * half of the BM25 list's time); the score is computed here with FTS5's
 * formula and constants (tests/test_retrieve.c
 * retrieve_bm25_matches_reference recomputes it from the analyzed terms).
 *
 * The index ranked is chunks_terms, over each chunk's analyzed terms
 * (kb/analyze.h); the question's terms carry weights, and an expansion's IDF
 * is capped at its word's (see retrieve.h). Synonyms and translations come
 * from corpus-independent files, document frequencies from the readable
 * chunks only, and the reranking features from the candidate chunk and the
 * question alone: no term of another department's documents can move a
 * readable chunk up or down. */
#include "kb/retrieve.h"
#include "kb/retrieve_int.h"
#include "store/store_int.h"

#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH     1000

void hh_kb_hits_free(hh_kb_hit_t *hits, size_t n)
{
    if (!hits)
        return;
    for (size_t i = 0; i < n; i++) {
        free(hits[i].title);
        free(hits[i].heading_path);
        free(hits[i].text);
    }
    free(hits);
}

static char *col_dup(sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    return strdup(t ? (const char *)t : "");
}

/* ---- fusion and loading ------------------------------------------------- */

static int cmp_cand(const void *a, const void *b)
{
    const hh_rt_cand_t *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    int32_t rx = x->bm25_rank ? x->bm25_rank : INT32_MAX, ry = y->bm25_rank ? y->bm25_rank : INT32_MAX;
    if (rx != ry)
        return rx < ry ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* Fills a hit's document fields and *terms (the chunk's index terms,
 * malloc'd); the ACL condition is repeated so a chunk outside the allowed
 * collections can never be loaded. HH_ENOENT if gone. */
static int load_hit(hh_store_t *s, sqlite3_stmt *st, int64_t id, hh_kb_hit_t *h, char **terms, hh_err_t *err)
{
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, id);
    int step = sqlite3_step(st);
    if (step == SQLITE_DONE)
        return HH_ENOENT;
    if (step != SQLITE_ROW)
        return hh_store_db_fail(s, err, "load chunk");
    h->chunk_id = id;
    h->document_id = sqlite3_column_int64(st, 0);
    h->collection_id = sqlite3_column_int64(st, 1);
    h->title = col_dup(st, 2);
    h->heading_path = col_dup(st, 3);
    h->page = sqlite3_column_int(st, 4);
    h->text = col_dup(st, 5);
    *terms = col_dup(st, 6);
    if (!h->title || !h->heading_path || !h->text || !*terms)
        return hh_err_set(err, HH_ENOMEM, -1, "out of memory");
    return 0;
}

typedef struct rr_item {
    hh_kb_hit_t hit;
    double      score;
    size_t      order;   /* first-stage rank: ties keep it */
} rr_item_t;

static int cmp_rr(const void *a, const void *b)
{
    const rr_item_t *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

int hh_kb_retrieve_mode(hh_store_t *store, hh_vindex_t *vindex, const hh_kb_embedder_t *embedder,
                        const hh_kb_query_t *q, hh_kb_mode_t mode, hh_kb_hit_t **out, size_t *n, hh_err_t *err)
{
    *out = NULL;
    *n = 0;
    if (!store || !q || !q->text || !q->user)
        return hh_err_set(err, HH_EINVAL, -1, "retrieve: missing store, user or query text");
    if (q->k < 1 || q->k > HH_KB_MAX_K)
        return hh_err_set(err, HH_EINVAL, -1, "retrieve: k must be 1..%d (got %d)", HH_KB_MAX_K, q->k);
    bool dense_ok = vindex && embedder && embedder->embed && embedder->dim > 0;
    if (mode == HH_KB_DENSE_ONLY && !dense_ok)
        return hh_err_set(err, HH_EINVAL, -1, "retrieve: dense search needs an embedding model and a vector index");
    int32_t depth = q->depth > 0 ? q->depth : (4 * q->k > 50 ? 4 * q->k : 50);
    if (depth < q->k)
        depth = q->k;
    if (depth > MAX_DEPTH)
        depth = MAX_DEPTH;

    char *coll = NULL, *fts = NULL;
    hh_rt_cand_t *bl = NULL, *dl = NULL, *all = NULL;
    size_t nb = 0, nd = 0, n_allowed = 0;
    rr_item_t *items = NULL;
    char **terms = NULL;
    size_t ni = 0;
    hh_kb_hit_t *hits = NULL;
    size_t nh = 0;
    sqlite3_stmt *st = NULL;
    bool locked = false;
    hh_rt_acl_t acl = { 0 };
    hh_query_terms_t qt = { 0 };
    int rc = hh_rt_allowed_collections(store, q, &coll, &n_allowed, err);
    if (rc || n_allowed == 0)
        goto cleanup;
    /* chunks not analyzed yet (a store from before migration 14, rewritten
     * chunks) are not analyzed here: the server's background pass does it
     * (hh_kb_index_filler_start), so no search waits for it */
    if ((rc = hh_rt_acl_get(store, coll, &acl, err)))
        goto cleanup;
    if ((rc = hh_analyzer_query_terms(q->analyzer, q->text, &qt, err)))
        goto cleanup;
    int32_t lists = 0;
    if (mode != HH_KB_DENSE_ONLY) {
        lists++;
        if (hh_rt_terms_fts_query(&qt, &fts)) {
            rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory");
            goto cleanup;
        }
        if (fts[0]) {
            rc = hh_rt_bm25_list(store, fts, &qt, &acl, depth, &bl, &nb, err);
            if (rc)
                goto cleanup;
        }
    }
    if (mode != HH_KB_BM25_ONLY && dense_ok) {
        lists++;
        rc = hh_rt_dense_list(vindex, embedder, q->text, &acl, depth, &dl, &nd, err);
        if (rc)
            goto cleanup;
    }
    /* reciprocal rank fusion */
    all = calloc(nb + nd + 1, sizeof *all);
    if (!all) {
        rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory");
        goto cleanup;
    }
    size_t na = 0;
    for (size_t i = 0; i < nb; i++) {
        all[na] = bl[i];
        all[na++].score = 1.0 / (HH_KB_RRF_K + bl[i].bm25_rank);
    }
    for (size_t i = 0; i < nd; i++) {
        size_t j = 0;
        while (j < na && all[j].id != dl[i].id)
            j++;
        if (j == na) {
            all[na] = dl[i];
            all[na++].score = 0;
        } else {
            all[j].dense = dl[i].dense;
            all[j].dense_rank = dl[i].dense_rank;
        }
        all[j].score += 1.0 / (HH_KB_RRF_K + dl[i].dense_rank);
    }
    qsort(all, na, sizeof *all, cmp_cand);
    /* the candidates: k, or the first HH_KB_RERANK_DEPTH to rerank */
    size_t want = na < (size_t)q->k ? na : (size_t)q->k;
    size_t depth_rr = q->no_rerank ? want : (size_t)(q->k > HH_KB_RERANK_DEPTH ? q->k : HH_KB_RERANK_DEPTH);
    if (depth_rr > na)
        depth_rr = na;
    items = calloc(depth_rr + 1, sizeof *items);
    terms = calloc(depth_rr + 1, sizeof *terms);
    if (!items || !terms) {
        rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory");
        goto cleanup;
    }
    static const char sql[] =
        "SELECT c.document_id, d.collection_id, d.title, c.heading_path, c.page, c.text, c.terms"
        " FROM chunks c JOIN documents d ON d.id = c.document_id"
        " WHERE c.id = ?1 AND d.collection_id IN (SELECT value FROM json_each(?2))";
    pthread_mutex_lock(&store->mu);
    locked = true;
    if (sqlite3_prepare_v2(store->db, sql, -1, &st, NULL) != SQLITE_OK) {
        rc = hh_store_db_fail(store, err, "load prepare");
        goto cleanup;
    }
    sqlite3_bind_text(st, 2, coll, -1, SQLITE_STATIC);
    for (size_t i = 0; i < na && ni < depth_rr; i++) {
        hh_kb_hit_t *h = &items[ni].hit;
        int r = load_hit(store, st, all[i].id, h, &terms[ni], err);
        if (r == HH_ENOENT)
            continue;   /* deleted meanwhile, or a stale vector outside the filter */
        ni++;           /* counted before the check so a partial hit is freed */
        if (r) {
            rc = r;
            goto cleanup;
        }
        h->bm25 = all[i].bm25;
        h->bm25_rank = all[i].bm25_rank;
        h->dense = all[i].dense;
        h->dense_rank = all[i].dense_rank;
        h->score = all[i].score;
        h->n_lists = lists;
        items[ni - 1].score = all[i].score;
        items[ni - 1].order = ni - 1;
    }
    sqlite3_finalize(st);
    st = NULL;
    pthread_mutex_unlock(&store->mu);
    locked = false;
    if (!q->no_rerank && ni > 1 && qt.n) {
        hh_rt_qmap_t qm;
        hh_rt_qmap_build(&qm, &qt);
        double top = items[0].score > 0 ? items[0].score : 1;
        for (size_t i = 0; i < ni; i++) {
            char *ht = NULL;
            const char *hp = items[i].hit.heading_path;
            if ((rc = hh_analyzer_index_terms(q->analyzer, hp, strlen(hp), HH_LANG_UNKNOWN, &ht, err)))
                goto cleanup;
            items[i].score = hh_rt_rerank_score(&items[i].hit, terms[i], ht, &qt, &qm, items[i].score / top);
            items[i].hit.rerank = items[i].score;
            free(ht);
        }
        qsort(items, ni, sizeof *items, cmp_rr);
    }
    nh = ni < want ? ni : want;
    hits = calloc(nh + 1, sizeof *hits);
    if (!hits) {
        rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory");
        nh = 0;
        goto cleanup;
    }
    for (size_t i = 0; i < nh; i++) {
        hits[i] = items[i].hit;
        memset(&items[i].hit, 0, sizeof items[i].hit);
    }
cleanup:
    sqlite3_finalize(st);
    if (locked)
        pthread_mutex_unlock(&store->mu);
    hh_rt_acl_free(&acl);
    hh_query_terms_free(&qt);
    free(coll);
    free(fts);
    free(bl);
    free(dl);
    free(all);
    for (size_t i = 0; items && i < ni; i++) {
        free(items[i].hit.title);
        free(items[i].hit.heading_path);
        free(items[i].hit.text);
        free(terms[i]);
    }
    free(items);
    free(terms);
    if (rc) {
        hh_kb_hits_free(hits, nh);
        return rc;
    }
    if (nh == 0) {
        free(hits);
        hits = NULL;
    }
    *out = hits;
    *n = nh;
    return 0;
}

int hh_kb_retrieve(hh_store_t *store, hh_vindex_t *vindex, const hh_kb_embedder_t *embedder,
                   const hh_kb_query_t *q, hh_kb_hit_t **out, size_t *n, hh_err_t *err)
{
    return hh_kb_retrieve_mode(store, vindex, embedder, q, HH_KB_HYBRID, out, n, err);
}
