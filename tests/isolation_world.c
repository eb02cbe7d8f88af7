/* isolation_world.c - the tenant-isolation suite's world and the
 * attacker's tools (isolation_world.h). */
#include "isolation_world.h"
#include "govern/register.h"
#include "http/web_assets.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

/* n_chars (at most 32) random lower-case hex digits and a NUL into out. */
void iso_rand_hex(char *out, size_t n_chars)
{
    unsigned char b[16];
    if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b)
        for (size_t i = 0; i < sizeof b; i++)
            b[i] = (unsigned char)rand();
    for (size_t i = 0; i < n_chars && i < 2 * sizeof b; i++)
        out[i] = "0123456789abcdef"[(b[i / 2] >> (i % 2 ? 0 : 4)) & 15];
    out[n_chars < 2 * sizeof b ? n_chars : 2 * sizeof b] = '\0';
}

void iso_fail(world_t *w, const char *fmt, ...)
{
    if (w->n_fails++ >= MAX_FAILS)
        return;
    va_list ap;
    va_start(ap, fmt);
    printf("    LEAK: ");
    vprintf(fmt, ap);
    putchar('\n');
    va_end(ap);
}

/* Whether the request path (a query string ignored) matches the route
 * pattern: "{name}" matches one non-empty segment, as the server's table. */
bool iso_route_matches(const char *pattern, const char *path)
{
    const char *q = path, *end = path + strcspn(path, "?");
    for (const char *p = pattern; *p;) {
        if (*p == '{') {
            const char *close = strchr(p, '}');
            const char *seg = q;
            while (q < end && *q != '/')
                q++;
            if (!close || q == seg)
                return false;
            p = close + 1;
        } else if (q < end && *p == *q) {
            p++;
            q++;
        } else {
            return false;
        }
    }
    return q == end;
}

/* While the attacks run: the route table's lines this request reaches. */
void iso_track_route(world_t *w, const char *method, const char *path)
{
    if (!w->track)
        return;
    const hh_http_route_info_t *rt;
    for (size_t i = 0; i < MAX_ROUTES && (rt = hh_http_route(i)); i++)
        if (!strcmp(rt->method, method) && iso_route_matches(rt->path, path))
            w->hit[i] = 1;
}

/* One request as c (key, or cookie + CSRF token; c NULL or the anonymous
 * caller: neither) with extra header lines (NULL: none); counted. */
bool iso_send_hdr(world_t *w, const cred_t *c, const char *method, const char *path, const char *ctype,
                     const char *body, const char *extra, hh_test_resp_t *r)
{
    char hdr[512] = "";
    if (c && c->session)
        snprintf(hdr, sizeof hdr, "Cookie: hoheit_session=%s\r\nX-CSRF-Token: %s", c->cookie, c->csrf);
    if (extra)
        snprintf(hdr + strlen(hdr), sizeof hdr - strlen(hdr), "%s%s", hdr[0] ? "\r\n" : "", extra);
    hh_test_req_t q = { .method = method, .path = path, .key = c && !c->session && c->key[0] ? c->key : NULL,
                        .ctype = ctype, .body = body, .headers = hdr[0] ? hdr : NULL };
    w->n_requests++;
    iso_track_route(w, method, path);
    if (hh_test_http_req(w->h.port, &q, r) != 0) {
        iso_fail(w, "%s %s: no answer", method, path);
        return false;
    }
    return true;
}

/* One request as c (key, or cookie + CSRF token); counted. */
bool iso_send_as(world_t *w, const cred_t *c, const char *method, const char *path, const char *ctype,
                    const char *body, size_t body_len, hh_test_resp_t *r)
{
    char hdr[256] = "";
    if (c && c->session)
        snprintf(hdr, sizeof hdr, "Cookie: hoheit_session=%s\r\nX-CSRF-Token: %s", c->cookie, c->csrf);
    hh_test_req_t q = { .method = method, .path = path, .key = c && !c->session && c->key[0] ? c->key : NULL,
                        .ctype = ctype, .body = body, .body_len = body_len, .headers = hdr[0] ? hdr : NULL };
    w->n_requests++;
    iso_track_route(w, method, path);
    if (hh_test_http_req(w->h.port, &q, r) != 0) {
        iso_fail(w, "%s %s: no answer", method, path);
        return false;
    }
    return true;
}

const char *iso_cred_name(const cred_t *c)
{
    static char buf[96];
    snprintf(buf, sizeof buf, "%s(%s%s)", c->user, c->role, c->session ? ",session" : "");
    return buf;
}

/* The markers of other departments in r (body or headers) that the request
 * (path + body) did not send itself. */
int iso_scan_as(world_t *w, int dept, const char *who, const char *what, const char *sent_path,
                   const char *sent_body, const hh_test_resp_t *r, bool quiet)
{
    int hits = 0;
    w->n_scanned++;
    for (int i = 0; dept >= 0 && i < w->n_forb[dept]; i++) {
        const char *f = w->forb[dept][i];
        if (strstr(sent_path, f) || (sent_body && strstr(sent_body, f)))
            continue;
        if ((r->body && strstr(r->body, f)) || (r->headers && strstr(r->headers, f))) {
            hits++;
            if (!quiet)
                iso_fail(w, "%s %s: the answer (%d) holds '%s': %.300s", who, what, r->status, f, r->body);
        }
    }
    return hits;
}

/* The conversation markers of everyone but user (NULL: everyone) in r,
 * unless the request sent them. */
int iso_scan_convs(world_t *w, const char *user, const char *who, const char *what, const char *sent_path,
                      const char *sent_body, const hh_test_resp_t *r, bool quiet)
{
    int hits = 0;
    for (int k = 0; k < w->n_conv; k++) {
        const conv_mark_t *v = &w->conv[k];
        if (user && !strcmp(v->owner, user))
            continue;
        const char *marks[2] = { v->title, v->text };
        for (int m = 0; m < 2; m++) {
            const char *f = marks[m];
            if (strstr(sent_path, f) || (sent_body && strstr(sent_body, f)))
                continue;
            if ((r->body && strstr(r->body, f)) || (r->headers && strstr(r->headers, f))) {
                hits++;
                if (!quiet)
                    iso_fail(w, "%s %s: the answer (%d) holds %s's conversation marker '%s': %.300s", who, what,
                         r->status, v->owner, f, r->body);
            }
        }
    }
    return hits;
}

/* Every marker of every department and every conversation (what the
 * anonymous caller and the web UI's files must never hold). */
void iso_scan_all(world_t *w, const char *who, const char *what, const char *sent_path, const char *sent_body,
                     const hh_test_resp_t *r)
{
    /* HR's list names Sales' and Engineering's markers, Engineering's HR's and the shared ones */
    iso_scan_as(w, 0, who, what, sent_path, sent_body, r, false);
    iso_scan_as(w, 2, who, what, sent_path, sent_body, r, false);
    iso_scan_convs(w, NULL, who, what, sent_path, sent_body, r, false);
    w->n_scanned--;   /* one answer, scanned in two passes */
}

void iso_scan(world_t *w, const cred_t *c, const char *what, const char *sent_path, const char *sent_body,
                 const hh_test_resp_t *r)
{
    if (!c->key[0] && !c->session) {
        iso_scan_all(w, iso_cred_name(c), what, sent_path, sent_body, r);
        return;
    }
    iso_scan_as(w, c->dept, iso_cred_name(c), what, sent_path, sent_body, r, false);
    iso_scan_convs(w, c->user, iso_cred_name(c), what, sent_path, sent_body, r, false);
}

/* s with every occurrence of tok replaced by "<T>" (a number only where no
 * digit touches it); headers less Date, X-Request-Id and Content-Length
 * first. Caller frees. */
char *iso_normalize(const hh_test_resp_t *r, const char *tok)
{
    /* worst case: every body byte is a one-character token, "<T>" */
    size_t cap = strlen(r->headers) + 3 * strlen(r->body) + 64;
    char *out = malloc(cap), *o = out;
    if (!out)
        return NULL;
    o += snprintf(o, 16, "%d\n", r->status);
    for (const char *line = r->headers; *line;) {
        const char *nl = strstr(line, "\r\n");
        size_t n = nl ? (size_t)(nl - line) : strlen(line);
        if (strncasecmp(line, "Date:", 5) && strncasecmp(line, "X-Request-Id:", 13) &&
            strncasecmp(line, "Content-Length:", 15)) {
            memcpy(o, line, n);
            o += n;
            *o++ = '\n';
        }
        line += n + (nl ? 2 : 0);
    }
    *o++ = '\n';
    size_t tl = strlen(tok);
    bool num = tl && strspn(tok, "0123456789") == tl;
    for (const char *p = r->body; *p;) {
        if (tl && !strncmp(p, tok, tl) &&
            (!num || ((p == r->body || !isdigit((unsigned char)p[-1])) && !isdigit((unsigned char)p[tl])))) {
            memcpy(o, "<T>", 3);
            o += 3;
            p += tl;
        } else {
            *o++ = *p++;
        }
    }
    *o = '\0';
    return out;
}

/* The pair test: the same request naming another department's object
 * (tok_f in path_f / body_f) and naming a missing one (tok_m) must answer
 * alike; both answers are scanned. */
void iso_pair(world_t *w, const cred_t *c, const char *what, const char *method, const char *ctype,
                 const char *path_f, const char *body_f, const char *tok_f, const char *path_m, const char *body_m,
                 const char *tok_m)
{
    hh_test_resp_t rf, rm;
    memset(&rf, 0, sizeof rf);
    memset(&rm, 0, sizeof rm);
    w->n_pairs++;
    bool ok = iso_send_as(w, c, method, path_f, ctype, body_f, 0, &rf) && iso_send_as(w, c, method, path_m, ctype, body_m, 0, &rm);
    if (ok) {
        iso_scan(w, c, what, path_f, body_f, &rf);
        iso_scan(w, c, what, path_m, body_m, &rm);
        char *nf = iso_normalize(&rf, tok_f), *nm = iso_normalize(&rm, tok_m);
        if (!nf || !nm || strcmp(nf, nm) != 0)
            iso_fail(w, "%s %s: another's '%s' and the missing '%s' answer differently:\n      %.400s\n"
                    "      %.400s", iso_cred_name(c), what, tok_f, tok_m, nf ? nf : "?", nm ? nm : "?");
        free(nf);
        free(nm);
    }
    hh_test_resp_free(&rf);
    hh_test_resp_free(&rm);
}

/* A request whose answer is only scanned; returns its status (-1: none). */
int iso_probe(world_t *w, const cred_t *c, const char *method, const char *path, const char *body)
{
    hh_test_resp_t r;
    memset(&r, 0, sizeof r);
    int st = -1;
    if (iso_send_as(w, c, method, path, NULL, body, 0, &r)) {
        char what[300];
        snprintf(what, sizeof what, "%s %s", method, path);
        iso_scan(w, c, what, path, body, &r);
        st = r.status;
    }
    hh_test_resp_free(&r);
    return st;
}

/* ---- setup ---------------------------------------------------------------- */

void iso_doc_text(char *out, size_t cap, const char *title, const char *secret, const char *number, int i)
{
    snprintf(out, cap,
             "# %s\n\nThe %s %s lists the code %s for item %d. The quarterly budget review covers travel, "
             "hardware and training; the planning board signs it.\n\n## Details\n\nKeep %s confidential: "
             "number %s, version %d.\n",
             title, title, secret, number, i, secret, number, i + 1);
}

int iso_upload_as_root(world_t *w, const char *coll, const char *name, const char *text, int64_t *id)
{
    hh_test_resp_t r;
    int rc = hh_test_http_upload(w->h.port, w->root, coll, name, text, &r);
    w->n_requests++;
    int st = rc == 0 ? r.status : -1;
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(r.j, "id");
    if (st == 201 && cJSON_IsNumber(j))
        *id = (int64_t)j->valuedouble;
    else
        printf("    upload %s into %s: %d %s\n", name, coll, st, rc == 0 ? r.body : "");
    hh_test_resp_free(&r);
    return st == 201 ? 0 : -1;
}

/* Logs user in with password pw; fills c's cookie and CSRF token. */
int iso_login(world_t *w, cred_t *c, const char *pw)
{
    char body[256], sc[512];
    snprintf(body, sizeof body, "{\"username\":\"%s\",\"password\":\"%s\"}", c->user, pw);
    hh_test_resp_t r;
    w->n_requests++;
    if (hh_test_http(w->h.port, "POST", "/api/login", NULL, body, &r) != 0)
        return -1;
    int st = r.status;
    hh_test_resp_header(&r, "Set-Cookie", sc, sizeof sc);
    const char *v = strstr(sc, "hoheit_session=");
    if (st == 200 && v) {
        v += strlen("hoheit_session=");
        size_t n = strcspn(v, ";");
        snprintf(c->cookie, sizeof c->cookie, "%.*s", (int)n, v);
        snprintf(c->csrf, sizeof c->csrf, "%s", hh_test_json_str(r.j, "csrf_token"));
        c->session = true;
    }
    hh_test_resp_free(&r);
    return st == 200 && c->session ? 0 : -1;
}

void iso_forbid(world_t *w, int dept, const char *s)
{
    if (w->n_forb[dept] < MAX_FORB)
        w->forb[dept][w->n_forb[dept]++] = s;
}

/* Builds the world on a fresh server; false (printed why) on failure. */
bool iso_world_build(world_t *w)
{
    memset(w, 0, sizeof *w);
    iso_rand_hex(w->hex, 8);
    static const char *const names[N_DEPT] = { "HR", "Sales", "Engineering" };
    static const char *const tags[N_DEPT] = { "hr", "sales", "eng" };
    static const hh_right_t rights[N_DEPT] = { HH_RIGHT_MANAGE, HH_RIGHT_WRITE, HH_RIGHT_READ };
    static const char *const risks[N_DEPT] = { "h_employment", "h_essential_services", "h_critical_infrastructure" };
    hh_test_srv_params_t p = hh_test_srv_default_params();
    p.models[1] = "reference/bert-q8_0.gguf";
    p.http.engine.n_slots = 2;
    if (hh_test_srv_start(&w->h, "isolation", &p) != 0)
        return false;
    hh_store_t *st = w->h.st;
    hh_err_t err;
    hh_err_clear(&err);
    if (hh_test_srv_user(&w->h, "root", "admin", w->root, &w->root_key_id) != 0)
        return false;
    for (int i = 0; i < N_DEPT; i++) {
        dept_t *d = &w->d[i];
        d->name = names[i];
        d->tag = tags[i];
        d->right = rights[i];
        d->risk = risks[i];
        char num[16];
        iso_rand_hex(num, 8);
        snprintf(d->coll, sizeof d->coll, "%s-docs-%s", d->tag, w->hex);
        snprintf(d->secret, sizeof d->secret, "%ssecret%s", d->tag, w->hex);
        snprintf(d->number, sizeof d->number, "9%d%08lu", i, strtoul(num, NULL, 16) % 100000000ul);
        snprintf(d->uc, sizeof d->uc, "%s-uc-%s", d->tag, w->hex);
        snprintf(d->ap_text, sizeof d->ap_text, "%sapproval%s", d->tag, w->hex);
        snprintf(d->member, sizeof d->member, "%s_mem_%s", d->tag, w->hex);
        snprintf(d->approver, sizeof d->approver, "%s_apr_%s", d->tag, w->hex);
        snprintf(d->auditor, sizeof d->auditor, "%s_aud_%s", d->tag, w->hex);
        for (int k = 0; k < DOCS_PER; k++)
            snprintf(d->title[k], sizeof d->title[k], "%stitle%d%s", d->tag, k, w->hex);
        const char *users[3] = { d->member, d->approver, d->auditor };
        static const char *const roles[3] = { "member", "approver", "auditor" };
        if (hh_store_department_ensure(st, d->name, NULL, &err) != 0)
            return false;
        for (int u = 0; u < 3; u++) {
            cred_t *c = &w->c[w->n_creds++];
            c->dept = i;
            c->role = roles[u];
            c->user = users[u];
            if (hh_test_srv_user(&w->h, users[u], roles[u], c->key, &c->key_id) != 0 ||
                hh_store_user_add_department(st, users[u], d->name, &err) != 0 ||
                hh_store_user_set_password(st, users[u], PW, &err) != 0) {
                printf("    user %s: %s\n", users[u], err.msg);
                return false;
            }
        }
        const char *dn[1] = { d->name };
        hh_store_collection_t coll;
        if (hh_store_collection_ensure(st, d->coll, dn, 1, &coll, &err) != 0 ||
            hh_store_collection_grant(st, d->coll, d->name, d->right, NULL, &err) != 0)
            return false;
        d->coll_id = coll.id;
        /* the use case: high-risk, approval required, this department only */
        char uc[512];
        snprintf(uc, sizeof uc,
                 "{\"slug\":\"%s\",\"name\":\"%s use\",\"purpose\":\"%s decisions\",\"models\":[\"stories260K\"],"
                 "\"departments\":[\"%s\"],\"answers\":{\"%s\":true}}",
                 d->uc, d->uc, d->uc, d->name, d->risk);
        cJSON *in = cJSON_Parse(uc);
        hh_usecase_t u;
        int rc = hh_register_create(st, in, "root", &u, &err);
        cJSON_Delete(in);
        if (rc != 0) {
            printf("    use case %s: %s\n", d->uc, err.msg);
            return false;
        }
        d->uc_id = u.id;
        hh_usecase_clear(&u);
    }
    snprintf(w->shared, sizeof w->shared, "shared-docs-%s", w->hex);
    snprintf(w->shared_secret, sizeof w->shared_secret, "sharedsecret%s", w->hex);
    for (int k = 0; k < 2; k++)
        snprintf(w->shared_title[k], sizeof w->shared_title[k], "sharedtitle%d%s", k, w->hex);
    const char *sd[2] = { "HR", "Sales" };
    hh_store_collection_t coll;
    if (hh_store_collection_ensure(st, w->shared, sd, 2, &coll, &err) != 0 ||
        hh_store_collection_grant(st, w->shared, "HR", HH_RIGHT_WRITE, NULL, &err) != 0)
        return false;
    w->shared_id = coll.id;

    /* documents (uploaded by the admin) */
    char text[1024], fname[64];
    for (int i = 0; i < N_DEPT; i++)
        for (int k = 0; k < DOCS_PER; k++) {
            dept_t *d = &w->d[i];
            iso_doc_text(text, sizeof text, d->title[k], d->secret, d->number, k);
            snprintf(fname, sizeof fname, "%s-%d.md", d->tag, k);
            if (iso_upload_as_root(w, d->coll, fname, text, &d->docs[k]) != 0)
                return false;
        }
    for (int k = 0; k < 2; k++) {
        iso_doc_text(text, sizeof text, w->shared_title[k], w->shared_secret, "4242", k);
        snprintf(fname, sizeof fname, "shared-%d.md", k);
        if (iso_upload_as_root(w, w->shared, fname, text, &w->shared_docs[k]) != 0)
            return false;
    }
    /* held approvals (the member's request under the use case) and usage */
    for (int i = 0; i < N_DEPT; i++) {
        dept_t *d = &w->d[i];
        const cred_t *m = &w->c[i * 3];
        for (int a = 0; a < APS_PER; a++) {
            char body[512];
            snprintf(body, sizeof body,
                     "{\"model\":\"stories260K\",\"max_tokens\":4,\"temperature\":0,\"messages\":[{\"role\":\"user\","
                     "\"content\":\"Case %d: %s %s\"}],\"hoheit\":{\"use_case\":\"%s\"}}",
                     a, d->ap_text, d->secret, d->uc);
            hh_test_resp_t r;
            if (!iso_send_as(w, m, "POST", "/v1/chat/completions", NULL, body, 0, &r))
                return false;
            const cJSON *ap = cJSON_GetObjectItem(cJSON_GetObjectItem(r.j, "hoheit"), "approval");
            const cJSON *id = cJSON_GetObjectItem(ap, "id");
            if (r.status != 202 || !cJSON_IsNumber(id)) {
                printf("    held request of %s: %d %s\n", m->user, r.status, r.body);
                hh_test_resp_free(&r);
                return false;
            }
            d->aps[a] = (int64_t)id->valuedouble;
            hh_test_resp_free(&r);
        }
        char body[256];
        snprintf(body, sizeof body,
                 "{\"model\":\"stories260K\",\"max_tokens\":3,\"temperature\":0,\"messages\":[{\"role\":\"user\","
                 "\"content\":\"%s story\"}]}", d->tag);
        hh_test_resp_t r;
        if (!iso_send_as(w, m, "POST", "/v1/chat/completions", NULL, body, 0, &r) || r.status != 200) {
            printf("    usage chat of %s: %d %s\n", m->user, r.status, r.body);
            hh_test_resp_free(&r);
            return false;
        }
        hh_test_resp_free(&r);
    }
    /* browser sessions for members and approvers (the same users again) */
    int n_key_creds = w->n_creds;
    for (int k = 0; k < n_key_creds; k++) {
        if (!strcmp(w->c[k].role, "auditor"))
            continue;
        cred_t *c = &w->c[w->n_creds++];
        *c = w->c[k];
        c->session = false;
        if (iso_login(w, c, PW) != 0) {
            printf("    login of %s failed\n", c->user);
            return false;
        }
    }
    /* what each department must never see */
    for (int x = 0; x < N_DEPT; x++) {
        for (int y = 0; y < N_DEPT; y++) {
            if (y == x)
                continue;
            dept_t *d = &w->d[y];
            iso_forbid(w, x, d->coll);
            iso_forbid(w, x, d->secret);
            iso_forbid(w, x, d->number);
            iso_forbid(w, x, d->uc);
            iso_forbid(w, x, d->ap_text);
            iso_forbid(w, x, d->member);
            iso_forbid(w, x, d->approver);
            iso_forbid(w, x, d->auditor);
            for (int k = 0; k < DOCS_PER; k++)
                iso_forbid(w, x, d->title[k]);
        }
        if (x == 2) {   /* Engineering does not share */
            iso_forbid(w, x, w->shared);
            iso_forbid(w, x, w->shared_secret);
            iso_forbid(w, x, w->shared_title[0]);
            iso_forbid(w, x, w->shared_title[1]);
        }
    }
    return true;
}

/* Every user's own conversation (the nine department users and root): a
 * title and a question holding markers, one recorded turn. */
bool iso_conv_build(world_t *w)
{
    w->admin = (cred_t){ .dept = -1, .role = "admin", .user = "root", .key_id = w->root_key_id };
    snprintf(w->admin.key, sizeof w->admin.key, "%s", w->root);
    w->anon = (cred_t){ .dept = -1, .role = "anonymous", .user = "anonymous" };
    for (int k = 0; k < N_CONVS; k++) {
        const cred_t *c = k < N_DEPT * 3 ? &w->c[k] : &w->admin;
        conv_mark_t *v = &w->conv[w->n_conv];
        v->owner = c->user;
        const char *tag = c->dept >= 0 ? w->d[c->dept].tag : "adm";
        snprintf(v->title, sizeof v->title, "%sctitle%c%s", tag, 'a' + k, w->hex);
        snprintf(v->text, sizeof v->text, "%sctext%c%s", tag, 'a' + k, w->hex);
        char body[512];
        snprintf(body, sizeof body, "{\"title\":\"%s\"}", v->title);
        hh_test_resp_t r;
        if (!iso_send_as(w, c, "POST", "/api/conversations", NULL, body, 0, &r))
            return false;
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(r.j, "id");
        if (r.status != 201 || !cJSON_IsNumber(id)) {
            printf("    conversation of %s: %d %s\n", c->user, r.status, r.body);
            hh_test_resp_free(&r);
            return false;
        }
        v->id = (int64_t)id->valuedouble;
        hh_test_resp_free(&r);
        snprintf(body, sizeof body,
                 "{\"model\":\"stories260K\",\"max_tokens\":3,\"temperature\":0,\"messages\":[{\"role\":\"user\","
                 "\"content\":\"Remember %s for me\"}],\"hoheit\":{\"conversation_id\":%lld}}",
                 v->text, (long long)v->id);
        if (!iso_send_as(w, c, "POST", "/v1/chat/completions", NULL, body, 0, &r) || r.status != 200) {
            printf("    turn of %s: %d %s\n", c->user, r.status, r.body);
            hh_test_resp_free(&r);
            return false;
        }
        hh_test_resp_free(&r);
        w->n_conv++;
    }
    return true;
}

/* The status of a request whose answer is scanned; a mismatch with want
 * (0: any) is reported. */
int iso_expect(world_t *w, const cred_t *c, const char *method, const char *path, const char *body, int want)
{
    int st = iso_probe(w, c, method, path, body);
    if (want && st != want)
        iso_fail(w, "%s %s %s: %d, expected %d", iso_cred_name(c), method, path, st, want);
    return st;
}

/* Per department an agent only its members may run (its name and system
 * prompt are markers) and one run of it by its member (the run's input
 * and id are markers): what the other departments must never see. */
bool iso_agents_build(world_t *w)
{
    for (int i = 0; i < N_DEPT; i++) {
        dept_t *d = &w->d[i];
        snprintf(d->agent, sizeof d->agent, "%sagent%s", d->tag, w->hex);
        snprintf(d->agent_prompt, sizeof d->agent_prompt, "%sagentprompt%s", d->tag, w->hex);
        snprintf(d->run_text, sizeof d->run_text, "%srun%s", d->tag, w->hex);
        char body[768];
        snprintf(body, sizeof body,
                 "{\"name\":\"%s\",\"model\":\"stories260K\",\"system_prompt\":\"You are %s.\","
                 "\"tools\":[\"calculator\"],\"max_steps\":1,\"departments\":[\"%s\"]}",
                 d->agent, d->agent_prompt, d->name);
        hh_test_resp_t r;
        if (!iso_send_as(w, &w->admin, "POST", "/api/agents", NULL, body, 0, &r) || r.status != 201) {
            printf("    agent of %s: %d %s\n", d->name, r.status, r.body);
            hh_test_resp_free(&r);
            return false;
        }
        hh_test_resp_free(&r);
        snprintf(body, sizeof body,
                 "{\"model\":\"agent:%s\",\"input\":\"Note %s\",\"max_output_tokens\":2,\"temperature\":0}",
                 d->agent, d->run_text);
        const cJSON *id = NULL;
        if (iso_send_as(w, &w->c[3 * i], "POST", "/v1/responses", NULL, body, 0, &r))
            id = cJSON_GetObjectItemCaseSensitive(r.j, "id");
        if (r.status != 200 || !cJSON_IsString(id)) {
            printf("    run of %s's agent: %d %s\n", d->name, r.status, r.body);
            hh_test_resp_free(&r);
            return false;
        }
        snprintf(d->run_id, sizeof d->run_id, "%s", id->valuestring);
        hh_test_resp_free(&r);
    }
    for (int x = 0; x < N_DEPT; x++)
        for (int y = 0; y < N_DEPT; y++)
            if (y != x) {
                iso_forbid(w, x, w->d[y].agent);
                iso_forbid(w, x, w->d[y].agent_prompt);
                iso_forbid(w, x, w->d[y].run_text);
                iso_forbid(w, x, w->d[y].run_id);
            }
    return true;
}

/* The name as written in variant v (name: the collection's name, id its id). */
void iso_variant(char *out, size_t cap, const char *name, int64_t id, int v)
{
    switch (v) {
    case V_UPPER:
        snprintf(out, cap, "%s", name);
        for (char *p = out; *p; p++)
            *p = (char)toupper((unsigned char)*p);
        break;
    case V_CAPITAL:
        snprintf(out, cap, "%s", name);
        out[0] = (char)toupper((unsigned char)out[0]);
        break;
    case V_TRAIL: snprintf(out, cap, "%s ", name); break;
    case V_LEAD: snprintf(out, cap, " %s", name); break;
    case V_ID: snprintf(out, cap, "%lld", (long long)id); break;
    default: snprintf(out, cap, "%s", name); break;
    }
}
