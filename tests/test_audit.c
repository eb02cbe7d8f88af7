/* test_audit.c - the audit log: canonical records, append + verify in the
 * store, the randomized tamper test on a 10,000-record export, signatures
 * and keys, retention behind an anchor, concurrency, the CLI. */
#include "harness.h"
#include "http_helpers.h"
#include "govern/audit.h"
#include "govern/pii.h"
#include "govern/register.h"
#include "http/server.h"
#include "store/store.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <unistd.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

static const char *fresh_dir(const char *name)
{
    static char buf[4][512];
    static int slot;
    char *b = buf[slot++ % 4];
    snprintf(b, 512, "%s/audit-%s", hh_test_tmpdir(), name);
    return b;
}

static char *export_text(hh_store_t *s, int64_t from, size_t *len)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    if (!f)
        return NULL;
    hh_err_t err;
    int rc = hh_audit_export(s, from, f, &err);
    fclose(f);
    if (rc) {
        printf("    export: %s\n", err.msg);
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

static void sha256_hex(const char *text, char out[65])
{
    unsigned char h[32];
    crypto_hash_sha256(h, (const unsigned char *)text, strlen(text));
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", h[i]);
}

static void blake_commit_hex(const unsigned char salt[16], const char *text, char out[65])
{
    unsigned char buf[512], h[32];
    size_t n = strlen(text);
    memcpy(buf, salt, 16);
    memcpy(buf + 16, text, n);
    crypto_generichash(h, 32, buf, 16 + n, NULL, 0);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", h[i]);
}

TEST(audit_canonical_form)
{
    const int64_t chunks[] = { 17, 4 };
    hh_audit_entry_t e = {
        .kind = "request", .user = "alice", .use_case = NULL, .model = "m1",
        .prompt = "Hi \"there\"\n\x01 \xc3\xa4", .output = "ok", .chunk_ids = chunks, .n_chunks = 2,
        .has_confidence = true, .confidence = 0.73456, .decision = "released",
    };
    unsigned char us[16], ds[16];
    memset(us, 0x11, sizeof us);
    memset(ds, 0x22, sizeof ds);
    hh_audit_extra_t x = { .user_salt = us, .detail_salt = ds };
    hh_err_t err;
    char *c = hh_audit_canonical(&e, 7, 1700000000123, "ab", &x, &err);
    ASSERT_TRUE(c != NULL);
    char ph[65], oh[65], uh[65], want[2048];
    sha256_hex(e.prompt, ph);
    sha256_hex(e.output, oh);
    blake_commit_hex(us, "alice", uh);
    /* sorted keys, no whitespace, 4-decimal confidence, integers as written,
     * control characters escaped, UTF-8 verbatim; user as a salted
     * commitment, no PII policy */
    snprintf(want, sizeof want,
             "{\"chunks\":[17,4],\"confidence\":0.7346,\"decision\":\"released\",\"detail_commit\":null,"
             "\"kind\":\"request\",\"model\":\"m1\",\"model_sha256\":\"ab\","
             "\"output_sha256\":\"%s\",\"pii_redacted\":null,"
             "\"prompt_sha256\":\"%s\",\"seq\":7,\"text\":\"full\",\"time_ms\":1700000000123,"
             "\"use_case\":null,\"user_commit\":\"%s\"}",
             oh, ph, uh);
    ASSERT_STREQ(c, want);
    ASSERT_TRUE(strstr(c, "alice") == NULL);
    free(c);
    /* another salt, another commitment: a list of names does not reverse it */
    us[0] ^= 1;
    c = hh_audit_canonical(&e, 7, 1700000000123, "ab", &x, &err);
    ASSERT_TRUE(c != NULL);
    ASSERT_TRUE(strstr(c, uh) == NULL);
    free(c);
    /* hash-only policy: the texts are gone, their SHA-256 stays; detail
     * committed; PII counts sorted by kind name; an erasure lists its rows */
    e.hash_only = true;
    e.has_confidence = false;
    e.detail = "why";
    e.kind = "erasure";
    const int64_t er[] = { 2, 5 };
    e.erased_seqs = er;
    e.n_erased_seqs = 2;
    size_t counts[HH_PII_KIND_COUNT] = { 0 };
    counts[HH_PII_IBAN] = 1;
    counts[HH_PII_EMAIL] = 2;
    x.pii_counts = counts;
    c = hh_audit_canonical(&e, 7, 1700000000123, NULL, &x, &err);
    ASSERT_TRUE(c != NULL);
    char dh[65], frag[128];
    blake_commit_hex(ds, "why", dh);
    snprintf(frag, sizeof frag, "\"detail_commit\":\"%s\",\"erased_seqs\":[2,5],\"kind\":\"erasure\"", dh);
    ASSERT_TRUE(strstr(c, frag) != NULL);
    ASSERT_TRUE(strstr(c, "\"pii_redacted\":{\"email\":2,\"iban\":1}") != NULL);
    ASSERT_TRUE(strstr(c, "\"prompt\":") == NULL);
    ASSERT_TRUE(strstr(c, "\"confidence\":null") != NULL);
    ASSERT_TRUE(strstr(c, "\"text\":\"hash\"") != NULL);
    ASSERT_TRUE(strstr(c, ph) != NULL);
    ASSERT_TRUE(strstr(c, "there") == NULL);
    free(c);
    /* erased_seqs must increase and stay below the record */
    const int64_t bad[] = { 5, 2 };
    e.erased_seqs = bad;
    ASSERT_TRUE(hh_audit_canonical(&e, 7, 1, NULL, &x, &err) == NULL);
    ASSERT_EQ_INT(err.code, HH_EINVAL);
    e.erased_seqs = er;
    ASSERT_TRUE(hh_audit_canonical(&e, 5, 1, NULL, &x, &err) == NULL);
    ASSERT_EQ_INT(err.code, HH_EINVAL);
    /* a user without its salt */
    x.user_salt = NULL;
    ASSERT_TRUE(hh_audit_canonical(&e, 7, 1, NULL, &x, &err) == NULL);
    ASSERT_EQ_INT(err.code, HH_EINVAL);
    e.kind = NULL;
    ASSERT_TRUE(hh_audit_canonical(&e, 7, 1, NULL, NULL, &err) == NULL);
    ASSERT_EQ_INT(err.code, HH_EINVAL);
}

TEST(audit_append_verify_store)
{
    const char *dir = fresh_dir("basic");
    hh_err_t err;
    hh_store_t *s = NULL;
    ASSERT_OK(hh_store_open(&s, dir, &err));
    hh_audit_verify_result_t r;
    ASSERT_OK(hh_audit_verify_store(s, NULL, &r, &err));   /* empty: fine */
    ASSERT_TRUE(r.ok);
    ASSERT_EQ_INT(r.n_records, 0);
    /* a model file: its sha256 lands in the record */
    char mpath[600];
    snprintf(mpath, sizeof mpath, "%s/model.gguf", dir);
    FILE *f = fopen(mpath, "wb");
    ASSERT_TRUE(f != NULL);
    fputs("GGUF pretend model bytes", f);
    fclose(f);
    char mh[65], want_mh[65];
    ASSERT_OK(hh_audit_file_sha256(s, mpath, mh, &err));
    sha256_hex("GGUF pretend model bytes", want_mh);
    ASSERT_STREQ(mh, want_mh);
    hh_audit_params_t p = hh_audit_default_params();
    p.checkpoint_every = 3;
    for (int i = 0; i < 7; i++) {
        char prompt[64];
        snprintf(prompt, sizeof prompt, "question %d", i);
        hh_audit_entry_t e = { .kind = "request", .user = "bob", .model = "m", .model_path = mpath,
                               .prompt = prompt, .output = "answer", .decision = "released", .hash_only = i % 2 };
        int64_t seq = 0;
        ASSERT_OK(hh_audit_append(s, &p, &e, &seq, &err));
        ASSERT_EQ_INT(seq, i + 1);
    }
    ASSERT_OK(hh_audit_verify_store(s, NULL, &r, &err));
    if (!r.ok)
        printf("    bad %lld: %s\n", (long long)r.bad_seq, r.why);
    ASSERT_TRUE(r.ok);
    ASSERT_EQ_INT(r.n_records, 7);
    ASSERT_EQ_INT(r.n_checkpoints, 2);   /* 3 and 6 */
    /* key files: secret 0600, public key = the store's */
    char kpath[600];
    snprintf(kpath, sizeof kpath, "%s/audit.key", dir);
    struct stat sb;
    ASSERT_EQ_INT(stat(kpath, &sb), 0);
    ASSERT_EQ_INT(sb.st_mode & 0777, 0600);
    ASSERT_EQ_INT(sb.st_size, 64);
    unsigned char pk[32];
    ASSERT_OK(hh_audit_public_key(s, pk, &err));
    unsigned char *sk = hh_test_read_file(kpath, NULL);
    ASSERT_TRUE(sk != NULL);
    ASSERT_TRUE(memcmp(sk + 32, pk, 32) == 0);
    free(sk);
    /* the export carries the model hash, text per policy, then a head */
    size_t len = 0;
    char *text = export_text(s, 1, &len);
    ASSERT_TRUE(text != NULL);
    ASSERT_TRUE(strstr(text, want_mh) != NULL);
    ASSERT_TRUE(strstr(text, "question 0") != NULL);
    ASSERT_TRUE(strstr(text, "question 1") == NULL);   /* hash-only record */
    ASSERT_TRUE(strstr(text, "{\"hash\":") != NULL);
    hh_audit_verify_jsonl(text, len, pk, &r);
    ASSERT_TRUE(r.ok);
    ASSERT_EQ_INT(r.n_records, 7);
    ASSERT_EQ_INT(r.n_checkpoints, 3);   /* 3, 6 and the export's at 7 */
    free(text);
    /* a partial export starts behind a signed anchor */
    text = export_text(s, 5, &len);
    ASSERT_TRUE(text != NULL);
    ASSERT_TRUE(strncmp(text, "{\"kind\":\"anchor\"", 16) == 0);
    hh_audit_verify_jsonl(text, len, pk, &r);
    ASSERT_TRUE(r.ok);
    ASSERT_TRUE(r.anchored);
    ASSERT_EQ_INT(r.first_seq, 5);
    ASSERT_EQ_INT(r.n_records, 3);
    free(text);
    hh_store_close(s);

    /* tampering with the database itself */
    ASSERT_EQ_INT(hh_test_db_exec(dir, "UPDATE audit_log SET record = replace(record, '\"seq\":5', '\"seq\":9') WHERE seq = 5"),
                  SQLITE_OK);
    ASSERT_OK(hh_store_open(&s, dir, &err));
    ASSERT_OK(hh_audit_verify_store(s, NULL, &r, &err));
    ASSERT_FALSE(r.ok);
    ASSERT_EQ_INT(r.bad_seq, 5);
    ASSERT_TRUE(strstr(r.why, "hash mismatch") != NULL);
    hh_store_close(s);
    ASSERT_EQ_INT(hh_test_db_exec(dir, "UPDATE audit_log SET record = replace(record, '\"seq\":9', '\"seq\":5') WHERE seq = 5"),
                  SQLITE_OK);
    /* the prompt text kept beside the record must match its hash */
    ASSERT_EQ_INT(hh_test_db_exec(dir, "UPDATE audit_log SET prompt = 'question 9' WHERE seq = 5"), SQLITE_OK);
    ASSERT_OK(hh_store_open(&s, dir, &err));
    ASSERT_OK(hh_audit_verify_store(s, NULL, &r, &err));
    ASSERT_FALSE(r.ok);
    ASSERT_EQ_INT(r.bad_seq, 5);
    ASSERT_TRUE(strstr(r.why, "prompt text does not match") != NULL);
    hh_store_close(s);
    ASSERT_EQ_INT(hh_test_db_exec(dir, "UPDATE audit_log SET prompt = 'question 4' WHERE seq = 5"), SQLITE_OK);
    /* cutting the tail (no checkpoint covers 8): the signed head names 8 */
    ASSERT_EQ_INT(hh_test_db_exec(dir, "DELETE FROM audit_log WHERE seq = 8"), SQLITE_OK);
    ASSERT_OK(hh_store_open(&s, dir, &err));
    ASSERT_OK(hh_audit_verify_store(s, NULL, &r, &err));
    ASSERT_TRUE(r.ok);   /* 8 never existed: 7 records + export checkpoint */
    hh_store_close(s);
    ASSERT_EQ_INT(hh_test_db_exec(dir, "DELETE FROM audit_log WHERE seq = 7"), SQLITE_OK);
    ASSERT_OK(hh_store_open(&s, dir, &err));
    ASSERT_OK(hh_audit_verify_store(s, NULL, &r, &err));
    ASSERT_FALSE(r.ok);
    ASSERT_EQ_INT(r.bad_seq, 7);
    ASSERT_TRUE(strstr(r.why, "tail cut") != NULL);
    hh_store_close(s);
}

/* ---- the randomized tamper test ---------------------------------------- */

static uint64_t rng_next(uint64_t *st)
{
    uint64_t x = *st;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *st = x;
}

static size_t rng_below(uint64_t *st, size_t n)
{
    return (size_t)(rng_next(st) % n);
}

typedef struct line_ref {
    size_t  off, len;   /* len without the '\n' */
    int64_t seq;        /* the line's seq (records, checkpoints, head) */
    bool    record;
} line_ref_t;

typedef struct snap {
    size_t              line;   /* state before this line */
    hh_audit_verifier_t v;
} snap_t;

#define SNAP_EVERY 128

static int64_t line_seq(const char *s, size_t len)
{
    const char *p = memmem(s, len, "\"seq\":", 6);
    return p ? strtoll(p + 6, NULL, 10) : -1;
}

/* Verifies text (a modified copy that equals the clean log before byte
 * offset `from`) by resuming the verifier of the last snapshot at or before
 * `from`: the verifier is a plain state machine, so this gives the verdict
 * of a full run. */
static hh_audit_verify_result_t verify_resumed(const snap_t *snaps, size_t n_snaps, const line_ref_t *lines,
                                               const char *text, size_t len, size_t from)
{
    size_t k = 0;
    while (k + 1 < n_snaps && lines[snaps[k + 1].line].off <= from)
        k++;
    hh_audit_verifier_t v = snaps[k].v;
    size_t off = lines[snaps[k].line].off;
    hh_audit_verifier_feed(&v, text + off, len - off);
    hh_audit_verifier_finish(&v);
    return v.r;
}

TEST(audit_tamper_randomized)
{
    const char *dir = fresh_dir("tamper");
    hh_err_t err;
    hh_store_t *s = NULL;
    ASSERT_OK(hh_store_open(&s, dir, &err));
    enum { N = 10000, BATCH = 500 };
    static const char *const decisions[] = { "released", "refused", "pending", "approved", "rejected" };
    static const char *const kinds[] = { "request", "approval", "admin", "request", "request" };
    hh_audit_entry_t *es = calloc(BATCH, sizeof *es);
    char(*prompts)[96] = calloc(BATCH, sizeof *prompts);
    int64_t chunk_ids[3] = { 11, 12, 13 };
    ASSERT_TRUE(es && prompts);
    uint64_t rs = 0x9e3779b97f4a7c15ULL;
    double t0 = (double)clock() / CLOCKS_PER_SEC;
    for (int b = 0; b < N / BATCH; b++) {
        for (int i = 0; i < BATCH; i++) {
            int n = b * BATCH + i;
            snprintf(prompts[i], sizeof prompts[i], "Frage %d: Wie lautet \"Regel\" %llu?\tgr\xc3\xbc\xc3\x9f""e", n,
                     (unsigned long long)(rng_next(&rs) % 100000));
            es[i] = (hh_audit_entry_t){ .kind = kinds[n % 5], .time_ms = 1760000000000LL + n, .user = "u1",
                                        .use_case = n % 3 ? "support answers" : NULL, .model = "qwen",
                                        .prompt = prompts[i], .output = "Antwort", .chunk_ids = chunk_ids,
                                        .n_chunks = (size_t)(n % 4), .has_confidence = n % 2,
                                        .confidence = (n % 100) / 100.0, .decision = decisions[n % 5],
                                        .hash_only = n % 7 == 0 };
        }
        ASSERT_OK(hh_audit_append_batch(s, NULL, es, BATCH, NULL, &err));
    }
    free(es);
    free(prompts);
    size_t len = 0;
    char *clean = export_text(s, 1, &len);
    ASSERT_TRUE(clean != NULL);
    unsigned char pk[32];
    ASSERT_OK(hh_audit_public_key(s, pk, &err));
    hh_store_close(s);
    double t1 = (double)clock() / CLOCKS_PER_SEC;

    /* the untouched log verifies, in full */
    hh_audit_verify_result_t r;
    hh_audit_verify_jsonl(clean, len, pk, &r);
    if (!r.ok)
        printf("    clean log: bad %lld: %s\n", (long long)r.bad_seq, r.why);
    ASSERT_TRUE(r.ok);
    ASSERT_EQ_INT(r.n_records, N);
    ASSERT_EQ_INT(r.n_checkpoints, N / 1000);
    double t2 = (double)clock() / CLOCKS_PER_SEC;

    /* index lines; snapshots of the verifier every SNAP_EVERY lines */
    size_t n_lines = 0;
    for (size_t i = 0; i < len; i++)
        n_lines += clean[i] == '\n';
    line_ref_t *lines = calloc(n_lines + 1, sizeof *lines);
    snap_t *snaps = calloc(n_lines / SNAP_EVERY + 2, sizeof *snaps);
    ASSERT_TRUE(lines && snaps);
    size_t n_rec_lines = 0, n_snaps = 0;
    hh_audit_verifier_t v;
    hh_audit_verifier_init(&v, pk);
    for (size_t i = 0, off = 0; i < n_lines; i++) {
        const char *nl = memchr(clean + off, '\n', len - off);
        lines[i].off = off;
        lines[i].len = (size_t)(nl - (clean + off));
        lines[i].seq = line_seq(clean + off, lines[i].len);
        lines[i].record = memmem(clean + off, lines[i].len, "\"kind\":\"record\"", 15) != NULL;
        n_rec_lines += lines[i].record;
        if (i % SNAP_EVERY == 0) {
            snaps[n_snaps].line = i;
            snaps[n_snaps++].v = v;
        }
        hh_audit_verify_line(&v, clean + off, lines[i].len);
        off += lines[i].len + 1;
    }
    lines[n_lines].off = len;
    ASSERT_EQ_INT(n_rec_lines, N);
    ASSERT_TRUE(hh_audit_verifier_finish(&v));
    /* resuming from any snapshot on the clean text accepts it */
    for (size_t k = 0; k < n_snaps; k += 13) {
        hh_audit_verify_result_t rr = verify_resumed(snaps, n_snaps, lines, clean, len, lines[snaps[k].line].off);
        ASSERT_TRUE(rr.ok);
    }

    /* 200 of each of the five structural kinds, then 100 of each of the
     * three on the fields kept beside the records */
    enum { TRIALS = 1000, FIELD_TRIALS = 300, KINDS = 8 };
    char *mod = malloc(len + 4096);
    ASSERT_TRUE(mod != NULL);
    int detected[KINDS] = { 0 }, tried[KINDS] = { 0 }, full_checked = 0;
    static const char *const names[] = { "byte edit", "deletion", "reordering", "insertion", "truncation",
                                         "user text", "salt", "erased flip" };
    uint64_t st = 0x2545f4914f6cdd1dULL;
    for (int t = 0; t < TRIALS + FIELD_TRIALS; t++) {
        int kind = t < TRIALS ? t % 5 : 5 + t % 3;
        size_t mlen = 0, from = 0;   /* mod[0..from) == clean[0..from) */
        int64_t bound = 0;           /* the first bad seq must be <= bound */
        size_t li = 0, lj = 0;
        switch (kind) {
        case 0: {   /* one byte changed to another value */
            size_t p = rng_below(&st, len);
            memcpy(mod, clean, len);
            mlen = len;
            unsigned char nb;
            do
                nb = (unsigned char)rng_next(&st);
            while (nb == (unsigned char)clean[p]);
            mod[p] = (char)nb;
            while (lines[li + 1].off <= p)
                li++;
            from = lines[li].off;
            bound = lines[li].seq;
            /* a line's newline also damages the next line (they merge) */
            if (p == lines[li].off + lines[li].len && li + 1 < n_lines && lines[li + 1].seq > bound)
                bound = lines[li + 1].seq;
            break;
        }
        case 1:     /* one record line deleted */
            do
                li = rng_below(&st, n_lines);
            while (!lines[li].record);
            memcpy(mod, clean, lines[li].off);
            memcpy(mod + lines[li].off, clean + lines[li + 1].off, len - lines[li + 1].off);
            mlen = len - (lines[li + 1].off - lines[li].off);
            from = lines[li].off;
            bound = lines[li].seq;
            break;
        case 2: {   /* two record lines swapped (neighbours half of the time) */
            do
                li = rng_below(&st, n_lines);
            while (!lines[li].record);
            if (rng_next(&st) & 1) {
                lj = li + 1;
                while (lj < n_lines && !lines[lj].record)
                    lj++;
                if (lj >= n_lines) {
                    lj = li;
                    do
                        li--;
                    while (!lines[li].record);
                }
            } else {
                do
                    lj = rng_below(&st, n_lines);
                while (!lines[lj].record || lj == li);
            }
            if (lj < li) {
                size_t tmp = li;
                li = lj;
                lj = tmp;
            }
            size_t o = 0;
            memcpy(mod, clean, lines[li].off);
            o = lines[li].off;
            memcpy(mod + o, clean + lines[lj].off, lines[lj].len + 1);
            o += lines[lj].len + 1;
            memcpy(mod + o, clean + lines[li + 1].off, lines[lj].off - lines[li + 1].off);
            o += lines[lj].off - lines[li + 1].off;
            memcpy(mod + o, clean + lines[li].off, lines[li].len + 1);
            o += lines[li].len + 1;
            memcpy(mod + o, clean + lines[lj + 1].off, len - lines[lj + 1].off);
            mlen = o + len - lines[lj + 1].off;
            from = lines[li].off;
            bound = lines[li].seq;
            break;
        }
        case 3: {   /* a line inserted before line li: a copy of another line,
                     * or a forged record that links correctly to its predecessor */
            li = rng_below(&st, n_lines);
            char extra[4096];
            size_t elen;
            if ((rng_next(&st) & 1) || li == 0 || !lines[li].record) {
                lj = rng_below(&st, n_lines);
                elen = lines[lj].len + 1;
                memcpy(extra, clean + lines[lj].off, elen);
            } else {
                /* the attacker computes a valid hash for a record with the
                 * next seq and the real prev_hash */
                int64_t sq = lines[li].seq;
                char rec[256], body[512];
                snprintf(rec, sizeof rec, "{\"kind\":\"request\",\"seq\":%lld,\"user\":\"mallory\"}", (long long)sq);
                const char *ph = memmem(clean + lines[li].off, lines[li].len, "\"prev_hash\":\"", 13);
                unsigned char prev[32], h[32];
                for (int i = 0; i < 32; i++) {
                    unsigned x = 0;
                    sscanf(ph + 13 + 2 * i, "%2x", &x);
                    prev[i] = (unsigned char)x;
                }
                crypto_generichash_state hs;
                crypto_generichash_init(&hs, NULL, 0, 32);
                crypto_generichash_update(&hs, prev, 32);
                crypto_generichash_update(&hs, (const unsigned char *)rec, strlen(rec));
                crypto_generichash_final(&hs, h, 32);
                char hh[65], body_rec[300];
                for (int i = 0; i < 32; i++)
                    snprintf(hh + 2 * i, 3, "%02x", h[i]);
                size_t q = 0;
                for (const char *c = rec; *c; c++) {
                    if (*c == '"')
                        body_rec[q++] = '\\';
                    body_rec[q++] = *c;
                }
                body_rec[q] = '\0';
                snprintf(body, sizeof body, "{\"hash\":\"%s\",\"kind\":\"record\",\"prev_hash\":\"%.64s\",\"record\":\"%s\",\"seq\":%lld}\n",
                         hh, ph + 13, body_rec, (long long)sq);
                elen = strlen(body);
                memcpy(extra, body, elen);
            }
            memcpy(mod, clean, lines[li].off);
            memcpy(mod + lines[li].off, extra, elen);
            memcpy(mod + lines[li].off + elen, clean + lines[li].off, len - lines[li].off);
            mlen = len + elen;
            from = lines[li].off;
            bound = lines[li].seq;
            break;
        }
        case 5:     /* the user name kept beside a record edited */
        case 6: {   /* a salt edited (still valid hex) */
            const char *key = kind == 5 ? "\"user\":\"u1\"" : "\"user_salt\":\"";
            const char *k = NULL;
            do {
                li = rng_below(&st, n_lines);
                k = lines[li].record ? memmem(clean + lines[li].off, lines[li].len, key, strlen(key)) : NULL;
            } while (!k);
            memcpy(mod, clean, len);
            mlen = len;
            size_t p = (size_t)(k - clean) + strlen(key) - (kind == 5 ? 2 : 0) + (kind == 6 ? rng_below(&st, 32) : 0);
            char nb;
            do
                nb = "0123456789abcdef"[rng_below(&st, 16)];
            while (nb == clean[p]);
            mod[p] = nb;
            from = lines[li].off;
            bound = lines[li].seq;
            break;
        }
        case 7: {   /* a record marked erased (naming a later record as its
                     * erasure half of the time) and its prompt edited */
            const char *k = NULL;
            do {
                li = rng_below(&st, n_lines);
                k = lines[li].record ? memmem(clean + lines[li].off, lines[li].len, "\"prompt\":\"F", 11) : NULL;
            } while (!k);
            char ins[96];
            int64_t later = lines[li].seq + 1 + (int64_t)rng_below(&st, 50);
            int il = (rng_next(&st) & 1) ? snprintf(ins, sizeof ins, "\"erased\":true,\"erased_by\":%lld,", (long long)later)
                                         : snprintf(ins, sizeof ins, "\"erased\":true,");
            size_t at = lines[li].off + 1;   /* right after the line's '{' */
            memcpy(mod, clean, at);
            memcpy(mod + at, ins, (size_t)il);
            memcpy(mod + at + il, clean + at, len - at);
            mlen = len + (size_t)il;
            mod[(size_t)(k - clean) + 10 + (size_t)il] = 'G';   /* "Frage" -> "Grage" */
            from = lines[li].off;
            bound = lines[li].seq;
            break;
        }
        default: {  /* truncated at a random byte */
            size_t p = rng_below(&st, len);
            memcpy(mod, clean, p);
            mlen = p;
            while (lines[li + 1].off <= p)
                li++;
            from = lines[li].off;
            bound = lines[li].seq;
            break;
        }
        }
        tried[kind]++;
        hh_audit_verify_result_t rr = verify_resumed(snaps, n_snaps, lines, mod, mlen, from);
        if (t % 50 == 0) {   /* the resumed verdict is the full verdict */
            hh_audit_verify_result_t full;
            hh_audit_verify_jsonl(mod, mlen, pk, &full);
            ASSERT_EQ_INT(full.ok, rr.ok);
            ASSERT_EQ_INT(full.bad_seq, rr.bad_seq);
            ASSERT_STREQ(full.why, rr.why);
            full_checked++;
        }
        if (rr.ok || rr.bad_seq > bound) {
            printf("    trial %d (%s, line %zu, seq %lld): ok=%d bad_seq=%lld why=%s\n", t, names[kind], li,
                   (long long)bound, rr.ok, (long long)rr.bad_seq, rr.why);
            continue;
        }
        detected[kind]++;
    }
    double t3 = (double)clock() / CLOCKS_PER_SEC;
    for (int k = 0; k < KINDS; k++) {
        printf("    %-11s detected %d / %d\n", names[k], detected[k], tried[k]);
        ASSERT_EQ_INT(detected[k], tried[k]);
    }
    printf("    %d records, %zu bytes; build+export %.2f s, full verify %.3f s, %d trials %.2f s (%d also verified in full)\n",
           N, len, t1 - t0, t2 - t1, TRIALS + FIELD_TRIALS, t3 - t2, full_checked);
    free(mod);
    free(lines);
    free(snaps);
    free(clean);
}

/* Flips one hex digit of the "sig" of the line holding `marker`. */
static bool flip_sig(char *text, const char *marker)
{
    char *line = strstr(text, marker);
    char *sig = line ? strstr(line, "\"sig\":\"") : NULL;
    if (!sig)
        return false;
    sig += 7 + 10;
    *sig = *sig == '0' ? '1' : '0';
    return true;
}

TEST(audit_signatures_and_keys)
{
    const char *dir = fresh_dir("sig");
    hh_err_t err;
    hh_store_t *s = NULL;
    ASSERT_OK(hh_store_open(&s, dir, &err));
    hh_audit_params_t p = { .checkpoint_every = 4 };
    hh_audit_entry_t es[10];
    for (int i = 0; i < 10; i++)
        es[i] = (hh_audit_entry_t){ .kind = "admin", .user = "root", .detail = "rotated keys", .decision = "done" };
    ASSERT_OK(hh_audit_append_batch(s, &p, es, 10, NULL, &err));
    size_t len = 0;
    char *text = export_text(s, 1, &len);
    ASSERT_TRUE(text != NULL);
    unsigned char pk[32];
    ASSERT_OK(hh_audit_public_key(s, pk, &err));
    hh_audit_verify_result_t r;
    hh_audit_verify_jsonl(text, len, pk, &r);
    ASSERT_TRUE(r.ok);
    ASSERT_EQ_INT(r.n_checkpoints, 3);   /* 4, 8, export's 10 */
    /* a wrong key fails at the first signature */
    unsigned char other[32], osk[64];
    crypto_sign_keypair(other, osk);
    hh_audit_verify_jsonl(text, len, other, &r);
    ASSERT_FALSE(r.ok);
    ASSERT_EQ_INT(r.bad_seq, 4);
    ASSERT_TRUE(strstr(r.why, "bad checkpoint signature") != NULL);
    /* a tampered checkpoint signature, and a tampered head signature */
    char *t2 = strdup(text);
    ASSERT_TRUE(flip_sig(t2, "\"kind\":\"checkpoint\",\"seq\":8"));
    hh_audit_verify_jsonl(t2, len, pk, &r);
    ASSERT_FALSE(r.ok);
    ASSERT_EQ_INT(r.bad_seq, 8);
    ASSERT_TRUE(strstr(r.why, "bad checkpoint signature") != NULL);
    free(t2);
    t2 = strdup(text);
    ASSERT_TRUE(flip_sig(t2, "\"kind\":\"head\""));
    hh_audit_verify_jsonl(t2, len, pk, &r);
    ASSERT_FALSE(r.ok);
    ASSERT_EQ_INT(r.bad_seq, 10);
    ASSERT_TRUE(strstr(r.why, "bad head signature") != NULL);
    free(t2);
    free(text);
    /* in the store: a re-signed checkpoint with a foreign key fails */
    hh_store_close(s);
    ASSERT_EQ_INT(hh_test_db_exec(dir, "UPDATE audit_checkpoints SET sig = zeroblob(64) WHERE seq = 4"), SQLITE_OK);
    ASSERT_OK(hh_store_open(&s, dir, &err));
    ASSERT_OK(hh_audit_verify_store(s, NULL, &r, &err));
    ASSERT_FALSE(r.ok);
    ASSERT_EQ_INT(r.bad_seq, 4);
    /* the store's key and audit.pub must agree */
    char ppath[600];
    snprintf(ppath, sizeof ppath, "%s/audit.pub", dir);
    FILE *f = fopen(ppath, "w");
    ASSERT_TRUE(f != NULL);
    for (int i = 0; i < 32; i++)
        fprintf(f, "%02x", other[i]);
    fputc('\n', f);
    fclose(f);
    ASSERT_EQ_INT(hh_audit_public_key(s, pk, &err), HH_EFORMAT);
    hh_store_close(s);
}

TEST(audit_retention_anchor)
{
    const char *dir = fresh_dir("retention");
    hh_err_t err;
    hh_store_t *s = NULL;
    ASSERT_OK(hh_store_open(&s, dir, &err));
    const int64_t day = 24LL * 3600 * 1000;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    const int64_t now = (int64_t)ts.tv_sec * 1000;
    /* 30 records 400..371 days old, 20 records 100..81 days old, 5 today */
    hh_audit_entry_t es[55];
    for (int i = 0; i < 55; i++) {
        int64_t age = i < 30 ? (400 - i) * day : i < 50 ? (100 - (i - 30)) * day : 1000;
        es[i] = (hh_audit_entry_t){ .kind = "request", .time_ms = now - age, .user = "u", .prompt = "p",
                                    .output = "o", .decision = "released" };
    }
    hh_audit_params_t p = { .checkpoint_every = 10 };
    ASSERT_OK(hh_audit_append_batch(s, &p, es, 55, NULL, &err));
    /* high-risk minimum (6 months) keeps everything younger: only the 30 go */
    int64_t n = -1;
    ASSERT_OK(hh_audit_expire(s, now - 50 * day, HH_AUDIT_MIN_RETENTION_HIGH_RISK_MS, &n, &err));
    ASSERT_EQ_INT(n, 30);
    hh_audit_verify_result_t r;
    ASSERT_OK(hh_audit_verify_store(s, NULL, &r, &err));
    if (!r.ok)
        printf("    bad %lld: %s\n", (long long)r.bad_seq, r.why);
    ASSERT_TRUE(r.ok);
    ASSERT_TRUE(r.anchored);
    ASSERT_EQ_INT(r.first_seq, 31);
    ASSERT_EQ_INT(r.last_seq, 56);   /* + the retention record */
    ASSERT_EQ_INT(r.n_checkpoints, 2);   /* 40, 50 (10..30 went with their records) */
    size_t len = 0;
    char *text = export_text(s, 1, &len);
    ASSERT_TRUE(text != NULL);
    ASSERT_TRUE(strstr(text, "deleted audit records 1..30") != NULL);
    unsigned char pk[32];
    ASSERT_OK(hh_audit_public_key(s, pk, &err));
    hh_audit_verify_jsonl(text, len, pk, &r);
    ASSERT_TRUE(r.ok);
    ASSERT_EQ_INT(r.first_seq, 31);
    /* the anchor's signature is checked */
    char *a = strstr(text, "\"sig\":\"");
    ASSERT_TRUE(a != NULL && strstr(text, "\"kind\":\"anchor\"") < a);
    a[7] = a[7] == 'a' ? 'b' : 'a';
    hh_audit_verify_jsonl(text, len, pk, &r);
    ASSERT_FALSE(r.ok);
    ASSERT_EQ_INT(r.bad_seq, 31);
    ASSERT_TRUE(strstr(r.why, "anchor") != NULL);
    free(text);
    /* a cutoff inside the minimum does nothing; no minimum: the rest goes
     * up to the last record, which always stays */
    ASSERT_OK(hh_audit_expire(s, now, HH_AUDIT_MIN_RETENTION_HIGH_RISK_MS, &n, &err));
    ASSERT_EQ_INT(n, 0);
    ASSERT_OK(hh_audit_expire(s, now + day, 0, &n, &err));
    ASSERT_EQ_INT(n, 25);
    ASSERT_OK(hh_audit_verify_store(s, NULL, &r, &err));
    ASSERT_TRUE(r.ok);
    ASSERT_EQ_INT(r.first_seq, 56);
    ASSERT_EQ_INT(r.last_seq, 57);
    /* deleting a kept record behind the anchor is caught */
    hh_store_close(s);
    ASSERT_EQ_INT(hh_test_db_exec(dir, "DELETE FROM audit_log WHERE seq = 56"), SQLITE_OK);
    ASSERT_OK(hh_store_open(&s, dir, &err));
    ASSERT_OK(hh_audit_verify_store(s, NULL, &r, &err));
    ASSERT_FALSE(r.ok);
    ASSERT_EQ_INT(r.bad_seq, 56);
    ASSERT_TRUE(strstr(r.why, "record 56 missing") != NULL);
    hh_store_close(s);
}

typedef struct conc_arg {
    hh_store_t *s;
    int         id, n, fails;
} conc_arg_t;

static void *conc_worker(void *p)
{
    conc_arg_t *a = p;
    for (int i = 0; i < a->n; i++) {
        char prompt[64];
        snprintf(prompt, sizeof prompt, "thread %d request %d", a->id, i);
        hh_audit_entry_t e = { .kind = "request", .user = "t", .prompt = prompt, .decision = "released" };
        hh_audit_params_t prm = { .checkpoint_every = 7 };
        if (hh_audit_append(a->s, &prm, &e, NULL, NULL) != 0)
            a->fails++;
    }
    return NULL;
}

TEST(audit_concurrent_appends)
{
    const char *dir = fresh_dir("conc");
    hh_err_t err;
    hh_store_t *s = NULL;
    ASSERT_OK(hh_store_open(&s, dir, &err));
    enum { T = 4, PER = 25 };
    pthread_t th[T];
    conc_arg_t args[T];
    for (int i = 0; i < T; i++) {
        args[i] = (conc_arg_t){ .s = s, .id = i, .n = PER };
        ASSERT_EQ_INT(pthread_create(&th[i], NULL, conc_worker, &args[i]), 0);
    }
    for (int i = 0; i < T; i++) {
        pthread_join(th[i], NULL);
        ASSERT_EQ_INT(args[i].fails, 0);
    }
    hh_audit_verify_result_t r;
    ASSERT_OK(hh_audit_verify_store(s, NULL, &r, &err));
    ASSERT_TRUE(r.ok);
    ASSERT_EQ_INT(r.n_records, T * PER);
    ASSERT_EQ_INT(r.n_checkpoints, T * PER / 7);
    hh_store_close(s);
}

/* Runs "$HOHEIT_BIN audit ARGS", returns its exit status (-1: no binary). */
static int run_cli(const char *args)
{
    char a[2048];
    snprintf(a, sizeof a, "audit %s", args);
    return hh_test_run_cli(a, NULL, false, NULL, 0);
}

TEST(audit_cli_verify_exit_codes)
{
    if (!getenv("HOHEIT_BIN")) SKIP("HOHEIT_BIN is not set (run through `make test`)");
    const char *dir = fresh_dir("cli");
    hh_err_t err;
    hh_store_t *s = NULL;
    ASSERT_OK(hh_store_open(&s, dir, &err));
    hh_audit_entry_t es[30];
    for (int i = 0; i < 30; i++)
        es[i] = (hh_audit_entry_t){ .kind = "request", .user = "cli", .prompt = "Was ist los?", .output = "nichts",
                                    .decision = "released" };
    ASSERT_OK(hh_audit_append_batch(s, NULL, es, 30, NULL, &err));
    hh_store_close(s);
    char args[1400], out[700];
    snprintf(out, sizeof out, "%s/export.jsonl", dir);
    snprintf(args, sizeof args, "verify --data %s", dir);
    ASSERT_EQ_INT(run_cli(args), 0);
    snprintf(args, sizeof args, "export --data %s --out %s", dir, out);
    ASSERT_EQ_INT(run_cli(args), 0);
    snprintf(args, sizeof args, "verify --data %s --file %s", dir, out);
    ASSERT_EQ_INT(run_cli(args), 0);
    /* one byte of the exported file changed: exit 1 */
    size_t len = 0;
    char *text = hh_test_read_file(out, &len);
    ASSERT_TRUE(text != NULL);
    char *p = strstr(text, "nichts");
    ASSERT_TRUE(p != NULL);
    p[0] = 'N';
    FILE *f = fopen(out, "wb");
    ASSERT_TRUE(f != NULL);
    ASSERT_EQ_INT(fwrite(text, 1, len, f), len);
    fclose(f);
    free(text);
    ASSERT_EQ_INT(run_cli(args), 1);
    /* retention without a minimum: all but the last record (31: the
     * export's own record) go; the rest (behind the anchor, plus the
     * retention record 32 and the expire command's admin record 33)
     * verifies */
    snprintf(args, sizeof args, "expire --data %s --older-than 0 --min-days 0", dir);
    ASSERT_EQ_INT(run_cli(args), 0);
    ASSERT_OK(hh_store_open(&s, dir, &err));
    hh_audit_verify_result_t r;
    ASSERT_OK(hh_audit_verify_store(s, NULL, &r, &err));
    ASSERT_TRUE(r.ok);
    ASSERT_EQ_INT(r.first_seq, 31);
    ASSERT_EQ_INT(r.last_seq, 33);
    hh_store_close(s);
    snprintf(args, sizeof args, "verify --data %s", dir);
    ASSERT_EQ_INT(run_cli(args), 0);
    /* the database edited: exit 1; bad usage: 2 */
    ASSERT_EQ_INT(hh_test_db_exec(dir, "UPDATE audit_log SET detail = replace(detail, 'export', 'import') WHERE seq = 31"),
                  SQLITE_OK);
    ASSERT_EQ_INT(run_cli(args), 1);
    ASSERT_EQ_INT(run_cli("frobnicate"), 2);
    snprintf(args, sizeof args, "expire --data %s", dir);
    ASSERT_EQ_INT(run_cli(args), 2);
}

/* ---- the request path: one record per finished request --------------- */

/* POSTs json as key (over http_helpers: "Connection: close", read to EOF);
 * returns the HTTP status (0 on a transport error). */
static int http_post(int port, const char *key, const char *path, const char *json)
{
    hh_test_req_t q = { .method = "POST", .path = path, .key = key, .body = json };
    char *body = NULL;
    int status = hh_test_http_status(port, &q, &body);
    free(body);
    return status < 0 ? 0 : status;
}

/* The records of the store's log as parsed objects (caller deletes). */
static cJSON *records_of(hh_store_t *st)
{
    size_t len = 0;
    char *text = export_text(st, 1, &len);
    cJSON *arr = cJSON_CreateArray();
    for (char *line = text ? strtok(text, "\n") : NULL; line; line = strtok(NULL, "\n")) {
        cJSON *l = cJSON_Parse(line);
        const cJSON *rec = cJSON_GetObjectItemCaseSensitive(l, "record");
        if (cJSON_IsString(rec)) {
            /* the texts travel beside the hashed record */
            cJSON *r = cJSON_Parse(rec->valuestring);
            const char *keys[] = { "prompt", "output", "user", "detail" };
            for (int k = 0; k < 4; k++) {
                const cJSON *t = cJSON_GetObjectItemCaseSensitive(l, keys[k]);
                if (r && cJSON_IsString(t))
                    cJSON_AddStringToObject(r, keys[k], t->valuestring);
            }
            cJSON_AddItemToArray(arr, r);
        }
        cJSON_Delete(l);
    }
    free(text);
    return arr;
}

TEST(audit_request_path_records)
{
    hh_test_srv_t t;
    ASSERT_OK(hh_test_srv_start(&t, "audit-http", NULL));   /* stories260K, one slot, one thread */
    /* the hash of the model file the server loaded */
    char dst[700];
    snprintf(dst, sizeof dst, "%s/models/stories260K.gguf", t.data);
    size_t mlen = 0;
    unsigned char *model = hh_test_read_file(dst, &mlen);
    ASSERT_TRUE(model != NULL);
    unsigned char mh[32];
    crypto_hash_sha256(mh, model, mlen);
    free(model);
    char want_mh[65];
    for (int i = 0; i < 32; i++)
        snprintf(want_mh + 2 * i, 3, "%02x", mh[i]);

    hh_err_t err;
    hh_store_t *st = t.st;
    char key[HH_KEY_LEN + 1];
    ASSERT_OK(hh_test_srv_user(&t, "auditee", "member", key, NULL));
    const char *chat = "{\"model\":\"stories260K\",\"max_tokens\":6,\"temperature\":0,"
                       "\"messages\":[{\"role\":\"user\",\"content\":\"Once upon a time\"}]%s}";
    char body[512];
    snprintf(body, sizeof body, chat, "");
    ASSERT_EQ_INT(http_post(t.port, key, "/v1/chat/completions", body), 200);
    snprintf(body, sizeof body, chat, ",\"stream\":true");
    ASSERT_EQ_INT(http_post(t.port, key, "/v1/chat/completions", body), 200);
    ASSERT_EQ_INT(http_post(t.port, key, "/v1/completions",
                            "{\"model\":\"no-such-model\",\"prompt\":\"Hello\",\"max_tokens\":3}"),
                  404);
    /* the stream's record is written when MHD lets go of the response */
    cJSON *recs = NULL;
    for (int i = 0; i < 200; i++) {
        cJSON_Delete(recs);
        recs = records_of(st);
        if (cJSON_GetArraySize(recs) >= 3)
            break;
        usleep(10000);
    }
    ASSERT_EQ_INT(cJSON_GetArraySize(recs), 3);
    int released = 0, refused = 0;
    char first_out[65] = "";
    cJSON *r;
    cJSON_ArrayForEach(r, recs) {
        ASSERT_STREQ(hh_test_json_str(r, "kind"), "request");
        ASSERT_STREQ(hh_test_json_str(r, "user"), "auditee");
        const char *uc = hh_test_json_str(r, "use_case");
        hh_reg_policy_t pol;
        bool hashes = strcmp(uc, "(none)") && hh_register_policy_for(st, uc, &pol, NULL) == 0 &&
                      pol.audit_detail == HH_AUDIT_HASHES;
        ASSERT_STREQ(hh_test_json_str(r, "text"), hashes ? "hash" : "full");
        if (!strcmp(hh_test_json_str(r, "decision"), "released")) {
            released++;
            ASSERT_STREQ(hh_test_json_str(r, "model"), "stories260K");
            ASSERT_STREQ(hh_test_json_str(r, "model_sha256"), want_mh);
            if (!hashes) {
                ASSERT_TRUE(strstr(hh_test_json_str(r, "prompt"), "Once upon a time") != NULL);
                ASSERT_TRUE(strlen(hh_test_json_str(r, "output")) > 0);
            }
            /* the prompt is the messages array as JSON; both runs (temperature
             * 0, stream and not) produced the same output */
            char ph[65];
            sha256_hex("[{\"role\":\"user\",\"content\":\"Once upon a time\"}]", ph);
            ASSERT_STREQ(hh_test_json_str(r, "prompt_sha256"), ph);
            if (!hashes) {
                sha256_hex(hh_test_json_str(r, "output"), ph);
                ASSERT_STREQ(hh_test_json_str(r, "output_sha256"), ph);
            }
            if (released == 1)
                snprintf(first_out, sizeof first_out, "%s", hh_test_json_str(r, "output_sha256"));
            else
                ASSERT_STREQ(hh_test_json_str(r, "output_sha256"), first_out);
        } else {
            refused++;
            ASSERT_STREQ(hh_test_json_str(r, "decision"), "refused");
            ASSERT_STREQ(hh_test_json_str(r, "model"), "no-such-model");
            ASSERT_TRUE(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(r, "model_sha256")));
            ASSERT_TRUE(strstr(hh_test_json_str(r, "detail"), "no-such-model") != NULL);
            char ph[65];
            sha256_hex("Hello", ph);
            ASSERT_STREQ(hh_test_json_str(r, "prompt_sha256"), ph);
            ASSERT_TRUE(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(r, "output_sha256")));
        }
    }
    ASSERT_EQ_INT(released, 2);
    ASSERT_EQ_INT(refused, 1);
    cJSON_Delete(recs);
    hh_audit_verify_result_t vr;
    ASSERT_OK(hh_audit_verify_store(st, NULL, &vr, &err));
    ASSERT_TRUE(vr.ok);
    hh_test_srv_stop(&t);
}

/* ---- PII redaction per policy ------------------------------------------- */

/* Occurrences of needle in the file at path (0 when missing). */
static long count_in_file(const char *path, const char *needle)
{
    size_t n = 0;
    unsigned char *d = hh_test_read_file(path, &n);
    long c = 0;
    size_t nl = strlen(needle);
    for (size_t i = 0; d && i + nl <= n; i++)
        c += memcmp(d + i, needle, nl) == 0;
    free(d);
    return c;
}

static void make_usecase(hh_store_t *s, const char *slug, bool redact)
{
    char doc[512];
    snprintf(doc, sizeof doc,
             "{\"slug\":\"%s\",\"purpose\":\"test\",\"answers\":{},"
             "\"policy\":{\"pii_redaction\":%s,\"audit_detail\":\"full\"}}", slug, redact ? "true" : "false");
    cJSON *in = cJSON_Parse(doc);
    hh_err_t err;
    int rc = hh_register_create(s, in, "admin", NULL, &err);
    if (rc)
        printf("    register %s: %s\n", slug, err.msg);
    cJSON_Delete(in);
}

TEST(audit_pii_redaction_per_policy)
{
    const char *dir = fresh_dir("pii");
    hh_err_t err;
    hh_store_t *s = NULL;
    ASSERT_OK(hh_store_open(&s, dir, &err));
    make_usecase(s, "hr-redact", true);
    make_usecase(s, "plain-text", false);
    hh_reg_policy_t pol;
    ASSERT_OK(hh_register_policy_for(s, "hr-redact", &pol, &err));
    ASSERT_TRUE(pol.pii_redaction);
    ASSERT_OK(hh_register_policy_for(s, "plain-text", &pol, &err));
    ASSERT_FALSE(pol.pii_redaction);
    /* the names list of the data dir */
    char npath[600];
    snprintf(npath, sizeof npath, "%s/pii-names.txt", dir);
    FILE *f = fopen(npath, "w");
    ASSERT_TRUE(f != NULL);
    fputs("# names\nKunigunde Zwirbel\n", f);
    fclose(f);
    static const char *const secrets[] = { "erika.muster@example.org", "DE89370400440532013000", "+49 30 1234567",
                                           "Kunigunde Zwirbel" };
    const char *prompt = "Bitte an erika.muster@example.org schreiben, IBAN DE89370400440532013000, "
                         "Tel. +49 30 1234567, Kunigunde Zwirbel; Kopie an erika.muster@example.org";
    const char *output = "Erledigt, erika.muster@example.org informiert.";
    hh_audit_entry_t es[3] = {
        { .kind = "request", .user = "bob", .use_case = "hr-redact", .prompt = prompt, .output = output,
          .decision = "released", .detail = "for erika.muster@example.org" },
        { .kind = "request", .user = "bob", .use_case = "hr-redact", .prompt = prompt, .output = output,
          .decision = "released", .hash_only = true },
        { .kind = "request", .user = "bob", .use_case = "plain-text", .prompt = "Mail an hans.x@example.com",
          .output = "ok", .decision = "released" },
    };
    int64_t first = 0;
    ASSERT_OK(hh_audit_append_batch(s, NULL, es, 3, &first, &err));
    ASSERT_EQ_INT(first, 1);
    size_t len = 0;
    char *text = export_text(s, 1, &len);
    ASSERT_TRUE(text != NULL);
    unsigned char pk[32];
    ASSERT_OK(hh_audit_public_key(s, pk, &err));
    hh_audit_verify_result_t r;
    hh_audit_verify_jsonl(text, len, pk, &r);
    ASSERT_TRUE(r.ok);
    ASSERT_OK(hh_audit_verify_store(s, NULL, &r, &err));
    if (!r.ok)
        printf("    bad %lld: %s\n", (long long)r.bad_seq, r.why);
    ASSERT_TRUE(r.ok);
    /* none of the personal data in the export; the counts in the record */
    for (size_t i = 0; i < 4; i++)
        if (strstr(text, secrets[i]))
            hh_test_fail(__FILE__, __LINE__, "\"%s\" in the export", secrets[i]);
    ASSERT_TRUE(strstr(text, "\\\"pii_redacted\\\":{\\\"email\\\":4,\\\"iban\\\":1,\\\"name\\\":1,\\\"phone\\\":1}") != NULL);
    ASSERT_TRUE(strstr(text, "[EMAIL:") != NULL);
    ASSERT_TRUE(strstr(text, "[IBAN:") != NULL);
    /* the record hashes the redacted text (the same for the hash-only one) */
    cJSON *recs = records_of(s);
    ASSERT_EQ_INT(cJSON_GetArraySize(recs), 3);
    const cJSON *r0 = cJSON_GetArrayItem(recs, 0), *r1 = cJSON_GetArrayItem(recs, 1), *r2 = cJSON_GetArrayItem(recs, 2);
    const char *red = hh_test_json_str(r0, "prompt");
    ASSERT_TRUE(strstr(red, "Tel. [PHONE:") != NULL);
    ASSERT_TRUE(strstr(red, "[NAME:") != NULL);
    char h[65];
    sha256_hex(red, h);
    ASSERT_STREQ(hh_test_json_str(r0, "prompt_sha256"), h);
    ASSERT_STREQ(hh_test_json_str(r1, "prompt_sha256"), h);
    ASSERT_STREQ(hh_test_json_str(r1, "text"), "hash");
    sha256_hex(prompt, h);
    ASSERT_TRUE(strcmp(hh_test_json_str(r0, "prompt_sha256"), h) != 0);
    ASSERT_TRUE(strstr(hh_test_json_str(r0, "detail"), "[EMAIL:") != NULL);
    ASSERT_STREQ(hh_test_json_str(r0, "user"), "bob");                      /* the user is not redacted, erasure handles it */
    /* a use case without redaction keeps the text */
    ASSERT_STREQ(hh_test_json_str(r2, "prompt"), "Mail an hans.x@example.com");
    ASSERT_TRUE(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(r2, "pii_redacted")));
    cJSON_Delete(recs);
    free(text);
    hh_store_close(s);
    /* nor in the raw database files */
    static const char *const files[] = { "hoheit.db", "hoheit.db-wal" };
    for (int k = 0; k < 2; k++) {
        char path[600];
        snprintf(path, sizeof path, "%s/%s", dir, files[k]);
        for (size_t i = 0; i < 4; i++) {
            long c = count_in_file(path, secrets[i]);
            if (c)
                hh_test_fail(__FILE__, __LINE__, "\"%s\" %ld times in %s", secrets[i], c, path);
        }
    }
    char dbp[600];
    snprintf(dbp, sizeof dbp, "%s/hoheit.db", dir);
    char walp[600];
    snprintf(walp, sizeof walp, "%s/hoheit.db-wal", dir);
    ASSERT_GE(count_in_file(dbp, "hans.x@example.com") + count_in_file(walp, "hans.x@example.com"), 1);
}

/* ---- erased rows need an erasure record ----------------------------------- */

static void verify_expect(const char *dir, bool ok, int64_t bad_seq, const char *why)
{
    hh_err_t err;
    hh_store_t *s = NULL;
    if (hh_store_open(&s, dir, &err)) {
        hh_test_fail(__FILE__, __LINE__, "open: %s", err.msg);
        return;
    }
    hh_audit_verify_result_t r;
    if (hh_audit_verify_store(s, NULL, &r, &err) == 0) {
        if (r.ok != ok || (!ok && (r.bad_seq != bad_seq || !strstr(r.why, why))))
            hh_test_fail(__FILE__, __LINE__, "store: expected ok=%d bad %lld (%s), got ok=%d bad %lld: %s", ok,
                         (long long)bad_seq, why, r.ok, (long long)r.bad_seq, r.why);
        /* the export gives the same verdict */
        size_t len = 0;
        char *text = export_text(s, 1, &len);
        unsigned char pk[32];
        hh_audit_public_key(s, pk, NULL);
        hh_audit_verify_result_t rj;
        hh_audit_verify_jsonl(text ? text : "", len, pk, &rj);
        if (rj.ok != ok || (!ok && rj.bad_seq != bad_seq))
            hh_test_fail(__FILE__, __LINE__, "jsonl: expected ok=%d bad %lld, got ok=%d bad %lld: %s", ok,
                         (long long)bad_seq, rj.ok, (long long)rj.bad_seq, rj.why);
        free(text);
    }
    hh_store_close(s);
}

TEST(audit_erased_rows_need_erasure_record)
{
    const char *dir = fresh_dir("erased");
    hh_err_t err;
    hh_store_t *s = NULL;
    ASSERT_OK(hh_store_open(&s, dir, &err));
    for (int i = 1; i <= 6; i++) {
        char prompt[64];
        snprintf(prompt, sizeof prompt, "question %d", i);
        hh_audit_entry_t e = { .kind = "request", .user = "carla", .prompt = prompt, .output = "answer",
                               .decision = "released", .detail = "note" };
        ASSERT_OK(hh_audit_append(s, NULL, &e, NULL, &err));
    }
    /* an erasure record (seq 7) covering rows 2 and 3 */
    ASSERT_EQ_INT(hh_test_db_exec(dir, "SELECT 1"), SQLITE_OK);
    hh_store_close(s);
    ASSERT_EQ_INT(hh_test_db_exec(dir, "UPDATE audit_log SET prompt = '[NAME:x]', texts_erased = 1 WHERE seq = 2;"
                               "UPDATE audit_log SET user_name = '[NAME:x]', user_salt = NULL WHERE seq = 3"),
                  SQLITE_OK);
    verify_expect(dir, false, 2, "names no erasure record");
    ASSERT_OK(hh_store_open(&s, dir, &err));
    int64_t es_seq = 0;
    const int64_t covered[] = { 2, 3 };
    hh_audit_entry_t er = { .kind = "erasure", .decision = "erased", .erased_seqs = covered, .n_erased_seqs = 2 };
    ASSERT_OK(hh_audit_append(s, NULL, &er, &es_seq, &err));
    ASSERT_EQ_INT(es_seq, 7);
    hh_store_close(s);
    ASSERT_EQ_INT(hh_test_db_exec(dir, "UPDATE audit_log SET erased_by = 7 WHERE seq IN (2, 3)"), SQLITE_OK);
    verify_expect(dir, true, 0, "");
    /* flipping erased + editing the text of a row no erasure covers */
    ASSERT_EQ_INT(hh_test_db_exec(dir, "UPDATE audit_log SET prompt = 'edited', texts_erased = 1 WHERE seq = 5"), SQLITE_OK);
    verify_expect(dir, false, 5, "names no erasure record");
    /* ... and naming the erasure record that does not list it */
    ASSERT_EQ_INT(hh_test_db_exec(dir, "UPDATE audit_log SET erased_by = 7 WHERE seq = 5"), SQLITE_OK);
    verify_expect(dir, false, 2, "not all covered");
    /* ... or a record that does not exist */
    ASSERT_EQ_INT(hh_test_db_exec(dir, "UPDATE audit_log SET erased_by = 99 WHERE seq = 5"), SQLITE_OK);
    verify_expect(dir, false, 2, "not all covered");
    ASSERT_EQ_INT(hh_test_db_exec(dir, "UPDATE audit_log SET erased_by = 4 WHERE seq = 5"), SQLITE_OK);
    verify_expect(dir, false, 5, "not a later record");
    ASSERT_EQ_INT(hh_test_db_exec(dir, "UPDATE audit_log SET prompt = 'question 5', texts_erased = 0, erased_by = NULL "
                               "WHERE seq = 5"), SQLITE_OK);
    verify_expect(dir, true, 0, "");
    /* the user name, the detail and the salts are checked against the commitments */
    ASSERT_EQ_INT(hh_test_db_exec(dir, "UPDATE audit_log SET user_name = 'karla' WHERE seq = 4"), SQLITE_OK);
    verify_expect(dir, false, 4, "user text does not match");
    ASSERT_EQ_INT(hh_test_db_exec(dir, "UPDATE audit_log SET user_name = 'carla', detail = 'nope' WHERE seq = 4"), SQLITE_OK);
    verify_expect(dir, false, 4, "detail text does not match");
    ASSERT_EQ_INT(hh_test_db_exec(dir, "UPDATE audit_log SET detail = 'note', user_salt = zeroblob(16) WHERE seq = 4"),
                  SQLITE_OK);
    verify_expect(dir, false, 4, "user text does not match");
    ASSERT_EQ_INT(hh_test_db_exec(dir, "UPDATE audit_log SET user_salt = NULL WHERE seq = 4"), SQLITE_OK);
    verify_expect(dir, false, 4, "names no erasure record");
    /* an erased row's erasure mark cannot be dropped either */
    ASSERT_EQ_INT(hh_test_db_exec(dir, "UPDATE audit_log SET erased_by = NULL WHERE seq = 2"), SQLITE_OK);
    verify_expect(dir, false, 2, "names no erasure record");
}

/* Expired texts (retention sweep, govern/gdpr.h) use the erasure mechanism
 * with a "retention" record: it lists the rows, they name it; a row marked
 * expired without one is caught; the listed rows may later be cut behind
 * the anchor and the log still verifies (also as a partial export). */
TEST(audit_retention_record_covers_expired_rows)
{
    /* the canonical form: a retention record lists its rows only when it has some */
    const int64_t two[] = { 2, 3 };
    hh_audit_entry_t ce = { .kind = "retention", .decision = "expired" };
    hh_err_t err;
    char *c = hh_audit_canonical(&ce, 9, 1, NULL, NULL, &err);
    ASSERT_TRUE(c != NULL);
    ASSERT_TRUE(strstr(c, "erased_seqs") == NULL);
    free(c);
    ce.erased_seqs = two;
    ce.n_erased_seqs = 2;
    c = hh_audit_canonical(&ce, 9, 1, NULL, NULL, &err);
    ASSERT_TRUE(c != NULL);
    ASSERT_TRUE(strstr(c, "\"erased_seqs\":[2,3],\"kind\":\"retention\"") != NULL);
    free(c);

    const char *dir = fresh_dir("ret-cover");
    hh_store_t *s = NULL;
    ASSERT_OK(hh_store_open(&s, dir, &err));
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    const int64_t now = (int64_t)ts.tv_sec * 1000, day = 24LL * 3600 * 1000;
    /* seq 1..3 are 400 days old, 4..6 from today */
    for (int i = 1; i <= 6; i++) {
        char prompt[64];
        snprintf(prompt, sizeof prompt, "question %d", i);
        hh_audit_entry_t e = { .kind = "request", .time_ms = i <= 3 ? now - 400 * day + i : now - 1000 + i,
                               .user = "carla", .prompt = prompt, .output = "answer", .decision = "released",
                               .detail = "note" };
        ASSERT_OK(hh_audit_append(s, NULL, &e, NULL, &err));
    }
    hh_store_close(s);
    /* rows 2, 3 and 5 expired as the sweep does it, without a record yet */
    static const char expire_sql[] =
        "UPDATE audit_log SET prompt = '" HH_AUDIT_EXPIRED_TEXT "', output = '" HH_AUDIT_EXPIRED_TEXT "', "
        "user_name = '" HH_AUDIT_EXPIRED_TEXT "', detail = '" HH_AUDIT_EXPIRED_TEXT "', user_salt = NULL, "
        "detail_salt = NULL, texts_erased = 1 WHERE seq IN (2, 3, 5)";
    ASSERT_EQ_INT(hh_test_db_exec(dir, expire_sql), SQLITE_OK);
    verify_expect(dir, false, 2, "names no erasure record");
    /* the retention record (seq 7) lists them; they name it */
    ASSERT_OK(hh_store_open(&s, dir, &err));
    const int64_t covered[] = { 2, 3, 5 };
    hh_audit_entry_t re = { .kind = "retention", .decision = "expired", .detail = "expired texts",
                            .erased_seqs = covered, .n_erased_seqs = 3 };
    int64_t rseq = 0;
    ASSERT_OK(hh_audit_append(s, NULL, &re, &rseq, &err));
    ASSERT_EQ_INT(rseq, 7);
    hh_store_close(s);
    ASSERT_EQ_INT(hh_test_db_exec(dir, "UPDATE audit_log SET erased_by = 7 WHERE seq IN (2, 3, 5)"), SQLITE_OK);
    verify_expect(dir, true, 0, "");
    /* a row marked expired that the retention record does not list */
    ASSERT_EQ_INT(hh_test_db_exec(dir, "UPDATE audit_log SET prompt = '[expired]', texts_erased = 1, erased_by = 7 "
                               "WHERE seq = 4"), SQLITE_OK);
    verify_expect(dir, false, 2, "not all covered");
    ASSERT_EQ_INT(hh_test_db_exec(dir, "UPDATE audit_log SET erased_by = NULL WHERE seq = 4"), SQLITE_OK);
    verify_expect(dir, false, 4, "names no erasure record");
    ASSERT_EQ_INT(hh_test_db_exec(dir, "UPDATE audit_log SET prompt = 'question 4', texts_erased = 0 WHERE seq = 4"),
                  SQLITE_OK);
    verify_expect(dir, true, 0, "");
    /* a request record cannot vouch: naming it leaves the pair open */
    ASSERT_EQ_INT(hh_test_db_exec(dir, "UPDATE audit_log SET erased_by = 6 WHERE seq = 5"), SQLITE_OK);
    verify_expect(dir, false, 2, "not all covered");
    ASSERT_EQ_INT(hh_test_db_exec(dir, "UPDATE audit_log SET erased_by = 7 WHERE seq = 5"), SQLITE_OK);

    /* the chain's start (1..3) is cut: record 7 still lists 2 and 3, which
     * now lie behind the signed anchor */
    ASSERT_OK(hh_store_open(&s, dir, &err));
    int64_t n = -1;
    ASSERT_OK(hh_audit_expire(s, now - 200 * day, 0, &n, &err));
    ASSERT_EQ_INT(n, 3);
    hh_store_close(s);
    verify_expect(dir, true, 0, "");
    ASSERT_OK(hh_store_open(&s, dir, &err));
    hh_audit_verify_result_t r;
    ASSERT_OK(hh_audit_verify_store(s, NULL, &r, &err));
    ASSERT_TRUE(r.ok && r.anchored);
    ASSERT_EQ_INT(r.first_seq, 4);
    /* a partial export from seq 6 on: record 7 lists 5, behind its anchor */
    size_t len = 0;
    char *text = export_text(s, 6, &len);
    ASSERT_TRUE(text != NULL);
    unsigned char pk[32];
    ASSERT_OK(hh_audit_public_key(s, pk, &err));
    hh_audit_verify_jsonl(text, len, pk, &r);
    if (!r.ok)
        printf("    bad %lld: %s\n", (long long)r.bad_seq, r.why);
    ASSERT_TRUE(r.ok);
    ASSERT_EQ_INT(r.first_seq, 6);
    free(text);
    hh_store_close(s);
    /* behind the anchor is not a loophole: row 5 still has to be covered */
    ASSERT_EQ_INT(hh_test_db_exec(dir, "UPDATE audit_log SET erased_by = 8 WHERE seq = 5"), SQLITE_OK);
    verify_expect(dir, false, 5, "not all covered");
}
