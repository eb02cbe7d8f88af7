/* test_rights.c - rights per collection (store.h "Rights", migration 11):
 * read / write / manage per department, enforced on the HTTP document
 * routes, set with `hoheit collections grant|revoke`, and migration 11 on
 * the schema-10 fixture. The attacks of issue 12 finding 9 are run as
 * attacks: a member whose department only reads deletes and uploads. */
#include "harness.h"
#include "http_helpers.h"
#include "store/store_int.h"

#include <cjson/cJSON.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int64_t sql_int(hh_store_t *s, const char *sql)
{
    sqlite3_stmt *st = NULL;
    int64_t v = -1;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* The right (JSON "right") of the first listed document of the answer. */
static const char *first_right(const hh_test_resp_t *r)
{
    const cJSON *d = cJSON_GetArrayItem(cJSON_GetObjectItem(r->j, "data"), 0);
    const cJSON *v = cJSON_GetObjectItem(d, "right");
    return cJSON_IsString(v) ? v->valuestring : "(none)";
}

/* ---- store -------------------------------------------------------------- */

TEST(rights_store_grant_levels_and_roles)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/rights-store", hh_test_tmpdir());
    hh_err_t err;
    hh_err_clear(&err);
    hh_store_t *s = NULL;
    ASSERT_OK(hh_store_open(&s, dir, &err));
    hh_store_user_t sam, ann, aud, root;
    ASSERT_OK(hh_store_user_ensure(s, "sam", "member", &sam, NULL, &err));
    ASSERT_OK(hh_store_user_ensure(s, "ann", "approver", &ann, NULL, &err));
    ASSERT_OK(hh_store_user_ensure(s, "aud", "auditor", &aud, NULL, &err));
    ASSERT_OK(hh_store_user_ensure(s, "root", "admin", &root, NULL, &err));
    ASSERT_OK(hh_store_department_ensure(s, "Sales", NULL, &err));
    ASSERT_OK(hh_store_department_ensure(s, "IT", NULL, &err));
    ASSERT_OK(hh_store_user_add_department(s, "sam", "Sales", &err));
    ASSERT_OK(hh_store_user_add_department(s, "aud", "Sales", &err));
    ASSERT_OK(hh_store_user_add_department(s, "ann", "IT", &err));
    const char *depts[] = { "Sales" };
    hh_store_collection_t c;
    ASSERT_OK(hh_store_collection_ensure(s, "it-docs", depts, 1, &c, &err));
    /* create gives read */
    ASSERT_STREQ(c.rights, "Sales:read");
    hh_right_t r = HH_RIGHT_MANAGE;
    ASSERT_OK(hh_store_user_collection_right(s, sam.id, c.id, &r, &err));
    ASSERT_EQ_INT(r, HH_RIGHT_READ);
    ASSERT_OK(hh_store_user_collection_right(s, ann.id, c.id, &r, &err));
    ASSERT_EQ_INT(r, HH_RIGHT_NONE);   /* IT owns nothing here */
    ASSERT_OK(hh_store_user_collection_right(s, root.id, c.id, &r, &err));
    ASSERT_EQ_INT(r, HH_RIGHT_MANAGE);  /* admins manage everything */
    ASSERT_OK(hh_store_user_collection_right(s, 0, c.id, &r, &err));
    ASSERT_EQ_INT(r, HH_RIGHT_NONE);
    /* grant: levels, the highest department counts, auditors stay at read */
    hh_right_t before = HH_RIGHT_MANAGE;
    ASSERT_OK(hh_store_collection_grant(s, "it-docs", "sales", HH_RIGHT_MANAGE, &before, &err));
    ASSERT_EQ_INT(before, HH_RIGHT_READ);
    ASSERT_OK(hh_store_user_collection_right(s, sam.id, c.id, &r, &err));
    ASSERT_EQ_INT(r, HH_RIGHT_MANAGE);
    ASSERT_OK(hh_store_user_collection_right(s, aud.id, c.id, &r, &err));
    ASSERT_EQ_INT(r, HH_RIGHT_READ);
    ASSERT_OK(hh_store_collection_grant(s, "it-docs", "IT", HH_RIGHT_WRITE, &before, &err));
    ASSERT_EQ_INT(before, HH_RIGHT_NONE);
    ASSERT_OK(hh_store_user_collection_right(s, ann.id, c.id, &r, &err));
    ASSERT_EQ_INT(r, HH_RIGHT_WRITE);
    ASSERT_OK(hh_store_collection_get(s, "it-docs", &c, &err));
    ASSERT_STREQ(c.rights, "IT:write,Sales:manage");
    ASSERT_STREQ(c.departments, "IT,Sales");
    /* refusals */
    ASSERT_EQ_INT(hh_store_collection_grant(s, "nope", "IT", HH_RIGHT_READ, NULL, &err), HH_ENOENT);
    ASSERT_EQ_INT(hh_store_collection_grant(s, "it-docs", "nope", HH_RIGHT_READ, NULL, &err), HH_ENOENT);
    ASSERT_EQ_INT(hh_store_collection_grant(s, "it-docs", "IT", HH_RIGHT_NONE, NULL, &err), HH_EINVAL);
    ASSERT_EQ_INT(hh_store_collection_grant(s, "it-docs", "IT", (hh_right_t)7, NULL, &err), HH_EINVAL);
    hh_right_t p = HH_RIGHT_NONE;
    ASSERT_EQ_INT(hh_right_parse("owner", &p, &err), HH_EINVAL);
    ASSERT_OK(hh_right_parse("write", &p, &err));
    ASSERT_EQ_INT(p, HH_RIGHT_WRITE);
    /* a disabled user has no right */
    ASSERT_OK(hh_store_user_set_disabled(s, "sam", true, &err));
    ASSERT_OK(hh_store_user_collection_right(s, sam.id, c.id, &r, &err));
    ASSERT_EQ_INT(r, HH_RIGHT_NONE);
    hh_store_close(s);
}

/* Migration 11 on the database the schema-10 program left: every
 * ownership becomes 'write' (uploads keep working, deletion is no longer
 * every reader's), new grants are 'read'. */
TEST(rights_migration11_on_v10_fixture)
{
    char dir[512], cmd[1200];
    snprintf(dir, sizeof dir, "%s/rights-mig11", hh_test_tmpdir());
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -R tests/fixtures/schema/v10 '%s'", dir, dir);
    ASSERT_EQ_INT(system(cmd), 0);
    hh_err_t err;
    hh_err_clear(&err);
    hh_store_t *s = NULL;
    ASSERT_OK(hh_store_open(&s, dir, &err));
    int version = 0;
    ASSERT_OK(hh_store_schema_version(s, &version, &err));
    ASSERT_EQ_INT(version, hh_store_schema_newest());   /* 11 and every later migration ran */
    ASSERT_TRUE(version >= 11);
    int64_t n = sql_int(s, "SELECT COUNT(*) FROM collection_departments");
    ASSERT_TRUE(n > 0);
    ASSERT_EQ_INT(sql_int(s, "SELECT COUNT(*) FROM collection_departments WHERE access = 'write'"), n);
    /* a member of an owning department: write, not manage */
    int64_t uid = sql_int(s, "SELECT ud.user_id FROM user_departments ud JOIN users u ON u.id = ud.user_id "
                             "JOIN collection_departments cd ON cd.department_id = ud.department_id "
                             "WHERE u.role = 'member' AND u.disabled = 0 LIMIT 1");
    int64_t cid = sql_int(s, "SELECT cd.collection_id FROM collection_departments cd JOIN user_departments ud "
                             "ON ud.department_id = cd.department_id JOIN users u ON u.id = ud.user_id "
                             "WHERE u.role = 'member' AND u.disabled = 0 LIMIT 1");
    ASSERT_TRUE(uid > 0 && cid > 0);
    hh_right_t r = HH_RIGHT_NONE;
    ASSERT_OK(hh_store_user_collection_right(s, uid, cid, &r, &err));
    ASSERT_EQ_INT(r, HH_RIGHT_WRITE);
    /* the column refuses anything but the three rights */
    ASSERT_TRUE(sqlite3_exec(s->db, "UPDATE collection_departments SET access = 'owner'", NULL, NULL, NULL) !=
                SQLITE_OK);
    hh_store_close(s);
}

/* ---- HTTP: the attack of finding 9 --------------------------------------- */

/* Sales reads it-docs (IT's collection, shared read with Sales). On main a
 * Sales member deleted an IT document (200) and uploaded into it (201);
 * now both are 403 and the document stays. */
TEST(rights_http_read_only_member_cannot_delete_or_upload)
{
    hh_test_srv_t t;
    ASSERT_OK(hh_test_srv_start(&t, "rights-http", NULL));
    char root[HH_KEY_LEN + 1], sam[HH_KEY_LEN + 1], ivy[HH_KEY_LEN + 1], hal[HH_KEY_LEN + 1];
    ASSERT_OK(hh_test_srv_user(&t, "root", "admin", root, NULL));
    ASSERT_OK(hh_test_srv_user(&t, "sam", "member", sam, NULL));   /* Sales */
    ASSERT_OK(hh_test_srv_user(&t, "ivy", "member", ivy, NULL));   /* IT */
    ASSERT_OK(hh_test_srv_user(&t, "hal", "member", hal, NULL));   /* HR */
    hh_err_t err;
    hh_err_clear(&err);
    ASSERT_OK(hh_store_department_ensure(t.st, "Sales", NULL, &err));
    ASSERT_OK(hh_store_department_ensure(t.st, "IT", NULL, &err));
    ASSERT_OK(hh_store_department_ensure(t.st, "HR", NULL, &err));
    ASSERT_OK(hh_store_user_add_department(t.st, "sam", "Sales", &err));
    ASSERT_OK(hh_store_user_add_department(t.st, "ivy", "IT", &err));
    ASSERT_OK(hh_store_user_add_department(t.st, "hal", "HR", &err));
    const char *depts[] = { "IT", "Sales" };
    ASSERT_OK(hh_store_collection_ensure(t.st, "it-docs", depts, 2, NULL, &err));
    ASSERT_OK(hh_store_collection_grant(t.st, "it-docs", "IT", HH_RIGHT_MANAGE, NULL, &err));

    hh_test_resp_t r;
    ASSERT_OK(hh_test_http_upload(t.port, root, "it-docs", "vpn.txt", "The VPN gateway is vpn.example.", &r));
    ASSERT_EQ_INT(r.status, 201);
    char path[64];
    snprintf(path, sizeof path, "/api/documents/%.0f", cJSON_GetObjectItem(r.j, "id")->valuedouble);
    hh_test_resp_free(&r);

    /* Sales sees its right */
    ASSERT_OK(hh_test_http(t.port, "GET", "/api/documents?collection=it-docs", sam, NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(r.j, "data")), 1);
    ASSERT_STREQ(first_right(&r), "read");
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(t.port, "GET", "/api/documents", ivy, NULL, &r));
    ASSERT_STREQ(first_right(&r), "manage");
    hh_test_resp_free(&r);

    /* the attack: delete and upload with read only */
    ASSERT_OK(hh_test_http(t.port, "DELETE", path, sam, NULL, &r));
    ASSERT_EQ_INT(r.status, 403);
    ASSERT_STREQ(hh_test_resp_err_code(&r), "forbidden");
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http_upload(t.port, sam, "it-docs", "fake.txt", "The VPN gateway moved to evil.example.", &r));
    ASSERT_EQ_INT(r.status, 403);
    hh_test_resp_free(&r);
    /* another department: the collection stays unknown */
    ASSERT_OK(hh_test_http(t.port, "DELETE", path, hal, NULL, &r));
    ASSERT_EQ_INT(r.status, 404);
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http_upload(t.port, hal, "it-docs", "x.txt", "x", &r));
    ASSERT_EQ_INT(r.status, 404);
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(t.port, "GET", "/api/documents?collection=it-docs", root, NULL, &r));
    ASSERT_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(r.j, "data")), 1);   /* nothing changed */
    hh_test_resp_free(&r);

    /* write: upload yes, delete no; manage: delete */
    ASSERT_OK(hh_store_collection_grant(t.st, "it-docs", "Sales", HH_RIGHT_WRITE, NULL, &err));
    ASSERT_OK(hh_test_http_upload(t.port, sam, "it-docs", "offer.txt", "Sales offer template.", &r));
    ASSERT_EQ_INT(r.status, 201);
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(t.port, "DELETE", path, sam, NULL, &r));
    ASSERT_EQ_INT(r.status, 403);
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(t.port, "DELETE", path, ivy, NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    hh_test_resp_free(&r);
    hh_test_srv_stop(&t);
}

/* ---- CLI: grant / revoke ------------------------------------------------- */

static int cli(char *out, size_t cap, const char *dir, const char *args)
{
    char line[2048];
    snprintf(line, sizeof line, "%s --data %s", args, dir);
    return hh_test_run_cli(line, NULL, true, out, cap);
}

TEST(rights_cli_grant_revoke)
{
    if (!getenv("HOHEIT_BIN")) {
        hh_test_fail(__FILE__, __LINE__, "HOHEIT_BIN is not set (run through `make test`)");
        return;
    }
    char dir[512], out[8192];
    snprintf(dir, sizeof dir, "%s/rights-cli", hh_test_tmpdir());
    ASSERT_EQ_INT(cli(out, sizeof out, dir, "collections create it-docs --departments IT --create"), 0);
    ASSERT_EQ_INT(cli(out, sizeof out, dir, "collections list"), 0);
    ASSERT_TRUE(strstr(out, "IT:read") != NULL);
    /* refusals: bad right (usage), unknown department / collection */
    ASSERT_EQ_INT(cli(out, sizeof out, dir, "collections grant it-docs IT owner"), 2);
    ASSERT_TRUE(strstr(out, "read, write or manage") != NULL);
    ASSERT_EQ_INT(cli(out, sizeof out, dir, "collections grant it-docs IT"), 2);
    ASSERT_EQ_INT(cli(out, sizeof out, dir, "collections grant it-docs Sales write"), 1);
    ASSERT_TRUE(strstr(out, "no department 'Sales'") != NULL);
    ASSERT_EQ_INT(cli(out, sizeof out, dir, "collections grant nope IT write"), 1);
    /* grants */
    ASSERT_EQ_INT(cli(out, sizeof out, dir, "collections grant it-docs Sales write --create"), 0);
    ASSERT_TRUE(strstr(out, "Sales: write (was none)") != NULL);
    ASSERT_EQ_INT(cli(out, sizeof out, dir, "collections grant it-docs it manage"), 0);
    ASSERT_TRUE(strstr(out, "IT: manage (was read)") != NULL);
    ASSERT_EQ_INT(cli(out, sizeof out, dir, "collections list"), 0);
    ASSERT_TRUE(strstr(out, "IT:manage,Sales:write") != NULL);
    /* add-department = grant read */
    ASSERT_EQ_INT(cli(out, sizeof out, dir, "collections add-department it-docs Sales"), 0);
    ASSERT_EQ_INT(cli(out, sizeof out, dir, "collections list"), 0);
    ASSERT_TRUE(strstr(out, "IT:manage,Sales:read") != NULL);
    /* revoke; again: not an owner */
    ASSERT_EQ_INT(cli(out, sizeof out, dir, "collections revoke it-docs Sales"), 0);
    ASSERT_EQ_INT(cli(out, sizeof out, dir, "collections revoke it-docs Sales"), 1);
    ASSERT_EQ_INT(cli(out, sizeof out, dir, "collections list"), 0);
    ASSERT_TRUE(strstr(out, "Sales") == NULL);
    ASSERT_EQ_INT(cli(out, sizeof out, dir, "collections remove-department it-docs IT"), 0);
    ASSERT_TRUE(strstr(out, "only admins") != NULL);
    /* each change on record, with the OS user: the creation, three grants
     * (one creating Sales), two revocations */
    hh_err_t err;
    hh_err_clear(&err);
    hh_store_t *s = NULL;
    ASSERT_OK(hh_store_open(&s, dir, &err));
    ASSERT_EQ_INT(sql_int(s, "SELECT COUNT(*) FROM audit_log WHERE json_extract(CAST(record AS TEXT), '$.kind') = "
                             "'admin'"),
                  6);
    ASSERT_EQ_INT(sql_int(s, "SELECT COUNT(*) FROM audit_log WHERE detail = 'collections create it-docs: rights "
                             "IT:read'"),
                  1);
    ASSERT_EQ_INT(sql_int(s, "SELECT COUNT(*) FROM audit_log WHERE detail = 'collections grant it-docs Sales write "
                             "(was none); department created'"),
                  1);
    ASSERT_EQ_INT(sql_int(s, "SELECT COUNT(*) FROM audit_log WHERE detail LIKE 'collections grant it-docs IT manage%'"),
                  1);
    hh_store_close(s);
}
