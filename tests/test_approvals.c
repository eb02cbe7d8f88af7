/* test_approvals.c - human oversight (Art. 14): the approval queue in the
 * store (four-eyes, HR always, one decision only, reason required) and over
 * HTTP with an in-process server and stories260K: a high-risk request is
 * held (202, no text), the requester cannot approve it, an approver
 * approves / edits / rejects, the requester fetches the decision, a
 * prohibited use case is still refused, members cannot list the queue, and
 * every decision is in an audit log that still verifies; grounded answers
 * (/api/ask and the chat extension) held with their sources and released
 * with them; `hoheit approvals` run as a program. */
#include "harness.h"
#include "http_helpers.h"
#include "govern/approvals.h"
#include "govern/audit.h"
#include "govern/register.h"
#include "http/server.h"
#include "kb/ingest.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- helpers ------------------------------------------------------------ */

/* The audit records (parsed canonical JSON) of the store, in order; caller
 * deletes the array. */
static cJSON *audit_records(hh_store_t *s)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    if (!f)
        return NULL;
    hh_err_t err;
    hh_err_clear(&err);
    int rc = hh_audit_export(s, 1, f, &err);
    fclose(f);
    if (rc)
        printf("    audit export: %s\n", err.msg);
    cJSON *out = cJSON_CreateArray();
    for (char *line = buf; rc == 0 && line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        cJSON *o = cJSON_Parse(line);
        const cJSON *k = cJSON_GetObjectItem(o, "kind");
        const cJSON *rec = cJSON_GetObjectItem(o, "record");
        if (cJSON_IsString(k) && !strcmp(k->valuestring, "record") && cJSON_IsString(rec)) {
            cJSON *r = cJSON_Parse(rec->valuestring);
            /* the output text: in the record, or kept beside it (the record
             * then holds only its sha256) */
            const cJSON *text = cJSON_GetObjectItem(r, "output");
            if (!cJSON_IsString(text))
                text = cJSON_GetObjectItem(o, "output");
            if (r && cJSON_IsString(text))
                cJSON_AddStringToObject(r, "output_text", text->valuestring);
            /* user, detail and prompt: kept beside the record (the record
             * holds commitments to them) unless the record has them */
            static const char *const beside[] = { "user", "detail", "prompt" };
            for (size_t b = 0; r && b < sizeof beside / sizeof beside[0]; b++) {
                const cJSON *v = cJSON_GetObjectItem(o, beside[b]);
                if (!cJSON_IsString(cJSON_GetObjectItem(r, beside[b])) && cJSON_IsString(v))
                    cJSON_AddStringToObject(r, beside[b], v->valuestring);
            }
            cJSON_AddItemToArray(out, r);
        }
        cJSON_Delete(o);
        line = nl ? nl + 1 : NULL;
    }
    free(buf);
    return out;
}

/* The first record with kind and decision (and detail containing needle). */
static const cJSON *find_record(const cJSON *recs, const char *kind, const char *decision, const char *needle)
{
    const cJSON *r;
    cJSON_ArrayForEach(r, recs)
        if (!strcmp(hh_test_json_str(r, "kind"), kind) && !strcmp(hh_test_json_str(r, "decision"), decision) &&
            (!needle || strstr(hh_test_json_str(r, "detail"), needle)))
            return r;
    return NULL;
}

static cJSON *uc_doc(const char *slug, const char *answers_json)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "slug", slug);
    cJSON_AddStringToObject(j, "purpose", "test purpose");
    cJSON_AddItemToObject(j, "answers", cJSON_Parse(answers_json));
    return j;
}

/* ---- the store ------------------------------------------------------------ */

TEST(approvals_store_four_eyes_and_decisions)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/approvals-store", hh_test_tmpdir());
    mkdir(dir, 0700);
    hh_store_t *s = NULL;
    hh_err_t err;
    hh_err_clear(&err);
    ASSERT_OK(hh_store_open(&s, dir, &err));
    int64_t hr_id = 0, other_id = 0, third = 0;
    ASSERT_OK(hh_approvals_create(s, "cv-screening", true, "mia", "{\"model\":\"m\",\"prompt\":\"p\"}", "draft A",
                                  &hr_id, &err));
    ASSERT_OK(hh_approvals_create(s, "credit", false, "mia", "{\"model\":\"m\",\"prompt\":\"q\"}", "draft B",
                                  &other_id, &err));
    ASSERT_OK(hh_approvals_create(s, "credit", false, "mia", "{\"model\":\"m\",\"prompt\":\"r\"}", "draft C", &third,
                                  &err));
    ASSERT_TRUE(hr_id > 0 && other_id > 0 && third > 0);   /* random ids (issue 12): no order */
    ASSERT_TRUE(other_id != hr_id && third != other_id && third != hr_id);
    ASSERT_EQ_INT(hh_approvals_create(s, "", false, "mia", "{}", "", NULL, &err), HH_EINVAL);

    hh_approvals_params_t self_ok = hh_approvals_default_params();
    ASSERT_FALSE(self_ok.allow_self_decision);
    self_ok.allow_self_decision = true;
    /* HR: the requester never decides, even when self-decision is allowed */
    ASSERT_EQ_INT(hh_approvals_decide(s, &self_ok, hr_id, "mia", HH_APPROVAL_APPROVED, NULL, NULL, NULL, &err),
                  HH_EINVAL);
    ASSERT_TRUE(strstr(err.msg, "Annex III point 4") != NULL);
    /* non-HR: refused by default, allowed when configured */
    ASSERT_EQ_INT(hh_approvals_decide(s, NULL, other_id, "mia", HH_APPROVAL_APPROVED, NULL, NULL, NULL, &err),
                  HH_EINVAL);
    ASSERT_TRUE(strstr(err.msg, "four-eyes") != NULL);
    /* no anonymous decider; reject needs a reason; edit needs a text */
    ASSERT_EQ_INT(hh_approvals_decide(s, NULL, hr_id, "", HH_APPROVAL_APPROVED, NULL, NULL, NULL, &err), HH_EINVAL);
    ASSERT_EQ_INT(hh_approvals_decide(s, NULL, hr_id, "anna", HH_APPROVAL_REJECTED, NULL, "", NULL, &err), HH_EINVAL);
    ASSERT_EQ_INT(hh_approvals_decide(s, NULL, hr_id, "anna", HH_APPROVAL_EDITED, NULL, NULL, NULL, &err), HH_EINVAL);
    ASSERT_EQ_INT(hh_approvals_decide(s, NULL, hr_id, "anna", HH_APPROVAL_PENDING, NULL, NULL, NULL, &err),
                  HH_EINVAL);
    ASSERT_EQ_INT(hh_approvals_decide(s, NULL, 9999, "anna", HH_APPROVAL_APPROVED, NULL, NULL, NULL, &err),
                  HH_ENOENT);

    hh_approval_t a;
    ASSERT_OK(hh_approvals_decide(s, &self_ok, other_id, "mia", HH_APPROVAL_APPROVED, NULL, NULL, &a, &err));
    ASSERT_EQ_INT(a.status, HH_APPROVAL_APPROVED);
    ASSERT_STREQ(a.final_text, "draft B");
    ASSERT_STREQ(a.decided_by, "mia");
    hh_approval_clear(&a);
    ASSERT_OK(hh_approvals_decide(s, NULL, hr_id, "anna", HH_APPROVAL_EDITED, "edited text", NULL, &a, &err));
    ASSERT_STREQ(a.final_text, "edited text");
    hh_approval_clear(&a);
    /* one decision only */
    ASSERT_EQ_INT(hh_approvals_decide(s, NULL, hr_id, "bob", HH_APPROVAL_REJECTED, NULL, "late", NULL, &err),
                  HH_ESTATE);
    ASSERT_OK(hh_approvals_get(s, hr_id, &a, &err));
    ASSERT_EQ_INT(a.status, HH_APPROVAL_EDITED);
    ASSERT_STREQ(a.decided_by, "anna");
    ASSERT_STREQ(a.output, "draft A");
    ASSERT_TRUE(a.hr);
    hh_approval_clear(&a);

    hh_approval_t *list = NULL;
    size_t n = 0;
    ASSERT_OK(hh_approvals_list(s, true, &list, &n, &err));
    ASSERT_EQ_INT(n, 1);
    ASSERT_EQ_INT(list[0].id, third);
    ASSERT_STREQ(list[0].output, "draft C");
    for (size_t i = 0; i < n; i++)
        hh_approval_clear(&list[i]);
    free(list);
    ASSERT_OK(hh_approvals_list(s, false, &list, &n, &err));
    ASSERT_EQ_INT(n, 3);
    for (size_t i = 0; i < n; i++)
        hh_approval_clear(&list[i]);
    free(list);

    /* both decisions audited, and the log verifies */
    cJSON *recs = audit_records(s);
    ASSERT_EQ_INT(cJSON_GetArraySize(recs), 2);
    const cJSON *r0 = cJSON_GetArrayItem(recs, 0), *r1 = cJSON_GetArrayItem(recs, 1);
    ASSERT_STREQ(hh_test_json_str(r0, "kind"), "approval");
    ASSERT_STREQ(hh_test_json_str(r0, "decision"), "approved");
    ASSERT_STREQ(hh_test_json_str(r0, "user"), "mia");
    ASSERT_STREQ(hh_test_json_str(r1, "decision"), "edited");
    ASSERT_STREQ(hh_test_json_str(r1, "user"), "anna");
    ASSERT_STREQ(hh_test_json_str(r1, "use_case"), "cv-screening");
    cJSON_Delete(recs);
    hh_audit_verify_result_t vr;
    ASSERT_OK(hh_audit_verify_store(s, NULL, &vr, &err));
    ASSERT_TRUE(vr.ok);
    ASSERT_EQ_INT(vr.n_records, 2);
    hh_store_close(s);
}

/* ---- HTTP ---------------------------------------------------------------- */

typedef struct ap_srv {
    hh_test_srv_t h;
    char          member[HH_KEY_LEN + 1], member2[HH_KEY_LEN + 1], approver[HH_KEY_LEN + 1],
                  auditor[HH_KEY_LEN + 1];
} ap_srv_t;

/* <tmp>/approvals-<name> with stories260K; members mia and max, approver
 * anna, auditor aud, one key each. */
static bool srv_start(ap_srv_t *t, const char *name)
{
    memset(t, 0, sizeof *t);
    char dir[256];
    snprintf(dir, sizeof dir, "approvals-%s", name);
    return hh_test_srv_start(&t->h, dir, NULL) == 0 &&
           hh_test_srv_user(&t->h, "mia", "member", t->member, NULL) == 0 &&
           hh_test_srv_user(&t->h, "max", "member", t->member2, NULL) == 0 &&
           hh_test_srv_user(&t->h, "anna", "approver", t->approver, NULL) == 0 &&
           hh_test_srv_user(&t->h, "aud", "auditor", t->auditor, NULL) == 0;
}

#define CHAT_UC(uc)                                                                                               \
    "{\"model\":\"stories260K\",\"max_tokens\":6,\"temperature\":0,\"messages\":[{\"role\":\"user\","             \
    "\"content\":\"Once upon\"}],\"hoheit\":{\"use_case\":\"" uc "\"}}"

#define HR_UC                                                                                                     \
    "{\"slug\":\"cv-screening\",\"name\":\"CV screening\",\"purpose\":\"Pre-sort job applications\","                \
    "\"models\":[\"stories260K\"],\"answers\":{\"h_employment\":true}}"

/* Sends a held request and returns its approval id (0 on failure). */
static int64_t held_request(ap_srv_t *t, const char *body)
{
    hh_test_resp_t r;
    if (hh_test_http(t->h.port, "POST", "/v1/chat/completions", t->member, body, &r) != 0)
        return 0;
    const cJSON *a = cJSON_GetObjectItem(cJSON_GetObjectItem(r.j, "hoheit"), "approval");
    const cJSON *id = cJSON_GetObjectItem(a, "id");
    int64_t v = 0;
    if (r.status == 202 && cJSON_IsNumber(id) && !strcmp(hh_test_json_str(a, "status"), "pending") &&
        cJSON_GetArraySize(cJSON_GetObjectItem(r.j, "choices")) == 0)
        v = (int64_t)id->valuedouble;
    else
        printf("    held request: status %d body %s\n", r.status, r.body);
    hh_test_resp_free(&r);
    return v;
}

TEST(approvals_http_hold_approve_edit_reject)
{
    ap_srv_t t;
    ASSERT_TRUE(srv_start(&t, "flow"));
    hh_store_t *st = t.h.st;
    hh_err_t err;
    hh_err_clear(&err);
    cJSON *in = cJSON_Parse(HR_UC);
    ASSERT_OK(hh_register_create(st, in, "root", NULL, &err));
    cJSON_Delete(in);
    in = uc_doc("social-score", "{\"p_social_scoring\":true}");
    ASSERT_OK(hh_register_create(st, in, "root", NULL, &err));
    cJSON_Delete(in);
    hh_test_resp_t r;
    char path[128];

    /* the reference: the same greedy request under "general" is released */
    ASSERT_OK(hh_test_http(t.h.port, "POST", "/v1/chat/completions", t.member, CHAT_UC("general"), &r));
    ASSERT_EQ_INT(r.status, 200);
    const cJSON *msg = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(r.j, "choices"), 0), "message");
    char *released = strdup(hh_test_json_str(msg, "content"));
    hh_test_resp_free(&r);
    ASSERT_TRUE(released && released[0]);

    /* held: 202, pending id, no text; the stream flag does not release it either */
    ASSERT_OK(hh_test_http(t.h.port, "POST", "/v1/chat/completions", t.member, CHAT_UC("cv-screening"), &r));
    ASSERT_EQ_INT(r.status, 202);
    ASSERT_TRUE(strstr(r.body, released) == NULL);
    ASSERT_TRUE(strstr(hh_test_json_str(r.j, "message"), "held for human approval") != NULL);
    int64_t id1 = (int64_t)cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(r.j, "hoheit"), "approval"),
                                               "id")->valuedouble;
    hh_test_resp_free(&r);
    ASSERT_TRUE(id1 > 0);
    int64_t id2 = held_request(&t, CHAT_UC("cv-screening"));
    int64_t id3 = held_request(&t,
                               "{\"model\":\"stories260K\",\"max_tokens\":6,\"temperature\":0,\"stream\":true,"
                               "\"messages\":[{\"role\":\"user\",\"content\":\"Once upon\"}],"
                               "\"hoheit\":{\"use_case\":\"cv-screening\"}}");
    ASSERT_TRUE(id2 > 0 && id3 > 0 && id2 != id1 && id3 != id2 && id3 != id1);

    /* the requester sees "pending" and no text */
    snprintf(path, sizeof path, "/api/approvals/%lld", (long long)id1);
    ASSERT_OK(hh_test_http(t.h.port, "GET", path, t.member, NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_STREQ(hh_test_json_str(r.j, "status"), "pending");
    ASSERT_TRUE(cJSON_GetObjectItem(r.j, "text") == NULL);
    ASSERT_TRUE(cJSON_GetObjectItem(r.j, "output") == NULL);
    hh_test_resp_free(&r);
    /* another member may not see it, nor learn that it exists */
    ASSERT_OK(hh_test_http(t.h.port, "GET", path, t.member2, NULL, &r));
    ASSERT_EQ_INT(r.status, 404);
    ASSERT_STREQ(hh_test_resp_err_code(&r), "approval_not_found");
    hh_test_resp_free(&r);

    /* members cannot list the queue; approvers and auditors can */
    ASSERT_OK(hh_test_http(t.h.port, "GET", "/api/approvals", t.member, NULL, &r));
    ASSERT_EQ_INT(r.status, 403);
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(t.h.port, "GET", "/api/approvals", t.approver, NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    const cJSON *data = cJSON_GetObjectItem(r.j, "data");
    ASSERT_EQ_INT(cJSON_GetArraySize(data), 3);
    const cJSON *first = cJSON_GetArrayItem(data, 0);
    ASSERT_STREQ(hh_test_json_str(first, "requester"), "mia");
    ASSERT_STREQ(hh_test_json_str(first, "use_case"), "cv-screening");
    ASSERT_STREQ(hh_test_json_str(first, "output"), released);   /* the held draft is what greedy decoding gives */
    ASSERT_STREQ(hh_test_json_str(cJSON_GetObjectItem(first, "request"), "model"), "stories260K");
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(t.h.port, "GET", "/api/approvals", t.auditor, NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(r.j, "data")), 3);
    hh_test_resp_free(&r);

    /* the requester cannot approve; an auditor cannot decide */
    snprintf(path, sizeof path, "/api/approvals/%lld/approve", (long long)id1);
    ASSERT_OK(hh_test_http(t.h.port, "POST", path, t.member, "{}", &r));
    ASSERT_EQ_INT(r.status, 403);
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(t.h.port, "POST", path, t.auditor, "{}", &r));
    ASSERT_EQ_INT(r.status, 403);
    hh_test_resp_free(&r);

    /* an approver approves; the requester fetches the final text */
    ASSERT_OK(hh_test_http(t.h.port, "POST", path, t.approver, "{}", &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_STREQ(hh_test_json_str(r.j, "status"), "approved");
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(t.h.port, "POST", path, t.approver, "{}", &r));
    ASSERT_EQ_INT(r.status, 409);
    hh_test_resp_free(&r);
    snprintf(path, sizeof path, "/api/approvals/%lld", (long long)id1);
    ASSERT_OK(hh_test_http(t.h.port, "GET", path, t.member, NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_STREQ(hh_test_json_str(r.j, "status"), "approved");
    ASSERT_STREQ(hh_test_json_str(r.j, "text"), released);
    ASSERT_STREQ(hh_test_json_str(r.j, "decided_by"), "anna");
    hh_test_resp_free(&r);

    /* edit-and-approve: the edited text is what the requester gets */
    snprintf(path, sizeof path, "/api/approvals/%lld/edit", (long long)id2);
    ASSERT_OK(hh_test_http(t.h.port, "POST", path, t.approver, "{}", &r));
    ASSERT_EQ_INT(r.status, 400);
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(t.h.port, "POST", path, t.approver, "{\"text\":\"Candidate fits the role.\"}", &r));
    ASSERT_EQ_INT(r.status, 200);
    hh_test_resp_free(&r);
    snprintf(path, sizeof path, "/api/approvals/%lld", (long long)id2);
    ASSERT_OK(hh_test_http(t.h.port, "GET", path, t.member, NULL, &r));
    ASSERT_STREQ(hh_test_json_str(r.j, "status"), "edited");
    ASSERT_STREQ(hh_test_json_str(r.j, "text"), "Candidate fits the role.");
    hh_test_resp_free(&r);

    /* reject: a reason is required; the requester sees it and no text */
    snprintf(path, sizeof path, "/api/approvals/%lld/reject", (long long)id3);
    ASSERT_OK(hh_test_http(t.h.port, "POST", path, t.approver, "{}", &r));
    ASSERT_EQ_INT(r.status, 400);
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(t.h.port, "POST", path, t.approver, "{\"reason\":\"not grounded in the CV\"}", &r));
    ASSERT_EQ_INT(r.status, 200);
    hh_test_resp_free(&r);
    snprintf(path, sizeof path, "/api/approvals/%lld", (long long)id3);
    ASSERT_OK(hh_test_http(t.h.port, "GET", path, t.member, NULL, &r));
    ASSERT_STREQ(hh_test_json_str(r.j, "status"), "rejected");
    ASSERT_STREQ(hh_test_json_str(r.j, "reason"), "not grounded in the CV");
    ASSERT_TRUE(cJSON_GetObjectItem(r.j, "text") == NULL);
    hh_test_resp_free(&r);

    /* the queue is empty now; ?status=all shows all three */
    ASSERT_OK(hh_test_http(t.h.port, "GET", "/api/approvals", t.approver, NULL, &r));
    ASSERT_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(r.j, "data")), 0);
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(t.h.port, "GET", "/api/approvals?status=all", t.auditor, NULL, &r));
    ASSERT_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(r.j, "data")), 3);
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(t.h.port, "GET", "/api/approvals/abc", t.approver, NULL, &r));
    ASSERT_EQ_INT(r.status, 404);
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(t.h.port, "POST", "/api/approvals/999/approve", t.approver, "{}", &r));
    ASSERT_EQ_INT(r.status, 404);
    hh_test_resp_free(&r);

    /* a prohibited use case is still refused, nothing queued */
    ASSERT_OK(hh_test_http(t.h.port, "POST", "/v1/chat/completions", t.member, CHAT_UC("social-score"), &r));
    ASSERT_EQ_INT(r.status, 403);
    ASSERT_STREQ(hh_test_resp_err_code(&r), "use_case_prohibited");
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(t.h.port, "GET", "/api/approvals?status=all", t.approver, NULL, &r));
    ASSERT_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(r.j, "data")), 3);
    hh_test_resp_free(&r);

    /* the audit log: each held request "pending", each decision, and it verifies */
    cJSON *recs = audit_records(st);
    char needle[64];
    const int64_t held_ids[3] = { id1, id2, id3 };
    for (int k = 0; k < 3; k++) {
        snprintf(needle, sizeof needle, "approval %lld", (long long)held_ids[k]);
        const cJSON *p = find_record(recs, "request", "pending", needle);
        if (!p) {
            const cJSON *x;
            cJSON_ArrayForEach(x, recs)
                printf("    %s %s %s\n", hh_test_json_str(x, "kind"), hh_test_json_str(x, "decision"),
                       hh_test_json_str(x, "detail"));
            printf("    wanted %s\n", needle);
        }
        ASSERT_TRUE(p != NULL);
        ASSERT_STREQ(hh_test_json_str(p, "user"), "mia");
        ASSERT_STREQ(hh_test_json_str(p, "use_case"), "cv-screening");
    }
    snprintf(needle, sizeof needle, "approval %lld ", (long long)id1);
    const cJSON *d = find_record(recs, "approval", "approved", needle);
    ASSERT_TRUE(d != NULL);
    ASSERT_STREQ(hh_test_json_str(d, "user"), "anna");
    ASSERT_STREQ(hh_test_json_str(d, "output_text"), released);
    snprintf(needle, sizeof needle, "approval %lld ", (long long)id2);
    d = find_record(recs, "approval", "edited", needle);
    ASSERT_TRUE(d != NULL);
    ASSERT_STREQ(hh_test_json_str(d, "output_text"), "Candidate fits the role.");
    d = find_record(recs, "approval", "rejected", "not grounded in the CV");
    ASSERT_TRUE(d != NULL);
    ASSERT_TRUE(find_record(recs, "request", "refused", NULL) != NULL);   /* the prohibited one */
    cJSON_Delete(recs);
    hh_audit_verify_result_t vr;
    ASSERT_OK(hh_audit_verify_store(st, NULL, &vr, &err));
    if (!vr.ok)
        printf("    verify: seq %lld: %s\n", (long long)vr.bad_seq, vr.why);
    ASSERT_TRUE(vr.ok);
    free(released);
    hh_test_srv_stop(&t.h);
}

/* ---- held grounded answers -------------------------------------------------- */

static bool write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    bool ok = f && fputs(text, f) >= 0;
    if (f)
        ok = fclose(f) == 0 && ok;
    return ok;
}

/* Sends a grounded request that must be held; returns the approval id. */
static int64_t held_grounded(ap_srv_t *t, const char *path, const char *body)
{
    hh_test_resp_t r;
    if (hh_test_http(t->h.port, "POST", path, t->member, body, &r) != 0)
        return 0;
    const cJSON *a = cJSON_GetObjectItem(cJSON_GetObjectItem(r.j, "hoheit"), "approval");
    const cJSON *id = cJSON_GetObjectItem(a, "id");
    int64_t v = 0;
    /* nothing released: no answer, no choices, no sources */
    if (r.status == 202 && cJSON_IsNumber(id) && !cJSON_GetObjectItem(r.j, "answer") &&
        !strstr(r.body, "\"sources\"") && cJSON_GetArraySize(cJSON_GetObjectItem(r.j, "choices")) == 0)
        v = (int64_t)id->valuedouble;
    else
        printf("    held grounded %s: status %d body %s\n", path, r.status, r.body);
    hh_test_resp_free(&r);
    return v;
}

TEST(approvals_http_grounded_held_with_sources)
{
    ap_srv_t t;
    ASSERT_TRUE(srv_start(&t, "grounded"));
    hh_store_t *st = t.h.st;
    hh_err_t err;
    hh_err_clear(&err);
    char docs[600], file[700];
    snprintf(docs, sizeof docs, "%s/docs", t.h.data);
    mkdir(docs, 0700);
    snprintf(file, sizeof file, "%s/travel.txt", docs);
    ASSERT_TRUE(write_text(file, "Travel policy\n\nEmployees travel by train for trips under 500 kilometres. "
                                 "Flights need the written approval of the department head.\n"));
    const char *depts[1] = { "hr" };
    ASSERT_OK(hh_store_collection_ensure(st, "handbook", depts, 1, NULL, &err));
    ASSERT_OK(hh_store_user_add_department(st, "mia", "hr", &err));
    const char *paths[1] = { docs };
    hh_ingest_params_t ip = hh_ingest_default_params();
    hh_ingest_totals_t tot;
    ASSERT_OK(hh_ingest_paths(st, paths, 1, "handbook", 0, &ip, NULL, NULL, &tot, &err));
    cJSON *in = cJSON_Parse(HR_UC);
    ASSERT_OK(hh_register_create(st, in, "root", NULL, &err));
    cJSON_Delete(in);

    /* /api/ask (extractive) and the chat extension are held, not refused */
    int64_t ask_id = held_grounded(&t, "/api/ask",
                                   "{\"question\":\"Who approves flights?\",\"use_case\":\"cv-screening\","
                                   "\"collections\":[\"handbook\"]}");
    int64_t chat_id = held_grounded(&t, "/v1/chat/completions",
                                    "{\"model\":\"stories260K\",\"max_tokens\":8,\"temperature\":0,\"stream\":true,"
                                    "\"messages\":[{\"role\":\"user\",\"content\":\"Who approves flights?\"}],"
                                    "\"hoheit\":{\"use_case\":\"cv-screening\",\"collections\":[\"handbook\"]}}");
    ASSERT_TRUE(ask_id > 0 && chat_id > 0 && chat_id != ask_id);
    /* issue 14: a German question gets the held text in German, an English one keeps the English text */
    {
        hh_test_resp_t rd;
        ASSERT_OK(hh_test_http(t.h.port, "POST", "/api/ask", t.member,
                               "{\"question\":\"Wer genehmigt die Fl\xC3\xBCge f\xC3\xBCr die Abteilung?\","
                               "\"use_case\":\"cv-screening\",\"collections\":[\"handbook\"]}",
                               &rd));
        ASSERT_EQ_INT(rd.status, 202);
        const char *m = hh_test_json_str(rd.j, "message");
        ASSERT_TRUE(m && strstr(m, "Die Antwort wurde zur Freigabe vorgelegt (EU AI Act Art. 14, KI-Anwendung "
                                   "'cv-screening')") != NULL);
        ASSERT_TRUE(strstr(m, "GET /api/approvals/") != NULL);
        ASSERT_STREQ(hh_test_json_str(cJSON_GetObjectItem(cJSON_GetObjectItem(rd.j, "hoheit"), "approval"),
                                      "status"),
                     "pending");
        hh_test_resp_free(&rd);
    }

    /* the approver sees the draft, the question and its sources */
    hh_test_resp_t r;
    char path[128];
    snprintf(path, sizeof path, "/api/approvals/%lld", (long long)ask_id);
    ASSERT_OK(hh_test_http(t.h.port, "GET", path, t.approver, NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    const cJSON *req = cJSON_GetObjectItem(r.j, "request");
    ASSERT_STREQ(hh_test_json_str(req, "question"), "Who approves flights?");
    const cJSON *g = cJSON_GetObjectItem(req, "grounding");
    const cJSON *src0 = cJSON_GetArrayItem(cJSON_GetObjectItem(g, "sources"), 0);
    ASSERT_TRUE(src0 != NULL);
    ASSERT_TRUE(strstr(hh_test_json_str(src0, "quote"), "department head") != NULL);
    ASSERT_TRUE(cJSON_IsNumber(cJSON_GetObjectItem(g, "confidence")));
    char *draft = strdup(hh_test_json_str(r.j, "output"));
    int n_sources = cJSON_GetArraySize(cJSON_GetObjectItem(g, "sources"));
    int64_t chunk0 = (int64_t)cJSON_GetObjectItem(src0, "chunk_id")->valuedouble;
    double confidence = cJSON_GetObjectItem(g, "confidence")->valuedouble;
    hh_test_resp_free(&r);
    ASSERT_TRUE(draft && strstr(draft, "department head") != NULL);   /* extractive: the passage itself */
    /* pending: the requester gets neither text nor sources */
    ASSERT_OK(hh_test_http(t.h.port, "GET", path, t.member, NULL, &r));
    ASSERT_STREQ(hh_test_json_str(r.j, "status"), "pending");
    ASSERT_TRUE(cJSON_GetObjectItem(r.j, "grounding") == NULL && cJSON_GetObjectItem(r.j, "text") == NULL);
    hh_test_resp_free(&r);

    /* approved: the requester gets the answer with its sources */
    snprintf(path, sizeof path, "/api/approvals/%lld/approve", (long long)ask_id);
    ASSERT_OK(hh_test_http(t.h.port, "POST", path, t.member, "{}", &r));
    ASSERT_EQ_INT(r.status, 403);   /* HR: never the requester */
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(t.h.port, "POST", path, t.approver, "{}", &r));
    ASSERT_EQ_INT(r.status, 200);
    hh_test_resp_free(&r);
    snprintf(path, sizeof path, "/api/approvals/%lld", (long long)ask_id);
    ASSERT_OK(hh_test_http(t.h.port, "GET", path, t.member, NULL, &r));
    ASSERT_STREQ(hh_test_json_str(r.j, "status"), "approved");
    ASSERT_STREQ(hh_test_json_str(r.j, "text"), draft);
    g = cJSON_GetObjectItem(r.j, "grounding");
    ASSERT_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(g, "sources")), n_sources);
    ASSERT_EQ_INT(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(g, "sources"), 0), "chunk_id")->valuedouble,
                  chunk0);
    ASSERT_TRUE(strstr(hh_test_json_str(cJSON_GetArrayItem(cJSON_GetObjectItem(g, "sources"), 0), "quote"),
                       "department head"));
    ASSERT_NEAR(cJSON_GetObjectItem(g, "confidence")->valuedouble, confidence, 1e-9);
    ASSERT_TRUE(cJSON_GetObjectItem(r.j, "request") == NULL);   /* the requester is no reviewer */
    hh_test_resp_free(&r);

    /* edit-and-approve of the grounded chat keeps its sources */
    snprintf(path, sizeof path, "/api/approvals/%lld", (long long)chat_id);
    ASSERT_OK(hh_test_http(t.h.port, "GET", path, t.approver, NULL, &r));
    req = cJSON_GetObjectItem(r.j, "request");
    ASSERT_STREQ(hh_test_json_str(req, "model"), "stories260K");
    ASSERT_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(req, "messages")), 1);
    int n_chat_sources = cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetObjectItem(req, "grounding"), "sources"));
    hh_test_resp_free(&r);
    ASSERT_TRUE(n_chat_sources >= 1);
    snprintf(path, sizeof path, "/api/approvals/%lld/edit", (long long)chat_id);
    ASSERT_OK(hh_test_http(t.h.port, "POST", path, t.approver,
                           "{\"text\":\"The department head approves flights [1].\"}", &r));
    ASSERT_EQ_INT(r.status, 200);
    hh_test_resp_free(&r);
    snprintf(path, sizeof path, "/api/approvals/%lld", (long long)chat_id);
    ASSERT_OK(hh_test_http(t.h.port, "GET", path, t.member, NULL, &r));
    ASSERT_STREQ(hh_test_json_str(r.j, "status"), "edited");
    ASSERT_STREQ(hh_test_json_str(r.j, "text"), "The department head approves flights [1].");
    ASSERT_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetObjectItem(r.j, "grounding"), "sources")),
                  n_chat_sources);
    hh_test_resp_free(&r);

    /* audited: both held ("pending" with their approval id), both decisions */
    cJSON *recs = audit_records(st);
    char needle[64];
    snprintf(needle, sizeof needle, "approval %lld", (long long)ask_id);
    const cJSON *p = find_record(recs, "request", "pending", needle);
    ASSERT_TRUE(p != NULL);
    ASSERT_STREQ(hh_test_json_str(p, "prompt"), "Who approves flights?");
    snprintf(needle, sizeof needle, "approval %lld", (long long)chat_id);
    ASSERT_TRUE(find_record(recs, "request", "pending", needle) != NULL);
    const cJSON *d = find_record(recs, "approval", "approved", NULL);
    ASSERT_TRUE(d != NULL);
    ASSERT_STREQ(hh_test_json_str(d, "output_text"), draft);
    ASSERT_TRUE(find_record(recs, "approval", "edited", NULL) != NULL);
    cJSON_Delete(recs);
    hh_audit_verify_result_t vr;
    ASSERT_OK(hh_audit_verify_store(st, NULL, &vr, &err));
    ASSERT_TRUE(vr.ok);
    free(draft);
    hh_test_srv_stop(&t.h);
}

/* ---- the CLI ------------------------------------------------------------------ */

/* Runs `hoheit ARGS`, stdout+stderr into out (cap bytes); the exit status. */
static int run_cli(const char *args, char *out, size_t cap)
{
    return hh_test_run_cli(args, NULL, true, out, cap);
}

TEST(approvals_cli_list_show_decide)
{
    if (!getenv("HOHEIT_BIN")) SKIP("HOHEIT_BIN is not set (run through `make test`)");
    char data[512], edit_file[600], args[2048], out[16384];
    snprintf(data, sizeof data, "%s/approvals-cli", hh_test_tmpdir());
    snprintf(edit_file, sizeof edit_file, "%s/edited.txt", data);
    mkdir(data, 0700);
    hh_store_t *s = NULL;
    hh_err_t err;
    hh_err_clear(&err);
    ASSERT_OK(hh_store_open(&s, data, &err));
    hh_store_user_t u;
    ASSERT_OK(hh_store_user_ensure(s, "mia", "member", &u, NULL, &err));
    ASSERT_OK(hh_store_user_ensure(s, "anna", "approver", &u, NULL, &err));
    ASSERT_OK(hh_store_user_ensure(s, "aud", "auditor", &u, NULL, &err));
    /* approvers decide approvals of registered use cases they may use */
    cJSON *ucj = cJSON_Parse(HR_UC);
    ASSERT_OK(hh_register_create(s, ucj, "root", NULL, &err));
    cJSON_Delete(ucj);
    ucj = uc_doc("credit", "{}");
    ASSERT_OK(hh_register_create(s, ucj, "root", NULL, &err));
    cJSON_Delete(ucj);
    int64_t id1 = 0, id2 = 0, id3 = 0, own = 0;
    ASSERT_OK(hh_approvals_create(s, "cv-screening", true, "mia", "{\"model\":\"m\",\"prompt\":\"a\"}", "draft one",
                                  &id1, &err));
    ASSERT_OK(hh_approvals_create(s, "cv-screening", true, "mia", "{\"model\":\"m\",\"prompt\":\"b\"}", "draft two",
                                  &id2, &err));
    ASSERT_OK(hh_approvals_create(s, "credit", false, "mia", "{\"model\":\"m\",\"prompt\":\"c\"}", "draft three",
                                  &id3, &err));
    ASSERT_OK(hh_approvals_create(s, "credit", false, "anna", "{\"model\":\"m\",\"prompt\":\"d\"}", "anna's own",
                                  &own, &err));
    hh_store_close(s);
    ASSERT_TRUE(write_text(edit_file, "Edited on the command line."));

    /* usage errors: 2 */
    ASSERT_EQ_INT(run_cli("approvals", out, sizeof out), 2);
    snprintf(args, sizeof args, "approvals approve %lld --data %s", (long long)id1, data);
    ASSERT_EQ_INT(run_cli(args, out, sizeof out), 2);   /* no --as */
    ASSERT_TRUE(strstr(out, "--as") != NULL);
    snprintf(args, sizeof args, "approvals list --status maybe --data %s", data);
    ASSERT_EQ_INT(run_cli(args, out, sizeof out), 2);
    snprintf(args, sizeof args, "approvals edit %lld --as anna --data %s", (long long)id2, data);
    ASSERT_EQ_INT(run_cli(args, out, sizeof out), 2);   /* no --text-file */
    snprintf(args, sizeof args, "approvals reject %lld --as anna --data %s", (long long)id3, data);
    ASSERT_EQ_INT(run_cli(args, out, sizeof out), 2);   /* no --reason */
    snprintf(args, sizeof args, "approvals show x1 --data %s", data);
    ASSERT_EQ_INT(run_cli(args, out, sizeof out), 2);

    /* pending list: all four */
    snprintf(args, sizeof args, "approvals list --data %s", data);
    ASSERT_EQ_INT(run_cli(args, out, sizeof out), 0);
    ASSERT_TRUE(strstr(out, "cv-screening") != NULL && strstr(out, "credit") != NULL);
    int lines = 0;
    for (const char *p = out; (p = strchr(p, '\n')); p++)
        lines++;
    ASSERT_EQ_INT(lines, 5);   /* header + 4 */

    /* refused: unknown user, wrong role, the requester (HR and not), unknown id */
    snprintf(args, sizeof args, "approvals approve %lld --as nobody --data %s", (long long)id1, data);
    ASSERT_EQ_INT(run_cli(args, out, sizeof out), 1);
    ASSERT_TRUE(strstr(out, "unknown user") != NULL);
    snprintf(args, sizeof args, "approvals approve %lld --as aud --data %s", (long long)id1, data);
    ASSERT_EQ_INT(run_cli(args, out, sizeof out), 1);
    ASSERT_TRUE(strstr(out, "role auditor") != NULL);
    snprintf(args, sizeof args, "approvals approve %lld --as mia --data %s", (long long)id1, data);
    ASSERT_EQ_INT(run_cli(args, out, sizeof out), 1);   /* member */
    snprintf(args, sizeof args, "approvals approve %lld --as anna --data %s", (long long)own, data);
    ASSERT_EQ_INT(run_cli(args, out, sizeof out), 1);
    ASSERT_TRUE(strstr(out, "four-eyes") != NULL);
    snprintf(args, sizeof args, "approvals approve 999 --as anna --data %s", data);
    ASSERT_EQ_INT(run_cli(args, out, sizeof out), 1);

    /* decisions */
    snprintf(args, sizeof args, "approvals approve %lld --as anna --data %s", (long long)id1, data);
    ASSERT_EQ_INT(run_cli(args, out, sizeof out), 0);
    ASSERT_TRUE(strstr(out, "approved by anna") != NULL);
    ASSERT_EQ_INT(run_cli(args, out, sizeof out), 1);   /* decided already */
    ASSERT_TRUE(strstr(out, "already approved") != NULL);
    snprintf(args, sizeof args, "approvals edit %lld --as anna --text-file %s --data %s", (long long)id2, edit_file,
             data);
    ASSERT_EQ_INT(run_cli(args, out, sizeof out), 0);
    snprintf(args, sizeof args, "approvals reject %lld --as anna --reason 'no basis in the file' --data %s",
             (long long)id3, data);
    ASSERT_EQ_INT(run_cli(args, out, sizeof out), 0);

    /* lists by status; show as JSON */
    snprintf(args, sizeof args, "approvals list --data %s", data);
    ASSERT_EQ_INT(run_cli(args, out, sizeof out), 0);
    ASSERT_TRUE(strstr(out, "anna") != NULL && strstr(out, "approved") == NULL && strstr(out, "rejected") == NULL);
    snprintf(args, sizeof args, "approvals list --status rejected --data %s", data);
    ASSERT_EQ_INT(run_cli(args, out, sizeof out), 0);
    ASSERT_TRUE(strstr(out, "rejected") != NULL && strstr(out, "edited") == NULL);
    snprintf(args, sizeof args, "approvals list --status all --data %s", data);
    ASSERT_EQ_INT(run_cli(args, out, sizeof out), 0);
    ASSERT_TRUE(strstr(out, "approved") && strstr(out, "edited") && strstr(out, "rejected") && strstr(out, "pending"));
    snprintf(args, sizeof args, "approvals show %lld --data %s", (long long)id2, data);
    ASSERT_EQ_INT(run_cli(args, out, sizeof out), 0);
    cJSON *j = cJSON_Parse(out);
    ASSERT_STREQ(hh_test_json_str(j, "status"), "edited");
    ASSERT_STREQ(hh_test_json_str(j, "text"), "Edited on the command line.");
    ASSERT_STREQ(hh_test_json_str(j, "output"), "draft two");
    ASSERT_STREQ(hh_test_json_str(j, "decided_by"), "anna");
    cJSON_Delete(j);

    /* the same records the API writes: each decision audited, log verifies */
    ASSERT_OK(hh_store_open(&s, data, &err));
    cJSON *recs = audit_records(s);
    /* 3 decisions, each with the "admin" record of who ran the command
     * (cli:$USER) and whom they acted as */
    ASSERT_EQ_INT(cJSON_GetArraySize(recs), 6);
    char as_detail[64];
    snprintf(as_detail, sizeof as_detail, "approvals approve %lld as anna", (long long)id1);
    const cJSON *ran = find_record(recs, "admin", "done", as_detail);
    ASSERT_TRUE(ran != NULL);
    ASSERT_TRUE(strncmp(hh_test_json_str(ran, "user"), "cli:", 4) == 0);
    ASSERT_TRUE(find_record(recs, "approval", "approved", NULL) != NULL);
    const cJSON *ed = find_record(recs, "approval", "edited", NULL);
    ASSERT_TRUE(ed != NULL);
    ASSERT_STREQ(hh_test_json_str(ed, "user"), "anna");
    ASSERT_STREQ(hh_test_json_str(ed, "output_text"), "Edited on the command line.");
    ASSERT_TRUE(find_record(recs, "approval", "rejected", "no basis in the file") != NULL);
    cJSON_Delete(recs);
    hh_audit_verify_result_t vr;
    ASSERT_OK(hh_audit_verify_store(s, NULL, &vr, &err));
    ASSERT_TRUE(vr.ok);
    hh_store_close(s);
}

/* Issue 12 finding 9: on main an approver of Sales listed every HR
 * approval (GET /api/approvals), read one (GET /api/approvals/{id}: the
 * applicant's e-mail address) and edited it (200). Now another
 * department's approval is 404 on every route, like an unknown id; the
 * HR approver decides it; an admin never decides what they requested. */
#define HR_UC_DEPT                                                                                                \
    "{\"slug\":\"cv-screening\",\"name\":\"CV screening\",\"purpose\":\"Pre-sort job applications\","                \
    "\"models\":[\"stories260K\"],\"departments\":[\"HR\"],\"answers\":{\"h_employment\":true}}"

TEST(approvals_http_other_department_approver_sees_404)
{
    ap_srv_t t;
    ASSERT_TRUE(srv_start(&t, "departments"));
    hh_store_t *st = t.h.st;
    hh_err_t err;
    hh_err_clear(&err);
    char sales_ap[HH_KEY_LEN + 1], root[HH_KEY_LEN + 1];
    ASSERT_OK(hh_test_srv_user(&t.h, "sven", "approver", sales_ap, NULL));
    ASSERT_OK(hh_test_srv_user(&t.h, "root", "admin", root, NULL));
    ASSERT_OK(hh_store_department_ensure(st, "HR", NULL, &err));
    ASSERT_OK(hh_store_department_ensure(st, "Sales", NULL, &err));
    ASSERT_OK(hh_store_user_add_department(st, "mia", "HR", &err));
    ASSERT_OK(hh_store_user_add_department(st, "anna", "HR", &err));
    ASSERT_OK(hh_store_user_add_department(st, "root", "HR", &err));
    ASSERT_OK(hh_store_user_add_department(st, "sven", "Sales", &err));
    cJSON *in = cJSON_Parse(HR_UC_DEPT);
    ASSERT_OK(hh_register_create(st, in, "root", NULL, &err));
    cJSON_Delete(in);
    int64_t id = held_request(&t, "{\"model\":\"stories260K\",\"max_tokens\":6,\"temperature\":0,\"messages\":"
                                  "[{\"role\":\"user\",\"content\":\"Applicant jo@example.org, IBAN DE02\"}],"
                                  "\"hoheit\":{\"use_case\":\"cv-screening\"}}");
    ASSERT_TRUE(id > 0);
    char path[128];
    hh_test_resp_t r;

    /* the Sales approver: not listed, not readable, not decidable */
    ASSERT_OK(hh_test_http(t.h.port, "GET", "/api/approvals?status=all", sales_ap, NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(r.j, "data")), 0);
    ASSERT_TRUE(strstr(r.body, "jo@example.org") == NULL);
    hh_test_resp_free(&r);
    snprintf(path, sizeof path, "/api/approvals/%lld", (long long)id);
    ASSERT_OK(hh_test_http(t.h.port, "GET", path, sales_ap, NULL, &r));
    ASSERT_EQ_INT(r.status, 404);
    ASSERT_STREQ(hh_test_resp_err_code(&r), "approval_not_found");
    ASSERT_TRUE(strstr(r.body, "jo@example.org") == NULL);
    hh_test_resp_free(&r);
    snprintf(path, sizeof path, "/api/approvals/%lld/edit", (long long)id);
    ASSERT_OK(hh_test_http(t.h.port, "POST", path, sales_ap, "{\"text\":\"Hire.\"}", &r));
    ASSERT_EQ_INT(r.status, 404);
    hh_test_resp_free(&r);
    snprintf(path, sizeof path, "/api/approvals/%lld/approve", (long long)id);
    ASSERT_OK(hh_test_http(t.h.port, "POST", path, sales_ap, "{}", &r));
    ASSERT_EQ_INT(r.status, 404);
    hh_test_resp_free(&r);
    /* the same answer as for an unknown id */
    ASSERT_OK(hh_test_http(t.h.port, "GET", "/api/approvals/99999", sales_ap, NULL, &r));
    ASSERT_EQ_INT(r.status, 404);
    ASSERT_STREQ(hh_test_resp_err_code(&r), "approval_not_found");
    hh_test_resp_free(&r);

    /* the HR approver sees it; the auditor reads it */
    ASSERT_OK(hh_test_http(t.h.port, "GET", "/api/approvals", t.approver, NULL, &r));
    ASSERT_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(r.j, "data")), 1);
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(t.h.port, "GET", "/api/approvals", t.auditor, NULL, &r));
    ASSERT_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(r.j, "data")), 1);
    hh_test_resp_free(&r);

    /* an admin's own request: four-eyes holds for admins too */
    hh_test_resp_t q;
    ASSERT_OK(hh_test_http(t.h.port, "POST", "/v1/chat/completions", root, CHAT_UC("cv-screening"), &q));
    ASSERT_EQ_INT(q.status, 202);
    int64_t own = (int64_t)cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(q.j, "hoheit"), "approval"),
                                               "id")->valuedouble;
    hh_test_resp_free(&q);
    snprintf(path, sizeof path, "/api/approvals/%lld/approve", (long long)own);
    ASSERT_OK(hh_test_http(t.h.port, "POST", path, root, "{}", &r));
    ASSERT_EQ_INT(r.status, 403);
    ASSERT_STREQ(hh_test_resp_err_code(&r), "four_eyes");
    hh_test_resp_free(&r);

    /* the HR approver decides the applicant's one */
    snprintf(path, sizeof path, "/api/approvals/%lld/approve", (long long)id);
    ASSERT_OK(hh_test_http(t.h.port, "POST", path, t.approver, "{}", &r));
    ASSERT_EQ_INT(r.status, 200);
    hh_test_resp_free(&r);
    hh_test_srv_stop(&t.h);
}

/* `approvals approve --as USER`: USER must be allowed for that approval;
 * on main a Sales approver named with --as decided an HR approval. */
TEST(approvals_cli_as_other_department_refused)
{
    if (!getenv("HOHEIT_BIN")) SKIP("HOHEIT_BIN is not set (run through `make test`)");
    char data[512], args[2048], out[8192];
    snprintf(data, sizeof data, "%s/approvals-cli-dept", hh_test_tmpdir());
    mkdir(data, 0700);
    hh_store_t *s = NULL;
    hh_err_t err;
    hh_err_clear(&err);
    ASSERT_OK(hh_store_open(&s, data, &err));
    hh_store_user_t u;
    ASSERT_OK(hh_store_user_ensure(s, "mia", "member", &u, NULL, &err));
    ASSERT_OK(hh_store_user_ensure(s, "anna", "approver", &u, NULL, &err));
    ASSERT_OK(hh_store_user_ensure(s, "sven", "approver", &u, NULL, &err));
    ASSERT_OK(hh_store_department_ensure(s, "HR", NULL, &err));
    ASSERT_OK(hh_store_department_ensure(s, "Sales", NULL, &err));
    ASSERT_OK(hh_store_user_add_department(s, "anna", "HR", &err));
    ASSERT_OK(hh_store_user_add_department(s, "sven", "Sales", &err));
    cJSON *in = cJSON_Parse(HR_UC_DEPT);
    ASSERT_OK(hh_register_create(s, in, "root", NULL, &err));
    cJSON_Delete(in);
    int64_t id = 0;
    ASSERT_OK(hh_approvals_create(s, "cv-screening", true, "mia", "{\"model\":\"m\",\"prompt\":\"a\"}", "draft",
                                  &id, &err));
    hh_store_close(s);
    snprintf(args, sizeof args, "approvals approve %lld --as sven --data %s", (long long)id, data);
    ASSERT_EQ_INT(run_cli(args, out, sizeof out), 1);
    ASSERT_TRUE(strstr(out, "not of the --as user's departments") != NULL);
    snprintf(args, sizeof args, "approvals approve %lld --as anna --data %s", (long long)id, data);
    ASSERT_EQ_INT(run_cli(args, out, sizeof out), 0);
}
