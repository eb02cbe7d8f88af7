/* test_ingest.c - ingestion: folders, hidden files and symlink loops,
 * hash skip, replace on change, stored originals, delete, gc, a failing
 * file that fails alone. */
#include "harness.h"
#include "kb/ingest.h"
#include "store/store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static void write_file(const char *dir, const char *name, const char *text)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static long long q_int(hh_store_t *s, const char *sql)
{
    sqlite3_stmt *st = NULL;
    long long v = -1;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static int count_files(hh_store_t *s)
{
    /* Stored originals: rows of documents whose file exists. */
    hh_store_doc_t *d = NULL;
    size_t n = 0;
    int k = 0;
    if (hh_store_doc_list(s, 0, 0, &d, &n, NULL) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        char p[2048];
        if (hh_ingest_file_path(s, d[i].sha256, p, sizeof p, NULL) == 0 && access(p, R_OK) == 0)
            k++;
    }
    free(d);
    return k;
}

typedef struct seen {
    int  n_failed;
    char failed[256];
} seen_t;

static void on_file(void *ctx, const hh_ingest_file_t *f)
{
    seen_t *s = ctx;
    if (f->status == HH_INGEST_FAILED) {
        s->n_failed++;
        snprintf(s->failed, sizeof s->failed, "%s", f->path);
    }
}

TEST(ingest_folder_skip_replace_delete)
{
    char root[512], docs[600], sub[700], data[600];
    snprintf(root, sizeof root, "%s/ingest1", hh_test_tmpdir());
    snprintf(docs, sizeof docs, "%s/docs", root);
    snprintf(sub, sizeof sub, "%s/docs/sub", root);
    snprintf(data, sizeof data, "%s/data", root);
    mkdir(root, 0700);
    mkdir(docs, 0700);
    mkdir(sub, 0700);
    write_file(docs, "travel.md", "# Travel\n\n## Hotels\n\nHotels are booked by the travel desk.\n\n- Max 120 EUR\n");
    write_file(docs, "notes.txt", "Plain notes about the quarterly review.\n");
    write_file(sub, "deep.txt", "A file in a subfolder about parking rules.\n");
    write_file(docs, ".hidden.txt", "never ingested\n");
    write_file(docs, "empty.txt", "");   /* fails alone: 0 bytes */
    char link[800];
    snprintf(link, sizeof link, "%s/loop", sub);
    ASSERT_OK(symlink("..", link));      /* a folder loop, never entered */

    hh_store_t *s = NULL;
    hh_err_t err;
    ASSERT_OK(hh_store_open(&s, data, &err));
    ASSERT_OK(hh_store_collection_ensure(s, "handbook", NULL, 0, NULL, &err));
    const char *paths[] = { docs };
    hh_ingest_totals_t t;
    seen_t seen = { 0 };
    ASSERT_OK(hh_ingest_paths(s, paths, 1, "handbook", 0, NULL, on_file, &seen, &t, &err));
    ASSERT_EQ_INT(t.files, 4);
    ASSERT_EQ_INT(t.added, 3);
    ASSERT_EQ_INT(t.failed, 1);
    ASSERT_EQ_INT(seen.n_failed, 1);
    ASSERT_TRUE(strstr(seen.failed, "empty.txt") != NULL);
    ASSERT_EQ_INT(q_int(s, "SELECT COUNT(*) FROM documents"), 3);
    ASSERT_EQ_INT(q_int(s, "SELECT COUNT(*) FROM chunks_fts WHERE chunks_fts MATCH 'hotels'"), 1);
    ASSERT_EQ_INT(q_int(s, "SELECT COUNT(*) FROM chunks WHERE heading_path = 'Travel \xE2\x80\xBA Hotels'"), 1);
    ASSERT_EQ_INT(count_files(s), 3);
    ASSERT_EQ_INT(t.chunks, (size_t)q_int(s, "SELECT COUNT(*) FROM chunks"));

    /* Rerun: everything unchanged (the empty file fails again). */
    ASSERT_OK(hh_ingest_paths(s, paths, 1, "handbook", 0, NULL, NULL, NULL, &t, &err));
    ASSERT_EQ_INT(t.unchanged, 3);
    ASSERT_EQ_INT(t.added + t.updated, 0);

    /* A changed file replaces its document; the old original goes. */
    char np[800];
    snprintf(np, sizeof np, "%s/notes.txt", docs);
    hh_store_doc_t before;
    char abs[4096];
    ASSERT_TRUE(realpath(np, abs) != NULL);
    hh_store_collection_t c;
    ASSERT_OK(hh_store_collection_get(s, "handbook", &c, &err));
    ASSERT_OK(hh_store_doc_find_by_path(s, c.id, abs, &before, &err));
    char oldfile[2048];
    ASSERT_OK(hh_ingest_file_path(s, before.sha256, oldfile, sizeof oldfile, &err));
    ASSERT_EQ_INT(access(oldfile, R_OK), 0);
    write_file(docs, "notes.txt", "Revised notes: the review moved to Friday.\n");
    ASSERT_OK(hh_ingest_paths(s, paths, 1, "handbook", 0, NULL, NULL, NULL, &t, &err));
    ASSERT_EQ_INT(t.updated, 1);
    ASSERT_EQ_INT(t.unchanged, 2);
    ASSERT_EQ_INT(q_int(s, "SELECT COUNT(*) FROM documents"), 3);
    ASSERT_EQ_INT(q_int(s, "SELECT COUNT(*) FROM chunks_fts WHERE chunks_fts MATCH 'quarterly'"), 0);
    ASSERT_EQ_INT(q_int(s, "SELECT COUNT(*) FROM chunks_fts WHERE chunks_fts MATCH 'friday'"), 1);
    ASSERT_NE_INT(access(oldfile, F_OK), 0);

    /* Delete: chunks and the stored file go. */
    hh_store_doc_t after;
    ASSERT_OK(hh_store_doc_find_by_path(s, c.id, abs, &after, &err));
    char newfile[2048];
    ASSERT_OK(hh_ingest_file_path(s, after.sha256, newfile, sizeof newfile, &err));
    ASSERT_OK(hh_ingest_delete(s, after.id, &err));
    ASSERT_NE_INT(access(newfile, F_OK), 0);
    ASSERT_EQ_INT(hh_ingest_delete(s, after.id, &err), HH_ENOENT);
    ASSERT_EQ_INT(q_int(s, "SELECT COUNT(*) FROM chunks_fts WHERE chunks_fts MATCH 'friday'"), 0);

    /* gc: an orphan (as a crash between copy and commit leaves) goes,
     * referenced files stay. */
    char orphan[2048];
    const char *osha = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    ASSERT_OK(hh_ingest_file_path(s, osha, orphan, sizeof orphan, &err));
    char odir[2048];
    snprintf(odir, sizeof odir, "%s/files/01", data);
    mkdir(odir, 0700);
    write_file(odir, osha, "orphan");
    write_file(odir, ".tmp-x-1", "partial");
    size_t removed = 0;
    ASSERT_OK(hh_ingest_gc(s, 3600, &removed, &err));
    ASSERT_EQ_INT(removed, 0);   /* too young */
    ASSERT_OK(hh_ingest_gc(s, 0, &removed, &err));
    ASSERT_EQ_INT(removed, 2);
    ASSERT_NE_INT(access(orphan, F_OK), 0);
    ASSERT_EQ_INT(count_files(s), 2);

    /* Unknown collection, no access: HH_ENOENT before any file is read. */
    ASSERT_EQ_INT(hh_ingest_paths(s, paths, 1, "nope", 0, NULL, NULL, NULL, &t, &err), HH_ENOENT);
    hh_store_user_t u;
    ASSERT_OK(hh_store_user_ensure(s, "mallory", "member", &u, NULL, &err));
    ASSERT_EQ_INT(hh_ingest_paths(s, paths, 1, "handbook", u.id, NULL, NULL, NULL, &t, &err), HH_ENOENT);
    ASSERT_EQ_INT(t.files, 0);
    hh_store_close(s);
}

TEST(ingest_with_embedder_stores_vectors)
{
    const char *model = hh_test_data_path("reference/bert-q8_0.gguf");
    if (access(model, R_OK) != 0) {
        hh_test_fail(__FILE__, __LINE__, "missing test model %s", model);
        return;
    }
    char root[512], docs[600], data[600];
    snprintf(root, sizeof root, "%s/ingest-embed", hh_test_tmpdir());
    snprintf(docs, sizeof docs, "%s/docs", root);
    snprintf(data, sizeof data, "%s/data", root);
    mkdir(root, 0700);
    mkdir(docs, 0700);
    write_file(docs, "policy.md",
               "# Policy\n\nEmployees book hotels through the travel desk. Receipts are kept for ten years.\n\n"
               "## Cars\n\nRental cars need approval from the department head before the trip starts.\n");
    hh_store_t *s = NULL;
    hh_err_t err;
    ASSERT_OK(hh_store_open(&s, data, &err));
    ASSERT_OK(hh_store_collection_ensure(s, "pol", NULL, 0, NULL, &err));
    hh_ingest_embedder_t *e = NULL;
    ASSERT_OK(hh_ingest_embedder_open(&e, model, 1, &err));
    hh_ingest_params_t p = hh_ingest_default_params();
    p.embedder = e;
    const char *paths[] = { docs };
    hh_ingest_totals_t t;
    ASSERT_OK(hh_ingest_paths(s, paths, 1, "pol", 0, &p, NULL, NULL, &t, &err));
    ASSERT_EQ_INT(t.added, 1);
    ASSERT_EQ_INT(t.chunks, 2);   /* one per heading section */
    ASSERT_EQ_INT(q_int(s, "SELECT COUNT(*) FROM chunk_vectors"), 2);
    ASSERT_EQ_INT(q_int(s, "SELECT MIN(dim) FROM chunk_vectors"), hh_ingest_embedder_dim(e));
    ASSERT_EQ_INT(q_int(s, "SELECT COUNT(*) FROM chunk_vectors WHERE model = 'bert-q8_0.gguf'"), 2);
    /* Stored vectors are the embedder's L2-normalized output. */
    sqlite3_stmt *st = NULL;
    ASSERT_EQ_INT(sqlite3_prepare_v2(s->db, "SELECT vec FROM chunk_vectors", -1, &st, NULL), SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW) {
        const float *v = sqlite3_column_blob(st, 0);
        int n = sqlite3_column_bytes(st, 0) / 4;
        double ss = 0;
        for (int i = 0; i < n; i++)
            ss += (double)v[i] * v[i];
        if (fabs(ss - 1.0) > 1e-3) {
            hh_test_fail(__FILE__, __LINE__, "vector norm^2: expected 1, got %g", ss);
            break;
        }
    }
    sqlite3_finalize(st);
    /* Token counts are WordPiece counts: more than the word estimate's floor. */
    ASSERT_GE(q_int(s, "SELECT MIN(n_tokens) FROM chunks"), 10);
    hh_ingest_embedder_free(e);
    hh_store_close(s);
}
