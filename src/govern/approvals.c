/* approvals.c - the human-approval queue (approvals.h): the policy - the
 * four-eyes rule, who may review, the audit record of a decision and its
 * undo when that record cannot be written. The rows are the store's
 * (store.h "the approval queue", store_approvals.c): a decision is taken
 * there with one conditional UPDATE. */
#include "govern/approvals.h"
#include "govern/audit.h"
#include "govern/register.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const g_status[] = { "pending", "approved", "edited", "rejected" };

const char *hh_approval_status_name(hh_approval_status_t st)
{
    return (unsigned)st < 4 ? g_status[st] : "unknown";
}

static int status_parse(const char *name)
{
    for (int i = 0; i < 4; i++)
        if (name && !strcmp(name, g_status[i]))
            return i;
    return -1;
}

hh_approvals_params_t hh_approvals_default_params(void)
{
    hh_approvals_params_t p = { .allow_self_decision = false };
    return p;
}

void hh_approval_clear(hh_approval_t *a)
{
    if (!a)
        return;
    free(a->request);
    free(a->output);
    free(a->reason);
    free(a->final_text);
    memset(a, 0, sizeof *a);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

_Static_assert(HH_APPROVAL_UC_MAX == HH_STORE_APPROVAL_UC_MAX, "approvals.h and store.h agree on the use case size");

/* Moves the store's row into *a (the strings change owner; src is zeroed). */
static void from_store(hh_store_approval_t *src, hh_approval_t *a)
{
    memset(a, 0, sizeof *a);
    a->id = src->id;
    memcpy(a->use_case, src->use_case, sizeof a->use_case);
    a->hr = src->hr;
    memcpy(a->requester, src->requester, sizeof a->requester);
    a->request = src->request;
    a->output = src->output;
    a->created_at = src->created_at;
    int sv = status_parse(src->status);
    a->status = sv < 0 ? HH_APPROVAL_PENDING : (hh_approval_status_t)sv;
    memcpy(a->decided_by, src->decided_by, sizeof a->decided_by);
    a->decided_at = src->decided_at;
    a->reason = src->reason;
    a->final_text = src->final_text;
    memset(src, 0, sizeof *src);
}

int hh_approvals_create(hh_store_t *s, const char *use_case, bool hr, const char *requester,
                        const char *request_json, const char *output, int64_t *id_out, hh_err_t *err)
{
    if (!s || !use_case || !use_case[0] || strlen(use_case) >= HH_APPROVAL_UC_MAX || !requester || !requester[0] ||
        strlen(requester) >= HH_STORE_NAME_MAX || !request_json)
        return hh_err_set(err, HH_EINVAL, -1, "approvals: use case, requester and request are required");
    /* the row only borrows the texts for the insert */
    hh_store_approval_t row = { .hr = hr, .request = (char *)request_json, .output = (char *)output,
                                .created_at = now_ms() };
    snprintf(row.use_case, sizeof row.use_case, "%s", use_case);
    snprintf(row.requester, sizeof row.requester, "%s", requester);
    return hh_store_approval_insert(s, &row, id_out, err);
}

int hh_approvals_get(hh_store_t *s, int64_t id, hh_approval_t *out, hh_err_t *err)
{
    memset(out, 0, sizeof *out);
    hh_store_approval_t row;
    int rc = hh_store_approval_get(s, id, &row, err);
    if (rc == 0)
        from_store(&row, out);
    return rc;
}

int hh_approvals_list(hh_store_t *s, bool pending_only, hh_approval_t **out, size_t *n, hh_err_t *err)
{
    *out = NULL;
    *n = 0;
    hh_store_approval_t *rows = NULL;
    size_t len = 0;
    int rc = hh_store_approval_list(s, pending_only, &rows, &len, err);
    if (rc)
        return rc;
    if (len == 0)
        return 0;
    hh_approval_t *arr = calloc(len, sizeof *arr);
    if (!arr) {
        for (size_t i = 0; i < len; i++)
            hh_store_approval_clear(&rows[i]);
        free(rows);
        return hh_err_set(err, HH_ENOMEM, -1, "approvals: out of memory");
    }
    for (size_t i = 0; i < len; i++)
        from_store(&rows[i], &arr[i]);
    free(rows);
    *out = arr;
    *n = len;
    return 0;
}

int hh_approvals_may_review(hh_store_t *s, const hh_approval_t *a, int64_t user_id, const char *role, bool *ok,
                            hh_err_t *err)
{
    *ok = false;
    if (!role)
        return 0;
    if (!strcmp(role, "admin") || !strcmp(role, "auditor")) {
        *ok = true;
        return 0;
    }
    if (strcmp(role, "approver") != 0)
        return 0;
    hh_usecase_t u;
    int rc = hh_register_get(s, a->use_case, &u, err);
    if (rc == HH_ENOENT)
        return 0;
    if (rc == 0)
        rc = hh_register_user_may_use(s, &u, user_id, ok, err);
    hh_usecase_clear(&u);
    return rc;
}

bool hh_approvals_may_decide(const hh_approval_t *a, const char *decider, const hh_approvals_params_t *p,
                             hh_err_t *err)
{
    hh_approvals_params_t d = p ? *p : hh_approvals_default_params();
    if (!decider || !decider[0]) {
        hh_err_set(err, HH_EINVAL, -1, "a decision needs a named human decider");
        return false;
    }
    if (strcmp(decider, a->requester) != 0)
        return true;
    if (a->hr) {
        hh_err_set(err, HH_EINVAL, -1,
                   "four-eyes: '%s' requested approval %lld and may not decide it (use case '%s' is employment/HR, "
                   "Annex III point 4: always another person)",
                   decider, (long long)a->id, a->use_case);
        return false;
    }
    if (!d.allow_self_decision) {
        hh_err_set(err, HH_EINVAL, -1, "four-eyes: '%s' requested approval %lld and may not decide it", decider,
                   (long long)a->id);
        return false;
    }
    return true;
}

/* The audit record of a decision (see hh_approvals_decide). */
static int audit_decision(hh_store_t *s, const hh_approval_t *a, const char *request_id, hh_err_t *err)
{
    cJSON *req = cJSON_Parse(a->request ? a->request : "");
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(req, "model");
    const cJSON *pj = cJSON_GetObjectItemCaseSensitive(req, "messages");
    if (!pj)
        pj = cJSON_GetObjectItemCaseSensitive(req, "prompt");
    if (!pj)
        pj = cJSON_GetObjectItemCaseSensitive(req, "question");   /* /api/ask */
    char *prompt = cJSON_IsString(pj) ? strdup(pj->valuestring) : pj ? cJSON_PrintUnformatted(pj) : NULL;
    hh_reg_policy_t pol;
    bool hash_only = hh_register_policy_for(s, a->use_case, &pol, NULL) == 0 && pol.audit_detail == HH_AUDIT_HASHES;
    char *detail = NULL;
    size_t dlen = 0;
    FILE *f = open_memstream(&detail, &dlen);
    int rc = 0;
    if (!f) {
        rc = hh_err_set(err, HH_ENOMEM, -1, "approvals: out of memory");
        goto cleanup;
    }
    fprintf(f, "approval %lld requested by %s", (long long)a->id, a->requester);
    if (a->reason && a->reason[0])
        fprintf(f, "; reason: %s", a->reason);
    if (fclose(f) != 0 || !detail) {
        rc = hh_err_set(err, HH_ENOMEM, -1, "approvals: out of memory");
        goto cleanup;
    }
    hh_audit_entry_t e = { .kind = "approval", .user = a->decided_by, .use_case = a->use_case,
                           .model = cJSON_IsString(model) ? model->valuestring : NULL, .prompt = prompt,
                           .output = a->status == HH_APPROVAL_REJECTED ? NULL : a->final_text,
                           .decision = hh_approval_status_name(a->status), .detail = detail,
                           .hash_only = hash_only, .request_id = request_id };
    rc = hh_audit_append(s, NULL, &e, NULL, err);
cleanup:
    free(detail);
    free(prompt);
    cJSON_Delete(req);
    return rc;
}

/* Sets the decision if the request is still pending (one conditional
 * statement in the store, so a concurrent decider cannot also win); undo
 * puts it back to pending. The store row borrows a's strings. */
static int write_decision(hh_store_t *s, const hh_approval_t *a, bool undo, hh_err_t *err)
{
    hh_store_approval_t row = { .id = a->id, .decided_at = a->decided_at, .reason = a->reason,
                                .final_text = a->final_text };
    snprintf(row.status, sizeof row.status, "%s", hh_approval_status_name(a->status));
    snprintf(row.decided_by, sizeof row.decided_by, "%s", a->decided_by);
    return undo ? hh_store_approval_undecide(s, &row, err) : hh_store_approval_decide(s, &row, err);
}

int hh_approvals_decide(hh_store_t *s, const hh_approvals_params_t *p, int64_t id, const char *decider,
                        hh_approval_status_t decision, const char *text, const char *reason, hh_approval_t *out,
                        hh_err_t *err)
{
    if (out)
        memset(out, 0, sizeof *out);
    if (decision != HH_APPROVAL_APPROVED && decision != HH_APPROVAL_EDITED && decision != HH_APPROVAL_REJECTED)
        return hh_err_set(err, HH_EINVAL, -1, "a decision is approved, edited or rejected");
    if (decision == HH_APPROVAL_EDITED && !text)
        return hh_err_set(err, HH_EINVAL, -1, "edit-and-approve needs the new text");
    if (decision == HH_APPROVAL_REJECTED && (!reason || !reason[0]))
        return hh_err_set(err, HH_EINVAL, -1, "a rejection needs a reason");
    hh_approval_t a;
    int rc = hh_approvals_get(s, id, &a, err);
    if (rc)
        return rc;
    if (a.status != HH_APPROVAL_PENDING) {
        rc = hh_err_set(err, HH_ESTATE, -1, "approval %lld is already %s", (long long)id,
                        hh_approval_status_name(a.status));
        goto cleanup;
    }
    if (!hh_approvals_may_decide(&a, decider, p, err)) {
        rc = HH_EINVAL;
        goto cleanup;
    }
    if (strlen(decider) >= sizeof a.decided_by) {
        rc = hh_err_set(err, HH_EINVAL, -1, "decider name too long");
        goto cleanup;
    }
    a.status = decision;
    snprintf(a.decided_by, sizeof a.decided_by, "%s", decider);
    a.decided_at = now_ms();
    a.reason = reason && reason[0] ? strdup(reason) : NULL;
    a.final_text = decision == HH_APPROVAL_REJECTED ? NULL : strdup(decision == HH_APPROVAL_EDITED ? text : a.output);
    if ((reason && reason[0] && !a.reason) || (decision != HH_APPROVAL_REJECTED && !a.final_text)) {
        rc = hh_err_set(err, HH_ENOMEM, -1, "approvals: out of memory");
        goto cleanup;
    }
    if ((rc = write_decision(s, &a, false, err)))
        goto cleanup;
    if ((rc = audit_decision(s, &a, p ? p->request_id : NULL, err))) {
        /* An unaudited decision must not stand (Art. 12): back to pending. */
        (void)write_decision(s, &a, true, NULL);
        rc = hh_err_set(err, HH_EIO, -1, "approval %lld: decision not recorded in the audit log, undone: %s",
                        (long long)id, err ? err->msg : "");
        goto cleanup;
    }
    if (out) {
        *out = a;
        memset(&a, 0, sizeof a);
    }
cleanup:
    hh_approval_clear(&a);
    return rc;
}

cJSON *hh_approval_json(const hh_approval_t *a, bool reviewer)
{
    cJSON *j = cJSON_CreateObject();
    if (!j)
        return NULL;
    cJSON_AddNumberToObject(j, "id", (double)a->id);
    cJSON_AddStringToObject(j, "object", "hoheit.approval");
    cJSON_AddStringToObject(j, "use_case", a->use_case);
    cJSON_AddBoolToObject(j, "hr", a->hr);
    cJSON_AddStringToObject(j, "requester", a->requester);
    cJSON_AddStringToObject(j, "status", hh_approval_status_name(a->status));
    cJSON_AddNumberToObject(j, "created_at", (double)a->created_at);
    if (a->status != HH_APPROVAL_PENDING) {
        cJSON_AddStringToObject(j, "decided_by", a->decided_by);
        cJSON_AddNumberToObject(j, "decided_at", (double)a->decided_at);
        if (a->reason)
            cJSON_AddStringToObject(j, "reason", a->reason);
        else
            cJSON_AddNullToObject(j, "reason");
    }
    cJSON *req = cJSON_Parse(a->request ? a->request : "");
    if ((a->status == HH_APPROVAL_APPROVED || a->status == HH_APPROVAL_EDITED) && a->final_text) {
        cJSON_AddStringToObject(j, "text", a->final_text);
        /* a grounded answer is released with what it rests on */
        const cJSON *g = cJSON_GetObjectItemCaseSensitive(req, "grounding");
        if (cJSON_IsObject(g))
            cJSON_AddItemToObject(j, "grounding", cJSON_Duplicate(g, true));
    }
    if (reviewer) {
        if (req)
            cJSON_AddItemToObject(j, "request", req);
        else
            cJSON_AddNullToObject(j, "request");
        req = NULL;
        cJSON_AddStringToObject(j, "output", a->output ? a->output : "");
    }
    cJSON_Delete(req);
    return j;
}
