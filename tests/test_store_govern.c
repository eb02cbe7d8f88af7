/* test_store_govern.c - the store functions behind govern (store.h "the
 * approval queue", "the audit chain"; issue 17): the order a walk hands
 * the chain over in, an append that fails leaving nothing behind, the
 * verifier's verdicts on rows deleted from a real database, one
 * pseudonym key for the audit redaction and the eraser, and a decision
 * taken once, the model hash cache of the system cards. Real SQLite in a temporary directory; tampering goes
 * through SQLite directly, as an attacker with the file would. */
#include "harness.h"
#include "http_helpers.h"
#include "govern/audit.h"
#include "govern/gdpr.h"
#include "govern/pii.h"
#include "govern/register.h"
#include "store/store.h"

#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *fresh_dir(const char *name)
{
    static char buf[4][512];
    static int slot;
    char *b = buf[slot++ % 4];
    snprintf(b, 512, "%s/store-govern-%s", hh_test_tmpdir(), name);
    return b;
}

/* Seven records, a checkpoint every third (3, 6). */
static int seven_records(hh_store_t *s, hh_err_t *err)
{
    hh_audit_params_t p = hh_audit_default_params();
    p.checkpoint_every = 3;
    for (int i = 0; i < 7; i++) {
        hh_audit_entry_t e = { .kind = "request", .user = "bob", .prompt = "q", .output = "a", .decision = "released" };
        int rc = hh_audit_append(s, &p, &e, NULL, err);
        if (rc)
            return rc;
    }
    return 0;
}

/* The walk as text: "R1 R2 R3 C3 ... H7"; a checkpoint with no record
 * after it is "c" instead of "C". */
typedef struct trace {
    char    text[256];
    size_t  len;
    int64_t stop_at;   /* end the walk after this record (0: never) */
} trace_t;

static int trace_visit(void *ctx, const hh_store_audit_item_t *it, hh_err_t *err)
{
    (void)err;
    trace_t *t = ctx;
    char c = '?';
    int64_t seq = it->kind == HH_STORE_AUDIT_RECORD ? it->rec.seq : it->mark.seq;
    switch (it->kind) {
    case HH_STORE_AUDIT_ANCHOR:     c = 'A'; break;
    case HH_STORE_AUDIT_RECORD:     c = 'R'; break;
    case HH_STORE_AUDIT_CHECKPOINT: c = it->records_after ? 'C' : 'c'; break;
    case HH_STORE_AUDIT_HEAD:       c = 'H'; break;
    }
    int n = snprintf(t->text + t->len, sizeof t->text - t->len, "%s%c%lld", t->len ? " " : "", c, (long long)seq);
    if (n > 0 && (size_t)n < sizeof t->text - t->len)
        t->len += (size_t)n;
    if (it->kind == HH_STORE_AUDIT_RECORD) {
        /* what the store hands over is what was written */
        if (it->rec.hash_len != 32 || it->rec.prev_hash_len != 32 || it->rec.record_len == 0 ||
            strcmp(it->rec.user_name ? it->rec.user_name : "", "bob") != 0 || it->rec.user_salt_len != 16)
            return HH_EFORMAT;
        if (t->stop_at && seq == t->stop_at)
            return 1;
    }
    return 0;
}

TEST(audit_store_walk_order)
{
    const char *dir = fresh_dir("walk");
    hh_err_t err;
    hh_store_t *s = NULL;
    ASSERT_OK(hh_store_open(&s, dir, &err));
    trace_t t = { 0 };
    ASSERT_OK(hh_store_audit_walk(s, 1, trace_visit, &t, &err));
    ASSERT_STREQ(t.text, "");   /* empty chain: no head either */
    ASSERT_OK(seven_records(s, &err));
    memset(&t, 0, sizeof t);
    ASSERT_OK(hh_store_audit_walk(s, 1, trace_visit, &t, &err));
    /* a checkpoint right after its record; the last one has no record after it */
    ASSERT_STREQ(t.text, "R1 R2 R3 C3 R4 R5 R6 C6 R7 H7");
    hh_store_close(s);
}

TEST(audit_store_walk_range_stop_and_gaps)
{
    const char *dir = fresh_dir("walk-gaps");
    hh_err_t err;
    hh_store_t *s = NULL;
    ASSERT_OK(hh_store_open(&s, dir, &err));
    ASSERT_OK(seven_records(s, &err));
    trace_t t = { 0 };
    ASSERT_OK(hh_store_audit_walk(s, 5, trace_visit, &t, &err));
    ASSERT_STREQ(t.text, "R5 R6 C6 R7 H7");
    memset(&t, 0, sizeof t);
    t.stop_at = 2;   /* a positive answer ends the walk, and is no error */
    ASSERT_OK(hh_store_audit_walk(s, 1, trace_visit, &t, &err));
    ASSERT_STREQ(t.text, "R1 R2");
    hh_store_close(s);

    /* record 3 deleted: its checkpoint comes where it stood, before record 4 */
    ASSERT_EQ_INT(hh_test_db_exec(dir, "DELETE FROM audit_log WHERE seq = 3"), SQLITE_OK);
    ASSERT_OK(hh_store_open(&s, dir, &err));
    memset(&t, 0, sizeof t);
    ASSERT_OK(hh_store_audit_walk(s, 1, trace_visit, &t, &err));
    ASSERT_STREQ(t.text, "R1 R2 C3 R4 R5 R6 C6 R7 H7");
    hh_audit_verify_result_t r;
    ASSERT_OK(hh_audit_verify_store(s, NULL, &r, &err));
    ASSERT_FALSE(r.ok);
    ASSERT_EQ_INT(r.bad_seq, 3);
    ASSERT_STREQ(r.why, "record 3 missing (checkpoint 3 signs it or a later one)");
    hh_store_close(s);

    /* the tail from 6 cut: checkpoint 6 has no record after it */
    ASSERT_EQ_INT(hh_test_db_exec(dir, "DELETE FROM audit_log WHERE seq >= 3; "
                               "DELETE FROM audit_checkpoints WHERE seq = 3"), SQLITE_OK);
    ASSERT_OK(hh_store_open(&s, dir, &err));
    memset(&t, 0, sizeof t);
    ASSERT_OK(hh_store_audit_walk(s, 1, trace_visit, &t, &err));
    ASSERT_STREQ(t.text, "R1 R2 c6 H7");
    ASSERT_OK(hh_audit_verify_store(s, NULL, &r, &err));
    ASSERT_FALSE(r.ok);
    ASSERT_EQ_INT(r.bad_seq, 3);
    ASSERT_STREQ(r.why, "record 3 missing: checkpoint 6 signs it or a later one (tail cut)");
    hh_store_close(s);

    /* a head of the wrong size (chain otherwise whole) is an error of the
     * walk, not a verdict */
    dir = fresh_dir("walk-head");
    ASSERT_OK(hh_store_open(&s, dir, &err));
    ASSERT_OK(seven_records(s, &err));
    ASSERT_OK(hh_audit_verify_store(s, NULL, &r, &err));
    ASSERT_TRUE(r.ok);
    hh_store_close(s);
    ASSERT_EQ_INT(hh_test_db_exec(dir, "UPDATE audit_meta SET value = x'0102' WHERE key = 'head'"), SQLITE_OK);
    ASSERT_OK(hh_store_open(&s, dir, &err));
    memset(&t, 0, sizeof t);
    ASSERT_EQ_INT(hh_store_audit_walk(s, 1, trace_visit, &t, &err), HH_EFORMAT);
    ASSERT_EQ_INT(hh_audit_verify_store(s, NULL, &r, &err), HH_EFORMAT);
    hh_store_close(s);
}

/* A build callback writing "rec-<seq>" records with a plain hash; fails at
 * record fail_at (1-based in the batch; 0: never). */
typedef struct toy {
    size_t  fail_at;
    int64_t seqs[8];
    unsigned char prevs[8][32];
} toy_t;

static int toy_build(void *ctx, size_t i, int64_t seq, const unsigned char prev[32], hh_store_audit_new_t *out,
                     hh_err_t *err)
{
    toy_t *t = ctx;
    if (t->fail_at && i + 1 == t->fail_at)
        return hh_err_set(err, HH_EINVAL, -1, "toy: record %zu refused", i);
    char buf[32];
    int n = snprintf(buf, sizeof buf, "rec-%lld", (long long)seq);
    out->record = strdup(buf);
    if (!out->record)
        return HH_ENOMEM;
    out->record_len = (size_t)n;
    crypto_generichash(out->hash, 32, (const unsigned char *)buf, (size_t)n, prev, 32);
    out->prompt = "p";
    if (i < 8) {
        t->seqs[i] = seq;
        memcpy(t->prevs[i], prev, 32);
    }
    return 0;
}

static void toy_sign(void *ctx, int64_t seq, const unsigned char hash[32], unsigned char sig[64])
{
    (void)ctx;
    (void)seq;
    memset(sig, 0, 64);
    memcpy(sig, hash, 32);
}

TEST(audit_store_append_is_one_transaction)
{
    const char *dir = fresh_dir("append");
    hh_err_t err;
    hh_store_t *s = NULL;
    ASSERT_OK(hh_store_open(&s, dir, &err));
    unsigned char pk[32], pk2[32], got[32];
    memset(pk, 7, sizeof pk);
    memset(pk2, 9, sizeof pk2);
    toy_t t = { 0 };
    hh_store_audit_appender_t a = { .n = 3, .public_key = pk, .build = toy_build, .sign_head = toy_sign, .ctx = &t };
    int64_t first = 0;
    ASSERT_OK(hh_store_audit_append(s, &a, &first, &err));
    ASSERT_EQ_INT(first, 1);
    ASSERT_EQ_INT(t.seqs[2], 3);
    unsigned char zero[32] = { 0 }, last_hash[32];
    ASSERT_TRUE(memcmp(t.prevs[0], zero, 32) == 0);   /* seq 1 follows 32 zero bytes */
    int64_t last = 0;
    ASSERT_OK(hh_store_audit_last(s, &last, last_hash, &err));
    ASSERT_EQ_INT(last, 3);
    /* each record's prev is the hash the one before it got */
    unsigned char h2[32];
    crypto_generichash(h2, 32, (const unsigned char *)"rec-2", 5, t.prevs[1], 32);
    ASSERT_TRUE(memcmp(t.prevs[2], h2, 32) == 0);
    /* a failing record in a batch: nothing of the batch is written */
    toy_t t2 = { .fail_at = 2 };
    a.ctx = &t2;
    a.public_key = pk2;
    ASSERT_EQ_INT(hh_store_audit_append(s, &a, &first, &err), HH_EINVAL);
    ASSERT_TRUE(strstr(err.msg, "refused") != NULL);
    unsigned char after[32];
    ASSERT_OK(hh_store_audit_last(s, &last, after, &err));
    ASSERT_EQ_INT(last, 3);
    ASSERT_TRUE(memcmp(after, last_hash, 32) == 0);
    /* the first public key stays */
    bool found = false;
    ASSERT_OK(hh_store_audit_public_key(s, got, &found, &err));
    ASSERT_TRUE(found);
    ASSERT_TRUE(memcmp(got, pk, 32) == 0);
    /* the next append goes on at 4 */
    toy_t t3 = { 0 };
    a.ctx = &t3;
    a.n = 1;
    ASSERT_OK(hh_store_audit_append(s, &a, &first, &err));
    ASSERT_EQ_INT(first, 4);
    ASSERT_TRUE(memcmp(t3.prevs[0], last_hash, 32) == 0);
    a.n = 0;
    ASSERT_EQ_INT(hh_store_audit_append(s, &a, &first, &err), HH_EINVAL);
    hh_store_close(s);
}

/* The audit redaction and the eraser pseudonymize under one key: the
 * store's hh_store_pseudonym_key. An address redacted with it is the token
 * hh_gdpr_pseudonym gives for it. */
TEST(audit_store_pseudonym_key_is_the_erasers)
{
    const char *dir = fresh_dir("pseudonym");
    hh_err_t err;
    hh_store_t *s = NULL;
    ASSERT_OK(hh_store_open(&s, dir, &err));
    unsigned char key[32], again[32], zero[32] = { 0 };
    hh_store_pseudonym_key(s, key);
    hh_store_pseudonym_key(s, again);
    ASSERT_TRUE(memcmp(key, again, 32) == 0);
    ASSERT_TRUE(memcmp(key, zero, 32) != 0);
    const char *addr = "erika.muster@example.org";
    hh_pii_config_t cfg;
    hh_pii_default_config(&cfg);
    cfg.kinds = 1u << HH_PII_EMAIL;
    cfg.pseudonymize = 1;
    cfg.key = key;
    cfg.key_len = sizeof key;
    char *red = NULL;
    size_t rlen = 0;
    ASSERT_OK(hh_pii_redact(addr, strlen(addr), &cfg, &red, &rlen));
    char tok[HH_GDPR_PSEUDONYM_MAX];
    ASSERT_OK(hh_gdpr_pseudonym(s, addr, tok, sizeof tok, &err));
    ASSERT_STREQ(red, tok);
    free(red);
    hh_store_close(s);
    /* another installation (another secret): another key */
    const char *dir2 = fresh_dir("pseudonym-2");
    ASSERT_OK(hh_store_open(&s, dir2, &err));
    hh_store_pseudonym_key(s, again);
    ASSERT_TRUE(memcmp(key, again, 32) != 0);
    hh_store_close(s);
}

TEST(approval_store_decided_once)
{
    const char *dir = fresh_dir("approval");
    hh_err_t err;
    hh_store_t *s = NULL;
    ASSERT_OK(hh_store_open(&s, dir, &err));
    hh_store_approval_t in = { .hr = true, .request = "{\"model\":\"m\"}", .output = "draft", .created_at = 1000 };
    snprintf(in.use_case, sizeof in.use_case, "hr-screening");
    snprintf(in.requester, sizeof in.requester, "ann");
    int64_t id = 0;
    ASSERT_OK(hh_store_approval_insert(s, &in, &id, &err));
    ASSERT_TRUE(id >= 1 && id < 10000000000LL);
    hh_store_approval_t a;
    ASSERT_OK(hh_store_approval_get(s, id, &a, &err));
    ASSERT_STREQ(a.status, "pending");
    ASSERT_STREQ(a.use_case, "hr-screening");
    ASSERT_TRUE(a.hr);
    ASSERT_STREQ(a.output, "draft");
    ASSERT_TRUE(a.reason == NULL && a.final_text == NULL);
    hh_store_approval_clear(&a);
    /* the first decision wins; a second one is refused */
    hh_store_approval_t d = { .id = id, .decided_at = 2000, .final_text = "final" };
    snprintf(d.status, sizeof d.status, "approved");
    snprintf(d.decided_by, sizeof d.decided_by, "bob");
    ASSERT_OK(hh_store_approval_decide(s, &d, &err));
    snprintf(d.decided_by, sizeof d.decided_by, "carl");
    ASSERT_EQ_INT(hh_store_approval_decide(s, &d, &err), HH_ESTATE);
    ASSERT_OK(hh_store_approval_get(s, id, &a, &err));
    ASSERT_STREQ(a.status, "approved");
    ASSERT_STREQ(a.decided_by, "bob");
    ASSERT_STREQ(a.final_text, "final");
    hh_store_approval_clear(&a);
    size_t n = 9;
    hh_store_approval_t *list = NULL;
    ASSERT_OK(hh_store_approval_list(s, true, &list, &n, &err));
    ASSERT_EQ_INT(n, 0);
    /* undo puts it back to pending, with nothing of the decision left */
    ASSERT_OK(hh_store_approval_undecide(s, &d, &err));
    ASSERT_OK(hh_store_approval_list(s, true, &list, &n, &err));
    ASSERT_EQ_INT(n, 1);
    ASSERT_EQ_INT(list[0].id, id);
    ASSERT_STREQ(list[0].decided_by, "");
    ASSERT_TRUE(list[0].final_text == NULL);
    hh_store_approval_clear(&list[0]);
    free(list);
    snprintf(d.status, sizeof d.status, "pending");
    ASSERT_EQ_INT(hh_store_approval_decide(s, &d, &err), HH_EINVAL);
    ASSERT_EQ_INT(hh_store_approval_get(s, id + 1 < 10000000000LL ? id + 1 : 1, &a, &err), HH_ENOENT);
    hh_store_close(s);
}

/* The system cards' model hash cache (store.h "file hashes"): a hash is
 * taken from the cache while the file keeps its size and mtime, and made
 * again when either changes. The cached value is planted through SQLite to
 * tell a cache hit from a fresh hash. */
TEST(register_store_model_hash_cache)
{
    const char *dir = fresh_dir("model-hash");
    hh_err_t err;
    hh_store_t *s = NULL;
    ASSERT_OK(hh_store_open(&s, dir, &err));
    char path[600];
    snprintf(path, sizeof path, "%s/m.gguf", dir);
    FILE *f = fopen(path, "wb");
    ASSERT_TRUE(f != NULL);
    fputs("abc", f);
    fclose(f);
    char hex[65];
    ASSERT_OK(hh_register_file_sha256(s, path, hex, &err));
    ASSERT_STREQ(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");   /* SHA-256("abc") */
    bool found = false;
    struct stat sb;
    ASSERT_EQ_INT(stat(path, &sb), 0);
    int64_t mt = (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec;
    char cached[65] = "";
    ASSERT_OK(hh_store_model_hash_get(s, path, (int64_t)sb.st_size, mt, cached, &found, &err));
    ASSERT_TRUE(found);
    ASSERT_STREQ(cached, hex);
    ASSERT_OK(hh_store_model_hash_get(s, path, (int64_t)sb.st_size + 1, mt, cached, &found, &err));
    ASSERT_FALSE(found);
    hh_store_close(s);
    ASSERT_EQ_INT(hh_test_db_exec(dir, "UPDATE model_hashes SET sha256 = "
                               "'0000000000000000000000000000000000000000000000000000000000000001'"), SQLITE_OK);
    ASSERT_OK(hh_store_open(&s, dir, &err));
    ASSERT_OK(hh_register_file_sha256(s, path, hex, &err));
    ASSERT_STREQ(hex, "0000000000000000000000000000000000000000000000000000000000000001");   /* the cache */
    f = fopen(path, "ab");
    ASSERT_TRUE(f != NULL);
    fputs("d", f);   /* "abcd": another size */
    fclose(f);
    ASSERT_OK(hh_register_file_sha256(s, path, hex, &err));
    ASSERT_STREQ(hex, "88d4266fd4e6338d13b845fcf289579d209c897823b9217da3e161936f031589");   /* SHA-256("abcd") */
    ASSERT_EQ_INT(hh_store_model_hash_put(s, path, 1, 1, "beef", &err), HH_EINVAL);
    hh_store_close(s);
}
