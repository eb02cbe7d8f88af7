/* register.c - the use-case register (register.h): questionnaire and
 * classification, policy per class, validation of use-case documents, and
 * their storage with a change history (tables of schema version 4). */
#include "govern/register.h"
#include "store/store.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* The questionnaire. Texts paraphrase the Regulation (EU) 2024/1689. */
static const hh_reg_question_t g_questions[] = {
    { "p_subliminal", 'p', "Art. 5(1)(a)",
      "Does it use subliminal, manipulative or deceptive techniques that materially distort behaviour and cause "
      "significant harm?" },
    { "p_exploit_vulnerability", 'p', "Art. 5(1)(b)",
      "Does it exploit vulnerabilities due to age, disability or a social or economic situation to distort "
      "behaviour harmfully?" },
    { "p_social_scoring", 'p', "Art. 5(1)(c)",
      "Does it evaluate or classify persons by social behaviour or personal traits (social scoring) leading to "
      "detrimental treatment?" },
    { "p_predictive_policing", 'p', "Art. 5(1)(d)",
      "Does it predict the risk that a person commits a crime based solely on profiling or personality traits?" },
    { "p_face_scraping", 'p', "Art. 5(1)(e)",
      "Does it build or expand facial recognition databases by untargeted scraping of images from the internet "
      "or CCTV?" },
    { "p_emotion_work_education", 'p', "Art. 5(1)(f)",
      "Does it infer emotions of persons at the workplace or in education institutions?" },
    { "x_emotion_medical_safety", 'x', "Art. 5(1)(f)",
      "Is that emotion recognition for medical or safety reasons only?" },
    { "p_biometric_categorisation", 'p', "Art. 5(1)(g)",
      "Does it categorise persons by biometric data to infer race, political opinions, trade union membership, "
      "religious beliefs, sex life or sexual orientation?" },
    { "p_realtime_rbi_law_enforcement", 'p', "Art. 5(1)(h)",
      "Does it do real-time remote biometric identification in publicly accessible spaces for law "
      "enforcement?" },
    { "h_biometrics", 'h', "Art. 6(2), Annex III point 1",
      "Is it used for remote biometric identification, biometric categorisation or emotion recognition?" },
    { "h_critical_infrastructure", 'h', "Art. 6(2), Annex III point 2",
      "Is it a safety component in critical digital infrastructure, road traffic, or water, gas, heating or "
      "electricity supply?" },
    { "h_education", 'h', "Art. 6(2), Annex III point 3",
      "Does it decide on admission, evaluate learning outcomes, assess education levels or monitor tests?" },
    { "h_employment", 'h', "Art. 6(2), Annex III point 4",
      "Is it used for recruitment, selection (e.g. CV screening), promotion, termination, task allocation or "
      "monitoring of workers?" },
    { "h_essential_services", 'h', "Art. 6(2), Annex III point 5",
      "Does it assess eligibility for public benefits or services, creditworthiness (credit scoring), life or "
      "health insurance pricing, or triage emergency calls?" },
    { "h_law_enforcement", 'h', "Art. 6(2), Annex III point 6",
      "Is it used by or for law enforcement (victim risk, polygraphs, evidence reliability, offending risk, "
      "profiling)?" },
    { "h_migration", 'h', "Art. 6(2), Annex III point 7",
      "Is it used in migration, asylum or border control management?" },
    { "h_justice_democracy", 'h', "Art. 6(2), Annex III point 8",
      "Does it assist judicial authorities or dispute resolution, or influence elections or voting behaviour?" },
    { "e_narrow_procedural", 'e', "Art. 6(3)(a)", "Does it only perform a narrow procedural task?" },
    { "e_improves_human_result", 'e', "Art. 6(3)(b)",
      "Does it only improve the result of a previously completed human activity?" },
    { "e_detects_patterns", 'e', "Art. 6(3)(c)",
      "Does it only detect decision-making patterns or deviations, without replacing or influencing the human "
      "assessment without proper review?" },
    { "e_preparatory", 'e', "Art. 6(3)(d)",
      "Does it only perform a preparatory task to an assessment relevant for an Annex III use case?" },
    { "f_profiling", 'f', "Art. 6(3), last subparagraph",
      "Does it profile natural persons (automated evaluation of personal aspects, GDPR Art. 4(4))?" },
    { "t_interacts_with_persons", 't', "Art. 50(1)", "Does it interact directly with natural persons?" },
    { "t_generates_content", 't', "Art. 50(2)", "Does it generate synthetic text, audio, image or video content?" },
    { "t_emotion_or_biometric", 't', "Art. 50(3)",
      "Does it perform emotion recognition or biometric categorisation (where not prohibited)?" },
    { "t_deep_fake", 't', "Art. 50(4)",
      "Does it generate or manipulate image, audio or video that is a deep fake, or text published to inform "
      "the public?" },
};
#define N_QUESTIONS (sizeof g_questions / sizeof g_questions[0])

const hh_reg_question_t *hh_register_questions(size_t *n)
{
    *n = N_QUESTIONS;
    return g_questions;
}

const char *hh_risk_name(hh_risk_t r)
{
    switch (r) {
    case HH_RISK_PROHIBITED: return "prohibited";
    case HH_RISK_HIGH: return "high";
    case HH_RISK_LIMITED: return "limited";
    default: return "minimal";
    }
}

static const hh_reg_question_t *question(const char *id)
{
    for (size_t i = 0; i < N_QUESTIONS; i++)
        if (!strcmp(g_questions[i].id, id))
            return &g_questions[i];
    return NULL;
}

static bool yes(const cJSON *answers, const char *id)
{
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(answers, id));
}

static void reason(hh_reg_class_t *c, const char *fmt, const char *a, const char *b)
{
    if (c->n_reasons < HH_REG_MAX_REASONS)
        snprintf(c->reasons[c->n_reasons++], HH_REG_REASON_MAX, fmt, a, b);
}

void hh_register_classify(const cJSON *answers, hh_reg_class_t *out)
{
    memset(out, 0, sizeof *out);
    bool prohibited = false, annex = false, exception = false, transparency = false;
    for (size_t i = 0; i < N_QUESTIONS; i++) {
        const hh_reg_question_t *q = &g_questions[i];
        if (q->kind != 'p' || !yes(answers, q->id))
            continue;
        if (!strcmp(q->id, "p_emotion_work_education") && yes(answers, "x_emotion_medical_safety")) {
            reason(out, "%s: emotion recognition at work or in education for medical or safety reasons only "
                        "is not prohibited (answer %s = yes)", q->article, "x_emotion_medical_safety");
            continue;
        }
        prohibited = true;
        reason(out, "%s: prohibited practice (answer %s = yes)", q->article, q->id);
    }
    for (size_t i = 0; i < N_QUESTIONS; i++) {
        const hh_reg_question_t *q = &g_questions[i];
        if (q->kind == 'h' && yes(answers, q->id)) {
            annex = true;
            if (!strcmp(q->id, "h_employment"))
                out->annex_iii_4 = true;
            reason(out, "%s: high-risk area (answer %s = yes)", q->article, q->id);
        }
    }
    bool profiling = yes(answers, "f_profiling");
    if (annex) {
        for (size_t i = 0; i < N_QUESTIONS; i++) {
            const hh_reg_question_t *q = &g_questions[i];
            if (q->kind == 'e' && yes(answers, q->id)) {
                exception = true;
                reason(out, "%s: exception claimed (answer %s = yes)", q->article, q->id);
            }
        }
        if (exception && profiling)
            reason(out, "%s: the system profiles natural persons (answer %s = yes), so no Art. 6(3) exception "
                        "applies: always high risk", "Art. 6(3), last subparagraph", "f_profiling");
        else if (exception)
            reason(out, "%s: not high risk, the system does not profile natural persons (answer %s = no)",
                   "Art. 6(3)", "f_profiling");
    }
    bool high = annex && (!exception || profiling);
    for (size_t i = 0; i < N_QUESTIONS; i++) {
        const hh_reg_question_t *q = &g_questions[i];
        if (q->kind == 't' && yes(answers, q->id)) {
            transparency = true;
            reason(out, "%s: transparency duty (answer %s = yes)", q->article, q->id);
        }
    }
    if (prohibited)
        out->risk = HH_RISK_PROHIBITED;
    else if (high)
        out->risk = HH_RISK_HIGH;
    else if (transparency)
        out->risk = HH_RISK_LIMITED;
    else {
        out->risk = HH_RISK_MINIMAL;
        reason(out, "%s%s: no prohibited practice, no high-risk area without exception, no transparency duty",
               "Art. 5, 6, 50", "");
    }
}

hh_reg_policy_t hh_register_policy_default(const hh_reg_class_t *cls)
{
    hh_reg_policy_t p;
    memset(&p, 0, sizeof p);
    p.risk = cls->risk;
    switch (cls->risk) {
    case HH_RISK_PROHIBITED:
        p = (hh_reg_policy_t){ cls->risk, true, true, false, HH_AUDIT_FULL, true, HH_REG_HIGH_MIN_RETENTION_DAYS, 1.0,
                               false };
        break;
    case HH_RISK_HIGH:
        p = (hh_reg_policy_t){ cls->risk, false, true, false, HH_AUDIT_FULL, true, HH_REG_HIGH_MIN_RETENTION_DAYS, 0.5,
                               false };
        break;
    case HH_RISK_LIMITED:
        p = (hh_reg_policy_t){ cls->risk, false, false, false, HH_AUDIT_FULL, true, 90, 0.3, false };
        break;
    default:
        p = (hh_reg_policy_t){ cls->risk, false, false, false, HH_AUDIT_HASHES, false, 30, 0.0, false };
        break;
    }
    if (cls->annex_iii_4) {   /* HR decisions: always a human, whatever the class says */
        p.approval_required = true;
        p.approval_locked = true;
        if (p.retention_days < HH_REG_HIGH_MIN_RETENTION_DAYS)
            p.retention_days = HH_REG_HIGH_MIN_RETENTION_DAYS;
    }
    return p;
}

int hh_register_policy_apply(const hh_reg_class_t *cls, const cJSON *ov, hh_reg_policy_t *out, hh_err_t *err)
{
    *out = hh_register_policy_default(cls);
    if (!ov || cJSON_IsNull(ov))
        return 0;
    if (!cJSON_IsObject(ov))
        return hh_err_set(err, HH_EINVAL, -1, "policy must be an object");
    const cJSON *it;
    cJSON_ArrayForEach(it, ov) {
        const char *k = it->string;
        if (!strcmp(k, "approval_required")) {
            if (!cJSON_IsBool(it))
                return hh_err_set(err, HH_EINVAL, -1, "policy.approval_required must be a boolean");
            if (!cJSON_IsTrue(it) && out->approval_locked)
                return hh_err_set(err, HH_EINVAL, -1,
                                  "policy.approval_required cannot be switched off for employment/HR use cases "
                                  "(Annex III point 4)");
            out->approval_required = cJSON_IsTrue(it);
        } else if (!strcmp(k, "audit_detail")) {
            if (cJSON_IsString(it) && !strcmp(it->valuestring, "full"))
                out->audit_detail = HH_AUDIT_FULL;
            else if (cJSON_IsString(it) && !strcmp(it->valuestring, "hashes"))
                out->audit_detail = HH_AUDIT_HASHES;
            else
                return hh_err_set(err, HH_EINVAL, -1, "policy.audit_detail must be \"full\" or \"hashes\"");
        } else if (!strcmp(k, "pii_redaction")) {
            if (!cJSON_IsBool(it))
                return hh_err_set(err, HH_EINVAL, -1, "policy.pii_redaction must be a boolean");
            out->pii_redaction = cJSON_IsTrue(it);
        } else if (!strcmp(k, "redact_prompts")) {
            if (!cJSON_IsBool(it))
                return hh_err_set(err, HH_EINVAL, -1, "policy.redact_prompts must be a boolean");
            out->redact_prompts = cJSON_IsTrue(it);
        } else if (!strcmp(k, "retention_days")) {
            if (!cJSON_IsNumber(it) || it->valuedouble < 1 || it->valuedouble > 36500 ||
                it->valuedouble != (double)(int)it->valuedouble)
                return hh_err_set(err, HH_EINVAL, -1, "policy.retention_days must be an integer 1..36500");
            if ((cls->risk == HH_RISK_HIGH || cls->annex_iii_4) && it->valueint < HH_REG_HIGH_MIN_RETENTION_DAYS)
                return hh_err_set(err, HH_EINVAL, -1,
                                  "policy.retention_days must be at least %d for high-risk use (Art. 26(6))",
                                  HH_REG_HIGH_MIN_RETENTION_DAYS);
            out->retention_days = it->valueint;
        } else if (!strcmp(k, "confidence_threshold")) {
            if (!cJSON_IsNumber(it) || !(it->valuedouble >= 0.0 && it->valuedouble <= 1.0))
                return hh_err_set(err, HH_EINVAL, -1, "policy.confidence_threshold must be a number 0..1");
            out->confidence_threshold = it->valuedouble;
        } else {
            return hh_err_set(err, HH_EINVAL, -1, "policy.%s is not a policy field", k);
        }
    }
    return 0;
}

cJSON *hh_register_policy_json(const hh_reg_policy_t *p)
{
    cJSON *j = cJSON_CreateObject();
    if (!j)
        return NULL;
    cJSON_AddBoolToObject(j, "refused", p->refused);
    cJSON_AddBoolToObject(j, "approval_required", p->approval_required);
    cJSON_AddBoolToObject(j, "approval_locked", p->approval_locked);
    cJSON_AddStringToObject(j, "audit_detail", p->audit_detail == HH_AUDIT_FULL ? "full" : "hashes");
    cJSON_AddBoolToObject(j, "pii_redaction", p->pii_redaction);
    cJSON_AddNumberToObject(j, "retention_days", p->retention_days);
    cJSON_AddNumberToObject(j, "confidence_threshold", p->confidence_threshold);
    cJSON_AddBoolToObject(j, "redact_prompts", p->redact_prompts);
    return j;
}

/* ---- use-case documents ----------------------------------------------- */

static const char *const g_str_fields[] = { "name", "purpose", "owner", "known_limits" };
static const char *const g_list_fields[] = { "models",     "collections", "affected_persons", "data_categories",
                                             "recipients", "safeguards",  "departments" };

void hh_usecase_clear(hh_usecase_t *u)
{
    cJSON_Delete(u->doc);
    memset(u, 0, sizeof *u);
}

const char *hh_usecase_str(const hh_usecase_t *u, const char *field)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(u->doc, field);
    return cJSON_IsString(j) ? j->valuestring : "";
}

bool hh_usecase_allows_model(const hh_usecase_t *u, const char *model)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(u->doc, "models");
    if (cJSON_GetArraySize(m) == 0)
        return true;
    const cJSON *it;
    cJSON_ArrayForEach(it, m)
        if (cJSON_IsString(it) && model && !strcmp(it->valuestring, model))
            return true;
    return false;
}

static bool slug_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= HH_REG_SLUG_MAX || s[0] == '-')
        return false;
    bool digits = true;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(islower(c) || isdigit(c) || c == '-'))
            return false;
        if (!isdigit(c))
            digits = false;
    }
    return !digits;   /* all digits would read as an id */
}

/* Field of in if present, else of base. */
static const cJSON *pick(const cJSON *in, const cJSON *base, const char *k)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(in, k);
    return j ? j : cJSON_GetObjectItemCaseSensitive(base, k);
}

int hh_register_validate(const cJSON *in, const cJSON *base, cJSON **out, hh_err_t *err)
{
    *out = NULL;
    if (!cJSON_IsObject(in))
        return hh_err_set(err, HH_EINVAL, -1, "a use case must be a JSON object");
    cJSON *d = cJSON_CreateObject();
    if (!d)
        return hh_err_set(err, HH_ENOMEM, -1, "out of memory");
    int rc = 0;
    const cJSON *slug = pick(in, base, "slug");
    if (base && cJSON_GetObjectItemCaseSensitive(in, "slug") &&
        !cJSON_Compare(cJSON_GetObjectItemCaseSensitive(in, "slug"), cJSON_GetObjectItemCaseSensitive(base, "slug"),
                       true)) {
        rc = hh_err_set(err, HH_EINVAL, -1, "slug cannot change");
        goto fail;
    }
    if (!cJSON_IsString(slug) || !slug_valid(slug->valuestring)) {
        rc = hh_err_set(err, HH_EINVAL, -1, "slug must be 1..%d characters of a-z, 0-9 and '-' (not only digits)",
                        HH_REG_SLUG_MAX - 1);
        goto fail;
    }
    cJSON_AddStringToObject(d, "slug", slug->valuestring);
    for (size_t i = 0; i < sizeof g_str_fields / sizeof g_str_fields[0]; i++) {
        const cJSON *j = pick(in, base, g_str_fields[i]);
        if (j && !cJSON_IsNull(j) && !cJSON_IsString(j)) {
            rc = hh_err_set(err, HH_EINVAL, -1, "%s must be a string", g_str_fields[i]);
            goto fail;
        }
        if (j && cJSON_IsString(j) && strlen(j->valuestring) > 8192) {
            rc = hh_err_set(err, HH_EINVAL, -1, "%s is longer than 8192 bytes", g_str_fields[i]);
            goto fail;
        }
        cJSON_AddStringToObject(d, g_str_fields[i], cJSON_IsString(j) ? j->valuestring : "");
    }
    if (!hh_usecase_str(&(hh_usecase_t){ .doc = d }, "name")[0])
        cJSON_ReplaceItemInObjectCaseSensitive(d, "name", cJSON_CreateString(slug->valuestring));
    if (!hh_usecase_str(&(hh_usecase_t){ .doc = d }, "purpose")[0]) {
        rc = hh_err_set(err, HH_EINVAL, -1, "purpose is required");
        goto fail;
    }
    for (size_t i = 0; i < sizeof g_list_fields / sizeof g_list_fields[0]; i++) {
        const cJSON *j = pick(in, base, g_list_fields[i]);
        cJSON *arr = cJSON_AddArrayToObject(d, g_list_fields[i]);
        if (!j || cJSON_IsNull(j))
            continue;
        if (!cJSON_IsArray(j) || cJSON_GetArraySize(j) > 256) {
            rc = hh_err_set(err, HH_EINVAL, -1, "%s must be an array of at most 256 strings", g_list_fields[i]);
            goto fail;
        }
        const cJSON *it;
        cJSON_ArrayForEach(it, j) {
            if (!cJSON_IsString(it) || !it->valuestring[0] || strlen(it->valuestring) > 1024) {
                rc = hh_err_set(err, HH_EINVAL, -1, "%s must hold non-empty strings (at most 1024 bytes)",
                                g_list_fields[i]);
                goto fail;
            }
            cJSON_AddItemToArray(arr, cJSON_CreateString(it->valuestring));
        }
    }
    const cJSON *ms = pick(in, base, "measurements");
    cJSON *marr = cJSON_AddArrayToObject(d, "measurements");
    if (ms && !cJSON_IsNull(ms)) {
        if (!cJSON_IsArray(ms) || cJSON_GetArraySize(ms) > 256) {
            rc = hh_err_set(err, HH_EINVAL, -1, "measurements must be an array of at most 256 objects");
            goto fail;
        }
        const cJSON *it;
        cJSON_ArrayForEach(it, ms) {
            const cJSON *nm = cJSON_GetObjectItemCaseSensitive(it, "name");
            const cJSON *vl = cJSON_GetObjectItemCaseSensitive(it, "value");
            const cJSON *ln = cJSON_GetObjectItemCaseSensitive(it, "link");
            if (!cJSON_IsObject(it) || !cJSON_IsString(nm) || !cJSON_IsString(vl) || (ln && !cJSON_IsString(ln))) {
                rc = hh_err_set(err, HH_EINVAL, -1,
                                "measurements must hold {\"name\": string, \"value\": string, \"link\": string?}");
                goto fail;
            }
            cJSON *m = cJSON_CreateObject();
            cJSON_AddStringToObject(m, "name", nm->valuestring);
            cJSON_AddStringToObject(m, "value", vl->valuestring);
            cJSON_AddStringToObject(m, "link", ln ? ln->valuestring : "");
            cJSON_AddItemToArray(marr, m);
        }
    }
    const cJSON *ans = pick(in, base, "answers");
    cJSON *aj = cJSON_AddObjectToObject(d, "answers");
    if (ans && !cJSON_IsNull(ans)) {
        if (!cJSON_IsObject(ans)) {
            rc = hh_err_set(err, HH_EINVAL, -1, "answers must be an object of booleans");
            goto fail;
        }
        const cJSON *it;
        cJSON_ArrayForEach(it, ans) {
            if (!question(it->string)) {
                rc = hh_err_set(err, HH_EINVAL, -1, "answers.%s is not a question of the questionnaire", it->string);
                goto fail;
            }
            if (!cJSON_IsBool(it)) {
                rc = hh_err_set(err, HH_EINVAL, -1, "answers.%s must be true or false", it->string);
                goto fail;
            }
            cJSON_AddBoolToObject(aj, it->string, cJSON_IsTrue(it));
        }
    }
    const cJSON *dis = pick(in, base, "disabled");
    if (dis && !cJSON_IsNull(dis) && !cJSON_IsBool(dis)) {
        rc = hh_err_set(err, HH_EINVAL, -1, "disabled must be true or false");
        goto fail;
    }
    cJSON_AddBoolToObject(d, "disabled", cJSON_IsTrue(dis));
    const cJSON *pol = pick(in, base, "policy");
    if (pol && !cJSON_IsNull(pol) && !cJSON_IsObject(pol)) {
        rc = hh_err_set(err, HH_EINVAL, -1, "policy must be an object");
        goto fail;
    }
    cJSON_AddItemToObject(d, "policy", pol && cJSON_IsObject(pol) ? cJSON_Duplicate(pol, true) : cJSON_CreateObject());
    *out = d;
    return 0;
fail:
    cJSON_Delete(d);
    return rc;
}

/* Derives class and policy of a validated document. */
static int derive(hh_usecase_t *u, hh_err_t *err)
{
    u->disabled = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(u->doc, "disabled"));
    hh_register_classify(cJSON_GetObjectItemCaseSensitive(u->doc, "answers"), &u->cls);
    return hh_register_policy_apply(&u->cls, cJSON_GetObjectItemCaseSensitive(u->doc, "policy"), &u->policy, err);
}

cJSON *hh_usecase_json(const hh_usecase_t *u)
{
    cJSON *j = cJSON_Duplicate(u->doc, true);
    if (!j)
        return NULL;
    cJSON_AddNumberToObject(j, "id", (double)u->id);
    cJSON_AddStringToObject(j, "risk_class", hh_risk_name(u->cls.risk));
    cJSON *r = cJSON_AddArrayToObject(j, "reasons");
    for (size_t i = 0; i < u->cls.n_reasons; i++)
        cJSON_AddItemToArray(r, cJSON_CreateString(u->cls.reasons[i]));
    cJSON_AddItemToObject(j, "effective_policy", hh_register_policy_json(&u->policy));
    cJSON_AddNumberToObject(j, "created_at", (double)u->created_at);
    cJSON_AddNumberToObject(j, "updated_at", (double)u->updated_at);
    return j;
}

static int builtin_general(hh_usecase_t *out, hh_err_t *err)
{
    memset(out, 0, sizeof *out);
    snprintf(out->slug, sizeof out->slug, "%s", HH_REG_GENERAL);
    out->doc = cJSON_CreateObject();
    if (!out->doc)
        return hh_err_set(err, HH_ENOMEM, -1, "out of memory");
    cJSON_AddStringToObject(out->doc, "slug", HH_REG_GENERAL);
    cJSON_AddStringToObject(out->doc, "name", "General use (built in)");
    cJSON_AddStringToObject(out->doc, "purpose",
                            "Requests that name no use case and whose key and user have no default");
    cJSON_AddStringToObject(out->doc, "owner", "");
    cJSON_AddStringToObject(out->doc, "known_limits", "");
    for (size_t i = 0; i < sizeof g_list_fields / sizeof g_list_fields[0]; i++)
        cJSON_AddArrayToObject(out->doc, g_list_fields[i]);
    cJSON_AddArrayToObject(out->doc, "measurements");
    cJSON_AddObjectToObject(out->doc, "answers");
    cJSON_AddObjectToObject(out->doc, "policy");
    return derive(out, err);
}

/* ---- storage (the rows: store_register.c) ------------------------------ */

/* The use case of a stored row (parses and derives its document). */
static int from_row(const hh_store_usecase_row_t *r, hh_usecase_t *u, hh_err_t *err)
{
    memset(u, 0, sizeof *u);
    u->id = r->id;
    snprintf(u->slug, sizeof u->slug, "%s", r->slug);
    u->doc = cJSON_Parse(r->doc);
    u->created_at = r->created_at;
    u->updated_at = r->updated_at;
    if (!u->doc)
        return hh_err_set(err, HH_EFORMAT, -1, "register: stored use case %s is not JSON", u->slug);
    int rc = derive(u, err);
    if (rc)
        hh_usecase_clear(u);
    return rc;
}

/* Finds a use case: its row (raw, may be NULL) and the parsed use case; the
 * built-in general use case when no row has that slug. */
static int get_row(hh_store_t *s, const char *key, hh_store_usecase_row_t *row, hh_usecase_t *out, hh_err_t *err)
{
    hh_store_usecase_row_t r;
    int rc = hh_store_usecase_get(s, key, &r, err);
    if (rc == HH_ENOENT && !strcmp(key, HH_REG_GENERAL)) {
        hh_err_clear(err);
        return builtin_general(out, err);
    }
    if (rc)
        return rc;
    rc = from_row(&r, out, err);
    if (rc == 0 && row)
        *row = r;
    else
        hh_store_usecase_row_clear(&r);
    return rc;
}

int hh_register_get(hh_store_t *s, const char *id_or_slug, hh_usecase_t *out, hh_err_t *err)
{
    memset(out, 0, sizeof *out);
    if (!id_or_slug || !id_or_slug[0])
        return hh_err_set(err, HH_EINVAL, -1, "no use case named");
    return get_row(s, id_or_slug, NULL, out, err);
}

/* Fields whose value differs between a and b (both validated docs). */
static cJSON *changes(const cJSON *a, const cJSON *b)
{
    cJSON *c = cJSON_CreateObject();
    const cJSON *it;
    cJSON_ArrayForEach(it, b) {
        const cJSON *old = cJSON_GetObjectItemCaseSensitive(a, it->string);
        if (!old || !cJSON_Compare(old, it, true)) {
            cJSON *pair = cJSON_AddObjectToObject(c, it->string);
            cJSON_AddItemToObject(pair, "old", old ? cJSON_Duplicate(old, true) : cJSON_CreateNull());
            cJSON_AddItemToObject(pair, "new", cJSON_Duplicate(it, true));
        }
    }
    return c;
}

/* One try of a create (update_key NULL) or an update: HH_ESTATE when the
 * row changed between the read and the write. */
static int write_once(hh_store_t *s, const cJSON *in, const char *update_key, const char *actor, hh_usecase_t *out,
                      hh_err_t *err)
{
    hh_usecase_t old, nu;
    memset(&old, 0, sizeof old);
    memset(&nu, 0, sizeof nu);
    hh_store_usecase_row_t row;
    memset(&row, 0, sizeof row);
    cJSON *detail = NULL;
    char *doc_text = NULL, *detail_text = NULL;
    int rc;
    if (update_key) {
        if ((rc = get_row(s, update_key, &row, &old, err)))
            goto cleanup;
        if (old.id == 0) {
            rc = hh_err_set(err, HH_ENOENT, -1, "the built-in use case '%s' cannot be changed; create one with "
                                                "that slug to replace it", old.slug);
            goto cleanup;
        }
    }
    if ((rc = hh_register_validate(in, update_key ? old.doc : NULL, &nu.doc, err)))
        goto cleanup;
    if ((rc = derive(&nu, err)))
        goto cleanup;
    const char *slug = cJSON_GetObjectItemCaseSensitive(nu.doc, "slug")->valuestring;
    detail = update_key ? changes(old.doc, nu.doc) : cJSON_Duplicate(nu.doc, true);
    if (detail)
        cJSON_AddStringToObject(detail, "risk_class", hh_risk_name(nu.cls.risk));
    doc_text = cJSON_PrintUnformatted(nu.doc);
    detail_text = detail ? cJSON_PrintUnformatted(detail) : NULL;
    if (!doc_text) {
        rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory");
        goto cleanup;
    }
    hh_store_usecase_write_t w = {
        .id = update_key ? old.id : 0,
        .expect_doc = update_key ? row.doc : NULL,
        .slug = slug,
        .risk_class = hh_risk_name(nu.cls.risk),
        .doc = doc_text,
        .actor = actor,
        .detail = detail_text,
    };
    int64_t at = 0;
    if ((rc = hh_store_usecase_write(s, &w, &nu.id, &at, err)))
        goto cleanup;
    nu.created_at = update_key ? old.created_at : at;
    nu.updated_at = at;
    snprintf(nu.slug, sizeof nu.slug, "%s", slug);
cleanup:
    cJSON_Delete(detail);
    cJSON_free(doc_text);
    cJSON_free(detail_text);
    hh_store_usecase_row_clear(&row);
    hh_usecase_clear(&old);
    if (rc == 0 && out)
        *out = nu;
    else
        hh_usecase_clear(&nu);
    return rc;
}

/* A change is made from the row as read; when another writer changed it
 * in between, it is read and applied again (a few times), so no change is
 * lost and none is made from a stale document. */
static int write_usecase(hh_store_t *s, const cJSON *in, const char *update_key, const char *actor,
                         hh_usecase_t *out, hh_err_t *err)
{
    int rc = write_once(s, in, update_key, actor, out, err);
    /* a writer that keeps losing the race backs off a little longer each
     * time (up to ~50 ms in all), so the other writers finish first */
    for (int attempt = 1; attempt < 32 && rc == HH_ESTATE; attempt++) {
        struct timespec ts = { 0, (long)attempt * 100000L };
        nanosleep(&ts, NULL);
        rc = write_once(s, in, update_key, actor, out, err);
    }
    return rc;
}

int hh_register_create(hh_store_t *s, const cJSON *in, const char *actor, hh_usecase_t *out, hh_err_t *err)
{
    if (out)
        memset(out, 0, sizeof *out);
    return write_usecase(s, in, NULL, actor, out, err);
}

int hh_register_update(hh_store_t *s, const char *id_or_slug, const cJSON *in, const char *actor,
                       hh_usecase_t *out, hh_err_t *err)
{
    if (out)
        memset(out, 0, sizeof *out);
    if (!id_or_slug || !id_or_slug[0])
        return hh_err_set(err, HH_EINVAL, -1, "no use case named");
    return write_usecase(s, in, id_or_slug, actor, out, err);
}

int hh_register_set_disabled(hh_store_t *s, const char *id_or_slug, bool disabled, const char *actor,
                             hh_usecase_t *out, hh_err_t *err)
{
    cJSON *in = cJSON_CreateObject();
    if (!in || !cJSON_AddBoolToObject(in, "disabled", disabled)) {
        cJSON_Delete(in);
        return hh_err_set(err, HH_ENOMEM, -1, "out of memory");
    }
    int rc = hh_register_update(s, id_or_slug, in, actor, out, err);
    cJSON_Delete(in);
    return rc;
}

int hh_register_delete(hh_store_t *s, const char *id_or_slug, const char *actor, hh_err_t *err)
{
    if (!id_or_slug || !id_or_slug[0])
        return hh_err_set(err, HH_EINVAL, -1, "no use case named");
    hh_usecase_t u;
    memset(&u, 0, sizeof u);
    /* What refers to it is counted before the delete; a record appended in
     * between is the same race as one appended just after a delete. */
    int64_t n_audit = 0, n_appr = 0;
    int rc = hh_register_get(s, id_or_slug, &u, err);
    if (rc == 0 && u.id == 0)
        rc = hh_err_set(err, HH_ENOENT, -1, "the built-in use case '%s' cannot be deleted", u.slug);
    if (rc == 0 && (rc = hh_store_usecase_references(s, u.slug, &n_audit, &n_appr, err)) == 0 && (n_audit || n_appr))
        rc = hh_err_set(err, HH_ESTATE, -1,
                        "use case '%s' is referenced by %lld audit records and %lld approvals; they must keep "
                        "naming a documented use case, so it cannot be deleted: disable it instead "
                        "(hoheit register disable %s)",
                        u.slug, (long long)n_audit, (long long)n_appr, u.slug);
    if (rc == 0) {
        cJSON *detail = cJSON_CreateObject();
        if (detail)
            cJSON_AddStringToObject(detail, "risk_class", hh_risk_name(u.cls.risk));
        char *dt = detail ? cJSON_PrintUnformatted(detail) : NULL;
        rc = hh_store_usecase_delete(s, u.id, u.slug, actor, dt, err);
        cJSON_free(dt);
        cJSON_Delete(detail);
    }
    hh_usecase_clear(&u);
    return rc;
}

int hh_register_list(hh_store_t *s, hh_usecase_t **out, size_t *n, hh_err_t *err)
{
    *out = NULL;
    *n = 0;
    hh_store_usecase_row_t *rows = NULL;
    size_t nr = 0;
    int rc = hh_store_usecase_list(s, &rows, &nr, err);
    if (rc)
        return rc;
    hh_usecase_t *arr = nr ? calloc(nr, sizeof *arr) : NULL;
    if (nr && !arr)
        rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory");
    size_t cnt = 0;
    for (; rc == 0 && cnt < nr; cnt++)
        if ((rc = from_row(&rows[cnt], &arr[cnt], err)))
            break;
    hh_store_usecase_rows_free(rows, nr);
    if (rc) {
        for (size_t i = 0; i < cnt; i++)
            hh_usecase_clear(&arr[i]);
        free(arr);
        return rc;
    }
    *out = arr;
    *n = cnt;
    return 0;
}

int hh_register_history(hh_store_t *s, int64_t id, cJSON **out, hh_err_t *err)
{
    *out = NULL;
    hh_store_usecase_event_t *ev = NULL;
    size_t n = 0;
    int rc = hh_store_usecase_history(s, id, &ev, &n, err);
    if (rc)
        return rc;
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; arr && i < n; i++) {
        cJSON *h = cJSON_CreateObject();
        cJSON_AddNumberToObject(h, "at", (double)ev[i].at);
        cJSON_AddStringToObject(h, "actor", ev[i].actor);
        cJSON_AddStringToObject(h, "action", ev[i].action);
        cJSON *d = cJSON_Parse(ev[i].detail);
        cJSON_AddItemToObject(h, "detail", d ? d : cJSON_CreateNull());
        cJSON_AddItemToArray(arr, h);
    }
    hh_store_usecase_events_free(ev, n);
    if (!arr)
        return hh_err_set(err, HH_ENOMEM, -1, "out of memory");
    *out = arr;
    return 0;
}

int hh_register_policy_for(hh_store_t *s, const char *usecase, hh_reg_policy_t *out, hh_err_t *err)
{
    hh_usecase_t u;
    int rc = hh_register_get(s, usecase, &u, err);
    if (rc)
        return rc;
    *out = u.policy;
    hh_usecase_clear(&u);
    return 0;
}

int hh_register_user_may_use(hh_store_t *s, const hh_usecase_t *u, int64_t user_id, bool *ok, hh_err_t *err)
{
    const cJSON *depts = cJSON_GetObjectItemCaseSensitive(u->doc, "departments");
    int n = cJSON_GetArraySize(depts);
    *ok = n == 0;   /* an empty list: everyone */
    if (*ok)
        return 0;
    const char **names = calloc((size_t)n, sizeof *names);
    if (!names)
        return hh_err_set(err, HH_ENOMEM, -1, "out of memory");
    size_t k = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, depts)
        if (cJSON_IsString(it))
            names[k++] = it->valuestring;
    int rc = hh_store_user_in_department(s, user_id, names, k, ok, err);
    free(names);
    return rc;
}

/* Sets or clears (slug NULL) the default of API key key_id or, when user is
 * set, of that user. */
static int set_default(hh_store_t *s, int64_t key_id, const char *user, const char *slug, hh_err_t *err)
{
    hh_usecase_t u;
    memset(&u, 0, sizeof u);
    int rc = slug ? hh_register_get(s, slug, &u, err) : 0;
    if (rc == 0 && slug) {   /* a default the user could not use would refuse every request */
        int64_t uid = 0;
        bool ok = false;
        if ((rc = hh_store_owner_id(s, key_id, user, &uid, err)) == 0 &&
            (rc = hh_register_user_may_use(s, &u, uid, &ok, err)) == 0 && !ok)
            rc = hh_err_set(err, HH_EINVAL, -1, "use case '%s' is restricted to departments that %s is not a member of",
                            u.slug, user ? user : "the key's user");
    }
    if (rc == 0)
        rc = hh_store_default_usecase_set(s, key_id, user, slug ? u.slug : NULL, err);
    hh_usecase_clear(&u);
    return rc;
}

int hh_register_set_key_default(hh_store_t *s, int64_t key_id, const char *slug, hh_err_t *err)
{
    return set_default(s, key_id, NULL, slug, err);
}

int hh_register_set_user_default(hh_store_t *s, const char *user, const char *slug, hh_err_t *err)
{
    return set_default(s, 0, user ? user : "", slug, err);
}

int hh_register_resolve(hh_store_t *s, const char *requested, int64_t key_id, int64_t user_id, hh_usecase_t *out,
                        hh_err_t *err)
{
    memset(out, 0, sizeof *out);
    if (requested && requested[0])
        return hh_register_get(s, requested, out, err);
    char slug[HH_REG_SLUG_MAX] = "";
    int rc = hh_store_default_usecase(s, key_id, user_id, slug, sizeof slug, err);
    return rc ? rc : get_row(s, slug[0] ? slug : HH_REG_GENERAL, NULL, out, err);
}
