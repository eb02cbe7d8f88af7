/* approvals.h - human oversight (EU AI Act Art. 14): an answer generated
 * under a use case whose policy requires approval is not released but
 * queued (table approvals, store migration 5) until a human approves it,
 * edits and approves it, or rejects it with a reason. Every decision is
 * appended to the audit log (kind "approval").
 *
 * Four-eyes: the requester may not decide their own request. For use cases
 * in Annex III point 4 (employment / HR) this is always enforced and cannot
 * be configured away; for others hh_approvals_params_t may allow it. There
 * is no automatic decision path: every decision names a human decider.
 *
 * Thread safety: every function may be called from many threads; each runs
 * its SQL under the store's mutex, and a decision is taken with one
 * conditional UPDATE, so two deciders racing for one request cannot both
 * win. */
#ifndef HH_GOVERN_APPROVALS_H
#define HH_GOVERN_APPROVALS_H

#include "base/err.h"
#include "store/store.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HH_APPROVAL_UC_MAX 64   /* use-case slugs are shorter (HH_REG_SLUG_MAX) */

typedef enum hh_approval_status {
    HH_APPROVAL_PENDING = 0,
    HH_APPROVAL_APPROVED,   /* released as generated */
    HH_APPROVAL_EDITED,     /* released with the approver's text */
    HH_APPROVAL_REJECTED,   /* never released; reason required */
} hh_approval_status_t;

/* "pending", "approved", "edited", "rejected". */
const char *hh_approval_status_name(hh_approval_status_t st);

typedef struct hh_approvals_params {
    bool allow_self_decision;   /* non-HR use cases only: the requester may decide (default false) */
    const char *request_id;     /* hh_approvals_decide: the HTTP request's id for its audit record (NULL: none) */
} hh_approvals_params_t;

hh_approvals_params_t hh_approvals_default_params(void);

/* One queued request. The strings behind pointers are malloc'd and owned
 * by the struct (hh_approval_clear); NULL where the column is NULL. */
typedef struct hh_approval {
    int64_t              id;
    char                 use_case[HH_APPROVAL_UC_MAX];
    bool                 hr;                            /* Annex III point 4: four-eyes always */
    char                 requester[HH_STORE_NAME_MAX];
    char                *request;                       /* JSON: {"model", "messages"|"prompt"|"question",
                                                           "collections"?, "grounding"?} */
    char                *output;                        /* the generated answer (not released) */
    int64_t              created_at;                    /* UTC ms */
    hh_approval_status_t status;
    char                 decided_by[HH_STORE_NAME_MAX]; /* "" while pending */
    int64_t              decided_at;                    /* 0 while pending */
    char                *reason;                        /* reject: required; else optional */
    char                *final_text;                    /* approved: the output; edited: the new text */
} hh_approval_t;

/* Frees the owned strings and zeroes a. Safe on a zeroed struct. */
void hh_approval_clear(hh_approval_t *a);

/* Queues a generated answer. use_case and requester: 1..63 / 1..127 bytes;
 * request_json and output are copied (output may be ""). *id_out (may be
 * NULL) gets the new id. HH_EINVAL for a missing or too long field, HH_EIO. */
int hh_approvals_create(hh_store_t *s, const char *use_case, bool hr, const char *requester,
                        const char *request_json, const char *output, int64_t *id_out, hh_err_t *err);

/* Reads one request into *out (clear it afterwards). HH_ENOENT if unknown. */
int hh_approvals_get(hh_store_t *s, int64_t id, hh_approval_t *out, hh_err_t *err);

/* Requests oldest first (created_at; ids are random, no order): only pending ones when pending_only. *out is
 * malloc'd (NULL when *n == 0); clear each element, then free the array. */
int hh_approvals_list(hh_store_t *s, bool pending_only, hh_approval_t **out, size_t *n, hh_err_t *err);

/* Whether a user (id, role) may see and decide a (besides four-eyes):
 * admins and auditors (who only read) see every approval; an approver
 * only those of use cases they may use themselves - a use case naming
 * departments belongs to those departments' approvers
 * (hh_register_user_may_use); an unknown use case to no approver. Other
 * roles: false. The callers answer "not found" when false, the same as
 * for an unknown id. HH_EIO on a store failure. */
int  hh_approvals_may_review(hh_store_t *s, const hh_approval_t *a, int64_t user_id, const char *role, bool *ok,
                             hh_err_t *err);

/* Whether decider may decide a (four-eyes). false with the why in err
 * (may be NULL) when decider is empty or is the requester and either the
 * use case is HR or p (NULL = defaults) does not allow self-decision. */
bool hh_approvals_may_decide(const hh_approval_t *a, const char *decider, const hh_approvals_params_t *p,
                             hh_err_t *err);

/* Decides a pending request: decision APPROVED (text ignored; the final
 * text is the generated output), EDITED (text required: the released
 * answer), REJECTED (reason required, non-empty). reason is optional
 * otherwise. Then appends an audit record (kind "approval", user = decider,
 * decision = the status name, output = the final text or none, detail =
 * id, requester and reason; hashes only when the use case's policy says
 * so). If the record cannot be written the decision is undone (HH_EIO).
 * *out (may be NULL) receives the decided request.
 * Errors: HH_EINVAL (decision, missing text/reason, four-eyes: see
 * hh_approvals_may_decide; the message says which), HH_ENOENT (unknown id),
 * HH_ESTATE (already decided), HH_EIO. */
int hh_approvals_decide(hh_store_t *s, const hh_approvals_params_t *p, int64_t id, const char *decider,
                        hh_approval_status_t decision, const char *text, const char *reason, hh_approval_t *out,
                        hh_err_t *err);

/* The request as API JSON: id, object "hoheit.approval", use_case,
 * requester, status, created_at, and once decided decided_by, decided_at,
 * reason; text (the released answer) only when approved or edited, then
 * also grounding (sources, citations, confidence, scores) when the request
 * JSON holds one (a held grounded answer; kept on edit). With reviewer
 * also request (parsed) and output (the held draft). Caller owns the
 * result; NULL on no memory. */
cJSON *hh_approval_json(const hh_approval_t *a, bool reviewer);

#endif
