/* compliance.c - the compliance functions of a running server:
 *   POST /api/gdpr/export       {"subjects":[...], "lang":"de"|"en", "format":"json"|"html"}:
 *                               hh_gdpr_export's JSON, the Art. 15 access copy
 *                               (default), or its HTML report in lang (admin)
 *   POST /api/gdpr/erase        {"subjects":[...],"confirm":true}: hh_gdpr_erase,
 *                               then the live vector index and the engine's
 *                               prefix caches forget the erased data (admin);
 *                               409 last_admin (nothing erased) when a subject
 *                               is the last enabled admin's user name
 *   GET  /api/audit/verify      the audit chain's verdict (admin, auditor)
 *   GET  /api/audit/export?from=SEQ   JSONL (admin, auditor)
 *   POST /api/retention/sweep   hh_gdpr_retention_sweep now (admin)
 *
 * Auditing: export, erase and sweep audit themselves (govern/gdpr.c); the
 * two audit routes append one "admin" record naming the caller before they
 * read the log, so reading the log is itself in it.
 *
 * The live vector index (kb/dense.h, vector id = chunk id) follows
 * erasure and sweeps: with its lock held (no upload or delete between), the
 * chunk ids of every document are noted before the library call; after it,
 * the ids of documents that are gone leave the index, and (erasure) so do
 * the ids whose stored vector was dropped (a rewritten chunk). The periodic
 * sweeper is govern/sweeper.h's. */
#include "http/http_int.h"
#include "base/log.h"
#include "govern/audit.h"
#include "govern/gdpr.h"
#include "govern/sweeper.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HT_GDPR_MAX_SUBJECTS 64
#define HT_GDPR_SUBJECT_MIN  3      /* shorter strings would match (and erase) far too much */
#define HT_GDPR_SUBJECT_MAX  512
#define HT_SWEEP_LOG_MAX     1000   /* log lines returned by the sweep route */

/* ---- small helpers -------------------------------------------------------- */

static enum MHD_Result bad_request(struct MHD_Connection *c, ht_conn_t *cs, const char *code, const char *param,
                                   const char *msg)
{
    hh_api_error_t e;
    hh_api_error_set(&e, 400, "invalid_request_error", code, param, "%s", msg);
    return ht_send_error(c, cs, &e);
}

static enum MHD_Result server_error(struct MHD_Connection *c, ht_conn_t *cs, const char *what, const hh_err_t *err)
{
    hh_api_error_t e;
    hh_api_error_set(&e, 500, "server_error", NULL, NULL, "%s: %s", what,
                     err->msg[0] ? err->msg : hh_strerror(err->code));
    return ht_send_error(c, cs, &e);
}

/* Parses the body's "subjects" (1..HT_GDPR_MAX_SUBJECTS strings of
 * HT_GDPR_SUBJECT_MIN..MAX bytes) into subj[] (pointers into *body_out,
 * which the caller deletes). 0, or 400 with msg set. */
static int parse_subjects(const ht_conn_t *cs, cJSON **body_out, const char **subj, size_t *n, const char **msg)
{
    *n = 0;
    *body_out = cs->body ? cJSON_ParseWithLength(cs->body, cs->len) : NULL;
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(*body_out, "subjects");
    if (!cJSON_IsObject(*body_out)) {
        *msg = "The body must be a JSON object";
        return 400;
    }
    int count = cJSON_GetArraySize(arr);
    if (!cJSON_IsArray(arr) || count < 1 || count > HT_GDPR_MAX_SUBJECTS) {
        *msg = "'subjects' must be an array of 1 to 64 strings (e-mail addresses, names, user names)";
        return 400;
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, arr) {
        size_t len = cJSON_IsString(it) ? strlen(it->valuestring) : 0;
        if (len < HT_GDPR_SUBJECT_MIN || len > HT_GDPR_SUBJECT_MAX) {
            *msg = "every subject must be a string of 3 to 512 bytes";
            return 400;
        }
        subj[(*n)++] = it->valuestring;
    }
    return 0;
}

/* The subjects of an export or erasure request (admins only: the route
 * table): the parsed body (caller deletes it) with subj[0..n) pointing
 * into it, or NULL after the 400 answer was queued (*resp: its result). */
static cJSON *subjects_request(struct MHD_Connection *c, ht_conn_t *cs, const char **subj, size_t *n,
                               enum MHD_Result *resp)
{
    const char *msg = NULL;
    cJSON *body = NULL;
    if (parse_subjects(cs, &body, subj, n, &msg)) {
        cJSON_Delete(body);
        *resp = bad_request(c, cs, "invalid_subjects", "subjects", msg);
        return NULL;
    }
    return body;
}

/* ---- retention sweep --------------------------------------------------------- */

/* One sweep (govern/sweeper.h) with its log lines, up to HT_SWEEP_LOG_MAX,
 * into lines. */
static int run_sweep(hh_http_server_t *s, hh_gdpr_sweep_result_t *res, size_t *removed, cJSON *lines, hh_err_t *err)
{
    char *text = NULL;
    hh_gdpr_sweep_params_t sp = hh_gdpr_sweep_default_params();
    sp.conversation_retention_days = s->params.conversation_retention_days;
    int rc = hh_retention_sweep_live(s->store, s->kb, &sp, res, removed, &text, err);
    int n_lines = 0;
    for (char *line = text; line && *line && n_lines++ < HT_SWEEP_LOG_MAX;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        cJSON_AddItemToArray(lines, cJSON_CreateString(line));
        line = nl ? nl + 1 : NULL;
    }
    free(text);
    return rc;
}

enum MHD_Result ht_handle_retention_sweep(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url)
{
    cJSON *j = cJSON_CreateObject();
    cJSON *lines = cJSON_CreateArray();
    if (!j || !lines) {
        cJSON_Delete(j);
        cJSON_Delete(lines);
        return MHD_NO;
    }
    hh_gdpr_sweep_result_t r = { 0 };
    size_t removed = 0;
    hh_err_t err;
    hh_err_clear(&err);
    int rc = run_sweep(s, &r, &removed, lines, &err);
    if (rc) {
        cJSON_Delete(j);
        cJSON_Delete(lines);
        return server_error(c, cs, "retention sweep failed", &err);
    }
    /* the sweep's own "retention" records say what went; this one who asked */
    ht_audit_action(s, cs, "done", "retention sweep (HTTP): %lld documents, %lld audit records, %lld audit texts, "
                    "%lld approvals, %lld conversations", (long long)r.documents, (long long)r.audit_records,
                    (long long)r.audit_texts, (long long)r.approvals, (long long)r.conversations);
    cJSON_AddNumberToObject(j, "documents", (double)r.documents);
    cJSON_AddNumberToObject(j, "audit_records", (double)r.audit_records);
    cJSON_AddNumberToObject(j, "audit_texts", (double)r.audit_texts);
    cJSON_AddNumberToObject(j, "approvals", (double)r.approvals);
    cJSON_AddNumberToObject(j, "usage_rows", (double)r.usage_rows);
    cJSON_AddNumberToObject(j, "conversations", (double)r.conversations);
    cJSON_AddNumberToObject(j, "memories", (double)r.memories);
    cJSON_AddNumberToObject(j, "index_vectors_removed", (double)removed);
    cJSON_AddItemToObject(j, "log", lines);
    return ht_send_json(c, cs, 200, j);
}

/* ---- data-subject rights --------------------------------------------------- */

/* The access copy's HTML report as an attachment that runs nothing: a
 * sandbox CSP that allows its inline style only. */
static enum MHD_Result send_report(struct MHD_Connection *c, ht_conn_t *cs, char *html, size_t len)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, html, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(html);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/html; charset=utf-8");
    MHD_add_response_header(r, "Content-Disposition", "attachment; filename=\"access-copy.html\"");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Content-Security-Policy", "sandbox; default-src 'none'; style-src 'unsafe-inline'");
    return ht_queue(c, cs, 200, r, len);
}

enum MHD_Result ht_handle_gdpr_export(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url)
{
    const char *subj[HT_GDPR_MAX_SUBJECTS];
    size_t n = 0;
    enum MHD_Result resp = MHD_NO;
    cJSON *body = subjects_request(c, cs, subj, &n, &resp);
    if (!body)
        return resp;
    /* "format": "json" (default) | "html"; "lang": "de" (default) | "en" */
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(body, "format");
    const cJSON *lang = cJSON_GetObjectItemCaseSensitive(body, "lang");
    bool html = cJSON_IsString(fmt) && !strcmp(fmt->valuestring, "html");
    if (fmt && !html && !(cJSON_IsString(fmt) && !strcmp(fmt->valuestring, "json"))) {
        cJSON_Delete(body);
        return bad_request(c, cs, "invalid_format", "format", "'format' must be \"json\" or \"html\"");
    }
    if (lang && !(cJSON_IsString(lang) && hh_gdpr_lang_ok(lang->valuestring))) {
        cJSON_Delete(body);
        return bad_request(c, cs, "invalid_lang", "lang", "'lang' must be \"de\" or \"en\"");
    }
    cJSON *out = NULL;
    hh_err_t err;
    hh_err_clear(&err);
    int rc = hh_gdpr_export(s->store, subj, n, cs->key.user, &out, &err);   /* audited there */
    char *report = NULL;
    size_t len = 0;
    if (!rc && html)
        rc = hh_gdpr_access_html(out, lang ? lang->valuestring : "de", &report, &len, &err);
    cJSON_Delete(body);
    if (rc) {
        cJSON_Delete(out);
        return server_error(c, cs, "export failed", &err);
    }
    if (html) {
        cJSON_Delete(out);
        return send_report(c, cs, report, len);
    }
    return ht_send_json(c, cs, 200, out);
}

enum MHD_Result ht_handle_gdpr_erase(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url)
{
    const char *subj[HT_GDPR_MAX_SUBJECTS];
    size_t n = 0;
    enum MHD_Result resp = MHD_NO;
    cJSON *body = subjects_request(c, cs, subj, &n, &resp);
    if (!body)
        return resp;
    if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(body, "confirm"))) {
        cJSON_Delete(body);
        return bad_request(c, cs, "confirm_required", "confirm",
                           "Erasure cannot be undone: send \"confirm\": true to erase these subjects");
    }
    hh_gdpr_erase_result_t r = { 0 };
    hh_err_t err;
    hh_err_clear(&err);
    hh_kb_dense_snap_t sn;
    size_t removed = 0;
    hh_kb_dense_lock(s->kb);
    int rc = hh_kb_dense_snap_take(s->kb, &sn, &err);
    if (rc == 0) {
        rc = hh_gdpr_erase(s->store, subj, n, cs->key.user, &r, &err);   /* audited there */
        /* also after a failure: whatever was erased must not stay findable */
        removed = hh_kb_dense_snap_apply(s->kb, &sn, true);
        hh_kb_dense_snap_free(&sn);
    }
    hh_kb_dense_unlock(s->kb);
    cJSON_Delete(body);
    /* The prefix caches may hold any earlier prompt (and so the subject's
     * data): drop them all, whatever the erasure found. */
    hh_err_t e2;
    hh_err_clear(&e2);
    bool dropped = hh_engine_drop_caches(s->engine, &e2) == 0;
    if (!dropped)
        HH_LOGW("gdpr: %s", e2.msg);
    if (rc == HH_ESTATE) {   /* the subjects name the last enabled admin: nothing was erased */
        hh_api_error_t e;
        hh_api_error_set(&e, 409, "invalid_request_error", "last_admin", "subjects", "%s", err.msg);
        return ht_send_error(c, cs, &e);
    }
    if (rc)
        return server_error(c, cs, "erasure failed", &err);
    HH_LOGI("gdpr: %s erased %zu subject(s): %" PRId64 " chunk rewrites, %zu vectors left the live index", cs->key.user,
            n, r.chunks, removed);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddBoolToObject(j, "erased", true);
    cJSON_AddNumberToObject(j, "subjects", (double)n);
    cJSON_AddNumberToObject(j, "chunks", (double)r.chunks);
    cJSON_AddNumberToObject(j, "vectors", (double)r.vectors);
    cJSON_AddNumberToObject(j, "documents", (double)r.documents);
    cJSON_AddNumberToObject(j, "files", (double)r.files);
    cJSON_AddNumberToObject(j, "users", (double)r.users);
    cJSON_AddNumberToObject(j, "audit_texts", (double)r.audit_texts);
    cJSON_AddNumberToObject(j, "audit_kept", (double)r.audit_kept);
    cJSON_AddNumberToObject(j, "approvals", (double)r.approvals);
    cJSON_AddNumberToObject(j, "usage_rows", (double)r.usage_rows);
    cJSON_AddNumberToObject(j, "conversations", (double)r.conversations);
    cJSON_AddNumberToObject(j, "conversation_texts", (double)r.conversation_texts);
    cJSON_AddNumberToObject(j, "memories", (double)r.memories);
    cJSON_AddNumberToObject(j, "index_vectors_removed", (double)removed);
    cJSON_AddBoolToObject(j, "caches_dropped", dropped);
    return ht_send_json(c, cs, 200, j);
}

/* ---- the audit log --------------------------------------------------------- */

/* Appends the "admin" record of an audit-log read by the caller. */
static int audit_access(hh_http_server_t *s, const ht_conn_t *cs, const char *detail, hh_err_t *err)
{
    hh_audit_entry_t e = { .kind = "admin", .user = cs->key.user, .decision = "done", .detail = detail,
                           .request_id = cs->log.request_id[0] ? cs->log.request_id : NULL };
    return hh_audit_append(s->store, NULL, &e, NULL, err);
}

enum MHD_Result ht_handle_audit_verify(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url)
{
    hh_err_t err;
    hh_err_clear(&err);
    if (audit_access(s, cs, "audit verify (HTTP)", &err) != 0)
        return server_error(c, cs, "cannot audit the access", &err);
    hh_audit_verify_result_t r;
    memset(&r, 0, sizeof r);
    if (hh_audit_verify_store(s->store, NULL, &r, &err) != 0)
        return server_error(c, cs, "cannot read the audit log", &err);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddBoolToObject(j, "ok", r.ok);
    cJSON_AddNumberToObject(j, "records", (double)r.n_records);
    cJSON_AddNumberToObject(j, "checkpoints", (double)r.n_checkpoints);
    cJSON_AddNumberToObject(j, "first_seq", (double)r.first_seq);
    cJSON_AddNumberToObject(j, "last_seq", (double)r.last_seq);
    cJSON_AddBoolToObject(j, "anchored", r.anchored);
    if (r.ok) {
        cJSON_AddNullToObject(j, "bad_seq");
        cJSON_AddNullToObject(j, "why");
    } else {
        cJSON_AddNumberToObject(j, "bad_seq", (double)r.bad_seq);
        cJSON_AddStringToObject(j, "why", r.why);
    }
    return ht_send_json(c, cs, 200, j);
}

/* The export goes to an unlinked temp file in DATA/tmp and is sent from
 * there, so memory stays bounded whatever the log's size. */
enum MHD_Result ht_handle_audit_export(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url)
{
    int64_t from = 1;
    const char *fs = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "from");
    if (fs) {
        char *end = NULL;
        errno = 0;
        long long v = strtoll(fs, &end, 10);
        if (errno || end == fs || *end || v < 1)
            return bad_request(c, cs, "invalid_from", "from", "'from' must be a record number >= 1");
        from = v;
    }
    char detail[96];
    snprintf(detail, sizeof detail, "audit export from seq %" PRId64 " (HTTP)", from);
    hh_err_t err;
    hh_err_clear(&err);
    if (audit_access(s, cs, detail, &err) != 0)
        return server_error(c, cs, "cannot audit the access", &err);
    char path[4096];
    snprintf(path, sizeof path, "%s/tmp", hh_store_data_dir(s->store));
    mkdir(path, 0700);
    int n = snprintf(path, sizeof path, "%s/tmp/audit-XXXXXX", hh_store_data_dir(s->store));
    int fd = n > 0 && (size_t)n < sizeof path ? mkstemp(path) : -1;
    if (fd < 0) {
        hh_err_set(&err, HH_EIO, -1, "cannot create a temporary file: %s", strerror(errno));
        return server_error(c, cs, "audit export failed", &err);
    }
    unlink(path);   /* the open descriptor keeps it until the response is sent */
    int wfd = dup(fd);
    FILE *f = wfd >= 0 ? fdopen(wfd, "w") : NULL;
    if (!f) {
        if (wfd >= 0)
            close(wfd);
        close(fd);
        hh_err_set(&err, HH_EIO, -1, "cannot open the temporary file");
        return server_error(c, cs, "audit export failed", &err);
    }
    int rc = hh_audit_export(s->store, from, f, &err);
    if (fclose(f) != 0 && rc == 0)
        rc = hh_err_set(&err, HH_EIO, -1, "cannot write the temporary file: %s", strerror(errno));
    struct stat sb;
    if (rc == 0 && fstat(fd, &sb) != 0)
        rc = hh_err_set(&err, HH_EIO, -1, "cannot stat the temporary file");
    if (rc) {
        close(fd);
        if (rc == HH_EINVAL)
            return bad_request(c, cs, "invalid_from", "from", err.msg);
        return server_error(c, cs, "audit export failed", &err);
    }
    struct MHD_Response *r = MHD_create_response_from_fd_at_offset64((uint64_t)sb.st_size, fd, 0);
    if (!r) {
        close(fd);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/x-ndjson");
    MHD_add_response_header(r, "Content-Disposition", "attachment; filename=\"audit.jsonl\"");
    return ht_queue(c, cs, 200, r, (uint64_t)sb.st_size);   /* MHD closes fd once sent */
}
