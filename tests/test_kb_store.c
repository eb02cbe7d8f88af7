/* test_kb_store.c - the knowledge-base tables of the store: departments,
 * collections and the access rule, document replace/delete with chunks,
 * FTS rows and vectors in one transaction. */
#include "harness.h"
#include "govern/pii.h"
#include "kb/retrieve.h"
#include "store/store_int.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
        { "Hotels must be booked through the travel desk.", "Handbook › Travel › Hotels", 12, 9, v0, NULL, NULL, 0 },
        { "Trains: second class for trips under four hours.", "Handbook › Travel › Trains", 13, 9, v1, NULL, NULL, 0 },
    };
    hh_store_doc_in_t in = { c.id, "Handbook", "/docs/handbook.pdf", "application/pdf", SHA_A, 1234, u.id,
                             ch, 2, "bge-small", 3, NULL };
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
    hh_store_chunk_in_t ch2[1] = { { "Hostels are fine for interns.", "Handbook › Travel", 1, 6, NULL, NULL, NULL, 0 } };
    hh_store_doc_in_t in2 = { c.id, "Handbook v2", "/docs/handbook.pdf", "application/pdf", SHA_B, 99, u.id,
                              ch2, 1, NULL, 0, NULL };
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
    hh_store_chunk_in_t bad[1] = { { NULL, NULL, 0, 0, NULL, NULL, NULL, 0 } };
    hh_store_doc_in_t in3 = in2;
    in3.chunks = bad;
    in3.sha256 = SHA_A;
    ASSERT_EQ_INT(hh_store_doc_replace(s, &in3, NULL, NULL, &err), HH_EINVAL);
    in3 = in2;
    in3.collection_id = 424242; /* foreign key fails inside the transaction */
    ASSERT_EQ_INT(hh_store_doc_replace(s, &in3, NULL, NULL, &err), HH_EIO);
    ASSERT_EQ_INT(q_int(s, "SELECT COUNT(*) FROM chunks", NULL), 1);

    /* Listing follows the access rule. */
    hh_store_doc_in_t in4 = { other.id, "Salaries", "/hr/salaries.txt", "text/plain", SHA_A, 5, 0, ch2, 1, NULL, 0, NULL };
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

/* Issue 12: document and chunk ids are random in [1, 2^52), not a counter
 * (store_int.h): distinct, in range, not in insertion order, about half of
 * them in the upper half of the range; chunks keep document order by ord;
 * the vector index's tag (a sum of chunk ids) does not overflow. */
TEST(kb_store_ids_random)
{
    hh_store_t *s = open_fresh("ids");
    ASSERT_TRUE(s != NULL);
    hh_err_t err;
    hh_store_collection_t c;
    ASSERT_OK(hh_store_collection_ensure(s, "eng", NULL, 0, &c, &err));
    enum { N = 64 };
    hh_store_chunk_in_t ch[N];
    char text[N][32];
    float vec[N][2];
    for (int i = 0; i < N; i++) {
        snprintf(text[i], sizeof text[i], "chunk number %d", i);
        vec[i][0] = 1.0f;
        vec[i][1] = (float)i;
        ch[i] = (hh_store_chunk_in_t){ text[i], "", 0, 3, vec[i], NULL, NULL, 0 };
    }
    hh_store_doc_in_t in = { c.id, "Big", "/big.md", "text/markdown", SHA_A, 10, 0, ch, N, "m", 2, NULL };
    int64_t doc = 0, doc2 = 0;
    ASSERT_OK(hh_store_doc_replace(s, &in, &doc, NULL, &err));
    in.source_path = "/big2.md";
    in.n_chunks = 1;
    ASSERT_OK(hh_store_doc_replace(s, &in, &doc2, NULL, &err));
    ASSERT_TRUE(doc >= 1 && doc < HH_STORE_ID_LIMIT && doc2 >= 1 && doc2 < HH_STORE_ID_LIMIT);
    ASSERT_NE_INT(doc, doc2);
    int64_t *ids = NULL;
    size_t n = 0;
    ASSERT_OK(hh_kb_doc_chunk_ids(s, doc, &ids, &n, &err));
    ASSERT_EQ_INT(n, N);
    int upper = 0, ascending = 0;
    for (size_t i = 0; i < n; i++) {
        hh_store_chunk_t sc;
        ASSERT_OK(hh_store_chunk_get(s, ids[i], &sc, &err));
        int ord = sc.ord;
        hh_store_chunk_clear(&sc);
        ASSERT_EQ_INT(ord, i);   /* document order, not id order */
        ASSERT_TRUE(ids[i] >= 1 && ids[i] < HH_STORE_ID_LIMIT);
        upper += ids[i] >= HH_STORE_ID_LIMIT / 2;
        ascending += i > 0 && ids[i] > ids[i - 1];
        for (size_t k = 0; k < i; k++)
            ASSERT_NE_INT(ids[k], ids[i]);
    }
    free(ids);
    printf("    %d chunk ids: %d in the upper half, %d pairs ascending in insertion order\n", N, upper, ascending);
    /* a counter: all 63 pairs ascending, none in the upper half; random:
     * both near half (outside these bounds with probability < 1e-6) */
    ASSERT_TRUE(upper >= 12 && upper <= 52);
    ASSERT_TRUE(ascending >= 12 && ascending <= 51);
    uint64_t tag = 0;
    size_t nv = 0;
    ASSERT_OK(hh_kb_vectors_tag(s, "m", &tag, &nv, &err));
    ASSERT_EQ_INT(nv, N + 1);
    hh_store_close(s);
}

typedef struct draws {
    const int64_t *v;
    size_t         n, used;
} draws_t;

static int64_t next_draw(void *ctx)
{
    draws_t *d = ctx;
    return d->used < d->n ? d->v[d->used++] : 5;
}

/* The id helper draws again on a taken id (and on a draw out of range),
 * gives up after 8 taken ids, and never retries a conflict of another
 * column. */
TEST(kb_store_new_id_retry)
{
    hh_store_t *s = open_fresh("idretry");
    ASSERT_TRUE(s != NULL);
    hh_err_t err;
    hh_err_clear(&err);
    ASSERT_EQ_INT(sqlite3_exec(s->db, "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE)", NULL, NULL, NULL),
                  SQLITE_OK);
    sqlite3_stmt *st = NULL;
    ASSERT_EQ_INT(sqlite3_prepare_v2(s->db, "INSERT INTO t (id, name) VALUES (?1, ?2)", -1, &st, NULL), SQLITE_OK);
    static const int64_t script[] = { 5, 5, 0, HH_STORE_ID_LIMIT, 7, 9 };
    draws_t d = { script, sizeof script / sizeof script[0], 0 };
    int64_t id = 0;
    sqlite3_bind_text(st, 2, "a", -1, SQLITE_STATIC);
    int rc1 = hh_store_insert_id_drawn(s, st, 1, next_draw, &d, "insert t", &id, &err);
    int64_t id1 = id, used1 = (int64_t)d.used;
    sqlite3_bind_text(st, 2, "b", -1, SQLITE_STATIC);
    int rc2 = hh_store_insert_id_drawn(s, st, 1, next_draw, &d, "insert t", &id, &err);
    int64_t id2 = id, used2 = (int64_t)d.used;
    /* "a" again: a UNIQUE conflict of name, not of the id - no retry */
    sqlite3_bind_text(st, 2, "a", -1, SQLITE_STATIC);
    int rc3 = hh_store_insert_id_drawn(s, st, 1, next_draw, &d, "insert t", &id, &err);
    int code3 = sqlite3_errcode(s->db), used3 = (int)d.used;
    char msg3[sizeof err.msg];
    snprintf(msg3, sizeof msg3, "%s", err.msg);
    /* every draw taken (the script is spent: 5 from now on) */
    sqlite3_bind_text(st, 2, "c", -1, SQLITE_STATIC);
    int rc4 = hh_store_insert_id_drawn(s, st, 1, next_draw, &d, "insert t", &id, &err);
    sqlite3_finalize(st);
    long long rows = q_int(s, "SELECT count(*) FROM t", NULL);
    ASSERT_OK(rc1);
    ASSERT_EQ_INT(id1, 5);
    ASSERT_EQ_INT(used1, 1);
    ASSERT_OK(rc2);
    ASSERT_EQ_INT(id2, 7);     /* 5 taken, 0 and 2^53 out of range */
    ASSERT_EQ_INT(used2, 5);
    ASSERT_EQ_INT(rc3, HH_EIO);
    ASSERT_EQ_INT(code3, SQLITE_CONSTRAINT);
    ASSERT_EQ_INT(used3, 6);   /* one draw (9), no retry */
    ASSERT_TRUE(strstr(msg3, "insert t") != NULL);
    ASSERT_EQ_INT(rc4, HH_EIO);
    ASSERT_TRUE(strstr(err.msg, "no free id") != NULL);
    ASSERT_EQ_INT(rows, 2);
    /* and the CSPRNG one: fresh ids in range */
    ASSERT_EQ_INT(sqlite3_prepare_v2(s->db, "INSERT INTO t (id, name) VALUES (?1, ?2)", -1, &st, NULL), SQLITE_OK);
    sqlite3_bind_text(st, 2, "d", -1, SQLITE_STATIC);
    int rc5 = hh_store_insert_new_id(s, st, 1, "insert t", &id, &err);
    sqlite3_finalize(st);
    ASSERT_OK(rc5);
    ASSERT_TRUE(id >= 1 && id < HH_STORE_ID_LIMIT);
    ASSERT_EQ_INT(q_int(s, "SELECT id FROM t WHERE name = ?", "d"), id);
    hh_store_close(s);
}

/* Every id below HH_STORE_ID_LIMIT leaves as JSON (cJSON, as the HTTP
 * responses and audit records write it) and comes back unchanged; at 2^52
 * and above cJSON's printing can change the last digit (store_int.h). */
TEST(kb_store_ids_survive_json)
{
    const int64_t top = HH_STORE_ID_LIMIT - 1;
    const int64_t ids[] = { 1, 999999999999999, 1000000000000001, top / 2 + 1, top - 4, top - 1, top };
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        cJSON *o = cJSON_CreateObject();
        ASSERT_TRUE(o && cJSON_AddNumberToObject(o, "id", (double)ids[i]));
        char *txt = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        ASSERT_TRUE(txt != NULL);
        char want[64];
        snprintf(want, sizeof want, "{\"id\":%lld}", (long long)ids[i]);
        int same = strcmp(txt, want) == 0;
        if (!same)
            printf("    %s printed as %s\n", want, txt);
        cJSON *back = cJSON_Parse(txt);
        cJSON_free(txt);
        ASSERT_TRUE(back != NULL);
        int64_t got = (int64_t)cJSON_GetObjectItemCaseSensitive(back, "id")->valuedouble;
        cJSON_Delete(back);
        ASSERT_TRUE(same);
        ASSERT_EQ_INT(got, ids[i]);
    }
}

/* An id is text in audit details ("approval 4083145130"), which a use
 * case's PII redaction reads: no id may look like personal data to it.
 * With ids up to 2^52 (16 digits) about one in ten passed the Luhn check
 * and was redacted as a card number (tests/test_approvals.c found it);
 * 11 digits can be a German tax id. 3000 fresh ids and the largest. */
TEST(kb_store_ids_are_no_personal_data)
{
    hh_store_t *s = open_fresh("ids-pii");
    ASSERT_TRUE(s != NULL);
    hh_err_t err;
    hh_err_clear(&err);
    ASSERT_EQ_INT(sqlite3_exec(s->db, "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)", NULL, NULL, NULL),
                  SQLITE_OK);
    sqlite3_stmt *st = NULL;
    ASSERT_EQ_INT(sqlite3_prepare_v2(s->db, "INSERT INTO t (id, name) VALUES (?1, 'x')", -1, &st, NULL), SQLITE_OK);
    hh_pii_config_t cfg;
    hh_pii_default_config(&cfg);
    int flagged = 0;
    for (int i = 0; i <= 3000; i++) {
        int64_t id = HH_STORE_ID_LIMIT - 1;
        if (i < 3000)
            ASSERT_OK(hh_store_insert_new_id(s, st, 1, "insert t", &id, &err));
        char text[128];
        int len = snprintf(text, sizeof text, "approval %lld requested by mia; documents delete %lld", (long long)id,
                           (long long)id);
        hh_pii_span_t *spans = NULL;
        size_t n = 0;
        ASSERT_OK(hh_pii_find(text, (size_t)len, &cfg, &spans, &n));
        if (n && flagged++ < 3)
            printf("    taken for %s: %s\n", hh_pii_kind_name(spans[0].kind), text);
        free(spans);
    }
    sqlite3_finalize(st);
    hh_store_close(s);
    ASSERT_EQ_INT(flagged, 0);
}
