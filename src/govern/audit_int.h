/* audit_int.h - private to the audit log (audit.c: appending, keys,
 * retention, export; audit_verify.c: the verifier): sizes, the signature
 * domain tags and the helpers both sides use. */
#ifndef HH_GOVERN_AUDIT_INT_H
#define HH_GOVERN_AUDIT_INT_H

#include "govern/audit.h"
#include "store/store_int.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HASH_LEN HH_AUDIT_HASH_LEN
#define SIG_LEN  HH_AUDIT_SIG_LEN
#define PK_LEN   HH_AUDIT_PK_LEN
#define SK_LEN   64
#define MSG_LEN  (8 + 8 + 32)
/* audit_meta "head": seq (u64 BE), hash, signature */
#define HEAD_LEN (8 + HASH_LEN + SIG_LEN)
/* 2^53: seq and times must stay exact in a JSON number */
#define MAX_JSON_INT 9007199254740992LL

/* Domain tags of the signed messages (audit.h: checkpoint, head, anchor). */
extern const char HH_AUDIT_TAG_CKPT[8], HH_AUDIT_TAG_HEAD[8], HH_AUDIT_TAG_ANCHOR[8];

/* Lowercase hex of n bytes into out (2 n + 1 bytes). */
void hh_audit_to_hex(const unsigned char *b, size_t n, char *out);
/* Strict: exactly 2 n lowercase hex digits, so no edit of the text can
 * decode to the same bytes. */
bool hh_audit_from_hex(const char *s, unsigned char *out, size_t n);
/* Whether sig is pk's Ed25519 signature of tag || seq (u64 BE) || h. */
bool hh_audit_sig_ok(const unsigned char pk[PK_LEN], const char tag[8], int64_t seq, const unsigned char h[32],
                     const unsigned char sig[SIG_LEN]);
/* BLAKE2b-256(prev || record). */
void hh_audit_chain_hash(const unsigned char prev[HASH_LEN], const char *rec, size_t len, unsigned char out[HASH_LEN]);
/* The salted commitment of a short text: lowercase hex of
 * BLAKE2b-256(salt || text). */
void hh_audit_commit_hex(const unsigned char salt[HH_AUDIT_SALT_LEN], const char *text, char out[2 * HASH_LEN + 1]);
/* A big-endian u64 as int64. */
int64_t hh_audit_be64(const unsigned char *p);

/* SQL helpers; the caller holds s->mu. exec / prep: 0 or HH_EIO. col_blob:
 * copies column i when it is a blob of exactly n bytes. last_record: the
 * highest seq and its hash (seq 0 when the log is empty). meta_get: value
 * of an audit_meta key (n bytes; *found false when absent). */
int  hh_audit_exec(hh_store_t *s, const char *sql, hh_err_t *err);
int  hh_audit_prep(hh_store_t *s, const char *sql, sqlite3_stmt **st, hh_err_t *err);
bool hh_audit_col_blob(sqlite3_stmt *st, int i, unsigned char *out, int n);
int  hh_audit_last_record(hh_store_t *s, int64_t *seq, unsigned char hash[HASH_LEN], hh_err_t *err);
int  hh_audit_meta_get(hh_store_t *s, const char *key, void *v, int n, bool *found, hh_err_t *err);
/* The three reads a whole-log pass needs (verify, export), caller holds
 * s->mu and finalizes them: the anchor (seq, prev_hash, sig); records from
 * from_seq in order (seq, record, prev_hash, hash, prompt, output,
 * texts_erased, user_name, user_salt, detail, detail_salt, erased_by);
 * checkpoints from from_seq (seq, hash, sig). 0 or HH_EIO. */
int  hh_audit_prep_reads(hh_store_t *s, int64_t from_seq, sqlite3_stmt **as, sqlite3_stmt **rs, sqlite3_stmt **cs,
                         hh_err_t *err);

#endif
