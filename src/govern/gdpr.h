/* gdpr.h - data-subject rights (GDPR Art. 15/20 export, Art. 17 erasure)
 * and retention (TTLs per collection and per use case, a sweeper).
 *
 * A subject is one string: an e-mail address, a name or a user name. It is
 * matched as a substring, ASCII case-insensitively, in: document titles
 * and source paths, chunk texts and heading paths, the stored original
 * files (DATA/files/..), the audit log's prompt/output/user/
 * detail texts (kept beside the hashed record, see audit.h) and hashed
 * records, the approval queue when it exists, and the usage counters
 * (quotas) of the users it names (export: "where": "usage", one hit per
 * UTC day and use case; erasure: the counters lose their user, user_id
 * NULL, so department and use-case totals stay). User records (and their
 * usage counters) are matched by the WHOLE user name, ASCII
 * case-insensitively: subject "ann" names the user "Ann", never "joanna".
 *
 * Erasure replaces the string by a keyed pseudonym (hh_pii_redact with a
 * key derived from the store secret: "[EMAIL:ab12cd]" for an address,
 * "[NAME:ab12cd]" otherwise), drops the vectors of rewritten chunks (the
 * next ingestion of the document re-embeds it), deletes stored originals
 * that held the string (the document keeps its pseudonymized chunks and is
 * marked erased_at), deletes the user record named by it (refused with
 * HH_ESTATE, nothing changed, when that would delete the last enabled
 * admin), rebuilds the FTS
 * index, and then VACUUMs with secure_delete on and truncates the WAL, so
 * no free page or WAL frame keeps the string. See docs/COMPLIANCE.md,
 * "Data-subject rights and retention".
 *
 * Thread safety: every function may be called from many threads (the
 * store serializes), but erasure's VACUUM needs no other open transaction
 * on the database; run it while the server is idle or stopped. */
#ifndef HH_GOVERN_GDPR_H
#define HH_GOVERN_GDPR_H

#include "base/err.h"
#include "store/store.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define HH_GDPR_PSEUDONYM_MAX 64
#define HH_GDPR_CONTEXT_BYTES 80     /* export: bytes of text kept on each side of a hit */
#define HH_GDPR_MAX_FILE_BYTES (256LL << 20)

/* The keyed pseudonym of subject (NUL-terminated into out[cap], cap >=
 * HH_GDPR_PSEUDONYM_MAX). Same subject, same store: same pseudonym. */
int hh_gdpr_pseudonym(hh_store_t *s, const char *subject, char *out, size_t cap, hh_err_t *err);

/* Art. 15/20: finds every place the subjects (n >= 1, non-empty strings)
 * occur and builds one JSON document: {"generated_at", "subjects",
 * "n_hits", "hits": [{"subject", "where", ids..., "context"}]} where
 * "where" is one of document.title, document.source_path, chunk.text,
 * chunk.heading_path, file, user, audit.prompt, audit.output,
 * audit.record, approval. *out is owned by the caller (cJSON_Delete).
 * The export itself is audited as an "export" record naming only the
 * pseudonyms. Errors: HH_EINVAL, HH_EIO, HH_ENOMEM.
 *
 * The same document is the Art. 15 access copy (gdpr_access.c): it also
 * holds "object": "gdpr.access_copy", "subject" (the first subject),
 * "sections" (hh_gdpr_access_sections of it) and, with more than one
 * subject, "more_subjects": [{"subject", "sections"}] for the others. */
int hh_gdpr_export(hh_store_t *s, const char *const *subjects, size_t n, const char *actor, cJSON **out,
                   hh_err_t *err);

/* The sections of one subject's access copy, from the export's hits (the
 * accounts are the "user" hits: the whole user name) and the store
 * (store.h, "GDPR access copy"). A stable shape, every time an ISO 8601
 * UTC string ("2026-12-07T17:53:00Z") or null, every section an array:
 *   account              [{user_id, name, role, departments[], created_at,
 *                          disabled, has_password, last_login_at,
 *                          last_key_use_at, api_keys[{prefix, created_at,
 *                          last_used_at, revoked_at}], sessions[{created_at,
 *                          expires_at, last_seen_at}]}]  - no key or
 *                          session hash, no token, no password hash
 *   conversations        [{conversation_id, title, created_at, updated_at,
 *                          use_case, model, collections, messages[...]}]
 *   requests             audit rows whose user is the subject: [{seq, time,
 *                          kind, use_case, model, decision, texts, prompt,
 *                          output, detail}]; texts says what was kept:
 *                          "kept", "hash_only" (the use case keeps the
 *                          SHA-256 only: prompt/output null), "expired"
 *                          (retention: null), "pseudonymized" (an erasure
 *                          rewrote them), "none"; the "approval" record
 *                          of a decision the subject made carries no
 *                          prompt and no detail (the requester's question
 *                          and name: another person's data)
 *   approvals_requested  [{approval_id, use_case, status, created_at,
 *                          decided_at, request, output, final_text, reason}]
 *   approvals_decided    [{approval_id, use_case, status, decided_at,
 *                          reason, final_text (when edited)}]
 *   documents            uploaded by the subject's account: [{document_id,
 *                          title, collection, source_path, mime, size,
 *                          uploaded_at}] (not the text)
 *   usage                [{day, use_case, requests, prompt_tokens,
 *                          completion_tokens}]
 *   mentions             the other hits of the subject ({where, ids...,
 *                          context}): texts that name them (not the
 *                          "user", "usage" and "conversation" hits, nor
 *                          the "audit.user" hits of their own records:
 *                          those are the sections above)
 * *out owned by the caller. Errors: HH_EIO, HH_ENOMEM. */
int hh_gdpr_access_sections(hh_store_t *s, const char *subject, const cJSON *hits, cJSON **out, hh_err_t *err);

/* True for the languages of the HTML report: "de", "en". */
bool hh_gdpr_lang_ok(const char *lang);

/* The readable HTML report of an export document (hh_gdpr_export's):
 * self-contained (inline style, no script, no external resource), every
 * text escaped, one heading per section, in lang ("de" or "en"; NULL:
 * "de"). *out malloc'd (caller frees), *len (may be NULL) its length.
 * HH_EINVAL for another lang or a document without subject/sections. */
int hh_gdpr_access_html(const cJSON *doc, const char *lang, char **out, size_t *len, hh_err_t *err);

typedef struct hh_gdpr_erase_result {
    int64_t chunks;          /* rewrites (a chunk naming two subjects counts twice) */
    int64_t vectors;         /* deleted with them */
    int64_t documents;       /* with a rewritten title/path/chunk or erased file */
    int64_t files;           /* stored originals deleted */
    int64_t users;           /* user records deleted */
    int64_t audit_texts;     /* audit prompt/output/user/detail texts rewritten */
    int64_t audit_kept;      /* hashed audit records still naming a subject
                                (user/detail inside records written before
                                migration 8; the chain cannot change) */
    int64_t approvals;       /* approval rows rewritten */
    int64_t usage_rows;      /* usage counters of deleted users pseudonymized (user_id NULL) */
    int64_t conversations;   /* stored conversations of the users named by a subject, deleted */
    int64_t conversation_texts;   /* titles, messages, sources of other users' conversations rewritten */
    int64_t memories;        /* agent memory facts of the users named by a subject, deleted */
} hh_gdpr_erase_result_t;

/* Art. 17: erases the subjects as described above and appends the
 * "erasure" audit record (pseudonyms and counts only; actor may be NULL;
 * erased_seqs lists the audit rows it marked erased for the first time,
 * and those rows get erased_by = its seq; audit user/detail texts lose
 * their salts) all in one transaction, then unlinks the files and VACUUMs
 * + checkpoints the WAL (TRUNCATE). *res may be NULL. Errors: HH_EINVAL,
 * HH_EIO, HH_ENOMEM; HH_ESTATE (nothing erased) when the subjects name
 * every enabled admin's account. */
int hh_gdpr_erase(hh_store_t *s, const char *const *subjects, size_t n, const char *actor,
                  hh_gdpr_erase_result_t *res, hh_err_t *err);

/* Sets a collection's TTL in days (0 = keep forever). HH_ENOENT for an
 * unknown collection, HH_EINVAL for days outside 0..36500. */
int hh_gdpr_collection_retention(hh_store_t *s, const char *collection, int days, hh_err_t *err);

/* Rows one transaction of the sweep looks at, at most: a sweep over
 * millions of audit rows commits batch by batch (each with its own
 * "retention" record) and lets other requests in between. */
#define HH_GDPR_SWEEP_BATCH 512

typedef struct hh_gdpr_sweep_result {
    int64_t documents;       /* expired documents deleted */
    int64_t audit_records;   /* expired audit records (cut from the start of the chain) */
    int64_t audit_texts;     /* audit records whose texts expired (they stay in the chain) */
    int64_t approvals;       /* decided approvals deleted */
    int64_t usage_rows;      /* usage counters pseudonymized (5. below) */
    int64_t conversations;   /* stored conversations deleted (6. below) */
    int64_t memories;        /* agent memory facts deleted (6. below: the same retention, by their last change) */
} hh_gdpr_sweep_result_t;

/* The default retention of stored conversations: a conversation with no
 * new message (or rename) for this many days is deleted by the sweep. */
#define HH_GDPR_CONVERSATION_RETENTION_DAYS 365

/* What a sweep is told besides the registered policies. */
typedef struct hh_gdpr_sweep_params {
    int conversation_retention_days;   /* 0: keep; default HH_GDPR_CONVERSATION_RETENTION_DAYS; at most 36500 */
} hh_gdpr_sweep_params_t;

hh_gdpr_sweep_params_t hh_gdpr_sweep_default_params(void);

/* Retention sweep at now_s (unix seconds; 0 = now):
 *  1. deletes every document older than its collection's TTL through
 *     hh_ingest_delete (chunks, FTS rows, vectors, stored file), audited by
 *     one "retention" record;
 *  2. expires audit records older than the longest retention_days of the
 *     registered use cases from the start of the chain (a chain can only be
 *     cut at its start), never younger than 183 days when any use case is
 *     high-risk (hh_audit_expire);
 *  3. expires the texts of the records that stay but are older than their
 *     own use case's retention_days (records without a registered use case:
 *     the longest one, as in 2; a high-risk use case: never younger than
 *     HH_AUDIT_MIN_RETENTION_HIGH_RISK_MS by the real clock): prompt,
 *     output, user and detail become HH_AUDIT_EXPIRED_TEXT, their salts
 *     are deleted, the row is marked erased and names the "retention"
 *     record appended in the same transaction, whose erased_seqs lists it
 *     (audit.h; the chain still verifies, the metadata stays until 2 cuts
 *     it). Texts inside records written before store migrations 6/8 stay;
 *  4. deletes decided approvals (approved, edited, rejected; never pending)
 *     whose decision (decided_at) is older than their use case's retention
 *     (same rules as 3), each batch counted and its ids named in a
 *     "retention" record.
 *  5. pseudonymizes (user_id = NULL) usage counters (store.h, "quotas and
 *     usage") of days older than the longest retention_days of the use
 *     cases, never those of the current UTC month.
 * Steps 3 and 4 run in transactions of at most HH_GDPR_SWEEP_BATCH rows
 * with secure_delete on; when they removed anything, the database is then
 * VACUUMed and the WAL truncated as erasure does (run it while the server
 * is idle for the VACUUM to succeed). Nothing registered: 2-4 do nothing.
 *  6. deletes the stored conversations (store.h, "conversations") whose
 *     last message or rename is older than p->conversation_retention_days
 *     (0: never), with their messages; one "retention" record counts them
 *     and names their ids (no title, no owner). The agent memory facts
 *     (store.h, "agent memory") not changed for as many days go too, with
 *     one "retention" record that counts them.
 * Logs each step to log (may be NULL). *res (may be NULL) gets the counts
 * (also of the steps done before an error). hh_gdpr_retention_sweep is
 * hh_gdpr_retention_sweep_with the default params; p NULL: defaults;
 * HH_EINVAL for a retention outside 0..36500. */
int hh_gdpr_retention_sweep(hh_store_t *s, int64_t now_s, FILE *log, hh_gdpr_sweep_result_t *res,
                            hh_err_t *err);
int hh_gdpr_retention_sweep_with(hh_store_t *s, int64_t now_s, const hh_gdpr_sweep_params_t *p, FILE *log,
                                 hh_gdpr_sweep_result_t *res, hh_err_t *err);

#endif
