/* store_govern.h - the part of the store interface behind govern/: the
 * approval queue (store_approvals.c), the audit chain (store_audit.c) and
 * the GDPR export, erasure and retention (store_gdpr.c). Included by
 * store/store.h (include that); split out of it by responsibility. */
#ifndef HH_STORE_STORE_GOVERN_H
#define HH_STORE_STORE_GOVERN_H

#include "store/store.h"

/* ---- the approval queue (store_approvals.c; table approvals, migration 5)
 * The rows behind govern/approvals.h; the policy (four-eyes, who may
 * review, the audit record of a decision) stays there. Ids are random
 * (see the top of this file); lists are ordered by created_at. */

#define HH_STORE_APPROVAL_UC_MAX 64   /* = HH_APPROVAL_UC_MAX */

/* One queued request. Pointers are malloc'd and owned by the struct
 * (hh_store_approval_clear); NULL where the column is NULL. */
typedef struct hh_store_approval {
    int64_t id;
    char    use_case[HH_STORE_APPROVAL_UC_MAX];
    bool    hr;
    char    requester[HH_STORE_NAME_MAX];
    char   *request, *output;             /* request JSON; the held draft */
    int64_t created_at;                   /* UTC ms */
    char    status[16];                   /* pending | approved | edited | rejected */
    char    decided_by[HH_STORE_NAME_MAX]; /* "" while pending */
    int64_t decided_at;                   /* UTC ms; 0 while pending */
    char   *reason, *final_text;
} hh_store_approval_t;

/* Frees the owned strings and zeroes a. Safe on a zeroed struct. */
void hh_store_approval_clear(hh_store_approval_t *a);

/* Inserts a pending request from a's use_case, hr, requester, request
 * (required), output (NULL: "") and created_at, under a fresh random id
 * (*id_out, may be NULL). The other fields are ignored. HH_EINVAL, HH_EIO. */
int  hh_store_approval_insert(hh_store_t *s, const hh_store_approval_t *a, int64_t *id_out, hh_err_t *err);

/* Reads request id into *out (clear it afterwards). HH_ENOENT "approval
 * <id> not found", HH_ENOMEM, HH_EIO. */
int  hh_store_approval_get(hh_store_t *s, int64_t id, hh_store_approval_t *out, hh_err_t *err);

/* Every request (only pending ones when pending_only), oldest first
 * (created_at, then id). *out malloc'd (NULL when *n == 0): clear each
 * element, then free the array. */
int  hh_store_approval_list(hh_store_t *s, bool pending_only, hh_store_approval_t **out, size_t *n,
                            hh_err_t *err);

/* Writes a's decision (status, decided_by, decided_at, reason, final_text;
 * NULL pointers as NULL) onto request a->id if it is still pending: one
 * conditional UPDATE, so of two deciders racing only one wins; the other
 * gets HH_ESTATE "approval <id> was decided meanwhile". HH_EINVAL when
 * a->status is empty or "pending". */
int  hh_store_approval_decide(hh_store_t *s, const hh_store_approval_t *a, hh_err_t *err);

/* Undoes hh_store_approval_decide: puts request a->id back to pending when
 * it still holds status a->status (a decision whose audit record could not
 * be written must not stand). No row changed is not an error. */
int  hh_store_approval_undecide(hh_store_t *s, const hh_store_approval_t *a, hh_err_t *err);

/* ---- the audit chain (store_audit.c; tables audit_log, audit_checkpoints,
 * audit_anchor, audit_meta: migrations 3, 6, 8) ----------------------------
 * The rows behind govern/audit.h. What a record says, its hash, the
 * signatures and the verification rules are govern's (audit.c,
 * audit_verify.c); the store keeps the bytes exactly as given and hands
 * them back exactly as kept, so a chain written by any version verifies
 * the same. Each function is one transaction: an append reads the chain
 * head and inserts the records after it in one write transaction (two
 * writers never get the same seq), a walk reads one consistent snapshot.
 * Work that needs the chain head (the record text carries its seq, the
 * hash its predecessor's) is done by callbacks called inside that
 * transaction, so no SQL type or statement reaches govern and another
 * backend can implement the same functions (e.g. PostgreSQL with an
 * advisory lock around the head). Callbacks must not call the store. */

#define HH_STORE_AUDIT_HASH_LEN 32   /* = HH_AUDIT_HASH_LEN */
#define HH_STORE_AUDIT_SIG_LEN  64   /* = HH_AUDIT_SIG_LEN */
#define HH_STORE_AUDIT_SALT_LEN 16   /* = HH_AUDIT_SALT_LEN */
#define HH_STORE_AUDIT_PK_LEN   32   /* = HH_AUDIT_PK_LEN */

/* One record as kept (a walk). Every pointer is valid during the callback
 * only; lengths are as stored, so a damaged row (a hash of another size, a
 * salt that is no blob of 16 bytes) reaches the verifier as it is. */
typedef struct hh_store_audit_rec {
    int64_t              seq;
    const char          *record;          /* the canonical text the hash covers (not NUL-terminated) */
    size_t               record_len;
    const unsigned char *prev_hash, *hash;
    size_t               prev_hash_len, hash_len;
    const char          *prompt, *output, *user_name, *detail;   /* NUL-terminated; NULL when null */
    const unsigned char *user_salt, *detail_salt;                /* NULL when null */
    size_t               user_salt_len, detail_salt_len;
    bool                 texts_erased;
    int64_t              erased_by;       /* 0: none */
} hh_store_audit_rec_t;

/* A signed mark: a checkpoint (seq, hash, sig), the anchor (seq, prev_hash
 * in hash, sig) or the head (seq, hash, sig). Pointers as in
 * hh_store_audit_rec_t. */
typedef struct hh_store_audit_mark {
    int64_t              seq;
    const unsigned char *hash, *sig;
    size_t               hash_len, sig_len;
} hh_store_audit_mark_t;

typedef enum hh_store_audit_item_kind {
    HH_STORE_AUDIT_ANCHOR,
    HH_STORE_AUDIT_RECORD,
    HH_STORE_AUDIT_CHECKPOINT,
    HH_STORE_AUDIT_HEAD,
} hh_store_audit_item_kind_t;

/* One item of a walk: rec for RECORD, mark for the others. records_after
 * (CHECKPOINT): a record with a higher seq follows in this walk (false for
 * checkpoints past the last record: a cut tail). */
typedef struct hh_store_audit_item {
    hh_store_audit_item_kind_t kind;
    hh_store_audit_rec_t       rec;
    hh_store_audit_mark_t      mark;
    bool                       records_after;
} hh_store_audit_item_t;

/* A walk's visitor: 0 goes on, a positive value ends the walk early (not
 * an error), a negative HH_E* ends it and is returned by the walk. */
typedef int (*hh_store_audit_visit_fn)(void *ctx, const hh_store_audit_item_t *it, hh_err_t *err);

/* Reads the chain in one read transaction and hands visit, in this order:
 * the anchor (when the chain starts behind one, whatever from_seq is);
 * the records with seq >= from_seq and the checkpoints with seq >= from_seq
 * merged by seq (a checkpoint after the record of its seq, a checkpoint
 * whose record is missing where that record would be); the head (when one
 * was written). Returns 0 (also when visit ended it early), visit's error,
 * HH_EFORMAT (the stored head is not 8 + 32 + 64 bytes), HH_EIO. The
 * store's mutex is held throughout: visit may write a file, not call the
 * store. */
int  hh_store_audit_walk(hh_store_t *s, int64_t from_seq, hh_store_audit_visit_fn visit, void *ctx, hh_err_t *err);

/* The last record's seq and hash: seq 0 and a zero hash when the chain is
 * empty. */
int  hh_store_audit_last(hh_store_t *s, int64_t *seq, unsigned char hash[HH_STORE_AUDIT_HASH_LEN], hh_err_t *err);

/* A record to append, filled by hh_store_audit_appender_t.build. */
typedef struct hh_store_audit_new {
    char                *record;        /* malloc'd by build; the store frees it (also on failure) */
    size_t               record_len;
    unsigned char        hash[HH_STORE_AUDIT_HASH_LEN];   /* of prev_hash and record */
    const char          *prompt, *output, *user_name, *detail;   /* kept beside the record; NULL: null */
    const unsigned char *user_salt, *detail_salt;  /* HH_STORE_AUDIT_SALT_LEN bytes or NULL */
    bool                 checkpoint;    /* also write a checkpoint for this record, signed by: */
    unsigned char        checkpoint_sig[HH_STORE_AUDIT_SIG_LEN];
} hh_store_audit_new_t;

/* What an append writes. build(ctx, i, seq, prev, out, err) fills *out
 * (zeroed before) for the i-th of n records, which becomes record seq
 * after the record whose hash is prev (32 zero bytes before seq 1);
 * borrowed pointers in *out must live until the next build or the end of
 * the append. sign_head(ctx, seq, hash, sig) signs the new head (the last
 * record written). public_key (HH_STORE_AUDIT_PK_LEN bytes) is stored with
 * the first record ever (audit_meta "public_key"); a stored one is kept. */
typedef struct hh_store_audit_appender {
    size_t               n;
    const unsigned char *public_key;
    int  (*build)(void *ctx, size_t i, int64_t seq, const unsigned char prev[HH_STORE_AUDIT_HASH_LEN],
                  hh_store_audit_new_t *out, hh_err_t *err);
    void (*sign_head)(void *ctx, int64_t seq, const unsigned char hash[HH_STORE_AUDIT_HASH_LEN],
                      unsigned char sig[HH_STORE_AUDIT_SIG_LEN]);
    void *ctx;
} hh_store_audit_appender_t;

/* Appends a->n records after the chain head, their checkpoints and the new
 * head, in one write transaction: all or nothing. *first_seq (may be NULL)
 * the first new seq. Returns 0, build's error, HH_EINVAL, HH_EIO. */
int  hh_store_audit_append(hh_store_t *s, const hh_store_audit_appender_t *a, int64_t *first_seq, hh_err_t *err);

/* hh_store_audit_append inside the write transaction the caller already
 * holds with the store's mutex: for govern's audit callbacks that store
 * functions run inside their own transaction (a record that must commit
 * with the rows it covers: hh_store_gdpr_erase, the retention batches).
 * The caller rolls back on error. */
int  hh_store_audit_append_locked(hh_store_t *s, const hh_store_audit_appender_t *a, int64_t *first_seq,
                                  hh_err_t *err);

/* One write transaction: when the chain has a record, writes a checkpoint
 * for the last one signed by sign(ctx, seq, hash, sig), unless it has one. */
int  hh_store_audit_checkpoint_last(hh_store_t *s,
                                    void (*sign)(void *ctx, int64_t seq, const unsigned char hash[HH_STORE_AUDIT_HASH_LEN],
                                                 unsigned char sig[HH_STORE_AUDIT_SIG_LEN]),
                                    void *ctx, hh_err_t *err);

/* Retention of the chain's start. expired(ctx, record, len) tells whether
 * a record is old enough to go; sign_anchor(ctx, seq, prev, sig) signs the
 * new anchor (seq, prev_hash). */
typedef struct hh_store_audit_cutter {
    bool (*expired)(void *ctx, const char *record, size_t len);
    void (*sign_anchor)(void *ctx, int64_t seq, const unsigned char prev[HH_STORE_AUDIT_HASH_LEN],
                        unsigned char sig[HH_STORE_AUDIT_SIG_LEN]);
    void *ctx;
} hh_store_audit_cutter_t;

/* In one write transaction: keep = the first record (from the start) that
 * is not expired, or the last record (a chain never becomes empty: its
 * head needs a record to point at); when keep is past the first record,
 * deletes the records and checkpoints before keep and writes the anchor
 * (keep, keep's prev_hash, signature), replacing an older one. *first the
 * first seq before, *keep, *deleted the records deleted (all 0 for an
 * empty chain). */
int  hh_store_audit_cut(hh_store_t *s, const hh_store_audit_cutter_t *c, int64_t *first, int64_t *keep,
                        int64_t *deleted, hh_err_t *err);

/* The public key stored with the first record: *found false when none. */
int  hh_store_audit_public_key(hh_store_t *s, unsigned char pk[HH_STORE_AUDIT_PK_LEN], bool *found, hh_err_t *err);

/* A cache of file hashes by key (govern: "sha256:PATH:SIZE:MTIME", so a
 * changed file misses): get sets *found; put replaces. */
int  hh_store_file_hash_get(hh_store_t *s, const char *key, unsigned char hash[32], bool *found, hh_err_t *err);
int  hh_store_file_hash_put(hh_store_t *s, const char *key, const unsigned char hash[32], hh_err_t *err);

/* The key of the GDPR pseudonyms (govern/pii.h tokens "[EMAIL:ab12cd]"):
 * BLAKE2b-256 keyed by the store's secret over "hoheit-gdpr-pseudonym-v1".
 * One derivation for the audit redaction and the eraser, so a redacted
 * address in an audit text is the token an erasure of it writes. Wipe it
 * (sodium_memzero) after use. */
void hh_store_pseudonym_key(const hh_store_t *s, unsigned char key[32]);


/* ---- GDPR: data-subject export and erasure, retention (store_gdpr.c) ----
 * The statements of govern/gdpr.c. govern keeps the policy: what counts as
 * the subject in a text, the pseudonym, what the access copy and the audit
 * records say; the store finds and changes the rows, each operation in its
 * own transaction. Callbacks run inside that transaction, under the
 * store's lock: they must not call the store (hh_audit_append_locked and
 * hh_ingest_file_path excepted, which take no lock). */

/* What one row handed to hh_store_gdpr_visit_fn is. */
typedef enum hh_store_gdpr_kind {
    HH_STORE_GDPR_DOCUMENT,    /* id: document; text[0] title, [1] source path, [2] the original's sha256 */
    HH_STORE_GDPR_CHUNK,       /* id: chunk, id2: its document; text[0] text, [1] heading path */
    HH_STORE_GDPR_USER,        /* id: user whose whole name is the subject; text[0] name; with usage,
                                  conversations and memories of that user */
    HH_STORE_GDPR_CONV_TEXT,   /* id: conversation, id2: message (0: the title); column 0 title, 1 a
                                  message's content, 2 its sources (grounding JSON); text[0] the text */
    HH_STORE_GDPR_AUDIT,       /* id: seq; text[0..4] prompt, output, record, user name, detail ("" when none) */
    HH_STORE_GDPR_APPROVAL,    /* id: approval; text[0] requester, request, output, final text and reason
                                  joined by spaces */
} hh_store_gdpr_kind_t;

/* One row that may name a subject (texts never NULL; "" for none). */
typedef struct hh_store_gdpr_row {
    hh_store_gdpr_kind_t kind;
    int64_t              id, id2;
    int                  column;
    const char          *text[5];
    /* HH_STORE_GDPR_USER only */
    const hh_store_usage_day_t *usage;
    size_t                      n_usage;
    const hh_store_conv_t      *convs;          /* convs[i]'s messages are msgs[i], n_msgs[i] of them */
    hh_store_conv_msg_t *const *msgs;
    const size_t               *n_msgs;
    size_t                      n_convs;
    const hh_store_memory_t    *memories;
    size_t                      n_memories;
} hh_store_gdpr_row_t;

/* Gets every row of a subject in turn; false stops the walk (out of memory). */
typedef bool (*hh_store_gdpr_visit_fn)(void *ctx, const char *subject, const hh_store_gdpr_row_t *row);

/* For each subject (export, Art. 15/20), in one read transaction: every
 * document (by ingestion), the chunks, conversation texts and audit rows
 * holding it (ASCII case ignored), the users whose whole name it is (with
 * their usage, conversations and memories) and every approval. Returns 0,
 * HH_ENOMEM "gdpr: out of memory" when visit said false, HH_EIO. */
int hh_store_gdpr_collect(hh_store_t *s, const char *const *subjects, size_t n, hh_store_gdpr_visit_fn visit,
                          void *ctx, hh_err_t *err);

/* What an erasure changed (govern/gdpr.h hh_gdpr_erase_result_t, less the
 * files, which govern deletes after the commit). */
typedef struct hh_store_gdpr_erased {
    int64_t chunks, vectors, documents, users, audit_texts, audit_kept, approvals, usage_rows, conversations,
        conversation_texts, memories;
} hh_store_gdpr_erased_t;

/* The policy of one erasure. */
typedef struct hh_store_gdpr_eraser {
    const char *const *subjects;
    size_t             n;
    /* text with subject i replaced by its pseudonym, malloc'd; NULL when it
     * holds none (or on no memory: *oom set) */
    char *(*rewrite)(void *ctx, size_t i, const char *text, bool *oom);
    /* whether the stored original with this sha256 holds subject i */
    bool (*file_holds)(void *ctx, size_t i, const char *sha256);
    /* appends the erasure's audit record inside the transaction (counts
     * final; n_files originals to delete), listing erased_seqs (the audit
     * rows marked erased for the first time, increasing); *seq its seq,
     * which those rows then name in erased_by */
    int (*record)(void *ctx, const hh_store_gdpr_erased_t *counts, size_t n_files, const int64_t *erased_seqs,
                  size_t n_erased, int64_t *seq, hh_err_t *err);
    void *ctx;
} hh_store_gdpr_eraser_t;

/* Art. 17, in one write transaction with secure_delete on, all or nothing:
 * HH_ESTATE (nothing changed) when the users the subjects name hold every
 * enabled admin; else rewrites chunk texts and headings (their vectors
 * deleted, the full-text indexes rebuilt), document titles and paths,
 * audit prompts, outputs, user names and details (texts_erased set, the
 * salts dropped), approval fields and other users' conversation texts;
 * deletes the users whose whole name a subject is (with their
 * conversations, agent runs and memories; their usage rows lose the user),
 * marks the documents erased_at = now and appends e->record. *files (the
 * sha256 of every original holding a subject; free each and the array) is
 * for the caller to delete after the commit, then to call
 * hh_store_gdpr_scrub. On error nothing changed, secure_delete is off
 * again and *files is NULL. */
int hh_store_gdpr_erase(hh_store_t *s, const hh_store_gdpr_eraser_t *e, int64_t now, hh_store_gdpr_erased_t *counts,
                        char ***files, size_t *n_files, hh_err_t *err);

/* After an erasure or a sweep: when vacuum, VACUUM and a truncating WAL
 * checkpoint (no free page or WAL frame keeps an old text); then
 * secure_delete off. */
int hh_store_gdpr_scrub(hh_store_t *s, bool vacuum, hh_err_t *err);

/* Sets collection's retention_days (0: none); HH_ENOENT when there is no
 * such collection. */
int hh_store_gdpr_collection_retention(hh_store_t *s, const char *collection, int days, hh_err_t *err);

/* The documents older (ingested_at, seconds) than their collection's
 * retention at now, by id; *ids malloc'd (caller frees). */
int hh_store_gdpr_expired_documents(hh_store_t *s, int64_t now, int64_t **ids, size_t *n, hh_err_t *err);

/* The policy of a retention pass over audit texts or approvals. */
typedef struct hh_store_gdpr_expirer {
    int64_t     max_cut;        /* nothing at or after it expires (ms for audit rows, s for approvals) */
    int64_t     batch;          /* rows looked at per transaction */
    const char *expired_text;   /* what an expired audit text becomes */
    /* when rows of use_case (NULL: none) expire: time < cut */
    int64_t (*cut)(void *ctx, const char *use_case);
    /* appends the pass's audit record inside the batch's transaction: rows
     * expired (audit seqs, or approval ids deleted), erased_seqs those of
     * them never erased before (audit texts only; they then name *seq) */
    int (*record)(void *ctx, const int64_t *rows, size_t n_rows, const int64_t *erased_seqs, size_t n_erased,
                  int64_t *seq, hh_err_t *err);
    void *ctx;
} hh_store_gdpr_expirer_t;

/* Expires the texts and salts of the audit rows older than their use
 * case's cut, x->batch candidates per write transaction (secure_delete on;
 * hh_store_gdpr_scrub turns it off), one x->record per batch that expired
 * any; *n adds the rows. Records that are no valid JSON are skipped. */
int hh_store_gdpr_expire_audit_texts(hh_store_t *s, const hh_store_gdpr_expirer_t *x, int64_t *n, hh_err_t *err);
/* Deletes decided approvals (never pending ones) decided before their use
 * case's cut, batched as above; *n adds them. */
int hh_store_gdpr_expire_approvals(hh_store_t *s, const hh_store_gdpr_expirer_t *x, int64_t *n, hh_err_t *err);
/* Pseudonymizes (user_id = NULL) the usage rows of days before before_day
 * (store_usage.c); *n rows. */
int hh_store_gdpr_expire_usage(hh_store_t *s, int64_t before_day, int64_t *n, hh_err_t *err);

#endif
