/* admin.c - the administration API the web UI's admin screens use (what
 * `hoheit users|keys|departments|collections|quota` do on the command line):
 *
 *   /api/admin/users[/{name}[/keys|/password]]   users, their keys, passwords
 *   /api/admin/keys/{id}                         revoke any key
 *   /api/admin/departments[/{name}]              departments
 *   /api/admin/models                            model files, loaded, memory
 *   /api/admin/quotas[/users|departments/{name}] quotas and their usage today and this month
 *   /api/me/keys[/{id}], /api/me/password        everyone's own keys and password
 *   /api/collections[/{name}[/rights/{dept}]]    collections and their rights
 *
 * Who may do what (docs/SERVER.md "Administration API"): admins change;
 * auditors read the admin lists (users, keys, departments, models: an
 * access review is their job) and change nothing; members and approvers
 * get 403 on /api/admin. A collection the caller may not read answers
 * exactly like a missing one (404 collection_not_found, same body); a
 * department holding manage on a collection may set and remove the rights
 * on it, but not take away its last manage right.
 *
 * Bodies are JSON objects; a field this API does not know is refused (400
 * unknown_field naming it) rather than ignored, so a misspelt
 * "departements" cannot silently change nothing. Names (users, departments,
 * collections) are 1..127 bytes, as the CLI's; the API also refuses control
 * characters, '/' (no URL path segment could address it) and ',' (lists
 * join names with it) in the names it creates. Every
 * change, and every refused attempt at one, is an "admin" audit record
 * (admin_audit below). Every answer is Cache-Control: no-store (a new key
 * is in one). */
#include "http/http_int.h"
#include "base/log.h"
#include "govern/audit.h"
#include "kernels/quant.h"

#include <errno.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ADMIN_MAX_BODY   HT_ADMIN_BODY_MAX   /* bytes of a JSON body (http_int.h; the route table too) */
#define ADMIN_MAX_DEPTS  64            /* departments named in one body */
#define ME_MAX_KEYS      20            /* active keys a user may make for themselves */
#define SEG_MAX          HH_STORE_NAME_MAX

/* ---- answers -------------------------------------------------------------- */

static enum MHD_Result reply(struct MHD_Connection *c, ht_conn_t *cs, int status, cJSON *j)
{
    char *text = j ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    if (!text)
        return MHD_NO;
    size_t len = strlen(text);
    struct MHD_Response *r = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    return ht_queue(c, cs, status, r, len);
}

static enum MHD_Result fail(struct MHD_Connection *c, ht_conn_t *cs, int status, const char *code, const char *param,
                            const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static enum MHD_Result fail(struct MHD_Connection *c, ht_conn_t *cs, int status, const char *code, const char *param,
                            const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    hh_api_error_t e;
    hh_api_error_set(&e, status, status >= 500 ? "server_error" : "invalid_request_error", code, param, "%s", msg);
    return ht_send_error(c, cs, &e);
}

/* A store error that is not the caller's fault. */
static enum MHD_Result store_fail(struct MHD_Connection *c, ht_conn_t *cs, const hh_err_t *err)
{
    return fail(c, cs, 500, "store_error", NULL, "%s", err->msg[0] ? err->msg : "store failure");
}

/* Every change and every refused attempt is an "admin" audit record
 * (audit_http.c; a record that cannot be written is logged and counted). */
#define admin_audit(s, cs, done, ...) ((void)ht_audit_action((s), (cs), (done) ? "done" : "refused", __VA_ARGS__))

/* ---- who may ------------------------------------------------------------ */

static bool is_admin(const ht_conn_t *cs)
{
    return !strcmp(cs->key.role, "admin");
}

static const char *method_of(const ht_conn_t *cs)
{
    return !strcmp(cs->log.method, "HEAD") ? "GET" : cs->log.method;
}

/* 403 for a caller who may not use this admin route: reading needs admin or
 * auditor, changing needs admin. A refused change is audited. */
static enum MHD_Result forbid_admin(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url)
{
    bool write = strcmp(method_of(cs), "GET") != 0;
    if (write)
        admin_audit(s, cs, false, "%s %s (role %s)", cs->log.method, url, cs->key.role);
    return fail(c, cs, 403, "forbidden", NULL, "%s", write ? "Only admins may change this" :
                                                          "Only admins and auditors may read this");
}

static bool may_admin(const ht_conn_t *cs)
{
    if (is_admin(cs))
        return true;
    return !strcmp(cs->key.role, "auditor") && !strcmp(method_of(cs), "GET");
}

/* ---- input -------------------------------------------------------------- */

/* A name this API accepts: 1..127 bytes, no control character, no '/'
 * (a path segment could not address it), no ',' (the store's lists join
 * names with it, so a name with one would read as two). */
static bool name_ok(const char *n)
{
    size_t len = n ? strlen(n) : 0;
    if (len == 0 || len >= HH_STORE_NAME_MAX)
        return false;
    for (const unsigned char *p = (const unsigned char *)n; *p; p++)
        if (*p < 0x20 || *p == 0x7f || *p == '/' || *p == ',')
            return false;
    return true;
}

static const char NAME_RULE[] = "1..127 bytes, no control characters, no '/' or ','";

/* The segments of url below prefix ("/api/admin/users/"), split at '/':
 * up to max of them into seg (each SEG_MAX bytes); returns how many there
 * are, or -1 when one is empty or too long (no stored name can match it). */
static int segments(const char *url, const char *prefix, char seg[][SEG_MAX], int max)
{
    const char *p = url + strlen(prefix);
    int n = 0;
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (len == 0 || len >= SEG_MAX || n == max)
            return -1;
        memcpy(seg[n], p, len);
        seg[n][len] = '\0';
        n++;
        if (!slash)
            return n;
        p = slash + 1;
    }
}

/* The request's JSON object body into *out (caller deletes it). An empty
 * body is {} when may_be_empty. Fields not in allowed (NULL-terminated)
 * are refused. 0, or an HTTP status with the error already queued in *res. */
static int body_object(struct MHD_Connection *c, ht_conn_t *cs, bool may_be_empty, const char *const *allowed,
                       cJSON **out, enum MHD_Result *res)
{
    *out = NULL;
    if (cs->len > ADMIN_MAX_BODY) {
        *res = fail(c, cs, 413, "request_too_large", NULL, "The request body is larger than %d bytes",
                    ADMIN_MAX_BODY);
        return 413;
    }
    cJSON *j = cs->len ? cJSON_ParseWithLength(cs->body, cs->len) : (may_be_empty ? cJSON_CreateObject() : NULL);
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        *res = fail(c, cs, 400, "invalid_body", NULL, "The body must be a JSON object");
        return 400;
    }
    for (const cJSON *f = j->child; f; f = f->next) {
        bool known = false;
        for (size_t i = 0; allowed[i] && !known; i++)
            known = f->string && !strcmp(f->string, allowed[i]);
        if (!known) {
            *res = fail(c, cs, 400, "unknown_field", f->string, "Unknown field '%.100s'", f->string ? f->string : "");
            cJSON_Delete(j);
            return 400;
        }
    }
    *out = j;
    return 0;
}

/* The string member k of o: NULL when absent; *bad when present but not a string. */
static const char *opt_string(const cJSON *o, const char *k, bool *bad)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!v)
        return NULL;
    if (!cJSON_IsString(v)) {
        *bad = true;
        return NULL;
    }
    return v->valuestring;
}

/* A "departments" array of existing department names into names (their
 * stored spelling, n_max entries of HH_STORE_NAME_MAX). 0, or the error
 * queued in *res. */
static int dept_names(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const cJSON *arr,
                      char (*names)[HH_STORE_NAME_MAX], size_t *n, enum MHD_Result *res)
{
    *n = 0;
    if (!cJSON_IsArray(arr)) {
        *res = fail(c, cs, 400, "invalid_field", "departments", "departments must be an array of department names");
        return 400;
    }
    const cJSON *v;
    cJSON_ArrayForEach(v, arr) {
        if (*n == ADMIN_MAX_DEPTS) {
            *res = fail(c, cs, 400, "invalid_field", "departments", "at most %d departments", ADMIN_MAX_DEPTS);
            return 400;
        }
        if (!cJSON_IsString(v) || !name_ok(v->valuestring)) {
            *res = fail(c, cs, 400, "invalid_field", "departments", "a department name must be %s", NAME_RULE);
            return 400;
        }
        hh_store_department_t d;
        hh_err_t err;
        int rc = hh_store_department_get(s->store, v->valuestring, &d, &err);
        if (rc == HH_ENOENT) {
            *res = fail(c, cs, 400, "unknown_department", "departments",
                        "No department '%s' (create it with POST /api/admin/departments)", v->valuestring);
            return 400;
        }
        if (rc) {
            *res = store_fail(c, cs, &err);
            return 500;
        }
        snprintf(names[(*n)++], HH_STORE_NAME_MAX, "%s", d.name);
    }
    return 0;
}

/* A comma-joined list as a JSON array of strings. */
static cJSON *csv_array(const char *csv)
{
    cJSON *a = cJSON_CreateArray();
    for (const char *p = csv; a && *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char *item = strndup(p, len);
        if (item)
            cJSON_AddItemToArray(a, cJSON_CreateString(item));
        free(item);
        p = comma ? comma + 1 : p + len;
    }
    return a;
}

/* Unix seconds, or null for 0 (never / unknown). */
static void add_time(cJSON *o, const char *k, int64_t t)
{
    if (t > 0)
        cJSON_AddNumberToObject(o, k, (double)t);
    else
        cJSON_AddNullToObject(o, k);
}

/* ---- users ---------------------------------------------------------------- */

static cJSON *user_json(hh_http_server_t *s, const hh_store_user_info_t *u)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", u->user.name);
    cJSON_AddStringToObject(o, "role", u->user.role);
    cJSON_AddItemToObject(o, "departments", csv_array(u->departments));
    cJSON_AddBoolToObject(o, "disabled", u->user.disabled);
    cJSON_AddBoolToObject(o, "has_password", u->has_password);
    add_time(o, "created_at", u->user.created_at);
    int64_t login_ms = 0, key_use = 0;
    hh_store_user_last_seen(s->store, u->user.id, &login_ms, &key_use, NULL);
    add_time(o, "last_login", login_ms / 1000);
    add_time(o, "last_key_use", key_use);
    return o;
}

static cJSON *key_json(const hh_store_key_t *k)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "id", (double)k->id);
    cJSON_AddStringToObject(o, "prefix", k->prefix);
    cJSON_AddStringToObject(o, "user", k->user);
    add_time(o, "created_at", k->created_at);
    add_time(o, "last_used_at", k->last_used_at);
    add_time(o, "revoked_at", k->revoked_at);
    cJSON_AddBoolToObject(o, "active", k->revoked_at == 0);
    return o;
}

/* The user `name` as the list shows it: 0, 404 queued, or 500 queued. */
static int find_user(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *name,
                     hh_store_user_info_t *out, enum MHD_Result *res)
{
    hh_store_user_t u;
    hh_err_t err;
    hh_err_clear(&err);
    int rc = hh_store_user_get(s->store, name, &u, &err);
    if (rc == 0)
        rc = hh_store_user_info(s->store, u.id, out, &err);
    if (rc == HH_ENOENT) {
        *res = fail(c, cs, 404, "user_not_found", NULL, "No user '%s'", name);
        return 404;
    }
    if (rc) {
        *res = store_fail(c, cs, &err);
        return 500;
    }
    return 0;
}

static enum MHD_Result users_list(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs)
{
    hh_store_user_info_t *u = NULL;
    size_t n = 0;
    hh_err_t err;
    hh_err_clear(&err);
    if (hh_store_user_list(s->store, &u, &n, &err))
        return store_fail(c, cs, &err);
    cJSON *j = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(j, "data");
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(arr, user_json(s, &u[i]));
    free(u);
    return reply(c, cs, 200, j);
}

static enum MHD_Result users_create(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs)
{
    static const char *const fields[] = { "name", "role", "departments", "password", NULL };
    cJSON *b = NULL;
    enum MHD_Result res;
    if (body_object(c, cs, false, fields, &b, &res))
        return res;
    bool bad = false;
    const char *name = opt_string(b, "name", &bad), *role = NULL, *pw = NULL;
    char depts[ADMIN_MAX_DEPTS][HH_STORE_NAME_MAX];
    size_t nd = 0;
    if (bad || !name_ok(name)) {
        res = fail(c, cs, 400, "invalid_field", "name", "name must be %s", NAME_RULE);
        goto out;
    }
    role = opt_string(b, "role", &bad);
    if (bad || !hh_store_role_valid(role)) {
        res = fail(c, cs, 400, "invalid_field", "role", "role must be one of admin, member, auditor, approver");
        goto out;
    }
    const cJSON *jd = cJSON_GetObjectItemCaseSensitive(b, "departments");
    if (jd && dept_names(s, c, cs, jd, depts, &nd, &res))
        goto out;
    pw = opt_string(b, "password", &bad);
    if (bad || (pw && (strlen(pw) < HH_PASSWORD_MIN_LEN || strlen(pw) > HH_PASSWORD_MAX_LEN))) {
        res = fail(c, cs, 400, "invalid_field", "password", "password must be a string of %d..%d bytes",
                   HH_PASSWORD_MIN_LEN, HH_PASSWORD_MAX_LEN);
        goto out;
    }
    hh_err_t err;
    hh_err_clear(&err);
    hh_store_user_t u;
    bool created = false;
    int rc = hh_store_user_ensure(s->store, name, role, &u, &created, &err);
    if (rc == 0 && !created) {
        res = fail(c, cs, 409, "user_exists", "name", "A user '%s' exists", name);
        goto out;
    }
    if (rc == HH_EINVAL) {   /* exists with another role */
        res = fail(c, cs, 409, "user_exists", "name", "A user '%s' exists", name);
        goto out;
    }
    if (rc) {
        res = store_fail(c, cs, &err);
        goto out;
    }
    const char *dp[ADMIN_MAX_DEPTS];
    for (size_t i = 0; i < nd; i++)
        dp[i] = depts[i];
    if ((nd && (rc = hh_store_user_set_departments(s->store, name, dp, nd, &err))) ||
        (pw && (rc = hh_store_user_set_password(s->store, name, pw, &err)))) {
        /* Nothing was checked late that could fail here but the store
         * itself: take the half-made user away again. */
        hh_err_t derr;
        hh_store_user_delete(s->store, name, NULL, &derr);
        res = store_fail(c, cs, &err);
        goto out;
    }
    hh_store_user_info_t info;
    if (hh_store_user_info(s->store, u.id, &info, &err)) {
        res = store_fail(c, cs, &err);
        goto out;
    }
    admin_audit(s, cs, true, "users create %s (%s) departments [%s] password %s", info.user.name, info.user.role,
                info.departments, pw ? "set" : "none");
    res = reply(c, cs, 201, user_json(s, &info));
out:
    cJSON_Delete(b);
    return res;
}

static enum MHD_Result users_patch(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *name)
{
    static const char *const fields[] = { "role", "departments", "disabled", NULL };
    hh_store_user_info_t info;
    enum MHD_Result res;
    if (find_user(s, c, cs, name, &info, &res))
        return res;
    cJSON *b = NULL;
    if (body_object(c, cs, false, fields, &b, &res))
        return res;
    bool bad = false;
    const char *role = opt_string(b, "role", &bad);
    const cJSON *jd = cJSON_GetObjectItemCaseSensitive(b, "departments");
    const cJSON *jdis = cJSON_GetObjectItemCaseSensitive(b, "disabled");
    char depts[ADMIN_MAX_DEPTS][HH_STORE_NAME_MAX];
    size_t nd = 0;
    hh_err_t err;
    hh_err_clear(&err);
    int rc = 0;
    if (!role && !jd && !jdis) {
        res = fail(c, cs, 400, "invalid_body", NULL, "Name at least one of role, departments, disabled");
        goto out;
    }
    if (bad || (role && !hh_store_role_valid(role))) {
        res = fail(c, cs, 400, "invalid_field", "role", "role must be one of admin, member, auditor, approver");
        goto out;
    }
    if (jdis && !cJSON_IsBool(jdis)) {
        res = fail(c, cs, 400, "invalid_field", "disabled", "disabled must be true or false");
        goto out;
    }
    if (jd && dept_names(s, c, cs, jd, depts, &nd, &res))
        goto out;
    /* Everything is checked; the changes go in one at a time. The role and
     * the disabled flag carry the last-admin guard. */
    if (role && strcmp(role, info.user.role) != 0) {
        char was[16] = "";
        if ((rc = hh_store_user_set_role(s->store, name, role, was, &err)))
            goto store_err;
        admin_audit(s, cs, true, "users role %s: %s -> %s", name, was, role);
    }
    if (jdis && cJSON_IsTrue(jdis) != info.user.disabled) {
        if ((rc = hh_store_user_set_disabled(s->store, name, cJSON_IsTrue(jdis), &err)))
            goto store_err;
        admin_audit(s, cs, true, "users %s %s", cJSON_IsTrue(jdis) ? "disable" : "enable", name);
    }
    if (jd) {
        const char *dp[ADMIN_MAX_DEPTS];
        for (size_t i = 0; i < nd; i++)
            dp[i] = depts[i];
        if ((rc = hh_store_user_set_departments(s->store, name, dp, nd, &err)))
            goto store_err;
        hh_store_user_info_t now;
        if (hh_store_user_info(s->store, info.user.id, &now, &err) == 0 && strcmp(now.departments, info.departments))
            admin_audit(s, cs, true, "users departments %s: [%s] -> [%s]", name, info.departments, now.departments);
    }
    if (hh_store_user_info(s->store, info.user.id, &info, &err)) {
        res = store_fail(c, cs, &err);
        goto out;
    }
    res = reply(c, cs, 200, user_json(s, &info));
    goto out;
store_err:
    if (rc == HH_ESTATE) {
        admin_audit(s, cs, false, "users change %s: last enabled admin", name);
        res = fail(c, cs, 409, "last_admin", NULL, "%s", err.msg);
    } else {
        res = store_fail(c, cs, &err);
    }
out:
    cJSON_Delete(b);
    return res;
}

static enum MHD_Result users_delete(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *name)
{
    hh_store_user_info_t info;
    enum MHD_Result res;
    if (find_user(s, c, cs, name, &info, &res))
        return res;
    hh_store_user_removal_t r;
    hh_err_t err;
    hh_err_clear(&err);
    int rc = hh_store_user_delete(s->store, name, &r, &err);
    if (rc == HH_ESTATE) {
        admin_audit(s, cs, false, "users delete %s: last enabled admin", name);
        return fail(c, cs, 409, "last_admin", NULL, "%s", err.msg);
    }
    if (rc == HH_ENOENT)
        return fail(c, cs, 404, "user_not_found", NULL, "No user '%s'", name);
    if (rc)
        return store_fail(c, cs, &err);
    admin_audit(s, cs, true, "users delete %s (%s): %lld keys, %lld sessions, %lld memberships removed", name,
                info.user.role, (long long)r.keys, (long long)r.sessions, (long long)r.departments);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "deleted", name);
    cJSON_AddStringToObject(j, "role", info.user.role);
    cJSON *rm = cJSON_AddObjectToObject(j, "removed");
    cJSON_AddNumberToObject(rm, "api_keys", (double)r.keys);
    cJSON_AddNumberToObject(rm, "sessions", (double)r.sessions);
    cJSON_AddNumberToObject(rm, "department_memberships", (double)r.departments);
    cJSON *kept = cJSON_AddObjectToObject(j, "kept");
    cJSON_AddNumberToObject(kept, "documents", (double)r.documents);
    cJSON_AddNumberToObject(kept, "approvals", (double)r.approvals);
    cJSON_AddStringToObject(kept, "audit_records",
                            "kept with the name; POST /api/gdpr/erase pseudonymizes it");
    return reply(c, cs, 200, j);
}

static enum MHD_Result keys_list_of(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, int64_t user_id)
{
    hh_store_key_t *k = NULL;
    size_t n = 0;
    hh_err_t err;
    hh_err_clear(&err);
    if (hh_store_key_list_user(s->store, user_id, &k, &n, &err))
        return store_fail(c, cs, &err);
    cJSON *j = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(j, "data");
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(arr, key_json(&k[i]));
    free(k);
    return reply(c, cs, 200, j);
}

/* A new key for user_id: 201 with the key text, the only time it is shown. */
static enum MHD_Result key_create_for(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, int64_t user_id,
                                      const char *user, bool own)
{
    char key[HH_KEY_LEN + 1];
    hh_store_key_t info;
    hh_err_t err;
    hh_err_clear(&err);
    if (hh_store_key_create(s->store, user_id, key, sizeof key, &info, &err))
        return store_fail(c, cs, &err);
    admin_audit(s, cs, true, "keys create %lld (%s) for %s%s", (long long)info.id, info.prefix, user,
                own ? " (own)" : "");
    cJSON *j = key_json(&info);
    cJSON_AddStringToObject(j, "key", key);
    cJSON_AddStringToObject(j, "note", "The key is shown only now; store it safely");
    enum MHD_Result res = reply(c, cs, 201, j);
    sodium_memzero(key, sizeof key);
    return res;
}

static enum MHD_Result users_password(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs,
                                      const char *name)
{
    static const char *const fields[] = { "password", NULL };
    hh_store_user_info_t info;
    enum MHD_Result res;
    if (find_user(s, c, cs, name, &info, &res))
        return res;
    cJSON *b = NULL;
    if (body_object(c, cs, false, fields, &b, &res))
        return res;
    bool bad = false;
    const char *pw = opt_string(b, "password", &bad);
    if (bad || !pw || strlen(pw) < HH_PASSWORD_MIN_LEN || strlen(pw) > HH_PASSWORD_MAX_LEN) {
        res = fail(c, cs, 400, "invalid_field", "password", "password must be a string of %d..%d bytes",
                   HH_PASSWORD_MIN_LEN, HH_PASSWORD_MAX_LEN);
        goto out;
    }
    hh_err_t err;
    hh_err_clear(&err);
    if (hh_store_user_set_password(s->store, name, pw, &err)) {
        res = store_fail(c, cs, &err);
        goto out;
    }
    admin_audit(s, cs, true, "users passwd %s (reset by an admin; their sessions ended)", name);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "user", name);
    cJSON_AddBoolToObject(j, "password_set", true);
    cJSON_AddBoolToObject(j, "sessions_ended", true);
    res = reply(c, cs, 200, j);
out:
    cJSON_Delete(b);   /* the password is not needed past here */
    return res;
}

enum MHD_Result ht_handle_admin_users(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url)
{
    if (!may_admin(cs))
        return forbid_admin(s, c, cs, url);
    const char *m = method_of(cs);
    if (!strcmp(url, "/api/admin/users"))
        return !strcmp(m, "GET") ? users_list(s, c, cs) : users_create(s, c, cs);
    char seg[2][SEG_MAX];
    int n = segments(url, "/api/admin/users/", seg, 2);
    if (n == 1 && !strcmp(m, "PATCH"))
        return users_patch(s, c, cs, seg[0]);
    if (n == 1 && !strcmp(m, "DELETE"))
        return users_delete(s, c, cs, seg[0]);
    if (n == 2 && !strcmp(seg[1], "keys")) {
        hh_store_user_info_t info;
        enum MHD_Result res;
        if (find_user(s, c, cs, seg[0], &info, &res))
            return res;
        return !strcmp(m, "GET") ? keys_list_of(s, c, cs, info.user.id)
                                 : key_create_for(s, c, cs, info.user.id, info.user.name, false);
    }
    if (n == 2 && !strcmp(seg[1], "password") && !strcmp(m, "POST"))
        return users_password(s, c, cs, seg[0]);
    if (n < 0)
        return fail(c, cs, 404, "user_not_found", NULL, "No such user");
    return fail(c, cs, 404, "not_found", NULL, "Unknown path %s", url);
}

/* A key id from a path segment: > 0, or 0 when it is none. */
static int64_t parse_id(const char *t)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(t, &end, 10);
    return (errno || end == t || *end || v <= 0) ? 0 : (int64_t)v;
}

enum MHD_Result ht_handle_admin_keys(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url)
{
    if (!is_admin(cs))
        return forbid_admin(s, c, cs, url);
    char seg[1][SEG_MAX];
    int64_t id = segments(url, "/api/admin/keys/", seg, 1) == 1 ? parse_id(seg[0]) : 0;
    hh_store_key_t k;
    hh_err_t err;
    hh_err_clear(&err);
    int rc = id ? hh_store_key_revoke_owned(s->store, id, 0, &k, &err) : HH_ENOENT;
    if (rc == HH_ENOENT)
        return fail(c, cs, 404, "key_not_found", NULL, "No active key with this id");
    if (rc)
        return store_fail(c, cs, &err);
    admin_audit(s, cs, true, "keys revoke %lld (%s of %s)", (long long)k.id, k.prefix, k.user);
    return reply(c, cs, 200, key_json(&k));
}

/* ---- own keys and password ------------------------------------------------ */

enum MHD_Result ht_handle_me_keys(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url)
{
    const char *m = method_of(cs);
    int64_t me = cs->key.user_id;
    if (!strcmp(url, "/api/me/keys") && !strcmp(m, "GET"))
        return keys_list_of(s, c, cs, me);
    if (!strcmp(url, "/api/me/keys")) {
        /* Only a password login makes keys: a leaked key must not be able
         * to mint successors that outlive its revocation. */
        if (!cs->session) {
            admin_audit(s, cs, false, "keys create (own) for %s with an API key", cs->key.user);
            return fail(c, cs, 403, "session_required", NULL,
                        "New keys are made after logging in with your password, not with a key");
        }
        hh_store_key_t *k = NULL;
        size_t n = 0, active = 0;
        hh_err_t err;
        hh_err_clear(&err);
        if (hh_store_key_list_user(s->store, me, &k, &n, &err))
            return store_fail(c, cs, &err);
        for (size_t i = 0; i < n; i++)
            active += k[i].revoked_at == 0;
        free(k);
        if (active >= ME_MAX_KEYS)
            return fail(c, cs, 409, "too_many_keys", NULL,
                        "You have %d active keys; revoke one first", ME_MAX_KEYS);
        return key_create_for(s, c, cs, me, cs->key.user, true);
    }
    char seg[1][SEG_MAX];
    int64_t id = segments(url, "/api/me/keys/", seg, 1) == 1 ? parse_id(seg[0]) : 0;
    hh_store_key_t k;
    hh_err_t err;
    hh_err_clear(&err);
    int rc = id ? hh_store_key_revoke_owned(s->store, id, me, &k, &err) : HH_ENOENT;
    if (rc == HH_ENOENT) {
        /* Another user's key answers as a missing one; the attempt is kept. */
        if (id)
            admin_audit(s, cs, false, "keys revoke %lld (own): not an active key of %s", (long long)id,
                        cs->key.user);
        return fail(c, cs, 404, "key_not_found", NULL, "No active key with this id");
    }
    if (rc)
        return store_fail(c, cs, &err);
    admin_audit(s, cs, true, "keys revoke %lld (%s, own)", (long long)k.id, k.prefix);
    return reply(c, cs, 200, key_json(&k));
}

enum MHD_Result ht_handle_me_password(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url)
{
    static const char *const fields[] = { "current_password", "new_password", NULL };
    cJSON *b = NULL;
    enum MHD_Result res;
    if (body_object(c, cs, false, fields, &b, &res))
        return res;
    bool bad = false;
    const char *cur = opt_string(b, "current_password", &bad);
    if (bad || !cur) {
        res = fail(c, cs, 400, "invalid_field", "current_password", "current_password (a string) is required");
        goto out;
    }
    const char *pw = opt_string(b, "new_password", &bad);
    if (bad || !pw || strlen(pw) < HH_PASSWORD_MIN_LEN || strlen(pw) > HH_PASSWORD_MAX_LEN) {
        res = fail(c, cs, 400, "invalid_field", "new_password", "new_password must be a string of %d..%d bytes",
                   HH_PASSWORD_MIN_LEN, HH_PASSWORD_MAX_LEN);
        goto out;
    }
    /* Checked like a login: counted against the same limits, so a stolen
     * session cannot guess the password faster than the login form can. */
    hh_api_error_t e;
    int retry = 0;
    int st = ht_auth_check_password(s, c, cs->key.user, cur, &retry, &e);
    if (st) {
        if (st == 403)
            admin_audit(s, cs, false, "users passwd %s (own): wrong current password", cs->key.user);
        cs->retry_after_s = retry;
        res = ht_send_error(c, cs, &e);
        goto out;
    }
    const char *cookie = cs->session ? MHD_lookup_connection_value(c, MHD_COOKIE_KIND, HT_SESSION_COOKIE) : NULL;
    int64_t ended = 0;
    hh_err_t err;
    hh_err_clear(&err);
    if (hh_store_user_change_password(s->store, cs->key.user_id, pw, cookie, &ended, &err)) {
        res = store_fail(c, cs, &err);
        goto out;
    }
    admin_audit(s, cs, true, "users passwd %s (own; %lld other sessions ended)", cs->key.user, (long long)ended);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddBoolToObject(j, "password_changed", true);
    cJSON_AddNumberToObject(j, "other_sessions_ended", (double)ended);
    res = reply(c, cs, 200, j);
out:
    cJSON_Delete(b);
    return res;
}

/* ---- departments ------------------------------------------------------------ */

static cJSON *dept_json(const hh_store_department_t *d)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", d->name);
    cJSON_AddNumberToObject(o, "n_members", (double)d->n_members);
    cJSON_AddNumberToObject(o, "n_collections", (double)d->n_collections);
    cJSON_AddItemToObject(o, "members", csv_array(d->members));
    cJSON_AddItemToObject(o, "collections", csv_array(d->collections));
    return o;
}

static enum MHD_Result dept_missing(struct MHD_Connection *c, ht_conn_t *cs, const char *name)
{
    return fail(c, cs, 404, "department_not_found", NULL, "No department '%s'", name);
}

enum MHD_Result ht_handle_admin_departments(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs,
                                            const char *url)
{
    if (!may_admin(cs))
        return forbid_admin(s, c, cs, url);
    const char *m = method_of(cs);
    hh_err_t err;
    hh_err_clear(&err);
    enum MHD_Result res;
    if (!strcmp(url, "/api/admin/departments") && !strcmp(m, "GET")) {
        hh_store_department_t *d = NULL;
        size_t n = 0;
        if (hh_store_department_list(s->store, &d, &n, &err))
            return store_fail(c, cs, &err);
        cJSON *j = cJSON_CreateObject();
        cJSON *arr = cJSON_AddArrayToObject(j, "data");
        for (size_t i = 0; i < n; i++)
            cJSON_AddItemToArray(arr, dept_json(&d[i]));
        free(d);
        return reply(c, cs, 200, j);
    }
    static const char *const fields[] = { "name", NULL };
    hh_store_department_t d;
    if (!strcmp(url, "/api/admin/departments")) {   /* POST: create */
        cJSON *b = NULL;
        if (body_object(c, cs, false, fields, &b, &res))
            return res;
        bool bad = false;
        const char *name = opt_string(b, "name", &bad);
        if (bad || !name_ok(name)) {
            res = fail(c, cs, 400, "invalid_field", "name", "name must be %s", NAME_RULE);
        } else if (hh_store_department_get(s->store, name, &d, &err) == 0) {
            res = fail(c, cs, 409, "department_exists", "name",
                       "A department '%s' exists (names are compared ignoring case)", d.name);
        } else if (hh_store_department_ensure(s->store, name, NULL, &err) ||
                   hh_store_department_get(s->store, name, &d, &err)) {
            res = store_fail(c, cs, &err);
        } else {
            admin_audit(s, cs, true, "departments create %s", d.name);
            res = reply(c, cs, 201, dept_json(&d));
        }
        cJSON_Delete(b);
        return res;
    }
    char seg[1][SEG_MAX];
    if (segments(url, "/api/admin/departments/", seg, 1) != 1)
        return fail(c, cs, 404, "department_not_found", NULL, "No such department");
    if (hh_store_department_get(s->store, seg[0], &d, &err))
        return dept_missing(c, cs, seg[0]);
    if (!strcmp(m, "PATCH")) {   /* rename */
        cJSON *b = NULL;
        if (body_object(c, cs, false, fields, &b, &res))
            return res;
        bool bad = false;
        const char *name = opt_string(b, "name", &bad);
        hh_store_department_t other;
        if (bad || !name_ok(name)) {
            res = fail(c, cs, 400, "invalid_field", "name", "name must be %s", NAME_RULE);
        } else if (hh_store_department_get(s->store, name, &other, &err) == 0 && other.id != d.id) {
            res = fail(c, cs, 409, "department_exists", "name",
                       "A department '%s' exists (names are compared ignoring case)", other.name);
        } else if (hh_store_department_rename(s->store, d.name, name, &err)) {
            res = err.code == HH_EINVAL ? fail(c, cs, 409, "department_exists", "name", "%s", err.msg)
                                        : store_fail(c, cs, &err);
        } else {
            admin_audit(s, cs, true, "departments rename %s %s", d.name, name);
            hh_store_department_get(s->store, name, &other, &err);
            cJSON *j = dept_json(&other);
            cJSON_AddStringToObject(j, "was", d.name);
            res = reply(c, cs, 200, j);
        }
        cJSON_Delete(b);
        return res;
    }
    /* DELETE: as `hoheit departments delete`: memberships and collection
     * rights go with it; collections left without any department are
     * readable by admins only, and named in the answer. */
    char **orphans = NULL;
    size_t n = 0;
    if (hh_store_department_delete(s->store, d.name, &orphans, &n, &err))
        return err.code == HH_ENOENT ? dept_missing(c, cs, seg[0]) : store_fail(c, cs, &err);
    admin_audit(s, cs, true, "departments delete %s: %lld memberships, %lld collections", d.name,
                (long long)d.n_members, (long long)d.n_collections);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "deleted", d.name);
    cJSON_AddNumberToObject(j, "memberships_removed", (double)d.n_members);
    cJSON_AddNumberToObject(j, "collection_rights_removed", (double)d.n_collections);
    cJSON_AddItemToObject(j, "members", csv_array(d.members));
    cJSON *arr = cJSON_AddArrayToObject(j, "orphaned_collections");
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(arr, cJSON_CreateString(orphans[i]));
    hh_store_strings_free(orphans, n);
    return reply(c, cs, 200, j);
}

/* ---- collections ------------------------------------------------------------ */

/* "NAME:right,NAME:right" as [{"department": NAME, "right": right}]. */
static cJSON *rights_array(const char *rights)
{
    cJSON *a = cJSON_CreateArray();
    cJSON *items = csv_array(rights);
    const cJSON *it;
    cJSON_ArrayForEach(it, items) {
        const char *colon = strrchr(it->valuestring, ':');
        if (!colon)
            continue;
        char *dept = strndup(it->valuestring, (size_t)(colon - it->valuestring));
        if (!dept)
            continue;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "department", dept);
        cJSON_AddStringToObject(o, "right", colon + 1);
        cJSON_AddItemToArray(a, o);
        free(dept);
    }
    cJSON_Delete(items);
    return a;
}

/* The collection and the caller's right on it; a collection the caller
 * cannot read is HH_ENOENT like a missing one. */
static int coll_for(hh_http_server_t *s, const ht_conn_t *cs, const char *name, hh_store_collection_t *out,
                    hh_right_t *right)
{
    *right = HH_RIGHT_NONE;
    if (hh_store_collection_get(s->store, name, out, NULL) != 0 ||
        hh_store_user_collection_right(s->store, cs->key.user_id, out->id, right, NULL) != 0 ||
        *right == HH_RIGHT_NONE)
        return HH_ENOENT;
    return 0;
}

static enum MHD_Result coll_missing(struct MHD_Connection *c, ht_conn_t *cs)
{
    return fail(c, cs, 404, "collection_not_found", NULL, "No such collection");
}

static cJSON *coll_json(const hh_store_collection_t *co, hh_right_t right, bool with_rights)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", co->name);
    add_time(o, "created_at", co->created_at);
    cJSON_AddNumberToObject(o, "documents", (double)co->n_documents);
    cJSON_AddStringToObject(o, "right", hh_right_name(right));
    /* Other departments' rights are for those who may change them. */
    if (with_rights)
        cJSON_AddItemToObject(o, "rights", rights_array(co->rights));
    return o;
}

static enum MHD_Result coll_list(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs)
{
    bool admin = is_admin(cs);
    hh_store_collection_t *co = NULL;
    size_t n = 0;
    hh_err_t err;
    hh_err_clear(&err);
    if (cs->key.user_id > 0 && hh_store_collection_list(s->store, admin ? 0 : cs->key.user_id, &co, &n, &err))
        return store_fail(c, cs, &err);
    cJSON *j = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(j, "data");
    for (size_t i = 0; i < n; i++) {
        hh_right_t r = HH_RIGHT_NONE;
        if (hh_store_user_collection_right(s->store, cs->key.user_id, co[i].id, &r, NULL) != 0 || r == HH_RIGHT_NONE)
            continue;
        cJSON_AddItemToArray(arr, coll_json(&co[i], r, r == HH_RIGHT_MANAGE));
    }
    free(co);
    return reply(c, cs, 200, j);
}

static enum MHD_Result coll_create(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url)
{
    if (!is_admin(cs))
        return forbid_admin(s, c, cs, url);
    static const char *const fields[] = { "name", "departments", NULL };
    cJSON *b = NULL;
    enum MHD_Result res;
    if (body_object(c, cs, false, fields, &b, &res))
        return res;
    bool bad = false;
    const char *name = opt_string(b, "name", &bad);
    const cJSON *jd = cJSON_GetObjectItemCaseSensitive(b, "departments");
    char depts[ADMIN_MAX_DEPTS][HH_STORE_NAME_MAX];
    hh_right_t rights[ADMIN_MAX_DEPTS];
    size_t nd = 0;
    hh_err_t err;
    hh_err_clear(&err);
    hh_store_collection_t co;
    if (bad || !name_ok(name)) {
        res = fail(c, cs, 400, "invalid_field", "name", "name must be %s", NAME_RULE);
        goto out;
    }
    if (jd && !cJSON_IsObject(jd)) {
        res = fail(c, cs, 400, "invalid_field", "departments",
                   "departments must be an object {\"DEPARTMENT\": \"read|write|manage\"}");
        goto out;
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, jd) {
        hh_store_department_t d;
        if (nd == ADMIN_MAX_DEPTS) {
            res = fail(c, cs, 400, "invalid_field", "departments", "at most %d departments", ADMIN_MAX_DEPTS);
            goto out;
        }
        if (!cJSON_IsString(it) || hh_right_parse(it->valuestring, &rights[nd], NULL) != 0) {
            res = fail(c, cs, 400, "invalid_field", "departments", "the right of '%.100s' must be read, write or manage",
                       it->string);
            goto out;
        }
        int rc = name_ok(it->string) ? hh_store_department_get(s->store, it->string, &d, &err) : HH_ENOENT;
        if (rc) {
            res = rc == HH_ENOENT ? fail(c, cs, 400, "unknown_department", "departments",
                                         "No department '%.100s' (create it with POST /api/admin/departments)",
                                         it->string)
                                  : store_fail(c, cs, &err);
            goto out;
        }
        snprintf(depts[nd++], HH_STORE_NAME_MAX, "%s", d.name);
    }
    if (hh_store_collection_get(s->store, name, &co, NULL) == 0) {
        res = fail(c, cs, 409, "collection_exists", "name", "A collection '%s' exists", name);
        goto out;
    }
    if (hh_store_collection_ensure(s->store, name, NULL, 0, &co, &err)) {
        res = store_fail(c, cs, &err);
        goto out;
    }
    char summary[1024] = "";
    size_t used = 0;
    for (size_t i = 0; i < nd; i++) {
        if (hh_store_collection_grant(s->store, co.name, depts[i], rights[i], NULL, &err)) {
            hh_store_collection_delete(s->store, co.id, NULL, NULL, NULL);   /* new and empty */
            res = store_fail(c, cs, &err);
            goto out;
        }
        if (used < sizeof summary)
            used += (size_t)snprintf(summary + used, sizeof summary - used, "%s%s:%s", i ? "," : "", depts[i],
                                     hh_right_name(rights[i]));
    }
    if (hh_store_collection_get(s->store, co.name, &co, &err)) {
        res = store_fail(c, cs, &err);
        goto out;
    }
    admin_audit(s, cs, true, "collections create %s [%s]", co.name, summary);
    res = reply(c, cs, 201, coll_json(&co, HH_RIGHT_MANAGE, true));
out:
    cJSON_Delete(b);
    return res;
}

static enum MHD_Result coll_delete(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *name)
{
    hh_store_collection_t co;
    hh_right_t right;
    if (coll_for(s, cs, name, &co, &right))
        return coll_missing(c, cs);
    if (right < HH_RIGHT_MANAGE) {
        admin_audit(s, cs, false, "collections delete %s: needs manage, has %s", co.name, hh_right_name(right));
        return fail(c, cs, 403, "forbidden", NULL, "You may not delete this collection (needs manage)");
    }
    /* As a document deletion (documents.c): the live vector index drops the
     * collection's chunks in the same critical section. */
    hh_err_t err;
    hh_err_clear(&err);
    hh_kb_dense_lock(s->kb);
    int64_t *old = NULL;
    size_t n_old = 0;
    if (hh_kb_dense_on(s->kb)) {
        hh_store_doc_t *docs = NULL;
        size_t nd = 0;
        if (hh_store_doc_list(s->store, 0, co.id, &docs, &nd, NULL) == 0) {
            for (size_t i = 0; i < nd; i++) {
                int64_t *ids = NULL;
                size_t n = 0;
                if (hh_kb_doc_chunk_ids(s->store, docs[i].id, &ids, &n, NULL) != 0 || n == 0) {
                    free(ids);
                    continue;
                }
                int64_t *grown = realloc(old, (n_old + n) * sizeof *grown);
                if (grown) {
                    old = grown;
                    memcpy(old + n_old, ids, n * sizeof *ids);
                    n_old += n;
                }
                free(ids);
            }
        }
        free(docs);
    }
    char **shas = NULL;
    size_t n_shas = 0;
    int rc = hh_store_collection_delete(s->store, co.id, &shas, &n_shas, &err);
    if (rc == 0)
        hh_kb_dense_update(s->kb, old, n_old, 0);
    hh_kb_dense_unlock(s->kb);
    free(old);
    if (rc) {
        hh_store_strings_free(shas, n_shas);
        return store_fail(c, cs, &err);
    }
    /* Stored originals no other document references (as hh_ingest_delete). */
    size_t removed = 0;
    for (size_t i = 0; i < n_shas; i++) {
        bool used = true;
        char path[4096];
        if (hh_store_sha_in_use(s->store, shas[i], &used, NULL) == 0 && !used &&
            hh_ingest_file_path(s->store, shas[i], path, sizeof path, NULL) == 0 && unlink(path) == 0)
            removed++;
    }
    hh_store_strings_free(shas, n_shas);
    admin_audit(s, cs, true, "collections delete %s: %lld documents", co.name, (long long)co.n_documents);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "deleted", co.name);
    cJSON_AddNumberToObject(j, "documents", (double)co.n_documents);
    cJSON_AddNumberToObject(j, "stored_files_removed", (double)removed);
    cJSON_AddItemToObject(j, "rights_removed", rights_array(co.rights));
    return reply(c, cs, 200, j);
}

static enum MHD_Result coll_right(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *name,
                                  const char *dept, bool set)
{
    hh_store_collection_t co;
    hh_right_t mine;
    if (coll_for(s, cs, name, &co, &mine))
        return coll_missing(c, cs);
    if (mine < HH_RIGHT_MANAGE) {
        admin_audit(s, cs, false, "collections %s %s %s: needs manage, has %s", set ? "grant" : "revoke", co.name,
                    dept, hh_right_name(mine));
        return fail(c, cs, 403, "forbidden", NULL, "You may not change the rights of this collection (needs manage)");
    }
    hh_right_t want = HH_RIGHT_NONE;
    enum MHD_Result res;
    if (set) {
        static const char *const fields[] = { "right", NULL };
        cJSON *b = NULL;
        if (body_object(c, cs, false, fields, &b, &res))
            return res;
        bool bad = false;
        const char *r = opt_string(b, "right", &bad);
        int prc = (bad || !r) ? HH_EINVAL : hh_right_parse(r, &want, NULL);
        cJSON_Delete(b);
        if (prc)
            return fail(c, cs, 400, "invalid_field", "right", "right must be read, write or manage");
    }
    hh_right_t before = HH_RIGHT_NONE;
    bool orphan = false;
    hh_err_t err;
    hh_err_clear(&err);
    int rc = hh_store_collection_set_right(s->store, co.name, dept, want, !is_admin(cs), &before, &orphan, &err);
    if (rc == HH_ESTATE) {
        admin_audit(s, cs, false, "collections %s %s %s: the last manage right", set ? "grant" : "revoke", co.name,
                    dept);
        return fail(c, cs, 409, "last_manager", NULL, "%s", err.msg);
    }
    if (rc == HH_ENOENT || rc == HH_EINVAL)
        return fail(c, cs, 404, "department_not_found", NULL, "%s", err.msg);
    if (rc)
        return store_fail(c, cs, &err);
    hh_store_department_t d;
    const char *spelled = hh_store_department_get(s->store, dept, &d, NULL) == 0 ? d.name : dept;
    if (set)
        admin_audit(s, cs, true, "collections grant %s %s %s (was %s)", co.name, spelled, hh_right_name(want),
                    hh_right_name(before));
    else
        admin_audit(s, cs, true, "collections revoke %s %s (was %s)", co.name, spelled, hh_right_name(before));
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "collection", co.name);
    cJSON_AddStringToObject(j, "department", spelled);
    cJSON_AddStringToObject(j, "right", hh_right_name(want));
    cJSON_AddStringToObject(j, "was", hh_right_name(before));
    if (!set)
        cJSON_AddBoolToObject(j, "orphaned", orphan);
    return reply(c, cs, 200, j);
}

enum MHD_Result ht_handle_collections(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url)
{
    const char *m = method_of(cs);
    if (!strcmp(url, "/api/collections"))
        return !strcmp(m, "GET") ? coll_list(s, c, cs) : coll_create(s, c, cs, url);
    char seg[3][SEG_MAX];
    int n = segments(url, "/api/collections/", seg, 3);
    if (n == 1 && !strcmp(m, "DELETE"))
        return coll_delete(s, c, cs, seg[0]);
    if (n == 3 && !strcmp(seg[1], "rights") && (!strcmp(m, "PUT") || !strcmp(m, "DELETE")))
        return coll_right(s, c, cs, seg[0], seg[2], !strcmp(m, "PUT"));
    return coll_missing(c, cs);
}

/* ---- models ----------------------------------------------------------------- */

/* What the file's header says: architecture, the tensor type holding the
 * most bytes (the quantization), parameter count. Metadata only. */
static void model_meta(const hh_http_server_t *s, const char *id, cJSON *o)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s.gguf", s->models_dir, id) >= (int)sizeof path)
        return;
    hh_gguf_params_t gp = hh_gguf_default_params();
    gp.no_data = true;
    hh_gguf_t *g = NULL;
    if (hh_gguf_open(&g, path, &gp, NULL) != 0) {
        cJSON_AddBoolToObject(o, "readable", false);
        return;
    }
    const char *arch = NULL;
    hh_gguf_get_str(g, "general.architecture", &arch);
    if (arch)
        cJSON_AddStringToObject(o, "architecture", arch);
    else
        cJSON_AddNullToObject(o, "architecture");
    uint64_t bytes_by_type[64] = { 0 };
    double params = 0;
    for (int64_t i = 0; i < hh_gguf_n_tensors(g); i++) {
        const hh_gguf_tensor_t *t = hh_gguf_tensor(g, i);
        double ne = 1;
        for (uint32_t d = 0; d < t->n_dims; d++)
            ne *= (double)t->ne[d];
        params += ne;
        if (t->type < 64)
            bytes_by_type[t->type] += t->nbytes;
    }
    int best = -1;
    for (int ty = 0; ty < 64; ty++)
        if (bytes_by_type[ty] && (best < 0 || bytes_by_type[ty] > bytes_by_type[best]))
            best = ty;
    if (best >= 0)
        cJSON_AddStringToObject(o, "quant_type", hh_type_name((uint32_t)best));
    else
        cJSON_AddNullToObject(o, "quant_type");
    cJSON_AddNumberToObject(o, "parameters", params);
    cJSON_AddBoolToObject(o, "readable", true);
    hh_gguf_close(g);
}

enum MHD_Result ht_handle_admin_models(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url)
{
    if (!may_admin(cs))
        return forbid_admin(s, c, cs, url);
    hh_engine_model_info_t *ms = NULL;
    size_t n = 0;
    hh_err_t err;
    hh_err_clear(&err);
    if (hh_engine_list_models(s->engine, &ms, &n, &err))
        return fail(c, cs, 500, "server_error", NULL, "cannot list models: %s", err.msg);
    hh_engine_stats_t st;
    memset(&st, 0, sizeof st);
    hh_engine_stats(s->engine, &st);
    cJSON *j = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(j, "data");
    uint64_t loaded_bytes = 0;
    for (size_t i = 0; i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "id", ms[i].id);
        cJSON_AddNumberToObject(o, "size", (double)ms[i].size);
        add_time(o, "modified_at", ms[i].mtime);
        cJSON_AddBoolToObject(o, "loaded", ms[i].loaded);
        cJSON_AddBoolToObject(o, "knowledge_base_embedding", !strcmp(hh_kb_dense_model(s->kb), ms[i].id));
        model_meta(s, ms[i].id, o);
        cJSON_AddItemToArray(arr, o);
        if (ms[i].loaded)
            loaded_bytes += ms[i].size;
    }
    free(ms);
    /* What the engine can say: loaded generative models hold their file in
     * memory (read, not mapped, by default) plus their KV cache. */
    cJSON *mem = cJSON_AddObjectToObject(j, "memory");
    cJSON_AddNumberToObject(mem, "models_loaded", st.models_loaded);
    cJSON_AddNumberToObject(mem, "loaded_model_bytes", (double)loaded_bytes);
    cJSON_AddNumberToObject(mem, "budget_bytes", (double)s->params.engine.mem_budget);
    cJSON_AddNumberToObject(mem, "kv_used", (double)st.kv_used);
    cJSON_AddNumberToObject(mem, "kv_total", (double)st.kv_total);
    cJSON_AddNumberToObject(mem, "slots_busy", st.slots_busy);
    cJSON_AddNumberToObject(mem, "slots_total", st.slots_total);
    cJSON_AddNumberToObject(mem, "queue_depth", st.queue_depth);
    return reply(c, cs, 200, j);
}

/* ---- quotas ----------------------------------------------------------------
 *
 * What `hoheit quota list|set|clear` do, for the usage screen:
 *   GET    /api/admin/quotas                       every quota with the usage
 *                                                  of today and this month
 *   PUT    /api/admin/quotas/users|departments/{name}   sets the four limits
 *   DELETE /api/admin/quotas/users|departments/{name}   removes the quota
 * A PUT replaces the quota: each limit is a whole number 1..HH_QUOTA_MAX or
 * null (no limit); a limit left out is null too, and at least one must be
 * set (DELETE removes a quota). Days and months are the quota clock's UTC
 * ones (quota.c), so the usage shown is what the next request is checked
 * against. */

static const char *const g_quota_fields[] = { "tokens_per_day", "tokens_per_month", "requests_per_minute",
                                              "concurrent", NULL };

/* Limit i of q, in the order of g_quota_fields. */
static int64_t *quota_field(hh_store_quota_t *q, int i)
{
    return i == 0 ? &q->tokens_per_day : i == 1 ? &q->tokens_per_month : i == 2 ? &q->requests_per_minute
                                                                                 : &q->concurrent;
}

static int64_t quota_limit(const hh_store_quota_t *q, int i)
{
    return i == 0 ? q->tokens_per_day : i == 1 ? q->tokens_per_month : i == 2 ? q->requests_per_minute
                                                                              : q->concurrent;
}

/* A limit as the CLI's audit detail writes it: a number or "none". */
static const char *limit_word(int64_t v, char *buf, size_t cap)
{
    if (v <= 0)
        return "none";
    snprintf(buf, cap, "%lld", (long long)v);
    return buf;
}

/* One quota with its subject's usage today and this month (the quota
 * clock's UTC day and month). */
static cJSON *quota_json(hh_http_server_t *s, const hh_store_quota_t *q, int64_t day)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "scope", q->department ? "department" : "user");
    cJSON_AddStringToObject(o, "name", q->subject);
    for (int i = 0; i < 4; i++) {
        int64_t v = quota_limit(q, i);
        if (v > 0)
            cJSON_AddNumberToObject(o, g_quota_fields[i], (double)v);
        else
            cJSON_AddNullToObject(o, g_quota_fields[i]);
    }
    add_time(o, "updated_at", q->updated_at);
    int64_t today = 0, month = 0;
    hh_err_t err;
    hh_err_clear(&err);
    cJSON *u = cJSON_AddObjectToObject(o, "usage");
    if (hh_store_usage_tokens(s->store, q->department, q->subject_id, day, day, &today, &err) == 0 &&
        hh_store_usage_tokens(s->store, q->department, q->subject_id, hh_store_month_start(day), day, &month,
                              &err) == 0) {
        cJSON_AddNumberToObject(u, "tokens_today", (double)today);
        cJSON_AddNumberToObject(u, "tokens_this_month", (double)month);
    } else {   /* the limits are still worth showing */
        cJSON_AddNullToObject(u, "tokens_today");
        cJSON_AddNullToObject(u, "tokens_this_month");
    }
    return o;
}

/* The quota of subject (department: true) id, or one with no limits when
 * it has none. */
static int quota_of(hh_http_server_t *s, bool department, int64_t id, hh_store_quota_t *out, hh_err_t *err)
{
    hh_store_quota_t *q = NULL;
    size_t n = 0;
    int rc = hh_store_quota_list(s->store, &q, &n, err);
    if (rc)
        return rc;
    memset(out, 0, sizeof *out);
    out->department = department;
    out->subject_id = id;
    for (size_t i = 0; i < n; i++)
        if (q[i].department == department && q[i].subject_id == id)
            *out = q[i];
    free(q);
    return 0;
}

static enum MHD_Result quotas_list(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs)
{
    hh_store_quota_t *q = NULL;
    size_t n = 0;
    hh_err_t err;
    hh_err_clear(&err);
    if (hh_store_quota_list(s->store, &q, &n, &err))
        return store_fail(c, cs, &err);
    int64_t day = ht_quota_now(s) / 86400;
    char d[11];
    hh_store_day_format(day, d);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "day", d);
    d[7] = '\0';
    cJSON_AddStringToObject(j, "month", d);
    cJSON *arr = cJSON_AddArrayToObject(j, "data");
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(arr, quota_json(s, &q[i], day));
    free(q);
    return reply(c, cs, 200, j);
}

/* The four limits of a PUT body into q (0 = none). 0, or 400 queued. */
static int quota_body(struct MHD_Connection *c, ht_conn_t *cs, hh_store_quota_t *q, enum MHD_Result *res)
{
    cJSON *b = NULL;
    if (body_object(c, cs, false, g_quota_fields, &b, res))
        return 400;
    int any = 0, st = 0;
    for (int i = 0; i < 4 && !st; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(b, g_quota_fields[i]);
        int64_t *dst = quota_field(q, i);
        *dst = 0;
        if (!v || cJSON_IsNull(v))
            continue;
        /* doubles hold every integer up to HH_QUOTA_MAX (< 2^53) exactly */
        double x = cJSON_IsNumber(v) ? v->valuedouble : 0;
        if (!cJSON_IsNumber(v) || x != (double)(int64_t)x || x < 1 || x > (double)HH_QUOTA_MAX) {
            *res = fail(c, cs, 400, "invalid_field", g_quota_fields[i],
                        "%s must be a whole number from 1 to %lld, or null for no limit", g_quota_fields[i],
                        (long long)HH_QUOTA_MAX);
            st = 400;
            break;
        }
        *dst = (int64_t)x;
        any++;
    }
    if (!st && !any) {
        *res = fail(c, cs, 400, "no_limit", NULL,
                    "Set at least one of tokens_per_day, tokens_per_month, requests_per_minute, concurrent "
                    "(DELETE removes the quota)");
        st = 400;
    }
    cJSON_Delete(b);
    return st;
}

enum MHD_Result ht_handle_admin_quotas(hh_http_server_t *s, struct MHD_Connection *c, ht_conn_t *cs, const char *url)
{
    if (!may_admin(cs))
        return forbid_admin(s, c, cs, url);
    const char *m = method_of(cs);
    if (!strcmp(url, "/api/admin/quotas"))
        return quotas_list(s, c, cs);
    char seg[2][SEG_MAX];
    int nseg = segments(url, "/api/admin/quotas/", seg, 2);
    bool department = nseg == 2 && !strcmp(seg[0], "departments");
    if (nseg != 2 || (!department && strcmp(seg[0], "users") != 0))
        return fail(c, cs, 404, "not_found", NULL, "No such route: %s", url);
    const char *what = department ? "department" : "user";
    /* the subject as stored (a department is found ignoring case) */
    hh_err_t err;
    hh_err_clear(&err);
    char name[HH_STORE_NAME_MAX];
    int64_t id = 0;
    int rc;
    if (department) {
        hh_store_department_t d;
        rc = hh_store_department_get(s->store, seg[1], &d, &err);
        if (rc == HH_ENOENT)
            return dept_missing(c, cs, seg[1]);
        if (rc)
            return store_fail(c, cs, &err);
        snprintf(name, sizeof name, "%s", d.name);
        id = d.id;
    } else {
        hh_store_user_t u;
        rc = hh_store_user_get(s->store, seg[1], &u, &err);
        if (rc == HH_ENOENT)
            return fail(c, cs, 404, "user_not_found", NULL, "No user '%s'", seg[1]);
        if (rc)
            return store_fail(c, cs, &err);
        snprintf(name, sizeof name, "%s", u.name);
        id = u.id;
    }
    hh_store_quota_t before;
    if (quota_of(s, department, id, &before, &err))
        return store_fail(c, cs, &err);
    char w[4][24];
    if (!strcmp(m, "DELETE")) {
        if (before.updated_at == 0)
            return fail(c, cs, 404, "quota_not_found", NULL, "The %s '%s' has no quota", what, name);
        if (hh_store_quota_clear(s->store, department, name, &err))
            return err.code == HH_ENOENT ? fail(c, cs, 404, "quota_not_found", NULL, "The %s '%s' has no quota",
                                                what, name)
                                         : store_fail(c, cs, &err);
        admin_audit(s, cs, true, "quota clear %s %s (was tokens/day %s, tokens/month %s, requests/minute %s, "
                                 "concurrent %s)", what, name, limit_word(before.tokens_per_day, w[0], sizeof w[0]),
                    limit_word(before.tokens_per_month, w[1], sizeof w[1]),
                    limit_word(before.requests_per_minute, w[2], sizeof w[2]),
                    limit_word(before.concurrent, w[3], sizeof w[3]));
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "deleted", name);
        cJSON_AddStringToObject(j, "scope", what);
        return reply(c, cs, 200, j);
    }
    /* PUT: the body is the whole quota */
    hh_store_quota_t q = before;
    enum MHD_Result res;
    if (quota_body(c, cs, &q, &res))
        return res;
    if (hh_store_quota_set(s->store, department, name, &q, &err))
        return err.code == HH_EINVAL ? fail(c, cs, 400, "invalid_field", NULL, "%s", err.msg)
                                     : store_fail(c, cs, &err);
    admin_audit(s, cs, true, "quota set %s %s: tokens/day %s, tokens/month %s, requests/minute %s, concurrent %s%s",
                what, name, limit_word(q.tokens_per_day, w[0], sizeof w[0]),
                limit_word(q.tokens_per_month, w[1], sizeof w[1]),
                limit_word(q.requests_per_minute, w[2], sizeof w[2]), limit_word(q.concurrent, w[3], sizeof w[3]),
                before.updated_at ? "" : " (new quota)");
    hh_store_quota_t now;
    if (quota_of(s, department, id, &now, &err))
        return store_fail(c, cs, &err);
    snprintf(now.subject, sizeof now.subject, "%s", name);
    cJSON *j = quota_json(s, &now, ht_quota_now(s) / 86400);
    cJSON_AddBoolToObject(j, "created", before.updated_at == 0);
    return reply(c, cs, before.updated_at ? 200 : 201, j);
}
