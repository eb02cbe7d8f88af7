/* test_register.c - the use-case register: classification of every
 * questionnaire answer with its reasons, policies (HR always approved by a
 * human, retention floor), storage with change history, /api/usecases with
 * roles, refusals and the ai_generated marker over HTTP (server in-process
 * with stories260K), and a system card whose content is checked against
 * the live configuration (purpose, model sha256, reasoning, oversight);
 * departments restricting who may use a use case, and prompt redaction
 * (policy redact_prompts) shown on what the model really received. */
#include "harness.h"
#include "http_helpers.h"
#include "govern/audit.h"
#include "govern/register.h"
#include "http/server.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- helpers ------------------------------------------------------------ */

static cJSON *answers1(const char *id)
{
    cJSON *a = cJSON_CreateObject();
    cJSON_AddBoolToObject(a, id, true);
    return a;
}

static bool has_reason(const hh_reg_class_t *c, const char *needle1, const char *needle2)
{
    for (size_t i = 0; i < c->n_reasons; i++)
        if (strstr(c->reasons[i], needle1) && (!needle2 || strstr(c->reasons[i], needle2)))
            return true;
    return false;
}

static void print_reasons(const hh_reg_class_t *c)
{
    for (size_t i = 0; i < c->n_reasons; i++)
        printf("    reason: %s\n", c->reasons[i]);
}

static void sha256_hex_of_file(const char *path, char hex[65])
{
    size_t n = 0;
    unsigned char *d = hh_test_read_file(path, &n);
    unsigned char h[32];
    crypto_hash_sha256(h, d ? d : (const unsigned char *)"", d ? n : 0);
    sodium_bin2hex(hex, 65, h, sizeof h);
    free(d);
}

static cJSON *uc_doc(const char *slug, const char *answers_json)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "slug", slug);
    cJSON_AddStringToObject(j, "purpose", "test purpose");
    cJSON_AddItemToObject(j, "answers", cJSON_Parse(answers_json));
    return j;
}

/* ---- classification ------------------------------------------------------ */

TEST(register_classify_each_art5_practice_prohibited)
{
    size_t n = 0;
    const hh_reg_question_t *q = hh_register_questions(&n);
    int n_p = 0;
    for (size_t i = 0; i < n; i++) {
        if (q[i].kind != 'p')
            continue;
        n_p++;
        cJSON *a = answers1(q[i].id);
        hh_reg_class_t c;
        hh_register_classify(a, &c);
        cJSON_Delete(a);
        if (c.risk != HH_RISK_PROHIBITED || !has_reason(&c, q[i].article, q[i].id)) {
            printf("    question %s\n", q[i].id);
            print_reasons(&c);
        }
        ASSERT_STREQ(hh_risk_name(c.risk), "prohibited");
        ASSERT_TRUE(has_reason(&c, q[i].article, q[i].id));
        ASSERT_TRUE(strncmp(q[i].article, "Art. 5(1)(", 10) == 0);
    }
    ASSERT_EQ_INT(n_p, 8);
    /* emotion recognition at work for medical/safety reasons: not prohibited */
    cJSON *a = cJSON_Parse("{\"p_emotion_work_education\":true,\"x_emotion_medical_safety\":true}");
    hh_reg_class_t c;
    hh_register_classify(a, &c);
    cJSON_Delete(a);
    ASSERT_STREQ(hh_risk_name(c.risk), "minimal");
    ASSERT_TRUE(has_reason(&c, "medical or safety", NULL));
}

TEST(register_classify_annex_iii_high_and_exceptions)
{
    size_t n = 0;
    const hh_reg_question_t *q = hh_register_questions(&n);
    int n_h = 0, n_e = 0;
    for (size_t i = 0; i < n; i++) {
        if (q[i].kind != 'h')
            continue;
        n_h++;
        char point[32];
        snprintf(point, sizeof point, "Annex III point %d", n_h);
        cJSON *a = answers1(q[i].id);
        hh_reg_class_t c;
        hh_register_classify(a, &c);
        ASSERT_STREQ(hh_risk_name(c.risk), "high");
        ASSERT_TRUE(has_reason(&c, point, q[i].id));
        ASSERT_EQ_INT(c.annex_iii_4, n_h == 4);
        for (size_t k = 0; k < n; k++) {
            if (q[k].kind != 'e')
                continue;
            if (n_h == 1)
                n_e++;
            /* an Art. 6(3) exception takes it out of high risk ... */
            cJSON_AddBoolToObject(a, q[k].id, true);
            hh_register_classify(a, &c);
            if (c.risk != HH_RISK_MINIMAL)
                print_reasons(&c);
            ASSERT_STREQ(hh_risk_name(c.risk), "minimal");
            ASSERT_TRUE(has_reason(&c, q[k].article, q[k].id));
            ASSERT_TRUE(has_reason(&c, "not high risk", "f_profiling"));
            /* ... but never when the system profiles natural persons */
            cJSON_AddBoolToObject(a, "f_profiling", true);
            hh_register_classify(a, &c);
            ASSERT_STREQ(hh_risk_name(c.risk), "high");
            ASSERT_TRUE(has_reason(&c, "profiles natural persons", "always high risk"));
            cJSON_DeleteItemFromObject(a, "f_profiling");
            cJSON_DeleteItemFromObject(a, q[k].id);
        }
        cJSON_Delete(a);
    }
    ASSERT_EQ_INT(n_h, 8);
    ASSERT_EQ_INT(n_e, 4);
    /* prohibited wins over high */
    cJSON *a = cJSON_Parse("{\"h_law_enforcement\":true,\"p_predictive_policing\":true}");
    hh_reg_class_t c;
    hh_register_classify(a, &c);
    cJSON_Delete(a);
    ASSERT_STREQ(hh_risk_name(c.risk), "prohibited");
    ASSERT_TRUE(has_reason(&c, "Annex III point 6", NULL));
}

TEST(register_classify_art50_limited_else_minimal)
{
    size_t n = 0;
    const hh_reg_question_t *q = hh_register_questions(&n);
    int n_t = 0;
    for (size_t i = 0; i < n; i++) {
        if (q[i].kind != 't')
            continue;
        n_t++;
        cJSON *a = answers1(q[i].id);
        hh_reg_class_t c;
        hh_register_classify(a, &c);
        cJSON_Delete(a);
        ASSERT_STREQ(hh_risk_name(c.risk), "limited");
        ASSERT_TRUE(has_reason(&c, "Art. 50(", q[i].id));
    }
    ASSERT_EQ_INT(n_t, 4);
    hh_reg_class_t c;
    hh_register_classify(NULL, &c);
    ASSERT_STREQ(hh_risk_name(c.risk), "minimal");
    ASSERT_EQ_INT(c.n_reasons, 1);
    cJSON *a = cJSON_Parse("{\"p_subliminal\":false,\"h_education\":false,\"t_deep_fake\":false}");
    hh_register_classify(a, &c);
    cJSON_Delete(a);
    ASSERT_STREQ(hh_risk_name(c.risk), "minimal");
}

TEST(register_policy_hr_always_approval)
{
    /* HR with an exception (not profiling): not high, approval still locked on */
    cJSON *a = cJSON_Parse("{\"h_employment\":true,\"e_narrow_procedural\":true}");
    hh_reg_class_t c;
    hh_register_classify(a, &c);
    cJSON_Delete(a);
    ASSERT_STREQ(hh_risk_name(c.risk), "minimal");
    hh_reg_policy_t p;
    hh_err_t err;
    hh_err_clear(&err);
    ASSERT_OK(hh_register_policy_apply(&c, NULL, &p, &err));
    ASSERT_TRUE(p.approval_required);
    ASSERT_TRUE(p.approval_locked);
    ASSERT_GE(p.retention_days, 183);
    cJSON *ov = cJSON_Parse("{\"approval_required\":false}");
    ASSERT_EQ_INT(hh_register_policy_apply(&c, ov, &p, &err), HH_EINVAL);
    ASSERT_TRUE(strstr(err.msg, "Annex III point 4") != NULL);
    /* other high-risk: approval may be switched off, retention not below 183 */
    a = cJSON_Parse("{\"h_education\":true}");
    hh_register_classify(a, &c);
    cJSON_Delete(a);
    ASSERT_OK(hh_register_policy_apply(&c, ov, &p, &err));
    ASSERT_FALSE(p.approval_required);
    ASSERT_EQ_INT(p.audit_detail, HH_AUDIT_FULL);
    cJSON_Delete(ov);
    ov = cJSON_Parse("{\"retention_days\":100}");
    ASSERT_EQ_INT(hh_register_policy_apply(&c, ov, &p, &err), HH_EINVAL);
    ASSERT_TRUE(strstr(err.msg, "183") != NULL);
    cJSON_Delete(ov);
    /* minimal defaults and a valid override */
    hh_register_classify(NULL, &c);
    ov = cJSON_Parse("{\"retention_days\":10,\"audit_detail\":\"full\",\"confidence_threshold\":0.25}");
    ASSERT_OK(hh_register_policy_apply(&c, ov, &p, &err));
    ASSERT_FALSE(p.approval_required);
    ASSERT_EQ_INT(p.retention_days, 10);
    ASSERT_EQ_INT(p.audit_detail, HH_AUDIT_FULL);
    ASSERT_NEAR(p.confidence_threshold, 0.25, 1e-9);
    cJSON_Delete(ov);
    ov = cJSON_Parse("{\"bogus\":1}");
    ASSERT_EQ_INT(hh_register_policy_apply(&c, ov, &p, &err), HH_EINVAL);
    cJSON_Delete(ov);
}

/* ---- storage ------------------------------------------------------------- */

TEST(register_store_crud_history)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/register-store", hh_test_tmpdir());
    hh_err_t err;
    hh_err_clear(&err);
    hh_store_t *s = NULL;
    ASSERT_OK(hh_store_open(&s, dir, &err));
    cJSON *in = uc_doc("credit-check", "{\"h_essential_services\":true}");
    hh_usecase_t u;
    ASSERT_OK(hh_register_create(s, in, "alice", &u, &err));
    ASSERT_GE(u.id, 1);
    ASSERT_STREQ(hh_risk_name(u.cls.risk), "high");
    ASSERT_TRUE(u.policy.approval_required);
    int64_t id = u.id;
    hh_usecase_clear(&u);
    ASSERT_EQ_INT(hh_register_create(s, in, "alice", NULL, &err), HH_EINVAL);   /* slug exists */
    cJSON_Delete(in);
    /* bad documents */
    in = cJSON_Parse("{\"slug\":\"Bad Slug\",\"purpose\":\"x\"}");
    ASSERT_EQ_INT(hh_register_create(s, in, "alice", NULL, &err), HH_EINVAL);
    cJSON_Delete(in);
    in = cJSON_Parse("{\"slug\":\"x1\",\"purpose\":\"x\",\"answers\":{\"no_such_question\":true}}");
    ASSERT_EQ_INT(hh_register_create(s, in, "alice", NULL, &err), HH_EINVAL);
    ASSERT_TRUE(strstr(err.msg, "no_such_question") != NULL);
    cJSON_Delete(in);
    /* update: the exception lowers the class; history names the change */
    in = cJSON_Parse("{\"answers\":{\"h_essential_services\":true,\"e_preparatory\":true},\"owner\":\"Risk\"}");
    ASSERT_OK(hh_register_update(s, "credit-check", in, "bob", &u, &err));
    cJSON_Delete(in);
    ASSERT_STREQ(hh_risk_name(u.cls.risk), "minimal");
    ASSERT_STREQ(hh_usecase_str(&u, "purpose"), "test purpose");   /* kept from before */
    ASSERT_STREQ(hh_usecase_str(&u, "owner"), "Risk");
    hh_usecase_clear(&u);
    hh_reg_policy_t p;
    ASSERT_OK(hh_register_policy_for(s, "credit-check", &p, &err));
    ASSERT_FALSE(p.approval_required);
    ASSERT_EQ_INT(p.risk, HH_RISK_MINIMAL);
    ASSERT_EQ_INT(hh_register_policy_for(s, "nope", &p, &err), HH_ENOENT);
    ASSERT_OK(hh_register_policy_for(s, "general", &p, &err));   /* built in */
    ASSERT_EQ_INT(p.risk, HH_RISK_MINIMAL);
    /* defaults: key > user > general */
    hh_store_user_t usr;
    char key[HH_KEY_LEN + 1];
    hh_store_key_t ki;
    ASSERT_OK(hh_store_user_ensure(s, "carol", "member", &usr, NULL, &err));
    ASSERT_OK(hh_store_key_create(s, usr.id, key, sizeof key, &ki, &err));
    ASSERT_OK(hh_register_resolve(s, NULL, ki.id, usr.id, &u, &err));
    ASSERT_STREQ(u.slug, "general");
    hh_usecase_clear(&u);
    ASSERT_OK(hh_register_set_user_default(s, "carol", "credit-check", &err));
    ASSERT_OK(hh_register_resolve(s, "", ki.id, usr.id, &u, &err));
    ASSERT_STREQ(u.slug, "credit-check");
    hh_usecase_clear(&u);
    ASSERT_EQ_INT(hh_register_set_key_default(s, ki.id, "missing", &err), HH_ENOENT);
    ASSERT_EQ_INT(hh_register_resolve(s, "missing", ki.id, usr.id, &u, &err), HH_ENOENT);
    /* delete: gone, defaults cleared, history kept */
    ASSERT_OK(hh_register_delete(s, "credit-check", "alice", &err));
    ASSERT_EQ_INT(hh_register_get(s, "credit-check", &u, &err), HH_ENOENT);
    ASSERT_OK(hh_register_resolve(s, NULL, ki.id, usr.id, &u, &err));
    ASSERT_STREQ(u.slug, "general");
    hh_usecase_clear(&u);
    cJSON *h = NULL;
    ASSERT_OK(hh_register_history(s, id, &h, &err));
    ASSERT_EQ_INT(cJSON_GetArraySize(h), 3);
    const char *acts[3] = { "create", "update", "delete" }, *who[3] = { "alice", "bob", "alice" };
    for (int i = 0; i < 3; i++) {
        const cJSON *e = cJSON_GetArrayItem(h, i);
        ASSERT_STREQ(cJSON_GetObjectItem(e, "action")->valuestring, acts[i]);
        ASSERT_STREQ(cJSON_GetObjectItem(e, "actor")->valuestring, who[i]);
    }
    const cJSON *upd = cJSON_GetObjectItem(cJSON_GetArrayItem(h, 1), "detail");
    ASSERT_STREQ(cJSON_GetObjectItem(cJSON_GetObjectItem(upd, "owner"), "new")->valuestring, "Risk");
    ASSERT_STREQ(cJSON_GetObjectItem(upd, "risk_class")->valuestring, "minimal");
    cJSON_Delete(h);
    hh_store_close(s);
}

/* Two writers change different fields of one use case at the same time:
 * every change is made from the document as it is when written (the store
 * refuses a write made from a stale document and the register reads again),
 * so neither loses the other's field and the history holds every change. */
typedef struct uc_writer {
    hh_store_t *s;
    const char *field;
    int         n, failed;
} uc_writer_t;

static void *uc_write_loop(void *arg)
{
    uc_writer_t *w = arg;
    for (int i = 1; i <= w->n; i++) {
        char body[128];
        snprintf(body, sizeof body, "{\"%s\":\"%s %d\"}", w->field, w->field, i);
        cJSON *in = cJSON_Parse(body);
        hh_err_t err;
        if (!in || hh_register_update(w->s, "shared-uc", in, w->field, NULL, &err) != 0)
            w->failed++;
        cJSON_Delete(in);
    }
    return NULL;
}

TEST(register_concurrent_updates_lose_nothing)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/register-concurrent", hh_test_tmpdir());
    hh_err_t err;
    hh_store_t *s = NULL;
    ASSERT_OK(hh_store_open(&s, dir, &err));
    cJSON *in = uc_doc("shared-uc", "{}");
    hh_usecase_t u;
    ASSERT_OK(hh_register_create(s, in, "root", &u, &err));
    cJSON_Delete(in);
    int64_t id = u.id;
    hh_usecase_clear(&u);
    uc_writer_t a = { s, "owner", 40, 0 }, b = { s, "known_limits", 40, 0 };
    pthread_t ta, tb;
    ASSERT_EQ_INT(pthread_create(&ta, NULL, uc_write_loop, &a), 0);
    ASSERT_EQ_INT(pthread_create(&tb, NULL, uc_write_loop, &b), 0);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    ASSERT_EQ_INT(a.failed, 0);
    ASSERT_EQ_INT(b.failed, 0);
    ASSERT_OK(hh_register_get(s, "shared-uc", &u, &err));
    ASSERT_STREQ(hh_usecase_str(&u, "owner"), "owner 40");
    ASSERT_STREQ(hh_usecase_str(&u, "known_limits"), "known_limits 40");
    ASSERT_STREQ(hh_usecase_str(&u, "purpose"), "test purpose");
    hh_usecase_clear(&u);
    cJSON *h = NULL;
    ASSERT_OK(hh_register_history(s, id, &h, &err));
    ASSERT_EQ_INT(cJSON_GetArraySize(h), 1 + 40 + 40);
    /* replayed in order, every change starts from the value the one before
     * left: a write made from a stale document would name an older value */
    char cur_owner[64] = "", cur_limits[64] = "";
    const cJSON *e;
    int step = 0;
    cJSON_ArrayForEach(e, h) {
        const cJSON *d = cJSON_GetObjectItem(e, "detail");
        const char *fields[2] = { "owner", "known_limits" };
        char *cur[2] = { cur_owner, cur_limits };
        for (int f = 0; f < 2; f++) {
            const cJSON *c = cJSON_GetObjectItem(d, fields[f]);
            if (step == 0) {   /* create: the whole document */
                if (cJSON_IsString(c))
                    snprintf(cur[f], 64, "%s", c->valuestring);
                continue;
            }
            if (!c)
                continue;
            const cJSON *o = cJSON_GetObjectItem(c, "old"), *nw = cJSON_GetObjectItem(c, "new");
            ASSERT_STREQ(cJSON_IsString(o) ? o->valuestring : "", cur[f]);
            ASSERT_TRUE(cJSON_IsString(nw));
            snprintf(cur[f], 64, "%s", nw->valuestring);
        }
        step++;
    }
    ASSERT_STREQ(cur_owner, "owner 40");
    ASSERT_STREQ(cur_limits, "known_limits 40");
    cJSON_Delete(h);
    hh_store_close(s);
}

/* ---- HTTP ---------------------------------------------------------------- */

typedef struct reg_srv {
    hh_test_srv_t h;
    char          admin[HH_KEY_LEN + 1], member[HH_KEY_LEN + 1], auditor[HH_KEY_LEN + 1];
    int64_t       member_key_id;
} reg_srv_t;

/* <tmp>/register-<name> with stories260K; admin root, member mia (whose
 * key id is kept), auditor aud, one key each. */
static bool srv_start(reg_srv_t *t, const char *name)
{
    memset(t, 0, sizeof *t);
    char dir[256];
    snprintf(dir, sizeof dir, "register-%s", name);
    return hh_test_srv_start(&t->h, dir, NULL) == 0 &&
           hh_test_srv_user(&t->h, "root", "admin", t->admin, NULL) == 0 &&
           hh_test_srv_user(&t->h, "mia", "member", t->member, &t->member_key_id) == 0 &&
           hh_test_srv_user(&t->h, "aud", "auditor", t->auditor, NULL) == 0 && t->member_key_id > 0;
}

/* POSTs a JSON body to path with mia's key, naming the use case in the
 * X-Hoheit-Use-Case header. */
static int post_uc(const reg_srv_t *t, const char *path, const char *uc, const char *body, hh_test_resp_t *r)
{
    char h[128];
    snprintf(h, sizeof h, "X-Hoheit-Use-Case: %s", uc);
    hh_test_req_t q = { .method = "POST", .path = path, .key = t->member, .headers = h, .body = body };
    return hh_test_http_req(t->h.port, &q, r);
}

#define HR_UC                                                                                                     \
    "{\"slug\":\"cv-screening\",\"name\":\"CV screening\",\"purpose\":\"Pre-sort job applications\","                \
    "\"models\":[\"stories260K\"],\"answers\":{\"h_employment\":true}}"

TEST(register_http_crud_and_roles)
{
    reg_srv_t t;
    ASSERT_TRUE(srv_start(&t, "crud"));
    hh_test_resp_t r;
    /* a member cannot create; an admin can, and gets class + reasons */
    ASSERT_OK(hh_test_http(t.h.port, "POST", "/api/usecases", t.member, HR_UC, &r));
    ASSERT_EQ_INT(r.status, 403);
    ASSERT_STREQ(hh_test_resp_err_code(&r), "forbidden");
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(t.h.port, "POST", "/api/usecases", t.auditor, HR_UC, &r));
    ASSERT_EQ_INT(r.status, 403);
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(t.h.port, "POST", "/api/usecases", t.admin, HR_UC, &r));
    ASSERT_EQ_INT(r.status, 201);
    cJSON *j = cJSON_Parse(r.body);
    ASSERT_STREQ(cJSON_GetObjectItem(j, "risk_class")->valuestring, "high");
    const cJSON *reasons = cJSON_GetObjectItem(j, "reasons");
    ASSERT_EQ_INT(cJSON_GetArraySize(reasons), 1);
    ASSERT_TRUE(strstr(cJSON_GetArrayItem(reasons, 0)->valuestring, "Annex III point 4") != NULL);
    ASSERT_TRUE(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "effective_policy"), "approval_required")));
    ASSERT_STREQ(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "history"), 0), "actor")->valuestring,
                 "root");
    cJSON_Delete(j);
    hh_test_resp_free(&r);
    /* bad input: 400 naming the problem; duplicate slug 400 */
    ASSERT_OK(hh_test_http(t.h.port, "POST", "/api/usecases", t.admin, "{\"slug\":\"x\"}", &r));
    ASSERT_EQ_INT(r.status, 400);
    ASSERT_TRUE(strstr(r.body, "purpose") != NULL);
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(t.h.port, "POST", "/api/usecases", t.admin, HR_UC, &r));
    ASSERT_EQ_INT(r.status, 400);
    hh_test_resp_free(&r);
    /* everyone reads: list (with the questionnaire) and one */
    ASSERT_OK(hh_test_http(t.h.port, "GET", "/api/usecases", t.auditor, NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    j = cJSON_Parse(r.body);
    ASSERT_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(j, "data")), 1);
    ASSERT_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(j, "questionnaire")), 26);
    cJSON_Delete(j);
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(t.h.port, "GET", "/api/usecases/cv-screening", t.member, NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    j = cJSON_Parse(r.body);
    ASSERT_STREQ(cJSON_GetObjectItem(j, "purpose")->valuestring, "Pre-sort job applications");
    cJSON_Delete(j);
    hh_test_resp_free(&r);
    /* HR approval cannot be switched off over the API either */
    ASSERT_OK(hh_test_http(t.h.port, "PUT", "/api/usecases/cv-screening", t.admin,
                           "{\"policy\":{\"approval_required\":false}}", &r));
    ASSERT_EQ_INT(r.status, 400);
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(t.h.port, "PUT", "/api/usecases/cv-screening", t.member, "{\"owner\":\"me\"}", &r));
    ASSERT_EQ_INT(r.status, 403);
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(t.h.port, "PUT", "/api/usecases/cv-screening", t.admin, "{\"owner\":\"HR lead\"}", &r));
    ASSERT_EQ_INT(r.status, 200);
    j = cJSON_Parse(r.body);
    ASSERT_STREQ(cJSON_GetObjectItem(j, "owner")->valuestring, "HR lead");
    ASSERT_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(j, "history")), 2);
    cJSON_Delete(j);
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(t.h.port, "DELETE", "/api/usecases/cv-screening", t.member, NULL, &r));
    ASSERT_EQ_INT(r.status, 403);
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(t.h.port, "DELETE", "/api/usecases/cv-screening", t.admin, NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(t.h.port, "GET", "/api/usecases/cv-screening", t.admin, NULL, &r));
    ASSERT_EQ_INT(r.status, 404);
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(t.h.port, "GET", "/api/usecases", NULL, NULL, &r));
    ASSERT_EQ_INT(r.status, 401);
    hh_test_resp_free(&r);
    hh_test_srv_stop(&t.h);
}

#define CHAT(extra) "{\"model\":\"stories260K\",\"max_tokens\":3,\"messages\":[{\"role\":\"user\",\"content\":\"Once\"}]" extra "}"

TEST(register_http_refusals)
{
    reg_srv_t t;
    ASSERT_TRUE(srv_start(&t, "refuse"));
    hh_store_t *st = t.h.st;
    hh_err_t err;
    hh_err_clear(&err);
    cJSON *in = uc_doc("social-score", "{\"p_social_scoring\":true}");
    ASSERT_OK(hh_register_create(st, in, "root", NULL, &err));
    cJSON_Delete(in);
    in = uc_doc("other-model", "{}");
    cJSON_AddItemToObject(in, "models", cJSON_CreateStringArray((const char *[]){ "some-other-model" }, 1));
    ASSERT_OK(hh_register_create(st, in, "root", NULL, &err));
    cJSON_Delete(in);
    in = cJSON_Parse(HR_UC);
    ASSERT_OK(hh_register_create(st, in, "root", NULL, &err));
    cJSON_Delete(in);
    hh_test_resp_t r;
    /* prohibited, named in the extension field */
    ASSERT_OK(hh_test_http(t.h.port, "POST", "/v1/chat/completions", t.member,
                           CHAT(",\"hoheit\":{\"use_case\":\"social-score\"}"), &r));
    ASSERT_EQ_INT(r.status, 403);
    ASSERT_STREQ(hh_test_resp_err_code(&r), "use_case_prohibited");
    ASSERT_TRUE(strstr(r.body, "Art. 5") != NULL);
    ASSERT_TRUE(strstr(r.body, "\"type\":\"permission_error\"") != NULL);
    ASSERT_TRUE(strcasestr(r.headers, "X-AI-Generated") == NULL);
    hh_test_resp_free(&r);
    /* prohibited, named in the header; also for /v1/completions */
    ASSERT_OK(post_uc(&t, "/v1/completions", "social-score",
                      "{\"model\":\"stories260K\",\"prompt\":\"a\",\"max_tokens\":2}", &r));
    ASSERT_EQ_INT(r.status, 403);
    ASSERT_STREQ(hh_test_resp_err_code(&r), "use_case_prohibited");
    hh_test_resp_free(&r);
    /* a key whose default is prohibited */
    ASSERT_OK(hh_register_set_key_default(st, t.member_key_id, "social-score", &err));
    ASSERT_OK(hh_test_http(t.h.port, "POST", "/v1/chat/completions", t.member, CHAT(""), &r));
    ASSERT_EQ_INT(r.status, 403);
    ASSERT_STREQ(hh_test_resp_err_code(&r), "use_case_prohibited");
    hh_test_resp_free(&r);
    ASSERT_OK(hh_register_set_key_default(st, t.member_key_id, NULL, &err));
    /* the model is not one the use case lists */
    ASSERT_OK(post_uc(&t, "/v1/chat/completions", "other-model", CHAT(""), &r));
    ASSERT_EQ_INT(r.status, 403);
    ASSERT_STREQ(hh_test_resp_err_code(&r), "model_not_allowed");
    hh_test_resp_free(&r);
    /* approval required (HR): held for a human, 202 (test_approvals.c) */
    ASSERT_OK(hh_test_http(t.h.port, "POST", "/v1/chat/completions", t.member,
                           CHAT(",\"hoheit\":{\"use_case\":\"cv-screening\"}"), &r));
    ASSERT_EQ_INT(r.status, 202);
    ASSERT_TRUE(strstr(r.body, "\"status\":\"pending\"") != NULL);
    hh_test_resp_free(&r);
    /* unknown use case; wrong type */
    ASSERT_OK(hh_test_http(t.h.port, "POST", "/v1/chat/completions", t.member,
                           CHAT(",\"hoheit\":{\"use_case\":\"nope\"}"), &r));
    ASSERT_EQ_INT(r.status, 404);
    ASSERT_STREQ(hh_test_resp_err_code(&r), "use_case_not_found");
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(t.h.port, "POST", "/v1/chat/completions", t.member, CHAT(",\"hoheit\":{\"use_case\":7}"),
                           &r));
    ASSERT_EQ_INT(r.status, 400);
    hh_test_resp_free(&r);
    hh_test_srv_stop(&t.h);
}

TEST(register_http_ai_generated_marker)
{
    reg_srv_t t;
    ASSERT_TRUE(srv_start(&t, "marker"));
    hh_store_t *st = t.h.st;
    hh_err_t err;
    hh_err_clear(&err);
    cJSON *in = uc_doc("support", "{\"t_interacts_with_persons\":true,\"t_generates_content\":true}");
    ASSERT_OK(hh_register_create(st, in, "root", NULL, &err));
    cJSON_Delete(in);
    hh_test_resp_t r;
    /* no use case named, no default: "general" */
    ASSERT_OK(hh_test_http(t.h.port, "POST", "/v1/chat/completions", t.member, CHAT(""), &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_TRUE(strcasestr(r.headers, "X-AI-Generated: true") != NULL);
    cJSON *j = cJSON_Parse(r.body);
    const cJSON *h = cJSON_GetObjectItem(j, "hoheit");
    ASSERT_TRUE(cJSON_IsTrue(cJSON_GetObjectItem(h, "ai_generated")));
    ASSERT_STREQ(cJSON_GetObjectItem(h, "model")->valuestring, "stories260K");
    ASSERT_STREQ(cJSON_GetObjectItem(h, "use_case")->valuestring, "general");
    ASSERT_STREQ(cJSON_GetObjectItem(j, "object")->valuestring, "chat.completion");
    cJSON_Delete(j);
    hh_test_resp_free(&r);
    /* the field names it (no grounding: use_case alone is not a KB request) */
    ASSERT_OK(hh_test_http(t.h.port, "POST", "/v1/chat/completions", t.member,
                           CHAT(",\"hoheit\":{\"use_case\":\"support\"}"), &r));
    ASSERT_EQ_INT(r.status, 200);
    j = cJSON_Parse(r.body);
    h = cJSON_GetObjectItem(j, "hoheit");
    ASSERT_STREQ(cJSON_GetObjectItem(h, "use_case")->valuestring, "support");
    ASSERT_TRUE(cJSON_GetObjectItem(h, "sources") == NULL);
    ASSERT_TRUE(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "choices"), 0), "message") != NULL);
    cJSON_Delete(j);
    hh_test_resp_free(&r);
    /* the key's default; /v1/completions */
    ASSERT_OK(hh_register_set_key_default(st, t.member_key_id, "support", &err));
    ASSERT_OK(hh_test_http(t.h.port, "POST", "/v1/completions", t.member,
                           "{\"model\":\"stories260K\",\"prompt\":\"Once\",\"max_tokens\":3}", &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_TRUE(strcasestr(r.headers, "X-AI-Generated: true") != NULL);
    j = cJSON_Parse(r.body);
    h = cJSON_GetObjectItem(j, "hoheit");
    ASSERT_TRUE(cJSON_IsTrue(cJSON_GetObjectItem(h, "ai_generated")));
    ASSERT_STREQ(cJSON_GetObjectItem(h, "use_case")->valuestring, "support");
    cJSON_Delete(j);
    hh_test_resp_free(&r);
    /* stream: header, and the marker in the final (finish_reason) chunk only */
    ASSERT_OK(hh_test_http(t.h.port, "POST", "/v1/chat/completions", t.member, CHAT(",\"stream\":true"), &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_TRUE(strcasestr(r.headers, "X-AI-Generated: true") != NULL);
    int n_events = 0, n_marked = 0;
    bool final_marked = false;
    for (char *p = r.body; (p = strstr(p, "data: ")); p += 6) {
        if (!strncmp(p + 6, "[DONE]", 6))
            break;
        char *end = strstr(p, "\n\n");
        ASSERT_TRUE(end != NULL);
        *end = '\0';
        cJSON *ev = cJSON_Parse(p + 6);
        *end = '\n';
        ASSERT_TRUE(ev != NULL);
        n_events++;
        const cJSON *eh = cJSON_GetObjectItem(ev, "hoheit");
        const cJSON *fr = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(ev, "choices"), 0), "finish_reason");
        if (eh) {
            n_marked++;
            ASSERT_TRUE(cJSON_IsTrue(cJSON_GetObjectItem(eh, "ai_generated")));
            ASSERT_STREQ(cJSON_GetObjectItem(eh, "use_case")->valuestring, "support");
            ASSERT_STREQ(cJSON_GetObjectItem(eh, "model")->valuestring, "stories260K");
            final_marked = cJSON_IsString(fr);
        }
        cJSON_Delete(ev);
    }
    ASSERT_GE(n_events, 2);
    ASSERT_EQ_INT(n_marked, 1);
    ASSERT_TRUE(final_marked);
    hh_test_resp_free(&r);
    /* grounded chat (ask.c): the marker merges into its one hoheit object */
    ASSERT_OK(hh_test_http(t.h.port, "POST", "/v1/chat/completions", t.member,
                           CHAT(",\"hoheit\":{\"use_case\":\"support\",\"k\":3}"), &r));
    if (r.status != 200)
        printf("    grounded: %d %s\n", r.status, r.body);
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_TRUE(strcasestr(r.headers, "X-AI-Generated: true") != NULL);
    j = cJSON_Parse(r.body);
    h = cJSON_GetObjectItem(j, "hoheit");
    ASSERT_TRUE(cJSON_IsTrue(cJSON_GetObjectItem(h, "ai_generated")));
    ASSERT_STREQ(cJSON_GetObjectItem(h, "use_case")->valuestring, "support");
    ASSERT_TRUE(cJSON_IsNumber(cJSON_GetObjectItem(h, "confidence")));   /* ask.c's grounding fields */
    cJSON_Delete(j);
    {   /* exactly one "hoheit" key in the text */
        const char *p1 = strstr(r.body, "\"hoheit\":");
        ASSERT_TRUE(p1 != NULL);
        ASSERT_TRUE(strstr(p1 + 1, "\"hoheit\":") == NULL);
    }
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(t.h.port, "POST", "/v1/chat/completions", t.member,
                           CHAT(",\"stream\":true,\"hoheit\":{\"use_case\":\"support\",\"k\":3}"), &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_TRUE(strcasestr(r.headers, "X-AI-Generated: true") != NULL);
    {
        const char *fin = strstr(r.body, "\"finish_reason\":\"stop\"");
        ASSERT_TRUE(fin != NULL);
        const char *ev = fin;   /* the finish event: from its "data: " to the blank line */
        while (ev > r.body && strncmp(ev, "data: ", 6) != 0)
            ev--;
        const char *ev_end = strstr(fin, "\n\n");
        const char *mk = strstr(r.body, "\"ai_generated\":true");
        ASSERT_TRUE(mk != NULL && ev_end != NULL);
        ASSERT_TRUE(mk > ev && mk < ev_end);
        ASSERT_TRUE(strstr(mk + 1, "\"ai_generated\":true") == NULL);
        ASSERT_TRUE(strstr(r.body, "\"use_case\":\"support\"") != NULL);
    }
    hh_test_resp_free(&r);
    /* an error is not marked */
    ASSERT_OK(hh_test_http(t.h.port, "POST", "/v1/chat/completions", t.member,
                           "{\"model\":\"no-such-model\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"}]}", &r));
    ASSERT_EQ_INT(r.status, 404);
    ASSERT_TRUE(strcasestr(r.headers, "X-AI-Generated") == NULL);
    hh_test_resp_free(&r);
    hh_test_srv_stop(&t.h);
}

/* ---- departments decide who may use a use case ------------------------- */

TEST(register_departments_store_and_defaults)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/register-depts", hh_test_tmpdir());
    mkdir(dir, 0700);
    hh_store_t *s = NULL;
    hh_err_t err;
    hh_err_clear(&err);
    ASSERT_OK(hh_store_open(&s, dir, &err));
    hh_store_user_t hr_user, legal_user, admin;
    ASSERT_OK(hh_store_user_ensure(s, "hanna", "member", &hr_user, NULL, &err));
    ASSERT_OK(hh_store_user_ensure(s, "lars", "member", &legal_user, NULL, &err));
    ASSERT_OK(hh_store_user_ensure(s, "root", "admin", &admin, NULL, &err));
    ASSERT_OK(hh_store_user_add_department(s, "hanna", "hr", &err));
    ASSERT_OK(hh_store_user_add_department(s, "lars", "legal", &err));
    hh_store_key_t lars_key;
    char key[HH_KEY_LEN + 1];
    ASSERT_OK(hh_store_key_create(s, legal_user.id, key, sizeof key, &lars_key, &err));

    /* validated like the other lists */
    cJSON *in = uc_doc("bad-depts", "{}");
    cJSON_AddItemToObject(in, "departments", cJSON_Parse("[\"hr\", 7]"));
    ASSERT_EQ_INT(hh_register_create(s, in, "root", NULL, &err), HH_EINVAL);
    ASSERT_TRUE(strstr(err.msg, "departments") != NULL);
    cJSON_Delete(in);
    in = uc_doc("bad-depts", "{}");
    cJSON_AddStringToObject(in, "departments", "hr");
    ASSERT_EQ_INT(hh_register_create(s, in, "root", NULL, &err), HH_EINVAL);
    cJSON_Delete(in);

    in = uc_doc("hr-assist", "{}");
    cJSON_AddItemToObject(in, "departments", cJSON_Parse("[\"hr\", \"works-council\"]"));
    hh_usecase_t u;
    ASSERT_OK(hh_register_create(s, in, "root", &u, &err));
    cJSON_Delete(in);
    ASSERT_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(u.doc, "departments")), 2);
    bool ok = false;
    ASSERT_OK(hh_register_user_may_use(s, &u, hr_user.id, &ok, &err));
    ASSERT_TRUE(ok);
    ASSERT_OK(hh_register_user_may_use(s, &u, legal_user.id, &ok, &err));
    ASSERT_FALSE(ok);
    ASSERT_OK(hh_register_user_may_use(s, &u, admin.id, &ok, &err));   /* admins are not exempt */
    ASSERT_FALSE(ok);
    ASSERT_OK(hh_register_user_may_use(s, &u, 99999, &ok, &err));
    ASSERT_FALSE(ok);
    /* an update without the field keeps it; an empty list opens it to everyone */
    in = cJSON_Parse("{\"purpose\":\"changed\"}");
    hh_usecase_clear(&u);
    ASSERT_OK(hh_register_update(s, "hr-assist", in, "root", &u, &err));
    cJSON_Delete(in);
    ASSERT_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(u.doc, "departments")), 2);
    hh_usecase_clear(&u);
    ASSERT_OK(hh_register_get(s, "general", &u, &err));
    ASSERT_OK(hh_register_user_may_use(s, &u, legal_user.id, &ok, &err));
    ASSERT_TRUE(ok);
    hh_usecase_clear(&u);

    /* defaults: refused where the user may not use the use case */
    ASSERT_EQ_INT(hh_register_set_user_default(s, "lars", "hr-assist", &err), HH_EINVAL);
    ASSERT_TRUE(strstr(err.msg, "hr-assist") != NULL && strstr(err.msg, "lars") != NULL);
    ASSERT_EQ_INT(hh_register_set_key_default(s, lars_key.id, "hr-assist", &err), HH_EINVAL);
    ASSERT_EQ_INT(hh_register_set_user_default(s, "root", "hr-assist", &err), HH_EINVAL);
    ASSERT_OK(hh_register_set_user_default(s, "hanna", "hr-assist", &err));
    ASSERT_OK(hh_register_set_key_default(s, lars_key.id, NULL, &err));   /* clearing is always allowed */
    ASSERT_EQ_INT(hh_register_set_user_default(s, "nobody", "hr-assist", &err), HH_ENOENT);

    /* the system card says who may use it */
    char *md = NULL;
    ASSERT_OK(hh_register_card(s, "hr-assist", NULL, HH_CARD_MD, NULL, &md, &err));
    const char *who = strstr(md, "Who may use it");
    ASSERT_TRUE(who != NULL);
    ASSERT_TRUE(strstr(who, "hr, works-council") != NULL);
    ASSERT_TRUE(strstr(md, "PII redaction of prompts (before the model) | off") != NULL);
    free(md);
    ASSERT_OK(hh_register_card(s, "general", NULL, HH_CARD_MD, NULL, &md, &err));
    ASSERT_TRUE(strstr(md, "Every user, of any department") != NULL);
    free(md);
    hh_store_close(s);
}

TEST(register_policy_redact_prompts)
{
    hh_reg_class_t cls;
    for (int r = 0; r < 4; r++) {   /* false for every class */
        memset(&cls, 0, sizeof cls);
        cls.risk = (hh_risk_t)r;
        ASSERT_FALSE(hh_register_policy_default(&cls).redact_prompts);
    }
    memset(&cls, 0, sizeof cls);
    hh_reg_policy_t p;
    hh_err_t err;
    cJSON *ov = cJSON_Parse("{\"redact_prompts\":true}");
    ASSERT_OK(hh_register_policy_apply(&cls, ov, &p, &err));
    ASSERT_TRUE(p.redact_prompts);
    cJSON *pj = hh_register_policy_json(&p);
    ASSERT_TRUE(cJSON_IsTrue(cJSON_GetObjectItem(pj, "redact_prompts")));
    cJSON_Delete(pj);
    cJSON_Delete(ov);
    ov = cJSON_Parse("{\"redact_prompts\":\"yes\"}");
    ASSERT_EQ_INT(hh_register_policy_apply(&cls, ov, &p, &err), HH_EINVAL);
    ASSERT_TRUE(strstr(err.msg, "redact_prompts") != NULL);
    cJSON_Delete(ov);
}

TEST(register_http_departments)
{
    reg_srv_t t;
    ASSERT_TRUE(srv_start(&t, "http-depts"));
    hh_store_t *st = t.h.st;
    hh_err_t err;
    hh_err_clear(&err);
    hh_store_user_t hu;
    char hr_key[HH_KEY_LEN + 1];
    ASSERT_OK(hh_store_user_ensure(st, "hanna", "member", &hu, NULL, &err));
    ASSERT_OK(hh_store_key_create(st, hu.id, hr_key, sizeof hr_key, NULL, &err));
    ASSERT_OK(hh_store_user_add_department(st, "hanna", "hr", &err));
    ASSERT_OK(hh_store_user_add_department(st, "mia", "legal", &err));
    cJSON *in = uc_doc("hr-assist", "{}");
    cJSON_AddItemToObject(in, "departments", cJSON_Parse("[\"hr\"]"));
    ASSERT_OK(hh_register_create(st, in, "root", NULL, &err));
    cJSON_Delete(in);
    in = uc_doc("open-assist", "{}");
    ASSERT_OK(hh_register_create(st, in, "root", NULL, &err));
    cJSON_Delete(in);
    hh_test_resp_t r;
    /* mia (legal) is refused, named in the field or the header, for chat and
     * /api/ask: as an unknown use case (another department's use case is
     * not hers to know; register_http_other_departments_use_cases_look_unknown) */
    ASSERT_OK(hh_test_http(t.h.port, "POST", "/v1/chat/completions", t.member,
                           CHAT(",\"hoheit\":{\"use_case\":\"hr-assist\"}"), &r));
    ASSERT_EQ_INT(r.status, 404);
    ASSERT_STREQ(hh_test_resp_err_code(&r), "use_case_not_found");
    ASSERT_TRUE(strstr(r.body, "'hr-assist'") != NULL);
    ASSERT_TRUE(strstr(r.body, "\"param\":\"hoheit.use_case\"") != NULL);
    ASSERT_TRUE(strcasestr(r.headers, "X-AI-Generated") == NULL);
    hh_test_resp_free(&r);
    ASSERT_OK(post_uc(&t, "/v1/completions", "hr-assist",
                      "{\"model\":\"stories260K\",\"prompt\":\"a\",\"max_tokens\":2}", &r));
    ASSERT_EQ_INT(r.status, 404);
    ASSERT_STREQ(hh_test_resp_err_code(&r), "use_case_not_found");
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(t.h.port, "POST", "/api/ask", t.member, "{\"question\":\"who?\",\"use_case\":\"hr-assist\"}",
                           &r));
    ASSERT_EQ_INT(r.status, 404);
    ASSERT_STREQ(hh_test_resp_err_code(&r), "use_case_not_found");
    hh_test_resp_free(&r);
    /* the admin is not in hr either */
    ASSERT_OK(hh_test_http(t.h.port, "POST", "/v1/chat/completions", t.admin,
                           CHAT(",\"hoheit\":{\"use_case\":\"hr-assist\"}"), &r));
    ASSERT_EQ_INT(r.status, 403);
    hh_test_resp_free(&r);
    /* hanna (hr) may use it */
    ASSERT_OK(hh_test_http(t.h.port, "POST", "/v1/chat/completions", hr_key,
                           CHAT(",\"hoheit\":{\"use_case\":\"hr-assist\"}"), &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_TRUE(strstr(r.body, "\"use_case\":\"hr-assist\"") != NULL);
    hh_test_resp_free(&r);
    /* a default mia cannot use is refused where defaults are set; one set
     * before the restriction existed is refused at request time */
    ASSERT_EQ_INT(hh_register_set_key_default(st, t.member_key_id, "hr-assist", &err), HH_EINVAL);
    ASSERT_OK(hh_register_set_key_default(st, t.member_key_id, "open-assist", &err));
    in = cJSON_Parse("{\"departments\":[\"hr\"]}");
    ASSERT_OK(hh_register_update(st, "open-assist", in, "root", NULL, &err));
    cJSON_Delete(in);
    ASSERT_OK(hh_test_http(t.h.port, "POST", "/v1/chat/completions", t.member, CHAT(""), &r));
    ASSERT_EQ_INT(r.status, 403);
    ASSERT_STREQ(hh_test_resp_err_code(&r), "use_case_forbidden");
    ASSERT_TRUE(strstr(r.body, "'open-assist'") != NULL);
    hh_test_resp_free(&r);
    /* /api/usecases: members see what they may use, admins and auditors all */
    const char *keys[3] = { t.member, hr_key, t.admin };
    const int want[3] = { 0, 2, 2 };
    for (int k = 0; k < 3; k++) {
        ASSERT_OK(hh_test_http(t.h.port, "GET", "/api/usecases", keys[k], NULL, &r));
        ASSERT_EQ_INT(r.status, 200);
        cJSON *j = cJSON_Parse(r.body);
        ASSERT_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(j, "data")), want[k]);
        cJSON_Delete(j);
        hh_test_resp_free(&r);
    }
    ASSERT_OK(hh_test_http(t.h.port, "GET", "/api/usecases", t.auditor, NULL, &r));
    ASSERT_TRUE(strstr(r.body, "\"hr-assist\"") != NULL && strstr(r.body, "\"open-assist\"") != NULL);
    hh_test_resp_free(&r);
    /* the refusals are audited */
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    ASSERT_OK(hh_audit_export(st, 1, f, &err));
    fclose(f);
    int n_refused = 0;
    for (char *line = buf; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        cJSON *o = cJSON_Parse(line);
        cJSON *rec = cJSON_Parse(cJSON_GetStringValue(cJSON_GetObjectItem(o, "record")) ?: "");
        const char *dec = cJSON_GetStringValue(cJSON_GetObjectItem(rec, "decision"));
        const char *ucs = cJSON_GetStringValue(cJSON_GetObjectItem(rec, "use_case"));
        if (dec && !strcmp(dec, "refused") && ucs && (!strcmp(ucs, "hr-assist") || !strcmp(ucs, "open-assist")))
            n_refused++;
        cJSON_Delete(rec);
        cJSON_Delete(o);
        line = nl ? nl + 1 : NULL;
    }
    free(buf);
    ASSERT_EQ_INT(n_refused, 5);   /* chat, completions, /api/ask, the admin, the default */
    hh_test_srv_stop(&t.h);
}

/* ---- PII redaction of prompts -------------------------------------------- */

#define PII_PROMPT "Write to anna.schmidt@example.com and pay DE89370400440532013000 now"

/* The prompt text of the newest audit record of use case uc (malloc'd). */
static char *audit_prompt(hh_store_t *st, const char *uc)
{
    char *buf = NULL, *out = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    if (!f || hh_audit_export(st, 1, f, NULL) != 0) {
        if (f)
            fclose(f);
        free(buf);
        return NULL;
    }
    fclose(f);
    for (char *line = buf; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        cJSON *o = cJSON_Parse(line);
        const char *rs = cJSON_GetStringValue(cJSON_GetObjectItem(o, "record"));
        cJSON *rec = cJSON_Parse(rs ? rs : "");
        const char *u = cJSON_GetStringValue(cJSON_GetObjectItem(rec, "use_case"));
        /* the text: in the record, or kept beside it */
        const char *p = cJSON_GetStringValue(cJSON_GetObjectItem(rec, "prompt"));
        if (!p)
            p = cJSON_GetStringValue(cJSON_GetObjectItem(o, "prompt"));
        if (u && !strcmp(u, uc) && p) {
            free(out);
            out = strdup(p);
        }
        cJSON_Delete(rec);
        cJSON_Delete(o);
        line = nl ? nl + 1 : NULL;
    }
    free(buf);
    return out;
}

/* A greedy completion: the text and usage.prompt_tokens. */
static bool complete(reg_srv_t *t, const char *uc, const char *prompt, char **text, int *prompt_tokens,
                     cJSON **hoheit)
{
    cJSON *b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "model", "stories260K");
    cJSON_AddStringToObject(b, "prompt", prompt);
    cJSON_AddNumberToObject(b, "max_tokens", 8);
    cJSON_AddNumberToObject(b, "temperature", 0);
    cJSON_AddItemToObject(cJSON_AddObjectToObject(b, "hoheit"), "use_case", cJSON_CreateString(uc));
    char *body = cJSON_PrintUnformatted(b);
    cJSON_Delete(b);
    hh_test_resp_t r;
    bool ok = hh_test_http(t->h.port, "POST", "/v1/completions", t->member, body, &r) == 0;
    free(body);
    if (!ok || r.status != 200) {
        printf("    completion under %s: %d %s\n", uc, r.status, r.body ? r.body : "");
        hh_test_resp_free(&r);
        return false;
    }
    cJSON *j = cJSON_Parse(r.body);
    hh_test_resp_free(&r);
    *text = strdup(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "choices"), 0),
                                                            "text")) ?: "");
    *prompt_tokens = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "usage"), "prompt_tokens")->valueint;
    *hoheit = cJSON_DetachItemFromObject(j, "hoheit");
    cJSON_Delete(j);
    return true;
}

TEST(register_http_redact_prompts)
{
    reg_srv_t t;
    ASSERT_TRUE(srv_start(&t, "redact"));
    hh_store_t *st = t.h.st;
    hh_err_t err;
    hh_err_clear(&err);
    /* full audit text and no audit-side redaction, so the record shows the
     * model input as it was; "plain" is the same without prompt redaction */
    cJSON *in = uc_doc("redacting", "{}");
    cJSON_AddItemToObject(in, "policy",
                          cJSON_Parse("{\"redact_prompts\":true,\"audit_detail\":\"full\",\"pii_redaction\":false}"));
    ASSERT_OK(hh_register_create(st, in, "root", NULL, &err));
    cJSON_Delete(in);
    in = uc_doc("plain", "{}");
    cJSON_AddItemToObject(in, "policy", cJSON_Parse("{\"audit_detail\":\"full\",\"pii_redaction\":false}"));
    ASSERT_OK(hh_register_create(st, in, "root", NULL, &err));
    cJSON_Delete(in);

    char *red_text = NULL, *raw_text = NULL, *same_text = NULL;
    int red_pt = 0, raw_pt = 0, same_pt = 0;
    cJSON *h = NULL, *h2 = NULL, *h3 = NULL;
    ASSERT_TRUE(complete(&t, "redacting", PII_PROMPT, &red_text, &red_pt, &h));
    ASSERT_TRUE(cJSON_IsTrue(cJSON_GetObjectItem(h, "prompt_redacted")));
    const cJSON *counts = cJSON_GetObjectItem(h, "redactions");
    ASSERT_EQ_INT(cJSON_GetObjectItem(counts, "EMAIL")->valueint, 1);
    ASSERT_EQ_INT(cJSON_GetObjectItem(counts, "IBAN")->valueint, 1);
    ASSERT_EQ_INT(cJSON_GetArraySize(counts), 2);
    /* what the request carried to the engine, as the audit record kept it */
    char *seen = audit_prompt(st, "redacting");
    ASSERT_TRUE(seen != NULL);
    ASSERT_TRUE(strstr(seen, "anna.schmidt@example.com") == NULL);
    ASSERT_TRUE(strstr(seen, "DE89370400440532013000") == NULL);
    ASSERT_TRUE(strstr(seen, "[EMAIL]") != NULL && strstr(seen, "[IBAN]") != NULL);
    ASSERT_TRUE(strstr(seen, "Write to ") == seen);
    /* the model's side: the redacted request behaves exactly like the
     * redacted text sent as is (same prompt tokens, same greedy output),
     * and unlike the raw text */
    ASSERT_TRUE(complete(&t, "plain", seen, &same_text, &same_pt, &h2));
    ASSERT_TRUE(complete(&t, "plain", PII_PROMPT, &raw_text, &raw_pt, &h3));
    ASSERT_EQ_INT(red_pt, same_pt);
    ASSERT_STREQ(red_text, same_text);
    ASSERT_NE_INT(red_pt, raw_pt);
    ASSERT_TRUE(cJSON_GetObjectItem(h2, "prompt_redacted") == NULL);   /* no redaction without the policy */
    char *raw_seen = audit_prompt(st, "plain");
    ASSERT_STREQ(raw_seen, PII_PROMPT);
    free(raw_seen);
    free(seen);
    free(red_text);
    free(raw_text);
    free(same_text);
    cJSON_Delete(h);
    cJSON_Delete(h2);
    cJSON_Delete(h3);

    /* chat: every message's text, also content parts */
    hh_test_resp_t r;
    const char *chat = "{\"model\":\"stories260K\",\"max_tokens\":2,\"messages\":[{\"role\":\"system\",\"content\":"
                       "\"Call +49 30 1234567 if needed\"},{\"role\":\"user\",\"content\":[{\"type\":\"text\","
                       "\"text\":\"I am anna.schmidt@example.com\"}]}],\"hoheit\":{\"use_case\":\"redacting\"}}";
    ASSERT_OK(hh_test_http(t.h.port, "POST", "/v1/chat/completions", t.member, chat, &r));
    ASSERT_EQ_INT(r.status, 200);
    cJSON *j = cJSON_Parse(r.body);
    counts = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "hoheit"), "redactions");
    ASSERT_EQ_INT(cJSON_GetObjectItem(counts, "EMAIL")->valueint, 1);
    ASSERT_EQ_INT(cJSON_GetObjectItem(counts, "PHONE")->valueint, 1);
    cJSON_Delete(j);
    hh_test_resp_free(&r);
    seen = audit_prompt(st, "redacting");
    ASSERT_TRUE(seen && !strstr(seen, "anna.schmidt@example.com") && !strstr(seen, "1234567"));
    free(seen);
    hh_test_srv_stop(&t.h);
}

/* ---- system cards --------------------------------------------------------- */

TEST(register_system_card_high_risk)
{
    char dir[512], models[600], model[700];
    snprintf(dir, sizeof dir, "%s/register-card", hh_test_tmpdir());
    snprintf(models, sizeof models, "%s/models", dir);
    mkdir(dir, 0700);
    mkdir(models, 0700);
    snprintf(model, sizeof model, "%s/stories260K.gguf", models);
    ASSERT_TRUE(hh_test_copy_data("models/stories260K.gguf", model));
    hh_err_t err;
    hh_err_clear(&err);
    hh_store_t *s = NULL;
    ASSERT_OK(hh_store_open(&s, dir, &err));
    hh_store_user_t u;
    ASSERT_OK(hh_store_user_ensure(s, "alice-approver", "approver", &u, NULL, &err));
    ASSERT_OK(hh_store_user_ensure(s, "bob-member", "member", &u, NULL, &err));
    const char *deps[] = { "hr" };
    ASSERT_OK(hh_store_collection_ensure(s, "hr-policies", deps, 1, NULL, &err));
    cJSON *in = cJSON_Parse(
        "{\"slug\":\"cv-screening\",\"name\":\"CV <screening> & ranking\",\"purpose\":\"Pre-sort applications for "
        "the HR team\",\"owner\":\"HR\",\"models\":[\"stories260K\"],\"collections\":[\"hr-policies\"],"
        "\"affected_persons\":[\"job applicants\"],\"data_categories\":[\"CV contents\"],"
        "\"recipients\":[\"HR staff\"],\"safeguards\":[\"human approval\"],"
        "\"known_limits\":\"Tiny test model; not for real decisions\","
        "\"measurements\":[{\"name\":\"recall@5\",\"value\":\"0.82\",\"link\":\"docs/BENCHMARKS.md\"}],"
        "\"answers\":{\"h_employment\":true,\"e_preparatory\":true,\"f_profiling\":true}}");
    ASSERT_OK(hh_register_create(s, in, "root", NULL, &err));
    cJSON_Delete(in);
    char want[65];
    sha256_hex_of_file(model, want);
    char *md = NULL, *html = NULL;
    ASSERT_OK(hh_register_card(s, "cv-screening", NULL, HH_CARD_MD, NULL, &md, &err));
    ASSERT_TRUE(strstr(md, "Pre-sort applications for the HR team") != NULL);
    ASSERT_TRUE(strstr(md, want) != NULL);
    ASSERT_TRUE(strstr(md, "Risk class: high") != NULL);
    ASSERT_TRUE(strstr(md, "Art. 6(2), Annex III point 4: high-risk area (answer h_employment = yes)") != NULL);
    ASSERT_TRUE(strstr(md, "profiles natural persons") != NULL);
    ASSERT_TRUE(strstr(md, "approver: alice-approver") != NULL);
    ASSERT_TRUE(strstr(md, "bob-member") == NULL);
    ASSERT_TRUE(strstr(md, "hr-policies: 0 documents, departments: hr") != NULL);
    ASSERT_TRUE(strstr(md, "Tiny test model") != NULL);
    ASSERT_TRUE(strstr(md, "recall@5: 0.82") != NULL);
    ASSERT_TRUE(strstr(md, "create by root") != NULL);
    ASSERT_TRUE(strstr(md, "required (Annex III point 4: always)") != NULL);
    ASSERT_OK(hh_register_card(s, "cv-screening", NULL, HH_CARD_HTML, NULL, &html, &err));
    ASSERT_TRUE(strstr(html, "CV &lt;screening&gt; &amp; ranking") != NULL);
    ASSERT_TRUE(strstr(html, "<screening>") == NULL);
    ASSERT_TRUE(strstr(html, want) != NULL);
    ASSERT_TRUE(strstr(html, "<li>approver: alice-approver</li>") != NULL);
    free(md);
    free(html);
    /* the hash cache follows the file: append a byte, the card changes */
    FILE *f = fopen(model, "ab");
    ASSERT_TRUE(f != NULL);
    fputc(0, f);
    fclose(f);
    char want2[65], got[65];
    sha256_hex_of_file(model, want2);
    ASSERT_TRUE(strcmp(want, want2) != 0);
    ASSERT_OK(hh_register_file_sha256(s, model, got, &err));
    ASSERT_STREQ(got, want2);
    /* records of processing: one table per use case */
    char *ropa = NULL;
    ASSERT_OK(hh_register_ropa(s, HH_CARD_MD, NULL, &ropa, &err));
    ASSERT_TRUE(strstr(ropa, "| Categories of data subjects | job applicants |") != NULL);
    ASSERT_TRUE(strstr(ropa, "| Categories of recipients | HR staff |") != NULL);
    ASSERT_TRUE(strstr(ropa, "183 days") != NULL);
    free(ropa);
    /* issue 14: the same in German, with the UI's terms; entered values as entered */
    ASSERT_OK(hh_register_card(s, "cv-screening", NULL, HH_CARD_MD, "de", &md, &err));
    ASSERT_TRUE(strstr(md, "# Systemkarte: CV \\<screening\\> & ranking (cv-screening)") != NULL);
    ASSERT_TRUE(strstr(md, "## 1. Allgemeine Beschreibung und Zweckbestimmung") != NULL);
    ASSERT_TRUE(strstr(md, "| KI-Anwendung | cv-screening |") != NULL);
    ASSERT_TRUE(strstr(md, "Risikoklasse: hoch") != NULL);
    ASSERT_TRUE(strstr(md, "Art. 6(2), Anhang III Nr. 4: Hochrisikobereich (Antwort h_employment = ja)") != NULL);
    ASSERT_TRUE(strstr(md, "das System erstellt Profile nat\xC3\xBCrlicher Personen") != NULL);
    ASSERT_TRUE(strstr(md, "Freigabe: alice-approver") != NULL);
    ASSERT_TRUE(strstr(md, "hr-policies: 0 Dokumente, Abteilungen: hr") != NULL);
    ASSERT_TRUE(strstr(md, "erforderlich (Anhang III Nr. 4: immer)") != NULL);
    ASSERT_TRUE(strstr(md, "Wird es f\xC3\xBCr Einstellung, Auswahl") != NULL);
    ASSERT_TRUE(strstr(md, "Pre-sort applications for the HR team") != NULL);
    ASSERT_TRUE(strstr(md, "create von root") != NULL);
    /* no English label left */
    static const char *const en_labels[] = { "System card", "Risk class", "high-risk area", "approver:",
                                             "documents, departments", "Questionnaire", "(none recorded)", "Retention",
                                             "not answered", "(answer " };
    for (size_t i = 0; i < sizeof en_labels / sizeof en_labels[0]; i++) {
        if (strstr(md, en_labels[i]))
            fprintf(stderr, "    English left: %s\n", en_labels[i]);
        ASSERT_TRUE(strstr(md, en_labels[i]) == NULL);
    }
    free(md);
    ASSERT_OK(hh_register_card(s, "cv-screening", NULL, HH_CARD_HTML, "de-DE", &html, &err));
    ASSERT_TRUE(strncmp(html, "<!DOCTYPE html>\n<html lang=\"de\">", 32) == 0);
    ASSERT_TRUE(strstr(html, "<li>Freigabe: alice-approver</li>") != NULL);
    free(html);
    ASSERT_OK(hh_register_ropa(s, HH_CARD_MD, "de", &ropa, &err));
    ASSERT_TRUE(strstr(ropa, "# Verzeichnis von Verarbeitungst\xC3\xA4tigkeiten (DSGVO Art. 30)") != NULL);
    ASSERT_TRUE(strstr(ropa, "| Kategorien betroffener Personen | job applicants |") != NULL);
    ASSERT_TRUE(strstr(ropa, "| Kategorien von Empf\xC3\xA4ngern | HR staff |") != NULL);
    ASSERT_TRUE(strstr(ropa, "183 Tage") != NULL);
    ASSERT_TRUE(strstr(ropa, "| Risikoklasse nach AI Act | hoch |") != NULL);
    ASSERT_TRUE(strstr(ropa, "Categories") == NULL);
    free(ropa);
    hh_store_close(s);
}

/* ---- CLI ------------------------------------------------------------------ */

static int run_register(const char *args)
{
    char a[2048];
    snprintf(a, sizeof a, "register %s", args);
    return hh_test_run_cli(a, NULL, false, NULL, 0);
}

TEST(register_cli_add_export)
{
    if (!getenv("HOHEIT_BIN")) SKIP("HOHEIT_BIN is not set (run through `make test`)");
    char dir[512], file[600], out[600], args[2000], path[700];
    snprintf(dir, sizeof dir, "%s/register-cli", hh_test_tmpdir());
    snprintf(file, sizeof file, "%s/uc.json", hh_test_tmpdir());
    snprintf(out, sizeof out, "%s/register-cli-out", hh_test_tmpdir());
    FILE *f = fopen(file, "wb");
    ASSERT_TRUE(f != NULL);
    fputs("{\"slug\":\"exam-grading\",\"purpose\":\"Suggest grades <draft>\",\"answers\":{\"h_education\":true}}", f);
    fclose(f);
    snprintf(args, sizeof args, "add --file %s --data %s", file, dir);
    ASSERT_EQ_INT(run_register(args), 0);
    ASSERT_EQ_INT(run_register(args), 1);   /* the slug exists */
    snprintf(args, sizeof args, "add --data %s", dir);
    ASSERT_EQ_INT(run_register(args), 2);   /* no --file */
    snprintf(args, sizeof args, "show nope --data %s", dir);
    ASSERT_EQ_INT(run_register(args), 1);
    snprintf(args, sizeof args, "export --format html --out %s --data %s", out, dir);
    ASSERT_EQ_INT(run_register(args), 0);
    snprintf(path, sizeof path, "%s/card-exam-grading.html", out);
    size_t n = 0;
    char *card = hh_test_read_file(path, &n);
    ASSERT_TRUE(card != NULL);
    ASSERT_TRUE(strstr(card, "Suggest grades &lt;draft&gt;") != NULL);
    ASSERT_TRUE(strstr(card, "Risk class: high") != NULL);
    ASSERT_TRUE(strstr(card, "Annex III point 3") != NULL);
    free(card);
    snprintf(path, sizeof path, "%s/records-of-processing.html", out);
    char *ropa = hh_test_read_file(path, &n);
    ASSERT_TRUE(ropa != NULL);
    ASSERT_TRUE(strstr(ropa, "exam-grading") != NULL);
    free(ropa);
    snprintf(args, sizeof args, "export --format pdf --data %s", dir);
    ASSERT_EQ_INT(run_register(args), 2);
    /* German: export --lang de, and one card on standard output */
    snprintf(args, sizeof args, "export --lang de --out %s --data %s", out, dir);
    ASSERT_EQ_INT(run_register(args), 0);
    snprintf(path, sizeof path, "%s/card-exam-grading.md", out);
    card = hh_test_read_file(path, &n);
    ASSERT_TRUE(card != NULL);
    ASSERT_TRUE(strstr(card, "Risikoklasse: hoch") != NULL);
    ASSERT_TRUE(strstr(card, "Anhang III Nr. 3") != NULL);
    free(card);
    snprintf(path, sizeof path, "%s/records-of-processing.md", out);
    ropa = hh_test_read_file(path, &n);
    ASSERT_TRUE(ropa != NULL && strstr(ropa, "Verzeichnis von Verarbeitungst\xC3\xA4tigkeiten") != NULL);
    free(ropa);
    char cout[16384];
    snprintf(args, sizeof args, "register card exam-grading --lang de --data %s", dir);
    ASSERT_EQ_INT(hh_test_run_cli(args, NULL, false, cout, sizeof cout), 0);
    ASSERT_TRUE(strstr(cout, "# Systemkarte: ") != NULL);
    ASSERT_TRUE(strstr(cout, "Suggest grades \\<draft\\>") != NULL);
    snprintf(args, sizeof args, "card exam-grading --lang fr --data %s", dir);
    ASSERT_EQ_INT(run_register(args), 2);
}

/* The "message" of an error answer (static copy). */
static const char *err_message(const hh_test_resp_t *r)
{
    static char buf[512];
    cJSON *j = cJSON_Parse(r->body);
    const char *m = hh_test_json_str(cJSON_GetObjectItem(j, "error"), "message");
    snprintf(buf, sizeof buf, "%s", m ? m : "");
    cJSON_Delete(j);
    return buf;
}

/* Attack: mia (no department) probes for HR's use cases. The list hides
 * them from her, but GET /api/usecases/<slug or id> (ids count up from 1)
 * returned the whole entry (purpose, departments, history), ?card= its
 * system card, and a request naming the slug answered 403 "restricted to
 * departments ..." or "disabled" instead of the 404 of an unknown slug.
 * Now a use case she may not use is answered exactly as one that does not
 * exist; admins and auditors (who see the whole register) and HR members
 * are answered as before. */
TEST(register_http_other_departments_use_cases_look_unknown)
{
    reg_srv_t t;
    ASSERT_TRUE(srv_start(&t, "probe"));
    hh_store_t *st = t.h.st;
    hh_err_t err;
    hh_err_clear(&err);
    hh_store_user_t hu;
    char hr_key[HH_KEY_LEN + 1];
    ASSERT_OK(hh_store_user_ensure(st, "hanna", "member", &hu, NULL, &err));
    ASSERT_OK(hh_store_key_create(st, hu.id, hr_key, sizeof hr_key, NULL, &err));
    ASSERT_OK(hh_store_user_add_department(st, "hanna", "hr", &err));
    cJSON *in = uc_doc("hr-secret", "{}");
    cJSON_ReplaceItemInObject(in, "purpose", cJSON_CreateString("Plan the layoffs of Q3"));
    cJSON_AddItemToObject(in, "departments", cJSON_Parse("[\"hr\"]"));
    hh_usecase_t u;
    ASSERT_OK(hh_register_create(st, in, "root", &u, &err));
    cJSON_Delete(in);
    char by_id[64], paths[4][96];
    snprintf(by_id, sizeof by_id, "/api/usecases/%lld", (long long)u.id);
    hh_usecase_clear(&u);
    snprintf(paths[0], sizeof paths[0], "/api/usecases/hr-secret");
    snprintf(paths[1], sizeof paths[1], "%s", by_id);
    snprintf(paths[2], sizeof paths[2], "/api/usecases/hr-secret?card=md");
    snprintf(paths[3], sizeof paths[3], "%s?card=html", by_id);
    hh_test_resp_t r;
    for (int i = 0; i < 4; i++) {
        ASSERT_OK(hh_test_http(t.h.port, "GET", paths[i], t.member, NULL, &r));
        ASSERT_EQ_INT(r.status, 404);
        ASSERT_STREQ(hh_test_resp_err_code(&r), "use_case_not_found");
        ASSERT_TRUE(strstr(r.body, "layoffs") == NULL && strstr(r.body, "\"hr\"") == NULL);
        hh_test_resp_free(&r);
        /* hanna (hr) and the auditor read it */
        const char *readers[2] = { hr_key, t.auditor };
        for (int k = 0; k < 2; k++) {
            ASSERT_OK(hh_test_http(t.h.port, "GET", paths[i], readers[k], NULL, &r));
            ASSERT_EQ_INT(r.status, 200);
            ASSERT_TRUE(strstr(r.body, "layoffs") != NULL);
            hh_test_resp_free(&r);
        }
    }
    ASSERT_OK(hh_test_http(t.h.port, "GET", "/api/usecases/hr-secreu", t.member, NULL, &r));
    ASSERT_EQ_INT(r.status, 404);
    ASSERT_STREQ(err_message(&r), "unknown use case 'hr-secreu'");
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(t.h.port, "GET", "/api/usecases/hr-secret", t.member, NULL, &r));
    ASSERT_STREQ(err_message(&r), "unknown use case 'hr-secret'");
    hh_test_resp_free(&r);
    /* naming it in a request: the 404 of an unknown slug, enabled or disabled */
    for (int pass = 0; pass < 2; pass++) {
        const char *names[2] = { "hr-secret", "hr-secreu" };
        for (int k = 0; k < 2; k++) {
            ASSERT_OK(post_uc(&t, "/v1/chat/completions", names[k], CHAT(""), &r));
            ASSERT_EQ_INT(r.status, 404);
            ASSERT_STREQ(hh_test_resp_err_code(&r), "use_case_not_found");
            char want[96];
            snprintf(want, sizeof want, "unknown use case '%s'", names[k]);
            ASSERT_STREQ(err_message(&r), want);
            hh_test_resp_free(&r);
        }
        ASSERT_OK(hh_register_set_disabled(st, "hr-secret", true, "root", NULL, &err));
    }
    /* hanna is told it is disabled; the admin (not in hr) that it is restricted */
    char h[128];
    snprintf(h, sizeof h, "X-Hoheit-Use-Case: hr-secret");
    hh_test_req_t q = { .method = "POST", .path = "/v1/chat/completions", .key = hr_key, .headers = h, .body = CHAT("") };
    ASSERT_OK(hh_test_http_req(t.h.port, &q, &r));
    ASSERT_EQ_INT(r.status, 403);
    ASSERT_STREQ(hh_test_resp_err_code(&r), "use_case_disabled");
    hh_test_resp_free(&r);
    ASSERT_OK(hh_register_set_disabled(st, "hr-secret", false, "root", NULL, &err));
    q.key = t.admin;
    ASSERT_OK(hh_test_http_req(t.h.port, &q, &r));
    ASSERT_EQ_INT(r.status, 403);
    ASSERT_STREQ(hh_test_resp_err_code(&r), "use_case_forbidden");
    hh_test_resp_free(&r);
    hh_test_srv_stop(&t.h);
}

/* The web UI's questionnaire asks POST /api/usecases?classify=true while it
 * is answered: the class, reasons and policy a save would give, nothing
 * stored; GET /api/usecases?records=md|html gives the Art. 30 records to
 * admins and auditors only. */
TEST(register_http_classify_and_records)
{
    reg_srv_t t;
    ASSERT_TRUE(srv_start(&t, "classify"));
    hh_test_resp_t r;
    ASSERT_OK(hh_test_http(t.h.port, "POST", "/api/usecases?classify=true", t.admin,
                           "{\"answers\":{\"h_employment\":true,\"t_generates_content\":true}}", &r));
    ASSERT_EQ_INT(r.status, 200);
    cJSON *j = cJSON_Parse(r.body);
    ASSERT_STREQ(cJSON_GetObjectItem(j, "risk_class")->valuestring, "high");
    ASSERT_TRUE(cJSON_IsTrue(cJSON_GetObjectItem(j, "hr")));
    const cJSON *reasons = cJSON_GetObjectItem(j, "reasons");
    ASSERT_EQ_INT(cJSON_GetArraySize(reasons), 2);
    ASSERT_TRUE(strstr(cJSON_GetArrayItem(reasons, 0)->valuestring, "Annex III point 4") != NULL);
    ASSERT_TRUE(strstr(cJSON_GetArrayItem(reasons, 1)->valuestring, "t_generates_content") != NULL);
    const cJSON *pol = cJSON_GetObjectItem(j, "effective_policy");
    ASSERT_TRUE(cJSON_IsTrue(cJSON_GetObjectItem(pol, "approval_required")));
    ASSERT_EQ_INT(cJSON_GetObjectItem(pol, "retention_days")->valueint, 183);
    cJSON_Delete(j);
    hh_test_resp_free(&r);
    /* an Art. 6(3) exception without profiling: limited (the Art. 50 duty) */
    ASSERT_OK(hh_test_http(t.h.port, "POST", "/api/usecases?classify=true", t.admin,
                           "{\"answers\":{\"h_education\":true,\"e_preparatory\":true,\"t_generates_content\":true}}",
                           &r));
    ASSERT_EQ_INT(r.status, 200);
    j = cJSON_Parse(r.body);
    ASSERT_STREQ(cJSON_GetObjectItem(j, "risk_class")->valuestring, "limited");
    ASSERT_TRUE(cJSON_IsFalse(cJSON_GetObjectItem(j, "hr")));
    cJSON_Delete(j);
    hh_test_resp_free(&r);
    /* no answers at all: minimal; a policy the class refuses: the 400 of a save */
    ASSERT_OK(hh_test_http(t.h.port, "POST", "/api/usecases?classify=true", t.admin, "{}", &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_TRUE(strstr(r.body, "\"risk_class\":\"minimal\"") != NULL);
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(t.h.port, "POST", "/api/usecases?classify=true", t.admin,
                           "{\"answers\":{\"h_employment\":true},\"policy\":{\"approval_required\":false}}", &r));
    ASSERT_EQ_INT(r.status, 400);
    ASSERT_STREQ(hh_test_resp_err_code(&r), "invalid_use_case");
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(t.h.port, "POST", "/api/usecases?classify=true", t.admin,
                           "{\"answers\":{\"h_employment\":\"yes\"}}", &r));
    ASSERT_EQ_INT(r.status, 400);
    ASSERT_TRUE(strstr(r.body, "h_employment") != NULL);
    hh_test_resp_free(&r);
    /* only admins (it sits on the write route), and nothing was stored */
    ASSERT_OK(hh_test_http(t.h.port, "POST", "/api/usecases?classify=true", t.member, "{}", &r));
    ASSERT_EQ_INT(r.status, 403);
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(t.h.port, "GET", "/api/usecases", t.admin, NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    j = cJSON_Parse(r.body);
    ASSERT_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(j, "data")), 0);
    cJSON_Delete(j);
    hh_test_resp_free(&r);
    /* Art. 30 records */
    ASSERT_OK(hh_test_http(t.h.port, "POST", "/api/usecases", t.admin, HR_UC, &r));
    ASSERT_EQ_INT(r.status, 201);
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(t.h.port, "GET", "/api/usecases?records=md", t.auditor, NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_TRUE(strstr(r.headers, "text/markdown") != NULL);
    ASSERT_TRUE(strstr(r.body, "Pre-sort job applications") != NULL);
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(t.h.port, "GET", "/api/usecases?records=html", t.admin, NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_TRUE(strstr(r.headers, "text/html") != NULL);
    ASSERT_TRUE(strstr(r.body, "Pre-sort job applications") != NULL);
    ASSERT_TRUE(strstr(r.body, "Records of processing activities") != NULL);
    hh_test_resp_free(&r);
    /* German: ?lang=de, or the Accept-Language when no lang is given; a bad lang is a 400 */
    ASSERT_OK(hh_test_http(t.h.port, "GET", "/api/usecases?records=md&lang=de", t.auditor, NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_TRUE(strstr(r.body, "Verzeichnis von Verarbeitungst\xC3\xA4tigkeiten") != NULL);
    ASSERT_TRUE(strstr(r.body, "Pre-sort job applications") != NULL);
    hh_test_resp_free(&r);
    hh_test_req_t qd = { .path = "/api/usecases?records=html", .key = t.admin,
                         .headers = "Accept-Language: de-DE,de;q=0.9,en;q=0.5" };
    ASSERT_OK(hh_test_http_req(t.h.port, &qd, &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_TRUE(strstr(r.body, "<html lang=\"de\">") != NULL);
    ASSERT_TRUE(strstr(r.body, "Zweck der Verarbeitung") != NULL);
    hh_test_resp_free(&r);
    qd.path = "/api/usecases?records=md&lang=en";
    ASSERT_OK(hh_test_http_req(t.h.port, &qd, &r));
    ASSERT_TRUE(strstr(r.body, "Purpose of the processing") != NULL);
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(t.h.port, "GET", "/api/usecases?records=md&lang=fr", t.admin, NULL, &r));
    ASSERT_EQ_INT(r.status, 400);
    ASSERT_TRUE(strstr(r.body, "invalid_lang") != NULL);
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(t.h.port, "GET", "/api/usecases?records=pdf", t.admin, NULL, &r));
    ASSERT_EQ_INT(r.status, 400);
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(t.h.port, "GET", "/api/usecases?records=md", t.member, NULL, &r));
    ASSERT_EQ_INT(r.status, 403);
    ASSERT_TRUE(strstr(r.body, "Pre-sort") == NULL);
    hh_test_resp_free(&r);
    hh_test_srv_stop(&t.h);
}
