/* test_documents_file.c - GET /api/documents/{id}/file, the stored original
 * of a document (documents.c, docs/SERVER.md): its owner's department gets
 * the exact bytes with the download headers; another department's member
 * gets the very answer of a missing id (the attack of reading another
 * department's file by id); an auditor of the department reads, an admin
 * reads everything; a document deleted meanwhile is gone; every download
 * and every refusal is an audit record. */
#include "harness.h"
#include "http_helpers.h"
#include "govern/audit.h"
#include "store/store.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The whole audit chain as JSONL text (caller frees), or NULL. */
static char *audit_text(hh_test_srv_t *t)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    int rc = hh_audit_export(t->st, 1, f, NULL);
    fclose(f);
    if (rc) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* The body with the X-Request-Id and Date header lines removed: what must
 * be equal between a missing and a foreign document. */
static void strip_varying(const char *headers, char *out, size_t cap)
{
    size_t n = 0;
    for (const char *p = headers; *p;) {
        const char *e = strstr(p, "\r\n");
        size_t len = e ? (size_t)(e - p) + 2 : strlen(p);
        if (strncasecmp(p, "X-Request-Id:", 13) && strncasecmp(p, "Date:", 5) && n + len < cap) {
            memcpy(out + n, p, len);
            n += len;
        }
        p += len;
    }
    out[n] = 0;
}

TEST(documents_file_download_rights_headers_and_audit)
{
    hh_test_srv_t t;
    ASSERT_OK(hh_test_srv_start(&t, "documents-file", NULL));
    char root[HH_KEY_LEN + 1], ivy[HH_KEY_LEN + 1], hal[HH_KEY_LEN + 1], aud[HH_KEY_LEN + 1],
        oda[HH_KEY_LEN + 1];
    ASSERT_OK(hh_test_srv_user(&t, "root", "admin", root, NULL));
    ASSERT_OK(hh_test_srv_user(&t, "ivy", "member", ivy, NULL));     /* IT */
    ASSERT_OK(hh_test_srv_user(&t, "hal", "member", hal, NULL));     /* HR */
    ASSERT_OK(hh_test_srv_user(&t, "aud", "auditor", aud, NULL));    /* IT */
    ASSERT_OK(hh_test_srv_user(&t, "oda", "auditor", oda, NULL));    /* HR */
    hh_err_t err;
    hh_err_clear(&err);
    ASSERT_OK(hh_store_department_ensure(t.st, "IT", NULL, &err));
    ASSERT_OK(hh_store_department_ensure(t.st, "HR", NULL, &err));
    ASSERT_OK(hh_store_user_add_department(t.st, "ivy", "IT", &err));
    ASSERT_OK(hh_store_user_add_department(t.st, "aud", "IT", &err));
    ASSERT_OK(hh_store_user_add_department(t.st, "hal", "HR", &err));
    ASSERT_OK(hh_store_user_add_department(t.st, "oda", "HR", &err));
    const char *it[] = { "IT" };
    ASSERT_OK(hh_store_collection_ensure(t.st, "it-docs", it, 1, NULL, &err));
    ASSERT_OK(hh_store_collection_grant(t.st, "it-docs", "IT", HH_RIGHT_MANAGE, NULL, &err));

    const char *text = "# VPN\n\nThe VPN gateway is vpn.example; the <script>alert(1)</script> stays text.\n";
    hh_test_resp_t r;
    ASSERT_OK(hh_test_http_upload(t.port, ivy, "it-docs", "Zugang (VPN) \xc3\xa4.md", text, &r));
    ASSERT_EQ_INT(r.status, 201);
    long long id = (long long)cJSON_GetObjectItem(r.j, "id")->valuedouble;
    hh_test_resp_free(&r);
    char path[64], missing[64];
    snprintf(path, sizeof path, "/api/documents/%lld/file", id);
    snprintf(missing, sizeof missing, "/api/documents/%lld/file", id == 1 ? 2 : id - 1);

    /* the owner's department: the exact bytes, as a download that never runs */
    ASSERT_OK(hh_test_http(t.port, "GET", path, ivy, NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_EQ_INT((long long)r.body_len, (long long)strlen(text));
    ASSERT_TRUE(memcmp(r.body, text, r.body_len) == 0);
    char v[256];
    ASSERT_STREQ(hh_test_resp_header(&r, "Content-Type", v, sizeof v), "text/markdown");
    /* every byte outside [A-Za-z0-9._ -] of the name becomes '_' (UTF-8 too) */
    ASSERT_STREQ(hh_test_resp_header(&r, "Content-Disposition", v, sizeof v),
                 "attachment; filename=\"Zugang _VPN_ __.md\"");
    ASSERT_STREQ(hh_test_resp_header(&r, "X-Content-Type-Options", v, sizeof v), "nosniff");
    ASSERT_TRUE(strstr(hh_test_resp_header(&r, "Content-Security-Policy", v, sizeof v), "sandbox") == v);
    ASSERT_STREQ(hh_test_resp_header(&r, "Cache-Control", v, sizeof v), "no-store");
    hh_test_resp_free(&r);

    /* an auditor of the department reads; an admin reads everything */
    ASSERT_OK(hh_test_http(t.port, "GET", path, aud, NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_TRUE(r.body_len == strlen(text) && memcmp(r.body, text, r.body_len) == 0);
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(t.port, "GET", path, root, NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_TRUE(r.body_len == strlen(text) && memcmp(r.body, text, r.body_len) == 0);
    hh_test_resp_free(&r);

    /* the attack: another department's member (and auditor) asks for the
     * file by id; the answer is byte for byte that of a missing id */
    hh_test_resp_t foreign, none;
    ASSERT_OK(hh_test_http(t.port, "GET", path, hal, NULL, &foreign));
    ASSERT_OK(hh_test_http(t.port, "GET", missing, hal, NULL, &none));
    ASSERT_EQ_INT(foreign.status, 404);
    ASSERT_EQ_INT(none.status, 404);
    ASSERT_STREQ(hh_test_resp_err_code(&foreign), "document_not_found");
    ASSERT_STREQ(foreign.body, none.body);
    ASSERT_TRUE(strstr(foreign.body, "VPN") == NULL);
    char *ha = malloc(8192), *hb = malloc(8192);
    ASSERT_TRUE(ha && hb);
    strip_varying(foreign.headers, ha, 8192);
    strip_varying(none.headers, hb, 8192);
    ASSERT_STREQ(ha, hb);
    free(ha);
    free(hb);
    hh_test_resp_free(&foreign);
    hh_test_resp_free(&none);
    ASSERT_OK(hh_test_http(t.port, "GET", path, oda, NULL, &r));
    ASSERT_EQ_INT(r.status, 404);
    hh_test_resp_free(&r);
    /* no key: 401; a malformed id: the same 404 */
    ASSERT_OK(hh_test_http(t.port, "GET", path, NULL, NULL, &r));
    ASSERT_EQ_INT(r.status, 401);
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(t.port, "GET", "/api/documents/abc/file", ivy, NULL, &r));
    ASSERT_EQ_INT(r.status, 404);
    ASSERT_STREQ(hh_test_resp_err_code(&r), "document_not_found");
    hh_test_resp_free(&r);

    /* every download and refusal is in the audit chain */
    char *log = audit_text(&t);
    ASSERT_TRUE(log != NULL);
    char part[96];
    snprintf(part, sizeof part, "documents download %lld (it-docs: ", id);
    int n = 0;
    for (const char *p = log; (p = strstr(p, part)); p++)
        n++;
    ASSERT_EQ_INT(n, 3);   /* ivy, aud, root */
    snprintf(part, sizeof part, "documents download %lld (it-docs): no right on the collection", id);
    ASSERT_TRUE(strstr(log, part) != NULL);
    free(log);

    /* deleted meanwhile: gone for everyone, the owner included */
    char del[64];
    snprintf(del, sizeof del, "/api/documents/%lld", id);
    ASSERT_OK(hh_test_http(t.port, "DELETE", del, ivy, NULL, &r));
    ASSERT_EQ_INT(r.status, 200);
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(t.port, "GET", path, ivy, NULL, &r));
    ASSERT_EQ_INT(r.status, 404);
    ASSERT_STREQ(hh_test_resp_err_code(&r), "document_not_found");
    hh_test_resp_free(&r);
    ASSERT_OK(hh_test_http(t.port, "GET", path, root, NULL, &r));
    ASSERT_EQ_INT(r.status, 404);
    hh_test_resp_free(&r);
    hh_test_srv_stop(&t);
}
