/* audit.c - the audit log of audit.h: canonical records, the BLAKE2b hash
 * chain, Ed25519 checkpoints / head / anchor, the signing key in the data
 * directory, PII redaction per policy, retention and export as JSONL (the
 * verifier is in audit_verify.c). The rows are the store's (store.h "the
 * audit chain", store_audit.c): an append hands the store callbacks that
 * build each record once the store, inside its write transaction, knows
 * its seq and predecessor. */
#include "govern/audit.h"
#include "govern/audit_int.h"

#include "base/log.h"
#include "govern/pii.h"
#include "govern/register.h"
#include "store/store.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

const char HH_AUDIT_TAG_CKPT[8]   = { 'H', 'H', 'A', 'U', 'D', 'C', 'P', '1' };
const char HH_AUDIT_TAG_HEAD[8]   = { 'H', 'H', 'A', 'U', 'D', 'H', 'D', '1' };
const char HH_AUDIT_TAG_ANCHOR[8] = { 'H', 'H', 'A', 'U', 'D', 'A', 'N', '1' };

hh_audit_params_t hh_audit_default_params(void)
{
    hh_audit_params_t p = { .checkpoint_every = HH_AUDIT_DEFAULT_CHECKPOINT_EVERY };
    return p;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void hh_audit_to_hex(const unsigned char *b, size_t n, char *out)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[b[i] >> 4];
        out[2 * i + 1] = d[b[i] & 15];
    }
    out[2 * n] = '\0';
}

/* Strict: exactly 2n lowercase hex digits, so no edit of the text can
 * decode to the same bytes. */
bool hh_audit_from_hex(const char *s, unsigned char *out, size_t n)
{
    if (!s || strlen(s) != 2 * n)
        return false;
    for (size_t i = 0; i < 2 * n; i++) {
        char c = s[i];
        int v = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
        if (v < 0)
            return false;
        if (i % 2 == 0)
            out[i / 2] = (unsigned char)(v << 4);
        else
            out[i / 2] |= (unsigned char)v;
    }
    return true;
}

static void sig_msg(unsigned char msg[MSG_LEN], const char tag[8], int64_t seq, const unsigned char h[32])
{
    memcpy(msg, tag, 8);
    uint64_t u = (uint64_t)seq;
    for (int i = 0; i < 8; i++)
        msg[8 + i] = (unsigned char)(u >> (56 - 8 * i));
    memcpy(msg + 16, h, 32);
}

static void sign(const unsigned char sk[SK_LEN], const char tag[8], int64_t seq, const unsigned char h[32],
                 unsigned char sig[SIG_LEN])
{
    unsigned char msg[MSG_LEN];
    sig_msg(msg, tag, seq, h);
    crypto_sign_detached(sig, NULL, msg, MSG_LEN, sk);
}

bool hh_audit_sig_ok(const unsigned char pk[PK_LEN], const char tag[8], int64_t seq, const unsigned char h[32],
                   const unsigned char sig[SIG_LEN])
{
    unsigned char msg[MSG_LEN];
    sig_msg(msg, tag, seq, h);
    return crypto_sign_verify_detached(sig, msg, MSG_LEN, pk) == 0;
}

void hh_audit_chain_hash(const unsigned char prev[HASH_LEN], const char *rec, size_t len, unsigned char out[HASH_LEN])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, HASH_LEN);
    crypto_generichash_update(&st, prev, HASH_LEN);
    crypto_generichash_update(&st, (const unsigned char *)rec, len);
    crypto_generichash_final(&st, out, HASH_LEN);
}

/* ---- the signing key --------------------------------------------------- */

static int key_path(hh_store_t *s, const char *name, char *buf, size_t cap, hh_err_t *err)
{
    if (snprintf(buf, cap, "%s/%s", hh_store_data_dir(s), name) >= (int)cap)
        return hh_err_set(err, HH_EINVAL, -1, "audit: data directory path too long");
    return 0;
}

static int write_file_atomic(const char *path, const void *data, size_t n, bool exclusive, hh_err_t *err)
{
    char tmp[4200];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld.%08x", path, (long)getpid(), randombytes_random()) >= (int)sizeof tmp)
        return hh_err_set(err, HH_EINVAL, -1, "audit: path too long");
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return hh_err_set(err, HH_EIO, -1, "audit: cannot create %s: %s", tmp, strerror(errno));
    bool ok = write(fd, data, n) == (ssize_t)n && fsync(fd) == 0;
    close(fd);
    if (!ok) {
        unlink(tmp);
        return hh_err_set(err, HH_EIO, -1, "audit: cannot write %s", tmp);
    }
    /* link() fails on an existing name: of two creators racing, one wins
     * and the other reads the winner's key. */
    int rc = exclusive ? link(tmp, path) : rename(tmp, path);
    int e = errno;
    if (exclusive)
        unlink(tmp);
    if (rc != 0 && !(exclusive && e == EEXIST))
        return hh_err_set(err, HH_EIO, -1, "audit: cannot install %s: %s", path, strerror(e));
    return 0;
}

/* Reads DATA/audit.key, creating it (and audit.pub) on first use. */
static int load_key(hh_store_t *s, unsigned char sk[SK_LEN], hh_err_t *err)
{
    char path[4096];
    int rc = key_path(s, "audit.key", path, sizeof path, err);
    if (rc)
        return rc;
    for (int attempt = 0; attempt < 2; attempt++) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            ssize_t r = read(fd, sk, SK_LEN);
            close(fd);
            if (r != SK_LEN)
                return hh_err_set(err, HH_EFORMAT, -1, "audit: %s is not %d bytes", path, SK_LEN);
            return 0;
        }
        if (errno != ENOENT)
            return hh_err_set(err, HH_EIO, -1, "audit: cannot read %s: %s", path, strerror(errno));
        unsigned char pk[PK_LEN], nsk[SK_LEN];
        crypto_sign_keypair(pk, nsk);
        rc = write_file_atomic(path, nsk, SK_LEN, true, err);
        sodium_memzero(nsk, sizeof nsk);
        if (rc)
            return rc;
        /* audit.pub follows the installed key (ours or a racer's) */
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || read(fd, sk, SK_LEN) != SK_LEN) {
            if (fd >= 0)
                close(fd);
            return hh_err_set(err, HH_EIO, -1, "audit: cannot read back %s", path);
        }
        close(fd);
        char hex[2 * PK_LEN + 2];
        hh_audit_to_hex(sk + 32, PK_LEN, hex);   /* libsodium's secret key ends with the public key */
        hex[2 * PK_LEN] = '\n';
        char ppath[4096];
        if ((rc = key_path(s, "audit.pub", ppath, sizeof ppath, err)))
            return rc;
        return write_file_atomic(ppath, hex, 2 * PK_LEN + 1, false, err);
    }
    return hh_err_set(err, HH_EIO, -1, "audit: cannot create %s", path);
}

/* ---- signing callbacks of the store functions (store.h "the audit chain") */

/* The store calls these inside its transaction with the secret key as ctx. */
static void sign_checkpoint_cb(void *ctx, int64_t seq, const unsigned char hash[HASH_LEN], unsigned char sig[SIG_LEN])
{
    sign(ctx, HH_AUDIT_TAG_CKPT, seq, hash, sig);
}

/* ---- canonical records ---------------------------------------------------- */

static int cmp_items(const void *a, const void *b)
{
    const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
    return strcmp(x->string, y->string);
}

/* Relinks an object's members in byte order of their keys. */
static bool sort_object(cJSON *o)
{
    size_t n = 0;
    for (cJSON *c = o->child; c; c = c->next)
        n++;
    if (n < 2)
        return true;
    cJSON **v = malloc(n * sizeof *v);
    if (!v)
        return false;
    size_t i = 0;
    for (cJSON *c = o->child; c; c = c->next)
        v[i++] = c;
    qsort(v, n, sizeof *v, cmp_items);
    for (i = 0; i < n; i++) {
        v[i]->prev = i ? v[i - 1] : v[n - 1];   /* cJSON: child->prev is the last item */
        v[i]->next = i + 1 < n ? v[i + 1] : NULL;
    }
    o->child = v[0];
    free(v);
    return true;
}

static cJSON *str_or_null(const char *s)
{
    return s ? cJSON_CreateString(s) : cJSON_CreateNull();
}

static cJSON *int_raw(int64_t v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRId64, v);
    return cJSON_CreateRaw(buf);
}

static cJSON *sha_or_null(const char *text)
{
    if (!text)
        return cJSON_CreateNull();
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const unsigned char *)text, strlen(text));
    char hex[2 * crypto_hash_sha256_BYTES + 1];
    hh_audit_to_hex(h, sizeof h, hex);
    return cJSON_CreateString(hex);
}

/* The salted commitment of a short text: lowercase hex of
 * BLAKE2b-256(salt || text). */
void hh_audit_commit_hex(const unsigned char salt[HH_AUDIT_SALT_LEN], const char *text, char out[2 * HASH_LEN + 1])
{
    crypto_generichash_state st;
    unsigned char h[HASH_LEN];
    crypto_generichash_init(&st, NULL, 0, HASH_LEN);
    crypto_generichash_update(&st, salt, HH_AUDIT_SALT_LEN);
    crypto_generichash_update(&st, (const unsigned char *)text, strlen(text));
    crypto_generichash_final(&st, h, HASH_LEN);
    hh_audit_to_hex(h, HASH_LEN, out);
}

static cJSON *commit_or_null(const unsigned char *salt, const char *text)
{
    if (!text)
        return cJSON_CreateNull();
    char hex[2 * HASH_LEN + 1];
    hh_audit_commit_hex(salt, text, hex);
    return cJSON_CreateString(hex);
}

/* {"email":2,"iban":1}: the kinds with a count, lowercase, sorted. */
static cJSON *pii_counts_json(const size_t *counts)
{
    if (!counts)
        return cJSON_CreateNull();
    cJSON *o = cJSON_CreateObject();
    for (int k = 0; o && k < HH_PII_KIND_COUNT; k++) {
        if (!counts[k])
            continue;
        char name[16];
        const char *n = hh_pii_kind_name((hh_pii_kind_t)k);
        size_t i = 0;
        for (; n[i] && i + 1 < sizeof name; i++)
            name[i] = (char)((n[i] >= 'A' && n[i] <= 'Z') ? n[i] + 32 : n[i]);
        name[i] = '\0';
        cJSON *c = int_raw((int64_t)counts[k]);
        if (!c || !cJSON_AddItemToObject(o, name, c)) {
            cJSON_Delete(c);
            cJSON_Delete(o);
            return NULL;
        }
    }
    if (o && !sort_object(o)) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

char *hh_audit_canonical(const hh_audit_entry_t *e, int64_t seq, int64_t time_ms, const char *model_sha256_hex,
                         const hh_audit_extra_t *x, hh_err_t *err)
{
    static const hh_audit_extra_t none = { 0 };
    if (!x)
        x = &none;
    if (!e || !e->kind || (e->n_chunks && !e->chunk_ids) || (e->n_erased_seqs && !e->erased_seqs))
        return hh_err_set(err, HH_EINVAL, -1, "audit: an entry needs a kind"), NULL;
    if ((e->user && !x->user_salt) || (e->detail && !x->detail_salt))
        return hh_err_set(err, HH_EINVAL, -1, "audit: user and detail need their salts"), NULL;
    if (seq < 1 || seq >= MAX_JSON_INT || time_ms < 0 || time_ms >= MAX_JSON_INT)
        return hh_err_set(err, HH_ERANGE, -1, "audit: seq or time out of range"), NULL;
    for (size_t i = 0; i < e->n_erased_seqs; i++)
        if (e->erased_seqs[i] < 1 || e->erased_seqs[i] >= seq || (i && e->erased_seqs[i] <= e->erased_seqs[i - 1]))
            return hh_err_set(err, HH_EINVAL, -1, "audit: erased_seqs must increase and stay below the record"), NULL;
    cJSON *o = cJSON_CreateObject();
    cJSON *chunks = cJSON_CreateArray();
    bool ok = o && chunks;
    for (size_t i = 0; ok && i < e->n_chunks; i++) {
        cJSON *c = int_raw(e->chunk_ids[i]);
        ok = c && cJSON_AddItemToArray(chunks, c);
    }
    cJSON *conf;
    if (e->has_confidence && isfinite(e->confidence)) {
        double c = e->confidence < 0 ? 0 : e->confidence > 1 ? 1 : e->confidence;
        char buf[16];
        snprintf(buf, sizeof buf, "%.4f", c);
        conf = cJSON_CreateRaw(buf);
    } else {
        conf = cJSON_CreateNull();
    }
    if (ok) {
        ok = cJSON_AddItemToObject(o, "chunks", chunks);
        chunks = NULL;
    }
    ok = ok && conf && cJSON_AddItemToObject(o, "confidence", conf);
    if (!ok)
        cJSON_Delete(conf);
    ok = ok && cJSON_AddItemToObject(o, "decision", str_or_null(e->decision));
    ok = ok && cJSON_AddItemToObject(o, "detail_commit", commit_or_null(x->detail_salt, e->detail));
    /* the rows an erasure pseudonymized, or a retention sweep expired the
     * texts of (the verifier's coverage rule); a retention record that
     * expired no texts keeps the form it always had */
    bool covers = e->kind && (!strcmp(e->kind, "erasure") || (!strcmp(e->kind, "retention") && e->n_erased_seqs));
    if (ok && covers) {
        cJSON *es = cJSON_CreateArray();
        ok = es && cJSON_AddItemToObject(o, "erased_seqs", es);
        if (!ok)
            cJSON_Delete(es);
        for (size_t i = 0; ok && i < e->n_erased_seqs; i++) {
            cJSON *c = int_raw(e->erased_seqs[i]);
            ok = c && cJSON_AddItemToArray(es, c);
        }
    }
    ok = ok && cJSON_AddItemToObject(o, "kind", cJSON_CreateString(e->kind));
    ok = ok && cJSON_AddItemToObject(o, "model", str_or_null(e->model));
    ok = ok && cJSON_AddItemToObject(o, "model_sha256", str_or_null(model_sha256_hex));
    ok = ok && cJSON_AddItemToObject(o, "output_sha256", sha_or_null(e->output));
    ok = ok && cJSON_AddItemToObject(o, "pii_redacted", pii_counts_json(x->pii_counts));
    ok = ok && cJSON_AddItemToObject(o, "prompt_sha256", sha_or_null(e->prompt));
    /* only when set, so records without one keep the form they always had;
     * not personal data (random, or the client's own opaque id) */
    if (ok && e->request_id)
        ok = cJSON_AddItemToObject(o, "request_id", cJSON_CreateString(e->request_id));
    ok = ok && cJSON_AddItemToObject(o, "seq", int_raw(seq));
    ok = ok && cJSON_AddItemToObject(o, "text", cJSON_CreateString(e->hash_only ? "hash" : "full"));
    ok = ok && cJSON_AddItemToObject(o, "time_ms", int_raw(time_ms));
    ok = ok && cJSON_AddItemToObject(o, "use_case", str_or_null(e->use_case));
    ok = ok && cJSON_AddItemToObject(o, "user_commit", commit_or_null(x->user_salt, e->user));
    ok = ok && sort_object(o);
    char *out = ok ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(chunks);
    cJSON_Delete(o);
    if (!out)
        hh_err_set(err, HH_ENOMEM, -1, "audit: out of memory");
    return out;
}

/* ---- model file hashes ------------------------------------------------------ */

int hh_audit_file_sha256(hh_store_t *s, const char *path, char out_hex[65], hh_err_t *err)
{
    struct stat sb;
    if (!path || stat(path, &sb) != 0)
        return hh_err_set(err, HH_ENOENT, -1, "audit: cannot stat %s", path ? path : "(null)");
    char key[4200];
    if (snprintf(key, sizeof key, "sha256:%s:%lld:%lld.%09ld", path, (long long)sb.st_size,
                 (long long)sb.st_mtim.tv_sec, (long)sb.st_mtim.tv_nsec) >= (int)sizeof key)
        return hh_err_set(err, HH_EINVAL, -1, "audit: path too long");
    unsigned char h[32];
    bool found = false;
    int rc = hh_store_file_hash_get(s, key, h, &found, err);
    if (rc)
        return rc;
    if (!found) {
        /* hashed outside the lock: a model can take seconds */
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return hh_err_set(err, HH_EIO, -1, "audit: cannot open %s: %s", path, strerror(errno));
        crypto_hash_sha256_state st;
        crypto_hash_sha256_init(&st);
        unsigned char *buf = malloc(1 << 20);
        ssize_t r = -1;
        if (buf) {
            while ((r = read(fd, buf, 1 << 20)) > 0)
                crypto_hash_sha256_update(&st, buf, (unsigned long long)r);
        }
        free(buf);
        close(fd);
        if (r != 0)
            return hh_err_set(err, buf ? HH_EIO : HH_ENOMEM, -1, "audit: cannot read %s", path);
        crypto_hash_sha256_final(&st, h);
        rc = hh_store_file_hash_put(s, key, h, err);
        if (rc)
            return rc;
    }
    hh_audit_to_hex(h, 32, out_hex);
    return 0;
}

/* ---- PII redaction per policy ------------------------------------------------ */

/* The PII configuration audit records are redacted with: every kind,
 * keyed pseudonyms under the same key as the GDPR eraser's (so a redacted
 * address in an audit text is the token an erasure of that address
 * writes), and the person names of DATA/pii-names.txt when it exists. */
typedef struct pii_ctx {
    bool            ready;
    hh_pii_config_t cfg;
    unsigned char   key[32];
    char          **names;
    size_t          n_names;
} pii_ctx_t;

static void pii_ctx_init(hh_store_t *s, pii_ctx_t *c)
{
    if (c->ready)
        return;
    c->ready = true;
    hh_store_pseudonym_key(s, c->key);   /* the eraser's key (gdpr.c) */
    hh_pii_default_config(&c->cfg);
    c->cfg.pseudonymize = 1;
    c->cfg.key = c->key;
    c->cfg.key_len = sizeof c->key;
    char path[4096];
    struct stat sb;
    if (key_path(s, "pii-names.txt", path, sizeof path, NULL) == 0 && stat(path, &sb) == 0) {
        hh_err_t e;
        if (hh_pii_names_load(path, &c->names, &c->n_names, &e) == 0) {
            c->cfg.names = (const char *const *)c->names;
            c->cfg.n_names = c->n_names;
        } else {
            /* the other kinds are still redacted; the names list is fixed by the admin */
            HH_LOGW("audit: %s not used: %s", path, e.msg);
        }
    }
}

static void pii_ctx_free(pii_ctx_t *c)
{
    hh_pii_names_free(c->names, c->n_names);
    sodium_memzero(c->key, sizeof c->key);
}

/* One entry ready to be written: texts redacted per policy (owned copies),
 * salts drawn, model hash looked up. */
typedef struct prepared {
    hh_audit_entry_t e;            /* texts point at the copies below or at the caller's */
    char            *prompt, *output, *detail;   /* owned when redacted */
    bool             redacted;
    size_t           pii[HH_PII_KIND_COUNT];
    unsigned char    user_salt[HH_AUDIT_SALT_LEN], detail_salt[HH_AUDIT_SALT_LEN];
    char             model_hex[65];
} prepared_t;

static void prepared_free(prepared_t *p, size_t n)
{
    for (size_t i = 0; p && i < n; i++) {
        free(p[i].prompt);
        free(p[i].output);
        free(p[i].detail);
    }
    free(p);
}

/* Redacts *text (when set) into *owned and counts the spans per kind. */
static int redact_text(const pii_ctx_t *c, const char **text, char **owned, size_t counts[HH_PII_KIND_COUNT],
                       hh_err_t *err)
{
    if (!*text)
        return 0;
    size_t len = strlen(*text), n = 0, out_len = 0;
    hh_pii_span_t *spans = NULL;
    int rc = hh_pii_find(*text, len, &c->cfg, &spans, &n);
    for (size_t i = 0; rc == 0 && i < n; i++)
        counts[spans[i].kind]++;
    free(spans);
    if (rc == 0)
        rc = hh_pii_redact(*text, len, &c->cfg, owned, &out_len);
    if (rc)
        return hh_err_set(err, rc, -1, "audit: PII redaction failed: %s", hh_strerror(rc));
    *text = *owned;
    return 0;
}

/* Everything that must not run under the store's mutex: policy lookups
 * (the register takes the mutex), redaction, the model hashes (the first
 * one reads the whole file; a missing file is recorded as null rather than
 * losing the record). *out is owned by the caller (prepared_free). */
static int prepare_entries(hh_store_t *s, const hh_audit_entry_t *entries, size_t n, bool lookups, prepared_t **out,
                           hh_err_t *err)
{
    prepared_t *p = calloc(n, sizeof *p);
    if (!p)
        return hh_err_set(err, HH_ENOMEM, -1, "audit: out of memory");
    pii_ctx_t pc = { 0 };
    const char *last_uc = NULL;
    bool last_redact = false;
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        prepared_t *q = &p[i];
        q->e = entries[i];
        randombytes_buf(q->user_salt, sizeof q->user_salt);
        randombytes_buf(q->detail_salt, sizeof q->detail_salt);
        if (lookups && q->e.model_path) {
            if (i > 0 && entries[i - 1].model_path && !strcmp(entries[i - 1].model_path, q->e.model_path))
                memcpy(q->model_hex, p[i - 1].model_hex, 65);
            else if (hh_audit_file_sha256(s, q->e.model_path, q->model_hex, NULL) != 0)
                q->model_hex[0] = '\0';
        }
        if (!lookups || !q->e.use_case)
            continue;
        /* a batch repeats its use case: look it up once per run of equals */
        if (!last_uc || strcmp(last_uc, q->e.use_case) != 0) {
            hh_reg_policy_t pol;
            last_redact = hh_register_policy_for(s, q->e.use_case, &pol, NULL) == 0 && pol.pii_redaction;
            last_uc = q->e.use_case;
        }
        if (!last_redact)
            continue;
        pii_ctx_init(s, &pc);
        q->redacted = true;
        if (!(rc = redact_text(&pc, &q->e.prompt, &q->prompt, q->pii, err)) &&
            !(rc = redact_text(&pc, &q->e.output, &q->output, q->pii, err)))
            rc = redact_text(&pc, &q->e.detail, &q->detail, q->pii, err);
    }
    pii_ctx_free(&pc);
    if (rc) {
        prepared_free(p, n);
        return rc;
    }
    *out = p;
    return 0;
}

/* What the store's append callbacks need: the prepared entries, the
 * signing key, the checkpoint interval, the time of the append. */
typedef struct append_ctx {
    const hh_audit_params_t *p;
    const unsigned char     *sk;
    const prepared_t        *entries;
    int64_t                  t_now;
} append_ctx_t;

/* Record i of the batch as record seq after prev (store.h
 * hh_store_audit_appender_t.build): the canonical text, its chain hash,
 * the texts kept beside it, and the checkpoint when seq is due one. */
static int build_record(void *ctx, size_t i, int64_t seq, const unsigned char prev[HASH_LEN],
                        hh_store_audit_new_t *out, hh_err_t *err)
{
    const append_ctx_t *a = ctx;
    const prepared_t *q = &a->entries[i];
    const hh_audit_entry_t *e = &q->e;
    hh_audit_extra_t x = { .user_salt = q->user_salt, .detail_salt = q->detail_salt,
                           .pii_counts = q->redacted ? q->pii : NULL };
    char *rec = hh_audit_canonical(e, seq, e->time_ms > 0 ? e->time_ms : a->t_now,
                                   q->model_hex[0] ? q->model_hex : NULL, &x, err);
    if (!rec)
        return err ? err->code : HH_ENOMEM;
    out->record = rec;
    out->record_len = strlen(rec);
    hh_audit_chain_hash(prev, rec, out->record_len, out->hash);
    /* the texts live outside the hashed record (its hashes and
     * commitments cover them), so erasure (govern/gdpr) can overwrite them */
    out->prompt = e->hash_only ? NULL : e->prompt;
    out->output = e->hash_only ? NULL : e->output;
    if (e->user) {
        out->user_name = e->user;
        out->user_salt = q->user_salt;
    }
    if (e->detail) {
        out->detail = e->detail;
        out->detail_salt = q->detail_salt;
    }
    if (seq % a->p->checkpoint_every == 0) {
        out->checkpoint = true;
        sign(a->sk, HH_AUDIT_TAG_CKPT, seq, out->hash, out->checkpoint_sig);
    }
    return 0;
}

static void sign_head_cb(void *ctx, int64_t seq, const unsigned char hash[HASH_LEN], unsigned char sig[SIG_LEN])
{
    const append_ctx_t *a = ctx;
    sign(a->sk, HH_AUDIT_TAG_HEAD, seq, hash, sig);
}

/* The store's appender for n prepared entries (ac lives as long as it). */
static hh_store_audit_appender_t appender(append_ctx_t *ac, size_t n)
{
    hh_store_audit_appender_t a = { .n = n, .public_key = ac->sk + 32,   /* libsodium's secret key ends with it */
                                    .build = build_record, .sign_head = sign_head_cb, .ctx = ac };
    return a;
}

static int check_entries(const hh_audit_params_t *p, const hh_audit_entry_t *entries, size_t n, hh_err_t *err)
{
    if ((n && !entries) || p->checkpoint_every < 1)
        return hh_err_set(err, HH_EINVAL, -1, "audit: bad append arguments");
    for (size_t i = 0; i < n; i++)
        if (!entries[i].kind)
            return hh_err_set(err, HH_EINVAL, -1, "audit: an entry needs a kind");
    return 0;
}

int hh_audit_append_batch(hh_store_t *s, const hh_audit_params_t *p, const hh_audit_entry_t *entries, size_t n,
                          int64_t *first_seq_out, hh_err_t *err)
{
    hh_audit_params_t dp = hh_audit_default_params();
    if (!p)
        p = &dp;
    if (!s)
        return hh_err_set(err, HH_EINVAL, -1, "audit: bad append arguments");
    int rc = check_entries(p, entries, n, err);
    if (rc || n == 0)
        return rc;
    prepared_t *prep_e = NULL;
    if ((rc = prepare_entries(s, entries, n, true, &prep_e, err)))
        return rc;
    unsigned char sk[SK_LEN];
    if ((rc = load_key(s, sk, err))) {
        prepared_free(prep_e, n);
        return rc;
    }
    int64_t first = 0;
    append_ctx_t ac = { .p = p, .sk = sk, .entries = prep_e, .t_now = now_ms() };
    hh_store_audit_appender_t ap = appender(&ac, n);
    rc = hh_store_audit_append(s, &ap, &first, err);
    if (!rc && first_seq_out)
        *first_seq_out = first;
    sodium_memzero(sk, sizeof sk);
    prepared_free(prep_e, n);
    return rc;
}

int hh_audit_append(hh_store_t *s, const hh_audit_params_t *p, const hh_audit_entry_t *e, int64_t *seq_out,
                    hh_err_t *err)
{
    if (!e)
        return hh_err_set(err, HH_EINVAL, -1, "audit: bad append arguments");
    return hh_audit_append_batch(s, p, e, 1, seq_out, err);
}

int hh_audit_append_locked(hh_store_t *s, const hh_audit_entry_t *e, int64_t *seq_out, hh_err_t *err)
{
    hh_audit_params_t dp = hh_audit_default_params();
    if (!s || !e || e->model_path)
        return hh_err_set(err, HH_EINVAL, -1, "audit: bad append arguments");
    int rc = check_entries(&dp, e, 1, err);
    prepared_t *q = NULL;
    if (rc || (rc = prepare_entries(s, e, 1, false, &q, err)))
        return rc;
    unsigned char sk[SK_LEN];
    int64_t first = 0;
    if (!(rc = load_key(s, sk, err))) {
        append_ctx_t ac = { .p = &dp, .sk = sk, .entries = q, .t_now = now_ms() };
        hh_store_audit_appender_t ap = appender(&ac, 1);
        rc = hh_store_audit_append_locked(s, &ap, &first, err);
    }
    sodium_memzero(sk, sizeof sk);
    prepared_free(q, 1);
    if (!rc && seq_out)
        *seq_out = first;
    return rc;
}

int hh_audit_checkpoint(hh_store_t *s, hh_err_t *err)
{
    unsigned char sk[SK_LEN];
    int rc = load_key(s, sk, err);
    if (rc)
        return rc;
    rc = hh_store_audit_checkpoint_last(s, sign_checkpoint_cb, sk, err);
    sodium_memzero(sk, sizeof sk);
    return rc;
}

/* ---- retention ----------------------------------------------------------------- */

static int64_t record_time(const char *rec, size_t len)
{
    cJSON *o = cJSON_ParseWithLength(rec, len);
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "time_ms");
    int64_t v = cJSON_IsNumber(t) ? (int64_t)t->valuedouble : -1;
    cJSON_Delete(o);
    return v;
}

typedef struct cut_ctx {
    const unsigned char *sk;
    int64_t              cutoff;
} cut_ctx_t;

/* A record goes when its time is before the cutoff (one without a time
 * stays, and so does everything after it). */
static bool expired_cb(void *ctx, const char *rec, size_t len)
{
    const cut_ctx_t *c = ctx;
    int64_t t = record_time(rec, len);
    return t >= 0 && t < c->cutoff;
}

static void cut_anchor_cb(void *ctx, int64_t seq, const unsigned char prev[HASH_LEN], unsigned char sig[SIG_LEN])
{
    const cut_ctx_t *c = ctx;
    sign(c->sk, HH_AUDIT_TAG_ANCHOR, seq, prev, sig);
}

int hh_audit_expire(hh_store_t *s, int64_t before_ms, int64_t min_retention_ms, int64_t *n_deleted,
                    hh_err_t *err)
{
    if (n_deleted)
        *n_deleted = 0;
    if (min_retention_ms < 0)
        return hh_err_set(err, HH_EINVAL, -1, "audit: negative minimum retention");
    int64_t cutoff = now_ms() - min_retention_ms;
    if (before_ms < cutoff)
        cutoff = before_ms;
    unsigned char sk[SK_LEN];
    int rc = load_key(s, sk, err);
    if (rc)
        return rc;
    int64_t first = 0, keep = 0, deleted = 0;
    cut_ctx_t cc = { .sk = sk, .cutoff = cutoff };
    hh_store_audit_cutter_t cutter = { .expired = expired_cb, .sign_anchor = cut_anchor_cb, .ctx = &cc };
    rc = hh_store_audit_cut(s, &cutter, &first, &keep, &deleted, err);
    sodium_memzero(sk, sizeof sk);
    if (rc || deleted == 0)
        return rc;
    if (n_deleted)
        *n_deleted = deleted;
    char detail[160];
    snprintf(detail, sizeof detail, "deleted audit records %" PRId64 "..%" PRId64 " (older than %" PRId64 " ms)",
             first, keep - 1, cutoff);
    hh_audit_entry_t e = { .kind = "retention", .decision = "expired", .detail = detail };
    return hh_audit_append(s, NULL, &e, NULL, err);
}

/* ---- public key ------------------------------------------------------------------- */

int hh_audit_public_key(hh_store_t *s, unsigned char pk[HH_AUDIT_PK_LEN], hh_err_t *err)
{
    char path[4096];
    int rc = key_path(s, "audit.pub", path, sizeof path, err);
    if (rc)
        return rc;
    unsigned char fpk[PK_LEN];
    bool have_file = false, have_db = false;
    FILE *f = fopen(path, "re");
    if (f) {
        char hex[2 * PK_LEN + 8] = { 0 };
        size_t n = fread(hex, 1, sizeof hex - 1, f);
        fclose(f);
        while (n && (hex[n - 1] == '\n' || hex[n - 1] == '\r'))
            hex[--n] = '\0';
        if (!hh_audit_from_hex(hex, fpk, PK_LEN))
            return hh_err_set(err, HH_EFORMAT, -1, "audit: %s is not 64 hex digits", path);
        have_file = true;
    }
    rc = hh_store_audit_public_key(s, pk, &have_db, err);
    if (rc)
        return rc;
    if (have_file && have_db && memcmp(fpk, pk, PK_LEN) != 0)
        return hh_err_set(err, HH_EFORMAT, -1, "audit: %s differs from the database's public key", path);
    if (have_file)
        memcpy(pk, fpk, PK_LEN);
    if (!have_file && !have_db)
        return hh_err_set(err, HH_ENOENT, -1, "audit: no audit key yet (nothing was logged)");
    return 0;
}

/* ---- export --------------------------------------------------------------------------- */

static int put_line(FILE *f, cJSON *o, hh_err_t *err)
{
    char *txt = (o && sort_object(o)) ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (!txt)
        return hh_err_set(err, HH_ENOMEM, -1, "audit: out of memory");
    int ok = fputs(txt, f) >= 0 && fputc('\n', f) != EOF;
    free(txt);
    return ok ? 0 : hh_err_set(err, HH_EIO, -1, "audit: write failed: %s", strerror(errno));
}

static cJSON *line_obj(const char *kind, int64_t seq)
{
    cJSON *o = cJSON_CreateObject();
    if (o) {
        cJSON_AddStringToObject(o, "kind", kind);
        cJSON_AddItemToObject(o, "seq", int_raw(seq));
    }
    return o;
}

static void add_hex(cJSON *o, const char *key, const unsigned char *b, size_t n)
{
    char hex[2 * SIG_LEN + 1];
    hh_audit_to_hex(b, n, hex);
    if (o)
        cJSON_AddStringToObject(o, key, hex);
}

/* The export's walk state (hh_store_audit_walk's visitor). */
typedef struct export_ctx {
    FILE                *f;
    const unsigned char *sk;
    int64_t              anchor_seq;   /* 0: no well-formed anchor kept */
    unsigned char        anchor_sig[SIG_LEN];
    int64_t              cur_seq;      /* the last record written (0: none yet) */
} export_ctx_t;

static int export_record(export_ctx_t *x, const hh_store_audit_rec_t *r, hh_err_t *err)
{
    if (r->prev_hash_len != HASH_LEN || r->hash_len != HASH_LEN)
        return hh_err_set(err, HH_EFORMAT, -1, "audit: record %" PRId64 " malformed", r->seq);
    int rc;
    if (x->cur_seq == 0 && r->seq > 1) {
        /* the retention anchor when it is this record's, else a fresh
         * signed statement that the export starts here */
        unsigned char asig[SIG_LEN];
        if (r->seq == x->anchor_seq)
            memcpy(asig, x->anchor_sig, SIG_LEN);
        else
            sign(x->sk, HH_AUDIT_TAG_ANCHOR, r->seq, r->prev_hash, asig);
        cJSON *o = line_obj("anchor", r->seq);
        add_hex(o, "prev_hash", r->prev_hash, HASH_LEN);
        add_hex(o, "sig", asig, SIG_LEN);
        if ((rc = put_line(x->f, o, err)))
            return rc;
    }
    x->cur_seq = r->seq;
    cJSON *o = line_obj("record", r->seq);
    char *copy = malloc(r->record_len + 1);
    if (copy) {
        memcpy(copy, r->record, r->record_len);
        copy[r->record_len] = '\0';
    }
    if (o && copy)
        cJSON_AddStringToObject(o, "record", copy);
    free(copy);
    add_hex(o, "prev_hash", r->prev_hash, HASH_LEN);
    add_hex(o, "hash", r->hash, HASH_LEN);
    /* texts outside the chain (the record holds their SHA-256) */
    if (o && r->prompt)
        cJSON_AddStringToObject(o, "prompt", r->prompt);
    if (o && r->output)
        cJSON_AddStringToObject(o, "output", r->output);
    if (o && r->texts_erased)
        cJSON_AddTrueToObject(o, "erased");
    if (o && r->user_name)
        cJSON_AddStringToObject(o, "user", r->user_name);
    if (o && r->detail)
        cJSON_AddStringToObject(o, "detail", r->detail);
    /* salts as written (a damaged one is exported as it is and fails) */
    if (o && r->user_salt && r->user_salt_len <= SIG_LEN)
        add_hex(o, "user_salt", r->user_salt, r->user_salt_len);
    if (o && r->detail_salt && r->detail_salt_len <= SIG_LEN)
        add_hex(o, "detail_salt", r->detail_salt, r->detail_salt_len);
    if (o && r->erased_by != 0)
        cJSON_AddItemToObject(o, "erased_by", int_raw(r->erased_by));
    return put_line(x->f, o, err);
}

static int export_visit(void *ctx, const hh_store_audit_item_t *it, hh_err_t *err)
{
    export_ctx_t *x = ctx;
    const hh_store_audit_mark_t *m = &it->mark;
    bool mark_ok = m->hash_len == HASH_LEN && m->sig_len == SIG_LEN;
    cJSON *o;
    switch (it->kind) {
    case HH_STORE_AUDIT_ANCHOR:
        if (mark_ok) {
            x->anchor_seq = m->seq;
            memcpy(x->anchor_sig, m->sig, SIG_LEN);
        }
        return 0;
    case HH_STORE_AUDIT_RECORD:
        return export_record(x, &it->rec, err);
    case HH_STORE_AUDIT_CHECKPOINT:
        /* only a record's own checkpoint; one without its record is left
         * out (the verifier of the database reports it) */
        if (m->seq != x->cur_seq || x->cur_seq == 0 || !mark_ok)
            return 0;
        o = line_obj("checkpoint", m->seq);
        add_hex(o, "hash", m->hash, HASH_LEN);
        add_hex(o, "sig", m->sig, SIG_LEN);
        return put_line(x->f, o, err);
    case HH_STORE_AUDIT_HEAD:
        o = line_obj("head", m->seq);
        add_hex(o, "hash", m->hash, HASH_LEN);
        add_hex(o, "sig", m->sig, SIG_LEN);
        return put_line(x->f, o, err);
    }
    return 0;
}

int hh_audit_export(hh_store_t *s, int64_t from_seq, FILE *f, hh_err_t *err)
{
    if (from_seq < 1)
        from_seq = 1;
    int rc = hh_audit_checkpoint(s, err);
    if (rc)
        return rc;
    unsigned char sk[SK_LEN];
    if ((rc = load_key(s, sk, err)))
        return rc;
    export_ctx_t x = { .f = f, .sk = sk };
    rc = hh_store_audit_walk(s, from_seq, export_visit, &x, err);
    if (!rc && fflush(f) != 0)
        rc = hh_err_set(err, HH_EIO, -1, "audit: write failed: %s", strerror(errno));
    sodium_memzero(sk, sizeof sk);
    return rc;
}
