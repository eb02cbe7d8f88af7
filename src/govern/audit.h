/* audit.h - the tamper-evident audit log (EU AI Act Art. 12): every request,
 * answer and decision becomes one record in a hash chain kept in the store's
 * SQLite database (table audit_log, migration 3), with Ed25519-signed
 * checkpoints, a signed head, retention behind a signed anchor, JSONL
 * export, and a verifier for the database and for exported files.
 *
 * Scheme (docs/COMPLIANCE.md, "Audit log", is the normative text):
 *   record   canonical JSON: one object, keys sorted by byte value, no
 *            whitespace, strings as cJSON prints them (UTF-8 verbatim; ",
 *            \ and control characters escaped), integers in decimal, the
 *            confidence with exactly 4 decimals or null. Personal texts are
 *            NOT in it, only commitments to them: the prompt and output as
 *            their SHA-256 (prompt_sha256/output_sha256), the user name and
 *            the detail as salted commitments BLAKE2b-256(salt || text)
 *            with a random 16-byte salt per field and record
 *            (user_commit/detail_commit; a plain hash of a short name could
 *            be reversed from a list of names). The texts and salts are
 *            kept beside the record (audit_log.prompt/output/user_name/
 *            user_salt/detail/detail_salt, migrations 6 and 8; export
 *            lines' "prompt", "output", "user", "user_salt", "detail",
 *            "detail_salt"), so erasure (govern/gdpr.h) can overwrite them
 *            with pseudonyms (and delete the salts) while the chain still
 *            verifies. The verifier checks every kept text against its
 *            commitment unless it was erased; an erased row must name the
 *            "erasure" or "retention" record that covers it
 *            (audit_log.erased_by, export "erased_by"), and that later
 *            record lists the row's seq in its erased_seqs, so marking a
 *            row erased and editing its texts without such a record is
 *            detected. Retention (gdpr.h's sweep) expires the texts of rows
 *            older than their use case's retention this way: each text
 *            becomes HH_AUDIT_EXPIRED_TEXT and the salts go. Listed seqs
 *            before the start of the log (behind a signed anchor) are
 *            skipped. Records written before migration 8 (user/detail
 *            inside) pass as before.
 *   pii      when the entry's use case has policy.pii_redaction (the
 *            register, govern/register.h), prompt, output and detail are
 *            redacted (govern/pii.h; keyed pseudonyms "[EMAIL:ab12cd]"
 *            under the store's GDPR pseudonym key, store.h
 *            hh_store_pseudonym_key; names from
 *            DATA/pii-names.txt when present) before they are hashed and
 *            stored; the record counts what was replaced per kind
 *            ("pii_redacted":{"email":2}); null when the policy does not
 *            redact.
 *   hash     BLAKE2b-256(prev_hash || record); prev_hash of seq 1 is 32
 *            zero bytes; seq runs 1, 2, 3, ... without gaps.
 *   signed   Ed25519 over an 8-byte domain tag || seq (u64 big-endian) ||
 *            32 bytes: "HHAUDCP1" + hash (checkpoint, every N records and
 *            at export), "HHAUDHD1" + hash (head: the last record, re-signed
 *            at every append, so cutting the tail is detected), "HHAUDAN1"
 *            + prev_hash (anchor: the chain starts at seq with prev_hash;
 *            written by retention and by partial exports).
 *   key      DATA/audit.key (64-byte libsodium secret key, mode 0600,
 *            created on first use), DATA/audit.pub (64 hex characters) and
 *            the store's audit_meta table hold the public key.
 *
 * Thread safety: every function may be called from many threads; appends
 * are serialized by the store's mutex and one store transaction each
 * (store.h "the audit chain": the store reads the chain head and inserts
 * in one transaction; this module builds, hashes and signs the records). */
#ifndef HH_GOVERN_AUDIT_H
#define HH_GOVERN_AUDIT_H

#include "base/err.h"
#include "store/store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define HH_AUDIT_HASH_LEN 32
#define HH_AUDIT_SIG_LEN  64
#define HH_AUDIT_PK_LEN   32
#define HH_AUDIT_WHY_MAX  256
#define HH_AUDIT_DEFAULT_CHECKPOINT_EVERY 1000
/* Art. 26(6): logs of high-risk systems are kept at least six months. */
#define HH_AUDIT_MIN_RETENTION_HIGH_RISK_MS (183LL * 24 * 3600 * 1000)
/* What an expired text (prompt, output, user, detail) is replaced by. */
#define HH_AUDIT_EXPIRED_TEXT "[expired]"

typedef struct hh_audit_params {
    int64_t checkpoint_every;   /* a signed checkpoint when seq % N == 0 (>= 1) */
} hh_audit_params_t;

hh_audit_params_t hh_audit_default_params(void);

/* One record to append. Every pointer is borrowed for the call; NULL
 * strings are written as JSON null. */
typedef struct hh_audit_entry {
    const char    *kind;         /* "request", "approval", "admin", "erasure", "retention" */
    int64_t        time_ms;      /* UTC milliseconds; 0 = now */
    const char    *user;
    const char    *use_case;     /* NULL until a use case is known */
    const char    *model;        /* model id */
    const char    *model_path;   /* its file: the sha256 is computed once and cached in the store */
    const char    *prompt;
    const char    *output;
    const int64_t *chunk_ids;    /* retrieved chunks, n_chunks of them */
    size_t         n_chunks;
    bool           has_confidence;
    double         confidence;   /* 0..1 when has_confidence */
    const char    *decision;     /* "released", "refused", "pending", "approved", "rejected", ... */
    const char    *detail;       /* free text (a reason, what an admin did), may be NULL */
    bool           hash_only;    /* policy: prompt/output as their SHA-256 only, not the text */
    const int64_t *erased_seqs;  /* kind "erasure" (always written, may be empty) or "retention" */
    size_t         n_erased_seqs;/*   (written when n > 0): the seqs it marked erased for the first
                                    time, strictly increasing, each below the record's own seq */
    const char    *request_id;   /* the HTTP request's id (X-Request-Id, the access log's
                                    "request_id"); NULL: none, and the record has no such key */
} hh_audit_entry_t;

#define HH_AUDIT_SALT_LEN 16

/* What a record says beyond the entry itself (hh_audit_canonical). */
typedef struct hh_audit_extra {
    const unsigned char *user_salt;    /* HH_AUDIT_SALT_LEN bytes; required when e->user is set */
    const unsigned char *detail_salt;  /* HH_AUDIT_SALT_LEN bytes; required when e->detail is set */
    const size_t        *pii_counts;   /* HH_PII_KIND_COUNT counts of redacted spans, or NULL: no redaction */
} hh_audit_extra_t;

/* Appends e as the next record in one transaction (and a checkpoint when
 * seq % checkpoint_every == 0, and the re-signed head); *seq_out (may be
 * NULL) gets its seq. p NULL = defaults. Creates the signing key on first
 * use. Returns 0, HH_EINVAL (no kind), HH_EIO (database, key file). */
int hh_audit_append(hh_store_t *s, const hh_audit_params_t *p, const hh_audit_entry_t *e, int64_t *seq_out,
                     hh_err_t *err);

/* Appends n entries as consecutive records in one transaction (an import,
 * several records of one operation); *first_seq_out gets the first seq.
 * Same contract as hh_audit_append otherwise; n == 0 does nothing. */
int hh_audit_append_batch(hh_store_t *s, const hh_audit_params_t *p, const hh_audit_entry_t *entries, size_t n,
                          int64_t *first_seq_out, hh_err_t *err);

/* Builds the canonical record for e at seq (what append stores; e's texts
 * are taken as given, already redacted). Returns a malloc'd NUL-terminated
 * string owned by the caller (free()), or NULL with err set (HH_EINVAL: no
 * kind, a user/detail without its salt, erased_seqs not increasing or not
 * below seq). model_sha256_hex may be NULL (written as null). */
char *hh_audit_canonical(const hh_audit_entry_t *e, int64_t seq, int64_t time_ms, const char *model_sha256_hex,
                         const hh_audit_extra_t *x, hh_err_t *err);

/* Appends e inside a write transaction the caller already holds, together
 * with the store's mutex (govern/gdpr.c: an erasure or retention record and
 * the rows it covers commit together). No model hashing (model_path must be NULL) and
 * no PII policy lookup (the caller writes no personal data). *seq_out gets
 * the seq. Errors as hh_audit_append; the caller rolls back on error. */
int hh_audit_append_locked(hh_store_t *s, const hh_audit_entry_t *e, int64_t *seq_out, hh_err_t *err);

/* The lowercase hex SHA-256 (65 bytes with NUL) of a file, cached in the
 * store by path, size and mtime so a model is hashed once. */
int hh_audit_file_sha256(hh_store_t *s, const char *path, char out_hex[65], hh_err_t *err);

/* Writes a signed checkpoint for the last record now (no-op when it has
 * one or the log is empty). */
int hh_audit_checkpoint(hh_store_t *s, hh_err_t *err);

/* Retention: deletes the records older than the cutoff
 * min(before_ms, now - min_retention_ms) from the start of the chain (the
 * last record is always kept), and their checkpoints, and writes a signed
 * anchor (first kept seq, its prev_hash), all in one transaction. The
 * deletion itself is then audited as a "retention" record. *n_deleted may
 * be NULL. */
int hh_audit_expire(hh_store_t *s, int64_t before_ms, int64_t min_retention_ms, int64_t *n_deleted,
                    hh_err_t *err);

/* Writes records with seq >= from_seq (1 = all) as JSONL to f, one line
 * each, in this order: an "anchor" line when the output does not start at
 * seq 1, then "record" lines each followed by its "checkpoint" line if it
 * has one, then one "head" line. Checkpoints the last record first. */
int hh_audit_export(hh_store_t *s, int64_t from_seq, FILE *f, hh_err_t *err);

/* The public key: read from DATA/audit.pub (if present) and the store (they
 * must agree). HH_ENOENT when no key was ever created. */
int hh_audit_public_key(hh_store_t *s, unsigned char pk[HH_AUDIT_PK_LEN], hh_err_t *err);

/* ---- verification ---------------------------------------------------- */

typedef struct hh_audit_verify_result {
    bool    ok;
    int64_t first_seq, last_seq;  /* records seen (0, 0 if none) */
    int64_t n_records, n_checkpoints;
    bool    anchored;             /* the chain starts behind a signed anchor */
    int64_t bad_seq;              /* when !ok: the first bad record (or where one is missing) */
    char    why[HH_AUDIT_WHY_MAX];
} hh_audit_verify_result_t;

/* A streaming verifier: feed the items of a log in order and ask finish.
 * A plain value (no heap), so a copy taken between feeds resumes exactly
 * where the original stood. After the first failure further feeds do
 * nothing. */
typedef struct hh_audit_verifier {
    unsigned char pk[HH_AUDIT_PK_LEN];
    unsigned char last_hash[HH_AUDIT_HASH_LEN];
    int64_t       next_seq;      /* the seq the next record must have */
    int64_t       last_ckpt_seq;
    bool          started, head_seen;
    /* erasure coverage: a multiset hash (ristretto255 point sum) of the
     * pairs (seq, erased_by) of erased rows seen, minus the pairs listed by
     * erasure and retention records seen; it must be the identity at the end */
    unsigned char erased_acc[32];
    int64_t       erased_open;      /* pairs added minus pairs listed */
    int64_t       erased_first;     /* the first seq of the still open stretch (0: balanced) */
    hh_audit_verify_result_t r;
} hh_audit_verifier_t;

void hh_audit_verifier_init(hh_audit_verifier_t *v, const unsigned char pk[HH_AUDIT_PK_LEN]);
void hh_audit_verify_anchor(hh_audit_verifier_t *v, int64_t seq, const unsigned char prev[HH_AUDIT_HASH_LEN],
                            const unsigned char sig[HH_AUDIT_SIG_LEN]);
void hh_audit_verify_record(hh_audit_verifier_t *v, int64_t seq, const char *rec, size_t len,
                            const unsigned char prev[HH_AUDIT_HASH_LEN], const unsigned char hash[HH_AUDIT_HASH_LEN]);
void hh_audit_verify_checkpoint(hh_audit_verifier_t *v, int64_t seq, const unsigned char hash[HH_AUDIT_HASH_LEN],
                                const unsigned char sig[HH_AUDIT_SIG_LEN]);
void hh_audit_verify_head(hh_audit_verifier_t *v, int64_t seq, const unsigned char hash[HH_AUDIT_HASH_LEN],
                          const unsigned char sig[HH_AUDIT_SIG_LEN]);
/* What is kept beside record seq outside the chain. NULL = absent. */
typedef struct hh_audit_fields {
    const char          *prompt, *output, *user, *detail;
    const unsigned char *user_salt, *detail_salt;   /* HH_AUDIT_SALT_LEN bytes or NULL (erased) */
    bool                 erased;                    /* prompt/output pseudonymized (texts_erased) */
    int64_t              erased_by;                 /* the covering erasure record, 0 = none */
} hh_audit_fields_t;

/* Checks the fields kept beside record seq (just fed to
 * hh_audit_verify_record): with "text":"full" each of prompt/output must be
 * present exactly when the record has its *_sha256 and match it unless
 * erased; a hash-only record carries none; user/detail must match their
 * salted commitments, or have no salt (erased). Erased prompt/output or a
 * missing salt need erased_by > seq, and every erased_by must be listed by
 * that later erasure or retention record (checked as the log goes on and
 * at finish). A
 * record from before migration 8 (user/detail inside) or 6 (texts inside)
 * passes as before. */
void hh_audit_verify_fields(hh_audit_verifier_t *v, int64_t seq, const char *rec, size_t len,
                            const hh_audit_fields_t *f);
/* hh_audit_verify_fields with prompt, output and erased only. */
void hh_audit_verify_texts(hh_audit_verifier_t *v, int64_t seq, const char *rec, size_t len, const char *prompt,
                           const char *output, bool erased);
/* One JSONL line (without its '\n'); a malformed line fails at next_seq. */
void hh_audit_verify_line(hh_audit_verifier_t *v, const char *line, size_t len);
/* Feeds whole lines of an exported text (each ends with '\n'; a last line
 * without one fails as truncated). Feeding a text in pieces split at line
 * ends is the same as feeding it at once. */
void hh_audit_verifier_feed(hh_audit_verifier_t *v, const char *text, size_t len);
/* Ends the log: fails when no signed head was seen (truncated) or an
 * erased row is not covered by a later erasure or retention record. Returns true when
 * everything verified. */
bool hh_audit_verifier_finish(hh_audit_verifier_t *v);

/* Verifies the whole log in the store (records, checkpoints, anchor, head)
 * against pk (NULL: hh_audit_public_key). 0 with *res filled (res->ok
 * tells the verdict), or HH_EIO / HH_ENOENT when it could not be read. */
int hh_audit_verify_store(hh_store_t *s, const unsigned char *pk, hh_audit_verify_result_t *res, hh_err_t *err);

/* Verifies an exported JSONL text of len bytes against pk. */
void hh_audit_verify_jsonl(const char *text, size_t len, const unsigned char pk[HH_AUDIT_PK_LEN],
                           hh_audit_verify_result_t *res);

#endif
