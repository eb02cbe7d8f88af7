/* test_dense.c - the knowledge base's live vector index (kb/dense.h) and
 * the retention sweeper around it (govern/sweeper.h), without a server:
 * no model / an unknown model, the index following an ingested and a
 * deleted document (update, snapshot notes), the saved index loaded at
 * the next init, one sweep now, and a sweeper thread that stops at once. */
#include "harness.h"
#include "engine/embedders.h"
#include "govern/sweeper.h"
#include "http_helpers.h"
#include "kb/dense.h"
#include "kb/ingest.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef struct dn_env {
    char            data[512], models[600];
    hh_store_t     *st;
    hh_engine_t    *engine;
    hh_embedders_t *reg;
} dn_env_t;

/* A store in <tmp>/name and a models folder beside it holding bert-q8_0
 * as "bert" (linked) when with_bert. */
static bool env_open(dn_env_t *v, const char *name, bool with_bert)
{
    memset(v, 0, sizeof *v);
    snprintf(v->data, sizeof v->data, "%s/%s", hh_test_tmpdir(), name);
    snprintf(v->models, sizeof v->models, "%s-models", v->data);
    if (mkdir(v->models, 0700) != 0)
        return false;
    char src[PATH_MAX], dst[700];
    if (with_bert) {
        snprintf(dst, sizeof dst, "%s/bert.gguf", v->models);
        if (!realpath(hh_test_data_path("reference/bert-q8_0.gguf"), src) || symlink(src, dst) != 0)
            return false;
    }
    hh_engine_params_t ep = hh_engine_default_params();
    ep.models_dir = v->models;
    ep.n_threads = 1;
    hh_err_t err;
    hh_err_clear(&err);
    if (hh_store_open(&v->st, v->data, &err) != 0 || hh_engine_create(&v->engine, &ep, &err) != 0 ||
        hh_embedders_create(&v->reg, v->engine, v->models, 1, &err) != 0) {
        printf("    %s\n", err.msg);
        return false;
    }
    return true;
}

static void env_close(dn_env_t *v)
{
    hh_embedders_free(v->reg);
    hh_engine_free(v->engine);
    hh_store_close(v->st);
}

TEST(dense_without_a_model)
{
    dn_env_t v;
    ASSERT_TRUE(env_open(&v, "dense-none", true));
    hh_err_t err;
    hh_err_clear(&err);
    hh_kb_dense_t *d = NULL;
    /* a model that is not there: refused, nothing made */
    ASSERT_EQ_INT(hh_kb_dense_init(&d, v.st, v.reg, "nope", &err), HH_EINVAL);
    ASSERT_TRUE(d == NULL);
    ASSERT_TRUE(strstr(err.msg, "nope") != NULL);
    /* "none": BM25 only, but the lock and the notes still work */
    ASSERT_OK(hh_kb_dense_init(&d, v.st, v.reg, "none", &err));
    ASSERT_TRUE(d != NULL);
    ASSERT_FALSE(hh_kb_dense_on(d));
    hh_kb_embedder_t qe;
    memset(&qe, 0x5a, sizeof qe);
    ASSERT_TRUE(hh_kb_dense_query(d, &qe) == NULL);
    ASSERT_TRUE(qe.embed == NULL && qe.dim == 0);
    ASSERT_TRUE(hh_kb_dense_ingest_embedder(d) == NULL);
    hh_kb_dense_lock(d);
    hh_kb_dense_snap_t sn;
    ASSERT_OK(hh_kb_dense_snap_take(d, &sn, &err));
    ASSERT_EQ_INT(sn.n, 0);
    ASSERT_EQ_INT(hh_kb_dense_snap_apply(d, &sn, true), 0);
    hh_kb_dense_snap_free(&sn);
    hh_kb_dense_update(d, NULL, 0, 1);   /* no index: nothing to do */
    hh_kb_dense_unlock(d);
    hh_kb_dense_fini(d);
    hh_kb_dense_fini(NULL);
    env_close(&v);
}

TEST(dense_follows_documents)
{
    dn_env_t v;
    ASSERT_TRUE(env_open(&v, "dense-docs", true));
    hh_err_t err;
    hh_err_clear(&err);
    hh_kb_dense_t *d = NULL;
    ASSERT_OK(hh_kb_dense_init(&d, v.st, v.reg, NULL, &err));   /* the first embedding model: bert */
    ASSERT_TRUE(hh_kb_dense_on(d));
    hh_kb_embedder_t qe;
    hh_vindex_t *ix = hh_kb_dense_query(d, &qe);
    ASSERT_TRUE(ix != NULL);
    ASSERT_EQ_INT(hh_vindex_size(ix), 0);
    ASSERT_GE(qe.dim, 8);
    float *q = calloc((size_t)qe.dim, sizeof *q);
    ASSERT_TRUE(q != NULL);
    ASSERT_OK(qe.embed(qe.user, "who books hotels", q, &err));
    free(q);

    /* ingest one document with the index's embedder, then update the index */
    char path[700];
    snprintf(path, sizeof path, "%s/policy.md", v.models);
    FILE *f = fopen(path, "w");
    ASSERT_TRUE(f != NULL);
    fputs("# Policy\n\nEmployees book hotels through the travel desk.\n\n"
          "## Cars\n\nRental cars need approval from the department head.\n",
          f);
    fclose(f);
    hh_store_collection_t coll;
    ASSERT_OK(hh_store_collection_ensure(v.st, "pol", NULL, 0, &coll, &err));
    hh_ingest_params_t p = hh_ingest_default_params();
    p.embedder = hh_kb_dense_ingest_embedder(d);
    ASSERT_TRUE(p.embedder != NULL);
    ASSERT_EQ_INT(hh_ingest_embedder_dim(p.embedder), qe.dim);
    hh_ingest_file_t r;
    hh_kb_dense_lock(d);
    int rc = hh_ingest_file(v.st, path, "policy.md", coll.id, 0, &p, &r, &err);
    if (rc == 0)
        hh_kb_dense_update(d, NULL, 0, r.doc_id);
    hh_kb_dense_unlock(d);
    hh_ingest_embedder_free(p.embedder);
    ASSERT_OK(rc);
    ASSERT_EQ_INT(r.n_chunks, 2);
    ASSERT_EQ_INT(hh_vindex_size(ix), 2);

    /* saved at fini, loaded (not rebuilt) by the next init */
    hh_kb_dense_fini(d);
    char saved[700];
    snprintf(saved, sizeof saved, "%s/vindex-bert.bin", v.data);
    struct stat sb;
    ASSERT_OK(stat(saved, &sb));
    struct timespec old[2] = { { 946684800, 0 }, { 946684800, 0 } };   /* 2000-01-01: a rebuild would rewrite it */
    ASSERT_OK(utimensat(AT_FDCWD, saved, old, 0));
    ASSERT_OK(hh_kb_dense_init(&d, v.st, v.reg, "bert", &err));
    ix = hh_kb_dense_query(d, &qe);
    ASSERT_TRUE(ix != NULL);
    ASSERT_EQ_INT(hh_vindex_size(ix), 2);
    ASSERT_OK(stat(saved, &sb));
    ASSERT_EQ_INT(sb.st_mtime, 946684800);

    /* deletion between the notes: its vectors leave the index */
    hh_kb_dense_snap_t sn;
    hh_kb_dense_lock(d);
    ASSERT_OK(hh_kb_dense_snap_take(d, &sn, &err));
    ASSERT_EQ_INT(sn.n, 1);
    ASSERT_OK(hh_ingest_delete(v.st, r.doc_id, &err));
    size_t removed = hh_kb_dense_snap_apply(d, &sn, false);
    hh_kb_dense_snap_free(&sn);
    hh_kb_dense_unlock(d);
    ASSERT_EQ_INT(removed, 2);
    ASSERT_EQ_INT(hh_vindex_size(ix), 0);
    hh_kb_dense_fini(d);
    env_close(&v);
}

TEST(sweeper_now_and_thread)
{
    dn_env_t v;
    ASSERT_TRUE(env_open(&v, "dense-sweep", false));
    hh_err_t err;
    hh_err_clear(&err);
    hh_kb_dense_t *d = NULL;
    ASSERT_OK(hh_kb_dense_init(&d, v.st, v.reg, NULL, &err));   /* no model in the folder */
    ASSERT_FALSE(hh_kb_dense_on(d));
    /* one sweep now: nothing registered, nothing removed, its log handed back */
    hh_gdpr_sweep_result_t res;
    memset(&res, 0xff, sizeof res);
    size_t removed = 99;
    char *log_text = NULL;
    ASSERT_OK(hh_retention_sweep_live(v.st, d, NULL, &res, &removed, &log_text, &err));
    ASSERT_EQ_INT(removed, 0);
    ASSERT_EQ_INT(res.documents, 0);
    ASSERT_EQ_INT(res.approvals, 0);
    free(log_text);
    /* no interval: no thread */
    hh_retention_sweeper_t *sw = (hh_retention_sweeper_t *)&v;
    ASSERT_OK(hh_retention_sweeper_start(&sw, v.st, d, 0, NULL, &err));
    ASSERT_TRUE(sw == NULL);
    hh_retention_sweeper_stop(NULL);
    /* a thread waiting for its first sweep (10 s away) stops at once */
    ASSERT_OK(hh_retention_sweeper_start(&sw, v.st, d, 3600, NULL, &err));
    ASSERT_TRUE(sw != NULL);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    hh_retention_sweeper_stop(sw);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
    ASSERT_LE(s, 1.0);
    hh_kb_dense_fini(d);
    env_close(&v);
}
