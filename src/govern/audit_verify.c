/* audit_verify.c - the audit log's verifier (audit.h): a streaming check of
 * records, texts beside them, checkpoints, anchor and head, fed from the
 * store or from an exported JSONL text; see docs/COMPLIANCE.md, "Audit
 * log", for the rules. */
#include "govern/audit.h"
#include "govern/audit_int.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- verifier ------------------------------------------------------------------------ */

static bool failed(const hh_audit_verifier_t *v)
{
    return !v->r.ok;
}

__attribute__((format(printf, 3, 4))) static void vfail(hh_audit_verifier_t *v, int64_t seq, const char *fmt, ...)
{
    if (failed(v))
        return;
    v->r.ok = false;
    v->r.bad_seq = seq < 1 ? 1 : seq;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->r.why, sizeof v->r.why, fmt, ap);
    va_end(ap);
}

void hh_audit_verifier_init(hh_audit_verifier_t *v, const unsigned char pk[HH_AUDIT_PK_LEN])
{
    memset(v, 0, sizeof *v);
    memcpy(v->pk, pk, PK_LEN);
    v->next_seq = 1;
    v->r.ok = true;
}

void hh_audit_verify_anchor(hh_audit_verifier_t *v, int64_t seq, const unsigned char prev[HH_AUDIT_HASH_LEN],
                            const unsigned char sig[HH_AUDIT_SIG_LEN])
{
    if (failed(v))
        return;
    if (v->started)
        return vfail(v, v->next_seq, "anchor after the start of the log");
    v->started = true;
    if (seq < 1 || seq >= MAX_JSON_INT)
        return vfail(v, 1, "anchor seq %" PRId64 " out of range", seq);
    if (!hh_audit_sig_ok(v->pk, HH_AUDIT_TAG_ANCHOR, seq, prev, sig))
        return vfail(v, seq, "bad anchor signature (seq %" PRId64 ")", seq);
    v->next_seq = seq;
    memcpy(v->last_hash, prev, HASH_LEN);
    v->r.anchored = true;
}

static void verify_erasure_list(hh_audit_verifier_t *v, int64_t seq, const cJSON *list);

void hh_audit_verify_record(hh_audit_verifier_t *v, int64_t seq, const char *rec, size_t len,
                            const unsigned char prev[HH_AUDIT_HASH_LEN], const unsigned char hash[HH_AUDIT_HASH_LEN])
{
    if (failed(v))
        return;
    v->started = true;
    if (v->head_seen)
        return vfail(v, seq < v->next_seq ? seq : v->next_seq, "record %" PRId64 " after the signed head", seq);
    if (seq != v->next_seq) {
        if (seq > v->next_seq)
            return vfail(v, v->next_seq, "missing record %" PRId64 " (next is %" PRId64 ")", v->next_seq, seq);
        return vfail(v, seq, "record %" PRId64 " repeated or out of order (expected %" PRId64 ")", seq, v->next_seq);
    }
    if (memcmp(prev, v->last_hash, HASH_LEN) != 0)
        return vfail(v, seq, "broken link: prev_hash is not the hash of record %" PRId64, seq - 1);
    unsigned char h[HASH_LEN];
    hh_audit_chain_hash(prev, rec, len, h);
    if (memcmp(h, hash, HASH_LEN) != 0)
        return vfail(v, seq, "hash mismatch (record content or hash changed)");
    /* the record names its own seq (covered by the hash) */
    cJSON *o = cJSON_ParseWithLength(rec, len);
    const cJSON *js = cJSON_GetObjectItemCaseSensitive(o, "seq");
    bool seq_ok = cJSON_IsNumber(js) && js->valuedouble == (double)seq;
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(o, "kind");
    /* erasure and retention records vouch for the rows they list */
    bool coverer = cJSON_IsString(kind) && (!strcmp(kind->valuestring, "erasure") ||
                                            !strcmp(kind->valuestring, "retention"));
    const cJSON *erasure_list = coverer ? cJSON_GetObjectItemCaseSensitive(o, "erased_seqs") : NULL;
    if (!seq_ok) {
        cJSON_Delete(o);
        return vfail(v, seq, "record does not carry seq %" PRId64, seq);
    }
    memcpy(v->last_hash, hash, HASH_LEN);
    if (erasure_list)
        verify_erasure_list(v, seq, erasure_list);
    cJSON_Delete(o);
    if (failed(v))
        return;
    if (!v->r.first_seq)
        v->r.first_seq = seq;
    v->r.last_seq = seq;
    v->r.n_records++;
    v->next_seq = seq + 1;
}

/* A checkpoint or the head: signs the record just verified. */
static void verify_signed(hh_audit_verifier_t *v, const char *tag, const char *what, int64_t seq,
                          const unsigned char hash[HASH_LEN], const unsigned char sig[SIG_LEN])
{
    if (failed(v))
        return;
    v->started = true;
    int64_t cur = v->next_seq - 1;
    if (v->r.n_records == 0 || seq != cur)
        return vfail(v, seq < cur ? seq : cur,
                     "%s for seq %" PRId64 " does not follow its record (last record %" PRId64 ")", what, seq, cur);
    if (memcmp(hash, v->last_hash, HASH_LEN) != 0)
        return vfail(v, seq, "%s hash differs from record %" PRId64 "'s hash", what, seq);
    if (!hh_audit_sig_ok(v->pk, tag, seq, hash, sig))
        return vfail(v, seq, "bad %s signature (seq %" PRId64 ")", what, seq);
}

void hh_audit_verify_checkpoint(hh_audit_verifier_t *v, int64_t seq, const unsigned char hash[HH_AUDIT_HASH_LEN],
                                const unsigned char sig[HH_AUDIT_SIG_LEN])
{
    if (failed(v))
        return;
    if (v->head_seen)
        return vfail(v, seq, "checkpoint after the signed head");
    if (seq <= v->last_ckpt_seq)
        return vfail(v, seq, "checkpoint %" PRId64 " repeated or out of order", seq);
    verify_signed(v, HH_AUDIT_TAG_CKPT, "checkpoint", seq, hash, sig);
    if (!failed(v)) {
        v->last_ckpt_seq = seq;
        v->r.n_checkpoints++;
    }
}

void hh_audit_verify_head(hh_audit_verifier_t *v, int64_t seq, const unsigned char hash[HH_AUDIT_HASH_LEN],
                          const unsigned char sig[HH_AUDIT_SIG_LEN])
{
    if (failed(v))
        return;
    if (v->head_seen)
        return vfail(v, seq, "second head");
    verify_signed(v, HH_AUDIT_TAG_HEAD, "head", seq, hash, sig);
    v->head_seen = true;
}

static bool get_seq(const cJSON *o, int64_t *seq)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, "seq");
    if (!cJSON_IsNumber(j) || !(j->valuedouble >= 1 && j->valuedouble < (double)MAX_JSON_INT))
        return false;
    *seq = (int64_t)j->valuedouble;
    return (double)*seq == j->valuedouble;
}

static bool get_hex(const cJSON *o, const char *key, unsigned char *out, size_t n)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(j) && hh_audit_from_hex(j->valuestring, out, n);
}

/* The point of the pair (seq, erased_by) in the coverage multiset hash. */
static void erased_point(int64_t seq, int64_t by, unsigned char pt[32])
{
    unsigned char msg[24], h[crypto_core_ristretto255_HASHBYTES];
    memcpy(msg, "HHAUDER1", 8);
    for (int i = 0; i < 8; i++) {
        msg[8 + i] = (unsigned char)((uint64_t)seq >> (56 - 8 * i));
        msg[16 + i] = (unsigned char)((uint64_t)by >> (56 - 8 * i));
    }
    crypto_generichash(h, sizeof h, msg, sizeof msg, NULL, 0);
    crypto_core_ristretto255_from_hash(pt, h);
}

static bool acc_is_identity(const unsigned char acc[32])
{
    static const unsigned char zero[32];
    return sodium_memcmp(acc, zero, 32) == 0;
}

/* An erasure or retention record (already chain-verified) lists the rows
 * it covers: their pairs leave the multiset. Listed rows before the start
 * of the log (behind a signed anchor: cut by retention, or a partial
 * export) are gone with their pairs and are skipped. */
static void verify_erasure_list(hh_audit_verifier_t *v, int64_t seq, const cJSON *list)
{
    if (!cJSON_IsArray(list))
        return vfail(v, seq, "erasure record %" PRId64 " has a malformed erased_seqs", seq);
    int64_t start = v->r.first_seq ? v->r.first_seq : seq;   /* first_seq is 0 while seq is the first record */
    int64_t prev = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, list) {
        int64_t c = cJSON_IsNumber(it) ? (int64_t)it->valuedouble : -1;
        if (c <= prev || c >= seq || (double)c != it->valuedouble)
            return vfail(v, seq, "erasure record %" PRId64 ": erased_seqs not increasing below it", seq);
        prev = c;
        if (c < start)
            continue;
        if (v->erased_open == 0 && !v->erased_first)
            v->erased_first = seq;
        unsigned char pt[32];
        erased_point(c, seq, pt);
        crypto_core_ristretto255_sub(v->erased_acc, v->erased_acc, pt);
        v->erased_open--;
    }
    if (v->erased_open == 0 && acc_is_identity(v->erased_acc))
        v->erased_first = 0;
}

/* Checks one short field against its salted commitment; *erased set when
 * the salt is gone (the text was pseudonymized). */
static void verify_commit(hh_audit_verifier_t *v, int64_t seq, const cJSON *o, const char *name, const char *text,
                          const unsigned char *salt, bool *erased)
{
    char key[32];
    snprintf(key, sizeof key, "%s_commit", name);
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(o, key);
    if (cJSON_IsNull(c)) {
        if (text || salt)
            vfail(v, seq, "record %" PRId64 " carries a %s it has no commitment for", seq, name);
        return;
    }
    if (!cJSON_IsString(c))
        return vfail(v, seq, "record %" PRId64 ": malformed %s", seq, key);
    if (!text)
        return vfail(v, seq, "record %" PRId64 " lacks its %s text", seq, name);
    if (!salt) {
        *erased = true;
        return;
    }
    char hex[2 * HASH_LEN + 1];
    hh_audit_commit_hex(salt, text, hex);
    if (strcmp(hex, c->valuestring) != 0)
        vfail(v, seq, "record %" PRId64 ": %s text does not match %s", seq, name, key);
}

void hh_audit_verify_fields(hh_audit_verifier_t *v, int64_t seq, const char *rec, size_t len,
                            const hh_audit_fields_t *f)
{
    if (failed(v))
        return;
    cJSON *o = cJSON_ParseWithLength(rec, len);
    const cJSON *mode = cJSON_GetObjectItemCaseSensitive(o, "text");
    bool full = cJSON_IsString(mode) && !strcmp(mode->valuestring, "full");
    /* from migration 8 on, user and detail are commitments */
    bool v8 = cJSON_GetObjectItemCaseSensitive(o, "user_commit") != NULL;
    static const char *const names[2] = { "prompt", "output" };
    static const char *const hashes[2] = { "prompt_sha256", "output_sha256" };
    const char *texts[2] = { f->prompt, f->output };
    for (int k = 0; k < 2 && !failed(v); k++) {
        /* a record written before migration 6 holds the text itself */
        if (cJSON_GetObjectItemCaseSensitive(o, names[k]))
            continue;
        const cJSON *h = cJSON_GetObjectItemCaseSensitive(o, hashes[k]);
        bool want = full && cJSON_IsString(h);
        if (!want && texts[k]) {
            vfail(v, seq, "record %" PRId64 " carries a %s text it has no hash for", seq, names[k]);
        } else if (want && !texts[k]) {
            vfail(v, seq, "record %" PRId64 " lacks its %s text", seq, names[k]);
        } else if (want && !f->erased) {
            unsigned char d[crypto_hash_sha256_BYTES];
            crypto_hash_sha256(d, (const unsigned char *)texts[k], strlen(texts[k]));
            char hex[2 * crypto_hash_sha256_BYTES + 1];
            hh_audit_to_hex(d, sizeof d, hex);
            if (strcmp(hex, h->valuestring) != 0)
                vfail(v, seq, "record %" PRId64 ": %s text does not match %s", seq, names[k], hashes[k]);
        }
    }
    bool short_erased = false;
    if (v8) {
        verify_commit(v, seq, o, "user", f->user, f->user_salt, &short_erased);
        verify_commit(v, seq, o, "detail", f->detail, f->detail_salt, &short_erased);
    } else if (!failed(v) && (f->user || f->detail || f->user_salt || f->detail_salt)) {
        vfail(v, seq, "record %" PRId64 " (user/detail inside) carries user or detail beside it", seq);
    }
    cJSON_Delete(o);
    if (failed(v))
        return;
    /* erased rows are vouched for by a later erasure or retention record (before
     * migration 8 the mark alone counted, and still does for those) */
    if (f->erased_by != 0) {
        if (f->erased_by <= seq || f->erased_by >= MAX_JSON_INT)
            return vfail(v, seq, "record %" PRId64 ": erased_by %" PRId64 " is not a later record", seq, f->erased_by);
        if (v->erased_open == 0 && !v->erased_first)
            v->erased_first = seq;
        unsigned char pt[32];
        erased_point(seq, f->erased_by, pt);
        crypto_core_ristretto255_add(v->erased_acc, v->erased_acc, pt);
        v->erased_open++;
    } else if (v8 && (f->erased || short_erased)) {
        vfail(v, seq, "record %" PRId64 " is marked erased but names no erasure record", seq);
    }
}

void hh_audit_verify_texts(hh_audit_verifier_t *v, int64_t seq, const char *rec, size_t len, const char *prompt,
                           const char *output, bool erased)
{
    hh_audit_fields_t f = { .prompt = prompt, .output = output, .erased = erased };
    hh_audit_verify_fields(v, seq, rec, len, &f);
}

/* An optional hex field of exactly n bytes: *out NULL when absent, false
 * when present but malformed. */
static bool opt_hex(const cJSON *o, const char *key, unsigned char *buf, size_t n, const unsigned char **out)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
    *out = NULL;
    if (!j)
        return true;
    if (!cJSON_IsString(j) || !hh_audit_from_hex(j->valuestring, buf, n))
        return false;
    *out = buf;
    return true;
}

void hh_audit_verify_line(hh_audit_verifier_t *v, const char *line, size_t len)
{
    if (failed(v))
        return;
    char *buf = malloc(len + 1);
    if (!buf)
        return vfail(v, v->next_seq, "out of memory");
    memcpy(buf, line, len);
    buf[len] = '\0';
    const char *end = NULL;
    cJSON *o = memchr(buf, '\0', len) ? NULL : cJSON_ParseWithOpts(buf, &end, 1);
    free(buf);
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(o, "kind");
    int64_t seq = 0;
    unsigned char a[HASH_LEN], b[HASH_LEN], sig[SIG_LEN];
    if (!cJSON_IsObject(o) || !cJSON_IsString(kind)) {
        /* unparseable: it may be the checkpoint of the last record as well
         * as the next record, so the last record is where trust ends */
        vfail(v, v->next_seq > 1 ? v->next_seq - 1 : 1, "malformed line (not a JSON object with a kind)");
    } else if (!get_seq(o, &seq)) {
        vfail(v, v->next_seq, "%s line without a valid seq", kind->valuestring);
    } else if (!strcmp(kind->valuestring, "record")) {
        const cJSON *rec = cJSON_GetObjectItemCaseSensitive(o, "record");
        if (!cJSON_IsString(rec) || !get_hex(o, "prev_hash", a, HASH_LEN) || !get_hex(o, "hash", b, HASH_LEN))
            vfail(v, v->next_seq, "record line %" PRId64 " lacks record, prev_hash or hash", seq);
        else
            hh_audit_verify_record(v, seq, rec->valuestring, strlen(rec->valuestring), a, b);
        const cJSON *pt = cJSON_GetObjectItemCaseSensitive(o, "prompt");
        const cJSON *ot = cJSON_GetObjectItemCaseSensitive(o, "output");
        const cJSON *ut = cJSON_GetObjectItemCaseSensitive(o, "user");
        const cJSON *dt = cJSON_GetObjectItemCaseSensitive(o, "detail");
        const cJSON *er = cJSON_GetObjectItemCaseSensitive(o, "erased");
        const cJSON *eb = cJSON_GetObjectItemCaseSensitive(o, "erased_by");
        unsigned char us[HH_AUDIT_SALT_LEN], ds[HH_AUDIT_SALT_LEN];
        hh_audit_fields_t fl = { 0 };
        int64_t by = 0;
        bool eb_ok = !eb || (cJSON_IsNumber(eb) && eb->valuedouble >= 1 && eb->valuedouble < (double)MAX_JSON_INT &&
                             (double)(by = (int64_t)eb->valuedouble) == eb->valuedouble);
        if ((pt && !cJSON_IsString(pt)) || (ot && !cJSON_IsString(ot)) || (ut && !cJSON_IsString(ut)) ||
            (dt && !cJSON_IsString(dt)) || (er && !cJSON_IsTrue(er)) || !eb_ok ||
            !opt_hex(o, "user_salt", us, sizeof us, &fl.user_salt) ||
            !opt_hex(o, "detail_salt", ds, sizeof ds, &fl.detail_salt)) {
            vfail(v, seq, "record line %" PRId64 " has a malformed prompt, output, user, detail, salt or erased mark",
                  seq);
        } else if (cJSON_IsString(rec)) {
            fl.prompt = pt ? pt->valuestring : NULL;
            fl.output = ot ? ot->valuestring : NULL;
            fl.user = ut ? ut->valuestring : NULL;
            fl.detail = dt ? dt->valuestring : NULL;
            fl.erased = er != NULL;
            fl.erased_by = by;
            hh_audit_verify_fields(v, seq, rec->valuestring, strlen(rec->valuestring), &fl);
        }
    } else if (!strcmp(kind->valuestring, "checkpoint") || !strcmp(kind->valuestring, "head")) {
        bool head = kind->valuestring[0] == 'h';
        if (!get_hex(o, "hash", a, HASH_LEN) || !get_hex(o, "sig", sig, SIG_LEN))
            vfail(v, seq < v->next_seq ? seq : v->next_seq, "%s line lacks hash or sig", kind->valuestring);
        else if (head)
            hh_audit_verify_head(v, seq, a, sig);
        else
            hh_audit_verify_checkpoint(v, seq, a, sig);
    } else if (!strcmp(kind->valuestring, "anchor")) {
        if (!get_hex(o, "prev_hash", a, HASH_LEN) || !get_hex(o, "sig", sig, SIG_LEN))
            vfail(v, v->next_seq, "anchor line lacks prev_hash or sig");
        else
            hh_audit_verify_anchor(v, seq, a, sig);
    } else {
        vfail(v, v->next_seq, "unknown line kind");
    }
    cJSON_Delete(o);
}

bool hh_audit_verifier_finish(hh_audit_verifier_t *v)
{
    if (!failed(v) && !v->head_seen)
        vfail(v, v->next_seq, "truncated: no signed head after record %" PRId64, v->next_seq - 1);
    if (!failed(v) && (v->erased_open != 0 || !acc_is_identity(v->erased_acc)))
        vfail(v, v->erased_first, "erased rows from record %" PRId64 " on are not all covered by the erasure "
              "records they name", v->erased_first);
    return v->r.ok;
}

void hh_audit_verifier_feed(hh_audit_verifier_t *v, const char *text, size_t len)
{
    size_t pos = 0;
    while (pos < len && !failed(v)) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
        hh_audit_verify_line(v, text + pos, n);
        if (!nl && !failed(v))
            vfail(v, v->next_seq > 1 ? v->next_seq - 1 : 1, "truncated: the last line has no newline");
        pos += n + 1;
    }
}

void hh_audit_verify_jsonl(const char *text, size_t len, const unsigned char pk[HH_AUDIT_PK_LEN],
                           hh_audit_verify_result_t *res)
{
    hh_audit_verifier_t v;
    hh_audit_verifier_init(&v, pk);
    hh_audit_verifier_feed(&v, text, len);
    hh_audit_verifier_finish(&v);
    *res = v.r;
}

/* The walk state of hh_audit_verify_store (hh_store_audit_walk's visitor). */
typedef struct verify_ctx {
    hh_audit_verifier_t v;
    int64_t             any;        /* records seen */
    int64_t             cur_seq;    /* the last record fed (0: none yet) */
    bool                tail_cut;   /* a checkpoint past the last record was reported */
    bool                have_head;
} verify_ctx_t;

/* Copies a stored mark's hash and signature (zeros where malformed);
 * false when either has the wrong size. */
static bool mark_copy(const hh_store_audit_mark_t *m, unsigned char h[HASH_LEN], unsigned char sig[SIG_LEN])
{
    memset(h, 0, HASH_LEN);
    memset(sig, 0, SIG_LEN);
    bool ok = m->hash && m->hash_len == HASH_LEN && m->sig && m->sig_len == SIG_LEN;
    if (ok) {
        memcpy(h, m->hash, HASH_LEN);
        memcpy(sig, m->sig, SIG_LEN);
    }
    return ok;
}

static void verify_db_record(verify_ctx_t *c, const hh_store_audit_rec_t *r)
{
    hh_audit_verifier_t *v = &c->v;
    int64_t seq = r->seq;
    c->any++;
    c->cur_seq = seq;
    unsigned char a[HASH_LEN] = { 0 }, b[HASH_LEN] = { 0 };
    if (r->prev_hash_len != HASH_LEN || r->hash_len != HASH_LEN)
        vfail(v, seq, "record row malformed (hash sizes)");
    else {
        memcpy(a, r->prev_hash, HASH_LEN);
        memcpy(b, r->hash, HASH_LEN);
    }
    hh_audit_verify_record(v, seq, r->record, r->record_len, a, b);
    hh_audit_fields_t fl = { .prompt = r->prompt, .output = r->output, .erased = r->texts_erased,
                             .user = r->user_name, .detail = r->detail, .erased_by = r->erased_by };
    unsigned char us[HH_AUDIT_SALT_LEN], ds[HH_AUDIT_SALT_LEN];
    /* a salt of the wrong size is a damaged row: it cannot match */
    if (r->user_salt) {
        if (r->user_salt_len != HH_AUDIT_SALT_LEN)
            vfail(v, seq, "record %" PRId64 ": user_salt is not %d bytes", seq, HH_AUDIT_SALT_LEN);
        else
            memcpy(us, r->user_salt, HH_AUDIT_SALT_LEN);
        fl.user_salt = us;
    }
    if (r->detail_salt) {
        if (r->detail_salt_len != HH_AUDIT_SALT_LEN)
            vfail(v, seq, "record %" PRId64 ": detail_salt is not %d bytes", seq, HH_AUDIT_SALT_LEN);
        else
            memcpy(ds, r->detail_salt, HH_AUDIT_SALT_LEN);
        fl.detail_salt = ds;
    }
    hh_audit_verify_fields(v, seq, r->record, r->record_len, &fl);
}

static int verify_visit(void *ctx, const hh_store_audit_item_t *it, hh_err_t *err)
{
    (void)err;
    verify_ctx_t *c = ctx;
    hh_audit_verifier_t *v = &c->v;
    const hh_store_audit_mark_t *m = &it->mark;
    unsigned char h[HASH_LEN], sig[SIG_LEN];
    switch (it->kind) {
    case HH_STORE_AUDIT_ANCHOR:
        if (!mark_copy(m, h, sig))
            vfail(v, 1, "anchor row malformed");
        hh_audit_verify_anchor(v, m->seq, h, sig);
        break;
    case HH_STORE_AUDIT_RECORD:
        verify_db_record(c, &it->rec);
        break;
    case HH_STORE_AUDIT_CHECKPOINT:
        if (m->seq != c->cur_seq || c->cur_seq == 0) {
            /* a checkpoint signs its record or a later one: when that
             * record is not there, one is missing (before the next record
             * kept, or the tail was cut) */
            if (it->records_after && m->seq >= v->next_seq)
                vfail(v, v->next_seq, "record %" PRId64 " missing (checkpoint %" PRId64 " signs it or a later one)",
                      v->next_seq, m->seq);
            if (!it->records_after && !c->tail_cut) {
                c->tail_cut = true;
                vfail(v, v->next_seq, "record %" PRId64 " missing: checkpoint %" PRId64
                      " signs it or a later one (tail cut)", v->next_seq, m->seq);
            }
        }
        if (!mark_copy(m, h, sig))
            vfail(v, m->seq, "checkpoint row malformed");
        hh_audit_verify_checkpoint(v, m->seq, h, sig);
        break;
    case HH_STORE_AUDIT_HEAD:
        c->have_head = true;
        if (m->seq >= v->next_seq)
            vfail(v, v->next_seq, "record %" PRId64 " missing: the signed head names record %" PRId64 " (tail cut)",
                  v->next_seq, m->seq);
        hh_audit_verify_head(v, m->seq, m->hash, m->sig);
        break;
    }
    return failed(v) ? 1 : 0;   /* the first failure is the verdict: stop reading */
}

int hh_audit_verify_store(hh_store_t *s, const unsigned char *pk, hh_audit_verify_result_t *res, hh_err_t *err)
{
    unsigned char key[PK_LEN];
    memset(res, 0, sizeof *res);
    int rc = 0;
    if (!pk) {
        rc = hh_audit_public_key(s, key, err);
        if (rc == HH_ENOENT) {   /* nothing logged yet: an empty log is fine */
            int64_t last = 0;
            unsigned char h[HASH_LEN];
            if ((rc = hh_store_audit_last(s, &last, h, err)))
                return rc;
            res->ok = last == 0;
            if (!res->ok) {
                res->bad_seq = 1;
                snprintf(res->why, sizeof res->why, "records without a public key");
            }
            return 0;
        }
        if (rc)
            return rc;
        pk = key;
    }
    verify_ctx_t c;
    memset(&c, 0, sizeof c);
    hh_audit_verifier_init(&c.v, pk);
    if ((rc = hh_store_audit_walk(s, 1, verify_visit, &c, err)))
        return rc;
    if (!failed(&c.v) && !c.have_head && c.any == 0 && !c.v.r.anchored)
        c.v.head_seen = true;   /* an empty log */
    hh_audit_verifier_finish(&c.v);
    *res = c.v.r;
    return 0;
}
