/* audit_int.h - private to the audit log (audit.c: appending, keys,
 * retention, export; audit_verify.c: the verifier): sizes, the signature
 * domain tags and the helpers both sides use. */
#ifndef HH_GOVERN_AUDIT_INT_H
#define HH_GOVERN_AUDIT_INT_H

#include "govern/audit.h"
#include "store/store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HASH_LEN HH_AUDIT_HASH_LEN
#define SIG_LEN  HH_AUDIT_SIG_LEN
#define PK_LEN   HH_AUDIT_PK_LEN
#define SK_LEN   64
#define MSG_LEN  (8 + 8 + 32)
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
_Static_assert(HH_AUDIT_HASH_LEN == HH_STORE_AUDIT_HASH_LEN && HH_AUDIT_SIG_LEN == HH_STORE_AUDIT_SIG_LEN &&
                   HH_AUDIT_SALT_LEN == HH_STORE_AUDIT_SALT_LEN && HH_AUDIT_PK_LEN == HH_STORE_AUDIT_PK_LEN,
               "audit.h and store.h agree on the sizes");

#endif
