/* register.h - the AI Act use-case register: each use case an organisation
 * runs (purpose, owner, models, collections, affected persons), a risk
 * class derived from a questionnaire (Art. 5 prohibited practices, Art. 6(2)
 * with Annex III, the Art. 6(3) exceptions, Art. 50 transparency), the
 * policy that class sets, and a change history. System cards (Annex IV
 * style) and GDPR Art. 30 records are generated from it (syscard.c).
 *
 * A use case is stored as one validated JSON document (table usecases,
 * schema version 4) with these fields:
 *   slug            "support-answers": [a-z0-9-], 1..63 bytes, unique
 *   name, purpose, owner, known_limits                       strings
 *   models, collections, affected_persons, data_categories,
 *   recipients, safeguards, departments                       string arrays
 *   measurements    [{"name","value","link"}]  free-form, strings
 *   answers         {"<question id>": true|false}  (hh_register_questions)
 *   policy          overrides of the class defaults (hh_reg_policy_t names)
 *   disabled        true: requests under it are refused (register disable);
 *                   false when missing
 * An empty models list means any model. departments names the departments
 * whose members may use the use case; empty (or missing in documents
 * stored before it existed) means every department. Admins are not
 * exempt: they manage the register but use use cases like everyone.
 * Every create, update and delete is
 * appended to usecase_history (who, when, what) and kept after a delete.
 *
 * Built-in "general": a request that names no use case and whose key and
 * user have no default runs under "general" (minimal risk, any model, no
 * approval), unless a stored use case with that slug replaces it. */
#ifndef HH_GOVERN_REGISTER_H
#define HH_GOVERN_REGISTER_H

#include "base/err.h"
#include "store/store.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HH_REG_SLUG_MAX     64    /* slugs: 1..63 bytes */
#define HH_REG_MAX_REASONS  24
#define HH_REG_REASON_MAX   192
#define HH_REG_GENERAL      "general"
#define HH_REG_HIGH_MIN_RETENTION_DAYS 183   /* Art. 26(6): at least six months */

typedef enum hh_risk {
    HH_RISK_MINIMAL = 0,
    HH_RISK_LIMITED,
    HH_RISK_HIGH,
    HH_RISK_PROHIBITED,
} hh_risk_t;

/* "minimal", "limited", "high", "prohibited". */
const char *hh_risk_name(hh_risk_t r);

/* One questionnaire question. kind: 'p' Art. 5 practice, 'x' exception to
 * a practice, 'h' Annex III area, 'e' Art. 6(3) exception, 'f' profiling,
 * 't' Art. 50 duty. */
typedef struct hh_reg_question {
    const char *id;
    char        kind;
    const char *article;   /* "Art. 5(1)(c)" */
    const char *text;
} hh_reg_question_t;

/* The questionnaire (static table; *n receives its length). */
const hh_reg_question_t *hh_register_questions(size_t *n);

/* A classification: the class and, in order, why. */
typedef struct hh_reg_class {
    hh_risk_t risk;
    bool      annex_iii_4;     /* employment / HR: approval can never be switched off */
    size_t    n_reasons;
    char      reasons[HH_REG_MAX_REASONS][HH_REG_REASON_MAX];
} hh_reg_class_t;

/* Classifies questionnaire answers (an object of booleans; NULL or missing
 * answers count as "no"): any Art. 5 practice (without its exception) ->
 * prohibited; else any Annex III area -> high, unless an Art. 6(3)
 * exception applies and the system does not profile natural persons; else
 * any Art. 50 duty -> limited; else minimal. Pure; never fails. */
void hh_register_classify(const cJSON *answers, hh_reg_class_t *out);

typedef enum hh_audit_detail { HH_AUDIT_FULL = 0, HH_AUDIT_HASHES } hh_audit_detail_t;

/* What a use case's class asks for (defaults per class, overridable per
 * use case within the limits below). */
typedef struct hh_reg_policy {
    hh_risk_t         risk;
    bool              refused;              /* prohibited: every request is refused */
    bool              approval_required;    /* a human approves each answer (Art. 14) */
    bool              approval_locked;      /* Annex III point 4: cannot be switched off */
    hh_audit_detail_t audit_detail;         /* "full" | "hashes" */
    bool              pii_redaction;
    int               retention_days;       /* high: >= HH_REG_HIGH_MIN_RETENTION_DAYS */
    double            confidence_threshold; /* 0..1 */
    bool              redact_prompts;       /* PII in prompts redacted before the model sees them */
} hh_reg_policy_t;

/* Defaults per class: prohibited: refused; high: approval, full audit
 * text, PII redaction, 183 days, 0.5; limited: no approval, full text,
 * redaction, 90 days, 0.3; minimal: no approval, hashes only, no
 * redaction, 30 days, 0. redact_prompts is false for every class. */
hh_reg_policy_t hh_register_policy_default(const hh_reg_class_t *cls);

/* Applies the overrides of a use case document's "policy" object to the
 * defaults of cls. HH_EINVAL (message names the field) for a wrong type,
 * approval_required false on an Annex III point 4 use case, retention below
 * the minimum for high risk, or a threshold outside 0..1. */
int hh_register_policy_apply(const hh_reg_class_t *cls, const cJSON *overrides, hh_reg_policy_t *out,
                             hh_err_t *err);

/* A policy as JSON (caller owns the result; NULL on no memory). */
cJSON *hh_register_policy_json(const hh_reg_policy_t *p);

/* A use case read from the register (or the built-in "general"). */
typedef struct hh_usecase {
    int64_t         id;                /* 0: built in */
    char            slug[HH_REG_SLUG_MAX];
    int64_t         created_at, updated_at;
    hh_reg_class_t  cls;
    hh_reg_policy_t policy;
    bool            disabled;          /* the document's "disabled": requests are refused (403) */
    cJSON          *doc;               /* owned: the validated document */
} hh_usecase_t;

/* Frees u->doc and zeroes u. Safe on a zeroed struct. */
void hh_usecase_clear(hh_usecase_t *u);

/* Whether the use case allows model (an empty models list allows any). */
bool hh_usecase_allows_model(const hh_usecase_t *u, const char *model);

/* Whether user_id may use u: true when u's departments list is empty, else
 * when the user (enabled) is a member of at least one listed department.
 * Roles do not matter (admins included). An unknown user may use nothing
 * but unrestricted use cases. *ok receives the answer; HH_EIO on a store
 * failure. */
int hh_register_user_may_use(hh_store_t *s, const hh_usecase_t *u, int64_t user_id, bool *ok, hh_err_t *err);

/* A string field of the document ("" when missing; owned by u). */
const char *hh_usecase_str(const hh_usecase_t *u, const char *field);

/* The use case as API JSON: the document plus id, risk_class, reasons,
 * policy, created_at, updated_at. Caller owns the result (NULL on no memory). */
cJSON *hh_usecase_json(const hh_usecase_t *u);

/* Checks and normalises an input document (see the field list above) into
 * a fresh one: *out (caller owns) holds only known fields, every list
 * present (possibly empty). HH_EINVAL with the field named in err. For an
 * update, base (may be NULL) supplies fields the input leaves out. */
int hh_register_validate(const cJSON *in, const cJSON *base, cJSON **out, hh_err_t *err);

/* Adds a use case. actor names who did it (history). *out (may be NULL)
 * receives the stored use case (clear it). HH_EINVAL for a bad document or
 * policy, HH_EEXIST... reported as HH_EINVAL "slug exists". */
int hh_register_create(hh_store_t *s, const cJSON *in, const char *actor, hh_usecase_t *out, hh_err_t *err);

/* Replaces the fields the input names (slug cannot change) and re-derives
 * the class. HH_ENOENT for an unknown use case. */
int hh_register_update(hh_store_t *s, const char *id_or_slug, const cJSON *in, const char *actor,
                       hh_usecase_t *out, hh_err_t *err);

/* Removes a use case (its history stays). HH_ENOENT if unknown. Defaults
 * pointing at it fall back to "general". HH_ESTATE (the message says how
 * many and to disable it instead) while audit records or approvals name
 * it: they must keep pointing at a documented use case (its system card
 * can still be generated), so only use cases never used can be deleted. */
int hh_register_delete(hh_store_t *s, const char *id_or_slug, const char *actor, hh_err_t *err);

/* Disables (requests under it are refused with 403 "use_case_disabled";
 * it stays in the register, its cards and history) or enables a use case:
 * an update of its "disabled" field, recorded in the history. */
int hh_register_set_disabled(hh_store_t *s, const char *id_or_slug, bool disabled, const char *actor,
                             hh_usecase_t *out, hh_err_t *err);

/* Finds a stored use case by numeric id or slug; "general" falls back to the
 * built-in one. 0, or HH_ENOENT. */
int hh_register_get(hh_store_t *s, const char *id_or_slug, hh_usecase_t *out, hh_err_t *err);

/* All stored use cases by slug. *out malloc'd (NULL when *n == 0); free
 * each with hh_usecase_clear, then the array. */
int hh_register_list(hh_store_t *s, hh_usecase_t **out, size_t *n, hh_err_t *err);

/* The change history of a use case (by id, also after a delete), oldest
 * first: [{"at","actor","action","detail"}]. Caller owns *out. */
int hh_register_history(hh_store_t *s, int64_t id, cJSON **out, hh_err_t *err);

/* The policy of the named use case (for audit and approvals). HH_ENOENT for
 * an unknown use case. */
int hh_register_policy_for(hh_store_t *s, const char *usecase, hh_reg_policy_t *out, hh_err_t *err);

/* Sets (slug) or clears (NULL) the default use case of an API key / a user.
 * HH_ENOENT for an unknown key, user or use case; HH_EINVAL (message names
 * the use case and user) when the key's user / the user may not use it
 * (hh_register_user_may_use). */
int hh_register_set_key_default(hh_store_t *s, int64_t key_id, const char *slug, hh_err_t *err);
int hh_register_set_user_default(hh_store_t *s, const char *user, const char *slug, hh_err_t *err);

/* The use case a request runs under: requested (may be NULL/"") if given,
 * else the key's default, else the user's default, else "general".
 * HH_ENOENT (message names it) when the requested one does not exist. */
int hh_register_resolve(hh_store_t *s, const char *requested, int64_t key_id, int64_t user_id, hh_usecase_t *out,
                        hh_err_t *err);

/* ---- system cards and records of processing (syscard.c) ---------------- */

typedef enum hh_card_format { HH_CARD_MD = 0, HH_CARD_HTML } hh_card_format_t;

/* sha256 (64 hex + NUL into hex) of a file, cached in the store by path,
 * size and mtime (a changed file is hashed again). HH_EIO if unreadable. */
int hh_register_file_sha256(hh_store_t *s, const char *path, char hex[HH_SHA256_HEX_LEN + 1], hh_err_t *err);

/* The system card of a use case from live configuration: purpose, models
 * with their files' sha256 (models_dir NULL: DATA/models), collections and
 * document counts, risk class with answers and reasons, policy, human
 * oversight (approvers), known limits, measurements, change history.
 * lang "de" (also "de-DE"): every label and fixed sentence in German, with
 * the terms of the web UI (Systemkarte, KI-Anwendung, Risikoklasse,
 * Freigabe); the questionnaire and the classification reasons too. Any
 * other value or NULL: English. Values entered by people stay as entered.
 * *out malloc'd text (caller frees). HTML escapes every value. */
int hh_register_card(hh_store_t *s, const char *id_or_slug, const char *models_dir, hh_card_format_t fmt,
                     const char *lang, char **out, hh_err_t *err);

/* Records of processing activities (GDPR Art. 30) for every stored use
 * case: one table each. *out malloc'd (caller frees). */
int hh_register_ropa(hh_store_t *s, hh_card_format_t fmt, const char *lang, char **out, hh_err_t *err);

#endif
