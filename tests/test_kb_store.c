/* test_kb_store.c - the knowledge-base tables of the store: departments,
 * collections and the access rule, document replace/delete with chunks,
 * FTS rows and vectors in one transaction. */
#include "harness.h"
#include "store/store_int.h"

#include <stdio.h>
#include <stdlib.h>

static hh_store_t *open_fresh(const char *name)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/kbstore-%s", hh_test_tmpdir(), name);
    hh_store_t *s = NULL;
    hh_err_t err;
    if (hh_store_open(&s, dir, &err) != 0)
        return NULL;
    return s;
}

static long long q_int(hh_store_t *s, const char *sql, const char *arg)
{
    sqlite3_stmt *st = NULL;
    long long v = -1;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) == SQLITE_OK) {
        if (arg)
            sqlite3_bind_text(st, 1, arg, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(st) == SQLITE_ROW)
            v = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    return v;
}

static const char SHA_A[] = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
static const char SHA_B[] = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

TEST(kb_store_access_rule)
{
    hh_store_t *s = open_fresh("acl");
    ASSERT_TRUE(s != NULL);
    hh_err_t err;
    hh_store_user_t admin, hr, eng, eng_aud;
    ASSERT_OK(hh_store_user_ensure(s, "root", "admin", &admin, NULL, &err));
    ASSERT_OK(hh_store_user_ensure(s, "hanna", "member", &hr, NULL, &err));
    ASSERT_OK(hh_store_user_ensure(s, "erik", "member", &eng, NULL, &err));
    ASSERT_OK(hh_store_user_ensure(s, "audrey", "auditor", &eng_aud, NULL, &err));
    ASSERT_OK(hh_store_user_add_department(s, "hanna", "HR", &err));
    ASSERT_OK(hh_store_user_add_department(s, "erik", "Engineering", &err));
    ASSERT_OK(hh_store_user_add_department(s, "erik", "Engineering", &err)); /* idempotent */
    ASSERT_OK(hh_store_user_add_department(s, "audrey", "Engineering", &err));
    ASSERT_EQ_INT(hh_store_user_add_department(s, "nobody", "HR", &err), HH_ENOENT);

    const char *hr_d[] = { "HR" }, *both[] = { "HR", "Engineering" };
    hh_store_collection_t c_hr, c_eng, c_shared, c_none;
    ASSERT_OK(hh_store_collection_ensure(s, "hr-files", hr_d, 1, &c_hr, &err));
    ASSERT_OK(hh_store_collection_ensure(s, "eng-docs", both + 1, 1, &c_eng, &err));
    ASSERT_OK(hh_store_collection_ensure(s, "handbook", both, 2, &c_shared, &err));
    ASSERT_OK(hh_store_collection_ensure(s, "orphan", NULL, 0, &c_none, &err));
    ASSERT_STREQ(c_shared.departments, "Engineering,HR");
    /* ensure again: same id, owners kept */
    hh_store_collection_t again;
    ASSERT_OK(hh_store_collection_ensure(s, "hr-files", NULL, 0, &again, &err));
    ASSERT_EQ_INT(again.id, c_hr.id);
    ASSERT_STREQ(again.departments, "HR");

    struct { int64_t user; int64_t coll; bool want; } cases[] = {
        { admin.id, c_hr.id, true },     { admin.id, c_none.id, true },
        { hr.id, c_hr.id, true },        { hr.id, c_eng.id, false },   { hr.id, c_shared.id, true },
        { eng.id, c_hr.id, false },      { eng.id, c_eng.id, true },   { eng.id, c_shared.id, true },
        { eng.id, c_none.id, false },    { eng_aud.id, c_hr.id, false }, { eng_aud.id, c_eng.id, true },
        { 9999, c_shared.id, false },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bool ok = !cases[i].want;
        ASSERT_OK(hh_store_user_can_read(s, cases[i].user, cases[i].coll, &ok, &err));
        if (ok != cases[i].want) {
            hh_test_fail(__FILE__, __LINE__, "case %zu: user %lld coll %lld: expected %d, got %d", i,
                         (long long)cases[i].user, (long long)cases[i].coll, cases[i].want, ok);
            return;
        }
    }
    int64_t *ids = NULL;
    size_t n = 0;
    ASSERT_OK(hh_store_readable_collections(s, hr.id, &ids, &n, &err));
    ASSERT_EQ_INT(n, 2);
    ASSERT_EQ_INT(ids[0], c_hr.id);
    ASSERT_EQ_INT(ids[1], c_shared.id);
    free(ids);
    ASSERT_OK(hh_store_readable_collections(s, admin.id, &ids, &n, &err));
    ASSERT_EQ_INT(n, 4);
    free(ids);
    /* Leaving the department removes the access. */
    ASSERT_OK(hh_store_user_remove_department(s, "hanna", "HR", &err));
    ASSERT_EQ_INT(hh_store_user_remove_department(s, "hanna", "HR", &err), HH_ENOENT);
    bool ok = true;
    ASSERT_OK(hh_store_user_can_read(s, hr.id, c_hr.id, &ok, &err));
    ASSERT_FALSE(ok);
    hh_store_collection_t *cl = NULL;
    ASSERT_OK(hh_store_collection_list(s, eng.id, &cl, &n, &err));
    ASSERT_EQ_INT(n, 2);
    ASSERT_STREQ(cl[0].name, "eng-docs");
    ASSERT_STREQ(cl[1].name, "handbook");
    free(cl);
    ASSERT_EQ_INT(hh_store_collection_ensure(s, "", NULL, 0, NULL, &err), HH_EINVAL);
    hh_store_close(s);
}

TEST(kb_store_doc_replace_delete)
{
    hh_store_t *s = open_fresh("docs");
    ASSERT_TRUE(s != NULL);
    hh_err_t err;
    hh_store_user_t u;
    ASSERT_OK(hh_store_user_ensure(s, "erik", "member", &u, NULL, &err));
    ASSERT_OK(hh_store_user_add_department(s, "erik", "Eng", &err));
    const char *d[] = { "Eng" };
    hh_store_collection_t c, other;
    ASSERT_OK(hh_store_collection_ensure(s, "eng", d, 1, &c, &err));
    ASSERT_OK(hh_store_collection_ensure(s, "secret", NULL, 0, &other, &err));

    float v0[3] = { 1, 0, 0 }, v1[3] = { 0, 1, 0 };
    hh_store_chunk_in_t ch[2] = {
        { "Hotels must be booked through the travel desk.", "Handbook › Travel › Hotels", 12, 9, v0 },
        { "Trains: second class for trips under four hours.", "Handbook › Travel › Trains", 13, 9, v1 },
    };
    hh_store_doc_in_t in = { c.id, "Handbook", "/docs/handbook.pdf", "application/pdf", SHA_A, 1234, u.id,
                             ch, 2, "bge-small", 3 };
    int64_t id1 = 0;
    char old[HH_SHA256_HEX_LEN + 1] = "x";
    ASSERT_OK(hh_store_doc_replace(s, &in, &id1, old, &err));
    ASSERT_STREQ(old, "");
    ASSERT_EQ_INT(q_int(s, "SELECT COUNT(*) FROM chunks_fts WHERE chunks_fts MATCH ?", "hotels"), 1);
    /* remove_diacritics 2 + unicode61: case and accents folded */
    ASSERT_EQ_INT(q_int(s, "SELECT COUNT(*) FROM chunks_fts WHERE chunks_fts MATCH ?", "HÔTELS"), 1);
    ASSERT_EQ_INT(q_int(s, "SELECT COUNT(*) FROM chunk_vectors", NULL), 2);

    hh_store_doc_t doc;
    ASSERT_OK(hh_store_doc_find_by_hash(s, c.id, SHA_A, &doc, &err));
    ASSERT_EQ_INT(doc.id, id1);
    ASSERT_EQ_INT(doc.n_chunks, 2);
    ASSERT_STREQ(doc.ingested_by, "erik");
    ASSERT_STREQ(doc.collection, "eng");
    ASSERT_EQ_INT(hh_store_doc_find_by_hash(s, other.id, SHA_A, &doc, &err), HH_ENOENT);

    hh_store_chunk_t sc;
    int64_t cid = q_int(s, "SELECT id FROM chunks WHERE ord = 1", NULL);
    ASSERT_OK(hh_store_chunk_get(s, cid, &sc, &err));
    ASSERT_STREQ(sc.heading_path, "Handbook › Travel › Trains");
    ASSERT_EQ_INT(sc.page, 13);
    ASSERT_EQ_INT(sc.document_id, id1);
    ASSERT_STREQ(sc.source_path, "/docs/handbook.pdf");
    hh_store_chunk_clear(&sc);

    /* Same path, new content: one new document, old chunks gone from FTS. */
    hh_store_chunk_in_t ch2[1] = { { "Hostels are fine for interns.", "Handbook › Travel", 1, 6, NULL } };
    hh_store_doc_in_t in2 = { c.id, "Handbook v2", "/docs/handbook.pdf", "application/pdf", SHA_B, 99, u.id,
                              ch2, 1, NULL, 0 };
    int64_t id2 = 0;
    ASSERT_OK(hh_store_doc_replace(s, &in2, &id2, old, &err));
    ASSERT_STREQ(old, SHA_A);
    ASSERT_NE_INT(id2, id1);
    ASSERT_EQ_INT(q_int(s, "SELECT COUNT(*) FROM documents", NULL), 1);
    ASSERT_EQ_INT(q_int(s, "SELECT COUNT(*) FROM chunks", NULL), 1);
    ASSERT_EQ_INT(q_int(s, "SELECT COUNT(*) FROM chunks_fts WHERE chunks_fts MATCH ?", "hotels"), 0);
    ASSERT_EQ_INT(q_int(s, "SELECT COUNT(*) FROM chunks_fts WHERE chunks_fts MATCH ?", "hostels"), 1);
    ASSERT_EQ_INT(q_int(s, "SELECT COUNT(*) FROM chunk_vectors", NULL), 0);
    bool used = false;
    ASSERT_OK(hh_store_sha_in_use(s, SHA_A, &used, &err));
    ASSERT_FALSE(used);

    /* A failing insert (chunk without text) leaves the old document intact. */
    hh_store_chunk_in_t bad[1] = { { NULL, NULL, 0, 0, NULL } };
    hh_store_doc_in_t in3 = in2;
    in3.chunks = bad;
    in3.sha256 = SHA_A;
    ASSERT_EQ_INT(hh_store_doc_replace(s, &in3, NULL, NULL, &err), HH_EINVAL);
    in3 = in2;
    in3.collection_id = 424242; /* foreign key fails inside the transaction */
    ASSERT_EQ_INT(hh_store_doc_replace(s, &in3, NULL, NULL, &err), HH_EIO);
    ASSERT_EQ_INT(q_int(s, "SELECT COUNT(*) FROM chunks", NULL), 1);

    /* Listing follows the access rule. */
    hh_store_doc_in_t in4 = { other.id, "Salaries", "/hr/salaries.txt", "text/plain", SHA_A, 5, 0, ch2, 1, NULL, 0 };
    ASSERT_OK(hh_store_doc_replace(s, &in4, NULL, NULL, &err));
    hh_store_doc_t *list = NULL;
    size_t n = 0;
    ASSERT_OK(hh_store_doc_list(s, u.id, 0, &list, &n, &err));
    ASSERT_EQ_INT(n, 1);
    ASSERT_STREQ(list[0].title, "Handbook v2");
    free(list);
    ASSERT_OK(hh_store_doc_list(s, 0, 0, &list, &n, &err));
    ASSERT_EQ_INT(n, 2);
    free(list);

    char sha[HH_SHA256_HEX_LEN + 1];
    ASSERT_OK(hh_store_doc_delete(s, id2, sha, &err));
    ASSERT_STREQ(sha, SHA_B);
    ASSERT_EQ_INT(hh_store_doc_delete(s, id2, sha, &err), HH_ENOENT);
    ASSERT_EQ_INT(q_int(s, "SELECT COUNT(*) FROM chunks_fts WHERE chunks_fts MATCH ?", "hostels"), 1); /* in4 */
    char **shas = NULL;
    size_t ns = 0;
    ASSERT_OK(hh_store_collection_delete(s, other.id, &shas, &ns, &err));
    ASSERT_EQ_INT(ns, 1);
    ASSERT_STREQ(shas[0], SHA_A);
    hh_store_strings_free(shas, ns);
    ASSERT_EQ_INT(q_int(s, "SELECT COUNT(*) FROM chunks", NULL), 0);
    ASSERT_EQ_INT(q_int(s, "SELECT COUNT(*) FROM chunks_fts WHERE chunks_fts MATCH ?", "hostels"), 0);
    /* The external-content index agrees with its table. */
    ASSERT_EQ_INT(sqlite3_exec(s->db, "INSERT INTO chunks_fts(chunks_fts) VALUES ('integrity-check')", NULL, NULL,
                               NULL), SQLITE_OK);
    ASSERT_EQ_INT(hh_store_doc_find_by_hash(s, c.id, "XYZ", &doc, &err), HH_EINVAL);
    hh_store_close(s);
}
