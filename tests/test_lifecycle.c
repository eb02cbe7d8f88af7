/* test_lifecycle.c - the admin lifecycle (issue 11): role changes and user
 * deletion with the last-admin guard (store), departments unique ignoring
 * case (migration 9 merging 'Personal' and 'personal', lookups, rename,
 * delete with orphaned collections), collection owners; over HTTP a user
 * added to 'personal' reads a collection owned by 'Personal' and a disabled
 * use case is refused with 403; and every command through the built binary
 * ($HOHEIT_BIN) on a temp data dir, refusals included: `users role|delete`,
 * `users passwd --role` on an existing user, `departments list|add-user|
 * rename|delete`, `collections add-department|remove-department|delete`,
 * `documents list|delete|reingest`, `register update|delete|disable|enable`
 * with existence checks, --yes; each change leaves an "admin" audit record
 * and the chain verifies. */
#include "harness.h"
#include "http_helpers.h"
#include "govern/approvals.h"
#include "govern/register.h"
#include "kb/ingest.h"
#include "store/store_int.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- helpers ------------------------------------------------------------ */

/* One integer from a query on the store's database (tests only). */
static int64_t sql_int(hh_store_t *s, const char *sql)
{
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = NULL;
    int64_t v = -1;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    return v;
}

static int sql_exec(hh_store_t *s, const char *sql)
{
    pthread_mutex_lock(&s->mu);
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
    pthread_mutex_unlock(&s->mu);
    return rc == SQLITE_OK ? 0 : -1;
}

static int64_t admin_records(hh_store_t *s)
{
    return sql_int(s, "SELECT COUNT(*) FROM audit_log WHERE json_extract(CAST(record AS TEXT), '$.kind') = 'admin'");
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

/* Ingests a small text file named name with text into collection (by id). */
static int64_t add_doc(hh_store_t *s, const char *dir, const char *name, const char *text, int64_t coll_id,
                       int64_t user_id)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    write_text(path, text);
    hh_ingest_file_t r;
    hh_err_t err;
    hh_err_clear(&err);
    if (hh_ingest_file(s, path, path, coll_id, user_id, NULL, &r, &err) != 0) {
        printf("    ingest %s: %s\n", path, err.msg);
        return 0;
    }
    return r.doc_id;
}

/* Runs "$HOHEIT_BIN ARGS </dev/null" (no terminal: destructive commands
 * need --yes); stdout into out (may be NULL); returns the exit status. */
static int run_cli(const char *args, char *out, size_t cap)
{
    return hh_test_run_cli(args, NULL, false, out, cap);
}

/* run_cli with printf-style arguments; --data DIR is appended. */
static int cli(char *out, size_t cap, const char *dir, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int cli(char *out, size_t cap, const char *dir, const char *fmt, ...)
{
    char args[3072];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(args + n, sizeof args - (size_t)n, " --data %s", dir);
    return run_cli(args, out, cap);
}

#define NEED_BIN()                                                           \
    do {                                                                     \
        if (!getenv("HOHEIT_BIN")) {                                         \
            printf("    HOHEIT_BIN is not set (run through `make test`)\n"); \
            hh_test_fail(__FILE__, __LINE__, "HOHEIT_BIN is not set");       \
            return;                                                          \
        }                                                                    \
    } while (0)

/* ---- store -------------------------------------------------------------- */

TEST(lifecycle_store_users_role_delete)
{
    char dir[512], docs[512];
    snprintf(dir, sizeof dir, "%s/lc-users", hh_test_tmpdir());
    snprintf(docs, sizeof docs, "%s/lc-users-docs", hh_test_tmpdir());
    mkdir(docs, 0700);
    hh_err_t err;
    hh_err_clear(&err);
    hh_store_t *s = NULL;
    ASSERT_OK(hh_store_open(&s, dir, &err));
    hh_store_user_t a1, a2, m1;
    ASSERT_OK(hh_store_user_ensure(s, "ada", "admin", &a1, NULL, &err));
    ASSERT_OK(hh_store_user_ensure(s, "max", "member", &m1, NULL, &err));
    /* the only enabled admin cannot be demoted or deleted */
    ASSERT_EQ_INT(hh_store_user_set_role(s, "ada", "member", NULL, &err), HH_ESTATE);
    ASSERT_TRUE(strstr(err.msg, "last enabled admin") != NULL);
    ASSERT_EQ_INT(hh_store_user_delete(s, "ada", NULL, &err), HH_ESTATE);
    ASSERT_EQ_INT(hh_store_user_set_role(s, "ada", "boss", NULL, &err), HH_EINVAL);
    ASSERT_EQ_INT(hh_store_user_set_role(s, "nobody", "member", NULL, &err), HH_ENOENT);
    /* a disabled admin does not count as the other admin */
    ASSERT_OK(hh_store_user_ensure(s, "bea", "admin", &a2, NULL, &err));
    ASSERT_OK(hh_store_user_set_disabled(s, "bea", true, &err));
    ASSERT_EQ_INT(hh_store_user_set_role(s, "ada", "auditor", NULL, &err), HH_ESTATE);
    ASSERT_OK(hh_store_user_set_disabled(s, "bea", false, &err));

    /* a role change applies and ends the user's sessions */
    char cookie[HH_SESSION_TOKEN_LEN + 1], was[16];
    hh_store_session_t sess;
    ASSERT_OK(hh_store_session_create(s, m1.id, NULL, cookie, sizeof cookie, NULL, &err));
    ASSERT_OK(hh_store_session_lookup(s, cookie, NULL, &sess, &err));
    ASSERT_OK(hh_store_user_set_role(s, "max", "approver", was, &err));
    ASSERT_STREQ(was, "member");
    hh_store_user_t got;
    ASSERT_OK(hh_store_user_get(s, "max", &got, &err));
    ASSERT_STREQ(got.role, "approver");
    ASSERT_EQ_INT(hh_store_session_lookup(s, cookie, NULL, &sess, &err), HH_ENOENT);
    /* with bea enabled, ada may step down */
    ASSERT_OK(hh_store_user_set_role(s, "ada", "member", was, &err));
    ASSERT_STREQ(was, "admin");

    /* delete: keys and sessions and memberships go, documents and approvals stay */
    char key[HH_KEY_LEN + 1];
    hh_store_key_t ki;
    ASSERT_OK(hh_store_key_create(s, m1.id, key, sizeof key, NULL, &err));
    ASSERT_OK(hh_store_key_verify(s, key, &ki, &err));
    ASSERT_OK(hh_store_session_create(s, m1.id, NULL, cookie, sizeof cookie, NULL, &err));
    ASSERT_OK(hh_store_user_add_department(s, "max", "Sales", &err));
    hh_store_collection_t c;
    const char *deps[] = { "Sales" };
    ASSERT_OK(hh_store_collection_ensure(s, "offers", deps, 1, &c, &err));
    int64_t doc = add_doc(s, docs, "offer.txt", "An offer for the customer, valid until March.", c.id, m1.id);
    ASSERT_TRUE(doc > 0);
    int64_t appr = 0;
    ASSERT_OK(hh_approvals_create(s, "general", false, "max", "{}", "draft", &appr, &err));
    hh_store_user_removal_t r;
    ASSERT_OK(hh_store_user_delete(s, "max", &r, &err));
    ASSERT_EQ_INT(r.keys, 1);
    ASSERT_EQ_INT(r.sessions, 1);
    ASSERT_EQ_INT(r.departments, 1);
    ASSERT_EQ_INT(r.documents, 1);
    ASSERT_EQ_INT(r.approvals, 1);
    ASSERT_EQ_INT(hh_store_user_get(s, "max", &got, &err), HH_ENOENT);
    ASSERT_EQ_INT(hh_store_key_verify(s, key, &ki, &err), HH_ENOENT);
    ASSERT_EQ_INT(sql_int(s, "SELECT COUNT(*) FROM api_keys"), 0);
    ASSERT_EQ_INT(sql_int(s, "SELECT COUNT(*) FROM sessions"), 0);
    ASSERT_EQ_INT(sql_int(s, "SELECT COUNT(*) FROM user_departments"), 0);
    hh_store_doc_t d;
    ASSERT_OK(hh_store_doc_get(s, doc, &d, &err));
    ASSERT_STREQ(d.ingested_by, "");
    ASSERT_EQ_INT(sql_int(s, "SELECT COUNT(*) FROM approvals WHERE requester = 'max'"), 1);
    ASSERT_EQ_INT(hh_store_user_delete(s, "max", NULL, &err), HH_ENOENT);
    /* bea is now the only enabled admin */
    ASSERT_EQ_INT(hh_store_user_delete(s, "bea", NULL, &err), HH_ESTATE);
    hh_store_close(s);
}

TEST(lifecycle_store_departments_case_rename_delete)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/lc-depts", hh_test_tmpdir());
    hh_err_t err;
    hh_err_clear(&err);
    hh_store_t *s = NULL;
    ASSERT_OK(hh_store_open(&s, dir, &err));
    ASSERT_OK(hh_store_user_ensure(s, "kim", "member", NULL, NULL, &err));
    ASSERT_OK(hh_store_user_ensure(s, "lou", "member", NULL, NULL, &err));
    int64_t id1 = 0, id2 = 0;
    ASSERT_OK(hh_store_department_ensure(s, "Personal", &id1, &err));
    ASSERT_OK(hh_store_department_ensure(s, "PERSONAL", &id2, &err));
    ASSERT_EQ_INT(id2, id1);   /* one department, whatever the case */
    ASSERT_OK(hh_store_user_add_department(s, "kim", "personal", &err));
    hh_store_department_t d;
    ASSERT_OK(hh_store_department_get(s, "pErSoNaL", &d, &err));
    ASSERT_STREQ(d.name, "Personal");   /* the stored spelling */
    ASSERT_EQ_INT(d.n_members, 1);
    ASSERT_STREQ(d.members, "kim");
    ASSERT_EQ_INT(hh_store_department_get(s, "Persona", NULL, &err), HH_ENOENT);
    ASSERT_OK(hh_store_user_remove_department(s, "kim", "PERSONAL", &err));
    ASSERT_OK(hh_store_user_add_department(s, "kim", "personal", &err));

    /* collections and their owners */
    const char *d1[] = { "personal" }, *d2[] = { "Personal", "Sales" };
    hh_store_collection_t c1, c2;
    ASSERT_OK(hh_store_collection_ensure(s, "hr-docs", d1, 1, &c1, &err));
    ASSERT_STREQ(c1.departments, "Personal");
    ASSERT_OK(hh_store_collection_ensure(s, "shared", d2, 2, &c2, &err));
    ASSERT_OK(hh_store_user_add_department(s, "lou", "sales", &err));
    hh_store_department_t *list = NULL;
    size_t n = 0;
    ASSERT_OK(hh_store_department_list(s, &list, &n, &err));
    ASSERT_EQ_INT(n, 2);
    ASSERT_STREQ(list[0].name, "Personal");
    ASSERT_STREQ(list[0].collections, "hr-docs,shared");
    ASSERT_EQ_INT(list[0].n_collections, 2);
    ASSERT_STREQ(list[1].name, "Sales");
    ASSERT_STREQ(list[1].members, "lou");
    free(list);

    /* rename: a change of case is fine; a name another department has is not */
    ASSERT_OK(hh_store_department_rename(s, "personal", "PERSONAL", &err));
    ASSERT_EQ_INT(hh_store_department_rename(s, "personal", "sales", &err), HH_EINVAL);
    ASSERT_TRUE(strstr(err.msg, "'Sales' exists") != NULL);
    ASSERT_OK(hh_store_department_rename(s, "personal", "HR", &err));
    ASSERT_EQ_INT(hh_store_department_rename(s, "nope", "x", &err), HH_ENOENT);
    ASSERT_OK(hh_store_collection_get(s, "hr-docs", &c1, &err));
    ASSERT_STREQ(c1.departments, "HR");

    /* remove / add an owner */
    bool orphan = true;
    ASSERT_OK(hh_store_collection_remove_department(s, "shared", "sales", &orphan, &err));
    ASSERT_FALSE(orphan);
    ASSERT_EQ_INT(hh_store_collection_remove_department(s, "shared", "sales", &orphan, &err), HH_ENOENT);
    ASSERT_EQ_INT(hh_store_collection_remove_department(s, "nope", "sales", &orphan, &err), HH_ENOENT);
    ASSERT_EQ_INT(hh_store_collection_add_department(s, "shared", "Marketing", &err), HH_ENOENT);
    ASSERT_OK(hh_store_collection_add_department(s, "shared", "SALES", &err));
    ASSERT_OK(hh_store_collection_get(s, "shared", &c2, &err));
    ASSERT_STREQ(c2.departments, "HR,Sales");

    /* delete HR: hr-docs is left without a department, shared keeps Sales */
    char **orphans = NULL;
    size_t no = 0;
    ASSERT_OK(hh_store_department_delete(s, "hr", &orphans, &no, &err));
    ASSERT_EQ_INT(no, 1);
    ASSERT_STREQ(orphans[0], "hr-docs");
    hh_store_strings_free(orphans, no);
    ASSERT_OK(hh_store_collection_get(s, "hr-docs", &c1, &err));
    ASSERT_STREQ(c1.departments, "");
    hh_store_user_t kim;
    ASSERT_OK(hh_store_user_get(s, "kim", &kim, &err));
    bool can = true;
    ASSERT_OK(hh_store_user_can_read(s, kim.id, c1.id, &can, &err));
    ASSERT_FALSE(can);
    ASSERT_EQ_INT(hh_store_department_delete(s, "hr", NULL, NULL, &err), HH_ENOENT);
    hh_store_close(s);
}

/* Migration 9's SQL on tables as schema 8 left them (the NOCASE index
 * dropped) holding 'Personal', 'personal' and 'PERSONAL': one department
 * (the lowest id) keeps every membership and ownership. The SQL is run
 * directly, so the test holds whatever migrations come after 9. */
TEST(lifecycle_migration9_merges_case_duplicates)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/lc-mig9", hh_test_tmpdir());
    hh_err_t err;
    hh_err_clear(&err);
    hh_store_t *s = NULL;
    ASSERT_OK(hh_store_open(&s, dir, &err));
    const char *m9 = hh_store_migration_sql(9);
    ASSERT_TRUE(m9 != NULL && strstr(m9, "departments_name_nocase") != NULL);
    ASSERT_OK(sql_exec(s, "DROP INDEX departments_name_nocase"));
    ASSERT_OK(sql_exec(s,
                       "INSERT INTO users (id, name, role, created_at) VALUES (1, 'ute', 'member', 0), "
                       "  (2, 'vic', 'member', 0), (3, 'wim', 'member', 0);"
                       "INSERT INTO departments (id, name) VALUES (1, 'Personal'), (2, 'personal'), (3, 'PERSONAL'),"
                       "  (4, 'Sales');"
                       "INSERT INTO user_departments VALUES (1, 1), (2, 2), (1, 2), (3, 3), (3, 4);"
                       "INSERT INTO collections (id, name, created_at) VALUES (1, 'hr', 0), (2, 'payroll', 0);"
                       "INSERT INTO collection_departments (collection_id, department_id) VALUES (1, 2), (2, 3), (2, 1);"));
    ASSERT_EQ_INT(sql_int(s, "SELECT COUNT(*) FROM departments"), 4);
    ASSERT_OK(sql_exec(s, "BEGIN"));
    ASSERT_OK(sql_exec(s, m9));
    ASSERT_OK(sql_exec(s, "COMMIT"));
    ASSERT_EQ_INT(sql_int(s, "SELECT COUNT(*) FROM departments"), 2);
    ASSERT_EQ_INT(sql_int(s, "SELECT COUNT(*) FROM departments WHERE id = 1 AND name = 'Personal'"), 1);
    /* ute (in two of them before), vic and wim are members of department 1 */
    ASSERT_EQ_INT(sql_int(s, "SELECT COUNT(*) FROM user_departments WHERE department_id = 1"), 3);
    ASSERT_EQ_INT(sql_int(s, "SELECT COUNT(*) FROM user_departments WHERE department_id = 4"), 1);
    ASSERT_EQ_INT(sql_int(s, "SELECT COUNT(*) FROM user_departments"), 4);
    ASSERT_EQ_INT(sql_int(s, "SELECT COUNT(*) FROM collection_departments WHERE department_id = 1"), 2);
    ASSERT_EQ_INT(sql_int(s, "SELECT COUNT(*) FROM collection_departments"), 2);
    /* the index refuses a new case twin; the store finds the one */
    ASSERT_NE_INT(sql_exec(s, "INSERT INTO departments (name) VALUES ('PERSONAL')"), 0);
    int64_t id = 0;
    ASSERT_OK(hh_store_department_ensure(s, "personal", &id, &err));
    ASSERT_EQ_INT(id, 1);
    bool can = false;
    ASSERT_OK(hh_store_user_can_read(s, 2, 2, &can, &err));
    ASSERT_TRUE(can);   /* payroll was owned by 'PERSONAL' and 'Personal'; vic was in 'personal' */
    hh_store_close(s);
    /* reopening finds the schema current: nothing runs twice */
    ASSERT_OK(hh_store_open(&s, dir, &err));
    ASSERT_EQ_INT(sql_int(s, "SELECT COUNT(*) FROM departments"), 2);
    hh_store_close(s);
}

/* ---- HTTP --------------------------------------------------------------- */

#define CHAT(extra) "{\"model\":\"stories260K\",\"max_tokens\":3,\"messages\":[{\"role\":\"user\",\"content\":\"Once\"}]" extra "}"

TEST(lifecycle_http_department_case_and_disabled_use_case)
{
    hh_test_srv_t t;
    ASSERT_OK(hh_test_srv_start(&t, "lc-http", NULL));
    char kim[HH_KEY_LEN + 1], root[HH_KEY_LEN + 1];
    ASSERT_OK(hh_test_srv_user(&t, "kim", "member", kim, NULL));
    ASSERT_OK(hh_test_srv_user(&t, "root", "admin", root, NULL));
    hh_err_t err;
    hh_err_clear(&err);
    const char *deps[] = { "Personal" };
    hh_store_collection_t c;
    ASSERT_OK(hh_store_collection_ensure(t.st, "hr-docs", deps, 1, &c, &err));
    ASSERT_TRUE(add_doc(t.st, t.data, "leave.txt", "Leave requests go to the HR office two weeks ahead.", c.id, 0) > 0);
    hh_test_resp_t r;
    /* not a member yet: the collection does not exist for kim */
    ASSERT_OK(hh_test_http(t.port, "GET", "/api/documents?collection=hr-docs", kim, NULL, &r));
    ASSERT_EQ_INT(r.status, 404);
    hh_test_resp_free(&r);
    /* added to 'personal' (lower case): the same department as 'Personal' */
    ASSERT_OK(hh_store_user_add_department(t.st, "kim", "personal", &err));
    ASSERT_EQ_INT(sql_int(t.st, "SELECT COUNT(*) FROM departments"), 1);
    ASSERT_OK(hh_test_http(t.port, "GET", "/api/documents?collection=hr-docs", kim, NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_TRUE(strstr(r.body, "leave.txt") != NULL);
    hh_test_resp_free(&r);

    /* a use case restricted to "PERSONAL" lets kim in; disabled, it is refused */
    cJSON *in = cJSON_Parse("{\"slug\":\"hr-help\",\"purpose\":\"HR questions\",\"departments\":[\"PERSONAL\"]}");
    ASSERT_OK(hh_register_create(t.st, in, "root", NULL, &err));
    cJSON_Delete(in);
    ASSERT_OK(hh_test_http(t.port, "POST", "/v1/chat/completions", kim, CHAT(",\"hoheit\":{\"use_case\":\"hr-help\"}"),
                           &r));
    ASSERT_EQ_INT(r.status, 200);
    hh_test_resp_free(&r);
    hh_usecase_t u;
    ASSERT_OK(hh_register_set_disabled(t.st, "hr-help", true, "root", &u, &err));
    ASSERT_TRUE(u.disabled);
    hh_usecase_clear(&u);
    ASSERT_OK(hh_test_http(t.port, "POST", "/v1/chat/completions", kim, CHAT(",\"hoheit\":{\"use_case\":\"hr-help\"}"),
                           &r));
    ASSERT_EQ_INT(r.status, 403);
    ASSERT_STREQ(hh_test_resp_err_code(&r), "use_case_disabled");
    ASSERT_TRUE(strstr(r.body, "'hr-help' is disabled") != NULL);
    hh_test_resp_free(&r);
    /* used (audit records name it): delete is refused over HTTP too (409) */
    ASSERT_OK(hh_test_http(t.port, "DELETE", "/api/usecases/hr-help", root, NULL, &r));
    ASSERT_EQ_INT(r.status, 409);
    ASSERT_STREQ(hh_test_resp_err_code(&r), "use_case_in_use");
    hh_test_resp_free(&r);
    ASSERT_OK(hh_register_set_disabled(t.st, "hr-help", false, "root", NULL, &err));
    ASSERT_OK(hh_test_http(t.port, "POST", "/v1/chat/completions", kim, CHAT(",\"hoheit\":{\"use_case\":\"hr-help\"}"),
                           &r));
    ASSERT_EQ_INT(r.status, 200);
    hh_test_resp_free(&r);
    hh_test_srv_stop(&t);
}

/* ---- the CLI ------------------------------------------------------------ */

TEST(lifecycle_cli_users)
{
    NEED_BIN();
    char dir[512], out[8192];
    snprintf(dir, sizeof dir, "%s/lc-cli-users", hh_test_tmpdir());
    hh_err_t err;
    hh_err_clear(&err);
    hh_store_t *s = NULL;
    ASSERT_OK(hh_store_open(&s, dir, &err));
    ASSERT_OK(hh_store_user_ensure(s, "ada", "admin", NULL, NULL, &err));
    ASSERT_OK(hh_store_user_ensure(s, "max", "member", NULL, NULL, &err));
    hh_store_close(s);
    /* passwd --role on an existing user with another role: refused, nothing changes */
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "printf 'a fine password\\n' | %s users passwd max --role admin --password-stdin "
                              "--data %s 2>/dev/null", getenv("HOHEIT_BIN"), dir);
    int st = system(cmd);
    ASSERT_EQ_INT(WEXITSTATUS(st), 2);
    /* the same role is fine (sets the password) */
    snprintf(cmd, sizeof cmd, "printf 'a fine password\\n' | %s users passwd max --role member --password-stdin "
                              "--data %s 2>/dev/null", getenv("HOHEIT_BIN"), dir);
    st = system(cmd);
    ASSERT_EQ_INT(WEXITSTATUS(st), 0);
    ASSERT_OK(hh_store_open(&s, dir, &err));
    hh_store_user_t u;
    ASSERT_OK(hh_store_user_get(s, "max", &u, &err));
    ASSERT_STREQ(u.role, "member");
    int64_t audit0 = admin_records(s);
    hh_store_close(s);

    ASSERT_EQ_INT(cli(NULL, 0, dir, "users role max"), 2);
    ASSERT_EQ_INT(cli(NULL, 0, dir, "users role max boss"), 2);
    ASSERT_EQ_INT(cli(NULL, 0, dir, "users role nobody member"), 1);
    ASSERT_EQ_INT(cli(NULL, 0, dir, "users role ada member"), 1);   /* last admin */
    ASSERT_EQ_INT(cli(NULL, 0, dir, "users role max admin"), 0);
    ASSERT_EQ_INT(cli(NULL, 0, dir, "users role ada auditor"), 0);
    ASSERT_EQ_INT(cli(NULL, 0, dir, "users delete max"), 1);        /* no --yes, no terminal */
    ASSERT_EQ_INT(cli(NULL, 0, dir, "users delete max --yes"), 1);  /* now the last admin */
    ASSERT_EQ_INT(cli(NULL, 0, dir, "users delete ada --yes"), 0);
    ASSERT_EQ_INT(cli(NULL, 0, dir, "users delete ada --yes"), 1);
    ASSERT_EQ_INT(cli(out, sizeof out, dir, "users list"), 0);
    ASSERT_TRUE(strstr(out, "\nmax ") != NULL && strstr(out, "admin") != NULL);
    ASSERT_TRUE(strstr(out, "\nada ") == NULL);
    ASSERT_OK(hh_store_open(&s, dir, &err));
    ASSERT_OK(hh_store_user_get(s, "max", &u, &err));
    ASSERT_STREQ(u.role, "admin");
    ASSERT_EQ_INT(hh_store_user_get(s, "ada", &u, &err), HH_ENOENT);
    ASSERT_EQ_INT(admin_records(s) - audit0, 3);   /* two role changes, one delete */
    hh_store_close(s);
    ASSERT_EQ_INT(cli(NULL, 0, dir, "audit verify"), 0);
}

TEST(lifecycle_cli_departments_collections)
{
    NEED_BIN();
    char dir[512], out[8192];
    snprintf(dir, sizeof dir, "%s/lc-cli-depts", hh_test_tmpdir());
    hh_err_t err;
    hh_err_clear(&err);
    hh_store_t *s = NULL;
    ASSERT_OK(hh_store_open(&s, dir, &err));
    ASSERT_OK(hh_store_user_ensure(s, "kim", "member", NULL, NULL, &err));
    ASSERT_OK(hh_store_user_ensure(s, "lou", "member", NULL, NULL, &err));
    hh_store_close(s);
    ASSERT_EQ_INT(cli(NULL, 0, dir, "collections create hr-docs --departments Personal --create"), 0);
    /* an unknown department is refused unless --create; case does not matter */
    ASSERT_EQ_INT(cli(NULL, 0, dir, "departments add-user kim Persnal"), 1);
    ASSERT_EQ_INT(cli(out, sizeof out, dir, "departments add-user kim personal"), 0);
    ASSERT_TRUE(strstr(out, "kim is now in Personal") != NULL);
    ASSERT_EQ_INT(cli(NULL, 0, dir, "departments add-user lou Sales"), 1);
    ASSERT_EQ_INT(cli(NULL, 0, dir, "departments add-user lou Sales --create"), 0);
    ASSERT_EQ_INT(cli(NULL, 0, dir, "departments add-user nobody Sales"), 1);
    ASSERT_EQ_INT(cli(out, sizeof out, dir, "departments list"), 0);
    char name[64], members[64], users[128], colls[128];
    const char *row = strstr(out, "\nPersonal ");
    ASSERT_TRUE(row != NULL);
    ASSERT_EQ_INT(sscanf(row, "%63s %63s %127s %127s", name, members, users, colls), 4);
    ASSERT_STREQ(members, "1");
    ASSERT_STREQ(users, "kim");
    ASSERT_STREQ(colls, "hr-docs");
    ASSERT_TRUE(strstr(out, "\npersonal ") == NULL);
    /* collection owners */
    ASSERT_EQ_INT(cli(NULL, 0, dir, "collections add-department hr-docs marketing"), 1);
    ASSERT_EQ_INT(cli(NULL, 0, dir, "collections add-department nope sales"), 1);
    ASSERT_EQ_INT(cli(NULL, 0, dir, "collections add-department hr-docs sales"), 0);
    ASSERT_EQ_INT(cli(NULL, 0, dir, "collections remove-department hr-docs SALES"), 0);
    ASSERT_EQ_INT(cli(NULL, 0, dir, "collections remove-department hr-docs sales"), 1);
    ASSERT_EQ_INT(cli(NULL, 0, dir, "collections add-department hr-docs Legal --create"), 0);
    /* rename */
    ASSERT_EQ_INT(cli(NULL, 0, dir, "departments rename personal sales"), 1);
    ASSERT_EQ_INT(cli(NULL, 0, dir, "departments rename personal HR"), 0);
    ASSERT_EQ_INT(cli(out, sizeof out, dir, "collections list"), 0);
    ASSERT_TRUE(strstr(out, "HR:read,Legal:read") != NULL);
    /* delete: --yes needed without a terminal; then the orphan warning */
    ASSERT_EQ_INT(cli(NULL, 0, dir, "departments delete hr"), 1);
    ASSERT_EQ_INT(cli(NULL, 0, dir, "departments delete hr --yes"), 0);
    ASSERT_EQ_INT(cli(NULL, 0, dir, "departments delete nope --yes"), 1);
    char args[4096], errf[600];
    snprintf(errf, sizeof errf, "%s/stderr.txt", dir);
    ASSERT_EQ_INT(cli(NULL, 0, dir, "departments add-user kim Legal --create"), 0);
    ASSERT_EQ_INT(cli(NULL, 0, dir, "collections add-department hr-docs legal"), 0);
    snprintf(args, sizeof args, "%s departments delete legal --yes --data %s 2>%s >/dev/null", getenv("HOHEIT_BIN"),
             dir, errf);
    ASSERT_EQ_INT(WEXITSTATUS(system(args)), 0);
    size_t len = 0;
    char *text = hh_test_read_file(errf, &len);
    ASSERT_TRUE(text != NULL);
    ASSERT_TRUE(strstr(text, "collection hr-docs has no department left") != NULL);
    free(text);
    ASSERT_OK(hh_store_open(&s, dir, &err));
    hh_store_collection_t c;
    ASSERT_OK(hh_store_collection_get(s, "hr-docs", &c, &err));
    ASSERT_STREQ(c.departments, "");
    ASSERT_EQ_INT(sql_int(s, "SELECT COUNT(*) FROM user_departments"), 1);   /* lou in Sales */
    hh_store_close(s);
    /* collections delete asks too */
    ASSERT_EQ_INT(cli(NULL, 0, dir, "collections delete hr-docs"), 1);
    ASSERT_OK(hh_store_open(&s, dir, &err));
    ASSERT_OK(hh_store_collection_get(s, "hr-docs", &c, &err));
    hh_store_close(s);
    ASSERT_EQ_INT(cli(NULL, 0, dir, "collections delete hr-docs --yes"), 0);
    ASSERT_OK(hh_store_open(&s, dir, &err));
    ASSERT_EQ_INT(hh_store_collection_get(s, "hr-docs", &c, &err), HH_ENOENT);
    ASSERT_EQ_INT(admin_records(s), 12);   /* the 11 changes and the collection's creation */
    hh_store_close(s);
    ASSERT_EQ_INT(cli(NULL, 0, dir, "audit verify"), 0);
}

TEST(lifecycle_cli_documents)
{
    NEED_BIN();
    char dir[512], src[512], out[16384];
    snprintf(dir, sizeof dir, "%s/lc-cli-docs", hh_test_tmpdir());
    snprintf(src, sizeof src, "%s/lc-cli-docs-src", hh_test_tmpdir());
    mkdir(src, 0700);
    hh_err_t err;
    hh_err_clear(&err);
    hh_store_t *s = NULL;
    ASSERT_OK(hh_store_open(&s, dir, &err));
    hh_store_collection_t a, b;
    ASSERT_OK(hh_store_collection_ensure(s, "alpha", NULL, 0, &a, &err));
    ASSERT_OK(hh_store_collection_ensure(s, "beta", NULL, 0, &b, &err));
    const char *same = "# Travel\n\nTravel costs are refunded within 30 days.\n";
    int64_t d1 = add_doc(s, src, "travel.md", same, a.id, 0);
    int64_t d2 = add_doc(s, src, "travel-copy.md", same, b.id, 0);   /* same content, other collection */
    int64_t d3 = add_doc(s, src, "one.txt", "First memo about parking.", a.id, 0);
    int64_t d4 = add_doc(s, src, "two.txt", "Second memo about the canteen.", a.id, 0);
    ASSERT_TRUE(d1 > 0 && d2 > 0 && d3 > 0 && d4 > 0);
    hh_store_doc_t doc1, doc3;
    ASSERT_OK(hh_store_doc_get(s, d1, &doc1, &err));
    ASSERT_OK(hh_store_doc_get(s, d3, &doc3, &err));
    char f1[1024], f3[1024];
    ASSERT_OK(hh_ingest_file_path(s, doc1.sha256, f1, sizeof f1, &err));
    ASSERT_OK(hh_ingest_file_path(s, doc3.sha256, f3, sizeof f3, &err));
    hh_store_close(s);

    /* list: all, one collection, JSON */
    ASSERT_EQ_INT(cli(out, sizeof out, dir, "documents list"), 0);
    ASSERT_TRUE(strstr(out, "travel.md") && strstr(out, "travel-copy.md") && strstr(out, "two.txt"));
    ASSERT_EQ_INT(cli(out, sizeof out, dir, "documents list --collection beta --json"), 0);
    cJSON *j = cJSON_Parse(out);
    ASSERT_TRUE(cJSON_IsArray(j));
    ASSERT_EQ_INT(cJSON_GetArraySize(j), 1);
    ASSERT_EQ_INT((int64_t)cJSON_GetObjectItem(cJSON_GetArrayItem(j, 0), "id")->valuedouble, d2);
    ASSERT_STREQ(cJSON_GetObjectItem(cJSON_GetArrayItem(j, 0), "collection")->valuestring, "beta");
    cJSON_Delete(j);
    ASSERT_EQ_INT(cli(NULL, 0, dir, "documents list --collection nope"), 1);

    /* refusals: no --yes, an unknown id (nothing deleted), a wrong collection, bad usage */
    ASSERT_EQ_INT(cli(NULL, 0, dir, "documents delete %lld", (long long)d1), 1);
    ASSERT_EQ_INT(cli(NULL, 0, dir, "documents delete %lld 999999 --yes", (long long)d1), 1);
    ASSERT_EQ_INT(cli(NULL, 0, dir, "documents delete %lld --collection beta --yes", (long long)d1), 1);
    ASSERT_EQ_INT(cli(NULL, 0, dir, "documents delete"), 2);
    ASSERT_EQ_INT(cli(NULL, 0, dir, "documents delete abc --yes"), 2);
    ASSERT_EQ_INT(cli(NULL, 0, dir, "documents delete --all --yes"), 2);
    ASSERT_OK(hh_store_open(&s, dir, &err));
    ASSERT_OK(hh_store_doc_get(s, d1, &doc1, &err));
    hh_store_close(s);

    /* delete d1: its file stays (d2 has the same content); then d2: the file goes */
    ASSERT_EQ_INT(cli(NULL, 0, dir, "documents delete %lld --yes", (long long)d1), 0);
    ASSERT_EQ_INT(access(f1, F_OK), 0);
    ASSERT_EQ_INT(cli(NULL, 0, dir, "documents delete %lld --yes", (long long)d2), 0);
    ASSERT_NE_INT(access(f1, F_OK), 0);

    /* reingest d3: a new id, same path and hash, chunks again; its file stays */
    ASSERT_EQ_INT(cli(out, sizeof out, dir, "documents reingest %lld", (long long)d3), 0);
    long long from = 0, to = 0;
    ASSERT_EQ_INT(sscanf(out, "document %lld -> %lld", &from, &to), 2);
    ASSERT_EQ_INT(from, d3);
    ASSERT_TRUE(to > 0 && to != d3 && to != d4);   /* a new id; random (issue 12), so no order */
    ASSERT_EQ_INT(access(f3, F_OK), 0);
    ASSERT_OK(hh_store_open(&s, dir, &err));
    hh_store_doc_t re;
    ASSERT_EQ_INT(hh_store_doc_get(s, d3, &re, &err), HH_ENOENT);
    ASSERT_OK(hh_store_doc_get(s, to, &re, &err));
    ASSERT_STREQ(re.source_path, doc3.source_path);
    ASSERT_STREQ(re.sha256, doc3.sha256);
    ASSERT_STREQ(re.title, doc3.title);
    ASSERT_EQ_INT(re.n_chunks, doc3.n_chunks);
    ASSERT_TRUE(re.n_chunks >= 1);
    hh_store_close(s);
    ASSERT_EQ_INT(cli(NULL, 0, dir, "documents reingest 999999"), 1);
    ASSERT_EQ_INT(cli(out, sizeof out, dir, "documents reingest --collection alpha"), 0);
    ASSERT_TRUE(strstr(out, "-> ") != NULL);

    /* --collection --all empties the collection, keeps it */
    ASSERT_EQ_INT(cli(NULL, 0, dir, "documents delete --collection alpha --all"), 1);
    ASSERT_EQ_INT(cli(NULL, 0, dir, "documents delete --collection alpha --all --yes"), 0);
    ASSERT_NE_INT(access(f3, F_OK), 0);
    ASSERT_OK(hh_store_open(&s, dir, &err));
    ASSERT_EQ_INT(sql_int(s, "SELECT COUNT(*) FROM documents"), 0);
    ASSERT_EQ_INT(sql_int(s, "SELECT COUNT(*) FROM chunks"), 0);
    ASSERT_OK(hh_store_collection_get(s, "alpha", &a, &err));
    /* 2 single deletes + 3 reingests (d3, then both of alpha) + 2 deletes of alpha */
    ASSERT_EQ_INT(admin_records(s), 7);
    hh_store_close(s);
    ASSERT_EQ_INT(cli(NULL, 0, dir, "audit verify"), 0);
}

TEST(lifecycle_cli_register)
{
    NEED_BIN();
    char dir[512], out[16384], uc[600];
    snprintf(dir, sizeof dir, "%s/lc-cli-reg", hh_test_tmpdir());
    snprintf(uc, sizeof uc, "%s/lc-cli-reg-uc.json", hh_test_tmpdir());
    hh_err_t err;
    hh_err_clear(&err);
    hh_store_t *s = NULL;
    ASSERT_OK(hh_store_open(&s, dir, &err));
    ASSERT_OK(hh_store_collection_ensure(s, "handbook", NULL, 0, NULL, &err));
    ASSERT_OK(hh_store_department_ensure(s, "Support", NULL, &err));
    hh_store_close(s);
    char models[600], mfile[700];
    snprintf(models, sizeof models, "%s/lc-cli-reg-models", hh_test_tmpdir());
    mkdir(models, 0700);
    snprintf(mfile, sizeof mfile, "%s/tiny.gguf", models);
    write_text(mfile, "GGUF");

    /* unknown model, collection and department: refused, each named */
    write_text(uc, "{\"slug\":\"help-desk\",\"purpose\":\"answers\",\"models\":[\"huge\"],"
                   "\"collections\":[\"nope\"],\"departments\":[\"Nowhere\"]}");
    char args[4096], errf[700];
    snprintf(errf, sizeof errf, "%s/lc-cli-reg-err.txt", hh_test_tmpdir());
    snprintf(args, sizeof args, "%s register add --file %s --models %s --data %s 2>%s >/dev/null",
             getenv("HOHEIT_BIN"), uc, models, dir, errf);
    ASSERT_EQ_INT(WEXITSTATUS(system(args)), 1);
    size_t len = 0;
    char *text = hh_test_read_file(errf, &len);
    ASSERT_TRUE(text != NULL);
    ASSERT_TRUE(strstr(text, "model 'huge' does not exist") != NULL);
    ASSERT_TRUE(strstr(text, "collection 'nope' does not exist") != NULL);
    ASSERT_TRUE(strstr(text, "department 'Nowhere' does not exist") != NULL);
    free(text);
    /* models default to DATA/models: tiny is not there */
    write_text(uc, "{\"slug\":\"help-desk\",\"purpose\":\"answers\",\"models\":[\"tiny\"],"
                   "\"collections\":[\"handbook\"],\"departments\":[\"support\"]}");
    ASSERT_EQ_INT(cli(NULL, 0, dir, "register add --file %s", uc), 1);
    ASSERT_EQ_INT(cli(NULL, 0, dir, "register add --file %s --models %s", uc, models), 0);
    ASSERT_EQ_INT(cli(out, sizeof out, dir, "register list"), 0);
    ASSERT_TRUE(strstr(out, "help-desk") != NULL && strstr(out, "enabled") != NULL);

    /* update: by the slug in the file or by id; names checked again */
    write_text(uc, "{\"slug\":\"help-desk\",\"purpose\":\"better answers\",\"collections\":[\"gone\"]}");
    ASSERT_EQ_INT(cli(NULL, 0, dir, "register update --file %s --models %s", uc, models), 1);
    write_text(uc, "{\"purpose\":\"better answers\"}");
    ASSERT_EQ_INT(cli(NULL, 0, dir, "register update --file %s --models %s", uc, models), 2);   /* no slug */
    ASSERT_EQ_INT(cli(NULL, 0, dir, "register update nope --file %s --models %s", uc, models), 1);
    ASSERT_EQ_INT(cli(NULL, 0, dir, "register update help-desk --file %s --models %s", uc, models), 0);
    ASSERT_EQ_INT(cli(out, sizeof out, dir, "register show help-desk"), 0);
    ASSERT_TRUE(strstr(out, "better answers") != NULL);

    /* disable / enable */
    ASSERT_EQ_INT(cli(NULL, 0, dir, "register disable help-desk"), 0);
    ASSERT_EQ_INT(cli(out, sizeof out, dir, "register list"), 0);
    ASSERT_TRUE(strstr(out, "disabled") != NULL);
    ASSERT_OK(hh_store_open(&s, dir, &err));
    hh_usecase_t u;
    ASSERT_OK(hh_register_get(s, "help-desk", &u, &err));
    ASSERT_TRUE(u.disabled);
    hh_usecase_clear(&u);
    hh_store_close(s);
    ASSERT_EQ_INT(cli(NULL, 0, dir, "register enable help-desk"), 0);
    ASSERT_EQ_INT(cli(NULL, 0, dir, "register disable nope"), 1);

    /* delete: --yes; refused while an audit record names it */
    ASSERT_EQ_INT(cli(NULL, 0, dir, "register delete help-desk"), 1);
    ASSERT_OK(hh_store_open(&s, dir, &err));
    ASSERT_OK(hh_approvals_create(s, "help-desk", false, "kim", "{}", "draft", NULL, &err));
    hh_store_close(s);
    snprintf(args, sizeof args, "%s register delete help-desk --yes --data %s 2>%s >/dev/null", getenv("HOHEIT_BIN"),
             dir, errf);
    ASSERT_EQ_INT(WEXITSTATUS(system(args)), 1);
    text = hh_test_read_file(errf, &len);
    ASSERT_TRUE(text != NULL);
    ASSERT_TRUE(strstr(text, "1 approvals") != NULL && strstr(text, "register disable help-desk") != NULL);
    free(text);
    ASSERT_OK(hh_store_open(&s, dir, &err));
    ASSERT_OK(hh_register_get(s, "help-desk", &u, &err));
    hh_usecase_clear(&u);
    ASSERT_OK(sql_exec(s, "DELETE FROM approvals"));
    hh_store_close(s);
    ASSERT_EQ_INT(cli(NULL, 0, dir, "register delete help-desk --yes"), 0);
    ASSERT_OK(hh_store_open(&s, dir, &err));
    ASSERT_EQ_INT(hh_register_get(s, "help-desk", &u, &err), HH_ENOENT);
    /* add, update, disable, enable, delete */
    ASSERT_EQ_INT(admin_records(s), 5);
    hh_store_close(s);
    ASSERT_EQ_INT(cli(NULL, 0, dir, "audit verify"), 0);
}

/* Without --yes on a terminal the destructive commands ask y/N: "n" keeps,
 * "y" deletes. script(1) (util-linux, in every Debian) gives the command a
 * terminal and feeds it our answer. */
TEST(lifecycle_cli_prompt_on_tty)
{
    NEED_BIN();
    char dir[512], cmd[4096];
    snprintf(dir, sizeof dir, "%s/lc-cli-tty", hh_test_tmpdir());
    hh_err_t err;
    hh_err_clear(&err);
    hh_store_t *s = NULL;
    ASSERT_OK(hh_store_open(&s, dir, &err));
    ASSERT_OK(hh_store_user_ensure(s, "ada", "admin", NULL, NULL, &err));
    ASSERT_OK(hh_store_user_ensure(s, "max", "member", NULL, NULL, &err));
    hh_store_close(s);
    ASSERT_EQ_INT(WEXITSTATUS(system("script --version >/dev/null 2>&1")), 0);
    const char *answers[2] = { "n", "y" };
    for (int i = 0; i < 2; i++) {
        snprintf(cmd, sizeof cmd, "printf '%s\\n' | script -qec '%s users delete max --data %s' /dev/null >/dev/null 2>&1",
                 answers[i], getenv("HOHEIT_BIN"), dir);
        int st = system(cmd);
        ASSERT_EQ_INT(WEXITSTATUS(st), i == 0 ? 1 : 0);
        ASSERT_OK(hh_store_open(&s, dir, &err));
        hh_store_user_t u;
        int rc = hh_store_user_get(s, "max", &u, &err);
        hh_store_close(s);
        ASSERT_EQ_INT(rc, i == 0 ? 0 : HH_ENOENT);
    }
}

/* `users disable` was a way around the last-admin guard of role/delete:
 * disabling the only enabled admin left nobody to administer hoheit over
 * the API (and then `users delete` of the other, disabled, admin passed). */
TEST(lifecycle_store_disable_last_admin_refused)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/lc-disable-admin", hh_test_tmpdir());
    hh_err_t err;
    hh_err_clear(&err);
    hh_store_t *s = NULL;
    ASSERT_OK(hh_store_open(&s, dir, &err));
    hh_store_user_t a1, a2, m1;
    ASSERT_OK(hh_store_user_ensure(s, "ada", "admin", &a1, NULL, &err));
    ASSERT_OK(hh_store_user_ensure(s, "bea", "admin", &a2, NULL, &err));
    ASSERT_OK(hh_store_user_ensure(s, "max", "member", &m1, NULL, &err));
    ASSERT_OK(hh_store_user_set_disabled(s, "bea", true, &err));
    ASSERT_EQ_INT(hh_store_user_set_disabled(s, "ada", true, &err), HH_ESTATE);
    ASSERT_TRUE(strstr(err.msg, "last enabled admin") != NULL);
    hh_store_user_t u;
    ASSERT_OK(hh_store_user_get(s, "ada", &u, &err));
    ASSERT_FALSE(u.disabled);
    /* members, already disabled admins, enabling and unknown names as before */
    ASSERT_OK(hh_store_user_set_disabled(s, "max", true, &err));
    ASSERT_OK(hh_store_user_set_disabled(s, "bea", true, &err));
    ASSERT_EQ_INT(hh_store_user_set_disabled(s, "nobody", true, &err), HH_ENOENT);
    ASSERT_OK(hh_store_user_set_disabled(s, "bea", false, &err));
    ASSERT_OK(hh_store_user_set_disabled(s, "ada", true, &err));   /* bea is enabled again */
    hh_store_close(s);
}
