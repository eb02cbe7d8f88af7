/* test_gdpr.c - data-subject export and erasure (no string of the subject
 * left anywhere in the data dir, search finds nothing, the audit chain
 * still verifies), pseudonyms, collection TTLs, the retention sweep (per
 * collection and per use case) and the CLI. */
#include "harness.h"
#include "kb_fill.h"
#include "http_helpers.h"
#include "govern/audit.h"
#include "govern/gdpr.h"
#include "govern/register.h"
#include "kb/ingest.h"
#include "kb/retrieve.h"
#include "store/store_int.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define EMAIL "erika.mustermann@example.com"
#define NAME  "Erika Mustermann"

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

static long long q_int(hh_store_t *s, const char *sql, const char *arg)
{
    sqlite3_stmt *st = NULL;
    long long v = -1;
    pthread_mutex_lock(&s->mu);
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) == SQLITE_OK) {
        if (arg)
            sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW)
            v = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    return v;
}

/* Occurrences of needle in the bytes of every file below dir; *n_files
 * counts the files read. */
static long count_in_tree(const char *dir, const char *needle, int *n_files)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    long hits = 0;
    struct dirent *e;
    size_t nl = strlen(needle);
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char p[2048];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat sb;
        if (lstat(p, &sb) != 0)
            continue;
        if (S_ISDIR(sb.st_mode)) {
            long h = count_in_tree(p, needle, n_files);
            hits += h > 0 ? h : 0;
            continue;
        }
        size_t len = 0;
        char *buf = hh_test_read_file(p, &len);
        (*n_files)++;
        for (size_t i = 0; buf && len >= nl && i + nl <= len; i++)
            if (!memcmp(buf + i, needle, nl))
                hits++;
        free(buf);
    }
    closedir(d);
    return hits;
}

static size_t bm25_hits(hh_store_t *st, const char *text)
{
    hh_kb_query_t q = { .user = "boss", .text = text, .k = 10 };
    hh_kb_hit_t *hits = NULL;
    size_t n = 0;
    hh_err_t err;
    if (kb_retrieve_mode_filled(st, NULL, NULL, &q, HH_KB_BM25_ONLY, &hits, &n, &err) != 0)
        return (size_t)-1;
    hh_kb_hits_free(hits, n);
    return n;
}

TEST(gdpr_pseudonyms)
{
    char data[512];
    snprintf(data, sizeof data, "%s/gdpr-pseud", hh_test_tmpdir());
    hh_store_t *st = NULL;
    hh_err_t err;
    ASSERT_OK(hh_store_open(&st, data, &err));
    char a[HH_GDPR_PSEUDONYM_MAX], b[HH_GDPR_PSEUDONYM_MAX], c[HH_GDPR_PSEUDONYM_MAX];
    ASSERT_OK(hh_gdpr_pseudonym(st, EMAIL, a, sizeof a, &err));
    ASSERT_OK(hh_gdpr_pseudonym(st, EMAIL, b, sizeof b, &err));
    ASSERT_OK(hh_gdpr_pseudonym(st, NAME, c, sizeof c, &err));
    ASSERT_STREQ(a, b);
    ASSERT_TRUE(!strncmp(a, "[EMAIL:", 7) && a[strlen(a) - 1] == ']');
    ASSERT_TRUE(!strncmp(c, "[NAME:", 6) && c[strlen(c) - 1] == ']');
    ASSERT_TRUE(strstr(a, "erika") == NULL && strstr(c, "Erika") == NULL);
    ASSERT_EQ_INT(hh_gdpr_pseudonym(st, "", a, sizeof a, &err), HH_EINVAL);
    const char *none[1] = { "x" };
    cJSON *doc = NULL;
    ASSERT_EQ_INT(hh_gdpr_export(st, none, 1, NULL, &doc, &err), HH_EINVAL);
    hh_store_close(st);
}

TEST(gdpr_export_and_erase_leave_no_trace)
{
    char root[512], docs[600], data[600];
    snprintf(root, sizeof root, "%s/gdpr1", hh_test_tmpdir());
    snprintf(docs, sizeof docs, "%s/docs", root);
    snprintf(data, sizeof data, "%s/data", root);
    mkdir(root, 0700);
    mkdir(docs, 0700);
    write_file(docs, "contract.txt",
               "Arbeitsvertrag\n\nZwischen der Firma Beispiel GmbH und Frau " NAME ", erreichbar unter " EMAIL
               ", wird folgender Vertrag geschlossen. Die Probezeit betraegt sechs Monate.\n");
    write_file(docs, NAME " notes.txt",
               "Meeting notes\n\n" NAME " asked about the holiday plan. Reply to " EMAIL " by Friday.\n");
    write_file(docs, "other.txt", "Quarterly numbers\n\nRevenue grew by four percent; nobody is named here.\n");

    hh_store_t *st = NULL;
    hh_err_t err;
    ASSERT_OK(hh_store_open(&st, data, &err));
    hh_store_user_t u;
    ASSERT_OK(hh_store_user_ensure(st, "boss", "admin", &u, NULL, &err));
    ASSERT_OK(hh_store_user_ensure(st, EMAIL, "member", &u, NULL, &err));
    ASSERT_OK(hh_store_collection_ensure(st, "hr", NULL, 0, NULL, &err));
    const char *paths[1] = { docs };
    hh_ingest_params_t ip = hh_ingest_default_params();
    hh_ingest_totals_t tot;
    ASSERT_OK(hh_ingest_paths(st, paths, 1, "hr", 0, &ip, NULL, NULL, &tot, &err));
    ASSERT_EQ_INT(tot.added, 3);
    ASSERT_EQ_INT(tot.failed, 0);
    hh_audit_entry_t recs[4] = {
        { .kind = "request", .user = "boss", .prompt = "Wann endet die Probezeit von " NAME "?",
          .output = "Die Probezeit von " NAME " (" EMAIL ") endet nach sechs Monaten.", .decision = "released" },
        { .kind = "request", .user = "boss", .prompt = "Mail an " EMAIL " schreiben", .output = "Erledigt.",
          .decision = "released" },
        { .kind = "request", .user = "boss", .prompt = "Wer ist " NAME "?", .output = "Eine Mitarbeiterin.",
          .decision = "released", .hash_only = true },
        /* her address as the user name, her name in the detail (kept beside
         * the record as salted commitments since migration 8) */
        { .kind = "admin", .user = EMAIL, .decision = "done", .detail = "Zugang fuer " NAME " gesperrt" },
    };
    ASSERT_OK(hh_audit_append_batch(st, NULL, recs, 4, NULL, &err));
    /* a held answer in the approval queue mentions her too */
    pthread_mutex_lock(&st->mu);
    int ar = sqlite3_exec(st->db, "INSERT INTO approvals (use_case, requester, request, output, created_at, status) "
                                  "VALUES ('hr', 'boss', 'Zeugnis fuer " NAME "', 'Entwurf an " EMAIL "', 1, 'pending')",
                          NULL, NULL, NULL);
    pthread_mutex_unlock(&st->mu);
    ASSERT_EQ_INT(ar, SQLITE_OK);
    ASSERT_EQ_INT(bm25_hits(st, "Mustermann"), 2);

    /* export: every place, counted independently */
    const char *subjects[2] = { EMAIL, NAME };
    cJSON *doc = NULL;
    ASSERT_OK(hh_gdpr_export(st, subjects, 2, "boss", &doc, &err));
    long long chunk_hits = q_int(st, "SELECT count(*) FROM chunks WHERE instr(text, ?) > 0", EMAIL) +
                           q_int(st, "SELECT count(*) FROM chunks WHERE instr(text, ?) > 0", NAME);
    ASSERT_EQ_INT(chunk_hits, 4);
    ASSERT_EQ_INT(hh_test_count_hits(doc, "chunk.text", -1), chunk_hits);
    ASSERT_EQ_INT(hh_test_count_hits(doc, "file", -1), 4);              /* 2 files x 2 subjects */
    ASSERT_EQ_INT(hh_test_count_hits(doc, "document.source_path", -1), 1);
    ASSERT_EQ_INT(hh_test_count_hits(doc, "document.title", -1), q_int(st, "SELECT count(*) FROM documents WHERE instr(title, ?) > 0", NAME));
    ASSERT_EQ_INT(hh_test_count_hits(doc, "user", -1), 1);
    ASSERT_EQ_INT(hh_test_count_hits(doc, "audit.prompt", -1), 2);       /* the hash-only one has no text */
    ASSERT_EQ_INT(hh_test_count_hits(doc, "audit.output", -1), 2);
    ASSERT_EQ_INT(hh_test_count_hits(doc, "audit.user", -1), 1);
    ASSERT_EQ_INT(hh_test_count_hits(doc, "audit.detail", -1), 1);
    ASSERT_EQ_INT(hh_test_count_hits(doc, "audit.record", -1), 0);       /* the chain holds only commitments */
    ASSERT_EQ_INT(hh_test_count_hits(doc, "approval", -1), 2);          /* one row, both subjects */
    const cJSON *n_hits = cJSON_GetObjectItemCaseSensitive(doc, "n_hits");
    ASSERT_EQ_INT(n_hits->valueint, cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(doc, "hits")));
    const cJSON *h0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(doc, "hits"), 0);
    ASSERT_TRUE(strstr(cJSON_GetObjectItemCaseSensitive(h0, "context")->valuestring, EMAIL) != NULL);
    cJSON_Delete(doc);

    /* erasure */
    hh_gdpr_erase_result_t r;
    ASSERT_OK(hh_gdpr_erase(st, subjects, 2, "boss", &r, &err));
    ASSERT_EQ_INT(r.chunks, chunk_hits);
    ASSERT_EQ_INT(r.files, 2);
    ASSERT_EQ_INT(r.users, 1);
    ASSERT_EQ_INT(r.documents, 2);
    ASSERT_EQ_INT(r.audit_texts, 6);                           /* prompts/outputs 4, user 1, detail 1 */
    ASSERT_EQ_INT(r.audit_kept, 0);
    ASSERT_EQ_INT(r.approvals, 2);                             /* request and output */
    ASSERT_EQ_INT(q_int(st, "SELECT count(*) FROM documents WHERE erased_at IS NOT NULL", NULL), 2);
    char pn[HH_GDPR_PSEUDONYM_MAX];
    ASSERT_OK(hh_gdpr_pseudonym(st, NAME, pn, sizeof pn, &err));
    ASSERT_EQ_INT(q_int(st, "SELECT count(*) FROM chunks WHERE instr(text, ?) > 0", pn), 2);
    ASSERT_EQ_INT(q_int(st, "SELECT count(*) FROM audit_log WHERE instr(prompt, ?) > 0", pn), 1);
    char pe[HH_GDPR_PSEUDONYM_MAX];
    ASSERT_OK(hh_gdpr_pseudonym(st, EMAIL, pe, sizeof pe, &err));
    ASSERT_EQ_INT(q_int(st, "SELECT count(*) FROM audit_log WHERE user_name = ? AND user_salt IS NULL", pe), 1);
    ASSERT_EQ_INT(q_int(st, "SELECT count(*) FROM audit_log WHERE instr(detail, ?) > 0 AND detail_salt IS NULL", pn),
                  1);
    /* the erasure record (seq 6, after the export's 5) lists the rows it
     * pseudonymized, and they name it */
    ASSERT_EQ_INT(q_int(st, "SELECT count(*) FROM audit_log WHERE seq = 6 AND "
                            "instr(record, '\"erased_seqs\":[1,2,4]') > 0", NULL), 1);
    ASSERT_EQ_INT(q_int(st, "SELECT count(*) FROM audit_log WHERE erased_by = 6", NULL), 3);

    /* nothing left: every file of the data dir, the database, its WAL and
     * shm, the stored originals */
    const char *needles[4] = { EMAIL, NAME, "Mustermann", "mustermann" };
    for (int i = 0; i < 4; i++) {
        int n_files = 0;
        long c = count_in_tree(data, needles[i], &n_files);
        if (c != 0)
            hh_test_fail(__FILE__, __LINE__, "\"%s\" still found %ld times in %s", needles[i], c, data);
        ASSERT_EQ_INT(c, 0);
        ASSERT_GE(n_files, 3);
    }
    ASSERT_EQ_INT(bm25_hits(st, "Mustermann"), 0);
    ASSERT_EQ_INT(bm25_hits(st, "Probezeit"), 1);      /* the rest still searchable */
    hh_audit_verify_result_t vr;
    ASSERT_OK(hh_audit_verify_store(st, NULL, &vr, &err));
    if (!vr.ok)
        hh_test_fail(__FILE__, __LINE__, "audit verify: %s", vr.why);
    ASSERT_TRUE(vr.ok);
    ASSERT_EQ_INT(vr.n_records, 6);                     /* 4 + export + erasure */
    /* the exported log verifies too, with the erased texts marked */
    char *jl = NULL;
    size_t jlen = 0;
    FILE *mf = open_memstream(&jl, &jlen);
    ASSERT_TRUE(mf != NULL);
    int xr = hh_audit_export(st, 1, mf, &err);
    fclose(mf);
    ASSERT_OK(xr);
    unsigned char pk[HH_AUDIT_PK_LEN];
    ASSERT_OK(hh_audit_public_key(st, pk, &err));
    hh_audit_verify_jsonl(jl, jlen, pk, &vr);
    ASSERT_TRUE(vr.ok);
    ASSERT_TRUE(strstr(jl, "\"erased\":true") != NULL);
    ASSERT_TRUE(strstr(jl, "\"erased_by\":6") != NULL);
    ASSERT_TRUE(strstr(jl, EMAIL) == NULL);
    ASSERT_TRUE(strstr(jl, pn) != NULL);
    ASSERT_TRUE(strstr(jl, "Mustermann") == NULL);
    free(jl);
    ASSERT_EQ_INT(q_int(st, "SELECT count(*) FROM audit_log WHERE instr(record, '\"kind\":\"erasure\"') > 0", NULL), 1);
    hh_store_close(st);

    /* and after close (WAL checkpointed away) too */
    int n_files = 0;
    ASSERT_EQ_INT(count_in_tree(data, EMAIL, &n_files), 0);
    ASSERT_EQ_INT(count_in_tree(root, EMAIL, &n_files) > 0, 1);   /* the input files still hold it: the scan works */
}

TEST(gdpr_retention_sweep)
{
    char root[512], docs[600], data[600];
    snprintf(root, sizeof root, "%s/gdpr2", hh_test_tmpdir());
    snprintf(docs, sizeof docs, "%s/docs", root);
    snprintf(data, sizeof data, "%s/data", root);
    mkdir(root, 0700);
    mkdir(docs, 0700);
    write_file(docs, "old.txt", "Old memo\n\nThis memo about parking spaces is long expired.\n");
    write_file(docs, "new.txt", "New memo\n\nThis memo about the canteen menu is fresh.\n");
    hh_store_t *st = NULL;
    hh_err_t err;
    ASSERT_OK(hh_store_open(&st, data, &err));
    ASSERT_OK(hh_store_collection_ensure(st, "memos", NULL, 0, NULL, &err));
    ASSERT_OK(hh_store_collection_ensure(st, "keep", NULL, 0, NULL, &err));
    const char *paths[1] = { docs };
    hh_ingest_params_t ip = hh_ingest_default_params();
    hh_ingest_totals_t tot;
    ASSERT_OK(hh_ingest_paths(st, paths, 1, "memos", 0, &ip, NULL, NULL, &tot, &err));
    ASSERT_OK(hh_ingest_paths(st, paths, 1, "keep", 0, &ip, NULL, NULL, &tot, &err));
    ASSERT_EQ_INT(hh_gdpr_collection_retention(st, "nope", 30, &err), HH_ENOENT);
    ASSERT_EQ_INT(hh_gdpr_collection_retention(st, "memos", -1, &err), HH_EINVAL);
    ASSERT_OK(hh_gdpr_collection_retention(st, "memos", 30, &err));
    /* both old.txt were ingested 40 days ago; only memos has a TTL */
    pthread_mutex_lock(&st->mu);
    int sr = sqlite3_exec(st->db, "UPDATE documents SET ingested_at = ingested_at - 40 * 86400 "
                                  "WHERE source_path LIKE '%old.txt'", NULL, NULL, NULL);
    pthread_mutex_unlock(&st->mu);
    ASSERT_EQ_INT(sr, SQLITE_OK);
    char old_sha[65] = "";
    sqlite3_stmt *q = NULL;
    pthread_mutex_lock(&st->mu);
    if (sqlite3_prepare_v2(st->db, "SELECT sha256 FROM documents WHERE source_path LIKE '%old.txt' LIMIT 1", -1, &q,
                           NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
        snprintf(old_sha, sizeof old_sha, "%s", (const char *)sqlite3_column_text(q, 0));
    sqlite3_finalize(q);
    pthread_mutex_unlock(&st->mu);
    ASSERT_EQ_INT(strlen(old_sha), 64);
    ASSERT_EQ_INT(q_int(st, "SELECT count(*) FROM documents", NULL), 4);

    hh_gdpr_sweep_result_t r;
    ASSERT_OK(hh_gdpr_retention_sweep(st, 0, NULL, &r, &err));
    ASSERT_EQ_INT(r.documents, 1);
    ASSERT_EQ_INT(q_int(st, "SELECT count(*) FROM documents", NULL), 3);
    ASSERT_EQ_INT(q_int(st, "SELECT count(*) FROM documents d JOIN collections c ON c.id = d.collection_id "
                            "WHERE c.name = 'memos' AND d.source_path LIKE '%new.txt'", NULL), 1);
    ASSERT_EQ_INT(q_int(st, "SELECT count(*) FROM documents d JOIN collections c ON c.id = d.collection_id "
                            "WHERE c.name = 'keep' AND d.source_path LIKE '%old.txt'", NULL), 1);
    /* the stored file is still referenced by keep's copy */
    char fp[2048];
    ASSERT_OK(hh_ingest_file_path(st, old_sha, fp, sizeof fp, &err));
    ASSERT_EQ_INT(access(fp, R_OK), 0);
    /* a second sweep finds nothing; the deletion was audited */
    ASSERT_OK(hh_gdpr_retention_sweep(st, 0, NULL, &r, &err));
    ASSERT_EQ_INT(r.documents, 0);
    ASSERT_EQ_INT(q_int(st, "SELECT count(*) FROM audit_log WHERE instr(record, '\"kind\":\"retention\"') > 0", NULL), 1);
    /* at a later "now" the memos TTL catches new.txt too */
    ASSERT_OK(hh_gdpr_retention_sweep(st, (int64_t)time(NULL) + 31 * 86400, NULL, &r, &err));
    ASSERT_EQ_INT(r.documents, 1);
    ASSERT_EQ_INT(q_int(st, "SELECT count(*) FROM documents d JOIN collections c ON c.id = d.collection_id "
                            "WHERE c.name = 'memos'", NULL), 0);
    hh_audit_verify_result_t vr;
    ASSERT_OK(hh_audit_verify_store(st, NULL, &vr, &err));
    ASSERT_TRUE(vr.ok);
    hh_store_close(st);
}

TEST(gdpr_retention_audit_per_use_case)
{
    char data[512];
    snprintf(data, sizeof data, "%s/gdpr3", hh_test_tmpdir());
    hh_store_t *st = NULL;
    hh_err_t err;
    ASSERT_OK(hh_store_open(&st, data, &err));
    int64_t now_ms = (int64_t)time(NULL) * 1000, day = 86400LL * 1000;
    int64_t ages[6] = { 400, 399, 398, 100, 99, 0 };   /* days, oldest first as a chain is */
    hh_audit_entry_t es[6];
    for (int i = 0; i < 6; i++)
        es[i] = (hh_audit_entry_t){ .kind = "request", .user = "u", .time_ms = now_ms - ages[i] * day + 1000,
                                    .decision = "released" };
    ASSERT_OK(hh_audit_append_batch(st, NULL, es, 6, NULL, &err));
    /* no use case registered: nothing expires */
    hh_gdpr_sweep_result_t r;
    ASSERT_OK(hh_gdpr_retention_sweep(st, 0, NULL, &r, &err));
    ASSERT_EQ_INT(r.audit_records, 0);
    ASSERT_EQ_INT(r.documents, 0);
    /* a minimal (30 days) and a high-risk (183 days) use case: the chain is
     * cut at the longest retention, so the 100-day-old records stay */
    cJSON *faq = cJSON_Parse("{\"slug\":\"faq\",\"purpose\":\"answers\",\"answers\":{}}");
    cJSON *credit = cJSON_Parse("{\"slug\":\"credit\",\"purpose\":\"credit checks\","
                                "\"answers\":{\"h_essential_services\":true}}");
    ASSERT_OK(hh_register_create(st, faq, "admin", NULL, &err));
    ASSERT_OK(hh_register_create(st, credit, "admin", NULL, &err));
    cJSON_Delete(faq);
    cJSON_Delete(credit);
    ASSERT_OK(hh_gdpr_retention_sweep(st, 0, NULL, &r, &err));
    ASSERT_EQ_INT(r.audit_records, 3);
    ASSERT_EQ_INT(q_int(st, "SELECT min(seq) FROM audit_log", NULL), 4);
    hh_audit_verify_result_t vr;
    ASSERT_OK(hh_audit_verify_store(st, NULL, &vr, &err));
    ASSERT_TRUE(vr.ok);
    ASSERT_TRUE(vr.anchored);
    hh_store_close(st);
}

static int q_exec(hh_store_t *s, const char *sql)
{
    pthread_mutex_lock(&s->mu);
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* The kept audit prompt of seq (NULL when there is none), copied into buf. */
static const char *q_prompt(hh_store_t *s, int64_t seq, char *buf, size_t cap)
{
    sqlite3_stmt *st = NULL;
    const char *out = NULL;
    pthread_mutex_lock(&s->mu);
    if (sqlite3_prepare_v2(s->db, "SELECT prompt FROM audit_log WHERE seq = ?", -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, seq);
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_TEXT) {
            snprintf(buf, cap, "%s", (const char *)sqlite3_column_text(st, 0));
            out = buf;
        }
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    return out;
}

static long long q_seq_int(hh_store_t *s, const char *sql, int64_t seq)
{
    sqlite3_stmt *st = NULL;
    long long v = -1;
    pthread_mutex_lock(&s->mu);
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, seq);
        if (sqlite3_step(st) == SQLITE_ROW)
            v = sqlite3_column_type(st, 0) == SQLITE_NULL ? 0 : sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    return v;
}

static void make_use_case(hh_store_t *st, const char *json)
{
    hh_err_t err;
    cJSON *in = cJSON_Parse(json);
    ASSERT_TRUE(in != NULL);
    ASSERT_OK(hh_register_create(st, in, "admin", NULL, &err));
    cJSON_Delete(in);
}

/* Audit texts expire per use case (30-day minimal faq, 365-day limited
 * letters, 183-day high-risk credit never before six months by the real
 * clock), the chain still verifies, the texts are gone from the data dir;
 * decided approvals expire, pending ones stay. */
TEST(gdpr_retention_texts_and_approvals_per_use_case)
{
    char data[512];
    snprintf(data, sizeof data, "%s/gdpr-ret-uc", hh_test_tmpdir());
    hh_store_t *st = NULL;
    hh_err_t err;
    ASSERT_OK(hh_store_open(&st, data, &err));
    make_use_case(st, "{\"slug\":\"faq\",\"purpose\":\"answers\",\"answers\":{}}");
    make_use_case(st, "{\"slug\":\"letters\",\"purpose\":\"drafts letters\",\"answers\":"
                      "{\"t_generates_content\":true},\"policy\":{\"retention_days\":365}}");
    make_use_case(st, "{\"slug\":\"credit\",\"purpose\":\"credit checks\",\"answers\":{\"h_essential_services\":true}}");
    hh_reg_policy_t pol;
    ASSERT_OK(hh_register_policy_for(st, "faq", &pol, &err));
    ASSERT_EQ_INT(pol.risk, HH_RISK_MINIMAL);
    ASSERT_EQ_INT(pol.retention_days, 30);
    ASSERT_OK(hh_register_policy_for(st, "letters", &pol, &err));
    ASSERT_EQ_INT(pol.risk, HH_RISK_LIMITED);
    ASSERT_EQ_INT(pol.retention_days, 365);
    ASSERT_OK(hh_register_policy_for(st, "credit", &pol, &err));
    ASSERT_EQ_INT(pol.risk, HH_RISK_HIGH);

    int64_t now = (int64_t)time(NULL), day = 86400;
    /* seq 1..8, oldest first as a chain is; seq 5 names a subject erased below */
    static const struct { int age; const char *uc; } recs[8] = {
        { 400, "faq" }, { 200, "faq" }, { 200, "letters" }, { 100, "credit" },
        { 40, "faq" },  { 40, NULL },   { 10, "faq" },      { 10, "letters" },
    };
    char prompts[8][64], outputs[8][64], users[8][64], details[8][64];
    hh_audit_entry_t es[8];
    for (int i = 0; i < 8; i++) {
        snprintf(prompts[i], 64, "ZQXPROMPT%d%s", i + 1, i == 4 ? " about ZQXSUBJECT" : "");
        snprintf(outputs[i], 64, "ZQXOUTPUT%d", i + 1);
        snprintf(users[i], 64, "ZQXUSER%d", i + 1);
        snprintf(details[i], 64, "ZQXDETAIL%d", i + 1);
        es[i] = (hh_audit_entry_t){ .kind = "request", .time_ms = (now - recs[i].age * day) * 1000,
                                    .use_case = recs[i].uc, .user = users[i], .prompt = prompts[i],
                                    .output = outputs[i], .detail = details[i], .decision = "released" };
    }
    ASSERT_OK(hh_audit_append_batch(st, NULL, es, 8, NULL, &err));
    const char *subj[1] = { "ZQXSUBJECT" };
    ASSERT_OK(hh_gdpr_erase(st, subj, 1, "dpo", NULL, &err));   /* seq 9 covers seq 5 */
    ASSERT_EQ_INT(q_seq_int(st, "SELECT erased_by FROM audit_log WHERE seq = ?", 5), 9);
    /* approvals: decided long ago, pending, of another use case, recent, of a
     * use case no longer registered (the longest retention applies) */
    char sql[2048];
    snprintf(sql, sizeof sql,
             "INSERT INTO approvals (id, use_case, requester, request, output, created_at, status, decided_by, "
             "decided_at, final_text) VALUES "
             "(1, 'faq', 'bob', 'ZQXAPPROVAL1', 'out', %lld, 'approved', 'carol', %lld, 'ZQXAPPROVAL1'),"
             "(2, 'faq', 'bob', 'ZQXAPPROVAL2', 'out', %lld, 'pending', NULL, NULL, NULL),"
             "(3, 'letters', 'bob', 'ZQXAPPROVAL3', 'out', %lld, 'rejected', 'carol', %lld, NULL),"
             "(4, 'faq', 'bob', 'ZQXAPPROVAL4', 'out', %lld, 'edited', 'carol', %lld, 'ZQXAPPROVAL4'),"
             "(5, 'gone', 'bob', 'ZQXAPPROVAL5', 'out', %lld, 'rejected', 'carol', %lld, NULL)",
             (long long)(now - 41 * day) * 1000, (long long)(now - 40 * day) * 1000,
             (long long)(now - 400 * day) * 1000,
             (long long)(now - 41 * day) * 1000, (long long)(now - 40 * day) * 1000,
             (long long)(now - 11 * day) * 1000, (long long)(now - 10 * day) * 1000,
             (long long)(now - 401 * day) * 1000, (long long)(now - 400 * day) * 1000);
    ASSERT_EQ_INT(q_exec(st, sql), SQLITE_OK);

    hh_gdpr_sweep_result_t r;
    ASSERT_OK(hh_gdpr_retention_sweep(st, now, NULL, &r, &err));
    ASSERT_EQ_INT(r.documents, 0);
    ASSERT_EQ_INT(r.audit_records, 1);   /* seq 1: older than the longest retention (365) */
    ASSERT_EQ_INT(r.audit_texts, 2);     /* seq 2 and 5 (faq, older than 30 days) */
    ASSERT_EQ_INT(r.approvals, 2);       /* 1 and 5 */
    /* seq 10: the chain cut's record; 11: the text expiry's, 12: the approvals' */
    ASSERT_EQ_INT(q_int(st, "SELECT min(seq) FROM audit_log", NULL), 2);
    ASSERT_EQ_INT(q_int(st, "SELECT max(seq) FROM audit_log", NULL), 12);
    char buf[128];
    const char *p = q_prompt(st, 2, buf, sizeof buf);
    ASSERT_STREQ(p ? p : "(null)", HH_AUDIT_EXPIRED_TEXT);
    p = q_prompt(st, 5, buf, sizeof buf);
    ASSERT_STREQ(p ? p : "(null)", HH_AUDIT_EXPIRED_TEXT);
    for (int64_t seq = 2; seq <= 5; seq += 3) {
        ASSERT_EQ_INT(q_seq_int(st, "SELECT count(*) FROM audit_log WHERE seq = ? AND output = '[expired]' AND "
                                    "user_name = '[expired]' AND detail = '[expired]' AND user_salt IS NULL AND "
                                    "detail_salt IS NULL AND texts_erased = 1", seq), 1);
    }
    /* the fresh row names the retention record, which lists it; the erased
     * row keeps naming its erasure record */
    ASSERT_EQ_INT(q_seq_int(st, "SELECT erased_by FROM audit_log WHERE seq = ?", 2), 11);
    ASSERT_EQ_INT(q_seq_int(st, "SELECT erased_by FROM audit_log WHERE seq = ?", 5), 9);
    ASSERT_EQ_INT(q_int(st, "SELECT count(*) FROM audit_log WHERE seq = 11 AND instr(record, "
                            "'\"erased_seqs\":[2]') > 0 AND instr(record, '\"kind\":\"retention\"') > 0", NULL), 1);
    ASSERT_EQ_INT(q_int(st, "SELECT count(*) FROM audit_log WHERE seq = 12 AND instr(detail, ' 1 5 (2 in all)') > 0",
                        NULL), 1);
    /* the metadata stays in the chain */
    ASSERT_EQ_INT(q_int(st, "SELECT count(*) FROM audit_log WHERE seq = 2 AND instr(record, '\"use_case\":\"faq\"') > 0 "
                            "AND instr(record, '\"prompt_sha256\":\"') > 0", NULL), 1);
    /* the others keep their texts */
    static const int kept[5] = { 3, 4, 6, 7, 8 };
    for (int i = 0; i < 5; i++) {
        char want[32];
        snprintf(want, sizeof want, "ZQXPROMPT%d", kept[i]);
        p = q_prompt(st, kept[i], buf, sizeof buf);
        ASSERT_STREQ(p ? p : "(null)", want);
    }
    ASSERT_EQ_INT(q_int(st, "SELECT count(*) FROM approvals", NULL), 3);
    ASSERT_EQ_INT(q_int(st, "SELECT count(*) FROM approvals WHERE id IN (2, 3, 4)", NULL), 3);
    hh_audit_verify_result_t vr;
    ASSERT_OK(hh_audit_verify_store(st, NULL, &vr, &err));
    if (!vr.ok)
        printf("    bad %lld: %s\n", (long long)vr.bad_seq, vr.why);
    ASSERT_TRUE(vr.ok);
    ASSERT_TRUE(vr.anchored);
    /* no expired text remains anywhere in the data dir (free pages, WAL) */
    static const char *const gone[] = { "ZQXPROMPT2", "ZQXOUTPUT2", "ZQXUSER2", "ZQXDETAIL2", "ZQXPROMPT5",
                                        "ZQXOUTPUT5", "ZQXUSER5", "ZQXDETAIL5", "ZQXAPPROVAL1", "ZQXAPPROVAL5" };
    static const char *const stay[] = { "ZQXPROMPT3", "ZQXOUTPUT4", "ZQXUSER6", "ZQXDETAIL7", "ZQXAPPROVAL2",
                                        "ZQXAPPROVAL3" };
    int n_files = 0;
    for (size_t i = 0; i < sizeof gone / sizeof gone[0]; i++) {
        long hits = count_in_tree(data, gone[i], &n_files);
        if (hits != 0)
            printf("    %s still found\n", gone[i]);
        ASSERT_EQ_INT(hits, 0);
    }
    for (size_t i = 0; i < sizeof stay / sizeof stay[0]; i++)
        ASSERT_TRUE(count_in_tree(data, stay[i], &n_files) > 0);

    /* a second sweep at the same time finds nothing */
    ASSERT_OK(hh_gdpr_retention_sweep(st, now, NULL, &r, &err));
    ASSERT_EQ_INT(r.audit_records + r.audit_texts + r.approvals, 0);
    ASSERT_EQ_INT(q_int(st, "SELECT max(seq) FROM audit_log", NULL), 12);

    /* 100 days later: faq's 10-day-old record (now 110) goes; credit's (100
     * days old by the real clock, 200 by now_s) stays: high risk keeps six
     * months by the real clock; the edited faq approval goes */
    ASSERT_OK(hh_gdpr_retention_sweep(st, now + 100 * day, NULL, &r, &err));
    ASSERT_EQ_INT(r.audit_records, 0);
    ASSERT_EQ_INT(r.audit_texts, 1);
    ASSERT_EQ_INT(r.approvals, 1);
    p = q_prompt(st, 7, buf, sizeof buf);
    ASSERT_STREQ(p ? p : "(null)", HH_AUDIT_EXPIRED_TEXT);
    p = q_prompt(st, 4, buf, sizeof buf);
    ASSERT_STREQ(p ? p : "(null)", "ZQXPROMPT4");
    p = q_prompt(st, 8, buf, sizeof buf);
    ASSERT_STREQ(p ? p : "(null)", "ZQXPROMPT8");
    ASSERT_EQ_INT(q_int(st, "SELECT count(*) FROM approvals WHERE id IN (2, 3)", NULL), 2);
    ASSERT_EQ_INT(q_int(st, "SELECT count(*) FROM approvals", NULL), 2);
    ASSERT_OK(hh_audit_verify_store(st, NULL, &vr, &err));
    ASSERT_TRUE(vr.ok);
    ASSERT_EQ_INT(count_in_tree(data, "ZQXPROMPT7", &n_files), 0);
    ASSERT_EQ_INT(count_in_tree(data, "ZQXAPPROVAL4", &n_files), 0);
    hh_store_close(st);
}

/* More rows than one transaction takes: the sweep commits in batches, each
 * with its own retention record listing at most HH_GDPR_SWEEP_BATCH rows. */
TEST(gdpr_retention_texts_batched)
{
    char data[512];
    snprintf(data, sizeof data, "%s/gdpr-ret-batch", hh_test_tmpdir());
    hh_store_t *st = NULL;
    hh_err_t err;
    ASSERT_OK(hh_store_open(&st, data, &err));
    make_use_case(st, "{\"slug\":\"faq\",\"purpose\":\"answers\",\"answers\":{}}");
    /* the longest retention (365 days) keeps the chain's start */
    make_use_case(st, "{\"slug\":\"letters\",\"purpose\":\"drafts letters\",\"answers\":"
                      "{\"t_generates_content\":true},\"policy\":{\"retention_days\":365}}");
    int64_t now = (int64_t)time(NULL);
    enum { N = 2 * HH_GDPR_SWEEP_BATCH + 10 };
    hh_audit_entry_t *es = calloc(N, sizeof *es);
    ASSERT_TRUE(es != NULL);
    for (int i = 0; i < N; i++)
        es[i] = (hh_audit_entry_t){ .kind = "request", .time_ms = (now - 40 * 86400) * 1000 + i, .use_case = "faq",
                                    .user = "u", .prompt = "old question", .output = "old answer",
                                    .decision = "released" };
    ASSERT_OK(hh_audit_append_batch(st, NULL, es, N, NULL, &err));
    free(es);
    hh_audit_entry_t young = { .kind = "request", .use_case = "faq", .user = "u", .prompt = "new question",
                               .decision = "released" };
    ASSERT_OK(hh_audit_append(st, NULL, &young, NULL, &err));
    hh_gdpr_sweep_result_t r;
    ASSERT_OK(hh_gdpr_retention_sweep(st, now, NULL, &r, &err));
    ASSERT_EQ_INT(r.audit_texts, N);
    ASSERT_EQ_INT(r.audit_records, 0);
    ASSERT_EQ_INT(q_int(st, "SELECT count(*) FROM audit_log WHERE prompt = 'old question'", NULL), 0);
    ASSERT_EQ_INT(q_int(st, "SELECT count(*) FROM audit_log WHERE prompt = 'new question'", NULL), 1);
    ASSERT_EQ_INT(q_int(st, "SELECT count(DISTINCT erased_by) FROM audit_log WHERE erased_by IS NOT NULL", NULL), 3);
    ASSERT_EQ_INT(q_int(st, "SELECT max(n) FROM (SELECT count(*) AS n FROM audit_log WHERE erased_by IS NOT NULL "
                            "GROUP BY erased_by)", NULL), HH_GDPR_SWEEP_BATCH);
    ASSERT_EQ_INT(q_int(st, "SELECT count(*) FROM audit_log WHERE instr(record, '\"kind\":\"retention\"') > 0 AND "
                            "instr(record, '\"erased_seqs\":[') > 0", NULL), 3);
    hh_audit_verify_result_t vr;
    ASSERT_OK(hh_audit_verify_store(st, NULL, &vr, &err));
    if (!vr.ok)
        printf("    bad %lld: %s\n", (long long)vr.bad_seq, vr.why);
    ASSERT_TRUE(vr.ok);
    ASSERT_EQ_INT(vr.n_records, N + 1 + 3);
    hh_store_close(st);
}

static int run_cli(const char *args)
{
    return hh_test_run_cli(args, NULL, false, NULL, 0);
}

TEST(gdpr_cli_export_erase_sweep)
{
    if (!getenv("HOHEIT_BIN")) SKIP("HOHEIT_BIN is not set (run through `make test`)");
    char root[512], docs[600], data[600], out[700], args[3000];
    snprintf(root, sizeof root, "%s/gdpr-cli", hh_test_tmpdir());
    snprintf(docs, sizeof docs, "%s/docs", root);
    snprintf(data, sizeof data, "%s/data", root);
    snprintf(out, sizeof out, "%s/export.json", root);
    mkdir(root, 0700);
    mkdir(docs, 0700);
    write_file(docs, "memo.txt", "Memo\n\nPlease call " NAME " back at " EMAIL " tomorrow.\n");
    hh_store_t *st = NULL;
    hh_err_t err;
    ASSERT_OK(hh_store_open(&st, data, &err));
    ASSERT_OK(hh_store_collection_ensure(st, "memos", NULL, 0, NULL, &err));
    const char *paths[1] = { docs };
    hh_ingest_params_t ip = hh_ingest_default_params();
    hh_ingest_totals_t tot;
    ASSERT_OK(hh_ingest_paths(st, paths, 1, "memos", 0, &ip, NULL, NULL, &tot, &err));
    /* an audit record of a 30-day use case, 40 days old: its texts expire */
    make_use_case(st, "{\"slug\":\"faq\",\"purpose\":\"answers\",\"answers\":{}}");
    make_use_case(st, "{\"slug\":\"letters\",\"purpose\":\"drafts letters\",\"answers\":"
                      "{\"t_generates_content\":true},\"policy\":{\"retention_days\":365}}");
    hh_audit_entry_t old = { .kind = "request", .time_ms = ((int64_t)time(NULL) - 40 * 86400) * 1000,
                             .use_case = "faq", .user = "u", .prompt = "ZQXCLIPROMPT", .decision = "released" };
    ASSERT_OK(hh_audit_append(st, NULL, &old, NULL, &err));
    hh_store_close(st);

    /* usage errors: 2; erase without --yes: 2 */
    ASSERT_EQ_INT(run_cli("gdpr"), 2);
    ASSERT_EQ_INT(run_cli("gdpr frobnicate --subject abc"), 2);
    snprintf(args, sizeof args, "gdpr erase --subject '" EMAIL "' --data %s", data);
    ASSERT_EQ_INT(run_cli(args), 2);
    ASSERT_EQ_INT(run_cli("retention set memos"), 2);
    snprintf(args, sizeof args, "gdpr export --subject '" EMAIL "' --subject '" NAME "' --data %s --out %s", data, out);
    ASSERT_EQ_INT(run_cli(args), 0);
    size_t len = 0;
    char *text = hh_test_read_file(out, &len);
    ASSERT_TRUE(text != NULL);
    cJSON *doc = cJSON_ParseWithLength(text, len);
    free(text);
    ASSERT_TRUE(doc != NULL);
    ASSERT_EQ_INT(hh_test_count_hits(doc, "chunk.text", -1), 2);
    ASSERT_EQ_INT(hh_test_count_hits(doc, "file", -1), 2);
    cJSON_Delete(doc);
    snprintf(args, sizeof args, "gdpr erase --subject '" EMAIL "' --subject '" NAME "' --yes --data %s", data);
    ASSERT_EQ_INT(run_cli(args), 0);
    int n_files = 0;
    ASSERT_EQ_INT(count_in_tree(data, EMAIL, &n_files), 0);
    ASSERT_EQ_INT(count_in_tree(data, NAME, &n_files), 0);
    snprintf(args, sizeof args, "retention set nope 10 --data %s", data);
    ASSERT_EQ_INT(run_cli(args), 1);
    snprintf(args, sizeof args, "retention set memos 10 --data %s", data);
    ASSERT_EQ_INT(run_cli(args), 0);
    /* the sweep prints its counts */
    snprintf(args, sizeof args, "%s retention sweep --data %s 2>/dev/null", getenv("HOHEIT_BIN"), data);
    FILE *pf = popen(args, "r");
    ASSERT_TRUE(pf != NULL);
    char line[512] = "";
    if (!fgets(line, sizeof line, pf))
        line[0] = '\0';
    ASSERT_EQ_INT(pclose(pf), 0);
    if (!strstr(line, "texts expired 1"))
        printf("    got: %s\n", line);
    ASSERT_TRUE(strstr(line, "expired documents deleted 0, audit records expired 0, audit records whose texts "
                             "expired 1, decided approvals deleted 0") != NULL);
    snprintf(args, sizeof args, "audit verify --data %s", data);
    ASSERT_EQ_INT(run_cli(args), 0);
    ASSERT_OK(hh_store_open(&st, data, &err));
    ASSERT_EQ_INT(q_int(st, "SELECT retention_days FROM collections WHERE name = 'memos'", NULL), 10);
    ASSERT_EQ_INT(q_int(st, "SELECT count(*) FROM documents", NULL), 1);   /* fresh: kept */
    ASSERT_EQ_INT(q_int(st, "SELECT count(*) FROM audit_log WHERE instr(record, '\"kind\":\"export\"') > 0", NULL), 1);
    ASSERT_EQ_INT(q_int(st, "SELECT count(*) FROM audit_log WHERE prompt = 'ZQXCLIPROMPT'", NULL), 0);
    hh_store_close(st);
}
